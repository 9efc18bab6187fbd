/* The broker's configuration: DIR/config.json, with defaults for what it leaves out. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/creds/pki.h"
#include "broker/server/objects.h"
#include "broker/server/server.h"
#include "common/log.h"
#include "common/util.h"

static int json_uint(const cJSON *o, const char *f, unsigned lo, unsigned hi, unsigned *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) {
		pr_err("load config: \"%s\" must be a number in %u..%u\n", f, lo, hi);
		return -EINVAL;
	}
	*out = (unsigned)v->valuedouble;
	return 0;
}

void srv_config_free(struct srv_config *cfg)
{
	free(cfg->dir);
	free(cfg->listen);
	free(cfg->metrics_listen);
	free(cfg->store);
	memset(cfg, 0, sizeof(*cfg));
}

/* "limits": what one client may use (README, security). */
static int load_limits(const cJSON *root, struct srv_limits *l)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "limits");

	*l = (struct srv_limits){
		.conns_per_addr = 64, .conn_timeout_s = 30, .max_conns = 8192,
		.body_bytes = 256 * 1024, .object_bytes = 64 * 1024, .objects_per_cluster = 1024,
		.watches_per_cluster = 64, .writes_per_s = 20, .write_burst = 100,
		.page_bytes = 512 * 1024, .history_bytes = 64u << 20,
	};
	if (!o)
		return 0;
	if (!cJSON_IsObject(o)) {
		pr_err("load config: \"limits\" must be an object\n");
		return -EINVAL;
	}
	if (json_uint(o, "connectionsPerAddress", 1, 1000000, &l->conns_per_addr) ||
	    json_uint(o, "connectionTimeoutS", 1, 3600, &l->conn_timeout_s) ||
	    json_uint(o, "maxConnections", 1, 1000000, &l->max_conns) ||
	    json_uint(o, "maxBodyBytes", 1024, SRV_BODY_MAX, &l->body_bytes) ||
	    json_uint(o, "objectBytes", 1024, SRV_BODY_MAX, &l->object_bytes) ||
	    json_uint(o, "objectsPerCluster", 1, 10000000, &l->objects_per_cluster) ||
	    json_uint(o, "watchesPerCluster", 1, 1000000, &l->watches_per_cluster) ||
	    json_uint(o, "writesPerSecond", 1, 1000000, &l->writes_per_s) ||
	    json_uint(o, "writeBurst", 1, 1000000, &l->write_burst) ||
	    json_uint(o, "listPageBytes", 64 * 1024, SRV_BODY_MAX, &l->page_bytes) ||
	    json_uint(o, "historyBytes", 1u << 20, 1u << 31, &l->history_bytes))
		return -EINVAL;
	return 0;
}

int srv_config_load(const char *dir, struct srv_config *cfg)
{
	char path[PATH_MAX], *buf;
	const cJSON *gn, *v;
	cJSON *root;
	int err = -EINVAL;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	buf = util_read_file(path, 1 << 20, NULL);
	if (!buf) {
		err = -errno;
		pr_err("read %s: %s\n", path, strerror(errno));
		return err;
	}
	root = cJSON_Parse(buf);
	free(buf);
	if (!cJSON_IsObject(root)) {
		pr_err("load %s: not a JSON object\n", path);
		goto out;
	}
	cfg->dir = strdup(dir);
	v = cJSON_GetObjectItemCaseSensitive(root, "listen");
	cfg->listen = strdup(cJSON_IsString(v) ? v->valuestring : "0.0.0.0:8443");
	v = cJSON_GetObjectItemCaseSensitive(root, "metricsListen");
	if (cJSON_IsString(v) && !(cfg->metrics_listen = strdup(v->valuestring))) {
		err = -ENOMEM;
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "store");
	cfg->store = strdup(cJSON_IsString(v) ? v->valuestring : "sqlite");
	if (!cfg->dir || !cfg->listen || !cfg->store) {
		err = -ENOMEM;
		goto out;
	}
	cfg->threads = 4;
	cfg->bookmark_ms = 5000;
	cfg->history_limit = 10000;
	if (json_uint(root, "threads", 1, 64, &cfg->threads) ||
	    json_uint(root, "bookmarkIntervalMs", 100, 10000, &cfg->bookmark_ms) ||
	    json_uint(root, "historyLimit", 1, 10000000, &cfg->history_limit) ||
	    json_uint(root, "ikeCertificateSeconds", 60, PKI_IKE_MAX_S, &cfg->ike_cert_s) ||
	    load_limits(root, &cfg->limits))
		goto out;
	cfg->gn_range = (struct cidr4){ .addr = 242u << 24, .len = 8 };
	cfg->gn_prefix = 16;
	cfg->gn_max_cluster = 65536;
	gn = cJSON_GetObjectItemCaseSensitive(root, "globalnet");
	if (cJSON_IsObject(gn)) {
		unsigned size = 65536;

		cfg->gn_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(gn, "enabled"));
		v = cJSON_GetObjectItemCaseSensitive(gn, "cidrRange");
		if (v && (!cJSON_IsString(v) || cidr4_parse(v->valuestring, &cfg->gn_range))) {
			pr_err("load config: globalnet.cidrRange is not an IPv4 CIDR\n");
			goto out;
		}
		if (json_uint(gn, "clusterSize", 1, 1u << 31, &size))
			goto out;
		if (size & (size - 1)) {
			pr_err("load config: globalnet.clusterSize %u is not a power of two\n", size);
			goto out;
		}
		cfg->gn_prefix = (uint8_t)(32 - __builtin_ctz(size));
		cfg->gn_max_cluster = size;
		if (json_uint(gn, "maxClusterSize", 1, 1u << 31, &size))
			goto out;
		cfg->gn_max_cluster = size;
		if (cfg->gn_prefix < cfg->gn_range.len) {
			pr_err("load config: globalnet.clusterSize is larger than cidrRange\n");
			goto out;
		}
	}
	err = 0;
out:
	cJSON_Delete(root);
	if (err)
		srv_config_free(cfg);
	return err;
}
