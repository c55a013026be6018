/*
 * test_applier_bulk.c - SCIM Bulk in the applier (applier_bulk.c): the
 * limits a ServiceProviderConfig announces, BulkRequests built within
 * them, and each operation's result in a BulkResponse judged as a single
 * request's answer would be (applier_scim_judge).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applier.h"

static json_t *user_doc(int i, size_t pad)
{
	char ext[64], un[80];
	char *filler = malloc(pad + 1);
	json_t *d;

	memset(filler, 'x', pad);
	filler[pad] = '\0';
	snprintf(ext, sizeof(ext), "parnassys:student:%06d", i);
	snprintf(un, sizeof(un), "lasync:%s", ext);
	d = json_pack("{s:[s],s:s,s:s,s:s}", "schemas",
		      "urn:ietf:params:scim:schemas:core:2.0:User",
		      "externalId", ext, "userName", un, "displayName", filler);
	free(filler);
	return d;
}

static void test_limits_from_service_provider_config(void **unused)
{
	static const struct {
		const char *spc;
		bool supported;
		size_t ops, bytes;
	} rows[] = {
		/* the test portal: its 1,000 above our ceiling */
		{"{\"bulk\":{\"supported\":true,\"maxOperations\":1000,"
		 "\"maxPayloadSize\":1048576}}",
		 true, 250, 1048576},
		{"{\"bulk\":{\"supported\":true,\"maxOperations\":100,"
		 "\"maxPayloadSize\":1048576}}",
		 true, 100, 1048576},
		{"{\"bulk\":{\"supported\":false,\"maxOperations\":1000,"
		 "\"maxPayloadSize\":1048576}}",
		 false, 0, 0},
		{"{\"patch\":{\"supported\":true}}", false, 0, 0},
		{"{}", false, 0, 0},
		/* one operation per Bulk gains nothing */
		{"{\"bulk\":{\"supported\":true,\"maxOperations\":1,"
		 "\"maxPayloadSize\":1048576}}",
		 false, 0, 0},
		{"{\"bulk\":{\"supported\":true,\"maxOperations\":100,"
		 "\"maxPayloadSize\":100}}",
		 false, 0, 0},
		/* "true" as a string is not true; sizes as strings are none */
		{"{\"bulk\":{\"supported\":\"true\",\"maxOperations\":100,"
		 "\"maxPayloadSize\":100000}}",
		 false, 0, 0},
		{"{\"bulk\":{\"supported\":true,\"maxOperations\":\"100\","
		 "\"maxPayloadSize\":100000}}",
		 false, 0, 0},
		/* our own ceilings */
		{"{\"bulk\":{\"supported\":true,\"maxOperations\":50000,"
		 "\"maxPayloadSize\":1073741824}}",
		 true, 250, 16u * 1024u * 1024u},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *spc = json_loads(rows[i].spc, 0, NULL);
		applier_bulk_limits l;

		assert_non_null(spc);
		applier_bulk_limits_parse(spc, &l);
		if (l.supported != rows[i].supported ||
		    l.max_ops != rows[i].ops || l.max_payload != rows[i].bytes)
			fail_msg("row %zu: got %d/%zu/%zu", i, l.supported,
				 l.max_ops, l.max_payload);
		json_decref(spc);
	}
	applier_bulk_limits_parse(NULL, &(applier_bulk_limits){0});
}

/* A Bulk waits longer the more operations it carries, up to twice the
 * portal timeout; one of a single operation waits about as a request. */
static void test_bulk_timeout_grows_with_operations(void **unused)
{
	long one, small, full;

	(void)unused;
	one = applier_bulk_timeout_ms(30000, 1);
	small = applier_bulk_timeout_ms(30000, 25);
	full = applier_bulk_timeout_ms(30000, 250);
	assert_true(one >= 30000 && one < 30200);
	assert_true(small > one);
	assert_int_equal(full, 60000);
	/* a Bulk never holds more than BULK_MAX_OPS: no timeout beyond it */
	assert_int_equal(applier_bulk_timeout_ms(30000, 1000), full);
	/* an operator's shorter timeout stays shorter for a Bulk */
	assert_int_equal(applier_bulk_timeout_ms(1500, 25), 1650);
	assert_int_equal(applier_bulk_timeout_ms(1500, 250), 3000);
}

/* add_doc - applier_bulk_batch_add with the data as a jansson document */
static bulk_add add_doc(applier_bulk_batch *b, const char *method,
			const char *path, const char *bulk_id, const json_t *d)
{
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	bulk_add r = applier_bulk_batch_add(b, method, path, bulk_id, text);

	free(text);
	return r;
}

/* fill - add n creates to batches of l, sending (checking) each full one;
 * returns the number of BulkRequests, each checked against the limits and
 * parsed back: every operation once, in order */
static size_t fill(const applier_bulk_limits *l, int n, size_t pad)
{
	applier_bulk_batch *b = applier_bulk_batch_new(l);
	size_t requests = 0;
	int next_seen = 0, i = 0;

	for (;;) {
		bool last = i == n;
		bulk_add r = BULK_ADDED;
		char bid[16];
		json_t *d = NULL;

		if (!last) {
			d = user_doc(i, pad);
			snprintf(bid, sizeof(bid), "w%d", i);
			r = add_doc(b, "POST", "/Users", bid, d);
			assert_int_not_equal(r, BULK_TOO_BIG);
		}
		if (last || r == BULK_FULL) {
			size_t len;
			const char *body = applier_bulk_batch_body(b, &len);
			json_t *req = json_loadb(body, len, 0, NULL);
			json_t *ops = json_object_get(req, "Operations"), *op;
			size_t k;

			assert_int_equal(len, strlen(body));
			assert_int_equal(len, applier_bulk_batch_bytes(b));
			assert_true(len <= l->max_payload);
			assert_true(applier_bulk_batch_count(b) <= l->max_ops);
			assert_non_null(req);
			assert_string_equal(
				json_string_value(json_array_get(
					json_object_get(req, "schemas"), 0)),
				"urn:ietf:params:scim:api:messages:2.0:"
				"BulkRequest");
			assert_int_equal(json_array_size(ops),
					 applier_bulk_batch_count(b));
			json_array_foreach(ops, k, op) {
				char want[16];

				snprintf(want, sizeof(want), "w%d", next_seen++);
				assert_string_equal(json_string_value(json_object_get(
							    op, "bulkId")),
						    want);
				assert_string_equal(json_string_value(json_object_get(
							    op, "method")),
						    "POST");
				assert_non_null(json_object_get(
					json_object_get(op, "data"), "userName"));
			}
			json_decref(req);
			if (applier_bulk_batch_count(b) > 0)
				requests++;
			applier_bulk_batch_free(b);
			if (last) {
				json_decref(d);
				break;
			}
			b = applier_bulk_batch_new(l);
			assert_int_equal(add_doc(b, "POST",
								"/Users", bid, d),
					 BULK_ADDED);
		}
		json_decref(d);
		i++;
	}
	assert_int_equal(next_seen, n);
	return requests;
}

static void test_requests_split_by_max_operations(void **unused)
{
	applier_bulk_limits l = {true, 1000, 1048576};
	applier_bulk_limits small = {true, 7, 1048576};

	(void)unused;
	/* 2,500 small creates: 1000 + 1000 + 500 */
	assert_int_equal(fill(&l, 2500, 10), 3);
	assert_int_equal(fill(&l, 1000, 10), 1);
	assert_int_equal(fill(&l, 1001, 10), 2);
	assert_int_equal(fill(&small, 50, 10), 8);
	assert_int_equal(fill(&l, 0, 10), 0);
}

/* per_request - how many creates of this padding fit max bytes, from the
 * size of a BulkRequest of one and of two */
static size_t per_request(size_t pad, size_t max)
{
	applier_bulk_limits l = {true, 1000, 1u << 30};
	applier_bulk_batch *b = applier_bulk_batch_new(&l);
	json_t *d = user_doc(1, pad);
	size_t one, two;

	add_doc(b, "POST", "/Users", "w1", d);
	one = applier_bulk_batch_bytes(b);
	add_doc(b, "POST", "/Users", "w2", d);
	two = applier_bulk_batch_bytes(b);
	json_decref(d);
	applier_bulk_batch_free(b);
	/* one + k * (two - one) <= max, for bulkIds of equal length */
	return 1 + (max - one) / (two - one);
}

static void test_requests_split_by_max_payload(void **unused)
{
	/* creates of some 1,200 bytes: 8 fit in 10,000 */
	applier_bulk_limits l = {true, 1000, 10000};
	applier_bulk_limits mib = {true, 1000, 1048576};
	size_t k;

	(void)unused;
	k = per_request(1000, 10000);
	assert_int_equal(k, 8);
	/* the bulkIds w0..w99 differ in length by a byte or two: within
	 * one request of the exact count */
	assert_true(fill(&l, 100, 1000) >= (100 + k - 1) / k);
	assert_true(fill(&l, 100, 1000) <= (100 + k - 1) / k + 1);
	/* 1,000 creates of ~2.2 kB do not fit one MiB: split by size
	 * before maxOperations counts */
	k = per_request(2000, 1048576);
	assert_true(k < 1000);
	assert_int_equal(fill(&mib, 1000, 2000), (1000 + k - 1) / k);
}

static void test_operation_larger_than_a_bulk(void **unused)
{
	applier_bulk_limits l = {true, 1000, 4096};
	applier_bulk_batch *b = applier_bulk_batch_new(&l);
	json_t *big = user_doc(1, 5000), *small = user_doc(2, 10);
	size_t len;

	(void)unused;
	/* alone it never fits: the caller sends it as a single request */
	assert_int_equal(add_doc(b, "POST", "/Users", "w1", big),
			 BULK_TOO_BIG);
	assert_int_equal(applier_bulk_batch_count(b), 0);
	assert_int_equal(add_doc(b, "POST", "/Users", "w2",
						small),
			 BULK_ADDED);
	/* after other operations it is FULL (send those, then alone) */
	assert_int_equal(add_doc(b, "POST", "/Users", "w1", big),
			 BULK_FULL);
	/* the body is still the one operation, and valid */
	json_t *req = json_loads(applier_bulk_batch_body(b, &len), 0, NULL);

	assert_non_null(req);
	assert_int_equal(json_array_size(json_object_get(req, "Operations")), 1);
	/* a PATCH carries its PatchOp as data, at the resource's path */
	json_t *patch = json_pack("{s:[s],s:[{s:s,s:s,s:b}]}", "schemas",
				  "urn:ietf:params:scim:api:messages:2.0:PatchOp",
				  "Operations", "op", "replace", "path",
				  "active", "value", 0);

	assert_int_equal(add_doc(b, "PATCH", "/Users/abc", "w3",
						patch),
			 BULK_ADDED);
	json_decref(req);
	req = json_loads(applier_bulk_batch_body(b, &len), 0, NULL);
	json_t *op = json_array_get(json_object_get(req, "Operations"), 1);

	assert_string_equal(json_string_value(json_object_get(op, "method")),
			    "PATCH");
	assert_string_equal(json_string_value(json_object_get(op, "path")),
			    "/Users/abc");
	assert_true(json_equal(json_object_get(op, "data"), patch));
	json_decref(req);
	json_decref(patch);
	json_decref(big);
	json_decref(small);
	applier_bulk_batch_free(b);
}

/* verdicts - parse body for the bulkIds w0..w(n-1) (the first create is
 * data, the rest PATCHes) and judge each result as applier_scim_judge
 * does a single answer; id[] gets the created resource's id, or "" */
static int verdicts(const char *body, size_t n, const json_t *data,
		    scim_verdict *v, char (*reason)[128], char *id,
		    size_t idlen)
{
	const char *ids[16];
	char names[16][24];
	applier_bulk_reply reps[16];
	char err[128];

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "w%zu", i);
		ids[i] = names[i];
	}
	if (applier_bulk_parse(body, strlen(body), ids, n, reps, err,
			       sizeof(err)) != 0)
		return -1;
	id[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		lasync_http_result r;
		char *text;

		char *sent = i == 0 && data ? json_dumps(data, JSON_COMPACT)
					    : NULL;

		applier_bulk_result(&reps[i], sent, &r, &text);
		free(sent);
		v[i] = applier_scim_judge(&r, reason[i], sizeof(reason[i]));
		if (i == 0 && v[i] == SCIM_OK) {
			json_t *doc = json_loadb(r.body, r.len, 0, NULL);
			const char *rid =
				json_string_value(json_object_get(doc, "id"));

			snprintf(id, idlen, "%s", rid ? rid : "");
			/* what was sent comes back, under the new id */
			assert_string_equal(
				json_string_value(json_object_get(doc,
								  "userName")),
				"lasync:parnassys:student:000001");
			json_decref(doc);
		}
		free(text);
		applier_bulk_reply_clear(&reps[i]);
	}
	return 0;
}

#define ERR(st, type)                                                          \
	"\"response\":{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:"  \
	"Error\"],\"status\":\"" st "\"" type ",\"detail\":\"Anna de Vries\"}"

static void test_response_maps_back_to_each_operation(void **unused)
{
	json_t *data = user_doc(1, 4);
	scim_verdict v[8];
	char reason[8][128];
	char id[64];

	(void)unused;
	/* all succeed (order of the response is not the request's) */
	assert_int_equal(
		verdicts("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:"
			 "BulkResponse\"],\"Operations\":["
			 "{\"method\":\"PATCH\",\"bulkId\":\"w1\",\"status\":"
			 "\"200\",\"location\":\"https://p/t/v2/Users/u9\"},"
			 "{\"method\":\"POST\",\"bulkId\":\"w0\",\"status\":"
			 "\"201\",\"location\":\"https://p/t/v2/Users/"
			 "0123abcd\",\"version\":\"W/\\\"3\\\"\"}]}",
			 2, data, v, reason, id, sizeof(id)),
		0);
	assert_int_equal(v[0], SCIM_OK);
	assert_int_equal(v[1], SCIM_OK);
	assert_string_equal(id, "0123abcd");

	/* a response body with the resource: its id counts */
	assert_int_equal(
		verdicts("{\"Operations\":[{\"bulkId\":\"w0\",\"status\":201,"
			 "\"location\":\"https://p/Users/x\",\"response\":"
			 "{\"id\":\"fromresponse\"}}]}",
			 1, data, v, reason, id, sizeof(id)),
		0);
	assert_int_equal(v[0], SCIM_OK);
	assert_string_equal(id, "fromresponse");

	/* per operation: 409 (the create's conflict handling), 400
	 * (permanent), 404 (a stale id), 503 and 429 (transient); the
	 * reason carries status and scimType, never the detail */
	assert_int_equal(
		verdicts("{\"Operations\":["
			 "{\"bulkId\":\"w0\",\"status\":\"409\"," ERR(
				 "409", ",\"scimType\":\"uniqueness\"") "},"
			 "{\"bulkId\":\"w1\",\"status\":\"400\"," ERR(
				 "400", ",\"scimType\":\"invalidPath\"") "},"
			 "{\"bulkId\":\"w2\",\"status\":\"404\"," ERR(
				 "404", "") "},"
			 "{\"bulkId\":\"w3\",\"status\":\"503\"," ERR(
				 "503", "") "},"
			 "{\"bulkId\":\"w4\",\"status\":\"429\"," ERR(
				 "429", "") "},"
			 "{\"bulkId\":\"w5\",\"status\":\"204\"}]}",
			 6, data, v, reason, id, sizeof(id)),
		0);
	assert_int_equal(v[0], SCIM_CONFLICT);
	assert_string_equal(reason[0],
			    "portal answered HTTP 409 scimType=uniqueness");
	assert_int_equal(v[1], SCIM_PERMANENT);
	assert_string_equal(reason[1],
			    "portal answered HTTP 400 scimType=invalidPath");
	assert_int_equal(v[2], SCIM_NOT_FOUND);
	assert_int_equal(v[3], SCIM_TRANSIENT);
	assert_int_equal(v[4], SCIM_TRANSIENT);
	assert_int_equal(v[5], SCIM_OK);
	for (int i = 0; i < 6; i++)
		assert_null(strstr(reason[i], "Anna"));

	/* failOnErrors: the operations after the failure did not run; no
	 * result is transient (the retry looks up what may exist) */
	assert_int_equal(
		verdicts("{\"Operations\":["
			 "{\"bulkId\":\"w0\",\"status\":\"201\",\"location\":"
			 "\"https://p/Users/a1\"},"
			 "{\"bulkId\":\"w1\",\"status\":\"400\"," ERR(
				 "400", ",\"scimType\":\"invalidValue\"") "}]}",
			 4, data, v, reason, id, sizeof(id)),
		0);
	assert_int_equal(v[0], SCIM_OK);
	assert_int_equal(v[1], SCIM_PERMANENT);
	assert_int_equal(v[2], SCIM_TRANSIENT);
	assert_int_equal(v[3], SCIM_TRANSIENT);

	/* results we cannot use count as missing: no bulkId, someone
	 * else's bulkId, a status that is no status; a second result for
	 * one operation is ignored */
	assert_int_equal(
		verdicts("{\"Operations\":["
			 "{\"status\":\"201\",\"location\":\"https://p/Users/a\"},"
			 "{\"bulkId\":\"zz\",\"status\":\"201\"},"
			 "{\"bulkId\":\"w1\",\"status\":\"OK\"},"
			 "{\"bulkId\":\"w2\",\"status\":\"200\"},"
			 "{\"bulkId\":\"w2\",\"status\":\"500\"}]}",
			 3, data, v, reason, id, sizeof(id)),
		0);
	assert_int_equal(v[0], SCIM_TRANSIENT);
	assert_int_equal(v[1], SCIM_TRANSIENT);
	assert_int_equal(v[2], SCIM_OK);

	/* a created resource without any id: as a single create without
	 * one (the op calls that permanent) */
	assert_int_equal(verdicts("{\"Operations\":[{\"bulkId\":\"w0\","
				  "\"status\":\"201\"}]}",
				  1, data, v, reason, id, sizeof(id)),
			 0);
	assert_int_equal(v[0], SCIM_OK);
	assert_string_equal(id, "");
	json_decref(data);
}

static void test_malformed_response(void **unused)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{}",
		"{\"Operations\":{}}",
		"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
		"\"status\":\"400\"}",
	};
	const char *ids[] = {"w0"};
	applier_bulk_reply rep;
	char err[128];

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (applier_bulk_parse(bad[i], strlen(bad[i]), ids, 1, &rep, err,
				       sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(rep.status, 0);
	}
	/* a well-formed but empty response: every operation missing */
	assert_int_equal(applier_bulk_parse("{\"Operations\":[]}", 17, ids, 1,
					    &rep, err, sizeof(err)),
			 0);
	assert_int_equal(rep.status, 0);
	lasync_http_result r;
	char *text;
	char reason[128];

	applier_bulk_result(&rep, NULL, &r, &text);
	assert_int_equal(applier_scim_judge(&r, reason, sizeof(reason)),
			 SCIM_TRANSIENT);
	free(text);
}

/* created - the body applier_bulk_result gives a 201 for what was sent,
 * with the portal's id (or location) */
static json_t *created(const char *sent, const char *id, const char *loc)
{
	applier_bulk_reply rep = {201, id ? strdup(id) : NULL, NULL,
				  loc ? strdup(loc) : NULL};
	lasync_http_result r;
	char *text;
	json_error_t e;
	json_t *doc;

	applier_bulk_result(&rep, sent, &r, &text);
	assert_int_equal(r.status, 201);
	doc = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &e);
	if (doc == NULL)
		fail_msg("not JSON (%s): %.*s", e.text, (int)r.len, r.body);
	free(text);
	applier_bulk_reply_clear(&rep);
	return doc;
}

static void test_created_resource_carries_the_portal_id(void **unused)
{
	json_t *doc;

	(void)unused;
	/* what was sent, with the id the portal gave, escaped */
	doc = created("{\"userName\":\"lasync:x\",\"active\":true}",
		      "a\"b\\c", NULL);
	assert_string_equal(json_string_value(json_object_get(doc, "id")),
			    "a\"b\\c");
	assert_string_equal(
		json_string_value(json_object_get(doc, "userName")),
		"lasync:x");
	assert_true(json_is_true(json_object_get(doc, "active")));
	json_decref(doc);
	/* an empty object, and the id from the location */
	doc = created("{}", NULL, "https://p/t/v2/Users/u42");
	assert_string_equal(json_string_value(json_object_get(doc, "id")),
			    "u42");
	assert_int_equal(json_object_size(doc), 1);
	json_decref(doc);
	/* an id in the data gives way to the portal's */
	doc = created("{\"id\":\"mine\",\"userName\":\"u\"}", "theirs",
		      NULL);
	assert_string_equal(json_string_value(json_object_get(doc, "id")),
			    "theirs");
	json_decref(doc);
	/* no id at all: what was sent (on_create refuses it) */
	doc = created("{\"userName\":\"u\"}", NULL, NULL);
	assert_null(json_object_get(doc, "id"));
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_from_service_provider_config),
		cmocka_unit_test(test_bulk_timeout_grows_with_operations),
		cmocka_unit_test(test_requests_split_by_max_operations),
		cmocka_unit_test(test_requests_split_by_max_payload),
		cmocka_unit_test(test_operation_larger_than_a_bulk),
		cmocka_unit_test(test_response_maps_back_to_each_operation),
		cmocka_unit_test(test_malformed_response),
		cmocka_unit_test(test_created_resource_carries_the_portal_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
