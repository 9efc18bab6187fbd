/* Replies of the request handlers (see server.h's struct srv_reply). */
#ifndef SA_SRV_REPLY_H
#define SA_SRV_REPLY_H

#include <stdint.h>

#include "broker/server/server.h"

/* A Status object with code and the formatted message. */
void srv_reply_status(struct srv_reply *rp, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Overrides the Status reason (e.g. "AlreadyExists" for a 409). */
void srv_reply_reason(struct srv_reply *rp, const char *reason);
/* 201/200 with the stored value as an object at rev; 500 when it does not parse. */
void srv_reply_value(struct srv_reply *rp, int code, const char *value, uint64_t rev);
/* Maps a store error to 503/500. */
void srv_reply_store_error(struct srv_reply *rp, const char *what, int err);

#endif
