/*
 * test_notifier_mail.c - services/notifier/notifier_mail.c: the MIME form
 * of the notifier's e-mails (R21: text + HTML, UTF-8, parent-supplied text
 * never in a header unencoded).
 *
 * Encoders are checked by decoding their output here (quoted-printable and
 * RFC 2047 "B" words) and by the properties that matter on the wire: 7-bit
 * only, lines of at most 76 (bodies) or 998 (headers) characters, CRLF
 * line ends, no bare CR or LF, nothing a parent typed able to start a new
 * header line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lasync_mem.h"
#include "notifier.h"

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* qp_decode - quoted-printable (CRLF lines) back to text with '\n' */
static char *qp_decode(const char *s)
{
	char *out = lasync_xmalloc(strlen(s) + 1);
	size_t k = 0;

	for (const char *p = s; *p;) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 3;
		} else if (p[0] == '=') {
			assert_true(hexv(p[1]) >= 0 && hexv(p[2]) >= 0);
			out[k++] = (char)(hexv(p[1]) * 16 + hexv(p[2]));
			p += 3;
		} else if (p[0] == '\r' && p[1] == '\n') {
			out[k++] = '\n';
			p += 2;
		} else {
			assert_true(*p != '\r' && *p != '\n');
			out[k++] = *p++;
		}
	}
	out[k] = '\0';
	return out;
}

static void check_lines(const char *s, size_t max)
{
	size_t col = 0;

	for (const char *p = s; *p; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			/* no trailing white space before a line end */
			if (p > s)
				assert_true(p[-1] != ' ' && p[-1] != '\t');
			p++;
			col = 0;
			continue;
		}
		assert_true(*p != '\n');
		col++;
		if (col > max)
			fail_msg("line longer than %zu in: %s", max, s);
	}
}

static void test_quoted_printable(void **state)
{
	static const char *const cases[] = {
		"",
		"plain ASCII text",
		"Zoë en Sára: één → twee",
		"a = b",
		"trailing space \nand tab\t\nend",
		".leading dot\n..two",
		"From the start\nFrom here",
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"éééééééééééééééééééééééééééééééééééééééééééééééééééééé",
		"line with CRLF\r\nnext",
		"<b>tags</b> & \"quotes\"",
		"=_lasync_boundary lookalike",
		"ends with =",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *qp = notifier_mail_qp(cases[i]);
		char *back = qp_decode(qp);
		char *want = lasync_xstrdup(cases[i]);
		char *w = want;

		/* CRLF in the input comes back as LF */
		for (char *r = want; *r; r++)
			if (!(r[0] == '\r' && r[1] == '\n'))
				*w++ = *r;
		*w = '\0';
		check_lines(qp, 76);
		if (strcmp(back, want) != 0)
			fail_msg("round trip of \"%s\": got \"%s\"", cases[i],
				 back);
		assert_null(strstr(qp, "=_"));
		assert_null(strstr(qp, "\r\n."));
		assert_true(qp[0] != '.');
		assert_null(strstr(qp, "\r\nFrom "));
		free(qp);
		free(back);
		free(want);
	}
}

static int b64v(char c)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(t, c);

	return c && p ? (int)(p - t) : -1;
}

/* words_decode - the text of a header value of "=?UTF-8?B?...?=" words
 * (folding white space between them dropped) or plain text */
static char *words_decode(const char *v)
{
	char *out = lasync_xmalloc(strlen(v) + 1);
	size_t k = 0;
	const char *p = v;

	if (strncmp(p, "=?", 2) != 0) {
		assert_null(strstr(v, "\r\n"));
		free(out);
		return lasync_xstrdup(v);
	}
	while (*p) {
		while (*p == '\r' || *p == '\n' || *p == ' ')
			p++;
		assert_int_equal(strncmp(p, "=?UTF-8?B?", 10), 0);
		p += 10;
		const char *end = strstr(p, "?=");

		assert_non_null(end);
		assert_true(end - p + 12 <= 75);
		for (; p < end; p += 4) {
			int a = b64v(p[0]), b = b64v(p[1]);
			int c = p[2] == '=' ? -2 : b64v(p[2]);
			int d = p[3] == '=' ? -2 : b64v(p[3]);

			assert_true(a >= 0 && b >= 0);
			out[k++] = (char)(a << 2 | b >> 4);
			if (c >= 0)
				out[k++] = (char)((b & 15) << 4 | c >> 2);
			if (c >= 0 && d >= 0)
				out[k++] = (char)((c & 3) << 6 | d);
		}
		p = end + 2;
	}
	out[k] = '\0';
	return out;
}

static void test_r21_subject_is_sanitised_and_encoded(void **state)
{
	static const struct {
		const char *in, *want;
		bool plain;
	} cases[] = {
		{"Wijziging doorgegeven", "Wijziging doorgegeven", true},
		{"Ouder van Zoë", "Ouder van Zoë", false},
		{"Emma\r\nBcc: attacker@example.com", "Emma Bcc: attacker@example.com", true},
		{"Emma\nTo: x@y.nl\r\n\r\nbody", "Emma To: x@y.nl body", true},
		{"tab\there  and   spaces ", "tab here and spaces", true},
		{"NEL\xc2\x85here", "NEL here", true},
		{"LS\xe2\x80\xa8here", "LS here", true},
		{"=?UTF-8?B?SGFjaw==?=", "=?UTF-8?B?SGFjaw==?=", false},
		{"Wijziging doorgegeven door ouder/verzorger van Emma de Vries en Sara de Vries",
		 "Wijziging doorgegeven door ouder/verzorger van Emma de Vries en Sara de Vries",
		 false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *h = notifier_mail_encode_header("Subject", cases[i].in);
		char *v, *text;

		assert_int_equal(strncmp(h, "Subject: ", 9), 0);
		v = h + 9;
		check_lines(h, 998);
		/* A fold is CRLF + space; nothing else may follow a line end. */
		for (char *p = strstr(h, "\r\n"); p; p = strstr(p + 2, "\r\n"))
			assert_int_equal(p[2], ' ');
		assert_int_equal(strncmp(v, "=?", 2) != 0, cases[i].plain);
		text = words_decode(v);
		if (strcmp(text, cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].in,
				 text, cases[i].want);
		free(text);
		free(h);
	}
}

static void test_subject_is_capped_on_a_character(void **state)
{
	char in[1001];
	char *h, *text;

	(void)state;
	for (int i = 0; i < 500; i++)
		memcpy(in + 2 * i, "é", 2);
	in[1000] = '\0';
	h = notifier_mail_encode_header("Subject", in);
	text = words_decode(h + 9);
	assert_true(strlen(text) <= 200);
	assert_int_equal(strlen(text) % 2, 0); /* whole 2-byte characters */
	free(text);
	free(h);
}

static void test_html_escape(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"", ""},
		{"Zoë", "Zoë"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"a & b", "a &amp; b"},
		{"\"x\" 'y'", "&quot;x&quot; &#39;y&#39;"},
		{"&amp;", "&amp;amp;"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = notifier_mail_html_escape(cases[i].in);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].in,
				 got, cases[i].want);
		free(got);
	}
}

static void test_address_ok(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} cases[] = {
		{"ict@delinde.example.nl", true},
		{"F.Jansen+ouder@Example.NL", true},
		{"a@b.nl", true},
		{"a@b", false},
		{"@b.nl", false},
		{"a@.nl", false},
		{"a@b.nl.", false},
		{"a@@b.nl", false},
		{"a b@c.nl", false},
		{"a@b.nl\r\nBcc: x@y.nl", false},
		{"<a@b.nl>", false},
		{"\"a\"@b.nl", false},
		{"a,b@c.nl", false},
		{"zoë@b.nl", false},
		{"", false},
		{NULL, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (notifier_mail_address_ok(cases[i].in) != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].in,
				 !cases[i].want, cases[i].want);
}

static void test_from_header(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"noreply@school.nl", "noreply@school.nl"},
		{"Ouderportaal <noreply@school.nl>", "Ouderportaal <noreply@school.nl>"},
		{"Basisschool \"De Linde\" <a@b.nl>", "Basisschool  De Linde  <a@b.nl>"},
		{"Zoë's school <a@b.nl>", "=?UTF-8?B?Wm/DqydzIHNjaG9vbA==?= <a@b.nl>"},
		{"Name <not an address>", NULL},
		{"Name <a@b.nl> trailing", NULL},
		{"", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = notifier_mail_from(cases[i].in);

		if (!lasync_streq(got, cases[i].want))
			fail_msg("%s: got %s, want %s", cases[i].in,
				 got ? got : "NULL",
				 cases[i].want ? cases[i].want : "NULL");
		free(got);
	}
}

static void test_r21_message_id_is_stable(void **state)
{
	char a[200], b[200], c[200], d[200];

	(void)state;
	notifier_mail_message_id("delinde", "suggestion", "s-1", "mail.nl", a,
				 sizeof(a));
	notifier_mail_message_id("delinde", "suggestion", "s-1", "mail.nl", b,
				 sizeof(b));
	notifier_mail_message_id("delinde", "suggestion", "s-2", "mail.nl", c,
				 sizeof(c));
	notifier_mail_message_id("anker", "suggestion", "s-1", "mail.nl", d,
				 sizeof(d));
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_int_equal(a[0], '<');
	assert_non_null(strstr(a, "@mail.nl>"));
	assert_int_equal(strncmp(a, "<suggestion.", 12), 0);
}

static void test_render(void **state)
{
	const char *to[] = {"ict@delinde.example.nl", "bad address@x.nl",
			    "m.smit@delinde.example.nl"};
	notifier_mail m = {
		.from = "Ouderportaal <noreply@delinde.example.nl>",
		.to = to,
		.n_to = 3,
		.subject = "Ouder van Zoë\r\nBcc: x@evil.example",
		.message_id = "<suggestion.1@delinde.example.nl>",
		.date_ms = 1795940455000LL,
		.text = "Tekst met één regel.\n",
		.html = "<p>HTML</p>\n",
	};
	size_t len;
	char *msg = notifier_mail_render(&m, &len), *body;
	char boundary[100];

	(void)state;
	assert_int_equal(strlen(msg), len);
	check_lines(msg, 998);
	body = strstr(msg, "\r\n\r\n");
	assert_non_null(body);
	*body = '\0'; /* headers only from here */
	assert_non_null(strstr(msg, "From: Ouderportaal <noreply@delinde.example.nl>\r\n"));
	assert_non_null(strstr(msg, "To: ict@delinde.example.nl,\r\n m.smit@delinde.example.nl\r\n"));
	assert_null(strstr(msg, "bad address"));
	assert_non_null(strstr(msg, "Date: Sun, 29 Nov 2026 08:20:55 +0000\r\n"));
	assert_non_null(strstr(msg, "Message-ID: <suggestion.1@delinde.example.nl>\r\n"));
	assert_non_null(strstr(msg, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
	assert_null(strstr(msg, "\r\nBcc:"));
	assert_null(strstr(msg, "evil"));
	const char *b = strstr(msg, "boundary=\"");

	assert_non_null(b);
	snprintf(boundary, sizeof(boundary), "--%.*s", (int)strcspn(b + 10, "\""),
		 b + 10);
	*body = '\r';
	/* two parts and the closing boundary, in that order */
	char *p1 = strstr(body, boundary), *p2, *end;

	assert_non_null(p1);
	assert_non_null(strstr(p1, "Content-Type: text/plain; charset=UTF-8\r\n"
				   "Content-Transfer-Encoding: quoted-printable"));
	p2 = strstr(p1 + 1, boundary);
	assert_non_null(p2);
	assert_non_null(strstr(p2, "Content-Type: text/html; charset=UTF-8\r\n"));
	end = strstr(p2 + 1, boundary);
	assert_non_null(end);
	assert_int_equal(strncmp(end + strlen(boundary), "--\r\n", 4), 0);
	assert_non_null(strstr(p1, "=C3=A9=C3=A9n"));
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted_printable),
		cmocka_unit_test(test_r21_subject_is_sanitised_and_encoded),
		cmocka_unit_test(test_subject_is_capped_on_a_character),
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_address_ok),
		cmocka_unit_test(test_from_header),
		cmocka_unit_test(test_r21_message_id_is_stable),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
