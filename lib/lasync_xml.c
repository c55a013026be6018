/*
 * lasync_xml.c - safe streaming XML reader (see lasync_xml.h).
 *
 * Layers, cheapest first:
 *   1. size cap, then a scan of the prolog for "<!DOCTYPE": the document is
 *      refused before libxml2 parses a byte of it, so no entity is declared.
 *      Only ASCII-compatible encodings (UTF-8, Latin-1, ...) get through the
 *      scan, which is what LAS SOAP services send; UTF-16 is refused.
 *   2. libxml2's push parser with SAX2 callbacks of our own, XML_PARSE_NONET
 *      and without NOENT, DTDLOAD, DTDATTR, DTDVALID, XINCLUDE or HUGE; an
 *      internal subset or an entity reference refused again if one ever
 *      reaches a callback.  No callback stores a declaration, so there is
 *      no entity to expand.
 *   3. our own caps on depth and on each text and attribute value.
 *
 * Pulling from a push parser: the document goes to libxml2 in chunks of
 * XML_CHUNK bytes; the callbacks turn what one chunk holds into a queue of
 * events (an element's start with its attributes, its end, text, an error)
 * and the cursor functions consume the queue, feeding the next chunk when
 * it is empty.  So beyond the document itself a reader holds about one
 * chunk's events, and libxml2 builds no tree: its xmlTextReader, which
 * this replaced, made and freed a node for everything and parsed at about
 * 60% of this speed (BENCHMARKS.md, section 1).
 *
 * libxml2's errors reach us three ways: the parser's structured handler
 * (parser errors), and the thread's structured and generic handlers (errors
 * raised without a parser context, e.g. encoding conversion).  All three
 * point at this reader while it lives, so nothing is printed to stderr.
 * An error raised while a chunk is parsed becomes an error event where it
 * happened: the events before it are still read, and the message names the
 * element path at which the parse stopped.
 *
 * Element and attribute names and namespace URIs are the strings of the
 * parser's dictionary, which live as long as the reader, so the events and
 * the open-element stack hold pointers, not copies; the path for messages
 * is built only when something fails.
 */
#include "lasync_xml.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "lasync_mem.h"

/* bytes handed to libxml2 at a time: the queue holds one chunk's events */
#define XML_CHUNK (64u * 1024u)

enum {
	EV_START,	/* name, ns; attributes at[off .. off + len) */
	EV_END,
	EV_TEXT,	/* tx[off .. off + len); ws_over: whitespace past the
			 * text cap, dropped */
	EV_TOO_LONG,	/* text past the cap that is not only whitespace */
	EV_ERROR	/* message at tx[off] (NUL-terminated) */
};

typedef struct xev {
	int type;
	int line;
	bool ws_over;
	const char *name;	/* START: local name */
	const char *ns;		/* START: namespace URI, NULL if none */
	size_t off, len;
} xev;

/* a growing byte buffer, its bytes kept NUL-terminated */
typedef struct xbuf {
	char *p;
	size_t len, cap;
} xbuf;

typedef struct xattr {
	const char *local, *prefix, *uri;
	size_t off, len;	/* value in tx; len > max_text: not stored */
} xattr;

struct lasync_xml {
	xmlParserCtxtPtr ctxt;
	const char *data;		 /* the document (borrowed) */
	size_t len, fed;		 /* bytes, bytes given to libxml2 */
	bool input_done;		 /* the last chunk was given */
	bool feeding;			 /* inside xmlParseChunk */
	bool error_queued;		 /* an EV_ERROR is in the queue */
	/* the queue: events, their attributes and their bytes */
	xev *ev;
	size_t ev_n, ev_at, ev_cap;
	xattr *at;
	size_t at_n, at_cap;
	xbuf tx;
	size_t run_len;			 /* of the text run being queued */
	bool run_over;			 /* it passed the text cap */
	const xev *start;		 /* what child() returned, while
					  * at_start */
	int line;			 /* of the last event consumed */
	const char *doc;
	char *err;
	size_t errlen;
	bool failed;
	size_t max_text;
	unsigned max_depth;
	unsigned depth;			 /* open elements */
	const char *names[LASYNC_XML_MAX_DEPTH]; /* dictionary strings */
	int lines[LASYNC_XML_MAX_DEPTH];	 /* of their start tags */
	const char *ns;			 /* of the element child() returned */
	bool at_start;			 /* on the start of the element
					  * child() returned: attributes
					  * can be read */
	xbuf buf;			 /* text scratch, capped at max_text */
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
static bool all_ws(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_ws((unsigned char)s[i]))
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

/* parser_line - where libxml2 is in the input */
static int parser_line(const lasync_xml *x)
{
	if (x->ctxt == NULL || x->ctxt->input == NULL)
		return 0;
	return x->ctxt->input->line;
}

/* ev_add - a new event at the queue's end */
static xev *ev_add(lasync_xml *x, int type)
{
	xev *e;

	lasync_grow(&x->ev, &x->ev_cap, x->ev_n + 1);
	e = &x->ev[x->ev_n++];
	e->type = type;
	e->line = parser_line(x);
	e->ws_over = false;
	e->name = e->ns = NULL;
	e->off = e->len = 0;
	if (type != EV_TEXT) {
		x->run_len = 0;
		x->run_over = false;
	}
	return e;
}

/* xbuf_add - append s[0..n), keeping the bytes NUL-terminated */
static void xbuf_add(xbuf *b, const char *s, size_t n)
{
	lasync_grow(&b->p, &b->cap, b->len + n + 1);
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* tx_add - append s[0..n) to the queue's bytes; returns its offset */
static size_t tx_add(lasync_xml *x, const char *s, size_t n)
{
	size_t off = x->tx.len;

	xbuf_add(&x->tx, s, n);
	return off;
}

/* queue_error - the first error becomes the queue's last event: the
 * callbacks drop whatever libxml2 reports after it, and no further chunk
 * is fed.  (Not xmlStopParser(): called from an error handler, it frees
 * the input under libxml2 2.9's push parser, which then reads it.) */
static void queue_error(lasync_xml *x, int line, const char *msg)
{
	xev *e;

	if (x->error_queued || x->failed)
		return;
	if (!x->feeding) {	/* raised outside a parse: fail now */
		set_err(x, line, msg);
		return;
	}
	x->error_queued = true;
	e = ev_add(x, EV_ERROR);
	if (line > 0)
		e->line = line;
	e->off = tx_add(x, msg, strlen(msg));
}

/* tx_add_value - an attribute's value into the queue's bytes.  Without
 * entity substitution libxml2 hands over every reference decoded except
 * '&' itself, which it leaves as "&#38;" for a tree builder to decode
 * (SAX2's own xmlSAX2AttributeNs does); so do we. */
static void tx_add_value(lasync_xml *x, xattr *t, const char *v, size_t n)
{
	const char *amp = memchr(v, '&', n), *end = v + n;

	t->off = tx_add(x, v, amp == NULL ? n : (size_t)(amp - v));
	while (amp != NULL) {
		size_t skip = (size_t)(end - amp) >= 5 &&
					      memcmp(amp, "&#38;", 5) == 0
				      ? 5
				      : 1;
		const char *next = memchr(amp + skip, '&',
					  (size_t)(end - amp - skip));

		tx_add(x, "&", 1);
		tx_add(x, amp + skip,
		       (size_t)((next ? next : end) - (amp + skip)));
		amp = next;
	}
	t->len = x->tx.len - t->off;
}

/* on_start - SAX2: an element starts */
static void on_start(void *arg, const xmlChar *local, const xmlChar *prefix,
		     const xmlChar *uri, int n_ns, const xmlChar **ns,
		     int n_attr, int n_defaulted, const xmlChar **attrs)
{
	lasync_xml *x = arg;
	xev *e;

	if (x->error_queued)
		return;
	e = ev_add(x, EV_START);
	(void)prefix;
	(void)n_ns;
	(void)ns;
	(void)n_defaulted;
	e->name = (const char *)local;
	e->ns = (const char *)uri;
	e->off = x->at_n;
	e->len = n_attr > 0 ? (size_t)n_attr : 0;
	for (int i = 0; i < n_attr; i++) {
		const xmlChar **a = attrs + 5 * i;
		size_t vlen = (size_t)(a[4] - a[3]);
		xattr *t;

		lasync_grow(&x->at, &x->at_cap, x->at_n + 1);
		t = &x->at[x->at_n++];
		t->local = (const char *)a[0];
		t->prefix = (const char *)a[1];
		t->uri = (const char *)a[2];
		t->len = vlen;
		t->off = 0;
		if (vlen <= x->max_text)
			tx_add_value(x, t, (const char *)a[3], vlen);
	}
}

/* on_end - SAX2: an element ends */
static void on_end(void *arg, const xmlChar *local, const xmlChar *prefix,
		   const xmlChar *uri)
{
	lasync_xml *x = arg;

	(void)local;
	(void)prefix;
	(void)uri;
	if (!x->error_queued)
		ev_add(x, EV_END);
}

/* on_text - SAX2: character data (text, CDATA, whitespace), in pieces;
 * one run of pieces is one event while it stays in one queue.  A run past
 * the text cap stops the parse unless it is whitespace, which is dropped
 * (whitespace between elements is skipped, whatever its length). */
static void on_text(void *arg, const xmlChar *s, int n)
{
	lasync_xml *x = arg;
	xev *e = x->ev_n > 0 ? &x->ev[x->ev_n - 1] : NULL;

	if (n <= 0 || x->error_queued)
		return;
	if (e == NULL || e->type != EV_TEXT) {
		e = ev_add(x, EV_TEXT);
		e->off = x->tx.len;
	}
	x->run_len += (size_t)n;
	if (x->run_len > x->max_text) {
		/* stored so far in this queue: e's bytes */
		if (!x->run_over && !all_ws(x->tx.p + e->off, e->len))
			goto too_long;
		x->run_over = true;
		if (!all_ws((const char *)s, (size_t)n))
			goto too_long;
		e->ws_over = true;
		return;
	}
	tx_add(x, (const char *)s, (size_t)n);
	e->len += (size_t)n;
	return;
too_long:
	ev_add(x, EV_TOO_LONG);
	x->error_queued = true;
}

/* on_doctype - SAX2: an internal subset, which the prolog scan missed */
static void on_doctype(void *arg, const xmlChar *name, const xmlChar *ext,
		       const xmlChar *sys)
{
	(void)name;
	(void)ext;
	(void)sys;
	queue_error(arg, 0, "DOCTYPE not allowed");
}

/* on_reference - SAX2: a reference to a declared entity (none can be) */
static void on_reference(void *arg, const xmlChar *name)
{
	(void)name;
	queue_error(arg, 0, "entity references not allowed");
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
	queue_error(x, e->line, full);
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
	queue_error(x, 0, full);
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

/* lasync_xml_new - check size and prolog, then set up libxml2's push
 * parser with our callbacks */
lasync_xml *lasync_xml_new(const char *doc, const char *data, size_t len,
			   const lasync_xml_limits *lim, char *err,
			   size_t errlen)
{
	size_t max_doc = LASYNC_XML_DEFAULT_DOC_BYTES, first;
	xmlSAXHandler sax;
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
	x->data = data;
	x->len = len;
	/* never NULL, so an empty event's bytes are "" */
	xbuf_add(&x->tx, "", 0);
	xbuf_add(&x->buf, "", 0);
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

	/* Only what we read has a callback: no entity, notation or element
	 * declaration is ever stored, comments and processing instructions
	 * are dropped by libxml2, and whitespace is text that we skip or
	 * trim (so libxml2 need not tell ignorable whitespace apart). */
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.ignorableWhitespace = on_text;
	sax.cdataBlock = on_text;
	sax.internalSubset = on_doctype;
	sax.reference = on_reference;
	sax.serror = on_serror;
	/* the first bytes go in with the context, for encoding detection */
	first = len < 4 ? len : 4;
	x->feeding = true;
	x->ctxt = xmlCreatePushParserCtxt(&sax, x, data, (int)first, NULL);
	x->feeding = false;
	if (x->ctxt == NULL) {
		snprintf(err, errlen, "%s: cannot create XML parser", doc);
		lasync_xml_free(x);
		return NULL;
	}
	x->fed = first;
	/* NOCDATA: CDATA sections arrive as characters */
	xmlCtxtUseOptions(x->ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA |
					   XML_PARSE_BIG_LINES);
	return x;
}

/* lasync_xml_free - close the parser, hand libxml2's handlers back */
void lasync_xml_free(lasync_xml *x)
{
	if (x == NULL)
		return;
	if (x->ctxt != NULL)
		xmlFreeParserCtxt(x->ctxt);
	xmlSetStructuredErrorFunc(x->old_serror_ctx, x->old_serror);
	xmlSetGenericErrorFunc(x->old_generic_ctx, x->old_generic);
	free(x->ev);
	free(x->at);
	free(x->tx.p);
	free(x->buf.p);
	free(x);
}

/* feed - give libxml2 the next chunk (the last one with terminate) */
static void feed(lasync_xml *x)
{
	size_t n = x->len - x->fed;
	int terminate = n <= XML_CHUNK;
	int rc;

	if (!terminate)
		n = XML_CHUNK;
	x->feeding = true;
	rc = xmlParseChunk(x->ctxt, x->data + x->fed, (int)n, terminate);
	x->feeding = false;
	x->fed += n;
	if (terminate)
		x->input_done = true;
	if (rc != 0 && !x->error_queued) {
		/* an error libxml2 did not report through a handler */
		x->feeding = true;
		queue_error(x, parser_line(x), "XML error: malformed document");
		x->feeding = false;
	}
	if (x->error_queued)
		x->input_done = true;
}

/* next_event - the next event, feeding libxml2 whenever the queue is
 * empty; NULL at the end of the input (or once failed) */
static const xev *next_event(lasync_xml *x)
{
	const xev *e;

	x->at_start = false;
	while (x->ev_at == x->ev_n) {
		if (x->failed || x->input_done)
			return NULL;
		x->ev_n = x->ev_at = 0;
		x->at_n = 0;
		x->tx.len = 0;
		feed(x);
	}
	e = &x->ev[x->ev_at++];
	x->line = e->line;
	return e;
}

/* too_long - the text of the innermost element is over the cap */
static int too_long(lasync_xml *x)
{
	return lasync_xml_fail(x, "text of <%s> exceeds the limit of %zu bytes",
			       lasync_xml_name(x), x->max_text);
}

/* event_fail - an error event is reached: fail with its message */
static int event_fail(lasync_xml *x, const xev *e)
{
	if (e->type == EV_TOO_LONG)
		return too_long(x);
	set_err(x, e->line, x->tx.p + e->off);
	return -1;
}

/* input_ended - next_event() gave nothing inside <name> */
static int input_ended(lasync_xml *x)
{
	if (x->failed)
		return -1;
	return lasync_xml_fail(x, "document ends inside <%s>",
			       lasync_xml_name(x));
}

/* push - an element starts: make it the innermost */
static int push(lasync_xml *x, const xev *e)
{
	if (x->depth >= x->max_depth)
		return lasync_xml_fail(x,
				       "element <%s> nested deeper than %u "
				       "levels",
				       e->name, x->max_depth);
	x->lines[x->depth] = e->line;
	x->names[x->depth++] = e->name;
	x->ns = e->ns;
	x->start = e;
	x->at_start = true;
	return 0;
}

/* pop - the innermost element has ended; messages now name its start
 * line, as for a failure about the element as a whole */
static void pop(lasync_xml *x)
{
	if (x->depth > 0)
		x->line = x->lines[--x->depth];
	x->ns = NULL;
}

/* lasync_xml_child - next child element of the innermost open element */
int lasync_xml_child(lasync_xml *x)
{
	const xev *e;

	if (x->failed)
		return -1;
	for (;;) {
		e = next_event(x);
		if (e == NULL)
			return x->depth == 0 && !x->failed ? 0 : input_ended(x);
		switch (e->type) {
		case EV_START:
			return push(x, e) < 0 ? -1 : 1;
		case EV_END:
			pop(x);
			return 0;
		case EV_TEXT:
			if (e->ws_over || all_ws(x->tx.p + e->off, e->len))
				break;
			return x->depth == 0
				       ? lasync_xml_fail(x, "text outside the "
							    "root element")
				       : lasync_xml_fail(x,
							 "unexpected text in "
							 "<%s>",
							 lasync_xml_name(x));
		default:
			return event_fail(x, e);
		}
	}
}

/* buf_append - add s[0..n) to the text scratch, within max_text */
static int buf_append(lasync_xml *x, const char *s, size_t n)
{
	if (n > x->max_text || x->buf.len > x->max_text - n)
		return too_long(x);
	xbuf_add(&x->buf, s, n);
	return 0;
}

/* lasync_xml_text - collect the text of the current element, trimmed */
int lasync_xml_text(lasync_xml *x, const char **out, size_t *len)
{
	const xev *e;
	size_t start, end;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (x->failed)
		return -1;
	if (x->depth == 0)
		return lasync_xml_fail(x, "no element to read text from");
	x->buf.len = 0;
	if (buf_append(x, "", 0) < 0)
		return -1;
	for (;;) {
		e = next_event(x);
		if (e == NULL)
			return input_ended(x);
		switch (e->type) {
		case EV_TEXT:
			if (e->ws_over)
				return too_long(x);
			if (buf_append(x, x->tx.p + e->off, e->len) < 0)
				return -1;
			break;
		case EV_START:
			return lasync_xml_fail(x,
					       "element <%s> inside <%s>, where "
					       "text was expected",
					       e->name, lasync_xml_name(x));
		case EV_END:
			pop(x);
			goto out_trim;
		default:
			return event_fail(x, e);
		}
	}
out_trim:
	start = 0;
	end = x->buf.len;
	while (start < end && is_ws((unsigned char)x->buf.p[start]))
		start++;
	while (end > start && is_ws((unsigned char)x->buf.p[end - 1]))
		end--;
	x->buf.p[end] = '\0';
	*out = x->buf.p + start;
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

/* lasync_xml_attrs - the wanted attributes of the element just returned;
 * anything else on it is an error.  They came with the element's start
 * event, so reading goes on as before. */
int lasync_xml_attrs(lasync_xml *x, lasync_arena *arena,
		     lasync_xml_attr *attrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		attrs[i].value = NULL;
	if (x->failed)
		return -1;
	if (!x->at_start)
		return lasync_xml_fail(x, "attributes of <%s> read after its "
					  "start",
				       lasync_xml_name(x));
	for (size_t k = 0; k < x->start->len; k++) {
		const xattr *a = &x->at[x->start->off + k];
		const char *v;
		size_t i, start = 0, end = a->len;

		for (i = 0; i < n; i++)
			if (a->uri == NULL && strcmp(attrs[i].name, a->local) == 0)
				break;
		if (i == n) {
			char name[128];

			if (a->prefix != NULL)
				snprintf(name, sizeof(name), "%s:%s", a->prefix,
					 a->local);
			else
				lasync_strlcpy(name, a->local, sizeof(name));
			return lasync_xml_fail(x, "unknown attribute %s on <%s>",
					       name, lasync_xml_name(x));
		}
		if (a->len > x->max_text)
			return lasync_xml_fail(x,
					       "attribute %s of <%s> exceeds the "
					       "limit of %zu bytes",
					       attrs[i].name, lasync_xml_name(x),
					       x->max_text);
		v = x->tx.p + a->off;	/* stored: within the cap */
		while (start < end && is_ws((unsigned char)v[start]))
			start++;
		while (end > start && is_ws((unsigned char)v[end - 1]))
			end--;
		if (end > start)
			attrs[i].value =
				lasync_arena_strndup(arena, v + start, end - start);
	}
	return 0;
}

/* lasync_xml_skip - consume the current element whole */
int lasync_xml_skip(lasync_xml *x)
{
	const xev *e;
	unsigned target;

	if (x->failed)
		return -1;
	if (x->depth == 0)
		return lasync_xml_fail(x, "no element to skip");
	target = x->depth - 1;
	for (;;) {
		e = next_event(x);
		if (e == NULL)
			return input_ended(x);
		switch (e->type) {
		case EV_START:
			if (push(x, e) < 0)
				return -1;
			break;
		case EV_END:
			pop(x);
			if (x->depth == target)
				return 0;
			break;
		case EV_TEXT:
			break;
		default:
			return event_fail(x, e);
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

/* lasync_xml_line - the line of the node read last, else the parser's */
int lasync_xml_line(const lasync_xml *x)
{
	return x->line > 0 ? x->line : parser_line(x);
}
