/* Unit tests of broker/server/quota.c: the write bucket (burst, then the rate, Retry-After),
 * watch slots, and object counts that follow the store's feed and count a create once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/server/quota.h"
#include "broker/server/server.h"
#include "broker/store/store.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static const struct srv_limits lim = {
	.objects_per_cluster = 3, .watches_per_cluster = 2, .writes_per_s = 10, .write_burst = 5,
};

static void test_writes(void)
{
	struct srv_quota *q = srv_quota_new(&lim);
	unsigned retry = 0;
	uint64_t t0;
	int ok = 0;

	REQUIRE(q);
	for (int i = 0; i < 20; i++)
		ok += srv_quota_write(q, "c1", &retry) == 0;
	CHECK_EQ_INT(ok, 5);	/* the burst */
	CHECK_EQ_INT(srv_quota_write(q, "c1", &retry), -EAGAIN);
	t0 = util_now_ns();	/* c1's bucket is empty from here */
	CHECK_EQ_INT(retry, 1);
	CHECK_EQ_INT(srv_quota_write(q, "c2", &retry), 0);	/* each identity its own bucket */
	CHECK_EQ_INT(srv_quota_write(q, "join", &retry), 0);	/* a cluster called "join" too */
	for (int i = 0; i < 5; i++)
		(void)!srv_quota_write(q, SRV_QUOTA_JOIN, &retry);
	CHECK_EQ_INT(srv_quota_write(q, SRV_QUOTA_JOIN, &retry), -EAGAIN);
	CHECK_EQ_INT(srv_quota_write(q, "join", &retry), 0);
	usleep(250000);		/* 10/s: two more tokens, or as many as the time that passed */
	ok = 0;
	for (int i = 0; i < 5; i++)
		ok += srv_quota_write(q, "c1", &retry) == 0;
	{
		uint64_t want = (util_now_ns() - t0) / 100000000ull;

		if (want > 5)
			want = 5;
		CHECK(ok >= 2 && (uint64_t)ok + 1 >= want && (uint64_t)ok <= want + 1);
	}
	srv_quota_free(q);
}

static void test_watches(void)
{
	struct srv_quota *q = srv_quota_new(&lim);
	unsigned n = 0;

	REQUIRE(q);
	CHECK_EQ_INT(srv_quota_watch_get(q, "c1", &n), 0);
	CHECK_EQ_INT(srv_quota_watch_get(q, "c1", &n), 0);
	CHECK_EQ_INT(srv_quota_watch_get(q, "c1", &n), -EAGAIN);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(srv_quota_watch_get(q, "c2", &n), 0);
	srv_quota_watch_put(q, "c1");
	CHECK_EQ_INT(srv_quota_watch_get(q, "c1", &n), 0);
	srv_quota_free(q);
}

static void test_objects(void)
{
	char dir[] = "/tmp/sbs-unit-quota.XXXXXX", cmd[128];
	struct srv_quota *q = srv_quota_new(&lim);
	struct store *st;
	unsigned n = 0;

	REQUIRE(q && mkdtemp(dir));
	st = store_open("sqlite", dir, 100);
	REQUIRE(st);
	{
		struct store_txn_op ops[] = {
			{ .key = "r/endpoints/c1.a", .value = "{\"spec\":{\"clusterID\":\"c1\"}}" },
			{ .key = "r/gatewaystatuses/c1.a", .value = "{\"spec\":{\"clusterID\":\"c1\"}}" },
			{ .key = "r/clusters/c1", .value = "{\"spec\":{\"clusterID\":\"c1\"}}" },
		};

		for (unsigned i = 0; i < 3; i++)
			CHECK_EQ_INT(st->ops->txn(st, &ops[i], 1, NULL, NULL), 0);
	}
	CHECK_EQ_INT(srv_quota_load(q, st), 0);
	CHECK_EQ_INT(srv_quota_objects(q, st, "c1", &n), 0);	/* 2 (the cluster is not counted) */
	srv_quota_created(q, "r/endpoints/c1.b", "c1");
	CHECK_EQ_INT(srv_quota_objects(q, st, "c1", &n), -EDQUOT);
	CHECK_EQ_INT(n, 3);
	/* the feed brings the same create: counted once; a delete frees a slot */
	{
		struct store_event ev = { .rev = 9, .type = STORE_EV_ADDED, .key = "r/endpoints/c1.b",
					  .value = "{\"spec\":{\"clusterID\":\"c1\"}}" };

		srv_quota_on_event(q, &ev);
		CHECK_EQ_INT(srv_quota_objects(q, st, "c1", &n), -EDQUOT);
		CHECK_EQ_INT(n, 3);
		ev.type = STORE_EV_DELETED;
		ev.key = "r/endpoints/c1.a";
		srv_quota_on_event(q, &ev);
		CHECK_EQ_INT(srv_quota_objects(q, st, "c1", &n), 0);
		CHECK_EQ_INT(srv_quota_objects(q, st, "c2", &n), 0);
		/* history lost: counted again from the store, which holds two of c1's objects */
		ev = (struct store_event){ .rev = 10 };
		srv_quota_on_event(q, &ev);
		srv_quota_created(q, "r/endpoints/c1.c", "c1");
		srv_quota_created(q, "r/endpoints/c1.d", "c1");
		CHECK_EQ_INT(srv_quota_objects(q, st, "c1", &n), 0);
	}
	store_close(st);
	srv_quota_free(q);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

int main(void)
{
	RUN(test_writes);
	RUN(test_watches);
	RUN(test_objects);
	return harness_done();
}
