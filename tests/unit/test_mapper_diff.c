/*
 * test_mapper_diff.c - services/mapper/mapper_diff.c: desired state vs
 * expected state -> ordered operations and the next expected state.
 *
 * Each row gives the desired and expected states as resource specs (the
 * expected state NULL for reconcile), the flags, the operations wanted (one
 * line each, in change-set order) and the next expected state wanted (a
 * dump), so a failure prints the whole got/want.
 *
 * Resource spec: "U|G externalId|path=json;...|member/U,member/G"
 * Operation line: "<stage> <TYPE> <U|G> <externalId>[ set p=v;...]
 *                  [ remove p,...][ members m/U,...][ keep kind,...]"
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_mem.h"
#include "lasync_state.h"
#include "mapper_diff.h"

#define MAX_RES 12

/* Table paths, short. */
#define ACT "active"
#define GIV "name.givenName"
#define FAM "name.familyName"
#define KND "urn:lasync:scim:school:1.0:User:kind"
#define EMH "emails[type eq \"home\"]"
#define EMW "emails[type eq \"work\"]"
#define ROL "roles"
#define DSP "displayName"
#define ORP "urn:lasync:scim:school:1.0:Group:lasOrphaned"
#define PSA "urn:lasync:scim:school:1.0:Group:parentsSeeAllYearGroups"
#define YRS "urn:lasync:scim:school:1.0:Group:yearLevels"

/* The example school every row starts from. */
#define G3B_ATTRS DSP "=\"Groep 3B\";" ORP "=false;" PSA "=false"
#define G3B "G|ps:jaargroep:3B|" G3B_ATTRS "|"
#define S1 "U|ps:student:1|" ACT "=true;" GIV "=\"Emma\";" KND "=\"student\"|"
#define S2 "U|ps:student:2|" ACT "=true;" GIV "=\"Tim\";" KND "=\"student\"|"
#define S2_OFF \
	"U|ps:student:2|" ACT "=false;" GIV "=\"Tim\";" KND "=\"student\"|"
#define MAIL_A "{\"type\":\"home\",\"value\":\"a@b.nl\"}"
#define MAIL_B "{\"type\":\"home\",\"value\":\"b@b.nl\"}"
#define P9 "U|ps:guardian:9|" ACT "=true;" KND "=\"guardian\"|"
#define P9_MAIL \
	"U|ps:guardian:9|" ACT "=true;" EMH "=" MAIL_A ";" KND "=\"guardian\"|"
#define ROLE_L "[{\"value\":\"Leerkracht\"}]"
#define T7 \
	"U|ps:staff:7|" ACT "=true;" ROL "=" ROLE_L ";" KND "=\"staff\"|"
#define T8 \
	"U|ps:staff:8|" ACT "=true;" ROL "=" ROLE_L ";" KND "=\"staff\"|"

/* Dumps of the same, as the next state prints them (attributes sorted). */
#define D_G3B "G ps:jaargroep:3B " DSP "=\"Groep 3B\";" ORP "=false;" PSA "=false"
#define D_S1 "U ps:student:1 " ACT "=true;" GIV "=\"Emma\";" KND "=\"student\""
#define D_S2 "U ps:student:2 " ACT "=true;" GIV "=\"Tim\";" KND "=\"student\""
#define D_S2_OFF \
	"U ps:student:2 " ACT "=false;" GIV "=\"Tim\";" KND "=\"student\""
#define D_P9 "U ps:guardian:9 " ACT "=true;" KND "=\"guardian\""
#define D_P9_MAIL \
	"U ps:guardian:9 " ACT "=true;" EMH "=" MAIL_A ";" KND "=\"guardian\""
#define D_T7 "U ps:staff:7 " ACT "=true;" ROL "=" ROLE_L ";" KND "=\"staff\""
#define D_T8 "U ps:staff:8 " ACT "=true;" ROL "=" ROLE_L ";" KND "=\"staff\""

#define SAME_AS_DESIRED "=desired"

typedef struct diff_case {
	const char *name;
	const char *desired[MAX_RES];
	const char *expected[MAX_RES];
	bool reconcile;		/* expected = NULL */
	bool full;
	bool no_staff_links;	/* link_staff = false (R12) */
	const char *want_ops;	/* lines, in order */
	const char *want_next;	/* dump, or SAME_AS_DESIRED */
} diff_case;

/* ---------- helpers ---------- */

/* add_spec - add one resource from "T|id|p=v;p=v|m/T,m/T" */
static void add_spec(lasync_state *st, const char *spec)
{
	char buf[2048], *f[4] = {NULL, NULL, NULL, NULL}, *save = NULL;
	size_t n = 0;

	lasync_strlcpy(buf, spec, sizeof(buf));
	for (char *p = buf; n < 4; n++) {
		f[n] = p;
		p = strchr(p, '|');
		if (p == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	lasync_sres *r = lasync_state_resource(
		st, f[0][0] == 'G' ? LASYNC_RES_GROUP : LASYNC_RES_USER, f[1]);

	if (f[2] != NULL)
		for (char *kv = strtok_r(f[2], ";", &save); kv != NULL;
		     kv = strtok_r(NULL, ";", &save)) {
			char *eq = strchr(kv, '=');

			*eq = '\0';
			lasync_state_set(r, kv, eq + 1);
		}
	if (f[3] != NULL)
		for (char *m = strtok_r(f[3], ",", &save); m != NULL;
		     m = strtok_r(NULL, ",", &save)) {
			char *c = strrchr(m, '/');

			*c = '\0';
			lasync_state_member(r, m,
					    c[1] == 'G' ? LASYNC_RES_GROUP
							: LASYNC_RES_USER);
		}
}

static lasync_state *build(const char *const *specs)
{
	lasync_state *st = lasync_state_new("t1");

	for (size_t i = 0; i < MAX_RES && specs[i] != NULL; i++)
		add_spec(st, specs[i]);
	lasync_state_finish(st);
	return st;
}

/* out - a growing text */
typedef struct out {
	char *p;
	size_t len, cap;
} out;

static void outf(out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void outf(out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < o->cap - o->len)
			break;
		o->cap = (o->cap + (size_t)n + 1) * 2;
		o->p = lasync_xrealloc(o->p, o->cap);
	}
	o->len += (size_t)n;
}

static out out_new(void)
{
	out o = {lasync_xmalloc(256), 0, 256};

	o.p[0] = '\0';
	return o;
}

/* dump_state - resources in order, without the header line */
static char *dump_state(const lasync_state *st)
{
	out o = out_new();

	for (size_t i = 0; i < st->n_res; i++) {
		const lasync_sres *r = st->res[i];

		outf(&o, "%c %s", r->type == LASYNC_RES_GROUP ? 'G' : 'U',
		     r->external_id);
		for (size_t j = 0; j < r->n_attrs; j++)
			outf(&o, "%s%s=%s", j ? ";" : " ", r->attrs[j].path,
			     r->attrs[j].json);
		for (size_t j = 0; j < r->n_members; j++)
			outf(&o, "%s%s/%c", j ? "," : " | ",
			     r->members[j].external_id,
			     r->members[j].type == LASYNC_RES_GROUP ? 'G'
								    : 'U');
		outf(&o, "\n");
	}
	return o.p;
}

static const char *op_type_name(Lasync__V1__OpType t)
{
	switch (t) {
	case LASYNC__V1__OP_TYPE__OP_UPSERT:
		return "UPSERT";
	case LASYNC__V1__OP_TYPE__OP_PATCH:
		return "PATCH";
	case LASYNC__V1__OP_TYPE__OP_ADD_MEMBERS:
		return "ADD_MEMBERS";
	case LASYNC__V1__OP_TYPE__OP_REMOVE_MEMBERS:
		return "REMOVE_MEMBERS";
	case LASYNC__V1__OP_TYPE__OP_SET_MEMBERS:
		return "SET_MEMBERS";
	case LASYNC__V1__OP_TYPE__OP_PRUNE_MEMBERS:
		return "PRUNE_MEMBERS";
	default:
		return "?";
	}
}

static char *dump_ops(const mapper_ops *ops)
{
	out o = out_new();

	for (size_t i = 0; i < ops->n; i++) {
		const Lasync__V1__Operation *op = ops->ops[i];

		outf(&o, "%u %s %c %s", op->stage, op_type_name(op->type),
		     op->resource == LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP
			     ? 'G'
			     : 'U',
		     op->external_id);
		for (size_t j = 0; j < op->n_set; j++)
			outf(&o, "%s%s=%s", j ? ";" : " set ", op->set[j]->path,
			     op->set[j]->json);
		for (size_t j = 0; j < op->n_remove; j++)
			outf(&o, "%s%s", j ? "," : " remove ", op->remove[j]);
		for (size_t j = 0; j < op->n_members; j++)
			outf(&o, "%s%s/%c", j ? "," : " members ",
			     op->members[j]->external_id,
			     op->members[j]->type ==
					     LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP
				     ? 'G'
				     : 'U');
		if (op->n_members == 0 &&
		    op->type == LASYNC__V1__OP_TYPE__OP_SET_MEMBERS)
			outf(&o, " members -");
		for (size_t j = 0; j < op->n_keep_kinds; j++)
			outf(&o, "%s%s", j ? "," : " keep ", op->keep_kinds[j]);
		outf(&o, "\n");
	}
	return o.p;
}

/* run_diff - diff one row with generation gen; the caller frees */
static lasync_state *run_diff(const diff_case *c, int64_t gen,
			      const char *tenant, mapper_ops *ops,
			      lasync_state **desired, lasync_state **expected)
{
	mapper_diff_in in = {0};

	*desired = build(c->desired);
	*expected = c->reconcile ? NULL : build(c->expected);
	in.tenant_id = tenant;
	in.vendor = 1;
	in.generation = gen;
	in.desired = *desired;
	in.expected = *expected;
	in.full = c->full;
	in.link_staff = !c->no_staff_links;
	return mapper_diff(&in, ops);
}

/* check_case - run a row and compare operations and next state */
static void check_case(const diff_case *c)
{
	lasync_state *d, *e, *next;
	mapper_ops ops;
	char *got_ops, *got_next, *want_next;
	bool bad = false;

	next = run_diff(c, 1000, "t1", &ops, &d, &e);
	got_ops = dump_ops(&ops);
	got_next = dump_state(next);
	want_next = strcmp(c->want_next, SAME_AS_DESIRED) == 0
			    ? dump_state(d)
			    : lasync_xstrdup(c->want_next);
	if (strcmp(got_ops, c->want_ops) != 0) {
		print_error("%s: operations:\ngot:\n%s\nwant:\n%s\n", c->name,
			    got_ops, c->want_ops);
		bad = true;
	}
	if (strcmp(got_next, want_next) != 0) {
		print_error("%s: next expected state:\ngot:\n%s\nwant:\n%s\n",
			    c->name, got_next, want_next);
		bad = true;
	}
	if (next->generation != 1000 || !next->sorted ||
	    !lasync_streq(next->tenant_id, "t1")) {
		print_error("%s: next state gen=%lld sorted=%d tenant=%s, want "
			    "1000, 1, t1\n",
			    c->name, (long long)next->generation, next->sorted,
			    next->tenant_id ? next->tenant_id : "(null)");
		bad = true;
	}
	if (ops.counts.ops_total != ops.n) {
		print_error("%s: counts.ops_total %u, want %zu\n", c->name,
			    ops.counts.ops_total, ops.n);
		bad = true;
	}
	for (size_t i = 0; i < ops.n; i++) {
		if (ops.ops[i]->op_id == NULL ||
		    strlen(ops.ops[i]->op_id) != 32) {
			print_error("%s: op %zu has id %s, want 32 hex\n",
				    c->name, i,
				    ops.ops[i]->op_id ? ops.ops[i]->op_id
						      : "(null)");
			bad = true;
		}
	}
	free(got_ops);
	free(got_next);
	free(want_next);
	mapper_ops_free(&ops);
	lasync_state_free(next);
	lasync_state_free(d);
	lasync_state_free(e);
	if (bad)
		fail();
}

#define RUN(rows)                                                     \
	do {                                                          \
		for (size_t i_ = 0; i_ < sizeof(rows) / sizeof(rows[0]); \
		     i_++)                                            \
			check_case(&rows[i_]);                        \
	} while (0)

/* ---------- incremental ---------- */

static const diff_case incremental_cases[] = {
	{"no_ops_when_desired_equals_expected",
	 {G3B "ps:student:1/U,ps:student:2/U,ps:staff:7/U", S1, S2, P9_MAIL,
	  T7},
	 {G3B "ps:student:1/U,ps:student:2/U,ps:staff:7/U", S1, S2, P9_MAIL,
	  T7},
	 false, false, false, "", SAME_AS_DESIRED},
	{"empty_both", {NULL}, {NULL}, false, false, false, "", ""},
	{"new_student_upserted_with_everything",
	 {S1, S2}, {S1}, false, false, false,
	 "2 UPSERT U ps:student:2 set " ACT "=true;" GIV "=\"Tim\";" KND
	 "=\"student\"\n",
	 SAME_AS_DESIRED},
	{"new_guardian_at_stage_3",
	 {S1, P9_MAIL}, {S1}, false, false, false,
	 "3 UPSERT U ps:guardian:9 set " ACT "=true;" EMH "=" MAIL_A ";" KND
	 "=\"guardian\"\n",
	 SAME_AS_DESIRED},
	{"new_staff_upsert_includes_create_only_role",
	 {T7}, {NULL}, false, false, false,
	 "2 UPSERT U ps:staff:7 set " ACT "=true;" ROL "=" ROLE_L ";" KND
	 "=\"staff\"\n",
	 SAME_AS_DESIRED},
	{"new_group_upserted_and_members_added",
	 {G3B "ps:student:1/U,ps:staff:7/U", S1, T7}, {S1, T7}, false, false,
	 false,
	 "1 UPSERT G ps:jaargroep:3B set " DSP "=\"Groep 3B\";" ORP "=false;"
	 PSA "=false\n"
	 "4 ADD_MEMBERS G ps:jaargroep:3B members ps:staff:7/U,"
	 "ps:student:1/U\n",
	 SAME_AS_DESIRED},
	{"changed_strong_attr_patched_with_absolute_value",
	 {"U|ps:student:1|" ACT "=true;" GIV "=\"Em\";" KND "=\"student\"|"},
	 {S1}, false, false, false,
	 "2 PATCH U ps:student:1 set " GIV "=\"Em\"\n", SAME_AS_DESIRED},
	{"strong_attr_gone_patched_remove",
	 {S1},
	 {"U|ps:student:1|" ACT "=true;" FAM "=\"Jansen\";" GIV "=\"Emma\";"
	  KND "=\"student\"|"},
	 false, false, false, "2 PATCH U ps:student:1 remove " FAM "\n",
	 SAME_AS_DESIRED},
	{"set_and_remove_in_one_patch",
	 {"U|ps:student:1|" ACT "=true;" GIV "=\"Em\";" KND "=\"student\"|"},
	 {"U|ps:student:1|" ACT "=true;" FAM "=\"Jansen\";" GIV "=\"Emma\";"
	  KND "=\"student\"|"},
	 false, false, false,
	 "2 PATCH U ps:student:1 set " GIV "=\"Em\" remove " FAM "\n",
	 SAME_AS_DESIRED},
	{"guardian_patch_at_stage_3",
	 {"U|ps:guardian:9|" ACT "=true;" EMH "=" MAIL_B ";" KND
	  "=\"guardian\"|"},
	 {P9_MAIL}, false, false, false,
	 "3 PATCH U ps:guardian:9 set " EMH "=" MAIL_B "\n", SAME_AS_DESIRED},
	{"group_attr_changed",
	 {"G|ps:jaargroep:3B|" DSP "=\"Groep 3b\";" ORP "=false;" PSA
	  "=false;" YRS "=[\"3\"]|"},
	 {G3B}, false, false, false,
	 "1 PATCH G ps:jaargroep:3B set " DSP "=\"Groep 3b\";" YRS
	 "=[\"3\"]\n",
	 SAME_AS_DESIRED},
	{"not_owned_path_never_written",
	 {"U|ps:student:1|" ACT "=true;" GIV "=\"Emma\";" KND
	  "=\"student\";urn:example:portal:1.0:User:allergies=\"x\"|"},
	 {S1}, false, false, false, "",
	 SAME_AS_DESIRED},
};

static void test_incremental(void **state)
{
	(void)state;
	RUN(incremental_cases);
}

/* R7: a missing LAS e-mail never removes the portal's, and the expected
 * state keeps knowing it (so it is not re-sent when it comes back equal) */
static const diff_case r7_cases[] = {
	{"guardian_email_gone_no_op_kept",
	 {P9}, {P9_MAIL}, false, false, false, "", D_P9_MAIL "\n"},
	{"staff_email_gone_no_op_kept",
	 {T7},
	 {"U|ps:staff:7|" ACT "=true;" EMW "={\"type\":\"work\",\"value\":"
	  "\"j@s.nl\"};" ROL "=" ROLE_L ";" KND "=\"staff\"|"},
	 false, false, false, "",
	 "U ps:staff:7 " ACT "=true;" EMW
	 "={\"type\":\"work\",\"value\":\"j@s.nl\"};" ROL "=" ROLE_L ";" KND
	 "=\"staff\"\n"},
	{"email_back_equal_no_op",
	 {P9_MAIL}, {P9_MAIL}, false, false, false, "", D_P9_MAIL "\n"},
	{"email_changed_replaced",
	 {"U|ps:guardian:9|" ACT "=true;" EMH "=" MAIL_B ";" KND
	  "=\"guardian\"|"},
	 {P9_MAIL}, false, false, false,
	 "3 PATCH U ps:guardian:9 set " EMH "=" MAIL_B "\n", SAME_AS_DESIRED},
	{"email_gone_full_sync_kept",
	 {P9}, {P9_MAIL}, false, true, false,
	 "3 UPSERT U ps:guardian:9 set " ACT "=true;" KND "=\"guardian\"\n"
	 "4 PRUNE_MEMBERS G lasync:prune\n",
	 D_P9_MAIL "\n"},
};

static void test_r7_email_sticky_kept(void **state)
{
	(void)state;
	RUN(r7_cases);
}

/* R11/R14: create-only values are set by UPSERT, never patched */
static const diff_case create_only_cases[] = {
	{"role_changed_not_patched",
	 {T7},
	 {"U|ps:staff:7|" ACT "=true;" ROL "=[{\"value\":\"Directie\"}];" KND
	  "=\"staff\"|"},
	 false, false, false, "", SAME_AS_DESIRED},
	{"parents_see_all_changed_not_patched",
	 {G3B}, {"G|ps:jaargroep:3B|" DSP "=\"Groep 3B\";" ORP "=false;" PSA
		 "=true|"},
	 false, false, false, "", SAME_AS_DESIRED},
	{"role_gone_not_removed",
	 {"U|ps:staff:7|" ACT "=true;" KND "=\"staff\"|"}, {T7}, false, false,
	 false, "", D_T7 "\n"},
};

static void test_create_only_never_patched(void **state)
{
	(void)state;
	RUN(create_only_cases);
}

/* R16: a leaver is deactivated once (stage 5) and kept, never deleted;
 * a returning one is reactivated */
static const diff_case r16_cases[] = {
	{"student_leaver_deactivated_and_out_of_groups",
	 {G3B "ps:student:1/U", S1},
	 {G3B "ps:student:1/U,ps:student:2/U", S1, S2},
	 false, false, false,
	 "4 REMOVE_MEMBERS G ps:jaargroep:3B members ps:student:2/U\n"
	 "5 PATCH U ps:student:2 set " ACT "=false\n",
	 D_S1 "\n" D_S2_OFF "\n" D_G3B " | ps:student:1/U\n"},
	{"already_inactive_not_again",
	 {G3B "ps:student:1/U", S1}, {G3B "ps:student:1/U", S1, S2_OFF},
	 false, false, false, "",
	 D_S1 "\n" D_S2_OFF "\n" D_G3B " | ps:student:1/U\n"},
	{"staff_and_guardian_leavers",
	 {S1}, {S1, P9_MAIL, T7}, false, false, false,
	 "5 PATCH U ps:guardian:9 set " ACT "=false\n"
	 "5 PATCH U ps:staff:7 set " ACT "=false\n",
	 "U ps:guardian:9 " ACT "=false;" EMH "=" MAIL_A ";" KND
	 "=\"guardian\"\n"
	 "U ps:staff:7 " ACT "=false;" ROL "=" ROLE_L ";" KND "=\"staff\"\n"
	 D_S1 "\n"},
	{"leaver_without_active_value_deactivated",
	 {NULL}, {"U|ps:student:5|" GIV "=\"X\"|"}, false, false, false,
	 "5 PATCH U ps:student:5 set " ACT "=false\n",
	 "U ps:student:5 " ACT "=false;" GIV "=\"X\"\n"},
	{"leaver_in_full_sync_deactivated",
	 {S1}, {S1, S2}, false, true, false,
	 "2 UPSERT U ps:student:1 set " ACT "=true;" GIV "=\"Emma\";" KND
	 "=\"student\"\n"
	 "4 PRUNE_MEMBERS G lasync:prune\n"
	 "5 PATCH U ps:student:2 set " ACT "=false\n",
	 D_S1 "\n" D_S2_OFF "\n"},
	{"returning_user_reactivated",
	 {S1, S2}, {S1, S2_OFF}, false, false, false,
	 "2 PATCH U ps:student:2 set " ACT "=true\n", SAME_AS_DESIRED},
};

static void test_r16_leaver_deactivated_never_deleted(void **state)
{
	(void)state;
	RUN(r16_cases);
}

/* deactivation is counted (the R17 guard works from it) */
static void test_r16_deactivations_counted(void **state)
{
	static const diff_case c = {
		"counts", {S1}, {S1, S2, P9, "U|ps:student:3|" ACT "=false|"},
		false, false, false, NULL, NULL};
	lasync_state *d, *e, *next;
	mapper_ops ops;

	(void)state;
	next = run_diff(&c, 1, "t1", &ops, &d, &e);
	if (ops.deactivations != 2 || ops.counts.users_deactivated != 2) {
		print_error("got deactivations=%zu users_deactivated=%u, want "
			    "2 and 2\n",
			    ops.deactivations, ops.counts.users_deactivated);
		fail();
	}
	mapper_ops_free(&ops);
	lasync_state_free(next);
	lasync_state_free(d);
	lasync_state_free(e);
}

/* R5: a group that no longer maps to anything is marked lasOrphaned and
 * loses its LAS members; it is never deleted */
static const diff_case r5_cases[] = {
	{"orphaned_group_not_deleted",
	 {S1, T7},
	 {G3B "ps:student:1/U,ps:staff:7/U,ps:samengesteld:x/G", S1, T7},
	 false, false, false,
	 "1 PATCH G ps:jaargroep:3B set " ORP "=true\n"
	 "4 REMOVE_MEMBERS G ps:jaargroep:3B members "
	 "ps:samengesteld:x/G,ps:staff:7/U,ps:student:1/U\n",
	 D_T7 "\n" D_S1 "\n"
	 "G ps:jaargroep:3B " DSP "=\"Groep 3B\";" ORP "=true;" PSA
	 "=false\n"},
	{"orphaned_again_no_ops",
	 {S1},
	 {"G|ps:jaargroep:3B|" DSP "=\"Groep 3B\";" ORP "=true;" PSA
	  "=false|",
	  S1},
	 false, false, false, "",
	 D_S1 "\n"
	 "G ps:jaargroep:3B " DSP "=\"Groep 3B\";" ORP "=true;" PSA
	 "=false\n"},
	{"orphaned_group_returns",
	 {G3B "ps:student:1/U", S1},
	 {"G|ps:jaargroep:3B|" DSP "=\"Groep 3B\";" ORP "=true;" PSA
	  "=false|",
	  S1},
	 false, false, false,
	 "1 PATCH G ps:jaargroep:3B set " ORP "=false\n"
	 "4 ADD_MEMBERS G ps:jaargroep:3B members ps:student:1/U\n",
	 SAME_AS_DESIRED},
	{"orphaned_in_full_sync",
	 {S1}, {G3B "ps:student:1/U", S1}, false, true, false,
	 "1 PATCH G ps:jaargroep:3B set " ORP "=true\n"
	 "2 UPSERT U ps:student:1 set " ACT "=true;" GIV "=\"Emma\";" KND
	 "=\"student\"\n"
	 "4 PRUNE_MEMBERS G lasync:prune\n"
	 "4 REMOVE_MEMBERS G ps:jaargroep:3B members ps:student:1/U\n",
	 D_S1 "\n"
	 "G ps:jaargroep:3B " DSP "=\"Groep 3B\";" ORP "=true;" PSA
	 "=false\n"},
};

static void test_r5_orphaned_group_not_deleted(void **state)
{
	(void)state;
	RUN(r5_cases);
}

/* memberships: added and removed one by one, by (externalId, type) */
static const diff_case member_cases[] = {
	{"add_and_remove",
	 {G3B "ps:student:1/U,ps:student:3/U", S1},
	 {G3B "ps:student:1/U,ps:student:2/U", S1}, false, false, false,
	 "4 ADD_MEMBERS G ps:jaargroep:3B members ps:student:3/U\n"
	 "4 REMOVE_MEMBERS G ps:jaargroep:3B members ps:student:2/U\n",
	 SAME_AS_DESIRED},
	{"group_members_of_a_composite",
	 {"G|ps:samengesteld:1/2A|" DSP "=\"1/2A\"|ps:jaargroep:1A/G,"
	  "ps:jaargroep:2A/G"},
	 {"G|ps:samengesteld:1/2A|" DSP "=\"1/2A\"|ps:jaargroep:1A/G"},
	 false, false, false,
	 "4 ADD_MEMBERS G ps:samengesteld:1/2A members ps:jaargroep:2A/G\n",
	 SAME_AS_DESIRED},
	{"same_id_other_type_is_another_member",
	 {"G|g|" DSP "=\"g\"|x:y:1/G"}, {"G|g|" DSP "=\"g\"|x:y:1/U"}, false,
	 false, false,
	 "4 ADD_MEMBERS G g members x:y:1/G\n"
	 "4 REMOVE_MEMBERS G g members x:y:1/U\n",
	 SAME_AS_DESIRED},
	{"several_groups_sorted_by_id",
	 {"G|b|" DSP "=\"b\"|s:student:1/U", "G|a|" DSP "=\"a\"|s:student:1/U"},
	 {"G|b|" DSP "=\"b\"|", "G|a|" DSP "=\"a\"|"}, false, false, false,
	 "4 ADD_MEMBERS G a members s:student:1/U\n"
	 "4 ADD_MEMBERS G b members s:student:1/U\n",
	 SAME_AS_DESIRED},
};

static void test_memberships(void **state)
{
	(void)state;
	RUN(member_cases);
}

/* R12: with link_staff_to_groups=false no staff membership is ever added
 * or removed, in any mode */
static const diff_case r12_cases[] = {
	{"incremental_staff_untouched",
	 {G3B "ps:student:1/U,ps:staff:8/U,ps:student:3/U", S1},
	 {G3B "ps:student:1/U,ps:staff:7/U,ps:student:2/U", S1}, false, false,
	 true,
	 "4 ADD_MEMBERS G ps:jaargroep:3B members ps:student:3/U\n"
	 "4 REMOVE_MEMBERS G ps:jaargroep:3B members ps:student:2/U\n",
	 SAME_AS_DESIRED},
	{"only_staff_differs_no_ops",
	 {G3B "ps:student:1/U,ps:staff:8/U", S1},
	 {G3B "ps:student:1/U,ps:staff:7/U", S1}, false, false, true, "",
	 SAME_AS_DESIRED},
	{"new_group_staff_not_added",
	 {G3B "ps:staff:7/U,ps:student:1/U", S1}, {S1}, false, false, true,
	 "1 UPSERT G ps:jaargroep:3B set " DSP "=\"Groep 3B\";" ORP "=false;"
	 PSA "=false\n"
	 "4 ADD_MEMBERS G ps:jaargroep:3B members ps:student:1/U\n",
	 SAME_AS_DESIRED},
	{"orphaned_group_staff_not_removed",
	 {S1}, {G3B "ps:staff:7/U,ps:student:1/U", S1}, false, false, true,
	 "1 PATCH G ps:jaargroep:3B set " ORP "=true\n"
	 "4 REMOVE_MEMBERS G ps:jaargroep:3B members ps:student:1/U\n",
	 D_S1 "\n"
	 "G ps:jaargroep:3B " DSP "=\"Groep 3B\";" ORP "=true;" PSA
	 "=false\n"},
	{"staff_leaver_out_of_groups_not_by_us",
	 {G3B "ps:student:1/U", S1}, {G3B "ps:student:1/U,ps:staff:7/U", S1,
				     T7},
	 false, false, true,
	 "5 PATCH U ps:staff:7 set " ACT "=false\n",
	 "U ps:staff:7 " ACT "=false;" ROL "=" ROLE_L ";" KND "=\"staff\"\n"
	 D_S1 "\n" D_G3B " | ps:student:1/U\n"},
	{"reconcile_set_members_keeps_staff",
	 {G3B "ps:staff:7/U,ps:student:1/U", S1}, {NULL}, true, false, true,
	 "1 UPSERT G ps:jaargroep:3B set " DSP "=\"Groep 3B\";" ORP "=false;"
	 PSA "=false\n"
	 "2 UPSERT U ps:student:1 set " ACT "=true;" GIV "=\"Emma\";" KND
	 "=\"student\"\n"
	 "4 PRUNE_MEMBERS G lasync:prune\n"
	 "4 SET_MEMBERS G ps:jaargroep:3B members ps:student:1/U keep staff\n",
	 SAME_AS_DESIRED},
	/* the same rows with link_staff_to_groups=true do touch staff */
	{"linked_staff_follow_the_las",
	 {G3B "ps:student:1/U,ps:staff:8/U", S1},
	 {G3B "ps:student:1/U,ps:staff:7/U", S1}, false, false, false,
	 "4 ADD_MEMBERS G ps:jaargroep:3B members ps:staff:8/U\n"
	 "4 REMOVE_MEMBERS G ps:jaargroep:3B members ps:staff:7/U\n",
	 SAME_AS_DESIRED},
};

static void test_r12_staff_memberships_untouched(void **state)
{
	(void)state;
	RUN(r12_cases);
}

/* reconcile: no expected state, or a full sync */
static const diff_case reconcile_cases[] = {
	{"no_expected_state_upserts_all_and_sets_members",
	 {G3B "ps:student:1/U,ps:student:2/U,ps:staff:7/U",
	  "G|ps:jaargroep:4A|" DSP "=\"Groep 4A\"|", S1, S2, P9_MAIL, T7},
	 {NULL}, true, false, false,
	 "1 UPSERT G ps:jaargroep:3B set " DSP "=\"Groep 3B\";" ORP "=false;"
	 PSA "=false\n"
	 "1 UPSERT G ps:jaargroep:4A set " DSP "=\"Groep 4A\"\n"
	 "2 UPSERT U ps:staff:7 set " ACT "=true;" ROL "=" ROLE_L ";" KND
	 "=\"staff\"\n"
	 "2 UPSERT U ps:student:1 set " ACT "=true;" GIV "=\"Emma\";" KND
	 "=\"student\"\n"
	 "2 UPSERT U ps:student:2 set " ACT "=true;" GIV "=\"Tim\";" KND
	 "=\"student\"\n"
	 "3 UPSERT U ps:guardian:9 set " ACT "=true;" EMH "=" MAIL_A ";" KND
	 "=\"guardian\"\n"
	 "4 PRUNE_MEMBERS G lasync:prune\n"
	 "4 SET_MEMBERS G ps:jaargroep:3B members ps:staff:7/U,"
	 "ps:student:1/U,ps:student:2/U\n"
	 "4 SET_MEMBERS G ps:jaargroep:4A members -\n",
	 SAME_AS_DESIRED},
	{"no_expected_state_empty_desired", {NULL}, {NULL}, true, false, false,
	 "", ""},
	{"full_with_expected_upserts_all_plus_deactivations",
	 {G3B "ps:student:1/U", S1},
	 {G3B "ps:student:1/U,ps:student:2/U",
	  "G|ps:jaargroep:4A|" DSP "=\"Groep 4A\";" ORP "=false|ps:student:2/U",
	  S1, S2},
	 false, true, false,
	 "1 UPSERT G ps:jaargroep:3B set " DSP "=\"Groep 3B\";" ORP "=false;"
	 PSA "=false\n"
	 "1 PATCH G ps:jaargroep:4A set " ORP "=true\n"
	 "2 UPSERT U ps:student:1 set " ACT "=true;" GIV "=\"Emma\";" KND
	 "=\"student\"\n"
	 "4 PRUNE_MEMBERS G lasync:prune\n"
	 "4 SET_MEMBERS G ps:jaargroep:3B members ps:student:1/U\n"
	 "4 REMOVE_MEMBERS G ps:jaargroep:4A members ps:student:2/U\n"
	 "5 PATCH U ps:student:2 set " ACT "=false\n",
	 D_S1 "\n" D_S2_OFF "\n" D_G3B " | ps:student:1/U\n"
	 "G ps:jaargroep:4A " DSP "=\"Groep 4A\";" ORP "=true\n"},
};

static void test_reconcile(void **state)
{
	(void)state;
	RUN(reconcile_cases);
}

/* ---------- operation ids and order ---------- */

static const diff_case busy = {
	"busy",
	{G3B "ps:student:1/U,ps:student:3/U",
	 "U|ps:student:1|" ACT "=true;" GIV "=\"Em\";" KND "=\"student\"|",
	 "U|ps:student:3|" ACT "=true;" KND "=\"student\"|",
	 "U|ps:guardian:9|" ACT "=true;" EMH "=" MAIL_B ";" KND "=\"guardian\"|",
	 "G|ps:jaargroep:5C|" DSP "=\"Groep 5C\"|ps:student:3/U", T8},
	{G3B "ps:student:1/U,ps:student:2/U", S1, S2, P9_MAIL, T7,
	 "G|ps:jaargroep:4A|" DSP "=\"Groep 4A\"|ps:student:2/U"},
	false, false, false, NULL, NULL};

static void test_op_ids_deterministic(void **state)
{
	lasync_state *d1, *e1, *n1, *d2, *e2, *n2, *d3, *e3, *n3, *d4, *e4, *n4;
	mapper_ops a, b, c, t;

	(void)state;
	n1 = run_diff(&busy, 1000, "t1", &a, &d1, &e1);
	n2 = run_diff(&busy, 1000, "t1", &b, &d2, &e2);
	n3 = run_diff(&busy, 1001, "t1", &c, &d3, &e3);
	n4 = run_diff(&busy, 1000, "t2", &t, &d4, &e4);
	assert_true(a.n > 5);
	assert_int_equal(a.n, b.n);
	assert_int_equal(a.n, c.n);
	for (size_t i = 0; i < a.n; i++) {
		const char *id = a.ops[i]->op_id;

		if (strcmp(id, b.ops[i]->op_id) != 0) {
			print_error("op %zu: same input, got ids %s and %s, "
				    "want equal\n",
				    i, id, b.ops[i]->op_id);
			fail();
		}
		if (strcmp(id, c.ops[i]->op_id) == 0) {
			print_error("op %zu: another generation, got the same "
				    "id %s, want a different one\n",
				    i, id);
			fail();
		}
		if (strcmp(id, t.ops[i]->op_id) == 0) {
			print_error("op %zu: another tenant, got the same id "
				    "%s, want a different one\n",
				    i, id);
			fail();
		}
		if (strspn(id, "0123456789abcdef") != 32 || id[32] != '\0') {
			print_error("op %zu: got id \"%s\", want 32 hex\n", i,
				    id);
			fail();
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(id, a.ops[j]->op_id) == 0) {
				print_error("ops %zu and %zu share id %s\n", j,
					    i, id);
				fail();
			}
		}
	}
	mapper_ops_free(&a);
	mapper_ops_free(&b);
	mapper_ops_free(&c);
	mapper_ops_free(&t);
	lasync_state_free(n1);
	lasync_state_free(n2);
	lasync_state_free(n3);
	lasync_state_free(n4);
	lasync_state_free(d1);
	lasync_state_free(d2);
	lasync_state_free(d3);
	lasync_state_free(d4);
	lasync_state_free(e1);
	lasync_state_free(e2);
	lasync_state_free(e3);
	lasync_state_free(e4);
}

/* the id covers the content: the same target with other values gets
 * another id */
static void test_op_ids_cover_content(void **state)
{
	static const diff_case x = {
		"x", {"U|ps:student:1|" GIV "=\"A\"|"}, {"U|ps:student:1|"},
		false, false, false, NULL, NULL};
	static const diff_case y = {
		"y", {"U|ps:student:1|" GIV "=\"B\"|"}, {"U|ps:student:1|"},
		false, false, false, NULL, NULL};
	lasync_state *d1, *e1, *n1, *d2, *e2, *n2;
	mapper_ops a, b;

	(void)state;
	n1 = run_diff(&x, 7, "t1", &a, &d1, &e1);
	n2 = run_diff(&y, 7, "t1", &b, &d2, &e2);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_string_not_equal(a.ops[0]->op_id, b.ops[0]->op_id);
	mapper_ops_free(&a);
	mapper_ops_free(&b);
	lasync_state_free(n1);
	lasync_state_free(n2);
	lasync_state_free(d1);
	lasync_state_free(d2);
	lasync_state_free(e1);
	lasync_state_free(e2);
}

/* ops come in stage order (1 groups .. 5 leavers), and the whole change
 * set for the busy row is exactly this */
static void test_ops_ordered_by_stage(void **state)
{
	lasync_state *d, *e, *next;
	mapper_ops ops;
	char *got;
	const char *want =
		"1 PATCH G ps:jaargroep:4A set " ORP "=true\n"
		"1 UPSERT G ps:jaargroep:5C set " DSP "=\"Groep 5C\"\n"
		"2 UPSERT U ps:staff:8 set " ACT "=true;" ROL "=" ROLE_L ";" KND
		"=\"staff\"\n"
		"2 PATCH U ps:student:1 set " GIV "=\"Em\"\n"
		"2 UPSERT U ps:student:3 set " ACT "=true;" KND "=\"student\"\n"
		"3 PATCH U ps:guardian:9 set " EMH "=" MAIL_B "\n"
		"4 ADD_MEMBERS G ps:jaargroep:3B members ps:student:3/U\n"
		"4 REMOVE_MEMBERS G ps:jaargroep:3B members ps:student:2/U\n"
		"4 REMOVE_MEMBERS G ps:jaargroep:4A members ps:student:2/U\n"
		"4 ADD_MEMBERS G ps:jaargroep:5C members ps:student:3/U\n"
		"5 PATCH U ps:staff:7 set " ACT "=false\n"
		"5 PATCH U ps:student:2 set " ACT "=false\n";

	(void)state;
	next = run_diff(&busy, 1000, "t1", &ops, &d, &e);
	got = dump_ops(&ops);
	if (strcmp(got, want) != 0) {
		print_error("got:\n%s\nwant:\n%s\n", got, want);
		fail();
	}
	for (size_t i = 1; i < ops.n; i++)
		assert_true(ops.ops[i - 1]->stage <= ops.ops[i]->stage);
	assert_int_equal(ops.counts.users_created, 2);
	assert_int_equal(ops.counts.users_updated, 2);
	assert_int_equal(ops.counts.users_deactivated, 2);
	assert_int_equal(ops.counts.groups_created, 1);
	assert_int_equal(ops.counts.groups_updated, 1);
	assert_int_equal(ops.counts.members_added, 2);
	assert_int_equal(ops.counts.members_removed, 2);
	assert_int_equal(ops.counts.ops_total, 12);
	free(got);
	mapper_ops_free(&ops);
	lasync_state_free(next);
	lasync_state_free(d);
	lasync_state_free(e);
}

/* the next expected state of a diff, diffed again against the same
 * desired state, gives nothing to do and the same state: consecutive syncs
 * compose, and the mapper's fast path may record any sync's inputs as
 * planning nothing against the state that sync leaves */
static void composes(const diff_case *c)
{
	lasync_state *d, *e, *next, *next2;
	mapper_ops ops, again;
	mapper_diff_in in = {0};

	next = run_diff(c, 1000, "t1", &ops, &d, &e);
	in.tenant_id = "t1";
	in.vendor = 1;
	in.generation = 1001;
	in.desired = d;
	in.expected = next;
	in.link_staff = true;
	next2 = mapper_diff(&in, &again);
	if (again.n != 0) {
		char *got = dump_ops(&again);

		print_error("%s, second diff: got\n%s\nwant no operations\n",
			    c->reconcile ? "reconcile" : "incremental", got);
		free(got);
		fail();
	}
	char *a = dump_state(next), *b = dump_state(next2);

	assert_string_equal(a, b);
	free(a);
	free(b);
	mapper_ops_free(&ops);
	mapper_ops_free(&again);
	lasync_state_free(next);
	lasync_state_free(next2);
	lasync_state_free(d);
	lasync_state_free(e);
}

static void test_next_state_composes(void **state)
{
	diff_case rec = busy;

	(void)state;
	composes(&busy);
	rec.reconcile = true; /* no expected state: everything created */
	composes(&rec);
}

static void test_op_kind(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"parnassys:staff:7", "staff"},
		{"esis:student:123:x", "student"},
		{"parnassys:jaargroep:3B:3", "jaargroep"},
		{"lasync:instroom", ""},
		{"nocolon", ""},
		{"a::b", ""},
		{"", ""},
		{"v:averyveryveryverylongkindname:1", ""},
	};
	char buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = mapper_op_kind(cases[i].in, buf, sizeof(buf));

		if (strcmp(got, cases[i].want) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n",
				    cases[i].in, got, cases[i].want);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_r7_email_sticky_kept),
		cmocka_unit_test(test_create_only_never_patched),
		cmocka_unit_test(test_r16_leaver_deactivated_never_deleted),
		cmocka_unit_test(test_r16_deactivations_counted),
		cmocka_unit_test(test_r5_orphaned_group_not_deleted),
		cmocka_unit_test(test_memberships),
		cmocka_unit_test(test_r12_staff_memberships_untouched),
		cmocka_unit_test(test_reconcile),
		cmocka_unit_test(test_op_ids_deterministic),
		cmocka_unit_test(test_op_ids_cover_content),
		cmocka_unit_test(test_ops_ordered_by_stage),
		cmocka_unit_test(test_next_state_composes),
		cmocka_unit_test(test_op_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
