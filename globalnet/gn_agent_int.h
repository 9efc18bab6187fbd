/* The gateway's globalnet agent's state, shared by gn_agent.c (the thread, the broker's
 * objects, the NAT) and gn_status.c (what it reports: globalnet.json and metrics). Not a
 * public interface. */
#ifndef SA_GN_AGENT_INT_H
#define SA_GN_AGENT_INT_H

#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "broker/client/endpoint.h"
#include "broker/creds/origin.h"
#include "common/cidr.h"
#include "common/util.h"
#include "globalnet/gn_agent.h"

#define MAX_OBJS 4096
#define MAX_REMOTES 64
#define CT_ENTRIES 131072	/* gn_nat's default: 2 entries per flow */

enum { SRC_EP, SRC_EGRESS, SRC_INGRESS, SRC_N };

struct gobj {
	char name[256];
	bool ingress;
	struct cidr4 src;	/* egress: the sources */
	uint32_t target;	/* ingress: the local VIP or pod */
	uint32_t gip;		/* the allocated global IP; 0: none yet */
	bool programmed;
	bool status_ok;		/* the broker's status.globalIP says gip */
	cJSON *obj;		/* the last version seen (for the status PUT) */
};

struct gremote {
	char cluster[EP_NAME_MAX];
	struct cidr4 subnets[EP_MAX_SUBNETS];
	unsigned n;
};

struct gn_agent {
	const struct cluster_config *cfg;
	struct brk_client *brk;
	struct gn_nat *nat;
	struct gn_pool *pool;
	struct cidr4 global, range;
	struct origin origin;		/* what globalnet.json and endpoints.json must name */
	char dev[IFNAMSIZ];
	int ifindex;
	uint32_t health_ip, health_gip;
	int no_attach;

	struct brk_queue *q;
	struct brk_informer *inf[SRC_N];
	bool synced[SRC_N];
	char status_path[PATH_MAX];
	uint32_t egress[GN_AGENT_EGRESS_IPS];

	struct gobj *objs;
	unsigned n_objs;
	struct gremote rem[MAX_REMOTES];
	unsigned n_rem;

	pthread_t thr;
	bool thr_started;
	int stopfd[2];
};

/* gn_status.c: writes state_dir/globalnet.json and publishes the globalnet metrics. */
void gn_agent_write_status(struct gn_agent *a);

#endif
