/* Test helper (not a benchmark, not a subcommand): runs one node of the gateway election
 * for tests/e2e/test_election.sh, or sends forged heartbeats.
 *   election_node --cluster C --name N --ip A --bcast B --key-file F --state-dir D
 *                 --status FILE [--peer A]... [--no-gateway] [--port P]
 *                 [--interval-ms N] [--dead-ms N]
 *   election_node --forge --cluster C --name N --ip A --bcast B --key-file F [--epoch E]
 *   [--lie-epoch E]: claims the active role with epoch E at once (a node with the key
 *                    that lies; tests of the epoch bound)
 * The status file is rewritten on every change:
 *   active=0|1 epoch=E activenode=NAME|- activevtep=IP since=REALTIME_NS peers=n1,n2,...
 * SIGUSR1 resigns (planned handover); SIGHUP announces a restart (as the agent does on
 * SIGTERM) and keeps running; SIGTERM stops without resigning.
 * and each change is logged to stdout as "EVENT ..." lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/election/election.h"
#include "agent/election/election_int.h"
#include "common/log.h"
#include "common/util.h"

static volatile sig_atomic_t stop, resign, restarting;
static struct election *el;
static const char *status_path;
static bool was_active;
static uint64_t since_ns;
static char known[1024] = ",";	/* ",n1,n2," : the alive peers last reported */

static void on_sig(int sig) { stop = 1; }
static void on_usr1(int sig) { resign = 1; }
static void on_hup(int sig) { restarting = 1; }

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_change(void *ctx)
{
	struct election_peer all[16], act;
	char buf[1024], *p = buf;
	unsigned n = election_peers(el, all, 16);
	bool active = election_is_active(el);
	int err;

	{
		char now_set[1024] = ",";
		uint64_t t = realtime_ns();

		for (unsigned i = 1; i < n && i < 16; i++) {
			char key[ELECTION_NAME_MAX + 3];

			snprintf(key, sizeof(key), ",%s,", all[i].node);
			if (!strstr(known, key))
				printf("EVENT %" PRIu64 " peer %s up\n", t, all[i].node);
			if (strlen(now_set) + strlen(all[i].node) + 2 < sizeof(now_set)) {
				strcat(now_set, all[i].node);
				strcat(now_set, ",");
			}
		}
		for (char *q = known + 1, *end; (end = strchr(q, ',')); q = end + 1) {
			char key[ELECTION_NAME_MAX + 3];

			snprintf(key, sizeof(key), ",%.*s,", (int)(end - q), q);
			if (end > q && !strstr(now_set, key))
				printf("EVENT %" PRIu64 " peer %.*s down\n", t, (int)(end - q), q);
		}
		strcpy(known, now_set);
	}
	if (active && !was_active) {
		since_ns = realtime_ns();
		printf("EVENT %" PRIu64 " became active epoch %" PRIu64 "\n", since_ns, election_epoch(el));
	} else if (!active && was_active) {
		printf("EVENT %" PRIu64 " stepped down epoch %" PRIu64 "\n", realtime_ns(), election_epoch(el));
	}
	was_active = active;
	{
		bool have = election_active_peer(el, &act) == 0;
		struct in_addr vtep = { .s_addr = have ? htonl(act.adv.vtep_ip) : 0 };

		p += snprintf(p, sizeof(buf) - 64, "active=%d epoch=%" PRIu64 " activenode=%s activevtep=%s since=%" PRIu64 " peers=",
			      active, election_epoch(el), have ? act.node : "-", inet_ntoa(vtep), since_ns);
	}
	for (unsigned i = 0; i < n && i < 16; i++)
		p += snprintf(p, (size_t)(buf + sizeof(buf) - 2 - p), "%s%s", i ? "," : "", all[i].node);
	*p++ = '\n';
	printf("STATUS %" PRIu64 " %.*s", realtime_ns(), (int)(p - buf), buf);
	fflush(stdout);
	err = util_write_file(status_path, buf, (size_t)(p - buf), 0644);
	if (err)
		pr_err("write %s: %s\n", status_path, strerror(-err));
}

static int parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* Sends heartbeats claiming the active role with a key derived from the given (wrong)
 * secret and a newer-than-anything sequence number. */
static int forge(const struct election_cfg *c, uint64_t epoch)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(c->port ? c->port : ELECTION_PORT),
				   .sin_addr.s_addr = htonl(c->bcast) };
	struct election_msg m = { .flags = ELECTION_F_GATEWAY | ELECTION_F_ACTIVE, .epoch = epoch };
	uint8_t buf[ELECTION_MSG_MAX], k[32];
	int fd, one = 1, len;

	election_derive_key(c->key, c->key_len, k);
	snprintf(m.cluster_id, sizeof(m.cluster_id), "%s", c->cluster_id);
	snprintf(m.node, sizeof(m.node), "%s", c->node);
	m.seq = UINT64_MAX - 10;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0)
		return 1;
	for (int i = 0; i < 5; i++) {
		m.seq++;
		len = election_msg_encode(&m, k, sizeof(k), buf, sizeof(buf));
		if (len < 0 || sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&dst, sizeof(dst)) != len) {
			perror("forge: sendto");
			return 1;
		}
		usleep(20000);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cluster", 1, NULL, 'c' }, { "name", 1, NULL, 'n' }, { "ip", 1, NULL, 'i' },
		{ "bcast", 1, NULL, 'b' }, { "peer", 1, NULL, 'p' }, { "key-file", 1, NULL, 'k' },
		{ "state-dir", 1, NULL, 's' }, { "status", 1, NULL, 'S' },
		{ "no-gateway", 0, NULL, 'G' }, { "port", 1, NULL, 'P' },
		{ "interval-ms", 1, NULL, 'I' }, { "dead-ms", 1, NULL, 'D' },
		{ "forge", 0, NULL, 'F' }, { "epoch", 1, NULL, 'E' }, { "lie-epoch", 1, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct election_cfg c = { .gateway_capable = true };
	uint32_t peers[16];
	uint64_t epoch = 1000, lie = 0;
	char *key = NULL;
	size_t key_len = 0;
	int opt, do_forge = 0, rc = 1;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': c.cluster_id = optarg; break;
		case 'n': c.node = optarg; break;
		case 'i': if (parse_ip(optarg, &c.node_ip)) goto usage; break;
		case 'b': if (parse_ip(optarg, &c.bcast)) goto usage; break;
		case 'p':
			if (c.n_peers >= 16 || parse_ip(optarg, &peers[c.n_peers++]))
				goto usage;
			c.peers = peers;
			break;
		case 'k':
			key = util_read_file(optarg, 4096, &key_len);
			if (!key) {
				perror(optarg);
				return 1;
			}
			break;
		case 's': c.state_dir = optarg; break;
		case 'S': status_path = optarg; break;
		case 'G': c.gateway_capable = false; break;
		case 'P': c.port = (uint16_t)atoi(optarg); break;
		case 'I': c.interval_ns = strtoull(optarg, NULL, 10) * 1000000ull; break;
		case 'D': c.dead_ns = strtoull(optarg, NULL, 10) * 1000000ull; break;
		case 'F': do_forge = 1; break;
		case 'E': epoch = strtoull(optarg, NULL, 10); break;
		case 'L': lie = strtoull(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (!c.cluster_id || !c.node || !key || (!do_forge && !status_path))
		goto usage;
	while (key_len && (key[key_len - 1] == '\n' || key[key_len - 1] == '\r'))
		key_len--;
	c.key = (const uint8_t *)key;
	c.key_len = key_len;
	c.adv.vtep_ip = c.node_ip;
	c.adv.private_ip = c.node_ip;
	c.on_change = on_change;
	log_set_timestamps(1);
	log_set_level(LOG_LVL_INFO);
	if (do_forge) {
		rc = forge(&c, epoch);
		goto out;
	}
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	{
		struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART: wakes poll */

		sigaction(SIGUSR1, &sa, NULL);
		sa.sa_handler = on_hup;
		sigaction(SIGHUP, &sa, NULL);
	}
	el = election_open(&c, util_now_ns());
	if (!el) {
		fprintf(stderr, "election_open: %s\n", strerror(errno));
		goto out;
	}
	if (lie)
		election_force_claim(el, lie, util_now_ns());
	while (!stop) {
		struct pollfd pfd = { .fd = election_fd(el), .events = POLLIN };
		uint64_t wait;

		if (resign) {
			resign = 0;
			election_resign(el, util_now_ns());
		}
		if (restarting) {
			restarting = 0;
			election_restarting(el, util_now_ns());
		}
		wait = election_tick(el, util_now_ns());

		if (poll(&pfd, 1, (int)((wait + 999999) / 1000000)) > 0)
			election_on_readable(el, util_now_ns());
	}
	election_close(el);
	rc = 0;
out:
	util_free_secret(key);
	return rc;
usage:
	fprintf(stderr, "usage: election_node --cluster C --name N --ip A --bcast B --key-file F "
		"--state-dir D --status FILE [--peer A]... [--no-gateway] [--forge [--epoch E]]\n");
	util_free_secret(key);
	return 2;
}
