/* broker-info.subm encoder/decoder (cJSON) and the validators shared with the
 * cluster configuration and deploy-broker. Input is untrusted: every field is checked. */
#include "broker/creds/broker_info.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "broker/creds/pki.h"
#include "common/json.h"
#include "common/name.h"
#include "common/util.h"


bool brk_hex_ok(const char *s, size_t min, size_t max)
{
	size_t n = strnlen(s, max + 1);

	return n >= min && n <= max && strspn(s, "0123456789abcdef") == n;
}

bool brk_proposals_ok(const char *s)
{
	size_t n = strnlen(s, BRK_PROPOSALS_MAX + 1), tok = 0;

	if (n == 0 || n > BRK_PROPOSALS_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '-' || c == ',' || c == '\0') {
			if (tok == 0 || tok > 32)
				return false;
			tok = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
		tok++;
	}
	return true;
}

static int parse_port(const char *s, unsigned *port)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || s[0] == '0' || strspn(s, "0123456789") != n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* HOST[:PORT] followed by nothing; port_required for "HOST:PORT" forms. */
static int parse_host_port(const char *s, char *host, size_t hostlen, unsigned *port,
			   bool port_required)
{
	const char *p = s, *hend;
	char h[256];
	size_t n;

	if (*p == '[') {
		unsigned char a6[16];

		hend = strchr(p, ']');
		if (!hend)
			return -EINVAL;
		n = (size_t)(hend - p - 1);
		if (n == 0 || n >= sizeof(h))
			return -EINVAL;
		memcpy(h, p + 1, n);
		h[n] = '\0';
		if (inet_pton(AF_INET6, h, a6) != 1)
			return -EINVAL;
		p = hend + 1;
	} else {
		uint32_t a4;

		n = strcspn(p, ":");
		if (n == 0 || n >= sizeof(h))
			return -EINVAL;
		memcpy(h, p, n);
		h[n] = '\0';
		if (strspn(h, "0123456789.") == n) {
			if (ip4_parse(h, &a4))
				return -EINVAL;
		} else if (!name_is_hostname(h)) {
			return -EINVAL;
		}
		p += n;
	}
	if (*p == ':') {
		if (parse_port(p + 1, port))
			return -EINVAL;
	} else if (*p == '\0' && !port_required) {
		*port = 443;
	} else {
		return -EINVAL;
	}
	if (strlen(h) >= hostlen)
		return -EINVAL;
	strcpy(host, h);
	return 0;
}

int brk_url_parse(const char *url, char *host, size_t hostlen, unsigned *port)
{
	char buf[BRK_URL_MAX + 1];
	size_t n = strnlen(url, BRK_URL_MAX + 1);

	if (n > BRK_URL_MAX || strncmp(url, "https://", 8))
		return -EINVAL;
	memcpy(buf, url + 8, n - 8 + 1);
	n -= 8;
	/* one trailing slash is fine: "https://h:p/"; paths, queries and users are not */
	if (n && buf[n - 1] == '/')
		buf[--n] = '\0';
	if (strpbrk(buf, "/?#@ \t\r\n"))
		return -EINVAL;
	return parse_host_port(buf, host, hostlen, port, false);
}

int brk_hostport_parse(const char *s, char *host, size_t hostlen, unsigned *port)
{
	if (strnlen(s, 300) >= 300)
		return -EINVAL;
	return parse_host_port(s, host, hostlen, port, true);
}

int brk_globalnet_validate(const struct brk_globalnet_settings *gn, char err[BRK_ERR_MAX])
{
	struct cidr4 range;
	uint32_t sz = gn->cluster_size;

	if (cidr4_parse(gn->cidr_range, &range))
		return util_einval(err, JSON_ERR_MAX, "globalnet CIDR range '%s' is not an IPv4 CIDR (a.b.c.d/n)",
			    gn->cidr_range);
	if (sz < BRK_GN_MIN_CLUSTER_SIZE || (sz & (sz - 1)))
		return util_einval(err, JSON_ERR_MAX, "globalnet cluster size %u is not a power of two >= %u",
			    sz, BRK_GN_MIN_CLUSTER_SIZE);
	if (sz > cidr4_size(&range))
		return util_einval(err, JSON_ERR_MAX, "globalnet cluster size %u is larger than the range %s (%llu addresses)",
			    sz, gn->cidr_range, (unsigned long long)cidr4_size(&range));
	return 0;
}

int broker_info_validate(const struct broker_info *bi, char err[BRK_ERR_MAX])
{
	char host[256];
	unsigned port;

	if (bi->version != BROKER_INFO_VERSION)
		return util_einval(err, JSON_ERR_MAX, "unsupported version %d (this subagent reads version %d)",
			    bi->version, BROKER_INFO_VERSION);
	if (bi->n_urls == 0 || bi->n_urls > BRK_MAX_URLS)
		return util_einval(err, JSON_ERR_MAX, "needs 1 to %d broker URLs, has %zu", BRK_MAX_URLS, bi->n_urls);
	for (size_t i = 0; i < bi->n_urls; i++) {
		if (!bi->urls[i] || brk_url_parse(bi->urls[i], host, sizeof(host), &port))
			return util_einval(err, JSON_ERR_MAX, "broker URL %zu is not an https://HOST[:PORT] URL", i + 1);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(bi->urls[i], bi->urls[j]))
				return util_einval(err, JSON_ERR_MAX, "broker URL %s is listed twice", bi->urls[i]);
	}
	if (!bi->ca_pem || pki_ca_check(bi->ca_pem))
		return util_einval(err, JSON_ERR_MAX, "\"ca\" is not the PEM of a CA certificate");
	if (!bi->join_token || !brk_hex_ok(bi->join_token, BRK_TOKEN_HEX_LEN, BRK_TOKEN_HEX_LEN))
		return util_einval(err, JSON_ERR_MAX, "\"joinToken\" must be %d lowercase hex characters",
			    BRK_TOKEN_HEX_LEN);
	/* optional: only a broker deployed with --psk (an upgrade window) hands one out */
	if (bi->psk && (!brk_hex_ok(bi->psk, BRK_PSK_MIN_HEX, BRK_PSK_MAX_HEX) ||
			strlen(bi->psk) % 2))
		return util_einval(err, JSON_ERR_MAX, "\"ike.psk\" must be %d..%d lowercase hex characters (>= 32 bytes)",
			    BRK_PSK_MIN_HEX, BRK_PSK_MAX_HEX);
	if (!brk_proposals_ok(bi->ike.ike_proposals))
		return util_einval(err, JSON_ERR_MAX, "\"ike.ikeProposals\" is not a proposal list like %s",
			    BRK_DEFAULT_IKE_PROPOSALS);
	if (!brk_proposals_ok(bi->ike.esp_proposals))
		return util_einval(err, JSON_ERR_MAX, "\"ike.espProposals\" is not a proposal list like %s",
			    BRK_DEFAULT_ESP_PROPOSALS);
	if (bi->ike.natt_port == 0 || bi->ike.natt_port > 65535)
		return util_einval(err, JSON_ERR_MAX, "\"ike.natTPort\" must be 1..65535");
	return brk_globalnet_validate(&bi->globalnet, err);
}

void broker_info_free(struct broker_info *bi)
{
	if (!bi)
		return;
	for (size_t i = 0; i < bi->n_urls; i++)
		free(bi->urls[i]);
	free(bi->ca_pem);
	util_free_secret(bi->join_token);
	util_free_secret(bi->psk);
	explicit_bzero(bi, sizeof(*bi));
}

/* ---- decoding ---- */

static int copy_str(const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int decode_obj(const cJSON *root, struct broker_info *bi, char err[BRK_ERR_MAX])
{
	static const char *const top[] = { "version", "urls", "ca", "joinToken", "ike",
					   "globalnet" };
	static const char *const ike_keys[] = { "psk", "ikeProposals", "espProposals",
						"natTPort" };
	static const char *const gn_keys[] = { "enabled", "cidrRange", "clusterSize" };
	const cJSON *urls, *ike, *gn, *en, *u;
	unsigned long v;
	const char *s;
	int err_;

	if (!cJSON_IsObject(root))
		return util_einval(err, JSON_ERR_MAX, "not a JSON object");
	if ((err_ = json_check_keys(root, "the document", top, ARRAY_SIZE(top), err)))
		return err_;
	if ((err_ = json_get_uint(root, "version", 1e6, &v, err)))
		return err_;
	bi->version = (int)v;
	if (bi->version != BROKER_INFO_VERSION)
		return util_einval(err, JSON_ERR_MAX, "unsupported version %d (this subagent reads version %d)",
			    bi->version, BROKER_INFO_VERSION);
	urls = cJSON_GetObjectItemCaseSensitive(root, "urls");
	if (!cJSON_IsArray(urls))
		return util_einval(err, JSON_ERR_MAX, "\"urls\" is missing or not an array");
	cJSON_ArrayForEach(u, urls) {
		if (bi->n_urls == BRK_MAX_URLS)
			return util_einval(err, JSON_ERR_MAX, "more than %d broker URLs", BRK_MAX_URLS);
		if (!cJSON_IsString(u) || strlen(u->valuestring) > BRK_URL_MAX)
			return util_einval(err, JSON_ERR_MAX, "broker URL %zu is not a string of at most %d characters",
				    bi->n_urls + 1, BRK_URL_MAX);
		if (copy_str(u->valuestring, &bi->urls[bi->n_urls]))
			return -ENOMEM;
		bi->n_urls++;
	}
	if ((err_ = json_get_str(root, "ca", PKI_MAX_PEM, &s, err)))
		return err_;
	if (copy_str(s, &bi->ca_pem))
		return -ENOMEM;
	if ((err_ = json_get_str(root, "joinToken", BRK_TOKEN_HEX_LEN, &s, err)))
		return err_;
	if (copy_str(s, &bi->join_token))
		return -ENOMEM;

	ike = cJSON_GetObjectItemCaseSensitive(root, "ike");
	if (!cJSON_IsObject(ike))
		return util_einval(err, JSON_ERR_MAX, "\"ike\" is missing or not an object");
	if ((err_ = json_check_keys(ike, "\"ike\"", ike_keys, ARRAY_SIZE(ike_keys), err)))
		return err_;
	if (cJSON_GetObjectItemCaseSensitive(ike, "psk")) {
		if ((err_ = json_get_str(ike, "psk", BRK_PSK_MAX_HEX, &s, err)))
			return err_;
		if (copy_str(s, &bi->psk))
			return -ENOMEM;
	}
	if ((err_ = json_get_str(ike, "ikeProposals", BRK_PROPOSALS_MAX, &s, err)))
		return err_;
	strcpy(bi->ike.ike_proposals, s);
	if ((err_ = json_get_str(ike, "espProposals", BRK_PROPOSALS_MAX, &s, err)))
		return err_;
	strcpy(bi->ike.esp_proposals, s);
	if ((err_ = json_get_uint(ike, "natTPort", 65535, &v, err)))
		return err_;
	bi->ike.natt_port = (unsigned)v;

	gn = cJSON_GetObjectItemCaseSensitive(root, "globalnet");
	if (!cJSON_IsObject(gn))
		return util_einval(err, JSON_ERR_MAX, "\"globalnet\" is missing or not an object");
	if ((err_ = json_check_keys(gn, "\"globalnet\"", gn_keys, ARRAY_SIZE(gn_keys), err)))
		return err_;
	en = cJSON_GetObjectItemCaseSensitive(gn, "enabled");
	if (!cJSON_IsBool(en))
		return util_einval(err, JSON_ERR_MAX, "\"globalnet.enabled\" is missing or not true/false");
	bi->globalnet.enabled = cJSON_IsTrue(en);
	if ((err_ = json_get_str(gn, "cidrRange", CIDR4_STRLEN - 1, &s, err)))
		return err_;
	strcpy(bi->globalnet.cidr_range, s);
	if ((err_ = json_get_uint(gn, "clusterSize", 4294967295.0, &v, err)))
		return err_;
	bi->globalnet.cluster_size = (uint32_t)v;
	return broker_info_validate(bi, err);
}

int broker_info_decode(const char *buf, size_t len, struct broker_info *bi,
		       char err[BRK_ERR_MAX])
{
	const char *end = NULL;
	cJSON *root;
	int ret;

	memset(bi, 0, sizeof(*bi));
	if (len > BROKER_INFO_MAX_SIZE)
		return util_einval(err, JSON_ERR_MAX, "larger than %d bytes", BROKER_INFO_MAX_SIZE);
	if (memchr(buf, '\0', len))
		return util_einval(err, JSON_ERR_MAX, "contains a NUL byte");
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!root)
		return util_einval(err, JSON_ERR_MAX, "not valid JSON (error near byte %zu)",
			    end && end >= buf && end <= buf + len ? (size_t)(end - buf) : (size_t)0);
	for (; end && end < buf + len; end++) {
		if (!strchr(" \t\r\n", *end)) {
			cJSON_Delete(root);
			return util_einval(err, JSON_ERR_MAX, "trailing data after the JSON document");
		}
	}
	ret = decode_obj(root, bi, err);
	/* the tree holds copies of the secrets: wipe them before freeing */
	{
		cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "joinToken"), *ike;

		if (cJSON_IsString(t))
			explicit_bzero(t->valuestring, strlen(t->valuestring));
		ike = cJSON_GetObjectItemCaseSensitive(root, "ike");
		t = ike ? cJSON_GetObjectItemCaseSensitive(ike, "psk") : NULL;
		if (cJSON_IsString(t))
			explicit_bzero(t->valuestring, strlen(t->valuestring));
	}
	cJSON_Delete(root);
	if (ret == -ENOMEM)
		util_einval(err, JSON_ERR_MAX, "out of memory");
	if (ret)
		broker_info_free(bi);
	return ret;
}

int broker_info_load(const char *path, struct broker_info *bi, char err[BRK_ERR_MAX])
{
	size_t len;
	char *buf = util_read_file(path, BROKER_INFO_MAX_SIZE, &len);
	char sub[BRK_ERR_MAX];
	int ret;

	memset(bi, 0, sizeof(*bi));
	if (!buf) {
		ret = -errno;
		snprintf(err, BRK_ERR_MAX, "read %.200s: %s", path,
			 errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
		return ret;
	}
	ret = broker_info_decode(buf, len, bi, sub);
	if (ret)
		snprintf(err, BRK_ERR_MAX, "%.100s: %.150s", path, sub);
	explicit_bzero(buf, len);
	free(buf);
	return ret;
}

/* ---- encoding ---- */

char *broker_info_encode(const struct broker_info *bi, char err[BRK_ERR_MAX])
{
	cJSON *root = NULL, *urls, *ike, *gn;
	char *out = NULL, *res;
	size_t n;

	if (broker_info_validate(bi, err)) {
		errno = EINVAL;
		return NULL;
	}
	root = cJSON_CreateObject();
	if (!root ||
	    !cJSON_AddNumberToObject(root, "version", bi->version) ||
	    !(urls = cJSON_AddArrayToObject(root, "urls")))
		goto nomem;
	for (size_t i = 0; i < bi->n_urls; i++) {
		cJSON *s = cJSON_CreateString(bi->urls[i]);

		if (!s || !cJSON_AddItemToArray(urls, s)) {
			cJSON_Delete(s);
			goto nomem;
		}
	}
	if (!cJSON_AddStringToObject(root, "ca", bi->ca_pem) ||
	    !cJSON_AddStringToObject(root, "joinToken", bi->join_token) ||
	    !(ike = cJSON_AddObjectToObject(root, "ike")) ||
	    (bi->psk && !cJSON_AddStringToObject(ike, "psk", bi->psk)) ||
	    !cJSON_AddStringToObject(ike, "ikeProposals", bi->ike.ike_proposals) ||
	    !cJSON_AddStringToObject(ike, "espProposals", bi->ike.esp_proposals) ||
	    !cJSON_AddNumberToObject(ike, "natTPort", bi->ike.natt_port) ||
	    !(gn = cJSON_AddObjectToObject(root, "globalnet")) ||
	    !cJSON_AddBoolToObject(gn, "enabled", bi->globalnet.enabled) ||
	    !cJSON_AddStringToObject(gn, "cidrRange", bi->globalnet.cidr_range) ||
	    !cJSON_AddNumberToObject(gn, "clusterSize", bi->globalnet.cluster_size))
		goto nomem;
	out = cJSON_Print(root);
	if (!out)
		goto nomem;
	n = strlen(out);
	res = malloc(n + 2);
	if (res) {
		memcpy(res, out, n);
		res[n] = '\n';
		res[n + 1] = '\0';
	}
	util_free_secret(out);
	{
		cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "joinToken");

		explicit_bzero(t->valuestring, strlen(t->valuestring));
		t = cJSON_GetObjectItemCaseSensitive(ike, "psk");
		if (t)
			explicit_bzero(t->valuestring, strlen(t->valuestring));
	}
	cJSON_Delete(root);
	if (!res) {
		util_einval(err, JSON_ERR_MAX, "out of memory");
		errno = ENOMEM;
	}
	return res;
nomem:
	cJSON_Delete(root);
	util_einval(err, JSON_ERR_MAX, "out of memory");
	errno = ENOMEM;
	return NULL;
}
