/* The broker's metrics: requests by resource, verb and code with their duration, open
 * watch streams, objects per resource and cluster, the store's revision (store call
 * latency comes from broker/store/timed.c), served over plain HTTP on a port of their
 * own (--metrics-listen): Prometheus scrapes it without the broker's CA or a token, and
 * the API's listener stays HTTPS-only. Label values come from fixed sets (the resource
 * table, a few verbs, HTTP codes), never from the request's path as such. */
#include "broker/server/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/server/objects.h"
#include "broker/server/watch.h"
#include "broker/store/store.h"
#include "common/httpd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/version.h"

/* Objects are counted by listing the store: at most this often, whatever the scrapes. */
#define OBJECTS_PERIOD_NS (5 * NSEC_PER_SEC)

static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				 0.25, 0.5, 1, 2.5 };

struct srv_metrics {
	struct srv_server *srv;
	struct httpd *http;
	pthread_mutex_t mu;		/* one object count at a time */
	uint64_t counted_ns;
};

static const struct {
	const char *name;
	enum metrics_type type;
	const char *labels, *help;
} fams[] = {
	{ "subagent_broker_build_info", METRICS_GAUGE, "version,store",
	  "Always 1; the labels say which broker this is" },
	{ "subagent_broker_requests_total", METRICS_COUNTER, "resource,verb,code",
	  "API requests by resource, verb (get, list, watch, create, update, delete, whoami) "
	  "and HTTP status code" },
	{ "subagent_broker_watchers", METRICS_GAUGE, NULL, "Open watch streams" },
	{ "subagent_broker_objects", METRICS_GAUGE, "resource,cluster",
	  "Objects in the store by resource and owning cluster" },
	{ "subagent_broker_store_revision", METRICS_GAUGE, NULL,
	  "The store's current revision (grows with every write)" },
};

/* The resource and the verb of a request, from bounded sets. */
static void classify(const struct srv_request *rq, const char **res, const char **verb)
{
	size_t plen = strlen(BRK_API_PREFIX);
	const char *rest, *slash;
	const struct srv_resource *r;
	bool named;

	*res = "";
	*verb = "other";
	if (!strcmp(rq->path, "/healthz")) {
		*verb = "healthz";
		return;
	}
	if (strncmp(rq->path, BRK_API_PREFIX, plen))
		return;
	rest = rq->path + plen;
	if (!strcmp(rest, "whoami")) {
		*verb = "whoami";
		return;
	}
	slash = strchr(rest, '/');
	r = srv_resource_find(rest, slash ? (size_t)(slash - rest) : strlen(rest));
	if (!r)
		return;
	*res = r->name;
	named = slash && slash[1];
	if (!strcmp(rq->method, "GET"))
		*verb = named ? "get" : rq->watch && (!strcmp(rq->watch, "1") ||
						      !strcmp(rq->watch, "true")) ? "watch" : "list";
	else if (!strcmp(rq->method, "POST") && !named)
		*verb = "create";
	else if (!strcmp(rq->method, "PUT") && named)
		*verb = "update";
	else if (!strcmp(rq->method, "DELETE") && named)
		*verb = "delete";
}

void srv_metrics_request(const struct srv_request *rq, int code, uint64_t ns)
{
	const char *res, *verb;
	char c[8];

	classify(rq, &res, &verb);
	snprintf(c, sizeof(c), "%d", code >= 100 && code <= 599 ? code : 0);
	metrics_inc("subagent_broker_requests_total", res, verb, c);
	metrics_observe("subagent_broker_request_duration_seconds", (double)ns / 1e9, res, verb);
}

struct count_ctx {
	const char *res;
	char (*clusters)[64];
	double *n;
	unsigned used, cap;
};

static int count_one(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct count_ctx *c = ctx;
	cJSON *o = cJSON_Parse(value);
	const char *cid = json_str(o, "spec.clusterID", "");
	unsigned i;

	for (i = 0; i < c->used && strcmp(c->clusters[i], cid); i++)
		;
	if (i == c->used && c->used < c->cap)
		snprintf(c->clusters[c->used++], sizeof(c->clusters[0]), "%s", cid);
	if (i < c->used)
		c->n[i]++;
	cJSON_Delete(o);
	return 0;
}

/* Before every scrape: open watch streams, the revision, and (every OBJECTS_PERIOD_NS)
 * the objects per resource and cluster. */
static void collect(void *ctx)
{
	struct srv_metrics *m = ctx;
	struct store *st = m->srv->store;
	uint64_t now = util_now_ns(), rev = 0;
	enum { CAP = 1024 };
	char (*clusters)[64] = NULL;
	double *n = NULL;

	metrics_set("subagent_broker_watchers", srv_hub_watchers(m->srv->hub));
	if (!st->ops->revision(st, &rev))
		metrics_set("subagent_broker_store_revision", (double)rev);
	pthread_mutex_lock(&m->mu);
	if (m->counted_ns && now - m->counted_ns < OBJECTS_PERIOD_NS)
		goto out;
	clusters = calloc(CAP, sizeof(*clusters));
	n = calloc(CAP, sizeof(*n));
	if (!clusters || !n)
		goto out;
	m->counted_ns = now;
	metrics_lock();
	metrics_clear("subagent_broker_objects");
	for (unsigned r = 0; r < srv_n_resources; r++) {
		struct count_ctx c = { srv_resources[r].name, clusters, n, 0, CAP };
		char prefix[64];

		memset(n, 0, CAP * sizeof(*n));
		snprintf(prefix, sizeof(prefix), "r/%s/", c.res);
		if (st->ops->range(st, prefix, count_one, &c, &rev))
			continue;
		for (unsigned i = 0; i < c.used; i++)
			metrics_set("subagent_broker_objects", n[i], c.res, clusters[i]);
	}
	metrics_unlock();
out:
	pthread_mutex_unlock(&m->mu);
	free(clusters);
	free(n);
}

static void serve(void *ctx, const char *path, struct httpd_reply *r)
{
	if (!strcmp(path, "/metrics")) {
		r->body = metrics_render(&r->len);
		r->code = r->body ? 200 : 500;
		r->content_type = METRICS_CONTENT_TYPE;
	} else if (!strcmp(path, "/healthz")) {
		httpd_reply_text(r, 200, "ok\n");
	}
}

int srv_metrics_define(void)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]) && !err; i++)
		err = metrics_define(fams[i].name, fams[i].type, fams[i].help, fams[i].labels);
	if (!err)
		err = metrics_define_histogram("subagent_broker_request_duration_seconds",
					       "Time to handle an API request (a watch: until its stream "
					       "starts), by resource and verb", "resource,verb",
					       bounds, ARRAY_SIZE(bounds));
	if (!err)
		err = metrics_process_collector();
	return err;
}

struct srv_metrics *srv_metrics_start(struct srv_server *srv, const char *listen)
{
	struct srv_metrics *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return NULL;
	m->srv = srv;
	pthread_mutex_init(&m->mu, NULL);
	metrics_set("subagent_broker_build_info", 1, SUBAGENT_VERSION, srv->store->ops->name);
	err = metrics_add_collector(collect, m);
	if (err)
		goto fail;
	if (listen) {
		m->http = httpd_start(listen, serve, m);
		if (!m->http) {
			err = -errno;
			pr_err("metrics: listen on %s: %s\n", listen,
			       err == -EINVAL ? "want ADDR:PORT" : strerror(-err));
			goto fail;
		}
		pr_info("broker metrics on http://%s/metrics\n", listen);
	}
	return m;
fail:
	srv_metrics_stop(m);
	errno = -err;
	return NULL;
}

void srv_metrics_stop(struct srv_metrics *m)
{
	if (!m)
		return;
	httpd_stop(m->http);
	metrics_remove_collector(collect, m);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
