/*
 * test_fetcher_esis.c - services/fetcher/fetcher_esis.c: the UWLR 2.2
 * requests, the brand's klantcode and label, and how ESIS answers are
 * judged, with the Dutch message the school reads when ESIS refuses the
 * key (R18).
 *
 * The requests are compared byte for byte with las-formats' examples
 * (fixtures/las/requests/, the key placeholder replaced); the label fault
 * is the example fixtures/las/esis/fault-wrong-label.xml.  The expected
 * messages are written out in full, not built from the code's pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fetcher.h"
#include "lasync/v1/common.pb-c.h"
#include "lasync_mem.h"

#define PLACEHOLDER "(secret reference resolved at fetch time)"

/* slurp - a fixture file as a string (caller frees) */
static char *slurp(const char *rel)
{
	char path[512];
	FILE *f;
	long n;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", LASYNC_FIXTURES, rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = lasync_xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* replace - s with the first occurrence of a replaced by b (caller frees) */
static char *replace(const char *s, const char *a, const char *b)
{
	const char *at = strstr(s, a);

	assert_non_null(at);
	return lasync_xasprintf("%.*s%s%s", (int)(at - s), s, b,
				at + strlen(a));
}

static lasync_tenant tenant(const char *brand)
{
	lasync_tenant t = {0};

	t.tenant_id = (char *)"dewilg";
	t.brand = (char *)brand;
	t.brin = (char *)"88YY";
	t.dependance = (char *)"01";
	t.vendor = LASYNC__V1__VENDOR__VENDOR_ESIS;
	return t;
}

static void test_vendor_registered(void **state)
{
	(void)state;
	assert_ptr_equal(fetcher_vendor_for(LASYNC__V1__VENDOR__VENDOR_ESIS),
			 &fetcher_esis);
	assert_ptr_equal(
		fetcher_vendor_for(LASYNC__V1__VENDOR__VENDOR_PARNASSYS),
		&fetcher_parnassys);
	assert_string_equal(fetcher_esis.name, "esis");
	assert_int_equal(fetcher_esis.n_ops, 2);
	assert_string_equal(fetcher_esis.ops[0], "HaalLeerlinggegevens");
	assert_string_equal(fetcher_esis.ops[1], "HaalVerzorgergegevens");
	assert_non_null(fetcher_esis.tls);
}

/* The requests equal las-formats' examples (brand basisonline, sync date
 * in school year 2026-2027), with the key in place of the placeholder. */
static void test_request_equals_example(void **state)
{
	static const char *const examples[] = {
		"las/requests/esis-HaalLeerlinggegevens.request.xml",
		"las/requests/esis-HaalVerzorgergegevens.request.xml",
	};
	lasync_tenant t = tenant("basisonline");

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		fetcher_call call = {0};
		char *ex = slurp(examples[i]);
		char *want = replace(ex, PLACEHOLDER, "dev-esis-key-88YY01");

		fetcher_esis.build(&t, "dev-esis-key-88YY01", "2026-11-29", i,
				   &call);
		if (strcmp(call.body, want) != 0) {
			print_error("%s: got\n%s\nwant\n%s\n", examples[i],
				    call.body, want);
			fail();
		}
		assert_string_equal(call.op, fetcher_esis.ops[i]);
		char *action = lasync_xasprintf("SOAPAction: %s",
						fetcher_esis.ops[i]);

		assert_string_equal(call.soap_action, action);
		free(action);
		free(call.body);
		free(call.soap_action);
		free(want);
		free(ex);
	}
}

/* Brand, school year and escaping, one field at a time. */
static void test_request_fields(void **state)
{
	static const struct {
		const char *name, *brand, *key, *date;
		size_t op;
		const char *want[4]; /* substrings the body holds */
	} cases[] = {
		{"basisonline", "basisonline", "k", "2026-11-29", 0,
		 {"<au:klantcode>BO</au:klantcode>",
		  "<au:klantnaam>BasisOnline Ouderportaal</au:klantnaam>",
		  "<le:schooljaar>2026-2027</le:schooljaar>", NULL}},
		{"basisschoolapps", "basisschoolapps", "k", "2026-11-29", 1,
		 {"<au:klantcode>BSA</au:klantcode>",
		  "<au:klantnaam>BasisschoolApps</au:klantnaam>",
		  "<vz:schooljaar>2026-2027</vz:schooljaar>", NULL}},
		{"last_day_of_year", "basisonline", "k", "2026-07-31", 0,
		 {"<le:schooljaar>2025-2026</le:schooljaar>", NULL}},
		{"first_day_of_year", "basisonline", "k", "2026-08-01", 0,
		 {"<le:schooljaar>2026-2027</le:schooljaar>", NULL}},
		{"january", "basisonline", "k", "2027-01-04", 1,
		 {"<vz:schooljaar>2026-2027</vz:schooljaar>", NULL}},
		{"school_fields", "basisonline", "k", "2026-11-29", 1,
		 {"<vz:brincode>88YY</vz:brincode>",
		  "<vz:dependancecode>01</vz:dependancecode>",
		  "<vz:xsdversie>2.2</vz:xsdversie>",
		  "xmlns:vz=\"urn:esis:verzorgers:model:1\""}},
		{"key_escaped", "basisonline", "a<b&c\"d'", "2026-11-29", 0,
		 {"<au:autorisatiesleutel>a&lt;b&amp;c&quot;d&apos;"
		  "</au:autorisatiesleutel>",
		  NULL}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lasync_tenant t = tenant(cases[i].brand);
		fetcher_call call = {0};

		fetcher_esis.build(&t, cases[i].key, cases[i].date,
				   cases[i].op, &call);
		for (size_t k = 0; k < 4 && cases[i].want[k]; k++)
			if (strstr(call.body, cases[i].want[k]) == NULL) {
				print_error("%s: body lacks %s; got\n%s\n",
					    cases[i].name, cases[i].want[k],
					    call.body);
				fail();
			}
		free(call.body);
		free(call.soap_action);
	}
}

static void test_label(void **state)
{
	static const struct {
		const char *brand, *want_label, *want_code;
	} cases[] = {
		{"basisonline", "BasisOnline Ouderportaal", "BO"},
		{"basisschoolapps", "BasisschoolApps", "BSA"},
		{NULL, "BasisOnline Ouderportaal", "BO"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *code = NULL;

		assert_string_equal(fetcher_esis_label(cases[i].brand, &code),
				    cases[i].want_label);
		assert_string_equal(code, cases[i].want_code);
	}
}

/* R18: the message names the label to select, after the brand. */
static void test_refusal_message(void **state)
{
	static const struct {
		const char *name, *brand, *code, *label, *want;
	} cases[] = {
		{"label_bo", "basisonline", "KOPPELING_LABEL", "BasisschoolApps",
		 "ESIS weigert de koppeling: de sleutel hoort bij het label "
		 "'BasisschoolApps'. Selecteer in het ESIS Koppelportaal het "
		 "label 'BasisOnline Ouderportaal' (niet 'ParentCom')."},
		{"label_bsa", "basisschoolapps", "KOPPELING_LABEL",
		 "BasisOnline Ouderportaal",
		 "ESIS weigert de koppeling: de sleutel hoort bij het label "
		 "'BasisOnline Ouderportaal'. Selecteer in het ESIS "
		 "Koppelportaal het label 'BasisschoolApps'."},
		{"label_parentcom", "basisonline", "KOPPELING_LABEL", "ParentCom",
		 "ESIS weigert de koppeling: de sleutel hoort bij het label "
		 "'ParentCom'. Selecteer in het ESIS Koppelportaal het label "
		 "'BasisOnline Ouderportaal' (niet 'ParentCom')."},
		{"label_unnamed", "basisschoolapps", "KOPPELING_LABEL", "",
		 "ESIS weigert de koppeling: de sleutel hoort bij een ander "
		 "label. Selecteer in het ESIS Koppelportaal het label "
		 "'BasisschoolApps'."},
		{"label_control_chars", "basisonline", "KOPPELING_LABEL",
		 "Basis\nschool\tApps",
		 "ESIS weigert de koppeling: de sleutel hoort bij het label "
		 "'Basis school Apps'. Selecteer in het ESIS Koppelportaal het "
		 "label 'BasisOnline Ouderportaal' (niet 'ParentCom')."},
		{"other_code_bo", "basisonline", "SLEUTEL_ONGELDIG", "",
		 "ESIS weigert de koppeling (SLEUTEL_ONGELDIG). Controleer in "
		 "het ESIS Koppelportaal dat de koppeling actief is onder het "
		 "label 'BasisOnline Ouderportaal' (niet 'ParentCom') en dat "
		 "de autorisatiesleutel klopt."},
		{"other_code_bsa", "basisschoolapps", "ONBEKENDE_SCHOOL", "",
		 "ESIS weigert de koppeling (ONBEKENDE_SCHOOL). Controleer in "
		 "het ESIS Koppelportaal dat de koppeling actief is onder het "
		 "label 'BasisschoolApps' en dat de autorisatiesleutel "
		 "klopt."},
		{"http_401", "basisschoolapps", "", "",
		 "ESIS weigert de autorisatie. Controleer in het ESIS "
		 "Koppelportaal dat de koppeling actief is onder het label "
		 "'BasisschoolApps' en dat de autorisatiesleutel klopt."},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[512];

		fetcher_esis_refusal(cases[i].brand, cases[i].code,
				     cases[i].label, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n",
				    cases[i].name, got, cases[i].want);
			fail();
		}
	}
}

#define AU_FAULT(code, label)                                              \
	"<?xml version=\"1.0\"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="        \
	"\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body>"    \
	"<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode>"           \
	"<faultstring>Autorisatie mislukt</faultstring><detail>"           \
	"<au:autorisatiefout xmlns:au=\"http://www.edustandaard.nl/"       \
	"leerresultaten/2/autorisatie\"><au:code>" code "</au:code>"       \
	label "</au:autorisatiefout></detail></SOAP-ENV:Fault>"            \
	"</SOAP-ENV:Body></SOAP-ENV:Envelope>"
#define SERVER_FAULT                                                       \
	"<?xml version=\"1.0\"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="        \
	"\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body>"    \
	"<SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode>"           \
	"<faultstring>Onderhoud</faultstring></SOAP-ENV:Fault>"            \
	"</SOAP-ENV:Body></SOAP-ENV:Envelope>"
#define CLIENT_FAULT                                                       \
	"<?xml version=\"1.0\"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="        \
	"\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body>"    \
	"<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode>"           \
	"<faultstring>xsdversie ongeldig</faultstring></SOAP-ENV:Fault>"   \
	"</SOAP-ENV:Body></SOAP-ENV:Envelope>"
#define EXAMPLE_FAULT "@fault-wrong-label.xml" /* read from fixtures */

/* How each answer is judged: verdict, class and (part of) the reason. */
static void test_judge(void **state)
{
	static const struct {
		const char *name, *brand;
		CURLcode curl;
		const char *error;
		long status;
		const char *body;
		fetch_verdict want;
		const char *want_cls, *want_reason;
	} cases[] = {
		{"ok", "basisonline", CURLE_OK, NULL, 200, "<x/>", FETCH_OK, "",
		 ""},
		{"label_fault_example_bo", "basisonline", CURLE_OK, NULL, 500,
		 EXAMPLE_FAULT, FETCH_PERMANENT, "las_label",
		 "ESIS weigert de koppeling: de sleutel hoort bij het label "
		 "'BasisschoolApps'. Selecteer in het ESIS Koppelportaal het "
		 "label 'BasisOnline Ouderportaal' (niet 'ParentCom')."},
		{"label_fault_bsa", "basisschoolapps", CURLE_OK, NULL, 500,
		 AU_FAULT("KOPPELING_LABEL",
			  "<au:koppeling>ParentCom</au:koppeling>"),
		 FETCH_PERMANENT, "las_label",
		 "ESIS weigert de koppeling: de sleutel hoort bij het label "
		 "'ParentCom'. Selecteer in het ESIS Koppelportaal het label "
		 "'BasisschoolApps'."},
		{"label_fault_with_200", "basisonline", CURLE_OK, NULL, 200,
		 AU_FAULT("KOPPELING_LABEL",
			  "<au:koppeling>BasisschoolApps</au:koppeling>"),
		 FETCH_PERMANENT, "las_label", "'BasisschoolApps'"},
		{"key_fault", "basisonline", CURLE_OK, NULL, 500,
		 AU_FAULT("SLEUTEL_ONGELDIG", ""), FETCH_PERMANENT, "las_auth",
		 "ESIS weigert de koppeling (SLEUTEL_ONGELDIG). Controleer in "
		 "het ESIS Koppelportaal dat de koppeling actief is onder het "
		 "label 'BasisOnline Ouderportaal' (niet 'ParentCom') en dat "
		 "de autorisatiesleutel klopt."},
		{"unknown_school", "basisschoolapps", CURLE_OK, NULL, 500,
		 AU_FAULT("ONBEKENDE_SCHOOL", ""), FETCH_PERMANENT, "las_auth",
		 "(ONBEKENDE_SCHOOL)"},
		{"http_401", "basisonline", CURLE_OK, NULL, 401, "",
		 FETCH_PERMANENT, "las_auth",
		 "ESIS weigert de autorisatie. Controleer in het ESIS "
		 "Koppelportaal dat de koppeling actief is onder het label "
		 "'BasisOnline Ouderportaal' (niet 'ParentCom') en dat de "
		 "autorisatiesleutel klopt."},
		{"http_403", "basisschoolapps", CURLE_OK, NULL, 403,
		 "Forbidden", FETCH_PERMANENT, "las_auth",
		 "'BasisschoolApps'"},
		{"server_fault_503", "basisonline", CURLE_OK, NULL, 503,
		 SERVER_FAULT, FETCH_TRANSIENT, "las_server",
		 "ESIS HaalLeerlinggegevens fault (HTTP 503, Server): "
		 "Onderhoud"},
		{"client_fault", "basisonline", CURLE_OK, NULL, 400,
		 CLIENT_FAULT, FETCH_PERMANENT, "las_fault",
		 "xsdversie ongeldig"},
		{"html_502", "basisonline", CURLE_OK, NULL, 502,
		 "<html>Bad gateway</html>", FETCH_TRANSIENT, "las_http",
		 "ESIS HaalLeerlinggegevens: HTTP 502"},
		{"http_429", "basisonline", CURLE_OK, NULL, 429, "",
		 FETCH_TRANSIENT, "las_http", "HTTP 429"},
		{"http_408", "basisonline", CURLE_OK, NULL, 408, "",
		 FETCH_TRANSIENT, "las_http", "HTTP 408"},
		{"http_404", "basisonline", CURLE_OK, NULL, 404, "",
		 FETCH_PERMANENT, "las_http", "HTTP 404"},
		{"empty_200", "basisonline", CURLE_OK, NULL, 200, "",
		 FETCH_TRANSIENT, "las_empty", "empty response"},
		{"timeout", "basisonline", CURLE_OPERATION_TIMEDOUT,
		 "Operation timed out after 120000 milliseconds", 0, "",
		 FETCH_TRANSIENT, "las_timeout", "timed out"},
		{"refused", "basisonline", CURLE_COULDNT_CONNECT,
		 "Failed to connect to 127.0.0.1 port 1", 0, "",
		 FETCH_TRANSIENT, "las_http", "Failed to connect"},
		{"reset_in_read", "basisonline", CURLE_RECV_ERROR,
		 "Recv failure: Connection reset by peer", 0, "",
		 FETCH_TRANSIENT, "las_http", "Connection reset"},
		{"cert_unknown_ca", "basisonline", CURLE_RECV_ERROR,
		 "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A000418:SSL "
		 "routines::tlsv1 alert unknown ca, errno 0",
		 0, "", FETCH_PERMANENT, "las_cert",
		 "ESIS weigert het clientcertificaat: het is niet uitgegeven "
		 "door een certificaatautoriteit die de server vertrouwt (TLS: "
		 "unknown ca)"},
		{"server_untrusted", "basisonline",
		 CURLE_PEER_FAILED_VERIFICATION,
		 "SSL certificate problem: self-signed certificate in "
		 "certificate chain",
		 0, "", FETCH_PERMANENT, "las_tls",
		 "Het servercertificaat van ESIS wordt niet vertrouwd"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lasync_tenant t = tenant(cases[i].brand);
		char *body = strcmp(cases[i].body, EXAMPLE_FAULT) == 0
				     ? slurp("las/esis/fault-wrong-label.xml")
				     : lasync_xstrdup(cases[i].body);
		lasync_http_result r = {
			.curl = cases[i].curl,
			.status = cases[i].status,
			.body = body,
			.len = strlen(body),
			.retry_after_s = -1,
			.error = cases[i].error ? cases[i].error : "",
		};
		char cls[48] = "", reason[512] = "";
		fetch_verdict got = fetcher_esis.judge(
			&t, 0, &r, cls, sizeof(cls), reason, sizeof(reason));

		if (got != cases[i].want ||
		    strcmp(cls, cases[i].want_cls) != 0 ||
		    strstr(reason, cases[i].want_reason) == NULL) {
			print_error("%s: got %d %s \"%s\", want %d %s "
				    "\"...%s...\"\n",
				    cases[i].name, got, cls, reason,
				    cases[i].want, cases[i].want_cls,
				    cases[i].want_reason);
			fail();
		}
		free(body);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vendor_registered),
		cmocka_unit_test(test_request_equals_example),
		cmocka_unit_test(test_request_fields),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_refusal_message),
		cmocka_unit_test(test_judge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
