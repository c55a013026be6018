/*
 * test_xml.c - lib/lasync_xml.c: the safe streaming reader.
 *
 * Table-driven: each row is a document and either the trace a generic walk
 * produces or the error it must fail with.  The walk treats elements whose
 * name starts with 't' as text leaves, 's' as skipped subtrees and
 * everything else as containers, and writes name(children) / name=text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lasync_arena.h"
#include "lasync_mem.h"
#include "lasync_xml.h"

/* walk - trace the children of the innermost open element into out */
static int walk(lasync_xml *x, char *out, size_t n)
{
	int rc;

	while ((rc = lasync_xml_child(x)) > 0) {
		const char *name = lasync_xml_name(x);
		size_t o = strlen(out);

		snprintf(out + o, n - o, "%s%s", o && out[o - 1] != '(' ? "," : "",
			 name);
		if (name[0] == 't') {
			const char *t;

			if (lasync_xml_text(x, &t, NULL) < 0)
				return -1;
			o = strlen(out);
			snprintf(out + o, n - o, "=%s", t);
		} else if (name[0] == 's') {
			if (lasync_xml_skip(x) < 0)
				return -1;
		} else {
			o = strlen(out);
			snprintf(out + o, n - o, "(");
			if (walk(x, out, n) < 0)
				return -1;
			o = strlen(out);
			snprintf(out + o, n - o, ")");
		}
	}
	return rc;
}

/* run - walk a whole document: 0 with the trace, or -1 with err */
static int run(const char *doc, size_t len, const lasync_xml_limits *lim,
	       char *out, size_t n, char *err, size_t errlen)
{
	lasync_xml *x = lasync_xml_new("doc", doc, len, lim, err, errlen);
	int rc;

	out[0] = '\0';
	if (x == NULL)
		return -1;
	rc = walk(x, out, n);
	if (rc == 0)
		rc = lasync_xml_finish(x);
	lasync_xml_free(x);
	return rc;
}

typedef struct xml_case {
	const char *name;
	const char *input;
	const char *want;	/* trace, or NULL when an error is wanted */
	const char *want_err;	/* substring of the error */
} xml_case;

#define BILLION_LAUGHS                                                     \
	"<?xml version=\"1.0\"?>\n"                                        \
	"<!DOCTYPE lolz [\n"                                               \
	" <!ENTITY lol \"lol\">\n"                                         \
	" <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"   \
	" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n" \
	"]>\n<lolz>&lol3;</lolz>\n"

static const xml_case cases[] = {
	{"nested_text_and_containers",
	 "<?xml version=\"1.0\"?>\n<r>\n  <a><ta> x </ta><tb>y</tb></a>\n"
	 "  <b/>\n</r>\n",
	 "r(a(ta=x,tb=y),b())", NULL},
	{"empty_text_element", "<r><ta/><tb></tb></r>", "r(ta=,tb=)", NULL},
	{"predefined_entities_and_char_refs",
	 "<r><ta>a &amp; b &lt;c&gt; &#233;</ta></r>", "r(ta=a & b <c> \xc3\xa9)",
	 NULL},
	{"cdata_is_text", "<r><ta><![CDATA[<x>]]></ta></r>", "r(ta=<x>)", NULL},
	{"comments_and_pis_ignored",
	 "<!-- c --><?pi x?><r><!-- c --><ta>a<!-- c -->b</ta><?pi?></r>",
	 "r(ta=ab)", NULL},
	{"skip_subtree", "<r><s1><x><y>t</y></x><z/></s1><ta>1</ta></r>",
	 "r(s1,ta=1)", NULL},
	{"utf8_bom_accepted", "\xEF\xBB\xBF<r><ta>1</ta></r>", "r(ta=1)", NULL},
	{"malformed_mismatched_tag", "<r>\n<a>\n</b>\n</r>", NULL,
	 "XML error"},
	{"malformed_truncated", "<r><a>", NULL, "XML error"},
	{"undeclared_entity_rejected", "<r><ta>&foo;</ta></r>", NULL,
	 "XML error"},
	{"doctype_billion_laughs_rejected", BILLION_LAUGHS, NULL,
	 "DOCTYPE not allowed"},
	{"doctype_after_comment_rejected",
	 "<?xml version=\"1.0\"?><!-- x --><!DOCTYPE r SYSTEM "
	 "\"http://example.invalid/x.dtd\"><r/>",
	 NULL, "DOCTYPE not allowed"},
	{"external_entity_rejected",
	 "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
	 NULL, "DOCTYPE not allowed"},
	{"utf16_rejected", "\xFF\xFE<\0r\0/\0>\0", NULL, "ASCII-compatible"},
	{"mixed_content_rejected", "<r><a>text<tb>1</tb></a></r>", NULL,
	 "unexpected text in <a>"},
	{"element_in_text_rejected", "<r><ta>x<b/></ta></r>", NULL,
	 "element <b> inside <ta>, where text was expected"},
	{"trailing_garbage_rejected", "<r/><r/>", NULL, "XML error"},
	{"text_after_root_rejected", "<r/>junk", NULL, "XML error"},
	{"empty_document_rejected", "", NULL, "empty document"},
	{"undeclared_prefix_rejected", "<p:r><ta>1</ta></p:r>", NULL,
	 "XML error"},
	/* an error raised while libxml2 is still in the middle of a chunk
	 * (found by fuzz_esis: stopping the parser there crashed libxml2) */
	{"bad_bytes_for_the_encoding_rejected",
	 "<?xml version=\"1.0\" encoding=\"UTF-7\"?>\n<r><ta>1</ta>"
	 "<tb>+\xff\xfe</tb><tc>3</tc></r>",
	 NULL, "XML error"},
	{"bad_utf8_rejected", "<r><ta>1</ta><tb>\xff\xfe</tb><tc>3</tc></r>",
	 NULL, "XML error"},
};

static void test_xml_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const xml_case *c = &cases[i];
		size_t len = strlen(c->input);
		char out[512], err[512] = "";
		int rc;

		if (strcmp(c->name, "utf16_rejected") == 0)
			len = 10;
		rc = run(c->input, len, NULL, out, sizeof(out), err,
			 sizeof(err));
		if (c->want != NULL) {
			if (rc != 0 || strcmp(out, c->want) != 0) {
				print_error("%s: got rc=%d trace %s err %s, "
					    "want %s\n",
					    c->name, rc, out, err, c->want);
				fail();
			}
		} else if (rc == 0 || strstr(err, c->want_err) == NULL) {
			print_error("%s: got rc=%d err \"%s\", want error "
				    "containing \"%s\"\n",
				    c->name, rc, err, c->want_err);
			fail();
		}
	}
}

/* limits: document size, text size, depth */
static void test_xml_limits(void **state)
{
	static const struct {
		const char *name;
		lasync_xml_limits lim;
		const char *input;
		const char *want_err;
	} rows[] = {
		{"oversize_document", {32, 0, 0},
		 "<r><ta>0123456789012345678901234567890</ta></r>",
		 "exceeds the limit of 32 bytes"},
		{"oversize_text", {0, 8, 0}, "<r><ta>0123456789</ta></r>",
		 "text of <ta> exceeds the limit of 8 bytes"},
		{"too_deep", {0, 0, 3}, "<r><a><b><c/></b></a></r>",
		 "nested deeper than 3 levels"},
		{"too_deep_in_skip", {0, 0, 3}, "<r><s><b><c/></b></s></r>",
		 "nested deeper than 3 levels"},
		{"oversize_text_in_skipped_element", {0, 8, 0},
		 "<r><s1><x>0123456789</x></s1></r>",
		 "at /r/s1/x: text of <x> exceeds the limit of 8 bytes"},
		{"oversize_text_in_container", {0, 8, 0},
		 "<r><a>0123456789</a></r>",
		 "text of <a> exceeds the limit of 8 bytes"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[256], err[256] = "";
		int rc = run(rows[i].input, strlen(rows[i].input),
			     &rows[i].lim, out, sizeof(out), err, sizeof(err));

		if (rc == 0 || strstr(err, rows[i].want_err) == NULL) {
			print_error("%s: got rc=%d err \"%s\", want \"%s\"\n",
				    rows[i].name, rc, err, rows[i].want_err);
			fail();
		}
	}
}

/* long documents: libxml2 gets them in chunks, and text, elements and
 * attributes that straddle a chunk boundary come out whole */
static void test_xml_chunks(void **state)
{
	enum { N = 400 };
	size_t cap = 1u << 20, len = 0;
	char *doc = lasync_xmalloc(cap), err[256] = "";
	lasync_arena *a = lasync_arena_new();
	lasync_xml *x;
	int i;

	(void)state;
	len += (size_t)snprintf(doc + len, cap - len, "<r>\n");
	for (i = 0; i < N; i++) {
		len += (size_t)snprintf(doc + len, cap - len,
					"  <item n=\"%d\"><t>", i);
		/* 700-1,300 bytes of text each: ~400 KB in all */
		for (int k = 0; k < 700 + (i * 37) % 600; k++)
			doc[len++] = (char)('a' + (i + k) % 26);
		len += (size_t)snprintf(doc + len, cap - len,
					"</t><u>&amp;%d</u></item>\n", i);
	}
	len += (size_t)snprintf(doc + len, cap - len, "</r>\n");
	assert_true(len > 5 * 64 * 1024 && len < cap);

	x = lasync_xml_new("d", doc, len, NULL, err, sizeof(err));
	assert_non_null(x);
	assert_int_equal(lasync_xml_child(x), 1);
	for (i = 0; i < N; i++) {
		lasync_xml_attr at[1] = {{"n", NULL}};
		const char *t;
		size_t n, want = 700 + (size_t)(i * 37) % 600;
		char num[32];

		assert_int_equal(lasync_xml_child(x), 1);
		assert_int_equal(lasync_xml_attrs(x, a, at, 1), 0);
		snprintf(num, sizeof(num), "%d", i);
		assert_string_equal(at[0].value, num);
		assert_int_equal(lasync_xml_child(x), 1);
		assert_int_equal(lasync_xml_text(x, &t, &n), 0);
		assert_int_equal(n, want);
		for (size_t k = 0; k < n; k++)
			if (t[k] != (char)('a' + (i + (int)k) % 26))
				fail_msg("item %d: byte %zu differs", i, k);
		assert_int_equal(lasync_xml_child(x), 1);
		assert_int_equal(lasync_xml_text(x, &t, NULL), 0);
		snprintf(num, sizeof(num), "&%d", i);
		assert_string_equal(t, num);
		assert_int_equal(lasync_xml_child(x), 0);
	}
	assert_int_equal(lasync_xml_child(x), 0);
	assert_int_equal(lasync_xml_finish(x), 0);
	lasync_xml_free(x);
	lasync_arena_free(a);
	free(doc);
}

/* characters of more than one byte, and a declared Latin-1 document,
 * come out whole in UTF-8 wherever a chunk boundary cuts them */
static void test_xml_chunks_multibyte(void **state)
{
	static const struct {
		const char *decl, *unit, *want;	/* want: unit in UTF-8 */
	} rows[] = {
		{"", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
		{"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>", "caf\xe9",
		 "caf\xc3\xa9"},
	};

	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		size_t cap = 1u << 20, len = 0, ul = strlen(rows[r].unit);
		size_t wl = strlen(rows[r].want);
		char *doc = lasync_xmalloc(cap), err[256] = "";
		lasync_xml *x;
		int i, n = 0;

		len += (size_t)snprintf(doc, cap, "%s<r>", rows[r].decl);
		/* texts of 1,001 units: their ends fall anywhere in a unit */
		while (len < 300 * 1024) {
			len += (size_t)snprintf(doc + len, cap - len, "<t>");
			for (i = 0; i < 1001; i++, len += ul)
				memcpy(doc + len, rows[r].unit, ul);
			len += (size_t)snprintf(doc + len, cap - len, "</t>");
			n++;
		}
		len += (size_t)snprintf(doc + len, cap - len, "</r>");
		x = lasync_xml_new("d", doc, len, NULL, err, sizeof(err));
		assert_non_null(x);
		assert_int_equal(lasync_xml_child(x), 1);
		for (i = 0; i < n; i++) {
			const char *t;
			size_t tl;

			assert_int_equal(lasync_xml_child(x), 1);
			if (lasync_xml_text(x, &t, &tl) != 0)
				fail_msg("row %zu text %d: %s", r, i, err);
			assert_int_equal(tl, 1001 * wl);
			for (size_t k = 0; k < tl; k += wl)
				if (memcmp(t + k, rows[r].want, wl) != 0)
					fail_msg("row %zu text %d: byte %zu", r, i,
						 k);
		}
		assert_int_equal(lasync_xml_child(x), 0);
		assert_int_equal(lasync_xml_finish(x), 0);
		lasync_xml_free(x);
		free(doc);
	}
}

/* whitespace between elements is skipped whatever its length, even past
 * the text cap; and what the caller finds wrong before a malformation
 * further on is the error reported (events before it are still read) */
static void test_xml_whitespace_and_error_order(void **state)
{
	lasync_xml_limits lim = {0, 8, 0};
	char doc[2048], out[256], err[256] = "";
	size_t len = 0;

	(void)state;
	len += (size_t)snprintf(doc, sizeof(doc), "<r>");
	memset(doc + len, ' ', 1000);
	len += 1000;
	len += (size_t)snprintf(doc + len, sizeof(doc) - len,
				"<ta>1</ta>\n\t</r>");
	assert_int_equal(run(doc, len, &lim, out, sizeof(out), err,
			     sizeof(err)),
			 0);
	assert_string_equal(out, "r(ta=1)");

	/* mixed content, then a broken end tag in the same chunk */
	snprintf(doc, sizeof(doc), "<r><a>text<tb>1</tb></a></r><junk");
	assert_int_equal(run(doc, strlen(doc), NULL, out, sizeof(out), err,
			     sizeof(err)),
			 -1);
	if (strstr(err, "unexpected text in <a>") == NULL)
		fail_msg("got \"%s\", want the mixed content first", err);
}

/* errors name the document, the line and the element path */
static void test_xml_error_path_and_line(void **state)
{
	const char *doc = "<r>\n <a>\n  <b>\n   <c>x</c>\n  </b>\n </a>\n</r>";
	char err[256] = "";
	lasync_xml *x = lasync_xml_new("getFoo", doc, strlen(doc), NULL, err,
				       sizeof(err));
	int rc;

	(void)state;
	assert_non_null(x);
	assert_int_equal(lasync_xml_child(x), 1);	/* r */
	assert_int_equal(lasync_xml_child(x), 1);	/* a */
	assert_int_equal(lasync_xml_child(x), 1);	/* b */
	assert_int_equal(lasync_xml_child(x), 1);	/* c */
	rc = lasync_xml_fail(x, "unknown element <%s>", lasync_xml_name(x));
	assert_int_equal(rc, -1);
	if (strcmp(err, "getFoo line 4 at /r/a/b/c: unknown element <c>") != 0) {
		print_error("got \"%s\", want \"getFoo line 4 at /r/a/b/c: "
			    "unknown element <c>\"\n",
			    err);
		fail();
	}
	/* a failed reader stays failed and keeps the first message */
	assert_int_equal(lasync_xml_child(x), -1);
	assert_true(lasync_xml_failed(x));
	lasync_xml_free(x);
}

/* namespaces: local names match, the namespace is checked on request */
static void test_xml_namespaces(void **state)
{
	const char *doc = "<e:Envelope xmlns:e=\"urn:e\"><e:Body>"
			  "<p:op xmlns:p=\"urn:p\"><child/></p:op>"
			  "</e:Body></e:Envelope>";
	char err[256] = "";
	lasync_xml *x = lasync_xml_new("d", doc, strlen(doc), NULL, err,
				       sizeof(err));

	(void)state;
	assert_non_null(x);
	assert_int_equal(lasync_xml_child(x), 1);
	assert_true(lasync_xml_is(x, "urn:e", "Envelope"));
	assert_true(lasync_xml_is(x, NULL, "Envelope"));
	assert_false(lasync_xml_is(x, "urn:p", "Envelope"));
	assert_false(lasync_xml_is(x, "", "Envelope"));
	assert_int_equal(lasync_xml_child(x), 1);
	assert_string_equal(lasync_xml_name(x), "Body");
	assert_int_equal(lasync_xml_child(x), 1);
	assert_true(lasync_xml_is(x, "urn:p", "op"));
	assert_int_equal(lasync_xml_child(x), 1);
	assert_true(lasync_xml_is(x, "", "child"));
	assert_null(lasync_xml_ns(x));
	assert_int_equal(lasync_xml_child(x), 0);	/* child was empty */
	assert_int_equal(lasync_xml_child(x), 0);	/* op ends */
	assert_int_equal(lasync_xml_child(x), 0);	/* Body ends */
	assert_int_equal(lasync_xml_child(x), 0);	/* Envelope ends */
	assert_int_equal(lasync_xml_finish(x), 0);
	lasync_xml_free(x);
}

/* text_dup: trimmed copy into the arena, empty becomes NULL */
static void test_xml_text_dup(void **state)
{
	const char *doc = "<r><a>  Emma \n</a><b>   </b></r>";
	char err[256] = "";
	lasync_arena *a = lasync_arena_new();
	lasync_xml *x = lasync_xml_new("d", doc, strlen(doc), NULL, err,
				       sizeof(err));
	const char *v = "unset";

	(void)state;
	assert_int_equal(lasync_xml_child(x), 1);
	assert_int_equal(lasync_xml_child(x), 1);
	assert_int_equal(lasync_xml_text_dup(x, a, &v), 0);
	assert_string_equal(v, "Emma");
	assert_int_equal(lasync_xml_child(x), 1);
	assert_int_equal(lasync_xml_text_dup(x, a, &v), 0);
	assert_null(v);
	assert_int_equal(lasync_xml_child(x), 0);
	assert_int_equal(lasync_xml_finish(x), 0);
	lasync_xml_free(x);
	lasync_arena_free(a);
}

/* attributes: the wanted ones are read, namespace declarations are not
 * attributes, anything else is an error; reading goes on after them */
static void test_xml_attrs(void **state)
{
	static const struct {
		const char *name;
		const char *input;	/* <r> holding one element <a> */
		const char *want;	/* "key=...|geheim=..." then the text */
		const char *want_err;
	} rows[] = {
		{"both_present",
		 "<r><a key=\" L1 \" geheim=\"true\">06-1</a></r>",
		 "key=L1|geheim=true|text=06-1", NULL},
		{"absent_and_empty_are_null", "<r><a geheim=\"  \"/></r>",
		 "key=-|geheim=-|text=", NULL},
		{"namespace_declarations_skipped",
		 "<r><p:a xmlns:p=\"urn:p\" xmlns=\"urn:d\" key=\"K\">t</p:a>"
		 "</r>",
		 "key=K|geheim=-|text=t", NULL},
		{"entities_in_values",
		 "<r><a key=\"a&amp;b&#233;\"/></r>", "key=a&b\xc3\xa9|geheim=-|"
		 "text=", NULL},
		{"unknown_attribute_rejected", "<r>\n<a key=\"1\" kleur=\"x\"/></r>",
		 NULL, "doc line 2 at /r/a: unknown attribute kleur on <a>"},
		{"qualified_attribute_rejected",
		 "<r xmlns:p=\"urn:p\"><a p:key=\"1\"/></r>", NULL,
		 "unknown attribute p:key on <a>"},
		{"oversize_value_rejected",
		 "<r><a key=\"0123456789012345678901234567890123456789\"/></r>",
		 NULL, "attribute key of <a> exceeds the limit of 32 bytes"},
	};
	lasync_xml_limits lim = {0, 32, 0};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "", got[256] = "";
		lasync_arena *a = lasync_arena_new();
		lasync_xml *x = lasync_xml_new("doc", rows[i].input,
					       strlen(rows[i].input), &lim, err,
					       sizeof(err));
		lasync_xml_attr at[2] = {{"key", NULL}, {"geheim", NULL}};
		const char *t = NULL;
		int rc = -1;

		assert_non_null(x);
		if (lasync_xml_child(x) == 1 && lasync_xml_child(x) == 1 &&
		    lasync_xml_attrs(x, a, at, 2) == 0 &&
		    lasync_xml_text(x, &t, NULL) == 0) {
			snprintf(got, sizeof(got), "key=%s|geheim=%s|text=%s",
				 at[0].value ? at[0].value : "-",
				 at[1].value ? at[1].value : "-", t);
			rc = lasync_xml_child(x) == 0 && lasync_xml_child(x) == 0
				     ? lasync_xml_finish(x)
				     : -1;
		}
		if (rows[i].want != NULL ? rc != 0 || strcmp(got, rows[i].want)
							    != 0
					 : rc == 0 || strstr(err,
							     rows[i].want_err) ==
							      NULL) {
			print_error("%s: got rc=%d \"%s\" err \"%s\", want "
				    "\"%s\"\n",
				    rows[i].name, rc, got, err,
				    rows[i].want ? rows[i].want
						 : rows[i].want_err);
			fail();
		}
		lasync_xml_free(x);
		lasync_arena_free(a);
	}
}

/* attributes are read only at an element's start, and n=0 means none */
static void test_xml_attrs_position(void **state)
{
	const char *doc = "<r a=\"1\"><b/><c/></r>";
	char err[256] = "";
	lasync_xml *x = lasync_xml_new("d", doc, strlen(doc), NULL, err,
				       sizeof(err));

	(void)state;
	assert_int_equal(lasync_xml_child(x), 1);	/* r */
	assert_int_equal(lasync_xml_child(x), 1);	/* b */
	assert_int_equal(lasync_xml_attrs(x, NULL, NULL, 0), 0);
	assert_int_equal(lasync_xml_child(x), 0);	/* b ends */
	assert_int_equal(lasync_xml_attrs(x, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "attributes of <r> read after its start"));
	lasync_xml_free(x);

	x = lasync_xml_new("d", doc, strlen(doc), NULL, err, sizeof(err));
	assert_int_equal(lasync_xml_child(x), 1);	/* r */
	assert_int_equal(lasync_xml_attrs(x, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "unknown attribute a on <r>"));
	lasync_xml_free(x);
}

/* libxml2's own error output never reaches stderr */
static void test_xml_errors_not_on_stderr(void **state)
{
	static const char *const docs[] = {
		"<r>\n<a>\n</b>\n</r>",
		"<?xml version=\"1.0\" encoding=\"bogus-enc\"?><r/>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>\xff\xfe</r>",
		"<r><ta>&foo;</ta></r>",
		"<p:r/>",
		"<r xmlns:p=\"rel/uri\"><p:a/></r>",
		&BILLION_LAUGHS[22], /* from <!DOCTYPE on, past the prolog */
	};
	char path[] = "/tmp/lasync_test_xml_XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	off_t size;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char out[256], err[256];

		run(docs[i], strlen(docs[i]), NULL, out, sizeof(out), err,
		    sizeof(err));
	}
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	size = lseek(fd, 0, SEEK_END);
	close(fd);
	unlink(path);
	if (size != 0) {
		print_error("got %lld bytes on stderr, want 0\n",
			    (long long)size);
		fail();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_table),
		cmocka_unit_test(test_xml_limits),
		cmocka_unit_test(test_xml_chunks),
		cmocka_unit_test(test_xml_chunks_multibyte),
		cmocka_unit_test(test_xml_whitespace_and_error_order),
		cmocka_unit_test(test_xml_error_path_and_line),
		cmocka_unit_test(test_xml_namespaces),
		cmocka_unit_test(test_xml_text_dup),
		cmocka_unit_test(test_xml_attrs),
		cmocka_unit_test(test_xml_attrs_position),
		cmocka_unit_test(test_xml_errors_not_on_stderr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
