/*
 * lasync_secret.c - env: and file: secret references (see lasync_secret.h).
 */
#include "lasync_secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"

#define SECRET_MAX (64 * 1024)

bool lasync_secret_valid_ref(const char *ref)
{
	if (ref == NULL)
		return false;
	if (strncmp(ref, "env:", 4) == 0)
		return ref[4] != '\0';
	if (strncmp(ref, "file:", 5) == 0)
		return ref[5] == '/';
	return false;
}

const char *lasync_secret_path(const char *ref)
{
	if (ref != NULL && strncmp(ref, "file:", 5) == 0)
		return ref + 5;
	return NULL;
}

char *lasync_secret_resolve(const char *ref, char *err, size_t errlen)
{
	if (!lasync_secret_valid_ref(ref)) {
		snprintf(err, errlen,
			 "secret reference \"%s\" is not env:NAME or file:/path",
			 ref ? ref : "");
		return NULL;
	}
	if (strncmp(ref, "env:", 4) == 0) {
		const char *v = getenv(ref + 4);

		if (v == NULL || *v == '\0') {
			snprintf(err, errlen,
				 "secret %s: environment variable is not set",
				 ref);
			return NULL;
		}
		return lasync_xstrdup(v);
	}
	FILE *f = fopen(ref + 5, "rb");

	if (f == NULL) {
		snprintf(err, errlen, "secret %s: %s", ref, strerror(errno));
		return NULL;
	}
	char *buf = lasync_xmalloc(SECRET_MAX + 2);
	size_t n = fread(buf, 1, SECRET_MAX + 1, f);

	fclose(f);
	buf[n] = '\0'; /* lasync_secret_free wipes up to the terminator */
	if (n > SECRET_MAX) {
		lasync_secret_free(buf);
		snprintf(err, errlen, "secret %s: larger than %d bytes", ref,
			 SECRET_MAX);
		return NULL;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (n == 0) {
		lasync_secret_free(buf);
		snprintf(err, errlen, "secret %s: file is empty", ref);
		return NULL;
	}
	return buf;
}

void lasync_secret_free(char *value)
{
	if (value == NULL)
		return;
	volatile char *p = value;

	while (*p)
		*p++ = '\0';
	free(value);
}
