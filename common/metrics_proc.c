/* The process_* families every Prometheus client library exports, read from /proc/self:
 * CPU time, resident and virtual memory, open and allowed file descriptors, start time. */
#include "common/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

static const struct {
	const char *name, *help;
} fams[] = {
	{ "process_cpu_seconds_total", "Total user and system CPU time spent in seconds." },
	{ "process_resident_memory_bytes", "Resident memory size in bytes." },
	{ "process_virtual_memory_bytes", "Virtual memory size in bytes." },
	{ "process_open_fds", "Number of open file descriptors." },
	{ "process_max_fds", "Maximum number of open file descriptors." },
	{ "process_start_time_seconds", "Start time of the process since unix epoch in seconds." },
};

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n ? n - 1 : 0;	/* the directory's own fd */
}

/* Boot time (btime in /proc/stat), for the start time in clock ticks from stat. */
static double boot_time(void)
{
	char line[256];
	double bt = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

static void collect(void *ctx)
{
	char *stat = util_read_file("/proc/self/stat", 4096, NULL);
	unsigned long utime, stime, vsize;
	unsigned long long start;
	long rss, tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	const char *p = stat ? strrchr(stat, ')') : NULL;
	struct rlimit rl;

	/* fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue
	 * starttime vsize rss */
	if (p && tick > 0 &&
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
		   "%*d %*d %llu %lu %ld", &utime, &stime, &start, &vsize, &rss) == 5) {
		metrics_lock();
		metrics_set("process_cpu_seconds_total", (double)(utime + stime) / (double)tick);
		metrics_set("process_resident_memory_bytes", (double)rss * (double)page);
		metrics_set("process_virtual_memory_bytes", (double)vsize);
		metrics_set("process_start_time_seconds", boot_time() + (double)start / (double)tick);
		metrics_unlock();
	}
	free(stat);
	metrics_set("process_open_fds", count_fds());
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		metrics_set("process_max_fds", rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

int metrics_process_collector(void)
{
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(fams); i++) {
		enum metrics_type t = strstr(fams[i].name, "_total") ? METRICS_COUNTER : METRICS_GAUGE;

		err = metrics_define(fams[i].name, t, fams[i].help, NULL);
		if (err)
			return err;
	}
	err = metrics_add_collector(collect, NULL);
	return err == -EEXIST ? 0 : err;
}
