/*
 * mapper_rules.h - the vendor-neutral rules (DESIGN §6): a school model, the
 * tenant's settings and the sync date in, the desired portal state out.
 *
 * The desired state holds every user and group lasync wants to exist, with
 * the values of the attributes it owns (lasync_attr.h) and the LAS members
 * of each group.  What is absent from it is, for the diff, a leaver (R16)
 * or an orphaned group (R5); the diff and the applier are not here.
 *
 * The output depends only on the inputs' content, never on the order of the
 * LAS's lists: every list in the model is sorted by id, every multi-valued
 * value is sorted, and lasync_state_finish() sorts the rest.
 */
#ifndef MAPPER_RULES_H
#define MAPPER_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "lasync_model.h"
#include "lasync_state.h"
#include "lasync_tenant.h"

typedef struct mapper_rules_in {
	const lasync_school *school;
	const char *tenant_id;
	const char *tenant_brin;
	const char *tenant_dependance;
	const lasync_settings *settings; /* NULL: the documented defaults */
	const char *sync_date;	/* YYYY-MM-DD, Europe/Amsterdam */
} mapper_rules_in;

typedef struct mapper_rules_stats {
	size_t students;	/* imported (active) students */
	size_t guardians;	/* imported guardians */
	size_t staff;
	size_t groups;		/* groups in the desired state */
	size_t under4_skipped;	/* R13: younger than 4, not imported */
	size_t leavers;		/* R16: datumUitschrijving passed */
	size_t secret_dropped;	/* R10: secret values left out */
	/* The sync dates this mapping holds for: every date-dependent
	 * decision (R3/R4 placements, R13, R16) comes out the same for a sync
	 * date d with valid_from <= d < valid_until (day numbers, see
	 * mapper_rules_day(); LONG_MIN / LONG_MAX when open). */
	long valid_from;
	long valid_until;
} mapper_rules_stats;

/* mapper_rules_apply - the desired state of the tenant's portal (finished;
 * the caller frees it with lasync_state_free).  NULL with a reason in err
 * when the school is not the tenant's (R1) or the input is unusable (bad
 * sync date).  stats may be NULL. */
lasync_state *mapper_rules_apply(const mapper_rules_in *in,
				 mapper_rules_stats *stats, char *err,
				 size_t errlen);

/* mapper_rules_fourth_birthday - the date a child born on birth (YYYY-MM-DD)
 * turns 4, into out[11]; 29 February gives 1 March in a common year.
 * 0, or -1 when birth is not a date. */
int mapper_rules_fourth_birthday(const char *birth, char out[11]);

/* mapper_rules_day - a YYYY-MM-DD calendar date as days since 1970-01-01;
 * false when s is not one */
bool mapper_rules_day(const char *s, long *out);

#endif /* MAPPER_RULES_H */
