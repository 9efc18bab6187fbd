/* What the ipsec cable driver asks charon over VICI: the credentials (this gateway's key,
 * its certificate and the broker's CA; or a shared key), one connection per remote cluster
 * (IKEv2, tunnel mode, ESP in UDP, the remote identity pinned to its cluster ID),
 * initiation and teardown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cable/ipsec_int.h"
#include "agent/cable/strongswan/vici_conn.h"
#include "common/log.h"
#include "common/util.h"

int ipsec_call(struct cable_driver *d, const char *cmd, struct vici_builder *b,
		const char *what)
{
	char errmsg[256];
	int err;

	if (!d->vc)
		return -ENOTCONN;
	err = vici_conn_call(d->vc, cmd, b, CMD_TIMEOUT_MS, errmsg, sizeof(errmsg));
	if (err)
		pr_warn("ipsec: %s %s: %s\n", cmd, what,
			err == -EREMOTEIO ? errmsg : strerror(-err));
	return err;
}

void ipsec_creds_clear(struct ipsec_creds *c)
{
	util_free_secret(c->psk);
	util_free_secret(c->key);
	free(c->cert);
	free(c->chain);
	free(c->ca);
	memset(c, 0, sizeof(*c));
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s || !*s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

int ipsec_creds_copy(struct ipsec_creds *dst, const struct cable_creds *c)
{
	struct ipsec_creds n = { 0 };
	int err;

	if (!c || (!(c->psk && *c->psk) && (!c->key_pem || !c->ca_pem)))
		return -EINVAL;
	if ((err = dup_opt(c->psk, &n.psk)) ||
	    (!n.psk && ((err = dup_opt(c->key_pem, &n.key)) || (err = dup_opt(c->cert_pem, &n.cert)) ||
			(err = dup_opt(c->chain_pem, &n.chain)) || (err = dup_opt(c->ca_pem, &n.ca))))) {
		ipsec_creds_clear(&n);
		return err;
	}
	ipsec_creds_clear(dst);
	*dst = n;
	return 0;
}

static int load_shared(struct cable_driver *d)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "id", PSK_ID);
	vici_add_kv_str(b, "type", "IKE");
	vici_add_kv_str(b, "data", d->creds.psk);
	/* Owned by our identity: charon uses it towards any peer. */
	vici_begin_list(b, "owners");
	vici_add_item_str(b, d->local_id);
	vici_end_list(b);
	err = ipsec_call(d, "load-shared", b, "psk");
	vici_builder_free(b);
	return err;
}

/* load-cert of one certificate; flag "CA" makes it a CA charon may build chains with. */
static int load_cert(struct cable_driver *d, const char *pem, size_t len, const char *flag)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "type", "X509");
	vici_add_kv_str(b, "flag", flag);
	vici_add_kv(b, "data", pem, len);
	err = ipsec_call(d, "load-cert", b, flag);
	vici_builder_free(b);
	return err;
}

/* Each certificate of a PEM bundle. */
static int load_certs(struct cable_driver *d, const char *bundle, const char *flag)
{
	static const char end[] = "-----END CERTIFICATE-----";
	const char *p = bundle, *e;
	int err, n = 0;

	while (p && (p = strstr(p, "-----BEGIN CERTIFICATE-----")) && (e = strstr(p, end))) {
		e += sizeof(end) - 1;
		err = load_cert(d, p, (size_t)(e - p), flag);
		if (err)
			return err;
		n++;
		p = e;
	}
	return n ? 0 : -EINVAL;
}

int ipsec_load_creds(struct cable_driver *d)
{
	struct vici_builder *b;
	int err;

	if (d->creds.psk)
		return load_shared(d);
	/* The broker's root is the trust anchor (and each connection pins it as the only
	 * one, see ipsec_load_conn); the signing CA below it completes the peers' chains.
	 * Our certificate is found through the local identity, so a renewal replaces it
	 * here without touching the connections (a changed connection loses its SAs). */
	err = load_certs(d, d->creds.ca, "CA");
	if (!err && d->creds.chain)
		err = load_certs(d, d->creds.chain, "CA");
	if (!err && d->creds.cert)
		err = load_certs(d, d->creds.cert, "NONE");
	if (err)
		return err;
	b = vici_builder_new();
	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "type", "any");
	vici_add_kv_str(b, "data", d->creds.key);
	err = ipsec_call(d, "load-key", b, "gateway key");
	vici_builder_free(b);
	return err;
}

int ipsec_set_creds(struct cable_driver *d, const struct cable_creds *c)
{
	int err = ipsec_creds_copy(&d->creds, c);

	if (err || !d->vc)
		return err;	/* while charon is away: loaded when it is back */
	/* the old key and certificate go; established SAs keep running on their keys */
	err = vici_conn_call(d->vc, "clear-creds", NULL, CMD_TIMEOUT_MS, NULL, 0);
	if (!err)
		err = ipsec_load_creds(d);
	if (!err)
		pr_info("ipsec: new credentials loaded\n");
	return err;
}

static void add_proposals(struct vici_builder *b, const char *key, const char *props)
{
	char buf[512], *save = NULL, *tok;

	vici_begin_list(b, key);
	snprintf(buf, sizeof(buf), "%s", props ? props : "default");
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		vici_add_item_str(b, tok);
	vici_end_list(b);
}

static void add_subnets(struct vici_builder *b, const char *key, const struct cable_endpoint *e)
{
	char buf[CIDR4_STRLEN];

	vici_begin_list(b, key);
	for (uint32_t i = 0; i < e->n_subnets && i < CABLE_MAX_SUBNETS; i++) {
		cidr4_format(&e->subnets[i], buf);
		vici_add_item_str(b, buf);
	}
	vici_end_list(b);
}

/* Who initiates: a gateway behind NAT can only be reached once it has sent something, so
 * the side behind NAT initiates; when both are (two NATs) both do, which punches the hole
 * from both ends; otherwise the cluster with the smaller ID does. */
bool ipsec_we_initiate(const struct cable_driver *d, const struct peer *p)
{
	bool local_nat = p->local.public_ip && p->local.public_ip != p->local.private_ip;
	bool remote_nat = p->remote.public_ip && p->remote.public_ip != p->remote.private_ip;

	/* The same NAT on both sides (one site): they talk over private addresses. */
	if (local_nat && remote_nat && p->local.public_ip == p->remote.public_ip)
		local_nat = remote_nat = false;
	if (local_nat != remote_nat)
		return local_nat;
	if (local_nat)
		return true;
	return strcmp(d->local_id, p->remote.cluster_id) < 0;
}

/* Whether this side should (re)initiate when the peer has no IKE_SA. */
bool ipsec_wants_initiate(const struct cable_driver *d, const struct peer *p)
{
	switch (d->start) {
	case CABLE_START_START:
		return true;
	case CABLE_START_TRAP:
		return false;
	default:
		return ipsec_we_initiate(d, p) || p->recovering;
	}
}

/* load-conn for one peer. active: initiate right away (start_action=start). */
int ipsec_load_conn(struct cable_driver *d, const struct peer *p, bool active)
{
	const char *id = p->remote.cluster_id;
	const char *start = "none", *dpd = "clear";
	char lip[16], rip[16];
	struct vici_builder *b;
	int err;

	switch (d->start) {
	case CABLE_START_TRAP:
		start = active ? "trap|start" : "trap";
		dpd = "trap";
		break;
	case CABLE_START_START:
		start = "start";
		dpd = "restart";
		break;
	case CABLE_START_AUTO:
		if (active || ipsec_we_initiate(d, p))
			start = "start";
		if (ipsec_we_initiate(d, p))
			dpd = "restart";
		break;
	}
	ip4_format(p->local.private_ip, lip);
	ip4_format(p->remote_ip, rip);
	b = vici_builder_new();
	if (!b)
		return -ENOMEM;
	vici_begin_section(b, id);
	vici_add_kv_str(b, "version", "2");
	vici_begin_list(b, "local_addrs");
	vici_add_item_str(b, lip);
	vici_end_list(b);
	vici_begin_list(b, "remote_addrs");
	vici_add_item_str(b, rip);
	/* Any address may answer for the cluster (its identity and key decide): a gateway
	 * that took over after a failover reaches us before the broker tells us its address,
	 * even while the broker is down. We initiate to rip, the first entry. */
	vici_add_item_str(b, "0.0.0.0/0");
	vici_end_list(b);
	/* IKE on the NAT-T port too: one UDP port carries everything. */
	vici_add_kv_fmt(b, "local_port", "%u", p->local.natt_port ? p->local.natt_port : 4500);
	vici_add_kv_fmt(b, "remote_port", "%u", p->remote.natt_port ? p->remote.natt_port : 4500);
	vici_add_kv_str(b, "encap", "yes");
	vici_add_kv_str(b, "mobike", "no");
	vici_add_kv_fmt(b, "dpd_delay", "%us", d->dpd_delay_s);
	vici_add_kv_str(b, "keyingtries", "0");
	add_proposals(b, "proposals", d->ike_proposals);
	if (!d->creds.psk) {
		/* the peers always get our certificate, not only when they ask for it */
		vici_add_kv_str(b, "send_cert", "always");
	}
	vici_begin_section(b, "local");
	vici_add_kv_str(b, "auth", d->creds.psk ? "psk" : "pubkey");
	vici_add_kv_str(b, "id", d->local_id);
	vici_end_section(b);
	vici_begin_section(b, "remote");
	vici_add_kv_str(b, "auth", d->creds.psk ? "psk" : "pubkey");
	/* The remote cluster's ID and nothing else: its certificate must name it (as its
	 * DNS subjectAltName) and chain to the broker's root, the only anchor allowed. */
	vici_add_kv_str(b, "id", id);
	if (!d->creds.psk) {
		vici_begin_list(b, "cacerts");
		vici_add_item_str(b, d->creds.ca);
		vici_end_list(b);
	}
	vici_end_section(b);
	vici_begin_section(b, "children");
	vici_begin_section(b, id);
	vici_add_kv_str(b, "mode", "tunnel");
	add_subnets(b, "local_ts", &p->local);
	add_subnets(b, "remote_ts", &p->remote);
	add_proposals(b, "esp_proposals", d->esp_proposals);
	vici_add_kv_str(b, "start_action", start);
	vici_add_kv_str(b, "dpd_action", dpd);
	vici_add_kv_str(b, "close_action", ipsec_we_initiate(d, p) || d->start != CABLE_START_AUTO ?
			"start" : "none");
	vici_end_section(b);
	vici_end_section(b);
	vici_end_section(b);
	err = ipsec_call(d, "load-conn", b, id);
	vici_builder_free(b);
	if (!err && strstr(start, "start")) {
		/* Give the initiation just started time before the tick retries it. */
		struct peer *mp = (struct peer *)p;

		mp->backoff_s = (unsigned)util_backoff(mp->backoff_s, 1, BACKOFF_MAX_S);
		mp->next_try_ns = util_now_ns() + TICK_NS;
	}
	if (!err)
		pr_info("ipsec: loaded %s: %s:%u -> %s:%u epoch %llu (%s, start_action %s)\n", id,
			lip, p->local.natt_port ? p->local.natt_port : 4500, rip,
			p->remote.natt_port ? p->remote.natt_port : 4500,
			(unsigned long long)p->remote.epoch,
			ipsec_we_initiate(d, p) ? "initiator" : "responder", start);
	return err;
}

int ipsec_terminate_ike(struct cable_driver *d, const char *id)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "ike", id);
	vici_add_kv_str(b, "timeout", "3000");
	err = vici_conn_call(d->vc, "terminate", b, CMD_TIMEOUT_MS, NULL, 0);
	vici_builder_free(b);
	/* "no matching SAs" is fine: nothing to tear down. */
	return err == -EREMOTEIO ? 0 : err;
}

int ipsec_unload_conn(struct cable_driver *d, const char *id)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "name", id);
	err = ipsec_call(d, "unload-conn", b, id);
	vici_builder_free(b);
	return err;
}

int ipsec_initiate(struct cable_driver *d, const char *id)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "child", id);
	vici_add_kv_str(b, "ike", id);
	vici_add_kv_str(b, "timeout", "-1");	/* asynchronous: the events tell the outcome */
	err = ipsec_call(d, "initiate", b, id);
	vici_builder_free(b);
	return err;
}

