/*
 * lasync_metrics.c - Prometheus registry (see lasync_metrics.h).
 *
 * Children of a family live in an open-addressing hash keyed by the joined
 * label values, so a per-tenant gauge over thousands of tenants stays cheap.
 * One mutex guards the registry: updates are a few hundred per second at
 * most, and rendering is rare.
 */
#include "lasync_metrics.h"

#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lasync_log.h"
#include "lasync_mem.h"

#define MAX_LABELS 4

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype;

typedef struct child {
	char *key;		/* label values joined by '\x1f' */
	char *values[MAX_LABELS];
	double value;		/* counter/gauge; histogram sum */
	unsigned long long count;
	unsigned long long *buckets;
	int live;
} child;

struct lasync_metric {
	char *name, *help;
	mtype type;
	size_t n_labels;
	char *labels[MAX_LABELS];
	double *bounds;
	size_t n_bounds;
	child *slots;
	size_t cap, used;
	struct lasync_metric *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static lasync_metric *reg_head, *reg_tail;

static lasync_metric *family_new(const char *name, const char *help,
				 const char *labels, mtype type)
{
	lasync_metric *m = lasync_xcalloc(1, sizeof(*m));

	m->name = lasync_xstrdup(name);
	m->help = lasync_xstrdup(help);
	m->type = type;
	if (labels != NULL && *labels) {
		const char *p = labels;

		while (*p) {
			const char *c = strchr(p, ',');
			size_t n = c ? (size_t)(c - p) : strlen(p);

			if (m->n_labels == MAX_LABELS)
				lasync_panic("metric_labels", "name=%s", name);
			m->labels[m->n_labels++] = lasync_xstrndup(p, n);
			p += n + (c != NULL);
		}
	}
	m->cap = 16;
	m->slots = lasync_xcalloc(m->cap, sizeof(child));
	pthread_mutex_lock(&reg_lock);
	if (reg_tail)
		reg_tail->next = m;
	else
		reg_head = m;
	reg_tail = m;
	pthread_mutex_unlock(&reg_lock);
	return m;
}

lasync_metric *lasync_metric_counter(const char *name, const char *help,
				     const char *labels)
{
	return family_new(name, help, labels, M_COUNTER);
}

lasync_metric *lasync_metric_gauge(const char *name, const char *help,
				   const char *labels)
{
	return family_new(name, help, labels, M_GAUGE);
}

lasync_metric *lasync_metric_histogram(const char *name, const char *help,
				       const char *labels,
				       const double *buckets, size_t n)
{
	lasync_metric *m = family_new(name, help, labels, M_HISTOGRAM);

	m->bounds = lasync_xcalloc(n, sizeof(double));
	memcpy(m->bounds, buckets, n * sizeof(double));
	m->n_bounds = n;
	return m;
}

static size_t hash_str(const char *s)
{
	size_t h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* child_key - join the label values; NULL values become "" */
static char *child_key(lasync_metric *m, va_list ap, const char **vals)
{
	size_t len = 1;

	for (size_t i = 0; i < m->n_labels; i++) {
		vals[i] = va_arg(ap, const char *);
		if (vals[i] == NULL)
			vals[i] = "";
		len += strlen(vals[i]) + 1;
	}
	char *k = lasync_xmalloc(len), *o = k;

	for (size_t i = 0; i < m->n_labels; i++) {
		size_t l = strlen(vals[i]);

		memcpy(o, vals[i], l);
		o += l;
		*o++ = '\x1f';
	}
	*o = '\0';
	return k;
}

static void rehash(lasync_metric *m)
{
	child *old = m->slots;
	size_t oc = m->cap;

	m->cap *= 2;
	m->slots = lasync_xcalloc(m->cap, sizeof(child));
	for (size_t i = 0; i < oc; i++) {
		if (old[i].key == NULL)
			continue;
		size_t j = hash_str(old[i].key) & (m->cap - 1);

		while (m->slots[j].key != NULL)
			j = (j + 1) & (m->cap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

/* child_get - find or create the child; call with reg_lock held */
static child *child_get(lasync_metric *m, va_list ap, bool create)
{
	const char *vals[MAX_LABELS];
	char *key = child_key(m, ap, vals);
	size_t j = hash_str(key) & (m->cap - 1);

	while (m->slots[j].key != NULL) {
		if (strcmp(m->slots[j].key, key) == 0) {
			free(key);
			return &m->slots[j];
		}
		j = (j + 1) & (m->cap - 1);
	}
	if (!create) {
		free(key);
		return NULL;
	}
	if ((m->used + 1) * 2 > m->cap) {
		rehash(m);
		j = hash_str(key) & (m->cap - 1);
		while (m->slots[j].key != NULL)
			j = (j + 1) & (m->cap - 1);
	}
	child *c = &m->slots[j];

	c->key = key;
	for (size_t i = 0; i < m->n_labels; i++)
		c->values[i] = lasync_xstrdup(vals[i]);
	if (m->type == M_HISTOGRAM)
		c->buckets = lasync_xcalloc(m->n_bounds + 1,
					    sizeof(*c->buckets));
	c->live = 1;
	m->used++;
	return c;
}

void lasync_metric_add(lasync_metric *m, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	pthread_mutex_lock(&reg_lock);
	child *c = child_get(m, ap, true);

	c->value += v;
	c->live = 1;
	pthread_mutex_unlock(&reg_lock);
	va_end(ap);
}

void lasync_metric_set(lasync_metric *m, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	pthread_mutex_lock(&reg_lock);
	child *c = child_get(m, ap, true);

	c->value = v;
	c->live = 1;
	pthread_mutex_unlock(&reg_lock);
	va_end(ap);
}

void lasync_metric_observe(lasync_metric *m, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	pthread_mutex_lock(&reg_lock);
	child *c = child_get(m, ap, true);

	c->value += v;
	c->count++;
	for (size_t i = 0; i < m->n_bounds; i++)
		if (v <= m->bounds[i])
			c->buckets[i]++;
	c->live = 1;
	pthread_mutex_unlock(&reg_lock);
	va_end(ap);
}

double lasync_metric_get(lasync_metric *m, ...)
{
	va_list ap;
	double v = 0;

	va_start(ap, m);
	pthread_mutex_lock(&reg_lock);
	child *c = child_get(m, ap, false);

	if (c != NULL && c->live)
		v = m->type == M_HISTOGRAM ? (double)c->count : c->value;
	pthread_mutex_unlock(&reg_lock);
	va_end(ap);
	return v;
}

void lasync_metric_remove(lasync_metric *m, ...)
{
	va_list ap;

	va_start(ap, m);
	pthread_mutex_lock(&reg_lock);
	child *c = child_get(m, ap, false);

	/* Tombstone: keep the slot so probing stays correct, but forget the
	 * values, so a child that comes back starts from nothing. */
	if (c != NULL) {
		c->live = 0;
		c->value = 0;
		c->count = 0;
		if (c->buckets != NULL)
			memset(c->buckets, 0,
			       (m->n_bounds + 1) * sizeof(*c->buckets));
	}
	pthread_mutex_unlock(&reg_lock);
	va_end(ap);
}

/* A growing output buffer for rendering. */
typedef struct obuf {
	char *p;
	size_t len, cap;
} obuf;

static void oprintf(obuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void oprintf(obuf *b, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);

		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = lasync_xrealloc(b->p, b->cap);
	}
}

/* label_block - {a="x",b="y"[,le="..."]} with values escaped */
static void label_block(obuf *b, const lasync_metric *m, const child *c,
			const char *le)
{
	if (m->n_labels == 0 && le == NULL)
		return;
	oprintf(b, "{");
	for (size_t i = 0; i < m->n_labels; i++) {
		oprintf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
		for (const char *s = c->values[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				oprintf(b, "\\%c", *s);
			else if (*s == '\n')
				oprintf(b, "\\n");
			else
				oprintf(b, "%c", *s);
		}
		oprintf(b, "\"");
	}
	if (le != NULL)
		oprintf(b, "%sle=\"%s\"", m->n_labels ? "," : "", le);
	oprintf(b, "}");
}

static const char *type_name(mtype t)
{
	return t == M_COUNTER ? "counter" : t == M_GAUGE ? "gauge" : "histogram";
}

/* --- the process's own memory, sampled at each render ------------------ */

static pthread_once_t proc_once = PTHREAD_ONCE_INIT;
static lasync_metric *m_rss, *m_heap;

static void proc_init(void)
{
	m_rss = lasync_metric_gauge("process_resident_memory_bytes",
				    "Resident memory size in bytes", NULL);
	m_heap = lasync_metric_gauge(
		"lasync_heap_bytes",
		"malloc's heap, all arenas: in_use by live blocks, free inside "
		"the heap (fragmentation and reserve), mmapped as large blocks",
		"state");
}

/* proc_sample - RSS from /proc/self/statm and malloc's own counts, so a
 * daemon's memory can be told apart: live data, a fragmented heap, or
 * what is outside malloc (libraries, stacks, mapped files) */
static void proc_sample(void)
{
	long pages = 0, resident = 0;
	FILE *f;

	pthread_once(&proc_once, proc_init);
	f = fopen("/proc/self/statm", "r");
	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &resident) == 2)
			lasync_metric_set(m_rss,
					  (double)resident *
						  (double)sysconf(_SC_PAGESIZE));
		fclose(f);
	}
	struct mallinfo2 mi = mallinfo2();

	lasync_metric_set(m_heap, (double)mi.uordblks, "in_use");
	lasync_metric_set(m_heap, (double)mi.fordblks, "free");
	lasync_metric_set(m_heap, (double)mi.hblkhd, "mmapped");
}

char *lasync_metrics_render(void)
{
	obuf b = {lasync_xmalloc(4096), 0, 4096};

	proc_sample();

	b.p[0] = '\0';
	pthread_mutex_lock(&reg_lock);
	for (lasync_metric *m = reg_head; m != NULL; m = m->next) {
		oprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
			m->name, type_name(m->type));
		if (m->n_labels == 0 && m->used == 0 && m->type != M_HISTOGRAM)
			oprintf(&b, "%s 0\n", m->name);
		for (size_t i = 0; i < m->cap; i++) {
			const child *c = &m->slots[i];

			if (c->key == NULL || !c->live)
				continue;
			if (m->type != M_HISTOGRAM) {
				oprintf(&b, "%s", m->name);
				label_block(&b, m, c, NULL);
				oprintf(&b, " %.17g\n", c->value);
				continue;
			}
			for (size_t k = 0; k <= m->n_bounds; k++) {
				char le[32];
				unsigned long long cnt =
					k < m->n_bounds ? c->buckets[k]
							: c->count;

				if (k < m->n_bounds)
					snprintf(le, sizeof(le), "%g",
						 m->bounds[k]);
				else
					snprintf(le, sizeof(le), "+Inf");
				oprintf(&b, "%s_bucket", m->name);
				label_block(&b, m, c, le);
				oprintf(&b, " %llu\n", cnt);
			}
			oprintf(&b, "%s_sum", m->name);
			label_block(&b, m, c, NULL);
			oprintf(&b, " %.17g\n%s_count", c->value, m->name);
			label_block(&b, m, c, NULL);
			oprintf(&b, " %llu\n", c->count);
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return b.p;
}
