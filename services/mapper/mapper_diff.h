/*
 * mapper_diff.h - desired state vs expected state -> ordered portal
 * operations, and the next expected state.
 *
 * Incremental (an expected state exists): only what changed is written -
 * new resources are UPSERTed with everything lasync owns, changed owned
 * attributes are PATCHed with absolute values, LAS memberships are added
 * and removed one by one; users that left the LAS are deactivated (R16) and
 * groups that left are marked lasOrphaned (R5).  Nothing is ever deleted.
 *
 * Reconcile (no expected state, or a full sync): every desired resource is
 * UPSERTed and every group's LAS members are SET, and the applier compares
 * against the portal itself.  A full sync that still has an expected state
 * also deactivates and orphans what the expected state knew and the LAS no
 * longer has.
 *
 * Stages order the change set: 1 groups, 2 students and staff, 3 guardians
 * (they reference students), 4 memberships, 5 deactivations.  Operations of
 * one stage are independent of each other.
 */
#ifndef MAPPER_DIFF_H
#define MAPPER_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "lasync/v1/sync.pb-c.h"
#include "lasync_state.h"

enum {
	MAPPER_STAGE_GROUPS = 1,
	MAPPER_STAGE_USERS = 2,
	MAPPER_STAGE_GUARDIANS = 3,
	MAPPER_STAGE_MEMBERS = 4,
	MAPPER_STAGE_LEAVERS = 5,
};

typedef struct lasync_arena lasync_arena;

typedef struct mapper_ops {
	Lasync__V1__Operation **ops;	/* owned; free with mapper_ops_free */
	size_t n, cap;
	lasync_arena *arena;		/* the operations (their strings are
					 * borrowed: mapper_diff) */
	Lasync__V1__ChangeCounts counts;
	size_t deactivations;		/* users this change set deactivates */
} mapper_ops;

typedef struct mapper_diff_in {
	const char *tenant_id;
	int vendor;
	int64_t generation;
	const lasync_state *desired;	/* finished */
	const lasync_state *expected;	/* finished; NULL: reconcile */
	bool full;			/* reconcile even with an expected state */
	bool link_staff;		/* R12: false = never touch staff members */
	/* R9: externalIds whose owned fields a parent edited in the portal
	 * (sorted): UPSERTed, so the applier compares them with the portal
	 * and rewrites what differs, even when the LAS did not change */
	const char *const *dirty;
	size_t n_dirty;
} mapper_diff_in;

/* mapper_diff - fill out with the operations and return the next expected
 * state (finished, caller frees).  The operations' strings are borrowed
 * from in->desired and in->expected: free out (mapper_ops_free) before
 * either of them. */
lasync_state *mapper_diff(const mapper_diff_in *in, mapper_ops *out);

void mapper_ops_free(mapper_ops *o);

/* mapper_preview_report - a readable report of the operations for an
 * operator (mapper_preview.c): what would be created, what would change
 * field by field (old -> new, from the expected state), what would be
 * deactivated or orphaned, memberships; held_reason, when not NULL, says
 * the sync would be held (R17).  Holds names: never log it.  The caller
 * frees it. */
char *mapper_preview_report(const mapper_diff_in *in, const mapper_ops *ops,
			    const char *sync_id, const char *sync_date,
			    const char *held_reason);

/* mapper_op_kind - the user kind in an externalId "<vendor>:<kind>:<id>"
 * copied into buf ("" when it has none) */
const char *mapper_op_kind(const char *external_id, char *buf, size_t len);

#endif /* MAPPER_DIFF_H */
