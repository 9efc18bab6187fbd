/* `subagent gather` (see gather.h): files into a private temporary directory, each one
 * redacted before it is written, then one tar.gz. */
#include "agent/diag/gather.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/cable/strongswan/vici_conn.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/json.h"
#include "common/run.h"
#include "common/util.h"
#include "common/version.h"

#define LOG_TAIL	(8 << 20)	/* the last 8 MiB of each log */
#define CMD_MAX		(8 << 20)
#define CMD_TIMEOUT_MS	20000
#define MAX_SECRETS	8

struct gctx {
	const struct gather_opts *o;
	char base[64];			/* the temporary directory */
	char dir[512];			/* base/subagent-gather-... : what the tarball holds */
	char state[PATH_MAX - 512];
	char *secrets[MAX_SECRETS];
	unsigned n_secrets;
	cJSON *files, *errors;
};

static void note_error(struct gctx *g, const char *what, const char *why)
{
	cJSON *e = cJSON_CreateObject();

	if (!e)
		return;
	cJSON_AddStringToObject(e, "what", what);
	cJSON_AddStringToObject(e, "error", why);
	cJSON_AddItemToArray(g->errors, e);
}

/* Writes name (a path under the gathered directory) with text, redacted. */
static void save(struct gctx *g, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX], *slash, *clean;
	size_t cl;
	int rc;

	if (g->o->progress)
		g->o->progress(name);
	clean = gather_redact(text, len, (const char *const *)g->secrets, g->n_secrets, &cl);
	if (!clean) {
		note_error(g, name, "out of memory");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", g->dir, name);
	slash = strrchr(path, '/');
	*slash = '\0';
	rc = util_mkdir_p(path, 0700);
	*slash = '/';
	if (!rc)
		rc = util_write_file(path, clean, cl, 0600);
	free(clean);
	if (rc)
		note_error(g, name, strerror(-rc));
	else
		cJSON_AddItemToArray(g->files, cJSON_CreateString(name));
}

/* A file (its last `tail` bytes) under name. */
static void save_file(struct gctx *g, const char *name, const char *path, size_t tail)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long size;
	size_t n;

	if (!f) {
		note_error(g, name, strerror(errno));
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	if (size > (long)tail)
		fseek(f, size - (long)tail, SEEK_SET);
	else
		rewind(f);
	buf = malloc(tail + 1);
	n = buf ? fread(buf, 1, tail, f) : 0;
	fclose(f);
	if (buf)
		save(g, name, buf, n);
	free(buf);
}

/* A command's output (stderr too) under name, after a line saying what ran. */
static void save_cmd(struct gctx *g, const char *name, char *const argv[])
{
	char head[512] = "$", *out = NULL, *all;
	size_t len, hl;
	int rc;

	for (int i = 0; argv[i]; i++) {
		size_t l = strlen(head);

		snprintf(head + l, sizeof(head) - l, " %s", argv[i]);
	}
	rc = run_capture(argv, RUN_F_STDERR, CMD_MAX, CMD_TIMEOUT_MS, &out, &len);
	if (rc == -ENOENT) {
		note_error(g, name, "command not found");
		free(out);
		return;
	}
	hl = strlen(head);
	all = malloc(hl + len + 64);
	if (all) {
		int n = snprintf(all, hl + 64, "%s\n", head);

		memcpy(all + n, out ? out : "", len);
		n += (int)len;
		if (rc)
			n += snprintf(all + n, 48, "\n(exit status %d)\n", rc);
		save(g, name, all, (size_t)n);
	}
	free(all);
	free(out);
}

#define CMD(g, name, ...) save_cmd(g, name, (char *const[]){ __VA_ARGS__, NULL })

/* The secrets of this cluster, by value: the token and the PSK files. */
static void load_secrets(struct gctx *g)
{
	static const char *const names[] = { "token", "psk" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n;
		char *s;

		snprintf(path, sizeof(path), "%s/%s", g->o->config_dir, names[i]);
		s = util_read_file(path, 64 * 1024, &n);
		while (s && n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
			s[--n] = '\0';
		if (s && g->n_secrets < MAX_SECRETS)
			g->secrets[g->n_secrets++] = s;
		else
			util_free_secret(s);
	}
}

/* The agent's state: its JSON and state files, charon's configuration and log. Never a
 * key, a certificate's key or anything else. */
static void gather_state(struct gctx *g)
{
	DIR *d = opendir(g->state);
	struct dirent *e;
	char path[PATH_MAX], name[NAME_MAX + 16];

	if (!d) {
		note_error(g, "state", strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", g->state, e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size > (4 << 20) ||
		    !((l > 5 && !strcmp(e->d_name + l - 5, ".json")) ||
		      (l > 6 && !strcmp(e->d_name + l - 6, ".state"))))
			continue;
		snprintf(name, sizeof(name), "state/%s", e->d_name);
		save_file(g, name, path, 4 << 20);
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/charon/strongswan.conf", g->state);
	if (!access(path, R_OK))
		save_file(g, "charon/strongswan.conf", path, 1 << 20);
	snprintf(path, sizeof(path), "%s/charon/charon.log", g->state);
	if (!access(path, R_OK))
		save_file(g, "charon/charon.log", path, LOG_TAIL);
}

static void gather_logs(struct gctx *g)
{
	char name[64];

	for (unsigned i = 0; i < g->o->n_logs; i++) {
		snprintf(name, sizeof(name), i ? "agent-%u.log" : "agent.log", i);
		save_file(g, name, g->o->logs[i], LOG_TAIL);
	}
	if (!g->o->n_logs && !access("/bin/journalctl", X_OK))
		CMD(g, "agent.log", "journalctl", "--no-pager", "-n", "50000", "-u",
		    "subagent-agent.service");
}

static void dump_event(void *ctx, const char *name, const struct vici_node *msg)
{
	char *s = vici_tree_dump(msg);

	fprintf(ctx, "%s\n", s ? s : "");
	free(s);
}

/* charon over its VICI socket: version, stats, SAs, loaded connections (no secrets: VICI
 * never lists keys or PSKs). */
static void gather_charon(struct gctx *g)
{
	static const char *const cmds[][3] = {
		{ "version", NULL, "charon/version.txt" }, { "stats", NULL, "charon/stats.txt" },
		{ "list-sas", "list-sa", "charon/sas.txt" }, { "list-conns", "list-conn", "charon/conns.txt" },
	};
	char path[PATH_MAX];
	struct vici_conn *vc;

	snprintf(path, sizeof(path), "%s/charon/charon.vici", g->state);
	if (access(path, F_OK))
		return;		/* not a gateway with charon */
	vc = vici_conn_open(path);
	if (!vc) {
		note_error(g, "charon", strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct { char *txt; size_t len; } acc = { NULL, 0 };
		struct vici_node *resp = NULL;
		int rc;

		if (cmds[i][1]) {
			FILE *f = open_memstream(&acc.txt, &acc.len);

			rc = f ? vici_conn_cmd_stream(vc, cmds[i][0], NULL, cmds[i][1], dump_event, f,
						      NULL, 5000) : -ENOMEM;
			if (f)
				fclose(f);
		} else {
			rc = vici_conn_cmd(vc, cmds[i][0], NULL, &resp, 5000);
			acc.txt = rc ? NULL : vici_tree_dump(resp);
			acc.len = acc.txt ? strlen(acc.txt) : 0;
		}
		if (rc)
			note_error(g, cmds[i][2], strerror(-rc));
		else
			save(g, cmds[i][2], acc.txt ? acc.txt : "", acc.len);
		free(acc.txt);
		vici_node_free(resp);
	}
	vici_conn_close(vc);
}

static void gather_node(struct gctx *g)
{
	DIR *d;
	struct dirent *e;

	CMD(g, "node/uname.txt", "uname", "-a");
	CMD(g, "node/ip-addr.txt", "ip", "-d", "addr", "show");
	CMD(g, "node/ip-link.txt", "ip", "-d", "-s", "link", "show");
	CMD(g, "node/ip-route.txt", "ip", "route", "show", "table", "all");
	CMD(g, "node/ip-rule.txt", "ip", "rule", "show");
	CMD(g, "node/ip-neigh.txt", "ip", "neigh", "show");
	CMD(g, "node/ip-xfrm-state.txt", "ip", "xfrm", "state", "show");	/* keys redacted */
	CMD(g, "node/ip-xfrm-policy.txt", "ip", "xfrm", "policy", "show");
	CMD(g, "node/nft-ruleset.txt", "nft", "list", "ruleset");
	CMD(g, "node/tc-qdisc.txt", "tc", "-s", "qdisc", "show");
	CMD(g, "node/tc-filter-ipsec0.txt", "sh", "-c",
	    "for d in ipsec0 sa-vx0; do for k in ingress egress; do "
	    "echo \"== $d $k\"; tc -s filter show dev $d $k 2>&1; done; done");
	CMD(g, "node/sockets.txt", "ss", "-uanp");
	CMD(g, "bpf/progs.txt", "bpftool", "prog", "show");
	CMD(g, "bpf/maps.txt", "bpftool", "map", "show");
	/* globalnet's pinned counters (per CPU) under the default pin directory */
	d = opendir("/sys/fs/bpf/subagent");
	while (d && (e = readdir(d))) {
		char pin[PATH_MAX], name[NAME_MAX + 32];

		if (e->d_name[0] == '.')
			continue;
		snprintf(pin, sizeof(pin), "/sys/fs/bpf/subagent/%s/gn_stats", e->d_name);
		snprintf(name, sizeof(name), "bpf/%s-gn_stats.txt", e->d_name);
		if (!access(pin, F_OK))
			CMD(g, name, "bpftool", "map", "dump", "pinned", pin);
	}
	if (d)
		closedir(d);
}

/* This cluster's objects in the broker, and every cluster's Endpoint (what the gateway
 * connects to). */
static void gather_broker(struct gctx *g, struct brk_client *brk, const char *cluster)
{
	static const char *const res[] = { "clusters", "endpoints", "gatewaystatuses",
					   "globalegressips", "globalingressips" };

	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		char name[64], *txt;
		struct brk_status st;
		cJSON *list = NULL, *keep = cJSON_CreateArray();
		const cJSON *it;

		snprintf(name, sizeof(name), "broker/%s.json", res[i]);
		if (brk_list(brk, res[i], &list, &st)) {
			note_error(g, name, st.message);
			cJSON_Delete(keep);
			continue;
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
			if (!strcmp(res[i], "endpoints") ||
			    !strcmp(json_str(it, "spec.clusterID", ""), cluster))
				cJSON_AddItemToArray(keep, cJSON_Duplicate(it, 1));
		txt = cJSON_Print(keep);
		if (txt)
			save(g, name, txt, strlen(txt));
		free(txt);
		cJSON_Delete(keep);
		cJSON_Delete(list);
	}
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(p);
}

int gather_run(const struct gather_opts *o, char *path, size_t len, char *err, size_t errlen)
{
	struct gctx g = { .o = o };
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	char cerr[BRK_ERR_MAX], node[256] = "", stamp[32], tmp[PATH_MAX], *txt, *out = NULL;
	cJSON *man = cJSON_CreateObject(), *st;
	time_t now = time(NULL);
	struct tm tm;
	bool made = false;
	size_t ol;
	int rc;

	g.files = cJSON_AddArrayToObject(man, "files");
	g.errors = cJSON_AddArrayToObject(man, "errors");
	if (!man || !g.files || !g.errors) {
		cJSON_Delete(man);
		return -ENOMEM;
	}
	if (gethostname(node, sizeof(node)))
		snprintf(node, sizeof(node), "node");
	node[sizeof(node) - 1] = '\0';
	if (o->state_dir)
		snprintf(g.state, sizeof(g.state), "%s", o->state_dir);
	else
		snprintf(g.state, sizeof(g.state), "/var/lib/subagent/%s", node);
	snprintf(tmp, sizeof(tmp), "%s/status.json", g.state);
	txt = util_read_file(tmp, 4 << 20, NULL);
	st = txt ? cJSON_Parse(txt) : NULL;
	free(txt);
	if (st)
		snprintf(node, sizeof(node), "%s", json_str(st, "node", node));
	cJSON_Delete(st);
	rc = cluster_config_load_err(o->config_dir, &cfg, cerr);
	if (rc) {
		snprintf(err, errlen, "%s", cerr);
		cJSON_Delete(man);
		return rc;
	}
	load_secrets(&g);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(g.base, sizeof(g.base), "/tmp/subagent-gather.XXXXXX");
	if (!mkdtemp(g.base)) {
		rc = -errno;
		snprintf(err, errlen, "temporary directory: %s", strerror(errno));
		goto out;
	}
	made = true;
	snprintf(g.dir, sizeof(g.dir), "%s/subagent-gather-%s-%.64s-%s", g.base, cfg.cluster_id,
		 node, stamp);
	if (o->out)
		snprintf(path, len, "%s", o->out);
	else
		snprintf(path, len, "subagent-gather-%s-%.64s-%s.tar.gz", cfg.cluster_id, node, stamp);

	gather_logs(&g);
	gather_state(&g);
	gather_charon(&g);
	gather_node(&g);
	snprintf(tmp, sizeof(tmp), "%s/cluster.json", o->config_dir);
	txt = util_read_file(tmp, 1 << 20, &ol);
	if (txt)
		save(&g, "config/cluster.json", txt, ol);
	free(txt);
	if (!o->no_broker) {
		brk = brk_client_new(cfg.broker_urls, cfg.n_broker_urls, cfg.ca_path, cfg.token);
		if (brk) {
			brk_client_set_timeouts(brk, 3000, 10000);
			gather_broker(&g, brk, cfg.cluster_id);
		}
		brk_client_free(brk);
	}
	cJSON_AddStringToObject(man, "subagentVersion", SUBAGENT_VERSION);
	cJSON_AddStringToObject(man, "cluster", cfg.cluster_id);
	cJSON_AddStringToObject(man, "node", node);
	cJSON_AddNumberToObject(man, "gatheredUnix", (double)now);
	txt = cJSON_Print(man);
	if (txt)
		save(&g, "manifest.json", txt, strlen(txt));
	free(txt);

	{
		char *argv[] = { "tar", "-czf", path, "-C", g.base, strrchr(g.dir, '/') + 1, NULL };

		umask(077);
		rc = run_capture(argv, RUN_F_STDERR, 4096, 120000, &out, &ol);
		if (rc) {
			snprintf(err, errlen, "tar: %s", rc < 0 ? strerror(-rc) : out ? out : "failed");
			rc = rc < 0 ? rc : -EIO;
		} else if (chmod(path, 0600)) {
			rc = -errno;
			snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		}
		free(out);
	}
out:
	if (made)
		nftw(g.base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (unsigned i = 0; i < g.n_secrets; i++)
		util_free_secret(g.secrets[i]);
	cJSON_Delete(man);
	cluster_config_free(&cfg);
	return rc;
}
