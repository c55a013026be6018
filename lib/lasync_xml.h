/*
 * lasync_xml.h - a safe streaming reader for untrusted XML (LAS documents),
 * a thin pull layer over libxml2's push parser (lasync_xml.c says how).
 *
 * Safety: the document is parsed from memory with no entity substitution,
 * no DTD loading or validation and no network; a document with a DOCTYPE is
 * rejected before libxml2 sees it (and again if libxml2 reports one), so
 * no entity can ever be declared, let alone expanded (billion laughs).  The
 * input, every single text value and the element depth are capped.
 * libxml2's own error output is captured into the caller's error buffer and
 * never reaches stderr.
 *
 * Model: a cursor over elements.  The reader keeps a stack of open
 * elements; lasync_xml_child() steps to the next child element of the
 * innermost open element (or, at the top, to the root element), and every
 * element that it returns must then be consumed by exactly one of
 * lasync_xml_child() loops (until it returns 0), lasync_xml_text() or
 * lasync_xml_skip().  Typical adapter code:
 *
 *	while ((rc = lasync_xml_child(x)) > 0) {
 *		if (lasync_xml_is(x, NULL, "id"))
 *			rc = lasync_xml_text_dup(x, arena, &rec->id);
 *		else
 *			rc = lasync_xml_fail(x, "unknown element <%s>",
 *					     lasync_xml_name(x));
 *		if (rc < 0)
 *			break;
 *	}
 *
 * Attributes are read with lasync_xml_attrs() right after lasync_xml_child()
 * returned the element, before it is consumed.
 *
 * Text directly inside an element that holds elements (mixed content) is an
 * error; whitespace, comments and processing instructions are skipped.
 *
 * Errors: every call returns -1 once anything failed, and the first failure
 * is in the caller's buffer given to lasync_xml_new(), as
 *   "<doc> line <n> at /Envelope/Body/...: <what>"
 * The buffer must outlive the reader.
 *
 * Threads: a reader belongs to one thread.  It routes that thread's libxml2
 * error handlers to itself from _new to _free, so readers on one thread must
 * be freed in the reverse order of creation (one at a time is the norm).
 */
#ifndef LASYNC_XML_H
#define LASYNC_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "lasync_arena.h"

#define LASYNC_XML_DEFAULT_DOC_BYTES (256u * 1024u * 1024u)
#define LASYNC_XML_DEFAULT_TEXT_BYTES (64u * 1024u)
#define LASYNC_XML_DEFAULT_DEPTH 64u
#define LASYNC_XML_MAX_DEPTH 256u

typedef struct lasync_xml lasync_xml;

typedef struct lasync_xml_limits {
	size_t max_doc_bytes;	/* whole input; 0: the default above */
	size_t max_text_bytes;	/* one text value; 0: the default above */
	unsigned max_depth;	/* open elements; 0: default; capped at
				 * LASYNC_XML_MAX_DEPTH */
} lasync_xml_limits;

/* lasync_xml_new - a reader over data[0..len) (borrowed: it must outlive
 * the reader); doc names the document in messages.  NULL with a reason in
 * err when the input is too large or holds a DOCTYPE.  err (the caller's)
 * also receives every later failure of this reader. */
lasync_xml *lasync_xml_new(const char *doc, const char *data, size_t len,
			   const lasync_xml_limits *lim, char *err,
			   size_t errlen);

/* lasync_xml_free - release the reader and restore libxml2's handlers */
void lasync_xml_free(lasync_xml *x);

/* lasync_xml_child - step to the next child element of the innermost open
 * element (the root element when none is open).  1: positioned on a child,
 * now the innermost open element; 0: the parent ended (it is closed now;
 * at the top: the document ended); -1: error. */
int lasync_xml_child(lasync_xml *x);

/* lasync_xml_name - local name of the innermost open element ("" if none) */
const char *lasync_xml_name(const lasync_xml *x);

/* lasync_xml_ns - namespace URI of the element lasync_xml_child() just
 * returned, NULL when unqualified; valid until the next call on x */
const char *lasync_xml_ns(const lasync_xml *x);

/* lasync_xml_is - is the element just returned named local, in namespace
 * ns?  ns NULL: any namespace (match by local name); ns "": unqualified */
bool lasync_xml_is(const lasync_xml *x, const char *ns, const char *local);

/* lasync_xml_text - the text of the current element, trimmed of ASCII
 * whitespace; the element must hold text only.  Consumes the element.  *out
 * points into the reader's scratch buffer (NUL-terminated, valid until the
 * next call on x); *len (may be NULL) receives its length. */
int lasync_xml_text(lasync_xml *x, const char **out, size_t *len);

/* lasync_xml_text_dup - as lasync_xml_text, copied into arena; an empty
 * value gives NULL (the model's "absent") */
int lasync_xml_text_dup(lasync_xml *x, lasync_arena *arena, const char **out);

/* One attribute a caller accepts on an element: its unqualified name in,
 * its value out (trimmed of ASCII whitespace, copied into the arena; NULL
 * when the attribute is absent or empty, as for text). */
typedef struct lasync_xml_attr {
	const char *name;
	const char *value;
} lasync_xml_attr;

/* lasync_xml_attrs - read the attributes of the element lasync_xml_child()
 * just returned, before anything consumes it, into attrs[0..n) (n may be 0:
 * the element must carry none, and arena may be NULL).  Namespace
 * declarations are not attributes here; any other attribute, qualified or
 * not named in attrs, is an error naming it.  Values are capped like text. */
int lasync_xml_attrs(lasync_xml *x, lasync_arena *arena,
		     lasync_xml_attr *attrs, size_t n);

/* lasync_xml_skip - consume the current element and everything in it */
int lasync_xml_skip(lasync_xml *x);

/* lasync_xml_finish - after the root element closed: read to the end so
 * that trailing garbage is an error too */
int lasync_xml_finish(lasync_xml *x);

/* lasync_xml_fail - record an error at the current element (the first one
 * wins); always returns -1 so that callers can `return lasync_xml_fail()` */
int lasync_xml_fail(lasync_xml *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* lasync_xml_failed - has anything failed? */
bool lasync_xml_failed(const lasync_xml *x);

/* lasync_xml_depth - how many elements are open */
unsigned lasync_xml_depth(const lasync_xml *x);

/* lasync_xml_path - "/Envelope/Body/..." of the open elements, into buf */
const char *lasync_xml_path(const lasync_xml *x, char *buf, size_t n);

/* lasync_xml_line - the line of the current node (parser line if unknown) */
int lasync_xml_line(const lasync_xml *x);

#endif /* LASYNC_XML_H */
