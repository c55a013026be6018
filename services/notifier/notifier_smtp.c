/*
 * notifier_smtp.c - send one message over SMTP through libcurl.
 *
 * The transfer runs on the daemon's curl multi handle (lasync_http_adopt),
 * so the loop drives it like a portal request and never blocks on it.
 * smtp:// and smtps:// are allowed; with starttls an smtp:// session must
 * switch to TLS (CURLUSESSL_ALL) or fail.  TLS peers are always verified.
 * AUTH credentials are secret references resolved per message and wiped
 * once libcurl has copied them.  A recipient the server refuses does not
 * stop the others (CURLOPT_MAIL_RCPT_ALLOWFAILS); only when every one is
 * refused does the transfer fail, with the server's 5xx.
 *
 * notifier_smtp_judge() decides what a failure means for the job engine:
 * 4xx replies, connection trouble and timeouts are transient; 5xx replies
 * and configuration errors (protocol, TLS verification, no STARTTLS) are
 * permanent.  Reasons carry codes only, never the server's text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"
#include "lasync_secret.h"
#include "notifier.h"

struct notifier_smtp_xfer {
	lasync_http_xfer *x;
	char *msg;
	size_t len, pos;
	struct curl_slist *rcpt;
	notifier_smtp_fn fn;
	void *ctx;
};

notifier_smtp_verdict notifier_smtp_judge(CURLcode c, long reply,
					  char *reason, size_t len)
{
	if (c == CURLE_OK) {
		snprintf(reason, len, "accepted (reply %ld)", reply);
		return NOTIFIER_SMTP_SENT;
	}
	snprintf(reason, len, "smtp reply %ld, curl error %d: %s", reply,
		 (int)c, curl_easy_strerror(c));
	if (reply >= 400 && reply < 500)
		return NOTIFIER_SMTP_TRANSIENT;
	if (reply >= 500 && reply < 600)
		return NOTIFIER_SMTP_PERMANENT;
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_PARTIAL_FILE:
	case CURLE_UPLOAD_FAILED:
	case CURLE_AGAIN:
		return NOTIFIER_SMTP_TRANSIENT;
	default:
		/* URL, protocol, TLS verification, no STARTTLS offered,
		 * login refused without a reply code: only an operator's
		 * change helps. */
		return NOTIFIER_SMTP_PERMANENT;
	}
}

int notifier_smtp_address(const char *from, char *buf, size_t len)
{
	const char *lt = strrchr(from, '<'), *gt;
	size_t n;

	if (lt == NULL) {
		n = strlen(from);
		lt = from;
	} else {
		gt = strchr(lt, '>');
		if (gt == NULL || gt[1] != '\0')
			return -1;
		lt++;
		n = (size_t)(gt - lt);
	}
	if (n + 1 > len)
		return -1;
	memcpy(buf, lt, n);
	buf[n] = '\0';
	return notifier_mail_address_ok(buf) ? 0 : -1;
}

/* on_read - libcurl's upload callback: the next piece of the message */
static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	notifier_smtp_xfer *sx = ud;
	size_t want = size * nitems, left = sx->len - sx->pos;
	size_t n = want < left ? want : left;

	memcpy(buf, sx->msg + sx->pos, n);
	sx->pos += n;
	return n;
}

/* xfer_free - the message copy and recipient list (libcurl frees the handle) */
static void xfer_free(notifier_smtp_xfer *sx)
{
	curl_slist_free_all(sx->rcpt);
	free(sx->msg);
	free(sx);
}

/* on_done - judge the transfer and tell the sender */
static void on_done(void *ctx, const lasync_http_result *r)
{
	notifier_smtp_xfer *sx = ctx;
	char reason[256];
	notifier_smtp_verdict v = notifier_smtp_judge(r->curl, r->status,
						      reason, sizeof(reason));

	sx->fn(sx->ctx, v, reason);
	xfer_free(sx);
}

/* set_secret - resolve ref and hand the value to libcurl (which copies
 * it); the value is wiped at once */
static int set_secret(CURL *e, CURLoption opt, const char *ref, char *err,
		      size_t errlen)
{
	char *v;

	if (ref == NULL || ref[0] == '\0')
		return 0;
	v = lasync_secret_resolve(ref, err, errlen);
	if (v == NULL)
		return -1;
	curl_easy_setopt(e, opt, v);
	lasync_secret_free(v);
	return 0;
}

notifier_smtp_xfer *notifier_smtp_send(lasync_http *h,
				       const notifier_smtp_cfg *cfg,
				       const char *const *rcpt, size_t n,
				       const char *msg, size_t len,
				       notifier_smtp_fn fn, void *ctx,
				       char *err, size_t errlen)
{
	notifier_smtp_xfer *sx = lasync_xcalloc(1, sizeof(*sx));
	CURL *e = curl_easy_init();
	char from[300];

	if (e == NULL)
		lasync_panic_oom();
	sx->fn = fn;
	sx->ctx = ctx;
	sx->msg = lasync_xmalloc(len + 1);
	memcpy(sx->msg, msg, len);
	sx->len = len;
	for (size_t i = 0; i < n; i++) {
		char a[300];

		snprintf(a, sizeof(a), "<%s>", rcpt[i]);
		sx->rcpt = curl_slist_append(sx->rcpt, a);
	}
	snprintf(from, sizeof(from), "<%s>", cfg->envelope_from);
	if (set_secret(e, CURLOPT_USERNAME, cfg->user_ref, err, errlen) ||
	    set_secret(e, CURLOPT_PASSWORD, cfg->password_ref, err,
		       errlen)) {
		curl_easy_cleanup(e);
		xfer_free(sx);
		return NULL;
	}
	curl_easy_setopt(e, CURLOPT_URL, cfg->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, sx->rcpt);
	/* One refused recipient must not stop the mail to the others. (The
	 * option's first spelling; later libcurls keep it as an alias.) */
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, sx);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_USE_SSL,
			 cfg->starttls ? (long)CURLUSESSL_ALL
				       : (long)CURLUSESSL_NONE);
	if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	sx->x = lasync_http_adopt(h, e, 64 * 1024, on_done, sx);
	return sx;
}

void notifier_smtp_cancel(lasync_http *h, notifier_smtp_xfer *sx)
{
	if (sx == NULL)
		return;
	lasync_http_cancel(h, sx->x);
	xfer_free(sx);
}
