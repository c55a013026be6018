/*
 * notifier_recipients.c - who gets a school's e-mail (R21): the tenant's
 * koppeling managers (from the tenant document) and the portal users
 * holding the right "Melding ouder-/kindgegevens", i.e. the SCIM
 * entitlement melding-ouder-kindgegevens.
 *
 * The holders are looked up through SCIM with
 *   GET <base>/Users?filter=entitlements.value eq "melding-ouder-kindgegevens"
 *       &attributes=emails,active&startIndex=N&count=1000
 * (scim2-server filters on the entitlement's value; the query carries no
 * personal data, so a URL query string is allowed, DESIGN §5), paged, and
 * kept per tenant for --recipients-cache-s.  Users with active=false are
 * left out; of a user's e-mails the primary one is taken, else the work
 * one, else the first.  Addresses are deduplicated ignoring case, and one
 * that is not a plain addr-spec (notifier_mail_address_ok) is dropped, so
 * nothing from the portal can reach a header or an SMTP command unchecked.
 *
 * A transient portal failure is reported (the job retries); a permanent
 * one (401, 404 ...) is logged and the managers alone are used: an e-mail
 * to fewer people beats none.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lasync_clock.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "lasync_secret.h"
#include "notifier.h"

#define PAGE 1000
/* filter=entitlements.value eq "melding-ouder-kindgegevens", encoded */
#define FILTER                                                             \
	"entitlements.value%20eq%20%22" NOTIFIER_ENTITLEMENT "%22"

struct notifier_recipients {
	lasync_http *h;
	long cache_s;
	long timeout_ms;
	json_t *cache;		/* tenant -> {"until": mono ms, "addrs": [..]} */
};

struct notifier_rcpt_req {
	notifier_recipients *nr;
	lasync_http_xfer *x;
	char *tenant;
	char *base;
	char *auth;
	json_t *managers;
	json_t *holders;
	long start;
	notifier_rcpt_fn fn;
	void *ctx;
};

static lasync_metric *m_lookups;

notifier_recipients *notifier_recipients_new(lasync_http *h, long cache_s,
					     long timeout_ms)
{
	notifier_recipients *nr = lasync_xcalloc(1, sizeof(*nr));

	if (m_lookups == NULL)
		m_lookups = lasync_metric_counter(
			"lasync_notifier_recipient_lookups_total",
			"Entitlement-holder lookups by outcome", "outcome");
	nr->h = h;
	nr->cache_s = cache_s;
	nr->timeout_ms = timeout_ms;
	nr->cache = json_object();
	return nr;
}

void notifier_recipients_free(notifier_recipients *nr)
{
	if (nr == NULL)
		return;
	json_decref(nr->cache);
	free(nr);
}

void notifier_recipients_dedupe(void *out, const char *const *in, size_t n)
{
	json_t *arr = out, *v;
	size_t k;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		if (!notifier_mail_address_ok(in[i]))
			continue;
		json_array_foreach(arr, k, v)
			seen = seen ||
			       strcasecmp(json_string_value(v), in[i]) == 0;
		if (!seen)
			json_array_append_new(arr, json_string(in[i]));
	}
}

/* pick - the address of one user: primary, else work, else the first */
static const char *pick(json_t *user)
{
	json_t *emails = json_object_get(user, "emails"), *e;
	const char *first = NULL, *work = NULL;
	size_t i;

	json_array_foreach(emails, i, e) {
		const char *v = json_string_value(json_object_get(e, "value"));
		const char *t = json_string_value(json_object_get(e, "type"));

		if (v == NULL)
			continue;
		if (json_is_true(json_object_get(e, "primary")))
			return v;
		if (work == NULL && t != NULL && strcmp(t, "work") == 0)
			work = v;
		if (first == NULL)
			first = v;
	}
	return work ? work : first;
}

int notifier_recipients_page(const char *body, size_t len, void *arr,
			     long *total, long *got)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *res, *u;
	size_t i;

	res = json_object_get(doc, "Resources");
	if (doc == NULL || !json_is_array(res) ||
	    !json_is_integer(json_object_get(doc, "totalResults"))) {
		json_decref(doc);
		return -1;
	}
	*total = (long)json_integer_value(json_object_get(doc, "totalResults"));
	*got = (long)json_array_size(res);
	json_array_foreach(res, i, u) {
		const char *a;

		if (json_is_false(json_object_get(u, "active")))
			continue;
		a = pick(u);
		if (a != NULL)
			notifier_recipients_dedupe(arr, &a, 1);
	}
	json_decref(doc);
	return 0;
}

/* req_free - a request and what it holds (the token wiped) */
static void req_free(notifier_rcpt_req *q)
{
	json_decref(q->managers);
	json_decref(q->holders);
	lasync_secret_free(q->auth);
	free(q->base);
	free(q->tenant);
	free(q);
}

/* finish - hand managers + holders to the caller and free the request */
static void finish(notifier_rcpt_req *q, int rc, const char *reason)
{
	json_t *all = json_array(), *v;
	const char **addrs;
	size_t n, i;

	if (rc == 0) {
		json_array_extend(all, q->managers);
		json_array_foreach(q->holders, i, v) {
			const char *a = json_string_value(v);

			notifier_recipients_dedupe(all, &a, 1);
		}
	}
	n = json_array_size(all);
	addrs = lasync_xcalloc(n + 1, sizeof(*addrs));
	json_array_foreach(all, i, v)
		addrs[i] = json_string_value(v);
	q->fn(q->ctx, rc, addrs, n, reason);
	free(addrs);
	json_decref(all);
	req_free(q);
}

static void next_page(notifier_rcpt_req *q);

/* on_page - one page of holders: the next page, the cache, or a failure */
static void on_page(void *ctx, const lasync_http_result *r)
{
	notifier_rcpt_req *q = ctx;
	long total = 0, got = 0;
	char reason[160];

	q->x = NULL;
	if (r->curl == CURLE_OK && r->status == 200 &&
	    notifier_recipients_page(r->body, r->len, q->holders, &total,
				     &got) == 0) {
		q->start += got;
		if (got > 0 && q->start <= total) {
			next_page(q);
			return;
		}
		json_object_set_new(q->nr->cache, q->tenant,
				    json_pack("{s:I,s:O}", "until",
					      (json_int_t)(lasync_mono_ms() +
							   q->nr->cache_s * 1000),
					      "addrs", q->holders));
		lasync_metric_add(m_lookups, 1, "ok");
		finish(q, 0, NULL);
		return;
	}
	if (r->curl != CURLE_OK)
		snprintf(reason, sizeof(reason), "portal user lookup: %s",
			 curl_easy_strerror(r->curl));
	else
		snprintf(reason, sizeof(reason), "portal user lookup: HTTP %ld",
			 r->status);
	if (lasync_http_transient(r)) {
		lasync_metric_add(m_lookups, 1, "transient");
		finish(q, -1, reason);
		return;
	}
	/* Permanent: the managers still hear of it. */
	lasync_metric_add(m_lookups, 1, "failed");
	lasync_error("recipients_lookup_failed",
		     "tenant=%s reason=%s fallback=managers", q->tenant,
		     lasync_q(reason));
	json_array_clear(q->holders);
	finish(q, 0, NULL);
}

/* next_page - GET the holders from startIndex on */
static void next_page(notifier_rcpt_req *q)
{
	char *url = lasync_xasprintf("%s/Users?filter=%s"
				     "&attributes=emails,active"
				     "&startIndex=%ld&count=%d",
				     q->base, FILTER, q->start, PAGE);
	const char *hdrs[] = {q->auth, "Accept: application/scim+json", NULL};
	lasync_http_req_opts o = {
		.method = "GET",
		.url = url,
		.headers = hdrs,
		.timeout_ms = q->nr->timeout_ms,
		.connect_timeout_ms = 5000,
		.max_response = 32u * 1024u * 1024u,
	};

	q->x = lasync_http_start(q->nr->h, &o, on_page, q);
	free(url);
}

notifier_rcpt_req *notifier_recipients_get(notifier_recipients *nr,
					   const lasync_tenant *t,
					   bool holders, notifier_rcpt_fn fn,
					   void *ctx)
{
	notifier_rcpt_req *q = lasync_xcalloc(1, sizeof(*q));
	json_t *hit = json_object_get(nr->cache, t->tenant_id);
	char err[256];
	char *token;

	q->nr = nr;
	q->fn = fn;
	q->ctx = ctx;
	q->tenant = lasync_xstrdup(t->tenant_id);
	q->managers = json_array();
	q->holders = json_array();
	q->start = 1;
	notifier_recipients_dedupe(q->managers,
				   (const char *const *)t->manager_emails,
				   t->n_manager_emails);
	if (!holders) {
		finish(q, 0, NULL);
		return NULL;
	}
	if (hit != NULL &&
	    json_integer_value(json_object_get(hit, "until")) >
		    lasync_mono_ms()) {
		json_array_extend(q->holders, json_object_get(hit, "addrs"));
		lasync_metric_add(m_lookups, 1, "cached");
		finish(q, 0, NULL);
		return NULL;
	}
	token = lasync_secret_resolve(t->portal_token_ref, err, sizeof(err));
	if (token == NULL || t->portal_base_url == NULL) {
		lasync_error("recipients_lookup_failed",
			     "tenant=%s reason=%s fallback=managers",
			     t->tenant_id,
			     lasync_q(token ? "no portal base url" : err));
		lasync_secret_free(token);
		finish(q, 0, NULL);
		return NULL;
	}
	q->auth = lasync_xasprintf("Authorization: Bearer %s", token);
	lasync_secret_free(token);
	q->base = lasync_xstrdup(t->portal_base_url);
	next_page(q);
	return q;
}

void notifier_recipients_cancel(notifier_recipients *nr,
				notifier_rcpt_req *q)
{
	if (q == NULL)
		return;
	if (q->x != NULL)
		lasync_http_cancel(nr->h, q->x);
	req_free(q);
}
