/* Replies of the request handlers: Kubernetes-style Status objects and stored objects. */
#include "broker/server/reply.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/server/objects.h"
#include "common/log.h"

void srv_reply_status(struct srv_reply *rp, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rp->code = code;
	cJSON_Delete(rp->json);
	rp->json = srv_status(code, NULL, "%s", msg);
}

void srv_reply_reason(struct srv_reply *rp, const char *reason)
{
	cJSON *s = cJSON_CreateString(reason);

	if (s && !cJSON_ReplaceItemInObjectCaseSensitive(rp->json, "reason", s))
		cJSON_Delete(s);
}

void srv_reply_value(struct srv_reply *rp, int code, const char *value, uint64_t rev)
{
	cJSON *o = srv_object_load(value, rev);

	if (!o) {
		srv_reply_status(rp, 500, "stored object does not parse");
		return;
	}
	cJSON_Delete(rp->json);
	rp->code = code;
	rp->json = o;
}

void srv_reply_store_error(struct srv_reply *rp, const char *what, int err)
{
	pr_warn("store %s: %s\n", what, strerror(-err));
	srv_reply_status(rp, err == -ENOMEM ? 500 : 503, "store unavailable (%s): %s", what,
		     strerror(-err));
}
