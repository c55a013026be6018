/*
 * lasync_health.h - each tenant's sync health, derived from the stream of
 * sync results: the newest result, the last success, and how many syncs in
 * a row failed since.  A tenant whose syncs failed `quarantine_after` times
 * in a row (its portal or LAS keeps failing) is quarantined: its scheduled
 * syncs back off to one a day until a sync succeeds again (DESIGN §2).
 *
 * Held, superseded and preview results neither count as failures nor end a
 * run of them; an ok result ends it.  Feed results in production order per
 * tenant (the results topic is keyed by tenant, so a partition read in
 * order does that).  Ids and counts only.
 */
#ifndef LASYNC_HEALTH_H
#define LASYNC_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lasync/v1/sync.pb-c.h"

#define LASYNC_QUARANTINE_AFTER 3

typedef struct lasync_health_entry {
	char tenant[72];
	Lasync__V1__SyncResult *last;	/* newest result (owned) */
	int64_t last_success_ms;	/* 0: never */
	int64_t last_attempt_ms;	/* when the newest result was produced */
	unsigned failures;		/* failed results since the last ok */
	int64_t failing_since_ms;	/* the first of those */
	bool held;			/* newest decisive result was HELD */
} lasync_health_entry;

typedef struct lasync_health lasync_health;

lasync_health *lasync_health_new(unsigned quarantine_after);
void lasync_health_free(lasync_health *h);

/* lasync_health_take - one SyncResult message; undecodable bytes are
 * ignored (returns -1) */
int lasync_health_take(lasync_health *h, const void *buf, size_t len);

/* lasync_health_get - the tenant's entry, or NULL when it has no result */
const lasync_health_entry *lasync_health_get(const lasync_health *h,
					     const char *tenant);

bool lasync_health_quarantined(const lasync_health *h,
			       const lasync_health_entry *e);

void lasync_health_each(const lasync_health *h,
			void (*fn)(void *ctx, const lasync_health_entry *e),
			void *ctx);

#endif /* LASYNC_HEALTH_H */
