/* Unit tests of the broker's SQLite store (conditions, revisions, change log, trimming,
 * reopen) and of request validation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/server/objects.h"
#include "broker/server/validate.h"
#include "broker/store/store.h"
#include "common/name.h"
#include "tests/unit/harness.h"

static char dir[64];

struct seen {
	int n;
	uint64_t revs[64];
	enum store_ev_type types[64];
	char vals[64][32];
};

static void on_event(const struct store_event *ev, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 64) {
		s->revs[s->n] = ev->rev;
		s->types[s->n] = ev->type;
		snprintf(s->vals[s->n], sizeof(s->vals[0]), "%s", ev->value);
		s->n++;
	}
}

static int count_kv(const char *key, const char *value, uint64_t rev, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_sqlite_txn(void)
{
	struct store *st = store_open("sqlite", dir, 5);
	struct store_txn_op op;
	struct seen feed = { 0 };
	uint64_t rev = 0, r1, r2, cur;
	size_t failed = 99;
	char *v = NULL;
	int n = 0;

	REQUIRE(st);
	CHECK_EQ_INT(st->ops->revision(st, &rev), 0);
	CHECK_EQ_INT(rev, 0);
	CHECK_EQ_INT(st->ops->feed_start(st, rev, on_event, &feed), 0);
	op = (struct store_txn_op){ .key = "r/endpoints/a", .value = "{\"v\":1}", .cond = STORE_IF_ABSENT };
	CHECK_EQ_INT(st->ops->txn(st, &op, 1, &r1, NULL), 0);
	CHECK_EQ_INT(r1, 1);
	CHECK_EQ_INT(st->ops->txn(st, &op, 1, &r1, &failed), -ECANCELED);
	CHECK_EQ_INT(failed, 0);
	op = (struct store_txn_op){ .key = "r/endpoints/a", .value = "{\"v\":2}", .cond = STORE_IF_REV, .rev = 7 };
	CHECK_EQ_INT(st->ops->txn(st, &op, 1, &r2, NULL), -ECANCELED);
	op.rev = r1;
	CHECK_EQ_INT(st->ops->txn(st, &op, 1, &r2, NULL), 0);
	CHECK_EQ_INT(r2, 2);
	CHECK_EQ_INT(st->ops->get(st, "r/endpoints/a", &v, &cur), 0);
	CHECK_STR(v, "{\"v\":2}");
	CHECK_EQ_INT(cur, 2);
	free(v);
	/* a private key: a revision, but no event */
	op = (struct store_txn_op){ .key = "x/token/abc", .value = "c1" };
	CHECK_EQ_INT(st->ops->txn(st, &op, 1, NULL, NULL), 0);
	op = (struct store_txn_op){ .del = true, .key = "r/endpoints/a", .cond = STORE_IF_REV, .rev = 2 };
	CHECK_EQ_INT(st->ops->txn(st, &op, 1, &rev, NULL), 0);
	CHECK_EQ_INT(rev, 4);
	CHECK_EQ_INT(st->ops->get(st, "r/endpoints/a", NULL, NULL), -ENOENT);
	CHECK_EQ_INT(feed.n, 3);
	CHECK_EQ_INT(feed.types[0], STORE_EV_ADDED);
	CHECK_EQ_INT(feed.types[1], STORE_EV_MODIFIED);
	CHECK_EQ_INT(feed.types[2], STORE_EV_DELETED);
	CHECK_STR(feed.vals[2], "{\"v\":2}");	/* a delete carries the last value */
	CHECK_EQ_INT(feed.revs[2], 4);
	/* history and its trimming to the last 5 revisions */
	memset(&feed, 0, sizeof(feed));
	CHECK_EQ_INT(st->ops->history(st, 1, 100, on_event, &feed), 0);
	CHECK_EQ_INT(feed.n, 2);
	for (int i = 0; i < 6; i++) {
		char key[32];

		snprintf(key, sizeof(key), "r/clusters/c%d", i);
		op = (struct store_txn_op){ .key = key, .value = "{}" };
		CHECK_EQ_INT(st->ops->txn(st, &op, 1, &rev, NULL), 0);
	}
	CHECK_EQ_INT(rev, 10);
	CHECK_EQ_INT(st->ops->history(st, 1, 100, on_event, &feed), -ESTALE);
	CHECK_EQ_INT(st->ops->history(st, 5, 100, on_event, &feed), 0);
	CHECK_EQ_INT(st->ops->range(st, "r/clusters/", count_kv, &n, &rev), 0);
	CHECK_EQ_INT(n, 6);
	CHECK_EQ_INT(rev, 10);
	/* all-or-nothing: the second op's condition fails, the first is not applied */
	{
		struct store_txn_op two[2] = {
			{ .key = "r/clusters/new", .value = "{}" },
			{ .key = "r/clusters/c1", .value = "{}", .cond = STORE_IF_ABSENT },
		};

		CHECK_EQ_INT(st->ops->txn(st, two, 2, NULL, &failed), -ECANCELED);
		CHECK_EQ_INT(failed, 1);
		CHECK_EQ_INT(st->ops->get(st, "r/clusters/new", NULL, NULL), -ENOENT);
	}
	store_close(st);
	/* reopen: data, revision and the trim point persist */
	st = store_open("sqlite", dir, 5);
	REQUIRE(st);
	CHECK_EQ_INT(st->ops->revision(st, &rev), 0);
	CHECK_EQ_INT(rev, 10);
	CHECK_EQ_INT(st->ops->history(st, 1, 100, on_event, &feed), -ESTALE);
	CHECK_EQ_INT(st->ops->get(st, "r/clusters/c5", NULL, &cur), 0);
	CHECK_EQ_INT(cur, 10);
	store_close(st);
}

struct names {
	char s[256];
	int stop_at;	/* refuse (return 1) the key at this index, -1: none */
	int n;
};

static int collect(const char *key, const char *value, uint64_t rev, void *ctx)
{
	struct names *nm = ctx;

	if (nm->n == nm->stop_at)
		return 1;
	snprintf(nm->s + strlen(nm->s), sizeof(nm->s) - strlen(nm->s), "%s,", key + 11);
	nm->n++;
	return 0;
}

/* Pages: in key order, after a key, a limit, an early end by the callback, `more`. */
static void test_sqlite_page(void)
{
	struct store *st = store_open("sqlite", dir, 100);
	struct names nm = { .stop_at = -1 };
	bool more = true;
	uint64_t rev = 0;

	REQUIRE(st);
	for (int i = 0; i < 5; i++) {
		char key[32];
		struct store_txn_op op = { .key = key, .value = "{}" };

		snprintf(key, sizeof(key), "r/gateways/g%d", i);
		CHECK_EQ_INT(st->ops->txn(st, &op, 1, NULL, NULL), 0);
	}
	CHECK_EQ_INT(st->ops->page(st, "r/gateways/", NULL, 0, 2, collect, &nm, &rev, &more), 0);
	CHECK_STR(nm.s, "g0,g1,");
	CHECK(more);
	CHECK(rev > 0);
	nm = (struct names){ .stop_at = -1 };
	CHECK_EQ_INT(st->ops->page(st, "r/gateways/", "r/gateways/g1", 0, 2, collect, &nm, &rev, &more), 0);
	CHECK_STR(nm.s, "g2,g3,");
	CHECK(more);
	nm = (struct names){ .stop_at = -1 };
	CHECK_EQ_INT(st->ops->page(st, "r/gateways/", "r/gateways/g3", 0, 2, collect, &nm, &rev, &more), 0);
	CHECK_STR(nm.s, "g4,");
	CHECK(!more);
	nm = (struct names){ .stop_at = 1 };
	CHECK_EQ_INT(st->ops->page(st, "r/gateways/", NULL, 0, 10, collect, &nm, &rev, &more), 0);
	CHECK_STR(nm.s, "g0,");
	CHECK(more);
	CHECK_EQ_INT(st->ops->page(st, "r/gateways/", "r/other/x", 0, 10, collect, &nm, &rev, &more),
		     -EINVAL);
	store_close(st);
}

/* The change log keeps at most history_bytes of values: 100 writes of 1 KiB to one key
 * leave about 8 KiB of history, and older resume points are gone (410). */
static void test_sqlite_history_bytes(void)
{
	struct store *st = store_open("sqlite", dir, 10000);
	struct seen feed = { 0 };
	char val[1100];
	uint64_t rev = 0, first = 0;

	REQUIRE(st);
	st->history_bytes = 8 * 1024;
	memset(val, 'v', 1024);
	strcpy(val + 1024, "\"}");
	memcpy(val, "{\"v\":\"", 6);
	for (int i = 0; i < 100; i++) {
		struct store_txn_op op = { .key = "r/endpoints/big", .value = val };

		CHECK_EQ_INT(st->ops->txn(st, &op, 1, &rev, NULL), 0);
		if (!first)
			first = rev;
	}
	CHECK_EQ_INT(st->ops->history(st, first, rev, on_event, &feed), -ESTALE);
	memset(&feed, 0, sizeof(feed));
	CHECK_EQ_INT(st->ops->history(st, rev - 6, rev, on_event, &feed), 0);
	CHECK_EQ_INT(feed.n, 6);
	CHECK_EQ_INT(st->ops->history(st, rev - 9, rev, on_event, &feed), -ESTALE);
	store_close(st);
	/* the bound holds across a reopen */
	st = store_open("sqlite", dir, 10000);
	REQUIRE(st);
	st->history_bytes = 4 * 1024;
	{
		struct store_txn_op op = { .key = "r/endpoints/big", .value = val };

		CHECK_EQ_INT(st->ops->txn(st, &op, 1, &rev, NULL), 0);
	}
	CHECK_EQ_INT(st->ops->history(st, rev - 4, rev, on_event, &feed), -ESTALE);
	store_close(st);
}

static int validate(const char *res, const char *json)
{
	const struct srv_resource *r = srv_resource_find(res, strlen(res));
	char msg[300];
	cJSON *o = srv_decode_body(json, strlen(json), msg, sizeof(msg));
	int err;

	if (!o)
		return -EBADMSG;
	err = srv_validate_object(r, o, msg, sizeof(msg));
	cJSON_Delete(o);
	return err;
}

static void test_validate(void)
{
	CHECK_EQ_INT(validate("clusters", "{\"metadata\":{\"name\":\"c1\"},\"spec\":{\"clusterID\":\"c1\","
			      "\"clusterCIDRs\":[\"10.0.0.0/16\"]}}"), 0);
	CHECK_EQ_INT(validate("clusters", "{\"metadata\":{\"name\":\"c1\"},\"spec\":{\"clusterID\":\"c2\","
			      "\"clusterCIDRs\":[\"10.0.0.0/16\"]}}"), -EINVAL);
	CHECK_EQ_INT(validate("clusters", "{\"metadata\":{\"name\":\"c1\"},\"spec\":{\"clusterID\":\"c1\","
			      "\"clusterCIDRs\":[]}}"), -EINVAL);
	CHECK_EQ_INT(validate("endpoints", "{\"metadata\":{\"name\":\"c1.h\"},\"spec\":{\"clusterID\":\"c1\","
			      "\"hostname\":\"h\",\"privateIP\":\"10.0.0.1\"}}"), 0);
	CHECK_EQ_INT(validate("endpoints", "{\"metadata\":{\"name\":\"c1.h\"},\"spec\":{\"clusterID\":\"c1\","
			      "\"hostname\":\"h\",\"privateIP\":\"10.0.0.1\"}} x"), -EBADMSG);
	CHECK_EQ_INT(validate("endpoints", "{\"metadata\":{\"name\":\"c1.h\"},\"spec\":{\"clusterID\":\"c1\","
			      "\"hostname\":\"h\",\"privateIP\":\"10.0.0.1\",\"natTPort\":0}}"), -EINVAL);
	CHECK_EQ_INT(validate("endpoints", "{\"metadata\":{\"name\":\"c1.h\",\"resourceVersion\":\"01\"},"
			      "\"spec\":{\"clusterID\":\"c1\",\"hostname\":\"h\",\"privateIP\":\"10.0.0.1\"}}"),
		     -EINVAL);
	CHECK_EQ_INT(validate("gatewaystatuses", "{\"metadata\":{\"name\":\"c1.h\"},\"spec\":{\"clusterID\":"
			      "\"c1\",\"hostname\":\"h\",\"haStatus\":\"active\",\"connections\":[{\"cluster\":"
			      "\"c2\",\"rttAvgNs\":5}]}}"), 0);
	CHECK_EQ_INT(validate("gatewaystatuses", "{\"metadata\":{\"name\":\"c1.h\"},\"spec\":{\"clusterID\":"
			      "\"c1\",\"hostname\":\"h\",\"haStatus\":\"leader\"}}"), -EINVAL);
	/* globalnet objects: exactly one target, each checked */
	CHECK_EQ_INT(validate("globalingressips", "{\"metadata\":{\"name\":\"c1.web\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"service\":\"10.96.0.10\"},\"status\":{\"globalIP\":"
			      "\"242.0.0.10\"}}"), 0);
	CHECK_EQ_INT(validate("globalingressips", "{\"metadata\":{\"name\":\"c1.web\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"pod\":\"10.1.1.1\",\"service\":\"10.96.0.10\"}}"),
		     -EINVAL);
	CHECK_EQ_INT(validate("globalingressips", "{\"metadata\":{\"name\":\"c1.web\"},\"spec\":{"
			      "\"clusterID\":\"c1\"}}"), -EINVAL);
	CHECK_EQ_INT(validate("globalingressips", "{\"metadata\":{\"name\":\"c1.web\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"pod\":\"10.1.1.300\"}}"), -EINVAL);
	CHECK_EQ_INT(validate("globalingressips", "{\"metadata\":{\"name\":\"c2.web\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"pod\":\"10.1.1.3\"}}"), -EINVAL);
	CHECK_EQ_INT(validate("globalegressips", "{\"metadata\":{\"name\":\"c1.ns\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"cidr\":\"10.1.2.0/24\"}}"), 0);
	CHECK_EQ_INT(validate("globalegressips", "{\"metadata\":{\"name\":\"c1.ns\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"cidr\":\"10.1.2.1/24\"}}"), -EINVAL);
	CHECK_EQ_INT(validate("globalegressips", "{\"metadata\":{\"name\":\"c1.ns\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"service\":\"10.96.0.1\"}}"), -EINVAL);
	CHECK_EQ_INT(validate("globalegressips", "{\"metadata\":{\"name\":\"c1.p\"},\"spec\":{"
			      "\"clusterID\":\"c1\",\"pod\":\"10.1.2.7\"},\"status\":[]}"), -EINVAL);
	CHECK(name_is_dns_label("a-b0"));
	CHECK(!name_is_dns_label("-ab"));
	CHECK(!name_is_dns_label("aB"));
	CHECK(name_is_dns_subdomain("c1-gw.example"));
	CHECK(!name_is_dns_subdomain("c1..gw"));
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sbs-unit-store.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(test_sqlite_txn);
	RUN(test_sqlite_page);
	RUN(test_sqlite_history_bytes);
	RUN(test_validate);
	for (unsigned i = 0; i < 3; i++) {
		static const char *const files[] = { "broker.db", "broker.db-wal", "broker.db-shm" };
		char path[128];

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	return harness_done();
}
