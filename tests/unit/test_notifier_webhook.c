/*
 * test_notifier_webhook.c - services/notifier/notifier_webhook.c: the
 * X-Lasync-Signature check of R21 (HMAC-SHA256 over "<t>.<body>" with the
 * tenant's secret, constant-time comparison, 5 minutes either way).
 *
 * Expected MACs are computed here with OpenSSL directly, not with the code
 * under test.  The HTTP side (status codes, nothing queued) is exercised
 * end to end in tests/e2e/test_e2e_notifier.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lasync_mem.h"
#include "notifier.h"

#define SECRET "whsec-test"
#define BODY "{\"suggestionId\":\"s-1\"}"
#define NOW 1795940455LL

/* mac - hex HMAC-SHA256(secret, "<t>.<body>"), computed independently */
static void mac(const char *secret, long long t, const char *body,
		char out[65])
{
	char *msg = lasync_xasprintf("%lld.%s", t, body);
	unsigned char m[32];
	unsigned int ml = 32;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	     (const unsigned char *)msg, strlen(msg), m, &ml);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", m[i]);
	free(msg);
}

static void test_r21_signature_cases(void **state)
{
	char good[65], other[65], upper[65], stale[65], future[65], edge[65];
	char h[32][300];
	struct {
		const char *name;
		const char *header;
		notifier_sig_result want;
	} cases[32];
	size_t n = 0;

	(void)state;
	mac(SECRET, NOW, BODY, good);
	mac("another-secret", NOW, BODY, other);
	mac(SECRET, NOW - 301, BODY, stale);
	mac(SECRET, NOW + 301, BODY, future);
	mac(SECRET, NOW - 300, BODY, edge);
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(good[i] >= 'a' && good[i] <= 'f'
					  ? good[i] - 32
					  : good[i]);
#define ROW(nm, want_, ...)                                                \
	do {                                                               \
		snprintf(h[n], sizeof(h[n]), __VA_ARGS__);                 \
		cases[n].name = nm;                                        \
		cases[n].header = h[n];                                    \
		cases[n].want = want_;                                     \
		n++;                                                       \
	} while (0)
	ROW("valid", NOTIFIER_SIG_OK, "t=%lld,v1=%s", NOW, good);
	ROW("valid, spaces", NOTIFIER_SIG_OK, "t=%lld, v1=%s", NOW, good);
	ROW("valid, upper-case hex", NOTIFIER_SIG_OK, "t=%lld,v1=%s", NOW,
	    upper);
	ROW("valid among two (rotation)", NOTIFIER_SIG_OK,
	    "t=%lld,v1=%s,v1=%s", NOW, other, good);
	ROW("unknown scheme ignored", NOTIFIER_SIG_OK, "t=%lld,v0=abc,v1=%s",
	    NOW, good);
	ROW("exactly 300 s old", NOTIFIER_SIG_OK, "t=%lld,v1=%s", NOW - 300,
	    edge);
	ROW("wrong secret", NOTIFIER_SIG_MISMATCH, "t=%lld,v1=%s", NOW, other);
	ROW("time not signed", NOTIFIER_SIG_MISMATCH, "t=%lld,v1=%s", NOW + 1,
	    good);
	ROW("301 s old", NOTIFIER_SIG_STALE, "t=%lld,v1=%s", NOW - 301, stale);
	ROW("301 s ahead", NOTIFIER_SIG_STALE, "t=%lld,v1=%s", NOW + 301,
	    future);
	ROW("empty", NOTIFIER_SIG_MISSING, "%s", "");
	ROW("no t", NOTIFIER_SIG_MALFORMED, "v1=%s", good);
	ROW("no v1", NOTIFIER_SIG_MALFORMED, "t=%lld", NOW);
	ROW("t twice", NOTIFIER_SIG_MALFORMED, "t=%lld,t=%lld,v1=%s", NOW, NOW,
	    good);
	ROW("t not a number", NOTIFIER_SIG_MALFORMED, "t=12a,v1=%s", good);
	ROW("t negative", NOTIFIER_SIG_MALFORMED, "t=-5,v1=%s", good);
	ROW("short hex", NOTIFIER_SIG_MALFORMED, "t=%lld,v1=%.62s", NOW, good);
	ROW("non-hex", NOTIFIER_SIG_MALFORMED, "t=%lld,v1=%.63sz", NOW, good);
	ROW("no equals", NOTIFIER_SIG_MALFORMED, "t%lld,v1=%s", NOW, good);
	ROW("sha1-style", NOTIFIER_SIG_MALFORMED, "sha256=%s", good);
#undef ROW
	for (size_t i = 0; i < n; i++) {
		notifier_sig_result got = notifier_sig_check(
			cases[i].header, SECRET, BODY, strlen(BODY), NOW, 300);

		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, got,
				 cases[i].want);
	}
	assert_int_equal(notifier_sig_check(NULL, SECRET, BODY, strlen(BODY),
					    NOW, 300),
			 NOTIFIER_SIG_MISSING);
}

static void test_r21_signature_covers_every_body_byte(void **state)
{
	char good[65], *hdr;
	const char other[] = "{\"suggestionId\":\"s-2\"}";

	(void)state;
	mac(SECRET, NOW, BODY, good);
	hdr = lasync_xasprintf("t=%lld,v1=%s", NOW, good);
	assert_int_equal(notifier_sig_check(hdr, SECRET, other, strlen(other),
					    NOW, 300),
			 NOTIFIER_SIG_MISMATCH);
	assert_int_equal(notifier_sig_check(hdr, SECRET, BODY,
					    strlen(BODY) - 1, NOW, 300),
			 NOTIFIER_SIG_MISMATCH);
	free(hdr);
}

static void test_sign_matches_check(void **state)
{
	char *hdr = notifier_sig_sign(SECRET, NOW, BODY, strlen(BODY));
	char good[65], want[120];

	(void)state;
	mac(SECRET, NOW, BODY, good);
	snprintf(want, sizeof(want), "t=%lld,v1=%s", NOW, good);
	assert_string_equal(hdr, want);
	assert_int_equal(notifier_sig_check(hdr, SECRET, BODY, strlen(BODY),
					    NOW, 300),
			 NOTIFIER_SIG_OK);
	free(hdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r21_signature_cases),
		cmocka_unit_test(test_r21_signature_covers_every_body_byte),
		cmocka_unit_test(test_sign_matches_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
