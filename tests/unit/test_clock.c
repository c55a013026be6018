/*
 * test_clock.c - lib/lasync_clock.c: calendar dates and the Amsterdam
 * sync date (DESIGN §3).
 *
 * Day numbers and Amsterdam dates were computed independently (Python's
 * datetime and zoneinfo).  The Amsterdam rows sit on both sides of local
 * midnight in winter (UTC+1) and summer (UTC+2) and around the two DST
 * switches of 2026.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lasync_clock.h"

static int setup(void **state)
{
	char err[256] = "";

	(void)state;
	if (lasync_clock_init(err, sizeof(err)) != 0) {
		print_error("lasync_clock_init: %s\n", err);
		return -1;
	}
	return 0;
}

static void test_days_from_civil(void **state)
{
	static const struct {
		long y;
		unsigned m, d;
		long want;
	} cases[] = {
		{1970, 1, 1, 0},	{1969, 12, 31, -1},
		{2000, 2, 29, 11016},	{2000, 3, 1, 11017},
		{1900, 3, 1, -25508},	{2024, 2, 29, 19782},
		{2026, 11, 29, 20786},	{2026, 3, 29, 20541},
		{1, 1, 1, -719162},	{9999, 12, 31, 2932896},
		{2100, 2, 28, 47540},	{1600, 2, 29, -135081},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = lasync_days_from_civil(cases[i].y, cases[i].m,
						  cases[i].d);

		if (got != cases[i].want) {
			print_error("%04ld-%02u-%02u: got %ld, want %ld\n",
				    cases[i].y, cases[i].m, cases[i].d, got,
				    cases[i].want);
			fail();
		}
	}
}

static void test_date_parse(void **state)
{
	static const struct {
		const char *name, *in;
		int want_rc;
		long want;
	} cases[] = {
		{"epoch", "1970-01-01", 0, 0},
		{"leap_day_2000", "2000-02-29", 0, 11016},
		{"leap_day_2024", "2024-02-29", 0, 19782},
		{"leap_day_1600", "1600-02-29", 0, -135081},
		{"sync_date", "2026-11-29", 0, 20786},
		{"year_end", "9999-12-31", 0, 2932896},
		{"before_epoch", "1969-12-31", 0, -1},
		{"feb_29_common_year", "2026-02-29", -1, 0},
		{"feb_29_century_not_leap", "2100-02-29", -1, 0},
		{"feb_29_1900", "1900-02-29", -1, 0},
		{"feb_30_leap_year", "2024-02-30", -1, 0},
		{"month_13", "2026-13-01", -1, 0},
		{"month_00", "2026-00-10", -1, 0},
		{"day_00", "2026-01-00", -1, 0},
		{"april_31", "2026-04-31", -1, 0},
		{"december_32", "2026-12-32", -1, 0},
		{"one_digit_month", "2026-1-01", -1, 0},
		{"one_digit_day", "2026-01-1", -1, 0},
		{"slashes", "2026/01/01", -1, 0},
		{"no_separators", "20260101", -1, 0},
		{"with_time", "2026-01-01T00:00", -1, 0},
		{"trailing_space", "2026-01-01 ", -1, 0},
		{"sign_in_year", "+026-01-01", -1, 0},
		{"letter_in_month", "2026-0a-01", -1, 0},
		{"minus_in_day", "2026-01--1", -1, 0},
		{"empty", "", -1, 0},
		{"null", NULL, -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = 123456789;
		int rc = lasync_date_parse(cases[i].in, &got);

		if (rc != cases[i].want_rc ||
		    (rc == 0 && got != cases[i].want)) {
			print_error("%s: got rc=%d day %ld, want rc=%d day "
				    "%ld\n",
				    cases[i].name, rc, got, cases[i].want_rc,
				    cases[i].want);
			fail();
		}
		if (lasync_date_valid(cases[i].in) != (cases[i].want_rc == 0)) {
			print_error("%s: lasync_date_valid disagrees with "
				    "parse\n",
				    cases[i].name);
			fail();
		}
	}
}

static void test_date_format(void **state)
{
	static const struct {
		long day;
		const char *want;
	} cases[] = {
		{0, "1970-01-01"},	 {-1, "1969-12-31"},
		{11016, "2000-02-29"},	 {11017, "2000-03-01"},
		{20786, "2026-11-29"},	 {-719162, "0001-01-01"},
		{2932896, "9999-12-31"}, {47540, "2100-02-28"},
		{47541, "2100-03-01"},
	};
	char out[11];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		lasync_date_format(cases[i].day, out);
		if (strcmp(out, cases[i].want) != 0) {
			print_error("day %ld: got %s, want %s\n", cases[i].day,
				    out, cases[i].want);
			fail();
		}
	}
}

/* every day from 1896 to 2104 (leap and century years included): format
 * then parse gives the day back, and days are consecutive */
static void test_date_round_trip(void **state)
{
	long first = lasync_days_from_civil(1896, 1, 1);
	long last = lasync_days_from_civil(2104, 12, 31);
	char out[11], prev[11] = "";

	(void)state;
	for (long day = first; day <= last; day++) {
		long back = 0;

		lasync_date_format(day, out);
		if (lasync_date_parse(out, &back) != 0 || back != day) {
			print_error("day %ld: formatted %s, parsed back %ld\n",
				    day, out, back);
			fail();
		}
		if (prev[0] != '\0' && strcmp(prev, out) >= 0) {
			print_error("day %ld: %s does not follow %s\n", day,
				    out, prev);
			fail();
		}
		memcpy(prev, out, sizeof(out));
	}
	assert_string_equal(prev, "2104-12-31");
}

/* the sync date: Amsterdam's calendar date at an instant */
static void test_date_amsterdam(void **state)
{
	static const struct {
		const char *name;
		int64_t ms;
		const char *want;
	} cases[] = {
		{"winter_before_utc_midnight_is_next_day", 1795908600000LL,
		 "2026-11-29"}, /* 2026-11-28T23:30Z */
		{"winter_last_second_of_day", 1795906799000LL,
		 "2026-11-28"}, /* 2026-11-28T22:59:59Z */
		{"summer_local_midnight", 1782856800000LL,
		 "2026-07-01"}, /* 2026-06-30T22:00Z */
		{"summer_last_second_of_day", 1782856799000LL,
		 "2026-06-30"}, /* 2026-06-30T21:59:59Z */
		{"spring_eve_still_winter_time", 1774738799000LL,
		 "2026-03-28"}, /* 2026-03-28T22:59:59Z */
		{"spring_eve_midnight_winter_time", 1774738800000LL,
		 "2026-03-29"}, /* 2026-03-28T23:00Z */
		{"spring_switch_hour", 1774746000000LL,
		 "2026-03-29"}, /* 2026-03-29T01:00Z, 03:00 CEST */
		{"spring_day_after_switch_end", 1774821599000LL,
		 "2026-03-29"}, /* 2026-03-29T21:59:59Z */
		{"spring_next_midnight_summer_time", 1774821600000LL,
		 "2026-03-30"}, /* 2026-03-29T22:00Z */
		{"autumn_eve_summer_time", 1792879199999LL,
		 "2026-10-24"}, /* 2026-10-24T21:59:59.999Z */
		{"autumn_midnight_summer_time", 1792879200000LL,
		 "2026-10-25"}, /* 2026-10-24T22:00Z */
		{"autumn_repeated_hour", 1792891800000LL,
		 "2026-10-25"}, /* 2026-10-25T01:30Z, 02:30 CET */
		{"autumn_day_after_switch_end", 1792969199000LL,
		 "2026-10-25"}, /* 2026-10-25T22:59:59Z */
		{"autumn_next_midnight_winter_time", 1792969200000LL,
		 "2026-10-26"}, /* 2026-10-25T23:00Z */
		{"new_year", 1798758000000LL, "2027-01-01"},
		{"old_year", 1798757999000LL, "2026-12-31"},
		{"leap_day", 1709161200000LL, "2024-02-29"},
		{"epoch", 0, "1970-01-01"},
		/* milliseconds before a whole second still belong to the
		 * earlier second: 1969-12-31T22:59:59.999Z is 23:59:59.999
		 * in Amsterdam, still 31 December */
		{"before_epoch_rounds_down", -3600001LL, "1969-12-31"},
	};
	char out[11];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		lasync_date_amsterdam(cases[i].ms, out);
		if (strcmp(out, cases[i].want) != 0) {
			print_error("%s (%lld ms): got %.11s, want %s\n",
				    cases[i].name, (long long)cases[i].ms, out,
				    cases[i].want);
			fail();
		}
	}
}

static void test_clock_now(void **state)
{
	int64_t wall = lasync_now_ms(), m1 = lasync_mono_ms(), m2;
	int64_t t = (int64_t)time(NULL) * 1000;

	(void)state;
	/* the wall clock is unix ms, close to time() */
	assert_true(wall > t - 2000 && wall < t + 2000);
	m2 = lasync_mono_ms();
	assert_true(m2 >= m1);
	/* init set the zone for the rest of the process */
	assert_string_equal(getenv("TZ"), "Europe/Amsterdam");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_days_from_civil),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_date_format),
		cmocka_unit_test(test_date_round_trip),
		cmocka_unit_test(test_date_amsterdam),
		cmocka_unit_test(test_clock_now),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
