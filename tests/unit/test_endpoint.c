/* Unit tests for broker/client/endpoint.c: valid objects round-trip; garbage is refused with a reason. */
#include "broker/client/endpoint.h"
#include "tests/unit/harness.h"

static const char *good =
	"{\"apiVersion\":\"subagent.io/v1\",\"kind\":\"Endpoint\","
	"\"metadata\":{\"name\":\"c2-c2-n1\",\"resourceVersion\":\"7\"},"
	"\"spec\":{\"clusterID\":\"c2\",\"hostname\":\"c2-n1\",\"privateIP\":\"192.168.2.11\","
	"\"publicIP\":\"198.18.2.254\",\"natTPort\":4500,\"subnets\":[\"10.2.0.0/16\",\"10.102.0.0/16\"],"
	"\"cableDriver\":\"ipsec\",\"healthCheckIP\":\"10.2.1.1\",\"epoch\":3,\"backend\":{}}}";

static int parse(const char *json, struct sa_endpoint *ep, char *err)
{
	cJSON *o = cJSON_Parse(json);
	int rc;

	if (!o)
		return -1000;
	rc = endpoint_from_json(o, ep, err, 200);
	cJSON_Delete(o);
	return rc;
}

static void test_valid_roundtrip(void)
{
	struct sa_endpoint ep, ep2;
	char err[200] = "";
	cJSON *o;

	REQUIRE(parse(good, &ep, err) == 0);
	CHECK_STR(ep.cluster_id, "c2");
	CHECK_STR(ep.public_ip, "198.18.2.254");
	CHECK_EQ_INT(ep.n_subnets, 2);
	CHECK_EQ_INT(ep.nat_t_port, 4500);
	CHECK_EQ_INT(ep.epoch, 3);
	o = endpoint_to_json(&ep);
	REQUIRE(o != NULL);
	CHECK(endpoint_from_json(o, &ep2, err, sizeof(err)) == 0);
	CHECK(endpoint_equal(&ep, &ep2));
	cJSON_Delete(o);
}

static void test_garbage_refused(void)
{
	static const struct { const char *from, *to, *why; } bad[] = {
		{ "\"192.168.2.11\"", "\"192.168.2.300\"", "privateIP" },
		{ "\"198.18.2.254\"", "\"a\"", "publicIP" },
		{ "4500", "70000", "natTPort" },
		{ "4500", "45.5", "natTPort" },
		{ "4500", "\"4500\"", "natTPort" },
		{ "\"10.2.0.0/16\"", "\"10.2.0.1/16\"", "subnets" },
		{ "\"10.2.0.0/16\"", "\"0.0.0.0/0\"", "subnets" },
		{ "\"10.2.0.0/16\"", "7", "subnets" },
		{ "\"ipsec\"", "\"gre\"", "cableDriver" },
		{ "\"c2\"", "\"C2!\"", "clusterID" },
		{ "\"c2-n1\"", "\"-x\"", "hostname" },
		{ "3,", "-1,", "epoch" },
		{ "\"10.2.1.1\"", "\"10.2.1\"", "healthCheckIP" },
		{ "\"backend\":{}", "\"backend\":[]", "backend" },
		{ "\"ipsec\"", "\"vxlan\"", "vtepMAC" },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[2048], err[200] = "";
		const char *p = strstr(good, bad[i].from);
		struct sa_endpoint ep;

		REQUIRE(p != NULL);
		snprintf(json, sizeof(json), "%.*s%s%s", (int)(p - good), good, bad[i].to,
			 p + strlen(bad[i].from));
		CHECK(parse(json, &ep, err) == -EINVAL);
		if (!strstr(err, bad[i].why))
			fprintf(stderr, "  case %u: reason '%s' does not name %s\n", i, err, bad[i].why);
		CHECK(strstr(err, bad[i].why) != NULL);
	}
}

int main(void)
{
	RUN(test_valid_roundtrip);
	RUN(test_garbage_refused);
	return harness_done();
}
