/*
 * test_fetcher_parnassys.c - services/fetcher/fetcher_parnassys.c: how
 * ParnasSys answers are judged, reached through fetcher_parnassys.judge.
 *
 * A fetch that can succeed later is retried (FETCH_TRANSIENT): 5xx without
 * a fault or with a Server fault, 429 and 408, a timeout, a refused or
 * broken connection, an empty 200.  One that cannot (FETCH_PERMANENT)
 * fails the sync at once with a reason naming the cause: a refused key
 * (HTTP 401/403, Dutch, for the school), a Client fault (the request or
 * the school is wrong, whatever the status), another 4xx, a document over
 * the size limit, an endpoint curl cannot use.
 *
 * The fault bodies have the shape of las-formats' ParnasSys faults as the
 * LAS simulator sends them (tools/lassim).  The expected reasons are
 * written out, not built from the code's pieces.
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

static lasync_tenant tenant(void)
{
	lasync_tenant t = {0};

	t.tenant_id = (char *)"dewilg";
	t.brin = (char *)"99ZZ";
	t.vendor = LASYNC__V1__VENDOR__VENDOR_PARNASSYS;
	return t;
}

static void test_vendor_registered(void **state)
{
	(void)state;
	assert_ptr_equal(
		fetcher_vendor_for(LASYNC__V1__VENDOR__VENDOR_PARNASSYS),
		&fetcher_parnassys);
	assert_string_equal(fetcher_parnassys.name, "parnassys");
	assert_int_equal(fetcher_parnassys.n_ops, 3);
	assert_string_equal(fetcher_parnassys.ops[0], "getLeerlingen");
	assert_string_equal(fetcher_parnassys.ops[1], "getMedewerkers");
	assert_string_equal(fetcher_parnassys.ops[2], "getVerzorgers");
	assert_non_null(fetcher_parnassys.judge);
	assert_null(fetcher_parnassys.tls); /* no client certificates */
}

/* A SOAP 1.1 fault as the simulator writes it. */
#define PS_FAULT(code, text)                                               \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope "      \
	"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n"      \
	"  <soap:Body>\n    <soap:Fault>\n      <faultcode>soap:" code     \
	"</faultcode>\n      <faultstring>" text "</faultstring>\n"        \
	"    </soap:Fault>\n  </soap:Body>\n</soap:Envelope>\n"
#define KEY_FAULT(code) \
	PS_FAULT(code, "Ongeldige leveranciersleutel voor brinnummer 99ZZ")
#define OK_BODY                                                            \
	"<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://"       \
	"schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"                 \
	"<getLeerlingenResponse xmlns=\"http://www.topicus.nl/parnassys\">"\
	"<return/></getLeerlingenResponse></soap:Body></soap:Envelope>"

#define REFUSED(status, op)                                                \
	"ParnasSys weigert de leveranciersleutel (HTTP " status " bij " op \
	"): controleer de koppeling in ParnasSys"

/* How each answer is judged: verdict, class and (part of) the reason. */
static void test_judge(void **state)
{
	static const struct {
		const char *name;
		size_t op; /* 0 getLeerlingen, 1 getMedewerkers, 2 getVerzorgers */
		CURLcode curl;
		const char *error;
		bool too_large;
		long status;
		const char *body;
		fetch_verdict want;
		const char *want_cls, *want_reason;
	} cases[] = {
		{"ok", 0, CURLE_OK, NULL, false, 200, OK_BODY, FETCH_OK, "",
		 ""},

		/* The key: refused at once, in Dutch, naming HTTP status and
		 * operation; the fault the refusal comes with changes nothing. */
		{"key_refused_401_fault", 0, CURLE_OK, NULL, false, 401,
		 KEY_FAULT("Client"), FETCH_PERMANENT, "las_auth",
		 REFUSED("401", "getLeerlingen")},
		{"key_refused_403_fault", 2, CURLE_OK, NULL, false, 403,
		 KEY_FAULT("Client"), FETCH_PERMANENT, "las_auth",
		 REFUSED("403", "getVerzorgers")},
		{"key_refused_401_bare", 1, CURLE_OK, NULL, false, 401, "",
		 FETCH_PERMANENT, "las_auth", REFUSED("401", "getMedewerkers")},
		{"key_refused_403_html", 0, CURLE_OK, NULL, false, 403,
		 "<html><body>Forbidden</body></html>", FETCH_PERMANENT,
		 "las_auth", REFUSED("403", "getLeerlingen")},
		{"key_refused_401_server_fault", 0, CURLE_OK, NULL, false, 401,
		 KEY_FAULT("Server"), FETCH_PERMANENT, "las_auth",
		 REFUSED("401", "getLeerlingen")},

		/* A Client fault: the request or the school is wrong;
		 * permanent whatever the status, its faultstring the reason. */
		{"key_fault_500", 0, CURLE_OK, NULL, false, 500,
		 KEY_FAULT("Client"), FETCH_PERMANENT, "las_fault",
		 "ParnasSys getLeerlingen fault (HTTP 500, Client): Ongeldige "
		 "leveranciersleutel voor brinnummer 99ZZ"},
		{"key_fault_200", 1, CURLE_OK, NULL, false, 200,
		 KEY_FAULT("Client"), FETCH_PERMANENT, "las_fault",
		 "ParnasSys getMedewerkers fault (HTTP 200, Client): Ongeldige "
		 "leveranciersleutel voor brinnummer 99ZZ"},
		{"unknown_brin_500", 0, CURLE_OK, NULL, false, 500,
		 PS_FAULT("Client", "Onbekend brinnummer: 99ZZ"),
		 FETCH_PERMANENT, "las_fault",
		 "ParnasSys getLeerlingen fault (HTTP 500, Client): Onbekend "
		 "brinnummer: 99ZZ"},
		{"bad_request_400", 2, CURLE_OK, NULL, false, 400,
		 PS_FAULT("Client", "element schooljaar missing or empty"),
		 FETCH_PERMANENT, "las_fault",
		 "ParnasSys getVerzorgers fault (HTTP 400, Client): element "
		 "schooljaar missing or empty"},
		{"content_type_415", 0, CURLE_OK, NULL, false, 415,
		 PS_FAULT("Client", "Content-Type must be text/xml"),
		 FETCH_PERMANENT, "las_fault", "(HTTP 415, Client)"},
		{"fault_without_code", 0, CURLE_OK, NULL, false, 500,
		 "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"
		 "envelope/\"><soap:Body><soap:Fault/></soap:Body>"
		 "</soap:Envelope>",
		 FETCH_PERMANENT, "las_fault",
		 "ParnasSys getLeerlingen fault (HTTP 500, no faultcode): (no "
		 "faultstring)"},

		/* The server's trouble passes: retried. */
		{"server_fault_500", 0, CURLE_OK, NULL, false, 500,
		 PS_FAULT("Server", "Injected fault: HTTP 500"),
		 FETCH_TRANSIENT, "las_server",
		 "ParnasSys getLeerlingen fault (HTTP 500, Server): Injected "
		 "fault: HTTP 500"},
		{"server_fault_503", 1, CURLE_OK, NULL, false, 503,
		 PS_FAULT("Server", "Onderhoud"), FETCH_TRANSIENT, "las_server",
		 "ParnasSys getMedewerkers fault (HTTP 503, Server): Onderhoud"},
		{"server_fault_200", 0, CURLE_OK, NULL, false, 200,
		 PS_FAULT("Server", "Interne fout"), FETCH_PERMANENT,
		 "las_fault", "(HTTP 200, Server): Interne fout"},
		{"html_502", 0, CURLE_OK, NULL, false, 502,
		 "<html><h1>502 Error</h1></html>", FETCH_TRANSIENT, "las_http",
		 "ParnasSys getLeerlingen: HTTP 502"},
		{"empty_504", 2, CURLE_OK, NULL, false, 504, "", FETCH_TRANSIENT,
		 "las_http", "ParnasSys getVerzorgers: HTTP 504"},
		{"http_429", 0, CURLE_OK, NULL, false, 429, "", FETCH_TRANSIENT,
		 "las_http", "ParnasSys getLeerlingen: HTTP 429"},
		{"http_408", 0, CURLE_OK, NULL, false, 408, "", FETCH_TRANSIENT,
		 "las_http", "ParnasSys getLeerlingen: HTTP 408"},
		{"empty_200", 1, CURLE_OK, NULL, false, 200, "", FETCH_TRANSIENT,
		 "las_empty", "ParnasSys getMedewerkers: empty response"},

		/* Other 4xx: asking again gets the same answer. */
		{"http_404", 0, CURLE_OK, NULL, false, 404, "Not Found",
		 FETCH_PERMANENT, "las_http", "ParnasSys getLeerlingen: HTTP 404"},
		{"http_405", 0, CURLE_OK, NULL, false, 405, "", FETCH_PERMANENT,
		 "las_http", "HTTP 405"},
		{"http_301", 0, CURLE_OK, NULL, false, 301, "", FETCH_PERMANENT,
		 "las_http", "HTTP 301"},

		/* Transport: timeouts and connections pass, with their own
		 * class for a timeout; curl's message is the reason. */
		{"timeout", 0, CURLE_OPERATION_TIMEDOUT,
		 "Operation timed out after 1000 milliseconds with 0 bytes "
		 "received",
		 false, 0, "", FETCH_TRANSIENT, "las_timeout",
		 "ParnasSys getLeerlingen: Operation timed out after 1000 "
		 "milliseconds with 0 bytes received"},
		{"connect_refused", 1, CURLE_COULDNT_CONNECT,
		 "Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't "
		 "connect to server",
		 false, 0, "", FETCH_TRANSIENT, "las_http",
		 "ParnasSys getMedewerkers: Failed to connect to 127.0.0.1"},
		{"host_unknown", 0, CURLE_COULDNT_RESOLVE_HOST,
		 "Could not resolve host: parnassys.invalid", false, 0, "",
		 FETCH_TRANSIENT, "las_http", "Could not resolve host"},
		{"reset", 0, CURLE_RECV_ERROR,
		 "Recv failure: Connection reset by peer", false, 0, "",
		 FETCH_TRANSIENT, "las_http", "Connection reset by peer"},
		{"cut_off", 2, CURLE_PARTIAL_FILE,
		 "transfer closed with 2803 bytes remaining to read", false, 0,
		 "", FETCH_TRANSIENT, "las_http",
		 "ParnasSys getVerzorgers: transfer closed"},
		{"empty_reply", 0, CURLE_GOT_NOTHING, "Empty reply from server",
		 false, 0, "", FETCH_TRANSIENT, "las_http", "Empty reply"},

		/* Transport failures that will not pass. */
		{"too_large", 0, CURLE_WRITE_ERROR,
		 "response of getLeerlingen exceeds the limit of 4096 bytes",
		 true, 200, "", FETCH_PERMANENT, "las_too_large",
		 "ParnasSys getLeerlingen: response of getLeerlingen exceeds "
		 "the limit"},
		{"url_malformed", 0, CURLE_URL_MALFORMAT, "URL using bad/illegal "
		 "format or missing URL", false, 0, "", FETCH_PERMANENT,
		 "las_http", "bad/illegal format"},
		{"protocol", 0, CURLE_UNSUPPORTED_PROTOCOL,
		 "Protocol \"gopher\" not supported", false, 0, "",
		 FETCH_PERMANENT, "las_http", "not supported"},
		{"server_untrusted", 0, CURLE_PEER_FAILED_VERIFICATION,
		 "SSL certificate problem: self-signed certificate", false, 0,
		 "", FETCH_PERMANENT, "las_http", "self-signed certificate"},
	};

	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lasync_tenant t = tenant();
		lasync_http_result r = {
			.curl = cases[i].curl,
			.status = cases[i].status,
			.body = cases[i].body,
			.len = strlen(cases[i].body),
			.too_large = cases[i].too_large,
			.retry_after_s = -1,
			.error = cases[i].error ? cases[i].error : "",
		};
		char cls[48] = "", reason[512] = "";
		fetch_verdict got =
			fetcher_parnassys.judge(&t, cases[i].op, &r, cls,
						sizeof(cls), reason,
						sizeof(reason));

		if (got != cases[i].want ||
		    strcmp(cls, cases[i].want_cls) != 0 ||
		    strstr(reason, cases[i].want_reason) == NULL) {
			print_error("%s: got %d %s \"%s\", want %d %s "
				    "\"...%s...\"\n",
				    cases[i].name, got, cls, reason,
				    cases[i].want, cases[i].want_cls,
				    cases[i].want_reason);
			failed++;
		}
	}
	if (failed > 0)
		fail_msg("%d of %zu answers judged wrong", failed,
			 sizeof(cases) / sizeof(cases[0]));
}

/* fetcher_soap_fault reads only up to the Body's first element: a Fault
 * there is found whatever the document's size and whatever precedes it in
 * a Header; an element named Fault inside data, or outside a SOAP
 * envelope, is not a fault. */
static void test_fault_is_the_bodys_first_element(void **state)
{
	static const char head[] =
		"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas."
		"xmlsoap.org/soap/envelope/\">";
	fetcher_fault f;
	char *big;
	size_t n = 3u << 20, at;
	static const char fault_end[] =
		"</detail></s:Fault></s:Body></s:Envelope>";
	static const char data_end[] =
		"</d><Fault><faultstring>no</faultstring></Fault></r></s:Body>"
		"</s:Envelope>";

	(void)state;
	assert_true(fetcher_soap_fault(PS_FAULT("Client", "x"),
				       strlen(PS_FAULT("Client", "x")), &f));
	assert_string_equal(f.faultcode, "Client");
	assert_string_equal(f.faultstring, "x");

#define NOT_A_FAULT(doc) assert_false(fetcher_soap_fault(doc, strlen(doc), &f))
	/* Data that mentions Fault, as text or as an element of its own. */
	NOT_A_FAULT(OK_BODY);
	NOT_A_FAULT("<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"x\"><s:Body>"
		    "<getLeerlingenResponse><Fault><faultstring>no"
		    "</faultstring></Fault></getLeerlingenResponse></s:Body>"
		    "</s:Envelope>");
	NOT_A_FAULT("<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"x\"><s:Body>"
		    "<r/><s:Fault><faultstring>late</faultstring></s:Fault>"
		    "</s:Body></s:Envelope>");
	NOT_A_FAULT("<html><body><Fault>502 Bad Gateway</Fault></body></html>");
	NOT_A_FAULT("<s:Envelope xmlns:s=\"x\"><Other/><s:Body><s:Fault/>"
		    "</s:Body></s:Envelope>");
	NOT_A_FAULT("not xml at all, Fault");
#undef NOT_A_FAULT

	/* A Header first; whitespace and a comment before the Fault. */
	static const char hdr[] =
		"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"x\"><s:Header>"
		"<t:trace xmlns:t=\"y\"><t:Fault>header</t:Fault></t:trace>"
		"</s:Header><s:Body>\n <!-- c --> <s:Fault><faultcode>s:Server"
		"</faultcode><faultstring>Onderhoud</faultstring></s:Fault>"
		"</s:Body></s:Envelope>";
	assert_true(fetcher_soap_fault(hdr, strlen(hdr), &f));
	assert_string_equal(f.faultcode, "Server");
	assert_string_equal(f.faultstring, "Onderhoud");

	/* 3 MB: a Fault with a large detail is one; data with an element
	 * named Fault at its end is not. */
	big = malloc(n + 1);
	assert_non_null(big);
	at = (size_t)snprintf(big, n, "%s<s:Body><s:Fault><faultstring>big"
				      "</faultstring><detail>", head);
	memset(big + at, 'a', n - at);
	memcpy(big + n - sizeof(fault_end), fault_end, sizeof(fault_end));
	assert_true(fetcher_soap_fault(big, strlen(big), &f));
	assert_string_equal(f.faultstring, "big");
	at = (size_t)snprintf(big, n, "%s<s:Body><r><d>", head);
	memset(big + at, 'a', n - at);
	memcpy(big + n - sizeof(data_end), data_end, sizeof(data_end));
	assert_false(fetcher_soap_fault(big, strlen(big), &f));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vendor_registered),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_fault_is_the_bodys_first_element),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
