/*
 * fetcher_soap.c - what every SOAP vendor shares: fault detection and the
 * school year of a date.  Faults are read with the libxml2 streaming reader
 * under the same rules as the mapper's parser: no entities, no DTD, no
 * network.
 */
#include <libxml/xmlreader.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fetcher.h"
#include "lasync_mem.h"

static void silent(void *arg, xmlErrorPtr e)
{
	(void)arg;
	(void)e;
}

/* copy_text - the text content of the current element into out */
static void copy_text(xmlTextReaderPtr r, char *out, size_t len)
{
	xmlChar *t = xmlTextReaderReadString(r);

	if (t != NULL) {
		const char *s = (const char *)t;

		while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
			s++;
		lasync_strlcpy(out, s, len);
		size_t n = strlen(out);

		while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\n' ||
				 out[n - 1] == '\t' || out[n - 1] == '\r'))
			out[--n] = '\0';
		xmlFree(t);
	}
}

bool fetcher_soap_fault(const char *body, size_t len, fetcher_fault *f)
{
	xmlTextReaderPtr r;
	bool fault = false, in_body = false;

	memset(f, 0, sizeof(*f));
	if (len == 0 || len > INT_MAX)
		return false;
	r = xmlReaderForMemory(body, (int)len, NULL, NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR |
				       XML_PARSE_NOWARNING);
	if (r == NULL)
		return false;
	xmlTextReaderSetStructuredErrorHandler(r, silent, NULL);
	/* A SOAP fault is the first element of the Body (SOAP 1.1 §4.4,
	 * 1.2 §5.4): the reader stops at that element unless it is Fault,
	 * so a document of data costs its envelope's first lines, not a
	 * scan of every byte. */
	while (xmlTextReaderRead(r) == 1) {
		if (xmlTextReaderNodeType(r) == XML_READER_TYPE_DOCUMENT_TYPE)
			break; /* never expand a DTD */
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT)
			continue;
		const char *n = (const char *)xmlTextReaderConstLocalName(r);
		int depth = xmlTextReaderDepth(r);

		if (depth == 0) {
			if (strcmp(n, "Envelope") != 0)
				break; /* not SOAP */
			continue;
		}
		if (!in_body) {
			if (depth == 1 && strcmp(n, "Body") == 0)
				in_body = true;
			else if (depth == 1 && strcmp(n, "Header") != 0)
				break;
			continue;
		}
		if (depth == 2) {
			if (fault || strcmp(n, "Fault") != 0)
				break; /* data, or what follows the Fault */
			fault = true;
		} else if (strcmp(n, "faultcode") == 0) {
			copy_text(r, f->faultcode, sizeof(f->faultcode));
		} else if (strcmp(n, "faultstring") == 0) {
			copy_text(r, f->faultstring, sizeof(f->faultstring));
		} else if (strcmp(n, "code") == 0) {
			copy_text(r, f->code, sizeof(f->code));
		} else if (strcmp(n, "koppeling") == 0) {
			copy_text(r, f->label, sizeof(f->label));
		}
	}
	xmlFreeTextReader(r);
	/* "soap:Server" -> "Server" */
	char *colon = strrchr(f->faultcode, ':');

	if (colon != NULL)
		memmove(f->faultcode, colon + 1, strlen(colon + 1) + 1);
	return fault;
}

bool fetcher_fault_transient(const fetcher_fault *f, long status)
{
	return status >= 500 && strcmp(f->faultcode, "Server") == 0;
}

const char *fetcher_transfer_class(const lasync_http_result *r)
{
	return r->too_large				  ? "las_too_large"
	       : r->curl == CURLE_OPERATION_TIMEDOUT ? "las_timeout"
						     : "las_http";
}

void fetcher_schooljaar(const char *date, const char *sep, char *out,
			size_t len)
{
	long y = 0;

	for (int i = 0; i < 4 && date[i]; i++)
		y = y * 10 + (date[i] - '0');
	/* "2026-08-01" and later belong to 2026/2027. */
	if (strncmp(date + 5, "08", 2) < 0)
		y--;
	snprintf(out, len, "%ld%s%ld", y, sep, y + 1);
}

char *fetcher_xml_escape(const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p; p++)
		n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4
		     : (*p == '"' || *p == '\'')	      ? 6
							      : 1;
	char *out = lasync_xmalloc(n + 1), *o = out;

	for (const char *p = s; *p; p++) {
		const char *rep = *p == '&'   ? "&amp;"
				  : *p == '<' ? "&lt;"
				  : *p == '>' ? "&gt;"
				  : *p == '"' ? "&quot;"
				  : *p == '\'' ? "&apos;"
					       : NULL;

		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}
