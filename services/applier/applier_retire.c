/*
 * applier_retire.c - the leavers a reconcile finds in the portal itself
 * (R16, R5, R17).
 *
 * A change set computed without an expected state (Redis lost, or dropped
 * after a failed sync) UPSERTs everything the LAS has; it cannot say what
 * the LAS no longer has, because only the portal knows.  The applier has
 * listed the portal for the reconcile, so once every operation of the last
 * part is done it retires the LAS-linked resources (externalId of this
 * tenant's vendor, or lasync's own) that no part UPSERTed: an active user
 * is deactivated (never deleted), a group is marked lasOrphaned and loses
 * its LAS members.  Without this, a student who left while the expected
 * state was gone would stay active for good: the mapper's next expected
 * state no longer knows them.
 *
 * The deletion guard holds here too: more deactivations than
 * max(guard_min, guard_percent% of the active LAS-linked users) are left
 * undone unless the sync was approved for at least that many (`lasyncctl
 * sync <tenant> --full --approve N`); the sync result says so.
 *
 * A multi-part change set: earlier parts add their UPSERTed externalIds to
 * the Redis set <prefix>:{tenant}:keep:<sync id>; the last part reads it.
 * Every write is an absolute PATCH, so a retried part simply does it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "lasync_attr.h"
#include "lasync_log.h"
#include "lasync_mem.h"

#define KEEP_TTL "86400"

static const char *keep_key(ajob *aj, char *buf, size_t len)
{
	return lasync_redis_key(buf, len, applier_prefix(aj),
				aj->tenant->tenant_id, "keep",
				aj->cs->header->sync_id);
}

int applier_retire_keep(ajob *aj, char *err, size_t errlen)
{
	size_t n = aj->cs->n_ops, k = 0;
	const char **argv = lasync_xcalloc(n + 3, sizeof(*argv));
	char key[256];
	redisReply *rep;

	argv[k++] = "SADD";
	argv[k++] = keep_key(aj, key, sizeof(key));
	for (size_t i = 0; i < n; i++)
		if (aj->cs->ops[i]->type == LASYNC__V1__OP_TYPE__OP_UPSERT)
			argv[k++] = aj->cs->ops[i]->external_id;
	if (k > 2) {
		rep = lasync_redis_cmd(applier_redis(aj), (int)k, argv, NULL,
				       err, errlen);
		if (rep == NULL) {
			free(argv);
			return -1;
		}
		freeReplyObject(rep);
		const char *ex[] = {"EXPIRE", key, KEEP_TTL};

		rep = lasync_redis_cmd(applier_redis(aj), 3, ex, NULL, err,
				       errlen);
		if (rep != NULL)
			freeReplyObject(rep);
	}
	free(argv);
	return 0;
}

/* keep_set - every externalId the sync UPSERTs (all parts); NULL with err
 * when the earlier parts' set cannot be read */
static json_t *keep_set(ajob *aj, char *err, size_t errlen)
{
	json_t *keep = json_object();

	for (size_t i = 0; i < aj->cs->n_ops; i++)
		if (aj->cs->ops[i]->type == LASYNC__V1__OP_TYPE__OP_UPSERT)
			json_object_set_new(keep, aj->cs->ops[i]->external_id,
					    json_true());
	if (aj->cs->parts > 1) {
		char key[256];
		const char *argv[] = {"SMEMBERS", keep_key(aj, key, sizeof(key))};
		redisReply *rep = lasync_redis_cmd(applier_redis(aj), 2, argv,
						   NULL, err, errlen);

		if (rep == NULL) {
			json_decref(keep);
			return NULL;
		}
		for (size_t i = 0; i < rep->elements; i++) {
			char *e = lasync_xstrndup(rep->element[i]->str,
						  rep->element[i]->len);

			json_object_set_new(keep, e, json_true());
			free(e);
		}
		freeReplyObject(rep);
	}
	return keep;
}

static bool is_user(const json_t *doc)
{
	return json_object_get(doc, "userName") != NULL;
}

static bool is_active(const json_t *doc)
{
	return !json_is_false(json_object_get(doc, "active"));
}

static json_t *patch_body(json_t *ops)
{
	return json_pack("{s:[s],s:o}", "schemas",
			 "urn:ietf:params:scim:api:messages:2.0:PatchOp",
			 "Operations", ops);
}

/* group_ops - lasOrphaned and the removal of its LAS members (staff stay
 * when their memberships are the school's, R12); NULL when nothing to do */
static json_t *group_ops(ajob *aj, const json_t *doc)
{
	json_t *ops = json_array(), *m;
	const json_t *orph = json_object_get(
		json_object_get(doc, LASYNC_SCHEMA_GROUP_EXT), "lasOrphaned");
	size_t i;

	if (!json_is_true(orph)) {
		char err[128];

		lasync_attr_patch_ops(lasync_attr_find(LASYNC_RES_GROUP,
						       LASYNC_G_ORPHANED),
				      "true", NULL, NULL, ops, err, sizeof(err));
	}
	json_array_foreach(json_object_get(doc, "members"), i, m) {
		const char *v = json_string_value(json_object_get(m, "value"));
		const char *ext = v ? applier_ids_external(aj->ids, v) : NULL;
		char path[200];

		if (ext == NULL || !applier_las_linked(aj, ext) ||
		    (strstr(ext, ":staff:") != NULL &&
		     !aj->tenant->settings.link_staff_to_groups))
			continue;
		snprintf(path, sizeof(path), "members[value eq \"%s\"]", v);
		json_array_append_new(ops, json_pack("{s:s,s:s}", "op", "remove",
						     "path", path));
		aj->counts.members_removed++;
	}
	if (json_array_size(ops) == 0) {
		json_decref(ops);
		return NULL;
	}
	return ops;
}

static void retire_next(ajob *aj);

static void on_retire(void *ctx, const lasync_http_result *r)
{
	ajob *aj = ctx;
	char reason[256];
	scim_verdict v;

	aj->retire_x = NULL;
	v = applier_scim_judge(r, reason, sizeof(reason));
	if (v == SCIM_TRANSIENT) {
		applier_job_retired(aj, OP_TRANSIENT,
				    (int)r->retry_after_s * 1000, reason);
		return;
	}
	if (v != SCIM_OK && v != SCIM_NOT_FOUND) {
		applier_job_retired(aj, OP_PERMANENT, 0, reason);
		return;
	}
	retire_next(aj);
}

/* retire_next - PATCH the next resource of the retire list */
static void retire_next(ajob *aj)
{
	while (aj->retire_i < json_array_size(aj->retire)) {
		json_t *e = json_array_get(aj->retire, aj->retire_i++);
		const json_t *doc = json_object_get(e, "doc");
		bool user = is_user(doc);
		json_t *ops;

		if (user) {
			char err[128];

			ops = json_array();
			lasync_attr_patch_ops(lasync_attr_find(LASYNC_RES_USER,
							       LASYNC_A_ACTIVE),
					      "false", NULL, NULL, ops, err,
					      sizeof(err));
			aj->counts.users_deactivated++;
		} else {
			ops = group_ops(aj, doc);
			if (ops == NULL)
				continue;
			aj->counts.groups_updated++;
		}
		char *url = applier_scim_url(
			aj->tenant->portal_base_url,
			user ? LASYNC__V1__RESOURCE_TYPE__RESOURCE_USER
			     : LASYNC__V1__RESOURCE_TYPE__RESOURCE_GROUP,
			json_string_value(json_object_get(doc, "id")), NULL,
			NULL);
		json_t *body = patch_body(ops);

		lasync_info("reconcile_retire", "tenant=%s ext=%s what=%s",
			    aj->tenant->tenant_id,
			    json_string_value(json_object_get(e, "ext")),
			    user ? "deactivate" : "orphan");
		aj->retire_x = applier_request(aj, "PATCH", url, body,
					       on_retire, aj);
		applier_count_write(aj, "PATCH");
		json_decref(body);
		free(url);
		return;
	}
	applier_job_retired(aj, OP_DONE, 0, NULL);
}

void applier_retire_start(ajob *aj)
{
	char err[256];
	json_t *keep = keep_set(aj, err, sizeof(err));
	json_t *users = json_array(), *groups = json_array(), *doc;
	const char *ext;
	unsigned active = 0, limit;
	const lasync_settings *s = &aj->tenant->settings;

	if (keep == NULL) {
		json_decref(users);
		json_decref(groups);
		applier_job_retired(aj, OP_TRANSIENT, 0, err);
		return;
	}
	json_object_foreach(aj->portal, ext, doc) {
		if (!applier_las_linked(aj, ext))
			continue;
		bool user = is_user(doc);

		if (user && is_active(doc))
			active++;
		if (json_object_get(keep, ext) != NULL)
			continue;
		if (user && is_active(doc))
			json_array_append_new(users, json_pack("{s:s,s:O}", "ext",
							       ext, "doc", doc));
		else if (!user)
			json_array_append_new(groups,
					      json_pack("{s:s,s:O}", "ext", ext,
							"doc", doc));
	}
	json_decref(keep);
	limit = (unsigned)((unsigned long)active * s->guard_percent / 100);
	if (limit < s->guard_min)
		limit = s->guard_min;
	size_t n = json_array_size(users);

	if (n > limit && aj->cs->approved_deactivations < n) {
		free(aj->retire_note);
		aj->retire_note = lasync_xasprintf(
			"reconcile: %zu LAS-linked profile(s) are no longer in "
			"the LAS but stay active: over the deletion guard "
			"(limit %u of %u active); check the LAS, then: lasyncctl "
			"sync %s --full --approve %zu",
			n, limit, active, aj->tenant->tenant_id, n);
		lasync_warn("reconcile_retire_held",
			    "tenant=%s deactivations=%zu active=%u limit=%u",
			    aj->tenant->tenant_id, n, active, limit);
		json_array_clear(users);
	}
	json_decref(aj->retire);
	aj->retire = users;
	json_array_extend(aj->retire, groups);
	json_decref(groups);
	aj->retire_i = 0;
	if (json_array_size(aj->retire) > 0)
		lasync_info("reconcile_retiring",
			    "tenant=%s sync=%s resources=%zu",
			    aj->tenant->tenant_id, aj->cs->header->sync_id,
			    json_array_size(aj->retire));
	retire_next(aj);
}
