/*
 * test_mapper_esis.c - services/mapper/mapper_esis.c, and the ESIS path
 * through the rules (mapper_rules_apply) end to end.
 *
 * The example school (fixtures/las/esis/88YY01) is parsed whole and its
 * model compared line by line, then mapped at 2026-11-29 and its desired
 * state compared attribute by attribute.  Small inline documents cover R1
 * in each document and every shape the adapter must refuse; a school of
 * 2,000 students built here checks that size maps too.  Models are
 * compared through a text dump, so a failure prints the whole got/want.
 */
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

#define ESIS 2
#define NS_ENV "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_LE "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
#define NS_VZ "urn:esis:verzorgers:model:1"
#define DATE "2026-11-29"

/* ---------- helpers ---------- */

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

/* fixture - a file under fixtures/las/esis, whole; fails the test when
 * it is missing (caller frees) */
static char *fixture(const char *name, size_t *len)
{
	char *path = lasync_xasprintf("%s/las/esis/%s", LASYNC_FIXTURES, name);
	char *data = read_file(path, len);

	if (data == NULL) {
		print_error("fixture %s missing\n", path);
		fail();
	}
	free(path);
	return data;
}

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

#define S(x) ((x) ? (x) : "-")

/* phone_text - " <label>=number[|geheim]" when there is a number */
static void phone_text(char **o, const char *label, const lasync_phone *p)
{
	if (p->number != NULL)
		app(o, " %s=%s%s", label, p->number,
		    p->secret ? "|geheim" : "");
}

/* dump - the model as text, one record a line */
static char *dump(const lasync_school *s)
{
	char *o = NULL;

	app(&o, "school vendor=%d brin=%s dep=%s jaar=%s dropped=%zu\n",
	    s->vendor, S(s->brin), S(s->dependance), S(s->schooljaar),
	    s->n_dropped_relations);
	for (size_t i = 0; i < s->n_groups; i++)
		app(&o, "G %s %s %s %s\n", s->groups[i].id, s->groups[i].name,
		    s->groups[i].kind == LASYNC_LG_CLASS ? "class" : "sub",
		    S(s->groups[i].year_code));
	for (size_t i = 0; i < s->n_students; i++) {
		const lasync_student *st = &s->students[i];

		app(&o, "S %s %s|%s|%s born=%s year=%s", st->id,
		    S(st->roepnaam), S(st->tussenvoegsel), S(st->achternaam),
		    S(st->birth_date), S(st->year_level));
		for (size_t k = 0; k < st->n_placements; k++)
			app(&o, " %s/%s/%s/%s", st->placements[k].group_id,
			    S(st->placements[k].year_level),
			    S(st->placements[k].from),
			    S(st->placements[k].until));
		app(&o, "\n");
	}
	for (size_t i = 0; i < s->n_staff; i++) {
		const lasync_staff *m = &s->staff[i];

		app(&o, "M %s %s|%s|%s %s groups=", m->id, S(m->roepnaam),
		    S(m->tussenvoegsel), S(m->achternaam), S(m->email));
		for (size_t k = 0; k < m->n_group_ids; k++)
			app(&o, "%s%s", k ? "," : "", m->group_ids[k]);
		app(&o, "\n");
	}
	for (size_t i = 0; i < s->n_guardians; i++) {
		const lasync_guardian *g = &s->guardians[i];
		const lasync_address *a = &g->address;

		app(&o, "V %s %s|%s|%s|%s %s", g->id, S(g->roepnaam),
		    S(g->voorletters), S(g->tussenvoegsel), S(g->achternaam),
		    S(g->email));
		if (a->present)
			app(&o, " adres=%s|%s|%s|%s|%s%s", S(a->street),
			    S(a->number), S(a->addition), S(a->postcode),
			    S(a->city), a->secret ? "|geheim" : "");
		phone_text(&o, "vast", &g->phone_home);
		phone_text(&o, "mobiel", &g->phone_mobile);
		phone_text(&o, "nood", &g->phone_emergency);
		for (size_t k = 0; k < g->n_relations; k++)
			app(&o, " rel=%s/%s%s", g->relations[k].student_id,
			    S(g->relations[k].type),
			    g->relations[k].legal ? "/wv" : "");
		app(&o, "\n");
	}
	return o;
}

/* dump_state - every attribute and member of every resource */
static char *dump_state(const lasync_state *st)
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

/* parse2 - the ESIS adapter over the two documents */
static int parse2(const char *le, size_t llen, const char *vz, size_t vlen,
		  const char *brin, const char *dep, const mapper_limits *lim,
		  lasync_school **out, char *err, size_t errlen)
{
	const mapper_adapter *ad = mapper_adapter_for(ESIS);
	mapper_doc docs[2] = {
		{"HaalLeerlinggegevens", le, llen},
		{"HaalVerzorgergegevens", vz, vlen},
	};

	assert_non_null(ad);
	return ad->parse(docs, 2, brin, dep, lim, out, err, errlen);
}

/* example - the example school's model; fails the test on error */
static lasync_school *example(void)
{
	size_t llen, vlen;
	char *le = fixture("88YY01/HaalLeerlinggegevens.xml", &llen);
	char *vz = fixture("88YY01/HaalVerzorgergegevens.xml", &vlen);
	lasync_school *s = NULL;
	char err[512] = "";

	if (parse2(le, llen, vz, vlen, "88YY", "01", NULL, &s, err,
		   sizeof(err)) != 0) {
		print_error("got error %s, want success\n", err);
		fail();
	}
	free(le);
	free(vz);
	return s;
}

/* map - the desired state of school s at DATE (settings NULL: defaults) */
static lasync_state *map(const lasync_school *s, const lasync_settings *set,
			 mapper_rules_stats *stats)
{
	mapper_rules_in in = {s, "t-esis", "88YY", "01", set, DATE};
	char err[512] = "";
	lasync_state *st = mapper_rules_apply(&in, stats, err, sizeof(err));

	if (st == NULL) {
		print_error("rules: %s\n", err);
		fail();
	}
	return st;
}

/* expect_text - got must equal want; prints both otherwise */
static void expect_text(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		/* cmocka cuts long messages; these dumps are long */
		fprintf(stderr, "%s: got:\n%s\nwant:\n%s\n", what, got, want);
		fail();
	}
}

/* ---------- the example school ---------- */

static const char example_want[] =
	"school vendor=2 brin=88YY dep=01 jaar=2026-2027 dropped=0\n"
	"G G12A 1/2A class C\n"
	"G G5 Groep 5 class 5\n"
	"G SG-TAAL Taalclub sub -\n"
	"S L2001 Lotte|-|Visser born=2021-02-01 year=2 G12A/2/-/-\n"
	"S L2002 Finn|de|Boer born=2022-06-30 year=1 G12A/1/-/-\n"
	"S L2003 Bram|-|Visser born=2018-04-11 year=5 G5/5/-/- "
	"SG-TAAL/-/-/-\n"
	"M M301 Sanne|-|Mulder s.mulder@dewilg.example.nl groups=G12A\n"
	"M M302 Joost|van den|Berg j.vandenberg@dewilg.example.nl "
	"groups=G5,SG-TAAL\n"
	"V V501 Mark|M.|-|Visser mark.visser@example.nl "
	"adres=Wilgenlaan|7|-|5678 GH|Zwolle vast=038-7654321 "
	"mobiel=06-44445555 nood=06-66667777 rel=L2001/vader/wv "
	"rel=L2003/vader/wv\n"
	"V V502 Eva|E.|de|Boer - adres=Populierstraat|21|a|5678 JK|Zwolle "
	"vast=038-1112223|geheim mobiel=06-88889999 rel=L2002/moeder/wv\n";

static void test_esis_example_school(void **state)
{
	lasync_school *s;
	char *got;

	(void)state;
	s = example();
	got = dump(s);
	expect_text("example model", got, example_want);
	assert_non_null(lasync_school_student(s, "L2003"));
	assert_null(lasync_school_student(s, "L9999"));
	assert_int_equal(lasync_school_group(s, "SG-TAAL")->kind,
			 LASYNC_LG_SUBGROUP);
	free(got);
	lasync_school_free(s);
}

#define U "urn:lasync:scim:school:1.0:User:"
#define G "urn:lasync:scim:school:1.0:Group:"
#define GROUP_ATTRS(name, kind, primary, years)                           \
	"  displayName = \"" name "\"\n"                                  \
	"  " G "kind = \"" kind "\"\n"                                    \
	"  " G "lasOrphaned = false\n"                                    \
	"  " G "parentsSeeAllYearGroups = false\n"                        \
	"  " G "primary = " primary "\n"                                  \
	"  " G "yearLevels = " years "\n"

/* The users of the example school at 2026-11-29, any group setting. */
static const char example_users[] =
	"U esis:guardian:V501\n"
	"  active = true\n"
	"  addresses[type eq \"home\"] = {\"locality\":\"Zwolle\","
	"\"postalCode\":\"5678 GH\",\"streetAddress\":\"Wilgenlaan 7\","
	"\"type\":\"home\"}\n"
	"  displayName = \"Mark Visser\"\n"
	"  emails[type eq \"home\"] = {\"type\":\"home\","
	"\"value\":\"mark.visser@example.nl\"}\n"
	"  name.familyName = \"Visser\"\n"
	"  name.givenName = \"Mark\"\n"
	"  phoneNumbers[type eq \"home\"] = {\"type\":\"home\","
	"\"value\":\"038-7654321\"}\n"
	"  phoneNumbers[type eq \"mobile\"] = {\"type\":\"mobile\","
	"\"value\":\"06-44445555\"}\n"
	"  " U "emergencyPhone = \"06-66667777\"\n"
	"  " U "guardianOf = [{\"externalId\":\"esis:student:L2001\","
	"\"relation\":\"vader\"},{\"externalId\":\"esis:student:L2003\","
	"\"relation\":\"vader\"}]\n"
	"  " U "kind = \"guardian\"\n"
	"U esis:guardian:V502\n"
	"  active = true\n"
	"  addresses[type eq \"home\"] = {\"locality\":\"Zwolle\","
	"\"postalCode\":\"5678 JK\",\"streetAddress\":\"Populierstraat 21 a\","
	"\"type\":\"home\"}\n"
	"  displayName = \"Eva de Boer\"\n"
	"  name.familyName = \"Boer\"\n"
	"  name.givenName = \"Eva\"\n"
	"  phoneNumbers[type eq \"mobile\"] = {\"type\":\"mobile\","
	"\"value\":\"06-88889999\"}\n"
	"  " U "guardianOf = [{\"externalId\":\"esis:student:L2002\","
	"\"relation\":\"moeder\"}]\n"
	"  " U "kind = \"guardian\"\n"
	"  " U "nameInfix = \"de\"\n"
	"U esis:staff:M301\n"
	"  active = true\n"
	"  displayName = \"Sanne Mulder\"\n"
	"  emails[type eq \"work\"] = {\"type\":\"work\","
	"\"value\":\"s.mulder@dewilg.example.nl\"}\n"
	"  name.familyName = \"Mulder\"\n"
	"  name.givenName = \"Sanne\"\n"
	"  roles = [{\"value\":\"Leerkracht\"}]\n"
	"  " U "kind = \"staff\"\n"
	"U esis:staff:M302\n"
	"  active = true\n"
	"  displayName = \"Joost van den Berg\"\n"
	"  emails[type eq \"work\"] = {\"type\":\"work\","
	"\"value\":\"j.vandenberg@dewilg.example.nl\"}\n"
	"  name.familyName = \"Berg\"\n"
	"  name.givenName = \"Joost\"\n"
	"  roles = [{\"value\":\"Leerkracht\"}]\n"
	"  " U "kind = \"staff\"\n"
	"  " U "nameInfix = \"van den\"\n"
	"U esis:student:L2001\n"
	"  active = true\n"
	"  displayName = \"Lotte Visser\"\n"
	"  name.familyName = \"Visser\"\n"
	"  name.givenName = \"Lotte\"\n"
	"  " U "birthDate = \"2021-02-01\"\n"
	"  " U "kind = \"student\"\n"
	"  " U "preschool = false\n"
	"  " U "yearLevel = \"2\"\n"
	"U esis:student:L2002\n"
	"  active = true\n"
	"  displayName = \"Finn de Boer\"\n"
	"  name.familyName = \"Boer\"\n"
	"  name.givenName = \"Finn\"\n"
	"  " U "birthDate = \"2022-06-30\"\n"
	"  " U "kind = \"student\"\n"
	"  " U "nameInfix = \"de\"\n"
	"  " U "preschool = false\n"
	"  " U "yearLevel = \"1\"\n"
	"U esis:student:L2003\n"
	"  active = true\n"
	"  displayName = \"Bram Visser\"\n"
	"  name.familyName = \"Visser\"\n"
	"  name.givenName = \"Bram\"\n"
	"  " U "birthDate = \"2018-04-11\"\n"
	"  " U "kind = \"student\"\n"
	"  " U "preschool = false\n"
	"  " U "yearLevel = \"5\"\n";

/* G5 and SG-TAAL, the same with or without the split setting */
#define G5_AND_TAAL                                                       \
	"G esis:jaargroep:G5\n"                                           \
	GROUP_ATTRS("Groep 5", "jaargroep", "true", "[\"5\"]")            \
	"  member esis:staff:M302\n"                                      \
	"  member esis:student:L2003\n"

#define TAAL                                                              \
	"G esis:samengesteld:SG-TAAL\n"                                   \
	GROUP_ATTRS("Taalclub", "samengesteld", "false", "[\"5\"]")       \
	"  member esis:staff:M302\n"                                      \
	"  member esis:student:L2003\n"

/* R4 by default: the combination groep 1/2A (jaargroep C) is one
 * jaargroep whose yearLevels are its students' jaargroepen */
static const char example_groups[] =
	"G esis:jaargroep:G12A\n"
	GROUP_ATTRS("1/2A", "jaargroep", "true", "[\"1\",\"2\"]")
	"  member esis:staff:M301\n"
	"  member esis:student:L2001\n"
	"  member esis:student:L2002\n"
	G5_AND_TAAL TAAL;

/* R4 with esis_split_combination_groups: 1/2A splits like a ParnasSys
 * lesgroep with two leerjaren; Groep 5 has one year and stays whole */
static const char example_groups_split[] =
	"G esis:jaargroep:G12A:1\n"
	GROUP_ATTRS("Groep 1 (1/2A)", "jaargroep", "true", "[\"1\"]")
	"  member esis:staff:M301\n"
	"  member esis:student:L2002\n"
	"G esis:jaargroep:G12A:2\n"
	GROUP_ATTRS("Groep 2 (1/2A)", "jaargroep", "true", "[\"2\"]")
	"  member esis:staff:M301\n"
	"  member esis:student:L2001\n"
	G5_AND_TAAL
	"G esis:samengesteld:G12A\n"
	GROUP_ATTRS("1/2A", "samengesteld", "false", "[\"1\",\"2\"]")
	"  member esis:jaargroep:G12A:1 (group)\n"
	"  member esis:jaargroep:G12A:2 (group)\n"
	TAAL;

/* test_r4_esis_example_school_mapped - the example at 2026-11-29 with
 * default settings, every user, group, value and member; Eva's secret
 * vast is dropped (R10) */
static void test_r4_esis_example_school_mapped(void **state)
{
	lasync_school *s = example();
	mapper_rules_stats stats;
	lasync_state *st;
	char *got, *want;

	(void)state;
	st = map(s, NULL, &stats);
	got = dump_state(st);
	want = lasync_xasprintf("%s%s", example_users, example_groups);
	expect_text("example state", got, want);
	assert_int_equal(stats.students, 3);
	assert_int_equal(stats.guardians, 2);
	assert_int_equal(stats.staff, 2);
	assert_int_equal(stats.groups, 3);
	assert_int_equal(stats.under4_skipped, 0);
	assert_int_equal(stats.secret_dropped, 1);
	free(want);
	free(got);
	lasync_state_free(st);
	lasync_school_free(s);
}

/* test_r4_esis_split_combination_groups - the example with the setting */
static void test_r4_esis_split_combination_groups(void **state)
{
	lasync_school *s = example();
	lasync_settings set;
	lasync_state *st;
	char *got, *want;

	(void)state;
	lasync_settings_defaults(&set);
	set.esis_split_combination_groups = true;
	st = map(s, &set, NULL);
	got = dump_state(st);
	want = lasync_xasprintf("%s%s", example_users, example_groups_split);
	expect_text("split state", got, want);
	free(want);
	free(got);
	lasync_state_free(st);
	lasync_settings_free(&set);
	lasync_school_free(s);
}

/* attr_of - the canonical JSON of one attribute, NULL when unset */
static const char *attr_of(const lasync_state *st, const char *ext,
			   const char *path)
{
	for (size_t i = 0; i < st->n_res; i++)
		if (strcmp(st->res[i]->external_id, ext) == 0)
			return lasync_sres_get(st->res[i], path);
	return NULL;
}

/* test_r6_emergency_phone_esis - the nood number is the guardian's
 * emergencyPhone; a guardian without one has none (strong) */
static void test_r6_emergency_phone_esis(void **state)
{
	lasync_school *s = example();
	lasync_state *st;
	const char *v;

	(void)state;
	st = map(s, NULL, NULL);
	v = attr_of(st, "esis:guardian:V501", LASYNC_A_EMERGENCY);
	assert_non_null(v);
	assert_string_equal(v, "\"06-66667777\"");
	assert_null(attr_of(st, "esis:guardian:V502", LASYNC_A_EMERGENCY));
	lasync_state_free(st);
	lasync_school_free(s);
}

/* test_r10_secret_contact_data_esis - a telefoon or adres @geheim="true"
 * counts as missing unless the tenant imports secret contact data */
static void test_r10_secret_contact_data_esis(void **state)
{
	lasync_school *s = example();
	lasync_settings set;
	mapper_rules_stats stats;
	lasync_state *st;
	const char *v;

	(void)state;
	st = map(s, NULL, &stats);
	assert_null(attr_of(st, "esis:guardian:V502", LASYNC_A_PHONE_HOME));
	assert_int_equal(stats.secret_dropped, 1);
	lasync_state_free(st);
	lasync_settings_defaults(&set);
	set.import_secret_contact_data = true;
	st = map(s, &set, &stats);
	v = attr_of(st, "esis:guardian:V502", LASYNC_A_PHONE_HOME);
	assert_non_null(v);
	assert_string_equal(v, "{\"type\":\"home\",\"value\":\"038-1112223\"}");
	assert_int_equal(stats.secret_dropped, 0);
	lasync_state_free(st);
	lasync_settings_free(&set);
	lasync_school_free(s);
}

/* ---------- faults ---------- */

/* test_r18_esis_label_fault - the example fault, as either document: the
 * error names KOPPELING_LABEL, the label and the document */
static void test_r18_esis_label_fault(void **state)
{
	size_t flen, llen, vlen;
	char *fault = fixture("fault-wrong-label.xml", &flen);
	char *le = fixture("88YY01/HaalLeerlinggegevens.xml", &llen);
	char *vz = fixture("88YY01/HaalVerzorgergegevens.xml", &vlen);

	(void)state;
	for (int i = 0; i < 2; i++) {
		lasync_school *s = (lasync_school *)1;
		char err[1024] = "";
		int rc = i == 0 ? parse2(fault, flen, vz, vlen, "88YY", "01",
					 NULL, &s, err, sizeof(err))
				: parse2(le, llen, fault, flen, "88YY", "01",
					 NULL, &s, err, sizeof(err));
		const char *doc = i == 0 ? "HaalLeerlinggegevens line 4 at "
					   "/Envelope/Body"
					 : "HaalVerzorgergegevens line 4 at "
					   "/Envelope/Body";

		assert_int_equal(rc, -1);
		assert_null(s);
		if (strstr(err, doc) == NULL ||
		    strstr(err, "SOAP Fault: \"Autorisatie mislukt\" "
				"(faultcode \"SOAP-ENV:Client\")") == NULL ||
		    strstr(err, "KOPPELING_LABEL") == NULL ||
		    strstr(err, "koppeling label \"BasisschoolApps\"") == NULL ||
		    strstr(err, "ESIS Koppelportaal") == NULL) {
			print_error("got \"%s\", want the fault of %s with "
				    "KOPPELING_LABEL and its label\n",
				    err, doc);
			fail();
		}
	}
	free(fault);
	free(le);
	free(vz);
}

/* ---------- inline documents ---------- */

#define ENV_HEAD                                                          \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                    \
	"<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" NS_ENV "\">\n"             \
	"<SOAP-ENV:Body>\n"
#define ENV_TAIL "</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
/* line 4: antwoord, 5: leerlinggegevens, then one line per part */
#define LE_DOC(parts)                                                     \
	ENV_HEAD "<le:leerlinggegevens_antwoord xmlns:le=\"" NS_LE "\">\n"  \
	"<le:leerlinggegevens>\n" parts "</le:leerlinggegevens>\n"        \
	"</le:leerlinggegevens_antwoord>\n" ENV_TAIL
#define SCHOOL(brin, dep)                                                 \
	"<le:school><le:schooljaar>2026-2027</le:schooljaar><le:brincode>" \
	brin "</le:brincode><le:dependancecode>" dep                      \
	"</le:dependancecode></le:school>\n"
#define GROEPEN                                                           \
	"<le:groepen><le:groep key=\"G12A\"><le:naam>1/2A</le:naam>"      \
	"<le:jaargroep>C</le:jaargroep></le:groep><le:groep key=\"G5\">"  \
	"<le:naam>Groep 5</le:naam><le:jaargroep>5</le:jaargroep>"        \
	"</le:groep><le:samengestelde_groep key=\"SG\"><le:naam>Taalclub" \
	"</le:naam></le:samengestelde_groep></le:groepen>\n"
#define LEERLING(key, year, extra)                                        \
	"<le:leerling key=\"" key "\"><le:achternaam>Visser"              \
	"</le:achternaam><le:roepnaam>Lotte</le:roepnaam><le:geboortedatum>" \
	"2019-02-01</le:geboortedatum><le:jaargroep>" year                \
	"</le:jaargroep>" extra "</le:leerling>\n"
#define IN(g) "<le:groep key=\"" g "\"/>"
#define IN_SG(g)                                                          \
	"<le:samengestelde_groepen><le:samengestelde_groep key=\"" g      \
	"\"/></le:samengestelde_groepen>"
/* the first leerling is on line 9 */
#define LE_STD(students)                                                  \
	LE_DOC(SCHOOL("88YY", "01") GROEPEN "<le:leerlingen>\n" students  \
	       "</le:leerlingen>\n")
#define LE_MIN LE_STD(LEERLING("L1", "2", IN("G12A")))
#define LEERKRACHTEN(refs)                                                \
	"<le:leerkrachten><le:leerkracht key=\"M1\"><le:achternaam>Mulder" \
	"</le:achternaam><le:roepnaam>Sanne</le:roepnaam><le:groepen>"    \
	refs "</le:groepen></le:leerkracht></le:leerkrachten>\n"
/* line 4: antwoord, 5: brincode, 6: dependancecode, 7: verzorgers, and
 * the first verzorger is on line 8 */
#define VZ_DOC(brin, dep, verzorgers)                                     \
	ENV_HEAD "<vz:verzorgergegevens_antwoord xmlns:vz=\"" NS_VZ "\">\n" \
	"<vz:brincode>" brin "</vz:brincode>\n"                           \
	"<vz:dependancecode>" dep "</vz:dependancecode>\n"                \
	"<vz:verzorgers>\n" verzorgers "</vz:verzorgers>\n"               \
	"</vz:verzorgergegevens_antwoord>\n" ENV_TAIL
#define VERZORGER(key, extra)                                             \
	"<vz:verzorger key=\"" key "\"><vz:achternaam>Visser"             \
	"</vz:achternaam><vz:roepnaam>Mark</vz:roepnaam>" extra           \
	"</vz:verzorger>\n"
#define KIND(key) "<vz:leerling key=\"" key "\" relatie=\"vader\"/>"
#define KINDEREN(k) "<vz:kinderen>" k "</vz:kinderen>"
#define TEL(soort, geheim, nr)                                            \
	"<vz:telefoon soort=\"" soort "\" geheim=\"" geheim "\">" nr      \
	"</vz:telefoon>"
#define ADRES(geheim, toevoeging)                                         \
	"<vz:adres geheim=\"" geheim "\"><vz:straat>Wilgenlaan</vz:straat>" \
	"<vz:huisnummer>7</vz:huisnummer><vz:toevoeging>" toevoeging      \
	"</vz:toevoeging><vz:postcode>5678 GH</vz:postcode><vz:woonplaats>" \
	"Zwolle</vz:woonplaats></vz:adres>"
#define VZ_STD(verzorgers) VZ_DOC("88YY", "01", verzorgers)
#define VZ_MIN VZ_STD(VERZORGER("V1", KINDEREN(KIND("L1"))))
#define FAULT(detail)                                                     \
	ENV_HEAD "<SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode>" \
	"<faultstring>Interne fout</faultstring>" detail                  \
	"</SOAP-ENV:Fault>\n" ENV_TAIL

/* The example school written in another element and attribute order,
 * with the optional elements it does not use left out. */
static const char reordered_le[] =
	ENV_HEAD
	"<le:leerlinggegevens_antwoord xmlns:le=\"" NS_LE "\">\n"
	"<le:leerlinggegevens>\n"
	"<le:leerkrachten>"
	"<le:leerkracht key=\"M302\"><le:groepen>"
	"<le:samengestelde_groep key=\"SG-TAAL\"/><le:groep key=\"G5\"/>"
	"</le:groepen><le:emailadres>j.vandenberg@dewilg.example.nl"
	"</le:emailadres><le:roepnaam>Joost</le:roepnaam><le:voorvoegsel>van "
	"den</le:voorvoegsel><le:achternaam>Berg</le:achternaam>"
	"</le:leerkracht>"
	"<le:leerkracht key=\"M301\"><le:groepen><le:groep key=\"G12A\"/>"
	"</le:groepen><le:roepnaam>Sanne</le:roepnaam><le:achternaam>Mulder"
	"</le:achternaam><le:emailadres>s.mulder@dewilg.example.nl"
	"</le:emailadres></le:leerkracht></le:leerkrachten>\n"
	"<le:leerlingen>"
	"<le:leerling key=\"L2003\"><le:samengestelde_groepen>"
	"<le:samengestelde_groep key=\"SG-TAAL\"/></le:samengestelde_groepen>"
	"<le:groep key=\"G5\"/><le:jaargroep>5</le:jaargroep><le:roepnaam>Bram"
	"</le:roepnaam><le:geboortedatum>2018-04-11</le:geboortedatum>"
	"<le:achternaam>Visser</le:achternaam></le:leerling>"
	"<le:leerling key=\"L2002\"><le:jaargroep>1</le:jaargroep>"
	"<le:groep key=\"G12A\"/><le:voorvoegsel>de</le:voorvoegsel>"
	"<le:achternaam>Boer</le:achternaam><le:geboortedatum>2022-06-30"
	"</le:geboortedatum><le:roepnaam>Finn</le:roepnaam></le:leerling>"
	"<le:leerling key=\"L2001\"><le:groep key=\"G12A\"/><le:roepnaam>Lotte"
	"</le:roepnaam><le:achternaam>Visser</le:achternaam><le:jaargroep>2"
	"</le:jaargroep><le:geboortedatum>2021-02-01</le:geboortedatum>"
	"</le:leerling></le:leerlingen>\n"
	"<le:groepen>"
	"<le:samengestelde_groep key=\"SG-TAAL\"><le:naam>Taalclub</le:naam>"
	"</le:samengestelde_groep>"
	"<le:groep key=\"G5\"><le:jaargroep>5</le:jaargroep><le:naam>Groep 5"
	"</le:naam></le:groep>"
	"<le:groep key=\"G12A\"><le:omschrijving>K</le:omschrijving>"
	"<le:jaargroep>C</le:jaargroep><le:naam>1/2A</le:naam></le:groep>"
	"</le:groepen>\n"
	"<le:school><le:dependancecode>01</le:dependancecode><le:brincode>"
	"88yy</le:brincode><le:schooljaar>2026-2027</le:schooljaar>"
	"</le:school>\n"
	"</le:leerlinggegevens>\n</le:leerlinggegevens_antwoord>\n" ENV_TAIL;

static const char reordered_vz[] =
	ENV_HEAD
	"<vz:verzorgergegevens_antwoord xmlns:vz=\"" NS_VZ "\">\n"
	"<vz:verzorgers>\n"
	"<vz:verzorger key=\"V502\"><vz:kinderen><vz:leerling relatie=\"moeder\" "
	"key=\"L2002\"/></vz:kinderen><vz:telefoon geheim=\"false\" "
	"soort=\"mobiel\">06-88889999</vz:telefoon><vz:telefoon "
	"geheim=\"true\" soort=\"vast\">038-1112223</vz:telefoon>"
	"<vz:adres geheim=\"false\"><vz:woonplaats>Zwolle</vz:woonplaats>"
	"<vz:postcode>5678 JK</vz:postcode><vz:toevoeging>a</vz:toevoeging>"
	"<vz:huisnummer>21</vz:huisnummer><vz:straat>Populierstraat"
	"</vz:straat></vz:adres><vz:voorletters>E.</vz:voorletters>"
	"<vz:roepnaam>Eva</vz:roepnaam><vz:voorvoegsel>de</vz:voorvoegsel>"
	"<vz:achternaam>Boer</vz:achternaam></vz:verzorger>\n"
	"<vz:verzorger key=\"V501\"><vz:telefoon soort=\"nood\" "
	"geheim=\"false\">06-66667777</vz:telefoon><vz:kinderen>"
	"<vz:leerling key=\"L2003\" relatie=\"vader\"/><vz:leerling "
	"key=\"L2001\" relatie=\"vader\"/></vz:kinderen><vz:telefoon "
	"soort=\"mobiel\" geheim=\"false\">06-44445555</vz:telefoon>"
	"<vz:telefoon soort=\"vast\" geheim=\"false\">038-7654321"
	"</vz:telefoon><vz:adres geheim=\"false\"><vz:postcode>5678 GH"
	"</vz:postcode><vz:straat>Wilgenlaan</vz:straat><vz:huisnummer>7"
	"</vz:huisnummer><vz:woonplaats>Zwolle</vz:woonplaats></vz:adres>"
	"<vz:emailadres>mark.visser@example.nl</vz:emailadres>"
	"<vz:voorletters>M.</vz:voorletters><vz:roepnaam>Mark</vz:roepnaam>"
	"<vz:achternaam>Visser</vz:achternaam></vz:verzorger>\n"
	"</vz:verzorgers>\n"
	"<vz:dependancecode>01</vz:dependancecode>\n"
	"<vz:brincode>88YY</vz:brincode>\n"
	"</vz:verzorgergegevens_antwoord>\n" ENV_TAIL;

/* test_esis_element_order_free - the reordered example gives the same
 * model, byte for byte */
static void test_esis_element_order_free(void **state)
{
	lasync_school *s = NULL;
	char err[512] = "", *got;

	(void)state;
	if (parse2(reordered_le, strlen(reordered_le), reordered_vz,
		   strlen(reordered_vz), "88YY", "01", NULL, &s, err,
		   sizeof(err)) != 0) {
		print_error("got error %s, want success\n", err);
		fail();
	}
	got = dump(s);
	expect_text("reordered example", got, example_want);
	free(got);
	lasync_school_free(s);
}

typedef struct es_case {
	const char *name;
	const char *le, *vz;	/* whole documents */
	const char *brin, *dep; /* the tenant's; NULL: 88YY, 01 */
	mapper_limits lim;
	const char *want_err;	/* substring; NULL = must parse */
	const char *want_has[4]; /* substrings of the dump */
	const char *want_not[2]; /* not in the dump (or in the error) */
} es_case;

#define BILLION_LAUGHS                                                    \
	"<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\">"         \
	"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"                \
	"<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" NS_ENV "\"><SOAP-ENV:Body>&b;" \
	"</SOAP-ENV:Body></SOAP-ENV:Envelope>"
#define LE_PATH "/Envelope/Body/leerlinggegevens_antwoord/leerlinggegevens"
#define VZ_PATH "/Envelope/Body/verzorgergegevens_antwoord/verzorgers"

static const es_case cases[] = {
	/* R1: each document is checked against the tenant on its own */
	{"test_r1_leerlinggegevens_other_dependance_rejected",
	 LE_DOC(SCHOOL("88YY", "02")), VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 6 at " LE_PATH "/school: "
	 "HaalLeerlinggegevens is for 88YY-02, tenant is 88YY-01 (R1)",
	 {0}, {0}},
	{"test_r1_leerlinggegevens_other_brin_rejected",
	 LE_DOC(SCHOOL("77XX", "01")), VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens is for 77XX-01, tenant is 88YY-01 (R1)", {0},
	 {0}},
	{"test_r1_verzorgergegevens_other_dependance_rejected", LE_MIN,
	 VZ_DOC("88YY", "02", ""), NULL, NULL, {0, 0},
	 "HaalVerzorgergegevens line 6 at "
	 "/Envelope/Body/verzorgergegevens_antwoord: "
	 "HaalVerzorgergegevens is for 88YY-02, tenant is 88YY-01 (R1)",
	 {0}, {0}},
	{"test_r1_verzorgergegevens_other_brin_rejected", LE_MIN,
	 VZ_DOC("77XX", "01", ""), NULL, NULL, {0, 0},
	 "HaalVerzorgergegevens is for 77XX-01, tenant is 88YY-01 (R1)", {0},
	 {0}},
	{"test_r1_tenant_of_another_school_rejected", LE_MIN, VZ_MIN, "88YY",
	 "00", {0, 0},
	 "HaalLeerlinggegevens is for 88YY-01, tenant is 88YY-00 (R1)", {0},
	 {0}},
	{"test_r1_brin_case_insensitive", LE_DOC(SCHOOL("88yy", "01")),
	 VZ_DOC("88Yy", "01", ""), NULL, NULL, {0, 0}, NULL,
	 {"school vendor=2 brin=88YY dep=01 jaar=2026-2027 dropped=0\n"},
	 {0}},
	{"test_r1_verzorgergegevens_without_brincode", LE_MIN,
	 ENV_HEAD "<vz:verzorgergegevens_antwoord xmlns:vz=\"" NS_VZ "\">"
	 "<vz:dependancecode>01</vz:dependancecode>"
	 "</vz:verzorgergegevens_antwoord>" ENV_TAIL,
	 NULL, NULL, {0, 0},
	 "missing required element <brincode> in verzorgergegevens_antwoord",
	 {0}, {0}},
	{"test_r1_school_missing", LE_DOC(""), VZ_MIN, NULL, NULL, {0, 0},
	 "missing required element <school> in leerlinggegevens", {0}, {0}},
	{"bad_brincode", LE_DOC(SCHOOL("88 YY", "01")), VZ_MIN, NULL, NULL,
	 {0, 0}, "invalid <brincode> (1 to 8 letters and digits expected)",
	 {0}, {0}},
	/* malformed and hostile input */
	{"malformed_xml",
	 "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" NS_ENV "\"><SOAP-ENV:Body>\n"
	 "</SOAP-ENV:Envelope>",
	 VZ_MIN, NULL, NULL, {0, 0}, "HaalLeerlinggegevens line 2", {0}, {0}},
	{"truncated_document", LE_MIN, "<SOAP-ENV:Envelope", NULL, NULL,
	 {0, 0}, "HaalVerzorgergegevens line 1", {0}, {0}},
	{"billion_laughs_rejected", LE_MIN, BILLION_LAUGHS, NULL, NULL, {0, 0},
	 "HaalVerzorgergegevens line 1: DOCTYPE not allowed", {0}, {0}},
	{"external_entity_rejected",
	 "<!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	 "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" NS_ENV "\"><SOAP-ENV:Body>&x;"
	 "</SOAP-ENV:Body></SOAP-ENV:Envelope>",
	 VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 1: DOCTYPE not allowed", {0}, {0}},
	{"undeclared_entity_rejected",
	 LE_STD(LEERLING("L1", "2", "<le:geslacht>&x;</le:geslacht>")), VZ_MIN,
	 NULL, NULL, {0, 0}, "HaalLeerlinggegevens line 9", {0}, {0}},
	{"oversize_document", LE_MIN, VZ_MIN, NULL, NULL, {400, 0},
	 "HaalLeerlinggegevens: document of", {0}, {0}},
	{"record_limit",
	 LE_STD(LEERLING("L1", "2", "") LEERLING("L2", "2", "")
			LEERLING("L3", "2", "") LEERLING("L4", "2", "")),
	 VZ_STD(""), NULL, NULL, {0, 3},
	 "HaalLeerlinggegevens line 12 at " LE_PATH "/leerlingen/leerling: "
	 "more than 3 elements in <leerlingen> (record limit)",
	 {0}, {0}},
	{"utf16_rejected", LE_MIN, "\xFF\xFE<\0", NULL, NULL, {0, 0},
	 "UTF-8 expected", {0}, {0}},
	/* shapes */
	{"unknown_element_in_leerling",
	 LE_STD(LEERLING("L1", "2", "<le:hobby>x</le:hobby>")), VZ_MIN, NULL,
	 NULL, {0, 0},
	 "HaalLeerlinggegevens line 9 at " LE_PATH
	 "/leerlingen/leerling/hobby: unknown element <hobby> in <leerling>",
	 {0}, {0}},
	{"unknown_element_in_verzorger", LE_MIN,
	 VZ_STD(VERZORGER("V1", "<vz:fax>1</vz:fax>")), NULL, NULL, {0, 0},
	 "HaalVerzorgergegevens line 8 at " VZ_PATH "/verzorger/fax: unknown "
	 "element <fax> in <verzorger>",
	 {0}, {0}},
	{"unknown_list_in_leerlinggegevens",
	 LE_DOC(SCHOOL("88YY", "01") "<le:klassen/>\n"), VZ_MIN, NULL, NULL,
	 {0, 0}, "line 7 at " LE_PATH "/klassen: unknown element <klassen> "
		 "in <leerlinggegevens>",
	 {0}, {0}},
	{"unknown_item_in_groepen",
	 LE_DOC(SCHOOL("88YY", "01") "<le:groepen><le:klas key=\"1\"/>"
				     "</le:groepen>\n"),
	 VZ_MIN, NULL, NULL, {0, 0}, "unknown element <klas> in <groepen>",
	 {0}, {0}},
	{"unknown_attribute",
	 LE_STD("<le:leerling key=\"L1\" bsn=\"1\"/>\n"), VZ_MIN, NULL, NULL,
	 {0, 0},
	 "HaalLeerlinggegevens line 9 at " LE_PATH "/leerlingen/leerling: "
	 "unknown attribute bsn on <leerling>",
	 {0}, {0}},
	{"attribute_on_text_element",
	 LE_STD(LEERLING("L1", "2", "<le:geslacht code=\"m\">1</le:geslacht>")),
	 VZ_MIN, NULL, NULL, {0, 0}, "unknown attribute code on <geslacht>",
	 {0}, {0}},
	{"wrong_namespace",
	 LE_STD(LEERLING("L1", "2", "<geslacht>1</geslacht>")), VZ_MIN, NULL,
	 NULL, {0, 0},
	 "element <geslacht> in namespace (none), expected " NS_LE, {0}, {0}},
	{"verzorgers_namespace_in_leerlinggegevens",
	 ENV_HEAD "<le:leerlinggegevens_antwoord xmlns:le=\"" NS_VZ "\"/>"
	 ENV_TAIL,
	 VZ_MIN, NULL, NULL, {0, 0},
	 "element <leerlinggegevens_antwoord> in namespace " NS_VZ
	 ", expected " NS_LE,
	 {0}, {0}},
	{"wrong_antwoord", VZ_MIN, VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 4 at /Envelope/Body/"
	 "verzorgergegevens_antwoord: unexpected element "
	 "<verzorgergegevens_antwoord> in <Body>, expected "
	 "<leerlinggegevens_antwoord>",
	 {0}, {0}},
	{"soap12_envelope_rejected",
	 "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"/>",
	 VZ_MIN, NULL, NULL, {0, 0}, "is not a SOAP 1.1 Envelope", {0}, {0}},
	{"missing_antwoord", ENV_HEAD ENV_TAIL, VZ_MIN, NULL, NULL, {0, 0},
	 "missing <leerlinggegevens_antwoord> in <Body>", {0}, {0}},
	{"missing_roepnaam",
	 LE_STD("<le:leerling key=\"L1\"><le:achternaam>V</le:achternaam>"
		"<le:geboortedatum>2019-01-01</le:geboortedatum><le:jaargroep>"
		"3</le:jaargroep></le:leerling>\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 9 at " LE_PATH "/leerlingen: missing "
	 "required element <roepnaam> in leerling \"L1\"",
	 {0}, {0}},
	{"missing_student_jaargroep",
	 LE_STD("<le:leerling key=\"L1\"><le:achternaam>V</le:achternaam>"
		"<le:roepnaam>E</le:roepnaam><le:geboortedatum>2019-01-01"
		"</le:geboortedatum></le:leerling>\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "missing required element <jaargroep> in leerling \"L1\"", {0}, {0}},
	{"missing_key",
	 LE_STD("<le:leerling><le:achternaam>V</le:achternaam></le:leerling>"
		"\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "line 9 at " LE_PATH "/leerlingen/leerling: missing attribute key "
	 "on <leerling>",
	 {0}, {0}},
	{"empty_key", LE_STD(LEERLING(" ", "2", "")), VZ_MIN, NULL, NULL,
	 {0, 0}, "missing attribute key on <leerling>", {0}, {0}},
	{"missing_verzorger_achternaam", LE_MIN,
	 VZ_STD("<vz:verzorger key=\"V1\"><vz:roepnaam>M</vz:roepnaam>"
		"</vz:verzorger>\n"),
	 NULL, NULL, {0, 0},
	 "missing required element <achternaam> in verzorger \"V1\"", {0},
	 {0}},
	{"empty_required_element",
	 LE_STD("<le:leerling key=\"L1\"><le:achternaam> </le:achternaam>"
		"<le:roepnaam>E</le:roepnaam><le:geboortedatum>2019-01-01"
		"</le:geboortedatum><le:jaargroep>3</le:jaargroep>"
		"</le:leerling>\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "required element <achternaam> in leerling \"L1\" is empty", {0},
	 {0}},
	{"missing_groep_naam",
	 LE_DOC(SCHOOL("88YY", "01") "<le:groepen><le:groep key=\"G1\">"
				     "<le:jaargroep>1</le:jaargroep></le:groep>"
				     "</le:groepen>\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "missing required element <naam> in groep \"G1\"", {0}, {0}},
	{"duplicate_element",
	 LE_STD(LEERLING("L1", "2", "<le:roepnaam>X</le:roepnaam>")), VZ_MIN,
	 NULL, NULL, {0, 0}, "element <roepnaam> twice in <leerling>", {0},
	 {0}},
	{"two_groepen_for_one_leerling",
	 LE_STD(LEERLING("L1", "2", IN("G12A") IN("G5"))), VZ_MIN, NULL, NULL,
	 {0, 0}, "element <groep> twice in <leerling>", {0}, {0}},
	{"text_where_record_expected", LE_STD("<le:leerling key=\"L1\">Lotte"
					      "</le:leerling>\n"),
	 VZ_MIN, NULL, NULL, {0, 0}, "unexpected text in <leerling>", {0},
	 {0}},
	{"text_in_reference",
	 LE_STD(LEERLING("L1", "2", "<le:groep key=\"G5\">G5</le:groep>")),
	 VZ_MIN, NULL, NULL, {0, 0}, "unexpected text in <groep>", {0}, {0}},
	/* values */
	{"bad_date",
	 LE_STD("<le:leerling key=\"L1\"><le:achternaam>V</le:achternaam>"
		"<le:roepnaam>E</le:roepnaam><le:geboortedatum>2019-02-29"
		"</le:geboortedatum><le:jaargroep>3</le:jaargroep>"
		"</le:leerling>\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 9 at " LE_PATH "/leerlingen/leerling: "
	 "invalid <geboortedatum> in leerling \"L1\" (YYYY-MM-DD expected)",
	 {0}, {"2019-02-29"}},
	{"bad_date_format",
	 LE_STD("<le:leerling key=\"L1\"><le:achternaam>V</le:achternaam>"
		"<le:roepnaam>E</le:roepnaam><le:geboortedatum>01-02-2019"
		"</le:geboortedatum><le:jaargroep>3</le:jaargroep>"
		"</le:leerling>\n"),
	 VZ_MIN, NULL, NULL, {0, 0}, "invalid <geboortedatum>", {0}, {0}},
	{"student_jaargroep_c_rejected", LE_STD(LEERLING("L1", "C", "")),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "invalid <jaargroep> \"C\" in leerling \"L1\" (1 to 8 expected)",
	 {0}, {0}},
	{"student_jaargroep_0_rejected", LE_STD(LEERLING("L1", "0", "")),
	 VZ_MIN, NULL, NULL, {0, 0}, "invalid <jaargroep> \"0\"", {0}, {0}},
	{"student_jaargroep_10_rejected", LE_STD(LEERLING("L1", "10", "")),
	 VZ_MIN, NULL, NULL, {0, 0}, "invalid <jaargroep> \"10\"", {0}, {0}},
	{"groep_jaargroep_9_rejected",
	 LE_DOC(SCHOOL("88YY", "01") "<le:groepen><le:groep key=\"G9\">"
				     "<le:naam>9</le:naam><le:jaargroep>9"
				     "</le:jaargroep></le:groep></le:groepen>\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "invalid <jaargroep> \"9\" in groep \"G9\" (1 to 8 or C expected)",
	 {0}, {0}},
	{"groep_jaargroep_lowercase_c_rejected",
	 LE_DOC(SCHOOL("88YY", "01") "<le:groepen><le:groep key=\"G9\">"
				     "<le:naam>9</le:naam><le:jaargroep>c"
				     "</le:jaargroep></le:groep></le:groepen>\n"),
	 VZ_MIN, NULL, NULL, {0, 0}, "invalid <jaargroep> \"c\"", {0}, {0}},
	{"bad_geheim_on_adres", LE_MIN,
	 VZ_STD(VERZORGER("V1", ADRES("TRUE", ""))), NULL, NULL, {0, 0},
	 "HaalVerzorgergegevens line 8 at " VZ_PATH "/verzorger/adres: "
	 "invalid attribute geheim=\"TRUE\" on <adres> (true or false "
	 "expected)",
	 {0}, {0}},
	{"bad_geheim_on_telefoon", LE_MIN,
	 VZ_STD(VERZORGER("V1", TEL("vast", "1", "030"))), NULL, NULL, {0, 0},
	 "invalid attribute geheim=\"1\" on <telefoon>", {0}, {0}},
	{"missing_geheim", LE_MIN,
	 VZ_STD(VERZORGER("V1", "<vz:telefoon soort=\"vast\">030"
				"</vz:telefoon>")),
	 NULL, NULL, {0, 0}, "missing attribute geheim on <telefoon>", {0},
	 {0}},
	{"bad_soort", LE_MIN,
	 VZ_STD(VERZORGER("V1", TEL("fax", "false", "030"))), NULL, NULL,
	 {0, 0},
	 "HaalVerzorgergegevens line 8 at " VZ_PATH "/verzorger/telefoon: "
	 "invalid attribute soort=\"fax\" on <telefoon> (vast, mobiel or "
	 "nood expected)",
	 {0}, {0}},
	{"soort_is_case_sensitive", LE_MIN,
	 VZ_STD(VERZORGER("V1", TEL("Mobiel", "false", "06"))), NULL, NULL,
	 {0, 0}, "invalid attribute soort=\"Mobiel\"", {0}, {0}},
	{"second_telefoon_of_a_soort", LE_MIN,
	 VZ_STD(VERZORGER("V1", TEL("mobiel", "false", "06-1")
				TEL("mobiel", "false", "06-2"))),
	 NULL, NULL, {0, 0},
	 "second <telefoon soort=\"mobiel\"> in verzorger \"V1\"", {0}, {0}},
	/* keys */
	{"dangling_groep",
	 LE_STD(LEERLING("L1", "2", IN("G99"))), VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 9: leerling \"L1\": groep \"G99\" not in "
	 "groepen",
	 {0}, {0}},
	{"groep_naming_a_samengestelde_groep",
	 LE_STD(LEERLING("L1", "2", IN("SG"))), VZ_MIN, NULL, NULL, {0, 0},
	 "leerling \"L1\": <groep key=\"SG\"> names a samengestelde_groep",
	 {0}, {0}},
	{"samengestelde_groep_naming_a_groep",
	 LE_STD(LEERLING("L1", "2", IN_SG("G5"))), VZ_MIN, NULL, NULL, {0, 0},
	 "leerling \"L1\": <samengestelde_groep key=\"G5\"> names a groep",
	 {0}, {0}},
	{"leerkracht_dangling_groep",
	 LE_DOC(SCHOOL("88YY", "01") GROEPEN LEERKRACHTEN(IN("G7"))), VZ_MIN,
	 NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 8: leerkracht \"M1\": groep \"G7\" not "
	 "in groepen",
	 {0}, {0}},
	{"duplicate_leerling",
	 LE_STD(LEERLING("L1", "2", "") LEERLING("L1", "3", "")), VZ_MIN, NULL,
	 NULL, {0, 0},
	 "HaalLeerlinggegevens line 10: leerling key \"L1\" used twice (also "
	 "on line 9)",
	 {0}, {0}},
	{"groep_and_samengestelde_groep_share_a_key",
	 LE_DOC(SCHOOL("88YY", "01") "<le:groepen><le:groep key=\"X\">"
				     "<le:naam>X</le:naam></le:groep>\n"
				     "<le:samengestelde_groep key=\"X\">"
				     "<le:naam>Y</le:naam>"
				     "</le:samengestelde_groep></le:groepen>\n"),
	 VZ_MIN, NULL, NULL, {0, 0},
	 "line 8: groep/samengestelde_groep key \"X\" used twice (also on "
	 "line 7)",
	 {0}, {0}},
	{"duplicate_verzorger", LE_MIN,
	 VZ_STD(VERZORGER("V1", "") VERZORGER("V1", "")), NULL, NULL, {0, 0},
	 "HaalVerzorgergegevens line 9: verzorger key \"V1\" used twice", {0},
	 {0}},
	/* faults */
	{"soap_fault", FAULT(""), VZ_MIN, NULL, NULL, {0, 0},
	 "HaalLeerlinggegevens line 4 at /Envelope/Body: SOAP Fault: "
	 "\"Interne fout\" (faultcode \"SOAP-ENV:Server\")",
	 {0}, {0}},
	{"soap_fault_other_autorisatiefout", LE_MIN,
	 FAULT("<detail><au:autorisatiefout xmlns:au=\"urn:au\"><au:code>"
	       "SLEUTEL_ONGELDIG</au:code></au:autorisatiefout></detail>"),
	 NULL, NULL, {0, 0},
	 "HaalVerzorgergegevens line 4 at /Envelope/Body: SOAP Fault: "
	 "\"Interne fout\" (faultcode \"SOAP-ENV:Server\"); autorisatiefout "
	 "\"SLEUTEL_ONGELDIG\"",
	 {0}, {0}},
	/* successes */
	{"test_r4_student_year_on_the_groep_placement",
	 LE_STD(LEERLING("L1", "2", IN("G12A") IN_SG("SG"))
			LEERLING("L2", "1", IN("G12A"))),
	 VZ_STD(""), NULL, NULL, {0, 0}, NULL,
	 {"G G12A 1/2A class C\n", "G SG Taalclub sub -\n",
	  "S L1 Lotte|-|Visser born=2019-02-01 year=2 G12A/2/-/- SG/-/-/-\n",
	  "S L2 Lotte|-|Visser born=2019-02-01 year=1 G12A/1/-/-\n"},
	 {0}},
	{"test_r10_geheim_flags_kept_in_the_model", LE_MIN,
	 VZ_STD(VERZORGER("V1", ADRES("true", "") TEL("vast", "true", "030-1")
				TEL("nood", "true", "06-9")
				KINDEREN(KIND("L1")))),
	 NULL, NULL, {0, 0}, NULL,
	 {"adres=Wilgenlaan|7|-|5678 GH|Zwolle|geheim vast=030-1|geheim "
	  "nood=06-9|geheim rel=L1/vader/wv\n"},
	 {0}},
	{"relation_to_absent_student_dropped", LE_MIN,
	 VZ_STD(VERZORGER("V1", KINDEREN(KIND("L1") KIND("L77")))), NULL,
	 NULL, {0, 0}, NULL, {"dropped=1", " rel=L1/vader/wv\n"}, {"L77"}},
	{"relatie_optional", LE_MIN,
	 VZ_STD(VERZORGER("V1", "<vz:kinderen><vz:leerling key=\"L1\"/>"
				"</vz:kinderen>")),
	 NULL, NULL, {0, 0}, NULL, {" rel=L1/-/wv\n"}, {0}},
	{"optional_elements_absent",
	 LE_STD("<le:leerling key=\"L1\"><le:achternaam>V</le:achternaam>"
		"<le:roepnaam>E</le:roepnaam><le:geboortedatum>2019-01-01"
		"</le:geboortedatum><le:jaargroep>3</le:jaargroep>"
		"</le:leerling>\n"),
	 VZ_STD("<vz:verzorger key=\"V1\"><vz:achternaam>W</vz:achternaam>"
		"</vz:verzorger>\n"),
	 NULL, NULL, {0, 0}, NULL,
	 {"S L1 E|-|V born=2019-01-01 year=3\n", "V V1 -|-|-|W -\n"}, {0}},
	{"empty_toevoeging_is_absent", LE_MIN,
	 VZ_STD(VERZORGER("V1", ADRES("false", "  "))), NULL, NULL, {0, 0},
	 NULL, {"adres=Wilgenlaan|7|-|5678 GH|Zwolle\n"}, {0}},
	{"empty_lists", LE_DOC(SCHOOL("88YY", "01")), VZ_STD(""), NULL, NULL,
	 {0, 0}, NULL,
	 {"school vendor=2 brin=88YY dep=01 jaar=2026-2027 dropped=0\n"},
	 {"S ", "V "}},
	{"soap_header_skipped",
	 "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" NS_ENV "\"><SOAP-ENV:Header>"
	 "<x:trace xmlns:x=\"urn:x\">1</x:trace></SOAP-ENV:Header>"
	 "<SOAP-ENV:Body><le:leerlinggegevens_antwoord xmlns:le=\"" NS_LE "\">"
	 "<le:leerlinggegevens>" SCHOOL("88YY", "01") "</le:leerlinggegevens>"
	 "</le:leerlinggegevens_antwoord></SOAP-ENV:Body>"
	 "</SOAP-ENV:Envelope>",
	 VZ_STD(""), NULL, NULL, {0, 0}, NULL, {"brin=88YY dep=01"}, {0}},
	{"leerkracht_in_both_kinds",
	 LE_DOC(SCHOOL("88YY", "01") GROEPEN
			LEERKRACHTEN(IN("G5") "<le:samengestelde_groep "
					      "key=\"SG\"/>")),
	 VZ_STD(""), NULL, NULL, {0, 0}, NULL,
	 {"M M1 Sanne|-|Mulder - groups=G5,SG\n"}, {0}},
};

static void test_esis_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const es_case *c = &cases[i];
		size_t vlen = strcmp(c->name, "utf16_rejected") == 0
				      ? 4
				      : strlen(c->vz);
		lasync_school *s = (lasync_school *)1;
		char err[1024] = "";
		int rc = parse2(c->le, strlen(c->le), c->vz, vlen,
				c->brin ? c->brin : "88YY",
				c->dep ? c->dep : "01", &c->lim, &s, err,
				sizeof(err));

		if (c->want_err != NULL) {
			if (rc == 0 || s != NULL ||
			    strstr(err, c->want_err) == NULL) {
				print_error("%s: got rc=%d err \"%s\", want "
					    "error containing \"%s\"\n",
					    c->name, rc, err, c->want_err);
				fail();
			}
			for (int k = 0; k < 2 && c->want_not[k]; k++)
				if (strstr(err, c->want_not[k]) != NULL) {
					print_error("%s: error \"%s\" shows "
						    "\"%s\"\n",
						    c->name, err,
						    c->want_not[k]);
					fail();
				}
			continue;
		}
		if (rc != 0) {
			print_error("%s: got error \"%s\", want success\n",
				    c->name, err);
			fail();
		}
		char *got = dump(s);

		for (int k = 0; k < 4 && c->want_has[k]; k++)
			if (strstr(got, c->want_has[k]) == NULL) {
				print_error("%s: got:\n%s\nwant it to contain "
					    "\"%s\"\n",
					    c->name, got, c->want_has[k]);
				fail();
			}
		for (int k = 0; k < 2 && c->want_not[k]; k++)
			if (strstr(got, c->want_not[k]) != NULL) {
				print_error("%s: got:\n%s\nwant no \"%s\"\n",
					    c->name, got, c->want_not[k]);
				fail();
			}
		free(got);
		lasync_school_free(s);
	}
}

/* ---------- a school of 2,000 students ---------- */

#define BIG_STUDENTS 2000
#define BIG_PER_GROUP 25

/* big_school - HaalLeerlinggegevens and HaalVerzorgergegevens of a school
 * of BIG_STUDENTS students in groepen of BIG_PER_GROUP: groep g holds
 * jaargroep g % 8 + 1, every fourth is a combination groep (jaargroep C)
 * whose odd students are a year up (or down, from 8); every tenth groep
 * has a samengestelde_groep of each fifth of its students; a leerkracht
 * per groep; a verzorger per student, with that student and the next as
 * children, every seventh with a secret mobile (caller frees both) */
static void big_school(char **le, char **vz)
{
	size_t n_groups = BIG_STUDENTS / BIG_PER_GROUP;
	char *l = NULL, *v = NULL;

	app(&l, "%s", ENV_HEAD "<le:leerlinggegevens_antwoord xmlns:le=\"" NS_LE
		      "\"><le:leerlinggegevens>" SCHOOL("88YY", "01")
		      "<le:groepen>\n");
	for (size_t g = 0; g < n_groups; g++) {
		char year[2] = {(char)('1' + g % 8), '\0'};

		app(&l,
		    "<le:groep key=\"G%zu\"><le:naam>Groep %zu</le:naam>"
		    "<le:jaargroep>%s</le:jaargroep></le:groep>\n",
		    g, g, g % 4 == 0 ? "C" : year);
		if (g % 10 == 0)
			app(&l,
			    "<le:samengestelde_groep key=\"SG%zu\"><le:naam>"
			    "Plus %zu</le:naam></le:samengestelde_groep>\n",
			    g, g);
	}
	app(&l, "</le:groepen><le:leerlingen>\n");
	for (size_t i = 0; i < BIG_STUDENTS; i++) {
		size_t g = i / BIG_PER_GROUP;
		unsigned year = (unsigned)(g % 8) + 1;

		if (g % 4 == 0 && i % 2 == 1)
			year = year == 8 ? 7 : year + 1;
		app(&l,
		    "<le:leerling key=\"L%zu\"><le:achternaam>Achter%zu"
		    "</le:achternaam><le:roepnaam>Kind</le:roepnaam>"
		    "<le:geboortedatum>%u-0%zu-1%zu</le:geboortedatum>"
		    "<le:geslacht>%zu</le:geslacht><le:jaargroep>%u"
		    "</le:jaargroep><le:groep key=\"G%zu\"/>",
		    i, i, 2021 - year, 1 + i % 9, i % 10, 1 + i % 2, year, g);
		if (g % 10 == 0 && i % 5 == 0)
			app(&l, IN_SG("SG%zu"), g);
		app(&l, "</le:leerling>\n");
	}
	app(&l, "</le:leerlingen><le:leerkrachten>\n");
	for (size_t g = 0; g < n_groups; g++) {
		app(&l,
		    "<le:leerkracht key=\"M%zu\"><le:achternaam>Juf%zu"
		    "</le:achternaam><le:roepnaam>Juf</le:roepnaam>"
		    "<le:emailadres>m%zu@school.example.nl</le:emailadres>"
		    "<le:groepen>" IN("G%zu"),
		    g, g, g, g);
		if (g % 10 == 0)
			app(&l, "<le:samengestelde_groep key=\"SG%zu\"/>", g);
		app(&l, "</le:groepen></le:leerkracht>\n");
	}
	app(&l, "%s",
	    "</le:leerkrachten></le:leerlinggegevens>"
	    "</le:leerlinggegevens_antwoord>\n" ENV_TAIL);

	app(&v, "%s", ENV_HEAD "<vz:verzorgergegevens_antwoord xmlns:vz=\"" NS_VZ
		      "\"><vz:brincode>88YY</vz:brincode><vz:dependancecode>01"
		      "</vz:dependancecode><vz:verzorgers>\n");
	for (size_t i = 0; i < BIG_STUDENTS; i++)
		app(&v,
		    "<vz:verzorger key=\"V%zu\"><vz:achternaam>Ouder%zu"
		    "</vz:achternaam><vz:roepnaam>Ouder</vz:roepnaam>"
		    "<vz:voorletters>O.</vz:voorletters><vz:emailadres>"
		    "o%zu@example.nl</vz:emailadres>" ADRES("false", "")
			    TEL("vast", "false", "030-%zu")
				    TEL("mobiel", "%s", "06-%zu")
		    "<vz:kinderen><vz:leerling key=\"L%zu\" relatie=\"moeder\"/>"
		    "<vz:leerling key=\"L%zu\" relatie=\"vader\"/>"
		    "</vz:kinderen></vz:verzorger>\n",
		    i, i, i, i, i % 7 == 0 ? "true" : "false", i, i,
		    (i + 1) % BIG_STUDENTS);
	app(&v, "%s", "</vz:verzorgers></vz:verzorgergegevens_antwoord>\n"
		      ENV_TAIL);
	*le = l;
	*vz = v;
}

/* test_esis_large_school - 2,000 students parse and map without error */
static void test_esis_large_school(void **state)
{
	char *le, *vz, err[512] = "";
	lasync_school *s = NULL;
	mapper_rules_stats stats;
	lasync_settings set;
	lasync_state *st;

	(void)state;
	big_school(&le, &vz);
	if (parse2(le, strlen(le), vz, strlen(vz), "88YY", "01", NULL, &s, err,
		   sizeof(err)) != 0) {
		print_error("got error %s, want success\n", err);
		fail();
	}
	assert_int_equal(s->n_students, BIG_STUDENTS);
	assert_int_equal(s->n_guardians, BIG_STUDENTS);
	assert_int_equal(s->n_staff, BIG_STUDENTS / BIG_PER_GROUP);
	assert_int_equal(s->n_groups, BIG_STUDENTS / BIG_PER_GROUP + 8);
	assert_int_equal(s->n_dropped_relations, 0);
	st = map(s, NULL, &stats);
	assert_int_equal(stats.students, BIG_STUDENTS);
	assert_int_equal(stats.guardians, BIG_STUDENTS);
	assert_int_equal(stats.staff, BIG_STUDENTS / BIG_PER_GROUP);
	/* one jaargroep per groep, one samengestelde groep per tenth */
	assert_int_equal(stats.groups, BIG_STUDENTS / BIG_PER_GROUP + 8);
	assert_int_equal(stats.secret_dropped, (BIG_STUDENTS + 6) / 7);
	assert_non_null(strstr(attr_of(st, "esis:jaargroep:G0",
				       LASYNC_G_YEARS),
			       "[\"1\",\"2\"]"));
	lasync_state_free(st);
	lasync_settings_defaults(&set);
	set.esis_split_combination_groups = true;
	st = map(s, &set, &stats);
	/* each of the 20 combination groepen: two jaargroepen + composite */
	assert_int_equal(stats.groups, BIG_STUDENTS / BIG_PER_GROUP + 8 + 40);
	lasync_state_free(st);
	lasync_settings_free(&set);
	lasync_school_free(s);
	free(le);
	free(vz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esis_example_school),
		cmocka_unit_test(test_r4_esis_example_school_mapped),
		cmocka_unit_test(test_r4_esis_split_combination_groups),
		cmocka_unit_test(test_r6_emergency_phone_esis),
		cmocka_unit_test(test_r10_secret_contact_data_esis),
		cmocka_unit_test(test_r18_esis_label_fault),
		cmocka_unit_test(test_esis_element_order_free),
		cmocka_unit_test(test_esis_table),
		cmocka_unit_test(test_esis_large_school),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
