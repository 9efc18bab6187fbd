/* Probes and the echo responder on loopback in a private network namespace. */
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/engine/probe.h"
#include "tests/unit/harness.h"

static void test_probes(void)
{
	struct responder *r;
	uint64_t rtt = 0;

	if (geteuid())
		SKIP_TEST("needs root");
	REQUIRE(unshare(CLONE_NEWNET) == 0);
	REQUIRE(system("ip link set lo up") == 0);
	r = responder_start(0x7f000001, PROBE_PORT);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(probe_icmp(0x7f000001, 56, 1000, &rtt), 0);
	CHECK(rtt > 0);
	CHECK_EQ_INT(probe_icmp(0x7f000001, 3000, 1000, &rtt), 0);
	CHECK_EQ_INT(probe_tcp(0x7f000001, PROBE_PORT, 3000, 2000, &rtt), 0);
	CHECK_EQ_INT(probe_tcp(0x7f000001, PROBE_PORT, 200000, 3000, &rtt), 0);
	CHECK_EQ_INT(probe_udp(0x7f000001, PROBE_PORT, 3000, 2000, &rtt), 0);
	CHECK_EQ_INT(probe_udp(0x7f000001, PROBE_PORT, 20, 2000, &rtt), 0);
	CHECK_EQ_INT(probe_tcp(0x7f000001, PROBE_PORT + 1, 10, 1000, &rtt), -ECONNREFUSED);
	CHECK_EQ_INT(probe_udp(0x7f000001, PROBE_PORT + 1, 10, 600, &rtt), -ETIMEDOUT);
	/* 192.0.2.1 has no route here: fails at once, never hangs */
	CHECK(probe_icmp(0xc0000201, 56, 300, &rtt) < 0);
	CHECK(probe_tcp(0xc0000201, PROBE_PORT, 10, 300, &rtt) < 0);
	responder_stop(r);
	CHECK_EQ_INT(probe_tcp(0x7f000001, PROBE_PORT, 10, 500, &rtt), -ECONNREFUSED);
}

int main(void)
{
	RUN(test_probes);
	return harness_done();
}
