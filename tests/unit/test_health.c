/*
 * test_health.c - tenant sync health from sync results (lasync_health.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_health.h"

/* feed - one result of tenant t with outcome o at time ms */
static void feed(lasync_health *h, const char *t, Lasync__V1__Outcome o,
		 const char *cls, int64_t ms)
{
	Lasync__V1__SyncResult r = LASYNC__V1__SYNC_RESULT__INIT;
	Lasync__V1__Header hd = LASYNC__V1__HEADER__INIT;
	uint8_t buf[512];

	hd.tenant_id = (char *)t;
	hd.sync_id = "s";
	hd.produced_at_ms = ms;
	r.header = &hd;
	r.outcome = o;
	r.error_class = (char *)cls;
	size_t n = lasync__v1__sync_result__pack(&r, buf);

	assert_int_equal(lasync_health_take(h, buf, n), 0);
}

#define OK LASYNC__V1__OUTCOME__OUTCOME_OK
#define FAIL LASYNC__V1__OUTCOME__OUTCOME_FAILED
#define HELD LASYNC__V1__OUTCOME__OUTCOME_HELD
#define SUPER LASYNC__V1__OUTCOME__OUTCOME_SUPERSEDED

static void test_quarantine_after_failures_in_a_row(void **unused)
{
	static const struct {
		const char *name;
		int outcomes[8]; /* 0 ends */
		unsigned want_failures;
		int want_quarantined, want_held;
		int64_t want_last_success;
	} rows[] = {
		{"never synced", {0}, 0, 0, 0, 0},
		{"all ok", {OK, OK, 0}, 0, 0, 0, 2},
		{"two failures: not yet", {OK, FAIL, FAIL, 0}, 2, 0, 0, 1},
		{"three failures: quarantined", {OK, FAIL, FAIL, FAIL, 0}, 3, 1, 0, 1},
		{"an ok lifts it", {FAIL, FAIL, FAIL, OK, 0}, 0, 0, 0, 4},
		{"held and superseded are neutral",
		 {FAIL, HELD, FAIL, SUPER, FAIL, 0}, 3, 1, 0, 0},
		{"held by the guard shows held", {OK, HELD, 0}, 0, 0, 1, 1},
		{"a later ok clears held", {HELD, OK, 0}, 0, 0, 0, 2},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		lasync_health *h = lasync_health_new(3);

		for (int k = 0; rows[i].outcomes[k] != 0; k++)
			feed(h, "t1", (Lasync__V1__Outcome)rows[i].outcomes[k],
			     rows[i].outcomes[k] == HELD ? "deletion_guard" : "",
			     k + 1);
		feed(h, "other", FAIL, "", 100);
		const lasync_health_entry *e = lasync_health_get(h, "t1");
		unsigned failures = e ? e->failures : 0;
		int q = lasync_health_quarantined(h, e);
		int held = e && e->held;
		int64_t ls = e ? e->last_success_ms : 0;

		if (failures != rows[i].want_failures ||
		    q != rows[i].want_quarantined || held != rows[i].want_held ||
		    ls != rows[i].want_last_success)
			fail_msg("%s: got failures=%u quarantined=%d held=%d "
				 "last_success=%lld, want %u %d %d %lld",
				 rows[i].name, failures, q, held, (long long)ls,
				 rows[i].want_failures,
				 rows[i].want_quarantined, rows[i].want_held,
				 (long long)rows[i].want_last_success);
		lasync_health_free(h);
	}
}

static void test_garbage_is_ignored(void **unused)
{
	lasync_health *h = lasync_health_new(0);

	(void)unused;
	assert_int_equal(lasync_health_take(h, "\xff\xff\xff", 3), -1);
	assert_null(lasync_health_get(h, "t1"));
	lasync_health_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quarantine_after_failures_in_a_row),
		cmocka_unit_test(test_garbage_is_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
