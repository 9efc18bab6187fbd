/* The origin of a node's caches (see origin.h). */
#include "broker/creds/origin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/creds/pki.h"
#include "common/log.h"
#include "common/util.h"

int origin_of(const struct cluster_config *cfg, struct origin *out)
{
	memset(out, 0, sizeof(*out));
	if (!cfg->ca_pem || pki_fingerprint(cfg->ca_pem, out->broker_ca))
		return -EINVAL;
	snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", cfg->cluster_id);
	snprintf(out->registration, sizeof(out->registration), "%s", cfg->registration_uid);
	return 0;
}

cJSON *origin_to_json(const struct origin *o)
{
	cJSON *j = cJSON_CreateObject();

	if (!j || !cJSON_AddStringToObject(j, "brokerCA", o->broker_ca) ||
	    !cJSON_AddStringToObject(j, "clusterID", o->cluster_id) ||
	    !cJSON_AddStringToObject(j, "registrationUID", o->registration)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int origin_check(const cJSON *obj, const struct origin *o, char *why, size_t len)
{
	const char *ca = str_of(obj, "brokerCA"), *id = str_of(obj, "clusterID");
	const char *reg = str_of(obj, "registrationUID");

	if (!cJSON_IsObject(obj) || !ca || !id || !reg) {
		snprintf(why, len, "it names no broker and registration (written before caches "
			 "carried them, or damaged)");
		return -ESTALE;
	}
	if (strcmp(ca, o->broker_ca)) {
		snprintf(why, len, "it was written for another broker (CA %.16s..., this one's is "
			 "%.16s...)", ca, o->broker_ca);
		return -ESTALE;
	}
	if (strcmp(id, o->cluster_id)) {
		snprintf(why, len, "it was written for cluster %.63s, this node is in %s", id,
			 o->cluster_id);
		return -ESTALE;
	}
	if (strcmp(reg, o->registration)) {
		snprintf(why, len, "it was written for another registration of cluster %s "
			 "(%.40s, now %s)", o->cluster_id, reg[0] ? reg : "none",
			 o->registration[0] ? o->registration : "none");
		return -ESTALE;
	}
	return 0;
}

void origin_line(const struct origin *o, char out[ORIGIN_LINE_MAX])
{
	snprintf(out, ORIGIN_LINE_MAX, "%s %s %s", o->broker_ca, o->cluster_id,
		 o->registration[0] ? o->registration : "-");
}

cJSON *origin_cache_load(const char *path, const struct origin *o, size_t max, const char *what)
{
	char why[256];
	cJSON *doc;
	char *s;

	s = util_read_file(path, max, NULL);
	if (!s) {
		if (errno != ENOENT)
			pr_warn("read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	doc = cJSON_Parse(s);
	free(s);
	if (!cJSON_IsObject(doc)) {
		snprintf(why, sizeof(why), "it is not a JSON object");
		goto discard;
	}
	if (origin_check(cJSON_GetObjectItemCaseSensitive(doc, "origin"), o, why, sizeof(why)))
		goto discard;
	return doc;
discard:
	pr_warn("discard %s (%s): %s\n", path, what, why);
	cJSON_Delete(doc);
	if (unlink(path) < 0 && errno != ENOENT)
		pr_warn("remove %s: %s\n", path, strerror(errno));
	errno = ESTALE;
	return NULL;
}

int origin_cache_save(const char *path, const struct origin *o, cJSON *doc)
{
	cJSON *oj = origin_to_json(o);
	char *s;
	int rc;

	if (!oj)
		return -ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "origin");
	if (!cJSON_AddItemToObject(doc, "origin", oj)) {
		cJSON_Delete(oj);
		return -ENOMEM;
	}
	s = cJSON_Print(doc);
	if (!s)
		return -ENOMEM;
	rc = util_write_file(path, s, strlen(s), 0600);
	free(s);
	return rc;
}
