/* JSON helpers on cJSON: strict field readers for parsers of untrusted documents (each
 * returns 0 or -EINVAL with a sentence in err naming the field), a lenient path getter for
 * documents already validated, and builders shared by every writer. */
#ifndef SA_COMMON_JSON_H
#define SA_COMMON_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/cidr.h"

#define JSON_ERR_MAX 256

/* Every key of obj is one of names[0..n) (n <= 32) and appears once. */
int json_check_keys(const cJSON *obj, const char *where, const char *const *names,
		    size_t n, char err[JSON_ERR_MAX]) __attribute__((warn_unused_result));
/* obj[key] is a string of at most max bytes; *out points into the tree. */
int json_get_str(const cJSON *obj, const char *key, size_t max, const char **out,
		 char err[JSON_ERR_MAX]) __attribute__((warn_unused_result));
/* obj[key] is an integer in 0..max. */
int json_get_uint(const cJSON *obj, const char *key, double max, unsigned long *out,
		  char err[JSON_ERR_MAX]) __attribute__((warn_unused_result));
/* Overwrites the string value obj[key] in place (secrets in a tree about to be freed). */
void json_wipe_str(cJSON *obj, const char *key);

/* The value at a dotted path ("spec.clusterID"), or NULL when a step is missing. */
const cJSON *json_at(const cJSON *obj, const char *path);
/* The string at a dotted path ("spec.clusterID"), or dflt when a step is missing or the
 * value is not a string. The result points into the tree. */
const char *json_str(const cJSON *obj, const char *path, const char *dflt);

/* A new JSON array of the CIDRs as strings; NULL when out of memory. */
cJSON *json_cidr_array(const struct cidr4 *c, size_t n);

#endif
