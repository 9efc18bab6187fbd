/* Tests agent/cable/strongswan/charon.c and agent/cable/strongswan/vici_conn.c against the real charon. The process moves
 * into its own network namespace first, so charon binds nothing in the root namespace;
 * each charon gets its own mount namespace from the supervisor. Skips when not root or
 * when charon is not installed. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cable/strongswan/charon.h"
#include "agent/cable/strongswan/vici_conn.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static char tmpdir[] = "/tmp/svi-charon-XXXXXX";
static char rundir[64];
static const char *skip_why;
static int pidfile_existed;

static int rm_rf(const char *p)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	return system(cmd);
}

static struct charon *new_charon(const char *dir, uint16_t ike, uint16_t natt)
{
	struct charon_opts o = {
		.dir = dir, .ike_port = ike, .natt_port = natt, .datapath = CHARON_DP_AUTO,
	};

	return charon_new(&o);
}

static void test_probe_and_conf(void)
{
	struct charon *c;
	char *conf;
	int esp;

	if (skip_why)
		SKIP_TEST("%s", skip_why);
	esp = charon_probe_kernel_esp();
	printf("  kernel ESP probe: %d\n", esp);
	CHECK(esp == 0 || esp == 1);
	c = new_charon(tmpdir, 0, 0);
	REQUIRE(c);
	CHECK_EQ_INT(charon_get_datapath(c), esp == 1 ? CHARON_DP_KERNEL : CHARON_DP_LIBIPSEC);
	conf = charon_render_conf(c);
	REQUIRE(conf);
	CHECK(strstr(conf, "socket = unix:///tmp/svi-charon-") != NULL);
	CHECK(strstr(conf, "port = 500\n") != NULL);
	CHECK(strstr(conf, "port_nat_t = 4500\n") != NULL);
	CHECK((strstr(conf, " kernel-libipsec ") != NULL) == (esp != 1));
	CHECK(strstr(conf, " vici\n") != NULL);
	free(conf);
	charon_free(c);
}

struct evcount {
	int n;
	int list_conn;
	char last[64];
};

static void count_cb(void *ctx, const char *name, const struct vici_node *msg)
{
	struct evcount *ec = ctx;

	ec->n++;
	snprintf(ec->last, sizeof(ec->last), "%s", name);
	if (strcmp(name, "list-conn") == 0 && vici_child(msg, "probe"))
		ec->list_conn++;
}

static void build_conn(struct vici_builder *b)
{
	vici_begin_section(b, "probe");
	vici_begin_list(b, "remote_addrs");
	vici_add_item_str(b, "198.18.100.99");
	vici_end_list(b);
	vici_begin_section(b, "local");
	vici_add_kv_str(b, "auth", "psk");
	vici_end_section(b);
	vici_begin_section(b, "remote");
	vici_add_kv_str(b, "auth", "psk");
	vici_end_section(b);
	vici_begin_section(b, "children");
	vici_begin_section(b, "probe");
	vici_begin_list(b, "local_ts");
	vici_add_item_str(b, "10.99.1.0/24");
	vici_end_list(b);
	vici_end_section(b);
	vici_end_section(b);
	vici_end_section(b);
}

static void test_start_vici_kill_restart(void)
{
	struct charon *c;
	struct vici_conn *vc;
	struct vici_node *r = NULL;
	struct vici_builder *b;
	struct evcount ec = { 0 };
	struct pollfd p;
	const struct vici_node *plugins, *it;
	char errmsg[128];
	int found = 0, st = 0, rc;
	uint64_t t0;

	if (skip_why)
		SKIP_TEST("%s", skip_why);
	c = new_charon(tmpdir, 0, 0);
	REQUIRE(c);
	t0 = util_now_ns();
	rc = charon_start(c, 10000);
	CHECK_EQ_INT(rc, 0);
	if (rc) {
		charon_free(c);
		return;
	}
	printf("  charon %d up in %llu ms\n", (int)charon_pid(c),
	       (unsigned long long)((util_now_ns() - t0) / 1000000));
	CHECK_EQ_INT(charon_start(c, 1000), -EALREADY);
	/* charon's pid file lives in its private /run, not ours */
	if (!pidfile_existed)
		CHECK(access("/run/charon.pid", F_OK) != 0);

	vc = vici_conn_open(charon_vici_path(c));
	REQUIRE(vc);
	vici_conn_set_event_cb(vc, count_cb, &ec);
	REQUIRE(vici_conn_cmd(vc, "stats", NULL, &r, 3000) == 0);
	plugins = vici_child(r, "plugins");
	REQUIRE(plugins && plugins->type == VICI_NODE_LIST);
	for (it = plugins->child; it; it = it->next)
		if (strcmp((const char *)it->value, "vici") == 0 ||
		    strcmp((const char *)it->value, "socket-default") == 0)
			found++;
	CHECK_EQ_INT(found, 2);
	vici_node_free(r);

	CHECK_EQ_INT(vici_conn_cmd(vc, "no-such-command", NULL, NULL, 3000), -EOPNOTSUPP);
	CHECK_EQ_INT(vici_conn_register(vc, "no-such-event", 3000), -ENOENT);

	/* Events arriving during a command are queued and make the fd readable. */
	REQUIRE(vici_conn_register(vc, "log", 3000) == 0);
	b = vici_builder_new();
	REQUIRE(b);
	build_conn(b);
	rc = vici_conn_call(vc, "load-conn", b, 3000, errmsg, sizeof(errmsg));
	CHECK_EQ_INT(rc, 0);
	if (rc)
		printf("  load-conn: %s\n", errmsg);
	vici_builder_free(b);
	p.fd = vici_conn_fd(vc);
	p.events = POLLIN;
	/* Under load a packet can arrive in pieces: dispatch until an event came (3 s). */
	for (int tries = 0; tries < 30 && ec.n == 0; tries++) {
		if (poll(&p, 1, 100) == 1)
			CHECK_EQ_INT(vici_conn_dispatch(vc), 0);
	}
	CHECK(ec.n > 0);
	CHECK_STR(ec.last, "log");
	REQUIRE(vici_conn_unregister(vc, "log", 3000) == 0);
	/* A failing call carries charon's error message. */
	b = vici_builder_new();
	vici_add_kv_str(b, "name", "no-such-conn");
	CHECK_EQ_INT(vici_conn_call(vc, "unload-conn", b, 3000, errmsg, sizeof(errmsg)),
		     -EREMOTEIO);
	CHECK(errmsg[0] != '\0');
	vici_builder_free(b);

	/* Streamed command: list-conn events come before the response. */
	ec.n = 0;
	CHECK_EQ_INT(vici_conn_cmd_stream(vc, "list-conns", NULL, "list-conn", count_cb, &ec,
					  NULL, 3000), 0);
	CHECK_EQ_INT(ec.list_conn, 1);

	/* Death is noticed through the pidfd. */
	REQUIRE(charon_pidfd(c) >= 0);
	REQUIRE(kill(charon_pid(c), SIGKILL) == 0);
	p.fd = charon_pidfd(c);
	p.events = POLLIN;
	CHECK_EQ_INT(poll(&p, 1, 5000), 1);
	CHECK_EQ_INT(charon_reap(c, &st), 1);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(!charon_running(c));
	CHECK_EQ_INT(charon_pidfd(c), -1);
	p.fd = vici_conn_fd(vc);
	CHECK_EQ_INT(poll(&p, 1, 3000), 1);
	CHECK_EQ_INT(vici_conn_dispatch(vc), -ECONNRESET);
	CHECK_EQ_INT(vici_conn_cmd(vc, "version", NULL, NULL, 1000), -ENOTCONN);
	vici_conn_close(vc);

	/* Restart, then stop cleanly. */
	rc = charon_start(c, 10000);
	CHECK_EQ_INT(rc, 0);
	if (rc == 0) {
		pid_t pid = charon_pid(c);

		vc = vici_conn_open(charon_vici_path(c));
		CHECK(vc != NULL);
		CHECK(vc && vici_conn_cmd(vc, "version", NULL, NULL, 3000) == 0);
		vici_conn_close(vc);
		CHECK_EQ_INT(charon_stop(c, 5000), 0);
		CHECK(kill(pid, 0) < 0 && errno == ESRCH);
	}
	CHECK_EQ_INT(charon_stop(c, 1000), 0);	/* not running: no-op */
	charon_free(c);
}

/* Two charons at once (different ports): each has its own /run/charon.pid. One lives in a
 * state dir under /run, which the supervisor binds into charon's private /run. */
static void test_two_charons(void)
{
	struct charon *c1, *c2;
	struct vici_conn *v1, *v2;
	char d1[128];

	if (skip_why)
		SKIP_TEST("%s", skip_why);
	snprintf(d1, sizeof(d1), "%s/one", tmpdir);
	c1 = new_charon(d1, 1500, 14500);
	c2 = new_charon(rundir, 2500, 24500);
	REQUIRE(c1 && c2);
	CHECK_EQ_INT(charon_start(c1, 10000), 0);
	CHECK_EQ_INT(charon_start(c2, 10000), 0);
	CHECK(charon_running(c1) && charon_running(c2));
	v1 = vici_conn_open(charon_vici_path(c1));
	v2 = vici_conn_open(charon_vici_path(c2));
	CHECK(v1 && vici_conn_cmd(v1, "version", NULL, NULL, 3000) == 0);
	CHECK(v2 && vici_conn_cmd(v2, "version", NULL, NULL, 3000) == 0);
	vici_conn_close(v1);
	vici_conn_close(v2);
	CHECK_EQ_INT(charon_stop(c1, 5000), 0);
	CHECK_EQ_INT(charon_stop(c2, 5000), 0);
	charon_free(c1);
	charon_free(c2);
}

/* charon inherits none of the agent's descriptors: a socket or pipe the agent holds
 * (a broker connection, an informer's pipe) must not stay open in charon for its life. */
static void test_no_inherited_fds(void)
{
	char d[128], link[64], target[128], want[128];
	struct charon *c;
	int p[2], leaked = 0;
	struct stat st;
	ssize_t n;

	if (skip_why)
		SKIP_TEST("%s", skip_why);
	REQUIRE(pipe(p) == 0);	/* no O_CLOEXEC: the way a library might open one */
	REQUIRE(fstat(p[0], &st) == 0);
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
	snprintf(d, sizeof(d), "%s/fds", tmpdir);
	c = new_charon(d, 3500, 34500);
	REQUIRE(c);
	CHECK_EQ_INT(charon_start(c, 10000), 0);
	for (int fd = 0; fd < 1024 && charon_running(c); fd++) {
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)charon_pid(c), fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, want)) {
			fprintf(stderr, "  charon holds the test's pipe as fd %d\n", fd);
			leaked++;
		}
	}
	CHECK_EQ_INT(leaked, 0);
	CHECK_EQ_INT(charon_stop(c, 5000), 0);
	charon_free(c);
	close(p[0]);
	close(p[1]);
}

static void test_start_failure(void)
{
	struct charon_opts o = { .dir = tmpdir, .charon_path = "/nonexistent/charon",
				 .datapath = CHARON_DP_LIBIPSEC };
	struct charon *c;

	if (skip_why)
		SKIP_TEST("%s", skip_why);
	c = charon_new(&o);
	REQUIRE(c);
	CHECK_EQ_INT(charon_start(c, 2000), -ENOENT);
	CHECK(!charon_running(c));
	charon_free(c);
	o.charon_path = "/bin/false";	/* exits at once: noticed, not waited out */
	c = charon_new(&o);
	REQUIRE(c);
	CHECK_EQ_INT(charon_start(c, 5000), -ECHILD);
	CHECK(!charon_running(c));
	charon_free(c);
}

int main(void)
{
	int fails;

	log_set_level(LOG_LVL_INFO);
	if (geteuid() != 0)
		skip_why = "needs root";
	else if (access("/usr/lib/ipsec/charon", X_OK) != 0)
		skip_why = "charon not installed";
	else if (unshare(CLONE_NEWNET) != 0)
		skip_why = "cannot create a network namespace";
	else if (!mkdtemp(tmpdir))
		skip_why = "mkdtemp failed";
	if (!skip_why && system("ip link set lo up") != 0)
		skip_why = "ip link set lo up failed";
	pidfile_existed = access("/run/charon.pid", F_OK) == 0;
	snprintf(rundir, sizeof(rundir), "/run/svi-charon-test-%d", (int)getpid());

	RUN(test_probe_and_conf);
	RUN(test_start_vici_kill_restart);
	RUN(test_two_charons);
	RUN(test_no_inherited_fds);
	RUN(test_start_failure);
	fails = harness_done();
	if (!skip_why) {
		if (rm_rf(tmpdir) || rm_rf(rundir))
			fprintf(stderr, "cleanup failed\n");
	}
	return fails;
}
