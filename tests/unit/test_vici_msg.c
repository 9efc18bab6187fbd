/* Unit tests for agent/cable/strongswan/vici_msg.c: the VICI codec. */
#include <errno.h>
#include <stdint.h>

#include "agent/cable/strongswan/vici_msg.h"
#include "common/util.h"
#include "tests/unit/harness.h"

/* The encoding example of strongSwan's vici README. */
static const uint8_t spec_msg[] = {
	3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',
	1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',
	1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',
	3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',
	2,
	4, 5, 'l', 'i', 's', 't', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '2',
	6,
	2,
};

static void test_decode_spec_example(void)
{
	struct vici_node *root = NULL;
	const struct vici_node *l, *it;

	REQUIRE(vici_msg_decode(spec_msg, sizeof(spec_msg), &root) == 0);
	CHECK_STR(vici_get_str(root, "key1"), "value1");
	CHECK_STR(vici_get_str(root, "section1.sub-section.key2"), "value2");
	CHECK(vici_get_str(root, "section1.key2") == NULL);
	CHECK(vici_get_str(root, "section1") == NULL);	/* a section, not a KV */
	l = vici_find(root, "section1.list1");
	REQUIRE(l && l->type == VICI_NODE_LIST);
	CHECK_EQ_INT(l->n_children, 2);
	it = l->child;
	REQUIRE(it && it->next);
	CHECK_STR((const char *)it->value, "item1");
	CHECK_STR((const char *)it->next->value, "item2");
	CHECK_EQ_INT(root->n_children, 2);
	vici_node_free(root);
}

static void test_build_matches_spec(void)
{
	struct vici_builder *b = vici_builder_new();
	const uint8_t *msg;
	size_t len;

	REQUIRE(b);
	vici_add_kv_str(b, "key1", "value1");
	vici_begin_section(b, "section1");
	vici_begin_section(b, "sub-section");
	vici_add_kv_str(b, "key2", "value2");
	vici_end_section(b);
	vici_begin_list(b, "list1");
	vici_add_item_str(b, "item1");
	vici_add_item_str(b, "item2");
	vici_end_list(b);
	vici_end_section(b);
	REQUIRE(vici_builder_finish(b, &msg, &len) == 0);
	CHECK_EQ_INT(len, sizeof(spec_msg));
	CHECK(len == sizeof(spec_msg) && memcmp(msg, spec_msg, len) == 0);
	vici_builder_free(b);
}

static void test_roundtrip_binary(void)
{
	struct vici_builder *b = vici_builder_new(), *b2 = vici_builder_new();
	struct vici_node *t1 = NULL, *t2 = NULL;
	const uint8_t bin[] = { 0, 1, 2, 0xff, 0 };
	const uint8_t *m1, *m2;
	size_t l1, l2;
	uint64_t u;

	REQUIRE(b && b2);
	vici_add_kv(b, "bin", bin, sizeof(bin));
	vici_add_kv(b, "empty", "", 0);
	vici_add_kv_fmt(b, "num", "%u", 4500u);
	vici_add_kv_str(b, "yes", "yes");
	vici_begin_list(b, "empty-list");
	vici_end_list(b);
	vici_begin_section(b, "");
	vici_end_section(b);
	REQUIRE(vici_builder_finish(b, &m1, &l1) == 0);
	REQUIRE(vici_msg_decode(m1, l1, &t1) == 0);
	CHECK(vici_get_str(t1, "bin") == NULL);		/* has a NUL: not a string */
	CHECK_EQ_INT(vici_child(t1, "bin")->value_len, 5);
	CHECK_STR(vici_get_str(t1, "empty"), "");
	CHECK(vici_get_u64(t1, "num", &u) == 0 && u == 4500);
	CHECK(vici_get_u64(t1, "yes", &u) == -EINVAL);
	CHECK(vici_get_u64(t1, "nope", &u) == -ENOENT);
	CHECK_EQ_INT(vici_get_bool(t1, "yes", -1), 1);
	CHECK_EQ_INT(vici_get_bool(t1, "num", -1), -1);
	vici_msg_encode_tree(b2, t1);
	REQUIRE(vici_builder_finish(b2, &m2, &l2) == 0);
	CHECK(l1 == l2 && memcmp(m1, m2, l1) == 0);
	REQUIRE(vici_msg_decode(m2, l2, &t2) == 0);
	CHECK(vici_tree_equal(t1, t2));
	vici_node_free(t1);
	vici_node_free(t2);
	vici_builder_free(b);
	vici_builder_free(b2);
}

static int decode_rc(const uint8_t *m, size_t len)
{
	struct vici_node *t = NULL;
	int rc = vici_msg_decode(m, len, &t);

	vici_node_free(t);
	return rc;
}

#define DEC(...) ({ static const uint8_t _m[] = { __VA_ARGS__ }; decode_rc(_m, sizeof(_m)); })

static void test_decode_rejects(void)
{
	size_t i;

	CHECK_EQ_INT(decode_rc(NULL, 0), 0);			/* empty message is fine */
	CHECK_EQ_INT(DEC(9), -EBADMSG);				/* unknown element */
	CHECK_EQ_INT(DEC(0), -EBADMSG);
	CHECK_EQ_INT(DEC(3), -EBADMSG);				/* KV without name */
	CHECK_EQ_INT(DEC(3, 5, 'a'), -EBADMSG);			/* name truncated */
	CHECK_EQ_INT(DEC(3, 1, 'a', 0), -EBADMSG);		/* value length truncated */
	CHECK_EQ_INT(DEC(3, 1, 'a', 0, 2, 'x'), -EBADMSG);	/* value truncated */
	CHECK_EQ_INT(DEC(3, 1, 'a', 0xff, 0xff), -EBADMSG);
	CHECK_EQ_INT(DEC(3, 2, 'a', 0, 0, 0), -EBADMSG);	/* NUL in name */
	CHECK_EQ_INT(DEC(2), -EBADMSG);				/* end without start */
	CHECK_EQ_INT(DEC(1, 1, 's'), -EBADMSG);			/* unclosed section */
	CHECK_EQ_INT(DEC(4, 1, 'l'), -EBADMSG);			/* unclosed list */
	CHECK_EQ_INT(DEC(6), -EBADMSG);				/* list end without list */
	CHECK_EQ_INT(DEC(5, 0, 0), -EBADMSG);			/* item outside list */
	CHECK_EQ_INT(DEC(4, 1, 'l', 4, 1, 'm', 6, 6), -EBADMSG);	/* nested list */
	CHECK_EQ_INT(DEC(4, 1, 'l', 3, 1, 'a', 0, 0, 6), -EBADMSG);	/* KV in list */
	CHECK_EQ_INT(DEC(4, 1, 'l', 1, 1, 's', 2, 6), -EBADMSG);	/* section in list */
	CHECK_EQ_INT(DEC(4, 1, 'l', 2, 6), -EBADMSG);		/* section end in list */
	CHECK_EQ_INT(DEC(1, 1, 's', 4, 1, 'l', 5, 0, 0, 6, 2), 0);

	/* nesting: VICI_MAX_DEPTH sections decode, one more does not */
	for (int depth = VICI_MAX_DEPTH; depth <= VICI_MAX_DEPTH + 1; depth++) {
		uint8_t buf[4 * (VICI_MAX_DEPTH + 1)];
		size_t n = 0;

		for (i = 0; i < (size_t)depth; i++) {
			buf[n++] = 1;
			buf[n++] = 1;
			buf[n++] = 'x';
		}
		for (i = 0; i < (size_t)depth; i++)
			buf[n++] = 2;
		CHECK_EQ_INT(decode_rc(buf, n), depth == VICI_MAX_DEPTH ? 0 : -E2BIG);
	}
	/* element count bound */
	{
		size_t n = 3 + (VICI_MAX_ELEMENTS + 1) * 3, k = 0;
		uint8_t *buf = malloc(n);

		REQUIRE(buf);
		buf[k++] = 4;
		buf[k++] = 1;
		buf[k++] = 'l';
		while (k + 3 <= n) {
			buf[k++] = 5;
			buf[k++] = 0;
			buf[k++] = 0;
		}
		CHECK_EQ_INT(decode_rc(buf, k), -E2BIG);
		free(buf);
	}
	CHECK_EQ_INT(decode_rc(spec_msg, VICI_MAX_SEGMENT + 1), -EMSGSIZE);
}

static void test_builder_misuse(void)
{
	const uint8_t *m;
	size_t l;
	char big[300];
	struct vici_builder *b;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	b = vici_builder_new();
	vici_end_section(b);
	CHECK_EQ_INT(vici_builder_finish(b, &m, &l), -EINVAL);
	vici_builder_free(b);

	b = vici_builder_new();
	vici_begin_list(b, "l");
	vici_add_kv_str(b, "k", "v");
	CHECK_EQ_INT(vici_builder_finish(b, &m, &l), -EINVAL);
	vici_builder_free(b);

	b = vici_builder_new();
	vici_add_item_str(b, "i");
	CHECK_EQ_INT(vici_builder_finish(b, &m, &l), -EINVAL);
	vici_builder_free(b);

	b = vici_builder_new();
	vici_begin_section(b, "s");
	CHECK_EQ_INT(vici_builder_finish(b, &m, &l), -EINVAL);	/* unbalanced */
	vici_builder_free(b);

	b = vici_builder_new();
	vici_add_kv_str(b, big, "v");
	vici_add_kv_str(b, "k", "v");	/* the first error sticks */
	CHECK_EQ_INT(vici_builder_finish(b, &m, &l), -E2BIG);
	vici_builder_free(b);

	b = vici_builder_new();
	{
		char *v = malloc(70000);

		REQUIRE(v);
		memset(v, 'x', 70000);
		vici_add_kv(b, "k", v, 70000);
		free(v);
	}
	CHECK_EQ_INT(vici_builder_finish(b, &m, &l), -E2BIG);
	vici_builder_free(b);

	/* total size bound */
	b = vici_builder_new();
	{
		char *v = calloc(1, 60000);

		REQUIRE(v);
		for (int i = 0; i < 10; i++)
			vici_add_kv(b, "k", v, 60000);
		free(v);
	}
	CHECK_EQ_INT(vici_builder_finish(b, &m, &l), -E2BIG);
	vici_builder_free(b);
	vici_builder_free(NULL);
}

static void test_packets(void)
{
	struct vici_packet p;
	uint8_t *f;
	size_t fl;
	static const uint8_t confirm[] = { VICI_EVENT_CONFIRM };
	static const uint8_t confirm_trailing[] = { VICI_EVENT_CONFIRM, 0 };
	static const uint8_t ev[] = { VICI_EVENT, 3, 'a', 'b', 'c', 3, 1, 'k', 0, 1, 'v' };
	static const uint8_t ev_short[] = { VICI_EVENT, 4, 'a', 'b', 'c' };
	static const uint8_t bad_type[] = { 8 };

	REQUIRE(vici_packet_frame(VICI_CMD_REQUEST, "version", NULL, 0, &f, &fl) == 0);
	CHECK_EQ_INT(fl, 4 + 1 + 1 + 7);
	CHECK(f[0] == 0 && f[1] == 0 && f[2] == 0 && f[3] == 9 && f[4] == 0 && f[5] == 7);
	REQUIRE(vici_packet_parse(f + 4, fl - 4, &p) == 0);
	CHECK_EQ_INT(p.type, VICI_CMD_REQUEST);
	CHECK_STR(p.name, "version");
	CHECK_EQ_INT(p.msg_len, 0);
	vici_frame_free(f, fl);

	REQUIRE(vici_packet_frame(VICI_CMD_RESPONSE, NULL, spec_msg, sizeof(spec_msg), &f, &fl) == 0);
	REQUIRE(vici_packet_parse(f + 4, fl - 4, &p) == 0);
	CHECK_STR(p.name, "");
	CHECK(p.msg_len == sizeof(spec_msg) && memcmp(p.msg, spec_msg, p.msg_len) == 0);
	vici_frame_free(f, fl);

	CHECK_EQ_INT(vici_packet_frame(VICI_EVENT, NULL, NULL, 0, &f, &fl), -EINVAL);
	CHECK_EQ_INT(vici_packet_frame(9, NULL, NULL, 0, &f, &fl), -EINVAL);

	CHECK_EQ_INT(vici_packet_parse(confirm, sizeof(confirm), &p), 0);
	CHECK(p.msg == NULL);
	CHECK_EQ_INT(vici_packet_parse(confirm_trailing, sizeof(confirm_trailing), &p), -EBADMSG);
	REQUIRE(vici_packet_parse(ev, sizeof(ev), &p) == 0);
	CHECK_STR(p.name, "abc");
	CHECK_EQ_INT(p.msg_len, 6);
	CHECK_EQ_INT(vici_packet_parse(ev_short, sizeof(ev_short), &p), -EBADMSG);
	CHECK_EQ_INT(vici_packet_parse(bad_type, sizeof(bad_type), &p), -EBADMSG);
	CHECK_EQ_INT(vici_packet_parse(ev, 0, &p), -EBADMSG);
	CHECK_EQ_INT(vici_packet_parse(ev, 1, &p), -EBADMSG);
	CHECK_STR(vici_pkt_type_str(VICI_EVENT), "EVENT");
}

static void test_dump(void)
{
	struct vici_node *root = NULL;
	char *s;

	REQUIRE(vici_msg_decode(spec_msg, sizeof(spec_msg), &root) == 0);
	s = vici_tree_dump(root);
	REQUIRE(s);
	CHECK(strstr(s, "key1 = value1\n") != NULL);
	CHECK(strstr(s, "list1 = [ item1 item2 ]") != NULL);
	free(s);
	vici_node_free(root);
}

/* A list-sa event captured from charon 5.9.8 (in the fuzz seed corpus). */
static void test_real_list_sa(void)
{
	const char *path = "tests/fuzz/corpus/fuzz_vici/charon-event-list-sa";
	struct vici_node *root = NULL;
	const struct vici_node *ike, *ch;
	struct vici_packet p;
	size_t len;
	uint64_t v;
	char *seg = util_read_file(path, VICI_MAX_SEGMENT, &len);

	if (!seg)
		SKIP_TEST("%s not found (run from the repository root)", path);
	REQUIRE(vici_packet_parse((const uint8_t *)seg, len, &p) == 0);
	CHECK_EQ_INT(p.type, VICI_EVENT);
	CHECK_STR(p.name, "list-sa");
	REQUIRE(vici_msg_decode(p.msg, p.msg_len, &root) == 0);
	ike = vici_child(root, "c2");
	REQUIRE(ike && ike->type == VICI_NODE_SECTION);
	CHECK_STR(vici_get_str(ike, "state"), "ESTABLISHED");
	CHECK_STR(vici_get_str(ike, "remote-host"), "198.18.100.2");
	CHECK_EQ_INT(vici_get_bool(ike, "initiator", 0), 1);
	ch = vici_find(ike, "child-sas.c2-1");
	REQUIRE(ch);
	CHECK_STR(vici_get_str(ch, "name"), "c2");
	CHECK_STR(vici_get_str(ch, "state"), "INSTALLED");
	CHECK(vici_get_u64(ch, "bytes-in", &v) == 0 && v == 84);
	CHECK(vici_get_u64(ch, "packets-out", &v) == 0 && v == 1);
	CHECK(vici_find(ch, "local-ts") && vici_find(ch, "local-ts")->n_children == 1);
	vici_node_free(root);
	free(seg);
}

int main(void)
{
	RUN(test_decode_spec_example);
	RUN(test_build_matches_spec);
	RUN(test_roundtrip_binary);
	RUN(test_decode_rejects);
	RUN(test_builder_misuse);
	RUN(test_packets);
	RUN(test_dump);
	RUN(test_real_list_sa);
	return harness_done();
}
