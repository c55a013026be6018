/*
 * lasync_result.c - SyncResult events (see lasync_result.h).
 */
#include "lasync_result.h"

#include <stdio.h>
#include <stdlib.h>

#include "lasync_clock.h"
#include "lasync_event.h"
#include "lasync_kafka.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"

static lasync_metric *m_results;

const char *lasync_outcome_name(Lasync__V1__Outcome o)
{
	switch (o) {
	case LASYNC__V1__OUTCOME__OUTCOME_OK:
		return "ok";
	case LASYNC__V1__OUTCOME__OUTCOME_FAILED:
		return "failed";
	case LASYNC__V1__OUTCOME__OUTCOME_SUPERSEDED:
		return "superseded";
	case LASYNC__V1__OUTCOME__OUTCOME_HELD:
		return "held";
	case LASYNC__V1__OUTCOME__OUTCOME_PREVIEW:
		return "preview";
	default:
		return "unknown";
	}
}

int lasync_result_send(lasync_job *job, const char *prefix,
		       const lasync_result_info *ri, char *err, size_t errlen)
{
	Lasync__V1__SyncResult r = LASYNC__V1__SYNC_RESULT__INIT;
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN], topic[256];
	size_t len;
	uint8_t *buf;
	int rc;

	if (m_results == NULL)
		m_results = lasync_metric_counter(
			"lasync_sync_results_total",
			"Sync results produced, by stage, vendor and outcome",
			"stage,vendor,outcome");
	lasync_header_fill(&h, eid, ri->tenant_id, ri->sync_id, ri->generation,
			   ri->stage, job ? job->attempt : 1);
	r.header = &h;
	r.vendor = (Lasync__V1__Vendor)ri->vendor;
	r.outcome = ri->outcome;
	r.stage = (char *)ri->stage;
	r.error_class = (char *)(ri->error_class ? ri->error_class : "");
	r.reason = (char *)(ri->reason ? ri->reason : "");
	r.counts = (Lasync__V1__ChangeCounts *)ri->counts;
	r.started_at_ms = ri->started_at_ms;
	r.finished_at_ms = lasync_now_ms();
	r.report = (char *)(ri->report ? ri->report : "");
	len = lasync__v1__sync_result__get_packed_size(&r);
	buf = lasync_xmalloc(len);
	lasync__v1__sync_result__pack(&r, buf);
	lasync_topic(topic, sizeof(topic), prefix, LASYNC_T_RESULTS, NULL);
	rc = lasync_job_produce(job, topic, ri->tenant_id, buf, len, NULL, err,
				errlen);
	free(buf);
	if (rc == 0) {
		const char *vn = ri->vendor == 1 ? "parnassys"
				 : ri->vendor == 2 ? "esis"
						   : "unknown";

		lasync_metric_add(m_results, 1, ri->stage, vn,
				  lasync_outcome_name(ri->outcome));
		lasync_info("sync_result",
			    "tenant=%s sync=%s stage=%s outcome=%s class=%s "
			    "reason=%s",
			    ri->tenant_id, ri->sync_id, ri->stage,
			    lasync_outcome_name(ri->outcome),
			    ri->error_class ? ri->error_class : "-",
			    lasync_q(ri->reason ? ri->reason : ""));
	}
	return rc;
}
