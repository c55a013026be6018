/*
 * lasync-fetcher - fetch LAS snapshots for one vendor.
 *
 *   lasync-fetcher --vendor parnassys --kafka-brokers host:9092
 *
 * Consumes <prefix>.sync-requests.<vendor> in group
 * <prefix>-fetcher-<vendor>, produces <prefix>.snapshots.<vendor>, and a
 * failed sync result when a fetch fails.  See fetcher.h.
 */
#include <stdlib.h>

#include "fetcher.h"

int main(int argc, char **argv)
{
	fetcher *f = fetcher_new();
	const lasync_service svc = {
		.name = "fetcher",
		.params = fetcher_params(f),
		.http_port = 9101,
		.uses_redis = false,
		/* The request is tiny; the LAS's answer (up to
		 * --max-doc-bytes, ~11 MB for 4,000 students) is not known
		 * before it comes: a fixed estimate (BENCHMARKS.md §4). */
		.mem_per_job = 4 << 20,
		/* An ESIS school answers from a server of its own, and one
		 * that hangs holds its place until --las-timeout-ms: more
		 * places than the other daemons' 8, so that a few such
		 * schools leave the rest of the night room. */
		.max_jobs = 16,
		.release_on_retry = true,
		.init = fetcher_init,
		.ops = {.start = fetcher_start,
			.abandon = fetcher_abandon,
			.dead = fetcher_dead,
			.release = fetcher_release},
		.fini = fetcher_fini,
	};
	int rc = lasync_daemon_main(&svc, f, argc, argv);

	fetcher_free(f);
	return rc;
}
