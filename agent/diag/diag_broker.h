/* The broker check's HTTP response reader (diag_broker.c), exposed for its fuzz target. */
#ifndef SA_DIAG_BROKER_H
#define SA_DIAG_BROKER_H

#include <stddef.h>
#include <time.h>

/* Reads the head of an HTTP/1.x response (untrusted bytes from the network): *code the
 * status, *date its Date header (0 when absent or unreadable). 0 or -EBADMSG. */
int diag_http_head(const char *buf, size_t len, int *code, time_t *date)
	__attribute__((warn_unused_result));

#endif
