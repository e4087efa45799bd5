/*
 * The reading routes (GET /v1/jobs/{id}, /v1/users/{key}, /v1/receipts) and
 * the answer about one job that POST /v1/users gives, waiting for it when
 * asked. Every read goes through the service's reading connection, one at a
 * time, and through the store's own queries (the receipts' filters are the
 * command line's: gcs_store_receipts_each).
 */
#include "service/service_internal.h"

#include "core/error.h"
#include "core/time.h"
#include "service/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_POLL_MS 50
#define USER_JOBS_SHOWN 10
#define USER_RECEIPTS_SHOWN 20
#define RECEIPTS_DEFAULT 50
#define RECEIPTS_MAX 1000

static int job_get(gcs_service *s, gcs_job *out, int64_t id)
{
    pthread_mutex_lock(&s->read_lock);
    int rc = gcs_store_job_get(out, s->read_store, id);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

/* The job's outcome (the result the workers record), or NULL while it has none. */
static json_t *job_result(const gcs_job *j)
{
    return j->result ? json_loads(j->result, 0, NULL) : NULL;
}

/* A job as the API shows it: its state, attempts, times, and what it asked. */
static json_t *job_json(const gcs_job *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_t *payload = json_loads(j->payload, 0, NULL);
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "key", json_string(j->key));
    json_object_set_new(o, "state", json_string(j->state));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "max_attempts", json_integer(j->max_attempts));
    json_object_set_new(o, "created_ms", json_integer(j->created_ms));
    json_object_set_new(o, "updated_ms", json_integer(j->updated_ms));
    json_object_set_new(o, "last_error", j->last_error ? json_string(j->last_error) : json_null());
    json_t *result = job_result(j);
    json_object_set_new(o, "result", result ? result : json_null());
    json_object_set_new(o, "payload", payload ? payload : json_null());
    return o;
}

static int parse_id(int64_t *out, const char *text)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static bool settled(const char *state)
{
    return strcmp(state, GCS_JOB_DONE) == 0 || strcmp(state, GCS_JOB_DEAD) == 0 ||
           strcmp(state, GCS_JOB_DROPPED) == 0 || strcmp(state, GCS_JOB_NEEDS_APPROVAL) == 0;
}

/* The status of a settled job's answer: 201 created, 200 otherwise done,
 * 422 rejected (the row), 502 failed or dead, 202 waiting for approval. */
static int settled_status(const gcs_job *j, const json_t *result)
{
    const char *outcome = json_string_value(json_object_get(result, "outcome"));
    if (strcmp(j->state, GCS_JOB_DEAD) == 0 || strcmp(j->state, GCS_JOB_DROPPED) == 0)
        return 502;
    if (strcmp(j->state, GCS_JOB_NEEDS_APPROVAL) == 0)
        return 202;
    if (!outcome)
        return 200;
    if (strcmp(outcome, "created") == 0)
        return 201;
    if (strcmp(outcome, "rejected") == 0)
        return 422;
    if (strcmp(outcome, "failed") == 0)
        return 502;
    return 200;
}

void gcs_service__answer_job(gcs_service *s, gcs_http_response *out, const gcs_http_request *req,
                             int64_t job_id, int wait_s)
{
    gcs_job j;
    int64_t deadline = gcs_time_mono_ms() + (int64_t)wait_s * 1000;
    for (;;) {
        if (job_get(s, &j, job_id) < 0) {
            gcs_service__reply_error(out, req, 503, gcs_error_last());
            return;
        }
        if (wait_s == 0 || settled(j.state) || gcs_time_mono_ms() >= deadline ||
            gcs_service_draining(s))
            break;
        gcs_job_release(&j);
        gcs_time_sleep_ms(WAIT_POLL_MS);
    }
    json_t *result = job_result(&j);
    int status = wait_s > 0 && settled(j.state) ? settled_status(&j, result) : 202;
    json_t *body = json_pack("{s:I, s:s}", "job", (json_int_t)j.id, "state", j.state);
    if (body && result) {
        json_object_set(body, "outcome", json_object_get(result, "outcome"));
        json_object_set(body, "genesys_id", json_object_get(result, "genesys_id"));
        json_object_set(body, "receipts", json_object_get(result, "receipts"));
        json_object_set(body, "result", result);
    }
    json_decref(result);
    gcs_service__reply(out, status, body);
    if (status == 202) {
        char location[64];
        snprintf(location, sizeof location, "/v1/jobs/%lld", (long long)j.id);
        gcs_http_response_header(out, "Location", location);
    }
    gcs_job_release(&j);
}

void gcs_service__get_job(gcs_service *s, gcs_http_response *out, const gcs_http_request *req,
                          const char *id)
{
    int64_t n;
    gcs_job j;
    if (!gcs_service__authorize(s, out, req, GCS_RIGHT_READ))
        return;
    if (parse_id(&n, id) < 0) {
        gcs_service__reply_error(out, req, 404, "no such job");
        return;
    }
    int rc = job_get(s, &j, n);
    if (rc == GCS_ENOTFOUND) {
        gcs_service__reply_error(out, req, 404, "no such job");
        return;
    }
    if (rc < 0) {
        gcs_service__reply_error(out, req, 503, gcs_error_last());
        return;
    }
    gcs_service__reply(out, 200, job_json(&j));
    gcs_job_release(&j);
}

static int add_job(const gcs_job *j, void *payload)
{
    json_t *o = job_json(j);
    if (!o || json_array_append_new(payload, o) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

static int add_receipt(const gcs_receipt *r, void *payload)
{
    json_t *o = gcs_receipt_json(r);
    if (!o || json_array_append_new(payload, o) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

void gcs_service__get_user(gcs_service *s, gcs_http_response *out, const gcs_http_request *req,
                           const char *key)
{
    int rc;
    if (!gcs_service__authorize(s, out, req, GCS_RIGHT_READ))
        return;
    size_t klen = strlen(key);
    if (klen > GCS_EVENT_KEY_MAX) {
        gcs_service__reply_error(out, req, 404, "no such person");
        return;
    }
    char job_key[GCS_EVENT_KEY_MAX + sizeof "person:"];
    snprintf(job_key, sizeof job_key, "person:%s", key);
    json_t *jobs = json_array(), *receipts = json_array();
    gcs_receipt_filter f = {.user = key, .limit = USER_RECEIPTS_SHOWN, .newest_first = true};
    pthread_mutex_lock(&s->read_lock);
    rc = jobs && receipts ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = gcs_store_jobs_of_key(s->read_store, job_key, USER_JOBS_SHOWN, add_job, jobs);
    if (rc == 0)
        rc = gcs_store_receipts_each(s->read_store, &f, add_receipt, receipts);
    pthread_mutex_unlock(&s->read_lock);
    if (rc < 0) {
        json_decref(jobs);
        json_decref(receipts);
        gcs_service__reply_error(out, req, 503, gcs_error_last());
        return;
    }
    if (json_array_size(jobs) == 0 && json_array_size(receipts) == 0) {
        json_decref(jobs);
        json_decref(receipts);
        gcs_service__reply_error(out, req, 404, "gcscim knows nothing of this person");
        return;
    }
    /* What gcscim last knew: the state of the newest job and the Genesys id
     * of the newest receipt that names one. */
    const char *genesys_id = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(receipts, i, r) {
        genesys_id = json_string_value(json_object_get(r, "genesys_id"));
        if (genesys_id)
            break;
    }
    json_t *newest = json_array_get(jobs, 0);
    json_t *body = json_pack("{s:s, s:o, s:o, s:O, s:O}", "key", key, "state",
                             newest ? json_incref(json_object_get(newest, "state")) : json_null(),
                             "genesys_id", genesys_id ? json_string(genesys_id) : json_null(),
                             "jobs", jobs, "receipts", receipts);
    json_decref(jobs);
    json_decref(receipts);
    gcs_service__reply(out, 200, body);
}

/* The command line's receipt filters, as query arguments: user, run, outcome,
 * since, until (ISO 8601), limit (newest first). */
void gcs_service__get_receipts(gcs_service *s, gcs_http_response *out,
                               const gcs_http_request *req)
{
    gcs_receipt_filter f = {.newest_first = true, .limit = RECEIPTS_DEFAULT};
    const char *v;
    char msg[160];
    if (!gcs_service__authorize(s, out, req, GCS_RIGHT_READ))
        return;
    f.user = gcs_http_request_arg(req, "user");
    f.run_id = gcs_http_request_arg(req, "run");
    f.outcome = gcs_http_request_arg(req, "outcome");
    if ((v = gcs_http_request_arg(req, "since")) && gcs_time_parse_iso8601(&f.since_ms, v) < 0) {
        snprintf(msg, sizeof msg, "since: %s", gcs_error_last());
        gcs_service__reply_error(out, req, 400, msg);
        return;
    }
    if ((v = gcs_http_request_arg(req, "until")) && gcs_time_parse_iso8601(&f.until_ms, v) < 0) {
        snprintf(msg, sizeof msg, "until: %s", gcs_error_last());
        gcs_service__reply_error(out, req, 400, msg);
        return;
    }
    if ((v = gcs_http_request_arg(req, "limit"))) {
        int64_t n;
        if (parse_id(&n, v) < 0 || n > RECEIPTS_MAX) {
            snprintf(msg, sizeof msg, "limit: a whole number from 1 to %d", RECEIPTS_MAX);
            gcs_service__reply_error(out, req, 400, msg);
            return;
        }
        f.limit = n;
    }
    json_t *list = json_array();
    if (!list) {
        gcs_service__reply_error(out, req, 500, "out of memory");
        return;
    }
    pthread_mutex_lock(&s->read_lock);
    int rc = gcs_store_receipts_each(s->read_store, &f, add_receipt, list);
    pthread_mutex_unlock(&s->read_lock);
    if (rc < 0) {
        json_decref(list);
        gcs_service__reply_error(out, req, 503, gcs_error_last());
        return;
    }
    gcs_service__reply(out, 200, json_pack("{s:o}", "receipts", list));
}
