/*
 * applier.h - lasync-applier: applies change sets to the tenant's portal
 * through SCIM 2.0, each operation exactly once.
 *
 *   main.c            parameters and the daemon call
 *   applier_job.c     one change-set part: watermark, idempotency keys,
 *                     stages, dispatch, the sync result
 *   applier_op.c      one operation as a small state machine of SCIM calls
 *   applier_scim.c    SCIM requests and responses (URLs, bodies, errors)
 *   applier_ids.c     externalId -> portal id, cached in Redis
 *   applier_bulk.c    SCIM Bulk: the writes of a stage in BulkRequests,
 *                     where the portal announces Bulk (--scim-bulk auto)
 *
 * Exactly once (DESIGN §2): every completed operation id is recorded in
 * Redis ("<prefix>:{tenant}:op:<id>", SET NX EX) and skipped when seen
 * again; and every write is idempotent by construction, so losing Redis
 * costs work, never a duplicate: creation always looks up by externalId
 * first, created users carry a userName derived from their externalId (a
 * second create is refused by the portal), and PATCH writes absolute
 * values of owned attributes only, never PUT.  A write sent inside a SCIM
 * Bulk keeps all of this: each operation's result in the BulkResponse is
 * judged as a single request's answer would be, and a Bulk whose outcome
 * is unknown is a transient failure (the retry looks up again).
 */
#ifndef APPLIER_H
#define APPLIER_H

#include <jansson.h>
#include <stdbool.h>

#include "lasync/v1/sync.pb-c.h"
#include "lasync_daemon.h"
#include "lasync_http.h"

typedef struct applier applier;
typedef struct ajob ajob;
typedef struct oprun oprun;

/* --- applier_ids.c: externalId <-> portal id ------------------------- */

typedef struct applier_ids applier_ids;

/* applier_ids_new - writes to Redis are queued in later (the job's
 * batch, borrowed), which the job flushes */
applier_ids *applier_ids_new(lasync_redis_batch *later);
void applier_ids_free(applier_ids *ids);
/* applier_ids_load - read the tenant's cached ids from Redis; -1 on error */
int applier_ids_load(applier_ids *ids, lasync_redis *r, const char *key,
		     char *err, size_t errlen);
const char *applier_ids_get(applier_ids *ids, const char *external_id);
/* applier_ids_seed - remember in memory only (the reconcile preload) */
void applier_ids_seed(applier_ids *ids, const char *external_id,
		      const char *id);
/* applier_ids_put - remember (and queue the write to Redis, best effort) */
void applier_ids_put(applier_ids *ids, lasync_redis *r, const char *key,
		     const char *external_id, const char *id);
void applier_ids_forget(applier_ids *ids, lasync_redis *r, const char *key,
			const char *external_id);
/* applier_ids_external - the externalId of a portal id, or NULL */
const char *applier_ids_external(applier_ids *ids, const char *id);

/* --- applier_scim.c -------------------------------------------------- */

/* What a SCIM answer means for the operation. */
typedef enum {
	SCIM_OK,
	SCIM_TRANSIENT,		/* retry the job later */
	SCIM_PERMANENT,		/* this operation cannot succeed */
	SCIM_NOT_FOUND,
	SCIM_CONFLICT,		/* 409: uniqueness */
} scim_verdict;

/* applier_scim_judge - classify a response; reason gets status and
 * scimType, never the portal's free text (it may echo personal data) */
scim_verdict applier_scim_judge(const lasync_http_result *r, char *reason,
				size_t len);

/* applier_scim_url - "<base>/<Users|Groups>[/<id>][?filter=<attr> eq "v"]"
 * (caller frees) */
char *applier_scim_url(const char *base, Lasync__V1__ResourceType type,
		       const char *id, const char *filter_attr,
		       const char *filter_value);

/* applier_scim_username - the userName lasync gives a user it creates */
char *applier_scim_username(const char *external_id);

/* applier_scim_first - the first resource of a ListResponse (borrowed from
 * doc), or NULL */
json_t *applier_scim_first(json_t *list);

/* --- applier_bulk.c: SCIM Bulk (RFC 7644 §3.7) ------------------------ */

/* What a portal's ServiceProviderConfig announces. */
typedef struct applier_bulk_limits {
	bool supported;
	size_t max_ops;		/* operations per BulkRequest */
	size_t max_payload;	/* bytes per BulkRequest */
} applier_bulk_limits;

/* applier_bulk_timeout_ms - how long a BulkRequest of n operations may
 * take: the portal timeout, and up to as much again in proportion to n
 * (twice the timeout for the largest Bulk we send), since a busy portal
 * works through a Bulk one operation at a time and an unanswered Bulk
 * costs its job a retry that lists the portal and sends it all again
 * (a 2,000-student school took five attempts so; BENCHMARKS.md §3) */
long applier_bulk_timeout_ms(long timeout_ms, size_t n);

/* applier_bulk_limits_parse - Bulk as spc announces it; unsupported when
 * absent, off, or too small to gain anything; capped by our own ceilings */
void applier_bulk_limits_parse(const json_t *spc, applier_bulk_limits *l);

/* One BulkRequest being built, always within the limits. */
typedef struct applier_bulk_batch applier_bulk_batch;
typedef enum {
	BULK_ADDED,
	BULK_FULL,		/* send the batch, then add again */
	BULK_TOO_BIG,		/* never fits: send it alone */
} bulk_add;

applier_bulk_batch *applier_bulk_batch_new(const applier_bulk_limits *l);
void applier_bulk_batch_free(applier_bulk_batch *b);
/* applier_bulk_batch_add - one operation (data: its compact JSON, or
 * NULL) */
bulk_add applier_bulk_batch_add(applier_bulk_batch *b, const char *method,
				const char *path, const char *bulk_id,
				const char *data);
size_t applier_bulk_batch_count(const applier_bulk_batch *b);
/* applier_bulk_batch_bytes - the size of the BulkRequest as it stands */
size_t applier_bulk_batch_bytes(const applier_bulk_batch *b);
/* applier_bulk_batch_body - the BulkRequest (borrowed, until the next add) */
const char *applier_bulk_batch_body(applier_bulk_batch *b, size_t *len);

/* The result of one operation in a BulkResponse. */
typedef struct applier_bulk_reply {
	long status;		/* 0: the response has none for it */
	char *id;		/* 2xx: the "id" of its response, or NULL */
	json_t *error;		/* not 2xx: the portal's body for it, or NULL */
	char *location;
} applier_bulk_reply;

/* applier_bulk_parse - the results of the n operations bulk_ids[] names,
 * from a BulkResponse; -1 with err when it is none */
int applier_bulk_parse(const char *body, size_t len,
		       const char *const *bulk_ids, size_t n,
		       applier_bulk_reply *out, char *err, size_t errlen);
void applier_bulk_reply_clear(applier_bulk_reply *r);
/* applier_bulk_result - the result a single request would have given for
 * rep (data: the JSON object a POST sent, else NULL); *text backs
 * r->body, the caller frees it */
void applier_bulk_result(const applier_bulk_reply *rep, const char *data,
			 lasync_http_result *r, char **text);

typedef struct applier_bulker applier_bulker;

void applier_bulk_init(void);
void applier_bulk_cache_free(void);
/* applier_bulk_prepare - learn whether the tenant's portal takes Bulk (a
 * cached ServiceProviderConfig, or a GET); ends with
 * applier_job_discovered() */
void applier_bulk_prepare(ajob *aj, bool enabled);
void applier_bulker_free(applier_bulker *b);
/* applier_write - a POST or PATCH of an operation: queued for a Bulk, or
 * sent alone (*slot gets the transfer then, NULL when queued); fn runs
 * once either way, with what a single request would have answered */
void applier_write(ajob *aj, const char *method, const char *url,
		   const json_t *body, lasync_http_done_fn fn, void *ctx,
		   lasync_http_xfer **slot);
/* applier_bulk_flush - send the queued writes */
void applier_bulk_flush(ajob *aj);
/* operations waiting in the queue or in a Bulk in flight */
size_t applier_bulk_parked(const ajob *aj);
/* Bulk requests in flight */
size_t applier_bulk_requests(const ajob *aj);
bool applier_bulk_queued(const ajob *aj);

/* --- applier_op.c ---------------------------------------------------- */

/* applier_op_start - run one operation; calls applier_job_op_done() once */
void applier_op_start(ajob *aj, size_t idx);
/* applier_op_cancel - stop an operation's request (abandon) */
void applier_op_cancel(ajob *aj, oprun *run);
void applier_op_free(oprun *run);
/* applier_op_created / _patched - did the operation POST / PATCH? */
bool applier_op_created(const oprun *run);
bool applier_op_patched(const oprun *run);
/* applier_op_creating - was its create sent (or queued for a Bulk) and
 * not answered?  (asked when the operation ends transient) */
bool applier_op_creating(const oprun *run);
/* applier_op_linked / _queued - did the operation take over an existing
 * portal resource / park a profile in the link queue? */
bool applier_op_linked(const oprun *run);
bool applier_op_queued(const oprun *run);
/* applier_op_members - members a membership operation added / removed */
void applier_op_members(const oprun *run, unsigned *added,
			unsigned *removed);

/* --- applier_job.c (used by applier_op.c) ---------------------------- */

typedef enum {
	OP_DONE,		/* applied (or nothing to write) */
	OP_TRANSIENT,
	OP_PERMANENT,
} op_outcome;

struct ajob {
	applier *a;
	lasync_job *job;
	Lasync__V1__ChangeSet *cs;
	lasync_tenant *tenant;
	char *token;		/* resolved portal token (wiped on free) */
	char *auth_header;
	char ids_key[256];
	applier_ids *ids;
	/* Redis writes whose loss costs only work (done operations, the id
	 * cache): one pipeline every WRITE_BATCH operations and at the end
	 * of the part, not a round trip each */
	lasync_redis_batch *later;
	char op_ttl[24];	/* --op-ttl-s as text */
	json_t *portal;		/* reconcile: externalId -> resource doc */
	bool preloaded;
	oprun **runs;		/* per operation, while running */
	bool *done;		/* per operation: already done */
	size_t next, inflight, cur_stage_end;
	uint32_t cur_stage;
	bool stop;		/* a transient failure: drain and retry */
	int retry_after_ms;
	char transient[384];
	size_t n_permanent;
	char permanent[512];
	Lasync__V1__ChangeCounts counts;
	int64_t started;
	/* reconcile preload */
	lasync_http_xfer *list_x;
	Lasync__V1__ResourceType list_type;
	long list_start;
	json_t *unlinked_groups;	/* preload: groups without externalId */
	/* profile linking (applier_link.c) */
	json_t *unlinked;	/* portal users without externalId */
	json_t *corr;		/* LAS externalId -> {"do": link|queue|create} */
	json_t *decisions;	/* operator decisions (links resolve) */
	lasync_http_xfer *link_x;
	long link_start;
	/* reconcile: leavers found in the portal (applier_retire.c) */
	json_t *retire;		/* [{ext, doc}] to deactivate or orphan */
	size_t retire_i;
	lasync_http_xfer *retire_x;
	bool retired;		/* the retire step ran */
	char *retire_note;	/* for the sync result: held by the guard */
	/* SCIM Bulk (applier_bulk.c): NULL when the portal gets single
	 * requests only */
	applier_bulker *bulk;
	lasync_http_xfer *spc_x;
};

/* --- applier_retire.c: leavers a reconcile finds (R16, R5, R17) ------- */

/* applier_retire_keep - an earlier part of a reconcile: remember what it
 * UPSERTs for the last part; -1 with err on a Redis error */
int applier_retire_keep(ajob *aj, char *err, size_t errlen);
/* applier_retire_start - the last part of a reconcile, every operation
 * done: retire the LAS-linked portal resources no part UPSERTed; ends with
 * applier_job_retired() */
void applier_retire_start(ajob *aj);
/* applier_job_retired - the retire step ended (o: OP_DONE, or the part
 * ends with reason) */
void applier_job_retired(ajob *aj, int o, int retry_after_ms,
			 const char *reason);
/* applier_las_linked - is this externalId one lasync manages for the
 * tenant (its vendor's, or lasync's own)? */
bool applier_las_linked(ajob *aj, const char *external_id);

/* --- applier_link.c: taking over existing portal resources (R19, R20) - */

/* applier_list_page - resources per listing page for the job's tenant:
 * 1,000, or less once a page timed out (kept until the applier restarts) */
int applier_list_page(ajob *aj);

/* applier_list_too_slow - r is a listing page that timed out while the
 * page is larger than the smallest: the tenant's page is halved (logged as
 * portal_list_slow) and the caller asks for the same start again */
bool applier_list_too_slow(ajob *aj, const lasync_http_result *r, long start);

/* applier_link_prepare - correlate the part's unknown user UPSERTs with the
 * portal's unlinked users; ends with applier_job_prepared() */
void applier_link_prepare(ajob *aj);
/* applier_link_decision - "link" (portal id in *portal_id), "queue" or
 * "create" for a user the portal does not know by externalId */
const char *applier_link_decision(ajob *aj, const char *external_id,
				  const char **portal_id);
bool applier_link_queued(ajob *aj, const char *external_id);
/* applier_link_queue - park the profile in the link queue (and dirty) */
void applier_link_queue(ajob *aj, const char *external_id);
/* applier_link_settled - the profile is linked or created: out of the
 * queue, its decision spent */
void applier_link_settled(ajob *aj, const char *external_id);
/* applier_dirty - have the mapper UPSERT this resource next sync */
void applier_dirty(ajob *aj, const char *external_id);
/* applier_group_link - the portal group a LAS group was linked to at
 * first-run, or NULL */
const char *applier_group_link(ajob *aj, const char *external_id);

lasync_http *applier_http(ajob *aj);
const char *applier_prefix(ajob *aj);
/* applier_job_prepared - the preparation of a part ended (o: OP_DONE to go
 * on, else the job ends with reason) */
void applier_job_prepared(ajob *aj, int o, int retry_after_ms,
			  const char *reason);
lasync_redis *applier_redis(ajob *aj);
long applier_timeout_ms(ajob *aj);
int applier_vendor(ajob *aj);

/* applier_request - start a SCIM request on behalf of aj (body may be
 * NULL; it is serialised compactly) */
lasync_http_xfer *applier_request(ajob *aj, const char *method,
				  const char *url, const json_t *body,
				  lasync_http_done_fn fn, void *ctx);
/* applier_request_text - the same with the body as JSON text (or NULL) */
lasync_http_xfer *applier_request_text(ajob *aj, const char *method,
				       const char *url, const char *body,
				       lasync_http_done_fn fn, void *ctx);

/* applier_job_op_done - an operation finished; writes is the number of
 * portal writes it made */
void applier_job_op_done(ajob *aj, size_t idx, op_outcome o,
			 int retry_after_ms, const char *reason);

/* applier_count_write - count one portal request that changed the portal */
void applier_count_write(ajob *aj, const char *method);
/* applier_count_request - count one request sent (method "BULK" for a
 * BulkRequest) without counting a write */
void applier_count_request(ajob *aj, const char *method);
/* applier_job_pump - start what may start, send what waits */
void applier_job_pump(ajob *aj);
/* applier_job_discovered - applier_bulk_prepare() ended: go on */
void applier_job_discovered(ajob *aj);

/* The daemon side. */
applier *applier_new(void);
void applier_free(applier *a);
const lasync_param *applier_params(applier *a);
int applier_init(lasync_daemon *d, void *ctx, char *err, size_t errlen);
void applier_start(void *ctx, lasync_job *job);
void applier_abandon(void *ctx, lasync_job *job);
void applier_dead(void *ctx, lasync_job *job, const char *cls,
		  const char *error);
int applier_acked(void *ctx, lasync_job *job, char *err, size_t errlen);
void applier_release(void *ctx, lasync_job *job);

#endif /* APPLIER_H */
