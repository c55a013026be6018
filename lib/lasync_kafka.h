/*
 * lasync_kafka.h - the producer every process shares, topic names, and
 * topic administration (DESIGN §1, §2).
 *
 * The producer is idempotent (enable.idempotence=true implies acks=all and
 * ordered, deduplicated retries); a fatal producer error (the idempotence
 * guarantee is lost) is latched and reported by lasync_producer_fatal(), and
 * the daemon then shuts down without storing further offsets, so nothing is
 * lost.  Every produce names a delivery callback; work is only considered
 * done when that callback reports success.
 */
#ifndef LASYNC_KAFKA_H
#define LASYNC_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Topic suffixes; full names are "<prefix>.<suffix>" (prefix "lasync"). */
#define LASYNC_T_TENANTS "tenants"
#define LASYNC_T_SYNC_REQUESTS "sync-requests" /* + ".<vendor>" */
#define LASYNC_T_SNAPSHOTS "snapshots"	       /* + ".<vendor>" */
#define LASYNC_T_CHANGES "portal-changes"
#define LASYNC_T_RESULTS "sync-results"
#define LASYNC_T_SUGGESTIONS "suggestions"
#define LASYNC_T_SUGGESTION_STATUS "suggestion-status" /* compacted, R21 */
#define LASYNC_T_REMINDERS "suggestion-reminders"     /* R21, from cron */
#define LASYNC_T_HELD "held-syncs" /* compacted, R17 */
#define LASYNC_T_SCHEDULE "schedule" /* compacted: syncs requested by cron */
#define LASYNC_T_DLQ_SUFFIX ".dlq"
#define LASYNC_T_DLQ_REPLAYS "dlq-replays" /* compacted: replayed letters */
/* Header on a message republished from a dead-letter topic: how many times
 * it has been replayed (the job engine copies it into its next dead letter) */
#define LASYNC_H_REPLAYS "lasync.replays"

/* Largest event: 16 MiB of payload plus protobuf and Kafka overhead. */
#define LASYNC_MAX_EVENT_BYTES (16u * 1024u * 1024u)
#define LASYNC_MAX_MESSAGE_BYTES (LASYNC_MAX_EVENT_BYTES + 512u * 1024u)

/* lasync_topic - "<prefix>.<suffix>[.<vendor>]" into buf */
const char *lasync_topic(char *buf, size_t len, const char *prefix,
			 const char *suffix, const char *vendor);

/* lasync_kafka_conf - a conf with bootstrap.servers, client.id and the
 * comma-separated "key=value" extras applied; NULL with err naming the
 * property that librdkafka refused */
rd_kafka_conf_t *lasync_kafka_conf(const char *brokers, const char *client_id,
				   const char *extra, char *err,
				   size_t errlen);

/* lasync_kafka_conf_extra - apply "k=v,k=v" properties (operator tuning) */
int lasync_kafka_conf_extra(rd_kafka_conf_t *conf, const char *extra,
			    char *err, size_t errlen);

/* lasync_kafka_conf_set - rd_kafka_conf_set that reports into err */
int lasync_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
			  const char *value, char *err, size_t errlen);

typedef struct lasync_producer lasync_producer;

/* Delivery callback: err is RD_KAFKA_RESP_ERR_NO_ERROR on success. */
typedef void (*lasync_dr_fn)(void *ctx, rd_kafka_resp_err_t err,
			     int32_t partition, int64_t offset);

lasync_producer *lasync_producer_new(const char *brokers,
				     const char *client_id, const char *extra,
				     char *err, size_t errlen);
void lasync_producer_free(lasync_producer *p);

/* lasync_producer_uncompressed - produce topic's messages without Kafka's
 * batch compression (the producer's is zstd): for values compressed
 * already, such as snapshots, whose documents are zstd frames.  librdkafka
 * would compress every batch of them again, find the result no smaller
 * and send the batch as it was: CPU for nothing.  Call before the first
 * message to topic; -1 and err on failure. */
int lasync_producer_uncompressed(lasync_producer *p, const char *topic,
				 char *err, size_t errlen);

/* lasync_produce - queue one message (value copied); hdrs, when given, is
 * taken over.  fn is called exactly once from lasync_producer_poll(),
 * unless this returns -1 (then never). */
int lasync_produce(lasync_producer *p, const char *topic, const char *key,
		   const void *value, size_t len, rd_kafka_headers_t *hdrs,
		   lasync_dr_fn fn, void *ctx, char *err, size_t errlen);

/* lasync_producer_poll - serve delivery callbacks; returns how many */
int lasync_producer_poll(lasync_producer *p, int timeout_ms);

/* lasync_producer_flush - wait for every queued message; -1 on timeout */
int lasync_producer_flush(lasync_producer *p, int timeout_ms);

/* lasync_producer_fatal - has the producer hit a fatal error? */
bool lasync_producer_fatal(lasync_producer *p, char *err, size_t errlen);

/* lasync_producer_fd - a file descriptor that becomes readable when
 * delivery reports wait; drain it with lasync_kafka_drain_fd() */
int lasync_producer_fd(lasync_producer *p);
rd_kafka_t *lasync_producer_handle(lasync_producer *p);
/* lasync_producer_outstanding - messages queued or in flight */
int lasync_producer_outstanding(lasync_producer *p);

/* lasync_kafka_drain_fd - read away wake-up bytes from an event fd */
void lasync_kafka_drain_fd(int fd);

typedef struct lasync_topic_spec {
	const char *name;
	int partitions;
	bool compact;
	long retention_ms; /* 0: broker default */
} lasync_topic_spec;

/* lasync_kafka_ensure_topics - create the topics that do not exist yet
 * (existing ones are left as they are); -1 with err naming the topic */
int lasync_kafka_ensure_topics(rd_kafka_t *rk, const lasync_topic_spec *specs,
			       size_t n, int timeout_ms, char *err,
			       size_t errlen);

/* lasync_kafka_delete_topics - delete every topic whose name starts with
 * prefix + "." (a test run's or a retired environment's topics); the
 * number deleted in *n.  -1 with err. */
int lasync_kafka_delete_topics(rd_kafka_t *rk, const char *prefix,
			       int timeout_ms, size_t *n, char *err,
			       size_t errlen);

/* lasync_kafka_catch_up - assign every partition of topic to the (group-
 * less) consumer rk from offset start (RD_KAFKA_OFFSET_BEGINNING or _END)
 * and, from the beginning, call fn for each message up to the high
 * watermarks that stand now.  The assignment stays, so the caller can go on
 * following the topic.  -1 with err on failure or timeout. */
int lasync_kafka_catch_up(rd_kafka_t *rk, const char *topic, int64_t start,
			  int timeout_ms,
			  void (*fn)(void *ctx, const rd_kafka_message_t *m),
			  void *ctx, char *err, size_t errlen);

/* lasync_kafka_header - a header's value as a NUL-terminated copy in buf,
 * or NULL when the message has no such header */
const char *lasync_kafka_header(const rd_kafka_message_t *m, const char *name,
				char *buf, size_t len);
/* lasync_kafka_headers_get - the same from a header list (NULL: none) */
const char *lasync_kafka_headers_get(const rd_kafka_headers_t *h,
				     const char *name, char *buf, size_t len);

#endif /* LASYNC_KAFKA_H */
