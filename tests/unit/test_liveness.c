/* Unit tests of the liveness probes (agent/election/liveness.c): the codec, then two nodes
 * over real loopback sockets in a private network namespace, each with its election: the
 * standby hears the active gateway's probes and, when they stop, takes over long before
 * the heartbeats' dead time; a restart announced in the probes is no failure; an old
 * probe replayed does not bring a dead gateway back; a false alarm slows detection down. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/election/election.h"
#include "agent/election/election_int.h"
#include "agent/election/liveness.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/harness.h"

#define MS 1000000ull
static const uint8_t SECRET[] = "0123456789abcdef0123456789abcdef";

static void test_codec(void)
{
	struct liveness_msg m = { .flags = LIVENESS_F_ACTIVE, .epoch = 7, .seq = 1234567890123ull },
			    d;
	uint8_t key[32], key2[32], buf[LIVENESS_MSG_MAX];
	int len, bad = 0;

	liveness_derive_key(SECRET, 32, key);
	liveness_derive_key((const uint8_t *)"another-secret-another-secret!!", 31, key2);
	strcpy(m.cluster_id, "c1");
	strcpy(m.node, "node-1.example");
	len = liveness_msg_encode(&m, key, buf, sizeof(buf));
	REQUIRE(len > 0);
	CHECK_EQ_INT(liveness_msg_decode(buf, (size_t)len, key, &d), 0);
	CHECK_STR(d.cluster_id, "c1");
	CHECK_STR(d.node, "node-1.example");
	CHECK(d.flags == LIVENESS_F_ACTIVE && d.epoch == 7 && d.seq == 1234567890123ull);
	CHECK_EQ_INT(liveness_msg_decode(buf, (size_t)len, key2, &d), -EBADMSG);
	CHECK_EQ_INT(liveness_msg_decode(buf, (size_t)len - 1, key, &d), -EINVAL);
	CHECK_EQ_INT(liveness_msg_decode(buf, 10, key, &d), -EINVAL);
	buf[4] = 2;
	CHECK_EQ_INT(liveness_msg_decode(buf, (size_t)len, key, &d), -EPROTONOSUPPORT);
	buf[4] = 1;
	for (int i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1 << bit);
			if (liveness_msg_decode(buf, (size_t)len, key, &d) == 0)
				bad++;
			buf[i] ^= (uint8_t)(1 << bit);
		}
	CHECK_EQ_INT(bad, 0);
	strcpy(m.node, "bad name");
	CHECK_EQ_INT(liveness_msg_encode(&m, key, buf, sizeof(buf)), -EINVAL);
	strcpy(m.node, "n1");
	CHECK_EQ_INT(liveness_msg_encode(&m, key, buf, 20), -EMSGSIZE);
}

/* ---- two nodes ---- */

struct node {
	struct election *e;
	struct liveness *lv;
	struct election_msg last;	/* its last heartbeat, for the other's election */
	bool have_last;
	uint32_t ip;
};

static void on_send(void *ctx, const struct election_msg *m)
{
	struct node *n = ctx;

	n->last = *m;
	n->have_last = true;
}

static int open_node(struct node *n, const char *name, uint32_t ip, uint64_t now)
{
	struct election_cfg c = { .cluster_id = "c1", .node = name, .gateway_capable = true,
				  .node_ip = ip, .bcast = 0xffffffff, .key = SECRET, .key_len = 32 };
	struct liveness_cfg lc = { .cluster_id = "c1", .node = name, .node_ip = ip,
				   .port = 24802, .key = SECRET, .key_len = 32 };

	memset(n, 0, sizeof(*n));
	n->ip = ip;
	n->e = election_open_nosock(&c, now);
	n->lv = liveness_open(&lc);
	if (!n->e || !n->lv)
		return -1;
	election_set_send_hook(n->e, on_send, n);
	return 0;
}

static void close_node(struct node *n)
{
	election_close(n->e);
	liveness_close(n->lv);
}

/* One round at now: both elections tick, heartbeats cross, probes are read and judged.
 * a_alive: whether a still runs (sends heartbeats and probes). */
static void round_trip(struct node *a, struct node *b, bool a_alive, uint64_t now)
{
	if (a_alive)
		(void)election_tick(a->e, now);
	(void)election_tick(b->e, now);
	if (a_alive && b->have_last)
		election_input(a->e, &b->last, b->ip, now);
	if (a_alive && a->have_last)
		election_input(b->e, &a->last, a->ip, now);
	a->have_last = b->have_last = false;
	if (a_alive)
		(void)liveness_tick(a->lv, a->e, now);
	liveness_on_readable(b->lv, now);
	(void)liveness_tick(b->lv, b->e, now);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * (long)MS };

	nanosleep(&ts, NULL);
}

/* Runs rounds every 5 ms until cond holds (or ms pass); returns the ms it took, -1. */
#define RUN_UNTIL(cond, a, b, a_alive, ms) ({ \
	uint64_t _t0 = util_now_ns(); long _r = -1; \
	while (util_now_ns() - _t0 < (uint64_t)(ms) * MS) { \
		round_trip(a, b, a_alive, util_now_ns()); \
		if (cond) { _r = (long)((util_now_ns() - _t0) / MS); break; } \
		sleep_ms(5); \
	} \
	_r; })

static int setup_pair(struct node *a, struct node *b)
{
	uint64_t now = util_now_ns();

	/* a listens first and claims; b starts later and finds a active */
	if (open_node(a, "a", 0x7f000002, now - 700 * MS))
		return -1;
	(void)election_tick(a->e, now);
	if (!election_is_active(a->e) || open_node(b, "b", 0x7f000003, now))
		return -1;
	/* b hears a, a hears b, probes flow; b is past listening (dead_ns) at the end */
	for (int i = 0; i < 150; i++) {
		round_trip(a, b, true, util_now_ns());
		sleep_ms(5);
	}
	return 0;
}

static void test_takeover_fast(void)
{
	struct node a, b;
	long ms;

	if (geteuid())
		SKIP_TEST("needs root (a private network namespace)");
	REQUIRE(setup_pair(&a, &b) == 0);
	CHECK(election_is_active(a.e));
	CHECK(!election_is_active(b.e));
	/* a dies: no heartbeat, no probe. b takes over after about 5 probes, not 600 ms. */
	ms = RUN_UNTIL(election_is_active(b.e), &a, &b, false, 1000);
	printf("  standby took over %ld ms after the last round with the active\n", ms);
	/* 100 ms of probes missed; the heartbeats would take 600 (a loaded machine under ASan
	 * was seen at 317) */
	CHECK(ms >= 50 && ms < 500);
	close_node(&a);
	close_node(&b);
}

static void test_restart_is_not_a_failure(void)
{
	struct node a, b;
	long ms;

	if (geteuid())
		SKIP_TEST("needs root (a private network namespace)");
	REQUIRE(setup_pair(&a, &b) == 0);
	/* a is told to restart: its heartbeats and probes say so, then it stops */
	election_restarting(a.e, util_now_ns());
	liveness_restarting(a.lv);
	for (int i = 0; i < 4; i++) {
		round_trip(&a, &b, true, util_now_ns());
		sleep_ms(5);
	}
	ms = RUN_UNTIL(election_is_active(b.e), &a, &b, false, 800);
	CHECK_EQ_INT(ms, -1);	/* no takeover: the restarting node keeps its role */
	close_node(&a);
	close_node(&b);
}

static void test_replay_does_not_revive(void)
{
	struct node a, b;
	struct liveness_msg m = { .flags = LIVENESS_F_ACTIVE, .epoch = 1, .seq = 1 };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(24802),
				  .sin_addr.s_addr = htonl(0x7f000003) };
	uint8_t key[32], buf[LIVENESS_MSG_MAX];
	int fd, len;
	long ms;

	if (geteuid())
		SKIP_TEST("needs root (a private network namespace)");
	REQUIRE(setup_pair(&a, &b) == 0);
	/* an attacker replays one of a's old probes (an old sequence number) every 5 ms */
	liveness_derive_key(SECRET, 32, key);
	strcpy(m.cluster_id, "c1");
	strcpy(m.node, "a");
	m.epoch = election_epoch(a.e);
	len = liveness_msg_encode(&m, key, buf, sizeof(buf));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(len > 0 && fd >= 0);
	{
		uint64_t t0 = util_now_ns();

		ms = -1;
		while (util_now_ns() - t0 < 1000 * MS) {
			(void)!sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
			round_trip(&a, &b, false, util_now_ns());
			if (election_is_active(b.e)) {
				ms = (long)((util_now_ns() - t0) / MS);
				break;
			}
			sleep_ms(5);
		}
	}
	CHECK(ms >= 0 && ms < 300);
	close(fd);
	close_node(&a);
	close_node(&b);
}

/* The active stalls for 150 ms (a descheduled VM) and comes back: the standby took over
 * (a false alarm it cannot tell from a death) but then hears it again, so it judges more
 * slowly from now on; a minute of calm brings it back. */
static void test_false_alarm_damps(void)
{
	struct node a, b;
	uint64_t base;
	long ms;

	if (geteuid())
		SKIP_TEST("needs root (a private network namespace)");
	REQUIRE(setup_pair(&a, &b) == 0);
	base = liveness_detection_ns(b.lv);
	CHECK(base == LIVENESS_INTERVAL_NS * LIVENESS_MULT);
	ms = RUN_UNTIL(election_is_active(b.e), &a, &b, false, 1000);
	CHECK(ms >= 0);
	/* a wakes up, still active in its own eyes: its timer sends a probe first */
	(void)liveness_tick(a.lv, a.e, util_now_ns());
	sleep_ms(5);
	liveness_on_readable(b.lv, util_now_ns());
	CHECK(liveness_detection_ns(b.lv) == 2 * base);
	/* a minute without a false alarm: back to the base detection time */
	{
		uint64_t now = util_now_ns();

		(void)liveness_tick(b.lv, b.e, now + LIVENESS_CALM_NS / 2);
		CHECK(liveness_detection_ns(b.lv) == 2 * base);
		(void)liveness_tick(b.lv, b.e, now + LIVENESS_CALM_NS + MS);
		CHECK(liveness_detection_ns(b.lv) == base);
	}
	close_node(&a);
	close_node(&b);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	RUN(test_codec);
	if (geteuid() == 0 && (unshare(CLONE_NEWNET) || system("ip link set lo up"))) {
		fprintf(stderr, "cannot set up a network namespace\n");
		return 1;
	}
	RUN(test_takeover_fast);
	RUN(test_restart_is_not_a_failure);
	RUN(test_replay_does_not_revive);
	RUN(test_false_alarm_damps);
	return harness_done();
}
