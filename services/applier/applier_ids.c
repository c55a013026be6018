/*
 * applier_ids.c - the portal ids of LAS resources, cached per tenant in a
 * Redis hash ("<prefix>:{tenant}:ids", externalId -> id) and in memory for
 * one job.  The cache only saves lookups: a missing or stale entry is found
 * again through the portal (GET by externalId), so Redis may lose it - and
 * its writes therefore go into the job's batch (in order: a forget after a
 * put stays after it), sent when the job flushes.
 */
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "lasync_log.h"
#include "lasync_mem.h"

struct applier_ids {
	json_t *by_ext;		/* externalId -> id */
	json_t *by_id;		/* id -> externalId */
	lasync_redis_batch *later;
};

applier_ids *applier_ids_new(lasync_redis_batch *later)
{
	applier_ids *ids = lasync_xcalloc(1, sizeof(*ids));

	ids->later = later;
	ids->by_ext = json_object();
	ids->by_id = json_object();
	return ids;
}

void applier_ids_free(applier_ids *ids)
{
	if (ids == NULL)
		return;
	json_decref(ids->by_ext);
	json_decref(ids->by_id);
	free(ids);
}

static void remember(applier_ids *ids, const char *ext, const char *id)
{
	json_object_set_new(ids->by_ext, ext, json_string(id));
	json_object_set_new(ids->by_id, id, json_string(ext));
}

int applier_ids_load(applier_ids *ids, lasync_redis *r, const char *key,
		     char *err, size_t errlen)
{
	const char *argv[] = {"HGETALL", key};
	redisReply *rep = lasync_redis_cmd(r, 2, argv, NULL, err, errlen);

	if (rep == NULL)
		return -1;
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		redisReply *k = rep->element[i], *v = rep->element[i + 1];

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		char *ks = lasync_xstrndup(k->str, k->len);
		char *vs = lasync_xstrndup(v->str, v->len);

		remember(ids, ks, vs);
		free(ks);
		free(vs);
	}
	freeReplyObject(rep);
	return 0;
}

void applier_ids_seed(applier_ids *ids, const char *external_id,
		      const char *id)
{
	remember(ids, external_id, id);
}

const char *applier_ids_get(applier_ids *ids, const char *external_id)
{
	return json_string_value(json_object_get(ids->by_ext, external_id));
}

const char *applier_ids_external(applier_ids *ids, const char *id)
{
	return json_string_value(json_object_get(ids->by_id, id));
}

void applier_ids_put(applier_ids *ids, lasync_redis *r, const char *key,
		     const char *external_id, const char *id)
{
	const char *old = applier_ids_get(ids, external_id);

	(void)r;
	if (old != NULL && strcmp(old, id) == 0)
		return;
	remember(ids, external_id, id);
	const char *argv[] = {"HSET", key, external_id, id};

	/* Best effort: a lost entry costs one lookup later. */
	lasync_redis_batch_add(ids->later, 4, argv, NULL);
}

void applier_ids_forget(applier_ids *ids, lasync_redis *r, const char *key,
			const char *external_id)
{
	const char *id = applier_ids_get(ids, external_id);

	(void)r;
	if (id != NULL)
		json_object_del(ids->by_id, id);
	json_object_del(ids->by_ext, external_id);
	const char *argv[] = {"HDEL", key, external_id};

	lasync_redis_batch_add(ids->later, 3, argv, NULL);
}
