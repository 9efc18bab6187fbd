/* Name checks (see name.h). */
#include "common/name.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One label of n bytes at s: 1..63 alphanumerics or '-', alphanumeric at both ends. */
static bool label_ok(const char *s, size_t n, bool upper)
{
	if (n < 1 || n > NAME_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool alnum = upper ? is_alnum(s[i]) : is_lower_alnum(s[i]);

		if (!alnum && (s[i] != '-' || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* Labels joined by '.', 1..253 in all. */
static bool labels_ok(const char *s, bool upper)
{
	size_t n = s ? strnlen(s, NAME_SUBDOMAIN_MAX + 1) : 0;

	if (n < 1 || n > NAME_SUBDOMAIN_MAX)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (!label_ok(p, l, upper))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

bool name_is_dns_label(const char *s)
{
	return s && label_ok(s, strnlen(s, NAME_LABEL_MAX + 1), false);
}

bool name_is_dns_subdomain(const char *s)
{
	return labels_ok(s, false);
}

bool name_is_hostname(const char *s)
{
	return labels_ok(s, true);
}

bool name_is_safe(const char *s, size_t len, size_t max)
{
	if (!s || len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

int name_owned(char *buf, size_t len, const char *cluster, const char *suffix)
{
	if (!name_is_dns_label(cluster) || !suffix)
		return -EINVAL;
	if (snprintf(buf, len, "%s.%s", cluster, suffix) >= (int)len)
		return -ENAMETOOLONG;
	return name_is_dns_subdomain(buf) ? 0 : -EINVAL;
}
