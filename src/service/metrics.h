/*
 * metrics.h - what `gcscim serve` counts and how /metrics shows it (the
 * Prometheus text exposition format, checked by `promtool check metrics`).
 * The names are shared with the dashboards and alerts: docs/serve.md lists
 * them, and they never change meaning.
 *
 * Counters and the histogram are updated from any thread (atomics, or the
 * histogram's lock); rendering reads a snapshot of each at once.
 */
#ifndef GCS_SERVICE_METRICS_H
#define GCS_SERVICE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "core/buf.h"
#include "http/route_counts.h"
#include "service/chain_check.h"
#include "store/store.h"

typedef enum gcs_event_outcome {
    GCS_EVENT_ACCEPTED,
    GCS_EVENT_DUPLICATE,
    GCS_EVENT_BAD_SIGNATURE,
    GCS_EVENT_STALE_TIMESTAMP,
    GCS_EVENT_MALFORMED,
    GCS_EVENT_TOO_LARGE,
    GCS_EVENT_UNAUTHORIZED,
    GCS_EVENT_UNAVAILABLE,
    GCS_EVENT_OUTCOME_COUNT
} gcs_event_outcome;

const char *gcs_event_outcome_name(gcs_event_outcome o);

/* Job latency, accepted -> done, in seconds: the buckets' upper bounds. */
#define GCS_JOB_DURATION_BUCKETS 12

typedef struct gcs_metrics {
    atomic_uint_fast64_t events[GCS_EVENT_OUTCOME_COUNT];
    atomic_uint_fast64_t dead_letters;
    pthread_mutex_t lock;                         /* the histogram's */
    uint64_t duration_counts[GCS_JOB_DURATION_BUCKETS + 1]; /* the last: +Inf */
    double duration_sum;
    uint64_t duration_count;
} gcs_metrics;

/* What the request engine of the workers knows; zero when there are none. */
typedef struct gcs_genesys_metrics {
    gcs_route_count *routes;       /* requests by method, route and status */
    int nroutes;
    uint64_t rate_limited;         /* answers 429 */
    double rate_limit_used_ratio;  /* 0..1 */
    bool breaker_open;
    uint64_t token_refreshes;
    int hosts;                     /* hosts sharing the client's limit; 0: unknown */
} gcs_genesys_metrics;

/* The outbox, when serve sends notifications. */
typedef struct gcs_notify_metrics {
    int64_t pending, dead;                 /* gcscim_notifications{state} */
    uint64_t delivered, failed, dead_sent; /* gcscim_notifications_sent_total{outcome} */
} gcs_notify_metrics;

/* What one page shows besides the counters, gathered by the caller. */
typedef struct gcs_metrics_snapshot {
    const gcs_job_counts *jobs;     /* NULL when the store could not be read */
    int64_t chain_head;             /* -1 when unknown */
    bool draining;
    const gcs_genesys_metrics *genesys;  /* may be NULL */
    const gcs_notify_metrics *notify;    /* NULL: no notifications configured */
    const gcs_chain_status *chain;       /* NULL: the chain is not checked (interval 0) */
} gcs_metrics_snapshot;

int gcs_metrics_init(gcs_metrics *m);
void gcs_metrics_release(gcs_metrics *m);
void gcs_metrics_count_event(gcs_metrics *m, gcs_event_outcome o);
void gcs_metrics_observe_job(gcs_metrics *m, double seconds);
/* Appends the whole exposition to out. */
int gcs_metrics_render(gcs_buf *out, gcs_metrics *m, const gcs_metrics_snapshot *snap);

#endif
