/*
 * lasync_match.h - profile correlation (R20): which portal profile without
 * an externalId is this LAS profile?
 *
 *   students   birth date + family name (with infix) + roepnaam or first
 *              voornaam
 *   guardians  e-mail; without one, given name + family name + postcode
 *   staff      e-mail
 *
 * Matching ignores case, surrounding and repeated whitespace, diacritics
 * ("Zoë" = "Zoe"), and where the infix stands ("de Vries", "Vries, de",
 * family "Vries" with infix "de" are one surname).  A portal profile whose
 * kind is unknown may match a LAS profile of any kind.
 *
 * One candidate that no other LAS profile also wants -> linked; several
 * candidates, or one portal profile wanted by several LAS profiles ->
 * disputed (the link queue, "Niet gekoppelde profielen"); none -> new.
 *
 * Profiles hold personal data (normalised): never log them.
 */
#ifndef LASYNC_MATCH_H
#define LASYNC_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lasync_state.h"

/* The correlation hint the mapper adds to a student's state: the first of
 * the voornamen (a state attribute outside the ownership table, so it is
 * never written to the portal). */
#define LASYNC_HINT_FIRST_NAME "hint:firstName"

typedef struct lasync_profile {
	unsigned kind;		/* LASYNC_KIND_*; 0 = unknown */
	char *given;		/* normalised */
	char *first_name;	/* normalised first voornaam (students) */
	char *surname;		/* normalised, infix placement folded */
	char *birth;		/* YYYY-MM-DD */
	char **emails;		/* normalised */
	size_t n_emails;
	char *postcode;		/* upper case, no spaces */
	char *id;		/* portal id or LAS externalId (not normalised) */
} lasync_profile;

/* lasync_match_norm - s normalised for comparison (caller frees; NULL in,
 * NULL out): lower case, diacritics folded to ASCII, punctuation other than
 * '-' and '\'' dropped, whitespace collapsed */
char *lasync_match_norm(const char *s);

/* lasync_match_surname - the surname key of an infix and a family name,
 * whatever way round ("de", "Vries"), (NULL, "Vries, de"), (NULL,
 * "de Vries") all give one key (caller frees) */
char *lasync_match_surname(const char *infix, const char *family);

/* lasync_profile_from_state - a LAS profile from a desired-state user */
void lasync_profile_from_state(const lasync_sres *r, lasync_profile *p);

/* lasync_profile_from_scim - a portal profile from a SCIM User document */
void lasync_profile_from_scim(const json_t *doc, lasync_profile *p);

void lasync_profile_clear(lasync_profile *p);

/* lasync_profile_matches - does the portal profile p fit the LAS profile
 * l by the keys of l's kind? */
bool lasync_profile_matches(const lasync_profile *l, const lasync_profile *p);

#define LASYNC_MATCH_NONE (-1)
#define LASYNC_MATCH_DISPUTED (-2)

/* lasync_match_all - correlate n LAS profiles with m portal profiles:
 * out[i] is the index of the portal profile las[i] is linked to, or
 * LASYNC_MATCH_NONE (new), or LASYNC_MATCH_DISPUTED.  cands, when not
 * NULL, receives for each i a malloc'd array of candidate indexes ending
 * in -1 (free each, then the array). */
void lasync_match_all(const lasync_profile *las, size_t n,
		      const lasync_profile *portal, size_t m, int *out,
		      int ***cands);

#endif /* LASYNC_MATCH_H */
