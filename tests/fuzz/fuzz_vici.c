/* libFuzzer target: VICI segments as charon (or anything on its socket) sends them.
 * Input = one segment payload (packet type, name, message). What decodes must re-encode to
 * bytes that decode to the same tree, and re-framing the packet must parse back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cable/strongswan/vici_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vici_node *t1 = NULL, *t2 = NULL;
	struct vici_builder *b;
	struct vici_packet p, p2;
	const uint8_t *m;
	uint8_t *frame;
	size_t ml, fl;

	if (vici_packet_parse(data, size, &p) != 0)
		return 0;
	if (vici_packet_frame(p.type, p.name, p.msg, p.msg_len, &frame, &fl) != 0)
		abort();
	if (fl != size + 4 || memcmp(frame + 4, data, size) != 0)
		abort();
	if (vici_packet_parse(frame + 4, fl - 4, &p2) != 0 || p2.type != p.type ||
	    strcmp(p2.name, p.name) != 0 || p2.msg_len != p.msg_len)
		abort();
	vici_frame_free(frame, fl);
	if (!p.msg || vici_msg_decode(p.msg, p.msg_len, &t1) != 0)
		return 0;
	b = vici_builder_new();
	if (!b)
		abort();
	vici_msg_encode_tree(b, t1);
	if (vici_builder_finish(b, &m, &ml) != 0)
		abort();
	/* The encoding is canonical: re-encoding gives back the same bytes. */
	if (ml != p.msg_len || memcmp(m, p.msg, ml) != 0)
		abort();
	if (vici_msg_decode(m, ml, &t2) != 0 || !vici_tree_equal(t1, t2))
		abort();
	free(vici_tree_dump(t1));
	(void)vici_get_str(t1, "a.b.c");
	vici_node_free(t1);
	vici_node_free(t2);
	vici_builder_free(b);
	return 0;
}
