/* Unit tests of broker/server/claims.c: what an object may claim is what its cluster
 * registered (issue 11: an Endpoint of c2 claiming c1's pod CIDR or 0.0.0.0/1 was
 * accepted and routed by every gateway). */
#include <errno.h>
#include <string.h>

#include "broker/server/claims.h"
#include "broker/server/objects.h"
#include "tests/unit/harness.h"

static struct srv_nets nets(const char *spec_json)
{
	cJSON *spec = cJSON_Parse(spec_json);
	struct srv_nets n;

	srv_nets_from_spec(spec, &n);
	cJSON_Delete(spec);
	return n;
}

static int check(const char *res, const struct srv_nets *n, const char *obj_json, char *msg)
{
	const struct srv_resource *r = srv_resource_find(res, strlen(res));
	cJSON *o = cJSON_Parse(obj_json);
	int err;

	if (!r || !o) {
		cJSON_Delete(o);
		return -999;
	}
	err = srv_check_claims(r, o, n, msg, 400);
	cJSON_Delete(o);
	return err;
}

static void test_endpoint(void)
{
	struct srv_nets c2 = nets("{\"clusterID\":\"c2\",\"clusterCIDRs\":[\"10.2.0.0/16\"],"
				  "\"serviceCIDRs\":[\"10.102.0.0/16\"]}");
	char msg[400];

	CHECK_STR(c2.cluster, "c2");
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"subnets\":[\"10.2.0.0/16\",\"10.102.0.0/16\"],"
			   "\"healthCheckIP\":\"10.2.1.1\"}}", msg), 0);
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"subnets\":[\"10.2.3.0/24\"]}}", msg), 0);
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"subnets\":[\"10.1.0.0/16\"]}}", msg), -EINVAL);
	CHECK_STR(msg, "spec.subnets[0]: 10.1.0.0/16 is outside the cluster and service CIDRs of"
		  " cluster c2 (10.2.0.0/16, 10.102.0.0/16)");
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"subnets\":[\"10.2.0.0/16\",\"0.0.0.0/1\","
			   "\"128.0.0.0/1\"]}}", msg), -EINVAL);
	CHECK(strstr(msg, "spec.subnets[1]: 0.0.0.0/1") != NULL);
	/* larger than what it registered, though it holds it */
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"subnets\":[\"10.2.0.0/15\"]}}", msg), -EINVAL);
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"healthCheckIP\":\"10.1.0.1\"}}", msg), -EINVAL);
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"healthCheckIP\":\"10.102.0.1\"}}", msg), -EINVAL);
	CHECK_EQ_INT(check("endpoints", &c2, "{\"spec\":{\"healthCheckIP\":\"\"}}", msg), 0);
	/* other resources claim nothing */
	CHECK_EQ_INT(check("gatewaystatuses", &c2, "{\"spec\":{\"subnets\":[\"0.0.0.0/0\"]}}", msg), 0);
}

static void test_globalnet(void)
{
	struct srv_nets g = nets("{\"clusterID\":\"g1\",\"clusterCIDRs\":[\"10.1.0.0/16\"],"
				 "\"serviceCIDRs\":[\"10.96.0.0/16\"],\"globalCIDRs\":[\"242.1.0.0/16\"]}");
	char msg[400];

	/* with global CIDRs an Endpoint claims only those */
	CHECK_EQ_INT(check("endpoints", &g, "{\"spec\":{\"subnets\":[\"242.1.0.0/16\"],"
			   "\"healthCheckIP\":\"10.1.0.1\"}}", msg), 0);
	CHECK_EQ_INT(check("endpoints", &g, "{\"spec\":{\"subnets\":[\"10.1.0.0/16\"]}}", msg), -EINVAL);
	CHECK(strstr(msg, "global CIDRs of cluster g1 (242.1.0.0/16)") != NULL);
	CHECK_EQ_INT(check("globalingressips", &g, "{\"spec\":{\"pod\":\"10.1.2.3\"},"
			   "\"status\":{\"globalIP\":\"242.1.0.9\"}}", msg), 0);
	CHECK_EQ_INT(check("globalingressips", &g, "{\"spec\":{\"service\":\"10.96.0.10\"}}", msg), 0);
	CHECK_EQ_INT(check("globalingressips", &g, "{\"spec\":{\"service\":\"10.1.0.10\"}}", msg), -EINVAL);
	CHECK_EQ_INT(check("globalingressips", &g, "{\"spec\":{\"pod\":\"10.1.2.3\"},"
			   "\"status\":{\"globalIP\":\"242.0.0.9\"}}", msg), -EINVAL);
	CHECK_STR(msg, "status.globalIP: 242.0.0.9 is outside the global CIDRs of cluster g1 (242.1.0.0/16)");
	CHECK_EQ_INT(check("globalegressips", &g, "{\"spec\":{\"cidr\":\"10.1.4.0/24\"}}", msg), 0);
	CHECK_EQ_INT(check("globalegressips", &g, "{\"spec\":{\"cidr\":\"10.0.0.0/8\"}}", msg), -EINVAL);
	CHECK_EQ_INT(check("globalegressips", &g, "{\"spec\":{\"pod\":\"10.2.0.1\"}}", msg), -EINVAL);
}

int main(void)
{
	RUN(test_endpoint);
	RUN(test_globalnet);
	return harness_done();
}
