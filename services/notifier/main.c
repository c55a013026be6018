/*
 * lasync-notifier - parent change suggestions to the school (R21).
 * See notifier.h for what this version does.
 */
#include <stddef.h>

#include "notifier.h"

int main(int argc, char **argv)
{
	const lasync_service svc = {
		.name = "notifier",
		.params = NULL,
		.http_port = 9104,
		.uses_redis = false,
		.init = notifier_init,
		.ops = {.start = notifier_start, .abandon = notifier_abandon},
	};

	return lasync_daemon_main(&svc, NULL, argc, argv);
}
