/*
 * lasync-mapper - map one vendor's snapshots to portal change sets.
 *
 *   lasync-mapper --vendor parnassys --kafka-brokers host:9092
 *
 * Consumes <prefix>.snapshots.<vendor> in group <prefix>-mapper-<vendor>,
 * produces <prefix>.portal-changes (and results when nothing is to be
 * applied).  See mapper.h.
 */
#include "mapper.h"

int main(int argc, char **argv)
{
	mapper *m = mapper_new();
	const lasync_service svc = {
		.name = "mapper",
		.params = mapper_params(m),
		.http_port = 9102,
		.uses_redis = true,
		/* ~100 bytes of heap per snapshot byte: the documents come
		 * compressed and become XML, a model, two states and a diff
		 * (BENCHMARKS.md §4) */
		.mem_per_job = 512 << 10,
		.mem_per_byte = 128,
		.release_on_retry = true,
		.init = mapper_init,
		.ops = {.start = mapper_start,
			.abandon = mapper_abandon,
			.dead = mapper_dead,
			.acked = mapper_acked,
			.release = mapper_release},
	};
	int rc = lasync_daemon_main(&svc, m, argc, argv);

	mapper_free(m);
	return rc;
}
