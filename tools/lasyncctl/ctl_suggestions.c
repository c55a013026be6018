/*
 * ctl_suggestions.c - parent change suggestions (R21) for operators.
 *
 *   lasyncctl suggestions [list] <tenant> [--json] [--all]
 *       The tenant's suggestions from <prefix>.suggestion-status: open ones
 *       first, then resolved; when submitted, the e-mail's state, when it
 *       was sent, when the LAS caught up, and which fields changed (a "*"
 *       marks one the LAS already shows).  Ids, times and field names
 *       only: the status holds no names or values, so none are printed.
 *       --all adds the tenant's held-sync and reminder e-mails.
 *
 *   lasyncctl suggestions remind <tenant> | --due [--min-age-days N]
 *       Ask the notifier for this week's reminder of suggestions open for
 *       at least N days (default 7): for one tenant, or (--due, what cron
 *       runs) for every tenant that has such suggestions.  The notifier
 *       sends one per tenant per ISO week, however often this runs.
 *
 * The status topic is compacted and every record carries what its writer
 * knew, so the last record of a key is read as its status.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "lasync/v1/ops.pb-c.h"
#include "lasync_clock.h"
#include "lasync_config.h"
#include "lasync_event.h"
#include "lasync_follower.h"
#include "lasync_mem.h"

typedef Lasync__V1__NotificationStatus nstatus;

typedef struct table {
	json_t *by_key;		/* key -> index */
	nstatus **v;
	size_t n, cap;
} table;

static void take(void *ctx, const rd_kafka_message_t *m)
{
	table *t = ctx;
	char key[400];
	size_t kl = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;
	nstatus *st = NULL;
	json_t *slot;

	if (m->key == NULL)
		return;
	memcpy(key, m->key, kl);
	key[kl] = '\0';
	if (m->len > 0) {
		st = lasync__v1__notification_status__unpack(NULL, m->len,
							     m->payload);
		if (st == NULL) {
			lasync_follower_skipped(
				m, "not a NotificationStatus message");
			return;
		}
	}
	slot = json_object_get(t->by_key, key);
	if (slot != NULL) {
		size_t i = (size_t)json_integer_value(slot);

		if (t->v[i])
			lasync__v1__notification_status__free_unpacked(t->v[i],
								       NULL);
		t->v[i] = st; /* a tombstone leaves NULL */
		return;
	}
	if (st == NULL)
		return;
	lasync_grow(&t->v, &t->cap, t->n + 1);
	json_object_set_new(t->by_key, key, json_integer((json_int_t)t->n));
	t->v[t->n++] = st;
}

static void load(ctl *c, table *t)
{
	char topic[256], err[512];
	rd_kafka_t *rk = ctl_reader(c);

	t->by_key = json_object();
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_SUGGESTION_STATUS, NULL);
	if (lasync_kafka_catch_up(rk, topic, RD_KAFKA_OFFSET_BEGINNING,
				  (int)c->timeout_ms, take, t, err,
				  sizeof(err)) != 0)
		ctl_die("%s (the notifier creates it when it starts)", err);
	rd_kafka_destroy(rk);
}

static void unload(table *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i])
			lasync__v1__notification_status__free_unpacked(t->v[i],
								       NULL);
	free(t->v);
	json_decref(t->by_key);
}

static const char *mail_state(Lasync__V1__MailState s)
{
	switch (s) {
	case LASYNC__V1__MAIL_STATE__MAIL_RECEIVED:
		return "received";
	case LASYNC__V1__MAIL_STATE__MAIL_CLAIMED:
		return "sending";
	case LASYNC__V1__MAIL_STATE__MAIL_FAILED:
		return "failed";
	case LASYNC__V1__MAIL_STATE__MAIL_SENT:
		return "sent";
	default:
		return "-";
	}
}

static bool is_suggestion(const nstatus *st)
{
	return strcmp(st->kind, "suggestion") == 0;
}

/* open_since - a suggestion the LAS has not caught up with, submitted
 * before t (0: any time) */
static bool open_since(const nstatus *st, int64_t t)
{
	bool owned = false;
	int64_t at = st->submitted_at_ms ? st->submitted_at_ms
					 : st->received_at_ms;

	for (size_t i = 0; i < st->n_fields; i++)
		owned = owned || st->fields[i]->owned;
	return is_suggestion(st) && st->resolved_at_ms == 0 && owned &&
	       (t == 0 || at < t);
}

static void fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0) {
		snprintf(buf, len, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static char *fields_text(const nstatus *st)
{
	char *out = lasync_xstrdup("");

	for (size_t i = 0; i < st->n_fields; i++) {
		char *prev = out;

		out = lasync_xasprintf("%s%s%s%s", prev, i ? "," : "",
				       st->fields[i]->field,
				       st->fields[i]->matched ? "*" : "");
		free(prev);
	}
	return out;
}

static json_t *to_json(const nstatus *st)
{
	json_t *o = json_pack(
		"{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:i,s:s,s:s,s:i}", "kind",
		st->kind, "ref", st->ref, "state",
		!is_suggestion(st)	    ? "-"
		: st->resolved_at_ms != 0 ? "resolved"
					  : "open",
		"mail", mail_state(st->mail), "submitted_at_ms",
		(json_int_t)st->submitted_at_ms, "received_at_ms",
		(json_int_t)st->received_at_ms, "sent_at_ms",
		(json_int_t)st->sent_at_ms, "resolved_at_ms",
		(json_int_t)st->resolved_at_ms, "failed_at_ms",
		(json_int_t)st->failed_at_ms, "claims", (int)st->claims,
		"message_id", st->message_id, "parent_external_id",
		st->parent_external_id, "recipients", (int)st->recipients);
	json_t *f = json_array();

	for (size_t i = 0; i < st->n_fields; i++)
		json_array_append_new(
			f, json_pack("{s:s,s:b,s:b}", "field",
				     st->fields[i]->field, "owned",
				     st->fields[i]->owned, "matched",
				     st->fields[i]->matched));
	json_object_set_new(o, "fields", f);
	return o;
}

static int by_submitted(const void *a, const void *b)
{
	const nstatus *x = *(const nstatus *const *)a;
	const nstatus *y = *(const nstatus *const *)b;
	bool ox = open_since(x, 0), oy = open_since(y, 0);
	int64_t tx = x->submitted_at_ms ? x->submitted_at_ms : x->received_at_ms;
	int64_t ty = y->submitted_at_ms ? y->submitted_at_ms : y->received_at_ms;

	if (ox != oy)
		return ox ? -1 : 1;
	return (tx > ty) - (tx < ty);
}

static int list(ctl *c, const char *tenant, bool json, bool all)
{
	table t = {0};
	nstatus **mine;
	size_t n = 0, n_open = 0;
	json_t *arr = json_array();

	load(c, &t);
	mine = lasync_xcalloc(t.n + 1, sizeof(*mine));
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i] && strcmp(t.v[i]->tenant_id, tenant) == 0 &&
		    (all || is_suggestion(t.v[i])))
			mine[n++] = t.v[i];
	qsort(mine, n, sizeof(*mine), by_submitted);
	if (!json)
		printf("%-24s %-8s %-16s %-8s %-16s %-16s %s\n", "SUGGESTION",
		       "STATE", "SUBMITTED", "MAIL", "SENT", "RESOLVED",
		       "FIELDS (* = in the LAS)");
	for (size_t i = 0; i < n; i++) {
		const nstatus *st = mine[i];
		char sub[32], sent[32], res[32], ref[200];

		n_open += open_since(st, 0);
		if (json) {
			json_array_append_new(arr, to_json(st));
			continue;
		}
		char *fl = fields_text(st);

		fmt_time(st->submitted_at_ms ? st->submitted_at_ms
					     : st->received_at_ms,
			 sub, sizeof(sub));
		fmt_time(st->sent_at_ms, sent, sizeof(sent));
		fmt_time(st->resolved_at_ms, res, sizeof(res));
		snprintf(ref, sizeof(ref), "%s%s%s",
			 is_suggestion(st) ? "" : st->kind,
			 is_suggestion(st) ? "" : ":", st->ref);
		printf("%-24s %-8s %-16s %-8s %-16s %-16s %s\n", ref,
		       !is_suggestion(st)	 ? "-"
		       : st->resolved_at_ms != 0 ? "resolved"
						 : "open",
		       sub, mail_state(st->mail), sent, res, fl);
		free(fl);
	}
	if (json) {
		char *out = json_dumps(arr, JSON_INDENT(2));

		printf("%s\n", out);
		free(out);
	} else {
		printf("%zu open\n", n_open);
	}
	json_decref(arr);
	free(mine);
	unload(&t);
	return 0;
}

/* iso_week - "2026-W48" of unix ms t in Amsterdam */
static void iso_week(int64_t t, char *buf, size_t len)
{
	char date[11];
	long day, y;

	lasync_date_amsterdam(t, date);
	lasync_date_parse(date, &day);
	/* The ISO year is the year of the week's Thursday; day 0 (1970-01-01)
	 * was a Thursday, so Monday is weekday 0 at (day + 3) % 7. */
	long thursday = day - (day + 3) % 7 + 3;
	char td[11];

	lasync_date_format(thursday, td);
	td[4] = '\0';
	lasync_parse_long(td, 1, 9999, &y);
	long w = (thursday - lasync_days_from_civil(y, 1, 1)) / 7 + 1;

	/* bounded, so the output length is known: "YYYY-Www" */
	if (y < 1 || y > 9999)
		y = 1;
	if (w < 1 || w > 53)
		w = 1;
	snprintf(buf, len, "%04ld-W%02ld", y, w);
}

static int remind_one(ctl *c, const char *tenant, const char *week,
		      int64_t since, size_t n_open)
{
	Lasync__V1__SuggestionReminder r = LASYNC__V1__SUGGESTION_REMINDER__INIT;
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN], topic[256];
	uint8_t *buf;
	size_t len;
	int rc;

	lasync_header_fill(&h, eid, tenant, week, 0, "lasyncctl", 1);
	r.header = &h;
	r.week = (char *)week;
	r.open_since_ms = since;
	len = lasync__v1__suggestion_reminder__get_packed_size(&r);
	buf = lasync_xmalloc(len + 1);
	lasync__v1__suggestion_reminder__pack(&r, buf);
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_REMINDERS, NULL);
	rc = ctl_produce(c, topic, tenant, buf, len);
	free(buf);
	if (rc == 0)
		printf("reminder requested for %s (week %s, %zu open)\n", tenant,
		       week, n_open);
	return rc;
}

static int remind(ctl *c, int argc, char **argv)
{
	const char *tenant = NULL;
	bool due = false;
	long days = 7;
	char week[16];
	int64_t now = lasync_now_ms(), since;
	table t = {0};
	lasync_tenants *tt;
	json_t *count;
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--due") == 0) {
			due = true;
			continue;
		}
		if (strcmp(argv[i], "--min-age-days") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 0, 365, &days) != 0)
				ctl_die("--min-age-days must be 0..365");
			continue;
		}
		if (argv[i][0] != '-' && tenant == NULL) {
			tenant = argv[i];
			continue;
		}
		goto usage;
	}
	if (due == (tenant != NULL))
		goto usage;
	since = now - days * 86400000LL;
	iso_week(now, week, sizeof(week));
	tt = ctl_tenants(c);
	if (tenant != NULL && lasync_tenants_get(tt, tenant) == NULL)
		ctl_die("unknown tenant %s", tenant);
	load(c, &t);
	count = json_object();
	for (size_t i = 0; i < t.n; i++) {
		const nstatus *st = t.v[i];

		if (st == NULL || !open_since(st, since) ||
		    lasync_tenants_get(tt, st->tenant_id) == NULL)
			continue;
		json_t *k = json_object_get(count, st->tenant_id);

		json_object_set_new(count, st->tenant_id,
				    json_integer(json_integer_value(k) + 1));
	}
	if (tenant != NULL) {
		rc = remind_one(c, tenant, week, since,
				(size_t)json_integer_value(
					json_object_get(count, tenant)));
	} else {
		const char *k;
		json_t *v;
		size_t n = 0;

		json_object_foreach(count, k, v) {
			n++;
			if (remind_one(c, k, week, since,
				       (size_t)json_integer_value(v)) != 0)
				rc = 1;
		}
		if (n == 0)
			printf("no tenant has suggestions open for %ld days\n",
			       days);
	}
	json_decref(count);
	unload(&t);
	lasync_tenants_free(tt);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "usage: lasyncctl suggestions remind <tenant> | --due "
			"[--min-age-days N]\n");
	return 2;
}

int ctl_suggestions(ctl *c, int argc, char **argv)
{
	const char *tenant = NULL;
	bool json = false, all = false;

	if (argc >= 1 && strcmp(argv[0], "remind") == 0)
		return remind(c, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		argc--;
		argv++;
	}
	bool bad = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--all") == 0)
			all = true;
		else if (argv[i][0] != '-' && tenant == NULL)
			tenant = argv[i];
		else
			bad = true;
	}
	if (tenant == NULL || bad) {
		fprintf(stderr, "usage: lasyncctl suggestions [list] <tenant> "
				"[--json] [--all]\n"
				"       lasyncctl suggestions remind <tenant> | "
				"--due [--min-age-days N]\n");
		return 2;
	}
	return list(c, tenant, json, all);
}
