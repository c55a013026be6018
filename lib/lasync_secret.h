/*
 * lasync_secret.h - resolve secret references.
 *
 * A tenant or a flag names a secret, never holds it: "env:NAME" reads the
 * environment variable NAME, "file:/path" reads the file (trailing newline
 * stripped, at most 64 KiB; certificates and keys use the path directly).
 * Resolved values are never logged; errors name the reference, not the value.
 */
#ifndef LASYNC_SECRET_H
#define LASYNC_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* lasync_secret_valid_ref - is ref a well-formed reference? */
bool lasync_secret_valid_ref(const char *ref);

/* lasync_secret_resolve - the secret's value (caller frees, and should
 * wipe it with lasync_secret_free), or NULL with err naming the reference */
char *lasync_secret_resolve(const char *ref, char *err, size_t errlen);

/* lasync_secret_path - for "file:/path", the path (borrowed); else NULL */
const char *lasync_secret_path(const char *ref);

/* lasync_secret_free - zero and free a resolved value */
void lasync_secret_free(char *value);

#endif /* LASYNC_SECRET_H */
