/*
 * test_notifier_resolve.c - services/notifier/notifier_resolve.c: R21 "the
 * notifier follows lasync.portal-changes to mark a suggestion resolved once
 * the LAS value equals the suggested one".
 *
 * Each row is one change-set operation (as the mapper emits it: owned
 * paths, canonical JSON) against one open suggestion whose owned fields
 * are phoneMobile -> "06-87654321" and postalCode -> "1234 XY" (digests,
 * as the status keeps them) and whose emergencyPhone is not owned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_attr.h"
#include "notifier.h"

#define PARENT "parnassys:guardian:200001"

typedef Lasync__V1__SuggestionFieldState fstate;
typedef Lasync__V1__Attr attr;

static fstate f_mobile, f_postal, f_emergency;
static fstate *fields[] = {&f_mobile, &f_postal, &f_emergency};
static char d_mobile[33], d_postal[33], d_emergency[33];

static nstatus open_suggestion(bool mobile_matched)
{
	nstatus s = LASYNC__V1__NOTIFICATION_STATUS__INIT;
	fstate init = LASYNC__V1__SUGGESTION_FIELD_STATE__INIT;

	notifier_value_digest("delinde", "s-1", "phoneMobile", "06-87654321",
			      d_mobile);
	notifier_value_digest("delinde", "s-1", "postalCode", "1234 XY",
			      d_postal);
	notifier_value_digest("delinde", "s-1", "emergencyPhone", "112",
			      d_emergency);
	f_mobile = f_postal = f_emergency = init;
	f_mobile.field = (char *)"phoneMobile";
	f_mobile.owned = true;
	f_mobile.new_digest = d_mobile;
	f_mobile.matched = mobile_matched;
	f_postal.field = (char *)"postalCode";
	f_postal.owned = true;
	f_postal.new_digest = d_postal;
	f_emergency.field = (char *)"emergencyPhone";
	f_emergency.new_digest = d_emergency;
	s.tenant_id = (char *)"delinde";
	s.kind = (char *)"suggestion";
	s.ref = (char *)"s-1";
	s.parent_external_id = (char *)PARENT;
	s.fields = fields;
	s.n_fields = 3;
	return s;
}

#define MOBILE_NEW "{\"type\":\"mobile\",\"value\":\"06-87654321\"}"
#define MOBILE_OLD "{\"type\":\"mobile\",\"value\":\"06-12345678\"}"
#define ADDR_NEW                                                           \
	"{\"locality\":\"Utrecht\",\"postalCode\":\"1234 xy\","            \
	"\"streetAddress\":\"Lindelaan 12 B\",\"type\":\"home\"}"
#define ADDR_OLD                                                           \
	"{\"locality\":\"Utrecht\",\"postalCode\":\"1234 AB\","            \
	"\"streetAddress\":\"Lindelaan 12 B\",\"type\":\"home\"}"

static void test_r21_change_sets_resolve_suggestions(void **state)
{
	static const struct {
		const char *name;
		Lasync__V1__OpType type;
		const char *ext;
		const char *mobile, *addr; /* set values, NULL: not set */
		bool remove_mobile;
		bool mobile_matched_before;
		bool want_update, want_mobile, want_postal, want_resolved;
	} cases[] = {
		{"patch carries both", LASYNC__V1__OP_TYPE__OP_PATCH, PARENT,
		 MOBILE_NEW, ADDR_NEW, false, false, true, true, true, true},
		{"patch carries one", LASYNC__V1__OP_TYPE__OP_PATCH, PARENT,
		 MOBILE_NEW, NULL, false, false, true, true, false, false},
		{"second half later", LASYNC__V1__OP_TYPE__OP_PATCH, PARENT, NULL,
		 ADDR_NEW, false, true, true, true, true, true},
		{"patch re-asserts the old value (R9 dirty)",
		 LASYNC__V1__OP_TYPE__OP_PATCH, PARENT, MOBILE_OLD, ADDR_OLD,
		 false, false, false, false, false, false},
		{"patch about other paths says nothing",
		 LASYNC__V1__OP_TYPE__OP_PATCH, PARENT, NULL, NULL, false, false,
		 false, false, false, false},
		{"upsert with the values", LASYNC__V1__OP_TYPE__OP_UPSERT, PARENT,
		 MOBILE_NEW, ADDR_NEW, false, false, true, true, true, true},
		{"upsert without mobile: none, not suggested",
		 LASYNC__V1__OP_TYPE__OP_UPSERT, PARENT, NULL, ADDR_NEW, false,
		 false, true, false, true, false},
		{"remove: none", LASYNC__V1__OP_TYPE__OP_PATCH, PARENT, NULL, NULL,
		 true, false, false, false, false, false},
		{"another profile", LASYNC__V1__OP_TYPE__OP_PATCH,
		 "parnassys:guardian:200002", MOBILE_NEW, ADDR_NEW, false, false,
		 false, false, false, false},
		{"membership op", LASYNC__V1__OP_TYPE__OP_ADD_MEMBERS, PARENT,
		 MOBILE_NEW, ADDR_NEW, false, false, false, false, false, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nstatus st = open_suggestion(cases[i].mobile_matched_before);
		Lasync__V1__Operation op = LASYNC__V1__OPERATION__INIT;
		attr a[2] = {LASYNC__V1__ATTR__INIT, LASYNC__V1__ATTR__INIT};
		attr *set[2];
		char *rm[] = {(char *)LASYNC_A_PHONE_MOBILE};
		nstatus *upd;

		op.type = cases[i].type;
		op.resource = LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER;
		op.external_id = (char *)cases[i].ext;
		if (cases[i].mobile) {
			a[op.n_set].path = (char *)LASYNC_A_PHONE_MOBILE;
			a[op.n_set].json = (char *)cases[i].mobile;
			set[op.n_set] = &a[op.n_set];
			op.n_set++;
		}
		if (cases[i].addr) {
			a[op.n_set].path = (char *)LASYNC_A_ADDR_HOME;
			a[op.n_set].json = (char *)cases[i].addr;
			set[op.n_set] = &a[op.n_set];
			op.n_set++;
		}
		op.set = set;
		if (cases[i].remove_mobile) {
			op.remove = rm;
			op.n_remove = 1;
		}
		upd = notifier_resolve_op(&st, &op, 777);
		if ((upd != NULL) != cases[i].want_update)
			fail_msg("%s: got update %d, want %d", cases[i].name,
				 upd != NULL, cases[i].want_update);
		if (upd == NULL)
			continue;
		assert_string_equal(upd->ref, "s-1");
		assert_int_equal(upd->n_fields, 3);
		if (upd->fields[0]->matched != cases[i].want_mobile ||
		    upd->fields[1]->matched != cases[i].want_postal ||
		    (upd->resolved_at_ms == 777) != cases[i].want_resolved)
			fail_msg("%s: got mobile %d postal %d resolved %lld",
				 cases[i].name, upd->fields[0]->matched,
				 upd->fields[1]->matched,
				 (long long)upd->resolved_at_ms);
		assert_false(upd->fields[2]->matched);
		notifier_resolve_free(upd);
	}
}

static void test_resolved_suggestion_is_left_alone(void **state)
{
	nstatus st = open_suggestion(false);
	Lasync__V1__Operation op = LASYNC__V1__OPERATION__INIT;
	attr a = LASYNC__V1__ATTR__INIT, *set[] = {&a};

	(void)state;
	st.resolved_at_ms = 5;
	op.type = LASYNC__V1__OP_TYPE__OP_PATCH;
	op.resource = LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER;
	op.external_id = (char *)PARENT;
	a.path = (char *)LASYNC_A_PHONE_MOBILE;
	a.json = (char *)MOBILE_NEW;
	op.set = set;
	op.n_set = 1;
	assert_null(notifier_resolve_op(&st, &op, 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r21_change_sets_resolve_suggestions),
		cmocka_unit_test(test_resolved_suggestion_is_left_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
