/*
 * notifier_suggestion.c - the body of a parent's change suggestion, as the
 * portal posts it to the webhook (R21), and the fields it may name.
 *
 *   {"suggestionId": "s-81f3",
 *    "parent": {"id": "<portal id>", "externalId": "parnassys:guardian:1"},
 *    "children": [{"id": "<portal id>", "externalId": "parnassys:student:2",
 *                  "displayName": "Emma de Vries"}],
 *    "changes": [{"field": "phoneMobile", "old": "06-1", "new": "06-2"}],
 *    "submittedAt": "2026-11-29T08:20:55Z"}
 *
 * The check is strict: every object's keys are allow-listed, types and
 * lengths are checked, text holds no control characters (so nothing a
 * parent types can break a mail header or a log line), field names come
 * from the table below and appear once.  A refusal names the offending
 * key, never its value.  The parsed message borrows its strings from the
 * JSON document; both are freed together.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_attr.h"
#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_mem.h"
#include "notifier.h"

#define MAX_ID 64
#define MAX_EXTERNAL_ID 128
#define MAX_NAME 200
#define MAX_VALUE 256
#define MAX_CHILDREN 20
#define MAX_CHANGES 20

/*
 * The fields a parent can change in the portal: the guardian's NAW data
 * that the LAS leads (R6, the seed's "Onderstaande NAW-gegevens") and the
 * e-mail address (R7).  Everything else a parent edits is portal data and
 * never reaches the webhook.  The emergency number is the LAS's at ESIS
 * tenants only; at ParnasSys tenants it is accepted but not owned.
 */
static const notifier_field fields[] = {
	{"givenName", "Roepnaam", LASYNC_A_GIVEN, NULL},
	{"nameInfix", "Tussenvoegsel", LASYNC_A_INFIX, NULL},
	{"familyName", "Achternaam", LASYNC_A_FAMILY, NULL},
	{"streetAddress", "Adres (straat, huisnummer)", LASYNC_A_ADDR_HOME,
	 "streetAddress"},
	{"postalCode", "Postcode", LASYNC_A_ADDR_HOME, "postalCode"},
	{"locality", "Plaats", LASYNC_A_ADDR_HOME, "locality"},
	{"phoneHome", "Telefoonnummer", LASYNC_A_PHONE_HOME, "value"},
	{"phoneMobile", "Telefoonnummer mobiel", LASYNC_A_PHONE_MOBILE,
	 "value"},
	{"emergencyPhone", "Noodnummer", LASYNC_A_EMERGENCY, NULL},
	{"email", "E-mailadres", LASYNC_A_EMAIL_HOME, "value"},
};

const notifier_field *notifier_field_find(const char *name)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

bool notifier_field_owned(const notifier_field *f, int vendor)
{
	const lasync_attr_def *def = lasync_attr_find(LASYNC_RES_USER, f->path);

	return def != NULL &&
	       lasync_attr_applies(def, LASYNC_KIND_GUARDIAN, vendor);
}

bool notifier_suggestion_owned(const Lasync__V1__ParentSuggestion *s,
			       int vendor)
{
	for (size_t i = 0; i < s->n_fields; i++) {
		const notifier_field *f = notifier_field_find(s->fields[i]->field);

		if (f != NULL && notifier_field_owned(f, vendor))
			return true;
	}
	return false;
}

/* --- checks ---------------------------------------------------------- */

typedef struct check {
	char *err;
	size_t errlen;
	bool failed;
} check;

static void fail(check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	c->failed = true;
}

/* text_ok - no C0/C1 controls, DEL, or Unicode line/paragraph separators
 * (jansson has already checked that s is UTF-8) */
static bool text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return false;
		if (p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0xa8 || p[2] == 0xa9))
			return false;
	}
	return true;
}

bool notifier_id_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* external_id_ok - printable ASCII without white space, quotes or angle
 * brackets ("parnassys:guardian:200001") */
static bool external_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_EXTERNAL_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' ||
		    ch == '<' || ch == '>')
			return false;
	}
	return true;
}

/* keys - every key of obj is one of allowed, and each of required is there */
static void keys(check *c, json_t *obj, const char *where,
		 const char *const *allowed, const char *const *required)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj)) {
		fail(c, "%s must be an object", where);
		return;
	}
	json_object_foreach(obj, k, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; allowed[i]; i++)
			ok = ok || strcmp(k, allowed[i]) == 0;
		if (!ok) {
			/* k is a key the sender chose: show it only when it
			 * is a plain identifier. */
			if (notifier_id_ok(k, 40))
				fail(c, "%s: unknown key \"%s\"", where, k);
			else
				fail(c, "%s: unknown key", where);
			return;
		}
	}
	for (size_t i = 0; required[i]; i++)
		if (json_object_get(obj, required[i]) == NULL)
			fail(c, "%s: \"%s\" is missing", where, required[i]);
}

/* What a string holds. */
enum { TEXT, ID, EXTERNAL_ID };

/* str - obj[key] as a string of that kind (NULL allowed when nullable) */
static const char *str(check *c, json_t *obj, const char *where,
		       const char *key, bool nullable, size_t min, size_t max,
		       int kind)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	if (c->failed)
		return NULL;
	if (v == NULL || json_is_null(v)) {
		if (!nullable)
			fail(c, "%s.%s must be a string", where, key);
		return NULL;
	}
	if (!json_is_string(v)) {
		fail(c, "%s.%s must be a string%s", where, key,
		     nullable ? " or null" : "");
		return NULL;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < min || n > max) {
		fail(c, "%s.%s must be %zu to %zu bytes long", where, key, min,
		     max);
		return NULL;
	}
	if ((kind == TEXT && !text_ok(s)) || (kind == ID && !notifier_id_ok(s, max)) ||
	    (kind == EXTERNAL_ID && !external_id_ok(s))) {
		fail(c, "%s.%s holds characters that are not allowed", where,
		     key);
		return NULL;
	}
	return s;
}

static const char *const top_keys[] = {"suggestionId", "parent", "children",
				       "changes", "submittedAt", NULL};
static const char *const parent_keys[] = {"id", "externalId", NULL};
static const char *const child_keys[] = {"id", "externalId", "displayName",
					 NULL};
static const char *const child_required[] = {"id", "displayName", NULL};
static const char *const change_keys[] = {"field", "old", "new", NULL};
static const char *const parent_required[] = {"id", NULL};
static const char *const change_required[] = {"field", "old", "new", NULL};

notifier_suggestion *notifier_suggestion_parse(const char *body, size_t len,
					       char *err, size_t errlen)
{
	notifier_suggestion *s = lasync_xcalloc(1, sizeof(*s));
	check c = {err, errlen, false};
	json_error_t je;
	json_t *doc, *parent, *kids, *changes, *e;
	const char *when;
	size_t i;

	lasync__v1__parent_suggestion__init(&s->msg);
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	s->doc = doc;
	if (doc == NULL) {
		/* je.text may quote the input: give the position only. */
		fail(&c, "body is not valid JSON (line %d, column %d)", je.line,
		     je.column);
		goto out;
	}
	keys(&c, doc, "body", top_keys, top_keys);
	if (c.failed)
		goto out;
	s->msg.suggestion_id = (char *)str(&c, doc, "body", "suggestionId",
					   false, 1, MAX_ID, ID);
	parent = json_object_get(doc, "parent");
	keys(&c, parent, "parent", parent_keys, parent_required);
	s->msg.parent_portal_id =
		(char *)str(&c, parent, "parent", "id", false, 1, MAX_ID, ID);
	s->msg.parent_external_id = (char *)str(
		&c, parent, "parent", "externalId", true, 1, MAX_EXTERNAL_ID,
		EXTERNAL_ID);
	when = str(&c, doc, "body", "submittedAt", false, 20, 40, TEXT);
	if (when != NULL &&
	    notifier_parse_time(when, &s->msg.submitted_at_ms) != 0)
		fail(&c, "body.submittedAt must be an RFC 3339 time");

	kids = json_object_get(doc, "children");
	if (!c.failed &&
	    (!json_is_array(kids) || json_array_size(kids) > MAX_CHILDREN))
		fail(&c, "children must be an array of at most %d", MAX_CHILDREN);
	if (c.failed)
		goto out;
	s->children = lasync_xcalloc(json_array_size(kids) + 1,
				     sizeof(*s->children));
	s->child_ptrs = lasync_xcalloc(json_array_size(kids) + 1,
				       sizeof(*s->child_ptrs));
	json_array_foreach(kids, i, e) {
		Lasync__V1__SuggestionChild *k = &s->children[i];
		char where[32];

		snprintf(where, sizeof(where), "children[%zu]", i);
		lasync__v1__suggestion_child__init(k);
		keys(&c, e, where, child_keys, child_required);
		k->portal_id = (char *)str(&c, e, where, "id", false, 1, MAX_ID,
					   ID);
		k->external_id = (char *)str(&c, e, where, "externalId", true,
					     1, MAX_EXTERNAL_ID, EXTERNAL_ID);
		k->display_name = (char *)str(&c, e, where, "displayName",
					      false, 1, MAX_NAME, TEXT);
		if (c.failed)
			goto out;
		if (k->external_id == NULL)
			k->external_id = (char *)"";
		s->child_ptrs[s->msg.n_children++] = k;
	}
	s->msg.children = s->child_ptrs;

	changes = json_object_get(doc, "changes");
	if (!json_is_array(changes) || json_array_size(changes) == 0 ||
	    json_array_size(changes) > MAX_CHANGES) {
		fail(&c, "changes must be an array of 1 to %d", MAX_CHANGES);
		goto out;
	}
	s->fields = lasync_xcalloc(json_array_size(changes) + 1,
				   sizeof(*s->fields));
	s->field_ptrs = lasync_xcalloc(json_array_size(changes) + 1,
				       sizeof(*s->field_ptrs));
	json_array_foreach(changes, i, e) {
		Lasync__V1__SuggestionField *f = &s->fields[i];
		char where[32];
		const char *name;

		snprintf(where, sizeof(where), "changes[%zu]", i);
		lasync__v1__suggestion_field__init(f);
		keys(&c, e, where, change_keys, change_required);
		name = str(&c, e, where, "field", false, 1, 40, ID);
		if (name != NULL && notifier_field_find(name) == NULL)
			fail(&c, "%s.field is not a field the portal sends",
			     where);
		for (size_t j = 0; name != NULL && j < s->msg.n_fields; j++)
			if (strcmp(s->fields[j].field, name) == 0)
				fail(&c, "%s.field repeats changes[%zu]", where,
				     j);
		f->field = (char *)name;
		f->old_value = (char *)str(&c, e, where, "old", true, 0,
					   MAX_VALUE, TEXT);
		f->new_value = (char *)str(&c, e, where, "new", true, 0,
					   MAX_VALUE, TEXT);
		if (c.failed)
			goto out;
		if (f->old_value == NULL)
			f->old_value = (char *)"";
		if (f->new_value == NULL)
			f->new_value = (char *)"";
		if (strcmp(f->old_value, f->new_value) == 0)
			fail(&c, "%s: old and new are the same", where);
		s->field_ptrs[s->msg.n_fields++] = f;
	}
	s->msg.fields = s->field_ptrs;
	if (s->msg.parent_external_id == NULL)
		s->msg.parent_external_id = (char *)"";
out:
	if (c.failed) {
		notifier_suggestion_free(s);
		return NULL;
	}
	return s;
}

void notifier_suggestion_free(notifier_suggestion *s)
{
	if (s == NULL)
		return;
	json_decref(s->doc);
	free(s->children);
	free(s->child_ptrs);
	free(s->fields);
	free(s->field_ptrs);
	free(s);
}

/* --- values and times ------------------------------------------------ */

void notifier_value_digest(const char *tenant, const char *suggestion_id,
			   const char *field, const char *value,
			   char out[33])
{
	lasync_digest *d = lasync_digest_new();
	size_t n = value ? strlen(value) : 0;
	char *norm = lasync_xmalloc(n + 1);
	size_t k = 0;
	bool space = false;

	/* Trim, collapse white space, fold ASCII case: "Dorpsstraat  1 " and
	 * "dorpsstraat 1" are the same value to a school. */
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)value[i];

		if (ch == ' ' || ch == '\t') {
			space = k > 0;
			continue;
		}
		if (space)
			norm[k++] = ' ';
		space = false;
		norm[k++] = (char)tolower(ch);
	}
	norm[k] = '\0';
	lasync_digest_add_str(d, "notifier-value-v1");
	lasync_digest_add_str(d, tenant);
	lasync_digest_add_str(d, suggestion_id);
	lasync_digest_add_str(d, field);
	lasync_digest_add_str(d, norm);
	lasync_digest_final(d, out);
	free(norm);
}

/* digits - n decimal digits at s into *v; -1 if not digits */
static int digits(const char *s, int n, long *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int notifier_parse_time(const char *s, int64_t *ms)
{
	char date[11];
	long day, hh, mi, ss, oh = 0, om = 0, frac = 0;
	const char *p;
	int sign = 0;

	if (strlen(s) < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return -1;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (lasync_date_parse(date, &day) != 0 || digits(s + 11, 2, &hh) ||
	    digits(s + 14, 2, &mi) || digits(s + 17, 2, &ss) || hh > 23 ||
	    mi > 59 || ss > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		int nd = 0;

		for (p++; isdigit((unsigned char)*p); p++, nd++)
			if (nd < 3)
				frac = frac * 10 + (*p - '0');
		if (nd == 0 || nd > 9)
			return -1;
		for (; nd < 3; nd++)
			frac *= 10;
	}
	if (*p == 'Z' && p[1] == '\0') {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
		   digits(p + 1, 2, &oh) == 0 && digits(p + 4, 2, &om) == 0 &&
		   oh <= 23 && om <= 59) {
		sign = *p == '+' ? 1 : -1;
	} else {
		return -1;
	}
	*ms = ((((int64_t)day * 24 + hh) * 60 + mi) * 60 + ss) * 1000 + frac -
	      (int64_t)sign * (oh * 60 + om) * 60000;
	return 0;
}
