/* One process-wide registry of Prometheus metrics (counters, gauges, histograms) that any
 * part may bump, and its rendering in the Prometheus text exposition format (0.0.4).
 *
 * A family is defined once with its type, help text and label names; its series are made
 * on first use of a label-value combination. Label values are passed as trailing string
 * arguments, as many as the family has label names:
 *
 *	metrics_define("subagent_reconcile_errors_total", METRICS_COUNTER,
 *		       "Reconciliation steps that failed", "resource");
 *	metrics_inc("subagent_reconcile_errors_total", "route");
 *
 * Updating a family that was never defined is a no-op (a module used without the daemon
 * that defines its families, e.g. in a unit test), and so is a call with the wrong number
 * of label values (logged once). Every call is thread-safe; metrics_lock()/metrics_unlock()
 * around several calls make them appear to a scrape all at once. */
#ifndef SA_METRICS_H
#define SA_METRICS_H

#include <stddef.h>

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

#define METRICS_MAX_LABELS	8
#define METRICS_MAX_BUCKETS	16

/* labels: comma-separated label names ("resource,verb,code") or NULL. Defining a family
 * again with the same type and labels is a no-op. 0, -EINVAL (bad name, labels or help),
 * -EEXIST (defined with another type or labels), -ENOMEM. */
int metrics_define(const char *name, enum metrics_type type, const char *help,
		   const char *labels) __attribute__((warn_unused_result));
/* A histogram with the given upper bounds (strictly increasing; +Inf is implied). */
int metrics_define_histogram(const char *name, const char *help, const char *labels,
			     const double *bounds, unsigned nbounds)
	__attribute__((warn_unused_result));

/* Label values follow v; the macros add the NULL that ends them. Counters only grow:
 * a negative metrics_add() is ignored. */
void metrics_add_(const char *name, double v, ...);
void metrics_set_(const char *name, double v, ...);
void metrics_observe_(const char *name, double v, ...);
#define metrics_inc(name, ...)		metrics_add_(name, 1.0, ##__VA_ARGS__, (const char *)0)
#define metrics_add(name, v, ...)	metrics_add_(name, v, ##__VA_ARGS__, (const char *)0)
#define metrics_set(name, v, ...)	metrics_set_(name, v, ##__VA_ARGS__, (const char *)0)
#define metrics_observe(name, v, ...)	metrics_observe_(name, v, ##__VA_ARGS__, (const char *)0)

/* The value of one series (counter or gauge; a histogram's count), or -1 when absent. */
double metrics_get_(const char *name, ...);
#define metrics_get(name, ...)		metrics_get_(name, ##__VA_ARGS__, (const char *)0)

/* Drops every series of a family (gauges rebuilt from a snapshot). */
void metrics_clear(const char *name);
/* Holds the registry (recursively): calls in between reach a scrape together. */
void metrics_lock(void);
void metrics_unlock(void);

/* Called (outside the lock) before every rendering, to refresh gauges computed on demand.
 * 0 or -ENOSPC/-EEXIST. */
typedef void (*metrics_collect_fn)(void *ctx);
int metrics_add_collector(metrics_collect_fn fn, void *ctx) __attribute__((warn_unused_result));
void metrics_remove_collector(metrics_collect_fn fn, void *ctx);

/* Runs the collectors and renders every family with at least one series (families
 * without labels always have one) in the text format. Malloc'd, NUL-terminated; NULL
 * with errno on ENOMEM. */
char *metrics_render(size_t *len);

/* Forgets every family and collector (tests). */
void metrics_reset(void);

/* Defines and keeps up to date the usual process_* families (CPU, memory, file
 * descriptors, start time) from /proc/self. 0 or -errno. */
int metrics_process_collector(void) __attribute__((warn_unused_result));

/* Content-Type of what metrics_render() returns. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
