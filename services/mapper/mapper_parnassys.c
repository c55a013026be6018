/*
 * mapper_parnassys.c - the ParnasSys adapter: getLeerlingen, getMedewerkers
 * and getVerzorgers (SOAP 1.1, las-formats/README.md) into the school model.
 *
 *   mapper_parnassys_adapter   registered in mapper_adapter.h
 *
 * Two passes.  Parse: each document is streamed once (lasync_xml) into
 * plain records; strings go straight into the school's arena, record arrays
 * into a scratch arena freed at the end.  Records are read through small
 * field tables, so element order is free, optional elements may be absent,
 * and anything else - an unknown element, a repeated one, text where a
 * record belongs, a missing required element, a bad date or boolean - is an
 * error naming the element, its document and line.  Resolve: ids are
 * resolved and R1 is applied, then the model is finished (sorted).
 *
 * Decisions (docs/mapping.md has the full list):
 *  - Ids resolve within their own response and a dangling one there is an
 *    error (placement -> groep, inschrijving -> inschrijvingtype, leerling
 *    -> vestiging, verzorger -> adres): the export is broken and guessing
 *    would remove data.  References across responses are snapshots taken
 *    at different moments, so a medewerker's unknown groep is dropped with
 *    a warning, and a relatie to a student not in the snapshot is dropped
 *    with a warning and counted (DESIGN §4).
 *  - A leerling's leerlingAdres, its mobiel and getLeerlingen's adressen
 *    (with the household telefoon) are checked for shape and then ignored:
 *    students get no address or number (R8), so they are never resolved.
 *  - R1: a vestiging of another BRIN rejects the snapshot; only students of
 *    the tenant's dependance are kept (relations to the others are dropped
 *    silently, they are not errors); with several vestigingen a medewerker
 *    is kept only when one of their groepen holds a kept student, since a
 *    medewerker carries no vestiging of their own.
 *  - Required elements are those lasync cannot do without: ids, the names
 *    it shows (achternaam; roepNaam of students and staff), a student's
 *    geboortedatum and vestiging, a placement's groep (and leerjaar for a
 *    lesgroep), a relatie's leerling.  Other listed elements are optional.
 *  - Of several inschrijvingen the one with the latest datumInschrijving is
 *    the student's enrolment; its type decides pending (AANM).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_xml.h"
#include "mapper_adapter.h"

#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_PARNASSYS "http://www.topicus.nl/parnassys"
#define PARNASSYS_VENDOR 1 /* lasync.v1.VENDOR_PARNASSYS */
#define PS_MAX_DEPTH 16u

/* ---------- parsed records (scratch) ---------- */

typedef struct ps_vec {
	void *v;
	size_t n, cap;
} ps_vec;

/* The first member of every record that is looked up by id, so that one
 * comparison serves them all (a struct pointer converts to a pointer to its
 * first member). */
typedef struct ps_head {
	int line;
	const char *id;
} ps_head;

typedef struct ps_phone {
	const char *id, *nummer;
	bool geheim;
} ps_phone;

typedef struct ps_vestiging {
	ps_head h;
	const char *brin, *dep, *naam;
} ps_vestiging;

typedef struct ps_schooljaar {
	ps_head h;
	const char *naam;
} ps_schooljaar;

typedef struct ps_groep {
	ps_head h;
	const char *naam, *code, *type, *schooljaar;
} ps_groep;

typedef struct ps_adres {
	ps_head h;
	const char *straat, *huisnummer, *toevoeging, *postcode, *plaats,
		*land;
	bool geheim;
	ps_phone telefoon;
} ps_adres;

typedef struct ps_itype {
	ps_head h;
	const char *code, *omschrijving;
} ps_itype;

typedef struct ps_indeling {
	int line;
	const char *id, *groep, *schooljaar, *leerjaar, *van, *tot;
} ps_indeling;

typedef struct ps_inschrijving {
	int line;
	const char *id, *datum_in, *datum_uit, *type;
} ps_inschrijving;

typedef struct ps_leerling {
	int line;
	const char *id, *nummer, *achternaam, *tussenvoegsel, *roepnaam,
		*voornamen, *geboortedatum, *geslacht, *vestiging, *adres;
	ps_phone mobiel;
	ps_vec indelingen;	/* ps_indeling */
	ps_vec inschrijvingen;	/* ps_inschrijving */
} ps_leerling;

typedef struct ps_medewerker {
	int line;
	const char *id, *aanhef, *roepnaam, *tussenvoegsel, *achternaam,
		*email, *functie;
	ps_phone mobile;
	ps_vec groepen;		/* const char * */
} ps_medewerker;

typedef struct ps_relatie {
	int line;
	const char *leerling, *type;
	bool wettelijk;
} ps_relatie;

typedef struct ps_verzorger {
	int line;
	const char *id, *roepnaam, *voorletters, *tussenvoegsel, *achternaam,
		*email, *adres;
	ps_phone vast, mobiel;
	ps_vec relaties;	/* ps_relatie */
} ps_verzorger;

/* Everything parsed from the three responses. */
typedef struct ps_snapshot {
	ps_vec vestigingen, schooljaren, groepen, itypes, leerlingen;
	ps_vec medewerkers;
	ps_vec v_adressen, verzorgers;
} ps_snapshot;

typedef struct ps_ctx {
	lasync_xml *x;
	const char *doc;
	lasync_arena *str;	/* where text goes: the school's arena, or
				 * scratch for what is checked and dropped */
	lasync_arena *school;
	lasync_arena *tmp;
	size_t max_records;
	ps_snapshot *snap;
} ps_ctx;

/* vec_push - a new zeroed element of size sz at the end of v */
static void *vec_push(lasync_arena *a, ps_vec *v, size_t sz)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;

		v->v = lasync_arena_grow(a, v->v, v->n, cap, sz);
		v->cap = cap;
	}
	return (char *)v->v + v->n++ * sz;
}

/* ---------- field tables ---------- */

typedef enum {
	F_TEXT,		/* const char *, NULL when empty */
	F_DATE,		/* const char *, YYYY-MM-DD */
	F_BOOL,		/* bool, true|false */
	F_SUB,		/* sub(c, rec + off) */
} ps_ftype;

typedef struct ps_field {
	const char *name;
	ps_ftype type;
	size_t off;
	bool required;
	int (*sub)(ps_ctx *c, void *at);
} ps_field;

#define N_FIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* parse_record - read the children of the current element through the
 * table; what names the record in messages */
static int parse_record(ps_ctx *c, const ps_field *f, size_t nf, void *rec,
			const char *what)
{
	uint32_t seen = 0;
	size_t i, k, hint = 0;
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		const char *name = lasync_xml_name(c->x);

		/* LAS export in a fixed order: start after the last match, so
		 * the usual document costs one comparison per element */
		for (k = 0, i = hint; k < nf; k++, i = i + 1 == nf ? 0 : i + 1)
			if (f[i].name[0] == name[0] &&
			    strcmp(f[i].name, name) == 0)
				break;
		if (k == nf)
			return lasync_xml_fail(c->x,
					       "unknown element <%s> in <%s>",
					       name, what);
		hint = i + 1 == nf ? 0 : i + 1;
		if (seen & (UINT32_C(1) << i))
			return lasync_xml_fail(c->x,
					       "element <%s> twice in <%s>",
					       name, what);
		seen |= UINT32_C(1) << i;

		char *at = (char *)rec + f[i].off;

		switch (f[i].type) {
		case F_TEXT:
			rc = lasync_xml_text_dup(c->x, c->str,
						 (const char **)(void *)at);
			break;
		case F_DATE:
			rc = lasync_xml_text_dup(c->x, c->str,
						 (const char **)(void *)at);
			if (rc == 0 && *(const char **)(void *)at != NULL &&
			    !mapper_adapter_valid_date(
				    *(const char **)(void *)at))
				rc = lasync_xml_fail(
					c->x,
					"invalid date in <%s> of <%s> "
					"(YYYY-MM-DD expected)",
					f[i].name, what);
			break;
		case F_BOOL: {
			const char *s;

			rc = lasync_xml_text(c->x, &s, NULL);
			if (rc == 0 &&
			    mapper_adapter_parse_bool(s, (bool *)(void *)at) <
				    0)
				rc = lasync_xml_fail(
					c->x,
					"invalid boolean in <%s> of <%s> "
					"(true or false expected)",
					f[i].name, what);
			break;
		}
		case F_SUB:
			rc = f[i].sub(c, at);
			break;
		}
		if (rc < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	for (i = 0; i < nf; i++) {
		if (!f[i].required)
			continue;
		if (!(seen & (UINT32_C(1) << i)))
			return lasync_xml_fail(c->x,
					       "missing required element <%s> "
					       "in <%s>",
					       f[i].name, what);
		if ((f[i].type == F_TEXT || f[i].type == F_DATE) &&
		    *(const char **)(void *)((char *)rec + f[i].off) == NULL)
			return lasync_xml_fail(c->x,
					       "required element <%s> in <%s> "
					       "is empty",
					       f[i].name, what);
	}
	return 0;
}

/* parse_list - every child of the current element is an <item>, read by
 * fn; at most max_records of them */
static int parse_list(ps_ctx *c, const char *item,
		      int (*fn)(ps_ctx *c, void *arg), void *arg)
{
	const char *list = lasync_xml_name(c->x);
	size_t count = 0;
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (!lasync_xml_is(c->x, NULL, item))
			return lasync_xml_fail(c->x,
					       "unknown element <%s> in <%s>",
					       lasync_xml_name(c->x), list);
		if (++count > c->max_records)
			return lasync_xml_fail(c->x,
					       "more than %zu <%s> in <%s> "
					       "(record limit)",
					       c->max_records, item, list);
		if (fn(c, arg) < 0)
			return -1;
	}
	return rc;
}

/* phones: {nummer, geheim} (with an id inside an adres) */
static const ps_field phone_fields[] = {
	{"nummer", F_TEXT, offsetof(ps_phone, nummer), false, NULL},
	{"geheim", F_BOOL, offsetof(ps_phone, geheim), false, NULL},
};
static const ps_field adres_phone_fields[] = {
	{"id", F_TEXT, offsetof(ps_phone, id), false, NULL},
	{"nummer", F_TEXT, offsetof(ps_phone, nummer), false, NULL},
	{"geheim", F_BOOL, offsetof(ps_phone, geheim), false, NULL},
};

/* sub_phone - {nummer, geheim} at at */
static int sub_phone(ps_ctx *c, void *at)
{
	return parse_record(c, phone_fields, N_FIELDS(phone_fields), at,
			    lasync_xml_name(c->x));
}

/* sub_adres_phone - an adres's telefoon {id, nummer, geheim} */
static int sub_adres_phone(ps_ctx *c, void *at)
{
	return parse_record(c, adres_phone_fields,
			    N_FIELDS(adres_phone_fields), at, "telefoon");
}

/* ---------- getLeerlingen ---------- */

static const ps_field vestiging_fields[] = {
	{"id", F_TEXT, offsetof(ps_vestiging, h.id), true, NULL},
	{"brinnummer", F_TEXT, offsetof(ps_vestiging, brin), true, NULL},
	{"dependancecode", F_TEXT, offsetof(ps_vestiging, dep), true, NULL},
	{"naam", F_TEXT, offsetof(ps_vestiging, naam), false, NULL},
};

/* item_vestiging - one vestiging into the vector arg */
static int item_vestiging(ps_ctx *c, void *arg)
{
	ps_vestiging *r = vec_push(c->tmp, arg, sizeof(*r));

	r->h.line = lasync_xml_line(c->x);
	return parse_record(c, vestiging_fields, N_FIELDS(vestiging_fields),
			    r, "vestiging");
}

static const ps_field schooljaar_fields[] = {
	{"id", F_TEXT, offsetof(ps_schooljaar, h.id), true, NULL},
	{"naam", F_TEXT, offsetof(ps_schooljaar, naam), false, NULL},
};

/* item_schooljaar - one schooljaar into the vector arg */
static int item_schooljaar(ps_ctx *c, void *arg)
{
	ps_schooljaar *r = vec_push(c->tmp, arg, sizeof(*r));

	r->h.line = lasync_xml_line(c->x);
	return parse_record(c, schooljaar_fields, N_FIELDS(schooljaar_fields),
			    r, "schooljaar");
}

static const ps_field groep_fields[] = {
	{"id", F_TEXT, offsetof(ps_groep, h.id), true, NULL},
	{"naam", F_TEXT, offsetof(ps_groep, naam), true, NULL},
	{"code", F_TEXT, offsetof(ps_groep, code), false, NULL},
	{"type", F_TEXT, offsetof(ps_groep, type), true, NULL},
	{"schooljaar", F_TEXT, offsetof(ps_groep, schooljaar), false, NULL},
};

/* item_groep - one groep, type LESGROEP or SUBLESGROEP */
static int item_groep(ps_ctx *c, void *arg)
{
	ps_groep *r = vec_push(c->tmp, arg, sizeof(*r));

	r->h.line = lasync_xml_line(c->x);
	if (parse_record(c, groep_fields, N_FIELDS(groep_fields), r, "groep") <
	    0)
		return -1;
	if (strcmp(r->type, "LESGROEP") != 0 &&
	    strcmp(r->type, "SUBLESGROEP") != 0)
		return lasync_xml_fail(c->x,
				       "groep %s: unknown <type> %s "
				       "(LESGROEP or SUBLESGROEP expected)",
				       r->h.id, lasync_q(r->type));
	return 0;
}

static const ps_field adres_fields[] = {
	{"id", F_TEXT, offsetof(ps_adres, h.id), true, NULL},
	{"straat", F_TEXT, offsetof(ps_adres, straat), false, NULL},
	{"huisnummer", F_TEXT, offsetof(ps_adres, huisnummer), false, NULL},
	{"huisnummerToevoeging", F_TEXT, offsetof(ps_adres, toevoeging), false,
	 NULL},
	{"postcode", F_TEXT, offsetof(ps_adres, postcode), false, NULL},
	{"plaats", F_TEXT, offsetof(ps_adres, plaats), false, NULL},
	{"land", F_TEXT, offsetof(ps_adres, land), false, NULL},
	{"geheimadres", F_BOOL, offsetof(ps_adres, geheim), false, NULL},
	{"telefoon", F_SUB, offsetof(ps_adres, telefoon), false,
	 sub_adres_phone},
};

/* item_adres - one adres into the vector arg */
static int item_adres(ps_ctx *c, void *arg)
{
	ps_adres *r = vec_push(c->tmp, arg, sizeof(*r));

	r->h.line = lasync_xml_line(c->x);
	return parse_record(c, adres_fields, N_FIELDS(adres_fields), r,
			    "adres");
}

/* item_adres_dropped - a getLeerlingen adres: checked, then forgotten
 * (R8); its strings go to scratch */
static int item_adres_dropped(ps_ctx *c, void *arg)
{
	ps_adres r = {0};
	lasync_arena *keep = c->str;
	int rc;

	(void)arg;
	c->str = c->tmp;
	rc = parse_record(c, adres_fields, N_FIELDS(adres_fields), &r,
			  "adres");
	c->str = keep;
	return rc;
}

static const ps_field itype_fields[] = {
	{"id", F_TEXT, offsetof(ps_itype, h.id), true, NULL},
	{"code", F_TEXT, offsetof(ps_itype, code), true, NULL},
	{"omschrijving", F_TEXT, offsetof(ps_itype, omschrijving), false,
	 NULL},
};

/* item_itype - one inschrijvingtype into the vector arg */
static int item_itype(ps_ctx *c, void *arg)
{
	ps_itype *r = vec_push(c->tmp, arg, sizeof(*r));

	r->h.line = lasync_xml_line(c->x);
	return parse_record(c, itype_fields, N_FIELDS(itype_fields), r,
			    "inschrijvingtype");
}

static const ps_field indeling_fields[] = {
	{"id", F_TEXT, offsetof(ps_indeling, id), false, NULL},
	{"groep", F_TEXT, offsetof(ps_indeling, groep), true, NULL},
	{"schooljaar", F_TEXT, offsetof(ps_indeling, schooljaar), false,
	 NULL},
	{"leerjaar", F_TEXT, offsetof(ps_indeling, leerjaar), false, NULL},
	{"vanafDatum", F_DATE, offsetof(ps_indeling, van), false, NULL},
	{"totDatum", F_DATE, offsetof(ps_indeling, tot), false, NULL},
};

/* item_indeling - one groepsindeling (placement) */
static int item_indeling(ps_ctx *c, void *arg)
{
	ps_indeling *r = vec_push(c->tmp, arg, sizeof(*r));

	r->line = lasync_xml_line(c->x);
	return parse_record(c, indeling_fields, N_FIELDS(indeling_fields), r,
			    "groepsindeling");
}

/* sub_indelingen - a leerling's groepsindelingen list */
static int sub_indelingen(ps_ctx *c, void *at)
{
	return parse_list(c, "groepsindeling", item_indeling, at);
}

static const ps_field inschrijving_fields[] = {
	{"id", F_TEXT, offsetof(ps_inschrijving, id), false, NULL},
	{"datumInschrijving", F_DATE, offsetof(ps_inschrijving, datum_in),
	 false, NULL},
	{"datumUitschrijving", F_DATE, offsetof(ps_inschrijving, datum_uit),
	 false, NULL},
	{"inschrijvingType", F_TEXT, offsetof(ps_inschrijving, type), false,
	 NULL},
};

/* item_inschrijving - one inschrijving (enrolment) */
static int item_inschrijving(ps_ctx *c, void *arg)
{
	ps_inschrijving *r = vec_push(c->tmp, arg, sizeof(*r));

	r->line = lasync_xml_line(c->x);
	return parse_record(c, inschrijving_fields,
			    N_FIELDS(inschrijving_fields), r, "inschrijving");
}

/* sub_inschrijvingen - a leerling's inschrijvingen list */
static int sub_inschrijvingen(ps_ctx *c, void *at)
{
	return parse_list(c, "inschrijving", item_inschrijving, at);
}

static const ps_field leerling_fields[] = {
	{"id", F_TEXT, offsetof(ps_leerling, id), true, NULL},
	{"leerlingNummer", F_TEXT, offsetof(ps_leerling, nummer), false, NULL},
	{"achternaam", F_TEXT, offsetof(ps_leerling, achternaam), true, NULL},
	{"tussenvoegsel", F_TEXT, offsetof(ps_leerling, tussenvoegsel), false,
	 NULL},
	{"roepNaam", F_TEXT, offsetof(ps_leerling, roepnaam), true, NULL},
	{"voornamen", F_TEXT, offsetof(ps_leerling, voornamen), false, NULL},
	{"geboortedatum", F_DATE, offsetof(ps_leerling, geboortedatum), true,
	 NULL},
	{"geslacht", F_TEXT, offsetof(ps_leerling, geslacht), false, NULL},
	{"vestiging", F_TEXT, offsetof(ps_leerling, vestiging), true, NULL},
	{"leerlingAdres", F_TEXT, offsetof(ps_leerling, adres), false, NULL},
	{"mobiel", F_SUB, offsetof(ps_leerling, mobiel), false, sub_phone},
	{"groepsindelingen", F_SUB, offsetof(ps_leerling, indelingen), false,
	 sub_indelingen},
	{"inschrijvingen", F_SUB, offsetof(ps_leerling, inschrijvingen), false,
	 sub_inschrijvingen},
};

/* item_leerling - one leerling into the vector arg */
static int item_leerling(ps_ctx *c, void *arg)
{
	ps_leerling *r = vec_push(c->tmp, arg, sizeof(*r));

	r->line = lasync_xml_line(c->x);
	return parse_record(c, leerling_fields, N_FIELDS(leerling_fields), r,
			    "leerling");
}

/* ---------- getMedewerkers ---------- */

static int item_groep_ref(ps_ctx *c, void *arg)
{
	const char **r = vec_push(c->tmp, arg, sizeof(*r));

	if (lasync_xml_text_dup(c->x, c->str, r) < 0)
		return -1;
	if (*r == NULL)
		return lasync_xml_fail(c->x, "empty <groep> in <groepen>");
	return 0;
}

/* sub_groep_refs - a medewerker's groepen: groep ids */
static int sub_groep_refs(ps_ctx *c, void *at)
{
	return parse_list(c, "groep", item_groep_ref, at);
}

static const ps_field medewerker_fields[] = {
	{"id", F_TEXT, offsetof(ps_medewerker, id), true, NULL},
	{"aanhef", F_TEXT, offsetof(ps_medewerker, aanhef), false, NULL},
	{"roepNaam", F_TEXT, offsetof(ps_medewerker, roepnaam), true, NULL},
	{"tussenvoegsel", F_TEXT, offsetof(ps_medewerker, tussenvoegsel),
	 false, NULL},
	{"achternaam", F_TEXT, offsetof(ps_medewerker, achternaam), true,
	 NULL},
	{"email", F_TEXT, offsetof(ps_medewerker, email), false, NULL},
	{"functie", F_TEXT, offsetof(ps_medewerker, functie), false, NULL},
	{"mobile", F_SUB, offsetof(ps_medewerker, mobile), false, sub_phone},
	{"groepen", F_SUB, offsetof(ps_medewerker, groepen), false,
	 sub_groep_refs},
};

/* item_medewerker - one medewerker into the vector arg */
static int item_medewerker(ps_ctx *c, void *arg)
{
	ps_medewerker *r = vec_push(c->tmp, arg, sizeof(*r));

	r->line = lasync_xml_line(c->x);
	return parse_record(c, medewerker_fields, N_FIELDS(medewerker_fields),
			    r, "medewerker");
}

/* ---------- getVerzorgers ---------- */

static const ps_field relatie_fields[] = {
	{"leerling", F_TEXT, offsetof(ps_relatie, leerling), true, NULL},
	{"type", F_TEXT, offsetof(ps_relatie, type), false, NULL},
	{"wettelijkVertegenwoordiger", F_BOOL, offsetof(ps_relatie, wettelijk),
	 false, NULL},
};

/* item_relatie - one relatie of a verzorger */
static int item_relatie(ps_ctx *c, void *arg)
{
	ps_relatie *r = vec_push(c->tmp, arg, sizeof(*r));

	r->line = lasync_xml_line(c->x);
	return parse_record(c, relatie_fields, N_FIELDS(relatie_fields), r,
			    "relatie");
}

/* sub_relaties - a verzorger's relaties list */
static int sub_relaties(ps_ctx *c, void *at)
{
	return parse_list(c, "relatie", item_relatie, at);
}

static const ps_field verzorger_fields[] = {
	{"id", F_TEXT, offsetof(ps_verzorger, id), true, NULL},
	{"roepNaam", F_TEXT, offsetof(ps_verzorger, roepnaam), false, NULL},
	{"voorletters", F_TEXT, offsetof(ps_verzorger, voorletters), false,
	 NULL},
	{"tussenvoegsel", F_TEXT, offsetof(ps_verzorger, tussenvoegsel), false,
	 NULL},
	{"achternaam", F_TEXT, offsetof(ps_verzorger, achternaam), true, NULL},
	{"email", F_TEXT, offsetof(ps_verzorger, email), false, NULL},
	{"adres", F_TEXT, offsetof(ps_verzorger, adres), false, NULL},
	{"telefoonVast", F_SUB, offsetof(ps_verzorger, vast), false,
	 sub_phone},
	{"telefoonMobiel", F_SUB, offsetof(ps_verzorger, mobiel), false,
	 sub_phone},
	{"relaties", F_SUB, offsetof(ps_verzorger, relaties), false,
	 sub_relaties},
};

/* item_verzorger - one verzorger into the vector arg */
static int item_verzorger(ps_ctx *c, void *arg)
{
	ps_verzorger *r = vec_push(c->tmp, arg, sizeof(*r));

	r->line = lasync_xml_line(c->x);
	return parse_record(c, verzorger_fields, N_FIELDS(verzorger_fields), r,
			    "verzorger");
}

/* ---------- documents ---------- */

/* One list a response may hold: element, item, reader, destination. */
typedef struct ps_list {
	const char *name, *item;
	int (*fn)(ps_ctx *c, void *arg);
	size_t vec_off;		/* offset of the ps_vec in ps_snapshot */
} ps_list;

typedef struct ps_docdef {
	const char *op;
	const ps_list *lists;
	size_t n_lists;
} ps_docdef;

#define SNAP(f) offsetof(ps_snapshot, f)
#define NO_VEC ((size_t)-1)	/* checked, not kept */
static const ps_list leerlingen_lists[] = {
	{"vestigingen", "vestiging", item_vestiging, SNAP(vestigingen)},
	{"schooljaren", "schooljaar", item_schooljaar, SNAP(schooljaren)},
	{"groepen", "groep", item_groep, SNAP(groepen)},
	{"adressen", "adres", item_adres_dropped, NO_VEC},
	{"inschrijvingtypes", "inschrijvingtype", item_itype, SNAP(itypes)},
	{"leerlingen", "leerling", item_leerling, SNAP(leerlingen)},
};
static const ps_list medewerkers_lists[] = {
	{"medewerkers", "medewerker", item_medewerker, SNAP(medewerkers)},
};
static const ps_list verzorgers_lists[] = {
	{"adressen", "adres", item_adres, SNAP(v_adressen)},
	{"verzorgers", "verzorger", item_verzorger, SNAP(verzorgers)},
};
#undef SNAP

static const ps_docdef ps_docs[] = {
	{"getLeerlingen", leerlingen_lists, N_FIELDS(leerlingen_lists)},
	{"getMedewerkers", medewerkers_lists, N_FIELDS(medewerkers_lists)},
	{"getVerzorgers", verzorgers_lists, N_FIELDS(verzorgers_lists)},
};

static const char *const ps_required_docs[] = {
	"getLeerlingen", "getMedewerkers", "getVerzorgers", NULL,
};

/* parse_return - the <return> element: the document's lists, each once */
static int parse_return(ps_ctx *c, const ps_docdef *d)
{
	uint32_t seen = 0;
	size_t i;
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		const char *name = lasync_xml_name(c->x);

		for (i = 0; i < d->n_lists; i++)
			if (strcmp(d->lists[i].name, name) == 0)
				break;
		if (i == d->n_lists)
			return lasync_xml_fail(c->x,
					       "unknown element <%s> in <return>",
					       name);
		if (seen & (UINT32_C(1) << i))
			return lasync_xml_fail(c->x,
					       "element <%s> twice in <return>",
					       name);
		seen |= UINT32_C(1) << i;
		void *vec = d->lists[i].vec_off == NO_VEC
				    ? NULL
				    : (char *)c->snap + d->lists[i].vec_off;

		if (parse_list(c, d->lists[i].item, d->lists[i].fn, vec) < 0)
			return -1;
	}
	return rc;
}

/* parse_fault - a SOAP Fault: the error carries its faultstring */
static int parse_fault(ps_ctx *c)
{
	const char *s, *fs = NULL, *fc = NULL;
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (lasync_xml_is(c->x, NULL, "faultstring")) {
			if (lasync_xml_text(c->x, &s, NULL) < 0)
				return -1;
			fs = lasync_arena_strdup(c->tmp, s);
		} else if (lasync_xml_is(c->x, NULL, "faultcode")) {
			if (lasync_xml_text(c->x, &s, NULL) < 0)
				return -1;
			fc = lasync_arena_strdup(c->tmp, s);
		} else if (lasync_xml_skip(c->x) < 0) {
			return -1;
		}
	}
	if (rc < 0)
		return -1;
	return lasync_xml_fail(c->x, "SOAP Fault: %s (faultcode %s)",
			       fs && *fs ? fs : "(no faultstring)",
			       fc && *fc ? fc : "-");
}

/* parse_response - <opResponse>/<return> */
static int parse_response(ps_ctx *c, const ps_docdef *d)
{
	bool have_return = false;
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (!lasync_xml_is(c->x, NULL, "return"))
			return lasync_xml_fail(c->x,
					       "unknown element <%s> in <%s>",
					       lasync_xml_name(c->x), d->op);
		if (have_return)
			return lasync_xml_fail(c->x,
					       "element <return> twice");
		have_return = true;
		if (parse_return(c, d) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!have_return)
		return lasync_xml_fail(c->x, "missing <return> in <%sResponse>",
				       d->op);
	return 0;
}

/* parse_body - exactly one <opResponse> (or a Fault) */
static int parse_body(ps_ctx *c, const ps_docdef *d)
{
	char want[64];
	bool have = false;
	int rc;

	snprintf(want, sizeof(want), "%sResponse", d->op);
	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (lasync_xml_is(c->x, NS_SOAP, "Fault"))
			return parse_fault(c);
		if (!lasync_xml_is(c->x, NULL, want))
			return lasync_xml_fail(c->x,
					       "unexpected element <%s> in "
					       "<Body>, expected <%s>",
					       lasync_xml_name(c->x), want);
		if (!lasync_xml_is(c->x, NS_PARNASSYS, want))
			return lasync_xml_fail(
				c->x, "<%s> in namespace %s, expected %s", want,
				lasync_xml_ns(c->x) ? lasync_xml_ns(c->x)
						    : "(none)",
				NS_PARNASSYS);
		if (have)
			return lasync_xml_fail(c->x, "element <%s> twice",
					       want);
		have = true;
		if (parse_response(c, d) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!have)
		return lasync_xml_fail(c->x, "missing <%s> in <Body>", want);
	return 0;
}

/* parse_envelope - <Envelope>[<Header/>]<Body/></Envelope> */
static int parse_envelope(ps_ctx *c, const ps_docdef *d)
{
	bool have_body = false;
	int rc;

	rc = lasync_xml_child(c->x);
	if (rc <= 0)
		return rc < 0 ? -1
			      : lasync_xml_fail(c->x, "no root element");
	if (!lasync_xml_is(c->x, NS_SOAP, "Envelope"))
		return lasync_xml_fail(c->x,
				       "root element <%s> is not a SOAP 1.1 "
				       "Envelope",
				       lasync_xml_name(c->x));
	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (lasync_xml_is(c->x, NS_SOAP, "Header") && !have_body) {
			if (lasync_xml_skip(c->x) < 0)
				return -1;
		} else if (lasync_xml_is(c->x, NS_SOAP, "Body") &&
			   !have_body) {
			have_body = true;
			if (parse_body(c, d) < 0)
				return -1;
		} else {
			return lasync_xml_fail(c->x,
					       "unexpected element <%s> in "
					       "<Envelope>",
					       lasync_xml_name(c->x));
		}
	}
	if (rc < 0)
		return -1;
	if (!have_body)
		return lasync_xml_fail(c->x, "missing <Body> in <Envelope>");
	return lasync_xml_finish(c->x);
}

/* parse_doc - stream one document into the snapshot */
static int parse_doc(ps_ctx *c, const ps_docdef *d, const mapper_doc *doc,
		     const mapper_limits *lim, char *err, size_t errlen)
{
	lasync_xml_limits xl = {lim->max_doc_bytes, 0, PS_MAX_DEPTH};
	int rc;

	c->doc = d->op;
	c->x = lasync_xml_new(d->op, doc->data, doc->len, &xl, err, errlen);
	if (c->x == NULL)
		return -1;
	rc = parse_envelope(c, d);
	lasync_xml_free(c->x);
	c->x = NULL;
	return rc;
}

/* ---------- resolve ---------- */

static int cmp_id(const void *a, const void *b)
{
	return strcmp(((const ps_head *)a)->id, ((const ps_head *)b)->id);
}

/* cmp_str - C strings through pointers (qsort/bsearch) */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* sort_unique - sort records (each starting with a ps_head) by id; a
 * duplicate id is an error */
static int sort_unique(ps_vec *v, size_t sz, const char *doc,
		       const char *what, char *err, size_t errlen)
{
	if (v->n < 2)
		return 0;
	qsort(v->v, v->n, sz, cmp_id);
	for (size_t i = 1; i < v->n; i++) {
		const ps_head *a = (const ps_head *)(void *)((char *)v->v +
							     (i - 1) * sz);
		const ps_head *b = (const ps_head *)(void *)((char *)v->v +
							     i * sz);

		if (strcmp(a->id, b->id) == 0) {
			snprintf(err, errlen,
				 "%s line %d: duplicate %s id %s", doc,
				 b->line, what, lasync_q(b->id));
			return -1;
		}
	}
	return 0;
}

/* find_id - bsearch a sorted record vector by id */
static void *find_id(const ps_vec *v, size_t sz, const char *id)
{
	ps_head key = {0, id};

	if (v->n == 0 || id == NULL)
		return NULL;
	return bsearch(&key, v->v, v->n, sz, cmp_id);
}

/* str_in - is s in the sorted array arr? */
static bool str_in(const char *const *arr, size_t n, const char *s)
{
	return n > 0 && bsearch(&s, arr, n, sizeof(*arr), cmp_str) != NULL;
}

/* valid_leerjaar - 1 to 3 digits (ParnasSys leerjaren are 0..8; keep it
 * loose enough for special education, strict enough to be a number) */
static bool valid_leerjaar(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 3)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* resolve - R1, then the model from the snapshot */
typedef struct ps_resolve {
	ps_snapshot *snap;
	lasync_school *s;
	lasync_arena *tmp;
	const char *brin, *dep;
	const char **kept_vest;	/* vestiging ids of the tenant's dependance */
	size_t n_kept_vest;
	const char **filtered;	/* student ids of other vestigingen */
	size_t n_filtered;
	const char **placed;	/* group ids holding a kept student */
	size_t n_placed;
	char *err;
	size_t errlen;
} ps_resolve;

/* resolve_vestigingen - R1: the BRIN must be the tenant's, and the
 * tenant's dependance must be among the vestigingen */
static int resolve_vestigingen(ps_resolve *rv)
{
	ps_vec *v = &rv->snap->vestigingen;
	ps_vestiging *ve = v->v;
	char seen[256] = "";
	size_t o = 0;

	for (size_t i = 0; i < v->n; i++) {
		if (strcasecmp(ve[i].brin, rv->brin) != 0) {
			snprintf(rv->err, rv->errlen,
				 "getLeerlingen line %d: snapshot holds BRIN "
				 "%s, tenant has %s (R1)",
				 ve[i].h.line, lasync_q(ve[i].brin), rv->brin);
			return -1;
		}
	}
	rv->kept_vest = lasync_arena_alloc(rv->tmp, (v->n + 1) *
							    sizeof(char *));
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(ve[i].dep, rv->dep) == 0)
			rv->kept_vest[rv->n_kept_vest++] = ve[i].h.id;
		if (o + strlen(ve[i].dep) + 3 < sizeof(seen)) {
			int w = snprintf(seen + o, sizeof(seen) - o, "%s%s",
					 o ? ", " : "", ve[i].dep);

			if (w > 0)
				o += (size_t)w;
		}
	}
	if (rv->n_kept_vest == 0) {
		snprintf(rv->err, rv->errlen,
			 "getLeerlingen: no vestiging of BRIN %s with "
			 "dependance %s in the snapshot (vestigingen: %s) (R1)",
			 rv->brin, rv->dep, v->n ? seen : "none");
		return -1;
	}
	qsort(rv->kept_vest, rv->n_kept_vest, sizeof(char *), cmp_str);
	return 0;
}

/* resolve_groups - groepen into the model */
static int resolve_groups(ps_resolve *rv)
{
	ps_vec *v = &rv->snap->groepen;
	ps_groep *g = v->v;
	lasync_school *s = rv->s;

	s->groups = lasync_arena_alloc(s->arena,
				       (v->n ? v->n : 1) * sizeof(*s->groups));
	for (size_t i = 0; i < v->n; i++) {
		lasync_lgroup *lg = &s->groups[s->n_groups++];

		lg->id = g[i].h.id;
		lg->name = g[i].naam;
		lg->kind = strcmp(g[i].type, "SUBLESGROEP") == 0
				   ? LASYNC_LG_SUBGROUP
				   : LASYNC_LG_CLASS;
	}
	return 0;
}

/* pick_enrolment - the inschrijving with the latest datumInschrijving */
static const ps_inschrijving *pick_enrolment(const ps_leerling *l)
{
	const ps_inschrijving *in = l->inschrijvingen.v, *best = NULL;

	for (size_t i = 0; i < l->inschrijvingen.n; i++) {
		const ps_inschrijving *c = &in[i];

		if (best == NULL) {
			best = c;
			continue;
		}
		int d = lasync_streq(c->datum_in, best->datum_in)
				? 0
			: c->datum_in == NULL ? -1
			: best->datum_in == NULL
				? 1
				: strcmp(c->datum_in, best->datum_in);

		if (d == 0 && c->id != NULL && best->id != NULL)
			d = strcmp(c->id, best->id);
		if (d > 0)
			best = c;
	}
	return best;
}

/* resolve_student - one kept leerling into the model */
static int resolve_student(ps_resolve *rv, const ps_leerling *l,
			   lasync_student *st)
{
	const ps_indeling *ind = l->indelingen.v;
	const ps_inschrijving *ins = l->inschrijvingen.v, *cur;
	lasync_school *s = rv->s;

	st->id = l->id;
	st->roepnaam = l->roepnaam;
	st->voornamen = l->voornamen;
	st->tussenvoegsel = l->tussenvoegsel;
	st->achternaam = l->achternaam;
	st->birth_date = l->geboortedatum;
	for (size_t i = 0; i < l->inschrijvingen.n; i++) {
		if (ins[i].type == NULL)
			continue;
		if (find_id(&rv->snap->itypes, sizeof(ps_itype),
			    ins[i].type) == NULL) {
			snprintf(rv->err, rv->errlen,
				 "getLeerlingen line %d: leerling %s: "
				 "inschrijvingType %s not in inschrijvingtypes",
				 ins[i].line, lasync_q(l->id),
				 lasync_q(ins[i].type));
			return -1;
		}
	}
	cur = pick_enrolment(l);
	if (cur != NULL) {
		const ps_itype *t = cur->type ? find_id(&rv->snap->itypes,
							sizeof(ps_itype),
							cur->type)
					      : NULL;

		st->enrolled_from = cur->datum_in;
		st->enrolled_until = cur->datum_uit;
		st->pending = t != NULL && strcmp(t->code, "AANM") == 0;
	}
	st->placements = lasync_arena_alloc(
		s->arena, (l->indelingen.n ? l->indelingen.n : 1) *
				  sizeof(*st->placements));
	for (size_t i = 0; i < l->indelingen.n; i++) {
		const lasync_lgroup *g = lasync_school_group(s, ind[i].groep);
		lasync_placement *p;

		if (g == NULL) {
			snprintf(rv->err, rv->errlen,
				 "getLeerlingen line %d: leerling %s: "
				 "groepsindeling groep %s not in groepen",
				 ind[i].line, lasync_q(l->id),
				 lasync_q(ind[i].groep));
			return -1;
		}
		p = &st->placements[st->n_placements++];
		p->group_id = g->id;
		p->from = ind[i].van;
		p->until = ind[i].tot;
		if (g->kind == LASYNC_LG_CLASS) {
			if (ind[i].leerjaar == NULL ||
			    !valid_leerjaar(ind[i].leerjaar)) {
				snprintf(rv->err, rv->errlen,
					 "getLeerlingen line %d: leerling %s: "
					 "groepsindeling in lesgroep %s needs "
					 "a numeric <leerjaar>",
					 ind[i].line, lasync_q(l->id),
					 lasync_q(g->id));
				return -1;
			}
			p->year_level = ind[i].leerjaar;
		}
		rv->placed[rv->n_placed++] = g->id;
	}
	return 0;
}

/* resolve_students - R1 filter by vestiging, then each kept leerling */
static int resolve_students(ps_resolve *rv)
{
	ps_vec *v = &rv->snap->leerlingen;
	ps_leerling *l = v->v;
	lasync_school *s = rv->s;
	size_t n_place = 0;

	for (size_t i = 0; i < v->n; i++)
		n_place += l[i].indelingen.n;
	s->students = lasync_arena_alloc(s->arena, (v->n ? v->n : 1) *
							   sizeof(*s->students));
	rv->filtered = lasync_arena_alloc(rv->tmp,
					  (v->n + 1) * sizeof(char *));
	rv->placed = lasync_arena_alloc(rv->tmp,
					(n_place + 1) * sizeof(char *));
	for (size_t i = 0; i < v->n; i++) {
		if (find_id(&rv->snap->vestigingen, sizeof(ps_vestiging),
			    l[i].vestiging) == NULL) {
			snprintf(rv->err, rv->errlen,
				 "getLeerlingen line %d: leerling %s: "
				 "vestiging %s not in vestigingen",
				 l[i].line, lasync_q(l[i].id),
				 lasync_q(l[i].vestiging));
			return -1;
		}
		if (!str_in(rv->kept_vest, rv->n_kept_vest, l[i].vestiging)) {
			rv->filtered[rv->n_filtered++] = l[i].id;
			continue;
		}
		if (resolve_student(rv, &l[i], &s->students[s->n_students++]) <
		    0)
			return -1;
	}
	if (rv->n_filtered > 1)
		qsort(rv->filtered, rv->n_filtered, sizeof(char *), cmp_str);
	if (rv->n_placed > 1)
		qsort(rv->placed, rv->n_placed, sizeof(char *), cmp_str);
	return 0;
}

/* resolve_staff - medewerkers; unknown groepen dropped (cross-response) */
static int resolve_staff(ps_resolve *rv, size_t *n_unplaced)
{
	ps_vec *v = &rv->snap->medewerkers;
	ps_medewerker *m = v->v;
	lasync_school *s = rv->s;
	bool several = rv->snap->vestigingen.n > 1;

	s->staff = lasync_arena_alloc(s->arena,
				      (v->n ? v->n : 1) * sizeof(*s->staff));
	for (size_t i = 0; i < v->n; i++) {
		const char **gid = m[i].groepen.v;
		lasync_staff *st = &s->staff[s->n_staff];
		bool here = false;

		memset(st, 0, sizeof(*st)); /* the slot of a dropped one */
		st->id = m[i].id;
		st->roepnaam = m[i].roepnaam;
		st->tussenvoegsel = m[i].tussenvoegsel;
		st->achternaam = m[i].achternaam;
		st->email = m[i].email;
		st->functie = m[i].functie;
		st->group_ids = lasync_arena_alloc(
			s->arena, (m[i].groepen.n ? m[i].groepen.n : 1) *
					  sizeof(char *));
		for (size_t k = 0; k < m[i].groepen.n; k++) {
			const lasync_lgroup *g = lasync_school_group(s, gid[k]);

			if (g == NULL) {
				lasync_warn("staff_group_dropped",
					    "doc=getMedewerkers medewerker=%s "
					    "groep=%s",
					    lasync_q(m[i].id), lasync_q(gid[k]));
				continue;
			}
			st->group_ids[st->n_group_ids++] = g->id;
			if (str_in(rv->placed, rv->n_placed, g->id))
				here = true;
		}
		if (several && !here) {
			/* R1: not seen at the tenant's dependance */
			(*n_unplaced)++;
			continue;
		}
		s->n_staff++;
	}
	return 0;
}

/* resolve_address - the model address of verzorger adres id */
static int resolve_address(ps_resolve *rv, const ps_verzorger *vz,
			   lasync_address *out)
{
	const ps_adres *a;

	if (vz->adres == NULL)
		return 0;
	a = find_id(&rv->snap->v_adressen, sizeof(ps_adres), vz->adres);
	if (a == NULL) {
		snprintf(rv->err, rv->errlen,
			 "getVerzorgers line %d: verzorger %s: adres %s not in "
			 "adressen",
			 vz->line, lasync_q(vz->id), lasync_q(vz->adres));
		return -1;
	}
	out->street = a->straat;
	out->number = a->huisnummer;
	out->addition = a->toevoeging;
	out->postcode = a->postcode;
	out->city = a->plaats;
	out->secret = a->geheim;
	out->present = a->straat || a->huisnummer || a->postcode || a->plaats;
	return 0;
}

/* resolve_guardians - verzorgers; relations to absent students dropped */
static int resolve_guardians(ps_resolve *rv)
{
	ps_vec *v = &rv->snap->verzorgers;
	ps_verzorger *vz = v->v;
	lasync_school *s = rv->s;

	s->guardians = lasync_arena_alloc(s->arena, (v->n ? v->n : 1) *
							    sizeof(*s->guardians));
	for (size_t i = 0; i < v->n; i++) {
		lasync_guardian *g = &s->guardians[s->n_guardians++];
		const ps_relatie *rel = vz[i].relaties.v;

		g->id = vz[i].id;
		g->roepnaam = vz[i].roepnaam;
		g->voorletters = vz[i].voorletters;
		g->tussenvoegsel = vz[i].tussenvoegsel;
		g->achternaam = vz[i].achternaam;
		g->email = vz[i].email;
		if (resolve_address(rv, &vz[i], &g->address) < 0)
			return -1;
		g->phone_home.number = vz[i].vast.nummer;
		g->phone_home.secret = vz[i].vast.geheim;
		g->phone_mobile.number = vz[i].mobiel.nummer;
		g->phone_mobile.secret = vz[i].mobiel.geheim;
		g->relations = lasync_arena_alloc(
			s->arena, (vz[i].relaties.n ? vz[i].relaties.n : 1) *
					  sizeof(*g->relations));
		for (size_t k = 0; k < vz[i].relaties.n; k++) {
			const lasync_student *st =
				lasync_school_student(s, rel[k].leerling);
			lasync_relation *r;

			if (st == NULL) {
				if (str_in(rv->filtered, rv->n_filtered,
					   rel[k].leerling))
					continue; /* other dependance (R1) */
				lasync_warn("relation_dropped",
					    "doc=getVerzorgers verzorger=%s "
					    "leerling=%s reason=not_in_snapshot",
					    lasync_q(vz[i].id),
					    lasync_q(rel[k].leerling));
				s->n_dropped_relations++;
				continue;
			}
			r = &g->relations[g->n_relations++];
			r->student_id = st->id;
			r->type = rel[k].type;
			r->legal = rel[k].wettelijk;
		}
	}
	return 0;
}

/* check_unique - after finish: ids of one list are unique */
static int check_unique(const lasync_school *s, char *err, size_t errlen)
{
	for (size_t i = 1; i < s->n_students; i++)
		if (strcmp(s->students[i - 1].id, s->students[i].id) == 0) {
			snprintf(err, errlen,
				 "getLeerlingen: duplicate leerling id %s",
				 lasync_q(s->students[i].id));
			return -1;
		}
	for (size_t i = 1; i < s->n_staff; i++)
		if (strcmp(s->staff[i - 1].id, s->staff[i].id) == 0) {
			snprintf(err, errlen,
				 "getMedewerkers: duplicate medewerker id %s",
				 lasync_q(s->staff[i].id));
			return -1;
		}
	for (size_t i = 1; i < s->n_guardians; i++)
		if (strcmp(s->guardians[i - 1].id, s->guardians[i].id) == 0) {
			snprintf(err, errlen,
				 "getVerzorgers: duplicate verzorger id %s",
				 lasync_q(s->guardians[i].id));
			return -1;
		}
	return 0;
}

/* build_school - resolve the parsed snapshot into a finished school */
static int build_school(ps_resolve *rv)
{
	ps_snapshot *snap = rv->snap;
	const ps_schooljaar *sj = snap->schooljaren.v;
	size_t unplaced = 0;

	if (sort_unique(&snap->vestigingen, sizeof(ps_vestiging),
			"getLeerlingen", "vestiging", rv->err, rv->errlen) < 0 ||
	    sort_unique(&snap->groepen, sizeof(ps_groep), "getLeerlingen",
			"groep", rv->err, rv->errlen) < 0 ||
	    sort_unique(&snap->itypes, sizeof(ps_itype), "getLeerlingen",
			"inschrijvingtype", rv->err, rv->errlen) < 0 ||
	    sort_unique(&snap->v_adressen, sizeof(ps_adres), "getVerzorgers",
			"adres", rv->err, rv->errlen) < 0)
		return -1;
	if (resolve_vestigingen(rv) < 0)
		return -1;
	rv->s->brin = lasync_arena_strdup(rv->s->arena, rv->brin);
	rv->s->dependance = lasync_arena_strdup(rv->s->arena, rv->dep);
	for (size_t i = 0; i < snap->schooljaren.n; i++)
		if (sj[i].naam != NULL &&
		    (rv->s->schooljaar == NULL ||
		     strcmp(sj[i].naam, rv->s->schooljaar) > 0))
			rv->s->schooljaar = sj[i].naam;
	if (resolve_groups(rv) < 0)
		return -1;
	lasync_school_finish(rv->s);	/* groups searchable */
	if (resolve_students(rv) < 0)
		return -1;
	lasync_school_finish(rv->s);	/* students searchable */
	if (resolve_staff(rv, &unplaced) < 0 || resolve_guardians(rv) < 0)
		return -1;
	lasync_school_finish(rv->s);
	if (check_unique(rv->s, rv->err, rv->errlen) < 0)
		return -1;
	if (rv->n_filtered > 0 || unplaced > 0)
		lasync_info("vestiging_filtered",
			    "brin=%s dependance=%s students_other=%zu "
			    "staff_other=%zu",
			    rv->brin, rv->dep, rv->n_filtered, unplaced);
	return 0;
}

/* parnassys_parse - the adapter's entry point (mapper_adapter.parse) */
static int parnassys_parse(const mapper_doc *docs, size_t n,
			   const char *tenant_brin,
			   const char *tenant_dependance,
			   const mapper_limits *lim, lasync_school **out,
			   char *err, size_t errlen)
{
	mapper_limits l = mapper_adapter_limits(lim);
	ps_snapshot snap = {0};
	ps_ctx c = {0};
	ps_resolve rv = {0};
	lasync_school *s = NULL;
	int rc = -1;

	*out = NULL;
	if (tenant_brin == NULL || tenant_dependance == NULL) {
		snprintf(err, errlen, "parnassys: tenant BRIN and dependance "
				      "are required");
		return -1;
	}
	if (mapper_adapter_docs_check(&mapper_parnassys_adapter, docs, n, lim,
				      err, errlen) < 0)
		return -1;
	s = lasync_school_new(PARNASSYS_VENDOR);
	s->year_placements = true; /* leerjaren: R3 */
	c.school = s->arena;
	c.str = s->arena;
	c.tmp = lasync_arena_new();
	c.max_records = l.max_records;
	c.snap = &snap;
	for (size_t i = 0; i < N_FIELDS(ps_docs); i++) {
		const mapper_doc *d = mapper_adapter_doc(docs, n, ps_docs[i].op);

		if (parse_doc(&c, &ps_docs[i], d, &l, err, errlen) < 0)
			goto out_free;
	}
	rv.snap = &snap;
	rv.s = s;
	rv.tmp = c.tmp;
	rv.brin = tenant_brin;
	rv.dep = tenant_dependance;
	rv.err = err;
	rv.errlen = errlen;
	if (build_school(&rv) < 0)
		goto out_free;
	*out = s;
	s = NULL;
	rc = 0;
out_free:
	lasync_arena_free(c.tmp);
	lasync_school_free(s);
	return rc;
}

const mapper_adapter mapper_parnassys_adapter = {
	.vendor = PARNASSYS_VENDOR,
	.name = "parnassys",
	.required_docs = ps_required_docs,
	.parse = parnassys_parse,
};
