/*
 * mapper_esis.c - the ESIS adapter: UWLR 2.2 HaalLeerlinggegevens and the
 * HaalVerzorgergegevens partner document (SOAP 1.1, las-formats/README.md)
 * into the school model.
 *
 *   mapper_esis_adapter   registered in mapper_adapter.h
 *
 * Two passes.  Parse: each document is streamed once (lasync_xml) into
 * plain records; strings go straight into the school's arena, record
 * arrays into a scratch arena freed at the end.  Records are read through
 * small tables of child elements and attributes, so element order is free
 * and optional elements may be absent, and anything else - an unknown
 * element or attribute, a repeated element, an element outside the
 * document's namespace, text where a record belongs, a missing required
 * element or key, a bad date, jaargroep, @geheim or @soort - is an error
 * naming the element, its document and line.  R1 is checked as soon as a
 * document's brincode and dependancecode have both been read.  Resolve:
 * keys are resolved, then the model is finished (sorted).
 *
 * Decisions (docs/mapping.md has the full list):
 *  - ESIS works with groepen.  A groep is a CLASS group, a
 *    samengestelde_groep a SUBGROUP; a leerling's groep becomes a placement
 *    carrying the leerling's own jaargroep, without dates (the export is
 *    the school on its aanmaakdatum).  The rules (R4) make the jaargroepen.
 *  - Keys resolve within HaalLeerlinggegevens, and a dangling key there, or
 *    one naming the other kind of group, is an error: the export is broken
 *    and guessing would remove data.  A verzorger's child who is not among
 *    the students is dropped with a warning (ids only) and counted.
 *  - groep and samengestelde_groep keys are one key space: both become
 *    model groups and portal externalIds, which must be unique.
 *  - @geheim is required wherever the format has it: a missing flag cannot
 *    safely be read as "not secret" (R10).
 *  - Every ESIS relation is a legal one; a verzorger has at most one
 *    telefoon of each soort.
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
#define NS_LE "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
#define NS_VZ "urn:esis:verzorgers:model:1"
#define ESIS_VENDOR 2 /* lasync.v1.VENDOR_ESIS */
#define ES_MAX_DEPTH 16u
#define DOC_LE "HaalLeerlinggegevens"
#define DOC_VZ "HaalVerzorgergegevens"

/* ---------- parsed records (scratch) ---------- */

typedef struct es_vec {
	void *v;
	size_t n, cap;
} es_vec;

/* The first member of every keyed record, so that one comparison sorts
 * and finds them all.  Alone it is a reference: <groep key=""/> or
 * <samengestelde_groep key=""/>. */
typedef struct es_head {
	int line;
	bool sub;		/* a samengestelde_groep, or refers to one */
	const char *key;
} es_head;

/* Records that become model entries hold the model struct (m), which the
 * tables fill directly; resolve adds ids and references. */
typedef struct es_groep {
	es_head h;
	lasync_lgroup m;	/* name, year_code */
} es_groep;

typedef struct es_leerling {
	es_head h;
	lasync_student m;	/* names, birth_date, year_level */
	es_head groep;		/* key NULL: no groep */
	es_vec subs;		/* es_head: samengestelde groepen */
} es_leerling;

typedef struct es_leerkracht {
	es_head h;
	lasync_staff m;		/* names, email */
	es_vec groepen;		/* es_head: either kind */
} es_leerkracht;

typedef struct es_kind {
	es_head h;
	const char *relatie;
} es_kind;

#define N_TEL 3 /* telefoon soorten: vast, mobiel, nood */

typedef struct es_verzorger {
	es_head h;
	lasync_guardian m;	/* names, email, address, phones */
	bool have_tel[N_TEL];
	es_vec kinderen;	/* es_kind */
} es_verzorger;

typedef struct es_telefoon {
	const char *soort;
	bool geheim;
} es_telefoon;

/* Everything parsed from the two documents. */
typedef struct es_snapshot {
	const char *schooljaar;
	es_vec groepen;		/* es_groep, both kinds */
	es_vec leerlingen, leerkrachten, verzorgers;
} es_snapshot;

typedef struct es_ctx {
	lasync_xml *x;
	const char *doc;	/* DOC_LE | DOC_VZ */
	const char *ns;		/* the document's namespace */
	const char *ns_seen;	/* the reader's copy of it, once seen */
	const char *brin, *dep; /* the tenant's */
	const char *doc_brin, *doc_dep; /* the document's, once read */
	lasync_arena *str;	/* strings: the school's arena */
	lasync_arena *tmp;	/* records and what is dropped */
	size_t max_records;
	es_snapshot *snap;
} es_ctx;

/* vec_push - a new zeroed element of size sz at the end of v */
static void *vec_push(lasync_arena *a, es_vec *v, size_t sz)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;

		v->v = lasync_arena_grow(a, v->v, v->n, cap, sz);
		v->cap = cap;
	}
	return (char *)v->v + v->n++ * sz;
}

/* ---------- reading through tables ---------- */

/* The tables below describe the two documents whole: a record is an
 * element with attributes and child elements (fields); a field is text, a
 * nested record, a list of records, or read by a function of its own. */
typedef enum {
	F_TEXT,			/* const char * at off, NULL when empty */
	F_REC,			/* one nested record at off */
	F_LIST,			/* records appended to the es_vec at off */
	F_FN,			/* fn(c, rec + off) reads the element */
} es_ftype;

#define DROP ((size_t)-1)	/* F_TEXT off: read and checked, not kept */

struct es_record;

/* One kind of record a list may hold. */
typedef struct es_item {
	const char *name;
	const struct es_record *rec;
	size_t size;		/* of one record */
} es_item;

/* One child element a record may hold. */
typedef struct es_field {
	const char *name;
	es_ftype type;
	size_t off;
	bool required;
	bool repeat;		/* may occur more than once (F_FN) */
	bool (*valid)(const char *s); /* F_TEXT: NULL = any text */
	const char *expect;	/* what valid() accepts, for messages */
	bool show;		/* a code, not personal: quote it in errors */
	const struct es_record *rec;	/* F_REC */
	const es_item *items;		/* F_LIST */
	size_t n_items;
	int (*fn)(struct es_ctx *c, void *at); /* F_FN */
} es_field;

/* One attribute a record may carry. */
typedef struct es_attrdef {
	const char *name;
	size_t off;		/* const char *, or bool when is_bool */
	bool is_bool, required;
} es_attrdef;

#define ES_MAX_ATTRS 4

typedef struct es_record {
	const char *what;	/* the element, for messages */
	bool keyed;		/* starts with an es_head */
	bool sub;		/* its es_head.sub */
	const es_attrdef *attrs;
	size_t na;
	const es_field *fields;
	size_t nf;
} es_record;

#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

/* in_ns - is the element just returned in the document's namespace?  The
 * reader interns names, so after the first match a pointer compare does */
static bool in_ns(es_ctx *c)
{
	const char *ns = lasync_xml_ns(c->x);

	if (ns != NULL && ns == c->ns_seen)
		return true;
	if (ns == NULL || strcmp(ns, c->ns) != 0)
		return false;
	c->ns_seen = ns;
	return true;
}

/* fail_ns - the element just returned is in another namespace */
static int fail_ns(es_ctx *c)
{
	const char *ns = lasync_xml_ns(c->x);

	return lasync_xml_fail(c->x,
			       "element <%s> in namespace %s, expected %s",
			       lasync_xml_name(c->x), ns ? ns : "(none)",
			       c->ns);
}

/* read_attrs - the record's attributes into rec; *key receives @key */
static int read_attrs(es_ctx *c, const es_record *d, void *rec,
		      const char **key)
{
	lasync_xml_attr a[ES_MAX_ATTRS];

	*key = NULL;
	for (size_t i = 0; i < d->na; i++)
		a[i].name = d->attrs[i].name;
	if (lasync_xml_attrs(c->x, c->str, a, d->na) < 0)
		return -1;
	for (size_t i = 0; i < d->na; i++) {
		char *at = (char *)rec + d->attrs[i].off;

		if (a[i].value == NULL) {
			if (d->attrs[i].required)
				return lasync_xml_fail(c->x,
						       "missing attribute %s on "
						       "<%s>",
						       a[i].name, d->what);
			continue;
		}
		if (d->attrs[i].is_bool) {
			if (mapper_adapter_parse_bool(a[i].value,
						      (bool *)(void *)at) < 0)
				return lasync_xml_fail(
					c->x,
					"invalid attribute %s=%s on <%s> (true "
					"or false expected)",
					a[i].name, lasync_q(a[i].value),
					d->what);
			continue;
		}
		*(const char **)(void *)at = a[i].value;
		if (strcmp(a[i].name, "key") == 0)
			*key = a[i].value;
	}
	return 0;
}

/* read_text_field - an F_TEXT child: no attributes, text only, valid */
static int read_text_field(es_ctx *c, const es_field *f, char *at,
			   const char *what, const char *key)
{
	const char *s;
	size_t n;

	if (lasync_xml_attrs(c->x, NULL, NULL, 0) < 0 ||
	    lasync_xml_text(c->x, &s, &n) < 0)
		return -1;
	if (n > 0 && f->valid != NULL && !f->valid(s))
		return lasync_xml_fail(c->x, "invalid <%s>%s%s in %s%s%s (%s "
					     "expected)",
				       f->name, f->show ? " " : "",
				       f->show ? lasync_q(s) : "", what,
				       key ? " " : "", key ? lasync_q(key) : "",
				       f->expect);
	if (f->off != DROP)
		*(const char **)(void *)at =
			n > 0 ? lasync_arena_strndup(c->str, s, n) : NULL;
	return 0;
}

static int read_list(es_ctx *c, const es_item *items, size_t ni, es_vec *v);

/* read_record - the current element through its table: attributes, then
 * the children in any order */
static int read_record(es_ctx *c, const es_record *d, void *rec)
{
	const es_field *f = d->fields;
	size_t nf = d->nf, i, k, hint = 0;
	const char *key;
	uint32_t seen = 0;
	int rc;

	if (d->keyed) {
		((es_head *)rec)->line = lasync_xml_line(c->x);
		((es_head *)rec)->sub = d->sub;
	}
	if (read_attrs(c, d, rec, &key) < 0)
		return -1;
	while ((rc = lasync_xml_child(c->x)) > 0) {
		const char *name = lasync_xml_name(c->x);

		/* the export's fixed order: start after the last match, so the
		 * usual element costs one comparison */
		for (k = 0, i = hint; k < nf; k++, i = i + 1 == nf ? 0 : i + 1)
			if (f[i].name[0] == name[0] &&
			    strcmp(f[i].name, name) == 0)
				break;
		if (k == nf)
			return lasync_xml_fail(c->x,
					       "unknown element <%s> in <%s>",
					       name, d->what);
		if (!in_ns(c))
			return fail_ns(c);
		hint = i + 1 == nf ? 0 : i + 1;
		if ((seen & (UINT32_C(1) << i)) && !f[i].repeat)
			return lasync_xml_fail(c->x,
					       "element <%s> twice in <%s>",
					       name, d->what);
		seen |= UINT32_C(1) << i;

		char *at = (char *)rec + (f[i].off == DROP ? 0 : f[i].off);

		switch (f[i].type) {
		case F_TEXT:
			rc = read_text_field(c, &f[i], at, d->what, key);
			break;
		case F_REC:
			rc = read_record(c, f[i].rec, at);
			break;
		case F_LIST:
			rc = read_list(c, f[i].items, f[i].n_items,
				       (es_vec *)(void *)at);
			break;
		case F_FN:
			rc = f[i].fn(c, at);
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
					       "in %s%s%s",
					       f[i].name, d->what,
					       key ? " " : "",
					       key ? lasync_q(key) : "");
		if (f[i].type == F_TEXT && f[i].off != DROP &&
		    *(const char **)(void *)((char *)rec + f[i].off) == NULL)
			return lasync_xml_fail(c->x,
					       "required element <%s> in %s%s%s "
					       "is empty",
					       f[i].name, d->what,
					       key ? " " : "",
					       key ? lasync_q(key) : "");
	}
	return 0;
}

/* read_list - every child of the current element is a record of one of
 * items, appended to v; at most max_records of them */
static int read_list(es_ctx *c, const es_item *items, size_t ni, es_vec *v)
{
	const char *list = lasync_xml_name(c->x);
	size_t count = 0, i;
	int rc;

	if (lasync_xml_attrs(c->x, NULL, NULL, 0) < 0)
		return -1;
	while ((rc = lasync_xml_child(c->x)) > 0) {
		const char *name = lasync_xml_name(c->x);

		for (i = 0; i < ni; i++)
			if (strcmp(items[i].name, name) == 0)
				break;
		if (i == ni)
			return lasync_xml_fail(c->x,
					       "unknown element <%s> in <%s>",
					       name, list);
		if (!in_ns(c))
			return fail_ns(c);
		if (++count > c->max_records)
			return lasync_xml_fail(c->x,
					       "more than %zu elements in <%s> "
					       "(record limit)",
					       c->max_records, list);
		if (read_record(c, items[i].rec,
				vec_push(c->tmp, v, items[i].size)) < 0)
			return -1;
	}
	return rc;
}

/* ---------- values ---------- */

/* valid_date - YYYY-MM-DD, a real day */
static bool valid_date(const char *s)
{
	return mapper_adapter_valid_date(s);
}

/* valid_year - a leerling's jaargroep: "1" to "8" */
static bool valid_year(const char *s)
{
	return s[0] >= '1' && s[0] <= '8' && s[1] == '\0';
}

/* valid_group_year - a groep's jaargroep: "1" to "8", or "C" for a
 * combination group */
static bool valid_group_year(const char *s)
{
	return valid_year(s) || strcmp(s, "C") == 0;
}

/* valid_code - a BRIN or dependance code: 1 to 8 letters and digits (it
 * goes verbatim into messages, so nothing else may pass) */
static bool valid_code(const char *s, size_t n)
{
	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

/* r1_check - once a document's brincode and dependancecode are both read:
 * they must be the tenant's (R1), else the snapshot is rejected whole */
static int r1_check(es_ctx *c)
{
	if (c->doc_brin == NULL || c->doc_dep == NULL)
		return 0;
	if (strcasecmp(c->doc_brin, c->brin) == 0 &&
	    strcmp(c->doc_dep, c->dep) == 0)
		return 0;
	return lasync_xml_fail(c->x, "%s is for %s-%s, tenant is %s-%s (R1)",
			       c->doc, c->doc_brin, c->doc_dep, c->brin,
			       c->dep);
}

/* read_code - brincode or dependancecode of the document into *out */
static int read_code(es_ctx *c, const char **out)
{
	const char *name = lasync_xml_name(c->x), *s;
	size_t n;

	if (lasync_xml_attrs(c->x, NULL, NULL, 0) < 0 ||
	    lasync_xml_text(c->x, &s, &n) < 0)
		return -1;
	if (!valid_code(s, n))
		return lasync_xml_fail(c->x,
				       "invalid <%s> (1 to 8 letters and "
				       "digits expected)",
				       name);
	*out = lasync_arena_strndup(c->tmp, s, n);
	return r1_check(c);
}

/* fn_brincode - the document's brincode (R1) */
static int fn_brincode(es_ctx *c, void *at)
{
	(void)at;
	return read_code(c, &c->doc_brin);
}

/* fn_dependancecode - the document's dependancecode (R1) */
static int fn_dependancecode(es_ctx *c, void *at)
{
	(void)at;
	return read_code(c, &c->doc_dep);
}

/* fn_telefoon - one telefoon @soort @geheim of the verzorger at */
static int fn_telefoon(es_ctx *c, void *at)
{
	static const es_attrdef attrs[] = {
		{"soort", offsetof(es_telefoon, soort), false, true},
		{"geheim", offsetof(es_telefoon, geheim), true, true},
	};
	static const es_record rec = {"telefoon", false, false, attrs,
				      N_OF(attrs), NULL, 0};
	static const char *const soorten[N_TEL] = {"vast", "mobiel", "nood"};
	es_verzorger *v = at;
	lasync_phone *tel[N_TEL] = {&v->m.phone_home, &v->m.phone_mobile,
				    &v->m.phone_emergency};
	es_telefoon t = {0};
	const char *key;
	int i;

	if (read_attrs(c, &rec, &t, &key) < 0)
		return -1;
	for (i = 0; i < N_TEL; i++)
		if (strcmp(t.soort, soorten[i]) == 0)
			break;
	if (i == N_TEL)
		return lasync_xml_fail(c->x,
				       "invalid attribute soort=%s on "
				       "<telefoon> (vast, mobiel or nood "
				       "expected)",
				       lasync_q(t.soort));
	if (v->have_tel[i])
		return lasync_xml_fail(c->x,
				       "second <telefoon soort=\"%s\"> in "
				       "verzorger %s",
				       soorten[i], lasync_q(v->h.key));
	v->have_tel[i] = true;
	tel[i]->secret = t.geheim;
	return lasync_xml_text_dup(c->x, c->str, &tel[i]->number);
}

/* ---------- the documents, as tables ---------- */

/* Shorthands for the tables: text (optional or required), a text code
 * checked by valid, a nested record, a list. */
#define TXT(n, st, m) {.name = n, .off = offsetof(st, m)}
#define REQ(n, st, m) {.name = n, .off = offsetof(st, m), .required = true}
#define IGNORED(n) {.name = n, .off = DROP}
#define REC(n, st, m, r)                                                  \
	{.name = n, .type = F_REC, .off = offsetof(st, m), .rec = r}
#define LIST(n, st, m, it)                                                \
	{.name = n, .type = F_LIST, .off = offsetof(st, m), .items = it,   \
	 .n_items = N_OF(it)}
#define RECORD(what, keyed, sub, attrs, fields)                           \
	{what, keyed, sub, attrs, N_OF(attrs), fields, N_OF(fields)}
#define RECORD_NA(what, fields)                                           \
	{what, false, false, NULL, 0, fields, N_OF(fields)}

static const es_attrdef key_attr[] = {
	{"key", offsetof(es_head, key), false, true},
};
static const es_record ref_rec = {"groep", true, false, key_attr, 1, NULL,
				  0};
static const es_record sref_rec = {"samengestelde_groep", true, true,
				   key_attr, 1, NULL, 0};
static const es_item ref_sgroep[] = {
	{"samengestelde_groep", &sref_rec, sizeof(es_head)},
};
static const es_item ref_any[] = {
	{"groep", &ref_rec, sizeof(es_head)},
	{"samengestelde_groep", &sref_rec, sizeof(es_head)},
};

/* HaalLeerlinggegevens: le:school, read over the snapshot (its schooljaar)
 * like the answer elements around it */
static const es_field school_fields[] = {
	TXT("schooljaar", es_snapshot, schooljaar),
	{.name = "brincode", .type = F_FN, .required = true,
	 .fn = fn_brincode},
	{.name = "dependancecode", .type = F_FN, .required = true,
	 .fn = fn_dependancecode},
	IGNORED("schoolkey"),
	IGNORED("aanmaakdatum"),
	IGNORED("auteur"),
	IGNORED("xsdversie"),
};
static const es_record school_rec = RECORD_NA("school", school_fields);

/* le:groepen: groep and samengestelde_groep */
static const es_field groep_fields[] = {
	REQ("naam", es_groep, m.name),
	{.name = "jaargroep", .off = offsetof(es_groep, m.year_code),
	 .valid = valid_group_year, .expect = "1 to 8 or C", .show = true},
	IGNORED("omschrijving"),
};
static const es_field sgroep_fields[] = {
	REQ("naam", es_groep, m.name),
	IGNORED("omschrijving"),
};
static const es_record groep_rec = RECORD("groep", true, false, key_attr,
					  groep_fields);
static const es_record sgroep_rec = RECORD("samengestelde_groep", true, true,
					   key_attr, sgroep_fields);
static const es_item groepen_items[] = {
	{"groep", &groep_rec, sizeof(es_groep)},
	{"samengestelde_groep", &sgroep_rec, sizeof(es_groep)},
};

/* le:leerlingen */
static const es_field leerling_fields[] = {
	REQ("achternaam", es_leerling, m.achternaam),
	TXT("voorvoegsel", es_leerling, m.tussenvoegsel),
	REQ("roepnaam", es_leerling, m.roepnaam),
	{.name = "geboortedatum", .off = offsetof(es_leerling, m.birth_date),
	 .required = true, .valid = valid_date, .expect = "YYYY-MM-DD"},
	IGNORED("geslacht"),
	{.name = "jaargroep", .off = offsetof(es_leerling, m.year_level),
	 .required = true, .valid = valid_year, .expect = "1 to 8",
	 .show = true},
	REC("groep", es_leerling, groep, &ref_rec),
	LIST("samengestelde_groepen", es_leerling, subs, ref_sgroep),
};
static const es_record leerling_rec = RECORD("leerling", true, false,
					     key_attr, leerling_fields);
static const es_item leerlingen_items[] = {
	{"leerling", &leerling_rec, sizeof(es_leerling)},
};

/* le:leerkrachten */
static const es_field leerkracht_fields[] = {
	REQ("achternaam", es_leerkracht, m.achternaam),
	TXT("voorvoegsel", es_leerkracht, m.tussenvoegsel),
	REQ("roepnaam", es_leerkracht, m.roepnaam),
	TXT("emailadres", es_leerkracht, m.email),
	LIST("groepen", es_leerkracht, groepen, ref_any),
};
static const es_record leerkracht_rec = RECORD("leerkracht", true, false,
					       key_attr, leerkracht_fields);
static const es_item leerkrachten_items[] = {
	{"leerkracht", &leerkracht_rec, sizeof(es_leerkracht)},
};

/* le:leerlinggegevens_antwoord/le:leerlinggegevens, over the snapshot */
static const es_field leerlinggegevens_fields[] = {
	{.name = "school", .type = F_REC, .required = true,
	 .rec = &school_rec},
	LIST("groepen", es_snapshot, groepen, groepen_items),
	LIST("leerlingen", es_snapshot, leerlingen, leerlingen_items),
	LIST("leerkrachten", es_snapshot, leerkrachten, leerkrachten_items),
};
static const es_record leerlinggegevens_rec =
	RECORD_NA("leerlinggegevens", leerlinggegevens_fields);
static const es_field le_antwoord_fields[] = {
	{.name = "leerlinggegevens", .type = F_REC, .required = true,
	 .rec = &leerlinggegevens_rec},
};
static const es_record le_antwoord_rec =
	RECORD_NA("leerlinggegevens_antwoord", le_antwoord_fields);

/* HaalVerzorgergegevens: a verzorger's adres @geheim */
static const es_attrdef geheim_attr[] = {
	{"geheim", offsetof(lasync_address, secret), true, true},
};
static const es_field adres_fields[] = {
	TXT("straat", lasync_address, street),
	TXT("huisnummer", lasync_address, number),
	TXT("toevoeging", lasync_address, addition),
	TXT("postcode", lasync_address, postcode),
	TXT("woonplaats", lasync_address, city),
};
static const es_record adres_rec = RECORD("adres", false, false, geheim_attr,
					  adres_fields);

/* kinderen/leerling @key @relatie */
static const es_attrdef kind_attrs[] = {
	{"key", offsetof(es_kind, h.key), false, true},
	{"relatie", offsetof(es_kind, relatie), false, false},
};
static const es_record kind_rec = {"leerling", true, false, kind_attrs,
				   N_OF(kind_attrs), NULL, 0};
static const es_item kinderen_items[] = {
	{"leerling", &kind_rec, sizeof(es_kind)},
};

/* vz:verzorgers */
static const es_field verzorger_fields[] = {
	REQ("achternaam", es_verzorger, m.achternaam),
	TXT("voorvoegsel", es_verzorger, m.tussenvoegsel),
	TXT("roepnaam", es_verzorger, m.roepnaam),
	TXT("voorletters", es_verzorger, m.voorletters),
	TXT("emailadres", es_verzorger, m.email),
	REC("adres", es_verzorger, m.address, &adres_rec),
	{.name = "telefoon", .type = F_FN, .repeat = true, .fn = fn_telefoon},
	LIST("kinderen", es_verzorger, kinderen, kinderen_items),
};
static const es_record verzorger_rec = RECORD("verzorger", true, false,
					      key_attr, verzorger_fields);
static const es_item verzorgers_items[] = {
	{"verzorger", &verzorger_rec, sizeof(es_verzorger)},
};

/* vz:verzorgergegevens_antwoord, over the snapshot */
static const es_field vz_antwoord_fields[] = {
	{.name = "brincode", .type = F_FN, .required = true,
	 .fn = fn_brincode},
	{.name = "dependancecode", .type = F_FN, .required = true,
	 .fn = fn_dependancecode},
	LIST("verzorgers", es_snapshot, verzorgers, verzorgers_items),
};
static const es_record vz_antwoord_rec =
	RECORD_NA("verzorgergegevens_antwoord", vz_antwoord_fields);

/* ---------- documents ---------- */

typedef struct es_docdef {
	const char *op;		/* document name = SOAP operation */
	const char *ns;
	const char *antwoord;	/* the Body's element */
	const es_record *rec;	/* its table, over the snapshot */
} es_docdef;

static const es_docdef es_docs[] = {
	{DOC_LE, NS_LE, "leerlinggegevens_antwoord", &le_antwoord_rec},
	{DOC_VZ, NS_VZ, "verzorgergegevens_antwoord", &vz_antwoord_rec},
};

static const char *const es_required_docs[] = {DOC_LE, DOC_VZ, NULL};

/* fault_text - the text of a fault element, copied to scratch */
static int fault_text(es_ctx *c, const char **out)
{
	const char *s;

	if (lasync_xml_text(c->x, &s, NULL) < 0)
		return -1;
	*out = lasync_arena_strdup(c->tmp, s);
	return 0;
}

/* parse_fault_detail - detail/autorisatiefout{code, koppeling}; the rest
 * of the detail is skipped */
static int parse_fault_detail(es_ctx *c, const char **code, const char **kop)
{
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (!lasync_xml_is(c->x, NULL, "autorisatiefout")) {
			if (lasync_xml_skip(c->x) < 0)
				return -1;
			continue;
		}
		while ((rc = lasync_xml_child(c->x)) > 0) {
			if (lasync_xml_is(c->x, NULL, "code"))
				rc = fault_text(c, code);
			else if (lasync_xml_is(c->x, NULL, "koppeling"))
				rc = fault_text(c, kop);
			else
				rc = lasync_xml_skip(c->x);
			if (rc < 0)
				return -1;
		}
		if (rc < 0)
			return -1;
	}
	return rc;
}

/* parse_fault - a SOAP Fault: the error carries its faultstring and
 * faultcode, and the autorisatiefout's code and koppeling (R18) */
static int parse_fault(es_ctx *c)
{
	const char *fs = NULL, *fc = NULL, *code = NULL, *kop = NULL;
	char why[400] = "";
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (lasync_xml_is(c->x, NULL, "faultstring"))
			rc = fault_text(c, &fs);
		else if (lasync_xml_is(c->x, NULL, "faultcode"))
			rc = fault_text(c, &fc);
		else if (lasync_xml_is(c->x, NULL, "detail"))
			rc = parse_fault_detail(c, &code, &kop);
		else
			rc = lasync_xml_skip(c->x);
		if (rc < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (code != NULL && strcmp(code, "KOPPELING_LABEL") == 0)
		snprintf(why, sizeof(why),
			 "; autorisatiefout KOPPELING_LABEL: the "
			 "autorisatiesleutel belongs to koppeling label %s; the "
			 "school must activate the koppeling in the ESIS "
			 "Koppelportaal under this tenant's brand label (R18)",
			 lasync_q(kop && *kop ? kop : "(none)"));
	else if (code != NULL)
		snprintf(why, sizeof(why), "; autorisatiefout %s%s%s",
			 lasync_q(code), kop && *kop ? ", koppeling " : "",
			 kop && *kop ? lasync_q(kop) : "");
	return lasync_xml_fail(c->x, "SOAP Fault: %s (faultcode %s)%s",
			       lasync_q(fs && *fs ? fs : "(no faultstring)"),
			       lasync_q(fc && *fc ? fc : "-"), why);
}

/* parse_body - exactly one antwoord of the document (or a Fault) */
static int parse_body(es_ctx *c, const es_docdef *d)
{
	bool have = false;
	int rc;

	while ((rc = lasync_xml_child(c->x)) > 0) {
		if (lasync_xml_is(c->x, NS_SOAP, "Fault"))
			return parse_fault(c);
		if (!lasync_xml_is(c->x, NULL, d->antwoord))
			return lasync_xml_fail(c->x,
					       "unexpected element <%s> in "
					       "<Body>, expected <%s>",
					       lasync_xml_name(c->x),
					       d->antwoord);
		if (!in_ns(c))
			return fail_ns(c);
		if (have)
			return lasync_xml_fail(c->x, "element <%s> twice",
					       d->antwoord);
		have = true;
		if (read_record(c, d->rec, c->snap) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!have)
		return lasync_xml_fail(c->x, "missing <%s> in <Body>",
				       d->antwoord);
	return 0;
}

/* parse_envelope - <Envelope>[<Header/>]<Body/></Envelope> */
static int parse_envelope(es_ctx *c, const es_docdef *d)
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
			rc = lasync_xml_skip(c->x);
		} else if (lasync_xml_is(c->x, NS_SOAP, "Body") &&
			   !have_body) {
			have_body = true;
			rc = parse_body(c, d);
		} else {
			return lasync_xml_fail(c->x,
					       "unexpected element <%s> in "
					       "<Envelope>",
					       lasync_xml_name(c->x));
		}
		if (rc < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!have_body)
		return lasync_xml_fail(c->x, "missing <Body> in <Envelope>");
	return lasync_xml_finish(c->x);
}

/* parse_doc - stream one document into the snapshot */
static int parse_doc(es_ctx *c, const es_docdef *d, const mapper_doc *doc,
		     const mapper_limits *lim, char *err, size_t errlen)
{
	lasync_xml_limits xl = {lim->max_doc_bytes, 0, ES_MAX_DEPTH};
	int rc;

	c->doc = d->op;
	c->ns = d->ns;
	c->ns_seen = NULL;
	c->doc_brin = c->doc_dep = NULL;
	c->x = lasync_xml_new(d->op, doc->data, doc->len, &xl, err, errlen);
	if (c->x == NULL)
		return -1;
	rc = parse_envelope(c, d);
	lasync_xml_free(c->x);
	c->x = NULL;
	return rc;
}

/* ---------- resolve ---------- */

/* cmp_key - keyed records by key (qsort) */
static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const es_head *)a)->key, ((const es_head *)b)->key);
}

/* cmp_str - C strings through pointers (qsort) */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cmp_placement - by group id */
static int cmp_placement(const void *a, const void *b)
{
	return strcmp(((const lasync_placement *)a)->group_id,
		      ((const lasync_placement *)b)->group_id);
}

/* cmp_relation - by student id, then relation type (absent first) */
static int cmp_relation(const void *a, const void *b)
{
	const lasync_relation *x = a, *y = b;
	int c = strcmp(x->student_id, y->student_id);

	if (c != 0 || lasync_streq(x->type, y->type))
		return c;
	if (x->type == NULL || y->type == NULL)
		return x->type == NULL ? -1 : 1;
	return strcmp(x->type, y->type);
}

/* sort_unique - sort keyed records by key; a key used twice is an error
 * naming both lines */
static int sort_unique(es_vec *v, size_t sz, const char *doc,
		       const char *what, char *err, size_t errlen)
{
	if (v->n < 2)
		return 0;
	qsort(v->v, v->n, sz, cmp_key);
	for (size_t i = 1; i < v->n; i++) {
		const es_head *a = (const es_head *)(void *)((char *)v->v +
							     (i - 1) * sz);
		const es_head *b = (const es_head *)(void *)((char *)v->v +
							     i * sz);

		if (strcmp(a->key, b->key) == 0) {
			snprintf(err, errlen,
				 "%s line %d: %s key %s used twice (also on "
				 "line %d)",
				 doc, a->line > b->line ? a->line : b->line,
				 what, lasync_q(b->key),
				 a->line > b->line ? b->line : a->line);
			return -1;
		}
	}
	return 0;
}

typedef struct es_resolve {
	es_snapshot *snap;
	lasync_school *s;
	char *err;
	size_t errlen;
} es_resolve;

/* resolve_ref - the model group a reference of owner names: it must be in
 * groepen and of the kind the reference says */
static const lasync_lgroup *resolve_ref(es_resolve *rv, const char *owner,
					const char *owner_key, const es_head *r)
{
	const lasync_lgroup *g = lasync_school_group(rv->s, r->key);
	const char *elem = r->sub ? "samengestelde_groep" : "groep";

	if (g == NULL) {
		snprintf(rv->err, rv->errlen,
			 DOC_LE " line %d: %s %s: %s %s not in groepen",
			 r->line, owner, lasync_q(owner_key), elem,
			 lasync_q(r->key));
		return NULL;
	}
	if ((g->kind == LASYNC_LG_SUBGROUP) != r->sub) {
		snprintf(rv->err, rv->errlen,
			 DOC_LE " line %d: %s %s: <%s key=%s> names a %s",
			 r->line, owner, lasync_q(owner_key), elem,
			 lasync_q(r->key),
			 r->sub ? "groep" : "samengestelde_groep");
		return NULL;
	}
	return g;
}

/* resolve_groups - groepen and samengestelde groepen into the model */
static void resolve_groups(es_resolve *rv)
{
	const es_vec *v = &rv->snap->groepen;
	const es_groep *g = v->v;
	lasync_school *s = rv->s;

	s->groups = lasync_arena_alloc(s->arena,
				       (v->n ? v->n : 1) * sizeof(*s->groups));
	for (size_t i = 0; i < v->n; i++) {
		lasync_lgroup *lg = &s->groups[s->n_groups++];

		*lg = g[i].m;
		lg->id = g[i].h.key;
		lg->kind = g[i].h.sub ? LASYNC_LG_SUBGROUP : LASYNC_LG_CLASS;
	}
}

/* resolve_student - one leerling: its groep with its own jaargroep, and
 * its samengestelde groepen */
static int resolve_student(es_resolve *rv, const es_leerling *l,
			   lasync_student *st)
{
	const es_head *sub = l->subs.v;
	lasync_school *s = rv->s;

	*st = l->m;
	st->id = l->h.key;
	st->placements = lasync_arena_alloc(
		s->arena, (l->subs.n + 1) * sizeof(*st->placements));
	if (l->groep.key != NULL) {
		const lasync_lgroup *g = resolve_ref(rv, "leerling", l->h.key,
						     &l->groep);

		if (g == NULL)
			return -1;
		st->placements[st->n_placements].group_id = g->id;
		st->placements[st->n_placements++].year_level = st->year_level;
	}
	for (size_t k = 0; k < l->subs.n; k++) {
		const lasync_lgroup *g = resolve_ref(rv, "leerling", l->h.key,
						     &sub[k]);

		if (g == NULL)
			return -1;
		st->placements[st->n_placements++].group_id = g->id;
	}
	/* the samengestelde groepen in key order, whatever the export's */
	if (l->subs.n > 1)
		qsort(st->placements + (st->n_placements - l->subs.n),
		      l->subs.n, sizeof(*st->placements), cmp_placement);
	return 0;
}

/* resolve_staff - one leerkracht and the groups it names */
static int resolve_staff(es_resolve *rv, const es_leerkracht *m,
			 lasync_staff *sf)
{
	const es_head *ref = m->groepen.v;

	*sf = m->m;
	sf->id = m->h.key;
	sf->group_ids = lasync_arena_alloc(rv->s->arena,
					   (m->groepen.n + 1) * sizeof(char *));
	for (size_t k = 0; k < m->groepen.n; k++) {
		const lasync_lgroup *g = resolve_ref(rv, "leerkracht", m->h.key,
						     &ref[k]);

		if (g == NULL)
			return -1;
		sf->group_ids[sf->n_group_ids++] = g->id;
	}
	if (sf->n_group_ids > 1)
		qsort(sf->group_ids, sf->n_group_ids, sizeof(char *), cmp_str);
	return 0;
}

/* resolve_guardian - one verzorger; a child not among the students is
 * dropped with a warning and counted (DESIGN §4) */
static void resolve_guardian(es_resolve *rv, const es_verzorger *v,
			     lasync_guardian *gd)
{
	const es_kind *k = v->kinderen.v;
	lasync_school *s = rv->s;

	*gd = v->m;
	gd->id = v->h.key;
	gd->address.present = gd->address.street || gd->address.number ||
			      gd->address.postcode || gd->address.city;
	gd->relations = lasync_arena_alloc(
		s->arena, (v->kinderen.n + 1) * sizeof(*gd->relations));
	for (size_t i = 0; i < v->kinderen.n; i++) {
		const lasync_student *st = lasync_school_student(s, k[i].h.key);
		lasync_relation *r;

		if (st == NULL) {
			lasync_warn("relation_dropped",
				    "doc=" DOC_VZ " verzorger=%s leerling=%s "
				    "reason=not_in_snapshot",
				    lasync_q(v->h.key), lasync_q(k[i].h.key));
			s->n_dropped_relations++;
			continue;
		}
		r = &gd->relations[gd->n_relations++];
		r->student_id = st->id;
		r->type = k[i].relatie;
		r->legal = true;
	}
	if (gd->n_relations > 1)
		qsort(gd->relations, gd->n_relations, sizeof(*gd->relations),
		      cmp_relation);
}

/* build_school - resolve the parsed snapshot into a finished school */
static int build_school(es_resolve *rv, const char *brin, const char *dep)
{
	es_snapshot *snap = rv->snap;
	lasync_school *s = rv->s;
	const es_leerling *l = snap->leerlingen.v;
	const es_leerkracht *m = snap->leerkrachten.v;
	const es_verzorger *v = snap->verzorgers.v;

	if (sort_unique(&snap->groepen, sizeof(es_groep), DOC_LE,
			"groep/samengestelde_groep", rv->err, rv->errlen) < 0 ||
	    sort_unique(&snap->leerlingen, sizeof(es_leerling), DOC_LE,
			"leerling", rv->err, rv->errlen) < 0 ||
	    sort_unique(&snap->leerkrachten, sizeof(es_leerkracht), DOC_LE,
			"leerkracht", rv->err, rv->errlen) < 0 ||
	    sort_unique(&snap->verzorgers, sizeof(es_verzorger), DOC_VZ,
			"verzorger", rv->err, rv->errlen) < 0)
		return -1;
	s->brin = lasync_arena_strdup(s->arena, brin);
	s->dependance = lasync_arena_strdup(s->arena, dep);
	s->schooljaar = snap->schooljaar;
	resolve_groups(rv);
	lasync_school_finish(s);	/* groups searchable */
	s->students = lasync_arena_alloc(
		s->arena, (snap->leerlingen.n + 1) * sizeof(*s->students));
	for (size_t i = 0; i < snap->leerlingen.n; i++)
		if (resolve_student(rv, &l[i], &s->students[s->n_students++]) <
		    0)
			return -1;
	lasync_school_finish(s);	/* students searchable */
	s->staff = lasync_arena_alloc(
		s->arena, (snap->leerkrachten.n + 1) * sizeof(*s->staff));
	for (size_t i = 0; i < snap->leerkrachten.n; i++)
		if (resolve_staff(rv, &m[i], &s->staff[s->n_staff++]) < 0)
			return -1;
	s->guardians = lasync_arena_alloc(
		s->arena, (snap->verzorgers.n + 1) * sizeof(*s->guardians));
	for (size_t i = 0; i < snap->verzorgers.n; i++)
		resolve_guardian(rv, &v[i], &s->guardians[s->n_guardians++]);
	lasync_school_finish(s);
	return 0;
}

/* esis_parse - the adapter's entry point (mapper_adapter.parse) */
static int esis_parse(const mapper_doc *docs, size_t n,
		      const char *tenant_brin, const char *tenant_dependance,
		      const mapper_limits *lim, lasync_school **out, char *err,
		      size_t errlen)
{
	mapper_limits l = mapper_adapter_limits(lim);
	es_snapshot snap = {0};
	es_ctx c = {0};
	es_resolve rv = {0};
	lasync_school *s = NULL;
	int rc = -1;

	*out = NULL;
	if (tenant_brin == NULL || tenant_dependance == NULL) {
		snprintf(err, errlen, "esis: tenant BRIN and dependance are "
				      "required");
		return -1;
	}
	if (mapper_adapter_docs_check(&mapper_esis_adapter, docs, n, lim, err,
				      errlen) < 0)
		return -1;
	s = lasync_school_new(ESIS_VENDOR);
	c.str = s->arena;
	c.tmp = lasync_arena_new();
	c.max_records = l.max_records;
	c.snap = &snap;
	c.brin = tenant_brin;
	c.dep = tenant_dependance;
	for (size_t i = 0; i < N_OF(es_docs); i++) {
		const es_docdef *dd = &es_docs[i];

		if (parse_doc(&c, dd, mapper_adapter_doc(docs, n, dd->op), &l,
			      err, errlen) < 0)
			goto out_free;
	}
	rv.snap = &snap;
	rv.s = s;
	rv.err = err;
	rv.errlen = errlen;
	if (build_school(&rv, tenant_brin, tenant_dependance) < 0)
		goto out_free;
	*out = s;
	s = NULL;
	rc = 0;
out_free:
	lasync_arena_free(c.tmp);
	lasync_school_free(s);
	return rc;
}

const mapper_adapter mapper_esis_adapter = {
	.vendor = ESIS_VENDOR,
	.name = "esis",
	.required_docs = es_required_docs,
	.parse = esis_parse,
};
