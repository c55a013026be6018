/*
 * lasync_redis.c - reconnecting hiredis client (see lasync_redis.h), and
 * batches of commands sent as one pipeline.
 */
#include "lasync_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lasync_clock.h"
#include "lasync_config.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PIPELINE_CHUNK 512

struct lasync_redis {
	char *host;
	int port;
	long db;
	int timeout_ms;
	redisContext *ctx;
	int64_t next_try;
	int backoff_ms;
	bool was_up;
};

static lasync_metric *m_errors;

lasync_redis *lasync_redis_new(const char *url, int timeout_ms, char *err,
			       size_t errlen)
{
	const char *p = url;
	lasync_redis *r;
	long port = 6379, db = 0;

	if (m_errors == NULL)
		m_errors = lasync_metric_counter("lasync_redis_errors_total",
						 "Redis connection and command "
						 "errors",
						 NULL);
	if (strncmp(p, "redis://", 8) != 0) {
		snprintf(err, errlen, "redis url \"%s\" must start with redis://",
			 url);
		return NULL;
	}
	p += 8;
	const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
	size_t hlen = colon ? (size_t)(colon - p)
			    : slash ? (size_t)(slash - p) : strlen(p);
	char num[16];

	if (hlen == 0 || hlen > 253) {
		snprintf(err, errlen, "redis url \"%s\" has no host", url);
		return NULL;
	}
	if (colon != NULL) {
		size_t nl = slash ? (size_t)(slash - colon - 1)
				  : strlen(colon + 1);

		if (nl == 0 || nl >= sizeof(num)) {
			snprintf(err, errlen, "redis url \"%s\": bad port", url);
			return NULL;
		}
		memcpy(num, colon + 1, nl);
		num[nl] = '\0';
		if (lasync_parse_long(num, 1, 65535, &port) != 0) {
			snprintf(err, errlen, "redis url \"%s\": bad port", url);
			return NULL;
		}
	}
	if (slash != NULL && slash[1] != '\0' &&
	    lasync_parse_long(slash + 1, 0, 15, &db) != 0) {
		snprintf(err, errlen, "redis url \"%s\": bad database", url);
		return NULL;
	}
	r = lasync_xcalloc(1, sizeof(*r));
	r->host = lasync_xstrndup(p, hlen);
	r->port = (int)port;
	r->db = db;
	r->timeout_ms = timeout_ms;
	r->backoff_ms = BACKOFF_MIN_MS;
	return r;
}

void lasync_redis_free(lasync_redis *r)
{
	if (r == NULL)
		return;
	if (r->ctx)
		redisFree(r->ctx);
	free(r->host);
	free(r);
}

static void drop(lasync_redis *r, const char *why)
{
	lasync_metric_add(m_errors, 1);
	if (r->was_up)
		lasync_warn("redis_down", "host=%s port=%d error=%s", r->host,
			    r->port, lasync_q(why));
	r->was_up = false;
	if (r->ctx)
		redisFree(r->ctx);
	r->ctx = NULL;
	r->next_try = lasync_mono_ms() + r->backoff_ms;
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							   : r->backoff_ms * 2;
}

/* connect_now - make sure there is a live context; -1 with err if not */
static int connect_now(lasync_redis *r, char *err, size_t errlen)
{
	struct timeval tv = {r->timeout_ms / 1000,
			     (r->timeout_ms % 1000) * 1000};

	if (r->ctx != NULL)
		return 0;
	if (lasync_mono_ms() < r->next_try) {
		snprintf(err, errlen, "redis %s:%d unavailable (backing off)",
			 r->host, r->port);
		return -1;
	}
	r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
	if (r->ctx == NULL || r->ctx->err) {
		snprintf(err, errlen, "redis %s:%d: %.100s", r->host, r->port,
			 r->ctx ? r->ctx->errstr : "cannot allocate context");
		drop(r, err);
		return -1;
	}
	redisSetTimeout(r->ctx, tv);
	redisEnableKeepAlive(r->ctx);
	if (r->db != 0) {
		redisReply *rep = redisCommand(r->ctx, "SELECT %ld", r->db);

		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis SELECT %ld failed", r->db);
			if (rep)
				freeReplyObject(rep);
			drop(r, err);
			return -1;
		}
		freeReplyObject(rep);
	}
	if (!r->was_up)
		lasync_info("redis_up", "host=%s port=%d", r->host, r->port);
	r->was_up = true;
	r->backoff_ms = BACKOFF_MIN_MS;
	return 0;
}

redisReply *lasync_redis_cmd(lasync_redis *r, int argc, const char **argv,
			     const size_t *lens, char *err, size_t errlen)
{
	redisReply *rep;

	if (connect_now(r, err, errlen) != 0)
		return NULL;
	rep = redisCommandArgv(r->ctx, argc, argv, lens);
	if (rep == NULL) {
		snprintf(err, errlen, "redis %.16s: %.100s", argv[0],
			 r->ctx->errstr);
		drop(r, err);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis %s: %.*s", argv[0], (int)rep->len,
			 rep->str);
		freeReplyObject(rep);
		lasync_metric_add(m_errors, 1);
		return NULL;
	}
	return rep;
}

int lasync_redis_pipeline(lasync_redis *r, size_t n, const int *argcs,
			  const char *const *const *argvs,
			  const size_t *const *lens, redisReply **replies,
			  char *err, size_t errlen)
{
	size_t got = 0;

	if (connect_now(r, err, errlen) != 0)
		return -1;
	/* In chunks, so the socket buffers never hold everything at once. */
	for (size_t base = 0; base < n; base += PIPELINE_CHUNK) {
		size_t end = base + PIPELINE_CHUNK < n ? base + PIPELINE_CHUNK
						       : n;

		for (size_t i = base; i < end; i++)
			if (redisAppendCommandArgv(r->ctx, argcs[i],
						   (const char **)argvs[i],
						   lens ? lens[i] : NULL) !=
			    REDIS_OK)
				goto out_fail;
		for (size_t i = base; i < end; i++, got++) {
			void *rep = NULL;

			if (redisGetReply(r->ctx, &rep) != REDIS_OK ||
			    rep == NULL)
				goto out_fail;
			replies[i] = rep;
		}
	}
	return 0;
out_fail:
	snprintf(err, errlen, "redis pipeline: %s",
		 r->ctx->errstr[0] ? r->ctx->errstr : "failed");
	for (size_t i = 0; i < got; i++) {
		freeReplyObject(replies[i]);
		replies[i] = NULL;
	}
	drop(r, err);
	return -1;
}

const char *lasync_redis_key(char *buf, size_t len, const char *prefix,
			     const char *tenant, const char *kind,
			     const char *id)
{
	if (id != NULL)
		snprintf(buf, len, "%s:{%s}:%s:%s", prefix, tenant, kind, id);
	else
		snprintf(buf, len, "%s:{%s}:%s", prefix, tenant, kind);
	return buf;
}

int lasync_redis_claim(lasync_redis *r, const char *key, long ttl_s,
		       char *err, size_t errlen)
{
	char ttl[24];
	const char *argv[] = {"SET", key, "1", "NX", "EX", ttl};
	redisReply *rep;
	int rc;

	snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
	rep = lasync_redis_cmd(r, 6, argv, NULL, err, errlen);
	if (rep == NULL)
		return -1;
	rc = rep->type == REDIS_REPLY_STATUS ? 1 : 0;
	freeReplyObject(rep);
	return rc;
}

int lasync_redis_exists_many(lasync_redis *r, const char *const *keys,
			     size_t n, bool *out, char *err, size_t errlen)
{
	int *argcs;
	const char ***argvs;
	redisReply **reps;
	int rc;

	if (n == 0)
		return 0;
	argcs = lasync_xcalloc(n, sizeof(*argcs));
	argvs = lasync_xcalloc(n, sizeof(*argvs));
	reps = lasync_xcalloc(n, sizeof(*reps));
	for (size_t i = 0; i < n; i++) {
		argcs[i] = 2;
		argvs[i] = lasync_xcalloc(2, sizeof(char *));
		argvs[i][0] = "EXISTS";
		argvs[i][1] = keys[i];
	}
	rc = lasync_redis_pipeline(r, n, argcs,
				   (const char *const *const *)argvs, NULL,
				   reps, err, errlen);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0) {
			out[i] = reps[i]->type == REDIS_REPLY_INTEGER &&
				 reps[i]->integer > 0;
			freeReplyObject(reps[i]);
		}
		free(argvs[i]);
	}
	free(argcs);
	free(argvs);
	free(reps);
	return rc;
}

struct lasync_redis_batch {
	int *argcs;
	char ***argvs;		/* each argument a copy */
	size_t **lens;
	size_t n, cap;
};

lasync_redis_batch *lasync_redis_batch_new(void)
{
	return lasync_xcalloc(1, sizeof(lasync_redis_batch));
}

/* batch_clear - forget every queued command */
static void batch_clear(lasync_redis_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		for (int k = 0; k < b->argcs[i]; k++)
			free(b->argvs[i][k]);
		free(b->argvs[i]);
		free(b->lens[i]);
	}
	b->n = 0;
}

void lasync_redis_batch_free(lasync_redis_batch *b)
{
	if (b == NULL)
		return;
	batch_clear(b);
	free(b->argcs);
	free(b->argvs);
	free(b->lens);
	free(b);
}

void lasync_redis_batch_add(lasync_redis_batch *b, int argc, const char **argv,
			    const size_t *lens)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->argcs = lasync_xreallocarray(b->argcs, b->cap,
						sizeof(*b->argcs));
		b->argvs = lasync_xreallocarray(b->argvs, b->cap,
						sizeof(*b->argvs));
		b->lens = lasync_xreallocarray(b->lens, b->cap, sizeof(*b->lens));
	}
	b->argcs[b->n] = argc;
	b->argvs[b->n] = lasync_xcalloc((size_t)argc, sizeof(char *));
	b->lens[b->n] = lasync_xcalloc((size_t)argc, sizeof(size_t));
	for (int k = 0; k < argc; k++) {
		size_t l = lens ? lens[k] : strlen(argv[k]);

		b->argvs[b->n][k] = lasync_xstrndup(argv[k], l);
		b->lens[b->n][k] = l;
	}
	b->n++;
}

size_t lasync_redis_batch_len(const lasync_redis_batch *b)
{
	return b->n;
}

int lasync_redis_batch_flush(lasync_redis *r, lasync_redis_batch *b,
			     char *err, size_t errlen)
{
	redisReply **reps;
	int rc;

	if (b->n == 0)
		return 0;
	reps = lasync_xcalloc(b->n, sizeof(*reps));
	rc = lasync_redis_pipeline(r, b->n, b->argcs,
				   (const char *const *const *)b->argvs,
				   (const size_t *const *)b->lens, reps, err,
				   errlen);
	for (size_t i = 0; rc == 0 && i < b->n; i++) {
		if (reps[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis %.16s: %.*s",
				 b->argvs[i][0], (int)reps[i]->len,
				 reps[i]->str);
			lasync_metric_add(m_errors, 1);
			rc = -1;
		}
	}
	for (size_t i = 0; i < b->n; i++)
		if (reps[i] != NULL)
			freeReplyObject(reps[i]);
	free(reps);
	batch_clear(b);
	return rc;
}

bool lasync_redis_ping(lasync_redis *r)
{
	char err[128];
	const char *argv[] = {"PING"};
	redisReply *rep = lasync_redis_cmd(r, 1, argv, NULL, err, sizeof(err));

	if (rep == NULL)
		return false;
	freeReplyObject(rep);
	return true;
}
