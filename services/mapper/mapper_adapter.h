/*
 * mapper_adapter.h - the LAS adapter registry (DESIGN §4).
 *
 * An adapter turns the raw documents of one snapshot of one vendor into the
 * vendor-neutral school model (lasync_model.h).  Everything after it (rules,
 * diff) is vendor-neutral.  Adding a third LAS is one new file
 * mapper_<vendor>.c defining `const mapper_adapter mapper_<vendor>_adapter`
 * plus one line in MAPPER_ADAPTER_LIST below.
 *
 * Adapters share the helpers at the end of this header: document lookup and
 * limits (mapper_adapter_docs_check), and the value checks every LAS needs
 * (dates, booleans).
 */
#ifndef MAPPER_ADAPTER_H
#define MAPPER_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>

#include "lasync_model.h"

/* One raw document of a snapshot; name = vendor operation, e.g.
 * "getLeerlingen".  data is borrowed for the duration of parse(). */
typedef struct mapper_doc {
	const char *name;
	const char *data;
	size_t len;
} mapper_doc;

/* Caps on untrusted input; a 0 field takes the default below. */
typedef struct mapper_limits {
	size_t max_doc_bytes;	/* one document */
	size_t max_records;	/* entries in any one list of a document */
} mapper_limits;

#define MAPPER_DEFAULT_MAX_DOC_BYTES (128u * 1024u * 1024u)
#define MAPPER_DEFAULT_MAX_RECORDS 200000u

typedef struct mapper_adapter {
	int vendor;			 /* lasync.v1.Vendor value */
	const char *name;		 /* "parnassys" */
	const char *const *required_docs; /* NULL-terminated */
	/* parse - the documents into a finished school (caller frees *out
	 * with lasync_school_free) whose brin/dependance are the tenant's;
	 * -1 with a reason naming the document and element in err, and *out
	 * NULL, when the snapshot is malformed or belongs to another school
	 * (R1).  lim may be NULL (defaults). */
	int (*parse)(const mapper_doc *docs, size_t n, const char *tenant_brin,
		     const char *tenant_dependance, const mapper_limits *lim,
		     lasync_school **out, char *err, size_t errlen);
} mapper_adapter;

/* The registry: one line per LAS. */
#define MAPPER_ADAPTER_LIST(X)                                             \
	X(mapper_parnassys_adapter)                                        \
	X(mapper_esis_adapter)

#define MAPPER_ADAPTER_DECLARE(a) extern const mapper_adapter a;
MAPPER_ADAPTER_LIST(MAPPER_ADAPTER_DECLARE)
#undef MAPPER_ADAPTER_DECLARE

/* mapper_adapter_for - the adapter of a lasync.v1.Vendor value; NULL when
 * none is registered */
const mapper_adapter *mapper_adapter_for(int vendor);

/* mapper_adapter_limits - lim with defaults filled in (lim may be NULL) */
mapper_limits mapper_adapter_limits(const mapper_limits *lim);

/* mapper_adapter_docs_check - every required document present exactly
 * once, no unknown document, each within the size limit; 0 or -1 with a
 * reason naming the document */
int mapper_adapter_docs_check(const mapper_adapter *ad, const mapper_doc *docs,
			      size_t n, const mapper_limits *lim, char *err,
			      size_t errlen);

/* mapper_adapter_doc - the document called name, or NULL */
const mapper_doc *mapper_adapter_doc(const mapper_doc *docs, size_t n,
				     const char *name);

/* mapper_adapter_valid_date - is s a real calendar date "YYYY-MM-DD"? */
bool mapper_adapter_valid_date(const char *s);

/* mapper_adapter_parse_bool - "true"/"false" exactly into *out; 0 or -1 */
int mapper_adapter_parse_bool(const char *s, bool *out);

#endif /* MAPPER_ADAPTER_H */
