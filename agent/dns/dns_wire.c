/* DNS messages in and out through libldns (dns_wire.h). The query is parsed by
 * ldns_wire2pkt(); the answer is built as an ldns packet and encoded by ldns (names
 * compressed when the answer would not fit otherwise). */
#include "agent/dns/dns_wire.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

/* The query name in presentation form, lowercase, without the final dot. Bytes a
 * service name cannot hold become 0x7f so that such a name matches no record. */
static void qname_of(const ldns_rdf *rdf, char out[DNS_NAME_MAX + 1])
{
	const uint8_t *d = ldns_rdf_data(rdf);
	size_t size = ldns_rdf_size(rdf), o = 0;

	for (size_t i = 0; i < size && d[i];) {
		size_t len = d[i++];

		if (len > 63 || i + len > size)
			break;
		if (o && o < DNS_NAME_MAX)
			out[o++] = '.';
		for (size_t k = 0; k < len && o < DNS_NAME_MAX; k++) {
			uint8_t c = d[i + k];

			if (c >= 'A' && c <= 'Z')
				c |= 0x20;
			out[o++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
				    c == '_') ? (char)c : 0x7f;
		}
		i += len;
	}
	out[o] = '\0';
}

static ldns_rdf *dname(const char *name)
{
	char buf[DNS_NAME_MAX + 2];
	size_t n = strlen(name);

	if (n > DNS_NAME_MAX)
		return NULL;
	memcpy(buf, name, n);
	buf[n] = '.';
	buf[n + 1] = '\0';
	return ldns_dname_new_frm_str(buf);
}

static bool push_rdf(ldns_rr *rr, ldns_rdf *rdf)
{
	if (!rdf)
		return false;
	if (!ldns_rr_push_rdf(rr, rdf)) {
		ldns_rdf_deep_free(rdf);
		return false;
	}
	return true;
}

/* One record. qowner: the question's owner (for records owned by the query name). */
static ldns_rr *make_rr(const struct dns_rr *r, const ldns_rdf *qowner, const char *zone,
			uint32_t ttl)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner;

	if (!rr)
		return NULL;
	owner = r->owner ? dname(r->owner) : ldns_rdf_clone(qowner);
	if (!owner) {
		ldns_rr_free(rr);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, r->ttl);
	ldns_rr_set_type(rr, (ldns_rr_type)r->type);
	switch (r->type) {
	case DNS_T_A: {
		uint32_t be = htonl(r->a);

		if (!push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, &be)))
			goto err;
		break;
	}
	case DNS_T_SRV:
		if (!push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, r->prio)) ||
		    !push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, r->weight)) ||
		    !push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, r->port)) ||
		    !push_rdf(rr, dname(r->target)))
			goto err;
		break;
	case DNS_T_SOA: {
		char m[DNS_NAME_MAX + 1], h[DNS_NAME_MAX + 1];

		/* the zone's server and hostmaster; minimum = the negative-caching TTL */
		snprintf(m, sizeof(m), "dns.%s", zone);
		snprintf(h, sizeof(h), "hostmaster.%s", zone);
		if (!push_rdf(rr, dname(m)) || !push_rdf(rr, dname(h)) ||
		    !push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, r->a)) ||
		    !push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 7200)) ||
		    !push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 1800)) ||
		    !push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 86400)) ||
		    !push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, ttl)))
			goto err;
		break;
	}
	default:
		goto err;
	}
	return rr;
err:
	ldns_rr_free(rr);
	return NULL;
}

/* A response header to query qp (id, opcode, RD copied) with its question. */
static ldns_pkt *response(const ldns_pkt *qp, const ldns_rr *qrr)
{
	ldns_pkt *rp = ldns_pkt_new();
	ldns_rr *qc;

	if (!rp)
		return NULL;
	ldns_pkt_set_id(rp, ldns_pkt_id(qp));
	ldns_pkt_set_qr(rp, true);
	ldns_pkt_set_opcode(rp, ldns_pkt_get_opcode(qp));
	ldns_pkt_set_rd(rp, ldns_pkt_rd(qp));
	ldns_pkt_set_cd(rp, ldns_pkt_cd(qp));
	if (qrr) {
		qc = ldns_rr_clone(qrr);
		if (!qc || !ldns_pkt_push_rr(rp, LDNS_SECTION_QUESTION, qc)) {
			ldns_rr_free(qc);
			ldns_pkt_free(rp);
			return NULL;
		}
	}
	if (ldns_pkt_edns(qp)) {
		ldns_pkt_set_edns_udp_size(rp, DNS_EDNS_SIZE);
		if (ldns_pkt_edns_version(qp) > 0)
			ldns_pkt_set_edns_extended_rcode(rp, 1);	/* BADVERS (16) */
	}
	return rp;
}

static void add_records(ldns_pkt *rp, const struct dns_answer *ans, const ldns_rdf *qowner,
			const struct dns_records *db)
{
	uint32_t ttl = dns_records_ttl(db);
	for (unsigned i = 0; i < ans->n_an; i++) {
		ldns_rr *rr = make_rr(&ans->an[i], qowner, ans->zone, ttl);

		if (rr && !ldns_pkt_push_rr(rp, LDNS_SECTION_ANSWER, rr))
			ldns_rr_free(rr);
	}
	for (unsigned i = 0; i < ans->n_ad; i++) {
		ldns_rr *rr = make_rr(&ans->ad[i], qowner, ans->zone, ttl);

		if (rr && !ldns_pkt_push_rr(rp, LDNS_SECTION_ADDITIONAL, rr))
			ldns_rr_free(rr);
	}
	if (ans->soa_authority && ans->zone) {
		/* RFC 2308: the SOA's TTL and minimum are the negative-caching time */
		struct dns_rr soa = { .owner = ans->zone, .type = DNS_T_SOA, .ttl = ttl,
				      .a = dns_records_serial(db) };
		ldns_rr *rr = make_rr(&soa, qowner, ans->zone, ttl);

		if (rr && !ldns_pkt_push_rr(rp, LDNS_SECTION_AUTHORITY, rr))
			ldns_rr_free(rr);
	}
}

/* The message in wire format. Without name compression first: ldns's compression keeps
 * a tree of every name written and costs half the time of a small answer; only an answer
 * that would not fit in limit is encoded again with it. */
static size_t encode(ldns_pkt *rp, uint8_t **out, size_t limit)
{
	ldns_buffer *b = ldns_buffer_new(DNS_UDP_PLAIN);
	size_t size = 0;

	*out = NULL;
	if (b && ldns_pkt2buffer_wire_compress(b, rp, NULL) == LDNS_STATUS_OK &&
	    ldns_buffer_position(b) <= limit) {
		size = ldns_buffer_position(b);
		*out = malloc(size);
		if (*out)
			memcpy(*out, ldns_buffer_begin(b), size);
		else
			size = 0;
	}
	ldns_buffer_free(b);
	if (*out)
		return size;
	if (ldns_pkt2wire(out, rp, &size) != LDNS_STATUS_OK) {
		free(*out);
		*out = NULL;
		return 0;
	}
	return size;
}

/* A header-only FORMERR for a message ldns could not parse. */
static size_t formerr(const uint8_t *q, uint8_t **out)
{
	ldns_pkt *rp = ldns_pkt_new();
	size_t n;

	if (!rp)
		return 0;
	ldns_pkt_set_id(rp, (uint16_t)(q[0] << 8 | q[1]));
	ldns_pkt_set_qr(rp, true);
	ldns_pkt_set_opcode(rp, (ldns_pkt_opcode)((q[2] >> 3) & 0x0f));
	ldns_pkt_set_rd(rp, q[2] & 1);
	ldns_pkt_set_rcode(rp, LDNS_RCODE_FORMERR);
	n = encode(rp, out, DNS_UDP_PLAIN);
	ldns_pkt_free(rp);
	return n;
}

size_t dns_wire_answer(struct dns_records *db, const uint8_t *q, size_t qlen, bool udp,
		       struct dns_answer *ans, uint8_t **out, struct dns_wire_stats *st)
{
	ldns_pkt *qp = NULL, *rp = NULL;
	const ldns_rr *qrr = NULL;
	char name[DNS_NAME_MAX + 1];
	size_t n, limit = DNS_TCP_MAX;

	*out = NULL;
	if (qlen < LDNS_HEADER_SIZE || (q[2] & 0x80)) {	/* too short, or a response */
		st->dropped++;
		return 0;
	}
	st->queries++;
	if (ldns_wire2pkt(&qp, q, qlen) != LDNS_STATUS_OK) {
		st->formerr++;
		return formerr(q, out);
	}
	if (ldns_pkt_qdcount(qp) == 1)
		qrr = ldns_rr_list_rr(ldns_pkt_question(qp), 0);
	rp = response(qp, qrr);
	if (!rp)
		goto out;
	if (udp)
		limit = ldns_pkt_edns(qp) ? ldns_pkt_edns_udp_size(qp) : DNS_UDP_PLAIN;
	if (limit < DNS_UDP_PLAIN)
		limit = DNS_UDP_PLAIN;
	if (udp && limit > DNS_EDNS_SIZE)
		limit = DNS_EDNS_SIZE;
	if (ldns_pkt_edns(qp) && ldns_pkt_edns_version(qp) > 0) {
		/* BADVERS: the extended rcode set by response(), nothing else */
	} else if (ldns_pkt_get_opcode(qp) != LDNS_PACKET_QUERY) {
		ldns_pkt_set_rcode(rp, LDNS_RCODE_NOTIMPL);
		st->notimp++;
	} else if (!qrr) {
		ldns_pkt_set_rcode(rp, LDNS_RCODE_FORMERR);
		st->formerr++;
	} else if (ldns_rr_get_class(qrr) != LDNS_RR_CLASS_IN) {
		ldns_pkt_set_rcode(rp, LDNS_RCODE_REFUSED);
		st->refused++;
	} else {
		qname_of(ldns_rr_owner(qrr), name);
		dns_records_answer(db, name, (uint16_t)ldns_rr_get_type(qrr), ans);
		ldns_pkt_set_aa(rp, ans->authoritative);
		ldns_pkt_set_rcode(rp, (uint8_t)ans->rcode);
		add_records(rp, ans, ldns_rr_owner(qrr), db);
		st->nxdomain += ans->rcode == DNS_RC_NXDOMAIN;
		st->notimp += ans->rcode == DNS_RC_NOTIMP;
		st->refused += ans->rcode == DNS_RC_REFUSED;
		st->nodata += ans->rcode == DNS_RC_NOERROR && !ans->n_an;
	}
	n = encode(rp, out, limit);
	if (n > limit) {
		/* too large for this UDP reply: header and question with TC, so that the
		 * client asks again over TCP */
		ldns_pkt *tp = response(qp, qrr);

		free(*out);
		*out = NULL;
		n = 0;
		if (tp) {
			ldns_pkt_set_tc(tp, true);
			ldns_pkt_set_aa(tp, ldns_pkt_aa(rp));
			ldns_pkt_set_rcode(tp, ldns_pkt_get_rcode(rp));
			n = encode(tp, out, limit);
			ldns_pkt_free(tp);
		}
		st->truncated++;
	}
	ldns_pkt_free(rp);
	ldns_pkt_free(qp);
	return n;
out:
	ldns_pkt_free(qp);
	return 0;
}
