/*
 * fetcher_esis.c - the ESIS adapter: UWLR 2.2 HaalLeerlinggegevens plus
 * HaalVerzorgergegevens, SOAP 1.1 over HTTPS with the tenant's client
 * certificate (las-formats/README.md, DESIGN §4).
 *
 *   fetcher_esis            the adapter (build, judge, tls)
 *   fetcher_esis_label()    brand -> koppeling label and klantcode
 *   fetcher_esis_refusal()  the Dutch message when ESIS refuses the key
 *
 * Each request carries au:autorisatie{autorisatiesleutel, klantcode,
 * klantnaam} in the SOAP header, where the tenant's brand fixes klantcode
 * and klantnaam, and a body {schooljaar "2026-2027", brincode,
 * dependancecode, xsdversie 2.2}: the same body in the leerlinggegevens
 * and in the verzorgers namespace.  The requests are byte for byte the
 * shape of las-formats/examples/esis-*.request.xml.
 *
 * Judgement: transport failures and 5xx Server faults are transient.  An
 * au:autorisatiefout is permanent whatever its status: KOPPELING_LABEL
 * (the key belongs to another koppeling label, R18) becomes las_label,
 * every other code and a bare 401/403 las_auth; both tell the school in
 * Dutch which label to select in the ESIS Koppelportaal.  The client
 * certificate is checked before connecting (fetcher_tls.c) and the
 * server's refusal of it is named (fetcher_tls_failure()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher.h"
#include "lasync/v1/common.pb-c.h"
#include "lasync_mem.h"
#include "lasync_secret.h"

static const char *const es_ops[] = {"HaalLeerlinggegevens",
				     "HaalVerzorgergegevens"};

/* Per operation: body namespace prefix and URI, request element. */
static const struct {
	const char *prefix, *ns, *element;
} es_body[] = {
	{"le", "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens",
	 "leerlinggegevens_verzoek"},
	{"vz", "urn:esis:verzorgers:model:1", "verzorgergegevens_verzoek"},
};

#define LABEL_BO "BasisOnline Ouderportaal"
#define LABEL_BSA "BasisschoolApps"

const char *fetcher_esis_label(const char *brand, const char **klantcode)
{
	bool bsa = brand != NULL && strcmp(brand, "basisschoolapps") == 0;

	if (klantcode != NULL)
		*klantcode = bsa ? "BSA" : "BO";
	return bsa ? LABEL_BSA : LABEL_BO;
}

/* select_label - "het label 'X'" plus, for BasisOnline, the label schools
 * mistake it for */
static void select_label(const char *brand, char *out, size_t len)
{
	const char *want = fetcher_esis_label(brand, NULL);

	if (strcmp(want, LABEL_BO) == 0)
		snprintf(out, len, "het label '%s' (niet 'ParentCom')", want);
	else
		snprintf(out, len, "het label '%s'", want);
}

/* printable - s without control characters, at most len - 1 bytes: the
 * label and fault text come from the LAS */
static void printable(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 1 < len; s++)
		out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
	out[n] = '\0';
}

void fetcher_esis_refusal(const char *brand, const char *code,
			  const char *label, char *out, size_t len)
{
	char sel[128], lab[128], c[64];

	select_label(brand, sel, sizeof(sel));
	printable(label, lab, sizeof(lab));
	printable(code, c, sizeof(c));
	if (strcmp(c, "KOPPELING_LABEL") == 0 && lab[0] != '\0')
		snprintf(out, len,
			 "ESIS weigert de koppeling: de sleutel hoort bij het "
			 "label '%s'. Selecteer in het ESIS Koppelportaal %s.",
			 lab, sel);
	else if (strcmp(c, "KOPPELING_LABEL") == 0)
		snprintf(out, len,
			 "ESIS weigert de koppeling: de sleutel hoort bij een "
			 "ander label. Selecteer in het ESIS Koppelportaal %s.",
			 sel);
	else if (c[0] != '\0')
		snprintf(out, len,
			 "ESIS weigert de koppeling (%s). Controleer in het "
			 "ESIS Koppelportaal dat de koppeling actief is onder "
			 "%s en dat de autorisatiesleutel klopt.",
			 c, sel);
	else
		snprintf(out, len,
			 "ESIS weigert de autorisatie. Controleer in het ESIS "
			 "Koppelportaal dat de koppeling actief is onder %s en "
			 "dat de autorisatiesleutel klopt.",
			 sel);
}

static void es_build(const lasync_tenant *t, const char *key,
		     const char *sync_date, size_t i, fetcher_call *out)
{
	char sj[32];
	const char *code, *naam = fetcher_esis_label(t->brand, &code);
	char *k = fetcher_xml_escape(key);
	char *brin = fetcher_xml_escape(t->brin);
	char *dep = fetcher_xml_escape(t->dependance);
	const char *p = es_body[i].prefix;

	fetcher_schooljaar(sync_date, "-", sj, sizeof(sj));
	out->op = es_ops[i];
	out->body = lasync_xasprintf(
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<SOAP-ENV:Envelope "
		"xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"\n"
		"    xmlns:au=\"http://www.edustandaard.nl/leerresultaten/2/"
		"autorisatie\"\n"
		"    xmlns:%s=\"%s\">\n"
		"  <SOAP-ENV:Header>\n"
		"    <au:autorisatie>\n"
		"      <au:autorisatiesleutel>%s</au:autorisatiesleutel>\n"
		"      <au:klantcode>%s</au:klantcode>\n"
		"      <au:klantnaam>%s</au:klantnaam>\n"
		"    </au:autorisatie>\n"
		"  </SOAP-ENV:Header>\n"
		"  <SOAP-ENV:Body>\n"
		"    <%s:%s>\n"
		"      <%s:schooljaar>%s</%s:schooljaar>\n"
		"      <%s:brincode>%s</%s:brincode>\n"
		"      <%s:dependancecode>%s</%s:dependancecode>\n"
		"      <%s:xsdversie>2.2</%s:xsdversie>\n"
		"    </%s:%s>\n"
		"  </SOAP-ENV:Body>\n"
		"</SOAP-ENV:Envelope>\n",
		p, es_body[i].ns, k, code, naam, p, es_body[i].element, p, sj,
		p, p, brin, p, p, dep, p, p, p, p, es_body[i].element);
	out->soap_action = lasync_xasprintf("SOAPAction: %s", es_ops[i]);
	lasync_secret_free(k);
	free(brin);
	free(dep);
}

static fetch_verdict es_judge(const lasync_tenant *t, size_t i,
			      const lasync_http_result *r, char *cls,
			      size_t clen, char *reason, size_t rlen)
{
	fetcher_fault f;
	fetch_verdict v;

	if (r->curl != CURLE_OK) {
		v = fetcher_tls_failure(r, "ESIS", cls, clen, reason, rlen);
		if (v != FETCH_OK)
			return v;
		snprintf(cls, clen, "%s", fetcher_transfer_class(r));
		snprintf(reason, rlen, "ESIS %s: %s", es_ops[i], r->error);
		return lasync_http_transient(r) ? FETCH_TRANSIENT
						: FETCH_PERMANENT;
	}
	if (fetcher_soap_fault(r->body, r->len, &f)) {
		if (f.code[0] != '\0') {
			/* au:autorisatiefout: retrying cannot help (R18). */
			snprintf(cls, clen,
				 strcmp(f.code, "KOPPELING_LABEL") == 0
					 ? "las_label"
					 : "las_auth");
			fetcher_esis_refusal(t->brand, f.code, f.label, reason,
					     rlen);
			return FETCH_PERMANENT;
		}
		bool transient = fetcher_fault_transient(&f, r->status);

		snprintf(cls, clen, transient ? "las_server" : "las_fault");
		snprintf(reason, rlen, "ESIS %s fault (HTTP %ld, %s): %s",
			 es_ops[i], r->status,
			 f.faultcode[0] ? f.faultcode : "no faultcode",
			 f.faultstring[0] ? f.faultstring : "(no faultstring)");
		return transient ? FETCH_TRANSIENT : FETCH_PERMANENT;
	}
	if (r->status == 401 || r->status == 403) {
		snprintf(cls, clen, "las_auth");
		fetcher_esis_refusal(t->brand, "", "", reason, rlen);
		return FETCH_PERMANENT;
	}
	if (r->status != 200) {
		snprintf(cls, clen, "las_http");
		snprintf(reason, rlen, "ESIS %s: HTTP %ld", es_ops[i],
			 r->status);
		/* 5xx, 429 and 408 pass, as lasync_http_transient() says */
		return lasync_http_transient(r) ? FETCH_TRANSIENT
						: FETCH_PERMANENT;
	}
	if (r->len == 0) {
		snprintf(cls, clen, "las_empty");
		snprintf(reason, rlen, "ESIS %s: empty response", es_ops[i]);
		return FETCH_TRANSIENT;
	}
	return FETCH_OK;
}

static int es_tls(const lasync_tenant *t, int64_t now,
		  lasync_http_req_opts *o, fetcher_tls *tls, char *cls,
		  size_t clen, char *reason, size_t rlen)
{
	return fetcher_tls_client(t, "ESIS", now, o, tls, cls, clen, reason,
				  rlen);
}

const fetcher_vendor fetcher_esis = {
	.vendor = LASYNC__V1__VENDOR__VENDOR_ESIS,
	.name = "esis",
	.n_ops = 2,
	.ops = es_ops,
	.build = es_build,
	.judge = es_judge,
	.tls = es_tls,
};
