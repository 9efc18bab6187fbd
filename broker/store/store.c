/* Picks the store backend named by config.json's "store". */
#include "broker/store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct brk_store *brk_store_open(const char *spec, const char *dir, unsigned history_limit)
{
	struct brk_store *st;
	int err;

	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->history_limit = history_limit ? history_limit : 10000;
	if (!spec || !strcmp(spec, "sqlite")) {
		st->ops = &brk_store_sqlite_ops;
	} else if (!strncmp(spec, "etcd://", 7)) {
		st->ops = &brk_store_etcd_ops;
	} else {
		pr_err("open store: unknown store '%s' (want \"sqlite\" or \"etcd://host:port\")\n", spec);
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

void brk_store_close(struct brk_store *st)
{
	if (!st)
		return;
	st->ops->close(st);
	free(st);
}
