/* The broker's API objects: the resource table, object metadata, Status errors. */
#ifndef SA_BRK_OBJECTS_H
#define SA_BRK_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SRV_API_GROUP	"subagent.io/v1"
#define BRK_API_PREFIX	"/apis/subagent.io/v1/"
#define SRV_BODY_MAX	(1024 * 1024)

struct srv_nets;
struct srv_server;

struct srv_resource {
	const char *name;	/* "endpoints": the URL segment */
	const char *kind;	/* "Endpoint" */
	const char *list_kind;	/* "EndpointList" */
	/* Checks the spec; 0 or -EINVAL with a message. NULL for a read-only resource. */
	int (*validate_spec)(const cJSON *spec, char *msg, size_t len);
	int is_cluster;		/* names are the cluster ID itself */
	int read_only;		/* derived by the broker: no client writes it, not even the admin */
	/* Optional: a name rule stricter than "<clusterID>.<anything>" (0 or -EINVAL). */
	int (*validate_name)(const char *name, const cJSON *spec, char *msg, size_t len);
	/* Optional: called after every successful create, update or delete of an object of
	 * this resource with the stored object (for a delete, its last version). */
	void (*on_change)(struct srv_server *srv, const cJSON *obj);
	/* Optional: checks the networks an object claims against its owner's registration
	 * (claims.h); NULL: it claims none. */
	int (*check_claims)(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len);
};

extern const struct srv_resource srv_resources[];
extern const unsigned srv_n_resources;

/* NULL when unknown. */
const struct srv_resource *srv_resource_find(const char *name, size_t len);
/* The resource of a store key "r/<resource>/<name>", or NULL. */
const struct srv_resource *srv_resource_of_key(const char *key);

/* Builds the object to store from a validated request object: apiVersion, kind, metadata
 * (name, uid, creationTimestamp, labels; kept from old when old != NULL), spec, status.
 * Never holds metadata.resourceVersion (the store's revision is the resource version).
 * NULL on ENOMEM. */
cJSON *srv_object_build(const struct srv_resource *r, const cJSON *in, const cJSON *old);
/* Parses a stored value and sets metadata.resourceVersion; NULL on bad data. */
cJSON *srv_object_load(const char *value, uint64_t rev);

/* A Kubernetes-style Status object. */
cJSON *srv_status(int code, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The reason word of an HTTP error code ("NotFound" for 404...). */
const char *srv_reason(int code);

/* The store key of an object: "r/<resource>/<name>". 0 or -ENAMETOOLONG. */
int srv_object_key(char *buf, size_t len, const struct srv_resource *r, const char *name)
	__attribute__((warn_unused_result));

#endif
