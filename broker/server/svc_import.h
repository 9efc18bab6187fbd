/* ServiceImports: the broker's aggregation of every cluster's ServiceExport of one
 * name.namespace into one ServiceImport (shaped after the multi-cluster services API).
 *
 * An import is derived data: it is recomputed from the exports after every export write,
 * after a cluster is deleted, when the broker starts and periodically (a write that died
 * between the export and its import is repaired). A recomputation reads the import, then
 * the exports, and writes the import only if it still has the revision it read: with
 * several broker replicas on one etcd, the last writer has seen every export. */
#ifndef SA_SRV_SVC_IMPORT_H
#define SA_SRV_SVC_IMPORT_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct srv_server;
struct srv_svc_sync;

/* The import of name.ns from its exports (stored objects, any order): spec {name,
 * namespace, type, ports}, status {clusters, conditions}, and metadata.name. The oldest
 * export (creationTimestamp, then cluster ID) decides the type; clusters exporting
 * another type are left out with a Conflict condition; ports are the union by name (or
 * number) and protocol, the oldest export's number winning. Exports that do not decode
 * are skipped. NULL when n == 0 (no import), or on ENOMEM (errno set). */
cJSON *srv_svc_aggregate(const char *name, const char *ns, cJSON *const *exports, size_t n);

/* Recomputes the import of name.ns and writes it (or deletes it) if it changed.
 * 0 or -errno. */
int srv_svc_reconcile(struct srv_server *srv, const char *name, const char *ns)
	__attribute__((warn_unused_result));
/* Every import from every export. 0 or the first -errno. */
int srv_svc_resync(struct srv_server *srv) __attribute__((warn_unused_result));
/* The resource table's on_change hook of serviceexports. */
void srv_svc_export_changed(struct srv_server *srv, const cJSON *obj);

/* A thread that resyncs now and then every period_s seconds. NULL with errno. */
struct srv_svc_sync *srv_svc_sync_start(struct srv_server *srv, unsigned period_s);
/* Stops and frees it. NULL-safe. */
void srv_svc_sync_stop(struct srv_svc_sync *s);

#endif
