/* The ABI of bpf/globalnet.bpf.c shared with user space (globalnet/gn_nat.c): map key and
 * value layouts and constants. Fixed-width types only, explicit padding, no pointers, no bool. */
#ifndef SA_BPF_GLOBALNET_H
#define SA_BPF_GLOBALNET_H

#include <linux/types.h>

/* ---- globalnet: tc NAT between a cluster's local addresses and its global CIDR ----
 * Two programs on the tunnel-facing device: tc egress rewrites the SOURCE of packets that
 * leave towards a remote global CIDR, tc ingress rewrites the DESTINATION of packets that
 * arrive for the local global CIDR. Every flow has two conntrack entries in gn_ct, one per
 * hook, each keyed by the packet's tuple as that hook sees it.
 * All addresses and ports are in network byte order. */

#define GN_MAX_EGRESS_IPS	16	/* cluster egress IP pool slots (default use: 8) */
#define GN_PORT_TRIES		64	/* bounded search for a free port per new flow */

enum gn_dir {
	GN_DIR_EGRESS = 0,	/* entry used by the tc egress program: rewrites the source */
	GN_DIR_INGRESS = 1,	/* entry used by the tc ingress program: rewrites the destination */
};

/* gn_ct key: the packet's 5-tuple as the hook sees it. ICMP echo: the identifier is the
 * source "port" of a request and the destination "port" of a reply; the other port is 0. */
struct gn_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;		/* enum gn_dir */
	__u8 pad[2];
};

enum { GN_CT_SNAT = 1, GN_CT_DNAT = 2 };	/* gn_ct_entry.kind */

/* gn_ct value: what the hook writes (egress: source addr/port; ingress: destination).
 * The flags are separate bytes so that CPUs can set them with plain stores. */
struct gn_ct_entry {
	__u64 last_seen_ns;	/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last packet */
	__u64 created_ns;
	__be32 addr;
	__be16 port;		/* unused for the virtual ICMP echo port */
	__u8 kind;		/* GN_CT_SNAT: made by a local source; GN_CT_DNAT: to an ingress IP */
	__u8 orig;		/* 1: the entry of the direction that created the flow */
	__u8 seen;		/* a packet has used this entry */
	__u8 fin;		/* TCP FIN seen in this direction */
	__u8 rst;		/* TCP RST seen in this direction */
	__u8 pad[5];
};

/* gn_config[0]. The programs pass everything while flags lacks GN_CFG_F_ENABLED. */
enum { GN_CFG_F_ENABLED = 1U << 0 };

struct gn_config {
	__be32 global_net;	/* the local cluster's global CIDR */
	__be32 global_mask;
	__u16 port_min;		/* host byte order: port range for egress translation */
	__u16 port_max;
	__u32 n_egress;		/* used slots of gn_egress_pool, 0..GN_MAX_EGRESS_IPS */
	__u32 flags;		/* GN_CFG_F_* */
	__u32 pad;
};

/* LPM keys (gn_remote: remote global CIDRs; gn_src_egress: local sources with their own
 * egress IP, a pod as /32 or a CIDR of pods). */
struct gn_lpm_key {
	__u32 prefixlen;
	__be32 addr;
};

struct gn_remote_val {
	__u32 id;		/* opaque to BPF (user space: which remote cluster) */
	__u32 pad;
};

struct gn_src_egress_val {
	__be32 egress_ip;
	__u32 pad;
};

/* gn_ingress: global ingress IP -> local target (service VIP or pod), 1:1 DNAT. */
struct gn_ingress_val {
	__be32 target;
	__u32 pad;
};

/* gn_frag (LRU): a fragmented datagram's first fragment carries the L4 header and is
 * translated through gn_ct; the address it got is kept here under the datagram's IPv4
 * identity, as the hook saw it, for the later fragments (which have no ports). */
struct gn_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 dir;		/* enum gn_dir */
};

struct gn_frag_val {
	__be32 addr;		/* the address written (egress: source; ingress: destination) */
	__u32 pad;
};

/* gn_stats: a per-CPU array of __u64 packet counts indexed by GN_STAT_*. The drop
 * reasons the helpers return (negated) are the GN_STAT_DROP_* indices themselves. */
enum {
	GN_STAT_PASS = 0,		/* not for globalnet: untouched */
	GN_STAT_MALFORMED_PASS,		/* IPv4 header unreadable: untouched */
	GN_STAT_EGRESS_XLATE,		/* source rewritten on egress */
	GN_STAT_INGRESS_XLATE,		/* destination rewritten on ingress */
	GN_STAT_ICMP_ERR_XLATE,		/* ICMP error translated (outer + embedded) */
	GN_STAT_NEW_SNAT,		/* egress flows created */
	GN_STAT_NEW_DNAT,		/* ingress flows created */
	GN_STAT_DROP_MALFORMED,		/* for globalnet but truncated or inconsistent */
	GN_STAT_DROP_FRAGMENT,		/* later fragment whose first one was not seen */
	GN_STAT_DROP_NO_FLOW,		/* for a global IP without flow or mapping */
	GN_STAT_DROP_UNSUPPORTED,	/* protocol or ICMP type not translated */
	GN_STAT_DROP_TABLE_FULL,	/* allocation failure: gn_ct full, new flow refused */
	GN_STAT_DROP_NO_PORT,		/* allocation failure: no free port within the tries */
	GN_STAT_DROP_NO_EGRESS_IP,	/* no egress IP configured */
	GN_STAT_DROP_CONFLICT,		/* reverse tuple already used by another flow */
	GN_STAT_DROP_REWRITE,		/* a store/checksum helper failed */
	GN_STAT_MAX,
};

_Static_assert(sizeof(struct gn_ct_key) == 16, "gn_ct_key ABI");
_Static_assert(sizeof(struct gn_ct_entry) == 32, "gn_ct_entry ABI");
_Static_assert(sizeof(struct gn_config) == 24, "gn_config ABI");
_Static_assert(sizeof(struct gn_lpm_key) == 8, "gn_lpm_key ABI");
_Static_assert(sizeof(struct gn_remote_val) == 8, "gn_remote_val ABI");
_Static_assert(sizeof(struct gn_src_egress_val) == 8, "gn_src_egress_val ABI");
_Static_assert(sizeof(struct gn_ingress_val) == 8, "gn_ingress_val ABI");
_Static_assert(sizeof(struct gn_frag_key) == 12, "gn_frag_key ABI");
_Static_assert(sizeof(struct gn_frag_val) == 8, "gn_frag_val ABI");

#endif
