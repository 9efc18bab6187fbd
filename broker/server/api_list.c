/* Lists, whole or paged the way Kubernetes pages them. A page holds at most `limit` items
 * and about limits.page_bytes of JSON (so one page always fits a client's response limit,
 * however large the collection); metadata.continue names the next page. Every page of one
 * list reports the revision of its first page as metadata.resourceVersion: a watch from
 * there sees every change made while the pages were read. etcd reads the later pages at
 * that revision (410 once it is compacted); SQLite keeps no old versions, so later pages
 * show newer states, which the watch then replays (an informer applies them again). */
#include "broker/server/api_list.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/server/objects.h"
#include "broker/server/page.h"
#include "broker/server/reply.h"
#include "broker/store/store.h"
#include "common/log.h"

struct list_ctx {
	cJSON *items;
	size_t bytes, budget;	/* budget 0: no limit */
	unsigned n;
	char last[STORE_KEY_MAX];
};

static int list_one(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct list_ctx *l = ctx;
	size_t n = strlen(value);
	cJSON *o;

	if (l->budget && l->n && l->bytes + n > l->budget)
		return 1;	/* the next page starts with this one */
	o = srv_object_load(value, mod_rev);
	snprintf(l->last, sizeof(l->last), "%s", key);
	if (!o) {
		pr_warn("list %s: stored object does not parse; skipped\n", key);
		return 0;
	}
	cJSON_AddItemToArray(l->items, o);
	l->bytes += n;
	l->n++;
	return 0;
}

/* The list object around l->items; NULL on ENOMEM. */
static cJSON *list_object(const struct srv_resource *r, cJSON **items)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "apiVersion", SRV_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", r->list_kind) ||
	    !cJSON_AddObjectToObject(o, "metadata") ||
	    !(*items = cJSON_AddArrayToObject(o, "items"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void srv_api_list(struct srv_server *srv, const struct srv_resource *r,
		  const struct srv_request *rq, struct srv_reply *rp)
{
	struct srv_continue c = { 0 };
	struct list_ctx l = { 0 };
	char prefix[64], after[STORE_KEY_MAX], rvs[24], tok[SRV_CONTINUE_MAX];
	bool paged = rq->limit || rq->cont, more = false;
	cJSON *o, *md;
	unsigned limit;
	uint64_t rev = 0;
	int err;

	if (srv_page_limit(rq->limit, &limit)) {
		srv_reply_status(rp, 400, "limit \"%.32s\" is not a positive decimal number", rq->limit);
		return;
	}
	if (rq->cont && (srv_continue_decode(srv->page_key, rq->cont, &c) ||
			 &srv_resources[c.res] != r)) {
		srv_reply_status(rp, 400, "the continue token is not valid for %s; list again", r->name);
		return;
	}
	if (rq->cont && srv_object_key(after, sizeof(after), r, c.name)) {
		srv_reply_status(rp, 400, "the continue token is not valid; list again");
		return;
	}
	snprintf(prefix, sizeof(prefix), "r/%s/", r->name);
	o = list_object(r, &l.items);
	if (!o) {
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	if (!paged) {
		err = srv->store->ops->range(srv->store, prefix, list_one, &l, &rev);
	} else {
		l.budget = srv->cfg.limits.page_bytes;
		err = srv->store->ops->page(srv->store, prefix, rq->cont ? after : NULL, c.rev,
					    limit ? limit : SRV_PAGE_DEFAULT, list_one, &l, &rev, &more);
		if (rq->cont)
			rev = c.rev;
	}
	if (err == -ESTALE) {
		cJSON_Delete(o);
		srv_reply_status(rp, 410, "the continue token's revision %" PRIu64 " is compacted; list"
				 " again", c.rev);
		srv_reply_reason(rp, "Expired");
		return;
	}
	if (err) {
		cJSON_Delete(o);
		srv_reply_store_error(rp, "list", err);
		return;
	}
	md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	snprintf(rvs, sizeof(rvs), "%" PRIu64, rev);
	cJSON_AddStringToObject(md, "resourceVersion", rvs);
	if (more && l.last[0]) {
		c.res = (unsigned)(r - srv_resources);
		c.rev = rev;
		snprintf(c.name, sizeof(c.name), "%s", l.last + strlen(prefix));
		if (srv_continue_encode(srv->page_key, &c, tok, sizeof(tok)) ||
		    !cJSON_AddStringToObject(md, "continue", tok)) {
			cJSON_Delete(o);
			srv_reply_status(rp, 500, "cannot make a continue token");
			return;
		}
	}
	rp->code = 200;
	rp->json = o;
}
