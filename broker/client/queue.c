/* Informers feeding one event loop (see queue.h). */
#include "broker/client/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

struct binding {
	struct brk_queue *q;
	int source;
};

struct brk_queue {
	pthread_mutex_t lock;
	struct brk_qev *head, *tail;
	int evfd;
	struct binding bind[BRK_QUEUE_MAX_SOURCES];
};

struct brk_queue *brk_queue_new(void)
{
	struct brk_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->evfd < 0) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void brk_queue_free(struct brk_queue *q)
{
	if (!q)
		return;
	brk_queue_clear(q);
	close(q->evfd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int brk_queue_fd(const struct brk_queue *q)
{
	return q->evfd;
}

static void push(struct binding *b, enum brk_qev_type type, const cJSON *obj)
{
	struct brk_queue *q = b->q;
	struct brk_qev *e = calloc(1, sizeof(*e));
	uint64_t one = 1;

	if (!e)
		return;
	e->type = type;
	e->source = b->source;
	if (obj && !(e->obj = cJSON_Duplicate(obj, 1))) {
		free(e);
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	pthread_mutex_unlock(&q->lock);
	if (write(q->evfd, &one, sizeof(one)) < 0)
		pr_debug("queue eventfd: %s\n", strerror(errno));
}

static void on_upsert(cJSON *obj, void *ctx) { push(ctx, BRK_QEV_UPSERT, obj); }
static void on_delete(cJSON *obj, void *ctx) { push(ctx, BRK_QEV_DELETE, obj); }
static void on_synced(void *ctx) { push(ctx, BRK_QEV_SYNCED, NULL); }

static const struct brk_informer_ops queue_ops = {
	.on_add = on_upsert, .on_update = on_upsert, .on_delete = on_delete,
	.on_synced = on_synced,
};

struct brk_informer *brk_queue_watch(struct brk_queue *q, struct brk_client *c,
				     const char *resource, int source)
{
	if (source < 0 || source >= BRK_QUEUE_MAX_SOURCES) {
		errno = EINVAL;
		return NULL;
	}
	q->bind[source].q = q;
	q->bind[source].source = source;
	return brk_informer_start(c, resource, &queue_ops, &q->bind[source]);
}

struct brk_qev *brk_queue_take(struct brk_queue *q)
{
	struct brk_qev *e;
	uint64_t cnt;

	if (read(q->evfd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		pr_debug("queue eventfd: %s\n", strerror(errno));
	pthread_mutex_lock(&q->lock);
	e = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return e;
}

struct brk_qev *brk_qev_free(struct brk_qev *e)
{
	struct brk_qev *next = e->next;

	cJSON_Delete(e->obj);
	free(e);
	return next;
}

void brk_queue_clear(struct brk_queue *q)
{
	for (struct brk_qev *e = brk_queue_take(q); e;)
		e = brk_qev_free(e);
}
