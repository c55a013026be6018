/*
 * notifier.h - lasync-notifier: parent change suggestions (R21).
 *
 * In this version the notifier runs on the shared daemon skeleton and
 * consumes <prefix>.suggestions: each event is decoded and validated, and
 * accounted for in logs and metrics.  The webhook, SMTP delivery and the
 * once-only bookkeeping are the notifier issue's work; until then an event
 * that cannot be decoded is dead-lettered like at every other stage.
 */
#ifndef NOTIFIER_H
#define NOTIFIER_H

#include "lasync_daemon.h"

int notifier_init(lasync_daemon *d, void *ctx, char *err, size_t errlen);
void notifier_start(void *ctx, lasync_job *job);
void notifier_abandon(void *ctx, lasync_job *job);

#endif /* NOTIFIER_H */
