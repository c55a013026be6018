/*
 * ctl_status.c - the last sync result of every tenant.
 *
 * Reads the results topic from the beginning (its retention bounds the
 * history) into lasync_health: per tenant the newest result, the last
 * success, failures in a row (quarantine) and a held sync (R17).  Tenants
 * without any result are listed as "never".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_health.h"
#include "lasync_mem.h"
#include "lasync_result.h"

static void take(void *ctx, const rd_kafka_message_t *m)
{
	lasync_health_take(ctx, m->payload, m->len);
}

static void fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

typedef struct status_ctx {
	const lasync_health *h;
	bool json;
	json_t *arr;
} status_ctx;

static void show(void *ctx, lasync_tenant *t)
{
	status_ctx *s = ctx;
	const lasync_health_entry *e = lasync_health_get(s->h, t->tenant_id);
	const Lasync__V1__SyncResult *r = e ? e->last : NULL;
	bool quarantined = lasync_health_quarantined(s->h, e);
	char when[32] = "never", ok[32] = "never";

	if (r != NULL)
		fmt_time(r->finished_at_ms, when, sizeof(when));
	if (e && e->last_success_ms)
		fmt_time(e->last_success_ms, ok, sizeof(ok));
	if (s->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:b,s:i}", "tenant",
				      t->tenant_id, "vendor",
				      lasync_vendor_name(t->vendor), "state",
				      t->state == LASYNC_TENANT_ACTIVE
					      ? "active"
					      : "first_run_pending",
				      "quarantined", quarantined, "held",
				      e && e->held, "failures",
				      e ? (int)e->failures : 0);

		json_object_set_new(o, "last_success", json_string(ok));
		if (r != NULL) {
			json_object_set_new(o, "last_sync", json_string(when));
			json_object_set_new(o, "sync_id",
					    json_string(r->header->sync_id));
			json_object_set_new(
				o, "outcome",
				json_string(lasync_outcome_name(r->outcome)));
			json_object_set_new(o, "stage", json_string(r->stage));
			json_object_set_new(o, "error_class",
					    json_string(r->error_class));
			json_object_set_new(o, "reason", json_string(r->reason));
			if (r->counts)
				json_object_set_new(
					o, "counts",
					json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i}",
						  "users_created",
						  r->counts->users_created,
						  "users_updated",
						  r->counts->users_updated,
						  "users_deactivated",
						  r->counts->users_deactivated,
						  "groups_created",
						  r->counts->groups_created,
						  "ops_skipped",
						  r->counts->ops_skipped,
						  "ops_failed",
						  r->counts->ops_failed,
						  "portal_writes",
						  r->counts->portal_writes));
		}
		json_array_append_new(s->arr, o);
		return;
	}
	printf("%-20s %-10s %-19s %-10s %-19s %s%s%s%s\n", t->tenant_id,
	       lasync_vendor_name(t->vendor), when,
	       r ? lasync_outcome_name(r->outcome) : "-", ok,
	       quarantined ? "[QUARANTINED] " : "",
	       e && e->held ? "[HELD] " : "",
	       t->state == LASYNC_TENANT_FIRST_RUN_PENDING
		       ? "[first run pending] "
		       : "",
	       r ? r->reason : "");
}

/* ctl_health - the health of every tenant from the results topic (the
 * caller frees it) */
lasync_health *ctl_health(ctl *c)
{
	lasync_health *h = lasync_health_new(0);
	char topic[256], err[512];
	rd_kafka_t *rk = ctl_reader(c);

	ctl_topic(c, topic, sizeof(topic), LASYNC_T_RESULTS, NULL);
	if (lasync_kafka_catch_up(rk, topic, RD_KAFKA_OFFSET_BEGINNING,
				  (int)c->timeout_ms, take, h, err,
				  sizeof(err)) != 0)
		ctl_die("%s", err);
	rd_kafka_destroy(rk);
	return h;
}

int ctl_status(ctl *c, int argc, char **argv)
{
	status_ctx s = {NULL, argc == 1 && strcmp(argv[0], "--json") == 0,
			json_array()};
	lasync_tenants *tt;
	lasync_health *h;

	if (argc > 1 || (argc == 1 && !s.json)) {
		fprintf(stderr, "usage: lasyncctl status [--json]\n");
		json_decref(s.arr);
		return 2;
	}
	tt = ctl_tenants(c);
	h = ctl_health(c);
	s.h = h;
	if (!s.json)
		printf("%-20s %-10s %-19s %-10s %-19s %s\n", "TENANT", "VENDOR",
		       "LAST SYNC", "OUTCOME", "LAST SUCCESS", "NOTES");
	lasync_tenants_each(tt, show, &s);
	if (s.json) {
		char *out = json_dumps(s.arr, JSON_INDENT(2));

		printf("%s\n", out);
		free(out);
	}
	json_decref(s.arr);
	lasync_health_free(h);
	lasync_tenants_free(tt);
	return 0;
}
