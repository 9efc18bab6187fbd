/* What the diagnose checks share: the node's facts gathered once, and the row builder.
 * One file per area: diag.c (the run, the agent), diag_kernel.c (ESP, BPF/tc),
 * diag_fw.c (firewall rules), diag_net.c (routes, addresses, MTU), diag_broker.c (broker,
 * TLS, clock, credentials), diag_charon.c (charon, connections). Not a public interface. */
#ifndef SA_DIAG_INT_H
#define SA_DIAG_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "agent/diag/diag.h"
#include "broker/client/endpoint.h"
#include "broker/creds/cluster_config.h"

#define DIAG_MAX_REMOTES 64

enum diag_res { DIAG_PASS, DIAG_WARN, DIAG_FAIL, DIAG_SKIP };

struct diag_ctx {
	const struct diag_opts *o;
	int timeout_ms;
	char state_dir[PATH_MAX - 64];	/* room for a file name after it */
	struct cluster_config cfg;
	struct brk_client *brk;
	cJSON *status;			/* STATE/status.json, NULL when absent */
	bool agent_fresh;		/* the status file is recent: an agent runs here */
	const char *role;		/* "gateway", "standby", "node" or "" */
	bool broker_ok;			/* the broker answered (set by the broker checks) */
	struct sa_endpoint remotes[DIAG_MAX_REMOTES];	/* newest per remote cluster */
	unsigned n_remotes;
	const char *remotes_from;	/* "broker", "cache" or NULL */
	cJSON *rows;
	int failed;
};

/* Adds a row; hint (may be NULL) says what to do; detail is printf-formatted. */
void diag_add(struct diag_ctx *c, const char *check, const char *target, enum diag_res r,
	      const char *hint, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* diag_kernel.c */
void diag_check_datapath(struct diag_ctx *c);
void diag_check_bpf(struct diag_ctx *c);
/* diag_fw.c */
void diag_check_firewall(struct diag_ctx *c);
/* diag_net.c */
void diag_check_routes(struct diag_ctx *c);
void diag_check_mtu(struct diag_ctx *c);
/* diag_broker.c: the broker's URLs (TLS, certificate, clock), then the credential. */
void diag_check_broker(struct diag_ctx *c);
/* diag_charon.c */
void diag_check_charon(struct diag_ctx *c);
void diag_check_connections(struct diag_ctx *c);

#endif
