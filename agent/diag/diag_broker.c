/* Diagnose: the broker as this node sees it. For every broker URL: a TCP connection, a
 * TLS handshake checked against the cluster's CA (expired, not yet valid, wrong CA, wrong
 * name, each said as such), /healthz, and the clock skew between this node and the broker
 * (from the Date header; certificates and IKE credentials are short-lived). Then this
 * cluster's credential: the broker must accept its token and know the cluster, and the
 * CA in the configuration must still be valid. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "agent/diag/diag_broker.h"
#include "agent/diag/diag_int.h"
#include "broker/client/client.h"
#include "common/json.h"
#include "common/util.h"

#define SKEW_WARN_S	5
#define SKEW_FAIL_S	60
#define HEAD_MAX	8192

int diag_http_head(const char *buf, size_t len, int *code, time_t *date)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *p = buf, *eol;
	char line[256];

	*code = 0;
	*date = 0;
	if (!end || len < 12 || strncmp(buf, "HTTP/1.", 7) || buf[8] != ' ')
		return -EBADMSG;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
		*code = *code * 10 + (buf[i] - '0');
	}
	for (; p < end; p = eol + 2) {
		size_t n;

		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (!eol)
			break;
		n = (size_t)(eol - p);
		if (n < 5 || n >= sizeof(line) || strncasecmp(p, "Date:", 5))
			continue;
		memcpy(line, p + 5, n - 5);
		line[n - 5] = '\0';
		*date = curl_getdate(line, NULL);
		if (*date < 0)
			*date = 0;
	}
	return 0;
}

/* "https://host:port/..." into host and port. */
static int split_url(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *h = url + 8, *colon, *slash;

	if (strncmp(url, "https://", 8))
		return -EINVAL;
	slash = strchr(h, '/');
	if (!slash)
		slash = h + strlen(h);
	colon = memchr(h, ':', (size_t)(slash - h));
	if (!colon)
		colon = slash;
	if ((size_t)(colon - h) >= hlen || colon == h)
		return -EINVAL;
	snprintf(host, hlen, "%.*s", (int)(colon - h), h);
	snprintf(port, plen, "%.*s", colon < slash ? (int)(slash - colon - 1) : 3,
		 colon < slash ? colon + 1 : "443");
	return 0;
}

static int tcp_connect(const char *host, const char *port, int timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct pollfd p;
	int fd, err = 0;
	socklen_t el = sizeof(err);

	if (getaddrinfo(host, port, &hints, &ai) || !ai)
		return -EHOSTUNREACH;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)) {
		err = -errno;
		goto fail;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) != 1) {
		err = -ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
		err = -(err ? err : errno);
		goto fail;
	}
	freeaddrinfo(ai);
	fcntl(fd, F_SETFL, 0);	/* blocking, with the TLS layer's own timeout */
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

static void fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

/* What a verification status means for an operator. */
static const char *cert_problem(unsigned st, const char **hint)
{
	if (st & GNUTLS_CERT_EXPIRED) {
		*hint = "the broker's certificate expired: its operator re-issues it from the broker's "
			"CA (tls.pem) and restarts the broker; if it looks valid there, this node's clock "
			"is ahead";
		return "the broker's certificate has expired";
	}
	if (st & GNUTLS_CERT_NOT_ACTIVATED) {
		*hint = "this node's clock is behind (or the broker's certificate was made in the future): "
			"fix the time (NTP)";
		return "the broker's certificate is not valid yet";
	}
	if (st & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA)) {
		*hint = "this broker is not the one the cluster joined (or it was deployed again): "
			"check the URL, or join again with the new broker-info.subm";
		return "the broker's certificate is not signed by the cluster's CA (ca.pem)";
	}
	if (st & GNUTLS_CERT_UNEXPECTED_OWNER) {
		*hint = "the certificate does not name this URL's host: use a URL that deploy-broker "
			"put in the certificate (--url)";
		return "the broker's certificate is for another name";
	}
	*hint = "see the broker's log";
	return "the broker's certificate does not verify";
}

static void probe_url(struct diag_ctx *c, const char *url)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	char host[256], port[8], req[400], head[HEAD_MAX + 1], when[40];
	const char *hint = NULL, *problem;
	unsigned status = 0, n;
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt = NULL;
	time_t not_after = 0, date = 0, t0, t1;
	size_t got = 0;
	int fd, rc, code = 0;

	if (split_url(url, host, sizeof(host), port, sizeof(port))) {
		diag_add(c, "broker", url, DIAG_FAIL, "fix brokerURLs in cluster.json", "not an https URL");
		return;
	}
	fd = tcp_connect(host, port, c->timeout_ms * 2);
	if (fd < 0) {
		/* a plain node needs the broker only for show, verify and this */
		diag_add(c, "broker", url, strcmp(c->role, "node") ? DIAG_FAIL : DIAG_WARN,
			 "the broker is down or unreachable from this node: check that it runs, the "
			 "route to it and firewalls on its TCP port (gateway-capable nodes need it; "
			 "plain nodes only for show and verify)",
			 "no TCP connection to %s:%s: %s", host, port, strerror(-fd));
		return;
	}
	if (gnutls_certificate_allocate_credentials(&cred) ||
	    gnutls_certificate_set_x509_trust_file(cred, c->cfg.ca_path, GNUTLS_X509_FMT_PEM) <= 0 ||
	    gnutls_init(&s, GNUTLS_CLIENT) || gnutls_set_default_priority(s) ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred)) {
		diag_add(c, "broker", url, DIAG_FAIL, "check ca.pem in the configuration directory",
			 "cannot set up TLS with the cluster's CA");
		goto out;
	}
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, (unsigned)c->timeout_ms * 2);
	do {
		rc = gnutls_handshake(s);
	} while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		diag_add(c, "broker", url, DIAG_FAIL, "is something else listening on this port?",
			 "TLS handshake failed: %s", gnutls_strerror(rc));
		goto out;
	}
	certs = gnutls_certificate_get_peers(s, &n);
	if (certs && n && !gnutls_x509_crt_init(&crt) &&
	    !gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER))
		not_after = gnutls_x509_crt_get_expiration_time(crt);
	rc = gnutls_certificate_verify_peers3(s, host, &status);
	if (rc || status) {
		problem = cert_problem(rc ? GNUTLS_CERT_INVALID : status, &hint);
		fmt_time(not_after, when, sizeof(when));
		diag_add(c, "broker", url, DIAG_FAIL, hint, "%s (valid until %s)", problem, when);
	}
	snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
	t0 = time(NULL);
	if (gnutls_record_send(s, req, strlen(req)) < 0)
		goto out;
	while (got < HEAD_MAX) {
		ssize_t r = gnutls_record_recv(s, head + got, HEAD_MAX - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	t1 = time(NULL);
	head[got] = '\0';
	if (diag_http_head(head, got, &code, &date) || code != 200) {
		if (!status)
			diag_add(c, "broker", url, DIAG_FAIL, "see the broker's log", "/healthz answered %d", code);
		goto out;
	}
	if (!status) {
		c->broker_ok = true;
		fmt_time(not_after, when, sizeof(when));
		diag_add(c, "broker", url, DIAG_PASS, NULL,
			 "TLS with the cluster's CA, certificate valid until %s; /healthz 200", when);
	}
	if (date) {
		/* the Date header has one-second resolution: the skew is known to about 1 s */
		long skew = (long)(date - (t0 + t1) / 2);
		long a = skew < 0 ? -skew : skew;

		diag_add(c, "clock", url, a > SKEW_FAIL_S ? DIAG_FAIL : a > SKEW_WARN_S ? DIAG_WARN : DIAG_PASS,
			 "synchronise the clocks (NTP): certificates and the IKE credentials are checked "
			 "against them", "this node is %ld s %s the broker", a,
			 skew > 0 ? "behind" : "ahead of");
	}
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (s) {
		gnutls_bye(s, GNUTLS_SHUT_WR);
		gnutls_deinit(s);
	}
	if (cred)
		gnutls_certificate_free_credentials(cred);
	close(fd);
}

/* The CA in the configuration: its validity. */
static void check_ca(struct diag_ctx *c)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)c->cfg.ca_pem, (unsigned)strlen(c->cfg.ca_pem) };
	time_t end, now = time(NULL);
	char when[40];

	if (gnutls_x509_crt_init(&crt))
		return;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) {
		diag_add(c, "credentials", "ca.pem", DIAG_FAIL, "join again", "ca.pem does not parse");
	} else {
		end = gnutls_x509_crt_get_expiration_time(crt);
		fmt_time(end, when, sizeof(when));
		diag_add(c, "credentials", "ca.pem", end < now ? DIAG_FAIL : end - now < 30 * 86400 ?
			 DIAG_WARN : DIAG_PASS, "the broker's CA must be renewed (deploy-broker) and every "
			 "cluster joined again", "the broker's CA is valid until %s", when);
	}
	gnutls_x509_crt_deinit(crt);
}

void diag_check_broker(struct diag_ctx *c)
{
	struct brk_status st;
	cJSON *who = NULL;
	int rc;

	for (size_t i = 0; i < c->cfg.n_broker_urls; i++)
		probe_url(c, c->cfg.broker_urls[i]);
	check_ca(c);
	if (!c->broker_ok) {
		diag_add(c, "credentials", "token", DIAG_SKIP, NULL, "no broker answered");
		return;
	}
	rc = brk_whoami(c->brk, &who, &st);
	if (rc == -EACCES)
		diag_add(c, "credentials", "token", DIAG_FAIL,
			 "the cluster was removed from the broker (leave, or deleted by its operator) or "
			 "the token file is not this cluster's: join again",
			 "the broker refuses this cluster's token (%ld)", st.code);
	else if (rc)
		diag_add(c, "credentials", "token", DIAG_FAIL, "see the broker's log", "whoami: %s",
			 st.message);
	else if (strncmp(json_str(who, "identity", ""), "cluster:", 8) ||
		 strcmp(json_str(who, "identity", "") + 8, c->cfg.cluster_id))
		diag_add(c, "credentials", "token", DIAG_FAIL,
			 "the token file belongs to another identity: join again",
			 "the broker knows this token as %s, not cluster:%s",
			 json_str(who, "identity", "?"), c->cfg.cluster_id);
	else if ((rc = brk_get(c->brk, "clusters", c->cfg.cluster_id, NULL, &st)))
		diag_add(c, "credentials", "token", DIAG_FAIL, "join again",
			 "cluster %s: %s", c->cfg.cluster_id, st.message);
	else
		diag_add(c, "credentials", "token", DIAG_PASS, NULL,
			 "the broker accepts the token of cluster %s (it sees this node as %s)",
			 c->cfg.cluster_id, json_str(who, "remoteAddr", "?"));
	cJSON_Delete(who);
}
