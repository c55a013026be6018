/*
 * test_state.c - lib/lasync_state.c: building, finishing, looking up and
 * (de)serialising portal states.
 *
 * States are built from compact row specs and compared as a text dump,
 * so a failure prints the whole got/want:
 *   "U parnassys:student:1 path=json;path=json | member/U,member/G"
 * Resource specs: "U|G externalId|path=json;...|member:U,member:G".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync_mem.h"
#include "lasync_state.h"

#define MAX_RES 16

/* add_spec - add one resource from "T|id|p=v;p=v|m:T,m:T" */
static void add_spec(lasync_state *st, const char *spec)
{
	char buf[1024], *f[4] = {NULL, NULL, NULL, NULL}, *save = NULL;
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

/* build - a finished state from specs (NULL-ended) */
static lasync_state *build(const char *tenant, const char *const *specs)
{
	lasync_state *st = lasync_state_new(tenant);

	for (size_t i = 0; specs[i] != NULL; i++)
		add_spec(st, specs[i]);
	lasync_state_finish(st);
	return st;
}

/* nz - proto3 strings have no NULL: a NULL tenant or sync id and "" are
 * the same value on the wire */
static const char *nz(const char *s)
{
	return s ? s : "";
}

/* dump - the state as text in its own (finished) order; caller frees */
static char *dump(const lasync_state *st)
{
	size_t cap = 1 << 16, o = 0;
	char *out = lasync_xmalloc(cap);

	o += (size_t)snprintf(out + o, cap - o, "tenant=%s gen=%lld sync=%s\n",
			      nz(st->tenant_id), (long long)st->generation,
			      nz(st->sync_id));
	for (size_t i = 0; i < st->n_res; i++) {
		const lasync_sres *r = st->res[i];

		o += (size_t)snprintf(out + o, cap - o, "%c %s",
				      r->type == LASYNC_RES_GROUP ? 'G' : 'U',
				      r->external_id);
		for (size_t j = 0; j < r->n_attrs; j++)
			o += (size_t)snprintf(out + o, cap - o, "%s%s=%s",
					      j ? ";" : " ", r->attrs[j].path,
					      r->attrs[j].json);
		for (size_t j = 0; j < r->n_members; j++)
			o += (size_t)snprintf(
				out + o, cap - o, "%s%s/%c", j ? "," : " | ",
				r->members[j].external_id,
				r->members[j].type == LASYNC_RES_GROUP ? 'G'
								       : 'U');
		o += (size_t)snprintf(out + o, cap - o, "\n");
	}
	return out;
}

static void expect_dump(const char *name, const lasync_state *st,
			const char *want)
{
	char *got = dump(st);

	if (strcmp(got, want) != 0) {
		print_error("%s:\ngot:\n%s\nwant:\n%s\n", name, got, want);
		free(got);
		fail();
	}
	free(got);
}

/* ---------- building and finishing ---------- */

typedef struct finish_case {
	const char *name;
	const char *specs[MAX_RES];
	const char *want;
} finish_case;

static const finish_case finish_cases[] = {
	{"empty", {NULL}, "tenant=t1 gen=0 sync=\n"},
	{"resources_sorted_by_type_then_id",
	 {"G|parnassys:jaargroep:2||", "U|parnassys:student:2||",
	  "G|lasync:instroom||", "U|parnassys:guardian:9||",
	  "U|parnassys:student:10||", NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "U parnassys:guardian:9\n"
	 "U parnassys:student:10\n"
	 "U parnassys:student:2\n"
	 "G lasync:instroom\n"
	 "G parnassys:jaargroep:2\n"},
	{"attrs_sorted_by_path",
	 {"U|s1|name.givenName=\"Emma\";active=true;displayName=\"Emma J\"|",
	  NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "U s1 active=true;displayName=\"Emma J\";name.givenName=\"Emma\"\n"},
	{"set_replaces_same_path",
	 {"U|s1|name.givenName=\"Emma\";active=true;name.givenName=\"Em\"|",
	  NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "U s1 active=true;name.givenName=\"Em\"\n"},
	{"same_id_twice_is_one_resource",
	 {"U|s1|active=true|", "U|s1|name.givenName=\"Emma\"|", NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "U s1 active=true;name.givenName=\"Emma\"\n"},
	{"same_id_other_type_is_another_resource",
	 {"G|x:1|displayName=\"G\"|", "U|x:1|displayName=\"U\"|", NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "U x:1 displayName=\"U\"\n"
	 "G x:1 displayName=\"G\"\n"},
	{"members_sorted_and_deduplicated",
	 {"G|g1||s3/U,s1/U,s3/U,g2/G,s1/U,s3/U", NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "G g1 | g2/G,s1/U,s3/U\n"},
	{"member_same_id_other_type_kept",
	 {"G|g1||x/G,x/U,x/G", NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "G g1 | x/U,x/G\n"},
	{"members_added_twice_over_specs",
	 {"G|g1||s2/U", "G|g1||s1/U,s2/U", NULL},
	 "tenant=t1 gen=0 sync=\n"
	 "G g1 | s1/U,s2/U\n"},
};

static void test_finish(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(finish_cases) / sizeof(finish_cases[0]);
	     i++) {
		lasync_state *st = build("t1", finish_cases[i].specs);

		expect_dump(finish_cases[i].name, st, finish_cases[i].want);
		/* idempotent */
		lasync_state_finish(st);
		expect_dump(finish_cases[i].name, st, finish_cases[i].want);
		lasync_state_free(st);
	}
}

/* resource() is stable: same (type, id) gives the same resource, before
 * and after finish, and across the index growing */
static void test_resource_stable_and_find(void **state)
{
	enum { N = 700 };
	lasync_state *st = lasync_state_new(NULL);
	lasync_sres *first[N];
	char id[64];

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "parnassys:student:%d", (i * 7919) % N);
		first[i] = lasync_state_resource(
			st, i % 3 ? LASYNC_RES_USER : LASYNC_RES_GROUP, id);
		lasync_state_set(first[i], "active", "true");
	}
	assert_int_equal(st->n_res, N);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "parnassys:student:%d", (i * 7919) % N);
		assert_ptr_equal(lasync_state_resource(
					 st,
					 i % 3 ? LASYNC_RES_USER
					       : LASYNC_RES_GROUP,
					 id),
				 first[i]);
	}
	lasync_state_finish(st);
	assert_int_equal(st->n_res, N);
	for (int i = 0; i < N; i++) {
		lasync_res_type t = i % 3 ? LASYNC_RES_USER : LASYNC_RES_GROUP;

		snprintf(id, sizeof(id), "parnassys:student:%d", (i * 7919) % N);
		if (lasync_state_find(st, t, id) != first[i]) {
			print_error("find %s (type %d): got %p, want %p\n", id,
				    (int)t, (void *)lasync_state_find(st, t, id),
				    (void *)first[i]);
			fail();
		}
		/* the other type is not found by the same id */
		if (lasync_state_find(st, t == LASYNC_RES_USER
						  ? LASYNC_RES_GROUP
						  : LASYNC_RES_USER,
				      id) != NULL) {
			print_error("find %s with the other type: got a "
				    "resource, want NULL\n",
				    id);
			fail();
		}
	}
	assert_null(lasync_state_find(st, LASYNC_RES_USER, "absent"));
	assert_null(lasync_state_find(st, LASYNC_RES_USER, ""));
	/* after finish, resource() still finds the same ones */
	snprintf(id, sizeof(id), "parnassys:student:%d", (1 * 7919) % N);
	assert_ptr_equal(lasync_state_resource(st, LASYNC_RES_USER, id),
			 first[1]);
	assert_int_equal(st->n_res, N);
	lasync_state_free(st);
}

static void test_find_empty(void **state)
{
	lasync_state *st = lasync_state_new("t1");

	(void)state;
	assert_null(lasync_state_find(st, LASYNC_RES_USER, "x"));
	lasync_state_finish(st);
	assert_null(lasync_state_find(st, LASYNC_RES_GROUP, "x"));
	lasync_state_free(st);
	lasync_state_free(NULL);
}

/* setters write canonical JSON; get reads it back; kind comes from it */
static void test_setters_get_kind(void **state)
{
	lasync_state *st = lasync_state_new("t1");
	lasync_sres *u = lasync_state_resource(st, LASYNC_RES_USER, "u1");
	lasync_sres *g = lasync_state_resource(st, LASYNC_RES_GROUP, "g1");
	json_t *years = json_pack("[ss]", "1", "2");
	static const struct {
		const char *name, *path, *want;
	} cases[] = {
		{"string_quoted", LASYNC_A_GIVEN, "\"Ren\xc3\xa9" "e \\\"R\\\"\""},
		{"bool_true", LASYNC_A_ACTIVE, "true"},
		{"bool_false_replaced", LASYNC_A_PRESCHOOL, "false"},
		{"kind", LASYNC_A_KIND, "\"guardian\""},
		{"json_object_sorted", LASYNC_A_PHONE_HOME,
		 "{\"type\":\"home\",\"value\":\"030\"}"},
		{"absent", LASYNC_A_FAMILY, NULL},
	};

	(void)state;
	assert_int_equal(lasync_sres_kind(u), 0);
	lasync_state_set_string(u, LASYNC_A_GIVEN, "Ren\xc3\xa9" "e \"R\"");
	lasync_state_set_bool(u, LASYNC_A_ACTIVE, true);
	lasync_state_set_bool(u, LASYNC_A_PRESCHOOL, true);
	lasync_state_set_bool(u, LASYNC_A_PRESCHOOL, false);
	lasync_state_set_string(u, LASYNC_A_KIND, "guardian");
	lasync_state_set_json(u, LASYNC_A_PHONE_HOME,
			      json_pack("{ssss}", "value", "030", "type",
					"home"));
	lasync_state_set_json(g, LASYNC_G_YEARS, years);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = lasync_sres_get(u, cases[i].path);

		if (!lasync_streq(got, cases[i].want)) {
			print_error("%s: got %s, want %s\n", cases[i].name,
				    got ? got : "(none)",
				    cases[i].want ? cases[i].want : "(none)");
			fail();
		}
	}
	assert_int_equal(u->n_attrs, 5);
	assert_string_equal(lasync_sres_get(g, LASYNC_G_YEARS), "[\"1\",\"2\"]");
	assert_int_equal(lasync_sres_kind(u), LASYNC_KIND_GUARDIAN);
	assert_int_equal(lasync_sres_kind(g), LASYNC_KIND_GROUP);
	lasync_state_set_string(u, LASYNC_A_KIND, "student");
	assert_int_equal(lasync_sres_kind(u), LASYNC_KIND_STUDENT);
	lasync_state_set_string(u, LASYNC_A_KIND, "staff");
	assert_int_equal(lasync_sres_kind(u), LASYNC_KIND_STAFF);
	lasync_state_set_string(u, LASYNC_A_KIND, "teacher");
	assert_int_equal(lasync_sres_kind(u), 0);
	lasync_state_free(st);
}

/* building more after a finish, then finishing again, sorts again */
static void test_refinish_after_more(void **state)
{
	static const char *const specs[] = {"U|b||", "U|d|x=1|", NULL};
	lasync_state *st = build("t1", specs);

	(void)state;
	add_spec(st, "U|a|z=1;y=2|");
	add_spec(st, "U|d|w=0|");
	add_spec(st, "G|c||m2/U,m1/U,m2/U");
	lasync_state_finish(st);
	expect_dump("refinish", st,
		    "tenant=t1 gen=0 sync=\n"
		    "U a y=2;z=1\n"
		    "U b\n"
		    "U d w=0;x=1\n"
		    "G c | m1/U,m2/U\n");
	assert_non_null(lasync_state_find(st, LASYNC_RES_USER, "a"));
	assert_non_null(lasync_state_find(st, LASYNC_RES_GROUP, "c"));
	lasync_state_free(st);
}

/* ---------- wire form ---------- */

static const char *const school[] = {
	"G|parnassys:jaargroep:3B|displayName=\"Groep 3B\";"
	"urn:lasync:scim:school:1.0:Group:yearLevels=[\"3\"]|"
	"parnassys:student:2/U,parnassys:student:1/U,parnassys:staff:7/U,"
	"parnassys:student:1/U",
	"G|parnassys:samengesteld:1/2A|displayName=\"1/2A\"|"
	"parnassys:jaargroep:1A/G,parnassys:jaargroep:2A/G",
	"U|parnassys:student:1|active=true;name.givenName=\"Emma\"|",
	"U|parnassys:student:2|active=false|",
	"U|parnassys:guardian:1001|urn:lasync:scim:school:1.0:User:"
	"guardianOf=[{\"externalId\":\"parnassys:student:1\","
	"\"relation\":\"MOEDER\"}];emails[type eq \"home\"]="
	"{\"type\":\"home\",\"value\":\"s@x.nl\"}|",
	"U|parnassys:staff:7|roles=[{\"value\":\"Leerkracht\"}]|",
	NULL,
};

static const char *const no_specs[] = {NULL};
static const char *const one_user[] = {"U|u||", NULL};

static void test_encode_decode_round_trip(void **state)
{
	static const struct {
		const char *name, *tenant, *sync;
		int64_t gen;
		const char *const *specs;
	} cases[] = {
		{"empty_state", "t1", NULL, 0, no_specs},
		{"empty_state_no_tenant", NULL, NULL, 0, no_specs},
		{"school", "school-99zz", "sync-1", 1764400855123LL, school},
		{"negative_generation", "t", "s", -5, one_user},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lasync_state *st = build(cases[i].tenant, cases[i].specs);
		char err[256] = "";
		size_t len = 0;
		uint8_t *buf;
		lasync_state *back;

		st->generation = cases[i].gen;
		if (cases[i].sync)
			st->sync_id = lasync_xstrdup(cases[i].sync);
		buf = lasync_state_encode(st, &len);
		back = lasync_state_decode(buf, len, err, sizeof(err));
		if (back == NULL) {
			print_error("%s: decode failed: %s\n", cases[i].name,
				    err);
			fail();
		}
		char *want = dump(st);

		expect_dump(cases[i].name, back, want);
		assert_true(back->sorted);
		/* the decoded state is usable for lookups straight away */
		for (size_t k = 0; k < st->n_res; k++)
			assert_non_null(lasync_state_find(
				back, st->res[k]->type,
				st->res[k]->external_id));
		/* and encodes to the same bytes */
		size_t len2 = 0;
		uint8_t *buf2 = lasync_state_encode(back, &len2);

		assert_int_equal(len2, len);
		assert_memory_equal(buf2, buf, len);
		free(want);
		free(buf);
		free(buf2);
		lasync_state_free(back);
		lasync_state_free(st);
	}
}

/* encoding is canonical: the same state built in another order encodes to
 * the same bytes (encode finishes the state itself) */
static void test_encode_order_independent(void **state)
{
	lasync_state *a = lasync_state_new("t1"), *b = lasync_state_new("t1");
	size_t n = 0, la, lb;
	uint8_t *ba, *bb;

	(void)state;
	while (school[n] != NULL)
		n++;
	for (size_t i = 0; i < n; i++) {
		add_spec(a, school[i]);
		add_spec(b, school[n - 1 - i]);
	}
	ba = lasync_state_encode(a, &la);
	bb = lasync_state_encode(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
	lasync_state_free(a);
	lasync_state_free(b);
}

/* encode_bad_type - a PortalState whose resource has type t */
static uint8_t *encode_bad_type(Lasync__V1__ResourceType t, size_t *len)
{
	Lasync__V1__PortalState ps = LASYNC__V1__PORTAL_STATE__INIT;
	Lasync__V1__StateResource r = LASYNC__V1__STATE_RESOURCE__INIT;
	Lasync__V1__StateResource *rp[1] = {&r};
	uint8_t *buf;

	ps.tenant_id = "t1";
	r.type = t;
	r.external_id = "x";
	ps.resources = rp;
	ps.n_resources = 1;
	*len = lasync__v1__portal_state__get_packed_size(&ps);
	buf = lasync_xmalloc(*len);
	lasync__v1__portal_state__pack(&ps, buf);
	return buf;
}

static void test_decode_garbage(void **state)
{
	static const char *const specs[] = {
		"U|parnassys:student:1|active=true;name.givenName=\"Emma\"|",
		NULL};
	lasync_state *st = build("t1", specs);
	size_t good_len, bad_len0, bad_len3;
	uint8_t *good = lasync_state_encode(st, &good_len);
	uint8_t *bad0 = encode_bad_type(0, &bad_len0);
	uint8_t *bad3 = encode_bad_type((Lasync__V1__ResourceType)3, &bad_len3);
	static const uint8_t ff[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t text[] = "{\"tenant_id\":\"t1\"}";
	const struct {
		const char *name;
		const uint8_t *buf;
		size_t len;
		const char *want_err;
	} cases[] = {
		{"all_ones", ff, sizeof(ff), "not a PortalState"},
		{"json_text", text, sizeof(text) - 1, "not a PortalState"},
		{"truncated", good, good_len - 3, "not a PortalState"},
		{"resource_type_unspecified", bad0, bad_len0,
		 "resource 0 has type 0"},
		{"resource_type_unknown", bad3, bad_len3,
		 "resource 0 has type 3"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		lasync_state *got = lasync_state_decode(cases[i].buf,
							cases[i].len, err,
							sizeof(err));

		if (got != NULL || strstr(err, cases[i].want_err) == NULL) {
			print_error("%s: got %s err \"%s\", want NULL with "
				    "\"%s\"\n",
				    cases[i].name, got ? "a state" : "NULL",
				    err, cases[i].want_err);
			lasync_state_free(got);
			fail();
		}
	}
	free(good);
	free(bad0);
	free(bad3);
	lasync_state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_resource_stable_and_find),
		cmocka_unit_test(test_find_empty),
		cmocka_unit_test(test_setters_get_kind),
		cmocka_unit_test(test_refinish_after_more),
		cmocka_unit_test(test_encode_decode_round_trip),
		cmocka_unit_test(test_encode_order_independent),
		cmocka_unit_test(test_decode_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
