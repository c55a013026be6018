/*
 * test_event.c - lib/lasync_event.c: digests (operation and e-mail ids),
 * random event ids, headers, and zstd framing.
 *
 * The digest vectors were computed independently (Python hashlib over
 * little-endian 64-bit length prefixes): they pin the wire format, since
 * every idempotency key in Redis is such a digest and a silent change
 * would redo (or skip) work after an upgrade.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "lasync/v1/sync.pb-c.h"
#include "lasync_arena.h"
#include "lasync_event.h"
#include "lasync_mem.h"

/* A digest input: a list of parts, each a string, NULL, or an integer. */
typedef struct part {
	enum { P_END, P_STR, P_NULL, P_I64 } kind;
	const char *s;
	int64_t v;
} part;

#define S(x) {P_STR, x, 0}
#define NUL {P_NULL, NULL, 0}
#define I(x) {P_I64, NULL, x}
#define END {P_END, NULL, 0}

static void digest_of(const part *p, char out[LASYNC_ID_LEN])
{
	lasync_digest *d = lasync_digest_new();

	for (; p->kind != P_END; p++) {
		if (p->kind == P_STR)
			lasync_digest_add_str(d, p->s);
		else if (p->kind == P_NULL)
			lasync_digest_add_str(d, NULL);
		else
			lasync_digest_add_i64(d, p->v);
	}
	lasync_digest_final(d, out);
}

static void test_digest_known_vectors(void **state)
{
	static const struct {
		const char *name;
		part parts[4];
		const char *want;
	} cases[] = {
		{"nothing", {END}, "e3b0c44298fc1c149afbf4c8996fb924"},
		{"one_string", {S("abc"), END},
		 "ce91dc5eec0139adf091900d225971d6"},
		{"op_like", {S("t1"), I(1000), S("parnassys:student:1"), END},
		 "63cc85cc151a750863fb323a4a39a11b"},
		{"null", {NUL, END}, "12a3ae445661ce5dee78d0650d33362d"},
		{"empty_string", {S(""), END}, "af5570f5a1810b7af78caf4bc70a660f"},
	};
	char got[LASYNC_ID_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		digest_of(cases[i].parts, got);
		if (strcmp(got, cases[i].want) != 0) {
			print_error("%s: got %s, want %s\n", cases[i].name, got,
				    cases[i].want);
			fail();
		}
	}
}

/* pairs of inputs that must give different digests */
static void test_digest_separation(void **state)
{
	static const struct {
		const char *name;
		part a[4], b[4];
	} cases[] = {
		{"length_prefix", {S("ab"), S("c"), END}, {S("a"), S("bc"), END}},
		{"split_vs_joined", {S("abc"), END}, {S("ab"), S("c"), END}},
		{"null_vs_empty", {NUL, END}, {S(""), END}},
		{"null_vs_nothing", {NUL, END}, {END}},
		{"empty_vs_nothing", {S(""), END}, {END}},
		{"order", {S("a"), S("b"), END}, {S("b"), S("a"), END}},
		{"i64_sign", {I(1), END}, {I(-1), END}},
		{"i64_vs_zero", {I(0), END}, {END}},
		{"null_position", {NUL, S("x"), END}, {S("x"), NUL, END}},
	};
	char a[LASYNC_ID_LEN], b[LASYNC_ID_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		digest_of(cases[i].a, a);
		digest_of(cases[i].b, b);
		if (strcmp(a, b) == 0) {
			print_error("%s: got the same digest %s for both, want "
				    "different\n",
				    cases[i].name, a);
			fail();
		}
	}
}

static void test_digest_deterministic(void **state)
{
	static const part p[] = {S("tenant"), I(1764400855123LL), NUL,
				 S("naam \xc3\xa9\n"), END};
	char a[LASYNC_ID_LEN], b[LASYNC_ID_LEN];
	lasync_digest *d;

	(void)state;
	digest_of(p, a);
	digest_of(p, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	/* lasync_digest_add with raw bytes equals add_str of the same */
	d = lasync_digest_new();
	lasync_digest_add(d, "abc", 3);
	lasync_digest_final(d, a);
	assert_string_equal(a, "ce91dc5eec0139adf091900d225971d6");
	/* binary data with NUL bytes is taken whole */
	d = lasync_digest_new();
	lasync_digest_add(d, "a\0b", 3);
	lasync_digest_final(d, b);
	d = lasync_digest_new();
	lasync_digest_add(d, "a\0c", 3);
	lasync_digest_final(d, a);
	assert_string_not_equal(a, b);
}

static void test_random_ids(void **state)
{
	enum { N = 2000 };
	char(*ids)[LASYNC_ID_LEN] = lasync_xcalloc(N, LASYNC_ID_LEN);

	(void)state;
	for (size_t i = 0; i < N; i++) {
		lasync_random_id(ids[i]);
		if (strlen(ids[i]) != 32 ||
		    strspn(ids[i], "0123456789abcdef") != 32) {
			print_error("got id \"%s\", want 32 lowercase hex\n",
				    ids[i]);
			fail();
		}
	}
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0) {
				print_error("ids %zu and %zu are both %s\n", j,
					    i, ids[i]);
				fail();
			}
	free(ids);
}

static void test_header(void **state)
{
	Lasync__V1__Header h;
	char eid[LASYNC_ID_LEN], err[128] = "";

	(void)state;
	lasync_header_fill(&h, eid, "t1", "sync-1", 42, "mapper", 3);
	assert_ptr_equal(h.event_id, eid);
	assert_int_equal(strlen(eid), 32);
	assert_string_equal(h.tenant_id, "t1");
	assert_string_equal(h.sync_id, "sync-1");
	assert_int_equal(h.generation, 42);
	assert_string_equal(h.producer, "mapper");
	assert_int_equal(h.attempt, 3);
	assert_true(h.produced_at_ms > 1700000000000LL);
	assert_int_equal(lasync_header_valid(&h, err, sizeof(err)), 0);

	lasync_header_fill(&h, eid, NULL, NULL, 0, "x", 1);
	assert_string_equal(h.tenant_id, "");
	assert_int_equal(lasync_header_valid(&h, err, sizeof(err)), -1);
	assert_string_equal(err, "event header has no tenant_id");
	lasync_header_fill(&h, eid, "t1", "", 0, "x", 1);
	assert_int_equal(lasync_header_valid(&h, err, sizeof(err)), -1);
	assert_string_equal(err, "event header has no sync_id");
	assert_int_equal(lasync_header_valid(NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "event has no header");
}

/* ---------- zstd ---------- */

static uint8_t *pattern(size_t n)
{
	uint8_t *p = lasync_xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)("<leerling id=\"%zu\"/>\n"[i % 21] ^ (i / 997));
	return p;
}

static void test_zstd_round_trip(void **state)
{
	static const size_t sizes[] = {0, 1, 21, 4096, 1u << 20, 3u << 20};

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *src = pattern(sizes[i]), *z, *back;
		size_t zlen = 0, blen = 12345;
		char err[256] = "";

		z = lasync_zstd_compress(src, sizes[i], 3, &zlen);
		assert_true(zlen > 0);
		back = lasync_zstd_decompress(z, zlen, sizes[i], &blen, err,
					      sizeof(err));
		if (back == NULL || blen != sizes[i] ||
		    memcmp(back, src, sizes[i]) != 0 || back[blen] != '\0') {
			print_error("size %zu: got %s len %zu (err \"%s\"), "
				    "want the input back, NUL-terminated\n",
				    sizes[i], back ? "data" : "NULL", blen,
				    err);
			fail();
		}
		free(back);
		free(z);
		free(src);
	}
}

/* fresh_frame - what a new context with lasync's parameters makes of src */
static uint8_t *fresh_frame(const void *src, size_t n, int level, size_t *len)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(n) + 4;
	uint8_t *dst = lasync_xmalloc(cap);

	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	*len = ZSTD_compress2(c, dst, cap, src, n);
	assert_false(ZSTD_isError(*len));
	ZSTD_freeCCtx(c);
	return dst;
}

/* The context lasync_zstd_compress keeps per thread must not show in its
 * frames: the mapper's fast path compares a snapshot's compressed bytes
 * with the night before, so the same document at the same level gives
 * the same frame whatever was compressed (larger, smaller, another
 * level) in between. */
static void test_zstd_kept_context_is_invisible(void **state)
{
	static const struct {
		size_t size;
		int level;
	} seq[] = {{4096, 3},    {3u << 20, 3}, {4096, 3},	{300000, 19},
		   {300000, 1}, {4096, 3},     {3u << 20, 3}, {21, 3}};

	(void)state;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint8_t *src = pattern(seq[i].size), *got, *want;
		size_t got_len = 0, want_len = 0;

		got = lasync_zstd_compress(src, seq[i].size, seq[i].level,
					   &got_len);
		want = fresh_frame(src, seq[i].size, seq[i].level, &want_len);
		if (got_len != want_len || memcmp(got, want, got_len) != 0) {
			print_error("step %zu (%zu bytes, level %d): frame of "
				    "%zu bytes differs from a new context's "
				    "%zu\n",
				    i, seq[i].size, seq[i].level, got_len,
				    want_len);
			fail();
		}
		free(want);
		free(got);
		free(src);
	}
}

/* frame_without_size - a valid frame that does not declare its size */
static uint8_t *frame_without_size(const void *src, size_t n, size_t *len)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(n);
	uint8_t *dst = lasync_xmalloc(cap);
	ZSTD_inBuffer in = {src, n, 0};
	ZSTD_outBuffer out = {dst, cap, 0};

	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	assert_int_equal(ZSTD_compressStream2(c, &out, &in, ZSTD_e_end), 0);
	ZSTD_freeCCtx(c);
	*len = out.pos;
	return dst;
}

/* header_len - the shortest prefix of a frame that declares its size */
static size_t header_len(const uint8_t *z, size_t len)
{
	size_t k = 1;

	while (k < len && ZSTD_getFrameContentSize(z, k) >=
				  ZSTD_CONTENTSIZE_ERROR)
		k++;
	return k;
}

static void test_zstd_errors(void **state)
{
	size_t big = 4u << 20, zlen, nosize_len, two_len;
	uint8_t *zeros = lasync_xcalloc(1, big);
	uint8_t *bomb = lasync_zstd_compress(zeros, big, 19, &zlen);
	uint8_t *small = pattern(5000), *zs, *nosize, *two;
	size_t zs_len;
	static const uint8_t garbage[] = "this is not zstd at all";

	(void)state;
	zs = lasync_zstd_compress(small, 5000, 3, &zs_len);
	nosize = frame_without_size(small, 5000, &nosize_len);
	/* two frames back to back: more than the first frame declares */
	two_len = zs_len * 2;
	two = lasync_xmalloc(two_len);
	memcpy(two, zs, zs_len);
	memcpy(two + zs_len, zs, zs_len);

	const struct {
		const char *name;
		const void *src;
		size_t len, max;
		const char *want;
	} cases[] = {
		/* a 4 MiB document in a few hundred bytes is refused before
		 * anything is allocated for it */
		{"over_max", bomb, zlen, big - 1,
		 "document of 4194304 bytes exceeds the limit of 4194303"},
		{"over_small_max", zs, zs_len, 4999, "exceeds the limit of 4999"},
		{"garbage", garbage, sizeof(garbage) - 1, 1 << 20,
		 "not a zstd frame"},
		{"empty_input", garbage, 0, 1 << 20, "not a zstd frame"},
		{"truncated", zs, zs_len - 4, 1 << 20, "corrupt zstd frame"},
		{"header_only", zs, header_len(zs, zs_len), 1 << 20,
		 "corrupt zstd frame"},
		{"header_cut", zs, 3, 1 << 20, "not a zstd frame"},
		{"no_content_size", nosize, nosize_len, 1 << 20,
		 "zstd frame without content size"},
		{"two_frames", two, two_len, 1 << 20, "corrupt zstd frame"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		size_t out_len = 777;
		uint8_t *got = lasync_zstd_decompress(cases[i].src,
						      cases[i].len,
						      cases[i].max, &out_len,
						      err, sizeof(err));

		if (got != NULL || strstr(err, cases[i].want) == NULL) {
			print_error("%s: got %s err \"%s\", want NULL with "
				    "\"%s\"\n",
				    cases[i].name, got ? "data" : "NULL", err,
				    cases[i].want);
			free(got);
			fail();
		}
	}
	/* a flipped byte in the compressed data is caught (checksums or
	 * structure), never returned as data */
	uint8_t *flip = lasync_xmalloc(zs_len);

	memcpy(flip, zs, zs_len);
	flip[zs_len / 2] ^= 0x5a;
	{
		char err[256] = "";
		size_t out_len = 0;
		uint8_t *got = lasync_zstd_decompress(flip, zs_len, 1 << 20,
						      &out_len, err,
						      sizeof(err));

		if (got != NULL && memcmp(got, small, 5000) != 0) {
			print_error("flipped byte: got different data back, "
				    "want an error\n");
			fail();
		}
		free(got);
	}
	free(flip);
	free(two);
	free(nosize);
	free(zs);
	free(small);
	free(bomb);
	free(zeros);
}

/* ---------- protobuf into an arena ---------- */

/* A ChangeSet decoded through lasync_arena_protobuf is the message that
 * was packed (it packs back to the same bytes), lives in the arena, and
 * is freed with it (ASan: no leak, no free of arena memory). */
static void test_protobuf_arena(void **state)
{
	Lasync__V1__ChangeSet cs = LASYNC__V1__CHANGE_SET__INIT;
	Lasync__V1__Header h = LASYNC__V1__HEADER__INIT;
	Lasync__V1__Operation ops[3], *opp[3];
	Lasync__V1__Attr av[3], *avp[3];
	char eid[LASYNC_ID_LEN], ext[3][16];
	uint8_t *buf, *again;
	size_t len;
	ProtobufCAllocator pba;
	lasync_arena *a;
	Lasync__V1__ChangeSet *got;

	(void)state;
	lasync_header_fill(&h, eid, "t1", "s1", 7, "mapper", 1);
	for (int i = 0; i < 3; i++) {
		lasync__v1__operation__init(&ops[i]);
		lasync__v1__attr__init(&av[i]);
		snprintf(ext[i], sizeof(ext[i]), "ext-%d", i);
		ops[i].external_id = ext[i];
		ops[i].op_id = ext[i];
		av[i].path = "displayName";
		av[i].json = "\"Leerling\"";
		avp[i] = &av[i];
		ops[i].n_set = 1;
		ops[i].set = &avp[i];
		opp[i] = &ops[i];
	}
	cs.header = &h;
	cs.part = 1;
	cs.parts = 1;
	cs.n_ops = 3;
	cs.ops = opp;
	len = lasync__v1__change_set__get_packed_size(&cs);
	buf = lasync_xmalloc(len);
	lasync__v1__change_set__pack(&cs, buf);

	a = lasync_arena_new_chunk(3 * len);
	lasync_arena_protobuf(a, &pba);
	got = lasync__v1__change_set__unpack(&pba, len, buf);
	assert_non_null(got);
	assert_true(lasync_arena_used(a) > 0);
	assert_int_equal(got->n_ops, 3);
	assert_string_equal(got->ops[2]->external_id, "ext-2");
	assert_string_equal(got->ops[1]->set[0]->json, "\"Leerling\"");
	assert_string_equal(got->header->tenant_id, "t1");
	assert_int_equal(lasync__v1__change_set__get_packed_size(got), len);
	again = lasync_xmalloc(len);
	lasync__v1__change_set__pack(got, again);
	assert_memory_equal(again, buf, len);
	/* undecodable bytes: NULL, and what it took goes with the arena */
	assert_null(lasync__v1__change_set__unpack(&pba, len - 1, buf));
	lasync_arena_free(a);
	free(again);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_known_vectors),
		cmocka_unit_test(test_digest_separation),
		cmocka_unit_test(test_digest_deterministic),
		cmocka_unit_test(test_random_ids),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_zstd_round_trip),
		cmocka_unit_test(test_zstd_kept_context_is_invisible),
		cmocka_unit_test(test_zstd_errors),
		cmocka_unit_test(test_protobuf_arena),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
