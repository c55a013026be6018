/*
 * lasync_state.h - a portal state in lasync's terms: the set of resources
 * (users and groups, by externalId) with the values of their owned
 * attributes and their LAS members.
 *
 * The mapper builds the desired state from a snapshot, diffs it against the
 * tenant's expected state (what the portal holds once every change set
 * already emitted is applied), and stores the desired state as the new
 * expected state.  Attribute values are canonical JSON (lasync_attr.h).
 *
 * Ownership: a state owns its resources and every string in them (one
 * pool per state, released by lasync_state_free; pointers into a state
 * are valid as long as the state).
 * Building: lasync_state_resource() returns the resource for a type and
 * externalId, creating it on first use; lasync_state_set() and
 * lasync_state_member() fill it.  lasync_state_finish() sorts everything so
 * that lookups (bsearch) and diffs (merge walk) work; call it once after
 * building, and before encoding, diffing or looking up.
 */
#ifndef LASYNC_STATE_H
#define LASYNC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lasync_attr.h"

typedef struct lasync_sattr {
	char *path;
	char *json;		/* canonical JSON */
} lasync_sattr;

typedef struct lasync_smember {
	char *external_id;
	lasync_res_type type;
} lasync_smember;

typedef struct lasync_sres {
	lasync_res_type type;
	char *external_id;
	lasync_sattr *attrs;
	size_t n_attrs, cap_attrs;
	lasync_smember *members;
	size_t n_members, cap_members;
} lasync_sres;

typedef struct lasync_state {
	char *tenant_id;
	int64_t generation;
	char *sync_id;
	lasync_sres **res;
	size_t n_res, cap_res;
	bool sorted;
} lasync_state;

/* lasync_state_new - an empty state (tenant_id may be NULL) */
lasync_state *lasync_state_new(const char *tenant_id);
void lasync_state_free(lasync_state *st);

/* lasync_state_resource - the resource (type, external_id), created when
 * absent; never NULL.  Invalidates sortedness when it creates. */
lasync_sres *lasync_state_resource(lasync_state *st, lasync_res_type type,
				   const char *external_id);

/* lasync_state_set - set an attribute to canonical JSON text (copied);
 * replaces an earlier value of the same path */
void lasync_state_set(lasync_sres *r, const char *path, const char *json);

/* lasync_state_set_string / _bool / _json - convenience setters that build
 * the canonical JSON themselves (byte for byte what lasync_json_canon
 * writes); _json takes ownership of value */
void lasync_state_set_string(lasync_sres *r, const char *path, const char *s);
void lasync_state_set_bool(lasync_sres *r, const char *path, bool b);
void lasync_state_set_json(lasync_sres *r, const char *path, json_t *value);

/* Canonical JSON text composed by hand, for values built on every sync
 * (jansson's object building and dumping was most of the mapper's rules
 * time).  The text must be byte for byte what lasync_json_canon writes for
 * the same value: compact, keys in byte order, jansson's escapes.  A
 * lasync_state_text starts zeroed; free its s when done. */
typedef struct lasync_state_text {
	char *s;
	size_t len, cap;
} lasync_state_text;

/* lasync_state_text_raw - append s verbatim (JSON punctuation, keys) */
void lasync_state_text_raw(lasync_state_text *t, const char *s);

/* lasync_state_text_string - append the canonical JSON text of the string
 * s; false, with nothing appended, when s is not valid UTF-8 (jansson
 * refuses such a string, and the value it belongs to then goes without
 * it) */
bool lasync_state_text_string(lasync_state_text *t, const char *s);

/* lasync_state_copy - append a copy of r (attributes and members) to st,
 * which must not hold (r->type, r->external_id) yet; copying a finished
 * state's resources in their order keeps st sorted without a sort */
lasync_sres *lasync_state_copy(lasync_state *st, const lasync_sres *r);

/* lasync_state_member - add a LAS member to a group (deduplicated at
 * finish) */
void lasync_state_member(lasync_sres *r, const char *external_id,
			 lasync_res_type type);

/* lasync_state_finish - sort resources, attributes and members and drop
 * duplicate members.  Idempotent. */
void lasync_state_finish(lasync_state *st);

/* lasync_state_find - the resource, or NULL (state must be finished) */
lasync_sres *lasync_state_find(const lasync_state *st, lasync_res_type type,
			       const char *external_id);

/* lasync_sres_get - the canonical value of path, or NULL */
const char *lasync_sres_get(const lasync_sres *r, const char *path);

/* lasync_sres_kind - the user kind bit (LASYNC_KIND_*) of a resource from
 * its kind attribute; LASYNC_KIND_GROUP for groups; 0 when unknown */
unsigned lasync_sres_kind(const lasync_sres *r);

/* lasync_state_encode - serialise to a lasync.v1.PortalState message;
 * returns a malloc'd buffer the caller frees and its length in *len */
uint8_t *lasync_state_encode(lasync_state *st, size_t *len);

/* lasync_state_decode - parse a lasync.v1.PortalState message; NULL when
 * the bytes are not one (err says why) */
lasync_state *lasync_state_decode(const uint8_t *buf, size_t len, char *err,
				  size_t errlen);

#endif /* LASYNC_STATE_H */
