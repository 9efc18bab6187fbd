/* A daemon's PID file, locked (flock) for as long as the daemon runs: a second daemon on
 * the same state directory is refused, and another program (subagent leave) can tell
 * whether one runs and which, without trusting a stale file. */
#ifndef SA_PIDFILE_H
#define SA_PIDFILE_H

#include <sys/types.h>

/* Creates or opens path, takes its lock and writes our PID. Returns the fd to keep open
 * (O_CLOEXEC), -EBUSY when a live process holds the lock, or -errno. */
int pidfile_acquire(const char *path) __attribute__((warn_unused_result));
/* Removes the file and drops the lock. NULL-safe path, fd < 0 ignored. */
void pidfile_release(int fd, const char *path);
/* The PID of the live process that holds path's lock: > 0; 0 when nobody holds it (or
 * there is no file); -errno. */
pid_t pidfile_owner(const char *path);

#endif
