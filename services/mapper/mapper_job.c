/*
 * mapper_job.c - one snapshot through parse, rules and diff (see mapper.h).
 *
 * The work is CPU-bound and short (tens of milliseconds for a large
 * school), so it runs synchronously in start(); only Redis and Kafka are
 * I/O.  Dispositions: an undecodable or malformed snapshot, or one of
 * another school (R1), is DEAD with a failed sync result; Redis trouble is
 * RETRY.  A snapshot older than the expected state is superseded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "lasync_result.h"
#include "mapper.h"
#include "mapper_adapter.h"
#include "mapper_diff.h"
#include "mapper_guard.h"
#include "mapper_rules.h"

/* Parts are kept well under the 16 MiB event limit. */
#define PART_BYTES (8u * 1024u * 1024u)
#define MAX_DOCS 8

struct mapper {
	lasync_daemon *d;
	char *vendor_name;
	int vendor;
	long max_doc_bytes;
	long state_ttl_s;
	char topic_changes[256];
	char topic_held[256];
	lasync_param params[4];
};

typedef struct mjob {
	Lasync__V1__Snapshot *snap;
	int64_t started;
	bool write_state;
	uint8_t *state;		/* zstd PortalState to write once acked */
	size_t state_len;
	char *marker;		/* reconcile marker seen, to clear */
	int64_t config_revision; /* of the tenant config the mapping used */
	uint8_t *firstrun;	/* R19: the desired state, for first-run plans */
	size_t firstrun_len;
	char **dirty;		/* R9: profiles a parent edited (sorted) */
	size_t n_dirty;
	/* The unchanged-snapshot fast path (see fast_check()). */
	char digest[LASYNC_ID_LEN]; /* of the mapping's inputs; "" = none */
	long valid_from;	/* the sync dates the mapping holds for */
	long valid_until;
	bool fast_record;	/* with the expected state: a fast record */
	bool fast_hit;		/* mapped by the fast path */
} mjob;

/* A verified fast record: what the last sync that changed nothing was
 * mapped from (written with the expected state it left, see
 * mapper_acked()). */
typedef struct fast_rec {
	bool verified;		/* it belongs to the current expected state */
	bool clean;		/* no reconcile marker, no dirty profiles */
	char digest[LASYNC_ID_LEN];
	int64_t generation;
	long valid_from, valid_until;
	char sync_id[LASYNC_ID_LEN];	/* the sync that wrote or hit it */
} fast_rec;

static lasync_metric *m_map_seconds, *m_ops, *m_records, *m_held,
	*m_unchanged;

mapper *mapper_new(void)
{
	mapper *m = lasync_xcalloc(1, sizeof(*m));
	static const char *const vendors[] = {"parnassys", "esis", NULL};

	m->params[0] = (lasync_param){"vendor", LASYNC_PARAM_STRING, NULL,
				      "LAS vendor this worker serves",
				      &m->vendor_name, 0, 0, true, false,
				      vendors};
	m->params[1] = (lasync_param){"max-doc-bytes", LASYNC_PARAM_INT,
				      "134217728",
				      "largest decompressed LAS document",
				      &m->max_doc_bytes, 1024, 1073741824,
				      false, false, NULL};
	m->params[2] = (lasync_param){"state-ttl-s", LASYNC_PARAM_INT,
				      "3024000",
				      "lifetime of a tenant's expected state "
				      "in Redis (renewed every sync)",
				      &m->state_ttl_s, 3600, 315360000, false,
				      false, NULL};
	return m;
}

void mapper_free(mapper *m)
{
	free(m);
}

const lasync_param *mapper_params(mapper *m)
{
	return m->params;
}

int mapper_init(lasync_daemon *d, void *ctx, char *err, size_t errlen)
{
	mapper *m = ctx;
	char t[256], g[256];
	static const double buckets[] = {0.001, 0.01, 0.05, 0.1, 0.5,
					 1,     2,    5,    10};

	m->d = d;
	m->vendor = lasync_vendor_parse(m->vendor_name);
	if (mapper_adapter_for(m->vendor) == NULL) {
		snprintf(err, errlen, "vendor %s has no mapper adapter yet",
			 m->vendor_name);
		return -1;
	}
	lasync_daemon_subscribe(d, lasync_daemon_topic(d, t, sizeof(t),
						       LASYNC_T_SNAPSHOTS,
						       m->vendor_name));
	snprintf(g, sizeof(g), "%s-mapper-%s", lasync_daemon_prefix(d),
		 m->vendor_name);
	lasync_daemon_group(d, g);
	lasync_daemon_topic(d, m->topic_changes, sizeof(m->topic_changes),
			    LASYNC_T_CHANGES, NULL);
	lasync_daemon_declare(d, m->topic_changes, false);
	lasync_daemon_topic(d, m->topic_held, sizeof(m->topic_held),
			    LASYNC_T_HELD, NULL);
	lasync_daemon_declare(d, m->topic_held, true);
	lasync_daemon_declare(d, lasync_daemon_topic(d, t, sizeof(t),
						     LASYNC_T_RESULTS, NULL),
			      false);
	m_map_seconds = lasync_metric_histogram(
		"lasync_map_seconds",
		"Time to parse, map and diff one snapshot", "vendor", buckets,
		sizeof(buckets) / sizeof(buckets[0]));
	m_ops = lasync_metric_counter("lasync_mapper_ops_total",
				      "Portal operations planned, by vendor",
				      "vendor");
	m_held = lasync_metric_gauge(
		"lasync_tenant_held",
		"1 while the tenant's newest sync is held by the deletion guard "
		"(R17)",
		"tenant");
	m_records = lasync_metric_counter(
		"lasync_mapper_records_total",
		"LAS records mapped (students, guardians, staff, groups)",
		"vendor");
	m_unchanged = lasync_metric_counter(
		"lasync_mapper_unchanged_total",
		"Snapshots found unchanged and not mapped again (fast path)",
		"vendor");
	return 0;
}

static void mjob_free(mjob *mj)
{
	if (mj == NULL)
		return;
	if (mj->snap)
		lasync__v1__snapshot__free_unpacked(mj->snap, NULL);
	free(mj->state);
	free(mj->firstrun);
	free(mj->marker);
	for (size_t i = 0; i < mj->n_dirty; i++)
		free(mj->dirty[i]);
	free(mj->dirty);
	free(mj);
}

static void key_expected(mapper *m, const char *tenant, char *buf, size_t len)
{
	lasync_redis_key(buf, len, lasync_daemon_prefix(m->d), tenant,
			 "expected", NULL);
}

static void key_marker(mapper *m, const char *tenant, char *buf, size_t len)
{
	lasync_redis_key(buf, len, lasync_daemon_prefix(m->d), tenant,
			 "reconcile", NULL);
}

static void key_dirty(mapper *m, const char *tenant, char *buf, size_t len)
{
	lasync_redis_key(buf, len, lasync_daemon_prefix(m->d), tenant, "dirty",
			 NULL);
}

static void key_fast(mapper *m, const char *tenant, char *buf, size_t len)
{
	lasync_redis_key(buf, len, lasync_daemon_prefix(m->d), tenant, "fast",
			 NULL);
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* send_result - a result for a sync that ends in the mapper */
static int send_result(mapper *m, lasync_job *job, mjob *mj,
		       Lasync__V1__Outcome outcome, const char *cls,
		       const char *reason,
		       const Lasync__V1__ChangeCounts *counts,
		       const char *report)
{
	char err[256];
	lasync_result_info ri = {
		.tenant_id = job->key,
		.sync_id = mj->snap->header->sync_id,
		.generation = mj->snap->header->generation,
		.vendor = m->vendor,
		.outcome = outcome,
		.stage = "mapper",
		.error_class = cls,
		.reason = reason,
		.counts = counts,
		.started_at_ms = mj->started,
		.report = report,
	};

	if (lasync_result_send(job, lasync_daemon_prefix(m->d), &ri, err,
			       sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce", "%s",
				  err);
		return -1;
	}
	return 0;
}

/* load_expected - the expected state, the reconcile marker and the dirty
 * profiles (R9); 0 (state may be NULL), or -1 on a Redis error */
static int load_expected(mapper *m, const char *tenant, mjob *mj,
			 lasync_state **out, char *err, size_t errlen)
{
	char k1[256], k2[256], k3[256];
	const char *a1[] = {"GET", k1}, *a2[] = {"GET", k2},
		   *a3[] = {"SMEMBERS", k3};
	const char *const *argvs[] = {a1, a2, a3};
	const int argcs[] = {2, 2, 2};
	redisReply *reps[3] = {NULL, NULL, NULL};
	lasync_redis *r = lasync_daemon_redis(m->d);

	*out = NULL;
	key_expected(m, tenant, k1, sizeof(k1));
	key_marker(m, tenant, k2, sizeof(k2));
	key_dirty(m, tenant, k3, sizeof(k3));
	if (lasync_redis_pipeline(r, 3, argcs, argvs, NULL, reps, err,
				  errlen) != 0)
		return -1;
	if (reps[1]->type == REDIS_REPLY_STRING)
		mj->marker = lasync_xstrndup(reps[1]->str, reps[1]->len);
	if (reps[2]->type == REDIS_REPLY_ARRAY && reps[2]->elements > 0) {
		mj->dirty = lasync_xcalloc(reps[2]->elements, sizeof(char *));
		for (size_t i = 0; i < reps[2]->elements; i++)
			if (reps[2]->element[i]->type == REDIS_REPLY_STRING)
				mj->dirty[mj->n_dirty++] = lasync_xstrndup(
					reps[2]->element[i]->str,
					reps[2]->element[i]->len);
		if (mj->n_dirty > 1)
			qsort(mj->dirty, mj->n_dirty, sizeof(char *),
			      cmp_cstr);
	}
	if (reps[0]->type == REDIS_REPLY_STRING) {
		char derr[256];
		size_t raw_len;
		uint8_t *raw = lasync_zstd_decompress(
			reps[0]->str, reps[0]->len, 1024u * 1024u * 1024u,
			&raw_len, derr, sizeof(derr));

		if (raw != NULL) {
			*out = lasync_state_decode(raw, raw_len, derr,
						   sizeof(derr));
			free(raw);
		}
		if (*out == NULL)
			lasync_warn("expected_state_unreadable",
				    "tenant=%s error=%s action=reconcile",
				    tenant, lasync_q(derr));
	}
	for (int i = 0; i < 3; i++)
		freeReplyObject(reps[i]);
	return 0;
}

/* send_held - the held-syncs record (HELD) or a tombstone (held == NULL) */
static int send_held(mapper *m, lasync_job *job, mjob *mj,
		     Lasync__V1__HeldSync *held, char *err, size_t errlen)
{
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (held != NULL) {
		lasync_header_fill(&h, eid, job->key,
				   mj->snap->header->sync_id,
				   mj->snap->header->generation, "mapper",
				   job->attempt);
		held->header = &h;
		held->tenant_id = job->key;
		held->sync_id = mj->snap->header->sync_id;
		held->generation = mj->snap->header->generation;
		held->sync_date = mj->snap->sync_date;
		held->as_of = mj->snap->as_of;
		held->state = LASYNC__V1__HELD_STATE__HELD;
		len = lasync__v1__held_sync__get_packed_size(held);
		buf = lasync_xmalloc(len);
		lasync__v1__held_sync__pack(held, buf);
	}
	rc = lasync_job_produce(job, m->topic_held, job->key, buf, len, NULL,
				err, errlen);
	free(buf);
	return rc;
}

/* produce_parts - the change set, split into ordered parts */
static int produce_parts(mapper *m, lasync_job *job, mjob *mj,
			 const mapper_ops *ops, bool reconcile, char *err,
			 size_t errlen)
{
	size_t n = ops->n, first = 0, parts = 0;
	size_t *ends = lasync_xcalloc(n + 1, sizeof(*ends));
	size_t acc = 0;
	int rc = 0;

	/* Cut points: a part holds operations up to PART_BYTES. */
	for (size_t i = 0; i < n; i++) {
		size_t sz = lasync__v1__operation__get_packed_size(ops->ops[i]) +
			    8;

		if (acc > 0 && acc + sz > PART_BYTES) {
			ends[parts++] = i;
			acc = 0;
		}
		acc += sz;
	}
	ends[parts++] = n;
	for (size_t p = 0; p < parts && rc == 0; p++) {
		Lasync__V1__ChangeSet cs = LASYNC__V1__CHANGE_SET__INIT;
		Lasync__V1__Header h;
		char eid[LASYNC_ID_LEN];
		size_t len;
		uint8_t *buf;

		lasync_header_fill(&h, eid, job->key, mj->snap->header->sync_id,
				   mj->snap->header->generation, "mapper",
				   job->attempt);
		h.config_revision = mj->config_revision;
		cs.header = &h;
		cs.vendor = (Lasync__V1__Vendor)m->vendor;
		cs.part = (uint32_t)p + 1;
		cs.parts = (uint32_t)parts;
		cs.reconcile = reconcile;
		cs.approved_deactivations = mj->snap->approved_deactivations;
		cs.preview = false;
		cs.sync_date = mj->snap->sync_date;
		cs.ops = ops->ops + first;
		cs.n_ops = ends[p] - first;
		if (p == 0)
			cs.planned = (Lasync__V1__ChangeCounts *)&ops->counts;
		len = lasync__v1__change_set__get_packed_size(&cs);
		buf = lasync_xmalloc(len);
		lasync__v1__change_set__pack(&cs, buf);
		rc = lasync_job_produce(job, m->topic_changes, job->key, buf,
					len, NULL, err, errlen);
		free(buf);
		first = ends[p];
	}
	free(ends);
	return rc;
}

/* decode_docs - decompressed documents of the snapshot; -1 with err */
static int decode_docs(mapper *m, const Lasync__V1__Snapshot *s,
		       mapper_doc *docs, uint8_t **bufs, char *err,
		       size_t errlen)
{
	if (s->n_documents == 0 || s->n_documents > MAX_DOCS) {
		snprintf(err, errlen, "snapshot has %zu documents",
			 s->n_documents);
		return -1;
	}
	for (size_t i = 0; i < s->n_documents; i++) {
		const Lasync__V1__Document *d = s->documents[i];
		char derr[200];

		docs[i].name = d->name;
		if (strcmp(d->encoding, "identity") == 0) {
			if (d->content.len > (size_t)m->max_doc_bytes) {
				snprintf(err, errlen,
					 "document %s: %zu bytes exceeds the "
					 "limit of %ld",
					 d->name, d->content.len,
					 m->max_doc_bytes);
				return -1;
			}
			docs[i].data = (const char *)d->content.data;
			docs[i].len = d->content.len;
			continue;
		}
		if (strcmp(d->encoding, "zstd") != 0) {
			snprintf(err, errlen, "document %s: unknown encoding %s",
				 d->name, d->encoding);
			return -1;
		}
		bufs[i] = lasync_zstd_decompress(d->content.data,
						 d->content.len,
						 (size_t)m->max_doc_bytes,
						 &docs[i].len, derr,
						 sizeof(derr));
		if (bufs[i] == NULL) {
			snprintf(err, errlen, "document %s: %s", d->name, derr);
			return -1;
		}
		docs[i].data = (const char *)bufs[i];
	}
	return 0;
}

/* state_blob - the next expected state, compressed for Redis.  The same
 * inputs, diffed against it, plan nothing (consecutive syncs compose:
 * test_next_state_composes), so it carries a fast record of them. */
static void state_blob(mjob *mj, const mapper_rules_stats *stats,
		       lasync_state *next)
{
	size_t raw_len;
	uint8_t *raw = lasync_state_encode(next, &raw_len);

	mj->state = lasync_zstd_compress(raw, raw_len, 3, &mj->state_len);
	mj->write_state = true;
	mj->fast_record = mj->digest[0] != '\0';
	mj->valid_from = stats->valid_from;
	mj->valid_until = stats->valid_until;
	free(raw);
}

/*
 * The unchanged-snapshot fast path.  Most nightly syncs find the school as
 * it was.  The mapping is a function of the snapshot's documents, the
 * tenant's configuration, the program itself, the sync date, and in Redis
 * the expected state, the reconcile marker and the dirty profiles.  With
 * every expected state it writes, the mapper records a digest of the
 * first four, the sync dates its mapping holds for (mapper_rules_stats)
 * and a SHA-1 of that state, atomically with it.  The same inputs diffed
 * against the state they left plan nothing (consecutive syncs compose,
 * test_mapper_diff).  So a later snapshot with the same digest, a sync
 * date in the window, no marker, no dirty profile and the expected state
 * still byte for byte the one recorded would map to the same desired
 * state and plan nothing: it gets that result without being parsed.
 * Anything else - a new document byte, a config change, a new build, a
 * date past a 4th birthday or a placement's end, a parent's edit, an
 * applier that dropped the expected state - takes the full path.
 */

/* input_digest - lasync_digest of the inputs outside Redis and the date;
 * false when the fast path does not apply to this snapshot */
static bool input_digest(mapper *m, const lasync_tenant *t,
			 const Lasync__V1__Snapshot *s,
			 char out[LASYNC_ID_LEN])
{
	const char *build = lasync_build_id();
	lasync_digest *d;

	out[0] = '\0';
	if (build == NULL || t->state != LASYNC_TENANT_ACTIVE || s->preview ||
	    s->full || s->approved_deactivations != 0 ||
	    s->n_documents == 0 || s->n_documents > MAX_DOCS)
		return false;
	d = lasync_digest_new();
	lasync_digest_add_str(d, "lasync-mapper-fast/1");
	lasync_digest_add_str(d, build);
	lasync_digest_add_str(d, t->tenant_id);
	lasync_digest_add_i64(d, t->revision);
	lasync_digest_add_i64(d, m->vendor);
	lasync_digest_add_i64(d, (int64_t)s->vendor);
	lasync_digest_add_i64(d, m->max_doc_bytes);
	for (size_t i = 0; i < s->n_documents; i++) {
		const Lasync__V1__Document *doc = s->documents[i];

		lasync_digest_add_str(d, doc->name);
		lasync_digest_add_str(d, doc->encoding);
		lasync_digest_add(d, doc->content.data, doc->content.len);
	}
	lasync_digest_final(d, out);
	return true;
}

static long reply_long(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return (long)r->integer;
	if (r->type == REDIS_REPLY_STRING)
		return strtol(r->str, NULL, 10);
	return 0;
}

/* fast_check - the tenant's fast record, verified against the expected
 * state in Redis itself; 0, or -1 on a Redis error */
static int fast_check(mapper *m, const char *tenant, fast_rec *fr, char *err,
		      size_t errlen)
{
	static const char lua[] =
		"local f = redis.call('HMGET', KEYS[1], 'digest', 'sha', "
		"'gen', 'from', 'until', 'sync') "
		"if not f[1] then return {0} end "
		"local e = redis.call('GET', KEYS[2]) "
		"if not e or redis.sha1hex(e) ~= f[2] then return {0} end "
		"local clean = 1 "
		"if redis.call('EXISTS', KEYS[3]) == 1 or "
		"redis.call('SCARD', KEYS[4]) > 0 then clean = 0 end "
		"return {1, clean, f[1], f[3], f[4], f[5], f[6] or ''}";
	char k1[256], k2[256], k3[256], k4[256];
	const char *argv[] = {"EVAL", lua, "4", k1, k2, k3, k4};
	redisReply *rep;

	memset(fr, 0, sizeof(*fr));
	key_fast(m, tenant, k1, sizeof(k1));
	key_expected(m, tenant, k2, sizeof(k2));
	key_marker(m, tenant, k3, sizeof(k3));
	key_dirty(m, tenant, k4, sizeof(k4));
	rep = lasync_redis_cmd(lasync_daemon_redis(m->d), 7, argv, NULL, err,
			       errlen);
	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 7 &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[0]->integer == 1 &&
	    rep->element[2]->type == REDIS_REPLY_STRING &&
	    rep->element[2]->len < sizeof(fr->digest)) {
		fr->verified = true;
		fr->clean = rep->element[1]->type == REDIS_REPLY_INTEGER &&
			    rep->element[1]->integer == 1;
		memcpy(fr->digest, rep->element[2]->str, rep->element[2]->len);
		fr->generation = rep->element[3]->type == REDIS_REPLY_STRING
					 ? strtoll(rep->element[3]->str, NULL,
						   10)
					 : 0;
		fr->valid_from = reply_long(rep->element[4]);
		fr->valid_until = reply_long(rep->element[5]);
		if (rep->element[6]->type == REDIS_REPLY_STRING &&
		    rep->element[6]->len < sizeof(fr->sync_id))
			memcpy(fr->sync_id, rep->element[6]->str,
			       rep->element[6]->len);
	}
	freeReplyObject(rep);
	return 0;
}

/* check_generation - a snapshot not newer than what the expected state
 * holds is superseded, or a redelivery; true when that ended the job */
static bool check_generation(mapper *m, lasync_job *job, mjob *mj,
			     int64_t have)
{
	if (have > mj->snap->header->generation) {
		char why[160];

		snprintf(why, sizeof(why),
			 "snapshot generation %lld is older than the expected "
			 "state's %lld",
			 (long long)mj->snap->header->generation,
			 (long long)have);
		if (send_result(m, job, mj,
				LASYNC__V1__OUTCOME__OUTCOME_SUPERSEDED,
				"superseded", why, NULL, NULL) == 0)
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		return true;
	}
	if (have == mj->snap->header->generation) {
		/* The expected state takes a snapshot's generation only once
		 * that snapshot's change set (or result) is acknowledged, so
		 * this is a redelivery: the offset commit was lost (a broker
		 * restart, a rebalance).  Its output is in Kafka already;
		 * mapping it again would announce a second, empty result
		 * for the sync before the applier reports the real one. */
		lasync_info("snapshot_already_mapped",
			    "tenant=%s sync=%s generation=%lld", job->key,
			    mj->snap->header->sync_id,
			    (long long)mj->snap->header->generation);
		lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		return true;
	}
	return false;
}

/* fast_path - the result of an unchanged snapshot (see above) */
static void fast_path(mapper *m, lasync_job *job, mjob *mj)
{
	Lasync__V1__ChangeCounts none = LASYNC__V1__CHANGE_COUNTS__INIT;
	char err[256];

	/* As the full path: not held, so whatever was held is obsolete. */
	lasync_metric_set(m_held, 0, job->key);
	if (send_held(m, job, mj, NULL, err, sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce", "%s",
				  err);
		return;
	}
	lasync_info("snapshot_unchanged",
		    "tenant=%s sync=%s sync_date=%s generation=%lld ops=0",
		    job->key, mj->snap->header->sync_id, mj->snap->sync_date,
		    (long long)mj->snap->header->generation);
	if (send_result(m, job, mj, LASYNC__V1__OUTCOME__OUTCOME_OK, NULL,
			NULL, &none, NULL) != 0)
		return;
	mj->fast_hit = true;
	lasync_metric_add(m_unchanged, 1, m->vendor_name);
	lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
}

void mapper_start(void *ctx, lasync_job *job)
{
	mapper *m = ctx;
	mjob *mj = lasync_xcalloc(1, sizeof(*mj));
	mapper_doc docs[MAX_DOCS];
	uint8_t *bufs[MAX_DOCS] = {0};
	lasync_school *school = NULL;
	lasync_state *desired = NULL, *expected = NULL, *next = NULL;
	mapper_ops ops = {0};
	mapper_rules_stats stats = {0};
	char err[1024] = "";
	lasync_tenant *t;
	const mapper_adapter *ad = mapper_adapter_for(m->vendor);
	fast_rec fr = {0};

	mapper_release(ctx, job); /* a retry starts from scratch */
	job->state = mj;
	mj->started = lasync_now_ms();
	mj->snap = lasync__v1__snapshot__unpack(NULL, job->len, job->payload);
	if (mj->snap == NULL) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "decode",
				  "undecodable Snapshot (%zu bytes)",
				  job->len);
		goto out;
	}
	if (lasync_header_valid(mj->snap->header, err, sizeof(err)) != 0 ||
	    strcmp(mj->snap->header->tenant_id, job->key) != 0 ||
	    !lasync_date_valid(mj->snap->sync_date)) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "schema", "%s",
				  err[0] ? err
					 : "key/tenant mismatch or bad sync "
					   "date");
		goto out;
	}
	t = lasync_daemon_job_tenant(m->d, job,
				     mj->snap->header->config_revision);
	if (t == NULL)
		goto out;
	mj->config_revision = t->revision;
	if (t->vendor != m->vendor || (int)mj->snap->vendor != m->vendor) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "wrong_vendor",
				  "snapshot of vendor %d for a %s tenant",
				  (int)mj->snap->vendor,
				  lasync_vendor_name(t->vendor));
		goto out;
	}
	if (input_digest(m, t, mj->snap, mj->digest)) {
		long today;

		if (fast_check(m, t->tenant_id, &fr, err, sizeof(err)) != 0) {
			lasync_job_finish(job, LASYNC_RETRY, 0, "redis", "%s",
					  err);
			goto out;
		}
		if (fr.verified && check_generation(m, job, mj, fr.generation))
			goto out;
		if (fr.verified &&
		    strcmp(fr.sync_id, mj->snap->header->sync_id) == 0) {
			/* The same sync fetched again (its request was
			 * redelivered, a broker restart): the expected state
			 * is this sync's own, its change set or result is in
			 * Kafka already.  Answering again would report the
			 * sync before the applier has applied it. */
			lasync_info("snapshot_refetched",
				    "tenant=%s sync=%s generation=%lld "
				    "mapped_generation=%lld",
				    job->key, mj->snap->header->sync_id,
				    (long long)mj->snap->header->generation,
				    (long long)fr.generation);
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
			goto out;
		}
		if (fr.verified && fr.clean &&
		    strcmp(fr.digest, mj->digest) == 0 &&
		    mapper_rules_day(mj->snap->sync_date, &today) &&
		    fr.valid_from <= today && today < fr.valid_until) {
			fast_path(m, job, mj);
			goto out;
		}
	}
	if (decode_docs(m, mj->snap, docs, bufs, err, sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "parse", "%s", err);
		goto out;
	}
	mapper_limits lim = {(size_t)m->max_doc_bytes, 0};

	if (ad->parse(docs, mj->snap->n_documents, t->brin, t->dependance,
		      &lim, &school, err, sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "parse", "%s", err);
		goto out;
	}
	mapper_rules_in in = {school,	    t->tenant_id, t->brin,
			      t->dependance, &t->settings, mj->snap->sync_date};

	desired = mapper_rules_apply(&in, &stats, err, sizeof(err));
	if (desired == NULL) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "rules", "%s", err);
		goto out;
	}
	if (load_expected(m, t->tenant_id, mj, &expected, err, sizeof(err)) !=
	    0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "redis", "%s", err);
		goto out;
	}
	if (expected != NULL &&
	    check_generation(m, job, mj,
			     fr.verified && fr.generation > expected->generation
				     ? fr.generation
				     : expected->generation))
		goto out;
	mapper_diff_in din = {
		.tenant_id = t->tenant_id,
		.vendor = m->vendor,
		.generation = mj->snap->header->generation,
		.desired = desired,
		.expected = expected,
		.full = mj->snap->full || mj->marker != NULL,
		.link_staff = t->settings.link_staff_to_groups,
		.dirty = (const char *const *)mj->dirty,
		.n_dirty = mj->n_dirty,
	};
	bool reconcile = expected == NULL || din.full;

	next = mapper_diff(&din, &ops);
	lasync_metric_add(m_records,
			  (double)(stats.students + stats.guardians +
				   stats.staff + stats.groups),
			  m->vendor_name);
	lasync_info("mapped",
		    "tenant=%s sync=%s sync_date=%s students=%zu "
		    "guardians=%zu staff=%zu groups=%zu under4=%zu leavers=%zu "
		    "dropped_relations=%zu reconcile=%d ops=%zu",
		    job->key, mj->snap->header->sync_id, mj->snap->sync_date,
		    stats.students, stats.guardians, stats.staff, stats.groups,
		    stats.under4_skipped, stats.leavers,
		    school->n_dropped_relations, reconcile, ops.n);
	Lasync__V1__HeldSync held = LASYNC__V1__HELD_SYNC__INIT;
	char why[512] = "";
	bool hold = t->state == LASYNC_TENANT_ACTIVE &&
		    mapper_guard_check(&t->settings, expected, ops.deactivations,
				mj->snap->approved_deactivations, &held, why,
				sizeof(why));

	if (mj->snap->preview) {
		char *report = mapper_preview_report(
			&din, &ops, mj->snap->header->sync_id,
			mj->snap->sync_date, hold ? why : NULL);

		if (send_result(m, job, mj, LASYNC__V1__OUTCOME__OUTCOME_PREVIEW,
				NULL, hold ? why : NULL, &ops.counts,
				report) == 0)
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		free(report);
		goto out;
	}
	if (t->state == LASYNC_TENANT_FIRST_RUN_PENDING) {
		/* R19: nothing is applied before first-run; the desired state
		 * is kept for `lasyncctl first-run plan` (written once the
		 * result is acknowledged). */
		size_t raw_len;
		uint8_t *raw;

		desired->generation = mj->snap->header->generation;
		free(desired->sync_id);
		desired->sync_id = lasync_xstrdup(mj->snap->header->sync_id);
		raw = lasync_state_encode(desired, &raw_len);
		mj->firstrun = lasync_zstd_compress(raw, raw_len, 3,
						    &mj->firstrun_len);
		free(raw);
		if (send_result(m, job, mj, LASYNC__V1__OUTCOME__OUTCOME_HELD,
				"first_run_pending",
				"first run pending: mapped, nothing applied",
				&ops.counts, NULL) == 0)
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		goto out;
	}
	if (hold) {
		/* R17: nothing applied, the expected state stays as it is; the
		 * newest held sync replaces an older one. */
		held.counts = &ops.counts;
		lasync_metric_set(m_held, 1, job->key);
		lasync_warn("sync_held",
			    "tenant=%s sync=%s deactivations=%u active=%u "
			    "limit=%u",
			    job->key, mj->snap->header->sync_id,
			    held.deactivations, held.active_profiles,
			    held.limit);
		if (send_held(m, job, mj, &held, err, sizeof(err)) != 0) {
			lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce",
					  "%s", err);
			goto out;
		}
		if (send_result(m, job, mj, LASYNC__V1__OUTCOME__OUTCOME_HELD,
				"deletion_guard", why, &ops.counts, NULL) == 0)
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		goto out;
	}
	/* Not held: whatever was held before is obsolete. */
	lasync_metric_set(m_held, 0, job->key);
	if (send_held(m, job, mj, NULL, err, sizeof(err)) != 0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce", "%s",
				  err);
		goto out;
	}
	if (why[0] != '\0')
		lasync_info("guard_approved", "tenant=%s sync=%s deactivations=%u",
			    job->key, mj->snap->header->sync_id,
			    held.deactivations);
	if (ops.n == 0) {
		state_blob(mj, &stats, next);
		if (send_result(m, job, mj, LASYNC__V1__OUTCOME__OUTCOME_OK,
				NULL, NULL, &ops.counts, NULL) == 0)
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		goto out;
	}
	if (produce_parts(m, job, mj, &ops, reconcile, err, sizeof(err)) !=
	    0) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce", "%s",
				  err);
		goto out;
	}
	state_blob(mj, &stats, next);
	lasync_metric_add(m_ops, (double)ops.n, m->vendor_name);
	lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
out:
	lasync_metric_observe(m_map_seconds,
			      (double)(lasync_now_ms() - mj->started) / 1000.0,
			      m->vendor_name);
	mapper_ops_free(&ops);
	lasync_state_free(next);
	lasync_state_free(expected);
	lasync_state_free(desired);
	lasync_school_free(school);
	for (size_t i = 0; i < MAX_DOCS; i++)
		free(bufs[i]);
}

/* mapper_acked - the change set is safely in Kafka: record the expected
 * state, and clear the reconcile marker this sync answered */
int mapper_acked(void *ctx, lasync_job *job, char *err, size_t errlen)
{
	/* The expected state; with it, atomically, the fast record (ARGV[4]
	 * the digest, "" for none; ARGV[8] the sync) and the SHA-1 that ties
	 * it to this state; then the marker this sync answered and the dirty
	 * profiles it rewrote. */
	static const char lua[] =
		"redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
		"redis.call('DEL', KEYS[4]) "
		"if ARGV[4] ~= '' then "
		"redis.call('HSET', KEYS[4], 'digest', ARGV[4], 'sha', "
		"redis.sha1hex(ARGV[1]), 'gen', ARGV[5], 'from', ARGV[6], "
		"'until', ARGV[7], 'sync', ARGV[8]) "
		"redis.call('EXPIRE', KEYS[4], ARGV[2]) end "
		"if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] "
		"then redis.call('DEL', KEYS[2]) end "
		"for i = 9, #ARGV do redis.call('SREM', KEYS[3], ARGV[i]) end "
		"return 1";
	/* A fast-path sync: the record (if still the same) takes the
	 * snapshot's generation and sync, and both keys their lifetime. */
	static const char lua_hit[] =
		"if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then "
		"if tonumber(redis.call('HGET', KEYS[1], 'gen') or '0') < "
		"tonumber(ARGV[2]) then "
		"redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'sync', ARGV[4]) "
		"end "
		"redis.call('EXPIRE', KEYS[1], ARGV[3]) "
		"redis.call('EXPIRE', KEYS[2], ARGV[3]) end "
		"return 1";
	mapper *m = ctx;
	mjob *mj = job->state;
	char k1[256], k2[256], k3[256], k4[256], ttl[24];
	char gen[24], from[24], until[24];
	redisReply *rep;

	if (mj != NULL && mj->firstrun != NULL) {
		char kf[256];

		lasync_redis_key(kf, sizeof(kf), lasync_daemon_prefix(m->d),
				 job->key, "firstrun", NULL);
		const char *fa[] = {"SET", kf, (const char *)mj->firstrun, "EX",
				    ttl};
		size_t fl[] = {3, strlen(kf), mj->firstrun_len, 2, 0};

		snprintf(ttl, sizeof(ttl), "%ld", m->state_ttl_s);
		fl[4] = strlen(ttl);
		rep = lasync_redis_cmd(lasync_daemon_redis(m->d), 5, fa, fl, err,
				       errlen);
		if (rep == NULL)
			return -1;
		freeReplyObject(rep);
		free(mj->firstrun);
		mj->firstrun = NULL;
	}
	if (mj == NULL)
		return 0;
	snprintf(ttl, sizeof(ttl), "%ld", m->state_ttl_s);
	snprintf(gen, sizeof(gen), "%lld",
		 (long long)mj->snap->header->generation);
	key_expected(m, job->key, k1, sizeof(k1));
	key_fast(m, job->key, k4, sizeof(k4));
	if (mj->fast_hit) {
		const char *ha[] = {"EVAL", lua_hit, "2", k4, k1,
				    mj->digest, gen, ttl,
				    mj->snap->header->sync_id};

		rep = lasync_redis_cmd(lasync_daemon_redis(m->d), 9, ha, NULL,
				       err, errlen);
		if (rep == NULL)
			return -1;
		freeReplyObject(rep);
		mj->fast_hit = false;
		return 0;
	}
	if (!mj->write_state)
		return 0;
	key_marker(m, job->key, k2, sizeof(k2));
	key_dirty(m, job->key, k3, sizeof(k3));
	snprintf(from, sizeof(from), "%ld", mj->valid_from);
	snprintf(until, sizeof(until), "%ld", mj->valid_until);
	int argc = 15 + (int)mj->n_dirty;
	const char **argv = lasync_xcalloc((size_t)argc, sizeof(char *));
	size_t *lens = lasync_xcalloc((size_t)argc, sizeof(size_t));

	argv[0] = "EVAL";
	argv[1] = lua;
	argv[2] = "4";
	argv[3] = k1;
	argv[4] = k2;
	argv[5] = k3;
	argv[6] = k4;
	argv[7] = (const char *)mj->state;
	argv[8] = ttl;
	argv[9] = mj->marker ? mj->marker : "";
	argv[10] = mj->fast_record ? mj->digest : "";
	argv[11] = gen;
	argv[12] = from;
	argv[13] = until;
	argv[14] = mj->snap->header->sync_id;
	for (size_t i = 0; i < mj->n_dirty; i++)
		argv[15 + i] = mj->dirty[i];
	for (int i = 0; i < argc; i++)
		lens[i] = i == 7 ? mj->state_len : strlen(argv[i]);
	rep = lasync_redis_cmd(lasync_daemon_redis(m->d), argc, argv, lens,
			       err, errlen);
	free(argv);
	free(lens);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	mj->write_state = false;
	return 0;
}

void mapper_abandon(void *ctx, lasync_job *job)
{
	mapper_release(ctx, job);
}

void mapper_release(void *ctx, lasync_job *job)
{
	(void)ctx;
	mjob_free(job->state);
	job->state = NULL;
}

void mapper_dead(void *ctx, lasync_job *job, const char *cls,
		 const char *error)
{
	mapper *m = ctx;
	mjob *mj = job->state;
	char err[256];

	if (mj == NULL || mj->snap == NULL || mj->snap->header == NULL)
		return;
	lasync_result_info ri = {
		.tenant_id = job->key,
		.sync_id = mj->snap->header->sync_id,
		.generation = mj->snap->header->generation,
		.vendor = m->vendor,
		.outcome = LASYNC__V1__OUTCOME__OUTCOME_FAILED,
		.stage = "mapper",
		.error_class = cls,
		.reason = error,
		.started_at_ms = mj->started,
	};
	if (lasync_result_send(job, lasync_daemon_prefix(m->d), &ri, err,
			       sizeof(err)) != 0)
		lasync_error("result_not_sent", "tenant=%s error=%s", job->key,
			     lasync_q(err));
}
