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

#include "broker/creds/pki.h"
#include "broker/server/api_cert.h"
#include "broker/server/metrics.h"
#include "broker/server/objects.h"
#include "broker/server/svc_import.h"
#include "broker/server/watch.h"
#include "broker/store/store.h"
#include "common/log.h"
#include "common/util.h"

#define SVC_RESYNC_S 30	/* ServiceImports recomputed from the exports this often */

/* ---- configuration ---- */

static int json_uint(const cJSON *o, const char *f, unsigned lo, unsigned hi, unsigned *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) {
		pr_err("load config: \"%s\" must be a number in %u..%u\n", f, lo, hi);
		return -EINVAL;
	}
	*out = (unsigned)v->valuedouble;
	return 0;
}

void srv_config_free(struct srv_config *cfg)
{
	free(cfg->dir);
	free(cfg->listen);
	free(cfg->metrics_listen);
	free(cfg->store);
	memset(cfg, 0, sizeof(*cfg));
}

int srv_config_load(const char *dir, struct srv_config *cfg)
{
	char path[PATH_MAX], *buf;
	const cJSON *gn, *v;
	cJSON *root;
	int err = -EINVAL;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	buf = util_read_file(path, 1 << 20, NULL);
	if (!buf) {
		err = -errno;
		pr_err("read %s: %s\n", path, strerror(errno));
		return err;
	}
	root = cJSON_Parse(buf);
	free(buf);
	if (!cJSON_IsObject(root)) {
		pr_err("load %s: not a JSON object\n", path);
		goto out;
	}
	cfg->dir = strdup(dir);
	v = cJSON_GetObjectItemCaseSensitive(root, "listen");
	cfg->listen = strdup(cJSON_IsString(v) ? v->valuestring : "0.0.0.0:8443");
	v = cJSON_GetObjectItemCaseSensitive(root, "metricsListen");
	if (cJSON_IsString(v) && !(cfg->metrics_listen = strdup(v->valuestring))) {
		err = -ENOMEM;
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "store");
	cfg->store = strdup(cJSON_IsString(v) ? v->valuestring : "sqlite");
	if (!cfg->dir || !cfg->listen || !cfg->store) {
		err = -ENOMEM;
		goto out;
	}
	cfg->threads = 4;
	cfg->bookmark_ms = 5000;
	cfg->history_limit = 10000;
	if (json_uint(root, "threads", 1, 64, &cfg->threads) ||
	    json_uint(root, "bookmarkIntervalMs", 100, 10000, &cfg->bookmark_ms) ||
	    json_uint(root, "historyLimit", 1, 10000000, &cfg->history_limit) ||
	    json_uint(root, "ikeCertificateSeconds", 60, PKI_IKE_MAX_S, &cfg->ike_cert_s))
		goto out;
	cfg->gn_range = (struct cidr4){ .addr = 242u << 24, .len = 8 };
	cfg->gn_prefix = 16;
	gn = cJSON_GetObjectItemCaseSensitive(root, "globalnet");
	if (cJSON_IsObject(gn)) {
		unsigned size = 65536;

		cfg->gn_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(gn, "enabled"));
		v = cJSON_GetObjectItemCaseSensitive(gn, "cidrRange");
		if (v && (!cJSON_IsString(v) || cidr4_parse(v->valuestring, &cfg->gn_range))) {
			pr_err("load config: globalnet.cidrRange is not an IPv4 CIDR\n");
			goto out;
		}
		if (json_uint(gn, "clusterSize", 1, 1u << 31, &size))
			goto out;
		if (size & (size - 1)) {
			pr_err("load config: globalnet.clusterSize %u is not a power of two\n", size);
			goto out;
		}
		cfg->gn_prefix = (uint8_t)(32 - __builtin_ctz(size));
		if (cfg->gn_prefix < cfg->gn_range.len) {
			pr_err("load config: globalnet.clusterSize is larger than cidrRange\n");
			goto out;
		}
	}
	err = 0;
out:
	cJSON_Delete(root);
	if (err)
		srv_config_free(cfg);
	return err;
}

/* ---- HTTP glue ---- */

struct conn_req {
	char *body;
	size_t len, cap;
	bool too_large;
};

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (!strcmp(host, "") || !strcmp(host, "*"))
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

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
	ret = MHD_queue_response(c, (unsigned)rp->code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct srv_server *srv = cls;
	struct conn_req *cr = *con_cls;
	struct srv_request rq = { 0 };
	struct srv_reply rp = { 0 };
	char addr[INET6_ADDRSTRLEN];
	uint64_t t0;

	if (!cr) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");

		cr = calloc(1, sizeof(*cr));
		if (!cr)
			return MHD_NO;
		*con_cls = cr;
		if (cl && strtoull(cl, NULL, 10) > SRV_BODY_MAX) {
			/* Answer before reading the body (MHD then closes the connection). */
			cJSON *st = srv_status(413, NULL, "request body larger than %d bytes", SRV_BODY_MAX);

			rp.code = 413;
			rp.json = st;
			cr->too_large = true;
			return send_reply(c, &rp);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (cr->too_large)
			return MHD_YES;
		if (cr->len + n > SRV_BODY_MAX) {
			cr->too_large = true;
			free(cr->body);
			cr->body = NULL;
			cr->len = cr->cap = 0;
			return MHD_YES;
		}
		if (cr->len + n > cr->cap) {
			size_t cap = cr->cap ? cr->cap : 4096;
			char *nb;

			while (cap < cr->len + n)
				cap *= 2;
			nb = realloc(cr->body, cap);
			if (!nb)
				return MHD_NO;
			cr->body = nb;
			cr->cap = cap;
		}
		memcpy(cr->body + cr->len, upload_data, n);
		cr->len += n;
		return MHD_YES;
	}
	remote_addr(c, addr, sizeof(addr));
	rq.method = method;
	rq.path = url;
	rq.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	rq.watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	rq.resource_version = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
	rq.remote_addr = addr;
	rq.body = cr->body;
	rq.body_len = cr->len;
	rq.body_too_large = cr->too_large;
	t0 = util_now_ns();
	srv_api_handle(srv, &rq, &rp);
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
	if (parse_listen(srv.cfg.listen, &sa)) {
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
	srv.store = store_timed(store_open(srv.cfg.store, dir, srv.cfg.history_limit));
	if (!srv.store) {
		err = -errno;
		goto out;
	}
	err = srv.store->ops->revision(srv.store, &head);
	if (err)
		goto out;
	srv.hub = srv_hub_new(srv.store, head,
			      srv.cfg.history_limit < 4096 ? srv.cfg.history_limit : 4096,
			      srv.cfg.bookmark_ms);
	if (!srv.hub) {
		err = -ENOMEM;
		goto out;
	}
	err = srv.store->ops->feed_start(srv.store, head, srv_hub_publish, srv.hub);
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
			     MHD_OPTION_CONNECTION_LIMIT, 8192,
			     MHD_OPTION_CONNECTION_TIMEOUT, 120,
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
	util_free_secret(srv.admin_token);
	util_free_secret(srv.join_token);
	srv_cert_fini(&srv);
	util_free_secret(key);
	free(cert);
	srv_config_free(&srv.cfg);
	return err;
}
