/* etcd v3 store (placeholder until the JSON gateway client lands). */
#include "broker/store.h"

#include <errno.h>

#include "common/log.h"

static int etcd_open(struct brk_store *st, const char *spec, const char *dir)
{
	pr_err("store %s: etcd not supported yet\n", spec);
	return -ENOTSUP;
}

const struct brk_store_ops brk_store_etcd_ops = {
	.name = "etcd",
	.open = etcd_open,
};
