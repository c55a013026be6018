/*
 * mapper_adapter.c - the adapter registry and the checks all adapters share.
 *
 *   mapper_adapter_for()        vendor -> adapter (MAPPER_ADAPTER_LIST)
 *   mapper_adapter_docs_check() documents present, known, within limits
 *   mapper_adapter_valid_date() strict YYYY-MM-DD, a real calendar day
 *   mapper_adapter_parse_bool() strict true/false
 *
 * The checks live here, not in each adapter, so that a new LAS cannot
 * quietly accept what the others refuse.
 */
#include "mapper_adapter.h"

#include <stdio.h>
#include <string.h>

#define MAPPER_ADAPTER_REF(a) &a,
static const mapper_adapter *const registry[] = {
	MAPPER_ADAPTER_LIST(MAPPER_ADAPTER_REF)
};
#undef MAPPER_ADAPTER_REF

/* mapper_adapter_for - look the vendor up in the registry */
const mapper_adapter *mapper_adapter_for(int vendor)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (registry[i]->vendor == vendor)
			return registry[i];
	return NULL;
}

/* mapper_adapter_limits - fill in defaults for zero fields */
mapper_limits mapper_adapter_limits(const mapper_limits *lim)
{
	mapper_limits l = {MAPPER_DEFAULT_MAX_DOC_BYTES,
			   MAPPER_DEFAULT_MAX_RECORDS};

	if (lim != NULL && lim->max_doc_bytes != 0)
		l.max_doc_bytes = lim->max_doc_bytes;
	if (lim != NULL && lim->max_records != 0)
		l.max_records = lim->max_records;
	return l;
}

/* mapper_adapter_doc - find a document by operation name */
const mapper_doc *mapper_adapter_doc(const mapper_doc *docs, size_t n,
				     const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (docs[i].name != NULL && strcmp(docs[i].name, name) == 0)
			return &docs[i];
	return NULL;
}

/* mapper_adapter_docs_check - required, unique, known, within size */
int mapper_adapter_docs_check(const mapper_adapter *ad, const mapper_doc *docs,
			      size_t n, const mapper_limits *lim, char *err,
			      size_t errlen)
{
	mapper_limits l = mapper_adapter_limits(lim);

	for (size_t i = 0; i < n; i++) {
		bool known = false;

		if (docs[i].name == NULL) {
			snprintf(err, errlen, "%s snapshot: document %zu has "
					      "no name", ad->name, i);
			return -1;
		}
		for (size_t k = 0; ad->required_docs[k] != NULL; k++)
			if (strcmp(ad->required_docs[k], docs[i].name) == 0)
				known = true;
		if (!known) {
			snprintf(err, errlen,
				 "%s snapshot: unexpected document %s",
				 ad->name, docs[i].name);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(docs[k].name, docs[i].name) == 0) {
				snprintf(err, errlen,
					 "%s snapshot: document %s twice",
					 ad->name, docs[i].name);
				return -1;
			}
		if (docs[i].len > l.max_doc_bytes) {
			snprintf(err, errlen,
				 "%s: document of %zu bytes exceeds the limit "
				 "of %zu bytes",
				 docs[i].name, docs[i].len, l.max_doc_bytes);
			return -1;
		}
		if (docs[i].data == NULL && docs[i].len != 0) {
			snprintf(err, errlen, "%s: no data", docs[i].name);
			return -1;
		}
	}
	for (size_t k = 0; ad->required_docs[k] != NULL; k++)
		if (mapper_adapter_doc(docs, n, ad->required_docs[k]) == NULL) {
			snprintf(err, errlen,
				 "%s snapshot: document %s missing", ad->name,
				 ad->required_docs[k]);
			return -1;
		}
	return 0;
}

/* is_leap - Gregorian leap year */
static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* mapper_adapter_valid_date - exactly ten characters, a real day, years
 * 1900..2999 (anything else in a school register is a data error) */
bool mapper_adapter_valid_date(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
		return false;
	if (m == 2 && is_leap(y))
		return d <= 29;
	return d <= mdays[m - 1];
}

/* mapper_adapter_parse_bool - only the two XML Schema spellings LAS use */
int mapper_adapter_parse_bool(const char *s, bool *out)
{
	if (s != NULL && strcmp(s, "true") == 0) {
		*out = true;
		return 0;
	}
	if (s != NULL && strcmp(s, "false") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}
