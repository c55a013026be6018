/*
 * test_notifier_smtp.c - services/notifier/notifier_smtp.c: what a
 * finished SMTP transfer means for the job (R21 via DESIGN §2: transient
 * failures retry through the job engine, permanent ones are dead-lettered)
 * and the envelope sender of a configured From.
 *
 * Sending itself runs against the real SMTP sink in
 * tests/e2e/test_e2e_notifier.py (outage, 4xx, 5xx, STARTTLS, AUTH).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notifier.h"

static void test_r21_smtp_failures_judged(void **state)
{
	static const struct {
		const char *name;
		CURLcode c;
		long reply;
		notifier_smtp_verdict want;
	} cases[] = {
		{"accepted", CURLE_OK, 250, NOTIFIER_SMTP_SENT},
		{"connection refused", CURLE_COULDNT_CONNECT, 0,
		 NOTIFIER_SMTP_TRANSIENT},
		{"unknown host", CURLE_COULDNT_RESOLVE_HOST, 0,
		 NOTIFIER_SMTP_TRANSIENT},
		{"timeout", CURLE_OPERATION_TIMEDOUT, 0, NOTIFIER_SMTP_TRANSIENT},
		{"dropped", CURLE_RECV_ERROR, 0, NOTIFIER_SMTP_TRANSIENT},
		{"greeting 421", CURLE_WEIRD_SERVER_REPLY, 421,
		 NOTIFIER_SMTP_TRANSIENT},
		{"data 451", CURLE_SEND_ERROR, 451, NOTIFIER_SMTP_TRANSIENT},
		{"mailbox full 452", CURLE_SEND_ERROR, 452,
		 NOTIFIER_SMTP_TRANSIENT},
		{"all recipients refused 550", CURLE_SEND_ERROR, 550,
		 NOTIFIER_SMTP_PERMANENT},
		{"data refused 554", CURLE_SEND_ERROR, 554, NOTIFIER_SMTP_PERMANENT},
		{"auth refused 535", CURLE_LOGIN_DENIED, 535,
		 NOTIFIER_SMTP_PERMANENT},
		{"tls not offered", CURLE_USE_SSL_FAILED, 0,
		 NOTIFIER_SMTP_PERMANENT},
		{"certificate", CURLE_PEER_FAILED_VERIFICATION, 0,
		 NOTIFIER_SMTP_PERMANENT},
		{"bad url", CURLE_URL_MALFORMAT, 0, NOTIFIER_SMTP_PERMANENT},
		{"protocol", CURLE_UNSUPPORTED_PROTOCOL, 0,
		 NOTIFIER_SMTP_PERMANENT},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char reason[256] = "";
		notifier_smtp_verdict got = notifier_smtp_judge(
			cases[i].c, cases[i].reply, reason, sizeof(reason));

		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d (%s)", cases[i].name, got,
				 cases[i].want, reason);
		assert_true(reason[0] != '\0');
	}
}

static void test_envelope_address(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"noreply@school.nl", "noreply@school.nl"},
		{"Ouderportaal <noreply@school.nl>", "noreply@school.nl"},
		{"A <b> <noreply@school.nl>", "noreply@school.nl"},
		{"Ouderportaal <noreply@school.nl", NULL},
		{"Ouderportaal <noreply@school.nl> x", NULL},
		{"Ouderportaal <>", NULL},
		{"not an address", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[256] = "";
		int rc = notifier_smtp_address(cases[i].in, buf, sizeof(buf));

		if ((rc == 0) != (cases[i].want != NULL) ||
		    (rc == 0 && strcmp(buf, cases[i].want) != 0))
			fail_msg("%s: got rc %d \"%s\", want %s", cases[i].in,
				 rc, buf, cases[i].want ? cases[i].want : "-1");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r21_smtp_failures_judged),
		cmocka_unit_test(test_envelope_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
