/*
 * test_match.c - profile correlation (R20), table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_attr.h"
#include "lasync_match.h"

static void test_r20_normalisation(void **unused)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{"  Emma  ", "emma"},
		{"ZOË", "zoe"},
		{"Daniël", "daniel"},
		{"Çelik", "celik"},
		{"Jansen-El Amrani", "jansen-el amrani"},
		{"van  der\tBerg", "van der berg"},
		{"O'Neill", "o'neill"},
		{"Ångström", "angstrom"},
		{"Łukasz", "lukasz"},
		{"F.Jansen@Example.NL", "f.jansen@example.nl"},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *got = lasync_match_norm(rows[i].in);

		if (strcmp(got, rows[i].want) != 0)
			fail_msg("norm(%s): got \"%s\", want \"%s\"", rows[i].in,
				 got, rows[i].want);
		free(got);
	}
}

static void test_r20_infix_placement(void **unused)
{
	static const struct {
		const char *infix, *family;
	} same[] = {
		{"de", "Vries"},
		{NULL, "de Vries"},
		{NULL, "Vries, de"},
		{"", "DE VRIES"},
		{"de", "  vries "},
	};
	char *first = lasync_match_surname(same[0].infix, same[0].family);

	(void)unused;
	for (size_t i = 1; i < sizeof(same) / sizeof(same[0]); i++) {
		char *got = lasync_match_surname(same[i].infix, same[i].family);

		if (strcmp(got, first) != 0)
			fail_msg("surname(%s, %s): got \"%s\", want \"%s\"",
				 same[i].infix ? same[i].infix : "NULL",
				 same[i].family, got, first);
		free(got);
	}
	char *other = lasync_match_surname("van", "Vries");

	assert_string_not_equal(other, first);
	free(other);
	free(first);
}

/* las - a LAS profile */
static lasync_profile P(unsigned kind, const char *given, const char *first,
			const char *infix, const char *family, const char *birth,
			const char *email, const char *pc, const char *id)
{
	lasync_profile p;

	memset(&p, 0, sizeof(p));
	p.kind = kind;
	p.given = lasync_match_norm(given);
	p.first_name = lasync_match_norm(first);
	p.surname = lasync_match_surname(infix, family);
	p.birth = birth ? strdup(birth) : NULL;
	if (email) {
		p.emails = calloc(1, sizeof(char *));
		p.emails[0] = lasync_match_norm(email);
		p.n_emails = 1;
	}
	p.postcode = pc ? strdup(pc) : NULL;
	p.id = strdup(id);
	return p;
}

#define ST LASYNC_KIND_STUDENT
#define GU LASYNC_KIND_GUARDIAN
#define SF LASYNC_KIND_STAFF

static void test_r20_matching_keys(void **unused)
{
	static const struct {
		const char *name;
		int want;
	} names[] = {
		{"student by birth, surname and roepnaam", 1},
		{"student by first voornaam", 1},
		{"student other birth date", 0},
		{"guardian by e-mail, case ignored", 1},
		{"guardian with e-mail ignores name", 0},
		{"guardian without e-mail: name + postcode", 1},
		{"guardian without e-mail, other postcode", 0},
		{"staff by e-mail", 1},
		{"kind differs", 0},
		{"portal kind unknown matches", 1},
	};
	lasync_profile l[10], p[10];

	(void)unused;
	l[0] = P(ST, "Emma", "Emma", "de", "Vries", "2021-09-12", NULL, NULL, "l0");
	p[0] = P(ST, "EMMA", NULL, NULL, "Vries, de", "2021-09-12", NULL, NULL, "p0");
	l[1] = P(ST, "Mies", "Maria", "de", "Vries", "2021-09-12", NULL, NULL, "l1");
	p[1] = P(ST, "Maria", NULL, NULL, "de Vries", "2021-09-12", NULL, NULL, "p1");
	l[2] = P(ST, "Emma", NULL, "de", "Vries", "2021-09-12", NULL, NULL, "l2");
	p[2] = P(ST, "Emma", NULL, "de", "Vries", "2021-09-13", NULL, NULL, "p2");
	l[3] = P(GU, "Anna", NULL, "de", "Vries", NULL, "anna@example.nl", NULL, "l3");
	p[3] = P(GU, "A.", NULL, NULL, "Other", NULL, "ANNA@Example.nl", NULL, "p3");
	l[4] = P(GU, "Anna", NULL, "de", "Vries", NULL, "anna@example.nl", "1234AB", "l4");
	p[4] = P(GU, "Anna", NULL, "de", "Vries", NULL, "other@example.nl", "1234AB", "p4");
	l[5] = P(GU, "Pieter", NULL, "de", "Vries", NULL, NULL, "1234AB", "l5");
	p[5] = P(GU, "pieter", NULL, NULL, "Vries, de", NULL, NULL, "1234AB", "p5");
	l[6] = P(GU, "Pieter", NULL, "de", "Vries", NULL, NULL, "1234AB", "l6");
	p[6] = P(GU, "Pieter", NULL, "de", "Vries", NULL, NULL, "9999ZZ", "p6");
	l[7] = P(SF, "Ingrid", NULL, "van", "Dam", NULL, "i.vandam@school.nl", NULL, "l7");
	p[7] = P(SF, "Ingrid", NULL, NULL, "Dam", NULL, "I.VanDam@School.nl", NULL, "p7");
	l[8] = P(SF, "Ingrid", NULL, "van", "Dam", NULL, "i@school.nl", NULL, "l8");
	p[8] = P(GU, "Ingrid", NULL, "van", "Dam", NULL, "i@school.nl", NULL, "p8");
	l[9] = P(SF, "Ingrid", NULL, "van", "Dam", NULL, "i@school.nl", NULL, "l9");
	p[9] = P(0, "Ingrid", NULL, "van", "Dam", NULL, "i@school.nl", NULL, "p9");
	for (size_t i = 0; i < 10; i++) {
		int got = lasync_profile_matches(&l[i], &p[i]);

		if (got != names[i].want)
			fail_msg("%s: got %d, want %d", names[i].name, got,
				 names[i].want);
		lasync_profile_clear(&l[i]);
		lasync_profile_clear(&p[i]);
	}
}

static void test_r20_linked_disputed_new(void **unused)
{
	lasync_profile las[4], portal[4];
	int out[4];
	int **c = NULL;

	(void)unused;
	/* 0: one candidate, nobody else wants it -> linked */
	las[0] = P(SF, "A", NULL, NULL, "A", NULL, "a@x.nl", NULL, "l0");
	portal[0] = P(SF, "A", NULL, NULL, "A", NULL, "a@x.nl", NULL, "p0");
	/* 1: two candidates -> disputed */
	las[1] = P(SF, "B", NULL, NULL, "B", NULL, "b@x.nl", NULL, "l1");
	portal[1] = P(SF, "B", NULL, NULL, "B", NULL, "b@x.nl", NULL, "p1");
	portal[2] = P(SF, "B2", NULL, NULL, "B2", NULL, "B@X.NL", NULL, "p2");
	/* 2 and 3: both want portal 3 -> both disputed */
	las[2] = P(GU, "C", NULL, NULL, "C", NULL, NULL, "1000AA", "l2");
	las[3] = P(GU, "C", NULL, NULL, "C", NULL, NULL, "1000AA", "l3");
	portal[3] = P(GU, "c", NULL, NULL, "c", NULL, NULL, "1000AA", "p3");
	lasync_match_all(las, 4, portal, 4, out, &c);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], LASYNC_MATCH_DISPUTED);
	assert_int_equal(c[1][0], 1);
	assert_int_equal(c[1][1], 2);
	assert_int_equal(c[1][2], -1);
	assert_int_equal(out[2], LASYNC_MATCH_DISPUTED);
	assert_int_equal(out[3], LASYNC_MATCH_DISPUTED);
	for (int i = 0; i < 4; i++) {
		free(c[i]);
		lasync_profile_clear(&las[i]);
		lasync_profile_clear(&portal[i]);
	}
	free(c);
	/* nobody in the portal -> new */
	las[0] = P(SF, "A", NULL, NULL, "A", NULL, "a@x.nl", NULL, "l0");
	lasync_match_all(las, 1, NULL, 0, out, NULL);
	assert_int_equal(out[0], LASYNC_MATCH_NONE);
	lasync_profile_clear(&las[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r20_normalisation),
		cmocka_unit_test(test_r20_infix_placement),
		cmocka_unit_test(test_r20_matching_keys),
		cmocka_unit_test(test_r20_linked_disputed_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
