/* Unit tests for agent/cable/strongswan/vici_conn.c error paths against a scripted server on a real unix
 * socket (the happy paths run against the real charon in test_charon.c): timeouts,
 * garbage lengths, a peer that hangs up, responses trickling in byte by byte with events
 * interleaved, and unexpected packet types. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/cable/strongswan/vici_conn.h"
#include "common/util.h"
#include "tests/unit/harness.h"

enum script { S_SILENT, S_GARBAGE_LEN, S_CLOSE, S_TRICKLE, S_WRONG_TYPE };

struct server {
	int lfd;
	enum script script;
	pthread_t thr;
	int stop_pipe[2];
	char path[108];
};

static void write_all(int fd, const uint8_t *p, size_t n, bool trickle)
{
	while (n) {
		ssize_t w = write(fd, p, trickle ? 1 : n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
		if (trickle)
			usleep(200);
	}
}

static void send_pkt(int fd, uint8_t type, const char *name, struct vici_builder *b,
		     bool trickle)
{
	const uint8_t *m = NULL;
	size_t ml = 0, fl;
	uint8_t *f;

	if (b && vici_builder_finish(b, &m, &ml))
		return;
	if (vici_packet_frame(type, name, m, ml, &f, &fl))
		return;
	write_all(fd, f, fl, trickle);
	vici_frame_free(f, fl);
}

static void read_request(int fd)
{
	uint8_t hdr[4], buf[1024];
	size_t len;

	if (read(fd, hdr, 4) != 4)
		return;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	while (len) {
		ssize_t n = read(fd, buf, len < sizeof(buf) ? len : sizeof(buf));

		if (n <= 0)
			return;
		len -= (size_t)n;
	}
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct pollfd p;
	struct vici_builder *b;
	int fd = accept(s->lfd, NULL, NULL);
	char c;

	if (fd < 0)
		return NULL;
	switch (s->script) {
	case S_SILENT:
		read_request(fd);
		break;
	case S_GARBAGE_LEN:
		read_request(fd);
		write_all(fd, (const uint8_t *)"\xff\xff\xff\xff", 4, false);
		break;
	case S_CLOSE:
		close(fd);
		fd = -1;
		break;
	case S_TRICKLE:
		/* register ike-updown: confirm */
		read_request(fd);
		send_pkt(fd, VICI_EVENT_CONFIRM, NULL, NULL, false);
		/* command: two events, then the response, one byte at a time */
		read_request(fd);
		for (int i = 0; i < 2; i++) {
			b = vici_builder_new();
			vici_add_kv_str(b, "up", "yes");
			vici_begin_section(b, "c2");
			vici_add_kv_fmt(b, "uniqueid", "%d", i + 1);
			vici_end_section(b);
			send_pkt(fd, VICI_EVENT, "ike-updown", b, true);
			vici_builder_free(b);
		}
		b = vici_builder_new();
		vici_add_kv_str(b, "daemon", "fake");
		send_pkt(fd, VICI_CMD_RESPONSE, NULL, b, true);
		vici_builder_free(b);
		/* one more event while idle */
		b = vici_builder_new();
		vici_add_kv_str(b, "up", "no");
		send_pkt(fd, VICI_EVENT, "ike-updown", b, false);
		vici_builder_free(b);
		break;
	case S_WRONG_TYPE:
		read_request(fd);
		send_pkt(fd, VICI_EVENT_CONFIRM, NULL, NULL, false);
		break;
	}
	/* Hold the connection until the test is done with it. */
	p.fd = s->stop_pipe[0];
	p.events = POLLIN;
	poll(&p, 1, 10000);
	if (read(s->stop_pipe[0], &c, 1) < 0)
		c = 0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int server_start(struct server *s, enum script script)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->script = script;
	snprintf(s->path, sizeof(s->path), "/tmp/svi-vici-test-%d.sock", (int)getpid());
	unlink(s->path);
	strcpy(sa.sun_path, s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->lfd, 4) < 0 || pipe(s->stop_pipe) < 0)
		return -errno;
	return pthread_create(&s->thr, NULL, server_main, s) ? -EAGAIN : 0;
}

static void server_stop(struct server *s)
{
	if (write(s->stop_pipe[1], "x", 1) < 0)
		return;
	pthread_join(s->thr, NULL);
	close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	unlink(s->path);
}

static void test_open_missing(void)
{
	CHECK(vici_conn_open("/tmp/svi-no-such-socket") == NULL && errno == ENOENT);
	CHECK(vici_conn_open("/tmp/" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") == NULL &&
	      errno == ENAMETOOLONG);
	vici_conn_close(NULL);
}

static void test_timeout_then_broken(void)
{
	struct server s;
	struct vici_conn *c;
	uint64_t t0, ms;

	REQUIRE(server_start(&s, S_SILENT) == 0);
	c = vici_conn_open(s.path);
	REQUIRE(c);
	t0 = util_now_ns();
	CHECK_EQ_INT(vici_conn_cmd(c, "version", NULL, NULL, 200), -ETIMEDOUT);
	ms = (util_now_ns() - t0) / 1000000;
	CHECK(ms >= 190 && ms < 2000);
	CHECK_EQ_INT(vici_conn_cmd(c, "version", NULL, NULL, 200), -ENOTCONN);
	CHECK_EQ_INT(vici_conn_dispatch(c), -ENOTCONN);
	vici_conn_close(c);
	server_stop(&s);
}

static void test_garbage_length(void)
{
	struct server s;
	struct vici_conn *c;

	REQUIRE(server_start(&s, S_GARBAGE_LEN) == 0);
	c = vici_conn_open(s.path);
	REQUIRE(c);
	CHECK_EQ_INT(vici_conn_cmd(c, "version", NULL, NULL, 2000), -EPROTO);
	vici_conn_close(c);
	server_stop(&s);
}

static void test_peer_closes(void)
{
	struct server s;
	struct vici_conn *c;
	int rc;

	REQUIRE(server_start(&s, S_CLOSE) == 0);
	c = vici_conn_open(s.path);
	REQUIRE(c);
	rc = vici_conn_cmd(c, "version", NULL, NULL, 2000);
	CHECK(rc == -ECONNRESET || rc == -EPIPE);
	vici_conn_close(c);
	server_stop(&s);
}

static void test_wrong_type(void)
{
	struct server s;
	struct vici_conn *c;

	REQUIRE(server_start(&s, S_WRONG_TYPE) == 0);
	c = vici_conn_open(s.path);
	REQUIRE(c);
	CHECK_EQ_INT(vici_conn_cmd(c, "version", NULL, NULL, 2000), -EPROTO);
	vici_conn_close(c);
	server_stop(&s);
}

struct seen {
	int n;
	int ups, downs;
};

static void ev_cb(void *ctx, const char *name, const struct vici_node *msg)
{
	struct seen *s = ctx;

	if (strcmp(name, "ike-updown"))
		return;
	s->n++;
	if (vici_get_bool(msg, "up", 0))
		s->ups++;
	else
		s->downs++;
}

static void test_trickle_and_queue(void)
{
	struct server s;
	struct vici_conn *c;
	struct vici_node *r = NULL;
	struct seen seen = { 0 };
	struct pollfd p;
	uint64_t deadline;

	REQUIRE(server_start(&s, S_TRICKLE) == 0);
	c = vici_conn_open(s.path);
	REQUIRE(c);
	vici_conn_set_event_cb(c, ev_cb, &seen);
	REQUIRE(vici_conn_register(c, "ike-updown", 2000) == 0);
	REQUIRE(vici_conn_cmd(c, "version", NULL, &r, 5000) == 0);
	CHECK_STR(vici_get_str(r, "daemon"), "fake");
	vici_node_free(r);
	CHECK_EQ_INT(seen.n, 0);		/* queued, not delivered inside the command */
	p.fd = vici_conn_fd(c);
	p.events = POLLIN;
	CHECK_EQ_INT(poll(&p, 1, 0), 1);	/* the queue makes the fd readable */
	deadline = util_now_ns() + 3000000000ull;
	while (seen.n < 3 && util_now_ns() < deadline) {
		if (poll(&p, 1, 100) == 1)
			CHECK_EQ_INT(vici_conn_dispatch(c), 0);
	}
	CHECK_EQ_INT(seen.ups, 2);
	CHECK_EQ_INT(seen.downs, 1);
	CHECK_EQ_INT(poll(&p, 1, 0), 0);	/* drained */
	vici_conn_close(c);
	server_stop(&s);
}

int main(void)
{
	RUN(test_open_missing);
	RUN(test_timeout_then_broken);
	RUN(test_garbage_length);
	RUN(test_peer_closes);
	RUN(test_wrong_type);
	RUN(test_trickle_and_queue);
	return harness_done();
}
