/* Shared by the request handlers (api.c: routing, auth, generic CRUD; api_cluster.c:
 * registration, cluster updates, cascading delete). Not a public interface. */
#ifndef SA_BRK_API_INT_H
#define SA_BRK_API_INT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "broker/server/objects.h"
#include "broker/server/server.h"

enum ident_kind { ID_ADMIN, ID_JOIN, ID_CLUSTER };

struct ident {
	enum ident_kind kind;
	char cluster[64];
};

void reply_status(struct brk_reply *rp, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Overrides the Status reason (e.g. "AlreadyExists" for a 409). */
void reply_reason(struct brk_reply *rp, const char *reason);
/* 201/200 with the stored value as an object at rev; 500 when it does not parse. */
void reply_value(struct brk_reply *rp, int code, const char *value, uint64_t rev);
/* Maps a store error to 503/500. */
void reply_store_error(struct brk_reply *rp, const char *what, int err);

int api_key(char *buf, size_t len, const struct brk_resource *r, const char *name);

/* Checks the update preconditions shared by every resource: URL name, resourceVersion,
 * existence, ownership, clusterID unchanged. Returns the stored object (caller frees)
 * with *rv = the asked resourceVersion, or NULL with rp filled. */
cJSON *api_update_check(struct brk_server *srv, const struct ident *id,
			const struct brk_resource *r, const char *name, cJSON *in, uint64_t *rv,
			struct brk_reply *rp);

void api_cluster_create(struct brk_server *srv, const struct ident *id, cJSON *in,
			struct brk_reply *rp);
void api_cluster_update(struct brk_server *srv, const struct ident *id, const char *name,
			cJSON *in, struct brk_reply *rp);
void api_cluster_delete(struct brk_server *srv, const struct ident *id, const char *name,
			struct brk_reply *rp);

/* Hex SHA-256 of a token (out: 65 bytes). */
int api_token_hash(const char *token, char out[65]) __attribute__((warn_unused_result));

#endif
