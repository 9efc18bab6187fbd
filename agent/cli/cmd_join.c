/* subagent join: registers a cluster with the broker named in broker-info.subm and writes
 * the cluster's configuration directory. Idempotent for the same ID and directory. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/k8s_secret.h"
#include "broker/client/client.h"
#include "broker/creds/broker_info.h"
#include "broker/creds/cluster_config.h"
#include "common/cidr.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

#define PROG "subagent join"

struct opts {
	const char *info_path, *cluster_id, *dir, *cable;
	struct cidr4 cluster[CC_MAX_CIDRS], service[CC_MAX_CIDRS];
	size_t n_cluster, n_service;
	struct cidr4 global;
	bool global_set;
	bool k8s;		/* --output kubernetes: the Secret on stdout */
};

/* Progress lines: stdout, or stderr when stdout carries the Secret. */
static FILE *progress;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " BROKER-INFO --clusterid ID --clustercidr CIDR[,CIDR...]\n"
		"       --servicecidr CIDR[,CIDR...] --config-dir DIR [--cable-driver ipsec|vxlan]\n"
		"       [--globalnet-cidr CIDR]\n"
		"       " PROG " BROKER-INFO --clusterid ID ... --output kubernetes [--config-dir DIR]\n\n"
		"Registers this cluster with the broker described by BROKER-INFO (the\n"
		"broker-info.subm made by 'subagent deploy-broker') and writes the cluster's\n"
		"configuration to DIR (cluster.json, ca.pem, token; psk only from a broker\n"
		"deployed with --psk) for 'subagent agent'. Gateways get their IKE certificates\n"
		"from the broker with the cluster's token.\n"
		"Joining again with the same ID and DIR updates the registration.\n"
		"With --output kubernetes the same files are printed on stdout as the Secret\n"
		"'" K8S_CLUSTER_SECRET "' of namespace '" K8S_NAMESPACE "' (what deploy/kubernetes/\n"
		"agent.yaml and dns.yaml mount) for 'kubectl apply -f -', and the progress goes to\n"
		"stderr; DIR is then optional: when given it is written too (and read, to join again).\n"
		"The Secret holds the cluster's token: treat the output like a password.\n\n"
		"  --clusterid ID            cluster ID: a DNS label (1-63 of a-z, 0-9, '-')\n"
		"  --clustercidr CIDR,...    the cluster's pod CIDRs\n"
		"  --servicecidr CIDR,...    the cluster's service CIDRs\n"
		"  --config-dir DIR          where to write the configuration\n"
		"  -o, --output kubernetes   print the configuration as a Kubernetes Secret\n"
		"  --cable-driver DRIVER     ipsec (default, encrypted) or vxlan (not encrypted)\n"
		"  --globalnet-cidr CIDR     ask for this global CIDR (globalnet brokers only)\n");
}

static int add_cidrs(const char *flag, const char *arg, struct cidr4 *out, size_t *n)
{
	char *copy = strdup(arg), *save = NULL;
	int ret = 0;

	if (!copy)
		return cli_error(PROG, 2, "out of memory");
	for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		if (*n == CC_MAX_CIDRS) {
			ret = cli_error(PROG, 2, "at most %d %s values", CC_MAX_CIDRS, flag);
			break;
		}
		if (cidr4_parse(s, &out[*n])) {
			ret = cli_error(PROG, 2, "%s '%s' is not an IPv4 CIDR (a.b.c.d/n with the host bits zero)",
				  flag, s);
			break;
		}
		(*n)++;
	}
	free(copy);
	return ret;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_ID = 1, O_CC, O_SC, O_DIR, O_CABLE, O_GCIDR, O_HELP, O_OUT = 'o' };
	static const struct option lopts[] = {
		{ "clusterid", required_argument, NULL, O_ID },
		{ "clustercidr", required_argument, NULL, O_CC },
		{ "servicecidr", required_argument, NULL, O_SC },
		{ "config-dir", required_argument, NULL, O_DIR },
		{ "cable-driver", required_argument, NULL, O_CABLE },
		{ "globalnet-cidr", required_argument, NULL, O_GCIDR },
		{ "output", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cluster_config tmp;
	char err[BRK_ERR_MAX];
	int c, ret;

	o->cable = "ipsec";
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", lopts, NULL)) != -1) {
		switch (c) {
		case O_ID: o->cluster_id = optarg; break;
		case O_CC:
			if ((ret = add_cidrs("--clustercidr", optarg, o->cluster, &o->n_cluster)))
				return ret;
			break;
		case O_SC:
			if ((ret = add_cidrs("--servicecidr", optarg, o->service, &o->n_service)))
				return ret;
			break;
		case O_DIR: o->dir = optarg; break;
		case O_CABLE: o->cable = optarg; break;
		case O_OUT:
			if (strcmp(optarg, "kubernetes"))
				return cli_error(PROG, 2, "--output '%s': the only output is 'kubernetes' (without it, join writes --config-dir)",
						 optarg);
			o->k8s = true;
			break;
		case O_GCIDR:
			if (cidr4_parse(optarg, &o->global))
				return cli_error(PROG, 2, "--globalnet-cidr '%s' is not an IPv4 CIDR", optarg);
			o->global_set = true;
			break;
		case 'h':
		case O_HELP: usage(stdout); return -1;
		case ':':
			return cli_error(PROG, 2, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_error(PROG, 2, "unknown option '%s'; see '" PROG " --help'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return cli_error(PROG, 2, "BROKER-INFO (the broker-info.subm file) is required");
	if (argc - optind > 1)
		return cli_error(PROG, 2, "unexpected argument '%s'", argv[optind + 1]);
	o->info_path = argv[optind];
	if (!o->cluster_id)
		return cli_error(PROG, 2, "--clusterid ID is required");
	if (!name_is_dns_label(o->cluster_id))
		return cli_error(PROG, 2, "--clusterid '%s' is not valid: use 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
			   o->cluster_id);
	if (!o->n_cluster)
		return cli_error(PROG, 2, "--clustercidr CIDR is required");
	if (!o->n_service)
		return cli_error(PROG, 2, "--servicecidr CIDR is required");
	if ((!o->dir && !o->k8s) || (o->dir && !*o->dir))
		return cli_error(PROG, 2, "--config-dir DIR is required (or --output kubernetes)");
	if (strcmp(o->cable, "ipsec") && strcmp(o->cable, "vxlan"))
		return cli_error(PROG, 2, "--cable-driver '%s' is neither ipsec nor vxlan", o->cable);
	/* the same overlap rules the configuration must obey */
	memset(&tmp, 0, sizeof(tmp));
	memcpy(tmp.cluster_cidrs, o->cluster, sizeof(o->cluster));
	tmp.n_cluster_cidrs = o->n_cluster;
	memcpy(tmp.service_cidrs, o->service, sizeof(o->service));
	tmp.n_service_cidrs = o->n_service;
	strcpy(tmp.cluster_id, o->cluster_id);
	{
		char *u = (char *)"https://x";

		tmp.broker_urls[0] = u;
		tmp.n_broker_urls = 1;
	}
	strcpy(tmp.cable_driver, o->cable);
	strcpy(tmp.ike.ike_proposals, BRK_DEFAULT_IKE_PROPOSALS);
	strcpy(tmp.ike.esp_proposals, BRK_DEFAULT_ESP_PROPOSALS);
	tmp.ike.natt_port = BRK_DEFAULT_NATT_PORT;
	strcpy(tmp.globalnet.cidr_range, BRK_DEFAULT_GN_RANGE);
	tmp.globalnet.cluster_size = BRK_DEFAULT_GN_CLUSTER_SIZE;
	if (cluster_config_validate(&tmp, err) && strstr(err, "overlaps"))
		return cli_error(PROG, 2, "%s", err);
	return 0;
}

/* Sets spec's fields from the flags (keeps a broker-allocated globalCIDRs unless the
 * operator asked for one). */
static int fill_spec(cJSON *spec, const struct opts *o)
{
	cJSON *v;

	cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterID");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterCIDRs");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "serviceCIDRs");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "cableDriver");
	if (!cJSON_AddStringToObject(spec, "clusterID", o->cluster_id) ||
	    !cJSON_AddItemToObject(spec, "clusterCIDRs", json_cidr_array(o->cluster, o->n_cluster)) ||
	    !cJSON_AddItemToObject(spec, "serviceCIDRs", json_cidr_array(o->service, o->n_service)) ||
	    !cJSON_AddStringToObject(spec, "cableDriver", o->cable))
		return -ENOMEM;
	if (o->global_set) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "globalCIDRs");
		v = json_cidr_array(&o->global, 1);
		if (!v || !cJSON_AddItemToObject(spec, "globalCIDRs", v))
			return -ENOMEM;
	}
	return 0;
}

static cJSON *new_cluster_obj(const struct opts *o)
{
	cJSON *obj = cJSON_CreateObject(), *meta, *spec;

	if (!obj || !cJSON_AddStringToObject(obj, "apiVersion", "subagent.io/v1") ||
	    !cJSON_AddStringToObject(obj, "kind", "Cluster") ||
	    !(meta = cJSON_AddObjectToObject(obj, "metadata")) ||
	    !cJSON_AddStringToObject(meta, "name", o->cluster_id) ||
	    !(spec = cJSON_AddObjectToObject(obj, "spec")) || fill_spec(spec, o)) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

/* The broker's answer decides the global CIDRs. */
static int take_global_cidrs(const cJSON *obj, struct cluster_config *cfg)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(spec, "globalCIDRs"), *it;

	cfg->n_global_cidrs = 0;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return -EINVAL;
	cJSON_ArrayForEach(it, arr) {
		if (cfg->n_global_cidrs == CC_MAX_CIDRS || !cJSON_IsString(it) ||
		    strlen(it->valuestring) >= CIDR4_STRLEN ||
		    cidr4_parse(it->valuestring, &cfg->global_cidrs[cfg->n_global_cidrs]))
			return -EINVAL;
		cfg->n_global_cidrs++;
	}
	return 0;
}

/* Re-join: update our own Cluster object with our own token (PUT with resourceVersion;
 * one retry on a Conflict). */
static int update_cluster(struct brk_client *c, const struct opts *o, cJSON **out,
			  struct brk_status *st)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		cJSON *obj = NULL, *spec;
		int ret;

		ret = brk_get(c, "clusters", o->cluster_id, &obj, st);
		if (ret)
			return ret;
		spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
		if (!cJSON_IsObject(spec)) {
			cJSON_Delete(obj);
			snprintf(st->message, sizeof(st->message), "the broker's Cluster object has no spec");
			return -EBADMSG;
		}
		ret = fill_spec(spec, o);
		if (!ret)
			ret = brk_update(c, "clusters", o->cluster_id, obj, out, st);
		cJSON_Delete(obj);
		if (ret != -ESTALE)
			return ret;
	}
	return -ESTALE;
}

/* What one run of join holds; released by join_free(). */
struct join {
	const struct opts *o;
	struct broker_info bi;
	struct cluster_config old, cfg;
	bool rejoin, registered;
	int ca_fd;
	char ca_tmp[64];
	struct brk_client *c;
	cJSON *res;		/* the broker's answer: the cluster (and its new credential) */
	const char *what;	/* the step that registers: "Register cluster" or "Update cluster" */
};

static int check_flags(struct join *j)
{
	const struct opts *o = j->o;
	struct cidr4 range;

	if (!o->global_set)
		return 0;
	if (!j->bi.globalnet.enabled)
		return cli_step_failed("Check flags", "--globalnet-cidr needs a broker with globalnet on; this one has it off");
	if (!cidr4_parse(j->bi.globalnet.cidr_range, &range) &&
	    (!cidr4_overlap(&range, &o->global) || o->global.len < range.len))
		return cli_step_failed("Check flags", "--globalnet-cidr is outside the broker's globalnet range %s",
				       j->bi.globalnet.cidr_range);
	return 0;
}

/* A directory that holds this cluster's configuration already means a rejoin. */
static int check_config_dir(struct join *j)
{
	const struct opts *o = j->o;
	char err[BRK_ERR_MAX];
	int ret;

	if (!o->dir)
		return 0;
	ret = cluster_config_load_err(o->dir, &j->old, err);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return cli_step_failed("Check configuration directory",
				       "%s holds a configuration that does not load (%s); remove it or use another directory",
				       o->dir, err);
	if (strcmp(j->old.cluster_id, o->cluster_id))
		return cli_step_failed("Check configuration directory",
				       "%s already holds the configuration of cluster %s; run 'subagent leave --config-dir %s' first or use another directory",
				       o->dir, j->old.cluster_id, o->dir);
	j->rejoin = true;
	return 0;
}

static int contact_broker(struct join *j)
{
	const struct opts *o = j->o;
	const char *token = j->rejoin ? j->old.token : j->bi.join_token;
	const cJSON *addr;
	struct brk_status st;
	cJSON *who = NULL;
	int ret;

	/* curl reads the CA from a file: an anonymous memory file until DIR is written, so
	 * that nothing is left behind whatever happens to this process */
	j->ca_fd = memfd_create("subagent-broker-ca", MFD_CLOEXEC);
	snprintf(j->ca_tmp, sizeof(j->ca_tmp), "/proc/self/fd/%d", j->ca_fd);
	if (j->ca_fd < 0 ||
	    write(j->ca_fd, j->bi.ca_pem, strlen(j->bi.ca_pem)) != (ssize_t)strlen(j->bi.ca_pem))
		return cli_step_failed("Prepare", "write a temporary CA file: %s", strerror(errno));
	j->c = brk_client_new(j->bi.urls, j->bi.n_urls, j->ca_tmp, token);
	if (!j->c || brk_client_set_ca_label(j->c, "the CA in broker-info"))
		return cli_step_failed("Prepare", "broker client: %s", strerror(errno));
	ret = brk_whoami(j->c, &who, &st);
	if (ret == -EACCES && j->rejoin)
		return cli_step_failed("Contact the broker",
				       "the broker refused the token stored in %s (%s): was cluster %s removed? Run 'subagent leave --config-dir %s --force', then join again",
				       o->dir, st.message, o->cluster_id, o->dir);
	if (ret)
		return cli_step_failed("Contact the broker", "%s", st.message);
	addr = cJSON_GetObjectItemCaseSensitive(who, "remoteAddr");
	fprintf(progress, "✓ Broker reachable (%s%s%s)\n", st.url,
	       cJSON_IsString(addr) ? ", it sees this host as " : "",
	       cJSON_IsString(addr) ? addr->valuestring : "");
	cJSON_Delete(who);
	return 0;
}

static int register_cluster(struct join *j)
{
	struct brk_status st;
	cJSON *obj = NULL;
	int ret;

	if (j->rejoin) {
		ret = update_cluster(j->c, j->o, &j->res, &st);
		j->what = "Update cluster";
	} else {
		obj = new_cluster_obj(j->o);
		ret = obj ? brk_create(j->c, "clusters", obj, &j->res, &st) : -ENOMEM;
		j->what = "Register cluster";
	}
	cJSON_Delete(obj);
	if (ret)
		return cli_step_failed(j->what, "%s: %s", j->o->cluster_id,
				       ret == -ENOMEM ? "out of memory" : st.message);
	j->registered = !j->rejoin;
	return 0;
}

/* The cluster's credential: the stored one on a rejoin, else the one the broker issued. */
static int take_token(struct join *j)
{
	const cJSON *tok;

	if (j->rejoin) {
		j->cfg.token = j->old.token;
		j->old.token = NULL;
		return 0;
	}
	tok = json_at(j->res, "credential.token");
	if (!cJSON_IsString(tok) ||
	    !brk_hex_ok(tok->valuestring, BRK_TOKEN_HEX_LEN, BRK_TOKEN_HEX_LEN))
		return cli_step_failed(j->what, "the broker's answer carries no valid credential token");
	j->cfg.token = strdup(tok->valuestring);
	explicit_bzero(tok->valuestring, strlen(tok->valuestring));
	if (!j->cfg.token)
		return cli_step_failed(j->what, "out of memory");
	return 0;
}

/* The configuration: broker-info's URLs, CA and IKE settings, our spec, the token. */
static int build_config(struct join *j)
{
	const struct opts *o = j->o;
	struct cluster_config *cfg = &j->cfg;
	struct broker_info *bi = &j->bi;

	strcpy(cfg->cluster_id, o->cluster_id);
	for (size_t i = 0; i < bi->n_urls; i++) {
		cfg->broker_urls[i] = bi->urls[i];
		bi->urls[i] = NULL;
	}
	cfg->n_broker_urls = bi->n_urls;
	bi->n_urls = 0;
	memcpy(cfg->cluster_cidrs, o->cluster, sizeof(o->cluster));
	cfg->n_cluster_cidrs = o->n_cluster;
	memcpy(cfg->service_cidrs, o->service, sizeof(o->service));
	cfg->n_service_cidrs = o->n_service;
	strcpy(cfg->cable_driver, o->cable);
	cfg->ike = bi->ike;
	cfg->globalnet = bi->globalnet;
	cfg->ca_pem = bi->ca_pem;
	bi->ca_pem = NULL;
	cfg->psk = bi->psk;
	bi->psk = NULL;
	if (take_token(j))
		return 1;
	{
		const char *uid = json_str(j->res, "metadata.uid", NULL);

		/* caches on the nodes name this registration (see agent/engine/cache.c) */
		if (uid && strlen(uid) <= CC_UID_MAX &&
		    strspn(uid, "0123456789abcdef-") == strlen(uid))
			strcpy(cfg->registration_uid, uid);
	}
	if (take_global_cidrs(j->res, cfg))
		return cli_step_failed(j->what, "the broker's answer has malformed spec.globalCIDRs");
	return 0;
}

/* Registered but could not finish: take the registration back with the new token. */
static void withdraw(struct join *j)
{
	struct brk_client *rb = brk_client_new(j->cfg.broker_urls, j->cfg.n_broker_urls,
					       j->ca_tmp, j->cfg.token);
	struct brk_status st;

	if (rb && brk_delete(rb, "clusters", j->o->cluster_id, NULL, &st) == 0)
		fprintf(stderr, "  (the registration of %s was withdrawn)\n", j->o->cluster_id);
	else
		fprintf(stderr, "  (could not withdraw the registration of %s: %s)\n",
			j->o->cluster_id, rb ? st.message : "out of memory");
	brk_client_free(rb);
}

static void join_free(struct join *j)
{
	const cJSON *tok = json_at(j->res, "credential.token");

	if (j->ca_fd >= 0)
		close(j->ca_fd);
	if (cJSON_IsString(tok))
		explicit_bzero(tok->valuestring, strlen(tok->valuestring));
	cJSON_Delete(j->res);
	brk_client_free(j->c);
	cluster_config_free(&j->cfg);
	cluster_config_free(&j->old);
	broker_info_free(&j->bi);
}

/* The files of the configuration directory as the Secret the manifests mount. */
static int print_secret(const struct cluster_config *cfg)
{
	struct k8s_file files[4] = {
		{ "ca.pem", cfg->ca_pem }, { "cluster.json", NULL }, { "token", cfg->token },
		{ "psk", cfg->psk },
	};
	struct k8s_secret sec = {
		.name = K8S_CLUSTER_SECRET, .component = "agent", .cluster = cfg->cluster_id,
		.files = files, .n_files = cfg->psk ? 4 : 3,
	};
	char err[BRK_ERR_MAX], comment[160];
	char *json = cluster_config_render(cfg, err);
	int ret;

	if (!json)
		return cli_step_failed("Print the Secret", "%s", err);
	files[1].data = json;
	snprintf(comment, sizeof(comment),
		 "subagent join: the configuration of cluster %s; it holds the cluster's broker token",
		 cfg->cluster_id);
	sec.comment = comment;
	ret = k8s_secret_print(stdout, &sec);
	free(json);
	if (ret)
		return cli_step_failed("Print the Secret", "%s", strerror(-ret));
	fprintf(progress, "✓ Printed the Secret %s/%s (%zu keys) for 'kubectl apply -f -'\n",
		K8S_NAMESPACE, K8S_CLUSTER_SECRET, sec.n_files);
	return 0;
}

static int join(const struct opts *o)
{
	struct join j = { .o = o, .ca_fd = -1 };
	char err[BRK_ERR_MAX];
	int rc;

	if (broker_info_load(o->info_path, &j.bi, err))
		return cli_step_failed("Read broker-info", "%s", err);
	fprintf(progress, "✓ Read broker-info %s (%zu broker URL%s, globalnet %s)\n", o->info_path,
	       j.bi.n_urls, j.bi.n_urls == 1 ? "" : "s", j.bi.globalnet.enabled ? "on" : "off");
	rc = check_flags(&j);
	if (!rc)
		rc = check_config_dir(&j);
	if (!rc)
		rc = contact_broker(&j);
	if (!rc)
		rc = register_cluster(&j);
	if (!rc)
		rc = build_config(&j);
	if (!rc) {
		fprintf(progress, "✓ %s %s%s\n", j.rejoin ? "Updated cluster" : "Registered cluster",
		       o->cluster_id, j.rejoin ? " (already registered; same credential)" : "");
		if (j.cfg.n_global_cidrs) {
			char buf[CIDR4_STRLEN];

			cidr4_format(&j.cfg.global_cidrs[0], buf);
			fprintf(progress, "  global CIDR: %s\n", buf);
		}
		fprintf(progress, "  IKE authentication: %s\n", j.cfg.psk ?
		       "the broker's pre-shared key (deployed with --psk)" :
		       "per-cluster certificates signed by the broker");
		if (o->dir && cluster_config_save(o->dir, &j.cfg, err))
			rc = cli_step_failed("Write configuration", "%s", err);
		else if (o->dir)
			fprintf(progress, "✓ Wrote configuration to %s\n", o->dir);
		if (!rc && o->k8s)
			rc = print_secret(&j.cfg);
	}
	if (rc && j.registered && j.cfg.token)
		withdraw(&j);
	join_free(&j);
	return rc;
}

int cmd_join(int argc, char **argv)
{
	struct opts o = { 0 };
	int ret = parse_opts(argc, argv, &o);

	progress = o.k8s ? stderr : stdout;
	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress lines show up as they happen */

	if (ret < 0)
		return 0;
	if (ret)
		return ret;
	return join(&o);
}
