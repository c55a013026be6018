/*
 * ctl_links.c - working the link queue ("Niet gekoppelde profielen", R20)
 * and listing leftover portal groups (R19).
 *
 *   links list <tenant> [--json]
 *   links resolve <tenant> <externalId> --link <portal-id> | --create
 *                 [--sync]
 *   groups orphaned <tenant> [--json]
 *
 * The applier parks a LAS profile it cannot link with certainty in the
 * Redis hash <prefix>:{tenant}:linkq (entry: kind, reason, name,
 * candidates).  A decision goes to <prefix>:{tenant}:linkdecisions
 * ("link:<portal id>" or "create") and the profile into the dirty set, so
 * the next sync UPSERTs it again; the applier then follows the decision
 * and clears both entries.  The queue shows names to the operator on the
 * terminal; nothing here writes a log line.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "lasync_attr.h"
#include "lasync_mem.h"
#include "lasync_redis.h"
#include "lasync_secret.h"

static lasync_redis *redis(ctl *c)
{
	char err[512];
	lasync_redis *r = lasync_redis_new(c->redis_url, 5000, err, sizeof(err));

	if (r == NULL)
		ctl_die("redis: %s", err);
	return r;
}

/* hash - HGETALL as a JSON object of field -> value text */
static json_t *hash(lasync_redis *r, const char *prefix, const char *tenant,
		    const char *kind)
{
	char k[256], err[512];
	const char *argv[] = {"HGETALL", k};
	redisReply *rep;
	json_t *out = json_object();

	lasync_redis_key(k, sizeof(k), prefix, tenant, kind, NULL);
	rep = lasync_redis_cmd(r, 2, argv, NULL, err, sizeof(err));
	if (rep == NULL)
		ctl_die("redis: %s", err);
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		char *f = lasync_xstrndup(rep->element[i]->str,
					  rep->element[i]->len);

		json_object_set_new(out, f,
				    json_stringn(rep->element[i + 1]->str,
						 rep->element[i + 1]->len));
		free(f);
	}
	freeReplyObject(rep);
	return out;
}

static lasync_tenant *tenant_of(lasync_tenants *tt, const char *id)
{
	lasync_tenant *t = lasync_tenants_get(tt, id);

	if (t == NULL)
		ctl_die("no tenant %s", id);
	return t;
}

static int links_list(ctl *c, const char *tenant, bool as_json)
{
	lasync_redis *r = redis(c);
	json_t *q = hash(r, c->prefix, tenant, "linkq");
	json_t *dec = hash(r, c->prefix, tenant, "linkdecisions");
	json_t *out = json_array();
	const char *ext;
	json_t *v;

	json_object_foreach(q, ext, v) {
		json_t *e = json_loads(json_string_value(v), 0, NULL);

		if (!json_is_object(e)) {
			json_decref(e);
			e = json_object();
		}
		json_object_set_new(e, "external_id", json_string(ext));
		if (json_object_get(dec, ext))
			json_object_set(e, "decision",
					json_object_get(dec, ext));
		json_array_append_new(out, e);
	}
	if (as_json) {
		char *s = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", s);
		free(s);
	} else {
		size_t i;
		json_t *e;

		printf("Niet gekoppelde profielen of %s: %zu\n", tenant,
		       json_array_size(out));
		json_array_foreach(out, i, e) {
			const char *d = json_string_value(
				json_object_get(e, "decision"));
			size_t j;
			json_t *cand;

			printf("  %-8s %s  %s  (%s)%s%s\n",
			       json_string_value(json_object_get(e, "kind")),
			       json_string_value(
				       json_object_get(e, "external_id")),
			       json_string_value(json_object_get(e, "name")),
			       json_string_value(json_object_get(e, "reason")),
			       d ? "  decided: " : "", d ? d : "");
			json_array_foreach(json_object_get(e, "candidates"), j,
					   cand)
				printf("           candidate %s  %s\n",
				       json_string_value(
					       json_object_get(cand, "id")),
				       json_string_value(
					       json_object_get(cand, "name")));
		}
		if (json_array_size(out) > 0)
			printf("resolve with: lasyncctl links resolve %s "
			       "<externalId> --link <portal-id> | --create\n",
			       tenant);
	}
	json_decref(out);
	json_decref(q);
	json_decref(dec);
	lasync_redis_free(r);
	return 0;
}

static int links_resolve(ctl *c, int argc, char **argv)
{
	const char *tenant = NULL, *ext = NULL, *link = NULL;
	bool create = false, sync = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--link") == 0 && i + 1 < argc)
			link = argv[++i];
		else if (strcmp(argv[i], "--create") == 0)
			create = true;
		else if (strcmp(argv[i], "--sync") == 0)
			sync = true;
		else if (argv[i][0] != '-' && tenant == NULL)
			tenant = argv[i];
		else if (argv[i][0] != '-' && ext == NULL)
			ext = argv[i];
		else
			goto usage;
	}
	if (tenant == NULL || ext == NULL || (link == NULL) == !create)
		goto usage;

	lasync_tenants *tt = ctl_tenants(c);
	lasync_tenant *t = tenant_of(tt, tenant);
	lasync_redis *r = redis(c);
	json_t *q = hash(r, c->prefix, tenant, "linkq");

	if (json_object_get(q, ext) == NULL)
		ctl_die("%s is not in the link queue of %s (see `lasyncctl "
			"links list %s`)",
			ext, tenant, tenant);
	if (link != NULL) {
		/* the profile must exist and belong to no LAS profile yet */
		char *auth = ctl_portal_auth(t);
		char *path = lasync_xasprintf("Users/%s", link);
		long status;
		json_t *u = ctl_portal_get(t, auth, path, &status);
		const char *has = json_string_value(
			json_object_get(u, "externalId"));

		lasync_secret_free(auth);
		free(path);
		if (u == NULL)
			ctl_die("portal profile %s: HTTP %ld%s", link, status,
				status == 404 ? " (no such profile)" : "");
		if (has != NULL)
			ctl_die("portal profile %s is already linked to %s",
				link, has);
		json_decref(u);
	}
	char kd[256], ky[256], err[512];
	char *val = link ? lasync_xasprintf("link:%s", link)
			 : lasync_xstrdup("create");
	const char *a1[] = {"HSET", kd, ext, val}, *a2[] = {"SADD", ky, ext};
	const char *const *argvs[] = {a1, a2};
	const int argcs[] = {4, 3};
	redisReply *reps[2] = {NULL, NULL};

	lasync_redis_key(kd, sizeof(kd), c->prefix, tenant, "linkdecisions",
			 NULL);
	lasync_redis_key(ky, sizeof(ky), c->prefix, tenant, "dirty", NULL);
	if (lasync_redis_pipeline(r, 2, argcs, argvs, NULL, reps, err,
				  sizeof(err)) != 0)
		ctl_die("redis: %s", err);
	for (int i = 0; i < 2; i++) {
		if (reps[i]->type == REDIS_REPLY_ERROR)
			ctl_die("redis: %s", reps[i]->str);
		freeReplyObject(reps[i]);
	}
	printf("%s: %s; the next sync %s it\n", ext,
	       link ? "link decided" : "create decided",
	       link ? "links" : "creates");
	free(val);
	json_decref(q);
	lasync_redis_free(r);
	int rc = 0;

	if (sync) {
		ctl_sync_opts o = {.reason = "link-resolved"};

		rc = ctl_request_sync(c, t, &o);
	}
	lasync_tenants_free(tt);
	return rc;
usage:
	fprintf(stderr, "usage: lasyncctl links resolve <tenant> <externalId> "
			"--link <portal-id> | --create [--sync]\n");
	return 2;
}

int ctl_links(ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[0], "list") == 0) {
		bool as_json = argc == 3 && strcmp(argv[2], "--json") == 0;

		if (argc > 3 || (argc == 3 && !as_json))
			goto usage;
		lasync_tenants *tt = ctl_tenants(c);

		tenant_of(tt, argv[1]);
		lasync_tenants_free(tt);
		return links_list(c, argv[1], as_json);
	}
	if (argc >= 1 && strcmp(argv[0], "resolve") == 0)
		return links_resolve(c, argc - 1, argv + 1);
usage:
	fprintf(stderr, "usage: lasyncctl links list <tenant> [--json]\n"
			"       lasyncctl links resolve <tenant> <externalId> "
			"--link <portal-id> | --create [--sync]\n");
	return 2;
}

/* groups orphaned: portal groups lasync no longer fills - those without
 * an externalId that are empty (left over after first-run), and lasync's
 * own marked lasOrphaned (R5) - for the school to remove */
static int groups_orphaned(ctl *c, const char *tenant, bool as_json)
{
	lasync_tenants *tt = ctl_tenants(c);
	lasync_tenant *t = tenant_of(tt, tenant);
	char *auth = ctl_portal_auth(t);
	json_t *groups = ctl_portal_list(t, auth, "Groups");
	json_t *out = json_array();
	size_t i;
	json_t *g;

	lasync_secret_free(auth);
	json_array_foreach(groups, i, g) {
		const char *name =
			json_string_value(json_object_get(g, "displayName"));
		const char *ext =
			json_string_value(json_object_get(g, "externalId"));
		size_t members =
			json_array_size(json_object_get(g, "members"));
		json_t *orph = json_object_get(
			json_object_get(g, LASYNC_SCHEMA_GROUP_EXT),
			"lasOrphaned");
		const char *why = NULL;

		if (ext == NULL && members == 0)
			why = "not linked, empty";
		else if (ext != NULL && json_is_true(orph))
			why = "no longer in the LAS";
		if (why == NULL)
			continue;
		json_array_append_new(
			out,
			json_pack("{s:s,s:s,s:s?,s:I,s:s}", "portal_id",
				  json_string_value(json_object_get(g, "id")),
				  "name", name ? name : "", "external_id", ext, "members",
				  (json_int_t)members, "why", why));
	}
	if (as_json) {
		char *s = json_dumps(out, JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
	} else {
		printf("Orphaned portal groups of %s: %zu\n", tenant,
		       json_array_size(out));
		json_array_foreach(out, i, g)
			printf("  %-36s %-28s %lld members  (%s)\n",
			       json_string_value(json_object_get(g, "portal_id")),
			       json_string_value(json_object_get(g, "name")),
			       (long long)json_integer_value(
				       json_object_get(g, "members")),
			       json_string_value(json_object_get(g, "why")));
	}
	json_decref(out);
	json_decref(groups);
	lasync_tenants_free(tt);
	return 0;
}

int ctl_groups(ctl *c, int argc, char **argv)
{
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "orphaned") == 0 &&
	    (argc == 2 || strcmp(argv[2], "--json") == 0))
		return groups_orphaned(c, argv[1], argc == 3);
	fprintf(stderr, "usage: lasyncctl groups orphaned <tenant> [--json]\n");
	return 2;
}
