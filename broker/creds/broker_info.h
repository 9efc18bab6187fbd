/* broker-info.subm: the one file an operator carries from the broker to every cluster.
 * A versioned JSON document:
 *   {"version":1,"urls":["https://198.18.0.10:8443"],"ca":"-----BEGIN CERTIFICATE-----...",
 *    "joinToken":"<64 hex>","ike":{"ikeProposals":"...","espProposals":"...",
 *    "natTPort":4500},"globalnet":{"enabled":false,"cidrRange":"242.0.0.0/8",
 *    "clusterSize":65536}}
 * "ike.psk" (hex) is there only when the broker was deployed with --psk: its clusters then
 * authenticate IKE with that shared key instead of per-cluster certificates.
 * Decoding is strict: every field is checked and the first problem is reported as one
 * human-readable sentence in err. */
#ifndef SA_BROKER_INFO_H
#define SA_BROKER_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cidr.h"

#define BROKER_INFO_VERSION	1
#define BROKER_INFO_MAX_SIZE	(64 * 1024)
#define BRK_MAX_URLS		16
#define BRK_URL_MAX		256
#define BRK_TOKEN_HEX_LEN	64	/* bearer tokens: 32 random bytes as hex */
#define BRK_PSK_MIN_HEX		64	/* >= 32 bytes */
#define BRK_PSK_MAX_HEX		512
#define BRK_PROPOSALS_MAX	256
#define BRK_ERR_MAX		256

#define BRK_DEFAULT_IKE_PROPOSALS	"aes256gcm16-prfsha256-ecp256"
#define BRK_DEFAULT_ESP_PROPOSALS	"aes256gcm16-ecp256"
#define BRK_DEFAULT_NATT_PORT		4500
#define BRK_DEFAULT_GN_RANGE		"242.0.0.0/8"
#define BRK_DEFAULT_GN_CLUSTER_SIZE	65536

struct brk_ike_settings {
	char ike_proposals[BRK_PROPOSALS_MAX + 1];
	char esp_proposals[BRK_PROPOSALS_MAX + 1];
	unsigned natt_port;
};

struct brk_globalnet_settings {
	bool enabled;
	char cidr_range[CIDR4_STRLEN];
	uint32_t cluster_size;
};

struct broker_info {
	int version;
	char *urls[BRK_MAX_URLS];
	size_t n_urls;
	char *ca_pem;
	char *join_token;	/* secret */
	char *psk;		/* secret, hex; NULL: certificates (the default) */
	struct brk_ike_settings ike;
	struct brk_globalnet_settings globalnet;
};

/* Parses and validates a document of len bytes. On error returns -EINVAL (or -ENOMEM)
 * with a sentence in err, and *bi is left empty. broker_info_free() the result. */
int broker_info_decode(const char *buf, size_t len, struct broker_info *bi,
		       char err[BRK_ERR_MAX]) __attribute__((warn_unused_result));
/* Reads path (at most BROKER_INFO_MAX_SIZE bytes) and decodes it. */
int broker_info_load(const char *path, struct broker_info *bi, char err[BRK_ERR_MAX])
	__attribute__((warn_unused_result));
/* Validates bi and renders it as JSON (malloc'd; a secret: util_free_secret() it).
 * NULL with errno EINVAL (err says why) or ENOMEM. */
char *broker_info_encode(const struct broker_info *bi, char err[BRK_ERR_MAX]);
/* Validates every field; 0 or -EINVAL with err. */
int broker_info_validate(const struct broker_info *bi, char err[BRK_ERR_MAX])
	__attribute__((warn_unused_result));
/* Frees the strings (wiping the secrets); NULL-safe; leaves *bi zeroed. */
void broker_info_free(struct broker_info *bi);

/* Shared validators (also used by cluster_config and deploy-broker). */

/* "https://HOST[:PORT][/]": HOST an IPv4 address, a [IPv6] literal, or a DNS name.
 * Fills host (without brackets) and port (443 when absent). 0 or -EINVAL. */
int brk_url_parse(const char *url, char *host, size_t hostlen, unsigned *port)
	__attribute__((warn_unused_result));
/* "HOST:PORT" (HOST as above, IPv6 in brackets). 0 or -EINVAL. */
int brk_hostport_parse(const char *s, char *host, size_t hostlen, unsigned *port)
	__attribute__((warn_unused_result));
/* Exactly n lowercase hex digits. */
bool brk_hex_ok(const char *s, size_t min, size_t max);
/* Proposal list: tokens of [a-z0-9] joined by '-', several proposals joined by ','. */
bool brk_proposals_ok(const char *s);
/* Globalnet settings: range a valid CIDR, cluster size a power of two between
 * BRK_GN_MIN_CLUSTER_SIZE and the range's size. 0 or -EINVAL with err. */
#define BRK_GN_MIN_CLUSTER_SIZE 4
int brk_globalnet_validate(const struct brk_globalnet_settings *gn, char err[BRK_ERR_MAX])
	__attribute__((warn_unused_result));
#endif
