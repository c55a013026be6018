/*
 * fuzz_fetcher_fault.c - libFuzzer target for what the fetcher reads of a
 * LAS answer before any mapper sees it: the SOAP fault reader
 * (fetcher_soap_fault) and how a fault is judged (transient or not, the
 * label a refused ESIS key asks for).  A LAS or anything between it and us
 * controls these bytes.  Crashes, sanitizer reports and leaks are
 * failures; "not a fault" is a clean answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fetcher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fetcher_fault f;

	if (!fetcher_soap_fault((const char *)data, size, &f))
		return 0;
	/* what the reader filled in must be terminated strings */
	if (memchr(f.faultcode, '\0', sizeof(f.faultcode)) == NULL ||
	    memchr(f.faultstring, '\0', sizeof(f.faultstring)) == NULL ||
	    memchr(f.code, '\0', sizeof(f.code)) == NULL ||
	    memchr(f.label, '\0', sizeof(f.label)) == NULL)
		__builtin_trap();
	(void)fetcher_fault_transient(&f, 500);
	(void)fetcher_fault_transient(&f, 400);
	return 0;
}
