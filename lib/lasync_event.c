/*
 * lasync_event.c - ids, headers, digests, zstd (see lasync_event.h).
 */
#include "lasync_event.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <zstd.h>

#include "lasync_clock.h"
#include "lasync_mem.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

void lasync_random_id(char out[LASYNC_ID_LEN])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);

		if (r <= 0)
			lasync_panic_oom(); /* the kernel refused entropy */
		got += (size_t)r;
	}
	hex(b, sizeof(b), out);
}

void lasync_header_fill(Lasync__V1__Header *h, char event_id[LASYNC_ID_LEN],
			const char *tenant_id, const char *sync_id,
			int64_t generation, const char *producer,
			uint32_t attempt)
{
	lasync__v1__header__init(h);
	lasync_random_id(event_id);
	h->tenant_id = (char *)(tenant_id ? tenant_id : "");
	h->event_id = event_id;
	h->sync_id = (char *)(sync_id ? sync_id : "");
	h->generation = generation;
	h->produced_at_ms = lasync_now_ms();
	h->producer = (char *)producer;
	h->attempt = attempt;
}

int lasync_header_valid(const Lasync__V1__Header *h, char *err,
			size_t errlen)
{
	if (h == NULL) {
		snprintf(err, errlen, "event has no header");
		return -1;
	}
	if (h->tenant_id == NULL || h->tenant_id[0] == '\0') {
		snprintf(err, errlen, "event header has no tenant_id");
		return -1;
	}
	if (h->sync_id == NULL || h->sync_id[0] == '\0') {
		snprintf(err, errlen, "event header has no sync_id");
		return -1;
	}
	return 0;
}

struct lasync_digest {
	EVP_MD_CTX *ctx;
};

lasync_digest *lasync_digest_new(void)
{
	lasync_digest *d = lasync_xmalloc(sizeof(*d));

	d->ctx = EVP_MD_CTX_new();
	if (d->ctx == NULL || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
		lasync_panic_oom();
	return d;
}

void lasync_digest_add(lasync_digest *d, const void *data, size_t len)
{
	unsigned char pfx[8];

	for (int i = 0; i < 8; i++)
		pfx[i] = (unsigned char)((uint64_t)len >> (8 * i));
	EVP_DigestUpdate(d->ctx, pfx, sizeof(pfx));
	if (len)
		EVP_DigestUpdate(d->ctx, data, len);
}

void lasync_digest_add_str(lasync_digest *d, const char *s)
{
	if (s == NULL) {
		/* distinct from "" */
		EVP_DigestUpdate(d->ctx, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
		return;
	}
	lasync_digest_add(d, s, strlen(s));
}

void lasync_digest_add_i64(lasync_digest *d, int64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	lasync_digest_add(d, b, sizeof(b));
}

void lasync_digest_final(lasync_digest *d, char out[LASYNC_ID_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(d->ctx, md, &n);
	EVP_MD_CTX_free(d->ctx);
	free(d);
	hex(md, 16, out);
}

/* One compression context per thread, kept: a new context for every
 * document allocated and cleared its tables again each time, and that
 * was half the fetcher's compression time (BENCHMARKS.md 3). */
static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;

static void cctx_free(void *p)
{
	ZSTD_freeCCtx(p);
}

static void cctx_key_init(void)
{
	if (pthread_key_create(&cctx_key, cctx_free) != 0)
		lasync_panic_oom();
}

static ZSTD_CCtx *thread_cctx(void)
{
	ZSTD_CCtx *cctx;

	pthread_once(&cctx_once, cctx_key_init);
	cctx = pthread_getspecific(cctx_key);
	if (cctx == NULL) {
		cctx = ZSTD_createCCtx();
		if (cctx == NULL || pthread_setspecific(cctx_key, cctx) != 0)
			lasync_panic_oom();
	}
	return cctx;
}

uint8_t *lasync_zstd_compress(const void *src, size_t len, int level,
			      size_t *out_len)
{
	/* 4 bytes of frame checksum let decompression tell corrupt data
	 * from a valid document (zstd alone cannot, and consumers run with
	 * check.crcs=false); frames without one still decompress. */
	size_t cap = ZSTD_compressBound(len) + 4;
	uint8_t *dst = lasync_xmalloc(cap);
	ZSTD_CCtx *cctx = thread_cctx();
	size_t n;

	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	n = ZSTD_compress2(cctx, dst, cap, src, len);
	if (ZSTD_isError(n))
		lasync_panic_oom(); /* only allocation can fail with a bound */
	/* The bound is the input's size and more; the caller keeps the
	 * frame until Kafka has it (the mapper's state waits for the change
	 * set's delivery), so it gets back what the frame did not use. */
	*out_len = n;
	return lasync_xrealloc(dst, n);
}

uint8_t *lasync_zstd_decompress(const void *src, size_t len, size_t max,
				size_t *out_len, char *err, size_t errlen)
{
	unsigned long long size = ZSTD_getFrameContentSize(src, len);

	if (size == ZSTD_CONTENTSIZE_ERROR) {
		snprintf(err, errlen, "not a zstd frame");
		return NULL;
	}
	if (size == ZSTD_CONTENTSIZE_UNKNOWN) {
		snprintf(err, errlen, "zstd frame without content size");
		return NULL;
	}
	if (size > max) {
		snprintf(err, errlen,
			 "document of %llu bytes exceeds the limit of %zu",
			 size, max);
		return NULL;
	}
	uint8_t *dst = lasync_xmalloc((size_t)size + 1);
	size_t n = ZSTD_decompress(dst, (size_t)size, src, len);

	if (ZSTD_isError(n) || n != size) {
		snprintf(err, errlen, "corrupt zstd frame: %s",
			 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
		free(dst);
		return NULL;
	}
	dst[n] = '\0';
	*out_len = n;
	return dst;
}
