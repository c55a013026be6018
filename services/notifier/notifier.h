/*
 * notifier.h - lasync-notifier: parent change suggestions and held syncs
 * to the school by e-mail (R21, R17, R9).
 *
 *   main.c                 parameters and the daemon call
 *   notifier_job.c         the daemon side: topics, dispatch of consumed
 *                          events, the status follower and the webhook
 *   notifier_webhook.c     POST /v1/tenants/{tenant}/suggestions on its own
 *                          port: signature, schema, dirty mark, queueing
 *   notifier_suggestion.c  the webhook body: strict schema, field table
 *   notifier_send.c        one e-mail exactly once: status, Redis claim,
 *                          recipients, SMTP, record
 *   notifier_status.c      the durable mail status (compacted topic)
 *   notifier_recipients.c  managers + entitlement holders, cached
 *   notifier_resolve.c     change sets that carry the suggested values
 *   notifier_text.c        the Dutch e-mails (suggestion, held, reminder)
 *   notifier_mail.c        MIME: headers, quoted-printable, RFC 2047
 *   notifier_smtp.c        SMTP through libcurl on the shared multi handle
 *
 * Exactly once per e-mail (DESIGN §2): a status record per e-mail on the
 * compacted <prefix>.suggestion-status topic (claimed before sending, sent
 * after), a Redis claim so two instances never send at once, and a stable
 * Message-ID.  The one window left - a crash after the SMTP server accepted
 * the message and before the "sent" record - re-sends the same message
 * with the same Message-ID; see docs/notifier.md.
 *
 * Threads: everything runs on the daemon's loop except the webhook
 * handler, which runs on its own libmicrohttpd thread and touches only
 * its own structures (see notifier_webhook.c).
 */
#ifndef NOTIFIER_H
#define NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_daemon.h"

#define NOTIFIER_ENTITLEMENT "melding-ouder-kindgegevens"
#define NOTIFIER_WEBHOOK_TOLERANCE_S 300 /* R21: "older than 5 minutes" */
#define NOTIFIER_KIND_SUGGESTION "suggestion"
#define NOTIFIER_KIND_HELD "held"
#define NOTIFIER_KIND_REMINDER "reminder"

typedef struct notifier notifier;

/* --- notifier_suggestion.c: the webhook body ------------------------- */

/* One field a parent can change in the portal. */
typedef struct notifier_field {
	const char *name;	/* webhook name: "phoneMobile" */
	const char *label;	/* Dutch, for the e-mail: "Telefoonnummer mobiel" */
	const char *path;	/* ownership-table path (lib/lasync_attr.h) */
	const char *sub;	/* TYPED element: the sub-attribute; else NULL */
} notifier_field;

/* notifier_field_find - the allow-listed field of that name, or NULL */
const notifier_field *notifier_field_find(const char *name);

/* notifier_field_owned - does lasync take this field from the LAS of a
 * tenant of this vendor (R9: then the profile is marked dirty)? */
bool notifier_field_owned(const notifier_field *f, int vendor);

/* A validated webhook body; the message's strings are borrowed from the
 * parsed document, so both live and die together. */
typedef struct notifier_suggestion {
	Lasync__V1__ParentSuggestion msg;
	Lasync__V1__SuggestionChild *children;
	Lasync__V1__SuggestionChild **child_ptrs;
	Lasync__V1__SuggestionField *fields;
	Lasync__V1__SuggestionField **field_ptrs;
	void *doc;		/* json_t */
} notifier_suggestion;

/* notifier_suggestion_parse - check a webhook body strictly (field names,
 * types, lengths, no control characters); NULL with the reason in err
 * (names the offending field, never echoes a value) */
notifier_suggestion *notifier_suggestion_parse(const char *body, size_t len,
					       char *err, size_t errlen);
void notifier_suggestion_free(notifier_suggestion *s);

/* notifier_id_ok - 1..max of A-Z a-z 0-9 . _ - (suggestion, portal and
 * sync ids: safe in status keys, Redis keys and logs) */
bool notifier_id_ok(const char *s, size_t max);

/* notifier_suggestion_owned - does any field concern data lasync owns? */
bool notifier_suggestion_owned(const Lasync__V1__ParentSuggestion *s,
			       int vendor);

/* notifier_value_digest - digest of a suggested or LAS value after
 * normalising (trimmed, white space collapsed, ASCII case folded); the
 * status keeps this instead of the value.  NULL or "" is the empty value. */
void notifier_value_digest(const char *tenant, const char *suggestion_id,
			   const char *field, const char *value,
			   char out[33]);

/* notifier_parse_time - RFC 3339 "2026-11-29T08:20:55Z" (fraction and
 * offset allowed) to unix ms; -1 when invalid */
int notifier_parse_time(const char *s, int64_t *ms);

/* --- notifier_webhook.c ---------------------------------------------- */

typedef enum {
	NOTIFIER_SIG_OK,
	NOTIFIER_SIG_MISSING,
	NOTIFIER_SIG_MALFORMED,
	NOTIFIER_SIG_MISMATCH,
	NOTIFIER_SIG_STALE,
} notifier_sig_result;

/* notifier_sig_check - verify "t=<unix s>,v1=<hex>[,v1=<hex>]" against
 * HMAC-SHA256(secret, "<t>.<body>") in constant time, t within tolerance
 * of now in both directions */
notifier_sig_result notifier_sig_check(const char *header, const char *secret,
				       const char *body, size_t len,
				       int64_t now_s, long tolerance_s);

/* notifier_sig_sign - the header value for (t, body), for tests and tools
 * (caller frees) */
char *notifier_sig_sign(const char *secret, int64_t t, const char *body,
			size_t len);

typedef struct notifier_webhook notifier_webhook;

typedef struct notifier_webhook_cfg {
	const char *bind;
	int port;
	size_t max_body;
	long queue_timeout_ms;	/* wait for Kafka's acknowledgement */
} notifier_webhook_cfg;

/* notifier_webhook_new - listen; NULL with err */
notifier_webhook *notifier_webhook_new(lasync_daemon *d,
				       const notifier_webhook_cfg *cfg,
				       char *err, size_t errlen);
/* notifier_webhook_tick - on the loop: refresh the webhook's tenant view,
 * serve queued requests (dirty mark, produce) */
void notifier_webhook_tick(notifier_webhook *w);
/* notifier_webhook_close - refuse new requests and wake waiting ones */
void notifier_webhook_close(notifier_webhook *w);
void notifier_webhook_free(notifier_webhook *w);
int notifier_webhook_port(const notifier_webhook *w);
bool notifier_webhook_ready(notifier_webhook *w);

/* --- notifier_status.c ----------------------------------------------- */

typedef struct notifier_status notifier_status;
typedef Lasync__V1__NotificationStatus nstatus;

notifier_status *notifier_status_new(const char *brokers, const char *topic,
				     const char *client_id,
				     lasync_producer *prod, char *err,
				     size_t errlen);
void notifier_status_free(notifier_status *ns);
int notifier_status_load(notifier_status *ns, int timeout_ms, char *err,
			 size_t errlen);
/* notifier_status_poll - apply what arrived; never blocks */
void notifier_status_poll(notifier_status *ns);
int notifier_status_fd(notifier_status *ns);

/* notifier_status_get - what is known of one e-mail (borrowed until the
 * next poll or put), or NULL */
const nstatus *notifier_status_get(notifier_status *ns, const char *tenant,
				   const char *kind, const char *ref);

/* notifier_status_put - merge st into what is known (the local view
 * changes at once) and produce the merged record: on the job's behalf
 * when job is not NULL (the job completes once it is acknowledged), else
 * with fn/ctx as its delivery report.  -1 with err when not queued. */
int notifier_status_put(notifier_status *ns, const nstatus *st,
			lasync_job *job, lasync_dr_fn fn, void *ctx,
			char *err, size_t errlen);

/* notifier_status_rewrite - when the local view of one e-mail holds a
 * fact the records read back from the topic do not (a record of ours in
 * flight, or lost with a failed delivery), produce the merged record again
 * on the job's behalf: 1 produced, 0 nothing missing, -1 with err */
int notifier_status_rewrite(notifier_status *ns, const char *tenant,
			    const char *kind, const char *ref, lasync_job *job,
			    char *err, size_t errlen);

/* notifier_status_each - every known e-mail of a tenant */
void notifier_status_each(notifier_status *ns, const char *tenant,
			  void (*fn)(void *ctx, const nstatus *st), void *ctx);

/* notifier_status_merge - a new record holding every fact of a and b
 * (caller frees with lasync__v1__notification_status__free_unpacked) */
nstatus *notifier_status_merge(const nstatus *a, const nstatus *b);

/* notifier_status_covers - does a hold every fact b holds? */
bool notifier_status_covers(const nstatus *a, const nstatus *b);

/* notifier_status_key - "<tenant>:<ref>" for suggestions, else
 * "<tenant>:<kind>:<ref>" */
void notifier_status_key(const char *tenant, const char *kind,
			 const char *ref, char *buf, size_t len);

/* notifier_status_open - is this a suggestion still waiting for the LAS? */
bool notifier_status_open(const nstatus *st);

/* notifier_mail_state_name - "received", "claimed", "sent", "failed" */
const char *notifier_mail_state_name(Lasync__V1__MailState s);

/* --- notifier_resolve.c ---------------------------------------------- */

/* notifier_resolve_op - what one change-set operation says about an open
 * suggestion of its profile: an update record (fields newly matched, and
 * resolved_at when all owned fields match) or NULL when nothing changed.
 * The caller frees the record with notifier_resolve_free. */
nstatus *notifier_resolve_op(const nstatus *st,
			     const Lasync__V1__Operation *op, int64_t now_ms);
void notifier_resolve_free(nstatus *upd);

/* --- notifier_mail.c: MIME ------------------------------------------- */

typedef struct notifier_mail {
	const char *from;		/* header value, e.g. "Ouderportaal <a@b>" */
	const char *const *to;		/* addresses, already checked */
	size_t n_to;
	const char *subject;		/* UTF-8, any text: sanitised and encoded */
	const char *message_id;		/* "<...@domain>" */
	int64_t date_ms;
	const char *text;		/* UTF-8 plain text, '\n' line ends */
	const char *html;		/* UTF-8 HTML document */
} notifier_mail;

/* notifier_mail_render - the whole message, CRLF line ends, 7-bit clean
 * (caller frees); *len gets its length */
char *notifier_mail_render(const notifier_mail *m, size_t *len);

/* notifier_mail_qp - quoted-printable body of UTF-8 text, CRLF lines of at
 * most 76 characters (caller frees) */
char *notifier_mail_qp(const char *s);

/* notifier_mail_encode_header - an unstructured header field "Name: value"
 * with value sanitised (control characters become spaces, length capped)
 * and, unless plain printable ASCII, RFC 2047 encoded-words of UTF-8,
 * folded; no CR or LF of the input can survive (caller frees) */
char *notifier_mail_encode_header(const char *name, const char *value);

/* notifier_mail_html_escape - & < > " ' escaped (caller frees) */
char *notifier_mail_html_escape(const char *s);

/* notifier_mail_address_ok - a plain addr-spec safe to put in a header
 * and an SMTP command: local@domain, no white space, controls, quotes,
 * brackets or commas */
bool notifier_mail_address_ok(const char *a);

/* notifier_mail_from - the From: header value of a configured sender
 * "Name <addr>" or "addr" (name encoded when not plain ASCII; caller
 * frees), or NULL when it holds no acceptable address */
char *notifier_mail_from(const char *spec);

/* notifier_mail_message_id - "<kind.<digest>@domain>", stable for (tenant,
 * kind, ref) */
void notifier_mail_message_id(const char *tenant, const char *kind,
			      const char *ref, const char *domain, char *buf,
			      size_t len);

/* --- notifier_text.c: the Dutch e-mails ------------------------------ */

typedef struct notifier_content {
	char *subject;
	char *text;
	char *html;
} notifier_content;

void notifier_content_free(notifier_content *c);

/* notifier_text_suggestion - R21: the changed fields old -> new, the
 * children, and what the school does next in its LAS */
void notifier_text_suggestion(const Lasync__V1__ParentSuggestion *s,
			      int vendor, notifier_content *out);

/* notifier_text_held - R17: the sync was held, nothing applied */
void notifier_text_held(const Lasync__V1__SyncResult *r, int vendor,
			notifier_content *out);

/* notifier_text_reminder - the suggestions still open after a week */
void notifier_text_reminder(const nstatus *const *open, size_t n,
			    int vendor, notifier_content *out);

/* notifier_held_counts - N and M of "would deactivate N of M" in a held
 * result (N falls back to the counts; M is 0 when unknown) */
void notifier_held_counts(const Lasync__V1__SyncResult *r, unsigned *n,
			  unsigned *m);

/* --- notifier_smtp.c ------------------------------------------------- */

typedef struct notifier_smtp_cfg {
	const char *url;		/* smtp://host:port or smtps://host:port */
	const char *user_ref;		/* secret references, may be NULL */
	const char *password_ref;
	const char *envelope_from;	/* addr-spec */
	bool starttls;			/* smtp:// with STARTTLS required */
	const char *ca_file;		/* NULL: the system's */
	long connect_timeout_ms;
	long timeout_ms;
} notifier_smtp_cfg;

typedef enum {
	NOTIFIER_SMTP_SENT,
	NOTIFIER_SMTP_TRANSIENT,	/* connect, timeouts, 4xx: retry */
	NOTIFIER_SMTP_PERMANENT,	/* 5xx, no valid recipient: dead */
} notifier_smtp_verdict;

/* notifier_smtp_judge - what a finished transfer means; reason gets the
 * curl code and reply code, never the server's text (it may echo an
 * address) */
notifier_smtp_verdict notifier_smtp_judge(CURLcode c, long reply,
					  char *reason, size_t len);

typedef struct notifier_smtp_xfer notifier_smtp_xfer;
typedef void (*notifier_smtp_fn)(void *ctx, notifier_smtp_verdict v,
				 const char *reason);

/* notifier_smtp_send - start sending msg (copied) to rcpt; fn runs once
 * from the loop unless cancelled; NULL with err when it cannot start
 * (a secret reference that does not resolve) */
notifier_smtp_xfer *notifier_smtp_send(lasync_http *h,
				       const notifier_smtp_cfg *cfg,
				       const char *const *rcpt, size_t n,
				       const char *msg, size_t len,
				       notifier_smtp_fn fn, void *ctx,
				       char *err, size_t errlen);
void notifier_smtp_cancel(lasync_http *h, notifier_smtp_xfer *x);

/* notifier_smtp_address - the addr-spec of "Name <addr>" or "addr" into
 * buf; -1 when there is none that notifier_mail_address_ok accepts */
int notifier_smtp_address(const char *from, char *buf, size_t len);

/* --- notifier_recipients.c ------------------------------------------- */

typedef struct notifier_recipients notifier_recipients;
typedef struct notifier_rcpt_req notifier_rcpt_req;

/* notifier_rcpt_fn - rc 0: addrs[n] (borrowed for the call); rc -1: a
 * transient portal failure (retry), reason says which */
typedef void (*notifier_rcpt_fn)(void *ctx, int rc, const char *const *addrs,
				 size_t n, const char *reason);

notifier_recipients *notifier_recipients_new(lasync_http *h, long cache_s,
					     long timeout_ms);
void notifier_recipients_free(notifier_recipients *nr);

/* notifier_recipients_get - the tenant's koppeling managers, plus (with
 * holders) the portal users holding the entitlement, deduplicated
 * case-insensitively, invalid addresses left out.  fn may run before this
 * returns (cache hit); then the result is NULL. */
notifier_rcpt_req *notifier_recipients_get(notifier_recipients *nr,
					   const lasync_tenant *t,
					   bool holders, notifier_rcpt_fn fn,
					   void *ctx);
void notifier_recipients_cancel(notifier_recipients *nr,
				notifier_rcpt_req *req);

/* notifier_recipients_page - the addresses of one SCIM ListResponse page
 * of entitlement holders (active ones; their primary, else work, else
 * first e-mail), appended to a JSON array; -1 when not a ListResponse */
int notifier_recipients_page(const char *body, size_t len, void *arr,
			     long *total, long *got);

/* notifier_recipients_dedupe - append each valid address of in[] to the
 * JSON array out unless it holds it already, ignoring case */
void notifier_recipients_dedupe(void *out, const char *const *in, size_t n);

/* --- notifier_send.c: one e-mail exactly once ------------------------ */

typedef struct nsend nsend;

/* notifier_send_start - send the e-mail of this job (already decoded into
 * st: tenant, kind, ref, and for suggestions the field states) unless the
 * status says it was sent; finishes the job. Takes ownership of content
 * building data in the job state. */
void notifier_send_start(notifier *n, lasync_job *job);
void notifier_send_abandon(notifier *n, lasync_job *job);
void notifier_send_dead(notifier *n, lasync_job *job, const char *cls);
int notifier_send_acked(notifier *n, lasync_job *job, char *err,
			size_t errlen);
void notifier_send_release(lasync_job *job);

/* --- notifier_job.c: what notifier_send.c needs of the daemon -------- */

typedef struct notifier_cfg {
	notifier_smtp_cfg smtp;
	const char *from;		/* From: header value */
	const char *msgid_domain;
	long claim_ttl_s;
	long sent_ttl_s;
} notifier_cfg;

/* The decoded event a mail job works on. */
typedef struct nmail {
	const char *kind;
	char ref[160];
	Lasync__V1__ParentSuggestion *sugg;	/* suggestion */
	Lasync__V1__SyncResult *result;		/* held */
	Lasync__V1__SuggestionReminder *rem;	/* reminder */
	uint32_t known_failed;	/* claimed attempts this process saw fail */
	nsend *send;
} nmail;

lasync_daemon *notifier_daemon(notifier *n);
notifier_status *notifier_statuses(notifier *n);
notifier_recipients *notifier_rcpts(notifier *n);
const notifier_cfg *notifier_config(notifier *n);
const char *notifier_instance(notifier *n);

/* The daemon side (main.c). */
notifier *notifier_new(void);
void notifier_free(notifier *n);
const lasync_param *notifier_params(notifier *n);
/* --- notifier_health.c: per-tenant sync health gauges --------------- */

typedef struct notifier_health notifier_health;

notifier_health *notifier_health_new(lasync_daemon *d);
/* notifier_health_tick - on the loop: follow the results, refresh gauges */
void notifier_health_tick(notifier_health *nh);
void notifier_health_free(notifier_health *nh);

int notifier_init(lasync_daemon *d, void *ctx, char *err, size_t errlen);
void notifier_start(void *ctx, lasync_job *job);
void notifier_abandon(void *ctx, lasync_job *job);
void notifier_dead(void *ctx, lasync_job *job, const char *cls,
		   const char *error);
int notifier_acked(void *ctx, lasync_job *job, char *err, size_t errlen);
void notifier_release(void *ctx, lasync_job *job);
void notifier_tick(lasync_daemon *d, void *ctx);
void notifier_fini(lasync_daemon *d, void *ctx);
bool notifier_healthy(void *ctx, char *reason, size_t len);

#endif /* NOTIFIER_H */
