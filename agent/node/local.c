/* What `subagent leave` does to the node it runs on: stop the agent that runs there and
 * remove what the agent kept on purpose across restarts (its state directory with the
 * endpoint cache, the pinned globalnet flow table). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ftw.h>

#include "agent/node/node.h"
#include <cjson/cJSON.h>
#include "common/pidfile.h"
#include "common/util.h"
#include "globalnet/gn_nat.h"

int node_stop_local(const char *state_dir, int timeout_ms, pid_t *pid_out)
{
	char path[PATH_MAX];
	struct pollfd p = { .events = POLLIN };
	pid_t pid;
	int r;

	*pid_out = 0;
	snprintf(path, sizeof(path), "%s/agent.pid", state_dir);
	pid = pidfile_owner(path);
	if (pid <= 0)
		return pid;
	*pid_out = pid;
	p.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p.fd < 0)
		return errno == ESRCH ? 0 : -errno;
	/* SIGTERM: the agent removes what it made on the node before it exits. */
	if (syscall(SYS_pidfd_send_signal, p.fd, SIGTERM, NULL, 0) < 0 && errno != ESRCH) {
		r = -errno;
		close(p.fd);
		return r;
	}
	r = poll(&p, 1, timeout_ms);
	close(p.fd);
	return r > 0 ? 1 : r == 0 ? -ETIMEDOUT : -errno;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Whether dir is the state directory of an agent of cluster_id: its status file says so,
 * or it holds the agent's PID file. */
static bool is_agent_state(const char *dir, const char *cluster_id)
{
	char path[PATH_MAX], *s;
	cJSON *j;
	bool ours = false;

	snprintf(path, sizeof(path), "%s/agent.pid", dir);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/status.json", dir);
	s = util_read_file(path, 1 << 20, NULL);
	j = s ? cJSON_Parse(s) : NULL;
	if (j) {
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "cluster"));

		ours = c && cluster_id && !strcmp(c, cluster_id);
	}
	cJSON_Delete(j);
	free(s);
	return ours;
}

int node_remove_state(const char *state_dir, const char *cluster_id)
{
	struct stat st;

	if (lstat(state_dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode) || !is_agent_state(state_dir, cluster_id))
		return -ENOTEMPTY;
	if (nftw(state_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	return access(state_dir, F_OK) == 0 ? -EBUSY : 1;
}

int node_remove_pinned(const char *bpf_dir)
{
	struct stat st;
	int err;

	if (lstat(bpf_dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	err = gn_nat_unpin(bpf_dir);
	return err ? err : 1;
}

void node_default_bpf_dir(const char *cluster_id, const char *node, char *out, size_t len)
{
	snprintf(out, len, "/sys/fs/bpf/subagent/%s-%s", cluster_id, node);
}
