/*
 * fetcher.h - lasync-fetcher: turns a sync request into one snapshot of the
 * tenant's raw LAS documents, or into a failed sync result.
 *
 *   main.c              parameters and the daemon call
 *   fetcher_job.c       one request: tenant, fetch all documents, snapshot
 *   fetcher_soap.c      SOAP faults and school years
 *   fetcher_<vendor>.c  one adapter per LAS: requests, fault meanings, TLS
 *
 * A fetch is all or nothing: either every document of the vendor arrived
 * and one snapshot is produced, or nothing is produced but a failed result.
 */
#ifndef FETCHER_H
#define FETCHER_H

#include <stdbool.h>
#include <stddef.h>

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
	/* tls - client certificate options from the tenant; -1 with reason */
	int (*tls)(const lasync_tenant *t, lasync_http_req_opts *o,
		   char **password, char *reason, size_t rlen);
} fetcher_vendor;

extern const fetcher_vendor fetcher_parnassys;

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
