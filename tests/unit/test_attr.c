/*
 * test_attr.c - lib/lasync_attr.c: the ownership table of DESIGN §5 and
 * what is done with a row (extract, PATCH operations, put).
 *
 * Table-driven: the table rows are checked against the DESIGN table one by
 * one; extraction runs over realistic SCIM resources as the test portal
 * returns them; PATCH operations and created resources are compared as
 * canonical JSON, so a failure prints the whole got/want.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_attr.h"

#define PS 1   /* lasync.v1.Vendor PARNASSYS */
#define ESIS 2 /* lasync.v1.Vendor ESIS */
#define U LASYNC_RES_USER
#define G LASYNC_RES_GROUP
#define EXT LASYNC_SCHEMA_USER_EXT
#define GEXT LASYNC_SCHEMA_GROUP_EXT

/* canon - canonical text of JSON text (so wants may be written loosely);
 * the caller frees */
static char *canon(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	char *s;

	if (v == NULL) {
		print_error("bad JSON in the test itself: %s: %s\n", text,
			    je.text);
		fail();
	}
	s = lasync_json_canon(v);
	json_decref(v);
	return s;
}

/* must_def - the row for (res, path), failing the test when missing */
static const lasync_attr_def *must_def(lasync_res_type res, const char *path)
{
	const lasync_attr_def *d = lasync_attr_find(res, path);

	if (d == NULL) {
		print_error("no table row for %s (res %d)\n", path, (int)res);
		fail();
	}
	return d;
}

/* ---------- the table ---------- */

typedef struct row_case {
	const char *name;
	lasync_res_type res;
	const char *path;
	lasync_owner owner;
	lasync_shape shape;
	unsigned kinds;
	unsigned vendors;
	const char *scim_attr;
	const char *type_value;
} row_case;

#define STUDENT LASYNC_KIND_STUDENT
#define GUARDIAN LASYNC_KIND_GUARDIAN
#define STAFF LASYNC_KIND_STAFF
#define USERS LASYNC_KIND_USERS
#define GROUP LASYNC_KIND_GROUP
#define ALLV LASYNC_VENDOR_ALL

/* Every owned row of DESIGN §5 (externalId and userName are identity,
 * handled by the applier, and group members are not attributes). */
static const row_case rows[] = {
	{"user_active", U, "active", LASYNC_OWN_STRONG, LASYNC_SHAPE_SIMPLE,
	 USERS, ALLV, NULL, NULL},
	{"user_given", U, "name.givenName", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, USERS, ALLV, NULL, NULL},
	{"user_infix", U, EXT ":nameInfix", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, USERS, ALLV, NULL, NULL},
	{"user_family", U, "name.familyName", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, USERS, ALLV, NULL, NULL},
	{"user_display", U, "displayName", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, USERS, ALLV, NULL, NULL},
	{"user_kind", U, EXT ":kind", LASYNC_OWN_STRONG, LASYNC_SHAPE_SIMPLE,
	 USERS, ALLV, NULL, NULL},
	{"student_birth", U, EXT ":birthDate", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, STUDENT, ALLV, NULL, NULL},
	{"student_year", U, EXT ":yearLevel", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, STUDENT, ALLV, NULL, NULL},
	{"student_preschool", U, EXT ":preschool", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, STUDENT, ALLV, NULL, NULL},
	{"student_phones", U, "phoneNumbers", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_MULTI, STUDENT, ALLV, "phoneNumbers", NULL},
	{"student_addresses", U, "addresses", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_MULTI, STUDENT, ALLV, "addresses", NULL},
	{"guardian_address_home", U, "addresses[type eq \"home\"]",
	 LASYNC_OWN_STRONG, LASYNC_SHAPE_TYPED, GUARDIAN, ALLV, "addresses",
	 "home"},
	{"guardian_phone_home", U, "phoneNumbers[type eq \"home\"]",
	 LASYNC_OWN_STRONG, LASYNC_SHAPE_TYPED, GUARDIAN, ALLV, "phoneNumbers",
	 "home"},
	{"guardian_phone_mobile", U, "phoneNumbers[type eq \"mobile\"]",
	 LASYNC_OWN_STRONG, LASYNC_SHAPE_TYPED, GUARDIAN, ALLV, "phoneNumbers",
	 "mobile"},
	{"guardian_emergency_esis_only", U, EXT ":emergencyPhone",
	 LASYNC_OWN_STRONG, LASYNC_SHAPE_SIMPLE, GUARDIAN,
	 LASYNC_VENDOR_ESIS, NULL, NULL},
	{"guardian_email_home", U, "emails[type eq \"home\"]",
	 LASYNC_OWN_STICKY, LASYNC_SHAPE_TYPED, GUARDIAN, ALLV, "emails",
	 "home"},
	{"guardian_of", U, EXT ":guardianOf", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_MULTI, GUARDIAN, ALLV, EXT ":guardianOf", NULL},
	{"staff_email_work", U, "emails[type eq \"work\"]", LASYNC_OWN_STICKY,
	 LASYNC_SHAPE_TYPED, STAFF, ALLV, "emails", "work"},
	{"staff_roles", U, "roles", LASYNC_OWN_CREATE, LASYNC_SHAPE_MULTI,
	 STAFF, ALLV, "roles", NULL},
	{"group_display", G, "displayName", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, GROUP, ALLV, NULL, NULL},
	{"group_kind", G, GEXT ":kind", LASYNC_OWN_STRONG, LASYNC_SHAPE_SIMPLE,
	 GROUP, ALLV, NULL, NULL},
	{"group_years", G, GEXT ":yearLevels", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, GROUP, ALLV, NULL, NULL},
	{"group_primary", G, GEXT ":primary", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, GROUP, ALLV, NULL, NULL},
	{"group_orphaned", G, GEXT ":lasOrphaned", LASYNC_OWN_STRONG,
	 LASYNC_SHAPE_SIMPLE, GROUP, ALLV, NULL, NULL},
	{"group_parents_see_all", G, GEXT ":parentsSeeAllYearGroups",
	 LASYNC_OWN_CREATE, LASYNC_SHAPE_SIMPLE, GROUP, ALLV, NULL, NULL},
};

static bool streq0(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* check_row - compare one table row with its DESIGN row */
static void check_row(const row_case *c)
{
	const lasync_attr_def *d = lasync_attr_find(c->res, c->path);

	if (d == NULL) {
		print_error("%s: got no row for %s, want one\n", c->name,
			    c->path);
		fail();
	}
	if (d->owner != c->owner || d->shape != c->shape ||
	    d->kinds != c->kinds || d->vendors != c->vendors ||
	    !streq0(d->scim_attr, c->scim_attr) ||
	    !streq0(d->type_value, c->type_value)) {
		print_error("%s: got owner=%d shape=%d kinds=%#x vendors=%#x "
			    "scim_attr=%s type=%s, want owner=%d shape=%d "
			    "kinds=%#x vendors=%#x scim_attr=%s type=%s\n",
			    c->name, d->owner, d->shape, d->kinds, d->vendors,
			    d->scim_attr ? d->scim_attr : "(null)",
			    d->type_value ? d->type_value : "(null)", c->owner,
			    c->shape, c->kinds, c->vendors,
			    c->scim_attr ? c->scim_attr : "(null)",
			    c->type_value ? c->type_value : "(null)");
		fail();
	}
	if ((d->shape == LASYNC_SHAPE_TYPED) != (d->subattrs != NULL &&
						 d->type_value != NULL)) {
		print_error("%s: TYPED rows need subattrs and a type\n",
			    c->name);
		fail();
	}
}

static void test_table_rows(void **state)
{
	size_t n;
	const lasync_attr_def *t = lasync_attr_table(&n);

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
	/* No row the DESIGN table does not have: everything else is
	 * portal data (R9). */
	if (n != sizeof(rows) / sizeof(rows[0])) {
		print_error("table has %zu rows, want %zu\n", n,
			    sizeof(rows) / sizeof(rows[0]));
		fail();
	}
	for (size_t i = 0; i < n; i++) {
		if (lasync_attr_find(t[i].res, t[i].path) != &t[i]) {
			print_error("row %s (res %d) is not unique\n",
				    t[i].path, (int)t[i].res);
			fail();
		}
	}
}

/* find is by (resource, path): the same path on the other resource
 * type is a different row or none */
static void test_find_by_resource(void **state)
{
	(void)state;
	assert_ptr_not_equal(lasync_attr_find(U, "displayName"),
			     lasync_attr_find(G, "displayName"));
	assert_null(lasync_attr_find(G, "name.givenName"));
	assert_null(lasync_attr_find(U, GEXT ":lasOrphaned"));
	assert_null(lasync_attr_find(G, "active"));
	assert_null(lasync_attr_find(U, ""));
}

/* R7: a LAS e-mail replaces the portal's; a missing one never removes it */
static void test_r7_email_sticky(void **state)
{
	static const struct {
		const char *path;
		unsigned kind;
	} r7[] = {
		{LASYNC_A_EMAIL_HOME, LASYNC_KIND_GUARDIAN},
		{LASYNC_A_EMAIL_WORK, LASYNC_KIND_STAFF},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(r7) / sizeof(r7[0]); i++) {
		const lasync_attr_def *d = must_def(U, r7[i].path);

		if (d->owner != LASYNC_OWN_STICKY ||
		    !lasync_attr_applies(d, r7[i].kind, PS) ||
		    !lasync_attr_applies(d, r7[i].kind, ESIS) ||
		    lasync_attr_applies(d, LASYNC_KIND_STUDENT, PS)) {
			print_error("%s: got owner=%d kinds=%#x, want sticky "
				    "for kind %#x only\n",
				    r7[i].path, d->owner, d->kinds,
				    r7[i].kind);
			fail();
		}
	}
}

/* R8: students carry no phone numbers and no address; the rows are strong
 * for students (removed, as the LAS never has them), and the guardian's
 * typed rows do not apply to students */
static void test_r8_students_no_phones(void **state)
{
	static const char *const student_strong[] = {LASYNC_A_PHONES,
						     LASYNC_A_ADDRESSES};
	static const char *const guardian_only[] = {
		LASYNC_A_PHONE_HOME, LASYNC_A_PHONE_MOBILE, LASYNC_A_ADDR_HOME};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const lasync_attr_def *d = must_def(U, student_strong[i]);

		if (d->owner != LASYNC_OWN_STRONG ||
		    !lasync_attr_applies(d, LASYNC_KIND_STUDENT, PS) ||
		    !lasync_attr_applies(d, LASYNC_KIND_STUDENT, ESIS) ||
		    lasync_attr_applies(d, LASYNC_KIND_GUARDIAN, PS) ||
		    lasync_attr_applies(d, LASYNC_KIND_STAFF, PS)) {
			print_error("%s: got owner=%d kinds=%#x, want strong "
				    "for students only\n",
				    student_strong[i], d->owner, d->kinds);
			fail();
		}
	}
	for (size_t i = 0; i < 3; i++) {
		const lasync_attr_def *d = must_def(U, guardian_only[i]);

		if (lasync_attr_applies(d, LASYNC_KIND_STUDENT, PS) ||
		    lasync_attr_applies(d, LASYNC_KIND_STUDENT, ESIS)) {
			print_error("%s: got applies to students, want not\n",
				    guardian_only[i]);
			fail();
		}
	}
	/* a student's phone numbers, whatever they are, read as a value
	 * (so the applier sees one to remove) */
	json_t *res = json_loads(
		"{\"phoneNumbers\":[{\"type\":\"home\",\"value\":\"030-1\"}]}", 0,
		NULL);
	char *got = lasync_attr_extract(must_def(U, LASYNC_A_PHONES), res);

	assert_non_null(got);
	free(got);
	json_decref(res);
}

/* R9: anything not in the table is portal data and is never written */
static void test_r9_portal_attrs_not_owned(void **state)
{
	static const struct {
		lasync_res_type res;
		const char *path;
	} portal[] = {
		{U, "urn:example:portal:1.0:User:allergies"},
		{U, "urn:example:portal:1.0:User:photoConsent"},
		{U, "entitlements"},
		{U, "roles[value eq \"Leerkracht\"]"},
		{U, "photos"},
		{U, "userName"},
		{U, "password"},
		{U, "emails"},
		{U, "emails[type eq \"other\"]"},
		{U, "phoneNumbers[type eq \"work\"]"},
		{U, "addresses[type eq \"work\"]"},
		{U, "name"},
		{U, "name.middleName"},
		{U, "nickName"},
		{U, "groups"},
		{U, EXT ":medical"},
		{G, "roles"},
		{G, "entitlements"},
		{G, "members"},
		{G, GEXT ":description"},
		{G, "urn:example:portal:1.0:Group:rights"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(portal) / sizeof(portal[0]); i++) {
		const lasync_attr_def *d =
			lasync_attr_find(portal[i].res, portal[i].path);

		if (d != NULL) {
			print_error("%s (res %d): got a row (owner %d), want "
				    "none: portal data\n",
				    portal[i].path, (int)portal[i].res,
				    d->owner);
			fail();
		}
	}
}

/* R6: guardian NAW data is strong; the emergency number is strong for ESIS
 * and portal data at ParnasSys tenants */
static void test_r6_guardian_naw_strong(void **state)
{
	static const char *const naw[] = {
		LASYNC_A_GIVEN,	      LASYNC_A_INFIX,	   LASYNC_A_FAMILY,
		LASYNC_A_ADDR_HOME,   LASYNC_A_PHONE_HOME, LASYNC_A_PHONE_MOBILE,
	};
	const lasync_attr_def *em = must_def(U, LASYNC_A_EMERGENCY);

	(void)state;
	for (size_t i = 0; i < sizeof(naw) / sizeof(naw[0]); i++) {
		const lasync_attr_def *d = must_def(U, naw[i]);

		if (d->owner != LASYNC_OWN_STRONG ||
		    !lasync_attr_applies(d, LASYNC_KIND_GUARDIAN, PS) ||
		    !lasync_attr_applies(d, LASYNC_KIND_GUARDIAN, ESIS)) {
			print_error("%s: got owner=%d kinds=%#x vendors=%#x, "
				    "want strong for guardians of both "
				    "vendors\n",
				    naw[i], d->owner, d->kinds, d->vendors);
			fail();
		}
	}
	assert_int_equal(em->owner, LASYNC_OWN_STRONG);
	assert_true(lasync_attr_applies(em, LASYNC_KIND_GUARDIAN, ESIS));
	assert_false(lasync_attr_applies(em, LASYNC_KIND_GUARDIAN, PS));
	assert_false(lasync_attr_applies(em, LASYNC_KIND_STUDENT, ESIS));
}

/* R11: the default role is set at creation only, for staff only */
static void test_r11_role_create_only(void **state)
{
	const lasync_attr_def *d = must_def(U, LASYNC_A_ROLES);

	(void)state;
	assert_int_equal(d->owner, LASYNC_OWN_CREATE);
	assert_true(lasync_attr_applies(d, LASYNC_KIND_STAFF, PS));
	assert_true(lasync_attr_applies(d, LASYNC_KIND_STAFF, ESIS));
	assert_false(lasync_attr_applies(d, LASYNC_KIND_GUARDIAN, PS));
	assert_false(lasync_attr_applies(d, LASYNC_KIND_STUDENT, PS));
}

/* R14: parentsSeeAllYearGroups starts false and is the portal's after */
static void test_r14_parents_see_all_create_only(void **state)
{
	const lasync_attr_def *d = must_def(G, LASYNC_G_PARENTS_SEE_ALL);

	(void)state;
	assert_int_equal(d->owner, LASYNC_OWN_CREATE);
	assert_true(lasync_attr_applies(d, LASYNC_KIND_GROUP, PS));
	assert_true(lasync_attr_applies(d, LASYNC_KIND_GROUP, ESIS));
	assert_false(lasync_attr_applies(d, LASYNC_KIND_STAFF, PS));
}

/* applies: kind bit and vendor value, out-of-range vendors never apply */
static void test_applies(void **state)
{
	static const struct {
		const char *name;
		const char *path;
		unsigned kind;
		int vendor;
		bool want;
	} cases[] = {
		{"given_student_ps", LASYNC_A_GIVEN, LASYNC_KIND_STUDENT, PS,
		 true},
		{"given_staff_esis", LASYNC_A_GIVEN, LASYNC_KIND_STAFF, ESIS,
		 true},
		{"given_group", LASYNC_A_GIVEN, LASYNC_KIND_GROUP, PS, false},
		{"given_no_kind", LASYNC_A_GIVEN, 0, PS, false},
		{"birth_guardian", LASYNC_A_BIRTH, LASYNC_KIND_GUARDIAN, PS,
		 false},
		{"vendor_unspecified", LASYNC_A_GIVEN, LASYNC_KIND_STUDENT, 0,
		 false},
		{"vendor_negative", LASYNC_A_GIVEN, LASYNC_KIND_STUDENT, -1,
		 false},
		{"vendor_unknown_3", LASYNC_A_GIVEN, LASYNC_KIND_STUDENT, 3,
		 false},
		{"vendor_huge", LASYNC_A_GIVEN, LASYNC_KIND_STUDENT, 64, false},
		{"guardian_of_guardian", LASYNC_A_GUARDIAN_OF,
		 LASYNC_KIND_GUARDIAN, ESIS, true},
		{"guardian_of_student", LASYNC_A_GUARDIAN_OF,
		 LASYNC_KIND_STUDENT, ESIS, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = lasync_attr_applies(must_def(U, cases[i].path),
					       cases[i].kind, cases[i].vendor);

		if (got != cases[i].want) {
			print_error("%s: got %d, want %d\n", cases[i].name, got,
				    cases[i].want);
			fail();
		}
	}
}

static void test_kind_bit(void **state)
{
	static const struct {
		const char *in;
		unsigned want;
	} cases[] = {
		{"student", LASYNC_KIND_STUDENT}, {"guardian", LASYNC_KIND_GUARDIAN},
		{"staff", LASYNC_KIND_STAFF},	  {"Student", 0},
		{"", 0},			  {"group", 0},
		{NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = lasync_attr_kind_bit(cases[i].in);

		if (got != cases[i].want) {
			print_error("%s: got %#x, want %#x\n",
				    cases[i].in ? cases[i].in : "(null)", got,
				    cases[i].want);
			fail();
		}
	}
}

/* ---------- canonical JSON ---------- */

static void test_json_canon(void **state)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{"string", "\"Emma\"", "\"Emma\""},
		{"unicode_verbatim", "\"Ren\\u00e9e\"", "\"Ren\xc3\xa9" "e\""},
		{"true", "true", "true"},
		{"null", "null", "null"},
		{"integer", "42", "42"},
		{"keys_sorted_compact", "{ \"b\" : 1 , \"a\" : [ 2 , 1 ] }",
		 "{\"a\":[2,1],\"b\":1}"},
		{"nested_sorted", "{\"z\":{\"y\":1,\"x\":2},\"a\":null}",
		 "{\"a\":null,\"z\":{\"x\":2,\"y\":1}}"},
		{"array_order_kept", "[\"2\",\"1\"]", "[\"2\",\"1\"]"},
		{"quotes_escaped", "\"a\\\"b\"", "\"a\\\"b\""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].in, JSON_DECODE_ANY, NULL);
		char *got;

		assert_non_null(v);
		got = lasync_json_canon(v);
		if (got == NULL || strcmp(got, cases[i].want) != 0) {
			print_error("%s: got %s, want %s\n", cases[i].name,
				    got ? got : "(null)", cases[i].want);
			fail();
		}
		free(got);
		json_decref(v);
	}
}

/* ---------- extract ---------- */

/* A guardian as the test portal returns it. */
#define GUARDIAN_DOC                                                        \
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","     \
	"\"" EXT "\"],"                                                     \
	"\"id\":\"7d3c\",\"externalId\":\"parnassys:guardian:1001\","       \
	"\"userName\":\"parnassys-guardian-1001\",\"active\":true,"         \
	"\"displayName\":\"Sanne de Vries\","                               \
	"\"name\":{\"givenName\":\"Sanne\",\"familyName\":\"Vries\","       \
	"\"formatted\":\"Sanne de Vries\"},"                                \
	"\"emails\":[{\"type\":\"work\",\"value\":\"s@werk.nl\"},"          \
	"{\"type\":\"home\",\"value\":\"sanne@example.nl\","                \
	"\"primary\":true}],"                                               \
	"\"phoneNumbers\":[{\"type\":\"work\",\"value\":\"030-999\"},"      \
	"{\"type\":\"mobile\",\"value\":\"06-12345678\",\"primary\":false}," \
	"{\"type\":\"home\",\"value\":\"030-1234567\"}],"                   \
	"\"addresses\":[{\"type\":\"home\",\"streetAddress\":\"Lindelaan "  \
	"12 B\",\"postalCode\":\"1234 AB\",\"locality\":\"Utrecht\","       \
	"\"country\":\"NL\",\"formatted\":\"x\",\"primary\":true}],"        \
	"\"entitlements\":[{\"value\":\"melding-ouder-kindgegevens\"}],"    \
	"\"" EXT "\":{\"kind\":\"guardian\",\"nameInfix\":\"de\","          \
	"\"emergencyPhone\":\"112\",\"guardianOf\":["                       \
	"{\"value\":\"b2\",\"externalId\":\"parnassys:student:2\","         \
	"\"relation\":\"VADER\",\"display\":\"Tim\"},"                      \
	"{\"value\":\"a1\",\"externalId\":\"parnassys:student:1\","         \
	"\"relation\":\"MOEDER\",\"$ref\":\"../Users/a1\"}]},"              \
	"\"urn:example:portal:1.0:User\":{\"allergies\":\"pinda\"},"        \
	"\"meta\":{\"resourceType\":\"User\"}}"

#define STAFF_DOC                                                           \
	"{\"externalId\":\"parnassys:staff:7\",\"active\":false,"           \
	"\"name\":{\"givenName\":\"\",\"familyName\":null},"                \
	"\"emails\":[{\"type\":\"work\",\"value\":\"j@school.nl\","         \
	"\"primary\":true}],"                                               \
	"\"roles\":[{\"value\":\"Leerkracht\",\"primary\":true,"            \
	"\"display\":\"L\"},{\"value\":\"Directie\"}],"                     \
	"\"" EXT "\":{\"kind\":\"staff\",\"nameInfix\":\"\","               \
	"\"guardianOf\":[]}}"

#define GROUP_DOC                                                           \
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\","    \
	"\"" GEXT "\"],\"displayName\":\"Groep 3B\","                       \
	"\"members\":[{\"value\":\"a1\"}],"                                 \
	"\"" GEXT "\":{\"kind\":\"jaargroep\",\"yearLevels\":[\"3\"],"      \
	"\"primary\":true,\"lasOrphaned\":false,"                           \
	"\"parentsSeeAllYearGroups\":true}}"

typedef struct extract_case {
	const char *name;
	lasync_res_type res;
	const char *path;
	const char *doc;
	const char *want;	/* canonical JSON, NULL = no value */
} extract_case;

static const extract_case extract_cases[] = {
	{"simple_active", U, LASYNC_A_ACTIVE, GUARDIAN_DOC, "true"},
	{"simple_active_false", U, LASYNC_A_ACTIVE, STAFF_DOC, "false"},
	{"simple_display", U, LASYNC_A_DISPLAY, GUARDIAN_DOC,
	 "\"Sanne de Vries\""},
	{"nested_given", U, LASYNC_A_GIVEN, GUARDIAN_DOC, "\"Sanne\""},
	{"nested_family", U, LASYNC_A_FAMILY, GUARDIAN_DOC, "\"Vries\""},
	{"nested_empty_string_is_none", U, LASYNC_A_GIVEN, STAFF_DOC, NULL},
	{"nested_null_is_none", U, LASYNC_A_FAMILY, STAFF_DOC, NULL},
	{"nested_parent_absent", U, LASYNC_A_GIVEN, "{}", NULL},
	{"nested_parent_not_object", U, LASYNC_A_GIVEN, "{\"name\":\"Sanne\"}",
	 NULL},
	{"ext_infix", U, LASYNC_A_INFIX, GUARDIAN_DOC, "\"de\""},
	{"ext_kind", U, LASYNC_A_KIND, GUARDIAN_DOC, "\"guardian\""},
	{"ext_emergency", U, LASYNC_A_EMERGENCY, GUARDIAN_DOC, "\"112\""},
	{"ext_empty_string_is_none", U, LASYNC_A_INFIX, STAFF_DOC, NULL},
	{"ext_absent_attr", U, LASYNC_A_BIRTH, GUARDIAN_DOC, NULL},
	{"ext_schema_absent", U, LASYNC_A_INFIX,
	 "{\"name\":{\"givenName\":\"x\"}}", NULL},
	{"ext_schema_not_object", U, LASYNC_A_INFIX,
	 "{\"" EXT "\":[\"de\"]}", NULL},
	{"ext_other_schema_ignored", U, LASYNC_A_KIND,
	 "{\"urn:example:portal:1.0:User\":{\"kind\":\"student\"}}", NULL},
	{"typed_address_home_restricted", U, LASYNC_A_ADDR_HOME, GUARDIAN_DOC,
	 "{\"locality\":\"Utrecht\",\"postalCode\":\"1234 AB\","
	 "\"streetAddress\":\"Lindelaan 12 B\",\"type\":\"home\"}"},
	{"typed_phone_home_by_type", U, LASYNC_A_PHONE_HOME, GUARDIAN_DOC,
	 "{\"type\":\"home\",\"value\":\"030-1234567\"}"},
	{"typed_phone_mobile_by_type", U, LASYNC_A_PHONE_MOBILE, GUARDIAN_DOC,
	 "{\"type\":\"mobile\",\"value\":\"06-12345678\"}"},
	{"typed_email_home_not_work", U, LASYNC_A_EMAIL_HOME, GUARDIAN_DOC,
	 "{\"type\":\"home\",\"value\":\"sanne@example.nl\"}"},
	{"typed_email_work", U, LASYNC_A_EMAIL_WORK, STAFF_DOC,
	 "{\"type\":\"work\",\"value\":\"j@school.nl\"}"},
	{"typed_type_absent", U, LASYNC_A_EMAIL_HOME, STAFF_DOC, NULL},
	{"typed_attr_absent", U, LASYNC_A_ADDR_HOME, STAFF_DOC, NULL},
	{"typed_attr_not_array", U, LASYNC_A_PHONE_HOME,
	 "{\"phoneNumbers\":{\"type\":\"home\",\"value\":\"1\"}}", NULL},
	{"typed_element_without_type", U, LASYNC_A_PHONE_HOME,
	 "{\"phoneNumbers\":[{\"value\":\"1\"},\"x\",null]}", NULL},
	{"typed_case_sensitive_type", U, LASYNC_A_PHONE_HOME,
	 "{\"phoneNumbers\":[{\"type\":\"Home\",\"value\":\"1\"}]}", NULL},
	{"typed_null_subattr_dropped", U, LASYNC_A_ADDR_HOME,
	 "{\"addresses\":[{\"type\":\"home\",\"streetAddress\":\"Dorp 1\","
	 "\"postalCode\":null,\"locality\":\"\"}]}",
	 "{\"streetAddress\":\"Dorp 1\",\"type\":\"home\"}"},
	{"multi_guardian_of_sorted_restricted", U, LASYNC_A_GUARDIAN_OF,
	 GUARDIAN_DOC,
	 "[{\"externalId\":\"parnassys:student:1\",\"relation\":\"MOEDER\"},"
	 "{\"externalId\":\"parnassys:student:2\",\"relation\":\"VADER\"}]"},
	{"multi_empty_is_none", U, LASYNC_A_GUARDIAN_OF, STAFF_DOC, NULL},
	{"multi_absent", U, LASYNC_A_GUARDIAN_OF, "{}", NULL},
	{"multi_not_array", U, LASYNC_A_ROLES, "{\"roles\":\"Leerkracht\"}",
	 NULL},
	{"multi_roles_restricted_sorted", U, LASYNC_A_ROLES, STAFF_DOC,
	 "[{\"value\":\"Directie\"},{\"value\":\"Leerkracht\"}]"},
	/* R8 rows own the whole attribute: every element counts, in
	 * canonical (sorted) order like every MULTI value. */
	{"multi_student_phones_whole_sorted", U, LASYNC_A_PHONES,
	 "{\"phoneNumbers\":[{\"value\":\"06-2\",\"type\":\"mobile\"},"
	 "{\"value\":\"030-1\",\"type\":\"home\"}]}",
	 "[{\"type\":\"home\",\"value\":\"030-1\"},"
	 "{\"type\":\"mobile\",\"value\":\"06-2\"}]"},
	{"multi_student_addresses", U, LASYNC_A_ADDRESSES, GUARDIAN_DOC,
	 "[{\"country\":\"NL\",\"formatted\":\"x\",\"locality\":\"Utrecht\","
	 "\"postalCode\":\"1234 AB\",\"primary\":true,"
	 "\"streetAddress\":\"Lindelaan 12 B\",\"type\":\"home\"}]"},
	{"group_display", G, LASYNC_G_DISPLAY, GROUP_DOC, "\"Groep 3B\""},
	{"group_years_array", G, LASYNC_G_YEARS, GROUP_DOC, "[\"3\"]"},
	{"group_years_empty_is_none", G, LASYNC_G_YEARS,
	 "{\"" GEXT "\":{\"yearLevels\":[]}}", NULL},
	{"group_primary", G, LASYNC_G_PRIMARY, GROUP_DOC, "true"},
	{"group_orphaned_false_is_a_value", G, LASYNC_G_ORPHANED, GROUP_DOC,
	 "false"},
	{"group_user_schema_ignored", G, LASYNC_G_KIND,
	 "{\"" EXT "\":{\"kind\":\"jaargroep\"}}", NULL},
};

static void test_extract(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(extract_cases) / sizeof(extract_cases[0]); i++) {
		const extract_case *c = &extract_cases[i];
		json_error_t je;
		json_t *doc = json_loads(c->doc, 0, &je);
		char *want = c->want ? canon(c->want) : NULL;
		char *got;

		if (doc == NULL) {
			print_error("%s: bad test document: %s\n", c->name,
				    je.text);
			fail();
		}
		got = lasync_attr_extract(must_def(c->res, c->path), doc);
		if (!streq0(got, want)) {
			print_error("%s: got %s, want %s\n", c->name,
				    got ? got : "(none)",
				    want ? want : "(none)");
			fail();
		}
		/* what extract returns is canonical already */
		if (got != NULL) {
			char *again = canon(got);

			assert_string_equal(again, got);
			free(again);
		}
		free(got);
		free(want);
		json_decref(doc);
	}
}

/* ---------- PATCH operations ---------- */

static const char *test_refs(void *ctx, const char *external_id)
{
	static const char *const map[][2] = {
		{"parnassys:student:1", "a1"},
		{"parnassys:student:2", "b2"},
	};

	(void)ctx;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], external_id) == 0)
			return map[i][1];
	return NULL;
}

typedef struct patch_case {
	const char *name;
	lasync_res_type res;
	const char *path;
	const char *value;	/* canonical JSON, NULL = remove */
	bool no_refs;		/* pass a NULL refs function */
	const char *want;	/* the ops array, or NULL for an error */
	const char *want_err;
} patch_case;

#define ADDR_HOME_Q "addresses[type eq \\\"home\\\"]"
#define PHONE_MOBILE_Q "phoneNumbers[type eq \\\"mobile\\\"]"
#define EMAIL_HOME_Q "emails[type eq \\\"home\\\"]"

static const patch_case patch_cases[] = {
	{"simple_replace_given", U, LASYNC_A_GIVEN, "\"Emma\"", false,
	 "[{\"op\":\"replace\",\"path\":\"name.givenName\",\"value\":\"Emma\"}]",
	 NULL},
	{"simple_remove_given", U, LASYNC_A_GIVEN, NULL, false,
	 "[{\"op\":\"remove\",\"path\":\"name.givenName\"}]", NULL},
	{"simple_ext_replace", U, LASYNC_A_INFIX, "\"van der\"", false,
	 "[{\"op\":\"replace\",\"path\":\"" EXT ":nameInfix\","
	 "\"value\":\"van der\"}]",
	 NULL},
	{"simple_ext_remove", U, LASYNC_A_EMERGENCY, NULL, false,
	 "[{\"op\":\"remove\",\"path\":\"" EXT ":emergencyPhone\"}]", NULL},
	{"simple_bool", U, LASYNC_A_ACTIVE, "false", false,
	 "[{\"op\":\"replace\",\"path\":\"active\",\"value\":false}]", NULL},
	{"simple_group_array", G, LASYNC_G_YEARS, "[\"1\",\"2\"]", false,
	 "[{\"op\":\"replace\",\"path\":\"" GEXT ":yearLevels\","
	 "\"value\":[\"1\",\"2\"]}]",
	 NULL},
	{"typed_remove_then_add", U, LASYNC_A_ADDR_HOME,
	 "{\"locality\":\"Utrecht\",\"postalCode\":\"1234 AB\","
	 "\"streetAddress\":\"Lindelaan 12 B\",\"type\":\"home\"}",
	 false,
	 "[{\"op\":\"remove\",\"path\":\"" ADDR_HOME_Q "\"},"
	 "{\"op\":\"add\",\"path\":\"addresses\",\"value\":[{"
	 "\"locality\":\"Utrecht\",\"postalCode\":\"1234 AB\","
	 "\"streetAddress\":\"Lindelaan 12 B\",\"type\":\"home\"}]}]",
	 NULL},
	{"typed_type_added_when_missing", U, LASYNC_A_PHONE_MOBILE,
	 "{\"value\":\"06-1\"}", false,
	 "[{\"op\":\"remove\",\"path\":\"" PHONE_MOBILE_Q "\"},"
	 "{\"op\":\"add\",\"path\":\"phoneNumbers\",\"value\":[{"
	 "\"type\":\"mobile\",\"value\":\"06-1\"}]}]",
	 NULL},
	{"typed_remove_only", U, LASYNC_A_PHONE_MOBILE, NULL, false,
	 "[{\"op\":\"remove\",\"path\":\"" PHONE_MOBILE_Q "\"}]", NULL},
	{"typed_sticky_set", U, LASYNC_A_EMAIL_HOME,
	 "{\"type\":\"home\",\"value\":\"a@b.nl\"}", false,
	 "[{\"op\":\"remove\",\"path\":\"" EMAIL_HOME_Q "\"},"
	 "{\"op\":\"add\",\"path\":\"emails\",\"value\":[{"
	 "\"type\":\"home\",\"value\":\"a@b.nl\"}]}]",
	 NULL},
	{"multi_refs_resolved_into_value", U, LASYNC_A_GUARDIAN_OF,
	 "[{\"externalId\":\"parnassys:student:1\",\"relation\":\"MOEDER\"},"
	 "{\"externalId\":\"parnassys:student:2\",\"relation\":\"VADER\"}]",
	 false,
	 "[{\"op\":\"replace\",\"path\":\"" EXT ":guardianOf\",\"value\":["
	 "{\"externalId\":\"parnassys:student:1\",\"relation\":\"MOEDER\","
	 "\"value\":\"a1\"},"
	 "{\"externalId\":\"parnassys:student:2\",\"relation\":\"VADER\","
	 "\"value\":\"b2\"}]}]",
	 NULL},
	{"multi_remove", U, LASYNC_A_GUARDIAN_OF, NULL, false,
	 "[{\"op\":\"remove\",\"path\":\"" EXT ":guardianOf\"}]", NULL},
	{"multi_without_refs_kept", U, LASYNC_A_ROLES,
	 "[{\"value\":\"Leerkracht\"}]", true,
	 "[{\"op\":\"replace\",\"path\":\"roles\",\"value\":["
	 "{\"value\":\"Leerkracht\"}]}]",
	 NULL},
	{"multi_student_phones_removed", U, LASYNC_A_PHONES, NULL, false,
	 "[{\"op\":\"remove\",\"path\":\"phoneNumbers\"}]", NULL},
	{"multi_unresolved_ref", U, LASYNC_A_GUARDIAN_OF,
	 "[{\"externalId\":\"parnassys:student:1\",\"relation\":\"MOEDER\"},"
	 "{\"externalId\":\"parnassys:student:9\",\"relation\":\"VADER\"}]",
	 false, NULL, "unresolved reference parnassys:student:9"},
	{"multi_no_refs_function", U, LASYNC_A_GUARDIAN_OF,
	 "[{\"externalId\":\"parnassys:student:1\",\"relation\":\"MOEDER\"}]",
	 true, NULL, "unresolved reference parnassys:student:1"},
	{"bad_json_value", U, LASYNC_A_GIVEN, "{not json", false, NULL,
	 "bad JSON value"},
	{"bad_json_value_typed", U, LASYNC_A_ADDR_HOME, "", false, NULL,
	 "bad JSON value"},
};

static void test_patch_ops(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(patch_cases) / sizeof(patch_cases[0]);
	     i++) {
		const patch_case *c = &patch_cases[i];
		/* an operation already in the request stays first */
		json_t *ops = json_loads(
			"[{\"op\":\"replace\",\"path\":\"x\",\"value\":1}]", 0,
			NULL);
		char err[256] = "";
		int rc = lasync_attr_patch_ops(must_def(c->res, c->path),
					       c->value,
					       c->no_refs ? NULL : test_refs,
					       NULL, ops, err, sizeof(err));

		if (c->want == NULL) {
			if (rc != -1 || strstr(err, c->want_err) == NULL ||
			    json_array_size(ops) != 1) {
				print_error("%s: got rc=%d err \"%s\" %zu ops, "
					    "want -1 with \"%s\" and no op "
					    "added\n",
					    c->name, rc, err,
					    json_array_size(ops), c->want_err);
				fail();
			}
			json_decref(ops);
			continue;
		}
		json_array_remove(ops, 0);
		char *got = lasync_json_canon(ops);
		char *want = canon(c->want);

		if (rc != 0 || strcmp(got, want) != 0) {
			print_error("%s: got rc=%d %s (err \"%s\"), want %s\n",
				    c->name, rc, got, err, want);
			fail();
		}
		free(got);
		free(want);
		json_decref(ops);
	}
}

/* ---------- put (resources being created) ---------- */

typedef struct put_case {
	const char *name;
	lasync_res_type res;
	const char *path;
	const char *value;
	const char *before;	/* the resource so far */
	const char *want;	/* the resource after, or NULL for an error */
	const char *want_err;
} put_case;

static const put_case put_cases[] = {
	{"simple_top", U, LASYNC_A_ACTIVE, "true", "{}", "{\"active\":true}",
	 NULL},
	{"simple_nested_creates_parent", U, LASYNC_A_GIVEN, "\"Emma\"", "{}",
	 "{\"name\":{\"givenName\":\"Emma\"}}", NULL},
	{"simple_nested_keeps_siblings", U, LASYNC_A_FAMILY, "\"Jansen\"",
	 "{\"name\":{\"givenName\":\"Emma\"}}",
	 "{\"name\":{\"familyName\":\"Jansen\",\"givenName\":\"Emma\"}}",
	 NULL},
	{"ext_adds_schema", U, LASYNC_A_INFIX, "\"van\"",
	 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"]}",
	 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
	 "\"" EXT "\"],\"" EXT "\":{\"nameInfix\":\"van\"}}",
	 NULL},
	{"ext_schema_not_twice", U, LASYNC_A_KIND, "\"student\"",
	 "{\"schemas\":[\"" EXT "\"],\"" EXT "\":{\"nameInfix\":\"van\"}}",
	 "{\"schemas\":[\"" EXT "\"],"
	 "\"" EXT "\":{\"kind\":\"student\",\"nameInfix\":\"van\"}}",
	 NULL},
	{"ext_schemas_created", G, LASYNC_G_PARENTS_SEE_ALL, "false", "{}",
	 "{\"schemas\":[\"" GEXT "\"],"
	 "\"" GEXT "\":{\"parentsSeeAllYearGroups\":false}}",
	 NULL},
	{"typed_appended", U, LASYNC_A_PHONE_HOME,
	 "{\"type\":\"home\",\"value\":\"030-1\"}",
	 "{\"phoneNumbers\":[{\"type\":\"mobile\",\"value\":\"06-1\"}]}",
	 "{\"phoneNumbers\":[{\"type\":\"mobile\",\"value\":\"06-1\"},"
	 "{\"type\":\"home\",\"value\":\"030-1\"}]}",
	 NULL},
	{"typed_type_added", U, LASYNC_A_EMAIL_WORK, "{\"value\":\"j@s.nl\"}",
	 "{}", "{\"emails\":[{\"type\":\"work\",\"value\":\"j@s.nl\"}]}",
	 NULL},
	{"multi_ext_refs_resolved", U, LASYNC_A_GUARDIAN_OF,
	 "[{\"externalId\":\"parnassys:student:2\",\"relation\":\"VADER\"}]",
	 "{}",
	 "{\"schemas\":[\"" EXT "\"],\"" EXT "\":{\"guardianOf\":["
	 "{\"externalId\":\"parnassys:student:2\",\"relation\":\"VADER\","
	 "\"value\":\"b2\"}]}}",
	 NULL},
	{"multi_roles", U, LASYNC_A_ROLES, "[{\"value\":\"Leerkracht\"}]", "{}",
	 "{\"roles\":[{\"value\":\"Leerkracht\"}]}", NULL},
	{"multi_unresolved_ref", U, LASYNC_A_GUARDIAN_OF,
	 "[{\"externalId\":\"parnassys:student:3\",\"relation\":\"VADER\"}]",
	 "{}", NULL, "unresolved reference parnassys:student:3"},
	{"no_value_no_change", U, LASYNC_A_GIVEN, NULL, "{\"active\":true}",
	 "{\"active\":true}", NULL},
	{"bad_json", U, LASYNC_A_GIVEN, "[", "{}", NULL, "bad JSON value"},
};

static void test_put(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(put_cases) / sizeof(put_cases[0]); i++) {
		const put_case *c = &put_cases[i];
		json_t *res = json_loads(c->before, 0, NULL);
		char err[256] = "";
		int rc;

		assert_non_null(res);
		rc = lasync_attr_put(must_def(c->res, c->path), c->value,
				     test_refs, NULL, res, err, sizeof(err));
		if (c->want == NULL) {
			if (rc != -1 || strstr(err, c->want_err) == NULL) {
				print_error("%s: got rc=%d err \"%s\", want -1 "
					    "with \"%s\"\n",
					    c->name, rc, err, c->want_err);
				fail();
			}
			json_decref(res);
			continue;
		}
		char *got = lasync_json_canon(res);
		char *want = canon(c->want);

		if (rc != 0 || strcmp(got, want) != 0) {
			print_error("%s: got rc=%d %s (err \"%s\"), want %s\n",
				    c->name, rc, got, err, want);
			fail();
		}
		free(got);
		free(want);
		json_decref(res);
	}
}

/* What put writes, extract reads back as the same canonical value, so the
 * applier's reconcile sees no difference right after a create. */
static void test_put_extract_round_trip(void **state)
{
	static const struct {
		lasync_res_type res;
		const char *path, *value;
	} cases[] = {
		{U, LASYNC_A_GIVEN, "\"Emma\""},
		{U, LASYNC_A_INFIX, "\"van der\""},
		{U, LASYNC_A_ACTIVE, "true"},
		{U, LASYNC_A_ADDR_HOME,
		 "{\"locality\":\"Utrecht\",\"postalCode\":\"1234 AB\","
		 "\"streetAddress\":\"Lindelaan 12 B\",\"type\":\"home\"}"},
		{U, LASYNC_A_PHONE_MOBILE,
		 "{\"type\":\"mobile\",\"value\":\"06-1\"}"},
		{U, LASYNC_A_GUARDIAN_OF,
		 "[{\"externalId\":\"parnassys:student:1\",\"relation\":"
		 "\"MOEDER\"},{\"externalId\":\"parnassys:student:2\","
		 "\"relation\":\"VADER\"}]"},
		{U, LASYNC_A_ROLES, "[{\"value\":\"Leerkracht\"}]"},
		{G, LASYNC_G_YEARS, "[\"1\",\"2\"]"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const lasync_attr_def *d = must_def(cases[i].res, cases[i].path);
		json_t *res = json_object();
		char err[128] = "";
		char *got;

		assert_int_equal(lasync_attr_put(d, cases[i].value, test_refs,
						 NULL, res, err, sizeof(err)),
				 0);
		got = lasync_attr_extract(d, res);
		if (!streq0(got, cases[i].value)) {
			print_error("%s: got %s, want %s\n", cases[i].path,
				    got ? got : "(none)", cases[i].value);
			fail();
		}
		free(got);
		json_decref(res);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_find_by_resource),
		cmocka_unit_test(test_r7_email_sticky),
		cmocka_unit_test(test_r8_students_no_phones),
		cmocka_unit_test(test_r9_portal_attrs_not_owned),
		cmocka_unit_test(test_r6_guardian_naw_strong),
		cmocka_unit_test(test_r11_role_create_only),
		cmocka_unit_test(test_r14_parents_see_all_create_only),
		cmocka_unit_test(test_applies),
		cmocka_unit_test(test_kind_bit),
		cmocka_unit_test(test_json_canon),
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_patch_ops),
		cmocka_unit_test(test_put),
		cmocka_unit_test(test_put_extract_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
