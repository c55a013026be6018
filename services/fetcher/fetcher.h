/*
 * fetcher.h - lasync-fetcher: turns a sync request into one snapshot of the
 * tenant's raw LAS documents, or into a failed sync result.
 *
 *   main.c              parameters and the daemon call
 *   fetcher_job.c       one request: tenant, fetch all documents, snapshot
 *   fetcher_soap.c      SOAP faults and school years
 *   fetcher_tls.c       client certificates: checked before connecting,
 *                       TLS failures turned into clear messages
 *   fetcher_<vendor>.c  one adapter per LAS: requests, fault meanings, TLS
 *
 * A fetch is all or nothing: either every document of the vendor arrived
 * and one snapshot is produced, or nothing is produced but a failed result.
 */
#ifndef FETCHER_H
#define FETCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lasync_daemon.h"
#include "lasync_http.h"
#include "lasync_tenant.h"

typedef struct fetcher fetcher;

/* How a vendor answers one call. */
typedef enum {
	FETCH_OK,
	FETCH_TRANSIENT,	/* retry later (5xx, timeout, connection) */
	FETCH_PERMANENT,	/* fault, refused key, 4xx: fail the sync */
} fetch_verdict;

typedef struct fetcher_call {
	const char *op;		/* document name, e.g. "getLeerlingen" */
	char *body;		/* SOAP request (caller frees) */
	char *soap_action;	/* SOAPAction header value (caller frees) */
} fetcher_call;

/* What fetcher_cert_check() found wrong with a client certificate. */
typedef enum {
	FETCHER_CERT_OK,
	FETCHER_CERT_MISSING,	    /* the certificate file is not there */
	FETCHER_CERT_UNREADABLE,    /* neither a PEM certificate nor PKCS#12 */
	FETCHER_CERT_PASSWORD,	    /* wrong password, or none for a locked file */
	FETCHER_CERT_KEY_MISSING,   /* the key file is not there, or PEM
				     * without a key */
	FETCHER_CERT_KEY_UNREADABLE, /* the key file holds no private key */
	FETCHER_CERT_KEY_MISMATCH,  /* the key is not the certificate's */
	FETCHER_CERT_NOT_YET_VALID,
	FETCHER_CERT_EXPIRED,
} fetcher_cert_problem;

/* A client certificate as fetcher_cert_check() saw it. */
typedef struct fetcher_cert {
	fetcher_cert_problem problem;
	int sys_errno;		  /* why a file could not be read (MISSING,
				   * KEY_MISSING), else 0 */
	bool p12;		  /* PKCS#12, else PEM */
	bool dated;		  /* the dates below are known */
	int64_t not_before;	  /* unix seconds */
	int64_t not_after;
	char not_before_date[11]; /* YYYY-MM-DD, UTC */
	char not_after_date[11];
	char detail[256];	  /* English, for the log: "client certificate
				   * expired on 2026-01-01" */
} fetcher_cert;

/* The TLS side of one fetch (fetcher_tls.c). */
typedef struct fetcher_tls {
	char *password;		/* resolved P12 / key password; wiped by
				 * fetcher_tls_clear() */
	bool checked;		/* cert holds a check of a client certificate */
	fetcher_cert cert;
} fetcher_tls;

typedef struct fetcher_vendor {
	int vendor;
	const char *name;
	size_t n_ops;
	const char *const *ops;
	/* build - the request for ops[i]; key is the resolved secret */
	void (*build)(const lasync_tenant *t, const char *key,
		      const char *sync_date, size_t i, fetcher_call *out);
	/* judge - classify a response; on failure fill class and reason
	 * (a message for the school where there is one, e.g. R18) */
	fetch_verdict (*judge)(const lasync_tenant *t, size_t i,
			       const lasync_http_result *r, char *cls,
			       size_t clen, char *reason, size_t rlen);
	/* tls - client certificate options from the tenant, checked before
	 * connecting (now: unix seconds); -1 with class and reason; NULL
	 * for a vendor without client certificates */
	int (*tls)(const lasync_tenant *t, int64_t now,
		   lasync_http_req_opts *o, fetcher_tls *tls, char *cls,
		   size_t clen, char *reason, size_t rlen);
} fetcher_vendor;

extern const fetcher_vendor fetcher_parnassys;
extern const fetcher_vendor fetcher_esis;

/* fetcher_esis_label - the ESIS koppeling label of a brand ("BasisOnline
 * Ouderportaal" or "BasisschoolApps"); klantcode gets "BO" or "BSA" when
 * not NULL.  An unknown brand counts as basisonline. */
const char *fetcher_esis_label(const char *brand, const char **klantcode);

/* fetcher_esis_refusal - the Dutch message for the school when ESIS
 * refuses the key (R18): which label to select in the ESIS Koppelportaal.
 * code is the autorisatiefout code ("KOPPELING_LABEL", ...; "" for a bare
 * HTTP 401/403), label the koppeling ESIS names ("" when none). */
void fetcher_esis_refusal(const char *brand, const char *code,
			  const char *label, char *out, size_t len);

/* fetcher_cert_check - load a client certificate (PEM or PKCS#12, told
 * apart by content) and its key (key_path NULL: the key is in the
 * certificate file), decrypting with password (NULL: none), and check that
 * the key belongs to the certificate and that now (unix seconds) lies
 * within its validity.  0 when usable; else -1 with c->problem and
 * c->detail.  The dates are filled whenever the certificate was read. */
int fetcher_cert_check(const char *cert_path, const char *key_path,
		       const char *password, int64_t now, fetcher_cert *c);

/* fetcher_tls_client - the client certificate options of a tenant for the
 * LAS named las ("ESIS"): file: references become paths in o, the password
 * reference is resolved into tls->password, and the certificate is checked
 * with fetcher_cert_check().  -1 with class ("las_cert", "las_config") and
 * a Dutch reason naming the problem and the reference. */
int fetcher_tls_client(const lasync_tenant *t, const char *las, int64_t now,
		       lasync_http_req_opts *o, fetcher_tls *tls, char *cls,
		       size_t clen, char *reason, size_t rlen);

/* fetcher_tls_clear - wipe the password and forget the check */
void fetcher_tls_clear(fetcher_tls *tls);

/* fetcher_tls_failure - judge a failed transfer (r->curl != CURLE_OK) that
 * is about TLS: the server refused the client certificate (its alert), the
 * server's certificate is not trusted, a certificate file curl could not
 * use.  FETCH_PERMANENT with class and a Dutch reason; FETCH_OK when the
 * failure is not about TLS (the caller judges it). */
fetch_verdict fetcher_tls_failure(const lasync_http_result *r, const char *las,
				  char *cls, size_t clen, char *reason,
				  size_t rlen);

/* fetcher_vendor_for - the adapter of a vendor, or NULL */
const fetcher_vendor *fetcher_vendor_for(int vendor);

/* A SOAP 1.1 Fault, as far as lasync reads it. */
typedef struct fetcher_fault {
	char faultcode[64];	/* local part: "Client", "Server", ... */
	char faultstring[256];
	char code[64];		/* UWLR autorisatiefout code, e.g. KOPPELING_LABEL */
	char label[128];	/* UWLR autorisatiefout koppeling */
} fetcher_fault;

/* fetcher_soap_fault - is body a SOAP Fault?  Fills f when it is. */
bool fetcher_soap_fault(const char *body, size_t len, fetcher_fault *f);

/* fetcher_fault_transient - a Server fault with a 5xx status may pass; a
 * Client fault (bad request, unknown school, refused key) will not */
bool fetcher_fault_transient(const fetcher_fault *f, long status);

/* fetcher_transfer_class - the error class of a failed transfer:
 * las_too_large, las_timeout or las_http (logs and metrics tell timeouts
 * apart, whatever the vendor) */
const char *fetcher_transfer_class(const lasync_http_result *r);

/* fetcher_schooljaar - the school year of a date: "2026 / 2027" with sep
 * " / " (ParnasSys) or "-" (ESIS); a new year starts 1 August */
void fetcher_schooljaar(const char *date, const char *sep, char *out,
			size_t len);

/* fetcher_xml_escape - text escaped for an XML element (caller frees) */
char *fetcher_xml_escape(const char *s);

/* The job side (fetcher_job.c). */
fetcher *fetcher_new(void);
void fetcher_free(fetcher *f);
const lasync_param *fetcher_params(fetcher *f);
int fetcher_init(lasync_daemon *d, void *ctx, char *err, size_t errlen);
void fetcher_start(void *ctx, lasync_job *job);
void fetcher_abandon(void *ctx, lasync_job *job);
void fetcher_dead(void *ctx, lasync_job *job, const char *cls,
		  const char *error);
void fetcher_release(void *ctx, lasync_job *job);
void fetcher_fini(lasync_daemon *d, void *ctx);

#endif /* FETCHER_H */
