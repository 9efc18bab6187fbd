/* The broker client: libcurl requests with failover across broker URLs, the broker CA as
 * the only trust anchor, bounded responses and Status errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/client/client_int.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void init_curl(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

bool brk_resource_ok(const char *s)
{
	size_t n = strnlen(s, 64);

	return n > 0 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz") == n;
}

struct brk_client *brk_client_new(char *const *urls, size_t n, const char *ca_pem_path,
				  const char *token)
{
	struct brk_client *c;
	char host[256];
	unsigned port;

	pthread_once(&curl_once, init_curl);
	if (curl_init_rc != CURLE_OK) {
		errno = EIO;
		return NULL;
	}
	if (!urls || n == 0 || n > BRK_MAX_URLS || !ca_pem_path || !token ||
	    strlen(token) > 1024 || strpbrk(token, "\r\n")) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!urls[i] || brk_url_parse(urls[i], host, sizeof(host), &port)) {
			errno = EINVAL;
			return NULL;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->connect_ms = BRK_CONNECT_TIMEOUT_MS;
	c->request_ms = BRK_REQUEST_TIMEOUT_MS;
	c->watch_idle_s = BRK_WATCH_IDLE_S;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(urls[i]);

		c->urls[i] = strdup(urls[i]);
		if (!c->urls[i])
			goto err;
		c->n_urls++;
		if (len && c->urls[i][len - 1] == '/')
			c->urls[i][len - 1] = '\0';
	}
	c->ca_path = strdup(ca_pem_path);
	c->token = strdup(token);
	c->h = curl_easy_init();
	if (!c->ca_path || !c->token || !c->h)
		goto err;
	return c;
err:
	brk_client_free(c);
	errno = ENOMEM;
	return NULL;
}

void brk_client_free(struct brk_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_urls; i++)
		free(c->urls[i]);
	free(c->ca_path);
	free(c->ca_label);
	util_free_secret(c->token);
	if (c->h)
		curl_easy_cleanup(c->h);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void brk_client_set_timeouts(struct brk_client *c, unsigned connect_ms, unsigned request_ms)
{
	c->connect_ms = connect_ms;
	c->request_ms = request_ms;
}

void brk_client_set_watch_idle(struct brk_client *c, unsigned seconds)
{
	c->watch_idle_s = seconds ? seconds : BRK_WATCH_IDLE_S;
}

int brk_client_set_ca_label(struct brk_client *c, const char *label)
{
	char *l = strdup(label);

	if (!l)
		return -ENOMEM;
	free(c->ca_label);
	c->ca_label = l;
	return 0;
}

const char *brk_client_url(struct brk_client *c)
{
	return c->urls[atomic_load(&c->preferred) % c->n_urls];
}

int brk_http_errno(long code, const char *reason)
{
	if (code >= 200 && code < 300)
		return 0;
	switch (code) {
	case 400: case 422: return -EINVAL;
	case 401: return -EACCES;
	case 403: return -EPERM;
	case 404: return -ENOENT;
	case 409: return reason && !strcmp(reason, "Conflict") ? -ESTALE : -EEXIST;
	case 410: return -ERANGE;
	case 413: return -EMSGSIZE;
	case 429: return -EAGAIN;
	}
	return code >= 500 ? -EIO : -EPROTO;
}

static void set_msg(struct brk_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_msg(struct brk_status *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
}

/* Copies at most dstlen-1 bytes, replacing control characters: the text came off the
 * wire and goes to a terminal. */
static void copy_clean(char *dst, size_t dstlen, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < dstlen; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
	dst[i] = '\0';
}

void brk_status_parse(const char *body, size_t len, struct brk_status *st)
{
	cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(root, "reason");

	st->reason[0] = '\0';
	if (cJSON_IsString(reason))
		copy_clean(st->reason, sizeof(st->reason), reason->valuestring);
	if (cJSON_IsString(msg) && msg->valuestring[0])
		copy_clean(st->message, sizeof(st->message), msg->valuestring);
	else
		set_msg(st, "HTTP %ld%s%s", st->code,
			 st->reason[0] ? " " : "", st->reason);
	cJSON_Delete(root);
}

/* ---- one transfer ---- */

struct xfer {
	struct brk_req *r;
	CURL *h;
	long code;
	char *buf;
	size_t len, cap;
	bool too_big;
	char *line;
	size_t line_len, line_cap;
	bool discarding;
};

static int buf_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n, size_t max)
{
	if (*len + n > max)
		return -EMSGSIZE;
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		char *nb;

		while (nc < *len + n + 1)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int feed_lines(struct xfer *x, const char *p, size_t n)
{
	struct brk_req *r = x->r;

	r->streamed = true;
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t chunk = nl ? (size_t)(nl - p) : n;
		int ret;

		if (!x->discarding &&
		    buf_append(&x->line, &x->line_len, &x->line_cap, p, chunk, BRK_MAX_WATCH_LINE))
			x->discarding = true;	/* too long (or no memory): drop to the newline */
		if (!nl)
			return 0;
		if (x->discarding) {
			ret = r->on_line(r->arg, NULL, 0);
		} else {
			if (x->line_len && x->line[x->line_len - 1] == '\r')
				x->line[--x->line_len] = '\0';
			ret = x->line_len ? r->on_line(r->arg, x->line, x->line_len) : 0;
		}
		x->line_len = 0;
		x->discarding = false;
		if (ret < 0) {
			r->line_err = ret;
			return ret;
		}
		p += chunk + 1;
		n -= chunk + 1;
	}
	return 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (x->r->on_line) {
		if (!x->code)
			curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
		if (x->code == 200)
			return feed_lines(x, p, n) ? 0 : n;
	}
	if (buf_append(&x->buf, &x->len, &x->cap, p, n, BRK_MAX_RESPONSE)) {
		x->too_big = true;
		return 0;
	}
	return n;
}

/* Marks a watch as established once its 200 headers are complete, so that a stream that
 * later goes silent is resumed rather than treated as an unreachable broker. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	long code = 0;

	if (x->r->on_line && n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200)
			x->r->streamed = true;
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;

	return x->r->stop && atomic_load(x->r->stop) ? 1 : 0;
}

enum { RANK_NONE, RANK_CONN, RANK_5XX, RANK_TLS };

/* One attempt against one URL. Sets *rank when the next URL should be tried. */
/* Authorization (the token, wiped after use), Accept and Content-Type. NULL: no memory. */
static struct curl_slist *request_headers(const struct brk_client *c, const struct brk_req *r)
{
	struct curl_slist *hdrs = NULL;
	char *auth = NULL;

	if (asprintf(&auth, "Authorization: Bearer %s", c->token) < 0)
		return NULL;
	hdrs = curl_slist_append(hdrs, auth);
	util_free_secret(auth);
	hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (hdrs && r->body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	return hdrs;
}

static void free_headers(struct curl_slist *hdrs)
{
	for (struct curl_slist *s = hdrs; s; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(hdrs);
}

static void setup_handle(const struct brk_client *c, CURL *h, const char *url,
			 const struct brk_req *r, struct curl_slist *hdrs, struct xfer *x,
			 char *errbuf)
{
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* the broker CA and nothing else */
	curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_path);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "subagent/0.1");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	if (r->watch) {
		/* a live watch gets a BOOKMARK at least every 10 s: silence means dead */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->watch_idle_s);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->request_ms);
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BRK_MAX_RESPONSE);
	}
	if (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(r->body ? r->body_len : 0));
	}
	if (strcmp(r->method, "GET") && strcmp(r->method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
}

/* The handle no longer points at this attempt's buffers. */
static void release_handle(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
}

/* A transfer that did not complete: what happened, as -errno, *rank and st's message. */
static int transfer_error(const struct brk_client *c, const char *base, CURLcode rc,
			  const char *errbuf, const struct brk_req *r, const struct xfer *x,
			  struct brk_status *st, int *rank)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		*rank = RANK_TLS;
		st->code = 0;
		set_msg(st, "the TLS certificate of %.200s is not trusted: it does not chain to %.100s or does not name the host (%.150s)",
			base, c->ca_label ? c->ca_label : c->ca_path, why);
		return -EKEYREJECTED;
	case CURLE_ABORTED_BY_CALLBACK:
		set_msg(st, "request to %.200s cancelled", base);
		return -ECANCELED;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (r->line_err) {
			set_msg(st, "watch on %.200s ended: %s", base, strerror(-r->line_err));
			return r->line_err;
		}
		if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
			set_msg(st, "the response of %.200s is larger than %d bytes", base,
				BRK_MAX_RESPONSE);
			return -EMSGSIZE;
		}
		/* fall through */
	default:
		if (r->streamed) {
			/* an established watch ended (idle timeout, reset): not a failover case */
			set_msg(st, "watch on %.200s ended: %.200s", base, why);
			return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNRESET;
		}
		*rank = RANK_CONN;
		st->code = 0;
		set_msg(st, "cannot reach the broker at %.200s: %.250s", base, why);
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT :
		       rc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH : -ECONNREFUSED;
	}
}

static int attempt(struct brk_client *c, CURL *h, const char *base, struct brk_req *r,
		   struct brk_status *st, int *rank)
{
	char url[BRK_URL_MAX + 1024], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs;
	struct xfer x = { .r = r, .h = h };
	CURLcode rc;
	int ret;

	*rank = RANK_NONE;
	memset(st, 0, sizeof(*st));
	copy_clean(st->url, sizeof(st->url), base);
	if (snprintf(url, sizeof(url), "%s%s", base, r->path) >= (int)sizeof(url))
		return -ENAMETOOLONG;
	hdrs = request_headers(c, r);
	if (!hdrs)
		return -ENOMEM;
	setup_handle(c, h, url, r, hdrs, &x, errbuf);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st->code);
	if (st->code == 429) {
		curl_off_t ra = 0;

		if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			st->retry_after_s = ra > 3600 ? 3600 : (unsigned)ra;
	}
	free_headers(hdrs);
	release_handle(h);

	if (rc != CURLE_OK) {
		ret = transfer_error(c, base, rc, errbuf, r, &x, st, rank);
	} else if (r->on_line && r->streamed) {
		/* the server closed a watch cleanly */
		set_msg(st, "watch on %.200s closed by the broker", base);
		ret = 0;
	} else if ((ret = brk_http_errno(st->code, NULL))) {
		brk_status_parse(x.buf, x.len, st);
		ret = brk_http_errno(st->code, st->reason);
		if (st->code >= 500)
			*rank = RANK_5XX;
	} else {
		set_msg(st, "HTTP %ld", st->code);
		r->resp = x.buf ? x.buf : strdup("");
		r->resp_len = x.len;
		x.buf = NULL;
		ret = r->resp ? 0 : -ENOMEM;
	}
	free(x.buf);
	free(x.line);
	return ret;
}

int brk_do_request(struct brk_client *c, CURL *h, struct brk_req *r, struct brk_status *st)
{
	struct brk_status cur, best;
	size_t start = atomic_load(&c->preferred) % c->n_urls;
	int ret = -ECONNREFUSED, best_ret = 0, best_rank = -1, rank;
	bool shared = !h;

	if (r->body_len > BRK_MAX_RESPONSE) {
		memset(st, 0, sizeof(*st));
		set_msg(st, "request body larger than %d bytes",
			 BRK_MAX_RESPONSE);
		return -EMSGSIZE;
	}
	if (shared) {
		pthread_mutex_lock(&c->lock);
		h = c->h;
	}
	memset(&best, 0, sizeof(best));
	for (size_t i = 0; i < c->n_urls; i++) {
		size_t idx = (start + i) % c->n_urls;

		ret = attempt(c, h, c->urls[idx], r, &cur, &rank);
		if (rank == RANK_NONE) {
			if (ret != -ECANCELED)
				atomic_store(&c->preferred, idx);
			*st = cur;
			goto out;
		}
		pr_debug("broker %s: %s; trying the next URL\n", c->urls[idx], cur.message);
		if (rank >= best_rank) {
			best_rank = rank;
			best_ret = ret;
			best = cur;
		}
		if (r->stop && atomic_load(r->stop))
			break;
	}
	/* every URL failed: report the most telling failure (TLS > 5xx > connection) */
	*st = best;
	ret = best_ret;
out:
	if (shared)
		pthread_mutex_unlock(&c->lock);
	return ret;
}

/* ---- the verbs ---- */

static int build_path(char *out, size_t len, const char *resource, const char *name,
		      struct brk_status *st)
{
	if (!resource || !brk_resource_ok(resource) || (name && !name_is_dns_subdomain(name))) {
		set_msg(st, "invalid resource or object name");
		return -EINVAL;
	}
	if (snprintf(out, len, BRK_API_PREFIX "/%s%s%s", resource, name ? "/" : "",
		     name ? name : "") >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int do_json(struct brk_client *c, const char *method, const char *path,
		   const cJSON *body, cJSON **out, struct brk_status *st)
{
	struct brk_req r = { .method = method, .path = path };
	char *json = NULL;
	cJSON *res;
	int ret;

	if (out)
		*out = NULL;
	if (body) {
		json = cJSON_PrintUnformatted(body);
		if (!json)
			return -ENOMEM;
		r.body = json;
		r.body_len = strlen(json);
	}
	ret = brk_do_request(c, NULL, &r, st);
	free(json);
	if (ret)
		return ret;
	res = cJSON_ParseWithLength(r.resp, r.resp_len);
	free(r.resp);
	if (!res) {
		set_msg(st, "the broker at %.200s answered with something that is not JSON",
			 st->url);
		return -EBADMSG;
	}
	if (out)
		*out = res;
	else
		cJSON_Delete(res);
	return 0;
}

#define ST(st) struct brk_status _st_local, *st_ = (st) ? (st) : &_st_local

/* One request on a collection (name NULL) or an object. */
static int request(struct brk_client *c, const char *method, const char *resource,
		   const char *name, const cJSON *obj, cJSON **out, struct brk_status *st)
{
	char path[512];
	ST(st);
	int ret;

	memset(st_, 0, sizeof(*st_));
	ret = build_path(path, sizeof(path), resource, name, st_);
	return ret ? ret : do_json(c, method, path, obj, out, st_);
}

int brk_get(struct brk_client *c, const char *resource, const char *name, cJSON **out,
	    struct brk_status *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (!name)
		return -EINVAL;
	return request(c, "GET", resource, name, NULL, out, st);
}

int brk_list(struct brk_client *c, const char *resource, cJSON **out, struct brk_status *st)
{
	ST(st);
	cJSON *list = NULL;
	int ret;

	memset(st_, 0, sizeof(*st_));
	if (out)
		*out = NULL;
	if (!resource || !brk_resource_ok(resource))
		return -EINVAL;
	ret = brk_list_all(c, NULL, NULL, resource, &list, st_);
	if (out)
		*out = list;
	else
		cJSON_Delete(list);
	return ret;
}

int brk_create(struct brk_client *c, const char *resource, const cJSON *obj, cJSON **out,
	       struct brk_status *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (!obj)
		return -EINVAL;
	return request(c, "POST", resource, NULL, obj, out, st);
}

int brk_update(struct brk_client *c, const char *resource, const char *name, const cJSON *obj,
	       cJSON **out, struct brk_status *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (!name || !obj)
		return -EINVAL;
	return request(c, "PUT", resource, name, obj, out, st);
}

int brk_delete(struct brk_client *c, const char *resource, const char *name, cJSON **out,
	       struct brk_status *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (!name)
		return -EINVAL;
	return request(c, "DELETE", resource, name, NULL, out, st);
}

int brk_whoami(struct brk_client *c, cJSON **out, struct brk_status *st)
{
	ST(st);

	memset(st_, 0, sizeof(*st_));
	return do_json(c, "GET", BRK_API_PREFIX "/whoami", NULL, out, st_);
}

/* ---- objects and watch events ---- */

static const cJSON *meta_str(const cJSON *obj, const char *key)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);

	return cJSON_IsString(v) ? v : NULL;
}

const char *brk_obj_name(const cJSON *obj)
{
	const cJSON *v = meta_str(obj, "name");

	return v ? v->valuestring : NULL;
}

const char *brk_obj_rv(const cJSON *obj)
{
	const cJSON *v = meta_str(obj, "resourceVersion");

	return v ? v->valuestring : NULL;
}

int brk_rv_parse(const char *s, uint64_t *out)
{
	return util_parse_u64(s, UINT64_MAX, out);
}

int brk_watch_event_parse(const char *line, size_t len, struct brk_watch_event *ev,
			  char err[BRK_ERR_MAX])
{
	static const char *const types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	const cJSON *type, *code;
	cJSON *root, *obj;
	size_t t;

	memset(ev, 0, sizeof(*ev));
	if (len > BRK_MAX_WATCH_LINE)
		return util_einval(err, JSON_ERR_MAX, "watch line longer than %d bytes", BRK_MAX_WATCH_LINE);
	root = cJSON_ParseWithLength(line, len);
	if (!root)
		return util_einval(err, JSON_ERR_MAX, "watch line is not JSON");
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	obj = cJSON_GetObjectItemCaseSensitive(root, "object");
	if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
		cJSON_Delete(root);
		return util_einval(err, JSON_ERR_MAX, "watch event without a \"type\" string and an \"object\"");
	}
	for (t = 0; t < ARRAY_SIZE(types); t++)
		if (!strcmp(type->valuestring, types[t]))
			break;
	if (t == ARRAY_SIZE(types)) {
		util_einval(err, JSON_ERR_MAX, "unknown watch event type \"%.32s\"", type->valuestring);
		cJSON_Delete(root);
		return -EINVAL;
	}
	ev->type = (enum brk_event_type)t;
	cJSON_DetachItemViaPointer(root, obj);
	cJSON_Delete(root);
	ev->object = obj;
	if (ev->type == BRK_EV_ERROR) {
		code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		ev->error_code = cJSON_IsNumber(code) && code->valuedouble >= 0 &&
				 code->valuedouble < 1000 ? (long)code->valuedouble : 0;
		return 0;
	}
	if (brk_rv_parse(brk_obj_rv(obj), &ev->rv)) {
		util_einval(err, JSON_ERR_MAX, "watch event without a valid metadata.resourceVersion");
		goto bad;
	}
	if (ev->type != BRK_EV_BOOKMARK) {
		ev->name = brk_obj_name(obj);
		if (!ev->name || !name_is_dns_subdomain(ev->name)) {
			util_einval(err, JSON_ERR_MAX, "watch event without a valid metadata.name");
			goto bad;
		}
	}
	return 0;
bad:
	cJSON_Delete(obj);
	memset(ev, 0, sizeof(*ev));
	return -EINVAL;
}
