/* JSON helpers (see json.h). */
#include "common/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

void json_wipe_str(cJSON *obj, const char *key)
{
	cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	if (cJSON_IsString(v) && v->valuestring)
		explicit_bzero(v->valuestring, strlen(v->valuestring));
}

/* Every key of obj must be one of the names, and appear once. */
int json_check_keys(const cJSON *obj, const char *where, const char *const *names,
		      size_t n, char err[JSON_ERR_MAX])
{
	unsigned seen = 0;

	for (const cJSON *it = obj->child; it; it = it->next) {
		size_t i;

		for (i = 0; i < n; i++)
			if (it->string && !strcmp(it->string, names[i]))
				break;
		if (i == n)
			return util_einval(err, JSON_ERR_MAX, "unknown field \"%.64s\" in %s", it->string ? it->string : "",
				    where);
		if (seen & (1U << i))
			return util_einval(err, JSON_ERR_MAX, "field \"%s\" appears twice in %s", names[i], where);
		seen |= 1U << i;
	}
	return 0;
}

int json_get_str(const cJSON *obj, const char *key, size_t max, const char **out,
		   char err[JSON_ERR_MAX])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsString(v) || !v->valuestring)
		return util_einval(err, JSON_ERR_MAX, "\"%s\" is missing or not a string", key);
	if (strlen(v->valuestring) > max)
		return util_einval(err, JSON_ERR_MAX, "\"%s\" is longer than %zu characters", key, max);
	*out = v->valuestring;
	return 0;
}

int json_get_uint(const cJSON *obj, const char *key, double max, unsigned long *out,
		    char err[JSON_ERR_MAX])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > max || v->valuedouble != floor(v->valuedouble))
		return util_einval(err, JSON_ERR_MAX, "\"%s\" is missing or not an integer in 0..%.0f", key, max);
	*out = (unsigned long)v->valuedouble;
	return 0;
}

const cJSON *json_at(const cJSON *obj, const char *path)
{
	const cJSON *v = obj;
	char step[128];

	for (const char *p = path; v && *p;) {
		size_t n = strcspn(p, ".");

		if (n >= sizeof(step))
			return NULL;
		memcpy(step, p, n);
		step[n] = '\0';
		v = cJSON_GetObjectItemCaseSensitive(v, step);
		p += n + (p[n] == '.');
	}
	return v;
}

const char *json_str(const cJSON *obj, const char *path, const char *dflt)
{
	const cJSON *v = json_at(obj, path);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

cJSON *json_cidr_array(const struct cidr4 *c, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	char buf[CIDR4_STRLEN];

	for (size_t i = 0; a && i < n; i++) {
		cJSON *s;

		cidr4_format(&c[i], buf);
		s = cJSON_CreateString(buf);
		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}
