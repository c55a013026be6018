/*
 * lasync_xml.c - safe streaming XML reader (see lasync_xml.h).
 *
 * Layers, cheapest first:
 *   1. size cap, then a scan of the prolog for "<!DOCTYPE": the document is
 *      refused before libxml2 parses a byte of it, so no entity is declared.
 *      Only ASCII-compatible encodings (UTF-8, Latin-1, ...) get through the
 *      scan, which is what LAS SOAP services send; UTF-16 is refused.
 *   2. xmlReaderForMemory with XML_PARSE_NONET and without NOENT, DTDLOAD,
 *      DTDATTR, DTDVALID, XINCLUDE or HUGE, and a DOCTYPE or entity node
 *      refused again if one ever shows up; NOBLANKS, so indentation
 *      between elements costs no nodes.
 *   3. our own caps on depth and on each text and attribute value.
 *
 * libxml2's errors reach us three ways: the reader's structured handler
 * (parser errors), and the thread's structured and generic handlers (errors
 * raised without a parser context, e.g. encoding conversion).  All three
 * point at this reader while it lives, so nothing is printed to stderr.
 *
 * Element names are the strings of the parser's dictionary, which live as
 * long as the reader, so the open-element stack holds pointers, not copies;
 * the path for messages is built only when something fails.
 */
#include "lasync_xml.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>

#include "lasync_mem.h"

struct lasync_xml {
	xmlTextReaderPtr r;
	const char *doc;
	char *err;
	size_t errlen;
	bool failed;
	size_t max_text;
	unsigned max_depth;
	unsigned depth;			 /* open elements */
	const char *names[LASYNC_XML_MAX_DEPTH]; /* dictionary strings */
	const char *ns;			 /* of the element child() returned */
	bool pending_end;		 /* top element was <empty/> */
	bool at_start;			 /* on the start of the element
					  * child() returned: attributes
					  * can be read */
	char *buf;			 /* text scratch, capped at max_text */
	size_t buf_len, buf_cap;
	/* the thread's libxml2 handlers, restored by _free */
	xmlStructuredErrorFunc old_serror;
	void *old_serror_ctx;
	xmlGenericErrorFunc old_generic;
	void *old_generic_ctx;
};

/* is_ws - XML whitespace */
static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* all_ws - is s[0..n) whitespace only? */
static bool all_ws(const char *s)
{
	for (; *s; s++)
		if (!is_ws((unsigned char)*s))
			return false;
	return true;
}

/* set_err - record the first failure: "<doc> line N at <path>: <msg>" */
static void set_err(lasync_xml *x, int line, const char *msg)
{
	char path[512];

	if (x->failed)
		return;
	x->failed = true;
	if (x->err == NULL || x->errlen == 0)
		return;
	lasync_xml_path(x, path, sizeof(path));
	if (line > 0)
		snprintf(x->err, x->errlen, "%s line %d at %s: %s", x->doc,
			 line, path, msg);
	else
		snprintf(x->err, x->errlen, "%s at %s: %s", x->doc, path, msg);
}

/* on_serror - libxml2 structured error: errors fail the reader, warnings
 * are dropped (a relative namespace URI is not our problem) */
static void on_serror(void *arg, xmlErrorPtr e)
{
	lasync_xml *x = arg;
	char msg[256];
	size_t n;

	if (e == NULL || e->level < XML_ERR_ERROR)
		return;
	lasync_strlcpy(msg, e->message ? e->message : "parse error",
		       sizeof(msg));
	n = strlen(msg);
	while (n > 0 && is_ws((unsigned char)msg[n - 1]))
		msg[--n] = '\0';
	char full[300];

	snprintf(full, sizeof(full), "XML error: %s", msg);
	set_err(x, e->line, full);
}

/* on_generic - libxml2 printf-style error without a parser context */
static void on_generic(void *arg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void on_generic(void *arg, const char *fmt, ...)
{
	lasync_xml *x = arg;
	char msg[256], full[300];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	while (n > 0 && is_ws((unsigned char)msg[n - 1]))
		msg[--n] = '\0';
	if (n == 0)
		return;
	snprintf(full, sizeof(full), "XML error: %s", msg);
	set_err(x, 0, full);
}

/* prolog_has_doctype - scan what precedes the root element: BOM, XML
 * declaration, whitespace, comments, PIs.  Returns 1 for a DOCTYPE, -1 for
 * an encoding we cannot scan, 0 otherwise (libxml2 judges the rest). */
static int prolog_has_doctype(const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	if (p < end && *p != '<' && !is_ws((unsigned char)*p))
		return -1;	/* UTF-16/32, EBCDIC or not XML at all */
	for (;;) {
		while (p < end && is_ws((unsigned char)*p))
			p++;
		if (end - p >= 9 && memcmp(p, "<!DOCTYPE", 9) == 0)
			return 1;
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *q = p + 4;

			while (end - q >= 3 && memcmp(q, "-->", 3) != 0)
				q++;
			if (end - q < 3)
				return 0;
			p = q + 3;
		} else if (end - p >= 2 && memcmp(p, "<?", 2) == 0) {
			const char *q = p + 2;

			while (end - q >= 2 && memcmp(q, "?>", 2) != 0)
				q++;
			if (end - q < 2)
				return 0;
			p = q + 2;
		} else {
			return 0;
		}
	}
}

/* lasync_xml_new - check size and prolog, then open the libxml2 reader */
lasync_xml *lasync_xml_new(const char *doc, const char *data, size_t len,
			   const lasync_xml_limits *lim, char *err,
			   size_t errlen)
{
	size_t max_doc = LASYNC_XML_DEFAULT_DOC_BYTES;
	lasync_xml *x;
	int pro;

	if (lim != NULL && lim->max_doc_bytes != 0)
		max_doc = lim->max_doc_bytes;
	if (max_doc > INT_MAX)
		max_doc = INT_MAX;
	if (len > max_doc) {
		snprintf(err, errlen,
			 "%s: document of %zu bytes exceeds the limit of %zu "
			 "bytes",
			 doc, len, max_doc);
		return NULL;
	}
	if (len == 0 || data == NULL) {
		snprintf(err, errlen, "%s: empty document", doc);
		return NULL;
	}
	pro = prolog_has_doctype(data, len);
	if (pro > 0) {
		snprintf(err, errlen,
			 "%s line 1: DOCTYPE not allowed (no DTDs or entities "
			 "in LAS documents)",
			 doc);
		return NULL;
	}
	if (pro < 0) {
		snprintf(err, errlen,
			 "%s line 1: not an XML document in an ASCII-compatible "
			 "encoding (UTF-8 expected)",
			 doc);
		return NULL;
	}

	xmlInitParser();
	x = lasync_xcalloc(1, sizeof(*x));
	x->doc = doc;
	x->err = err;
	x->errlen = errlen;
	x->max_text = LASYNC_XML_DEFAULT_TEXT_BYTES;
	x->max_depth = LASYNC_XML_DEFAULT_DEPTH;
	if (lim != NULL && lim->max_text_bytes != 0)
		x->max_text = lim->max_text_bytes;
	if (lim != NULL && lim->max_depth != 0)
		x->max_depth = lim->max_depth;
	if (x->max_depth > LASYNC_XML_MAX_DEPTH)
		x->max_depth = LASYNC_XML_MAX_DEPTH;

	x->old_serror = xmlStructuredError;
	x->old_serror_ctx = xmlStructuredErrorContext;
	x->old_generic = xmlGenericError;
	x->old_generic_ctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(x, on_serror);
	xmlSetGenericErrorFunc(x, on_generic);

	/* NOBLANKS: the indentation between elements is never made into
	 * nodes to be read and skipped (a seventh of the parse); text inside
	 * a text element is kept by libxml2's own rule (a blank run directly
	 * before the element's end tag, or next to other text, is text) and
	 * trimmed here anyway. */
	x->r = xmlReaderForMemory(data, (int)len, NULL, NULL,
				  XML_PARSE_NONET | XML_PARSE_NOCDATA |
					  XML_PARSE_NOBLANKS |
					  XML_PARSE_COMPACT |
					  XML_PARSE_BIG_LINES);
	if (x->r == NULL) {
		snprintf(err, errlen, "%s: cannot create XML reader", doc);
		lasync_xml_free(x);
		return NULL;
	}
	xmlTextReaderSetStructuredErrorHandler(x->r, on_serror, x);
	return x;
}

/* lasync_xml_free - close the reader, hand libxml2's handlers back */
void lasync_xml_free(lasync_xml *x)
{
	if (x == NULL)
		return;
	if (x->r != NULL)
		xmlFreeTextReader(x->r);
	xmlSetStructuredErrorFunc(x->old_serror_ctx, x->old_serror);
	xmlSetGenericErrorFunc(x->old_generic_ctx, x->old_generic);
	free(x->buf);
	free(x);
}

/* read_node - advance libxml2 by one node: 1 read, 0 end of input, -1 error */
static int read_node(lasync_xml *x)
{
	int rc;

	if (x->failed)
		return -1;
	x->at_start = false;
	rc = xmlTextReaderRead(x->r);
	if (rc < 0) {
		set_err(x, xmlTextReaderGetParserLineNumber(x->r),
			"XML error: malformed document");
		return -1;
	}
	if (x->failed)		/* an error reported while reading */
		return -1;
	return rc;
}

/* refuse_node - node types never allowed in a LAS document */
static int refuse_node(lasync_xml *x, int type)
{
	switch (type) {
	case XML_READER_TYPE_DOCUMENT_TYPE:
		return lasync_xml_fail(x, "DOCTYPE not allowed");
	case XML_READER_TYPE_ENTITY_REFERENCE:
	case XML_READER_TYPE_ENTITY:
	case XML_READER_TYPE_END_ENTITY:
		return lasync_xml_fail(x, "entity references not allowed");
	case XML_READER_TYPE_NOTATION:
		return lasync_xml_fail(x, "notations not allowed");
	default:
		return lasync_xml_fail(x, "unexpected XML node (type %d)",
				       type);
	}
}

/* push - the reader is on an element start: make it the innermost */
static int push(lasync_xml *x)
{
	const char *name = (const char *)xmlTextReaderConstLocalName(x->r);

	if (x->depth >= x->max_depth)
		return lasync_xml_fail(x,
				       "element <%s> nested deeper than %u "
				       "levels",
				       name ? name : "?", x->max_depth);
	x->names[x->depth++] = name ? name : "";
	x->ns = (const char *)xmlTextReaderConstNamespaceUri(x->r);
	x->pending_end = xmlTextReaderIsEmptyElement(x->r) == 1;
	x->at_start = true;
	return 0;
}

/* pop - the innermost element has ended */
static void pop(lasync_xml *x)
{
	if (x->depth > 0)
		x->depth--;
	x->pending_end = false;
	x->at_start = false;
	x->ns = NULL;
}

/* lasync_xml_child - next child element of the innermost open element */
int lasync_xml_child(lasync_xml *x)
{
	int rc, type;

	if (x->failed)
		return -1;
	if (x->pending_end) {	/* <empty/> has no children */
		pop(x);
		return 0;
	}
	for (;;) {
		rc = read_node(x);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (x->depth == 0)
				return 0;
			return lasync_xml_fail(x, "document ends inside <%s>",
					       lasync_xml_name(x));
		}
		type = xmlTextReaderNodeType(x->r);
		switch (type) {
		case XML_READER_TYPE_ELEMENT:
			return push(x) < 0 ? -1 : 1;
		case XML_READER_TYPE_END_ELEMENT:
			pop(x);
			return 0;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA: {
			const char *v =
				(const char *)xmlTextReaderConstValue(x->r);

			if (v != NULL && !all_ws(v))
				return x->depth == 0
					       ? lasync_xml_fail(
							 x, "text outside the "
							    "root element")
					       : lasync_xml_fail(
							 x,
							 "unexpected text in "
							 "<%s>",
							 lasync_xml_name(x));
			break;
		}
		case XML_READER_TYPE_WHITESPACE:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
		case XML_READER_TYPE_COMMENT:
		case XML_READER_TYPE_PROCESSING_INSTRUCTION:
		case XML_READER_TYPE_XML_DECLARATION:
			break;
		default:
			return refuse_node(x, type);
		}
	}
}

/* buf_append - add s[0..n) to the text scratch, within max_text */
static int buf_append(lasync_xml *x, const char *s, size_t n)
{
	if (n > x->max_text || x->buf_len > x->max_text - n)
		return lasync_xml_fail(x,
				       "text of <%s> exceeds the limit of %zu "
				       "bytes",
				       lasync_xml_name(x), x->max_text);
	if (x->buf_len + n + 1 > x->buf_cap) {
		size_t cap = x->buf_cap ? x->buf_cap : 256;

		while (cap < x->buf_len + n + 1)
			cap *= 2;
		x->buf = lasync_xrealloc(x->buf, cap);
		x->buf_cap = cap;
	}
	memcpy(x->buf + x->buf_len, s, n);
	x->buf_len += n;
	x->buf[x->buf_len] = '\0';
	return 0;
}

/* lasync_xml_text - collect the text of the current element, trimmed */
int lasync_xml_text(lasync_xml *x, const char **out, size_t *len)
{
	size_t start, end;
	int rc, type;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (x->failed)
		return -1;
	if (x->depth == 0)
		return lasync_xml_fail(x, "no element to read text from");
	x->buf_len = 0;
	if (buf_append(x, "", 0) < 0)
		return -1;
	if (x->pending_end) {
		pop(x);
		goto out_trim;
	}
	for (;;) {
		rc = read_node(x);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return lasync_xml_fail(x, "document ends inside <%s>",
					       lasync_xml_name(x));
		type = xmlTextReaderNodeType(x->r);
		switch (type) {
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_WHITESPACE:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE: {
			const char *v =
				(const char *)xmlTextReaderConstValue(x->r);

			if (v != NULL && buf_append(x, v, strlen(v)) < 0)
				return -1;
			break;
		}
		case XML_READER_TYPE_COMMENT:
		case XML_READER_TYPE_PROCESSING_INSTRUCTION:
			break;
		case XML_READER_TYPE_ELEMENT: {
			const char *child = (const char *)
				xmlTextReaderConstLocalName(x->r);

			return lasync_xml_fail(x,
					       "element <%s> inside <%s>, where "
					       "text was expected",
					       child ? child : "?",
					       lasync_xml_name(x));
		}
		case XML_READER_TYPE_END_ELEMENT:
			pop(x);
			goto out_trim;
		default:
			return refuse_node(x, type);
		}
	}
out_trim:
	start = 0;
	end = x->buf_len;
	while (start < end && is_ws((unsigned char)x->buf[start]))
		start++;
	while (end > start && is_ws((unsigned char)x->buf[end - 1]))
		end--;
	x->buf[end] = '\0';
	*out = x->buf + start;
	if (len != NULL)
		*len = end - start;
	return 0;
}

/* lasync_xml_text_dup - the text, copied into arena; "" becomes NULL */
int lasync_xml_text_dup(lasync_xml *x, lasync_arena *arena, const char **out)
{
	const char *s;
	size_t n;

	*out = NULL;
	if (lasync_xml_text(x, &s, &n) < 0)
		return -1;
	if (n > 0)
		*out = lasync_arena_strndup(arena, s, n);
	return 0;
}

/* attr_value - the trimmed value of the attribute the reader is on, into
 * arena (NULL when empty); -1 when it is over the text cap */
static int attr_value(lasync_xml *x, lasync_arena *arena, const char *name,
		      const char **out)
{
	const char *v = (const char *)xmlTextReaderConstValue(x->r);
	size_t start = 0, end = v ? strlen(v) : 0;

	*out = NULL;
	if (end > x->max_text) {
		xmlTextReaderMoveToElement(x->r);
		return lasync_xml_fail(x,
				       "attribute %s of <%s> exceeds the limit "
				       "of %zu bytes",
				       name, lasync_xml_name(x), x->max_text);
	}
	while (start < end && is_ws((unsigned char)v[start]))
		start++;
	while (end > start && is_ws((unsigned char)v[end - 1]))
		end--;
	if (end > start)
		*out = lasync_arena_strndup(arena, v + start, end - start);
	return 0;
}

/* lasync_xml_attrs - the wanted attributes of the element just returned;
 * anything else on it is an error.  The reader walks the attribute nodes
 * and comes back to the element, so reading goes on as before. */
int lasync_xml_attrs(lasync_xml *x, lasync_arena *arena,
		     lasync_xml_attr *attrs, size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		attrs[i].value = NULL;
	if (x->failed)
		return -1;
	if (!x->at_start)
		return lasync_xml_fail(x, "attributes of <%s> read after its "
					  "start",
				       lasync_xml_name(x));
	if (xmlTextReaderHasAttributes(x->r) != 1)
		return 0;
	for (rc = xmlTextReaderMoveToFirstAttribute(x->r); rc == 1;
	     rc = xmlTextReaderMoveToNextAttribute(x->r)) {
		const char *local, *ns;
		size_t i;

		if (xmlTextReaderIsNamespaceDecl(x->r) == 1)
			continue;
		local = (const char *)xmlTextReaderConstLocalName(x->r);
		ns = (const char *)xmlTextReaderConstNamespaceUri(x->r);
		for (i = 0; i < n; i++)
			if (ns == NULL && local != NULL &&
			    strcmp(attrs[i].name, local) == 0)
				break;
		if (i == n) {
			const char *qname =
				(const char *)xmlTextReaderConstName(x->r);
			char name[128];

			lasync_strlcpy(name, qname ? qname : "?", sizeof(name));
			xmlTextReaderMoveToElement(x->r);
			return lasync_xml_fail(x, "unknown attribute %s on <%s>",
					       name, lasync_xml_name(x));
		}
		if (attr_value(x, arena, attrs[i].name, &attrs[i].value) < 0)
			return -1;
	}
	xmlTextReaderMoveToElement(x->r);
	if (rc < 0) {
		set_err(x, lasync_xml_line(x), "XML error: malformed attribute");
		return -1;
	}
	return x->failed ? -1 : 0;
}

/* lasync_xml_skip - consume the current element whole */
int lasync_xml_skip(lasync_xml *x)
{
	unsigned target;
	int rc, type;

	if (x->failed)
		return -1;
	if (x->depth == 0)
		return lasync_xml_fail(x, "no element to skip");
	if (x->pending_end) {
		pop(x);
		return 0;
	}
	target = x->depth - 1;
	for (;;) {
		rc = read_node(x);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return lasync_xml_fail(x, "document ends inside <%s>",
					       lasync_xml_name(x));
		type = xmlTextReaderNodeType(x->r);
		switch (type) {
		case XML_READER_TYPE_ELEMENT:
			if (push(x) < 0)
				return -1;
			if (x->pending_end)
				pop(x);
			break;
		case XML_READER_TYPE_END_ELEMENT:
			pop(x);
			if (x->depth == target)
				return 0;
			break;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_WHITESPACE:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
		case XML_READER_TYPE_COMMENT:
		case XML_READER_TYPE_PROCESSING_INSTRUCTION:
			break;
		default:
			return refuse_node(x, type);
		}
	}
}

/* lasync_xml_finish - the root has closed: nothing but the end may follow */
int lasync_xml_finish(lasync_xml *x)
{
	int rc;

	if (x->failed)
		return -1;
	if (x->depth != 0)
		return lasync_xml_fail(x, "element <%s> not finished",
				       lasync_xml_name(x));
	rc = lasync_xml_child(x);
	if (rc > 0)
		return lasync_xml_fail(x, "second root element <%s>",
				       lasync_xml_name(x));
	return rc;
}

/* lasync_xml_fail - record a failure at the current element */
int lasync_xml_fail(lasync_xml *x, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(x, lasync_xml_line(x), msg);
	return -1;
}

/* lasync_xml_failed - has anything failed? */
bool lasync_xml_failed(const lasync_xml *x)
{
	return x->failed;
}

/* lasync_xml_depth - how many elements are open */
unsigned lasync_xml_depth(const lasync_xml *x)
{
	return x->depth;
}

/* lasync_xml_name - local name of the innermost open element */
const char *lasync_xml_name(const lasync_xml *x)
{
	return x->depth > 0 ? x->names[x->depth - 1] : "";
}

/* lasync_xml_ns - namespace of the element child() returned */
const char *lasync_xml_ns(const lasync_xml *x)
{
	return x->ns;
}

/* lasync_xml_is - local name match, namespace checked when ns is given */
bool lasync_xml_is(const lasync_xml *x, const char *ns, const char *local)
{
	if (x->depth == 0 || strcmp(x->names[x->depth - 1], local) != 0)
		return false;
	if (ns == NULL)
		return true;
	if (*ns == '\0')
		return x->ns == NULL || *x->ns == '\0';
	return x->ns != NULL && strcmp(x->ns, ns) == 0;
}

/* lasync_xml_path - the open elements as a path, truncated to fit */
const char *lasync_xml_path(const lasync_xml *x, char *buf, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return buf;
	buf[0] = '\0';
	if (x->depth == 0) {
		lasync_strlcpy(buf, "/", n);
		return buf;
	}
	for (unsigned i = 0; i < x->depth; i++) {
		size_t l = strlen(x->names[i]);

		if (o + 1 + l + 1 > n) {
			if (o + 4 < n)
				lasync_strlcpy(buf + o, "/...", n - o);
			return buf;
		}
		buf[o++] = '/';
		memcpy(buf + o, x->names[i], l);
		o += l;
		buf[o] = '\0';
	}
	return buf;
}

/* lasync_xml_line - the current node's line, else the parser's */
int lasync_xml_line(const lasync_xml *x)
{
	xmlNodePtr node;
	long line = 0;

	if (x->r == NULL)
		return 0;
	node = xmlTextReaderCurrentNode(x->r);
	if (node != NULL)
		line = xmlGetLineNo(node);
	if (line <= 0)
		line = xmlTextReaderGetParserLineNumber(x->r);
	return line > INT_MAX ? INT_MAX : (int)line;
}
