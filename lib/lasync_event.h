/*
 * lasync_event.h - what every event shares: ids and the common header, and
 * the zstd framing of large payloads.
 *
 * Event ids are 128 random bits in hex.  Operation ids and e-mail ids are
 * deterministic digests of their content (lasync_digest), so a redelivered
 * or replayed event maps to the same idempotency keys.
 */
#ifndef LASYNC_EVENT_H
#define LASYNC_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "lasync/v1/common.pb-c.h"

#define LASYNC_ID_LEN 33 /* 32 hex digits + NUL */

/* lasync_random_id - 128 random bits as hex */
void lasync_random_id(char out[LASYNC_ID_LEN]);

/* lasync_header_fill - fill h for a new event; the strings are borrowed
 * (event_id must outlive the packing of the event) */
void lasync_header_fill(Lasync__V1__Header *h, char event_id[LASYNC_ID_LEN],
			const char *tenant_id, const char *sync_id,
			int64_t generation, const char *producer,
			uint32_t attempt);

/* lasync_header_valid - does a decoded header carry the ids every consumer
 * relies on?  err names the missing field. */
int lasync_header_valid(const Lasync__V1__Header *h, char *err,
			size_t errlen);

/*
 * lasync_digest - SHA-256 over length-prefixed parts, first 128 bits in
 * hex.  Length prefixes make ("ab","c") and ("a","bc") differ.
 */
typedef struct lasync_digest lasync_digest;
lasync_digest *lasync_digest_new(void);
void lasync_digest_add(lasync_digest *d, const void *data, size_t len);
void lasync_digest_add_str(lasync_digest *d, const char *s); /* NULL ok */
void lasync_digest_add_i64(lasync_digest *d, int64_t v);
/* lasync_digest_final - write the hex digest and free d */
void lasync_digest_final(lasync_digest *d, char out[LASYNC_ID_LEN]);

/* lasync_zstd_compress - compress src; returns a malloc'd buffer */
uint8_t *lasync_zstd_compress(const void *src, size_t len, int level,
			      size_t *out_len);

/* lasync_zstd_decompress - decompress a frame whose content size must not
 * exceed max; NULL with err when corrupt or too large */
uint8_t *lasync_zstd_decompress(const void *src, size_t len, size_t max,
				size_t *out_len, char *err, size_t errlen);

#endif /* LASYNC_EVENT_H */
