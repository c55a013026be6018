/*
 * lasync_daemon.c - configuration, wiring and the event loop shared by
 * every daemon (see lasync_daemon.h).
 *
 * The loop is single-threaded: Kafka, the tenants follower and the signal
 * pipe wake it through file descriptors, curl through its sockets, and
 * retry timers through the poll timeout.  librdkafka and libmicrohttpd have
 * their own threads, but no service code runs on them.
 */
#define _GNU_SOURCE 1 /* dl_iterate_phdr */
#include "lasync_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lasync_clock.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"

#define MAX_TOPICS 16

struct lasync_daemon {
	const lasync_service *svc;
	void *ctx;
	/* common configuration */
	char *brokers, *kafka_extra, *prefix, *redis_url, *http_bind;
	char *log_level, *group_suffix;
	long http_port, max_attempts, backoff_base_ms, backoff_max_ms;
	long drain_ms, partitions, redis_timeout_ms, max_backlog;
	long jobs_per_partition, max_jobs, memory_budget_mb;
	long tenants_timeout_ms;
	/* wiring */
	char client_id[128];
	char *group_id;
	char *subs[MAX_TOPICS];
	size_t n_subs;
	lasync_topic_spec decl[MAX_TOPICS * 2];
	char *decl_names[MAX_TOPICS * 2];
	size_t n_decl;
	lasync_producer *prod;
	lasync_tenants *tenants;
	lasync_redis *redis;
	lasync_http *http;
	lasync_httpd *httpd;
	lasync_consumer *consumer;
	bool tenants_ready;
	bool inited;
};

static volatile sig_atomic_t stop_requested;
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (stop_requested) {
		/* A second signal: exit at once (Redis). */
		static const char msg[] =
			"level=warn event=second_signal msg=\"exiting now\"\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);

		(void)w;
		_exit(1);
	}
	stop_requested = 1;
	if (sig_pipe[1] >= 0) {
		ssize_t w = write(sig_pipe[1], "s", 1);

		(void)w;
	}
	errno = saved;
}

static void signals_init(void)
{
	struct sigaction sa;

	if (pipe(sig_pipe) == 0) {
		fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
		fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

void lasync_daemon_subscribe(lasync_daemon *d, const char *topic)
{
	char dlq[512];

	if (d->n_subs == MAX_TOPICS)
		lasync_panic("too_many_topics", "topic=%s", topic);
	d->subs[d->n_subs++] = lasync_xstrdup(topic);
	lasync_daemon_declare(d, topic, false);
	snprintf(dlq, sizeof(dlq), "%s%s", topic, LASYNC_T_DLQ_SUFFIX);
	lasync_daemon_declare(d, dlq, false);
}

void lasync_daemon_group(lasync_daemon *d, const char *group_id)
{
	free(d->group_id);
	d->group_id = lasync_xstrdup(group_id);
}

void lasync_daemon_declare(lasync_daemon *d, const char *topic, bool compact)
{
	for (size_t i = 0; i < d->n_decl; i++)
		if (strcmp(d->decl_names[i], topic) == 0)
			return;
	if (d->n_decl == MAX_TOPICS * 2)
		lasync_panic("too_many_topics", "topic=%s", topic);
	d->decl_names[d->n_decl] = lasync_xstrdup(topic);
	d->decl[d->n_decl] = (lasync_topic_spec){
		d->decl_names[d->n_decl], (int)d->partitions, compact, 0};
	d->n_decl++;
}

const char *lasync_daemon_topic(lasync_daemon *d, char *buf, size_t len,
				const char *suffix, const char *vendor)
{
	return lasync_topic(buf, len, d->prefix, suffix, vendor);
}

const char *lasync_daemon_prefix(lasync_daemon *d)
{
	return d->prefix;
}

const char *lasync_daemon_name(lasync_daemon *d)
{
	return d->svc->name;
}

const char *lasync_daemon_brokers(lasync_daemon *d)
{
	return d->brokers;
}

lasync_producer *lasync_daemon_producer(lasync_daemon *d)
{
	return d->prod;
}

lasync_tenants *lasync_daemon_tenants(lasync_daemon *d)
{
	return d->tenants;
}

lasync_tenant *lasync_daemon_job_tenant(lasync_daemon *d, lasync_job *job,
					int64_t min_rev)
{
	bool behind;
	lasync_tenant *t = lasync_tenants_get_rev(d->tenants, job->key,
						  min_rev, &behind);

	if (behind)
		/* e.g. lasyncctl wrote the config just before this event */
		lasync_job_finish(job, LASYNC_RETRY, LASYNC_CONFIG_BEHIND_MS,
				  "tenant_config_behind",
				  "tenant %s config revision %lld not seen yet",
				  job->key, (long long)min_rev);
	else if (t == NULL)
		lasync_job_finish(job, LASYNC_DEAD, 0, "unknown_tenant",
				  "tenant %s is not configured", job->key);
	return t;
}

lasync_redis *lasync_daemon_redis(lasync_daemon *d)
{
	return d->redis;
}

lasync_http *lasync_daemon_http(lasync_daemon *d)
{
	return d->http;
}

lasync_httpd *lasync_daemon_httpd(lasync_daemon *d)
{
	return d->httpd;
}

bool lasync_daemon_stopping(lasync_daemon *d)
{
	(void)d;
	return stop_requested != 0;
}

static bool health(void *ctx, char *reason, size_t len)
{
	lasync_daemon *d = ctx;
	char err[256];

	if (lasync_producer_fatal(d->prod, err, sizeof(err))) {
		snprintf(reason, len, "kafka producer fatal: %s", err);
		return false;
	}
	if (!d->tenants_ready) {
		snprintf(reason, len, "starting: tenants not loaded");
		return false;
	}
	if (stop_requested) {
		snprintf(reason, len, "shutting down");
		return false;
	}
	if (d->svc->health && !d->svc->health(d->ctx, reason, len))
		return false;
	snprintf(reason, len, "ok");
	return true;
}

/* drive - one round of I/O without consuming: used by the loop and by the
 * consumer engine while it drains jobs on revocation and shutdown */
static void drive(void *ctx, int timeout_ms)
{
	lasync_daemon *d = ctx;
	int fds[2] = {lasync_producer_fd(d->prod), sig_pipe[0]};

	lasync_http_wait(d->http, fds, 2, timeout_ms);
	lasync_kafka_drain_fd(fds[0]);
	lasync_http_perform(d->http);
	lasync_producer_poll(d->prod, 0);
	if (d->svc->tick)
		d->svc->tick(d, d->ctx);
}

static void run_loop(lasync_daemon *d)
{
	int fds[4] = {lasync_consumer_fd(d->consumer),
		      lasync_producer_fd(d->prod), lasync_tenants_fd(d->tenants),
		      sig_pipe[0]};
	int64_t next_lag = 0;

	while (!stop_requested) {
		char err[512];
		int timeout = 1000, due;

		lasync_producer_poll(d->prod, 0);
		lasync_tenants_poll(d->tenants);
		lasync_consumer_poll(d->consumer);
		lasync_http_perform(d->http);
		lasync_producer_poll(d->prod, 0);
		if (d->svc->tick)
			d->svc->tick(d, d->ctx);
		if (lasync_producer_fatal(d->prod, err, sizeof(err))) {
			lasync_error("shutdown_fatal", "reason=%s", lasync_q(err));
			stop_requested = 1;
			break;
		}
		if (lasync_mono_ms() >= next_lag) {
			lasync_consumer_lag(d->consumer);
			next_lag = lasync_mono_ms() + 5000;
		}
		due = lasync_consumer_next_ms(d->consumer);
		if (due >= 0 && due < timeout)
			timeout = due;
		lasync_http_wait(d->http, fds, 4, timeout);
		lasync_kafka_drain_fd(sig_pipe[0]);
		lasync_kafka_drain_fd(fds[1]);
	}
}

static int setup(lasync_daemon *d, char *err, size_t errlen)
{
	char topic[256], host[64] = "host";

	gethostname(host, sizeof(host) - 1);
	snprintf(d->client_id, sizeof(d->client_id), "lasync-%s-%s-%d",
		 d->svc->name, host, (int)getpid());
	d->prod = lasync_producer_new(d->brokers, d->client_id,
				      d->kafka_extra, err, errlen);
	if (d->prod == NULL)
		return -1;
	d->http = lasync_http_new(64, 16);
	if (d->svc->uses_redis) {
		d->redis = lasync_redis_new(d->redis_url,
					    (int)d->redis_timeout_ms, err,
					    errlen);
		if (d->redis == NULL)
			return -1;
	}
	d->httpd = lasync_httpd_start(d->http_bind, (int)d->http_port, health,
				      d, err, errlen);
	if (d->httpd == NULL)
		return -1;
	lasync_info("http_listening", "bind=%s port=%d", d->http_bind,
		    lasync_httpd_port(d->httpd));
	lasync_daemon_topic(d, topic, sizeof(topic), LASYNC_T_TENANTS, NULL);
	lasync_daemon_declare(d, topic, true);
	/* fini frees what init set, also when init failed half way */
	d->inited = true;
	if (d->svc->init(d, d->ctx, err, errlen) != 0)
		return -1;
	if (lasync_kafka_ensure_topics(lasync_producer_handle(d->prod),
				       d->decl, d->n_decl, 15000, err,
				       errlen) != 0)
		return -1;
	d->tenants = lasync_tenants_new(d->brokers, topic, d->client_id, err,
					errlen);
	if (d->tenants == NULL ||
	    lasync_tenants_load(d->tenants, (int)d->tenants_timeout_ms, err,
				errlen) != 0)
		return -1;
	d->tenants_ready = true;
	if (d->group_id == NULL) {
		char g[160];

		snprintf(g, sizeof(g), "%s-%s", d->prefix, d->svc->name);
		lasync_daemon_group(d, g);
	}
	lasync_consumer_cfg cc = {
		.brokers = d->brokers,
		.group_id = d->group_id,
		.client_id = d->client_id,
		.extra = d->kafka_extra,
		.topics = (const char *const *)d->subs,
		.n_topics = d->n_subs,
		.stage = d->svc->name,
		.max_attempts = (unsigned)d->max_attempts,
		.backoff_base_ms = (int)d->backoff_base_ms,
		.backoff_max_ms = (int)d->backoff_max_ms,
		.max_backlog = (size_t)d->max_backlog,
		.fetch_max_bytes = d->svc->fetch_max_bytes,
		.prefetch_kb = d->svc->prefetch_kb,
		.max_concurrent = (unsigned)d->jobs_per_partition,
		.max_running = (unsigned)d->max_jobs,
		.drain_ms = (int)d->drain_ms,
		.mem_budget = (size_t)d->memory_budget_mb << 20,
		.mem_per_job = d->svc->mem_per_job,
		.mem_per_byte = d->svc->mem_per_byte,
		.release_on_retry = d->svc->release_on_retry,
	};
	d->consumer = lasync_consumer_new(&cc, d->prod, &d->svc->ops, d->ctx,
					  err, errlen);
	if (d->consumer == NULL)
		return -1;
	lasync_consumer_set_driver(d->consumer, drive, d);
	return 0;
}

static void teardown(lasync_daemon *d)
{
	lasync_consumer_close(d->consumer);
	if (d->prod != NULL && lasync_producer_flush(d->prod, 2000) != 0)
		lasync_warn("flush_timeout", "outstanding=%d",
			    lasync_producer_outstanding(d->prod));
	if (d->svc->fini && d->inited)
		d->svc->fini(d, d->ctx);
	lasync_tenants_free(d->tenants);
	lasync_httpd_stop(d->httpd);
	lasync_http_free(d->http);
	lasync_redis_free(d->redis);
	lasync_producer_free(d->prod);
	for (size_t i = 0; i < d->n_subs; i++)
		free(d->subs[i]);
	for (size_t i = 0; i < d->n_decl; i++)
		free(d->decl_names[i]);
	free(d->group_id);
}

int lasync_daemon_main(const lasync_service *svc, void *ctx, int argc,
		       char **argv)
{
	static const char *const levels[] = {"debug", "info", "warn", "error",
					     NULL};
	lasync_daemon d;
	char err[1024], port[16], attempts[16], backoff_max[16], backlog[16],
		max_jobs[16];
	int rc;

	memset(&d, 0, sizeof(d));
	d.svc = svc;
	d.ctx = ctx;
	snprintf(port, sizeof(port), "%d", svc->http_port);
	snprintf(attempts, sizeof(attempts), "%d",
		 svc->max_attempts > 0 ? svc->max_attempts : 6);
	snprintf(backoff_max, sizeof(backoff_max), "%d",
		 svc->backoff_max_ms > 0 ? svc->backoff_max_ms : 60000);
	snprintf(backlog, sizeof(backlog), "%d",
		 svc->max_backlog > 0 ? svc->max_backlog
					  : LASYNC_DEFAULT_BACKLOG);
	snprintf(max_jobs, sizeof(max_jobs), "%d",
		 svc->max_jobs > 0 ? svc->max_jobs : LASYNC_DEFAULT_MAX_JOBS);
	const lasync_param common[] = {
		{"kafka-brokers", LASYNC_PARAM_STRING, NULL,
		 "Kafka bootstrap servers (host:port,...)", &d.brokers, 0, 0,
		 true, false, NULL},
		{"kafka-extra", LASYNC_PARAM_STRING, "",
		 "extra librdkafka properties, k=v,k=v", &d.kafka_extra, 0, 0,
		 false, false, NULL},
		{"topic-prefix", LASYNC_PARAM_STRING, "lasync",
		 "prefix of every topic name", &d.prefix, 0, 0, false, false,
		 NULL},
		{"topic-partitions", LASYNC_PARAM_INT, "8",
		 "partitions of topics this daemon creates", &d.partitions, 1,
		 1024, false, false, NULL},
		{"redis-url", LASYNC_PARAM_STRING, "redis://127.0.0.1:6379",
		 "Redis for idempotency keys and state", &d.redis_url, 0, 0,
		 false, false, NULL},
		{"redis-timeout-ms", LASYNC_PARAM_INT, "2000",
		 "Redis connect and command timeout", &d.redis_timeout_ms, 50,
		 60000, false, false, NULL},
		{"http-bind", LASYNC_PARAM_STRING, "127.0.0.1",
		 "address of /healthz and /metrics", &d.http_bind, 0, 0, false,
		 false, NULL},
		{"http-port", LASYNC_PARAM_INT, port,
		 "port of /healthz and /metrics (0: any)", &d.http_port, 0,
		 65535, false, false, NULL},
		{"log-level", LASYNC_PARAM_STRING, "info", "lowest log level",
		 &d.log_level, 0, 0, false, false, levels},
		{"max-attempts", LASYNC_PARAM_INT, attempts,
		 "attempts of a job before it is dead-lettered",
		 &d.max_attempts, 1, 100, false, false, NULL},
		{"backoff-base-ms", LASYNC_PARAM_INT, "1000",
		 "first retry delay", &d.backoff_base_ms, 1, 3600000, false,
		 false, NULL},
		{"backoff-max-ms", LASYNC_PARAM_INT, backoff_max,
		 "retry delay cap", &d.backoff_max_ms, 1, 86400000, false,
		 false, NULL},
		{"drain-ms", LASYNC_PARAM_INT, "3000",
		 "grace for in-flight work on revocation and shutdown",
		 &d.drain_ms, 0, 600000, false, false, NULL},
		{"max-backlog", LASYNC_PARAM_INT, backlog,
		 "fetched messages per partition before pausing it",
		 &d.max_backlog, 1, 100000, false, false, NULL},
		{"jobs-per-partition", LASYNC_PARAM_INT, "8",
		 "jobs at once per partition, one per tenant (1: strictly "
		 "in offset order)",
		 &d.jobs_per_partition, 1, 1000, false, false, NULL},
		{"max-jobs", LASYNC_PARAM_INT, max_jobs,
		 "jobs running at once in the daemon; one waiting for its "
		 "retry does not count (0: only --jobs-per-partition and "
		 "the budget)",
		 &d.max_jobs, 0, 100000, false, false, NULL},
		{"memory-budget-mb", LASYNC_PARAM_INT, "256",
		 "estimated memory of the jobs running at once; one job "
		 "always runs (0: no budget, only --jobs-per-partition)",
		 &d.memory_budget_mb, 0, 1048576, false, false, NULL},
		{"tenants-timeout-ms", LASYNC_PARAM_INT, "30000",
		 "time to read the tenants topic at start",
		 &d.tenants_timeout_ms, 100, 600000, false, false, NULL},
		{NULL, 0, NULL, NULL, NULL, 0, 0, false, false, NULL},
	};
	const lasync_param *tables[3] = {common, svc->params, NULL};

	/* Large blocks (change sets, documents, response bodies) come
	 * straight from mmap and go back to the system when freed.  glibc's
	 * sliding threshold otherwise moves them onto the heap, where they
	 * fragment it: 1,000 tenants took the applier's peak from 41 to
	 * 59 MB (BENCHMARKS.md §4).  GLIBC_TUNABLES still decides if set. */
	if (getenv("GLIBC_TUNABLES") == NULL &&
	    getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
		mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	lasync_log_init(svc->name, LASYNC_LOG_INFO);
	rc = lasync_config_load(tables, argc, argv, argv[0], NULL, NULL, err,
				sizeof(err));
	if (rc == 1) {
		lasync_config_free(tables);
		return 0;
	}
	if (rc < 0)
		lasync_fatal("config_invalid", "error=%s", lasync_q(err));
	lasync_log_init(svc->name,
			(lasync_log_level)lasync_log_parse_level(d.log_level));
	if (lasync_clock_init(err, sizeof(err)) != 0)
		lasync_fatal("no_timezone", "error=%s", lasync_q(err));
	signals_init();
	lasync_info("starting", "brokers=%s prefix=%s", lasync_q(d.brokers),
		    d.prefix);
	if (setup(&d, err, sizeof(err)) != 0) {
		lasync_error("startup_failed", "error=%s", lasync_q(err));
		teardown(&d);
		lasync_config_free(tables);
		return 1;
	}
	lasync_info("ready", "group=%s topics=%zu", d.group_id, d.n_subs);
	run_loop(&d);
	lasync_info("stopping", "inflight=%zu",
		    lasync_consumer_inflight(d.consumer));
	bool fatal = lasync_producer_fatal(d.prod, NULL, 0);

	teardown(&d);
	lasync_config_free(tables);
	lasync_info("stopped", "exit=%d", fatal ? 1 : 0);
	return fatal ? 1 : 0;
}

/* ---------------------------------------------------------- build id */

static char build_id_hex[2 * 64 + 1];

static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg);

static void lasync_build_id_init(void)
{
	dl_iterate_phdr(find_build_id, NULL);
}

static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	/* The first object is the program itself. */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const unsigned char *desc;
			size_t name_sz = (n->n_namesz + 3u) & ~3u;
			size_t desc_sz = (n->n_descsz + 3u) & ~3u;

			desc = (const unsigned char *)(p + sizeof(*n) + name_sz);
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    memcmp(p + sizeof(*n), "GNU", 4) == 0 &&
			    n->n_descsz > 0 && n->n_descsz <= 64 &&
			    (const char *)desc + n->n_descsz <= end) {
				for (size_t k = 0; k < n->n_descsz; k++)
					snprintf(build_id_hex + 2 * k, 3,
						 "%02x", desc[k]);
				return 1;
			}
			p += sizeof(*n) + name_sz + desc_sz;
		}
	}
	return 1;
}

const char *lasync_build_id(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, lasync_build_id_init);
	return build_id_hex[0] ? build_id_hex : NULL;
}
