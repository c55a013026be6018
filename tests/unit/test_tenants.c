/*
 * test_tenants.c - lib/lasync_tenants.c, the tenants table every process
 * follows, read from a compacted topic on librdkafka's built-in mock
 * cluster (nothing to install), and lasync_follower_skipped().
 *
 * A record the table cannot use - no protobuf, or a TenantConfig under
 * another tenant's key - is skipped and counted in
 * lasync_state_records_skipped_total{topic}; the tenant keeps its previous
 * config, and the records after it are applied, both while loading and
 * while following.  Each wait is a bounded loop: a table that stalls on a
 * bad record fails the test instead of hanging it.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_metrics.h"
#include "lasync_tenant.h"
#include "lasync_tenants.h"

#define TOPIC "t.tenants"

enum kind { VALID, GARBAGE, OTHER_ID, TOMBSTONE };

typedef struct record {
	const char *key;
	enum kind kind;
	const char *tenant_id; /* VALID, OTHER_ID: the TenantConfig's id */
	int64_t revision;
} record;

/* Produced before the table loads: every bad record sits between good
 * ones, and one follows the tenant it would spoil. */
static const record before_load[] = {
	{"alpha", VALID, "alpha", 1},
	{"alpha", GARBAGE, NULL, 0},
	{"ghost", GARBAGE, NULL, 0},
	{"beta", VALID, "beta", 1},
	{"beta", OTHER_ID, "gamma", 5},
	{"gone", VALID, "gone", 1},
};

/* Produced while the table follows: garbage, then a real change. */
static const record while_following[] = {
	{"alpha", GARBAGE, NULL, 0},
	{"alpha", VALID, "alpha", 2},
	{"gone", TOMBSTONE, NULL, 0},
};

static rd_kafka_t *mock_rk, *producer;
static rd_kafka_mock_cluster_t *mock;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* config_bytes - a valid tenant id's TenantConfig (caller frees) */
static uint8_t *config_bytes(const char *id, int64_t revision, size_t *len)
{
	char json[1024], err[256];
	lasync_tenant *t;
	uint8_t *buf;

	snprintf(json, sizeof(json),
		 "{\"tenant_id\":\"%s\",\"brand\":\"basisonline\","
		 "\"brin\":\"99ZZ\",\"dependance\":\"00\","
		 "\"las\":{\"vendor\":\"parnassys\","
		 "\"endpoint\":\"https://las.example.nl/parnassys\","
		 "\"key_ref\":\"env:LAS_KEY\"},"
		 "\"portal\":{\"base_url\":\"https://portal.example.nl/v2\","
		 "\"token_ref\":\"env:TOKEN\"}}",
		 id);
	t = lasync_tenant_from_json(json, strlen(json), err, sizeof(err));
	if (t == NULL) {
		print_error("tenant %s: %s\n", id, err);
		fail();
	}
	t->revision = revision;
	buf = lasync_tenant_encode(t, len);
	lasync_tenant_free(t);
	return buf;
}

static void produce(const record *rs, size_t n)
{
	static const uint8_t garbage[] = "\x0a\xff\xffgarbage: not a record";

	for (size_t i = 0; i < n; i++) {
		const record *r = &rs[i];
		uint8_t *buf = NULL;
		const void *val = NULL;
		size_t len = 0;

		if (r->kind == GARBAGE) {
			val = garbage;
			len = sizeof(garbage) - 1;
		} else if (r->kind != TOMBSTONE) {
			buf = config_bytes(r->tenant_id, r->revision, &len);
			val = buf;
		}
		assert_int_equal(
			rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(TOPIC),
					  RD_KAFKA_V_KEY(r->key,
							 strlen(r->key)),
					  RD_KAFKA_V_VALUE((void *)val, len),
					  RD_KAFKA_V_MSGFLAGS(
						  RD_KAFKA_MSG_F_COPY),
					  RD_KAFKA_V_END),
			RD_KAFKA_RESP_ERR_NO_ERROR);
		free(buf);
	}
	assert_int_equal(rd_kafka_flush(producer, 10000),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* skipped - lasync_state_records_skipped_total{topic=TOPIC} as rendered */
static long skipped(void)
{
	char *all = lasync_metrics_render();
	const char *p = strstr(all, "lasync_state_records_skipped_total{topic=\""
				    TOPIC "\"} ");
	long n = p ? strtol(strchr(p, '}') + 2, NULL, 10) : 0;

	free(all);
	return n;
}

static int64_t revision(lasync_tenants *tt, const char *id)
{
	lasync_tenant *t = lasync_tenants_get(tt, id);

	return t ? t->revision : -1;
}

static int setup(void **state)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];

	(void)state;
	lasync_log_init("test_tenants",
			getenv("TEST_DEBUG") ? LASYNC_LOG_DEBUG
					     : LASYNC_LOG_FATAL);
	rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(mock_rk);
	mock = rd_kafka_mock_cluster_new(mock_rk, 1);
	assert_non_null(mock);
	assert_int_equal(rd_kafka_mock_topic_create(mock, TOPIC, 2, 1),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers",
			  rd_kafka_mock_cluster_bootstraps(mock), NULL, 0);
	rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
	producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(producer);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rd_kafka_destroy(producer);
	rd_kafka_mock_cluster_destroy(mock);
	rd_kafka_destroy(mock_rk);
	return 0;
}

static void test_bad_records_are_skipped_and_followed_past(void **state)
{
	char err[512];
	lasync_tenants *tt;
	unsigned long v;
	int64_t deadline;

	(void)state;
	produce(before_load, sizeof(before_load) / sizeof(before_load[0]));
	tt = lasync_tenants_new(rd_kafka_mock_cluster_bootstraps(mock), TOPIC,
				"test_tenants", err, sizeof(err));
	assert_non_null(tt);
	if (lasync_tenants_load(tt, 15000, err, sizeof(err)) != 0) {
		print_error("load: %s\n", err);
		fail();
	}
	/* Loaded past all three bad records; none undid a good one. */
	assert_int_equal(lasync_tenants_count(tt), 3);
	assert_int_equal(revision(tt, "alpha"), 1);
	assert_int_equal(revision(tt, "beta"), 1);
	assert_int_equal(revision(tt, "gone"), 1);
	assert_null(lasync_tenants_get(tt, "ghost"));
	assert_null(lasync_tenants_get(tt, "gamma"));
	assert_int_equal(skipped(), 3);

	/* Following: garbage, then alpha's change and gone's tombstone. */
	v = lasync_tenants_version(tt);
	produce(while_following,
		sizeof(while_following) / sizeof(while_following[0]));
	deadline = now_ms() + 15000;
	while (lasync_tenants_version(tt) < v + 2 && now_ms() < deadline) {
		struct pollfd pfd = {lasync_tenants_fd(tt), POLLIN, 0};

		poll(&pfd, 1, 100);
		lasync_tenants_poll(tt);
	}
	assert_int_equal(lasync_tenants_version(tt), v + 2);
	assert_int_equal(revision(tt, "alpha"), 2);
	assert_null(lasync_tenants_get(tt, "gone"));
	assert_int_equal(lasync_tenants_count(tt), 2);
	assert_int_equal(skipped(), 4);
	lasync_tenants_free(tt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_records_are_skipped_and_followed_past),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
