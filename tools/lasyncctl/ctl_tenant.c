/*
 * ctl_tenant.c - tenant put | get | list, and topics ensure.
 *
 * "tenant put" validates the document strictly (lasync_tenant_from_json),
 * refuses a second tenant for the same BRIN + dependance (R1), and writes
 * the tenant to the compacted tenants topic, waiting for the broker's
 * acknowledgement.  Tenants are never written with secrets in them: the
 * document holds references only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "lasync_config.h"
#include "lasync_mem.h"
#include "lasync_tenant.h"

#define TENANT_FILE_MAX (1024 * 1024)

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;

	if (f == NULL)
		ctl_die("%s: %s", path, strerror(errno));
	buf = lasync_xmalloc(TENANT_FILE_MAX + 1);
	*len = fread(buf, 1, TENANT_FILE_MAX + 1, f);
	if (f != stdin)
		fclose(f);
	if (*len > TENANT_FILE_MAX)
		ctl_die("%s: larger than %d bytes", path, TENANT_FILE_MAX);
	buf[*len] = '\0';
	return buf;
}

static int tenant_put(ctl *c, const char *path)
{
	char err[512], topic[256];
	size_t len, wlen;
	char *json = read_file(path, &len);
	lasync_tenant *t = lasync_tenant_from_json(json, len, err, sizeof(err));
	lasync_tenants *tt;
	lasync_tenant *other;
	uint8_t *wire;
	int rc;

	free(json);
	if (t == NULL) {
		fprintf(stderr, "lasyncctl: %s: invalid tenant: %s\n", path,
			err);
		return 1;
	}
	tt = ctl_tenants(c);
	other = lasync_tenants_find_brin(tt, t->brin, t->dependance,
					 t->tenant_id);
	if (other != NULL) {
		fprintf(stderr,
			"lasyncctl: refused (R1): BRIN %s dependance %s "
			"already belongs to tenant %s\n",
			t->brin, t->dependance, other->tenant_id);
		lasync_tenants_free(tt);
		lasync_tenant_free(t);
		return 1;
	}
	other = lasync_tenants_get(tt, t->tenant_id);
	t->revision = ctl_next_revision(other);
	lasync_tenants_free(tt);
	wire = lasync_tenant_encode(t, &wlen);
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_TENANTS, NULL);
	rc = ctl_produce(c, topic, t->tenant_id, wire, wlen);
	if (rc == 0)
		printf("tenant %s written (%s, BRIN %s-%s, state %s)\n",
		       t->tenant_id, lasync_vendor_name(t->vendor), t->brin,
		       t->dependance,
		       t->state == LASYNC_TENANT_ACTIVE ? "active"
							: "first_run_pending");
	free(wire);
	lasync_tenant_free(t);
	return rc == 0 ? 0 : 1;
}

/* tenant_remove - offboarding: a tombstone for the tenant on the
 * compacted tenants topic; every daemon drops the tenant when it reads
 * it.  Nothing in the portal is touched. */
static int tenant_remove(ctl *c, const char *tenant_id)
{
	lasync_tenants *tt = ctl_tenants(c);
	bool known = lasync_tenants_get(tt, tenant_id) != NULL;
	char topic[256];

	lasync_tenants_free(tt);
	if (!known) {
		fprintf(stderr, "lasyncctl: no tenant %s\n", tenant_id);
		return 1;
	}
	ctl_topic(c, topic, sizeof(topic), LASYNC_T_TENANTS, NULL);
	if (ctl_produce(c, topic, tenant_id, NULL, 0) != 0)
		return 1;
	printf("tenant %s removed (the daemons drop it; its portal data "
	       "stays)\n", tenant_id);
	return 0;
}

static void list_one(void *ctx, lasync_tenant *t)
{
	(void)ctx;
	printf("%-24s %-10s %s-%s %-18s %s\n", t->tenant_id,
	       lasync_vendor_name(t->vendor), t->brin, t->dependance,
	       t->state == LASYNC_TENANT_ACTIVE ? "active" : "first_run_pending",
	       t->portal_base_url ? t->portal_base_url : "");
}

int ctl_tenant(ctl *c, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "put") == 0)
		return tenant_put(c, argv[1]);
	if (argc == 2 && strcmp(argv[0], "get") == 0) {
		lasync_tenants *tt = ctl_tenants(c);
		lasync_tenant *t = lasync_tenants_get(tt, argv[1]);
		int rc = 1;

		if (t == NULL) {
			fprintf(stderr, "lasyncctl: no tenant %s\n", argv[1]);
		} else {
			char *j = lasync_tenant_to_json(t);

			printf("%s\n", j);
			free(j);
			rc = 0;
		}
		lasync_tenants_free(tt);
		return rc;
	}
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		lasync_tenants *tt = ctl_tenants(c);

		lasync_tenants_each(tt, list_one, NULL);
		lasync_tenants_free(tt);
		return 0;
	}
	if (argc == 3 && strcmp(argv[0], "remove") == 0 &&
	    strcmp(argv[2], "--yes") == 0)
		return tenant_remove(c, argv[1]);
	fprintf(stderr, "usage: lasyncctl tenant put <file.json> | get "
			"<tenant> | list | remove <tenant> --yes\n");
	return 2;
}

typedef struct topic_list {
	lasync_topic_spec specs[32];
	char names[32][300];
	size_t n;
	int partitions;
} topic_list;

/* add_topic - the topic, and its dead-letter topic when it is consumed */
static void add_topic(ctl *c, topic_list *tl, const char *suffix,
		      const char *vendor, bool compact, bool dlq)
{
	char base[256];

	ctl_topic(c, base, sizeof(base), suffix, vendor);
	snprintf(tl->names[tl->n], sizeof(tl->names[tl->n]), "%s", base);
	tl->specs[tl->n] =
		(lasync_topic_spec){tl->names[tl->n], tl->partitions, compact, 0};
	tl->n++;
	if (!dlq)
		return;
	snprintf(tl->names[tl->n], sizeof(tl->names[tl->n]), "%s%s", base,
		 LASYNC_T_DLQ_SUFFIX);
	tl->specs[tl->n] =
		(lasync_topic_spec){tl->names[tl->n], tl->partitions, false, 0};
	tl->n++;
}

int ctl_topics(ctl *c, int argc, char **argv)
{
	static const char *const vendors[] = {"parnassys", "esis"};
	topic_list tl = {.n = 0, .partitions = 8};
	char err[512];
	long partitions = 8;

	if (argc == 2 && strcmp(argv[0], "delete") == 0 &&
	    strcmp(argv[1], "--yes") == 0) {
		/* Retiring an environment (or a test run): every topic of
		 * the prefix goes, data included. */
		rd_kafka_t *rk = ctl_reader(c);
		size_t n;
		int rc = lasync_kafka_delete_topics(rk, c->prefix,
						    (int)c->timeout_ms, &n,
						    err, sizeof(err));

		rd_kafka_destroy(rk);
		if (rc != 0)
			ctl_die("%s", err);
		printf("%zu topics of prefix %s deleted\n", n, c->prefix);
		return 0;
	}
	if (argc < 1 || strcmp(argv[0], "ensure") != 0) {
		fprintf(stderr, "usage: lasyncctl topics ensure [--partitions "
				"N]\n       lasyncctl topics delete --yes\n");
		return 2;
	}
	if (argc == 3 && strcmp(argv[1], "--partitions") == 0 &&
	    lasync_parse_long(argv[2], 1, 1024, &partitions) != 0)
		ctl_die("--partitions must be 1..1024");
	tl.partitions = (int)partitions;
	add_topic(c, &tl, LASYNC_T_TENANTS, NULL, true, false);
	for (size_t v = 0; v < 2; v++) {
		add_topic(c, &tl, LASYNC_T_SYNC_REQUESTS, vendors[v], false,
			  true);
		add_topic(c, &tl, LASYNC_T_SNAPSHOTS, vendors[v], false, true);
	}
	add_topic(c, &tl, LASYNC_T_CHANGES, NULL, false, true);
	add_topic(c, &tl, LASYNC_T_RESULTS, NULL, false, false);
	add_topic(c, &tl, LASYNC_T_HELD, NULL, true, false);
	add_topic(c, &tl, LASYNC_T_DLQ_REPLAYS, NULL, true, false);
	add_topic(c, &tl, LASYNC_T_SCHEDULE, NULL, true, false);
	add_topic(c, &tl, LASYNC_T_SUGGESTIONS, NULL, false, true);
	add_topic(c, &tl, LASYNC_T_SUGGESTION_STATUS, NULL, true, false);
	add_topic(c, &tl, LASYNC_T_REMINDERS, NULL, false, true);
	rd_kafka_t *rk = ctl_reader(c);
	int rc = lasync_kafka_ensure_topics(rk, tl.specs, tl.n,
					    (int)c->timeout_ms, err,
					    sizeof(err));

	rd_kafka_destroy(rk);
	if (rc != 0)
		ctl_die("%s", err);
	printf("%zu topics present\n", tl.n);
	return 0;
}
