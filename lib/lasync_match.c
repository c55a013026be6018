/*
 * lasync_match.c - profile correlation (see lasync_match.h).
 *
 * Normalisation works on UTF-8: ASCII letters are lower-cased, the Latin-1
 * supplement and Latin Extended-A letters (the diacritics Dutch names and
 * their neighbours use: é ë ï ö ü ç ñ å ø ß, ą ł ş ...) fold to ASCII, and
 * anything else outside ASCII is kept as it is (it still compares, just not
 * folded).  A surname key is the sorted list of its words, so the infix
 * may stand before, after (with a comma) or apart.
 */
#include "lasync_match.h"

#include <stdlib.h>
#include <string.h>

#include "lasync_attr.h"
#include "lasync_mem.h"

/* Folds of U+00C0..U+017F, lower case ASCII; "" drops the letter. */
static const char *const fold_table[] = {
	/* C0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
	/* C8 */ "e", "e", "e", "e", "i", "i", "i", "i",
	/* D0 */ "d", "n", "o", "o", "o", "o", "o", "",
	/* D8 */ "o", "u", "u", "u", "u", "y", "th", "ss",
	/* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
	/* E8 */ "e", "e", "e", "e", "i", "i", "i", "i",
	/* F0 */ "d", "n", "o", "o", "o", "o", "o", "",
	/* F8 */ "o", "u", "u", "u", "u", "y", "th", "y",
	/* 100 */ "a", "a", "a", "a", "a", "a", "c", "c",
	/* 108 */ "c", "c", "c", "c", "c", "c", "d", "d",
	/* 110 */ "d", "d", "e", "e", "e", "e", "e", "e",
	/* 118 */ "e", "e", "e", "e", "g", "g", "g", "g",
	/* 120 */ "g", "g", "g", "g", "h", "h", "h", "h",
	/* 128 */ "i", "i", "i", "i", "i", "i", "i", "i",
	/* 130 */ "i", "i", "ij", "ij", "j", "j", "k", "k",
	/* 138 */ "k", "l", "l", "l", "l", "l", "l", "l",
	/* 140 */ "l", "l", "l", "n", "n", "n", "n", "n",
	/* 148 */ "n", "n", "n", "n", "o", "o", "o", "o",
	/* 150 */ "o", "o", "oe", "oe", "r", "r", "r", "r",
	/* 158 */ "r", "r", "s", "s", "s", "s", "s", "s",
	/* 160 */ "s", "s", "t", "t", "t", "t", "t", "t",
	/* 168 */ "u", "u", "u", "u", "u", "u", "u", "u",
	/* 170 */ "u", "u", "u", "u", "w", "w", "y", "y",
	/* 178 */ "y", "z", "z", "z", "z", "z", "z", "s",
};

typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

static void sput(sbuf *b, const char *s, size_t n)
{
	lasync_grow(&b->p, &b->cap, b->len + n + 1);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

char *lasync_match_norm(const char *s)
{
	sbuf b = {NULL, 0, 0};
	bool space = false;
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL)
		return NULL;
	sput(&b, "", 0);
	while (*p) {
		unsigned cp;
		size_t n;

		if (*p < 0x80) {
			cp = *p;
			n = 1;
		} else if ((*p & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
			cp = ((unsigned)(*p & 0x1f) << 6) | (p[1] & 0x3f);
			n = 2;
		} else {
			/* other multi-byte sequences are kept verbatim */
			n = (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 1;
			for (size_t k = 1; k < n; k++)
				if ((p[k] & 0xc0) != 0x80)
					n = k;
			if (space && b.len > 0)
				sput(&b, " ", 1);
			space = false;
			sput(&b, (const char *)p, n);
			p += n;
			continue;
		}
		p += n;
		if (cp >= 0xc0 && cp <= 0x17f) {
			const char *f = fold_table[cp - 0xc0];

			if (space && b.len > 0)
				sput(&b, " ", 1);
			space = false;
			sput(&b, f, strlen(f));
			continue;
		}
		if (cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') ||
		    cp == '-' || cp == '\'' || cp == '@' || cp == '.' ||
		    cp == '_' || cp == '+') {
			char c = (char)cp;

			if (space && b.len > 0)
				sput(&b, " ", 1);
			space = false;
			sput(&b, &c, 1);
		} else {
			/* whitespace, commas and other punctuation separate */
			space = true;
		}
	}
	return b.p;
}

static int cmp_word(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *lasync_match_surname(const char *infix, const char *family)
{
	char *joined = lasync_xasprintf("%s %s", infix ? infix : "",
					family ? family : "");
	char *n = lasync_match_norm(joined), *save = NULL;
	char *words[32];
	size_t k = 0;
	sbuf b = {NULL, 0, 0};

	free(joined);
	for (char *w = strtok_r(n, " ", &save); w != NULL && k < 32;
	     w = strtok_r(NULL, " ", &save)) {
		/* "." from initials or "Vries." is not part of the name */
		size_t l = strlen(w);

		while (l > 0 && w[l - 1] == '.')
			w[--l] = '\0';
		if (l > 0)
			words[k++] = w;
	}
	if (k > 1)
		qsort(words, k, sizeof(*words), cmp_word);
	sput(&b, "", 0);
	for (size_t i = 0; i < k; i++) {
		if (i)
			sput(&b, " ", 1);
		sput(&b, words[i], strlen(words[i]));
	}
	free(n);
	return b.p;
}

/* json_text - a canonical JSON string value as plain text (caller frees) */
static char *json_text(const char *canon)
{
	json_t *v;
	char *s = NULL;

	if (canon == NULL)
		return NULL;
	v = json_loads(canon, JSON_DECODE_ANY, NULL);
	if (json_is_string(v))
		s = lasync_xstrdup(json_string_value(v));
	json_decref(v);
	return s;
}

static char *postcode(const char *s)
{
	char *out;
	size_t o = 0;

	if (s == NULL)
		return NULL;
	out = lasync_xmalloc(strlen(s) + 1);
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			out[o++] = (*s >= 'a' && *s <= 'z') ? (char)(*s - 32) : *s;
	out[o] = '\0';
	return out;
}

static void add_email(lasync_profile *p, const char *e)
{
	if (e == NULL || *e == '\0')
		return;
	p->emails = lasync_xreallocarray(p->emails, p->n_emails + 1,
					 sizeof(char *));
	p->emails[p->n_emails++] = lasync_match_norm(e);
}

void lasync_profile_from_state(const lasync_sres *r, lasync_profile *p)
{
	char *given = json_text(lasync_sres_get(r, LASYNC_A_GIVEN));
	char *family = json_text(lasync_sres_get(r, LASYNC_A_FAMILY));
	char *infix = json_text(lasync_sres_get(r, LASYNC_A_INFIX));
	char *first = json_text(lasync_sres_get(r, LASYNC_HINT_FIRST_NAME));
	const char *email_path = lasync_sres_kind(r) == LASYNC_KIND_STAFF
					 ? LASYNC_A_EMAIL_WORK
					 : LASYNC_A_EMAIL_HOME;
	const char *ev = lasync_sres_get(r, email_path);
	const char *av = lasync_sres_get(r, LASYNC_A_ADDR_HOME);

	memset(p, 0, sizeof(*p));
	p->kind = lasync_sres_kind(r);
	p->id = lasync_xstrdup(r->external_id);
	p->given = lasync_match_norm(given);
	p->first_name = lasync_match_norm(first);
	p->surname = lasync_match_surname(infix, family);
	p->birth = json_text(lasync_sres_get(r, LASYNC_A_BIRTH));
	if (ev != NULL) {
		json_t *o = json_loads(ev, 0, NULL);

		add_email(p, json_string_value(json_object_get(o, "value")));
		json_decref(o);
	}
	if (av != NULL) {
		json_t *o = json_loads(av, 0, NULL);

		p->postcode = postcode(
			json_string_value(json_object_get(o, "postalCode")));
		json_decref(o);
	}
	free(given);
	free(family);
	free(infix);
	free(first);
}

void lasync_profile_from_scim(const json_t *doc, lasync_profile *p)
{
	const json_t *name = json_object_get(doc, "name");
	const json_t *ext = json_object_get(doc, LASYNC_SCHEMA_USER_EXT);
	const json_t *e;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->kind = lasync_attr_kind_bit(
		json_string_value(json_object_get(ext, "kind")));
	const char *id = json_string_value(json_object_get(doc, "id"));

	p->id = lasync_xstrdup(id ? id : "");
	p->given = lasync_match_norm(
		json_string_value(json_object_get(name, "givenName")));
	p->surname = lasync_match_surname(
		json_string_value(json_object_get(ext, "nameInfix")),
		json_string_value(json_object_get(name, "familyName")));
	if (json_string_value(json_object_get(ext, "birthDate")))
		p->birth = lasync_xstrdup(
			json_string_value(json_object_get(ext, "birthDate")));
	json_array_foreach(json_object_get(doc, "emails"), i, e)
		add_email(p, json_string_value(json_object_get(e, "value")));
	e = json_array_get(json_object_get(doc, "addresses"), 0);
	p->postcode = postcode(json_string_value(json_object_get(e,
								 "postalCode")));
}

void lasync_profile_clear(lasync_profile *p)
{
	free(p->given);
	free(p->first_name);
	free(p->surname);
	free(p->birth);
	for (size_t i = 0; i < p->n_emails; i++)
		free(p->emails[i]);
	free(p->emails);
	free(p->postcode);
	free(p->id);
	memset(p, 0, sizeof(*p));
}

static bool same(const char *a, const char *b)
{
	return a != NULL && b != NULL && *a && strcmp(a, b) == 0;
}

static bool share_email(const lasync_profile *l, const lasync_profile *p)
{
	for (size_t i = 0; i < l->n_emails; i++)
		for (size_t j = 0; j < p->n_emails; j++)
			if (same(l->emails[i], p->emails[j]))
				return true;
	return false;
}

bool lasync_profile_matches(const lasync_profile *l, const lasync_profile *p)
{
	if (p->kind != 0 && p->kind != l->kind)
		return false;
	switch (l->kind) {
	case LASYNC_KIND_STUDENT:
		return same(l->birth, p->birth) && same(l->surname, p->surname) &&
		       (same(l->given, p->given) ||
			same(l->first_name, p->given));
	case LASYNC_KIND_GUARDIAN:
		if (l->n_emails > 0)
			return share_email(l, p);
		return same(l->given, p->given) &&
		       same(l->surname, p->surname) &&
		       same(l->postcode, p->postcode);
	case LASYNC_KIND_STAFF:
		return share_email(l, p);
	default:
		return false;
	}
}

void lasync_match_all(const lasync_profile *las, size_t n,
		      const lasync_profile *portal, size_t m, int *out,
		      int ***cands)
{
	int *wanted = lasync_xcalloc(m + 1, sizeof(int)); /* claimants */
	int **c = lasync_xcalloc(n + 1, sizeof(int *));

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		c[i] = lasync_xcalloc(m + 1, sizeof(int));
		for (size_t j = 0; j < m; j++)
			if (lasync_profile_matches(&las[i], &portal[j])) {
				c[i][k++] = (int)j;
				wanted[j]++;
			}
		c[i][k] = -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (c[i][0] < 0)
			out[i] = LASYNC_MATCH_NONE;
		else if (c[i][1] >= 0 || wanted[c[i][0]] > 1)
			out[i] = LASYNC_MATCH_DISPUTED;
		else
			out[i] = c[i][0];
	}
	if (cands != NULL) {
		*cands = c;
	} else {
		for (size_t i = 0; i < n; i++)
			free(c[i]);
		free(c);
	}
	free(wanted);
}
