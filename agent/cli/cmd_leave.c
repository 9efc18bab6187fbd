/* subagent leave: stops the agent running on this node, removes this cluster from the
 * broker (its objects go with it and its token is revoked), and deletes the cluster's
 * configuration and what the agent kept on this node across restarts (its state directory
 * with the endpoint cache, the pinned globalnet flow table). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cmd.h"
#include "agent/node/node.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"

#define PROG "subagent leave"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --config-dir DIR [--state-dir DIR] [--bpf-dir DIR] [--node NAME]\n"
		"                      [--force]\n\n"
		"Stops the agent that runs on this node (SIGTERM: it removes what it made and\n"
		"exits), removes the cluster configured in DIR from the broker (with the cluster's\n"
		"own credential: the broker deletes the cluster's objects and revokes the\n"
		"credential), deletes DIR's cluster.json, ca.pem, token and psk (if any), and what the agent\n"
		"kept across restarts: its state directory (endpoint cache, status, charon files)\n"
		"and its pinned globalnet flow table.\n\n"
		"  --config-dir DIR   the directory 'subagent join' wrote\n"
		"  --state-dir DIR    the agent's state directory (default /var/lib/subagent/NODE)\n"
		"  --bpf-dir DIR      its globalnet pin directory\n"
		"                     (default /sys/fs/bpf/subagent/CLUSTER-NODE)\n"
		"  --node NAME        this node's name (default: the hostname)\n"
		"  --force            delete the local configuration even when the broker cannot be\n"
		"                     reached or refuses the credential\n");
}

/* Stops the agent that runs with the state directory (given, or the default of node). */
static int stop_agent(const char *state, const char **node, char *host, char *stdir)
{
	pid_t pid;
	int r;

	if (!*node) {
		if (gethostname(host, HOST_NAME_MAX + 1))
			strcpy(host, "node");
		host[HOST_NAME_MAX] = '\0';
		*node = host;
	}
	snprintf(stdir, PATH_MAX, "%s", state ? state : "");
	if (!state)
		snprintf(stdir, PATH_MAX, "/var/lib/subagent/%s", *node);
	r = node_stop_local(stdir, 30000, &pid);
	if (r == 1)
		printf("✓ Stopped the agent on this node (PID %d)\n", (int)pid);
	else if (r == 0 && pid == 0)
		printf("✓ No agent runs with state directory %s\n", stdir);
	else if (r < 0) {
		fprintf(stderr, "✗ Stop the agent (PID %d, state directory %s): %s\n", (int)pid,
			stdir, strerror(-r));
		return 1;
	}
	return 0;
}

/* The agent's state directory and pinned flow table. A state directory is removed only
 * when it is an agent's of this cluster (or was named with --state-dir). */
static int remove_node_state(const char *stdir, const char *bpf, const char *cluster,
			     const char *node, bool named)
{
	char pin[PATH_MAX];
	int r = node_remove_state(stdir, cluster);

	if (r == -ENOTEMPTY && named)
		fprintf(stderr, "! %s is not an agent's state directory of this cluster: kept\n", stdir);
	else if (r < 0 && r != -ENOTEMPTY) {
		fprintf(stderr, "✗ Delete the agent's state in %s: %s\n", stdir, strerror(-r));
		return 1;
	} else if (r == 1)
		printf("✓ Deleted the agent's state in %s (endpoint cache, status, charon files)\n",
		       stdir);
	if (!bpf && !cluster)
		return 0;
	if (!bpf)
		node_default_bpf_dir(cluster, node, pin, sizeof(pin));
	else
		snprintf(pin, sizeof(pin), "%s", bpf);
	r = node_remove_pinned(pin);
	if (r < 0) {
		fprintf(stderr, "✗ Unpin the globalnet flow table in %s: %s\n", pin, strerror(-r));
		return 1;
	}
	if (r == 1)
		printf("✓ Unpinned the globalnet flow table in %s\n", pin);
	return 0;
}

int cmd_leave(int argc, char **argv)
{
	enum { O_DIR = 1, O_FORCE, O_HELP, O_STATE, O_BPF, O_NODE };
	static const struct option lopts[] = {
		{ "config-dir", required_argument, NULL, O_DIR },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "bpf-dir", required_argument, NULL, O_BPF },
		{ "node", required_argument, NULL, O_NODE },
		{ "force", no_argument, NULL, O_FORCE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *state = NULL, *bpf = NULL, *node = NULL;
	bool force = false, removed = false;
	struct cluster_config cfg = { 0 };
	char err[BRK_ERR_MAX], host[HOST_NAME_MAX + 1], stdir[PATH_MAX];
	struct brk_client *c;
	struct brk_status st;
	int opt, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_STATE: state = optarg; break;
		case O_BPF: bpf = optarg; break;
		case O_NODE: node = optarg; break;
		case O_FORCE: force = true; break;
		case 'h':
		case O_HELP: usage(stdout); return 0;
		case ':':
			fprintf(stderr, PROG ": option '%s' needs a value\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, PROG ": unknown option '%s'; see '" PROG " --help'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!dir || !*dir) {
		fprintf(stderr, PROG ": --config-dir DIR is required\n");
		return 2;
	}
	ret = cluster_config_load_err(dir, &cfg, err);
	if (ret == -ENOENT) {
		fprintf(stderr, "✗ Read configuration: %s holds no cluster configuration (nothing to leave)\n",
			dir);
		return 1;
	}
	if (ret && !force) {
		fprintf(stderr, "✗ Read configuration: %s; use --force to delete it anyway\n", err);
		return 1;
	}
	if (ret == 0)
		printf("✓ Read configuration of cluster %s\n", cfg.cluster_id);
	if (stop_agent(state, &node, host, stdir))
		goto fail;
	if (ret == 0) {
		c = brk_client_new(cfg.broker_urls, cfg.n_broker_urls,
				   cfg.ca_path, cfg.token);
		if (!c || brk_client_set_ca_label(c, cfg.ca_path)) {
			fprintf(stderr, "✗ Prepare: broker client: %s\n", strerror(errno));
			brk_client_free(c);
			goto fail;
		}
		ret = brk_delete(c, "clusters", cfg.cluster_id, NULL, &st);
		brk_client_free(c);
		if (ret == 0) {
			printf("✓ Removed cluster %s from the broker (%s)\n", cfg.cluster_id, st.url);
			removed = true;
		} else if (ret == -ENOENT) {
			printf("✓ Cluster %s was not registered at the broker any more\n",
			       cfg.cluster_id);
			removed = true;
		} else if (!force) {
			fprintf(stderr, "✗ Remove cluster %s from the broker: %s\n  (the configuration in %s is kept; --force deletes it anyway)\n",
				cfg.cluster_id, st.message, dir);
			goto fail;
		} else {
			fprintf(stderr, "! Could not remove cluster %s from the broker: %s (continuing: --force)\n",
				cfg.cluster_id, st.message);
		}
	}
	ret = cluster_config_remove(dir);
	if (ret) {
		fprintf(stderr, "✗ Delete configuration in %s: %s\n", dir, strerror(-ret));
		goto fail;
	}
	printf("✓ Deleted the configuration in %s\n", dir);
	if (remove_node_state(stdir, bpf, cfg.cluster_id[0] ? cfg.cluster_id : NULL, node, !!state))
		goto fail;
	cluster_config_free(&cfg);
	return removed || !force ? 0 : 1;
fail:
	cluster_config_free(&cfg);
	return 1;
}
