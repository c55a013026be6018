/*
 * ctl_due.c - lasyncctl sync --due: request the syncs whose time has come.
 *
 * No daemon keeps a calendar (DESIGN §1): cron or a Kubernetes CronJob runs
 * this every few minutes.  A tenant's schedule is a setting:
 *
 *   nightly  one sync a night, in a slot between 01:00 and 05:00
 *            Europe/Amsterdam fixed per tenant (a hash of its id), so
 *            thousands of schools spread over the night
 *   hourly   one sync an hour, at a fixed minute per tenant
 *   manual   never requested by the schedule
 *
 * Once a week (on a weekday fixed per tenant) the scheduled sync is a full
 * reconcile against the portal.  A quarantined tenant (its syncs failed
 * LASYNC_QUARANTINE_AFTER times in a row) is requested at most once a day
 * until a sync succeeds again.  What was requested is recorded in the
 * compacted "<prefix>.schedule" topic (tenant -> {"requested": ms, "full":
 * ms}), after the request itself is acknowledged, so a run that dies half
 * way is simply repeated by the next.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "lasync_clock.h"
#include "lasync_follower.h"
#include "lasync_health.h"
#include "lasync_mem.h"

#define DAY_MS (86400 * 1000LL)
#define NIGHT_START_MIN 60  /* 01:00 */
#define NIGHT_SPAN_MIN 240  /* until 05:00 */

typedef struct due_ctx {
	ctl *c;
	json_t *sched;		/* tenant -> {"requested": ms, "full": ms} */
	lasync_health *health;
	int64_t now;
	bool dry_run;
	size_t requested, skipped;
	int rc;
} due_ctx;

static uint32_t tenant_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* local_midnight_ms - the start of the Amsterdam day holding t */
static int64_t local_midnight_ms(int64_t t)
{
	time_t s = (time_t)(t / 1000);
	struct tm tm;

	localtime_r(&s, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * 1000;
}

/* last_slot_ms - the most recent scheduled moment at or before now */
static int64_t last_slot_ms(const char *schedule, uint32_t h, int64_t now)
{
	if (strcmp(schedule, "hourly") == 0) {
		int64_t hour = now - now % 3600000;
		int64_t slot = hour + (int64_t)(h % 60) * 60000;

		return slot <= now ? slot : slot - 3600000;
	}
	int64_t midnight = local_midnight_ms(now);
	int64_t slot = midnight +
		       (int64_t)(NIGHT_START_MIN + h % NIGHT_SPAN_MIN) * 60000;

	if (slot <= now)
		return slot;
	/* yesterday's slot (a DST night is an hour off; good enough) */
	return local_midnight_ms(midnight - 3600000) +
	       (int64_t)(NIGHT_START_MIN + h % NIGHT_SPAN_MIN) * 60000;
}

static void take_sched(void *ctx, const rd_kafka_message_t *m)
{
	json_t *sched = ctx;
	char key[128];
	size_t n = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;

	if (m->key == NULL || n == 0) {
		lasync_follower_skipped(m, "no key");
		return;
	}
	memcpy(key, m->key, n);
	key[n] = '\0';
	if (m->len == 0) {
		json_object_del(sched, key);
		return;
	}
	json_t *v = json_loadb(m->payload, m->len, 0, NULL);

	/* Anything but an object is skipped; the tenant's last good record
	 * stays, so garbage never makes a tenant look never synced. */
	if (!json_is_object(v)) {
		lasync_follower_skipped(m, "not a JSON object");
		json_decref(v);
		return;
	}
	json_object_set_new(sched, key, v);
}

static int64_t sched_ms(json_t *sched, const char *tenant, const char *what)
{
	return (int64_t)json_integer_value(
		json_object_get(json_object_get(sched, tenant), what));
}

static void fmt(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static void consider(void *ctx, lasync_tenant *t)
{
	due_ctx *d = ctx;
	const char *schedule = t->settings.schedule ? t->settings.schedule
						    : "nightly";
	uint32_t h = tenant_hash(t->tenant_id);
	int64_t last = sched_ms(d->sched, t->tenant_id, "requested");
	int64_t last_full = sched_ms(d->sched, t->tenant_id, "full");
	const lasync_health_entry *e = lasync_health_get(d->health,
							 t->tenant_id);
	bool quarantined = lasync_health_quarantined(d->health, e);
	char when[32];

	if (strcmp(schedule, "manual") == 0)
		return;
	int64_t slot = last_slot_ms(schedule, h, d->now);

	if (last >= slot)
		return; /* this slot's sync was requested */
	if (quarantined && last > d->now - DAY_MS) {
		fmt(last + DAY_MS, when, sizeof(when));
		printf("skip %s: quarantined (%u failed syncs in a row); next "
		       "attempt after %s\n",
		       t->tenant_id, e->failures, when);
		d->skipped++;
		return;
	}
	/* The weekly full reconcile, on the tenant's own weekday. */
	long day = (long)(local_midnight_ms(d->now) / DAY_MS);
	bool full = last_full <= d->now - 7 * DAY_MS ||
		    ((unsigned long)day % 7 == h % 7 &&
		     last_full < local_midnight_ms(d->now));
	ctl_sync_opts o = {.full = full, .reason = "schedule"};
	char sid[33], topic[256];

	fmt(slot, when, sizeof(when));
	if (d->dry_run) {
		printf("due %s: %s slot %s%s%s\n", t->tenant_id, schedule, when,
		       full ? " (weekly full reconcile)" : "",
		       quarantined ? " (quarantined: once a day)" : "");
		d->requested++;
		return;
	}
	if (ctl_send_sync(d->c, t, &o, sid) != 0) {
		d->rc = 1;
		return;
	}
	json_t *rec = json_pack("{s:I,s:I}", "requested", (json_int_t)d->now,
				"full", (json_int_t)(full ? d->now : last_full));
	char *text = json_dumps(rec, JSON_COMPACT);

	ctl_topic(d->c, topic, sizeof(topic), LASYNC_T_SCHEDULE, NULL);
	if (ctl_produce(d->c, topic, t->tenant_id, text, strlen(text)) != 0)
		d->rc = 1;
	free(text);
	json_decref(rec);
	d->requested++;
}

int ctl_due(ctl *c, int argc, char **argv)
{
	due_ctx d = {c, json_object(), NULL, lasync_now_ms(), false, 0, 0, 0};
	char topic[256], err[512];
	lasync_tenants *tt;
	rd_kafka_t *rk;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			d.dry_run = true;
		} else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
			/* for tests and catching up: "YYYY-MM-DDTHH:MM"
			 * Amsterdam time */
			struct tm tm;
			const char *s = argv[++i];

			memset(&tm, 0, sizeof(tm));
			if (sscanf(s, "%4d-%2d-%2dT%2d:%2d", &tm.tm_year,
				   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				   &tm.tm_min) != 5)
				ctl_die("--now \"%s\": use YYYY-MM-DDTHH:MM", s);
			tm.tm_year -= 1900;
			tm.tm_mon -= 1;
			tm.tm_isdst = -1;
			d.now = (int64_t)mktime(&tm) * 1000;
		} else {
			fprintf(stderr, "usage: lasyncctl sync --due [--dry-run] "
					"[--now YYYY-MM-DDTHH:MM]\n");
			json_decref(d.sched);
			return 2;
		}
	}
	tt = ctl_tenants(c);
	d.health = ctl_health(c);
	rk = ctl_reader(c);
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_SCHEDULE, NULL);
	if (lasync_kafka_catch_up(rk, topic, RD_KAFKA_OFFSET_BEGINNING,
				  (int)c->timeout_ms, take_sched, d.sched, err,
				  sizeof(err)) != 0)
		ctl_die("%s", err);
	rd_kafka_destroy(rk);
	lasync_tenants_each(tt, consider, &d);
	printf("%s %zu sync(s); %zu quarantined tenant(s) skipped\n",
	       d.dry_run ? "would request" : "requested", d.requested,
	       d.skipped);
	json_decref(d.sched);
	lasync_health_free(d.health);
	lasync_tenants_free(tt);
	return d.rc;
}
