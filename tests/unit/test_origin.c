/* Unit tests for broker/creds/origin.c: caches name the broker and registration they were
 * written for, and a cache from another one is discarded (and removed), never loaded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/creds/origin.h"
#include "broker/creds/pki.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static char dir[] = "/tmp/sa-test-origin-XXXXXX";

static void cfg_with(struct cluster_config *c, const char *ca, const char *id, const char *uid)
{
	memset(c, 0, sizeof(*c));
	c->ca_pem = (char *)ca;
	snprintf(c->cluster_id, sizeof(c->cluster_id), "%s", id);
	snprintf(c->registration_uid, sizeof(c->registration_uid), "%s", uid);
}

static void test_origin(void)
{
	char *ca1, *k1, *ca2, *k2, why[256], path[300], l1[ORIGIN_LINE_MAX], l2[ORIGIN_LINE_MAX];
	struct cluster_config c;
	struct origin a, b, other_ca, other_reg, other_id;
	cJSON *j, *doc;
	struct stat st;

	REQUIRE(pki_ca_create("one", &ca1, &k1) == 0 && pki_ca_create("two", &ca2, &k2) == 0);
	cfg_with(&c, ca1, "c1", "11111111-2222-4333-8444-555555555555");
	REQUIRE(origin_of(&c, &a) == 0);
	CHECK_EQ_INT(strlen(a.broker_ca), 64);
	REQUIRE(origin_of(&c, &b) == 0);
	cfg_with(&c, ca2, "c1", "11111111-2222-4333-8444-555555555555");
	REQUIRE(origin_of(&c, &other_ca) == 0);
	cfg_with(&c, ca1, "c1", "99999999-2222-4333-8444-555555555555");
	REQUIRE(origin_of(&c, &other_reg) == 0);
	cfg_with(&c, ca1, "c2", "11111111-2222-4333-8444-555555555555");
	REQUIRE(origin_of(&c, &other_id) == 0);
	cfg_with(&c, "junk", "c1", "");
	CHECK(origin_of(&c, &b) == -EINVAL);
	REQUIRE(origin_of(&(struct cluster_config){ .ca_pem = ca1, .cluster_id = "c1",
		.registration_uid = "11111111-2222-4333-8444-555555555555" }, &b) == 0);

	j = origin_to_json(&a);
	REQUIRE(j);
	CHECK(origin_check(j, &b, why, sizeof(why)) == 0);
	CHECK(origin_check(j, &other_ca, why, sizeof(why)) == -ESTALE);
	CHECK(strstr(why, "another broker") != NULL);
	CHECK(origin_check(j, &other_reg, why, sizeof(why)) == -ESTALE);
	CHECK(strstr(why, "another registration") != NULL);
	CHECK(origin_check(j, &other_id, why, sizeof(why)) == -ESTALE);
	CHECK(origin_check(NULL, &a, why, sizeof(why)) == -ESTALE);
	cJSON_Delete(j);
	origin_line(&a, l1);
	origin_line(&other_reg, l2);
	CHECK(strcmp(l1, l2) != 0);
	CHECK(strstr(l1, a.broker_ca) == l1);

	/* a cache round-trips for its own origin ... */
	snprintf(path, sizeof(path), "%s/cache.json", dir);
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "x", 7);
	REQUIRE(origin_cache_save(path, &a, doc) == 0);
	cJSON_Delete(doc);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	doc = origin_cache_load(path, &b, 65536, "test");
	CHECK(doc && cJSON_GetObjectItemCaseSensitive(doc, "x"));
	cJSON_Delete(doc);
	/* ... and is discarded (and removed) for another one */
	CHECK(origin_cache_load(path, &other_reg, 65536, "test") == NULL && errno == ESTALE);
	CHECK(access(path, F_OK) != 0);
	/* a file from before origins (a bare array, the old endpoints.json) too */
	REQUIRE(util_write_file(path, "[{\"spec\":{}}]", 13, 0600) == 0);
	CHECK(origin_cache_load(path, &a, 65536, "test") == NULL);
	CHECK(access(path, F_OK) != 0);
	CHECK(origin_cache_load(path, &a, 65536, "test") == NULL && errno == ENOENT);
	free(ca1);
	free(ca2);
	util_free_secret(k1);
	util_free_secret(k2);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_origin);
	rmdir(dir);
	return harness_done();
}
