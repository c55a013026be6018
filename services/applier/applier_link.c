/*
 * applier_link.c - existing portal profiles and groups a change set takes
 * over instead of creating new ones (R19 group links, R20 profile linking).
 *
 * Before a part runs, every UPSERT of a user the portal does not know by
 * externalId is correlated (lib/lasync_match) with the portal's users that
 * have no externalId, listed once (GET ?filter=not (externalId pr)): one
 * candidate wanted by no other LAS profile is linked - the operation takes
 * that profile over (its id, and with it everything portal-owned), sets the
 * externalId and writes the owned attributes; several candidates, or one
 * profile wanted twice, is disputed and parked in the link queue ("Niet
 * gekoppelde profielen", Redis hash <prefix>:{tenant}:linkq); none is
 * created, or queued with new_profiles=review.  An operator's decision
 * (`lasyncctl links resolve`, hash <prefix>:{tenant}:linkdecisions) wins
 * over the correlation.
 *
 * A queued profile is not created, so whatever refers to it (a guardian's
 * guardianOf, a group's members) leaves it out for now; the profile and
 * those dependents are marked dirty (set <prefix>:{tenant}:dirty) so the
 * mapper UPSERTs them again on the next sync, when a decision may exist.
 *
 * Groups linked at first-run are in the tenant's group_links: a LAS group
 * the portal does not know by externalId takes over its linked portal
 * group (its id and group-bound data stay; it takes the LAS name).
 *
 * Queue entries hold names (for the people who work the queue), never
 * logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "lasync_attr.h"
#include "lasync_clock.h"
#include "lasync_log.h"
#include "lasync_match.h"
#include "lasync_mem.h"

/* user_upserts - does the part UPSERT users the portal may not know? */
static bool user_upserts(ajob *aj)
{
	for (size_t i = 0; i < aj->cs->n_ops; i++) {
		const Lasync__V1__Operation *op = aj->cs->ops[i];

		if (op->type == LASYNC__V1__OP_TYPE__OP_UPSERT &&
		    op->resource == LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER &&
		    !aj->done[i] && applier_ids_get(aj->ids, op->external_id) ==
					    NULL &&
		    !(aj->preloaded &&
		      json_object_get(aj->portal, op->external_id)))
			return true;
	}
	return false;
}

static const char *key(ajob *aj, char *buf, size_t len, const char *kind)
{
	return lasync_redis_key(buf, len, applier_prefix(aj),
				aj->tenant->tenant_id, kind, NULL);
}

/* display - a user's display name from its op values (for the queue) */
static char *op_display(const Lasync__V1__Operation *op)
{
	for (size_t i = 0; i < op->n_set; i++)
		if (strcmp(op->set[i]->path, LASYNC_A_DISPLAY) == 0) {
			json_t *v = json_loads(op->set[i]->json, JSON_DECODE_ANY,
					       NULL);
			char *s = lasync_xstrdup(json_is_string(v)
							 ? json_string_value(v)
							 : "");

			json_decref(v);
			return s;
		}
	return lasync_xstrdup("");
}

/* create_decision - {"do":"create"}, one shared, never changed document:
 * a first import decides it for every user of the school, and a document
 * each made the jobs' memory grow with the schools applied at once */
static json_t *create_decision(void)
{
	static json_t *d;

	if (d == NULL && (d = json_pack("{s:s}", "do", "create")) == NULL)
		lasync_panic_oom();
	return json_incref(d);
}

/* correlate - decide every unknown user UPSERT of the part */
static void correlate(ajob *aj)
{
	size_t n = 0, m = json_array_size(aj->unlinked);
	lasync_profile *las = lasync_xcalloc(aj->cs->n_ops + 1, sizeof(*las));
	lasync_profile *portal = lasync_xcalloc(m + 1, sizeof(*portal));
	size_t *opi = lasync_xcalloc(aj->cs->n_ops + 1, sizeof(*opi));
	int *out, **cands = NULL;
	bool review = aj->tenant->settings.new_profiles &&
		      strcmp(aj->tenant->settings.new_profiles, "review") == 0;

	for (size_t j = 0; j < m; j++)
		lasync_profile_from_scim(json_array_get(aj->unlinked, j),
					 &portal[j]);
	for (size_t i = 0; i < aj->cs->n_ops; i++) {
		const Lasync__V1__Operation *op = aj->cs->ops[i];

		if (op->type != LASYNC__V1__OP_TYPE__OP_UPSERT ||
		    op->resource != LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER)
			continue;
		lasync_state *st = lasync_state_new(NULL);
		lasync_sres *r = lasync_state_resource(st, LASYNC_RES_USER,
						       op->external_id);

		for (size_t k = 0; k < op->n_set; k++)
			lasync_state_set(r, op->set[k]->path,
					 op->set[k]->json);
		lasync_profile_from_state(r, &las[n]);
		opi[n++] = i;
		lasync_state_free(st);
	}
	out = lasync_xcalloc(n + 1, sizeof(int));
	lasync_match_all(las, n, portal, m, out, &cands);
	for (size_t k = 0; k < n; k++) {
		const Lasync__V1__Operation *op = aj->cs->ops[opi[k]];
		json_t *d;
		const char *decided = json_string_value(
			json_object_get(aj->decisions, op->external_id));

		if (decided != NULL && strncmp(decided, "link:", 5) == 0) {
			d = json_pack("{s:s,s:s}", "do", "link", "id",
				      decided + 5);
		} else if (decided != NULL && strcmp(decided, "create") == 0) {
			d = create_decision();
		} else if (out[k] >= 0) {
			d = json_pack("{s:s,s:s}", "do", "link", "id",
				      portal[out[k]].id);
		} else if (out[k] == LASYNC_MATCH_DISPUTED || review) {
			json_t *c = json_array();

			for (int x = 0; cands[k][x] >= 0; x++) {
				json_t *doc = json_array_get(aj->unlinked,
							     (size_t)cands[k][x]);

				json_array_append_new(
					c, json_pack("{s:s,s:s}", "id",
						     portal[cands[k][x]].id,
						     "name",
						     json_string_value(json_object_get(
							     doc, "displayName"))
						     ? json_string_value(
							       json_object_get(
								       doc,
								       "displayName"))
						     : ""));
			}
			char *name = op_display(op);

			d = json_pack("{s:s,s:s,s:s,s:o}", "do", "queue",
				      "reason",
				      out[k] == LASYNC_MATCH_DISPUTED
					      ? "disputed"
					      : "review",
				      "name", name, "candidates", c);
			free(name);
		} else {
			d = create_decision();
		}
		json_object_set_new(aj->corr, op->external_id, d);
	}
	for (size_t k = 0; k < n; k++) {
		free(cands[k]);
		lasync_profile_clear(&las[k]);
	}
	for (size_t j = 0; j < m; j++)
		lasync_profile_clear(&portal[j]);
	free(cands);
	free(out);
	free(las);
	free(portal);
	free(opi);
}

static void load_decisions(ajob *aj)
{
	char k[256], err[256];
	const char *argv[] = {"HGETALL", k};
	redisReply *rep;

	key(aj, k, sizeof(k), "linkdecisions");
	rep = lasync_redis_cmd(applier_redis(aj), 2, argv, NULL, err,
			       sizeof(err));
	if (rep == NULL)
		return; /* no decisions is safe: the queue stays */
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		char *f = lasync_xstrndup(rep->element[i]->str,
					  rep->element[i]->len);

		json_object_set_new(aj->decisions, f,
				    json_stringn(rep->element[i + 1]->str,
						 rep->element[i + 1]->len));
		free(f);
	}
	freeReplyObject(rep);
}

static void list_unlinked(ajob *aj);

static void on_unlinked(void *ctx, const lasync_http_result *r)
{
	ajob *aj = ctx;
	char reason[256];
	scim_verdict v;

	aj->link_x = NULL;
	if (applier_list_too_slow(aj, r, aj->link_start)) {
		list_unlinked(aj);
		return;
	}
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v != SCIM_OK) {
		applier_job_prepared(aj, v == SCIM_TRANSIENT ? OP_TRANSIENT
							     : OP_PERMANENT,
				     (int)r->retry_after_s * 1000, reason);
		return;
	}
	json_t *doc = json_loadb(r->body, r->len, 0, NULL);
	json_t *res = json_object_get(doc, "Resources");
	long total = (long)json_integer_value(
		json_object_get(doc, "totalResults"));
	size_t got = json_array_size(res);

	json_array_extend(aj->unlinked, res);
	json_decref(doc);
	aj->link_start += (long)got;
	if (got == 0 || aj->link_start > total) {
		load_decisions(aj);
		correlate(aj);
		applier_job_prepared(aj, OP_DONE, 0, NULL);
		return;
	}
	list_unlinked(aj);
}

static void list_unlinked(ajob *aj)
{
	char *base = applier_scim_url(aj->tenant->portal_base_url,
				      LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER,
				      NULL, NULL, NULL);
	/* no personal data in the query: a filter on presence only */
	char *url = lasync_xasprintf(
		"%s?filter=not%%20(externalId%%20pr)&startIndex=%ld&count=%d",
		base, aj->link_start, applier_list_page(aj));

	aj->link_x = applier_request(aj, "GET", url, NULL, on_unlinked, aj);
	free(url);
	free(base);
}

void applier_link_prepare(ajob *aj)
{
	if (aj->corr == NULL)
		aj->corr = json_object();
	if (aj->decisions == NULL)
		aj->decisions = json_object();
	if (!user_upserts(aj)) {
		applier_job_prepared(aj, OP_DONE, 0, NULL);
		return;
	}
	json_decref(aj->unlinked);
	aj->unlinked = json_array();
	aj->link_start = 1;
	list_unlinked(aj);
}

const char *applier_link_decision(ajob *aj, const char *external_id,
				  const char **portal_id)
{
	json_t *d = aj->corr ? json_object_get(aj->corr, external_id) : NULL;

	*portal_id = json_string_value(json_object_get(d, "id"));
	return d ? json_string_value(json_object_get(d, "do")) : "create";
}

bool applier_link_queued(ajob *aj, const char *external_id)
{
	const char *id;

	return strcmp(applier_link_decision(aj, external_id, &id), "queue") ==
	       0;
}

void applier_dirty(ajob *aj, const char *external_id)
{
	char k[256], err[256];
	const char *argv[] = {"SADD", k, external_id};
	redisReply *rep;

	key(aj, k, sizeof(k), "dirty");
	rep = lasync_redis_cmd(applier_redis(aj), 3, argv, NULL, err,
			       sizeof(err));
	if (rep != NULL)
		freeReplyObject(rep);
}

void applier_link_queue(ajob *aj, const char *external_id)
{
	json_t *d = json_object_get(aj->corr, external_id);
	json_t *entry = json_deep_copy(d);
	char k[256], err[256], *text;
	redisReply *rep;

	json_object_del(entry, "do");
	json_object_set_new(entry, "since", json_integer(lasync_now_ms()));
	json_object_set_new(entry, "kind",
			    json_string(strstr(external_id, ":student:")
						? "student"
					: strstr(external_id, ":guardian:")
						? "guardian"
						: "staff"));
	text = json_dumps(entry, JSON_COMPACT);
	key(aj, k, sizeof(k), "linkq");
	const char *argv[] = {"HSET", k, external_id, text};

	rep = lasync_redis_cmd(applier_redis(aj), 4, argv, NULL, err,
			       sizeof(err));
	if (rep != NULL)
		freeReplyObject(rep);
	free(text);
	json_decref(entry);
	applier_dirty(aj, external_id);
	lasync_info("profile_queued", "tenant=%s ext=%s reason=%s",
		    aj->tenant->tenant_id, external_id,
		    json_string_value(json_object_get(d, "reason")));
}

void applier_link_settled(ajob *aj, const char *external_id)
{
	char k1[256], k2[256], err[256];
	const char *a1[] = {"HDEL", k1, external_id},
		   *a2[] = {"HDEL", k2, external_id};
	const char *const *argvs[] = {a1, a2};
	const int argcs[] = {3, 3};
	redisReply *reps[2] = {NULL, NULL};

	key(aj, k1, sizeof(k1), "linkq");
	key(aj, k2, sizeof(k2), "linkdecisions");
	if (lasync_redis_pipeline(applier_redis(aj), 2, argcs, argvs, NULL,
				  reps, err, sizeof(err)) == 0) {
		freeReplyObject(reps[0]);
		freeReplyObject(reps[1]);
	}
}

const char *applier_group_link(ajob *aj, const char *external_id)
{
	for (size_t i = 0; i < aj->tenant->n_group_links; i++)
		if (strcmp(aj->tenant->group_links[i].external_id,
			   external_id) == 0)
			return aj->tenant->group_links[i].portal_id;
	return NULL;
}
