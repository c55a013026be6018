/*
 * test_mapper_rules.c - services/mapper/mapper_rules.c.
 *
 * Schools are built by hand from compact row specs (so that ESIS models,
 * which no adapter parses yet, are covered too); the desired state is
 * compared as a text dump, so a failure prints the whole got/want.  Each
 * rule case is named after its rule.  The last test maps the example school
 * (fixtures/las/parnassys/99ZZ) at 2026-11-29 with default settings and
 * checks every user, group, membership and value.
 *
 * Specs, '|' between fields, an empty field is NULL:
 *   group     "id|name|C or S|year_code"
 *   student   "id|birth|until|placements|year_level"
 *             placements "group/year/from/until;..." ('-' = NULL)
 *   staff     "id|group,group"
 *   guardian  "id|child:relation,...|address|vast|mobiel|email|nood"
 *             address "street,number,addition,postcode,city,secret(0|1)"
 *             phone   "number,secret(0|1)"
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_mem.h"
#include "lasync_model.h"
#include "lasync_state.h"
#include "lasync_tenant.h"
#include "mapper_adapter.h"
#include "mapper_rules.h"

#define PS 1
#define ESIS 2
#define MAXF 8

/* ---------- building schools ---------- */

/* split - s at sep into at most max arena strings ("" and "-" -> NULL) */
static size_t split(lasync_arena *a, const char *s, char sep, const char **f,
		    size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < max; i++)
		f[i] = NULL;
	if (s == NULL || *s == '\0')
		return 0;
	while (n < max) {
		const char *e = strchr(s, sep);
		size_t l = e ? (size_t)(e - s) : strlen(s);

		f[n++] = l == 0 || (l == 1 && *s == '-')
				 ? NULL
				 : lasync_arena_strndup(a, s, l);
		if (e == NULL)
			break;
		s = e + 1;
	}
	return n;
}

static void parse_phone(lasync_arena *a, const char *spec, lasync_phone *p)
{
	const char *f[2];

	split(a, spec, ',', f, 2);
	p->number = f[0];
	p->secret = f[1] != NULL && strcmp(f[1], "1") == 0;
}

typedef struct spec {
	const char *groups[8];
	const char *students[10];
	const char *staff[4];
	const char *guardians[4];
} spec;

static lasync_school *build(int vendor, const spec *sp)
{
	lasync_school *s = lasync_school_new(vendor);
	lasync_arena *a = s->arena;
	const char *f[MAXF];

	s->brin = "99ZZ";
	s->dependance = "00";
	/* as the adapters set it (mapper_parnassys.c, mapper_esis.c) */
	s->year_placements = vendor == PS;
	s->groups = lasync_arena_alloc(a, 8 * sizeof(*s->groups));
	s->students = lasync_arena_alloc(a, 10 * sizeof(*s->students));
	s->staff = lasync_arena_alloc(a, 4 * sizeof(*s->staff));
	s->guardians = lasync_arena_alloc(a, 4 * sizeof(*s->guardians));
	for (size_t i = 0; i < 8 && sp->groups[i]; i++) {
		lasync_lgroup *g = &s->groups[s->n_groups++];

		split(a, sp->groups[i], '|', f, 4);
		g->id = f[0];
		g->name = f[1];
		g->kind = f[2] && f[2][0] == 'S' ? LASYNC_LG_SUBGROUP
						 : LASYNC_LG_CLASS;
		g->year_code = f[3];
	}
	for (size_t i = 0; i < 10 && sp->students[i]; i++) {
		lasync_student *st = &s->students[s->n_students++];
		const char *pl[MAXF];
		size_t np;

		split(a, sp->students[i], '|', f, 5);
		st->id = f[0];
		st->roepnaam = lasync_arena_strdup(a, "Kind");
		st->achternaam = f[0];
		st->birth_date = f[1] ? f[1] : "2019-01-01";
		st->enrolled_until = f[2];
		st->year_level = f[4];
		np = split(a, f[3], ';', pl, MAXF);
		st->placements = lasync_arena_alloc(a, (np + 1) *
							       sizeof(*st->placements));
		for (size_t k = 0; k < np; k++) {
			const char *p[4];

			split(a, pl[k], '/', p, 4);
			st->placements[k].group_id = p[0];
			st->placements[k].year_level = p[1];
			st->placements[k].from = p[2];
			st->placements[k].until = p[3];
		}
		st->n_placements = np;
	}
	for (size_t i = 0; i < 4 && sp->staff[i]; i++) {
		lasync_staff *m = &s->staff[s->n_staff++];

		split(a, sp->staff[i], '|', f, 2);
		m->id = f[0];
		m->roepnaam = "Juf";
		m->achternaam = f[0];
		m->group_ids = lasync_arena_alloc(a, MAXF * sizeof(char *));
		m->n_group_ids = split(a, f[1], ',', m->group_ids, MAXF);
	}
	for (size_t i = 0; i < 4 && sp->guardians[i]; i++) {
		lasync_guardian *g = &s->guardians[s->n_guardians++];
		const char *ch[MAXF], *ad[6];
		size_t nc;

		split(a, sp->guardians[i], '|', f, 7);
		g->id = f[0];
		g->roepnaam = "Ouder";
		g->achternaam = f[0];
		nc = split(a, f[1], ',', ch, MAXF);
		g->relations = lasync_arena_alloc(a, (nc + 1) *
							     sizeof(*g->relations));
		for (size_t k = 0; k < nc; k++) {
			const char *r[2];

			split(a, ch[k], ':', r, 2);
			g->relations[k].student_id = r[0];
			g->relations[k].type = r[1];
		}
		g->n_relations = nc;
		if (split(a, f[2], ',', ad, 6) > 0) {
			g->address.present = true;
			g->address.street = ad[0];
			g->address.number = ad[1];
			g->address.addition = ad[2];
			g->address.postcode = ad[3];
			g->address.city = ad[4];
			g->address.secret = ad[5] && strcmp(ad[5], "1") == 0;
		}
		parse_phone(a, f[3], &g->phone_home);
		parse_phone(a, f[4], &g->phone_mobile);
		g->email = f[5];
		parse_phone(a, f[6], &g->phone_emergency);
	}
	lasync_school_finish(s);
	return s;
}

/* ---------- dumping states ---------- */

static void app(char **s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void app(char **s, const char *fmt, ...)
{
	va_list ap;
	char *add, *n;

	va_start(ap, fmt);
	add = lasync_xvasprintf(fmt, ap);
	va_end(ap);
	n = lasync_xasprintf("%s%s", *s ? *s : "", add);
	free(*s);
	free(add);
	*s = n;
}

static const char *get(const lasync_sres *r, const char *path)
{
	const char *v = lasync_sres_get(r, path);

	return v ? v : "-";
}

static void members(char **o, const lasync_sres *r)
{
	app(o, " members=");
	for (size_t k = 0; k < r->n_members; k++)
		app(o, "%s%s%s", k ? "," : "", r->members[k].external_id,
		    r->members[k].type == LASYNC_RES_GROUP ? "(G)" : "");
}

/* dump_short - one line a resource: the values the rule cases look at */
static char *dump_short(const lasync_state *st)
{
	char *o = lasync_xstrdup("");

	for (size_t i = 0; i < st->n_res; i++) {
		const lasync_sres *r = st->res[i];

		if (r->type == LASYNC_RES_GROUP) {
			app(&o, "G %s %s|%s|%s|primary=%s", r->external_id,
			    get(r, LASYNC_G_DISPLAY), get(r, LASYNC_G_KIND),
			    get(r, LASYNC_G_YEARS), get(r, LASYNC_G_PRIMARY));
			members(&o, r);
			app(&o, "\n");
			continue;
		}
		app(&o, "U %s", r->external_id);
		if (lasync_sres_get(r, LASYNC_A_YEAR) ||
		    lasync_sres_get(r, LASYNC_A_PRESCHOOL))
			app(&o, " year=%s pre=%s", get(r, LASYNC_A_YEAR),
			    get(r, LASYNC_A_PRESCHOOL));
		if (lasync_sres_get(r, LASYNC_A_GUARDIAN_OF))
			app(&o, " of=%s", get(r, LASYNC_A_GUARDIAN_OF));
		app(&o, "\n");
	}
	return o;
}

/* dump_full - every attribute and member of every resource */
static char *dump_full(const lasync_state *st)
{
	char *o = lasync_xstrdup("");

	for (size_t i = 0; i < st->n_res; i++) {
		const lasync_sres *r = st->res[i];

		app(&o, "%s %s\n", r->type == LASYNC_RES_GROUP ? "G" : "U",
		    r->external_id);
		for (size_t k = 0; k < r->n_attrs; k++)
			app(&o, "  %s = %s\n", r->attrs[k].path,
			    r->attrs[k].json);
		for (size_t k = 0; k < r->n_members; k++)
			app(&o, "  member %s%s\n", r->members[k].external_id,
			    r->members[k].type == LASYNC_RES_GROUP ? " (group)"
								   : "");
	}
	return o;
}

/* ---------- settings ---------- */

typedef struct tweaks {
	bool leading, split, no_staff_links, secret;
	unsigned weeks;
	const char *role;
} tweaks;

static void settings_for(lasync_settings *set, const tweaks *t)
{
	lasync_settings_defaults(set);
	set->composite_groups_leading = t->leading;
	set->esis_split_combination_groups = t->split;
	set->link_staff_to_groups = !t->no_staff_links;
	set->import_secret_contact_data = t->secret;
	set->preschool_import_weeks = t->weeks;
	if (t->role != NULL) {
		free(set->default_staff_role);
		set->default_staff_role = lasync_xstrdup(t->role);
	}
}

static void settings_done(lasync_settings *set)
{
	free(set->default_staff_role);
	free(set->new_profiles);
	free(set->schedule);
}

/* ---------- the rule table ---------- */

typedef struct rule_case {
	const char *name;
	int vendor;
	spec sp;
	tweaks tw;
	const char *date;	/* NULL: 2026-11-29 */
	const char *want;	/* dump_short */
	const char *want_stats; /* NULL: not checked */
} rule_case;

#define C3 "7002|Groep 3|C"
#define C12 "7001|1/2A|C"
#define SUB "7101|Rekenplus|S"
#define YEAR "2026-08-01/2027-07-31"

/* Rows name only the lists and settings they use; the rest is zero. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const rule_case cases[] = {
	/* R3 */
	{"test_r3_single_leerjaar_lesgroep_named_after_lesgroep", PS,
	 {{C3}, {"a|||7002/3/" YEAR, "b|||7002/3/" YEAR}},
	 {0}, NULL,
	 "U parnassys:student:a year=\"3\" pre=false\n"
	 "U parnassys:student:b year=\"3\" pre=false\n"
	 "G parnassys:jaargroep:7002:3 \"Groep 3\"|\"jaargroep\"|[\"3\"]|"
	 "primary=true members=parnassys:student:a,parnassys:student:b\n",
	 NULL},
	{"test_r3_combination_lesgroep_splits", PS,
	 {{C12},
	  {"a|||7001/1/" YEAR, "b|||7001/2/" YEAR, "c|||7001/2/" YEAR}},
	 {0}, NULL,
	 "U parnassys:student:a year=\"1\" pre=false\n"
	 "U parnassys:student:b year=\"2\" pre=false\n"
	 "U parnassys:student:c year=\"2\" pre=false\n"
	 "G parnassys:jaargroep:7001:1 \"Groep 1 (1/2A)\"|\"jaargroep\"|"
	 "[\"1\"]|primary=true members=parnassys:student:a\n"
	 "G parnassys:jaargroep:7001:2 \"Groep 2 (1/2A)\"|\"jaargroep\"|"
	 "[\"2\"]|primary=true members=parnassys:student:b,"
	 "parnassys:student:c\n"
	 "G parnassys:samengesteld:7001 \"1/2A\"|\"samengesteld\"|"
	 "[\"1\",\"2\"]|primary=false members=parnassys:jaargroep:7001:1(G),"
	 "parnassys:jaargroep:7001:2(G)\n",
	 NULL},
	{"test_r3_identity_stable_with_one_leerjaar", PS,
	 {{C12}, {"a|||7001/1/" YEAR}}, {0}, NULL,
	 "U parnassys:student:a year=\"1\" pre=false\n"
	 "G parnassys:jaargroep:7001:1 \"1/2A\"|\"jaargroep\"|[\"1\"]|"
	 "primary=true members=parnassys:student:a\n",
	 NULL},
	{"test_r3_sublesgroep_composite_of_students_ignores_leerjaar", PS,
	 {{C3, SUB}, {"a|||7002/3/" YEAR ";7101/5/" YEAR}}, {0}, NULL,
	 "U parnassys:student:a year=\"3\" pre=false\n"
	 "G parnassys:jaargroep:7002:3 \"Groep 3\"|\"jaargroep\"|[\"3\"]|"
	 "primary=true members=parnassys:student:a\n"
	 "G parnassys:samengesteld:7101 \"Rekenplus\"|\"samengesteld\"|"
	 "[\"3\"]|primary=false members=parnassys:student:a\n",
	 NULL},
	{"test_r3_staff_in_lesgroep_join_each_jaargroep_not_composite", PS,
	 {{C12}, {"a|||7001/1/" YEAR, "b|||7001/2/" YEAR}, {"m|7001"}},
	 {0}, NULL,
	 "U parnassys:staff:m\n"
	 "U parnassys:student:a year=\"1\" pre=false\n"
	 "U parnassys:student:b year=\"2\" pre=false\n"
	 "G parnassys:jaargroep:7001:1 \"Groep 1 (1/2A)\"|\"jaargroep\"|"
	 "[\"1\"]|primary=true members=parnassys:staff:m,"
	 "parnassys:student:a\n"
	 "G parnassys:jaargroep:7001:2 \"Groep 2 (1/2A)\"|\"jaargroep\"|"
	 "[\"2\"]|primary=true members=parnassys:staff:m,"
	 "parnassys:student:b\n"
	 "G parnassys:samengesteld:7001 \"1/2A\"|\"samengesteld\"|"
	 "[\"1\",\"2\"]|primary=false members=parnassys:jaargroep:7001:1(G),"
	 "parnassys:jaargroep:7001:2(G)\n",
	 NULL},
	{"test_r3_staff_in_sublesgroep_join_composite", PS,
	 {{C3, SUB}, {"a|||7002/3/" YEAR ";7101//" YEAR}, {"m|7101"}}, {0},
	 NULL,
	 "U parnassys:staff:m\n"
	 "U parnassys:student:a year=\"3\" pre=false\n"
	 "G parnassys:jaargroep:7002:3 \"Groep 3\"|\"jaargroep\"|[\"3\"]|"
	 "primary=true members=parnassys:student:a\n"
	 "G parnassys:samengesteld:7101 \"Rekenplus\"|\"samengesteld\"|"
	 "[\"3\"]|primary=false members=parnassys:staff:m,"
	 "parnassys:student:a\n",
	 NULL},
	{"test_r3_groups_without_students_map_to_nothing", PS,
	 {{C3, C12, SUB}, {"a|||7001/1/2027-01-01/2027-07-31"},
	  {"m|7002,7001,7101,9999"}},
	 {0}, NULL,
	 "U parnassys:staff:m\n"
	 "U parnassys:student:a year=- pre=false\n",
	 NULL},
	{"test_r3_placement_counts_from_through_until", PS,
	 {{C3, C12, "7003|Groep 4|C", "7004|Groep 5|C"},
	  {"from_today|||7002/3/2026-11-29/2027-07-31",
	   "until_today|||7001/1/2026-08-01/2026-11-29",
	   "ended|||7003/4/2026-08-01/2026-11-28",
	   "future|||7004/5/2026-11-30/-", "open|||7004/5/-/-"}},
	 {0}, NULL,
	 "U parnassys:student:ended year=- pre=false\n"
	 "U parnassys:student:from_today year=\"3\" pre=false\n"
	 "U parnassys:student:future year=- pre=false\n"
	 "U parnassys:student:open year=\"5\" pre=false\n"
	 "U parnassys:student:until_today year=\"1\" pre=false\n"
	 "G parnassys:jaargroep:7001:1 \"1/2A\"|\"jaargroep\"|[\"1\"]|"
	 "primary=true members=parnassys:student:until_today\n"
	 "G parnassys:jaargroep:7002:3 \"Groep 3\"|\"jaargroep\"|[\"3\"]|"
	 "primary=true members=parnassys:student:from_today\n"
	 "G parnassys:jaargroep:7004:5 \"Groep 5\"|\"jaargroep\"|[\"5\"]|"
	 "primary=true members=parnassys:student:open\n",
	 NULL},
	{"test_r3_transition_day_both_placements_count", PS,
	 {{C3, "7003|Groep 4|C"},
	  {"a|||7002/3/2026-08-01/2026-11-29;7003/4/2026-11-29/2027-07-31"}},
	 {0}, NULL,
	 "U parnassys:student:a year=\"4\" pre=false\n"
	 "G parnassys:jaargroep:7002:3 \"Groep 3\"|\"jaargroep\"|[\"3\"]|"
	 "primary=true members=parnassys:student:a\n"
	 "G parnassys:jaargroep:7003:4 \"Groep 4\"|\"jaargroep\"|[\"4\"]|"
	 "primary=true members=parnassys:student:a\n",
	 NULL},
	/* R4 */
	{"test_r4_esis_groep_is_one_jaargroep_with_students_years", ESIS,
	 {{"G12A|1/2A|C|C", "G5|Groep 5|C|5"},
	  {"L1|||G12A///|2", "L2|||G12A///|1", "L3|||G5///|5"},
	  {"M1|G12A"}},
	 {0}, NULL,
	 "U esis:staff:M1\n"
	 "U esis:student:L1 year=\"2\" pre=false\n"
	 "U esis:student:L2 year=\"1\" pre=false\n"
	 "U esis:student:L3 year=\"5\" pre=false\n"
	 "G esis:jaargroep:G12A \"1/2A\"|\"jaargroep\"|[\"1\",\"2\"]|"
	 "primary=true members=esis:staff:M1,esis:student:L1,"
	 "esis:student:L2\n"
	 "G esis:jaargroep:G5 \"Groep 5\"|\"jaargroep\"|[\"5\"]|primary=true "
	 "members=esis:student:L3\n",
	 NULL},
	{"test_r4_esis_split_combination_groups", ESIS,
	 {{"G12A|1/2A|C|C", "G5|Groep 5|C|5"},
	  {"L1|||G12A///|2", "L2|||G12A///|1", "L3|||G5///|5"},
	  {"M1|G12A"}},
	 {.split = true}, NULL,
	 "U esis:staff:M1\n"
	 "U esis:student:L1 year=\"2\" pre=false\n"
	 "U esis:student:L2 year=\"1\" pre=false\n"
	 "U esis:student:L3 year=\"5\" pre=false\n"
	 "G esis:jaargroep:G12A:1 \"Groep 1 (1/2A)\"|\"jaargroep\"|[\"1\"]|"
	 "primary=true members=esis:staff:M1,esis:student:L2\n"
	 "G esis:jaargroep:G12A:2 \"Groep 2 (1/2A)\"|\"jaargroep\"|[\"2\"]|"
	 "primary=true members=esis:staff:M1,esis:student:L1\n"
	 "G esis:jaargroep:G5 \"Groep 5\"|\"jaargroep\"|[\"5\"]|primary=true "
	 "members=esis:student:L3\n"
	 "G esis:samengesteld:G12A \"1/2A\"|\"samengesteld\"|[\"1\",\"2\"]|"
	 "primary=false members=esis:jaargroep:G12A:1(G),"
	 "esis:jaargroep:G12A:2(G)\n",
	 NULL},
	{"test_r4_esis_samengestelde_groep_of_students", ESIS,
	 {{"G5|Groep 5|C|5", "SG-TAAL|Taalclub|S"},
	  {"L3|||G5///;SG-TAAL///|5"},
	  {"M2|G5,SG-TAAL"}},
	 {0}, NULL,
	 "U esis:staff:M2\n"
	 "U esis:student:L3 year=\"5\" pre=false\n"
	 "G esis:jaargroep:G5 \"Groep 5\"|\"jaargroep\"|[\"5\"]|primary=true "
	 "members=esis:staff:M2,esis:student:L3\n"
	 "G esis:samengesteld:SG-TAAL \"Taalclub\"|\"samengesteld\"|[\"5\"]|"
	 "primary=false members=esis:staff:M2,esis:student:L3\n",
	 NULL},
	/* R12 */
	{"test_r12_staff_not_linked_to_groups", PS,
	 {{C12, SUB}, {"a|||7001/1/" YEAR ";7101//" YEAR}, {"m|7001,7101"}},
	 {.no_staff_links = true}, NULL,
	 "U parnassys:staff:m\n"
	 "U parnassys:student:a year=\"1\" pre=false\n"
	 "G parnassys:jaargroep:7001:1 \"1/2A\"|\"jaargroep\"|[\"1\"]|"
	 "primary=true members=parnassys:student:a\n"
	 "G parnassys:samengesteld:7101 \"Rekenplus\"|\"samengesteld\"|"
	 "[\"1\"]|primary=false members=parnassys:student:a\n",
	 NULL},
	/* R13 */
	{"test_r13_under4_not_imported", PS,
	 {{C12},
	  {"noah|2023-01-15||7001/1/2026-11-01/-", "emma|||7001/2/" YEAR},
	  {0},
	  {"tom|noah:VADER", "anna|noah:MOEDER,emma:MOEDER"}},
	 {0}, NULL,
	 "U parnassys:guardian:anna of=[{\"externalId\":"
	 "\"parnassys:student:emma\",\"relation\":\"MOEDER\"}]\n"
	 "U parnassys:student:emma year=\"2\" pre=false\n"
	 "G parnassys:jaargroep:7001:2 \"1/2A\"|\"jaargroep\"|[\"2\"]|"
	 "primary=true members=parnassys:student:emma\n",
	 "students=1 guardians=1 staff=0 groups=1 under4=1 leavers=0 "
	 "secret=0"},
	{"test_r13_under4_in_window_goes_to_instroomgroep", PS,
	 {{C12}, {"noah|2023-01-15||7001/1/2026-11-01/-"}, {0},
	  {"tom|noah:VADER"}},
	 {.weeks = 7}, NULL,
	 "U parnassys:guardian:tom of=[{\"externalId\":"
	 "\"parnassys:student:noah\",\"relation\":\"VADER\"}]\n"
	 "U parnassys:student:noah year=- pre=true\n"
	 "G lasync:instroom \"Instroomgroep\"|\"instroom\"|[]|primary=true "
	 "members=parnassys:student:noah\n",
	 NULL},
	{"test_r13_window_is_seven_n_days_inclusive", PS,
	 {{0},
	  {"in|2023-01-17", "out|2023-01-18"}},
	 {.weeks = 7}, NULL,
	 "U parnassys:student:in year=- pre=true\n"
	 "G lasync:instroom \"Instroomgroep\"|\"instroom\"|[]|primary=true "
	 "members=parnassys:student:in\n",
	 "students=1 guardians=0 staff=0 groups=1 under4=1 leavers=0 "
	 "secret=0"},
	{"test_r13_fourth_birthday_moves_to_las_group", PS,
	 {{C12}, {"noah|2022-11-29||7001/1/2026-11-29/-"}}, {.weeks = 7},
	 NULL,
	 "U parnassys:student:noah year=\"1\" pre=false\n"
	 "G parnassys:jaargroep:7001:1 \"1/2A\"|\"jaargroep\"|[\"1\"]|"
	 "primary=true members=parnassys:student:noah\n",
	 NULL},
	{"test_r13_four_without_counting_placement_stays_in_instroom", PS,
	 {{C12}, {"noah|2022-11-20||7001/1/2026-12-01/-", "old||"}},
	 {.weeks = 7}, NULL,
	 "U parnassys:student:noah year=- pre=true\n"
	 "U parnassys:student:old year=- pre=false\n"
	 "G lasync:instroom \"Instroomgroep\"|\"instroom\"|[]|primary=true "
	 "members=parnassys:student:noah\n",
	 NULL},
	{"test_r13_no_instroomgroep_without_setting", PS,
	 {{C12}, {"noah|2022-11-20||7001/1/2026-12-01/-"}}, {0}, NULL,
	 "U parnassys:student:noah year=- pre=false\n", NULL},
	{"test_r13_leap_day_birthday_four_on_1_march", PS,
	 {{0}, {"leap|2096-02-29"}}, {0}, "2100-02-28", "",
	 "students=0 guardians=0 staff=0 groups=0 under4=1 leavers=0 "
	 "secret=0"},
	{"test_r13_leap_day_birthday_imported_on_1_march", PS,
	 {{0}, {"leap|2096-02-29"}}, {0}, "2100-03-01",
	 "U parnassys:student:leap year=- pre=false\n", NULL},
	/* R15 */
	{"test_r15_composite_groups_leading", PS,
	 {{C12, C3, SUB},
	  {"a|||7001/1/" YEAR, "b|||7001/2/" YEAR ";7101//" YEAR,
	   "c|||7002/3/" YEAR}},
	 {.leading = true}, NULL,
	 "U parnassys:student:a year=\"1\" pre=false\n"
	 "U parnassys:student:b year=\"2\" pre=false\n"
	 "U parnassys:student:c year=\"3\" pre=false\n"
	 "G parnassys:jaargroep:7001:1 \"Groep 1 (1/2A)\"|\"jaargroep\"|"
	 "[\"1\"]|primary=false members=parnassys:student:a\n"
	 "G parnassys:jaargroep:7001:2 \"Groep 2 (1/2A)\"|\"jaargroep\"|"
	 "[\"2\"]|primary=false members=parnassys:student:b\n"
	 "G parnassys:jaargroep:7002:3 \"Groep 3\"|\"jaargroep\"|[\"3\"]|"
	 "primary=true members=parnassys:student:c\n"
	 "G parnassys:samengesteld:7001 \"1/2A\"|\"samengesteld\"|"
	 "[\"1\",\"2\"]|primary=true members=parnassys:jaargroep:7001:1(G),"
	 "parnassys:jaargroep:7001:2(G)\n"
	 "G parnassys:samengesteld:7101 \"Rekenplus\"|\"samengesteld\"|"
	 "[\"2\"]|primary=true members=parnassys:student:b\n",
	 NULL},
	/* R16 */
	{"test_r16_leaver_not_imported", PS,
	 {{C3},
	  {"gone||2026-11-28|7002/3/" YEAR, "today||2026-11-29|7002/3/" YEAR},
	  {0},
	  {"p|gone:VADER", "q|gone:MOEDER,today:MOEDER"}},
	 {0}, NULL,
	 "U parnassys:guardian:q of=[{\"externalId\":"
	 "\"parnassys:student:today\",\"relation\":\"MOEDER\"}]\n"
	 "U parnassys:student:today year=\"3\" pre=false\n"
	 "G parnassys:jaargroep:7002:3 \"Groep 3\"|\"jaargroep\"|[\"3\"]|"
	 "primary=true members=parnassys:student:today\n",
	 "students=1 guardians=1 staff=0 groups=1 under4=0 leavers=1 "
	 "secret=0"},
	/* R10 */
	{"test_r10_secret_address_dropped", PS,
	 {{0}, {"a"}, {0},
	  {"p|a:VADER|Eikenweg,40,,1235 EF,Utrecht,1|030-1,1|06-1,0"}},
	 {0}, NULL,
	 "U parnassys:guardian:p of=[{\"externalId\":"
	 "\"parnassys:student:a\",\"relation\":\"VADER\"}]\n"
	 "U parnassys:student:a year=- pre=false\n",
	 "students=1 guardians=1 staff=0 groups=0 under4=0 leavers=0 "
	 "secret=2"},
};
#pragma GCC diagnostic pop

static void stats_text(char *buf, size_t n, const mapper_rules_stats *s)
{
	snprintf(buf, n,
		 "students=%zu guardians=%zu staff=%zu groups=%zu under4=%zu "
		 "leavers=%zu secret=%zu",
		 s->students, s->guardians, s->staff, s->groups,
		 s->under4_skipped, s->leavers, s->secret_dropped);
}

static void test_rules_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const rule_case *c = &cases[i];
		lasync_school *s = build(c->vendor, &c->sp);
		lasync_settings set;
		mapper_rules_stats stats;
		char err[256] = "", st_text[256];
		mapper_rules_in in = {s, "t1", "99ZZ", "00", &set,
				      c->date ? c->date : "2026-11-29"};
		lasync_state *out;
		char *got;

		settings_for(&set, &c->tw);
		out = mapper_rules_apply(&in, &stats, err, sizeof(err));
		if (out == NULL) {
			print_error("%s: got error %s\n", c->name, err);
			fail();
		}
		got = dump_short(out);
		if (strcmp(got, c->want) != 0) {
			print_error("%s: got:\n%s\nwant:\n%s\n", c->name, got,
				    c->want);
			fail();
		}
		stats_text(st_text, sizeof(st_text), &stats);
		if (c->want_stats && strcmp(st_text, c->want_stats) != 0) {
			print_error("%s: got stats %s, want %s\n", c->name,
				    st_text, c->want_stats);
			fail();
		}
		free(got);
		lasync_state_free(out);
		settings_done(&set);
		lasync_school_free(s);
	}
}

/* ---------- single-purpose cases ---------- */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static void test_r1_other_brin_rejected(void **state)
{
	static const struct {
		const char *name, *brin, *dep, *want;
	} rows[] = {
		{"other_brin", "11AA", "00",
		 "snapshot holds BRIN 99ZZ dependance 00, tenant has BRIN 11AA "
		 "dependance 00 (R1)"},
		{"other_dependance", "99ZZ", "01",
		 "snapshot holds BRIN 99ZZ dependance 00, tenant has BRIN 99ZZ "
		 "dependance 01 (R1)"},
		{"no_tenant_brin", NULL, "00",
		 "snapshot holds BRIN 99ZZ dependance 00, tenant has BRIN "
		 "(none) dependance 00 (R1)"},
	};
	spec sp = {{C3}, {"a|||7002/3/" YEAR}};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		lasync_school *s = build(PS, &sp);
		mapper_rules_in in = {s, "t1", rows[i].brin, rows[i].dep, NULL,
				      "2026-11-29"};
		char err[256] = "";
		lasync_state *out = mapper_rules_apply(&in, NULL, err,
						       sizeof(err));

		if (out != NULL || strcmp(err, rows[i].want) != 0) {
			print_error("%s: got %p \"%s\", want NULL \"%s\"\n",
				    rows[i].name, (void *)out, err,
				    rows[i].want);
			fail();
		}
		lasync_school_free(s);
	}
}

static void test_rules_bad_sync_date_rejected(void **state)
{
	spec sp = {{C3}, {"a"}};
	lasync_school *s = build(PS, &sp);
	mapper_rules_in in = {s, "t1", "99ZZ", "00", NULL, "29-11-2026"};
	char err[256] = "";

	(void)state;
	assert_null(mapper_rules_apply(&in, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "is not YYYY-MM-DD"));
	lasync_school_free(s);
}

/* runs the rules on one spec; the caller frees the state */
static lasync_state *apply_at(int vendor, const spec *sp, const tweaks *tw,
			      const char *date, mapper_rules_stats *stats)
{
	lasync_school *s = build(vendor, sp);
	lasync_settings set;
	char err[256] = "";
	mapper_rules_in in = {s, "t1", "99ZZ", "00", &set, date};
	lasync_state *out;

	settings_for(&set, tw);
	out = mapper_rules_apply(&in, stats, err, sizeof(err));
	if (out == NULL) {
		print_error("got error %s\n", err);
		fail();
	}
	settings_done(&set);
	lasync_school_free(s);
	return out;
}

static lasync_state *apply(int vendor, const spec *sp, const tweaks *tw,
			   mapper_rules_stats *stats)
{
	return apply_at(vendor, sp, tw, "2026-11-29", stats);
}

static void expect_attr(const lasync_state *st, const char *ext,
			const char *path, const char *want)
{
	const lasync_sres *r = lasync_state_find(st, LASYNC_RES_USER, ext);
	const char *got = r ? lasync_sres_get(r, path) : NULL;

	if (!lasync_streq(got, want)) {
		print_error("%s %s: got %s, want %s\n", ext, path,
			    got ? got : "(absent)", want ? want : "(absent)");
		fail();
	}
}

static void test_r10_secret_contact_data(void **state)
{
	static const char *const g =
		"p|a:VADER|Eikenweg,40,,1235 EF,Utrecht,1|030-1,1|06-1,0";
	static const char *const gid = "parnassys:guardian:p";
	spec sp = {{0}, {"a"}, {0}, {g}};
	tweaks off = {0}, on = {.secret = true};
	mapper_rules_stats stats;
	lasync_state *st;

	(void)state;
	/* test_r10_secret_address_dropped, test_r10_secret_phone_dropped */
	st = apply(PS, &sp, &off, &stats);
	expect_attr(st, gid, LASYNC_A_ADDR_HOME, NULL);
	expect_attr(st, gid, LASYNC_A_PHONE_HOME, NULL);
	expect_attr(st, gid, LASYNC_A_PHONE_MOBILE,
		    "{\"type\":\"mobile\",\"value\":\"06-1\"}");
	assert_int_equal(stats.secret_dropped, 2);
	lasync_state_free(st);
	/* test_r10_import_secret_contact_data */
	st = apply(PS, &sp, &on, &stats);
	expect_attr(st, gid, LASYNC_A_ADDR_HOME,
		    "{\"locality\":\"Utrecht\",\"postalCode\":\"1235 EF\","
		    "\"streetAddress\":\"Eikenweg 40\",\"type\":\"home\"}");
	expect_attr(st, gid, LASYNC_A_PHONE_HOME,
		    "{\"type\":\"home\",\"value\":\"030-1\"}");
	assert_int_equal(stats.secret_dropped, 0);
	lasync_state_free(st);
}

/* ESIS guardians carry the emergency number; ParnasSys ones never */
static void test_r6_emergency_phone_esis_only(void **state)
{
	spec sp = {{0}, {"a"}, {0}, {"p|a:vader|||||06-9,0"}};
	tweaks tw = {0};
	lasync_state *st;

	(void)state;
	st = apply(ESIS, &sp, &tw, NULL);
	expect_attr(st, "esis:guardian:p", LASYNC_A_EMERGENCY, "\"06-9\"");
	expect_attr(st, "esis:guardian:p", LASYNC_A_ADDR_HOME, NULL);
	lasync_state_free(st);
	st = apply(PS, &sp, &tw, NULL);
	expect_attr(st, "parnassys:guardian:p", LASYNC_A_EMERGENCY, NULL);
	lasync_state_free(st);
}

static void test_r11_staff_role(void **state)
{
	spec sp = {{0}, {0}, {"m|"}};
	tweaks def = {0}, own = {.role = "Medewerker"};
	lasync_state *st;

	(void)state;
	st = apply(PS, &sp, &def, NULL);
	expect_attr(st, "parnassys:staff:m", LASYNC_A_ROLES,
		    "[{\"value\":\"Leerkracht\"}]");
	lasync_state_free(st);
	st = apply(PS, &sp, &own, NULL);
	expect_attr(st, "parnassys:staff:m", LASYNC_A_ROLES,
		    "[{\"value\":\"Medewerker\"}]");
	lasync_state_free(st);
}

static void test_r13_fourth_birthday_dates(void **state)
{
	static const struct {
		const char *birth, *want;
	} rows[] = {
		{"2022-11-29", "2026-11-29"}, {"2020-02-29", "2024-02-29"},
		{"2096-02-29", "2100-03-01"}, {"2023-01-15", "2027-01-15"},
		{"2023-02-30", NULL},	      {"x", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[11] = "";
		int rc = mapper_rules_fourth_birthday(rows[i].birth, out);

		if (rows[i].want == NULL ? rc == 0
					 : rc != 0 ||
						   strcmp(out, rows[i].want) != 0) {
			print_error("%s: got rc=%d %s, want %s\n",
				    rows[i].birth, rc, out,
				    rows[i].want ? rows[i].want : "error");
			fail();
		}
	}
}

/* the same school with its lists in another order maps identically */
static void test_rules_deterministic_order(void **state)
{
	spec a = {{C12, SUB, C3},
		  {"x|||7001/1/" YEAR ";7101//" YEAR, "y|||7001/2/" YEAR,
		   "z|||7002/3/" YEAR},
		  {"m|7001,7101,7002"},
		  {"p|x:VADER,y:VADER,z:VADER"}};
	spec b = {{C3, SUB, C12},
		  {"z|||7002/3/" YEAR, "y|||7001/2/" YEAR,
		   "x|||7101//" YEAR ";7001/1/" YEAR},
		  {"m|7002,7101,7001"},
		  {"p|z:VADER,x:VADER,y:VADER"}};
	tweaks tw = {0};
	lasync_state *sa = apply(PS, &a, &tw, NULL);
	lasync_state *sb = apply(PS, &b, &tw, NULL);
	char *da = dump_full(sa), *db = dump_full(sb);

	(void)state;
	if (strcmp(da, db) != 0) {
		print_error("got:\n%s\nwant:\n%s\n", db, da);
		fail();
	}
	free(da);
	free(db);
	lasync_state_free(sa);
	lasync_state_free(sb);
}

#pragma GCC diagnostic pop

/* ---------- the example school ---------- */

#define U "urn:lasync:scim:school:1.0:User:"
#define G "urn:lasync:scim:school:1.0:Group:"
static const char example_want[] =
	"U parnassys:guardian:200001\n"
	"  active = true\n"
	"  addresses[type eq \"home\"] = {\"locality\":\"Utrecht\","
	"\"postalCode\":\"1234 AB\",\"streetAddress\":\"Lindelaan 12 B\","
	"\"type\":\"home\"}\n"
	"  displayName = \"Anna de Vries\"\n"
	"  emails[type eq \"home\"] = {\"type\":\"home\","
	"\"value\":\"anna.devries@example.nl\"}\n"
	"  name.familyName = \"Vries\"\n"
	"  name.givenName = \"Anna\"\n"
	"  phoneNumbers[type eq \"home\"] = {\"type\":\"home\","
	"\"value\":\"030-1234567\"}\n"
	"  phoneNumbers[type eq \"mobile\"] = {\"type\":\"mobile\","
	"\"value\":\"06-12345678\"}\n"
	"  " U "guardianOf = [{\"externalId\":\"parnassys:student:100001\","
	"\"relation\":\"MOEDER\"},{\"externalId\":"
	"\"parnassys:student:100003\",\"relation\":\"MOEDER\"}]\n"
	"  " U "kind = \"guardian\"\n"
	"  " U "nameInfix = \"de\"\n"
	"U parnassys:guardian:200002\n"
	"  active = true\n"
	"  addresses[type eq \"home\"] = {\"locality\":\"Utrecht\","
	"\"postalCode\":\"1234 AB\",\"streetAddress\":\"Lindelaan 12 B\","
	"\"type\":\"home\"}\n"
	"  displayName = \"Pieter de Vries\"\n"
	"  name.familyName = \"Vries\"\n"
	"  name.givenName = \"Pieter\"\n"
	"  " U "guardianOf = [{\"externalId\":\"parnassys:student:100001\","
	"\"relation\":\"VADER\"},{\"externalId\":"
	"\"parnassys:student:100003\",\"relation\":\"VADER\"}]\n"
	"  " U "kind = \"guardian\"\n"
	"  " U "nameInfix = \"de\"\n"
	"U parnassys:guardian:200003\n"
	"  active = true\n"
	"  addresses[type eq \"home\"] = {\"locality\":\"Utrecht\","
	"\"postalCode\":\"1234 CD\",\"streetAddress\":\"Kastanjestraat 3\","
	"\"type\":\"home\"}\n"
	"  displayName = \"Fatima Jansen-El Amrani\"\n"
	"  emails[type eq \"home\"] = {\"type\":\"home\","
	"\"value\":\"F.Jansen@Example.NL\"}\n"
	"  name.familyName = \"Jansen-El Amrani\"\n"
	"  name.givenName = \"Fatima\"\n"
	"  phoneNumbers[type eq \"mobile\"] = {\"type\":\"mobile\","
	"\"value\":\"06-22223333\"}\n"
	"  " U "guardianOf = [{\"externalId\":\"parnassys:student:100002\","
	"\"relation\":\"MOEDER\"}]\n"
	"  " U "kind = \"guardian\"\n"
	"U parnassys:staff:300001\n"
	"  active = true\n"
	"  displayName = \"Marieke Smit\"\n"
	"  emails[type eq \"work\"] = {\"type\":\"work\","
	"\"value\":\"m.smit@delinde.example.nl\"}\n"
	"  name.familyName = \"Smit\"\n"
	"  name.givenName = \"Marieke\"\n"
	"  roles = [{\"value\":\"Leerkracht\"}]\n"
	"  " U "kind = \"staff\"\n"
	"U parnassys:staff:300002\n"
	"  active = true\n"
	"  displayName = \"Ahmed Yilmaz\"\n"
	"  emails[type eq \"work\"] = {\"type\":\"work\","
	"\"value\":\"a.yilmaz@delinde.example.nl\"}\n"
	"  name.familyName = \"Yilmaz\"\n"
	"  name.givenName = \"Ahmed\"\n"
	"  roles = [{\"value\":\"Leerkracht\"}]\n"
	"  " U "kind = \"staff\"\n"
	"U parnassys:staff:300003\n"
	"  active = true\n"
	"  displayName = \"Ingrid van Dam\"\n"
	"  emails[type eq \"work\"] = {\"type\":\"work\","
	"\"value\":\"i.vandam@delinde.example.nl\"}\n"
	"  name.familyName = \"Dam\"\n"
	"  name.givenName = \"Ingrid\"\n"
	"  roles = [{\"value\":\"Leerkracht\"}]\n"
	"  " U "kind = \"staff\"\n"
	"  " U "nameInfix = \"van\"\n"
	"U parnassys:student:100001\n"
	"  active = true\n"
	"  displayName = \"Emma de Vries\"\n"
	"  hint:firstName = \"Emma\"\n"
	"  name.familyName = \"Vries\"\n"
	"  name.givenName = \"Emma\"\n"
	"  " U "birthDate = \"2021-09-12\"\n"
	"  " U "kind = \"student\"\n"
	"  " U "nameInfix = \"de\"\n"
	"  " U "preschool = false\n"
	"  " U "yearLevel = \"2\"\n"
	"U parnassys:student:100002\n"
	"  active = true\n"
	"  displayName = \"Daan Jansen\"\n"
	"  hint:firstName = \"Daan\"\n"
	"  name.familyName = \"Jansen\"\n"
	"  name.givenName = \"Daan\"\n"
	"  " U "birthDate = \"2022-03-03\"\n"
	"  " U "kind = \"student\"\n"
	"  " U "preschool = false\n"
	"  " U "yearLevel = \"1\"\n"
	"U parnassys:student:100003\n"
	"  active = true\n"
	"  displayName = \"Sara de Vries\"\n"
	"  hint:firstName = \"Sara\"\n"
	"  name.familyName = \"Vries\"\n"
	"  name.givenName = \"Sara\"\n"
	"  " U "birthDate = \"2019-05-20\"\n"
	"  " U "kind = \"student\"\n"
	"  " U "nameInfix = \"de\"\n"
	"  " U "preschool = false\n"
	"  " U "yearLevel = \"3\"\n"
	"G parnassys:jaargroep:7001:1\n"
	"  displayName = \"Groep 1 (1/2A)\"\n"
	"  " G "kind = \"jaargroep\"\n"
	"  " G "lasOrphaned = false\n"
	"  " G "parentsSeeAllYearGroups = false\n"
	"  " G "primary = true\n"
	"  " G "yearLevels = [\"1\"]\n"
	"  member parnassys:staff:300001\n"
	"  member parnassys:staff:300003\n"
	"  member parnassys:student:100002\n"
	"G parnassys:jaargroep:7001:2\n"
	"  displayName = \"Groep 2 (1/2A)\"\n"
	"  " G "kind = \"jaargroep\"\n"
	"  " G "lasOrphaned = false\n"
	"  " G "parentsSeeAllYearGroups = false\n"
	"  " G "primary = true\n"
	"  " G "yearLevels = [\"2\"]\n"
	"  member parnassys:staff:300001\n"
	"  member parnassys:staff:300003\n"
	"  member parnassys:student:100001\n"
	"G parnassys:jaargroep:7002:3\n"
	"  displayName = \"Groep 3\"\n"
	"  " G "kind = \"jaargroep\"\n"
	"  " G "lasOrphaned = false\n"
	"  " G "parentsSeeAllYearGroups = false\n"
	"  " G "primary = true\n"
	"  " G "yearLevels = [\"3\"]\n"
	"  member parnassys:staff:300002\n"
	"  member parnassys:staff:300003\n"
	"  member parnassys:student:100003\n"
	"G parnassys:samengesteld:7001\n"
	"  displayName = \"1/2A\"\n"
	"  " G "kind = \"samengesteld\"\n"
	"  " G "lasOrphaned = false\n"
	"  " G "parentsSeeAllYearGroups = false\n"
	"  " G "primary = false\n"
	"  " G "yearLevels = [\"1\",\"2\"]\n"
	"  member parnassys:jaargroep:7001:1 (group)\n"
	"  member parnassys:jaargroep:7001:2 (group)\n"
	"G parnassys:samengesteld:7101\n"
	"  displayName = \"Rekenplus\"\n"
	"  " G "kind = \"samengesteld\"\n"
	"  " G "lasOrphaned = false\n"
	"  " G "parentsSeeAllYearGroups = false\n"
	"  " G "primary = false\n"
	"  " G "yearLevels = [\"3\"]\n"
	"  member parnassys:staff:300002\n"
	"  member parnassys:staff:300003\n"
	"  member parnassys:student:100003\n";
#undef U
#undef G

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = lasync_xmalloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* The example school at 2026-11-29, default settings: Noah Bakker (born
 * 2023-01-15) is 3, so neither he nor Tom Bakker (his only guardian) is
 * imported; Pieter's secret mobile is dropped; Emma and Daan share 1/2A,
 * which splits into Groep 1 and Groep 2 under a samengestelde groep. */
static void test_rules_example_school(void **state)
{
	const char *names[3] = {"getLeerlingen", "getMedewerkers",
				"getVerzorgers"};
	mapper_doc docs[3];
	char *data[3], err[512] = "", *got, st_text[256];
	lasync_school *s = NULL;
	lasync_settings set;
	mapper_rules_stats stats;
	lasync_state *out;

	(void)state;
	for (int i = 0; i < 3; i++) {
		char *path = lasync_xasprintf("%s/las/parnassys/99ZZ/%s.xml",
					      LASYNC_FIXTURES, names[i]);

		data[i] = read_file(path, &docs[i].len);
		if (data[i] == NULL) {
			print_error("fixture %s missing\n", path);
			fail();
		}
		docs[i].name = names[i];
		docs[i].data = data[i];
		free(path);
	}
	if (mapper_adapter_for(1)->parse(docs, 3, "99ZZ", "00", NULL, &s, err,
					 sizeof(err)) != 0) {
		print_error("parse: %s\n", err);
		fail();
	}
	lasync_settings_defaults(&set);
	mapper_rules_in in = {s, "t1", "99ZZ", "00", &set, "2026-11-29"};

	out = mapper_rules_apply(&in, &stats, err, sizeof(err));
	assert_non_null(out);
	got = dump_full(out);
	if (strcmp(got, example_want) != 0) {
		print_error("got:\n%s\nwant:\n%s\n", got, example_want);
		fail();
	}
	stats_text(st_text, sizeof(st_text), &stats);
	assert_string_equal(st_text, "students=3 guardians=3 staff=3 groups=5 "
				     "under4=1 leavers=0 secret=1");
	free(got);
	lasync_state_free(out);
	settings_done(&set);
	lasync_school_free(s);
	for (int i = 0; i < 3; i++)
		free(data[i]);
}

/* ---------- the validity window ---------- */

/* day_text - a day number as YYYY-MM-DD (Hinnant's civil_from_days) */
static void day_text(long z, char out[32])
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	long m = mp < 10 ? mp + 3 : mp - 9;

	snprintf(out, 32, "%04d-%02d-%02d", (int)(y + (m <= 2)), (int)m, (int)d);
}

static long day_of(const char *s)
{
	long d = 0;

	assert_true(mapper_rules_day(s, &d));
	return d;
}

/* Every date decision at once: R13 before and inside the preschool window,
 * a 4-year-old waiting for a placement (R13, Instroomgroep), placements
 * that begin and end (R3), a subgroup placement, a leaver (R16). */
static const spec window_school = {
	{C12, C3, SUB},
	{"noah|2023-01-15||7001/1/2026-11-01/-",
	 "liv|2022-12-20||7001/1/2027-01-05/-",
	 "emma|||7001/2/2026-08-01/2027-07-31",
	 "daan|2018-03-03|2027-03-31|7002/3/2026-08-01/2027-07-31;"
	 "7101/-/2026-09-01/2026-12-31",
	 "sam|||7002/3/2027-02-01/-"},
	{"s1|7001,7101"},
	{"anna|noah:MOEDER,emma:MOEDER", "piet|daan:VADER"},
};

/* The window the rules report is sound: for every day of a school year
 * and a half, the next day inside the window maps to the same desired
 * state; and tight enough to be of use. */
static void test_r3_r13_r16_window_sound(void **state)
{
	tweaks tw = {.weeks = 7};
	long first = day_of("2026-06-01"), last = first + 540;
	char *prev = NULL;
	mapper_rules_stats prev_st = {0};
	size_t open_days = 0;

	(void)state;
	for (long day = first; day <= last; day++) {
		char date[32];
		mapper_rules_stats st;
		lasync_state *out;
		char *dump;

		day_text(day, date);
		out = apply_at(PS, &window_school, &tw, date, &st);
		dump = dump_full(out);
		lasync_state_free(out);
		if (st.valid_from > day || st.valid_until <= day) {
			print_error("%s: window [%ld, %ld) misses day %ld\n",
				    date, st.valid_from, st.valid_until, day);
			fail();
		}
		if (prev != NULL && day < prev_st.valid_until &&
		    strcmp(prev, dump) != 0) {
			print_error("%s lies in the window of the day before "
				    "(until %ld) but maps differently:\n%s\n"
				    "---\n%s\n",
				    date, prev_st.valid_until, prev, dump);
			fail();
		}
		if (st.valid_until - day > 1)
			open_days++;
		free(prev);
		prev = dump;
		prev_st = st;
	}
	free(prev);
	/* the school has ~12 date boundaries in 541 days */
	assert_true(open_days > 500);
}

/* The window at 2026-11-29, worked out by hand.  The example school: noah
 * enters the preschool window on 2026-11-27 (7 weeks before his 4th
 * birthday), and the next decision to flip is liv turning 4 on 2026-12-20;
 * without the preschool setting noah's window does not matter and daan's
 * Rekenplus placement (from 2026-09-01) is the latest threshold passed.  A
 * date that is not a calendar date pins the window to the sync date; a
 * school whose only date is a birth long past has a window open to the
 * future (build() gives a student born 2019-01-01 when the spec has no
 * birth date: 4 on 2023-01-01). */
static void test_r3_r13_r16_window_bounds(void **state)
{
	static const spec bad = {{C3}, {"x|||7002/3/2026-13-45/-"}, {0}, {0}};
	static const spec none = {{C3}, {"y|||7002/3"}, {0}, {0}};
	static const struct {
		const spec *sp;
		unsigned weeks;
		const char *from, *until; /* until NULL: open */
	} rows[] = {
		{&window_school, 7, "2026-11-27", "2026-12-20"},
		{&window_school, 0, "2026-09-01", "2026-12-20"},
		{&bad, 0, "2026-11-29", "2026-11-30"},
		{&none, 0, "2023-01-01", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tweaks tw = {.weeks = rows[i].weeks};
		mapper_rules_stats st;
		lasync_state *out =
			apply_at(PS, rows[i].sp, &tw, "2026-11-29", &st);
		long until = rows[i].until ? day_of(rows[i].until) : LONG_MAX;

		if (st.valid_from != day_of(rows[i].from) ||
		    st.valid_until != until) {
			print_error("row %zu: got [%ld, %ld), want [%ld, %ld)\n",
				    i, st.valid_from, st.valid_until,
				    day_of(rows[i].from), until);
			fail();
		}
		lasync_state_free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_table),
		cmocka_unit_test(test_r1_other_brin_rejected),
		cmocka_unit_test(test_rules_bad_sync_date_rejected),
		cmocka_unit_test(test_r10_secret_contact_data),
		cmocka_unit_test(test_r6_emergency_phone_esis_only),
		cmocka_unit_test(test_r11_staff_role),
		cmocka_unit_test(test_r13_fourth_birthday_dates),
		cmocka_unit_test(test_rules_deterministic_order),
		cmocka_unit_test(test_rules_example_school),
		cmocka_unit_test(test_r3_r13_r16_window_sound),
		cmocka_unit_test(test_r3_r13_r16_window_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
