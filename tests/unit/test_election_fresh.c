/* Unit tests of the election's hardening (issue 11): heartbeats that cannot be replayed
 * across restarts (agent/election/election_fresh.c: a nonce per start, asks and echoes)
 * and epochs that grow only within a bound (election.c, election_msg.c). Elections are
 * driven with a fake clock; two of them talk through their send hooks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/election/election.h"
#include "agent/election/election_int.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/harness.h"

#define MS 1000000ull
#define S (1000 * MS)
#define GW ELECTION_F_GATEWAY
#define ACT (ELECTION_F_GATEWAY | ELECTION_F_ACTIVE)
static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";

struct outbox {
	struct election_msg msg[64];
	unsigned n;
};

static void hook(void *ctx, const struct election_msg *m)
{
	struct outbox *o = ctx;

	if (o->n < 64)
		o->msg[o->n++] = *m;
}

static struct election *mk(const char *node, bool gw, struct outbox *o, uint64_t now)
{
	struct election_cfg c = {
		.cluster_id = "c1", .node = node, .gateway_capable = gw, .node_ip = 0x7f000001,
		.bcast = 0x7fffffff, .key = KEY, .key_len = 32,
	};
	struct election *e = election_open_nosock(&c, now);

	if (e)
		election_set_send_hook(e, hook, o);
	return e;
}

static void msg(struct election_msg *m, const char *node, uint8_t flags, uint64_t epoch,
		uint64_t seq, uint64_t boot)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->cluster_id, "c1");
	snprintf(m->node, sizeof(m->node), "%s", node);
	m->flags = flags;
	m->epoch = epoch;
	m->seq = seq;
	m->boot = boot;
}

/* Delivers what each has sent to the other, then ticks both. */
static void exchange(struct election *a, struct outbox *oa, struct election *b,
		     struct outbox *ob, uint64_t now)
{
	for (unsigned i = 0; i < oa->n; i++)
		election_input(b, &oa->msg[i], 0x7f000001, now);
	oa->n = 0;
	for (unsigned i = 0; i < ob->n; i++)
		election_input(a, &ob->msg[i], 0x7f000002, now);
	ob->n = 0;
	election_tick(a, now);
	election_tick(b, now);
}

static bool alive(struct election *e, const char *node)
{
	struct election_peer all[8];
	unsigned n = election_peers(e, all, 8);

	for (unsigned i = 1; i < n && i < 8; i++)
		if (!strcmp(all[i].node, node))
			return true;
	return false;
}

/* The finding: a recorded "restarting" heartbeat of a dead active gateway, replayed to a
 * node that started since, kept it following the dead one for 10 s per replay (19 s with
 * two). Now the node asks the sender for a proof, gets none, and claims after listening. */
static void test_replayed_restart_not_followed(void)
{
	struct outbox o = { 0 };
	struct election *b = mk("b", true, &o, 0);
	struct election_msg rec;
	struct election_drops d;
	struct election_peer p;
	uint64_t t;
	bool asked = false;

	REQUIRE(b);
	/* recorded from a's last start: it echoed the nonce of b's previous start */
	msg(&rec, "a", ACT | ELECTION_F_RESTART, 5, 1000, 0xa11ce);
	rec.n_echo = 1;
	rec.echo[0] = 0xb0b0b0b0;
	for (t = 0; t <= 20 * S; t += 100 * MS) {
		if (t == 100 * MS || t == 9 * S) {	/* two replays, the second one newer */
			rec.seq += 1000;
			election_input(b, &rec, 0x7f000009, t);
		}
		election_tick(b, t);
		for (unsigned i = 0; i < o.n; i++)
			for (unsigned k = 0; k < o.msg[i].n_ask; k++)
				asked |= o.msg[i].ask[k] == election_name_hash("a");
		o.n = 0;
		if (election_is_active(b))
			break;
	}
	CHECK(election_is_active(b));
	CHECK(t <= 700 * MS);		/* after its 600 ms of listening, not 10 or 19 s */
	CHECK(asked);			/* it asked a for a proof */
	CHECK(!alive(b, "a"));
	CHECK(election_active_peer(b, &p) == 0 && p.self);
	election_get_drops(b, &d);
	CHECK_EQ_INT(d.unproven, 1);
	election_close(b);
}

/* Two live nodes prove themselves to each other within a few heartbeats; a restart of one
 * is proven again; its previous start's heartbeats, even those that echoed the other's
 * current nonce, are recordings from then on. */
static void test_proof_and_restart(void)
{
	struct outbox oa = { 0 }, ob = { 0 };
	struct election *a = mk("a", true, &oa, 0), *b = mk("b", true, &ob, 0);
	struct election_msg old_a = { 0 };
	struct election_drops d;
	uint64_t t;

	REQUIRE(a && b);
	for (t = 0; t < 400 * MS && !(alive(a, "b") && alive(b, "a")); t += 10 * MS) {
		for (unsigned i = 0; i < oa.n; i++)
			if (oa.msg[i].n_echo)
				old_a = oa.msg[i];	/* a heartbeat of a that proves a to b */
		exchange(a, &oa, b, &ob, t);
	}
	CHECK(alive(a, "b") && alive(b, "a"));
	CHECK(t <= 250 * MS);		/* well inside the 600 ms of listening */
	for (; t < 1 * S; t += 10 * MS)
		exchange(a, &oa, b, &ob, t);
	CHECK(election_is_active(a) && !election_is_active(b));
	REQUIRE(old_a.boot == election_boot(a));
	/* a restarts (a new start, a new nonce) and b asks it again */
	election_close(a);
	oa.n = 0;
	a = mk("a", true, &oa, t);
	REQUIRE(a && election_boot(a) != old_a.boot);
	for (; t < 2 * S; t += 10 * MS)
		exchange(a, &oa, b, &ob, t);
	CHECK(alive(b, "a") && alive(a, "b"));
	/* the recording of a's previous start echoes b's current nonce: still refused */
	election_get_drops(b, &d);
	old_a.seq += 1000000;
	old_a.flags = ACT | ELECTION_F_RESTART;
	old_a.epoch = 9;
	election_input(b, &old_a, 0x7f000009, t);
	{
		struct election_drops d2;

		election_get_drops(b, &d2);
		CHECK_EQ_INT(d2.unproven, d.unproven + 1);
	}
	CHECK(election_epoch(b) < 9);
	election_close(a);
	election_close(b);
}

/* A heartbeat without a nonce (an old version, or a forger that has the key but cannot
 * echo) is never believed; an echo that is not ours proves nothing. */
static void test_no_nonce_no_proof(void)
{
	struct outbox o = { 0 };
	struct election *b = mk("b", false, &o, 0);
	struct election_msg m;
	struct election_drops d;

	REQUIRE(b);
	msg(&m, "a", ACT, 3, 10, 0);
	election_input(b, &m, 1, 10 * MS);
	msg(&m, "a", ACT, 3, 11, 0xa1);
	m.n_echo = 1;
	m.echo[0] = election_boot(b) ^ 1;
	election_input(b, &m, 1, 20 * MS);
	CHECK(!alive(b, "a"));
	election_get_drops(b, &d);
	CHECK_EQ_INT(d.unproven, 2);
	m.echo[0] = election_boot(b);
	m.seq = 12;
	election_input(b, &m, 1, 30 * MS);
	CHECK(alive(b, "a"));
	election_close(b);
}

/* Epochs: a liar announcing 2^63 cannot even be encoded or decoded; one announcing 2^52
 * (proven, right key) is refused by a node that knows the cluster's epoch, which keeps its
 * role and can still fail over; a jump within the bound is followed. */
static void test_epoch_bound(void)
{
	struct outbox o = { 0 }, ol = { 0 };
	struct election *b = mk("b", true, &o, 0), *liar;
	struct election_msg m;
	struct election_drops d;
	struct election_peer p;
	uint8_t buf[ELECTION_MSG_MAX];
	uint64_t t;
	int len;

	REQUIRE(b);
	for (t = 0; t <= 600 * MS; t += 100 * MS)
		election_tick(b, t);
	REQUIRE(election_is_active(b));
	CHECK_EQ_INT(election_set_min_epoch(b, 4), 0);
	CHECK_EQ_INT(election_epoch(b), 5);
	/* 2^63: not on the wire */
	msg(&m, "a0", ACT, 1ull << 63, 1, 0xa0);
	CHECK_EQ_INT(election_msg_encode(&m, KEY, 32, buf, sizeof(buf)), -EINVAL);
	m.epoch = ELECTION_EPOCH_MAX;
	len = election_msg_encode(&m, KEY, 32, buf, sizeof(buf));
	REQUIRE(len > 0);
	buf[8] = 0x80;	/* the epoch's first byte: 2^63 + ... */
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &m), -EINVAL);
	/* a real liar: a node with the key that proves itself and claims 2^52 */
	liar = mk("a0", true, &ol, t);
	REQUIRE(liar);
	election_force_claim(liar, 1ull << 52, t);
	for (uint64_t end = t + 1 * S; t < end; t += 10 * MS)
		exchange(liar, &ol, b, &o, t);
	CHECK(election_is_active(b));
	CHECK_EQ_INT(election_epoch(b), 5);
	CHECK(election_active_peer(b, &p) == 0 && p.self);
	election_get_drops(b, &d);
	CHECK(d.epoch_jump > 0);
	/* the liar goes; b is still the active one, and a later failover uses epoch 6 */
	election_close(liar);
	/* a jump within the bound is an honest catch-up: followed */
	liar = mk("a1", true, &ol, t);
	REQUIRE(liar);
	election_force_claim(liar, 5 + ELECTION_EPOCH_JUMP, t);
	for (uint64_t end = t + 1 * S; t < end; t += 10 * MS)
		exchange(liar, &ol, b, &o, t);
	CHECK(!election_is_active(b));
	CHECK(election_active_peer(b, &p) == 0 && !strcmp(p.node, "a1"));
	CHECK_EQ_INT(election_epoch(b), 5 + ELECTION_EPOCH_JUMP);
	election_close(liar);
	for (uint64_t end = t + 1 * S; t < end; t += 50 * MS)
		election_tick(b, t);
	CHECK(election_is_active(b));
	CHECK_EQ_INT(election_epoch(b), 6 + ELECTION_EPOCH_JUMP);
	/* the broker cannot push it to where nothing could follow either */
	CHECK_EQ_INT(election_set_min_epoch(b, ELECTION_EPOCH_MAX), -ERANGE);
	CHECK_EQ_INT(election_epoch(b), 6 + ELECTION_EPOCH_JUMP);
	election_close(b);
}

/* A node that starts knowing no epoch learns the cluster's while it listens, however
 * high (the lower median of what its proven peers announce); a liar among honest nodes
 * does not teach it; after that the bound applies. */
static void test_epoch_learnt_while_listening(void)
{
	struct outbox o = { 0 }, oa = { 0 }, ol = { 0 }, oc = { 0 };
	struct election *b = mk("b", true, &o, 0), *a = mk("a", true, &oa, 0);
	struct election *liar, *c;
	struct election_peer p;
	uint64_t t;

	REQUIRE(a && b);
	election_force_claim(a, 5000, 0);
	for (t = 0; t < 1 * S; t += 10 * MS)
		exchange(a, &oa, b, &o, t);
	CHECK(!election_is_active(b));
	CHECK(election_active_peer(b, &p) == 0 && !strcmp(p.node, "a") && p.epoch == 5000);
	CHECK_EQ_INT(election_epoch(b), 5000);
	election_close(b);
	/* c starts while a (honest, 5000) and a liar (2^52) are both up */
	liar = mk("l", true, &ol, t);
	c = mk("c", true, &oc, t);
	REQUIRE(liar && c);
	election_force_claim(liar, 1ull << 52, t);
	for (uint64_t end = t + 2 * S; t < end; t += 10 * MS) {
		/* a broadcast network of three: everyone hears everyone (what they send
		 * while hearing goes out in the next round) */
		struct outbox sa = oa, sl = ol, sc = oc;

		oa.n = ol.n = oc.n = 0;
		for (unsigned i = 0; i < sa.n; i++) {
			election_input(c, &sa.msg[i], 1, t);
			election_input(liar, &sa.msg[i], 1, t);
		}
		for (unsigned i = 0; i < sl.n; i++) {
			election_input(c, &sl.msg[i], 2, t);
			election_input(a, &sl.msg[i], 2, t);
		}
		for (unsigned i = 0; i < sc.n; i++) {
			election_input(a, &sc.msg[i], 3, t);
			election_input(liar, &sc.msg[i], 3, t);
		}
		election_tick(a, t);
		election_tick(liar, t);
		election_tick(c, t);
	}
	CHECK(!election_is_active(c));
	CHECK(election_active_peer(c, &p) == 0 && !strcmp(p.node, "a"));
	CHECK_EQ_INT(election_epoch(c), 5000);
	CHECK(election_is_active(a));	/* a knew its epoch: the liar never moved it */
	CHECK_EQ_INT(election_epoch(a), 5000);
	election_close(liar);
	election_close(c);
	election_close(a);
}

static void test_codec(void)
{
	struct election_msg m, d;
	uint8_t buf[ELECTION_MSG_MAX];
	int len;

	msg(&m, "n1", GW, 7, 9, 0x0123456789abcdefull);
	m.n_ask = 2;
	m.ask[0] = election_name_hash("n2");
	m.ask[1] = 0xffffffff;
	m.n_echo = ELECTION_MAX_ECHO;
	for (unsigned i = 0; i < ELECTION_MAX_ECHO; i++)
		m.echo[i] = 1000 + i;
	len = election_msg_encode(&m, KEY, 32, buf, sizeof(buf));
	REQUIRE(len > 0);
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), 0);
	CHECK(d.boot == m.boot && d.n_ask == 2 && d.ask[1] == 0xffffffff);
	CHECK(d.n_echo == ELECTION_MAX_ECHO && d.echo[ELECTION_MAX_ECHO - 1] == 1000 + ELECTION_MAX_ECHO - 1);
	/* the largest heartbeat still fits */
	memset(m.node, 'n', ELECTION_NAME_MAX);
	m.node[ELECTION_NAME_MAX] = '\0';
	memset(m.cluster_id, 'c', ELECTION_ID_MAX);
	m.cluster_id[ELECTION_ID_MAX] = '\0';
	m.adv.n_routes = ELECTION_MAX_ROUTES;
	for (unsigned i = 0; i < ELECTION_MAX_ROUTES; i++) {
		m.adv.route_net[i] = 0x0a000000 + (i << 16);
		m.adv.route_prefix[i] = 16;
	}
	m.adv.tunnel_mtu = 1400;
	m.n_ask = ELECTION_MAX_ASK;
	CHECK(election_msg_encode(&m, KEY, 32, buf, sizeof(buf)) > 0);
	m.n_ask = ELECTION_MAX_ASK + 1;
	CHECK_EQ_INT(election_msg_encode(&m, KEY, 32, buf, sizeof(buf)), -EINVAL);
	/* a zero nonce on the wire is malformed */
	msg(&m, "n1", GW, 7, 9, 1);
	len = election_msg_encode(&m, KEY, 32, buf, sizeof(buf));
	REQUIRE(len > 0);
	for (int i = 0; i < len - 8; i++)
		if (buf[i] == 3 && buf[i + 1] == 0 && buf[i + 2] == 8) {
			buf[i + 10] = 0;	/* the nonce's last byte: 1 -> 0 */
			break;
		}
	CHECK_EQ_INT(election_msg_decode(buf, (size_t)len, &d), -EINVAL);
}

int main(void)
{
	log_set_level(getenv("V") ? LOG_LVL_DEBUG : LOG_LVL_ERR);
	RUN(test_codec);
	RUN(test_replayed_restart_not_followed);
	RUN(test_proof_and_restart);
	RUN(test_no_nonce_no_proof);
	RUN(test_epoch_bound);
	RUN(test_epoch_learnt_while_listening);
	return harness_done();
}
