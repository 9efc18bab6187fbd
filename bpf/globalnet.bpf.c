// SPDX-License-Identifier: GPL-2.0
/* globalnet: tc programs on a gateway's tunnel-facing device that translate between the
 * cluster's (possibly overlapping) local addresses and its global CIDR.
 *   gn_tc_egress  (tc egress): packets towards a remote global CIDR get a global source:
 *                 an egress IP + port for flows started here, the ingress IP for replies.
 *   gn_tc_ingress (tc ingress): packets for the local global CIDR get their local
 *                 destination back: the pod of an egress flow, or an ingress IP's target.
 * Both live in one object because they share every map (see bpf/lib/gn_maps.h). On an L3
 * device (TUN) the packet starts at the IP header: user space sets is_l3 before load. On an
 * XFRM interface only egress does: a packet decapsulated there arrives with the underlay's
 * Ethernet header put back in front of it (the kernel's skb_mac_header_rebuild() after
 * removing the outer IP header), which tc ingress shows; user space sets ingress_eth too. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/globalnet.h"
#include "bpf/lib/gn_maps.h"
#include "bpf/lib/gn_parse.h"
#include "bpf/lib/gn_nat.h"

const volatile __u32 is_l3 = 0;
const volatile __u32 ingress_eth = 0;

static __always_inline int gn_handle(struct __sk_buff *skb, __u8 dir)
{
	__u32 zero = 0;
	struct gn_config *cfg = bpf_map_lookup_elem(&gn_config, &zero);
	struct gn_ct_entry *e, ne;
	struct gn_ct_key k;
	struct gn_pkt p;
	__be32 addr;
	__be16 port;
	__u64 now;
	int ret, pass;

	if (!cfg || !(cfg->flags & GN_CFG_F_ENABLED))
		return GN_STAT_PASS;
	if (!gn_parse_ip(skb, &p, is_l3 && !(dir == GN_DIR_INGRESS && ingress_eth), &pass))
		return pass;
	if (dir == GN_DIR_EGRESS) {
		struct gn_lpm_key lk = { .prefixlen = 32, .addr = p.daddr };

		if (!bpf_map_lookup_elem(&gn_remote, &lk))
			return GN_STAT_PASS;
		/* Already global (e.g. the gateway's own global IP): nothing to hide. */
		if (gn_in_cidr(p.saddr, cfg->global_net, cfg->global_mask))
			return GN_STAT_PASS;
	} else if (!gn_in_cidr(p.daddr, cfg->global_net, cfg->global_mask)) {
		return GN_STAT_PASS;
	}
	if (p.flags & GN_P_FRAG)
		return gn_frag_later(skb, &p, dir);
	ret = gn_parse_l4(skb, &p, p.l3end, 0);
	if (ret)
		return ret;
	if (p.flags & GN_P_ICMP_ERR)
		return gn_icmp_err(skb, &p, dir);

	now = bpf_ktime_get_ns();
	gn_key_from_pkt(&k, &p, dir);
	e = bpf_map_lookup_elem(&gn_ct, &k);
	if (e) {
		gn_ct_touch(e, &p, now);
		addr = e->addr;
		port = e->port;
	} else {
		ret = dir == GN_DIR_EGRESS ? gn_new_snat(cfg, &p, now, &ne) : gn_new_dnat(&p, now, &ne);
		if (ret)
			return ret;
		addr = ne.addr;
		port = ne.port;
	}
	ret = gn_rewrite(skb, &p, dir == GN_DIR_INGRESS, addr, port);
	if (ret)
		return ret;
	if (p.flags & GN_P_FRAG_FIRST)
		gn_frag_remember(&p, dir, addr);
	return dir == GN_DIR_EGRESS ? GN_STAT_EGRESS_XLATE : GN_STAT_INGRESS_XLATE;
}

/* The one place where a helper's negative drop reason becomes TC_ACT_SHOT. */
static __always_inline int gn_verdict(int ret)
{
	if (ret < 0) {
		gn_stat_inc((__u32)-ret);
		return TC_ACT_SHOT;
	}
	gn_stat_inc((__u32)ret);
	return TC_ACT_OK;
}

SEC("tc")
int gn_tc_egress(struct __sk_buff *skb)
{
	return gn_verdict(gn_handle(skb, GN_DIR_EGRESS));
}

SEC("tc")
int gn_tc_ingress(struct __sk_buff *skb)
{
	return gn_verdict(gn_handle(skb, GN_DIR_INGRESS));
}

char LICENSE[] SEC("license") = "GPL";
