/*
 * service.h - `gcscim serve`'s front: the HTTP routes (events, REST, metrics,
 * health), their authentication, the intake that commits accepted work to the
 * store, and the one place where job outcomes become metrics and audit lines.
 * docs/serve.md describes the routes and their answers.
 *
 * Invariants:
 *  - an event or request is answered 202 (or 200/201) only after its job is
 *    committed to the store; a webhook id seen before is answered with the
 *    first delivery's job and queues nothing;
 *  - once draining, every route but /healthz and /metrics answers 503
 *    (/readyz says why), and nothing new is accepted;
 *  - every answer carries the request id (X-Request-Id), and every log line
 *    about a request names it;
 *  - the handler runs on the HTTP server's threads; the service has its own
 *    store connections (one for the intake's commits, one for reading), so
 *    the caller's store, if any, is never touched from those threads.
 */
#ifndef GCS_SERVICE_SERVICE_H
#define GCS_SERVICE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/server.h"
#include "service/auth.h"
#include "service/metrics.h"
#include "store/store.h"

typedef struct gcs_service gcs_service;

typedef struct gcs_service_options {
    const char *db_url;                    /* the store (NULL: the default) */
    const gcs_webhook_secret *secrets;     /* event secrets (count 0: events need an API key) */
    size_t secret_count;
    const gcs_api_keys *api_keys;          /* may be NULL: then only signed events are accepted */
    int64_t webhook_retention_ms;          /* 0: GCS_WEBHOOK_ID_RETENTION_MS_DEFAULT */
    int64_t queue_max;                     /* pending jobs past which intake answers 503; 0: 100000 */
    int max_attempts;                      /* of each job; 0: 5 */
    int max_wait_s;                        /* longest ?wait= honoured; 0: 60 */

    /* Hooks into the workers (all optional; ctx is passed back). */
    void (*on_enqueued)(void *ctx);        /* jobs were committed: wake a worker */
    void (*genesys_metrics)(void *ctx, gcs_genesys_metrics *out); /* for /metrics */
    /* For /readyz: whether a token can be obtained; false with a reason otherwise. */
    bool (*token_ready)(void *ctx, char *why, size_t whysz);
    /* The outbox's counts for /metrics; false when serve sends no notifications. */
    bool (*notify_metrics)(void *ctx, gcs_notify_metrics *out);
    /* The receipt chain check's status for /metrics; false when it is off. */
    bool (*chain_status)(void *ctx, gcs_chain_status *out);
    void *ctx;
} gcs_service_options;

/* Opens the service's store connections (migrating the schema) and starts the
 * intake. The options' pointers must outlive the service. */
int gcs_service_new(gcs_service **out, const gcs_service_options *o);
/* Finishes what the intake holds (each waiting request gets its answer),
 * closes the stores. Stop the HTTP server first. NULL ok. */
void gcs_service_free(gcs_service *s);

/* The HTTP handler (gcs_http_handler_fn): payload is the gcs_service. */
void gcs_service_handle(gcs_http_response *out, const gcs_http_request *req, void *payload);

/* From now on nothing new is accepted (SIGTERM). */
void gcs_service_drain(gcs_service *s);
bool gcs_service_draining(const gcs_service *s);

/*
 * The outcome hook (gcs_workers_options.on_outcome): called once per job that
 * reached an outcome (done, dead, needs_approval). It updates the metrics and
 * writes one JSON audit line (event "audit.job": who asked, subject, outcome,
 * receipt ids; apply writes "audit.outcome" per change). Any other consumer of outcomes (notifications) hangs
 * off this one function. `job` and `result_json` are borrowed.
 */
void gcs_service_on_outcome(void *service, const gcs_job *job, const char *result_json);

/* The service's counters (for tests and benchmarks). */
gcs_metrics *gcs_service_metrics(gcs_service *s);

#endif
