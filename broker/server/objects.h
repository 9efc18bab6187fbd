/* The broker's API objects: the resource table, object metadata, Status errors. */
#ifndef SA_BRK_OBJECTS_H
#define SA_BRK_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define BRK_API_GROUP	"subagent.io/v1"
#define BRK_API_PREFIX	"/apis/subagent.io/v1/"
#define BRK_BODY_MAX	(1024 * 1024)

struct brk_resource {
	const char *name;	/* "endpoints": the URL segment */
	const char *kind;	/* "Endpoint" */
	const char *list_kind;	/* "EndpointList" */
	/* Checks the spec; 0 or -EINVAL with a message. */
	int (*validate_spec)(const cJSON *spec, char *msg, size_t len);
	int is_cluster;		/* names are the cluster ID itself */
};

extern const struct brk_resource brk_resources[];
extern const unsigned brk_n_resources;

/* NULL when unknown. */
const struct brk_resource *brk_resource_find(const char *name, size_t len);
/* The resource of a store key "r/<resource>/<name>", or NULL. */
const struct brk_resource *brk_resource_of_key(const char *key);

/* Builds the object to store from a validated request object: apiVersion, kind, metadata
 * (name, uid, creationTimestamp, labels; kept from old when old != NULL), spec, status.
 * Never holds metadata.resourceVersion (the store's revision is the resource version).
 * NULL on ENOMEM. */
cJSON *brk_object_build(const struct brk_resource *r, const cJSON *in, const cJSON *old);
/* Parses a stored value and sets metadata.resourceVersion; NULL on bad data. */
cJSON *brk_object_load(const char *value, uint64_t rev);

/* A Kubernetes-style Status object. */
cJSON *brk_status(int code, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The reason word of an HTTP error code ("NotFound" for 404...). */
const char *brk_reason(int code);

/* The string field at path a.b (NULL when absent or not a string). */
const char *brk_str(const cJSON *obj, const char *a, const char *b);

#endif
