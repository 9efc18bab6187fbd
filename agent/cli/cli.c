/* Helpers every command shares (see cli.h). */
#include "agent/cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"

#define CLI_CONNECT_MS	3000
#define CLI_REQUEST_MS	10000

__attribute__((format(printf, 3, 0)))
static void vline(const char *prefix, const char *head, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s%s: ", prefix, head);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
}

int cli_error(const char *prog, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", prog, fmt, ap);
	va_end(ap);
	return code;
}

int cli_step_failed(const char *step, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("✗ ", step, fmt, ap);
	va_end(ap);
	return 1;
}

int cli_open_cluster(const char *verb, const char *dir, struct cluster_config *cfg,
		     struct brk_client **brk)
{
	char err[BRK_ERR_MAX];

	*brk = NULL;
	if (!dir) {
		fprintf(stderr, "subagent %s: --config-dir is required\n", verb);
		return 2;
	}
	if (cluster_config_load_err(dir, cfg, err)) {
		fprintf(stderr, "subagent %s: %s\n", verb, err);
		return 1;
	}
	*brk = brk_client_new(cfg->broker_urls, cfg->n_broker_urls, cfg->ca_path, cfg->token);
	if (!*brk) {
		fprintf(stderr, "subagent %s: broker client: %s\n", verb, strerror(errno));
		cluster_config_free(cfg);
		return 1;
	}
	brk_client_set_timeouts(*brk, CLI_CONNECT_MS, CLI_REQUEST_MS);
	return 0;
}

void cli_close_cluster(struct cluster_config *cfg, struct brk_client *brk)
{
	brk_client_free(brk);
	cluster_config_free(cfg);
}

int cli_verb_kind(int *argc, char ***argv, const char *verb, const char *kind,
		  void (*usage)(FILE *))
{
	char **v = *argv;

	if (*argc < 2 || !strcmp(v[1], "-h") || !strcmp(v[1], "--help")) {
		usage(*argc < 2 ? stderr : stdout);
		return *argc < 2 ? 2 : 0;
	}
	if (strcmp(v[1], kind))
		return cli_error(verb, 2, "unknown '%s' (only '%s')", v[1], kind);
	(*argc)--;
	(*argv)++;
	optind = 1;
	return -1;
}
