/*
 * lasync_http.c - curl multi client (see lasync_http.h).
 *
 * Each transfer owns its easy handle, its header list, a copy of the body
 * and a response buffer that grows up to the transfer's ceiling.  The
 * multi handle's connection cache does the connection reuse; the easy
 * handles of lasync_http_start() are kept too (curl_easy_reset between
 * uses, at most EASY_POOL), since creating and freeing one per request was
 * a tenth of the applier's CPU on a first import.
 *
 * Transfers beyond the connection caps wait in our own queue, not in
 * curl's: libcurl starts a transfer's timeouts when it is added to the
 * multi handle, so a transfer queued there behind busy connections timed
 * out before it was sent ("Connection timed out after 0 milliseconds"
 * under a loaded portal; curl issue #4486).  A transfer joins the multi
 * handle only when its host has a free connection, and its timeouts count
 * from then.
 */
#include "lasync_http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lasync_config.h"
#include "lasync_mem.h"

#define DEFAULT_MAX_RESPONSE (16u * 1024u * 1024u)
#define EASY_POOL 64

struct lasync_http_xfer {
	lasync_http *h;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	char *resp;
	size_t len, cap, max;
	bool too_large;
	long retry_after_s;
	char errbuf[CURL_ERROR_SIZE];
	lasync_http_done_fn fn;
	void *ctx;
	bool ours;		/* made by lasync_http_start: may be pooled */
	bool linked;		/* on the list: not complete */
	bool active;		/* in the multi handle (else queued) */
	char *host;		/* "scheme://host:port", NULL: no host cap */
	lasync_http_xfer *prev, *next;
};

/* transfers in the multi handle per host */
typedef struct host_use {
	char *host;
	size_t n;
} host_use;

struct lasync_http {
	CURLM *multi;
	lasync_http_xfer *head;	/* every transfer, newest first */
	size_t running;		/* transfers not complete */
	size_t active;		/* ... of which in the multi handle */
	long max_total, max_host;
	host_use *hosts;
	size_t n_hosts, cap_hosts;
	CURL *pool[EASY_POOL];	/* idle easy handles, reset */
	size_t n_pool;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

lasync_http *lasync_http_new(long max_total, long max_host)
{
	lasync_http *h = lasync_xcalloc(1, sizeof(*h));

	pthread_once(&curl_once, curl_init_once);
	h->multi = curl_multi_init();
	if (h->multi == NULL)
		lasync_panic_oom();
	h->max_total = max_total > 0 ? max_total : 1;
	h->max_host = max_host > 0 ? max_host : 1;
	curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, max_total);
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return h;
}

/* host_find - the use count of host, created at 0 when absent */
static host_use *host_find(lasync_http *h, const char *host)
{
	for (size_t i = 0; i < h->n_hosts; i++)
		if (strcmp(h->hosts[i].host, host) == 0)
			return &h->hosts[i];
	lasync_grow(&h->hosts, &h->cap_hosts, h->n_hosts + 1);
	h->hosts[h->n_hosts].host = lasync_xstrdup(host);
	h->hosts[h->n_hosts].n = 0;
	return &h->hosts[h->n_hosts++];
}

/* host_release - one transfer of host left the multi handle; a host
 * without transfers is forgotten */
static void host_release(lasync_http *h, const char *host)
{
	for (size_t i = 0; i < h->n_hosts; i++) {
		if (strcmp(h->hosts[i].host, host) != 0)
			continue;
		if (--h->hosts[i].n == 0) {
			free(h->hosts[i].host);
			h->hosts[i] = h->hosts[--h->n_hosts];
		}
		return;
	}
}

/* admit - move queued transfers into the multi handle, oldest first,
 * while their hosts and the total have room */
static void admit(lasync_http *h)
{
	lasync_http_xfer *x, *tail = NULL;

	if (h->active >= (size_t)h->max_total || h->active == h->running)
		return;
	for (x = h->head; x != NULL; x = x->next)
		tail = x;
	for (x = tail; x != NULL && h->active < (size_t)h->max_total;
	     x = x->prev) {
		host_use *u = NULL;

		if (x->active)
			continue;
		if (x->host != NULL) {
			u = host_find(h, x->host);
			if (u->n >= (size_t)h->max_host)
				continue;
			u->n++;
		}
		x->active = true;
		h->active++;
		curl_multi_add_handle(h->multi, x->easy);
	}
}

/* xfer_unlink - take x out of the multi handle and the list */
static void xfer_unlink(lasync_http *h, lasync_http_xfer *x)
{
	if (!x->linked)
		return;
	x->linked = false;
	if (x->prev)
		x->prev->next = x->next;
	else
		h->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	if (x->active) {
		curl_multi_remove_handle(h->multi, x->easy);
		x->active = false;
		h->active--;
		if (x->host != NULL)
			host_release(h, x->host);
	}
	h->running--;
}

static void xfer_free(lasync_http_xfer *x)
{
	lasync_http *h = x->h;

	xfer_unlink(h, x);
	if (x->ours && h->n_pool < EASY_POOL) {
		curl_easy_reset(x->easy);
		h->pool[h->n_pool++] = x->easy;
	} else {
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->hdrs);
	free(x->body);
	free(x->resp);
	free(x->host);
	free(x);
}

void lasync_http_free(lasync_http *h)
{
	if (h == NULL)
		return;
	while (h->head != NULL)
		xfer_free(h->head);
	while (h->n_pool > 0)
		curl_easy_cleanup(h->pool[--h->n_pool]);
	for (size_t i = 0; i < h->n_hosts; i++)
		free(h->hosts[i].host);
	free(h->hosts);
	curl_multi_cleanup(h->multi);
	free(h);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	lasync_http_xfer *x = ud;
	size_t n = size * nmemb;

	if (x->len + n > x->max) {
		x->too_large = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (x->len + n + 1 > x->cap) {
		size_t nc = x->cap ? x->cap : 16384;
		curl_off_t cl = -1;

		/* The first chunk: a Content-Length (within the ceiling)
		 * sizes the buffer once, instead of a chain of reallocs
		 * that each move or remap what came so far.  Encoded
		 * bodies outgrow it and grow as before. */
		if (x->cap == 0 &&
		    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
				      &cl) == CURLE_OK &&
		    cl > 0 && (size_t)cl < x->max && (size_t)cl + 1 > nc)
			nc = (size_t)cl + 1;
		while (nc < x->len + n + 1)
			nc *= 2;
		x->resp = lasync_xrealloc(x->resp, nc);
		x->cap = nc;
	}
	memcpy(x->resp + x->len, p, n);
	x->len += n;
	x->resp[x->len] = '\0';
	return n;
}

long lasync_http_retry_after(const char *v, size_t n, time_t now)
{
	char buf[64];
	size_t k = 0;
	long s;

	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
			 v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	for (k = 0; k < n && buf[k] >= '0' && buf[k] <= '9'; k++)
		;
	if (k == n) {
		/* delta-seconds; a longer wait than a day is a day (the
		 * tenant's quarantine takes over from there) */
		if (k > 9)
			return LASYNC_HTTP_RETRY_AFTER_MAX;
		if (lasync_parse_long(buf, 0, 999999999, &s) != 0)
			return -1;
		return s > LASYNC_HTTP_RETRY_AFTER_MAX
			       ? LASYNC_HTTP_RETRY_AFTER_MAX
			       : s;
	}
	/* HTTP-date (RFC 9110 10.2.3); one in the past means now */
	time_t t = curl_getdate(buf, NULL);

	if (t == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	return t - now > LASYNC_HTTP_RETRY_AFTER_MAX
		       ? LASYNC_HTTP_RETRY_AFTER_MAX
		       : (long)(t - now);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	lasync_http_xfer *x = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) && strncasecmp(p, name, sizeof(name) - 1) == 0)
		x->retry_after_s = lasync_http_retry_after(
			p + sizeof(name) - 1, n - (sizeof(name) - 1),
			time(NULL));
	return n;
}

/* xfer_new - the transfer record of easy handle e, with what every
 * transfer shares: private pointer, response ceiling, error buffer */
static lasync_http_xfer *xfer_new(lasync_http *h, CURL *e, size_t max,
				  lasync_http_done_fn fn, void *ctx)
{
	lasync_http_xfer *x = lasync_xcalloc(1, sizeof(*x));

	x->h = h;
	x->easy = e;
	x->fn = fn;
	x->ctx = ctx;
	x->retry_after_s = -1;
	x->max = max ? max : DEFAULT_MAX_RESPONSE;
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	return x;
}

/* host_of - "scheme://host:port" of url (caller frees), NULL if unparsable */
static char *host_of(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;

	if (u == NULL)
		lasync_panic_oom();
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		    CURLUE_OK) {
		size_t n = strlen(scheme) + strlen(host) + strlen(port) + 5;

		out = lasync_xmalloc(n);
		snprintf(out, n, "%s://%s:%s", scheme, host, port);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return out;
}

/* xfer_run - queue the transfer; it joins the multi handle when its host
 * (host NULL: only the total) has room */
static lasync_http_xfer *xfer_run(lasync_http *h, lasync_http_xfer *x)
{
	x->next = h->head;
	if (h->head)
		h->head->prev = x;
	h->head = x;
	x->linked = true;
	h->running++;
	admit(h);
	return x;
}

lasync_http_xfer *lasync_http_adopt(lasync_http *h, CURL *easy,
				    size_t max_response,
				    lasync_http_done_fn fn, void *ctx)
{
	return xfer_run(h, xfer_new(h, easy, max_response, fn, ctx));
}

lasync_http_xfer *lasync_http_start(lasync_http *h,
				    const lasync_http_req_opts *o,
				    lasync_http_done_fn fn, void *ctx)
{
	CURL *e = h->n_pool > 0 ? h->pool[--h->n_pool] : curl_easy_init();
	lasync_http_xfer *x;

	if (e == NULL)
		lasync_panic_oom();
	x = xfer_new(h, e, o->max_response, fn, ctx);
	x->ours = true;
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		x->hdrs = curl_slist_append(x->hdrs, o->headers[i]);
	/* No "Expect: 100-continue" round trip for request bodies. */
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	x->host = host_of(o->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			 o->timeout_ms > 0 ? o->timeout_ms : 30000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 o->connect_timeout_ms > 0 ? o->connect_timeout_ms
						   : 5000L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (o->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	if (o->client_cert) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, o->client_cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE,
				 o->client_cert_type ? o->client_cert_type
						     : "PEM");
	}
	if (o->client_key)
		curl_easy_setopt(e, CURLOPT_SSLKEY, o->client_key);
	if (o->key_password)
		curl_easy_setopt(e, CURLOPT_KEYPASSWD, o->key_password);
	if (o->body != NULL) {
		x->body = lasync_xmalloc(o->body_len + 1);
		memcpy(x->body, o->body, o->body_len);
		x->body[o->body_len] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)o->body_len);
	}
	if (o->method && strcmp(o->method, "GET") != 0 &&
	    !(strcmp(o->method, "POST") == 0 && o->body != NULL))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
	return xfer_run(h, x);
}

void lasync_http_cancel(lasync_http *h, lasync_http_xfer *x)
{
	if (x != NULL) {
		xfer_free(x);
		admit(h);
	}
}

void lasync_http_perform(lasync_http *h)
{
	int still, left;
	CURLMsg *m;

	curl_multi_perform(h->multi, &still);
	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		lasync_http_xfer *x = NULL;
		lasync_http_result r;

		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		memset(&r, 0, sizeof(r));
		r.curl = m->data.result;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &r.seconds);
		r.body = x->resp ? x->resp : "";
		r.len = x->len;
		r.xfer = x;
		r.too_large = x->too_large;
		r.retry_after_s = x->retry_after_s;
		r.error = x->errbuf[0] ? x->errbuf
				       : curl_easy_strerror(m->data.result);
		if (x->too_large)
			r.error = "response larger than the limit";
		/* Detach before the callback, which may start new transfers
		 * or cancel others. */
		xfer_unlink(h, x);
		x->fn(x->ctx, &r);
		xfer_free(x);
		admit(h);
	}
}

char *lasync_http_take_body(const lasync_http_result *r)
{
	lasync_http_xfer *x = r->xfer;
	char *b;

	if (x == NULL || x->resp == NULL || r->body != x->resp) {
		b = lasync_xmalloc(r->len + 1);
		memcpy(b, r->body, r->len);
		b[r->len] = '\0';
		return b;
	}
	b = x->resp;
	x->resp = NULL;
	x->len = x->cap = 0;
	return b;
}

void lasync_http_wait(lasync_http *h, const int *fds, size_t n, int timeout_ms)
{
	struct curl_waitfd w[8];
	size_t k = n < 8 ? n : 8;

	for (size_t i = 0; i < k; i++) {
		w[i].fd = fds[i];
		w[i].events = CURL_WAIT_POLLIN;
		w[i].revents = 0;
	}
	curl_multi_poll(h->multi, w, (unsigned)k, timeout_ms, NULL);
}

void lasync_http_wakeup(lasync_http *h)
{
	curl_multi_wakeup(h->multi);
}

size_t lasync_http_running(const lasync_http *h)
{
	return h->running;
}

bool lasync_http_transient(const lasync_http_result *r)
{
	if (r->curl != CURLE_OK)
		return !r->too_large &&
		       r->curl != CURLE_SSL_CERTPROBLEM &&
		       r->curl != CURLE_SSL_CACERT_BADFILE &&
		       r->curl != CURLE_PEER_FAILED_VERIFICATION &&
		       r->curl != CURLE_SSL_CIPHER &&
		       r->curl != CURLE_UNSUPPORTED_PROTOCOL &&
		       r->curl != CURLE_URL_MALFORMAT;
	return r->status >= 500 || r->status == 429 || r->status == 408;
}
