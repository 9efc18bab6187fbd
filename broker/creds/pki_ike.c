/* IKE identities on GnuTLS: the broker's signing CA (an intermediate under the root), a
 * gateway's key and certificate request, the broker signing a request for the caller's
 * cluster, and the checks a gateway makes on what it gets back. */
#include "broker/creds/pki.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/creds/pki_int.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

#define CSR_BEGIN	"-----BEGIN CERTIFICATE REQUEST-----"
#define CSR_BEGIN_NEW	"-----BEGIN NEW CERTIFICATE REQUEST-----"	/* GnuTLS writes this */
#define CRT_BEGIN	"-----BEGIN CERTIFICATE-----"
/* Slack for gateways whose clock is a little behind the broker's: 5 minutes, or a tenth
 * of a short lifetime (so that half the validity is still ahead at issuance). */
#define IKE_BACKDATE_S	300

/* A NUL-terminated copy of untrusted bytes holding exactly one PEM block that starts with
 * begin (or begin2 when not NULL), nothing but whitespace around it. NULL with err set. */
static char *one_pem(const char *buf, size_t len, const char *begin, const char *begin2,
		     const char *what, char *err, size_t errlen)
{
	const char *p, *end;
	char *s;

	if (!buf || len == 0 || len > PKI_MAX_PEM) {
		util_einval(err, errlen, "%s must be 1 to %d bytes of PEM", what, PKI_MAX_PEM);
		return NULL;
	}
	if (memchr(buf, '\0', len)) {
		util_einval(err, errlen, "%s holds a NUL byte", what);
		return NULL;
	}
	s = malloc(len + 1);
	if (!s) {
		util_einval(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(s, buf, len);
	s[len] = '\0';
	p = s + strspn(s, " \t\r\n");
	if ((strncmp(p, begin, strlen(begin)) && (!begin2 || strncmp(p, begin2, strlen(begin2)))) ||
	    strstr(p + 1, "-----BEGIN ")) {
		util_einval(err, errlen, "%s is not exactly one PEM block starting with %s", what, begin);
		free(s);
		return NULL;
	}
	end = strstr(p, "-----END ");
	if (!end || !(end = strstr(end + 9, "-----")) || end[5 + strspn(end + 5, " \t\r\n")]) {
		util_einval(err, errlen, "%s has text after its PEM block", what);
		free(s);
		return NULL;
	}
	return s;
}

int pki_subca_create(const char *ca_pem, const char *ca_key_pem, const char *cn, unsigned days,
		     char **cert_pem, char **key_pem)
{
	struct pki_issue is = { 0 };
	unsigned char kid[KEY_ID_MAX];
	size_t kid_len = sizeof(kid);
	time_t now = time(NULL), ca_end, end;
	int err;

	err = pki_issue_begin(&is, ca_pem, ca_key_pem);
	if (err)
		goto out;
	ca_end = gnutls_x509_crt_get_expiration_time(is.ca);
	end = now + (time_t)(days ? days : PKI_CA_DAYS) * 86400;
	err = pki_crt_basics(is.crt, cn, now - 3600, end < ca_end ? end : ca_end);
	if (err)
		goto out;
	/* pathlen 0: it signs gateways' certificates, never another CA */
	if (gnutls_x509_crt_set_key(is.crt, is.key) < 0 ||
	    gnutls_x509_privkey_get_key_id(is.key, 0, kid, &kid_len) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(is.crt, kid, kid_len) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(is.crt, 1, 0) < 0 ||
	    gnutls_x509_crt_set_key_usage(is.crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
					  GNUTLS_KEY_DIGITAL_SIGNATURE) < 0) {
		err = -EIO;
		goto out;
	}
	err = pki_issue_finish(&is, cert_pem, key_pem);
out:
	pki_issue_end(&is);
	return err;
}

int pki_key_create(char **key_pem)
{
	gnutls_x509_privkey_t key;
	gnutls_datum_t d = { NULL, 0 };
	int err = pki_gen_key(&key);

	if (err)
		return err;
	if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					      &d) < 0)
		err = -EIO;
	else
		err = pki_datum_to_str(&d, key_pem);
	gnutls_x509_privkey_deinit(key);
	return err;
}

int pki_csr_create(const char *key_pem, const char *id, char **csr_pem)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_datum_t d = { NULL, 0 };
	int err;

	if (!id || !name_is_dns_label(id))
		return -EINVAL;
	err = pki_import_key(key_pem, &key);
	if (err)
		return err;
	err = -EIO;
	if (gnutls_x509_crq_init(&crq) < 0 || gnutls_privkey_init(&pk) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (gnutls_x509_crq_set_version(crq, 1) < 0 ||
	    gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, id,
					  (unsigned)strlen(id)) < 0 ||
	    gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, id, (unsigned)strlen(id),
						 GNUTLS_FSAN_SET) < 0 ||
	    gnutls_x509_crq_set_key(crq, key) < 0 ||
	    gnutls_privkey_import_x509(pk, key, 0) < 0 ||
	    gnutls_x509_crq_privkey_sign(crq, pk, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d) < 0)
		goto out;
	err = pki_datum_to_str(&d, csr_pem);
out:
	if (pk)
		gnutls_privkey_deinit(pk);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(key);
	return err;
}

/* ECDSA on P-256 or P-384: what every charon's openssl plugin verifies. */
static bool key_ok(int algo, unsigned bits)
{
	return algo == GNUTLS_PK_ECDSA && (bits == 256 || bits == 384);
}

/* The request's identity: a DN that is one CN holding a DNS label, and no subjectAltName
 * other than that label as a DNS name. */
static int crq_identity(gnutls_x509_crq_t crq, char id[PKI_ID_MAX], char *err, size_t errlen)
{
	char oid[128], san[256];
	size_t len = PKI_ID_MAX, olen = sizeof(oid);
	unsigned type, crit;
	int ret;

	ret = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, id, &len);
	if (ret < 0 || len == 0 || strlen(id) != len || !name_is_dns_label(id))
		return util_einval(err, errlen, "the request's subject must be CN=<cluster ID>");
	if (gnutls_x509_crq_get_dn_oid(crq, 1, oid, &olen) != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return util_einval(err, errlen, "the request's subject holds more than CN=%s", id);
	for (unsigned i = 0;; i++) {
		size_t slen = sizeof(san) - 1;

		ret = gnutls_x509_crq_get_subject_alt_name(crq, i, san, &slen, &type, &crit);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (i >= 8)
			return util_einval(err, errlen, "the request has too many subjectAltNames");
		if (ret < 0 || type != GNUTLS_SAN_DNSNAME || slen != strlen(id) ||
		    memcmp(san, id, slen))
			return util_einval(err, errlen,
					   "the request's subjectAltNames must be the DNS name %s only", id);
	}
	return 0;
}

int pki_csr_parse(const char *buf, size_t len, struct pki_csr_info *info, char *err,
		  size_t errlen)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t d;
	unsigned bits = 0;
	char *pem;
	int algo, ret;

	memset(info, 0, sizeof(*info));
	pem = one_pem(buf, len, CSR_BEGIN, CSR_BEGIN_NEW, "the certificate request", err, errlen);
	if (!pem)
		return -EINVAL;
	d = pki_pem_datum(pem);
	if (gnutls_x509_crq_init(&crq) < 0) {
		free(pem);
		return util_einval(err, errlen, "out of memory"), -ENOMEM;
	}
	ret = -EINVAL;
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM) < 0) {
		util_einval(err, errlen, "the certificate request is not a PKCS#10 request");
		goto out;
	}
	if (gnutls_x509_crq_verify(crq, 0) < 0) {
		util_einval(err, errlen, "the certificate request's signature does not verify");
		goto out;
	}
	algo = gnutls_x509_crq_get_pk_algorithm(crq, &bits);
	if (!key_ok(algo, bits)) {
		util_einval(err, errlen, "the request's key is %s %u bits; use ECDSA P-256 or P-384",
			    algo < 0 ? "unknown" : gnutls_pk_get_name((gnutls_pk_algorithm_t)algo), bits);
		goto out;
	}
	ret = crq_identity(crq, info->id, err, errlen);
	if (ret)
		goto out;
	info->key_bits = bits;
out:
	gnutls_x509_crq_deinit(crq);
	free(pem);
	if (ret)
		memset(info, 0, sizeof(*info));
	return ret;
}

int pki_csr_sign(const char *ca_pem, const char *ca_key_pem, const char *csr_pem,
		 const char *id, unsigned lifetime_s, char **cert_pem)
{
	gnutls_x509_privkey_t ca_key = NULL;
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pub = NULL;
	struct pki_csr_info info;
	unsigned char kid[KEY_ID_MAX];
	size_t kid_len = sizeof(kid);
	gnutls_datum_t d;
	time_t now = time(NULL), end, ca_end;
	char err[128];
	int ret;

	if (!csr_pem || !id || lifetime_s < 60 || lifetime_s > PKI_IKE_MAX_S ||
	    pki_csr_parse(csr_pem, strlen(csr_pem), &info, err, sizeof(err)) ||
	    strcmp(info.id, id))
		return -EINVAL;
	ret = pki_import_ca(ca_pem, ca_key_pem, &ca, &ca_key);
	if (ret)
		return ret;
	ret = -ENOMEM;
	if (gnutls_x509_crq_init(&crq) < 0 || gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0)
		goto out;
	d = pki_pem_datum(csr_pem);
	ret = -EIO;
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_import_x509_crq(pub, crq, 0) < 0)
		goto out;
	/* never beyond the signing CA itself */
	ca_end = gnutls_x509_crt_get_expiration_time(ca);
	end = now + (time_t)lifetime_s < ca_end ? now + (time_t)lifetime_s : ca_end;
	ret = pki_crt_basics(crt, id, now - (lifetime_s / 10 < IKE_BACKDATE_S ? (time_t)lifetime_s / 10 :
					      IKE_BACKDATE_S), end);
	if (ret)
		goto out;
	ret = -EIO;
	if (gnutls_x509_crt_set_pubkey(crt, pub) < 0 ||
	    gnutls_pubkey_get_key_id(pub, 0, kid, &kid_len) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len) < 0 ||
	    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, id, (unsigned)strlen(id),
						 GNUTLS_FSAN_SET) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_IPSEC_IKE, 0) < 0)
		goto out;
	ret = pki_set_aki(crt, ca);
	if (!ret)
		ret = pki_sign_with(crt, ca, ca_key);
	if (ret)
		goto out;
	d.data = NULL;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0) {
		ret = -EIO;
		goto out;
	}
	ret = pki_datum_to_str(&d, cert_pem);
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(ca_key);
	gnutls_x509_crt_deinit(ca);
	return ret;
}

/* The certificate's DNS subjectAltNames: exactly one, a DNS label, into id. */
static int crt_identity(gnutls_x509_crt_t crt, char id[PKI_ID_MAX])
{
	char san[256];
	unsigned n = 0;
	int ret;

	for (unsigned i = 0; i < 16; i++) {
		size_t len = sizeof(san) - 1;
		unsigned crit;

		ret = gnutls_x509_crt_get_subject_alt_name(crt, i, san, &len, &crit);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret != GNUTLS_SAN_DNSNAME)
			continue;
		san[len] = '\0';
		if (n++ || strlen(san) != len || len >= PKI_ID_MAX || !name_is_dns_label(san))
			return -EINVAL;
		memcpy(id, san, len + 1);
	}
	return n == 1 ? 0 : -EINVAL;
}

int pki_cert_parse(const char *buf, size_t len, struct pki_cert_info *info, char *err,
		   size_t errlen)
{
	gnutls_x509_crt_t crt = NULL;
	unsigned crit = 0, ca = 0;
	int pathlen = 0, ret = -EINVAL;
	size_t fl = 32;
	unsigned char fp[32];
	char *pem;

	memset(info, 0, sizeof(*info));
	pem = one_pem(buf, len, CRT_BEGIN, NULL, "the certificate", err, errlen);
	if (!pem)
		return -EINVAL;
	if (pki_import_crt(pem, &crt)) {
		util_einval(err, errlen, "the certificate is not an X.509 certificate");
		goto out;
	}
	info->not_before = gnutls_x509_crt_get_activation_time(crt);
	info->not_after = gnutls_x509_crt_get_expiration_time(crt);
	if (info->not_before == (time_t)-1 || info->not_after == (time_t)-1 ||
	    info->not_after <= info->not_before) {
		util_einval(err, errlen, "the certificate's validity period is malformed");
		goto out;
	}
	info->is_ca = gnutls_x509_crt_get_basic_constraints(crt, &crit, &ca, &pathlen) >= 0 && ca;
	if (!info->is_ca && crt_identity(crt, info->id)) {
		util_einval(err, errlen,
			    "the certificate must name exactly one cluster ID as its DNS subjectAltName");
		goto out;
	}
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fl) < 0 || fl != 32) {
		util_einval(err, errlen, "cannot fingerprint the certificate");
		goto out;
	}
	for (size_t i = 0; i < fl; i++)
		snprintf(info->fingerprint + 2 * i, 3, "%02x", fp[i]);
	ret = 0;
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	free(pem);
	if (ret)
		memset(info, 0, sizeof(*info));
	return ret;
}

int pki_fingerprint(const char *pem, char out[65])
{
	gnutls_x509_crt_t crt = NULL;
	unsigned char fp[32];
	size_t fl = sizeof(fp);
	int err = pki_import_crt(pem, &crt);

	if (err)
		return err;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fl) < 0 || fl != 32)
		err = -EIO;
	for (size_t i = 0; !err && i < fl; i++)
		snprintf(out + 2 * i, 3, "%02x", fp[i]);
	gnutls_x509_crt_deinit(crt);
	return err;
}

int pki_chain_verify(const char *root_pem, const char *chain_pem, const char *cert_pem,
		     const char *id)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t *roots = NULL, *ims = NULL, list[1 + PKI_MAX_CHAIN];
	unsigned n_roots = 0, n_ims = 0, n = 0, status = 0, crit, ca = 0;
	char name[PKI_ID_MAX];
	gnutls_datum_t d;
	int pathlen, err = -EINVAL;

	if (!root_pem || !cert_pem || strnlen(root_pem, PKI_MAX_PEM + 1) > PKI_MAX_PEM ||
	    (chain_pem && strnlen(chain_pem, PKI_MAX_PEM + 1) > PKI_MAX_PEM))
		return -EINVAL;
	if (pki_import_crt(cert_pem, &list[0]))
		return -EINVAL;
	n = 1;
	d = pki_pem_datum(root_pem);
	if (gnutls_x509_crt_list_import2(&roots, &n_roots, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
		goto out;
	if (chain_pem && *chain_pem) {
		d = pki_pem_datum(chain_pem);
		if (gnutls_x509_crt_list_import2(&ims, &n_ims, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
			goto out;
		for (unsigned i = 0; i < n_ims; i++) {
			if (n == 1 + PKI_MAX_CHAIN)
				gnutls_x509_crt_deinit(ims[i]);
			else
				list[n++] = ims[i];
		}
		if (n_ims > PKI_MAX_CHAIN)
			goto out;
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (gnutls_x509_trust_list_add_cas(tl, roots, n_roots, 0) < 0)
		goto out;
	/* the trust list owns the roots from here on */
	gnutls_free(roots);
	roots = NULL;
	n_roots = 0;
	err = -EKEYREJECTED;
	if (gnutls_x509_trust_list_verify_crt(tl, list, n, 0, &status, NULL) < 0 || status)
		goto out;
	if (gnutls_x509_crt_get_basic_constraints(list[0], &crit, &ca, &pathlen) >= 0 && ca)
		goto out;
	if (id && (crt_identity(list[0], name) || strcmp(name, id)))
		goto out;
	err = 0;
out:
	if (tl)
		gnutls_x509_trust_list_deinit(tl, 1);
	for (unsigned i = 0; i < n_roots; i++)
		gnutls_x509_crt_deinit(roots[i]);
	gnutls_free(roots);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(ims);
	return err;
}
