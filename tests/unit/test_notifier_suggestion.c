/*
 * test_notifier_suggestion.c - services/notifier/notifier_suggestion.c:
 * the webhook body's strict schema (R21), the allow-listed fields and which
 * of them lasync owns per vendor (R9), value digests, RFC 3339 times.
 *
 * Invalid bodies are the valid one with one change (a JSON merge: objects
 * merge, null deletes a key, arrays replace); each row wants the refusal to
 * name what is wrong - and never to echo a value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lasync_mem.h"
#include "notifier.h"

#define VALID                                                              \
	"{\"suggestionId\":\"s-81f3.a_1\","                                \
	"\"parent\":{\"id\":\"9f2c\",\"externalId\":"                      \
	"\"parnassys:guardian:200001\"},"                                  \
	"\"children\":[{\"id\":\"c1\",\"externalId\":"                     \
	"\"parnassys:student:100001\",\"displayName\":\"Emma de Vries\"}," \
	"{\"id\":\"c2\",\"externalId\":null,\"displayName\":\"Zoë\"}],"   \
	"\"changes\":[{\"field\":\"phoneMobile\",\"old\":\"06-1\","        \
	"\"new\":\"06-2\"},{\"field\":\"postalCode\",\"old\":null,"        \
	"\"new\":\"1234 AB\"}],"                                           \
	"\"submittedAt\":\"2026-11-29T08:20:55Z\"}"

/* merge - apply patch to doc: objects merge, null deletes */
static void merge(json_t *doc, json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach(patch, k, v) {
		json_t *cur = json_object_get(doc, k);

		if (json_is_null(v))
			json_object_del(doc, k);
		else if (json_is_object(v) && json_is_object(cur))
			merge(cur, v);
		else
			json_object_set(doc, k, v);
	}
}

static char *variant(const char *patch)
{
	json_t *doc = json_loads(VALID, 0, NULL);
	json_t *p = json_loads(patch, 0, NULL);
	char *out;

	assert_non_null(doc);
	assert_non_null(p);
	merge(doc, p);
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	json_decref(p);
	return out;
}

static void test_r21_valid_body(void **state)
{
	char err[256] = "";
	notifier_suggestion *s =
		notifier_suggestion_parse(VALID, strlen(VALID), err, sizeof(err));

	(void)state;
	assert_non_null(s);
	assert_string_equal(s->msg.suggestion_id, "s-81f3.a_1");
	assert_string_equal(s->msg.parent_portal_id, "9f2c");
	assert_string_equal(s->msg.parent_external_id,
			    "parnassys:guardian:200001");
	assert_int_equal(s->msg.n_children, 2);
	assert_string_equal(s->msg.children[1]->display_name, "Zoë");
	assert_string_equal(s->msg.children[1]->external_id, "");
	assert_int_equal(s->msg.n_fields, 2);
	assert_string_equal(s->msg.fields[1]->field, "postalCode");
	assert_string_equal(s->msg.fields[1]->old_value, "");
	assert_string_equal(s->msg.fields[1]->new_value, "1234 AB");
	assert_int_equal(s->msg.submitted_at_ms, 1795940455000LL);
	notifier_suggestion_free(s);
}

static void test_r21_malformed_bodies_are_refused(void **state)
{
	static const struct {
		const char *name, *patch, *want;
	} cases[] = {
		{"unknown top key", "{\"extra\":1}", "unknown key \"extra\""},
		{"unknown key not echoed", "{\"a b\\r\\n\":1}",
		 "body: unknown key"},
		{"missing id", "{\"suggestionId\":null}",
		 "\"suggestionId\" is missing"},
		{"id type", "{\"suggestionId\":7}", "suggestionId must be a string"},
		{"id chars", "{\"suggestionId\":\"a:b\"}",
		 "suggestionId holds characters"},
		{"id too long",
		 "{\"suggestionId\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		 "suggestionId must be 1 to 64 bytes"},
		{"parent not object", "{\"parent\":\"x\"}",
		 "parent must be an object"},
		{"parent unknown key", "{\"parent\":{\"name\":\"Anna\"}}",
		 "parent: unknown key \"name\""},
		{"parent externalId space",
		 "{\"parent\":{\"externalId\":\"a b\"}}",
		 "parent.externalId holds characters"},
		{"children not array", "{\"children\":{}}",
		 "children must be an array"},
		{"child name CRLF",
		 "{\"children\":[{\"id\":\"c\",\"displayName\":\"E\\r\\nBcc: x@y.nl\"}]}",
		 "children[0].displayName holds characters"},
		{"child name NEL",
		 "{\"children\":[{\"id\":\"c\",\"displayName\":\"E\\u0085x\"}]}",
		 "children[0].displayName holds characters"},
		{"child name LS",
		 "{\"children\":[{\"id\":\"c\",\"displayName\":\"E\\u2028x\"}]}",
		 "children[0].displayName holds characters"},
		{"child without name", "{\"children\":[{\"id\":\"c\"}]}",
		 "children[0]: \"displayName\" is missing"},
		{"no changes", "{\"changes\":[]}", "changes must be an array of 1"},
		{"field not allowed",
		 "{\"changes\":[{\"field\":\"allergies\",\"old\":\"a\",\"new\":\"b\"}]}",
		 "changes[0].field is not a field the portal sends"},
		{"field repeated",
		 "{\"changes\":[{\"field\":\"locality\",\"old\":\"a\",\"new\":\"b\"},"
		 "{\"field\":\"locality\",\"old\":\"a\",\"new\":\"c\"}]}",
		 "changes[1].field repeats changes[0]"},
		{"value with tab",
		 "{\"changes\":[{\"field\":\"locality\",\"old\":\"a\",\"new\":\"b\\tc\"}]}",
		 "changes[0].new holds characters"},
		{"value too long",
		 "{\"changes\":[{\"field\":\"locality\",\"old\":\"a\",\"new\":\""
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}]}",
		 "changes[0].new must be 0 to 256 bytes"},
		{"old equals new",
		 "{\"changes\":[{\"field\":\"locality\",\"old\":\"a\",\"new\":\"a\"}]}",
		 "changes[0]: old and new are the same"},
		{"change missing new",
		 "{\"changes\":[{\"field\":\"locality\",\"old\":\"a\"}]}",
		 "changes[0]: \"new\" is missing"},
		{"bad time", "{\"submittedAt\":\"29-11-2026 08:20\"}",
		 "must be 20 to 40 bytes"},
		{"bad time 2", "{\"submittedAt\":\"2026-02-30T08:20:55Z\"}",
		 "submittedAt must be an RFC 3339 time"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = variant(cases[i].patch), err[256] = "";
		notifier_suggestion *s = notifier_suggestion_parse(
			body, strlen(body), err, sizeof(err));

		if (s != NULL || strstr(err, cases[i].want) == NULL)
			fail_msg("%s: got %s \"%s\", want refusal with \"%s\"",
				 cases[i].name, s ? "accepted" : "refused", err,
				 cases[i].want);
		assert_null(strstr(err, "Bcc"));
		free(body);
	}
}

static void test_r21_not_json(void **state)
{
	static const char *const bodies[] = {"", "{", "[1,2]", "null",
					     "{\"a\":1,\"a\":2}",
					     "{\"suggestionId\":\"06-12345678\""};
	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char err[256] = "";
		notifier_suggestion *s = notifier_suggestion_parse(
			bodies[i], strlen(bodies[i]), err, sizeof(err));

		assert_null(s);
		assert_true(err[0] != '\0');
		/* The position, never the text. */
		assert_null(strstr(err, "06-1234"));
	}
}

static void test_r9_owned_fields_per_vendor(void **state)
{
	static const struct {
		const char *field;
		bool parnassys, esis;
	} cases[] = {
		{"givenName", true, true},     {"nameInfix", true, true},
		{"familyName", true, true},    {"streetAddress", true, true},
		{"postalCode", true, true},    {"locality", true, true},
		{"phoneHome", true, true},     {"phoneMobile", true, true},
		{"email", true, true},	       {"emergencyPhone", false, true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const notifier_field *f = notifier_field_find(cases[i].field);

		assert_non_null(f);
		assert_non_null(f->label);
		if (notifier_field_owned(f, 1) != cases[i].parnassys ||
		    notifier_field_owned(f, 2) != cases[i].esis)
			fail_msg("%s: got owned %d/%d, want %d/%d",
				 cases[i].field, notifier_field_owned(f, 1),
				 notifier_field_owned(f, 2), cases[i].parnassys,
				 cases[i].esis);
	}
	assert_null(notifier_field_find("allergies"));
	assert_null(notifier_field_find("displayName"));
}

static void test_r9_suggestion_owned(void **state)
{
	char *body = variant("{\"changes\":[{\"field\":\"emergencyPhone\","
			     "\"old\":null,\"new\":\"112\"}]}");
	char err[256];
	notifier_suggestion *s =
		notifier_suggestion_parse(body, strlen(body), err, sizeof(err));

	(void)state;
	assert_non_null(s);
	assert_false(notifier_suggestion_owned(&s->msg, 1)); /* ParnasSys */
	assert_true(notifier_suggestion_owned(&s->msg, 2));  /* ESIS */
	notifier_suggestion_free(s);
	free(body);
}

static void test_value_digest_normalises(void **state)
{
	static const struct {
		const char *a, *b;
		bool same;
	} cases[] = {
		{"Dorpsstraat 1", "dorpsstraat 1", true},
		{"  Dorpsstraat   1 ", "Dorpsstraat 1", true},
		{"Dorpsstraat\t1", "Dorpsstraat 1", true},
		{"", NULL, true},
		{"1234 AB", "1234AB", false},
		{"06-1", "06-2", false},
	};
	char x[33], y[33], z[33];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		notifier_value_digest("t", "s", "f", cases[i].a, x);
		notifier_value_digest("t", "s", "f", cases[i].b, y);
		if ((strcmp(x, y) == 0) != cases[i].same)
			fail_msg("\"%s\" vs \"%s\": got same=%d, want %d",
				 cases[i].a, cases[i].b, strcmp(x, y) == 0,
				 cases[i].same);
	}
	/* Salted per suggestion: one value, two suggestions, two digests. */
	notifier_value_digest("t", "s1", "f", "06-1", x);
	notifier_value_digest("t", "s2", "f", "06-1", z);
	assert_string_not_equal(x, z);
}

static void test_parse_time(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t want;
	} cases[] = {
		{"1970-01-01T00:00:00Z", 0, 0},
		{"2026-11-29T08:20:55Z", 0, 1795940455000LL},
		{"2026-11-29T08:20:55.5Z", 0, 1795940455500LL},
		{"2026-11-29T08:20:55.123456Z", 0, 1795940455123LL},
		{"2026-11-29T09:20:55+01:00", 0, 1795940455000LL},
		{"2026-11-29T07:20:55-01:00", 0, 1795940455000LL},
		{"2026-11-29T08:20:55", -1, 0},
		{"2026-11-29 08:20:55Z", -1, 0},
		{"2026-11-29T24:00:00Z", -1, 0},
		{"2026-11-29T08:20:55.Z", -1, 0},
		{"2026-11-29T08:20:55+0100", -1, 0},
		{"2026-13-01T08:20:55Z", -1, 0},
		{"2026-11-29T08:20:55Zjunk", -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = 0;
		int rc = notifier_parse_time(cases[i].in, &got);

		if (rc != cases[i].rc || (rc == 0 && got != cases[i].want))
			fail_msg("%s: got rc %d ms %lld, want rc %d ms %lld",
				 cases[i].in, rc, (long long)got, cases[i].rc,
				 (long long)cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r21_valid_body),
		cmocka_unit_test(test_r21_malformed_bodies_are_refused),
		cmocka_unit_test(test_r21_not_json),
		cmocka_unit_test(test_r9_owned_fields_per_vendor),
		cmocka_unit_test(test_r9_suggestion_owned),
		cmocka_unit_test(test_value_digest_normalises),
		cmocka_unit_test(test_parse_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
