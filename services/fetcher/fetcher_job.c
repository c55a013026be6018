/*
 * fetcher_job.c - one sync request: look up the tenant, fetch every
 * document of its LAS concurrently on the shared curl multi handle, and
 * produce one snapshot (documents zstd-compressed) keyed by tenant.
 *
 * Dispositions: a permanent failure (refused key, SOAP fault, a document
 * over the size limit, an unknown tenant) is DEAD at once; transient ones
 * (timeouts, 5xx) are RETRY, and the job engine backs off.  Either way a
 * failed sync result is produced by fetcher_dead() before the request is
 * dead-lettered, so the school's status shows why.
 *
 * A vendor with client certificates (ESIS) has them checked before any
 * connection (fetcher_tls.c); each fetch sets the tenant's
 * lasync_client_cert_expiry_seconds gauge and logs a warning when fewer
 * than --cert-warn-days are left, so a certificate is replaced before
 * syncs start failing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "lasync_result.h"
#include "lasync_secret.h"

#define MAX_OPS 8

struct fetcher {
	lasync_daemon *d;
	char *vendor_name;
	long timeout_ms;
	long max_doc_bytes;
	long zstd_level;
	long cert_warn_days;
	const fetcher_vendor *v;
	char topic_snap[256];
	lasync_param params[6];
};

/* The context of one LAS call's callback.  It lives in its job, not on
 * the heap: a call cancelled on abandon or shutdown never calls back, so
 * nothing would free it there. */
typedef struct call_ctx {
	struct fjob *fj;
	size_t i;
} call_ctx;

typedef struct fjob {
	fetcher *f;
	lasync_job *job;
	Lasync__V1__SyncRequest *req;
	lasync_tenant *tenant;
	char sync_date[11];
	int64_t fetched_at, started;
	lasync_http_xfer *x[MAX_OPS];
	call_ctx calls[MAX_OPS];
	char *docs[MAX_OPS];
	size_t lens[MAX_OPS];
	size_t outstanding;
	fetch_verdict worst;
	int retry_after_ms;
	char cls[48];
	char reason[512];
	fetcher_tls tls;
} fjob;

static lasync_metric *m_fetch_seconds, *m_fetch_bytes, *m_fetch_fail;
static lasync_metric *m_cert_expiry;

fetcher *fetcher_new(void)
{
	fetcher *f = lasync_xcalloc(1, sizeof(*f));
	static const char *const vendors[] = {"parnassys", "esis", NULL};

	f->params[0] = (lasync_param){"vendor", LASYNC_PARAM_STRING, NULL,
				      "LAS vendor this worker serves",
				      &f->vendor_name, 0, 0, true, false,
				      vendors};
	f->params[1] = (lasync_param){"las-timeout-ms", LASYNC_PARAM_INT,
				      "120000", "timeout of one LAS call",
				      &f->timeout_ms, 1000, 3600000, false,
				      false, NULL};
	f->params[2] = (lasync_param){"max-doc-bytes", LASYNC_PARAM_INT,
				      "67108864",
				      "largest LAS document accepted",
				      &f->max_doc_bytes, 1024, 1073741824,
				      false, false, NULL};
	f->params[3] = (lasync_param){"zstd-level", LASYNC_PARAM_INT, "3",
				      "zstd level of snapshot documents",
				      &f->zstd_level, 1, 19, false, false,
				      NULL};
	f->params[4] = (lasync_param){
		"cert-warn-days", LASYNC_PARAM_INT, "30",
		"warn when a tenant's LAS client certificate expires within "
		"this many days",
		&f->cert_warn_days, 0, 3650, false, false, NULL};
	return f;
}

void fetcher_free(fetcher *f)
{
	free(f);
}

const lasync_param *fetcher_params(fetcher *f)
{
	return f->params;
}

const fetcher_vendor *fetcher_vendor_for(int vendor)
{
	static const fetcher_vendor *const all[] = {&fetcher_parnassys,
						    &fetcher_esis};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i]->vendor == vendor)
			return all[i];
	return NULL;
}

int fetcher_init(lasync_daemon *d, void *ctx, char *err, size_t errlen)
{
	fetcher *f = ctx;
	char t[256], g[256];
	static const double buckets[] = {0.1, 0.5, 1, 2, 5, 10, 30, 60, 120};

	f->d = d;
	f->v = fetcher_vendor_for(lasync_vendor_parse(f->vendor_name));
	if (f->v == NULL) {
		snprintf(err, errlen, "vendor %s has no fetch adapter yet",
			 f->vendor_name);
		return -1;
	}
	lasync_daemon_subscribe(d, lasync_daemon_topic(d, t, sizeof(t),
						       LASYNC_T_SYNC_REQUESTS,
						       f->vendor_name));
	snprintf(g, sizeof(g), "%s-fetcher-%s", lasync_daemon_prefix(d),
		 f->vendor_name);
	lasync_daemon_group(d, g);
	lasync_daemon_topic(d, f->topic_snap, sizeof(f->topic_snap),
			    LASYNC_T_SNAPSHOTS, f->vendor_name);
	lasync_daemon_declare(d, f->topic_snap, false);
	/* A snapshot's documents are zstd frames (fetch_done) */
	if (lasync_producer_uncompressed(lasync_daemon_producer(d),
					 f->topic_snap, err, errlen) != 0)
		return -1;
	lasync_daemon_declare(d, lasync_daemon_topic(d, t, sizeof(t),
						     LASYNC_T_RESULTS, NULL),
			      false);
	m_fetch_seconds = lasync_metric_histogram(
		"lasync_fetch_seconds", "Time to fetch all documents of a sync",
		"vendor", buckets, sizeof(buckets) / sizeof(buckets[0]));
	m_fetch_bytes = lasync_metric_counter("lasync_fetch_bytes_total",
					      "Raw LAS document bytes fetched",
					      "vendor");
	m_fetch_fail = lasync_metric_counter(
		"lasync_fetch_failures_total",
		"LAS calls that failed, by vendor and error class",
		"vendor,class");
	m_cert_expiry = lasync_metric_gauge(
		"lasync_client_cert_expiry_seconds",
		"Seconds until the tenant's LAS client certificate expires "
		"(negative: expired), as of its last fetch",
		"tenant");
	return 0;
}

void fetcher_fini(lasync_daemon *d, void *ctx)
{
	(void)d;
	(void)ctx;
}

static void fjob_reset(fjob *fj, lasync_http *http)
{
	for (size_t i = 0; i < MAX_OPS; i++) {
		if (fj->x[i] != NULL)
			lasync_http_cancel(http, fj->x[i]);
		fj->x[i] = NULL;
		free(fj->docs[i]);
		fj->docs[i] = NULL;
		fj->lens[i] = 0;
	}
	fj->outstanding = 0;
	fj->worst = FETCH_OK;
	fj->retry_after_ms = 0;
	fj->cls[0] = fj->reason[0] = '\0';
	fetcher_tls_clear(&fj->tls);
}

static void fjob_free(fjob *fj)
{
	if (fj == NULL)
		return;
	fjob_reset(fj, lasync_daemon_http(fj->f->d));
	if (fj->req)
		lasync__v1__sync_request__free_unpacked(fj->req, NULL);
	lasync_tenant_release(fj->tenant);
	free(fj);
}

/* fetch_done - all calls answered: produce the snapshot or fail */
static void fetch_done(fjob *fj)
{
	fetcher *f = fj->f;
	lasync_job *job = fj->job;
	Lasync__V1__Snapshot snap = LASYNC__V1__SNAPSHOT__INIT;
	Lasync__V1__Header h;
	Lasync__V1__Document docs[MAX_OPS], *dps[MAX_OPS];
	char eid[LASYNC_ID_LEN], err[256];
	size_t total_raw = 0, len;
	uint8_t *buf;

	if (fj->worst == FETCH_PERMANENT) {
		lasync_job_finish(job, LASYNC_DEAD, 0, fj->cls, "%s",
				  fj->reason);
		return;
	}
	if (fj->worst == FETCH_TRANSIENT) {
		lasync_job_finish(job, LASYNC_RETRY, fj->retry_after_ms,
				  fj->cls, "%s", fj->reason);
		return;
	}
	lasync_header_fill(&h, eid, fj->tenant->tenant_id,
			   fj->req->header->sync_id, fj->fetched_at, "fetcher",
			   job->attempt);
	h.config_revision = fj->tenant->revision;
	snap.header = &h;
	snap.vendor = (Lasync__V1__Vendor)f->v->vendor;
	snap.fetched_at_ms = fj->fetched_at;
	snap.sync_date = fj->sync_date;
	snap.full = fj->req->full;
	snap.preview = fj->req->preview;
	snap.as_of = fj->req->as_of;
	snap.approved_deactivations = fj->req->approved_deactivations;
	for (size_t i = 0; i < f->v->n_ops; i++) {
		lasync__v1__document__init(&docs[i]);
		docs[i].name = (char *)f->v->ops[i];
		docs[i].encoding = "zstd";
		docs[i].raw_size = fj->lens[i];
		docs[i].content.data = lasync_zstd_compress(
			fj->docs[i], fj->lens[i], (int)f->zstd_level,
			&docs[i].content.len);
		dps[i] = &docs[i];
		total_raw += fj->lens[i];
	}
	snap.documents = dps;
	snap.n_documents = f->v->n_ops;
	len = lasync__v1__snapshot__get_packed_size(&snap);
	if (len > LASYNC_MAX_EVENT_BYTES) {
		for (size_t i = 0; i < f->v->n_ops; i++)
			free(docs[i].content.data);
		lasync_job_finish(job, LASYNC_DEAD, 0, "snapshot_too_large",
				  "snapshot of %zu bytes (compressed) exceeds "
				  "the %u byte event limit",
				  len, LASYNC_MAX_EVENT_BYTES);
		return;
	}
	buf = lasync_xmalloc(len);
	lasync__v1__snapshot__pack(&snap, buf);
	for (size_t i = 0; i < f->v->n_ops; i++)
		free(docs[i].content.data);
	if (lasync_job_produce(job, f->topic_snap, fj->tenant->tenant_id, buf,
			       len, NULL, err, sizeof(err)) != 0) {
		free(buf);
		lasync_job_finish(job, LASYNC_RETRY, 0, "kafka_produce", "%s",
				  err);
		return;
	}
	free(buf);
	lasync_metric_observe(m_fetch_seconds,
			      (double)(lasync_now_ms() - fj->started) / 1000.0,
			      f->v->name);
	lasync_metric_add(m_fetch_bytes, (double)total_raw, f->v->name);
	lasync_info("snapshot_out",
		    "tenant=%s sync=%s generation=%lld sync_date=%s docs=%zu "
		    "raw_bytes=%zu bytes=%zu",
		    fj->tenant->tenant_id, fj->req->header->sync_id,
		    (long long)fj->fetched_at, fj->sync_date, f->v->n_ops,
		    total_raw, len);
	lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
}

static void on_response(void *ctx, const lasync_http_result *r)
{
	call_ctx *cc = ctx;
	fjob *fj = cc->fj;
	size_t i = cc->i;
	char cls[48], reason[512];
	fetch_verdict v;

	fj->x[i] = NULL;
	v = fj->f->v->judge(fj->tenant, i, r, cls, sizeof(cls), reason,
			    sizeof(reason));
	if (v == FETCH_OK) {
		fj->docs[i] = lasync_http_take_body(r);
		fj->lens[i] = r->len;
	} else {
		lasync_metric_add(m_fetch_fail, 1, fj->f->v->name, cls);
		lasync_warn("las_call_failed",
			    "tenant=%s op=%s status=%ld class=%s permanent=%d "
			    "reason=%s",
			    fj->tenant->tenant_id, fj->f->v->ops[i], r->status,
			    cls, v == FETCH_PERMANENT, lasync_q(reason));
		/* The most serious failure names the sync's outcome. */
		if (v > fj->worst) {
			fj->worst = v;
			lasync_strlcpy(fj->cls, cls, sizeof(fj->cls));
			lasync_strlcpy(fj->reason, reason, sizeof(fj->reason));
		}
		if (r->retry_after_s > 0 &&
		    r->retry_after_s * 1000 > fj->retry_after_ms)
			fj->retry_after_ms = (int)r->retry_after_s * 1000;
	}
	if (--fj->outstanding == 0)
		fetch_done(fj);
}

/* cert_report - the gauge and, close to the end, a warning: the tenant's
 * client certificate as this fetch found it */
static void cert_report(fjob *fj, int64_t now)
{
	const fetcher_cert *c = &fj->tls.cert;
	int64_t left;

	if (!fj->tls.checked)
		return;
	if (!c->dated) {
		/* Unreadable now: an old value would claim a certificate that
		 * is not there (the failure itself is counted and logged). */
		lasync_metric_remove(m_cert_expiry, fj->tenant->tenant_id);
		return;
	}
	left = c->not_after - now;
	lasync_metric_set(m_cert_expiry, (double)left, fj->tenant->tenant_id);
	if (left >= 0 && left < fj->f->cert_warn_days * 86400)
		lasync_warn("client_cert_expiring",
			    "tenant=%s days_left=%lld not_after=%s "
			    "warn_days=%ld",
			    fj->tenant->tenant_id, (long long)(left / 86400),
			    c->not_after_date, fj->f->cert_warn_days);
}

/* tls_check - the vendor's client certificate options for this fetch,
 * checked before connecting; -1 with fj->cls and a reason for the school */
static int tls_check(fjob *fj, lasync_http_req_opts *o, char *reason,
		     size_t rlen)
{
	int64_t now = fj->started / 1000;
	int rc;

	rc = fj->f->v->tls(fj->tenant, now, o, &fj->tls, fj->cls,
			   sizeof(fj->cls), reason, rlen);
	cert_report(fj, now);
	if (rc != 0) {
		lasync_metric_add(m_fetch_fail, 1, fj->f->v->name, fj->cls);
		lasync_warn("client_cert_invalid",
			    "tenant=%s class=%s problem=%s",
			    fj->tenant->tenant_id, fj->cls,
			    lasync_q(fj->tls.cert.detail[0]
					     ? fj->tls.cert.detail
					     : reason));
	}
	return rc;
}

void fetcher_start(void *ctx, lasync_job *job)
{
	fetcher *f = ctx;
	fjob *fj = job->state;
	lasync_http *http = lasync_daemon_http(f->d);
	char err[512] = "";
	char *key;

	if (fj == NULL) {
		fj = lasync_xcalloc(1, sizeof(*fj));
		fj->f = f;
		fj->job = job;
		job->state = fj;
		fj->req = lasync__v1__sync_request__unpack(
			NULL, job->len, job->payload);
		if (fj->req == NULL) {
			lasync_job_finish(job, LASYNC_DEAD, 0, "decode",
					  "undecodable SyncRequest (%zu bytes)",
					  job->len);
			return;
		}
		if (lasync_header_valid(fj->req->header, err, sizeof(err)) !=
			    0 ||
		    strcmp(fj->req->header->tenant_id, job->key) != 0) {
			lasync_job_finish(job, LASYNC_DEAD, 0, "schema", "%s",
					  err[0] ? err
						 : "message key and tenant "
						   "id differ");
			return;
		}
	}
	fjob_reset(fj, http);
	lasync_tenant_release(fj->tenant);
	fj->tenant = lasync_daemon_job_tenant(f->d, job,
					      fj->req->header->config_revision);
	if (fj->tenant == NULL)
		return;
	lasync_tenant_hold(fj->tenant);
	if (fj->tenant->vendor != f->v->vendor) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "wrong_vendor",
				  "tenant %s uses %s, this worker serves %s",
				  job->key,
				  lasync_vendor_name(fj->tenant->vendor),
				  f->v->name);
		return;
	}
	fj->started = lasync_now_ms();
	fj->fetched_at = fj->started;
	if (fj->req->as_of[0] != '\0') {
		if (!lasync_date_valid(fj->req->as_of)) {
			lasync_job_finish(job, LASYNC_DEAD, 0, "schema",
					  "as_of \"%.16s\" is not a date",
					  fj->req->as_of);
			return;
		}
		lasync_strlcpy(fj->sync_date, fj->req->as_of,
			       sizeof(fj->sync_date));
	} else {
		lasync_date_amsterdam(fj->fetched_at, fj->sync_date);
	}
	key = lasync_secret_resolve(fj->tenant->las_key_ref, err, sizeof(err));
	if (key == NULL) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "config", "%s", err);
		return;
	}
	lasync_http_req_opts base = {
		.method = "POST",
		.url = fj->tenant->las_endpoint,
		.timeout_ms = f->timeout_ms,
		.connect_timeout_ms = 10000,
		.max_response = (size_t)f->max_doc_bytes,
	};
	if (f->v->tls != NULL &&
	    tls_check(fj, &base, err, sizeof(err)) != 0) {
		lasync_secret_free(key);
		lasync_job_finish(job, LASYNC_DEAD, 0, fj->cls, "%s", err);
		return;
	}
	fj->outstanding = f->v->n_ops;
	for (size_t i = 0; i < f->v->n_ops; i++) {
		fetcher_call call = {0};
		call_ctx *cc = &fj->calls[i];
		lasync_http_req_opts o = base;

		f->v->build(fj->tenant, key, fj->sync_date, i, &call);
		const char *hdrs[] = {"Content-Type: text/xml; charset=utf-8",
				      call.soap_action, NULL};

		o.headers = hdrs;
		o.body = call.body;
		o.body_len = strlen(call.body);
		cc->fj = fj;
		cc->i = i;
		fj->x[i] = lasync_http_start(http, &o, on_response, cc);
		/* The request carries the key: wipe our copy of it. */
		lasync_secret_free(call.body);
		free(call.soap_action);
	}
	lasync_secret_free(key);
	lasync_debug("fetch_started", "tenant=%s sync=%s attempt=%u",
		     job->key, fj->req->header->sync_id, job->attempt);
}

void fetcher_abandon(void *ctx, lasync_job *job)
{
	(void)ctx;
	fjob_free(job->state);
	job->state = NULL;
}

void fetcher_release(void *ctx, lasync_job *job)
{
	(void)ctx;
	fjob_free(job->state);
	job->state = NULL;
}

/* fetcher_dead - the sync fails: tell the school and the operators why */
void fetcher_dead(void *ctx, lasync_job *job, const char *cls,
		  const char *error)
{
	fetcher *f = ctx;
	fjob *fj = job->state;
	char err[256];

	if (fj == NULL || fj->req == NULL)
		return; /* undecodable: nothing to report on */
	lasync_result_info ri = {
		.tenant_id = job->key,
		.sync_id = fj->req->header->sync_id,
		.generation = 0,
		.vendor = f->v->vendor,
		.outcome = LASYNC__V1__OUTCOME__OUTCOME_FAILED,
		.stage = "fetcher",
		.error_class = cls,
		.reason = error,
		.started_at_ms = fj->started,
	};
	if (lasync_result_send(job, lasync_daemon_prefix(f->d), &ri, err,
			       sizeof(err)) != 0)
		lasync_error("result_not_sent", "tenant=%s error=%s", job->key,
			     lasync_q(err));
}
