/*
 * ctl_portal.c - what a tenant's portal holds now, read through SCIM:
 * users by kind (with their externalId) and groups with their members
 * (users and groups).  For operators and the demo; it prints names, so it
 * writes to the terminal only, never to logs.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "lasync_attr.h"
#include "lasync_http.h"
#include "lasync_mem.h"
#include "lasync_secret.h"

typedef struct fetch {
	int done;
	long status;
	char *body;
	char err[256];
} fetch;

static void on_done(void *ctx, const lasync_http_result *r)
{
	fetch *f = ctx;

	f->done = 1;
	f->status = r->status;
	f->body = lasync_xstrndup(r->body, r->len);
	if (r->curl != CURLE_OK)
		snprintf(f->err, sizeof(f->err), "%s", r->error);
}

/* get - one GET of url; the body (caller frees) or NULL with *status 0 and
 * err when the request failed */
static char *get(lasync_http *h, const char *url, const char *auth,
		 long *status, char *err, size_t errlen)
{
	const char *hdrs[] = {auth, "Accept: application/scim+json", NULL};
	lasync_http_req_opts o = {.method = "GET",
				  .url = url,
				  .headers = hdrs,
				  .timeout_ms = 30000};
	fetch f = {0, 0, NULL, ""};

	lasync_http_start(h, &o, on_done, &f);
	while (!f.done) {
		lasync_http_wait(h, NULL, 0, 100);
		lasync_http_perform(h);
	}
	*status = f.status;
	if (f.err[0])
		snprintf(err, errlen, "%s", f.err);
	return f.body;
}

char *ctl_portal_auth(const lasync_tenant *t)
{
	char err[512];
	char *token = lasync_secret_resolve(t->portal_token_ref, err,
					    sizeof(err));
	char *auth;

	if (token == NULL)
		ctl_die("%s", err);
	auth = lasync_xasprintf("Authorization: Bearer %s", token);
	lasync_secret_free(token);
	return auth;
}

json_t *ctl_portal_get(const lasync_tenant *t, const char *auth,
		       const char *path, long *status)
{
	lasync_http *h = lasync_http_new(1, 1);
	char err[256] = "";
	char *url = lasync_xasprintf("%s/%s", t->portal_base_url, path);
	char *body = get(h, url, auth, status, err, sizeof(err));
	json_t *doc = NULL;

	if (*status == 0)
		ctl_die("portal %s: %s", path, err[0] ? err : "request failed");
	if (*status == 200)
		doc = json_loads(body ? body : "", 0, NULL);
	free(body);
	free(url);
	lasync_http_free(h);
	return doc;
}

json_t *ctl_portal_list(const lasync_tenant *t, const char *auth,
			const char *coll)
{
	lasync_http *h = lasync_http_new(4, 4);
	json_t *all = json_array();
	long start = 1;

	for (;;) {
		char *url = lasync_xasprintf("%s/%s?startIndex=%ld&count=1000",
					     t->portal_base_url, coll, start);
		char err[256] = "";
		long status;
		char *body = get(h, url, auth, &status, err, sizeof(err));

		free(url);
		if (status != 200)
			ctl_die("portal %s: %s (HTTP %ld)", coll,
				err[0] ? err : "request failed", status);
		json_t *doc = json_loads(body, 0, NULL);
		json_t *res = json_object_get(doc, "Resources");
		long total = (long)json_integer_value(
			json_object_get(doc, "totalResults"));
		size_t n = json_array_size(res);

		json_array_extend(all, res);
		json_decref(doc);
		free(body);
		start += (long)n;
		if (n == 0 || start > total)
			break;
	}
	lasync_http_free(h);
	return all;
}

/* or_default - s, or d when s is NULL */
static const char *or_default(const char *s, const char *d)
{
	return s != NULL ? s : d;
}

static const char *ext_str(json_t *r, const char *schema, const char *attr)
{
	return json_string_value(json_object_get(json_object_get(r, schema),
						 attr));
}

static int cmp_ext(const void *a, const void *b)
{
	const char *x = json_string_value(
		json_object_get(*(json_t *const *)a, "externalId"));
	const char *y = json_string_value(
		json_object_get(*(json_t *const *)b, "externalId"));

	return strcmp(x ? x : "", y ? y : "");
}

static json_t **sorted(json_t *arr, size_t *n)
{
	size_t i;
	json_t *v, **out;

	*n = json_array_size(arr);
	out = lasync_xcalloc(*n + 1, sizeof(*out));
	json_array_foreach(arr, i, v) out[i] = v;
	qsort(out, *n, sizeof(*out), cmp_ext);
	return out;
}

int ctl_portal(ctl *c, int argc, char **argv)
{
	static const char *const kinds[] = {"student", "guardian", "staff",
					    NULL};
	static const char *const titles[] = {"students", "guardians", "staff"};
	lasync_tenants *tt;
	lasync_tenant *t;

	if (argc != 1) {
		fprintf(stderr, "usage: lasyncctl portal <tenant>\n");
		return 2;
	}
	tt = ctl_tenants(c);
	t = lasync_tenants_get(tt, argv[0]);
	if (t == NULL)
		ctl_die("no tenant %s", argv[0]);
	char *auth = ctl_portal_auth(t);
	json_t *users = ctl_portal_list(t, auth, "Users");
	json_t *groups = ctl_portal_list(t, auth, "Groups");
	json_t *names = json_object(); /* id -> label */
	size_t nu, ng;
	json_t **us = sorted(users, &nu), **gs = sorted(groups, &ng);

	lasync_secret_free(auth);
	printf("Portal of %s (%s): %zu users, %zu groups\n", t->tenant_id,
	       t->portal_base_url, nu, ng);
	for (size_t i = 0; i < nu; i++)
		json_object_set_new(
			names, json_string_value(json_object_get(us[i], "id")),
			json_string(or_default(json_string_value(json_object_get(
						       us[i], "displayName")),
					       "?")));
	for (size_t i = 0; i < ng; i++)
		json_object_set_new(
			names, json_string_value(json_object_get(gs[i], "id")),
			json_string(or_default(json_string_value(json_object_get(
						       gs[i], "displayName")),
					       "?")));
	for (size_t k = 0; kinds[k] != NULL; k++) {
		printf("\n%s:\n", titles[k]);
		for (size_t i = 0; i < nu; i++) {
			json_t *u = us[i];
			const char *kind =
				ext_str(u, LASYNC_SCHEMA_USER_EXT, "kind");

			if (kind == NULL || strcmp(kind, kinds[k]) != 0)
				continue;
			json_t *act = json_object_get(u, "active");

			printf("  %-32s %s%s\n",
			       json_string_value(json_object_get(u, "externalId")),
			       or_default(json_string_value(
						  json_object_get(u, "displayName")),
					  ""),
			       json_is_false(act) ? "  [inactive]" : "");
			json_t *gof = json_object_get(
				json_object_get(u, LASYNC_SCHEMA_USER_EXT),
				"guardianOf");
			size_t j;
			json_t *g;

			json_array_foreach(gof, j, g) {
				const char *cid = json_string_value(
					json_object_get(g, "value"));

				printf("      guardian of %s (%s)\n",
				       or_default(json_string_value(json_object_get(
							  names, cid ? cid : "")),
						  "?"),
				       or_default(json_string_value(json_object_get(
							  g, "relation")),
						  ""));
			}
		}
	}
	printf("\ngroups:\n");
	for (size_t i = 0; i < ng; i++) {
		json_t *g = gs[i], *m;
		size_t j;
		const char *kind = ext_str(g, LASYNC_SCHEMA_GROUP_EXT, "kind");

		printf("  %-32s %s (%s)\n",
		       or_default(json_string_value(
					  json_object_get(g, "externalId")),
				  "-"),
		       or_default(json_string_value(
					  json_object_get(g, "displayName")),
				  ""),
		       kind ? kind : "portal");
		json_array_foreach(json_object_get(g, "members"), j, m) {
			const char *id =
				json_string_value(json_object_get(m, "value"));
			const char *type =
				json_string_value(json_object_get(m, "type"));

			printf("      %-6s %s\n", type ? type : "",
			       or_default(json_string_value(json_object_get(
						  names, id ? id : "")),
					  or_default(id, "?")));
		}
	}
	free(us);
	free(gs);
	json_decref(names);
	json_decref(users);
	json_decref(groups);
	lasync_tenants_free(tt);
	return 0;
}
