/*
 * fuzz_esis.c - libFuzzer target for the ESIS adapter and the rules
 * behind it.
 *
 * Each input is tried as each of the two documents in turn, the other
 * being the example school's (fixtures/las/esis/88YY01), so the fuzzer
 * reaches both documents' parsers, the fault reader and the key
 * resolution.  When a snapshot parses, the rules run on it too (default
 * settings, then with esis_split_combination_groups, a fixed sync date),
 * since a model the adapter accepts is one the rules must map.  Crashes,
 * sanitizer reports and leaks are failures; a clean reject is not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_state.h"
#include "lasync_tenant.h"
#include "mapper_adapter.h"
#include "mapper_rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_DOCS 2
static const char *const doc_names[N_DOCS] = {"HaalLeerlinggegevens",
					      "HaalVerzorgergegevens"};
static mapper_doc base[N_DOCS];
static lasync_settings split;

/* load - one fixture document, whole; exits when it is missing */
static void load(int i)
{
	char *path = lasync_xasprintf("%s/las/esis/88YY01/%s.xml",
				      LASYNC_FIXTURES, doc_names[i]);
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL) {
		fprintf(stderr, "fuzz_esis: cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = lasync_xmalloc((size_t)n + 1);
	base[i].len = fread(buf, 1, (size_t)n, f);
	base[i].data = buf;
	base[i].name = doc_names[i];
	fclose(f);
	free(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	lasync_log_init("fuzz", LASYNC_LOG_FATAL); /* warnings are expected */
	for (int i = 0; i < N_DOCS; i++)
		load(i);
	lasync_settings_defaults(&split);
	split.esis_split_combination_groups = true;
	return 0;
}

/* map - the rules over a parsed school, with settings set */
static void map(const lasync_school *s, const lasync_settings *set)
{
	mapper_rules_in in = {s, "fuzz", "88YY", "01", set, "2026-11-29"};
	char err[512];

	lasync_state_free(mapper_rules_apply(&in, NULL, err, sizeof(err)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const mapper_adapter *ad = mapper_adapter_for(2);
	mapper_limits lim = {1u << 20, 10000};

	for (int i = 0; i < N_DOCS; i++) {
		mapper_doc docs[N_DOCS] = {base[0], base[1]};
		lasync_school *s = NULL;
		char err[1024];

		docs[i].data = (const char *)data;
		docs[i].len = size;
		if (ad->parse(docs, N_DOCS, "88YY", "01", &lim, &s, err,
			      sizeof(err)) == 0) {
			map(s, NULL);
			map(s, &split);
			lasync_school_free(s);
		}
	}
	return 0;
}
