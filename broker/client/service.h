/* Service discovery objects (shaped after the Kubernetes multi-cluster services API):
 * a ServiceExport is what one cluster publishes about one of its services; the broker
 * aggregates the exports of every cluster into one ServiceImport per name.namespace.
 * One strict decoder of "a cluster's service record" serves the broker (validating what
 * clients send) and every reader of imports (DNS server, CLI): both are untrusted input.
 *
 * ServiceExport.spec:  clusterID, name, namespace, type ("ClusterSetIP" | "Headless"),
 *   ips (ClusterSetIP: 1..SVC_MAX_IPS; Headless: none), ports [{name, protocol, port}],
 *   endpoints [{hostname, addresses, ready}], weight (0..SVC_WEIGHT_MAX, default 1).
 * ServiceImport (metadata.name "NAME.NAMESPACE", written by the broker only):
 *   spec {name, namespace, type, ports}, status {clusters [{cluster, ips, ports,
 *   endpoints, weight}], conditions [{type, status, reason, message}]}. */
#ifndef SA_SERVICE_H
#define SA_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SVC_RES_EXPORTS		"serviceexports"
#define SVC_RES_IMPORTS		"serviceimports"
#define SVC_LABEL_MAX		63
#define SVC_PORT_NAME_MAX	15	/* an IANA service name, as Kubernetes port names */
#define SVC_MAX_IPS		8
#define SVC_MAX_PORTS		32
#define SVC_MAX_ADDRS		8
#define SVC_MAX_ENDPOINTS	1000
#define SVC_MAX_CLUSTERS	256
#define SVC_WEIGHT_MAX		1000
#define SVC_ERR_MAX		256
/* "NAME.NAMESPACE" and "CLUSTER.NAME.NAMESPACE" */
#define SVC_KEY_MAX		(3 * (SVC_LABEL_MAX + 1))

enum svc_type { SVC_CLUSTERSET_IP, SVC_HEADLESS };
enum svc_proto { SVC_TCP, SVC_UDP, SVC_SCTP };

struct svc_port {
	char name[SVC_PORT_NAME_MAX + 1];	/* "" when unnamed */
	uint8_t proto;				/* enum svc_proto */
	uint16_t port;
};

struct svc_endpoint {
	char hostname[SVC_LABEL_MAX + 1];
	uint32_t addrs[SVC_MAX_ADDRS];		/* host byte order */
	unsigned n_addrs;
	bool ready;
};

/* One cluster's record of one service: an export's spec, or one of an import's
 * status.clusters (which carry no name, namespace or type of their own). */
struct svc_record {
	char cluster[SVC_LABEL_MAX + 1];
	char name[SVC_LABEL_MAX + 1], ns[SVC_LABEL_MAX + 1];
	enum svc_type type;
	uint32_t ips[SVC_MAX_IPS];
	unsigned n_ips;
	struct svc_port ports[SVC_MAX_PORTS];
	unsigned n_ports;
	struct svc_endpoint *eps;		/* malloc'd, n_eps of them */
	unsigned n_eps;
	unsigned weight;
};

struct svc_import {
	char name[SVC_LABEL_MAX + 1], ns[SVC_LABEL_MAX + 1];
	enum svc_type type;
	struct svc_port ports[SVC_MAX_PORTS];
	unsigned n_ports;
	struct svc_record *clusters;		/* malloc'd; name, ns, type copied from spec */
	unsigned n_clusters;
};

/* A ServiceExport's spec, every field checked (unknown fields refused). 0, or -EINVAL
 * with the reason ("spec.ports[1].protocol: ...") in err; -ENOMEM. Free with
 * svc_record_free() in both cases. */
int svc_export_spec_from_json(const cJSON *spec, struct svc_record *out, char *err, size_t len)
	__attribute__((warn_unused_result));
/* The export's spec as JSON (clusterID, name, namespace, type, ips, ports, endpoints,
 * weight); with cluster_entry, an import's status.clusters entry instead (cluster, ips,
 * ports, endpoints, weight). NULL on ENOMEM. */
cJSON *svc_record_to_json(const struct svc_record *r, bool cluster_entry);
/* A whole ServiceExport object: apiVersion, kind, metadata.name (svc_export_name()),
 * spec. NULL on ENOMEM or when the name does not fit. */
cJSON *svc_export_to_json(const struct svc_record *r);
void svc_record_free(struct svc_record *r);

/* The object names: "CLUSTER.NAME.NAMESPACE" (export: its owner is the first label),
 * "NAME.NAMESPACE" (import).
 * 0 or -ENAMETOOLONG. */
int svc_export_name(char *buf, size_t len, const char *cluster, const char *name, const char *ns)
	__attribute__((warn_unused_result));
int svc_import_name(char *buf, size_t len, const char *name, const char *ns)
	__attribute__((warn_unused_result));

/* A ServiceImport object from the broker. Unknown fields are ignored (a newer broker may
 * add some); every known one is checked. 0, -EINVAL with err, -ENOMEM. Free with
 * svc_import_free() in every case. */
int svc_import_from_json(const cJSON *obj, struct svc_import *out, char *err, size_t len)
	__attribute__((warn_unused_result));
void svc_import_free(struct svc_import *im);

const char *svc_type_name(enum svc_type t);
const char *svc_proto_name(enum svc_proto p);
/* "tcp"/"TCP" -> SVC_TCP, ...: 0 or -EINVAL. */
int svc_proto_parse(const char *s, enum svc_proto *out) __attribute__((warn_unused_result));
/* A Kubernetes port name (IANA service name): 1..15 of [a-z0-9-], at least one letter,
 * no '-' at either end or twice in a row. */
bool svc_port_name_ok(const char *s);

/* A record is ready when it lists no endpoints (nothing known against it) or when one
 * of its endpoints is ready. */
bool svc_record_ready(const struct svc_record *r);

#endif
