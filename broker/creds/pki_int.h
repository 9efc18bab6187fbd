/* GnuTLS helpers shared by pki.c (CA, TLS certificates) and pki_ike.c (IKE keys, requests
 * and certificates). Not a public interface. */
#ifndef SA_BROKER_PKI_INT_H
#define SA_BROKER_PKI_INT_H

#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define KEY_ID_MAX 64

/* Copies a datum into a malloc'd NUL-terminated string and frees (wipes) the datum. */
int pki_datum_to_str(gnutls_datum_t *d, char **out);
/* A datum over pem (not copied), at most PKI_MAX_PEM + 1 bytes long. */
gnutls_datum_t pki_pem_datum(const char *pem);
/* A new ECDSA P-256 key. 0, -ENOMEM or -EIO. */
int pki_gen_key(gnutls_x509_privkey_t *key);
/* PEM imports; 0 or -EINVAL (does not parse) / -ENOMEM. */
int pki_import_key(const char *pem, gnutls_x509_privkey_t *key);
int pki_import_crt(const char *pem, gnutls_x509_crt_t *crt);
/* Version 3, a random positive serial, validity [not_before, not_after], subject CN. */
int pki_crt_basics(gnutls_x509_crt_t crt, const char *cn, time_t not_before, time_t not_after);
/* Signs crt with the issuer's key (SHA-256). 0 or -EIO / -ENOMEM. */
int pki_sign_with(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t key);
/* The issuer's subject key ID as crt's authority key ID (when it has one). */
int pki_set_aki(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer);
/* Imports a CA certificate and its key, checking they belong together. */
int pki_import_ca(const char *ca_pem, const char *key_pem, gnutls_x509_crt_t *ca,
		  gnutls_x509_privkey_t *key);

/* crt and key as PEM strings (malloc'd; the key PKCS#8, unencrypted). 0 or -EIO / -ENOMEM. */
int pki_export_pair(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, char **cert_pem,
		    char **key_pem);

/* Issuing one certificate signed by a CA, in three steps: begin (the CA imported, a new key,
 * an empty certificate), the caller's fields, finish (authority key ID, signature, both as
 * PEM); end frees everything whatever happened (a zeroed struct is fine). */
struct pki_issue {
	gnutls_x509_crt_t ca, crt;
	gnutls_x509_privkey_t ca_key, key;
};
int pki_issue_begin(struct pki_issue *is, const char *ca_pem, const char *ca_key_pem);
int pki_issue_finish(struct pki_issue *is, char **cert_pem, char **key_pem);
void pki_issue_end(struct pki_issue *is);

#endif
