/*
 * lasync_metrics.h - a small Prometheus registry: counters, gauges and
 * histograms with label sets, rendered in the text exposition format.
 *
 * Families are created once at start; children are found by label values
 * (ids and classes only, never personal data).  Thread-safe: the HTTP
 * server renders from its own thread.
 *
 *   static lasync_metric *m_ops;
 *   m_ops = lasync_metric_counter("lasync_applier_ops_total",
 *                                 "Portal operations", "type,outcome");
 *   lasync_metric_add(m_ops, 1, "create", "ok");
 */
#ifndef LASYNC_METRICS_H
#define LASYNC_METRICS_H

#include <stddef.h>

typedef struct lasync_metric lasync_metric;

/* labels: comma-separated label names, or NULL for none (max 4) */
lasync_metric *lasync_metric_counter(const char *name, const char *help,
				     const char *labels);
lasync_metric *lasync_metric_gauge(const char *name, const char *help,
				   const char *labels);
/* buckets: ascending upper bounds; +Inf is implied */
lasync_metric *lasync_metric_histogram(const char *name, const char *help,
				       const char *labels,
				       const double *buckets, size_t n);

/* The variadic arguments are the label values (const char *), one per
 * label name, in order. */
void lasync_metric_add(lasync_metric *m, double v, ...);
void lasync_metric_set(lasync_metric *m, double v, ...);
void lasync_metric_observe(lasync_metric *m, double v, ...);
/* lasync_metric_get - current value of a counter or gauge child (tests) */
double lasync_metric_get(lasync_metric *m, ...);
/* lasync_metric_remove - drop a child (a tenant that went away) */
void lasync_metric_remove(lasync_metric *m, ...);

/* lasync_metrics_render - the whole registry as exposition text; the
 * caller frees it */
char *lasync_metrics_render(void);

#endif /* LASYNC_METRICS_H */
