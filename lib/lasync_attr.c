/*
 * lasync_attr.c - the attribute ownership table and the three things done
 * with a row: read its canonical value out of a SCIM resource (applier
 * reconcile), turn a desired value into SCIM PATCH operations, and put a
 * value into a resource being created.
 *
 * Writing a TYPED element is "remove the element of that type, then add the
 * new one" in one PATCH request: both succeed whether or not the element
 * exists (a filtered replace on nothing is 400 noTarget at some portals), and
 * the result is absolute, so repeating it is harmless.  lasync owns the whole
 * typed element; other elements of the attribute are left alone.
 */
#include "lasync_attr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"

static const char *const sub_address[] = {"streetAddress", "postalCode",
					   "locality", NULL};
static const char *const sub_value[] = {"value", NULL};
static const char *const sub_guardian_of[] = {"externalId", "relation", NULL};

#define USERS LASYNC_KIND_USERS
#define STUDENT LASYNC_KIND_STUDENT
#define GUARDIAN LASYNC_KIND_GUARDIAN
#define STAFF LASYNC_KIND_STAFF
#define GROUP LASYNC_KIND_GROUP
#define ALL LASYNC_VENDOR_ALL
#define U LASYNC_RES_USER
#define G LASYNC_RES_GROUP
#define STRONG LASYNC_OWN_STRONG
#define STICKY LASYNC_OWN_STICKY
#define CREATE LASYNC_OWN_CREATE
#define SIMPLE LASYNC_SHAPE_SIMPLE
#define TYPED LASYNC_SHAPE_TYPED
#define MULTI LASYNC_SHAPE_MULTI

/*
 * The table of DESIGN §5.  Order matters only for readability and for the
 * order of PATCH operations (stable, so request bodies are reproducible).
 */
static const lasync_attr_def attr_table[] = {
	{LASYNC_A_ACTIVE, U, STRONG, SIMPLE, USERS, ALL, NULL, NULL, NULL},
	{LASYNC_A_GIVEN, U, STRONG, SIMPLE, USERS, ALL, NULL, NULL, NULL},
	{LASYNC_A_FAMILY, U, STRONG, SIMPLE, USERS, ALL, NULL, NULL, NULL},
	{LASYNC_A_DISPLAY, U, STRONG, SIMPLE, USERS, ALL, NULL, NULL, NULL},
	{LASYNC_A_INFIX, U, STRONG, SIMPLE, USERS, ALL, NULL, NULL, NULL},
	{LASYNC_A_KIND, U, STRONG, SIMPLE, USERS, ALL, NULL, NULL, NULL},
	{LASYNC_A_BIRTH, U, STRONG, SIMPLE, STUDENT, ALL, NULL, NULL, NULL},
	{LASYNC_A_YEAR, U, STRONG, SIMPLE, STUDENT, ALL, NULL, NULL, NULL},
	{LASYNC_A_PRESCHOOL, U, STRONG, SIMPLE, STUDENT, ALL, NULL, NULL,
	 NULL},
	/* R8: students carry no phone numbers and no address, whatever the
	 * portal or the LAS holds: the mapper never sets these two. */
	{LASYNC_A_PHONES, U, STRONG, MULTI, STUDENT, ALL, "phoneNumbers", NULL,
	 NULL},
	{LASYNC_A_ADDRESSES, U, STRONG, MULTI, STUDENT, ALL, "addresses", NULL,
	 NULL},
	{LASYNC_A_ADDR_HOME, U, STRONG, TYPED, GUARDIAN, ALL, "addresses",
	 "home", sub_address},
	{LASYNC_A_PHONE_HOME, U, STRONG, TYPED, GUARDIAN, ALL, "phoneNumbers",
	 "home", sub_value},
	{LASYNC_A_PHONE_MOBILE, U, STRONG, TYPED, GUARDIAN, ALL,
	 "phoneNumbers", "mobile", sub_value},
	/* The emergency number comes from ESIS only; at ParnasSys tenants it
	 * is portal data (DESIGN §5). */
	{LASYNC_A_EMERGENCY, U, STRONG, SIMPLE, GUARDIAN,
	 LASYNC_VENDOR_ESIS, NULL, NULL, NULL},
	{LASYNC_A_EMAIL_HOME, U, STICKY, TYPED, GUARDIAN, ALL, "emails",
	 "home", sub_value},
	{LASYNC_A_GUARDIAN_OF, U, STRONG, MULTI, GUARDIAN, ALL,
	 LASYNC_A_GUARDIAN_OF, NULL, sub_guardian_of},
	{LASYNC_A_EMAIL_WORK, U, STICKY, TYPED, STAFF, ALL, "emails", "work",
	 sub_value},
	{LASYNC_A_ROLES, U, CREATE, MULTI, STAFF, ALL, "roles", NULL,
	 sub_value},
	{LASYNC_G_DISPLAY, G, STRONG, SIMPLE, GROUP, ALL, NULL, NULL, NULL},
	{LASYNC_G_KIND, G, STRONG, SIMPLE, GROUP, ALL, NULL, NULL, NULL},
	{LASYNC_G_YEARS, G, STRONG, SIMPLE, GROUP, ALL, NULL, NULL, NULL},
	{LASYNC_G_PRIMARY, G, STRONG, SIMPLE, GROUP, ALL, NULL, NULL, NULL},
	{LASYNC_G_ORPHANED, G, STRONG, SIMPLE, GROUP, ALL, NULL, NULL, NULL},
	{LASYNC_G_PARENTS_SEE_ALL, G, CREATE, SIMPLE, GROUP, ALL, NULL, NULL,
	 NULL},
};

const lasync_attr_def *lasync_attr_table(size_t *n)
{
	*n = sizeof(attr_table) / sizeof(attr_table[0]);
	return attr_table;
}

const lasync_attr_def *lasync_attr_find(lasync_res_type res, const char *path)
{
	for (size_t i = 0; i < sizeof(attr_table) / sizeof(attr_table[0]); i++)
		if (attr_table[i].res == res &&
		    strcmp(attr_table[i].path, path) == 0)
			return &attr_table[i];
	return NULL;
}

bool lasync_attr_applies(const lasync_attr_def *def, unsigned kind,
			 int vendor)
{
	if (vendor <= 0 || vendor > 30)
		return false;
	return (def->kinds & kind) != 0 &&
	       (def->vendors & (1u << (unsigned)vendor)) != 0;
}

unsigned lasync_attr_kind_bit(const char *kind)
{
	if (kind == NULL)
		return 0;
	if (strcmp(kind, "student") == 0)
		return LASYNC_KIND_STUDENT;
	if (strcmp(kind, "guardian") == 0)
		return LASYNC_KIND_GUARDIAN;
	if (strcmp(kind, "staff") == 0)
		return LASYNC_KIND_STAFF;
	return 0;
}

char *lasync_json_canon(const json_t *value)
{
	return json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS |
					 JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/*
 * Paths.  A path is either an extension path "urn:...:<Schema>:<attr>"
 * (the attribute name follows the last colon) or a dotted core path
 * ("name.givenName").  Both resolve to a parent object and a key.
 */

/* path_split_ext - for "urn:a:b:User:attr", the schema length; 0 if core */
static size_t path_split_ext(const char *path)
{
	if (strncmp(path, "urn:", 4) != 0)
		return 0;
	const char *colon = strrchr(path, ':');

	return (size_t)(colon - path);
}

/* path_get - the JSON value at a SIMPLE/MULTI path, or NULL (borrowed) */
static json_t *path_get(const json_t *res, const char *path)
{
	size_t ext = path_split_ext(path);

	if (ext != 0) {
		char schema[256];

		if (ext >= sizeof(schema))
			return NULL;
		memcpy(schema, path, ext);
		schema[ext] = '\0';
		json_t *obj = json_object_get(res, schema);

		return json_is_object(obj) ? json_object_get(obj, path + ext + 1)
					   : NULL;
	}
	const char *dot = strchr(path, '.');

	if (dot == NULL)
		return json_object_get(res, path);
	char head[64];
	size_t hl = (size_t)(dot - path);

	if (hl >= sizeof(head))
		return NULL;
	memcpy(head, path, hl);
	head[hl] = '\0';
	json_t *obj = json_object_get(res, head);

	return json_is_object(obj) ? json_object_get(obj, dot + 1) : NULL;
}

/* schemas_add - make sure resource["schemas"] lists urn */
static void schemas_add(json_t *res, const char *urn)
{
	json_t *schemas = json_object_get(res, "schemas");
	size_t i;
	json_t *v;

	if (!json_is_array(schemas)) {
		schemas = json_array();
		json_object_set_new(res, "schemas", schemas);
	}
	json_array_foreach(schemas, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), urn) == 0)
			return;
	json_array_append_new(schemas, json_string(urn));
}

/* path_set - store value (stolen) at a SIMPLE/MULTI path of res */
static int path_set(json_t *res, const char *path, json_t *value)
{
	size_t ext = path_split_ext(path);
	char head[256];
	const char *key;
	json_t *obj;

	if (ext != 0) {
		if (ext >= sizeof(head))
			goto out_fail;
		memcpy(head, path, ext);
		head[ext] = '\0';
		key = path + ext + 1;
		schemas_add(res, head);
	} else {
		const char *dot = strchr(path, '.');

		if (dot == NULL)
			return json_object_set_new(res, path, value);
		size_t hl = (size_t)(dot - path);

		if (hl >= sizeof(head))
			goto out_fail;
		memcpy(head, path, hl);
		head[hl] = '\0';
		key = dot + 1;
	}
	obj = json_object_get(res, head);
	if (!json_is_object(obj)) {
		obj = json_object();
		json_object_set_new(res, head, obj);
	}
	return json_object_set_new(obj, key, value);
out_fail:
	json_decref(value);
	return -1;
}

/* restrict_elem - a new object holding only the owned sub-attributes (and
 * "type" when with_type), dropping nulls and empty strings */
static json_t *restrict_elem(const json_t *elem, const char *const *subs,
			     bool with_type)
{
	json_t *out = json_object();

	for (size_t i = 0; subs[i] != NULL; i++) {
		json_t *v = json_object_get(elem, subs[i]);

		if (v == NULL || json_is_null(v) ||
		    (json_is_string(v) && json_string_length(v) == 0))
			continue;
		json_object_set(out, subs[i], v);
	}
	if (with_type) {
		json_t *t = json_object_get(elem, "type");

		if (t != NULL)
			json_object_set(out, "type", t);
	}
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* canon_multi - canonical text of a MULTI value: elements restricted and
 * sorted by their own canonical text; NULL when empty */
static char *canon_multi(const lasync_attr_def *def, const json_t *arr)
{
	size_t n = json_array_size(arr), i;
	char **parts, *out;
	json_t *v;

	if (n == 0)
		return NULL;
	parts = lasync_xcalloc(n, sizeof(*parts));
	json_array_foreach(arr, i, v) {
		/* Without owned sub-attributes (R8 rows) the whole element is
		 * owned; it is still sorted like every MULTI value. */
		json_t *r = json_is_object(v) && def->subattrs != NULL
				    ? restrict_elem(v, def->subattrs, false)
				    : json_incref(v);

		parts[i] = lasync_json_canon(r);
		json_decref(r);
	}
	qsort(parts, n, sizeof(*parts), cmp_str);
	json_t *sorted = json_array();

	for (i = 0; i < n; i++) {
		json_array_append_new(sorted, json_loads(parts[i],
							 JSON_DECODE_ANY, NULL));
		free(parts[i]);
	}
	free(parts);
	out = lasync_json_canon(sorted);
	json_decref(sorted);
	return out;
}

char *lasync_attr_extract(const lasync_attr_def *def, const json_t *resource)
{
	json_t *v;

	switch (def->shape) {
	case LASYNC_SHAPE_SIMPLE:
		v = path_get(resource, def->path);
		if (v == NULL || json_is_null(v))
			return NULL;
		if (json_is_array(v) && json_array_size(v) == 0)
			return NULL;
		if (json_is_string(v) && json_string_length(v) == 0)
			return NULL;
		return lasync_json_canon(v);
	case LASYNC_SHAPE_TYPED: {
		json_t *arr = json_object_get(resource, def->scim_attr);
		size_t i;

		json_array_foreach(arr, i, v) {
			json_t *t = json_object_get(v, "type");

			if (json_is_string(t) &&
			    strcmp(json_string_value(t), def->type_value) == 0) {
				json_t *r = restrict_elem(v, def->subattrs,
							  true);
				char *s = lasync_json_canon(r);

				json_decref(r);
				return s;
			}
		}
		return NULL;
	}
	case LASYNC_SHAPE_MULTI:
		v = path_get(resource, def->scim_attr);
		if (!json_is_array(v))
			return NULL;
		return canon_multi(def, v);
	}
	return NULL;
}

/* resolve_refs - a copy of value in which every element with an
 * "externalId" also carries the portal's "value"; NULL with err when a
 * reference is unknown */
static json_t *resolve_refs(const json_t *value, lasync_attr_ref_fn refs,
			    void *ctx, char *err, size_t errlen)
{
	json_t *out = json_deep_copy(value), *elem;
	size_t i;

	if (!json_is_array(out))
		return out;
	json_array_foreach(out, i, elem) {
		json_t *x = json_object_get(elem, "externalId");

		if (!json_is_string(x))
			continue;
		const char *id =
			refs ? refs(ctx, json_string_value(x)) : NULL;

		if (id == NULL) {
			snprintf(err, errlen, "unresolved reference %s",
				 json_string_value(x));
			json_decref(out);
			return NULL;
		}
		json_object_set_new(elem, "value", json_string(id));
	}
	return out;
}

/* parse_value - decode canonical JSON text, with a reason on failure */
static json_t *parse_value(const lasync_attr_def *def, const char *text,
			   char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (v == NULL)
		snprintf(err, errlen, "attribute %s: bad JSON value: %s",
			 def->path, je.text);
	return v;
}

static json_t *patch_op(const char *op, const char *path, json_t *value)
{
	json_t *o = json_object();

	json_object_set_new(o, "op", json_string(op));
	json_object_set_new(o, "path", json_string(path));
	if (value != NULL)
		json_object_set_new(o, "value", value);
	return o;
}

int lasync_attr_patch_ops(const lasync_attr_def *def, const char *value_json,
			  lasync_attr_ref_fn refs, void *ctx, json_t *ops,
			  char *err, size_t errlen)
{
	json_t *v = NULL;

	if (value_json != NULL) {
		v = parse_value(def, value_json, err, errlen);
		if (v == NULL)
			return -1;
	}
	switch (def->shape) {
	case LASYNC_SHAPE_SIMPLE:
		json_array_append_new(ops, v ? patch_op("replace", def->path, v)
					     : patch_op("remove", def->path,
							NULL));
		return 0;
	case LASYNC_SHAPE_TYPED:
		json_array_append_new(ops,
				      patch_op("remove", def->path, NULL));
		if (v != NULL) {
			json_t *arr = json_array();

			if (json_object_get(v, "type") == NULL)
				json_object_set_new(
					v, "type", json_string(def->type_value));
			json_array_append_new(arr, v);
			json_array_append_new(
				ops, patch_op("add", def->scim_attr, arr));
		}
		return 0;
	case LASYNC_SHAPE_MULTI:
		if (v == NULL) {
			json_array_append_new(
				ops, patch_op("remove", def->scim_attr, NULL));
			return 0;
		}
		json_t *r = resolve_refs(v, refs, ctx, err, errlen);

		json_decref(v);
		if (r == NULL)
			return -1;
		json_array_append_new(ops,
				      patch_op("replace", def->scim_attr, r));
		return 0;
	}
	json_decref(v);
	snprintf(err, errlen, "attribute %s: unknown shape", def->path);
	return -1;
}

int lasync_attr_put(const lasync_attr_def *def, const char *value_json,
		    lasync_attr_ref_fn refs, void *ctx, json_t *resource,
		    char *err, size_t errlen)
{
	json_t *v;

	if (value_json == NULL)
		return 0;
	v = parse_value(def, value_json, err, errlen);
	if (v == NULL)
		return -1;
	switch (def->shape) {
	case LASYNC_SHAPE_SIMPLE:
		if (path_set(resource, def->path, v) != 0)
			goto out_path;
		return 0;
	case LASYNC_SHAPE_TYPED: {
		json_t *arr = json_object_get(resource, def->scim_attr);

		if (!json_is_array(arr)) {
			arr = json_array();
			json_object_set_new(resource, def->scim_attr, arr);
		}
		if (json_object_get(v, "type") == NULL)
			json_object_set_new(v, "type",
					    json_string(def->type_value));
		json_array_append_new(arr, v);
		return 0;
	}
	case LASYNC_SHAPE_MULTI: {
		json_t *r = resolve_refs(v, refs, ctx, err, errlen);

		json_decref(v);
		if (r == NULL)
			return -1;
		if (path_set(resource, def->scim_attr, r) != 0)
			goto out_path;
		return 0;
	}
	}
	json_decref(v);
	snprintf(err, errlen, "attribute %s: unknown shape", def->path);
	return -1;
out_path:
	snprintf(err, errlen, "attribute %s: cannot set path", def->path);
	return -1;
}
