/* VICI client connection: framing over a non-blocking unix socket, commands with
 * deadlines, event registration, streamed commands, and an event queue behind a pollable
 * epoll fd so the caller's event loop owns dispatching. */
#include "agent/cable/strongswan/vici_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* Events queued while a command runs: bounded, so a flood cannot eat memory. */
#define QUEUE_MAX 1024

struct qev {
	struct qev *next;
	struct vici_node *msg;
	char name[VICI_MAX_NAME + 1];
};

struct vici_conn {
	int fd;
	int epfd;
	int evfd;
	bool broken;
	bool in_cmd;
	/* reader state: 4-byte header, then the segment */
	uint8_t hdr[4];
	size_t hdr_got;
	uint8_t *seg;
	size_t seg_len, seg_got;
	/* event queue */
	struct qev *qhead, *qtail;
	size_t qlen;
	vici_event_cb cb;
	void *cb_ctx;
	/* the streamed event of the running command */
	const char *stream_event;
	vici_event_cb stream_cb;
	void *stream_ctx;
};

struct vici_conn *vici_conn_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct vici_conn *c;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sa.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->epfd = c->evfd = -1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		goto err;
	/* A unix stream connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->evfd < 0 || c->epfd < 0)
		goto err;
	ev.data.fd = c->fd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		goto err;
	ev.data.fd = c->evfd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->evfd, &ev) < 0)
		goto err;
	return c;
err:
	err = errno;
	vici_conn_close(c);
	errno = err;
	return NULL;
}

static void queue_clear(struct vici_conn *c)
{
	while (c->qhead) {
		struct qev *q = c->qhead;

		c->qhead = q->next;
		vici_node_free(q->msg);
		free(q);
	}
	c->qtail = NULL;
	c->qlen = 0;
}

void vici_conn_close(struct vici_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->evfd >= 0)
		close(c->evfd);
	if (c->epfd >= 0)
		close(c->epfd);
	queue_clear(c);
	free(c->seg);
	free(c);
}

void vici_conn_set_event_cb(struct vici_conn *c, vici_event_cb cb, void *ctx)
{
	c->cb = cb;
	c->cb_ctx = ctx;
}

int vici_conn_fd(const struct vici_conn *c)
{
	return c->epfd;
}

static int64_t deadline_after(int timeout_ms)
{
	return (int64_t)(util_now_ns() / 1000000) + timeout_ms;
}

/* Milliseconds left until deadline (ms on the monotonic clock); 0 when passed. */
static int ms_left(int64_t deadline)
{
	int64_t left = deadline - (int64_t)(util_now_ns() / 1000000);

	return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static int fail(struct vici_conn *c, int err)
{
	c->broken = true;
	return err;
}

static int send_all(struct vici_conn *c, const uint8_t *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			int r = poll(&p, 1, ms_left(deadline));

			if (r < 0 && errno != EINTR)
				return fail(c, -errno);
			if (r == 0)
				return fail(c, -ETIMEDOUT);
			continue;
		}
		return fail(c, n < 0 ? -errno : -EIO);
	}
	return 0;
}

static int send_packet(struct vici_conn *c, uint8_t type, const char *name,
		       struct vici_builder *req, int64_t deadline)
{
	const uint8_t *msg = NULL;
	size_t mlen = 0, flen;
	uint8_t *frame;
	int err;

	if (req && (err = vici_builder_finish(req, &msg, &mlen)))
		return err;
	err = vici_packet_frame(type, name, msg, mlen, &frame, &flen);
	if (err)
		return err;
	err = send_all(c, frame, flen, deadline);
	vici_frame_free(frame, flen);
	return err;
}

/* Reads what is available towards one segment. Returns 1 with the segment moved to
 * seg and len (caller frees), 0 when more bytes are needed (EAGAIN), or -errno. */
static int read_some(struct vici_conn *c, uint8_t **seg, size_t *len)
{
	ssize_t n;

	for (;;) {
		if (c->hdr_got < 4) {
			n = read(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got);
		} else {
			if (!c->seg) {
				c->seg_len = (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 |
					     (size_t)c->hdr[2] << 8 | c->hdr[3];
				if (c->seg_len == 0 || c->seg_len > VICI_MAX_SEGMENT)
					return fail(c, -EPROTO);
				c->seg = malloc(c->seg_len);
				if (!c->seg)
					return -ENOMEM;
				c->seg_got = 0;
			}
			if (c->seg_got == c->seg_len) {
				*seg = c->seg;
				*len = c->seg_len;
				c->seg = NULL;
				c->hdr_got = 0;
				return 1;
			}
			n = read(c->fd, c->seg + c->seg_got, c->seg_len - c->seg_got);
		}
		if (n == 0)
			return fail(c, -ECONNRESET);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return fail(c, -errno);
		}
		if (c->hdr_got < 4)
			c->hdr_got += (size_t)n;
		else
			c->seg_got += (size_t)n;
	}
}

/* Waits for the next whole segment until deadline. 0 or -errno. */
static int recv_segment(struct vici_conn *c, int64_t deadline, uint8_t **seg, size_t *len)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = read_some(c, seg, len);

		if (r)
			return r < 0 ? r : 0;
		r = poll(&p, 1, ms_left(deadline));
		if (r < 0 && errno != EINTR)
			return fail(c, -errno);
		if (r == 0)
			return fail(c, -ETIMEDOUT);
	}
}

static void queue_event(struct vici_conn *c, const char *name, struct vici_node *msg)
{
	struct qev *q;
	uint64_t one = 1;

	if (c->qlen >= QUEUE_MAX || !(q = calloc(1, sizeof(*q)))) {
		pr_warn("vici event %s: dropped (queue full)\n", name);
		vici_node_free(msg);
		return;
	}
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->msg = msg;
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->qlen++;
	if (write(c->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("vici event queue: %s\n", strerror(errno));
}

/* Handles an EVENT packet: the running command's stream goes to its callback, every other
 * event is queued for vici_conn_dispatch() (deliver=false) or delivered now (true). */
static int handle_event(struct vici_conn *c, const struct vici_packet *p, bool deliver)
{
	struct vici_node *msg = NULL;
	int err = vici_msg_decode(p->msg, p->msg_len, &msg);

	if (err) {
		pr_warn("vici event %s: %s\n", p->name, strerror(-err));
		return fail(c, err == -ENOMEM ? err : -EBADMSG);
	}
	if (c->stream_event && strcmp(p->name, c->stream_event) == 0) {
		if (c->stream_cb)
			c->stream_cb(c->stream_ctx, p->name, msg);
		vici_node_free(msg);
	} else if (deliver) {
		if (c->cb)
			c->cb(c->cb_ctx, p->name, msg);
		vici_node_free(msg);
	} else {
		queue_event(c, p->name, msg);
	}
	return 0;
}

/* Reads packets until one that is not an EVENT arrives; returns it parsed with its
 * segment in seg (caller frees). */
static int wait_reply(struct vici_conn *c, int64_t deadline, struct vici_packet *p,
		      uint8_t **seg)
{
	size_t len;
	int err;

	for (;;) {
		err = recv_segment(c, deadline, seg, &len);
		if (err)
			return err;
		err = vici_packet_parse(*seg, len, p);
		if (err) {
			free(*seg);
			return fail(c, -EPROTO);
		}
		if (p->type != VICI_EVENT)
			return 0;
		err = handle_event(c, p, false);
		free(*seg);
		*seg = NULL;
		if (err)
			return err;
	}
}

static int do_register(struct vici_conn *c, uint8_t type, const char *event, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	struct vici_packet p;
	uint8_t *seg = NULL;
	int err;

	if (c->broken)
		return -ENOTCONN;
	if (c->in_cmd)
		return -EBUSY;
	err = send_packet(c, type, event, NULL, deadline);
	if (!err)
		err = wait_reply(c, deadline, &p, &seg);
	if (!err) {
		if (p.type == VICI_EVENT_UNKNOWN)
			err = -ENOENT;
		else if (p.type != VICI_EVENT_CONFIRM)
			err = fail(c, -EPROTO);
	}
	free(seg);
	return err;
}

int vici_conn_register(struct vici_conn *c, const char *event, int timeout_ms)
{
	return do_register(c, VICI_EVENT_REGISTER, event, timeout_ms);
}

int vici_conn_unregister(struct vici_conn *c, const char *event, int timeout_ms)
{
	return do_register(c, VICI_EVENT_UNREGISTER, event, timeout_ms);
}

static int run_cmd(struct vici_conn *c, const char *cmd, struct vici_builder *req,
		   struct vici_node **resp, int64_t deadline)
{
	struct vici_packet p;
	uint8_t *seg = NULL;
	int err;

	err = send_packet(c, VICI_CMD_REQUEST, cmd, req, deadline);
	if (err)
		return err;
	c->in_cmd = true;
	err = wait_reply(c, deadline, &p, &seg);
	c->in_cmd = false;
	if (err)
		return err;
	if (p.type == VICI_CMD_UNKNOWN) {
		err = -EOPNOTSUPP;
	} else if (p.type != VICI_CMD_RESPONSE) {
		err = fail(c, -EPROTO);
	} else if (resp) {
		err = vici_msg_decode(p.msg, p.msg_len, resp);
		if (err)
			err = fail(c, err == -ENOMEM ? err : -EBADMSG);
	}
	free(seg);
	return err;
}

int vici_conn_cmd(struct vici_conn *c, const char *cmd, struct vici_builder *req,
		  struct vici_node **resp, int timeout_ms)
{
	if (resp)
		*resp = NULL;
	if (c->broken)
		return -ENOTCONN;
	if (c->in_cmd)
		return -EBUSY;
	return run_cmd(c, cmd, req, resp, deadline_after(timeout_ms));
}

int vici_conn_cmd_send(struct vici_conn *c, const char *cmd, struct vici_builder *req,
		       int timeout_ms)
{
	int err;

	if (c->broken)
		return -ENOTCONN;
	if (c->in_cmd)
		return -EBUSY;
	err = send_packet(c, VICI_CMD_REQUEST, cmd, req, deadline_after(timeout_ms));
	if (!err)
		c->in_cmd = true;
	return err;
}

int vici_conn_cmd_poll(struct vici_conn *c, struct vici_node **resp)
{
	*resp = NULL;
	if (c->broken)
		return -ENOTCONN;
	if (!c->in_cmd)
		return -EINVAL;
	for (;;) {
		struct vici_packet p;
		uint8_t *seg;
		size_t len;
		int err = read_some(c, &seg, &len);

		if (err <= 0)
			return err;
		err = vici_packet_parse(seg, len, &p);
		if (err) {
			free(seg);
			return fail(c, -EPROTO);
		}
		if (p.type == VICI_EVENT) {
			err = handle_event(c, &p, false);
			free(seg);
			if (err)
				return err;
			continue;
		}
		c->in_cmd = false;
		if (p.type == VICI_CMD_UNKNOWN)
			err = -EOPNOTSUPP;
		else if (p.type != VICI_CMD_RESPONSE)
			err = fail(c, -EPROTO);
		else if ((err = vici_msg_decode(p.msg, p.msg_len, resp)))
			err = fail(c, err == -ENOMEM ? err : -EBADMSG);
		free(seg);
		return err ? err : 1;
	}
}

int vici_conn_cmd_stream(struct vici_conn *c, const char *cmd, struct vici_builder *req,
			 const char *event, vici_event_cb cb, void *ctx,
			 struct vici_node **resp, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	int err, err2;

	if (resp)
		*resp = NULL;
	err = vici_conn_register(c, event, timeout_ms);
	if (err)
		return err;
	c->stream_event = event;
	c->stream_cb = cb;
	c->stream_ctx = ctx;
	err = run_cmd(c, cmd, req, resp, deadline);
	c->stream_event = NULL;
	c->stream_cb = NULL;
	c->stream_ctx = NULL;
	if (c->broken)
		return err;
	err2 = vici_conn_unregister(c, event, ms_left(deadline) + 100);
	if (err2 && !err) {
		vici_node_free(resp ? *resp : NULL);
		if (resp)
			*resp = NULL;
		err = err2;
	}
	return err;
}

int vici_conn_call(struct vici_conn *c, const char *cmd, struct vici_builder *req,
		   int timeout_ms, char *errbuf, size_t errlen)
{
	struct vici_node *resp = NULL;
	const char *msg;
	int err;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	err = vici_conn_cmd(c, cmd, req, &resp, timeout_ms);
	if (err)
		return err;
	if (vici_get_bool(resp, "success", 0) != 1) {
		msg = vici_get_str(resp, "errmsg");
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s", msg ? msg : "failed");
		err = -EREMOTEIO;
	}
	vici_node_free(resp);
	return err;
}

int vici_conn_dispatch(struct vici_conn *c)
{
	uint64_t v;
	int err;

	if (c->broken)
		return -ENOTCONN;
	if (read(c->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	/* Detach the queue first: callbacks may run commands that queue more. */
	while (c->qhead) {
		struct qev *q = c->qhead;

		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->qlen--;
		if (c->cb)
			c->cb(c->cb_ctx, q->name, q->msg);
		vici_node_free(q->msg);
		free(q);
		if (c->broken)
			return -ENOTCONN;
	}
	for (;;) {
		struct vici_packet p;
		uint8_t *seg;
		size_t len;

		err = read_some(c, &seg, &len);
		if (err <= 0)
			return err;
		err = vici_packet_parse(seg, len, &p);
		if (err || p.type != VICI_EVENT) {
			/* Nothing but events may come when no command runs. */
			free(seg);
			return fail(c, -EPROTO);
		}
		err = handle_event(c, &p, true);
		free(seg);
		if (err)
			return err;
		if (c->broken)
			return -ENOTCONN;
	}
}
