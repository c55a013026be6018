/*
 * test_http.c - what lasync_http.c reads of a response header: the wait a
 * Retry-After asks for (RFC 9110 10.2.3: delta-seconds or an HTTP-date).
 * The stage that owns retry timing waits at least this long; a value that
 * is neither form must read as "none" (-1), never as 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_http.h"

/* 2026-11-29T12:00:00Z */
#define NOW ((time_t)1795953600)

static const struct {
	const char *name, *value;
	long want;
} cases[] = {
	{"delta", "120", 120},
	{"delta_with_spaces_and_crlf", "  7\r\n", 7},
	{"zero", "0", 0},
	{"delta_capped_at_a_day", "172800", LASYNC_HTTP_RETRY_AFTER_MAX},
	{"huge_delta_capped", "99999999999999999999", LASYNC_HTTP_RETRY_AFTER_MAX},
	{"http_date_ahead", "Sun, 29 Nov 2026 12:01:30 GMT\r\n", 90},
	{"http_date_past_is_now", "Sun, 29 Nov 2026 11:00:00 GMT", 0},
	{"http_date_far_capped", "Tue, 29 Dec 2026 12:00:00 GMT",
	 LASYNC_HTTP_RETRY_AFTER_MAX},
	{"negative_is_none", "-5", -1},
	{"fraction_is_none", "1.5", -1},
	{"words_are_none", "soon", -1},
	{"empty_is_none", "\r\n", -1},
};

static void test_retry_after(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = lasync_http_retry_after(
			cases[i].value, strlen(cases[i].value), NOW);

		if (got != cases[i].want)
			fail_msg("%s: got %ld, want %ld", cases[i].name, got,
				 cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
