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

#include "lasync_clock.h"
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
	if (lasync_kafka_conf_set(conf, "enable.auto.commit", "false", err,
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

int lasync_tenants_load(lasync_tenants *tt, int timeout_ms, char *err,
			size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(tt->rk, tt->topic, NULL);
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t *hwm = NULL;
	int64_t deadline = lasync_mono_ms() + timeout_ms;
	int rc = -1, np;
	rd_kafka_resp_err_t e;

	e = rd_kafka_metadata(tt->rk, 0, rkt, &md, timeout_ms);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 ||
	    md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "topic %s: %s", tt->topic,
			 rd_kafka_err2str(e ? e
					    : md && md->topic_cnt
						      ? md->topics[0].err
						      : RD_KAFKA_RESP_ERR_UNKNOWN));
		goto out;
	}
	np = md->topics[0].partition_cnt;
	l = rd_kafka_topic_partition_list_new(np);
	hwm = lasync_xcalloc((size_t)np + 1, sizeof(*hwm));
	for (int p = 0; p < np; p++) {
		int64_t lo;

		e = rd_kafka_query_watermark_offsets(tt->rk, tt->topic, p, &lo,
						     &hwm[p], timeout_ms);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(err, errlen, "topic %s [%d]: %s", tt->topic,
				 p, rd_kafka_err2str(e));
			goto out;
		}
		rd_kafka_topic_partition_list_add(l, tt->topic, p)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	}
	e = rd_kafka_assign(tt->rk, l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "assign %s: %s", tt->topic,
			 rd_kafka_err2str(e));
		goto out;
	}
	/* Consume until every partition reached its starting watermark. */
	for (;;) {
		bool behind = false;

		for (int p = 0; p < np; p++) {
			if (hwm[p] <= 0)
				continue;
			rd_kafka_topic_partition_list_t *pos =
				rd_kafka_topic_partition_list_new(1);

			rd_kafka_topic_partition_list_add(pos, tt->topic, p);
			rd_kafka_position(tt->rk, pos);
			if (pos->elems[0].offset < hwm[p])
				behind = true;
			rd_kafka_topic_partition_list_destroy(pos);
		}
		if (!behind)
			break;
		if (lasync_mono_ms() > deadline) {
			snprintf(err, errlen,
				 "reading %s did not finish within %d ms",
				 tt->topic, timeout_ms);
			goto out;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(tt->rk, 100);

		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			apply(tt, m);
		rd_kafka_message_destroy(m);
	}
	lasync_info("tenants_loaded", "topic=%s tenants=%zu partitions=%d",
		    tt->topic, tt->n, np);
	rc = 0;
out:
	free(hwm);
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return rc;
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
