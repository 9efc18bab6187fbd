/* What a cluster owns: the networks of its registration (cluster, service and global
 * CIDRs), and the check that an object it writes claims nothing outside them. Every
 * gateway installs routes to what an Endpoint claims, so a claim outside the owner's
 * registration (another cluster's pod CIDR, 0.0.0.0/1) would take other clusters' traffic. */
#ifndef SA_SRV_CLAIMS_H
#define SA_SRV_CLAIMS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/cidr.h"

struct srv_server;
struct srv_reply;
struct srv_resource;

#define SRV_NETS_MAX 64

struct srv_nets {
	char cluster[64];
	struct cidr4 pods[SRV_NETS_MAX], services[SRV_NETS_MAX], global[SRV_NETS_MAX];
	int npods, nservices, nglobal;
};

/* The networks of a Cluster object's spec (entries that do not parse are left out: the
 * stored object was validated when written). */
void srv_nets_from_spec(const cJSON *spec, struct srv_nets *n);
/* Reads cluster cid's registration. 0; -ENOENT (rp: 422 not registered) or a store error
 * (rp filled). */
int srv_nets_load(struct srv_server *srv, const char *cid, struct srv_nets *n,
		  struct srv_reply *rp) __attribute__((warn_unused_result));
/* Checks the networks obj (a validated object of resource r) claims against its owner's
 * registration: Endpoint subnets inside the global CIDRs when the cluster has any, else
 * inside its cluster and service CIDRs; addresses of its own pods, services, health
 * checker inside them; status.globalIP inside the global CIDRs. 0 or -EINVAL with a
 * message naming the field and the owner's networks. */
/* The per-resource checks, named in the resource table. */
int srv_claims_endpoint(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len);
int srv_claims_gegress(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len);
int srv_claims_gingress(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len);
int srv_claims_svcexport(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len);
int srv_check_claims(const struct srv_resource *r, const cJSON *obj, const struct srv_nets *n,
		     char *msg, size_t len) __attribute__((warn_unused_result));

#endif
