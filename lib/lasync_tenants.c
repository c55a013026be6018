/*
 * lasync_tenants.c - follower of the compacted tenants topic (see
 * lasync_tenants.h).  The table is a plain array: thousands of tenants,
 * looked up a few times per event, and searched linearly for R1 only when
 * a tenant is written.
 */
#include "lasync_tenants.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lasync_kafka.h"
#include "lasync_log.h"
#include "lasync_mem.h"

struct lasync_tenants {
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	int fds[2];
	char *topic;
	lasync_tenant **t;
	size_t n, cap;
};

lasync_tenants *lasync_tenants_new(const char *brokers, const char *topic,
				   const char *client_id, char *err,
				   size_t errlen)
{
	lasync_tenants *tt = lasync_xcalloc(1, sizeof(*tt));
	rd_kafka_conf_t *conf =
		lasync_kafka_conf(brokers, client_id, NULL, err, errlen);

	tt->fds[0] = tt->fds[1] = -1;
	if (conf == NULL)
		goto out_free;
	/* librdkafka's consumer queue needs a group.id even for manual
	 * assignment; it is never joined (no subscribe) nor committed to. */
	if (lasync_kafka_conf_set(conf, "group.id", "lasync-follower", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "enable.auto.commit", "false", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "enable.partition.eof", "false", err,
				  errlen)) {
		rd_kafka_conf_destroy(conf);
		goto out_free;
	}
	tt->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (tt->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		goto out_free;
	}
	rd_kafka_poll_set_consumer(tt->rk);
	tt->q = rd_kafka_queue_get_consumer(tt->rk);
	if (pipe(tt->fds) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		rd_kafka_queue_destroy(tt->q);
		rd_kafka_destroy(tt->rk);
		goto out_free;
	}
	fcntl(tt->fds[0], F_SETFL, O_NONBLOCK);
	fcntl(tt->fds[1], F_SETFL, O_NONBLOCK);
	rd_kafka_queue_io_event_enable(tt->q, tt->fds[1], "1", 1);
	tt->topic = lasync_xstrdup(topic);
	return tt;
out_free:
	free(tt);
	return NULL;
}

void lasync_tenants_free(lasync_tenants *tt)
{
	if (tt == NULL)
		return;
	rd_kafka_queue_io_event_enable(tt->q, -1, NULL, 0);
	rd_kafka_queue_destroy(tt->q);
	rd_kafka_consumer_close(tt->rk);
	rd_kafka_destroy(tt->rk);
	close(tt->fds[0]);
	close(tt->fds[1]);
	for (size_t i = 0; i < tt->n; i++)
		lasync_tenant_release(tt->t[i]);
	free(tt->t);
	free(tt->topic);
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
		lasync_warn("tenant_record_skipped",
			    "offset=%lld reason=\"no key\"", (long long)m->offset);
		return;
	}
	memcpy(key, m->key, kl);
	key[kl] = '\0';
	i = find(tt, key);
	if (m->len == 0) {
		if (i >= 0) {
			lasync_tenant_release(tt->t[i]);
			tt->t[i] = tt->t[--tt->n];
			lasync_info("tenant_removed", "tenant=%s", key);
		}
		return;
	}
	lasync_tenant *t = lasync_tenant_decode(m->payload, m->len, err,
						sizeof(err));

	if (t == NULL || strcmp(t->tenant_id, key) != 0) {
		lasync_warn("tenant_record_skipped",
			    "tenant=%s offset=%lld reason=%s", key,
			    (long long)m->offset,
			    lasync_q(t ? "key and tenant_id differ" : err));
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
	lasync_debug("tenant_updated", "tenant=%s", key);
}

static void apply_cb(void *ctx, const rd_kafka_message_t *m)
{
	apply(ctx, m);
}

int lasync_tenants_load(lasync_tenants *tt, int timeout_ms, char *err,
			size_t errlen)
{
	if (lasync_kafka_catch_up(tt->rk, tt->topic, RD_KAFKA_OFFSET_BEGINNING,
				  timeout_ms, apply_cb, tt, err, errlen) != 0)
		return -1;
	lasync_info("tenants_loaded", "topic=%s tenants=%zu", tt->topic,
		    tt->n);
	return 0;
}

void lasync_tenants_poll(lasync_tenants *tt)
{
	rd_kafka_message_t *m;

	lasync_kafka_drain_fd(tt->fds[0]);
	while ((m = rd_kafka_consumer_poll(tt->rk, 0)) != NULL) {
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			apply(tt, m);
		rd_kafka_message_destroy(m);
	}
}

lasync_tenant *lasync_tenants_get(lasync_tenants *tt, const char *tenant_id)
{
	ssize_t i = find(tt, tenant_id);

	return i >= 0 ? tt->t[i] : NULL;
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
	return tt->fds[0];
}
