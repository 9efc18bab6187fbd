/* The DNS server's feed: broker informers (ServiceImports, GatewayStatuses and, with
 * globalnet, GlobalIngressIPs) whose events reach the records on the server's thread
 * through one queue (broker/client/queue.h). The records live on while the broker is
 * away; with a cache file they also outlive a restart: the file names the broker and the
 * cluster it came from and is used only by the same ones, until the broker answers. */
#ifndef SA_DNS_FEED_H
#define SA_DNS_FEED_H

#include <stdbool.h>

#include "agent/dns/dns_records.h"

struct brk_client;
struct dns_feed;

/* cache_path may be NULL (no cache file). broker: a text naming the broker (its URLs),
 * cluster: this cluster's ID; both are written into the cache and must match on load.
 * NULL with errno. */
struct dns_feed *dns_feed_start(struct brk_client *c, struct dns_records *db, bool globalnet,
				const char *cache_path, const char *broker, const char *cluster);
/* Readable when events wait: call dns_feed_drain(). */
int dns_feed_fd(const struct dns_feed *f);
/* Applies every waiting event to the records (and rewrites the cache file). */
void dns_feed_drain(struct dns_feed *f);
/* Every informer has listed the broker at least once. */
bool dns_feed_synced(const struct dns_feed *f);
/* Stops the informers and frees the feed. NULL-safe. */
void dns_feed_stop(struct dns_feed *f);

#endif
