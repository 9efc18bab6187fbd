/* `subagent diagnose`: checks a node the way `subctl diagnose` does and says what to do
 * about each failure. The checks: the agent runs; the kernel's ESP data path (XFRM, or
 * charon's user-space ESP over a TUN device); BPF and tc (a program loaded and attached in a
 * throwaway network namespace); firewall rules that would drop IKE, NAT-T, VXLAN or the
 * election; routes and addresses that overlap remote clusters' CIDRs; the path MTU through
 * every tunnel and under it, probed with DF-marked ICMP echo; clock skew against the
 * broker; the broker's reachability, its certificate, this cluster's credential; charon's
 * health and every connection's status. */
#ifndef SA_DIAG_H
#define SA_DIAG_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct diag_opts {
	const char *config_dir;		/* written by `subagent join` */
	const char *state_dir;		/* the local agent's; NULL: /var/lib/subagent/<hostname> */
	int timeout_ms;			/* per probe; 0: 1000 */
	bool no_mtu;			/* skip the MTU probes (they take a few seconds) */
};

/* One row per check and target in *rows (a JSON array of {"check", "target", "result":
 * "pass"|"warn"|"fail"|"skip", "detail", "hint"}). Returns how many failed (>= 0), or
 * -errno when the checks could not run at all (err says why). */
int diag_run(const struct diag_opts *o, cJSON **rows, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
