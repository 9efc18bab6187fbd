/* subagent leave: removes this cluster from the broker (its objects go with it and its
 * token is revoked) and deletes the cluster's configuration directory. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cmd.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"

#define PROG "subagent leave"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --config-dir DIR [--force]\n\n"
		"Removes the cluster configured in DIR from the broker (with the cluster's own\n"
		"credential: the broker deletes the cluster's objects and revokes the credential),\n"
		"then deletes DIR's cluster.json, ca.pem, token and psk (if any).\n\n"
		"  --config-dir DIR   the directory 'subagent join' wrote\n"
		"  --force            delete the local configuration even when the broker cannot be\n"
		"                     reached or refuses the credential\n");
}

int cmd_leave(int argc, char **argv)
{
	enum { O_DIR = 1, O_FORCE, O_HELP };
	static const struct option lopts[] = {
		{ "config-dir", required_argument, NULL, O_DIR },
		{ "force", no_argument, NULL, O_FORCE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	bool force = false, removed = false;
	struct cluster_config cfg;
	char err[BRK_ERR_MAX];
	struct brk_client *c;
	struct brk_status st;
	int opt, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case O_DIR: dir = optarg; break;
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
	if (ret == 0) {
		printf("✓ Read configuration of cluster %s\n", cfg.cluster_id);
		c = brk_client_new(cfg.broker_urls, cfg.n_broker_urls,
				   cfg.ca_path, cfg.token);
		if (!c || brk_client_set_ca_label(c, cfg.ca_path)) {
			fprintf(stderr, "✗ Prepare: broker client: %s\n", strerror(errno));
			brk_client_free(c);
			cluster_config_free(&cfg);
			return 1;
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
			cluster_config_free(&cfg);
			return 1;
		} else {
			fprintf(stderr, "! Could not remove cluster %s from the broker: %s (continuing: --force)\n",
				cfg.cluster_id, st.message);
		}
		cluster_config_free(&cfg);
	}
	ret = cluster_config_remove(dir);
	if (ret) {
		fprintf(stderr, "✗ Delete configuration in %s: %s\n", dir, strerror(-ret));
		return 1;
	}
	printf("✓ Deleted the configuration in %s\n", dir);
	return removed || !force ? 0 : 1;
}
