/* The election and its liveness probes on their own thread (see elector.h). */
#include "agent/election/elector.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/election/liveness.h"
#include "common/log.h"
#include "common/util.h"

struct elector {
	struct election *e;
	struct liveness *lv;		/* NULL: heartbeats only */
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
		struct pollfd p[3] = { { .fd = election_fd(el->e), .events = POLLIN },
				       { .fd = el->stopfd[0], .events = POLLIN },
				       { .fd = el->lv ? liveness_fd(el->lv) : -1, .events = POLLIN } };
		uint64_t wait, lw, now;
		struct timespec ts;

		pthread_mutex_lock(&el->lock);
		/* What queued while this thread was not running (its start on a busy node, a
		 * stall) is read before anything is judged: the sockets are non-blocking. */
		if (el->lv)
			liveness_on_readable(el->lv, util_now_ns());
		election_on_readable(el->e, util_now_ns());
		now = util_now_ns();
		wait = election_tick(el->e, now);
		if (el->lv) {
			lw = liveness_tick(el->lv, el->e, now);
			wait = lw < wait ? lw : wait;
		}
		pthread_mutex_unlock(&el->lock);
		/* ppoll: the probes' 20 ms want better than poll()'s whole milliseconds */
		ts.tv_sec = (time_t)(wait / NSEC_PER_SEC);
		ts.tv_nsec = (long)(wait % NSEC_PER_SEC);
		if (ppoll(p, 3, &ts, NULL) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		/* what arrived is read at the top of the loop, probes first, before judging */
	}
	return NULL;
}

/* Real-time priority for the thread that sends heartbeats and probes and judges them:
 * a node whose cores are busy must not look dead. Needs CAP_SYS_NICE; without it the
 * thread runs at normal priority, and says so. */
static void set_realtime(pthread_t thr)
{
	struct sched_param sp = { .sched_priority = ELECTOR_RT_PRIO };
	int err = pthread_setschedparam(thr, SCHED_FIFO, &sp);

	if (err)
		pr_warn("election: real-time priority: %s; under heavy CPU load a standby may "
			"take over from a live gateway\n", strerror(err));
}

struct elector *elector_start(const struct election_cfg *cfg, const struct elector_opts *o)
{
	struct elector *el = calloc(1, sizeof(*el));
	struct election_cfg c = *cfg;
	pthread_mutexattr_t ma;
	int err;

	if (!el)
		return NULL;
	el->stopfd[0] = el->stopfd[1] = -1;
	/* Priority inheritance: the main thread (normal priority) holding the lock while the
	 * CPU is busy must not hold up the real-time thread that waits for it. */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&el->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	el->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (el->evfd < 0 || pipe2(el->stopfd, O_CLOEXEC) < 0)
		goto err;
	c.on_change = on_change;
	c.ctx = el;
	el->e = election_open(&c, util_now_ns());
	if (!el->e)
		goto err;
	if (o && o->liveness_interval_ns != UINT64_MAX) {
		struct liveness_cfg lc = {
			.cluster_id = cfg->cluster_id, .node = cfg->node, .node_ip = cfg->node_ip,
			.port = cfg->port ? (uint16_t)(cfg->port + 1) : 0,
			.interval_ns = o->liveness_interval_ns, .multiplier = o->liveness_mult,
			.key = cfg->key, .key_len = cfg->key_len,
		};

		el->lv = liveness_open(&lc);
		if (!el->lv)
			goto err;
	}
	err = pthread_create(&el->thr, NULL, thread_main, el);
	if (err) {
		errno = err;
		goto err;
	}
	el->thr_started = true;
	if (!o || !o->no_realtime)
		set_realtime(el->thr);
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
	liveness_close(el->lv);
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
	if (el->lv)
		liveness_restarting(el->lv);
	pthread_mutex_unlock(&el->lock);
}
