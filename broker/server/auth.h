/* Who a request comes from, and what that identity may write (DESIGN.md's trust table). */
#ifndef SA_SRV_AUTH_H
#define SA_SRV_AUTH_H

#include <stdbool.h>

#include "broker/server/server.h"

/* The identity of an Authorization header: 0 with *id, -EACCES (401) or -EIO (503). */
int srv_authenticate(struct srv_server *srv, const char *auth, struct srv_ident *id)
	__attribute__((warn_unused_result));
/* May id write an object owned by cluster cid? */
bool srv_may_write(const struct srv_ident *id, const char *cid);
/* Hex SHA-256 of a token (out: 65 bytes): how cluster tokens are stored. */
int srv_token_hash(const char *token, char out[65]) __attribute__((warn_unused_result));

#endif
