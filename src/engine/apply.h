/*
 * apply.h - doing exactly what a plan says, durably.
 *
 * The plan's operations run concurrently through the request engine (paced to
 * the rate limit), in three phases: creates; then the managers of users created
 * in this run (a manager may itself be new); then updates, reactivations and
 * deactivations. Every call leaves a receipt in the store, and every operation's
 * progress is an item of a durable run keyed by the plan's identity, so that the
 * same command started again after a crash (even kill -9) resumes the run: items
 * done are skipped, and a create that was in flight is looked up before it is
 * sent again, so nobody is created twice.
 *
 * One run at a time: the run holds a lease on the plan in the store (owner =
 * host, pid and a random token; renewed every third of its length from the run
 * loop). A second apply or sync of the same plan is refused (GCS_EREFUSED,
 * naming the holder), unless the holder's lease expired or the holder is a
 * process of this host that no longer exists (kill -9): then it takes over.
 * A plan whose run is done is "already applied": nothing is sent. A plan whose
 * run failed or was interrupted is resumed: items done are skipped.
 *
 * Stopping: when *options->stop becomes nonzero (a signal handler sets it),
 * nothing new is sent, the calls in flight may finish (at most stop_grace_ms),
 * what finished is recorded, the run becomes "interrupted", the lease is given
 * back and GCS_ECANCELLED is returned; the same command resumes it.
 *
 * Per operation:
 *  - create: marked in progress in the store when its POST goes on the wire
 *    (not when queued), so that a resume looks up only those. A 409 on userName
 *    is drift (reported with the existing user's id, left alone) unless that
 *    user carries this plan's managed marker with this key: then it is this
 *    run's own earlier create, done. An unknown outcome (timeout after sending),
 *    and a resumed create that was on the wire, look the user up (by marker,
 *    then userName) before sending again; every lookup's receipt names the key.
 *  - update / reactivate / adopt: PATCH with If-Match of the version the plan
 *    saw. An operation the planner marked "managed": false is refused unless it
 *    is an (approved) adoption.
 *  - deactivate: the user is read first and must be active and carry the
 *    managed marker with the operation's key, else it is drift ("not managed by
 *    gcscim, left alone"); then PATCHed like an update.
 *  - On a version conflict the user is read again and diffed against the
 *    plan's desired state: if the only differences are the planned ones, with
 *    the old values the plan saw, the (remaining) change is applied with the new
 *    version; if none remain it is done ("already as planned", which also covers
 *    a PATCH that Genesys carried out but answered 504); anything else is
 *    drift, reported, and the user is left alone. Manager PATCHes likewise
 *    re-read on a conflict and succeed when the manager is already the planned one.
 * Canary (options->canary_count / canary_share): a share of the operations not
 * done yet goes first, taken in turn from each kind (creates, adoptions,
 * reactivations, updates, deactivations) in the plan's order, so that every kind
 * the plan holds is tried. Their managers wait for the rest. Each canary user is
 * then read again and compared with what the plan wanted. Any failure, drift or
 * difference stops the run there (GCS_ERROR, canary_stopped): nothing else is
 * sent, and applying the same plan again goes on from where it stopped.
 * Passwords are set only when the profile asks (the plan carries its policy): each
 * is generated at apply time from the operating system's random source, sent with
 * the create, never logged or kept in a receipt, and written only to
 * `passwords_out` once the user exists.
 * Mass deactivations are refused before anything is sent unless approved
 * (gcs_plan_check_approval).
 */
#ifndef GCS_ENGINE_APPLY_H
#define GCS_ENGINE_APPLY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/client.h"
#include "plan/plan.h"
#include "store/store.h"

typedef enum gcs_apply_outcome {
    GCS_APPLY_DONE,      /* the change was made */
    GCS_APPLY_ADOPTED,   /* a create found the user already there and took it over */
    GCS_APPLY_NOOP,      /* nothing left to do (already as planned) */
    GCS_APPLY_SKIPPED,   /* done by an earlier, interrupted run of this plan */
    GCS_APPLY_DRIFT,     /* the user changed since the plan: left alone */
    GCS_APPLY_FAILED,    /* the call failed: see message */
} gcs_apply_outcome;

typedef struct gcs_apply_event {
    gcs_apply_outcome outcome;
    const char *kind;        /* create, update, ... */
    const char *key;
    const char *user_name;   /* may be NULL */
    const char *genesys_id;  /* may be NULL */
    const char *message;     /* for drift and failures; NULL otherwise */
    long finished, total, problems;
} gcs_apply_event;

typedef void (*gcs_apply_event_fn)(const gcs_apply_event *e, void *payload);

typedef struct gcs_apply_options {
    const char *command;          /* "apply" or "sync": recorded on the run */
    gcs_plan_options approval;    /* allow_deactivations and thresholds */
    gcs_apply_event_fn on_event;  /* may be NULL */
    void *payload;
    /* Where generated passwords go (CSV: key,userName,password; mode 0600) when the
     * plan's profile asks for them; required then, ignored otherwise. */
    const char *passwords_out;
    /* Nonzero asks the run to stop (see above); set from a signal handler. May be NULL. */
    const volatile sig_atomic_t *stop;
    int stop_grace_ms;            /* how long calls in flight may take to finish; 0: 10 s */
    int64_t lease_ms;             /* the lease's length; 0: GCS_APPLY_LEASE_MS */
    /* Canary: apply this many operations first (canary_count), or this share of
     * them (canary_share, 0..1), re-read those users, and go on with the rest only
     * when no call failed and every one of them is as planned. 0: no canary. */
    long canary_count;
    double canary_share;
    /* Outcomes (docs/notifications.md): each operation's outcome is recorded
     * with its notification ("user.created", …, "provisioning.failed") in one
     * transaction, and the run's end with "run.finished". `notify` NULL: no
     * notification. `actor` names who asked ("cli:USER@HOST", an API key's name) and
     * `job_id` the job a run works for (serve); both may be NULL. */
    const gcs_outbox_routes *notify;
    const char *actor;
    const char *job_id;
    /* Also log each outcome, once committed, as one "audit.outcome" line
     * (level info): the command line with --log-format json, and serve
     * (which adds one "audit.job" line per job in its outcome hook). */
    bool audit;
} gcs_apply_options;

#define GCS_APPLY_LEASE_MS 30000
#define GCS_APPLY_STOP_GRACE_MS 10000

typedef struct gcs_apply_result {
    long total;
    long counts[GCS_APPLY_FAILED + 1];
    bool resumed;
    char run_id[80];
    long requests;
    bool already_applied;     /* the plan's run had finished: nothing was sent */
    int64_t finished_ms;      /* when that run finished */
    bool interrupted;         /* stopped on request: the run is "interrupted" */
    long canary;              /* operations in the canary (0: none) */
    bool canary_stopped;      /* the canary failed: the rest was not applied */
} gcs_apply_result;

const char *gcs_apply_outcome_name(gcs_apply_outcome o);

/* What an operation of a plan changed, as notifications and audit lines tell
 * it: [{"attribute": NAME, "value": NEW}], new values only and never a
 * secret: an attribute whose name is sensitive (core/redact.h: password,
 * secret, token, …, also as the last segment of a URN path) is left out, and
 * sensitive keys inside a value are masked. New reference. */
json_t *gcs_apply_told_changes(const json_t *op);

/* Applies `plan`. Returns 0 when every operation ended done, adopted, noop or
 * skipped, or when the plan was already applied (out->already_applied);
 * GCS_EREFUSED (nothing sent) for an unapproved mass deactivation or when
 * another process holds the plan; GCS_ECANCELLED when stopped on request (calls
 * still in flight after the grace are abandoned with gcs_http_abort: their
 * creates stay in progress, for the resume to look up); GCS_ERROR when some failed
 * or drifted (see *out); other codes when the run could not go on (store,
 * credentials, daily limit). */
int gcs_apply_run(gcs_apply_result *out, gcs_http_client *client, gcs_store *store,
                  const gcs_plan *plan, const gcs_apply_options *options);

#endif
