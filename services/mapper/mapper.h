/*
 * mapper.h - lasync-mapper: snapshot -> school model -> desired portal
 * state -> change set against the tenant's expected state.
 *
 *   main.c               parameters and the daemon call
 *   mapper_job.c         one snapshot: decode, parse, rules, diff, produce
 *   mapper_adapter.c     the LAS adapter registry
 *   mapper_<vendor>.c    one adapter per LAS (raw documents -> model)
 *   mapper_rules.c       the school rules (model -> desired state)
 *   mapper_diff.c        desired vs expected -> operations
 *
 * The expected state lives in Redis ("<prefix>:{tenant}:expected", a zstd
 * PortalState).  It is written only after the change set (or the result)
 * is acknowledged by Kafka and before the snapshot's offset is stored, so
 * a crash between the two re-emits the same change set (same operation
 * ids) rather than losing it.
 */
#ifndef MAPPER_H
#define MAPPER_H

#include "lasync_daemon.h"

typedef struct mapper mapper;

mapper *mapper_new(void);
void mapper_free(mapper *m);
const lasync_param *mapper_params(mapper *m);
int mapper_init(lasync_daemon *d, void *ctx, char *err, size_t errlen);
void mapper_start(void *ctx, lasync_job *job);
void mapper_abandon(void *ctx, lasync_job *job);
void mapper_dead(void *ctx, lasync_job *job, const char *cls,
		 const char *error);
int mapper_acked(void *ctx, lasync_job *job, char *err, size_t errlen);
void mapper_release(void *ctx, lasync_job *job);

#endif /* MAPPER_H */
