/*
 * test_http.c - what lasync_http.c reads of a response header: the wait a
 * Retry-After asks for (RFC 9110 10.2.3: delta-seconds or an HTTP-date).
 * The stage that owns retry timing waits at least this long; a value that
 * is neither form must read as "none" (-1), never as 0.
 *
 * And how transfers beyond the connection caps wait: in lasync_http's own
 * queue, their timeouts starting only when they are sent (a slow local
 * server on libmicrohttpd, lasync_httpd).  And that a caller can take a
 * response's body instead of copying it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lasync_clock.h"
#include "lasync_http.h"
#include "lasync_httpd.h"

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

/* a server that takes 200 ms over every answer */
static char *slow_route(void *ctx, const lasync_http_req *req, int *status,
			const char **ctype)
{
	(void)ctx;
	(void)req;
	struct timespec ts = {0, 200 * 1000 * 1000};

	nanosleep(&ts, NULL);
	*status = 200;
	*ctype = "text/plain";
	return strdup("ok");
}

typedef struct slow_result {
	bool done;
	CURLcode curl;
	long status;
	char error[CURL_ERROR_SIZE];
} slow_result;

static void slow_done(void *ctx, const lasync_http_result *r)
{
	slow_result *s = ctx;

	s->done = true;
	s->curl = r->curl;
	s->status = r->status;
	snprintf(s->error, sizeof(s->error), "%s", r->error ? r->error : "");
}

/* slow_server - the slow server on a free port; its URL in url */
static lasync_httpd *slow_server(char *url, size_t len)
{
	char err[256];
	lasync_httpd *d = lasync_httpd_start("127.0.0.1", 0, NULL, NULL, err,
					     sizeof(err));

	if (d == NULL)
		fail_msg("httpd: %s", err);
	lasync_httpd_route(d, "/slow", slow_route, NULL, 0);
	snprintf(url, len, "http://127.0.0.1:%d/slow", lasync_httpd_port(d));
	return d;
}

/* drain - run the client until its transfers are done (at most 10 s) */
static void drain(lasync_http *h)
{
	int64_t deadline = lasync_mono_ms() + 10000;

	while (lasync_http_running(h) > 0 && lasync_mono_ms() < deadline) {
		lasync_http_wait(h, NULL, 0, 50);
		lasync_http_perform(h);
	}
}

/* six requests to one host with one connection allowed, each answered in
 * 200 ms, with a timeout of 1 s (connect: 100 ms): the last waits a second
 * for the connection and still succeeds.  In curl's own queue the
 * timeouts ran while the transfers waited, and the last ones failed with
 * "Operation timed out after ..." (curl issues #3728, #4486). */
static void test_queued_transfers_time_out_only_once_sent(void **unused)
{
	char url[128];
	slow_result res[6];
	lasync_httpd *d = slow_server(url, sizeof(url));
	lasync_http *h = lasync_http_new(8, 1);

	(void)unused;
	memset(res, 0, sizeof(res));
	for (int i = 0; i < 6; i++) {
		lasync_http_req_opts o = {
			.method = "GET",
			.url = url,
			.timeout_ms = 1000,
			.connect_timeout_ms = 100,
		};

		assert_non_null(lasync_http_start(h, &o, slow_done, &res[i]));
	}
	drain(h);
	for (int i = 0; i < 6; i++) {
		if (!res[i].done || res[i].curl != CURLE_OK ||
		    res[i].status != 200)
			fail_msg("request %d: done=%d curl=%d status=%ld (%s)",
				 i, res[i].done, (int)res[i].curl,
				 res[i].status, res[i].error);
	}
	lasync_http_free(h);
	lasync_httpd_stop(d);
}

/* a cancelled queued transfer never runs its callback, and the ones
 * behind it still go */
static void test_cancel_queued_transfer(void **unused)
{
	char url[128];
	slow_result res[3];
	lasync_http_xfer *x[3];
	lasync_httpd *d = slow_server(url, sizeof(url));
	lasync_http *h = lasync_http_new(8, 1);

	(void)unused;
	memset(res, 0, sizeof(res));
	for (int i = 0; i < 3; i++) {
		lasync_http_req_opts o = {.method = "GET", .url = url};

		x[i] = lasync_http_start(h, &o, slow_done, &res[i]);
	}
	lasync_http_cancel(h, x[1]);
	assert_int_equal(lasync_http_running(h), 2);
	drain(h);
	assert_true(res[0].done && res[0].status == 200);
	assert_false(res[1].done);
	assert_true(res[2].done && res[2].status == 200);
	lasync_http_free(h);
	lasync_httpd_stop(d);
}

/* a 300,000-byte answer, byte i being 'a' + i % 26 */
#define BIG_LEN 300000
static char *big_route(void *ctx, const lasync_http_req *req, int *status,
		       const char **ctype)
{
	char *b = malloc(BIG_LEN + 1);

	(void)ctx;
	(void)req;
	for (size_t i = 0; i < BIG_LEN; i++)
		b[i] = (char)('a' + i % 26);
	b[BIG_LEN] = '\0';
	*status = 200;
	*ctype = "text/plain";
	return b;
}

typedef struct taken {
	char *body;
	size_t len;
	bool same_buffer;	/* r->body is what was taken */
} taken;

static void take_done(void *ctx, const lasync_http_result *r)
{
	taken *t = ctx;

	t->len = r->len;
	t->body = lasync_http_take_body(r);
	t->same_buffer = t->body == r->body;
}

/* a body taken in the callback is the caller's: whole, NUL-terminated,
 * still there after the transfer and the client are gone (ASan sees a
 * double free or a use after free here); a result that did not come from
 * a transfer gives a copy */
static void test_take_body(void **unused)
{
	char err[256], url[128];
	taken t = {0};
	lasync_httpd *d = lasync_httpd_start("127.0.0.1", 0, NULL, NULL, err,
					     sizeof(err));
	lasync_http *h = lasync_http_new(8, 1);
	lasync_http_req_opts o = {.method = "GET", .url = url};
	lasync_http_result mine = {.body = "made here", .len = 9};
	char *copy;

	(void)unused;
	if (d == NULL)
		fail_msg("httpd: %s", err);
	lasync_httpd_route(d, "/big", big_route, NULL, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big",
		 lasync_httpd_port(d));
	assert_non_null(lasync_http_start(h, &o, take_done, &t));
	drain(h);
	lasync_http_free(h);
	lasync_httpd_stop(d);
	assert_non_null(t.body);
	assert_true(t.same_buffer);
	assert_int_equal(t.len, BIG_LEN);
	for (size_t i = 0; i < BIG_LEN; i++)
		if (t.body[i] != (char)('a' + i % 26))
			fail_msg("byte %zu: got %d", i, t.body[i]);
	assert_int_equal(t.body[BIG_LEN], '\0');
	free(t.body);

	copy = lasync_http_take_body(&mine);
	assert_ptr_not_equal(copy, mine.body);
	assert_string_equal(copy, "made here");
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_queued_transfers_time_out_only_once_sent),
		cmocka_unit_test(test_cancel_queued_transfer),
		cmocka_unit_test(test_take_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
