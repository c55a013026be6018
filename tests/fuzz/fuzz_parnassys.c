/*
 * fuzz_parnassys.c - libFuzzer target for the ParnasSys adapter and the
 * rules behind it.
 *
 * Each input is tried as each of the three documents in turn, the other two
 * being the example school's (fixtures/las/parnassys/99ZZ), so the fuzzer
 * reaches every document's parser and the cross-document resolution.  When
 * a snapshot parses, the rules run on it too (default settings, a fixed
 * sync date), since a model the adapter accepts is one the rules must map.
 * Crashes, sanitizer reports and leaks are failures; a clean reject is not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lasync_log.h"
#include "lasync_mem.h"
#include "lasync_state.h"
#include "mapper_adapter.h"
#include "mapper_rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const doc_names[3] = {"getLeerlingen", "getMedewerkers",
					 "getVerzorgers"};
static mapper_doc base[3];

/* load - one fixture document, whole; exits when it is missing */
static void load(int i)
{
	char *path = lasync_xasprintf("%s/las/parnassys/99ZZ/%s.xml",
				      LASYNC_FIXTURES, doc_names[i]);
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL) {
		fprintf(stderr, "fuzz_parnassys: cannot open %s\n", path);
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
	for (int i = 0; i < 3; i++)
		load(i);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const mapper_adapter *ad = mapper_adapter_for(1);
	mapper_limits lim = {1u << 20, 10000};

	for (int i = 0; i < 3; i++) {
		mapper_doc docs[3] = {base[0], base[1], base[2]};
		lasync_school *s = NULL;
		char err[512];

		docs[i].data = (const char *)data;
		docs[i].len = size;
		if (ad->parse(docs, 3, "99ZZ", "00", &lim, &s, err,
			      sizeof(err)) == 0) {
			mapper_rules_in in = {s, "fuzz", "99ZZ", "00", NULL,
					      "2026-11-29"};
			lasync_state *st = mapper_rules_apply(&in, NULL, err,
							      sizeof(err));

			lasync_state_free(st);
			lasync_school_free(s);
		}
	}
	return 0;
}
