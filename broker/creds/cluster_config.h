/* The cluster configuration directory written by `subagent join` and read by the agent:
 *   DIR/cluster.json  {"clusterID":"c1","brokerURLs":[...],"clusterCIDRs":[..],
 *                      "serviceCIDRs":[..],"globalCIDRs":[..],"cableDriver":"ipsec",
 *                      "ike":{"ikeProposals":..,"espProposals":..,"natTPort":4500},
 *                      "globalnet":{"enabled":..,"cidrRange":..,"clusterSize":..},
 *                      "registrationUID":"<the broker's metadata.uid of the Cluster>"}
 *   DIR/ca.pem        the broker CA
 *   DIR/token (0600)  this cluster's broker credential
 *   DIR/psk   (0600)  only with a broker deployed with --psk: the shared IKE key (hex);
 *                     without it gateways authenticate with certificates from the broker
 * registrationUID is absent in configurations written before it existed.
 * Loading validates everything; a bad directory is refused with a message. */
#ifndef SA_BROKER_CLUSTER_CONFIG_H
#define SA_BROKER_CLUSTER_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "broker/creds/broker_info.h"
#include "common/cidr.h"

#define CC_MAX_CIDRS		32
#define CC_MAX_JSON		(64 * 1024)
#define CC_UID_MAX		64

struct cluster_config {
	char cluster_id[64];
	char *broker_urls[BRK_MAX_URLS];
	size_t n_broker_urls;
	struct cidr4 cluster_cidrs[CC_MAX_CIDRS];
	size_t n_cluster_cidrs;
	struct cidr4 service_cidrs[CC_MAX_CIDRS];
	size_t n_service_cidrs;
	struct cidr4 global_cidrs[CC_MAX_CIDRS];	/* empty unless globalnet */
	size_t n_global_cidrs;
	char cable_driver[8];				/* "ipsec" | "vxlan" */
	struct brk_ike_settings ike;
	struct brk_globalnet_settings globalnet;
	char *ca_pem;				/* content of DIR/ca.pem */
	char ca_path[PATH_MAX];			/* DIR/ca.pem, for brk_client_new() */
	char *token;				/* secret: DIR/token */
	char *psk;				/* secret: DIR/psk (hex); NULL: certificates */
	char registration_uid[CC_UID_MAX + 1];	/* "" when unknown (older configurations) */
};

/* Loads and validates DIR; problems are logged with pr_err. 0, -ENOENT (no cluster.json),
 * -EINVAL (malformed), or another -errno. cluster_config_free() the result. */
int cluster_config_load(const char *dir, struct cluster_config *cfg)
	__attribute__((warn_unused_result));
/* The same, with the problem as a sentence in err instead of the log. */
int cluster_config_load_err(const char *dir, struct cluster_config *cfg, char err[BRK_ERR_MAX])
	__attribute__((warn_unused_result));
/* The same for a reader of the broker (the DNS server): cluster.json, ca.pem and token;
 * the IKE pre-shared key, if any, is not read (cfg->psk stays NULL). */
int cluster_config_load_reader(const char *dir, struct cluster_config *cfg, char err[BRK_ERR_MAX])
	__attribute__((warn_unused_result));
/* Validates cfg, creates DIR (0700) and writes the files (secrets 0600, written
 * atomically; a psk file is removed when cfg has none). 0 or -errno (err says why). */
int cluster_config_save(const char *dir, const struct cluster_config *cfg, char err[BRK_ERR_MAX])
	__attribute__((warn_unused_result));
/* cluster.json as cluster_config_save() writes it, after the same validation; NULL with
 * err. The caller frees it. */
char *cluster_config_render(const struct cluster_config *cfg, char err[BRK_ERR_MAX]);
/* Validates every field except ca_path; 0 or -EINVAL with err. */
int cluster_config_validate(const struct cluster_config *cfg, char err[BRK_ERR_MAX])
	__attribute__((warn_unused_result));
/* Removes the four files (secrets overwritten first) and DIR itself when it is then
 * empty. Missing files are fine. 0 or the first -errno. */
int cluster_config_remove(const char *dir) __attribute__((warn_unused_result));
/* NULL-safe; wipes the secrets; leaves *cfg zeroed. */
void cluster_config_free(struct cluster_config *cfg);

#endif
