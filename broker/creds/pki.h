/* The broker's small PKI (GnuTLS): a CA, the broker's TLS server certificate, and
 * per-cluster client/IKE certificates. Everything goes in and out as PEM strings.
 * Keys are ECDSA P-256; signatures SHA-256. Private-key PEMs are secrets: free them
 * with util_free_secret(). */
#ifndef SA_BROKER_PKI_H
#define SA_BROKER_PKI_H

#include <stddef.h>

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

/* Creates a self-signed CA (ECDSA P-256, PKI_CA_DAYS). *cert_pem and *key_pem are
 * malloc'd. 0 or -errno (-EINVAL bad argument, -EIO GnuTLS failure, -ENOMEM). */
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

#endif
