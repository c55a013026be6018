/*
 * test_config.c - lib/lasync_config.c: flags, LASYNC_* environment,
 * defaults, validation, --print-config and lasync_parse_long.
 *
 * Each row sets some LASYNC_* variables (all others of the table are
 * unset), loads a command line and wants either the effective
 * configuration as lasync_config_print writes it, or an error containing
 * a given text.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lasync_config.h"
#include "lasync_mem.h"

/* ---------- the parameter table under test ---------- */

static char *brokers, *group, *log_level, *token;
static long port, workers;
static bool dry_run, verbose;

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

static const lasync_param params[] = {
	{"kafka-brokers", LASYNC_PARAM_STRING, "localhost:9092", "brokers",
	 &brokers, 0, 0, false, false, NULL},
	{"group-id", LASYNC_PARAM_STRING, NULL, "consumer group", &group, 0, 0,
	 true, false, NULL},
	{"port", LASYNC_PARAM_INT, "8080", "HTTP port", &port, 1, 65535, false,
	 false, NULL},
	{"workers", LASYNC_PARAM_INT, "4", "workers (unbounded)", &workers, 0,
	 0, false, false, NULL},
	{"dry-run", LASYNC_PARAM_BOOL, "false", "apply nothing", &dry_run, 0,
	 0, false, false, NULL},
	{"verbose", LASYNC_PARAM_BOOL, NULL, "more logs", &verbose, 0, 0, false,
	 false, NULL},
	{"log-level", LASYNC_PARAM_STRING, "info", "log level", &log_level, 0,
	 0, false, false, levels},
	{"portal-token", LASYNC_PARAM_STRING, NULL, "portal token", &token, 0,
	 0, false, true, NULL},
	{NULL, 0, NULL, NULL, NULL, 0, 0, false, false, NULL},
};

static const lasync_param *const tables[] = {params, NULL};

static const char *const env_names[] = {
	"LASYNC_KAFKA_BROKERS", "LASYNC_GROUP_ID",  "LASYNC_PORT",
	"LASYNC_WORKERS",	"LASYNC_DRY_RUN",   "LASYNC_VERBOSE",
	"LASYNC_LOG_LEVEL",	"LASYNC_PORTAL_TOKEN", NULL,
};

/* reset - destinations to their zero values, the environment clean */
static void reset(void)
{
	lasync_config_free(tables);
	port = workers = 0;
	dry_run = verbose = false;
	for (size_t i = 0; env_names[i] != NULL; i++)
		unsetenv(env_names[i]);
}

/* printed - what lasync_config_print writes; the caller frees */
static char *printed(void)
{
	FILE *f = tmpfile();
	char *buf = lasync_xcalloc(1, 4096);

	assert_non_null(f);
	lasync_config_print(tables, f);
	rewind(f);
	buf[fread(buf, 1, 4095, f)] = '\0';
	fclose(f);
	return buf;
}

/* capture - run load with stdout sent to a file; returns what it printed */
static char *capture(int argc, char **argv, int *rc, char *err, size_t errlen)
{
	FILE *f = tmpfile();
	int saved;
	char *buf = lasync_xcalloc(1, 8192);

	assert_non_null(f);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(f), STDOUT_FILENO);
	*rc = lasync_config_load(tables, argc, argv, "prog", NULL, NULL, err,
				 errlen);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(f);
	buf[fread(buf, 1, 8191, f)] = '\0';
	fclose(f);
	return buf;
}

#define MAX_ARGS 8
#define MAX_ENV 4

typedef struct config_case {
	const char *name;
	const char *env[MAX_ENV];	/* "NAME=value" */
	const char *args[MAX_ARGS];	/* after the program name */
	const char *want;		/* printed config, NULL: error */
	const char *want_err;
} config_case;

#define CONF(brokers_, group_, port_, workers_, dry_, verbose_, level_,    \
	     token_)                                                        \
	"kafka-brokers=" brokers_ "\ngroup-id=" group_ "\nport=" port_      \
	"\nworkers=" workers_ "\ndry-run=" dry_ "\nverbose=" verbose_       \
	"\nlog-level=" level_ "\nportal-token=" token_ "\n"

static const config_case config_cases[] = {
	{"defaults",
	 {NULL},
	 {"--group-id=g", NULL},
	 CONF("localhost:9092", "g", "8080", "4", "false", "false", "info", ""),
	 NULL},
	{"environment_over_defaults",
	 {"LASYNC_KAFKA_BROKERS=k1:9092,k2:9092", "LASYNC_PORT=9000",
	  "LASYNC_GROUP_ID=from-env", "LASYNC_LOG_LEVEL=debug"},
	 {NULL},
	 CONF("k1:9092,k2:9092", "from-env", "9000", "4", "false", "false",
	      "debug", ""),
	 NULL},
	{"flags_over_environment",
	 {"LASYNC_PORT=9000", "LASYNC_GROUP_ID=from-env"},
	 {"--port=9100", "--group-id", "from-flag", NULL},
	 CONF("localhost:9092", "from-flag", "9100", "4", "false", "false",
	      "info", ""),
	 NULL},
	{"flag_with_separate_value",
	 {NULL},
	 {"--group-id", "g", "--port", "1", "--workers", "-3", NULL},
	 CONF("localhost:9092", "g", "1", "-3", "false", "false", "info", ""),
	 NULL},
	{"value_with_equals_sign_kept",
	 {NULL},
	 {"--group-id=a=b", "--kafka-brokers=", NULL},
	 CONF("", "a=b", "8080", "4", "false", "false", "info", ""), NULL},
	{"later_flag_wins",
	 {NULL},
	 {"--group-id=a", "--port=1", "--port=2", "--group-id=b", NULL},
	 CONF("localhost:9092", "b", "2", "4", "false", "false", "info", ""),
	 NULL},
	{"bool_flag_alone",
	 {NULL},
	 {"--dry-run", "--group-id=g", NULL},
	 CONF("localhost:9092", "g", "8080", "4", "true", "false", "info", ""),
	 NULL},
	{"bool_flag_last",
	 {NULL},
	 {"--group-id=g", "--verbose", NULL},
	 CONF("localhost:9092", "g", "8080", "4", "false", "true", "info", ""),
	 NULL},
	{"bool_flag_with_value",
	 {"LASYNC_DRY_RUN=true"},
	 {"--dry-run", "false", "--verbose=yes", "--group-id=g", NULL},
	 CONF("localhost:9092", "g", "8080", "4", "false", "true", "info", ""),
	 NULL},
	{"bool_environment_words",
	 {"LASYNC_DRY_RUN=on", "LASYNC_VERBOSE=1", "LASYNC_GROUP_ID=g"},
	 {NULL},
	 CONF("localhost:9092", "g", "8080", "4", "true", "true", "info", ""),
	 NULL},
	{"bool_flag_off_word",
	 {"LASYNC_DRY_RUN=yes"},
	 {"--dry-run=off", "--verbose=0", "--group-id=g", NULL},
	 CONF("localhost:9092", "g", "8080", "4", "false", "false", "info", ""),
	 NULL},
	{"int_bounds_inclusive",
	 {NULL},
	 {"--port=65535", "--group-id=g", NULL},
	 CONF("localhost:9092", "g", "65535", "4", "false", "false", "info",
	      ""),
	 NULL},
	{"secret_masked_in_print",
	 {"LASYNC_PORTAL_TOKEN=s3cr3t-value"},
	 {"--group-id=g", NULL},
	 CONF("localhost:9092", "g", "8080", "4", "false", "false", "info",
	      "(set)"),
	 NULL},
	/* errors */
	{"required_missing",
	 {NULL},
	 {NULL},
	 NULL,
	 "group-id is required (flag --group-id or env LASYNC_GROUP_ID)"},
	{"required_empty_env",
	 {"LASYNC_GROUP_ID="},
	 {NULL},
	 NULL,
	 "group-id is required (flag --group-id or env LASYNC_GROUP_ID)"},
	{"required_empty_flag",
	 {"LASYNC_GROUP_ID=g"},
	 {"--group-id=", NULL},
	 NULL,
	 "group-id is required"},
	{"int_below_min",
	 {NULL},
	 {"--group-id=g", "--port=0", NULL},
	 NULL,
	 "port (--port): \"0\" is not an integer in [1, 65535]"},
	{"int_above_max_env",
	 {"LASYNC_PORT=65536"},
	 {"--group-id=g", NULL},
	 NULL,
	 "port (LASYNC_PORT): \"65536\" is not an integer in [1, 65535]"},
	{"int_not_a_number",
	 {NULL},
	 {"--group-id=g", "--port=80x", NULL},
	 NULL,
	 "port (--port): \"80x\" is not an integer"},
	{"int_empty",
	 {NULL},
	 {"--group-id=g", "--workers=", NULL},
	 NULL,
	 "workers (--workers): \"\" is not an integer"},
	{"int_overflow",
	 {NULL},
	 {"--group-id=g", "--workers=99999999999999999999", NULL},
	 NULL,
	 "workers (--workers): \"99999999999999999999\" is not an integer"},
	{"bool_bad_env",
	 {"LASYNC_DRY_RUN=maybe"},
	 {"--group-id=g", NULL},
	 NULL,
	 "dry-run (LASYNC_DRY_RUN): \"maybe\" is not a boolean"},
	{"bool_bad_flag",
	 {NULL},
	 {"--group-id=g", "--verbose=2", NULL},
	 NULL,
	 "verbose (--verbose): \"2\" is not a boolean"},
	{"choice_not_allowed",
	 {NULL},
	 {"--group-id=g", "--log-level=trace", NULL},
	 NULL,
	 "log-level (--log-level): \"trace\" is not one of the allowed values"},
	{"choice_case_sensitive_env",
	 {"LASYNC_LOG_LEVEL=DEBUG", "LASYNC_GROUP_ID=g"},
	 {NULL},
	 NULL,
	 "log-level (LASYNC_LOG_LEVEL): \"DEBUG\" is not one of the allowed"},
	{"unknown_flag",
	 {NULL},
	 {"--group-id=g", "--nope=1", NULL},
	 NULL,
	 "unknown flag --nope (see --help)"},
	{"unknown_flag_prefix_of_known",
	 {NULL},
	 {"--group=g", NULL},
	 NULL,
	 "unknown flag --group (see --help)"},
	{"unknown_flag_extends_known",
	 {NULL},
	 {"--group-idx=g", NULL},
	 NULL,
	 "unknown flag --group-idx"},
	{"flag_needs_value",
	 {NULL},
	 {"--port", NULL},
	 NULL,
	 "flag --port needs a value"},
	{"stray_argument",
	 {NULL},
	 {"--group-id=g", "extra", NULL},
	 NULL,
	 "unexpected argument \"extra\""},
	{"single_dash_flag",
	 {NULL},
	 {"-port=1", NULL},
	 NULL,
	 "unexpected argument \"-port=1\""},
	{"bool_flag_then_stray_word",
	 {NULL},
	 {"--group-id=g", "--dry-run", "x", NULL},
	 NULL,
	 "unexpected argument \"x\""},
};

/* load_case - set the row's environment and load its command line */
static int load_case(const config_case *c, char *err, size_t errlen,
		     char **rest, int *n_rest)
{
	char *argv[MAX_ARGS + 1];
	int argc = 1;

	reset();
	for (size_t i = 0; i < MAX_ENV && c->env[i] != NULL; i++) {
		char buf[256];
		char *eq;

		lasync_strlcpy(buf, c->env[i], sizeof(buf));
		eq = strchr(buf, '=');
		*eq = '\0';
		setenv(buf, eq + 1, 1);
	}
	argv[0] = (char *)"prog";
	for (size_t i = 0; i < MAX_ARGS && c->args[i] != NULL; i++)
		argv[argc++] = (char *)c->args[i];
	argv[argc] = NULL;
	return lasync_config_load(tables, argc, argv, "prog", rest, n_rest,
				  err, errlen);
}

static void test_config_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(config_cases) / sizeof(config_cases[0]);
	     i++) {
		const config_case *c = &config_cases[i];
		char err[512] = "";
		int rc = load_case(c, err, sizeof(err), NULL, NULL);

		if (c->want == NULL) {
			if (rc != -1 || strstr(err, c->want_err) == NULL) {
				print_error("%s: got rc=%d err \"%s\", want -1 "
					    "with \"%s\"\n",
					    c->name, rc, err, c->want_err);
				fail();
			}
			continue;
		}
		char *got = printed();

		if (rc != 0 || strcmp(got, c->want) != 0) {
			print_error("%s: got rc=%d (err \"%s\")\n%s\nwant rc=0\n"
				    "%s\n",
				    c->name, rc, err, got, c->want);
			free(got);
			fail();
		}
		free(got);
	}
	reset();
}

/* positional arguments are handed back when the caller wants them */
static void test_config_rest(void **state)
{
	static const config_case c = {
		"rest",
		{NULL},
		{"tenant", "put", "--group-id=g", "file.json", "--dry-run",
		 "--", NULL},
		NULL,
		NULL};
	char *rest[MAX_ARGS];
	int n_rest = -1;
	char err[256] = "";

	(void)state;
	assert_int_equal(load_case(&c, err, sizeof(err), rest, &n_rest), 0);
	assert_int_equal(n_rest, 4);
	assert_string_equal(rest[0], "tenant");
	assert_string_equal(rest[1], "put");
	assert_string_equal(rest[2], "file.json");
	assert_string_equal(rest[3], "--");
	assert_true(dry_run);
	assert_string_equal(group, "g");
	reset();
}

/* --print-config prints the effective configuration with secrets masked
 * and tells the caller to exit; --help prints every flag and its env */
static void test_config_print_and_help(void **state)
{
	char err[256] = "";
	int rc;
	char *argv1[] = {(char *)"prog", (char *)"--print-config",
			 (char *)"--group-id=g", (char *)"--port=81", NULL};
	char *argv2[] = {(char *)"prog", (char *)"--help", NULL};
	char *argv3[] = {(char *)"prog", (char *)"--print-config", NULL};
	char *out;

	(void)state;
	reset();
	setenv("LASYNC_PORTAL_TOKEN", "tok-do-not-print", 1);
	out = capture(4, argv1, &rc, err, sizeof(err));
	assert_int_equal(rc, 1);
	if (strcmp(out, CONF("localhost:9092", "g", "81", "4", "false",
			     "false", "info", "(set)")) != 0 ||
	    strstr(out, "tok-do-not-print") != NULL) {
		print_error("print-config: got\n%s\nwant the configuration "
			    "with the token masked\n",
			    out);
		fail();
	}
	free(out);

	reset();
	out = capture(2, argv2, &rc, err, sizeof(err));
	assert_int_equal(rc, 1);
	for (size_t i = 0; params[i].name != NULL; i++) {
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s", params[i].name);
		if (strstr(out, flag) == NULL ||
		    strstr(out, env_names[i]) == NULL) {
			print_error("help: got\n%s\nwant %s and %s\n", out,
				    flag, env_names[i]);
			fail();
		}
	}
	assert_non_null(strstr(out, "(required)"));
	assert_non_null(strstr(out, "--print-config"));
	free(out);

	/* validation comes before printing: a missing required flag is
	 * still an error */
	reset();
	out = capture(2, argv3, &rc, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "group-id is required"));
	free(out);
	reset();
}

/* a default that does not validate is reported as such */
static void test_config_bad_default(void **state)
{
	static long n;
	static const lasync_param bad[] = {
		{"retries", LASYNC_PARAM_INT, "lots", "retries", &n, 0, 10,
		 false, false, NULL},
		{NULL, 0, NULL, NULL, NULL, 0, 0, false, false, NULL},
	};
	static const lasync_param *const t[] = {bad, NULL};
	char *argv[] = {(char *)"prog", NULL};
	char err[256] = "";

	(void)state;
	unsetenv("LASYNC_RETRIES");
	assert_int_equal(lasync_config_load(t, 1, argv, "prog", NULL, NULL,
					    err, sizeof(err)),
			 -1);
	if (strstr(err, "retries (default): \"lots\"") == NULL) {
		print_error("got \"%s\", want the default named\n", err);
		fail();
	}
}

static void test_parse_long(void **state)
{
	static const struct {
		const char *name, *in;
		long min, max;
		int want_rc;
		long want;
	} cases[] = {
		{"zero", "0", 0, 10, 0, 0},
		{"negative", "-12", -100, 100, 0, -12},
		{"plus_sign", "+7", 0, 10, 0, 7},
		{"at_min", "1", 1, 4, 0, 1},
		{"at_max", "4", 1, 4, 0, 4},
		{"below_min", "0", 1, 4, -1, 0},
		{"above_max", "5", 1, 4, -1, 0},
		{"unbounded_when_min_eq_max", "-99999", 0, 0, 0, -99999},
		{"long_max", "9223372036854775807", 0, 0, 0, LONG_MAX},
		{"long_min", "-9223372036854775808", 0, 0, 0, LONG_MIN},
		{"overflow", "9223372036854775808", 0, 0, -1, 0},
		{"underflow", "-9223372036854775809", 0, 0, -1, 0},
		{"empty", "", 0, 0, -1, 0},
		{"null", NULL, 0, 0, -1, 0},
		{"trailing_space", "12 ", 0, 100, -1, 0},
		{"leading_space", " 12", 0, 100, -1, 0},
		{"leading_tab", "\t12", 0, 100, -1, 0},
		{"trailing_garbage", "12abc", 0, 100, -1, 0},
		{"hex_refused", "0x10", 0, 100, -1, 0},
		{"exponent_refused", "1e3", 0, 10000, -1, 0},
		{"decimal_point_refused", "1.5", 0, 100, -1, 0},
		{"sign_only", "-", 0, 0, -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = 424242;
		int rc = lasync_parse_long(cases[i].in, cases[i].min,
					   cases[i].max, &got);

		if (rc != cases[i].want_rc ||
		    (rc == 0 && got != cases[i].want) ||
		    (rc != 0 && got != 424242)) {
			print_error("%s: got rc=%d value %ld, want rc=%d value "
				    "%ld (output untouched on error)\n",
				    cases[i].name, rc, got, cases[i].want_rc,
				    cases[i].want);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_table),
		cmocka_unit_test(test_config_rest),
		cmocka_unit_test(test_config_print_and_help),
		cmocka_unit_test(test_config_bad_default),
		cmocka_unit_test(test_parse_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
