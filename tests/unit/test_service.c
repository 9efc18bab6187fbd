/* Unit tests of the service discovery objects (broker/client/service.c): the strict
 * decoding of an export's spec and of imports, encoding back, port names, readiness; and
 * of the CLI's option parsers for ports and endpoints (agent/cli/svc_objects.c). */
#include "agent/cli/svc_objects.h"
#include "broker/client/service.h"
#include "common/cidr.h"
#include "harness.h"

static const char *good_spec =
	"{\"clusterID\":\"c1\",\"name\":\"echo\",\"namespace\":\"default\",\"type\":\"ClusterSetIP\","
	"\"ips\":[\"10.101.0.10\"],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080},"
	"{\"protocol\":\"UDP\",\"port\":8080}],\"endpoints\":[{\"hostname\":\"p1\",\"addresses\":"
	"[\"10.1.1.11\"],\"ready\":false},{\"hostname\":\"p2\",\"addresses\":[\"10.1.2.11\",\"10.1.2.12\"],"
	"\"ready\":true}],\"weight\":3}";

static int decode(const char *json, struct svc_record *r, char *err)
{
	cJSON *o = cJSON_Parse(json);
	int rc;

	if (!o)
		abort();
	rc = svc_export_spec_from_json(o, r, err, SVC_ERR_MAX);
	cJSON_Delete(o);
	return rc;
}

static void test_export_spec(void)
{
	struct svc_record r;
	char err[SVC_ERR_MAX], ip[16];

	REQUIRE(decode(good_spec, &r, err) == 0);
	CHECK_STR(r.cluster, "c1");
	CHECK_STR(r.name, "echo");
	CHECK_EQ_INT(r.type, SVC_CLUSTERSET_IP);
	CHECK_EQ_INT(r.n_ports, 2);
	CHECK_STR(r.ports[0].name, "http");
	CHECK_EQ_INT(r.ports[1].proto, SVC_UDP);
	CHECK_EQ_INT(r.n_eps, 2);
	ip4_format(r.eps[1].addrs[1], ip);
	CHECK_STR(ip, "10.1.2.12");
	CHECK_EQ_INT(r.weight, 3);
	CHECK(svc_record_ready(&r));
	r.eps[1].ready = false;
	CHECK(!svc_record_ready(&r));
	/* encoded and decoded again: the same */
	{
		cJSON *j = svc_record_to_json(&r, false), *j2;
		struct svc_record b;

		REQUIRE(j);
		REQUIRE(svc_export_spec_from_json(j, &b, err, sizeof(err)) == 0);
		j2 = svc_record_to_json(&b, false);
		CHECK(cJSON_Compare(j, j2, 1));
		cJSON_Delete(j);
		cJSON_Delete(j2);
		svc_record_free(&b);
	}
	svc_record_free(&r);
}

static void test_export_refused(void)
{
	static const struct { const char *from, *to, *why; } bad[] = {
		{ "\"weight\":3", "\"weight\":3,\"x\":1", "unknown field" },
		{ "\"TCP\"", "\"tcp\"", "protocol" },
		{ "\"port\":8080}", "\"port\":0}", "port" },
		{ "\"http\"", "\"http_1\"", "port name" },
		{ "\"http\"", "\"1234\"", "port name" },
		{ "\"ready\":false", "\"ready\":0", "ready" },
		{ "\"p2\"", "\"p1\"", "twice" },
		{ "[\"10.101.0.10\"]", "[]", "cluster IP" },
		{ "\"ClusterSetIP\"", "\"Headless\"", "no IPs" },
		{ "\"default\"", "\"Default\"", "namespace" },
		{ "\"weight\":3", "\"weight\":1001", "weight" },
		{ "[\"10.1.1.11\"]", "[]", "at least one" },
		{ "\"10.1.1.11\"", "\"10.1.1.011\"", "IPv4" },
		{ "{\"protocol\":\"UDP\",\"port\":8080}", "{\"protocol\":\"TCP\",\"port\":8080}", "twice" },
	};
	char buf[2048], err[SVC_ERR_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *at = strstr(good_spec, bad[i].from);
		struct svc_record r;

		REQUIRE(at);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - good_spec), good_spec, bad[i].to,
			 at + strlen(bad[i].from));
		err[0] = '\0';
		CHECK_EQ_INT(decode(buf, &r, err), -EINVAL);
		if (!strstr(err, bad[i].why))
			fprintf(stderr, "  case %zu: '%s' does not say '%s'\n", i, err, bad[i].why);
		CHECK(strstr(err, bad[i].why) != NULL);
		svc_record_free(&r);
	}
}

static void test_import(void)
{
	const char *j = "{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"db.prod\"},\"spec\":{\"name\":\"db\","
		"\"namespace\":\"prod\",\"type\":\"Headless\",\"future\":1},\"status\":{\"clusters\":[{\"cluster\":"
		"\"c2\",\"endpoints\":[{\"hostname\":\"db-0\",\"addresses\":[\"10.2.1.11\"],\"ready\":true}]},"
		"{\"cluster\":\"c3\"}]}}";
	struct svc_import im;
	char err[SVC_ERR_MAX];
	cJSON *o = cJSON_Parse(j);

	REQUIRE(o);
	/* unknown fields from a newer broker are fine */
	CHECK_EQ_INT(svc_import_from_json(o, &im, err, sizeof(err)), 0);
	CHECK_EQ_INT(im.n_clusters, 2);
	CHECK_EQ_INT(im.clusters[0].type, SVC_HEADLESS);
	CHECK_STR(im.clusters[1].name, "db");
	svc_import_free(&im);
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "name",
					       cJSON_CreateString("db.other"));
	CHECK_EQ_INT(svc_import_from_json(o, &im, err, sizeof(err)), -EINVAL);
	svc_import_free(&im);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"metadata\":{\"name\":\"db.prod\"},\"spec\":{\"name\":\"db\",\"namespace\":\"prod\","
			"\"type\":\"Headless\"},\"status\":{\"clusters\":[{\"cluster\":\"c2\"},{\"cluster\":\"c2\"}]}}");
	CHECK_EQ_INT(svc_import_from_json(o, &im, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "twice") != NULL);
	svc_import_free(&im);
	cJSON_Delete(o);
}

static void test_names(void)
{
	char buf[SVC_KEY_MAX];

	CHECK(svc_port_name_ok("http"));
	CHECK(svc_port_name_ok("tcp-echo"));
	CHECK(svc_port_name_ok("h2c"));
	CHECK(!svc_port_name_ok("8080"));
	CHECK(!svc_port_name_ok("-http"));
	CHECK(!svc_port_name_ok("ht--tp"));
	CHECK(!svc_port_name_ok("averyveryverylongname"));
	CHECK(!svc_port_name_ok(""));
	CHECK(svc_export_name(buf, sizeof(buf), "c1", "echo", "default") == 0);
	CHECK_STR(buf, "c1.echo.default");
	CHECK(svc_import_name(buf, 8, "echo", "default") == -ENAMETOOLONG);
}

static void test_cli_parsers(void)
{
	struct svc_port p;
	struct svc_endpoint e;
	char ip[16];

	CHECK(svc_cli_parse_port("http:8080/tcp", &p) == 0 && !strcmp(p.name, "http") && p.port == 8080 &&
	      p.proto == SVC_TCP);
	CHECK(svc_cli_parse_port("53/UDP", &p) == 0 && !*p.name && p.proto == SVC_UDP);
	CHECK(svc_cli_parse_port("9000", &p) == 0 && p.proto == SVC_TCP);
	CHECK(svc_cli_parse_port("http:0", &p) != 0);
	CHECK(svc_cli_parse_port("http:80/icmp", &p) != 0);
	CHECK(svc_cli_parse_port("Http:80", &p) != 0);
	CHECK(svc_cli_parse_port("80:http", &p) != 0);
	CHECK(svc_cli_parse_endpoint("p1=10.1.1.11", &e) == 0 && e.ready && e.n_addrs == 1);
	CHECK(svc_cli_parse_endpoint("p1=10.1.1.11,10.1.1.12,notready", &e) == 0 && !e.ready && e.n_addrs == 2);
	ip4_format(e.addrs[1], ip);
	CHECK_STR(ip, "10.1.1.12");
	CHECK(svc_cli_parse_endpoint("p1=notready", &e) != 0);
	CHECK(svc_cli_parse_endpoint("P1=10.1.1.1", &e) != 0);
	CHECK(svc_cli_parse_endpoint("p1", &e) != 0);
	CHECK(svc_cli_parse_endpoint("p1=10.1.1.300", &e) != 0);
}

int main(void)
{
	RUN(test_export_spec);
	RUN(test_export_refused);
	RUN(test_import);
	RUN(test_names);
	RUN(test_cli_parsers);
	return harness_done();
}
