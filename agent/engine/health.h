/* Health checker: probes every connected cluster through its tunnel with ICMP echo, from a
 * local address inside the tunnel's selectors to the remote gateway's health-check IP, and
 * keeps RTT statistics and a status per cluster. Single-threaded: the caller polls
 * health_fd() and calls health_on_readable() and health_tick(). */
#ifndef SA_HEALTH_H
#define SA_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct health;

enum health_status {
	HEALTH_CONNECTING = 0,	/* no reply yet */
	HEALTH_CONNECTED,
	HEALTH_ERROR,		/* HEALTH_LOSS_LIMIT probes in a row lost */
};

#define HEALTH_LOSS_LIMIT 5

struct health_stats {
	enum health_status status;
	uint64_t last_ns, min_ns, avg_ns, max_ns, stddev_ns;	/* over the last samples */
	uint64_t sent, received;
	uint32_t lost_in_row;
};

/* interval_ns: time between probes to one target (1 s in the agent). NULL + errno. */
struct health *health_new(uint64_t interval_ns);
void health_free(struct health *h);
int health_fd(const struct health *h);

/* Adds or replaces the target for cluster (addresses in host byte order). Replacing with
 * other addresses resets its statistics. 0 or -errno. */
int health_set_target(struct health *h, const char *cluster, uint32_t src, uint32_t dst)
	__attribute__((warn_unused_result));
void health_remove(struct health *h, const char *cluster);
/* Probes cluster at the next health_tick() instead of after the interval (its tunnel just
 * came up: say so as soon as replies arrive). */
void health_kick(struct health *h, const char *cluster);
/* Whether a target's status changed (connected, error) since the last call. */
bool health_take_changed(struct health *h);
/* 0 and *out filled, or -ENOENT. */
int health_get(const struct health *h, const char *cluster, struct health_stats *out);

/* Sends the probes that are due; returns ns until the next one is due. */
uint64_t health_tick(struct health *h, uint64_t now_ns);
/* Reads every pending reply from the socket. */
void health_on_readable(struct health *h, uint64_t now_ns);

const char *health_status_name(enum health_status s);

/* Parses an IPv4 packet holding an ICMP echo reply (what a raw ICMP socket reads).
 * 0 with id/seq/the 8-byte send timestamp from the payload, or -EINVAL. Exposed for the
 * fuzz target: it reads untrusted bytes. */
int health_parse_reply(const uint8_t *pkt, size_t len, uint16_t *id, uint16_t *seq,
		       uint64_t *sent_ns);

#endif
