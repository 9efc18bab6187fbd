/* Where a node's caches come from: the broker (its root CA's fingerprint) and the cluster's
 * registration there (cluster ID and the Cluster object's metadata.uid). Every file the
 * agent keeps in its state directory to use again after a restart carries it, and a file
 * written for another broker or registration (a redeployed broker, a cluster that left
 * and joined again, a state directory reused by another deployment with the same node
 * names) is discarded with a log line instead of being trusted. */
#ifndef SA_BROKER_ORIGIN_H
#define SA_BROKER_ORIGIN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "broker/creds/cluster_config.h"

#define ORIGIN_LINE_MAX 200

struct origin {
	char broker_ca[65];			/* SHA-256 of the root CA, lowercase hex */
	char cluster_id[64];
	char registration[CC_UID_MAX + 1];	/* "" for configurations older than it */
};

/* The origin of a loaded configuration. 0 or -EINVAL (its CA does not parse). */
int origin_of(const struct cluster_config *cfg, struct origin *out)
	__attribute__((warn_unused_result));
/* {"brokerCA":..,"clusterID":..,"registrationUID":..}; NULL on ENOMEM. */
cJSON *origin_to_json(const struct origin *o);
/* 0 when obj names o exactly; -ESTALE with the difference in why otherwise. */
int origin_check(const cJSON *obj, const struct origin *o, char *why, size_t len);
/* "<brokerCA> <clusterID> <registrationUID or ->": the form for line-based files. */
void origin_line(const struct origin *o, char out[ORIGIN_LINE_MAX]);

/* Reads the cache file path (at most max bytes): a JSON object with an "origin" member.
 * Returns it when it names o; NULL otherwise: absent (errno ENOENT, silent), malformed or
 * from another origin (logged as discarded, and the file removed). what names the file's
 * content in the log line. */
cJSON *origin_cache_load(const char *path, const struct origin *o, size_t max, const char *what);
/* Sets doc's "origin" to o and writes doc to path (0600, atomically). 0 or -errno. */
int origin_cache_save(const char *path, const struct origin *o, cJSON *doc)
	__attribute__((warn_unused_result));

#endif
