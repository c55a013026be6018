/*
 * lasync_follower.c - group-less follower of a compacted topic (see
 * lasync_follower.h).
 */
#include "lasync_follower.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lasync_kafka.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"

struct lasync_follower {
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	int fds[2];
	char *topic;
	lasync_follower_fn fn;
	void *ctx;
};

static pthread_once_t skipped_once = PTHREAD_ONCE_INIT;
static lasync_metric *m_skipped;

static void skipped_init(void)
{
	m_skipped = lasync_metric_counter(
		"lasync_state_records_skipped_total",
		"Records of compacted state topics skipped as unusable "
		"(undecodable, no key, key and content disagree)",
		"topic");
}

lasync_follower *lasync_follower_new(const char *brokers, const char *topic,
				     const char *client_id,
				     lasync_follower_fn fn, void *ctx,
				     char *err, size_t errlen)
{
	lasync_follower *f = lasync_xcalloc(1, sizeof(*f));
	rd_kafka_conf_t *conf =
		lasync_kafka_conf(brokers, client_id, NULL, err, errlen);

	/* The family shows on /metrics from the start, at no children. */
	pthread_once(&skipped_once, skipped_init);
	f->fds[0] = f->fds[1] = -1;
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
	f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (f->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		goto out_free;
	}
	rd_kafka_poll_set_consumer(f->rk);
	f->q = rd_kafka_queue_get_consumer(f->rk);
	if (pipe(f->fds) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		rd_kafka_queue_destroy(f->q);
		rd_kafka_destroy(f->rk);
		goto out_free;
	}
	fcntl(f->fds[0], F_SETFL, O_NONBLOCK);
	fcntl(f->fds[1], F_SETFL, O_NONBLOCK);
	rd_kafka_queue_io_event_enable(f->q, f->fds[1], "1", 1);
	f->topic = lasync_xstrdup(topic);
	f->fn = fn;
	f->ctx = ctx;
	return f;
out_free:
	free(f);
	return NULL;
}

void lasync_follower_free(lasync_follower *f)
{
	if (f == NULL)
		return;
	rd_kafka_queue_io_event_enable(f->q, -1, NULL, 0);
	rd_kafka_queue_destroy(f->q);
	rd_kafka_consumer_close(f->rk);
	rd_kafka_destroy(f->rk);
	close(f->fds[0]);
	close(f->fds[1]);
	free(f->topic);
	free(f);
}

int lasync_follower_load(lasync_follower *f, int timeout_ms, char *err,
			 size_t errlen)
{
	return lasync_kafka_catch_up(f->rk, f->topic,
				     RD_KAFKA_OFFSET_BEGINNING, timeout_ms,
				     f->fn, f->ctx, err, errlen);
}

void lasync_follower_poll(lasync_follower *f)
{
	rd_kafka_message_t *m;

	lasync_kafka_drain_fd(f->fds[0]);
	while ((m = rd_kafka_consumer_poll(f->rk, 0)) != NULL) {
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			f->fn(f->ctx, m);
		rd_kafka_message_destroy(m);
	}
}

int lasync_follower_fd(lasync_follower *f)
{
	return f->fds[0];
}

const char *lasync_follower_topic(const lasync_follower *f)
{
	return f->topic;
}

void lasync_follower_skipped(const rd_kafka_message_t *m, const char *cause)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
	char key[96];
	size_t kl = 0;

	pthread_once(&skipped_once, skipped_init);
	/* Keys of state topics are ids (tenant, tenant/suggestion); a longer
	 * one is cut, and lasync_q escapes whatever bytes it holds. */
	if (m->key != NULL) {
		kl = m->key_len < sizeof(key) - 1 ? m->key_len
						  : sizeof(key) - 1;
		memcpy(key, m->key, kl);
	}
	key[kl] = '\0';
	lasync_warn("state_record_skipped",
		    "topic=%s partition=%d offset=%lld key=%s bytes=%zu "
		    "cause=%s",
		    topic, (int)m->partition, (long long)m->offset,
		    lasync_q(key), m->len, lasync_q(cause));
	lasync_metric_add(m_skipped, 1, topic);
}
