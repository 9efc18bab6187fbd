/* etcd v3 store through etcd's JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/watch), with
 * libcurl, over TLS: etcd's CA is the only trust anchor and the broker presents a client
 * certificate (etcd --client-cert-auth); "etcd+http://" asks for plain HTTP. Keys live under "/subagent/"; keys and values travel base64-encoded; int64s
 * arrive as decimal strings and fields equal to their default are left out (proto3 JSON).
 * The resource version is etcd's mod_revision, the list version the header revision.
 * Conditional writes are one txn each (compare create_revision == 0 for "absent",
 * mod_revision == N for "unchanged"); the failure branch reads the compared keys back so
 * the caller learns which condition failed. The change feed is one long /v3/watch stream
 * over "/subagent/r/" with prev_kv (a delete carries the last value), reconnected from the
 * last revision seen, so every replica sees the writes of every other. Several endpoints
 * ("etcd://a:2379,b:2379") are tried in turn when one cannot be reached. This file: the
 * KV side and open/close; etcd_http.c the requests, etcd_watch.c the streams. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/store/etcd_int.h"
#include "common/log.h"
#include "common/util.h"

/* ---- KV ---- */

static int range_req(struct etcd *e, const char *key, bool prefix, cJSON **resp)
{
	char full[STORE_KEY_MAX + 16], end[STORE_KEY_MAX + 16];
	cJSON *body = cJSON_CreateObject();
	int err = -ENOMEM;

	snprintf(full, sizeof(full), PREFIX "%s", key);
	if (!body || etcd_add_b64(body, "key", full))
		goto out;
	if (prefix) {
		etcd_prefix_end(full, end, sizeof(end));
		if (etcd_add_b64(body, "range_end", end))
			goto out;
	}
	err = etcd_post(e, "/v3/kv/range", body, resp);
out:
	cJSON_Delete(body);
	return err;
}

static int etcd_get(struct store *st, const char *key, char **value, uint64_t *mod_rev)
{
	cJSON *resp, *kv;
	int err = range_req(st->priv, key, false, &resp);

	if (err)
		return err;
	kv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "kvs"), 0);
	if (!kv) {
		err = -ENOENT;
	} else {
		if (mod_rev)
			*mod_rev = etcd_j_u64(kv, "mod_revision");
		if (value) {
			*value = etcd_j_b64(kv, "value");
			if (!*value)
				err = -EIO;
		}
	}
	cJSON_Delete(resp);
	return err;
}

/* Calls fn for each key-value of a range response (keys without our prefix are -EIO) and
 * returns the first result that is not 0 (fn's, which may be > 0 to stop), else 0. */
static int each_kv(const cJSON *resp, store_kv_fn fn, void *ctx)
{
	const cJSON *kv;
	int err = 0;

	cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(resp, "kvs")) {
		char *k = etcd_j_b64(kv, "key"), *v = etcd_j_b64(kv, "value");

		if (k && v && !strncmp(k, PREFIX, strlen(PREFIX)))
			err = fn(k + strlen(PREFIX), v, etcd_j_u64(kv, "mod_revision"), ctx);
		else
			err = -EIO;
		free(k);
		free(v);
		if (err)
			break;
	}
	return err;
}

static int etcd_range(struct store *st, const char *prefix, store_kv_fn fn, void *ctx,
		      uint64_t *rev)
{
	cJSON *resp;
	int err = range_req(st->priv, prefix, true, &resp);

	if (err)
		return err;
	err = each_kv(resp, fn, ctx);
	if (!err && rev)
		*rev = etcd_j_u64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
	cJSON_Delete(resp);
	return err;
}

static int etcd_page(struct store *st, const char *prefix, const char *after, uint64_t at_rev,
		     size_t limit, store_kv_fn fn, void *ctx, uint64_t *rev, bool *more)
{
	char full[STORE_KEY_MAX + 16], end[STORE_KEY_MAX + 16], num[24];
	cJSON *body = cJSON_CreateObject(), *resp = NULL;
	size_t n;
	char *k64 = NULL;
	int err = -ENOMEM;

	*more = false;
	if (after && strncmp(after, prefix, strlen(prefix))) {
		err = -EINVAL;
		goto out;
	}
	snprintf(full, sizeof(full), PREFIX "%s", prefix);
	etcd_prefix_end(full, end, sizeof(end));
	/* etcd's range starts at its key: after + "\0" is the first key after `after` */
	n = (size_t)snprintf(full, sizeof(full), PREFIX "%s", after ? after : prefix);
	if (after && n + 1 < sizeof(full))
		full[n++] = '\0';
	k64 = etcd_b64_enc(full, n);
	if (!body || !k64 || !cJSON_AddStringToObject(body, "key", k64) ||
	    etcd_add_b64(body, "range_end", end))
		goto out;
	if (limit) {
		snprintf(num, sizeof(num), "%zu", limit);
		if (!cJSON_AddStringToObject(body, "limit", num))
			goto out;
	}
	if (at_rev) {
		snprintf(num, sizeof(num), "%" PRIu64, at_rev);
		if (!cJSON_AddStringToObject(body, "revision", num))
			goto out;
	}
	err = etcd_post(st->priv, "/v3/kv/range", body, &resp);
	if (err)
		goto out;
	if (rev)
		*rev = etcd_j_u64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
	err = each_kv(resp, fn, ctx);
	if (err > 0) {
		*more = true;
		err = 0;
		goto out;
	}
	if (err)
		goto out;
	*more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "more"));
out:
	free(k64);
	cJSON_Delete(body);
	cJSON_Delete(resp);
	return err;
}

static int etcd_revision(struct store *st, uint64_t *rev)
{
	cJSON *resp;
	int err = range_req(st->priv, "x/revision-probe", false, &resp);

	if (err)
		return err;
	*rev = etcd_j_u64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
	cJSON_Delete(resp);
	return 0;
}

/* The head revision for the watch hub, as the revision of a write under "r/": the hub
 * later asks history "up to" it, and a watch over "r/" only ends that catch-up when an
 * event at or past that revision arrives; etcd's bare header revision may belong to an
 * internal key the watch never shows. "r/_sync" is no resource, so the hub ignores it. */
int etcd_sync_revision(struct store *st, uint64_t *rev)
{
	struct store_txn_op op = { .key = "r/_sync", .value = "{}" };

	return st->ops->txn(st, &op, 1, rev, NULL);
}

static int etcd_txn(struct store *st, const struct store_txn_op *ops, size_t n, uint64_t *rev,
		    size_t *failed)
{
	cJSON *body = cJSON_CreateObject(), *cmp, *succ, *fail, *resp = NULL, *o, *r;
	char full[STORE_KEY_MAX + 16];
	int err = -ENOMEM;

	if (!body || !(cmp = cJSON_AddArrayToObject(body, "compare")) ||
	    !(succ = cJSON_AddArrayToObject(body, "success")) ||
	    !(fail = cJSON_AddArrayToObject(body, "failure")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		snprintf(full, sizeof(full), PREFIX "%s", ops[i].key);
		if (ops[i].cond != STORE_IF_ANY) {
			char num[24];

			o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(cmp, o) || etcd_add_b64(o, "key", full))
				goto out;
			snprintf(num, sizeof(num), "%" PRIu64, ops[i].cond == STORE_IF_REV ? ops[i].rev : 0);
			if (!cJSON_AddStringToObject(o, "target", ops[i].cond == STORE_IF_REV ? "MOD" : "CREATE") ||
			    !cJSON_AddStringToObject(o, "result", "EQUAL") ||
			    !cJSON_AddStringToObject(o, ops[i].cond == STORE_IF_REV ? "mod_revision" :
						     "create_revision", num))
				goto out;
			/* on failure, read the key back to tell which condition failed */
			o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(fail, o) ||
			    !(r = cJSON_AddObjectToObject(o, "request_range")) || etcd_add_b64(r, "key", full))
				goto out;
		}
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(succ, o))
			goto out;
		r = cJSON_AddObjectToObject(o, ops[i].del ? "request_delete_range" : "request_put");
		if (!r || etcd_add_b64(r, "key", full) || (!ops[i].del && etcd_add_b64(r, "value", ops[i].value)))
			goto out;
	}
	err = etcd_post(st->priv, "/v3/kv/txn", body, &resp);
	if (err)
		goto out;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "succeeded"))) {
		if (rev)
			*rev = etcd_j_u64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
		err = 0;
		goto out;
	}
	/* Which condition failed: walk the conditioned ops with their range answers. */
	err = -ECANCELED;
	{
		const cJSON *resps = cJSON_GetObjectItemCaseSensitive(resp, "responses");
		int k = 0;

		if (failed)
			*failed = 0;
		for (size_t i = 0; i < n; i++) {
			const cJSON *rr, *kv;
			bool ok;

			if (ops[i].cond == STORE_IF_ANY)
				continue;
			rr = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(resps, k++), "response_range");
			kv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rr, "kvs"), 0);
			ok = ops[i].cond == STORE_IF_ABSENT ? !kv :
			     (kv && etcd_j_u64(kv, "mod_revision") == ops[i].rev);
			if (!ok) {
				if (failed)
					*failed = i;
				break;
			}
		}
	}
out:
	cJSON_Delete(body);
	cJSON_Delete(resp);
	return err;
}

/* ---- open/close ---- */

static void etcd_close(struct store *st)
{
	struct etcd *e = st->priv;

	if (!e)
		return;
	e->stop = true;
	if (e->feed_running)
		pthread_join(e->feed, NULL);
	while (e->free) {
		struct handle *h = e->free;

		e->free = h->next;
		curl_easy_cleanup(h->c);
		free(h);
	}
	for (unsigned i = 0; i < e->nep; i++)
		free(e->ep[i]);
	free(e->ca);
	free(e->cert);
	free(e->key);
	pthread_mutex_destroy(&e->lock);
	free(e);
	st->priv = NULL;
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* DIR/name, which must be a readable file; NULL (logged) otherwise. */
static char *tls_file(const char *dir, const char *name, const char *spec)
{
	char path[PATH_MAX], *s;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &sb) || !S_ISREG(sb.st_mode)) {
		pr_err("store %s: etcd is reached over TLS with a client certificate: %s is missing"
		       " (deploy-broker --etcd-ca/--etcd-cert/--etcd-key copies them; etcd+http://"
		       " asks for plain HTTP)\n", spec, path);
		errno = ENOENT;
		return NULL;
	}
	s = strdup(path);
	return s;
}

static int etcd_open(struct store *st, const char *spec, const char *dir)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	bool plain = !strncmp(spec, ETCD_PLAIN, strlen(ETCD_PLAIN));
	const char *p = spec + (plain ? strlen(ETCD_PLAIN) : strlen("etcd://"));
	struct etcd *e;
	uint64_t rev;
	int err;

	pthread_once(&once, curl_init_once);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	st->priv = e;
	e->tls = !plain;
	if (plain) {
		pr_warn("store %s: etcd over plain HTTP, as asked: anyone on the path reads and"
			" writes the broker's data\n", spec);
	} else {
		e->ca = tls_file(dir, "etcd-ca.pem", spec);
		e->cert = e->ca ? tls_file(dir, "etcd-client.pem", spec) : NULL;
		e->key = e->cert ? tls_file(dir, "etcd-client-key.pem", spec) : NULL;
		if (!e->key) {
			err = -ENOENT;
			goto err;
		}
	}
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n > 255 || e->nep == MAX_EP) {
			pr_err("store %s: want etcd://host:port[,host:port] (at most %d)\n", spec, MAX_EP);
			err = -EINVAL;
			goto err;
		}
		e->ep[e->nep] = strndup(p, n);
		if (!e->ep[e->nep++]) {
			err = -ENOMEM;
			goto err;
		}
		p += n + (p[n] == ',');
	}
	if (!e->nep) {
		err = -EINVAL;
		goto err;
	}
	err = etcd_revision(st, &rev);
	if (err) {
		pr_err("store %s: etcd unreachable\n", spec);
		goto err;
	}
	pr_info("store etcd %s: revision %" PRIu64 "\n", spec, rev);
	return 0;
err:
	etcd_close(st);
	return err;
}

const struct store_ops store_etcd_ops = {
	.name = "etcd",
	.open = etcd_open,
	.close = etcd_close,
	.get = etcd_get,
	.range = etcd_range,
	.page = etcd_page,
	.txn = etcd_txn,
	.history = etcd_history,
	.revision = etcd_sync_revision,
	.feed_start = etcd_feed_start,
};
