/* The process-wide metrics registry and its text rendering (see metrics.h). */
#include "common/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define MAX_COLLECTORS 16
#define MAX_NAME 128
#define MAX_VALUE 256		/* a label value longer than this is cut */

struct series {
	char *values[METRICS_MAX_LABELS];
	double value;		/* counter, gauge */
	uint64_t *buckets;	/* histogram: observations <= bounds[i] (not cumulative) */
	uint64_t count;
	double sum;
};

struct family {
	char *name, *help;
	enum metrics_type type;
	char *labels[METRICS_MAX_LABELS];
	unsigned nlabels;
	double bounds[METRICS_MAX_BUCKETS];
	unsigned nbounds;
	struct series *s;
	unsigned ns, cap;
	bool warned;		/* wrong label count: logged once */
};

struct collector {
	metrics_collect_fn fn;
	void *ctx;
};

static pthread_mutex_t mu;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct family *fams;
static unsigned nfams, capfams;
static struct collector colls[MAX_COLLECTORS];
static unsigned ncolls;

static void init_mutex(void)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&mu, &a);
	pthread_mutexattr_destroy(&a);
}

void metrics_lock(void)
{
	pthread_once(&once, init_mutex);
	pthread_mutex_lock(&mu);
}

void metrics_unlock(void)
{
	pthread_mutex_unlock(&mu);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels: no ':' and no leading "__". */
static bool name_ok(const char *s, bool label)
{
	size_t n = strlen(s);

	if (!n || n >= MAX_NAME || (label && !strncmp(s, "__", 2)))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (!label && c == ':');

		if (!alpha && !(i && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static struct family *find(const char *name)
{
	for (unsigned i = 0; i < nfams; i++)
		if (!strcmp(fams[i].name, name))
			return &fams[i];
	return NULL;
}

static void free_series(struct family *f, struct series *s)
{
	for (unsigned i = 0; i < f->nlabels; i++)
		free(s->values[i]);
	free(s->buckets);
}

static void free_family(struct family *f)
{
	for (unsigned i = 0; i < f->ns; i++)
		free_series(f, &f->s[i]);
	free(f->s);
	for (unsigned i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
}

/* Splits "a,b,c" into f->labels. */
static int split_labels(struct family *f, const char *labels)
{
	const char *p = labels;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *l;

		if (f->nlabels == METRICS_MAX_LABELS)
			return -EINVAL;
		l = strndup(p, n);
		if (!l)
			return -ENOMEM;
		f->labels[f->nlabels++] = l;
		if (!name_ok(l, true) || (f->type == METRICS_HISTOGRAM && !strcmp(l, "le")))
			return -EINVAL;
		for (unsigned i = 0; i + 1 < f->nlabels; i++)
			if (!strcmp(f->labels[i], l))
				return -EINVAL;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static bool same_shape(const struct family *a, const struct family *b)
{
	if (a->type != b->type || a->nlabels != b->nlabels || a->nbounds != b->nbounds)
		return false;
	for (unsigned i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i], b->labels[i]))
			return false;
	for (unsigned i = 0; i < a->nbounds; i++)
		if (a->bounds[i] != b->bounds[i])
			return false;
	return true;
}

static int define(const char *name, enum metrics_type type, const char *help, const char *labels,
		  const double *bounds, unsigned nbounds)
{
	struct family f = { .type = type }, *old;
	int err = -EINVAL;

	if (!name || !help || !name_ok(name, false) || strchr(help, '\n') ||
	    nbounds > METRICS_MAX_BUCKETS)
		return -EINVAL;
	for (unsigned i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return -EINVAL;
		f.bounds[i] = bounds[i];
	}
	f.nbounds = nbounds;
	err = split_labels(&f, labels);
	if (err)
		goto fail;
	metrics_lock();
	old = find(name);
	if (old) {
		err = same_shape(old, &f) ? 0 : -EEXIST;
		metrics_unlock();
		goto fail;
	}
	if (nfams == capfams) {
		unsigned cap = capfams ? capfams * 2 : 32;
		struct family *nf = realloc(fams, cap * sizeof(*nf));

		if (!nf) {
			metrics_unlock();
			err = -ENOMEM;
			goto fail;
		}
		fams = nf;
		capfams = cap;
	}
	f.name = strdup(name);
	f.help = strdup(help);
	if (!f.name || !f.help) {
		metrics_unlock();
		err = -ENOMEM;
		goto fail;
	}
	fams[nfams++] = f;
	metrics_unlock();
	return 0;
fail:
	free_family(&f);
	return err;
}

int metrics_define(const char *name, enum metrics_type type, const char *help,
		   const char *labels)
{
	if (type == METRICS_HISTOGRAM)
		return -EINVAL;
	return define(name, type, help, labels, NULL, 0);
}

int metrics_define_histogram(const char *name, const char *help, const char *labels,
			     const double *bounds, unsigned nbounds)
{
	return define(name, METRICS_HISTOGRAM, help, labels, bounds, nbounds);
}

/* The series of f for the label values in ap (created when create); NULL when the count
 * of values is wrong or memory is short. Called with the lock held. */
static struct series *lookup(struct family *f, va_list ap, bool create)
{
	const char *v[METRICS_MAX_LABELS + 1];
	unsigned n = 0;
	const char *x;
	struct series *s;

	while ((x = va_arg(ap, const char *)) != NULL) {
		if (n > METRICS_MAX_LABELS)
			break;
		v[n++] = x;
	}
	if (n != f->nlabels) {
		if (!f->warned)
			pr_warn("metrics: %s takes %u label value(s), got %u\n", f->name,
				f->nlabels, n);
		f->warned = true;
		return NULL;
	}
	for (unsigned i = 0; i < f->ns; i++) {
		unsigned j;

		for (j = 0; j < n && !strncmp(f->s[i].values[j], v[j], MAX_VALUE); j++)
			;
		if (j == n)
			return &f->s[i];
	}
	if (!create)
		return NULL;
	if (f->ns == f->cap) {
		unsigned cap = f->cap ? f->cap * 2 : 8;
		struct series *ns = realloc(f->s, cap * sizeof(*ns));

		if (!ns)
			return NULL;
		f->s = ns;
		f->cap = cap;
	}
	s = &f->s[f->ns];
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < n; i++) {
		s->values[i] = strndup(v[i], MAX_VALUE);
		if (!s->values[i])
			goto nomem;
	}
	if (f->type == METRICS_HISTOGRAM) {
		s->buckets = calloc(f->nbounds ? f->nbounds : 1, sizeof(*s->buckets));
		if (!s->buckets)
			goto nomem;
	}
	f->ns++;
	return s;
nomem:
	free_series(f, s);
	return NULL;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static void update(const char *name, enum op op, double v, va_list ap)
{
	struct family *f;
	struct series *s;

	metrics_lock();
	f = find(name);
	if (!f || (op == OP_OBSERVE) != (f->type == METRICS_HISTOGRAM))
		goto out;
	s = lookup(f, ap, true);
	if (!s)
		goto out;
	switch (op) {
	case OP_ADD:
		if (v > 0 || f->type == METRICS_GAUGE)
			s->value += v;
		break;
	case OP_SET:
		s->value = v;
		break;
	case OP_OBSERVE:
		for (unsigned i = 0; i < f->nbounds; i++)
			if (v <= f->bounds[i]) {
				s->buckets[i]++;
				break;
			}
		s->count++;
		s->sum += v;
		break;
	}
out:
	metrics_unlock();
}

void metrics_add_(const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	update(name, OP_ADD, v, ap);
	va_end(ap);
}

void metrics_set_(const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	update(name, OP_SET, v, ap);
	va_end(ap);
}

void metrics_observe_(const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	update(name, OP_OBSERVE, v, ap);
	va_end(ap);
}

double metrics_get_(const char *name, ...)
{
	struct family *f;
	struct series *s = NULL;
	double r = -1;
	va_list ap;

	va_start(ap, name);
	metrics_lock();
	f = find(name);
	if (f)
		s = lookup(f, ap, false);
	if (s)
		r = f->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
	metrics_unlock();
	va_end(ap);
	return r;
}

void metrics_clear(const char *name)
{
	struct family *f;

	metrics_lock();
	f = find(name);
	if (f) {
		for (unsigned i = 0; i < f->ns; i++)
			free_series(f, &f->s[i]);
		f->ns = 0;
	}
	metrics_unlock();
}

int metrics_add_collector(metrics_collect_fn fn, void *ctx)
{
	int err = 0;

	metrics_lock();
	for (unsigned i = 0; i < ncolls; i++)
		if (colls[i].fn == fn && colls[i].ctx == ctx)
			err = -EEXIST;
	if (!err && ncolls == MAX_COLLECTORS)
		err = -ENOSPC;
	if (!err)
		colls[ncolls++] = (struct collector){ fn, ctx };
	metrics_unlock();
	return err;
}

void metrics_remove_collector(metrics_collect_fn fn, void *ctx)
{
	metrics_lock();
	for (unsigned i = 0; i < ncolls; i++)
		if (colls[i].fn == fn && colls[i].ctx == ctx) {
			colls[i] = colls[--ncolls];
			break;
		}
	metrics_unlock();
}

/* ---- the text format ---- */

/* The shortest text that reads back as v; integers exactly. */
static void fmt_value(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, len, "%.0f", v);
	} else {
		for (int p = 1; p <= 17; p++) {
			snprintf(buf, len, "%.*g", p, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

static void put_value(FILE *f, double v)
{
	char buf[40];

	fmt_value(buf, sizeof(buf), v);
	fputs(buf, f);
}

/* Label values escape backslash, double quote and newline; HELP escapes backslash and
 * newline (help texts are checked to have none). */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quote)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void put_labels(FILE *f, const struct family *fa, const struct series *s,
		       const char *le)
{
	if (!fa->nlabels && !le)
		return;
	fputc('{', f);
	for (unsigned i = 0; i < fa->nlabels; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "", fa->labels[i]);
		put_escaped(f, s->values[i], true);
		fputc('"', f);
	}
	if (le)
		fprintf(f, "%sle=\"%s\"", fa->nlabels ? "," : "", le);
	fputc('}', f);
}

static void put_family(FILE *f, const struct family *fa)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	struct series zero = { 0 };
	unsigned ns = fa->ns;

	/* a family without labels has its one series from the start, at zero */
	if (!ns && fa->nlabels)
		return;
	fprintf(f, "# HELP %s ", fa->name);
	put_escaped(f, fa->help, false);
	fprintf(f, "\n# TYPE %s %s\n", fa->name, types[fa->type]);
	for (unsigned i = 0; i < (ns ? ns : 1); i++) {
		const struct series *s = ns ? &fa->s[i] : &zero;

		if (fa->type != METRICS_HISTOGRAM) {
			fputs(fa->name, f);
			put_labels(f, fa, s, NULL);
			fputc(' ', f);
			put_value(f, s->value);
			fputc('\n', f);
			continue;
		}
		uint64_t cum = 0;

		for (unsigned b = 0; b <= fa->nbounds; b++) {
			char le[40];

			if (b < fa->nbounds) {
				cum += s->buckets ? s->buckets[b] : 0;
				fmt_value(le, sizeof(le), fa->bounds[b]);
			} else {
				cum = s->count;
				snprintf(le, sizeof(le), "+Inf");
			}
			fprintf(f, "%s_bucket", fa->name);
			put_labels(f, fa, s, le);
			fprintf(f, " %llu\n", (unsigned long long)cum);
		}
		fprintf(f, "%s_sum", fa->name);
		put_labels(f, fa, s, NULL);
		fputc(' ', f);
		put_value(f, s->sum);
		fprintf(f, "\n%s_count", fa->name);
		put_labels(f, fa, s, NULL);
		fprintf(f, " %llu\n", (unsigned long long)s->count);
	}
}

char *metrics_render(size_t *len)
{
	struct collector c[MAX_COLLECTORS];
	unsigned n;
	char *buf = NULL;
	size_t sz = 0;
	FILE *f;

	metrics_lock();
	n = ncolls;
	memcpy(c, colls, sizeof(c[0]) * n);
	metrics_unlock();
	for (unsigned i = 0; i < n; i++)
		c[i].fn(c[i].ctx);

	f = open_memstream(&buf, &sz);
	if (!f)
		return NULL;
	metrics_lock();
	for (unsigned i = 0; i < nfams; i++)
		put_family(f, &fams[i]);
	metrics_unlock();
	if (fclose(f)) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	if (len)
		*len = sz;
	return buf;
}

void metrics_reset(void)
{
	metrics_lock();
	for (unsigned i = 0; i < nfams; i++)
		free_family(&fams[i]);
	free(fams);
	fams = NULL;
	nfams = capfams = 0;
	ncolls = 0;
	metrics_unlock();
}
