/*
 * undo.h - a plan that takes a finished or interrupted run back.
 *
 * The run's own plan is kept in the store when the run begins (keyed by run id);
 * its items and receipts say which operations really happened. Only those are
 * taken back, and each against the user as Genesys holds it now:
 *  - a user the run created is deactivated (never deleted);
 *  - a user the run deactivated is reactivated, one it reactivated deactivated;
 *  - every attribute the run changed (updates, adoptions, and the attributes a
 *    deactivation or reactivation changed too) gets back the value the run's
 *    plan saw before it. An adopted user keeps the managed marker: it stays
 *    managed, and a later sync would take it over again anyway (docs/plan.md).
 * Per attribute, the user as it is now decides: the value the run wrote is taken
 * back; the value from before the run needs nothing (the change did not happen,
 * or was taken back already); anything else means the user changed since the
 * run, and the whole user is drift: left alone and reported (a skipped entry of
 * the plan), never overwritten. A created user that no longer carries gcscim's
 * marker with its key, or any user that no longer exists, is drift too.
 *
 * The result is an ordinary plan (update, reactivate, deactivate operations with
 * the version read now, `desired`, `changes` from now to before the run), shown,
 * sealed and applied like any other: the blast-radius rule, the lease and the
 * drift checks of apply all hold. Undoing the run that applied an undo plan
 * restores the first run's values (its creates are reactivated, not created again).
 *
 * Groups (the plan's groups section): for each group whose item the run
 * finished, the members it added that are still members are removed, those it
 * removed that are not back are added again, the grants it gave are revoked and
 * those it revoked given back, and the settings it changed set back; a group it
 * created stays (groups are never deleted), emptied of what the run put in it.
 * A group the run did not finish is listed, not taken back. The group's members
 * and version are read now (SCIM).
 * An operation of a user kind undo does not know refuses the whole undo
 * (GCS_EINVALID) rather than leaving part of a run in place silently.
 */
#ifndef GCS_ENGINE_UNDO_H
#define GCS_ENGINE_UNDO_H

#include "http/client.h"
#include "plan/plan.h"
#include "store/store.h"

typedef struct gcs_undo_options {
    const char *run_id;
    const char *api_url;   /* the configured API: the run's plan must be for it */
    const char *client_id; /* the run's plan must carry a seal made with these */
    const char *client_secret;
    gcs_plan_options plan; /* recorded in the undo plan (flags, not thresholds) */
} gcs_undo_options;

typedef struct gcs_undo_stats {
    long operations; /* operations of the run's plan */
    long done;       /* of those, done (or possibly done) by the run: looked at */
    long not_done;   /* pending, failed, already as planned: nothing to take back */
    long undone;     /* taken back by the undo plan */
    long unchanged;  /* done, but already as before the run */
    long drift;      /* changed since the run (or gone): left alone, reported */
    long users_read; /* users read from Genesys */
    long requests;
} gcs_undo_stats;

/*
 * Builds the plan that takes run options->run_id back (*out is initialised
 * here; release it on success; it is finished but not sealed). Errors:
 * GCS_ENOTFOUND for an unknown run; GCS_EINVALID when no plan was kept for the
 * run (it began before gcscim kept them), when the kept plan is not the run's
 * (identity), not sealed with these credentials, or for another API;
 * GCS_EREFUSED while the run is being applied (its lease is live); the read's
 * error when a user cannot be read (other than "no longer exists").
 */
int gcs_undo_plan(gcs_plan *out, gcs_undo_stats *stats, gcs_http_client *client, gcs_store *store,
                  const gcs_undo_options *options);

#endif
