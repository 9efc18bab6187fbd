/* Unit tests for diagnose's pieces (agent/diag/): the firewall walker on hand-made rulesets
 * and on what a real nft prints in a private network namespace, the HTTP head reader, the
 * ICMP echo reply check, and the path MTU bisection against a loopback whose MTU is set. */
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/diag/diag_broker.h"
#include "agent/diag/diag_fw.h"
#include "agent/diag/diag_net.h"
#include "common/run.h"
#include "tests/unit/harness.h"

static int netns_ready;

/* A private netns with lo up (and its MTU set when mtu > 0). */
static int private_netns(int mtu)
{
	struct ifreq ifr = { 0 };
	int s;

	if (!netns_ready && unshare(CLONE_NEWNET))
		return -1;
	netns_ready = 1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(s, SIOCSIFFLAGS, &ifr);
	if (mtu > 0) {
		ifr.ifr_mtu = mtu;
		ioctl(s, SIOCSIFMTU, &ifr);
	}
	close(s);
	return 0;
}

/* A ruleset with one table "t" holding chain "in" (input, policy) and extra JSON items. */
static cJSON *ruleset(const char *policy, const char *items)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"nftables\":[{\"metainfo\":{}},"
		 "{\"chain\":{\"family\":\"inet\",\"table\":\"t\",\"name\":\"in\",\"handle\":1,"
		 "\"type\":\"filter\",\"hook\":\"input\",\"prio\":0,\"policy\":\"%s\"}}%s%s]}",
		 policy, *items ? "," : "", items);
	return cJSON_Parse(buf);
}

#define RULE(handle, chain, exprs) \
	"{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":\"" chain "\",\"handle\":" \
	#handle ",\"expr\":[" exprs "]}}"
#define DPORT(op, right) \
	"{\"match\":{\"op\":\"" op "\",\"left\":{\"payload\":{\"protocol\":\"udp\",\"field\":\"dport\"}}," \
	"\"right\":" right "}}"
#define SADDR "{\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"ip\",\"field\":\"saddr\"}},\"right\":\"192.0.2.1\"}}"

static int verdict(const char *policy, const char *items, uint16_t port, char *why)
{
	cJSON *rs = ruleset(policy, items);
	int v;

	if (!rs)
		return -1;
	v = diag_fw_port(rs, port, why, 300);
	cJSON_Delete(rs);
	return v;
}

static void test_fw_rules(void)
{
	char why[300];

	CHECK_EQ_INT(verdict("accept", "", 4500, why), DIAG_FW_OPEN);
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", DPORT("==", "4500") ",{\"drop\":null}"), 4500, why),
		     DIAG_FW_DROPPED);
	CHECK(strstr(why, "table inet t, chain in, rule handle 2 drops udp dport 4500") != NULL);
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", DPORT("==", "4500") ",{\"drop\":null}"), 500, why),
		     DIAG_FW_OPEN);
	/* sets, ranges, negation, reject */
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", DPORT("==", "{\"set\":[500,4500]}") ",{\"reject\":null}"),
			     500, why), DIAG_FW_DROPPED);
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", DPORT("==", "{\"range\":[4000,5000]}") ",{\"drop\":null}"),
			     4500, why), DIAG_FW_DROPPED);
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", DPORT("!=", "4500") ",{\"drop\":null}"), 4500, why),
		     DIAG_FW_OPEN);
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", DPORT("!=", "53") ",{\"drop\":null}"), 4500, why),
		     DIAG_FW_DROPPED);
	/* a TCP rule never drops UDP; a source address makes it a maybe */
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", "{\"match\":{\"op\":\"==\",\"left\":{\"payload\":"
			     "{\"protocol\":\"tcp\",\"field\":\"dport\"}},\"right\":4500}},{\"drop\":null}"),
			     4500, why), DIAG_FW_OPEN);
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", SADDR "," DPORT("==", "4500") ",{\"drop\":null}"),
			     4500, why), DIAG_FW_MAYBE);
	CHECK(strstr(why, "under conditions") != NULL);
	/* policy drop: open only with an accept first */
	CHECK_EQ_INT(verdict("drop", "", 4500, why), DIAG_FW_DROPPED);
	CHECK(strstr(why, "policy drop") != NULL);
	CHECK_EQ_INT(verdict("drop", RULE(2, "in", DPORT("==", "{\"set\":[500,4500]}") ",{\"accept\":null}"),
			     4500, why), DIAG_FW_OPEN);
	/* conntrack's established accept does not let a new IKE exchange in */
	CHECK_EQ_INT(verdict("drop", RULE(2, "in", "{\"match\":{\"op\":\"in\",\"left\":{\"ct\":{\"key\":"
			     "\"state\"}},\"right\":[\"established\",\"related\"]}},{\"accept\":null}"),
			     4500, why), DIAG_FW_DROPPED);
	/* a jump into a chain that drops, a named set */
	CHECK_EQ_INT(verdict("accept",
			     RULE(2, "in", "{\"jump\":{\"target\":\"x\"}}") ","
			     "{\"chain\":{\"family\":\"inet\",\"table\":\"t\",\"name\":\"x\",\"handle\":3}},"
			     RULE(4, "x", DPORT("==", "\"@ports\"") ",{\"drop\":null}") ","
			     "{\"set\":{\"family\":\"inet\",\"table\":\"t\",\"name\":\"ports\",\"type\":"
			     "\"inet_service\",\"elem\":[4500]}}", 4500, why), DIAG_FW_DROPPED);
	CHECK(strstr(why, "chain x, rule handle 4") != NULL);
	/* a chain that jumps to itself ends */
	CHECK_EQ_INT(verdict("accept", RULE(2, "in", "{\"jump\":{\"target\":\"in\"}}") "," RULE(3, "in",
			     "{\"jump\":{\"target\":\"in\"}}"), 4500, why), DIAG_FW_OPEN);
}

/* What a real nft prints for rules made in a private netns. */
static void test_fw_real_nft(void)
{
	char *argv_list[] = { "nft", "-j", "list", "ruleset", NULL };
	char *argv_file[] = { "nft", "-f", "/tmp/sa-test-diag.nft", NULL };
	char *argv_del[] = { "nft", "delete", "table", "inet", "fw", NULL };
	char why[300], *out = NULL;
	size_t len;
	cJSON *rs;
	FILE *f;

	if (geteuid() || private_netns(0))
		SKIP_TEST("needs root for a private netns");
	f = fopen("/tmp/sa-test-diag.nft", "w");
	REQUIRE(f);
	fprintf(f, "table inet fw {\n set ike { type inet_service; elements = { 500, 4500 } }\n"
		   " chain in { type filter hook input priority 0; policy drop;\n"
		   "  ct state established,related accept\n  udp dport 4801 accept\n"
		   "  iifname \"eth0\" udp dport @ike drop\n  udp dport { 4790-4791 } accept\n }\n}\n");
	fclose(f);
	if (run_capture(argv_file, RUN_F_STDERR, 4096, 5000, &out, &len)) {
		fprintf(stderr, "nft: %s\n", out ? out : "");
		free(out);
		unlink("/tmp/sa-test-diag.nft");
		SKIP_TEST("nft does not run here");
	}
	free(out);
	unlink("/tmp/sa-test-diag.nft");
	REQUIRE(run_capture(argv_list, 0, 1 << 20, 5000, &out, &len) == 0);
	rs = cJSON_Parse(out);
	free(out);
	REQUIRE(rs);
	CHECK_EQ_INT(diag_fw_port(rs, 4500, why, sizeof(why)), DIAG_FW_DROPPED);
	CHECK(strstr(why, "table inet fw, chain in, rule handle") && strstr(why, "drops udp dport 4500"));
	CHECK_EQ_INT(diag_fw_port(rs, 500, why, sizeof(why)), DIAG_FW_DROPPED);
	CHECK_EQ_INT(diag_fw_port(rs, 4801, why, sizeof(why)), DIAG_FW_OPEN);
	CHECK_EQ_INT(diag_fw_port(rs, 4791, why, sizeof(why)), DIAG_FW_OPEN);
	CHECK_EQ_INT(diag_fw_port(rs, 53, why, sizeof(why)), DIAG_FW_DROPPED);
	CHECK(strstr(why, "policy drop") != NULL);
	cJSON_Delete(rs);
	CHECK(run_capture(argv_del, 0, 4096, 5000, &out, &len) == 0);	/* the netns is shared */
	free(out);
}

static void test_http_head(void)
{
	const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			  "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nok";
	time_t d;
	int code;

	CHECK(diag_http_head(ok, strlen(ok), &code, &d) == 0);
	CHECK_EQ_INT(code, 200);
	CHECK_EQ_INT(d, 784111777);
	CHECK(diag_http_head("HTTP/1.1 503 x\r\n\r\n", 18, &code, &d) == 0 && code == 503 && d == 0);
	CHECK(diag_http_head("HTTP/1.1 200 OK\r\n", 17, &code, &d) == -EBADMSG);	/* no end */
	CHECK(diag_http_head("SSH-2.0-x\r\n\r\n", 13, &code, &d) == -EBADMSG);
	CHECK(diag_http_head("HTTP/1.1 2x0 OK\r\n\r\n", 19, &code, &d) == -EBADMSG);
	CHECK(diag_http_head("HTTP/1.1 200 OK\r\nDate: garbage\r\n\r\n", 34, &code, &d) == 0 && d == 0);
}

static void test_echo_reply(void)
{
	uint8_t p[128] = { 0x45 };

	/* 20-byte IP header, then ICMP echo reply id 0x1234 seq 7 */
	p[20] = 0;
	p[24] = 0x12;
	p[25] = 0x34;
	p[27] = 7;
	CHECK(diag_echo_reply_ok(p, 100, 0x1234, 7, 100));
	CHECK(!diag_echo_reply_ok(p, 90, 0x1234, 7, 100));	/* came back shorter */
	CHECK(!diag_echo_reply_ok(p, 100, 0x1234, 8, 100));
	CHECK(!diag_echo_reply_ok(p, 100, 0x4321, 7, 100));
	p[20] = 8;						/* an echo request */
	CHECK(!diag_echo_reply_ok(p, 100, 0x1234, 7, 100));
	p[20] = 0;
	p[0] = 0x4f;						/* 60-byte header */
	CHECK(!diag_echo_reply_ok(p, 62, 0x1234, 7, 62));
	CHECK(!diag_echo_reply_ok(p, 10, 0x1234, 7, 10));
}

static void test_pmtu_loopback(void)
{
	int mtu = 0;

	if (geteuid() || private_netns(1300))
		SKIP_TEST("needs root for a private netns and raw sockets");
	CHECK(diag_pmtu(0x7f000001, 576, 1500, 200, &mtu) == 0);
	CHECK_EQ_INT(mtu, 1300);
	CHECK(diag_pmtu(0x7f000001, 576, 1200, 200, &mtu) == 0);
	CHECK_EQ_INT(mtu, 1200);
	/* nobody answers 192.0.2.1 (no route): not even the smallest */
	CHECK(diag_pmtu(0xc0000201, 576, 1500, 100, &mtu) < 0);
	private_netns(65536);
}

int main(void)
{
	RUN(test_fw_rules);
	RUN(test_http_head);
	RUN(test_echo_reply);
	RUN(test_fw_real_nft);
	RUN(test_pmtu_loopback);
	return harness_done();
}
