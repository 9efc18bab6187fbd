/* The broker's small PKI (GnuTLS): a CA, the broker's TLS server certificate, and
 * per-cluster client/IKE certificates. Everything goes in and out as PEM strings.
 * Keys are ECDSA P-256; signatures SHA-256. Private-key PEMs are secrets: free them
 * with util_free_secret(). */
#ifndef SA_BROKER_PKI_H
#define SA_BROKER_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum {
	PKI_F_SERVER = 1U << 0,	/* extendedKeyUsage serverAuth */
	PKI_F_CLIENT = 1U << 1,	/* extendedKeyUsage clientAuth */
	PKI_F_IKE    = 1U << 2,	/* extendedKeyUsage ipsecIKE */
};

#define PKI_CA_DAYS	3650
#define PKI_CERT_DAYS	3650
#define PKI_MAX_PEM	(64 * 1024)

struct pki_cert_req {
	const char *cn;			/* subject common name */
	const char *const *dns;		/* DNS subjectAltNames */
	size_t n_dns;
	const char *const *ips;		/* IP subjectAltNames (IPv4 or IPv6 text) */
	size_t n_ips;
	unsigned days;			/* validity; 0 = PKI_CERT_DAYS */
	unsigned flags;			/* PKI_F_* */
};

/* Creates a self-signed CA (ECDSA P-256, PKI_CA_DAYS, pathlen 1: room for the IKE signing
 * CA below it). *cert_pem and *key_pem are malloc'd. 0 or -errno (-EINVAL bad argument,
 * -EIO GnuTLS failure, -ENOMEM). */
int pki_ca_create(const char *cn, char **cert_pem, char **key_pem)
	__attribute__((warn_unused_result));

/* Issues a certificate for req, signed by the CA. -EINVAL for a bad SAN or a CA that
 * does not parse or whose key does not match it. */
int pki_cert_issue(const char *ca_cert_pem, const char *ca_key_pem,
		   const struct pki_cert_req *req, char **cert_pem, char **key_pem)
	__attribute__((warn_unused_result));

/* Checks that cert_pem chains to ca_pem, is valid now, and (when name is not NULL) names
 * the host or IP address `name` in its subjectAltNames. 0, -EINVAL (does not parse),
 * -EKEYREJECTED (does not chain / expired / wrong name). */
int pki_cert_verify(const char *ca_pem, const char *cert_pem, const char *name)
	__attribute__((warn_unused_result));

/* 0 when pem holds exactly the PEM of one or more parseable X.509 certificates and the
 * first one is a CA certificate; -EINVAL otherwise. */
int pki_ca_check(const char *pem) __attribute__((warn_unused_result));

/* 0 when key_pem is a private key matching the public key of cert_pem; -EINVAL otherwise. */
int pki_key_matches(const char *cert_pem, const char *key_pem)
	__attribute__((warn_unused_result));

/* ---- IKE identities (pki_ike.c) ----
 * Every gateway makes its own key and a request for its cluster ID; the broker signs it
 * with its IKE signing CA (an intermediate under the root, pathlen 0) for a few hours:
 * CN and the only DNS subjectAltName = the cluster ID, keyUsage digitalSignature,
 * extendedKeyUsage ipsecIKE. Gateways trust the root only. */

#define PKI_ID_MAX		64		/* a cluster ID (DNS label) and its NUL */
#define PKI_IKE_DEFAULT_S	(12 * 3600)	/* lifetime of a gateway's certificate */
#define PKI_IKE_MAX_S		(7 * 86400)
#define PKI_MAX_CHAIN		4		/* intermediates accepted after the leaf */

/* Creates an intermediate CA signed by the root ca_pem/ca_key_pem: basicConstraints CA
 * with pathlen 0, valid `days` (0: PKI_CA_DAYS) but never beyond the root. */
int pki_subca_create(const char *ca_pem, const char *ca_key_pem, const char *cn, unsigned days,
		     char **cert_pem, char **key_pem) __attribute__((warn_unused_result));
/* A new ECDSA P-256 private key as PKCS#8 PEM (a secret). 0 or -errno. */
int pki_key_create(char **key_pem) __attribute__((warn_unused_result));
/* A PKCS#10 request signed by key_pem for identity id (CN and DNS subjectAltName; id a
 * DNS label). 0, -EINVAL, -EIO, -ENOMEM. */
int pki_csr_create(const char *key_pem, const char *id, char **csr_pem)
	__attribute__((warn_unused_result));

struct pki_csr_info {
	char id[PKI_ID_MAX];	/* the identity asked for */
	unsigned key_bits;
};
/* Parses an untrusted request (len bytes, not necessarily NUL-terminated): exactly one
 * PEM block, a valid self-signature, an ECDSA P-256/P-384 key, a subject that is CN=<DNS
 * label> only, no subjectAltName but that label as a DNS name. 0 or -EINVAL (-ENOMEM)
 * with a sentence in err. */
int pki_csr_parse(const char *buf, size_t len, struct pki_csr_info *info, char *err,
		  size_t errlen) __attribute__((warn_unused_result));
/* Issues the certificate for a request whose identity is exactly id, signed by the CA
 * ca_pem/ca_key_pem, valid from 5 minutes ago (a tenth of lifetime_s when that is less)
 * for lifetime_s (60 s .. PKI_IKE_MAX_S; never beyond the CA). 0, -EINVAL (bad request,
 * other identity, CA and key apart), -EIO, -ENOMEM. */
int pki_csr_sign(const char *ca_pem, const char *ca_key_pem, const char *csr_pem,
		 const char *id, unsigned lifetime_s, char **cert_pem)
	__attribute__((warn_unused_result));

struct pki_cert_info {
	char id[PKI_ID_MAX];	/* the one DNS subjectAltName ("" for a CA) */
	time_t not_before, not_after;
	bool is_ca;
	char fingerprint[65];	/* SHA-256 of the DER, lowercase hex */
};
/* Parses an untrusted certificate (exactly one PEM block). A certificate that is not a CA
 * must carry exactly one DNS subjectAltName, a DNS label. 0 or -EINVAL with err. */
int pki_cert_parse(const char *buf, size_t len, struct pki_cert_info *info, char *err,
		   size_t errlen) __attribute__((warn_unused_result));
/* The SHA-256 fingerprint of the first certificate of pem, as lowercase hex. */
int pki_fingerprint(const char *pem, char out[65]) __attribute__((warn_unused_result));
/* Checks that cert_pem (an end entity) chains through the intermediates of chain_pem (may
 * be NULL) to a root of root_pem, is valid now and names id (when not NULL) as its DNS
 * subjectAltName. 0, -EINVAL (does not parse), -EKEYREJECTED. */
int pki_chain_verify(const char *root_pem, const char *chain_pem, const char *cert_pem,
		     const char *id) __attribute__((warn_unused_result));

#endif
