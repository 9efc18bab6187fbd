/* The broker's PKI on GnuTLS: CA creation, certificate issuance, chain verification. */
#include "broker/creds/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "broker/creds/pki_int.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

/* Copies a GnuTLS datum into a malloc'd NUL-terminated string and frees the datum
 * (wiping it first: it may be a private key). */
int pki_datum_to_str(gnutls_datum_t *d, char **out)
{
	char *s = malloc(d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = '\0';
	}
	explicit_bzero(d->data, d->size);
	gnutls_free(d->data);
	d->data = NULL;
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

gnutls_datum_t pki_pem_datum(const char *pem)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strnlen(pem, PKI_MAX_PEM + 1) };

	return d;
}

int pki_gen_key(gnutls_x509_privkey_t *key)
{
	int ret = gnutls_x509_privkey_init(key);

	if (ret < 0)
		return -ENOMEM;
	ret = gnutls_x509_privkey_generate2(*key, GNUTLS_PK_ECDSA,
					    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
					    0, NULL, 0);
	if (ret < 0) {
		pr_err("generate ECDSA key: %s\n", gnutls_strerror(ret));
		gnutls_x509_privkey_deinit(*key);
		*key = NULL;
		return -EIO;
	}
	return 0;
}

int pki_import_key(const char *pem, gnutls_x509_privkey_t *key)
{
	gnutls_datum_t d;

	if (!pem || strnlen(pem, PKI_MAX_PEM + 1) > PKI_MAX_PEM)
		return -EINVAL;
	d = pki_pem_datum(pem);
	if (gnutls_x509_privkey_init(key) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_import2(*key, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		gnutls_x509_privkey_deinit(*key);
		*key = NULL;
		return -EINVAL;
	}
	return 0;
}

int pki_import_crt(const char *pem, gnutls_x509_crt_t *crt)
{
	gnutls_datum_t d;

	if (!pem || strnlen(pem, PKI_MAX_PEM + 1) > PKI_MAX_PEM)
		return -EINVAL;
	d = pki_pem_datum(pem);
	if (gnutls_x509_crt_init(crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM) < 0) {
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
		return -EINVAL;
	}
	return 0;
}

int pki_export_pair(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
		    char **cert_pem, char **key_pem)
{
	gnutls_datum_t d = { NULL, 0 };
	char *c = NULL, *k = NULL;
	int err;

	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
		return -EIO;
	err = pki_datum_to_str(&d, &c);
	if (err)
		return err;
	if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
					      GNUTLS_PKCS_PLAIN, &d) < 0) {
		free(c);
		return -EIO;
	}
	err = pki_datum_to_str(&d, &k);
	if (err) {
		free(c);
		return err;
	}
	*cert_pem = c;
	*key_pem = k;
	return 0;
}

int pki_crt_basics(gnutls_x509_crt_t crt, const char *cn, time_t not_before, time_t not_after)
{
	unsigned char serial[16];
	int err;

	if (!cn || !*cn || strlen(cn) > 64 || not_after <= not_before)
		return -EINVAL;
	err = util_random(serial, sizeof(serial));
	if (err)
		return err;
	/* Positive, and minimal in DER (first byte neither 0x00 nor >= 0x80). */
	serial[0] = (unsigned char)((serial[0] & 0x3f) | 0x40);
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, not_before) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, not_after) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strlen(cn)) < 0)
		return -EIO;
	return 0;
}

/* Version, random serial, validity, subject CN, public key, subject key id. */
static int crt_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn,
		      unsigned days)
{
	unsigned char kid[KEY_ID_MAX];
	size_t kid_len = sizeof(kid);
	time_t now = time(NULL);
	/* an hour of slack for clocks that are a little behind */
	int err = pki_crt_basics(crt, cn, now - 3600, now + (time_t)days * 86400);

	if (err)
		return err;
	if (gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, 0, kid, &kid_len) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len) < 0)
		return -EIO;
	return 0;
}

int pki_set_aki(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	unsigned char kid[KEY_ID_MAX];
	size_t kid_len = sizeof(kid);
	unsigned crit;

	if (gnutls_x509_crt_get_subject_key_id(issuer, kid, &kid_len, &crit) >= 0 &&
	    gnutls_x509_crt_set_authority_key_id(crt, kid, kid_len) < 0)
		return -EIO;
	return 0;
}

int pki_import_ca(const char *ca_pem, const char *key_pem, gnutls_x509_crt_t *ca,
		  gnutls_x509_privkey_t *key)
{
	int err = pki_import_crt(ca_pem, ca);

	if (err)
		return err;
	err = pki_import_key(key_pem, key);
	if (!err)
		err = pki_key_matches(ca_pem, key_pem);
	if (err) {
		if (*key)
			gnutls_x509_privkey_deinit(*key);
		gnutls_x509_crt_deinit(*ca);
		*key = NULL;
		*ca = NULL;
	}
	return err;
}

int pki_sign_with(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer,
		  gnutls_x509_privkey_t issuer_key)
{
	gnutls_privkey_t pk;
	int ret;

	if (gnutls_privkey_init(&pk) < 0)
		return -ENOMEM;
	ret = gnutls_privkey_import_x509(pk, issuer_key, 0);
	if (ret >= 0)
		ret = gnutls_x509_crt_privkey_sign(crt, issuer, pk, GNUTLS_DIG_SHA256, 0);
	gnutls_privkey_deinit(pk);
	if (ret < 0) {
		pr_err("sign certificate: %s\n", gnutls_strerror(ret));
		return -EIO;
	}
	return 0;
}

int pki_ca_create(const char *cn, char **cert_pem, char **key_pem)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int err;

	err = pki_gen_key(&key);
	if (err)
		return err;
	if (gnutls_x509_crt_init(&crt) < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = crt_common(crt, key, cn, PKI_CA_DAYS);
	if (err)
		goto out;
	/* pathlen 1: below the root only the IKE signing CA, which signs gateways */
	if (gnutls_x509_crt_set_basic_constraints(crt, 1, 1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN |
					  GNUTLS_KEY_CRL_SIGN |
					  GNUTLS_KEY_DIGITAL_SIGNATURE) < 0) {
		err = -EIO;
		goto out;
	}
	err = pki_sign_with(crt, crt, key);
	if (err)
		goto out;
	err = pki_export_pair(crt, key, cert_pem, key_pem);
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return err;
}

static int add_sans(gnutls_x509_crt_t crt, const struct pki_cert_req *req)
{
	for (size_t i = 0; i < req->n_dns; i++) {
		if (!req->dns[i] || !name_is_hostname(req->dns[i]))
			return -EINVAL;
		if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, req->dns[i],
							 (unsigned)strlen(req->dns[i]),
							 GNUTLS_FSAN_APPEND) < 0)
			return -EIO;
	}
	for (size_t i = 0; i < req->n_ips; i++) {
		unsigned char ip[16];
		unsigned len;

		if (!req->ips[i])
			return -EINVAL;
		if (inet_pton(AF_INET, req->ips[i], ip) == 1)
			len = 4;
		else if (inet_pton(AF_INET6, req->ips[i], ip) == 1)
			len = 16;
		else
			return -EINVAL;
		if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, len,
							 GNUTLS_FSAN_APPEND) < 0)
			return -EIO;
	}
	return 0;
}

int pki_issue_begin(struct pki_issue *is, const char *ca_pem, const char *ca_key_pem)
{
	int err = pki_import_ca(ca_pem, ca_key_pem, &is->ca, &is->ca_key);

	if (err) {
		is->ca = NULL;
		is->ca_key = NULL;
		return err;
	}
	err = pki_gen_key(&is->key);
	if (err) {
		is->key = NULL;
		return err;
	}
	if (gnutls_x509_crt_init(&is->crt) < 0) {
		is->crt = NULL;
		return -ENOMEM;
	}
	return 0;
}

int pki_issue_finish(struct pki_issue *is, char **cert_pem, char **key_pem)
{
	int err = pki_set_aki(is->crt, is->ca);

	if (!err)
		err = pki_sign_with(is->crt, is->ca, is->ca_key);
	if (!err)
		err = pki_export_pair(is->crt, is->key, cert_pem, key_pem);
	return err;
}

void pki_issue_end(struct pki_issue *is)
{
	if (is->crt)
		gnutls_x509_crt_deinit(is->crt);
	if (is->key)
		gnutls_x509_privkey_deinit(is->key);
	if (is->ca_key)
		gnutls_x509_privkey_deinit(is->ca_key);
	if (is->ca)
		gnutls_x509_crt_deinit(is->ca);
	memset(is, 0, sizeof(*is));
}

int pki_cert_issue(const char *ca_cert_pem, const char *ca_key_pem,
		   const struct pki_cert_req *req, char **cert_pem, char **key_pem)
{
	struct pki_issue is = { 0 };
	unsigned usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	int err;

	if (!req || !req->flags)
		return -EINVAL;
	err = pki_issue_begin(&is, ca_cert_pem, ca_key_pem);
	if (err)
		goto out;
	err = crt_common(is.crt, is.key, req->cn, req->days ? req->days : PKI_CERT_DAYS);
	if (err)
		goto out;
	err = add_sans(is.crt, req);
	if (err)
		goto out;
	if (gnutls_x509_crt_set_basic_constraints(is.crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(is.crt, usage) < 0 ||
	    ((req->flags & PKI_F_SERVER) &&
	     gnutls_x509_crt_set_key_purpose_oid(is.crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0) ||
	    ((req->flags & PKI_F_CLIENT) &&
	     gnutls_x509_crt_set_key_purpose_oid(is.crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0) ||
	    ((req->flags & PKI_F_IKE) &&
	     gnutls_x509_crt_set_key_purpose_oid(is.crt, GNUTLS_KP_IPSEC_IKE, 0) < 0)) {
		err = -EIO;
		goto out;
	}
	err = pki_issue_finish(&is, cert_pem, key_pem);
out:
	pki_issue_end(&is);
	return err;
}

int pki_cert_verify(const char *ca_pem, const char *cert_pem, const char *name)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t *cas = NULL, crt = NULL;
	gnutls_datum_t d;
	unsigned n_cas = 0, status = 0;
	unsigned char ip[16];
	int err = -EINVAL, ret;

	if (!ca_pem || strnlen(ca_pem, PKI_MAX_PEM + 1) > PKI_MAX_PEM)
		return -EINVAL;
	d = pki_pem_datum(ca_pem);
	if (gnutls_x509_crt_list_import2(&cas, &n_cas, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
		return -EINVAL;
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		err = -ENOMEM;
		goto out_cas;
	}
	/* the trust list owns the CAs from here on */
	if (gnutls_x509_trust_list_add_cas(tl, cas, n_cas, 0) < 0) {
		gnutls_x509_trust_list_deinit(tl, 0);
		goto out_cas;
	}
	gnutls_free(cas);
	cas = NULL;
	err = pki_import_crt(cert_pem, &crt);
	if (err)
		goto out;
	ret = gnutls_x509_trust_list_verify_crt(tl, &crt, 1, 0, &status, NULL);
	if (ret < 0 || status != 0) {
		err = -EKEYREJECTED;
		goto out;
	}
	if (name) {
		if (inet_pton(AF_INET, name, ip) == 1)
			ret = gnutls_x509_crt_check_ip(crt, ip, 4, 0);
		else if (inet_pton(AF_INET6, name, ip) == 1)
			ret = gnutls_x509_crt_check_ip(crt, ip, 16, 0);
		else
			ret = gnutls_x509_crt_check_hostname2(crt, name, 0);
		if (!ret) {
			err = -EKEYREJECTED;
			goto out;
		}
	}
	err = 0;
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_x509_trust_list_deinit(tl, 1);
	return err;
out_cas:
	for (unsigned i = 0; i < n_cas; i++)
		gnutls_x509_crt_deinit(cas[i]);
	gnutls_free(cas);
	return err;
}

int pki_ca_check(const char *pem)
{
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0, crit = 0, ca = 0;
	int pathlen = 0, err = -EINVAL;
	gnutls_datum_t d;

	if (!pem || strnlen(pem, PKI_MAX_PEM + 1) > PKI_MAX_PEM || !strstr(pem, "-----BEGIN CERTIFICATE-----"))
		return -EINVAL;
	d = pki_pem_datum(pem);
	if (gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
		return -EINVAL;
	if (n >= 1 && gnutls_x509_crt_get_basic_constraints(crts[0], &crit, &ca, &pathlen) >= 0 &&
	    ca)
		err = 0;
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return err;
}

int pki_key_matches(const char *cert_pem, const char *key_pem)
{
	unsigned char a[KEY_ID_MAX], b[KEY_ID_MAX];
	size_t la = sizeof(a), lb = sizeof(b);
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int err;

	err = pki_import_crt(cert_pem, &crt);
	if (err)
		return err;
	err = pki_import_key(key_pem, &key);
	if (err)
		goto out;
	err = -EINVAL;
	if (gnutls_x509_crt_get_key_id(crt, 0, a, &la) >= 0 &&
	    gnutls_x509_privkey_get_key_id(key, 0, b, &lb) >= 0 &&
	    la == lb && !memcmp(a, b, la))
		err = 0;
	gnutls_x509_privkey_deinit(key);
out:
	gnutls_x509_crt_deinit(crt);
	return err;
}
