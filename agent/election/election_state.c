/* The election's state file: "active A\nepoch E\nseq S\nrestart R\norigin O\n". */
#include "agent/election/election_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/election/election.h"
#include "common/log.h"
#include "common/util.h"

int election_state_write(const char *path, const struct election_state *st)
{
	char buf[128 + ELECTION_ORIGIN_MAX];
	int n, err;

	n = snprintf(buf, sizeof(buf), "active %d\nepoch %" PRIu64 "\nseq %" PRIu64 "\nrestart %d\n"
		     "origin %s\n", st->active, st->epoch, st->seq, st->restarting,
		     st->origin[0] ? st->origin : "-");
	err = util_write_file(path, buf, (size_t)n, 0600);
	if (err)
		pr_err("write %s: %s\n", path, strerror(-err));
	return err;
}

void election_state_touch(const char *path)
{
	(void)utimensat(AT_FDCWD, path, NULL, 0);
}

int election_state_read(const char *path, const char *origin, uint64_t dead_ns,
			struct election_state *st, bool *fresh)
{
	unsigned long long ep = 0, sq = 0;
	int act = 0, rst = 0;
	struct stat sb;
	char *buf, *o;

	memset(st, 0, sizeof(*st));
	*fresh = false;
	buf = util_read_file(path, 4096, NULL);
	if (!buf)
		return errno == ENOENT ? 0 : -errno;
	if (sscanf(buf, "active %d\nepoch %llu\nseq %llu\nrestart %d", &act, &ep, &sq, &rst) < 3) {
		pr_warn("read %s: malformed, ignored\n", path);
		free(buf);
		return 0;
	}
	o = strstr(buf, "\norigin ");
	if (o) {
		o += 8;
		o[strcspn(o, "\n")] = '\0';
	}
	if (origin && (!o || strcmp(o, origin))) {
		pr_warn("discard %s (the election's state): it was written for %s, not for this "
			"broker and registration\n", path, o ? "another origin" : "no origin");
		free(buf);
		return 0;
	}
	if (o)
		snprintf(st->origin, sizeof(st->origin), "%s", o);
	free(buf);
	st->epoch = ep;
	st->seq = sq;
	st->active = act == 1 && ep > 0;
	st->restarting = rst == 1;
	if (st->active && stat(path, &sb) == 0) {
		uint64_t m = (uint64_t)sb.st_mtim.tv_sec * NSEC_PER_SEC + (uint64_t)sb.st_mtim.tv_nsec;
		uint64_t now = util_realtime_ns();

		/* a restart announced itself: the others hold on for the grace period */
		*fresh = m <= now && now - m < (st->restarting ? ELECTION_RESTART_GRACE_NS : dead_ns);
	}
	return 0;
}
