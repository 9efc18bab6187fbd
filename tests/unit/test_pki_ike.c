/* Unit tests for broker/creds/pki_ike.c: the IKE signing CA, gateway keys and requests, the
 * broker signing them, and the gateway's checks, all through real GnuTLS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "broker/creds/pki.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static char *root, *root_key, *sub, *sub_key, *other, *other_key, *gw_key;

static void test_subca(void)
{
	struct pki_cert_info ci;
	char err[256];

	REQUIRE(pki_ca_create("test root", &root, &root_key) == 0);
	REQUIRE(pki_ca_create("other root", &other, &other_key) == 0);
	REQUIRE(pki_subca_create(root, root_key, "test IKE CA", 0, &sub, &sub_key) == 0);
	CHECK(pki_ca_check(sub) == 0);
	CHECK(pki_key_matches(sub, sub_key) == 0);
	CHECK(pki_cert_verify(root, sub, NULL) == 0);
	CHECK(pki_cert_verify(other, sub, NULL) == -EKEYREJECTED);
	REQUIRE(pki_cert_parse(sub, strlen(sub), &ci, err, sizeof(err)) == 0);
	CHECK(ci.is_ca);
	CHECK_STR(ci.id, "");
	/* the root's key must sign it: another key is refused */
	{
		char *c = NULL, *k = NULL;

		CHECK(pki_subca_create(root, other_key, "x", 0, &c, &k) == -EINVAL);
	}
}

static void test_csr_roundtrip(void)
{
	struct pki_csr_info ri;
	char *csr = NULL, err[256];

	REQUIRE(pki_key_create(&gw_key) == 0);
	CHECK(strstr(gw_key, "-----BEGIN PRIVATE KEY-----") == gw_key);
	REQUIRE(pki_csr_create(gw_key, "c1", &csr) == 0);
	CHECK(pki_csr_parse(csr, strlen(csr), &ri, err, sizeof(err)) == 0);
	CHECK_STR(ri.id, "c1");
	CHECK_EQ_INT(ri.key_bits, 256);
	/* identities are cluster IDs */
	CHECK(pki_csr_create(gw_key, "C1", &csr) == -EINVAL);
	CHECK(pki_csr_create(gw_key, "a.b", &csr) == -EINVAL);
	free(csr);
}

static void test_csr_refused(void)
{
	char *csr = NULL, *two, *copy, err[256];
	struct pki_csr_info ri;
	size_t n;

	REQUIRE(gw_key && pki_csr_create(gw_key, "c1", &csr) == 0);
	n = strlen(csr);
	CHECK(pki_csr_parse("", 0, &ri, err, sizeof(err)) == -EINVAL);
	CHECK(pki_csr_parse("hello", 5, &ri, err, sizeof(err)) == -EINVAL);
	/* two requests, or text after one */
	two = malloc(2 * n + 1);
	REQUIRE(two);
	memcpy(two, csr, n);
	memcpy(two + n, csr, n + 1);
	CHECK(pki_csr_parse(two, 2 * n, &ri, err, sizeof(err)) == -EINVAL);
	memcpy(two + n, "junk", 5);
	CHECK(pki_csr_parse(two, n + 4, &ri, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "after") != NULL);
	/* a NUL inside */
	CHECK(pki_csr_parse(csr, n + 1, &ri, err, sizeof(err)) == -EINVAL);
	free(two);
	/* one flipped bit in the base64 body: the signature (or the DER) no longer holds */
	copy = strdup(csr);
	REQUIRE(copy);
	{
		char *body = strchr(copy, '\n') + 1 + 200;

		*body = *body == 'A' ? 'B' : 'A';
	}
	CHECK(pki_csr_parse(copy, strlen(copy), &ri, err, sizeof(err)) == -EINVAL);
	free(copy);
	free(csr);
}

/* A request built by hand: extra subject attributes, other subjectAltNames, other keys. */
static char *raw_csr(int curve, const char *cn, const char *org, int san_type, const char *san)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crq_t crq;
	gnutls_privkey_t pk;
	gnutls_datum_t d = { NULL, 0 };
	char *out = NULL;

	if (gnutls_x509_privkey_init(&key) < 0)
		return NULL;
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(curve), 0) < 0 ||
	    gnutls_x509_crq_init(&crq) < 0) {
		gnutls_x509_privkey_deinit(key);
		return NULL;
	}
	gnutls_privkey_init(&pk);
	gnutls_x509_crq_set_version(crq, 1);
	gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn));
	if (org)
		gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, org,
					      (unsigned)strlen(org));
	if (san)
		gnutls_x509_crq_set_subject_alt_name(crq, (gnutls_x509_subject_alt_name_t)san_type, san,
						     (unsigned)strlen(san), GNUTLS_FSAN_APPEND);
	gnutls_x509_crq_set_key(crq, key);
	gnutls_privkey_import_x509(pk, key, 0);
	if (gnutls_x509_crq_privkey_sign(crq, pk, GNUTLS_DIG_SHA256, 0) >= 0 &&
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d) >= 0) {
		out = malloc(d.size + 1);
		if (out) {
			memcpy(out, d.data, d.size);
			out[d.size] = '\0';
		}
		gnutls_free(d.data);
	}
	gnutls_privkey_deinit(pk);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(key);
	return out;
}

static void test_csr_identity_rules(void)
{
	struct {
		int curve;
		const char *cn, *org;
		int san_type;
		const char *san;
		int ok;
	} cases[] = {
		{ GNUTLS_ECC_CURVE_SECP256R1, "c1", NULL, 0, NULL, 1 },
		{ GNUTLS_ECC_CURVE_SECP384R1, "c1", NULL, GNUTLS_SAN_DNSNAME, "c1", 1 },
		{ GNUTLS_ECC_CURVE_SECP521R1, "c1", NULL, 0, NULL, 0 },
		{ GNUTLS_ECC_CURVE_SECP256R1, "c1", "evil", 0, NULL, 0 },
		{ GNUTLS_ECC_CURVE_SECP256R1, "c1", NULL, GNUTLS_SAN_DNSNAME, "c2", 0 },
		{ GNUTLS_ECC_CURVE_SECP256R1, "c1", NULL, GNUTLS_SAN_RFC822NAME, "a@c1", 0 },
		{ GNUTLS_ECC_CURVE_SECP256R1, "Not A Label", NULL, 0, NULL, 0 },
	};
	struct pki_csr_info ri;
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *csr = raw_csr(cases[i].curve, cases[i].cn, cases[i].org, cases[i].san_type,
				    cases[i].san);
		int rc;

		REQUIRE(csr);
		rc = pki_csr_parse(csr, strlen(csr), &ri, err, sizeof(err));
		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "  case %zu: rc %d (%s)\n", i, rc, err);
		CHECK((rc == 0) == cases[i].ok);
		free(csr);
	}
}

static void test_sign_and_verify(void)
{
	struct pki_cert_info ci;
	char *csr = NULL, *cert = NULL, err[256], oid[128];
	size_t oid_len;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	unsigned usage = 0, crit;
	int have_ike = 0;
	time_t now = time(NULL);

	REQUIRE(sub && gw_key);
	REQUIRE(pki_csr_create(gw_key, "c1", &csr) == 0);
	/* the broker signs only for the caller's own cluster */
	CHECK(pki_csr_sign(sub, sub_key, csr, "c2", 3600, &cert) == -EINVAL);
	CHECK(pki_csr_sign(sub, sub_key, csr, "c1", 10, &cert) == -EINVAL);
	CHECK(pki_csr_sign(sub, root_key, csr, "c1", 3600, &cert) == -EINVAL);
	REQUIRE(pki_csr_sign(sub, sub_key, csr, "c1", 3600, &cert) == 0);
	/* the gateway's own key goes with the certificate: it never left the gateway */
	CHECK(pki_key_matches(cert, gw_key) == 0);
	REQUIRE(pki_cert_parse(cert, strlen(cert), &ci, err, sizeof(err)) == 0);
	CHECK_STR(ci.id, "c1");
	CHECK(!ci.is_ca);
	CHECK(ci.not_after - now >= 3590 && ci.not_after - now <= 3610);
	CHECK(now - ci.not_before >= 290 && now - ci.not_before <= 310);
	CHECK_EQ_INT(strlen(ci.fingerprint), 64);
	/* chains to the root only through the signing CA; names c1 and nothing else */
	CHECK(pki_chain_verify(root, sub, cert, "c1") == 0);
	CHECK(pki_chain_verify(root, sub, cert, NULL) == 0);
	CHECK(pki_chain_verify(root, sub, cert, "c2") == -EKEYREJECTED);
	CHECK(pki_chain_verify(root, NULL, cert, "c1") == -EKEYREJECTED);
	CHECK(pki_chain_verify(other, sub, cert, "c1") == -EKEYREJECTED);
	/* the signing CA itself is no gateway certificate */
	CHECK(pki_chain_verify(root, NULL, sub, NULL) == -EKEYREJECTED);
	d.data = (unsigned char *)cert;
	d.size = (unsigned)strlen(cert);
	REQUIRE(gnutls_x509_crt_init(&crt) == 0);
	REQUIRE(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0);
	for (unsigned i = 0;; i++) {
		oid_len = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &oid_len, NULL) < 0)
			break;
		have_ike |= !strcmp(oid, GNUTLS_KP_IPSEC_IKE);
	}
	CHECK(have_ike);
	CHECK(gnutls_x509_crt_get_key_usage(crt, &usage, &crit) >= 0 &&
	      usage == GNUTLS_KEY_DIGITAL_SIGNATURE);
	gnutls_x509_crt_deinit(crt);
	free(csr);
	free(cert);
}

static void test_cert_parse_refused(void)
{
	struct pki_cert_info ci;
	char err[256], fp1[65], fp2[65];

	REQUIRE(root);
	CHECK(pki_cert_parse("", 0, &ci, err, sizeof(err)) == -EINVAL);
	CHECK(pki_cert_parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 60,
			     &ci, err, sizeof(err)) == -EINVAL);
	/* an end-entity certificate with two names (the broker's TLS certificate style) */
	{
		const char *dns[] = { "a", "b" };
		struct pki_cert_req req = { .cn = "a", .dns = dns, .n_dns = 2, .flags = PKI_F_SERVER };
		char *c = NULL, *k = NULL;

		REQUIRE(pki_cert_issue(root, root_key, &req, &c, &k) == 0);
		CHECK(pki_cert_parse(c, strlen(c), &ci, err, sizeof(err)) == -EINVAL);
		free(c);
		util_free_secret(k);
	}
	REQUIRE(pki_fingerprint(root, fp1) == 0);
	REQUIRE(pki_fingerprint(root, fp2) == 0);
	CHECK_STR(fp1, fp2);
	REQUIRE(pki_fingerprint(other, fp2) == 0);
	CHECK(strcmp(fp1, fp2) != 0);
}

int main(void)
{
	RUN(test_subca);
	RUN(test_csr_roundtrip);
	RUN(test_csr_refused);
	RUN(test_csr_identity_rules);
	RUN(test_sign_and_verify);
	RUN(test_cert_parse_refused);
	free(root);
	free(sub);
	free(other);
	util_free_secret(root_key);
	util_free_secret(sub_key);
	util_free_secret(other_key);
	util_free_secret(gw_key);
	return harness_done();
}
