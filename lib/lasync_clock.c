/*
 * lasync_clock.c - time and dates (see lasync_clock.h).
 *
 * Amsterdam dates use the C library's zone database through TZ; the zone is
 * set once at start (lasync_clock_init), before any thread is created.
 */
#include "lasync_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ZONE "Europe/Amsterdam"

int lasync_clock_init(char *err, size_t errlen)
{
	const char *dirs[] = {getenv("TZDIR"), "/usr/share/zoneinfo",
			      "/usr/lib/zoneinfo", NULL};
	char path[512];
	bool found = false;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (dirs[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirs[i], ZONE);
		if (access(path, R_OK) == 0) {
			found = true;
			break;
		}
	}
	if (!found) {
		snprintf(err, errlen,
			 "no time-zone data for %s (install tzdata): the sync "
			 "date cannot be computed",
			 ZONE);
		return -1;
	}
	setenv("TZ", ZONE, 1);
	tzset();
	return 0;
}

int64_t lasync_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lasync_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lasync_date_amsterdam(int64_t t_ms, char out[11])
{
	/* Round towards minus infinity: -1 ms is still the second before
	 * the epoch, not the epoch itself. */
	time_t t = (time_t)(t_ms / 1000 - (t_ms % 1000 < 0 ? 1 : 0));
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Howard Hinnant's days_from_civil. */
long lasync_days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, long *out)
{
	long v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int lasync_date_parse(const char *s, long *day)
{
	long y, m, d;
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
					 31, 31, 30, 31, 30, 31};

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &m) || digits(s + 8, 2, &d))
		return -1;
	if (m < 1 || m > 12 || d < 1)
		return -1;
	unsigned max = mdays[m - 1];

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	if ((unsigned long)d > max)
		return -1;
	*day = lasync_days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

void lasync_date_format(long day, char out[11])
{
	long y;
	unsigned m, d;

	char buf[32];

	civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 0;
	snprintf(buf, sizeof(buf), "%04ld-%02u-%02u", y, m % 100, d % 100);
	memcpy(out, buf, 10);
	out[10] = '\0';
}

bool lasync_date_valid(const char *s)
{
	long d;

	return lasync_date_parse(s, &d) == 0;
}
