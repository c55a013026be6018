/*
 * lasync_tenants.c - follower of the compacted tenants topic (see
 * lasync_tenants.h).  The table is a plain array: thousands of tenants,
 * looked up a few times per event, and searched linearly for R1 only when
 * a tenant is written.
 */
#include "lasync_tenants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_follower.h"
#include "lasync_log.h"
#include "lasync_mem.h"

struct lasync_tenants {
	lasync_follower *f;
	lasync_tenant **t;
	size_t n, cap;
	unsigned long version;
};

static void apply_cb(void *ctx, const rd_kafka_message_t *m);

lasync_tenants *lasync_tenants_new(const char *brokers, const char *topic,
				   const char *client_id, char *err,
				   size_t errlen)
{
	lasync_tenants *tt = lasync_xcalloc(1, sizeof(*tt));

	tt->f = lasync_follower_new(brokers, topic, client_id, apply_cb, tt,
				    err, errlen);
	if (tt->f == NULL) {
		free(tt);
		return NULL;
	}
	return tt;
}

void lasync_tenants_free(lasync_tenants *tt)
{
	if (tt == NULL)
		return;
	lasync_follower_free(tt->f);
	for (size_t i = 0; i < tt->n; i++)
		lasync_tenant_release(tt->t[i]);
	free(tt->t);
	free(tt);
}

static ssize_t find(const lasync_tenants *tt, const char *id)
{
	for (size_t i = 0; i < tt->n; i++)
		if (strcmp(tt->t[i]->tenant_id, id) == 0)
			return (ssize_t)i;
	return -1;
}

/* apply - one record of the topic: an update or a tombstone */
static void apply(lasync_tenants *tt, const rd_kafka_message_t *m)
{
	char key[128], err[256];
	size_t kl = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;
	ssize_t i;

	if (m->key == NULL || kl == 0) {
		lasync_follower_skipped(m, "no key");
		return;
	}
	memcpy(key, m->key, kl);
	key[kl] = '\0';
	i = find(tt, key);
	if (m->len == 0) {
		if (i >= 0) {
			lasync_tenant_release(tt->t[i]);
			tt->t[i] = tt->t[--tt->n];
			tt->version++;
			lasync_info("tenant_removed", "tenant=%s", key);
		}
		return;
	}
	lasync_tenant *t = lasync_tenant_decode(m->payload, m->len, err,
						sizeof(err));

	/* Skipped, the tenant's previous config stays in force: a bad
	 * record must neither stop the follower nor remove a school. */
	if (t == NULL || strcmp(t->tenant_id, key) != 0) {
		lasync_follower_skipped(m, t ? "key and tenant_id differ"
					     : err);
		lasync_tenant_free(t);
		return;
	}
	t->refs = 1;
	if (i >= 0) {
		lasync_tenant_release(tt->t[i]);
		tt->t[i] = t;
	} else {
		lasync_grow(&tt->t, &tt->cap, tt->n + 1);
		tt->t[tt->n++] = t;
	}
	tt->version++;
	lasync_debug("tenant_updated", "tenant=%s", key);
}

static void apply_cb(void *ctx, const rd_kafka_message_t *m)
{
	apply(ctx, m);
}

int lasync_tenants_load(lasync_tenants *tt, int timeout_ms, char *err,
			size_t errlen)
{
	if (lasync_follower_load(tt->f, timeout_ms, err, errlen) != 0)
		return -1;
	lasync_info("tenants_loaded", "topic=%s tenants=%zu",
		    lasync_follower_topic(tt->f), tt->n);
	return 0;
}

void lasync_tenants_poll(lasync_tenants *tt)
{
	lasync_follower_poll(tt->f);
}

lasync_tenant *lasync_tenants_get(lasync_tenants *tt, const char *tenant_id)
{
	ssize_t i = find(tt, tenant_id);

	return i >= 0 ? tt->t[i] : NULL;
}

lasync_tenant *lasync_tenants_get_rev(lasync_tenants *tt, const char *tenant_id,
				      int64_t min_rev, bool *behind)
{
	lasync_tenant *t = lasync_tenants_get(tt, tenant_id);

	*behind = min_rev > 0 && (t == NULL || t->revision < min_rev);
	return *behind ? NULL : t;
}

lasync_tenant *lasync_tenants_find_brin(lasync_tenants *tt, const char *brin,
					const char *dependance,
					const char *except_id)
{
	for (size_t i = 0; i < tt->n; i++) {
		lasync_tenant *t = tt->t[i];

		if (lasync_streq(t->brin, brin) &&
		    lasync_streq(t->dependance, dependance) &&
		    (except_id == NULL || strcmp(t->tenant_id, except_id) != 0))
			return t;
	}
	return NULL;
}

void lasync_tenants_each(lasync_tenants *tt,
			 void (*fn)(void *ctx, lasync_tenant *t), void *ctx)
{
	for (size_t i = 0; i < tt->n; i++)
		fn(ctx, tt->t[i]);
}

size_t lasync_tenants_count(const lasync_tenants *tt)
{
	return tt->n;
}

int lasync_tenants_fd(lasync_tenants *tt)
{
	return lasync_follower_fd(tt->f);
}

unsigned long lasync_tenants_version(const lasync_tenants *tt)
{
	return tt->version;
}
