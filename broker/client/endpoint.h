/* The Endpoint a cluster's active gateway publishes (see the broker API in DESIGN.md):
 * decoding from and encoding to the broker's JSON, with strict validation, since a remote
 * cluster's Endpoint is untrusted input for every agent. */
#ifndef SA_ENDPOINT_H
#define SA_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/cidr.h"

#define EP_MAX_SUBNETS 32
#define EP_NAME_MAX 64

struct sa_endpoint {
	char name[2 * EP_NAME_MAX];	/* metadata.name: "<clusterID>.<hostname>" */
	char cluster_id[EP_NAME_MAX];
	char hostname[EP_NAME_MAX];
	char private_ip[16];
	char public_ip[16];
	uint16_t nat_t_port;
	struct cidr4 subnets[EP_MAX_SUBNETS];
	unsigned n_subnets;
	char cable_driver[16];		/* "ipsec" or "vxlan" */
	char health_ip[16];		/* "" when the gateway has none */
	uint64_t epoch;
	char vtep_mac[18];		/* backend.vtepMAC, vxlan only, "" otherwise */
};

/* Fills *out from a broker Endpoint object. 0, or -EINVAL with a reason in err. */
int endpoint_from_json(const cJSON *obj, struct sa_endpoint *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Builds the broker object (apiVersion, kind, metadata.name, spec). NULL on ENOMEM. */
cJSON *endpoint_to_json(const struct sa_endpoint *ep);

/* Same cluster, same gateway, same addresses, subnets, driver and epoch. */
bool endpoint_equal(const struct sa_endpoint *a, const struct sa_endpoint *b);

#endif
