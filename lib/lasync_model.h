/*
 * lasync_model.h - the vendor-neutral school model (DESIGN §4).
 *
 * Each LAS adapter (services/mapper/mapper_<vendor>.c) parses its raw
 * documents into one lasync_school; everything after that (rules, diff,
 * apply) is vendor-neutral.  Adding a third LAS means one new adapter that
 * fills this structure.
 *
 * Memory: a school owns an arena; every string and array hanging off it is
 * allocated from that arena and freed with lasync_school_free().  Strings are
 * UTF-8 as the LAS gives them, trimmed of surrounding whitespace; absent
 * optional values are NULL (never "").  Dates are "YYYY-MM-DD".
 *
 * The model holds personal data: never log its strings, only ids and counts.
 */
#ifndef LASYNC_MODEL_H
#define LASYNC_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "lasync_arena.h"

typedef enum {
	LASYNC_LG_CLASS = 1,	/* ParnasSys lesgroep, ESIS groep */
	LASYNC_LG_SUBGROUP = 2, /* ParnasSys sublesgroep, ESIS samengestelde_groep */
} lasync_lgroup_kind;

typedef struct lasync_lgroup {
	const char *id;		/* LAS id, unique within the school */
	const char *name;	/* LAS name, verbatim */
	lasync_lgroup_kind kind;
	const char *year_code;	/* ESIS groep jaargroep ("1".."8", "C"); else NULL */
} lasync_lgroup;

typedef struct lasync_placement {
	const char *group_id;	/* a lasync_lgroup id */
	const char *year_level; /* leerjaar / jaargroep of the student, "1".."8";
				 * NULL for a subgroup placement */
	const char *from;	/* first day it counts, NULL = always */
	const char *until;	/* last day it counts, NULL = open */
} lasync_placement;

typedef struct lasync_phone {
	const char *number;	/* NULL when absent */
	bool secret;		/* geheim */
} lasync_phone;

typedef struct lasync_address {
	const char *street;
	const char *number;	/* huisnummer */
	const char *addition;	/* huisnummerToevoeging / toevoeging */
	const char *postcode;
	const char *city;
	bool secret;		/* geheimadres / @geheim */
	bool present;		/* false: the LAS gives no address */
} lasync_address;

typedef struct lasync_student {
	const char *id;
	const char *roepnaam;
	const char *voornamen;	/* NULL when the LAS has none */
	const char *tussenvoegsel;
	const char *achternaam;
	const char *birth_date;
	const char *enrolled_from;  /* datumInschrijving, NULL if unknown */
	const char *enrolled_until; /* datumUitschrijving, NULL if none */
	bool pending;		    /* registered, not yet started (AANM) */
	const char *year_level;	    /* ESIS: the student's jaargroep; ParnasSys:
				     * NULL (the placement carries it) */
	lasync_placement *placements;
	size_t n_placements;
} lasync_student;

typedef struct lasync_staff {
	const char *id;
	const char *roepnaam;
	const char *tussenvoegsel;
	const char *achternaam;
	const char *email;
	const char *functie;
	const char **group_ids;	/* lesgroepen/groepen and subgroups */
	size_t n_group_ids;
} lasync_staff;

typedef struct lasync_relation {
	const char *student_id;
	const char *type;	/* MOEDER, VADER, VERZORGER, moeder, ... verbatim */
	bool legal;		/* wettelijk vertegenwoordiger (ESIS: true) */
} lasync_relation;

typedef struct lasync_guardian {
	const char *id;
	const char *roepnaam;
	const char *voorletters;
	const char *tussenvoegsel;
	const char *achternaam;
	const char *email;
	lasync_address address;
	lasync_phone phone_home;      /* vast */
	lasync_phone phone_mobile;    /* mobiel */
	lasync_phone phone_emergency; /* ESIS nood; ParnasSys: absent */
	lasync_relation *relations;
	size_t n_relations;
} lasync_guardian;

typedef struct lasync_school {
	lasync_arena *arena;
	int vendor;		/* lasync.v1.Vendor value */
	const char *brin;
	const char *dependance;
	const char *schooljaar; /* as the LAS names it */
	lasync_lgroup *groups;
	size_t n_groups;
	lasync_student *students;
	size_t n_students;
	lasync_staff *staff;
	size_t n_staff;
	lasync_guardian *guardians;
	size_t n_guardians;
	size_t n_dropped_relations; /* relations to students not in the snapshot */
	/* How the LAS groups students, set by its adapter (the rules know no
	 * vendor): true when a class is a lesgroep whose students each have a
	 * leerjaar (ParnasSys) - a lesgroep of several leerjaren always
	 * becomes one jaargroep per leerjaar plus a samengestelde groep, and
	 * a lesgroep of one leerjaar keeps its name (R3); false when a groep
	 * is the class whatever the years (ESIS), split only when the tenant
	 * asks (R4). */
	bool year_placements;
} lasync_school;

/* lasync_school_new - an empty school with its own arena */
lasync_school *lasync_school_new(int vendor);
void lasync_school_free(lasync_school *s);

/* lasync_school_finish - sort groups and students by id so that the
 * lookups below are binary searches; adapters call it once when parsed */
void lasync_school_finish(lasync_school *s);

/* lasync_school_group - the group with this id, or NULL */
const lasync_lgroup *lasync_school_group(const lasync_school *s,
					 const char *id);

/* lasync_school_student - the student with this id, or NULL */
const lasync_student *lasync_school_student(const lasync_school *s,
					    const char *id);

#endif /* LASYNC_MODEL_H */
