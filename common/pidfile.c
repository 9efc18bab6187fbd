/* Locked PID files (see pidfile.h). */
#include "common/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int pidfile_acquire(const char *path)
{
	char buf[24];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644), n;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return err;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		int err = -errno;

		close(fd);
		return err ? err : -EIO;
	}
	return fd;
}

void pidfile_release(int fd, const char *path)
{
	if (fd < 0)
		return;
	if (path)
		(void)unlink(path);
	close(fd);
}

pid_t pidfile_owner(const char *path)
{
	char buf[24];
	ssize_t n;
	long pid;
	char *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);	/* nobody holds it: a file left by a daemon that died */
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		int err = -errno;

		close(fd);
		return err;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (pid <= 0 || (*end && *end != '\n'))
		return -EINVAL;
	return (pid_t)pid;
}
