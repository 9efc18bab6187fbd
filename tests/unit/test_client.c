/* Unit tests for broker/client/client.c and broker/client/informer.c over real TLS (GnuTLS peers on
 * loopback, certificates from broker/creds/pki.c): CA pinning, host names, failover on refused
 * connections and on 5xx, Status errors, size limits, and the informer's list/watch/relist
 * logic against scripted streams (bad lines, BOOKMARK, 410, a silent stream). */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/client/client.h"
#include "broker/creds/pki.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/harness.h"
#include "tests/unit/tls_peer.h"

#define TOKEN "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char dir[] = "/tmp/sbc-test-client-XXXXXX";
static char ca1_path[256], ca2_path[256];
static char good_cert[256], good_key[256];	/* CA1, 127.0.0.1 */
static char other_cert[256], other_key[256];	/* CA2, 127.0.0.1 */
static char wrongname_cert[256], wrongname_key[256];	/* CA1, 10.0.0.1 only */

static int write_pem(const char *name, const char *data, char *path)
{
	snprintf(path, 256, "%s/%s", dir, name);
	return util_write_file(path, data, strlen(data), 0600);
}

static int setup(void)
{
	char *ca1, *k1, *ca2, *k2, *c, *k;
	const char *lo[] = { "127.0.0.1" }, *ten[] = { "10.0.0.1" };
	struct pki_cert_req req = { .cn = "t", .ips = lo, .n_ips = 1, .flags = PKI_F_SERVER };
	int err = 0;

	if (!mkdtemp(dir) || pki_ca_create("ca1", &ca1, &k1) || pki_ca_create("ca2", &ca2, &k2))
		return -1;
	err |= write_pem("ca1.pem", ca1, ca1_path);
	err |= write_pem("ca2.pem", ca2, ca2_path);
	err |= pki_cert_issue(ca1, k1, &req, &c, &k);
	err |= write_pem("good.pem", c, good_cert) | write_pem("good-key.pem", k, good_key);
	free(c);
	util_free_secret(k);
	err |= pki_cert_issue(ca2, k2, &req, &c, &k);
	err |= write_pem("other.pem", c, other_cert) | write_pem("other-key.pem", k, other_key);
	free(c);
	util_free_secret(k);
	req.ips = ten;
	err |= pki_cert_issue(ca1, k1, &req, &c, &k);
	err |= write_pem("wn.pem", c, wrongname_cert) | write_pem("wn-key.pem", k, wrongname_key);
	free(c);
	util_free_secret(k);
	free(ca1);
	free(ca2);
	util_free_secret(k1);
	util_free_secret(k2);
	return err ? -1 : 0;
}

static void cleanup(void)
{
	const char *f[] = { "ca1.pem", "ca2.pem", "good.pem", "good-key.pem", "other.pem",
			    "other-key.pem", "wn.pem", "wn-key.pem" };
	char p[512];

	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, f[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void url_of(char *buf, unsigned port)
{
	snprintf(buf, 64, "https://127.0.0.1:%u", port);
}

/* ---- a broker-ish handler for the request tests ---- */

/* The path without its query is p. */
static bool path_is(const char *path, const char *p)
{
	size_t n = strlen(p);

	return !strncmp(path, p, n) && (path[n] == '\0' || path[n] == '?');
}

/* A list of "pages" items in three pages (continue A, then B); the first continuation
 * answers 410 Expired once, so the client must list again from the start. */
static atomic_int pages_expired;
static void pages_handler(const struct tp_req *rq, struct tp_conn *c)
{
	const char *q = strchr(rq->path, '?');

	if (!q || !strstr(q, "limit=")) {
		tp_status(c, 400, "BadRequest", "want limit");
	} else if (!strstr(q, "continue=")) {
		tp_respond(c, 200, "{\"kind\":\"PageList\",\"metadata\":{\"resourceVersion\":\"7\","
			   "\"continue\":\"A\"},\"items\":[{\"metadata\":{\"name\":\"p1\"}},"
			   "{\"metadata\":{\"name\":\"p2\"}}]}");
	} else if (strstr(q, "continue=A") && atomic_fetch_add(&pages_expired, 1) == 0) {
		tp_status(c, 410, "Expired", "the continue token's revision is compacted");
	} else if (strstr(q, "continue=A")) {
		tp_respond(c, 200, "{\"metadata\":{\"resourceVersion\":\"7\",\"continue\":\"B\"},"
			   "\"items\":[{\"metadata\":{\"name\":\"p3\"}}]}");
	} else if (strstr(q, "continue=B")) {
		tp_respond(c, 200, "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":"
			   "[{\"metadata\":{\"name\":\"p4\"}}]}");
	} else {
		tp_status(c, 400, "BadRequest", "bad continue");
	}
}
static void api_handler(struct tls_peer *p, const struct tp_req *rq, struct tp_conn *c)
{
	const char *mode = p->ctx;

	if (mode && !strcmp(mode, "503")) {
		tp_status(c, 503, "ServiceUnavailable", "etcd is unavailable");
		return;
	}
	if (strcmp(rq->auth, "Bearer " TOKEN)) {
		tp_status(c, 401, "Unauthorized", "unknown token");
		return;
	}
	if (!strcmp(rq->path, "/apis/subagent.io/v1/whoami"))
		tp_respond(c, 200, "{\"kind\":\"WhoAmI\",\"identity\":\"join\",\"remoteAddr\":\"127.0.0.1\"}");
	else if (path_is(rq->path, "/apis/subagent.io/v1/pages"))
		pages_handler(rq, c);
	else if (path_is(rq->path, "/apis/subagent.io/v1/busy")) {
		static const char r429[] = "HTTP/1.1 429 X\r\nContent-Type: application/json\r\n"
			"Retry-After: 7\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

		tp_write(c, r429, sizeof(r429) - 1);
	}
	else if (!strcmp(rq->method, "POST") && !strcmp(rq->path, "/apis/subagent.io/v1/clusters"))
		tp_respond(c, 201, rq->body);	/* echo */
	else if (!strcmp(rq->method, "PUT"))
		tp_status(c, 409, "Conflict", "resourceVersion 3 is not the stored 4");
	else if (!strcmp(rq->method, "DELETE") && strstr(rq->path, "/clusters/c1"))
		tp_respond(c, 200, "{\"metadata\":{\"name\":\"c1\"}}");
	else if (!strcmp(rq->path, "/apis/subagent.io/v1/clusters/taken"))
		tp_status(c, 409, "AlreadyExists", "cluster taken already exists");
	else if (path_is(rq->path, "/apis/subagent.io/v1/endpoints")) {
		size_t n = 2 * 1024 * 1024;
		char *big = malloc(n + 1);

		memset(big, ' ', n);
		big[0] = '[';
		big[n - 1] = ']';
		big[n] = '\0';
		tp_respond(c, 200, big);
		free(big);
	} else if (path_is(rq->path, "/apis/subagent.io/v1/gatewaystatuses"))
		tp_respond(c, 200, "this is not json");
	else
		tp_status(c, 404, "NotFound", "not found\x01\x1b[31m");
}

static struct brk_client *client(char *const *urls, size_t n, const char *ca)
{
	struct brk_client *c = brk_client_new(urls, n, ca, TOKEN);

	if (c)
		brk_client_set_timeouts(c, 2000, 5000);
	return c;
}

static void test_failover_and_pinning(void)
{
	struct tls_peer good, other, wn;
	char u_dead[64], u_good[64], u_other[64], u_wn[64];
	struct brk_status st;
	struct brk_client *c;
	cJSON *out = NULL;

	REQUIRE(tls_peer_start(&good, good_cert, good_key, api_handler, NULL) == 0);
	REQUIRE(tls_peer_start(&other, other_cert, other_key, api_handler, NULL) == 0);
	REQUIRE(tls_peer_start(&wn, wrongname_cert, wrongname_key, api_handler, NULL) == 0);
	url_of(u_dead, tp_dead_port());
	url_of(u_good, good.port);
	url_of(u_other, other.port);
	url_of(u_wn, wn.port);

	{	/* first URL refuses connections: the second answers */
		char *urls[] = { u_dead, u_good };

		c = client(urls, 2, ca1_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, &out, &st) == 0);
		CHECK_STR(cJSON_GetObjectItem(out, "identity")->valuestring, "join");
		CHECK_STR(st.url, u_good);
		CHECK_STR(brk_client_url(c), u_good);
		cJSON_Delete(out);
		out = NULL;
		brk_client_free(c);
	}
	{	/* a broker whose certificate is from another CA: refused, clear message */
		char *urls[] = { u_other };

		c = client(urls, 1, ca1_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, &out, &st) == -EKEYREJECTED);
		CHECK(strstr(st.message, "is not trusted") && strstr(st.message, "does not chain"));
		CHECK(out == NULL);
		brk_client_free(c);
		CHECK_EQ_INT(atomic_load(&other.nreq), 0);	/* no request (token) was sent */
	}
	{	/* the TLS failure is reported even when another URL only refuses */
		char *urls[] = { u_other, u_dead };

		c = client(urls, 2, ca1_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, NULL, &st) == -EKEYREJECTED);
		brk_client_free(c);
	}
	{	/* right CA, but the certificate does not name 127.0.0.1 */
		char *urls[] = { u_wn };

		c = client(urls, 1, ca1_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, NULL, &st) == -EKEYREJECTED);
		brk_client_free(c);
	}
	{	/* nothing listening anywhere */
		char *urls[] = { u_dead };

		c = client(urls, 1, ca1_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, NULL, &st) == -ECONNREFUSED);
		CHECK(strstr(st.message, "cannot reach the broker") != NULL);
		CHECK_EQ_INT(st.code, 0);
		brk_client_free(c);
	}
	{	/* the system CA store is not trusted: only the given CA file */
		char *urls[] = { u_good };

		c = client(urls, 1, ca2_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, NULL, &st) == -EKEYREJECTED);
		brk_client_free(c);
	}
	tls_peer_stop(&good);
	tls_peer_stop(&other);
	tls_peer_stop(&wn);
}

static void test_5xx_failover(void)
{
	struct tls_peer down, good;
	char u_down[64], u_good[64];
	struct brk_status st;
	struct brk_client *c;

	REQUIRE(tls_peer_start(&down, good_cert, good_key, api_handler, "503") == 0);
	REQUIRE(tls_peer_start(&good, good_cert, good_key, api_handler, NULL) == 0);
	url_of(u_down, down.port);
	url_of(u_good, good.port);
	{
		char *urls[] = { u_down, u_good };

		c = client(urls, 2, ca1_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, NULL, &st) == 0);
		CHECK_STR(st.url, u_good);
		/* the next request starts at the URL that worked */
		CHECK(brk_whoami(c, NULL, &st) == 0);
		CHECK_EQ_INT(atomic_load(&down.nreq), 1);
		brk_client_free(c);
	}
	{
		char *urls[] = { u_down };

		c = client(urls, 1, ca1_path);
		REQUIRE(c);
		CHECK(brk_whoami(c, NULL, &st) == -EIO);
		CHECK_EQ_INT(st.code, 503);
		CHECK_STR(st.message, "etcd is unavailable");
		brk_client_free(c);
	}
	tls_peer_stop(&down);
	tls_peer_stop(&good);
}

static void test_status_and_limits(void)
{
	struct tls_peer good;
	char u_good[64];
	char *urls[] = { u_good };
	struct brk_status st;
	struct brk_client *c, *bad_tok;
	cJSON *obj, *out = NULL;

	REQUIRE(tls_peer_start(&good, good_cert, good_key, api_handler, NULL) == 0);
	url_of(u_good, good.port);
	c = client(urls, 1, ca1_path);
	REQUIRE(c);

	obj = cJSON_Parse("{\"metadata\":{\"name\":\"c1\"},\"spec\":{\"clusterID\":\"c1\"}}");
	CHECK(brk_create(c, "clusters", obj, &out, &st) == 0);
	CHECK_EQ_INT(st.code, 201);
	CHECK(out && !strcmp(brk_obj_name(out), "c1"));
	cJSON_Delete(out);
	out = NULL;
	CHECK(brk_update(c, "clusters", "c1", obj, &out, &st) == -ESTALE);
	CHECK_EQ_INT(st.code, 409);
	CHECK_STR(st.reason, "Conflict");
	CHECK_STR(st.message, "resourceVersion 3 is not the stored 4");
	CHECK(brk_get(c, "clusters", "taken", &out, &st) == -EEXIST);
	CHECK_STR(st.message, "cluster taken already exists");
	CHECK(brk_get(c, "clusters", "nothing", &out, &st) == -ENOENT);
	CHECK_STR(st.message, "not found  [31m");	/* control characters are not passed on */
	CHECK(brk_delete(c, "clusters", "c1", NULL, &st) == 0);
	CHECK(brk_list(c, "endpoints", &out, &st) == -EMSGSIZE);
	CHECK(strstr(st.message, "larger than") != NULL);
	CHECK(brk_list(c, "gatewaystatuses", &out, &st) == -EBADMSG);
	CHECK(out == NULL);
	/* a paged list is merged (and listed again when a continue token expired) */
	CHECK_EQ_INT(brk_list(c, "pages", &out, &st), 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "items")), 4);
	CHECK_STR(brk_obj_rv(out), "7");
	CHECK(json_at(out, "metadata.continue") == NULL);
	CHECK_EQ_INT(atomic_load(&pages_expired), 2);
	cJSON_Delete(out);
	out = NULL;
	CHECK(brk_list(c, "busy", &out, &st) == -EAGAIN);
	CHECK_EQ_INT(st.code, 429);
	CHECK_EQ_INT(st.retry_after_s, 7);
	/* names that would escape the path never reach the wire */
	{
		int before = atomic_load(&good.nreq);

		CHECK(brk_get(c, "clusters", "../x", &out, &st) == -EINVAL);
		CHECK(brk_get(c, "clusters", "a/b", &out, &st) == -EINVAL);
		CHECK(brk_get(c, "Clusters", "a", &out, &st) == -EINVAL);
		CHECK(brk_get(c, "clusters?x", "a", &out, &st) == -EINVAL);
		CHECK_EQ_INT(atomic_load(&good.nreq), before);
	}
	bad_tok = brk_client_new(urls, 1, ca1_path,
				 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	REQUIRE(bad_tok);
	CHECK(brk_whoami(bad_tok, NULL, &st) == -EACCES);
	CHECK_STR(st.message, "unknown token");
	brk_client_free(bad_tok);
	/* constructor checks */
	{
		char http_url[] = "http://127.0.0.1:1", *http[] = { http_url };

		CHECK(brk_client_new(http, 1, ca1_path, TOKEN) == NULL && errno == EINVAL);
		CHECK(brk_client_new(urls, 0, ca1_path, TOKEN) == NULL && errno == EINVAL);
		CHECK(brk_client_new(urls, 1, ca1_path, "a\r\nX-Evil: 1") == NULL && errno == EINVAL);
	}
	cJSON_Delete(obj);
	brk_client_free(c);
	tls_peer_stop(&good);
}

/* ---- the informer against a scripted watch sequence ---- */

struct script {
	pthread_mutex_t lock;
	int lists, watches;
	char asked_rv[256];	/* resourceVersion of every watch, comma separated */
};

static void informer_handler(struct tls_peer *p, const struct tp_req *rq, struct tp_conn *c)
{
	struct script *s = p->ctx;
	const char *q = strstr(rq->path, "resourceVersion=");
	int n;

	if (!strstr(rq->path, "watch=1")) {
		pthread_mutex_lock(&s->lock);
		n = ++s->lists;
		pthread_mutex_unlock(&s->lock);
		if (n == 1)
			tp_respond(c, 200, "{\"kind\":\"EndpointList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":["
				   "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"3\"}},"
				   "{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"4\"}}]}");
		else
			tp_respond(c, 200, "{\"kind\":\"EndpointList\",\"metadata\":{\"resourceVersion\":\"11\"},\"items\":["
				   "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"8\"}},"
				   "{\"metadata\":{\"name\":\"d\",\"resourceVersion\":\"11\"}}]}");
		return;
	}
	pthread_mutex_lock(&s->lock);
	n = ++s->watches;
	if (q)
		snprintf(s->asked_rv + strlen(s->asked_rv), sizeof(s->asked_rv) - strlen(s->asked_rv),
			 "%s%s", s->asked_rv[0] ? "," : "", q + 16);
	pthread_mutex_unlock(&s->lock);
	if (n == 1) {
		static const char ev1[] =
			"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"6\"}}}\n"
			"garbage that is not json\n"
			"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"7\"}}}\n";
		static const char ev2a[] =
			"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resour";
		static const char ev2[] =
			"ceVersion\":\"8\"}}}\n"	/* an event split across chunks */
			"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"9\"}}}\n";
		size_t big_n = BRK_MAX_WATCH_LINE + 4096;
		char *big = malloc(big_n);

		tp_stream_start(c);
		tp_chunk(c, ev1, sizeof(ev1) - 1);
		memset(big, 'x', big_n);
		big[big_n - 1] = '\n';	/* one over-long line, dropped */
		tp_chunk(c, big, big_n);
		free(big);
		tp_chunk(c, ev2a, sizeof(ev2a) - 1);
		tp_chunk(c, ev2, sizeof(ev2) - 1);
		tp_stream_end(c);
	} else if (n == 2) {
		static const char gone[] =
			"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\"}}\n";

		tp_stream_start(c);
		tp_chunk(c, gone, sizeof(gone) - 1);
		tp_wait(p, c, 3000);
	} else if (n == 3) {
		tp_stream_start(c);	/* silent: the client's idle timeout must end it */
		tp_wait(p, c, 20000);
	} else {
		tp_stream_start(c);
		while (!tp_wait(p, c, 1000))
			tp_chunk(c, "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"11\"}}}\n", 70);
	}
}

struct evlog {
	pthread_mutex_t lock;
	char s[512];
	int synced;
};

static void log_ev(struct evlog *l, const char *what, cJSON *obj)
{
	pthread_mutex_lock(&l->lock);
	snprintf(l->s + strlen(l->s), sizeof(l->s) - strlen(l->s), "%s%s:%s", l->s[0] ? "," : "",
		 what, brk_obj_name(obj));
	pthread_mutex_unlock(&l->lock);
}

static void on_add(cJSON *o, void *ctx) { log_ev(ctx, "add", o); }
static void on_update(cJSON *o, void *ctx) { log_ev(ctx, "update", o); }
static void on_delete(cJSON *o, void *ctx) { log_ev(ctx, "delete", o); }
static void on_synced(void *ctx)
{
	struct evlog *l = ctx;

	pthread_mutex_lock(&l->lock);
	l->synced++;
	pthread_mutex_unlock(&l->lock);
}

static void test_informer(void)
{
	struct script s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct evlog l = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct brk_informer_ops ops = { on_add, on_update, on_delete, on_synced };
	struct brk_informer_stats stats;
	struct tls_peer peer;
	struct brk_informer *inf;
	struct brk_client *c;
	char u[64];
	char *urls[] = { u };
	uint64_t deadline, t0;
	int watches = 0;
	cJSON *o, *all;

	REQUIRE(tls_peer_start(&peer, good_cert, good_key, informer_handler, &s) == 0);
	url_of(u, peer.port);
	c = client(urls, 1, ca1_path);
	REQUIRE(c);
	brk_client_set_watch_idle(c, 2);
	inf = brk_informer_start(c, "endpoints", &ops, &l);
	REQUIRE(inf);
	deadline = util_now_ns() + 20ull * 1000000000ull;
	while (util_now_ns() < deadline) {
		pthread_mutex_lock(&s.lock);
		watches = s.watches;
		pthread_mutex_unlock(&s.lock);
		if (watches >= 4)
			break;
		usleep(20000);
	}
	CHECK(watches >= 4);
	pthread_mutex_lock(&l.lock);
	CHECK_STR(l.s, "add:a,add:b,add:c,update:a,delete:b,add:d,delete:c");
	CHECK_EQ_INT(l.synced, 2);
	pthread_mutex_unlock(&l.lock);
	pthread_mutex_lock(&s.lock);
	/* resumed from the last event's version, relisted after 410, resumed after silence */
	CHECK(!strncmp(s.asked_rv, "5,9,11,11", 9));
	pthread_mutex_unlock(&s.lock);
	brk_informer_get_stats(inf, &stats);
	CHECK_EQ_INT(stats.lists, 2);
	CHECK_EQ_INT(stats.gone, 1);
	CHECK_EQ_INT(stats.bad_lines, 2);
	CHECK(stats.bookmarks >= 1);
	CHECK(brk_informer_synced(inf));
	CHECK_EQ_INT(brk_informer_rv(inf), 11);
	o = brk_informer_get(inf, "a");
	CHECK(o && !strcmp(brk_obj_rv(o), "8"));
	cJSON_Delete(o);
	CHECK(brk_informer_get(inf, "b") == NULL);
	all = brk_informer_list(inf);
	CHECK_EQ_INT(cJSON_GetArraySize(all), 2);
	cJSON_Delete(all);
	/* stopping aborts the live watch at once */
	t0 = util_now_ns();
	brk_informer_stop(inf);
	CHECK(util_now_ns() - t0 < 2000000000ull);
	brk_client_free(c);
	tls_peer_stop(&peer);
}

static void test_informer_broker_down(void)
{
	struct evlog l = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct brk_informer_ops ops = { on_add, on_update, on_delete, NULL };
	char u[64];
	char *urls[] = { u };
	struct brk_informer *inf;
	struct brk_client *c;
	uint64_t t0;

	url_of(u, tp_dead_port());
	c = client(urls, 1, ca1_path);
	REQUIRE(c);
	inf = brk_informer_start(c, "endpoints", &ops, &l);
	REQUIRE(inf);
	usleep(1500000);	/* a few backoff rounds against nothing */
	CHECK(!brk_informer_synced(inf));
	t0 = util_now_ns();
	brk_informer_stop(inf);	/* wakes the backoff sleep */
	CHECK(util_now_ns() - t0 < 1000000000ull);
	brk_client_free(c);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	if (setup()) {
		printf("FAIL: test_client.c:setup\n");
		return 1;
	}
	RUN(test_failover_and_pinning);
	RUN(test_5xx_failover);
	RUN(test_status_and_limits);
	RUN(test_informer);
	RUN(test_informer_broker_down);
	cleanup();
	return harness_done();
}
