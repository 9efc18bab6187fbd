/* The agent's routing tables and their rules, kept converged (see routes.h). */
#include "agent/routing/routes.h"

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/routing/guard.h"
#include "agent/routing/netlink.h"
#include "common/log.h"
#include "common/retry.h"
#include "common/util.h"

struct rt_want {
	uint32_t table;
	struct cidr4 dst;
	uint32_t gw, src, mtu;
	char dev[IFNAMSIZ];	/* "": a blackhole route */
	struct retry st;
};

struct rule_want {
	uint32_t prio, table;
	struct cidr4 src;	/* len 0: from all */
	unsigned refs;
	struct retry st;
};

static struct {
	struct netlink *nl;
	unsigned users;
	struct rt_want *r;
	unsigned nr, capr;
	struct rule_want *ru;
	unsigned nru, capru;
} rs;

static bool our_table(uint32_t t)
{
	return t == SA_ROUTE_TABLE || t == SA_RETURN_TABLE;
}

static bool cidr_eq(const struct cidr4 *a, const struct cidr4 *b)
{
	return a->addr == b->addr && a->len == b->len;
}

static const char *route_str(const struct rt_want *w, char *buf, size_t len)
{
	char d[CIDR4_STRLEN], g[16];

	cidr4_format(&w->dst, d);
	ip4_format(w->gw, g);
	if (!w->dev[0])
		snprintf(buf, len, "route blackhole %s table %u", d, w->table);
	else
		snprintf(buf, len, "route %s%s%s dev %s table %u", d, w->gw ? " via " : "",
			 w->gw ? g : "", w->dev, w->table);
	return buf;
}

static const char *rule_str(const struct rule_want *w, char *buf, size_t len)
{
	char s[CIDR4_STRLEN];

	cidr4_format(&w->src, s);
	snprintf(buf, len, "rule from %s lookup %u prio %u", w->src.len ? s : "all", w->table,
		 w->prio);
	return buf;
}

/* ---- one attempt each ---- */

static int install_route(struct rt_want *w, uint64_t now)
{
	struct netlink_route r = { .dst = w->dst, .gw = w->gw, .dev = w->dev, .src = w->src,
				   .table = w->table, .onlink = w->gw != 0, .mtu = w->mtu,
				   .advmss = w->mtu > 40 ? w->mtu - 40 : 0,
				   .blackhole = !w->dev[0] };
	char what[96];
	int rc = rs.nl ? netlink_route_replace(rs.nl, &r) : -ENOTCONN;

	if (!rc) {
		retry_ok(&w->st);
		return 0;
	}
	route_str(w, what, sizeof(what));
	if (w->st.attempts == 0)
		pr_warn("add %s: %s (retrying)\n", what, strerror(-rc));
	retry_fail(&w->st, now, rc, "add %s: %s", what, strerror(-rc));
	return rc;
}

static int install_rule(struct rule_want *w, uint64_t now)
{
	char what[96];
	int rc = rs.nl ? netlink_rule_from_ensure(rs.nl, w->prio, w->table,
						  w->src.len ? &w->src : NULL) : -ENOTCONN;

	if (!rc) {
		retry_ok(&w->st);
		return 0;
	}
	rule_str(w, what, sizeof(what));
	if (w->st.attempts == 0)
		pr_warn("add %s: %s (retrying)\n", what, strerror(-rc));
	retry_fail(&w->st, now, rc, "add %s: %s", what, strerror(-rc));
	return rc;
}

/* ---- wants ---- */

static struct rt_want *find_route(uint32_t table, const struct cidr4 *dst)
{
	for (unsigned i = 0; i < rs.nr; i++)
		if (rs.r[i].table == table && cidr_eq(&rs.r[i].dst, dst))
			return &rs.r[i];
	return NULL;
}

static struct rule_want *find_rule(uint32_t prio, uint32_t table, const struct cidr4 *src)
{
	struct cidr4 all = { 0 };

	if (!src)
		src = &all;
	for (unsigned i = 0; i < rs.nru; i++)
		if (rs.ru[i].prio == prio && rs.ru[i].table == table && cidr_eq(&rs.ru[i].src, src))
			return &rs.ru[i];
	return NULL;
}

static void *grow(void *arr, unsigned *cap, unsigned n, size_t size)
{
	unsigned c = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return arr;
	p = realloc(arr, c * size);
	if (p)
		*cap = c;
	return p;
}

int routes_add_table(uint32_t table, const struct cidr4 *dst, uint32_t gw, const char *dev,
		     uint32_t src, uint32_t mtu)
{
	struct rt_want *w = find_route(table, dst), n = { .table = table, .dst = *dst };
	char buf[CIDR4_STRLEN], why[160];

	if (dev) {
		n.gw = gw;
		n.src = src;
		n.mtu = mtu;
	}

	/* Routes to other clusters never take the broker, a peer's underlay or the node's own
	 * networks, whoever asked for them (the engine refuses such remotes before). */
	if (table == SA_ROUTE_TABLE && route_guard_check(dst, NULL, 0, why, sizeof(why))) {
		cidr4_format(dst, buf);
		pr_err("refuse route %s dev %s: %s\n", buf, dev ? dev : "(blackhole)", why);
		return -EPERM;
	}
	snprintf(n.dev, sizeof(n.dev), "%s", dev ? dev : "");
	if (w) {
		n.st = w->st;
		retry_now(&n.st);
	} else {
		struct rt_want *p = grow(rs.r, &rs.capr, rs.nr, sizeof(*p));

		if (!p)
			return -ENOMEM;
		rs.r = p;
		w = &rs.r[rs.nr++];
	}
	*w = n;
	return install_route(w, util_now_ns());
}

int routes_add(const struct cidr4 *dst, uint32_t gw, const char *dev, uint32_t src,
	       uint32_t mtu)
{
	return routes_add_table(SA_ROUTE_TABLE, dst, gw, dev, src, mtu);
}

void routes_del_table(uint32_t table, const struct cidr4 *dst, const char *dev)
{
	struct rt_want *w = find_route(table, dst);
	struct netlink_route r = { .dst = *dst, .dev = dev, .table = table };

	if (w && strcmp(w->dev, dev ? dev : ""))
		return;		/* the route went to another device since: someone else's */
	if (w)
		*w = rs.r[--rs.nr];
	if (rs.nl)
		(void)netlink_route_del(rs.nl, &r);
}

void routes_del(const struct cidr4 *dst, const char *dev)
{
	routes_del_table(SA_ROUTE_TABLE, dst, dev);
}

int routes_rule_add(uint32_t prio, uint32_t table, const struct cidr4 *src)
{
	struct rule_want *w = find_rule(prio, table, src);

	if (w) {
		w->refs++;
		return w->st.err;
	}
	w = grow(rs.ru, &rs.capru, rs.nru, sizeof(*w));
	if (!w)
		return -ENOMEM;
	rs.ru = w;
	w = &rs.ru[rs.nru++];
	memset(w, 0, sizeof(*w));
	w->prio = prio;
	w->table = table;
	if (src)
		w->src = *src;
	w->refs = 1;
	return install_rule(w, util_now_ns());
}

void routes_rule_del(uint32_t prio, uint32_t table, const struct cidr4 *src)
{
	struct rule_want *w = find_rule(prio, table, src);

	if (!w || --w->refs)
		return;
	if (rs.nl)
		(void)netlink_rule_from_del(rs.nl, prio, table, w->src.len ? &w->src : NULL);
	*w = rs.ru[--rs.nru];
}

/* ---- reading back ---- */

struct seen {
	struct netlink_route_info *r;
	unsigned n, cap;
	struct netlink_rule_info *ru;
	unsigned nru, capru;
	int err;
};

static void seen_route(void *ctx, const struct netlink_route_info *r)
{
	struct seen *s = ctx;
	struct netlink_route_info *p = grow(s->r, &s->cap, s->n, sizeof(*p));

	if (!p) {
		s->err = -ENOMEM;
		return;
	}
	s->r = p;
	s->r[s->n++] = *r;
}

static void seen_rule(void *ctx, const struct netlink_rule_info *r)
{
	struct seen *s = ctx;
	struct netlink_rule_info *p;

	if (!our_table(r->table))
		return;
	p = grow(s->ru, &s->capru, s->nru, sizeof(*p));
	if (!p) {
		s->err = -ENOMEM;
		return;
	}
	s->ru = p;
	s->ru[s->nru++] = *r;
}

static int read_back(struct seen *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = netlink_route_list(rs.nl, SA_ROUTE_TABLE, seen_route, s);
	if (!err)
		err = netlink_route_list(rs.nl, SA_RETURN_TABLE, seen_route, s);
	if (!err)
		err = netlink_rule_list(rs.nl, seen_rule, s);
	return err ? err : s->err;
}

static const struct netlink_route_info *kernel_route(const struct seen *s,
						     const struct rt_want *w)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->r[i].table == w->table && cidr_eq(&s->r[i].dst, &w->dst))
			return &s->r[i];
	return NULL;
}

static bool route_matches(const struct netlink_route_info *k, const struct rt_want *w)
{
	int idx;

	if (!w->dev[0] || k->blackhole)
		return !w->dev[0] && k->blackhole;
	idx = netlink_ifindex(w->dev);
	return idx > 0 && k->ifindex == idx && k->gw == w->gw && k->src == w->src &&
	       (!w->mtu || k->mtu == w->mtu);
}

static bool rule_present(const struct seen *s, const struct rule_want *w)
{
	for (unsigned i = 0; i < s->nru; i++)
		if (s->ru[i].prio == w->prio && s->ru[i].table == w->table &&
		    cidr_eq(&s->ru[i].src, &w->src))
			return true;
	return false;
}

/* Removes every route of our tables that no want covers, and every rule to our tables
 * that no want is (all of them when nothing is wanted). Returns how many. */
static int sweep(const struct seen *s, bool quiet)
{
	int n = 0;

	for (unsigned i = 0; i < s->n; i++) {
		const struct netlink_route_info *k = &s->r[i];
		struct rt_want *w = find_route(k->table, &k->dst);
		char d[CIDR4_STRLEN];
		char dev[IFNAMSIZ] = "?";
		struct netlink_route r = { .dst = k->dst, .table = k->table };

		if (w)
			continue;
		if (k->ifindex > 0 && if_indextoname((unsigned)k->ifindex, dev))
			r.dev = dev;
		cidr4_format(&k->dst, d);
		if (!netlink_route_del(rs.nl, &r) && !quiet) {
			pr_info("removed route %s dev %s from table %u: not the agent's any more\n", d,
				dev, k->table);
			n++;
		}
	}
	for (unsigned i = 0; i < s->nru; i++) {
		const struct netlink_rule_info *k = &s->ru[i];
		struct rule_want want = { .prio = k->prio, .table = k->table, .src = k->src };
		char what[96];

		if (find_rule(k->prio, k->table, &k->src))
			continue;
		if (!netlink_rule_from_del(rs.nl, k->prio, k->table, k->src.len ? &k->src : NULL) &&
		    !quiet) {
			pr_info("removed %s: not the agent's any more\n",
				rule_str(&want, what, sizeof(what)));
			n++;
		}
	}
	return n;
}

int routes_sync(uint64_t now)
{
	struct seen s;
	int err, n = 0;

	if (!rs.nl)
		return 0;
	err = read_back(&s);
	if (err) {
		pr_warn("read the agent's routes back: %s\n", strerror(-err));
		goto out;
	}
	for (unsigned i = 0; i < rs.nr; i++) {
		struct rt_want *w = &rs.r[i];
		const struct netlink_route_info *k = kernel_route(&s, w);
		char what[96];

		if (k && route_matches(k, w)) {
			retry_ok(&w->st);
			continue;
		}
		if (!retry_due(&w->st, now))
			continue;
		if (!install_route(w, now)) {
			pr_info("%s: %s, put back\n", route_str(w, what, sizeof(what)),
				k ? "was changed" : "was missing");
			n++;
		}
	}
	for (unsigned i = 0; i < rs.nru; i++) {
		struct rule_want *w = &rs.ru[i];
		char what[96];

		if (rule_present(&s, w)) {
			retry_ok(&w->st);
			continue;
		}
		if (retry_due(&w->st, now) && !install_rule(w, now)) {
			pr_info("%s: was missing, put back\n", rule_str(w, what, sizeof(what)));
			n++;
		}
	}
	n += sweep(&s, false);
	err = n;
out:
	free(s.r);
	free(s.ru);
	return err;
}

void routes_report(cJSON *arr, uint64_t now)
{
	char what[96];

	for (unsigned i = 0; i < rs.nr; i++)
		retry_report(&rs.r[i].st, now, arr, route_str(&rs.r[i], what, sizeof(what)));
	for (unsigned i = 0; i < rs.nru; i++)
		retry_report(&rs.ru[i].st, now, arr, rule_str(&rs.ru[i], what, sizeof(what)));
}

/* ---- users ---- */

int routes_init(void)
{
	if (!rs.users) {
		rs.nl = netlink_open();
		if (!rs.nl)
			return -errno;
	}
	rs.users++;
	(void)routes_rule_add(SA_ROUTE_PRIO, SA_ROUTE_TABLE, NULL);
	return 0;
}

void routes_fini(void)
{
	struct seen s;

	if (!rs.users)
		return;
	routes_rule_del(SA_ROUTE_PRIO, SA_ROUTE_TABLE, NULL);
	if (--rs.users)
		return;
	rs.nr = rs.nru = 0;
	if (!read_back(&s))
		(void)sweep(&s, true);
	free(s.r);
	free(s.ru);
	free(rs.r);
	free(rs.ru);
	netlink_close(rs.nl);
	memset(&rs, 0, sizeof(rs));
}
