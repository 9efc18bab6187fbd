/* IPv4 CIDR math. Strict parsing: no leading zeros, no trailing junk. */
#include "common/cidr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int ip4_parse(const char *s, uint32_t *out)
{
	uint32_t addr = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		int digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (digits && v == 0)
				return -EINVAL;	/* leading zero */
			v = v * 10 + (unsigned)(*s - '0');
			if (++digits > 3 || v > 255)
				return -EINVAL;
			s++;
		}
		if (!digits)
			return -EINVAL;
		addr = addr << 8 | v;
		if (part < 3 && *s++ != '.')
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	*out = addr;
	return 0;
}

uint32_t cidr4_mask(uint8_t len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

int cidr4_parse(const char *s, struct cidr4 *out)
{
	char ip[16];
	const char *slash = strchr(s, '/');
	size_t n;
	unsigned len = 0;
	int digits = 0;
	uint32_t addr;

	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (ip4_parse(ip, &addr))
		return -EINVAL;
	for (s = slash + 1; *s >= '0' && *s <= '9'; s++) {
		if (digits && len == 0)
			return -EINVAL;
		len = len * 10 + (unsigned)(*s - '0');
		if (++digits > 2 || len > 32)
			return -EINVAL;
	}
	if (!digits || *s)
		return -EINVAL;
	if (addr & ~cidr4_mask((uint8_t)len))
		return -EINVAL;	/* host bits set: ambiguous, refuse */
	out->addr = addr;
	out->len = (uint8_t)len;
	return 0;
}

void ip4_format(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

void cidr4_format(const struct cidr4 *c, char buf[CIDR4_STRLEN])
{
	char ip[16];

	ip4_format(c->addr, ip);
	snprintf(buf, CIDR4_STRLEN, "%s/%u", ip, c->len);
}

bool cidr4_contains(const struct cidr4 *c, uint32_t addr)
{
	return (addr & cidr4_mask(c->len)) == c->addr;
}

bool cidr4_overlap(const struct cidr4 *a, const struct cidr4 *b)
{
	uint8_t len = a->len < b->len ? a->len : b->len;
	uint32_t m = cidr4_mask(len);

	return (a->addr & m) == (b->addr & m);
}

uint64_t cidr4_size(const struct cidr4 *c)
{
	return (uint64_t)1 << (32 - c->len);
}
