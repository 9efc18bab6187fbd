/* Unit tests of the broker's ServiceImport aggregation (broker/server/svc_import.c,
 * srv_svc_aggregate): clusters in ID order, the oldest export deciding the type, the
 * ports' union with the oldest number winning, conflicts as conditions, other services'
 * and undecodable exports left out, no import without exports. */
#include "broker/server/svc_import.h"
#include "common/json.h"
#include "harness.h"

static cJSON *ex(const char *cluster, const char *ts, const char *name, const char *type, int port)
{
	char buf[1024];
	cJSON *o;

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s-%s.default\",\"creationTimestamp\":\"%s\"},\"spec\":{"
		 "\"clusterID\":\"%s\",\"name\":\"%s\",\"namespace\":\"default\",\"type\":\"%s\"%s,"
		 "\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":%d},"
		 "{\"name\":\"%s\",\"protocol\":\"UDP\",\"port\":53}]}}",
		 cluster, name, ts, cluster, name, type,
		 strcmp(type, "Headless") ? ",\"ips\":[\"10.96.0.1\"]" : "", port, cluster);
	o = cJSON_Parse(buf);
	if (!o)
		abort();
	return o;
}

static const char *clusters(const cJSON *imp)
{
	static char buf[256];
	const cJSON *c;
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(c, json_at(imp, "status.clusters"))
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", off ? "," : "",
					json_str(c, "cluster", "?"));
	return buf;
}

static void test_aggregate(void)
{
	cJSON *e[5] = {
		ex("c3", "2026-01-01T00:00:03Z", "echo", "ClusterSetIP", 8080),
		ex("c1", "2026-01-01T00:00:05Z", "echo", "ClusterSetIP", 9090),
		ex("c2", "2026-01-01T00:00:01Z", "echo", "ClusterSetIP", 8080),
		ex("c4", "2026-01-01T00:00:02Z", "echo", "Headless", 8080),
		ex("c5", "2026-01-01T00:00:00Z", "other", "Headless", 8080),
	};
	cJSON *imp = srv_svc_aggregate("echo", "default", e, 5), *conds;
	const cJSON *c;
	int type = 0, port = 0;

	REQUIRE(imp);
	CHECK_STR(json_str(imp, "metadata.name", ""), "echo.default");
	CHECK_STR(json_str(imp, "kind", ""), "ServiceImport");
	/* c2 is the oldest: ClusterSetIP; c4 (Headless) left out; c5 is another service */
	CHECK_STR(json_str(imp, "spec.type", ""), "ClusterSetIP");
	CHECK_STR(clusters(imp), "c1,c2,c3");
	/* http/TCP from the oldest (8080), and each cluster's own UDP port name */
	CHECK_EQ_INT(cJSON_GetArraySize(json_at(imp, "spec.ports")), 4);
	CHECK_EQ_INT(json_at(cJSON_GetArrayItem(json_at(imp, "spec.ports"), 0), "port")->valueint, 8080);
	conds = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(imp, "status"), "conditions");
	cJSON_ArrayForEach(c, conds) {
		type += !strcmp(json_str(c, "reason", ""), "TypeConflict") && strstr(json_str(c, "message", ""), "c4");
		port += !strcmp(json_str(c, "reason", ""), "PortConflict") && strstr(json_str(c, "message", ""), "c1");
	}
	CHECK_EQ_INT(type, 1);
	CHECK_EQ_INT(port, 1);
	/* the cluster keeps its own number */
	CHECK_EQ_INT(json_at(cJSON_GetArrayItem(json_at(cJSON_GetArrayItem(json_at(imp, "status.clusters"), 0),
							 "ports"), 0), "port")->valueint, 9090);
	cJSON_Delete(imp);
	/* the same exports in another order: the same import */
	{
		cJSON *r[5] = { e[4], e[3], e[2], e[1], e[0] };
		cJSON *a = srv_svc_aggregate("echo", "default", e, 5), *b = srv_svc_aggregate("echo", "default", r, 5);

		CHECK(a && b && cJSON_Compare(a, b, 1));
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
	/* only the Headless export and another service: Headless */
	imp = srv_svc_aggregate("echo", "default", e + 3, 2);
	REQUIRE(imp);
	CHECK_STR(json_str(imp, "spec.type", ""), "Headless");
	CHECK_STR(clusters(imp), "c4");
	cJSON_Delete(imp);
	/* no export of it: no import */
	errno = 0;
	CHECK(!srv_svc_aggregate("echo", "default", e + 4, 1) && errno == 0);
	CHECK(!srv_svc_aggregate("echo", "default", NULL, 0) && errno == 0);
	for (int i = 0; i < 5; i++)
		cJSON_Delete(e[i]);
}

static void test_bad_export_skipped(void)
{
	cJSON *e[2] = { ex("c1", "2026-01-01T00:00:01Z", "echo", "ClusterSetIP", 8080),
			cJSON_Parse("{\"metadata\":{\"name\":\"c2.echo.default\"},\"spec\":{\"clusterID\":\"c2\","
				    "\"name\":\"echo\",\"namespace\":\"default\",\"type\":\"Bogus\"}}") };
	cJSON *imp = srv_svc_aggregate("echo", "default", e, 2);

	REQUIRE(imp);
	CHECK_STR(clusters(imp), "c1");
	cJSON_Delete(imp);
	cJSON_Delete(e[0]);
	cJSON_Delete(e[1]);
}

int main(void)
{
	RUN(test_aggregate);
	RUN(test_bad_export_skipped);
	return harness_done();
}
