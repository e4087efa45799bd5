/*
 * /metrics in the Prometheus text exposition format (metrics.h).
 */
#include "service/metrics.h"

#include "core/error.h"
#include "core/version_gen.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const outcome_names[GCS_EVENT_OUTCOME_COUNT] = {
    [GCS_EVENT_ACCEPTED] = "accepted",
    [GCS_EVENT_DUPLICATE] = "duplicate",
    [GCS_EVENT_BAD_SIGNATURE] = "bad_signature",
    [GCS_EVENT_STALE_TIMESTAMP] = "stale_timestamp",
    [GCS_EVENT_MALFORMED] = "malformed",
    [GCS_EVENT_TOO_LARGE] = "too_large",
    [GCS_EVENT_UNAUTHORIZED] = "unauthorized",
    [GCS_EVENT_UNAVAILABLE] = "unavailable",
};

/* From a tenth of a second (one call to Genesys) to ten minutes (a backlog). */
static const double duration_bounds[GCS_JOB_DURATION_BUCKETS] = {
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
};

const char *gcs_event_outcome_name(gcs_event_outcome o)
{
    return o < GCS_EVENT_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

int gcs_metrics_init(gcs_metrics *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < GCS_EVENT_OUTCOME_COUNT; i++)
        atomic_init(&m->events[i], 0);
    atomic_init(&m->dead_letters, 0);
    if (pthread_mutex_init(&m->lock, NULL) != 0)
        return gcs_error_set(GCS_ERROR, "cannot create the metrics lock");
    return 0;
}

void gcs_metrics_release(gcs_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

void gcs_metrics_count_event(gcs_metrics *m, gcs_event_outcome o)
{
    if (o < GCS_EVENT_OUTCOME_COUNT)
        atomic_fetch_add(&m->events[o], 1);
}

void gcs_metrics_observe_job(gcs_metrics *m, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    int b = 0;
    while (b < GCS_JOB_DURATION_BUCKETS && seconds > duration_bounds[b])
        b++;
    pthread_mutex_lock(&m->lock);
    m->duration_counts[b]++;
    m->duration_sum += seconds;
    m->duration_count++;
    pthread_mutex_unlock(&m->lock);
}

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static int put_label(gcs_buf *out, const char *v)
{
    int rc = 0;
    for (const char *p = v; *p && rc == 0; p++) {
        if (*p == '\\')
            rc = gcs_buf_puts(out, "\\\\");
        else if (*p == '"')
            rc = gcs_buf_puts(out, "\\\"");
        else if (*p == '\n')
            rc = gcs_buf_puts(out, "\\n");
        else
            rc = gcs_buf_put(out, p, 1);
    }
    return rc;
}

static int head(gcs_buf *out, const char *name, const char *type, const char *help)
{
    return gcs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int gcs_metrics_render(gcs_buf *out, gcs_metrics *m, const gcs_metrics_snapshot *snap)
{
    int rc;
    if ((rc = head(out, "gcscim_build_info", "gauge", "The running gcscim's version.")) < 0 ||
        (rc = gcs_buf_printf(out, "gcscim_build_info{version=\"%s\"} 1\n", GCS_VERSION_STRING)) <
            0)
        return rc;

    if ((rc = head(out, "gcscim_events_total", "counter",
                   "Events received on POST /v1/events, by outcome.")) < 0)
        return rc;
    for (int i = 0; i < GCS_EVENT_OUTCOME_COUNT; i++) {
        if ((rc = gcs_buf_printf(out, "gcscim_events_total{outcome=\"%s\"} %" PRIu64 "\n",
                                 outcome_names[i], (uint64_t)atomic_load(&m->events[i]))) < 0)
            return rc;
    }

    if (snap->jobs) {
        const gcs_job_counts *j = snap->jobs;
        if ((rc = head(out, "gcscim_jobs", "gauge", "Jobs in the store, by state.")) < 0 ||
            (rc = gcs_buf_printf(out,
                                 "gcscim_jobs{state=\"queued\"} %" PRId64 "\n"
                                 "gcscim_jobs{state=\"running\"} %" PRId64 "\n"
                                 "gcscim_jobs{state=\"needs_approval\"} %" PRId64 "\n"
                                 "gcscim_jobs{state=\"done\"} %" PRId64 "\n"
                                 "gcscim_jobs{state=\"dead\"} %" PRId64 "\n",
                                 j->pending, j->running, j->needs_approval, j->done, j->dead)) < 0)
            return rc;
    }

    uint64_t counts[GCS_JOB_DURATION_BUCKETS + 1];
    double sum;
    uint64_t count;
    pthread_mutex_lock(&m->lock);
    memcpy(counts, m->duration_counts, sizeof counts);
    sum = m->duration_sum;
    count = m->duration_count;
    pthread_mutex_unlock(&m->lock);
    if ((rc = head(out, "gcscim_job_duration_seconds", "histogram",
                   "Time from an event or request accepted to its job done.")) < 0)
        return rc;
    uint64_t cumulative = 0;
    for (int b = 0; b < GCS_JOB_DURATION_BUCKETS; b++) {
        cumulative += counts[b];
        if ((rc = gcs_buf_printf(out, "gcscim_job_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                                 duration_bounds[b], cumulative)) < 0)
            return rc;
    }
    cumulative += counts[GCS_JOB_DURATION_BUCKETS];
    if ((rc = gcs_buf_printf(out,
                             "gcscim_job_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                             "gcscim_job_duration_seconds_sum %.6f\n"
                             "gcscim_job_duration_seconds_count %" PRIu64 "\n",
                             cumulative, sum, count)) < 0)
        return rc;

    static const gcs_genesys_metrics none;
    const gcs_genesys_metrics *g = snap->genesys ? snap->genesys : &none;
    if ((rc = head(out, "gcscim_genesys_requests_total", "counter",
                   "Answers from Genesys Cloud, by route and status.")) < 0)
        return rc;
    for (int i = 0; i < g->nroutes; i++) {
        const gcs_route_count *r = &g->routes[i];
        if ((rc = gcs_buf_puts(out, "gcscim_genesys_requests_total{route=\"")) < 0 ||
            (rc = put_label(out, r->method)) < 0 || (rc = gcs_buf_puts(out, " ")) < 0 ||
            (rc = put_label(out, r->route)) < 0 ||
            (rc = gcs_buf_printf(out, "\",status=\"%d\"} %" PRIu64 "\n", r->status, r->count)) < 0)
            return rc;
    }
    if ((rc = head(out, "gcscim_genesys_rate_limited_total", "counter",
                   "Answers 429 (rate limited) from Genesys Cloud.")) < 0 ||
        (rc = gcs_buf_printf(out, "gcscim_genesys_rate_limited_total %" PRIu64 "\n",
                             g->rate_limited)) < 0 ||
        (rc = head(out, "gcscim_genesys_rate_limit_used_ratio", "gauge",
                   "Requests used of those allowed in the rate-limit window (0 to 1).")) < 0 ||
        (rc = gcs_buf_printf(out, "gcscim_genesys_rate_limit_used_ratio %.4f\n",
                             g->rate_limit_used_ratio)) < 0 ||
        (rc = head(out, "gcscim_genesys_breaker_open", "gauge",
                   "1 while the circuit breaker holds calls to Genesys Cloud back.")) < 0 ||
        (rc = gcs_buf_printf(out, "gcscim_genesys_breaker_open %d\n", g->breaker_open ? 1 : 0)) <
            0 ||
        (g->hosts > 0 &&
         ((rc = head(out, "gcscim_hosts", "gauge",
                     "Serve processes sharing the client's rate limit, this one included.")) < 0 ||
          (rc = gcs_buf_printf(out, "gcscim_hosts %d\n", g->hosts)) < 0)) ||
        (rc = head(out, "gcscim_token_refreshes_total", "counter",
                   "OAuth tokens obtained from the login host.")) < 0 ||
        (rc = gcs_buf_printf(out, "gcscim_token_refreshes_total %" PRIu64 "\n",
                             g->token_refreshes)) < 0)
        return rc;

    if ((rc = head(out, "gcscim_dead_letters_total", "counter",
                   "Jobs that spent their attempts and became dead.")) < 0 ||
        (rc = gcs_buf_printf(out, "gcscim_dead_letters_total %" PRIu64 "\n",
                             (uint64_t)atomic_load(&m->dead_letters))) < 0)
        return rc;
    if (snap->chain_head >= 0 &&
        ((rc = head(out, "gcscim_receipt_chain_head", "gauge",
                    "Sequence number of the receipt chain's head.")) < 0 ||
         (rc = gcs_buf_printf(out, "gcscim_receipt_chain_head %" PRId64 "\n", snap->chain_head)) <
             0))
        return rc;
    const gcs_chain_status *c = snap->chain;
    if (c &&
        ((rc = head(out, "gcscim_receipt_chain_verified_timestamp_seconds", "gauge",
                    "Unix time of the last check that verified the receipt chain up to its "
                    "head (0: none yet).")) < 0 ||
         (rc = gcs_buf_printf(out, "gcscim_receipt_chain_verified_timestamp_seconds %.3f\n",
                              (double)c->verified_ms / 1000.0)) < 0 ||
         (rc = head(out, "gcscim_receipt_chain_verified_head", "gauge",
                    "Sequence number of the receipt the last such check verified up to.")) < 0 ||
         (rc = gcs_buf_printf(out, "gcscim_receipt_chain_verified_head %" PRId64 "\n",
                              c->verified_head)) < 0 ||
         (rc = head(out, "gcscim_receipt_chain_intact", "gauge",
                    "0 once a check found a break in the receipt chain, else 1.")) < 0 ||
         (rc = gcs_buf_printf(out, "gcscim_receipt_chain_intact %d\n", c->intact ? 1 : 0)) < 0))
        return rc;
    const gcs_notify_metrics *n = snap->notify;
    if (n &&
        ((rc = head(out, "gcscim_notifications", "gauge",
                    "Notifications in the outbox, by state.")) < 0 ||
         (rc = gcs_buf_printf(out,
                              "gcscim_notifications{state=\"pending\"} %" PRId64 "\n"
                              "gcscim_notifications{state=\"dead\"} %" PRId64 "\n",
                              n->pending, n->dead)) < 0 ||
         (rc = head(out, "gcscim_notifications_sent_total", "counter",
                    "Notification attempts by this process, by outcome.")) < 0 ||
         (rc = gcs_buf_printf(out,
                              "gcscim_notifications_sent_total{outcome=\"delivered\"} %" PRIu64 "\n"
                              "gcscim_notifications_sent_total{outcome=\"failed\"} %" PRIu64 "\n"
                              "gcscim_notifications_sent_total{outcome=\"dead\"} %" PRIu64 "\n",
                              n->delivered, n->failed, n->dead_sent)) < 0))
        return rc;
    if ((rc = head(out, "gcscim_draining", "gauge",
                   "1 once a stop was asked: no new work is accepted.")) < 0 ||
        (rc = gcs_buf_printf(out, "gcscim_draining %d\n", snap->draining ? 1 : 0)) < 0)
        return rc;
    return 0;
}
