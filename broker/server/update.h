/* The preconditions of an update that every resource shares. */
#ifndef SA_SRV_UPDATE_H
#define SA_SRV_UPDATE_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "broker/server/auth.h"
#include "broker/server/objects.h"
#include "broker/server/server.h"

/* URL name, resourceVersion, existence, ownership, clusterID unchanged. Returns the stored
 * object (caller frees) with *rv = the asked resourceVersion, or NULL with rp filled. */
cJSON *srv_update_check(struct srv_server *srv, const struct srv_ident *id,
			const struct srv_resource *r, const char *name, cJSON *in, uint64_t *rv,
			struct srv_reply *rp);

#endif
