/*
 * lasync_mem.c - allocation wrappers: out of memory aborts the process with
 * one log line, since a daemon that cannot allocate cannot make progress and
 * its supervisor restarts it (Kafka redelivers what was not committed).
 */
#include "lasync_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lasync_panic_oom(void)
{
	static const char msg[] = "level=panic msg=\"out of memory\"\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)w;
	abort();
}

void *lasync_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		lasync_panic_oom();
	return p;
}

void *lasync_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		lasync_panic_oom();
	return p;
}

void *lasync_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		lasync_panic_oom();
	return q;
}

void *lasync_xreallocarray(void *p, size_t n, size_t sz)
{
	if (sz != 0 && n > (size_t)-1 / sz)
		lasync_panic_oom();
	return lasync_xrealloc(p, n * sz);
}

char *lasync_xstrdup(const char *s)
{
	return lasync_xstrndup(s, strlen(s));
}

char *lasync_xstrndup(const char *s, size_t n)
{
	char *d = lasync_xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *lasync_xvasprintf(const char *fmt, va_list ap)
{
	va_list ap2;

	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);

	va_end(ap2);
	if (n < 0)
		lasync_panic_oom();
	char *s = lasync_xmalloc((size_t)n + 1);

	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *lasync_xasprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *s = lasync_xvasprintf(fmt, ap);

	va_end(ap);
	return s;
}

size_t lasync_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size != 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

bool lasync_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}
