/* IKE certificates: a cluster's gateway sends a certificate request for its own cluster ID
 * and gets it signed for a few hours by the broker's IKE signing CA (DIR/ike-ca.pem and
 * ike-ca-key.pem, made by deploy-broker; the root's key is not needed here).
 *
 *   POST /apis/subagent.io/v1/ikecertificates
 *   {"apiVersion":"subagent.io/v1","kind":"IKECertificateRequest",
 *    "spec":{"clusterID":"c1","request":"-----BEGIN CERTIFICATE REQUEST-----..."}}
 *   201 {"kind":"IKECertificate","spec":{"clusterID":"c1"},"status":{"certificate":PEM,
 *        "chain":PEM of the signing CA,"notBefore":..,"notAfter":..}}
 *
 * Only a cluster's own token may ask, only for its own cluster ID, and only while that
 * cluster is registered: a deleted cluster (its token is revoked with it) gets nothing, so
 * its certificates run out within their lifetime. */
#include "broker/server/api_cert.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/creds/pki.h"
#include "broker/server/objects.h"
#include "broker/server/reply.h"
#include "broker/server/validate.h"
#include "broker/store/store.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

#define CSR_BODY_MAX	(16 * 1024)

static char *read_in(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return util_read_file(path, PKI_MAX_PEM, len);
}

int srv_cert_init(struct srv_server *srv, const char *dir)
{
	struct pki_cert_info ci;
	char err[256];
	size_t len = 0;

	srv->ike_ca_pem = read_in(dir, "ike-ca.pem", &len);
	if (!srv->ike_ca_pem) {
		/* a directory from before certificates: the PSK is all its clusters have */
		pr_warn("no %s/ike-ca.pem (%s): this broker signs no IKE certificates; run "
			"deploy-broker again to give its clusters certificates\n", dir, strerror(errno));
		return 0;
	}
	srv->ike_ca_key = read_in(dir, "ike-ca-key.pem", NULL);
	if (!srv->ike_ca_key || pki_cert_parse(srv->ike_ca_pem, len, &ci, err, sizeof(err)) ||
	    !ci.is_ca || pki_key_matches(srv->ike_ca_pem, srv->ike_ca_key)) {
		pr_err("load the IKE signing CA from %s: ike-ca.pem and ike-ca-key.pem are missing, "
		       "malformed or do not belong together\n", dir);
		srv_cert_fini(srv);
		return -EINVAL;
	}
	if (!srv->cfg.ike_cert_s)
		srv->cfg.ike_cert_s = PKI_IKE_DEFAULT_S;
	pr_info("IKE signing CA loaded: gateway certificates valid %u s\n", srv->cfg.ike_cert_s);
	return 0;
}

void srv_cert_fini(struct srv_server *srv)
{
	free(srv->ike_ca_pem);
	util_free_secret(srv->ike_ca_key);
	srv->ike_ca_pem = srv->ike_ca_key = NULL;
}

static void rfc3339(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The answer: the certificate, the chain up to (not including) the root, the validity. */
static void reply_cert(struct srv_reply *rp, const char *cid, const char *cert,
		       const char *chain)
{
	struct pki_cert_info ci;
	cJSON *o = cJSON_CreateObject(), *spec, *st;
	char err[128], nb[32], na[32];

	if (pki_cert_parse(cert, strlen(cert), &ci, err, sizeof(err))) {
		cJSON_Delete(o);
		srv_reply_status(rp, 500, "the issued certificate does not parse: %s", err);
		return;
	}
	rfc3339(ci.not_before, nb);
	rfc3339(ci.not_after, na);
	if (!o || !cJSON_AddStringToObject(o, "apiVersion", SRV_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", "IKECertificate") ||
	    !(spec = cJSON_AddObjectToObject(o, "spec")) ||
	    !cJSON_AddStringToObject(spec, "clusterID", cid) ||
	    !(st = cJSON_AddObjectToObject(o, "status")) ||
	    !cJSON_AddStringToObject(st, "certificate", cert) ||
	    !cJSON_AddStringToObject(st, "chain", chain) ||
	    !cJSON_AddStringToObject(st, "notBefore", nb) ||
	    !cJSON_AddStringToObject(st, "notAfter", na)) {
		cJSON_Delete(o);
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	rp->code = 201;
	rp->json = o;
}

/* The request's fields; 0 or -EINVAL with a sentence in msg. */
static int decode(const cJSON *in, const char **cid, const char **csr, char msg[JSON_ERR_MAX])
{
	static const char *const top[] = { "apiVersion", "kind", "spec" };
	static const char *const spec_keys[] = { "clusterID", "request" };
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(in, "spec");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(in, "kind");
	int err;

	if ((err = json_check_keys(in, "the request", top, ARRAY_SIZE(top), msg)))
		return err;
	if (kind && (!cJSON_IsString(kind) || strcmp(kind->valuestring, "IKECertificateRequest")))
		return util_einval(msg, JSON_ERR_MAX, "kind must be IKECertificateRequest");
	if (!cJSON_IsObject(spec))
		return util_einval(msg, JSON_ERR_MAX, "spec is missing or not an object");
	if ((err = json_check_keys(spec, "spec", spec_keys, ARRAY_SIZE(spec_keys), msg)) ||
	    (err = json_get_str(spec, "clusterID", 63, cid, msg)) ||
	    (err = json_get_str(spec, "request", PKI_MAX_PEM, csr, msg)))
		return err;
	if (!name_is_dns_label(*cid))
		return util_einval(msg, JSON_ERR_MAX, "spec.clusterID is not a cluster ID");
	return 0;
}

void srv_api_cert(struct srv_server *srv, const struct srv_ident *id, const struct srv_request *rq,
		  struct srv_reply *rp)
{
	struct pki_csr_info ri;
	const char *cid, *csr;
	char msg[300], ckey[STORE_KEY_MAX], *cert = NULL;
	cJSON *in;
	int err;

	if (strcmp(rq->method, "POST")) {
		srv_reply_status(rp, 405, "ikecertificates supports POST only");
		return;
	}
	if (id->kind == SRV_ID_JOIN) {
		srv_reply_status(rp, 403, "the join token may only register clusters");
		return;
	}
	if (!srv->ike_ca_pem) {
		srv_reply_status(rp, 501, "this broker has no IKE signing CA (its directory predates "
				 "certificates; run deploy-broker again)");
		return;
	}
	if (rq->body_too_large || rq->body_len > CSR_BODY_MAX) {
		srv_reply_status(rp, 413, "request body larger than %d bytes", CSR_BODY_MAX);
		return;
	}
	in = srv_decode_body(rq->body, rq->body_len, msg, sizeof(msg));
	if (!in) {
		srv_reply_status(rp, 400, "%s", msg);
		return;
	}
	if (decode(in, &cid, &csr, msg)) {
		srv_reply_status(rp, 422, "IKECertificateRequest: %s", msg);
		goto out;
	}
	if (!(id->kind == SRV_ID_ADMIN || (id->kind == SRV_ID_CLUSTER && !strcmp(id->cluster, cid)))) {
		srv_reply_status(rp, 403, "cluster %s may not ask for cluster %s's certificate",
				 id->cluster, cid);
		goto out;
	}
	if (pki_csr_parse(csr, strlen(csr), &ri, msg, sizeof(msg))) {
		srv_reply_status(rp, 422, "IKECertificateRequest: %s", msg);
		goto out;
	}
	if (strcmp(ri.id, cid)) {
		srv_reply_status(rp, 403, "the certificate request names %s, not cluster %s", ri.id, cid);
		goto out;
	}
	if (srv_object_key(ckey, sizeof(ckey), &srv_resources[0], cid)) {
		srv_reply_status(rp, 422, "name too long");
		goto out;
	}
	err = srv->store->ops->get(srv->store, ckey, NULL, NULL);
	if (err == -ENOENT) {
		srv_reply_status(rp, 403, "cluster %s is not registered", cid);
		goto out;
	}
	if (err) {
		srv_reply_store_error(rp, "get", err);
		goto out;
	}
	err = pki_csr_sign(srv->ike_ca_pem, srv->ike_ca_key, csr, cid, srv->cfg.ike_cert_s, &cert);
	if (err) {
		srv_reply_status(rp, 500, "sign the certificate: %s", strerror(-err));
		goto out;
	}
	reply_cert(rp, cid, cert, srv->ike_ca_pem);
	pr_info("issued an IKE certificate to cluster %s (%u s)\n", cid, srv->cfg.ike_cert_s);
out:
	free(cert);
	cJSON_Delete(in);
}
