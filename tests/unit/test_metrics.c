/* Unit tests for common/metrics.c (the registry and the text format) and common/httpd.c
 * (the plain-HTTP endpoint, over a real loopback socket). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/httpd.h"
#include "common/metrics.h"
#include "tests/unit/harness.h"

static char *render(void)
{
	size_t len = 0;
	char *s = metrics_render(&len);

	if (s && strlen(s) != len) {
		free(s);
		return NULL;
	}
	return s;
}

static void test_text_format(void)
{
	static const double b[] = { 0.001, 0.01, 0.1 };
	char *s;

	metrics_reset();
	REQUIRE(!metrics_define("t_requests_total", METRICS_COUNTER, "Requests", "verb,code"));
	REQUIRE(!metrics_define("t_up", METRICS_GAUGE, "Up \\ or not", NULL));
	REQUIRE(!metrics_define_histogram("t_latency_seconds", "Latency", "op", b, 3));
	metrics_inc("t_requests_total", "GET", "200");
	metrics_add("t_requests_total", 2, "GET", "200");
	metrics_inc("t_requests_total", "PUT", "409");
	metrics_observe("t_latency_seconds", 0.005, "get");
	metrics_observe("t_latency_seconds", 0.0005, "get");
	metrics_observe("t_latency_seconds", 7, "get");
	s = render();
	REQUIRE(s);
	CHECK_STR(s,
		"# HELP t_requests_total Requests\n"
		"# TYPE t_requests_total counter\n"
		"t_requests_total{verb=\"GET\",code=\"200\"} 3\n"
		"t_requests_total{verb=\"PUT\",code=\"409\"} 1\n"
		"# HELP t_up Up \\\\ or not\n"
		"# TYPE t_up gauge\n"
		"t_up 0\n"
		"# HELP t_latency_seconds Latency\n"
		"# TYPE t_latency_seconds histogram\n"
		"t_latency_seconds_bucket{op=\"get\",le=\"0.001\"} 1\n"
		"t_latency_seconds_bucket{op=\"get\",le=\"0.01\"} 2\n"
		"t_latency_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
		"t_latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"
		"t_latency_seconds_sum{op=\"get\"} 7.0055\n"
		"t_latency_seconds_count{op=\"get\"} 3\n");
	free(s);
	CHECK(metrics_get("t_requests_total", "GET", "200") == 3);
	CHECK(metrics_get("t_requests_total", "GET", "500") == -1);
	CHECK(metrics_get("t_latency_seconds", "get") == 3);
}

static void test_escaping_and_values(void)
{
	char *s;

	metrics_reset();
	REQUIRE(!metrics_define("t_g", METRICS_GAUGE, "G", "name"));
	metrics_set("t_g", 1.5, "a\"b\\c\nd");
	metrics_set("t_g", -0.25, "x");
	metrics_set("t_g", 1e20, "big");
	metrics_set("t_g", 1.0 / 0.0, "inf");
	s = render();
	REQUIRE(s);
	CHECK(strstr(s, "t_g{name=\"a\\\"b\\\\c\\nd\"} 1.5\n") != NULL);
	CHECK(strstr(s, "t_g{name=\"x\"} -0.25\n") != NULL);
	CHECK(strstr(s, "t_g{name=\"big\"} 1e+20\n") != NULL);
	CHECK(strstr(s, "t_g{name=\"inf\"} +Inf\n") != NULL);
	free(s);
	/* a labelled family without series is not rendered at all */
	metrics_clear("t_g");
	s = render();
	REQUIRE(s);
	CHECK_STR(s, "");
	free(s);
}

static void test_definitions(void)
{
	metrics_reset();
	CHECK(metrics_define("bad name", METRICS_GAUGE, "x", NULL) == -EINVAL);
	CHECK(metrics_define("1abc", METRICS_GAUGE, "x", NULL) == -EINVAL);
	CHECK(metrics_define("ok", METRICS_GAUGE, "two\nlines", NULL) == -EINVAL);
	CHECK(metrics_define("ok", METRICS_GAUGE, "x", "a,a") == -EINVAL);
	CHECK(metrics_define("ok", METRICS_GAUGE, "x", "__a") == -EINVAL);
	CHECK(metrics_define("ok", METRICS_GAUGE, "x", "a-b") == -EINVAL);
	CHECK(metrics_define("ok", METRICS_HISTOGRAM, "x", NULL) == -EINVAL);
	CHECK(metrics_define_histogram("h", "x", "le", (double[]){ 1 }, 1) == -EINVAL);
	CHECK(metrics_define_histogram("h", "x", NULL, (double[]){ 2, 1 }, 2) == -EINVAL);
	CHECK(metrics_define("ok:x_total", METRICS_COUNTER, "x", "a,b") == 0);
	CHECK(metrics_define("ok:x_total", METRICS_COUNTER, "x", "a,b") == 0);
	CHECK(metrics_define("ok:x_total", METRICS_GAUGE, "x", "a,b") == -EEXIST);
	CHECK(metrics_define("ok:x_total", METRICS_COUNTER, "x", "a") == -EEXIST);
	/* wrong label counts, wrong operations and unknown families change nothing */
	metrics_inc("ok:x_total", "only-one");
	metrics_inc("ok:x_total", "1", "2", "3");
	metrics_observe("ok:x_total", 1, "1", "2");
	metrics_inc("nobody");
	metrics_add("ok:x_total", -5, "1", "2");
	CHECK(metrics_get("ok:x_total", "1", "2") == 0);
	metrics_set("ok:x_total", 42, "1", "2");	/* a counter taken from a snapshot */
	CHECK(metrics_get("ok:x_total", "1", "2") == 42);
}

static int ncollect;
static void collect(void *ctx)
{
	ncollect++;
	metrics_set("t_collected", *(double *)ctx);
}

static void test_collectors(void)
{
	double v = 7;
	char *s;

	metrics_reset();
	REQUIRE(!metrics_define("t_collected", METRICS_GAUGE, "C", NULL));
	REQUIRE(!metrics_add_collector(collect, &v));
	CHECK(metrics_add_collector(collect, &v) == -EEXIST);
	s = render();
	CHECK(s && strstr(s, "t_collected 7\n"));
	free(s);
	metrics_remove_collector(collect, &v);
	v = 8;
	s = render();
	CHECK(s && strstr(s, "t_collected 7\n") && ncollect == 1);
	free(s);
	REQUIRE(!metrics_process_collector());
	s = render();
	CHECK(s && strstr(s, "\nprocess_resident_memory_bytes ") && strstr(s, "\nprocess_open_fds "));
	CHECK(metrics_get("process_start_time_seconds") > 1.5e9);
	free(s);
}

static void *bump(void *arg)
{
	for (int i = 0; i < 20000; i++)
		metrics_inc("t_c_total", (const char *)arg);
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];

	metrics_reset();
	REQUIRE(!metrics_define("t_c_total", METRICS_COUNTER, "C", "who"));
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, bump, i % 2 ? "odd" : "even");
	for (int i = 0; i < 4; i++) {
		char *s = render();

		free(s);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(metrics_get("t_c_total", "odd") == 40000);
	CHECK(metrics_get("t_c_total", "even") == 40000);
}

/* ---- httpd ---- */

static void handler(void *ctx, const char *path, struct httpd_reply *r)
{
	if (!strcmp(path, "/metrics")) {
		r->body = metrics_render(&r->len);
		r->code = 200;
		r->content_type = METRICS_CONTENT_TYPE;
	} else if (!strcmp(path, "/down")) {
		httpd_reply_text(r, 503, "not ready\n");
	}
}

/* One request over a fresh connection; the whole response in buf. */
static int http(uint16_t port, const char *req, char *buf, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return 0;
}

static void test_httpd(void)
{
	struct sockaddr_in sa;
	struct httpd *h, *h2;
	char buf[8192];

	CHECK(httpd_parse_listen("127.0.0.1:9471", &sa) == 0 && ntohs(sa.sin_port) == 9471);
	CHECK(httpd_parse_listen(":80", &sa) == 0 && sa.sin_addr.s_addr == htonl(INADDR_ANY));
	CHECK(httpd_parse_listen("127.0.0.1", &sa) == -EINVAL);
	CHECK(httpd_parse_listen("127.0.0.1:", &sa) == -EINVAL);
	CHECK(httpd_parse_listen("127.0.0.1:70000", &sa) == -EINVAL);
	CHECK(httpd_parse_listen("host:80", &sa) == -EINVAL);
	CHECK(httpd_start("nonsense", handler, NULL) == NULL && errno == EINVAL);

	metrics_reset();
	REQUIRE(!metrics_define("t_up", METRICS_GAUGE, "Up", NULL));
	metrics_set("t_up", 1);
	h = httpd_start("127.0.0.1:0", handler, NULL);
	REQUIRE(h);
	REQUIRE(httpd_port(h) != 0);
	REQUIRE(http(httpd_port(h), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		     buf, sizeof(buf)) == 0);
	CHECK(!strncmp(buf, "HTTP/1.1 200", 12));
	CHECK(strstr(buf, "Content-Type: text/plain; version=0.0.4") != NULL);
	CHECK(strstr(buf, "\r\n\r\n# HELP t_up Up\n# TYPE t_up gauge\nt_up 1\n") != NULL);
	REQUIRE(http(httpd_port(h), "GET /down HTTP/1.0\r\n\r\n", buf, sizeof(buf)) == 0);
	CHECK(!strncmp(buf + 9, "503", 3) && strstr(buf, "not ready\n"));
	REQUIRE(http(httpd_port(h), "GET /nothing HTTP/1.0\r\n\r\n", buf, sizeof(buf)) == 0);
	CHECK(!strncmp(buf + 9, "404", 3));
	REQUIRE(http(httpd_port(h), "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
		     buf, sizeof(buf)) == 0);
	CHECK(!strncmp(buf + 9, "405", 3));
	/* the same port twice: the second one fails, the first goes on */
	snprintf(buf, sizeof(buf), "127.0.0.1:%u", httpd_port(h));
	h2 = httpd_start(buf, handler, NULL);
	CHECK(h2 == NULL);
	httpd_stop(h2);
	httpd_stop(h);
	metrics_reset();
}

int main(void)
{
	RUN(test_text_format);
	RUN(test_escaping_and_values);
	RUN(test_definitions);
	RUN(test_collectors);
	RUN(test_threads);
	RUN(test_httpd);
	return harness_done();
}
