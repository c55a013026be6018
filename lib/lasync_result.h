/*
 * lasync_result.h - build and send a SyncResult, the last event of every
 * sync whatever stage it ends in (fetcher on a failed fetch, mapper when
 * nothing changed or the snapshot is rejected, applier after applying).
 */
#ifndef LASYNC_RESULT_H
#define LASYNC_RESULT_H

#include <stdint.h>

#include "lasync/v1/sync.pb-c.h"
#include "lasync_consumer.h"

typedef struct lasync_result_info {
	const char *tenant_id;
	const char *sync_id;
	int64_t generation;
	int vendor;
	Lasync__V1__Outcome outcome;
	const char *stage;
	const char *error_class;	/* NULL when OK */
	const char *reason;		/* NULL when OK; no personal data */
	const Lasync__V1__ChangeCounts *counts; /* may be NULL */
	int64_t started_at_ms;
	const char *report;		/* preview report, may be NULL */
} lasync_result_info;

/* lasync_result_send - produce the result to "<prefix>.sync-results" on the
 * job's behalf (so the job completes only once it is acknowledged); -1
 * with err when it could not be queued */
int lasync_result_send(lasync_job *job, const char *prefix,
		       const lasync_result_info *ri, char *err, size_t errlen);

/* lasync_outcome_name - "ok", "failed", ... */
const char *lasync_outcome_name(Lasync__V1__Outcome o);

#endif /* LASYNC_RESULT_H */
