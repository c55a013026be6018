/*
 * notifier_job.c - the notifier on the daemon skeleton (see notifier.h).
 *
 * Consumes, in group <prefix>-notifier:
 *   <prefix>.suggestions           ParentSuggestion -> one e-mail (R21)
 *   <prefix>.suggestion-reminders  SuggestionReminder -> the week's reminder
 *   <prefix>.sync-results          HELD by "deletion_guard" -> one e-mail to
 *                                  the managers (R17); everything else: done
 *   <prefix>.portal-changes        change sets -> suggestions resolved
 * Reads fully at start and follows <prefix>.suggestion-status (compacted)
 * and serves the webhook on --webhook-port.
 *
 * A suggestion or reminder request that cannot be decoded, or names
 * another tenant than its key, is dead-lettered like at every other stage.
 * Change sets and sync results are read on the side: their owners (the
 * applier, lasyncctl) deal with bad ones, the notifier skips them.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "lasync_secret.h"
#include "notifier.h"

struct notifier {
	lasync_daemon *d;
	lasync_param params[20];
	/* parameters */
	char *smtp_url, *smtp_user_ref, *smtp_password_ref, *smtp_from;
	char *smtp_ca_file, *msgid_domain, *webhook_bind;
	bool smtp_starttls;
	long smtp_connect_timeout_ms, smtp_timeout_ms;
	long webhook_port, webhook_max_body, webhook_queue_ms;
	long recipients_cache_s, portal_timeout_ms;
	long claim_ttl_s, sent_ttl_s, status_timeout_ms;
	/* derived */
	notifier_cfg cfg;
	char *from_header;
	char envelope_from[256];
	char domain[256];
	char instance[160];
	char t_suggestions[256], t_changes[256], t_results[256];
	char t_reminders[256], t_status[256];
	notifier_status *status;
	notifier_recipients *rcpts;
	notifier_webhook *webhook;
	notifier_health *health;
	atomic_bool status_loaded;	/* read by /healthz's thread */
};

static lasync_metric *m_events, *m_resolved;

notifier *notifier_new(void)
{
	notifier *n = lasync_xcalloc(1, sizeof(*n));
	lasync_param *p = n->params;

#define P(...) (*p++ = (lasync_param){__VA_ARGS__})
	P("smtp-url", LASYNC_PARAM_STRING, "smtp://127.0.0.1:25",
	  "SMTP server, smtp://host:port or smtps://host:port", &n->smtp_url,
	  0, 0, false, false, NULL);
	P("smtp-from", LASYNC_PARAM_STRING, "Ouderportaal <noreply@lasync.invalid>",
	  "sender, \"Name <address>\" or \"address\"", &n->smtp_from, 0, 0,
	  false, false, NULL);
	P("smtp-user-ref", LASYNC_PARAM_STRING, "",
	  "SMTP AUTH user name, a secret reference (env:NAME, file:/path)",
	  &n->smtp_user_ref, 0, 0, false, false, NULL);
	P("smtp-password-ref", LASYNC_PARAM_STRING, "",
	  "SMTP AUTH password, a secret reference", &n->smtp_password_ref, 0,
	  0, false, false, NULL);
	P("smtp-starttls", LASYNC_PARAM_BOOL, "false",
	  "require STARTTLS on smtp:// (smtps:// is TLS from the start)",
	  &n->smtp_starttls, 0, 0, false, false, NULL);
	P("smtp-ca-file", LASYNC_PARAM_STRING, "",
	  "CA bundle to verify the SMTP server with (default: the system's)",
	  &n->smtp_ca_file, 0, 0, false, false, NULL);
	P("smtp-connect-timeout-ms", LASYNC_PARAM_INT, "10000",
	  "SMTP connect timeout", &n->smtp_connect_timeout_ms, 100, 600000,
	  false, false, NULL);
	P("smtp-timeout-ms", LASYNC_PARAM_INT, "60000",
	  "SMTP timeout of one whole message", &n->smtp_timeout_ms, 1000,
	  600000, false, false, NULL);
	P("message-id-domain", LASYNC_PARAM_STRING, "",
	  "domain of Message-IDs (default: the sender's)", &n->msgid_domain,
	  0, 0, false, false, NULL);
	P("webhook-bind", LASYNC_PARAM_STRING, "127.0.0.1",
	  "address of the suggestion webhook", &n->webhook_bind, 0, 0, false,
	  false, NULL);
	P("webhook-port", LASYNC_PARAM_INT, "9105",
	  "port of the suggestion webhook (0: any)", &n->webhook_port, 0,
	  65535, false, false, NULL);
	P("webhook-max-body", LASYNC_PARAM_INT, "65536",
	  "largest webhook body in bytes (413 above)", &n->webhook_max_body,
	  1024, 1048576, false, false, NULL);
	P("webhook-queue-ms", LASYNC_PARAM_INT, "10000",
	  "how long a webhook request waits for Kafka before 503",
	  &n->webhook_queue_ms, 100, 60000, false, false, NULL);
	P("recipients-cache-s", LASYNC_PARAM_INT, "300",
	  "how long a tenant's entitlement holders are cached",
	  &n->recipients_cache_s, 0, 86400, false, false, NULL);
	P("portal-timeout-ms", LASYNC_PARAM_INT, "30000",
	  "timeout of one SCIM request", &n->portal_timeout_ms, 100, 600000,
	  false, false, NULL);
	P("claim-ttl-s", LASYNC_PARAM_INT, "300",
	  "lifetime of a send claim in Redis (> the SMTP timeouts)",
	  &n->claim_ttl_s, 10, 86400, false, false, NULL);
	P("sent-ttl-s", LASYNC_PARAM_INT, "2592000",
	  "how long Redis remembers a sent e-mail", &n->sent_ttl_s, 60,
	  31536000, false, false, NULL);
	P("status-timeout-ms", LASYNC_PARAM_INT, "30000",
	  "time to read the suggestion status topic at start",
	  &n->status_timeout_ms, 100, 600000, false, false, NULL);
#undef P
	return n;
}

void notifier_free(notifier *n)
{
	if (n == NULL)
		return;
	free(n->from_header);
	free(n);
}

const lasync_param *notifier_params(notifier *n)
{
	return n->params;
}

lasync_daemon *notifier_daemon(notifier *n)
{
	return n->d;
}

notifier_status *notifier_statuses(notifier *n)
{
	return n->status;
}

notifier_recipients *notifier_rcpts(notifier *n)
{
	return n->rcpts;
}

const notifier_cfg *notifier_config(notifier *n)
{
	return &n->cfg;
}

const char *notifier_instance(notifier *n)
{
	return n->instance;
}

/* configure - check the SMTP settings and derive what the sender needs */
static int configure(notifier *n, char *err, size_t errlen)
{
	bool tls = strncmp(n->smtp_url, "smtps://", 8) == 0;
	bool auth = n->smtp_user_ref[0] || n->smtp_password_ref[0];
	const char *at;

	if (!tls && strncmp(n->smtp_url, "smtp://", 7) != 0) {
		snprintf(err, errlen, "--smtp-url must start with smtp:// or "
				      "smtps://");
		return -1;
	}
	if ((n->smtp_user_ref[0] && !lasync_secret_valid_ref(n->smtp_user_ref)) ||
	    (n->smtp_password_ref[0] &&
	     !lasync_secret_valid_ref(n->smtp_password_ref))) {
		snprintf(err, errlen, "--smtp-user-ref and --smtp-password-ref "
				      "must be env:NAME or file:/path");
		return -1;
	}
	if (auth && !tls && !n->smtp_starttls) {
		snprintf(err, errlen, "SMTP AUTH needs TLS: use smtps:// or "
				      "--smtp-starttls");
		return -1;
	}
	n->from_header = notifier_mail_from(n->smtp_from);
	if (n->from_header == NULL ||
	    notifier_smtp_address(n->smtp_from, n->envelope_from,
				  sizeof(n->envelope_from)) != 0) {
		snprintf(err, errlen, "--smtp-from holds no usable address");
		return -1;
	}
	at = strchr(n->envelope_from, '@');
	lasync_strlcpy(n->domain, n->msgid_domain[0] ? n->msgid_domain : at + 1,
		       sizeof(n->domain));
	if (n->claim_ttl_s * 1000 <
	    n->smtp_connect_timeout_ms + n->smtp_timeout_ms + 10000) {
		snprintf(err, errlen, "--claim-ttl-s must exceed the SMTP "
				      "timeouts by at least 10 s");
		return -1;
	}
	n->cfg = (notifier_cfg){
		.smtp = {.url = n->smtp_url,
			 .user_ref = n->smtp_user_ref,
			 .password_ref = n->smtp_password_ref,
			 .envelope_from = n->envelope_from,
			 .starttls = n->smtp_starttls,
			 .ca_file = n->smtp_ca_file,
			 .connect_timeout_ms = n->smtp_connect_timeout_ms,
			 .timeout_ms = n->smtp_timeout_ms},
		.from = n->from_header,
		.msgid_domain = n->domain,
		.claim_ttl_s = n->claim_ttl_s,
		.sent_ttl_s = n->sent_ttl_s,
	};
	return 0;
}

int notifier_init(lasync_daemon *d, void *ctx, char *err, size_t errlen)
{
	notifier *n = ctx;
	char g[256], host[64] = "host", rnd[LASYNC_ID_LEN];

	n->d = d;
	if (configure(n, err, errlen) != 0)
		return -1;
	gethostname(host, sizeof(host) - 1);
	lasync_random_id(rnd);
	snprintf(n->instance, sizeof(n->instance), "%s-%d-%.8s", host,
		 (int)getpid(), rnd);
	lasync_daemon_topic(d, n->t_suggestions, sizeof(n->t_suggestions),
			    LASYNC_T_SUGGESTIONS, NULL);
	lasync_daemon_topic(d, n->t_changes, sizeof(n->t_changes),
			    LASYNC_T_CHANGES, NULL);
	lasync_daemon_topic(d, n->t_results, sizeof(n->t_results),
			    LASYNC_T_RESULTS, NULL);
	lasync_daemon_topic(d, n->t_reminders, sizeof(n->t_reminders),
			    LASYNC_T_REMINDERS, NULL);
	lasync_daemon_topic(d, n->t_status, sizeof(n->t_status),
			    LASYNC_T_SUGGESTION_STATUS, NULL);
	lasync_daemon_subscribe(d, n->t_suggestions);
	lasync_daemon_subscribe(d, n->t_reminders);
	lasync_daemon_subscribe(d, n->t_results);
	lasync_daemon_subscribe(d, n->t_changes);
	snprintf(g, sizeof(g), "%s-notifier", lasync_daemon_prefix(d));
	lasync_daemon_group(d, g);
	lasync_daemon_declare(d, n->t_status, true);

	m_events = lasync_metric_counter(
		"lasync_suggestions_total",
		"Parent change suggestions consumed, by outcome", "outcome");
	m_resolved = lasync_metric_counter(
		"lasync_suggestions_resolved_total",
		"Suggestion fields matched and suggestions resolved by change "
		"sets",
		"what");

	n->status = notifier_status_new(lasync_daemon_brokers(d), n->t_status,
					n->instance,
					lasync_daemon_producer(d), err, errlen);
	if (n->status == NULL)
		return -1;
	n->rcpts = notifier_recipients_new(lasync_daemon_http(d),
					   n->recipients_cache_s,
					   n->portal_timeout_ms);
	notifier_webhook_cfg wc = {n->webhook_bind, (int)n->webhook_port,
				   (size_t)n->webhook_max_body,
				   n->webhook_queue_ms};

	n->webhook = notifier_webhook_new(d, &wc, err, errlen);
	if (n->webhook == NULL)
		return -1;
	lasync_info("webhook_listening", "bind=%s port=%d", n->webhook_bind,
		    notifier_webhook_port(n->webhook));
	n->health = notifier_health_new(d);
	return 0;
}

/* status_ready - the status topic read to its end (once; the skeleton
 * creates the topic after init, so the first job or tick reads it) */
static bool status_ready(notifier *n, char *err, size_t errlen)
{
	if (atomic_load(&n->status_loaded))
		return true;
	if (notifier_status_load(n->status, (int)n->status_timeout_ms, err,
				 errlen) != 0)
		return false;
	atomic_store(&n->status_loaded, true);
	return true;
}

/* --- decoding -------------------------------------------------------- */

/* nmail_free - the decoded event of a mail job */
static void nmail_free(nmail *nm)
{
	if (nm == NULL)
		return;
	if (nm->sugg)
		lasync__v1__parent_suggestion__free_unpacked(nm->sugg, NULL);
	if (nm->result)
		lasync__v1__sync_result__free_unpacked(nm->result, NULL);
	if (nm->rem)
		lasync__v1__suggestion_reminder__free_unpacked(nm->rem, NULL);
	free(nm);
}

/* week_ok - "2026-W48" */
static bool week_ok(const char *s)
{
	return strlen(s) == 8 && isdigit((unsigned char)s[0]) &&
	       isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
	       isdigit((unsigned char)s[3]) && s[4] == '-' && s[5] == 'W' &&
	       isdigit((unsigned char)s[6]) && isdigit((unsigned char)s[7]);
}

/* header_ok - ids present, and the tenant is the message key */
static bool header_ok(const Lasync__V1__Header *h, const lasync_job *job)
{
	char err[128];

	return lasync_header_valid(h, err, sizeof(err)) == 0 &&
	       strcmp(h->tenant_id, job->key) == 0;
}

/* decode_mail - the e-mail a consumed event asks for: 1 with
 * job->state set, 0 when the event asks for none, -1 when it is
 * malformed (the job was dead-lettered) */
static int decode_mail(notifier *n, lasync_job *job)
{
	const void *p = job->payload;
	size_t len = job->len;
	nmail *nm = lasync_xcalloc(1, sizeof(*nm));

	if (strcmp(job->topic, n->t_suggestions) == 0) {
		nm->kind = NOTIFIER_KIND_SUGGESTION;
		nm->sugg = lasync__v1__parent_suggestion__unpack(NULL, len, p);
		if (nm->sugg == NULL || !header_ok(nm->sugg->header, job) ||
		    !notifier_id_ok(nm->sugg->suggestion_id, 64) ||
		    nm->sugg->n_fields == 0)
			goto bad;
		lasync_strlcpy(nm->ref, nm->sugg->suggestion_id,
			       sizeof(nm->ref));
		lasync_metric_add(m_events, 1, "received");
	} else if (strcmp(job->topic, n->t_reminders) == 0) {
		nm->kind = NOTIFIER_KIND_REMINDER;
		nm->rem = lasync__v1__suggestion_reminder__unpack(NULL, len, p);
		if (nm->rem == NULL || !header_ok(nm->rem->header, job) ||
		    !week_ok(nm->rem->week))
			goto bad;
		lasync_strlcpy(nm->ref, nm->rem->week, sizeof(nm->ref));
	} else {
		nm->kind = NOTIFIER_KIND_HELD;
		nm->result = lasync__v1__sync_result__unpack(NULL, len, p);
		if (nm->result == NULL || !header_ok(nm->result->header, job)) {
			/* Results are read on the side (lasyncctl reads them
			 * too): one the notifier cannot read is not its to
			 * dead-letter. */
			lasync_warn("result_skipped",
				    "tenant=%s partition=%d offset=%lld bytes=%zu "
				    "reason=undecodable",
				    job->key, (int)job->partition,
				    (long long)job->offset, len);
			nmail_free(nm);
			return 0;
		}
		/* R17: only a sync the deletion guard held is mailed. */
		if (nm->result->outcome != LASYNC__V1__OUTCOME__OUTCOME_HELD ||
		    strcmp(nm->result->error_class, "deletion_guard") != 0) {
			nmail_free(nm);
			return 0;
		}
		if (!notifier_id_ok(nm->result->header->sync_id, 64))
			goto bad;
		lasync_strlcpy(nm->ref, nm->result->header->sync_id,
			       sizeof(nm->ref));
	}
	job->state = nm;
	return 1;
bad:
	if (nm->sugg != NULL)
		lasync_metric_add(m_events, 1, "invalid");
	lasync_job_finish(job, LASYNC_DEAD, 0, "decode",
			  "undecodable or invalid event on %s (%zu bytes)",
			  job->topic, len);
	nmail_free(nm);
	return -1;
}

/* --- resolution (portal-changes) ------------------------------------- */

typedef struct opens {
	json_t *by_parent; /* parent externalId -> [ref, ...] */
} opens;

/* add_open - index an open suggestion by its parent's externalId */
static void add_open(void *ctx, const nstatus *st)
{
	opens *o = ctx;
	json_t *l;

	if (!notifier_status_open(st) || st->parent_external_id[0] == '\0')
		return;
	l = json_object_get(o->by_parent, st->parent_external_id);
	if (l == NULL) {
		l = json_array();
		json_object_set_new(o->by_parent, st->parent_external_id, l);
	}
	json_array_append_new(l, json_string(st->ref));
}

/* resolve - match a change set against the tenant's open suggestions */
static void resolve(notifier *n, lasync_job *job)
{
	Lasync__V1__ChangeSet *cs = lasync__v1__change_set__unpack(
		NULL, job->len, job->payload);
	opens o = {json_object()};
	size_t matched = 0, resolved = 0;
	int64_t now = lasync_now_ms();
	char err[256];

	if (cs == NULL || !header_ok(cs->header, job)) {
		/* The applier's to dead-letter: the notifier only reads this
		 * topic on the side. */
		if (cs)
			lasync__v1__change_set__free_unpacked(cs, NULL);
		json_decref(o.by_parent);
		lasync_warn("changeset_skipped",
			    "tenant=%s partition=%d offset=%lld bytes=%zu "
			    "reason=undecodable",
			    job->key, (int)job->partition,
			    (long long)job->offset, job->len);
		lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
		return;
	}
	if (!cs->preview)
		notifier_status_each(n->status, job->key, add_open, &o);
	for (size_t i = 0; json_object_size(o.by_parent) && i < cs->n_ops;
	     i++) {
		const Lasync__V1__Operation *op = cs->ops[i];
		json_t *refs = json_object_get(o.by_parent, op->external_id);
		json_t *r;
		size_t k;

		json_array_foreach(refs, k, r) {
			/* Fetched again each time: a put replaces it. */
			const nstatus *st = notifier_status_get(
				n->status, job->key, NOTIFIER_KIND_SUGGESTION,
				json_string_value(r));
			nstatus *upd = notifier_resolve_op(st, op, now);

			if (upd == NULL)
				continue;
			matched++;
			resolved += upd->resolved_at_ms != 0;
			if (upd->resolved_at_ms != 0)
				lasync_info("suggestion_resolved",
					    "tenant=%s suggestion=%s sync=%s",
					    job->key, upd->ref,
					    cs->header->sync_id);
			if (notifier_status_put(n->status, upd, job, NULL, NULL,
						err, sizeof(err)) != 0) {
				notifier_resolve_free(upd);
				json_decref(o.by_parent);
				lasync__v1__change_set__free_unpacked(cs, NULL);
				lasync_job_finish(job, LASYNC_RETRY, 0,
						  "kafka_produce", "%s", err);
				return;
			}
			notifier_resolve_free(upd);
		}
	}
	if (matched > 0) {
		lasync_metric_add(m_resolved, (double)matched, "updates");
		lasync_metric_add(m_resolved, (double)resolved, "resolved");
		lasync_info("suggestions_matched",
			    "tenant=%s sync=%s part=%u updates=%zu resolved=%zu",
			    job->key, cs->header->sync_id, cs->part, matched,
			    resolved);
	}
	json_decref(o.by_parent);
	lasync__v1__change_set__free_unpacked(cs, NULL);
	lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
}

/* --- job hooks ------------------------------------------------------- */

void notifier_start(void *ctx, lasync_job *job)
{
	notifier *n = ctx;
	char err[256];

	if (!status_ready(n, err, sizeof(err))) {
		lasync_job_finish(job, LASYNC_RETRY, 0, "kafka",
				  "suggestion status not readable: %s", err);
		return;
	}
	if (strcmp(job->topic, n->t_changes) == 0) {
		resolve(n, job);
		return;
	}
	/* A retry keeps the decoded event. */
	if (job->state == NULL) {
		int rc = decode_mail(n, job);

		if (rc < 0)
			return;
		if (rc == 0) {
			lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
			return;
		}
	}
	notifier_send_start(n, job);
}

void notifier_abandon(void *ctx, lasync_job *job)
{
	notifier_release(ctx, job);
}

void notifier_release(void *ctx, lasync_job *job)
{
	(void)ctx;
	notifier_send_release(job);
	nmail_free(job->state);
	job->state = NULL;
}

void notifier_dead(void *ctx, lasync_job *job, const char *cls,
		   const char *error)
{
	(void)error;
	if (job->state != NULL)
		notifier_send_dead(ctx, job, cls);
}

int notifier_acked(void *ctx, lasync_job *job, char *err, size_t errlen)
{
	if (job->state == NULL)
		return 0;
	return notifier_send_acked(ctx, job, err, errlen);
}

void notifier_tick(lasync_daemon *d, void *ctx)
{
	notifier *n = ctx;
	char err[256];

	if (lasync_daemon_stopping(d))
		notifier_webhook_close(n->webhook);
	if (status_ready(n, err, sizeof(err)))
		notifier_status_poll(n->status);
	notifier_webhook_tick(n->webhook);
	notifier_health_tick(n->health);
}

void notifier_fini(lasync_daemon *d, void *ctx)
{
	notifier *n = ctx;

	(void)d;
	notifier_webhook_free(n->webhook);
	notifier_health_free(n->health);
	notifier_status_free(n->status);
	notifier_recipients_free(n->rcpts);
}

/* notifier_healthy - on libmicrohttpd's thread: flags only, no work */
bool notifier_healthy(void *ctx, char *reason, size_t len)
{
	notifier *n = ctx;

	if (n->webhook == NULL || !notifier_webhook_ready(n->webhook)) {
		snprintf(reason, len, "starting: webhook not ready");
		return false;
	}
	if (!atomic_load(&n->status_loaded)) {
		snprintf(reason, len, "starting: suggestion status not loaded");
		return false;
	}
	return true;
}
