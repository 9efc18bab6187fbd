/* globalnet address pool: hands out the global IPs of one cluster's global CIDR (cluster
 * egress IPs, per-pod/namespace egress IPs, ingress IPs). Pure logic, no I/O. Addresses are
 * IPv4 in host byte order. The CIDR's first (network) and last (broadcast) addresses are
 * never handed out. Freed addresses are reused last (next-fit), so a remote cluster that
 * still holds an old flow to a released IP rarely reaches its next owner. */
#ifndef SA_GN_POOL_H
#define SA_GN_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cidr.h"

struct gn_pool;

#define GN_POOL_MIN_LEN 8	/* at most a /8 (16M addresses, a 2 MiB bitmap) */
#define GN_POOL_MAX_LEN 30	/* at least 2 usable addresses */

/* NULL and errno (EINVAL: prefix length out of range; ENOMEM). */
struct gn_pool *gn_pool_new(const struct cidr4 *global);
void gn_pool_free(struct gn_pool *p);

/* The cluster egress IPs: n contiguous addresses, the lowest free run. 0, -ENOSPC, -EINVAL. */
int gn_pool_alloc_block(struct gn_pool *p, unsigned int n, uint32_t *out)
	__attribute__((warn_unused_result));
/* One free address (next-fit). 0 or -ENOSPC. */
int gn_pool_alloc(struct gn_pool *p, uint32_t *out) __attribute__((warn_unused_result));
/* A given address, e.g. restored from state: 0, -EEXIST (taken), -ERANGE (not usable). */
int gn_pool_reserve(struct gn_pool *p, uint32_t addr) __attribute__((warn_unused_result));
/* 0, -ENOENT (not allocated), -ERANGE. */
int gn_pool_release(struct gn_pool *p, uint32_t addr) __attribute__((warn_unused_result));

bool gn_pool_is_allocated(const struct gn_pool *p, uint32_t addr);
/* Usable addresses still free. */
uint32_t gn_pool_free_count(const struct gn_pool *p);

#endif
