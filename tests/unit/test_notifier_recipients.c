/*
 * test_notifier_recipients.c - services/notifier/notifier_recipients.c:
 * R21's recipients - koppeling managers plus portal users holding the
 * entitlement melding-ouder-kindgegevens - from a SCIM ListResponse,
 * deduplicated ignoring case, anything not a plain address dropped.
 * The SCIM request itself runs against the portal in the e2e test.
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

#include "notifier.h"

static void test_r21_holders_from_a_page(void **state)
{
	const char *page =
		"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],"
		"\"totalResults\":7,\"startIndex\":1,\"itemsPerPage\":6,\"Resources\":["
		"{\"id\":\"1\",\"emails\":[{\"value\":\"home@x.nl\",\"type\":\"home\"},"
		"{\"value\":\"Prim@School.nl\",\"primary\":true}]},"
		"{\"id\":\"2\",\"emails\":[{\"value\":\"other@x.nl\",\"type\":\"other\"},"
		"{\"value\":\"work@school.nl\",\"type\":\"work\"}]},"
		"{\"id\":\"3\",\"emails\":[{\"value\":\"first@school.nl\"}]},"
		"{\"id\":\"4\",\"active\":false,\"emails\":[{\"value\":\"gone@school.nl\"}]},"
		"{\"id\":\"5\",\"emails\":[{\"value\":\"prim@school.nl\",\"primary\":true}]},"
		"{\"id\":\"6\",\"emails\":[{\"value\":\"x@y.nl\\r\\nBcc: z@evil.nl\"}]},"
		"{\"id\":\"7\"}]}";
	const char *want[] = {"Prim@School.nl", "work@school.nl",
			      "first@school.nl"};
	json_t *arr = json_array();
	long total = 0, got = 0;

	(void)state;
	assert_int_equal(notifier_recipients_page(page, strlen(page), arr,
						  &total, &got),
			 0);
	assert_int_equal(total, 7);
	assert_int_equal(got, 7);
	assert_int_equal(json_array_size(arr), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_array_get(arr, i)),
				    want[i]);
	json_decref(arr);
}

static void test_not_a_list_response(void **state)
{
	static const char *const bodies[] = {"", "{}", "{\"Resources\":[]}",
					     "{\"totalResults\":1}", "[1]"};
	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *arr = json_array();
		long total, got;

		assert_int_equal(notifier_recipients_page(bodies[i],
							  strlen(bodies[i]),
							  arr, &total, &got),
				 -1);
		json_decref(arr);
	}
}

static void test_r21_recipients_deduplicated_ignoring_case(void **state)
{
	const char *managers[] = {"ICT@delinde.nl", "ict@DeLinde.nl",
				  "directie@delinde.nl", "not an address",
				  "a@b.nl>"};
	const char *holders[] = {"directie@DELINDE.nl", "m.smit@delinde.nl"};
	const char *want[] = {"ICT@delinde.nl", "directie@delinde.nl",
			      "m.smit@delinde.nl"};
	json_t *arr = json_array();

	(void)state;
	notifier_recipients_dedupe(arr, managers, 5);
	notifier_recipients_dedupe(arr, holders, 2);
	assert_int_equal(json_array_size(arr), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_array_get(arr, i)),
				    want[i]);
	json_decref(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r21_holders_from_a_page),
		cmocka_unit_test(test_not_a_list_response),
		cmocka_unit_test(test_r21_recipients_deduplicated_ignoring_case),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
