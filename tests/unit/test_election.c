/* Unit tests of the gateway election: the heartbeat codec, the rules driven with synthetic
 * messages and a fake clock, the state file, and two instances over real loopback sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/election/election.h"
#include "agent/election/election_int.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/harness.h"

#define MS 1000000ull
static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";
static const uint8_t KEY2[] = "fedcba9876543210fedcba9876543210";

/* ---- codec ---- */

static void fill_msg(struct election_msg *m, const char *node, uint8_t flags, uint64_t epoch,
		     uint64_t seq)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->cluster_id, "c1");
	snprintf(m->node, sizeof(m->node), "%s", node);
	m->flags = flags;
	m->epoch = epoch;
	m->seq = seq;
	m->adv.health_ip = 0x0a2a0001;
	m->adv.vtep_ip = 0xc0a80001;
	memcpy(m->adv.vtep_mac, "\x02\x11\x22\x33\x44\x55", 6);
	m->adv.pod_net = 0x0a2a0000;
	m->adv.pod_prefix = 24;
	m->adv.private_ip = 0xc0a80001;
}

static void test_codec_roundtrip(void)
{
	struct election_msg m, d;
	uint8_t buf[ELECTION_MSG_MAX];
	int len;

	fill_msg(&m, "node-1.example", ELECTION_F_GATEWAY | ELECTION_F_ACTIVE, 7, 123456789012345ull);
	len = election_msg_encode(&m, KEY, 32, buf, sizeof(buf));
	REQUIRE(len > 0);
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), 0);
	CHECK_STR(d.cluster_id, "c1");
	CHECK_STR(d.node, "node-1.example");
	CHECK_EQ_INT(d.flags, ELECTION_F_GATEWAY | ELECTION_F_ACTIVE);
	CHECK(d.epoch == 7 && d.seq == 123456789012345ull);
	CHECK(d.adv.health_ip == m.adv.health_ip && d.adv.vtep_ip == m.adv.vtep_ip);
	CHECK(!memcmp(d.adv.vtep_mac, m.adv.vtep_mac, 6));
	CHECK(d.adv.pod_net == m.adv.pod_net && d.adv.pod_prefix == 24);
	CHECK(d.adv.private_ip == m.adv.private_ip);
	CHECK_EQ_INT(election_msg_verify(buf, (size_t)len, KEY, 32), 0);
	CHECK_EQ_INT(election_msg_verify(buf, (size_t)len, KEY2, 32), -EBADMSG);
}

static void test_codec_every_byte_matters(void)
{
	struct election_msg m, d;
	uint8_t buf[ELECTION_MSG_MAX];
	int len, bad = 0;

	fill_msg(&m, "n1", ELECTION_F_GATEWAY, 1, 2);
	len = election_msg_encode(&m, KEY, 32, buf, sizeof(buf));
	REQUIRE(len > 0);
	/* flipping any bit of any byte: rejected by the decoder or by the HMAC */
	for (int i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1 << bit);
			if (election_msg_decode(buf, (size_t)len, &d) == 0 &&
			    election_msg_verify(buf, (size_t)len, KEY, 32) == 0)
				bad++;
			buf[i] ^= (uint8_t)(1 << bit);
		}
	}
	CHECK_EQ_INT(bad, 0);
	/* every truncation is rejected by the decoder */
	for (int l = 0; l < len; l++)
		if (election_msg_decode(buf, (size_t)l, &d) == 0)
			bad++;
	CHECK_EQ_INT(bad, 0);
}

static void test_codec_strict(void)
{
	struct election_msg m, d;
	uint8_t buf[ELECTION_MSG_MAX], big[ELECTION_MSG_MAX + 16];
	int len;

	fill_msg(&m, "n1", 0, 0, 1);
	len = election_msg_encode(&m, KEY, 32, buf, sizeof(buf));
	REQUIRE(len > 0);
	buf[4] = 2;	/* another version */
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), -EPROTONOSUPPORT);
	buf[4] = 1;
	buf[39] = 1;	/* reserved byte */
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), -EINVAL);
	buf[39] = 0;
	buf[0] = 'X';
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), -EINVAL);
	buf[0] = 'S';
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), 0);
	/* a trailing byte: the length field no longer matches */
	memcpy(big, buf, (size_t)len);
	big[len] = 0;
	CHECK_EQ_INT(election_msg_decode(big, (size_t)len + 1, &d), -EINVAL);
	/* an extension block holding one TLV of an unknown type is skipped */
	memcpy(big, buf, (size_t)len - 32 - 2);
	{
		size_t off = (size_t)len - 32 - 2, tot = (size_t)len + 3;

		big[off] = 0;
		big[off + 1] = 3;
		memset(big + off + 2, 0xee, 3 + 32);
		big[off + 2] = 0x7f;	/* type 127, length 0 */
		big[off + 3] = 0;
		big[off + 4] = 0;
		big[6] = (uint8_t)(tot >> 8);
		big[7] = (uint8_t)tot;
		CHECK_EQ_INT(election_msg_decode(big, tot, &d), 0);
		big[off + 1] = 4;	/* extension longer than what is there */
		CHECK_EQ_INT(election_msg_decode(big, tot, &d), -EINVAL);
	}
	/* routes and the tunnel MTU travel in the extension */
	{
		struct election_msg r = m, out;
		uint8_t rb[ELECTION_MSG_MAX];
		int rl;

		r.adv.n_routes = 2;
		r.adv.route_net[0] = 0x0a020000;
		r.adv.route_prefix[0] = 16;
		r.adv.route_net[1] = 0x0a660000;
		r.adv.route_prefix[1] = 16;
		r.adv.tunnel_mtu = 1400;
		rl = election_msg_encode(&r, KEY, 32, rb, sizeof(rb));
		CHECK(rl > 0);
		CHECK_EQ_INT(election_msg_decode(rb, (size_t)rl, &out), 0);
		CHECK_EQ_INT(out.adv.n_routes, 2);
		CHECK_EQ_INT(out.adv.route_net[1], 0x0a660000);
		CHECK_EQ_INT(out.adv.route_prefix[1], 16);
		CHECK_EQ_INT(out.adv.tunnel_mtu, 1400);
		r.adv.route_net[1] = 0x0a660001;	/* host bits set */
		CHECK_EQ_INT(election_msg_encode(&r, KEY, 32, rb, sizeof(rb)), -EINVAL);
	}
	/* bad names and pod networks are refused both ways */
	strcpy(m.node, "bad name");
	CHECK_EQ_INT(election_msg_encode(&m, KEY, 32, buf, sizeof(buf)), -EINVAL);
	strcpy(m.node, "n1");
	m.adv.pod_net = 0x0a2a0001;	/* host bits under /24 */
	CHECK_EQ_INT(election_msg_encode(&m, KEY, 32, buf, sizeof(buf)), -EINVAL);
	m.adv.pod_net = 0x0a2a0000;
	CHECK_EQ_INT(election_msg_encode(&m, KEY, 32, buf, 40), -EMSGSIZE);
	len = election_msg_encode(&m, KEY, 32, buf, sizeof(buf));
	REQUIRE(len > 0);
	buf[48 + 1 + 2 + 1] = '/';	/* a byte of the node name */
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), -EINVAL);
}

/* ---- rules, with a fake clock ---- */

struct sent {
	struct election_msg last;
	unsigned n;
};

static void hook(void *ctx, const struct election_msg *m)
{
	struct sent *s = ctx;

	s->last = *m;
	s->n++;
}

static unsigned changes;
static void on_change(void *ctx) { changes++; }

static struct election *mk(const char *node, bool gw, const char *state_dir, uint64_t now,
			   struct sent *s)
{
	struct election_cfg c = {
		.cluster_id = "c1", .node = node, .gateway_capable = gw,
		.node_ip = 0x7f000001, .bcast = 0x7fffffff, .key = KEY, .key_len = 32,
		.state_dir = state_dir, .on_change = on_change,
	};
	struct election *e;

	c.adv.vtep_ip = 0xc0a80000 | (uint32_t)node[0];
	e = election_open_nosock(&c, now);
	if (e)
		election_set_send_hook(e, hook, s);
	return e;
}

/* What a live peer's heartbeat carries once e asked it: its start's nonce and the echo of
 * e's nonce, the proof that it is live. */
static void prove(struct election_msg *m, const struct election *e)
{
	m->boot = 0x5eed000000000000ull | (uint8_t)m->node[0];
	m->n_echo = 1;
	m->echo[0] = election_boot(e);
}

static void feed(struct election *e, const char *node, uint8_t flags, uint64_t epoch,
		 uint64_t seq, uint64_t now)
{
	struct election_msg m;

	fill_msg(&m, node, flags, epoch, seq);
	prove(&m, e);
	election_input(e, &m, 0x7f000002, now);
}

#define GW ELECTION_F_GATEWAY
#define ACT (ELECTION_F_GATEWAY | ELECTION_F_ACTIVE)

static void test_rules_alone_claims_after_listening(void)
{
	struct sent s = { 0 };
	struct election *e = mk("b", true, NULL, 1000 * MS, &s);
	struct election_peer p;
	uint64_t t = 1000 * MS, wait;

	REQUIRE(e);
	wait = election_tick(e, t);
	CHECK(!election_is_active(e));
	CHECK_EQ_INT(s.n, 1);		/* heartbeats while listening */
	CHECK(!(s.last.flags & ELECTION_F_ACTIVE));
	CHECK(wait > 0 && wait <= 100 * MS);
	CHECK_EQ_INT(election_active_peer(e, &p), -ENOENT);
	for (t += 100 * MS; t < 1600 * MS; t += 100 * MS)
		election_tick(e, t);
	CHECK(!election_is_active(e));	/* 500 ms: still listening */
	election_tick(e, 1600 * MS);
	CHECK(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 1);
	CHECK(s.last.flags & ELECTION_F_ACTIVE);
	CHECK_EQ_INT(s.last.epoch, 1);
	REQUIRE(election_active_peer(e, &p) == 0);
	CHECK(p.self);
	CHECK_STR(p.node, "b");
	election_close(e);
}

static void test_rules_lowest_alive_claims(void)
{
	struct sent s = { 0 };
	struct election *e = mk("b", true, NULL, 0, &s);
	uint64_t t;

	REQUIRE(e);
	/* a (lower, gateway-capable, standby) and c are alive: b waits for a */
	for (t = 0; t <= 2000 * MS; t += 100 * MS) {
		feed(e, "a", GW, 0, t + 1, t);
		feed(e, "c", GW, 0, t + 1, t);
		election_tick(e, t);
	}
	CHECK(!election_is_active(e));
	/* a stops; b claims once a has been silent for dead_ns */
	for (; t < 2000 * MS + 600 * MS; t += 50 * MS) {
		feed(e, "c", GW, 0, t + 1, t);
		election_tick(e, t);
		CHECK(!election_is_active(e));
	}
	election_tick(e, 2600 * MS);
	CHECK(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 1);
	election_close(e);
}

static void test_rules_non_gateway_never_claims(void)
{
	struct sent s = { 0 };
	struct election *e = mk("a", false, NULL, 0, &s);

	REQUIRE(e);
	for (uint64_t t = 0; t < 3000 * MS; t += 100 * MS)
		election_tick(e, t);
	CHECK(!election_is_active(e));
	CHECK(!(s.last.flags & ELECTION_F_GATEWAY));
	election_close(e);
}

static void test_rules_sticky(void)
{
	struct sent s = { 0 };
	struct election *e = mk("a", true, NULL, 0, &s);
	struct election_peer p, all[4];
	uint64_t t;

	REQUIRE(e);
	/* a starts while b is active: a stays standby, even though its name is lower */
	for (t = 0; t < 3000 * MS; t += 100 * MS) {
		feed(e, "b", ACT, 4, t + 1, t);
		election_tick(e, t);
	}
	CHECK(!election_is_active(e));
	REQUIRE(election_active_peer(e, &p) == 0);
	CHECK_STR(p.node, "b");
	CHECK_EQ_INT(p.epoch, 4);
	CHECK(!p.self && p.active);
	CHECK(p.adv.vtep_ip == 0xc0a80001);
	CHECK_EQ_INT(election_epoch(e), 4);	/* learnt from b */
	CHECK_EQ_INT(election_peers(e, all, 4), 2);
	CHECK(all[0].self && !all[0].active);
	CHECK_STR(all[1].node, "b");
	CHECK(all[1].active);
	/* b dies: a takes over with epoch 5 */
	for (; t < 3000 * MS + 600 * MS; t += 100 * MS)
		election_tick(e, t);
	election_tick(e, t);
	CHECK(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 5);
	/* b comes back claiming its old epoch 4 (a stale reclaim): a keeps the role */
	feed(e, "b", ACT, 4, 1000000000000ull, t);
	election_tick(e, t + 1);
	CHECK(election_is_active(e));
	REQUIRE(election_active_peer(e, &p) == 0);
	CHECK(p.self);
	election_close(e);
}

static void test_rules_conflict(void)
{
	struct sent s = { 0 };
	struct election *e = mk("b", true, NULL, 0, &s);
	struct election_peer p;
	uint64_t t;
	unsigned sent_before;

	REQUIRE(e);
	for (t = 0; t <= 600 * MS; t += 100 * MS)
		election_tick(e, t);
	REQUIRE(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 1);
	/* c claims with the same epoch: b (lower name) stays */
	feed(e, "c", ACT, 1, 1, t);
	CHECK(election_is_active(e));
	/* a claims with the same epoch (both sides of a healed partition): b steps down at
	 * once and says so in a heartbeat sent right away */
	sent_before = s.n;
	feed(e, "a", ACT, 1, 1, t);
	CHECK(!election_is_active(e));
	CHECK(s.n == sent_before + 1 && !(s.last.flags & ELECTION_F_ACTIVE));
	REQUIRE(election_active_peer(e, &p) == 0);
	CHECK_STR(p.node, "a");
	/* d claims with a higher epoch: it beats a */
	feed(e, "d", ACT, 3, 1, t);
	REQUIRE(election_active_peer(e, &p) == 0);
	CHECK_STR(p.node, "d");
	CHECK_EQ_INT(p.epoch, 3);
	/* everybody dies: b claims with 1 + the highest epoch seen */
	election_tick(e, t + 700 * MS);
	CHECK(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 4);
	election_close(e);
}

static void test_rules_replay_and_other_cluster(void)
{
	struct sent s = { 0 };
	struct election *e = mk("b", false, NULL, 0, &s);
	struct election_drops d;
	struct election_msg m;
	struct election_peer all[4];

	REQUIRE(e);
	feed(e, "a", ACT, 2, 100, 0);
	feed(e, "a", ACT, 2, 100, 500 * MS);	/* replay: does not keep a alive */
	feed(e, "a", ACT, 2, 99, 550 * MS);	/* older */
	election_get_drops(e, &d);
	CHECK_EQ_INT(d.replay, 2);
	election_tick(e, 599 * MS);
	CHECK_EQ_INT(election_peers(e, all, 4), 2);
	election_tick(e, 600 * MS);
	CHECK_EQ_INT(election_peers(e, all, 4), 1);
	feed(e, "a", ACT, 2, 101, 700 * MS);	/* newer: alive again */
	CHECK_EQ_INT(election_peers(e, all, 4), 2);
	fill_msg(&m, "x", ACT, 50, 1);
	strcpy(m.cluster_id, "c2");
	election_input(e, &m, 1, 700 * MS);
	election_get_drops(e, &d);
	CHECK_EQ_INT(d.other_cluster, 1);
	CHECK_EQ_INT(election_peers(e, all, 4), 2);
	CHECK_EQ_INT(election_epoch(e), 2);
	fill_msg(&m, "b", ACT, 60, 1);		/* our own name from elsewhere */
	election_input(e, &m, 9, 700 * MS);
	election_get_drops(e, &d);
	CHECK_EQ_INT(d.self_echo, 1);
	CHECK_EQ_INT(election_epoch(e), 2);
	election_close(e);
}

static void test_rules_min_epoch_and_changes(void)
{
	struct sent s = { 0 };
	struct election *e = mk("b", true, NULL, 0, &s);
	struct election_adv adv = { .vtep_ip = 0x01020304 };
	uint64_t g;

	REQUIRE(e);
	CHECK_EQ_INT(election_set_min_epoch(e, 9), 0);
	for (uint64_t t = 0; t <= 600 * MS; t += 100 * MS)
		election_tick(e, t);
	REQUIRE(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 10);
	g = election_generation(e);
	changes = 0;
	CHECK_EQ_INT(election_set_min_epoch(e, 20), 0);
	CHECK_EQ_INT(election_epoch(e), 21);
	election_tick(e, 650 * MS);
	CHECK(election_generation(e) > g);
	CHECK_EQ_INT(changes, 1);
	CHECK_EQ_INT(s.last.epoch, 21);
	/* nothing changes: no notification */
	election_tick(e, 660 * MS);
	CHECK_EQ_INT(changes, 1);
	/* a peer appears, then its data changes, then it dies: three notifications */
	feed(e, "c", GW, 0, 1, 670 * MS);
	CHECK_EQ_INT(changes, 2);
	feed(e, "c", GW, 0, 2, 680 * MS);
	CHECK_EQ_INT(changes, 2);
	{
		struct election_msg m;

		fill_msg(&m, "c", GW, 0, 3);
		prove(&m, e);
		m.adv.vtep_ip = 0x0a000009;
		election_input(e, &m, 2, 690 * MS);
	}
	CHECK_EQ_INT(changes, 3);
	election_tick(e, 690 * MS + 600 * MS);
	CHECK_EQ_INT(changes, 4);
	election_set_adv(e, &adv);
	election_tick(e, 1300 * MS);
	CHECK_EQ_INT(changes, 5);
	CHECK(s.last.adv.vtep_ip == 0x01020304);
	election_close(e);
}

static void test_rules_resign(void)
{
	struct sent sb = { 0 }, sc = { 0 };
	struct election *b = mk("b", true, NULL, 0, &sb), *c = mk("c", true, NULL, 0, &sc);
	uint64_t t;

	REQUIRE(b && c);
	for (t = 0; t <= 600 * MS; t += 100 * MS) {
		election_tick(b, t);
		feed(c, "b", sb.last.flags, sb.last.epoch, sb.last.seq, t);
		election_tick(c, t);
	}
	REQUIRE(election_is_active(b));
	CHECK(!election_is_active(c));
	election_resign(b, t);
	CHECK(!election_is_active(b));
	CHECK(!(sb.last.flags & (ELECTION_F_ACTIVE | ELECTION_F_GATEWAY)));
	CHECK_EQ_INT(sb.last.epoch, 1);
	/* c takes over on the first heartbeat after the resignation, not after dead_ns */
	feed(c, "b", sb.last.flags, sb.last.epoch, sb.last.seq, t + 1 * MS);
	CHECK(election_is_active(c));
	CHECK_EQ_INT(election_epoch(c), 2);
	/* b never claims again */
	for (; t < 3000 * MS; t += 100 * MS)
		election_tick(b, t);
	CHECK(!election_is_active(b));
	election_close(b);
	election_close(c);
}

/* tick returns the time to the earliest of: next heartbeat, end of listening, a peer's
 * expiry. */
static void test_rules_tick_deadline(void)
{
	struct sent s = { 0 };
	struct election *e = mk("b", true, NULL, 0, &s);

	REQUIRE(e);
	CHECK_EQ_INT(election_tick(e, 0), 100 * MS);
	feed(e, "a", GW, 0, 1, 10 * MS);
	CHECK_EQ_INT(election_tick(e, 50 * MS), 50 * MS);
	CHECK_EQ_INT(election_tick(e, 100 * MS), 100 * MS);	/* sends, next at 200 */
	CHECK_EQ_INT(election_tick(e, 590 * MS), 10 * MS);	/* listen ends at 600 (a at 610) */
	election_close(e);
}

/* ---- the state file ---- */

static void test_state_restart(void)
{
	char dir[] = "/tmp/sel-unit-XXXXXX", path[128];
	struct sent s = { 0 };
	struct election *e;
	struct timespec old[2];
	uint64_t t, last_seq;

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/election.state", dir);
	e = mk("b", true, dir, 0, &s);
	REQUIRE(e);
	for (t = 0; t <= 600 * MS; t += 100 * MS)
		election_tick(e, t);
	REQUIRE(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 1);
	last_seq = s.last.seq;
	election_close(e);
	{
		struct stat st;

		CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	}

	/* restarted at once: active again, same epoch, first heartbeat newer than the last */
	s.n = 0;
	e = mk("b", true, dir, 0, &s);
	REQUIRE(e);
	CHECK(election_is_active(e));
	election_tick(e, 0);
	CHECK_EQ_INT(s.n, 1);
	CHECK(s.last.flags & ELECTION_F_ACTIVE);
	CHECK_EQ_INT(s.last.epoch, 1);
	CHECK(s.last.seq > last_seq);
	last_seq = s.last.seq;
	election_close(e);

	/* restarted after dead_ns: somebody may have taken over, so it listens first */
	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 2;
	old[1] = old[0];
	REQUIRE(utimensat(AT_FDCWD, path, old, 0) == 0);
	e = mk("b", true, dir, 0, &s);
	REQUIRE(e);
	election_tick(e, 0);
	CHECK(!election_is_active(e));
	CHECK(s.last.seq > last_seq);
	/* and learns that a took over meanwhile */
	for (t = 0; t <= 1000 * MS; t += 100 * MS) {
		feed(e, "a", ACT, 2, t + 1, t);
		election_tick(e, t);
	}
	CHECK(!election_is_active(e));
	election_close(e);

	/* a standby restarting with a fresh file that says standby: listens, epoch kept */
	e = mk("b", true, dir, 0, &s);
	REQUIRE(e);
	CHECK(!election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 2);
	for (t = 0; t <= 600 * MS; t += 100 * MS)
		election_tick(e, t);
	CHECK(election_is_active(e));
	CHECK_EQ_INT(election_epoch(e), 3);
	election_close(e);
	unlink(path);
	rmdir(dir);
}

static void test_bad_config(void)
{
	struct election_cfg c = { .cluster_id = "c1", .node = "n1", .key = KEY, .key_len = 32,
				  .bcast = 0x7fffffff, .node_ip = 0x7f000001 };

	struct election *e = election_open_nosock(&c, 0);

	CHECK(e != NULL);
	election_close(e);
	c.node_ip = 0;
	CHECK(!election_open_nosock(&c, 0) && errno == EINVAL);
	c.node_ip = 0x7f000001;
	c.node = "n 1";
	CHECK(!election_open_nosock(&c, 0) && errno == EINVAL);
	c.node = "n1";
	c.key_len = 8;
	CHECK(!election_open_nosock(&c, 0) && errno == EINVAL);
	c.key_len = 32;
	c.bcast = 0;
	CHECK(!election_open_nosock(&c, 0) && errno == EINVAL);
	c.bcast = 1;
	c.interval_ns = 300 * MS;	/* dead_ns 600 ms is not > 2 intervals */
	CHECK(!election_open_nosock(&c, 0) && errno == EINVAL);
}

/* ---- two instances over real loopback sockets (unicast peers) ---- */

static void test_sockets_loopback(void)
{
	uint32_t ips[2] = { 0x7f000001, 0x7f000002 };
	struct election *e[2] = { 0 };
	struct election_drops d;
	struct election_peer all[4];
	uint64_t deadline;
	uint16_t port = 0;
	int active = -1;

	for (int attempt = 0; attempt < 20 && !e[1]; attempt++) {
		uint16_t r;

		election_close(e[0]);
		e[0] = NULL;
		if (util_random(&r, sizeof(r)))
			r = (uint16_t)getpid();
		port = (uint16_t)(20000 + r % 40000);
		for (int i = 0; i < 2; i++) {
			struct election_cfg c = {
				.cluster_id = "c1", .node = i ? "n2" : "n1", .gateway_capable = true,
				.node_ip = ips[i], .peers = ips, .n_peers = 2, .port = port,
				.key = KEY, .key_len = 32,
			};

			e[i] = election_open(&c, util_now_ns());
			if (!e[i])
				break;
		}
	}
	REQUIRE(e[0] && e[1]);
	deadline = util_now_ns() + 3000 * MS;
	while (util_now_ns() < deadline) {
		struct pollfd pfd[2] = { { .fd = election_fd(e[0]), .events = POLLIN },
					 { .fd = election_fd(e[1]), .events = POLLIN } };
		uint64_t now = util_now_ns(), w0 = election_tick(e[0], now),
			 w1 = election_tick(e[1], now);

		if (poll(pfd, 2, (int)((w0 < w1 ? w0 : w1) / MS) + 1) > 0) {
			for (int i = 0; i < 2; i++)
				if (pfd[i].revents & POLLIN)
					election_on_readable(e[i], util_now_ns());
		}
		if (election_is_active(e[0]) + election_is_active(e[1]) == 1 &&
		    election_peers(e[0], all, 4) == 2 && election_peers(e[1], all, 4) == 2) {
			active = election_is_active(e[0]) ? 0 : 1;
			break;
		}
	}
	REQUIRE(active >= 0);
	CHECK_EQ_INT(active, 0);	/* both started together: the lower name */
	/* a forged claim (wrong key) and a replayed one (right key, an earlier start) */
	{
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000003) };
		struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port),
					   .sin_addr.s_addr = htonl(ips[1]) };
		struct election_msg m;
		uint8_t buf[ELECTION_MSG_MAX], k[32];
		int len;

		REQUIRE(fd >= 0);
		CHECK(bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0);
		fill_msg(&m, "a0", ACT, 1000, UINT64_MAX - 1);
		len = election_msg_encode(&m, KEY2, 32, buf, sizeof(buf));
		CHECK(len > 0 && sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&dst, sizeof(dst)) == len);
		election_derive_key(KEY, 32, k);
		fill_msg(&m, "n1", GW, 0, 5);
		len = election_msg_encode(&m, k, 32, buf, sizeof(buf));
		CHECK(len > 0 && sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&dst, sizeof(dst)) == len);
		close(fd);
		deadline = util_now_ns() + 1000 * MS;
		do {
			struct pollfd pfd = { .fd = election_fd(e[1]), .events = POLLIN };

			if (poll(&pfd, 1, 50) > 0)
				election_on_readable(e[1], util_now_ns());
			election_get_drops(e[1], &d);
		} while ((d.bad_mac < 1 || d.unproven < 1) && util_now_ns() < deadline);
		CHECK_EQ_INT(d.bad_mac, 1);
		CHECK(d.unproven >= 1);
		CHECK(!election_is_active(e[1]));
		CHECK_EQ_INT(election_epoch(e[1]), 1);
		CHECK_EQ_INT(election_peers(e[1], all, 4), 2);
	}
	election_close(e[0]);
	election_close(e[1]);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	RUN(test_codec_roundtrip);
	RUN(test_codec_every_byte_matters);
	RUN(test_codec_strict);
	RUN(test_rules_alone_claims_after_listening);
	RUN(test_rules_lowest_alive_claims);
	RUN(test_rules_non_gateway_never_claims);
	RUN(test_rules_sticky);
	RUN(test_rules_conflict);
	RUN(test_rules_replay_and_other_cluster);
	RUN(test_rules_min_epoch_and_changes);
	RUN(test_rules_resign);
	RUN(test_rules_tick_deadline);
	RUN(test_state_restart);
	RUN(test_bad_config);
	RUN(test_sockets_loopback);
	return harness_done();
}
