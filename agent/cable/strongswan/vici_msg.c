/* VICI wire codec: packet framing, message builder, strict decoder into a tree. */
#include "agent/cable/strongswan/vici_msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- packets ---- */

bool vici_pkt_has_name(uint8_t type)
{
	return type == VICI_CMD_REQUEST || type == VICI_EVENT_REGISTER ||
	       type == VICI_EVENT_UNREGISTER || type == VICI_EVENT;
}

bool vici_pkt_has_msg(uint8_t type)
{
	return type == VICI_CMD_REQUEST || type == VICI_CMD_RESPONSE || type == VICI_EVENT;
}

const char *vici_pkt_type_str(uint8_t type)
{
	static const char *const names[] = {
		"CMD_REQUEST", "CMD_RESPONSE", "CMD_UNKNOWN", "EVENT_REGISTER",
		"EVENT_UNREGISTER", "EVENT_CONFIRM", "EVENT_UNKNOWN", "EVENT",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "INVALID";
}

int vici_packet_parse(const uint8_t *seg, size_t len, struct vici_packet *pkt)
{
	size_t off = 1;

	memset(pkt, 0, sizeof(*pkt));
	if (len > VICI_MAX_SEGMENT)
		return -EMSGSIZE;
	if (len < 1 || seg[0] > VICI_EVENT)
		return -EBADMSG;
	pkt->type = seg[0];
	if (vici_pkt_has_name(pkt->type)) {
		size_t nl;

		if (len < 2)
			return -EBADMSG;
		nl = seg[1];
		off = 2;
		if (nl > len - off || memchr(seg + off, '\0', nl))
			return -EBADMSG;
		memcpy(pkt->name, seg + off, nl);
		pkt->name[nl] = '\0';
		off += nl;
	}
	if (vici_pkt_has_msg(pkt->type)) {
		pkt->msg = seg + off;
		pkt->msg_len = len - off;
	} else if (off != len) {
		return -EBADMSG;
	}
	return 0;
}

int vici_packet_frame(uint8_t type, const char *name, const uint8_t *msg, size_t msg_len,
		      uint8_t **out, size_t *out_len)
{
	size_t nl = 0, total, off;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	if (type > VICI_EVENT)
		return -EINVAL;
	if (vici_pkt_has_name(type)) {
		if (!name)
			return -EINVAL;
		nl = strlen(name);
		if (nl > VICI_MAX_NAME)
			return -EINVAL;
	}
	if (!vici_pkt_has_msg(type))
		msg_len = 0;
	total = 1 + (vici_pkt_has_name(type) ? 1 + nl : 0) + msg_len;
	if (total > VICI_MAX_SEGMENT)
		return -EMSGSIZE;
	buf = malloc(4 + total);
	if (!buf)
		return -ENOMEM;
	buf[0] = (uint8_t)(total >> 24);
	buf[1] = (uint8_t)(total >> 16);
	buf[2] = (uint8_t)(total >> 8);
	buf[3] = (uint8_t)total;
	buf[4] = type;
	off = 5;
	if (vici_pkt_has_name(type)) {
		buf[off++] = (uint8_t)nl;
		memcpy(buf + off, name, nl);
		off += nl;
	}
	if (msg_len)
		memcpy(buf + off, msg, msg_len);
	*out = buf;
	*out_len = 4 + total;
	return 0;
}

void vici_frame_free(uint8_t *frame, size_t len)
{
	if (!frame)
		return;
	explicit_bzero(frame, len);
	free(frame);
}

/* ---- builder ---- */

struct vici_builder {
	uint8_t *buf;
	size_t len, cap;
	int err;
	int depth;
	bool in_list;
};

struct vici_builder *vici_builder_new(void)
{
	struct vici_builder *b = calloc(1, sizeof(*b));

	if (!b)
		errno = ENOMEM;
	return b;
}

void vici_builder_free(struct vici_builder *b)
{
	if (!b)
		return;
	if (b->buf) {
		explicit_bzero(b->buf, b->cap);
		free(b->buf);
	}
	free(b);
}

/* Grows by copying so that a wiped old buffer never leaks secrets through realloc. */
static int b_reserve(struct vici_builder *b, size_t more)
{
	size_t need, ncap;
	uint8_t *nb;

	if (b->err)
		return b->err;
	if (more > VICI_MAX_SEGMENT || b->len + more > VICI_MAX_SEGMENT)
		return b->err = -E2BIG;
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap * 2 : 256;
	while (ncap < need)
		ncap *= 2;
	nb = malloc(ncap);
	if (!nb)
		return b->err = -ENOMEM;
	if (b->buf) {
		memcpy(nb, b->buf, b->len);
		explicit_bzero(b->buf, b->cap);
		free(b->buf);
	}
	b->buf = nb;
	b->cap = ncap;
	return 0;
}

static void b_put(struct vici_builder *b, const void *p, size_t n)
{
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

/* Appends type [name] [value]. */
static void b_elem(struct vici_builder *b, uint8_t type, const char *name,
		   const void *val, size_t vlen, bool has_val)
{
	size_t nl = 0;
	uint8_t hdr[2];

	if (b->err)
		return;
	if (name) {
		nl = strlen(name);
		if (nl > VICI_MAX_NAME) {
			b->err = -E2BIG;
			return;
		}
	}
	if (has_val && vlen > VICI_MAX_VALUE) {
		b->err = -E2BIG;
		return;
	}
	if (b_reserve(b, 1 + (name ? 1 + nl : 0) + (has_val ? 2 + vlen : 0)))
		return;
	b_put(b, &type, 1);
	if (name) {
		hdr[0] = (uint8_t)nl;
		b_put(b, hdr, 1);
		b_put(b, name, nl);
	}
	if (has_val) {
		hdr[0] = (uint8_t)(vlen >> 8);
		hdr[1] = (uint8_t)vlen;
		b_put(b, hdr, 2);
		if (vlen)
			b_put(b, val, vlen);
	}
}

static bool b_misuse(struct vici_builder *b, bool bad)
{
	if (bad && !b->err)
		b->err = -EINVAL;
	return bad || b->err;
}

void vici_begin_section(struct vici_builder *b, const char *name)
{
	if (b_misuse(b, b->in_list || !name || b->depth >= VICI_MAX_DEPTH))
		return;
	b_elem(b, VICI_SECTION_START, name, NULL, 0, false);
	b->depth++;
}

void vici_end_section(struct vici_builder *b)
{
	if (b_misuse(b, b->in_list || b->depth == 0))
		return;
	b_elem(b, VICI_SECTION_END, NULL, NULL, 0, false);
	b->depth--;
}

void vici_add_kv(struct vici_builder *b, const char *name, const void *val, size_t len)
{
	if (b_misuse(b, b->in_list || !name || (!val && len)))
		return;
	b_elem(b, VICI_KEY_VALUE, name, val, len, true);
}

void vici_add_kv_str(struct vici_builder *b, const char *name, const char *val)
{
	if (b_misuse(b, !val))
		return;
	vici_add_kv(b, name, val, strlen(val));
}

void vici_add_kv_fmt(struct vici_builder *b, const char *name, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		if (!b->err)
			b->err = -E2BIG;
		return;
	}
	vici_add_kv(b, name, buf, (size_t)n);
}

void vici_begin_list(struct vici_builder *b, const char *name)
{
	if (b_misuse(b, b->in_list || !name))
		return;
	b_elem(b, VICI_LIST_START, name, NULL, 0, false);
	b->in_list = true;
}

void vici_add_item(struct vici_builder *b, const void *val, size_t len)
{
	if (b_misuse(b, !b->in_list || (!val && len)))
		return;
	b_elem(b, VICI_LIST_ITEM, NULL, val, len, true);
}

void vici_add_item_str(struct vici_builder *b, const char *val)
{
	if (b_misuse(b, !val))
		return;
	vici_add_item(b, val, strlen(val));
}

void vici_end_list(struct vici_builder *b)
{
	if (b_misuse(b, !b->in_list))
		return;
	b_elem(b, VICI_LIST_END, NULL, NULL, 0, false);
	b->in_list = false;
}

int vici_builder_finish(struct vici_builder *b, const uint8_t **msg, size_t *len)
{
	static const uint8_t empty;

	if (b->err)
		return b->err;
	if (b->depth || b->in_list)
		return -EINVAL;
	*msg = b->buf ? b->buf : &empty;
	*len = b->len;
	return 0;
}

/* ---- decoder ---- */

static struct vici_node *node_new(enum vici_node_type type, const uint8_t *name, size_t nl,
				  const uint8_t *val, size_t vl)
{
	/* One allocation: the node, then name + NUL, then value + NUL. */
	struct vici_node *n = calloc(1, sizeof(*n) + nl + 1 + vl + 1);
	char *p;

	if (!n)
		return NULL;
	p = (char *)(n + 1);
	if (nl)
		memcpy(p, name, nl);
	p[nl] = '\0';
	n->name = p;
	n->type = type;
	if (type == VICI_NODE_KV || type == VICI_NODE_ITEM) {
		uint8_t *v = (uint8_t *)p + nl + 1;

		if (vl)
			memcpy(v, val, vl);
		v[vl] = '\0';
		n->value = v;
		n->value_len = vl;
	}
	return n;
}

static void node_append(struct vici_node *parent, struct vici_node *n)
{
	if (parent->last_child)
		parent->last_child->next = n;
	else
		parent->child = n;
	parent->last_child = n;
	parent->n_children++;
}

void vici_node_free(struct vici_node *n)
{
	while (n) {
		struct vici_node *next = n->next;

		/* Depth is bounded by VICI_MAX_DEPTH, so recursing into children is safe. */
		vici_node_free(n->child);
		free(n);
		n = next;
	}
}

struct rd {
	const uint8_t *p;
	size_t left;
};

static int rd_name(struct rd *r, const uint8_t **name, size_t *nl)
{
	if (r->left < 1)
		return -EBADMSG;
	*nl = r->p[0];
	if (*nl > r->left - 1)
		return -EBADMSG;
	*name = r->p + 1;
	if (memchr(*name, '\0', *nl))
		return -EBADMSG;
	r->p += 1 + *nl;
	r->left -= 1 + *nl;
	return 0;
}

static int rd_value(struct rd *r, const uint8_t **val, size_t *vl)
{
	if (r->left < 2)
		return -EBADMSG;
	*vl = ((size_t)r->p[0] << 8) | r->p[1];
	if (*vl > r->left - 2)
		return -EBADMSG;
	*val = r->p + 2;
	r->p += 2 + *vl;
	r->left -= 2 + *vl;
	return 0;
}

int vici_msg_decode(const uint8_t *msg, size_t len, struct vici_node **root_out)
{
	struct vici_node *stack[VICI_MAX_DEPTH + 1];
	struct vici_node *root, *list = NULL, *n;
	struct rd r = { msg, len };
	size_t count = 0;
	int depth = 0, err;

	*root_out = NULL;
	if (len > VICI_MAX_SEGMENT)
		return -EMSGSIZE;
	root = node_new(VICI_NODE_SECTION, NULL, 0, NULL, 0);
	if (!root)
		return -ENOMEM;
	stack[0] = root;
	while (r.left) {
		const uint8_t *name = NULL, *val = NULL;
		size_t nl = 0, vl = 0;
		uint8_t type = r.p[0];

		r.p++;
		r.left--;
		if (++count > VICI_MAX_ELEMENTS) {
			err = -E2BIG;
			goto err;
		}
		/* Inside a list only items and the list end may appear. */
		if (list && type != VICI_LIST_ITEM && type != VICI_LIST_END) {
			err = -EBADMSG;
			goto err;
		}
		switch (type) {
		case VICI_SECTION_START:
			if (depth >= VICI_MAX_DEPTH) {
				err = -E2BIG;
				goto err;
			}
			if ((err = rd_name(&r, &name, &nl)))
				goto err;
			n = node_new(VICI_NODE_SECTION, name, nl, NULL, 0);
			if (!n)
				goto err_nomem;
			node_append(stack[depth], n);
			stack[++depth] = n;
			break;
		case VICI_SECTION_END:
			if (depth == 0) {
				err = -EBADMSG;
				goto err;
			}
			depth--;
			break;
		case VICI_KEY_VALUE:
			if ((err = rd_name(&r, &name, &nl)) || (err = rd_value(&r, &val, &vl)))
				goto err;
			n = node_new(VICI_NODE_KV, name, nl, val, vl);
			if (!n)
				goto err_nomem;
			node_append(stack[depth], n);
			break;
		case VICI_LIST_START:
			if ((err = rd_name(&r, &name, &nl)))
				goto err;
			n = node_new(VICI_NODE_LIST, name, nl, NULL, 0);
			if (!n)
				goto err_nomem;
			node_append(stack[depth], n);
			list = n;
			break;
		case VICI_LIST_ITEM:
			if (!list) {
				err = -EBADMSG;
				goto err;
			}
			if ((err = rd_value(&r, &val, &vl)))
				goto err;
			n = node_new(VICI_NODE_ITEM, NULL, 0, val, vl);
			if (!n)
				goto err_nomem;
			node_append(list, n);
			break;
		case VICI_LIST_END:
			if (!list) {
				err = -EBADMSG;
				goto err;
			}
			list = NULL;
			break;
		default:
			err = -EBADMSG;
			goto err;
		}
	}
	if (depth || list) {
		err = -EBADMSG;
		goto err;
	}
	*root_out = root;
	return 0;

err_nomem:
	err = -ENOMEM;
err:
	vici_node_free(root);
	return err;
}

void vici_msg_encode_tree(struct vici_builder *b, const struct vici_node *root)
{
	const struct vici_node *n, *it;

	for (n = root ? root->child : NULL; n; n = n->next) {
		switch (n->type) {
		case VICI_NODE_SECTION:
			vici_begin_section(b, n->name);
			vici_msg_encode_tree(b, n);
			vici_end_section(b);
			break;
		case VICI_NODE_KV:
			vici_add_kv(b, n->name, n->value, n->value_len);
			break;
		case VICI_NODE_LIST:
			vici_begin_list(b, n->name);
			for (it = n->child; it; it = it->next)
				vici_add_item(b, it->value, it->value_len);
			vici_end_list(b);
			break;
		case VICI_NODE_ITEM:
			/* items live only inside lists */
			break;
		}
	}
}

bool vici_tree_equal(const struct vici_node *a, const struct vici_node *b)
{
	for (; a && b; a = a->next, b = b->next) {
		if (a->type != b->type || strcmp(a->name, b->name) ||
		    a->value_len != b->value_len || a->n_children != b->n_children)
			return false;
		if (a->value_len && memcmp(a->value, b->value, a->value_len))
			return false;
		if (!vici_tree_equal(a->child, b->child))
			return false;
	}
	return !a && !b;
}

/* ---- lookups ---- */

const struct vici_node *vici_child(const struct vici_node *sec, const char *name)
{
	const struct vici_node *n;

	if (!sec || sec->type != VICI_NODE_SECTION || !name)
		return NULL;
	for (n = sec->child; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

const struct vici_node *vici_find(const struct vici_node *sec, const char *path)
{
	char part[VICI_MAX_NAME + 1];
	const char *dot;

	if (!path)
		return NULL;
	while (sec && (dot = strchr(path, '.'))) {
		size_t l = (size_t)(dot - path);

		if (l > VICI_MAX_NAME)
			return NULL;
		memcpy(part, path, l);
		part[l] = '\0';
		sec = vici_child(sec, part);
		path = dot + 1;
	}
	return vici_child(sec, path);
}

const char *vici_get_str(const struct vici_node *sec, const char *path)
{
	const struct vici_node *n = vici_find(sec, path);

	if (!n || n->type != VICI_NODE_KV || memchr(n->value, '\0', n->value_len))
		return NULL;
	return (const char *)n->value;
}

int vici_get_u64(const struct vici_node *sec, const char *path, uint64_t *out)
{
	const char *s = vici_get_str(sec, path);
	uint64_t v = 0;

	if (!s)
		return -ENOENT;
	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int vici_get_bool(const struct vici_node *sec, const char *path, int dflt)
{
	const char *s = vici_get_str(sec, path);

	if (s && strcmp(s, "yes") == 0)
		return 1;
	if (s && strcmp(s, "no") == 0)
		return 0;
	return dflt;
}

/* ---- dump ---- */

static void dump_value(FILE *f, const uint8_t *v, size_t len)
{
	size_t i;
	bool printable = true;

	for (i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			printable = false;
	if (printable) {
		fwrite(v, 1, len, f);
		return;
	}
	fputs("0x", f);
	for (i = 0; i < len; i++)
		fprintf(f, "%02x", v[i]);
}

static void dump_rec(FILE *f, const struct vici_node *sec, int ind)
{
	const struct vici_node *n, *it;

	for (n = sec->child; n; n = n->next) {
		fprintf(f, "%*s%s", ind * 2, "", n->name);
		switch (n->type) {
		case VICI_NODE_SECTION:
			fputs(" {\n", f);
			dump_rec(f, n, ind + 1);
			fprintf(f, "%*s}\n", ind * 2, "");
			break;
		case VICI_NODE_KV:
			fputs(" = ", f);
			dump_value(f, n->value, n->value_len);
			fputc('\n', f);
			break;
		case VICI_NODE_LIST:
			fputs(" = [", f);
			for (it = n->child; it; it = it->next) {
				fputc(' ', f);
				dump_value(f, it->value, it->value_len);
			}
			fputs(" ]\n", f);
			break;
		case VICI_NODE_ITEM:
			break;
		}
	}
}

char *vici_tree_dump(const struct vici_node *root)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	if (root)
		dump_rec(f, root, 0);
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}
