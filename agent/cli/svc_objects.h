/* The CLI side of service discovery: ServiceExports written by `subagent export service`
 * and withdrawn by `subagent unexport service` (with their GlobalIngressIPs under
 * globalnet), and the rows of `subagent show services`. */
#ifndef SA_CLI_SVC_OBJECTS_H
#define SA_CLI_SVC_OBJECTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "broker/client/service.h"

struct brk_client;

#define SVC_LABEL_SERVICE	"subagent.io/service"
#define SVC_LABEL_NAMESPACE	"subagent.io/namespace"

/* Parses "[NAME:]PORT[/PROTO]" (PROTO tcp, udp or sctp; default TCP). 0 or -EINVAL. */
int svc_cli_parse_port(const char *s, struct svc_port *out) __attribute__((warn_unused_result));
/* Parses "HOST=IP[,IP...][,ready|,notready]" (ready by default). 0 or -EINVAL. */
int svc_cli_parse_endpoint(const char *s, struct svc_endpoint *out) __attribute__((warn_unused_result));

/* Creates or updates the export of r (r->cluster is set from DIR's configuration), and
 * under globalnet the GlobalIngressIPs of its cluster IPs (ClusterSetIP) or endpoint
 * addresses (Headless), dropping those an earlier export of it made and no longer needs;
 * waits up to wait_s seconds for their global IPs. Prints what it did. Exit code. */
int svc_cli_export(const char *prog, const char *dir, struct svc_record *r, int wait_s);
/* Deletes the export of name.ns and its GlobalIngressIPs. Exit code. */
int svc_cli_unexport(const char *prog, const char *dir, const char *name, const char *ns);
/* Rows of every ServiceImport (kind "import") and of this cluster's ServiceExports (kind
 * "export"), with the global IPs of their clusters' addresses under globalnet. NULL with
 * err when the broker fails. */
cJSON *svc_cli_rows(struct brk_client *brk, const char *cluster, bool globalnet, char *err,
		    size_t errlen);

#endif
