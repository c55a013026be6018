/*
 * lasync_daemon.h - the skeleton every lasync daemon runs on.
 *
 * A daemon's main() is a table of parameters plus one call:
 *
 *   static const lasync_service svc = {
 *       .name = "mapper", .params = mapper_params, .http_port = 9102,
 *       .init = mapper_init, .ops = {mapper_start, mapper_abandon, ...},
 *   };
 *   int main(int argc, char **argv) {
 *       return lasync_daemon_main(&svc, &mapper, argc, argv);
 *   }
 *
 * The skeleton owns: configuration (flags + LASYNC_* env, --print-config),
 * logging, the Europe/Amsterdam clock, signals (SIGTERM/SIGINT start a
 * clean shutdown; a second one exits at once), the shared producer, the
 * tenants table, Redis, the curl multi handle, /healthz and /metrics, topic
 * creation, the consumer job engine, and the event loop that drives all of
 * them without blocking.  Shutdown: stop taking work, drain in-flight jobs
 * (drain-ms), abandon the rest unstored, flush, commit, leave the group,
 * exit 0.
 */
#ifndef LASYNC_DAEMON_H
#define LASYNC_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "lasync_config.h"
#include "lasync_consumer.h"
#include "lasync_http.h"
#include "lasync_httpd.h"
#include "lasync_kafka.h"
#include "lasync_redis.h"
#include "lasync_tenants.h"

typedef struct lasync_daemon lasync_daemon;

typedef struct lasync_service {
	const char *name;		/* "fetcher", "mapper", ... */
	const lasync_param *params;	/* service parameters, {NULL}-ended */
	int http_port;			/* default port of /healthz, /metrics */
	/* defaults of --max-attempts and --backoff-max-ms (0: 6 and 60 s):
	 * how long this stage keeps retrying a transient failure before it
	 * dead-letters (the notifier outlasts an SMTP outage of hours) */
	int max_attempts;
	int backoff_max_ms;
	/* default of --max-backlog (0: LASYNC_DEFAULT_BACKLOG): the
	 * messages fetched per partition ahead of its jobs; jobs that take
	 * seconds need fewer */
	int max_backlog;
	/* default of --max-jobs (0: LASYNC_DEFAULT_MAX_JOBS): the jobs
	 * running at once in the daemon */
	int max_jobs;
	/* bytes a fetch asks for per partition (0: 256 KB); Kafka counts
	 * them compressed, the daemon holds them decompressed */
	size_t fetch_max_bytes;
	/* KB librdkafka may prefetch (0: a sixteenth of the budget) */
	size_t prefetch_kb;
	bool uses_redis;
	/* the memory a job is estimated to need while it runs:
	 * mem_per_job + mem_per_byte * its message's bytes, measured per
	 * stage (BENCHMARKS.md §4); --memory-budget-mb bounds the sum */
	size_t mem_per_job;
	size_t mem_per_byte;
	/* start() begins a retry from scratch: free the job's state while
	 * it waits (lasync_consumer_cfg.release_on_retry) */
	bool release_on_retry;
	/* init - after configuration, before consuming: subscribe, declare
	 * topics, register routes; -1 with err is fatal (exit 1) */
	int (*init)(lasync_daemon *d, void *ctx, char *err, size_t errlen);
	lasync_job_ops ops;
	/* tick - once per loop iteration (timers, housekeeping); may be NULL */
	void (*tick)(lasync_daemon *d, void *ctx);
	/* fini - after the consumer closed and the producer flushed; also
	 * after an init that failed, so it frees whatever init set */
	void (*fini)(lasync_daemon *d, void *ctx);
	/* health - extra readiness; NULL = always */
	bool (*health)(void *ctx, char *reason, size_t len);
} lasync_service;

/* lasync_daemon_main - run the service; returns the process exit code */
int lasync_daemon_main(const lasync_service *svc, void *ctx, int argc,
		       char **argv);

/* In init: consume these topics in this consumer group. */
void lasync_daemon_subscribe(lasync_daemon *d, const char *topic);
void lasync_daemon_group(lasync_daemon *d, const char *group_id);
/* In init: make sure a topic this daemon writes exists at start. */
void lasync_daemon_declare(lasync_daemon *d, const char *topic, bool compact);

/* lasync_daemon_topic - "<prefix>.<suffix>[.<vendor>]" into buf */
const char *lasync_daemon_topic(lasync_daemon *d, char *buf, size_t len,
				const char *suffix, const char *vendor);

const char *lasync_daemon_prefix(lasync_daemon *d);
const char *lasync_daemon_name(lasync_daemon *d);
/* lasync_daemon_brokers - the Kafka bootstrap servers (for a service's
 * own follower of a compacted topic) */
const char *lasync_daemon_brokers(lasync_daemon *d);
lasync_producer *lasync_daemon_producer(lasync_daemon *d);
lasync_tenants *lasync_daemon_tenants(lasync_daemon *d);

/* lasync_daemon_job_tenant - the job's tenant (its message key) as of at
 * least revision min_rev (the event's Header.config_revision), borrowed
 * like lasync_tenants_get().  NULL when there is none, and then the job is
 * finished: RETRY while this process's tenants table has not caught up
 * with that revision yet, DEAD (unknown_tenant) when the tenant is not
 * configured. */
lasync_tenant *lasync_daemon_job_tenant(lasync_daemon *d, lasync_job *job,
					int64_t min_rev);
lasync_redis *lasync_daemon_redis(lasync_daemon *d);
lasync_http *lasync_daemon_http(lasync_daemon *d);
lasync_httpd *lasync_daemon_httpd(lasync_daemon *d);
bool lasync_daemon_stopping(lasync_daemon *d);

/* lasync_build_id - the running program's GNU build id in hex (changes
 * with every change to the linked code), or NULL when it has none */
const char *lasync_build_id(void);

#endif /* LASYNC_DAEMON_H */
