/*
 * workers.h - the service's work: threads that take jobs from the store's
 * durable queue and provision each job's person (engine/sync.h), with receipts.
 *
 * A job (store.h "Job queue"; payload in docs/serve.md) names one person: their
 * row in the source's column shape, or that they left; or one group, as a
 * group event gave it (engine/sync.h, gcs_sync_provision_group: planned alone,
 * never in a batch of people). A worker claims it under
 * a lease (the store keeps one job of a key running at a time, and a pending
 * job of a key takes every newer state: three changes to one person while the
 * first waits become one plan), plans exactly that person, and applies the plan
 * unless it needs an approval. The outcome is written with the job:
 *   - done, with the result {"outcome", "genesys_id", "receipts", "run_id",
 *     "detail"}: created, updated, unchanged, deactivated, reactivated, or
 *     rejected (a row the profile refuses: nothing is written, never retried);
 *   - needs_approval, with {"outcome":"needs_approval","needs":[...]} naming
 *     the flags that approve it (`gcscim jobs approve ID`);
 *   - failed (a call failed, Genesys could not be reached, the store failed):
 *     pending again after the store's backoff, dead once its attempts are spent
 *     (`gcscim jobs retry ID`).
 *
 * One session per process (one token, one rate budget). Its request engine is
 * single-threaded (http/client.h), so the workers take turns with it under a
 * lock, while the others claim, read and write the store: the worker holding
 * the engine provisions every job then waiting (without approvals, at most
 * the thresholds' floor: 3 by default) in one plan and one apply, and the
 * others find their outcome ready (workers.c, "The engine"). A stop of the
 * engine (403, daily limit, Genesys down) ends the attempt of the jobs in hand
 * and the engine resumes for the next. Each worker thread has a store
 * connection of its own (store.h: one thread per store), and a heartbeat
 * thread renews the leases of every job in hand, including those waiting for
 * the engine, every third of the lease. A process that dies (kill -9) leaves
 * its leases to expire: any worker of any host then takes the job again, and
 * apply's own resume makes sure nobody is created twice.
 *
 * Several hosts, one client's limit: the heartbeat thread also beats this
 * host's row in the store every host_beat_ms and tells the session's engine
 * how many hosts are alive, so that each spends its share of the limit
 * (http/pacer.h). A host that finds others alive at start claims nothing
 * until they have counted it (one beat later).
 */
#ifndef GCS_SERVICE_WORKERS_H
#define GCS_SERVICE_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/sync.h"
#include "genesys/session.h"
#include "http/client.h"
#include "plan/plan.h"
#include "store/store.h"

typedef struct gcs_workers gcs_workers;

#define GCS_WORKERS_DEFAULT 4
#define GCS_WORKERS_MAX 64
#define GCS_WORKERS_LEASE_MS 30000
#define GCS_WORKERS_IDLE_POLL_MS 1000
/* Hosts sharing one client's rate limit beat their row this often; a row
 * missing this many beats no longer counts (a host that died). */
#define GCS_WORKERS_HOST_BEAT_MS 2000
#define GCS_WORKERS_HOST_TTL_BEATS 5

typedef struct gcs_workers_options {
    /* The store's URL: each worker opens a connection of its own. */
    const char *store_url;
    gcs_genesys_session *session;     /* one per process; the workers use it under their lock */
    const char *profile_path;         /* the mapping profile */
    /* Where the passwords a profile's password policy generates are written
     * (engine/apply.h, passwords_out); NULL: a profile that generates them
     * fails every create, so serve refuses to start so (serve.h). Borrowed. */
    const char *passwords_out;
    int count;                        /* worker threads; 0: GCS_WORKERS_DEFAULT */
    const char *host_id;              /* lease owner prefix; NULL: "HOSTNAME:PID" */
    int64_t lease_ms;                 /* 0: GCS_WORKERS_LEASE_MS */
    /* How often an idle worker looks at the queue without being notified (jobs
     * enqueued by another host, backoffs ending); 0: GCS_WORKERS_IDLE_POLL_MS. */
    int64_t idle_poll_ms;
    /* How often this host announces itself to the others sharing the store
     * (and the client's rate limit); 0: GCS_WORKERS_HOST_BEAT_MS. */
    int64_t host_beat_ms;
    /* Backoff of a failed job (store.h); 0: the store's defaults (1 s, 5 min). */
    int64_t backoff_base_ms, backoff_max_ms;
    /* Thresholds, as plan's flags give them; approvals come from each job. */
    const gcs_plan_options *plan;     /* NULL: the defaults */
    /* Where outcomes are notified (service/notify.h; NULL: nowhere), written
     * with each outcome; every outcome is audited either way. */
    const gcs_outbox_routes *notify;
    /* Called by a worker thread once a job's outcome is stored: done, dead or
     * needs_approval (result_json NULL for a dead job; its last_error says
     * why); not for an attempt that failed and will be retried. Thread-safe. */
    void (*on_outcome)(void *ctx, const gcs_job *job, const char *result_json);
    void *ctx;
} gcs_workers_options;

/* Reads a job's payload (docs/serve.md, "Jobs"): *sub is the person (borrowed
 * from *doc, which the caller releases), and the approvals it carries are added
 * to *plan. GCS_EINVALID naming the field when it cannot be acted on: the job
 * is then rejected, never retried. */
int gcs_workers_read_payload(json_t **doc, gcs_sync_subject *sub, gcs_plan_options *plan,
                             const char *payload);

/* A group job's payload ({"kind": "group", "key", "group": {...}}, docs/serve.md):
 * *group is the group (borrowed from *doc), its approvals added to *plan.
 * GCS_EINVALID naming the field, as gcs_workers_read_payload. */
int gcs_workers_read_group_payload(json_t **doc, const json_t **group, gcs_plan_options *plan,
                                   const char *payload);

/* Starts the threads. The session and the profile must outlive the workers. */
int gcs_workers_start(gcs_workers **out, const gcs_workers_options *o);
/* A job was enqueued: wakes one idle worker at once. Thread-safe. */
void gcs_workers_notify(gcs_workers *w);
/* Stops claiming; jobs in hand finish until deadline_ms (wall clock), then
 * the engine is asked to stop (apply's interrupt: nothing new is sent, the
 * run is resumable) and those jobs are given back to the queue, pending again
 * without an attempt counted. Returns once every worker is idle. */
void gcs_workers_drain(gcs_workers *w, int64_t deadline_ms);
/* Drains at once if not drained, joins the threads, frees. Accepts NULL. */
void gcs_workers_free(gcs_workers *w);

/* Runs fn with the session while no job uses it (e.g. a readiness check that
 * wants a token). Returns fn's result. */
int gcs_workers_with_session(gcs_workers *w, int (*fn)(gcs_genesys_session *s, void *ctx),
                             void *ctx);

/* What the workers did since they started, for /metrics. */
typedef struct gcs_workers_stats {
    int64_t claimed;          /* jobs taken from the queue */
    int64_t done;             /* outcomes stored as done (rejected included) */
    int64_t rejected;         /* ... of which rejected */
    int64_t needs_approval;   /* jobs stopped for an approval */
    int64_t failed;           /* attempts that failed (pending again or dead) */
    int64_t dead;             /* ... of which spent their last attempt: dead letters */
    int64_t released;         /* given back by a drain */
    int64_t lost_leases;      /* a lease taken over by someone else while working */
    int running;              /* jobs in hand now */
    int workers;
    int hosts;                /* hosts sharing the client's rate limit, as last counted */
    bool draining;
    int64_t engine_wait_ms;   /* time jobs waited for the engine, summed */
    gcs_http_stats http;      /* the session's engine, as of the last job */
} gcs_workers_stats;

void gcs_workers_counts(gcs_workers *w, gcs_workers_stats *out);
/* Requests by method, route and status as of the last job
 * (gcs_http_client_stats_json's shape). New reference, never NULL. */
json_t *gcs_workers_requests_json(gcs_workers *w);

#endif
