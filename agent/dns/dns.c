/* The DNS server daemon (dns.h): configuration, broker client, records, feed, sockets,
 * signals, all on one thread (the informers have their own). */
#include "agent/dns/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/dns/dns_feed.h"
#include "agent/dns/dns_server.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/log.h"

struct daemon {
	struct dns_server *srv;
	struct dns_feed *feed;
	struct dns_records *db;
	int sigfd;
	bool synced;
};

static void on_feed(void *ctx)
{
	struct daemon *d = ctx;

	dns_feed_drain(d->feed);
	if (!d->synced && dns_feed_synced(d->feed)) {
		d->synced = true;
		pr_info("synced with the broker: %u service(s)\n", dns_records_services(d->db));
	}
}

static void on_signal(void *ctx)
{
	struct daemon *d = ctx;
	struct signalfd_siginfo si;

	if (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		pr_info("signal %u: stopping\n", si.ssi_signo);
		dns_server_stop(d->srv);
	}
}

static void stats_line(const struct dns_wire_stats *st)
{
	pr_info("answered %llu queries (%llu NXDOMAIN, %llu no data, %llu NOTIMP, %llu REFUSED, "
		"%llu FORMERR, %llu truncated; %llu dropped)\n",
		(unsigned long long)st->queries, (unsigned long long)st->nxdomain,
		(unsigned long long)st->nodata, (unsigned long long)st->notimp,
		(unsigned long long)st->refused, (unsigned long long)st->formerr,
		(unsigned long long)st->truncated, (unsigned long long)st->dropped);
}

int dns_run(const struct dns_opts *o)
{
	const char *zones[DNS_ZONE_MAX] = { DNS_DEFAULT_ZONE };
	struct cluster_config cfg = { 0 };
	struct daemon d = { .sigfd = -1 };
	struct brk_client *brk = NULL;
	struct sockaddr_in sa;
	char broker[1024] = "", err[BRK_ERR_MAX];
	unsigned nz = 1;
	sigset_t mask;
	int rc;

	if (o->n_zones) {
		memcpy(zones, o->zones, o->n_zones * sizeof(*zones));
		nz = o->n_zones;
	}
	if (dns_parse_listen(o->listen, &sa)) {
		pr_err("--listen '%s': want IPv4ADDR:PORT\n", o->listen ? o->listen : "");
		return -EINVAL;
	}
	rc = cluster_config_load_reader(o->config_dir, &cfg, err);
	if (rc) {
		pr_err("%s\n", err);
		return rc;
	}
	d.db = dns_records_new(cfg.cluster_id, cfg.n_global_cidrs > 0, o->ttl, zones, nz);
	if (!d.db) {
		rc = -errno;
		pr_err("records: %s\n", strerror(errno));
		goto out;
	}
	/* Signals come through a signalfd: blocked before any thread starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d.srv = dns_server_open(&sa, d.db);
	if (d.sigfd < 0 || !d.srv) {
		rc = -errno;
		pr_err("listen on %s: %s\n", o->listen, strerror(errno));
		goto out;
	}
	brk = brk_client_new(cfg.broker_urls, cfg.n_broker_urls, cfg.ca_path, cfg.token);
	if (!brk) {
		rc = -errno;
		pr_err("broker client: %s\n", strerror(errno));
		goto out;
	}
	brk_client_set_timeouts(brk, 2000, 5000);
	for (size_t i = 0; i < cfg.n_broker_urls; i++)
		snprintf(broker + strlen(broker), sizeof(broker) - strlen(broker), "%s%s", i ? "," : "",
			 cfg.broker_urls[i]);
	d.feed = dns_feed_start(brk, d.db, cfg.n_global_cidrs > 0, o->cache_path, broker, cfg.cluster_id);
	if (!d.feed) {
		rc = -errno;
		pr_err("broker feed: %s\n", strerror(errno));
		goto out;
	}
	if ((rc = dns_server_add_fd(d.srv, dns_feed_fd(d.feed), on_feed, &d)) ||
	    (rc = dns_server_add_fd(d.srv, d.sigfd, on_signal, &d)))
		goto out;
	pr_info("cluster %s: serving %s%s%s on %s (UDP and TCP, TTL %u s)%s\n", cfg.cluster_id, zones[0],
		nz > 1 ? " and " : "", nz > 1 ? "more zones" : "", o->listen, o->ttl,
		cfg.n_global_cidrs ? ", globalnet: other clusters answer with global IPs" : "");
	rc = dns_server_run(d.srv);
	stats_line(dns_server_stats(d.srv));
out:
	/* the sockets first: a new server can bind while the informers wind down */
	dns_server_close(d.srv);
	dns_feed_stop(d.feed);
	brk_client_free(brk);
	if (d.sigfd >= 0)
		close(d.sigfd);
	dns_records_free(d.db);
	cluster_config_free(&cfg);
	return rc;
}
