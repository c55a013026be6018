/*
 * applier_bulk.c - SCIM Bulk (RFC 7644 §3.7): the writes of a stage sent
 * as BulkRequests, where the portal announces Bulk.
 *
 *   applier_bulk_prepare   read the portal's /ServiceProviderConfig (cached
 *                          per portal base URL) and give the job a queue
 *   applier_write          what an operation calls instead of
 *                          applier_request() for a POST or PATCH: the write
 *                          is parked in the job's queue, or sent alone
 *   applier_bulk_flush     send the queue as BulkRequests
 *
 * Users' creates and every PATCH go in Bulks; a group's create stays a
 * single request (see applier_write).
 *
 * An operation does not know whether its write went alone or in a Bulk:
 * its callback gets, per operation, the lasync_http_result a single
 * request would have given (status, and the error body or the created
 * resource), so applier_scim_judge() and the operation's own handling of
 * 409, 404, 4xx and 5xx decide exactly as they do for a single request.
 *
 * A whole BulkRequest that fails:
 *   - timeout, connection failure, 5xx (but 501), 429: nobody knows which
 *     of its operations ran, so each is transient for the job; the retry
 *     looks every resource up by externalId again (or lists the portal),
 *     so what did run is found, never created twice;
 *   - any other answer but 2xx (400, 404, 405, 413, 501 ...): the portal
 *     refused the request before running it (RFC 7644 §3.7.3, §3.12), so
 *     its writes are sent again one by one, and Bulk is off for that
 *     portal for a while;
 *   - 2xx with a body that is no BulkResponse, or without a result for an
 *     operation (failOnErrors, or a broken portal): those operations are
 *     transient (they may have run) and Bulk is off for that portal, so
 *     the retry uses single requests.
 * Bulk is not atomic: the operations that succeeded are done and recorded
 * like any other.
 *
 * The pure parts (limits, building a request within them, reading a
 * response) are exported for the unit tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "lasync_clock.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"

#define BULK_REQUEST_URN "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#define BULK_PREFIX "{\"schemas\":[\"" BULK_REQUEST_URN "\"],\"Operations\":["
#define BULK_SUFFIX "]}"
/* Our own ceilings, whatever a portal announces. A portal serves the
 * Bulks of all the jobs at once, so each one's time grows with all the
 * operations in flight: 8 jobs with two Bulks of 1,000 each kept the
 * test portal busy for up to a minute per Bulk at the start of the
 * 1,000-school first import (BENCHMARKS.md §3), against 1,000 announced.
 * 250 bounds that to a quarter and still spreads a request's overhead
 * over many operations. */
#define BULK_MAX_OPS 250
#define BULK_MAX_PAYLOAD (16u * 1024u * 1024u)
#define BULK_MIN_PAYLOAD 4096u
/* How long a portal's answer is believed: a ServiceProviderConfig read,
 * one that could not be read, a Bulk found broken. */
#define SPC_TTL_MS (10 * 60 * 1000)
#define SPC_FAIL_TTL_MS (60 * 1000)
#define BROKEN_TTL_MS (10 * 60 * 1000)

/* --- limits ---------------------------------------------------------- */

/* In proportion to the timeout, so that an operator's shorter timeout
 * stays shorter for Bulks too (why at all: applier.h). */
long applier_bulk_timeout_ms(long timeout_ms, size_t n)
{
	if (n > BULK_MAX_OPS)
		n = BULK_MAX_OPS;
	return timeout_ms + timeout_ms * (long)n / BULK_MAX_OPS;
}

void applier_bulk_limits_parse(const json_t *spc, applier_bulk_limits *l)
{
	const json_t *b = json_object_get(spc, "bulk");
	json_int_t ops = json_integer_value(json_object_get(b, "maxOperations"));
	json_int_t size =
		json_integer_value(json_object_get(b, "maxPayloadSize"));

	memset(l, 0, sizeof(*l));
	/* A Bulk of one operation gains nothing; a payload too small for
	 * one create is no Bulk either. */
	if (!json_is_true(json_object_get(b, "supported")) || ops < 2 ||
	    size < (json_int_t)BULK_MIN_PAYLOAD)
		return;
	l->supported = true;
	l->max_ops = ops > BULK_MAX_OPS ? BULK_MAX_OPS : (size_t)ops;
	l->max_payload = size > (json_int_t)BULK_MAX_PAYLOAD ? BULK_MAX_PAYLOAD
							     : (size_t)size;
}

/* --- one BulkRequest ------------------------------------------------- */

struct applier_bulk_batch {
	applier_bulk_limits lim;
	size_t n;
	char *buf;		/* BULK_PREFIX, operations, and room for SUFFIX */
	size_t len, cap;
};

applier_bulk_batch *applier_bulk_batch_new(const applier_bulk_limits *l)
{
	applier_bulk_batch *b = lasync_xcalloc(1, sizeof(*b));

	b->lim = *l;
	b->cap = 4096;
	b->buf = lasync_xmalloc(b->cap);
	b->len = strlen(BULK_PREFIX);
	memcpy(b->buf, BULK_PREFIX, b->len + 1);
	return b;
}

void applier_bulk_batch_free(applier_bulk_batch *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	free(b);
}

size_t applier_bulk_batch_count(const applier_bulk_batch *b)
{
	return b->n;
}

size_t applier_bulk_batch_bytes(const applier_bulk_batch *b)
{
	return b->len + strlen(BULK_SUFFIX);
}

bulk_add applier_bulk_batch_add(applier_bulk_batch *b, const char *method,
				const char *path, const char *bulk_id,
				const char *data)
{
	json_t *op = json_pack("{s:s,s:s,s:s}", "method", method, "path", path,
			       "bulkId", bulk_id);
	char *head = json_dumps(op, JSON_COMPACT);
	size_t hlen, dlen = data ? strlen(data) : 0, tlen, need;

	json_decref(op);
	if (head == NULL)
		lasync_panic_oom();
	/* {"method":..,"bulkId":..} and, before its '}', ,"data":<data> */
	hlen = strlen(head) - 1;
	tlen = hlen + (data ? strlen(",\"data\":") + dlen : 0) + 1;
	need = b->len + (b->n > 0) + tlen + strlen(BULK_SUFFIX);
	if (b->n >= b->lim.max_ops || need > b->lim.max_payload) {
		free(head);
		return b->n == 0 ? BULK_TOO_BIG : BULK_FULL;
	}
	if (need + 1 > b->cap) {
		while (need + 1 > b->cap)
			b->cap *= 2;
		b->buf = lasync_xrealloc(b->buf, b->cap);
	}
	if (b->n > 0)
		b->buf[b->len++] = ',';
	memcpy(b->buf + b->len, head, hlen);
	b->len += hlen;
	if (data != NULL) {
		memcpy(b->buf + b->len, ",\"data\":", strlen(",\"data\":"));
		b->len += strlen(",\"data\":");
		memcpy(b->buf + b->len, data, dlen);
		b->len += dlen;
	}
	b->buf[b->len++] = '}';
	b->buf[b->len] = '\0';
	b->n++;
	free(head);
	return BULK_ADDED;
}

const char *applier_bulk_batch_body(applier_bulk_batch *b, size_t *len)
{
	/* The suffix goes after the operations without becoming part of
	 * them: the next add writes over it. */
	memcpy(b->buf + b->len, BULK_SUFFIX, strlen(BULK_SUFFIX) + 1);
	*len = b->len + strlen(BULK_SUFFIX);
	return b->buf;
}

/* --- one BulkResponse ------------------------------------------------ */

void applier_bulk_reply_clear(applier_bulk_reply *r)
{
	free(r->id);
	json_decref(r->error);
	free(r->location);
	memset(r, 0, sizeof(*r));
}

/* parse_status - "201" or 201 as an HTTP status, or 0 */
static long parse_status(const json_t *v)
{
	long s = 0;

	if (json_is_integer(v)) {
		s = (long)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *t = json_string_value(v);
		char *end;

		s = strtol(t, &end, 10);
		if (end == t || *end != '\0')
			s = 0;
	}
	return s >= 100 && s <= 599 ? s : 0;
}

int applier_bulk_parse(const char *body, size_t len,
		       const char *const *bulk_ids, size_t n,
		       applier_bulk_reply *out, char *err, size_t errlen)
{
	json_t *doc = json_loadb(body ? body : "", len, 0, NULL);
	json_t *ops = json_object_get(doc, "Operations");
	json_t *index, *e;
	size_t i;

	for (i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	if (!json_is_array(ops)) {
		snprintf(err, errlen, "%s",
			 doc == NULL ? "BulkResponse is not JSON"
				     : "BulkResponse without Operations");
		json_decref(doc);
		return -1;
	}
	index = json_object();
	for (i = 0; i < n; i++)
		json_object_set_new(index, bulk_ids[i],
				    json_integer((json_int_t)i));
	json_array_foreach(ops, i, e) {
		const char *bid = json_string_value(json_object_get(e, "bulkId"));
		json_t *at = bid ? json_object_get(index, bid) : NULL;
		json_t *resp;
		const char *loc;
		size_t k;

		if (at == NULL)
			continue; /* not ours, or no bulkId: unusable */
		k = (size_t)json_integer_value(at);
		if (out[k].status != 0)
			continue; /* a second result: the first one counts */
		out[k].status = parse_status(json_object_get(e, "status"));
		if (out[k].status == 0)
			continue; /* no usable status: as if missing */
		/* Of a success only the id is used; the rest of the created
		 * resource goes with the document, now, not after every
		 * operation of the Bulk has read its result. */
		resp = json_object_get(e, "response");
		if (out[k].status >= 200 && out[k].status < 300) {
			const char *rid =
				json_string_value(json_object_get(resp, "id"));

			if (rid != NULL)
				out[k].id = lasync_xstrdup(rid);
		} else if (json_is_object(resp)) {
			out[k].error = json_incref(resp);
		}
		loc = json_string_value(json_object_get(e, "location"));
		if (loc != NULL)
			out[k].location = lasync_xstrdup(loc);
	}
	json_decref(index);
	json_decref(doc);
	return 0;
}

/* location_id - the last path segment of a resource's location, or NULL
 * (caller frees) */
static char *location_id(const char *loc)
{
	const char *end, *start;

	if (loc == NULL)
		return NULL;
	end = loc + strcspn(loc, "?#");
	while (end > loc && end[-1] == '/')
		end--;
	start = end;
	while (start > loc && start[-1] != '/')
		start--;
	if (start == end)
		return NULL;
	return lasync_xasprintf("%.*s", (int)(end - start), start);
}

/* with_id - the JSON object data with "id": id (none when id is NULL);
 * the id is spliced in before the closing brace, unless data may carry an
 * "id" of its own already (a create never does), which is then replaced */
static char *with_id(const char *data, const char *id)
{
	size_t dlen = strlen(data);
	json_t *v, *doc;
	char *q, *out;

	while (dlen > 0 && data[dlen - 1] != '}')
		dlen--;
	if (id == NULL || dlen == 0)
		return lasync_xstrdup(data);
	if (strstr(data, "\"id\"") != NULL) {
		doc = json_loads(data, 0, NULL);
		if (json_is_object(doc)) {
			json_object_set_new(doc, "id", json_string(id));
			out = json_dumps(doc, JSON_COMPACT);
			json_decref(doc);
			if (out == NULL)
				lasync_panic_oom();
			return out;
		}
		json_decref(doc);
	}
	v = json_string(id);
	q = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	if (q == NULL)
		lasync_panic_oom();
	/* "{}" has no member for the id to follow */
	out = lasync_xasprintf("%.*s%s\"id\":%s}", (int)(dlen - 1), data,
			       strspn(data, " \t\r\n{") == dlen - 1 ? "" : ",",
			       q);
	free(q);
	return out;
}

void applier_bulk_result(const applier_bulk_reply *rep, const char *data,
			 lasync_http_result *r, char **text)
{
	memset(r, 0, sizeof(*r));
	*text = NULL;
	r->retry_after_s = -1;
	if (rep->status == 0) {
		/* Not run, or run without a word: a single request that got
		 * no answer, transient. */
		r->curl = CURLE_GOT_NOTHING;
		r->error = "no result for the operation in the BulkResponse";
		r->body = "";
		return;
	}
	r->curl = CURLE_OK;
	r->status = rep->status;
	if (rep->status >= 200 && rep->status < 300 && data != NULL) {
		/* A created resource: what was sent, under the id the portal
		 * gave (its response when it sent one, else its location). */
		char *lid = rep->id ? NULL : location_id(rep->location);

		*text = with_id(data, rep->id ? rep->id : lid);
		free(lid);
	} else if (rep->error != NULL) {
		/* A success other than a create needs no body (what a single
		 * PATCH gets back is not read either). */
		*text = json_dumps(rep->error, JSON_COMPACT);
	}
	r->body = *text ? *text : "";
	r->len = *text ? strlen(*text) : 0;
}

/* --- what each portal announces (process-wide cache) ------------------ */

typedef struct spc_entry {
	char *base;
	applier_bulk_limits lim;
	int64_t until_ms;
	struct spc_entry *next;
} spc_entry;

static spc_entry *spc_cache;
static lasync_metric *m_bulk_requests, *m_bulk_ops;

void applier_bulk_init(void)
{
	m_bulk_requests = lasync_metric_counter(
		"lasync_applier_bulk_requests_total",
		"SCIM Bulk requests sent to portals, by outcome (ok, "
		"transient, fallback, broken)",
		"outcome");
	m_bulk_ops = lasync_metric_counter(
		"lasync_applier_bulk_operations_total",
		"Portal writes sent inside SCIM Bulk requests", NULL);
}

void applier_bulk_cache_free(void)
{
	while (spc_cache != NULL) {
		spc_entry *e = spc_cache;

		spc_cache = e->next;
		free(e->base);
		free(e);
	}
}

/* spc_find - the entry of base; expired entries of other portals are
 * dropped on the way, so the cache holds the portals of the last minutes,
 * not every tenant the process has served */
static spc_entry *spc_find(const char *base)
{
	int64_t now = lasync_now_ms();

	for (spc_entry **pe = &spc_cache; *pe != NULL;) {
		spc_entry *e = *pe;

		if (strcmp(e->base, base) == 0)
			return e;
		if (e->until_ms <= now) {
			*pe = e->next;
			free(e->base);
			free(e);
			continue;
		}
		pe = &e->next;
	}
	return NULL;
}

static void spc_put(const char *base, const applier_bulk_limits *l,
		    int64_t ttl_ms)
{
	spc_entry *e = spc_find(base);

	if (e == NULL) {
		e = lasync_xcalloc(1, sizeof(*e));
		e->base = lasync_xstrdup(base);
		e->next = spc_cache;
		spc_cache = e;
	}
	e->lim = *l;
	e->until_ms = lasync_now_ms() + ttl_ms;
}

/* --- the job's queue ------------------------------------------------- */

typedef struct bulk_entry {
	char *method;
	char *url;
	char *path;		/* relative to the portal base */
	char *body;		/* compact JSON, or NULL: text, not a jansson
				 * tree, since a job holds every write of its
				 * Bulks until they are answered */
	lasync_http_done_fn fn;
	void *ctx;
	lasync_http_xfer **slot;
	char bulk_id[24];
} bulk_entry;

typedef struct bulk_req {
	applier_bulker *owner;
	lasync_http_xfer *x;
	bulk_entry *e;
	size_t n;
	struct bulk_req *prev, *next;
} bulk_req;

struct applier_bulker {
	ajob *aj;
	applier_bulk_limits lim;
	bool off;		/* broken for this job: single requests */
	applier_bulk_batch *batch;
	bulk_entry *q;
	size_t nq, capq;
	bulk_req *flying;
	size_t n_flying;	/* Bulk requests in flight */
	size_t parked;		/* operations queued or in flight in a Bulk */
	unsigned long seq;	/* bulkIds */
};

static void entry_clear(bulk_entry *e)
{
	free(e->method);
	free(e->url);
	free(e->path);
	free(e->body);
}

static void req_free(bulk_req *br)
{
	for (size_t i = 0; i < br->n; i++)
		entry_clear(&br->e[i]);
	free(br->e);
	free(br);
}

static applier_bulker *bulker_new(ajob *aj, const applier_bulk_limits *l)
{
	applier_bulker *b = lasync_xcalloc(1, sizeof(*b));

	b->aj = aj;
	b->lim = *l;
	b->batch = applier_bulk_batch_new(l);
	return b;
}

void applier_bulker_free(applier_bulker *b)
{
	if (b == NULL)
		return;
	while (b->flying != NULL) {
		bulk_req *br = b->flying;

		b->flying = br->next;
		if (br->x != NULL)
			lasync_http_cancel(applier_http(b->aj), br->x);
		req_free(br);
	}
	for (size_t i = 0; i < b->nq; i++)
		entry_clear(&b->q[i]);
	free(b->q);
	applier_bulk_batch_free(b->batch);
	free(b);
}

size_t applier_bulk_parked(const ajob *aj)
{
	return aj->bulk ? aj->bulk->parked : 0;
}

size_t applier_bulk_requests(const ajob *aj)
{
	return aj->bulk ? aj->bulk->n_flying : 0;
}

bool applier_bulk_queued(const ajob *aj)
{
	return aj->bulk != NULL && aj->bulk->nq > 0;
}

/* send_single - one write as its own request, as without Bulk */
static void send_single(ajob *aj, bulk_entry *e)
{
	*e->slot = applier_request_text(aj, e->method, e->url, e->body, e->fn,
					e->ctx);
	applier_count_request(aj, e->method);
}

/* broken - Bulk does not work with this portal: off for this job, and for
 * every job for a while */
static void broken(applier_bulker *b, const char *why)
{
	applier_bulk_limits none = {0};

	b->off = true;
	spc_put(b->aj->tenant->portal_base_url, &none, BROKEN_TTL_MS);
	lasync_warn("bulk_disabled", "tenant=%s reason=%s minutes=%d",
		    b->aj->tenant->tenant_id, lasync_q(why),
		    BROKEN_TTL_MS / 60000);
}

static void on_bulk(void *ctx, const lasync_http_result *r)
{
	bulk_req *br = ctx;
	applier_bulker *b = br->owner;
	ajob *aj = b->aj;
	applier_bulk_reply *reps = NULL;
	const char **ids = NULL;
	char err[256] = "";
	const char *outcome = "ok";
	size_t missing = 0;

	br->x = NULL;
	/* Out of the job's books first: each operation below may start the
	 * next ones (and a Bulk of its own). */
	if (br->prev)
		br->prev->next = br->next;
	else
		b->flying = br->next;
	if (br->next)
		br->next->prev = br->prev;
	b->n_flying--;
	b->parked -= br->n;
	if (r->curl == CURLE_OK && r->status >= 200 && r->status < 300) {
		reps = lasync_xcalloc(br->n, sizeof(*reps));
		ids = lasync_xcalloc(br->n, sizeof(*ids));
		for (size_t i = 0; i < br->n; i++)
			ids[i] = br->e[i].bulk_id;
		if (applier_bulk_parse(r->body, r->len, ids, br->n, reps, err,
				       sizeof(err)) != 0) {
			outcome = "broken";
			broken(b, err);
		} else {
			for (size_t i = 0; i < br->n; i++)
				missing += reps[i].status == 0;
			if (missing > 0) {
				outcome = "broken";
				snprintf(err, sizeof(err),
					 "%zu of %zu operations without a "
					 "result",
					 missing, br->n);
				broken(b, err);
			}
		}
		lasync_info("bulk_done",
			    "tenant=%s ops=%zu missing=%zu malformed=%d "
			    "seconds=%.3f",
			    aj->tenant->tenant_id, br->n, missing,
			    strcmp(outcome, "broken") == 0 && missing == 0,
			    r->seconds);
		lasync_metric_add(m_bulk_requests, 1, outcome);
		/* A malformed response left reps all zero: every operation
		 * gets "no result", transient. */
		for (size_t i = 0; i < br->n; i++) {
			bulk_entry *e = &br->e[i];
			lasync_http_result one;
			char *text;

			applier_bulk_result(&reps[i],
					    strcmp(e->method, "POST") == 0
						    ? e->body
						    : NULL,
					    &one, &text);
			e->fn(e->ctx, &one);
			free(text);
			applier_bulk_reply_clear(&reps[i]);
		}
		free(reps);
		free(ids);
		req_free(br);
		return;
	}
	if ((lasync_http_transient(r) && r->status != 501) || r->too_large) {
		/* Which operations ran is unknown: the job retries, and
		 * looks up what may have been created.  (An answer too large
		 * to read came from a portal that ran the request.) */
		if (r->too_large)
			broken(b, "BulkResponse too large");
		lasync_warn("bulk_failed",
			    "tenant=%s ops=%zu status=%ld curl=%d action=retry",
			    aj->tenant->tenant_id, br->n, r->status,
			    (int)r->curl);
		lasync_metric_add(m_bulk_requests, 1, "transient");
		lasync_http_result lost = {
			.curl = CURLE_GOT_NOTHING,
			.error = "BulkResponse too large to read",
			.body = "",
			.retry_after_s = -1,
		};
		for (size_t i = 0; i < br->n; i++)
			br->e[i].fn(br->e[i].ctx, r->too_large ? &lost : r);
		req_free(br);
		return;
	}
	/* Refused as a whole, so nothing of it ran: one by one. */
	snprintf(err, sizeof(err), "Bulk request refused with HTTP %ld%s",
		 r->status, r->curl != CURLE_OK ? " (no answer)" : "");
	lasync_metric_add(m_bulk_requests, 1, "fallback");
	lasync_warn("bulk_refused", "tenant=%s ops=%zu status=%ld curl=%d "
		    "action=single",
		    aj->tenant->tenant_id, br->n, r->status, (int)r->curl);
	broken(b, err);
	for (size_t i = 0; i < br->n; i++)
		send_single(aj, &br->e[i]);
	req_free(br);
}

void applier_bulk_flush(ajob *aj)
{
	applier_bulker *b = aj->bulk;
	bulk_req *br;
	char *url;
	size_t len;
	const char *body;
	const char *hdrs[] = {aj->auth_header,
			      "Content-Type: application/scim+json",
			      "Accept: application/scim+json", NULL};

	if (b == NULL || b->nq == 0)
		return;
	if (b->off) {
		/* Found broken meanwhile: what waits goes one by one. */
		bulk_entry *q = b->q;
		size_t n = b->nq;

		b->q = NULL;
		b->nq = b->capq = 0;
		b->parked -= n;
		applier_bulk_batch_free(b->batch);
		b->batch = applier_bulk_batch_new(&b->lim);
		for (size_t i = 0; i < n; i++) {
			send_single(aj, &q[i]);
			entry_clear(&q[i]);
		}
		free(q);
		return;
	}
	br = lasync_xcalloc(1, sizeof(*br));
	br->owner = b;
	br->e = b->q;
	br->n = b->nq;
	b->q = NULL;
	b->nq = b->capq = 0;
	body = applier_bulk_batch_body(b->batch, &len);
	url = lasync_xasprintf("%s/Bulk", aj->tenant->portal_base_url);
	lasync_http_req_opts o = {
		.method = "POST",
		.url = url,
		.headers = hdrs,
		.body = body,
		.body_len = len,
		.timeout_ms = applier_bulk_timeout_ms(applier_timeout_ms(aj),
						      br->n),
		.connect_timeout_ms = 5000,
		.max_response = 64u * 1024u * 1024u,
	};
	br->next = b->flying;
	if (b->flying)
		b->flying->prev = br;
	b->flying = br;
	b->n_flying++;
	lasync_debug("bulk_send", "tenant=%s ops=%zu bytes=%zu",
		     aj->tenant->tenant_id, br->n, len);
	br->x = lasync_http_start(applier_http(aj), &o, on_bulk, br);
	applier_count_request(aj, "BULK");
	lasync_metric_add(m_bulk_ops, (double)br->n);
	free(url);
	applier_bulk_batch_free(b->batch);
	b->batch = applier_bulk_batch_new(&b->lim);
}

void applier_write(ajob *aj, const char *method, const char *url,
		   const json_t *body, lasync_http_done_fn fn, void *ctx,
		   lasync_http_xfer **slot)
{
	applier_bulker *b = aj->bulk;
	const char *base = aj->tenant->portal_base_url;
	size_t blen = strlen(base);
	bulk_entry e = {0};
	bulk_add added;

	aj->counts.portal_writes++;
	e.method = lasync_xstrdup(method);
	e.url = lasync_xstrdup(url);
	if (body != NULL && (e.body = json_dumps(body, JSON_COMPACT)) == NULL)
		lasync_panic_oom();
	e.fn = fn;
	e.ctx = ctx;
	e.slot = slot;
	/* A group's create stays alone: only userName is unique in a portal,
	 * so a create that ran after its request timed out is found by the
	 * retry only if it ran before the retry's lookup; a Bulk holds a
	 * request open for seconds, which would widen that window for the one
	 * create that has no second guard.  Groups are few; the gain is in
	 * the users. */
	if (b == NULL || b->off || strncmp(url, base, blen) != 0 ||
	    (strcmp(method, "POST") == 0 &&
	     strncmp(url + blen, "/Groups", 7) == 0)) {
		send_single(aj, &e);
		entry_clear(&e);
		return;
	}
	e.path = lasync_xstrdup(url + blen);
	snprintf(e.bulk_id, sizeof(e.bulk_id), "w%lu", ++b->seq);
	added = applier_bulk_batch_add(b->batch, method, e.path, e.bulk_id,
				       e.body);
	if (added == BULK_FULL) {
		applier_bulk_flush(aj);
		added = applier_bulk_batch_add(b->batch, method, e.path,
					       e.bulk_id, e.body);
	}
	if (added != BULK_ADDED) {
		/* Larger than a whole Bulk may be: alone. */
		send_single(aj, &e);
		entry_clear(&e);
		return;
	}
	*slot = NULL;
	if (b->nq == b->capq) {
		b->capq = b->capq ? b->capq * 2 : 64;
		b->q = lasync_xreallocarray(b->q, b->capq, sizeof(*b->q));
	}
	b->q[b->nq++] = e;
	b->parked++;
	/* Full: send now; otherwise the pump sends it when nothing else
	 * can join (and it may start more operations meanwhile). */
	if (b->nq >= b->lim.max_ops)
		applier_bulk_flush(aj);
	applier_job_pump(aj);
}

/* --- discovery ------------------------------------------------------- */

static void bulk_ready(ajob *aj, const applier_bulk_limits *l)
{
	if (l->supported)
		aj->bulk = bulker_new(aj, l);
	lasync_debug("bulk_mode", "tenant=%s bulk=%d max_ops=%zu max_bytes=%zu",
		     aj->tenant->tenant_id, l->supported, l->max_ops,
		     l->max_payload);
	applier_job_discovered(aj);
}

static void on_spc(void *ctx, const lasync_http_result *r)
{
	ajob *aj = ctx;
	applier_bulk_limits l = {0};

	aj->spc_x = NULL;
	if (r->curl == CURLE_OK && r->status == 200) {
		json_t *doc = json_loadb(r->body, r->len, 0, NULL);

		applier_bulk_limits_parse(doc, &l);
		json_decref(doc);
		spc_put(aj->tenant->portal_base_url, &l, SPC_TTL_MS);
	} else {
		/* Not worth failing the job: without Bulk, as before. */
		lasync_info("spc_unread", "tenant=%s status=%ld curl=%d",
			    aj->tenant->tenant_id, r->status, (int)r->curl);
		spc_put(aj->tenant->portal_base_url, &l, SPC_FAIL_TTL_MS);
	}
	bulk_ready(aj, &l);
}

void applier_bulk_prepare(ajob *aj, bool enabled)
{
	const char *base = aj->tenant->portal_base_url;
	spc_entry *e = spc_find(base);
	char *url;

	if (!enabled) {
		applier_job_discovered(aj);
		return;
	}
	if (e != NULL && e->until_ms > lasync_now_ms()) {
		bulk_ready(aj, &e->lim);
		return;
	}
	url = lasync_xasprintf("%s/ServiceProviderConfig", base);
	aj->spc_x = applier_request(aj, "GET", url, NULL, on_spc, aj);
	free(url);
}
