/* VICI wire codec: strongSwan's Versatile IKE Control Interface.
 *
 * Transport: each segment is a 32-bit big-endian length followed by that many bytes.
 * Packet:    the first byte is the packet type; named types (CMD_REQUEST, EVENT_REGISTER,
 *            EVENT_UNREGISTER, EVENT) carry an 8-bit name length and the name; types with a
 *            message (CMD_REQUEST, CMD_RESPONSE, EVENT) carry it in the rest of the segment.
 * Message:   a sequence of elements: SECTION_START name, SECTION_END, KEY_VALUE name value,
 *            LIST_START name, LIST_ITEM value, LIST_END. Names have an 8-bit length, values
 *            a 16-bit big-endian length.
 *
 * Messages are built with struct vici_builder and decoded into a tree of struct vici_node.
 * Decoding is strict: every length is checked against what is left, nesting is limited to
 * VICI_MAX_DEPTH, element count to VICI_MAX_ELEMENTS, names may not contain NUL, sections
 * and lists must balance, lists may hold only items. */
#ifndef SA_VICI_MSG_H
#define SA_VICI_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* charon limits a segment to 512 KiB of data. */
#define VICI_MAX_SEGMENT	(512u * 1024u)
#define VICI_MAX_DEPTH		32
#define VICI_MAX_ELEMENTS	100000
#define VICI_MAX_NAME		255
#define VICI_MAX_VALUE		65535

enum vici_pkt_type {
	VICI_CMD_REQUEST	= 0,
	VICI_CMD_RESPONSE	= 1,
	VICI_CMD_UNKNOWN	= 2,
	VICI_EVENT_REGISTER	= 3,
	VICI_EVENT_UNREGISTER	= 4,
	VICI_EVENT_CONFIRM	= 5,
	VICI_EVENT_UNKNOWN	= 6,
	VICI_EVENT		= 7,
};

enum vici_elem_type {
	VICI_SECTION_START	= 1,
	VICI_SECTION_END	= 2,
	VICI_KEY_VALUE		= 3,
	VICI_LIST_START		= 4,
	VICI_LIST_ITEM		= 5,
	VICI_LIST_END		= 6,
};

/* ---- packets ---- */

struct vici_packet {
	uint8_t type;			/* enum vici_pkt_type */
	char name[VICI_MAX_NAME + 1];	/* "" for unnamed types */
	const uint8_t *msg;		/* points into the parsed segment; NULL when none */
	size_t msg_len;
};

/* True when packets of this type carry a name / a message. */
bool vici_pkt_has_name(uint8_t type);
bool vici_pkt_has_msg(uint8_t type);
const char *vici_pkt_type_str(uint8_t type);

/* Parses one segment payload (without the 4-byte length). pkt->msg points into seg.
 * 0, or -EBADMSG (unknown type, truncated name, NUL in name, trailing bytes on a
 * message-less type), -EMSGSIZE (longer than VICI_MAX_SEGMENT). */
int vici_packet_parse(const uint8_t *seg, size_t len, struct vici_packet *pkt)
	__attribute__((warn_unused_result));

/* Frames a packet into a malloc'd buffer including the 4-byte length header.
 * name may be NULL for unnamed types; msg/msg_len only for types with a message.
 * 0, -EINVAL, -EMSGSIZE or -ENOMEM. Free with vici_frame_free() (wipes: may hold a PSK). */
int vici_packet_frame(uint8_t type, const char *name, const uint8_t *msg, size_t msg_len,
		      uint8_t **out, size_t *out_len) __attribute__((warn_unused_result));
void vici_frame_free(uint8_t *frame, size_t len);

/* ---- building messages ---- */

struct vici_builder;

/* NULL and errno=ENOMEM on failure. */
struct vici_builder *vici_builder_new(void);
/* Wipes the buffer (it may hold a PSK) and frees. NULL-safe. */
void vici_builder_free(struct vici_builder *b);

/* The add functions never fail by themselves: the first error (-EINVAL for misuse such as
 * a key/value inside a list or an unbalanced end, -E2BIG for a name or value too long or a
 * message over VICI_MAX_SEGMENT, -ENOMEM) sticks and is returned by vici_builder_finish(). */
void vici_begin_section(struct vici_builder *b, const char *name);
void vici_end_section(struct vici_builder *b);
void vici_add_kv(struct vici_builder *b, const char *name, const void *val, size_t len);
void vici_add_kv_str(struct vici_builder *b, const char *name, const char *val);
void vici_add_kv_fmt(struct vici_builder *b, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vici_begin_list(struct vici_builder *b, const char *name);
void vici_add_item(struct vici_builder *b, const void *val, size_t len);
void vici_add_item_str(struct vici_builder *b, const char *val);
void vici_end_list(struct vici_builder *b);

/* Checks balance and the sticky error; on success *msg and *len describe the encoded message,
 * owned by the builder. 0 or -errno. */
int vici_builder_finish(struct vici_builder *b, const uint8_t **msg, size_t *len)
	__attribute__((warn_unused_result));

/* ---- decoded messages ---- */

enum vici_node_type {
	VICI_NODE_SECTION,	/* named children (the root is a section named "") */
	VICI_NODE_KV,		/* name = value */
	VICI_NODE_LIST,		/* name = [ items ] */
	VICI_NODE_ITEM,		/* list item: value, name "" */
};

struct vici_node {
	enum vici_node_type type;
	const char *name;		/* NUL-terminated, never NULL */
	const uint8_t *value;		/* KV/ITEM: value_len bytes followed by a NUL */
	size_t value_len;
	struct vici_node *child;	/* SECTION: first member, LIST: first item */
	struct vici_node *next;		/* next sibling in wire order */
	struct vici_node *last_child;
	size_t n_children;
};

/* Decodes a message into a tree; *root is a SECTION named "". Caller frees with
 * vici_node_free(). 0, -EBADMSG (malformed), -E2BIG (too deep / too many elements),
 * -EMSGSIZE, -ENOMEM. */
int vici_msg_decode(const uint8_t *msg, size_t len, struct vici_node **root)
	__attribute__((warn_unused_result));
void vici_node_free(struct vici_node *n);

/* Re-encodes a decoded tree (the root's members) into b. */
void vici_msg_encode_tree(struct vici_builder *b, const struct vici_node *root);
/* Deep equality: same types, names, values and order. */
bool vici_tree_equal(const struct vici_node *a, const struct vici_node *b);

/* Lookups (NULL-safe on sec). A path is names separated by '.', e.g. "child-sas.c1";
 * names containing '.' can only be reached with vici_child(). */
const struct vici_node *vici_child(const struct vici_node *sec, const char *name);
const struct vici_node *vici_find(const struct vici_node *sec, const char *path);
/* A KV's value as a C string, NULL when absent, not a KV, or containing a NUL byte. */
const char *vici_get_str(const struct vici_node *sec, const char *path);
/* A KV holding a decimal unsigned number. 0, -ENOENT, or -EINVAL (not a number). */
int vici_get_u64(const struct vici_node *sec, const char *path, uint64_t *out)
	__attribute__((warn_unused_result));
/* A KV "yes"/"no": 1, 0, or dflt when absent or anything else. */
int vici_get_bool(const struct vici_node *sec, const char *path, int dflt);

/* Prints a tree in swanctl-like notation into a malloc'd string (debugging, tests).
 * Values that are not printable ASCII are shown as hex. NULL on ENOMEM. */
char *vici_tree_dump(const struct vici_node *root);

#endif
