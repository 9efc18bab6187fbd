/* This gateway's IKE identity: its own private key (made here, never sent anywhere), a
 * certificate request for the cluster ID, and the certificate the broker signs for it
 * with the cluster's token (short-lived, see broker/server/api_cert.c). Kept in
 * STATE/ike/ so that a restart while the broker is down authenticates at once, checked
 * again at every load (it must chain to this configuration's broker CA and name this
 * cluster), and renewed when half its lifetime is gone, so that a broker outage of hours
 * does not stop the tunnels. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/engine/engine_int.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "broker/creds/pki.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#define RETRY_FIRST_NS	(5 * NSEC_PER_SEC)
#define RETRY_MAX_NS	(300 * NSEC_PER_SEC)

static int path_of(const struct engine *e, const char *name, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/ike/%s", e->c.state_dir, name) >= (int)len ? -ENAMETOOLONG : 0;
}

static void fmt_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void certs_clear(struct eng_certs *c)
{
	util_free_secret(c->key);
	free(c->cert);
	free(c->chain);
	c->key = c->cert = c->chain = NULL;
	c->not_before = c->not_after = 0;
}

/* Takes key/cert/chain (malloc'd) when they belong together, chain to the broker CA of
 * this configuration, name this cluster and are valid now; frees them otherwise. */
static int adopt(struct engine *e, char *key, char *cert, char *chain, const char *from)
{
	const struct cluster_config *cfg = e->c.cfg;
	struct pki_cert_info ci;
	char err[256], until[32];
	int rc = -EINVAL;

	if (!key || !cert || !chain)
		snprintf(err, sizeof(err), "incomplete");
	else if (pki_cert_parse(cert, strlen(cert), &ci, err, sizeof(err)))
		;
	else if (pki_key_matches(cert, key))
		snprintf(err, sizeof(err), "the certificate is not for this gateway's key");
	else if ((rc = pki_chain_verify(cfg->ca_pem, chain, cert, cfg->cluster_id)))
		snprintf(err, sizeof(err), "it does not chain to this cluster's broker CA, is not "
			 "valid now, or does not name cluster %s", cfg->cluster_id);
	if (rc || !key || !cert || !chain) {
		pr_warn("IKE certificate from %s not used: %s\n", from, err);
		util_free_secret(key);
		free(cert);
		free(chain);
		return rc ? rc : -EINVAL;
	}
	certs_clear(&e->certs);
	e->certs.key = key;
	e->certs.cert = cert;
	e->certs.chain = chain;
	e->certs.not_before = ci.not_before;
	e->certs.not_after = ci.not_after;
	fmt_time(ci.not_after, until);
	pr_info("IKE certificate of %s from %s: valid until %s (sha256 %.16s...)\n",
		cfg->cluster_id, from, until, ci.fingerprint);
	return 0;
}

static char *read_in(const struct engine *e, const char *name)
{
	char path[PATH_MAX];

	if (path_of(e, name, path, sizeof(path)))
		return NULL;
	return util_read_file(path, PKI_MAX_PEM, NULL);
}

static int save(struct engine *e)
{
	static const char *const names[] = { "key.pem", "cert.pem", "chain.pem" };
	const char *data[] = { e->certs.key, e->certs.cert, e->certs.chain };
	char path[PATH_MAX];
	cJSON *doc;
	int rc;

	if (path_of(e, "", path, sizeof(path)))
		return -ENAMETOOLONG;
	rc = util_mkdir_p(path, 0700);
	/* the broker and registration these came from, like every cache (origin.h) */
	doc = cJSON_CreateObject();
	if (!rc && !path_of(e, "origin.json", path, sizeof(path)))
		rc = doc ? origin_cache_save(path, &e->origin, doc) : -ENOMEM;
	cJSON_Delete(doc);
	for (size_t i = 0; !rc && i < ARRAY_SIZE(names); i++) {
		rc = path_of(e, names[i], path, sizeof(path));
		if (!rc)
			rc = util_write_file(path, data[i], strlen(data[i]), i ? 0644 : 0600);
	}
	if (rc)
		pr_warn("save the IKE certificate under %s/ike: %s\n", e->c.state_dir, strerror(-rc));
	return rc;
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A new key, its request, the broker's signature. 0 or -errno (logged). */
static int request(struct engine *e)
{
	const char *cid = e->c.cfg->cluster_id;
	char *key = NULL, *csr = NULL, *cert = NULL, *chain = NULL;
	cJSON *body = NULL, *spec, *out = NULL;
	struct brk_status st = { 0 };
	int rc;

	rc = pki_key_create(&key);
	if (!rc)
		rc = pki_csr_create(key, cid, &csr);
	if (rc) {
		pr_err("IKE certificate: make a key and request: %s\n", strerror(-rc));
		goto out;
	}
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "apiVersion", "subagent.io/v1") ||
	    !cJSON_AddStringToObject(body, "kind", "IKECertificateRequest") ||
	    !(spec = cJSON_AddObjectToObject(body, "spec")) ||
	    !cJSON_AddStringToObject(spec, "clusterID", cid) ||
	    !cJSON_AddStringToObject(spec, "request", csr)) {
		rc = -ENOMEM;
		goto out;
	}
	rc = brk_create(e->c.brk, "ikecertificates", body, &out, &st);
	if (rc) {
		pr_warn("IKE certificate: the broker did not sign (%s)%s\n", st.message,
			rc == -EACCES ? ": it no longer knows this cluster's token (was the cluster "
			"deleted?)" : "");
		goto out;
	}
	cert = dup_str(json_str(out, "status.certificate", NULL));
	chain = dup_str(json_str(out, "status.chain", NULL));
	rc = adopt(e, key, cert, chain, "the broker");
	key = NULL;	/* adopt() took or freed them */
	if (!rc)
		(void)save(e);
out:
	util_free_secret(key);
	free(csr);
	cJSON_Delete(body);
	cJSON_Delete(out);
	return rc;
}

/* When to renew: half the lifetime gone (a 12 h certificate leaves 6 h of broker outage). */
static void schedule(struct engine *e, uint64_t now)
{
	time_t t = time(NULL), at = e->certs.not_before + (e->certs.not_after - e->certs.not_before) / 2;
	char buf[32];

	e->certs.backoff_ns = 0;
	e->certs.next_ns = now + (at > t ? (uint64_t)(at - t) * NSEC_PER_SEC : 0);
	fmt_time(at, buf);
	pr_info("IKE certificate: renewal due at %s\n", buf);
}

static void retry_later(struct engine *e, uint64_t now)
{
	e->certs.backoff_ns = util_backoff(e->certs.backoff_ns, RETRY_FIRST_NS, RETRY_MAX_NS);
	e->certs.next_ns = now + e->certs.backoff_ns;
	pr_info("IKE certificate: next attempt in %llu s\n",
		(unsigned long long)(e->certs.backoff_ns / NSEC_PER_SEC));
}

/* The certificate kept in the state directory, when it was kept for this broker and
 * registration (and passes adopt()'s checks). */
static bool from_disk(struct engine *e)
{
	char path[PATH_MAX];
	cJSON *doc;

	if (path_of(e, "origin.json", path, sizeof(path)))
		return false;
	doc = origin_cache_load(path, &e->origin, 4096, "this gateway's IKE certificate");
	if (!doc)
		return false;
	cJSON_Delete(doc);
	return !adopt(e, read_in(e, "key.pem"), read_in(e, "cert.pem"), read_in(e, "chain.pem"),
		      "the state directory");
}

void eng_certs_init(struct engine *e)
{
	uint64_t now = util_now_ns();

	e->certs.wanted = !strcmp(e->c.cfg->cable_driver, "ipsec") && !e->c.cfg->psk;
	if (!e->certs.wanted)
		return;
	if (from_disk(e) &&
	    time(NULL) < e->certs.not_before + (e->certs.not_after - e->certs.not_before) / 2) {
		schedule(e, now);
		return;
	}
	if (!request(e)) {
		schedule(e, now);
		return;
	}
	/* nothing from the broker: what is on disk (still valid) serves meanwhile */
	if (!e->certs.key && pki_key_create(&e->certs.key))
		pr_err("IKE certificate: cannot make a key\n");
	if (!e->certs.cert)
		pr_warn("IKE certificate: none yet; the tunnels wait for one\n");
	retry_later(e, now);
}

void eng_certs_creds(const struct engine *e, struct cable_creds *out)
{
	memset(out, 0, sizeof(*out));
	if (e->c.cfg->psk) {
		out->psk = e->c.cfg->psk;
		return;
	}
	out->key_pem = e->certs.key;
	out->cert_pem = e->certs.cert;
	out->chain_pem = e->certs.chain;
	out->ca_pem = e->c.cfg->ca_pem;
}

void eng_certs_tick(struct engine *e, uint64_t now)
{
	struct cable_creds cc;
	time_t t;
	int rc;

	if (!e->certs.wanted || now < e->certs.next_ns)
		return;
	t = time(NULL);
	if (e->certs.cert && t >= e->certs.not_after && !e->certs.expired_logged) {
		pr_err("IKE certificate of %s expired: new tunnels cannot authenticate until the "
		       "broker signs a new one\n", e->c.cfg->cluster_id);
		e->certs.expired_logged = true;
	}
	if (request(e)) {
		retry_later(e, now);
		return;
	}
	e->certs.expired_logged = false;
	schedule(e, now);
	eng_certs_creds(e, &cc);
	if (e->cable && e->cops->set_creds) {
		rc = e->cops->set_creds(e->cable, &cc);
		if (rc)
			pr_warn("IKE certificate: hand the new one to the cable: %s\n", strerror(-rc));
	}
}

void eng_certs_free(struct engine *e)
{
	certs_clear(&e->certs);
}
