/* The answer logic of the DNS server (dns_records.h): which name a query asks for, which
 * clusters answer it, and the records. */
#include <stdio.h>
#include <string.h>

#include "agent/dns/dns_records_int.h"

#define MAX_LABELS 8

struct q {
	struct dns_records *db;
	struct dns_answer *ans;
	uint16_t qtype;
	const char *zone;
	struct dns_svc *s;
	const char *name, *ns;	/* NUL-terminated copies of the service labels */
};

/* ---- building the answer ---- */

static const char *pool_name(struct dns_answer *ans, const char *fmt_host, const char *cluster,
			     const struct q *q)
{
	char *p = ans->pool + ans->pool_used;
	size_t room = sizeof(ans->pool) - ans->pool_used;
	int n;

	if (fmt_host)
		n = snprintf(p, room, "%s.%s.%s.%s.svc.%s", fmt_host, cluster, q->name, q->ns, q->zone);
	else
		n = snprintf(p, room, "%s.%s.%s.svc.%s", cluster, q->name, q->ns, q->zone);
	if (n < 0 || (size_t)n >= room)
		return NULL;
	ans->pool_used += (size_t)n + 1;
	return p;
}

static struct dns_rr *add_rr(struct dns_answer *ans, bool additional, uint16_t type, uint32_t ttl)
{
	struct dns_rr *rr;

	if ((additional ? ans->n_ad : ans->n_an) >= DNS_MAX_RRS)
		return NULL;
	rr = additional ? &ans->ad[ans->n_ad++] : &ans->an[ans->n_an++];
	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	rr->ttl = ttl;
	return rr;
}

static void add_a(const struct q *q, bool additional, const char *owner, uint32_t a)
{
	struct dns_rr *rr = add_rr(q->ans, additional, DNS_T_A, q->db->ttl);

	if (rr) {
		rr->owner = owner;
		rr->a = a;
	}
}

/* ---- which addresses a cluster answers with ---- */

static bool any_ready(const struct svc_record *r)
{
	for (unsigned i = 0; i < r->n_eps; i++)
		if (r->eps[i].ready)
			return true;
	return false;
}

/* Endpoints a name answers with: the ready ones; for a cluster-qualified name every one
 * when none is ready (the name is answered "even then"). */
static bool ep_used(const struct svc_record *r, unsigned i, bool qualified, bool ready_any)
{
	return r->eps[i].ready || (qualified && !ready_any);
}

/* Emits (when emit) and counts the A records of cluster r for the service name. */
static unsigned cluster_a(const struct q *q, const struct svc_record *r, bool qualified, bool emit,
			  bool additional, const char *owner)
{
	unsigned n = 0;

	if (r->type == SVC_CLUSTERSET_IP) {
		for (unsigned i = 0; i < r->n_ips; i++) {
			uint32_t a = dns_xlate(q->db, r->cluster, r->ips[i]);

			if (a && ++n && emit)
				add_a(q, additional, owner, a);
		}
		return n;
	}
	bool ready = any_ready(r);

	for (unsigned i = 0; i < r->n_eps; i++) {
		if (!ep_used(r, i, qualified, ready))
			continue;
		for (unsigned k = 0; k < r->eps[i].n_addrs; k++) {
			uint32_t a = dns_xlate(q->db, r->cluster, r->eps[i].addrs[k]);

			if (a && ++n && emit)
				add_a(q, additional, owner, a);
		}
	}
	return n;
}

/* ---- which clusters answer an unqualified name ---- */

static int local_index(const struct q *q)
{
	for (unsigned i = 0; i < q->s->im.n_clusters; i++)
		if (!strcmp(q->s->im.clusters[i].cluster, q->db->local))
			return (int)i;
	return -1;
}

static bool eligible(const struct q *q, unsigned i)
{
	const struct svc_record *r = &q->s->im.clusters[i];

	return r->weight > 0 && strcmp(r->cluster, q->db->local) &&
	       dns_records_cluster_up(q->db, r->cluster) && svc_record_ready(r) &&
	       cluster_a(q, r, false, false, false, NULL) > 0;
}

/* The local cluster when it exports the service and is ready; else, for A, one eligible
 * cluster by smooth weighted round robin (nginx's: every pick adds each weight to its
 * cluster's counter, takes the largest and subtracts the total from it), for SRV every
 * eligible one. Returns how many indexes went to out. */
static unsigned pick(const struct q *q, bool all, unsigned *out)
{
	struct dns_svc *s = q->s;
	int local = local_index(q);
	int64_t total = 0;
	int best = -1;
	unsigned n = 0;

	if (local >= 0 && svc_record_ready(&s->im.clusters[local]) &&
	    cluster_a(q, &s->im.clusters[local], false, false, false, NULL) > 0) {
		out[0] = (unsigned)local;
		return 1;
	}
	for (unsigned i = 0; i < s->im.n_clusters; i++) {
		if (!eligible(q, i))
			continue;
		if (all) {
			out[n++] = i;
			continue;
		}
		s->cw[i] += s->im.clusters[i].weight;
		total += s->im.clusters[i].weight;
		if (best < 0 || s->cw[i] > s->cw[best])
			best = (int)i;
	}
	if (all)
		return n;
	if (best < 0)
		return 0;
	s->cw[best] -= total;
	out[0] = (unsigned)best;
	return 1;
}

/* ---- SRV ---- */

static bool port_match(const struct svc_port *p, const char *pname, size_t plen, const char *proto,
		       size_t prlen)
{
	const char *pn = svc_proto_name(p->proto);

	if (!pname)
		return *p->name;	/* SRV of the service: every named port */
	if (strlen(p->name) != plen || memcmp(p->name, pname, plen) || strlen(pn) != prlen)
		return false;
	for (size_t i = 0; i < prlen; i++)
		if ((pn[i] | 0x20) != proto[i])
			return false;
	return true;
}

static void cluster_srv(const struct q *q, const struct svc_record *r, bool qualified,
			const char *pname, size_t plen, const char *proto, size_t prlen)
{
	struct dns_answer *ans = q->ans;
	bool ready = any_ready(r);
	const char *target = NULL;

	for (unsigned p = 0; p < r->n_ports; p++) {
		if (!port_match(&r->ports[p], pname, plen, proto, prlen))
			continue;
		if (r->type == SVC_CLUSTERSET_IP) {
			struct dns_rr *rr;

			if (!target && !(target = pool_name(ans, NULL, r->cluster, q)))
				return;
			if (!(rr = add_rr(ans, false, DNS_T_SRV, q->db->ttl)))
				return;
			rr->weight = (uint16_t)r->weight;
			rr->port = r->ports[p].port;
			rr->target = target;
			continue;
		}
		for (unsigned i = 0; i < r->n_eps; i++) {
			const char *t;
			struct dns_rr *rr;

			if (!ep_used(r, i, qualified, ready))
				continue;
			t = pool_name(ans, r->eps[i].hostname, r->cluster, q);
			if (!t || !(rr = add_rr(ans, false, DNS_T_SRV, q->db->ttl)))
				return;
			rr->weight = (uint16_t)r->weight;
			rr->port = r->ports[p].port;
			rr->target = t;
			for (unsigned k = 0; k < r->eps[i].n_addrs; k++) {
				uint32_t a = dns_xlate(q->db, r->cluster, r->eps[i].addrs[k]);

				if (a)
					add_a(q, true, t, a);
			}
		}
	}
	if (target)	/* the cluster's addresses, once for all its ports */
		cluster_a(q, r, true, true, true, target);
}

/* ---- names ---- */

static int find_cluster(const struct dns_svc *s, const char *c, size_t len)
{
	for (unsigned i = 0; i < s->im.n_clusters; i++)
		if (strlen(s->im.clusters[i].cluster) == len && !memcmp(s->im.clusters[i].cluster, c, len))
			return (int)i;
	return -1;
}

static bool svc_has_port(const struct svc_port *ports, unsigned n, const char *pname, size_t plen,
			 const char *proto, size_t prlen)
{
	for (unsigned i = 0; i < n; i++)
		if (port_match(&ports[i], pname, plen, proto, prlen))
			return true;
	return false;
}

struct label {
	const char *p;
	size_t len;
};

static int nodata(struct dns_answer *ans)
{
	ans->rcode = DNS_RC_NOERROR;
	ans->soa_authority = true;
	return 0;
}

static int nxdomain(struct dns_answer *ans)
{
	ans->rcode = DNS_RC_NXDOMAIN;
	ans->soa_authority = true;
	return 0;
}

/* labels: the service's part of the name (before "svc"), left to right. */
static int answer_service(struct q *q, const struct label *l, unsigned n)
{
	const struct label *pport = NULL, *pproto = NULL, *cl = NULL, *host = NULL;
	struct dns_answer *ans = q->ans;
	char name[SVC_LABEL_MAX + 1], ns[SVC_LABEL_MAX + 1];
	unsigned idx[SVC_MAX_CLUSTERS], k;
	int ci = -1;

	if (n >= 2 && l[0].p[0] == '_' && l[1].p[0] == '_' && l[0].len > 1 && l[1].len > 1) {
		pport = &l[0];
		pproto = &l[1];
		l += 2;
		n -= 2;
		if (n == 3)
			cl = &l[0];
		else if (n != 2)
			return nxdomain(ans);
	} else if (n == 3) {
		cl = &l[0];
	} else if (n == 4) {
		host = &l[0];
		cl = &l[1];
	} else if (n != 2) {
		return nxdomain(ans);
	}
	if (l[n - 2].len > SVC_LABEL_MAX || l[n - 1].len > SVC_LABEL_MAX)
		return nxdomain(ans);
	q->s = dns_svc_find(q->db, l[n - 2].p, l[n - 2].len, l[n - 1].p, l[n - 1].len);
	if (!q->s)
		return nxdomain(ans);
	memcpy(name, l[n - 2].p, l[n - 2].len);
	name[l[n - 2].len] = '\0';
	memcpy(ns, l[n - 1].p, l[n - 1].len);
	ns[l[n - 1].len] = '\0';
	q->name = name;
	q->ns = ns;
	if (cl && (ci = find_cluster(q->s, cl->p, cl->len)) < 0)
		return nxdomain(ans);
	const char *pn = pport ? pport->p + 1 : NULL, *pr = pproto ? pproto->p + 1 : NULL;
	size_t pl = pport ? pport->len - 1 : 0, prl = pproto ? pproto->len - 1 : 0;

	if (pport && !(cl ? svc_has_port(q->s->im.clusters[ci].ports, q->s->im.clusters[ci].n_ports,
					 pn, pl, pr, prl) :
			    svc_has_port(q->s->im.ports, q->s->im.n_ports, pn, pl, pr, prl)))
		return nxdomain(ans);
	if (host) {
		const struct svc_record *r = &q->s->im.clusters[ci];

		for (k = 0; k < r->n_eps; k++)
			if (strlen(r->eps[k].hostname) == host->len &&
			    !memcmp(r->eps[k].hostname, host->p, host->len))
				break;
		if (r->type != SVC_HEADLESS || k == r->n_eps)
			return nxdomain(ans);
		if (q->qtype == DNS_T_A) {
			for (unsigned i = 0; i < r->eps[k].n_addrs; i++) {
				uint32_t a = dns_xlate(q->db, r->cluster, r->eps[k].addrs[i]);

				if (a)
					add_a(q, false, NULL, a);
			}
		}
		return ans->n_an ? 0 : nodata(ans);
	}
	if (q->qtype == DNS_T_A && !pport) {
		if (cl) {
			cluster_a(q, &q->s->im.clusters[ci], true, true, false, NULL);
		} else if (pick(q, false, idx)) {
			cluster_a(q, &q->s->im.clusters[idx[0]], false, true, false, NULL);
		}
	} else if (q->qtype == DNS_T_SRV) {
		if (cl) {
			cluster_srv(q, &q->s->im.clusters[ci], true, pn, pl, pr, prl);
		} else {
			unsigned m = pick(q, true, idx);

			for (k = 0; k < m; k++)
				cluster_srv(q, &q->s->im.clusters[idx[k]], false, pn, pl, pr, prl);
		}
	}
	return ans->n_an ? 0 : nodata(ans);
}

void dns_records_answer(struct dns_records *db, const char *qname, uint16_t qtype,
			struct dns_answer *ans)
{
	struct q q = { .db = db, .ans = ans, .qtype = qtype };
	struct label l[MAX_LABELS];
	size_t qlen = strlen(qname), rel = 0;
	unsigned n = 0;

	ans->rcode = DNS_RC_REFUSED;
	ans->authoritative = false;
	ans->zone = NULL;
	ans->soa_authority = false;
	ans->n_an = ans->n_ad = 0;
	ans->pool_used = 0;
	for (unsigned z = 0; z < db->n_zones && !q.zone; z++) {
		size_t zl = strlen(db->zones[z]);

		if (qlen == zl && !memcmp(qname, db->zones[z], zl)) {
			q.zone = db->zones[z];
			rel = 0;
		} else if (qlen > zl + 1 && qname[qlen - zl - 1] == '.' &&
			   !memcmp(qname + qlen - zl, db->zones[z], zl)) {
			q.zone = db->zones[z];
			rel = qlen - zl - 1;
		}
	}
	if (!q.zone)
		return;
	ans->zone = q.zone;
	ans->authoritative = true;
	ans->rcode = DNS_RC_NOERROR;
	if (qtype != DNS_T_A && qtype != DNS_T_AAAA && qtype != DNS_T_SRV && qtype != DNS_T_SOA) {
		ans->rcode = DNS_RC_NOTIMP;
		return;
	}
	for (size_t i = 0; i < rel;) {
		const char *dot = memchr(qname + i, '.', rel - i);
		size_t len = dot ? (size_t)(dot - qname - i) : rel - i;

		if (n == MAX_LABELS || !len)
			{ nxdomain(ans); return; }
		l[n].p = qname + i;
		l[n++].len = len;
		i += len + 1;
	}
	if (!n) {	/* the apex */
		struct dns_rr *rr;

		if (qtype == DNS_T_SOA && (rr = add_rr(ans, false, DNS_T_SOA, db->ttl))) {
			rr->owner = NULL;
			rr->a = db->serial;
			return;
		}
		{ nodata(ans); return; }
	}
	if (l[n - 1].len != 3 || memcmp(l[n - 1].p, "svc", 3))
		{ nxdomain(ans); return; }
	if (n == 1)
		{ nodata(ans); return; }
	if (n == 2)
		{ dns_ns_exists(db, l[0].p, l[0].len) ? nodata(ans) : nxdomain(ans); return; }
	if (qtype == DNS_T_SOA || qtype == DNS_T_AAAA) {
		/* the name must exist for a NOERROR without records */
		q.qtype = 0;
		(void)answer_service(&q, l, n - 1);
		ans->n_an = ans->n_ad = 0;
		ans->pool_used = 0;
		if (ans->rcode == DNS_RC_NOERROR)
			nodata(ans);
		return;
	}
	(void)answer_service(&q, l, n - 1);
}
