/*
 * lasync_arena.c - bump allocator in chunks of 64 KiB or more (or larger
 * for big requests).  Not thread-safe; one arena belongs to one job.
 */
#include "lasync_arena.h"

#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"

#define ARENA_CHUNK (64u * 1024u)
#define ARENA_ALIGN 16u

struct chunk {
	struct chunk *next;
	size_t size, used;
	unsigned char data[];
};

struct lasync_arena {
	struct chunk *head;
	size_t used;
	size_t chunk;		/* bytes per chunk */
};

lasync_arena *lasync_arena_new(void)
{
	return lasync_arena_new_chunk(ARENA_CHUNK);
}

lasync_arena *lasync_arena_new_chunk(size_t chunk)
{
	lasync_arena *a = lasync_xcalloc(1, sizeof(lasync_arena));

	a->chunk = chunk < ARENA_CHUNK ? ARENA_CHUNK : chunk;
	return a;
}

void lasync_arena_free(lasync_arena *a)
{
	if (a == NULL)
		return;
	for (struct chunk *c = a->head, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

/* take - n bytes from the head chunk, or start a new one; not zeroed */
static void *take(lasync_arena *a, size_t n, size_t *taken)
{
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct chunk *c = a->head;

	if (need == 0)
		need = ARENA_ALIGN;
	if (c == NULL || c->size - c->used < need) {
		size_t size = need > a->chunk ? need : a->chunk;

		c = lasync_xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;

	c->used += need;
	a->used += need;
	*taken = need;
	return p;
}

/* lasync_arena_alloc - n zeroed bytes */
void *lasync_arena_alloc(lasync_arena *a, size_t n)
{
	size_t need;
	void *p = take(a, n, &need);

	memset(p, 0, need);
	return p;
}

char *lasync_arena_strndup(lasync_arena *a, const char *s, size_t n)
{
	size_t need;
	char *d = take(a, n + 1, &need); /* every byte is written: no memset */

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *lasync_arena_strdup(lasync_arena *a, const char *s)
{
	return lasync_arena_strndup(a, s, strlen(s));
}

void *lasync_arena_grow(lasync_arena *a, void *old, size_t old_n,
			size_t new_n, size_t sz)
{
	if (new_n != 0 && sz > (size_t)-1 / new_n)
		lasync_panic_oom();
	void *p = lasync_arena_alloc(a, new_n * sz);

	if (old != NULL && old_n != 0)
		memcpy(p, old, (old_n < new_n ? old_n : new_n) * sz);
	return p;
}

size_t lasync_arena_used(const lasync_arena *a)
{
	return a->used;
}

static void *pb_alloc(void *arena, size_t n)
{
	return lasync_arena_alloc(arena, n);
}

static void pb_free(void *arena, void *p)
{
	(void)arena;
	(void)p;
}

void lasync_arena_protobuf(lasync_arena *a, ProtobufCAllocator *out)
{
	out->alloc = pb_alloc;
	out->free = pb_free;
	out->allocator_data = a;
}
