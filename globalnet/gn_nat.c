/* globalnet NAT: the user-space side of bpf/globalnet.bpf.c (see gn_nat.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/globalnet.h"
#include "bpf/globalnet.skel.h"
#include "common/log.h"
#include "common/util.h"
#include "globalnet/gn_nat.h"

/* Mirrors of the ABI asserts: both sides must agree on every layout. */
_Static_assert(sizeof(struct gn_ct_key) == 16, "gn_ct_key ABI");
_Static_assert(sizeof(struct gn_ct_entry) == 32, "gn_ct_entry ABI");
_Static_assert(sizeof(struct gn_config) == 24, "gn_config ABI");
_Static_assert(sizeof(struct gn_lpm_key) == 8, "gn_lpm_key ABI");
_Static_assert(sizeof(struct gn_ingress_val) == 8, "gn_ingress_val ABI");
_Static_assert(sizeof(struct gn_frag_key) == 12, "gn_frag_key ABI");

/* Our tc filters: a fixed handle/priority so a restarted agent replaces its own. */
#define GN_TC_HANDLE	0x5347
#define GN_TC_PRIO	0x5347

struct gn_nat {
	struct globalnet_bpf *skel;
	int ifindex;		/* 0: not attached */
	int keep_attached;
	struct gn_config cfg;
};

static int pin_map(struct bpf_map *map, const char *dir)
{
	char path[PATH_MAX];
	int len = snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));

	if (len < 0 || (size_t)len >= sizeof(path))
		return -ENAMETOOLONG;
	/* libbpf re-uses a compatible map pinned there, or creates and pins a new one. */
	return bpf_map__set_pin_path(map, path);
}

struct gn_nat *gn_nat_open(const struct gn_nat_opts *opts)
{
	struct gn_nat *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return NULL;
	n->skel = globalnet_bpf__open();
	if (!n->skel) {
		err = -errno;
		pr_err("open globalnet BPF: %s\n", strerror(-err));
		goto err_free;
	}
	n->skel->rodata->is_l3 = opts && opts->dev != GN_DEV_ETHER;
	n->skel->rodata->ingress_eth = opts && opts->dev == GN_DEV_XFRM;
	n->keep_attached = opts && opts->keep_attached;
	err = bpf_map__set_max_entries(n->skel->maps.gn_ct,
				       opts && opts->ct_max ? opts->ct_max : 131072);
	if (err)
		goto err_skel;
	if (opts && opts->pin_dir) {
		err = util_mkdir_p(opts->pin_dir, 0700);
		if (err) {
			pr_err("create pin directory %s: %s\n", opts->pin_dir, strerror(-err));
			goto err_skel;
		}
		err = pin_map(n->skel->maps.gn_ct, opts->pin_dir);
		if (!err)
			err = pin_map(n->skel->maps.gn_stats, opts->pin_dir);
		if (err)
			goto err_skel;
	}
	err = globalnet_bpf__load(n->skel);
	if (err) {
		pr_err("load globalnet BPF: %s\n", strerror(-err));
		goto err_skel;
	}
	return n;

err_skel:
	globalnet_bpf__destroy(n->skel);
err_free:
	free(n);
	errno = -err;
	return NULL;
}

void gn_nat_close(struct gn_nat *n)
{
	if (!n)
		return;
	if (n->ifindex && !n->keep_attached && gn_nat_detach(n))
		pr_warn("detach globalnet from ifindex %d: failed\n", n->ifindex);
	globalnet_bpf__destroy(n->skel);
	free(n);
}

int gn_nat_unpin(const char *pin_dir)
{
	static const char *const names[] = { "gn_ct", "gn_stats" };
	char path[PATH_MAX];
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, names[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	if (rmdir(pin_dir) && errno != ENOENT && errno != ENOTEMPTY && !ret)
		ret = -errno;
	return ret;
}

static int tc_attach_one(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = GN_TC_HANDLE, .priority = GN_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	/* Try the existing clsact first (a restart, or the second hook): creating it again
	 * only makes the kernel complain. */
	if (!bpf_tc_attach(&hook, &o))
		return 0;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	o.prog_id = 0;
	return bpf_tc_attach(&hook, &o);
}

static int tc_detach_one(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = GN_TC_HANDLE, .priority = GN_TC_PRIO);
	int err = bpf_tc_detach(&hook, &o);

	return err == -ENOENT ? 0 : err;
}

int gn_nat_attach(struct gn_nat *n, int ifindex)
{
	int err;

	if (ifindex <= 0)
		return -EINVAL;
	err = tc_attach_one(ifindex, BPF_TC_INGRESS, bpf_program__fd(n->skel->progs.gn_tc_ingress));
	if (err)
		goto fail;
	err = tc_attach_one(ifindex, BPF_TC_EGRESS, bpf_program__fd(n->skel->progs.gn_tc_egress));
	if (err) {
		(void)tc_detach_one(ifindex, BPF_TC_INGRESS);
		goto fail;
	}
	n->ifindex = ifindex;
	return 0;
fail:
	pr_err("attach globalnet to ifindex %d: %s\n", ifindex, strerror(-err));
	return err;
}

int gn_nat_detach(struct gn_nat *n)
{
	int e1, e2;

	if (!n->ifindex)
		return 0;
	e1 = tc_detach_one(n->ifindex, BPF_TC_EGRESS);
	e2 = tc_detach_one(n->ifindex, BPF_TC_INGRESS);
	n->ifindex = 0;
	return e1 ? e1 : e2;
}

static int write_config(struct gn_nat *n)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(n->skel->maps.gn_config), &zero, &n->cfg, BPF_ANY))
		return -errno;
	return 0;
}

int gn_nat_set_local(struct gn_nat *n, const struct cidr4 *global, uint16_t port_min,
		     uint16_t port_max)
{
	if (!global || global->len == 0 || global->len > 32 || port_min == 0 || port_max < port_min)
		return -EINVAL;
	n->cfg.global_net = htonl(global->addr);
	n->cfg.global_mask = htonl(cidr4_mask(global->len));
	n->cfg.port_min = port_min;
	n->cfg.port_max = port_max;
	n->cfg.flags |= GN_CFG_F_ENABLED;
	return write_config(n);
}

int gn_nat_set_egress_pool(struct gn_nat *n, const uint32_t *ips, unsigned int count)
{
	int fd = bpf_map__fd(n->skel->maps.gn_egress_pool);

	if (count == 0 || count > GN_MAX_EGRESS_IPS)
		return -EINVAL;
	/* Slots first, count last: the programs never see a slot before it is filled. */
	for (__u32 i = 0; i < count; i++) {
		__be32 ip = htonl(ips[i]);

		if (!ips[i])
			return -EINVAL;
		if (bpf_map_update_elem(fd, &i, &ip, BPF_ANY))
			return -errno;
	}
	n->cfg.n_egress = count;
	return write_config(n);
}

static struct gn_lpm_key lpm_key(const struct cidr4 *c)
{
	struct gn_lpm_key k = { .prefixlen = c->len, .addr = htonl(c->addr) };

	return k;
}

int gn_nat_add_remote(struct gn_nat *n, const struct cidr4 *remote, uint32_t id)
{
	struct gn_lpm_key k = lpm_key(remote);
	struct gn_remote_val v = { .id = id };

	if (bpf_map_update_elem(bpf_map__fd(n->skel->maps.gn_remote), &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

int gn_nat_del_remote(struct gn_nat *n, const struct cidr4 *remote)
{
	struct gn_lpm_key k = lpm_key(remote);

	if (bpf_map_delete_elem(bpf_map__fd(n->skel->maps.gn_remote), &k))
		return -errno;
	return 0;
}

int gn_nat_add_src_egress(struct gn_nat *n, const struct cidr4 *src, uint32_t egress_ip)
{
	struct gn_lpm_key k = lpm_key(src);
	struct gn_src_egress_val v = { .egress_ip = htonl(egress_ip) };

	if (!egress_ip)
		return -EINVAL;
	if (bpf_map_update_elem(bpf_map__fd(n->skel->maps.gn_src_egress), &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

int gn_nat_del_src_egress(struct gn_nat *n, const struct cidr4 *src)
{
	struct gn_lpm_key k = lpm_key(src);

	if (bpf_map_delete_elem(bpf_map__fd(n->skel->maps.gn_src_egress), &k))
		return -errno;
	return 0;
}

int gn_nat_add_ingress(struct gn_nat *n, uint32_t global_ip, uint32_t target)
{
	__be32 k = htonl(global_ip);
	struct gn_ingress_val v = { .target = htonl(target) };

	if (!global_ip || !target)
		return -EINVAL;
	if (bpf_map_update_elem(bpf_map__fd(n->skel->maps.gn_ingress), &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

int gn_nat_del_ingress(struct gn_nat *n, uint32_t global_ip)
{
	__be32 k = htonl(global_ip);

	if (bpf_map_delete_elem(bpf_map__fd(n->skel->maps.gn_ingress), &k))
		return -errno;
	return 0;
}

int gn_nat_read_stats(struct gn_nat *n, uint64_t *out, unsigned int nout)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(n->skel->maps.gn_stats);
	__u64 *vals;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < nout; i++) {
		out[i] = 0;
		if (i >= GN_STAT_MAX)
			continue;
		if (bpf_map_lookup_elem(fd, &i, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

int gn_nat_ct_count(struct gn_nat *n)
{
	int fd = bpf_map__fd(n->skel->maps.gn_ct);
	struct gn_ct_key k, next;
	int count = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		count++;
		k = next;
		prev = &k;
	}
	return errno == ENOENT ? count : -errno;
}

/* The key of the other entry of k's flow (see bpf/lib/gn_nat.h for the layout). */
static void peer_key(const struct gn_ct_key *k, const struct gn_ct_entry *v, struct gn_ct_key *p)
{
	memset(p, 0, sizeof(*p));
	p->proto = k->proto;
	if (k->dir == GN_DIR_EGRESS) {
		p->saddr = k->daddr;
		p->daddr = v->addr;
		p->sport = k->dport;
		p->dport = v->port;
		p->dir = GN_DIR_INGRESS;
	} else {
		p->saddr = v->addr;
		p->daddr = k->saddr;
		p->sport = v->port;
		p->dport = k->sport;
		p->dir = GN_DIR_EGRESS;
	}
}

static uint64_t flow_timeout_ns(const struct gn_ct_key *k, const struct gn_ct_entry *a,
				const struct gn_ct_entry *b, const struct gn_timeouts *t)
{
	uint32_t s;
	int replied = b && a->seen && b->seen;

	switch (k->proto) {
	case IPPROTO_TCP:
		if (a->rst || (b && (b->rst || (a->fin && b->fin))))
			s = t && t->tcp_closing ? t->tcp_closing : 10;
		else if (a->fin || (b && b->fin))
			s = t && t->tcp_half ? t->tcp_half : 120;
		else if (!replied)
			s = t && t->unreplied ? t->unreplied : 30;
		else
			s = t && t->tcp_est ? t->tcp_est : 3600;
		break;
	case IPPROTO_UDP:
		if (!replied)
			s = t && t->unreplied ? t->unreplied : 30;
		else
			s = t && t->udp ? t->udp : 180;
		break;
	default:
		s = t && t->icmp ? t->icmp : 30;
		break;
	}
	return (uint64_t)s * NSEC_PER_SEC;
}

int gn_nat_gc(struct gn_nat *n, uint64_t now_ns, const struct gn_timeouts *t)
{
	int fd = bpf_map__fd(n->skel->maps.gn_ct);
	struct gn_ct_key k, next, pk, *dead = NULL;
	struct gn_ct_entry v, pv;
	size_t ndead = 0, cap = 0;
	void *prev = NULL;
	int flows = 0, err = 0;

	if (!now_ns)
		now_ns = util_now_ns();
	/* First collect, then delete: deleting during get_next_key would restart the walk. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		int has_peer;
		uint64_t last;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;	/* deleted meanwhile */
		peer_key(&k, &v, &pk);
		has_peer = !bpf_map_lookup_elem(fd, &pk, &pv);
		last = v.last_seen_ns;
		if (has_peer && pv.last_seen_ns > last)
			last = pv.last_seen_ns;
		if (last > now_ns || now_ns - last <= flow_timeout_ns(&k, &v, has_peer ? &pv : NULL, t))
			continue;
		if (ndead == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct gn_ct_key *d = realloc(dead, ncap * sizeof(*d));

			if (!d) {
				err = -ENOMEM;
				break;
			}
			dead = d;
			cap = ncap;
		}
		dead[ndead++] = k;
		if (v.orig || !has_peer)
			flows++;
	}
	if (!err && errno != ENOENT && prev)
		err = -errno;
	for (size_t i = 0; i < ndead; i++)
		(void)bpf_map_delete_elem(fd, &dead[i]);	/* ENOENT: raced, fine */
	free(dead);
	return err ? err : flows;
}

static const char *const stat_names[GN_STAT_MAX] = {
	[GN_STAT_PASS] = "pass",
	[GN_STAT_MALFORMED_PASS] = "malformed_pass",
	[GN_STAT_EGRESS_XLATE] = "egress_xlate",
	[GN_STAT_INGRESS_XLATE] = "ingress_xlate",
	[GN_STAT_ICMP_ERR_XLATE] = "icmp_err_xlate",
	[GN_STAT_NEW_SNAT] = "new_snat",
	[GN_STAT_NEW_DNAT] = "new_dnat",
	[GN_STAT_DROP_MALFORMED] = "drop_malformed",
	[GN_STAT_DROP_FRAGMENT] = "drop_fragment",
	[GN_STAT_DROP_NO_FLOW] = "drop_no_flow",
	[GN_STAT_DROP_UNSUPPORTED] = "drop_unsupported",
	[GN_STAT_DROP_TABLE_FULL] = "drop_table_full",
	[GN_STAT_DROP_NO_PORT] = "drop_no_port",
	[GN_STAT_DROP_NO_EGRESS_IP] = "drop_no_egress_ip",
	[GN_STAT_DROP_CONFLICT] = "drop_conflict",
	[GN_STAT_DROP_REWRITE] = "drop_rewrite",
};

const char *gn_nat_stat_name(unsigned int idx)
{
	return idx < GN_STAT_MAX ? stat_names[idx] : NULL;
}

int gn_nat_prog_fd(const struct gn_nat *n, int egress)
{
	return bpf_program__fd(egress ? n->skel->progs.gn_tc_egress : n->skel->progs.gn_tc_ingress);
}

int gn_nat_ct_fd(const struct gn_nat *n)
{
	return bpf_map__fd(n->skel->maps.gn_ct);
}
