/*
 * test_metrics.c - lib/lasync_metrics.c: the Prometheus registry and its
 * text exposition format.
 *
 * The registry is process-wide, so every test uses its own family names
 * and looks only at that family's lines of the rendered text.  Children
 * render in hash order, so sample lines are compared sorted; HELP and TYPE
 * come first.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_mem.h"
#include "lasync_metrics.h"

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* belongs - is line one of family name's lines? */
static bool belongs(const char *line, const char *name)
{
	size_t n = strlen(name);
	const char *rest;

	if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0)
		line += 7;
	if (strncmp(line, name, n) != 0)
		return false;
	rest = line + n;
	if (strncmp(rest, "_bucket", 7) == 0)
		rest += 7;
	else if (strncmp(rest, "_sum", 4) == 0)
		rest += 4;
	else if (strncmp(rest, "_count", 6) == 0)
		rest += 6;
	return *rest == ' ' || *rest == '{';
}

/* family - the family's lines of a fresh render: HELP, TYPE, then the
 * samples sorted; the caller frees */
static char *family(const char *name)
{
	char *all = lasync_metrics_render(), *save = NULL;
	char **lines = NULL, *out;
	size_t n = 0, cap = 0, len = 1, o = 0, meta = 0;

	for (char *l = strtok_r(all, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!belongs(l, name))
			continue;
		lasync_grow(&lines, &cap, n + 1);
		lines[n++] = l;
		if (l[0] == '#')
			meta++;
		len += strlen(l) + 1;
	}
	if (n > meta)
		qsort(lines + meta, n - meta, sizeof(*lines), cmp_line);
	out = lasync_xmalloc(len);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(lines[i]);

		memcpy(out + o, lines[i], l);
		o += l;
		out[o++] = '\n';
		out[o] = '\0';
	}
	free(lines);
	free(all);
	return out;
}

static void expect_family(const char *name, const char *want)
{
	char *got = family(name);

	if (strcmp(got, want) != 0) {
		print_error("%s:\ngot:\n%s\nwant:\n%s\n", name, got, want);
		free(got);
		fail();
	}
	free(got);
}

static void test_counter_without_labels(void **state)
{
	lasync_metric *m = lasync_metric_counter("t_plain_total",
						 "A plain counter", NULL);

	(void)state;
	/* an unlabelled family shows 0 before its first event */
	expect_family("t_plain_total", "# HELP t_plain_total A plain counter\n"
				       "# TYPE t_plain_total counter\n"
				       "t_plain_total 0\n");
	lasync_metric_add(m, 2);
	lasync_metric_add(m, 0.5);
	expect_family("t_plain_total", "# HELP t_plain_total A plain counter\n"
				       "# TYPE t_plain_total counter\n"
				       "t_plain_total 2.5\n");
	assert_true(lasync_metric_get(m) == 2.5);
}

static void test_counter_with_labels(void **state)
{
	lasync_metric *m = lasync_metric_counter(
		"t_ops_total", "Portal operations", "type,outcome");

	(void)state;
	/* a labelled family without children has only HELP and TYPE */
	expect_family("t_ops_total", "# HELP t_ops_total Portal operations\n"
				     "# TYPE t_ops_total counter\n");
	lasync_metric_add(m, 1, "create", "ok");
	lasync_metric_add(m, 1, "create", "ok");
	lasync_metric_add(m, 3, "patch", "fail");
	lasync_metric_add(m, 1, "create", "fail");
	expect_family("t_ops_total",
		      "# HELP t_ops_total Portal operations\n"
		      "# TYPE t_ops_total counter\n"
		      "t_ops_total{type=\"create\",outcome=\"fail\"} 1\n"
		      "t_ops_total{type=\"create\",outcome=\"ok\"} 2\n"
		      "t_ops_total{type=\"patch\",outcome=\"fail\"} 3\n");
	assert_true(lasync_metric_get(m, "create", "ok") == 2);
	assert_true(lasync_metric_get(m, "patch", "ok") == 0);
}

static void test_gauge(void **state)
{
	lasync_metric *m = lasync_metric_gauge("t_lag", "Lag", "group");

	(void)state;
	lasync_metric_set(m, 10, "mapper");
	lasync_metric_set(m, 7, "mapper");
	lasync_metric_set(m, -2, "applier");
	lasync_metric_add(m, 1, "applier");
	expect_family("t_lag", "# HELP t_lag Lag\n"
			       "# TYPE t_lag gauge\n"
			       "t_lag{group=\"applier\"} -1\n"
			       "t_lag{group=\"mapper\"} 7\n");
}

/* label values are escaped: backslash, double quote and newline */
static void test_label_escaping(void **state)
{
	static const struct {
		const char *name, *value, *want;
	} cases[] = {
		{"quote", "say \"hi\"", "t_esc_total{v=\"say \\\"hi\\\"\"} 1\n"},
		{"backslash", "C:\\tmp", "t_esc_total{v=\"C:\\\\tmp\"} 1\n"},
		{"newline", "a\nb", "t_esc_total{v=\"a\\nb\"} 1\n"},
		{"all", "\\\"\n", "t_esc_total{v=\"\\\\\\\"\\n\"} 1\n"},
		{"utf8_verbatim", "\xc3\xa9", "t_esc_total{v=\"\xc3\xa9\"} 1\n"},
		{"null_is_empty", NULL, "t_esc_total{v=\"\"} 1\n"},
	};
	char name[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[256];
		lasync_metric *m;

		/* one family per row; the sample line names it */
		snprintf(name, sizeof(name), "t_esc%zu_total", i);
		m = lasync_metric_counter(name, "Escaping", "v");
		lasync_metric_add(m, 1, cases[i].value);
		snprintf(want, sizeof(want),
			 "# HELP %s Escaping\n# TYPE %s counter\n%s%s", name,
			 name, name, cases[i].want + strlen("t_esc_total"));
		char *got = family(name);

		if (strcmp(got, want) != 0) {
			print_error("%s: got\n%s\nwant\n%s\n", cases[i].name,
				    got, want);
			free(got);
			fail();
		}
		free(got);
	}
}

static void test_histogram(void **state)
{
	static const double buckets[] = {0.5, 1, 10};
	lasync_metric *m = lasync_metric_histogram(
		"t_seconds", "Durations", "stage", buckets, 3);
	lasync_metric *plain = lasync_metric_histogram(
		"t_plain_seconds", "Plain", NULL, buckets, 3);

	(void)state;
	/* 1 sits on a bound: le is "less than or equal" */
	lasync_metric_observe(m, 0.25, "map");
	lasync_metric_observe(m, 0.5, "map");
	lasync_metric_observe(m, 1, "map");
	lasync_metric_observe(m, 4, "map");
	lasync_metric_observe(m, 64, "map");
	lasync_metric_observe(m, 2, "apply");
	lasync_metric_observe(plain, 0.75);
	expect_family("t_seconds",
		      "# HELP t_seconds Durations\n"
		      "# TYPE t_seconds histogram\n"
		      "t_seconds_bucket{stage=\"apply\",le=\"+Inf\"} 1\n"
		      "t_seconds_bucket{stage=\"apply\",le=\"0.5\"} 0\n"
		      "t_seconds_bucket{stage=\"apply\",le=\"1\"} 0\n"
		      "t_seconds_bucket{stage=\"apply\",le=\"10\"} 1\n"
		      "t_seconds_bucket{stage=\"map\",le=\"+Inf\"} 5\n"
		      "t_seconds_bucket{stage=\"map\",le=\"0.5\"} 2\n"
		      "t_seconds_bucket{stage=\"map\",le=\"1\"} 3\n"
		      "t_seconds_bucket{stage=\"map\",le=\"10\"} 4\n"
		      "t_seconds_count{stage=\"apply\"} 1\n"
		      "t_seconds_count{stage=\"map\"} 5\n"
		      "t_seconds_sum{stage=\"apply\"} 2\n"
		      "t_seconds_sum{stage=\"map\"} 69.75\n");
	expect_family("t_plain_seconds",
		      "# HELP t_plain_seconds Plain\n"
		      "# TYPE t_plain_seconds histogram\n"
		      "t_plain_seconds_bucket{le=\"+Inf\"} 1\n"
		      "t_plain_seconds_bucket{le=\"0.5\"} 0\n"
		      "t_plain_seconds_bucket{le=\"1\"} 1\n"
		      "t_plain_seconds_bucket{le=\"10\"} 1\n"
		      "t_plain_seconds_count 1\n"
		      "t_plain_seconds_sum 0.75\n");
	/* get on a histogram child is its count */
	assert_true(lasync_metric_get(m, "map") == 5);
}

/* buckets render in ascending order within a child, each line's count
 * at least the one before (cumulative), +Inf last and equal to _count */
static void test_histogram_cumulative_order(void **state)
{
	static const double buckets[] = {0.005, 0.05, 0.5, 5, 50};
	lasync_metric *m = lasync_metric_histogram("t_order_seconds", "Order",
						   NULL, buckets, 5);
	char *all, *p;
	unsigned long long last = 0, v;
	size_t seen = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		lasync_metric_observe(m, (double)i * 0.7);
	all = lasync_metrics_render();
	p = strstr(all, "t_order_seconds_bucket");
	assert_non_null(p);
	for (; p != NULL && strncmp(p, "t_order_seconds_bucket", 22) == 0;
	     seen++) {
		char *sp = strchr(p, ' ');

		v = strtoull(sp + 1, NULL, 10);
		if (v < last) {
			print_error("bucket line %zu: got %llu after %llu, "
				    "want cumulative counts\n",
				    seen, v, last);
			fail();
		}
		last = v;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	assert_int_equal(seen, 6);
	assert_int_equal(last, 100);
	assert_non_null(strstr(all, "t_order_seconds_bucket{le=\"+Inf\"} 100\n"
				    "t_order_seconds_sum"));
	assert_non_null(strstr(all, "t_order_seconds_count 100\n"));
	free(all);
}

/* thousands of children (per-tenant gauges) survive the hash growing */
static void test_many_children(void **state)
{
	enum { N = 3000 };
	lasync_metric *m = lasync_metric_gauge("t_tenants", "Per tenant",
					       "tenant,topic");
	char t[32], *all;
	size_t lines = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(t, sizeof(t), "tenant-%d", i);
		lasync_metric_set(m, i, t, "x");
	}
	for (int i = 0; i < N; i += 7) {
		snprintf(t, sizeof(t), "tenant-%d", i);
		lasync_metric_add(m, 0.5, t, "x");
	}
	for (int i = 0; i < N; i++) {
		double want = i + (i % 7 == 0 ? 0.5 : 0);

		snprintf(t, sizeof(t), "tenant-%d", i);
		if (lasync_metric_get(m, t, "x") != want) {
			print_error("%s: got %g, want %g\n", t,
				    lasync_metric_get(m, t, "x"), want);
			fail();
		}
	}
	all = lasync_metrics_render();
	for (char *p = all; (p = strstr(p, "\nt_tenants{")) != NULL; p++)
		lines++;
	assert_int_equal(lines, N);
	assert_non_null(strstr(all, "t_tenants{tenant=\"tenant-2999\","
				    "topic=\"x\"} 2999\n"));
	free(all);
}

/* remove drops a child from the output; a child that comes back starts
 * from nothing (a tenant that went away and returned) */
static void test_remove(void **state)
{
	static const double buckets[] = {1};
	lasync_metric *c = lasync_metric_counter("t_rm_total", "Removed",
						 "tenant");
	lasync_metric *g = lasync_metric_gauge("t_rm_gauge", "Removed gauge",
					       "tenant");
	lasync_metric *h = lasync_metric_histogram("t_rm_seconds", "Removed h",
						   "tenant", buckets, 1);

	(void)state;
	lasync_metric_add(c, 5, "a");
	lasync_metric_add(c, 1, "b");
	lasync_metric_set(g, 9, "a");
	lasync_metric_observe(h, 0.5, "a");
	lasync_metric_remove(c, "a");
	lasync_metric_remove(c, "never-there");
	lasync_metric_remove(g, "a");
	lasync_metric_remove(h, "a");
	expect_family("t_rm_total", "# HELP t_rm_total Removed\n"
				    "# TYPE t_rm_total counter\n"
				    "t_rm_total{tenant=\"b\"} 1\n");
	expect_family("t_rm_gauge", "# HELP t_rm_gauge Removed gauge\n"
				    "# TYPE t_rm_gauge gauge\n");
	expect_family("t_rm_seconds", "# HELP t_rm_seconds Removed h\n"
				      "# TYPE t_rm_seconds histogram\n");
	assert_true(lasync_metric_get(c, "a") == 0);

	lasync_metric_add(c, 1, "a");
	lasync_metric_observe(h, 2, "a");
	if (lasync_metric_get(c, "a") != 1) {
		print_error("re-added counter: got %g, want 1\n",
			    lasync_metric_get(c, "a"));
		fail();
	}
	expect_family("t_rm_total", "# HELP t_rm_total Removed\n"
				    "# TYPE t_rm_total counter\n"
				    "t_rm_total{tenant=\"a\"} 1\n"
				    "t_rm_total{tenant=\"b\"} 1\n");
	expect_family("t_rm_seconds", "# HELP t_rm_seconds Removed h\n"
				      "# TYPE t_rm_seconds histogram\n"
				      "t_rm_seconds_bucket{tenant=\"a\",le=\"+Inf\"} 1\n"
				      "t_rm_seconds_bucket{tenant=\"a\",le=\"1\"} 0\n"
				      "t_rm_seconds_count{tenant=\"a\"} 1\n"
				      "t_rm_seconds_sum{tenant=\"a\"} 2\n");
	/* remove and re-add many times: the table does not fill up */
	for (int i = 0; i < 2000; i++) {
		lasync_metric_add(c, 1, "churn");
		lasync_metric_remove(c, "churn");
	}
	assert_true(lasync_metric_get(c, "churn") == 0);
}

/* updates from several threads are all counted */
static lasync_metric *m_threads;

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++)
		lasync_metric_add(m_threads, 1, (i & 1) ? "odd" : "even");
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	char *all;

	(void)state;
	m_threads = lasync_metric_counter("t_threads_total", "Threads", "k");
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, adder, NULL);
	for (int i = 0; i < 20; i++) {
		all = lasync_metrics_render();	/* renders while adding */
		free(all);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(lasync_metric_get(m_threads, "odd") == 40000);
	assert_true(lasync_metric_get(m_threads, "even") == 40000);
}

/* sample - the value of one line of a family, from a fresh render */
static double sample(const char *name, const char *line_start)
{
	char *fam = family(name), *l = fam;
	double v = -1;

	/* a sample line, not the HELP line that names the family too */
	while ((l = strchr(l, '\n')) != NULL &&
	       strncmp(++l, line_start, strlen(line_start)) != 0)
		;
	if (l != NULL)
		v = strtod(l + strlen(line_start), NULL);
	free(fam);
	return v;
}

/* glibc's own allocator, so the heap gauge is seen to move also in the
 * AddressSanitizer build, whose malloc is not glibc's */
extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);

/* every render samples the process's RSS and malloc's heap */
static void test_process_memory(void **state)
{
	const char *in_use = "lasync_heap_bytes{state=\"in_use\"} ";
	const char *rss = "process_resident_memory_bytes ";
	enum { N = 4096, SZ = 1024, BIG = 32 << 20 };
	static void *blocks[N];
	double h0, h1, h2, r0, r1;
	char *big;

	(void)state;
	h0 = sample("lasync_heap_bytes", in_use);
	r0 = sample("process_resident_memory_bytes", rss);
	assert_true(h0 >= 0 && r0 > 0);
	assert_true(sample("lasync_heap_bytes",
			   "lasync_heap_bytes{state=\"free\"} ") >= 0);
	assert_true(sample("lasync_heap_bytes",
			   "lasync_heap_bytes{state=\"mmapped\"} ") >= 0);
	for (int i = 0; i < N; i++) {
		blocks[i] = __libc_malloc(SZ);
		assert_non_null(blocks[i]);
		memset(blocks[i], 1, SZ);
	}
	big = malloc(BIG);
	assert_non_null(big);
	memset(big, 1, BIG);
	h1 = sample("lasync_heap_bytes", in_use);
	r1 = sample("process_resident_memory_bytes", rss);
	assert_true(h1 - h0 >= (double)N * SZ);
	assert_true(r1 - r0 >= (double)BIG * 0.9);
	for (int i = 0; i < N; i++)
		__libc_free(blocks[i]);
	free(big);
	h2 = sample("lasync_heap_bytes", in_use);
	assert_true(h1 - h2 >= (double)N * SZ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_without_labels),
		cmocka_unit_test(test_counter_with_labels),
		cmocka_unit_test(test_gauge),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_histogram_cumulative_order),
		cmocka_unit_test(test_many_children),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_process_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
