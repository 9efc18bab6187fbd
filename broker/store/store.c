/* Picks the store backend named by config.json's "store". */
#include "broker/store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct store *store_open(const char *spec, const char *dir, unsigned history_limit)
{
	struct store *st;
	int err;

	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->history_limit = history_limit ? history_limit : 10000;
	if (!spec || !strcmp(spec, "sqlite")) {
		st->ops = &store_sqlite_ops;
	} else if (!strncmp(spec, "etcd://", 7) || !strncmp(spec, ETCD_PLAIN, strlen(ETCD_PLAIN))) {
		st->ops = &store_etcd_ops;
	} else {
		pr_err("open store: unknown store '%s' (want \"sqlite\", \"etcd://host:port\" or \"" ETCD_PLAIN "host:port\")\n", spec);
		free(st);
		errno = EINVAL;
		return NULL;
	}
	err = st->ops->open(st, spec, dir);
	if (err) {
		free(st);
		errno = -err;
		return NULL;
	}
	return st;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	st->ops->close(st);
	free(st);
}
