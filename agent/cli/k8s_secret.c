/* `--output kubernetes`: files as a v1 Secret in YAML (join, deploy-broker). The values go
 * in `data` as base64, the bytes `kubectl create secret generic --from-file` would store;
 * every string written is a plain YAML scalar that needs no quoting (names, DNS labels,
 * base64). */
#include "agent/cli/k8s_secret.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

static bool key_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;

	/* the API server's rule for Secret and ConfigMap keys */
	return n > 0 && n <= 253 && strcmp(k, ".") && strcmp(k, "..") &&
	       strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == n;
}

static void wipe(gnutls_datum_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i].data) {
			explicit_bzero(d[i].data, d[i].size);
			gnutls_free(d[i].data);
		}
	}
	free(d);
}

int k8s_secret_print(FILE *f, const struct k8s_secret *s)
{
	gnutls_datum_t *enc = calloc(s->n_files ? s->n_files : 1, sizeof(*enc));
	int rc = 0;

	if (!enc)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_files; i++) {
		gnutls_datum_t in = { .data = (unsigned char *)s->files[i].data,
				      .size = (unsigned)strlen(s->files[i].data) };

		if (!key_ok(s->files[i].key)) {
			rc = -EINVAL;
			goto out;
		}
		if (gnutls_base64_encode2(&in, &enc[i]) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (s->comment)
		fprintf(f, "# %s\n", s->comment);
	fprintf(f, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n"
		"  labels:\n    app.kubernetes.io/name: subagent\n"
		"    app.kubernetes.io/component: %s\n    app.kubernetes.io/part-of: subagent\n",
		s->name, K8S_NAMESPACE, s->component);
	if (s->cluster)
		fprintf(f, "    subagent.io/cluster: %s\n", s->cluster);
	fprintf(f, "type: Opaque\ndata:\n");
	for (size_t i = 0; i < s->n_files; i++)
		fprintf(f, "  %s: %.*s\n", s->files[i].key, (int)enc[i].size, (const char *)enc[i].data);
	if (fflush(f) || ferror(f))
		rc = -EIO;
out:
	wipe(enc, s->n_files);
	return rc;
}
