/*
 * lasync_tenants.h - every service's view of the compacted lasync.tenants
 * topic: read fully at start, then followed.
 *
 * Reading and following is lasync_follower's (every partition from the
 * beginning, no consumer group: each process keeps the whole table).  A
 * tombstone (empty value) removes a tenant.  Table entries are replaced on update; a job that keeps
 * a tenant across polls holds it (lasync_tenant_hold).
 */
#ifndef LASYNC_TENANTS_H
#define LASYNC_TENANTS_H

#include <stdbool.h>
#include <stddef.h>

#include "lasync_tenant.h"

typedef struct lasync_tenants lasync_tenants;

lasync_tenants *lasync_tenants_new(const char *brokers, const char *topic,
				   const char *client_id, char *err,
				   size_t errlen);
void lasync_tenants_free(lasync_tenants *tt);

/* lasync_tenants_load - read up to the high watermarks that stand now;
 * -1 with err when the topic cannot be read within timeout_ms */
int lasync_tenants_load(lasync_tenants *tt, int timeout_ms, char *err,
			size_t errlen);

/* lasync_tenants_poll - apply updates that arrived; never blocks */
void lasync_tenants_poll(lasync_tenants *tt);

/* lasync_tenants_get - the tenant (borrowed; valid until the next poll
 * unless held), or NULL */
lasync_tenant *lasync_tenants_get(lasync_tenants *tt, const char *tenant_id);

/* lasync_tenants_get_rev - the tenant as of at least revision min_rev (an
 * event's Header.config_revision); NULL with *behind set when this table
 * has not caught up with that write yet (retry shortly), NULL with *behind
 * clear when the tenant is unknown */
#define LASYNC_CONFIG_BEHIND_MS 500 /* retry delay while a table catches up */
lasync_tenant *lasync_tenants_get_rev(lasync_tenants *tt, const char *tenant_id,
				      int64_t min_rev, bool *behind);

/* lasync_tenants_find_brin - a tenant other than except_id that has this
 * BRIN + dependance (R1), or NULL */
lasync_tenant *lasync_tenants_find_brin(lasync_tenants *tt, const char *brin,
					const char *dependance,
					const char *except_id);

/* lasync_tenants_each - call fn for every tenant, in no particular order */
void lasync_tenants_each(lasync_tenants *tt,
			 void (*fn)(void *ctx, lasync_tenant *t), void *ctx);

size_t lasync_tenants_count(const lasync_tenants *tt);

/* lasync_tenants_fd - readable when updates wait */
int lasync_tenants_fd(lasync_tenants *tt);

/* lasync_tenants_version - grows with every applied update or removal, so
 * a holder of a derived view (the notifier's webhook) can tell when to
 * rebuild it */
unsigned long lasync_tenants_version(const lasync_tenants *tt);

#endif /* LASYNC_TENANTS_H */
