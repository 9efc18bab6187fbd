/* The CLI side of the GlobalEgressIP and GlobalIngressIP objects in the broker, shared by
 * `subagent globalnet`, `subagent export service` and `subagent show networks`. */
#ifndef SA_CLI_GN_OBJECTS_H
#define SA_CLI_GN_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

struct brk_client;

struct gn_cli_opts {
	const char *state_dir;
	const char *dir, *pod, *cidr, *service, *name, *cluster;
	int wait_s, json, only;	/* only: 0 both, 1 egress, 2 ingress */
};

/* Parses the options both commands share into go: 0, -1 (help printed), or an exit code. */
int gn_cli_parse(const char *prog, int argc, char **argv, struct gn_cli_opts *go,
		 void (*help)(FILE *));
/* Exactly one target of the kind the object takes, well formed: 0 or an exit code. */
int gn_cli_check_target(const char *prog, const struct gn_cli_opts *go, bool ingress);
/* Creates the object (or updates its spec when it exists) and optionally waits for its
 * global IP. Returns the exit code. */
int gn_cli_create(const char *prog, const struct gn_cli_opts *go, bool ingress);
/* Rows (cluster, kind, name, target, global_ip) of every GlobalEgressIP and
 * GlobalIngressIP, of one cluster or all (cluster NULL). NULL with err set when the broker
 * fails. */
cJSON *gn_cli_rows(struct brk_client *brk, const char *cluster, char *err, size_t errlen);

#endif
