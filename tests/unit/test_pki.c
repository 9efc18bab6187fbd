/* Unit tests for broker/creds/pki.c: real GnuTLS chain verification. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "broker/creds/pki.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static char *ca1, *ca1_key, *ca2, *ca2_key;

static void test_ca_create(void)
{
	REQUIRE(pki_ca_create("subagent test CA 1", &ca1, &ca1_key) == 0);
	REQUIRE(pki_ca_create("subagent test CA 2", &ca2, &ca2_key) == 0);
	CHECK(strstr(ca1, "-----BEGIN CERTIFICATE-----") == ca1);
	CHECK(strstr(ca1_key, "-----BEGIN PRIVATE KEY-----") == ca1_key);
	CHECK(pki_ca_check(ca1) == 0);
	CHECK(pki_key_matches(ca1, ca1_key) == 0);
	CHECK(pki_key_matches(ca1, ca2_key) == -EINVAL);
	/* a self-signed CA verifies against itself, not against another CA */
	CHECK(pki_cert_verify(ca1, ca1, NULL) == 0);
	CHECK(pki_cert_verify(ca2, ca1, NULL) == -EKEYREJECTED);
}

static void test_ca_properties(void)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)ca1, (unsigned)strlen(ca1) };
	unsigned bits = 0, crit, ca = 0;
	int pathlen, algo;
	time_t exp;

	REQUIRE(ca1);
	REQUIRE(gnutls_x509_crt_init(&crt) == 0);
	REQUIRE(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0);
	algo = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	CHECK_EQ_INT(algo, GNUTLS_PK_ECDSA);
	CHECK_EQ_INT(bits, 256);
	CHECK(gnutls_x509_crt_get_basic_constraints(crt, &crit, &ca, &pathlen) >= 0 && ca == 1);
	exp = gnutls_x509_crt_get_expiration_time(crt);
	/* 10 years, give or take a leap day */
	CHECK(exp - time(NULL) > (time_t)3649 * 86400 && exp - time(NULL) <= (time_t)3651 * 86400);
	gnutls_x509_crt_deinit(crt);
}

static void test_server_cert(void)
{
	const char *dns[] = { "localhost", "broker.example.org" };
	const char *ips[] = { "127.0.0.1", "198.18.0.10", "::1" };
	struct pki_cert_req req = {
		.cn = "subagent broker", .dns = dns, .n_dns = 2, .ips = ips, .n_ips = 3,
		.flags = PKI_F_SERVER,
	};
	char *cert = NULL, *key = NULL;

	REQUIRE(ca1 && ca2);
	REQUIRE(pki_cert_issue(ca1, ca1_key, &req, &cert, &key) == 0);
	CHECK(pki_key_matches(cert, key) == 0);
	CHECK(pki_ca_check(cert) == -EINVAL);	/* not a CA */
	CHECK(pki_cert_verify(ca1, cert, NULL) == 0);
	CHECK(pki_cert_verify(ca1, cert, "127.0.0.1") == 0);
	CHECK(pki_cert_verify(ca1, cert, "198.18.0.10") == 0);
	CHECK(pki_cert_verify(ca1, cert, "::1") == 0);
	CHECK(pki_cert_verify(ca1, cert, "localhost") == 0);
	CHECK(pki_cert_verify(ca1, cert, "broker.example.org") == 0);
	CHECK(pki_cert_verify(ca1, cert, "198.18.0.11") == -EKEYREJECTED);
	CHECK(pki_cert_verify(ca1, cert, "evil.example.org") == -EKEYREJECTED);
	/* a certificate from another CA fails */
	CHECK(pki_cert_verify(ca2, cert, NULL) == -EKEYREJECTED);
	CHECK(pki_cert_verify(ca2, cert, "127.0.0.1") == -EKEYREJECTED);
	free(cert);
	util_free_secret(key);
}

static void test_cluster_cert(void)
{
	const char *dns[] = { "c1" };
	struct pki_cert_req req = {
		.cn = "c1", .dns = dns, .n_dns = 1, .flags = PKI_F_CLIENT | PKI_F_IKE,
	};
	char *cert = NULL, *key = NULL, oid[128];
	size_t oid_len;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	int have_client = 0, have_ike = 0, have_server = 0;

	REQUIRE(ca1 && ca2);
	REQUIRE(pki_cert_issue(ca2, ca2_key, &req, &cert, &key) == 0);
	CHECK(pki_cert_verify(ca2, cert, "c1") == 0);
	CHECK(pki_cert_verify(ca1, cert, "c1") == -EKEYREJECTED);
	d.data = (unsigned char *)cert;
	d.size = (unsigned)strlen(cert);
	REQUIRE(gnutls_x509_crt_init(&crt) == 0);
	REQUIRE(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0);
	for (unsigned i = 0;; i++) {
		oid_len = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &oid_len, NULL) < 0)
			break;
		have_client |= !strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT);
		have_ike |= !strcmp(oid, GNUTLS_KP_IPSEC_IKE);
		have_server |= !strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER);
	}
	CHECK(have_client && have_ike && !have_server);
	gnutls_x509_crt_deinit(crt);
	free(cert);
	util_free_secret(key);
}

static void test_bad_inputs(void)
{
	const char *bad_ip[] = { "300.1.1.1" };
	const char *bad_dns[] = { "a b" };
	struct pki_cert_req req = { .cn = "x", .ips = bad_ip, .n_ips = 1, .flags = PKI_F_SERVER };
	char *cert = NULL, *key = NULL;

	REQUIRE(ca1 && ca2);
	CHECK(pki_cert_issue(ca1, ca1_key, &req, &cert, &key) == -EINVAL);
	req.n_ips = 0;
	req.dns = bad_dns;
	req.n_dns = 1;
	CHECK(pki_cert_issue(ca1, ca1_key, &req, &cert, &key) == -EINVAL);
	req.n_dns = 0;
	/* CA key that does not belong to the CA certificate */
	CHECK(pki_cert_issue(ca1, ca2_key, &req, &cert, &key) == -EINVAL);
	CHECK(pki_cert_issue("garbage", ca1_key, &req, &cert, &key) == -EINVAL);
	CHECK(pki_cert_issue(ca1, "garbage", &req, &cert, &key) == -EINVAL);
	req.cn = "";
	CHECK(pki_cert_issue(ca1, ca1_key, &req, &cert, &key) == -EINVAL);
	CHECK(pki_ca_check("") == -EINVAL);
	CHECK(pki_ca_check("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") == -EINVAL);
	CHECK(pki_cert_verify("junk", ca1, NULL) == -EINVAL);
	CHECK(pki_cert_verify(ca1, "junk", NULL) == -EINVAL);
}

int main(void)
{
	RUN(test_ca_create);
	RUN(test_ca_properties);
	RUN(test_server_cert);
	RUN(test_cluster_cert);
	RUN(test_bad_inputs);
	free(ca1);
	free(ca2);
	util_free_secret(ca1_key);
	util_free_secret(ca2_key);
	return harness_done();
}
