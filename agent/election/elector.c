/* The election on its own thread (see elector.h). */
#include "agent/election/elector.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

struct elector {
	struct election *e;
	pthread_mutex_t lock;		/* guards every election_*() call */
	pthread_t thr;
	bool thr_started;
	int evfd;			/* the election reported a change */
	int stopfd[2];
};

/* Runs on the elector's thread, inside election_tick()/election_on_readable(). */
static void on_change(void *ctx)
{
	struct elector *el = ctx;
	uint64_t one = 1;

	if (write(el->evfd, &one, sizeof(one)) < 0)
		pr_debug("election eventfd: %s\n", strerror(errno));
}

static void *thread_main(void *arg)
{
	struct elector *el = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = election_fd(el->e), .events = POLLIN },
				       { .fd = el->stopfd[0], .events = POLLIN } };
		uint64_t wait;

		pthread_mutex_lock(&el->lock);
		wait = election_tick(el->e, util_now_ns());
		pthread_mutex_unlock(&el->lock);
		if (poll(p, 2, (int)(wait / NSEC_PER_MSEC) + 1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			pthread_mutex_lock(&el->lock);
			election_on_readable(el->e, util_now_ns());
			pthread_mutex_unlock(&el->lock);
		}
	}
	return NULL;
}

struct elector *elector_start(const struct election_cfg *cfg)
{
	struct elector *el = calloc(1, sizeof(*el));
	struct election_cfg c = *cfg;
	int err;

	if (!el)
		return NULL;
	el->stopfd[0] = el->stopfd[1] = -1;
	pthread_mutex_init(&el->lock, NULL);
	el->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (el->evfd < 0 || pipe2(el->stopfd, O_CLOEXEC) < 0)
		goto err;
	c.on_change = on_change;
	c.ctx = el;
	el->e = election_open(&c, util_now_ns());
	if (!el->e)
		goto err;
	err = pthread_create(&el->thr, NULL, thread_main, el);
	if (err) {
		errno = err;
		goto err;
	}
	el->thr_started = true;
	return el;
err:
	err = errno;
	elector_stop(el);
	errno = err;
	return NULL;
}

void elector_stop(struct elector *el)
{
	if (!el)
		return;
	if (el->thr_started) {
		(void)!write(el->stopfd[1], "x", 1);
		pthread_join(el->thr, NULL);
	}
	election_close(el->e);
	for (int i = 0; i < 2; i++)
		if (el->stopfd[i] >= 0)
			close(el->stopfd[i]);
	if (el->evfd >= 0)
		close(el->evfd);
	pthread_mutex_destroy(&el->lock);
	free(el);
}

int elector_fd(const struct elector *el)
{
	return el->evfd;
}

bool elector_changed(struct elector *el)
{
	uint64_t cnt;

	return read(el->evfd, &cnt, sizeof(cnt)) > 0;
}

bool elector_role(struct elector *el, struct election_peer *active_out, bool *have_active)
{
	struct election_peer tmp;
	bool is_active;

	pthread_mutex_lock(&el->lock);
	is_active = election_is_active(el->e);
	*have_active = election_active_peer(el->e, active_out ? active_out : &tmp) == 0;
	pthread_mutex_unlock(&el->lock);
	return is_active;
}

uint64_t elector_epoch(struct elector *el)
{
	uint64_t e;

	pthread_mutex_lock(&el->lock);
	e = election_epoch(el->e);
	pthread_mutex_unlock(&el->lock);
	return e;
}

unsigned elector_peers(struct elector *el, struct election_peer *out, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&el->lock);
	n = election_peers(el->e, out, max);
	pthread_mutex_unlock(&el->lock);
	return n;
}

void elector_set_adv(struct elector *el, const struct election_adv *adv)
{
	pthread_mutex_lock(&el->lock);
	election_set_adv(el->e, adv);
	pthread_mutex_unlock(&el->lock);
}

int elector_set_min_epoch(struct elector *el, uint64_t min)
{
	int rc;

	pthread_mutex_lock(&el->lock);
	rc = election_set_min_epoch(el->e, min);
	pthread_mutex_unlock(&el->lock);
	return rc;
}

void elector_restarting(struct elector *el)
{
	pthread_mutex_lock(&el->lock);
	election_restarting(el->e, util_now_ns());
	pthread_mutex_unlock(&el->lock);
}
