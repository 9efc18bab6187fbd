/* Internal state of the gateway engine, shared by gateway.c (the loop and the remote
 * endpoints) and gateway_publish.c (what this gateway tells the broker and the node). */
#ifndef SA_GATEWAY_INT_H
#define SA_GATEWAY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "agent/cable.h"
#include "agent/charon.h"
#include "agent/endpoint.h"
#include "agent/gateway.h"
#include "agent/health.h"
#include "agent/probe.h"
#include "agent/election.h"
#include "agent/route_agent.h"
#include "broker/client.h"
#include "broker/cluster_config.h"

#define GW_MAX_REMOTES 64

struct gw_remote {
	struct sa_endpoint ep;
	uint32_t use_ip;	/* the remote address the cable uses */
	bool nat;		/* either side is behind NAT */
	bool connected;		/* the cable accepted the connection */
	uint64_t since_ns;	/* when the connection was (re)made */
};

struct gw_event {
	struct gw_event *next;
	int type;		/* GW_EV_* */
	cJSON *obj;
};

enum { GW_EV_ADD, GW_EV_DEL, GW_EV_SYNC };

struct gateway {
	const struct gateway_opts *o;
	struct cluster_config cfg;
	struct brk_client *brk;
	struct brk_informer *inf;
	const struct cable_ops *cops;
	struct cable_driver *cable;
	struct charon_opts charon;
	char charon_dir[4096];
	struct health *health;
	struct responder *responder;	/* echo for `subagent verify` */
	struct gn_agent *gn;		/* globalnet (issue 6): agent/gn_agent.c */

	struct sa_endpoint local;
	uint32_t private_ip, public_ip, health_ip;
	bool local_published;
	uint64_t next_publish_ns, publish_backoff_ns, next_status_ns;
	bool synced_once;

	struct gw_remote r[GW_MAX_REMOTES];
	unsigned n;

	/* every node: the election and the route agent; the engine (cable, informer,
	 * publishing) runs only while this node is the active gateway */
	struct election *el;
	struct route_agent *ra;
	uint32_t node_ip;
	struct cidr4 pod_cidr;
	bool engine_on;
	uint64_t seen_gen;
	bool roles_dirty;
	int epfd, cable_fd;
	/* The election runs on its own thread so that heartbeats never wait for the engine
	 * (charon start, broker calls); el_lock guards every election_*() call. */
	pthread_t el_thr;
	bool el_thr_started;
	pthread_mutex_t el_lock;
	int el_evfd, el_stopfd[2];

	pthread_mutex_t qlock;
	struct gw_event *qhead, *qtail;
	int evfd;
};

/* gateway_publish.c */
int gw_local_init(struct gateway *g) __attribute__((warn_unused_result));
void gw_publish_endpoint(struct gateway *g, uint64_t now);
/* conns: gw_connections_json(), built once per tick (it asks the cable for its SAs). */
void gw_publish_status(struct gateway *g, uint64_t now, const cJSON *conns);
void gw_write_status_file(struct gateway *g, const cJSON *conns);
cJSON *gw_connections_json(struct gateway *g);
const char *gw_conn_status(struct gateway *g, struct gw_remote *r, const struct cable_status *cs,
			   struct health_stats *hs);

/* gn_agent.c: starts globalnet on the gateway; the published health IP becomes global */
int gw_globalnet_start(struct gateway *g) __attribute__((warn_unused_result));

/* gateway.c */
void gw_save_cache(struct gateway *g);
void gw_to_cable(const struct sa_endpoint *ep, struct cable_endpoint *out);
uint64_t gw_epoch(struct gateway *g);	/* the election's epoch, under its lock */

#endif
