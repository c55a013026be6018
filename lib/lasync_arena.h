/*
 * lasync_arena.h - a bump allocator for data that lives and dies together
 * (one parsed snapshot).  Allocation failure is fatal (lasync_xmalloc), so
 * callers never check for NULL.  lasync_arena_free() releases everything.
 */
#ifndef LASYNC_ARENA_H
#define LASYNC_ARENA_H

#include <stddef.h>

typedef struct lasync_arena lasync_arena;

lasync_arena *lasync_arena_new(void);
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

#endif /* LASYNC_ARENA_H */
