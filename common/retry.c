/* Retry state of the steps the agent converges (see retry.h). */
#include "common/retry.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

bool retry_ok(struct retry *r)
{
	uint64_t first = r->first_ns, max = r->max_ns;
	bool had = r->err != 0;

	memset(r, 0, sizeof(*r));
	r->first_ns = first;
	r->max_ns = max;
	return had;
}

void retry_fail(struct retry *r, uint64_t now, int err, const char *fmt, ...)
{
	va_list ap;

	if (!r->err || !r->attempts)
		r->since_ns = now;
	r->err = err ? err : -1;
	r->attempts++;
	r->backoff_ns = util_backoff(r->backoff_ns, r->first_ns ? r->first_ns : RETRY_FIRST_NS,
				     r->max_ns ? r->max_ns : RETRY_MAX_NS);
	r->next_ns = now + r->backoff_ns;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

bool retry_due(const struct retry *r, uint64_t now)
{
	return !r->err || now >= r->next_ns;
}

void retry_now(struct retry *r)
{
	r->next_ns = 0;
}

void retry_report(const struct retry *r, uint64_t now, cJSON *arr, const char *what)
{
	cJSON *o;

	if (!r->err || !arr)
		return;
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "what", what);
	cJSON_AddStringToObject(o, "error", r->why);
	cJSON_AddNumberToObject(o, "attempts", r->attempts);
	cJSON_AddNumberToObject(o, "failing_s", (double)((now - r->since_ns) / NSEC_PER_SEC));
	cJSON_AddNumberToObject(o, "next_try_ms",
				(double)(r->next_ns > now ? (r->next_ns - now) / NSEC_PER_MSEC : 0));
	if (!cJSON_AddItemToArray(arr, o))
		cJSON_Delete(o);
}
