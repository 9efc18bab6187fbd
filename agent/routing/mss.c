/* MSS clamping through the nft command (nftables' own parser; no rule is built by hand). */
#include "agent/routing/mss.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

extern char **environ;

static const char rules[] =
	"table ip subagent_mss\n"
	"delete table ip subagent_mss\n"
	"table ip subagent_mss {\n"
	"	chain forward {\n"
	"		type filter hook forward priority mangle; policy accept;\n"
	"		oifname { \"sa-vxr\", \"sa-vx0\", \"ipsec0\", \"sa-xfrm0\" } tcp flags syn / syn,rst "
	"tcp option maxseg size set rt mtu\n"
	"	}\n"
	"}\n";

/* Runs nft with the script on its standard input; quiet sends its output to /dev/null.
 * 0, -EIO when nft says no, or -errno. */
static int nft(const char *script, bool quiet)
{
	char *const argv[] = { "nft", "-f", "-", NULL };
	posix_spawn_file_actions_t fa;
	int p[2], st = 0, rc = 0;
	pid_t pid;
	size_t len = strlen(script);

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	/* nft gets nothing else of ours (not every library opens with O_CLOEXEC) */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawnp(&pid, "nft", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (rc) {
		close(p[1]);
		return -rc;
	}
	if (write(p[1], script, len) != (ssize_t)len)
		rc = -EIO;
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!rc && (!WIFEXITED(st) || WEXITSTATUS(st)))
		rc = -EIO;
	return rc;
}

int mss_clamp_install(void)
{
	int rc = nft(rules, false);

	if (rc)
		pr_warn("mss clamping: nft failed (%s); relying on path MTU discovery\n",
			strerror(-rc));
	return rc;
}

int mss_clamp_check(void)
{
	int rc = nft("list table ip subagent_mss\n", true);

	return rc == -EIO ? -ENOENT : rc;
}

void mss_clamp_remove(void)
{
	(void)nft("table ip subagent_mss\ndelete table ip subagent_mss\n", false);
}
