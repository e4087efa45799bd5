/*
 * workers.c - job -> plan -> apply, on threads sharing one session (workers.h).
 */
#include "service/workers.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "engine/planner.h"
#include "engine/recorder.h"
#include "engine/sync.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OWNER_MAX 128

typedef struct engine_request engine_request;

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
    pthread_cond_t beat;     /* the heartbeat's own: stop (a notification is a worker's) */
    bool draining;           /* stop claiming */
    bool stopping;           /* threads exit */
    int pending_notes;       /* notifications not yet taken by a worker */
    engine_request *waiting; /* jobs waiting for the engine */
    size_t batch_max;        /* people in one plan at most */
    /* The organisation's names (roles, divisions, ...), fetched once and kept
     * for ORG_NAMES_TTL_MS instead of once per plan; under the engine's lock. */
    gcs_org_names *org;
    int64_t org_fetched_ms;
    gcs_workers_stats counts;
    json_t *requests;        /* gcs_http_client_stats_json as of the last job */

    /* The session's engine is single-threaded: one job drives it at a time. */
    pthread_mutex_t engine;
    volatile sig_atomic_t stop_engine; /* apply's stop flag: set at the drain deadline */

    pthread_t heartbeat;
    bool heartbeat_started;
    int64_t host_beat_ms;    /* how often this host's row is beaten */
    bool joined;             /* the first beats are done: the workers may claim */
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

/* A payload the workers cannot act on: rejected for good, with why. */
static json_t *rejected(const char *why)
{
    return json_pack("{s:s,s:n,s:[],s:n,s:s}", "outcome", GCS_SYNC_REJECTED, "genesys_id",
                     "receipts", "run_id", "detail", why);
}

/* The approvals a payload carries ("approve": ["KIND=N", ...]), added to *plan. */
static int read_approvals(const json_t *doc, gcs_plan_options *plan)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "approve"), i, a) {
        if (!json_is_string(a))
            return gcs_error_set(GCS_EINVALID, "approve[%zu]: not a string", i);
        if (gcs_plan_options_approve(plan, json_string_value(a)) < 0)
            return gcs_error_set(GCS_EINVALID, "approve[%zu]: %s", i, gcs_error_last());
    }
    return 0;
}

int gcs_workers_read_payload(json_t **doc, gcs_sync_subject *sub, gcs_plan_options *plan,
                             const char *payload)
{
    json_error_t err;
    memset(sub, 0, sizeof *sub);
    *doc = payload ? json_loads(payload, 0, &err) : NULL;
    const char *kind = json_string_value(json_object_get(*doc, "kind"));
    const char *key = json_string_value(json_object_get(*doc, "key"));
    const char *event = json_string_value(json_object_get(*doc, "event"));
    json_t *row = json_object_get(*doc, "row");
    bool leave = event && strcmp(event, "leave") == 0;
    int rc = 0;
    if (!json_is_object(*doc))
        rc = gcs_error_set(GCS_EINVALID, "the payload is not a JSON object");
    else if (!kind || strcmp(kind, "person") != 0)
        rc = gcs_error_set(GCS_EINVALID, "kind: '%.64s' is not supported (person or group)",
                           kind ? kind : "");
    else if (!key || !*key)
        rc = gcs_error_set(GCS_EINVALID, "key: missing or empty");
    else if (event && !leave && strcmp(event, "upsert") != 0)
        rc = gcs_error_set(GCS_EINVALID, "event: '%.64s' is neither upsert nor leave", event);
    else if (leave ? !(row == NULL || json_is_null(row)) : !json_is_object(row))
        rc = gcs_error_set(GCS_EINVALID, "row: an upsert needs a row (an object), a leave none");
    if (rc == 0)
        rc = read_approvals(*doc, plan);
    if (rc < 0) {
        json_decref(*doc);
        *doc = NULL;
        return rc;
    }
    sub->key = key;
    sub->row = json_is_object(row) ? row : NULL;
    return 0;
}

int gcs_workers_read_group_payload(json_t **doc, const json_t **group, gcs_plan_options *plan,
                                   const char *payload)
{
    json_error_t err;
    *group = NULL;
    *doc = payload ? json_loads(payload, 0, &err) : NULL;
    const char *kind = json_string_value(json_object_get(*doc, "kind"));
    const char *key = json_string_value(json_object_get(*doc, "key"));
    const json_t *g = json_object_get(*doc, "group");
    const char *gkey = json_string_value(json_object_get(g, "key"));
    int rc = 0;
    if (!json_is_object(*doc))
        rc = gcs_error_set(GCS_EINVALID, "the payload is not a JSON object");
    else if (!kind || strcmp(kind, "group") != 0)
        rc = gcs_error_set(GCS_EINVALID, "kind: a group job's payload is of kind group");
    else if (!key || !*key)
        rc = gcs_error_set(GCS_EINVALID, "key: missing or empty");
    else if (!json_is_object(g) || !json_is_array(json_object_get(g, "members")))
        rc = gcs_error_set(GCS_EINVALID, "group: an object with key and members is needed");
    else if (!gkey || strcmp(gkey, key) != 0)
        rc = gcs_error_set(GCS_EINVALID, "group.key: not the payload's key");
    size_t i;
    json_t *m;
    json_array_foreach(rc == 0 ? json_object_get(g, "members") : NULL, i, m) {
        if (!json_string_value(m) || !*json_string_value(m)) {
            rc = gcs_error_set(GCS_EINVALID, "group.members[%zu]: not a person's key", i);
            break;
        }
    }
    if (rc == 0)
        rc = read_approvals(*doc, plan);
    if (rc < 0) {
        json_decref(*doc);
        *doc = NULL;
        return rc;
    }
    *group = g;
    return 0;
}

/* How long a job waits before its next attempt after the engine stopped:
 * a daily limit lasts, a server that stayed down through the breaker's probes
 * gets time; a missing permission takes the store's backoff. */
static int64_t retry_after_stop(int stop)
{
    switch (stop) {
    case GCS_EDAILYLIMIT: return 5 * 60 * 1000;
    case GCS_EUNREACHABLE: return 30 * 1000;
    default: return 0;
    }
}

/* ==== The engine: one batch of people at a time ====
 *
 * A worker with a job queues it for the engine and waits for the engine's
 * lock. Whoever gets the lock provisions every queued job without approvals
 * in one plan and one apply (engine/sync.h: the planner reads them all at
 * once, apply writes them concurrently), so that workers add throughput though
 * the engine is single-threaded; the others then find their outcome ready. A
 * job carrying approvals is planned alone: an approval covers what was shown
 * for it. A batch is never larger than the thresholds' floors and counts
 * (3 by default): the blast-radius rule then asks of a batch nothing it would
 * not ask of each of its jobs alone. A batch whose plan needs an approval, or that fails as a whole
 * without the engine stopping, is planned again person by person, so that one
 * person's plan never holds up or decides another's. */

#define ENGINE_BATCH_MAX 100
#define ORG_NAMES_TTL_MS (5 * 60 * 1000)

struct engine_request {
    engine_request *next;
    const gcs_job *job;
    gcs_sync_subject sub;
    const json_t *group;     /* a group job's group (engine/sync.h); NULL for a person */
    gcs_plan_options plan;
    bool approvals;          /* the job carries approvals, or is a group's: planned alone */
    bool done;               /* the outcome below is ready (under w->mu) */
    int rc;
    char error[1024];
    json_t *result;
    int64_t retry_after_ms;
};

/* The job's result: one person's outcome from the engine's. */
static json_t *job_result(const json_t *sync, size_t k)
{
    const json_t *sub = json_array_get(json_object_get(sync, "subjects"), k);
    const char *outcome = json_string_value(json_object_get(sub, "outcome"));
    json_t *r = json_pack("{s:s,s:O?,s:O,s:O?,s:O?}", "outcome", outcome ? outcome : "failed",
                          "genesys_id", json_object_get(sub, "genesys_id"), "receipts",
                          json_object_get(sub, "receipts"), "run_id",
                          json_object_get(sync, "run_id"), "detail",
                          json_object_get(sub, "detail"));
    if (r && !json_object_get(r, "genesys_id"))
        json_object_set_new(r, "genesys_id", json_null());
    if (r && !json_object_get(r, "run_id"))
        json_object_set_new(r, "run_id", json_null());
    if (r && !json_object_get(r, "detail"))
        json_object_set_new(r, "detail", json_null());
    if (r && outcome && strcmp(outcome, GCS_SYNC_NEEDS_APPROVAL) == 0)
        json_object_set(r, "needs", json_object_get(sync, "needs"));
    return r;
}

static void snapshot_engine(gcs_workers *w)
{
    gcs_http_stats http;
    json_t *requests = gcs_http_client_stats_json(w->o.session->client);
    gcs_http_client_stats(&http, w->o.session->client);
    pthread_mutex_lock(&w->mu);
    w->counts.http = http;
    if (requests) {
        json_decref(w->requests);
        w->requests = requests;
    }
    pthread_mutex_unlock(&w->mu);
}

/* The organisation's names for the next plan: kept ones while fresh, else
 * fetched (with receipts, like a plan's own reads). NULL when they cannot be
 * had: the plan then fetches them itself, and fails as it would. */
static const gcs_org_names *org_names(gcs_workers *w, gcs_store *store, bool fresh)
{
    int64_t now = gcs_time_mono_ms();
    if (w->org && !fresh && now - w->org_fetched_ms < ORG_NAMES_TTL_MS)
        return w->org;
    gcs_org_names_free(w->org);
    w->org = NULL;
    gcs_recorder rec;
    gcs_recorder_attach(&rec, store, w->o.session->client, "serve:org-names");
    int rc = gcs_planner_fetch_org_names(&w->org, w->o.session->client, w->profile_path, NULL);
    int rec_rc = gcs_recorder_detach(&rec);
    if (rc < 0 || rec_rc < 0) {
        GCS_WARN("serve.org_names", "why", gcs_error_last());
        gcs_org_names_free(w->org);
        w->org = NULL;
        if (gcs_http_client_stopped(w->o.session->client))
            gcs_http_client_resume(w->o.session->client); /* the plan meets it again */
        return NULL;
    }
    w->org_fetched_ms = now;
    return w->org;
}

static bool any_rejected(const json_t *sync)
{
    size_t i;
    json_t *sub;
    json_array_foreach(json_object_get(sync, "subjects"), i, sub) {
        const char *o = json_string_value(json_object_get(sub, "outcome"));
        if (o && strcmp(o, GCS_SYNC_REJECTED) == 0)
            return true;
    }
    return false;
}

/* Provisions batch[0..n) with the engine (its lock held). */
static void run_batch(gcs_workers *w, gcs_store *store, engine_request **batch, size_t n,
                      bool recheck)
{
    gcs_sync_subject subjects[ENGINE_BATCH_MAX];
    for (size_t k = 0; k < n; k++)
        subjects[k] = batch[k]->sub;
    char label[80];
    if (n == 1)
        snprintf(label, sizeof label, "job:%lld", (long long)batch[0]->job->id);
    else
        snprintf(label, sizeof label, "jobs:%lld+%zu", (long long)batch[0]->job->id, n - 1);
    gcs_sync_options so;
    gcs_sync_options_init(&so);
    so.plan = batch[0]->plan;
    so.profile_path = w->profile_path;
    so.command = "serve";
    so.run_label = label;
    so.stop = &w->stop_engine;
    /* Notifications name the job, or the jobs provisioned together (their ids
     * separated by commas), and who asked when they all share one caller. */
    char job_id[ENGINE_BATCH_MAX * 21 + 1] = "";
    char actor[256] = "";
    bool one_actor = true;
    for (size_t k = 0; k < n; k++) {
        size_t used = strlen(job_id);
        snprintf(job_id + used, sizeof job_id - used, "%s%lld", k ? "," : "",
                 (long long)batch[k]->job->id);
        json_t *doc = json_loads(batch[k]->job->payload, 0, NULL);
        const char *who = json_string_value(json_object_get(doc, "requested_by"));
        if (k == 0)
            snprintf(actor, sizeof actor, "%s", who ? who : "");
        else if (strcmp(actor, who ? who : "") != 0)
            one_actor = false;
        json_decref(doc);
    }
    so.notify = w->o.notify;
    so.passwords_out = w->o.passwords_out;
    so.job_id = job_id;
    so.actor = one_actor && *actor ? actor : NULL;
    so.audit = true; /* serve's log is for shipping: one line per change, then audit.job */
    json_t *sync = NULL;
    bool kept = w->org && gcs_time_mono_ms() - w->org_fetched_ms < ORG_NAMES_TTL_MS;
    so.org_names = org_names(w, store, false);
    /* A group is planned alone (provision: a group job is never batched). */
    const json_t *group = n == 1 ? batch[0]->group : NULL;
    int rc = group ? gcs_sync_provision_group(&sync, w->o.session, store, group, &so)
                   : gcs_sync_provision(&sync, w->o.session, store, subjects, n, &so);
    char error[1024];
    snprintf(error, sizeof error, "%s", rc < 0 ? gcs_error_last() : "");
    /* A stop (403, daily limit, Genesys down) ends this attempt for everyone;
     * the engine outlives it, and the next batch starts afresh. */
    int stop = gcs_http_client_stopped(w->o.session->client);
    if (stop && gcs_http_client_resume(w->o.session->client) < 0)
        GCS_ERR("serve.engine", "why", gcs_error_last());
    const char *overall = json_string_value(json_object_get(sync, "outcome"));
    if (n > 1 && !stop && rc != GCS_ECANCELLED &&
        (rc < 0 || (overall && strcmp(overall, GCS_SYNC_NEEDS_APPROVAL) == 0))) {
        json_decref(sync);
        for (size_t k = 0; k < n; k++)
            run_batch(w, store, &batch[k], 1, recheck);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        engine_request *r = batch[k];
        r->rc = rc;
        r->retry_after_ms = stop ? retry_after_stop(stop) : 0;
        snprintf(r->error, sizeof r->error, "%s", error);
        if (rc == 0 && !(r->result = group ? json_incref(sync) : job_result(sync, k))) {
            r->rc = GCS_ENOMEM;
            snprintf(r->error, sizeof r->error, "out of memory");
        }
    }
    /* A row may name a role or division created since the kept names were
     * fetched: a rejection is final, so it is decided again on fresh names. */
    if (rc == 0 && recheck && kept && any_rejected(sync)) {
        org_names(w, store, true);
        for (size_t k = 0; k < n; k++) {
            const char *o = json_string_value(json_object_get(batch[k]->result, "outcome"));
            if (o && strcmp(o, GCS_SYNC_REJECTED) == 0) {
                json_decref(batch[k]->result);
                batch[k]->result = NULL;
                run_batch(w, store, &batch[k], 1, false);
            }
        }
    }
    json_decref(sync);
}

static int provision(gcs_workers *w, gcs_store *store, const gcs_job *job, json_t **result,
                     int64_t *waited_ms, int64_t *retry_after_ms)
{
    json_t *doc = NULL;
    engine_request me;
    memset(&me, 0, sizeof me);
    me.job = job;
    me.plan = w->plan;
    bool group = strncmp(job->key, "group:", 6) == 0;
    int rc = group ? gcs_workers_read_group_payload(&doc, &me.group, &me.plan, job->payload)
                   : gcs_workers_read_payload(&doc, &me.sub, &me.plan, job->payload);
    if (rc == GCS_EINVALID) { /* unusable: rejected for good, with why */
        char why[600];
        snprintf(why, sizeof why, "%s", gcs_error_last());
        *result = rejected(why);
        return *result ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (rc == 0 && group && strcmp(job->key + 6, json_string_value(json_object_get(me.group, "key"))) != 0) {
        /* One job per group at a time rests on the job's key naming it. */
        json_decref(doc);
        *result = rejected("key: the payload's key is not the job's (group:KEY)");
        return *result ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (rc == 0 && !group &&
        (strncmp(job->key, "person:", 7) != 0 || strcmp(job->key + 7, me.sub.key) != 0)) {
        /* One job per person at a time rests on the job's key naming them. */
        json_decref(doc);
        *result = rejected("key: the payload's key is not the job's (person:KEY)");
        return *result ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (rc < 0)
        return rc;
    me.approvals = me.plan.approval_count > 0 || me.group;
    int64_t t0 = gcs_time_mono_ms();
    pthread_mutex_lock(&w->mu);
    me.next = w->waiting;
    w->waiting = &me;
    pthread_mutex_unlock(&w->mu);

    pthread_mutex_lock(&w->engine);
    *waited_ms = gcs_time_mono_ms() - t0;
    engine_request *batch[ENGINE_BATCH_MAX];
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    if (!me.done) {
        /* Take this job and, unless it carries approvals, every other one
         * waiting without approvals; leave the rest queued. */
        engine_request **link = &w->waiting;
        while (*link) {
            engine_request *r = *link;
            bool take = r == &me || (!me.approvals && !r->approvals && n + 1 < w->batch_max);
            if (take && n < w->batch_max) {
                batch[n++] = r;
                *link = r->next;
            } else {
                link = &r->next;
            }
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (n > 0) {
        run_batch(w, store, batch, n, true);
        snapshot_engine(w);
        pthread_mutex_lock(&w->mu);
        for (size_t k = 0; k < n; k++)
            batch[k]->done = true;
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_unlock(&w->engine);

    /* Done, by this worker or by the one that held the engine before. */
    rc = me.rc;
    *result = me.result;
    *retry_after_ms = me.retry_after_ms;
    if (rc < 0)
        gcs_error_set(rc, "%s", me.error);
    json_decref(doc);
    return rc;
}

static void run_job(worker *me, gcs_store *store, gcs_job *job)
{
    gcs_workers *w = me->w;
    json_t *result = NULL;
    int64_t waited = 0, retry_after = 0;
    int rc = provision(w, store, job, &result, &waited, &retry_after);
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
        src = gcs_store_job_fail(store, job->id, me->owner, reason, retry_after);
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
        /* An outcome: done, dead, or waiting for an approval; a job that is
         * pending again (retried, given back) has none yet. */
        if (gcs_store_job_get(&now, store, job->id) == 0 &&
            (strcmp(now.state, GCS_JOB_DONE) == 0 || strcmp(now.state, GCS_JOB_DEAD) == 0 ||
             strcmp(now.state, GCS_JOB_NEEDS_APPROVAL) == 0)) {
            w->o.on_outcome(w->o.ctx, &now, text);
        }
        gcs_job_release(&now);
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
    pthread_mutex_lock(&w->mu);
    while (!w->joined && !w->stopping)
        pthread_cond_wait(&w->wake, &w->mu);
    pthread_mutex_unlock(&w->mu);
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

/* Announces this host in the store and tells the session's engine how many
 * hosts share the client's limit (store.h, "Hosts"). A failed beat keeps the
 * count of the last one. */
static void beat_host(gcs_workers *w, gcs_store *store)
{
    int live = 1;
    if (gcs_store_host_beat(&live, store, w->host_id,
                            w->host_beat_ms * GCS_WORKERS_HOST_TTL_BEATS) < 0) {
        GCS_WARN("serve.heartbeat", "why", gcs_error_last());
        return;
    }
    pthread_mutex_lock(&w->mu);
    if (live != w->counts.hosts) {
        char now[16], was[16];
        snprintf(now, sizeof now, "%d", live);
        snprintf(was, sizeof was, "%d", w->counts.hosts);
        GCS_INFO("serve.hosts", "hosts", now, "was", was);
    }
    w->counts.hosts = live;
    pthread_mutex_unlock(&w->mu);
    gcs_http_client_set_hosts(w->o.session->client, live);
}

/* Lets the workers claim. */
static void join(gcs_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->joined = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until `at` (wall clock) or a stop, under w->mu; false on a stop. */
static bool beat_wait(gcs_workers *w, int64_t at)
{
    while (!w->stopping && gcs_time_wall_ms() < at) {
        struct timespec until;
        until.tv_sec = (time_t)(at / 1000);
        until.tv_nsec = (long)(at % 1000) * 1000000L;
        pthread_cond_timedwait(&w->beat, &w->mu, &until);
    }
    return !w->stopping;
}

/* Beats this host's row every host_beat_ms, and renews the lease of every job
 * in hand every third of the lease: a job that waits for the engine keeps its
 * lease as one that uses it does. The workers claim only once the first beat
 * is done and, when other hosts are alive, one more beat later: by then every
 * other host counted this one and spends its smaller share, so that a host
 * joining never makes the hosts overspend the window. */
static void *heartbeat_main(void *arg)
{
    gcs_workers *w = arg;
    gcs_store *store = NULL;
    if (gcs_store_open(&store, w->store_url) < 0) {
        GCS_ERR("serve.heartbeat", "why", gcs_error_last());
        join(w);
        return NULL;
    }
    beat_host(w, store);
    pthread_mutex_lock(&w->mu);
    bool others = w->counts.hosts > 1;
    if (others)
        beat_wait(w, gcs_time_wall_ms() + w->host_beat_ms);
    pthread_mutex_unlock(&w->mu);
    if (others)
        beat_host(w, store);
    join(w);
    int64_t *ids = calloc((size_t)w->count, sizeof *ids);
    int64_t lease_at = gcs_time_wall_ms() + w->lease_ms / 3;
    int64_t host_at = gcs_time_wall_ms() + w->host_beat_ms;
    pthread_mutex_lock(&w->mu);
    while (ids && beat_wait(w, lease_at < host_at ? lease_at : host_at)) {
        int64_t now = gcs_time_wall_ms();
        bool host = now >= host_at, leases = now >= lease_at;
        if (host)
            host_at = now + w->host_beat_ms;
        if (leases)
            lease_at = now + w->lease_ms / 3;
        for (int i = 0; i < w->count; i++)
            ids[i] = leases ? w->workers[i].job_id : 0;
        pthread_mutex_unlock(&w->mu);
        if (host)
            beat_host(w, store);
        for (int i = 0; i < w->count; i++) {
            if (ids[i] && gcs_store_job_extend(store, ids[i], w->workers[i].owner, w->lease_ms) < 0)
                GCS_WARN("serve.heartbeat", "why", gcs_error_last());
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    free(ids);
    /* Stopped: the others may take this host's share at their next beat. */
    if (gcs_store_host_leave(store, w->host_id) < 0)
        GCS_WARN("serve.heartbeat", "why", gcs_error_last());
    gcs_store_free(store);
    return NULL;
}

/* ==== Life ==== */

static void free_all(gcs_workers *w)
{
    gcs_org_names_free(w->org);
    json_decref(w->requests);
    free(w->store_url);
    free(w->profile_path);
    free(w->workers);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->engine);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->beat);
    free(w);
}

static void join_all(gcs_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    w->draining = true;
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->idle);
    pthread_cond_broadcast(&w->beat);
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
    w->host_beat_ms = o->host_beat_ms > 0 ? o->host_beat_ms : GCS_WORKERS_HOST_BEAT_MS;
    w->counts.hosts = 1;
    if (o->plan)
        w->plan = *o->plan;
    else
        gcs_plan_options_init(&w->plan);
    long most = ENGINE_BATCH_MAX;
    const long limits[] = {w->plan.removals.floor, w->plan.removals.max_count,
                           w->plan.changes.floor, w->plan.changes.max_count};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
        most = limits[i] < most ? limits[i] : most;
    w->batch_max = most < 1 ? 1 : (size_t)most;
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
    pthread_cond_init(&w->beat, NULL);
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
