/* Decoding and validation of what clients send to the broker: the one place where
 * untrusted request bodies are checked (fuzzed by tests/fuzz/fuzz_broker_request.c). */
#ifndef SA_BRK_VALIDATE_H
#define SA_BRK_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct srv_resource;

/* Parses a request body (exactly len bytes, not NUL-terminated) that must be one JSON
 * object. Returns it, or NULL with a message: errno EMSGSIZE (too large), EINVAL. */
cJSON *srv_decode_body(const char *buf, size_t len, char *msg, size_t msglen);

/* Checks an object sent for resource r: kind/apiVersion (if given), metadata.name,
 * metadata.resourceVersion syntax, spec (required fields, IPs, CIDRs, sizes), status.
 * 0 or -EINVAL with a message naming the field. */
int srv_validate_object(const struct srv_resource *r, const cJSON *obj, char *msg, size_t len)
	__attribute__((warn_unused_result));

/* Spec checks, used through the resource table. */
int srv_validate_cluster_spec(const cJSON *spec, char *msg, size_t len);
int srv_validate_endpoint_spec(const cJSON *spec, char *msg, size_t len);
int srv_validate_gwstatus_spec(const cJSON *spec, char *msg, size_t len);
int srv_validate_gegress_spec(const cJSON *spec, char *msg, size_t len);
int srv_validate_gingress_spec(const cJSON *spec, char *msg, size_t len);
/* ServiceExport: the spec (broker/client/service.h) and the name "CLUSTER.NAME.NAMESPACE". */
int srv_validate_svcexport_spec(const cJSON *spec, char *msg, size_t len);
int srv_validate_svcexport_name(const char *name, const cJSON *spec, char *msg, size_t len);

#endif
