/* Which remote Endpoints a gateway accepts. The broker checks an Endpoint's subnets
 * against its cluster's registration; every agent checks again, since a remote cluster's
 * Endpoint decides routes on this node: its cluster must be registered, every subnet must
 * lie inside that cluster's registered CIDRs (its global CIDRs with globalnet), and none
 * may overlap this cluster's networks or another accepted remote's. Pure functions on
 * plain data, so that they can be tested alone. */
#ifndef SA_ENGINE_ADMIT_H
#define SA_ENGINE_ADMIT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "broker/client/endpoint.h"
#include "common/cidr.h"

#define ADMIT_MAX_NETS 64

/* A Cluster object as the broker publishes it. */
struct admit_cluster {
	char id[EP_NAME_MAX];
	struct cidr4 nets[ADMIT_MAX_NETS];	/* clusterCIDRs and serviceCIDRs */
	unsigned n_nets;
	struct cidr4 global[ADMIT_MAX_NETS];	/* globalCIDRs */
	unsigned n_global;
};

struct admit_view {
	const char *local_id;
	const struct cidr4 *local;		/* this cluster's CIDRs, global ones too */
	unsigned n_local;
	bool globalnet;				/* endpoints carry global CIDRs */
	const struct admit_cluster *clusters;	/* every registered cluster */
	unsigned n_clusters;
	const struct sa_endpoint *const *remotes;	/* accepted remote endpoints */
	unsigned n_remotes;
};

/* Decodes a Cluster object (untrusted: strict). 0 or -EINVAL with a reason in err. */
int admit_cluster_from_json(const cJSON *obj, struct admit_cluster *out, char *err, size_t len)
	__attribute__((warn_unused_result));
/* A Cluster object holding what out holds (for the cache); NULL on ENOMEM. */
cJSON *admit_cluster_to_json(const struct admit_cluster *c);
bool admit_cluster_equal(const struct admit_cluster *a, const struct admit_cluster *b);

/* 0 when ep may be accepted (a remote of its cluster in v->remotes is replaced by it and
 * not compared), -EPERM with the reason in why otherwise. */
int admit_endpoint(const struct admit_view *v, const struct sa_endpoint *ep, char *why, size_t len)
	__attribute__((warn_unused_result));

#endif
