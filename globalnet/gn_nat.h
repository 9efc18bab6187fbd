/* globalnet NAT: loads the tc BPF programs (bpf/globalnet.bpf.c, embedded skeleton),
 * attaches them to the tunnel-facing device, fills their configuration maps, reads their
 * counters and sweeps idle flows. Addresses in this API are IPv4 in host byte order (as in
 * common/cidr.h). The conntrack map (and the counters) can be pinned in a bpffs directory
 * so that a restarted agent keeps the established flows. */
#ifndef SA_GN_NAT_H
#define SA_GN_NAT_H

#include <stdint.h>

#include "common/cidr.h"

struct gn_nat;

/* What the programs see first on the device they are attached to. */
enum gn_dev_kind {
	GN_DEV_ETHER,	/* an Ethernet header both ways (a VXLAN device, a veth) */
	GN_DEV_L3,	/* the IP header both ways (a TUN device: kernel-libipsec's ipsec0) */
	GN_DEV_XFRM,	/* an XFRM interface: the IP header on egress; on ingress the underlay's
			 * Ethernet header, which the kernel rebuilds in front of a packet it
			 * decapsulated */
};

struct gn_nat_opts {
	const char *pin_dir;	/* bpffs directory for gn_ct and gn_stats; NULL: no pinning */
	enum gn_dev_kind dev;
	uint32_t ct_max;	/* conntrack entries (2 per flow); 0: 131072 */
	int keep_attached;	/* gn_nat_close() leaves the filters translating (restart) */
};

/* Idle timeouts of the sweep, in seconds. Zero fields take the defaults. */
struct gn_timeouts {
	uint32_t tcp_est;	/* both directions seen: 3600 */
	uint32_t tcp_closing;	/* RST, or FIN both ways: 10 */
	uint32_t tcp_half;	/* FIN one way only (half-closed): 120 */
	uint32_t unreplied;	/* TCP/UDP without an answer: 30 */
	uint32_t udp;		/* UDP with answers: 180 */
	uint32_t icmp;		/* ICMP echo: 30 */
};

/* Opens and loads the programs, re-using maps pinned under opts->pin_dir (creating the
 * directory and pinning them on first use). NULL and errno on failure. */
struct gn_nat *gn_nat_open(const struct gn_nat_opts *opts);
/* Detaches (unless opened with keep_attached) and frees; pinned maps stay. With
 * keep_attached the attached programs go on translating with their maps until a new
 * gn_nat_attach() replaces them: a restarting agent leaves no gap. NULL-safe. */
void gn_nat_close(struct gn_nat *n);
/* Removes the pinned maps of pin_dir (and the directory when empty). 0 or -errno. */
int gn_nat_unpin(const char *pin_dir) __attribute__((warn_unused_result));

/* Attaches egress and ingress programs to ifindex (clsact is created when missing; a
 * filter left by an earlier run is replaced in place, without a gap). Fill the
 * configuration first: until then the new programs pass everything untranslated.
 * 0 or -errno. */
int gn_nat_attach(struct gn_nat *n, int ifindex) __attribute__((warn_unused_result));
/* Removes this module's two filters; other filters and the qdisc stay. 0 or -errno. */
int gn_nat_detach(struct gn_nat *n) __attribute__((warn_unused_result));

/* The local cluster's global CIDR and the port range of egress translation; enables the
 * programs. 0 or -EINVAL/-errno. */
int gn_nat_set_local(struct gn_nat *n, const struct cidr4 *global, uint16_t port_min,
		     uint16_t port_max) __attribute__((warn_unused_result));
/* The cluster egress IPs (1..16), each inside the global CIDR. 0 or -EINVAL/-errno. */
int gn_nat_set_egress_pool(struct gn_nat *n, const uint32_t *ips, unsigned int count)
	__attribute__((warn_unused_result));
int gn_nat_add_remote(struct gn_nat *n, const struct cidr4 *remote, uint32_t id)
	__attribute__((warn_unused_result));
int gn_nat_del_remote(struct gn_nat *n, const struct cidr4 *remote)
	__attribute__((warn_unused_result));
/* Sources (a pod /32 or a CIDR of pods) that leave with their own egress IP. */
int gn_nat_add_src_egress(struct gn_nat *n, const struct cidr4 *src, uint32_t egress_ip)
	__attribute__((warn_unused_result));
int gn_nat_del_src_egress(struct gn_nat *n, const struct cidr4 *src)
	__attribute__((warn_unused_result));
/* Ingress IP (global) -> local target (service VIP or pod). */
int gn_nat_add_ingress(struct gn_nat *n, uint32_t global_ip, uint32_t target)
	__attribute__((warn_unused_result));
int gn_nat_del_ingress(struct gn_nat *n, uint32_t global_ip) __attribute__((warn_unused_result));

/* Sums the per-CPU counters into out[GN_STAT_MAX] (bpf/globalnet.h). 0 or -errno. */
int gn_nat_read_stats(struct gn_nat *n, uint64_t *out, unsigned int nout)
	__attribute__((warn_unused_result));
/* Number of conntrack entries (2 per flow), or -errno. */
int gn_nat_ct_count(struct gn_nat *n) __attribute__((warn_unused_result));
/* Deletes flows idle for longer than their timeout at time now_ns (CLOCK_MONOTONIC,
 * bpf_ktime_get_ns()'s clock; 0: now). Both entries of a flow go together. Returns the
 * number of flows removed, or -errno. */
int gn_nat_gc(struct gn_nat *n, uint64_t now_ns, const struct gn_timeouts *t)
	__attribute__((warn_unused_result));

/* "egress_xlate", "drop_table_full", ... for a GN_STAT_* index; NULL when out of range. */
const char *gn_nat_stat_name(unsigned int idx);

/* For tests and benchmarks: program fds (egress != 0: the egress one) and map fds. */
int gn_nat_prog_fd(const struct gn_nat *n, int egress);
int gn_nat_ct_fd(const struct gn_nat *n);

#endif
