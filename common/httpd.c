/* Plain-HTTP monitoring endpoint over libmicrohttpd (see httpd.h). */
#include "common/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"

/* A scraper, a probe and a person with curl: a handful of connections is plenty, and a
 * flood from one address cannot starve the rest. */
#define CONN_LIMIT	32
#define PER_IP_LIMIT	8
#define TIMEOUT_S	10

struct httpd {
	struct MHD_Daemon *d;
	httpd_handler fn;
	void *ctx;
	uint16_t port;
};

int httpd_parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = s ? strrchr(s, ':') : NULL;
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || !colon[1])
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || errno || port < 0 || port > 65535)
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

void httpd_reply_text(struct httpd_reply *r, int code, const char *text)
{
	r->code = code;
	r->content_type = "text/plain; charset=utf-8";
	r->body = strdup(text);
	r->len = r->body ? strlen(r->body) : 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	static int first;
	struct httpd *h = cls;
	struct httpd_reply r = { 0 };
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		httpd_reply_text(&r, 405, "only GET and HEAD\n");
	} else if (!*con_cls) {
		/* first call: headers only; the answer comes on the next one */
		*con_cls = &first;
		return MHD_YES;
	} else if (*upload_data_size) {
		*upload_data_size = 0;	/* a body on a GET: ignored */
		return MHD_YES;
	} else {
		h->fn(h->ctx, url, &r);
		if (!r.code)
			httpd_reply_text(&r, 404, "not found\n");
	}
	resp = MHD_create_response_from_buffer(r.len, r.body ? r.body : (void *)"",
					       r.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				r.content_type ? r.content_type : "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, (unsigned)r.code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_debug("metrics http: %s%s", buf, buf[0] && buf[strlen(buf) - 1] == '\n' ? "" : "\n");
}

struct httpd *httpd_start(const char *listen, httpd_handler fn, void *ctx)
{
	struct httpd *h;
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *di;

	if (httpd_parse_listen(listen, &sa)) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->fn = fn;
	h->ctx = ctx;
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				MHD_USE_ERROR_LOG,
				0, NULL, NULL, handle, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, PER_IP_LIMIT,
				MHD_OPTION_CONNECTION_TIMEOUT, TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
				MHD_OPTION_END);
	if (!h->d) {
		free(h);
		errno = EADDRINUSE;
		return NULL;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : ntohs(sa.sin_port);
	return h;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}

uint16_t httpd_port(const struct httpd *h)
{
	return h->port;
}
