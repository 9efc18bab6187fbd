/* charon supervisor: data-path probe, generated strongswan.conf, start in a private mount
 * namespace, readiness over VICI, death notice by pidfd, stop by PID. */
#include "agent/cable/strongswan/charon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <libmnl/libmnl.h>

#include "agent/cable/strongswan/vici_conn.h"
#include "common/log.h"
#include "common/util.h"

#define CHARON_BIN	"/usr/lib/ipsec/charon"

struct charon {
	char *dir;
	char *charon_path;
	char *log_path;
	char *conf_path;
	char *vici_path;
	uint16_t ike_port, natt_port;
	enum charon_datapath dp;
	int log_level;
	bool install_routes;
	pid_t pid;
	int pidfd;
};

const char *charon_datapath_str(enum charon_datapath dp)
{
	switch (dp) {
	case CHARON_DP_KERNEL:
		return "kernel";
	case CHARON_DP_LIBIPSEC:
		return "libipsec";
	default:
		return "auto";
	}
}

/* ---- kernel ESP probe ---- */

/* Sends one request and reads its ack. 0 or -errno from the kernel. */
static int xfrm_talk(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl);
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	ret = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
	return ret < 0 ? -errno : 0;
}

/* Adds an ESP-in-UDP tunnel SA between two TEST-NET-1 addresses with the given
 * algorithm, then deletes it again. */
static int probe_sa(struct mnl_socket *nl, uint32_t spi, bool aead)
{
	char buf[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct xfrm_usersa_info *sa;
	struct xfrm_usersa_id *id;
	struct xfrm_encap_tmpl encap = {
		.encap_type = UDP_ENCAP_ESPINUDP,
		.encap_sport = htons(4500),
		.encap_dport = htons(4500),
	};
	struct nlmsghdr *nlh;
	uint32_t daddr = htonl(0xc0000201), saddr = htonl(0xc0000202);	/* 192.0.2.1/.2 */
	char keybuf[sizeof(struct xfrm_algo_auth) + 64] = { 0 };
	int err;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = XFRM_MSG_NEWSA;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	nlh->nlmsg_seq = 1;
	sa = mnl_nlmsg_put_extra_header(nlh, sizeof(*sa));
	sa->sel.family = AF_INET;
	sa->id.daddr.a4 = daddr;
	sa->id.spi = htonl(spi);
	sa->id.proto = IPPROTO_ESP;
	sa->saddr.a4 = saddr;
	sa->family = AF_INET;
	sa->mode = XFRM_MODE_TUNNEL;
	sa->lft.soft_byte_limit = sa->lft.hard_byte_limit = XFRM_INF;
	sa->lft.soft_packet_limit = sa->lft.hard_packet_limit = XFRM_INF;
	if (aead) {
		struct xfrm_algo_aead *a = (struct xfrm_algo_aead *)keybuf;

		snprintf(a->alg_name, sizeof(a->alg_name), "rfc4106(gcm(aes))");
		a->alg_key_len = 160;		/* 128-bit key + 32-bit salt */
		a->alg_icv_len = 128;
		mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(*a) + 20, a);
	} else {
		struct xfrm_algo *e = (struct xfrm_algo *)keybuf;
		struct xfrm_algo_auth au = { .alg_key_len = 0, .alg_trunc_len = 96 };

		snprintf(e->alg_name, sizeof(e->alg_name), "cbc(aes)");
		e->alg_key_len = 128;
		mnl_attr_put(nlh, XFRMA_ALG_CRYPT, sizeof(*e) + 16, e);
		snprintf(au.alg_name, sizeof(au.alg_name), "hmac(sha1)");
		mnl_attr_put(nlh, XFRMA_ALG_AUTH_TRUNC, sizeof(au), &au);
	}
	mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(encap), &encap);
	err = xfrm_talk(nl, nlh);
	if (err)
		return err;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = XFRM_MSG_DELSA;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 2;
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	id->daddr.a4 = daddr;
	id->spi = htonl(spi);
	id->family = AF_INET;
	id->proto = IPPROTO_ESP;
	err = xfrm_talk(nl, nlh);
	if (err)
		pr_warn("probe esp: delete probe SA: %s\n", strerror(-err));
	return 0;
}

int charon_probe_kernel_esp(void)
{
	struct mnl_socket *nl;
	uint32_t spi;
	int err;

	nl = mnl_socket_open(NETLINK_XFRM);
	if (!nl) {
		/* No XFRM netlink at all: certainly no kernel ESP. */
		if (errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT)
			return 0;
		return -errno;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	/* A random SPI from the upper range, which charon does not allocate from first. */
	if (util_random(&spi, sizeof(spi)))
		spi = (uint32_t)getpid();
	spi = 0xc0000000u | (spi & 0x3fffffffu);
	err = probe_sa(nl, spi, true);
	if (err && err != -EPERM)
		err = probe_sa(nl, spi, false);
	if (err == -EPERM || err == -EACCES)
		goto out;
	pr_debug("probe esp: %s\n", err ? strerror(-err) : "kernel accepted an ESP-in-UDP SA");
	err = err ? 0 : 1;
out:
	mnl_socket_close(nl);
	return err;
}

/* ---- object ---- */

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

struct charon *charon_new(const struct charon_opts *o)
{
	struct charon *c;
	int esp;

	if (!o || !o->dir || o->dir[0] != '/' || o->log_level < -1 || o->log_level > 4) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->pid = 0;
	c->pidfd = -1;
	c->dir = strdup(o->dir);
	c->charon_path = strdup(o->charon_path ? o->charon_path : CHARON_BIN);
	c->log_path = o->log_path ? strdup(o->log_path) : path_join(o->dir, "charon.log");
	c->conf_path = path_join(o->dir, "strongswan.conf");
	c->vici_path = path_join(o->dir, "charon.vici");
	if (!c->dir || !c->charon_path || !c->log_path || !c->conf_path || !c->vici_path)
		goto err_nomem;
	c->ike_port = o->ike_port ? o->ike_port : 500;
	c->natt_port = o->natt_port ? o->natt_port : 4500;
	c->log_level = o->log_level ? o->log_level : 1;
	c->install_routes = !o->no_install_routes;
	c->dp = o->datapath;
	if (c->dp == CHARON_DP_AUTO) {
		esp = charon_probe_kernel_esp();
		if (esp < 0)
			pr_warn("probe kernel esp: %s; using libipsec\n", strerror(-esp));
		c->dp = esp == 1 ? CHARON_DP_KERNEL : CHARON_DP_LIBIPSEC;
		pr_info("charon data path: %s (kernel ESP %s)\n", charon_datapath_str(c->dp),
			esp == 1 ? "available" : esp == 0 ? "missing" : "unknown");
	}
	return c;

err_nomem:
	charon_free(c);
	errno = ENOMEM;
	return NULL;
}

void charon_free(struct charon *c)
{
	if (!c)
		return;
	if (charon_running(c) && charon_stop(c, 3000))
		pr_warn("stop charon %d: failed\n", (int)c->pid);
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c->dir);
	free(c->charon_path);
	free(c->log_path);
	free(c->conf_path);
	free(c->vici_path);
	free(c);
}

const char *charon_vici_path(const struct charon *c) { return c->vici_path; }
const char *charon_conf_path(const struct charon *c) { return c->conf_path; }
enum charon_datapath charon_get_datapath(const struct charon *c) { return c->dp; }
pid_t charon_pid(const struct charon *c) { return c->pid; }
bool charon_running(const struct charon *c) { return c->pid > 0; }
int charon_pidfd(const struct charon *c) { return c->pid > 0 ? c->pidfd : -1; }

/* ---- configuration ---- */

char *charon_render_conf(const struct charon *c)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	fprintf(f,
		"# Generated by subagent for its own charon; rewritten at every start.\n"
		"charon {\n"
		"\t# Only these plugins: no stroke, no updown, no resolve, nothing reading /etc.\n"
		"\tload_modular = no\n"
		"\tload = random nonce openssl aes sha1 sha2 hmac gcm curve25519 gmp pem pkcs1 "
		"pkcs8 x509 pubkey constraints kdf %skernel-netlink socket-default vici\n"
		"\tport = %u\n"
		"\tport_nat_t = %u\n"
		"\tinstall_routes = %s\n"
		"\tinstall_virtual_ip = no\n"
		"\t# No make-before-break gaps on reauthentication.\n"
		"\tmake_before_break = yes\n"
		"\t# Retransmit after 1, 1.4, 2, 2.7, 3.8 s: a dead peer is declared after ~11 s\n"
		"\t# instead of charon's default ~165 s, and a first packet the peer missed while\n"
		"\t# starting is repeated after a second.\n"
		"\tretransmit_tries = 4\n"
		"\tretransmit_timeout = 1.0\n"
		"\tretransmit_base = 1.4\n"
		"\tplugins {\n"
		"\t\tvici {\n"
		"\t\t\tsocket = unix://%s\n"
		"\t\t}\n"
		"\t}\n"
		"\tfilelog {\n"
		"\t\tcharon {\n"
		"\t\t\tpath = %s\n"
		"\t\t\tappend = yes\n"
		"\t\t\tflush_line = yes\n"
		"\t\t\ttime_format = %%Y-%%m-%%dT%%H:%%M:%%S\n"
		"\t\t\tike_name = yes\n"
		"\t\t\tdefault = %d\n"
		"\t\t}\n"
		"\t}\n"
		"}\n",
		c->dp == CHARON_DP_LIBIPSEC ? "kernel-libipsec " : "",
		c->ike_port, c->natt_port, c->install_routes ? "yes" : "no",
		c->vici_path, c->log_path, c->log_level);
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- start / stop ---- */

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static bool under_run(const char *p)
{
	return strncmp(p, "/run/", 5) == 0 || strncmp(p, "/var/run/", 9) == 0;
}

/* In the child, before exec: a private mount namespace whose /run is a fresh tmpfs,
 * with our state dir bound back in when it lives under /run. Only async-signal-safe calls
 * from here to exec (the agent has threads). Returns 0 or an errno. */
static int child_setup_mounts(const struct charon *c)
{
	int dfd = -1;

	if (unshare(CLONE_NEWNS) < 0)
		return errno;
	/* Keep our mounts from propagating back to the parent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return errno;
	/* The bind source must be opened inside the new namespace: a bind mount from a
	 * mount of another namespace fails with EINVAL. */
	if (under_run(c->dir)) {
		dfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return errno;
	}
	if (mount("subagent-charon", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return errno;
	if (dfd >= 0) {
		/* The old /run is hidden now, but dfd still names the state dir in it. */
		const char *p = c->dir + (c->dir[1] == 'v' ? 4 : 0);	/* /var/run -> /run */
		char fdpath[32] = "/proc/self/fd/";
		char digits[12];
		int n = 0, k = 14, e;

		for (int v = dfd; v || n == 0; v /= 10)
			digits[n++] = (char)('0' + v % 10);
		while (n)
			fdpath[k++] = digits[--n];
		fdpath[k] = '\0';
		e = util_mkdir_p(p, 0700);
		if (e)
			return -e;
		if (mount(fdpath, p, NULL, MS_BIND, NULL) < 0)
			return errno;
		close(dfd);
	}
	return 0;
}

static void child_exec(const struct charon *c, int errfd, pid_t parent, char *const envp[])
{
	char *argv[] = { c->charon_path, NULL };
	sigset_t none;
	int err, fd;

	/* charon should not outlive the agent that supervises it. PDEATHSIG fires when the
	 * forking thread exits, so the agent starts charon from its main thread. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent) {
		err = ESRCH;
		goto fail;
	}
	setpgid(0, 0);
	err = child_setup_mounts(c);
	if (err)
		goto fail;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, 0);
	fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	/* Nothing of the agent's goes along: libraries (libcurl's sockets, a pipe) do not all
	 * open with O_CLOEXEC. Marking instead of closing keeps errfd until exec. */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		err = errno;
		goto fail;
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(c->charon_path, argv, envp);
	err = errno;
fail:
	if (write(errfd, &err, sizeof(err)) < 0)
		err = 0;
	_exit(127);
}

/* environ plus STRONGSWAN_CONF (replacing any inherited one); NULL on ENOMEM. */
static char **make_env(const struct charon *c)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	if (asprintf(&env[k++], "STRONGSWAN_CONF=%s", c->conf_path) < 0) {
		free(env);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "STRONGSWAN_CONF=", 16))
			env[k++] = environ[i];
	return env;
}

/* Polls VICI "version" until it answers, charon dies, or the deadline passes. */
static int wait_vici(struct charon *c, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
		struct vici_conn *vc = vici_conn_open(c->vici_path);
		uint64_t now;

		if (vc) {
			struct vici_node *r = NULL;
			int err = vici_conn_cmd(vc, "version", NULL, &r, 1000);

			vici_conn_close(vc);
			if (!err) {
				pr_info("charon %d up: %s %s, data path %s, vici %s\n",
					(int)c->pid, vici_get_str(r, "daemon") ?: "?",
					vici_get_str(r, "version") ?: "?",
					charon_datapath_str(c->dp), c->vici_path);
				vici_node_free(r);
				return 0;
			}
		}
		now = util_now_ns();
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		/* Sleep 20 ms, but wake at once when charon exits. */
		if (poll(&p, 1, 20) > 0)
			return -ECHILD;
	}
}

int charon_start(struct charon *c, int timeout_ms)
{
	uint64_t deadline = util_now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	int pipefd[2], child_err = 0, err, wst;
	char *conf, **env;
	pid_t pid, parent = getpid();
	ssize_t n;

	if (charon_running(c))
		return -EALREADY;
	err = util_mkdir_p(c->dir, 0700);
	if (err)
		return err;
	conf = charon_render_conf(c);
	if (!conf)
		return -ENOMEM;
	err = util_write_file(c->conf_path, conf, strlen(conf), 0600);
	free(conf);
	if (err)
		return err;
	/* A stale socket would answer nothing; charon replaces it anyway. */
	if (unlink(c->vici_path) < 0 && errno != ENOENT)
		return -errno;
	env = make_env(c);
	if (!env)
		return -ENOMEM;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		err = -errno;
		goto out_env;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		goto out_env;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_exec(c, pipefd[1], parent, env);
	}
	close(pipefd[1]);
	free(env[0]);
	free(env);
	/* EOF on the CLOEXEC pipe means exec succeeded. */
	do {
		n = read(pipefd[0], &child_err, sizeof(child_err));
	} while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(child_err)) {
		waitpid(pid, &wst, 0);
		pr_err("start charon %s: %s\n", c->charon_path, strerror(child_err));
		return -child_err;
	}
	c->pid = pid;
	c->pidfd = sys_pidfd_open(pid);
	if (c->pidfd < 0) {
		err = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, &wst, 0);
		c->pid = 0;
		return err;
	}
	err = wait_vici(c, deadline);
	if (err) {
		pr_err("start charon: %s (log: %s)\n",
		       err == -ECHILD ? "exited during startup" : strerror(-err), c->log_path);
		if (charon_stop(c, 1000))
			pr_warn("stop charon: failed\n");
		return err;
	}
	return 0;

out_env:
	free(env[0]);
	free(env);
	return err;
}

int charon_reap(struct charon *c, int *wstatus)
{
	int st = 0;
	pid_t r;

	if (!charon_running(c))
		return 0;
	r = waitpid(c->pid, &st, WNOHANG);
	if (r == 0)
		return 0;
	if (r < 0 && errno != ECHILD)
		return -errno;
	/* ECHILD: someone else reaped it (SIGCHLD ignored); the pidfd still told us. */
	if (r < 0) {
		struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			return 0;
	}
	if (wstatus)
		*wstatus = st;
	close(c->pidfd);
	c->pidfd = -1;
	c->pid = 0;
	return 1;
}

int charon_stop(struct charon *c, int timeout_ms)
{
	struct pollfd p;
	int r, st;

	if (!charon_running(c))
		return 0;
	p.fd = c->pidfd;
	p.events = POLLIN;
	if (sys_pidfd_send_signal(c->pidfd, SIGTERM) < 0 && errno != ESRCH)
		return -errno;
	r = poll(&p, 1, timeout_ms);
	if (r == 0) {
		pr_warn("charon %d did not stop in %d ms: killing it\n", (int)c->pid, timeout_ms);
		if (sys_pidfd_send_signal(c->pidfd, SIGKILL) < 0 && errno != ESRCH)
			return -errno;
		r = poll(&p, 1, 5000);
		if (r <= 0)
			return -ETIMEDOUT;
	}
	r = charon_reap(c, &st);
	if (r < 0)
		return r;
	if (r == 0)
		return -EAGAIN;
	pr_info("charon stopped (%s %d)\n", WIFSIGNALED(st) ? "signal" : "exit",
		WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return 0;
}
