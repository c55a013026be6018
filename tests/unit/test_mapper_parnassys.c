/*
 * test_mapper_parnassys.c - services/mapper/mapper_parnassys.c and the
 * adapter registry (mapper_adapter.c).
 *
 * The example school (fixtures/las/parnassys/99ZZ) is parsed whole and its
 * model compared line by line; small inline documents cover R1 and every
 * shape the adapter must refuse.  Models are compared through a text dump,
 * so a failure prints the whole got/want.
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
#include "mapper_adapter.h"

#define NS_ENV "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_PS "http://www.topicus.nl/parnassys"

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

/* env - a response envelope around a <return> body (caller frees) */
static char *env(const char *op, const char *body)
{
	return lasync_xasprintf(
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<soap:Envelope xmlns:soap=\"" NS_ENV "\">\n<soap:Body>\n"
		"<ns2:%sResponse xmlns:ns2=\"" NS_PS "\">\n<return>\n%s\n"
		"</return>\n</ns2:%sResponse>\n</soap:Body>\n</soap:Envelope>\n",
		op, body, op);
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

/* dump - the model as text, one record a line */
static char *dump(const lasync_school *s)
{
	char *o = NULL;

	app(&o, "school vendor=%d brin=%s dep=%s jaar=%s dropped=%zu\n",
	    s->vendor, S(s->brin), S(s->dependance), S(s->schooljaar),
	    s->n_dropped_relations);
	for (size_t i = 0; i < s->n_groups; i++)
		app(&o, "G %s %s %s\n", s->groups[i].id, s->groups[i].name,
		    s->groups[i].kind == LASYNC_LG_CLASS ? "class" : "sub");
	for (size_t i = 0; i < s->n_students; i++) {
		const lasync_student *st = &s->students[i];

		app(&o, "S %s %s|%s|%s|%s born=%s in=%s out=%s%s", st->id,
		    S(st->roepnaam), S(st->voornamen), S(st->tussenvoegsel),
		    S(st->achternaam), S(st->birth_date), S(st->enrolled_from),
		    S(st->enrolled_until), st->pending ? " pending" : "");
		for (size_t k = 0; k < st->n_placements; k++)
			app(&o, " %s/%s/%s/%s", st->placements[k].group_id,
			    S(st->placements[k].year_level),
			    S(st->placements[k].from),
			    S(st->placements[k].until));
		app(&o, "\n");
	}
	for (size_t i = 0; i < s->n_staff; i++) {
		const lasync_staff *m = &s->staff[i];

		app(&o, "M %s %s|%s|%s %s %s groups=", m->id, S(m->roepnaam),
		    S(m->tussenvoegsel), S(m->achternaam), S(m->email),
		    S(m->functie));
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
		if (g->phone_home.number)
			app(&o, " vast=%s%s", g->phone_home.number,
			    g->phone_home.secret ? "|geheim" : "");
		if (g->phone_mobile.number)
			app(&o, " mobiel=%s%s", g->phone_mobile.number,
			    g->phone_mobile.secret ? "|geheim" : "");
		for (size_t k = 0; k < g->n_relations; k++)
			app(&o, " rel=%s/%s%s", g->relations[k].student_id,
			    S(g->relations[k].type),
			    g->relations[k].legal ? "/wv" : "");
		app(&o, "\n");
	}
	return o;
}

static int parse3(const char *lee, size_t llen, const char *med, size_t mlen,
		  const char *ver, size_t vlen, const char *brin,
		  const char *dep, const mapper_limits *lim,
		  lasync_school **out, char *err, size_t errlen)
{
	const mapper_adapter *ad = mapper_adapter_for(1);
	mapper_doc docs[3] = {
		{"getLeerlingen", lee, llen},
		{"getMedewerkers", med, mlen},
		{"getVerzorgers", ver, vlen},
	};

	assert_non_null(ad);
	return ad->parse(docs, 3, brin, dep, lim, out, err, errlen);
}

/* ---------- the example school ---------- */

static const char example_want[] =
	"school vendor=1 brin=99ZZ dep=00 jaar=2026 / 2027 dropped=0\n"
	"G 7001 1/2A class\n"
	"G 7002 Groep 3 class\n"
	"G 7101 Rekenplus sub\n"
	"S 100001 Emma|Emma Johanna|de|Vries born=2021-09-12 in=2025-09-12 "
	"out=- 7001/2/2026-08-01/2027-07-31\n"
	"S 100002 Daan|Daan|-|Jansen born=2022-03-03 in=2026-03-03 out=- "
	"7001/1/2026-08-01/2027-07-31\n"
	"S 100003 Sara|Sara|de|Vries born=2019-05-20 in=2023-05-20 out=- "
	"7002/3/2026-08-01/2027-07-31 7101/-/2026-09-01/2027-07-31\n"
	"S 100004 Noah|Noah|-|Bakker born=2023-01-15 in=2027-01-15 out=- "
	"pending 7001/1/2027-01-15/2027-07-31\n"
	"M 300001 Marieke|-|Smit m.smit@delinde.example.nl Leerkracht "
	"groups=7001\n"
	"M 300002 Ahmed|-|Yilmaz a.yilmaz@delinde.example.nl Leerkracht "
	"groups=7002,7101\n"
	"M 300003 Ingrid|van|Dam i.vandam@delinde.example.nl Intern "
	"begeleider groups=7001,7002,7101\n"
	"V 200001 Anna|A.M.|de|Vries anna.devries@example.nl "
	"adres=Lindelaan|12|B|1234 AB|Utrecht vast=030-1234567 "
	"mobiel=06-12345678 rel=100001/MOEDER/wv rel=100003/MOEDER/wv\n"
	"V 200002 Pieter|P.|de|Vries - adres=Lindelaan|12|B|1234 AB|Utrecht "
	"mobiel=06-87654321|geheim rel=100001/VADER/wv rel=100003/VADER/wv\n"
	"V 200003 Fatima|F.|-|Jansen-El Amrani F.Jansen@Example.NL "
	"adres=Kastanjestraat|3|-|1234 CD|Utrecht mobiel=06-22223333 "
	"rel=100002/MOEDER/wv\n"
	"V 200004 Tom|T.|-|Bakker tom.bakker@example.nl "
	"adres=Eikenweg|40|-|1235 EF|Utrecht|geheim rel=100004/VADER/wv\n";

static void test_parnassys_example_school(void **state)
{
	const char *names[3] = {"getLeerlingen", "getMedewerkers",
				"getVerzorgers"};
	char *data[3];
	size_t len[3];
	char err[512] = "", *got;
	lasync_school *s = NULL;

	(void)state;
	for (int i = 0; i < 3; i++) {
		char *path = lasync_xasprintf(
			"%s/las/parnassys/99ZZ/%s.xml", LASYNC_FIXTURES,
			names[i]);

		data[i] = read_file(path, &len[i]);
		if (data[i] == NULL) {
			print_error("fixture %s missing\n", path);
			fail();
		}
		free(path);
	}
	if (parse3(data[0], len[0], data[1], len[1], data[2], len[2], "99ZZ",
		   "00", NULL, &s, err, sizeof(err)) != 0) {
		print_error("got error %s, want success\n", err);
		fail();
	}
	got = dump(s);
	if (strcmp(got, example_want) != 0) {
		print_error("got:\n%s\nwant:\n%s\n", got, example_want);
		fail();
	}
	assert_non_null(lasync_school_student(s, "100003"));
	assert_null(lasync_school_student(s, "999"));
	assert_int_equal(lasync_school_group(s, "7101")->kind,
			 LASYNC_LG_SUBGROUP);
	free(got);
	lasync_school_free(s);
	for (int i = 0; i < 3; i++)
		free(data[i]);
}

/* ---------- inline documents ---------- */

#define VEST(id, brin, dep)                                               \
	"<vestiging><id>" id "</id><brinnummer>" brin                     \
	"</brinnummer><dependancecode>" dep                               \
	"</dependancecode><naam>School</naam></vestiging>"
#define GROEPEN                                                           \
	"<groepen>"                                                       \
	"<groep><id>7001</id><naam>1/2A</naam><code>L01</code>"           \
	"<type>LESGROEP</type><schooljaar>27</schooljaar></groep>"        \
	"<groep><id>7101</id><naam>Rekenplus</naam>"                      \
	"<type>SUBLESGROEP</type></groep>"                                \
	"</groepen>"
#define ITYPES                                                            \
	"<inschrijvingtypes>"                                             \
	"<inschrijvingtype><id>1</id><code>REG</code></inschrijvingtype>" \
	"<inschrijvingtype><id>2</id><code>AANM</code></inschrijvingtype>" \
	"</inschrijvingtypes>"
#define LEERLING(id, vest, extra)                                         \
	"<leerling><id>" id "</id><achternaam>Vries</achternaam>"         \
	"<roepNaam>Emma</roepNaam><geboortedatum>2019-01-01"              \
	"</geboortedatum><vestiging>" vest "</vestiging>" extra           \
	"</leerling>"
#define PLACE(g, y)                                                       \
	"<groepsindelingen><groepsindeling><groep>" g "</groep><leerjaar>" \
	y "</leerjaar><vanafDatum>2026-08-01</vanafDatum><totDatum>"      \
	"2027-07-31</totDatum></groepsindeling></groepsindelingen>"
#define LEE_STD(students)                                                 \
	"<vestigingen>" VEST("501", "99ZZ", "00") "</vestigingen>" GROEPEN \
	ITYPES "<leerlingen>" students "</leerlingen>"
#define MED_STD                                                           \
	"<medewerkers><medewerker><id>300001</id><roepNaam>Marieke"       \
	"</roepNaam><achternaam>Smit</achternaam><groepen><groep>7001"    \
	"</groep></groepen></medewerker></medewerkers>"
#define ADRES(id, geheim)                                                 \
	"<adres><id>" id "</id><straat>Lindelaan</straat><huisnummer>12"  \
	"</huisnummer><postcode>1234 AB</postcode><plaats>Utrecht</plaats>" \
	"<land>Nederland</land><geheimadres>" geheim "</geheimadres></adres>"
#define VERZORGER(id, adres, rels)                                        \
	"<verzorger><id>" id "</id><roepNaam>Anna</roepNaam>"             \
	"<achternaam>Vries</achternaam><adres>" adres "</adres>"          \
	"<relaties>" rels "</relaties></verzorger>"
#define REL(l)                                                            \
	"<relatie><leerling>" l "</leerling><type>MOEDER</type>"          \
	"<wettelijkVertegenwoordiger>true</wettelijkVertegenwoordiger>"   \
	"</relatie>"
#define VER_STD(verzorgers)                                               \
	"<adressen>" ADRES("3001", "false") "</adressen><verzorgers>"     \
	verzorgers "</verzorgers>"

typedef struct ps_case {
	const char *name;
	const char *lee, *med, *ver;	/* <return> bodies */
	const char *raw_lee;		/* whole getLeerlingen, overrides */
	const char *brin, *dep;
	mapper_limits lim;
	const char *want_err;		/* substring; NULL = must parse */
	const char *want_has[4];	/* substrings of the dump */
	const char *want_not[2];	/* not in the dump */
} ps_case;

static const ps_case cases[] = {
	{"test_r1_other_brin_rejected",
	 "<vestigingen>" VEST("501", "99ZZ", "00") VEST("502", "11AA", "00")
	 "</vestigingen>",
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "snapshot holds BRIN \"11AA\", tenant has 99ZZ", {0}, {0}},
	{"test_r1_missing_dependance_rejected",
	 "<vestigingen>" VEST("501", "99ZZ", "00") "</vestigingen>", "", "",
	 NULL, "99ZZ", "01", {0, 0},
	 "no vestiging of BRIN 99ZZ with dependance 01 in the snapshot "
	 "(vestigingen: 00)",
	 {0}, {0}},
	{"test_r1_no_vestigingen_rejected", "", "", "", NULL, "99ZZ", "00", {0, 0},
	 "(vestigingen: none)", {0}, {0}},
	{"unknown_list_in_getLeerlingen",
	 "<vestigingen>" VEST("501", "99ZZ", "00") "</vestigingen>" GROEPEN
	 "<klassen/>",
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "unknown element <klassen> in <return>", {0}, {0}},
	{"unknown_element_in_leerling",
	 LEE_STD(LEERLING("1", "501", "<hobby>x</hobby>")), "", "", NULL,
	 "99ZZ", "00", {0, 0},
	 "getLeerlingen line 6 at "
	 "/Envelope/Body/getLeerlingenResponse/return/leerlingen/leerling/"
	 "hobby: unknown element <hobby> in <leerling>",
	 {0}, {0}},
	{"unknown_element_in_verzorger", LEE_STD(""), "",
	 VER_STD("<verzorger><id>1</id><achternaam>X</achternaam><fax>1</fax>"
		 "</verzorger>"),
	 NULL, "99ZZ", "00", {0, 0},
	 "getVerzorgers line 6 at "
	 "/Envelope/Body/getVerzorgersResponse/return/verzorgers/verzorger/"
	 "fax: unknown element <fax> in <verzorger>",
	 {0}, {0}},
	{"unknown_list_in_return", LEE_STD(""), "<klassen/>", "", NULL, "99ZZ",
	 "00", {0, 0}, "getMedewerkers line 6 at /Envelope/Body/getMedewerkersResponse/return/klassen: unknown element <klassen> in <return>", {0}, {0}},
	{"missing_achternaam",
	 LEE_STD("<leerling><id>1</id><roepNaam>E</roepNaam><geboortedatum>"
		 "2019-01-01</geboortedatum><vestiging>501</vestiging>"
		 "</leerling>"),
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "missing required element <achternaam> in <leerling>", {0}, {0}},
	{"missing_id",
	 LEE_STD("<leerling><achternaam>V</achternaam><roepNaam>E</roepNaam>"
		 "<geboortedatum>2019-01-01</geboortedatum><vestiging>501"
		 "</vestiging></leerling>"),
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "missing required element <id> in <leerling>", {0}, {0}},
	{"missing_geboortedatum",
	 LEE_STD("<leerling><id>1</id><achternaam>V</achternaam><roepNaam>E"
		 "</roepNaam><vestiging>501</vestiging></leerling>"),
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "missing required element <geboortedatum> in <leerling>", {0}, {0}},
	{"empty_required_element",
	 LEE_STD("<leerling><id>1</id><achternaam> </achternaam><roepNaam>E"
		 "</roepNaam><geboortedatum>2019-01-01</geboortedatum>"
		 "<vestiging>501</vestiging></leerling>"),
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "required element <achternaam> in <leerling> is empty", {0}, {0}},
	{"bad_date",
	 LEE_STD("<leerling><id>1</id><achternaam>V</achternaam><roepNaam>E"
		 "</roepNaam><geboortedatum>2019-02-29</geboortedatum>"
		 "<vestiging>501</vestiging></leerling>"),
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "invalid date in <geboortedatum> of <leerling> (YYYY-MM-DD "
	 "expected)",
	 {0}, {0}},
	{"bad_date_format",
	 LEE_STD(LEERLING("1", "501",
			  "<groepsindelingen><groepsindeling><groep>7001"
			  "</groep><leerjaar>1</leerjaar><vanafDatum>1-8-2026"
			  "</vanafDatum></groepsindeling></groepsindelingen>")),
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "invalid date in <vanafDatum> of <groepsindeling>", {0}, {0}},
	{"bad_boolean", LEE_STD(""), "",
	 VER_STD(VERZORGER("200001", "3001", "") ""
		 "<verzorger><id>2</id><achternaam>X</achternaam>"
		 "<telefoonMobiel><nummer>06</nummer><geheim>yes</geheim>"
		 "</telefoonMobiel></verzorger>"),
	 NULL, "99ZZ", "00", {0, 0},
	 "invalid boolean in <geheim> of <telefoonMobiel> (true or false "
	 "expected)",
	 {0}, {0}},
	{"bad_boolean_capitalised", LEE_STD(""), "",
	 "<adressen>" ADRES("3001", "TRUE") "</adressen>", NULL, "99ZZ", "00",
	 {0, 0}, "invalid boolean in <geheimadres> of <adres>", {0}, {0}},
	{"soap_fault", NULL, "", "",
	 "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"" NS_ENV "\">"
	 "<soap:Body><soap:Fault><faultcode>soap:Server</faultcode>"
	 "<faultstring>Ongeldige leveranciersleutel</faultstring>"
	 "<detail><x>1</x></detail></soap:Fault></soap:Body>"
	 "</soap:Envelope>",
	 "99ZZ", "00", {0, 0},
	 "SOAP Fault: Ongeldige leveranciersleutel (faultcode soap:Server)",
	 {0}, {0}},
	{"malformed_xml", NULL, "", "",
	 "<soap:Envelope xmlns:soap=\"" NS_ENV "\"><soap:Body>"
	 "</soap:Envelope>",
	 "99ZZ", "00", {0, 0}, "getLeerlingen line 1", {0}, {0}},
	{"billion_laughs_rejected", NULL, "", "",
	 "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\">"
	 "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
	 "<soap:Envelope xmlns:soap=\"" NS_ENV "\"><soap:Body>&b;"
	 "</soap:Body></soap:Envelope>",
	 "99ZZ", "00", {0, 0}, "getLeerlingen line 1: DOCTYPE not allowed",
	 {0}, {0}},
	{"oversize_document", LEE_STD(""), "", "", NULL, "99ZZ", "00",
	 {200, 0}, "getLeerlingen: document of", {0}, {0}},
	{"record_limit",
	 LEE_STD(LEERLING("1", "501", "") LEERLING("2", "501", "")
			 LEERLING("3", "501", "")),
	 "", "", NULL, "99ZZ", "00", {0, 2},
	 "more than 2 <leerling> in <leerlingen> (record limit)", {0}, {0}},
	{"response_namespace_checked", NULL, "", "",
	 "<soap:Envelope xmlns:soap=\"" NS_ENV "\"><soap:Body>"
	 "<getLeerlingenResponse xmlns=\"urn:other\"><return/>"
	 "</getLeerlingenResponse></soap:Body></soap:Envelope>",
	 "99ZZ", "00", {0, 0},
	 "<getLeerlingenResponse> in namespace urn:other, expected "
	 "http://www.topicus.nl/parnassys",
	 {0}, {0}},
	{"wrong_response_element", NULL, "", "",
	 "<soap:Envelope xmlns:soap=\"" NS_ENV "\"><soap:Body>"
	 "<ns2:getVerzorgersResponse xmlns:ns2=\"" NS_PS "\"><return/>"
	 "</ns2:getVerzorgersResponse></soap:Body></soap:Envelope>",
	 "99ZZ", "00", {0, 0},
	 "unexpected element <getVerzorgersResponse> in <Body>, expected "
	 "<getLeerlingenResponse>",
	 {0}, {0}},
	{"soap12_envelope_rejected", NULL, "", "",
	 "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"/>",
	 "99ZZ", "00", {0, 0}, "is not a SOAP 1.1 Envelope", {0}, {0}},
	{"missing_return", NULL, "", "",
	 "<soap:Envelope xmlns:soap=\"" NS_ENV "\"><soap:Body>"
	 "<ns2:getLeerlingenResponse xmlns:ns2=\"" NS_PS "\"/>"
	 "</soap:Body></soap:Envelope>",
	 "99ZZ", "00", {0, 0}, "missing <return> in <getLeerlingenResponse>",
	 {0}, {0}},
	{"dangling_placement_group",
	 LEE_STD(LEERLING("1", "501", PLACE("7999", "1"))), "", "", NULL,
	 "99ZZ", "00", {0, 0},
	 "leerling \"1\": groepsindeling groep \"7999\" not in groepen", {0},
	 {0}},
	{"lesgroep_placement_needs_leerjaar",
	 LEE_STD(LEERLING("1", "501", PLACE("7001", "twee"))), "", "", NULL,
	 "99ZZ", "00", {0, 0}, "needs a numeric <leerjaar>", {0}, {0}},
	{"dangling_vestiging",
	 LEE_STD(LEERLING("1", "509", "")), "", "", NULL, "99ZZ", "00", {0, 0},
	 "leerling \"1\": vestiging \"509\" not in vestigingen", {0}, {0}},
	{"dangling_inschrijvingtype",
	 LEE_STD(LEERLING("1", "501",
			  "<inschrijvingen><inschrijving><inschrijvingType>9"
			  "</inschrijvingType></inschrijving></inschrijvingen>")),
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "inschrijvingType \"9\" not in inschrijvingtypes", {0}, {0}},
	{"dangling_verzorger_adres", LEE_STD(LEERLING("1", "501", "")), "",
	 VER_STD(VERZORGER("200001", "3999", REL("1"))), NULL, "99ZZ", "00",
	 {0, 0}, "verzorger \"200001\": adres \"3999\" not in adressen", {0},
	 {0}},
	{"duplicate_leerling",
	 LEE_STD(LEERLING("1", "501", "") LEERLING("1", "501", "")), "", "",
	 NULL, "99ZZ", "00", {0, 0}, "duplicate leerling id \"1\"", {0}, {0}},
	{"duplicate_element",
	 LEE_STD("<leerling><id>1</id><id>2</id></leerling>"), "", "", NULL,
	 "99ZZ", "00", {0, 0}, "element <id> twice in <leerling>", {0}, {0}},
	{"unknown_groep_type",
	 "<vestigingen>" VEST("501", "99ZZ", "00") "</vestigingen><groepen>"
	 "<groep><id>1</id><naam>X</naam><type>KLAS</type></groep></groepen>",
	 "", "", NULL, "99ZZ", "00", {0, 0},
	 "groep 1: unknown <type> \"KLAS\"", {0}, {0}},
	{"text_where_record_expected",
	 LEE_STD("<leerling>100001</leerling>"), "", "", NULL, "99ZZ", "00",
	 {0, 0}, "unexpected text in <leerling>", {0}, {0}},
	/* successes */
	{"relation_to_absent_student_dropped",
	 LEE_STD(LEERLING("1", "501", "")), MED_STD,
	 VER_STD(VERZORGER("200001", "3001", REL("1") REL("77"))), NULL,
	 "99ZZ", "00", {0, 0}, NULL,
	 {"dropped=1", "rel=1/MOEDER/wv\n"}, {"rel=77"}},
	{"element_order_free",
	 "<leerlingen><leerling><vestiging>501</vestiging><geboortedatum>"
	 "2019-01-01</geboortedatum><roepNaam>Emma</roepNaam><id>1</id>"
	 "<achternaam>Vries</achternaam>" PLACE("7001", "1") "</leerling>"
	 "</leerlingen>" ITYPES GROEPEN
	 "<vestigingen>" VEST("501", "99ZZ", "00") "</vestigingen>",
	 MED_STD, "", NULL, "99ZZ", "00", {0, 0}, NULL,
	 {"S 1 Emma|-|-|Vries born=2019-01-01 in=- out=- "
	  "7001/1/2026-08-01/2027-07-31\n",
	  "M 300001 Marieke|-|Smit - - groups=7001\n"},
	 {0}},
	{"optional_elements_absent",
	 LEE_STD(LEERLING("1", "501", "")), "", "", NULL, "99ZZ", "00",
	 {0, 0}, NULL, {"S 1 Emma|-|-|Vries born=2019-01-01 in=- out=-\n"},
	 {0}},
	{"secret_address_kept_flagged", LEE_STD(LEERLING("1", "501", "")), "",
	 "<adressen>" ADRES("3001", "true") "</adressen><verzorgers>"
	 VERZORGER("200001", "3001", REL("1")) "</verzorgers>",
	 NULL, "99ZZ", "00", {0, 0}, NULL,
	 {"adres=Lindelaan|12|-|1234 AB|Utrecht|geheim"}, {0}},
	{"pending_latest_inschrijving",
	 LEE_STD(LEERLING("1", "501",
			  "<inschrijvingen><inschrijving><datumInschrijving>"
			  "2027-01-01</datumInschrijving><inschrijvingType>2"
			  "</inschrijvingType></inschrijving><inschrijving>"
			  "<datumInschrijving>2020-01-01</datumInschrijving>"
			  "<datumUitschrijving>2021-01-01</datumUitschrijving>"
			  "<inschrijvingType>1</inschrijvingType>"
			  "</inschrijving></inschrijvingen>")),
	 "", "", NULL, "99ZZ", "00", {0, 0}, NULL,
	 {"in=2027-01-01 out=- pending"}, {0}},
	{"leerling_address_and_mobile_ignored",
	 "<vestigingen>" VEST("501", "99ZZ", "00") "</vestigingen><adressen>"
	 "<adres><id>3001</id><straat>X</straat><telefoon><id>1</id><nummer>"
	 "030</nummer><geheim>false</geheim></telefoon></adres></adressen>"
	 "<leerlingen>" LEERLING("1", "501",
				  "<leerlingAdres>3999</leerlingAdres><mobiel>"
				  "<nummer>06</nummer><geheim>false</geheim>"
				  "</mobiel>") "</leerlingen>",
	 "", "", NULL, "99ZZ", "00", {0, 0}, NULL, {"S 1 Emma"}, {0}},
	{"staff_unknown_group_dropped", LEE_STD(""),
	 "<medewerkers><medewerker><id>9</id><roepNaam>A</roepNaam>"
	 "<achternaam>B</achternaam><groepen><groep>7001</groep><groep>8888"
	 "</groep></groepen></medewerker></medewerkers>",
	 "", NULL, "99ZZ", "00", {0, 0}, NULL, {"M 9 A|-|B - - groups=7001\n"},
	 {0}},
};

/* several vestigingen: only the tenant's dependance, relations to the
 * other's students dropped without counting, staff seen only there gone */
static void test_r1_several_vestigingen_filtered(void **state)
{
	char *lee = env("getLeerlingen",
			"<vestigingen>" VEST("501", "99ZZ", "00")
				VEST("502", "99ZZ", "01") "</vestigingen>" GROEPEN
			"<leerlingen>" LEERLING("1", "501", PLACE("7001", "1"))
				LEERLING("2", "502", PLACE("7101", "1"))
			"</leerlingen>");
	char *med = env("getMedewerkers",
			"<medewerkers><medewerker><id>31</id><roepNaam>A"
			"</roepNaam><achternaam>B</achternaam><groepen><groep>"
			"7001</groep></groepen></medewerker><medewerker><id>32"
			"</id><roepNaam>C</roepNaam><achternaam>D</achternaam>"
			"<groepen><groep>7101</groep></groepen></medewerker>"
			"<medewerker><id>33</id><roepNaam>E</roepNaam>"
			"<achternaam>F</achternaam></medewerker></medewerkers>");
	char *ver = env("getVerzorgers",
			VER_STD(VERZORGER("41", "3001", REL("1") REL("2"))
					VERZORGER("42", "3001", REL("2"))));
	const char *want_00 =
		"school vendor=1 brin=99ZZ dep=00 jaar=- dropped=0\n"
		"G 7001 1/2A class\nG 7101 Rekenplus sub\n"
		"S 1 Emma|-|-|Vries born=2019-01-01 in=- out=- "
		"7001/1/2026-08-01/2027-07-31\n"
		"M 31 A|-|B - - groups=7001\n"
		"V 41 Anna|-|-|Vries - adres=Lindelaan|12|-|1234 AB|Utrecht "
		"rel=1/MOEDER/wv\n"
		"V 42 Anna|-|-|Vries - adres=Lindelaan|12|-|1234 AB|Utrecht\n";
	const char *want_01 =
		"school vendor=1 brin=99ZZ dep=01 jaar=- dropped=0\n"
		"G 7001 1/2A class\nG 7101 Rekenplus sub\n"
		"S 2 Emma|-|-|Vries born=2019-01-01 in=- out=- "
		"7101/-/2026-08-01/2027-07-31\n"
		"M 32 C|-|D - - groups=7101\n"
		"V 41 Anna|-|-|Vries - adres=Lindelaan|12|-|1234 AB|Utrecht "
		"rel=2/MOEDER/wv\n"
		"V 42 Anna|-|-|Vries - adres=Lindelaan|12|-|1234 AB|Utrecht "
		"rel=2/MOEDER/wv\n";
	const char *deps[2] = {"00", "01"}, *wants[2] = {want_00, want_01};

	(void)state;
	for (int i = 0; i < 2; i++) {
		lasync_school *s = NULL;
		char err[512] = "", *got;

		if (parse3(lee, strlen(lee), med, strlen(med), ver, strlen(ver),
			   "99ZZ", deps[i], NULL, &s, err, sizeof(err)) != 0) {
			print_error("dep %s: got error %s\n", deps[i], err);
			fail();
		}
		got = dump(s);
		if (strcmp(got, wants[i]) != 0) {
			print_error("dep %s: got:\n%s\nwant:\n%s\n", deps[i],
				    got, wants[i]);
			fail();
		}
		free(got);
		lasync_school_free(s);
	}
	free(lee);
	free(med);
	free(ver);
}

static void test_parnassys_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const ps_case *c = &cases[i];
		char *lee = c->raw_lee ? lasync_xstrdup(c->raw_lee)
				       : env("getLeerlingen", c->lee);
		char *med = env("getMedewerkers", c->med);
		char *ver = env("getVerzorgers", c->ver);
		lasync_school *s = (lasync_school *)1;
		char err[512] = "";
		int rc = parse3(lee, strlen(lee), med, strlen(med), ver,
				strlen(ver), c->brin, c->dep, &c->lim, &s, err,
				sizeof(err));

		if (c->want_err != NULL) {
			if (rc == 0 || s != NULL ||
			    strstr(err, c->want_err) == NULL) {
				print_error("%s: got rc=%d err \"%s\", want "
					    "error containing \"%s\"\n",
					    c->name, rc, err, c->want_err);
				fail();
			}
		} else {
			char *got;

			if (rc != 0) {
				print_error("%s: got error \"%s\", want "
					    "success\n",
					    c->name, err);
				fail();
			}
			got = dump(s);
			for (int k = 0; k < 4 && c->want_has[k]; k++)
				if (strstr(got, c->want_has[k]) == NULL) {
					print_error("%s: got:\n%s\nwant it to "
						    "contain \"%s\"\n",
						    c->name, got,
						    c->want_has[k]);
					fail();
				}
			for (int k = 0; k < 2 && c->want_not[k]; k++)
				if (strstr(got, c->want_not[k]) != NULL) {
					print_error("%s: got:\n%s\nwant no "
						    "\"%s\"\n",
						    c->name, got,
						    c->want_not[k]);
					fail();
				}
			free(got);
			lasync_school_free(s);
		}
		free(lee);
		free(med);
		free(ver);
	}
}

/* the registry and the document checks every adapter shares */
static void test_adapter_registry_and_docs(void **state)
{
	static const struct {
		const char *name;
		mapper_doc docs[4];
		size_t n;
		mapper_limits lim;
		const char *want_err;
	} rows[] = {
		{"all_present",
		 {{"getLeerlingen", "x", 1},
		  {"getMedewerkers", "x", 1},
		  {"getVerzorgers", "x", 1}},
		 3, {0, 0}, NULL},
		{"missing_document",
		 {{"getLeerlingen", "x", 1}, {"getMedewerkers", "x", 1}},
		 2, {0, 0}, "document getVerzorgers missing"},
		{"unknown_document",
		 {{"getLeerlingen", "x", 1},
		  {"getMedewerkers", "x", 1},
		  {"getVerzorgers", "x", 1},
		  {"getKlassen", "x", 1}},
		 4, {0, 0}, "unexpected document getKlassen"},
		{"duplicate_document",
		 {{"getLeerlingen", "x", 1},
		  {"getLeerlingen", "x", 1},
		  {"getVerzorgers", "x", 1}},
		 3, {0, 0}, "document getLeerlingen twice"},
		{"oversize_document",
		 {{"getLeerlingen", "x", 1},
		  {"getMedewerkers", "xxxxxxxxxx", 10},
		  {"getVerzorgers", "x", 1}},
		 3, {5, 0},
		 "getMedewerkers: document of 10 bytes exceeds the limit of 5 "
		 "bytes"},
	};
	const mapper_adapter *ad = mapper_adapter_for(1);

	(void)state;
	assert_non_null(ad);
	assert_string_equal(ad->name, "parnassys");
	assert_string_equal(mapper_adapter_for(2)->name, "esis");
	assert_null(mapper_adapter_for(0));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "";
		int rc = mapper_adapter_docs_check(ad, rows[i].docs, rows[i].n,
						   &rows[i].lim, err,
						   sizeof(err));

		if (rows[i].want_err == NULL ? rc != 0
					     : rc == 0 ||
						       strstr(err,
							      rows[i].want_err) ==
							       NULL) {
			print_error("%s: got rc=%d err \"%s\", want %s\n",
				    rows[i].name, rc, err,
				    rows[i].want_err ? rows[i].want_err
						     : "success");
			fail();
		}
	}
}

static void test_adapter_values(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} dates[] = {
		{"2026-11-29", true},  {"2024-02-29", true},
		{"2023-02-29", false}, {"2026-13-01", false},
		{"2026-04-31", false}, {"2026-1-01", false},
		{"26-11-29", false},   {"2026-11-29T00", false},
		{"", false},	       {"2000-02-29", true},
		{"1900-02-29", false}, {"2026-00-10", false},
	};
	static const struct {
		const char *in;
		int want_rc;
		bool want;
	} bools[] = {
		{"true", 0, true},  {"false", 0, false}, {"TRUE", -1, false},
		{"1", -1, false},   {"", -1, false},	 {"yes", -1, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
		if (mapper_adapter_valid_date(dates[i].in) != dates[i].want) {
			print_error("date %s: got %d, want %d\n", dates[i].in,
				    !dates[i].want, dates[i].want);
			fail();
		}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		bool b = false;
		int rc = mapper_adapter_parse_bool(bools[i].in, &b);

		if (rc != bools[i].want_rc || (rc == 0 && b != bools[i].want)) {
			print_error("bool %s: got rc=%d %d, want rc=%d %d\n",
				    bools[i].in, rc, b, bools[i].want_rc,
				    bools[i].want);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parnassys_example_school),
		cmocka_unit_test(test_parnassys_table),
		cmocka_unit_test(test_r1_several_vestigingen_filtered),
		cmocka_unit_test(test_adapter_registry_and_docs),
		cmocka_unit_test(test_adapter_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
