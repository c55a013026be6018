/*
 * lasync_tenant.h - a tenant (one school: one BRIN + dependance, one LAS,
 * one portal) and its settings (DESIGN §3), as the services use it.
 *
 * Tenants are written by `lasyncctl tenant put` as JSON, validated here,
 * and carried on the compacted lasync.tenants topic as lasync.v1.TenantConfig.
 * Secrets are references ("env:NAME", "file:/path"), resolved at use time by
 * lasync_secret_resolve(); a tenant never holds a secret value.
 */
#ifndef LASYNC_TENANT_H
#define LASYNC_TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lasync_settings {
	bool import_secret_contact_data; /* R10, default false */
	char *default_staff_role;	 /* R11, default "Leerkracht" */
	bool link_staff_to_groups;	 /* R12, default true */
	unsigned preschool_import_weeks; /* R13, default 0 */
	bool composite_groups_leading;	 /* R15, default false */
	bool esis_split_combination_groups; /* R4, default false */
	unsigned guard_min;		 /* R17, default 25 */
	unsigned guard_percent;		 /* R17, default 30 */
	char *new_profiles;		 /* R20 "create" | "review" */
	char *schedule;			 /* "nightly" ... */
} lasync_settings;

typedef enum {
	LASYNC_TENANT_FIRST_RUN_PENDING = 1,
	LASYNC_TENANT_ACTIVE = 2,
} lasync_tenant_state;

typedef struct lasync_group_link {
	char *external_id;
	char *portal_id;
} lasync_group_link;

typedef struct lasync_tenant {
	char *tenant_id;
	char *brand;		/* basisonline | basisschoolapps */
	char *brin;		/* 4 chars */
	char *dependance;	/* 2 digits */
	int vendor;		/* lasync.v1.Vendor value */
	char *leveranciernaam;	/* ParnasSys leveranciernaam */
	char *las_endpoint;
	char *las_key_ref;
	char *las_client_cert_ref;
	char *las_client_key_ref;
	char *las_client_cert_password_ref;
	char *las_ca_ref;
	char *portal_base_url;
	char *portal_token_ref;
	char *webhook_secret_ref;
	lasync_settings settings;
	lasync_tenant_state state;
	lasync_group_link *group_links;
	size_t n_group_links;
	char **manager_emails;
	size_t n_manager_emails;
	int64_t revision;	/* unix ms of the write; events carry it
				 * (Header.config_revision) */
	int refs;		/* lasync_tenant_hold/release; 0 = single owner */
} lasync_tenant;

/* lasync_settings_defaults - fill s with the documented defaults */
void lasync_settings_defaults(lasync_settings *s);

/* lasync_settings_free - release the strings of settings filled by
 * lasync_settings_defaults() (the struct itself is the caller's) */
void lasync_settings_free(lasync_settings *s);

/* lasync_tenant_free - release a tenant and everything it owns */
void lasync_tenant_free(lasync_tenant *t);

/* lasync_tenant_hold / _release - share a tenant beyond the table's next
 * update (a job that outlives a poll of lasync.tenants holds its tenant);
 * the last release frees it */
lasync_tenant *lasync_tenant_hold(lasync_tenant *t);
void lasync_tenant_release(lasync_tenant *t);

/* lasync_tenant_from_json - parse and validate a tenant document; NULL with
 * a reason naming the field in err when it is not valid */
lasync_tenant *lasync_tenant_from_json(const char *json, size_t len,
				       char *err, size_t errlen);

/* lasync_tenant_to_json - the tenant as a JSON document (caller frees) */
char *lasync_tenant_to_json(const lasync_tenant *t);

/* lasync_tenant_encode / _decode - lasync.v1.TenantConfig wire form */
uint8_t *lasync_tenant_encode(const lasync_tenant *t, size_t *len);
lasync_tenant *lasync_tenant_decode(const uint8_t *buf, size_t len, char *err,
				    size_t errlen);

/* lasync_vendor_name / lasync_vendor_parse - "parnassys" <-> value */
const char *lasync_vendor_name(int vendor);
int lasync_vendor_parse(const char *name);

#endif /* LASYNC_TENANT_H */
