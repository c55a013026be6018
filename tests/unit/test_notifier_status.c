/*
 * test_notifier_status.c - services/notifier/notifier_status.c: the
 * durable mail status (DESIGN §2: a claim before sending and a record
 * after).  Records only add facts; merging is commutative for facts, so
 * two instances' records in either order give the same status, and a
 * record that lacks a fact is recognised (covers) so it can be written
 * back.  The Kafka side runs in tests/e2e/test_e2e_notifier.py.
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

typedef Lasync__V1__SuggestionFieldState fstate;

static fstate fa = {PROTOBUF_C_MESSAGE_INIT(
			    &lasync__v1__suggestion_field_state__descriptor),
		    (char *)"phoneMobile", true, (char *)"d1", false};
static fstate fa_matched = {
	PROTOBUF_C_MESSAGE_INIT(&lasync__v1__suggestion_field_state__descriptor),
	(char *)"phoneMobile", true, (char *)"d1", true};
static fstate fb = {PROTOBUF_C_MESSAGE_INIT(
			    &lasync__v1__suggestion_field_state__descriptor),
		    (char *)"locality", true, (char *)"d2", false};
static fstate fc = {PROTOBUF_C_MESSAGE_INIT(
			    &lasync__v1__suggestion_field_state__descriptor),
		    (char *)"emergencyPhone", false, (char *)"d3", false};

static nstatus base(void)
{
	nstatus s = LASYNC__V1__NOTIFICATION_STATUS__INIT;

	s.tenant_id = (char *)"delinde";
	s.kind = (char *)"suggestion";
	s.ref = (char *)"s-1";
	return s;
}

static void test_r21_merge_keeps_every_fact(void **state)
{
	static fstate *f1[] = {&fa, &fb}, *f2[] = {&fa_matched, &fc};
	nstatus received = base(), sent = base(), resolved = base(),
		claimed = base();
	nstatus *m1, *m2, *m3;

	(void)state;
	received.mail = LASYNC__V1__MAIL_STATE__MAIL_RECEIVED;
	received.received_at_ms = 1000;
	received.submitted_at_ms = 900;
	received.parent_external_id = (char *)"parnassys:guardian:1";
	received.fields = f1;
	received.n_fields = 2;
	claimed.mail = LASYNC__V1__MAIL_STATE__MAIL_CLAIMED;
	claimed.claims = 2;
	claimed.claimed_at_ms = 3000;
	claimed.received_at_ms = 3000;
	sent.mail = LASYNC__V1__MAIL_STATE__MAIL_SENT;
	sent.message_id = (char *)"<suggestion.x@d.nl>";
	sent.sent_at_ms = 3100;
	sent.recipients = 3;
	sent.claims = 1;
	resolved.resolved_at_ms = 9000;
	resolved.fields = f2;
	resolved.n_fields = 2;

	/* sent + resolved from two instances, in either order */
	m1 = notifier_status_merge(&received, &sent);
	m2 = notifier_status_merge(m1, &resolved);
	m3 = notifier_status_merge(&resolved, m1);
	lasync__v1__notification_status__free_unpacked(m1, NULL);
	for (nstatus **pp = (nstatus *[]){m2, m3, NULL}; *pp; pp++) {
		nstatus *m = *pp;

		assert_int_equal(m->mail, LASYNC__V1__MAIL_STATE__MAIL_SENT);
		assert_string_equal(m->message_id, "<suggestion.x@d.nl>");
		assert_int_equal(m->sent_at_ms, 3100);
		assert_int_equal(m->recipients, 3);
		assert_int_equal(m->resolved_at_ms, 9000);
		assert_int_equal(m->received_at_ms, 1000);
		assert_int_equal(m->submitted_at_ms, 900);
		assert_string_equal(m->parent_external_id,
				    "parnassys:guardian:1");
		assert_int_equal(m->n_fields, 3);
		for (size_t i = 0; i < m->n_fields; i++) {
			const fstate *f = m->fields[i];

			if (strcmp(f->field, "phoneMobile") == 0)
				assert_true(f->matched && f->owned);
			else if (strcmp(f->field, "locality") == 0)
				assert_true(!f->matched && f->owned);
			else
				assert_true(!f->owned);
		}
	}
	assert_true(notifier_status_covers(m2, m3) &&
		    notifier_status_covers(m3, m2));
	/* A claim never takes "sent" back. */
	m1 = notifier_status_merge(m2, &claimed);
	assert_int_equal(m1->mail, LASYNC__V1__MAIL_STATE__MAIL_SENT);
	assert_int_equal(m1->claims, 2);
	assert_int_equal(m1->received_at_ms, 1000);
	lasync__v1__notification_status__free_unpacked(m1, NULL);
	lasync__v1__notification_status__free_unpacked(m2, NULL);
	lasync__v1__notification_status__free_unpacked(m3, NULL);
}

static void test_covers_sees_a_lost_fact(void **state)
{
	nstatus sent = base(), resolved = base(), both;
	nstatus *m;

	(void)state;
	sent.mail = LASYNC__V1__MAIL_STATE__MAIL_SENT;
	sent.message_id = (char *)"<m@d.nl>";
	resolved.mail = LASYNC__V1__MAIL_STATE__MAIL_RECEIVED;
	resolved.resolved_at_ms = 5;
	m = notifier_status_merge(&sent, &resolved);
	both = *m;
	assert_true(notifier_status_covers(&both, &sent));
	assert_true(notifier_status_covers(&both, &resolved));
	assert_false(notifier_status_covers(&resolved, &sent));
	assert_false(notifier_status_covers(&sent, &resolved));
	assert_true(notifier_status_covers(&sent, NULL));
	lasync__v1__notification_status__free_unpacked(m, NULL);
}

static void test_failed_then_replayed_and_sent(void **state)
{
	nstatus failed = base(), sent = base();
	nstatus *m;

	(void)state;
	failed.mail = LASYNC__V1__MAIL_STATE__MAIL_FAILED;
	failed.failed_at_ms = 10;
	failed.failed_class = (char *)"smtp_permanent";
	sent.mail = LASYNC__V1__MAIL_STATE__MAIL_SENT;
	sent.sent_at_ms = 20;
	m = notifier_status_merge(&failed, &sent);
	assert_int_equal(m->mail, LASYNC__V1__MAIL_STATE__MAIL_SENT);
	assert_string_equal(m->failed_class, "smtp_permanent");
	lasync__v1__notification_status__free_unpacked(m, NULL);
}

static void test_keys_and_open(void **state)
{
	static fstate *owned[] = {&fa}, *portal[] = {&fc};
	char k[200];
	nstatus s = base();

	(void)state;
	notifier_status_key("delinde", "suggestion", "s-1", k, sizeof(k));
	assert_string_equal(k, "delinde:s-1");
	notifier_status_key("delinde", "held", "sync9", k, sizeof(k));
	assert_string_equal(k, "delinde:held:sync9");
	notifier_status_key("delinde", "reminder", "2026-W48", k, sizeof(k));
	assert_string_equal(k, "delinde:reminder:2026-W48");

	s.fields = owned;
	s.n_fields = 1;
	assert_true(notifier_status_open(&s));
	s.resolved_at_ms = 1;
	assert_false(notifier_status_open(&s));
	s.resolved_at_ms = 0;
	s.fields = portal; /* nothing the LAS leads: nothing to wait for */
	assert_false(notifier_status_open(&s));
	s.kind = (char *)"held";
	s.fields = owned;
	assert_false(notifier_status_open(&s));
	assert_false(notifier_status_open(NULL));
	assert_string_equal(notifier_mail_state_name(
				    LASYNC__V1__MAIL_STATE__MAIL_SENT),
			    "sent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r21_merge_keeps_every_fact),
		cmocka_unit_test(test_covers_sees_a_lost_fact),
		cmocka_unit_test(test_failed_then_replayed_and_sent),
		cmocka_unit_test(test_keys_and_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
