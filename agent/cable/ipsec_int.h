/* The ipsec cable driver's state, shared by ipsec.c (the driver: events, charon restarts,
 * routes, status) and ipsec_conn.c (what it asks charon over VICI: connections, the PSK,
 * initiation). Not a public interface. */
#ifndef SA_CABLE_IPSEC_INT_H
#define SA_CABLE_IPSEC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/cable/cable.h"
#include "common/util.h"

struct vici_builder;

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
	unsigned backoff_s;		/* between initiation attempts */
	uint64_t next_try_ns;
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

	struct peer *peers;
	size_t n_peers;

	/* kernel-libipsec: charon's own routes cannot carry a service CIDR that has no local
	 * address, so the driver routes remote subnets through the TUN device itself */
	uint64_t started_ns;
	struct netlink *nl;
	uint32_t health_ip;
	uint32_t anchors[CABLE_MAX_SUBNETS];	/* addresses we put on lo, see ensure_anchors() */
	unsigned n_anchors;
};

#define LIBIPSEC_DEV "ipsec0"
#define INITIATE_ALL_NS (10 * NSEC_PER_SEC)

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

#endif
