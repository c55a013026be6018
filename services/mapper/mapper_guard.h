/*
 * mapper_guard.h - the deletion guard (R17); see mapper_guard.c.
 */
#ifndef MAPPER_GUARD_H
#define MAPPER_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync_state.h"
#include "lasync_tenant.h"

/* mapper_guard_check - should a change set with this many deactivations
 * be held?  Counts the active users of the expected state (NULL: none),
 * fills h's deactivations, active_profiles and limit, and why (for the
 * result and the report) when it holds or passes only by approval.
 * approved is the number an operator approved (0: none). */
bool mapper_guard_check(const lasync_settings *s, const lasync_state *expected,
			size_t deactivations, uint32_t approved,
			Lasync__V1__HeldSync *h, char *why, size_t len);

#endif /* MAPPER_GUARD_H */
