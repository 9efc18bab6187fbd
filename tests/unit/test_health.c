/* Health checker against the real kernel: ICMP echo on loopback in a private network
 * namespace; a target nobody answers turns to error after 5 lost probes and back. */
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/engine/health.h"
#include "common/util.h"
#include "tests/unit/harness.h"

#define MS 1000000ull

static int netns_ready;

static int private_netns(void)
{
	struct ifreq ifr = { 0 };
	int s;

	if (netns_ready)
		return 0;
	if (unshare(CLONE_NEWNET))
		return -1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	netns_ready = 1;
	return 0;
}

/* Runs the checker for ms milliseconds. */
static void run_for(struct health *h, unsigned ms)
{
	uint64_t end = util_now_ns() + ms * MS;

	for (;;) {
		uint64_t now = util_now_ns(), wait;
		struct pollfd p = { .fd = health_fd(h), .events = POLLIN };

		if (now >= end)
			return;
		wait = health_tick(h, now);
		if (wait > end - now)
			wait = end - now;
		if (poll(&p, 1, (int)(wait / MS) + 1) > 0)
			health_on_readable(h, util_now_ns());
	}
}

static void test_loopback_connected(void)
{
	struct health_stats st;
	struct health *h;

	if (geteuid() || private_netns())
		SKIP_TEST("needs root for a raw socket in a private netns");
	h = health_new(20 * MS);
	REQUIRE(h != NULL);
	CHECK(health_set_target(h, "c2", 0x7f000001, 0x7f000001) == 0);
	CHECK(health_get(h, "c2", &st) == 0 && st.status == HEALTH_CONNECTING);
	run_for(h, 300);
	REQUIRE(health_get(h, "c2", &st) == 0);
	CHECK_EQ_INT(st.status, HEALTH_CONNECTED);
	CHECK(st.received >= 5);
	CHECK(health_take_changed(h));		/* connecting -> connected, said once */
	CHECK(!health_take_changed(h));
	CHECK(st.min_ns > 0 && st.min_ns <= st.avg_ns && st.avg_ns <= st.max_ns);
	CHECK(st.last_ns > 0 && st.last_ns < 100 * MS);
	CHECK(health_get(h, "nope", &st) == -ENOENT);
	health_free(h);
}

static void test_lost_probes_error_then_recover(void)
{
	struct health_stats st;
	struct health *h;

	if (geteuid() || private_netns())
		SKIP_TEST("needs root for a raw socket in a private netns");
	h = health_new(20 * MS);
	REQUIRE(h != NULL);
	/* 127.0.0.1 sends to 192.0.2.1 (TEST-NET-1): no route in this netns, never answered */
	CHECK(health_set_target(h, "c3", 0x7f000001, 0xc0000201) == 0);
	run_for(h, 90);	/* about 4 probes: not yet error */
	REQUIRE(health_get(h, "c3", &st) == 0);
	CHECK(st.status == HEALTH_CONNECTING);
	CHECK(!health_take_changed(h));
	run_for(h, 200);
	REQUIRE(health_get(h, "c3", &st) == 0);
	CHECK_EQ_INT(st.status, HEALTH_ERROR);
	CHECK(health_take_changed(h));
	CHECK(st.lost_in_row >= HEALTH_LOSS_LIMIT);
	CHECK_EQ_INT(st.received, 0);
	/* The remote comes back (same cluster, reachable address): connected again. */
	CHECK(health_set_target(h, "c3", 0x7f000001, 0x7f000001) == 0);
	run_for(h, 200);
	REQUIRE(health_get(h, "c3", &st) == 0);
	CHECK_EQ_INT(st.status, HEALTH_CONNECTED);
	CHECK(health_take_changed(h));
	health_remove(h, "c3");
	CHECK(health_get(h, "c3", &st) == -ENOENT);
	health_free(h);
}

/* health_kick(): the next tick probes at once instead of after the interval. */
static void test_kick(void)
{
	struct health_stats st;
	struct health *h;

	if (geteuid() || private_netns())
		SKIP_TEST("needs root for a raw socket in a private netns");
	h = health_new(10000 * MS);	/* one probe per 10 s */
	REQUIRE(h != NULL);
	CHECK(health_set_target(h, "c2", 0x7f000001, 0x7f000001) == 0);
	run_for(h, 100);
	REQUIRE(health_get(h, "c2", &st) == 0);
	CHECK_EQ_INT(st.sent, 1);
	run_for(h, 100);
	REQUIRE(health_get(h, "c2", &st) == 0);
	CHECK_EQ_INT(st.sent, 1);
	health_kick(h, "c2");
	health_kick(h, "unknown");
	run_for(h, 100);
	REQUIRE(health_get(h, "c2", &st) == 0);
	CHECK_EQ_INT(st.sent, 2);
	CHECK_EQ_INT(st.received, 2);
	health_free(h);
}

static void test_parse_reply(void)
{
	uint8_t pkt[64] = { 0x45 };
	uint16_t id, seq;
	uint64_t ts;

	CHECK(health_parse_reply(pkt, 10, &id, &seq, &ts) == -EINVAL);
	CHECK(health_parse_reply(pkt, sizeof(pkt), &id, &seq, &ts) == -EINVAL); /* no magic */
	pkt[0] = 0x4f;	/* ihl 60 bytes: no room for ICMP */
	CHECK(health_parse_reply(pkt, sizeof(pkt), &id, &seq, &ts) == -EINVAL);
	pkt[0] = 0x65;
	CHECK(health_parse_reply(pkt, sizeof(pkt), &id, &seq, &ts) == -EINVAL);
}

int main(void)
{
	RUN(test_parse_reply);
	RUN(test_loopback_connected);
	RUN(test_lost_probes_error_then_recover);
	RUN(test_kick);
	return harness_done();
}
