/* Packet builders for the globalnet BPF tests and benchmark: whole Ethernet/IPv4 frames
 * with every checksum computed from scratch, independently of the BPF code. */
#ifndef SA_TEST_GN_PKT_H
#define SA_TEST_GN_PKT_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define T_TCP 6
#define T_UDP 17
#define T_ICMP 1

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

/* RFC 1071 sum of big-endian 16-bit words, not folded. */
static inline uint32_t t_sum(const unsigned char *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static inline uint16_t t_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline void t_put16(unsigned char *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static inline void t_put32(unsigned char *p, uint32_t v)
{
	t_put16(p, v >> 16);
	t_put16(p + 2, v & 0xffff);
}
static inline uint16_t t_get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t t_get32(const unsigned char *p)
{
	return (uint32_t)t_get16(p) << 16 | t_get16(p + 2);
}

/* Checksum over a pseudo header + L4 segment. */
static inline uint16_t t_l4sum(uint32_t s, uint32_t d, uint8_t proto, const unsigned char *l4,
			       size_t n)
{
	unsigned char ph[12];

	t_put32(ph, s);
	t_put32(ph + 4, d);
	ph[8] = 0;
	ph[9] = proto;
	t_put16(ph + 10, (uint16_t)n);
	return t_fold(t_sum(l4, n, t_sum(ph, 12, 0)));
}

enum { T_F_NOCSUM = 1, T_F_MF = 2 };

/* Writes [eth] IPv4 + l4 into buf with all checksums; returns the frame length.
 * l4 is copied and its checksum field filled (UDP: left 0 with T_F_NOCSUM). */
static inline size_t t_ip(unsigned char *buf, int l2, uint8_t proto, uint32_t s, uint32_t d,
			  const unsigned char *l4, size_t l4len, int flags)
{
	unsigned char *ip = buf + (l2 ? 14 : 0), *seg = ip + 20;

	if (l2) {
		static const unsigned char macs[12] = { 2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa };

		memcpy(buf, macs, 12);
		t_put16(buf + 12, 0x0800);
	}
	memset(ip, 0, 20);
	ip[0] = 0x45;
	t_put16(ip + 2, (uint16_t)(20 + l4len));
	t_put16(ip + 4, 0x1234);
	if (flags & T_F_MF)
		t_put16(ip + 6, 0x2000);
	ip[8] = 64;
	ip[9] = proto;
	t_put32(ip + 12, s);
	t_put32(ip + 16, d);
	t_put16(ip + 10, t_fold(t_sum(ip, 20, 0)));
	memcpy(seg, l4, l4len);
	if (proto == T_TCP) {
		t_put16(seg + 16, 0);
		t_put16(seg + 16, t_l4sum(s, d, proto, seg, l4len));
	} else if (proto == T_UDP) {
		uint16_t c;

		t_put16(seg + 6, 0);
		c = t_l4sum(s, d, proto, seg, l4len);
		t_put16(seg + 6, (flags & T_F_NOCSUM) ? 0 : (c ? c : 0xffff));
	} else if (proto == T_ICMP) {
		t_put16(seg + 2, 0);
		t_put16(seg + 2, t_fold(t_sum(seg, l4len, 0)));
	}
	return (size_t)(seg - buf) + l4len;
}

static inline size_t t_tcp_l4(unsigned char *o, uint16_t sp, uint16_t dp, uint8_t fl,
			      const char *pay)
{
	size_t n = pay ? strlen(pay) : 0;

	memset(o, 0, 20);
	t_put16(o, sp);
	t_put16(o + 2, dp);
	t_put32(o + 4, 1000);
	t_put32(o + 8, (fl & 0x10) ? 2000 : 0);
	o[12] = 5 << 4;
	o[13] = fl;
	t_put16(o + 14, 65535);
	if (n)
		memcpy(o + 20, pay, n);
	return 20 + n;
}

static inline size_t t_udp_l4(unsigned char *o, uint16_t sp, uint16_t dp, const char *pay)
{
	size_t n = pay ? strlen(pay) : 0;

	t_put16(o, sp);
	t_put16(o + 2, dp);
	t_put16(o + 4, (uint16_t)(8 + n));
	t_put16(o + 6, 0);
	if (n)
		memcpy(o + 8, pay, n);
	return 8 + n;
}

static inline size_t t_echo_l4(unsigned char *o, uint8_t type, uint16_t id, uint16_t seq,
			       const char *pay)
{
	size_t n = pay ? strlen(pay) : 0;

	o[0] = type;
	o[1] = 0;
	t_put16(o + 2, 0);
	t_put16(o + 4, id);
	t_put16(o + 6, seq);
	if (n)
		memcpy(o + 8, pay, n);
	return 8 + n;
}

/* An ICMP error quoting q (an IPv4 packet without Ethernet header), qlen bytes of it. */
static inline size_t t_err_l4(unsigned char *o, uint8_t type, uint8_t code, uint32_t rest,
			      const unsigned char *q, size_t qlen)
{
	o[0] = type;
	o[1] = code;
	t_put16(o + 2, 0);
	t_put32(o + 4, rest);
	memcpy(o + 8, q, qlen);
	return 8 + qlen;
}

/* One fragment of the IPv4 packet ip (no Ethernet header): payload bytes [from, from+n)
 * (from a multiple of 8), MF when more follow. Returns the frame length. */
static inline size_t t_frag(unsigned char *buf, int l2, const unsigned char *ip, size_t from,
			    size_t n, int more)
{
	unsigned char *o = buf + (l2 ? 14 : 0);

	if (l2) {
		memset(buf, 0, 12);
		t_put16(buf + 12, 0x0800);
	}
	memcpy(o, ip, 20);
	t_put16(o + 2, (uint16_t)(20 + n));
	t_put16(o + 6, (uint16_t)((more ? 0x2000 : 0) | (from / 8)));
	t_put16(o + 10, 0);
	t_put16(o + 10, t_fold(t_sum(o, 20, 0)));
	memcpy(o + 20, ip + 20 + from, n);
	return (size_t)(o - buf) + 20 + n;
}

#define T_L3(buf, l2) ((buf) + ((l2) ? 14 : 0))

/* 1 when the IPv4 header checksum and the L4 checksum (TCP/UDP with pseudo header, ICMP;
 * for an ICMP error also the quoted IPv4 header) of the frame verify from scratch.
 * Fragments: the IPv4 header only. */
static inline int t_csums_ok(const unsigned char *buf, size_t len, int l2)
{
	const unsigned char *ip = T_L3(buf, l2), *l4;
	size_t ihl, tot;

	if (len < (size_t)(ip - buf) + 20)
		return 0;
	ihl = (ip[0] & 0xf) * 4u;
	tot = t_get16(ip + 2);
	if (t_fold(t_sum(ip, ihl, 0)) != 0)
		return 0;
	if (t_get16(ip + 6) & 0x3fff)
		return 1;	/* a fragment: the L4 sum covers the whole datagram */
	l4 = ip + ihl;
	switch (ip[9]) {
	case T_TCP:
		return t_l4sum(t_get32(ip + 12), t_get32(ip + 16), T_TCP, l4, tot - ihl) == 0;
	case T_UDP:
		return t_get16(l4 + 6) == 0 ||
		       t_l4sum(t_get32(ip + 12), t_get32(ip + 16), T_UDP, l4, tot - ihl) == 0;
	case T_ICMP:
		if (t_fold(t_sum(l4, tot - ihl, 0)) != 0)
			return 0;
		if (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)
			return t_fold(t_sum(l4 + 8, (l4[8] & 0xf) * 4u, 0)) == 0;
		return 1;
	}
	return 1;
}

#endif
