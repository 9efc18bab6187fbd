/* The broker's Prometheus metrics (requests, watchers, objects, store) and the plain-HTTP
 * listener that serves them (see metrics.c for why it is not the API's HTTPS one). */
#ifndef SA_BRK_METRICS_H
#define SA_BRK_METRICS_H

#include <stdint.h>

#include "broker/server/server.h"

struct srv_metrics;

/* Defines the broker's families; 0 or -errno. */
int srv_metrics_define(void) __attribute__((warn_unused_result));
/* Counts a handled request (ns: time to handle it). */
void srv_metrics_request(const struct srv_request *rq, int code, uint64_t ns);
/* Registers the collectors over srv's store and hub and, when listen ("ADDR:PORT") is
 * set, serves /metrics and /healthz there. NULL + errno. */
struct srv_metrics *srv_metrics_start(struct srv_server *srv, const char *listen);
void srv_metrics_stop(struct srv_metrics *m);

#endif
