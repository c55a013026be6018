/*
 * lasync_consumer.c - ordered, at-least-once job engine over a librdkafka
 * consumer group (see lasync_consumer.h).
 *
 * State per assigned partition: its jobs (running, waiting for their
 * produced messages, or waiting for a retry) - at most one per message key,
 * so one tenant's events stay ordered while another tenant's go by - and
 * the backlog of messages fetched and not yet started, in offset order.  A
 * message starts when no job and no earlier backlog message has its key,
 * and fewer than max_concurrent jobs run, fewer than max_running run in
 * the whole consumer, and - with a memory budget - when its estimate fits
 * beside the jobs running.  A message that does not fit
 * holds the head of the line: nothing else starts until it has, so a big
 * school is not starved by a stream of small ones.  The stored offset is
 * the lowest
 * offset not yet complete (a job's or a backlog message's), so it advances
 * in order and never past unfinished work, whatever order jobs end in.
 * librdkafka's auto-commit commits what was stored.
 *
 * Completion is never handled inside lasync_job_finish() or a delivery
 * callback: finished jobs go on a ready list that lasync_consumer_poll()
 * works through iteratively, so a partition with a long backlog of jobs
 * that finish synchronously does not recurse.
 */
#include "lasync_consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"

typedef enum {
	JOB_RUNNING,	/* the service is working on it */
	JOB_FINISHED,	/* finished; waiting for produced messages */
	JOB_WAITING,	/* waiting for its retry time */
	JOB_DLQ,	/* dead letter in flight */
} job_phase;

/* TRIM_EVERY_MS - at most one heap trim this often */
#define TRIM_EVERY_MS 10000

typedef struct part part;
typedef struct job_impl job_impl;

/* A fetched message, copied out of librdkafka's buffers at once.  A
 * message librdkafka hands out points into the fetch response or the
 * decompressed batch it came in, and keeps that whole buffer alive: a few
 * messages waiting or running would hold many times their own bytes. */
typedef struct msg {
	int64_t offset;
	char *key;			/* NUL-terminated; NULL when none */
	size_t key_len;
	uint8_t *payload;		/* NUL-terminated; NULL when none */
	size_t len;
	rd_kafka_headers_t *hdrs;	/* detached from the message; or NULL */
} msg;

/* A message the dead hook owes (e.g. a failed sync result), kept until the
 * broker has it: a refused one is sent again, the hook is not run twice. */
typedef struct owed {
	job_impl *j;
	char *topic, *key;
	void *value;
	size_t len;
	rd_kafka_headers_t *hdrs;	/* our copy, for a resend */
	bool ok;
} owed;

struct job_impl {
	lasync_job pub;			/* first: lasync_job * casts back */
	lasync_consumer *c;
	part *p;
	msg *msg;
	job_phase phase;
	lasync_disposition disp;
	int retry_after_ms;
	char error_class[48];
	char error[512];
	unsigned pending;		/* produced, not yet acknowledged */
	bool produce_failed;		/* work output, or the dead letter */
	bool in_dead;			/* the dead hook ran: what it owes */
	bool hook_failed;		/*  ... was refused, run it again */
	bool dlq_ok;			/* the dead letter is in the DLQ */
	owed **owed;
	size_t n_owed, cap_owed;
	char produce_error[256];
	bool on_ready;
	struct job_impl *ready_next;
	bool orphan;			/* abandoned with produces pending */
	int64_t retry_at;		/* mono ms; while WAITING */
	size_t cost;			/* memory estimate (the budget) */
	bool charged;			/* ... counted in mem_inflight */
	bool wants_room;		/* its retry is due and found no room */
};

struct part {
	char *topic;
	int32_t partition;
	job_impl **jobs;		/* started, not complete */
	size_t n_jobs, cap_jobs;
	msg **backlog;			/* fetched, not started; in order */
	size_t n_backlog, cap_backlog;
	bool paused;
	bool revoking;
	int64_t stored;			/* last offset stored, -1 */
	int64_t done_max;		/* highest offset completed, -1 */
	int64_t hwm;			/* last known high watermark */
};

struct lasync_consumer {
	lasync_consumer_cfg cfg;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	int fds[2];
	lasync_producer *prod;
	const lasync_job_ops *ops;
	void *ctx;
	void (*drive)(void *ctx, int timeout_ms);
	void *drive_ctx;
	part **parts;
	size_t n_parts, cap_parts;
	job_impl *ready_head, *ready_tail;
	size_t inflight;
	size_t mem_inflight;	/* estimates of the jobs charged */
	size_t n_charged;	/* jobs charged: running, not waiting */
	size_t n_wants_room;	/* due retries waiting for room: they go
				 * before any backlog message */
	size_t backlog_bytes;	/* message bytes fetched, not started */
	part *hol;		/* its next job waits for room */
	bool kick;		/* budget came free: start what waits */
	size_t rr;		/* where the next kick starts looking */
	int64_t trimmed_ms;	/* when the heap was last trimmed */
	bool stopping;
	/* The rebalance protocol, known from the configured assignment
	 * strategy.  rd_kafka_rebalance_protocol() is not asked in the
	 * rebalance callback: in librdkafka 2.0.2 it can return NULL, or
	 * block for ever, when rd_kafka_consumer_close() runs the callback
	 * (librdkafka issue #4041). */
	bool coop;
	char *stage;
};

static lasync_metric *m_jobs, *m_dlq, *m_retries, *m_lag, *m_mem, *m_waits,
	*m_running,
	*m_backlog, *m_parts;

static void metrics_init(void)
{
	if (m_jobs != NULL)
		return;
	m_jobs = lasync_metric_counter("lasync_events_total",
				       "Consumed events by topic and outcome",
				       "topic,outcome");
	m_dlq = lasync_metric_counter("lasync_dlq_total",
				      "Messages dead-lettered, by origin topic "
				      "and error class",
				      "topic,class");
	m_retries = lasync_metric_counter("lasync_retries_total",
					  "Job retries scheduled, by topic "
					  "and error class",
					  "topic,class");
	m_lag = lasync_metric_gauge("lasync_consumer_lag",
				    "Messages behind the high watermark, by "
				    "consumer group and topic",
				    "group,topic");
	m_mem = lasync_metric_gauge("lasync_jobs_memory_estimate_bytes",
				    "Estimated memory of the jobs running "
				    "(--memory-budget-mb bounds it), by "
				    "consumer group",
				    "group");
	m_backlog = lasync_metric_gauge("lasync_consumer_backlog_bytes",
					"Payload bytes of the messages fetched "
					"and not yet started (the queue in "
					"front of the jobs, outside their "
					"estimate), by consumer group",
					"group");
	m_parts = lasync_metric_gauge("lasync_consumer_partitions",
				      "Partitions this member of the consumer "
				      "group holds now, by consumer group",
				      "group");
	m_waits = lasync_metric_counter("lasync_jobs_budget_waits_total",
					"Times a job had to wait for the "
					"memory budget or --max-jobs, by "
					"consumer group",
					"group");
	m_running = lasync_metric_gauge("lasync_jobs_running",
					"Jobs running now, not waiting for a "
					"retry (--max-jobs bounds them), by "
					"consumer group",
					"group");
}

/* --- partitions ------------------------------------------------------ */

/* parts_gauge - publish how many partitions the consumer holds */
static void parts_gauge(const lasync_consumer *c)
{
	lasync_metric_set(m_parts, (double)c->n_parts, c->cfg.group_id);
}

static part *part_find(lasync_consumer *c, const char *topic, int32_t p)
{
	for (size_t i = 0; i < c->n_parts; i++)
		if (c->parts[i]->partition == p &&
		    strcmp(c->parts[i]->topic, topic) == 0)
			return c->parts[i];
	return NULL;
}

static part *part_add(lasync_consumer *c, const char *topic, int32_t p)
{
	part *pt = part_find(c, topic, p);

	if (pt != NULL)
		return pt;
	pt = lasync_xcalloc(1, sizeof(*pt));
	pt->topic = lasync_xstrdup(topic);
	pt->partition = p;
	pt->hwm = -1;
	pt->stored = -1;
	pt->done_max = -1;
	lasync_grow(&c->parts, &c->cap_parts, c->n_parts + 1);
	c->parts[c->n_parts++] = pt;
	parts_gauge(c);
	return pt;
}

/* backlog_gauge - publish the backlog's bytes */
static void backlog_gauge(const lasync_consumer *c)
{
	lasync_metric_set(m_backlog, (double)c->backlog_bytes, c->cfg.group_id);
}

/* msg_copy - take a fetched message's contents into a msg of its own
 * and let librdkafka's buffers go */
static msg *msg_copy(rd_kafka_message_t *m)
{
	msg *x = lasync_xcalloc(1, sizeof(*x));

	/* lasync_xstrndup copies exactly n bytes (NULs included) and ends
	 * them with one */
	x->offset = m->offset;
	if (m->key != NULL) {
		x->key = lasync_xstrndup(m->key, m->key_len);
		x->key_len = m->key_len;
	}
	if (m->payload != NULL) {
		x->payload = (uint8_t *)lasync_xstrndup(m->payload, m->len);
		x->len = m->len;
	}
	if (rd_kafka_message_detach_headers(m, &x->hdrs) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		x->hdrs = NULL;
	rd_kafka_message_destroy(m);
	return x;
}

static void msg_free(msg *x)
{
	if (x == NULL)
		return;
	free(x->key);
	free(x->payload);
	if (x->hdrs != NULL)
		rd_kafka_headers_destroy(x->hdrs);
	free(x);
}

static void backlog_push(lasync_consumer *c, part *pt, msg *m)
{
	lasync_grow(&pt->backlog, &pt->cap_backlog, pt->n_backlog + 1);
	pt->backlog[pt->n_backlog++] = m;
	c->backlog_bytes += m->len;
	backlog_gauge(c);
}

/* backlog_take - remove and return backlog message i */
static msg *backlog_take(lasync_consumer *c, part *pt,
					size_t i)
{
	msg *m = pt->backlog[i];

	memmove(&pt->backlog[i], &pt->backlog[i + 1],
		(pt->n_backlog - i - 1) * sizeof(*pt->backlog));
	pt->n_backlog--;
	c->backlog_bytes -= m->len;
	backlog_gauge(c);
	return m;
}

static size_t backlog_len(const part *pt)
{
	return pt->n_backlog;
}

/* backlog_full - should the partition stop fetching?  Past max_backlog
 * messages, or past an eighth of the memory budget in bytes over all
 * partitions (a partition may still fetch its first one) */
static bool backlog_full(const lasync_consumer *c, const part *pt)
{
	return backlog_len(pt) >= c->cfg.max_backlog ||
	       (c->cfg.mem_budget > 0 && backlog_len(pt) > 0 &&
		c->backlog_bytes >= c->cfg.mem_budget / 8);
}

/* backlog_low - may a paused partition fetch again?  With hysteresis:
 * half the message count, a sixteenth of the budget */
static bool backlog_low(const lasync_consumer *c, const part *pt)
{
	return backlog_len(pt) < c->cfg.max_backlog / 2 + 1 &&
	       (c->cfg.mem_budget == 0 ||
		c->backlog_bytes < c->cfg.mem_budget / 16);
}

static bool same_key(const msg *a, const char *key,
		     size_t key_len)
{
	return a->key_len == key_len &&
	       (key_len == 0 || memcmp(a->key, key, key_len) == 0);
}

/* key_busy - does a job of the partition, or a backlog message before
 * index upto, have this key? */
static bool key_busy(const part *pt, const char *key, size_t key_len,
		     size_t upto)
{
	for (size_t i = 0; i < pt->n_jobs; i++)
		if (pt->jobs[i]->msg != NULL &&
		    same_key(pt->jobs[i]->msg, key, key_len))
			return true;
	for (size_t i = 0; i < upto; i++)
		if (same_key(pt->backlog[i], key, key_len))
			return true;
	return false;
}

/* part_unlink - take a job off its partition's list */
static void part_unlink(part *pt, job_impl *j)
{
	for (size_t i = 0; i < pt->n_jobs; i++)
		if (pt->jobs[i] == j) {
			pt->jobs[i] = pt->jobs[--pt->n_jobs];
			return;
		}
}

static void part_pause(lasync_consumer *c, part *pt, bool pause)
{
	rd_kafka_topic_partition_list_t *l;

	if (pt->paused == pause)
		return;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, pt->topic, pt->partition);
	if (pause)
		rd_kafka_pause_partitions(c->rk, l);
	else
		rd_kafka_resume_partitions(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	pt->paused = pause;
}

/* part_drop - forget a partition: the backlog is discarded unstored, so
 * its next owner consumes it again */
static void part_drop(lasync_consumer *c, part *pt)
{
	for (size_t i = 0; i < pt->n_backlog; i++) {
		c->backlog_bytes -= pt->backlog[i]->len;
		msg_free(pt->backlog[i]);
	}
	backlog_gauge(c);
	if (c->hol == pt) {
		c->hol = NULL;
		c->kick = true;
	}
	for (size_t i = 0; i < c->n_parts; i++) {
		if (c->parts[i] == pt) {
			c->parts[i] = c->parts[--c->n_parts];
			break;
		}
	}
	parts_gauge(c);
	free(pt->backlog);
	free(pt->jobs);
	free(pt->topic);
	free(pt);
}

/* --- the memory budget ----------------------------------------------- */

static size_t job_cost(const lasync_consumer *c, const msg *m)
{
	return c->cfg.mem_per_job + c->cfg.mem_per_byte * m->len;
}

/* room - may a job of this estimate start now?  While fewer than
 * max_running jobs run and its estimate fits the budget.  One job always
 * may, or a school bigger than the budget would never run. */
static bool room(const lasync_consumer *c, size_t cost)
{
	if (c->n_charged == 0)
		return true;
	if (c->cfg.max_running > 0 && c->n_charged >= c->cfg.max_running)
		return false;
	return c->cfg.mem_budget == 0 ||
	       c->mem_inflight + cost <= c->cfg.mem_budget;
}

static void charge(lasync_consumer *c, job_impl *j)
{
	if (j->charged)
		return;
	j->charged = true;
	c->n_charged++;
	c->mem_inflight += j->cost;
	lasync_metric_set(m_mem, (double)c->mem_inflight, c->cfg.group_id);
	lasync_metric_set(m_running, (double)c->n_charged, c->cfg.group_id);
}

/* uncharge - the job's estimate is free again; what waited for it starts
 * at the end of this poll (budget_kick) */
static void uncharge(lasync_consumer *c, job_impl *j)
{
	if (!j->charged)
		return;
	j->charged = false;
	c->n_charged--;
	c->mem_inflight -= j->cost;
	c->kick = true;
	lasync_metric_set(m_mem, (double)c->mem_inflight, c->cfg.group_id);
	lasync_metric_set(m_running, (double)c->n_charged, c->cfg.group_id);
}

/* --- jobs ------------------------------------------------------------ */

static void ready_push(lasync_consumer *c, job_impl *j)
{
	if (j->on_ready)
		return;
	j->on_ready = true;
	j->ready_next = NULL;
	if (c->ready_tail)
		c->ready_tail->ready_next = j;
	else
		c->ready_head = j;
	c->ready_tail = j;
}

static void ready_remove(lasync_consumer *c, job_impl *j)
{
	job_impl **pp = &c->ready_head, *prev = NULL;

	if (!j->on_ready)
		return;
	for (; *pp != NULL; prev = *pp, pp = &(*pp)->ready_next) {
		if (*pp == j) {
			*pp = j->ready_next;
			if (c->ready_tail == j)
				c->ready_tail = prev;
			break;
		}
	}
	j->on_ready = false;
}

static void job_start(lasync_consumer *c, part *pt, msg *m)
{
	job_impl *j = lasync_xcalloc(1, sizeof(*j));
	size_t klen = m->key_len < sizeof(j->pub.key) - 1 ? m->key_len
						   : sizeof(j->pub.key) - 1;

	j->c = c;
	j->p = pt;
	j->msg = m;
	j->pub.payload = m->payload;
	j->pub.len = m->len;
	j->pub.topic = pt->topic;
	j->pub.partition = pt->partition;
	j->pub.offset = m->offset;
	if (m->key != NULL)
		memcpy(j->pub.key, m->key, klen);
	j->pub.key[klen] = '\0';
	j->pub.attempt = 1;
	j->phase = JOB_RUNNING;
	j->cost = job_cost(c, m);
	charge(c, j);
	lasync_grow(&pt->jobs, &pt->cap_jobs, pt->n_jobs + 1);
	pt->jobs[pt->n_jobs++] = j;
	c->inflight++;
	c->ops->start(c->ctx, &j->pub);
}

static void owed_free(job_impl *j)
{
	for (size_t i = 0; i < j->n_owed; i++) {
		free(j->owed[i]->topic);
		free(j->owed[i]->key);
		free(j->owed[i]->value);
		if (j->owed[i]->hdrs)
			rd_kafka_headers_destroy(j->owed[i]->hdrs);
		free(j->owed[i]);
	}
	free(j->owed);
	j->owed = NULL;
	j->n_owed = 0;
}

/* wants_room - a due retry found no room (on) or needs none now (off) */
static void wants_room(lasync_consumer *c, job_impl *j, bool on)
{
	if (j->wants_room == on)
		return;
	j->wants_room = on;
	if (on) {
		c->n_wants_room++;
		lasync_metric_add(m_waits, 1, c->cfg.group_id);
	} else {
		c->n_wants_room--;
	}
}

static void job_free(lasync_consumer *c, job_impl *j)
{
	owed_free(j);
	wants_room(c, j, false);
	ready_remove(c, j);
	if (j->p != NULL)
		part_unlink(j->p, j);
	c->inflight--;
	uncharge(c, j);
	msg_free(j->msg);
	free(j);
}

/* resume_low - let every paused partition whose backlog is low fetch */
static void resume_low(lasync_consumer *c)
{
	for (size_t i = 0; i < c->n_parts; i++)
		if (c->parts[i]->paused && !c->parts[i]->revoking &&
		    backlog_low(c, c->parts[i]))
			part_pause(c, c->parts[i], false);
}

/* part_next - start every backlog message that may start: its key has
 * no job and no earlier backlog message, the partition has room, and the
 * consumer has room (room()) with no other partition's job waiting for it
 * ahead of it */
static void part_next(lasync_consumer *c, part *pt)
{
	size_t i = 0;

	if (pt->revoking || c->stopping)
		return;
	while (i < pt->n_backlog && pt->n_jobs < c->cfg.max_concurrent) {
		msg *m = pt->backlog[i];

		if (key_busy(pt, m->key, m->key_len, i)) {
			i++;
			continue;
		}
		if (c->n_wants_room > 0 || (c->hol != NULL && c->hol != pt))
			break;
		if (!room(c, job_cost(c, m))) {
			if (c->hol == NULL)
				lasync_metric_add(m_waits, 1, c->cfg.group_id);
			c->hol = pt;
			break;
		}
		c->hol = NULL;
		job_start(c, pt, backlog_take(c, pt, i));
	}
	resume_low(c);
}

/* budget_kick - room came free (a job ended or went to wait for its
 * retry): start what waited for it, first the partition at the head of
 * the line, then the others in turn */
static void due_room(lasync_consumer *c);

static void budget_kick(lasync_consumer *c)
{
	c->kick = false;
	if (c->n_wants_room > 0) {
		due_room(c);
		if (c->n_wants_room > 0)
			return;
	}
	if (c->hol != NULL) {
		part_next(c, c->hol);
		if (c->hol != NULL)
			return;
	}
	for (size_t k = 0; k < c->n_parts && c->hol == NULL; k++)
		part_next(c, c->parts[(c->rr + k) % c->n_parts]);
	c->rr++;
}

/* store_offset - store the lowest offset not yet complete: the earliest
 * job or backlog message, else one past the highest completed */
static void store_offset(lasync_consumer *c, part *pt)
{
	int64_t low = pt->done_max >= 0 ? pt->done_max + 1 : -1;
	bool pending = false;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;

	for (size_t i = 0; i < pt->n_jobs; i++)
		if (!pending || pt->jobs[i]->pub.offset < low) {
			low = pt->jobs[i]->pub.offset;
			pending = true;
		}
	for (size_t i = 0; i < pt->n_backlog; i++)
		if (!pending || pt->backlog[i]->offset < low) {
			low = pt->backlog[i]->offset;
			pending = true;
		}
	if (low <= pt->stored)
		return;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, pt->topic, pt->partition)
		->offset = low;
	e = rd_kafka_offsets_store(c->rk, l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		lasync_warn("offset_store_failed",
			    "topic=%s partition=%d offset=%lld error=%s",
			    pt->topic, (int)pt->partition, (long long)low,
			    rd_kafka_err2name(e));
	else
		pt->stored = low;
	rd_kafka_topic_partition_list_destroy(l);
}

static int backoff_ms(const lasync_consumer *c, unsigned attempt,
		      int floor_ms)
{
	long d = c->cfg.backoff_base_ms;
	unsigned r = 0;

	for (unsigned i = 1; i < attempt && d < c->cfg.backoff_max_ms; i++)
		d *= 2;
	if (d > c->cfg.backoff_max_ms)
		d = c->cfg.backoff_max_ms;
	/* Full jitter on the upper half: [d/2, d]. */
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	d = d / 2 + (long)(r % (unsigned)(d / 2 + 1));
	if (d < floor_ms)
		d = floor_ms;
	return (int)d;
}

static void dlq_dr(void *ctx, rd_kafka_resp_err_t err, int32_t partition,
		   int64_t offset);
static void job_dr(void *ctx, rd_kafka_resp_err_t err, int32_t partition,
		   int64_t offset);

static void hdr_add(rd_kafka_headers_t *h, const char *name, const char *v)
{
	rd_kafka_header_add(h, name, -1, v, -1);
}

/* job_send_dlq - produce the dead letter for j; on failure to even queue
 * it, the job waits and tries again (a dead letter is never dropped) */
static void job_send_dlq(lasync_consumer *c, job_impl *j)
{
	Lasync__V1__DeadLetter dl = LASYNC__V1__DEAD_LETTER__INIT;
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN], dlq[512], num[32], err[256];
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
	size_t len;
	uint8_t *buf;

	lasync_header_fill(&h, eid, j->pub.key, "", 0, c->stage, j->pub.attempt);
	dl.header = &h;
	dl.origin_topic = j->p->topic;
	dl.origin_partition = j->p->partition;
	dl.origin_offset = j->pub.offset;
	dl.stage = c->stage;
	dl.error_class = j->error_class;
	dl.error = j->error;
	dl.attempts = j->pub.attempt;
	dl.key.data = (uint8_t *)j->msg->key;
	dl.key.len = j->msg->key_len;
	dl.payload.data = j->msg->payload;
	dl.payload.len = j->msg->len;
	/* A message replayed from a dead-letter topic carries how often it
	 * was; dying again keeps the count, so replays cannot loop. */
	char rp[16];
	long replays = 0;

	if (lasync_kafka_headers_get(j->msg->hdrs, LASYNC_H_REPLAYS, rp,
				     sizeof(rp)))
		replays = strtol(rp, NULL, 10);
	dl.replays = replays > 0 && replays < 1000000 ? (uint32_t)replays : 0;
	len = lasync__v1__dead_letter__get_packed_size(&dl);
	buf = lasync_xmalloc(len);
	lasync__v1__dead_letter__pack(&dl, buf);

	hdr_add(hdrs, "lasync.origin.topic", j->p->topic);
	snprintf(num, sizeof(num), "%d", (int)j->p->partition);
	hdr_add(hdrs, "lasync.origin.partition", num);
	snprintf(num, sizeof(num), "%lld", (long long)j->pub.offset);
	hdr_add(hdrs, "lasync.origin.offset", num);
	hdr_add(hdrs, "lasync.stage", c->stage);
	hdr_add(hdrs, "lasync.error.class", j->error_class);
	hdr_add(hdrs, "lasync.error", j->error);
	snprintf(num, sizeof(num), "%u", j->pub.attempt);
	hdr_add(hdrs, "lasync.attempts", num);
	snprintf(num, sizeof(num), "%u", dl.replays);
	hdr_add(hdrs, LASYNC_H_REPLAYS, num);

	snprintf(dlq, sizeof(dlq), "%s%s", j->p->topic, LASYNC_T_DLQ_SUFFIX);
	j->phase = JOB_DLQ;
	j->pending++;
	if (lasync_produce(c->prod, dlq, j->pub.key[0] ? j->pub.key : NULL,
			   buf, len, hdrs, dlq_dr, j, err, sizeof(err)) != 0) {
		j->pending--;
		lasync_error("dlq_produce_failed", "topic=%s offset=%lld error=%s",
			     j->p->topic, (long long)j->pub.offset,
			     lasync_q(err));
		j->phase = JOB_WAITING;
		j->disp = LASYNC_DEAD;
		j->retry_at = lasync_mono_ms() + backoff_ms(c, 3, 0);
	}
	free(buf);
}

/* job_complete - a finished job whose produced messages are all settled */
static void job_complete(lasync_consumer *c, job_impl *j)
{
	part *pt = j->p;

	if (j->phase == JOB_DLQ) {
		if (j->produce_failed || j->hook_failed || !j->dlq_ok) {
			/* The broker did not take the dead letter, or what
			 * the dead hook owed: keep the partition here and
			 * redo just what failed, later (run_due). */
			j->produce_failed = false;
			j->phase = JOB_WAITING;
			j->disp = LASYNC_DEAD;
			j->retry_at = lasync_mono_ms() + backoff_ms(c, 3, 0);
			return;
		}
		lasync_metric_add(m_dlq, 1, pt->topic, j->error_class);
		lasync_metric_add(m_jobs, 1, pt->topic, "dead");
		lasync_error("dead_lettered",
			     "tenant=%s topic=%s partition=%d offset=%lld "
			     "class=%s attempts=%u error=%s",
			     j->pub.key, pt->topic, (int)pt->partition,
			     (long long)j->pub.offset, j->error_class,
			     j->pub.attempt, lasync_q(j->error));
		goto out_store;
	}
	if (j->disp == LASYNC_DONE && j->produce_failed) {
		j->disp = LASYNC_RETRY;
		snprintf(j->error_class, sizeof(j->error_class), "kafka_produce");
		snprintf(j->error, sizeof(j->error), "%s", j->produce_error);
	}
	if (j->disp == LASYNC_DONE && c->ops->acked != NULL) {
		char err[256] = "";

		if (c->ops->acked(c->ctx, &j->pub, err, sizeof(err)) != 0) {
			j->disp = LASYNC_RETRY;
			snprintf(j->error_class, sizeof(j->error_class),
				 "after_ack");
			snprintf(j->error, sizeof(j->error), "%s", err);
		}
	}
	switch (j->disp) {
	case LASYNC_DONE:
		lasync_metric_add(m_jobs, 1, pt->topic, "done");
		goto out_store;
	case LASYNC_RETRY:
		if (j->pub.attempt >= c->cfg.max_attempts) {
			char why[512];

			snprintf(why, sizeof(why),
				 "retries exhausted after %u attempts: %.440s",
				 j->pub.attempt, j->error);
			snprintf(j->error, sizeof(j->error), "%s", why);
			goto dead;
		}
		j->phase = JOB_WAITING;
		/* A waiting job holds no budget: a tenant whose portal is
		 * down must not keep the others from running. */
		uncharge(c, j);
		if (c->cfg.release_on_retry && c->ops->release != NULL)
			c->ops->release(c->ctx, &j->pub);
		int d = backoff_ms(c, j->pub.attempt, j->retry_after_ms);

		j->retry_at = lasync_mono_ms() + d;
		lasync_metric_add(m_retries, 1, pt->topic, j->error_class);
		lasync_warn("job_retry",
			    "tenant=%s topic=%s partition=%d offset=%lld "
			    "attempt=%u class=%s delay_ms=%d error=%s",
			    j->pub.key, pt->topic, (int)pt->partition,
			    (long long)j->pub.offset, j->pub.attempt,
			    j->error_class, d, lasync_q(j->error));
		return;
	case LASYNC_DEAD:
		goto dead;
	}
	return;
dead:
	if (c->ops->dead != NULL) {
		j->phase = JOB_FINISHED;
		j->in_dead = true;
		c->ops->dead(c->ctx, &j->pub, j->error_class, j->error);
	}
	job_send_dlq(c, j);
	return;
out_store:
	if (j->pub.offset > pt->done_max)
		pt->done_max = j->pub.offset;
	if (c->ops->release != NULL)
		c->ops->release(c->ctx, &j->pub);
	job_free(c, j);
	part_next(c, pt);
	store_offset(c, pt);
	if (c->inflight == 0 &&
	    lasync_mono_ms() - c->trimmed_ms >= TRIM_EVERY_MS) {
		/* Idle: give the heap the last jobs grew back to the system,
		 * so RSS shows what the daemon holds, not its busiest hour
		 * (a national first import leaves hundreds of MB behind).
		 * Not after every job of a one-at-a-time stream: trimming
		 * walks the heap. */
		malloc_trim(0);
		c->trimmed_ms = lasync_mono_ms();
	}
}

/* orphan_settle - the last report of an abandoned job frees it */
static bool orphan_settle(job_impl *j)
{
	if (!j->orphan)
		return false;
	if (--j->pending == 0) {
		owed_free(j);
		free(j);
	}
	return true;
}

static void job_dr(void *ctx, rd_kafka_resp_err_t err, int32_t partition,
		   int64_t offset)
{
	job_impl *j = ctx;

	(void)partition;
	(void)offset;
	if (orphan_settle(j))
		return;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		j->produce_failed = true;
		snprintf(j->produce_error, sizeof(j->produce_error),
			 "delivery failed: %s", rd_kafka_err2str(err));
	}
	if (--j->pending == 0 &&
	    (j->phase == JOB_FINISHED || j->phase == JOB_DLQ))
		ready_push(j->c, j);
}

static void dlq_dr(void *ctx, rd_kafka_resp_err_t err, int32_t partition,
		   int64_t offset)
{
	job_impl *j = ctx;

	(void)partition;
	(void)offset;
	if (orphan_settle(j))
		return;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		j->dlq_ok = true;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		j->produce_failed = true;
		lasync_error("dlq_delivery_failed", "topic=%s offset=%lld error=%s",
			     j->p->topic, (long long)j->pub.offset,
			     rd_kafka_err2name(err));
	}
	if (--j->pending == 0)
		ready_push(j->c, j);
}

void lasync_job_finish(lasync_job *job, lasync_disposition d,
		       int retry_after_ms, const char *error_class,
		       const char *fmt, ...)
{
	job_impl *j = (job_impl *)job;
	va_list ap;

	if (j->phase != JOB_RUNNING)
		lasync_panic("job_finish_twice", "topic=%s offset=%lld",
			     j->pub.topic, (long long)j->pub.offset);
	j->disp = d;
	j->retry_after_ms = retry_after_ms;
	snprintf(j->error_class, sizeof(j->error_class), "%s",
		 error_class ? error_class : "");
	j->error[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(j->error, sizeof(j->error), fmt, ap);
		va_end(ap);
	}
	j->phase = JOB_FINISHED;
	if (j->pending == 0)
		ready_push(j->c, j);
}

static void owed_dr(void *ctx, rd_kafka_resp_err_t err, int32_t partition,
		    int64_t offset)
{
	owed *o = ctx;
	job_impl *j = o->j;

	(void)partition;
	(void)offset;
	if (orphan_settle(j))
		return;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		o->ok = true;
	else
		j->hook_failed = true;
	if (--j->pending == 0 &&
	    (j->phase == JOB_FINISHED || j->phase == JOB_DLQ))
		ready_push(j->c, j);
}

/* owed_send - (re)send an owed message; a refusal marks it for later */
static int owed_send(job_impl *j, owed *o, char *err, size_t errlen)
{
	j->pending++;
	if (lasync_produce(j->c->prod, o->topic, o->key, o->value, o->len,
			   o->hdrs ? rd_kafka_headers_copy(o->hdrs) : NULL,
			   owed_dr, o, err, errlen) != 0) {
		j->pending--;
		j->hook_failed = true;
		return -1;
	}
	return 0;
}

int lasync_job_produce(lasync_job *job, const char *topic, const char *key,
		       const void *value, size_t len, rd_kafka_headers_t *hdrs,
		       char *err, size_t errlen)
{
	job_impl *j = (job_impl *)job;

	if (j->in_dead) {
		/* What the dead hook owes is kept until delivered. */
		owed *o = lasync_xcalloc(1, sizeof(*o));

		o->j = j;
		o->topic = lasync_xstrdup(topic);
		o->key = key ? lasync_xstrdup(key) : NULL;
		o->value = lasync_xmalloc(len ? len : 1);
		if (len)
			memcpy(o->value, value, len);
		o->len = len;
		o->hdrs = hdrs;
		lasync_grow(&j->owed, &j->cap_owed, j->n_owed + 1);
		j->owed[j->n_owed++] = o;
		return owed_send(j, o, err, errlen);
	}
	j->pending++;
	if (lasync_produce(j->c->prod, topic, key, value, len, hdrs, job_dr, j,
			   err, errlen) != 0) {
		j->pending--;
		return -1;
	}
	return 0;
}

lasync_consumer *lasync_job_consumer(lasync_job *job)
{
	return ((job_impl *)job)->c;
}

/* job_abandon - drop a job of a partition without storing its
 * offset.  Messages it produced may still be acknowledged later; their
 * callbacks must find the job alive, so a job with pending produces is
 * kept until they settle (it is detached from its partition). */
static void job_abandon(lasync_consumer *c, job_impl *j)
{
	if (j->phase == JOB_RUNNING && c->ops->abandon != NULL)
		c->ops->abandon(c->ctx, &j->pub);
	else if (c->ops->release != NULL)
		c->ops->release(c->ctx, &j->pub);
	lasync_info("job_abandoned", "tenant=%s topic=%s partition=%d offset=%lld",
		    j->pub.key, j->pub.topic, (int)j->pub.partition,
		    (long long)j->pub.offset);
	ready_remove(c, j);
	part_unlink(j->p, j);
	c->inflight--;
	uncharge(c, j);
	wants_room(c, j, false);
	if (j->pending > 0) {
		/* Its delivery reports still reference it: the last one
		 * frees it (orphan_settle). */
		j->orphan = true;
		j->p = NULL;
		msg_free(j->msg);
		j->msg = NULL;
		return;
	}
	msg_free(j->msg);
	owed_free(j);
	free(j);
}

/* --- draining -------------------------------------------------------- */

static void run_ready(lasync_consumer *c)
{
	job_impl *j;

	while ((j = c->ready_head) != NULL) {
		c->ready_head = j->ready_next;
		if (c->ready_head == NULL)
			c->ready_tail = NULL;
		j->on_ready = false;
		job_complete(c, j);
	}
}

static void due(lasync_consumer *c, part *pt, job_impl *j, int64_t now);

static void run_due(lasync_consumer *c)
{
	int64_t now = lasync_mono_ms();

	for (size_t i = 0; i < c->n_parts; i++)
		for (size_t k = 0; k < c->parts[i]->n_jobs; k++)
			due(c, c->parts[i], c->parts[i]->jobs[k], now);
}

/* due - restart a waiting job whose time has come */
static void due(lasync_consumer *c, part *pt, job_impl *j, int64_t now)
{
	{
		if (j->phase != JOB_WAITING || j->retry_at > now)
			return;
		if (j->disp == LASYNC_DEAD) {
			j->phase = JOB_DLQ;
			if (j->hook_failed) {
				char err[256];

				j->hook_failed = false;
				for (size_t k = 0; k < j->n_owed; k++)
					if (!j->owed[k]->ok)
						owed_send(j, j->owed[k], err,
							  sizeof(err));
			}
			if (!j->dlq_ok)
				job_send_dlq(c, j);
			else if (j->pending == 0)
				ready_push(c, j);
			return;
		}
		if (c->stopping || pt->revoking) {
			wants_room(c, j, false);
			return;
		}
		if (!room(c, j->cost)) {
			/* It goes first when room comes free (budget_kick,
			 * which every uncharge() sets off): with every place
			 * taken, the backlog would otherwise take each one
			 * that frees, and a tenant's retry would wait for the
			 * whole queue.  Until then it sets no timer
			 * (lasync_consumer_next_ms). */
			wants_room(c, j, true);
			return;
		}
		wants_room(c, j, false);
		charge(c, j);
		j->pub.attempt++;
		j->phase = JOB_RUNNING;
		j->produce_failed = false;
		c->ops->start(c->ctx, &j->pub);
	}
}

/* due_room - room came free: the due retries that found none start
 * first, in partition order */
static void due_room(lasync_consumer *c)
{
	int64_t now = lasync_mono_ms();

	for (size_t i = 0; i < c->n_parts; i++)
		for (size_t k = 0; k < c->parts[i]->n_jobs; k++) {
			job_impl *j = c->parts[i]->jobs[k];

			if (!j->wants_room)
				continue;
			due(c, c->parts[i], j, now);
			if (j->wants_room)
				return;
		}
}

/* drain_until - drive I/O until pred() says the jobs in question are done
 * or the deadline passes */
static void drain_parts(lasync_consumer *c, part **pts, size_t n)
{
	int64_t deadline = lasync_mono_ms() + c->cfg.drain_ms;

	for (;;) {
		bool busy = false;

		/* A job waiting for its retry is not worth waiting for:
		 * the next owner retries it. */
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < pts[i]->n_jobs; k++)
				if (pts[i]->jobs[k]->phase != JOB_WAITING)
					busy = true;
		if (!busy || lasync_mono_ms() >= deadline)
			break;
		if (c->drive != NULL)
			c->drive(c->drive_ctx, 50);
		lasync_producer_poll(c->prod, c->drive ? 0 : 50);
		run_ready(c);
	}
	for (size_t i = 0; i < n; i++)
		while (pts[i]->n_jobs > 0)
			job_abandon(c, pts[i]->jobs[pts[i]->n_jobs - 1]);
}

/* --- rebalancing ----------------------------------------------------- */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	lasync_consumer *c = opaque;
	bool coop = c->coop;
	rd_kafka_error_t *e = NULL;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++)
			part_add(c, parts->elems[i].topic,
				 parts->elems[i].partition);
		lasync_info("partitions_assigned", "count=%d protocol=%s",
			    parts->cnt, coop ? "COOPERATIVE" : "EAGER");
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
	} else {
		bool lost = rd_kafka_assignment_lost(rk);
		part **pts = lasync_xcalloc((size_t)parts->cnt + 1, sizeof(*pts));
		size_t n = 0;

		for (int i = 0; i < parts->cnt; i++) {
			part *pt = part_find(c, parts->elems[i].topic,
					     parts->elems[i].partition);

			if (pt != NULL) {
				pt->revoking = true;
				pts[n++] = pt;
			}
		}
		lasync_info("partitions_revoked", "count=%d lost=%d inflight=%zu",
			    parts->cnt, lost, c->inflight);
		if (!lost)
			drain_parts(c, pts, n);
		else
			for (size_t i = 0; i < n; i++)
				while (pts[i]->n_jobs > 0)
					job_abandon(c,
						    pts[i]->jobs[pts[i]->n_jobs -
								 1]);
		/* Commit what the drained jobs stored before letting go.  Not
		 * when closing: lasync_consumer_close() has committed already
		 * and nothing was stored since, and a synchronous commit in
		 * the callback that rd_kafka_consumer_close() runs can block
		 * for ever in librdkafka 2.0.2. */
		if (!lost && !c->stopping) {
			rd_kafka_resp_err_t ce = rd_kafka_commit(rk, NULL, 0);

			/* the next owner redoes what this commit would have
			 * covered (at-least-once): say so */
			if (ce != RD_KAFKA_RESP_ERR_NO_ERROR &&
			    ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
				lasync_warn("revoke_commit_failed",
					    "count=%d error=\"%s\"", parts->cnt,
					    rd_kafka_err2str(ce));
		}
		for (size_t i = 0; i < n; i++)
			part_drop(c, pts[i]);
		free(pts);
		if (coop)
			e = rd_kafka_incremental_unassign(rk, parts);
		else
			rd_kafka_assign(rk, NULL);
	}
	if (e != NULL) {
		lasync_error("rebalance_failed", "error=%s",
			     lasync_q(rd_kafka_error_string(e)));
		rd_kafka_error_destroy(e);
	}
}

/* --- public ---------------------------------------------------------- */

lasync_consumer *lasync_consumer_new(const lasync_consumer_cfg *cfg,
				     lasync_producer *producer,
				     const lasync_job_ops *ops, void *ctx,
				     char *err, size_t errlen)
{
	lasync_consumer *c = lasync_xcalloc(1, sizeof(*c));
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t e;
	char strat[256], qkb[24], fmb[24];
	size_t strat_len = sizeof(strat);
	/* librdkafka's prefetch (prefetch_kb, lasync_consumer.h; the
	 * applier's reasons for 1 MB are in its main.c).  A fetch asks for
	 * at most fetch_max_bytes per partition (fetch.message.max.bytes,
	 * 256 KB unless the daemon says otherwise); a larger message still
	 * comes whole: librdkafka raises the limit for it. */
	size_t qk = cfg->prefetch_kb ? cfg->prefetch_kb
		    : cfg->mem_budget > 0 ? cfg->mem_budget / 16 / 1024 : 32768;

	metrics_init();
	c->cfg = *cfg;
	if (c->cfg.max_attempts == 0)
		c->cfg.max_attempts = 1;
	if (c->cfg.max_backlog == 0)
		c->cfg.max_backlog = LASYNC_DEFAULT_BACKLOG;
	if (c->cfg.max_concurrent == 0)
		c->cfg.max_concurrent = 1;
	c->stage = lasync_xstrdup(cfg->stage);
	parts_gauge(c);
	c->prod = producer;
	c->ops = ops;
	c->ctx = ctx;
	c->fds[0] = c->fds[1] = -1;
	snprintf(qkb, sizeof(qkb), "%zu",
		 qk < 1024 ? 1024 : qk > 32768 ? 32768 : qk);
	snprintf(fmb, sizeof(fmb), "%zu",
		 cfg->fetch_max_bytes ? cfg->fetch_max_bytes : 262144);
	conf = lasync_kafka_conf(cfg->brokers, cfg->client_id, NULL, err,
				 errlen);
	if (conf == NULL)
		goto out_free;
	if (lasync_kafka_conf_set(conf, "group.id", cfg->group_id, err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "enable.auto.offset.store", "false",
				  err, errlen) ||
	    lasync_kafka_conf_set(conf, "enable.auto.commit", "true", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "auto.commit.interval.ms", "1000", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "auto.offset.reset", "earliest", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "partition.assignment.strategy",
				  "cooperative-sticky", err, errlen) ||
	    lasync_kafka_conf_set(conf, "session.timeout.ms", "10000", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "heartbeat.interval.ms", "1000", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "fetch.message.max.bytes", fmb, err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "queued.max.messages.kbytes", qkb, err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "statistics.interval.ms", "0", err,
				  errlen) ||
	    lasync_kafka_conf_set(conf, "check.crcs", "false", err, errlen))
		goto out_conf;
	/* Operator extras last, so they can tune anything above. */
	if (lasync_kafka_conf_extra(conf, cfg->extra, err, errlen))
		goto out_conf;
	/* librdkafka refuses to mix eager and cooperative assignors, so
	 * the configured name decides the protocol */
	c->coop = rd_kafka_conf_get(conf, "partition.assignment.strategy",
				    strat, &strat_len) == RD_KAFKA_CONF_OK &&
		  strstr(strat, "cooperative") != NULL;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_opaque(conf, c);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (c->rk == NULL)
		goto out_conf;
	rd_kafka_poll_set_consumer(c->rk);
	c->q = rd_kafka_queue_get_consumer(c->rk);
	if (pipe(c->fds) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out_rk;
	}
	fcntl(c->fds[0], F_SETFL, O_NONBLOCK);
	fcntl(c->fds[1], F_SETFL, O_NONBLOCK);
	rd_kafka_queue_io_event_enable(c->q, c->fds[1], "1", 1);
	sub = rd_kafka_topic_partition_list_new((int)cfg->n_topics);
	for (size_t i = 0; i < cfg->n_topics; i++)
		rd_kafka_topic_partition_list_add(sub, cfg->topics[i],
						  RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(c->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(e));
		goto out_q;
	}
	return c;
out_q:
	rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
	close(c->fds[0]);
	close(c->fds[1]);
out_rk:
	rd_kafka_queue_destroy(c->q);
	rd_kafka_destroy(c->rk);
	goto out_free;
out_conf:
	rd_kafka_conf_destroy(conf);
out_free:
	free(c->stage);
	free(c);
	return NULL;
}

void lasync_consumer_set_driver(lasync_consumer *c,
				void (*drive)(void *ctx, int timeout_ms),
				void *ctx)
{
	c->drive = drive;
	c->drive_ctx = ctx;
}

/* take - route one fetched message to its partition */
static void take(lasync_consumer *c, rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	part *pt;

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			lasync_warn("consume_error", "topic=%s error=%s",
				    topic, lasync_q(rd_kafka_message_errstr(m)));
		rd_kafka_message_destroy(m);
		return;
	}
	pt = part_find(c, topic, m->partition);
	if (pt == NULL || pt->revoking) {
		/* Not ours (any more): leave it to the owner. */
		rd_kafka_message_destroy(m);
		return;
	}
	backlog_push(c, pt, msg_copy(m));
	if (backlog_full(c, pt))
		part_pause(c, pt, true);
	part_next(c, pt);
}

void lasync_consumer_poll(lasync_consumer *c)
{
	rd_kafka_message_t *m;

	lasync_kafka_drain_fd(c->fds[0]);
	run_ready(c);
	/* Bounded per call so delivery reports and I/O interleave. */
	for (int i = 0; i < 256 && !c->stopping; i++) {
		m = rd_kafka_consumer_poll(c->rk, 0);
		if (m == NULL)
			break;
		take(c, m);
		run_ready(c);
	}
	run_due(c);
	run_ready(c);
	/* Jobs a kick starts may end at once and free budget again. */
	while (c->kick && !c->stopping) {
		budget_kick(c);
		run_ready(c);
	}
}

int lasync_consumer_fd(lasync_consumer *c)
{
	return c->fds[0];
}

int lasync_consumer_next_ms(lasync_consumer *c)
{
	int64_t now = lasync_mono_ms(), best = -1;

	if (c->ready_head != NULL || (c->kick && !c->stopping))
		return 0;
	for (size_t i = 0; i < c->n_parts; i++)
		for (size_t k = 0; k < c->parts[i]->n_jobs; k++) {
			job_impl *j = c->parts[i]->jobs[k];

			if (j->phase != JOB_WAITING || j->wants_room)
				continue;
			int64_t d = j->retry_at - now;

			if (d < 0)
				d = 0;
			if (best < 0 || d < best)
				best = d;
		}
	return best > 1000000 ? 1000000 : (int)best;
}

size_t lasync_consumer_inflight(lasync_consumer *c)
{
	return c->inflight;
}

size_t lasync_consumer_mem(lasync_consumer *c)
{
	return c->mem_inflight;
}

size_t lasync_consumer_backlog_bytes(lasync_consumer *c)
{
	return c->backlog_bytes;
}

int64_t lasync_consumer_lag(lasync_consumer *c)
{
	rd_kafka_topic_partition_list_t *l;
	int64_t lag = 0;

	/* no partitions, nothing behind: still a sample (0), so the family
	 * is there from the first computation on */
	if (c->n_parts == 0)
		goto publish;
	l = rd_kafka_topic_partition_list_new((int)c->n_parts);
	for (size_t i = 0; i < c->n_parts; i++)
		rd_kafka_topic_partition_list_add(l, c->parts[i]->topic,
						  c->parts[i]->partition);
	if (rd_kafka_position(c->rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	for (int i = 0; i < l->cnt; i++) {
		int64_t lo, hi;

		if (rd_kafka_get_watermark_offsets(c->rk, l->elems[i].topic,
						   l->elems[i].partition, &lo,
						   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    hi < 0)
			continue;
		int64_t pos = l->elems[i].offset;
		part *pt = part_find(c, l->elems[i].topic,
				     l->elems[i].partition);
		/* Work fetched but not yet done counts as lag too. */
		int64_t behind = pos >= 0 ? hi - pos : hi - lo;

		if (pt != NULL)
			behind += (int64_t)(backlog_len(pt) + pt->n_jobs);
		if (behind > 0)
			lag += behind;
	}
	rd_kafka_topic_partition_list_destroy(l);
publish:
	for (size_t t = 0; t < c->cfg.n_topics; t++)
		lasync_metric_set(m_lag, (double)lag, c->cfg.group_id,
				  c->cfg.topics[t]);
	return lag;
}

/* LEAVE_WAIT_MS - how long close waits for the revoke after unsubscribing */
#define LEAVE_WAIT_MS 2000

/* assigned - how many partitions the consumer holds now */
static int assigned(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int n = 0;

	if (rd_kafka_assignment(rk, &l) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    l != NULL)
		n = l->cnt;
	if (l != NULL)
		rd_kafka_topic_partition_list_destroy(l);
	return n;
}

void lasync_consumer_close(lasync_consumer *c)
{
	if (c == NULL)
		return;
	c->stopping = true;
	lasync_info("consumer_closing", "group=%s inflight=%zu",
		    c->cfg.group_id, c->inflight);
	drain_parts(c, c->parts, c->n_parts);
	/* A commit that meets a rebalance another member started fails: what
	 * was done since the last auto-commit is then redone by the next
	 * owner (at-least-once; effects are idempotent).  Say so. */
	rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);

	if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
		lasync_warn("final_commit_failed",
			    "group=%s error=%s (the next owner redoes the "
			    "uncommitted work)",
			    c->cfg.group_id, rd_kafka_err2name(e));
	/* Leave the group before closing: unsubscribe, and serve the revoke
	 * that follows here (the callback drains nothing, commits nothing:
	 * stopping).  librdkafka 2.0.2 can hang for ever in
	 * rd_kafka_consumer_close() when it has to run a cooperative
	 * (un)assignment itself (librdkafka #4527, fixed in 2.4); with the
	 * assignment already empty it has none to run.  Bounded: a broker
	 * that does not answer leaves the rest to consumer_close. */
	if (rd_kafka_unsubscribe(c->rk) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		int64_t until = lasync_mono_ms() + LEAVE_WAIT_MS;

		while (lasync_mono_ms() < until && assigned(c->rk) > 0) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 20);

			/* fetched before the revoke, never started: the next
			 * owner reads it from the committed offset */
			if (m != NULL)
				rd_kafka_message_destroy(m);
		}
	}
	/* Leaves the group; the final revoke finds no in-flight work. */
	rd_kafka_consumer_close(c->rk);
	while (c->n_parts > 0)
		part_drop(c, c->parts[0]);
	free(c->parts);
	rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
	rd_kafka_queue_destroy(c->q);
	rd_kafka_destroy(c->rk);
	close(c->fds[0]);
	close(c->fds[1]);
	free(c->stage);
	free(c);
}
