/*
 * lasync_httpd.h - the operator endpoints every daemon serves: /healthz
 * and Prometheus /metrics, plus optional extra routes (the notifier's
 * webhook).  libmicrohttpd with its own polling thread; handlers run on
 * that thread and must only touch thread-safe state.
 */
#ifndef LASYNC_HTTPD_H
#define LASYNC_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lasync_httpd lasync_httpd;

/* lasync_health_fn - fill reason and return false when not healthy */
typedef bool (*lasync_health_fn)(void *ctx, char *reason, size_t len);

/* A request to an extra route.  The handler sets *status and returns a
 * malloc'd body (content type in *ctype, borrowed static string). */
typedef struct lasync_http_req {
	const char *method;
	const char *url;
	const char *body;
	size_t body_len;
	/* lasync_httpd_header - a request header value, or NULL */
	const char *(*header)(const struct lasync_http_req *r,
			      const char *name);
	void *conn; /* internal */
} lasync_http_req;

typedef char *(*lasync_route_fn)(void *ctx, const lasync_http_req *req,
				 int *status, const char **ctype);

/* lasync_httpd_start - listen on 127.0.0.1 or 0.0.0.0 (bind) at port (0:
 * any free port, read back with lasync_httpd_port); NULL with err */
lasync_httpd *lasync_httpd_start(const char *bind, int port,
				 lasync_health_fn health, void *ctx,
				 char *err, size_t errlen);

/* lasync_httpd_route - serve prefix (e.g. "/v1/tenants/") with fn; bodies
 * above max_body bytes are refused with 413.  Call before traffic. */
void lasync_httpd_route(lasync_httpd *h, const char *prefix,
			lasync_route_fn fn, void *ctx, size_t max_body);

int lasync_httpd_port(const lasync_httpd *h);
void lasync_httpd_stop(lasync_httpd *h);

#endif /* LASYNC_HTTPD_H */
