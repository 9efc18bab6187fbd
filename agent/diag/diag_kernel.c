/* Diagnose: what the kernel offers the agent. The ESP data path (kernel XFRM, or charon's
 * user-space ESP over /dev/net/tun) and what charon needs installed; BPF and tc for
 * globalnet, tried for real in a throwaway network namespace so that nothing on the node
 * changes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "agent/cable/strongswan/charon.h"
#include "agent/diag/diag_int.h"
#include "common/json.h"
#include "common/util.h"

#define CHARON		"/usr/lib/ipsec/charon"
#define PLUGINS		"/usr/lib/ipsec/plugins/"
#define HINT_PKGS	"install Debian's strongswan-charon, strongswan-swanctl (VICI) and " \
			"libcharon-extra-plugins (kernel-libipsec)"

void diag_check_datapath(struct diag_ctx *c)
{
	const char *t = "ipsec";
	int esp, fd;

	if (strcmp(c->cfg.cable_driver, "ipsec")) {
		diag_add(c, "datapath", c->cfg.cable_driver, DIAG_SKIP, NULL,
			 "the %s cable needs no ESP", c->cfg.cable_driver);
		return;
	}
	if (!strcmp(c->role, "node")) {
		diag_add(c, "datapath", t, DIAG_SKIP, NULL,
			 "not gateway-capable: no tunnel ends on this node");
		return;
	}
	if (access(CHARON, X_OK) || access(PLUGINS "libstrongswan-vici.so", R_OK)) {
		diag_add(c, "datapath", t, DIAG_FAIL, HINT_PKGS, "%s", access(CHARON, X_OK) ?
			 "no charon at " CHARON : "charon has no VICI plugin");
		return;
	}
	esp = charon_probe_kernel_esp();
	if (esp == 1) {
		diag_add(c, "datapath", t, DIAG_PASS, NULL,
			 "kernel ESP: an XFRM state with UDP encapsulation can be made");
		return;
	}
	if (esp < 0) {
		diag_add(c, "datapath", t, DIAG_FAIL, "run diagnose as root (CAP_NET_ADMIN), like the agent",
			 "cannot probe the kernel's ESP: %s", strerror(-esp));
		return;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	if (fd < 0 || access(PLUGINS "libstrongswan-kernel-libipsec.so", R_OK))
		diag_add(c, "datapath", t, DIAG_FAIL,
			 fd < 0 ? "load the kernel's esp4 and xfrm modules, or give the agent /dev/net/tun "
				  "(Kubernetes: the hostPath device)" : HINT_PKGS,
			 "no ESP in the kernel, and no user-space ESP: %s",
			 fd < 0 ? "/dev/net/tun does not open" : "kernel-libipsec plugin missing");
	else
		diag_add(c, "datapath", t, DIAG_WARN,
			 "load the kernel's esp4 module (CONFIG_INET_ESP) for the kernel data path",
			 "no ESP in the kernel: charon's user-space ESP over /dev/net/tun (works, "
			 "several times slower)");
}

/* In a child in a new network namespace: load a two-instruction tc program and attach it
 * to lo's clsact ingress. Exits 0, or 10 + the step that failed with errno on the pipe. */
static void bpf_child(int wfd)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_OK },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	int step = 0, err = 0, fd;

	libbpf_set_print(NULL);
	if (unshare(CLONE_NEWNET)) {
		err = errno;
		goto out;
	}
	step = 1;
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "sa_diag", "GPL", insns, 2, NULL);
	if (fd < 0) {
		err = -fd;
		goto out;
	}
	step = 2;
	err = -bpf_tc_hook_create(&hook);
	if (err)
		goto out;
	step = 3;
	opts.prog_fd = fd;
	err = -bpf_tc_attach(&hook, &opts);
out:
	if (err)
		(void)!write(wfd, &err, sizeof(err));
	_exit(err ? 10 + step : 0);
}

static int try_bpf(int *step, int *err)
{
	int p[2], st = 0;
	pid_t pid;

	*err = 0;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (!pid)
		bpf_child(p[1]);
	close(p[1]);
	if (read(p[0], err, sizeof(*err)) != sizeof(*err))
		*err = 0;
	close(p[0]);
	waitpid(pid, &st, 0);
	*step = WIFEXITED(st) ? WEXITSTATUS(st) : 99;
	return 0;
}

void diag_check_bpf(struct diag_ctx *c)
{
	static const char *const steps[] = { "a network namespace", "BPF_PROG_LOAD of a tc program",
					     "a clsact qdisc", "a tc BPF filter" };
	bool gn = c->cfg.n_global_cidrs > 0;
	struct statfs sf;
	int step = 0, err = 0, rc = try_bpf(&step, &err);
	bool btf = !access("/sys/kernel/btf/vmlinux", R_OK);
	bool bpffs = !statfs("/sys/fs/bpf", &sf) && sf.f_type == BPF_FS_MAGIC;

	if (rc || step) {
		diag_add(c, "bpf", "tc", gn ? DIAG_FAIL : DIAG_WARN,
			 "globalnet needs tc BPF: a kernel with CONFIG_NET_CLS_BPF and CONFIG_NET_SCH_INGRESS, "
			 "and the agent with CAP_BPF/CAP_SYS_ADMIN and CAP_NET_ADMIN",
			 "%s failed: %s%s", rc ? "fork" : step >= 10 && step <= 13 ? steps[step - 10] : "the probe",
			 strerror(rc ? -rc : err ? err : EIO), gn ? "" : " (needed only with globalnet)");
	} else {
		diag_add(c, "bpf", "tc", DIAG_PASS, NULL,
			 "a tc BPF program loads and attaches; BTF %s; bpffs %s",
			 btf ? "present" : "absent", bpffs ? "on /sys/fs/bpf" : "not mounted");
	}
	if (gn && !bpffs)
		diag_add(c, "bpf", "bpffs", DIAG_WARN,
			 "mount bpffs on /sys/fs/bpf (Kubernetes: the hostPath) so that translated flows "
			 "survive an agent restart", "no bpffs on /sys/fs/bpf");
	if (gn && !strcmp(c->role, "gateway")) {
		char path[PATH_MAX], *txt;
		cJSON *g;

		snprintf(path, sizeof(path), "%s/globalnet.json", c->state_dir);
		txt = util_read_file(path, 4 << 20, NULL);
		g = txt ? cJSON_Parse(txt) : NULL;
		free(txt);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "attached")))
			diag_add(c, "bpf", "globalnet", DIAG_PASS, NULL, "translating on %s (%s)",
				 json_str(g, "device", "?"), json_str(g, "globalCIDR", "?"));
		else
			diag_add(c, "bpf", "globalnet", DIAG_FAIL,
				 "see the agent's log for 'globalnet: attach'; the tunnel device must exist",
				 "globalnet's programs are not attached to %s", json_str(g, "device", "the tunnel device"));
		cJSON_Delete(g);
	}
}
