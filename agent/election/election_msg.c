/* The election heartbeat: encoder, strict decoder and HMAC check.
 *
 * Version 1, every integer in network byte order:
 *   0  u32 magic "SAel"      4  u8 version (1)     5  u8 flags (bit 0 gateway-capable,
 *   6  u16 total length         bit 1 claims active, bit 2 restarting: hold on for
 *                                 ELECTION_RESTART_GRACE_NS; other bits ignored)
 *   8  u64 epoch            16  u64 sequence (grows with every datagram of a sender)
 *  24  u32 health IP        28  u32 VTEP IP       32  u8[6] VTEP MAC
 *  38  u8 pod prefix        39  u8 reserved (0)   40  u32 pod network   44  u32 private IP
 *  48  u8 n, cluster ID[n]; u8 n, node name[n]; u16 n, extension[n]
 *      extension: TLVs (u8 type, u16 length, value); unknown types are skipped:
 *        1  routes: length/5 entries of (u32 network, u8 prefix), at most
 *           ELECTION_MAX_ROUTES, host bits zero
 *        2  tunnel MTU: u16
 *        3  boot: u64, the sender's random nonce of this start (never 0)
 *        4  ask: length/4 u32 name hashes (at most ELECTION_MAX_ASK) of the nodes the
 *           sender wants to echo its boot nonce
 *        5  echo: length/8 u64 boot nonces (at most ELECTION_MAX_ECHO) of nodes that
 *           asked the sender
 *  then HMAC-SHA256 over every byte before it (32 bytes).
 * The epoch is at most ELECTION_EPOCH_MAX.
 * The total length field must equal the datagram's length. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "agent/election/election.h"
#include "common/name.h"

#define MSG_MAGIC	0x5341656cu	/* "SAel" */
#define MSG_VERSION	1
#define MSG_FIXED	48
#define MSG_MAC		32
#define MSG_MIN		(MSG_FIXED + 1 + 1 + 1 + 1 + 2 + MSG_MAC)

static void put16(uint8_t *p, uint16_t v) { v = htons(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return ntohs(v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static int pod_ok(uint32_t net, uint8_t prefix)
{
	if (prefix > 32)
		return 0;
	if (prefix == 0)
		return net == 0;
	return prefix == 32 || (net & (0xffffffffu >> prefix)) == 0;
}

uint32_t election_name_hash(const char *node)
{
	uint32_t h = 2166136261u;

	for (; *node; node++)
		h = (h ^ (uint8_t)*node) * 16777619u;
	return h;
}

int election_msg_encode(const struct election_msg *m, const uint8_t *key, size_t key_len,
			uint8_t *buf, size_t cap)
{
	size_t cl = strnlen(m->cluster_id, sizeof(m->cluster_id));
	size_t nl = strnlen(m->node, sizeof(m->node));
	size_t len, off, ext;

	if (!name_is_safe(m->cluster_id, cl, ELECTION_ID_MAX) ||
	    !name_is_safe(m->node, nl, ELECTION_NAME_MAX) ||
	    !pod_ok(m->adv.pod_net, m->adv.pod_prefix))
		return -EINVAL;
	for (unsigned i = 0; i < m->adv.n_routes; i++)
		if (m->adv.n_routes > ELECTION_MAX_ROUTES ||
		    !pod_ok(m->adv.route_net[i], m->adv.route_prefix[i]))
			return -EINVAL;
	if (m->epoch > ELECTION_EPOCH_MAX || m->n_ask > ELECTION_MAX_ASK ||
	    m->n_echo > ELECTION_MAX_ECHO)
		return -EINVAL;
	ext = (m->adv.n_routes ? 3 + 5u * m->adv.n_routes : 0) + (m->adv.tunnel_mtu ? 5 : 0) +
	      (m->boot ? 11 : 0) + (m->n_ask ? 3 + 4u * m->n_ask : 0) +
	      (m->n_echo ? 3 + 8u * m->n_echo : 0);
	len = MSG_FIXED + 1 + cl + 1 + nl + 2 + ext + MSG_MAC;
	if (len > cap || len > ELECTION_MSG_MAX)
		return -EMSGSIZE;
	put32(buf, MSG_MAGIC);
	buf[4] = MSG_VERSION;
	buf[5] = m->flags & (ELECTION_F_GATEWAY | ELECTION_F_ACTIVE | ELECTION_F_RESTART);
	put16(buf + 6, (uint16_t)len);
	put64(buf + 8, m->epoch);
	put64(buf + 16, m->seq);
	put32(buf + 24, m->adv.health_ip);
	put32(buf + 28, m->adv.vtep_ip);
	memcpy(buf + 32, m->adv.vtep_mac, 6);
	buf[38] = m->adv.pod_prefix;
	buf[39] = 0;
	put32(buf + 40, m->adv.pod_net);
	put32(buf + 44, m->adv.private_ip);
	off = MSG_FIXED;
	buf[off++] = (uint8_t)cl;
	memcpy(buf + off, m->cluster_id, cl);
	off += cl;
	buf[off++] = (uint8_t)nl;
	memcpy(buf + off, m->node, nl);
	off += nl;
	put16(buf + off, (uint16_t)ext);
	off += 2;
	if (m->adv.n_routes) {
		buf[off] = 1;
		put16(buf + off + 1, (uint16_t)(5 * m->adv.n_routes));
		off += 3;
		for (unsigned i = 0; i < m->adv.n_routes; i++, off += 5) {
			put32(buf + off, m->adv.route_net[i]);
			buf[off + 4] = m->adv.route_prefix[i];
		}
	}
	if (m->adv.tunnel_mtu) {
		buf[off] = 2;
		put16(buf + off + 1, 2);
		put16(buf + off + 3, m->adv.tunnel_mtu);
		off += 5;
	}
	if (m->boot) {
		buf[off] = 3;
		put16(buf + off + 1, 8);
		put64(buf + off + 3, m->boot);
		off += 11;
	}
	if (m->n_ask) {
		buf[off] = 4;
		put16(buf + off + 1, (uint16_t)(4 * m->n_ask));
		off += 3;
		for (unsigned i = 0; i < m->n_ask; i++, off += 4)
			put32(buf + off, m->ask[i]);
	}
	if (m->n_echo) {
		buf[off] = 5;
		put16(buf + off + 1, (uint16_t)(8 * m->n_echo));
		off += 3;
		for (unsigned i = 0; i < m->n_echo; i++, off += 8)
			put64(buf + off, m->echo[i]);
	}
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, key_len, buf, off, buf + off) < 0)
		return -EIO;
	return (int)(off + MSG_MAC);
}

int election_msg_decode(const uint8_t *buf, size_t len, struct election_msg *m)
{
	size_t off, n, end;

	memset(m, 0, sizeof(*m));
	if (len < 8 || get32(buf) != MSG_MAGIC)
		return -EINVAL;
	if (buf[4] != MSG_VERSION)
		return -EPROTONOSUPPORT;
	if (len < MSG_MIN || len > ELECTION_MSG_MAX || get16(buf + 6) != len)
		return -EINVAL;
	end = len - MSG_MAC;	/* the variable part must end exactly where the MAC starts */
	m->flags = buf[5] & (ELECTION_F_GATEWAY | ELECTION_F_ACTIVE | ELECTION_F_RESTART);
	m->epoch = get64(buf + 8);
	if (m->epoch > ELECTION_EPOCH_MAX)
		return -EINVAL;	/* an epoch nothing can ever beat */
	m->seq = get64(buf + 16);
	m->adv.health_ip = get32(buf + 24);
	m->adv.vtep_ip = get32(buf + 28);
	memcpy(m->adv.vtep_mac, buf + 32, 6);
	m->adv.pod_prefix = buf[38];
	if (buf[39] != 0)
		return -EINVAL;
	m->adv.pod_net = get32(buf + 40);
	m->adv.private_ip = get32(buf + 44);
	if (!pod_ok(m->adv.pod_net, m->adv.pod_prefix))
		return -EINVAL;

	off = MSG_FIXED;
	n = buf[off++];		/* off < end: len >= MSG_MIN */
	if (n > ELECTION_ID_MAX || n > end - off || !name_is_safe((const char *)buf + off, n, ELECTION_ID_MAX))
		return -EINVAL;
	memcpy(m->cluster_id, buf + off, n);
	off += n;
	if (end - off < 1)
		return -EINVAL;
	n = buf[off++];
	if (n > end - off || !name_is_safe((const char *)buf + off, n, ELECTION_NAME_MAX))
		return -EINVAL;
	memcpy(m->node, buf + off, n);
	off += n;
	if (end - off < 2)
		return -EINVAL;
	n = get16(buf + off);
	off += 2;
	if (n != end - off)
		return -EINVAL;
	while (off < end) {
		size_t tl;

		if (end - off < 3)
			return -EINVAL;
		tl = get16(buf + off + 1);
		if (tl > end - off - 3)
			return -EINVAL;
		if (buf[off] == 1) {
			if (tl % 5 || tl / 5 > ELECTION_MAX_ROUTES || m->adv.n_routes)
				return -EINVAL;
			for (size_t i = 0; i < tl / 5; i++) {
				uint32_t net = get32(buf + off + 3 + 5 * i);
				uint8_t pfx = buf[off + 3 + 5 * i + 4];

				if (!pod_ok(net, pfx) || pfx == 0)
					return -EINVAL;
				m->adv.route_net[i] = net;
				m->adv.route_prefix[i] = pfx;
			}
			m->adv.n_routes = (uint8_t)(tl / 5);
		} else if (buf[off] == 2) {
			if (tl != 2)
				return -EINVAL;
			m->adv.tunnel_mtu = get16(buf + off + 3);
		} else if (buf[off] == 3) {
			if (tl != 8 || m->boot)
				return -EINVAL;
			m->boot = get64(buf + off + 3);
			if (!m->boot)
				return -EINVAL;
		} else if (buf[off] == 4) {
			if (tl % 4 || tl / 4 > ELECTION_MAX_ASK || m->n_ask)
				return -EINVAL;
			for (size_t i = 0; i < tl / 4; i++)
				m->ask[i] = get32(buf + off + 3 + 4 * i);
			m->n_ask = (uint8_t)(tl / 4);
		} else if (buf[off] == 5) {
			if (tl % 8 || tl / 8 > ELECTION_MAX_ECHO || m->n_echo)
				return -EINVAL;
			for (size_t i = 0; i < tl / 8; i++)
				m->echo[i] = get64(buf + off + 3 + 8 * i);
			m->n_echo = (uint8_t)(tl / 8);
		}
		off += 3 + tl;
	}
	return 0;
}

int election_msg_verify(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len)
{
	uint8_t mac[MSG_MAC];
	unsigned diff = 0;

	if (len < MSG_MIN)
		return -EBADMSG;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, key_len, buf, len - MSG_MAC, mac) < 0)
		return -EBADMSG;
	/* constant time: a timing oracle must not reveal how many MAC bytes matched */
	for (size_t i = 0; i < MSG_MAC; i++)
		diff |= (unsigned)(mac[i] ^ buf[len - MSG_MAC + i]);
	return diff ? -EBADMSG : 0;
}
