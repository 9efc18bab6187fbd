/* agent/routing/routes.c against the real kernel, in a private network namespace (veth devices: no dummy module here): what is
 * wanted is installed, what is deleted or changed by hand is put back by routes_sync(),
 * what nobody wants is removed, a route whose device is missing is retried until the
 * device exists (and reported meanwhile), blackhole routes, and the last user leaves the
 * tables empty. Read
 * back with iproute2, the way an operator would check them. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/routing/routes.h"
#include "common/retry.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static int sh_out(const char *cmd, char *buf, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	return pclose(f);
}

static int sh_has(const char *cmd, const char *needle)
{
	char buf[8192];

	if (sh_out(cmd, buf, sizeof(buf)) < 0)
		return 0;
	return strstr(buf, needle) != NULL;
}

static int sh_empty(const char *cmd)
{
	char buf[8192];

	if (sh_out(cmd, buf, sizeof(buf)) < 0)
		return 0;
	if (buf[0])
		fprintf(stderr, "  '%s' is not empty:\n%s", cmd, buf);
	return buf[0] == '\0';
}

static struct cidr4 cidr(const char *s)
{
	struct cidr4 c = { 0 };

	(void)!cidr4_parse(s, &c);
	return c;
}

static void test_converge(void)
{
	struct cidr4 a = cidr("10.2.0.0/16"), b = cidr("10.3.0.0/16"), ret = cidr("10.1.2.0/24");
	uint64_t now = util_now_ns();
	cJSON *rep;

	if (geteuid())
		SKIP_TEST("needs root");
	REQUIRE(unshare(CLONE_NEWNET) == 0);
	REQUIRE(system("ip link set lo up && ip link add dummy0 type veth peer name dummy0p && "
		       "ip link set dummy0p up && "
		       "ip link set dummy0 up && ip addr add 10.1.1.1/24 dev dummy0") == 0);
	REQUIRE(routes_init() == 0);
	CHECK(sh_has("ip rule show", "150:\tfrom all lookup 150"));
	CHECK_EQ_INT(routes_add(&a, 0, "dummy0", 0x0a010101, 1400), 0);
	CHECK_EQ_INT(routes_add_table(SA_RETURN_TABLE, &ret, 0x0a010102, "dummy0", 0, 1450), 0);
	CHECK_EQ_INT(routes_rule_add(SA_RETURN_PRIO, SA_RETURN_TABLE, &b), 0);
	CHECK(sh_has("ip route show table 150", "10.2.0.0/16 dev dummy0"));
	CHECK(sh_has("ip route show table 151", "10.1.2.0/24 via 10.1.1.2 dev dummy0"));
	CHECK(sh_has("ip rule show", "149:\tfrom 10.3.0.0/16 lookup 151"));
	/* converged: a sync changes nothing */
	CHECK_EQ_INT(routes_sync(now), 0);

	/* deleted by hand, changed by hand, a stray route and a stray rule */
	REQUIRE(system("ip route del 10.2.0.0/16 table 150") == 0);
	REQUIRE(system("ip route replace 10.1.2.0/24 via 10.1.1.2 dev dummy0 onlink table 151 mtu 1300") == 0);
	REQUIRE(system("ip route add 10.99.0.0/16 dev dummy0 table 150") == 0);
	REQUIRE(system("ip rule del prio 150 lookup 150 && ip rule add prio 149 from 10.98.0.0/16 lookup 151") == 0);
	CHECK_EQ_INT(routes_sync(now), 5);
	CHECK(sh_has("ip route show table 150", "10.2.0.0/16 dev dummy0"));
	CHECK(sh_has("ip route show table 151", "mtu 1450"));
	CHECK(!sh_has("ip route show table 150", "10.99.0.0"));
	CHECK(sh_has("ip rule show", "150:\tfrom all lookup 150"));
	CHECK(!sh_has("ip rule show", "10.98.0.0"));
	CHECK_EQ_INT(routes_sync(now), 0);

	/* a route through a device that does not exist yet: reported, retried, installed */
	CHECK(routes_add(&b, 0, "later0", 0, 0) < 0);
	now = util_now_ns();
	CHECK_EQ_INT(routes_sync(now), 0);	/* still missing (or not due: backoff) */
	rep = cJSON_CreateArray();
	routes_report(rep, now);
	CHECK_EQ_INT(cJSON_GetArraySize(rep), 1);
	{
		char *txt = cJSON_PrintUnformatted(rep);

		CHECK(txt && strstr(txt, "10.3.0.0/16 dev later0") != NULL);
		free(txt);
	}
	cJSON_Delete(rep);
	REQUIRE(system("ip link add later0 type veth peer name later0p && ip link set later0p up && ip link set later0 up") == 0);
	now = util_now_ns() + RETRY_MAX_NS;	/* whatever the backoff, it is due */
	CHECK_EQ_INT(routes_sync(now), 1);
	CHECK(sh_has("ip route show table 150", "10.3.0.0/16 dev later0"));
	rep = cJSON_CreateArray();
	routes_report(rep, now);
	CHECK_EQ_INT(cJSON_GetArraySize(rep), 0);
	cJSON_Delete(rep);

	/* a route wanted on another device since stays when the old owner lets go */
	CHECK_EQ_INT(routes_add(&a, 0, "later0", 0, 0), 0);
	routes_del(&a, "dummy0");
	CHECK(sh_has("ip route show table 150", "10.2.0.0/16 dev later0"));
	routes_del(&a, "later0");
	CHECK(!sh_has("ip route show table 150", "10.2.0.0/16"));

	/* a blackhole (the ipsec cable's peer without an SA): installed, a device route put in
	 * its place by hand is turned back into the blackhole, then replaced by the device
	 * route when that is wanted, and removed by the blackhole's delete only */
	CHECK_EQ_INT(routes_add(&a, 0, NULL, 0x0a010101, 1400), 0);
	CHECK(sh_has("ip route show table 150", "blackhole 10.2.0.0/16"));
	CHECK_EQ_INT(routes_sync(now), 0);
	REQUIRE(system("ip route replace 10.2.0.0/16 dev dummy0 table 150") == 0);
	CHECK_EQ_INT(routes_sync(now), 1);
	CHECK(sh_has("ip route show table 150", "blackhole 10.2.0.0/16"));
	CHECK_EQ_INT(routes_add(&a, 0, "dummy0", 0, 0), 0);
	CHECK(sh_has("ip route show table 150", "10.2.0.0/16 dev dummy0"));
	CHECK_EQ_INT(routes_sync(now), 0);
	routes_del(&a, NULL);		/* not the blackhole any more: stays */
	CHECK(sh_has("ip route show table 150", "10.2.0.0/16 dev dummy0"));
	CHECK_EQ_INT(routes_add(&a, 0, NULL, 0, 0), 0);
	routes_del(&a, "dummy0");	/* the blackhole stays */
	CHECK(sh_has("ip route show table 150", "blackhole 10.2.0.0/16"));
	routes_del(&a, NULL);
	CHECK(!sh_has("ip route show table 150", "10.2.0.0/16"));
	CHECK_EQ_INT(routes_sync(now), 0);

	/* two users; the last one leaves nothing, wanted or not */
	REQUIRE(routes_init() == 0);
	routes_fini();
	CHECK(sh_has("ip rule show", "150:\tfrom all lookup 150"));
	REQUIRE(system("ip route add 10.97.0.0/16 dev dummy0 table 151") == 0);
	routes_fini();
	CHECK(sh_empty("ip route show table 150"));
	CHECK(sh_empty("ip route show table 151"));
	CHECK(sh_empty("ip rule show | grep -E 'lookup (150|151)'"));
}

int main(void)
{
	RUN(test_converge);
	return harness_done();
}
