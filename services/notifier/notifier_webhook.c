/*
 * notifier_webhook.c - the portal's suggestion webhook (R21, R9).
 *
 *   POST /v1/tenants/{tenant}/suggestions
 *   Content-Type: application/json
 *   X-Lasync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256("<t>.<body>")>
 *
 * Served on its own port (--webhook-port), not the /healthz and /metrics
 * one: the webhook faces the portal (through an ingress), the operator
 * endpoints must not; and each libmicrohttpd daemon has one thread, so a
 * request waiting for Kafka's acknowledgement never delays a health probe.
 *
 * Answers: 202 once the ParentSuggestion is acknowledged by Kafka on
 * <prefix>.suggestions (keyed by tenant) - never before; 400 malformed
 * body (strict schema, see notifier_suggestion.c), 401 missing, malformed
 * or wrong signature or a timestamp more than 5 minutes off either way,
 * 403 a tenant without webhook secret, 404 unknown tenant or path, 405
 * not POST, 413 body over --webhook-max-body (lasync_httpd), 415 not JSON,
 * 503 not ready, stopping, Redis or Kafka unavailable.  Every refusal has
 * {"error": "<reason>"} and queues nothing.  The portal may retry anything
 * not answered 202: the notifier mails once per suggestion id.
 *
 * Threads.  The handler runs on libmicrohttpd's thread and touches only
 * this file's own structures, under one mutex: a small copy of what it
 * needs of each tenant (id, vendor, webhook secret reference), rebuilt by
 * the loop when the tenants table changes (lasync_tenants_version), and a
 * queue of accepted requests.  The loop (notifier_webhook_tick) does what
 * needs the daemon's shared objects: it marks the parent's profile dirty
 * in Redis when an owned field changed (R9: the set
 * "<prefix>:{<tenant>}:dirty" of externalIds, which the mapper reconciles
 * on its next sync) and produces the event; the delivery report wakes the
 * waiting handler.  A handler that gives up (timeout, shutdown) leaves its
 * request to be dropped by whoever holds it last.
 */
#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lasync_clock.h"
#include "lasync_config.h"
#include "lasync_event.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "lasync_secret.h"
#include "notifier.h"

#define PREFIX "/v1/tenants/"
#define SUFFIX "/suggestions"
#define MAX_V1 4

/* --- signatures ------------------------------------------------------ */

static void hmac_hex(const char *secret, const char *t, const char *body,
		     size_t len, unsigned char mac[32])
{
	size_t tl = strlen(t);
	unsigned char *msg = lasync_xmalloc(tl + 1 + len + 1);
	unsigned int ml = 32;

	memcpy(msg, t, tl);
	msg[tl] = '.';
	memcpy(msg + tl + 1, body, len);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, tl + 1 + len,
		 mac, &ml) == NULL)
		lasync_panic_oom();
	free(msg);
}

static int unhex(const char *s, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i += 2) {
		int hi = isdigit((unsigned char)s[i]) ? s[i] - '0'
			 : (s[i] >= 'a' && s[i] <= 'f') ? s[i] - 'a' + 10
			 : (s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 10
							: -1;
		int lo = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0'
			 : (s[i + 1] >= 'a' && s[i + 1] <= 'f')
				 ? s[i + 1] - 'a' + 10
			 : (s[i + 1] >= 'A' && s[i + 1] <= 'F')
				 ? s[i + 1] - 'A' + 10
				 : -1;

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi * 16 + lo);
	}
	return 0;
}

notifier_sig_result notifier_sig_check(const char *header, const char *secret,
				       const char *body, size_t len,
				       int64_t now_s, long tolerance_s)
{
	unsigned char want[32], got[MAX_V1][32];
	char t[16] = "";
	size_t n_v1 = 0;
	const char *p = header;
	long ts;
	bool match = false;

	if (header == NULL || header[0] == '\0')
		return NOTIFIER_SIG_MISSING;
	if (strlen(header) > 512)
		return NOTIFIER_SIG_MALFORMED;
	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t n;

		end = end ? end : p + strlen(p);
		while (p < end && *p == ' ')
			p++;
		n = (size_t)(end - p);
		eq = memchr(p, '=', n);
		if (eq == NULL)
			return NOTIFIER_SIG_MALFORMED;
		size_t kl = (size_t)(eq - p), vl = n - kl - 1;

		while (vl > 0 && eq[vl] == ' ')
			vl--;
		if (kl == 1 && p[0] == 't') {
			if (vl == 0 || vl >= sizeof(t) || t[0] != '\0')
				return NOTIFIER_SIG_MALFORMED;
			memcpy(t, eq + 1, vl);
			t[vl] = '\0';
		} else if (kl == 2 && p[0] == 'v' && p[1] == '1') {
			if (vl != 64 || n_v1 == MAX_V1 ||
			    unhex(eq + 1, 64, got[n_v1]) != 0)
				return NOTIFIER_SIG_MALFORMED;
			n_v1++;
		}
		/* other schemes (v0, v2 ...) are ignored */
		p = *end ? end + 1 : end;
	}
	if (t[0] == '\0' || n_v1 == 0 || lasync_parse_long(t, 0, 99999999999L,
							   &ts) != 0)
		return NOTIFIER_SIG_MALFORMED;
	hmac_hex(secret, t, body, len, want);
	for (size_t i = 0; i < n_v1; i++)
		match |= CRYPTO_memcmp(want, got[i], 32) == 0;
	if (!match)
		return NOTIFIER_SIG_MISMATCH;
	if (ts < now_s - tolerance_s || ts > now_s + tolerance_s)
		return NOTIFIER_SIG_STALE;
	return NOTIFIER_SIG_OK;
}

char *notifier_sig_sign(const char *secret, int64_t t, const char *body,
			size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char mac[32];
	char ts[24], hex[65];

	snprintf(ts, sizeof(ts), "%lld", (long long)t);
	hmac_hex(secret, ts, body, len, mac);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = hexd[mac[i] >> 4];
		hex[2 * i + 1] = hexd[mac[i] & 15];
	}
	hex[64] = '\0';
	return lasync_xasprintf("t=%s,v1=%s", ts, hex);
}

/* --- the webhook ----------------------------------------------------- */

typedef struct wh_tenant {
	char *id;
	char *secret_ref;	/* NULL: webhook not configured */
	int vendor;
} wh_tenant;

typedef struct wh_req {
	notifier_webhook *w;
	int refs;		/* handler + loop; under w->mu */
	bool done;
	int status;
	char tenant[80];
	char *external_id;	/* mark dirty, or NULL */
	uint8_t *payload;
	size_t len;
	struct wh_req *next;
} wh_req;

struct notifier_webhook {
	lasync_daemon *d;
	lasync_httpd *httpd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	wh_tenant *tenants;
	size_t n_tenants;
	bool have_tenants;
	bool closed;
	bool freed;
	size_t outstanding;	/* requests still referenced */
	wh_req *q_head, *q_tail;
	/* loop only */
	unsigned long tver;
	/* constant */
	long queue_timeout_ms;
	char topic[256];
	int port;
};

static lasync_metric *m_requests;

static void tenants_free(wh_tenant *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].id);
		free(t[i].secret_ref);
	}
	free(t);
}

static void webhook_destroy(notifier_webhook *w)
{
	tenants_free(w->tenants, w->n_tenants);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

/* unref - drop one reference to r; under w->mu.  true when the webhook
 * itself was waiting for this last request to be freed. */
static bool unref(wh_req *r)
{
	notifier_webhook *w = r->w;

	if (--r->refs > 0)
		return false;
	free(r->external_id);
	free(r->payload);
	free(r);
	w->outstanding--;
	return w->freed && w->outstanding == 0;
}

static char *reply(int *status, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static char *reply(int *status, int code, const char *fmt, ...)
{
	va_list ap;
	char msg[300], *out;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*status = code;
	o = json_pack("{s:s}", "error", msg);
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

/* path_tenant - the {tenant} of /v1/tenants/{tenant}/suggestions */
static bool path_tenant(const char *url, char *out, size_t len)
{
	const char *p = url + strlen(PREFIX), *end = strchr(p, '/');
	size_t n;

	if (end == NULL || strcmp(end, SUFFIX) != 0)
		return false;
	n = (size_t)(end - p);
	if (n == 0 || n >= len || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)p[i]) ||
		      isdigit((unsigned char)p[i]) || p[i] == '-' ||
		      p[i] == '_'))
			return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* lookup - copy what the handler needs of a tenant; under w->mu */
static int lookup(notifier_webhook *w, const char *id, char **secret_ref,
		  int *vendor)
{
	size_t lo = 0, hi = w->n_tenants;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(w->tenants[mid].id, id);

		if (c == 0) {
			*secret_ref = w->tenants[mid].secret_ref
					      ? lasync_xstrdup(
							w->tenants[mid].secret_ref)
					      : NULL;
			*vendor = w->tenants[mid].vendor;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* queue - hand the event to the loop and wait for Kafka's answer */
static int queue(notifier_webhook *w, const char *tenant,
		 const char *external_id, uint8_t *payload, size_t len)
{
	wh_req *r = lasync_xcalloc(1, sizeof(*r));
	struct timespec dl;
	int status = 503;
	bool last;

	r->w = w;
	r->refs = 2;
	lasync_strlcpy(r->tenant, tenant, sizeof(r->tenant));
	r->external_id = external_id ? lasync_xstrdup(external_id) : NULL;
	r->payload = payload;
	r->len = len;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += w->queue_timeout_ms / 1000;
	dl.tv_nsec += (w->queue_timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	w->outstanding++;
	if (w->q_tail)
		w->q_tail->next = r;
	else
		w->q_head = r;
	w->q_tail = r;
	pthread_mutex_unlock(&w->mu);
	lasync_http_wakeup(lasync_daemon_http(w->d));
	pthread_mutex_lock(&w->mu);
	while (!r->done && !w->closed)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) != 0)
			break;
	if (r->done)
		status = r->status;
	last = unref(r);
	pthread_mutex_unlock(&w->mu);
	(void)last; /* the webhook is not freed while a handler runs */
	return status;
}

static char *handle(void *ctx, const lasync_http_req *req, int *status,
		    const char **ctype)
{
	notifier_webhook *w = ctx;
	char tenant[80], err[256], eid[LASYNC_ID_LEN];
	const char *ct, *outcome = "accepted";
	char *secret_ref = NULL, *secret = NULL, *out = NULL;
	notifier_suggestion *s = NULL;
	Lasync__V1__Header h;
	int vendor = 0, qs;
	bool ready, closed;
	size_t len;
	uint8_t *buf;

	*ctype = "application/json";
	if (!path_tenant(req->url, tenant, sizeof(tenant))) {
		outcome = "not_found";
		out = reply(status, 404, "no such resource");
		goto out;
	}
	if (strcmp(req->method, "POST") != 0) {
		outcome = "bad_method";
		out = reply(status, 405, "only POST is allowed");
		goto out;
	}
	pthread_mutex_lock(&w->mu);
	ready = w->have_tenants;
	closed = w->closed;
	int found = ready && !closed
			    ? lookup(w, tenant, &secret_ref, &vendor)
			    : -1;
	pthread_mutex_unlock(&w->mu);
	if (!ready || closed) {
		outcome = "unavailable";
		out = reply(status, 503, "%s",
			    closed ? "shutting down" : "starting");
		goto out;
	}
	if (found != 0) {
		outcome = "unknown_tenant";
		out = reply(status, 404, "unknown tenant");
		goto out;
	}
	if (secret_ref == NULL) {
		outcome = "no_secret";
		out = reply(status, 403,
			    "the tenant has no webhook secret configured");
		goto out;
	}
	ct = req->header(req, "Content-Type");
	if (ct == NULL || strncmp(ct, "application/json", 16) != 0) {
		outcome = "bad_content_type";
		out = reply(status, 415, "Content-Type must be application/json");
		goto out;
	}
	secret = lasync_secret_resolve(secret_ref, err, sizeof(err));
	if (secret == NULL) {
		lasync_error("webhook_secret_unavailable", "tenant=%s error=%s",
			     tenant, lasync_q(err));
		outcome = "unavailable";
		out = reply(status, 503, "the tenant's webhook secret is not "
					 "available");
		goto out;
	}
	switch (notifier_sig_check(req->header(req, "X-Lasync-Signature"),
				   secret, req->body, req->body_len,
				   lasync_now_ms() / 1000,
				   NOTIFIER_WEBHOOK_TOLERANCE_S)) {
	case NOTIFIER_SIG_OK:
		break;
	case NOTIFIER_SIG_MISSING:
		outcome = "unsigned";
		out = reply(status, 401, "X-Lasync-Signature is missing");
		goto out;
	case NOTIFIER_SIG_MALFORMED:
		outcome = "bad_signature";
		out = reply(status, 401,
			    "X-Lasync-Signature must be t=<unix seconds>,"
			    "v1=<64 hex digits>");
		goto out;
	case NOTIFIER_SIG_MISMATCH:
		outcome = "bad_signature";
		out = reply(status, 401, "signature does not match");
		goto out;
	case NOTIFIER_SIG_STALE:
		outcome = "stale";
		out = reply(status, 401,
			    "timestamp is more than %d seconds from now",
			    NOTIFIER_WEBHOOK_TOLERANCE_S);
		goto out;
	}
	s = notifier_suggestion_parse(req->body, req->body_len, err,
				      sizeof(err));
	if (s == NULL) {
		outcome = "malformed";
		out = reply(status, 400, "%s", err);
		goto out;
	}
	lasync_header_fill(&h, eid, tenant, s->msg.suggestion_id, 0,
			   "notifier-webhook", 1);
	s->msg.header = &h;
	len = lasync__v1__parent_suggestion__get_packed_size(&s->msg);
	buf = lasync_xmalloc(len + 1);
	lasync__v1__parent_suggestion__pack(&s->msg, buf);
	/* R9: an owned field changed in the portal: rewrite the profile
	 * from the LAS on the next sync. */
	qs = queue(w, tenant,
		   notifier_suggestion_owned(&s->msg, vendor) &&
				   s->msg.parent_external_id[0]
			   ? s->msg.parent_external_id
			   : NULL,
		   buf, len);
	if (qs != 202) {
		outcome = "unavailable";
		out = reply(status, 503, "not queued; try again later");
		goto out;
	}
	*status = 202;
	json_t *o = json_pack("{s:s,s:s}", "status", "queued", "suggestionId",
			      s->msg.suggestion_id);

	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
out:
	lasync_metric_add(m_requests, 1, outcome);
	lasync_info("webhook_request",
		    "tenant=%s suggestion=%s status=%d outcome=%s bytes=%zu",
		    path_tenant(req->url, tenant, sizeof(tenant)) ? tenant : "-",
		    s ? s->msg.suggestion_id : "-", *status, outcome,
		    req->body_len);
	notifier_suggestion_free(s);
	lasync_secret_free(secret);
	free(secret_ref);
	return out;
}

notifier_webhook *notifier_webhook_new(lasync_daemon *d,
				       const notifier_webhook_cfg *cfg,
				       char *err, size_t errlen)
{
	notifier_webhook *w = lasync_xcalloc(1, sizeof(*w));

	if (m_requests == NULL)
		m_requests = lasync_metric_counter(
			"lasync_webhook_requests_total",
			"Suggestion webhook requests by outcome", "outcome");
	w->d = d;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->queue_timeout_ms = cfg->queue_timeout_ms;
	lasync_daemon_topic(d, w->topic, sizeof(w->topic),
			    LASYNC_T_SUGGESTIONS, NULL);
	/* No health function: this port serves the webhook only; its one
	 * route takes every path. */
	w->httpd = lasync_httpd_start(cfg->bind, cfg->port, NULL, NULL, err,
				      errlen);
	if (w->httpd == NULL) {
		webhook_destroy(w);
		return NULL;
	}
	lasync_httpd_route(w->httpd, "/", handle, w, cfg->max_body);
	w->port = lasync_httpd_port(w->httpd);
	return w;
}

int notifier_webhook_port(const notifier_webhook *w)
{
	return w->port;
}

bool notifier_webhook_ready(notifier_webhook *w)
{
	bool ok;

	pthread_mutex_lock(&w->mu);
	ok = w->have_tenants && !w->closed;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const wh_tenant *)a)->id, ((const wh_tenant *)b)->id);
}

typedef struct snap {
	wh_tenant *t;
	size_t n;
} snap;

static void take(void *ctx, lasync_tenant *t)
{
	snap *s = ctx;

	s->t[s->n].id = lasync_xstrdup(t->tenant_id);
	s->t[s->n].secret_ref =
		t->webhook_secret_ref ? lasync_xstrdup(t->webhook_secret_ref)
				      : NULL;
	s->t[s->n].vendor = t->vendor;
	s->n++;
}

/* refresh - rebuild the handler's tenant view when the table changed */
static void refresh(notifier_webhook *w)
{
	lasync_tenants *tt = lasync_daemon_tenants(w->d);
	snap s;
	wh_tenant *old;
	size_t n_old;

	if (tt == NULL ||
	    (w->have_tenants && lasync_tenants_version(tt) == w->tver))
		return;
	w->tver = lasync_tenants_version(tt);
	s.t = lasync_xcalloc(lasync_tenants_count(tt) + 1, sizeof(*s.t));
	s.n = 0;
	lasync_tenants_each(tt, take, &s);
	qsort(s.t, s.n, sizeof(*s.t), by_id);
	pthread_mutex_lock(&w->mu);
	old = w->tenants;
	n_old = w->n_tenants;
	w->tenants = s.t;
	w->n_tenants = s.n;
	w->have_tenants = true;
	pthread_mutex_unlock(&w->mu);
	tenants_free(old, n_old);
}

/* complete - the loop's answer to a waiting handler */
static void complete(wh_req *r, int status)
{
	notifier_webhook *w = r->w;
	bool last;

	pthread_mutex_lock(&w->mu);
	r->done = true;
	r->status = status;
	pthread_cond_broadcast(&w->cv);
	last = unref(r);
	pthread_mutex_unlock(&w->mu);
	if (last)
		webhook_destroy(w);
}

static void on_delivered(void *ctx, rd_kafka_resp_err_t err,
			 int32_t partition, int64_t offset)
{
	wh_req *r = ctx;

	(void)partition;
	(void)offset;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		lasync_warn("webhook_not_queued", "tenant=%s error=%s",
			    r->tenant, rd_kafka_err2name(err));
	complete(r, err == RD_KAFKA_RESP_ERR_NO_ERROR ? 202 : 503);
}

/* serve - mark dirty, then produce; the report completes the request */
static void serve(notifier_webhook *w, wh_req *r)
{
	char key[256], err[256];

	if (r->external_id != NULL) {
		lasync_redis_key(key, sizeof(key), lasync_daemon_prefix(w->d),
				 r->tenant, "dirty", NULL);
		const char *argv[] = {"SADD", key, r->external_id};
		redisReply *rep = lasync_redis_cmd(lasync_daemon_redis(w->d), 3,
						   argv, NULL, err,
						   sizeof(err));

		if (rep == NULL) {
			lasync_warn("webhook_dirty_failed",
				    "tenant=%s error=%s", r->tenant,
				    lasync_q(err));
			complete(r, 503);
			return;
		}
		freeReplyObject(rep);
	}
	if (lasync_produce(lasync_daemon_producer(w->d), w->topic, r->tenant,
			   r->payload, r->len, NULL, on_delivered, r, err,
			   sizeof(err)) != 0) {
		lasync_warn("webhook_not_queued", "tenant=%s error=%s",
			    r->tenant, lasync_q(err));
		complete(r, 503);
	}
}

void notifier_webhook_tick(notifier_webhook *w)
{
	wh_req *r, *next;

	refresh(w);
	pthread_mutex_lock(&w->mu);
	r = w->q_head;
	w->q_head = w->q_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		pthread_mutex_lock(&w->mu);
		bool gone = r->refs == 1; /* its handler gave up */
		bool closed = w->closed;
		pthread_mutex_unlock(&w->mu);
		if (gone || closed)
			complete(r, 503);
		else
			serve(w, r);
	}
}

void notifier_webhook_close(notifier_webhook *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->closed = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void notifier_webhook_free(notifier_webhook *w)
{
	bool now;

	if (w == NULL)
		return;
	notifier_webhook_close(w);
	/* Joins libmicrohttpd's thread: a waiting handler returns at once
	 * now that the webhook is closed. */
	lasync_httpd_stop(w->httpd);
	notifier_webhook_tick(w); /* answer what is still queued */
	pthread_mutex_lock(&w->mu);
	w->freed = true;
	now = w->outstanding == 0;
	pthread_mutex_unlock(&w->mu);
	/* Otherwise a delivery report still holds a request: the last one
	 * frees the webhook (complete). */
	if (now)
		webhook_destroy(w);
}
