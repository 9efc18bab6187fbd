/* Supervisor for strongSwan's charon: picks the ESP data path (kernel XFRM when the kernel
 * has ESP, charon's user-space kernel-libipsec otherwise), writes a generated
 * strongswan.conf, runs charon in a private mount namespace with its own /run (charon 5.9
 * insists on /var/run/charon.pid, so two charons on one machine need separate /runs),
 * waits until VICI answers, reports its death through a pidfd, and stops it by PID.
 * charon inherits the caller's network namespace: one charon per node netns. */
#ifndef SA_CHARON_H
#define SA_CHARON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum charon_datapath {
	CHARON_DP_AUTO,		/* probe the kernel */
	CHARON_DP_KERNEL,	/* kernel-netlink: XFRM states and policies */
	CHARON_DP_LIBIPSEC,	/* kernel-libipsec: ESP in charon over a TUN device */
};

struct charon_opts {
	const char *dir;		/* state dir (made 0700): strongswan.conf, charon.vici,
					 * charon.log unless log_path is set */
	const char *charon_path;	/* NULL: /usr/lib/ipsec/charon */
	const char *log_path;		/* NULL: <dir>/charon.log */
	uint16_t ike_port;		/* 0: 500 */
	uint16_t natt_port;		/* 0: 4500 */
	enum charon_datapath datapath;
	int log_level;			/* charon's filelog level -1..4; 0 means 1 */
	bool no_install_routes;		/* routes are the caller's job */
};

struct charon;

/* Copies opts; resolves CHARON_DP_AUTO by probing (and logs the decision). NULL + errno. */
struct charon *charon_new(const struct charon_opts *opts);
/* Stops charon if running (SIGTERM, then SIGKILL after 3 s) and frees. NULL-safe. */
void charon_free(struct charon *c);

/* Writes strongswan.conf and starts charon; returns once VICI answers "version".
 * 0, -EALREADY (running), -ECHILD (charon exited during startup; see its log),
 * -ETIMEDOUT, other -errno. */
int charon_start(struct charon *c, int timeout_ms) __attribute__((warn_unused_result));
/* SIGTERM, wait up to timeout_ms, then SIGKILL; reaps. 0 or -errno; 0 when not running. */
int charon_stop(struct charon *c, int timeout_ms) __attribute__((warn_unused_result));

/* A pidfd that polls readable (POLLIN) when charon exits; -1 when not running. */
int charon_pidfd(const struct charon *c);
/* Reaps charon if it has exited: 1 (exited; *wstatus set if non-NULL), 0 (still running
 * or not started), -errno. Call when charon_pidfd() polls readable. */
int charon_reap(struct charon *c, int *wstatus) __attribute__((warn_unused_result));
pid_t charon_pid(const struct charon *c);
bool charon_running(const struct charon *c);

const char *charon_vici_path(const struct charon *c);
const char *charon_conf_path(const struct charon *c);
enum charon_datapath charon_get_datapath(const struct charon *c);
const char *charon_datapath_str(enum charon_datapath dp);

/* Probes whether the kernel of the current netns can do ESP (with UDP encapsulation) by
 * adding and deleting an XFRM state over NETLINK_XFRM. 1 yes, 0 no, -errno when the probe
 * itself failed (e.g. -EPERM without CAP_NET_ADMIN). */
int charon_probe_kernel_esp(void) __attribute__((warn_unused_result));

/* Renders the strongswan.conf for the resolved options into a malloc'd string (NULL +
 * errno). Exposed for tests. */
char *charon_render_conf(const struct charon *c);

#endif
