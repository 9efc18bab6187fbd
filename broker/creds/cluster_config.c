/* The cluster configuration directory: written by join, read (strictly) by the agent. */
#include "broker/creds/cluster_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker/creds/pki.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"


static const char *const files[] = { "cluster.json", "ca.pem", "token", "psk" };

void cluster_config_free(struct cluster_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_broker_urls; i++)
		free(cfg->broker_urls[i]);
	free(cfg->ca_pem);
	util_free_secret(cfg->token);
	util_free_secret(cfg->psk);
	explicit_bzero(cfg, sizeof(*cfg));
}

static int check_cidrs(const struct cidr4 *c, size_t n, const char *what, char err[BRK_ERR_MAX])
{
	char a[CIDR4_STRLEN], b[CIDR4_STRLEN];

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (cidr4_overlap(&c[i], &c[j])) {
				cidr4_format(&c[i], a);
				cidr4_format(&c[j], b);
				return util_einval(err, JSON_ERR_MAX, "%s %s overlaps %s", what, a, b);
			}
		}
	}
	return 0;
}

static int validate(const struct cluster_config *cfg, char err[BRK_ERR_MAX])
{
	char host[256], a[CIDR4_STRLEN], b[CIDR4_STRLEN];
	unsigned port;
	int ret;

	if (!name_is_dns_label(cfg->cluster_id))
		return util_einval(err, JSON_ERR_MAX, "cluster ID '%.63s' is not a DNS label (1-63 of a-z, 0-9, '-')",
			    cfg->cluster_id);
	if (cfg->n_broker_urls == 0 || cfg->n_broker_urls > BRK_MAX_URLS)
		return util_einval(err, JSON_ERR_MAX, "needs 1 to %d broker URLs", BRK_MAX_URLS);
	for (size_t i = 0; i < cfg->n_broker_urls; i++)
		if (!cfg->broker_urls[i] ||
		    brk_url_parse(cfg->broker_urls[i], host, sizeof(host), &port))
			return util_einval(err, JSON_ERR_MAX, "broker URL %zu is not an https://HOST[:PORT] URL", i + 1);
	if (cfg->n_cluster_cidrs == 0 || cfg->n_cluster_cidrs > CC_MAX_CIDRS ||
	    cfg->n_service_cidrs > CC_MAX_CIDRS || cfg->n_global_cidrs > CC_MAX_CIDRS)
		return util_einval(err, JSON_ERR_MAX, "needs 1 to %d cluster CIDRs and at most %d service/global CIDRs",
			    CC_MAX_CIDRS, CC_MAX_CIDRS);
	if ((ret = check_cidrs(cfg->cluster_cidrs, cfg->n_cluster_cidrs, "cluster CIDR", err)) ||
	    (ret = check_cidrs(cfg->service_cidrs, cfg->n_service_cidrs, "service CIDR", err)) ||
	    (ret = check_cidrs(cfg->global_cidrs, cfg->n_global_cidrs, "global CIDR", err)))
		return ret;
	for (size_t i = 0; i < cfg->n_cluster_cidrs; i++) {
		for (size_t j = 0; j < cfg->n_service_cidrs; j++) {
			if (cidr4_overlap(&cfg->cluster_cidrs[i], &cfg->service_cidrs[j])) {
				cidr4_format(&cfg->cluster_cidrs[i], a);
				cidr4_format(&cfg->service_cidrs[j], b);
				return util_einval(err, JSON_ERR_MAX, "cluster CIDR %s overlaps service CIDR %s", a, b);
			}
		}
	}
	if (strcmp(cfg->cable_driver, "ipsec") && strcmp(cfg->cable_driver, "vxlan"))
		return util_einval(err, JSON_ERR_MAX, "cable driver '%.7s' is neither ipsec nor vxlan", cfg->cable_driver);
	if (!brk_proposals_ok(cfg->ike.ike_proposals) || !brk_proposals_ok(cfg->ike.esp_proposals))
		return util_einval(err, JSON_ERR_MAX, "IKE/ESP proposals are not proposal lists");
	if (cfg->ike.natt_port == 0 || cfg->ike.natt_port > 65535)
		return util_einval(err, JSON_ERR_MAX, "NAT-T port must be 1..65535");
	if ((ret = brk_globalnet_validate(&cfg->globalnet, err)))
		return ret;
	if (cfg->globalnet.enabled) {
		struct cidr4 range;

		if (cfg->n_global_cidrs == 0)
			return util_einval(err, JSON_ERR_MAX, "globalnet is on but the cluster has no global CIDR");
		if (cidr4_parse(cfg->globalnet.cidr_range, &range))
			return util_einval(err, JSON_ERR_MAX, "bad globalnet range");
		for (size_t i = 0; i < cfg->n_global_cidrs; i++) {
			if (!cidr4_overlap(&range, &cfg->global_cidrs[i]) ||
			    cfg->global_cidrs[i].len < range.len) {
				cidr4_format(&cfg->global_cidrs[i], a);
				return util_einval(err, JSON_ERR_MAX, "global CIDR %s is outside the globalnet range %s", a,
					    cfg->globalnet.cidr_range);
			}
		}
	} else if (cfg->n_global_cidrs) {
		return util_einval(err, JSON_ERR_MAX, "global CIDRs are set but globalnet is off");
	}
	if (!cfg->ca_pem || pki_ca_check(cfg->ca_pem))
		return util_einval(err, JSON_ERR_MAX, "ca.pem is not the PEM of a CA certificate");
	if (!cfg->token || !brk_hex_ok(cfg->token, BRK_TOKEN_HEX_LEN, BRK_TOKEN_HEX_LEN))
		return util_einval(err, JSON_ERR_MAX, "token must be %d lowercase hex characters", BRK_TOKEN_HEX_LEN);
	if (cfg->psk && (!brk_hex_ok(cfg->psk, BRK_PSK_MIN_HEX, BRK_PSK_MAX_HEX) ||
			 strlen(cfg->psk) % 2))
		return util_einval(err, JSON_ERR_MAX, "psk must be %d..%d lowercase hex characters", BRK_PSK_MIN_HEX,
			    BRK_PSK_MAX_HEX);
	if (strlen(cfg->registration_uid) != strspn(cfg->registration_uid, "0123456789abcdef-"))
		return util_einval(err, JSON_ERR_MAX, "registrationUID must be lowercase hex digits and '-'");
	return 0;
}

int cluster_config_validate(const struct cluster_config *cfg, char err[BRK_ERR_MAX])
{
	return validate(cfg, err);
}

/* ---- save ---- */

static void wipe_file(const char *path);

static char *render(const struct cluster_config *cfg)
{
	cJSON *root = cJSON_CreateObject(), *urls, *ike, *gn;
	char *s = NULL, *res;
	size_t n;

	if (!root || !cJSON_AddStringToObject(root, "clusterID", cfg->cluster_id) ||
	    !(urls = cJSON_AddArrayToObject(root, "brokerURLs")))
		goto out;
	for (size_t i = 0; i < cfg->n_broker_urls; i++)
		if (!cJSON_AddItemToArray(urls, cJSON_CreateString(cfg->broker_urls[i])))
			goto out;
	if (!cJSON_AddItemToObject(root, "clusterCIDRs",
				   json_cidr_array(cfg->cluster_cidrs, cfg->n_cluster_cidrs)) ||
	    !cJSON_AddItemToObject(root, "serviceCIDRs",
				   json_cidr_array(cfg->service_cidrs, cfg->n_service_cidrs)) ||
	    !cJSON_AddItemToObject(root, "globalCIDRs",
				   json_cidr_array(cfg->global_cidrs, cfg->n_global_cidrs)) ||
	    !cJSON_AddStringToObject(root, "cableDriver", cfg->cable_driver) ||
	    !(ike = cJSON_AddObjectToObject(root, "ike")) ||
	    !cJSON_AddStringToObject(ike, "ikeProposals", cfg->ike.ike_proposals) ||
	    !cJSON_AddStringToObject(ike, "espProposals", cfg->ike.esp_proposals) ||
	    !cJSON_AddNumberToObject(ike, "natTPort", cfg->ike.natt_port) ||
	    !(gn = cJSON_AddObjectToObject(root, "globalnet")) ||
	    !cJSON_AddBoolToObject(gn, "enabled", cfg->globalnet.enabled) ||
	    !cJSON_AddStringToObject(gn, "cidrRange", cfg->globalnet.cidr_range) ||
	    !cJSON_AddNumberToObject(gn, "clusterSize", cfg->globalnet.cluster_size) ||
	    (cfg->registration_uid[0] &&
	     !cJSON_AddStringToObject(root, "registrationUID", cfg->registration_uid)))
		goto out;
	s = cJSON_Print(root);
out:
	cJSON_Delete(root);
	if (!s)
		return NULL;
	n = strlen(s);
	res = realloc(s, n + 2);
	if (!res) {
		free(s);
		return NULL;
	}
	res[n] = '\n';
	res[n + 1] = '\0';
	return res;
}

char *cluster_config_render(const struct cluster_config *cfg, char err[BRK_ERR_MAX])
{
	char *json;

	if (cluster_config_validate(cfg, err))
		return NULL;
	json = render(cfg);
	if (!json)
		snprintf(err, BRK_ERR_MAX, "out of memory");
	return json;
}

static int path_in(char *out, size_t len, const char *dir, const char *name)
{
	return snprintf(out, len, "%s/%s", dir, name) >= (int)len ? -ENAMETOOLONG : 0;
}

int cluster_config_save(const char *dir, const struct cluster_config *cfg, char err[BRK_ERR_MAX])
{
	const char *data[4];
	const mode_t modes[4] = { 0644, 0644, 0600, 0600 };
	char path[PATH_MAX], *json;
	int ret;

	ret = cluster_config_validate(cfg, err);
	if (ret)
		return ret;
	json = render(cfg);
	if (!json)
		return util_einval(err, JSON_ERR_MAX, "out of memory"), -ENOMEM;
	ret = util_mkdir_p(dir, 0700);
	if (ret) {
		snprintf(err, BRK_ERR_MAX, "create %.200s: %s", dir, strerror(-ret));
		goto out;
	}
	/* secrets first, cluster.json last: a directory with cluster.json is complete */
	data[0] = json;
	data[1] = cfg->ca_pem;
	data[2] = cfg->token;
	data[3] = cfg->psk;
	for (int i = 3; i >= 0; i--) {
		ret = path_in(path, sizeof(path), dir, files[i]);
		if (!ret && !data[i]) {
			/* certificates now: a shared key from an earlier join goes */
			wipe_file(path);
			if (unlink(path) < 0 && errno != ENOENT)
				ret = -errno;
			continue;
		}
		if (!ret)
			ret = util_write_file(path, data[i], strlen(data[i]), modes[i]);
		if (ret) {
			snprintf(err, BRK_ERR_MAX, "write %.200s/%s: %s", dir, files[i], strerror(-ret));
			goto out;
		}
	}
out:
	free(json);
	return ret;
}

/* ---- load ---- */

static int read_cidrs(const cJSON *root, const char *key, struct cidr4 *out, size_t *n,
		      bool required, char err[BRK_ERR_MAX])
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key), *it;

	*n = 0;
	if (!arr && !required)
		return 0;
	if (!cJSON_IsArray(arr))
		return util_einval(err, JSON_ERR_MAX, "\"%s\" is missing or not an array", key);
	cJSON_ArrayForEach(it, arr) {
		if (*n == CC_MAX_CIDRS)
			return util_einval(err, JSON_ERR_MAX, "\"%s\" has more than %d entries", key, CC_MAX_CIDRS);
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= CIDR4_STRLEN ||
		    cidr4_parse(it->valuestring, &out[*n]))
			return util_einval(err, JSON_ERR_MAX, "\"%s\" entry %zu is not an IPv4 CIDR", key, *n + 1);
		(*n)++;
	}
	return 0;
}

static int parse_json(const char *buf, size_t len, struct cluster_config *cfg,
		      char err[BRK_ERR_MAX])
{
	static const char *const top[] = { "clusterID", "brokerURLs", "clusterCIDRs",
					   "serviceCIDRs", "globalCIDRs", "cableDriver", "ike",
					   "globalnet", "registrationUID" };
	static const char *const ike_keys[] = { "ikeProposals", "espProposals", "natTPort" };
	static const char *const gn_keys[] = { "enabled", "cidrRange", "clusterSize" };
	const cJSON *urls, *u, *ike, *gn, *en;
	cJSON *root;
	const char *s;
	unsigned long v;
	int ret;

	root = cJSON_ParseWithLength(buf, len);
	if (!root)
		return util_einval(err, JSON_ERR_MAX, "cluster.json is not valid JSON");
	ret = -EINVAL;
	if (!cJSON_IsObject(root)) {
		util_einval(err, JSON_ERR_MAX, "cluster.json is not a JSON object");
		goto out;
	}
	if ((ret = json_check_keys(root, "cluster.json", top, ARRAY_SIZE(top), err)) ||
	    (ret = json_get_str(root, "clusterID", sizeof(cfg->cluster_id) - 1, &s, err)))
		goto out;
	strcpy(cfg->cluster_id, s);
	urls = cJSON_GetObjectItemCaseSensitive(root, "brokerURLs");
	if (!cJSON_IsArray(urls)) {
		ret = util_einval(err, JSON_ERR_MAX, "\"brokerURLs\" is missing or not an array");
		goto out;
	}
	cJSON_ArrayForEach(u, urls) {
		if (cfg->n_broker_urls == BRK_MAX_URLS || !cJSON_IsString(u) ||
		    strlen(u->valuestring) > BRK_URL_MAX) {
			ret = util_einval(err, JSON_ERR_MAX, "\"brokerURLs\" must be 1 to %d URL strings", BRK_MAX_URLS);
			goto out;
		}
		cfg->broker_urls[cfg->n_broker_urls] = strdup(u->valuestring);
		if (!cfg->broker_urls[cfg->n_broker_urls]) {
			ret = -ENOMEM;
			goto out;
		}
		cfg->n_broker_urls++;
	}
	if ((ret = read_cidrs(root, "clusterCIDRs", cfg->cluster_cidrs, &cfg->n_cluster_cidrs,
			      true, err)) ||
	    (ret = read_cidrs(root, "serviceCIDRs", cfg->service_cidrs, &cfg->n_service_cidrs,
			      true, err)) ||
	    (ret = read_cidrs(root, "globalCIDRs", cfg->global_cidrs, &cfg->n_global_cidrs,
			      false, err)) ||
	    (ret = json_get_str(root, "cableDriver", sizeof(cfg->cable_driver) - 1, &s, err)))
		goto out;
	strcpy(cfg->cable_driver, s);
	ike = cJSON_GetObjectItemCaseSensitive(root, "ike");
	gn = cJSON_GetObjectItemCaseSensitive(root, "globalnet");
	if (!cJSON_IsObject(ike) || !cJSON_IsObject(gn)) {
		ret = util_einval(err, JSON_ERR_MAX, "\"ike\" or \"globalnet\" is missing or not an object");
		goto out;
	}
	if ((ret = json_check_keys(ike, "\"ike\"", ike_keys, ARRAY_SIZE(ike_keys), err)) ||
	    (ret = json_get_str(ike, "ikeProposals", BRK_PROPOSALS_MAX, &s, err)))
		goto out;
	strcpy(cfg->ike.ike_proposals, s);
	if ((ret = json_get_str(ike, "espProposals", BRK_PROPOSALS_MAX, &s, err)))
		goto out;
	strcpy(cfg->ike.esp_proposals, s);
	if ((ret = json_get_uint(ike, "natTPort", 65535, &v, err)))
		goto out;
	cfg->ike.natt_port = (unsigned)v;
	if ((ret = json_check_keys(gn, "\"globalnet\"", gn_keys, ARRAY_SIZE(gn_keys), err)))
		goto out;
	en = cJSON_GetObjectItemCaseSensitive(gn, "enabled");
	if (!cJSON_IsBool(en)) {
		ret = util_einval(err, JSON_ERR_MAX, "\"globalnet.enabled\" is missing or not true/false");
		goto out;
	}
	cfg->globalnet.enabled = cJSON_IsTrue(en);
	if ((ret = json_get_str(gn, "cidrRange", CIDR4_STRLEN - 1, &s, err)))
		goto out;
	strcpy(cfg->globalnet.cidr_range, s);
	if ((ret = json_get_uint(gn, "clusterSize", 4294967295.0, &v, err)))
		goto out;
	cfg->globalnet.cluster_size = (uint32_t)v;
	if (cJSON_GetObjectItemCaseSensitive(root, "registrationUID")) {
		if ((ret = json_get_str(root, "registrationUID", CC_UID_MAX, &s, err)))
			goto out;
		strcpy(cfg->registration_uid, s);
	}
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

/* Reads DIR/name; secrets get their trailing newline trimmed and a mode check. */
static int read_in(const char *dir, const char *name, size_t max, bool secret, char **out,
		   char err[BRK_ERR_MAX])
{
	char path[PATH_MAX];
	struct stat st;
	size_t len;
	char *buf;
	int ret;

	ret = path_in(path, sizeof(path), dir, name);
	if (ret)
		return util_einval(err, JSON_ERR_MAX, "path too long"), ret;
	buf = util_read_file(path, max, &len);
	if (!buf) {
		ret = -errno;
		snprintf(err, BRK_ERR_MAX, "read %.200s: %s", path,
			 errno == EFBIG ? "file too large" : strerror(errno));
		return ret;
	}
	if (memchr(buf, '\0', len)) {
		util_free_secret(buf);
		return util_einval(err, JSON_ERR_MAX, "%.200s contains a NUL byte", path);
	}
	if (secret) {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		if (stat(path, &st) == 0 && (st.st_mode & 077))
			pr_warn("load %s: mode %03o lets other users read a secret; use 0600\n",
				path, st.st_mode & 0777);
	}
	*out = buf;
	return 0;
}

static int load(const char *dir, struct cluster_config *cfg, char err[BRK_ERR_MAX], bool with_psk)
{
	char *json = NULL;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = read_in(dir, "cluster.json", CC_MAX_JSON, false, &json, err);
	if (ret)
		return ret;
	ret = parse_json(json, strlen(json), cfg, err);
	free(json);
	if (ret)
		goto err;
	if ((ret = read_in(dir, "ca.pem", PKI_MAX_PEM, false, &cfg->ca_pem, err)) ||
	    (ret = read_in(dir, "token", 1024, true, &cfg->token, err)))
		goto err;
	/* only a broker deployed with --psk hands out a shared key; readers never need it */
	ret = with_psk ? read_in(dir, "psk", 1024, true, &cfg->psk, err) : 0;
	if (ret == -ENOENT)
		ret = 0;
	if (ret)
		goto err;
	if ((ret = path_in(cfg->ca_path, sizeof(cfg->ca_path), dir, "ca.pem"))) {
		util_einval(err, JSON_ERR_MAX, "path too long");
		goto err;
	}
	ret = validate(cfg, err);
	if (ret)
		goto err;
	return 0;
err:
	if (ret == -ENOMEM)
		util_einval(err, JSON_ERR_MAX, "out of memory");
	cluster_config_free(cfg);
	return ret;
}

int cluster_config_load_err(const char *dir, struct cluster_config *cfg, char err[BRK_ERR_MAX])
{
	return load(dir, cfg, err, true);
}

int cluster_config_load_reader(const char *dir, struct cluster_config *cfg, char err[BRK_ERR_MAX])
{
	return load(dir, cfg, err, false);
}

int cluster_config_load(const char *dir, struct cluster_config *cfg)
{
	char err[BRK_ERR_MAX] = "";
	int ret = cluster_config_load_err(dir, cfg, err);

	if (ret)
		pr_err("load cluster configuration %s: %s\n", dir, err);
	return ret;
}

/* Overwrites a small secret file in place before it is unlinked: the blocks may outlive
 * this cluster on the disk. */
static void wipe_file(const char *path)
{
	static const char zeros[1024];
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= (off_t)sizeof(zeros) &&
	    (write(fd, zeros, (size_t)st.st_size) != st.st_size || fsync(fd) < 0))
		pr_warn("wipe %s before removal: %s\n", path, strerror(errno));
	close(fd);
}

int cluster_config_remove(const char *dir)
{
	char path[PATH_MAX];
	int first = 0;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (path_in(path, sizeof(path), dir, files[i]))
			return -ENAMETOOLONG;
		if (i >= 2)
			wipe_file(path);
		if (unlink(path) < 0 && errno != ENOENT && !first)
			first = -errno;
	}
	if (rmdir(dir) < 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT && !first)
		first = -errno;
	return first;
}
