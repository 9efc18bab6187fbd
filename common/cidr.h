/* IPv4 addresses and CIDRs: parsing, printing, overlap. Host byte order inside. */
#ifndef SA_CIDR_H
#define SA_CIDR_H

#include <stdbool.h>
#include <stdint.h>

struct cidr4 {
	uint32_t addr;	/* network address, host byte order, host bits zero */
	uint8_t len;	/* prefix length 0..32 */
};

#define CIDR4_STRLEN 20	/* "255.255.255.255/32" + NUL, with room to spare */

/* "a.b.c.d"; 0 or -EINVAL. */
int ip4_parse(const char *s, uint32_t *out) __attribute__((warn_unused_result));
/* "a.b.c.d/n" with host bits zero; 0 or -EINVAL. */
int cidr4_parse(const char *s, struct cidr4 *out) __attribute__((warn_unused_result));
void ip4_format(uint32_t addr, char buf[16]);
void cidr4_format(const struct cidr4 *c, char buf[CIDR4_STRLEN]);

uint32_t cidr4_mask(uint8_t len);
bool cidr4_contains(const struct cidr4 *c, uint32_t addr);
bool cidr4_overlap(const struct cidr4 *a, const struct cidr4 *b);
uint64_t cidr4_size(const struct cidr4 *c);

#endif
