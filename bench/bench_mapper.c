/*
 * bench_mapper.c - the mapper's CPU work against the bare libxml2 reader.
 *
 *   bench_mapper [--reps R] [--min-seconds S]
 *                [--only bare|full|job|parse|sax]
 *                [--dump DIR]
 *                NAME=VENDOR:DIR:SYNC_DATE[:EXPECTED_DIR:EXPECTED_DATE] ...
 *
 * For every case, R rounds; each round times, back to back on the same
 * bytes already in memory:
 *   bare   xmlReaderForMemory with the options lasync_xml used when it
 *          was built on the reader, and xmlTextReaderRead over every node
 *          of every document: the yardstick;
 *   sax    libxml2's push parser in lasync_xml's 64 KiB chunks with SAX2
 *          callbacks that only count - the way lasync_xml reads now, so
 *          the limit of lasync's own parsing (reported beside, not the
 *          target's yardstick);
 *   full   what mapper_start does between decoding the snapshot and
 *          producing: the vendor adapter (parse + normalise into the
 *          model), the school rules (desired state) and the diff against
 *          the expected state (operations and the next expected state);
 *   job    full plus the expected state's round trip through Redis'
 *          representation (zstd + PortalState decode before, encode +
 *          zstd after), i.e. all CPU work of one snapshot.
 * Each timing repeats the work until S seconds have passed and divides.
 * Without EXPECTED_DIR the diff is a reconcile (a first import); with it,
 * the expected state is the desired state of EXPECTED_DIR on
 * EXPECTED_DATE (steady state when it is DIR itself).
 *
 * --only runs one workload once per case (for perf), without rounds;
 * --dump DIR writes each case's next expected state and operations to
 * DIR/<case>.out and measures nothing (to check a tuning changed no byte).
 *
 * Output: one key=value line per case and round, then one summary line
 * per case with the median and min..max of the rounds.  Counts only, no
 * personal data.  The process exits 1 when a case cannot be mapped.
 */
#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "lasync_event.h"
#include "lasync_state.h"
#include "lasync_tenant.h"
#include "mapper_adapter.h"
#include "mapper_diff.h"
#include "mapper_rules.h"

#define MAX_DOCS 4
#define MAX_ROUNDS 64

typedef struct docset {
	mapper_doc docs[MAX_DOCS];
	char *bufs[MAX_DOCS];
	size_t n, bytes;
} docset;

typedef struct bcase {
	char *spec;		/* owned copy, split in place */
	const char *name, *vendor_name, *dir, *date, *exp_dir, *exp_date;
	const mapper_adapter *ad;
	docset docs;
	lasync_state *expected;	/* NULL: reconcile */
	uint8_t *exp_blob;	/* expected, as the mapper keeps it in Redis */
	size_t exp_blob_len;
	char brin[8], dep[4];
	/* what one run produced */
	size_t records, ops, students, guardians, staff, groups;
	/* seconds spent per stage, summed over the runs of one timing */
	double t_parse, t_rules, t_diff, t_state;
} bcase;

static double min_seconds = 1.0;
static int only = -1;		/* --only: one workload, for profiling */
static const char *dump_dir;	/* --dump: write what one run produced */
/* the bare reader's options: lasync_xml's; --noblanks adds dropping
 * whitespace-only text */
static int bare_options = XML_PARSE_NONET | XML_PARSE_NOCDATA |
			  XML_PARSE_COMPACT | XML_PARSE_BIG_LINES;

/* school_ids - BRIN and dependance from the fixture directory name:
 * parnassys/<BRIN>, esis/<BRIN><dependance> */
static int school_ids(bcase *c)
{
	const char *base = strrchr(c->dir, '/');
	size_t n;

	base = base ? base + 1 : c->dir;
	n = strlen(base);
	if (n != 4 && n != 6)
		return -1;
	memcpy(c->brin, base, 4);
	c->brin[4] = '\0';
	snprintf(c->dep, sizeof(c->dep), "%s", n == 6 ? base + 4 : "00");
	return 0;
}

/* load_docs - the adapter's documents from a fixture directory */
static int load_docs(const mapper_adapter *ad, const char *dir, docset *ds)
{
	memset(ds, 0, sizeof(*ds));
	for (size_t i = 0; ad->required_docs[i] != NULL && i < MAX_DOCS; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s.xml", dir,
			 ad->required_docs[i]);
		ds->bufs[i] = bench_read_file(path, &ds->docs[i].len);
		if (ds->bufs[i] == NULL) {
			fprintf(stderr, "bench_mapper: cannot read %s\n", path);
			return -1;
		}
		ds->docs[i].name = ad->required_docs[i];
		ds->docs[i].data = ds->bufs[i];
		ds->bytes += ds->docs[i].len;
		ds->n = i + 1;
	}
	return 0;
}

static void free_docs(docset *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		free(ds->bufs[i]);
}

/* desired - parse and apply the rules; NULL with a message on failure */
static lasync_state *desired(bcase *c, const docset *ds, const char *date,
			     mapper_rules_stats *stats)
{
	lasync_school *school = NULL;
	lasync_state *st;
	char err[1024];
	double t0 = bench_now(), t1;

	if (c->ad->parse(ds->docs, ds->n, c->brin, c->dep, NULL, &school, err,
			 sizeof(err)) != 0) {
		fprintf(stderr, "bench_mapper: %s: parse: %s\n", c->name, err);
		return NULL;
	}
	mapper_rules_in in = {school, "bench", c->brin, c->dep, NULL, date};

	t1 = bench_now();
	st = mapper_rules_apply(&in, stats, err, sizeof(err));
	if (st == NULL)
		fprintf(stderr, "bench_mapper: %s: rules: %s\n", c->name, err);
	lasync_school_free(school);
	c->t_parse += t1 - t0;
	c->t_rules += bench_now() - t1;
	return st;
}

/* dump - the next expected state and the packed operations of a case
 * into <dump_dir>/<case>.out, so that two builds can be compared byte for
 * byte (a tuning must not change a single byte of either) */
static void dump(const bcase *c, lasync_state *next, const mapper_ops *ops)
{
	char path[4096];
	size_t len;
	uint8_t *buf = lasync_state_encode(next, &len);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.out", dump_dir, c->name);
	f = fopen(path, "wb");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fwrite(buf, 1, len, f);
	free(buf);
	for (size_t i = 0; i < ops->n; i++) {
		len = lasync__v1__operation__get_packed_size(ops->ops[i]);
		buf = malloc(len);
		lasync__v1__operation__pack(ops->ops[i], buf);
		fwrite(buf, 1, len, f);
		free(buf);
	}
	fprintf(f, "counts %u %u %u %u %u %u %u %zu\n", ops->counts.ops_total,
		ops->counts.users_created, ops->counts.users_updated,
		ops->counts.users_deactivated, ops->counts.groups_created,
		ops->counts.groups_updated, ops->counts.members_added,
		ops->deactivations);
	fclose(f);
}

/* run_full - one snapshot's parse, rules and diff; with job, also the
 * expected state's decode and the next state's encode, as mapper_job.c
 * does around them.  0, or -1 when mapping failed. */
static int run_full(bcase *c, bool job)
{
	mapper_rules_stats stats = {0};
	lasync_state *exp = c->expected, *want, *next;
	mapper_ops ops = {0};
	double t0 = bench_now(), t1;

	if (job && c->exp_blob != NULL) {
		char err[256];
		size_t raw_len;
		uint8_t *raw = lasync_zstd_decompress(c->exp_blob,
						      c->exp_blob_len,
						      1u << 30, &raw_len, err,
						      sizeof(err));

		exp = raw ? lasync_state_decode(raw, raw_len, err, sizeof(err))
			  : NULL;
		free(raw);
		if (exp == NULL) {
			fprintf(stderr, "bench_mapper: %s: state: %s\n",
				c->name, err);
			return -1;
		}
	}
	c->t_state += bench_now() - t0;
	want = desired(c, &c->docs, c->date, &stats);
	if (want == NULL)
		return -1;
	t1 = bench_now();
	mapper_diff_in din = {
		.tenant_id = "bench",
		.vendor = c->ad->vendor,
		.generation = 2,
		.desired = want,
		.expected = exp,
		.full = false,
		.link_staff = true,
	};
	next = mapper_diff(&din, &ops);
	if (dump_dir != NULL)
		dump(c, next, &ops);
	t0 = bench_now();
	c->t_diff += t0 - t1;
	if (job) {
		size_t raw_len, z_len;
		uint8_t *raw = lasync_state_encode(next, &raw_len);
		uint8_t *z = lasync_zstd_compress(raw, raw_len, 3, &z_len);

		free(z);
		free(raw);
		if (exp != c->expected)
			lasync_state_free(exp);
		c->t_state += bench_now() - t0;
	}
	c->students = stats.students;
	c->guardians = stats.guardians;
	c->staff = stats.staff;
	c->groups = stats.groups;
	c->records = stats.students + stats.guardians + stats.staff +
		     stats.groups;
	c->ops = ops.n;
	t0 = bench_now();
	mapper_ops_free(&ops);
	lasync_state_free(next);
	lasync_state_free(want);
	c->t_diff += bench_now() - t0;	/* freeing what the diff made */
	return 0;
}

/* run_bare - the bare reader over every document; returns nodes read */
static size_t run_bare(const docset *ds)
{
	size_t nodes = 0;

	for (size_t i = 0; i < ds->n; i++) {
		xmlTextReaderPtr r = xmlReaderForMemory(
			ds->docs[i].data, (int)ds->docs[i].len, NULL, NULL,
			bare_options);

		while (xmlTextReaderRead(r) == 1)
			nodes += xmlTextReaderNodeType(r) != 0;
		xmlFreeTextReader(r);
	}
	return nodes;
}

static void sax_start(void *ctx, const xmlChar *l, const xmlChar *p,
		      const xmlChar *u, int nn, const xmlChar **ns, int na,
		      int nd, const xmlChar **a)
{
	(void)l, (void)p, (void)u, (void)nn, (void)ns, (void)nd, (void)a;
	*(size_t *)ctx += 1 + (size_t)na;
}

static void sax_end(void *ctx, const xmlChar *l, const xmlChar *p,
		    const xmlChar *u)
{
	(void)l, (void)p, (void)u;
	*(size_t *)ctx += 1;
}

static void sax_text(void *ctx, const xmlChar *s, int n)
{
	(void)s;
	*(size_t *)ctx += n > 0;
}

/* run_sax - the push parser as lasync_xml drives it, callbacks counting */
static size_t run_sax(const docset *ds)
{
	size_t events = 0;
	xmlSAXHandler h;

	memset(&h, 0, sizeof(h));
	h.initialized = XML_SAX2_MAGIC;
	h.startElementNs = sax_start;
	h.endElementNs = sax_end;
	h.characters = h.ignorableWhitespace = h.cdataBlock = sax_text;
	for (size_t i = 0; i < ds->n; i++) {
		const char *d = ds->docs[i].data;
		size_t len = ds->docs[i].len, first = len < 4 ? len : 4, at;
		xmlParserCtxtPtr c = xmlCreatePushParserCtxt(&h, &events, d,
							    (int)first, NULL);

		xmlCtxtUseOptions(c, XML_PARSE_NONET | XML_PARSE_NOCDATA |
					     XML_PARSE_BIG_LINES);
		for (at = first;;) {
			size_t k = len - at > 65536 ? 65536 : len - at;

			xmlParseChunk(c, d + at, (int)k, at + k == len);
			at += k;
			if (at == len)
				break;
		}
		xmlFreeParserCtxt(c);
	}
	return events;
}

enum { W_BARE, W_FULL, W_JOB, W_PARSE, W_SAX };
static const char *const workload_names[] = {"bare", "full", "job", "parse",
					     "sax", NULL};

/* run_parse - the adapter alone (profiling the parser) */
static int run_parse(bcase *c)
{
	lasync_school *school = NULL;
	char err[1024];

	if (c->ad->parse(c->docs.docs, c->docs.n, c->brin, c->dep, NULL,
			 &school, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_mapper: %s: parse: %s\n", c->name, err);
		return -1;
	}
	lasync_school_free(school);
	return 0;
}

/* timed - seconds per run of one workload, repeated for min_seconds;
 * the stage times in c become per-run averages of this workload */
static double timed(bcase *c, int what)
{
	double t0 = bench_now(), t;
	size_t n = 0;

	c->t_parse = c->t_rules = c->t_diff = c->t_state = 0;
	do {
		if (what == W_BARE)
			run_bare(&c->docs);
		else if (what == W_SAX)
			run_sax(&c->docs);
		else if (what == W_PARSE ? run_parse(c) != 0
					 : run_full(c, what == W_JOB) != 0)
			return -1;
		n++;
		t = bench_now() - t0;
	} while (t < min_seconds);
	c->t_parse /= (double)n;
	c->t_rules /= (double)n;
	c->t_diff /= (double)n;
	c->t_state /= (double)n;
	return t / (double)n;
}

/* case_parse - "NAME=VENDOR:DIR:DATE[:EXPDIR:EXPDATE]" */
static int case_parse(bcase *c, const char *arg)
{
	char *p;
	const char **fields[] = {&c->vendor_name, &c->dir, &c->date,
				 &c->exp_dir, &c->exp_date};
	size_t k = 0;

	memset(c, 0, sizeof(*c));
	c->spec = strdup(arg);
	p = strchr(c->spec, '=');
	if (p == NULL)
		return -1;
	*p++ = '\0';
	c->name = c->spec;
	while (p != NULL && k < 5) {
		char *colon = strchr(p, ':');

		if (colon != NULL)
			*colon++ = '\0';
		*fields[k++] = p;
		p = colon;
	}
	if (p != NULL || (k != 3 && k != 5))
		return -1;
	c->ad = mapper_adapter_for(lasync_vendor_parse(c->vendor_name));
	return c->ad && school_ids(c) == 0 ? 0 : -1;
}

/* case_prepare - documents in memory, the expected state built */
static int case_prepare(bcase *c)
{
	if (load_docs(c->ad, c->dir, &c->docs) != 0)
		return -1;
	if (c->exp_dir != NULL) {
		docset eds;
		mapper_rules_stats st = {0};
		size_t raw_len;
		uint8_t *raw;

		if (load_docs(c->ad, c->exp_dir, &eds) != 0)
			return -1;
		c->expected = desired(c, &eds, c->exp_date, &st);
		free_docs(&eds);
		if (c->expected == NULL)
			return -1;
		c->expected->generation = 1;
		raw = lasync_state_encode(c->expected, &raw_len);
		c->exp_blob = lasync_zstd_compress(raw, raw_len, 3,
						   &c->exp_blob_len);
		free(raw);
	}
	return run_full(c, true);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_mapper [--reps R] [--min-seconds S] "
		"[--only bare|full|job|parse|sax] [--dump DIR] NAME=VENDOR:DIR:DATE[:EXPDIR:EXPDATE]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int reps = 5, i;
	bcase *cases;
	size_t n = 0;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		char *end;

		if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end || v < 1 || v > MAX_ROUNDS)
				usage();
			reps = (int)v;
		} else if (strcmp(argv[i], "--min-seconds") == 0 &&
			   i + 1 < argc) {
			min_seconds = strtod(argv[++i], &end);
			if (*end || min_seconds <= 0 || min_seconds > 60)
				usage();
		} else if (strcmp(argv[i], "--noblanks") == 0) {
			bare_options |= XML_PARSE_NOBLANKS;
		} else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
			dump_dir = argv[++i];
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			i++;
			for (only = 0; workload_names[only] != NULL; only++)
				if (strcmp(argv[i], workload_names[only]) == 0)
					break;
			if (workload_names[only] == NULL)
				usage();
		} else {
			usage();
		}
	}
	if (i == argc)
		usage();
	xmlInitParser();
	cases = calloc((unsigned)argc, sizeof(*cases));
	for (; i < argc; i++, n++)
		if (case_parse(&cases[n], argv[i]) != 0 ||
		    case_prepare(&cases[n]) != 0) {
			fprintf(stderr, "bench_mapper: cannot run case %s\n",
				argv[i]);
			return 1;
		}
	for (size_t k = 0; k < n && dump_dir == NULL; k++) {
		bcase *c = &cases[k];
		double mb = (double)c->docs.bytes / 1e6;
		double bare[MAX_ROUNDS], full[MAX_ROUNDS], job[MAX_ROUNDS],
			ratio[MAX_ROUNDS], jratio[MAX_ROUNDS], sax[MAX_ROUNDS],
			sratio[MAX_ROUNDS];

		if (only >= 0) {
			printf("mapper case=%s only=%s ms=%.3f\n", c->name,
			       workload_names[only], timed(c, only) * 1e3);
			continue;
		}
		for (int r = 0; r < reps; r++) {
			double tb = timed(c, W_BARE), ts = timed(c, W_SAX);
			double tf = timed(c, W_FULL);
			double sp = c->t_parse, sr = c->t_rules, sd = c->t_diff;
			double tj = timed(c, W_JOB);

			if (tf < 0 || tj < 0)
				return 1;
			bare[r] = mb / tb;
			full[r] = mb / tf;
			job[r] = mb / tj;
			ratio[r] = tb / tf * 100;
			jratio[r] = tb / tj * 100;
			sax[r] = mb / ts;
			sratio[r] = ts / tf * 100;
			printf("mapper case=%s vendor=%s round=%d bytes=%zu "
			       "records=%zu ops=%zu bare_ms=%.3f sax_ms=%.3f "
			       "full_ms=%.3f "
			       "(parse=%.3f rules=%.3f diff=%.3f) job_ms=%.3f "
			       "(state=%.3f) load1=%.2f\n",
			       c->name, c->vendor_name, r + 1, c->docs.bytes,
			       c->records, c->ops, tb * 1e3, ts * 1e3, tf * 1e3,
			       sp * 1e3,
			       sr * 1e3, sd * 1e3, tj * 1e3, c->t_state * 1e3,
			       bench_load1());
			fflush(stdout);
		}
		bench_stats sb = bench_summary(bare, (size_t)reps),
			    sf = bench_summary(full, (size_t)reps),
			    sj = bench_summary(job, (size_t)reps),
			    sr = bench_summary(ratio, (size_t)reps),
			    sjr = bench_summary(jratio, (size_t)reps),
			    ss = bench_summary(sax, (size_t)reps),
			    ssr = bench_summary(sratio, (size_t)reps);
		double recs = (double)c->records / mb;

		printf("mapper_summary case=%s vendor=%s students=%zu "
		       "guardians=%zu staff=%zu groups=%zu bytes=%zu ops=%zu "
		       "rounds=%d bare_MBps=%.1f[%.1f..%.1f] "
		       "full_MBps=%.1f[%.1f..%.1f] job_MBps=%.1f[%.1f..%.1f] "
		       "full_records_per_s=%.0f job_records_per_s=%.0f "
		       "full_vs_bare_pct=%.0f[%.0f..%.0f] "
		       "job_vs_bare_pct=%.0f[%.0f..%.0f] "
		       "sax_MBps=%.1f[%.1f..%.1f] "
		       "full_vs_sax_pct=%.0f[%.0f..%.0f]\n",
		       c->name, c->vendor_name, c->students, c->guardians,
		       c->staff, c->groups, c->docs.bytes, c->ops, reps,
		       sb.median, sb.min, sb.max, sf.median, sf.min, sf.max,
		       sj.median, sj.min, sj.max, sf.median * recs,
		       sj.median * recs, sr.median, sr.min, sr.max, sjr.median,
		       sjr.min, sjr.max, ss.median, ss.min, ss.max, ssr.median,
		       ssr.min, ssr.max);
		fflush(stdout);
	}
	for (size_t k = 0; k < n; k++) {
		free_docs(&cases[k].docs);
		lasync_state_free(cases[k].expected);
		free(cases[k].exp_blob);
		free(cases[k].spec);
	}
	free(cases);
	return 0;
}
