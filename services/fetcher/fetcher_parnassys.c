/*
 * fetcher_parnassys.c - the ParnasSys adapter: three SOAP 1.1 operations
 * (getLeerlingen, getMedewerkers, getVerzorgers) with the leverancier's
 * name and key, the school's BRIN and the school year of the sync date.
 *
 * ParnasSys answers a bad key with HTTP 401/403 and application errors with
 * a SOAP Fault; both fail the sync at once (retrying cannot help).  5xx
 * without a fault or with a Server fault, 429, 408, timeouts (class
 * las_timeout) and connection failures are transient; every other 4xx is
 * permanent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher.h"
#include "lasync/v1/common.pb-c.h"
#include "lasync_mem.h"
#include "lasync_secret.h"

static const char *const ps_ops[] = {"getLeerlingen", "getMedewerkers",
				     "getVerzorgers"};

static void ps_build(const lasync_tenant *t, const char *key,
		     const char *sync_date, size_t i, fetcher_call *out)
{
	char sj[32];
	char *naam = fetcher_xml_escape(t->leveranciernaam ? t->leveranciernaam
							   : "BasisOnline");
	char *k = fetcher_xml_escape(key);
	char *brin = fetcher_xml_escape(t->brin);

	fetcher_schooljaar(sync_date, " / ", sj, sizeof(sj));
	out->op = ps_ops[i];
	out->body = lasync_xasprintf(
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<soap:Envelope "
		"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">"
		"<soap:Body><%s xmlns=\"http://www.topicus.nl/parnassys\">"
		"<leveranciernaam xmlns=\"\">%s</leveranciernaam>"
		"<leveranciersleutel xmlns=\"\">%s</leveranciersleutel>"
		"<brinnummer xmlns=\"\">%s</brinnummer>"
		"<schooljaar xmlns=\"\">%s</schooljaar>"
		"</%s></soap:Body></soap:Envelope>\n",
		ps_ops[i], naam, k, brin, sj, ps_ops[i]);
	out->soap_action = lasync_xasprintf("SOAPAction: \"%s\"", ps_ops[i]);
	free(naam);
	lasync_secret_free(k);
	free(brin);
}

static fetch_verdict ps_judge(const lasync_tenant *t, size_t i,
			      const lasync_http_result *r, char *cls,
			      size_t clen, char *reason, size_t rlen)
{
	fetcher_fault f;

	(void)t;
	if (r->curl != CURLE_OK) {
		snprintf(cls, clen, "%s", fetcher_transfer_class(r));
		snprintf(reason, rlen, "ParnasSys %s: %s", ps_ops[i], r->error);
		return lasync_http_transient(r) ? FETCH_TRANSIENT
						: FETCH_PERMANENT;
	}
	if (r->status == 401 || r->status == 403) {
		snprintf(cls, clen, "las_auth");
		snprintf(reason, rlen,
			 "ParnasSys weigert de leveranciersleutel (HTTP %ld bij "
			 "%s): controleer de koppeling in ParnasSys",
			 r->status, ps_ops[i]);
		return FETCH_PERMANENT;
	}
	if (fetcher_soap_fault(r->body, r->len, &f)) {
		bool transient = fetcher_fault_transient(&f, r->status);

		snprintf(cls, clen, transient ? "las_server" : "las_fault");
		snprintf(reason, rlen, "ParnasSys %s fault (HTTP %ld, %s): %s",
			 ps_ops[i], r->status,
			 f.faultcode[0] ? f.faultcode : "no faultcode",
			 f.faultstring[0] ? f.faultstring : "(no faultstring)");
		return transient ? FETCH_TRANSIENT : FETCH_PERMANENT;
	}
	if (r->status != 200) {
		snprintf(cls, clen, "las_http");
		snprintf(reason, rlen, "ParnasSys %s: HTTP %ld", ps_ops[i],
			 r->status);
		/* 5xx, 429 and 408 pass, as lasync_http_transient() says */
		return lasync_http_transient(r) ? FETCH_TRANSIENT
						: FETCH_PERMANENT;
	}
	if (r->len == 0) {
		snprintf(cls, clen, "las_empty");
		snprintf(reason, rlen, "ParnasSys %s: empty response",
			 ps_ops[i]);
		return FETCH_TRANSIENT;
	}
	return FETCH_OK;
}

const fetcher_vendor fetcher_parnassys = {
	.vendor = LASYNC__V1__VENDOR__VENDOR_PARNASSYS,
	.name = "parnassys",
	.n_ops = 3,
	.ops = ps_ops,
	.build = ps_build,
	.judge = ps_judge,
	.tls = NULL,
};
