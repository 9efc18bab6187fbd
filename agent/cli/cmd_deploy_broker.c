/* subagent deploy-broker: creates the broker's state directory (CA, the IKE signing CA, TLS
 * certificate, tokens, config.json, broker-info.subm; a PSK only with --psk). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/k8s_secret.h"
#include "broker/creds/broker_info.h"
#include "broker/creds/pki.h"
#include "broker/store/store.h"
#include "common/cidr.h"
#include "common/util.h"

#define PROG "subagent deploy-broker"

struct opts {
	const char *dir;
	const char *listen;
	const char *store;
	const char *etcd_tls[3];	/* CA, client certificate, client key (etcd://) */
	char *urls[BRK_MAX_URLS];
	size_t n_urls;
	struct brk_globalnet_settings gn;
	bool gn_range_set, gn_size_set;
	bool force;
	bool psk;
	bool k8s;		/* --output kubernetes: also the broker's Secret on stdout */
};

/* Progress lines: stdout, or stderr when stdout carries the Secret. */
static FILE *progress;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --dir DIR [--listen ADDR:PORT] [--url URL[,URL...]]\n"
		"       [--store sqlite|etcd://HOST:PORT[,HOST:PORT...]]\n"
		"       [--etcd-ca FILE --etcd-cert FILE --etcd-key FILE] [--globalnet]\n"
		"       [--globalnet-cidr-range CIDR] [--globalnet-cluster-size N] [--psk] [--force]\n"
		"       [--output kubernetes]\n\n"
		"Creates the broker's state directory DIR: a CA, the IKE signing CA below it (the\n"
		"running broker signs every gateway's IKE certificate with it), the broker's TLS\n"
		"certificate (names: the hosts of every URL, 127.0.0.1 and localhost), an admin\n"
		"token, a join token, config.json, and broker-info.subm, the file to carry to\n"
		"every cluster ('subagent join broker-info.subm ...'). ca-key.pem is not read by\n"
		"the running broker: keep it offline.\n"
		"With --output kubernetes DIR is written all the same (broker-info.subm and the CA\n"
		"key stay with you) and the files the broker reads are printed on stdout as the\n"
		"Secret '" K8S_BROKER_SECRET "' of namespace '" K8S_NAMESPACE "' (what deploy/kubernetes/\n"
		"broker-sqlite.yaml and broker-etcd.yaml mount) for 'kubectl apply -f -'; the\n"
		"progress goes to stderr. The Secret holds the admin token: treat it like a password.\n\n"
		"  --dir DIR                    state directory (must be absent or empty)\n"
		"  --listen ADDR:PORT           where 'subagent broker' listens (default 0.0.0.0:8443)\n"
		"  --url URL[,URL...]           https URL(s) clusters use to reach the broker; default\n"
		"                               https://ADDR:PORT of --listen (required with 0.0.0.0)\n"
		"  --store sqlite|etcd://...    storage backend (default sqlite: DIR/broker.db);\n"
		"                               etcd is reached over TLS with a client certificate\n"
		"                               (" ETCD_PLAIN "... for plain HTTP)\n"
		"  --etcd-ca FILE               the CA of etcd's certificates (etcd://, copied)\n"
		"  --etcd-cert FILE, --etcd-key FILE  the broker's client certificate and key\n"
		"  --globalnet                  allocate global CIDRs to clusters (overlapping CIDRs)\n"
		"  --globalnet-cidr-range CIDR  global range (default " BRK_DEFAULT_GN_RANGE ")\n"
		"  --globalnet-cluster-size N   addresses per cluster, a power of two (default %d)\n"
		"  --psk                        also hand every cluster one shared IKE key in\n"
		"                               broker-info (an upgrade window for agents that\n"
		"                               predate certificates; any holder can pose as any\n"
		"                               cluster)\n"
		"  --force                      overwrite the credentials in a non-empty DIR\n"
		"                               (an existing broker.db is kept)\n"
		"  -o, --output kubernetes      also print the broker's Secret (above)\n",
		BRK_DEFAULT_GN_CLUSTER_SIZE);
}

static bool is_ip_literal(const char *host, bool *v6)
{
	uint32_t a;
	unsigned char a6[16];

	*v6 = strchr(host, ':') != NULL;
	if (*v6)
		return inet_pton(AF_INET6, host, a6) == 1;
	return ip4_parse(host, &a) == 0;
}

static int add_urls(struct opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, host[256];
	unsigned port;
	int ret = 0;

	if (!copy)
		return cli_error(PROG, 2, "out of memory");
	for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		if (brk_url_parse(u, host, sizeof(host), &port)) {
			ret = cli_error(PROG, 2, "--url '%s' is not an https://HOST[:PORT] URL", u);
			break;
		}
		for (size_t i = 0; i < o->n_urls; i++)
			if (!strcmp(o->urls[i], u))
				goto next;
		if (o->n_urls == BRK_MAX_URLS) {
			ret = cli_error(PROG, 2, "at most %d --url values", BRK_MAX_URLS);
			break;
		}
		o->urls[o->n_urls] = strdup(u);
		if (!o->urls[o->n_urls]) {
			ret = cli_error(PROG, 2, "out of memory");
			break;
		}
		o->n_urls++;
next:;
	}
	free(copy);
	return ret;
}

static int check_store(const char *s)
{
	char *copy, *save = NULL, host[256];
	unsigned port, n = 0;
	int ret = 0;

	size_t skip = !strncmp(s, ETCD_PLAIN, strlen(ETCD_PLAIN)) ? strlen(ETCD_PLAIN) : 7;

	if (!strcmp(s, "sqlite"))
		return 0;
	if ((skip == 7 && strncmp(s, "etcd://", 7)) || strlen(s) > 1024)
		return cli_error(PROG, 2, "--store '%s' is neither 'sqlite' nor etcd://HOST:PORT[,HOST:PORT...]", s);
	copy = strdup(s + skip);
	if (!copy)
		return cli_error(PROG, 2, "out of memory");
	for (char *hp = strtok_r(copy, ",", &save); hp; hp = strtok_r(NULL, ",", &save), n++) {
		if (brk_hostport_parse(hp, host, sizeof(host), &port)) {
			ret = cli_error(PROG, 2, "--store: '%s' is not an etcd HOST:PORT", hp);
			break;
		}
	}
	if (!ret && (n == 0 || s[strlen(s) - 1] == ','))
		ret = cli_error(PROG, 2, "--store '%s' names no etcd endpoint", s);
	free(copy);
	return ret;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_DIR = 1, O_LISTEN, O_URL, O_STORE, O_GN, O_GN_RANGE, O_GN_SIZE, O_FORCE, O_PSK,
	       O_HELP, O_ETCD_CA, O_ETCD_CERT, O_ETCD_KEY, O_OUT = 'o' };
	static const struct option lopts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "url", required_argument, NULL, O_URL },
		{ "store", required_argument, NULL, O_STORE },
		{ "etcd-ca", required_argument, NULL, O_ETCD_CA },
		{ "etcd-cert", required_argument, NULL, O_ETCD_CERT },
		{ "etcd-key", required_argument, NULL, O_ETCD_KEY },
		{ "globalnet", no_argument, NULL, O_GN },
		{ "globalnet-cidr-range", required_argument, NULL, O_GN_RANGE },
		{ "globalnet-cluster-size", required_argument, NULL, O_GN_SIZE },
		{ "force", no_argument, NULL, O_FORCE },
		{ "psk", no_argument, NULL, O_PSK },
		{ "output", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	char err[BRK_ERR_MAX], host[256];
	struct cidr4 range;
	unsigned port;
	int c, ret;

	o->listen = "0.0.0.0:8443";
	o->store = "sqlite";
	strcpy(o->gn.cidr_range, BRK_DEFAULT_GN_RANGE);
	o->gn.cluster_size = BRK_DEFAULT_GN_CLUSTER_SIZE;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:ho:", lopts, NULL)) != -1) {
		switch (c) {
		case O_DIR: o->dir = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_URL:
			ret = add_urls(o, optarg);
			if (ret)
				return ret;
			break;
		case O_STORE: o->store = optarg; break;
		case O_ETCD_CA: o->etcd_tls[0] = optarg; break;
		case O_ETCD_CERT: o->etcd_tls[1] = optarg; break;
		case O_ETCD_KEY: o->etcd_tls[2] = optarg; break;
		case O_GN: o->gn.enabled = true; break;
		case O_GN_RANGE:
			if (cidr4_parse(optarg, &range))
				return cli_error(PROG, 2, "--globalnet-cidr-range '%s' is not an IPv4 CIDR (a.b.c.d/n, host bits zero)",
					   optarg);
			cidr4_format(&range, o->gn.cidr_range);
			o->gn_range_set = true;
			break;
		case O_GN_SIZE:
			if (parse_u32(optarg, &o->gn.cluster_size))
				return cli_error(PROG, 2, "--globalnet-cluster-size '%s' is not a number", optarg);
			o->gn_size_set = true;
			break;
		case O_FORCE: o->force = true; break;
		case O_PSK: o->psk = true; break;
		case O_OUT:
			if (strcmp(optarg, "kubernetes"))
				return cli_error(PROG, 2, "--output '%s': the only output is 'kubernetes'", optarg);
			o->k8s = true;
			break;
		case 'h':
		case O_HELP: usage(stdout); return -1;
		case ':':
			return cli_error(PROG, 2, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_error(PROG, 2, "unknown option '%s'; see '" PROG " --help'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_error(PROG, 2, "unexpected argument '%s'", argv[optind]);
	if (!o->dir || !*o->dir)
		return cli_error(PROG, 2, "--dir DIR is required");
	if (brk_hostport_parse(o->listen, host, sizeof(host), &port))
		return cli_error(PROG, 2, "--listen '%s' is not ADDR:PORT (IPv4 address, or [IPv6] address)",
			   o->listen);
	{
		bool v6;

		if (!is_ip_literal(host, &v6))
			return cli_error(PROG, 2, "--listen '%s': the address must be an IP address, not a name",
				   o->listen);
		if (!o->n_urls) {
			char url[BRK_URL_MAX + 1];

			if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
				return cli_error(PROG, 2, "--url is required when listening on %s: clusters need an address they can reach",
					   host);
			snprintf(url, sizeof(url), v6 ? "https://[%s]:%u" : "https://%s:%u", host, port);
			ret = add_urls(o, url);
			if (ret)
				return ret;
		}
	}
	ret = check_store(o->store);
	if (ret)
		return ret;
	if (!strncmp(o->store, "etcd://", 7) && (!o->etcd_tls[0] || !o->etcd_tls[1] || !o->etcd_tls[2]))
		return cli_error(PROG, 2, "--store etcd://... needs --etcd-ca, --etcd-cert and --etcd-key"
				 " (the broker reaches etcd over TLS with a client certificate)");
	if (strncmp(o->store, "etcd://", 7) && (o->etcd_tls[0] || o->etcd_tls[1] || o->etcd_tls[2]))
		return cli_error(PROG, 2, "--etcd-ca, --etcd-cert and --etcd-key go with --store etcd://...");
	if ((o->gn_range_set || o->gn_size_set) && !o->gn.enabled)
		return cli_error(PROG, 2, "--globalnet-cidr-range and --globalnet-cluster-size need --globalnet");
	if (brk_globalnet_validate(&o->gn, err))
		return cli_error(PROG, 2, "%s", err);
	return 0;
}

/* 1 when dir has entries, 0 when empty or absent, -errno on error. */
static int dir_nonempty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n = 1;
	closedir(d);
	return n;
}

static int write_in(const char *dir, const char *name, const char *data, mode_t mode)
{
	char path[PATH_MAX];
	int err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	err = util_write_file(path, data, strlen(data), mode);
	if (err)
		fprintf(stderr, PROG ": write %s: %s\n", path, strerror(-err));
	return err;
}

/* Copies the etcd TLS files into DIR (the key 0600). */
static int copy_etcd_tls(const struct opts *o)
{
	static const char *const names[3] = { "etcd-ca.pem", "etcd-client.pem", "etcd-client-key.pem" };
	int err = 0;

	for (int i = 0; i < 3 && o->etcd_tls[i] && !err; i++) {
		char *s = util_read_file(o->etcd_tls[i], 1 << 20, NULL);

		if (!s) {
			fprintf(stderr, PROG ": read %s: %s\n", o->etcd_tls[i], strerror(errno));
			return -errno;
		}
		err = write_in(o->dir, names[i], s, i == 2 ? 0600 : 0644);
		util_free_secret(s);
	}
	return err;
}

/* With etcd://, the three etcd TLS files as copied into DIR, for the Secret (the broker's
 * config.json names them there); out[] and etcd[] stay empty otherwise. */
static int etcd_tls_files(const struct opts *o, struct k8s_file *out, char *etcd[3])
{
	static const char *const names[3] = { "etcd-ca.pem", "etcd-client.pem", "etcd-client-key.pem" };
	char path[PATH_MAX];

	for (int i = 0; i < 3 && o->etcd_tls[0]; i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, names[i]);
		etcd[i] = util_read_file(path, 1 << 20, NULL);
		if (!etcd[i]) {
			fprintf(stderr, PROG ": read %s: %s\n", path, strerror(errno));
			return -errno;
		}
		out[i] = (struct k8s_file){ names[i], etcd[i] };
	}
	return 0;
}

static char *config_json(const struct opts *o)
{
	cJSON *root = cJSON_CreateObject(), *urls, *gn;
	char *s = NULL;

	if (!root || !cJSON_AddStringToObject(root, "listen", o->listen) ||
	    !cJSON_AddStringToObject(root, "store", o->store) ||
	    !(urls = cJSON_AddArrayToObject(root, "urls")))
		goto out;
	for (size_t i = 0; i < o->n_urls; i++)
		if (!cJSON_AddItemToArray(urls, cJSON_CreateString(o->urls[i])))
			goto out;
	if (!(gn = cJSON_AddObjectToObject(root, "globalnet")) ||
	    !cJSON_AddBoolToObject(gn, "enabled", o->gn.enabled) ||
	    !cJSON_AddStringToObject(gn, "cidrRange", o->gn.cidr_range) ||
	    !cJSON_AddNumberToObject(gn, "clusterSize", o->gn.cluster_size))
		goto out;
	s = cJSON_Print(root);
	if (s) {
		size_t n = strlen(s);
		char *t = realloc(s, n + 2);

		if (!t) {
			free(s);
			s = NULL;
			goto out;
		}
		s = t;
		s[n] = '\n';
		s[n + 1] = '\0';
	}
out:
	cJSON_Delete(root);
	return s;
}

static int deploy(const struct opts *o)
{
	const char *dns[BRK_MAX_URLS + 1], *ips[BRK_MAX_URLS + 1];
	struct pki_cert_req req = { .cn = "subagent broker", .dns = dns, .ips = ips,
				    .flags = PKI_F_SERVER };
	char hosts[BRK_MAX_URLS][256], admin[65], join[65], psk[65], err[BRK_ERR_MAX];
	char *ca = NULL, *ca_key = NULL, *tls = NULL, *tls_key = NULL, *cfg = NULL, *info = NULL;
	char *etcd[3] = { NULL, NULL, NULL };
	char *ike_ca = NULL, *ike_key = NULL;
	struct broker_info bi = { 0 };
	int ret, nonempty;

	nonempty = dir_nonempty(o->dir);
	if (nonempty < 0) {
		fprintf(stderr, PROG ": %s: %s\n", o->dir, strerror(-nonempty));
		return 1;
	}
	if (nonempty && !o->force) {
		fprintf(stderr, PROG ": %s exists and is not empty; use --force to overwrite its credentials\n",
			o->dir);
		return 1;
	}
	ret = util_mkdir_p(o->dir, 0700);
	if (ret) {
		fprintf(stderr, PROG ": create %s: %s\n", o->dir, strerror(-ret));
		return 1;
	}
	if (chmod(o->dir, 0700) < 0)
		fprintf(stderr, PROG ": warning: chmod 0700 %s: %s\n", o->dir, strerror(errno));

	/* SANs: every URL host, plus loopback so a local 'subagent broker' check works */
	ips[req.n_ips++] = "127.0.0.1";
	dns[req.n_dns++] = "localhost";
	for (size_t i = 0; i < o->n_urls; i++) {
		unsigned port;
		bool v6, dup = false;

		if (brk_url_parse(o->urls[i], hosts[i], sizeof(hosts[i]), &port))
			continue;	/* checked in parse_opts */
		if (is_ip_literal(hosts[i], &v6)) {
			for (size_t j = 0; j < req.n_ips; j++)
				dup |= !strcmp(ips[j], hosts[i]);
			if (!dup)
				ips[req.n_ips++] = hosts[i];
		} else {
			for (size_t j = 0; j < req.n_dns; j++)
				dup |= !strcasecmp(dns[j], hosts[i]);
			if (!dup)
				dns[req.n_dns++] = hosts[i];
		}
	}
	ret = pki_ca_create("subagent broker CA", &ca, &ca_key);
	if (ret) {
		fprintf(stderr, PROG ": create the CA: %s\n", strerror(-ret));
		goto out;
	}
	ret = pki_cert_issue(ca, ca_key, &req, &tls, &tls_key);
	if (ret) {
		fprintf(stderr, PROG ": issue the TLS certificate: %s\n", strerror(-ret));
		goto out;
	}
	ret = pki_subca_create(ca, ca_key, "subagent IKE signing CA", 0, &ike_ca, &ike_key);
	if (ret) {
		fprintf(stderr, PROG ": create the IKE signing CA: %s\n", strerror(-ret));
		goto out;
	}
	fprintf(progress, "✓ Created the broker CA (ECDSA P-256, valid %d years) and the IKE signing CA below it\n",
	       PKI_CA_DAYS / 365);
	fprintf(progress, "✓ Created the TLS certificate for");
	for (size_t i = 0; i < req.n_ips; i++)
		fprintf(progress, " %s", ips[i]);
	for (size_t i = 0; i < req.n_dns; i++)
		fprintf(progress, " %s", dns[i]);
	fprintf(progress, "\n");
	if ((ret = util_random_hex(admin, 32)) || (ret = util_random_hex(join, 32)) ||
	    (o->psk && (ret = util_random_hex(psk, 32)))) {
		fprintf(stderr, PROG ": random: %s\n", strerror(-ret));
		goto out;
	}
	bi.version = BROKER_INFO_VERSION;
	for (size_t i = 0; i < o->n_urls; i++)
		bi.urls[i] = o->urls[i];
	bi.n_urls = o->n_urls;
	bi.ca_pem = ca;
	bi.join_token = join;
	bi.psk = o->psk ? psk : NULL;
	strcpy(bi.ike.ike_proposals, BRK_DEFAULT_IKE_PROPOSALS);
	strcpy(bi.ike.esp_proposals, BRK_DEFAULT_ESP_PROPOSALS);
	bi.ike.natt_port = BRK_DEFAULT_NATT_PORT;
	bi.globalnet = o->gn;
	info = broker_info_encode(&bi, err);
	cfg = config_json(o);
	if (!info || !cfg) {
		fprintf(stderr, PROG ": broker-info: %s\n", info ? "out of memory" : err);
		ret = -EINVAL;
		goto out;
	}
	if ((ret = write_in(o->dir, "ca.pem", ca, 0644)) ||
	    (ret = write_in(o->dir, "ca-key.pem", ca_key, 0600)) ||
	    (ret = write_in(o->dir, "tls.pem", tls, 0644)) ||
	    (ret = write_in(o->dir, "tls-key.pem", tls_key, 0600)) ||
	    (ret = write_in(o->dir, "ike-ca.pem", ike_ca, 0644)) ||
	    (ret = write_in(o->dir, "ike-ca-key.pem", ike_key, 0600)) ||
	    (ret = write_in(o->dir, "admin.token", admin, 0600)) ||
	    (ret = write_in(o->dir, "join.token", join, 0600)) ||
	    (o->psk && (ret = write_in(o->dir, "psk", psk, 0600))) ||
	    (ret = write_in(o->dir, "config.json", cfg, 0644)) ||
	    (ret = write_in(o->dir, "broker-info.subm", info, 0600)) ||
	    (ret = copy_etcd_tls(o)))
		goto out;
	if (!o->psk) {
		char path[PATH_MAX];

		/* --force over an older directory: its shared key must not linger */
		snprintf(path, sizeof(path), "%s/psk", o->dir);
		if (unlink(path) == 0)
			fprintf(progress, "✓ Removed the old IKE pre-shared key\n");
	}
	fprintf(progress, "✓ Created the admin token and the join token%s\n",
	       o->psk ? ", and the IKE pre-shared key (--psk)" : "");
	fprintf(progress, "✓ Wrote %s (store: %s, globalnet: %s)\n", o->dir, o->store,
	       o->gn.enabled ? "on" : "off");
	if (o->k8s) {
		struct k8s_file files[10] = {
			{ "config.json", cfg }, { "tls.pem", tls }, { "tls-key.pem", tls_key },
			{ "admin.token", admin }, { "join.token", join }, { "ike-ca.pem", ike_ca },
			{ "ike-ca-key.pem", ike_key },
		};
		struct k8s_secret sec = {
			.name = K8S_BROKER_SECRET, .component = "broker",
			.comment = "subagent deploy-broker: what the broker reads from its directory; "
				   "it holds the admin and join tokens and the IKE signing CA's key",
			.files = files, .n_files = 7,
		};

		ret = etcd_tls_files(o, files + sec.n_files, etcd);
		if (!ret) {
			if (etcd[0])
				sec.n_files += 3;
			ret = k8s_secret_print(stdout, &sec);
		}
		if (ret) {
			fprintf(stderr, PROG ": print the Secret: %s\n", strerror(-ret));
			goto out;
		}
		fprintf(progress, "✓ Printed the Secret %s/%s for 'kubectl apply -f -'\n",
			K8S_NAMESPACE, K8S_BROKER_SECRET);
		fprintf(progress, "\nStart the broker:      kubectl apply -f deploy/kubernetes/broker-sqlite.yaml (or broker-etcd.yaml)\n");
	} else {
		fprintf(progress, "\nStart the broker:      subagent broker --dir %s\n", o->dir);
	}
	fprintf(progress, "Then, on each cluster: subagent join %s/broker-info.subm --clusterid ID ...\n",
	       o->dir);
	fprintf(progress, "broker-info.subm holds the join token%s: carry it like a password.\n",
	       o->psk ? " and the PSK" : "");
out:
	for (int i = 0; i < 3; i++)
		util_free_secret(etcd[i]);
	free(ca);
	util_free_secret(ca_key);
	free(tls);
	util_free_secret(tls_key);
	free(ike_ca);
	util_free_secret(ike_key);
	util_free_secret(info);
	free(cfg);
	explicit_bzero(admin, sizeof(admin));
	explicit_bzero(join, sizeof(join));
	explicit_bzero(psk, sizeof(psk));
	return ret ? 1 : 0;
}

int cmd_deploy_broker(int argc, char **argv)
{
	struct opts o = { 0 };
	int ret;

	ret = parse_opts(argc, argv, &o);
	progress = o.k8s ? stderr : stdout;
	if (ret == 0)
		ret = deploy(&o);
	else if (ret < 0)
		ret = 0;	/* --help */
	for (size_t i = 0; i < o.n_urls; i++)
		free(o.urls[i]);
	return ret;
}
