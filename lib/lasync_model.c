/*
 * lasync_model.c - the vendor-neutral school model (see lasync_model.h).
 *
 *   lasync_school_new()     an empty school owning a fresh arena
 *   lasync_school_finish()  sort every list by LAS id, once, after parsing
 *   lasync_school_group()   binary search by group id
 *   lasync_school_student() binary search by student id
 *   lasync_school_free()    release the arena and everything in it
 *
 * Sorting by id makes everything downstream (rules, diff) independent of the
 * order in which the LAS listed its records.  Staff and guardians are sorted
 * too, for the same reason, although nothing looks them up.  The lookups
 * fall back to a linear scan before finish() has run (a hand-built school in
 * a test), so they are never wrong, only slower.  Ids are
 * compared bytewise (strcmp), which is a total order on any UTF-8 text.
 */
#include "lasync_model.h"

#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"

/* The school struct itself is malloc'd; its arena holds the rest.  finished
 * lives outside the public struct so that the contract header stays as the
 * lead wrote it. */
struct school_ext {
	lasync_school s;
	bool finished;
};

/* lasync_school_new - an empty school with its own arena */
lasync_school *lasync_school_new(int vendor)
{
	struct school_ext *x = lasync_xcalloc(1, sizeof(*x));

	x->s.arena = lasync_arena_new();
	x->s.vendor = vendor;
	return &x->s;
}

/* lasync_school_free - release the school and everything in its arena */
void lasync_school_free(lasync_school *s)
{
	if (s == NULL)
		return;
	lasync_arena_free(s->arena);
	free((struct school_ext *)s);
}

/* cmp_group - groups by id (qsort/bsearch) */
static int cmp_group(const void *a, const void *b)
{
	return strcmp(((const lasync_lgroup *)a)->id,
		      ((const lasync_lgroup *)b)->id);
}

/* cmp_student - students by id (qsort/bsearch) */
static int cmp_student(const void *a, const void *b)
{
	return strcmp(((const lasync_student *)a)->id,
		      ((const lasync_student *)b)->id);
}

/* cmp_staff - staff by id */
static int cmp_staff(const void *a, const void *b)
{
	return strcmp(((const lasync_staff *)a)->id,
		      ((const lasync_staff *)b)->id);
}

/* cmp_guardian - guardians by id */
static int cmp_guardian(const void *a, const void *b)
{
	return strcmp(((const lasync_guardian *)a)->id,
		      ((const lasync_guardian *)b)->id);
}

/* lasync_school_finish - sort every list by id so that lookups are binary
 * searches and later stages see one order whatever the LAS sent */
void lasync_school_finish(lasync_school *s)
{
	if (s->n_groups > 1)
		qsort(s->groups, s->n_groups, sizeof(*s->groups), cmp_group);
	if (s->n_students > 1)
		qsort(s->students, s->n_students, sizeof(*s->students),
		      cmp_student);
	if (s->n_staff > 1)
		qsort(s->staff, s->n_staff, sizeof(*s->staff), cmp_staff);
	if (s->n_guardians > 1)
		qsort(s->guardians, s->n_guardians, sizeof(*s->guardians),
		      cmp_guardian);
	((struct school_ext *)s)->finished = true;
}

/* lasync_school_group - the group with this id, or NULL */
const lasync_lgroup *lasync_school_group(const lasync_school *s,
					 const char *id)
{
	lasync_lgroup key = {.id = id};

	if (id == NULL || s->n_groups == 0)
		return NULL;
	if (!((const struct school_ext *)s)->finished) {
		for (size_t i = 0; i < s->n_groups; i++)
			if (strcmp(s->groups[i].id, id) == 0)
				return &s->groups[i];
		return NULL;
	}
	return bsearch(&key, s->groups, s->n_groups, sizeof(*s->groups),
		       cmp_group);
}

/* lasync_school_student - the student with this id, or NULL */
const lasync_student *lasync_school_student(const lasync_school *s,
					    const char *id)
{
	lasync_student key = {.id = id};

	if (id == NULL || s->n_students == 0)
		return NULL;
	if (!((const struct school_ext *)s)->finished) {
		for (size_t i = 0; i < s->n_students; i++)
			if (strcmp(s->students[i].id, id) == 0)
				return &s->students[i];
		return NULL;
	}
	return bsearch(&key, s->students, s->n_students, sizeof(*s->students),
		       cmp_student);
}
