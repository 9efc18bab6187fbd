/* Unit tests of the DNS wire side (agent/dns/dns_wire.h): queries built and responses
 * read back with libldns: header flags, the question echoed with its case, A/SRV/SOA
 * records, EDNS (size, BADVERS), name compression when an answer needs it, truncation
 * over UDP and none over TCP, FORMERR, NOTIMP, REFUSED, responses dropped. */
#include <arpa/inet.h>

#include <ldns/ldns.h>

#include "agent/dns/dns_wire.h"
#include "harness.h"

static struct dns_answer ans;
static struct dns_wire_stats st;
static const char *zones[] = { "clusterset.local" };

static struct dns_records *db_with_services(unsigned headless_pods)
{
	struct dns_records *db = dns_records_new("c1", false, 5, zones, 1);
	char *buf = malloc(200000), err[256];
	size_t off = 0;
	cJSON *o;

	if (!db || !buf)
		abort();
	o = cJSON_Parse("{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"echo.default\"},"
			"\"spec\":{\"name\":\"echo\",\"namespace\":\"default\",\"type\":\"ClusterSetIP\","
			"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}]},"
			"\"status\":{\"clusters\":[{\"cluster\":\"c2\",\"ips\":[\"10.102.0.10\"],"
			"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}]}]}}");
	if (!o || dns_records_import(db, o, false, err, sizeof(err)))
		abort();
	cJSON_Delete(o);
	off += (size_t)sprintf(buf, "{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"big.default\"},"
			       "\"spec\":{\"name\":\"big\",\"namespace\":\"default\",\"type\":\"Headless\"},"
			       "\"status\":{\"clusters\":[{\"cluster\":\"c2\",\"endpoints\":[");
	for (unsigned i = 0; i < headless_pods; i++)
		off += (size_t)sprintf(buf + off, "%s{\"hostname\":\"p%u\",\"addresses\":[\"10.2.%u.%u\"],"
				       "\"ready\":true}", i ? "," : "", i, i / 200, 10 + i % 200);
	sprintf(buf + off, "]}]}}");
	o = cJSON_Parse(buf);
	if (!o || dns_records_import(db, o, false, err, sizeof(err)))
		abort();
	cJSON_Delete(o);
	free(buf);
	return db;
}

/* Sends a query (built by ldns) and parses the response; NULL when none. */
static ldns_pkt *roundtrip(struct dns_records *db, const char *name, ldns_rr_type type,
			   ldns_rr_class cls, int edns_size, bool udp, size_t *len)
{
	ldns_rdf *owner = ldns_dname_new_frm_str(name);
	ldns_pkt *q = ldns_pkt_query_new(owner, type, cls, LDNS_RD), *r = NULL;
	uint8_t *wire = NULL, *out = NULL;
	size_t wlen = 0, n;

	if (!q)
		abort();
	ldns_pkt_set_id(q, 0x1234);
	if (edns_size) {
		ldns_pkt_set_edns_udp_size(q, (uint16_t)edns_size);
		if (edns_size == 999)
			ldns_pkt_set_edns_version(q, 1);
	}
	if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK)
		abort();
	n = dns_wire_answer(db, wire, wlen, udp, &ans, &out, &st);
	if (len)
		*len = n;
	if (n && ldns_wire2pkt(&r, out, n) != LDNS_STATUS_OK)
		r = NULL;
	free(out);
	free(wire);
	ldns_pkt_free(q);
	return r;
}

static char *rr_str(ldns_pkt *p, ldns_pkt_section s, size_t i)
{
	static char buf[512];
	ldns_rr_list *l = s == LDNS_SECTION_ANSWER ? ldns_pkt_answer(p) :
			  s == LDNS_SECTION_ADDITIONAL ? ldns_pkt_additional(p) : ldns_pkt_authority(p);
	char *t = ldns_rr2str(ldns_rr_list_rr(l, i));

	snprintf(buf, sizeof(buf), "%s", t ? t : "");
	free(t);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void test_a_answer(void)
{
	struct dns_records *db = db_with_services(0);
	ldns_pkt *r = roundtrip(db, "Echo.Default.svc.ClusterSet.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
				0, true, NULL);
	char *q;

	REQUIRE(r);
	CHECK_EQ_INT(ldns_pkt_id(r), 0x1234);
	CHECK(ldns_pkt_qr(r) && ldns_pkt_aa(r) && ldns_pkt_rd(r) && !ldns_pkt_ra(r) && !ldns_pkt_tc(r));
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	CHECK_EQ_INT(ldns_pkt_ancount(r), 1);
	/* the question comes back as asked (resolvers randomise the case) */
	q = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(r), 0)));
	CHECK_STR(q, "Echo.Default.svc.ClusterSet.local.");
	free(q);
	CHECK_STR(rr_str(r, LDNS_SECTION_ANSWER, 0), "Echo.Default.svc.ClusterSet.local.\t5\tIN\tA\t10.102.0.10");
	CHECK(!ldns_pkt_edns(r));
	ldns_pkt_free(r);
	dns_records_free(db);
}

static void test_srv_and_soa(void)
{
	struct dns_records *db = db_with_services(0);
	ldns_pkt *r = roundtrip(db, "_http._tcp.echo.default.svc.clusterset.local.", LDNS_RR_TYPE_SRV,
				LDNS_RR_CLASS_IN, 1232, true, NULL);

	REQUIRE(r);
	CHECK_EQ_INT(ldns_pkt_ancount(r), 1);
	CHECK_STR(rr_str(r, LDNS_SECTION_ANSWER, 0),
		  "_http._tcp.echo.default.svc.clusterset.local.\t5\tIN\tSRV\t0 1 8080 c2.echo.default.svc.clusterset.local.");
	CHECK_STR(rr_str(r, LDNS_SECTION_ADDITIONAL, 0), "c2.echo.default.svc.clusterset.local.\t5\tIN\tA\t10.102.0.10");
	CHECK(ldns_pkt_edns(r));
	CHECK_EQ_INT(ldns_pkt_edns_udp_size(r), DNS_EDNS_SIZE);
	ldns_pkt_free(r);
	/* NXDOMAIN with the zone's SOA for negative caching */
	r = roundtrip(db, "nope.default.svc.clusterset.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0, true, NULL);
	REQUIRE(r);
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	CHECK(ldns_pkt_aa(r));
	CHECK_EQ_INT(ldns_pkt_nscount(r), 1);
	CHECK(strstr(rr_str(r, LDNS_SECTION_AUTHORITY, 0), "clusterset.local.\t5\tIN\tSOA\tdns.clusterset.local. "
		     "hostmaster.clusterset.local. ") != NULL);
	ldns_pkt_free(r);
	/* AAAA: NOERROR, nothing, SOA */
	r = roundtrip(db, "echo.default.svc.clusterset.local.", LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN, 0, true, NULL);
	REQUIRE(r);
	CHECK(ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(r) == 0 && ldns_pkt_nscount(r) == 1);
	ldns_pkt_free(r);
	r = roundtrip(db, "clusterset.local.", LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0, true, NULL);
	REQUIRE(r);
	CHECK(ldns_pkt_ancount(r) == 1 && ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(r), 0)) == LDNS_RR_TYPE_SOA);
	ldns_pkt_free(r);
	dns_records_free(db);
}

static void test_rcodes(void)
{
	struct dns_records *db = db_with_services(0);
	ldns_pkt *r;

	r = roundtrip(db, "echo.default.svc.clusterset.local.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 0, true, NULL);
	REQUIRE(r);
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTIMPL);
	ldns_pkt_free(r);
	r = roundtrip(db, "example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0, true, NULL);
	REQUIRE(r);
	CHECK(ldns_pkt_get_rcode(r) == LDNS_RCODE_REFUSED && !ldns_pkt_aa(r));
	ldns_pkt_free(r);
	r = roundtrip(db, "echo.default.svc.clusterset.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, 0, true, NULL);
	REQUIRE(r);
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	/* EDNS version 1: BADVERS (extended rcode 1), no answer */
	r = roundtrip(db, "echo.default.svc.clusterset.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 999, true, NULL);
	REQUIRE(r);
	CHECK(ldns_pkt_edns_extended_rcode(r) == 1 && ldns_pkt_ancount(r) == 0);
	ldns_pkt_free(r);
	dns_records_free(db);
}

static void test_truncation(void)
{
	struct dns_records *db = db_with_services(300);
	size_t len = 0;
	ldns_pkt *r;

	/* 300 A records: over 512 bytes and over 1232: TC over UDP */
	r = roundtrip(db, "big.default.svc.clusterset.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0, true, &len);
	REQUIRE(r);
	CHECK(ldns_pkt_tc(r) && ldns_pkt_ancount(r) == 0 && ldns_pkt_qdcount(r) == 1);
	CHECK(len <= DNS_UDP_PLAIN);
	ldns_pkt_free(r);
	r = roundtrip(db, "big.default.svc.clusterset.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 4096, true, &len);
	REQUIRE(r);
	CHECK(ldns_pkt_tc(r) && len <= DNS_EDNS_SIZE);
	ldns_pkt_free(r);
	dns_records_free(db);
	/* 60 A records: 3 kB written plainly, 1 kB with the names compressed: a UDP answer
	 * with EDNS fits once compressed */
	db = db_with_services(60);
	r = roundtrip(db, "big.default.svc.clusterset.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1232, true, &len);
	REQUIRE(r);
	CHECK(!ldns_pkt_tc(r) && ldns_pkt_ancount(r) == 60 && len <= DNS_EDNS_SIZE);
	ldns_pkt_free(r);
	dns_records_free(db);
	db = db_with_services(300);
	/* TCP: all of them */
	r = roundtrip(db, "big.default.svc.clusterset.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0, false, &len);
	REQUIRE(r);
	CHECK(!ldns_pkt_tc(r) && ldns_pkt_ancount(r) == 300);
	ldns_pkt_free(r);
	dns_records_free(db);
}

static void test_bad_messages(void)
{
	struct dns_records *db = db_with_services(0);
	uint8_t junk[40], *out = NULL, hdr[12] = { 0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
	uint8_t zero_q[12] = { 0x00, 0x07, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t notify[12] = { 0x00, 0x08, 0x20, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 };
	ldns_pkt *r = NULL;
	size_t n;

	/* too short, and a response: no answer at all */
	CHECK_EQ_INT(dns_wire_answer(db, hdr, 11, true, &ans, &out, &st), 0);
	hdr[2] |= 0x80;
	CHECK_EQ_INT(dns_wire_answer(db, hdr, 12, true, &ans, &out, &st), 0);
	hdr[2] &= 0x7f;
	/* a question count of 1 without a question: FORMERR with the id */
	n = dns_wire_answer(db, hdr, 12, true, &ans, &out, &st);
	REQUIRE(n >= 12 && out);
	CHECK(out[0] == 0xab && out[1] == 0xcd && (out[2] & 0x80) && (out[3] & 0x0f) == LDNS_RCODE_FORMERR);
	free(out);
	memset(junk, 0xff, sizeof(junk));
	junk[2] = 0x01;
	n = dns_wire_answer(db, junk, sizeof(junk), true, &ans, &out, &st);
	CHECK(n >= 12 && out && (out[3] & 0x0f) == LDNS_RCODE_FORMERR);
	free(out);
	/* no question: FORMERR; another opcode: NOTIMP */
	n = dns_wire_answer(db, zero_q, 12, true, &ans, &out, &st);
	REQUIRE(n && ldns_wire2pkt(&r, out, n) == LDNS_STATUS_OK);
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_FORMERR);
	ldns_pkt_free(r);
	free(out);
	n = dns_wire_answer(db, notify, 12, true, &ans, &out, &st);
	REQUIRE(n && ldns_wire2pkt(&r, out, n) == LDNS_STATUS_OK);
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTIMPL);
	CHECK_EQ_INT(ldns_pkt_get_opcode(r), LDNS_PACKET_NOTIFY);
	ldns_pkt_free(r);
	free(out);
	CHECK(st.formerr >= 3 && st.dropped >= 2);
	dns_records_free(db);
}

int main(void)
{
	RUN(test_a_answer);
	RUN(test_srv_and_soa);
	RUN(test_rcodes);
	RUN(test_truncation);
	RUN(test_bad_messages);
	return harness_done();
}
