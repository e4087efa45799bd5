/*
 * workers.c - job -> plan -> apply, on threads sharing one session (workers.h).
 */
#include "service/workers.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "engine/sync.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OWNER_MAX 128

typedef struct worker {
    gcs_workers *w;
    int index;
    pthread_t thread;
    bool started;
    char owner[OWNER_MAX];   /* lease owner: host id and worker number */
    int64_t job_id;          /* the job in hand, 0: none (under w->mu) */
} worker;

struct gcs_workers {
    gcs_workers_options o;
    char *store_url;
    char *profile_path;
    char host_id[OWNER_MAX - 8];
    gcs_plan_options plan;
    int64_t lease_ms, idle_poll_ms;

    pthread_mutex_t mu;      /* guards everything below but the session */
    pthread_cond_t wake;     /* a job was enqueued, or stop/drain */
    pthread_cond_t idle;     /* a worker finished a job */
    bool draining;           /* stop claiming */
    bool stopping;           /* threads exit */
    int pending_notes;       /* notifications not yet taken by a worker */
    gcs_workers_stats counts;
    json_t *requests;        /* gcs_http_client_stats_json as of the last job */

    /* The session's engine is single-threaded: one job drives it at a time. */
    pthread_mutex_t engine;
    volatile sig_atomic_t stop_engine; /* apply's stop flag: set at the drain deadline */

    pthread_t heartbeat;
    bool heartbeat_started;
    worker *workers;
    int count;
};

/* ==== One job ==== */

static void count_add(gcs_workers *w, int64_t *field, int64_t n)
{
    pthread_mutex_lock(&w->mu);
    *field += n;
    pthread_mutex_unlock(&w->mu);
}

/* The job's result from the engine's: one subject's outcome. */
static json_t *job_result(const json_t *sync)
{
    const json_t *sub = json_array_get(json_object_get(sync, "subjects"), 0);
    const char *outcome = json_string_value(json_object_get(sync, "outcome"));
    json_t *r = json_pack("{s:s,s:O?,s:O,s:O?,s:O?}", "outcome", outcome ? outcome : "failed",
                          "genesys_id", json_object_get(sub, "genesys_id"), "receipts",
                          json_object_get(sync, "receipts"), "run_id",
                          json_object_get(sync, "run_id"), "detail",
                          json_object_get(sub, "detail"));
    if (r && !json_object_get(r, "genesys_id"))
        json_object_set_new(r, "genesys_id", json_null());
    if (r && !json_object_get(r, "run_id"))
        json_object_set_new(r, "run_id", json_null());
    if (r && !json_object_get(r, "detail"))
        json_object_set_new(r, "detail", json_null());
    if (r && json_object_get(sync, "needs"))
        json_object_set(r, "needs", json_object_get(sync, "needs"));
    return r;
}

/* A payload the workers cannot act on: rejected for good, with why. */
static json_t *rejected(const char *why)
{
    return json_pack("{s:s,s:n,s:[],s:n,s:s}", "outcome", GCS_SYNC_REJECTED, "genesys_id",
                     "receipts", "run_id", "detail", why);
}

/* Reads the payload (docs/serve.md): *result is set instead when it is unusable. */
static int read_payload(json_t **doc, gcs_sync_subject *sub, gcs_plan_options *plan,
                        json_t **result, const gcs_job *job)
{
    json_error_t err;
    *doc = json_loads(job->payload, 0, &err);
    const char *kind = json_string_value(json_object_get(*doc, "kind"));
    const char *event = json_string_value(json_object_get(*doc, "event"));
    json_t *row = json_object_get(*doc, "row");
    char why[512];
    if (!json_is_object(*doc)) {
        snprintf(why, sizeof why, "the payload is not a JSON object");
    } else if (!kind || strcmp(kind, "person") != 0) {
        snprintf(why, sizeof why, "kind '%s' is not supported (only person)", kind ? kind : "");
    } else if (!json_string_value(json_object_get(*doc, "key")) ||
               !*json_string_value(json_object_get(*doc, "key"))) {
        snprintf(why, sizeof why, "the payload has no key");
    } else if (event && strcmp(event, "leave") != 0 && strcmp(event, "upsert") != 0) {
        snprintf(why, sizeof why, "event '%s' is neither upsert nor leave", event);
    } else if ((event && strcmp(event, "leave") == 0) ? !(row == NULL || json_is_null(row))
                                                      : !json_is_object(row)) {
        snprintf(why, sizeof why, "an upsert needs a row (an object), a leave none");
    } else {
        sub->key = json_string_value(json_object_get(*doc, "key"));
        sub->row = json_is_object(row) ? row : NULL;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(*doc, "approve"), i, a) {
            if (!json_is_string(a) || gcs_plan_options_approve(plan, json_string_value(a)) < 0) {
                snprintf(why, sizeof why, "approval %zu: %s", i + 1,
                         json_is_string(a) ? gcs_error_last() : "not a string");
                *result = rejected(why);
                return 0;
            }
        }
        return 0;
    }
    *result = rejected(why);
    return 0;
}

typedef struct snapshot {
    gcs_http_stats http;
    json_t *requests;
} snapshot;

static int provision(gcs_workers *w, gcs_store *store, const gcs_job *job, json_t **result,
                     int64_t *waited_ms)
{
    json_t *doc = NULL;
    gcs_sync_subject sub = {0};
    gcs_sync_options so;
    gcs_sync_options_init(&so);
    so.plan = w->plan;
    int rc = read_payload(&doc, &sub, &so.plan, result, job);
    if (rc < 0 || *result) {
        json_decref(doc);
        return rc;
    }
    char label[64];
    snprintf(label, sizeof label, "job:%lld", (long long)job->id);
    so.profile_path = w->profile_path;
    so.command = "serve";
    so.run_label = label;
    so.stop = &w->stop_engine;
    json_t *sync = NULL;
    int64_t t0 = gcs_time_mono_ms();
    pthread_mutex_lock(&w->engine);
    *waited_ms = gcs_time_mono_ms() - t0;
    rc = gcs_sync_provision(&sync, w->o.session, store, &sub, 1, &so);
    snapshot snap = {.requests = gcs_http_client_stats_json(w->o.session->client)};
    gcs_http_client_stats(&snap.http, w->o.session->client);
    pthread_mutex_unlock(&w->engine);
    pthread_mutex_lock(&w->mu);
    w->counts.http = snap.http;
    if (snap.requests) {
        json_decref(w->requests);
        w->requests = snap.requests;
    }
    pthread_mutex_unlock(&w->mu);
    if (rc == 0 && !(*result = job_result(sync)))
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    json_decref(sync);
    json_decref(doc);
    return rc;
}

static void run_job(worker *me, gcs_store *store, gcs_job *job)
{
    gcs_workers *w = me->w;
    json_t *result = NULL;
    int64_t waited = 0;
    int rc = provision(w, store, job, &result, &waited);
    count_add(w, &w->counts.engine_wait_ms, waited);
    const char *outcome = json_string_value(json_object_get(result, "outcome"));
    char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;
    char reason[1024];
    int src;
    if (rc == GCS_ECANCELLED && w->stop_engine) {
        /* Stopped by the drain's deadline: back to the queue, as it was. */
        src = gcs_store_job_release(store, job->id, me->owner);
        count_add(w, &w->counts.released, 1);
        GCS_INFO("serve.job", "key", job->key, "state", "released");
    } else if (rc < 0 || !text || strcmp(outcome, GCS_SYNC_FAILED) == 0) {
        snprintf(reason, sizeof reason, "%s",
                 rc < 0 ? gcs_error_last()
                 : text ? (json_string_value(json_object_get(result, "detail"))
                               ? json_string_value(json_object_get(result, "detail"))
                               : "failed")
                        : "out of memory");
        src = gcs_store_job_fail(store, job->id, me->owner, reason, 0);
        bool dead = job->attempts >= job->max_attempts;
        count_add(w, &w->counts.failed, 1);
        if (dead)
            count_add(w, &w->counts.dead, 1);
        GCS_WARN("serve.job", "key", job->key, "state", dead ? "dead" : "retry", "why", reason);
        free(text);
        text = NULL;
    } else if (strcmp(outcome, GCS_SYNC_NEEDS_APPROVAL) == 0) {
        src = gcs_store_job_needs_approval(store, job->id, me->owner, text);
        count_add(w, &w->counts.needs_approval, 1);
        GCS_WARN("serve.job", "key", job->key, "state", "needs_approval");
    } else {
        src = gcs_store_job_complete_with(store, job->id, me->owner, text);
        count_add(w, &w->counts.done, 1);
        if (strcmp(outcome, GCS_SYNC_REJECTED) == 0)
            count_add(w, &w->counts.rejected, 1);
        GCS_INFO("serve.job", "key", job->key, "outcome", outcome);
    }
    if (src == GCS_ECONFLICT) {
        /* Our lease ran out and another worker took the job: it does it again
         * (apply's resume and the re-read make that harmless). */
        count_add(w, &w->counts.lost_leases, 1);
        GCS_WARN("serve.job", "key", job->key, "why", gcs_error_last());
    } else if (src < 0) {
        GCS_ERR("serve.job", "key", job->key, "why", gcs_error_last());
    }
    if (src == 0 && w->o.on_outcome) {
        gcs_job now;
        if (gcs_store_job_get(&now, store, job->id) == 0) {
            w->o.on_outcome(w->o.ctx, &now, text);
            gcs_job_release(&now);
        }
    }
    free(text);
    json_decref(result);
}

/* ==== Threads ==== */

static void *worker_main(void *arg)
{
    worker *me = arg;
    gcs_workers *w = me->w;
    gcs_store *store = NULL;
    int rc = gcs_store_open(&store, w->store_url);
    if (rc < 0) {
        GCS_ERR("serve.worker", "why", gcs_error_last());
        return NULL;
    }
    if (w->o.backoff_base_ms > 0)
        gcs_store_set_job_backoff(store, w->o.backoff_base_ms, w->o.backoff_max_ms);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        bool stop = w->draining || w->stopping;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        gcs_job job;
        rc = gcs_store_job_claim(&job, store, me->owner, w->lease_ms);
        if (rc == 0) {
            pthread_mutex_lock(&w->mu);
            me->job_id = job.id;
            w->counts.claimed++;
            w->counts.running++;
            pthread_mutex_unlock(&w->mu);
            run_job(me, store, &job);
            gcs_job_release(&job);
            pthread_mutex_lock(&w->mu);
            me->job_id = 0;
            w->counts.running--;
            pthread_cond_broadcast(&w->idle);
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        if (rc != GCS_ENOTFOUND)
            GCS_WARN("serve.worker", "why", gcs_error_last());
        /* Nothing ready: sleep until notified, or poll (other hosts, backoffs). */
        pthread_mutex_lock(&w->mu);
        if (w->pending_notes == 0 && !w->draining && !w->stopping) {
            struct timespec until;
            int64_t at = gcs_time_wall_ms() + w->idle_poll_ms;
            until.tv_sec = (time_t)(at / 1000);
            until.tv_nsec = (long)(at % 1000) * 1000000L;
            pthread_cond_timedwait(&w->wake, &w->mu, &until);
        }
        if (w->pending_notes > 0)
            w->pending_notes--;
        pthread_mutex_unlock(&w->mu);
    }
    gcs_store_free(store);
    return NULL;
}

/* Renews the lease of every job in hand, every third of the lease: a job that
 * waits for the engine keeps its lease as one that uses it does. */
static void *heartbeat_main(void *arg)
{
    gcs_workers *w = arg;
    gcs_store *store = NULL;
    if (gcs_store_open(&store, w->store_url) < 0) {
        GCS_ERR("serve.heartbeat", "why", gcs_error_last());
        return NULL;
    }
    int64_t *ids = calloc((size_t)w->count, sizeof *ids);
    int64_t at = gcs_time_wall_ms() + w->lease_ms / 3;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping && ids) {
        struct timespec until;
        until.tv_sec = (time_t)(at / 1000);
        until.tv_nsec = (long)(at % 1000) * 1000000L;
        pthread_cond_timedwait(&w->wake, &w->mu, &until);
        if (w->stopping)
            break;
        if (gcs_time_wall_ms() < at)
            continue; /* woken by a notification, not by the clock */
        at = gcs_time_wall_ms() + w->lease_ms / 3;
        for (int i = 0; i < w->count; i++)
            ids[i] = w->workers[i].job_id;
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < w->count; i++) {
            if (ids[i] && gcs_store_job_extend(store, ids[i], w->workers[i].owner, w->lease_ms) < 0)
                GCS_WARN("serve.heartbeat", "why", gcs_error_last());
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    free(ids);
    gcs_store_free(store);
    return NULL;
}

/* ==== Life ==== */

static void free_all(gcs_workers *w)
{
    json_decref(w->requests);
    free(w->store_url);
    free(w->profile_path);
    free(w->workers);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->engine);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->idle);
    free(w);
}

static void join_all(gcs_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    w->draining = true;
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->count; i++) {
        if (w->workers[i].started)
            pthread_join(w->workers[i].thread, NULL);
    }
    if (w->heartbeat_started)
        pthread_join(w->heartbeat, NULL);
}

int gcs_workers_start(gcs_workers **out, const gcs_workers_options *o)
{
    *out = NULL;
    if (!o->store_url || !o->session || !o->profile_path)
        return gcs_error_set(GCS_EINVALID, "workers need a store URL, a session and a profile");
    int count = o->count > 0 ? o->count : GCS_WORKERS_DEFAULT;
    if (count > GCS_WORKERS_MAX)
        return gcs_error_set(GCS_EINVALID, "at most %d workers, not %d", GCS_WORKERS_MAX, count);
    gcs_workers *w = calloc(1, sizeof *w);
    GCS_CHECK_ALLOC(w);
    w->o = *o;
    w->count = count;
    w->lease_ms = o->lease_ms > 0 ? o->lease_ms : GCS_WORKERS_LEASE_MS;
    w->idle_poll_ms = o->idle_poll_ms > 0 ? o->idle_poll_ms : GCS_WORKERS_IDLE_POLL_MS;
    if (o->plan)
        w->plan = *o->plan;
    else
        gcs_plan_options_init(&w->plan);
    if (o->host_id && *o->host_id) {
        snprintf(w->host_id, sizeof w->host_id, "%s", o->host_id);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(w->host_id, sizeof w->host_id, "%s:%ld", host, (long)getpid());
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->engine, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    w->store_url = strdup(o->store_url);
    w->profile_path = strdup(o->profile_path);
    w->requests = json_object();
    w->workers = calloc((size_t)count, sizeof *w->workers);
    w->counts.workers = count;
    if (!w->store_url || !w->profile_path || !w->workers || !w->requests) {
        free_all(w);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        worker *me = &w->workers[i];
        me->w = w;
        me->index = i;
        snprintf(me->owner, sizeof me->owner, "%s:w%d", w->host_id, i + 1);
        if (pthread_create(&me->thread, NULL, worker_main, me) != 0)
            rc = gcs_error_set(GCS_ERROR, "cannot start worker thread %d", i + 1);
        else
            me->started = true;
    }
    if (rc == 0) {
        if (pthread_create(&w->heartbeat, NULL, heartbeat_main, w) != 0)
            rc = gcs_error_set(GCS_ERROR, "cannot start the heartbeat thread");
        else
            w->heartbeat_started = true;
    }
    if (rc < 0) {
        join_all(w);
        free_all(w);
        return rc;
    }
    *out = w;
    return 0;
}

void gcs_workers_notify(gcs_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (w->pending_notes < w->count)
        w->pending_notes++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

void gcs_workers_drain(gcs_workers *w, int64_t deadline_ms)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->draining = true;
    w->counts.draining = true;
    pthread_cond_broadcast(&w->wake);
    while (w->counts.running > 0) {
        if (gcs_time_wall_ms() >= deadline_ms) {
            /* Out of time: apply stops sending and records what finished;
             * run_job gives those jobs back. */
            w->stop_engine = 1;
            pthread_cond_wait(&w->idle, &w->mu);
            continue;
        }
        struct timespec until;
        until.tv_sec = (time_t)(deadline_ms / 1000);
        until.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
        pthread_cond_timedwait(&w->idle, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
}

void gcs_workers_free(gcs_workers *w)
{
    if (!w)
        return;
    gcs_workers_drain(w, gcs_time_wall_ms());
    join_all(w);
    free_all(w);
}

int gcs_workers_with_session(gcs_workers *w, int (*fn)(gcs_genesys_session *s, void *ctx),
                             void *ctx)
{
    pthread_mutex_lock(&w->engine);
    int rc = fn(w->o.session, ctx);
    pthread_mutex_unlock(&w->engine);
    return rc;
}

void gcs_workers_counts(gcs_workers *w, gcs_workers_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->counts;
    pthread_mutex_unlock(&w->mu);
}

json_t *gcs_workers_requests_json(gcs_workers *w)
{
    pthread_mutex_lock(&w->mu);
    json_t *r = json_deep_copy(w->requests);
    pthread_mutex_unlock(&w->mu);
    return r ? r : json_object();
}
