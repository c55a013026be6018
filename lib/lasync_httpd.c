/*
 * lasync_httpd.c - /healthz, /metrics and extra routes on libmicrohttpd.
 *
 * Request bodies are collected up to the route's limit; a larger body is
 * answered 413 without reading further, so an oversized upload costs no
 * memory.
 */
#include "lasync_httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"
#include "lasync_metrics.h"

#define MAX_ROUTES 8

typedef struct route {
	char *prefix;
	lasync_route_fn fn;
	void *ctx;
	size_t max_body;
} route;

struct lasync_httpd {
	struct MHD_Daemon *mhd;
	lasync_health_fn health;
	void *ctx;
	route routes[MAX_ROUTES];
	size_t n_routes;
	int port;
};

/* Per-connection upload state. */
typedef struct upload {
	char *buf;
	size_t len;
	bool too_big;
	const route *rt;
} upload;

static enum MHD_Result reply(struct MHD_Connection *c, int status,
			     const char *ctype, char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *req_header(const lasync_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *data,
			      size_t *data_size, void **con_cls)
{
	lasync_httpd *h = cls;
	upload *up = *con_cls;

	(void)version;
	if (up == NULL) {
		up = lasync_xcalloc(1, sizeof(*up));
		for (size_t i = 0; i < h->n_routes; i++)
			if (strncmp(url, h->routes[i].prefix,
				    strlen(h->routes[i].prefix)) == 0)
				up->rt = &h->routes[i];
		*con_cls = up;
		return MHD_YES;
	}
	if (*data_size != 0) {
		size_t max = up->rt ? up->rt->max_body : 0;

		if (!up->too_big && up->len + *data_size <= max) {
			up->buf = lasync_xrealloc(up->buf,
						  up->len + *data_size + 1);
			memcpy(up->buf + up->len, data, *data_size);
			up->len += *data_size;
			up->buf[up->len] = '\0';
		} else {
			up->too_big = true;
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (up->rt != NULL) {
		if (up->too_big)
			return reply(conn, 413, "application/json",
				     lasync_xasprintf(
					     "{\"error\":\"body larger than "
					     "%zu bytes\"}\n",
					     up->rt->max_body));
		lasync_http_req req = {method, url, up->buf ? up->buf : "",
				       up->len, req_header, conn};
		int status = 500;
		const char *ctype = "application/json";
		char *body = up->rt->fn(up->rt->ctx, &req, &status, &ctype);

		return reply(conn, status, ctype,
			     body ? body : lasync_xstrdup(""));
	}
	if (strcmp(method, "GET") != 0)
		return reply(conn, 405, "text/plain",
			     lasync_xstrdup("method not allowed\n"));
	if (strcmp(url, "/metrics") == 0)
		return reply(conn, 200, "text/plain; version=0.0.4",
			     lasync_metrics_render());
	if (strcmp(url, "/healthz") == 0) {
		char reason[256] = "ok";
		bool ok = h->health ? h->health(h->ctx, reason, sizeof(reason))
				    : true;

		return reply(conn, ok ? 200 : 503, "text/plain",
			     lasync_xasprintf("%s\n", reason));
	}
	return reply(conn, 404, "text/plain", lasync_xstrdup("not found\n"));
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	upload *up = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (up != NULL) {
		free(up->buf);
		free(up);
	}
	*con_cls = NULL;
}

lasync_httpd *lasync_httpd_start(const char *bind, int port,
				 lasync_health_fn health, void *ctx,
				 char *err, size_t errlen)
{
	lasync_httpd *h = lasync_xcalloc(1, sizeof(*h));
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, bind ? bind : "127.0.0.1", &sa.sin_addr) != 1) {
		snprintf(err, errlen, "http bind address \"%s\" is not IPv4",
			 bind);
		free(h);
		return NULL;
	}
	h->health = health;
	h->ctx = ctx;
	h->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
		NULL, handle, h, MHD_OPTION_SOCK_ADDR, &sa,
		MHD_OPTION_NOTIFY_COMPLETED, completed, h,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_END);
	if (h->mhd == NULL) {
		snprintf(err, errlen,
			 "cannot listen for http on %s:%d (port in use?)",
			 bind ? bind : "127.0.0.1", port);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);

	h->port = di ? di->port : port;
	return h;
}

void lasync_httpd_route(lasync_httpd *h, const char *prefix,
			lasync_route_fn fn, void *ctx, size_t max_body)
{
	if (h->n_routes == MAX_ROUTES)
		return;
	h->routes[h->n_routes++] =
		(route){lasync_xstrdup(prefix), fn, ctx, max_body};
}

int lasync_httpd_port(const lasync_httpd *h)
{
	return h->port;
}

void lasync_httpd_stop(lasync_httpd *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	for (size_t i = 0; i < h->n_routes; i++)
		free(h->routes[i].prefix);
	free(h);
}
