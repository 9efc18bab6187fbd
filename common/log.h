/* One logging layer for the agent, the broker and the CLI.
 * Lines go to stderr: "LEVEL component: message". Never log a secret. */
#ifndef SA_LOG_H
#define SA_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parses "error|warn|info|debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out) __attribute__((warn_unused_result));
/* Prefix every line with a timestamp (daemons) or not (CLI). */
void log_set_timestamps(int on);
void log_set_component(const char *name);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define pr_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define pr_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Routes libbpf's messages into this log. */
void log_route_libbpf(void);

#endif
