/*
 * lasync-notifier - parent change suggestions and held syncs to the school
 * by e-mail (R21, R17, R9).
 *
 *   lasync-notifier --kafka-brokers host:9092 --redis-url redis://host:6379
 *       --smtp-url smtps://mail.example.nl:465 --smtp-from "..." \
 *       --smtp-user-ref env:SMTP_USER --smtp-password-ref env:SMTP_PASSWORD
 *
 * Serves the portal's webhook on --webhook-port; consumes suggestions,
 * reminder requests, sync results and change sets in group
 * <prefix>-notifier.  See notifier.h and docs/notifier.md.
 */
#include "notifier.h"

int main(int argc, char **argv)
{
	notifier *n = notifier_new();
	const lasync_service svc = {
		.name = "notifier",
		.params = notifier_params(n),
		.http_port = 9104,
		.uses_redis = true,
		.mem_per_job = 64 << 10,
		.mem_per_byte = 4,
		/* An SMTP outage of hours delays mail but does not lose it:
		 * about 30 attempts, the last ones 5 minutes apart (~2 h). */
		.max_attempts = 30,
		.backoff_max_ms = 300000,
		.init = notifier_init,
		.ops = {.start = notifier_start,
			.abandon = notifier_abandon,
			.dead = notifier_dead,
			.acked = notifier_acked,
			.release = notifier_release},
		.tick = notifier_tick,
		.fini = notifier_fini,
		.health = notifier_healthy,
	};
	int rc = lasync_daemon_main(&svc, n, argc, argv);

	notifier_free(n);
	return rc;
}
