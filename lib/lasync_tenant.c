/*
 * lasync_tenant.c - tenant documents: strict JSON validation, and the
 * lasync.v1.TenantConfig wire form (see lasync_tenant.h).
 *
 * Validation is strict on purpose: an unknown key is an error (a typo in a
 * setting must not silently fall back to a default), every reference must
 * be a secret reference, and LAS and portal endpoints must be https unless
 * they point at this machine (the development stack).
 */
#include "lasync_tenant.h"

#include <ctype.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync_mem.h"
#include "lasync_secret.h"

void lasync_settings_defaults(lasync_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->default_staff_role = lasync_xstrdup("Leerkracht");
	s->link_staff_to_groups = true;
	s->guard_min = 25;
	s->guard_percent = 30;
	s->new_profiles = lasync_xstrdup("create");
	s->schedule = lasync_xstrdup("nightly");
}

void lasync_settings_free(lasync_settings *s)
{
	free(s->default_staff_role);
	free(s->new_profiles);
	free(s->schedule);
}

void lasync_tenant_free(lasync_tenant *t)
{
	if (t == NULL)
		return;
	free(t->tenant_id);
	free(t->brand);
	free(t->brin);
	free(t->dependance);
	free(t->leveranciernaam);
	free(t->las_endpoint);
	free(t->las_key_ref);
	free(t->las_client_cert_ref);
	free(t->las_client_key_ref);
	free(t->las_client_cert_password_ref);
	free(t->las_ca_ref);
	free(t->portal_base_url);
	free(t->portal_token_ref);
	free(t->webhook_secret_ref);
	lasync_settings_free(&t->settings);
	for (size_t i = 0; i < t->n_group_links; i++) {
		free(t->group_links[i].external_id);
		free(t->group_links[i].portal_id);
	}
	free(t->group_links);
	for (size_t i = 0; i < t->n_manager_emails; i++)
		free(t->manager_emails[i]);
	free(t->manager_emails);
	free(t);
}

lasync_tenant *lasync_tenant_hold(lasync_tenant *t)
{
	t->refs++;
	return t;
}

void lasync_tenant_release(lasync_tenant *t)
{
	if (t != NULL && --t->refs <= 0)
		lasync_tenant_free(t);
}

const char *lasync_vendor_name(int vendor)
{
	switch (vendor) {
	case LASYNC__V1__VENDOR__VENDOR_PARNASSYS:
		return "parnassys";
	case LASYNC__V1__VENDOR__VENDOR_ESIS:
		return "esis";
	default:
		return "unknown";
	}
}

int lasync_vendor_parse(const char *name)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "parnassys") == 0)
		return LASYNC__V1__VENDOR__VENDOR_PARNASSYS;
	if (strcmp(name, "esis") == 0)
		return LASYNC__V1__VENDOR__VENDOR_ESIS;
	return -1;
}

/* --- validation helpers ---------------------------------------------- */

static bool valid_tenant_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

static bool valid_brin(const char *s)
{
	return strlen(s) == 4 && isdigit((unsigned char)s[0]) &&
	       isdigit((unsigned char)s[1]) && isupper((unsigned char)s[2]) &&
	       isupper((unsigned char)s[3]);
}

static bool valid_dependance(const char *s)
{
	return strlen(s) == 2 && isdigit((unsigned char)s[0]) &&
	       isdigit((unsigned char)s[1]);
}

/* host_is - does the URL's host part start with name and end right
 * after it (port, path or nothing follows)? */
static bool host_is(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncmp(h, name, n) == 0 &&
	       (h[n] == '\0' || h[n] == ':' || h[n] == '/');
}

/* local_host - does the URL's host name this machine?  The whole host must
 * match: "localhost.example.org" and "localhost@example.org" do not. */
static bool local_host(const char *url)
{
	const char *h = strstr(url, "://");

	if (h == NULL)
		return false;
	h += 3;
	return host_is(h, "127.0.0.1") || host_is(h, "localhost") ||
	       host_is(h, "[::1]");
}

static bool valid_url(const char *s)
{
	if (strncmp(s, "https://", 8) == 0)
		return strlen(s) > 8;
	return strncmp(s, "http://", 7) == 0 && local_host(s);
}

static bool valid_email(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || strchr(at + 1, '.') == NULL ||
	    strchr(at + 1, '@') != NULL || strlen(s) > 254)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == '<' ||
		    *p == '>' || *p == '"')
			return false;
	return true;
}

typedef struct vctx {
	char *err;
	size_t errlen;
	bool failed;
} vctx;

static void verr(vctx *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void verr(vctx *v, const char *fmt, ...)
{
	va_list ap;

	if (v->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(v->err, v->errlen, fmt, ap);
	va_end(ap);
	v->failed = true;
}

/* check_keys - every key of obj must be listed in allowed */
static void check_keys(vctx *v, json_t *obj, const char *where,
		       const char *const *allowed)
{
	const char *k;
	json_t *val;

	json_object_foreach(obj, k, val) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL)
			verr(v, "%s%s%s: unknown key", where, *where ? "." : "",
			     k);
	}
}

/* get_str - a string member; NULL when absent (or an error if required) */
static char *get_str(vctx *v, json_t *obj, const char *where,
		     const char *key, bool required)
{
	json_t *x = json_object_get(obj, key);

	if (x == NULL || json_is_null(x)) {
		if (required)
			verr(v, "%s%s%s is required", where, *where ? "." : "",
			     key);
		return NULL;
	}
	if (!json_is_string(x)) {
		verr(v, "%s%s%s must be a string", where, *where ? "." : "",
		     key);
		return NULL;
	}
	return lasync_xstrdup(json_string_value(x));
}

static char *get_ref(vctx *v, json_t *obj, const char *where,
		     const char *key, bool required)
{
	char *s = get_str(v, obj, where, key, required);

	if (s != NULL && !lasync_secret_valid_ref(s)) {
		verr(v, "%s%s%s must be a secret reference (env:NAME or "
			"file:/path), not a value",
		     where, *where ? "." : "", key);
		free(s);
		return NULL;
	}
	return s;
}

static void get_bool(vctx *v, json_t *obj, const char *key, bool *dst)
{
	json_t *x = json_object_get(obj, key);

	if (x == NULL)
		return;
	if (!json_is_boolean(x))
		verr(v, "settings.%s must be true or false", key);
	else
		*dst = json_is_true(x);
}

static void get_uint(vctx *v, json_t *obj, const char *key, unsigned max,
		     unsigned *dst)
{
	json_t *x = json_object_get(obj, key);

	if (x == NULL)
		return;
	if (!json_is_integer(x) || json_integer_value(x) < 0 ||
	    json_integer_value(x) > (json_int_t)max)
		verr(v, "settings.%s must be an integer in [0, %u]", key, max);
	else
		*dst = (unsigned)json_integer_value(x);
}

static void parse_settings(vctx *v, json_t *s, lasync_settings *out)
{
	static const char *const keys[] = {
		"import_secret_contact_data", "default_staff_role",
		"link_staff_to_groups", "preschool_import_weeks",
		"composite_groups_leading", "esis_split_combination_groups",
		"guard_min", "guard_percent", "new_profiles", "schedule", NULL};
	char *str;

	if (s == NULL)
		return;
	if (!json_is_object(s)) {
		verr(v, "settings must be an object");
		return;
	}
	check_keys(v, s, "settings", keys);
	get_bool(v, s, "import_secret_contact_data",
		 &out->import_secret_contact_data);
	get_bool(v, s, "link_staff_to_groups", &out->link_staff_to_groups);
	get_bool(v, s, "composite_groups_leading",
		 &out->composite_groups_leading);
	get_bool(v, s, "esis_split_combination_groups",
		 &out->esis_split_combination_groups);
	get_uint(v, s, "preschool_import_weeks", 52,
		 &out->preschool_import_weeks);
	get_uint(v, s, "guard_min", 100000, &out->guard_min);
	get_uint(v, s, "guard_percent", 100, &out->guard_percent);
	if ((str = get_str(v, s, "settings", "default_staff_role", false))) {
		if (*str == '\0')
			verr(v, "settings.default_staff_role must not be empty");
		free(out->default_staff_role);
		out->default_staff_role = str;
	}
	if ((str = get_str(v, s, "settings", "new_profiles", false))) {
		if (strcmp(str, "create") != 0 && strcmp(str, "review") != 0)
			verr(v, "settings.new_profiles must be \"create\" or "
				"\"review\"");
		free(out->new_profiles);
		out->new_profiles = str;
	}
	if ((str = get_str(v, s, "settings", "schedule", false))) {
		if (strcmp(str, "nightly") != 0 && strcmp(str, "hourly") != 0 &&
		    strcmp(str, "manual") != 0)
			verr(v, "settings.schedule must be \"nightly\", "
				"\"hourly\" or \"manual\"");
		free(out->schedule);
		out->schedule = str;
	}
}

lasync_tenant *lasync_tenant_from_json(const char *json, size_t len,
				       char *err, size_t errlen)
{
	static const char *const top_keys[] = {
		"tenant_id", "brand", "brin", "dependance", "las", "portal",
		"settings", "state", "group_links", "manager_emails",
		"webhook_secret_ref", "revision", NULL};
	static const char *const las_keys[] = {
		"vendor", "endpoint", "key_ref", "leveranciernaam",
		"client_cert_ref", "client_key_ref", "client_cert_password_ref",
		"ca_ref", NULL};
	static const char *const portal_keys[] = {"base_url", "token_ref",
						  NULL};
	vctx v = {err, errlen, false};
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	lasync_tenant *t;
	char *s;

	if (root == NULL) {
		snprintf(err, errlen, "tenant is not valid JSON (line %d): %s",
			 je.line, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "tenant must be a JSON object");
		json_decref(root);
		return NULL;
	}
	t = lasync_xcalloc(1, sizeof(*t));
	lasync_settings_defaults(&t->settings);
	t->state = LASYNC_TENANT_ACTIVE;
	check_keys(&v, root, "", top_keys);

	t->tenant_id = get_str(&v, root, "", "tenant_id", true);
	if (t->tenant_id && !valid_tenant_id(t->tenant_id))
		verr(&v, "tenant_id must be 1-64 characters of a-z, 0-9, '-' "
			 "and '_'");
	t->brand = get_str(&v, root, "", "brand", true);
	if (t->brand && strcmp(t->brand, "basisonline") != 0 &&
	    strcmp(t->brand, "basisschoolapps") != 0)
		verr(&v, "brand must be \"basisonline\" or \"basisschoolapps\"");
	t->brin = get_str(&v, root, "", "brin", true);
	if (t->brin && !valid_brin(t->brin))
		verr(&v, "brin must be two digits and two capital letters "
			 "(e.g. 99ZZ)");
	t->dependance = get_str(&v, root, "", "dependance", true);
	if (t->dependance && !valid_dependance(t->dependance))
		verr(&v, "dependance must be two digits (e.g. 00)");

	json_t *las = json_object_get(root, "las");

	if (!json_is_object(las)) {
		verr(&v, "las is required and must be an object");
	} else {
		check_keys(&v, las, "las", las_keys);
		s = get_str(&v, las, "las", "vendor", true);
		t->vendor = lasync_vendor_parse(s);
		if (s && t->vendor < 0)
			verr(&v, "las.vendor must be \"parnassys\" or \"esis\"");
		free(s);
		t->las_endpoint = get_str(&v, las, "las", "endpoint", true);
		if (t->las_endpoint && !valid_url(t->las_endpoint))
			verr(&v, "las.endpoint must be an https URL (http only "
				 "for 127.0.0.1/localhost)");
		t->las_key_ref = get_ref(&v, las, "las", "key_ref", true);
		t->leveranciernaam =
			get_str(&v, las, "las", "leveranciernaam", false);
		t->las_client_cert_ref =
			get_ref(&v, las, "las", "client_cert_ref", false);
		t->las_client_key_ref =
			get_ref(&v, las, "las", "client_key_ref", false);
		t->las_client_cert_password_ref = get_ref(
			&v, las, "las", "client_cert_password_ref", false);
		t->las_ca_ref = get_ref(&v, las, "las", "ca_ref", false);
		if (t->vendor == LASYNC__V1__VENDOR__VENDOR_ESIS &&
		    t->las_client_cert_ref == NULL)
			verr(&v, "las.client_cert_ref is required for ESIS "
				 "(mutual TLS)");
		if (t->vendor == LASYNC__V1__VENDOR__VENDOR_PARNASSYS &&
		    t->leveranciernaam == NULL)
			t->leveranciernaam = lasync_xstrdup("BasisOnline");
	}
	json_t *portal = json_object_get(root, "portal");

	if (!json_is_object(portal)) {
		verr(&v, "portal is required and must be an object");
	} else {
		check_keys(&v, portal, "portal", portal_keys);
		t->portal_base_url =
			get_str(&v, portal, "portal", "base_url", true);
		if (t->portal_base_url && !valid_url(t->portal_base_url))
			verr(&v, "portal.base_url must be an https URL (http "
				 "only for 127.0.0.1/localhost)");
		/* Normalise: no trailing slash. */
		if (t->portal_base_url) {
			size_t n = strlen(t->portal_base_url);

			while (n > 0 && t->portal_base_url[n - 1] == '/')
				t->portal_base_url[--n] = '\0';
		}
		t->portal_token_ref =
			get_ref(&v, portal, "portal", "token_ref", true);
	}
	parse_settings(&v, json_object_get(root, "settings"), &t->settings);
	if ((s = get_str(&v, root, "", "state", false))) {
		if (strcmp(s, "active") == 0)
			t->state = LASYNC_TENANT_ACTIVE;
		else if (strcmp(s, "first_run_pending") == 0)
			t->state = LASYNC_TENANT_FIRST_RUN_PENDING;
		else
			verr(&v, "state must be \"active\" or "
				 "\"first_run_pending\"");
		free(s);
	}
	json_t *links = json_object_get(root, "group_links"), *e;
	size_t i;

	if (links != NULL && !json_is_array(links))
		verr(&v, "group_links must be an array");
	json_array_foreach(links, i, e) {
		json_t *x = json_object_get(e, "external_id"),
		       *p = json_object_get(e, "portal_id");

		if (!json_is_string(x) || !json_is_string(p)) {
			verr(&v, "group_links[%zu] needs external_id and "
				 "portal_id strings",
			     i);
			break;
		}
		t->group_links = lasync_xreallocarray(
			t->group_links, t->n_group_links + 1,
			sizeof(*t->group_links));
		t->group_links[t->n_group_links].external_id =
			lasync_xstrdup(json_string_value(x));
		t->group_links[t->n_group_links].portal_id =
			lasync_xstrdup(json_string_value(p));
		t->n_group_links++;
	}
	json_t *mails = json_object_get(root, "manager_emails");

	if (mails != NULL && !json_is_array(mails))
		verr(&v, "manager_emails must be an array");
	json_array_foreach(mails, i, e) {
		if (!json_is_string(e) || !valid_email(json_string_value(e))) {
			verr(&v, "manager_emails[%zu] is not an e-mail address",
			     i);
			break;
		}
		t->manager_emails = lasync_xreallocarray(
			t->manager_emails, t->n_manager_emails + 1,
			sizeof(*t->manager_emails));
		t->manager_emails[t->n_manager_emails++] =
			lasync_xstrdup(json_string_value(e));
	}
	t->webhook_secret_ref =
		get_ref(&v, root, "", "webhook_secret_ref", false);
	json_decref(root);
	if (v.failed) {
		lasync_tenant_free(t);
		return NULL;
	}
	return t;
}

static void set_opt(json_t *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, k, json_string(v));
}

char *lasync_tenant_to_json(const lasync_tenant *t)
{
	json_t *root = json_object(), *las = json_object(),
	       *portal = json_object(), *st = json_object(),
	       *links = json_array(), *mails = json_array();
	const lasync_settings *s = &t->settings;
	char *out;

	set_opt(root, "tenant_id", t->tenant_id);
	set_opt(root, "brand", t->brand);
	set_opt(root, "brin", t->brin);
	set_opt(root, "dependance", t->dependance);
	set_opt(las, "vendor", lasync_vendor_name(t->vendor));
	set_opt(las, "endpoint", t->las_endpoint);
	set_opt(las, "key_ref", t->las_key_ref);
	set_opt(las, "leveranciernaam", t->leveranciernaam);
	set_opt(las, "client_cert_ref", t->las_client_cert_ref);
	set_opt(las, "client_key_ref", t->las_client_key_ref);
	set_opt(las, "client_cert_password_ref",
		t->las_client_cert_password_ref);
	set_opt(las, "ca_ref", t->las_ca_ref);
	json_object_set_new(root, "las", las);
	set_opt(portal, "base_url", t->portal_base_url);
	set_opt(portal, "token_ref", t->portal_token_ref);
	json_object_set_new(root, "portal", portal);
	json_object_set_new(st, "import_secret_contact_data",
			    json_boolean(s->import_secret_contact_data));
	set_opt(st, "default_staff_role", s->default_staff_role);
	json_object_set_new(st, "link_staff_to_groups",
			    json_boolean(s->link_staff_to_groups));
	json_object_set_new(st, "preschool_import_weeks",
			    json_integer(s->preschool_import_weeks));
	json_object_set_new(st, "composite_groups_leading",
			    json_boolean(s->composite_groups_leading));
	json_object_set_new(st, "esis_split_combination_groups",
			    json_boolean(s->esis_split_combination_groups));
	json_object_set_new(st, "guard_min", json_integer(s->guard_min));
	json_object_set_new(st, "guard_percent",
			    json_integer(s->guard_percent));
	set_opt(st, "new_profiles", s->new_profiles);
	set_opt(st, "schedule", s->schedule);
	json_object_set_new(root, "settings", st);
	set_opt(root, "state", t->state == LASYNC_TENANT_FIRST_RUN_PENDING
				       ? "first_run_pending"
				       : "active");
	for (size_t i = 0; i < t->n_group_links; i++) {
		json_t *l = json_object();

		set_opt(l, "external_id", t->group_links[i].external_id);
		set_opt(l, "portal_id", t->group_links[i].portal_id);
		json_array_append_new(links, l);
	}
	json_object_set_new(root, "group_links", links);
	for (size_t i = 0; i < t->n_manager_emails; i++)
		json_array_append_new(mails,
				      json_string(t->manager_emails[i]));
	json_object_set_new(root, "manager_emails", mails);
	set_opt(root, "webhook_secret_ref", t->webhook_secret_ref);
	/* informational: `tenant put` stamps a new revision on every write */
	if (t->revision > 0)
		json_object_set_new(root, "revision",
				    json_integer(t->revision));
	out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}

/* --- wire form ------------------------------------------------------- */

static char *nz(char *s)
{
	return s ? s : (char *)"";
}

uint8_t *lasync_tenant_encode(const lasync_tenant *t, size_t *len)
{
	Lasync__V1__TenantConfig tc = LASYNC__V1__TENANT_CONFIG__INIT;
	Lasync__V1__TenantSettings ts = LASYNC__V1__TENANT_SETTINGS__INIT;
	Lasync__V1__GroupLink *gl =
		lasync_xcalloc(t->n_group_links + 1, sizeof(*gl));
	Lasync__V1__GroupLink **glp =
		lasync_xcalloc(t->n_group_links + 1, sizeof(*glp));
	uint8_t *buf;

	tc.tenant_id = nz(t->tenant_id);
	tc.brand = nz(t->brand);
	tc.brin = nz(t->brin);
	tc.dependance = nz(t->dependance);
	tc.vendor = (Lasync__V1__Vendor)t->vendor;
	tc.las_endpoint = nz(t->las_endpoint);
	tc.las_key_ref = nz(t->las_key_ref);
	tc.las_client_cert_ref = nz(t->las_client_cert_ref);
	tc.las_client_key_ref = nz(t->las_client_key_ref);
	tc.las_client_cert_password_ref = nz(t->las_client_cert_password_ref);
	tc.las_ca_ref = nz(t->las_ca_ref);
	tc.leveranciernaam = nz(t->leveranciernaam);
	tc.portal_base_url = nz(t->portal_base_url);
	tc.portal_token_ref = nz(t->portal_token_ref);
	tc.webhook_secret_ref = nz(t->webhook_secret_ref);
	tc.state = (Lasync__V1__TenantState)t->state;
	tc.revision = t->revision;
	ts.import_secret_contact_data = t->settings.import_secret_contact_data;
	ts.default_staff_role = nz(t->settings.default_staff_role);
	ts.link_staff_to_groups = t->settings.link_staff_to_groups;
	ts.preschool_import_weeks = t->settings.preschool_import_weeks;
	ts.composite_groups_leading = t->settings.composite_groups_leading;
	ts.esis_split_combination_groups =
		t->settings.esis_split_combination_groups;
	ts.guard_min = t->settings.guard_min;
	ts.guard_percent = t->settings.guard_percent;
	ts.new_profiles = nz(t->settings.new_profiles);
	ts.schedule = nz(t->settings.schedule);
	tc.settings = &ts;
	for (size_t i = 0; i < t->n_group_links; i++) {
		lasync__v1__group_link__init(&gl[i]);
		gl[i].external_id = t->group_links[i].external_id;
		gl[i].portal_id = t->group_links[i].portal_id;
		glp[i] = &gl[i];
	}
	tc.group_links = glp;
	tc.n_group_links = t->n_group_links;
	tc.manager_emails = t->manager_emails;
	tc.n_manager_emails = t->n_manager_emails;
	*len = lasync__v1__tenant_config__get_packed_size(&tc);
	buf = lasync_xmalloc(*len);
	lasync__v1__tenant_config__pack(&tc, buf);
	free(gl);
	free(glp);
	return buf;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? lasync_xstrdup(s) : NULL;
}

lasync_tenant *lasync_tenant_decode(const uint8_t *buf, size_t len, char *err,
				    size_t errlen)
{
	Lasync__V1__TenantConfig *tc =
		lasync__v1__tenant_config__unpack(NULL, len, buf);
	lasync_tenant *t;

	if (tc == NULL) {
		snprintf(err, errlen, "not a TenantConfig message (%zu bytes)",
			 len);
		return NULL;
	}
	if (tc->tenant_id[0] == '\0' || lasync_vendor_name(tc->vendor)[0] == 'u') {
		snprintf(err, errlen, "TenantConfig without tenant id or vendor");
		lasync__v1__tenant_config__free_unpacked(tc, NULL);
		return NULL;
	}
	t = lasync_xcalloc(1, sizeof(*t));
	t->tenant_id = lasync_xstrdup(tc->tenant_id);
	t->brand = dup_or_null(tc->brand);
	t->brin = dup_or_null(tc->brin);
	t->dependance = dup_or_null(tc->dependance);
	t->vendor = (int)tc->vendor;
	t->las_endpoint = dup_or_null(tc->las_endpoint);
	t->las_key_ref = dup_or_null(tc->las_key_ref);
	t->las_client_cert_ref = dup_or_null(tc->las_client_cert_ref);
	t->las_client_key_ref = dup_or_null(tc->las_client_key_ref);
	t->las_client_cert_password_ref =
		dup_or_null(tc->las_client_cert_password_ref);
	t->las_ca_ref = dup_or_null(tc->las_ca_ref);
	t->leveranciernaam = dup_or_null(tc->leveranciernaam);
	t->portal_base_url = dup_or_null(tc->portal_base_url);
	t->portal_token_ref = dup_or_null(tc->portal_token_ref);
	t->webhook_secret_ref = dup_or_null(tc->webhook_secret_ref);
	t->revision = tc->revision;
	t->state = tc->state == LASYNC__V1__TENANT_STATE__TENANT_FIRST_RUN_PENDING
			   ? LASYNC_TENANT_FIRST_RUN_PENDING
			   : LASYNC_TENANT_ACTIVE;
	lasync_settings_defaults(&t->settings);
	if (tc->settings != NULL) {
		const Lasync__V1__TenantSettings *s = tc->settings;

		t->settings.import_secret_contact_data =
			s->import_secret_contact_data;
		if (s->default_staff_role[0]) {
			free(t->settings.default_staff_role);
			t->settings.default_staff_role =
				lasync_xstrdup(s->default_staff_role);
		}
		t->settings.link_staff_to_groups = s->link_staff_to_groups;
		t->settings.preschool_import_weeks = s->preschool_import_weeks;
		t->settings.composite_groups_leading =
			s->composite_groups_leading;
		t->settings.esis_split_combination_groups =
			s->esis_split_combination_groups;
		t->settings.guard_min = s->guard_min;
		t->settings.guard_percent = s->guard_percent;
		if (s->new_profiles[0]) {
			free(t->settings.new_profiles);
			t->settings.new_profiles =
				lasync_xstrdup(s->new_profiles);
		}
		if (s->schedule[0]) {
			free(t->settings.schedule);
			t->settings.schedule = lasync_xstrdup(s->schedule);
		}
	}
	if (tc->n_group_links > 0) {
		t->group_links = lasync_xcalloc(tc->n_group_links,
						sizeof(*t->group_links));
		for (size_t i = 0; i < tc->n_group_links; i++) {
			t->group_links[i].external_id = lasync_xstrdup(
				tc->group_links[i]->external_id);
			t->group_links[i].portal_id =
				lasync_xstrdup(tc->group_links[i]->portal_id);
		}
		t->n_group_links = tc->n_group_links;
	}
	if (tc->n_manager_emails > 0) {
		t->manager_emails = lasync_xcalloc(tc->n_manager_emails,
						   sizeof(char *));
		for (size_t i = 0; i < tc->n_manager_emails; i++)
			t->manager_emails[i] =
				lasync_xstrdup(tc->manager_emails[i]);
		t->n_manager_emails = tc->n_manager_emails;
	}
	lasync__v1__tenant_config__free_unpacked(tc, NULL);
	return t;
}
