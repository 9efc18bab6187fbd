/* The ipsec cable driver's state, shared by ipsec.c (the driver: events, charon restarts,
 * routes, status) and ipsec_conn.c (what it asks charon over VICI: connections, the PSK,
 * initiation). Not a public interface. */
#ifndef SA_CABLE_IPSEC_INT_H
#define SA_CABLE_IPSEC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/cable/cable.h"
#include "common/retry.h"
#include "common/util.h"

struct vici_builder;
struct vici_conn;

/* The driver's own copy of struct cable_creds. */
struct ipsec_creds {
	char *psk, *key, *cert, *chain, *ca;
};

#define CMD_TIMEOUT_MS		5000
#define CHARON_START_MS		10000
#define BACKOFF_MAX_S		10
#define PSK_ID			"subagent-psk"
#define TICK_NS			500000000L

struct peer {
	struct cable_endpoint remote;
	struct cable_endpoint local;
	uint32_t remote_ip;
	bool ike_up, child_up;
	uint64_t ike_uid, child_uid;	/* charon's unique IDs of the SAs we consider current */
	bool recovering;		/* initiate whatever the role: our charon restarted, or
					 * this gateway just took over (see ipsec_connect) */
	uint32_t sa_remote;		/* remote address of the current IKE_SA, 0: none */
	bool loaded;			/* charon has its connection */
	struct retry load;		/* load-conn */
	struct retry init;		/* initiation (this side's, see ipsec_wants_initiate) */
	struct vici_conn *ivc;		/* an initiation under way, on a connection of its own */
	uint64_t child_missing_ns;	/* IKE_SA up without a CHILD_SA since, 0: no */
	uint32_t reqid;			/* route-based: its CHILD_SA's, fixed (see ipsec_dev.c) */
};

struct cable_driver {
	char local_id[CABLE_ID_MAX];
	struct ipsec_creds creds;
	char *ike_proposals, *esp_proposals;
	char *vici_path;
	unsigned dpd_delay_s;
	enum cable_start start;
	cable_event_cb on_event;
	void *ctx;

	struct charon *charon;		/* NULL: charon is someone else's */
	struct vici_conn *vc;
	int epfd, tfd;
	int ep_vc_fd, ep_pid_fd;	/* fds currently registered in epfd, -1 if none */
	unsigned backoff_s;		/* between charon restart attempts */
	uint64_t next_recover_ns;
	bool lost;			/* a VICI request found the connection broken */
	uint64_t next_tick_ns;		/* the periodic check; the timer may fire sooner */
	char errmsg[256];		/* charon's answer to the last request it refused */

	struct peer *peers;
	size_t n_peers;

	/* The tunnel device: charon's TUN device (kernel-libipsec) or our XFRM interface
	 * (kernel XFRM, route-based). The driver routes remote subnets through it itself:
	 * charon's routes cannot carry a service CIDR that has no local address. */
	uint64_t started_ns;
	struct netlink *nl;
	uint32_t health_ip;
	uint32_t anchors[CABLE_MAX_SUBNETS];	/* addresses we put on lo, see ensure_anchors() */
	unsigned n_anchors;
	char dev[16];			/* "" when charon is someone else's */
	bool libipsec;
	uint32_t if_id;			/* route-based: the XFRM interface's; 0: libipsec */
	uint32_t underlay_ip;
	int dev_ifindex;		/* as last seen; a new one means a new device */
	uint32_t last_reqid;
	struct cidr4 inner[CABLE_MAX_SUBNETS];	/* cable_config.inner_subnets */
	unsigned n_inner;
};

#define LIBIPSEC_DEV "ipsec0"
#define XFRM_DEV "sa-xfrm0"
#define INITIATE_ALL_NS (10 * NSEC_PER_SEC)
/* An initiation the peer refused (its configuration for us not loaded yet: it learns of
 * us from the broker at about the time we learn of it) is tried again after 50 ms, then
 * twice as long each time, at most BACKOFF_MAX_S. */
#define INIT_RETRY_FIRST_NS (50 * NSEC_PER_MSEC)
#define INIT_TIMEOUT_MS 10000
/* An IKE_SA without a CHILD_SA for this long gets a new CHILD_SA from the initiator. */
#define CHILD_MISSING_NS NSEC_PER_SEC

/* What list-sas says of one peer. */
struct sa_view {
	bool ike_established, ike_connecting;	/* some IKE_SA of that name is in that state */
	bool child_installed;
	uint64_t established_s;
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
};

/* ipsec_conn.c */
/* Sends cmd with the message b (consumed) and checks its "success". 0 or -errno. */
int ipsec_call(struct cable_driver *d, const char *cmd, struct vici_builder *b,
	       const char *what) __attribute__((warn_unused_result));
/* Copies c into *dst (dropping what was there). 0, -EINVAL (neither a PSK nor a key and
 * the CA), -ENOMEM. */
int ipsec_creds_copy(struct ipsec_creds *dst, const struct cable_creds *c)
	__attribute__((warn_unused_result));
void ipsec_creds_clear(struct ipsec_creds *c);
/* Loads the PSK, or the key and the CA certificates, into charon. */
int ipsec_load_creds(struct cable_driver *d) __attribute__((warn_unused_result));
/* The set_creds op: new credentials, loaded, and every connection reloaded with them. */
int ipsec_set_creds(struct cable_driver *d, const struct cable_creds *c);
/* The side that starts a connection (the smaller cluster ID, or the one behind NAT). */
bool ipsec_we_initiate(const struct cable_driver *d, const struct peer *p);
/* Whether this side initiates now: the rule above, or recovery after a restart. */
bool ipsec_wants_initiate(const struct cable_driver *d, const struct peer *p);
int ipsec_load_conn(struct cable_driver *d, const struct peer *p, bool active)
	__attribute__((warn_unused_result));
int ipsec_terminate_ike(struct cable_driver *d, const char *id);
int ipsec_unload_conn(struct cable_driver *d, const char *id);
int ipsec_initiate(struct cable_driver *d, const char *id);

/* ipsec.c */
void ipsec_install_routes(struct cable_driver *d, const struct peer *p);
/* Adds (fd >= 0) or removes (-1) an fd of the driver's epoll set in *slot. */
void ipsec_ep_set(struct cable_driver *d, int *slot, int fd);

/* ipsec_sync.c: what the driver checks and repairs */
/* load-conn for p and, when it worked, its routes; a failure is retried by
 * ipsec_reconcile(). active: initiate at once whatever the role. */
int ipsec_load_peer(struct cable_driver *d, struct peer *p, bool active);
/* list-sas: one view per peer (view[i] is d->peers[i]). 0 or -errno. */
int ipsec_scan(struct cable_driver *d, struct sa_view *view);
/* The periodic check: loads that failed, initiations this side owes (no IKE_SA, or an
 * IKE_SA without its CHILD_SA), when due. */
void ipsec_reconcile(struct cable_driver *d, uint64_t now);
/* An initiation's connection is readable: collects the answer. */
void ipsec_init_done(struct cable_driver *d, struct peer *p);
/* Ends p's initiation under way, if any. */
void ipsec_init_cancel(struct cable_driver *d, struct peer *p);
/* When the driver's timer must fire next (the tick, or a retry due sooner). */
uint64_t ipsec_next_due(const struct cable_driver *d, uint64_t now);
/* Resync: every loaded connection is still in charon; anchors in place. */
int ipsec_sync(struct cable_driver *d);
/* A VICI error that means the connection to charon is gone. */
bool ipsec_vici_lost(int err);
/* ipsec_dev.c: the tunnel device */
struct charon_opts;
/* Picks the device for the data path co resolved to and, route-based, creates it; routes
 * are the driver's (co->no_install_routes). 0 or -errno. */
int ipsec_dev_init(struct cable_driver *d, const struct cable_config *cfg, struct charon_opts *co)
	__attribute__((warn_unused_result));
/* Removes the device the driver made (route-based) and the netlink handle. */
void ipsec_dev_fini(struct cable_driver *d);
/* Re-creates our device when it is gone; true when the device is new since the last call
 * (routes through the old one went with it: install them again). */
bool ipsec_dev_check(struct cable_driver *d);
/* Route-based with inner subnets (globalnet): p's inbound policies to them, or none. */
void ipsec_dev_policies(struct cable_driver *d, const struct peer *p, bool install);

#endif
