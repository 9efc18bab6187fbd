/* The watch hub: fans the store's change feed out to every watch stream.
 *
 * Threads: the HTTP server runs a small MHD thread pool over epoll; a watch stream is an
 * MHD response whose content reader takes the next event line from the hub and, when there
 * is none, suspends its connection (MHD_suspend_connection). A new event resumes exactly
 * the suspended streams of its resource. So 1000 idle watchers cost 1000 sockets and a few
 * hundred bytes each, not 1000 threads, and one event is serialized once and shared
 * (refcounted) by every stream that sends it. A timer thread resumes every stream every
 * bookmark interval to send a BOOKMARK, which also finds dead peers (the send fails). */
#ifndef SA_BRK_WATCH_H
#define SA_BRK_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct srv_hub;
struct srv_watcher;
struct store;
struct srv_resource;
struct store_event;
struct MHD_Connection;

/* head: the store revision the feed starts after; ring: events kept in memory for resume
 * without touching the store, at most ring_bytes of them (0: no bound). NULL on ENOMEM. */
struct srv_hub *srv_hub_new(struct store *st, uint64_t head, unsigned ring, size_t ring_bytes,
			    unsigned bookmark_ms);
/* Ends every stream; call before MHD_stop_daemon (no suspended connection may remain). */
void srv_hub_shutdown(struct srv_hub *h);
void srv_hub_free(struct srv_hub *h);
/* The store feed callback (ctx = hub). */
void srv_hub_publish(const struct store_event *ev, void *ctx);
uint64_t srv_hub_head(struct srv_hub *h);
unsigned srv_hub_watchers(struct srv_hub *h);

/* A stream of resource r for changes after rv (from_current: first an ADDED per current
 * object, then changes). 0, -ESTALE (rv too old: 410), -ENOMEM, -EIO. */
int srv_hub_watch(struct srv_hub *h, const struct srv_resource *r, bool from_current,
		  uint64_t rv, struct srv_watcher **out) __attribute__((warn_unused_result));
/* fn(ctx, who) runs once when the stream ends (its quota slot is freed). who is copied. */
void srv_watcher_on_free(struct srv_watcher *w, void (*fn)(void *ctx, const char *who), void *ctx,
			 const char *who);
/* Binds the stream to the connection it is sent on (before MHD_queue_response). */
void srv_watcher_attach(struct srv_watcher *w, struct MHD_Connection *c);
/* MHD content reader and its free callback (cls = watcher). */
ssize_t srv_watcher_read(void *cls, uint64_t pos, char *buf, size_t max);
void srv_watcher_free(void *cls);

#endif
