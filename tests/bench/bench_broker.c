/* Broker benchmark client (run by tests/bench/bench_broker.sh against a running broker).
 * Opens N watch streams on endpoints (one libcurl multi, one thread), then
 *  1. fan-out latency: E times, creates an endpoint and measures, per watcher, the time
 *     from just before the create was sent to the moment its ADDED event arrived
 *     (p50/p99/max over all N*E samples; each write waits for all N deliveries);
 *  2. write rate: C client threads create endpoints for S seconds, watchers attached.
 * Prints one result line: "watchers=N events=E p50_ms=.. p99_ms=.. max_ms=.. lost=..
 * writes_per_s_1=.. writes_per_s_C=..". */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/util.h"

static const char *url, *ca, *token, *cluster = "c1";
static char auth[300];
static int n_watch = 100, n_events = 50, write_secs = 5, n_clients = 8;
static char run_id[9];

static _Atomic uint64_t sent_at[4096];
static uint64_t *lat;		/* n_watch * n_events samples, ns */
static _Atomic int got_count[4096];
static atomic_bool stop_watch;

struct watcher {
	CURL *c;
	char line[8192];
	size_t n;
	int connected;
};

static void on_line(struct watcher *w, const char *line)
{
	char pat[64];
	const char *p;
	int i;

	snprintf(pat, sizeof(pat), "\"name\":\"%s.f%s-", cluster, run_id);
	p = strstr(line, pat);
	if (!p || !strstr(line, "\"type\":\"ADDED\""))
		return;
	i = atoi(p + strlen(pat));
	if (i < 0 || i >= n_events || i >= 4096)
		return;
	{
		uint64_t t = util_now_ns(), s = atomic_load(&sent_at[i]);
		int k = atomic_fetch_add(&got_count[i], 1);

		if (k < n_watch && s)
			lat[(size_t)i * (size_t)n_watch + (size_t)k] = t - s;
	}
}

static size_t watch_write(char *data, size_t sz, size_t nm, void *ud)
{
	struct watcher *w = ud;
	size_t n = sz * nm;

	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			w->line[w->n] = '\0';
			on_line(w, w->line);
			w->n = 0;
		} else if (w->n + 1 < sizeof(w->line)) {
			w->line[w->n++] = data[i];
		}
	}
	return n;
}

static size_t watch_header(char *data, size_t sz, size_t nm, void *ud)
{
	struct watcher *w = ud;

	if (nm * sz >= 12 && !strncmp(data, "HTTP/1.1 200", 12))
		w->connected = 1;
	return sz * nm;
}

static void *watch_main(void *arg)
{
	struct watcher *ws = arg;
	CURLM *m = curl_multi_init();
	struct curl_slist *hdr = curl_slist_append(NULL, auth);
	char u[512];
	int running;

	snprintf(u, sizeof(u), "%s/apis/subagent.io/v1/endpoints?watch=1&resourceVersion=%s", url,
		 getenv("BENCH_RV") ? getenv("BENCH_RV") : "0");
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
	for (int i = 0; i < n_watch; i++) {
		CURL *c = curl_easy_init();

		ws[i].c = c;
		curl_easy_setopt(c, CURLOPT_URL, u);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &ws[i]);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, watch_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &ws[i]);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_multi_add_handle(m, c);
	}
	do {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (!atomic_load(&stop_watch));
	for (int i = 0; i < n_watch; i++) {
		curl_multi_remove_handle(m, ws[i].c);
		curl_easy_cleanup(ws[i].c);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	return NULL;
}

/* POSTs one endpoint; 0 on 201. */
static int create(CURL *c, struct curl_slist *hdr, const char *name)
{
	char body[1024], u[512];
	long code = 0;

	snprintf(u, sizeof(u), "%s/apis/subagent.io/v1/endpoints", url);
	snprintf(body, sizeof(body),
		 "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"clusterID\":\"%s\",\"hostname\":\"%s\","
		 "\"privateIP\":\"10.1.0.5\",\"publicIP\":\"198.51.100.7\",\"natTPort\":4500,"
		 "\"subnets\":[\"10.1.0.0/16\"],\"cableDriver\":\"ipsec\",\"epoch\":1}}",
		 name, cluster, name + strlen(cluster) + 1);
	curl_easy_setopt(c, CURLOPT_URL, u);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) != CURLE_OK)
		return -EIO;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code == 201 ? 0 : -EIO;
}

static size_t sink(char *d, size_t sz, size_t nm, void *ud)
{
	return sz * nm;
}

static struct curl_slist *json_headers(void)
{
	struct curl_slist *h = curl_slist_append(NULL, auth);

	return curl_slist_append(h, "Content-Type: application/json");
}

static CURL *writer(void)
{
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	return c;
}

struct wr {
	int id;
	long count;
	uint64_t until;
};

static void *write_main(void *arg)
{
	struct wr *w = arg;
	struct curl_slist *hdr = json_headers();
	CURL *c = writer();
	char name[128];

	while (util_now_ns() < w->until) {
		snprintf(name, sizeof(name), "%s.w%s-%d-%ld", cluster, run_id, w->id, w->count);
		if (create(c, hdr, name) == 0)
			w->count++;
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	return NULL;
}

static double write_rate(int clients)
{
	pthread_t th[64];
	struct wr w[64];
	uint64_t t0 = util_now_ns();
	long total = 0;

	for (int i = 0; i < clients; i++) {
		w[i] = (struct wr){ .id = i + clients * 100, .until = t0 + (uint64_t)write_secs * 1000000000ull };
		pthread_create(&th[i], NULL, write_main, &w[i]);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		total += w[i].count;
	}
	return (double)total / ((double)(util_now_ns() - t0) / 1e9);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' }, { "ca", required_argument, NULL, 'a' },
		{ "token", required_argument, NULL, 't' }, { "watchers", required_argument, NULL, 'w' },
		{ "events", required_argument, NULL, 'e' }, { "seconds", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' }, { "cluster", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct rlimit rl;
	struct watcher *ws;
	pthread_t wt;
	struct curl_slist *hdr;
	CURL *c;
	size_t ns = 0, lost = 0;
	int o, connected;
	uint64_t deadline;
	double r1, rc;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': url = optarg; break;
		case 'a': ca = optarg; break;
		case 't': token = optarg; break;
		case 'w': n_watch = atoi(optarg); break;
		case 'e': n_events = atoi(optarg); break;
		case 's': write_secs = atoi(optarg); break;
		case 'c': n_clients = atoi(optarg); break;
		case 'C': cluster = optarg; break;
		default: return 2;
		}
	}
	if (!url || !ca || !token || n_watch < 1 || n_events < 1 || n_events > 4096 ||
	    n_clients < 1 || n_clients > 64) {
		fprintf(stderr, "usage: bench_broker --url U --ca CA --token T [--watchers N] [--events E]"
			" [--seconds S] [--clients C] [--cluster ID]\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (util_random_hex(run_id, 4))
		return 1;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	lat = calloc((size_t)n_watch * (size_t)n_events, sizeof(*lat));
	ws = calloc((size_t)n_watch, sizeof(*ws));
	if (!lat || !ws)
		return 1;
	pthread_create(&wt, NULL, watch_main, ws);
	/* all streams up: each got its response headers/first bytes or, at least, time passed */
	deadline = util_now_ns() + 60000000000ull;
	{
		uint64_t t0 = util_now_ns(), last_print = t0;

		do {
			usleep(100000);
			connected = 0;
			for (int i = 0; i < n_watch; i++)
				connected += ws[i].connected;
			if (util_now_ns() - last_print > 5000000000ull) {
				fprintf(stderr, "bench: %d/%d watch streams connected after %.1f s\n",
					connected, n_watch, (double)(util_now_ns() - t0) / 1e9);
				last_print = util_now_ns();
			}
		} while (connected < n_watch && util_now_ns() < deadline);
		fprintf(stderr, "bench: %d/%d watch streams connected in %.1f s\n", connected, n_watch,
			(double)(util_now_ns() - t0) / 1e9);
	}

	hdr = json_headers();
	c = writer();
	{	/* warm-up: the writer's TLS connection is not part of the measurement */
		char name[128];

		snprintf(name, sizeof(name), "%s.warm%s", cluster, run_id);
		if (create(c, hdr, name))
			fprintf(stderr, "bench: warm-up create failed\n");
	}
	for (int i = 0; i < n_events; i++) {
		char name[128];

		snprintf(name, sizeof(name), "%s.f%s-%d", cluster, run_id, i);
		atomic_store(&sent_at[i], util_now_ns());
		if (create(c, hdr, name)) {
			fprintf(stderr, "bench: create %s failed\n", name);
			continue;
		}
		deadline = util_now_ns() + 10000000000ull;
		while (atomic_load(&got_count[i]) < n_watch && util_now_ns() < deadline)
			usleep(200);
	}
	usleep(200000);
	for (int i = 0; i < n_events; i++) {
		int g = atomic_load(&got_count[i]);

		if (g > n_watch)
			g = n_watch;
		lost += (size_t)(n_watch - g);
		for (int k = 0; k < g; k++)
			lat[ns++] = lat[(size_t)i * (size_t)n_watch + (size_t)k];
	}
	qsort(lat, ns, sizeof(*lat), cmp_u64);
	fprintf(stderr, "bench: fan-out measured; write rate next\n");
	r1 = write_rate(1);
	rc = write_rate(n_clients);
	atomic_store(&stop_watch, true);
	pthread_join(wt, NULL);
	printf("watchers=%d events=%d samples=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f lost=%zu "
	       "writes_per_s_1=%.0f writes_per_s_%d=%.0f\n", n_watch, n_events, ns,
	       ns ? lat[ns / 2] / 1e6 : -1.0, ns ? lat[ns * 99 / 100] / 1e6 : -1.0,
	       ns ? lat[ns - 1] / 1e6 : -1.0, lost, r1, n_clients, rc);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	free(lat);
	free(ws);
	curl_global_cleanup();
	return lost ? 1 : 0;
}
