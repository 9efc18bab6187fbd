/* The node daemon's state, shared by node.c (setup, the loop, roles), addr.c (the node's
 * addresses) and status.c (what it tells the broker and the node). Not a public interface. */
#ifndef SA_NODE_INT_H
#define SA_NODE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "broker/client/endpoint.h"
#include "agent/node/node.h"
#include "broker/creds/cluster_config.h"
#include "common/cidr.h"
#include "common/retry.h"

struct node {
	const struct node_opts *o;
	struct cluster_config cfg;
	struct brk_client *brk;
	const struct cable_ops *cops;
	struct elector *el;
	struct route_agent *ra;
	struct engine *eng;		/* while this node is the active gateway */
	uint32_t node_ip, health_ip;
	struct cidr4 pod_cidr;		/* len 0: not known */
	char pod_cidr_why[128];		/* why the last detection failed (said once) */
	uint64_t next_pod_cidr_ns;	/* next detection (without --pod-cidr) */
	bool roles_dirty;
	/* the steps the node keeps converging (the engine's and the cable's are theirs) */
	bool want_engine;		/* the election made this node the active gateway */
	struct retry eng_st;		/* starting the gateway engine */
	struct retry ra_st;		/* opening the route agent */
	struct retry mss_st;		/* the MSS clamping table */
	bool mss_made;			/* we installed it (then we remove it) */
	uint64_t next_resync_ns;
	int epfd, sigfd;
	int pidfd;			/* STATE/agent.pid, locked while we run */
	char pid_path[PATH_MAX];
	uint64_t next_status_ns;
	bool report_now;		/* a connection changed: report at once */
	bool status_failed;		/* the last GatewayStatus write failed: no early retry */
	struct node_metrics *nm;
	/* this cluster's Endpoint as the engine last published it (kept when it stops) */
	struct sa_endpoint local;
	char origin[200];		/* ORIGIN_LINE_MAX: what the election's state must name */
};

/* addr.c */
/* The node's address on the cluster network: as given, else the first address that is
 * not loopback, not in the cluster's own subnets and not the underlay towards the broker. */
int node_find_ip(struct node *n) __attribute__((warn_unused_result));
/* The broadcast address of the subnet that holds addr (0: none). */
uint32_t node_broadcast_of(uint32_t addr);
/* Tells the route guard the broker's addresses (URL hosts, names resolved now). */
void node_guard_brokers(const struct node *n);
/* Without --pod-cidr: finds the node's pod CIDR slice from the CNI's addresses and routes
 * (agent/routing/podcidr.c) into n->pod_cidr; true when it changed. */
bool node_pod_cidr_refresh(struct node *n);

/* status.c: conns is engine_connections_json() (an empty array when no engine runs),
 * faults every step that has not converged (retry_report() entries). */
void node_publish_status(struct node *n, uint64_t now, const cJSON *conns,
			 const cJSON *faults);
void node_write_status_file(struct node *n, const cJSON *conns, const cJSON *faults);

/* metrics.c: the registry's node families, and the HTTP endpoint when asked for. */
int node_metrics_start(struct node *n) __attribute__((warn_unused_result));
void node_metrics_stop(struct node *n);
/* The loop turned (for /healthz). */
void node_metrics_alive(struct node *n, uint64_t now);
/* The election changed (counts failovers). */
void node_metrics_roles(struct node *n);
/* Readiness, election state and the connections' series, from conns (as above). */
void node_metrics_update(struct node *n, const cJSON *conns);

#endif
