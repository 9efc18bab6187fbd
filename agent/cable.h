/* Cable drivers: how a gateway connects to the gateway of a remote cluster. A small ops
 * table, one file per driver (cable_ipsec.c, cable_vxlan.c). Single-threaded: the agent's
 * loop calls every op. */
#ifndef SA_CABLE_H
#define SA_CABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/endpoint.h"

struct cable;

/* What the local gateway is; strings are borrowed for the cable's lifetime. */
struct cable_local {
	struct sa_endpoint ep;		/* this gateway's endpoint (subnets, IPs, port) */
	uint32_t private_ip;		/* underlay source address */
	uint32_t health_ip;		/* local address inside the subnets; 0 when none */
	const char *psk;		/* ipsec: pre-shared key (secret) */
	const char *ike_proposals;	/* ipsec: e.g. "aes256gcm16-prfsha256-ecp256" */
	const char *esp_proposals;	/* ipsec: e.g. "aes256gcm16-ecp256" */
	const char *state_dir;		/* where the driver may keep files (charon's) */
};

struct cable_status {
	bool up;			/* the data path to the remote is established */
	uint64_t bytes_in, bytes_out, packets_in, packets_out;	/* 0 when not known */
	bool encrypted;
};

struct cable_ops {
	const char *name;
	/* Starts the driver. 0 or -errno; *out owned by the caller (close). */
	int (*open)(const struct cable_local *local, struct cable **out);
	/* Fills driver-specific fields of the local endpoint (backend). */
	void (*describe)(struct cable *c, struct sa_endpoint *ep);
	/* Connects (or re-connects) to remote through remote_ip. Idempotent. */
	int (*connect)(struct cable *c, const struct sa_endpoint *remote, uint32_t remote_ip);
	/* Disconnects the remote cluster; -ENOENT when not connected. */
	int (*disconnect)(struct cable *c, const char *cluster_id);
	int (*status)(struct cable *c, const char *cluster_id, struct cable_status *st);
	/* An fd to poll for the driver's events, or -1. */
	int (*fd)(struct cable *c);
	/* Handles the fd's readiness and supervision (restarts, re-connects). */
	void (*dispatch)(struct cable *c);
	/* Called once a second. */
	void (*tick)(struct cable *c);
	/* Disconnects everything and frees. NULL-safe. */
	void (*close)(struct cable *c);
};

extern const struct cable_ops cable_vxlan_ops;
extern const struct cable_ops cable_ipsec_ops;

/* The driver called name, or NULL. */
const struct cable_ops *cable_find(const char *name);

#endif
