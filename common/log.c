/* Logging: one line per event on stderr, level-filtered. */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

static enum log_level cur_level = LOG_LVL_INFO;
static int with_ts;
static const char *component = "subagent";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const lvl_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }
void log_set_timestamps(int on) { with_ts = on; }
void log_set_component(const char *name) { component = name; }

int log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(lvl_names) / sizeof(lvl_names[0]); i++) {
		if (strcmp(s, lvl_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char ts[64] = "";

	if (lvl > cur_level)
		return;
	if (with_ts) {
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s%s %s: ", ts, lvl_names[lvl], component);
	vfprintf(stderr, fmt, ap);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level lvl = level == LIBBPF_WARN ? LOG_LVL_WARN :
			     level == LIBBPF_INFO ? LOG_LVL_DEBUG : LOG_LVL_DEBUG;
	log_vmsg(lvl, fmt, ap);
	return 0;
}
#pragma GCC diagnostic pop

void log_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
