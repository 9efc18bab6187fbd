/* libFuzzer target: DNS queries (untrusted bytes from any pod) through the wire layer and
 * the answer logic (agent/dns/dns_wire.c, dns_answer.c) over records with a ClusterSetIP
 * and a Headless service, gateway health and globalnet translation. Input: one byte
 * (bit 0: UDP or TCP; bit 1: the globalnet records), then the message.
 * Properties: no crash or leak; every response parses back with ldns, has QR set and the
 * query's ID, and fits the transport (UDP: at most the EDNS size this server offers). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "agent/dns/dns_wire.h"

static struct dns_records *dbs[2];
static struct dns_answer ans;
static struct dns_wire_stats st;

static const char *const objs[] = {
	"{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"echo.default\"},\"spec\":{\"name\":\"echo\","
	"\"namespace\":\"default\",\"type\":\"ClusterSetIP\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\","
	"\"port\":8080}]},\"status\":{\"clusters\":[{\"cluster\":\"c1\",\"ips\":[\"10.101.0.10\"],\"weight\":2,"
	"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}]},{\"cluster\":\"c2\",\"ips\":"
	"[\"10.101.0.10\"],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80}],\"endpoints\":"
	"[{\"hostname\":\"p\",\"addresses\":[\"10.2.1.1\"],\"ready\":true}]},{\"cluster\":\"c3\",\"ips\":"
	"[\"10.103.0.10\"]}]}}",
	"{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"db.prod\"},\"spec\":{\"name\":\"db\",\"namespace\":"
	"\"prod\",\"type\":\"Headless\",\"ports\":[{\"name\":\"pg\",\"protocol\":\"TCP\",\"port\":5432}]},"
	"\"status\":{\"clusters\":[{\"cluster\":\"c2\",\"ports\":[{\"name\":\"pg\",\"protocol\":\"TCP\",\"port\":"
	"5432}],\"endpoints\":[{\"hostname\":\"db-0\",\"addresses\":[\"10.2.1.11\",\"10.2.1.12\"],\"ready\":true},"
	"{\"hostname\":\"db-1\",\"addresses\":[\"10.2.1.13\"],\"ready\":false}]}]}}",
};

static struct dns_records *make(bool globalnet)
{
	static const char *zones[] = { "clusterset.local", "mesh.example" };
	struct dns_records *db = dns_records_new("c1", globalnet, 5, zones, 2);
	char err[256];

	if (!db)
		abort();
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		cJSON *o = cJSON_Parse(objs[i]);

		if (!o || dns_records_import(db, o, false, err, sizeof(err)))
			abort();
		cJSON_Delete(o);
	}
	{
		cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"c1-gw\"},\"spec\":{\"clusterID\":\"c1\","
				       "\"haStatus\":\"active\",\"epoch\":1,\"connections\":[{\"cluster\":\"c2\","
				       "\"status\":\"connected\"},{\"cluster\":\"c3\",\"status\":\"error\"}]}}");
		dns_records_gateway(db, o, false);
		cJSON_Delete(o);
		o = cJSON_Parse("{\"metadata\":{\"name\":\"c2.echo.default\"},\"spec\":{\"clusterID\":\"c2\","
				"\"service\":\"10.101.0.10\"},\"status\":{\"globalIP\":\"242.1.0.9\"}}");
		dns_records_global_ip(db, o, false);
		cJSON_Delete(o);
	}
	return db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_records *db;
	uint8_t *out = NULL;
	ldns_pkt *r = NULL;
	bool udp;
	size_t n;

	if (size < 1)
		return 0;
	if (!dbs[0]) {
		dbs[0] = make(false);
		dbs[1] = make(true);
	}
	udp = !(data[0] & 1);
	db = dbs[(data[0] >> 1) & 1];
	n = dns_wire_answer(db, data + 1, size - 1, udp, &ans, &out, &st);
	if (!n) {
		if (out)
			abort();
		return 0;
	}
	if (!out || n > (udp ? DNS_EDNS_SIZE : DNS_TCP_MAX))
		abort();
	if (ldns_wire2pkt(&r, out, n) != LDNS_STATUS_OK)
		abort();
	if (!ldns_pkt_qr(r) || ldns_pkt_id(r) != (uint16_t)(data[1] << 8 | data[2]))
		abort();
	ldns_pkt_free(r);
	free(out);
	return 0;
}
