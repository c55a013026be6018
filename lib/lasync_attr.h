/*
 * lasync_attr.h - the attribute ownership table (DESIGN §5), shared by the
 * mapper (which attributes it computes, how it diffs them) and the applier
 * (which SCIM paths it may write, how it reconciles against the portal).
 *
 * Every attribute lasync owns has one row: its table path (the key used in
 * change sets and in the expected state), the resource it belongs to, its
 * owner class, its shape, and the user kinds and vendors it applies to.
 * Anything not in the table is portal-owned and is never written (R9).
 *
 * Values are carried as canonical JSON text (compact, keys sorted), so two
 * values are equal exactly when their strings are equal:
 *   SIMPLE  the JSON value at the path               "Emma", true, ["1","2"]
 *   TYPED   the element of a multi-valued attribute selected by its "type",
 *           restricted to the owned sub-attributes plus "type"
 *           {"locality":"Utrecht","postalCode":"1234 AB",
 *            "streetAddress":"Lindelaan 12 B","type":"home"}
 *   MULTI   the whole multi-valued attribute, each element restricted to the
 *           owned sub-attributes, elements sorted by their canonical text
 *           [{"externalId":"parnassys:student:1","relation":"MOEDER"}]
 * References to other resources inside MULTI values are by externalId; the
 * applier adds the portal's "value" (its SCIM id) when it writes them.
 */
#ifndef LASYNC_ATTR_H
#define LASYNC_ATTR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define LASYNC_SCHEMA_USER_EXT "urn:lasync:scim:school:1.0:User"
#define LASYNC_SCHEMA_GROUP_EXT "urn:lasync:scim:school:1.0:Group"

/* Numeric values match lasync.v1.ResourceType. */
typedef enum {
	LASYNC_RES_USER = 1,
	LASYNC_RES_GROUP = 2,
} lasync_res_type;

typedef enum {
	LASYNC_OWN_STRONG,	/* set every sync, removed when the LAS has none */
	LASYNC_OWN_STICKY,	/* set when the LAS has a value, never removed */
	LASYNC_OWN_CREATE,	/* set at creation only, portal-owned after */
} lasync_owner;

typedef enum {
	LASYNC_SHAPE_SIMPLE,
	LASYNC_SHAPE_TYPED,
	LASYNC_SHAPE_MULTI,
} lasync_shape;

/* Kinds a row applies to (bit mask). */
enum {
	LASYNC_KIND_STUDENT = 1u << 0,
	LASYNC_KIND_GUARDIAN = 1u << 1,
	LASYNC_KIND_STAFF = 1u << 2,
	LASYNC_KIND_USERS = 0x7u,
	LASYNC_KIND_GROUP = 1u << 3,
};

/* Vendors a row applies to (bit mask over lasync.v1.Vendor values). */
enum {
	LASYNC_VENDOR_PARNASSYS = 1u << 1,
	LASYNC_VENDOR_ESIS = 1u << 2,
	LASYNC_VENDOR_ALL = LASYNC_VENDOR_PARNASSYS | LASYNC_VENDOR_ESIS,
};

typedef struct lasync_attr_def {
	const char *path;	/* table key and SCIM PATCH path */
	lasync_res_type res;
	lasync_owner owner;
	lasync_shape shape;
	unsigned kinds;
	unsigned vendors;
	const char *scim_attr;	/* TYPED/MULTI: attribute name; SIMPLE: NULL */
	const char *type_value; /* TYPED: the "type" selecting the element */
	const char *const *subattrs; /* TYPED/MULTI: owned sub-attributes */
} lasync_attr_def;

/* Table paths, so that code never spells them twice. */
#define LASYNC_A_ACTIVE "active"
#define LASYNC_A_GIVEN "name.givenName"
#define LASYNC_A_FAMILY "name.familyName"
#define LASYNC_A_DISPLAY "displayName"
#define LASYNC_A_INFIX LASYNC_SCHEMA_USER_EXT ":nameInfix"
#define LASYNC_A_KIND LASYNC_SCHEMA_USER_EXT ":kind"
#define LASYNC_A_BIRTH LASYNC_SCHEMA_USER_EXT ":birthDate"
#define LASYNC_A_YEAR LASYNC_SCHEMA_USER_EXT ":yearLevel"
#define LASYNC_A_PRESCHOOL LASYNC_SCHEMA_USER_EXT ":preschool"
#define LASYNC_A_EMERGENCY LASYNC_SCHEMA_USER_EXT ":emergencyPhone"
#define LASYNC_A_GUARDIAN_OF LASYNC_SCHEMA_USER_EXT ":guardianOf"
#define LASYNC_A_PHONES "phoneNumbers"
#define LASYNC_A_ADDRESSES "addresses"
#define LASYNC_A_ADDR_HOME "addresses[type eq \"home\"]"
#define LASYNC_A_PHONE_HOME "phoneNumbers[type eq \"home\"]"
#define LASYNC_A_PHONE_MOBILE "phoneNumbers[type eq \"mobile\"]"
#define LASYNC_A_EMAIL_HOME "emails[type eq \"home\"]"
#define LASYNC_A_EMAIL_WORK "emails[type eq \"work\"]"
#define LASYNC_A_ROLES "roles"
#define LASYNC_G_DISPLAY "displayName"
#define LASYNC_G_KIND LASYNC_SCHEMA_GROUP_EXT ":kind"
#define LASYNC_G_YEARS LASYNC_SCHEMA_GROUP_EXT ":yearLevels"
#define LASYNC_G_PRIMARY LASYNC_SCHEMA_GROUP_EXT ":primary"
#define LASYNC_G_ORPHANED LASYNC_SCHEMA_GROUP_EXT ":lasOrphaned"
#define LASYNC_G_PARENTS_SEE_ALL LASYNC_SCHEMA_GROUP_EXT ":parentsSeeAllYearGroups"

/* lasync_attr_table - the whole table; *n receives the row count */
const lasync_attr_def *lasync_attr_table(size_t *n);

/* lasync_attr_find - the row for (res, path), or NULL when lasync does not
 * own that path (it is portal data and must not be written) */
const lasync_attr_def *lasync_attr_find(lasync_res_type res, const char *path);

/* lasync_attr_applies - does the row apply to a resource of this kind
 * (LASYNC_KIND_*) for this vendor (lasync.v1.Vendor value)? */
bool lasync_attr_applies(const lasync_attr_def *def, unsigned kind,
			 int vendor);

/* lasync_attr_kind_bit - the LASYNC_KIND_* bit for a user kind string
 * ("student", "guardian", "staff"); 0 when unknown */
unsigned lasync_attr_kind_bit(const char *kind);

/* lasync_json_canon - canonical text of a JSON value (compact, sorted keys);
 * returns a string the caller frees, NULL on allocation failure */
char *lasync_json_canon(const json_t *value);

/* lasync_attr_extract - the canonical value of one owned attribute as it
 * stands in a SCIM resource document, or NULL when the resource has no
 * value there.  Returns a string the caller frees. */
char *lasync_attr_extract(const lasync_attr_def *def, const json_t *resource);

/* lasync_attr_patch_ops - append to the JSON array ops the SCIM PATCH
 * operations that make the attribute hold value_json (canonical JSON), or
 * remove it when value_json is NULL.  refs maps externalIds inside MULTI
 * values to portal ids: it is called for each element's "externalId" and
 * returns the SCIM id (borrowed) or NULL when unknown, in which case the
 * call fails.  Returns 0, or -1 with a reason in err. */
typedef const char *(*lasync_attr_ref_fn)(void *ctx, const char *external_id);
int lasync_attr_patch_ops(const lasync_attr_def *def, const char *value_json,
			  lasync_attr_ref_fn refs, void *ctx, json_t *ops,
			  char *err, size_t errlen);

/* lasync_attr_put - set the attribute in a SCIM resource document being
 * built for creation (POST).  Same refs contract as above. */
int lasync_attr_put(const lasync_attr_def *def, const char *value_json,
		    lasync_attr_ref_fn refs, void *ctx, json_t *resource,
		    char *err, size_t errlen);

#endif /* LASYNC_ATTR_H */
