/* The broker daemon: reads its state directory, opens the store, and serves the API over
 * HTTPS with libmicrohttpd + GnuTLS. Plain HTTP is never answered: the listening socket
 * speaks TLS only, so a plain request fails the handshake and gets no data.
 *
 * Threads: MHD runs a pool of `threads` (default 4) epoll loops; request handlers run on
 * them (store calls included: a few ms at most); watch streams suspend their connections
 * between events (see watch.h), so 1000 watchers need no more threads. */
#include "broker/server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/server/api_cert.h"
#include "broker/server/metrics.h"
#include "broker/server/objects.h"
#include "broker/server/page.h"
#include "broker/server/quota.h"
#include "broker/server/svc_import.h"
#include "broker/server/watch.h"
#include "broker/store/store.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/util.h"

#define SVC_RESYNC_S 30	/* ServiceImports recomputed from the exports this often */

/* ---- HTTP glue ---- */

struct conn_req {
	struct srv_ident id;	/* who sent it: decided before the body */
	char *body;
	size_t len, cap;
	bool too_large;
};

static void remote_addr(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	buf[0] = '\0';
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
			  (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
			  (socklen_t)len);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct srv_reply *rp)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rp->watch) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8 * 1024,
							 srv_watcher_read, rp->watch, srv_watcher_free);
		if (!resp) {
			srv_watcher_free(rp->watch);
			return MHD_NO;
		}
		srv_watcher_attach(rp->watch, c);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	} else if (rp->text) {
		resp = MHD_create_response_from_buffer(strlen(rp->text), (void *)rp->text,
						       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Content-Type", "text/plain");
	} else {
		char *s = rp->json ? cJSON_PrintUnformatted(rp->json) : NULL;

		cJSON_Delete(rp->json);
		rp->json = NULL;
		if (!s)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(s);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", "application/json");
	}
	if (rp->retry_after) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", rp->retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	ret = MHD_queue_response(c, (unsigned)rp->code, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The request as api.c sees it (the body comes later). */
static void fill_request(struct MHD_Connection *c, const char *url, const char *method,
			 char *addr, size_t alen, struct srv_request *rq)
{
	remote_addr(c, addr, alen);
	memset(rq, 0, sizeof(*rq));
	rq->method = method;
	rq->path = url;
	rq->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	rq->content_length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	rq->watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	rq->resource_version = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
	rq->limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	rq->cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	rq->remote_addr = addr;
}

/* Appends upload data to the request's body; false when it must be dropped (too large). */
static bool take_body(struct conn_req *cr, const char *data, size_t n, size_t max)
{
	if (cr->too_large)
		return true;
	if (cr->len + n > max) {
		cr->too_large = true;
		free(cr->body);
		cr->body = NULL;
		cr->len = cr->cap = 0;
		return true;
	}
	if (cr->len + n > cr->cap) {
		size_t cap = cr->cap ? cr->cap : 4096;
		char *nb;

		while (cap < cr->len + n)
			cap *= 2;
		nb = realloc(cr->body, cap);
		if (!nb)
			return false;
		cr->body = nb;
		cr->cap = cap;
	}
	memcpy(cr->body + cr->len, data, n);
	cr->len += n;
	return true;
}

/* MHD calls this first with the headers only, then once per piece of the body, then once
 * more. Everything a request can be refused for without its body (the path, the token, the
 * rate, the announced size) is decided at the first call: an answer queued then means the
 * body is never read, so a client without a valid token cannot make the broker buffer
 * anything. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct srv_server *srv = cls;
	struct conn_req *cr = *con_cls;
	struct srv_request rq;
	struct srv_reply rp = { 0 };
	char addr[INET6_ADDRSTRLEN];
	uint64_t t0;

	if (!cr) {
		cr = calloc(1, sizeof(*cr));
		if (!cr)
			return MHD_NO;
		*con_cls = cr;
		fill_request(c, url, method, addr, sizeof(addr), &rq);
		t0 = util_now_ns();
		srv_api_begin(srv, &rq, &rp, &cr->id);
		if (rp.code) {
			srv_metrics_request(&rq, rp.code, util_now_ns() - t0);
			pr_debug("%s %s %s -> %d (before the body)\n", addr, method, url, rp.code);
			return send_reply(c, &rp);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		return take_body(cr, upload_data, n, cr->id.kind == SRV_ID_ADMIN ? SRV_BODY_MAX :
				 srv->cfg.limits.body_bytes) ? MHD_YES : MHD_NO;
	}
	fill_request(c, url, method, addr, sizeof(addr), &rq);
	rq.body = cr->body;
	rq.body_len = cr->len;
	rq.body_too_large = cr->too_large;
	t0 = util_now_ns();
	srv_api_handle(srv, &rq, &cr->id, &rp);
	srv_metrics_request(&rq, rp.code, util_now_ns() - t0);
	pr_debug("%s %s %s -> %d\n", addr, method, url, rp.code);
	return send_reply(c, &rp);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct conn_req *cr = *con_cls;

	if (!cr)
		return;
	free(cr->body);
	free(cr);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* handshake failures (plain HTTP, scanners) are routine: debug level */
	pr_debug("http: %s%s", buf, buf[0] && buf[strlen(buf) - 1] == '\n' ? "" : "\n");
}

/* ---- the daemon ---- */

/* The store's change feed: the quota counts owners, the hub fans out to watch streams. */
static void feed(const struct store_event *ev, void *ctx)
{
	struct srv_server *srv = ctx;

	srv_quota_on_event(srv->quota, ev);
	srv_hub_publish(ev, srv->hub);
}

static char *read_secret(const char *dir, const char *name)
{
	char path[PATH_MAX], *s;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	s = util_read_file(path, 64 * 1024, &n);
	if (!s) {
		pr_err("read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			pr_warn("raise open file limit: %s\n", strerror(errno));
	}
}

int srv_server_run(const char *dir, const char *listen_override,
		   const char *metrics_listen_override)
{
	struct srv_server srv = { 0 };
	struct srv_metrics *metrics = NULL;
	struct srv_svc_sync *sync = NULL;
	struct MHD_Daemon *d = NULL;
	struct sockaddr_in sa;
	char *cert = NULL, *key = NULL;
	sigset_t set;
	uint64_t head = 0;
	int sig, err;

	err = srv_config_load(dir, &srv.cfg);
	if (err)
		return err;
	if (listen_override) {
		free(srv.cfg.listen);
		srv.cfg.listen = strdup(listen_override);
		if (!srv.cfg.listen) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (metrics_listen_override) {
		free(srv.cfg.metrics_listen);
		srv.cfg.metrics_listen = strdup(metrics_listen_override);
		if (!srv.cfg.metrics_listen) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (httpd_parse_listen(srv.cfg.listen, &sa)) {
		pr_err("listen address '%s': want ADDR:PORT\n", srv.cfg.listen);
		err = -EINVAL;
		goto out;
	}
	srv.admin_token = read_secret(dir, "admin.token");
	srv.join_token = read_secret(dir, "join.token");
	cert = read_secret(dir, "tls.pem");
	key = read_secret(dir, "tls-key.pem");
	if (!srv.admin_token || !srv.join_token || !cert || !key) {
		err = -ENOENT;
		goto out;
	}
	if (strlen(srv.admin_token) < 32 || strlen(srv.join_token) < 32) {
		pr_err("load tokens: admin.token and join.token must hold at least 32 characters\n");
		err = -EINVAL;
		goto out;
	}
	/* every replica holds the admin token: any of them verifies any continue token */
	srv_continue_key(srv.admin_token, srv.page_key);
	err = srv_cert_init(&srv, dir);
	if (err)
		goto out;
	/* Signals go to sigwait() below only: block them before any thread starts. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	err = srv_metrics_define();
	if (err)
		goto out;
	srv.store = store_open(srv.cfg.store, dir, srv.cfg.history_limit);
	if (srv.store)
		srv.store->history_bytes = srv.cfg.limits.history_bytes;
	srv.store = store_timed(srv.store);
	if (!srv.store) {
		err = -errno;
		goto out;
	}
	err = srv.store->ops->revision(srv.store, &head);
	if (err)
		goto out;
	srv.hub = srv_hub_new(srv.store, head,
			      srv.cfg.history_limit < 4096 ? srv.cfg.history_limit : 4096,
			      srv.cfg.limits.history_bytes / 4, srv.cfg.bookmark_ms);
	if (!srv.hub) {
		err = -ENOMEM;
		goto out;
	}
	srv.quota = srv_quota_new(&srv.cfg.limits);
	if (!srv.quota) {
		err = -ENOMEM;
		goto out;
	}
	err = srv_quota_load(srv.quota, srv.store);
	if (err)
		goto out;
	err = srv.store->ops->feed_start(srv.store, head, feed, &srv);
	if (err)
		goto out;
	/* ServiceImports are derived: repaired at start and now and then (svc_import.h) */
	sync = srv_svc_sync_start(&srv, SVC_RESYNC_S);
	if (!sync) {
		err = -errno;
		goto out;
	}
	metrics = srv_metrics_start(&srv, srv.cfg.metrics_listen);
	if (!metrics) {
		err = -errno;
		goto out;
	}

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
			     0, NULL, NULL, handle, &srv,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_HTTPS_MEM_CERT, cert,
			     MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
			     MHD_OPTION_THREAD_POOL_SIZE, srv.cfg.threads,
			     MHD_OPTION_CONNECTION_LIMIT, srv.cfg.limits.max_conns,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv.cfg.limits.conns_per_addr,
			     MHD_OPTION_CONNECTION_TIMEOUT, srv.cfg.limits.conn_timeout_s,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_END);
	if (!d) {
		pr_err("start HTTPS server on %s: failed (address in use, or bad certificate/key)\n",
		       srv.cfg.listen);
		err = -EADDRNOTAVAIL;
		goto out;
	}
	pr_info("broker serving https://%s (store %s, %u threads)\n", srv.cfg.listen,
		srv.store->ops->name, srv.cfg.threads);
	for (;;) {
		if (sigwait(&set, &sig) == 0 && (sig == SIGTERM || sig == SIGINT))
			break;
	}
	pr_info("broker stopping (signal %d)\n", sig);
	err = 0;
out:
	srv_metrics_stop(metrics);	/* its collector reads the store and the hub */
	/* End every watch stream first: MHD must not stop with suspended connections. */
	if (d)
		MHD_quiesce_daemon(d);
	srv_svc_sync_stop(sync);
	srv_hub_shutdown(srv.hub);
	if (d) {
		uint64_t deadline = util_now_ns() + 3000000000ull;

		while (srv_hub_watchers(srv.hub) && util_now_ns() < deadline)
			usleep(10000);
		MHD_stop_daemon(d);
	}
	store_close(srv.store);	/* stops the feed before the hub goes */
	srv_hub_free(srv.hub);
	srv_quota_free(srv.quota);
	explicit_bzero(srv.page_key, sizeof(srv.page_key));
	util_free_secret(srv.admin_token);
	util_free_secret(srv.join_token);
	srv_cert_fini(&srv);
	util_free_secret(key);
	free(cert);
	srv_config_free(&srv.cfg);
	return err;
}
