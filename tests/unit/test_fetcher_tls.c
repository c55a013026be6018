/*
 * test_fetcher_tls.c - services/fetcher/fetcher_tls.c: client certificate
 * checks before connecting (PEM and PKCS#12, passwords, key match, dates),
 * the tenant references -> curl options, and TLS failures of a transfer
 * turned into clear messages.
 *
 * Certificates are made here with OpenSSL (EC P-256, a test CA, fixed
 * dates around NOW = 2026-11-29 12:00 UTC) in a private temporary
 * directory; nothing touches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "fetcher.h"
#include "lasync_mem.h"

#define DAY 86400LL
#define NOW 1795953600LL /* 2026-11-29T12:00:00Z */
#define PASS "geheim-123"

static char dir[64];

/* path - dir/name in a static buffer ring (enough for one table row) */
static const char *path(const char *name)
{
	static char ring[8][160];
	static unsigned n;
	char *p = ring[n++ % 8];

	snprintf(p, 160, "%s/%s", dir, name);
	return p;
}

/* make_cert - a certificate for key, signed by signer (NULL: self),
 * valid from NOW+from to NOW+to */
static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer,
		       const char *cn, long long from, long long to)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(NOW + from));
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(NOW + to));
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, signer ? signer : key, EVP_sha256()) > 0);
	return x;
}

static void write_pem(const char *name, X509 *cert, EVP_PKEY *key,
		      const char *key_pass)
{
	FILE *f = fopen(path(name), "wb");

	assert_non_null(f);
	if (cert)
		assert_true(PEM_write_X509(f, cert));
	if (key)
		assert_true(PEM_write_PrivateKey(
			f, key, key_pass ? EVP_aes_256_cbc() : NULL, NULL, 0,
			NULL, (void *)key_pass));
	fclose(f);
}

static void write_p12(const char *name, X509 *cert, EVP_PKEY *key,
		      const char *pass)
{
	PKCS12 *p12 = PKCS12_create(pass, "lasync", key, cert, NULL, 0, 0, 0,
				    0, 0);
	FILE *f = fopen(path(name), "wb");

	assert_non_null(p12);
	assert_non_null(f);
	assert_true(i2d_PKCS12_fp(f, p12));
	fclose(f);
	PKCS12_free(p12);
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "wb");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	EVP_PKEY *ca_key, *key, *other;
	X509 *ca, *valid, *expired, *future, *soon;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_fetcher_tls.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	ca_key = EVP_EC_gen("P-256");
	key = EVP_EC_gen("P-256");
	other = EVP_EC_gen("P-256");
	ca = make_cert(ca_key, NULL, NULL, "test CA", -DAY, 3650 * DAY);
	valid = make_cert(key, ca_key, ca, "client", -DAY, 400 * DAY);
	expired = make_cert(key, ca_key, ca, "client", -400 * DAY,
			    -(NOW - 1767225600LL)); /* to 2026-01-01 */
	future = make_cert(key, ca_key, ca, "client", 33 * DAY, 400 * DAY);
	soon = make_cert(key, ca_key, ca, "client", -DAY, 10 * DAY);

	write_pem("ca.pem", ca, NULL, NULL);
	write_pem("client.pem", valid, NULL, NULL);
	write_pem("client.key", NULL, key, NULL);
	write_pem("client.enc.key", NULL, key, PASS);
	write_pem("other.key", NULL, other, NULL);
	write_pem("combined.pem", valid, key, NULL);
	write_pem("expired.pem", expired, NULL, NULL);
	write_pem("future.pem", future, NULL, NULL);
	write_pem("soon.pem", soon, NULL, NULL);
	write_p12("client.p12", valid, key, PASS);
	write_p12("nopass.p12", valid, key, NULL);
	write_p12("expired.p12", expired, key, PASS);
	write_text("garbage.pem", "this is not a certificate\n");
	write_text("pass", PASS "\n");
	write_pem("keyonly.pem", NULL, key, NULL);

	X509_free(ca);
	X509_free(valid);
	X509_free(expired);
	X509_free(future);
	X509_free(soon);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_cert_check(void **state)
{
	static const struct {
		const char *name, *cert, *key, *pass;
		fetcher_cert_problem want;
		bool want_p12;
		const char *want_after, *want_detail;
	} cases[] = {
		{"pem_pair", "client.pem", "client.key", NULL, FETCHER_CERT_OK,
		 false, "2028-01-03", ""},
		{"pem_combined", "combined.pem", NULL, NULL, FETCHER_CERT_OK,
		 false, "2028-01-03", ""},
		{"pem_encrypted_key", "client.pem", "client.enc.key", PASS,
		 FETCHER_CERT_OK, false, "2028-01-03", ""},
		{"pem_encrypted_key_wrong_pass", "client.pem", "client.enc.key",
		 "nope", FETCHER_CERT_PASSWORD, false, "2028-01-03",
		 "wrong password for private key"},
		{"pem_encrypted_key_no_pass", "client.pem", "client.enc.key",
		 NULL, FETCHER_CERT_PASSWORD, false, "2028-01-03",
		 "needs a password and none is configured"},
		{"p12", "client.p12", NULL, PASS, FETCHER_CERT_OK, true,
		 "2028-01-03", ""},
		{"p12_key_ref_ignored", "client.p12", "other.key", PASS,
		 FETCHER_CERT_OK, true, "2028-01-03", ""},
		{"p12_without_password", "nopass.p12", NULL, NULL,
		 FETCHER_CERT_OK, true, "2028-01-03", ""},
		{"p12_wrong_password", "client.p12", NULL, "nope",
		 FETCHER_CERT_PASSWORD, true, "", "wrong password"},
		{"p12_no_password", "client.p12", NULL, NULL,
		 FETCHER_CERT_PASSWORD, true, "",
		 "needs a password and none is configured"},
		{"expired_pem", "expired.pem", "client.key", NULL,
		 FETCHER_CERT_EXPIRED, false, "2026-01-01",
		 "client certificate expired on 2026-01-01"},
		{"expired_p12", "expired.p12", NULL, PASS, FETCHER_CERT_EXPIRED,
		 true, "2026-01-01", "client certificate expired on 2026-01-01"},
		{"expired_and_wrong_key", "expired.pem", "other.key", NULL,
		 FETCHER_CERT_EXPIRED, false, "2026-01-01", "expired on"},
		{"not_yet_valid", "future.pem", "client.key", NULL,
		 FETCHER_CERT_NOT_YET_VALID, false, "2028-01-03",
		 "client certificate not valid before 2027-01-01"},
		{"expiring_is_valid", "soon.pem", "client.key", NULL,
		 FETCHER_CERT_OK, false, "2026-12-09", ""},
		{"key_mismatch", "client.pem", "other.key", NULL,
		 FETCHER_CERT_KEY_MISMATCH, false, "2028-01-03",
		 "does not belong to client certificate"},
		{"missing_cert", "absent.pem", "client.key", NULL,
		 FETCHER_CERT_MISSING, false, "", "No such file or directory"},
		{"missing_key", "client.pem", "absent.key", NULL,
		 FETCHER_CERT_KEY_MISSING, false, "2028-01-03",
		 "No such file or directory"},
		{"pem_without_key", "client.pem", NULL, NULL,
		 FETCHER_CERT_KEY_MISSING, false, "2028-01-03",
		 "no private key in"},
		{"garbage", "garbage.pem", NULL, NULL, FETCHER_CERT_UNREADABLE,
		 true, "", "neither PEM nor PKCS#12"},
		{"key_where_cert_belongs", "keyonly.pem", NULL, NULL,
		 FETCHER_CERT_UNREADABLE, false, "",
		 "holds no PEM certificate"},
		{"garbage_key", "client.pem", "garbage.pem", NULL,
		 FETCHER_CERT_KEY_MISSING, false, "2028-01-03",
		 "no private key in"},
		{"directory", ".", NULL, NULL, FETCHER_CERT_MISSING, false, "",
		 "Is a directory"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fetcher_cert c;
		const char *cp = path(cases[i].cert);
		const char *kp = cases[i].key ? path(cases[i].key) : NULL;
		int rc = fetcher_cert_check(cp, kp, cases[i].pass, NOW, &c);

		if (c.problem != cases[i].want ||
		    rc != (cases[i].want == FETCHER_CERT_OK ? 0 : -1) ||
		    (cases[i].want != FETCHER_CERT_MISSING &&
		     c.p12 != cases[i].want_p12) ||
		    strcmp(c.not_after_date, cases[i].want_after) != 0 ||
		    strstr(c.detail, cases[i].want_detail) == NULL) {
			print_error("%s: got rc=%d problem=%d p12=%d after=%s "
				    "detail=\"%s\"; want problem=%d p12=%d "
				    "after=%s detail \"...%s...\"\n",
				    cases[i].name, rc, c.problem, c.p12,
				    c.not_after_date, c.detail, cases[i].want,
				    cases[i].want_p12, cases[i].want_after,
				    cases[i].want_detail);
			fail();
		}
		if (c.dated && c.not_after - NOW !=
				       (strcmp(c.not_after_date, "2028-01-03")
						== 0
					? 400 * DAY
				: strcmp(c.not_after_date, "2026-12-09") == 0
					? 10 * DAY
					: 1767225600LL - NOW)) {
			print_error("%s: not_after %lld is off\n",
				    cases[i].name, (long long)c.not_after);
			fail();
		}
	}
}

/* Tenant references -> curl options, and the Dutch reasons. */
static void test_tls_client(void **state)
{
	char pass_ref[128], cert_p12[128], cert_pem[128], key_pem[128],
		ca[128], expired[128], absent[128], enc_key[128], other[128];

	(void)state;
	setenv("LASYNC_TEST_TLS_PASS", PASS, 1);
	snprintf(pass_ref, sizeof(pass_ref), "file:%s", path("pass"));
	snprintf(cert_p12, sizeof(cert_p12), "file:%s", path("client.p12"));
	snprintf(cert_pem, sizeof(cert_pem), "file:%s", path("client.pem"));
	snprintf(key_pem, sizeof(key_pem), "file:%s", path("client.key"));
	snprintf(enc_key, sizeof(enc_key), "file:%s", path("client.enc.key"));
	snprintf(other, sizeof(other), "file:%s", path("other.key"));
	snprintf(ca, sizeof(ca), "file:%s", path("ca.pem"));
	snprintf(expired, sizeof(expired), "file:%s", path("expired.pem"));
	snprintf(absent, sizeof(absent), "file:%s", path("absent.pem"));

	const struct {
		const char *name, *cert, *key, *pass, *ca;
		int want_rc;
		const char *want_type, *want_cls, *want_reason;
	} cases[] = {
		{"p12_file_password", cert_p12, NULL, pass_ref, ca, 0, "P12",
		 "", ""},
		{"p12_env_password", cert_p12, NULL,
		 "env:LASYNC_TEST_TLS_PASS", NULL, 0, "P12", "", ""},
		{"pem_pair", cert_pem, key_pem, NULL, ca, 0, "PEM", "", ""},
		{"pem_encrypted_key", cert_pem, enc_key,
		 "env:LASYNC_TEST_TLS_PASS", ca, 0, "PEM", "", ""},
		{"no_cert", NULL, NULL, NULL, NULL, -1, NULL, "las_cert",
		 "Voor ESIS is een clientcertificaat nodig, maar er is er geen "
		 "ingesteld (las.client_cert_ref)"},
		{"missing", absent, key_pem, NULL, ca, -1, NULL, "las_cert",
		 "Het ESIS-clientcertificaat ontbreekt: "},
		{"expired", expired, key_pem, NULL, ca, -1, NULL, "las_cert",
		 "Het ESIS-clientcertificaat is verlopen op 2026-01-01: "
		 "vervang "},
		{"key_mismatch", cert_pem, other, NULL, ca, -1, NULL,
		 "las_cert", "hoort niet bij het ESIS-clientcertificaat"},
		{"p12_no_password", cert_p12, NULL, NULL, ca, -1, NULL,
		 "las_cert",
		 "is met een wachtwoord beveiligd, maar er is geen wachtwoord "
		 "ingesteld (las.client_cert_password_ref)"},
		{"p12_wrong_password", cert_p12, NULL, "env:LASYNC_TEST_TLS_NOPE",
		 ca, -1, NULL, "las_config",
		 "Het wachtwoord van het ESIS-clientcertificaat is niet "
		 "beschikbaar: secret env:LASYNC_TEST_TLS_NOPE"},
		{"env_cert", "env:CERT", NULL, NULL, NULL, -1, NULL,
		 "las_config",
		 "las.client_cert_ref \"env:CERT\" is geen "
		 "bestandsverwijzing"},
		{"env_ca", cert_pem, key_pem, NULL, "env:CA", -1, NULL,
		 "las_config", "las.ca_ref \"env:CA\" is geen"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lasync_tenant t = {0};
		lasync_http_req_opts o = {0};
		fetcher_tls tls = {0};
		char cls[48] = "", reason[512] = "";
		int rc;

		t.tenant_id = (char *)"dewilg";
		t.las_client_cert_ref = (char *)cases[i].cert;
		t.las_client_key_ref = (char *)cases[i].key;
		t.las_client_cert_password_ref = (char *)cases[i].pass;
		t.las_ca_ref = (char *)cases[i].ca;
		rc = fetcher_tls_client(&t, "ESIS", NOW, &o, &tls, cls,
					sizeof(cls), reason, sizeof(reason));
		if (rc != cases[i].want_rc ||
		    strcmp(cls, cases[i].want_cls) != 0 ||
		    strstr(reason, cases[i].want_reason) == NULL) {
			print_error("%s: got %d %s \"%s\"; want %d %s "
				    "\"...%s...\"\n",
				    cases[i].name, rc, cls, reason,
				    cases[i].want_rc, cases[i].want_cls,
				    cases[i].want_reason);
			fail();
		}
		if (rc == 0) {
			assert_string_equal(o.client_cert_type,
					    cases[i].want_type);
			assert_string_equal(o.client_cert, cases[i].cert + 5);
			if (strcmp(cases[i].want_type, "P12") == 0)
				assert_null(o.client_key);
			else
				assert_string_equal(o.client_key,
						    cases[i].key + 5);
			if (cases[i].pass)
				assert_string_equal(o.key_password, PASS);
			else
				assert_null(o.key_password);
			if (cases[i].ca)
				assert_string_equal(o.ca_file,
						    cases[i].ca + 5);
			else
				assert_null(o.ca_file);
			assert_true(tls.checked && tls.cert.dated);
		}
		/* The reason never carries the password. */
		assert_null(strstr(reason, PASS));
		fetcher_tls_clear(&tls);
		assert_null(tls.password);
	}
}

/* Transfer failures: which are about TLS, and what they tell. */
static void test_tls_failure(void **state)
{
	static const struct {
		const char *name;
		CURLcode curl;
		const char *error;
		fetch_verdict want;
		const char *want_cls, *want_reason;
	} cases[] = {
		{"unknown_ca_tls13", CURLE_RECV_ERROR,
		 "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A000418:SSL "
		 "routines::tlsv1 alert unknown ca, errno 0",
		 FETCH_PERMANENT, "las_cert",
		 "ESIS weigert het clientcertificaat: het is niet uitgegeven "
		 "door een certificaatautoriteit die de server vertrouwt (TLS: "
		 "unknown ca)"},
		{"unknown_ca_tls12", CURLE_SSL_CONNECT_ERROR,
		 "error:0A000418:SSL routines::tlsv1 alert unknown ca",
		 FETCH_PERMANENT, "las_cert", "(TLS: unknown ca)"},
		{"expired", CURLE_RECV_ERROR,
		 "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A000415:SSL "
		 "routines::sslv3 alert certificate expired, errno 0",
		 FETCH_PERMANENT, "las_cert",
		 "ESIS weigert het clientcertificaat: het is verlopen (TLS: "
		 "certificate expired)"},
		{"required", CURLE_RECV_ERROR,
		 "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A00045C:SSL "
		 "routines::tlsv13 alert certificate required, errno 0",
		 FETCH_PERMANENT, "las_cert",
		 "ESIS weigert de verbinding zonder clientcertificaat (TLS: "
		 "certificate required)"},
		{"revoked", CURLE_SEND_ERROR,
		 "error:0A000414:SSL routines::sslv3 alert certificate revoked",
		 FETCH_PERMANENT, "las_cert",
		 "ESIS weigert het clientcertificaat: het is ingetrokken (TLS: "
		 "certificate revoked)"},
		{"bad_certificate", CURLE_SSL_CONNECT_ERROR,
		 "error:0A000412:SSL routines::sslv3 alert bad certificate",
		 FETCH_PERMANENT, "las_cert",
		 "ESIS weigert het clientcertificaat (TLS: bad certificate)"},
		{"server_untrusted", CURLE_PEER_FAILED_VERIFICATION,
		 "SSL certificate problem: unable to get local issuer "
		 "certificate",
		 FETCH_PERMANENT, "las_tls",
		 "Het servercertificaat van ESIS wordt niet vertrouwd (SSL "
		 "certificate problem: unable to get local issuer "
		 "certificate): controleer het adres en las.ca_ref"},
		{"ca_file", CURLE_SSL_CACERT_BADFILE,
		 "error setting certificate file: /x/ca.pem", FETCH_PERMANENT,
		 "las_tls", "Het CA-bestand voor ESIS (las.ca_ref)"},
		{"cert_problem", CURLE_SSL_CERTPROBLEM,
		 "could not load PEM client certificate", FETCH_PERMANENT,
		 "las_cert",
		 "Het ESIS-clientcertificaat kan niet worden gebruikt"},
		{"handshake_alert_other", CURLE_SSL_CONNECT_ERROR,
		 "error:0A000410:SSL routines::sslv3 alert handshake failure",
		 FETCH_OK, "", ""},
		{"reset", CURLE_RECV_ERROR,
		 "Recv failure: Connection reset by peer", FETCH_OK, "", ""},
		{"timeout", CURLE_OPERATION_TIMEDOUT, "timed out", FETCH_OK, "",
		 ""},
		{"refused", CURLE_COULDNT_CONNECT, "Failed to connect",
		 FETCH_OK, "", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lasync_http_result r = {.curl = cases[i].curl,
					.error = cases[i].error,
					.body = "",
					.retry_after_s = -1};
		char cls[48] = "", reason[512] = "";
		fetch_verdict got = fetcher_tls_failure(
			&r, "ESIS", cls, sizeof(cls), reason, sizeof(reason));

		if (got != cases[i].want ||
		    strcmp(cls, cases[i].want_cls) != 0 ||
		    strstr(reason, cases[i].want_reason) == NULL) {
			print_error("%s: got %d %s \"%s\"; want %d %s "
				    "\"...%s...\"\n",
				    cases[i].name, got, cls, reason,
				    cases[i].want, cases[i].want_cls,
				    cases[i].want_reason);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_check),
		cmocka_unit_test(test_tls_client),
		cmocka_unit_test(test_tls_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
