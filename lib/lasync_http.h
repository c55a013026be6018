/*
 * lasync_http.h - HTTP client on one curl multi handle per process.
 *
 * Transfers run concurrently with connection reuse (keep-alive, a cap per
 * host); the daemon's loop waits in lasync_http_wait() for sockets, its own
 * extra descriptors (Kafka, signals) or a timeout, then calls
 * lasync_http_perform(), which runs completion callbacks.  Each transfer
 * has a timeout and a ceiling on the response size (a larger response is
 * an error, never an out-of-memory crash).  TLS peers are always verified.
 */
#ifndef LASYNC_HTTP_H
#define LASYNC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

typedef struct lasync_http lasync_http;
typedef struct lasync_http_xfer lasync_http_xfer;

typedef struct lasync_http_req_opts {
	const char *method;		/* "GET", "POST", "PATCH", ... */
	const char *url;
	const char *const *headers;	/* "Name: value", NULL-terminated */
	const char *body;		/* copied */
	size_t body_len;
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_response;		/* bytes; 0 = 16 MiB */
	/* TLS client authentication (ESIS); paths, NULL when unused */
	const char *client_cert;
	const char *client_cert_type;	/* "PEM" or "P12" */
	const char *client_key;
	const char *key_password;
	const char *ca_file;
} lasync_http_req_opts;

typedef struct lasync_http_result {
	CURLcode curl;			/* CURLE_OK when a response came */
	long status;			/* HTTP status, 0 without a response */
	const char *body;		/* NUL-terminated; valid in the callback */
	size_t len;
	bool too_large;			/* response exceeded max_response */
	long retry_after_s;		/* Retry-After seconds, -1 if none */
	const char *error;		/* curl's message when curl != OK */
	double seconds;			/* total transfer time */
	lasync_http_xfer *xfer;		/* internal: the body's owner */
} lasync_http_result;

/* lasync_http_take_body - the body of r, NUL-terminated, r->len bytes,
 * now the caller's to free(): the transfer's own buffer when r came from
 * lasync_http_perform (no copy), else a copy.  Only in the callback, and
 * r->body is then the caller's buffer too. */
char *lasync_http_take_body(const lasync_http_result *r);

typedef void (*lasync_http_done_fn)(void *ctx, const lasync_http_result *r);

/* lasync_http_retry_after - the wait a Retry-After value v[0..n) asks
 * for, in seconds from now: delta-seconds or an HTTP-date, capped at
 * LASYNC_HTTP_RETRY_AFTER_MAX; -1 when v is neither */
#define LASYNC_HTTP_RETRY_AFTER_MAX 86400L
long lasync_http_retry_after(const char *v, size_t n, time_t now);

/* lasync_http_new - max_total connections, max_host per host */
lasync_http *lasync_http_new(long max_total, long max_host);
void lasync_http_free(lasync_http *h);

/* lasync_http_start - queue a transfer; fn runs once from
 * lasync_http_perform() unless the transfer is cancelled */
lasync_http_xfer *lasync_http_start(lasync_http *h,
				    const lasync_http_req_opts *o,
				    lasync_http_done_fn fn, void *ctx);

/* lasync_http_adopt - run a transfer the caller configured for another
 * protocol (the notifier's SMTP) on the same multi handle, so the loop
 * drives it like any other.  Takes ownership of easy (cleaned up after the
 * callback or on cancel).  Sets CURLOPT_PRIVATE (the caller must not), the
 * write callback with its ceiling (max_response, 0 = 16 MiB), the error
 * buffer and NOSIGNAL.  In the result, status is the last reply code of
 * the protocol (SMTP: 250, 451, 550 ...). */
lasync_http_xfer *lasync_http_adopt(lasync_http *h, CURL *easy,
				    size_t max_response,
				    lasync_http_done_fn fn, void *ctx);

/* lasync_http_cancel - stop a transfer; its callback never runs */
void lasync_http_cancel(lasync_http *h, lasync_http_xfer *x);

/* lasync_http_perform - make progress and run callbacks; never blocks */
void lasync_http_perform(lasync_http *h);

/* lasync_http_wait - wait for transfer sockets or one of the extra fds to
 * be readable, at most timeout_ms */
void lasync_http_wait(lasync_http *h, const int *fds, size_t n,
		      int timeout_ms);

/* lasync_http_wakeup - make a lasync_http_wait() in another thread return */
void lasync_http_wakeup(lasync_http *h);

/* lasync_http_running - transfers not yet completed */
size_t lasync_http_running(const lasync_http *h);

/* lasync_http_transient - should a request with this result be retried
 * (timeouts, connection failures, 5xx, 429)? */
bool lasync_http_transient(const lasync_http_result *r);

#endif /* LASYNC_HTTP_H */
