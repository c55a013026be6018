/*
 * bench_sweep.c - request a sync of every tenant of a deployment at once
 * and time the sweep until every one of them has its result.
 *
 *   bench_sweep --brokers B --prefix P [--as-of YYYY-MM-DD] [--full]
 *               [--timeout S] [--only-vendor V] [--hold-file F]
 *
 * Reads the tenants topic of the prefix (as every daemon does), starts
 * following the results topic at its end, then produces one SyncRequest
 * per tenant (what `lasyncctl sync` sends, without a process per tenant)
 * and waits until each sync id has its result.  Prints one key=value
 * summary line: wall time from the first request to the last result,
 * outcomes by stage, latency percentiles, and the counts the results
 * carry (operations, portal writes).  Counts and ids only.
 *
 * --hold-file F: after the requests are out, wait until F exists and
 * time from then (the applier benchmark starts the applier only once the
 * change sets are all waiting, then creates F).
 *
 * Exit: 0 when every sync ended OK, 1 when one failed or timed out, 2 on
 * a usage or setup error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_config.h"
#include "lasync_event.h"
#include "lasync_kafka.h"
#include "lasync_mem.h"
#include "lasync_result.h"
#include "lasync_tenants.h"

typedef struct pending {
	char tenant[128];
	char sync_id[LASYNC_ID_LEN];
	double sent, done;	/* seconds since the sweep began */
	int outcome;		/* -1 until the result came */
	char stage[16];
} pending;

typedef struct sweep {
	pending *p;
	size_t n, cap;
	const char *only_vendor;
	const char *hold_file;
	lasync_producer *prod;
	const char *prefix;
	const char *as_of;
	bool full;
	double t0;
	int failed_produce;
} sweep;

static void on_delivery(void *ctx, rd_kafka_resp_err_t err, int32_t part,
			int64_t off)
{
	sweep *s = ctx;

	(void)part;
	(void)off;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		s->failed_produce++;
}

/* request - one SyncRequest for t, as ctl_send_sync builds it */
static void request(void *ctx, lasync_tenant *t)
{
	sweep *s = ctx;
	Lasync__V1__SyncRequest req = LASYNC__V1__SYNC_REQUEST__INIT;
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN], topic[256], err[512];
	pending *p;

	if (s->only_vendor &&
	    strcmp(lasync_vendor_name(t->vendor), s->only_vendor) != 0)
		return;
	lasync_grow(&s->p, &s->cap, s->n + 1);
	p = &s->p[s->n++];
	memset(p, 0, sizeof(*p));
	p->outcome = -1;
	lasync_strlcpy(p->tenant, t->tenant_id, sizeof(p->tenant));
	lasync_random_id(p->sync_id);
	lasync_header_fill(&h, eid, t->tenant_id, p->sync_id, 0, "bench", 1);
	h.config_revision = t->revision;
	req.header = &h;
	req.vendor = (Lasync__V1__Vendor)t->vendor;
	req.full = s->full;
	req.as_of = (char *)s->as_of;
	req.reason = (char *)"bench";
	size_t len = lasync__v1__sync_request__get_packed_size(&req);
	uint8_t *buf = lasync_xmalloc(len);

	lasync__v1__sync_request__pack(&req, buf);
	lasync_topic(topic, sizeof(topic), s->prefix, LASYNC_T_SYNC_REQUESTS,
		     lasync_vendor_name(t->vendor));
	p->sent = bench_now() - s->t0;
	if (lasync_produce(s->prod, topic, t->tenant_id, buf, len, NULL,
			   on_delivery, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_sweep: produce: %s\n", err);
		s->failed_produce++;
	}
	free(buf);
	lasync_producer_poll(s->prod, 0);
}

static int cmp_sync(const void *a, const void *b)
{
	return strcmp(((const pending *)a)->sync_id,
		      ((const pending *)b)->sync_id);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_sweep --brokers B --prefix P "
			"[--as-of YYYY-MM-DD] [--full] [--timeout S] "
			"[--only-vendor V] [--hold-file F]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *brokers = NULL;
	long timeout_s = 3600;
	sweep s = {.as_of = ""};
	char err[512], topic[256];
	uint64_t ops = 0, writes = 0, created = 0, updated = 0,
		 deactivated = 0, members = 0;
	size_t done = 0, ok = 0, by_stage[4] = {0};
	double last = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
			brokers = argv[++i];
		else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
			s.prefix = argv[++i];
		else if (strcmp(argv[i], "--as-of") == 0 && i + 1 < argc)
			s.as_of = argv[++i];
		else if (strcmp(argv[i], "--only-vendor") == 0 && i + 1 < argc)
			s.only_vendor = argv[++i];
		else if (strcmp(argv[i], "--hold-file") == 0 && i + 1 < argc)
			s.hold_file = argv[++i];
		else if (strcmp(argv[i], "--full") == 0)
			s.full = true;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (lasync_parse_long(argv[++i], 1, 86400, &timeout_s))
				usage();
		} else
			usage();
	}
	if (brokers == NULL || s.prefix == NULL)
		usage();

	lasync_topic(topic, sizeof(topic), s.prefix, LASYNC_T_TENANTS, NULL);
	lasync_tenants *tt = lasync_tenants_new(brokers, topic, "bench-sweep",
						err, sizeof(err));
	if (tt == NULL || lasync_tenants_load(tt, 60000, err, sizeof(err)))
		goto out_setup;

	rd_kafka_conf_t *conf = lasync_kafka_conf(brokers, "bench-sweep", NULL,
						  err, sizeof(err));
	if (conf == NULL ||
	    lasync_kafka_conf_set(conf, "group.id", "bench-sweep-reader", err,
				  sizeof(err)) != 0 ||
	    lasync_kafka_conf_set(conf, "enable.auto.commit", "false", err,
				  sizeof(err)) != 0)
		goto out_setup;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));

	if (rk == NULL)
		goto out_setup;
	rd_kafka_poll_set_consumer(rk);
	lasync_topic(topic, sizeof(topic), s.prefix, LASYNC_T_RESULTS, NULL);
	if (lasync_kafka_catch_up(rk, topic, RD_KAFKA_OFFSET_END, 60000, NULL,
				  NULL, err, sizeof(err)) != 0)
		goto out_setup;
	s.prod = lasync_producer_new(brokers, "bench-sweep", NULL, err,
				     sizeof(err));
	if (s.prod == NULL)
		goto out_setup;

	s.t0 = bench_now();
	lasync_tenants_each(tt, request, &s);
	if (s.n == 0) {
		fprintf(stderr, "bench_sweep: no tenants under prefix %s\n",
			s.prefix);
		return 2;
	}
	if (lasync_producer_flush(s.prod, 60000) != 0 || s.failed_produce) {
		fprintf(stderr, "bench_sweep: %d requests not delivered\n",
			s.failed_produce);
		return 2;
	}
	double requested = bench_now() - s.t0;

	if (s.hold_file != NULL) {
		/* keep the consumer served while waiting, then time from here */
		while (access(s.hold_file, F_OK) != 0) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

			if (m == NULL)
				continue;
			fprintf(stderr, "bench_sweep: a result came before the "
					"hold was lifted\n");
			rd_kafka_message_destroy(m);
			return 2;
		}
		s.t0 = bench_now();
		for (size_t i = 0; i < s.n; i++)
			s.p[i].sent = 0;
	}

	qsort(s.p, s.n, sizeof(*s.p), cmp_sync);
	while (done < s.n && bench_now() - s.t0 < (double)timeout_s) {
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
		if (r == NULL || r->header == NULL)
			goto next;
		pending key, *p;

		lasync_strlcpy(key.sync_id, r->header->sync_id,
			       sizeof(key.sync_id));
		p = bsearch(&key, s.p, s.n, sizeof(*s.p), cmp_sync);
		if (p == NULL || p->outcome >= 0)
			goto next;
		p->done = last = bench_now() - s.t0;
		p->outcome = (int)r->outcome;
		lasync_strlcpy(p->stage, r->stage, sizeof(p->stage));
		done++;
		if (r->outcome == LASYNC__V1__OUTCOME__OUTCOME_OK)
			ok++;
		else
			fprintf(stderr,
				"bench_sweep: tenant=%s sync=%s outcome=%s "
				"stage=%s class=%s\n",
				p->tenant, p->sync_id,
				lasync_outcome_name(r->outcome), r->stage,
				r->error_class);
		by_stage[strcmp(r->stage, "fetcher") == 0   ? 0
			 : strcmp(r->stage, "mapper") == 0  ? 1
			 : strcmp(r->stage, "applier") == 0 ? 2
							    : 3]++;
		if (r->counts != NULL) {
			ops += r->counts->ops_total;
			writes += r->counts->portal_writes;
			created += r->counts->users_created +
				   r->counts->groups_created;
			updated += r->counts->users_updated +
				   r->counts->groups_updated;
			deactivated += r->counts->users_deactivated;
			members += r->counts->members_added +
				   r->counts->members_removed;
		}
next:
		if (r != NULL)
			lasync__v1__sync_result__free_unpacked(r, NULL);
	}
	double *lat = lasync_xcalloc(s.n + 1, sizeof(*lat));
	size_t nl = 0;

	for (size_t i = 0; i < s.n; i++)
		if (s.p[i].outcome >= 0)
			lat[nl++] = s.p[i].done - s.p[i].sent;
	qsort(lat, nl, sizeof(*lat), cmp_double);
	printf("sweep prefix=%s tenants=%zu full=%d as_of=%s "
	       "requested_s=%.3f wall_s=%.3f results=%zu ok=%zu "
	       "ended_in_fetcher=%zu ended_in_mapper=%zu ended_in_applier=%zu "
	       "latency_p50_s=%.3f latency_p90_s=%.3f latency_max_s=%.3f "
	       "ops=%llu portal_writes=%llu created=%llu updated=%llu "
	       "deactivated=%llu members=%llu syncs_per_s=%.2f\n",
	       s.prefix, s.n, s.full, s.as_of[0] ? s.as_of : "-", requested,
	       last, done, ok, by_stage[0], by_stage[1], by_stage[2],
	       nl ? lat[nl / 2] : 0, nl ? lat[nl * 9 / 10] : 0,
	       nl ? lat[nl - 1] : 0, (unsigned long long)ops,
	       (unsigned long long)writes, (unsigned long long)created,
	       (unsigned long long)updated, (unsigned long long)deactivated,
	       (unsigned long long)members, last > 0 ? (double)done / last : 0);
	if (done < s.n)
		fprintf(stderr, "bench_sweep: %zu of %zu syncs without a result "
				"after %ld s\n",
			s.n - done, s.n, timeout_s);
	free(lat);
	free(s.p);
	lasync_producer_free(s.prod);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	lasync_tenants_free(tt);
	return done == s.n && ok == s.n ? 0 : 1;
out_setup:
	fprintf(stderr, "bench_sweep: %s\n", err);
	return 2;
}
