/*
 * lasync_consumer.h - the consume side of DESIGN §2, shared by every daemon.
 *
 * Each consumed message becomes a job.  Jobs of one key (tenant) run one at
 * a time in offset order, so one tenant's events stay ordered; jobs of
 * different keys run side by side, up to max_concurrent per partition, so
 * a tenant whose portal is failing (its job waiting for a retry) never
 * delays another tenant on the same partition; and, with a memory budget,
 * only while the estimated memory of the jobs running fits it.  A job
 * ends with one disposition:
 *
 *   DONE   its effects are done; the offset is stored once every message the
 *          job produced (lasync_job_produce) is acknowledged by the broker.
 *   RETRY  a transient failure: the job starts again after capped
 *          exponential backoff with jitter (or the Retry-After it names).
 *          This engine is the one component per stage that owns retry
 *          timing.  When attempts run out the job is dead-lettered.
 *   DEAD   a permanent failure: ops->dead() produces what the stage owes
 *          (e.g. a failed sync result), the message goes to
 *          "<topic>.dlq" with origin headers, and once that is acknowledged
 *          the offset is stored and the partition moves on.
 *
 * Long work never blocks polling: the daemon keeps calling
 * lasync_consumer_poll() while jobs wait on I/O; a partition whose backlog
 * of fetched messages grows is paused and resumed later.  On revocation
 * (cooperative-sticky) and shutdown, in-flight jobs are given the drain time
 * to finish, then abandoned without storing their offsets, so the next owner
 * redoes them (effects are idempotent).
 */
#ifndef LASYNC_CONSUMER_H
#define LASYNC_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lasync_kafka.h"

typedef enum {
	LASYNC_DONE,
	LASYNC_RETRY,
	LASYNC_DEAD,
} lasync_disposition;

typedef struct lasync_job {
	const void *payload;		/* the message's value, NUL-terminated; */
	size_t len;			/* ... owned by the engine */
	const char *topic;
	int32_t partition;
	int64_t offset;
	char key[128];			/* tenant id (message key) */
	unsigned attempt;		/* 1-based */
	void *state;			/* the service's per-job state */
} lasync_job;

typedef struct lasync_job_ops {
	/* start - begin (or, after RETRY, begin again) the work of a job;
	 * may call lasync_job_finish() before returning */
	void (*start)(void *ctx, lasync_job *job);
	/* abandon - stop the job's in-flight work now and free job->state;
	 * it must not call lasync_job_finish() */
	void (*abandon)(void *ctx, lasync_job *job);
	/* dead - about to dead-letter: produce what the stage owes through
	 * lasync_job_produce(); may be NULL */
	void (*dead)(void *ctx, lasync_job *job, const char *error_class,
		     const char *error);
	/* acked - a DONE job's produced messages are all acknowledged; last
	 * step before its offset is stored (the mapper records its expected
	 * state here).  -1 with err turns the job into a RETRY.  May be NULL. */
	int (*acked)(void *ctx, lasync_job *job, char *err, size_t errlen);
	/* release - the job is complete: free job->state; may be NULL */
	void (*release)(void *ctx, lasync_job *job);
} lasync_job_ops;

/* fetched messages a partition holds ahead of its jobs by default: enough
 * to keep the next job ready while more are fetched */
#define LASYNC_DEFAULT_BACKLOG 16

/* jobs running at once in a daemon by default (--max-jobs): its jobs wait
 * on one downstream, and with 8 instead of 64 the first import of 100 and
 * 1,000 schools took as long (the portal's CPU sets it) while the
 * applier's peak fell from 57 / 61 to 24 / 28 MB (BENCHMARKS.md §4) */
#define LASYNC_DEFAULT_MAX_JOBS 8

typedef struct lasync_consumer_cfg {
	const char *brokers;
	const char *group_id;
	const char *client_id;
	const char *extra;		/* librdkafka properties "k=v,..." */
	const char *const *topics;
	size_t n_topics;
	const char *stage;		/* "fetcher", "mapper", ... */
	unsigned max_attempts;		/* before dead-lettering (>= 1) */
	int backoff_base_ms;
	int backoff_max_ms;
	size_t max_backlog;		/* fetched messages per partition;
					 * 0: LASYNC_DEFAULT_BACKLOG */
	/* bytes a fetch asks for per partition (fetch.message.max.bytes);
	 * 0: 256 KB.  Kafka counts them compressed, and what a fetch brings
	 * is decompressed at once: a partition's share of a fetch is held
	 * as this times the batches' compression ratio. */
	size_t fetch_max_bytes;
	/* KB librdkafka may hold fetched ahead of the backlog
	 * (queued.max.messages.kbytes); 0: a sixteenth of the budget,
	 * 1-32 MB.  What it holds beyond the backlog's room is dropped when
	 * the partition pauses, to be fetched and decompressed again.  But
	 * librdkafka 2.0.2 fetches again only up to a second after this is
	 * reached (its issue #2879): at 1 MB a mapper, whose queue one fetch
	 * of 8 partitions at 256 KB overfilled, took one burst a second
	 * through a 1,000-school night (BENCHMARKS.md §4).  Only a daemon
	 * whose partitions pause and resume all the time (each an op that
	 * wakes librdkafka) can take less. */
	size_t prefetch_kb;
	unsigned max_concurrent;	/* jobs at once per partition (one per
					 * key); 0 = 1: strictly one at a time */
	/* jobs running at once in the whole consumer (0: no limit).  A job
	 * waiting for its retry does not count, so a failing tenant never
	 * takes a place; a job waiting for its produced messages' acks
	 * does (it still holds its memory).  Jobs mostly wait on one
	 * downstream (the portal, the LAS, the broker); more of them than
	 * it serves at once only hold memory while they wait, so this,
	 * not the number of tenants, sets a daemon's level (BENCHMARKS.md
	 * §4).  Like the budget, a job that finds no place holds the head
	 * of the line. */
	unsigned max_running;
	int drain_ms;			/* in-flight grace on revoke/close */
	/* The memory budget: a job is estimated to need mem_per_job +
	 * mem_per_byte * its message's bytes while it runs, and starts only
	 * while the estimates of the jobs running stay within mem_budget -
	 * except that one job always runs, whatever its estimate.  So a
	 * daemon's peak follows the budget and the largest school, not the
	 * number of tenants.  Jobs waiting for a retry hold no budget.  The
	 * fetched messages not yet started pause their partition once their
	 * bytes pass an eighth of the budget, and librdkafka prefetches at
	 * most a sixteenth of it (prefetch_kb).  So a daemon holds about
	 * 1.2 x the budget in jobs and messages at most, however many
	 * tenants wait.  0: no budget (max_concurrent alone bounds the
	 * jobs). */
	size_t mem_budget;
	size_t mem_per_job;
	size_t mem_per_byte;
	/* release job state (ops->release) when a job goes to wait for its
	 * retry, because start() begins again from scratch anyway */
	bool release_on_retry;
} lasync_consumer_cfg;

typedef struct lasync_consumer lasync_consumer;

/* lasync_consumer_new - subscribe; the producer is shared and borrowed */
lasync_consumer *lasync_consumer_new(const lasync_consumer_cfg *cfg,
				     lasync_producer *producer,
				     const lasync_job_ops *ops, void *ctx,
				     char *err, size_t errlen);

/* lasync_consumer_set_driver - how to make I/O progress without consuming
 * (run while draining on revocation and shutdown) */
void lasync_consumer_set_driver(lasync_consumer *c,
				void (*drive)(void *ctx, int timeout_ms),
				void *ctx);

/* lasync_consumer_poll - take fetched messages, restart due retries,
 * complete finished jobs; never blocks */
void lasync_consumer_poll(lasync_consumer *c);

/* lasync_consumer_fd - readable when messages or events wait */
int lasync_consumer_fd(lasync_consumer *c);

/* lasync_consumer_next_ms - ms until the next retry is due; -1 if none */
int lasync_consumer_next_ms(lasync_consumer *c);

/* lasync_consumer_inflight - jobs started and not complete */
size_t lasync_consumer_inflight(lasync_consumer *c);

/* lasync_consumer_mem - the memory estimate of the jobs running (bytes) */
size_t lasync_consumer_mem(lasync_consumer *c);

/* lasync_consumer_backlog_bytes - message bytes fetched, not started */
size_t lasync_consumer_backlog_bytes(lasync_consumer *c);

/* lasync_consumer_lag - sum of (high watermark - position) over assigned
 * partitions, as last reported; -1 when unknown */
int64_t lasync_consumer_lag(lasync_consumer *c);

/* lasync_consumer_close - stop taking work, drain for drain_ms, abandon the
 * rest, commit stored offsets, leave the group, and free everything */
void lasync_consumer_close(lasync_consumer *c);

/* lasync_job_finish - end the job's current attempt.  retry_after_ms (for
 * RETRY) is a floor for the backoff; error_class is a short machine word
 * ("scim_5xx", "las_timeout", "decode"), fmt the reason (no personal data). */
void lasync_job_finish(lasync_job *job, lasync_disposition d,
		       int retry_after_ms, const char *error_class,
		       const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* lasync_job_produce - produce on the job's behalf: the job completes only
 * once this message is acknowledged.  hdrs is taken over.  -1 with err when
 * the message could not even be queued. */
int lasync_job_produce(lasync_job *job, const char *topic, const char *key,
		       const void *value, size_t len, rd_kafka_headers_t *hdrs,
		       char *err, size_t errlen);

/* lasync_job_consumer - the engine a job belongs to */
lasync_consumer *lasync_job_consumer(lasync_job *job);

#endif /* LASYNC_CONSUMER_H */
