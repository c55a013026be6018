/*
 * lasync_log.c - structured one-line logging (see lasync_log.h).
 */
#include "lasync_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define Q_BUFS 8
#define Q_BUF_BYTES 512

static const char *log_service = "lasync";
static lasync_log_level log_min = LASYNC_LOG_INFO;
static atomic_uint_fast64_t log_errors;

static const char *const level_names[] = {
	"debug", "info", "warn", "error", "fatal", "panic",
};

void lasync_log_init(const char *service, lasync_log_level min)
{
	log_service = service;
	log_min = min;
}

int lasync_log_parse_level(const char *s)
{
	for (int i = 0; i <= LASYNC_LOG_ERROR; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* lasync_vlog - format the whole line first, then one write(2), so lines
 * from librdkafka's threads never interleave with ours */
void lasync_vlog(lasync_log_level level, const char *event, const char *fmt,
		 va_list ap)
{
	char line[LINE_MAX_BYTES];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int w;

	if (level >= LASYNC_LOG_ERROR)
		atomic_fetch_add(&log_errors, 1);
	if (level < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	w = snprintf(line + n, sizeof(line) - n,
		     ".%03ldZ level=%s svc=%s event=%s%s",
		     ts.tv_nsec / 1000000L, level_names[level], log_service,
		     event, fmt && *fmt ? " " : "");
	if (w > 0)
		n += (size_t)w < sizeof(line) - n ? (size_t)w
						  : sizeof(line) - n - 1;
	if (fmt && *fmt) {
		w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (w > 0)
			n += (size_t)w < sizeof(line) - n
				     ? (size_t)w
				     : sizeof(line) - n - 1;
	}
	/* A line is always one line, whatever the caller formatted. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t r = write(STDERR_FILENO, line, n);

	(void)r;
}

void lasync_log(lasync_log_level level, const char *event, const char *fmt,
		...)
{
	va_list ap;

	va_start(ap, fmt);
	lasync_vlog(level, event, fmt, ap);
	va_end(ap);
}

void lasync_fatal(const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lasync_vlog(LASYNC_LOG_FATAL, event, fmt, ap);
	va_end(ap);
	exit(1);
}

void lasync_panic(const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lasync_vlog(LASYNC_LOG_PANIC, event, fmt, ap);
	va_end(ap);
	abort();
}

const char *lasync_q(const char *s)
{
	static _Thread_local char bufs[Q_BUFS][Q_BUF_BYTES];
	static _Thread_local unsigned next;
	char *b = bufs[next++ % Q_BUFS];
	size_t o = 0;

	if (s == NULL)
		s = "";
	b[o++] = '"';
	for (; *s && o < Q_BUF_BYTES - 6; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			b[o++] = '\\';
			b[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			b[o++] = '\\';
			b[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : '?';
		} else {
			b[o++] = (char)c;
		}
	}
	if (*s) {
		b[o++] = '.';
		b[o++] = '.';
	}
	b[o++] = '"';
	b[o] = '\0';
	return b;
}

uint64_t lasync_log_errors(void)
{
	return atomic_load(&log_errors);
}
