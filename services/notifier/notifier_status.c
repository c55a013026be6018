/*
 * notifier_status.c - the durable status of every e-mail the notifier owes
 * (DESIGN §2 "kept in the durable suggestion status").
 *
 * The status lives on the compacted topic <prefix>.suggestion-status, one
 * key per e-mail: "<tenant>:<suggestion id>", "<tenant>:held:<sync id>",
 * "<tenant>:reminder:<ISO week>".  Every notifier reads it fully at start
 * and follows it (lasync_follower), and writes it before and after each
 * send.
 *
 * Records only ever add facts - received, claimed (and how often), sent
 * with its Message-ID, failed, fields matched, resolved - and a reader
 * merges each record into what it knows (notifier_status_merge), so the
 * order in which facts from different instances arrive does not matter.
 * Because compaction keeps only a key's last record, a record that lacks a
 * fact an earlier one had (two instances wrote the same key at once: one
 * the "sent", the other the "resolved") would lose that fact; whoever
 * reads such a record writes the merged one back, so the topic converges
 * on the union.
 *
 * A write changes the local view at once, before Kafka acknowledges it:
 * this process knows what it did even while its own record is in flight.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_event.h"
#include "lasync_follower.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "notifier.h"

typedef struct entry {
	char *key;
	nstatus *cur;		/* every fact known here */
	nstatus *topic;		/* the union of the records read back */
	bool republish;
} entry;

struct notifier_status {
	lasync_follower *f;
	lasync_producer *prod;
	char *topic_name;
	json_t *by_key;		/* key -> index into e */
	json_t *by_tenant;	/* tenant -> [index, ...] */
	entry **e;
	size_t n, cap;
	size_t n_republish;
};

static lasync_metric *m_republished;

const char *notifier_mail_state_name(Lasync__V1__MailState s)
{
	switch (s) {
	case LASYNC__V1__MAIL_STATE__MAIL_RECEIVED:
		return "received";
	case LASYNC__V1__MAIL_STATE__MAIL_CLAIMED:
		return "claimed";
	case LASYNC__V1__MAIL_STATE__MAIL_FAILED:
		return "failed";
	case LASYNC__V1__MAIL_STATE__MAIL_SENT:
		return "sent";
	default:
		return "unknown";
	}
}

void notifier_status_key(const char *tenant, const char *kind,
			 const char *ref, char *buf, size_t len)
{
	if (strcmp(kind, NOTIFIER_KIND_SUGGESTION) == 0)
		snprintf(buf, len, "%s:%s", tenant, ref);
	else
		snprintf(buf, len, "%s:%s:%s", tenant, kind, ref);
}

bool notifier_status_open(const nstatus *st)
{
	if (st == NULL || strcmp(st->kind, NOTIFIER_KIND_SUGGESTION) != 0 ||
	    st->resolved_at_ms != 0)
		return false;
	for (size_t i = 0; i < st->n_fields; i++)
		if (st->fields[i]->owned)
			return true;
	return false;
}

/* --- merging --------------------------------------------------------- */

/* either - a when set, else b */
static const char *either(const char *a, const char *b)
{
	return a != NULL && a[0] != '\0' ? a : b;
}

/* min_set - the earlier of two times, 0 meaning unset */
static int64_t min_set(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* field_of - the state of the named field in s, or NULL */
static const Lasync__V1__SuggestionFieldState *
field_of(const nstatus *s, const char *name)
{
	for (size_t i = 0; s != NULL && i < s->n_fields; i++)
		if (strcmp(s->fields[i]->field, name) == 0)
			return s->fields[i];
	return NULL;
}

/* roundtrip - an owned copy of a message made of borrowed parts */
static nstatus *roundtrip(const nstatus *m)
{
	size_t len = lasync__v1__notification_status__get_packed_size(m);
	uint8_t *buf = lasync_xmalloc(len + 1);
	nstatus *out;

	lasync__v1__notification_status__pack(m, buf);
	out = lasync__v1__notification_status__unpack(NULL, len, buf);
	free(buf);
	if (out == NULL)
		lasync_panic_oom();
	return out;
}

nstatus *notifier_status_merge(const nstatus *a, const nstatus *b)
{
	nstatus m = LASYNC__V1__NOTIFICATION_STATUS__INIT;
	size_t nf = (a ? a->n_fields : 0) + (b ? b->n_fields : 0);
	Lasync__V1__SuggestionFieldState *fs =
		lasync_xcalloc(nf + 1, sizeof(*fs));
	Lasync__V1__SuggestionFieldState **fp =
		lasync_xcalloc(nf + 1, sizeof(*fp));
	const nstatus *x[2] = {a, b};
	nstatus *out;

	if (a == NULL || b == NULL) {
		free(fs);
		free(fp);
		return roundtrip(a ? a : b);
	}
	m.header = b->header ? b->header : a->header;
	m.tenant_id = (char *)either(a->tenant_id, b->tenant_id);
	m.kind = (char *)either(a->kind, b->kind);
	m.ref = (char *)either(a->ref, b->ref);
	m.mail = a->mail > b->mail ? a->mail : b->mail;
	m.received_at_ms = min_set(a->received_at_ms, b->received_at_ms);
	m.submitted_at_ms = a->submitted_at_ms ? a->submitted_at_ms
					       : b->submitted_at_ms;
	m.claims = a->claims > b->claims ? a->claims : b->claims;
	m.claimed_at_ms = a->claimed_at_ms > b->claimed_at_ms
				  ? a->claimed_at_ms
				  : b->claimed_at_ms;
	m.message_id = (char *)either(a->message_id, b->message_id);
	m.sent_at_ms = min_set(a->sent_at_ms, b->sent_at_ms);
	m.recipients = a->recipients > b->recipients ? a->recipients
						     : b->recipients;
	if (a->failed_at_ms >= b->failed_at_ms) {
		m.failed_at_ms = a->failed_at_ms;
		m.failed_class = (char *)either(a->failed_class, b->failed_class);
	} else {
		m.failed_at_ms = b->failed_at_ms;
		m.failed_class = (char *)either(b->failed_class, a->failed_class);
	}
	m.resolved_at_ms = min_set(a->resolved_at_ms, b->resolved_at_ms);
	m.parent_external_id = (char *)either(a->parent_external_id,
					      b->parent_external_id);
	/* Fields: a's in a's order, then b's others; facts OR-ed. */
	for (int side = 0; side < 2; side++) {
		for (size_t i = 0; i < x[side]->n_fields; i++) {
			const Lasync__V1__SuggestionFieldState *f =
				x[side]->fields[i];
			const Lasync__V1__SuggestionFieldState *g =
				field_of(x[1 - side], f->field);
			Lasync__V1__SuggestionFieldState *o = &fs[m.n_fields];

			if (side == 1 && g != NULL)
				continue; /* merged with a's already */
			lasync__v1__suggestion_field_state__init(o);
			o->field = f->field;
			o->owned = f->owned || (g && g->owned);
			o->new_digest = (char *)either(
				f->new_digest, g ? g->new_digest : NULL);
			if (o->new_digest == NULL)
				o->new_digest = (char *)"";
			o->matched = f->matched || (g && g->matched);
			fp[m.n_fields++] = o;
		}
	}
	m.fields = fp;
	out = roundtrip(&m);
	free(fs);
	free(fp);
	return out;
}

/* same - do a and b hold the same facts (headers aside)? */
static bool same(const nstatus *a, const nstatus *b)
{
	nstatus x = *a, y = *b;
	size_t lx, ly;
	uint8_t *bx, *by;
	bool eq;

	x.header = NULL;
	y.header = NULL;
	lx = lasync__v1__notification_status__get_packed_size(&x);
	ly = lasync__v1__notification_status__get_packed_size(&y);
	if (lx != ly)
		return false;
	bx = lasync_xmalloc(lx + 1);
	by = lasync_xmalloc(ly + 1);
	lasync__v1__notification_status__pack(&x, bx);
	lasync__v1__notification_status__pack(&y, by);
	eq = memcmp(bx, by, lx) == 0;
	free(bx);
	free(by);
	return eq;
}

bool notifier_status_covers(const nstatus *a, const nstatus *b)
{
	nstatus *m;
	bool eq;

	if (b == NULL)
		return true;
	if (a == NULL)
		return false;
	m = notifier_status_merge(a, b);
	eq = same(m, a);
	lasync__v1__notification_status__free_unpacked(m, NULL);
	return eq;
}

/* --- the table ------------------------------------------------------- */

static entry *find(notifier_status *ns, const char *key)
{
	json_t *i = json_object_get(ns->by_key, key);

	return i ? ns->e[json_integer_value(i)] : NULL;
}

/* find_or_add - a key's entry, made (and indexed by tenant) when new */
static entry *find_or_add(notifier_status *ns, const char *key,
			  const char *tenant)
{
	entry *e = find(ns, key);
	json_t *list;

	if (e != NULL)
		return e;
	e = lasync_xcalloc(1, sizeof(*e));
	e->key = lasync_xstrdup(key);
	lasync_grow(&ns->e, &ns->cap, ns->n + 1);
	ns->e[ns->n] = e;
	json_object_set_new(ns->by_key, key, json_integer((json_int_t)ns->n));
	list = json_object_get(ns->by_tenant, tenant);
	if (list == NULL) {
		list = json_array();
		json_object_set_new(ns->by_tenant, tenant, list);
	}
	json_array_append_new(list, json_integer((json_int_t)ns->n));
	ns->n++;
	return e;
}

/* absorb - merge r into *slot (which may be NULL) */
static void absorb(nstatus **slot, const nstatus *r)
{
	nstatus *m = notifier_status_merge(*slot, r);

	if (*slot != NULL)
		lasync__v1__notification_status__free_unpacked(*slot, NULL);
	*slot = m;
}

/* apply - one record of the topic */
static void apply(void *ctx, const rd_kafka_message_t *msg)
{
	notifier_status *ns = ctx;
	char key[400];
	size_t kl = msg->key_len < sizeof(key) - 1 ? msg->key_len
						   : sizeof(key) - 1;
	nstatus *r;
	entry *e;

	if (msg->key == NULL || kl == 0)
		return;
	memcpy(key, msg->key, kl);
	key[kl] = '\0';
	if (msg->len == 0) {
		e = find(ns, key);
		if (e != NULL) {
			lasync__v1__notification_status__free_unpacked(e->cur,
								       NULL);
			lasync__v1__notification_status__free_unpacked(
				e->topic, NULL);
			e->cur = e->topic = NULL;
		}
		return;
	}
	r = lasync__v1__notification_status__unpack(NULL, msg->len,
						    msg->payload);
	if (r == NULL || r->tenant_id[0] == '\0' || r->kind[0] == '\0') {
		/* one warning and lasync_state_records_skipped_total, as
		 * every reader of a state topic reports it */
		lasync_follower_skipped(msg, r == NULL
						     ? "not a NotificationStatus"
						     : "no tenant or kind");
		if (r)
			lasync__v1__notification_status__free_unpacked(r, NULL);
		return;
	}
	e = find_or_add(ns, key, r->tenant_id);
	if (e->topic != NULL && !notifier_status_covers(r, e->topic) &&
	    !e->republish) {
		e->republish = true;
		ns->n_republish++;
	}
	absorb(&e->topic, r);
	absorb(&e->cur, r);
	lasync__v1__notification_status__free_unpacked(r, NULL);
}

/* on_republished - delivery report of a written-back record */
static void on_republished(void *ctx, rd_kafka_resp_err_t err,
			   int32_t partition, int64_t offset)
{
	(void)partition;
	(void)offset;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		lasync_warn("status_republish_failed", "key=%s error=%s",
			    (char *)ctx, rd_kafka_err2name(err));
	free(ctx);
}

/* produce - write an entry's merged record, with a fresh header */
static int produce(notifier_status *ns, entry *e, lasync_job *job,
		   lasync_dr_fn fn, void *ctx, char *err, size_t errlen)
{
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN];
	nstatus m = *e->cur;
	size_t len;
	uint8_t *buf;
	int rc;

	lasync_header_fill(&h, eid, m.tenant_id, m.ref, 0, "notifier", 0);
	m.header = &h;
	len = lasync__v1__notification_status__get_packed_size(&m);
	buf = lasync_xmalloc(len + 1);
	lasync__v1__notification_status__pack(&m, buf);
	if (job != NULL)
		rc = lasync_job_produce(job, ns->topic_name, e->key, buf, len,
					NULL, err, errlen);
	else
		rc = lasync_produce(ns->prod, ns->topic_name, e->key, buf, len,
				    NULL, fn, ctx, err, errlen);
	free(buf);
	return rc;
}

/* republish - write back the union where a record lost facts */
static void republish(notifier_status *ns)
{
	char err[256];

	if (ns->n_republish == 0)
		return;
	for (size_t i = 0; i < ns->n; i++) {
		entry *e = ns->e[i];

		if (!e->republish)
			continue;
		e->republish = false;
		if (e->cur == NULL)
			continue;
		char *key = lasync_xstrdup(e->key);

		if (produce(ns, e, NULL, on_republished, key, err,
			    sizeof(err)) != 0) {
			lasync_warn("status_republish_failed", "key=%s error=%s",
				    e->key, lasync_q(err));
			free(key);
			continue;
		}
		lasync_metric_add(m_republished, 1);
		lasync_info("status_republished", "key=%s", e->key);
	}
	ns->n_republish = 0;
}

notifier_status *notifier_status_new(const char *brokers, const char *topic,
				     const char *client_id,
				     lasync_producer *prod, char *err,
				     size_t errlen)
{
	notifier_status *ns = lasync_xcalloc(1, sizeof(*ns));
	char cid[200];

	if (m_republished == NULL)
		m_republished = lasync_metric_counter(
			"lasync_notifier_status_republished_total",
			"Status records written back because a later record "
			"lacked a fact",
			NULL);
	snprintf(cid, sizeof(cid), "%s-status", client_id);
	ns->f = lasync_follower_new(brokers, topic, cid, apply, ns, err,
				    errlen);
	if (ns->f == NULL) {
		free(ns);
		return NULL;
	}
	ns->prod = prod;
	ns->topic_name = lasync_xstrdup(topic);
	ns->by_key = json_object();
	ns->by_tenant = json_object();
	return ns;
}

void notifier_status_free(notifier_status *ns)
{
	if (ns == NULL)
		return;
	lasync_follower_free(ns->f);
	for (size_t i = 0; i < ns->n; i++) {
		entry *e = ns->e[i];

		if (e->cur)
			lasync__v1__notification_status__free_unpacked(e->cur,
								       NULL);
		if (e->topic)
			lasync__v1__notification_status__free_unpacked(
				e->topic, NULL);
		free(e->key);
		free(e);
	}
	free(ns->e);
	json_decref(ns->by_key);
	json_decref(ns->by_tenant);
	free(ns->topic_name);
	free(ns);
}

int notifier_status_load(notifier_status *ns, int timeout_ms, char *err,
			 size_t errlen)
{
	if (lasync_follower_load(ns->f, timeout_ms, err, errlen) != 0)
		return -1;
	lasync_info("status_loaded", "topic=%s records=%zu", ns->topic_name,
		    ns->n);
	republish(ns);
	return 0;
}

void notifier_status_poll(notifier_status *ns)
{
	lasync_follower_poll(ns->f);
	republish(ns);
}

int notifier_status_fd(notifier_status *ns)
{
	return lasync_follower_fd(ns->f);
}

const nstatus *notifier_status_get(notifier_status *ns, const char *tenant,
				   const char *kind, const char *ref)
{
	char key[400];
	entry *e;

	notifier_status_key(tenant, kind, ref, key, sizeof(key));
	e = find(ns, key);
	return e ? e->cur : NULL;
}

int notifier_status_put(notifier_status *ns, const nstatus *st,
			lasync_job *job, lasync_dr_fn fn, void *ctx,
			char *err, size_t errlen)
{
	char key[400];
	entry *e;

	notifier_status_key(st->tenant_id, st->kind, st->ref, key,
			    sizeof(key));
	e = find_or_add(ns, key, st->tenant_id);
	absorb(&e->cur, st);
	return produce(ns, e, job, fn, ctx, err, errlen);
}

int notifier_status_rewrite(notifier_status *ns, const char *tenant,
			    const char *kind, const char *ref, lasync_job *job,
			    char *err, size_t errlen)
{
	char key[400];
	entry *e;

	notifier_status_key(tenant, kind, ref, key, sizeof(key));
	e = find(ns, key);
	if (e == NULL || e->cur == NULL ||
	    (e->topic != NULL && notifier_status_covers(e->topic, e->cur)))
		return 0;
	return produce(ns, e, job, NULL, NULL, err, errlen) == 0 ? 1 : -1;
}

void notifier_status_each(notifier_status *ns, const char *tenant,
			  void (*fn)(void *ctx, const nstatus *st), void *ctx)
{
	json_t *list = json_object_get(ns->by_tenant, tenant), *v;
	size_t i;

	json_array_foreach(list, i, v) {
		entry *e = ns->e[json_integer_value(v)];

		if (e->cur != NULL)
			fn(ctx, e->cur);
	}
}
