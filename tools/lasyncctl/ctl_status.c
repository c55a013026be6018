/*
 * ctl_status.c - the last sync result of every tenant.
 *
 * Reads the results topic from the beginning (its retention bounds the
 * history) and keeps, per tenant, the newest result by production time.
 * Tenants without any result are listed as "never".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_mem.h"
#include "lasync_result.h"

typedef struct last {
	json_t *by_tenant; /* tenant -> packed result (as a JSON string key) */
	Lasync__V1__SyncResult **res;
	size_t n, cap;
} last;

static void take(void *ctx, const rd_kafka_message_t *m)
{
	last *l = ctx;
	Lasync__V1__SyncResult *r =
		lasync__v1__sync_result__unpack(NULL, m->len, m->payload);

	if (r == NULL || r->header == NULL) {
		if (r)
			lasync__v1__sync_result__free_unpacked(r, NULL);
		return;
	}
	json_t *slot = json_object_get(l->by_tenant, r->header->tenant_id);

	if (slot != NULL) {
		size_t i = (size_t)json_integer_value(slot);

		if (l->res[i]->header->produced_at_ms >
		    r->header->produced_at_ms) {
			lasync__v1__sync_result__free_unpacked(r, NULL);
			return;
		}
		lasync__v1__sync_result__free_unpacked(l->res[i], NULL);
		l->res[i] = r;
		return;
	}
	lasync_grow(&l->res, &l->cap, l->n + 1);
	json_object_set_new(l->by_tenant, r->header->tenant_id,
			    json_integer((json_int_t)l->n));
	l->res[l->n++] = r;
}

static void fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

typedef struct status_ctx {
	last *l;
	bool json;
	json_t *arr;
} status_ctx;

static void show(void *ctx, lasync_tenant *t)
{
	status_ctx *s = ctx;
	json_t *slot = json_object_get(s->l->by_tenant, t->tenant_id);
	const Lasync__V1__SyncResult *r =
		slot ? s->l->res[json_integer_value(slot)] : NULL;
	char when[32] = "never";

	if (r != NULL)
		fmt_time(r->finished_at_ms, when, sizeof(when));
	if (s->json) {
		json_t *o = json_pack("{s:s,s:s,s:s}", "tenant", t->tenant_id,
				      "vendor", lasync_vendor_name(t->vendor),
				      "state",
				      t->state == LASYNC_TENANT_ACTIVE
					      ? "active"
					      : "first_run_pending");

		if (r != NULL) {
			json_object_set_new(o, "last_sync", json_string(when));
			json_object_set_new(o, "sync_id",
					    json_string(r->header->sync_id));
			json_object_set_new(
				o, "outcome",
				json_string(lasync_outcome_name(r->outcome)));
			json_object_set_new(o, "stage", json_string(r->stage));
			json_object_set_new(o, "reason", json_string(r->reason));
			if (r->counts)
				json_object_set_new(
					o, "counts",
					json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}",
						  "users_created",
						  r->counts->users_created,
						  "users_updated",
						  r->counts->users_updated,
						  "users_deactivated",
						  r->counts->users_deactivated,
						  "groups_created",
						  r->counts->groups_created,
						  "ops_failed",
						  r->counts->ops_failed,
						  "portal_writes",
						  r->counts->portal_writes));
		}
		json_array_append_new(s->arr, o);
		return;
	}
	printf("%-20s %-10s %-19s %-10s %s%s%s\n", t->tenant_id,
	       lasync_vendor_name(t->vendor), when,
	       r ? lasync_outcome_name(r->outcome) : "-",
	       r && r->counts ? "" : "", r ? r->reason : "",
	       t->state == LASYNC_TENANT_FIRST_RUN_PENDING
		       ? " [first run pending]"
		       : "");
}

int ctl_status(ctl *c, int argc, char **argv)
{
	last l = {json_object(), NULL, 0, 0};
	status_ctx s = {&l, argc == 1 && strcmp(argv[0], "--json") == 0,
			json_array()};
	char topic[256], err[512];
	rd_kafka_t *rk;
	lasync_tenants *tt;

	if (argc > 1 || (argc == 1 && !s.json)) {
		fprintf(stderr, "usage: lasyncctl status [--json]\n");
		return 2;
	}
	tt = ctl_tenants(c);
	rk = ctl_reader(c);
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_RESULTS, NULL);
	if (lasync_kafka_catch_up(rk, topic, RD_KAFKA_OFFSET_BEGINNING,
				  (int)c->timeout_ms, take, &l, err,
				  sizeof(err)) != 0)
		ctl_die("%s", err);
	if (!s.json)
		printf("%-20s %-10s %-19s %-10s %s\n", "TENANT", "VENDOR",
		       "LAST SYNC", "OUTCOME", "REASON");
	lasync_tenants_each(tt, show, &s);
	if (s.json) {
		char *out = json_dumps(s.arr, JSON_INDENT(2));

		printf("%s\n", out);
		free(out);
	}
	json_decref(s.arr);
	for (size_t i = 0; i < l.n; i++)
		lasync__v1__sync_result__free_unpacked(l.res[i], NULL);
	free(l.res);
	json_decref(l.by_tenant);
	rd_kafka_destroy(rk);
	lasync_tenants_free(tt);
	return 0;
}
