/*
 * lasync_arena.h - a bump allocator for data that lives and dies together
 * (one parsed snapshot).  Allocation failure is fatal (lasync_xmalloc), so
 * callers never check for NULL.  lasync_arena_free() releases everything.
 */
#ifndef LASYNC_ARENA_H
#define LASYNC_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct lasync_arena lasync_arena;

lasync_arena *lasync_arena_new(void);
/* lasync_arena_new_chunk - an arena taking memory chunk bytes at a time
 * (at least 64 KiB): one chunk for data whose size is known roughly, which
 * malloc serves from mmap when it is large, so freeing it gives it back */
lasync_arena *lasync_arena_new_chunk(size_t chunk);
void lasync_arena_free(lasync_arena *a);

/* lasync_arena_alloc - n zeroed bytes, aligned for any type */
void *lasync_arena_alloc(lasync_arena *a, size_t n);

/* lasync_arena_strndup - a NUL-terminated copy of s[0..n) */
char *lasync_arena_strndup(lasync_arena *a, const char *s, size_t n);
char *lasync_arena_strdup(lasync_arena *a, const char *s);

/* lasync_arena_grow - resize an array allocated from the arena, keeping its
 * contents: returns a pointer to room for new_n elements of size sz (the
 * old block is abandoned to the arena) */
void *lasync_arena_grow(lasync_arena *a, void *old, size_t old_n,
			size_t new_n, size_t sz);

/* lasync_arena_used - bytes handed out so far (for metrics and tests) */
size_t lasync_arena_used(const lasync_arena *a);

/* lasync_arena_protobuf - a protobuf-c allocator taking from a, for
 * *__unpack(): the message is then freed with the arena, not with
 * *__free_unpacked() (its free does nothing) */
void lasync_arena_protobuf(lasync_arena *a, ProtobufCAllocator *out);

#endif /* LASYNC_ARENA_H */
