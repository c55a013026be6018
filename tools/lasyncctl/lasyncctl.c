/*
 * lasyncctl.c - the command table and what every command shares.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "lasync/v1/sync.pb-c.h"
#include "lasync_clock.h"
#include "lasync_config.h"
#include "lasync_log.h"
#include "lasync_mem.h"

static const struct {
	const char *name;
	ctl_cmd_fn fn;
	const char *usage;
} commands[] = {
	{"tenant", ctl_tenant,
	 "tenant put <file.json> | get <tenant> | list | remove <tenant> "
	 "--yes"},
	{"sync", ctl_sync,
	 "sync <tenant> [--full] [--as-of YYYY-MM-DD] [--preview] "
	 "[--approve N] [--wait SECONDS]\n  lasyncctl sync approve|reject "
	 "<tenant> "
	 "[--wait SECONDS]\n  lasyncctl sync --due [--dry-run] "
	 "[--now YYYY-MM-DDTHH:MM]"},
	{"status", ctl_status, "status [--json]"},
	{"portal", ctl_portal, "portal <tenant>"},
	{"topics", ctl_topics,
	 "topics ensure [--partitions N] | delete --yes (every topic of the "
	 "prefix)"},
	{"suggestions", ctl_suggestions,
	 "suggestions [list] <tenant> [--json] [--all] | remind <tenant> | "
	 "remind --due [--min-age-days N]"},
	{"first-run", ctl_firstrun,
	 "first-run plan <tenant> [--out F] [--report F] [--no-group-links] "
	 "[--date D]\n"
	 "  lasyncctl first-run apply <tenant> <plan.json> [--wait S] "
	 "[--as-of D]"},
	{"links", ctl_links,
	 "links list <tenant> [--json] | resolve <tenant> <externalId> "
	 "--link <portal-id> | --create [--sync]"},
	{"groups", ctl_groups, "groups orphaned <tenant> [--json]"},
	{"dlq", ctl_dlq,
	 "dlq list|replay [--tenant T] [--since WHEN] [--topic S] [--dry-run]\n"
	 "  lasyncctl dlq show <dlq-topic> <partition> <offset>"},
};

_Noreturn void ctl_die(const char *fmt, ...)
{
	va_list ap;

	fputs("lasyncctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int64_t ctl_next_revision(const lasync_tenant *prev)
{
	int64_t now = lasync_now_ms();

	return prev != NULL && prev->revision >= now ? prev->revision + 1 : now;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: lasyncctl [--kafka-brokers H:P] [--topic-prefix "
		     "P] <command> ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  lasyncctl %s\n", commands[i].usage);
	fprintf(out, "\nconfiguration also from LASYNC_KAFKA_BROKERS, "
		     "LASYNC_TOPIC_PREFIX, LASYNC_REDIS_URL\n");
}

const char *ctl_topic(ctl *c, char *buf, size_t len, const char *suffix,
		      const char *vendor)
{
	return lasync_topic(buf, len, c->prefix, suffix, vendor);
}

lasync_tenants *ctl_tenants(ctl *c)
{
	char topic[256], err[512];
	lasync_tenants *tt;

	ctl_topic(c, topic, sizeof(topic), LASYNC_T_TENANTS, NULL);
	tt = lasync_tenants_new(c->brokers, topic, c->client_id, err,
				sizeof(err));
	if (tt == NULL || lasync_tenants_load(tt, (int)c->timeout_ms, err,
					      sizeof(err)) != 0)
		ctl_die("cannot read tenants: %s", err);
	return tt;
}

rd_kafka_t *ctl_reader(ctl *c)
{
	char err[512];
	rd_kafka_conf_t *conf =
		lasync_kafka_conf(c->brokers, c->client_id, NULL, err,
				  sizeof(err));
	rd_kafka_t *rk;

	if (conf == NULL)
		ctl_die("%s", err);
	/* A group.id gives librdkafka its consumer queue; the group is
	 * never joined (manual assignment) nor committed to. */
	lasync_kafka_conf_set(conf, "group.id", "lasyncctl-reader", err,
			      sizeof(err));
	lasync_kafka_conf_set(conf, "enable.auto.commit", "false", err,
			      sizeof(err));
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (rk == NULL)
		ctl_die("kafka: %s", err);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

typedef struct ack {
	int done;
	rd_kafka_resp_err_t err;
} ack;

static void on_ack(void *ctx, rd_kafka_resp_err_t err, int32_t p, int64_t o)
{
	ack *a = ctx;

	(void)p;
	(void)o;
	a->err = err;
	a->done = 1;
}

int ctl_produce(ctl *c, const char *topic, const char *key, const void *val,
		size_t len)
{
	return ctl_produce_headers(c, topic, key, val, len, NULL);
}

int ctl_produce_headers(ctl *c, const char *topic, const char *key,
			const void *val, size_t len, rd_kafka_headers_t *hdrs)
{
	char err[512];
	lasync_producer *p = lasync_producer_new(c->brokers, c->client_id,
						 NULL, err, sizeof(err));
	ack a = {0, RD_KAFKA_RESP_ERR_NO_ERROR};

	if (p == NULL)
		ctl_die("kafka: %s", err);
	if (lasync_produce(p, topic, key, val, len, hdrs, on_ack, &a, err,
			   sizeof(err)) != 0)
		ctl_die("%s", err);
	lasync_producer_flush(p, (int)c->timeout_ms);
	lasync_producer_poll(p, 0);
	lasync_producer_free(p);
	if (!a.done || a.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "lasyncctl: %s was not acknowledged: %s\n",
			topic, a.done ? rd_kafka_err2str(a.err) : "timeout");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	ctl c;
	char err[512];
	char *rest[64];
	int n_rest = 0, rc;
	const lasync_param params[] = {
		{"kafka-brokers", LASYNC_PARAM_STRING, "127.0.0.1:9092",
		 "Kafka bootstrap servers", &c.brokers, 0, 0, false, false,
		 NULL},
		{"topic-prefix", LASYNC_PARAM_STRING, "lasync",
		 "prefix of every topic name", &c.prefix, 0, 0, false, false,
		 NULL},
		{"redis-url", LASYNC_PARAM_STRING, "redis://127.0.0.1:6379",
		 "Redis", &c.redis_url, 0, 0, false, false, NULL},
		{"timeout-ms", LASYNC_PARAM_INT, "30000",
		 "how long to wait for Kafka", &c.timeout_ms, 100, 3600000,
		 false, false, NULL},
		{NULL, 0, NULL, NULL, NULL, 0, 0, false, false, NULL},
	};
	const lasync_param *tables[] = {params, NULL};

	memset(&c, 0, sizeof(c));
	/* Warnings too: a state record lasyncctl skips (undecodable, see
	 * lasync_follower_skipped) is what the operator must repair. */
	lasync_log_init("lasyncctl", LASYNC_LOG_WARN);
	if (argc > 64)
		ctl_die("too many arguments");
	/* Global flags come before the command; the command's own flags
	 * after it are left to the command. */
	int cmd_at = 1;

	while (cmd_at < argc && strncmp(argv[cmd_at], "--", 2) == 0) {
		if (strchr(argv[cmd_at], '=') == NULL && cmd_at + 1 < argc &&
		    strcmp(argv[cmd_at], "--help") != 0)
			cmd_at++;
		cmd_at++;
	}
	rc = lasync_config_load(tables, cmd_at, argv, "lasyncctl", rest,
				&n_rest, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "lasyncctl: %s\n", err);
		return 2;
	}
	if (lasync_clock_init(err, sizeof(err)) != 0)
		ctl_die("%s", err);
	snprintf(c.client_id, sizeof(c.client_id), "lasyncctl-%d",
		 (int)getpid());
	if (cmd_at >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[cmd_at], commands[i].name) == 0) {
			rc = commands[i].fn(&c, argc - cmd_at - 1,
					    argv + cmd_at + 1);
			lasync_config_free(tables);
			return rc;
		}
	}
	fprintf(stderr, "lasyncctl: unknown command \"%s\"\n", argv[cmd_at]);
	usage(stderr);
	return 2;
}
