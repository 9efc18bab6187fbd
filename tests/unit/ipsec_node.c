/* Test helper for tests/e2e/test_ipsec_cable.sh (not a unit test: tests/run-all.sh runs
 * only test_* programs). It plays a gateway engine in one network namespace: starts
 * charon through the ipsec cable driver, connects to one remote cluster and runs the event
 * loop. It writes DIR/status after every event and every 300 ms:
 *     cluster=c2 state=connected connected=1 bytes_in=.. bytes_out=.. packets_in=..
 *     packets_out=.. ups=N downs=N evup=0|1  (evup: the state the driver's events report)
 * and obeys one-line commands written to the FIFO DIR/ctl: "disconnect", "connect", "quit",
 * "creds" (reads the certificate directory again and hands it to the driver: a renewal).
 * IKE authenticates with --psk-file, or with --cert-dir DIR holding key.pem, cert.pem,
 * chain.pem and ca.pem (what a gateway gets from the broker).
 * SIGTERM also ends it; charon is stopped on the way out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cable/cable.h"
#include "agent/cable/strongswan/charon.h"
#include "common/log.h"
#include "common/util.h"

struct node {
	const struct cable_ops *ops;
	struct cable_driver *drv;
	struct cable_endpoint local, remote;
	char dir[256];
	int ups, downs;
	bool evup;	/* state as the driver's events tell it */
};

static void on_event(void *ctx, const char *cluster, bool up)
{
	struct node *n = ctx;

	n->evup = up;
	if (up)
		n->ups++;
	else
		n->downs++;
	pr_info("node: tunnel to %s %s\n", cluster, up ? "UP" : "DOWN");
}

static void write_status(struct node *n)
{
	struct cable_status *st = NULL;
	size_t cnt = 0;
	char buf[1024], path[300];
	int len = 0, err;

	err = n->ops->list(n->drv, &st, &cnt);
	if (err) {
		len = snprintf(buf, sizeof(buf), "error=%d ups=%d downs=%d\n", err, n->ups,
			       n->downs);
	} else if (cnt == 0) {
		len = snprintf(buf, sizeof(buf), "cluster=none state=none connected=0 ups=%d "
			       "downs=%d\n", n->ups, n->downs);
	}
	for (size_t i = 0; !err && i < cnt && len < (int)sizeof(buf); i++)
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
				"cluster=%s state=%s connected=%d bytes_in=%llu bytes_out=%llu "
				"packets_in=%llu packets_out=%llu ups=%d downs=%d evup=%d\n",
				st[i].cluster_id, st[i].state, st[i].connected ? 1 : 0,
				(unsigned long long)st[i].bytes_in,
				(unsigned long long)st[i].bytes_out,
				(unsigned long long)st[i].packets_in,
				(unsigned long long)st[i].packets_out, n->ups, n->downs, n->evup);
	free(st);
	snprintf(path, sizeof(path), "%s/status", n->dir);
	if (len > 0 && util_write_file(path, buf, strlen(buf), 0644))
		pr_warn("node: write %s failed\n", path);
}

static int parse_ep(struct cable_endpoint *e, const char *id, const char *ip, const char *subnet)
{
	snprintf(e->cluster_id, sizeof(e->cluster_id), "%s", id);
	snprintf(e->hostname, sizeof(e->hostname), "%s-gw", id);
	e->natt_port = 4500;
	e->n_subnets = 1;
	e->epoch = 1;
	if (ip4_parse(ip, &e->private_ip) || cidr4_parse(subnet, &e->subnets[0]))
		return -EINVAL;
	e->public_ip = e->private_ip;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ipsec_node --dir DIR --id ID --ip IP --subnet CIDR --remote-id ID "
		"--remote-ip IP --remote-subnet CIDR --psk-file FILE|--cert-dir DIR [--ike P] [--esp P]\n");
}

struct creds_buf {
	char *psk, *key, *cert, *chain, *ca;
	struct cable_creds c;
};

static void creds_free(struct creds_buf *b)
{
	util_free_secret(b->psk);
	util_free_secret(b->key);
	free(b->cert);
	free(b->chain);
	free(b->ca);
	memset(b, 0, sizeof(*b));
}

static char *read_in(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return util_read_file(path, 65536, NULL);
}

static int creds_load(struct creds_buf *b, const char *pskf, const char *cdir)
{
	creds_free(b);
	if (pskf) {
		b->psk = util_read_file(pskf, 4096, NULL);
		if (!b->psk)
			return -errno;
		b->psk[strcspn(b->psk, "\r\n")] = '\0';
		b->c.psk = b->psk;
		return 0;
	}
	b->key = read_in(cdir, "key.pem");
	b->cert = read_in(cdir, "cert.pem");
	b->chain = read_in(cdir, "chain.pem");
	b->ca = read_in(cdir, "ca.pem");
	if (!b->key || !b->cert || !b->ca)
		return -ENOENT;
	b->c = (struct cable_creds){ .key_pem = b->key, .cert_pem = b->cert,
				     .chain_pem = b->chain, .ca_pem = b->ca };
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", 1, NULL, 'd' }, { "id", 1, NULL, 'i' }, { "ip", 1, NULL, 'a' },
		{ "subnet", 1, NULL, 's' }, { "remote-id", 1, NULL, 'I' },
		{ "remote-ip", 1, NULL, 'A' }, { "remote-subnet", 1, NULL, 'S' },
		{ "psk-file", 1, NULL, 'p' }, { "cert-dir", 1, NULL, 'c' },
		{ "ike", 1, NULL, 'k' }, { "esp", 1, NULL, 'e' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *id = NULL, *ip = NULL, *subnet = NULL, *rid = NULL,
		   *rip = NULL, *rsubnet = NULL, *pskf = NULL, *cdir = NULL, *ike = NULL, *esp = NULL;
	struct node n = { .ops = &cable_ipsec_ops };
	struct charon_opts co = { .datapath = CHARON_DP_AUTO, .log_level = 1 };
	struct cable_config cfg = { .on_event = on_event, .ctx = &n, .charon = &co };
	char ctl[300], line[128];
	struct creds_buf creds = { 0 };
	struct pollfd pfd[3];
	sigset_t mask;
	int c, err, rc = 1, ctlfd = -1, sfd;
	bool quit = false;
	uint64_t next_status = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'i': id = optarg; break;
		case 'a': ip = optarg; break;
		case 's': subnet = optarg; break;
		case 'I': rid = optarg; break;
		case 'A': rip = optarg; break;
		case 'S': rsubnet = optarg; break;
		case 'p': pskf = optarg; break;
		case 'c': cdir = optarg; break;
		case 'k': ike = optarg; break;
		case 'e': esp = optarg; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (!dir || !id || !ip || !subnet || !rid || !rip || !rsubnet || !pskf == !cdir) {
		usage();
		return 2;
	}
	log_set_timestamps(1);
	log_set_component(id);
	snprintf(n.dir, sizeof(n.dir), "%s", dir);
	if (parse_ep(&n.local, id, ip, subnet) || parse_ep(&n.remote, rid, rip, rsubnet)) {
		fprintf(stderr, "bad address or subnet\n");
		return 2;
	}
	err = creds_load(&creds, pskf, cdir);
	if (err) {
		fprintf(stderr, "read %s: %s\n", pskf ? pskf : cdir, strerror(-err));
		return 1;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	snprintf(ctl, sizeof(ctl), "%s/ctl", dir);
	unlink(ctl);
	if (sfd < 0 || mkfifo(ctl, 0600) < 0 ||
	    (ctlfd = open(ctl, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		fprintf(stderr, "setup: %s\n", strerror(errno));
		goto out_psk;
	}

	co.dir = dir;
	cfg.local_cluster_id = id;
	cfg.creds = &creds.c;
	cfg.ike_proposals = ike;
	cfg.esp_proposals = esp;
	cfg.dpd_delay_s = 2;
	err = n.ops->init(&cfg, &n.drv);
	if (err) {
		pr_err("init %s cable: %s\n", n.ops->name, strerror(-err));
		goto out_psk;
	}
	err = n.ops->connect(n.drv, &n.remote, n.remote.private_ip, &n.local);
	if (err)
		pr_err("connect %s: %s\n", rid, strerror(-err));

	while (!quit) {
		int r, tmo;
		uint64_t now = util_now_ns();

		if (now >= next_status) {
			write_status(&n);
			next_status = now + 300000000ull;
		}
		tmo = (int)((next_status - now) / 1000000) + 1;
		pfd[0] = (struct pollfd){ .fd = n.ops->fd(n.drv), .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = ctlfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		r = poll(pfd, 3, tmo);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (pfd[0].revents) {
			err = n.ops->dispatch(n.drv);
			if (err)
				pr_warn("dispatch: %s\n", strerror(-err));
			next_status = 0;
		}
		if (pfd[2].revents)
			quit = true;
		if (pfd[1].revents) {
			ssize_t k = read(ctlfd, line, sizeof(line) - 1);

			if (k <= 0)
				continue;
			line[k] = '\0';
			if (strncmp(line, "disconnect", 10) == 0) {
				err = n.ops->disconnect(n.drv, rid);
				pr_info("node: disconnect %s: %s\n", rid, err ? strerror(-err) : "ok");
			} else if (strncmp(line, "connect", 7) == 0) {
				err = n.ops->connect(n.drv, &n.remote, n.remote.private_ip, &n.local);
				pr_info("node: connect %s: %s\n", rid, err ? strerror(-err) : "ok");
			} else if (strncmp(line, "creds", 5) == 0) {
				err = creds_load(&creds, pskf, cdir);
				if (!err)
					err = n.ops->set_creds(n.drv, &creds.c);
				pr_info("node: new credentials: %s\n", err ? strerror(-err) : "ok");
			} else if (strncmp(line, "quit", 4) == 0) {
				quit = true;
			}
			next_status = 0;
		}
	}
	rc = 0;
	n.ops->fini(n.drv);
out_psk:
	if (ctlfd >= 0)
		close(ctlfd);
	unlink(ctl);
	creds_free(&creds);
	return rc;
}
