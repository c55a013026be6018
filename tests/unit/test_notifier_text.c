/*
 * test_notifier_text.c - services/notifier/notifier_text.c: the Dutch
 * e-mails.  R21: each changed field old -> new, the children concerned,
 * that the school updates the LAS (named after the tenant's vendor) after
 * which the next sync shows it; parent text escaped in the HTML.  R17: the
 * held sync, N of M profiles, nothing applied, what happens next.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_clock.h"
#include "notifier.h"

static int setup(void **state)
{
	char err[256];

	(void)state;
	return lasync_clock_init(err, sizeof(err));
}

static void has(const char *where, const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("%s lacks \"%s\":\n%s", where, want, text);
}

static void lacks(const char *where, const char *text, const char *bad)
{
	if (strstr(text, bad) != NULL)
		fail_msg("%s holds \"%s\":\n%s", where, bad, text);
}

static void test_r21_suggestion_mail_in_dutch(void **state)
{
	Lasync__V1__SuggestionField f1 = LASYNC__V1__SUGGESTION_FIELD__INIT,
				    f2 = LASYNC__V1__SUGGESTION_FIELD__INIT,
				    f3 = LASYNC__V1__SUGGESTION_FIELD__INIT;
	Lasync__V1__SuggestionField *fields[] = {&f1, &f2, &f3};
	Lasync__V1__SuggestionChild c1 = LASYNC__V1__SUGGESTION_CHILD__INIT,
				    c2 = LASYNC__V1__SUGGESTION_CHILD__INIT;
	Lasync__V1__SuggestionChild *kids[] = {&c1, &c2};
	Lasync__V1__ParentSuggestion s = LASYNC__V1__PARENT_SUGGESTION__INIT;
	static const struct {
		int vendor;
		const char *las, *portal_note;
	} vendors[] = {{1, "ParnasSys", "Noodnummer: dit gegeven komt niet uit "
					"ParnasSys"},
		       {2, "ESIS", NULL}};

	(void)state;
	f1.field = (char *)"phoneMobile";
	f1.old_value = (char *)"06-12345678";
	f1.new_value = (char *)"06-87654321";
	f2.field = (char *)"streetAddress";
	f2.old_value = (char *)"";
	f2.new_value = (char *)"Dorpsstraat 1 <b>&</b>";
	f3.field = (char *)"emergencyPhone";
	f3.old_value = (char *)"112";
	f3.new_value = (char *)"";
	c1.display_name = (char *)"Emma de Vries";
	c2.display_name = (char *)"Zoë <script>";
	s.suggestion_id = (char *)"s-81f3";
	s.children = kids;
	s.n_children = 2;
	s.fields = fields;
	s.n_fields = 3;
	s.submitted_at_ms = 1795940455000LL; /* 09:20 in Amsterdam */
	for (size_t v = 0; v < 2; v++) {
		notifier_content c = {0};

		notifier_text_suggestion(&s, vendors[v].vendor, &c);
		has("subject", c.subject, "Wijziging doorgegeven door "
					  "ouder/verzorger van Emma de Vries en "
					  "Zoë <script>");
		has("text", c.text, "op 29-11-2026 om 09:20");
		has("text", c.text,
		    "Telefoonnummer mobiel: 06-12345678 \xe2\x86\x92 06-87654321");
		has("text", c.text, "Adres (straat, huisnummer): (leeg) "
				    "\xe2\x86\x92 Dorpsstraat 1 <b>&</b>");
		has("text", c.text, "Noodnummer: 112 \xe2\x86\x92 (leeg)");
		has("text", c.text, "  - Emma de Vries\n");
		has("text", c.text, vendors[v].las);
		has("text", c.text, "Pas de gegevens daarom aan in");
		has("text", c.text, "Na de eerstvolgende synchronisatie zijn de "
				    "nieuwe gegevens zichtbaar in Ouderportaal");
		has("text", c.text, "Melding ouder-/kindgegevens");
		has("text", c.text, "Kenmerk: s-81f3");
		if (vendors[v].portal_note)
			has("text", c.text, vendors[v].portal_note);
		else
			lacks("text", c.text, "komt niet uit");
		has("html", c.html, "<html lang=\"nl\">");
		has("html", c.html, "Dorpsstraat 1 &lt;b&gt;&amp;&lt;/b&gt;");
		has("html", c.html, "<li>Zoë &lt;script&gt;</li>");
		has("html", c.html, "<strong>06-87654321</strong>");
		lacks("html", c.html, "<script>");
		lacks("html", c.html, "<b>&</b>");
		notifier_content_free(&c);
	}
}

static void test_subject_by_number_of_children(void **state)
{
	Lasync__V1__SuggestionField f = LASYNC__V1__SUGGESTION_FIELD__INIT;
	Lasync__V1__SuggestionField *fields[] = {&f};
	Lasync__V1__SuggestionChild c[3] = {LASYNC__V1__SUGGESTION_CHILD__INIT,
					    LASYNC__V1__SUGGESTION_CHILD__INIT,
					    LASYNC__V1__SUGGESTION_CHILD__INIT};
	Lasync__V1__SuggestionChild *kids[] = {&c[0], &c[1], &c[2]};
	Lasync__V1__ParentSuggestion s = LASYNC__V1__PARENT_SUGGESTION__INIT;
	static const char *const want[] = {
		"Wijziging doorgegeven door een ouder/verzorger",
		"Wijziging doorgegeven door ouder/verzorger van A",
		"Wijziging doorgegeven door ouder/verzorger van A en B",
		"Wijziging doorgegeven door ouder/verzorger van A en 2 andere "
		"kinderen",
	};

	(void)state;
	f.field = (char *)"locality";
	c[0].display_name = (char *)"A";
	c[1].display_name = (char *)"B";
	c[2].display_name = (char *)"C";
	s.suggestion_id = (char *)"s";
	s.fields = fields;
	s.n_fields = 1;
	s.children = kids;
	for (size_t n = 0; n <= 3; n++) {
		notifier_content ct = {0};

		s.n_children = n;
		notifier_text_suggestion(&s, 1, &ct);
		assert_string_equal(ct.subject, want[n]);
		notifier_content_free(&ct);
	}
}

static void test_r17_held_counts(void **state)
{
	static const struct {
		const char *reason;
		uint32_t counted;
		unsigned n, m;
	} cases[] = {
		{"would deactivate 40 of 120 active profiles (limit 36: "
		 "max(guard_min 25, guard_percent 30%)); nothing applied",
		 40, 40, 120},
		{"would deactivate 7 of 9 active profiles", 0, 7, 9},
		{"held", 12, 12, 0},
		{"", 0, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Lasync__V1__SyncResult r = LASYNC__V1__SYNC_RESULT__INIT;
		Lasync__V1__ChangeCounts k = LASYNC__V1__CHANGE_COUNTS__INIT;
		unsigned n, m;

		k.users_deactivated = cases[i].counted;
		r.counts = &k;
		r.reason = (char *)cases[i].reason;
		notifier_held_counts(&r, &n, &m);
		if (n != cases[i].n || m != cases[i].m)
			fail_msg("\"%s\": got %u of %u, want %u of %u",
				 cases[i].reason, n, m, cases[i].n, cases[i].m);
	}
}

static void test_r17_held_mail_in_dutch(void **state)
{
	Lasync__V1__SyncResult r = LASYNC__V1__SYNC_RESULT__INIT;
	Lasync__V1__Header h = LASYNC__V1__HEADER__INIT;
	notifier_content c = {0};

	(void)state;
	h.sync_id = (char *)"0123abcd";
	r.header = &h;
	r.outcome = LASYNC__V1__OUTCOME__OUTCOME_HELD;
	r.error_class = (char *)"deletion_guard";
	r.reason = (char *)"would deactivate 40 of 120 active profiles";
	r.finished_at_ms = 1795940455000LL;
	notifier_text_held(&r, 2, &c);
	has("subject", c.subject, "Synchronisatie met ESIS tegengehouden");
	has("text", c.text, "40 van de 120 actieve profielen");
	has("text", c.text, "niets aangepast in Ouderportaal");
	has("text", c.text, "Klopt het niet?");
	has("text", c.text, "Neem contact op met support");
	has("text", c.text, "Kenmerk: 0123abcd");
	has("html", c.html, "<ul>");
	notifier_content_free(&c);
}

static void test_reminder_lists_open_fields(void **state)
{
	Lasync__V1__SuggestionFieldState a = LASYNC__V1__SUGGESTION_FIELD_STATE__INIT,
					 b = LASYNC__V1__SUGGESTION_FIELD_STATE__INIT,
					 e = LASYNC__V1__SUGGESTION_FIELD_STATE__INIT;
	Lasync__V1__SuggestionFieldState *fs[] = {&a, &b, &e};
	nstatus s = LASYNC__V1__NOTIFICATION_STATUS__INIT;
	const nstatus *open[] = {&s};
	notifier_content c = {0};

	(void)state;
	a.field = (char *)"phoneMobile";
	a.owned = true;
	b.field = (char *)"postalCode";
	b.owned = true;
	b.matched = true; /* already in the LAS */
	e.field = (char *)"emergencyPhone";
	s.ref = (char *)"s-1";
	s.fields = fs;
	s.n_fields = 3;
	s.submitted_at_ms = 1795940455000LL;
	notifier_text_reminder(open, 1, 1, &c);
	has("subject", c.subject, "Herinnering: 1 wijziging van ouders nog "
				  "niet verwerkt in ParnasSys");
	has("text", c.text, "doorgegeven op 29-11-2026: Telefoonnummer mobiel "
			    "(kenmerk s-1)");
	lacks("text", c.text, "Postcode");
	lacks("text", c.text, "Noodnummer");
	notifier_content_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r21_suggestion_mail_in_dutch),
		cmocka_unit_test(test_subject_by_number_of_children),
		cmocka_unit_test(test_r17_held_counts),
		cmocka_unit_test(test_r17_held_mail_in_dutch),
		cmocka_unit_test(test_reminder_lists_open_fields),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
