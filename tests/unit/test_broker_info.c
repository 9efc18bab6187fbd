/* Unit tests for broker/creds/broker_info.c: a valid document round-trips, and each kind of
 * malformed document is refused with a message that names the problem. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker/creds/broker_info.h"
#include "broker/creds/pki.h"
#include "common/name.h"
#include "common/util.h"
#include "tests/unit/harness.h"

#define TOKEN "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PSK   "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static char *ca, *ca_key;

static void fill(struct broker_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	bi->version = 1;
	bi->urls[0] = strdup("https://198.18.0.10:8443");
	bi->urls[1] = strdup("https://broker.example.org");
	bi->n_urls = 2;
	bi->ca_pem = strdup(ca);
	bi->join_token = strdup(TOKEN);
	bi->psk = strdup(PSK);
	strcpy(bi->ike.ike_proposals, BRK_DEFAULT_IKE_PROPOSALS);
	strcpy(bi->ike.esp_proposals, BRK_DEFAULT_ESP_PROPOSALS);
	bi->ike.natt_port = 4500;
	bi->globalnet.enabled = true;
	strcpy(bi->globalnet.cidr_range, "242.0.0.0/8");
	bi->globalnet.cluster_size = 65536;
}

static char *valid_doc(void)
{
	struct broker_info bi;
	char err[BRK_ERR_MAX];
	char *s;

	fill(&bi);
	s = broker_info_encode(&bi, err);
	broker_info_free(&bi);
	return s;
}

static void test_roundtrip(void)
{
	struct broker_info bi, out;
	char err[BRK_ERR_MAX] = "", path[] = "/tmp/sbc-test-bi-XXXXXX";
	struct stat st;
	char *s;
	int fd;

	REQUIRE(ca);
	fill(&bi);
	s = broker_info_encode(&bi, err);
	REQUIRE(s != NULL);
	CHECK(broker_info_decode(s, strlen(s), &out, err) == 0);
	CHECK_EQ_INT(out.version, 1);
	CHECK_EQ_INT(out.n_urls, 2);
	CHECK_STR(out.urls[1], "https://broker.example.org");
	CHECK_STR(out.ca_pem, ca);
	CHECK_STR(out.join_token, TOKEN);
	CHECK_STR(out.psk, PSK);
	CHECK_STR(out.ike.esp_proposals, BRK_DEFAULT_ESP_PROPOSALS);
	CHECK_EQ_INT(out.ike.natt_port, 4500);
	CHECK(out.globalnet.enabled);
	CHECK_STR(out.globalnet.cidr_range, "242.0.0.0/8");
	CHECK_EQ_INT(out.globalnet.cluster_size, 65536);
	broker_info_free(&out);

	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	CHECK(util_write_file(path, s, strlen(s), 0600) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(broker_info_load(path, &out, err) == 0);
	CHECK_STR(out.join_token, TOKEN);
	broker_info_free(&out);
	unlink(path);
	CHECK(broker_info_load(path, &out, err) == -ENOENT);
	CHECK(strstr(err, "No such file") != NULL);
	util_free_secret(s);
	broker_info_free(&bi);
}

/* Applies edit to a valid document and expects decode to fail with want in the message. */
static int expect_bad(void (*edit)(cJSON *root), const char *want)
{
	struct broker_info out;
	char err[BRK_ERR_MAX] = "";
	char *doc = valid_doc(), *s;
	cJSON *root = cJSON_Parse(doc);
	int ok;

	util_free_secret(doc);
	if (!root)
		return 0;
	edit(root);
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	ok = broker_info_decode(s, strlen(s), &out, err) == -EINVAL && strstr(err, want);
	if (!ok)
		fprintf(stderr, "  expected an error with \"%s\", got \"%s\"\n", want, err);
	free(s);
	return ok;
}

#define SET(path_obj, key, item) cJSON_ReplaceItemInObject(path_obj, key, item)
static cJSON *ike(cJSON *r) { return cJSON_GetObjectItem(r, "ike"); }
static cJSON *gn(cJSON *r) { return cJSON_GetObjectItem(r, "globalnet"); }

static void e_version(cJSON *r) { SET(r, "version", cJSON_CreateNumber(2)); }
static void e_version_str(cJSON *r) { SET(r, "version", cJSON_CreateString("1")); }
static void e_no_urls(cJSON *r) { SET(r, "urls", cJSON_CreateArray()); }
static void e_http_url(cJSON *r)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(r, "urls"), 0,
				 cJSON_CreateString("http://198.18.0.10:8443"));
}
static void e_url_path(cJSON *r)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(r, "urls"), 0,
				 cJSON_CreateString("https://198.18.0.10:8443/x"));
}
static void e_url_port(cJSON *r)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(r, "urls"), 0,
				 cJSON_CreateString("https://198.18.0.10:70000"));
}
static void e_url_dup(cJSON *r)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(r, "urls"), 1,
				 cJSON_CreateString("https://198.18.0.10:8443"));
}
static void e_url_num(cJSON *r)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(r, "urls"), 0, cJSON_CreateNumber(1));
}
static void e_no_ca(cJSON *r) { cJSON_DeleteItemFromObject(r, "ca"); }
static void e_bad_ca(cJSON *r)
{
	SET(r, "ca", cJSON_CreateString("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
}
static void e_short_token(cJSON *r) { SET(r, "joinToken", cJSON_CreateString("abcd")); }
static void e_upper_token(cJSON *r)
{
	SET(r, "joinToken", cJSON_CreateString("00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"));
}
static void e_short_psk(cJSON *r) { SET(ike(r), "psk", cJSON_CreateString("00112233")); }
static void e_odd_psk(cJSON *r) { SET(ike(r), "psk", cJSON_CreateString(PSK "0")); }
static void e_proposals(cJSON *r) { SET(ike(r), "ikeProposals", cJSON_CreateString("aes256;rm -rf /")); }
static void e_proposals_empty(cJSON *r) { SET(ike(r), "espProposals", cJSON_CreateString("aes--sha")); }
static void e_natt(cJSON *r) { SET(ike(r), "natTPort", cJSON_CreateNumber(0)); }
static void e_natt_frac(cJSON *r) { SET(ike(r), "natTPort", cJSON_CreateNumber(4500.5)); }
static void e_gn_cidr(cJSON *r) { SET(gn(r), "cidrRange", cJSON_CreateString("242.0.0.1/8")); }
static void e_gn_size(cJSON *r) { SET(gn(r), "clusterSize", cJSON_CreateNumber(1000)); }
static void e_gn_big(cJSON *r)
{
	SET(gn(r), "cidrRange", cJSON_CreateString("242.0.0.0/24"));
}
static void e_gn_enabled(cJSON *r) { SET(gn(r), "enabled", cJSON_CreateString("yes")); }
static void e_unknown(cJSON *r) { cJSON_AddStringToObject(r, "extra", "x"); }
static void e_no_ike(cJSON *r) { cJSON_DeleteItemFromObject(r, "ike"); }

static void test_malformed(void)
{
	REQUIRE(ca);
	CHECK(expect_bad(e_version, "unsupported version 2"));
	CHECK(expect_bad(e_version_str, "\"version\""));
	CHECK(expect_bad(e_no_urls, "broker URLs"));
	CHECK(expect_bad(e_http_url, "https://"));
	CHECK(expect_bad(e_url_path, "https://"));
	CHECK(expect_bad(e_url_port, "https://"));
	CHECK(expect_bad(e_url_dup, "listed twice"));
	CHECK(expect_bad(e_url_num, "not a string"));
	CHECK(expect_bad(e_no_ca, "\"ca\""));
	CHECK(expect_bad(e_bad_ca, "CA certificate"));
	CHECK(expect_bad(e_short_token, "joinToken"));
	CHECK(expect_bad(e_upper_token, "joinToken"));
	CHECK(expect_bad(e_short_psk, "psk"));
	CHECK(expect_bad(e_odd_psk, "psk"));
	CHECK(expect_bad(e_proposals, "ikeProposals"));
	CHECK(expect_bad(e_proposals_empty, "espProposals"));
	CHECK(expect_bad(e_natt, "natTPort"));
	CHECK(expect_bad(e_natt_frac, "natTPort"));
	CHECK(expect_bad(e_gn_cidr, "242.0.0.1/8"));
	CHECK(expect_bad(e_gn_size, "power of two"));
	CHECK(expect_bad(e_gn_big, "larger than the range"));
	CHECK(expect_bad(e_gn_enabled, "enabled"));
	CHECK(expect_bad(e_unknown, "unknown field \"extra\""));
	CHECK(expect_bad(e_no_ike, "\"ike\""));
}

static void test_not_json(void)
{
	struct broker_info out;
	char err[BRK_ERR_MAX];
	char *doc;

	CHECK(broker_info_decode("", 0, &out, err) == -EINVAL && strstr(err, "not valid JSON"));
	CHECK(broker_info_decode("{\"version\":1", 12, &out, err) == -EINVAL &&
	      strstr(err, "not valid JSON"));
	CHECK(broker_info_decode("[]", 2, &out, err) == -EINVAL && strstr(err, "not a JSON object"));
	CHECK(broker_info_decode("{}x", 3, &out, err) == -EINVAL && strstr(err, "trailing"));
	CHECK(broker_info_decode("{\0}", 3, &out, err) == -EINVAL && strstr(err, "NUL"));
	/* duplicate keys are refused rather than silently taking one */
	doc = valid_doc();
	REQUIRE(doc);
	{
		size_t n = strlen(doc);
		char *dup = malloc(n + 32);

		memcpy(dup, doc, n);
		/* replace the closing brace by a second "version" */
		while (n && dup[n - 1] != '}')
			n--;
		strcpy(dup + n - 1, ",\"version\":1}");
		CHECK(broker_info_decode(dup, strlen(dup), &out, err) == -EINVAL &&
		      strstr(err, "twice"));
		free(dup);
	}
	util_free_secret(doc);
}

static void test_validators(void)
{
	char host[256];
	unsigned port = 0;

	CHECK(brk_url_parse("https://1.2.3.4:8443", host, sizeof(host), &port) == 0 &&
	      !strcmp(host, "1.2.3.4") && port == 8443);
	CHECK(brk_url_parse("https://b.example:1/", host, sizeof(host), &port) == 0 &&
	      !strcmp(host, "b.example") && port == 1);
	CHECK(brk_url_parse("https://[::1]:8443", host, sizeof(host), &port) == 0 &&
	      !strcmp(host, "::1"));
	CHECK(brk_url_parse("https://h", host, sizeof(host), &port) == 0 && port == 443);
	CHECK(brk_url_parse("https://", host, sizeof(host), &port) == -EINVAL);
	CHECK(brk_url_parse("https://1.2.3:80", host, sizeof(host), &port) == -EINVAL);
	CHECK(brk_url_parse("https://u@h:80", host, sizeof(host), &port) == -EINVAL);
	CHECK(brk_url_parse("https://h:080", host, sizeof(host), &port) == -EINVAL);
	CHECK(brk_url_parse("https://h:", host, sizeof(host), &port) == -EINVAL);
	CHECK(brk_url_parse("https://-h", host, sizeof(host), &port) == -EINVAL);
	CHECK(brk_url_parse("HTTPS://h", host, sizeof(host), &port) == -EINVAL);
	CHECK(brk_hostport_parse("127.0.0.1:2379", host, sizeof(host), &port) == 0 && port == 2379);
	CHECK(brk_hostport_parse("127.0.0.1", host, sizeof(host), &port) == -EINVAL);
	CHECK(name_is_dns_label("c1"));
	CHECK(name_is_dns_label("a-b-0"));
	CHECK(!name_is_dns_label("C1"));
	CHECK(!name_is_dns_label("-c"));
	CHECK(!name_is_dns_label("c-"));
	CHECK(!name_is_dns_label(""));
	CHECK(!name_is_dns_label("a.b"));
	CHECK(!name_is_dns_label("0123456789012345678901234567890123456789012345678901234567890123"));
	CHECK(brk_proposals_ok("aes256gcm16-prfsha256-ecp256,aes128-sha256-modp2048"));
	CHECK(!brk_proposals_ok(""));
	CHECK(!brk_proposals_ok("aes,"));
	CHECK(!brk_proposals_ok("AES"));
}

/* Without --psk (the default) broker-info carries no shared key at all. */
static void test_no_psk(void)
{
	struct broker_info bi, out;
	char err[BRK_ERR_MAX] = "";
	char *s;

	REQUIRE(ca);
	fill(&bi);
	util_free_secret(bi.psk);
	bi.psk = NULL;
	s = broker_info_encode(&bi, err);
	REQUIRE(s != NULL);
	CHECK(strstr(s, "psk") == NULL);
	CHECK(broker_info_decode(s, strlen(s), &out, err) == 0);
	CHECK(out.psk == NULL);
	broker_info_free(&out);
	broker_info_free(&bi);
	util_free_secret(s);
}

int main(void)
{
	if (pki_ca_create("subagent test CA", &ca, &ca_key)) {
		printf("FAIL: test_broker_info.c:setup (cannot create a CA)\n");
		return 1;
	}
	RUN(test_roundtrip);
	RUN(test_no_psk);
	RUN(test_malformed);
	RUN(test_not_json);
	RUN(test_validators);
	free(ca);
	util_free_secret(ca_key);
	return harness_done();
}
