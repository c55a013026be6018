/*
 * lasync-applier - apply portal change sets through SCIM 2.0.
 *
 *   lasync-applier --kafka-brokers host:9092 --redis-url redis://host:6379
 *
 * Consumes <prefix>.portal-changes in group <prefix>-applier (vendor-
 * neutral), produces <prefix>.sync-results.  See applier.h.
 */
#include "applier.h"

int main(int argc, char **argv)
{
	applier *a = applier_new();
	const lasync_service svc = {
		.name = "applier",
		.params = applier_params(a),
		.http_port = 9103,
		/* A part takes seconds of portal round trips and at most
		 * --max-jobs (8) run at once, so one change set waiting per
		 * partition (8 in all) keeps a next job ready for every place;
		 * 4 held ~1.5 MB more with 100 or 1,000 schools waiting, for a
		 * first import no faster (BENCHMARKS.md §4). */
		.max_backlog = 1,
		/* Change sets (JSON values in protobuf) compress well in their
		 * batches, and a fetch is decompressed at once: 256 KB per
		 * partition took the applier up to 11 MB above its level for
		 * tens of ms, 16 times in a 1,000-tenant run (RSS read every
		 * 5 ms); with 64 KB twice, at most 6 MB (BENCHMARKS.md §4).  A
		 * larger change set still comes whole. */
		.fetch_max_bytes = 64 << 10,
		/* librdkafka prefetches at most 1 MB in front of that one:
		 * with a sixteenth of the budget it refilled 16 MB within
		 * milliseconds of a resume, to be dropped at the next pause,
		 * and the heap peaked at twice its level (BENCHMARKS.md §4,
		 * "The prefetch").  Its partitions pause and resume all the
		 * time, and each of those wakes librdkafka, so the second
		 * librdkafka may wait once the queue is full
		 * (lasync_consumer.c) did not hold it up: the 1,000-school
		 * first import kept the portal busy 97% of the time. */
		.prefetch_kb = 1024,
		.uses_redis = true,
		/* ~7 bytes of heap per change-set byte (decoded operations,
		 * bodies, the reconcile preload), BENCHMARKS.md §4 */
		.mem_per_job = 256 << 10,
		.mem_per_byte = 8,
		.release_on_retry = true,
		.init = applier_init,
		.ops = {.start = applier_start,
			.abandon = applier_abandon,
			.dead = applier_dead,
			.acked = applier_acked,
			.release = applier_release},
	};
	int rc = lasync_daemon_main(&svc, a, argc, argv);

	applier_free(a);
	return rc;
}
