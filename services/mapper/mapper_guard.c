/*
 * mapper_guard.c - the deletion guard (R17).
 *
 * A sync that would deactivate more than max(guard_min, guard_percent% of
 * the tenant's active LAS-linked profiles) is held whole: the defaults (25,
 * 30%) sit above the yearly wave of groep-8 leavers and far below a broken,
 * empty export.  An operator's approval lifts the guard for one sync, for at
 * most the number of deactivations approved, so an export that got worse
 * since is held again.
 */
#include "mapper_guard.h"

#include <stdio.h>

#include "lasync_attr.h"
#include "lasync_mem.h"

/* mapper_guard_check - R17: would this change set deactivate more than
 * max(guard_min, guard_percent% of the active LAS-linked profiles)?
 * Fills why (for the result and the report) and returns true to hold. */
bool mapper_guard_check(const lasync_settings *s, const lasync_state *expected,
			size_t deactivations, uint32_t approved,
			Lasync__V1__HeldSync *h, char *why, size_t len)
{
	unsigned active = 0, limit;

	if (expected != NULL)
		for (size_t i = 0; i < expected->n_res; i++) {
			const lasync_sres *r = expected->res[i];

			if (r->type == LASYNC_RES_USER &&
			    !lasync_streq(lasync_sres_get(r, LASYNC_A_ACTIVE),
					  "false"))
				active++;
		}
	limit = (unsigned)((unsigned long)active * s->guard_percent / 100);
	if (limit < s->guard_min)
		limit = s->guard_min;
	h->deactivations = (uint32_t)deactivations;
	h->active_profiles = active;
	h->limit = limit;
	if (deactivations <= limit)
		return false;
	if (approved > 0 && deactivations <= approved) {
		snprintf(why, len,
			 "deactivates %zu of %u active profiles (limit %u), "
			 "approved for up to %u",
			 deactivations, active, limit, approved);
		return false;
	}
	snprintf(why, len,
		 "would deactivate %zu of %u active profiles (limit %u: "
		 "max(guard_min %u, guard_percent %u%%)); nothing applied; "
		 "decide with: lasyncctl sync approve|reject <tenant>",
		 deactivations, active, limit, s->guard_min, s->guard_percent);
	return true;
}

