/*
 * mapper_rules.c - school model + settings + sync date -> desired portal
 * state (R1, R3, R4, R8, R10-R16; see docs/mapping.md).
 *
 *   mapper_rules_apply()            the whole mapping, one call per sync
 *   mapper_rules_fourth_birthday()  R13's date arithmetic, for tests too
 *
 * Order of work: R1; classify students (leaver R16, under 4 R13, the
 * placements that count on the sync date, the Instroomgroep); groups from
 * the counting placements, sorted as (group, year, student) tuples so that
 * each group is one run (R3/R4, R15); users (students, guardians with an
 * imported child, staff with their group memberships R12).  Everything the
 * LAS did not give is simply not set: for strong attributes the diff turns
 * that into a removal, for sticky ones (e-mail) into nothing.
 *
 * Decisions where DESIGN is silent (docs/mapping.md explains them):
 *  - a placement counts when from <= date <= until (missing = open); every
 *    counting placement makes a membership; a student's yearLevel comes from
 *    the counting lesgroep placement that started last;
 *  - 29 February + 4 years in a common year is 1 March;
 *  - a 4-year-old (not yet 5) without a counting lesgroep placement stays in
 *    the Instroomgroep while preschool_import_weeks > 0;
 *  - every group gets yearLevels (possibly []), lasOrphaned=false and
 *    parentsSeeAllYearGroups=false; the Instroomgroep is primary;
 *  - a guardian with no roepnaam shows voorletters in displayName.
 * Personal data never reaches a log line: ids and counts only.
 */
#include "mapper_rules.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_attr.h"
#include "lasync_log.h"
#include "lasync_match.h"
#include "lasync_mem.h"

#define INSTROOM_ID "lasync:instroom"
#define INSTROOM_NAME "Instroomgroep"
#define DEFAULT_ROLE "Leerkracht"

/* Per student: what the rules decided. */
typedef struct stu_info {
	bool imported;
	bool under4;		/* imported early into the Instroomgroep */
	bool instroom;		/* member of the Instroomgroep */
	const char *year;	/* yearLevel, NULL when none */
} stu_info;

/* One counting placement: (group, year, student). */
typedef struct tuple {
	const lasync_lgroup *g;
	const char *year;	/* NULL for subgroups */
	const lasync_student *st;
} tuple;

/* Per model group: the portal groups it became, for staff (R3/R12). */
typedef struct group_map {
	char **ids;		/* jaargroepen, or the samengestelde groep */
	size_t n;
} group_map;

typedef struct rules {
	const mapper_rules_in *in;
	const lasync_school *s;
	const lasync_settings *set;
	const char *vendor;	/* "parnassys" | "esis" */
	lasync_state *out;
	mapper_rules_stats *stats;
	stu_info *info;		/* parallel to s->students */
	group_map *gmap;	/* parallel to s->groups */
	lasync_state_text id;	/* scratch of user_id() */
	lasync_state_text val;	/* scratch for composed values */
	long today;		/* the sync date as a day number */
} rules;

/* ---------- dates ---------- */

/* is_leap - Gregorian leap year */
static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* parse_date - "YYYY-MM-DD" into numbers, checked against the calendar */
static bool parse_date(const char *s, int *y, int *m, int *d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	*y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	     (s[3] - '0');
	*m = (s[5] - '0') * 10 + (s[6] - '0');
	*d = (s[8] - '0') * 10 + (s[9] - '0');
	if (*m < 1 || *m > 12 || *d < 1)
		return false;
	return *d <= (*m == 2 && is_leap(*y) ? 29 : mdays[*m - 1]);
}

/* days_from_civil - days since 1970-01-01 (Howard Hinnant's algorithm) */
static long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* birthday_at - the date a child born on birth turns n, into out[11] */
static int birthday_at(const char *birth, int n, char out[11])
{
	int y, m, d;

	if (!parse_date(birth, &y, &m, &d))
		return -1;
	y += n;
	if (m == 2 && d == 29 && !is_leap(y)) {
		m = 3;	/* not 4 until the day after 28 February */
		d = 1;
	}
	if (y > 9999)
		return -1;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
	return 0;
}

/* mapper_rules_fourth_birthday - R13's reference date */
int mapper_rules_fourth_birthday(const char *birth, char out[11])
{
	return birthday_at(birth, 4, out);
}

/* date_days - a checked date as a day number */
static long date_days(const char *s)
{
	int y, m, d;

	if (!parse_date(s, &y, &m, &d))
		return 0;
	return days_from_civil(y, m, d);
}

/* mapper_rules_day - a YYYY-MM-DD date as days since 1970-01-01 */
bool mapper_rules_day(const char *s, long *out)
{
	int y, m, d;

	if (s == NULL || !parse_date(s, &y, &m, &d))
		return false;
	*out = days_from_civil(y, m, d);
	return true;
}

/*
 * The validity window.  Every decision that depends on the sync date is a
 * comparison "sync date < t" for some day t; whichever way it goes, the
 * mapping holds for every sync date on the same side of t.  Narrowing the
 * window [valid_from, valid_until) at each comparison actually made leaves
 * the sync dates for which every decision, and so the desired state,
 * comes out the same (the mapper's unchanged-snapshot fast path relies on
 * it).  A date that is not a calendar date pins the window to the day.
 */
static void narrow(rules *r, bool before, long t)
{
	if (before) {
		if (t < r->stats->valid_until)
			r->stats->valid_until = t;
	} else if (t > r->stats->valid_from) {
		r->stats->valid_from = t;
	}
}

static void pin(rules *r)
{
	narrow(r, false, r->today);
	narrow(r, true, r->today + 1);
}

/* before - is the sync date before s?  (s as the LAS gave it) */
static bool before(rules *r, const char *s)
{
	bool b = strcmp(r->in->sync_date, s) < 0;
	long t;

	if (mapper_rules_day(s, &t))
		narrow(r, b, t);
	else
		pin(r);
	return b;
}

/* after - is the sync date after s, i.e. not before the day after it? */
static bool after(rules *r, const char *s)
{
	bool a = strcmp(r->in->sync_date, s) > 0;
	long t;

	if (mapper_rules_day(s, &t))
		narrow(r, !a, t + 1);
	else
		pin(r);
	return a;
}

/* counts - does a placement count on the sync date (from <= date <=
 * until)? */
static bool counts(rules *r, const lasync_placement *p)
{
	if (p->from != NULL && before(r, p->from))
		return false;
	if (p->until != NULL && after(r, p->until))
		return false;
	return true;
}

/* ---------- small helpers ---------- */

/* year_cmp - natural order: numbers by value, then other codes bytewise */
static int year_cmp(const char *a, const char *b)
{
	size_t la, lb;
	bool na = true, nb = true;

	if (a == NULL || b == NULL)
		return a == b ? 0 : a == NULL ? -1 : 1;
	for (const char *p = a; *p; p++)
		na = na && *p >= '0' && *p <= '9';
	for (const char *p = b; *p; p++)
		nb = nb && *p >= '0' && *p <= '9';
	la = strlen(a);
	lb = strlen(b);
	na = na && la > 0;
	nb = nb && lb > 0;
	if (na && nb) {
		while (la > 1 && *a == '0') {
			a++;
			la--;
		}
		while (lb > 1 && *b == '0') {
			b++;
			lb--;
		}
		if (la != lb)
			return la < lb ? -1 : 1;
		return strcmp(a, b);
	}
	if (na != nb)
		return na ? -1 : 1;
	return strcmp(a, b);
}

/* year_qcmp - year_cmp for qsort */
static int year_qcmp(const void *a, const void *b)
{
	return year_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* str_qcmp - strcmp for qsort over char pointers */
static int str_qcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* years_json - a sorted, de-duplicated JSON array of year strings, as
 * canonical text in r->val (valid until its next use) */
static const char *years_json(rules *r, const char **ys, size_t n)
{
	bool first = true;

	if (n > 1)
		qsort(ys, n, sizeof(*ys), year_qcmp);
	r->val.len = 0;
	lasync_state_text_raw(&r->val, "[");
	for (size_t i = 0; i < n; i++) {
		if (ys[i] == NULL)
			continue;
		if (i > 0 && ys[i - 1] != NULL && strcmp(ys[i - 1], ys[i]) == 0)
			continue;
		size_t mark = r->val.len;

		if (!first)
			lasync_state_text_raw(&r->val, ",");
		if (lasync_state_text_string(&r->val, ys[i]))
			first = false;
		else
			r->val.len = mark;	/* jansson would drop it */
	}
	lasync_state_text_raw(&r->val, "]");
	return r->val.s;
}

/* user_id - "<vendor>:<kind>:<las id>" in r->id (valid until the next
 * call) */
static const char *user_id(rules *r, const char *kind, const char *las_id)
{
	r->id.len = 0;
	lasync_state_text_raw(&r->id, r->vendor);
	lasync_state_text_raw(&r->id, ":");
	lasync_state_text_raw(&r->id, kind);
	lasync_state_text_raw(&r->id, ":");
	lasync_state_text_raw(&r->id, las_id);
	return r->id.s;
}

/* join3 - "a b c" of the parts that are there; NULL when none is */
static char *join3(const char *a, const char *b, const char *c)
{
	const char *p[3] = {a, b, c};
	size_t len = 0;
	char *out, *o;

	for (int i = 0; i < 3; i++)
		if (p[i] != NULL && *p[i] != '\0')
			len += strlen(p[i]) + 1;
	if (len == 0)
		return NULL;
	out = o = lasync_xmalloc(len);
	for (int i = 0; i < 3; i++) {
		if (p[i] == NULL || *p[i] == '\0')
			continue;
		size_t l = strlen(p[i]);

		if (o != out)
			*o++ = ' ';
		memcpy(o, p[i], l);
		o += l;
	}
	*o = '\0';
	return out;
}

/* set_opt_string - set a string attribute when there is a value */
static void set_opt_string(lasync_sres *res, const char *path, const char *s)
{
	if (s != NULL && *s != '\0')
		lasync_state_set_string(res, path, s);
}

/* set_person - the attributes every user has (DESIGN §5) */
static void set_person(lasync_sres *res, const char *kind, const char *roep,
		       const char *shown_first, const char *infix,
		       const char *family)
{
	char *display = join3(shown_first, infix, family);

	lasync_state_set_bool(res, LASYNC_A_ACTIVE, true);
	set_opt_string(res, LASYNC_A_GIVEN, roep);
	set_opt_string(res, LASYNC_A_INFIX, infix);
	set_opt_string(res, LASYNC_A_FAMILY, family);
	set_opt_string(res, LASYNC_A_DISPLAY, display);
	lasync_state_set_string(res, LASYNC_A_KIND, kind);
	free(display);
}

/* set_typed - path = {"type": type, "value": v} (type is plain ASCII) */
static void set_typed(rules *r, lasync_sres *u, const char *path,
		      const char *type, const char *v)
{
	r->val.len = 0;
	lasync_state_text_raw(&r->val, "{\"type\":");
	lasync_state_text_string(&r->val, type);
	size_t mark = r->val.len;

	lasync_state_text_raw(&r->val, ",\"value\":");
	if (!lasync_state_text_string(&r->val, v))
		r->val.len = mark;
	lasync_state_text_raw(&r->val, "}");
	lasync_state_set(u, path, r->val.s);
}

/* ---------- groups ---------- */

/* group_res - a group resource with the attributes every group has */
static lasync_sres *group_res(rules *r, const char *ext, const char *name,
			      const char *kind, const char *years, bool primary)
{
	lasync_sres *g = lasync_state_resource(r->out, LASYNC_RES_GROUP, ext);

	if (g->n_attrs == 0)
		r->stats->groups++;
	lasync_state_set_string(g, LASYNC_G_DISPLAY, name);
	lasync_state_set_string(g, LASYNC_G_KIND, kind);
	lasync_state_set(g, LASYNC_G_YEARS, years);
	lasync_state_set_bool(g, LASYNC_G_PRIMARY, primary);
	lasync_state_set_bool(g, LASYNC_G_ORPHANED, false);
	lasync_state_set_bool(g, LASYNC_G_PARENTS_SEE_ALL, false);
	return g;
}

/* gmap_add - record a portal group that LAS group g became */
static void gmap_add(rules *r, const lasync_lgroup *g, const char *ext)
{
	group_map *m = &r->gmap[g - r->s->groups];

	m->ids = lasync_xreallocarray(m->ids, m->n + 1, sizeof(*m->ids));
	m->ids[m->n++] = lasync_xstrdup(ext);
}

/* member_student - add a student to a group by externalId */
static void member_student(rules *r, lasync_sres *g, const lasync_student *st)
{
	lasync_state_member(g, user_id(r, "student", st->id), LASYNC_RES_USER);
}

/* tuple_cmp - (group id, year, student id) order */
static int tuple_cmp(const void *a, const void *b)
{
	const tuple *x = a, *y = b;
	int c = strcmp(x->g->id, y->g->id);

	if (c == 0)
		c = year_cmp(x->year, y->year);
	if (c == 0)
		c = strcmp(x->st->id, y->st->id);
	return c;
}

/* map_subgroup - a sublesgroep / samengestelde_groep with students: a
 * samengestelde groep uit leerlingen (R3, R4) */
static void map_subgroup(rules *r, const tuple *t, size_t n)
{
	const lasync_lgroup *g = t[0].g;
	const char **ys = lasync_xcalloc(n, sizeof(*ys));
	char *ext = lasync_xasprintf("%s:samengesteld:%s", r->vendor, g->id);
	lasync_sres *res;

	for (size_t i = 0; i < n; i++)
		ys[i] = r->info[t[i].st - r->s->students].year;
	res = group_res(r, ext, g->name, "samengesteld", years_json(r, ys, n),
			r->set->composite_groups_leading);
	for (size_t i = 0; i < n; i++)
		member_student(r, res, t[i].st);
	gmap_add(r, g, ext);
	free(ext);
	free(ys);
}

/* map_class - a lesgroep / groep with students: jaargroep(en), and a
 * samengestelde groep uit groepen when split by year (R3, R4, R15) */
static void map_class(rules *r, const tuple *t, size_t n)
{
	const lasync_lgroup *g = t[0].g;
	bool parnassys = r->s->year_placements;
	bool leading = r->set->composite_groups_leading;
	const char **ys = lasync_xcalloc(n + 1, sizeof(*ys));
	size_t n_years = 0, i, j;

	/* tuples are sorted by year within the group: count distinct ones */
	for (i = 0; i < n; i++)
		if (t[i].year != NULL &&
		    (n_years == 0 || strcmp(ys[n_years - 1], t[i].year) != 0))
			ys[n_years++] = t[i].year;

	bool split = n_years >= 2 &&
		     (parnassys || r->set->esis_split_combination_groups);

	if (!split && parnassys) {
		/* one leerjaar: the jaargroep carries the lesgroep's name */
		if (n_years == 1) {
			char *ext = lasync_xasprintf("%s:jaargroep:%s:%s",
						     r->vendor, g->id, ys[0]);
			const char *one[1] = {ys[0]};
			lasync_sres *res = group_res(r, ext, g->name, "jaargroep",
						     years_json(r, one, 1), true);

			for (i = 0; i < n; i++)
				if (t[i].year != NULL)
					member_student(r, res, t[i].st);
			gmap_add(r, g, ext);
			free(ext);
		}
	} else if (!split) {
		/* ESIS: one jaargroep whatever the years; 'C' is only a mark */
		char *ext = lasync_xasprintf("%s:jaargroep:%s", r->vendor,
					     g->id);
		size_t ny = n_years;

		if (ny == 0 && g->year_code != NULL &&
		    strcmp(g->year_code, "C") != 0)
			ys[ny++] = g->year_code;
		lasync_sres *res = group_res(r, ext, g->name, "jaargroep",
					     years_json(r, ys, ny), true);

		for (i = 0; i < n; i++)
			member_student(r, res, t[i].st);
		gmap_add(r, g, ext);
		free(ext);
	} else {
		char *cext = lasync_xasprintf("%s:samengesteld:%s", r->vendor,
					      g->id);
		lasync_sres *comp;

		for (i = 0; i < n; i = j) {
			if (t[i].year == NULL) {
				j = i + 1;
				continue;
			}
			char *ext = lasync_xasprintf("%s:jaargroep:%s:%s",
						     r->vendor, g->id,
						     t[i].year);
			char *name = lasync_xasprintf("Groep %s (%s)",
						      t[i].year, g->name);
			const char *one[1] = {t[i].year};
			lasync_sres *res = group_res(r, ext, name, "jaargroep",
						     years_json(r, one, 1),
						     !leading);

			for (j = i; j < n && t[j].year != NULL &&
				    strcmp(t[j].year, t[i].year) == 0;
			     j++)
				member_student(r, res, t[j].st);
			gmap_add(r, g, ext);
			free(name);
			free(ext);
		}
		comp = group_res(r, cext, g->name, "samengesteld",
				 years_json(r, ys, n_years), leading);
		for (i = 0; i < r->gmap[g - r->s->groups].n; i++)
			lasync_state_member(comp,
					    r->gmap[g - r->s->groups].ids[i],
					    LASYNC_RES_GROUP);
		free(cext);
	}
	free(ys);
}

/* map_groups - every counting placement of an imported student, as sorted
 * (group, year, student) tuples; each group's run maps at once */
static void map_groups(rules *r)
{
	const lasync_school *s = r->s;
	tuple *t = NULL;
	size_t n = 0, cap = 0, i, j;

	for (i = 0; i < s->n_students; i++) {
		const lasync_student *st = &s->students[i];

		if (!r->info[i].imported || r->info[i].under4)
			continue;
		for (size_t k = 0; k < st->n_placements; k++) {
			const lasync_placement *p = &st->placements[k];
			const lasync_lgroup *g;

			if (!counts(r, p))
				continue;
			g = lasync_school_group(s, p->group_id);
			if (g == NULL)
				continue;
			lasync_grow(&t, &cap, n + 1);
			t[n].g = g;
			t[n].st = st;
			t[n].year = g->kind == LASYNC_LG_CLASS
					    ? (p->year_level ? p->year_level
							     : st->year_level)
					    : NULL;
			n++;
		}
	}
	if (n > 1)
		qsort(t, n, sizeof(*t), tuple_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && t[j].g == t[i].g; j++)
			;
		/* the same student twice in one group and year is one
		 * membership; lasync_state_finish drops the duplicate */
		if (t[i].g->kind == LASYNC_LG_SUBGROUP)
			map_subgroup(r, &t[i], j - i);
		else
			map_class(r, &t[i], j - i);
	}
	free(t);
}

/* map_instroom - R13: the Instroomgroep, only when it has members */
static void map_instroom(rules *r)
{
	lasync_sres *g = NULL;

	for (size_t i = 0; i < r->s->n_students; i++) {
		if (!r->info[i].imported || !r->info[i].instroom)
			continue;
		if (g == NULL)
			g = group_res(r, INSTROOM_ID, INSTROOM_NAME, "instroom",
				      "[]", true);
		member_student(r, g, &r->s->students[i]);
	}
}

/* ---------- students ---------- */

/* classify - R16 leavers, R13 under 4, yearLevel, Instroomgroep */
static void classify(rules *r)
{
	const lasync_school *s = r->s;
	unsigned weeks = r->set->preschool_import_weeks;

	for (size_t i = 0; i < s->n_students; i++) {
		const lasync_student *st = &s->students[i];
		stu_info *inf = &r->info[i];
		const lasync_placement *best = NULL;
		char b4[11], b5[11];
		bool have_b4 = birthday_at(st->birth_date, 4, b4) == 0;

		if (st->enrolled_until != NULL &&
		    after(r, st->enrolled_until)) {
			r->stats->leavers++;
			continue;
		}
		if (have_b4 && before(r, b4)) {
			/* imported early from b4 - 7 weeks on */
			long early = date_days(b4) - 7L * (long)weeks;
			bool too_early = weeks == 0 || r->today < early;

			if (weeks > 0)
				narrow(r, too_early, early);
			if (too_early) {
				r->stats->under4_skipped++;
				continue;
			}
			inf->imported = inf->under4 = inf->instroom = true;
			inf->year = st->year_level;
			continue;
		}
		inf->imported = true;
		for (size_t k = 0; k < st->n_placements; k++) {
			const lasync_placement *p = &st->placements[k];
			const lasync_lgroup *g;

			if (!counts(r, p))
				continue;
			g = lasync_school_group(s, p->group_id);
			if (g == NULL || g->kind != LASYNC_LG_CLASS ||
			    (p->year_level == NULL && st->year_level == NULL))
				continue;
			if (best == NULL) {
				best = p;
				continue;
			}
			/* the placement that started last wins; ties by
			 * group id, then year, so the choice is stable */
			int c = lasync_streq(p->from, best->from) ? 0
				: p->from == NULL		 ? -1
				: best->from == NULL		 ? 1
						 : strcmp(p->from, best->from);

			if (c == 0)
				c = strcmp(p->group_id, best->group_id);
			if (c == 0)
				c = year_cmp(p->year_level, best->year_level);
			if (c > 0)
				best = p;
		}
		if (best != NULL)
			inf->year = best->year_level ? best->year_level
						     : st->year_level;
		else
			inf->year = st->year_level;
		/* R13: until a LAS placement counts, a new 4-year-old stays in
		 * the Instroomgroep */
		if (best == NULL && weeks > 0 && have_b4 &&
		    birthday_at(st->birth_date, 5, b5) == 0 && before(r, b5))
			inf->instroom = true;
	}
}

/* set_first_name_hint - R20 matches a student on roepnaam or first
 * voornaam: keep the first voornaam as a correlation hint (a state path
 * outside the ownership table, never written to the portal) */
static void set_first_name_hint(lasync_sres *u, const char *voornamen)
{
	char first[128];
	size_t n = 0;

	if (voornamen == NULL)
		return;
	while (voornamen[n] && voornamen[n] != ' ' && n + 1 < sizeof(first)) {
		first[n] = voornamen[n];
		n++;
	}
	first[n] = '\0';
	if (n > 0)
		lasync_state_set_string(u, LASYNC_HINT_FIRST_NAME, first);
}

/* map_students - the user resources of imported students */
static void map_students(rules *r)
{
	for (size_t i = 0; i < r->s->n_students; i++) {
		const lasync_student *st = &r->s->students[i];
		const stu_info *inf = &r->info[i];
		lasync_sres *u;

		if (!inf->imported)
			continue;
		u = lasync_state_resource(r->out, LASYNC_RES_USER,
					  user_id(r, "student", st->id));
		set_person(u, "student", st->roepnaam, st->roepnaam,
			   st->tussenvoegsel, st->achternaam);
		set_opt_string(u, LASYNC_A_BIRTH, st->birth_date);
		set_opt_string(u, LASYNC_A_YEAR, inf->year);
		set_first_name_hint(u, st->voornamen);
		lasync_state_set_bool(u, LASYNC_A_PRESCHOOL, inf->instroom);
		/* R8: no phoneNumbers, no addresses - never set */
		r->stats->students++;
	}
}

/* ---------- guardians ---------- */

/* kept_phone - a number to import, or NULL (absent, or secret: R10) */
static const char *kept_phone(rules *r, const lasync_phone *p)
{
	if (p->number == NULL || *p->number == '\0')
		return NULL;
	if (p->secret && !r->set->import_secret_contact_data) {
		r->stats->secret_dropped++;
		return NULL;
	}
	return p->number;
}

/* set_address - addresses[type eq "home"] (R6, R10): {locality,
 * postalCode, streetAddress, type} in canonical (key) order */
static void set_address(rules *r, lasync_sres *u, const lasync_address *a)
{
	const char *keys[3] = {"locality", "postalCode", "streetAddress"};
	const char *vals[3];
	char *street;
	size_t n = 0;

	if (!a->present)
		return;
	if (a->secret && !r->set->import_secret_contact_data) {
		r->stats->secret_dropped++;
		return;
	}
	street = join3(a->street, a->number, a->addition);
	vals[0] = a->city;
	vals[1] = a->postcode;
	vals[2] = street;
	r->val.len = 0;
	lasync_state_text_raw(&r->val, "{");
	for (int k = 0; k < 3; k++) {
		size_t mark = r->val.len;

		if (vals[k] == NULL)
			continue;
		lasync_state_text_raw(&r->val, n ? ",\"" : "\"");
		lasync_state_text_raw(&r->val, keys[k]);
		lasync_state_text_raw(&r->val, "\":");
		if (lasync_state_text_string(&r->val, vals[k]))
			n++;
		else
			r->val.len = mark;
	}
	free(street);
	if (n == 0)
		return;
	lasync_state_text_raw(&r->val, ",\"type\":\"home\"}");
	lasync_state_set(u, LASYNC_A_ADDR_HOME, r->val.s);
}

/* guardian_of - the guardianOf value: imported children only, elements
 * {externalId, relation} sorted by canonical text and de-duplicated, as
 * canonical text in r->val; NULL when there are none */
static const char *guardian_of(rules *r, const lasync_guardian *gd)
{
	char **canon = lasync_xcalloc(gd->n_relations + 1, sizeof(*canon));
	lasync_state_text e = {0};
	size_t n = 0;

	for (size_t k = 0; k < gd->n_relations; k++) {
		const lasync_relation *rel = &gd->relations[k];
		const lasync_student *st =
			lasync_school_student(r->s, rel->student_id);
		bool any;

		if (st == NULL || !r->info[st - r->s->students].imported)
			continue;
		e.len = 0;
		lasync_state_text_raw(&e, "{\"externalId\":");
		any = lasync_state_text_string(&e,
					       user_id(r, "student", st->id));
		if (!any)
			e.len = 1; /* "{": jansson drops the externalId */
		if (rel->type != NULL && *rel->type != '\0') {
			size_t mark = e.len;

			lasync_state_text_raw(&e, any ? ",\"relation\":"
						      : "\"relation\":");
			if (!lasync_state_text_string(&e, rel->type))
				e.len = mark;
		}
		lasync_state_text_raw(&e, "}");
		canon[n++] = lasync_xstrdup(e.s);
	}
	free(e.s);
	if (n > 1)
		qsort(canon, n, sizeof(*canon), str_qcmp);
	r->val.len = 0;
	lasync_state_text_raw(&r->val, "[");
	for (size_t k = 0; k < n; k++) {
		if (k == 0 || strcmp(canon[k - 1], canon[k]) != 0) {
			if (k > 0)
				lasync_state_text_raw(&r->val, ",");
			lasync_state_text_raw(&r->val, canon[k]);
		}
	}
	lasync_state_text_raw(&r->val, "]");
	for (size_t k = 0; k < n; k++)
		free(canon[k]);
	free(canon);
	return n > 0 ? r->val.s : NULL;
}

/* map_guardians - R13: only guardians with an imported child */
static void map_guardians(rules *r)
{
	/* the ownership table says which LAS owns it (ESIS noodnummer) */
	bool emergency = lasync_attr_applies(
		lasync_attr_find(LASYNC_RES_USER, LASYNC_A_EMERGENCY),
		LASYNC_KIND_GUARDIAN, r->s->vendor);

	for (size_t i = 0; i < r->s->n_guardians; i++) {
		const lasync_guardian *gd = &r->s->guardians[i];
		const char *of = guardian_of(r, gd);
		const char *num;
		lasync_sres *u;

		if (of == NULL)
			continue;
		/* set first: r->val is reused below */
		u = lasync_state_resource(r->out, LASYNC_RES_USER,
					  user_id(r, "guardian", gd->id));
		lasync_state_set(u, LASYNC_A_GUARDIAN_OF, of);
		set_person(u, "guardian", gd->roepnaam,
			   gd->roepnaam ? gd->roepnaam : gd->voorletters,
			   gd->tussenvoegsel, gd->achternaam);
		set_address(r, u, &gd->address);
		if ((num = kept_phone(r, &gd->phone_home)) != NULL)
			set_typed(r, u, LASYNC_A_PHONE_HOME, "home", num);
		if ((num = kept_phone(r, &gd->phone_mobile)) != NULL)
			set_typed(r, u, LASYNC_A_PHONE_MOBILE, "mobile", num);
		if (emergency &&
		    (num = kept_phone(r, &gd->phone_emergency)) != NULL)
			lasync_state_set_string(u, LASYNC_A_EMERGENCY, num);
		if (gd->email != NULL && *gd->email != '\0')
			set_typed(r, u, LASYNC_A_EMAIL_HOME, "home", gd->email);
		r->stats->guardians++;
	}
}

/* ---------- staff ---------- */

/* map_staff - every staff member; group memberships unless R12 says no */
static void map_staff(rules *r)
{
	const char *role = r->set->default_staff_role;

	if (role == NULL || *role == '\0')
		role = DEFAULT_ROLE;
	for (size_t i = 0; i < r->s->n_staff; i++) {
		const lasync_staff *sf = &r->s->staff[i];
		const char *id = user_id(r, "staff", sf->id);
		lasync_sres *u = lasync_state_resource(r->out, LASYNC_RES_USER,
						       id);

		set_person(u, "staff", sf->roepnaam, sf->roepnaam,
			   sf->tussenvoegsel, sf->achternaam);
		if (sf->email != NULL && *sf->email != '\0')
			set_typed(r, u, LASYNC_A_EMAIL_WORK, "work", sf->email);
		r->val.len = 0;
		lasync_state_text_raw(&r->val, "[{\"value\":");
		if (!lasync_state_text_string(&r->val, role))
			r->val.len = 2; /* "[{": jansson drops the value */
		lasync_state_text_raw(&r->val, "}]");
		lasync_state_set(u, LASYNC_A_ROLES, r->val.s);
		r->stats->staff++;
		if (r->set->link_staff_to_groups) {
			for (size_t k = 0; k < sf->n_group_ids; k++) {
				const lasync_lgroup *g =
					lasync_school_group(r->s,
							    sf->group_ids[k]);
				const group_map *m;

				if (g == NULL)
					continue;
				m = &r->gmap[g - r->s->groups];
				for (size_t q = 0; q < m->n; q++) {
					lasync_sres *gr = lasync_state_resource(
						r->out, LASYNC_RES_GROUP,
						m->ids[q]);

					lasync_state_member(gr, id,
							    LASYNC_RES_USER);
				}
			}
		}
	}
}

/* ---------- entry ---------- */

/* defaults - the documented settings, for a NULL settings pointer */
static const lasync_settings *defaults(void)
{
	static const lasync_settings d = {
		.import_secret_contact_data = false,
		.default_staff_role = NULL, /* DEFAULT_ROLE */
		.link_staff_to_groups = true,
		.preschool_import_weeks = 0,
		.composite_groups_leading = false,
		.esis_split_combination_groups = false,
		.guard_min = 25,
		.guard_percent = 30,
	};

	return &d;
}

/* mapper_rules_apply - R1 first, then the whole desired state */
lasync_state *mapper_rules_apply(const mapper_rules_in *in,
				 mapper_rules_stats *stats, char *err,
				 size_t errlen)
{
	mapper_rules_stats local;
	const lasync_school *s;
	rules r = {0};
	int y, m, d;

	if (stats == NULL)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	stats->valid_from = LONG_MIN;
	stats->valid_until = LONG_MAX;
	if (in == NULL || in->school == NULL) {
		snprintf(err, errlen, "rules: no school");
		return NULL;
	}
	s = in->school;
	if (in->tenant_brin == NULL || in->tenant_dependance == NULL ||
	    !lasync_streq(s->brin, in->tenant_brin) ||
	    !lasync_streq(s->dependance, in->tenant_dependance)) {
		snprintf(err, errlen,
			 "snapshot holds BRIN %s dependance %s, tenant has "
			 "BRIN %s dependance %s (R1)",
			 s->brin ? s->brin : "(none)",
			 s->dependance ? s->dependance : "(none)",
			 in->tenant_brin ? in->tenant_brin : "(none)",
			 in->tenant_dependance ? in->tenant_dependance
					       : "(none)");
		return NULL;
	}
	if (!parse_date(in->sync_date, &y, &m, &d)) {
		snprintf(err, errlen, "rules: sync date %s is not YYYY-MM-DD",
			 in->sync_date ? lasync_q(in->sync_date) : "(none)");
		return NULL;
	}
	r.vendor = lasync_vendor_name(s->vendor);
	if (s->vendor <= 0 || strcmp(r.vendor, "unknown") == 0) {
		snprintf(err, errlen, "rules: unknown vendor %d", s->vendor);
		return NULL;
	}
	r.in = in;
	r.today = days_from_civil(y, m, d);
	r.s = s;
	r.set = in->settings ? in->settings : defaults();
	r.stats = stats;
	r.out = lasync_state_new(in->tenant_id);
	r.info = lasync_xcalloc(s->n_students + 1, sizeof(*r.info));
	r.gmap = lasync_xcalloc(s->n_groups + 1, sizeof(*r.gmap));

	classify(&r);
	map_groups(&r);
	map_instroom(&r);
	map_students(&r);
	map_guardians(&r);
	map_staff(&r);
	lasync_state_finish(r.out);

	for (size_t i = 0; i < s->n_groups; i++) {
		for (size_t k = 0; k < r.gmap[i].n; k++)
			free(r.gmap[i].ids[k]);
		free(r.gmap[i].ids);
	}
	free(r.gmap);
	free(r.info);
	free(r.id.s);
	free(r.val.s);
	return r.out;
}
