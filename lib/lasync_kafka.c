/*
 * lasync_kafka.c - producer, topic names, topic administration.
 *
 * Delivery reports carry a heap-allocated (fn, ctx) pair as the message
 * opaque, freed when the report is served.  librdkafka logs go through
 * lasync_log with the librdkafka facility as the event, so broker
 * connection trouble is visible in the same one-line format.
 */
#include "lasync_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lasync_log.h"
#include "lasync_mem.h"

struct lasync_producer {
	rd_kafka_t *rk;
	rd_kafka_queue_t *mainq;
	int fds[2];
	volatile int fatal;
	char fatal_reason[512];
	rd_kafka_topic_t **plain;	/* topics produced without compression */
	size_t n_plain;
};

typedef struct dr_slot {
	lasync_dr_fn fn;
	void *ctx;
} dr_slot;

const char *lasync_topic(char *buf, size_t len, const char *prefix,
			 const char *suffix, const char *vendor)
{
	if (vendor != NULL)
		snprintf(buf, len, "%s.%s.%s", prefix, suffix, vendor);
	else
		snprintf(buf, len, "%s.%s", prefix, suffix);
	return buf;
}

int lasync_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
			  const char *value, char *err, size_t errlen)
{
	char kerr[256];

	if (rd_kafka_conf_set(conf, name, value, kerr, sizeof(kerr)) !=
	    RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property %s: %s", name, kerr);
		return -1;
	}
	return 0;
}

/* log_cb - librdkafka's log lines, mapped onto our levels */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	lasync_log_level l = level <= 3	  ? LASYNC_LOG_ERROR
			     : level <= 5 ? LASYNC_LOG_WARN
			     : level == 6 ? LASYNC_LOG_INFO
					  : LASYNC_LOG_DEBUG;

	/* librdkafka reports transient broker trouble at error level; it is
	 * retried internally, so count it as a warning. */
	if (l == LASYNC_LOG_ERROR)
		l = LASYNC_LOG_WARN;
	lasync_log(l, "kafka_log", "client=%s facility=%s msg=%s",
		   rd_kafka_name(rk), fac, lasync_q(buf));
}

/* lasync_kafka_conf_extra - comma-separated key=value librdkafka
 * properties */
int lasync_kafka_conf_extra(rd_kafka_conf_t *conf, const char *extra, char *err,
			size_t errlen)
{
	char *copy, *save = NULL;
	int rc = 0;

	if (extra == NULL || *extra == '\0')
		return 0;
	copy = lasync_xstrdup(extra);
	for (char *kv = strtok_r(copy, ",", &save); kv != NULL && rc == 0;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (eq == NULL) {
			snprintf(err, errlen,
				 "kafka extra \"%s\" is not key=value", kv);
			rc = -1;
			break;
		}
		*eq = '\0';
		rc = lasync_kafka_conf_set(conf, kv, eq + 1, err, errlen);
	}
	free(copy);
	return rc;
}

rd_kafka_conf_t *lasync_kafka_conf(const char *brokers, const char *client_id,
				   const char *extra, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (lasync_kafka_conf_set(conf, "bootstrap.servers", brokers, err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "client.id", client_id, err, errlen) ||
	    lasync_kafka_conf_extra(conf, extra, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, log_cb);
	return conf;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
		      void *opaque)
{
	dr_slot *s = m->_private;

	(void)rk;
	(void)opaque;
	if (s == NULL)
		return;
	s->fn(s->ctx, m->err, m->partition, m->offset);
	free(s);
}

/* error_cb - latch fatal errors; everything else librdkafka retries */
static void error_cb(rd_kafka_t *rk, int err, const char *reason,
		     void *opaque)
{
	lasync_producer *p = opaque;

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char fe[512];
		rd_kafka_resp_err_t orig =
			rd_kafka_fatal_error(rk, fe, sizeof(fe));

		snprintf(p->fatal_reason, sizeof(p->fatal_reason), "%s: %.400s",
			 rd_kafka_err2name(orig), fe);
		p->fatal = 1;
		lasync_error("kafka_fatal", "client=%s error=%s reason=%s",
			     rd_kafka_name(rk), rd_kafka_err2name(orig),
			     lasync_q(fe));
		return;
	}
	lasync_warn("kafka_error", "client=%s error=%s reason=%s",
		    rd_kafka_name(rk),
		    rd_kafka_err2name((rd_kafka_resp_err_t)err),
		    lasync_q(reason));
}

lasync_producer *lasync_producer_new(const char *brokers,
				     const char *client_id, const char *extra,
				     char *err, size_t errlen)
{
	lasync_producer *p = lasync_xcalloc(1, sizeof(*p));
	char maxb[32];
	rd_kafka_conf_t *conf;

	p->fds[0] = p->fds[1] = -1;
	conf = lasync_kafka_conf(brokers, client_id, NULL, err, errlen);
	if (conf == NULL)
		goto out_free;
	snprintf(maxb, sizeof(maxb), "%u", LASYNC_MAX_MESSAGE_BYTES);
	/* Idempotence implies acks=all, retries and in-order delivery. */
	if (lasync_kafka_conf_set(conf, "enable.idempotence", "true", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "message.max.bytes", maxb, err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "linger.ms", "5", err, errlen) ||
	    lasync_kafka_conf_set(conf, "compression.codec", "zstd", err,
				  errlen) ||
	    /* librdkafka makes a zstd context for every batch it compresses,
	     * sized for the level's whole window: 3.5 MB of heap at the
	     * default level 3, 1.3 MB at level 1 (ZSTD_estimateCStreamSize;
	     * heaptrack saw the 3.5 MB in the mapper's peak heap). The
	     * batches are change sets, requests and results (snapshots carry
	     * their own zstd frames): BENCHMARKS.md §4 has the bytes. */
	    lasync_kafka_conf_set(conf, "compression.level", "1", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "message.timeout.ms", "120000", err,
				  errlen))
		goto out_conf;
	/* Operator extras last, so they can tune anything above. */
	if (lasync_kafka_conf_extra(conf, extra, err, errlen))
		goto out_conf;
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (p->rk == NULL)
		goto out_conf;
	p->mainq = rd_kafka_queue_get_main(p->rk);
	if (pipe(p->fds) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out_rk;
	}
	fcntl(p->fds[0], F_SETFL, O_NONBLOCK);
	fcntl(p->fds[1], F_SETFL, O_NONBLOCK);
	rd_kafka_queue_io_event_enable(p->mainq, p->fds[1], "1", 1);
	return p;
out_conf:
	rd_kafka_conf_destroy(conf);
	goto out_free;
out_rk:
	rd_kafka_queue_destroy(p->mainq);
	rd_kafka_destroy(p->rk);
out_free:
	free(p);
	return NULL;
}

void lasync_producer_free(lasync_producer *p)
{
	if (p == NULL)
		return;
	rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
	rd_kafka_queue_destroy(p->mainq);
	/* Undelivered messages are purged; their callbacks still run so that
	 * their contexts are released. */
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(p->rk, 0);
	for (size_t i = 0; i < p->n_plain; i++)
		rd_kafka_topic_destroy(p->plain[i]);
	free(p->plain);
	rd_kafka_destroy(p->rk);
	close(p->fds[0]);
	close(p->fds[1]);
	free(p);
}

int lasync_producer_uncompressed(lasync_producer *p, const char *topic,
				 char *err, size_t errlen)
{
	rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
	rd_kafka_topic_t *t;
	char kerr[256];

	if (rd_kafka_topic_conf_set(tc, "compression.codec", "none", kerr,
				    sizeof(kerr)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "compression.codec=none for %s: %s",
			 topic, kerr);
		rd_kafka_topic_conf_destroy(tc);
		return -1;
	}
	/* The handle made here is the one rd_kafka_producev() finds by
	 * name later, so it must come before the topic's first message. */
	t = rd_kafka_topic_new(p->rk, topic, tc);
	if (t == NULL) {
		snprintf(err, errlen, "topic %s: %s", topic,
			 rd_kafka_err2str(rd_kafka_last_error()));
		return -1;
	}
	p->plain = lasync_xreallocarray(p->plain, p->n_plain + 1,
					sizeof(*p->plain));
	p->plain[p->n_plain++] = t;
	return 0;
}

int lasync_produce(lasync_producer *p, const char *topic, const char *key,
		   const void *value, size_t len, rd_kafka_headers_t *hdrs,
		   lasync_dr_fn fn, void *ctx, char *err, size_t errlen)
{
	dr_slot *s = lasync_xmalloc(sizeof(*s));
	rd_kafka_resp_err_t e;

	if (p->fatal) {
		snprintf(err, errlen, "producer is in a fatal state: %s",
			 p->fatal_reason);
		free(s);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return -1;
	}
	s->fn = fn;
	s->ctx = ctx;
	if (hdrs != NULL)
		e = rd_kafka_producev(
			p->rk, RD_KAFKA_V_TOPIC(topic),
			RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
			RD_KAFKA_V_VALUE((void *)value, len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(s),
			RD_KAFKA_V_END);
	else
		e = rd_kafka_producev(
			p->rk, RD_KAFKA_V_TOPIC(topic),
			RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
			RD_KAFKA_V_VALUE((void *)value, len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_OPAQUE(s), RD_KAFKA_V_END);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "produce to %s: %s", topic,
			 rd_kafka_err2str(e));
		free(s);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return -1;
	}
	return 0;
}

int lasync_producer_poll(lasync_producer *p, int timeout_ms)
{
	return rd_kafka_poll(p->rk, timeout_ms);
}

int lasync_producer_flush(lasync_producer *p, int timeout_ms)
{
	return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR
		       ? 0
		       : -1;
}

bool lasync_producer_fatal(lasync_producer *p, char *err, size_t errlen)
{
	if (p->fatal && err != NULL)
		snprintf(err, errlen, "%s", p->fatal_reason);
	return p->fatal != 0;
}

int lasync_producer_fd(lasync_producer *p)
{
	return p->fds[0];
}

rd_kafka_t *lasync_producer_handle(lasync_producer *p)
{
	return p->rk;
}

int lasync_producer_outstanding(lasync_producer *p)
{
	return rd_kafka_outq_len(p->rk);
}

void lasync_kafka_drain_fd(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int lasync_kafka_ensure_topics(rd_kafka_t *rk, const lasync_topic_spec *specs,
			       size_t n, int timeout_ms, char *err,
			       size_t errlen)
{
	rd_kafka_NewTopic_t **nts = lasync_xcalloc(n, sizeof(*nts));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts =
		rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_event_t *ev = NULL;
	char maxb[32], kerr[256];
	int rc = -1;

	snprintf(maxb, sizeof(maxb), "%u", LASYNC_MAX_MESSAGE_BYTES);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, kerr,
						  sizeof(kerr));
	rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, kerr,
						    sizeof(kerr));
	for (size_t i = 0; i < n; i++) {
		nts[i] = rd_kafka_NewTopic_new(specs[i].name,
					       specs[i].partitions, -1, kerr,
					       sizeof(kerr));
		if (nts[i] == NULL) {
			snprintf(err, errlen, "topic %s: %s", specs[i].name,
				 kerr);
			goto out;
		}
		rd_kafka_NewTopic_set_config(nts[i], "max.message.bytes", maxb);
		if (specs[i].compact)
			rd_kafka_NewTopic_set_config(nts[i], "cleanup.policy",
						     "compact");
		if (specs[i].retention_ms > 0) {
			char r[32];

			snprintf(r, sizeof(r), "%ld", specs[i].retention_ms);
			rd_kafka_NewTopic_set_config(nts[i], "retention.ms", r);
		}
	}
	rd_kafka_CreateTopics(rk, nts, n, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL) {
		snprintf(err, errlen, "creating topics timed out after %d ms",
			 timeout_ms);
		goto out;
	}
	if (rd_kafka_event_error(ev)) {
		snprintf(err, errlen, "creating topics: %s",
			 rd_kafka_event_error_string(ev));
		goto out;
	}
	size_t nres;
	const rd_kafka_topic_result_t **res =
		rd_kafka_CreateTopics_result_topics(
			rd_kafka_event_CreateTopics_result(ev), &nres);

	for (size_t i = 0; i < nres; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);

		if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			snprintf(err, errlen, "topic %s: %s",
				 rd_kafka_topic_result_name(res[i]),
				 rd_kafka_topic_result_error_string(res[i]));
			goto out;
		}
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	for (size_t i = 0; i < n; i++)
		if (nts[i])
			rd_kafka_NewTopic_destroy(nts[i]);
	free(nts);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	return rc;
}

const char *lasync_kafka_header(const rd_kafka_message_t *m, const char *name,
				char *buf, size_t len)
{
	rd_kafka_headers_t *h = NULL;

	if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return NULL;
	return lasync_kafka_headers_get(h, name, buf, len);
}

const char *lasync_kafka_headers_get(const rd_kafka_headers_t *h,
				     const char *name, char *buf, size_t len)
{
	const void *v;
	size_t vlen;

	if (h == NULL || rd_kafka_header_get_last(h, name, &v, &vlen) !=
				 RD_KAFKA_RESP_ERR_NO_ERROR)
		return NULL;
	if (vlen >= len)
		vlen = len - 1;
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	return buf;
}

/* retriable - errors a just-created topic shows for a moment */
static bool retriable(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
	       e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
	       e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
	       e == RD_KAFKA_RESP_ERR__TRANSPORT ||
	       e == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

int lasync_kafka_catch_up(rd_kafka_t *rk, const char *topic, int64_t start,
			  int timeout_ms,
			  void (*fn)(void *ctx, const rd_kafka_message_t *m),
			  void *ctx, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t *hwm = NULL, deadline = 0;
	int rc = -1, np;
	rd_kafka_resp_err_t e;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
		   timeout_ms;
	for (;;) {
		e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 ||
		    !retriable(md->topics[0].err))
			break;
		rd_kafka_metadata_destroy(md);
		md = NULL;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > deadline)
			break;
		nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
	}
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md == NULL ||
	    md->topic_cnt != 1 ||
	    md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "topic %s: %s", topic,
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

		/* A topic created a moment ago may not have a leader yet:
		 * retriable errors are retried until the deadline. */
		for (;;) {
			e = rd_kafka_query_watermark_offsets(
				rk, topic, p, &lo, &hwm[p], timeout_ms);
			if (!retriable(e))
				break;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >
			    deadline)
				break;
			nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
		}
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(err, errlen, "topic %s [%d]: %s", topic, p,
				 rd_kafka_err2str(e));
			goto out;
		}
		/* END is pinned to the watermark now, so nothing produced after
		 * this call can be missed. */
		rd_kafka_topic_partition_list_add(l, topic, p)->offset =
			start == RD_KAFKA_OFFSET_END ? hwm[p] : start;
	}
	e = rd_kafka_assign(rk, l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "assign %s: %s", topic,
			 rd_kafka_err2str(e));
		goto out;
	}
	if (start == RD_KAFKA_OFFSET_END) {
		rc = 0;
		goto out;
	}
	for (;;) {
		bool behind = false;
		rd_kafka_topic_partition_list_t *pos =
			rd_kafka_topic_partition_list_copy(l);

		rd_kafka_position(rk, pos);
		for (int p = 0; p < np; p++) {
			int64_t at = pos->elems[p].offset;

			if (hwm[p] > 0 && (at < 0 ? 0 : at) < hwm[p])
				behind = true;
		}
		rd_kafka_topic_partition_list_destroy(pos);
		if (!behind)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >
		    deadline) {
			snprintf(err, errlen,
				 "reading %s did not finish within %d ms",
				 topic, timeout_ms);
			goto out;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			fn(ctx, m);
		rd_kafka_message_destroy(m);
	}
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

int lasync_kafka_delete_topics(rd_kafka_t *rk, const char *prefix,
			       int timeout_ms, size_t *n, char *err,
			       size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_DeleteTopic_t **dts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	size_t plen = strlen(prefix), k = 0;
	int rc = -1;

	*n = 0;
	if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "cannot list topics");
		return -1;
	}
	dts = lasync_xcalloc((size_t)md->topic_cnt + 1, sizeof(*dts));
	for (int i = 0; i < md->topic_cnt; i++) {
		const char *t = md->topics[i].topic;

		if (strncmp(t, prefix, plen) == 0 && t[plen] == '.')
			dts[k++] = rd_kafka_DeleteTopic_new(t);
	}
	if (k == 0) {
		rc = 0;
		goto out;
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_DeleteTopics(rk, dts, k, NULL, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL) {
		snprintf(err, errlen, "deleting topics timed out");
		goto out;
	}
	if (rd_kafka_event_error(ev)) {
		snprintf(err, errlen, "deleting topics: %s",
			 rd_kafka_event_error_string(ev));
		goto out;
	}
	*n = k;
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (q)
		rd_kafka_queue_destroy(q);
	for (size_t i = 0; i < k; i++)
		rd_kafka_DeleteTopic_destroy(dts[i]);
	free(dts);
	rd_kafka_metadata_destroy(md);
	return rc;
}
