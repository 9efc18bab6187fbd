/* `--output kubernetes`: a set of files as a v1 Secret in YAML, for `kubectl apply -f -`,
 * named and placed the way the manifests of deploy/kubernetes mount it. */
#ifndef SA_K8S_SECRET_H
#define SA_K8S_SECRET_H

#include <stddef.h>
#include <stdio.h>

/* What the manifests expect (deploy/kubernetes: namespace.yaml, agent.yaml, dns.yaml,
 * broker-sqlite.yaml, broker-etcd.yaml; tests/deploy/test_k8s_output.sh checks that
 * they agree). */
#define K8S_NAMESPACE		"subagent-system"
#define K8S_CLUSTER_SECRET	"subagent-cluster"
#define K8S_BROKER_SECRET	"subagent-broker"

struct k8s_file {
	const char *key;	/* the file's name: [-._a-zA-Z0-9]+ */
	const char *data;	/* its content (a C string) */
};

struct k8s_secret {
	const char *name;
	const char *component;	/* the label app.kubernetes.io/component */
	const char *cluster;	/* the label subagent.io/cluster, or NULL */
	const char *comment;	/* '#' lines first (one line, no newline), or NULL */
	const struct k8s_file *files;
	size_t n_files;
};

/* Writes the Secret (namespace K8S_NAMESPACE, type Opaque, every file base64 in `data`) to
 * f and flushes it. Nothing is written when a key is not a valid Secret key or encoding
 * fails. 0, -EINVAL, -ENOMEM or -EIO. */
int k8s_secret_print(FILE *f, const struct k8s_secret *s) __attribute__((warn_unused_result));

#endif
