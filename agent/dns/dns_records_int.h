/* The DNS records cache inside: shared by the feed side (dns_records.c) and the answer
 * logic (dns_answer.c). */
#ifndef SA_DNS_RECORDS_INT_H
#define SA_DNS_RECORDS_INT_H

#include "agent/dns/dns_records.h"
#include "broker/client/service.h"

#define DNS_BUCKETS 1024

struct dns_svc {
	struct dns_svc *next;		/* hash chain */
	char key[SVC_KEY_MAX];		/* "name.ns" */
	struct svc_import im;
	int64_t *cw;			/* smooth weighted round robin: one per cluster */
};

struct dns_conn {
	char cluster[SVC_LABEL_MAX + 1];
	bool connected;
};

/* One of this cluster's GatewayStatus objects. */
struct dns_gw {
	char name[SVC_KEY_MAX];
	bool active;
	uint64_t epoch;
	double updated;
	struct dns_conn *conns;
	unsigned n_conns;
};

/* A GlobalIngressIP with its global IP: (cluster, target) -> global. */
struct dns_gip {
	char name[SVC_KEY_MAX + 64];
	char cluster[SVC_LABEL_MAX + 1];
	uint32_t target, global;
};

struct dns_records {
	char local[SVC_LABEL_MAX + 1];
	bool globalnet;
	uint32_t ttl, serial;
	char zones[DNS_ZONE_MAX][DNS_NAME_MAX + 1];
	unsigned n_zones;
	struct dns_svc *buckets[DNS_BUCKETS];
	unsigned n_svcs;
	struct dns_gw *gws;
	unsigned n_gws;
	struct dns_gip *gips;		/* sorted by (cluster, target) */
	size_t n_gips;
};

/* The service "name.ns", or NULL. */
struct dns_svc *dns_svc_find(const struct dns_records *db, const char *name, size_t nlen,
			     const char *ns, size_t nslen);
/* Whether any service lives in namespace ns. */
bool dns_ns_exists(const struct dns_records *db, const char *ns, size_t nslen);
/* ip of cluster as other clusters reach it: itself without globalnet or for this cluster,
 * else its global IP, or 0 when it has none (yet). */
uint32_t dns_xlate(const struct dns_records *db, const char *cluster, uint32_t ip);

#endif
