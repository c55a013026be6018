/*
 * lasync_clock.h - wall and monotonic time, and calendar dates.
 *
 * The sync date of a snapshot is its fetch time in Europe/Amsterdam
 * (DESIGN §3).  lasync_clock_init() loads that zone and fails when the
 * system has no time-zone data: a daemon must refuse to start rather than
 * silently use UTC and move children between groups a day early.
 * Dates are "YYYY-MM-DD"; day numbers count days since 1970-01-01.
 */
#ifndef LASYNC_CLOCK_H
#define LASYNC_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* lasync_clock_init - load Europe/Amsterdam; -1 with err when unavailable */
int lasync_clock_init(char *err, size_t errlen);

int64_t lasync_now_ms(void);	/* wall clock, unix ms */
int64_t lasync_mono_ms(void);	/* monotonic ms, for timeouts */

/* lasync_date_amsterdam - the calendar date in Amsterdam at unix ms t,
 * written to out (11 bytes) */
void lasync_date_amsterdam(int64_t t_ms, char out[11]);

/* lasync_date_parse - "YYYY-MM-DD" (a real calendar date) to a day number;
 * -1 when invalid */
int lasync_date_parse(const char *s, long *day);

/* lasync_date_format - day number to "YYYY-MM-DD" */
void lasync_date_format(long day, char out[11]);

/* lasync_date_valid - is s a real calendar date in YYYY-MM-DD form? */
bool lasync_date_valid(const char *s);

/* lasync_days_from_civil - day number of y-m-d (proleptic Gregorian) */
long lasync_days_from_civil(long y, unsigned m, unsigned d);

#endif /* LASYNC_CLOCK_H */
