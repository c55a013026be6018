/*
 * lasync_config.h - configuration from flags and LASYNC_* environment.
 *
 * A program declares a table of parameters (name, type, default, bounds,
 * help, destination).  lasync_config_load() fills every destination from,
 * in rising precedence: the default, the environment variable
 * LASYNC_<NAME> (upper case, '-' -> '_'), and the flag --<name>=<value> or
 * --<name> <value>.  Values are validated (type, bounds, required) before
 * the program starts; an invalid value is a clear error naming the
 * parameter and where it came from.  --print-config prints the effective
 * configuration (secret parameters masked) and --help the table.
 */
#ifndef LASYNC_CONFIG_H
#define LASYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
	LASYNC_PARAM_STRING,	/* char ** (malloc'd, caller frees with
				 * lasync_config_free) */
	LASYNC_PARAM_INT,	/* long * */
	LASYNC_PARAM_BOOL,	/* bool * */
} lasync_param_type;

typedef struct lasync_param {
	const char *name;	/* "kafka-brokers" */
	lasync_param_type type;
	const char *def;	/* default as text; NULL = none */
	const char *help;
	void *dst;
	long min, max;		/* INT bounds (ignored when min == max) */
	bool required;
	bool secret;		/* masked by --print-config */
	const char *const *choices; /* STRING: allowed values, NULL-ended */
} lasync_param;

/* lasync_config_load - fill the destinations of every table in tables
 * (each ends with a {NULL} row; the list of tables ends with NULL).
 * Returns 0; 1 when --help or --print-config was handled (the caller exits
 * 0); -1 with err naming the parameter on invalid input.  Unknown flags and
 * stray arguments are errors, unless rest is not NULL: then positional
 * arguments are left in rest[] (*n_rest counts them). */
int lasync_config_load(const lasync_param *const *tables, int argc,
		       char **argv, const char *program, char **rest,
		       int *n_rest, char *err, size_t errlen);

/* lasync_config_print - the effective configuration, one name=value a line */
void lasync_config_print(const lasync_param *const *tables, FILE *out);

/* lasync_config_free - free the strings the load allocated */
void lasync_config_free(const lasync_param *const *tables);

/* lasync_parse_long - strict decimal conversion with range check */
int lasync_parse_long(const char *s, long min, long max, long *out);

#endif /* LASYNC_CONFIG_H */
