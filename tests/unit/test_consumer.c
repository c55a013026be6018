/*
 * test_consumer.c - lib/lasync_consumer.c: the ordered, at-least-once job
 * engine of DESIGN §2, through its public API, against librdkafka's
 * built-in mock cluster (rdkafka_mock.h: an in-process broker on
 * loopback, nothing to install).
 *
 * Each scenario has its own topic (with .dlq and .out) and consumer group
 * on one shared mock cluster.  A fake job table records what the engine
 * asks of it ("start 0:1#2" = partition 0, offset 1, attempt 2) and does
 * what the scenario scripts: finish at once, produce first, retry, die,
 * or hold the job so that the test finishes it later.  Committed offsets
 * are read back from the group coordinator with a separate handle, dead
 * letters from the .dlq topic.  Every wait is a bounded loop that drives
 * the consumer and the producer: a test that does not reach its condition
 * fails instead of hanging, and close runs under a watchdog where it once
 * hung.
 *
 * What the mock cluster of librdkafka 2.0.2 does and does not do:
 *  - it serves groups with the cooperative-sticky protocol (the assignor
 *    runs in the client), offset commits, broker round-trip delays (used
 *    to show that DONE waits for the acknowledgement) and a second member
 *    joining, so a cooperative rebalance is tested for real;
 *  - it holds the first JoinGroup of an empty group for 3 s (fixed in this
 *    version), so all scenarios are set up and join together before the
 *    first test; a rebalance waits for the session timeout minus 1 s, so
 *    the consumers run with session.timeout.ms=3000 (the operator extras,
 *    also used for fetch.wait.max.ms=20 so that resumes refetch at once);
 *  - two members closing at the same moment: the second one's final
 *    commit meets the rebalance the first one started and fails
 *    (REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION), so what it did since
 *    the last auto-commit is redone by the next owner.  That is
 *    at-least-once; lasync_consumer_close() logs final_commit_failed and
 *    does not retry; the rebalance test closes in order.
 *
 * TEST_FILTER=<test name> runs one test; TEST_DEBUG=debug=cgrp,... turns
 * on librdkafka debugging and debug logs.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync_clock.h"
#include "lasync_consumer.h"
#include "lasync_kafka.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"

#define MAX_LOG 256
#define MAX_HELD 16
#define MAX_PARTS 4
#define WAIT_MS 15000 /* upper bound of any wait; tests take far less */

typedef struct harness harness;

/* what the fake service does when a job (re)starts */
typedef void (*behave_fn)(harness *h, lasync_job *job);

struct harness {
	rd_kafka_mock_cluster_t *mc;	/* the shared mock cluster */
	rd_kafka_t *query_rk;		/* asks it for watermarks */
	char *extra;
	char bootstraps[256];
	lasync_producer *prod;
	lasync_consumer *c;
	lasync_consumer_cfg cfg;
	const char *topics[1];
	char topic[64], dlq[80], out[80], group[64];
	behave_fn behave;
	/* what happened, in order */
	char log[MAX_LOG][80];
	size_t n_log;
	int64_t log_ms[MAX_LOG];
	/* concurrency seen at start */
	int running[MAX_PARTS], running_total;
	int max_running_part, max_running_total;
	/* jobs the test finishes itself */
	lasync_job *held[MAX_HELD];
	size_t n_held;
	/* scripted answers */
	int acked_fail_left;
	int64_t dlq_hwm_in_dead;
	int dead_produce;		/* the dead hook produces a result */
	int done_count;
};

static int64_t now_ms(void)
{
	return lasync_mono_ms();
}

static void logf_(harness *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(harness *h, const char *fmt, ...)
{
	va_list ap;

	if (h->n_log >= MAX_LOG)
		return;
	va_start(ap, fmt);
	vsnprintf(h->log[h->n_log], sizeof(h->log[0]), fmt, ap);
	va_end(ap);
	h->log_ms[h->n_log] = now_ms();
	h->n_log++;
}

/* find_log - index of the first line equal to s, or -1 */
static int find_log(const harness *h, const char *s)
{
	for (size_t i = 0; i < h->n_log; i++)
		if (strcmp(h->log[i], s) == 0)
			return (int)i;
	return -1;
}

static int count_prefix(const harness *h, const char *prefix)
{
	int n = 0;

	for (size_t i = 0; i < h->n_log; i++)
		if (strncmp(h->log[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* dump_log - the log as one string (static buffer) for failure messages */
static const char *dump_log(const harness *h)
{
	static char buf[MAX_LOG * 82];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < h->n_log && o + 82 < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "  %s\n",
				      h->log[i]);
	return buf;
}

/* ---------- the fake service ---------- */

static void job_ended(harness *h, lasync_job *job)
{
	h->running[job->partition]--;
	h->running_total--;
}

/* finish - end the job's attempt as the service would */
static void finish(harness *h, lasync_job *job, lasync_disposition d,
		   int retry_after_ms, const char *cls, const char *why)
{
	static const char *const names[] = {"DONE", "RETRY", "DEAD"};

	logf_(h, "finish %d:%lld %s", (int)job->partition,
	      (long long)job->offset, names[d]);
	job_ended(h, job);
	if (d == LASYNC_DONE)
		h->done_count++;
	if (why != NULL)
		lasync_job_finish(job, d, retry_after_ms, cls, "%s", why);
	else
		lasync_job_finish(job, d, retry_after_ms, cls, NULL);
}

static void hold(harness *h, lasync_job *job)
{
	assert_true(h->n_held < MAX_HELD);
	h->held[h->n_held++] = job;
}

/* release_held - finish every held job with d */
static void release_held(harness *h, lasync_disposition d)
{
	size_t n = h->n_held;

	h->n_held = 0;
	for (size_t i = 0; i < n; i++)
		finish(h, h->held[i], d, 0, d == LASYNC_DONE ? NULL : "test",
		       d == LASYNC_DONE ? NULL : "held");
}

static void op_start(void *ctx, lasync_job *job)
{
	harness *h = ctx;

	/* the engine's own NUL-terminated copy of the (text) value */
	assert_non_null(job->payload);
	assert_true(job->len > 0);
	assert_int_equal(strlen(job->payload), job->len);

	logf_(h, "start %d:%lld#%u", (int)job->partition,
	      (long long)job->offset, job->attempt);
	h->running[job->partition]++;
	h->running_total++;
	if (h->running[job->partition] > h->max_running_part)
		h->max_running_part = h->running[job->partition];
	if (h->running_total > h->max_running_total)
		h->max_running_total = h->running_total;
	job->state = h;
	h->behave(h, job);
}

static void op_abandon(void *ctx, lasync_job *job)
{
	harness *h = ctx;

	logf_(h, "abandon %d:%lld", (int)job->partition,
	      (long long)job->offset);
	for (size_t i = 0; i < h->n_held; i++)
		if (h->held[i] == job) {
			h->held[i] = h->held[--h->n_held];
			job_ended(h, job);
			break;
		}
	job->state = NULL;
}

/* hwm - the high watermark of topic/partition 0, asked of the broker */
static int64_t hwm(harness *h, const char *topic)
{
	int64_t lo = -1, hi = -1;
	rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
		h->query_rk, topic, 0, &lo, &hi, 5000);

	return e == RD_KAFKA_RESP_ERR_NO_ERROR ? hi : -1;
}

static void op_dead(void *ctx, lasync_job *job, const char *cls,
		    const char *error)
{
	harness *h = ctx;
	char err[256];

	logf_(h, "dead %d:%lld %s: %.50s", (int)job->partition,
	      (long long)job->offset, cls, error);
	/* the dead letter is not out yet when the stage's own result is */
	h->dlq_hwm_in_dead = hwm(h, h->dlq);
	/* A refused produce (librdkafka keeps refusing a topic for a while
	 * after an authorisation error) is the engine's to retry: the test
	 * checks what is delivered in the end. */
	if (h->dead_produce &&
	    lasync_job_produce(job, h->out, job->key, "result", 6, NULL, err,
			       sizeof(err)) != 0)
		logf_(h, "dead hook produce refused");
}

static int op_acked(void *ctx, lasync_job *job, char *err, size_t errlen)
{
	harness *h = ctx;

	if (h->acked_fail_left > 0) {
		h->acked_fail_left--;
		logf_(h, "acked %d:%lld fail", (int)job->partition,
		      (long long)job->offset);
		snprintf(err, errlen, "redis down");
		return -1;
	}
	logf_(h, "acked %d:%lld", (int)job->partition, (long long)job->offset);
	return 0;
}

static void op_release(void *ctx, lasync_job *job)
{
	harness *h = ctx;

	logf_(h, "release %d:%lld", (int)job->partition,
	      (long long)job->offset);
	job->state = NULL;
}

static const lasync_job_ops ops = {op_start, op_abandon, op_dead, op_acked,
				   op_release};

/* behaviours */
static void behave_done(harness *h, lasync_job *job)
{
	finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

static void behave_hold(harness *h, lasync_job *job)
{
	hold(h, job);
}

/* ---------- the harness ---------- */

/* The mock cluster every scenario shares: two brokers; everything is led
 * by broker 1 except the output topics of the scenarios that want a slow
 * acknowledgement, led by broker 2.  (Destroying a mock cluster takes a
 * second, so there is one.) */
static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;

static void mock_start(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];

	rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(mock_rk);
	mock = rd_kafka_mock_cluster_new(mock_rk, 2);
	assert_non_null(mock);
}

static void mock_stop(void)
{
	rd_kafka_mock_cluster_destroy(mock);
	rd_kafka_destroy(mock_rk);
	mock = NULL;
	mock_rk = NULL;
}

/* setup_harness - the scenario's topic (parts partitions), its .dlq and
 * an output topic on the shared cluster, a producer and a query handle */
static harness *setup_harness(const char *name, int parts, bool slow_out)
{
	harness *h = lasync_xcalloc(1, sizeof(*h));
	rd_kafka_conf_t *conf;
	char err[512], extra[256];

	snprintf(h->topic, sizeof(h->topic), "t.%s", name);
	snprintf(h->dlq, sizeof(h->dlq), "t.%s.dlq", name);
	snprintf(h->out, sizeof(h->out), "t.%s.out", name);
	snprintf(h->group, sizeof(h->group), "g.%s", name);
	h->mc = mock;
	lasync_strlcpy(h->bootstraps, rd_kafka_mock_cluster_bootstraps(mock),
		       sizeof(h->bootstraps));
	assert_int_equal(rd_kafka_mock_topic_create(mock, h->topic, parts, 1),
			 0);
	assert_int_equal(rd_kafka_mock_topic_create(mock, h->dlq, 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mock, h->out, 1, 1), 0);
	for (int p = 0; p < parts; p++)
		rd_kafka_mock_partition_set_leader(mock, h->topic, p, 1);
	rd_kafka_mock_partition_set_leader(mock, h->dlq, 0, 1);
	rd_kafka_mock_partition_set_leader(mock, h->out, 0, slow_out ? 2 : 1);
	rd_kafka_mock_coordinator_set(mock, "group", h->group, 1);
	/* a plain handle on the cluster, for watermark queries */
	conf = lasync_kafka_conf(h->bootstraps, "test-query", NULL, err,
				 sizeof(err));
	assert_non_null(conf);
	h->query_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(h->query_rk);
	h->prod = lasync_producer_new(h->bootstraps, "test-producer", NULL,
				      err, sizeof(err));
	if (h->prod == NULL) {
		print_error("producer: %s\n", err);
		fail();
	}
	/* Test speed only: fetch again at once after a resume instead of
	 * waiting out fetch.wait.max.ms, and a short session so that the
	 * mock coordinator's rebalance timer (derived from it) is short;
	 * TEST_DEBUG=debug=cgrp,... adds librdkafka debugging. */
	snprintf(extra, sizeof(extra),
		 "fetch.wait.max.ms=20,session.timeout.ms=3000,"
		 "heartbeat.interval.ms=300%s%s",
		 getenv("TEST_DEBUG") ? "," : "",
		 getenv("TEST_DEBUG") ? getenv("TEST_DEBUG") : "");
	h->extra = lasync_xstrdup(extra);
	h->topics[0] = h->topic;
	h->cfg.brokers = h->bootstraps;
	h->cfg.group_id = h->group;
	h->cfg.client_id = "test-consumer";
	h->cfg.extra = h->extra;
	h->cfg.topics = h->topics;
	h->cfg.n_topics = 1;
	h->cfg.stage = "test";
	h->cfg.max_attempts = 3;
	h->cfg.backoff_base_ms = 20;
	h->cfg.backoff_max_ms = 80;
	h->cfg.max_backlog = 16;
	h->cfg.drain_ms = 300;
	h->behave = behave_done;
	h->dlq_hwm_in_dead = -2;
	return h;
}

/* produce_input - n messages with keys "tenant-<i>" to partition part;
 * with keys > 0 the keys repeat: "tenant-<i mod keys>" */
static void produce_input(harness *h, int part, int n, int keys)
{
	char err[256];
	rd_kafka_conf_t *conf = lasync_kafka_conf(h->bootstraps, "test-input",
						  NULL, err, sizeof(err));
	rd_kafka_t *rk;

	assert_non_null(conf);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(rk);
	for (int i = 0; i < n; i++) {
		char key[32], val[32];

		snprintf(key, sizeof(key), "tenant-%d", keys > 0 ? i % keys : i);
		snprintf(val, sizeof(val), "payload-%d-%d", part, i);
		assert_int_equal(rd_kafka_producev(
					 rk, RD_KAFKA_V_TOPIC(h->topic),
					 RD_KAFKA_V_PARTITION(part),
					 RD_KAFKA_V_KEY(key, strlen(key)),
					 RD_KAFKA_V_VALUE(val, strlen(val)),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					 RD_KAFKA_V_END),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
	}
	assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
}

static void start_consumer(harness *h)
{
	char err[512];

	h->c = lasync_consumer_new(&h->cfg, h->prod, &ops, h, err,
				   sizeof(err));
	if (h->c == NULL) {
		print_error("consumer: %s\n", err);
		fail();
	}
}

/* step - one round of the daemon's loop, waiting at most ms for I/O */
static void step(harness *h, int ms)
{
	struct pollfd fds[2] = {
		{lasync_consumer_fd(h->c), POLLIN, 0},
		{lasync_producer_fd(h->prod), POLLIN, 0},
	};
	int next = lasync_consumer_next_ms(h->c);

	if (next >= 0 && next < ms)
		ms = next;
	poll(fds, 2, ms);
	lasync_kafka_drain_fd(lasync_producer_fd(h->prod));
	lasync_producer_poll(h->prod, 0);
	lasync_consumer_poll(h->c);
}

/* run_until - drive the loop until pred holds; false after timeout_ms */
static bool run_until(harness *h, bool (*pred)(harness *h), int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (now_ms() < deadline) {
		if (pred(h))
			return true;
		step(h, 10);
	}
	return pred(h);
}

/* run_for - drive the loop for ms */
static void run_for(harness *h, int ms)
{
	int64_t deadline = now_ms() + ms;

	while (now_ms() < deadline)
		step(h, 10);
}

#define WAIT(h, pred, what)                                                \
	do {                                                               \
		if (!run_until(h, pred, WAIT_MS)) {                        \
			print_error("timed out waiting for %s; log:\n%s\n", \
				    what, dump_log(h));                    \
			fail();                                            \
		}                                                          \
	} while (0)

/* committed - the group's committed offset of topic/part, asked from a
 * separate handle (RD_KAFKA_OFFSET_INVALID when none) */
static int64_t committed(harness *h, int part)
{
	char err[256];
	rd_kafka_conf_t *conf = lasync_kafka_conf(h->bootstraps, "test-query",
						  NULL, err, sizeof(err));
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l;
	int64_t off = -999999;

	rd_kafka_conf_set(conf, "group.id", h->group, NULL, 0);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(rk);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, h->topic, part);
	if (rd_kafka_committed(rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
		off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return off;
}

/* read_all - call fn for every message of topic partition 0; returns
 * how many there were.  The messages are destroyed before the handle
 * (rd_kafka_destroy waits for every message it handed out). */
static size_t read_all(harness *h, const char *topic,
		       void (*fn)(harness *h, const rd_kafka_message_t *m))
{
	char err[256];
	rd_kafka_conf_t *conf = lasync_kafka_conf(h->bootstraps, "test-read",
						  NULL, err, sizeof(err));
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l;
	size_t n = 0;
	int64_t end = hwm(h, topic), deadline = now_ms() + 5000;

	rd_kafka_conf_set(conf, "group.id", "test-reader", NULL, 0);
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_poll_set_consumer(rk);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset =
		RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	while ((int64_t)n < end && now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			n++;
			fn(h, m);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}

static void close_consumer(harness *h)
{
	lasync_consumer_close(h->c);
	h->c = NULL;
	/* deliveries still outstanding settle (abandoned jobs free then) */
	lasync_producer_flush(h->prod, 5000);
	lasync_producer_poll(h->prod, 0);
}

static void teardown_harness(harness *h)
{
	if (h->c != NULL)
		close_consumer(h);
	lasync_producer_free(h->prod);
	rd_kafka_destroy(h->query_rk);
	free(h->extra);
	free(h);
}

static void expect_committed(harness *h, int part, int64_t want)
{
	int64_t got = committed(h, part);

	if (got != want) {
		print_error("committed offset of partition %d: got %lld, want "
			    "%lld; log:\n%s\n",
			    part, (long long)got, (long long)want, dump_log(h));
		fail();
	}
}

/*
 * Scenarios.  librdkafka 2.0.2's mock coordinator holds the first JoinGroup
 * of an empty group for 3 s (group.initial.rebalance.delay.ms, fixed in
 * this version), so every scenario's cluster, input and consumer are set
 * up together before the first test and join side by side; each test then
 * drives its own consumer.  The whole file takes a few seconds instead of
 * 3 s per test.
 */
typedef struct scenario {
	const char *name;
	int parts, msgs;		/* msgs per partition */
	behave_fn behave;
	int drain_ms;
	size_t max_backlog;
	int acked_fail_left;
	int dead_produce;
	int slow_out_ms;		/* > 0: .out on broker 2, which the
					 * test may make this slow */
	unsigned max_concurrent;	/* per partition; 0: one at a time */
	int keys;			/* > 0: keys repeat (produce_input) */
	size_t mem_budget, mem_per_job, mem_per_byte;
	bool release_on_retry;
	unsigned max_running;		/* 0: no limit */
} scenario;

enum {
	SC_ORDER,
	SC_UNFINISHED,
	SC_CLOSE,
	SC_DRAIN,
	SC_ACK,
	SC_UNACKED,
	SC_ACKFAIL,
	SC_RETRY,
	SC_NEXTMS,
	SC_EXHAUST,
	SC_DEAD,
	SC_BACKLOG,
	SC_REBALANCE,
	SC_UNPOLLED,
	SC_DEADFAIL,
	SC_LANES,
	SC_BUDGET,
	SC_BIGGER,
	SC_BUDGETRETRY,
	SC_HOL,
	SC_BACKBYTES,
	SC_MAXJOBS,
	SC_N
};

static void behave_hold_offset_1(harness *h, lasync_job *job);
static void behave_produce_done(harness *h, lasync_job *job);
static void behave_retry_twice(harness *h, lasync_job *job);
static void behave_retry_300(harness *h, lasync_job *job);
static void behave_always_retry_0(harness *h, lasync_job *job);
static void behave_dead_0(harness *h, lasync_job *job);
static void behave_lanes(harness *h, lasync_job *job);
static void behave_budget_retry(harness *h, lasync_job *job);
static void behave_maxjobs(harness *h, lasync_job *job);

static const scenario scenarios[SC_N] = {
	[SC_ORDER] = {"order", 2, 4, behave_hold, 300, 16, 0, 0, 0},
	[SC_UNFINISHED] = {"unfinished", 1, 4, behave_hold_offset_1, 100,
			   16, 0, 0, 0},
	[SC_CLOSE] = {"close", 1, 2, behave_hold, 200, 16, 0, 0, 0},
	[SC_DRAIN] = {"drain", 1, 2, behave_hold, 3000, 16, 0, 0, 0},
	[SC_ACK] = {"ack", 1, 2, behave_produce_done, 300, 16, 0, 0, 400},
	[SC_UNACKED] = {"unacked", 1, 1, behave_produce_done, 100, 16, 0, 0,
			800},
	[SC_ACKFAIL] = {"ackfail", 1, 1, behave_done, 300, 16, 1, 0, 0},
	[SC_RETRY] = {"retry", 1, 2, behave_retry_twice, 300, 16, 0, 0, 0},
	[SC_NEXTMS] = {"nextms", 1, 1, behave_retry_300, 300, 16, 0, 0, 0},
	[SC_EXHAUST] = {"exhaust", 1, 2, behave_always_retry_0, 300, 16, 0,
			1, 0},
	[SC_DEAD] = {"dead", 1, 2, behave_dead_0, 300, 16, 0, 0, 0},
	[SC_BACKLOG] = {"backlog", 1, 30, behave_hold, 300, 2, 0, 0, 0},
	[SC_REBALANCE] = {"rebalance", 2, 6, behave_hold, 300, 16, 0, 0, 0},
	[SC_UNPOLLED] = {"unpolled", 1, 2, behave_done, 300, 16, 0, 0, 0},
	[SC_DEADFAIL] = {"deadfail", 1, 2, behave_dead_0, 300, 16, 0, 1, 1},
	[SC_LANES] = {"lanes", 1, 6, behave_lanes, 300, 16, 0, 0, 0, 8, 2},
	/* each job is estimated at 100: two fit in 250 */
	[SC_BUDGET] = {"budget", 2, 4, behave_hold, 300, 16, 0, 0, 0, 8, 0,
		       250, 100, 0},
	/* each job alone is over the budget: one at a time */
	[SC_BIGGER] = {"bigger", 1, 3, behave_done, 300, 16, 0, 0, 0, 8, 0, 50,
		       100, 0},
	[SC_BUDGETRETRY] = {"budgetretry", 1, 3, behave_budget_retry, 300, 16,
			    0, 0, 0, 8, 0, 150, 100, 0, true},
	/* messages produced by produce_hol: cost = bytes */
	[SC_HOL] = {"hol", 2, 0, behave_hold, 300, 16, 0, 0, 0, 8, 0, 60, 0,
		    1},
	/* one job at a time; an eighth of the budget is 40 bytes of
	 * backlog: three or four messages of 11 bytes, not 16 */
	[SC_BACKBYTES] = {"backbytes", 1, 30, behave_hold, 300, 16, 0, 0, 0, 8,
			  0, 320, 1000, 0},
	/* eight places per partition, two jobs at once in the consumer */
	[SC_MAXJOBS] = {"maxjobs", 2, 4, behave_maxjobs, 300, 16, 0, 0, 0, 8,
			0, 0, 0, 0, false, 2},
};

static void produce_hol(harness *h);

static harness *H[SC_N];
static harness *peer;		/* the rebalance test's second member */

/* slow_broker - broker 2 answers after ms (0: at once) */
static void slow_broker(int ms)
{
	rd_kafka_mock_broker_set_rtt(mock, 2, ms);
}

static int group_setup(void **state)
{
	(void)state;
	mock_start();
	for (int i = 0; i < SC_N; i++) {
		const scenario *sc = &scenarios[i];
		harness *h = setup_harness(sc->name, sc->parts,
					   sc->slow_out_ms > 0);

		h->behave = sc->behave;
		h->cfg.drain_ms = sc->drain_ms;
		h->cfg.max_backlog = sc->max_backlog;
		h->cfg.max_concurrent = sc->max_concurrent;
		h->cfg.mem_budget = sc->mem_budget;
		h->cfg.mem_per_job = sc->mem_per_job;
		h->cfg.mem_per_byte = sc->mem_per_byte;
		h->cfg.release_on_retry = sc->release_on_retry;
		h->cfg.max_running = sc->max_running;
		h->acked_fail_left = sc->acked_fail_left;
		h->dead_produce = sc->dead_produce;
		for (int p = 0; p < sc->parts && sc->msgs > 0; p++)
			produce_input(h, p, sc->msgs, sc->keys);
		if (i == SC_HOL)
			produce_hol(h);
		start_consumer(h);
		H[i] = h;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	slow_broker(0);
	if (peer != NULL) {
		teardown_harness(peer);
		peer = NULL;
	}
	for (int i = 0; i < SC_N; i++) {
		if (H[i] != NULL) {
			teardown_harness(H[i]);
			H[i] = NULL;
		}
	}
	mock_stop();
	return 0;
}

/* done_with - the test is over with its scenario */
static void done_with(int sc)
{
	slow_broker(0);
	teardown_harness(H[sc]);
	H[sc] = NULL;
}

/* ---------- ordering ---------- */

static bool two_held(harness *h)
{
	return h->n_held == 2;
}

/* jobs of one partition run one at a time in offset order; partitions
 * run side by side */
static void test_partition_order_one_at_a_time(void **state)
{
	enum { N = 4 };
	harness *h = H[SC_ORDER];

	(void)state;
	for (int round = 0; round < N; round++) {
		WAIT(h, two_held, "a held job in each partition");
		/* give the engine the chance to start more than it should */
		run_for(h, 50);
		if (h->n_held != 2 || h->max_running_part != 1) {
			print_error("round %d: got %zu held, %d at once in one "
				    "partition, want 2 and 1; log:\n%s\n",
				    round, h->n_held, h->max_running_part,
				    dump_log(h));
			fail();
		}
		for (size_t i = 0; i < 2; i++) {
			if (h->held[i]->offset != round) {
				print_error("round %d: got offset %lld held, "
					    "want %d\n",
					    round, (long long)h->held[i]->offset,
					    round);
				fail();
			}
		}
		release_held(h, LASYNC_DONE);
	}
	run_for(h, 100);
	assert_int_equal(h->n_held, 0);
	assert_int_equal(h->max_running_total, 2);
	/* per partition the starts are 0, 1, 2, 3 in this order */
	for (int p = 0; p < 2; p++) {
		int last = -1;

		for (int o = 0; o < N; o++) {
			char want[32];
			int at;

			snprintf(want, sizeof(want), "start %d:%d#1", p, o);
			at = find_log(h, want);
			if (at <= last) {
				print_error("%s: got at %d after %d, want in "
					    "order; log:\n%s\n",
					    want, at, last, dump_log(h));
				fail();
			}
			last = at;
		}
	}
	assert_int_equal(count_prefix(h, "start "), 2 * N);
	assert_int_equal(count_prefix(h, "release "), 2 * N);
	close_consumer(h);
	expect_committed(h, 0, N);
	expect_committed(h, 1, N);
	done_with(SC_ORDER);
}

/* ---------- offsets and shutdown ---------- */

static void behave_hold_offset_1(harness *h, lasync_job *job)
{
	if (job->offset == 1)
		hold(h, job);
	else
		finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

static bool one_held(harness *h)
{
	return h->n_held == 1;
}

static bool lag_is_3(harness *h)
{
	return lasync_consumer_lag(h->c) == 3;
}

/* the committed offset stops at the first unfinished job, even while the
 * jobs after it are fetched and auto-commit runs; close abandons the job
 * without storing its offset */
static void test_commit_never_passes_unfinished_job(void **state)
{
	harness *h = H[SC_UNFINISHED];
	int64_t got = -1, deadline;

	(void)state;
	WAIT(h, one_held, "offset 1 held");
	/* lag counts the job in flight and the fetched backlog behind it */
	WAIT(h, lag_is_3, "a lag of 3");
	/* auto-commit runs every second: wait until offset 0 shows */
	deadline = now_ms() + 5000;
	while (now_ms() < deadline && got != 1) {
		run_for(h, 200);
		got = committed(h, 0);
		if (got > 1) {
			print_error("committed %lld while offset 1 runs, want "
				    "at most 1\n",
				    (long long)got);
			fail();
		}
	}
	assert_int_equal(got, 1);
	/* nothing after the held job started */
	if (count_prefix(h, "start ") != 2 || find_log(h, "start 0:2#1") >= 0) {
		print_error("got starts past the held job; log:\n%s\n",
			    dump_log(h));
		fail();
	}
	assert_int_equal(lasync_consumer_inflight(h->c), 1);
	close_consumer(h);
	assert_true(find_log(h, "abandon 0:1") >= 0);
	assert_true(find_log(h, "release 0:1") < 0);
	expect_committed(h, 0, 1);
	done_with(SC_UNFINISHED);
}

/* close abandons every in-flight job: nothing is stored for them */
static void test_close_abandons_inflight(void **state)
{
	harness *h = H[SC_CLOSE];
	int64_t t0;

	(void)state;
	WAIT(h, one_held, "offset 0 held");
	t0 = now_ms();
	close_consumer(h);
	/* close waited for the drain time, not for ever */
	assert_true(now_ms() - t0 < 3000);
	assert_true(find_log(h, "abandon 0:0") >= 0);
	assert_int_equal(count_prefix(h, "start "), 1);
	expect_committed(h, 0, RD_KAFKA_OFFSET_INVALID);
	done_with(SC_CLOSE);
}

static void drive_release(void *ctx, int timeout_ms)
{
	harness *h = ctx;

	(void)timeout_ms;
	if (h->n_held > 0)
		release_held(h, LASYNC_DONE);
}

/* a job that finishes within the drain time (the driver makes the
 * progress) is completed by close, and its offset committed */
static void test_close_drains_finishing_job(void **state)
{
	harness *h = H[SC_DRAIN];

	(void)state;
	WAIT(h, one_held, "offset 0 held");
	lasync_consumer_set_driver(h->c, drive_release, h);
	close_consumer(h);
	assert_true(find_log(h, "release 0:0") >= 0);
	assert_true(find_log(h, "abandon 0:0") < 0);
	/* the next message is not started while closing */
	assert_true(find_log(h, "start 0:1#1") < 0);
	expect_committed(h, 0, 1);
	done_with(SC_DRAIN);
}

/* ---------- acknowledgement ---------- */

static void behave_produce_done(harness *h, lasync_job *job)
{
	char err[256];

	assert_int_equal(lasync_job_produce(job, h->out, job->key, "out", 3,
					    NULL, err, sizeof(err)),
			 0);
	finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

static bool acked_0(harness *h)
{
	return find_log(h, "acked 0:0") >= 0;
}

static bool released_0_1(harness *h)
{
	return find_log(h, "release 0:1") >= 0;
}

/* DONE completes (acked hook, offset, next job) only once the messages
 * the job produced are acknowledged; a slow broker shows the wait */
static void test_done_waits_for_ack(void **state)
{
	harness *h = H[SC_ACK];
	int fin, ack, next;

	(void)state;
	slow_broker(scenarios[SC_ACK].slow_out_ms);
	WAIT(h, acked_0, "offset 0 acknowledged");
	WAIT(h, released_0_1, "offset 1 done");
	fin = find_log(h, "finish 0:0 DONE");
	ack = find_log(h, "acked 0:0");
	next = find_log(h, "start 0:1#1");
	if (!(fin >= 0 && fin < ack && ack < next &&
	      h->log_ms[ack] - h->log_ms[fin] >= 250)) {
		print_error("got finish at %d, acked at %d (+%lld ms), next "
			    "start at %d; want finish, acked at least 250 ms "
			    "later, then the next job; log:\n%s\n",
			    fin, ack,
			    (long long)(ack >= 0 && fin >= 0
						? h->log_ms[ack] - h->log_ms[fin]
						: -1),
			    next, dump_log(h));
		fail();
	}
	assert_true(find_log(h, "release 0:0") > ack);
	slow_broker(0);
	close_consumer(h);
	expect_committed(h, 0, 2);
	done_with(SC_ACK);
}

static bool finished_0(harness *h)
{
	return find_log(h, "finish 0:0 DONE") >= 0;
}

/* close while a DONE job's output is still unacknowledged: the job is
 * abandoned (its offset not stored) and its late delivery report finds
 * it alive (AddressSanitizer watches) */
static void test_close_abandons_unacked_done(void **state)
{
	harness *h = H[SC_UNACKED];

	(void)state;
	slow_broker(scenarios[SC_UNACKED].slow_out_ms);
	WAIT(h, finished_0, "offset 0 finished");
	lasync_consumer_close(h->c);
	h->c = NULL;
	/* the acknowledgement comes after close; it must find the job */
	slow_broker(0);
	lasync_producer_flush(h->prod, 5000);
	assert_true(find_log(h, "acked 0:0") < 0);
	assert_true(find_log(h, "release 0:0") >= 0);
	expect_committed(h, 0, RD_KAFKA_OFFSET_INVALID);
	done_with(SC_UNACKED);
}

/* expect_metric - the exposition text has this line */
static void expect_metric(const char *fmt, ...)
{
	char line[256], *m = lasync_metrics_render();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strstr(m, line) == NULL) {
		print_error("no \"%s\" in the metrics:\n%s", line, m);
		free(m);
		fail();
	}
	free(m);
}

/* acked returning -1 turns DONE into RETRY */
static void test_acked_failure_retries(void **state)
{
	harness *h = H[SC_ACKFAIL];
	static const char *const want[] = {
		"start 0:0#1", "finish 0:0 DONE", "acked 0:0 fail",
		"start 0:0#2", "finish 0:0 DONE", "acked 0:0", "release 0:0",
	};

	(void)state;
	WAIT(h, acked_0, "offset 0 acknowledged");
	run_for(h, 50);
	if (h->n_log != sizeof(want) / sizeof(want[0])) {
		print_error("got log:\n%s\nwant %zu lines\n", dump_log(h),
			    sizeof(want) / sizeof(want[0]));
		fail();
	}
	for (size_t i = 0; i < h->n_log; i++)
		assert_string_equal(h->log[i], want[i]);
	expect_metric("lasync_retries_total{topic=\"%s\",class=\"after_ack\"} 1\n",
		      h->topic);
	close_consumer(h);
	expect_committed(h, 0, 1);
	done_with(SC_ACKFAIL);
}

/* ---------- retries ---------- */

static void behave_retry_twice(harness *h, lasync_job *job)
{
	if (job->offset != 0 || job->attempt == 3)
		finish(h, job, LASYNC_DONE, 0, NULL, NULL);
	else if (job->attempt == 1)
		finish(h, job, LASYNC_RETRY, 0, "scim_5xx", "HTTP 503");
	else
		finish(h, job, LASYNC_RETRY, 400, "scim_429", "Retry-After");
}

/* RETRY starts the same job again after its backoff, attempt + 1; the
 * retry_after floor holds; the partition waits for it */
static void test_retry_backoff_and_attempts(void **state)
{
	harness *h = H[SC_RETRY];
	int a1, a2, a3, next;
	int64_t gap1, gap2;

	(void)state;
	WAIT(h, released_0_1, "offset 1 done");
	a1 = find_log(h, "start 0:0#1");
	a2 = find_log(h, "start 0:0#2");
	a3 = find_log(h, "start 0:0#3");
	next = find_log(h, "start 0:1#1");
	if (!(a1 >= 0 && a1 < a2 && a2 < a3 && a3 < next)) {
		print_error("got attempts at %d, %d, %d and the next job at "
			    "%d; log:\n%s\n",
			    a1, a2, a3, next, dump_log(h));
		fail();
	}
	/* base 20 ms: the first backoff is in [10, 20] ms; the second has
	 * the 400 ms floor from Retry-After */
	gap1 = h->log_ms[a2] - h->log_ms[a1];
	gap2 = h->log_ms[a3] - h->log_ms[a2];
	if (gap1 < 10 || gap2 < 400) {
		print_error("got gaps %lld and %lld ms, want >= 10 and >= "
			    "400\n",
			    (long long)gap1, (long long)gap2);
		fail();
	}
	assert_int_equal(count_prefix(h, "dead "), 0);
	assert_int_equal(hwm(h, h->dlq), 0);
	close_consumer(h);
	expect_committed(h, 0, 2);
	done_with(SC_RETRY);
}

static void behave_retry_300(harness *h, lasync_job *job)
{
	if (job->attempt == 1)
		finish(h, job, LASYNC_RETRY, 300, "las_timeout", "timeout");
	else
		finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

static bool retried_once(harness *h)
{
	return find_log(h, "finish 0:0 RETRY") >= 0;
}

/* next_ms tells the daemon's loop when the retry is due */
static void test_next_ms(void **state)
{
	harness *h = H[SC_NEXTMS];
	int n;

	(void)state;
	assert_int_equal(lasync_consumer_next_ms(h->c), -1);
	WAIT(h, retried_once, "the first attempt");
	lasync_consumer_poll(h->c);
	n = lasync_consumer_next_ms(h->c);
	if (n <= 0 || n > 300) {
		print_error("got next_ms %d, want in (0, 300]\n", n);
		fail();
	}
	assert_int_equal(lasync_consumer_inflight(h->c), 1);
	WAIT(h, acked_0, "the second attempt");
	assert_int_equal(lasync_consumer_next_ms(h->c), -1);
	assert_int_equal(lasync_consumer_inflight(h->c), 0);
	done_with(SC_NEXTMS);
}

/* ---------- dead letters ---------- */

static void behave_always_retry_0(harness *h, lasync_job *job)
{
	if (job->offset == 0)
		finish(h, job, LASYNC_RETRY, 0, "scim_5xx", "HTTP 503");
	else
		finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

static void behave_dead_0(harness *h, lasync_job *job)
{
	if (job->offset == 0)
		finish(h, job, LASYNC_DEAD, 0, "decode", "not a Snapshot");
	else
		finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

/* the dead letter a test wants, for check_one_dead_letter */
static struct {
	const char *cls, *attempts, *error;
	int seen;
} want_dl;

/* check_one_dead_letter - every origin header and the original message */
static void check_one_dead_letter(harness *h, const rd_kafka_message_t *m)
{
	char buf[600];
	static const char *const names[] = {
		"lasync.origin.topic", "lasync.origin.partition",
		"lasync.origin.offset", "lasync.stage", "lasync.error.class",
		"lasync.attempts",
	};
	const char *want[6] = {h->topic, "0", "0", "test", want_dl.cls,
			       want_dl.attempts};

	want_dl.seen++;
	for (size_t i = 0; i < 6; i++) {
		const char *got = lasync_kafka_header(m, names[i], buf,
						      sizeof(buf));

		if (got == NULL || strcmp(got, want[i]) != 0) {
			print_error("header %s: got %s, want %s\n", names[i],
				    got ? got : "(none)", want[i]);
			fail();
		}
	}
	const char *e = lasync_kafka_header(m, "lasync.error", buf,
					    sizeof(buf));

	if (e == NULL || strstr(e, want_dl.error) == NULL) {
		print_error("header lasync.error: got %s, want it to contain "
			    "%s\n",
			    e ? e : "(none)", want_dl.error);
		fail();
	}
	assert_int_equal(m->key_len, strlen("tenant-0"));
	assert_memory_equal(m->key, "tenant-0", m->key_len);

	Lasync__V1__DeadLetter *dl =
		lasync__v1__dead_letter__unpack(NULL, m->len, m->payload);

	assert_non_null(dl);
	assert_string_equal(dl->origin_topic, h->topic);
	assert_int_equal(dl->origin_partition, 0);
	assert_int_equal(dl->origin_offset, 0);
	assert_string_equal(dl->stage, "test");
	assert_string_equal(dl->error_class, want_dl.cls);
	assert_non_null(strstr(dl->error, want_dl.error));
	assert_int_equal(dl->attempts, (uint32_t)atoi(want_dl.attempts));
	assert_int_equal(dl->payload.len, strlen("payload-0-0"));
	assert_memory_equal(dl->payload.data, "payload-0-0", dl->payload.len);
	assert_int_equal(dl->key.len, strlen("tenant-0"));
	assert_non_null(dl->header);
	assert_string_equal(dl->header->tenant_id, "tenant-0");
	lasync__v1__dead_letter__free_unpacked(dl, NULL);
}

/* check_dead_letter - exactly one dead letter for offset 0 */
static void check_dead_letter(harness *h, const char *cls,
			      const char *attempts, const char *error)
{
	size_t n;

	want_dl.cls = cls;
	want_dl.attempts = attempts;
	want_dl.error = error;
	want_dl.seen = 0;
	n = read_all(h, h->dlq, check_one_dead_letter);
	if (n != 1 || hwm(h, h->dlq) != 1) {
		print_error("got %zu dead letters (hwm %lld), want exactly "
			    "one\n",
			    n, (long long)hwm(h, h->dlq));
		fail();
	}
}

/* exhausted retries: the dead hook runs (before the dead letter), one
 * dead letter with the origin headers, and the partition moves on */
static void test_exhausted_retries_dead_letter(void **state)
{
	harness *h = H[SC_EXHAUST];

	(void)state;
	WAIT(h, released_0_1, "offset 1 done");
	run_for(h, 100);
	assert_int_equal(count_prefix(h, "start 0:0#"), 3);
	assert_int_equal(count_prefix(h, "dead 0:0 scim_5xx"), 1);
	assert_true(find_log(h, "dead 0:0 scim_5xx: retries exhausted after "
				"3 attempts: HTTP 503") >= 0);
	/* the dead hook ran before the dead letter was produced */
	assert_int_equal(h->dlq_hwm_in_dead, 0);
	/* and what it produced went out */
	assert_int_equal(hwm(h, h->out), 1);
	/* the dead job is released, then the next one starts */
	assert_true(find_log(h, "release 0:0") < find_log(h, "start 0:1#1"));
	close_consumer(h);
	check_dead_letter(h, "scim_5xx", "3",
			  "retries exhausted after 3 attempts: HTTP 503");
	expect_committed(h, 0, 2);
	expect_metric("lasync_dlq_total{topic=\"%s\",class=\"scim_5xx\"} 1\n",
		      h->topic);
	done_with(SC_EXHAUST);
}

/* DEAD: no retry, one dead letter at attempt 1 */
static void test_dead_at_once(void **state)
{
	harness *h = H[SC_DEAD];

	(void)state;
	WAIT(h, released_0_1, "offset 1 done");
	assert_int_equal(count_prefix(h, "start 0:0#"), 1);
	assert_true(find_log(h, "dead 0:0 decode: not a Snapshot") >= 0);
	assert_int_equal(h->dlq_hwm_in_dead, 0);
	close_consumer(h);
	check_dead_letter(h, "decode", "1", "not a Snapshot");
	expect_committed(h, 0, 2);
	done_with(SC_DEAD);
}

/* ---------- backlog ---------- */

static bool all_done_30(harness *h)
{
	if (h->n_held > 0)
		release_held(h, LASYNC_DONE);
	return h->done_count >= 30;
}

/* a backlog of 2 pauses and resumes the partition again and again:
 * every message is still processed once, in order */
static void test_backlog_pause_resume(void **state)
{
	harness *h = H[SC_BACKLOG];

	(void)state;
	WAIT(h, all_done_30, "30 jobs done");
	run_for(h, 200);
	assert_int_equal(count_prefix(h, "start "), 30);
	for (int o = 0; o < 30; o++) {
		char want[32];

		snprintf(want, sizeof(want), "start 0:%d#1", o);
		if (find_log(h, want) < 0) {
			print_error("%s missing; log:\n%s\n", want,
				    dump_log(h));
			fail();
		}
		if (o > 0) {
			char prev[32];

			snprintf(prev, sizeof(prev), "start 0:%d#1", o - 1);
			assert_true(find_log(h, prev) < find_log(h, want));
		}
	}
	close_consumer(h);
	expect_committed(h, 0, 30);
	done_with(SC_BACKLOG);
}

/* close_bounded - lasync_consumer_close in a thread; false when it has
 * not returned after ms (the thread is then left behind, stuck) */
typedef struct closer {
	harness *h;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
} closer;

static void *closer_main(void *arg)
{
	closer *k = arg;

	lasync_consumer_close(k->h->c);
	pthread_mutex_lock(&k->mu);
	k->done = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static bool close_bounded(harness *h, int ms)
{
	static closer k;
	pthread_t th;
	struct timespec until;
	bool done;

	k.h = h;
	k.done = false;
	pthread_mutex_init(&k.mu, NULL);
	pthread_cond_init(&k.cv, NULL);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	pthread_create(&th, NULL, closer_main, &k);
	pthread_mutex_lock(&k.mu);
	while (!k.done &&
	       pthread_cond_timedwait(&k.cv, &k.mu, &until) == 0)
		;
	done = k.done;
	pthread_mutex_unlock(&k.mu);
	if (!done)
		return false;
	pthread_join(th, NULL);
	h->c = NULL;
	lasync_producer_flush(h->prod, 5000);
	return true;
}

/* SIGTERM right after start: the assignment has arrived but the daemon
 * never polled, so rd_kafka_consumer_close() runs the assign and revoke
 * callbacks itself.  Close must still return promptly (DESIGN §2: exit
 * within 5 s), commit nothing and start no job.  In librdkafka 2.0.2 a
 * callback run by close can find rd_kafka_rebalance_protocol() returning
 * NULL or blocking for ever (librdkafka issue #4041), and a synchronous
 * rd_kafka_commit() blocking for ever; this test showed both, now and
 * then (an UndefinedBehaviorSanitizer report, or the watchdog). */
static void test_close_before_first_poll(void **state)
{
	harness *h = H[SC_UNPOLLED];

	(void)state;
	if (!close_bounded(h, 5000)) {
		print_error("lasync_consumer_close did not return within 5 s "
			    "(the closing thread is left stuck)\n");
		H[SC_UNPOLLED] = NULL; /* cannot be torn down */
		fail();
	}
	assert_int_equal(count_prefix(h, "start "), 0);
	expect_committed(h, 0, RD_KAFKA_OFFSET_INVALID);
	done_with(SC_UNPOLLED);
}

/* The dead hook's own message (what the stage owes, e.g. a failed sync
 * result) is refused once by the broker while the dead letter is
 * accepted.  The dead letter must still go out exactly once, and what the
 * stage owes must not be lost.
 *
 * KNOWN BUG, left failing on purpose: job_complete() in JOB_DLQ takes any
 * failed delivery of the job (job_dr sets the same produce_failed flag as
 * dlq_dr) for a failed dead letter and sends the dead letter again, so
 * the topic gets two; and the dead hook is not run again, so what it owed
 * is lost.  (lib/lasync_consumer.c, job_complete and job_dr.)  Only
 * separating the flags would fix the first half and lose the owed
 * message silently. */
static void test_dead_hook_failure_one_dead_letter(void **state)
{
	harness *h = H[SC_DEADFAIL];
	int64_t deadline;

	(void)state;
	/* broker 2 leads the .out topic: its next Produce is refused for
	 * good (API key 0 is Produce) */
	rd_kafka_mock_broker_push_request_error_rtts(
		mock, 2, 0, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 0);
	WAIT(h, released_0_1, "offset 1 done");
	/* give a second dead letter time to show */
	deadline = now_ms() + 500;
	while (now_ms() < deadline)
		step(h, 10);
	assert_int_equal(count_prefix(h, "dead 0:0 decode"), 1);
	if (hwm(h, h->dlq) != 1) {
		print_error("got %lld dead letters for one dead job, want 1; "
			    "log:\n%s\n",
			    (long long)hwm(h, h->dlq), dump_log(h));
		fail();
	}
	if (hwm(h, h->out) != 1) {
		print_error("got %lld messages from the dead hook, want its "
			    "result delivered once; log:\n%s\n",
			    (long long)hwm(h, h->out), dump_log(h));
		fail();
	}
	close_consumer(h);
	expect_committed(h, 0, 2);
	done_with(SC_DEADFAIL);
}

/* ---------- rebalance ---------- */

/* peer_of - a second member of a's group, with its own log and producer */
static harness *peer_of(const harness *a)
{
	harness *b = lasync_xcalloc(1, sizeof(*b));
	rd_kafka_conf_t *conf;
	char err[512];

	memcpy(b->topic, a->topic, sizeof(b->topic));
	memcpy(b->dlq, a->dlq, sizeof(b->dlq));
	memcpy(b->out, a->out, sizeof(b->out));
	memcpy(b->group, a->group, sizeof(b->group));
	memcpy(b->bootstraps, a->bootstraps, sizeof(b->bootstraps));
	b->mc = a->mc;
	b->cfg = a->cfg;
	b->topics[0] = b->topic;
	b->cfg.topics = b->topics;
	b->cfg.brokers = b->bootstraps;
	b->cfg.group_id = b->group;
	b->cfg.client_id = "test-consumer-b";
	b->extra = lasync_xstrdup(a->extra);
	b->cfg.extra = b->extra;
	b->behave = a->behave;
	conf = lasync_kafka_conf(b->bootstraps, "test-query-b", NULL, err,
				 sizeof(err));
	b->query_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(b->query_rk);
	b->prod = lasync_producer_new(b->bootstraps, "test-producer-b", NULL,
				      err, sizeof(err));
	assert_non_null(b->prod);
	return b;
}

/* dones - how often "finish p:o DONE" occurs in a's and b's logs */
static int dones(const harness *a, const harness *b, int p, int o)
{
	char want[48];
	int n = 0;

	snprintf(want, sizeof(want), "finish %d:%d DONE", p, o);
	for (size_t i = 0; i < a->n_log; i++)
		n += strcmp(a->log[i], want) == 0;
	for (size_t i = 0; i < b->n_log; i++)
		n += strcmp(b->log[i], want) == 0;
	return n;
}

/* A second member joins while the first has a job in flight in every
 * partition: cooperative-sticky moves one partition to it.  The revoked
 * job is abandoned after the drain time and redone by the new owner;
 * every message is done exactly once, and the committed offsets end at
 * the end of both partitions. */
static void test_rebalance_moves_partition(void **state)
{
	harness *a = H[SC_REBALANCE], *b;
	int64_t deadline;

	(void)state;
	WAIT(a, two_held, "a held job in each partition");
	/* the operator sees how many partitions the member holds */
	expect_metric("lasync_consumer_partitions{group=\"%s\"} 2\n", a->group);
	release_held(a, LASYNC_DONE);
	WAIT(a, two_held, "the second job in each partition");
	b = peer = peer_of(a);
	start_consumer(b);
	/* hold everything until the new member runs a job */
	deadline = now_ms() + WAIT_MS;
	while (now_ms() < deadline && count_prefix(b, "start ") == 0) {
		step(a, 5);
		step(b, 5);
	}
	if (count_prefix(b, "start ") == 0) {
		print_error("the second member never started a job; log of "
			    "the first:\n%s\n",
			    dump_log(a));
		fail();
	}
	/* then let both finish everything */
	deadline = now_ms() + WAIT_MS;
	while (now_ms() < deadline &&
	       a->done_count + b->done_count < 12) {
		release_held(a, LASYNC_DONE);
		release_held(b, LASYNC_DONE);
		step(a, 5);
		step(b, 5);
	}
	run_for(a, 50);
	run_for(b, 50);
	assert_int_equal(count_prefix(a, "abandon "), 1);
	for (int p = 0; p < 2; p++)
		for (int o = 0; o < 6; o++)
			if (dones(a, b, p, o) != 1) {
				print_error("%d:%d done %d times, want once; "
					    "first member:\n%s\n",
					    p, o, dones(a, b, p, o),
					    dump_log(a));
				print_error("second member:\n%s\n",
					    dump_log(b));
				fail();
			}
	/* An orderly handover: the first member leaves (its final commit
	 * lands while the group is stable), the second takes over and
	 * commits too before it leaves.  (Two members closing at the same
	 * moment is another matter: see the note at the top.) */
	close_consumer(a);
	expect_committed(a, 1, 6);
	/* the second member rejoins alone and auto-commits what it did */
	deadline = now_ms() + WAIT_MS;
	while (now_ms() < deadline && committed(b, 0) != 6)
		run_for(b, 300);
	expect_committed(b, 0, 6);
	close_consumer(b);
	expect_committed(b, 0, 6);
	expect_committed(b, 1, 6);
	expect_metric("lasync_consumer_partitions{group=\"%s\"} 0\n", b->group);
	teardown_harness(b);
	peer = NULL;
	done_with(SC_REBALANCE);
}

/* ---------- tenants side by side ---------- */

/* offsets 0, 2, 4 are tenant-0's, 1, 3, 5 tenant-1's; tenant-0's first
 * job fails once and waits 800 ms for its retry */
static void behave_lanes(harness *h, lasync_job *job)
{
	if (job->offset == 0 && job->attempt == 1)
		finish(h, job, LASYNC_RETRY, 800, "portal_5xx", "portal down");
	else
		finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

static bool tenant1_done(harness *h)
{
	return find_log(h, "finish 0:5 DONE") >= 0;
}

static bool lanes_done(harness *h)
{
	return find_log(h, "finish 0:4 DONE") >= 0;
}

/* a tenant waiting for its retry delays no other tenant on its partition;
 * its own later events wait for it, in order; the committed offset never
 * passes its unfinished job */
static void test_other_tenants_pass_a_waiting_one(void **state)
{
	harness *h = H[SC_LANES];
	int64_t got;

	(void)state;
	WAIT(h, tenant1_done, "tenant-1's three jobs");
	if (find_log(h, "start 0:0#2") >= 0 || find_log(h, "start 0:2#1") >= 0) {
		print_error("tenant-1 was held up by tenant-0, or tenant-0 ran "
			    "out of order; log:\n%s\n",
			    dump_log(h));
		fail();
	}
	run_for(h, 1200); /* auto-commit runs every second */
	got = committed(h, 0);
	if (find_log(h, "finish 0:0 DONE") < 0 && got > 0) {
		print_error("committed %lld while offset 0 waits\n",
			    (long long)got);
		fail();
	}
	WAIT(h, lanes_done, "tenant-0's three jobs");
	assert_true(find_log(h, "finish 0:0 DONE") < find_log(h, "start 0:2#1"));
	assert_true(find_log(h, "finish 0:2 DONE") < find_log(h, "start 0:4#1"));
	assert_true(find_log(h, "finish 0:1 DONE") < find_log(h, "start 0:3#1"));
	assert_true(h->max_running_part <= 2);
	assert_int_equal(count_prefix(h, "start "), 7);
	close_consumer(h);
	expect_committed(h, 0, 6);
	done_with(SC_LANES);
}

/* ---------- the memory budget ---------- */

/* jobs start only while their estimates fit the budget, over all
 * partitions; the gauge shows the estimate of the jobs running */
static void test_budget_bounds_jobs_running(void **state)
{
	harness *h = H[SC_BUDGET];

	(void)state;
	for (int round = 0; round < 4; round++) {
		WAIT(h, two_held, "two held jobs");
		run_for(h, 50);
		if (h->n_held != 2 || h->running_total != 2) {
			print_error("round %d: %zu held, want 2 (budget for "
				    "two); log:\n%s\n",
				    round, h->n_held, dump_log(h));
			fail();
		}
		assert_int_equal(lasync_consumer_mem(h->c), 200);
		release_held(h, LASYNC_DONE);
	}
	run_for(h, 100);
	assert_int_equal(h->max_running_total, 2);
	assert_int_equal(count_prefix(h, "release "), 8);
	assert_int_equal(lasync_consumer_mem(h->c), 0);
	close_consumer(h);
	expect_committed(h, 0, 4);
	expect_committed(h, 1, 4);
	done_with(SC_BUDGET);
}

static bool three_done(harness *h)
{
	return h->done_count == 3;
}

/* a job over the whole budget still runs - alone */
static void test_budget_job_bigger_than_budget_runs_alone(void **state)
{
	harness *h = H[SC_BIGGER];

	(void)state;
	WAIT(h, three_done, "three jobs done");
	assert_int_equal(h->max_running_total, 1);
	close_consumer(h);
	expect_committed(h, 0, 3);
	done_with(SC_BIGGER);
}

static void behave_budget_retry(harness *h, lasync_job *job)
{
	if (job->offset == 0 && job->attempt == 1)
		finish(h, job, LASYNC_RETRY, 600, "portal_5xx", "portal down");
	else
		finish(h, job, LASYNC_DONE, 0, NULL, NULL);
}

static bool offset0_done(harness *h)
{
	return find_log(h, "finish 0:0 DONE") >= 0;
}

/* a job waiting for its retry holds no budget (and, released, no state):
 * the others run meanwhile; it gets the budget back when due */
static void test_budget_waiting_job_holds_none(void **state)
{
	harness *h = H[SC_BUDGETRETRY];
	int rel0, next, retry;

	(void)state;
	WAIT(h, offset0_done, "offset 0 done after its retry");
	rel0 = find_log(h, "release 0:0");
	next = find_log(h, "start 0:1#1");
	retry = find_log(h, "start 0:0#2");
	if (rel0 < 0 || next < 0 || rel0 > next || next > retry) {
		print_error("want offset 0 released while waiting, and offsets "
			    "1 and 2 run before its retry; log:\n%s\n",
			    dump_log(h));
		fail();
	}
	assert_true(find_log(h, "finish 0:2 DONE") < retry);
	assert_int_equal(h->max_running_total, 1);
	close_consumer(h);
	expect_committed(h, 0, 3);
	done_with(SC_BUDGETRETRY);
}

/* produce_hol - partition 0: one message of 50 bytes; partition 1: ten of
 * 5 bytes (each its own key) */
static void produce_hol(harness *h)
{
	char err[256], big[51];
	rd_kafka_conf_t *conf = lasync_kafka_conf(h->bootstraps, "test-input",
						  NULL, err, sizeof(err));
	rd_kafka_t *rk;

	assert_non_null(conf);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(rk);
	memset(big, 'b', 50);
	for (int i = 0; i < 11; i++) {
		char key[32];
		int part = i == 0 ? 0 : 1;

		snprintf(key, sizeof(key), "tenant-%d", i);
		assert_int_equal(rd_kafka_producev(
					 rk, RD_KAFKA_V_TOPIC(h->topic),
					 RD_KAFKA_V_PARTITION(part),
					 RD_KAFKA_V_KEY(key, strlen(key)),
					 RD_KAFKA_V_VALUE(big, i == 0 ? 50 : 5),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					 RD_KAFKA_V_END),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
	}
	assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
}

static bool hol_settled(harness *h)
{
	/* the big one runs, or smalls fill the rest of the budget */
	return h->n_held >= 3;
}

/* a job that does not fit holds the head of the line: smaller jobs that
 * would fit do not pass it, so a big school is not starved */
static void test_budget_big_job_not_starved(void **state)
{
	harness *h = H[SC_HOL];
	int big;

	(void)state;
	WAIT(h, hol_settled, "jobs held");
	run_for(h, 100);
	/* finish the held jobs one at a time, oldest first; after a finish
	 * the next job may take a refetch to start (a busy machine), so wait
	 * for it within the bound rather than a fixed time */
	int64_t deadline = now_ms() + WAIT_MS;

	while (h->done_count < 11 && now_ms() < deadline) {
		if (h->n_held == 0) {
			step(h, 5);
			continue;
		}
		lasync_job *j = h->held[0];

		memmove(&h->held[0], &h->held[1],
			(h->n_held - 1) * sizeof(h->held[0]));
		h->n_held--;
		finish(h, j, LASYNC_DONE, 0, NULL, NULL);
		run_for(h, 60);
	}
	assert_int_equal(h->done_count, 11);
	big = find_log(h, "start 0:0#1");
	assert_true(big >= 0);
	/* Every message was fetched before the first release, and at most
	 * 8 smalls run at once (jobs per partition): smalls 8 and 9 could
	 * only start after a release.  By then the big one was running or
	 * waiting for the budget, and smalls that fit do not pass it. */
	for (int i = 8; i < 10; i++) {
		char s[32];

		snprintf(s, sizeof(s), "start 1:%d#1", i);
		if (find_log(h, s) < big) {
			print_error("%s before the big job; log:\n%s\n", s,
				    dump_log(h));
			fail();
		}
	}
	assert_true(h->max_running_total <= 10);
	close_consumer(h);
	expect_committed(h, 0, 1);
	expect_committed(h, 1, 10);
	done_with(SC_HOL);
}

static bool one_held_a_while(harness *h)
{
	return h->n_held == 1 && lasync_consumer_backlog_bytes(h->c) > 0;
}

/* expect_backlog_gauge - the metric says what the consumer holds */
static void expect_backlog_gauge(harness *h)
{
	expect_metric("lasync_consumer_backlog_bytes{group=\"%s\"} %zu\n",
		      h->cfg.group_id, lasync_consumer_backlog_bytes(h->c));
}

/* fetched messages not started pause the partition past an eighth of the
 * budget in bytes; every message is still processed once, in order */
static void test_budget_bounds_backlog_bytes(void **state)
{
	harness *h = H[SC_BACKBYTES];
	size_t most = 0;

	(void)state;
	WAIT(h, one_held_a_while, "a held job and a backlog");
	expect_backlog_gauge(h);
	for (int k = 0; k < 30; k++) {
		run_for(h, 30);
		if (lasync_consumer_backlog_bytes(h->c) > most)
			most = lasync_consumer_backlog_bytes(h->c);
		release_held(h, LASYNC_DONE);
	}
	WAIT(h, all_done_30, "30 jobs done");
	assert_int_equal(lasync_consumer_backlog_bytes(h->c), 0);
	expect_backlog_gauge(h);
	/* 40 bytes reached, then one more message each poll at most */
	if (most < 33 || most > 55) {
		print_error("backlog peaked at %zu bytes, want 33..55 "
			    "(budget/8 = 40, messages of 11)\n",
			    most);
		fail();
	}
	for (int o = 1; o < 30; o++) {
		char want[32], prev[32];

		snprintf(want, sizeof(want), "start 0:%d#1", o);
		snprintf(prev, sizeof(prev), "start 0:%d#1", o - 1);
		assert_true(find_log(h, prev) < find_log(h, want));
	}
	close_consumer(h);
	expect_committed(h, 0, 30);
	done_with(SC_BACKBYTES);
}

/* ---------- the job limit (max_running) ---------- */

/* 0:0's first attempt fails at once and waits 600 ms for its retry; every
 * other start is held by the test */
static void behave_maxjobs(harness *h, lasync_job *job)
{
	if (job->partition == 0 && job->offset == 0 && job->attempt == 1)
		finish(h, job, LASYNC_RETRY, 600, "portal_5xx", "portal down");
	else
		hold(h, job);
}

/* two_held_settled - two jobs held, or every job not done is held */
static bool two_held_settled(harness *h)
{
	return h->n_held == 2 || h->done_count + (int)h->n_held == 8;
}

/* expect_two_running - two places taken, not more, after the engine had
 * time to start more than it should */
static void expect_two_running(harness *h, const char *when)
{
	WAIT(h, two_held_settled, "held jobs");
	run_for(h, 20);
	if (h->running_total > 2 || h->n_held > 2 ||
	    (h->n_held < 2 && h->done_count + (int)h->n_held != 8)) {
		print_error("%s: %zu held, %d running, want two; log:\n%s\n",
			    when, h->n_held, h->running_total, dump_log(h));
		fail();
	}
}

/* DESIGN §2, "other tenants are unaffected" by a tenant whose portal
 * keeps failing, with the job limit: at most max_running jobs run across
 * the partitions, though each partition has places for eight; a job waiting for its retry takes no
 * place (two others run meanwhile), and when its retry is due while the
 * places are taken it waits for one - the first that comes free, ahead
 * of the messages fetched after it */
static void test_max_jobs_failing_tenant_takes_no_place(void **state)
{
	harness *h = H[SC_MAXJOBS];

	(void)state;
	/* whichever partition's messages come first take both places */
	expect_two_running(h, "at first");
	while (find_log(h, "finish 0:0 RETRY") < 0) {
		if (h->done_count >= 8) {
			print_error("0:0 never ran; log:\n%s\n", dump_log(h));
			fail();
		}
		release_held(h, LASYNC_DONE);
		expect_two_running(h, "until 0:0 ran");
	}
	/* 0:0 waits for its retry; two others hold the places well past
	 * its retry time */
	run_for(h, 800);
	assert_int_equal(find_log(h, "start 0:0#2"), -1);
	/* due, and waiting for a place: it sets no timer (the loop would
	 * wake for nothing until a place frees, which wakes it anyway) */
	assert_int_equal(lasync_consumer_next_ms(h->c), -1);
	size_t mark = h->n_log;

	while (h->done_count < 8) {
		int before = h->done_count;

		release_held(h, LASYNC_DONE);
		expect_two_running(h, "after a release");
		assert_true(h->done_count > before);
	}
	/* the due retry took the first place that came free, before the
	 * messages fetched behind it */
	size_t k = mark;

	while (k < h->n_log && strncmp(h->log[k], "start ", 6) != 0)
		k++;
	if (k == h->n_log || strcmp(h->log[k], "start 0:0#2") != 0) {
		print_error("want 0:0's retry first once a place came free; "
			    "log:\n%s\n", dump_log(h));
		fail();
	}
	assert_int_equal(h->max_running_total, 2);
	close_consumer(h);
	expect_committed(h, 0, 4);
	expect_committed(h, 1, 4);
	done_with(SC_MAXJOBS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_order_one_at_a_time),
		cmocka_unit_test(test_commit_never_passes_unfinished_job),
		cmocka_unit_test(test_close_abandons_inflight),
		cmocka_unit_test(test_close_drains_finishing_job),
		cmocka_unit_test(test_done_waits_for_ack),
		cmocka_unit_test(test_close_abandons_unacked_done),
		cmocka_unit_test(test_acked_failure_retries),
		cmocka_unit_test(test_retry_backoff_and_attempts),
		cmocka_unit_test(test_next_ms),
		cmocka_unit_test(test_exhausted_retries_dead_letter),
		cmocka_unit_test(test_dead_at_once),
		cmocka_unit_test(test_backlog_pause_resume),
		cmocka_unit_test(test_rebalance_moves_partition),
		cmocka_unit_test(test_close_before_first_poll),
		cmocka_unit_test(test_dead_hook_failure_one_dead_letter),
		cmocka_unit_test(test_other_tenants_pass_a_waiting_one),
		cmocka_unit_test(test_budget_bounds_jobs_running),
		cmocka_unit_test(test_budget_job_bigger_than_budget_runs_alone),
		cmocka_unit_test(test_budget_waiting_job_holds_none),
		cmocka_unit_test(test_budget_big_job_not_starved),
		cmocka_unit_test(test_budget_bounds_backlog_bytes),
		cmocka_unit_test(test_max_jobs_failing_tenant_takes_no_place),
	};

	lasync_log_init("test_consumer", getenv("TEST_DEBUG") != NULL
						 ? LASYNC_LOG_DEBUG
						 : LASYNC_LOG_WARN);
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
