/*
 * lasync_health.c - per-tenant sync health from sync results (see
 * lasync_health.h).  Entries live in a jansson object used as a hash map
 * (tenant -> index), thousands of tenants at most.
 */
#include "lasync_health.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"

struct lasync_health {
	unsigned quarantine_after;
	json_t *index;
	lasync_health_entry *v;
	size_t n, cap;
};

lasync_health *lasync_health_new(unsigned quarantine_after)
{
	lasync_health *h = lasync_xcalloc(1, sizeof(*h));

	h->quarantine_after = quarantine_after ? quarantine_after
					       : LASYNC_QUARANTINE_AFTER;
	h->index = json_object();
	return h;
}

void lasync_health_free(lasync_health *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].last)
			lasync__v1__sync_result__free_unpacked(h->v[i].last,
							       NULL);
	free(h->v);
	json_decref(h->index);
	free(h);
}

static lasync_health_entry *entry(lasync_health *h, const char *tenant)
{
	json_t *slot = json_object_get(h->index, tenant);

	if (slot != NULL)
		return &h->v[json_integer_value(slot)];
	lasync_grow(&h->v, &h->cap, h->n + 1);
	lasync_health_entry *e = &h->v[h->n];

	memset(e, 0, sizeof(*e));
	snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
	json_object_set_new(h->index, tenant, json_integer((json_int_t)h->n));
	h->n++;
	return e;
}

int lasync_health_take(lasync_health *h, const void *buf, size_t len)
{
	Lasync__V1__SyncResult *r =
		lasync__v1__sync_result__unpack(NULL, len, buf);

	if (r == NULL || r->header == NULL || r->header->tenant_id[0] == '\0') {
		if (r)
			lasync__v1__sync_result__free_unpacked(r, NULL);
		return -1;
	}
	lasync_health_entry *e = entry(h, r->header->tenant_id);
	int64_t at = r->header->produced_at_ms;

	switch (r->outcome) {
	case LASYNC__V1__OUTCOME__OUTCOME_OK:
		e->failures = 0;
		e->failing_since_ms = 0;
		e->held = false;
		if (at > e->last_success_ms)
			e->last_success_ms = at;
		break;
	case LASYNC__V1__OUTCOME__OUTCOME_FAILED:
		if (e->failures++ == 0)
			e->failing_since_ms = at;
		e->held = false;
		break;
	case LASYNC__V1__OUTCOME__OUTCOME_HELD:
		e->held = strcmp(r->error_class, "deletion_guard") == 0;
		break;
	default:
		break;
	}
	if (at > e->last_attempt_ms)
		e->last_attempt_ms = at;
	if (e->last != NULL &&
	    e->last->header->produced_at_ms > r->header->produced_at_ms) {
		lasync__v1__sync_result__free_unpacked(r, NULL);
		return 0;
	}
	if (e->last != NULL)
		lasync__v1__sync_result__free_unpacked(e->last, NULL);
	e->last = r;
	return 0;
}

const lasync_health_entry *lasync_health_get(const lasync_health *h,
					     const char *tenant)
{
	json_t *slot = json_object_get(h->index, tenant);

	return slot ? &h->v[json_integer_value(slot)] : NULL;
}

bool lasync_health_quarantined(const lasync_health *h,
			       const lasync_health_entry *e)
{
	return e != NULL && e->failures >= h->quarantine_after;
}

void lasync_health_each(const lasync_health *h,
			void (*fn)(void *ctx, const lasync_health_entry *e),
			void *ctx)
{
	for (size_t i = 0; i < h->n; i++)
		fn(ctx, &h->v[i]);
}
