/*
 * bench_util.h - small helpers shared by the benchmark programs: a
 * monotonic clock, whole-file reads, the machine's load, and the summary
 * of repeated measurements (median with min..max, as BENCHMARKS.md
 * reports them).
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>

/* bench_now - monotonic seconds */
double bench_now(void);

/* bench_read_file - the whole file (NUL-terminated) into *len; NULL with
 * errno set when it cannot be read.  The caller frees. */
char *bench_read_file(const char *path, size_t *len);

/* bench_load1 - the 1-minute load average, -1 when unknown */
double bench_load1(void);

/* A summary of n samples. */
typedef struct bench_stats {
	double median, min, max;
} bench_stats;

/* bench_summary - median, min and max of v[0..n) (sorts v) */
bench_stats bench_summary(double *v, size_t n);

#endif /* BENCH_UTIL_H */
