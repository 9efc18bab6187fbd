/* Cluster registration, update and delete (see api_cluster.c). */
#ifndef SA_SRV_API_CLUSTER_H
#define SA_SRV_API_CLUSTER_H

#include <cjson/cJSON.h>

#include "broker/server/auth.h"
#include "broker/server/server.h"

void srv_api_cluster_create(struct srv_server *srv, const struct srv_ident *id, cJSON *in,
			    struct srv_reply *rp);
void srv_api_cluster_update(struct srv_server *srv, const struct srv_ident *id, const char *name,
			    cJSON *in, struct srv_reply *rp);
void srv_api_cluster_delete(struct srv_server *srv, const struct srv_ident *id, const char *name,
			    struct srv_reply *rp);

#endif
