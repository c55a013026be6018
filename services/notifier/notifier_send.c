/*
 * notifier_send.c - one e-mail, exactly once (DESIGN §2, R21, R17).
 *
 * A mail job (a suggestion, a held sync, a weekly reminder) runs these
 * steps, each attempt from the top:
 *
 *   1. status    the durable status says "sent": done, nothing sent.
 *   2. received  (suggestions) record that it arrived, with its field
 *                states, so lasyncctl and the resolver see it even while
 *                the mail waits.
 *   3. recipients  managers (+ entitlement holders), then the message is
 *                rendered with its stable Message-ID.
 *   4. claim     Redis SET NX EX "<prefix>:{tenant}:mail:<kind>:<ref>" so
 *                two instances never send at once.  Held by another
 *                instance: retry once it expires.  Holding "sent": done.
 *   5. claimed   a status record (claims + 1), acknowledged by Kafka
 *                before anything goes to the SMTP server.
 *   6. send      SMTP.  Accepted: the Redis claim becomes "sent" at once
 *                (one round trip), then the local status says "sent" and
 *                the "sent" record is produced; the job completes when
 *                Kafka has it.  4xx/connection/timeout: release the claim,
 *                RETRY (the job engine owns backoff).  5xx: release, DEAD
 *                (dead-lettered with a "failed" record).
 *
 * A crash after the claim says "sent" but before the record reached Kafka
 * is not a resend: the next attempt (of any instance) finds "sent" in Redis
 * at step 4 and produces the missing "sent" record instead of mailing.
 * The window left is a crash between the SMTP server's 250 and Redis
 * taking the SET, one Redis round trip wide (or Redis lost with it).  The
 * next attempt then finds "claimed" without "sent", logs
 * mail_resend_after_unfinished_attempt and sends again, with the same
 * Message-ID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_clock.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "notifier.h"

struct claim_wait;

struct nsend {
	notifier *n;
	lasync_job *job;
	nmail *nm;
	lasync_tenant *tenant;
	notifier_rcpt_req *rq;
	notifier_smtp_xfer *sx;
	struct claim_wait *cw;
	char rkey[400];
	bool claimed;		/* we hold the Redis claim */
	bool claim_recorded;	/* our "claimed" record is written */
	bool sent;
	uint32_t prior_claims;
	char message_id[300];
	char **rcpts;
	size_t n_rcpts;
	char *msg;
	size_t msg_len;
};

/* A claimed record waiting for its acknowledgement; outlives an abandoned
 * job (then s is NULL and the report only frees it). */
typedef struct claim_wait {
	nsend *s;
} claim_wait;

static lasync_metric *m_mails;

/* metrics_init - the mail counter, once */
static void metrics_init(void)
{
	if (m_mails == NULL)
		m_mails = lasync_metric_counter(
			"lasync_notifier_mails_total",
			"E-mails by kind and outcome (sent, duplicate, retry, "
			"failed, nothing_due)",
			"kind,outcome");
}

/* redis - the daemon's Redis (the loop's connection) */
static lasync_redis *redis(nsend *s)
{
	return lasync_daemon_redis(notifier_daemon(s->n));
}

static void mark_sent(nsend *s);

/* release - give up our Redis claim (only if it is still ours); once the
 * SMTP server accepted the message the claim turns into "sent" instead */
static void release(nsend *s)
{
	static const char lua[] =
		"if redis.call('GET', KEYS[1]) == ARGV[1] then "
		"return redis.call('DEL', KEYS[1]) end return 0";
	const char *argv[] = {"EVAL", lua, "1", s->rkey,
			      notifier_instance(s->n)};
	char err[256];
	redisReply *rep;

	if (!s->claimed)
		return;
	if (s->sent) {
		mark_sent(s);
		return;
	}
	s->claimed = false;
	rep = lasync_redis_cmd(redis(s), 5, argv, NULL, err, sizeof(err));
	if (rep == NULL)
		lasync_warn("mail_claim_not_released",
			    "tenant=%s kind=%s ref=%s error=%s", s->job->key,
			    s->nm->kind, s->nm->ref, lasync_q(err));
	else
		freeReplyObject(rep);
}

/* nsend_free - stop what is in flight, give up the claim, free */
static void nsend_free(nsend *s)
{
	if (s == NULL)
		return;
	if (s->cw != NULL)
		s->cw->s = NULL; /* its report frees it */
	notifier_recipients_cancel(notifier_rcpts(s->n), s->rq);
	notifier_smtp_cancel(lasync_daemon_http(notifier_daemon(s->n)), s->sx);
	release(s);
	lasync_tenant_release(s->tenant);
	for (size_t i = 0; i < s->n_rcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	free(s->msg);
	free(s);
}

/* base - a status update for this e-mail */
static void base(nsend *s, nstatus *st)
{
	lasync__v1__notification_status__init(st);
	st->tenant_id = s->job->key;
	st->kind = (char *)s->nm->kind;
	st->ref = s->nm->ref;
}

/* finish - end this attempt (a failed one releases the claim) */
static void finish(nsend *s, lasync_disposition d, int retry_ms,
		   const char *cls, const char *reason)
{
	if (d != LASYNC_DONE && s->claimed)
		release(s);
	if (d != LASYNC_DONE && s->claim_recorded)
		s->nm->known_failed++; /* this claim's outcome is known */
	if (d == LASYNC_RETRY)
		lasync_metric_add(m_mails, 1, s->nm->kind, "retry");
	lasync_job_finish(s->job, d, retry_ms, cls, "%s", reason ? reason : "");
}

/* --- 6. send --------------------------------------------------------- */

/* record_sent - the local status says "sent" and its record is produced
 * with the job, which completes when Kafka has it (a failed produce is a
 * failed delivery report: the engine retries the job) */
static void record_sent(nsend *s)
{
	char err[256];
	nstatus st;

	base(s, &st);
	st.mail = LASYNC__V1__MAIL_STATE__MAIL_SENT;
	st.message_id = s->message_id;
	st.sent_at_ms = lasync_now_ms();
	st.recipients = (uint32_t)s->n_rcpts;
	if (notifier_status_put(notifier_statuses(s->n), &st, s->job, NULL,
				NULL, err, sizeof(err)) != 0)
		lasync_error("mail_sent_unrecorded",
			     "tenant=%s kind=%s ref=%s error=%s", s->job->key,
			     s->nm->kind, s->nm->ref, lasync_q(err));
}

/* on_smtp - the SMTP server's answer: record "sent", or retry, or die */
static void on_smtp(void *ctx, notifier_smtp_verdict v, const char *reason)
{
	nsend *s = ctx;

	s->sx = NULL;
	if (v == NOTIFIER_SMTP_TRANSIENT) {
		finish(s, LASYNC_RETRY, 0, "smtp_transient", reason);
		return;
	}
	if (v == NOTIFIER_SMTP_PERMANENT) {
		finish(s, LASYNC_DEAD, 0, "smtp_permanent", reason);
		return;
	}
	/* Accepted.  First the claim says so: a crash from here on is not a
	 * resend (claim() finds "sent" and records it).  A claim left as
	 * ours is marked again once the record is acknowledged. */
	s->sent = true;
	mark_sent(s);
	record_sent(s);
	lasync_metric_add(m_mails, 1, s->nm->kind, "sent");
	lasync_info("mail_sent",
		    "tenant=%s kind=%s ref=%s recipients=%zu attempt=%u "
		    "message_id=%s",
		    s->job->key, s->nm->kind, s->nm->ref, s->n_rcpts,
		    s->job->attempt, s->message_id);
	/* A failed produce shows as a failed delivery report: the engine
	 * retries the job, whose next attempt finds "sent" locally. */
	lasync_job_finish(s->job, LASYNC_DONE, 0, NULL, NULL);
}

/* on_claim_acked - the "claimed" record is durable: send */
static void on_claim_acked(void *ctx, rd_kafka_resp_err_t e,
			   int32_t partition, int64_t offset)
{
	claim_wait *cw = ctx;
	nsend *s = cw->s;
	const notifier_cfg *cfg;
	char err[256];

	(void)partition;
	(void)offset;
	free(cw);
	if (s == NULL)
		return; /* the job was abandoned meanwhile */
	s->cw = NULL;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, sizeof(err), "claimed record: %s",
			 rd_kafka_err2str(e));
		finish(s, LASYNC_RETRY, 0, "kafka_produce", err);
		return;
	}
	/* An earlier claim whose end this process did not see (a crash, a
	 * restart, another instance): the SMTP server may have accepted it.
	 * This is the documented window; the same Message-ID goes again. */
	if (s->prior_claims > s->nm->known_failed)
		lasync_warn("mail_resend_after_unfinished_attempt",
			    "tenant=%s kind=%s ref=%s prior_claims=%u "
			    "message_id=%s",
			    s->job->key, s->nm->kind, s->nm->ref,
			    s->prior_claims, s->message_id);
	cfg = notifier_config(s->n);
	s->sx = notifier_smtp_send(lasync_daemon_http(notifier_daemon(s->n)),
				   &cfg->smtp, (const char *const *)s->rcpts,
				   s->n_rcpts, s->msg, s->msg_len, on_smtp, s,
				   err, sizeof(err));
	if (s->sx == NULL)
		finish(s, LASYNC_DEAD, 0, "config", err);
}

/* --- 4, 5. claim ----------------------------------------------------- */

/* claim - 1: ours now; 0: done elsewhere or held elsewhere (job finished);
 * -1: the job was finished with RETRY */
static int claim(nsend *s)
{
	const notifier_cfg *cfg = notifier_config(s->n);
	const char *inst = notifier_instance(s->n);
	char ttl[24], err[256];
	redisReply *rep;

	snprintf(ttl, sizeof(ttl), "%ld", cfg->claim_ttl_s);
	const char *set[] = {"SET", s->rkey, inst, "NX", "EX", ttl};

	rep = lasync_redis_cmd(redis(s), 6, set, NULL, err, sizeof(err));
	if (rep == NULL) {
		finish(s, LASYNC_RETRY, 0, "redis", err);
		return -1;
	}
	if (rep->type == REDIS_REPLY_STATUS) {
		freeReplyObject(rep);
		s->claimed = true;
		return 1;
	}
	freeReplyObject(rep);
	const char *get[] = {"GET", s->rkey}, *pttl[] = {"PTTL", s->rkey};

	rep = lasync_redis_cmd(redis(s), 2, get, NULL, err, sizeof(err));
	if (rep == NULL) {
		finish(s, LASYNC_RETRY, 0, "redis", err);
		return -1;
	}
	if (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "sent") == 0) {
		const nstatus *st = notifier_status_get(
			notifier_statuses(s->n), s->job->key, s->nm->kind,
			s->nm->ref);
		bool recorded = st != NULL &&
				st->mail == LASYNC__V1__MAIL_STATE__MAIL_SENT;

		freeReplyObject(rep);
		lasync_metric_add(m_mails, 1, s->nm->kind, "duplicate");
		lasync_info("mail_already_sent",
			    "tenant=%s kind=%s ref=%s by=redis recorded=%s",
			    s->job->key, s->nm->kind, s->nm->ref,
			    recorded ? "yes" : "no");
		/* Sent by an attempt that ended before its "sent" record
		 * reached Kafka (a crash): the record is this attempt's. */
		if (!recorded)
			record_sent(s);
		lasync_job_finish(s->job, LASYNC_DONE, 0, NULL, NULL);
		return 0;
	}
	if (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, inst) == 0) {
		/* Our own, left from an earlier attempt of this process. */
		freeReplyObject(rep);
		s->claimed = true;
		return 1;
	}
	freeReplyObject(rep);
	long wait_ms = 1000;

	rep = lasync_redis_cmd(redis(s), 2, pttl, NULL, err, sizeof(err));
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
		wait_ms = (long)rep->integer;
	if (rep != NULL)
		freeReplyObject(rep);
	finish(s, LASYNC_RETRY, (int)wait_ms, "claimed_elsewhere",
	       "another notifier is sending this e-mail");
	return -1;
}

typedef struct open_list {
	const char *tenant;
	int64_t before_ms;
	const nstatus **v;
	size_t n, cap;
} open_list;

/* add_open - collect one open suggestion old enough for the reminder */
static void add_open(void *ctx, const nstatus *st)
{
	open_list *l = ctx;
	int64_t at = st->submitted_at_ms ? st->submitted_at_ms
					 : st->received_at_ms;

	if (!notifier_status_open(st) || at >= l->before_ms)
		return;
	lasync_grow(&l->v, &l->cap, l->n + 1);
	l->v[l->n++] = st;
}

/* by_time - qsort order: oldest submission first */
static int by_time(const void *a, const void *b)
{
	const nstatus *x = *(const nstatus *const *)a;
	const nstatus *y = *(const nstatus *const *)b;

	return (x->submitted_at_ms > y->submitted_at_ms) -
	       (x->submitted_at_ms < y->submitted_at_ms);
}

/* collect_open - the tenant's suggestions still open and submitted before
 * the reminder's time, oldest first (borrowed until the next status poll
 * or put; the caller frees l->v) */
static void collect_open(nsend *s, open_list *l)
{
	memset(l, 0, sizeof(*l));
	l->tenant = s->job->key;
	l->before_ms = s->nm->rem->open_since_ms;
	notifier_status_each(notifier_statuses(s->n), s->job->key, add_open,
			     l);
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), by_time);
}

/* render - the message for these recipients */
static void render(nsend *s)
{
	const notifier_cfg *cfg = notifier_config(s->n);
	nmail *nm = s->nm;
	notifier_content c = {0};
	open_list l = {0};

	notifier_mail_message_id(s->job->key, nm->kind, nm->ref,
				 cfg->msgid_domain, s->message_id,
				 sizeof(s->message_id));
	if (nm->sugg != NULL) {
		notifier_text_suggestion(nm->sugg, s->tenant->vendor, &c);
	} else if (nm->result != NULL) {
		notifier_text_held(nm->result, s->tenant->vendor, &c);
	} else {
		collect_open(s, &l);
		notifier_text_reminder(l.v, l.n, s->tenant->vendor, &c);
		free(l.v);
	}
	notifier_mail m = {
		.from = cfg->from,
		.to = (const char *const *)s->rcpts,
		.n_to = s->n_rcpts,
		.subject = c.subject,
		.message_id = s->message_id,
		.date_ms = lasync_now_ms(),
		.text = c.text,
		.html = c.html,
	};
	s->msg = notifier_mail_render(&m, &s->msg_len);
	notifier_content_free(&c);
}

/* --- 3. recipients --------------------------------------------------- */

/* on_rcpts - recipients known: render, claim, record the claim */
static void on_rcpts(void *ctx, int rc, const char *const *addrs, size_t n,
		     const char *reason)
{
	nsend *s = ctx;
	char err[256];
	nstatus st;
	claim_wait *cw;

	s->rq = NULL;
	if (rc != 0) {
		finish(s, LASYNC_RETRY, 0, "portal_transient", reason);
		return;
	}
	if (n == 0) {
		finish(s, LASYNC_DEAD, 0, "no_recipients",
		       "the tenant has no koppeling managers and no portal "
		       "user holds the entitlement");
		return;
	}
	s->rcpts = lasync_xcalloc(n, sizeof(*s->rcpts));
	for (size_t i = 0; i < n; i++)
		s->rcpts[s->n_rcpts++] = lasync_xstrdup(addrs[i]);
	render(s);
	if (claim(s) <= 0)
		return;
	base(s, &st);
	st.mail = LASYNC__V1__MAIL_STATE__MAIL_CLAIMED;
	st.claims = s->prior_claims + 1;
	st.claimed_at_ms = lasync_now_ms();
	st.received_at_ms = st.claimed_at_ms;
	cw = lasync_xcalloc(1, sizeof(*cw));
	cw->s = s;
	if (notifier_status_put(notifier_statuses(s->n), &st, NULL,
				on_claim_acked, cw, err, sizeof(err)) != 0) {
		free(cw);
		finish(s, LASYNC_RETRY, 0, "kafka_produce", err);
		return;
	}
	s->claim_recorded = true;
	s->cw = cw;
}

/* --- 1, 2. status ---------------------------------------------------- */

/* received - the first record of a suggestion: when, whose, which fields
 * (digests of the suggested values, never the values) */
static int received(nsend *s, char *err, size_t errlen)
{
	const Lasync__V1__ParentSuggestion *p = s->nm->sugg;
	Lasync__V1__SuggestionFieldState *fs =
		lasync_xcalloc(p->n_fields + 1, sizeof(*fs));
	Lasync__V1__SuggestionFieldState **fp =
		lasync_xcalloc(p->n_fields + 1, sizeof(*fp));
	char (*dg)[33] = lasync_xcalloc(p->n_fields + 1, sizeof(*dg));
	nstatus st;
	int rc;

	base(s, &st);
	st.mail = LASYNC__V1__MAIL_STATE__MAIL_RECEIVED;
	st.received_at_ms = lasync_now_ms();
	st.submitted_at_ms = p->submitted_at_ms;
	st.parent_external_id = p->parent_external_id;
	for (size_t i = 0; i < p->n_fields; i++) {
		const notifier_field *f = notifier_field_find(p->fields[i]->field);

		lasync__v1__suggestion_field_state__init(&fs[i]);
		fs[i].field = p->fields[i]->field;
		fs[i].owned = f != NULL && notifier_field_owned(f, s->tenant->vendor) &&
			      p->parent_external_id[0] != '\0';
		notifier_value_digest(s->job->key, p->suggestion_id,
				      p->fields[i]->field,
				      p->fields[i]->new_value, dg[i]);
		fs[i].new_digest = dg[i];
		fp[i] = &fs[i];
	}
	st.fields = fp;
	st.n_fields = p->n_fields;
	rc = notifier_status_put(notifier_statuses(s->n), &st, s->job, NULL,
				 NULL, err, errlen);
	free(fs);
	free(fp);
	free(dg);
	return rc;
}

void notifier_send_start(notifier *n, lasync_job *job)
{
	nmail *nm = job->state;
	nsend *s;
	const nstatus *st;
	char err[256];

	metrics_init();
	nsend_free(nm->send);
	s = nm->send = lasync_xcalloc(1, sizeof(*s));
	s->n = n;
	s->job = job;
	s->nm = nm;
	lasync_redis_key(s->rkey, sizeof(s->rkey),
			 lasync_daemon_prefix(notifier_daemon(n)), job->key,
			 "mail", NULL);
	snprintf(s->rkey + strlen(s->rkey), sizeof(s->rkey) - strlen(s->rkey),
		 ":%s:%s", nm->kind, nm->ref);
	notifier_status_poll(notifier_statuses(n));
	st = notifier_status_get(notifier_statuses(n), job->key, nm->kind,
				 nm->ref);
	if (st != NULL && st->mail == LASYNC__V1__MAIL_STATE__MAIL_SENT) {
		long long sent_at = (long long)st->sent_at_ms;
		/* Sent, but its record not read back from the topic: an
		 * earlier attempt's delivery failed (the engine retried
		 * this job for it) or is still in flight.  Writing it
		 * again with this job is harmless (records merge) and
		 * keeps "sent" from living only in this process. */
		int rw = notifier_status_rewrite(notifier_statuses(n),
						 job->key, nm->kind, nm->ref,
						 job, err, sizeof(err));

		if (rw < 0) {
			lasync_job_finish(job, LASYNC_RETRY, 0,
					  "kafka_produce", "%s", err);
			return;
		}
		lasync_metric_add(m_mails, 1, nm->kind, "duplicate");
		lasync_info("mail_already_sent",
			    "tenant=%s kind=%s ref=%s by=status sent_at=%lld "
			    "record=%s",
			    job->key, nm->kind, nm->ref, sent_at,
			    rw > 0 ? "rewritten" : "read_back");
		lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		return;
	}
	s->prior_claims = st ? st->claims : 0;
	s->tenant = lasync_tenants_get(lasync_daemon_tenants(notifier_daemon(n)),
				       job->key);
	if (s->tenant == NULL) {
		lasync_job_finish(job, LASYNC_DEAD, 0, "unknown_tenant",
				  "tenant %s is not configured", job->key);
		return;
	}
	lasync_tenant_hold(s->tenant);
	if (nm->rem != NULL) {
		open_list l;

		collect_open(s, &l);
		free(l.v);
		if (l.n == 0) {
			lasync_metric_add(m_mails, 1, nm->kind, "nothing_due");
			lasync_info("reminder_nothing_open",
				    "tenant=%s week=%s", job->key, nm->ref);
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
			return;
		}
	}
	if (nm->sugg != NULL && st == NULL &&
	    received(s, err, sizeof(err)) != 0) {
		finish(s, LASYNC_RETRY, 0, "kafka_produce", err);
		return;
	}
	s->rq = notifier_recipients_get(notifier_rcpts(n), s->tenant,
					nm->result == NULL, on_rcpts, s);
}

void notifier_send_abandon(notifier *n, lasync_job *job)
{
	nmail *nm = job->state;

	(void)n;
	if (nm == NULL)
		return;
	nsend_free(nm->send);
	nm->send = NULL;
}

void notifier_send_dead(notifier *n, lasync_job *job, const char *cls)
{
	nmail *nm = job->state;
	nsend *s = nm ? nm->send : NULL;
	char err[256];
	nstatus st;

	if (s == NULL)
		return;
	release(s);
	base(s, &st);
	st.mail = LASYNC__V1__MAIL_STATE__MAIL_FAILED;
	st.failed_at_ms = lasync_now_ms();
	st.failed_class = (char *)cls;
	if (notifier_status_put(notifier_statuses(n), &st, job, NULL, NULL,
				err, sizeof(err)) != 0)
		lasync_error("mail_failed_unrecorded",
			     "tenant=%s kind=%s ref=%s error=%s", job->key,
			     nm->kind, nm->ref, lasync_q(err));
	lasync_metric_add(m_mails, 1, nm->kind, "failed");
}

/* set_sent - the claim key says "sent" for --sent-ttl-s, for an instance
 * whose view of the status lags behind; -1 with err */
static int set_sent(nsend *s, char *err, size_t errlen)
{
	char ttl[24];
	redisReply *rep;

	snprintf(ttl, sizeof(ttl), "%ld", notifier_config(s->n)->sent_ttl_s);
	const char *argv[] = {"SET", s->rkey, "sent", "EX", ttl};

	rep = lasync_redis_cmd(redis(s), 5, argv, NULL, err, errlen);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	s->claimed = false;
	return 0;
}

/* mark_sent - set_sent, a failure only worth a warning */
static void mark_sent(nsend *s)
{
	char err[256];

	if (set_sent(s, err, sizeof(err)) != 0)
		lasync_warn("mail_claim_not_marked",
			    "tenant=%s kind=%s ref=%s error=%s", s->job->key,
			    s->nm->kind, s->nm->ref, lasync_q(err));
}

int notifier_send_acked(notifier *n, lasync_job *job, char *err,
			size_t errlen)
{
	nmail *nm = job->state;
	nsend *s = nm ? nm->send : NULL;

	(void)n;
	if (s == NULL || !s->sent || !s->claimed)
		return 0;
	/* The "sent" record is in Kafka; the claim now says so too. */
	return set_sent(s, err, errlen);
}

void notifier_send_release(lasync_job *job)
{
	nmail *nm = job->state;

	if (nm == NULL)
		return;
	nsend_free(nm->send);
	nm->send = NULL;
}
