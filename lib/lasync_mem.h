/*
 * lasync_mem.h - allocation that cannot fail.  Out of memory is fatal in
 * one place (lasync_panic_oom), so the rest of the code never checks.
 * Also small string helpers used everywhere.
 */
#ifndef LASYNC_MEM_H
#define LASYNC_MEM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

_Noreturn void lasync_panic_oom(void);

void *lasync_xmalloc(size_t n);
void *lasync_xcalloc(size_t n, size_t sz);
void *lasync_xrealloc(void *p, size_t n);
/* lasync_xreallocarray - realloc for n elements of sz, overflow-checked */
void *lasync_xreallocarray(void *p, size_t n, size_t sz);
char *lasync_xstrdup(const char *s);
char *lasync_xstrndup(const char *s, size_t n);
/* lasync_xasprintf - a formatted string the caller frees */
char *lasync_xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
char *lasync_xvasprintf(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

/* lasync_strlcpy - bounded copy that always terminates; returns strlen(src) */
size_t lasync_strlcpy(char *dst, const char *src, size_t size);

/* lasync_streq - NULL-safe equality: two NULLs are equal */
bool lasync_streq(const char *a, const char *b);

/* lasync_grow - make room for at least need elements in *arr (capacity
 * *cap, doubling) */
#define lasync_grow(arr, cap, need)                                        \
	do {                                                               \
		if ((need) > *(cap)) {                                     \
			size_t nc_ = *(cap) ? *(cap) * 2 : 8;              \
			while (nc_ < (need))                               \
				nc_ *= 2;                                  \
			*(arr) = lasync_xreallocarray(*(arr), nc_,         \
						      sizeof(**(arr)));    \
			*(cap) = nc_;                                      \
		}                                                          \
	} while (0)

#endif /* LASYNC_MEM_H */
