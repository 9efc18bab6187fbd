/* Strict cJSON field readers shared by the broker-side parsers of untrusted documents.
 * Each returns 0 or -EINVAL with a sentence in err naming the field. */
#ifndef SA_BROKER_JSON_UTIL_H
#define SA_BROKER_JSON_UTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "broker/broker_info.h"	/* BRK_ERR_MAX */

/* Every key of obj is one of names[0..n) (n <= 32) and appears once. */
int brk_json_check_keys(const cJSON *obj, const char *where, const char *const *names,
			size_t n, char err[BRK_ERR_MAX]) __attribute__((warn_unused_result));
/* obj[key] is a string of at most max bytes; *out points into the tree. */
int brk_json_get_str(const cJSON *obj, const char *key, size_t max, const char **out,
		     char err[BRK_ERR_MAX]) __attribute__((warn_unused_result));
/* obj[key] is an integer in 0..max. */
int brk_json_get_uint(const cJSON *obj, const char *key, double max, unsigned long *out,
		      char err[BRK_ERR_MAX]) __attribute__((warn_unused_result));
/* Formats into err (NULL-safe); returns -EINVAL. */
int brk_json_fail(char err[BRK_ERR_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Overwrites the string value obj[key] in place (secrets in a tree about to be freed). */
void brk_json_wipe_str(cJSON *obj, const char *key);

#endif
