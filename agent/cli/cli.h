/* Helpers every command shares: error lines in one form, and opening the cluster
 * configuration written by `subagent join` with a broker client for it. */
#ifndef SA_CLI_H
#define SA_CLI_H

#include <stdio.h>

struct brk_client;
struct cluster_config;

/* Prints "PROG: message" on stderr and returns code (2 for a usage error, 1 for a failure). */
int cli_error(const char *prog, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints "✗ STEP: message" on stderr (the form of step-by-step commands) and returns 1. */
int cli_step_failed(const char *step, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loads the cluster configuration in dir and opens a broker client for it (short CLI
 * timeouts). Returns 0, or the exit code after printing why as "subagent VERB: ..." (2 when
 * dir is NULL). verb: "show", "globalnet list", ... Close both with cli_close_cluster(). */
int cli_open_cluster(const char *verb, const char *dir, struct cluster_config *cfg,
		     struct brk_client **brk) __attribute__((warn_unused_result));
void cli_close_cluster(struct cluster_config *cfg, struct brk_client *brk);

/* The start of a verb that takes one kind of object ("export service"): no argument or
 * -h/--help prints the usage (exit 2 / 0), another kind is a usage error. Otherwise it
 * drops the verb from argc and argv (argv[0] is then the kind, for getopt) and returns -1. */
int cli_verb_kind(int *argc, char ***argv, const char *verb, const char *kind,
		  void (*usage)(FILE *));

#endif
