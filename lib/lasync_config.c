/*
 * lasync_config.c - flags + LASYNC_* environment (see lasync_config.h).
 */
#include "lasync_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lasync_mem.h"

int lasync_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	/* strtol would skip leading white space: strict means digits only,
	 * with an optional sign */
	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return -1;
	if (min != max && (v < min || v > max))
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* env_name - "kafka-brokers" -> "LASYNC_KAFKA_BROKERS" */
static void env_name(const char *name, char *buf, size_t len)
{
	size_t o = lasync_strlcpy(buf, "LASYNC_", len);

	for (; *name && o + 1 < len; name++)
		buf[o++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
	buf[o < len ? o : len - 1] = '\0';
}

/* param_set - validate text and store it; source names where it came from */
static int param_set(const lasync_param *p, const char *text,
		     const char *source, char *err, size_t errlen)
{
	switch (p->type) {
	case LASYNC_PARAM_STRING: {
		if (p->choices != NULL) {
			size_t i;

			for (i = 0; p->choices[i] != NULL; i++)
				if (strcmp(p->choices[i], text) == 0)
					break;
			if (p->choices[i] == NULL) {
				snprintf(err, errlen,
					 "%s (%s): \"%s\" is not one of the "
					 "allowed values",
					 p->name, source, text);
				return -1;
			}
		}
		char **dst = p->dst;

		free(*dst);
		*dst = lasync_xstrdup(text);
		return 0;
	}
	case LASYNC_PARAM_INT: {
		long v;

		if (lasync_parse_long(text, p->min, p->max, &v) != 0) {
			if (p->min != p->max)
				snprintf(err, errlen,
					 "%s (%s): \"%s\" is not an integer "
					 "in [%ld, %ld]",
					 p->name, source, text, p->min, p->max);
			else
				snprintf(err, errlen,
					 "%s (%s): \"%s\" is not an integer",
					 p->name, source, text);
			return -1;
		}
		*(long *)p->dst = v;
		return 0;
	}
	case LASYNC_PARAM_BOOL:
		if (parse_bool(text, p->dst) != 0) {
			snprintf(err, errlen,
				 "%s (%s): \"%s\" is not a boolean", p->name,
				 source, text);
			return -1;
		}
		return 0;
	}
	return -1;
}

static const lasync_param *find_param(const lasync_param *const *tables,
				      const char *name, size_t len)
{
	for (size_t t = 0; tables[t] != NULL; t++)
		for (const lasync_param *p = tables[t]; p->name != NULL; p++)
			if (strlen(p->name) == len &&
			    strncmp(p->name, name, len) == 0)
				return p;
	return NULL;
}

static void print_help(const lasync_param *const *tables, const char *program)
{
	char env[128];

	printf("usage: %s [--name=value ...]\n\n", program);
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const lasync_param *p = tables[t]; p->name != NULL; p++) {
			env_name(p->name, env, sizeof(env));
			printf("  --%-28s %s%s\n  %-30s env %s%s%s\n", p->name,
			       p->help, p->required ? " (required)" : "", "",
			       env, p->def ? ", default " : "",
			       p->def ? p->def : "");
		}
	}
	printf("  --%-28s %s\n", "print-config",
	       "print the effective configuration and exit");
}

int lasync_config_load(const lasync_param *const *tables, int argc,
		       char **argv, const char *program, char **rest,
		       int *n_rest, char *err, size_t errlen)
{
	bool print = false;
	char env[128];

	if (n_rest != NULL)
		*n_rest = 0;
	/* Defaults, then the environment. */
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const lasync_param *p = tables[t]; p->name != NULL; p++) {
			if (p->def != NULL &&
			    param_set(p, p->def, "default", err, errlen) != 0)
				return -1;
			env_name(p->name, env, sizeof(env));
			const char *v = getenv(env);

			if (v != NULL && param_set(p, v, env, err, errlen) != 0)
				return -1;
		}
	}
	/* Then the flags. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_help(tables, program);
			return 1;
		}
		if (strcmp(a, "--print-config") == 0) {
			print = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (rest != NULL) {
				rest[(*n_rest)++] = argv[i];
				continue;
			}
			snprintf(err, errlen, "unexpected argument \"%s\"", a);
			return -1;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const lasync_param *p = find_param(tables, name, nlen);
		const char *val;

		if (p == NULL) {
			snprintf(err, errlen, "unknown flag --%.*s (see --help)",
				 (int)nlen, name);
			return -1;
		}
		if (eq != NULL) {
			val = eq + 1;
		} else if (p->type == LASYNC_PARAM_BOOL &&
			   (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
			    parse_bool(argv[i + 1], &(bool){false}) != 0)) {
			val = "true";
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "flag --%s needs a value", p->name);
			return -1;
		}
		char src[160];

		snprintf(src, sizeof(src), "--%s", p->name);
		if (param_set(p, val, src, err, errlen) != 0)
			return -1;
	}
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const lasync_param *p = tables[t]; p->name != NULL; p++) {
			if (!p->required || p->type != LASYNC_PARAM_STRING)
				continue;
			char *v = *(char **)p->dst;

			if (v == NULL || *v == '\0') {
				env_name(p->name, env, sizeof(env));
				snprintf(err, errlen,
					 "%s is required (flag --%s or env %s)",
					 p->name, p->name, env);
				return -1;
			}
		}
	}
	if (print) {
		lasync_config_print(tables, stdout);
		return 1;
	}
	return 0;
}

void lasync_config_print(const lasync_param *const *tables, FILE *out)
{
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const lasync_param *p = tables[t]; p->name != NULL; p++) {
			switch (p->type) {
			case LASYNC_PARAM_STRING: {
				const char *v = *(char **)p->dst;

				fprintf(out, "%s=%s\n", p->name,
					v == NULL      ? ""
					: p->secret && *v ? "(set)"
							  : v);
				break;
			}
			case LASYNC_PARAM_INT:
				fprintf(out, "%s=%ld\n", p->name,
					*(long *)p->dst);
				break;
			case LASYNC_PARAM_BOOL:
				fprintf(out, "%s=%s\n", p->name,
					*(bool *)p->dst ? "true" : "false");
				break;
			}
		}
	}
}

void lasync_config_free(const lasync_param *const *tables)
{
	for (size_t t = 0; tables[t] != NULL; t++)
		for (const lasync_param *p = tables[t]; p->name != NULL; p++)
			if (p->type == LASYNC_PARAM_STRING) {
				free(*(char **)p->dst);
				*(char **)p->dst = NULL;
			}
}
