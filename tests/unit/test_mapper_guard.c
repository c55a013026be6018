/*
 * test_mapper_guard.c - the deletion guard (R17), table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_attr.h"
#include "lasync_state.h"
#include "mapper_guard.h"

/* state_with - an expected state of n active and k inactive users */
static lasync_state *state_with(unsigned n, unsigned k)
{
	lasync_state *st = lasync_state_new("t");
	char ext[64];

	for (unsigned i = 0; i < n + k; i++) {
		snprintf(ext, sizeof(ext), "parnassys:student:%u", i);
		lasync_sres *r = lasync_state_resource(st, LASYNC_RES_USER, ext);

		lasync_state_set_bool(r, LASYNC_A_ACTIVE, i < n);
	}
	/* groups do not count as profiles */
	lasync_state_resource(st, LASYNC_RES_GROUP, "parnassys:jaargroep:1:1");
	lasync_state_finish(st);
	return st;
}

static void test_r17_deletion_guard(void **unused)
{
	static const struct {
		const char *name;
		unsigned active, inactive, guard_min, guard_percent;
		size_t deactivations;
		uint32_t approved;
		bool want_hold;
		unsigned want_limit;
	} rows[] = {
		{"yearly wave of groep-8 leavers passes", 400, 0, 25, 30, 60, 0,
		 false, 120},
		{"broken empty export is held", 400, 0, 25, 30, 380, 0, true, 120},
		{"exactly at the limit passes", 400, 0, 25, 30, 120, 0, false,
		 120},
		{"one above the limit is held", 400, 0, 25, 30, 121, 0, true, 120},
		{"small school: guard_min wins", 20, 0, 25, 30, 20, 0, false, 25},
		{"small school over guard_min", 40, 0, 25, 30, 26, 0, true, 25},
		{"inactive profiles do not count", 10, 90, 2, 30, 4, 0, true, 3},
		{"approved up to the held number", 400, 0, 25, 30, 380, 380, false,
		 120},
		{"approval does not cover more", 400, 0, 25, 30, 381, 380, true,
		 120},
		{"no expected state: nothing active", 0, 0, 25, 30, 0, 0, false,
		 25},
		{"percent 0 leaves guard_min", 100, 0, 5, 0, 6, 0, true, 5},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		lasync_settings s;
		Lasync__V1__HeldSync h = LASYNC__V1__HELD_SYNC__INIT;
		char why[512] = "";
		lasync_state *st = rows[i].active + rows[i].inactive
					   ? state_with(rows[i].active,
							rows[i].inactive)
					   : NULL;

		lasync_settings_defaults(&s);
		s.guard_min = rows[i].guard_min;
		s.guard_percent = rows[i].guard_percent;
		bool hold = mapper_guard_check(&s, st, rows[i].deactivations,
					       rows[i].approved, &h, why,
					       sizeof(why));

		if (hold != rows[i].want_hold || h.limit != rows[i].want_limit ||
		    h.active_profiles != rows[i].active ||
		    h.deactivations != rows[i].deactivations)
			fail_msg("%s: got hold=%d limit=%u active=%u, want "
				 "hold=%d limit=%u active=%u",
				 rows[i].name, hold, h.limit, h.active_profiles,
				 rows[i].want_hold, rows[i].want_limit,
				 rows[i].active);
		if (hold && strstr(why, "lasyncctl sync approve") == NULL)
			fail_msg("%s: reason does not say how to decide: %s",
				 rows[i].name, why);
		lasync_settings_free(&s);
		lasync_state_free(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r17_deletion_guard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
