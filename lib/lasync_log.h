/*
 * lasync_log.h - one line per event, key=value, to stderr.
 *
 *   ts=2026-11-29T08:20:55.123Z level=info svc=mapper event=changeset_out
 *   tenant=t1 sync=4f.. ops=12
 *
 * Levels have consequences (Postfix): info reports; warn reports and goes
 * on; error counts (lasync_log_errors()); fatal is an environment or
 * configuration problem and exits 1; panic is a bug and aborts.
 *
 * Never log personal data: only ids, counts, classes and messages that the
 * code itself wrote.  Free text goes through lasync_q(), which quotes and
 * escapes it (and caps its length) so a line is always one line.
 * Thread-safe: each line is formatted apart and written with one write(2).
 */
#ifndef LASYNC_LOG_H
#define LASYNC_LOG_H

#include <stdarg.h>
#include <stdint.h>

typedef enum {
	LASYNC_LOG_DEBUG = 0,
	LASYNC_LOG_INFO,
	LASYNC_LOG_WARN,
	LASYNC_LOG_ERROR,
	LASYNC_LOG_FATAL,
	LASYNC_LOG_PANIC,
} lasync_log_level;

/* lasync_log_init - set the service name and the lowest level printed */
void lasync_log_init(const char *service, lasync_log_level min);

/* lasync_log_parse_level - "debug".."error" to a level; -1 if unknown */
int lasync_log_parse_level(const char *s);

/* lasync_log - write one line: event, then the caller's key=value pairs */
void lasync_log(lasync_log_level level, const char *event, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
void lasync_vlog(lasync_log_level level, const char *event, const char *fmt,
		 va_list ap) __attribute__((format(printf, 3, 0)));

#define lasync_debug(ev, ...) lasync_log(LASYNC_LOG_DEBUG, ev, __VA_ARGS__)
#define lasync_info(ev, ...) lasync_log(LASYNC_LOG_INFO, ev, __VA_ARGS__)
#define lasync_warn(ev, ...) lasync_log(LASYNC_LOG_WARN, ev, __VA_ARGS__)
#define lasync_error(ev, ...) lasync_log(LASYNC_LOG_ERROR, ev, __VA_ARGS__)

/* lasync_fatal - log and exit(1): configuration or environment problem */
_Noreturn void lasync_fatal(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* lasync_panic - log and abort(): a bug */
_Noreturn void lasync_panic(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* lasync_q - s quoted and escaped for a log value, in one of a few
 * rotating thread-local buffers (valid until the 8th next call) */
const char *lasync_q(const char *s);

/* lasync_log_errors - how many error lines were written */
uint64_t lasync_log_errors(void);

#endif /* LASYNC_LOG_H */
