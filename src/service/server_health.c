/*
 * Health (/healthz, /readyz), metrics (/metrics), and the outcome hook: the
 * one place where a job's outcome becomes metrics and an audit line.
 */
#include "service/service_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gcs_service__healthz(gcs_service *s, gcs_http_response *out, const gcs_http_request *req)
{
    (void)s;
    (void)req;
    gcs_service__reply(out, 200, json_pack("{s:s}", "status", "alive"));
}

/* Ready: the store answers, a token can be had, and no stop was asked. */
void gcs_service__readyz(gcs_service *s, gcs_http_response *out, const gcs_http_request *req)
{
    (void)req;
    json_t *failed = json_object();
    int64_t n;
    pthread_mutex_lock(&s->read_lock);
    int rc = gcs_store_job_pending_count(&n, s->read_store);
    pthread_mutex_unlock(&s->read_lock);
    if (rc < 0)
        json_object_set_new(failed, "store", json_string(gcs_error_last()));
    /* A stopping service is not ready whatever the token: and the token
     * check, which waits for the engine between two jobs, is not made. */
    char why[256] = "";
    if (gcs_service_draining(s))
        json_object_set_new(failed, "draining", json_string("the service is stopping"));
    else if (s->o.token_ready && !s->o.token_ready(s->o.ctx, why, sizeof why))
        json_object_set_new(failed, "token", json_string(why[0] ? why : "no token"));
    if (json_object_size(failed) == 0) {
        json_decref(failed);
        gcs_service__reply(out, 200, json_pack("{s:s}", "status", "ready"));
        return;
    }
    gcs_service__reply(out, 503, json_pack("{s:s, s:o}", "status", "not ready", "failed", failed));
    gcs_http_response_header(out, "Retry-After", "5");
}

void gcs_service__metrics(gcs_service *s, gcs_http_response *out, const gcs_http_request *req)
{
    (void)req;
    gcs_job_counts jobs;
    int64_t head = -1;
    gcs_metrics_snapshot snap = {NULL, -1, gcs_service_draining(s), NULL, NULL, NULL};
    pthread_mutex_lock(&s->read_lock);
    if (gcs_store_job_counts(&jobs, s->read_store) == 0)
        snap.jobs = &jobs;
    if (gcs_store_chain_head_seq(&head, s->read_store) == 0)
        snap.chain_head = head;
    pthread_mutex_unlock(&s->read_lock);

    gcs_genesys_metrics g;
    memset(&g, 0, sizeof g);
    gcs_route_count routes[GCS_ROUTE_COUNTS_MAX];
    g.routes = routes;
    if (s->o.genesys_metrics) {
        s->o.genesys_metrics(s->o.ctx, &g);
        snap.genesys = &g;
    }
    gcs_notify_metrics notify;
    if (s->o.notify_metrics && s->o.notify_metrics(s->o.ctx, &notify))
        snap.notify = &notify;
    gcs_chain_status chain;
    if (s->o.chain_status && s->o.chain_status(s->o.ctx, &chain))
        snap.chain = &chain;
    gcs_buf_clear(&out->body);
    int rc = gcs_metrics_render(&out->body, &s->metrics, &snap);
    if (rc < 0) {
        gcs_service__reply_error(out, req, 500, gcs_error_last());
        return;
    }
    out->status = 200;
    gcs_http_response_header(out, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
}

/* ==== Outcomes ==== */

void gcs_service_on_outcome(void *service, const gcs_job *job, const char *result_json)
{
    gcs_service *s = service;
    json_t *payload = json_loads(job->payload, 0, NULL);
    json_t *result = result_json ? json_loads(result_json, 0, NULL) : NULL;
    const char *outcome = json_string_value(json_object_get(result, "outcome"));
    /* No result: the attempt failed; the job is pending again (retried after
     * a backoff) or dead. */
    if (!outcome)
        outcome = result ? job->state : "failed";

    if (strcmp(job->state, GCS_JOB_DEAD) == 0)
        atomic_fetch_add(&s->metrics.dead_letters, 1);
    json_int_t accepted = json_integer_value(json_object_get(payload, "accepted_ms"));
    if (strcmp(job->state, GCS_JOB_DONE) == 0 && accepted > 0)
        gcs_metrics_observe_job(&s->metrics, (double)(gcs_time_wall_ms() - accepted) / 1000.0);

    /* One line a SIEM can follow per job: who asked (the API key, or the
     * event's webhook id), about whom, what came of it, and the receipts that
     * prove it. Apply's own "audit.outcome" lines (one per change, written with
     * the outcome and its notification) say what changed; this one also covers
     * what never reaches apply: a rejected row, an approval wait, a failure. */
    json_t *line = json_object();
    if (line) {
        json_object_set_new(line, "job", json_integer(job->id));
        json_object_set_new(line, "subject", json_string(job->key));
        json_object_set(line, "requested_by", json_object_get(payload, "requested_by"));
        json_object_set(line, "origin", json_object_get(payload, "origin"));
        json_object_set(line, "webhook_id", json_object_get(payload, "webhook_id"));
        json_object_set_new(line, "state", json_string(job->state));
        json_object_set_new(line, "outcome", json_string(outcome));
        json_object_set(line, "genesys_id", json_object_get(result, "genesys_id"));
        json_object_set(line, "receipts", json_object_get(result, "receipts"));
        json_object_set(line, "run_id", json_object_get(result, "run_id"));
        json_object_set(line, "detail", json_object_get(result, "detail"));
        if (job->last_error && strcmp(job->state, GCS_JOB_DEAD) == 0)
            json_object_set_new(line, "error", json_string(job->last_error));
        gcs_log_json(GCS_LOG_INFO, "audit.job", line);
        json_decref(line);
    }
    json_decref(payload);
    json_decref(result);
}
