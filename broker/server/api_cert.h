/* IKE certificates signed by the broker for a cluster's gateways (see api_cert.c). */
#ifndef SA_SRV_API_CERT_H
#define SA_SRV_API_CERT_H

#include "broker/server/auth.h"
#include "broker/server/server.h"

/* Loads DIR/ike-ca.pem and ike-ca-key.pem into srv (absent: no signing, warned). 0 or
 * -EINVAL when they are there but broken. */
int srv_cert_init(struct srv_server *srv, const char *dir) __attribute__((warn_unused_result));
void srv_cert_fini(struct srv_server *srv);
/* POST ikecertificates. */
void srv_api_cert(struct srv_server *srv, const struct srv_ident *id, const struct srv_request *rq,
		  struct srv_reply *rp);

#endif
