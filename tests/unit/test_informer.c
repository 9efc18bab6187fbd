/* The broker client and informer against the real `subagent broker` (started here from
 * build/subagent on a loopback port): register, list/watch endpoints, create/update/delete,
 * a broker restart while watching. SKIPs when this build has no broker command. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/client/client.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/harness.h"

#define SUBAGENT "build/subagent"

static char dir[] = "/tmp/sbc-test-live-XXXXXX";
static char url[64], ca[300];
static pid_t broker_pid = -1;

static bool have_broker(void)
{
	FILE *f = popen(SUBAGENT " --help 2>/dev/null", "r");
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "  broker ", 9))
			found = true;
	pclose(f);
	return found;
}

static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static char *read_token(const char *name)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return util_read_file(p, 128, NULL);
}

static int start_broker(void)
{
	char log[300];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/broker.log", dir);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(SUBAGENT, "subagent", "broker", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	broker_pid = pid;
	return 0;
}

static void stop_broker(int sig)
{
	if (broker_pid > 0) {
		kill(broker_pid, sig);
		waitpid(broker_pid, NULL, 0);
		broker_pid = -1;
	}
}

/* Polls until the broker answers whoami (deadline 10 s). */
static int wait_up(struct brk_client *c)
{
	uint64_t deadline = util_now_ns() + 10ull * 1000000000ull;

	while (util_now_ns() < deadline) {
		if (brk_whoami(c, NULL, NULL) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

struct seen {
	pthread_mutex_t lock;
	char log[2048];
};

static void rec(struct seen *s, const char *what, cJSON *o)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->log + strlen(s->log), sizeof(s->log) - strlen(s->log), "%s:%s,", what,
		 brk_obj_name(o));
	pthread_mutex_unlock(&s->lock);
}
static void on_add(cJSON *o, void *ctx) { rec(ctx, "add", o); }
static void on_update(cJSON *o, void *ctx) { rec(ctx, "update", o); }
static void on_delete(cJSON *o, void *ctx) { rec(ctx, "delete", o); }

/* Waits (10 s) until the event log contains want. */
static bool wait_log(struct seen *s, const char *want)
{
	uint64_t deadline = util_now_ns() + 10ull * 1000000000ull;
	bool ok = false;

	while (!ok && util_now_ns() < deadline) {
		pthread_mutex_lock(&s->lock);
		ok = strstr(s->log, want) != NULL;
		pthread_mutex_unlock(&s->lock);
		if (!ok)
			usleep(20000);
	}
	if (!ok)
		fprintf(stderr, "  waited for \"%s\" in \"%s\"\n", want, s->log);
	return ok;
}

static cJSON *endpoint(const char *host, int epoch)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"subagent.io/v1\",\"kind\":\"Endpoint\",\"metadata\":{\"name\":\"c1.%s\"},"
		 "\"spec\":{\"clusterID\":\"c1\",\"hostname\":\"%s\",\"privateIP\":\"192.168.1.10\","
		 "\"publicIP\":\"198.18.1.10\",\"natTPort\":4500,\"subnets\":[\"10.1.0.0/16\"],"
		 "\"cableDriver\":\"ipsec\",\"healthCheckIP\":\"10.1.0.1\",\"epoch\":%d,\"backend\":{}}}",
		 host, host, epoch);
	return cJSON_Parse(buf);
}

static void test_live(void)
{
	char cmd[512], *admin = NULL, *join = NULL, *c1tok = NULL;
	struct brk_client *adm = NULL, *jc = NULL, *c1 = NULL;
	struct brk_informer_ops ops = { on_add, on_update, on_delete, NULL };
	struct seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct brk_informer *inf = NULL;
	char *urls[1] = { url };
	struct brk_status st;
	cJSON *o = NULL, *res = NULL;
	unsigned port;

	if (!have_broker())
		SKIP_TEST("this build has no 'subagent broker' command yet");
	REQUIRE(mkdtemp(dir) != NULL);
	port = free_port();
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cmd, sizeof(cmd), SUBAGENT " deploy-broker --dir %s --force --listen 127.0.0.1:%u >/dev/null",
		 dir, port);
	REQUIRE(system(cmd) == 0);
	admin = read_token("admin.token");
	join = read_token("join.token");
	REQUIRE(admin && join);
	REQUIRE(start_broker() == 0);
	adm = brk_client_new(urls, 1, ca, admin);
	jc = brk_client_new(urls, 1, ca, join);
	REQUIRE(adm && jc);
	REQUIRE(wait_up(adm) == 0);

	/* register c1 with the join token; its credential comes back once */
	o = cJSON_Parse("{\"apiVersion\":\"subagent.io/v1\",\"kind\":\"Cluster\",\"metadata\":{\"name\":\"c1\"},"
			"\"spec\":{\"clusterID\":\"c1\",\"clusterCIDRs\":[\"10.1.0.0/16\"],"
			"\"serviceCIDRs\":[\"10.96.0.0/16\"],\"cableDriver\":\"ipsec\"}}");
	CHECK(brk_create(jc, "clusters", o, &res, &st) == 0);
	if (!res)
		fprintf(stderr, "  register: %s\n", st.message);
	CHECK(brk_create(jc, "clusters", o, NULL, &st) == -EEXIST);
	cJSON_Delete(o);
	{
		const cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "credential"), "token");

		REQUIRE(cJSON_IsString(t));
		c1tok = strdup(t->valuestring);
	}
	cJSON_Delete(res);
	res = NULL;
	c1 = brk_client_new(urls, 1, ca, c1tok);
	REQUIRE(c1);
	CHECK(brk_whoami(c1, &res, &st) == 0);
	CHECK(res && !strcmp(cJSON_GetObjectItem(res, "identity")->valuestring, "cluster:c1"));
	cJSON_Delete(res);
	res = NULL;

	inf = brk_informer_start(c1, "endpoints", &ops, &s);
	REQUIRE(inf);
	o = endpoint("n1", 1);
	CHECK(brk_create(c1, "endpoints", o, &res, &st) == 0);
	cJSON_Delete(o);
	CHECK(wait_log(&s, "add:c1.n1,"));
	/* update with the stored resourceVersion; a stale one gets a Conflict */
	if (res) {
		cJSON *spec = cJSON_GetObjectItem(res, "spec");

		cJSON_ReplaceItemInObject(spec, "epoch", cJSON_CreateNumber(2));
		CHECK(brk_update(c1, "endpoints", "c1.n1", res, NULL, &st) == 0);
		CHECK(brk_update(c1, "endpoints", "c1.n1", res, NULL, &st) == -ESTALE);
		CHECK(wait_log(&s, "update:c1.n1,"));
	}
	cJSON_Delete(res);
	res = NULL;
	o = endpoint("n2", 1);
	CHECK(brk_create(c1, "endpoints", o, NULL, &st) == 0);
	cJSON_Delete(o);
	CHECK(brk_delete(c1, "endpoints", "c1.n1", NULL, &st) == 0);
	CHECK(wait_log(&s, "add:c1.n2,delete:c1.n1,"));
	CHECK(brk_get(c1, "endpoints", "c1.n1", NULL, &st) == -ENOENT);

	/* the broker dies; changes land right after it comes back; the informer catches up */
	stop_broker(SIGKILL);
	REQUIRE(start_broker() == 0);
	REQUIRE(wait_up(adm) == 0);
	o = endpoint("n3", 1);
	CHECK(brk_create(adm, "endpoints", o, NULL, &st) == 0);
	cJSON_Delete(o);
	CHECK(brk_delete(adm, "endpoints", "c1.n2", NULL, &st) == 0);
	CHECK(wait_log(&s, "add:c1.n3,"));
	CHECK(wait_log(&s, "delete:c1.n2,"));
	o = brk_informer_list(inf);
	CHECK(cJSON_GetArraySize(o) == 1 && !strcmp(brk_obj_name(cJSON_GetArrayItem(o, 0)), "c1.n3"));
	cJSON_Delete(o);

	/* a list larger than one response (issue 11: over 1 MiB blinded every informer) */
	{
		struct brk_informer *big;
		char pad[1001];
		int made = 0;

		memset(pad, 'x', 1000);
		pad[1000] = '\0';
		for (int i = 0; i < 40; i++) {
			char host[16];
			cJSON *b;

			snprintf(host, sizeof(host), "big%d", i);
			o = endpoint(host, 1);
			b = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "backend");
			for (int k = 0; k < 30; k++) {
				char key[16];

				snprintf(key, sizeof(key), "k%d", k);
				cJSON_AddStringToObject(b, key, pad);
			}
			made += brk_create(adm, "endpoints", o, NULL, &st) == 0;
			cJSON_Delete(o);
		}
		CHECK_EQ_INT(made, 40);
		CHECK(brk_list(c1, "endpoints", &res, &st) == 0);
		CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(res, "items")), 41);
		cJSON_Delete(res);
		res = NULL;
		big = brk_informer_start(c1, "endpoints", &ops, &s);
		REQUIRE(big);
		for (int i = 0; i < 100 && !brk_informer_synced(big); i++)
			usleep(100000);
		CHECK(brk_informer_synced(big));
		o = brk_informer_list(big);
		CHECK_EQ_INT(cJSON_GetArraySize(o), 41);
		cJSON_Delete(o);
		brk_informer_stop(big);
	}

	brk_informer_stop(inf);
	brk_client_free(c1);
	brk_client_free(jc);
	brk_client_free(adm);
	util_free_secret(admin);
	util_free_secret(join);
	util_free_secret(c1tok);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	RUN(test_live);
	stop_broker(SIGTERM);
	if (strcmp(dir, "/tmp/sbc-test-live-XXXXXX")) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "cleanup of %s failed\n", dir);
	}
	return harness_done();
}
