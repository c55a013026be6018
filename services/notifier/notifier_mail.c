/*
 * notifier_mail.c - the MIME form of the notifier's e-mails.
 *
 * notifier_mail_render() writes one multipart/alternative message (a
 * text/plain and a text/html part, UTF-8, quoted-printable) with From, To,
 * Subject, Date, Message-ID and MIME-Version; CRLF line ends throughout and
 * nothing but 7-bit ASCII, so any SMTP server takes it as it is.
 *
 * Parent-supplied text never reaches a header as it is: the only header
 * that carries it is the Subject, which notifier_mail_encode_header()
 * sanitises (every control character, CR and LF included, becomes a space)
 * and writes as RFC 2047 encoded-words whenever it is not plain short
 * ASCII.  Addresses come from the tenant and the portal, and only ones
 * that notifier_mail_address_ok() accepts are written.  Bodies are
 * quoted-printable, whose output can never hold the "=_" that starts the
 * part boundary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lasync_event.h"
#include "lasync_mem.h"
#include "notifier.h"

#define SUBJECT_MAX 200 /* bytes of sanitised subject text */
#define WORD_BYTES 39	/* input bytes per encoded-word: 52 base64 chars */

static const char hexd[] = "0123456789ABCDEF";

/* --- quoted-printable ------------------------------------------------ */

/* qp_line - encode one line (no line end) into f, with soft breaks so no
 * output line exceeds 76 characters */
static void qp_line(FILE *f, const unsigned char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = s[i];
		bool last = i + 1 == n;
		/* Literal: printable ASCII but '=', and a space or tab unless
		 * it would end the line. */
		bool lit = (ch >= 33 && ch <= 126 && ch != '=') ||
			   ((ch == ' ' || ch == '\t') && !last);

		/* Room for the token plus a soft-break '=' (unless last). */
		if (col + (lit ? 1u : 3u) > (last ? 76u : 75u)) {
			fputs("=\r\n", f);
			col = 0;
		}
		/* Never a '.' or "From " starting a line (the SMTP dot and
		 * the mbox "From " conventions). */
		if (col == 0 && (ch == '.' || (ch == 'F' && n - i >= 5 &&
						memcmp(s + i, "From ", 5) == 0)))
			lit = false;
		if (lit) {
			fputc(ch, f);
			col++;
		} else {
			fputc('=', f);
			fputc(hexd[ch >> 4], f);
			fputc(hexd[ch & 15], f);
			col += 3;
		}
	}
}

char *notifier_mail_qp(const char *s)
{
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);
	const char *p = s;

	if (f == NULL)
		lasync_panic_oom();
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		qp_line(f, (const unsigned char *)p, n);
		if (nl == NULL)
			break;
		fputs("\r\n", f);
		p = nl + 1;
	}
	fclose(f);
	return out;
}

/* --- headers --------------------------------------------------------- */

static void b64(FILE *f, const unsigned char *s, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		fputc(t[(v >> 18) & 63], f);
		fputc(t[(v >> 12) & 63], f);
		fputc(i + 1 < n ? t[(v >> 6) & 63] : '=', f);
		fputc(i + 2 < n ? t[v & 63] : '=', f);
	}
}

/* utf8_len - length of the UTF-8 sequence starting with byte c (1 for
 * anything invalid, so progress is always made) */
static size_t utf8_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* sanitise - copy of s with control characters (C0, DEL, C1, U+2028,
 * U+2029) as spaces, runs of spaces collapsed, trimmed, at most
 * SUBJECT_MAX bytes cut at a character boundary */
static char *sanitise(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char *out = lasync_xmalloc(strlen((const char *)p) + 1);
	size_t k = 0;

	while (*p) {
		size_t l = utf8_len(*p), avail = strnlen((const char *)p, l);
		bool ctl = *p < 0x20 || *p == 0x7f ||
			   (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) ||
			   (p[0] == 0xe2 && p[1] == 0x80 &&
			    (p[2] == 0xa8 || p[2] == 0xa9));

		if (avail < l)
			break; /* a truncated sequence at the end */
		if (ctl || *p == ' ') {
			if (k > 0 && out[k - 1] != ' ')
				out[k++] = ' ';
			p += ctl ? l : 1;
			continue;
		}
		if (k + l > SUBJECT_MAX)
			break;
		memcpy(out + k, p, l);
		k += l;
		p += l;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	return out;
}

char *notifier_mail_encode_header(const char *name, const char *value)
{
	char *clean = sanitise(value), *out = NULL;
	size_t olen = 0, n = strlen(clean);
	FILE *f = open_memstream(&out, &olen);
	bool plain = n <= 70 && strstr(clean, "=?") == NULL;

	if (f == NULL)
		lasync_panic_oom();
	for (size_t i = 0; plain && i < n; i++)
		plain = clean[i] >= 0x20 && clean[i] < 0x7f;
	fprintf(f, "%s: ", name);
	if (plain) {
		fputs(clean, f);
	} else {
		const unsigned char *p = (const unsigned char *)clean;
		size_t i = 0;

		while (i < n) {
			size_t take = 0;

			/* Whole characters only: a decoder joins adjacent
			 * encoded-words, but each must be valid UTF-8. */
			while (i + take < n) {
				size_t l = utf8_len(p[i + take]);

				if (take + l > WORD_BYTES)
					break;
				take += l;
			}
			if (i > 0)
				fputs("\r\n ", f);
			fputs("=?UTF-8?B?", f);
			b64(f, p + i, take);
			fputs("?=", f);
			i += take;
		}
	}
	fclose(f);
	free(clean);
	return out;
}

char *notifier_mail_html_escape(const char *s)
{
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);

	if (f == NULL)
		lasync_panic_oom();
	for (const char *p = s ? s : ""; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*p, f);
		}
	}
	fclose(f);
	return out;
}

bool notifier_mail_address_ok(const char *a)
{
	const char *at;
	size_t n;

	if (a == NULL)
		return false;
	n = strlen(a);
	at = strchr(a, '@');
	if (n < 3 || n > 254 || at == NULL || at == a || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || strchr(at + 1, '.') == NULL ||
	    at[1] == '.' || a[n - 1] == '.')
		return false;
	for (const char *p = a; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),:;<>[\\]", ch))
			return false;
	}
	return true;
}

void notifier_mail_message_id(const char *tenant, const char *kind,
			      const char *ref, const char *domain, char *buf,
			      size_t len)
{
	lasync_digest *d = lasync_digest_new();
	char hex[LASYNC_ID_LEN];

	lasync_digest_add_str(d, "notifier-message-id-v1");
	lasync_digest_add_str(d, tenant);
	lasync_digest_add_str(d, kind);
	lasync_digest_add_str(d, ref);
	lasync_digest_final(d, hex);
	snprintf(buf, len, "<%s.%s@%s>", kind, hex, domain);
}

/* date - RFC 5322 date of unix ms t, in UTC (names are English by the
 * standard, whatever the locale) */
static void date(int64_t t_ms, char *buf, size_t len)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* part - one quoted-printable UTF-8 body part */
static void part(FILE *f, const char *boundary, const char *ctype,
		 const char *body)
{
	char *qp = notifier_mail_qp(body ? body : "");

	fprintf(f,
		"--%s\r\n"
		"Content-Type: %s; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"%s\r\n",
		boundary, ctype, qp);
	free(qp);
}

char *notifier_mail_render(const notifier_mail *m, size_t *len)
{
	char *out = NULL, *subject, boundary[64], when[64], hex[LASYNC_ID_LEN];
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);
	lasync_digest *d = lasync_digest_new();

	if (f == NULL)
		lasync_panic_oom();
	lasync_digest_add_str(d, m->message_id);
	lasync_digest_add_i64(d, m->date_ms);
	lasync_digest_final(d, hex);
	snprintf(boundary, sizeof(boundary), "=_lasync_%s", hex);
	date(m->date_ms, when, sizeof(when));
	subject = notifier_mail_encode_header("Subject", m->subject);
	fprintf(f, "From: %s\r\nTo: ", m->from);
	for (size_t i = 0, k = 0; i < m->n_to; i++) {
		if (!notifier_mail_address_ok(m->to[i]))
			continue;
		fprintf(f, "%s%s", k++ ? ",\r\n " : "", m->to[i]);
	}
	fprintf(f,
		"\r\n%s\r\n"
		"Date: %s\r\n"
		"Message-ID: %s\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Language: nl\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"Content-Type: multipart/alternative;\r\n"
		" boundary=\"%s\"\r\n"
		"\r\n",
		subject, when, m->message_id, boundary);
	part(f, boundary, "text/plain", m->text);
	part(f, boundary, "text/html", m->html);
	fprintf(f, "--%s--\r\n", boundary);
	fclose(f);
	free(subject);
	*len = olen;
	return out;
}

char *notifier_mail_from(const char *spec)
{
	char addr[256], *name, *enc, *out;
	const char *lt = strrchr(spec, '<');
	size_t n;

	if (notifier_smtp_address(spec, addr, sizeof(addr)) != 0)
		return NULL;
	if (lt == NULL)
		return lasync_xstrdup(addr);
	n = (size_t)(lt - spec);
	while (n > 0 && spec[n - 1] == ' ')
		n--;
	if (n == 0)
		return lasync_xstrdup(addr);
	name = lasync_xstrndup(spec, n);
	/* The display name goes through the same encoder as the Subject:
	 * sanitised, and RFC 2047 encoded unless it is plain ASCII. */
	enc = notifier_mail_encode_header("X", name);
	for (char *p = enc + 3; *p; p++)
		if (strchr("\"(),:;<>@[\\]", *p) && strncmp(enc + 3, "=?", 2))
			*p = ' '; /* specials in a plain phrase */
	out = lasync_xasprintf("%s <%s>", enc + 3, addr);
	free(enc);
	free(name);
	return out;
}
