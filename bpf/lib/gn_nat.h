/* globalnet: conntrack entries and packet rewriting for the tc egress and ingress programs.
 *
 * A flow has two gn_ct entries, each keyed by the tuple its hook sees:
 *   egress SNAT flow  P:p -> R:r   egress  (P,R,p,r) -> {E,e}   ingress (R,E,r,e) -> {P,p}
 *   ingress DNAT flow R:r -> I:i   ingress (R,I,r,i) -> {T,i}   egress  (T,R,i,r) -> {I,i}
 * The egress hook always rewrites the source, the ingress hook always the destination.
 * Functions return a GN_STAT_* index (>= 0, the packet passes) or -GN_STAT_DROP_*. */
#ifndef SA_BPF_GN_NAT_H
#define SA_BPF_GN_NAT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/globalnet.h"
#include "bpf/lib/gn_maps.h"
#include "bpf/lib/gn_csum.h"
#include "bpf/lib/gn_parse.h"

#define GN_IP_CSUM_OFF 10
#define GN_IP_SADDR_OFF 12
#define GN_IP_DADDR_OFF 16

static __always_inline void gn_key_from_pkt(struct gn_ct_key *k, const struct gn_pkt *p,
					    __u8 dir)
{
	k->saddr = p->saddr;
	k->daddr = p->daddr;
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->dir = dir;
	k->pad[0] = 0;
	k->pad[1] = 0;
}

/* Marks a packet's use of its entry; TCP FIN/RST let the user-space sweep expire the flow
 * early, a fresh SYN on a closing tuple revives it. Plain byte stores: no RMW races. */
static __always_inline void gn_ct_touch(struct gn_ct_entry *e, const struct gn_pkt *p, __u64 now)
{
	e->last_seen_ns = now;
	if (!e->seen)
		e->seen = 1;
	if (p->proto != IPPROTO_TCP)
		return;
	if ((p->tcp_flags & GN_TCP_RST) && !e->rst)
		e->rst = 1;
	if ((p->tcp_flags & GN_TCP_FIN) && !e->fin)
		e->fin = 1;
	if ((p->tcp_flags & (GN_TCP_SYN | GN_TCP_ACK)) == GN_TCP_SYN && (e->fin || e->rst)) {
		e->fin = 0;
		e->rst = 0;
	}
}

/* Rewrites the source (dst == 0) or destination address and port of the packet p
 * describes, fixing the IPv4 checksum and the L4 one (TCP/UDP: pseudo header too; a zero
 * UDP checksum stays zero). The kernel helpers keep skb->csum right for CHECKSUM_COMPLETE
 * and only touch the pseudo-header sum for CHECKSUM_PARTIAL. */
static __always_inline int gn_rewrite(struct __sk_buff *skb, const struct gn_pkt *p, int dst,
				      __be32 addr, __be16 port)
{
	__u32 aoff = p->l3off + (dst ? GN_IP_DADDR_OFF : GN_IP_SADDR_OFF);
	__be32 old_addr = dst ? p->daddr : p->saddr;
	__be16 old_port = dst ? p->dport : p->sport;
	__u32 poff = dst ? p->dport_off : p->sport_off;
	int port_real = p->flags & (dst ? GN_P_DPORT_REAL : GN_P_SPORT_REAL);
	__u64 l4f = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (addr != old_addr) {
		if (p->proto != IPPROTO_ICMP &&
		    bpf_l4_csum_replace(skb, p->csum_off, old_addr, addr,
					l4f | BPF_F_PSEUDO_HDR | sizeof(addr)))
			return -GN_STAT_DROP_REWRITE;
		if (bpf_l3_csum_replace(skb, p->l3off + GN_IP_CSUM_OFF, old_addr, addr,
					sizeof(addr)))
			return -GN_STAT_DROP_REWRITE;
		if (bpf_skb_store_bytes(skb, aoff, &addr, sizeof(addr), 0))
			return -GN_STAT_DROP_REWRITE;
	}
	if (port_real && port != old_port) {
		if (bpf_l4_csum_replace(skb, p->csum_off, old_port, port, l4f | sizeof(port)))
			return -GN_STAT_DROP_REWRITE;
		if (bpf_skb_store_bytes(skb, poff, &port, sizeof(port), 0))
			return -GN_STAT_DROP_REWRITE;
	}
	return 0;
}

static __always_inline void gn_frag_key(struct gn_frag_key *fk, const struct gn_pkt *p, __u8 dir)
{
	fk->saddr = p->saddr;
	fk->daddr = p->daddr;
	fk->id = p->ipid;
	fk->proto = p->proto;
	fk->dir = dir;
}

/* After a first fragment was translated: remember its address for the later ones. */
static __always_inline void gn_frag_remember(const struct gn_pkt *p, __u8 dir, __be32 addr)
{
	struct gn_frag_key fk;
	struct gn_frag_val fv = { .addr = addr };

	gn_frag_key(&fk, p, dir);
	bpf_map_update_elem(&gn_frag, &fk, &fv, BPF_ANY);
}

/* A later fragment: only its address changes (the L4 checksum is in the first one). A
 * fragment that overtook its first one is dropped; the sender's retransmit recovers. */
static __always_inline int gn_frag_later(struct __sk_buff *skb, const struct gn_pkt *p, __u8 dir)
{
	int dst = dir == GN_DIR_INGRESS;
	__be32 old = dst ? p->daddr : p->saddr;
	struct gn_frag_key fk;
	struct gn_frag_val *fv;
	__be32 addr;

	gn_frag_key(&fk, p, dir);
	fv = bpf_map_lookup_elem(&gn_frag, &fk);
	if (!fv)
		return -GN_STAT_DROP_FRAGMENT;
	addr = fv->addr;
	if (addr != old &&
	    (bpf_l3_csum_replace(skb, p->l3off + GN_IP_CSUM_OFF, old, addr, sizeof(addr)) ||
	     bpf_skb_store_bytes(skb, p->l3off + (dst ? GN_IP_DADDR_OFF : GN_IP_SADDR_OFF),
				 &addr, sizeof(addr), 0)))
		return -GN_STAT_DROP_REWRITE;
	return dst ? GN_STAT_INGRESS_XLATE : GN_STAT_EGRESS_XLATE;
}

static __always_inline int gn_in_cidr(__be32 addr, __be32 net, __be32 mask)
{
	return (addr & mask) == net;
}

/* The egress IP of a local source: its own one (gn_src_egress, longest prefix) or one of
 * the cluster's pool, the same for every flow of that source. */
static __always_inline __be32 gn_pick_egress_ip(const struct gn_config *cfg, __be32 saddr)
{
	struct gn_lpm_key lk = { .prefixlen = 32, .addr = saddr };
	struct gn_src_egress_val *sv = bpf_map_lookup_elem(&gn_src_egress, &lk);
	__u32 n = cfg->n_egress, idx;
	__be32 *ip;

	if (sv)
		return sv->egress_ip;
	if (n == 0 || n > GN_MAX_EGRESS_IPS)
		return 0;
	idx = (bpf_ntohl(saddr) * 2654435761U) >> 16;
	idx %= n;
	ip = bpf_map_lookup_elem(&gn_egress_pool, &idx);
	return ip ? *ip : 0;
}

/* Creates an egress SNAT flow for p (egress hook, no entry yet): picks the egress IP,
 * claims a free (egress IP, port) by inserting the reply entry with BPF_NOEXIST (the
 * original port first, then a bounded search from a random point of the range), then
 * inserts the forward entry. On success *out holds the forward entry's value. */
static __always_inline int gn_new_snat(const struct gn_config *cfg, const struct gn_pkt *p,
				       __u64 now, struct gn_ct_entry *out)
{
	struct gn_ct_entry rv = {
		.last_seen_ns = now, .created_ns = now, .addr = p->saddr, .port = p->sport,
		.kind = GN_CT_SNAT,
	};
	struct gn_ct_key fk, rk = {
		.saddr = p->daddr, .dport = 0, .sport = p->dport, .proto = p->proto,
		.dir = GN_DIR_INGRESS,
	};
	__u32 pmin = cfg->port_min, pmax = cfg->port_max, count, start, i;
	__u16 orig = bpf_ntohs(p->sport);
	__be32 eip;
	int err, found = 0;

	/* Only a flow's first packet may create it; a stray echo reply may not. */
	if (p->proto == IPPROTO_ICMP && p->icmp_type != ICMP_ECHO)
		return -GN_STAT_DROP_NO_FLOW;
	eip = gn_pick_egress_ip(cfg, p->saddr);
	if (!eip)
		return -GN_STAT_DROP_NO_EGRESS_IP;
	if (pmin == 0 || pmax < pmin)
		return -GN_STAT_DROP_NO_PORT;
	count = pmax - pmin + 1;
	start = bpf_get_prandom_u32();
	rk.daddr = eip;
	for (i = 0; i < GN_PORT_TRIES; i++) {
		__u16 cand;

		if (i == 0 && orig >= pmin && orig <= pmax)
			cand = orig;
		else
			cand = pmin + (start + i) % count;
		rk.dport = bpf_htons(cand);
		err = bpf_map_update_elem(&gn_ct, &rk, &rv, BPF_NOEXIST);
		if (!err) {
			found = 1;
			break;
		}
		if (err != -EEXIST)
			return -GN_STAT_DROP_TABLE_FULL;
	}
	if (!found)
		return -GN_STAT_DROP_NO_PORT;

	gn_key_from_pkt(&fk, p, GN_DIR_EGRESS);
	*out = (struct gn_ct_entry){
		.last_seen_ns = now, .created_ns = now, .addr = eip, .port = rk.dport,
		.kind = GN_CT_SNAT, .orig = 1, .seen = 1,
	};
	err = bpf_map_update_elem(&gn_ct, &fk, out, BPF_NOEXIST);
	if (err) {
		struct gn_ct_entry *e;

		bpf_map_delete_elem(&gn_ct, &rk);
		if (err != -EEXIST)
			return -GN_STAT_DROP_TABLE_FULL;
		/* Another CPU made the same flow meanwhile: use its entry. */
		e = bpf_map_lookup_elem(&gn_ct, &fk);
		if (!e)
			return -GN_STAT_DROP_NO_FLOW;
		*out = *e;
		return 0;
	}
	gn_stat_inc(GN_STAT_NEW_SNAT);
	return 0;
}

/* Creates an ingress DNAT flow to the target mapped to p's destination (ingress hook). */
static __always_inline int gn_new_dnat(const struct gn_pkt *p, __u64 now,
				       struct gn_ct_entry *out)
{
	struct gn_ingress_val *iv = bpf_map_lookup_elem(&gn_ingress, &p->daddr);
	struct gn_ct_entry rv = {
		.last_seen_ns = now, .created_ns = now, .addr = p->daddr, .port = p->dport,
		.kind = GN_CT_DNAT,
	};
	struct gn_ct_key fk, rk;
	int err;

	if (!iv)
		return -GN_STAT_DROP_NO_FLOW;
	if (p->proto == IPPROTO_ICMP && p->icmp_type != ICMP_ECHO)
		return -GN_STAT_DROP_NO_FLOW;
	/* The reply leaves from target:dport towards the client. */
	rk.saddr = iv->target;
	rk.daddr = p->saddr;
	rk.sport = p->dport;
	rk.dport = p->sport;
	rk.proto = p->proto;
	rk.dir = GN_DIR_EGRESS;
	rk.pad[0] = 0;
	rk.pad[1] = 0;
	err = bpf_map_update_elem(&gn_ct, &rk, &rv, BPF_NOEXIST);
	if (err)
		return err == -EEXIST ? -GN_STAT_DROP_CONFLICT : -GN_STAT_DROP_TABLE_FULL;

	gn_key_from_pkt(&fk, p, GN_DIR_INGRESS);
	*out = (struct gn_ct_entry){
		.last_seen_ns = now, .created_ns = now, .addr = iv->target, .port = p->dport,
		.kind = GN_CT_DNAT, .orig = 1, .seen = 1,
	};
	err = bpf_map_update_elem(&gn_ct, &fk, out, BPF_NOEXIST);
	if (err) {
		struct gn_ct_entry *e;

		bpf_map_delete_elem(&gn_ct, &rk);
		if (err != -EEXIST)
			return -GN_STAT_DROP_TABLE_FULL;
		e = bpf_map_lookup_elem(&gn_ct, &fk);
		if (!e)
			return -GN_STAT_DROP_NO_FLOW;
		*out = *e;
		return 0;
	}
	gn_stat_inc(GN_STAT_NEW_DNAT);
	return 0;
}

/* Translates an ICMP error (outer header in p) about a translated flow. The quoted packet
 * is one that crossed this hook's opposite direction, so its reversed tuple is this hook's
 * key. Ingress rewrites the outer destination and the quote's source; egress the outer
 * source and the quote's destination. The quote's IPv4 and L4 checksums and the ICMP
 * checksum over all of it are updated; the rest (e.g. the next-hop MTU) is left alone. */
static __always_inline int gn_icmp_err(struct __sk_buff *skb, const struct gn_pkt *p, __u8 dir)
{
	int ingress = dir == GN_DIR_INGRESS;
	struct gn_pkt q;
	struct gn_ct_key k;
	struct gn_ct_entry *e;
	__u32 icsum = p->csum_off;
	__be32 old_addr, addr;
	__be16 old_port, port;
	__u16 ipc, l4c;
	int err;

	err = gn_parse_ip_embedded(skb, &q, p->l4off + 8, p->l3end);
	if (err)
		return err;
	err = gn_parse_l4(skb, &q, p->l3end, 1);
	if (err)
		return err == -GN_STAT_DROP_FRAGMENT ? -GN_STAT_DROP_NO_FLOW : err;

	k.saddr = q.daddr;
	k.daddr = q.saddr;
	k.sport = q.dport;
	k.dport = q.sport;
	k.proto = q.proto;
	k.dir = dir;
	k.pad[0] = 0;
	k.pad[1] = 0;
	e = bpf_map_lookup_elem(&gn_ct, &k);
	if (!e)
		return -GN_STAT_DROP_NO_FLOW;
	addr = e->addr;
	port = e->port;

	/* The quote: ingress fixes its source, egress its destination. */
	old_addr = ingress ? q.saddr : q.daddr;
	old_port = ingress ? q.sport : q.dport;
	ipc = q.ipcsum;
	l4c = q.l4csum;
	if (addr != old_addr) {
		ipc = gn_csum_replace4(q.ipcsum, old_addr, addr);
		if ((q.flags & GN_P_HAS_CSUM) && q.proto != IPPROTO_ICMP &&
		    !(q.proto == IPPROTO_UDP && !q.l4csum))
			l4c = gn_csum_replace4(l4c, old_addr, addr);
		if (bpf_skb_store_bytes(skb, q.l3off + (ingress ? GN_IP_SADDR_OFF : GN_IP_DADDR_OFF),
					&addr, sizeof(addr), 0) ||
		    bpf_skb_store_bytes(skb, q.l3off + GN_IP_CSUM_OFF, &ipc, sizeof(ipc), 0) ||
		    bpf_l4_csum_replace(skb, icsum, old_addr, addr, sizeof(addr)) ||
		    bpf_l4_csum_replace(skb, icsum, q.ipcsum, ipc, sizeof(ipc)))
			return -GN_STAT_DROP_REWRITE;
	}
	if ((q.flags & (ingress ? GN_P_SPORT_REAL : GN_P_DPORT_REAL)) && port != old_port) {
		if ((q.flags & GN_P_HAS_CSUM) && !(q.proto == IPPROTO_UDP && !q.l4csum))
			l4c = gn_csum_replace2(l4c, old_port, port);
		if (bpf_skb_store_bytes(skb, ingress ? q.sport_off : q.dport_off, &port,
					sizeof(port), 0) ||
		    bpf_l4_csum_replace(skb, icsum, old_port, port, sizeof(port)))
			return -GN_STAT_DROP_REWRITE;
	}
	if (l4c != q.l4csum) {
		if (q.proto == IPPROTO_UDP && !l4c)
			l4c = 0xffff;	/* 0 would mean "no checksum" */
		if (bpf_skb_store_bytes(skb, q.csum_off, &l4c, sizeof(l4c), 0) ||
		    bpf_l4_csum_replace(skb, icsum, q.l4csum, l4c, sizeof(l4c)))
			return -GN_STAT_DROP_REWRITE;
	}

	/* The outer header: no pseudo header in ICMP, only the IPv4 checksum. */
	old_addr = ingress ? p->daddr : p->saddr;
	if (addr != old_addr) {
		if (bpf_l3_csum_replace(skb, p->l3off + GN_IP_CSUM_OFF, old_addr, addr,
					sizeof(addr)) ||
		    bpf_skb_store_bytes(skb, p->l3off + (ingress ? GN_IP_DADDR_OFF : GN_IP_SADDR_OFF),
					&addr, sizeof(addr), 0))
			return -GN_STAT_DROP_REWRITE;
	}
	return GN_STAT_ICMP_ERR_XLATE;
}

#endif
