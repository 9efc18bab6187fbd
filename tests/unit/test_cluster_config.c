/* Unit tests for broker/creds/cluster_config.c: save/load round trip, modes, strict loading. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/creds/cluster_config.h"
#include "broker/creds/pki.h"
#include "common/util.h"
#include "tests/unit/harness.h"

#define TOKEN "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PSK   "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static char *ca, *ca_key;
static char dir[] = "/tmp/sbc-test-cc-XXXXXX";

static void fill(struct cluster_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->cluster_id, "c1");
	c->broker_urls[0] = strdup("https://127.0.0.1:8443");
	c->broker_urls[1] = strdup("https://[::1]:8443");
	c->n_broker_urls = 2;
	(void)!cidr4_parse("10.1.0.0/16", &c->cluster_cidrs[0]);
	(void)!cidr4_parse("10.2.0.0/16", &c->cluster_cidrs[1]);
	c->n_cluster_cidrs = 2;
	(void)!cidr4_parse("10.96.0.0/12", &c->service_cidrs[0]);
	c->n_service_cidrs = 1;
	(void)!cidr4_parse("242.0.0.0/16", &c->global_cidrs[0]);
	c->n_global_cidrs = 1;
	strcpy(c->cable_driver, "ipsec");
	strcpy(c->ike.ike_proposals, BRK_DEFAULT_IKE_PROPOSALS);
	strcpy(c->ike.esp_proposals, BRK_DEFAULT_ESP_PROPOSALS);
	c->ike.natt_port = 4500;
	c->globalnet.enabled = true;
	strcpy(c->globalnet.cidr_range, "242.0.0.0/8");
	c->globalnet.cluster_size = 65536;
	c->ca_pem = strdup(ca);
	c->token = strdup(TOKEN);
	c->psk = strdup(PSK);
}

static int mode_of(const char *name)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) ? -1 : (int)(st.st_mode & 0777);
}

static void write_in(const char *name, const char *data)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (util_write_file(p, data, strlen(data), 0600))
		abort();
}

static void test_roundtrip(void)
{
	struct cluster_config c, l;
	char err[BRK_ERR_MAX] = "", buf[CIDR4_STRLEN];

	fill(&c);
	CHECK(cluster_config_save(dir, &c, err) == 0);
	CHECK_EQ_INT(mode_of("token"), 0600);
	CHECK_EQ_INT(mode_of("psk"), 0600);
	CHECK_EQ_INT(mode_of("cluster.json"), 0644);
	REQUIRE(cluster_config_load_err(dir, &l, err) == 0);
	CHECK_STR(l.cluster_id, "c1");
	CHECK_EQ_INT(l.n_broker_urls, 2);
	CHECK_STR(l.broker_urls[1], "https://[::1]:8443");
	CHECK_EQ_INT(l.n_cluster_cidrs, 2);
	cidr4_format(&l.cluster_cidrs[1], buf);
	CHECK_STR(buf, "10.2.0.0/16");
	cidr4_format(&l.service_cidrs[0], buf);
	CHECK_STR(buf, "10.96.0.0/12");
	cidr4_format(&l.global_cidrs[0], buf);
	CHECK_STR(buf, "242.0.0.0/16");
	CHECK_STR(l.cable_driver, "ipsec");
	CHECK_EQ_INT(l.ike.natt_port, 4500);
	CHECK(l.globalnet.enabled);
	CHECK_STR(l.token, TOKEN);
	CHECK_STR(l.psk, PSK);
	CHECK_STR(l.ca_pem, ca);
	CHECK(strstr(l.ca_path, "/ca.pem") != NULL);
	CHECK(pki_ca_check(l.ca_pem) == 0);
	cluster_config_free(&l);
	/* a token file with a trailing newline (hand-edited) still loads */
	write_in("token", TOKEN "\n");
	CHECK(cluster_config_load(dir, &l) == 0);
	cluster_config_free(&l);
	cluster_config_free(&c);
}

/* A reader of the broker (the DNS server) loads without the IKE PSK, the agent does not. */
static void test_reader_without_psk(void)
{
	struct cluster_config c, l;
	char err[BRK_ERR_MAX] = "", p[512];

	fill(&c);
	REQUIRE(cluster_config_save(dir, &c, err) == 0);
	snprintf(p, sizeof(p), "%s/psk", dir);
	REQUIRE(access(p, F_OK) == 0);
	/* the agent reads the shared key when there is one; a reader never does */
	REQUIRE(cluster_config_load_err(dir, &l, err) == 0);
	CHECK(l.psk != NULL);
	cluster_config_free(&l);
	REQUIRE(cluster_config_load_reader(dir, &l, err) == 0);
	CHECK(l.psk == NULL);
	CHECK_STR(l.token, TOKEN);
	cluster_config_free(&l);
	/* everything else is still checked */
	write_in("token", "nothex");
	CHECK(cluster_config_load_reader(dir, &l, err) == -EINVAL);
	cluster_config_free(&c);
}

static void test_invalid_save(void)
{
	struct cluster_config c;
	char err[BRK_ERR_MAX] = "";

	fill(&c);
	strcpy(c.cluster_id, "C_1");
	CHECK(cluster_config_save(dir, &c, err) == -EINVAL && strstr(err, "cluster ID"));
	strcpy(c.cluster_id, "c1");
	(void)!cidr4_parse("10.1.128.0/17", &c.service_cidrs[0]);
	CHECK(cluster_config_save(dir, &c, err) == -EINVAL && strstr(err, "overlaps"));
	(void)!cidr4_parse("10.96.0.0/12", &c.service_cidrs[0]);
	(void)!cidr4_parse("243.0.0.0/16", &c.global_cidrs[0]);
	CHECK(cluster_config_save(dir, &c, err) == -EINVAL && strstr(err, "outside"));
	(void)!cidr4_parse("242.0.0.0/16", &c.global_cidrs[0]);
	strcpy(c.cable_driver, "gre");
	CHECK(cluster_config_save(dir, &c, err) == -EINVAL && strstr(err, "cable driver"));
	strcpy(c.cable_driver, "vxlan");
	c.globalnet.enabled = false;
	CHECK(cluster_config_save(dir, &c, err) == -EINVAL && strstr(err, "globalnet is off"));
	c.n_global_cidrs = 0;
	CHECK(cluster_config_save(dir, &c, err) == 0);
	cluster_config_free(&c);
}

/* Each corruption of a saved directory is refused on load with a message. */
static void test_strict_load(void)
{
	struct {
		const char *file, *data, *want;
	} cases[] = {
		{ "token", "abc", "token must be" },
		{ "psk", "0011", "psk must be" },
		{ "ca.pem", "not a pem", "ca.pem" },
		{ "cluster.json", "{", "not valid JSON" },
		{ "cluster.json", "[]", "not a JSON object" },
		{ "cluster.json", "{\"clusterID\":\"c1\",\"x\":1}", "unknown field" },
		{ "cluster.json", "{\"clusterID\":\"c1\"}", "brokerURLs" },
		{ "cluster.json",
		  "{\"clusterID\":\"c1\",\"brokerURLs\":[\"http://a\"],\"clusterCIDRs\":[\"10.0.0.0/8\"],"
		  "\"serviceCIDRs\":[],\"cableDriver\":\"ipsec\",\"ike\":{\"ikeProposals\":\"aes\","
		  "\"espProposals\":\"aes\",\"natTPort\":4500},\"globalnet\":{\"enabled\":false,"
		  "\"cidrRange\":\"242.0.0.0/8\",\"clusterSize\":65536}}", "https://" },
		{ "cluster.json",
		  "{\"clusterID\":\"c1\",\"brokerURLs\":[\"https://a\"],\"clusterCIDRs\":[\"10.0.0.1/8\"],"
		  "\"serviceCIDRs\":[],\"cableDriver\":\"ipsec\",\"ike\":{\"ikeProposals\":\"aes\","
		  "\"espProposals\":\"aes\",\"natTPort\":4500},\"globalnet\":{\"enabled\":false,"
		  "\"cidrRange\":\"242.0.0.0/8\",\"clusterSize\":65536}}", "not an IPv4 CIDR" },
	};
	struct cluster_config c, l;
	char err[BRK_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill(&c);
		c.globalnet.enabled = false;
		c.n_global_cidrs = 0;
		REQUIRE(cluster_config_save(dir, &c, err) == 0);
		cluster_config_free(&c);
		write_in(cases[i].file, cases[i].data);
		err[0] = '\0';
		if (cluster_config_load_err(dir, &l, err) != -EINVAL || !strstr(err, cases[i].want)) {
			fprintf(stderr, "  case %zu (%s): got \"%s\"\n", i, cases[i].file, err);
			CHECK(0);
		}
	}
	/* a minimal valid hand-written cluster.json loads */
	fill(&c);
	REQUIRE(cluster_config_save(dir, &c, err) == 0);
	cluster_config_free(&c);
	write_in("cluster.json",
		 "{\"clusterID\":\"c1\",\"brokerURLs\":[\"https://a\"],\"clusterCIDRs\":[\"10.0.0.0/8\"],"
		 "\"serviceCIDRs\":[],\"cableDriver\":\"ipsec\",\"ike\":{\"ikeProposals\":\"aes\","
		 "\"espProposals\":\"aes\",\"natTPort\":4500},\"globalnet\":{\"enabled\":false,"
		 "\"cidrRange\":\"242.0.0.0/8\",\"clusterSize\":65536}}");
	CHECK(cluster_config_load_err(dir, &l, err) == 0);
	cluster_config_free(&l);
}

static void test_remove(void)
{
	struct cluster_config c, l;
	char err[BRK_ERR_MAX];
	struct stat st;

	fill(&c);
	REQUIRE(cluster_config_save(dir, &c, err) == 0);
	cluster_config_free(&c);
	CHECK(cluster_config_remove(dir) == 0);
	CHECK(stat(dir, &st) < 0 && errno == ENOENT);
	CHECK(cluster_config_load_err(dir, &l, err) == -ENOENT);
	CHECK(cluster_config_remove(dir) == 0);	/* idempotent */
	/* a directory with other files is kept */
	fill(&c);
	REQUIRE(cluster_config_save(dir, &c, err) == 0);
	cluster_config_free(&c);
	write_in("other", "x");
	CHECK(cluster_config_remove(dir) == 0);
	CHECK(mode_of("token") == -1 && mode_of("other") == 0600);
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/other", dir);
		unlink(p);
	}
}

/* Certificates (no --psk): no psk file; a re-join that drops the PSK removes the file;
 * the registration UID round-trips. */
static void test_no_psk(void)
{
	struct cluster_config c, l;
	char err[BRK_ERR_MAX] = "";

	fill(&c);
	CHECK(cluster_config_save(dir, &c, err) == 0);
	CHECK_EQ_INT(mode_of("psk"), 0600);
	util_free_secret(c.psk);
	c.psk = NULL;
	strcpy(c.registration_uid, "0f1e2d3c-4b5a-4697-8877-665544332211");
	CHECK(cluster_config_save(dir, &c, err) == 0);
	CHECK_EQ_INT(mode_of("psk"), -1);
	REQUIRE(cluster_config_load_err(dir, &l, err) == 0);
	CHECK(l.psk == NULL);
	CHECK_STR(l.registration_uid, "0f1e2d3c-4b5a-4697-8877-665544332211");
	cluster_config_free(&l);
	strcpy(c.registration_uid, "NOT-HEX");
	CHECK(cluster_config_save(dir, &c, err) == -EINVAL && strstr(err, "registrationUID"));
	cluster_config_free(&c);
}

int main(void)
{
	if (!mkdtemp(dir) || pki_ca_create("test CA", &ca, &ca_key)) {
		printf("FAIL: test_cluster_config.c:setup\n");
		return 1;
	}
	RUN(test_roundtrip);
	RUN(test_reader_without_psk);
	RUN(test_invalid_save);
	RUN(test_strict_load);
	RUN(test_no_psk);
	RUN(test_remove);
	(void)!cluster_config_remove(dir);
	rmdir(dir);
	free(ca);
	util_free_secret(ca_key);
	return harness_done();
}
