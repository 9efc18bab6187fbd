/* Informers feeding one event loop: each informer's callbacks (on its own thread) queue
 * their objects, and an eventfd wakes the loop, which takes the whole queue at once.
 * The loop's thread then owns the events. */
#ifndef SA_BROKER_QUEUE_H
#define SA_BROKER_QUEUE_H

#include <cjson/cJSON.h>

#include "broker/client/client.h"

#define BRK_QUEUE_MAX_SOURCES 8

enum brk_qev_type {
	BRK_QEV_UPSERT,		/* added or changed: obj */
	BRK_QEV_DELETE,		/* deleted: obj (its last version) */
	BRK_QEV_SYNCED,		/* the informer (re)listed: no obj */
};

struct brk_qev {
	struct brk_qev *next;
	enum brk_qev_type type;
	int source;		/* the source given to brk_queue_watch() */
	cJSON *obj;		/* owned; NULL for BRK_QEV_SYNCED */
};

struct brk_queue;

/* NULL + errno. */
struct brk_queue *brk_queue_new(void);
/* Frees the queue and what is still in it; every informer that feeds it must be stopped
 * first. NULL-safe. */
void brk_queue_free(struct brk_queue *q);
/* Readable when events are waiting. */
int brk_queue_fd(const struct brk_queue *q);
/* Starts an informer on resource whose events come out of q tagged with source (one
 * informer per source, 0..BRK_QUEUE_MAX_SOURCES-1). The caller stops it. NULL + errno. */
struct brk_informer *brk_queue_watch(struct brk_queue *q, struct brk_client *c,
				     const char *resource, int source);
/* Takes every queued event, oldest first, and clears the fd. Free with brk_qev_free(). */
struct brk_qev *brk_queue_take(struct brk_queue *q);
/* Frees e and returns the next one. */
struct brk_qev *brk_qev_free(struct brk_qev *e);
/* Drops every queued event. */
void brk_queue_clear(struct brk_queue *q);

#endif
