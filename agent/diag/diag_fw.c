/* Diagnose: firewall rules that would drop what the agent sends and receives (IKE, NAT-T,
 * VXLAN, the election). The node's whole nftables ruleset (iptables-nft's rules included)
 * is read as JSON from nft itself and every base filter chain is walked for a UDP packet
 * to each port: rules in order, jumps followed, the chain's policy at the end. A rule
 * that drops or rejects the port for sure (conditions only on the port, the protocol or
 * an interface) fails the check; one that may (other conditions: addresses, conntrack
 * state, a named set it cannot read) warns. subagent's own tables are not looked at. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/diag/diag_fw.h"
#include "agent/diag/diag_int.h"
#include "common/json.h"
#include "common/run.h"

#define MAX_DEPTH 8
#define MAX_VISITS 100000	/* rules looked at per port: jumps cannot make it explode */

enum cover { C_NO, C_YES, C_MAYBE };

struct walk {
	const cJSON *nft;	/* the "nftables" array */
	uint16_t port;
	char *why;
	size_t len;
	unsigned visits;
};

/* The elements of the named set @name of family/table, or NULL. */
static const cJSON *named_set(const struct walk *w, const char *family, const char *table,
			      const char *name)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, w->nft) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "set");

		if (s && !strcmp(json_str(s, "family", ""), family) &&
		    !strcmp(json_str(s, "table", ""), table) && !strcmp(json_str(s, "name", ""), name))
			return cJSON_GetObjectItemCaseSensitive(s, "elem");
	}
	return NULL;
}

/* Whether a match's right-hand side holds port: a number, a range, a set of those, or a
 * named set. */
static enum cover covers(const struct walk *w, const cJSON *right, const char *family,
			 const char *table)
{
	const cJSON *r, *e;
	enum cover any = C_NO;

	if (cJSON_IsNumber(right))
		return right->valuedouble == w->port ? C_YES : C_NO;
	if (cJSON_IsString(right) && right->valuestring[0] == '@') {
		const cJSON *elems = named_set(w, family, table, right->valuestring + 1);

		return elems ? covers(w, elems, family, table) : C_MAYBE;
	}
	r = cJSON_GetObjectItemCaseSensitive(right, "range");
	if (cJSON_IsArray(r) && cJSON_GetArraySize(r) == 2) {
		const cJSON *lo = cJSON_GetArrayItem(r, 0), *hi = cJSON_GetArrayItem(r, 1);

		if (!cJSON_IsNumber(lo) || !cJSON_IsNumber(hi))
			return C_MAYBE;
		return lo->valuedouble <= w->port && w->port <= hi->valuedouble ? C_YES : C_NO;
	}
	if (cJSON_IsObject(right) && cJSON_GetObjectItemCaseSensitive(right, "set"))
		right = cJSON_GetObjectItemCaseSensitive(right, "set");
	if (cJSON_IsArray(right)) {
		cJSON_ArrayForEach(e, right) {
			/* a set element may be wrapped: {"elem": {"val": 4500, ...}} */
			const cJSON *v = json_at(e, "elem.val");
			enum cover c = covers(w, v ? v : e, family, table);

			if (c == C_YES)
				return C_YES;
			if (c == C_MAYBE)
				any = C_MAYBE;
		}
		return any;
	}
	return C_MAYBE;
}

/* Whether a protocol match's right-hand side names UDP (17, "udp", a set holding it). */
static enum cover is_udp(const cJSON *right)
{
	const cJSON *e, *s = cJSON_GetObjectItemCaseSensitive(right, "set");
	const cJSON *list = s ? s : right;

	if (cJSON_IsString(right))
		return !strcmp(right->valuestring, "udp") ? C_YES : C_NO;
	if (cJSON_IsNumber(right))
		return right->valuedouble == 17 ? C_YES : C_NO;
	if (!cJSON_IsArray(list))
		return C_MAYBE;
	cJSON_ArrayForEach(e, list)
		if (is_udp(e) == C_YES)
			return C_YES;
	return C_NO;
}

/* One match expression against a UDP packet to the port: C_NO (the rule cannot apply),
 * C_YES (it applies whatever else), C_MAYBE (it depends on what is not known here). */
static enum cover match(const struct walk *w, const cJSON *m, const char *family,
			const char *table)
{
	const char *op = json_str(m, "op", "==");
	const cJSON *left = cJSON_GetObjectItemCaseSensitive(m, "left");
	const cJSON *right = cJSON_GetObjectItemCaseSensitive(m, "right");
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(left, "payload");
	const char *proto = json_str(pl, "protocol", ""), *field = json_str(pl, "field", "");
	const char *key = json_str(left, "meta.key", "");
	bool neg = !strcmp(op, "!=");
	enum cover c;

	if (strcmp(op, "==") && strcmp(op, "!=") && strcmp(op, "in"))
		return C_MAYBE;		/* <, >, & ...: not worth modelling */
	if (pl && (!strcmp(proto, "udp") || !strcmp(proto, "th")) && !strcmp(field, "dport"))
		c = covers(w, right, family, table);
	else if (pl && (!strcmp(proto, "tcp") || !strcmp(proto, "sctp") || !strcmp(proto, "icmp") ||
			!strcmp(proto, "dccp")))
		return C_NO;		/* any match on a TCP/SCTP/ICMP field: not UDP */
	else if (!strcmp(key, "l4proto") || (pl && !strcmp(proto, "ip") && !strcmp(field, "protocol")))
		c = is_udp(right);
	else if (!strcmp(key, "iif") || !strcmp(key, "iifname") || !strcmp(key, "oif") ||
		 !strcmp(key, "oifname") || !strcmp(key, "nfproto"))
		return C_YES;		/* the underlay's interface: assume it is the one */
	else
		return C_MAYBE;		/* addresses, conntrack state, marks... */
	if (neg)
		c = c == C_YES ? C_NO : c == C_NO ? C_YES : C_MAYBE;
	return c;
}

/* V_RETURN: a return statement: back to the calling chain. */
enum verdict { V_CONTINUE, V_ACCEPT, V_DROP, V_MAYBE_DROP, V_RETURN };

static const cJSON *find_chain(const struct walk *w, const char *family, const char *table,
			       const char *name)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, w->nft) {
		const cJSON *ch = cJSON_GetObjectItemCaseSensitive(it, "chain");

		if (ch && !strcmp(json_str(ch, "family", ""), family) &&
		    !strcmp(json_str(ch, "table", ""), table) && !strcmp(json_str(ch, "name", ""), name))
			return ch;
	}
	return NULL;
}

static enum verdict walk_chain(struct walk *w, const cJSON *chain, int depth);

/* One rule: its matches, then its verdict. */
static enum verdict walk_rule(struct walk *w, const cJSON *rule, int depth)
{
	const char *family = json_str(rule, "family", ""), *table = json_str(rule, "table", "");
	const cJSON *e;
	bool maybe = false;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rule, "expr")) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "match");
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(e, "jump");
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(e, "goto");
		enum verdict v;

		if (m) {
			enum cover c = match(w, m, family, table);

			if (c == C_NO)
				return V_CONTINUE;
			maybe |= c == C_MAYBE;
		} else if (cJSON_GetObjectItemCaseSensitive(e, "limit")) {
			maybe = true;
		} else if (cJSON_GetObjectItemCaseSensitive(e, "drop") ||
			   cJSON_GetObjectItemCaseSensitive(e, "reject")) {
			snprintf(w->why, w->len, "table %s %s, chain %s, rule handle %d drops udp dport %u%s",
				 family, table, json_str(rule, "chain", "?"),
				 (int)(cJSON_GetObjectItemCaseSensitive(rule, "handle") ?
				       cJSON_GetObjectItemCaseSensitive(rule, "handle")->valuedouble : 0),
				 w->port, maybe ? " (under conditions)" : "");
			return maybe ? V_MAYBE_DROP : V_DROP;
		} else if (cJSON_GetObjectItemCaseSensitive(e, "accept")) {
			return maybe ? V_CONTINUE : V_ACCEPT;
		} else if (cJSON_GetObjectItemCaseSensitive(e, "return")) {
			return maybe ? V_CONTINUE : V_RETURN;
		} else if (j || g) {
			const cJSON *target = find_chain(w, family, table,
							 json_str(j ? j : g, "target", ""));

			if (!target || depth >= MAX_DEPTH)
				return V_CONTINUE;
			v = walk_chain(w, target, depth + 1);
			if (v == V_DROP && maybe)
				v = V_MAYBE_DROP;
			if (v == V_ACCEPT && maybe)
				v = V_CONTINUE;
			return v;
		}
	}
	return V_CONTINUE;
}

static enum verdict walk_chain(struct walk *w, const cJSON *chain, int depth)
{
	const char *family = json_str(chain, "family", ""), *table = json_str(chain, "table", "");
	const char *name = json_str(chain, "name", "");
	const cJSON *it;
	enum verdict maybe = V_CONTINUE;

	cJSON_ArrayForEach(it, w->nft) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "rule");
		enum verdict v;

		if (!r || strcmp(json_str(r, "family", ""), family) ||
		    strcmp(json_str(r, "table", ""), table) || strcmp(json_str(r, "chain", ""), name))
			continue;
		if (++w->visits > MAX_VISITS)
			return V_CONTINUE;
		v = walk_rule(w, r, depth);
		if (v == V_RETURN)
			break;
		if (v == V_ACCEPT || v == V_DROP)
			return v;
		if (v == V_MAYBE_DROP && maybe == V_CONTINUE)
			maybe = V_MAYBE_DROP;
	}
	if (depth == 0 && !strcmp(json_str(chain, "policy", "accept"), "drop")) {
		snprintf(w->why, w->len, "table %s %s, chain %s: policy drop, and no rule accepts "
			 "udp dport %u", family, table, name, w->port);
		return V_DROP;
	}
	return maybe;
}

int diag_fw_port(const cJSON *ruleset, uint16_t port, char *why, size_t len)
{
	const cJSON *nft = cJSON_GetObjectItemCaseSensitive(ruleset, "nftables"), *it;
	struct walk w = { nft, port, why, len, 0 };
	char maybe_why[300] = "";
	int worst = DIAG_FW_OPEN;

	why[0] = '\0';
	cJSON_ArrayForEach(it, nft) {
		const cJSON *ch = cJSON_GetObjectItemCaseSensitive(it, "chain");
		const char *fam = json_str(ch, "family", "");
		enum verdict v;

		/* base filter chains of the families a UDP packet of this node crosses */
		if (!ch || !cJSON_GetObjectItemCaseSensitive(ch, "hook") ||
		    strcmp(json_str(ch, "type", "filter"), "filter") ||
		    !strncmp(json_str(ch, "table", ""), "subagent_", 9) ||
		    (strcmp(fam, "ip") && strcmp(fam, "inet") && strcmp(fam, "netdev")))
			continue;
		v = walk_chain(&w, ch, 0);
		if (v == V_DROP)
			return DIAG_FW_DROPPED;
		if (v == V_MAYBE_DROP && worst == DIAG_FW_OPEN) {
			worst = DIAG_FW_MAYBE;
			snprintf(maybe_why, sizeof(maybe_why), "%s", why);
		}
	}
	snprintf(why, len, "%s", maybe_why);
	return worst;
}

/* The ports this node needs, by its role and cable. */
struct need {
	uint16_t port;
	const char *what;
};

void diag_check_firewall(struct diag_ctx *c)
{
	char *argv[] = { "nft", "-j", "list", "ruleset", NULL };
	struct need need[5];
	unsigned n = 0;
	bool gw = strcmp(c->role, "node") != 0;
	char *out = NULL;
	size_t len;
	cJSON *rs;
	int rc;

	if (gw && !strcmp(c->cfg.cable_driver, "ipsec")) {
		need[n++] = (struct need){ 500, "IKE" };
		need[n++] = (struct need){ c->cfg.ike.natt_port ? (uint16_t)c->cfg.ike.natt_port : 4500,
					   "NAT-T (IKE and ESP in UDP)" };
	}
	if (gw && !strcmp(c->cfg.cable_driver, "vxlan"))
		need[n++] = (struct need){ 4790, "VXLAN between gateways" };
	need[n++] = (struct need){ 4791, "VXLAN from the nodes to the gateway" };
	need[n++] = (struct need){ 4801, "the gateway election" };

	rc = run_capture(argv, 0, 16 << 20, 10000, &out, &len);
	rs = rc == 0 ? cJSON_Parse(out) : NULL;
	free(out);
	if (!rs) {
		diag_add(c, "firewall", "nftables", DIAG_WARN, "install nftables (the nft command)",
			 "cannot read the ruleset: %s", rc < 0 ? strerror(-rc) : rc ? "nft failed" :
			 "nft's JSON does not parse");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		char why[300], target[32];
		int v = diag_fw_port(rs, need[i].port, why, sizeof(why));

		snprintf(target, sizeof(target), "udp/%u", need[i].port);
		if (v == DIAG_FW_OPEN)
			diag_add(c, "firewall", target, DIAG_PASS, NULL, "%s: no rule drops it", need[i].what);
		else
			diag_add(c, "firewall", target, v == DIAG_FW_DROPPED ? DIAG_FAIL : DIAG_WARN,
				 "let UDP to this port in (and out) between the nodes and gateways: "
				 "nft -a list ruleset shows the rule's handle",
				 "%s: %s", need[i].what, why);
	}
	cJSON_Delete(rs);
}
