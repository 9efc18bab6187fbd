/* Cable drivers: how the gateway engine connects this cluster's gateway to a remote
 * cluster's gateway. One small ops table, one file per backend (cable_ipsec.c, ...).
 *
 * A driver instance is single-threaded: the engine calls every op from its event loop,
 * polls ops->fd() and calls ops->dispatch() when it is readable. Drivers report tunnel
 * changes through cable_config.on_event. */
#ifndef SA_CABLE_H
#define SA_CABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cidr.h"

struct charon_opts;

#define CABLE_ID_MAX		64	/* cluster IDs are DNS labels: 1..63 chars */
#define CABLE_HOST_MAX		254
#define CABLE_MAX_SUBNETS	32

/* An Endpoint as the broker publishes it (plain data; addresses in host byte order). */
struct cable_endpoint {
	char cluster_id[CABLE_ID_MAX];
	char hostname[CABLE_HOST_MAX];
	uint32_t private_ip;
	uint32_t public_ip;
	uint16_t natt_port;		/* 0: 4500 */
	uint32_t n_subnets;
	struct cidr4 subnets[CABLE_MAX_SUBNETS];
	uint32_t health_check_ip;
	uint64_t epoch;			/* grows at every failover of that cluster's gateway */
	char vtep_mac[18];		/* vxlan: the gateway's VXLAN device MAC, "" otherwise */
};

/* Tunnel state of one remote cluster, as the driver sees it now. */
struct cable_status {
	char cluster_id[CABLE_ID_MAX];
	bool connected;			/* IKE SA established and a CHILD SA installed */
	char state[24];			/* "connected", "connecting", "down" */
	uint32_t remote_ip;		/* the address the cable uses (host order) */
	uint64_t epoch;			/* of the remote endpoint last connected */
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
	uint64_t established_s;		/* age of the IKE SA in seconds */
};

enum cable_start {
	CABLE_START_AUTO,	/* the cluster with the smaller ID initiates, the other responds */
	CABLE_START_START,	/* both initiate as soon as the connection is loaded */
	CABLE_START_TRAP,	/* both install trap policies: the first packet initiates */
};

/* How the gateway authenticates to its peers over IKE (ipsec only). Either a shared key
 * (a broker deployed with --psk: any holder can pose as any cluster), or this gateway's
 * own key and certificate from the broker (SAN = the local cluster ID), the intermediates
 * above it, and the broker's root CA, the only trust anchor for the peers' certificates.
 * Every string is copied; the key and the PSK are wiped when dropped. */
struct cable_creds {
	const char *psk;		/* hex; set: PSK mode, the rest is unused */
	const char *key_pem;		/* the gateway's private key (never leaves the node) */
	const char *cert_pem;		/* NULL: none yet (connections wait for set_creds) */
	const char *chain_pem;		/* intermediate CA certificates (PEM, one or more) */
	const char *ca_pem;		/* the broker's root CA */
};

/* A tunnel to cluster_id went up or down. */
typedef void (*cable_event_cb)(void *ctx, const char *cluster_id, bool up);

struct cable_config {
	const char *local_cluster_id;
	const struct cable_creds *creds;	/* ipsec: required */
	const char *ike_proposals;		/* e.g. "aes256gcm16-prfsha256-ecp256"; NULL: default */
	const char *esp_proposals;		/* e.g. "aes256gcm16-ecp256"; NULL: default */
	unsigned dpd_delay_s;			/* 0: 3 */
	enum cable_start start;
	/* ipsec: either a charon to start and supervise, or the socket of one run elsewhere */
	const struct charon_opts *charon;
	const char *vici_path;
	cable_event_cb on_event;
	void *ctx;
	/* vxlan: the underlay source address, and the local address inside the cluster's
	 * subnets used as the source of routed host traffic (0: none) */
	uint32_t underlay_ip;
	uint32_t health_ip;
};

struct cable_driver;

struct cable_ops {
	const char *name;
	/* Sets up the driver (ipsec: starts charon, loads the credentials). 0 or -errno. */
	int (*init)(const struct cable_config *cfg, struct cable_driver **out);
	/* Connects to (or updates the connection to) remote's cluster over remote_ip, which
	 * is remote->private_ip or remote->public_ip as the engine chose for this pair. */
	int (*connect)(struct cable_driver *d, const struct cable_endpoint *remote,
		       uint32_t remote_ip, const struct cable_endpoint *local);
	/* Tears the tunnel down and forgets the remote cluster. -ENOENT when unknown. */
	int (*disconnect)(struct cable_driver *d, const char *cluster_id);
	/* Status of every connected-to cluster: malloc'd array in *out (caller frees). */
	int (*list)(struct cable_driver *d, struct cable_status **out, size_t *n);
	/* A pollable fd and what to do when it is readable (events, daemon restarts). */
	int (*fd)(const struct cable_driver *d);
	int (*dispatch)(struct cable_driver *d);
	void (*fini)(struct cable_driver *d);
	/* Optional: new credentials (a renewed certificate): loaded into the IKE daemon and
	 * used by every connection from now on; established SAs stay. 0 or -errno. */
	int (*set_creds)(struct cable_driver *d, const struct cable_creds *creds);
	/* Optional: fills the driver's fields of the local endpoint (vxlan: vtep_mac). */
	void (*describe)(struct cable_driver *d, struct cable_endpoint *local);
	bool encrypts;
};

extern const struct cable_ops cable_ipsec_ops;
extern const struct cable_ops cable_vxlan_ops;

/* The driver called name ("ipsec", "vxlan"), or NULL. */
const struct cable_ops *cable_find(const char *name);

#endif
