/* globalnet address pool: a bitmap over the global CIDR (see gn_pool.h). */
#include <errno.h>
#include <stdlib.h>

#include "globalnet/gn_pool.h"

struct gn_pool {
	uint32_t base;		/* network address */
	uint32_t size;		/* addresses in the CIDR */
	uint32_t used;		/* allocated usable addresses */
	uint32_t cursor;	/* next-fit: index after the last one handed out */
	uint64_t *bits;
};

static bool bit_get(const struct gn_pool *p, uint32_t i)
{
	return p->bits[i / 64] >> (i % 64) & 1;
}

static void bit_set(struct gn_pool *p, uint32_t i, bool v)
{
	if (v)
		p->bits[i / 64] |= 1ull << (i % 64);
	else
		p->bits[i / 64] &= ~(1ull << (i % 64));
}

/* Index of a usable address: not the network or the broadcast address. */
static int index_of(const struct gn_pool *p, uint32_t addr, uint32_t *idx)
{
	uint32_t i = addr - p->base;

	if (addr < p->base || i >= p->size || i == 0 || i == p->size - 1)
		return -ERANGE;
	*idx = i;
	return 0;
}

struct gn_pool *gn_pool_new(const struct cidr4 *global)
{
	struct gn_pool *p;

	if (!global || global->len < GN_POOL_MIN_LEN || global->len > GN_POOL_MAX_LEN) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base = global->addr & cidr4_mask(global->len);
	p->size = (uint32_t)cidr4_size(global);
	p->cursor = 1;
	p->bits = calloc((p->size + 63) / 64, sizeof(*p->bits));
	if (!p->bits) {
		free(p);
		return NULL;
	}
	return p;
}

void gn_pool_free(struct gn_pool *p)
{
	if (!p)
		return;
	free(p->bits);
	free(p);
}

int gn_pool_alloc_block(struct gn_pool *p, unsigned int n, uint32_t *out)
{
	uint32_t run = 0;

	if (n == 0 || n > p->size - 2)
		return -EINVAL;
	for (uint32_t i = 1; i < p->size - 1; i++) {
		if (bit_get(p, i)) {
			run = 0;
			continue;
		}
		if (++run < n)
			continue;
		for (uint32_t j = i + 1 - n; j <= i; j++) {
			bit_set(p, j, true);
			out[j - (i + 1 - n)] = p->base + j;
		}
		p->used += n;
		return 0;
	}
	return -ENOSPC;
}

int gn_pool_alloc(struct gn_pool *p, uint32_t *out)
{
	uint32_t usable = p->size - 2;

	if (p->used >= usable)
		return -ENOSPC;
	for (uint32_t k = 0; k < usable; k++) {
		uint32_t i = 1 + (p->cursor - 1 + k) % usable;

		if (bit_get(p, i))
			continue;
		bit_set(p, i, true);
		p->used++;
		p->cursor = i + 1 > usable ? 1 : i + 1;
		*out = p->base + i;
		return 0;
	}
	return -ENOSPC;
}

int gn_pool_reserve(struct gn_pool *p, uint32_t addr)
{
	uint32_t i;
	int err = index_of(p, addr, &i);

	if (err)
		return err;
	if (bit_get(p, i))
		return -EEXIST;
	bit_set(p, i, true);
	p->used++;
	return 0;
}

int gn_pool_release(struct gn_pool *p, uint32_t addr)
{
	uint32_t i;
	int err = index_of(p, addr, &i);

	if (err)
		return err;
	if (!bit_get(p, i))
		return -ENOENT;
	bit_set(p, i, false);
	p->used--;
	return 0;
}

bool gn_pool_is_allocated(const struct gn_pool *p, uint32_t addr)
{
	uint32_t i;

	return !index_of(p, addr, &i) && bit_get(p, i);
}

uint32_t gn_pool_free_count(const struct gn_pool *p)
{
	return p->size - 2 - p->used;
}
