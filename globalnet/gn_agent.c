/* The gateway's globalnet agent (see gn_agent.h). One thread owns the NAT and the pool;
 * the informers' threads only queue events for it. */
#include "globalnet/gn_agent_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "bpf/globalnet.h"
#include "broker/client/client.h"
#include "broker/client/endpoint.h"
#include "broker/client/queue.h"
#include "broker/creds/cluster_config.h"
#include "broker/creds/origin.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "globalnet/gn_metrics.h"
#include "globalnet/gn_nat.h"
#include "globalnet/gn_pool.h"

#define GC_PERIOD (10 * NSEC_PER_SEC)
#define PORT_MIN 1024
#define PORT_MAX 65535

static const char *const resources[SRC_N] = { "endpoints", GN_RES_EGRESS, GN_RES_INGRESS };

/* ---- remote clusters ---- */

static struct gremote *find_remote(struct gn_agent *a, const char *cluster)
{
	for (unsigned i = 0; i < a->n_rem; i++)
		if (!strcmp(a->rem[i].cluster, cluster))
			return &a->rem[i];
	return NULL;
}

static bool has_subnet(const struct cidr4 *list, unsigned n, const struct cidr4 *c)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i].addr == c->addr && list[i].len == c->len)
			return true;
	return false;
}

static void remote_set(struct gn_agent *a, const char *cluster, const struct cidr4 *subnets,
		       unsigned n)
{
	struct gremote *r = find_remote(a, cluster);
	char buf[CIDR4_STRLEN];
	unsigned i;
	int rc;

	if (!r) {
		if (!n)
			return;
		if (a->n_rem == MAX_REMOTES) {
			pr_err("globalnet: ignore remote %s: already %d remote clusters\n", cluster,
			       MAX_REMOTES);
			return;
		}
		r = &a->rem[a->n_rem++];
		memset(r, 0, sizeof(*r));
		snprintf(r->cluster, sizeof(r->cluster), "%s", cluster);
	}
	for (i = 0; i < r->n; i++) {
		if (has_subnet(subnets, n, &r->subnets[i]))
			continue;
		rc = gn_nat_del_remote(a->nat, &r->subnets[i]);
		cidr4_format(&r->subnets[i], buf);
		if (rc && rc != -ENOENT)
			pr_warn("globalnet: remove remote %s (%s): %s\n", buf, cluster, strerror(-rc));
		else
			pr_info("globalnet: remote %s (%s) removed\n", buf, cluster);
	}
	for (i = 0; i < n; i++) {
		if (has_subnet(r->subnets, r->n, &subnets[i]))
			continue;
		cidr4_format(&subnets[i], buf);
		if (cidr4_overlap(&subnets[i], &a->global)) {
			pr_warn("globalnet: ignore remote %s of %s: overlaps our global CIDR\n", buf,
				cluster);
			continue;
		}
		/* with globalnet, remote clusters are reached at global addresses only */
		if (subnets[i].len < a->range.len || !cidr4_contains(&a->range, subnets[i].addr)) {
			pr_warn("globalnet: ignore remote %s of %s: outside the global range %s\n", buf,
				cluster, a->cfg->globalnet.cidr_range);
			continue;
		}
		rc = gn_nat_add_remote(a->nat, &subnets[i], (uint32_t)(r - a->rem) + 1);
		if (rc)
			pr_warn("globalnet: add remote %s (%s): %s\n", buf, cluster, strerror(-rc));
		else
			pr_info("globalnet: remote %s (%s) translated\n", buf, cluster);
	}
	memcpy(r->subnets, subnets, sizeof(r->subnets[0]) * n);
	r->n = n;
	if (!n)
		*r = a->rem[--a->n_rem];
}

/* The Endpoint of cluster with the highest epoch in the informer's cache, into *out.
 * 0, -ENOENT (none), -ENOMEM. */
static int cached_endpoint(struct gn_agent *a, const char *cluster, struct sa_endpoint *out)
{
	cJSON *list = brk_informer_list(a->inf[SRC_EP]);
	const cJSON *it;
	bool found = false;

	if (!list)
		return -ENOMEM;
	cJSON_ArrayForEach(it, list) {
		struct sa_endpoint ep;
		char err[128];

		if (endpoint_from_json(it, &ep, err, sizeof(err)) || strcmp(ep.cluster_id, cluster))
			continue;
		if (!found || ep.epoch > out->epoch)
			*out = ep;
		found = true;
	}
	cJSON_Delete(list);
	return found ? 0 : -ENOENT;
}

static void on_endpoint(struct gn_agent *a, const cJSON *obj, bool del)
{
	struct sa_endpoint ep, other;
	char err[128];

	if (endpoint_from_json(obj, &ep, err, sizeof(err)))
		return;	/* the gateway loop logs bad endpoints */
	if (!strcmp(ep.cluster_id, a->cfg->cluster_id))
		return;
	if (del) {
		/* another gateway of that cluster (a failover) may still publish */
		if (a->inf[SRC_EP] && !cached_endpoint(a, ep.cluster_id, &other))
			remote_set(a, ep.cluster_id, other.subnets, other.n_subnets);
		else
			remote_set(a, ep.cluster_id, NULL, 0);
		return;
	}
	remote_set(a, ep.cluster_id, ep.subnets, ep.n_subnets);
}

/* After a (re)list of endpoints: remote clusters (say, from the disk cache) that are gone. */
static void reconcile_remotes(struct gn_agent *a)
{
	struct sa_endpoint ep;

	for (unsigned i = 0; i < a->n_rem;) {
		unsigned n = a->n_rem;

		if (cached_endpoint(a, a->rem[i].cluster, &ep) == -ENOENT)
			remote_set(a, a->rem[i].cluster, NULL, 0);
		if (a->n_rem == n)
			i++;
	}
}

/* ---- GlobalEgressIP / GlobalIngressIP ---- */

static struct gobj *find_obj(struct gn_agent *a, const char *name, bool ingress)
{
	for (unsigned i = 0; i < a->n_objs; i++)
		if (a->objs[i].ingress == ingress && !strcmp(a->objs[i].name, name))
			return &a->objs[i];
	return NULL;
}

static void unprogram(struct gn_agent *a, struct gobj *o)
{
	int rc;

	if (!o->programmed)
		return;
	rc = o->ingress ? gn_nat_del_ingress(a->nat, o->gip) : gn_nat_del_src_egress(a->nat, &o->src);
	if (rc && rc != -ENOENT)
		pr_warn("globalnet: remove %s: %s\n", o->name, strerror(-rc));
	o->programmed = false;
}

static void program(struct gn_agent *a, struct gobj *o)
{
	char g[16], t[CIDR4_STRLEN];
	int rc;

	if (o->programmed || !o->gip)
		return;
	ip4_format(o->gip, g);
	if (o->ingress) {
		rc = gn_nat_add_ingress(a->nat, o->gip, o->target);
		ip4_format(o->target, t);
	} else {
		rc = gn_nat_add_src_egress(a->nat, &o->src, o->gip);
		cidr4_format(&o->src, t);
	}
	if (rc) {
		pr_warn("globalnet: program %s: %s\n", o->name, strerror(-rc));
		return;
	}
	o->programmed = true;
	pr_info("globalnet: %s %s: %s -> %s\n", o->ingress ? "ingress" : "egress", o->name,
		o->ingress ? g : t, o->ingress ? t : g);
}

static void release(struct gn_agent *a, struct gobj *o)
{
	unprogram(a, o);
	if (o->gip && gn_pool_release(a->pool, o->gip))
		pr_warn("globalnet: release the global IP of %s: not allocated\n", o->name);
	o->gip = 0;
}

static void drop_obj(struct gn_agent *a, struct gobj *o)
{
	release(a, o);
	cJSON_Delete(o->obj);
	*o = a->objs[--a->n_objs];
}

/* Parses the spec into what it asks for. -EINVAL when it is not ours or malformed. */
static int parse_spec(struct gn_agent *a, const cJSON *obj, bool ingress, struct gobj *out)
{
	const char *cid = json_str(obj, "spec.clusterID", NULL), *pod = json_str(obj, "spec.pod", NULL);
	const char *name = brk_obj_name(obj);

	if (!name || !cid || strcmp(cid, a->cfg->cluster_id) || strlen(name) >= sizeof(out->name))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->ingress = ingress;
	if (ingress) {
		const char *svc = json_str(obj, "spec.service", NULL);

		return ip4_parse(pod ? pod : svc ? svc : "", &out->target) ? -EINVAL : 0;
	}
	if (pod) {
		out->src.len = 32;
		return ip4_parse(pod, &out->src.addr) ? -EINVAL : 0;
	}
	return cidr4_parse(json_str(obj, "spec.cidr", ""), &out->src)
		? -EINVAL : 0;
}

static void on_gobj(struct gn_agent *a, const cJSON *obj, bool ingress, bool del)
{
	const char *name = brk_obj_name(obj), *st;
	struct gobj want, *o;
	uint32_t sip;

	if (!name)
		return;
	o = find_obj(a, name, ingress);
	if (del) {
		if (o) {
			pr_info("globalnet: %s deleted\n", name);
			drop_obj(a, o);
		}
		return;
	}
	if (parse_spec(a, obj, ingress, &want)) {
		if (o)
			drop_obj(a, o);
		return;
	}
	if (!o) {
		if (a->n_objs == MAX_OBJS) {
			pr_err("globalnet: ignore %s: already %d objects\n", name, MAX_OBJS);
			return;
		}
		o = &a->objs[a->n_objs++];
		*o = want;
	} else if (o->src.addr != want.src.addr || o->src.len != want.src.len ||
		   o->target != want.target) {
		unprogram(a, o);
		o->src = want.src;
		o->target = want.target;
	}
	cJSON_Delete(o->obj);
	o->obj = cJSON_Duplicate(obj, 1);
	st = json_str(obj, "status.globalIP", NULL);
	sip = 0;
	if (st && ip4_parse(st, &sip))
		sip = 0;
	if (!o->gip && sip && cidr4_contains(&a->global, sip)) {
		int rc = gn_pool_reserve(a->pool, sip);

		if (!rc)
			o->gip = sip;
		else
			pr_warn("globalnet: %s had %s, which is %s; allocating another\n", name, st,
				rc == -EEXIST ? "taken" : "not usable");
	}
	o->status_ok = o->gip && sip == o->gip;
	program(a, o);
}

/* After a (re)list of ingress or egress objects: entries (say, from the disk cache) that
 * the broker no longer has. */
static void reconcile_objs(struct gn_agent *a, bool ingress)
{
	for (unsigned i = 0; i < a->n_objs;) {
		struct gobj *o = &a->objs[i];
		cJSON *c;

		if (o->ingress != ingress) {
			i++;
			continue;
		}
		c = brk_informer_get(a->inf[ingress ? SRC_INGRESS : SRC_EGRESS], o->name);
		if (c) {
			cJSON_Delete(c);
			i++;
			continue;
		}
		pr_info("globalnet: %s is no longer in the broker\n", o->name);
		drop_obj(a, o);
	}
}

/* At start, before the broker answers: the remote clusters from the gateway's endpoint
 * cache and our mappings from the last globalnet.json, so that a restart while the
 * broker is down keeps translating. */
static void load_cache(struct gn_agent *a, const char *state_dir)
{
	char path[PATH_MAX];
	const cJSON *it;
	cJSON *j;
	int n = 0;

	if (!state_dir)
		return;
	snprintf(path, sizeof(path), "%s/endpoints.json", state_dir);
	j = origin_cache_load(path, &a->origin, 4 * 1024 * 1024, "the remote clusters");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "endpoints"))
		on_endpoint(a, it, false);
	cJSON_Delete(j);
	j = origin_cache_load(a->status_path, &a->origin, 4 * 1024 * 1024, "globalnet mappings");
	if (!j)
		return;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "mappings")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(it, "kind");
		const cJSON *tgt = cJSON_GetObjectItemCaseSensitive(it, "target");
		const cJSON *gip = cJSON_GetObjectItemCaseSensitive(it, "globalIP");
		struct gobj *o;

		if (!cJSON_IsString(name) || !cJSON_IsString(kind) || !cJSON_IsString(tgt) ||
		    !cJSON_IsString(gip) || strlen(name->valuestring) >= sizeof(o->name) ||
		    a->n_objs == MAX_OBJS)
			continue;
		o = &a->objs[a->n_objs];
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", name->valuestring);
		o->ingress = !strcmp(kind->valuestring, "ingress");
		if ((o->ingress ? ip4_parse(tgt->valuestring, &o->target) :
				  cidr4_parse(tgt->valuestring, &o->src)) ||
		    ip4_parse(gip->valuestring, &o->gip) || !cidr4_contains(&a->global, o->gip) ||
		    gn_pool_reserve(a->pool, o->gip)) {
			o->gip = 0;
			continue;
		}
		o->status_ok = true;	/* it came from the broker's status */
		a->n_objs++;
		program(a, o);
		n++;
	}
	cJSON_Delete(j);
	if (n)
		pr_info("globalnet: %d mapping(s) from %s\n", n, a->status_path);
}

/* After both object lists are known: global IPs for the objects that have none, and the
 * status PUTs that are due. */
static void allocate_and_publish(struct gn_agent *a)
{
	if (!a->synced[SRC_EGRESS] || !a->synced[SRC_INGRESS])
		return;
	for (unsigned i = 0; i < a->n_objs; i++) {
		struct gobj *o = &a->objs[i];
		struct brk_status st;
		cJSON *copy, *status;
		char ip[16];
		int rc;

		if (!o->gip) {
			rc = gn_pool_alloc(a->pool, &o->gip);
			if (rc) {
				pr_err("globalnet: no global IP left for %s: %s\n", o->name,
				       strerror(-rc));
				continue;
			}
			program(a, o);
		}
		if (o->status_ok || !o->obj)
			continue;
		ip4_format(o->gip, ip);
		copy = cJSON_Duplicate(o->obj, 1);
		status = cJSON_CreateObject();
		if (!copy || !status || !cJSON_AddStringToObject(status, "globalIP", ip)) {
			cJSON_Delete(copy);
			cJSON_Delete(status);
			continue;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
		cJSON_AddItemToObject(copy, "status", status);
		rc = brk_update(a->brk, o->ingress ? GN_RES_INGRESS : GN_RES_EGRESS, o->name, copy,
				NULL, &st);
		cJSON_Delete(copy);
		if (rc) {
			/* a Conflict brings the newer version through the informer; retry then */
			pr_warn("globalnet: publish %s's global IP %s: %s\n", o->name, ip, st.message);
			continue;
		}
		o->status_ok = true;
	}
}

/* ---- the device ---- */

static void check_device(struct gn_agent *a)
{
	int idx = (int)if_nametoindex(a->dev), rc;

	if (a->no_attach)
		return;
	if (idx == a->ifindex)
		return;
	if (!idx) {
		pr_info("globalnet: %s is gone; waiting for it\n", a->dev);
		a->ifindex = 0;
		return;
	}
	rc = gn_nat_attach(a->nat, idx);
	if (rc) {
		pr_warn("globalnet: attach to %s: %s\n", a->dev, strerror(-rc));
		return;
	}
	a->ifindex = idx;
	pr_info("globalnet: translating on %s (ifindex %d)\n", a->dev, idx);
}

static void gc(struct gn_agent *a)
{
	int n = gn_nat_gc(a->nat, 0, NULL);

	if (n > 0)
		pr_debug("globalnet: %d idle flow(s) expired\n", n);
	else if (n < 0)
		pr_warn("globalnet: sweep idle flows: %s\n", strerror(-n));
}

static void drain(struct gn_agent *a)
{
	for (struct brk_qev *e = brk_queue_take(a->q); e; e = brk_qev_free(e)) {
		if (e->type == BRK_QEV_SYNCED) {
			if (!a->synced[e->source])
				pr_info("globalnet: %s in sync\n", resources[e->source]);
			a->synced[e->source] = true;
			if (e->source == SRC_EP)
				reconcile_remotes(a);
			else
				reconcile_objs(a, e->source == SRC_INGRESS);
		} else if (e->source == SRC_EP) {
			on_endpoint(a, e->obj, e->type == BRK_QEV_DELETE);
		} else {
			on_gobj(a, e->obj, e->source == SRC_INGRESS, e->type == BRK_QEV_DELETE);
		}
	}
}

static void *thread_main(void *arg)
{
	struct gn_agent *a = arg;
	uint64_t next_gc = 0, next_tick = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = brk_queue_fd(a->q), .events = POLLIN },
				       { .fd = a->stopfd[0], .events = POLLIN } };
		uint64_t now = util_now_ns();

		if (now >= next_tick) {
			next_tick = now + NSEC_PER_SEC / 2;
			check_device(a);
			gn_agent_write_status(a);
		}
		if (now >= next_gc) {
			next_gc = now + GC_PERIOD;
			gc(a);
		}
		if (poll(p, 2, 500) > 0) {
			if (p[1].revents)
				break;
			drain(a);
		}
		allocate_and_publish(a);
	}
	return NULL;
}

/* ---- setup ---- */

/* Makes sure dir lies on a bpffs: mounts one (in this process's mount namespace) on
 * /sys/fs/bpf, or on dir itself when it is elsewhere. */
static int ensure_bpffs(const char *dir)
{
	char p[PATH_MAX];
	const char *mnt;
	struct statfs s;
	int err;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	while (statfs(p, &s)) {
		char *slash = strrchr(p, '/');

		if (errno != ENOENT)
			return -errno;
		if (!slash || slash == p)
			snprintf(p, sizeof(p), "/");
		else
			*slash = '\0';
	}
	if (s.f_type == BPF_FS_MAGIC)
		return 0;
	mnt = !strncmp(dir, "/sys/fs/bpf/", 12) ? "/sys/fs/bpf" : dir;
	err = util_mkdir_p(mnt, 0700);
	if (err)
		return err;
	if (mount("bpf", mnt, "bpf", 0, "mode=0700"))
		return -errno;
	pr_warn("globalnet: no bpffs under %s; mounted one on %s (pinned flows outlive this "
		"process only while that mount lives)\n", dir, mnt);
	return 0;
}

static int load(struct gn_agent *a, const struct gn_agent_opts *o)
{
	uint32_t *egress = a->egress;
	char pin[PATH_MAX], buf[CIDR4_STRLEN], e0[16], e1[16];
	struct gn_nat_opts no = { .keep_attached = 1 };
	int err;

	no.l3 = strcmp(a->dev, "ipsec0") == 0;
	if (o->bpf_dir)
		snprintf(pin, sizeof(pin), "%s", o->bpf_dir);
	else
		snprintf(pin, sizeof(pin), "/sys/fs/bpf/subagent/%s-%s", a->cfg->cluster_id, o->node);
	err = ensure_bpffs(pin);
	if (err) {
		pr_warn("globalnet: no bpffs for %s (%s): flows will not survive a restart\n", pin,
			strerror(-err));
	} else {
		no.pin_dir = pin;
	}
	a->nat = gn_nat_open(&no);
	if (!a->nat && no.pin_dir) {
		pr_warn("globalnet: pinned maps in %s unusable (%s); starting afresh\n", pin,
			strerror(errno));
		if (gn_nat_unpin(pin))
			pr_debug("globalnet: unpin %s failed\n", pin);
		a->nat = gn_nat_open(&no);
	}
	if (!a->nat)
		return -errno;
	a->pool = gn_pool_new(&a->global);
	if (!a->pool)
		return -errno;
	err = gn_pool_alloc_block(a->pool, GN_AGENT_EGRESS_IPS, egress);
	if (err)
		return err;
	err = gn_nat_set_egress_pool(a->nat, egress, GN_AGENT_EGRESS_IPS);
	if (err)
		return err;
	if (a->health_ip) {
		/* the address right after the egress IPs: stable across restarts */
		err = gn_pool_alloc(a->pool, &a->health_gip);
		if (!err)
			err = gn_nat_add_ingress(a->nat, a->health_gip, a->health_ip);
		if (err)
			return err;
	}
	err = gn_nat_set_local(a->nat, &a->global, PORT_MIN, PORT_MAX);
	if (err)
		return err;
	cidr4_format(&a->global, buf);
	ip4_format(egress[0], e0);
	ip4_format(egress[GN_AGENT_EGRESS_IPS - 1], e1);
	pr_info("globalnet: global CIDR %s, egress IPs %s-%s, on %s%s%s\n", buf, e0, e1, a->dev,
		no.pin_dir ? ", flows pinned in " : "", no.pin_dir ? pin : "");
	return 0;
}

struct gn_agent *gn_agent_start(const struct gn_agent_opts *o, uint32_t *health_global)
{
	struct gn_agent *a = calloc(1, sizeof(*a));
	int err = -EINVAL;

	*health_global = 0;
	if (!a)
		return NULL;
	a->cfg = o->cfg;
	a->brk = o->brk;
	a->health_ip = o->health_ip;
	a->no_attach = o->no_attach;
	if (o->state_dir)
		snprintf(a->status_path, sizeof(a->status_path), "%s/globalnet.json", o->state_dir);
	a->stopfd[0] = a->stopfd[1] = -1;
	if (!o->cfg->n_global_cidrs)
		goto err;
	a->global = o->cfg->global_cidrs[0];
	if (cidr4_parse(o->cfg->globalnet.cidr_range, &a->range) || origin_of(o->cfg, &a->origin))
		goto err;
	snprintf(a->dev, sizeof(a->dev), "%s",
		 !strcmp(o->cfg->cable_driver, "vxlan") ? "sa-vx0" : "ipsec0");
	a->objs = calloc(MAX_OBJS, sizeof(*a->objs));
	a->q = brk_queue_new();
	if (!a->objs || !a->q || pipe2(a->stopfd, O_CLOEXEC) < 0) {
		err = -ENOMEM;
		goto err;
	}
	err = load(a, o);
	if (err) {
		pr_err("globalnet: %s\n", strerror(-err));
		goto err;
	}
	load_cache(a, o->state_dir);
	for (int i = 0; i < SRC_N; i++) {
		a->inf[i] = brk_queue_watch(a->q, a->brk, resources[i], i);
		if (!a->inf[i]) {
			err = -errno;
			pr_err("globalnet: watch %s: %s\n", resources[i], strerror(-err));
			goto err;
		}
	}
	err = -pthread_create(&a->thr, NULL, thread_main, a);
	if (err)
		goto err;
	a->thr_started = true;
	*health_global = a->health_gip;
	return a;
err:
	gn_agent_stop(a);
	errno = -err;
	return NULL;
}

void gn_agent_stop(struct gn_agent *a)
{
	if (!a)
		return;
	for (int i = 0; i < SRC_N; i++)
		brk_informer_stop(a->inf[i]);
	if (a->thr_started) {
		(void)!write(a->stopfd[1], "x", 1);
		pthread_join(a->thr, NULL);
	}
	brk_queue_free(a->q);
	for (unsigned i = 0; a->objs && i < a->n_objs; i++)
		cJSON_Delete(a->objs[i].obj);
	free(a->objs);
	gn_nat_close(a->nat);	/* keep_attached: the filters go on translating */
	gn_metrics_clear();
	gn_pool_free(a->pool);
	for (int i = 0; i < 2; i++)
		if (a->stopfd[i] >= 0)
			close(a->stopfd[i]);
	free(a);
}
