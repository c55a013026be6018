/*
 * lasync_follower.h - read a compacted topic fully at start, then follow it
 * (DESIGN §1: "every service reads what it needs fully at start and
 * follows it").
 *
 *   f = lasync_follower_new(brokers, "lasync.tenants", client_id, apply, t,
 *                           err, sizeof(err));
 *   lasync_follower_load(f, 30000, err, sizeof(err));  // up to the end
 *   ... in the event loop, when lasync_follower_fd(f) is readable:
 *   lasync_follower_poll(f);                            // never blocks
 *
 * The follower assigns every partition from the beginning, without a
 * consumer group (each process keeps the whole table) and without
 * committing.  Each record - an update, or a tombstone with an empty value
 * - is handed to the caller's apply function in partition order; what a
 * record means is the caller's business (lasync_tenants.c, the notifier's
 * suggestion status).  Errors reported by librdkafka while following are
 * skipped: librdkafka retries the fetch by itself.
 *
 * A record the caller cannot use (undecodable, no key, a key its content
 * contradicts) is reported with lasync_follower_skipped() and skipped; the
 * caller keeps what it had for that key.  It is never dead-lettered: every
 * service follows these topics, so there is no one consumer to own a
 * letter, and stopping on it would stop them all.  The repair is a correct
 * record or a tombstone for the key (lasyncctl).
 */
#ifndef LASYNC_FOLLOWER_H
#define LASYNC_FOLLOWER_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

typedef struct lasync_follower lasync_follower;

/* lasync_follower_fn - one record of the topic (borrowed for the call) */
typedef void (*lasync_follower_fn)(void *ctx, const rd_kafka_message_t *m);

/* lasync_follower_new - a follower of topic; NULL with err */
lasync_follower *lasync_follower_new(const char *brokers, const char *topic,
				     const char *client_id,
				     lasync_follower_fn fn, void *ctx,
				     char *err, size_t errlen);
void lasync_follower_free(lasync_follower *f);

/* lasync_follower_load - apply every record up to the high watermarks that
 * stand now; -1 with err when the topic cannot be read within timeout_ms */
int lasync_follower_load(lasync_follower *f, int timeout_ms, char *err,
			 size_t errlen);

/* lasync_follower_poll - apply the records that arrived; never blocks */
void lasync_follower_poll(lasync_follower *f);

/* lasync_follower_fd - readable when records wait */
int lasync_follower_fd(lasync_follower *f);

const char *lasync_follower_topic(const lasync_follower *f);

/* lasync_follower_skipped - report a record of a state topic that its
 * reader skips: one warning (event=state_record_skipped) naming the topic,
 * partition, offset, key and cause - ids only, the cause is the reader's
 * own words, never the record's content - counted in
 * lasync_state_records_skipped_total{topic}.  For followers and for
 * one-off readers (lasync_kafka_catch_up callbacks) alike. */
void lasync_follower_skipped(const rd_kafka_message_t *m, const char *cause);

#endif /* LASYNC_FOLLOWER_H */
