/* globalnet: reads the IPv4 and L4 headers of a packet (or of the packet embedded in an
 * ICMP error) into struct gn_pkt. Everything goes through bpf_skb_load_bytes(), which
 * fails instead of reading past the end, so truncated packets are safe and non-linear
 * skbs work. Positive results are GN_STAT_* (pass), negative ones -GN_STAT_DROP_*. */
#ifndef SA_BPF_GN_PARSE_H
#define SA_BPF_GN_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/globalnet.h"

/* ICMP constants (linux/icmp.h drags in libc headers a BPF build cannot use). */
#define ICMP_ECHOREPLY		0
#define ICMP_DEST_UNREACH	3
#define ICMP_ECHO		8
#define ICMP_TIME_EXCEEDED	11
#define ICMP_PARAMETERPROB	12
#define GN_ICMP_CSUM_OFF	2

#define GN_IP_MF	0x2000
#define GN_IP_OFFSET	0x1fff

enum {
	GN_P_SPORT_REAL = 1U << 0,	/* sport is a field of the packet (not ICMP's virtual 0) */
	GN_P_DPORT_REAL = 1U << 1,
	GN_P_ICMP_ERR = 1U << 2,	/* ICMP error: the embedded packet decides the flow */
	GN_P_HAS_CSUM = 1U << 3,	/* the L4 checksum lies inside the packet (embedded) */
	GN_P_FRAG = 1U << 4,		/* a later IP fragment: no L4 header */
	GN_P_FRAG_FIRST = 1U << 5,	/* the first fragment of a fragmented datagram */
};

struct gn_pkt {
	__u32 l3off;		/* IPv4 header */
	__u32 l4off;		/* L4 header */
	__u32 l3end;		/* l3off + tot_len */
	__u32 csum_off;		/* L4 checksum field */
	__u32 sport_off;	/* valid with GN_P_SPORT_REAL */
	__u32 dport_off;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__be16 ipid;		/* IPv4 identification */
	__u16 ipcsum;		/* IPv4 header checksum as found (embedded headers) */
	__u16 l4csum;		/* L4 checksum as found (with GN_P_HAS_CSUM) */
	__u8 proto;
	__u8 tcp_flags;		/* byte 13 of the TCP header */
	__u8 icmp_type;
	__u8 flags;		/* GN_P_* */
};

#define GN_TCP_FIN 0x01
#define GN_TCP_SYN 0x02
#define GN_TCP_RST 0x04
#define GN_TCP_ACK 0x10

/* Finds and reads the IPv4 header at the start of the frame (l3: no Ethernet header).
 * Returns 1 when p holds an IPv4 header; otherwise 0 with *pass set to GN_STAT_PASS (not
 * IPv4) or GN_STAT_MALFORMED_PASS (header unreadable or inconsistent). The result is not
 * a stat index itself: GN_STAT_PASS is 0 and must never read as "parsed". */
static __always_inline int gn_parse_ip(struct __sk_buff *skb, struct gn_pkt *p, int l3,
				       int *pass)
{
	struct iphdr ip;
	__u32 tot;

	/* Privileged BPF may read stack it never wrote: no field may keep an old packet's. */
	__builtin_memset(p, 0, sizeof(*p));
	if (!l3) {
		__be16 proto;

		*pass = GN_STAT_PASS;
		if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, 2))
			return 0;
		if (proto != bpf_htons(ETH_P_IP))
			return 0;
		p->l3off = sizeof(struct ethhdr);
	} else {
		__u8 vihl;

		/* A TUN device carries bare IP packets: the version nibble tells v4 from v6. */
		*pass = GN_STAT_PASS;
		if (bpf_skb_load_bytes(skb, 0, &vihl, 1))
			return 0;
		if ((vihl >> 4) != 4)
			return 0;
	}
	*pass = GN_STAT_MALFORMED_PASS;
	if (bpf_skb_load_bytes(skb, p->l3off, &ip, sizeof(ip)))
		return 0;
	tot = bpf_ntohs(ip.tot_len);
	if (ip.version != 4 || ip.ihl < 5 || tot < ip.ihl * 4U || p->l3off + tot > skb->len)
		return 0;
	p->l4off = p->l3off + ip.ihl * 4U;
	p->l3end = p->l3off + tot;
	p->saddr = ip.saddr;
	p->daddr = ip.daddr;
	p->proto = ip.protocol;
	p->ipcsum = ip.check;
	p->flags = 0;
	p->tcp_flags = 0;
	p->icmp_type = 0;
	p->ipid = ip.id;
	if (ip.frag_off & bpf_htons(GN_IP_OFFSET))
		p->flags |= GN_P_FRAG;
	else if (ip.frag_off & bpf_htons(GN_IP_MF))
		p->flags |= GN_P_FRAG_FIRST;
	return 1;
}

/* Reads the IPv4 header quoted by an ICMP error at off; end is the outer packet's end.
 * The quote may be cut short, so its total length is not checked against end. */
static __always_inline int gn_parse_ip_embedded(struct __sk_buff *skb, struct gn_pkt *p,
						__u32 off, __u32 end)
{
	struct iphdr ip;

	__builtin_memset(p, 0, sizeof(*p));
	if (off + sizeof(ip) > end || bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return -GN_STAT_DROP_MALFORMED;
	if (ip.version != 4 || ip.ihl < 5)
		return -GN_STAT_DROP_MALFORMED;
	p->l3off = off;
	p->l4off = off + ip.ihl * 4U;
	p->l3end = end;
	p->saddr = ip.saddr;
	p->daddr = ip.daddr;
	p->proto = ip.protocol;
	p->ipcsum = ip.check;
	p->flags = 0;
	p->tcp_flags = 0;
	p->icmp_type = 0;
	p->ipid = ip.id;
	/* A later fragment quotes no L4 header: nothing to match it with. */
	if (ip.frag_off & bpf_htons(GN_IP_OFFSET))
		p->flags |= GN_P_FRAG;
	return 0;
}

/* Reads the L4 header after gn_parse_ip(). end bounds the readable bytes (the IP total
 * length, or the end of an ICMP error's quote). Returns 0 or -GN_STAT_DROP_*. */
static __always_inline int gn_parse_l4(struct __sk_buff *skb, struct gn_pkt *p, __u32 end,
				       int embedded)
{
	__u8 h[8];

	if (p->flags & GN_P_FRAG)
		return -GN_STAT_DROP_FRAGMENT;
	/* TCP, UDP and ICMP all keep what we need in their first 8 bytes; an embedded header
	 * may be cut after those 8 (RFC 792), an outer one must be complete. */
	if (p->l4off + 8 > end || bpf_skb_load_bytes(skb, p->l4off, h, sizeof(h)))
		return -GN_STAT_DROP_MALFORMED;
	switch (p->proto) {
	case IPPROTO_TCP: {
		__u32 need = embedded ? 8 : sizeof(struct tcphdr);

		if (p->l4off + need > end)
			return -GN_STAT_DROP_MALFORMED;
		p->csum_off = p->l4off + offsetof(struct tcphdr, check);
		if (!embedded && bpf_skb_load_bytes(skb, p->l4off + 13, &p->tcp_flags, 1))
			return -GN_STAT_DROP_MALFORMED;
		break;
	}
	case IPPROTO_UDP:
		p->csum_off = p->l4off + offsetof(struct udphdr, check);
		break;
	case IPPROTO_ICMP:
		p->icmp_type = h[0];
		p->csum_off = p->l4off + GN_ICMP_CSUM_OFF;
		switch (h[0]) {
		case ICMP_ECHO:		/* the identifier is the source "port" */
			__builtin_memcpy(&p->sport, &h[4], 2);
			p->dport = 0;
			p->sport_off = p->l4off + 4;
			p->flags |= GN_P_SPORT_REAL;
			break;
		case ICMP_ECHOREPLY:	/* ... and the destination "port" of the reply */
			p->sport = 0;
			__builtin_memcpy(&p->dport, &h[4], 2);
			p->dport_off = p->l4off + 4;
			p->flags |= GN_P_DPORT_REAL;
			break;
		case ICMP_DEST_UNREACH:
		case ICMP_TIME_EXCEEDED:
		case ICMP_PARAMETERPROB:
			if (embedded)	/* an error about an error is never sent */
				return -GN_STAT_DROP_UNSUPPORTED;
			p->flags |= GN_P_ICMP_ERR;
			break;
		default:
			return -GN_STAT_DROP_UNSUPPORTED;
		}
		break;
	default:
		return -GN_STAT_DROP_UNSUPPORTED;
	}
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		__builtin_memcpy(&p->sport, &h[0], 2);
		__builtin_memcpy(&p->dport, &h[2], 2);
		p->sport_off = p->l4off;
		p->dport_off = p->l4off + 2;
		p->flags |= GN_P_SPORT_REAL | GN_P_DPORT_REAL;
	}
	if (embedded && p->csum_off + 2 <= end &&
	    !bpf_skb_load_bytes(skb, p->csum_off, &p->l4csum, 2))
		p->flags |= GN_P_HAS_CSUM;
	return 0;
}

#endif
