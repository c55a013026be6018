/*
 * notifier_health.c - every tenant's sync health as Prometheus gauges, for
 * operators and their alerts (DESIGN §2 quarantine, §7 metrics):
 *
 *   lasync_tenant_last_success_timestamp_seconds{tenant}
 *   lasync_tenant_consecutive_failures{tenant}
 *   lasync_tenant_quarantined{tenant}   1 after LASYNC_QUARANTINE_AFTER
 *                                       failed syncs in a row
 *
 * The notifier sees every sync result anyway; to know each tenant's history
 * after a restart it reads the results topic from the beginning with its
 * own follower (no consumer group) and then follows it, feeding
 * lasync_health.  Gauges are refreshed every few seconds for the tenants in
 * the tenants table; a removed tenant's gauges are dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "lasync_clock.h"
#include "lasync_follower.h"
#include "lasync_health.h"
#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "notifier.h"

#define REFRESH_MS 5000

struct notifier_health {
	lasync_daemon *d;
	lasync_follower *f;
	lasync_health *h;
	bool loaded;
	int64_t next_refresh;
	char topic[256];
};

static lasync_metric *m_last_ok, *m_failures, *m_quarantined;

static void take(void *ctx, const rd_kafka_message_t *m)
{
	notifier_health *nh = ctx;

	lasync_health_take(nh->h, m->payload, m->len);
}

notifier_health *notifier_health_new(lasync_daemon *d)
{
	notifier_health *nh = lasync_xcalloc(1, sizeof(*nh));

	nh->d = d;
	nh->h = lasync_health_new(0);
	lasync_daemon_topic(d, nh->topic, sizeof(nh->topic), LASYNC_T_RESULTS,
			    NULL);
	m_last_ok = lasync_metric_gauge(
		"lasync_tenant_last_success_timestamp_seconds",
		"Unix time of the tenant's last successful sync", "tenant");
	m_failures = lasync_metric_gauge(
		"lasync_tenant_consecutive_failures",
		"Failed syncs in a row since the tenant's last success", "tenant");
	m_quarantined = lasync_metric_gauge(
		"lasync_tenant_quarantined",
		"1 while the tenant is quarantined: its syncs failed "
		"repeatedly; scheduled syncs back off to daily",
		"tenant");
	return nh;
}

static void refresh_one(void *ctx, lasync_tenant *t)
{
	notifier_health *nh = ctx;
	const lasync_health_entry *e = lasync_health_get(nh->h, t->tenant_id);
	bool q = lasync_health_quarantined(nh->h, e);

	if (e != NULL && e->last_success_ms > 0)
		lasync_metric_set(m_last_ok, (double)e->last_success_ms / 1000.0,
				  t->tenant_id);
	lasync_metric_set(m_failures, e ? (double)e->failures : 0.0,
			  t->tenant_id);
	lasync_metric_set(m_quarantined, q ? 1.0 : 0.0, t->tenant_id);
}

void notifier_health_tick(notifier_health *nh)
{
	char err[512];

	if (!nh->loaded) {
		nh->f = lasync_follower_new(lasync_daemon_brokers(nh->d),
					    nh->topic, "lasync-notifier-health",
					    take, nh, err, sizeof(err));
		if (nh->f == NULL ||
		    lasync_follower_load(nh->f, 30000, err, sizeof(err)) != 0) {
			lasync_warn("health_not_loaded", "error=%s",
				    lasync_q(err));
			lasync_follower_free(nh->f);
			nh->f = NULL;
			return;
		}
		nh->loaded = true;
	}
	lasync_follower_poll(nh->f);
	if (lasync_mono_ms() < nh->next_refresh)
		return;
	nh->next_refresh = lasync_mono_ms() + REFRESH_MS;
	lasync_tenants_each(lasync_daemon_tenants(nh->d), refresh_one, nh);
}

void notifier_health_free(notifier_health *nh)
{
	if (nh == NULL)
		return;
	lasync_follower_free(nh->f);
	lasync_health_free(nh->h);
	free(nh);
}
