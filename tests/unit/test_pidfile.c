/* common/pidfile.c: one holder at a time, the holder's PID for others, and a file left by
 * a daemon that died is nobody's. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/pidfile.h"
#include "tests/unit/harness.h"

static void test_pidfile(void)
{
	char dir[] = "/tmp/sa-pidfile-XXXXXX", path[64];
	int fd, fd2;

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.pid", dir);
	CHECK_EQ_INT(pidfile_owner(path), 0);		/* no file */
	fd = pidfile_acquire(path);
	REQUIRE(fd >= 0);
	CHECK_EQ_INT(pidfile_owner(path), getpid());
	CHECK_EQ_INT(pidfile_acquire(path), -EBUSY);	/* a second daemon is refused */
	pidfile_release(fd, NULL);			/* died: the file stays, unlocked */
	CHECK_EQ_INT(access(path, F_OK), 0);
	CHECK_EQ_INT(pidfile_owner(path), 0);
	fd2 = pidfile_acquire(path);			/* and a new daemon takes it */
	CHECK(fd2 >= 0);
	pidfile_release(fd2, path);
	CHECK(access(path, F_OK) != 0);
	rmdir(dir);
}

int main(void)
{
	RUN(test_pidfile);
	return harness_done();
}
