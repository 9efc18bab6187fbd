/* Unit tests for agent/engine/admit.c: which remote Endpoints a gateway accepts. Each
 * refusal is one of the attacks a cluster token holder could try with its own Endpoint. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/engine/admit.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static struct cidr4 C(const char *s)
{
	struct cidr4 c = { 0 };

	if (cidr4_parse(s, &c))
		abort();
	return c;
}

static struct admit_cluster cl(const char *id, const char *n1, const char *n2, const char *g)
{
	struct admit_cluster c = { .n_nets = 2 };

	snprintf(c.id, sizeof(c.id), "%s", id);
	c.nets[0] = C(n1);
	c.nets[1] = C(n2);
	if (g) {
		c.global[0] = C(g);
		c.n_global = 1;
	}
	return c;
}

static struct sa_endpoint ep(const char *id, const char *s1, const char *s2)
{
	struct sa_endpoint e = { .n_subnets = s2 ? 2 : 1, .epoch = 1 };

	snprintf(e.cluster_id, sizeof(e.cluster_id), "%s", id);
	snprintf(e.name, sizeof(e.name), "%s-gw", id);
	e.subnets[0] = C(s1);
	if (s2)
		e.subnets[1] = C(s2);
	return e;
}

static struct admit_cluster clusters[3];
static struct cidr4 local[2];

static struct admit_view view(const struct sa_endpoint *const *rem, unsigned n, bool gn)
{
	clusters[0] = cl("c1", "10.1.0.0/16", "10.101.0.0/16", "242.1.0.0/16");
	clusters[1] = cl("c2", "10.2.0.0/16", "10.102.0.0/16", "242.2.0.0/16");
	clusters[2] = cl("c3", "10.3.0.0/16", "10.103.0.0/16", "242.3.0.0/16");
	local[0] = C("10.1.0.0/16");
	local[1] = C("10.101.0.0/16");
	return (struct admit_view){ .local_id = "c1", .local = local, .n_local = 2, .globalnet = gn,
				    .clusters = clusters, .n_clusters = 3, .remotes = rem,
				    .n_remotes = n };
}

static void test_own_cidrs_accepted(void)
{
	struct admit_view v = view(NULL, 0, false);
	struct sa_endpoint e = ep("c2", "10.2.0.0/16", "10.102.0.0/16");
	struct sa_endpoint part = ep("c2", "10.2.5.0/24", NULL);
	char why[256] = "";

	CHECK(admit_endpoint(&v, &e, why, sizeof(why)) == 0);
	CHECK(admit_endpoint(&v, &part, why, sizeof(why)) == 0);
}

/* The findings of issue 11: c2 claims c1's pod CIDR, or the whole address space. */
static void test_claims_refused(void)
{
	struct admit_view v = view(NULL, 0, false);
	struct sa_endpoint steal = ep("c2", "10.1.0.0/16", NULL);
	struct sa_endpoint all = ep("c2", "0.0.0.0/1", "128.0.0.0/1");
	struct sa_endpoint wider = ep("c2", "10.2.0.0/15", NULL);
	struct sa_endpoint third = ep("c2", "10.3.0.0/16", NULL);
	char why[256] = "";

	CHECK(admit_endpoint(&v, &steal, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "outside cluster c2's registered CIDRs") != NULL);
	CHECK(admit_endpoint(&v, &all, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "0.0.0.0/1") != NULL);
	CHECK(admit_endpoint(&v, &wider, why, sizeof(why)) == -EPERM);
	CHECK(admit_endpoint(&v, &third, why, sizeof(why)) == -EPERM);
}

static void test_unregistered_and_self(void)
{
	struct admit_view v = view(NULL, 0, false);
	struct sa_endpoint ghost = ep("c9", "10.9.0.0/16", NULL);
	struct sa_endpoint me = ep("c1", "10.1.0.0/16", NULL);
	struct sa_endpoint none = ep("c2", "10.2.0.0/16", NULL);
	char why[256] = "";

	CHECK(admit_endpoint(&v, &ghost, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "c9 is not registered") != NULL);
	CHECK(admit_endpoint(&v, &me, why, sizeof(why)) == -EPERM);
	none.n_subnets = 0;
	CHECK(admit_endpoint(&v, &none, why, sizeof(why)) == -EPERM);
}

/* The broker should never register overlapping clusters; if it did (or was fooled), the
 * agent still refuses a remote that overlaps this cluster or another remote. */
static void test_overlaps_refused(void)
{
	struct sa_endpoint c3 = ep("c3", "10.3.0.0/16", NULL);
	const struct sa_endpoint *rem[] = { &c3 };
	struct admit_view v = view(rem, 1, false);
	struct sa_endpoint over_local = ep("c2", "10.2.0.0/16", NULL);
	struct sa_endpoint over_c3 = ep("c2", "10.2.0.0/16", NULL);
	struct sa_endpoint c3_again = ep("c3", "10.3.1.0/24", NULL);
	char why[256] = "";

	clusters[1].nets[0] = C("10.0.0.0/14");	/* a registration covering c1 and c3 */
	over_local.subnets[0] = C("10.1.128.0/17");
	CHECK(admit_endpoint(&v, &over_local, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "of this cluster") != NULL);
	over_c3.subnets[0] = C("10.3.0.0/24");
	CHECK(admit_endpoint(&v, &over_c3, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "of cluster c3") != NULL);
	/* c3's own newer endpoint is compared with nothing of c3 */
	CHECK(admit_endpoint(&v, &c3_again, why, sizeof(why)) == 0);
}

static void test_globalnet(void)
{
	struct admit_view v = view(NULL, 0, true);
	struct sa_endpoint g = ep("c2", "242.2.0.0/16", NULL);
	struct sa_endpoint pods = ep("c2", "10.2.0.0/16", NULL);
	struct sa_endpoint other = ep("c2", "242.3.0.0/16", NULL);
	char why[256] = "";

	CHECK(admit_endpoint(&v, &g, why, sizeof(why)) == 0);
	CHECK(admit_endpoint(&v, &pods, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "global CIDRs") != NULL);
	CHECK(admit_endpoint(&v, &other, why, sizeof(why)) == -EPERM);
}

static void test_cluster_json(void)
{
	const char *good = "{\"metadata\":{\"name\":\"c2\"},\"spec\":{\"clusterID\":\"c2\","
			   "\"clusterCIDRs\":[\"10.2.0.0/16\"],\"serviceCIDRs\":[\"10.102.0.0/16\"],"
			   "\"globalCIDRs\":[\"242.2.0.0/16\"]}}";
	const char *bad[] = {
		"{}",
		"{\"spec\":{\"clusterID\":\"C 2\"}}",
		"{\"metadata\":{\"name\":\"c3\"},\"spec\":{\"clusterID\":\"c2\"}}",
		"{\"spec\":{\"clusterID\":\"c2\",\"clusterCIDRs\":\"10.2.0.0/16\"}}",
		"{\"spec\":{\"clusterID\":\"c2\",\"clusterCIDRs\":[\"10.2.0.1/16\"]}}",
		"{\"spec\":{\"clusterID\":\"c2\",\"serviceCIDRs\":[5]}}",
	};
	struct admit_cluster c, back;
	char err[256];
	cJSON *o = cJSON_Parse(good), *j;

	REQUIRE(o);
	CHECK(admit_cluster_from_json(o, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.id, "c2");
	CHECK_EQ_INT(c.n_nets, 2);
	CHECK_EQ_INT(c.n_global, 1);
	j = admit_cluster_to_json(&c);
	REQUIRE(j);
	CHECK(admit_cluster_from_json(j, &back, err, sizeof(err)) == 0);
	CHECK(admit_cluster_equal(&c, &back));
	cJSON_Delete(j);
	cJSON_Delete(o);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		o = cJSON_Parse(bad[i]);
		REQUIRE(o);
		CHECK(admit_cluster_from_json(o, &c, err, sizeof(err)) == -EINVAL);
		cJSON_Delete(o);
	}
}

int main(void)
{
	RUN(test_own_cidrs_accepted);
	RUN(test_claims_refused);
	RUN(test_unregistered_and_self);
	RUN(test_overlaps_refused);
	RUN(test_globalnet);
	RUN(test_cluster_json);
	return harness_done();
}
