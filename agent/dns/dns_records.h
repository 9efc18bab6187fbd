/* The DNS server's records: a cache of the broker's ServiceImports, of this cluster's
 * gateway status (which remote clusters are connected) and of GlobalIngressIPs (global
 * IPs with globalnet), and the answer logic over it. No wire format here (dns_wire.c):
 * a query is a lowercased name and a type, an answer a list of records.
 *
 * Names under each zone Z (default clusterset.local):
 *   N.NS.svc.Z                      A, SRV: the local cluster's answer when it exports N.NS
 *                                   and is ready; otherwise one cluster picked by smooth
 *                                   weighted round robin among those whose tunnel is up,
 *                                   whose endpoints are ready and whose weight is not 0
 *                                   (SRV: every such cluster, with its weight)
 *   CLUSTER.N.NS.svc.Z              A, SRV: that cluster's, whatever its health
 *   HOST.CLUSTER.N.NS.svc.Z         A: a Headless service's endpoint
 *   _PORT._PROTO[.CLUSTER].N.NS.svc.Z  SRV of one named port
 * AAAA of an existing name: no records (NOERROR); names that do not exist: NXDOMAIN;
 * types other than A, AAAA, SRV and SOA: NOTIMP; names outside every zone: REFUSED.
 * Not thread-safe: one thread feeds and queries it. */
#ifndef SA_DNS_RECORDS_H
#define SA_DNS_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define DNS_ZONE_MAX		8
#define DNS_NAME_MAX		255	/* presentation form without the final dot */
#define DNS_MAX_RRS		512	/* answer + additional records of one reply */
#define DNS_DEFAULT_ZONE	"clusterset.local"
#define DNS_DEFAULT_TTL		5

enum { DNS_T_A = 1, DNS_T_SOA = 6, DNS_T_AAAA = 28, DNS_T_SRV = 33 };
enum { DNS_RC_NOERROR = 0, DNS_RC_FORMERR = 1, DNS_RC_SERVFAIL = 2, DNS_RC_NXDOMAIN = 3,
       DNS_RC_NOTIMP = 4, DNS_RC_REFUSED = 5 };

struct dns_rr {
	const char *owner;	/* NULL: the query name as asked (case kept) */
	uint16_t type;		/* DNS_T_A, DNS_T_SRV or DNS_T_SOA */
	uint32_t ttl;
	uint32_t a;		/* A: host byte order */
	uint16_t prio, weight, port;	/* SRV */
	const char *target;	/* SRV: the target name */
};

struct dns_answer {
	int rcode;
	bool authoritative;	/* the name is inside one of the zones */
	const char *zone;	/* the zone (for the SOA of a negative answer) */
	bool soa_authority;	/* NXDOMAIN or no records: the zone's SOA in authority */
	struct dns_rr an[DNS_MAX_RRS], ad[DNS_MAX_RRS];
	unsigned n_an, n_ad;
	char pool[65536];	/* names the records point to */
	size_t pool_used;
};

struct dns_records;

/* local_cluster: this cluster's ID; globalnet: answer other clusters' global IPs; zones:
 * 1..DNS_ZONE_MAX zone names (copied, lowercased). NULL with errno. */
struct dns_records *dns_records_new(const char *local_cluster, bool globalnet, uint32_t ttl,
				    const char *const *zones, unsigned n_zones);
void dns_records_free(struct dns_records *db);

/* ---- the feed: broker objects as they come (added/changed, or deleted) ---- */
/* A ServiceImport. 0, or -EINVAL with err (the old version of it stays), -ENOMEM. */
int dns_records_import(struct dns_records *db, const cJSON *obj, bool deleted, char *err,
		       size_t len) __attribute__((warn_unused_result));
/* A GatewayStatus (only this cluster's active gateways count). */
void dns_records_gateway(struct dns_records *db, const cJSON *obj, bool deleted);
/* A GlobalIngressIP (spec.clusterID, spec.service or spec.pod, status.globalIP). */
void dns_records_global_ip(struct dns_records *db, const cJSON *obj, bool deleted);
/* A change counter (the SOA serial). */
uint32_t dns_records_serial(const struct dns_records *db);
uint32_t dns_records_ttl(const struct dns_records *db);
unsigned dns_records_services(const struct dns_records *db);

/* Checks a zone name (1..DNS_ZONE_MAX-able: DNS labels joined by '.'). */
bool dns_zone_ok(const char *zone);

/* Answers qname (presentation form, lowercase, no final dot; bytes outside
 * [a-z0-9_-.] never match a record) of qtype. Fills ans; never fails. */
void dns_records_answer(struct dns_records *db, const char *qname, uint16_t qtype,
			struct dns_answer *ans);

/* Which clusters an unqualified name can be answered from, for `subagent dns` status and
 * tests: this cluster's view of cluster c (true when no status is known yet). */
bool dns_records_cluster_up(const struct dns_records *db, const char *cluster);

#endif
