/*
 * test_tenant.c - lib/lasync_tenant.c: tenant documents (strict
 * validation, defaults), the TenantConfig wire form and the JSON form.
 *
 * Invalid documents are a valid ParnasSys or ESIS tenant with one change
 * (a JSON merge: objects merge, null deletes a key); each row wants the
 * error to name the field.  Round trips compare lasync_tenant_to_json
 * text, which holds every field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lasync_mem.h"
#include "lasync_tenant.h"

#define PS_TENANT                                                          \
	"{\"tenant_id\":\"delinde\",\"brand\":\"basisonline\","            \
	"\"brin\":\"99ZZ\",\"dependance\":\"00\","                         \
	"\"las\":{\"vendor\":\"parnassys\","                               \
	"\"endpoint\":\"https://las.example.nl/parnassys\","               \
	"\"key_ref\":\"env:LAS_KEY\"},"                                    \
	"\"portal\":{\"base_url\":\"https://portal.example.nl/scim/v2\","  \
	"\"token_ref\":\"file:/run/secrets/portal-token\"},"               \
	"\"manager_emails\":[\"ict@delinde.example.nl\"]}"

#define ESIS_TENANT                                                        \
	"{\"tenant_id\":\"het-anker_2\",\"brand\":\"basisschoolapps\","    \
	"\"brin\":\"88YY\",\"dependance\":\"01\","                         \
	"\"las\":{\"vendor\":\"esis\","                                    \
	"\"endpoint\":\"https://esis.example.nl/uwlr\","                   \
	"\"key_ref\":\"env:ESIS_KEY\","                                    \
	"\"client_cert_ref\":\"file:/etc/lasync/anker.crt\","              \
	"\"client_key_ref\":\"file:/etc/lasync/anker.key\","               \
	"\"client_cert_password_ref\":\"env:ANKER_PW\","                   \
	"\"ca_ref\":\"file:/etc/lasync/esis-ca.pem\"},"                    \
	"\"portal\":{\"base_url\":\"https://portal.example.nl/anker/v2/\","\
	"\"token_ref\":\"env:ANKER_TOKEN\"},"                              \
	"\"settings\":{\"import_secret_contact_data\":true,"               \
	"\"default_staff_role\":\"Medewerker\","                           \
	"\"link_staff_to_groups\":false,\"preschool_import_weeks\":8,"     \
	"\"composite_groups_leading\":true,"                               \
	"\"esis_split_combination_groups\":true,\"guard_min\":10,"         \
	"\"guard_percent\":20,\"new_profiles\":\"review\","                \
	"\"schedule\":\"hourly\"},"                                        \
	"\"state\":\"first_run_pending\","                                 \
	"\"group_links\":[{\"external_id\":\"esis:jaargroep:g1\","         \
	"\"portal_id\":\"p-1\"},{\"external_id\":\"esis:samengesteld:s\"," \
	"\"portal_id\":\"p-2\"}],"                                         \
	"\"manager_emails\":[\"a@anker.nl\",\"b.c+d@anker.example.nl\"],"  \
	"\"webhook_secret_ref\":\"env:ANKER_HOOK\"}"

/* merge - apply patch to doc: objects merge, null deletes */
static void merge(json_t *doc, json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach(patch, k, v) {
		json_t *cur = json_object_get(doc, k);

		if (json_is_null(v))
			json_object_del(doc, k);
		else if (json_is_object(v) && json_is_object(cur))
			merge(cur, v);
		else
			json_object_set(doc, k, v);
	}
}

/* variant - base with patch applied, as text; the caller frees */
static char *variant(const char *base, const char *patch)
{
	json_error_t je;
	json_t *doc = json_loads(base, 0, &je), *p;
	char *s;

	if (doc == NULL) {
		print_error("bad base: %s\n", je.text);
		fail();
	}
	if (patch != NULL) {
		p = json_loads(patch, 0, &je);
		if (p == NULL) {
			print_error("bad patch %s: %s\n", patch, je.text);
			fail();
		}
		merge(doc, p);
		json_decref(p);
	}
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

static lasync_tenant *parse(const char *json, char *err, size_t errlen)
{
	return lasync_tenant_from_json(json, strlen(json), err, errlen);
}

/* ---------- valid documents ---------- */

static void test_parnassys_tenant_and_defaults(void **state)
{
	char err[256] = "";
	lasync_tenant *t = parse(PS_TENANT, err, sizeof(err));

	(void)state;
	if (t == NULL) {
		print_error("got error \"%s\", want a tenant\n", err);
		fail();
	}
	assert_string_equal(t->tenant_id, "delinde");
	assert_string_equal(t->brand, "basisonline");
	assert_string_equal(t->brin, "99ZZ");
	assert_string_equal(t->dependance, "00");
	assert_int_equal(t->vendor, 1);
	assert_string_equal(t->las_endpoint, "https://las.example.nl/parnassys");
	assert_string_equal(t->las_key_ref, "env:LAS_KEY");
	/* ParnasSys leveranciernaam defaults to the brand's supplier name */
	assert_string_equal(t->leveranciernaam, "BasisOnline");
	assert_null(t->las_client_cert_ref);
	assert_null(t->las_ca_ref);
	assert_string_equal(t->portal_base_url,
			    "https://portal.example.nl/scim/v2");
	assert_string_equal(t->portal_token_ref,
			    "file:/run/secrets/portal-token");
	assert_null(t->webhook_secret_ref);
	/* documented defaults (DESIGN §6) */
	assert_int_equal(t->state, LASYNC_TENANT_ACTIVE);
	assert_false(t->settings.import_secret_contact_data);
	assert_string_equal(t->settings.default_staff_role, "Leerkracht");
	assert_true(t->settings.link_staff_to_groups);
	assert_int_equal(t->settings.preschool_import_weeks, 0);
	assert_false(t->settings.composite_groups_leading);
	assert_false(t->settings.esis_split_combination_groups);
	assert_int_equal(t->settings.guard_min, 25);
	assert_int_equal(t->settings.guard_percent, 30);
	assert_string_equal(t->settings.new_profiles, "create");
	assert_string_equal(t->settings.schedule, "nightly");
	assert_int_equal(t->n_group_links, 0);
	assert_int_equal(t->n_manager_emails, 1);
	assert_string_equal(t->manager_emails[0], "ict@delinde.example.nl");
	lasync_tenant_free(t);
}

static void test_esis_tenant_every_field(void **state)
{
	char err[256] = "";
	lasync_tenant *t = parse(ESIS_TENANT, err, sizeof(err));

	(void)state;
	if (t == NULL) {
		print_error("got error \"%s\", want a tenant\n", err);
		fail();
	}
	assert_string_equal(t->tenant_id, "het-anker_2");
	assert_int_equal(t->vendor, 2);
	assert_null(t->leveranciernaam);
	assert_string_equal(t->las_client_cert_ref, "file:/etc/lasync/anker.crt");
	assert_string_equal(t->las_client_key_ref, "file:/etc/lasync/anker.key");
	assert_string_equal(t->las_client_cert_password_ref, "env:ANKER_PW");
	assert_string_equal(t->las_ca_ref, "file:/etc/lasync/esis-ca.pem");
	/* trailing slash dropped */
	assert_string_equal(t->portal_base_url,
			    "https://portal.example.nl/anker/v2");
	assert_int_equal(t->state, LASYNC_TENANT_FIRST_RUN_PENDING);
	assert_true(t->settings.import_secret_contact_data);
	assert_string_equal(t->settings.default_staff_role, "Medewerker");
	assert_false(t->settings.link_staff_to_groups);
	assert_int_equal(t->settings.preschool_import_weeks, 8);
	assert_true(t->settings.composite_groups_leading);
	assert_true(t->settings.esis_split_combination_groups);
	assert_int_equal(t->settings.guard_min, 10);
	assert_int_equal(t->settings.guard_percent, 20);
	assert_string_equal(t->settings.new_profiles, "review");
	assert_string_equal(t->settings.schedule, "hourly");
	assert_int_equal(t->n_group_links, 2);
	assert_string_equal(t->group_links[1].external_id,
			    "esis:samengesteld:s");
	assert_string_equal(t->group_links[1].portal_id, "p-2");
	assert_int_equal(t->n_manager_emails, 2);
	assert_string_equal(t->webhook_secret_ref, "env:ANKER_HOOK");
	lasync_tenant_free(t);
}

/* more valid variants: each must parse */
static void test_valid_variants(void **state)
{
	static const struct {
		const char *name, *base, *patch;
	} cases[] = {
		{"http_localhost", PS_TENANT,
		 "{\"las\":{\"endpoint\":\"http://localhost:8089/parnassys\"},"
		 "\"portal\":{\"base_url\":\"http://127.0.0.1:8090/t/v2\"}}"},
		{"http_localhost_no_port", PS_TENANT,
		 "{\"portal\":{\"base_url\":\"http://localhost/t\"}}"},
		{"http_ipv6_loopback", PS_TENANT,
		 "{\"las\":{\"endpoint\":\"http://[::1]:8089/p\"}}"},
		{"explicit_leveranciernaam", PS_TENANT,
		 "{\"las\":{\"leveranciernaam\":\"Other\"}}"},
		{"state_active", PS_TENANT, "{\"state\":\"active\"}"},
		{"no_manager_emails", PS_TENANT, "{\"manager_emails\":null}"},
		{"empty_lists", PS_TENANT,
		 "{\"manager_emails\":[],\"group_links\":[]}"},
		{"null_optional_string", PS_TENANT,
		 "{\"webhook_secret_ref\":null}"},
		{"settings_edges", PS_TENANT,
		 "{\"settings\":{\"guard_percent\":100,\"guard_min\":0,"
		 "\"preschool_import_weeks\":52,\"schedule\":\"manual\"}}"},
		{"brin_dependance_edges", PS_TENANT,
		 "{\"brin\":\"00AA\",\"dependance\":\"99\"}"},
		{"tenant_id_64", PS_TENANT,
		 "{\"tenant_id\":\"t012345678901234567890123456789"
		 "0123456789012345678901234567890ab\"}"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *doc = variant(cases[i].base, cases[i].patch);
		char err[256] = "";
		lasync_tenant *t = parse(doc, err, sizeof(err));

		if (t == NULL) {
			print_error("%s: got error \"%s\", want a tenant\n",
				    cases[i].name, err);
			fail();
		}
		lasync_tenant_free(t);
		free(doc);
	}
}

/* ---------- invalid documents ---------- */

typedef struct bad_case {
	const char *name;
	const char *base;
	const char *patch;
	const char *want_err;	/* must occur in err */
} bad_case;

static const bad_case bad_cases[] = {
	{"brin_three_chars", PS_TENANT, "{\"brin\":\"9ZZ\"}",
	 "brin must be two digits and two capital letters"},
	{"brin_lower_case", PS_TENANT, "{\"brin\":\"99zz\"}", "brin must be"},
	{"brin_letters_first", PS_TENANT, "{\"brin\":\"ZZ99\"}", "brin must be"},
	{"brin_missing", PS_TENANT, "{\"brin\":null}", "brin is required"},
	{"brin_not_string", PS_TENANT, "{\"brin\":99}",
	 "brin must be a string"},
	{"dependance_one_digit", PS_TENANT, "{\"dependance\":\"0\"}",
	 "dependance must be two digits"},
	{"dependance_three_digits", PS_TENANT, "{\"dependance\":\"000\"}",
	 "dependance must be two digits"},
	{"dependance_letter", PS_TENANT, "{\"dependance\":\"0A\"}",
	 "dependance must be two digits"},
	{"tenant_id_upper_case", PS_TENANT, "{\"tenant_id\":\"DeLinde\"}",
	 "tenant_id must be"},
	{"tenant_id_empty", PS_TENANT, "{\"tenant_id\":\"\"}",
	 "tenant_id must be"},
	{"tenant_id_too_long", PS_TENANT,
	 "{\"tenant_id\":\"t012345678901234567890123456789"
	 "0123456789012345678901234567890abc\"}",
	 "tenant_id must be 1-64"},
	{"tenant_id_with_colon", PS_TENANT, "{\"tenant_id\":\"a:b\"}",
	 "tenant_id must be"},
	{"tenant_id_missing", PS_TENANT, "{\"tenant_id\":null}",
	 "tenant_id is required"},
	{"unknown_top_key", PS_TENANT, "{\"brinnummer\":\"99ZZ\"}",
	 "brinnummer: unknown key"},
	{"unknown_las_key", PS_TENANT, "{\"las\":{\"password\":\"x\"}}",
	 "las.password: unknown key"},
	{"unknown_portal_key", PS_TENANT, "{\"portal\":{\"token\":\"x\"}}",
	 "portal.token: unknown key"},
	{"unknown_settings_key", PS_TENANT,
	 "{\"settings\":{\"link_staff\":false}}",
	 "settings.link_staff: unknown key"},
	{"settings_not_object", PS_TENANT, "{\"settings\":[]}",
	 "settings must be an object"},
	{"settings_bool_wrong_type", PS_TENANT,
	 "{\"settings\":{\"link_staff_to_groups\":\"no\"}}",
	 "settings.link_staff_to_groups must be true or false"},
	{"settings_guard_percent_over_100", PS_TENANT,
	 "{\"settings\":{\"guard_percent\":101}}",
	 "settings.guard_percent must be an integer in [0, 100]"},
	{"settings_weeks_negative", PS_TENANT,
	 "{\"settings\":{\"preschool_import_weeks\":-1}}",
	 "settings.preschool_import_weeks must be an integer"},
	{"settings_guard_min_real", PS_TENANT,
	 "{\"settings\":{\"guard_min\":2.5}}",
	 "settings.guard_min must be an integer"},
	{"settings_new_profiles", PS_TENANT,
	 "{\"settings\":{\"new_profiles\":\"auto\"}}",
	 "settings.new_profiles must be"},
	{"settings_schedule", PS_TENANT,
	 "{\"settings\":{\"schedule\":\"weekly\"}}",
	 "settings.schedule must be"},
	{"settings_empty_role", PS_TENANT,
	 "{\"settings\":{\"default_staff_role\":\"\"}}",
	 "settings.default_staff_role must not be empty"},
	{"settings_role_not_string", PS_TENANT,
	 "{\"settings\":{\"default_staff_role\":1}}",
	 "settings.default_staff_role must be a string"},
	{"secret_value_not_reference", PS_TENANT,
	 "{\"portal\":{\"token_ref\":\"eyJhbGciOi.secret\"}}",
	 "portal.token_ref must be a secret reference"},
	{"las_key_value_not_reference", PS_TENANT,
	 "{\"las\":{\"key_ref\":\"0123456789abcdef\"}}",
	 "las.key_ref must be a secret reference"},
	{"file_ref_relative", PS_TENANT,
	 "{\"las\":{\"key_ref\":\"file:secrets/key\"}}",
	 "las.key_ref must be a secret reference"},
	{"env_ref_empty_name", PS_TENANT, "{\"las\":{\"key_ref\":\"env:\"}}",
	 "las.key_ref must be a secret reference"},
	{"webhook_secret_value", PS_TENANT,
	 "{\"webhook_secret_ref\":\"whsec_123\"}",
	 "webhook_secret_ref must be a secret reference"},
	{"esis_ca_path_not_reference", ESIS_TENANT,
	 "{\"las\":{\"ca_ref\":\"/etc/ssl/ca.pem\"}}",
	 "las.ca_ref must be a secret reference"},
	{"las_http_not_local", PS_TENANT,
	 "{\"las\":{\"endpoint\":\"http://las.example.nl/parnassys\"}}",
	 "las.endpoint must be an https URL"},
	{"portal_http_not_local", PS_TENANT,
	 "{\"portal\":{\"base_url\":\"http://portal.example.nl/v2\"}}",
	 "portal.base_url must be an https URL"},
	/* "localhost" and "127.0.0.1" must be the whole host, not a prefix
	 * of someone else's name or the user part of the URL */
	{"portal_http_localhost_prefix_of_host", PS_TENANT,
	 "{\"portal\":{\"base_url\":\"http://localhost.evil.example/v2\"}}",
	 "portal.base_url must be an https URL"},
	{"las_http_loopback_prefix_of_host", PS_TENANT,
	 "{\"las\":{\"endpoint\":\"http://127.0.0.1.nip.io/parnassys\"}}",
	 "las.endpoint must be an https URL"},
	{"portal_http_localhost_as_user", PS_TENANT,
	 "{\"portal\":{\"base_url\":\"http://localhost@evil.example/v2\"}}",
	 "portal.base_url must be an https URL"},
	{"portal_https_empty_host", PS_TENANT,
	 "{\"portal\":{\"base_url\":\"https://\"}}",
	 "portal.base_url must be an https URL"},
	{"las_ftp", PS_TENANT, "{\"las\":{\"endpoint\":\"ftp://x/y\"}}",
	 "las.endpoint must be an https URL"},
	{"esis_without_client_cert", ESIS_TENANT,
	 "{\"las\":{\"client_cert_ref\":null}}",
	 "las.client_cert_ref is required for ESIS"},
	{"bad_vendor", PS_TENANT, "{\"las\":{\"vendor\":\"somtoday\"}}",
	 "las.vendor must be \"parnassys\" or \"esis\""},
	{"vendor_missing", PS_TENANT, "{\"las\":{\"vendor\":null}}",
	 "las.vendor is required"},
	{"las_missing", PS_TENANT, "{\"las\":null}",
	 "las is required and must be an object"},
	{"portal_not_object", PS_TENANT, "{\"portal\":\"https://x\"}",
	 "portal is required and must be an object"},
	{"portal_token_missing", PS_TENANT, "{\"portal\":{\"token_ref\":null}}",
	 "portal.token_ref is required"},
	{"bad_brand", PS_TENANT, "{\"brand\":\"parentcom\"}",
	 "brand must be \"basisonline\" or \"basisschoolapps\""},
	{"brand_case", PS_TENANT, "{\"brand\":\"BasisOnline\"}",
	 "brand must be"},
	{"bad_state", PS_TENANT, "{\"state\":\"paused\"}",
	 "state must be \"active\" or \"first_run_pending\""},
	{"bad_email_no_at", PS_TENANT,
	 "{\"manager_emails\":[\"ict.delinde.nl\"]}",
	 "manager_emails[0] is not an e-mail address"},
	{"bad_email_no_dot_in_domain", PS_TENANT,
	 "{\"manager_emails\":[\"a@b.nl\",\"ict@localhost\"]}",
	 "manager_emails[1] is not an e-mail address"},
	{"bad_email_space", PS_TENANT,
	 "{\"manager_emails\":[\"ict @delinde.nl\"]}",
	 "manager_emails[0] is not an e-mail address"},
	{"bad_email_two_ats", PS_TENANT,
	 "{\"manager_emails\":[\"a@b@c.nl\"]}",
	 "manager_emails[0] is not an e-mail address"},
	{"bad_email_header_injection", PS_TENANT,
	 "{\"manager_emails\":[\"a@b.nl\\r\\nBcc: x@y.nl\"]}",
	 "manager_emails[0] is not an e-mail address"},
	{"bad_email_display_name", PS_TENANT,
	 "{\"manager_emails\":[\"ICT <ict@delinde.nl>\"]}",
	 "manager_emails[0] is not an e-mail address"},
	{"email_not_string", PS_TENANT, "{\"manager_emails\":[1]}",
	 "manager_emails[0] is not an e-mail address"},
	{"emails_not_array", PS_TENANT, "{\"manager_emails\":\"a@b.nl\"}",
	 "manager_emails must be an array"},
	{"group_link_incomplete", PS_TENANT,
	 "{\"group_links\":[{\"external_id\":\"x\"}]}",
	 "group_links[0] needs external_id and portal_id"},
	{"group_links_not_array", PS_TENANT, "{\"group_links\":{}}",
	 "group_links must be an array"},
};

static void test_invalid_documents(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const bad_case *c = &bad_cases[i];
		char *doc = variant(c->base, c->patch);
		char err[512] = "";
		lasync_tenant *t = parse(doc, err, sizeof(err));

		if (t != NULL || strstr(err, c->want_err) == NULL) {
			print_error("%s: got %s err \"%s\", want NULL with "
				    "\"%s\"\n",
				    c->name, t ? "a tenant" : "NULL", err,
				    c->want_err);
			lasync_tenant_free(t);
			free(doc);
			fail();
		}
		free(doc);
	}
}

/* an error names the field itself, without a stray separator */
static void test_error_names_field_exactly(void **state)
{
	static const struct {
		const char *name, *patch, *want;
	} cases[] = {
		{"top_level_reference",
		 "{\"webhook_secret_ref\":\"whsec_123\"}",
		 "webhook_secret_ref must be a secret reference (env:NAME or "
		 "file:/path), not a value"},
		{"nested_reference", "{\"portal\":{\"token_ref\":\"abc\"}}",
		 "portal.token_ref must be a secret reference (env:NAME or "
		 "file:/path), not a value"},
		{"top_level_required", "{\"brand\":null}", "brand is required"},
		{"top_level_unknown", "{\"x\":1}", "x: unknown key"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *doc = variant(PS_TENANT, cases[i].patch);
		char err[512] = "";
		lasync_tenant *t = parse(doc, err, sizeof(err));

		if (t != NULL || strcmp(err, cases[i].want) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n",
				    cases[i].name, err, cases[i].want);
			lasync_tenant_free(t);
			free(doc);
			fail();
		}
		free(doc);
	}
}

static void test_not_json(void **state)
{
	static const struct {
		const char *name, *doc, *want;
	} cases[] = {
		{"syntax", "{\"tenant_id\":", "tenant is not valid JSON"},
		{"empty", "", "tenant is not valid JSON"},
		{"duplicate_key",
		 "{\"tenant_id\":\"a\",\"tenant_id\":\"b\"}",
		 "tenant is not valid JSON"},
		{"array", "[1,2]", "tenant must be a JSON object"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		lasync_tenant *t = parse(cases[i].doc, err, sizeof(err));

		if (t != NULL || strstr(err, cases[i].want) == NULL) {
			print_error("%s: got \"%s\", want \"%s\"\n",
				    cases[i].name, err, cases[i].want);
			lasync_tenant_free(t);
			fail();
		}
	}
}

/* ---------- round trips ---------- */

static const char *const round_trip_docs[] = {PS_TENANT, ESIS_TENANT};

static void test_encode_decode_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char err[256] = "";
		lasync_tenant *t = parse(round_trip_docs[i], err, sizeof(err));
		lasync_tenant *back;
		size_t len = 0;
		uint8_t *buf;

		assert_non_null(t);
		buf = lasync_tenant_encode(t, &len);
		back = lasync_tenant_decode(buf, len, err, sizeof(err));
		if (back == NULL) {
			print_error("doc %zu: decode failed: %s\n", i, err);
			fail();
		}
		char *want = lasync_tenant_to_json(t);
		char *got = lasync_tenant_to_json(back);

		if (strcmp(got, want) != 0) {
			print_error("doc %zu: got\n%s\nwant\n%s\n", i, got,
				    want);
			fail();
		}
		free(want);
		free(got);
		free(buf);
		lasync_tenant_free(back);
		lasync_tenant_free(t);
	}
}

static void test_to_json_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char err[256] = "";
		lasync_tenant *t = parse(round_trip_docs[i], err, sizeof(err));
		lasync_tenant *back;
		char *json, *again;

		assert_non_null(t);
		json = lasync_tenant_to_json(t);
		/* what to_json writes is itself a valid tenant document */
		back = parse(json, err, sizeof(err));
		if (back == NULL) {
			print_error("doc %zu: to_json output refused: %s\n%s\n",
				    i, err, json);
			fail();
		}
		again = lasync_tenant_to_json(back);
		assert_string_equal(again, json);
		free(json);
		free(again);
		lasync_tenant_free(back);
		lasync_tenant_free(t);
	}
}

static void test_decode_garbage(void **state)
{
	static const uint8_t ff[] = {0xff, 0xff, 0xff, 0xff};
	static const uint8_t text[] = "{\"tenant_id\":\"x\"}";
	const struct {
		const char *name;
		const uint8_t *buf;
		size_t len;
		const char *want;
	} cases[] = {
		{"garbage", ff, sizeof(ff), "not a TenantConfig"},
		{"json_text", text, sizeof(text) - 1, "not a TenantConfig"},
		/* an empty message is a TenantConfig without anything */
		{"empty_message", ff, 0, "without tenant id or vendor"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		lasync_tenant *t = lasync_tenant_decode(cases[i].buf,
							cases[i].len, err,
							sizeof(err));

		if (t != NULL || strstr(err, cases[i].want) == NULL) {
			print_error("%s: got \"%s\", want \"%s\"\n",
				    cases[i].name, err, cases[i].want);
			lasync_tenant_free(t);
			fail();
		}
	}
}

/* hold/release: the last release frees (ASan would see a leak or a
 * double free) */
static void test_hold_release(void **state)
{
	char err[256] = "";
	lasync_tenant *t = parse(PS_TENANT, err, sizeof(err));

	(void)state;
	assert_non_null(t);
	assert_ptr_equal(lasync_tenant_hold(t), t);
	assert_ptr_equal(lasync_tenant_hold(t), t);
	assert_int_equal(t->refs, 2);
	lasync_tenant_release(t);
	assert_int_equal(t->refs, 1);
	lasync_tenant_release(t);
	lasync_tenant_release(NULL);
	lasync_tenant_free(NULL);
}

static void test_vendor_names(void **state)
{
	(void)state;
	assert_string_equal(lasync_vendor_name(1), "parnassys");
	assert_string_equal(lasync_vendor_name(2), "esis");
	assert_string_equal(lasync_vendor_name(0), "unknown");
	assert_string_equal(lasync_vendor_name(3), "unknown");
	assert_int_equal(lasync_vendor_parse("parnassys"), 1);
	assert_int_equal(lasync_vendor_parse("esis"), 2);
	assert_int_equal(lasync_vendor_parse("ESIS"), -1);
	assert_int_equal(lasync_vendor_parse(""), -1);
	assert_int_equal(lasync_vendor_parse(NULL), -1);
}

static void test_settings_defaults(void **state)
{
	lasync_settings s;

	(void)state;
	lasync_settings_defaults(&s);
	assert_false(s.import_secret_contact_data);
	assert_string_equal(s.default_staff_role, "Leerkracht");
	assert_true(s.link_staff_to_groups);
	assert_int_equal(s.preschool_import_weeks, 0);
	assert_false(s.composite_groups_leading);
	assert_false(s.esis_split_combination_groups);
	assert_int_equal(s.guard_min, 25);
	assert_int_equal(s.guard_percent, 30);
	assert_string_equal(s.new_profiles, "create");
	assert_string_equal(s.schedule, "nightly");
	lasync_settings_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parnassys_tenant_and_defaults),
		cmocka_unit_test(test_esis_tenant_every_field),
		cmocka_unit_test(test_valid_variants),
		cmocka_unit_test(test_invalid_documents),
		cmocka_unit_test(test_error_names_field_exactly),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_encode_decode_round_trip),
		cmocka_unit_test(test_to_json_round_trip),
		cmocka_unit_test(test_decode_garbage),
		cmocka_unit_test(test_hold_release),
		cmocka_unit_test(test_vendor_names),
		cmocka_unit_test(test_settings_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
