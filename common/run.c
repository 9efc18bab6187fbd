/* Running a program and taking its output (see run.h). */
#include "common/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

extern char **environ;

static int wait_child(pid_t pid, uint64_t deadline)
{
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (util_now_ns() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		usleep(2000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int run_capture(char *const argv[], unsigned flags, size_t max, int timeout_ms, char **out,
		size_t *len)
{
	uint64_t deadline = util_now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	posix_spawn_file_actions_t fa;
	char *buf = malloc(max + 1);
	size_t got = 0;
	int p[2] = { -1, -1 }, rc;
	pid_t pid;

	*out = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC)) {
		free(buf);
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	if (flags & RUN_F_STDERR)
		posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = -posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc) {
		close(p[0]);
		buf[0] = '\0';
		*out = buf;
		return rc;
	}
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		uint64_t now = util_now_ns();
		char sink[4096];
		ssize_t n;

		if (now >= deadline)
			break;
		if (poll(&pf, 1, (int)((deadline - now) / NSEC_PER_MSEC) + 1) <= 0)
			continue;
		/* past max the output is read and dropped: a full pipe must not stall the child */
		n = got < max ? read(p[0], buf + got, max - got) : read(p[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < max)
			got += (size_t)n;
	}
	close(p[0]);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return wait_child(pid, deadline);
}
