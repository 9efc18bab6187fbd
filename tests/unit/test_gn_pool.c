/* globalnet/gn_pool: global IP allocation inside a cluster's global CIDR. */
#include <errno.h>

#include "globalnet/gn_pool.h"
#include "tests/unit/harness.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static void test_egress_block_then_singles(void)
{
	struct cidr4 g = { IP4(242, 1, 0, 0), 16 };
	struct gn_pool *p = gn_pool_new(&g);
	uint32_t eg[8], a;

	REQUIRE(p);
	CHECK_EQ_INT(gn_pool_free_count(p), 65534);
	REQUIRE(gn_pool_alloc_block(p, 8, eg) == 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ_INT(eg[i], IP4(242, 1, 0, 1 + i));	/* never the network address */
	CHECK(!gn_pool_is_allocated(p, IP4(242, 1, 0, 0)));
	CHECK(gn_pool_alloc(p, &a) == 0);
	CHECK_EQ_INT(a, IP4(242, 1, 0, 9));
	CHECK_EQ_INT(gn_pool_free_count(p), 65534 - 9);
	gn_pool_free(p);
}

static void test_reserve_release_next_fit(void)
{
	struct cidr4 g = { IP4(242, 3, 0, 0), 24 };
	struct gn_pool *p = gn_pool_new(&g);
	uint32_t a, b, c;

	REQUIRE(p);
	CHECK_EQ_INT(gn_pool_reserve(p, IP4(242, 3, 0, 2)), 0);
	CHECK_EQ_INT(gn_pool_reserve(p, IP4(242, 3, 0, 2)), -EEXIST);
	CHECK_EQ_INT(gn_pool_reserve(p, IP4(242, 3, 0, 0)), -ERANGE);
	CHECK_EQ_INT(gn_pool_reserve(p, IP4(242, 3, 0, 255)), -ERANGE);
	CHECK_EQ_INT(gn_pool_reserve(p, IP4(242, 4, 0, 1)), -ERANGE);
	REQUIRE(gn_pool_alloc(p, &a) == 0);
	REQUIRE(gn_pool_alloc(p, &b) == 0);
	CHECK_EQ_INT(a, IP4(242, 3, 0, 1));
	CHECK_EQ_INT(b, IP4(242, 3, 0, 3));	/* .2 was reserved */
	CHECK_EQ_INT(gn_pool_release(p, a), 0);
	CHECK_EQ_INT(gn_pool_release(p, a), -ENOENT);
	REQUIRE(gn_pool_alloc(p, &c) == 0);
	CHECK_EQ_INT(c, IP4(242, 3, 0, 4));	/* a released address is reused last */
	CHECK(!gn_pool_is_allocated(p, a));
	CHECK(gn_pool_is_allocated(p, c));
	gn_pool_free(p);
}

static void test_exhaustion_and_wrap(void)
{
	struct cidr4 g = { IP4(242, 9, 9, 0), 29 };	/* 6 usable */
	struct gn_pool *p = gn_pool_new(&g);
	uint32_t blk[8], a;

	REQUIRE(p);
	CHECK_EQ_INT(gn_pool_alloc_block(p, 7, blk), -EINVAL);
	REQUIRE(gn_pool_alloc_block(p, 2, blk) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(gn_pool_alloc(p, &a) == 0);
	CHECK_EQ_INT(a, IP4(242, 9, 9, 6));
	CHECK_EQ_INT(gn_pool_alloc(p, &a), -ENOSPC);
	CHECK_EQ_INT(gn_pool_free_count(p), 0);
	CHECK_EQ_INT(gn_pool_release(p, IP4(242, 9, 9, 4)), 0);
	CHECK_EQ_INT(gn_pool_alloc_block(p, 2, blk), -ENOSPC);	/* no run of 2 */
	CHECK_EQ_INT(gn_pool_alloc(p, &a), 0);	/* wraps around to the hole */
	CHECK_EQ_INT(a, IP4(242, 9, 9, 4));
	gn_pool_free(p);
}

static void test_bad_cidrs(void)
{
	struct cidr4 tiny = { IP4(242, 0, 0, 0), 31 }, huge = { IP4(240, 0, 0, 0), 4 };

	CHECK(gn_pool_new(&tiny) == NULL && errno == EINVAL);
	CHECK(gn_pool_new(&huge) == NULL && errno == EINVAL);
	CHECK(gn_pool_new(NULL) == NULL);
	gn_pool_free(NULL);
}

int main(void)
{
	RUN(test_egress_block_then_singles);
	RUN(test_reserve_release_next_fit);
	RUN(test_exhaustion_and_wrap);
	RUN(test_bad_cidrs);
	return harness_done();
}
