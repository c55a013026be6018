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
#include "lasync/v1/ops.pb-c.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_clock.h"
#include "lasync_config.h"
#include "lasync_event.h"
#include "lasync_follower.h"
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

/* ctl_request_sync - see ctl.h */
int ctl_request_sync(ctl *c, const lasync_tenant *t, const ctl_sync_opts *o)
{
	char sid[LASYNC_ID_LEN], rt[256], err[512];
	rd_kafka_t *rk = NULL;
	int rc;

	if (o->wait > 0) {
		rk = ctl_reader(c);
		ctl_topic(c, rt, sizeof(rt), LASYNC_T_RESULTS, NULL);
		if (lasync_kafka_catch_up(rk, rt, RD_KAFKA_OFFSET_END,
					  (int)c->timeout_ms, NULL, NULL, err,
					  sizeof(err)) != 0)
			ctl_die("%s", err);
	}
	rc = ctl_send_sync(c, t, o, sid);
	if (rc == 0 && rk != NULL)
		rc = wait_result(c, rk, sid, o->wait);
	if (rk != NULL) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return rc == 0 ? 0 : 1;
}

int ctl_send_sync(ctl *c, const lasync_tenant *t, const ctl_sync_opts *o,
		  char sid[LASYNC_ID_LEN])
{
	Lasync__V1__SyncRequest req = LASYNC__V1__SYNC_REQUEST__INIT;
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN], topic[256];
	int rc;

	lasync_random_id(sid);
	lasync_header_fill(&h, eid, t->tenant_id, sid, 0, "lasyncctl", 1);
	/* every stage waits until it sees this config (or a newer one) */
	h.config_revision = t->revision;
	req.header = &h;
	req.vendor = (Lasync__V1__Vendor)t->vendor;
	req.full = o->full;
	req.preview = o->preview;
	req.as_of = (char *)(o->as_of ? o->as_of : "");
	req.reason = (char *)(o->reason ? o->reason : "manual");
	req.approved_deactivations = o->approved;
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_SYNC_REQUESTS,
		  lasync_vendor_name(t->vendor));
	size_t len = lasync__v1__sync_request__get_packed_size(&req);
	uint8_t *buf = lasync_xmalloc(len);

	lasync__v1__sync_request__pack(&req, buf);
	rc = ctl_produce(c, topic, t->tenant_id, buf, len);
	free(buf);
	if (rc == 0)
		printf("sync %s requested for %s%s%s\n", sid, t->tenant_id,
		       o->full ? " (full)" : "",
		       o->approved ? " (deletion guard lifted)" : "");
	return rc;
}

typedef struct held_scan {
	const char *tenant;
	Lasync__V1__HeldSync *last; /* newest record, NULL after a tombstone */
} held_scan;

static void held_take(void *ctx, const rd_kafka_message_t *m)
{
	held_scan *hs = ctx;

	if (m->key_len != strlen(hs->tenant) ||
	    memcmp(m->key, hs->tenant, m->key_len) != 0)
		return;
	Lasync__V1__HeldSync *h = NULL;

	/* An undecodable record is skipped and the held sync before it
	 * stays: garbage must not make a held sync look decided or gone. */
	if (m->len > 0 &&
	    (h = lasync__v1__held_sync__unpack(NULL, m->len, m->payload)) ==
		    NULL) {
		lasync_follower_skipped(m, "not a HeldSync message");
		return;
	}
	if (hs->last)
		lasync__v1__held_sync__free_unpacked(hs->last, NULL);
	hs->last = h;
}

/* decide - R17: approve or reject the tenant's held sync */
static int decide(ctl *c, const char *what, int argc, char **argv)
{
	bool approve = strcmp(what, "approve") == 0;
	const char *tenant = NULL, *user = getenv("USER");
	long wait = -1;
	char topic[256], err[512], eid[LASYNC_ID_LEN];
	held_scan hs = {NULL, NULL};
	lasync_tenants *tt;
	lasync_tenant *t;
	rd_kafka_t *rk;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 1, 86400, &wait) != 0)
				ctl_die("--wait needs seconds (1..86400)");
		} else if (argv[i][0] != '-' && tenant == NULL) {
			tenant = argv[i];
		} else {
			fprintf(stderr, "usage: lasyncctl sync %s <tenant> "
					"[--wait SECONDS]\n",
				what);
			return 2;
		}
	}
	if (tenant == NULL) {
		fprintf(stderr, "usage: lasyncctl sync %s <tenant>\n", what);
		return 2;
	}
	tt = ctl_tenants(c);
	t = lasync_tenants_get(tt, tenant);
	if (t == NULL)
		ctl_die("no tenant %s", tenant);
	hs.tenant = tenant;
	rk = ctl_reader(c);
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_HELD, NULL);
	if (lasync_kafka_catch_up(rk, topic, RD_KAFKA_OFFSET_BEGINNING,
				  (int)c->timeout_ms, held_take, &hs, err,
				  sizeof(err)) != 0)
		ctl_die("%s", err);
	rd_kafka_destroy(rk);
	if (hs.last == NULL ||
	    hs.last->state != LASYNC__V1__HELD_STATE__HELD) {
		fprintf(stderr, "lasyncctl: no held sync for tenant %s%s\n",
			tenant,
			hs.last ? " (the last one was already decided)" : "");
		if (hs.last)
			lasync__v1__held_sync__free_unpacked(hs.last, NULL);
		lasync_tenants_free(tt);
		return 1;
	}
	Lasync__V1__HeldSync *h = hs.last;
	Lasync__V1__Header hdr;

	printf("held sync %s of %s: %u deactivation(s) of %u active profiles "
	       "(limit %u)\n",
	       h->sync_id, tenant, h->deactivations, h->active_profiles,
	       h->limit);
	Lasync__V1__Header *orig_header = h->header;
	char *orig_decided_by = h->decided_by;

	lasync_header_fill(&hdr, eid, tenant, h->sync_id, h->generation,
			   "lasyncctl", 1);
	h->header = &hdr;
	h->state = approve ? LASYNC__V1__HELD_STATE__APPROVED
			   : LASYNC__V1__HELD_STATE__REJECTED;
	h->decided_by = (char *)(user ? user : "operator");
	h->decided_at_ms = lasync_now_ms();
	size_t len = lasync__v1__held_sync__get_packed_size(h);
	uint8_t *buf = lasync_xmalloc(len);

	lasync__v1__held_sync__pack(h, buf);
	rc = ctl_produce(c, topic, tenant, buf, len);
	free(buf);
	if (rc == 0 && !approve)
		printf("rejected: nothing applied; the next sync runs normally "
		       "(and is held again if the LAS still says so)\n");
	if (rc == 0 && approve) {
		ctl_sync_opts o = {.as_of = h->as_of,
			       .wait = wait,
			       .approved = h->deactivations,
			       .reason = "approve"};

		rc = ctl_request_sync(c, t, &o);
	}
	/* give back what unpack allocated before freeing it */
	h->header = orig_header;
	h->decided_by = orig_decided_by;
	lasync__v1__held_sync__free_unpacked(h, NULL);
	lasync_tenants_free(tt);
	return rc == 0 ? 0 : 1;
}

int ctl_sync(ctl *c, int argc, char **argv)
{
	ctl_sync_opts o = {.as_of = "", .wait = -1, .reason = "manual"};
	const char *tenant = NULL;
	lasync_tenants *tt;
	lasync_tenant *t;
	int rc;

	if (argc >= 1 && strcmp(argv[0], "--due") == 0)
		return ctl_due(c, argc - 1, argv + 1);
	if (argc >= 1 && (strcmp(argv[0], "approve") == 0 ||
			  strcmp(argv[0], "reject") == 0))
		return decide(c, argv[0], argc - 1, argv + 1);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--full") == 0)
			o.full = true;
		else if (strcmp(argv[i], "--preview") == 0)
			o.preview = true;
		else if (strcmp(argv[i], "--as-of") == 0 && i + 1 < argc)
			o.as_of = argv[++i];
		else if (strcmp(argv[i], "--approve") == 0 && i + 1 < argc) {
			long n;

			if (lasync_parse_long(argv[++i], 1, 10000000, &n) != 0)
				ctl_die("--approve needs a number of "
					"deactivations");
			o.approved = (uint32_t)n;
		} else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 1, 86400, &o.wait) != 0)
				ctl_die("--wait needs seconds (1..86400)");
		} else if (argv[i][0] != '-' && tenant == NULL)
			tenant = argv[i];
		else {
			fprintf(stderr, "usage: lasyncctl sync <tenant> [--full] "
					"[--as-of YYYY-MM-DD] [--preview] "
					"[--approve N] [--wait SECONDS]\n"
					"       lasyncctl sync approve|reject "
					"<tenant> [--wait SECONDS]\n");
			return 2;
		}
	}
	if (tenant == NULL) {
		fprintf(stderr, "usage: lasyncctl sync <tenant> ...\n");
		return 2;
	}
	if (o.as_of[0] && !lasync_date_valid(o.as_of))
		ctl_die("--as-of \"%s\" is not a date (YYYY-MM-DD)", o.as_of);
	tt = ctl_tenants(c);
	t = lasync_tenants_get(tt, tenant);
	if (t == NULL) {
		lasync_tenants_free(tt);
		ctl_die("no tenant %s", tenant);
	}
	rc = ctl_request_sync(c, t, &o);
	lasync_tenants_free(tt);
	return rc;
}
