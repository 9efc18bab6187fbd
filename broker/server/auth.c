/* Who a request comes from (the bearer token: admin, join or a cluster's) and what that
 * identity may write. */
#include "broker/server/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "broker/store/store.h"
#include "common/name.h"

/* Compares a presented token with a configured one in time independent of the content. */
static bool token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < lb; i++)
		diff |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
	return diff == 0;
}

/* 0 with *id, -EACCES (401) or -EIO (503). */
int srv_authenticate(struct srv_server *srv, const char *auth, struct srv_ident *id)
{
	char hash[65], key[80], *val = NULL;
	const char *tok;
	int err;

	if (!auth || strncasecmp(auth, "Bearer ", 7))
		return -EACCES;
	tok = auth + 7;
	while (*tok == ' ')
		tok++;
	if (!*tok || strlen(tok) > 256)
		return -EACCES;
	if (srv->admin_token && token_eq(tok, srv->admin_token)) {
		id->kind = SRV_ID_ADMIN;
		return 0;
	}
	if (srv->join_token && token_eq(tok, srv->join_token)) {
		id->kind = SRV_ID_JOIN;
		return 0;
	}
	err = srv_token_hash(tok, hash);
	if (err)
		return err;
	snprintf(key, sizeof(key), "x/token/%s", hash);
	err = srv->store->ops->get(srv->store, key, &val, NULL);
	if (err == -ENOENT)
		return -EACCES;
	if (err)
		return err;
	if (!name_is_dns_label(val)) {
		free(val);
		return -EACCES;
	}
	id->kind = SRV_ID_CLUSTER;
	snprintf(id->cluster, sizeof(id->cluster), "%s", val);
	free(val);
	return 0;
}

int srv_token_hash(const char *token, char out[65])
{
	unsigned char d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), d) < 0)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	explicit_bzero(d, sizeof(d));
	return 0;
}

/* May id write an object owned by cluster cid? */
bool srv_may_write(const struct srv_ident *id, const char *cid)
{
	return id->kind == SRV_ID_ADMIN || (id->kind == SRV_ID_CLUSTER && !strcmp(id->cluster, cid));
}
