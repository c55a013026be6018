/*
 * notifier_job.c - consume parent suggestions (see notifier.h).
 */
#include <stdio.h>
#include <string.h>

#include "lasync/v1/ops.pb-c.h"
#include "lasync_log.h"
#include "lasync_metrics.h"
#include "notifier.h"

static lasync_metric *m_suggestions;

int notifier_init(lasync_daemon *d, void *ctx, char *err, size_t errlen)
{
	char t[256], g[256];

	(void)ctx;
	(void)err;
	(void)errlen;
	lasync_daemon_subscribe(d, lasync_daemon_topic(d, t, sizeof(t),
						       LASYNC_T_SUGGESTIONS,
						       NULL));
	snprintf(g, sizeof(g), "%s-notifier", lasync_daemon_prefix(d));
	lasync_daemon_group(d, g);
	m_suggestions = lasync_metric_counter(
		"lasync_suggestions_total",
		"Parent change suggestions consumed, by outcome", "outcome");
	return 0;
}

void notifier_start(void *ctx, lasync_job *job)
{
	Lasync__V1__ParentSuggestion *s;

	(void)ctx;
	s = lasync__v1__parent_suggestion__unpack(NULL, job->msg->len,
						  job->msg->payload);
	if (s == NULL || s->header == NULL ||
	    strcmp(s->header->tenant_id, job->key) != 0) {
		if (s)
			lasync__v1__parent_suggestion__free_unpacked(s, NULL);
		lasync_metric_add(m_suggestions, 1, "invalid");
		lasync_job_finish(job, LASYNC_DEAD, 0, "decode",
				  "undecodable ParentSuggestion (%zu bytes)",
				  job->msg->len);
		return;
	}
	lasync_info("suggestion_received",
		    "tenant=%s suggestion=%s fields=%zu children=%zu", job->key,
		    s->suggestion_id, s->n_fields, s->n_children);
	lasync_metric_add(m_suggestions, 1, "received");
	lasync__v1__parent_suggestion__free_unpacked(s, NULL);
	lasync_job_finish(job, LASYNC_DONE, 0, NULL, NULL);
}

void notifier_abandon(void *ctx, lasync_job *job)
{
	(void)ctx;
	(void)job;
}
