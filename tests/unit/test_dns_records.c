/* Unit tests of the DNS server's answer logic (agent/dns/dns_records.h): which clusters
 * answer (local first, weighted round robin, tunnel health, readiness), cluster-qualified,
 * headless and SRV names, negative answers, globalnet translation, import updates. */
#include <stdarg.h>

#include "agent/dns/dns_records.h"
#include "common/cidr.h"
#include "harness.h"

static struct dns_answer ans;
static const char *zones[] = { "clusterset.local", "mesh.example" };

static struct dns_records *db_new(bool globalnet)
{
	struct dns_records *db = dns_records_new("c1", globalnet, 5, zones, 2);

	if (!db)
		abort();
	return db;
}

/* feed: a JSON text, formatted */
__attribute__((format(printf, 3, 4)))
static int feed(struct dns_records *db, int what, const char *fmt, ...)
{
	char buf[8192], err[256] = "";
	va_list ap;
	cJSON *o;
	int rc = 0;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o = cJSON_Parse(buf);
	if (!o) {
		fprintf(stderr, "  bad test JSON: %s\n", buf);
		abort();
	}
	if (what == 0)
		rc = dns_records_import(db, o, false, err, sizeof(err));
	else if (what == 1)
		dns_records_gateway(db, o, false);
	else if (what == 2)
		dns_records_global_ip(db, o, false);
	else
		rc = dns_records_import(db, o, true, err, sizeof(err));
	if (rc)
		fprintf(stderr, "  import refused: %s\n", err);
	cJSON_Delete(o);
	return rc;
}

/* A ClusterSetIP import: "c2:10.102.0.10:W:R,..." (cluster, ip, weight, ready 1/0). */
static int import_ip(struct dns_records *db, const char *name, const char *spec)
{
	char clusters[4096] = "", c[64], ip[16];
	unsigned w, r;
	size_t off = 0;

	for (const char *p = spec; p && *p;) {
		if (sscanf(p, "%63[^:]:%15[^:]:%u:%u", c, ip, &w, &r) != 4)
			abort();
		off += (size_t)snprintf(clusters + off, sizeof(clusters) - off,
			"%s{\"cluster\":\"%s\",\"ips\":[\"%s\"],\"weight\":%u,"
			"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":%u},"
			"{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53}],"
			"\"endpoints\":[{\"hostname\":\"%s-p1\",\"addresses\":[\"10.9.9.9\"],\"ready\":%s}]}",
			off ? "," : "", c, ip, w, 8000 + (unsigned)c[1] - '0', c, r ? "true" : "false");
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return feed(db, 0, "{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"%s.default\"},"
		    "\"spec\":{\"name\":\"%s\",\"namespace\":\"default\",\"type\":\"ClusterSetIP\","
		    "\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080},"
		    "{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53}]},"
		    "\"status\":{\"clusters\":[%s]}}", name, name, clusters);
}

/* This cluster's active gateway reports "c2:connected,c3:error". */
static void gateway(struct dns_records *db, const char *host, unsigned epoch, const char *conns)
{
	char arr[2048] = "", c[64], st[32];
	size_t off = 0;

	for (const char *p = conns; p && *p;) {
		if (sscanf(p, "%63[^:]:%31[^,]", c, st) != 2)
			abort();
		off += (size_t)snprintf(arr + off, sizeof(arr) - off, "%s{\"cluster\":\"%s\",\"status\":\"%s\"}",
					off ? "," : "", c, st);
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	feed(db, 1, "{\"metadata\":{\"name\":\"c1-%s\"},\"spec\":{\"clusterID\":\"c1\",\"hostname\":\"%s\","
	     "\"haStatus\":\"active\",\"epoch\":%u,\"updatedUnix\":100,\"connections\":[%s]}}",
	     host, host, epoch, arr);
}

static void ask(struct dns_records *db, const char *name, uint16_t type)
{
	dns_records_answer(db, name, type, &ans);
}

/* The answer's A records as "a,b,c". */
static const char *a_list(void)
{
	static char buf[1024];
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < ans.n_an && off < sizeof(buf) - 20; i++) {
		char ip[16];

		if (ans.an[i].type != DNS_T_A)
			continue;
		ip4_format(ans.an[i].a, ip);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", off ? "," : "", ip);
	}
	return buf;
}

static const char *ask_a(struct dns_records *db, const char *name)
{
	ask(db, name, DNS_T_A);
	return a_list();
}

#define SVC "echo.default.svc.clusterset.local"

static void test_remote_round_robin(void)
{
	struct dns_records *db = db_new(false);
	int c2 = 0, c3 = 0;

	REQUIRE(import_ip(db, "echo", "c2:10.102.0.10:1:1,c3:10.103.0.10:1:1") == 0);
	for (int i = 0; i < 10; i++) {
		const char *a = ask_a(db, SVC);

		CHECK_EQ_INT(ans.rcode, DNS_RC_NOERROR);
		CHECK(ans.authoritative);
		c2 += !strcmp(a, "10.102.0.10");
		c3 += !strcmp(a, "10.103.0.10");
	}
	CHECK_EQ_INT(c2, 5);
	CHECK_EQ_INT(c3, 5);
	/* alternating, not 5 then 5 */
	{
		char first[64];

		snprintf(first, sizeof(first), "%s", ask_a(db, SVC));
		CHECK(strcmp(first, ask_a(db, SVC)));
	}
	/* the second zone answers the same names */
	CHECK(*ask_a(db, "echo.default.svc.mesh.example"));
	dns_records_free(db);
}

static void test_weighted(void)
{
	struct dns_records *db = db_new(false);
	char seq[9] = "";
	int c2 = 0;

	REQUIRE(import_ip(db, "echo", "c2:10.102.0.10:3:1,c3:10.103.0.10:1:1,c4:10.104.0.10:0:1") == 0);
	for (int i = 0; i < 8; i++) {
		const char *a = ask_a(db, SVC);

		seq[i] = !strcmp(a, "10.102.0.10") ? '2' : !strcmp(a, "10.103.0.10") ? '3' : '?';
		c2 += seq[i] == '2';
	}
	CHECK_EQ_INT(c2, 6);
	/* smooth: c3 comes once in every four, not twice in a row */
	CHECK(!strstr(seq, "33") && !strchr(seq, '?'));
	/* weight 0: never in the round robin, but its own name answers */
	CHECK_STR(ask_a(db, "c4." SVC), "10.104.0.10");
	dns_records_free(db);
}

static void test_local_first(void)
{
	struct dns_records *db = db_new(false);

	REQUIRE(import_ip(db, "echo", "c1:10.101.0.10:1:1,c2:10.102.0.10:5:1") == 0);
	for (int i = 0; i < 4; i++)
		CHECK_STR(ask_a(db, SVC), "10.101.0.10");
	/* local endpoints not ready: the others answer */
	REQUIRE(import_ip(db, "echo", "c1:10.101.0.10:1:0,c2:10.102.0.10:5:1") == 0);
	CHECK_STR(ask_a(db, SVC), "10.102.0.10");
	CHECK_STR(ask_a(db, "c1." SVC), "10.101.0.10");
	dns_records_free(db);
}

static void test_health(void)
{
	struct dns_records *db = db_new(false);

	REQUIRE(import_ip(db, "echo", "c2:10.102.0.10:1:1,c3:10.103.0.10:1:1") == 0);
	CHECK(dns_records_cluster_up(db, "c3"));	/* nothing known yet */
	gateway(db, "n1", 2, "c2:connected,c3:error");
	for (int i = 0; i < 4; i++)
		CHECK_STR(ask_a(db, SVC), "10.102.0.10");
	/* the same report again (a newer updatedUnix only), or another way of being down,
	 * changes no serial; a cluster coming up does */
	{
		uint32_t serial = dns_records_serial(db);

		gateway(db, "n1", 2, "c2:connected,c3:error");
		gateway(db, "n1", 2, "c2:connected,c3:connecting");
		CHECK_EQ_INT(dns_records_serial(db), serial);
		gateway(db, "n1", 2, "c2:connected,c3:connected");
		CHECK(dns_records_serial(db) != serial);
		gateway(db, "n1", 2, "c2:connected,c3:error");
	}
	/* an older active gateway (lower epoch) does not count */
	gateway(db, "n2", 1, "c2:connected,c3:connected");
	CHECK(!dns_records_cluster_up(db, "c3"));
	/* a cluster the gateway has no connection to is down too */
	gateway(db, "n1", 2, "c3:connected");
	CHECK_STR(ask_a(db, SVC), "10.103.0.10");
	gateway(db, "n1", 2, "c2:error,c3:connecting");
	CHECK_STR(ask_a(db, SVC), "");
	CHECK_EQ_INT(ans.rcode, DNS_RC_NOERROR);
	CHECK(ans.soa_authority);
	/* cluster-qualified: answered even then */
	CHECK_STR(ask_a(db, "c3." SVC), "10.103.0.10");
	/* a remote cluster whose endpoints are not ready is left out */
	gateway(db, "n1", 2, "c2:connected,c3:connected");
	REQUIRE(import_ip(db, "echo", "c2:10.102.0.10:1:0,c3:10.103.0.10:1:1") == 0);
	for (int i = 0; i < 3; i++)
		CHECK_STR(ask_a(db, SVC), "10.103.0.10");
	dns_records_free(db);
}

static void test_headless(void)
{
	struct dns_records *db = db_new(false);
	const char *imp = "{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"db.prod\"},"
		"\"spec\":{\"name\":\"db\",\"namespace\":\"prod\",\"type\":\"Headless\","
		"\"ports\":[{\"name\":\"pg\",\"protocol\":\"TCP\",\"port\":5432}]},"
		"\"status\":{\"clusters\":["
		"{\"cluster\":\"c2\",\"ports\":[{\"name\":\"pg\",\"protocol\":\"TCP\",\"port\":5432}],"
		" \"endpoints\":[{\"hostname\":\"db-0\",\"addresses\":[\"10.2.1.11\"],\"ready\":true},"
		"  {\"hostname\":\"db-1\",\"addresses\":[\"10.2.1.12\"],\"ready\":false},"
		"  {\"hostname\":\"db-2\",\"addresses\":[\"10.2.2.11\"],\"ready\":true}]},"
		"{\"cluster\":\"c3\",\"ports\":[{\"name\":\"pg\",\"protocol\":\"TCP\",\"port\":6432}],"
		" \"endpoints\":[{\"hostname\":\"db-0\",\"addresses\":[\"10.3.1.11\"],\"ready\":false}]}]}}";

	REQUIRE(feed(db, 0, "%s", imp) == 0);
	/* c3 has no ready endpoint: c2's ready ones */
	CHECK_STR(ask_a(db, "db.prod.svc.clusterset.local"), "10.2.1.11,10.2.2.11");
	CHECK_STR(ask_a(db, "db.prod.svc.clusterset.local"), "10.2.1.11,10.2.2.11");
	CHECK_STR(ask_a(db, "db-1.c2.db.prod.svc.clusterset.local"), "10.2.1.12");
	CHECK_STR(ask_a(db, "db-0.c3.db.prod.svc.clusterset.local"), "10.3.1.11");
	/* cluster-qualified: the ready ones, or every one when none is */
	CHECK_STR(ask_a(db, "c2.db.prod.svc.clusterset.local"), "10.2.1.11,10.2.2.11");
	CHECK_STR(ask_a(db, "c3.db.prod.svc.clusterset.local"), "10.3.1.11");
	ask(db, "db-9.c2.db.prod.svc.clusterset.local", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	/* SRV: one record per ready endpoint, targets are the pods' names */
	ask(db, "_pg._tcp.db.prod.svc.clusterset.local", DNS_T_SRV);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NOERROR);
	REQUIRE(ans.n_an == 2);
	CHECK_STR(ans.an[0].target, "db-0.c2.db.prod.svc.clusterset.local");
	CHECK_EQ_INT(ans.an[0].port, 5432);
	CHECK_STR(ans.an[1].target, "db-2.c2.db.prod.svc.clusterset.local");
	CHECK_EQ_INT(ans.n_ad, 2);
	CHECK_STR(ans.ad[1].owner, "db-2.c2.db.prod.svc.clusterset.local");
	/* the cluster's own port number */
	ask(db, "_pg._tcp.c3.db.prod.svc.clusterset.local", DNS_T_SRV);
	REQUIRE(ans.n_an == 1);
	CHECK_EQ_INT(ans.an[0].port, 6432);
	dns_records_free(db);
}

static void test_srv(void)
{
	struct dns_records *db = db_new(false);

	REQUIRE(import_ip(db, "echo", "c2:10.102.0.10:2:1,c3:10.103.0.10:1:1") == 0);
	ask(db, "_http._tcp." SVC, DNS_T_SRV);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NOERROR);
	REQUIRE(ans.n_an == 2);
	CHECK_STR(ans.an[0].target, "c2." SVC);
	CHECK_EQ_INT(ans.an[0].port, 8002);
	CHECK_EQ_INT(ans.an[0].weight, 2);
	CHECK_STR(ans.an[1].target, "c3." SVC);
	CHECK_EQ_INT(ans.an[1].port, 8003);
	REQUIRE(ans.n_ad == 2);
	CHECK_STR(ans.ad[0].owner, "c2." SVC);
	ask(db, "_dns._udp." SVC, DNS_T_SRV);
	CHECK_EQ_INT(ans.n_an, 2);
	ask(db, "_http._udp." SVC, DNS_T_SRV);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	/* SRV of the service itself: every named port of every answering cluster */
	ask(db, SVC, DNS_T_SRV);
	CHECK_EQ_INT(ans.n_an, 4);
	CHECK_EQ_INT(ans.n_ad, 2);
	/* A of an SRV name: exists, no records */
	ask(db, "_http._tcp." SVC, DNS_T_A);
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 0 && ans.soa_authority);
	dns_records_free(db);
}

static void test_negative(void)
{
	struct dns_records *db = db_new(false);

	REQUIRE(import_ip(db, "echo", "c2:10.102.0.10:1:1") == 0);
	ask(db, "nope.default.svc.clusterset.local", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	CHECK(ans.soa_authority && ans.authoritative);
	ask(db, "c9." SVC, DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	ask(db, "echo.default.pod.clusterset.local", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	ask(db, "a.b.c.d.e.f.g.h.i.echo.default.svc.clusterset.local", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	ask(db, "x\x7fy.default.svc.clusterset.local", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	/* AAAA: NOERROR without records for a name that exists, NXDOMAIN otherwise */
	ask(db, SVC, DNS_T_AAAA);
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 0 && ans.soa_authority);
	ask(db, "c2." SVC, DNS_T_AAAA);
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 0);
	ask(db, "nope.default.svc.clusterset.local", DNS_T_AAAA);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	/* empty non-terminals */
	ask(db, "default.svc.clusterset.local", DNS_T_A);
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 0);
	ask(db, "svc.clusterset.local", DNS_T_A);
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 0);
	ask(db, "other.svc.clusterset.local", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	/* other types: NOTIMP; outside the zones: REFUSED */
	ask(db, SVC, 16 /* TXT */);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NOTIMP);
	ask(db, SVC, 255 /* ANY */);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NOTIMP);
	ask(db, "echo.default.svc.cluster.local", DNS_T_A);
	CHECK(ans.rcode == DNS_RC_REFUSED && !ans.authoritative);
	ask(db, "xclusterset.local", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_REFUSED);
	ask(db, "", DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_REFUSED);
	/* the apex: SOA */
	ask(db, "clusterset.local", DNS_T_SOA);
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 1 && ans.an[0].type == DNS_T_SOA);
	ask(db, "clusterset.local", DNS_T_A);
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 0 && ans.soa_authority);
	dns_records_free(db);
}

static void test_globalnet(void)
{
	struct dns_records *db = db_new(true);

	/* overlapping clusters: every one uses 10.101.0.10 */
	REQUIRE(import_ip(db, "echo", "c1:10.101.0.10:1:1,c2:10.101.0.10:1:1") == 0);
	CHECK_STR(ask_a(db, SVC), "10.101.0.10");	/* local: its own VIP */
	CHECK_STR(ask_a(db, "c2." SVC), "");		/* no global IP yet */
	CHECK(ans.rcode == DNS_RC_NOERROR && ans.n_an == 0);
	feed(db, 2, "{\"metadata\":{\"name\":\"c2.echo.default\"},\"spec\":{\"clusterID\":\"c2\","
	     "\"service\":\"10.101.0.10\"},\"status\":{\"globalIP\":\"242.1.0.9\"}}");
	feed(db, 2, "{\"metadata\":{\"name\":\"c3.echo.default\"},\"spec\":{\"clusterID\":\"c3\","
	     "\"service\":\"10.101.0.10\"},\"status\":{\"globalIP\":\"242.2.0.9\"}}");
	CHECK_STR(ask_a(db, "c2." SVC), "242.1.0.9");
	/* local not ready: the remote's global IP */
	REQUIRE(import_ip(db, "echo", "c1:10.101.0.10:1:0,c2:10.101.0.10:1:1") == 0);
	CHECK_STR(ask_a(db, SVC), "242.1.0.9");
	/* the global IP withdrawn: nothing to answer with */
	{
		cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"c2.echo.default\"}}");

		dns_records_global_ip(db, o, true);
		cJSON_Delete(o);
	}
	CHECK_STR(ask_a(db, SVC), "");
	dns_records_free(db);
}

static void test_updates(void)
{
	struct dns_records *db = db_new(false);
	uint32_t serial = dns_records_serial(db);
	char err[256];
	cJSON *o;

	REQUIRE(import_ip(db, "echo", "c2:10.102.0.10:1:1") == 0);
	CHECK(dns_records_serial(db) != serial);
	CHECK_EQ_INT(dns_records_services(db), 1);
	REQUIRE(import_ip(db, "echo", "c2:10.102.0.11:1:1") == 0);
	CHECK_EQ_INT(dns_records_services(db), 1);
	CHECK_STR(ask_a(db, SVC), "10.102.0.11");
	/* a bad version is refused and the last good one stays */
	CHECK(feed(db, 0, "{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"echo.default\"},"
		   "\"spec\":{\"name\":\"echo\",\"namespace\":\"default\",\"type\":\"ClusterSetIP\"},"
		   "\"status\":{\"clusters\":[{\"cluster\":\"c2\",\"ips\":[\"10.1.2.300\"]}]}}") != 0);
	CHECK_STR(ask_a(db, SVC), "10.102.0.11");
	CHECK(feed(db, 0, "{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"other.default\"},"
		   "\"spec\":{\"name\":\"echo\",\"namespace\":\"default\",\"type\":\"ClusterSetIP\"}}") != 0);
	/* deleted: gone */
	o = cJSON_Parse("{\"metadata\":{\"name\":\"echo.default\"},\"spec\":{\"name\":\"echo\","
			"\"namespace\":\"default\"}}");
	CHECK(dns_records_import(db, o, true, err, sizeof(err)) == 0);
	cJSON_Delete(o);
	ask(db, SVC, DNS_T_A);
	CHECK_EQ_INT(ans.rcode, DNS_RC_NXDOMAIN);
	CHECK_EQ_INT(dns_records_services(db), 0);
	dns_records_free(db);
}

static void test_new_refuses(void)
{
	const char *bad[] = { "Bad_Zone" };
	const char *many[DNS_ZONE_MAX + 1];

	for (unsigned i = 0; i <= DNS_ZONE_MAX; i++)
		many[i] = "a.b";
	CHECK(!dns_records_new("c1", false, 5, bad, 1));
	CHECK(!dns_records_new("C1", false, 5, zones, 1));
	CHECK(!dns_records_new("c1", false, 5, zones, 0));
	CHECK(!dns_records_new("c1", false, 5, many, DNS_ZONE_MAX + 1));
}

int main(void)
{
	RUN(test_remote_round_robin);
	RUN(test_weighted);
	RUN(test_local_first);
	RUN(test_health);
	RUN(test_headless);
	RUN(test_srv);
	RUN(test_negative);
	RUN(test_globalnet);
	RUN(test_updates);
	RUN(test_new_refuses);
	return harness_done();
}
