/*
 * scimload.c - a plain SCIM load generator: the portal's own limit for a
 * given mix of requests, measured the way the applier talks to it (libcurl
 * multi, keep-alive, the same headers) but with nothing else in the way.
 *
 *   scimload --base URL --token-env NAME [--concurrency C] [--bulk N] FILE
 *
 * FILE holds one request per line, tab-separated:
 *
 *   LABEL  METHOD  PATH  BODY
 *
 * PATH is appended to URL and may name the id a labelled request got back,
 * as {LABEL}; BODY is compact JSON or empty; LABEL is "-" or a name under
 * which the "id" of the response is kept.  A line "BARRIER" ends a phase:
 * the requests of one phase run concurrently (up to C at a time), the next
 * phase starts once they are all answered - as the applier's stages do.
 *
 * --bulk N sends the unlabelled POSTs of a phase as SCIM Bulk requests of
 * up to N operations per tenant (the first path segment), within the
 * portal's announced 1 MiB - what Bulk support in the applier could gain.
 *
 * Output: one key=value line per phase and one for the whole run: requests,
 * seconds, requests per second, writes (non-GET) per second, statuses,
 * latency percentiles.  Exit 1 when a request failed (no response or a
 * status >= 400).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench_util.h"
#include "lasync_config.h"
#include "lasync_http.h"
#include "lasync_mem.h"

typedef struct req {
	char *label, *method, *path, *body;
	bool barrier;
	size_t ops;		/* operations it carries (Bulk: more than 1) */
	char **labels;		/* Bulk: the label of each operation, or NULL */
} req;

typedef struct label {
	char *name, *id;
} label;

typedef struct run {
	lasync_http *http;
	const char *base;
	const char *hdrs[4];
	req *reqs;
	size_t n;
	label *labels;
	size_t n_labels, cap_labels;
	size_t next, end, inflight;
	long concurrency;
	double *lat;
	size_t n_lat;
	size_t status[6];	/* 0: no response, 1..5: 1xx..5xx */
	size_t failed, writes, ops;
} run;

typedef struct inflight {
	run *r;
	req *q;
	double t0;
} inflight;

/* split_line - the four tab-separated fields, in place */
static int split_line(char *line, req *q)
{
	char *f[4];
	size_t k = 0;

	memset(q, 0, sizeof(*q));
	if (strcmp(line, "BARRIER") == 0) {
		q->barrier = true;
		return 0;
	}
	f[k++] = line;
	for (char *p = line; *p && k < 4; p++)
		if (*p == '\t') {
			*p = '\0';
			f[k++] = p + 1;
		}
	if (k < 3)
		return -1;
	q->label = strcmp(f[0], "-") ? lasync_xstrdup(f[0]) : NULL;
	q->method = lasync_xstrdup(f[1]);
	q->path = lasync_xstrdup(f[2]);
	q->body = k == 4 && f[3][0] ? lasync_xstrdup(f[3]) : NULL;
	q->ops = 1;
	return 0;
}

#define BULK_MAX_BYTES (1000u * 1000u)	/* under the portal's 1 MiB */

/* bulk_of - a Bulk request for the POSTs q[0..n) of one tenant (their
 * paths share tenant, "/<t>/v2/"): the caller frees the parts */
static req bulk_of(const req *q, size_t n, size_t tlen)
{
	req b = {.method = lasync_xstrdup("POST"), .ops = n};
	size_t cap = 256, len = 0;
	char *s = lasync_xmalloc(cap);

	b.path = lasync_xasprintf("%.*sBulk", (int)tlen, q[0].path);
	b.labels = lasync_xcalloc(n, sizeof(*b.labels));
	for (size_t i = 0; i < n; i++)
		b.labels[i] = q[i].label;
	len = (size_t)snprintf(s, cap, "{\"schemas\":[\"urn:ietf:params:scim:"
					"api:messages:2.0:BulkRequest\"],"
					"\"Operations\":[");
	for (size_t i = 0; i < n; i++) {
		char *op = lasync_xasprintf(
			"%s{\"method\":\"POST\",\"bulkId\":\"b%zu\","
			"\"path\":\"/%s\",\"data\":%s}",
			i ? "," : "", i, q[i].path + tlen,
			q[i].body ? q[i].body : "{}");
		size_t l = strlen(op);

		while (len + l + 3 > cap)
			cap *= 2;
		s = lasync_xrealloc(s, cap);
		memcpy(s + len, op, l);
		len += l;
		free(op);
	}
	memcpy(s + len, "]}", 3);
	b.body = s;
	return b;
}

/* tenant_len - length of "/<tenant>/v2/" at the start of path, 0 if none */
static size_t tenant_len(const char *path)
{
	const char *p = strchr(path + 1, '/');

	return p && strncmp(p, "/v2/", 4) == 0 ? (size_t)(p + 4 - path) : 0;
}

/* bulk_phases - replace runs of unlabelled POSTs of one tenant inside a
 * phase by Bulk requests of up to per operations */
static void bulk_phases(run *r, size_t per)
{
	req *out = lasync_xcalloc(r->n + 1, sizeof(*out));
	size_t n = 0;

	for (size_t i = 0; i < r->n;) {
		req *q = &r->reqs[i];
		size_t tl, j = i, bytes = 0;

		/* creates (labelled or not: a Bulk answer carries each new
		 * resource's location) whose path references no label */
		if (q->barrier || strcmp(q->method, "POST") != 0 ||
		    strchr(q->path, '{') != NULL ||
		    (tl = tenant_len(q->path)) == 0) {
			out[n++] = r->reqs[i++];
			continue;
		}
		while (j < r->n && j - i < per && !r->reqs[j].barrier &&
		       strcmp(r->reqs[j].method, "POST") == 0 &&
		       strchr(r->reqs[j].path, '{') == NULL &&
		       tenant_len(r->reqs[j].path) == tl &&
		       strncmp(r->reqs[j].path, q->path, tl) == 0 &&
		       bytes + (r->reqs[j].body ? strlen(r->reqs[j].body) : 0) +
				       100 < BULK_MAX_BYTES) {
			bytes += (r->reqs[j].body ? strlen(r->reqs[j].body) : 0) +
				 100;
			j++;
		}
		out[n++] = bulk_of(q, j - i, tl);
		for (; i < j; i++) {
			free(r->reqs[i].method);
			free(r->reqs[i].path);
			free(r->reqs[i].body);
		}
	}
	free(r->reqs);
	r->reqs = out;
	r->n = n;
}

static const char *label_id(run *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->n_labels; i++)
		if (strlen(r->labels[i].name) == len &&
		    strncmp(r->labels[i].name, name, len) == 0)
			return r->labels[i].id;
	return NULL;
}

/* expand - PATH with {LABEL} replaced by that request's id (caller frees);
 * NULL when a label has no id (its request failed) */
static char *expand(run *r, const char *path)
{
	const char *open = strchr(path, '{'), *close;
	const char *id;

	if (open == NULL || (close = strchr(open, '}')) == NULL)
		return lasync_xasprintf("%s%s", r->base, path);
	id = label_id(r, open + 1, (size_t)(close - open - 1));
	if (id == NULL)
		return NULL;
	return lasync_xasprintf("%s%.*s%s%s", r->base, (int)(open - path), path,
				id, close + 1);
}

/* response_id - the "id" string of a JSON response, crudely but enough
 * for scim2-server's answers (caller frees) */
static char *response_id(const char *body)
{
	const char *p = strstr(body, "\"id\"");
	const char *q;

	if (p == NULL || (p = strchr(p + 4, '"')) == NULL ||
	    (q = strchr(p + 1, '"')) == NULL)
		return NULL;
	return lasync_xstrndup(p + 1, (size_t)(q - p - 1));
}

static void start_more(run *r);

/* bulk_done - a BulkResponse: count the operations that failed, and give
 * each labelled create its new id (the last segment of its location) */
static void bulk_done(run *r, const req *q, const char *body)
{
	json_error_t je;
	json_t *doc = json_loads(body, 0, &je), *op;
	size_t i, bad = 0, seen = 0;

	json_array_foreach(json_object_get(doc, "Operations"), i, op) {
		const char *st = json_string_value(json_object_get(op, "status"));
		const char *bid = json_string_value(json_object_get(op, "bulkId"));
		const char *loc = json_string_value(json_object_get(op, "location"));
		char *end;
		unsigned long k;

		seen++;
		if (st == NULL || st[0] != '2') {
			bad++;
			continue;
		}
		if (bid == NULL || bid[0] != 'b' || loc == NULL ||
		    strrchr(loc, '/') == NULL)
			continue;
		k = strtoul(bid + 1, &end, 10);
		if (*end != '\0' || k >= q->ops || q->labels[k] == NULL)
			continue;
		lasync_grow(&r->labels, &r->cap_labels, r->n_labels + 1);
		r->labels[r->n_labels].name = q->labels[k];
		r->labels[r->n_labels].id = lasync_xstrdup(strrchr(loc, '/') + 1);
		r->n_labels++;
	}
	if (doc == NULL || seen < q->ops)
		bad += q->ops - seen; /* no answer for them */
	if (bad > 0 && r->failed < 5)
		fprintf(stderr, "scimload: %s: %zu of %zu bulk operations "
				"failed\n", q->path, bad, q->ops);
	r->failed += bad;
	json_decref(doc);
}

static void on_done(void *ctx, const lasync_http_result *res)
{
	inflight *f = ctx;
	run *r = f->r;
	int cls = res->curl == CURLE_OK ? (int)(res->status / 100) : 0;

	r->inflight--;
	r->lat[r->n_lat++] = bench_now() - f->t0;
	r->status[cls >= 0 && cls <= 5 ? cls : 0]++;
	if (cls == 0 || cls >= 4) {
		if (r->failed++ < 5)
			fprintf(stderr, "scimload: %s %s: %s %ld\n",
				f->q->method, f->q->path,
				cls ? "status" : res->error, res->status);
	} else if (f->q->ops > 1) {
		bulk_done(r, f->q, res->body);
	} else if (f->q->label != NULL) {
		lasync_grow(&r->labels, &r->cap_labels, r->n_labels + 1);
		r->labels[r->n_labels].name = f->q->label;
		r->labels[r->n_labels].id = response_id(res->body);
		r->n_labels++;
	}
	free(f);
	start_more(r);
}

/* start_more - requests of the current phase up to the concurrency */
static void start_more(run *r)
{
	while (r->inflight < (size_t)r->concurrency && r->next < r->end) {
		req *q = &r->reqs[r->next++];
		char *url = expand(r, q->path);
		inflight *f;

		if (url == NULL) {
			r->failed++;
			continue;
		}
		f = lasync_xcalloc(1, sizeof(*f));
		f->r = r;
		f->q = q;
		f->t0 = bench_now();
		lasync_http_req_opts o = {
			.method = q->method,
			.url = url,
			.headers = r->hdrs,
			.body = q->body,
			.body_len = q->body ? strlen(q->body) : 0,
			.timeout_ms = 60000,
			.connect_timeout_ms = 5000,
			.max_response = 64u * 1024u * 1024u,
		};
		if (strcmp(q->method, "GET") != 0)
			r->writes++;
		r->ops += q->ops;
		r->inflight++;
		lasync_http_start(r->http, &o, on_done, f);
		free(url);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* report - one line for requests [from, to) that took secs */
static void report(run *r, const char *what, size_t lat_from, size_t writes,
		   size_t ops, double secs)
{
	size_t n = r->n_lat - lat_from;
	double *l = r->lat + lat_from;

	qsort(l, n, sizeof(*l), cmp_double);
	printf("scimload %s requests=%zu seconds=%.3f req_per_s=%.1f "
	       "writes=%zu writes_per_s=%.1f ops=%zu ops_per_s=%.1f "
	       "concurrency=%ld latency_p50_ms=%.2f latency_p99_ms=%.2f "
	       "load1=%.2f\n",
	       what, n, secs, secs > 0 ? (double)n / secs : 0, writes,
	       secs > 0 ? (double)writes / secs : 0, ops,
	       secs > 0 ? (double)ops / secs : 0, r->concurrency,
	       n ? l[n / 2] * 1e3 : 0, n ? l[n * 99 / 100] * 1e3 : 0,
	       bench_load1());
}

int main(int argc, char **argv)
{
	run r = {.concurrency = 8};
	long bulk = 0;
	const char *token_env = NULL, *file = NULL;
	char *line = NULL, *auth;
	size_t cap = 0, cap_reqs = 0, phase = 0;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--base") == 0 && i + 1 < argc)
			r.base = argv[++i];
		else if (strcmp(argv[i], "--token-env") == 0 && i + 1 < argc)
			token_env = argv[++i];
		else if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 1, 512, &r.concurrency))
				file = NULL, argc = 0;
		} else if (strcmp(argv[i], "--bulk") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 1, 1000, &bulk))
				file = NULL, argc = 0;
		} else if (file == NULL && argv[i][0] != '-')
			file = argv[i];
		else
			argc = 0;
	}
	if (r.base == NULL || token_env == NULL || file == NULL ||
	    getenv(token_env) == NULL) {
		fprintf(stderr, "usage: scimload --base URL --token-env NAME "
				"[--concurrency C] [--bulk N] FILE\n");
		return 2;
	}
	f = fopen(file, "r");
	if (f == NULL) {
		perror(file);
		return 2;
	}
	for (ssize_t len; (len = getline(&line, &cap, f)) > 0;) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		lasync_grow(&r.reqs, &cap_reqs, r.n + 1);
		if (split_line(line, &r.reqs[r.n]) != 0) {
			fprintf(stderr, "scimload: bad line %zu\n", r.n + 1);
			return 2;
		}
		r.n++;
	}
	free(line);
	fclose(f);
	if (bulk > 0)
		bulk_phases(&r, (size_t)bulk);
	auth = lasync_xasprintf("Authorization: Bearer %s", getenv(token_env));
	r.hdrs[0] = auth;
	r.hdrs[1] = "Content-Type: application/scim+json";
	r.hdrs[2] = "Accept: application/scim+json";
	r.lat = lasync_xcalloc(r.n + 1, sizeof(*r.lat));
	r.http = lasync_http_new(r.concurrency, r.concurrency);

	double t_all = bench_now();
	size_t writes_all = 0;

	while (r.next < r.n) {
		double t0 = bench_now();
		size_t lat0 = r.n_lat, w0 = r.writes, o0 = r.ops;
		char what[32];

		if (r.reqs[r.next].barrier) {
			r.next++;
			continue;
		}
		for (r.end = r.next; r.end < r.n && !r.reqs[r.end].barrier;
		     r.end++)
			;
		start_more(&r);
		while (r.inflight > 0 || r.next < r.end) {
			lasync_http_wait(r.http, NULL, 0, 100);
			lasync_http_perform(r.http);
		}
		snprintf(what, sizeof(what), "phase=%zu", ++phase);
		report(&r, what, lat0, r.writes - w0, r.ops - o0,
		       bench_now() - t0);
	}
	writes_all = r.writes;
	report(&r, "phase=all", 0, writes_all, r.ops, bench_now() - t_all);
	printf("scimload statuses 2xx=%zu 3xx=%zu 4xx=%zu 5xx=%zu none=%zu "
	       "failed=%zu\n",
	       r.status[2], r.status[3], r.status[4], r.status[5], r.status[0],
	       r.failed);
	lasync_http_free(r.http);
	for (size_t i = 0; i < r.n; i++) {
		for (size_t k = 0; r.reqs[i].labels && k < r.reqs[i].ops; k++)
			free(r.reqs[i].labels[k]);
		free(r.reqs[i].labels);
		free(r.reqs[i].label);
		free(r.reqs[i].method);
		free(r.reqs[i].path);
		free(r.reqs[i].body);
	}
	for (size_t i = 0; i < r.n_labels; i++)
		free(r.labels[i].id);
	free(r.labels);
	free(r.reqs);
	free(r.lat);
	free(auth);
	return r.failed ? 1 : 0;
}
