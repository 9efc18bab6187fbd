/* The name checks every part uses, one per kind of name. Each takes a NUL-terminated
 * string (NULL is refused) and says whether it is a name of that kind. */
#ifndef SA_COMMON_NAME_H
#define SA_COMMON_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_LABEL_MAX		63	/* RFC 1123 label */
#define NAME_SUBDOMAIN_MAX	253	/* RFC 1123 subdomain */

/* An RFC 1123 DNS label as Kubernetes uses it (cluster IDs, node names in objects):
 * 1..63 of [a-z0-9-], alphanumeric at both ends. */
bool name_is_dns_label(const char *s);
/* An RFC 1123 subdomain (object names): DNS labels joined by '.', 1..253 characters. */
bool name_is_dns_subdomain(const char *s);
/* A host name (URL hosts, certificate SANs): labels of 1..63 of [A-Za-z0-9-] that do not
 * start or end with '-', joined by '.', 1..253 characters. */
bool name_is_hostname(const char *s);
/* The first len bytes of s are 1..max of [A-Za-z0-9._-]: nothing that could split a log
 * line or a path (names from the wire, such as heartbeats, before they are trusted). */
bool name_is_safe(const char *s, size_t len, size_t max);

/* The name of a broker object owned by cluster: "<cluster>.<suffix>" (a cluster ID holds
 * no '.', so the first label names the owner and two clusters' names never collide).
 * 0, or -EINVAL when the result is not a DNS subdomain (-ENAMETOOLONG: longer than len). */
int name_owned(char *buf, size_t len, const char *cluster, const char *suffix)
	__attribute__((warn_unused_result));

#endif
