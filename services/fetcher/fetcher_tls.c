/*
 * fetcher_tls.c - client certificates for a LAS that wants mutual TLS
 * (ESIS), checked before any connection is made.
 *
 *   fetcher_tls_client()   tenant references -> curl options, checked
 *   fetcher_cert_check()   load a PEM or PKCS#12 certificate and its key:
 *                          readable, password right, key matches, in date
 *   fetcher_tls_failure()  a TLS failure of a transfer -> a clear message
 *
 * The tenant names its certificate, key and CA as file: references (curl
 * reads them by path); the password reference (env: or file:) is resolved
 * here and wiped by fetcher_tls_clear().  Everything a school or an
 * operator can fix is reported with a Dutch reason naming the problem and
 * the reference (never a password), and an English detail for the log.
 * Reading the certificate here costs a millisecond per fetch and buys a
 * message that says "verlopen op 2026-01-01" instead of a TLS alert, plus
 * the expiry date for the warning and the gauge (fetcher_job.c).
 *
 * Failures are permanent: a retry cannot mend a certificate.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "fetcher.h"
#include "lasync_clock.h"
#include "lasync_mem.h"
#include "lasync_secret.h"

#define CERT_FILE_MAX (1024 * 1024)

/* read_file - a whole file (at most CERT_FILE_MAX bytes) into *buf, which
 * the caller frees; -1 with errno set (EFBIG when too large) */
static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	size_t n;

	*buf = NULL;
	*len = 0;
	if (f == NULL)
		return -1;
	b = lasync_xmalloc(CERT_FILE_MAX + 1);
	n = fread(b, 1, CERT_FILE_MAX + 1, f);
	if (ferror(f) || n > CERT_FILE_MAX) {
		int e = ferror(f) ? errno : EFBIG;

		fclose(f);
		OPENSSL_cleanse(b, CERT_FILE_MAX + 1);
		free(b);
		errno = e;
		return -1;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

/* free_file - wipe and free what read_file() returned (keys live there) */
static void free_file(unsigned char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

/* has - does data[0..len) contain the text needle? */
static bool has(const unsigned char *data, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (data[i] == (unsigned char)needle[0] &&
		    memcmp(data + i, needle, n) == 0)
			return true;
	return false;
}

/* pass_cb - hand OpenSSL the password, or refuse: without this callback
 * OpenSSL would ask for one on the terminal */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t n;

	(void)rwflag;
	if (pw == NULL || size <= 0)
		return 0;
	n = strlen(pw);
	if (n > (size_t)size)
		return 0;
	memcpy(buf, pw, n);
	return (int)n;
}

/* asn1_unix - an ASN1_TIME as unix seconds; -1 when unreadable */
static int asn1_unix(const ASN1_TIME *t, int64_t *out, char date[11])
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	long day = lasync_days_from_civil(tm.tm_year + 1900,
					  (unsigned)tm.tm_mon + 1,
					  (unsigned)tm.tm_mday);

	*out = (int64_t)day * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 +
	       tm.tm_sec;
	lasync_date_format(day, date);
	return 0;
}

/* problem - record what is wrong; returns -1 for the caller to pass on */
static int problem(fetcher_cert *c, fetcher_cert_problem p, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static int problem(fetcher_cert *c, fetcher_cert_problem p, const char *fmt,
		   ...)
{
	va_list ap;

	c->problem = p;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* openssl_why - the last OpenSSL error as text (for the log), queue cleared */
static const char *openssl_why(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		lasync_strlcpy(buf, "no detail", len);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* load_p12 - certificate and key from PKCS#12 data */
static int load_p12(const unsigned char *data, size_t len, const char *path,
		    const char *password, X509 **cert, EVP_PKEY **key,
		    fetcher_cert *c)
{
	const unsigned char *p = data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
	STACK_OF(X509) *chain = NULL;
	char why[160];
	int rc = -1;

	c->p12 = true;
	if (p12 == NULL) {
		ERR_clear_error();
		return problem(c, FETCHER_CERT_UNREADABLE,
			       "client certificate %s is neither PEM nor "
			       "PKCS#12",
			       path);
	}
	/* An empty password has two encodings; try both before calling the
	 * password wrong. */
	if (PKCS12_mac_present(p12) &&
	    !PKCS12_verify_mac(p12, password, -1) &&
	    !(password == NULL && PKCS12_verify_mac(p12, "", 0))) {
		ERR_clear_error();
		problem(c, FETCHER_CERT_PASSWORD,
			password ? "wrong password for client certificate %s"
				 : "client certificate %s needs a password "
				   "and none is configured",
			path);
		goto out_free_p12;
	}
	if (!PKCS12_parse(p12, password ? password : "", key, cert, &chain) &&
	    !(password == NULL && PKCS12_parse(p12, NULL, key, cert, &chain))) {
		problem(c, FETCHER_CERT_UNREADABLE,
			"client certificate %s: PKCS#12 cannot be decrypted "
			"(%s)",
			path, openssl_why(why, sizeof(why)));
		goto out_free_p12;
	}
	if (*cert == NULL) {
		problem(c, FETCHER_CERT_UNREADABLE,
			"client certificate %s: PKCS#12 holds no certificate",
			path);
		goto out_free_p12;
	}
	if (*key == NULL) {
		problem(c, FETCHER_CERT_KEY_MISSING,
			"client certificate %s: PKCS#12 holds no private key",
			path);
		goto out_free_p12;
	}
	rc = 0;
out_free_p12:
	sk_X509_pop_free(chain, X509_free);
	PKCS12_free(p12);
	ERR_clear_error();
	return rc;
}

/* load_pem_key - the private key of PEM data */
static int load_pem_key(const unsigned char *data, size_t len,
			const char *path, const char *password, EVP_PKEY **key,
			fetcher_cert *c)
{
	BIO *b;
	bool encrypted = has(data, len, "ENCRYPTED");

	if (!has(data, len, "PRIVATE KEY"))
		return problem(c, FETCHER_CERT_KEY_MISSING,
			       "no private key in %s", path);
	b = BIO_new_mem_buf(data, (int)len);
	if (b == NULL)
		lasync_panic_oom();
	*key = PEM_read_bio_PrivateKey(b, NULL, pass_cb, (void *)password);
	BIO_free(b);
	ERR_clear_error();
	if (*key != NULL)
		return 0;
	if (encrypted)
		return problem(c, FETCHER_CERT_PASSWORD,
			       password ? "wrong password for private key %s"
					: "private key %s needs a password and "
					  "none is configured",
			       path);
	return problem(c, FETCHER_CERT_KEY_UNREADABLE,
		       "private key %s cannot be read", path);
}

int fetcher_cert_check(const char *cert_path, const char *key_path,
		       const char *password, int64_t now, fetcher_cert *c)
{
	unsigned char *data = NULL, *kdata = NULL;
	size_t len = 0, klen = 0;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (read_file(cert_path, &data, &len) != 0) {
		c->sys_errno = errno;
		return problem(c, FETCHER_CERT_MISSING,
			       "client certificate %s: %s", cert_path,
			       strerror(c->sys_errno));
	}
	if (!has(data, len, "-----BEGIN")) {
		if (load_p12(data, len, cert_path, password, &cert, &key, c) !=
		    0)
			goto out_free;
	} else {
		BIO *b = BIO_new_mem_buf(data, (int)len);

		if (b == NULL)
			lasync_panic_oom();
		cert = PEM_read_bio_X509(b, NULL, pass_cb, NULL);
		BIO_free(b);
		ERR_clear_error();
		if (cert == NULL) {
			problem(c, FETCHER_CERT_UNREADABLE,
				"client certificate %s holds no PEM "
				"certificate",
				cert_path);
			goto out_free;
		}
	}
	if (asn1_unix(X509_get0_notBefore(cert), &c->not_before,
		      c->not_before_date) != 0 ||
	    asn1_unix(X509_get0_notAfter(cert), &c->not_after,
		      c->not_after_date) != 0) {
		problem(c, FETCHER_CERT_UNREADABLE,
			"client certificate %s has unreadable dates",
			cert_path);
		goto out_free;
	}
	c->dated = true;
	/* Dates first: an expired certificate needs replacing whatever else
	 * is wrong with it, so that is the one thing to say. */
	if (now > c->not_after) {
		problem(c, FETCHER_CERT_EXPIRED,
			"client certificate expired on %s", c->not_after_date);
		goto out_free;
	}
	if (now < c->not_before) {
		problem(c, FETCHER_CERT_NOT_YET_VALID,
			"client certificate not valid before %s",
			c->not_before_date);
		goto out_free;
	}
	if (!c->p12) {
		if (key_path == NULL) {
			if (load_pem_key(data, len, cert_path, password, &key,
					 c) != 0)
				goto out_free;
		} else if (read_file(key_path, &kdata, &klen) != 0) {
			c->sys_errno = errno;
			problem(c, FETCHER_CERT_KEY_MISSING,
				"private key %s: %s", key_path,
				strerror(c->sys_errno));
			goto out_free;
		} else if (load_pem_key(kdata, klen, key_path, password, &key,
					c) != 0) {
			goto out_free;
		}
	}
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		problem(c, FETCHER_CERT_KEY_MISMATCH,
			"private key %s does not belong to client "
			"certificate %s",
			key_path && !c->p12 ? key_path : cert_path, cert_path);
		goto out_free;
	}
	rc = 0;
out_free:
	EVP_PKEY_free(key);
	X509_free(cert);
	free_file(kdata, klen);
	free_file(data, len);
	return rc;
}

void fetcher_tls_clear(fetcher_tls *tls)
{
	lasync_secret_free(tls->password);
	memset(tls, 0, sizeof(*tls));
}

/* file_ref - the path of a file: reference; NULL with a reason otherwise */
static const char *file_ref(const char *ref, const char *field, char *cls,
			    size_t clen, char *reason, size_t rlen)
{
	const char *path = lasync_secret_path(ref);

	if (path == NULL) {
		snprintf(cls, clen, "las_config");
		snprintf(reason, rlen,
			 "las.%s \"%s\" is geen bestandsverwijzing: "
			 "certificaten en sleutels worden uit een bestand "
			 "gelezen (file:/pad)",
			 field, ref);
	}
	return path;
}

/* why_file - why a file could not be read, in Dutch */
static const char *why_file(int e)
{
	return e == ENOENT ? "bestand niet gevonden"
	       : e == EACCES ? "geen leesrechten"
	       : e == EFBIG ? "bestand te groot"
	       : e == EISDIR ? "geen bestand maar een map"
			     : "bestand niet leesbaar";
}

/* cert_reason - the Dutch reason for a certificate problem */
static void cert_reason(const lasync_tenant *t, const char *las,
			const fetcher_cert *c, char *reason, size_t rlen)
{
	const char *cert = t->las_client_cert_ref;
	const char *key = t->las_client_key_ref ? t->las_client_key_ref : cert;

	switch (c->problem) {
	case FETCHER_CERT_MISSING:
		snprintf(reason, rlen,
			 "Het %s-clientcertificaat ontbreekt: %s (%s)", las,
			 cert, why_file(c->sys_errno));
		break;
	case FETCHER_CERT_UNREADABLE:
		snprintf(reason, rlen,
			 "Het %s-clientcertificaat %s is onbruikbaar: geen "
			 "leesbaar PEM-certificaat of PKCS#12-bestand",
			 las, cert);
		break;
	case FETCHER_CERT_PASSWORD:
		if (t->las_client_cert_password_ref == NULL)
			snprintf(reason, rlen,
				 "Het %s-clientcertificaat %s is met een "
				 "wachtwoord beveiligd, maar er is geen "
				 "wachtwoord ingesteld "
				 "(las.client_cert_password_ref)",
				 las, c->p12 ? cert : key);
		else
			snprintf(reason, rlen,
				 "Het wachtwoord %s past niet bij het "
				 "%s-clientcertificaat %s",
				 t->las_client_cert_password_ref, las,
				 c->p12 ? cert : key);
		break;
	case FETCHER_CERT_KEY_MISSING:
		if (c->sys_errno != 0)
			snprintf(reason, rlen,
				 "De sleutel van het %s-clientcertificaat "
				 "ontbreekt: %s (%s)",
				 las, key, why_file(c->sys_errno));
		else
			snprintf(reason, rlen,
				 "De sleutel van het %s-clientcertificaat "
				 "ontbreekt: %s bevat geen sleutel",
				 las, key);
		break;
	case FETCHER_CERT_KEY_UNREADABLE:
		snprintf(reason, rlen,
			 "De sleutel %s van het %s-clientcertificaat is "
			 "onleesbaar",
			 key, las);
		break;
	case FETCHER_CERT_KEY_MISMATCH:
		snprintf(reason, rlen,
			 "De sleutel %s hoort niet bij het "
			 "%s-clientcertificaat %s",
			 key, las, cert);
		break;
	case FETCHER_CERT_NOT_YET_VALID:
		snprintf(reason, rlen,
			 "Het %s-clientcertificaat is pas geldig vanaf %s",
			 las, c->not_before_date);
		break;
	case FETCHER_CERT_EXPIRED:
		snprintf(reason, rlen,
			 "Het %s-clientcertificaat is verlopen op %s: "
			 "vervang %s door een geldig certificaat",
			 las, c->not_after_date, cert);
		break;
	case FETCHER_CERT_OK:
		reason[0] = '\0';
		break;
	}
}

int fetcher_tls_client(const lasync_tenant *t, const char *las, int64_t now,
		       lasync_http_req_opts *o, fetcher_tls *tls, char *cls,
		       size_t clen, char *reason, size_t rlen)
{
	const char *cert, *key = NULL, *ca = NULL;
	char err[256];

	fetcher_tls_clear(tls);
	if (t->las_client_cert_ref == NULL) {
		snprintf(cls, clen, "las_cert");
		snprintf(reason, rlen,
			 "Voor %s is een clientcertificaat nodig, maar er is "
			 "er geen ingesteld (las.client_cert_ref)",
			 las);
		return -1;
	}
	cert = file_ref(t->las_client_cert_ref, "client_cert_ref", cls, clen,
			reason, rlen);
	if (cert == NULL)
		return -1;
	if (t->las_client_key_ref != NULL &&
	    (key = file_ref(t->las_client_key_ref, "client_key_ref", cls, clen,
			    reason, rlen)) == NULL)
		return -1;
	if (t->las_ca_ref != NULL &&
	    (ca = file_ref(t->las_ca_ref, "ca_ref", cls, clen, reason,
			   rlen)) == NULL)
		return -1;
	if (t->las_client_cert_password_ref != NULL) {
		tls->password = lasync_secret_resolve(
			t->las_client_cert_password_ref, err, sizeof(err));
		if (tls->password == NULL) {
			snprintf(cls, clen, "las_config");
			snprintf(reason, rlen,
				 "Het wachtwoord van het %s-clientcertificaat "
				 "is niet beschikbaar: %s",
				 las, err);
			return -1;
		}
	}
	tls->checked = true;
	if (fetcher_cert_check(cert, key, tls->password, now, &tls->cert) !=
	    0) {
		snprintf(cls, clen, "las_cert");
		cert_reason(t, las, &tls->cert, reason, rlen);
		return -1;
	}
	o->client_cert = cert;
	o->client_cert_type = tls->cert.p12 ? "P12" : "PEM";
	o->client_key = tls->cert.p12 ? NULL : key;
	o->key_password = tls->password;
	o->ca_file = ca;
	return 0;
}

/* The TLS alerts by which a server refuses a client certificate, and what
 * each means for the school ("<LAS> weigert <what> (TLS: <alert>)"). */
static const struct {
	const char *alert, *what;
} refusals[] = {
	{"unknown ca", "het clientcertificaat: het is niet uitgegeven door "
		       "een certificaatautoriteit die de server vertrouwt"},
	{"certificate expired", "het clientcertificaat: het is verlopen"},
	{"certificate revoked", "het clientcertificaat: het is ingetrokken"},
	{"certificate required", "de verbinding zonder clientcertificaat"},
	{"bad certificate", "het clientcertificaat"},
	{"certificate unknown", "het clientcertificaat"},
	{"unsupported certificate", "het clientcertificaat"},
	{"access denied", "het clientcertificaat"},
};

/* alert - the TLS alert named in curl's message ("unknown ca"), or NULL */
static const char *alert(const char *error, char *buf, size_t len)
{
	const char *a = error ? strstr(error, " alert ") : NULL;
	size_t n = 0;

	if (a == NULL)
		return NULL;
	a += strlen(" alert ");
	while (a[n] != '\0' && a[n] != ',' && a[n] != '\n' && n + 1 < len)
		n++;
	memcpy(buf, a, n);
	buf[n] = '\0';
	return buf;
}

fetch_verdict fetcher_tls_failure(const lasync_http_result *r, const char *las,
				  char *cls, size_t clen, char *reason,
				  size_t rlen)
{
	char a[64];
	const char *name;

	switch (r->curl) {
	case CURLE_SSL_CERTPROBLEM:
		snprintf(cls, clen, "las_cert");
		snprintf(reason, rlen,
			 "Het %s-clientcertificaat kan niet worden gebruikt "
			 "(%s)",
			 las, r->error);
		return FETCH_PERMANENT;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(cls, clen, "las_tls");
		snprintf(reason, rlen,
			 "Het CA-bestand voor %s (las.ca_ref) is onbruikbaar "
			 "(%s)",
			 las, r->error);
		return FETCH_PERMANENT;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(cls, clen, "las_tls");
		snprintf(reason, rlen,
			 "Het servercertificaat van %s wordt niet vertrouwd "
			 "(%s): controleer het adres en las.ca_ref",
			 las, r->error);
		return FETCH_PERMANENT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		break;
	default:
		return FETCH_OK;
	}
	/* The server's verdict on our certificate arrives as an alert: in
	 * the handshake (TLS 1.2) or on the first read (TLS 1.3). */
	if ((name = alert(r->error, a, sizeof(a))) == NULL)
		return FETCH_OK;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strcmp(name, refusals[i].alert) == 0) {
			snprintf(cls, clen, "las_cert");
			snprintf(reason, rlen, "%s weigert %s (TLS: %s)", las,
				 refusals[i].what, name);
			return FETCH_PERMANENT;
		}
	return FETCH_OK; /* another alert: not about our certificate */
}
