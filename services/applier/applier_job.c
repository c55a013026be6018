/*
 * applier_job.c - one change-set part (see applier.h).
 *
 * Start: decode, find the tenant, refuse a superseded generation (the
 * watermark "<prefix>:{tenant}:applied" holds the newest generation fully
 * applied), refuse a later part of a sync whose earlier part failed, and
 * skip operations whose idempotency key exists.  A reconcile change set
 * first lists the portal's users and groups once, so each UPSERT compares
 * against the portal itself without a lookup of its own.
 *
 * Dispatch: operations run concurrently up to --concurrency, but never
 * across a stage boundary.  A transient failure stops dispatching; once the
 * in-flight operations settle the job is RETRY (done operations are
 * recorded, so the retry continues where this one stopped).  Permanent
 * failures are collected while the rest goes on; the part then ends DEAD:
 * the sync fails, its later parts are dead-lettered with it, and the
 * tenant's expected state is dropped so the next sync reconciles against
 * the portal.  The last part of a sync advances the watermark and produces
 * the sync result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "lasync_arena.h"
#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "lasync_result.h"
#include "lasync_secret.h"

#define LIST_PAGE 1000
#define LIST_PAGE_MIN 50	/* the smallest page a slow portal gets */
/* Done operations recorded per pipeline; a crash loses at most this many
 * records, which costs that many idempotent writes on a redelivery. */
#define WRITE_BATCH 64
/* Bulk requests in flight per part: a portal runs the operations of its
 * Bulks one after another anyway; more would only wait, and the last of
 * them would near --portal-timeout-ms. */
#define BULK_IN_FLIGHT 2

struct applier {
	lasync_daemon *d;
	long timeout_ms;
	long concurrency;
	long op_ttl_s;
	char *scim_bulk;	/* "auto" or "off" */
	lasync_param params[5];
	/* tenant id -> listing page size, for portals that could not serve
	 * LIST_PAGE resources within the timeout (until restart) */
	json_t *list_pages;
};

typedef struct ajob_ext {
	ajob aj;
	bool pumping, repump;
	bool no_result;		/* a later part of a failed sync */
	bool finished;
	bool superseded;	/* refused: nothing applied */
	/* earlier attempts of this part (carry_load) */
	json_t *unsure;		/* op id -> true: a create left unanswered */
	uint32_t carried_ops;	/* operations they did */
	json_t *now_unsure;	/* this attempt's unanswered creates */
	int list_page;		/* resources per listing page */
	lasync_arena *cs_arena;	/* holds aj.cs */
} ajob_ext;

static lasync_metric *m_ops, *m_requests, *m_apply_seconds;

applier *applier_new(void)
{
	applier *a = lasync_xcalloc(1, sizeof(*a));
	static const char *const bulk_modes[] = {"auto", "off", NULL};

	a->params[0] = (lasync_param){"portal-timeout-ms", LASYNC_PARAM_INT,
				      "30000", "timeout of one SCIM request",
				      &a->timeout_ms, 100, 600000, false,
				      false, NULL};
	a->params[1] = (lasync_param){"concurrency", LASYNC_PARAM_INT, "8",
				      "SCIM requests in flight per change set",
				      &a->concurrency, 1, 256, false, false,
				      NULL};
	a->params[2] = (lasync_param){"op-ttl-s", LASYNC_PARAM_INT, "1209600",
				      "how long a done operation id is "
				      "remembered",
				      &a->op_ttl_s, 60, 31536000, false, false,
				      NULL};
	a->params[3] = (lasync_param){"scim-bulk", LASYNC_PARAM_STRING, "auto",
				      "SCIM Bulk: auto (where the portal "
				      "announces it) or off",
				      &a->scim_bulk, 0, 0, false, false,
				      bulk_modes};
	return a;
}

void applier_free(applier *a)
{
	applier_bulk_cache_free();
	json_decref(a->list_pages);
	free(a);
}

const lasync_param *applier_params(applier *a)
{
	return a->params;
}

int applier_init(lasync_daemon *d, void *ctx, char *err, size_t errlen)
{
	applier *a = ctx;
	char t[256], g[256];
	static const double buckets[] = {0.01, 0.1, 0.5, 1,   5,
					 10,   30,  60,  300, 900};

	(void)err;
	(void)errlen;
	a->d = d;
	lasync_daemon_subscribe(d, lasync_daemon_topic(d, t, sizeof(t),
						       LASYNC_T_CHANGES, NULL));
	snprintf(g, sizeof(g), "%s-applier", lasync_daemon_prefix(d));
	lasync_daemon_group(d, g);
	lasync_daemon_declare(d, lasync_daemon_topic(d, t, sizeof(t),
						     LASYNC_T_RESULTS, NULL),
			      false);
	m_ops = lasync_metric_counter("lasync_applier_ops_total",
				      "Change-set operations by type and "
				      "outcome",
				      "type,outcome");
	m_requests = lasync_metric_counter(
		"lasync_portal_requests_total",
		"SCIM requests sent to portals, by method", "method");
	m_apply_seconds = lasync_metric_histogram(
		"lasync_apply_seconds", "Time to apply one change-set part",
		NULL, buckets, sizeof(buckets) / sizeof(buckets[0]));
	applier_bulk_init();
	return 0;
}

lasync_http *applier_http(ajob *aj)
{
	return lasync_daemon_http(aj->a->d);
}

const char *applier_prefix(ajob *aj)
{
	return lasync_daemon_prefix(aj->a->d);
}

lasync_redis *applier_redis(ajob *aj)
{
	return lasync_daemon_redis(aj->a->d);
}

long applier_timeout_ms(ajob *aj)
{
	return aj->a->timeout_ms;
}

int applier_vendor(ajob *aj)
{
	return aj->tenant->vendor;
}

void applier_count_write(ajob *aj, const char *method)
{
	aj->counts.portal_writes++;
	lasync_metric_add(m_requests, 1, method);
}

void applier_count_request(ajob *aj, const char *method)
{
	(void)aj;
	lasync_metric_add(m_requests, 1, method);
}

lasync_http_xfer *applier_request(ajob *aj, const char *method,
				  const char *url, const json_t *body,
				  lasync_http_done_fn fn, void *ctx)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	lasync_http_xfer *x;

	if (body != NULL && text == NULL)
		lasync_panic_oom();
	x = applier_request_text(aj, method, url, text, fn, ctx);
	free(text);
	return x;
}

lasync_http_xfer *applier_request_text(ajob *aj, const char *method,
				       const char *url, const char *body,
				       lasync_http_done_fn fn, void *ctx)
{
	const char *hdrs[] = {aj->auth_header,
			      "Content-Type: application/scim+json",
			      "Accept: application/scim+json", NULL};
	lasync_http_req_opts o = {
		.method = method,
		.url = url,
		.headers = hdrs,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = aj->a->timeout_ms,
		.connect_timeout_ms = 5000,
		.max_response = 64u * 1024u * 1024u,
	};

	if (strcmp(method, "GET") == 0)
		lasync_metric_add(m_requests, 1, method);
	return lasync_http_start(applier_http(aj), &o, fn, ctx);
}

/* --- keys ------------------------------------------------------------ */

static const char *key(ajob *aj, char *buf, size_t len, const char *kind,
		       const char *id)
{
	return lasync_redis_key(buf, len, lasync_daemon_prefix(aj->a->d),
				aj->tenant->tenant_id, kind, id);
}

static void ajob_free(ajob *aj)
{
	if (aj == NULL)
		return;
	if (aj->runs != NULL && aj->cs != NULL) {
		for (size_t i = 0; i < aj->cs->n_ops; i++) {
			applier_op_cancel(aj, aj->runs[i]);
			applier_op_free(aj->runs[i]);
		}
	}
	if (aj->list_x != NULL)
		lasync_http_cancel(applier_http(aj), aj->list_x);
	if (aj->link_x != NULL)
		lasync_http_cancel(applier_http(aj), aj->link_x);
	if (aj->retire_x != NULL)
		lasync_http_cancel(applier_http(aj), aj->retire_x);
	if (aj->spc_x != NULL)
		lasync_http_cancel(applier_http(aj), aj->spc_x);
	applier_bulker_free(aj->bulk);
	json_decref(aj->retire);
	free(aj->retire_note);
	json_decref(aj->unlinked);
	json_decref(aj->unlinked_groups);
	json_decref(aj->corr);
	json_decref(aj->decisions);
	free(aj->runs);
	free(aj->done);
	lasync_arena_free(((ajob_ext *)aj)->cs_arena); /* aj->cs */
	lasync_tenant_release(aj->tenant);
	lasync_secret_free(aj->token);
	lasync_secret_free(aj->auth_header);
	applier_ids_free(aj->ids);
	lasync_redis_batch_free(aj->later);
	json_decref(aj->portal);
	json_decref(((ajob_ext *)aj)->unsure);
	json_decref(((ajob_ext *)aj)->now_unsure);
	free(aj);
}

/* --- the end of a part ----------------------------------------------- */

/* flush_later - send the queued Redis writes (done operations, ids); a
 * failure only costs work later, so it is worth a warning */
static void flush_later(ajob *aj)
{
	char err[256];
	size_t n = lasync_redis_batch_len(aj->later);

	if (lasync_redis_batch_flush(applier_redis(aj), aj->later, err,
				     sizeof(err)) != 0)
		lasync_warn("redis_writes_lost",
			    "tenant=%s writes=%zu error=%s", aj->job->key, n,
			    lasync_q(err));
}

/*
 * Counts across attempts.  A part that stops on a transient error is
 * retried from scratch; the retry skips what the attempt before it did
 * (its "op" keys), so the counts of that work would be lost, and a create
 * whose answer never came (a timeout) finds its resource existing and
 * would count as an update.  So every attempt, also one that ends
 * dead-lettered (an operator may replay it), adds its counts to
 * carry:<sync id>:<part>, a hash of ChangeCounts fields (ops_skipped and
 * ops_failed stay the reporting attempt's own), and names there, as
 * "u:<op id>", each create it left unanswered.  The attempt that
 * completes the part reports the sums, and counts such a create as
 * created when it finds the resource already there.
 */
static const char *carry_key(ajob *aj, char *buf, size_t len)
{
	char id[160];

	snprintf(id, sizeof(id), "%s:%u", aj->cs->header->sync_id,
		 aj->cs->part);
	return key(aj, buf, len, "carry", id);
}

/* carry_load - what earlier attempts of this part left; -1 on error */
static int carry_load(ajob *aj, char *err, size_t errlen)
{
	ajob_ext *x = (ajob_ext *)aj;
	char k[256];

	carry_key(aj, k, sizeof(k));
	const char *argv[] = {"HGETALL", k};
	redisReply *rep = lasync_redis_cmd(applier_redis(aj), 2, argv, NULL,
					   err, errlen);

	if (rep == NULL)
		return -1;
	x->unsure = json_object();
	x->now_unsure = json_array();
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY &&
			   i + 1 < rep->elements;
	     i += 2) {
		const redisReply *f = rep->element[i], *v = rep->element[i + 1];

		if (f->type != REDIS_REPLY_STRING)
			continue;
		if (f->len > 2 && strncmp(f->str, "u:", 2) == 0) {
			char id[LASYNC_ID_LEN + 8];

			snprintf(id, sizeof(id), "%.*s", (int)f->len - 2,
				 f->str + 2);
			json_object_set_new(x->unsure, id, json_true());
		} else if (f->len == 9 && memcmp(f->str, "ops_total", 9) == 0 &&
			   v->type == REDIS_REPLY_STRING) {
			x->carried_ops = (uint32_t)strtoul(v->str, NULL, 10);
		}
	}
	freeReplyObject(rep);
	return 0;
}

/* carry_unsure - was op a create an earlier attempt left unanswered? */
static bool carry_unsure(const ajob *aj, const Lasync__V1__Operation *op)
{
	const ajob_ext *x = (const ajob_ext *)aj;

	return x->unsure != NULL &&
	       op->type == LASYNC__V1__OP_TYPE__OP_UPSERT &&
	       json_object_get(x->unsure, op->op_id) != NULL;
}

/* counts_hincr - add aj->counts to the hash k in one pipeline (without
 * ops_skipped and ops_failed unless all; fields that are 0 only with
 * totals), name each op id of unsure there as "u:<id>", keep k for a day;
 * with totals, read the sums back into aj->counts */
static int counts_hincr(ajob *aj, const char *k, bool all, bool totals,
			const json_t *unsure, char *err, size_t errlen)
{
	const ProtobufCMessageDescriptor *d =
		&lasync__v1__change_counts__descriptor;
	size_t nf = d->n_fields, nu = json_array_size(unsure);
	size_t n = nf + nu + 1, c = 0;
	char (*by)[24] = lasync_xcalloc(nf, sizeof(*by));
	const char ***argvs = lasync_xcalloc(n, sizeof(*argvs));
	int *argcs = lasync_xcalloc(n, sizeof(*argcs));
	uint32_t **at = lasync_xcalloc(nf, sizeof(*at));
	char **ufields = lasync_xcalloc(nu + 1, sizeof(*ufields));
	redisReply **reps = lasync_xcalloc(n, sizeof(*reps));
	int rc = -1;

	for (size_t i = 0; i < nf; i++) {
		uint32_t *v = (uint32_t *)((char *)&aj->counts +
					   d->fields[i].offset);

		if ((!all && (strcmp(d->fields[i].name, "ops_skipped") == 0 ||
			      strcmp(d->fields[i].name, "ops_failed") == 0)) ||
		    (*v == 0 && !totals))
			continue;
		snprintf(by[i], sizeof(by[i]), "%u", *v);
		argvs[c] = lasync_xcalloc(4, sizeof(char *));
		argvs[c][0] = "HINCRBY";
		argvs[c][1] = (char *)k;
		argvs[c][2] = d->fields[i].name;
		argvs[c][3] = by[i];
		argcs[c] = 4;
		at[i] = v;
		c++;
	}
	for (size_t i = 0; i < nu; i++) {
		ufields[i] = lasync_xasprintf(
			"u:%s", json_string_value(json_array_get(unsure, i)));
		argvs[c] = lasync_xcalloc(4, sizeof(char *));
		argvs[c][0] = "HSET";
		argvs[c][1] = (char *)k;
		argvs[c][2] = ufields[i];
		argvs[c][3] = "1";
		argcs[c++] = 4;
	}
	argvs[c] = lasync_xcalloc(3, sizeof(char *));
	argvs[c][0] = "EXPIRE";
	argvs[c][1] = (char *)k;
	argvs[c][2] = "86400";
	argcs[c++] = 3;
	if (lasync_redis_pipeline(applier_redis(aj), c, argcs,
				  (const char *const *const *)argvs, NULL,
				  reps, err, errlen) != 0)
		goto out;
	rc = 0;
	for (size_t i = 0, r = 0; i < nf; i++) {
		if (at[i] == NULL)
			continue;
		if (reps[r]->type != REDIS_REPLY_INTEGER) {
			snprintf(err, errlen, "HINCRBY %s: %s", k,
				 reps[r]->type == REDIS_REPLY_ERROR
					 ? reps[r]->str
					 : "unexpected reply");
			rc = -1;
		} else if (totals) {
			*at[i] = (uint32_t)reps[r]->integer;
		}
		r++;
	}
out:
	for (size_t i = 0; i < c; i++) {
		if (reps[i] != NULL)
			freeReplyObject(reps[i]);
		free(argvs[i]);
	}
	for (size_t i = 0; i < nu; i++)
		free(ufields[i]);
	free(ufields);
	free(reps);
	free(at);
	free(argcs);
	free(argvs);
	free(by);
	return rc;
}

/* carry_add - add this attempt's counts to the part's (ops_skipped and
 * ops_failed stay its own); with totals, report the sums */
static int carry_add(ajob *aj, bool totals, char *err, size_t errlen)
{
	ajob_ext *x = (ajob_ext *)aj;
	char k[256];

	carry_key(aj, k, sizeof(k));
	if (counts_hincr(aj, k, false, totals, x->now_unsure, err, errlen) != 0)
		return -1;
	if (totals)	/* done by an earlier attempt, not before this sync */
		aj->counts.ops_skipped = aj->counts.ops_skipped > x->carried_ops
						 ? aj->counts.ops_skipped -
							   x->carried_ops
						 : 0;
	return 0;
}

/* sum_parts - counts of all parts of a multi-part sync, kept in Redis */
static int sum_parts(ajob *aj, char *err, size_t errlen)
{
	char k[256];

	key(aj, k, sizeof(k), "counts", aj->cs->header->sync_id);
	return counts_hincr(aj, k, true, true, NULL, err, errlen);
}

static void part_finished(ajob *aj)
{
	ajob_ext *x = (ajob_ext *)aj;
	lasync_job *job = aj->job;
	char err[512];

	if (x->finished)
		return;
	x->finished = true;
	flush_later(aj);
	lasync_metric_observe(m_apply_seconds,
			      (double)(lasync_now_ms() - aj->started) / 1000.0);
	lasync_info("part_applied",
		    "tenant=%s sync=%s part=%u/%u ops=%zu skipped=%u writes=%u "
		    "failed=%zu transient=%d",
		    job->key, aj->cs->header->sync_id, aj->cs->part,
		    aj->cs->parts, aj->cs->n_ops, aj->counts.ops_skipped,
		    aj->counts.portal_writes, aj->n_permanent, aj->stop);
	if ((aj->stop || aj->n_permanent > 0) &&
	    carry_add(aj, false, err, sizeof(err)) != 0)
		/* (a retry, or an operator's replay of the dead letter, would
		 * report less than the sync did) */
		lasync_warn("counts_not_carried",
			    "tenant=%s sync=%s part=%u error=%s", job->key,
			    aj->cs->header->sync_id, aj->cs->part,
			    lasync_q(err));
	if (aj->stop) {
		lasync_job_finish(job, LASYNC_RETRY, aj->retry_after_ms,
				  "portal_transient", "%s", aj->transient);
		return;
	}
	if (aj->n_permanent > 0) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "portal_rejected",
				  "%zu operation(s) failed; first: %s",
				  aj->n_permanent, aj->permanent);
		return;
	}
	if (carry_add(aj, true, err, sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "redis", "%s", err);
		return;
	}
	if (aj->cs->parts > 1 && sum_parts(aj, err, sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "redis", "%s", err);
		return;
	}
	if (aj->cs->reconcile && aj->cs->part < aj->cs->parts &&
	    applier_retire_keep(aj, err, sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "redis", "%s", err);
		return;
	}
	if (aj->cs->part < aj->cs->parts) {
		lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		return;
	}
	lasync_result_info ri = {
		.tenant_id = job->key,
		.sync_id = aj->cs->header->sync_id,
		.generation = aj->cs->header->generation,
		.vendor = aj->tenant->vendor,
		.outcome = LASYNC__V1__OUTCOME__OUTCOME_OK,
		.stage = "applier",
		.counts = &aj->counts,
		.started_at_ms = aj->started,
		.reason = aj->retire_note,
	};
	if (lasync_result_send(job, lasync_daemon_prefix(aj->a->d), &ri, err,
			       sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce", "%s",
				  err);
		return;
	}
	lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
}

/* busy - requests the job has in flight: operations not waiting for a
 * Bulk, and Bulk requests */
static size_t busy(const ajob *aj)
{
	return aj->inflight - applier_bulk_parked(aj) +
	       applier_bulk_requests(aj);
}

/* bulk_due - send the queued writes now?  When no operation that could
 * still join them is running, and the pump cannot start one: the stage
 * (or the part) is at its end, the job stops, or no Bulk is in flight
 * whose answer the pump would wait for. */
static bool bulk_due(const ajob *aj)
{
	size_t n = aj->cs->n_ops;

	if (!applier_bulk_queued(aj) ||
	    aj->inflight != applier_bulk_parked(aj))
		return false;
	return aj->stop || aj->next >= n ||
	       aj->cs->ops[aj->next]->stage != aj->cur_stage ||
	       applier_bulk_requests(aj) == 0;
}

/* pump - start operations up to the concurrency limit and the stage
 * barrier.  Operations may finish synchronously; re-entry is turned into
 * another round of this loop instead of recursion.  With Bulk, an
 * operation whose write waits in the queue does not count against the
 * limit (its Bulk request does), so a stage's writes gather into Bulks
 * of up to the portal's maxOperations. */
static void pump(ajob *aj)
{
	ajob_ext *x = (ajob_ext *)aj;
	size_t n = aj->cs->n_ops;

	if (x->pumping) {
		x->repump = true;
		return;
	}
	x->pumping = true;
	do {
		x->repump = false;
		while (!aj->stop && busy(aj) < (size_t)aj->a->concurrency &&
		       applier_bulk_requests(aj) < BULK_IN_FLIGHT &&
		       aj->next < n) {
			const Lasync__V1__Operation *op = aj->cs->ops[aj->next];

			if (aj->inflight > 0 && op->stage != aj->cur_stage)
				break; /* stage barrier */
			aj->cur_stage = op->stage;
			size_t idx = aj->next++;

			if (aj->done[idx]) {
				aj->counts.ops_skipped++;
				continue;
			}
			aj->inflight++;
			applier_op_start(aj, idx);
		}
		if (bulk_due(aj))
			applier_bulk_flush(aj);
	} while (x->repump);
	x->pumping = false;
	if (aj->inflight != 0 || (aj->next != n && !aj->stop))
		return;
	if (!aj->stop && aj->n_permanent == 0 && aj->cs->reconcile &&
	    aj->preloaded && aj->cs->part == aj->cs->parts && !aj->retired) {
		aj->retired = true;
		applier_retire_start(aj);
		return;
	}
	part_finished(aj);
}

void applier_job_pump(ajob *aj)
{
	pump(aj);
}

void applier_job_retired(ajob *aj, int o, int retry_after_ms,
			 const char *reason)
{
	if (o == OP_TRANSIENT && !aj->stop) {
		aj->stop = true;
		aj->retry_after_ms = retry_after_ms;
		snprintf(aj->transient, sizeof(aj->transient),
			 "reconcile retire: %s", reason ? reason : "");
	} else if (o == OP_PERMANENT) {
		if (aj->n_permanent++ == 0)
			snprintf(aj->permanent, sizeof(aj->permanent),
				 "reconcile retire: %s", reason ? reason : "");
	}
	part_finished(aj);
}

/* count_patch - count a PATCH that changed a user's or group's own
 * attributes as an update or a deactivation */
static void count_patch(ajob *aj, const Lasync__V1__Operation *op, bool user)
{
	if (user && op->n_set == 1 && op->n_remove == 0 &&
	    strcmp(op->set[0]->path, "active") == 0 &&
	    strcmp(op->set[0]->json, "false") == 0)
		aj->counts.users_deactivated++;
	else if (user)
		aj->counts.users_updated++;
	else
		aj->counts.groups_updated++;
}

void applier_job_op_done(ajob *aj, size_t idx, op_outcome o,
			 int retry_after_ms, const char *reason)
{
	const Lasync__V1__Operation *op = aj->cs->ops[idx];
	oprun *run = aj->runs[idx];
	bool user = op->resource == LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER;
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
		&lasync__v1__op_type__descriptor, (int)op->type);
	const char *tname = ev ? ev->name : "op";
	char k[256];

	aj->runs[idx] = NULL;
	aj->inflight--;
	switch (o) {
	case OP_DONE:
		if (applier_op_queued(run)) {
			aj->counts.users_queued++;
		} else if (applier_op_created(run) ||
			   (carry_unsure(aj, op) && !applier_op_linked(run))) {
			/* (an unsure create was answered too late: it is
			 * there now, and this sync made it) */
			if (user)
				aj->counts.users_created++;
			else
				aj->counts.groups_created++;
		} else if (applier_op_patched(run)) {
			unsigned added, removed;
			bool members =
				op->type == LASYNC__V1__OP_TYPE__OP_ADD_MEMBERS ||
				op->type == LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS ||
				op->type == LASYNC__V1__OP_TYPE__OP_SET_MEMBERS;

			applier_op_members(run, &added, &removed);
			aj->counts.members_added += added;
			aj->counts.members_removed += removed;
			if (!members && !applier_op_linked(run))
				count_patch(aj, op, user);
		}
		if (applier_op_linked(run) && user)
			aj->counts.users_linked++;
		/* A correlated profile now exists: out of the queue (if it
		 * was there), its decision spent. */
		if (user && !applier_op_queued(run) &&
		    (applier_op_created(run) || applier_op_linked(run)) &&
		    aj->corr != NULL &&
		    json_object_get(aj->corr, op->external_id) != NULL)
			applier_link_settled(aj, op->external_id);
		aj->counts.ops_total++;
		/* Not recording costs a repeat of an idempotent write, so the
		 * record goes with the next batch (flush_later). */
		key(aj, k, sizeof(k), "op", op->op_id);
		const char *claim[] = {"SET", k, "1", "NX", "EX", aj->op_ttl};

		lasync_redis_batch_add(aj->later, 6, claim, NULL);
		if (lasync_redis_batch_len(aj->later) >= WRITE_BATCH)
			flush_later(aj);
		lasync_metric_add(m_ops, 1, tname, "done");
		lasync_debug("op_done", "tenant=%s op=%s type=%s ext=%s wrote=%d",
			     aj->job->key, op->op_id, tname, op->external_id,
			     applier_op_created(run) || applier_op_patched(run));
		break;
	case OP_TRANSIENT:
		if (op->type == LASYNC__V1__OP_TYPE__OP_UPSERT &&
		    applier_op_creating(run) &&
		    ((ajob_ext *)aj)->now_unsure != NULL)
			json_array_append_new(((ajob_ext *)aj)->now_unsure,
					      json_string(op->op_id));
		if (!aj->stop) {
			aj->stop = true;
			lasync_strlcpy(aj->transient, reason ? reason : "",
				       sizeof(aj->transient));
		}
		if (retry_after_ms > aj->retry_after_ms)
			aj->retry_after_ms = retry_after_ms;
		lasync_metric_add(m_ops, 1, tname, "transient");
		break;
	case OP_PERMANENT:
		if (aj->n_permanent++ == 0)
			lasync_strlcpy(aj->permanent, reason ? reason : "",
				       sizeof(aj->permanent));
		aj->counts.ops_failed++;
		lasync_warn("op_failed", "tenant=%s op=%s reason=%s",
			    aj->job->key, op->op_id, lasync_q(reason));
		lasync_metric_add(m_ops, 1, tname, "failed");
		break;
	}
	applier_op_free(run);
	pump(aj);
}

/* --- reconcile preload ----------------------------------------------- */

static void list_next(ajob *aj);

int applier_list_page(ajob *aj)
{
	ajob_ext *x = (ajob_ext *)aj;

	if (x->list_page == 0) {
		json_t *p = json_object_get(aj->a->list_pages, aj->job->key);

		x->list_page = p ? (int)json_integer_value(p) : LIST_PAGE;
	}
	return x->list_page;
}

bool applier_list_too_slow(ajob *aj, const lasync_http_result *r, long start)
{
	ajob_ext *x = (ajob_ext *)aj;
	applier *a = aj->a;

	/* A page too large for the portal to serve within the timeout would
	 * fail every attempt alike: ask for half as many, and keep that size
	 * for the tenant's next listings. */
	if (r->curl != CURLE_OPERATION_TIMEDOUT ||
	    applier_list_page(aj) <= LIST_PAGE_MIN)
		return false;
	x->list_page = x->list_page / 2 < LIST_PAGE_MIN ? LIST_PAGE_MIN
							: x->list_page / 2;
	if (a->list_pages == NULL)
		a->list_pages = json_object();
	json_object_set_new(a->list_pages, aj->job->key,
			    json_integer(x->list_page));
	lasync_warn("portal_list_slow", "tenant=%s start=%ld seconds=%.1f page=%d",
		    aj->job->key, start, r->seconds, x->list_page);
	return true;
}

static void on_list(void *ctx, const lasync_http_result *r)
{
	ajob *aj = ctx;
	char reason[256];
	scim_verdict v;

	aj->list_x = NULL;
	if (applier_list_too_slow(aj, r, aj->list_start)) {
		list_next(aj);
		return;
	}
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v != SCIM_OK) {
		ajob_ext *x = (ajob_ext *)aj;

		x->finished = true;
		lasync_job_finish(aj->job,
				  v == SCIM_TRANSIENT ? LASYNC_RETRY
						      : LASYNC_DEAD,
				  (int)r->retry_after_s * 1000,
				  v == SCIM_TRANSIENT ? "portal_transient"
						      : "portal_rejected",
				  "listing the portal: %s", reason);
		return;
	}
	json_t *doc = json_loadb(r->body, r->len, 0, NULL);
	json_t *res = json_object_get(doc, "Resources"), *e;
	long total = (long)json_integer_value(
		json_object_get(doc, "totalResults"));
	size_t i, got = json_array_size(res);

	json_array_foreach(res, i, e) {
		const char *ext = json_string_value(
			json_object_get(e, "externalId"));
		const char *id = json_string_value(json_object_get(e, "id"));

		if (id == NULL)
			continue;
		if (ext == NULL) {
			if (aj->list_type ==
			    LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP)
				json_array_append(aj->unlinked_groups, e);
			continue;
		}
		json_object_set(aj->portal, ext, e);
		applier_ids_seed(aj->ids, ext, id);
	}
	json_decref(doc);
	aj->list_start += (long)got;
	if (got == 0 || aj->list_start > total) {
		if (aj->list_type == LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER) {
			aj->list_type = LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP;
			aj->list_start = 1;
		} else {
			aj->preloaded = true;
			lasync_info("portal_listed", "tenant=%s resources=%zu",
				    aj->job->key, json_object_size(aj->portal));
			applier_link_prepare(aj);
			return;
		}
	}
	list_next(aj);
}

static void list_next(ajob *aj)
{
	char *base = applier_scim_url(aj->tenant->portal_base_url,
				      aj->list_type, NULL, NULL, NULL);
	char *url = lasync_xasprintf("%s?startIndex=%ld&count=%d", base,
				     aj->list_start, applier_list_page(aj));

	aj->list_x = applier_request(aj, "GET", url, NULL, on_list, aj);
	free(url);
	free(base);
}

/* --- job ops --------------------------------------------------------- */

/* check_redis - watermark, failed-sync marker, done operations */
static int check_redis(ajob *aj, int64_t *applied_gen, bool *sync_failed,
		       char *err, size_t errlen)
{
	size_t n = aj->cs->n_ops;
	char kw[256], kf[256];
	char **keys = lasync_xcalloc(n + 1, sizeof(*keys));
	int rc = -1;

	key(aj, kw, sizeof(kw), "applied", NULL);
	key(aj, kf, sizeof(kf), "failed-sync", aj->cs->header->sync_id);
	const char *a1[] = {"GET", kw}, *a2[] = {"GET", kf};
	const char *const *argvs[] = {a1, a2};
	const int argcs[] = {2, 2};
	redisReply *reps[2] = {NULL, NULL};

	if (lasync_redis_pipeline(applier_redis(aj), 2, argcs, argvs, NULL,
				  reps, err, errlen) != 0)
		goto out;
	*applied_gen = 0;
	if (reps[0]->type == REDIS_REPLY_STRING) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%.*s", (int)reps[0]->len,
			 reps[0]->str);
		*applied_gen = strtoll(buf, NULL, 10);
	}
	/* The marker holds the part that failed: later parts follow it into
	 * the dead-letter topic; that part itself (replayed) may run. */
	*sync_failed = false;
	if (reps[1]->type == REDIS_REPLY_STRING) {
		char v[16];

		snprintf(v, sizeof(v), "%.*s", (int)reps[1]->len, reps[1]->str);
		*sync_failed = strtol(v, NULL, 10) < (long)aj->cs->part;
	}
	freeReplyObject(reps[0]);
	freeReplyObject(reps[1]);
	for (size_t i = 0; i < n; i++) {
		char k[256];

		keys[i] = lasync_xstrdup(key(aj, k, sizeof(k), "op",
					     aj->cs->ops[i]->op_id));
	}
	if (lasync_redis_exists_many(applier_redis(aj),
				     (const char *const *)keys, n, aj->done,
				     err, errlen) != 0)
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return rc;
}

/* drop_expected - the mapper's expected state no longer holds: delete it
 * and ask for a reconcile (DESIGN §2) */
static void drop_expected(ajob *aj, const char *why)
{
	char ke[256], km[256], err[256];
	const char *sid = aj->cs->header->sync_id;

	key(aj, ke, sizeof(ke), "expected", NULL);
	key(aj, km, sizeof(km), "reconcile", NULL);
	const char *a1[] = {"DEL", ke}, *a2[] = {"SET", km, sid};
	const char *const *argvs[] = {a1, a2};
	const int argcs[] = {2, 3};
	redisReply *reps[2] = {NULL, NULL};

	if (lasync_redis_pipeline(applier_redis(aj), 2, argcs, argvs, NULL,
				  reps, err, sizeof(err)) != 0) {
		lasync_error("expected_not_dropped", "tenant=%s error=%s",
			     aj->job->key, lasync_q(err));
		return;
	}
	freeReplyObject(reps[0]);
	freeReplyObject(reps[1]);
	lasync_info("expected_dropped", "tenant=%s sync=%s reason=%s",
		    aj->job->key, sid, why);
}

void applier_start(void *ctx, lasync_job *job)
{
	applier *a = ctx;
	ajob_ext *x = lasync_xcalloc(1, sizeof(*x));
	ajob *aj = &x->aj;
	char err[512] = "";
	int64_t applied = 0;
	bool sync_failed = false;
	ProtobufCAllocator pba;

	applier_release(ctx, job); /* a retry starts from scratch */
	job->state = aj;
	aj->a = a;
	aj->job = job;
	aj->started = lasync_now_ms();
	lasync__v1__change_counts__init(&aj->counts);
	/* Decoded into one arena: a job's change set is thousands of small
	 * strings, which malloc would scatter over the heap between the other
	 * jobs' allocations; one chunk of the size they take (measured: 2.5
	 * times the message, at most 3) comes from mmap and goes back whole,
	 * and pages of it never written cost nothing. */
	x->cs_arena = lasync_arena_new_chunk(3 * job->len + 4096);
	lasync_arena_protobuf(x->cs_arena, &pba);
	aj->cs = lasync__v1__change_set__unpack(&pba, job->len, job->payload);
	if (aj->cs == NULL) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "decode",
				  "undecodable ChangeSet (%zu bytes)",
				  job->len);
		return;
	}
	if (lasync_header_valid(aj->cs->header, err, sizeof(err)) != 0 ||
	    strcmp(aj->cs->header->tenant_id, job->key) != 0 ||
	    aj->cs->part == 0 || aj->cs->part > aj->cs->parts) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "schema", "%s",
				  err[0] ? err : "key/tenant or part mismatch");
		return;
	}
	/* (the group links of a first-run apply must be in force) */
	aj->tenant = lasync_daemon_job_tenant(a->d, job,
					      aj->cs->header->config_revision);
	if (aj->tenant == NULL)
		return;
	lasync_tenant_hold(aj->tenant);
	if ((int)aj->cs->vendor != aj->tenant->vendor) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "wrong_vendor",
				  "change set of vendor %d for a %s tenant",
				  (int)aj->cs->vendor,
				  lasync_vendor_name(aj->tenant->vendor));
		return;
	}
	aj->token = lasync_secret_resolve(aj->tenant->portal_token_ref, err,
					  sizeof(err));
	if (aj->token == NULL) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "config", "%s", err);
		return;
	}
	aj->auth_header = lasync_xasprintf("Authorization: Bearer %s",
					   aj->token);
	aj->runs = lasync_xcalloc(aj->cs->n_ops + 1, sizeof(*aj->runs));
	aj->done = lasync_xcalloc(aj->cs->n_ops + 1, sizeof(*aj->done));
	aj->later = lasync_redis_batch_new();
	snprintf(aj->op_ttl, sizeof(aj->op_ttl), "%ld", a->op_ttl_s);
	aj->ids = applier_ids_new(aj->later);
	key(aj, aj->ids_key, sizeof(aj->ids_key), "ids", NULL);
	if (check_redis(aj, &applied, &sync_failed, err, sizeof(err)) != 0 ||
	    carry_load(aj, err, sizeof(err)) != 0 ||
	    applier_ids_load(aj->ids, applier_redis(aj), aj->ids_key, err,
			     sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "redis", "%s", err);
		return;
	}
	if (sync_failed) {
		x->no_result = true;
		lasync_job_finish(job, LASYNC_DEAD, 0, "sync_failed",
				  "an earlier part of sync %s failed",
				  aj->cs->header->sync_id);
		return;
	}
	if (applied > aj->cs->header->generation) {
		/* A late replay must never put old values back. */
		x->finished = true;
		x->superseded = true;
		drop_expected(aj, "superseded");
		char why[160];

		snprintf(why, sizeof(why),
			 "generation %lld is older than the applied %lld",
			 (long long)aj->cs->header->generation,
			 (long long)applied);
		lasync_result_info ri = {
			.tenant_id = job->key,
			.sync_id = aj->cs->header->sync_id,
			.generation = aj->cs->header->generation,
			.vendor = aj->tenant->vendor,
			.outcome = LASYNC__V1__OUTCOME__OUTCOME_SUPERSEDED,
			.stage = "applier",
			.error_class = "superseded",
			.reason = why,
			.started_at_ms = aj->started,
		};
		if (aj->cs->part == 1 &&
		    lasync_result_send(job, lasync_daemon_prefix(a->d), &ri, err,
				       sizeof(err)) != 0) {
			lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce",
					  "%s", err);
			return;
		}
		lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		return;
	}
	lasync_info("part_start",
		    "tenant=%s sync=%s part=%u/%u ops=%zu reconcile=%d "
		    "attempt=%u",
		    job->key, aj->cs->header->sync_id, aj->cs->part,
		    aj->cs->parts, aj->cs->n_ops, aj->cs->reconcile,
		    job->attempt);
	applier_bulk_prepare(aj, strcmp(a->scim_bulk, "off") != 0);
}

void applier_job_discovered(ajob *aj)
{
	if (aj->cs->reconcile) {
		aj->portal = json_object();
		aj->unlinked_groups = json_array();
		aj->list_type = LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER;
		aj->list_start = 1;
		list_next(aj);
		return;
	}
	applier_link_prepare(aj);
}

void applier_job_prepared(ajob *aj, int o, int retry_after_ms,
			  const char *reason)
{
	ajob_ext *x = (ajob_ext *)aj;

	if (o == OP_DONE) {
		pump(aj);
		return;
	}
	x->finished = true;
	lasync_job_finish(aj->job,
			  o == OP_TRANSIENT ? LASYNC_RETRY : LASYNC_DEAD,
			  retry_after_ms,
			  o == OP_TRANSIENT ? "portal_transient"
					    : "portal_rejected",
			  "listing unlinked profiles: %s", reason);
}

/* applier_acked - the part is done and its output in Kafka: a replayed
 * part that had failed lifts its sync's failure marker (so the parts after
 * it, replayed in order, run too); the last part advances the watermark */
int applier_acked(void *ctx, lasync_job *job, char *err, size_t errlen)
{
	static const char lua[] =
		"if redis.call('GET', KEYS[1]) == ARGV[1] then "
		"redis.call('DEL', KEYS[1]) end "
		"if ARGV[2] ~= '' and tonumber(ARGV[2]) > "
		"tonumber(redis.call('GET', KEYS[2]) or '0') then "
		"redis.call('SET', KEYS[2], ARGV[2]) end "
		"return 1";
	applier *a = ctx;
	ajob *aj = job->state;
	char kf[256], kw[256], part[16], gen[32] = "";
	redisReply *rep;

	(void)a;
	if (aj == NULL || aj->cs == NULL || aj->tenant == NULL ||
	    aj->n_permanent > 0 || aj->stop || ((ajob_ext *)aj)->superseded)
		return 0;
	key(aj, kf, sizeof(kf), "failed-sync", aj->cs->header->sync_id);
	key(aj, kw, sizeof(kw), "applied", NULL);
	snprintf(part, sizeof(part), "%u", aj->cs->part);
	if (aj->cs->part == aj->cs->parts)
		snprintf(gen, sizeof(gen), "%lld",
			 (long long)aj->cs->header->generation);
	const char *argv[] = {"EVAL", lua, "2", kf, kw, part, gen};

	rep = lasync_redis_cmd(applier_redis(aj), 7, argv, NULL, err, errlen);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

void applier_abandon(void *ctx, lasync_job *job)
{
	applier_release(ctx, job);
}

void applier_release(void *ctx, lasync_job *job)
{
	(void)ctx;
	ajob_free(job->state);
	job->state = NULL;
}

/* applier_dead - the sync fails: mark it (its later parts follow), drop
 * the expected state, and report */
void applier_dead(void *ctx, lasync_job *job, const char *cls,
		  const char *error)
{
	applier *a = ctx;
	ajob *aj = job->state;
	ajob_ext *x = (ajob_ext *)aj;
	char err[256], k[256];

	if (aj == NULL || aj->cs == NULL || aj->cs->header == NULL ||
	    aj->tenant == NULL || x->no_result)
		return;
	char part[16];

	key(aj, k, sizeof(k), "failed-sync", aj->cs->header->sync_id);
	snprintf(part, sizeof(part), "%u", aj->cs->part);
	const char *argv[] = {"SET", k, part, "EX", "604800"};
	redisReply *rep = lasync_redis_cmd(applier_redis(aj), 5, argv, NULL,
					   err, sizeof(err));

	if (rep != NULL)
		freeReplyObject(rep);
	drop_expected(aj, cls);
	lasync_result_info ri = {
		.tenant_id = job->key,
		.sync_id = aj->cs->header->sync_id,
		.generation = aj->cs->header->generation,
		.vendor = aj->tenant->vendor,
		.outcome = LASYNC__V1__OUTCOME__OUTCOME_FAILED,
		.stage = "applier",
		.error_class = cls,
		.reason = error,
		.counts = &aj->counts,
		.started_at_ms = aj->started,
	};
	if (lasync_result_send(job, lasync_daemon_prefix(a->d), &ri, err,
			       sizeof(err)) != 0)
		lasync_error("result_not_sent", "tenant=%s error=%s", job->key,
			     lasync_q(err));
}
