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
 * Per operation:
 *  - create: POST. A 409 on userName finds the existing user and adopts it (the
 *    planned attributes and the managed marker are PATCHed onto it). An unknown
 *    outcome (timeout after sending) looks the user up before trying again.
 *  - update / reactivate / deactivate: PATCH with If-Match of the version the
 *    plan saw. On a version conflict the user is read again and diffed against
 *    the plan's desired state: if the only differences are the planned ones, with
 *    the old values the plan saw, the (remaining) change is applied with the new
 *    version; if none remain it is done; anything else is drift, reported, and
 *    the user is left alone.
 * Passwords are set only when the profile asks (the plan carries its policy): each
 * is generated at apply time from the operating system's random source, sent with
 * the create, never logged or kept in a receipt, and written only to
 * `passwords_out` once the user exists.
 * Mass deactivations are refused before anything is sent unless approved
 * (gcs_plan_check_approval).
 */
#ifndef GCS_ENGINE_APPLY_H
#define GCS_ENGINE_APPLY_H

#include <stdbool.h>

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
} gcs_apply_options;

typedef struct gcs_apply_result {
    long total;
    long counts[GCS_APPLY_FAILED + 1];
    bool resumed;
    char run_id[80];
    long requests;
} gcs_apply_result;

const char *gcs_apply_outcome_name(gcs_apply_outcome o);

/* Applies `plan`. Returns 0 when every operation ended done, adopted, noop or
 * skipped; GCS_EREFUSED (nothing sent) for an unapproved mass deactivation;
 * GCS_ERROR when some failed or drifted (see *out); other codes when the run
 * could not go on (store, credentials, daily limit). */
int gcs_apply_run(gcs_apply_result *out, gcs_http_client *client, gcs_store *store,
                  const gcs_plan *plan, const gcs_apply_options *options);

#endif
