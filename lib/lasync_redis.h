/*
 * lasync_redis.h - a reconnecting Redis client for idempotency keys, the
 * expected state and caches (hiredis 0.14, blocking with timeouts).
 *
 * Redis holds only what can be rebuilt (DESIGN §1): every caller treats an
 * error as "unknown" and either retries the job later or falls back to the
 * portal itself.  On any error the hiredis context is dead: it is freed and
 * the next call reconnects, no sooner than a backoff that doubles up to 5 s.
 *
 * Keys are "<prefix>:{<tenant>}:<kind>:<id>" - the {tenant} hash tag keeps
 * one tenant's keys in one Redis Cluster slot.
 */
#ifndef LASYNC_REDIS_H
#define LASYNC_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

typedef struct lasync_redis lasync_redis;

/* lasync_redis_new - parse redis://host:port[/db]; connects lazily */
lasync_redis *lasync_redis_new(const char *url, int timeout_ms, char *err,
			       size_t errlen);
void lasync_redis_free(lasync_redis *r);

/* lasync_redis_cmd - one binary-safe command (lens NULL: every argument is
 * a C string); the reply is the caller's (freeReplyObject).  NULL with err
 * on a connection or protocol error, and for an error reply. */
redisReply *lasync_redis_cmd(lasync_redis *r, int argc, const char **argv,
			     const size_t *lens, char *err, size_t errlen);

/* lasync_redis_pipeline - send n commands at once, then read n replies
 * into replies[] (each the caller's).  -1 when the connection failed; then
 * no reply is returned.  Error replies are returned as replies. */
int lasync_redis_pipeline(lasync_redis *r, size_t n, const int *argcs,
			  const char *const *const *argvs,
			  const size_t *const *lens, redisReply **replies,
			  char *err, size_t errlen);

/* lasync_redis_key - "<prefix>:{<tenant>}:<kind>:<id>" into buf */
const char *lasync_redis_key(char *buf, size_t len, const char *prefix,
			     const char *tenant, const char *kind,
			     const char *id);

/* lasync_redis_claim - SET key 1 NX EX ttl: 1 when newly set, 0 when it
 * already existed, -1 on error */
int lasync_redis_claim(lasync_redis *r, const char *key, long ttl_s,
		       char *err, size_t errlen);

/* lasync_redis_exists_many - pipelined EXISTS; out[i] set for each key.
 * -1 on error (out undefined). */
int lasync_redis_exists_many(lasync_redis *r, const char *const *keys,
			     size_t n, bool *out, char *err, size_t errlen);

/* A batch: commands kept in memory and sent together, one pipeline, when
 * the caller flushes - for writes whose loss costs only work (idempotency
 * records, caches), so that a daemon does not wait one round trip per
 * operation.  The batch owns copies of its arguments. */
typedef struct lasync_redis_batch lasync_redis_batch;

lasync_redis_batch *lasync_redis_batch_new(void);
void lasync_redis_batch_free(lasync_redis_batch *b);

/* lasync_redis_batch_add - queue one command (argv copied; lens may be
 * NULL for C strings) */
void lasync_redis_batch_add(lasync_redis_batch *b, int argc, const char **argv,
			    const size_t *lens);

/* lasync_redis_batch_len - commands waiting */
size_t lasync_redis_batch_len(const lasync_redis_batch *b);

/* lasync_redis_batch_flush - send every waiting command in one pipeline
 * and forget them, whatever the outcome.  0, or -1 with err when the
 * connection failed or a command got an error reply (the first named). */
int lasync_redis_batch_flush(lasync_redis *r, lasync_redis_batch *b,
			     char *err, size_t errlen);

/* lasync_redis_ping - is the server reachable right now? */
bool lasync_redis_ping(lasync_redis *r);

#endif /* LASYNC_REDIS_H */
