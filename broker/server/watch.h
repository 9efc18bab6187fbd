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

struct brk_hub;
struct brk_watcher;
struct brk_store;
struct brk_resource;
struct brk_event;
struct MHD_Connection;

/* head: the store revision the feed starts after; ring: events kept in memory for resume
 * without touching the store. NULL on ENOMEM. */
struct brk_hub *brk_hub_new(struct brk_store *st, uint64_t head, unsigned ring,
			    unsigned bookmark_ms);
/* Ends every stream; call before MHD_stop_daemon (no suspended connection may remain). */
void brk_hub_shutdown(struct brk_hub *h);
void brk_hub_free(struct brk_hub *h);
/* The store feed callback (ctx = hub). */
void brk_hub_publish(const struct brk_event *ev, void *ctx);
uint64_t brk_hub_head(struct brk_hub *h);
unsigned brk_hub_watchers(struct brk_hub *h);

/* A stream of resource r for changes after rv (from_current: first an ADDED per current
 * object, then changes). 0, -ESTALE (rv too old: 410), -ENOMEM, -EIO. */
int brk_hub_watch(struct brk_hub *h, const struct brk_resource *r, bool from_current,
		  uint64_t rv, struct brk_watcher **out) __attribute__((warn_unused_result));
/* Binds the stream to the connection it is sent on (before MHD_queue_response). */
void brk_watcher_attach(struct brk_watcher *w, struct MHD_Connection *c);
/* MHD content reader and its free callback (cls = watcher). */
ssize_t brk_watcher_read(void *cls, uint64_t pos, char *buf, size_t max);
void brk_watcher_free(void *cls);

#endif
