/*
 * ctl.h - lasyncctl, the operator's tool (DESIGN §1, §7).
 *
 *   lasyncctl.c    configuration, command table, shared Kafka helpers
 *   ctl_tenant.c   tenant put | get | list
 *   ctl_sync.c     sync <tenant> [--full] [--as-of D] [--preview] [--wait S]
 *   ctl_status.c   status [--json]
 *   ctl_portal.c   portal <tenant>: what the portal holds now
 *   ctl_suggestions.c  suggestions <tenant> | remind: parent suggestions (R21)
 *   ctl_firstrun.c first-run plan | apply: onboarding (R19)
 *   ctl_links.c    links list | resolve (R20), groups orphaned (R19)
 *
 * Commands print for people on stdout and errors on stderr, and exit 0 on
 * success, 1 on a failure, 2 on a usage error.
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lasync_kafka.h"
#include "lasync_tenants.h"

typedef struct ctl {
	char *brokers;
	char *prefix;
	char *redis_url;
	long timeout_ms;
	char client_id[96];
} ctl;

typedef int (*ctl_cmd_fn)(ctl *c, int argc, char **argv);

int ctl_tenant(ctl *c, int argc, char **argv);
int ctl_sync(ctl *c, int argc, char **argv);
int ctl_status(ctl *c, int argc, char **argv);
int ctl_portal(ctl *c, int argc, char **argv);
int ctl_topics(ctl *c, int argc, char **argv);
int ctl_suggestions(ctl *c, int argc, char **argv);
int ctl_dlq(ctl *c, int argc, char **argv);
int ctl_firstrun(ctl *c, int argc, char **argv);
int ctl_links(ctl *c, int argc, char **argv);
int ctl_groups(ctl *c, int argc, char **argv);

/* ctl_topic - "<prefix>.<suffix>[.<vendor>]" into buf */
const char *ctl_topic(ctl *c, char *buf, size_t len, const char *suffix,
		      const char *vendor);

/* ctl_health - every tenant's sync health from the results topic (caller
 * frees with lasync_health_free) */
struct lasync_health;
struct lasync_health *ctl_health(ctl *c);

/* ctl_due - sync --due: request the syncs whose time has come */
int ctl_due(ctl *c, int argc, char **argv);

/* ctl_tenants - the current tenants table, read to the end (caller frees) */
lasync_tenants *ctl_tenants(ctl *c);

/* ctl_reader - a group-less consumer for reading topics (caller destroys) */
rd_kafka_t *ctl_reader(ctl *c);

/* ctl_produce - produce one message and wait for its acknowledgement */
int ctl_produce(ctl *c, const char *topic, const char *key, const void *val,
		size_t len);
/* ctl_produce_headers - the same with Kafka headers (taken over) */
int ctl_produce_headers(ctl *c, const char *topic, const char *key,
			const void *val, size_t len, rd_kafka_headers_t *hdrs);

typedef struct ctl_sync_opts {
	bool full, preview;
	const char *as_of;
	long wait;
	uint32_t approved;
	const char *reason;
} ctl_sync_opts;

/* ctl_send_sync - produce a SyncRequest for t (acknowledged), its new
 * sync id in sid; 0 or -1 */
int ctl_send_sync(ctl *c, const lasync_tenant *t, const ctl_sync_opts *o,
		  char sid[33]);

/* ctl_next_revision - the revision for a new write of a tenant whose
 * current config is prev (NULL when new): now, and always above prev's */
int64_t ctl_next_revision(const lasync_tenant *prev);

/* ctl_portal_auth - the tenant's "Authorization: Bearer ..." header line
 * (a secret: free with lasync_secret_free); dies when unresolvable */
char *ctl_portal_auth(const lasync_tenant *t);
/* ctl_portal_list - every resource of a SCIM collection ("Users",
 * "Groups"), all pages; dies on a portal error */
json_t *ctl_portal_list(const lasync_tenant *t, const char *auth,
			const char *coll);
/* ctl_portal_get - GET <base>/<path>: the document when 200, else NULL
 * with the status in *status; dies when the portal cannot be reached */
json_t *ctl_portal_get(const lasync_tenant *t, const char *auth,
		       const char *path, long *status);

/* ctl_request_sync - ctl_send_sync, then with o->wait > 0 follow the
 * results topic until this sync's result (printed); 0 when requested and,
 * waiting, when it ended ok; 1 otherwise */
int ctl_request_sync(ctl *c, const lasync_tenant *t, const ctl_sync_opts *o);

/* ctl_die - print "lasyncctl: <msg>" and exit(1) */
_Noreturn void ctl_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif /* CTL_H */
