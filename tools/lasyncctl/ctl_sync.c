/*
 * ctl_sync.c - request a sync, optionally waiting for its result.
 *
 * The request goes to the tenant's vendor topic (sync-requests.<vendor>),
 * keyed by tenant, with a fresh sync id that every later event carries.
 * --wait follows the results topic from its current end until the result
 * of this sync arrives (a sync ends in exactly one result: the fetcher's
 * failure, the mapper's when nothing is to be applied, or the applier's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_clock.h"
#include "lasync_config.h"
#include "lasync_event.h"
#include "lasync_mem.h"
#include "lasync_result.h"

static void print_counts(const Lasync__V1__ChangeCounts *k)
{
	if (k == NULL)
		return;
	printf("  users created=%u updated=%u deactivated=%u; groups "
	       "created=%u updated=%u; members +%u -%u\n"
	       "  operations=%u skipped=%u failed=%u portal_writes=%u\n",
	       k->users_created, k->users_updated, k->users_deactivated,
	       k->groups_created, k->groups_updated, k->members_added,
	       k->members_removed, k->ops_total, k->ops_skipped, k->ops_failed,
	       k->portal_writes);
}

/* wait_result - follow the results topic for sync_id; 0 when it ended OK */
static int wait_result(ctl *c, rd_kafka_t *rk, const char *sync_id,
		       long seconds)
{
	int64_t deadline = lasync_mono_ms() + seconds * 1000;

	while (lasync_mono_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

		if (m == NULL)
			continue;
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_message_destroy(m);
			continue;
		}
		Lasync__V1__SyncResult *r = lasync__v1__sync_result__unpack(
			NULL, m->len, m->payload);

		rd_kafka_message_destroy(m);
		if (r == NULL || r->header == NULL ||
		    strcmp(r->header->sync_id, sync_id) != 0) {
			if (r)
				lasync__v1__sync_result__free_unpacked(r, NULL);
			continue;
		}
		printf("sync %s: %s (stage %s)%s%s\n", sync_id,
		       lasync_outcome_name(r->outcome), r->stage,
		       r->reason[0] ? ": " : "", r->reason);
		print_counts(r->counts);
		if (r->report[0])
			printf("%s", r->report);
		int ok = r->outcome == LASYNC__V1__OUTCOME__OUTCOME_OK ||
			 r->outcome == LASYNC__V1__OUTCOME__OUTCOME_PREVIEW;

		lasync__v1__sync_result__free_unpacked(r, NULL);
		return ok ? 0 : 1;
	}
	(void)c;
	fprintf(stderr, "lasyncctl: no result for sync %s within %ld s\n",
		sync_id, seconds);
	return 1;
}

int ctl_sync(ctl *c, int argc, char **argv)
{
	Lasync__V1__SyncRequest req = LASYNC__V1__SYNC_REQUEST__INIT;
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN], sid[LASYNC_ID_LEN], topic[256], err[512];
	const char *tenant = NULL, *as_of = "";
	long wait = -1;
	rd_kafka_t *rk = NULL;
	lasync_tenants *tt;
	lasync_tenant *t;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--full") == 0)
			req.full = true;
		else if (strcmp(argv[i], "--preview") == 0)
			req.preview = true;
		else if (strcmp(argv[i], "--as-of") == 0 && i + 1 < argc)
			as_of = argv[++i];
		else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 1, 86400, &wait) != 0)
				ctl_die("--wait needs seconds (1..86400)");
		} else if (argv[i][0] != '-' && tenant == NULL)
			tenant = argv[i];
		else {
			fprintf(stderr, "usage: lasyncctl sync <tenant> [--full] "
					"[--as-of YYYY-MM-DD] [--preview] "
					"[--wait SECONDS]\n");
			return 2;
		}
	}
	if (tenant == NULL) {
		fprintf(stderr, "usage: lasyncctl sync <tenant> ...\n");
		return 2;
	}
	if (as_of[0] && !lasync_date_valid(as_of))
		ctl_die("--as-of \"%s\" is not a date (YYYY-MM-DD)", as_of);
	tt = ctl_tenants(c);
	t = lasync_tenants_get(tt, tenant);
	if (t == NULL) {
		lasync_tenants_free(tt);
		ctl_die("no tenant %s", tenant);
	}
	lasync_random_id(sid);
	lasync_header_fill(&h, eid, t->tenant_id, sid, 0, "lasyncctl", 1);
	req.header = &h;
	req.vendor = (Lasync__V1__Vendor)t->vendor;
	req.as_of = (char *)as_of;
	req.reason = "manual";
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_SYNC_REQUESTS,
		  lasync_vendor_name(t->vendor));
	if (wait > 0) {
		char rt[256];

		rk = ctl_reader(c);
		ctl_topic(c, rt, sizeof(rt), LASYNC_T_RESULTS, NULL);
		if (lasync_kafka_catch_up(rk, rt, RD_KAFKA_OFFSET_END,
					  (int)c->timeout_ms, NULL, NULL, err,
					  sizeof(err)) != 0)
			ctl_die("%s", err);
	}
	size_t len = lasync__v1__sync_request__get_packed_size(&req);
	uint8_t *buf = lasync_xmalloc(len);

	lasync__v1__sync_request__pack(&req, buf);
	rc = ctl_produce(c, topic, t->tenant_id, buf, len);
	free(buf);
	if (rc == 0)
		printf("sync %s requested for %s\n", sid, t->tenant_id);
	lasync_tenants_free(tt);
	if (rc == 0 && rk != NULL)
		rc = wait_result(c, rk, sid, wait);
	if (rk != NULL) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return rc == 0 ? 0 : 1;
}
