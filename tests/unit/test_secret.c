/*
 * test_secret.c - lib/lasync_secret.c: env: and file: secret references.
 *
 * Files are written to a private temporary directory; environment
 * variables are set by the test.  Errors must name the reference and
 * never contain the value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lasync_mem.h"
#include "lasync_secret.h"

#define SECRET_MAX (64 * 1024)

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_secret.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* write_file - dir/name holding len bytes of data; returns "file:<path>"
 * (the caller frees) */
static char *write_file(const char *name, const void *data, size_t len)
{
	char *path = lasync_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	char *ref = lasync_xasprintf("file:%s", path);

	free(path);
	return ref;
}

static void test_valid_ref(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} cases[] = {
		{"env:LAS_KEY", true},
		{"env:X", true},
		{"file:/run/secrets/token", true},
		{"file:/", true},
		{"env:", false},
		{"file:", false},
		{"file:relative/path", false},
		{"file:~/token", false},
		{"ENV:LAS_KEY", false},
		{"vault:secret/x", false},
		{"s3cr3t", false},
		{"", false},
		{NULL, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = lasync_secret_valid_ref(cases[i].in);

		if (got != cases[i].want) {
			print_error("%s: got %d, want %d\n",
				    cases[i].in ? cases[i].in : "(null)", got,
				    cases[i].want);
			fail();
		}
	}
}

static void test_secret_path(void **state)
{
	(void)state;
	assert_string_equal(lasync_secret_path("file:/etc/ca.pem"),
			    "/etc/ca.pem");
	assert_null(lasync_secret_path("env:CA"));
	assert_null(lasync_secret_path(NULL));
}

static void test_env(void **state)
{
	static const struct {
		const char *name, *ref, *set, *want, *want_err;
	} cases[] = {
		{"set", "env:LASYNC_TEST_SECRET_A", "tok-123", "tok-123", NULL},
		{"kept_verbatim", "env:LASYNC_TEST_SECRET_B", " a b\n", " a b\n",
		 NULL},
		{"missing", "env:LASYNC_TEST_SECRET_MISSING", NULL, NULL,
		 "secret env:LASYNC_TEST_SECRET_MISSING: environment variable "
		 "is not set"},
		{"empty", "env:LASYNC_TEST_SECRET_EMPTY", "", NULL,
		 "secret env:LASYNC_TEST_SECRET_EMPTY: environment variable is "
		 "not set"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		char *got;

		if (cases[i].set != NULL)
			setenv(cases[i].ref + 4, cases[i].set, 1);
		else
			unsetenv(cases[i].ref + 4);
		got = lasync_secret_resolve(cases[i].ref, err, sizeof(err));
		if (cases[i].want != NULL) {
			if (got == NULL || strcmp(got, cases[i].want) != 0) {
				print_error("%s: got %s (err \"%s\"), want the "
					    "value\n",
					    cases[i].name,
					    got ? "another value" : "NULL",
					    err);
				fail();
			}
		} else if (got != NULL || strcmp(err, cases[i].want_err) != 0) {
			print_error("%s: got err \"%s\", want \"%s\"\n",
				    cases[i].name, err, cases[i].want_err);
			fail();
		}
		lasync_secret_free(got);
		unsetenv(cases[i].ref + 4);
	}
}

static void test_file(void **state)
{
	static const struct {
		const char *name, *content, *want, *want_err;
	} cases[] = {
		{"plain", "tok-123", "tok-123", NULL},
		{"trailing_newline_stripped", "tok-123\n", "tok-123", NULL},
		{"trailing_crlf_stripped", "tok-123\r\n", "tok-123", NULL},
		{"several_trailing_newlines", "tok-123\n\n\n", "tok-123", NULL},
		{"inner_newline_kept", "line1\nline2\n", "line1\nline2", NULL},
		{"leading_space_kept", "  tok \n", "  tok ", NULL},
		{"empty", "", NULL, "file is empty"},
		{"only_newline", "\n", NULL, "file is empty"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *ref = write_file(cases[i].name, cases[i].content,
				       strlen(cases[i].content));
		char err[512] = "";
		char *got = lasync_secret_resolve(ref, err, sizeof(err));

		if (cases[i].want != NULL) {
			if (got == NULL || strcmp(got, cases[i].want) != 0) {
				print_error("%s: got \"%s\" (err \"%s\"), want "
					    "\"%s\"\n",
					    cases[i].name, got ? got : "(null)",
					    err, cases[i].want);
				fail();
			}
		} else if (got != NULL || strstr(err, cases[i].want_err) == NULL ||
			   strstr(err, ref) == NULL) {
			print_error("%s: got err \"%s\", want one naming %s "
				    "with \"%s\"\n",
				    cases[i].name, err, ref, cases[i].want_err);
			fail();
		}
		lasync_secret_free(got);
		free(ref);
	}
}

/* at most 64 KiB: exactly the limit is fine, one byte more is an error
 * that does not echo the content */
static void test_file_size_limit(void **state)
{
	char *data = lasync_xmalloc(SECRET_MAX + 2);
	char err[512] = "";
	char *ref, *got;

	(void)state;
	memset(data, 'k', SECRET_MAX + 1);
	ref = write_file("at_limit", data, SECRET_MAX);
	got = lasync_secret_resolve(ref, err, sizeof(err));
	assert_non_null(got);
	assert_int_equal(strlen(got), SECRET_MAX);
	lasync_secret_free(got);
	free(ref);

	/* a limit-sized secret followed by a newline still fits */
	data[SECRET_MAX] = '\n';
	ref = write_file("at_limit_newline", data, SECRET_MAX + 1);
	got = lasync_secret_resolve(ref, err, sizeof(err));
	(void)got; /* over the read limit by one byte: either answer is fine
		    * as long as nothing is read or written out of bounds */
	lasync_secret_free(got);
	free(ref);

	data[SECRET_MAX] = 'k';
	ref = write_file("over_limit", data, SECRET_MAX + 1);
	got = lasync_secret_resolve(ref, err, sizeof(err));
	if (got != NULL || strstr(err, "larger than 65536 bytes") == NULL ||
	    strstr(err, "kkkk") != NULL) {
		print_error("over_limit: got %s err \"%.80s\", want NULL with "
			    "\"larger than 65536 bytes\"\n",
			    got ? "a value" : "NULL", err);
		fail();
	}
	free(ref);
	free(data);
}

static void test_file_errors(void **state)
{
	char err[512] = "";
	char *ref = lasync_xasprintf("file:%s/does-not-exist", dir);

	(void)state;
	assert_null(lasync_secret_resolve(ref, err, sizeof(err)));
	if (strstr(err, ref) == NULL ||
	    strstr(err, "No such file or directory") == NULL) {
		print_error("missing file: got \"%s\", want the reference and "
			    "the reason\n",
			    err);
		fail();
	}
	free(ref);
	/* a directory is not a secret */
	ref = lasync_xasprintf("file:%s", dir);
	assert_null(lasync_secret_resolve(ref, err, sizeof(err)));
	assert_non_null(strstr(err, ref));
	free(ref);
}

static void test_invalid_refs(void **state)
{
	static const char *const refs[] = {"", "env:", "file:x", "s3cr3t",
					   "vault:a", NULL};

	(void)state;
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		char err[256] = "";
		char *got = lasync_secret_resolve(refs[i], err, sizeof(err));

		if (got != NULL ||
		    strstr(err, "is not env:NAME or file:/path") == NULL) {
			print_error("%s: got %s err \"%s\", want an invalid "
				    "reference error\n",
				    refs[i] ? refs[i] : "(null)",
				    got ? "a value" : "NULL", err);
			fail();
		}
	}
	lasync_secret_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_ref),
		cmocka_unit_test(test_secret_path),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_invalid_refs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
