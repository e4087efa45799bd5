/*
 * group_apply.h - applying the groups section of a plan, after its users.
 *
 * Called by apply (apply.c) once the users' phases are over, within the same
 * run, lease and receipts. Each group is one item of the run ("group:KEY"), so a
 * resumed run skips the groups done and redoes the rest safely:
 *  - create: the item is marked in progress before POST /api/v2/groups, and
 *    with the new group's id once it exists; a resumed create that was in
 *    progress without an id, or a POST answered 409 (the name is taken), looks
 *    the group up by name instead of creating it twice;
 *  - description / visibility / rolesEnabled: PUT /api/v2/groups/{id} with the
 *    group's version; a stale version is read again and the change re-decided;
 *  - members: SCIM PATCH of `members` with If-Match, at most
 *    GCS_GROUP_PATCH_BATCH changes per request; on a version conflict the group
 *    is read again (SCIM GET) and only what is still to do is sent with the new
 *    version (a member already there is not added again, one already gone is
 *    not removed again). A member created by this run is found by its key among
 *    the ids the users' phase learned; one that was not created fails the group.
 *  - role grants: bulkadd / bulkremove on the group as a subject.
 * Every member added and grant given is recorded in the store as gcscim's
 * (store.h "Group ownership"), every one removed is forgotten. With the
 * hierarchy kept, a group done has its parent links recorded with its item
 * mark (store.h "Group hierarchy"); a "parents" change sends nothing.
 * Each group's outcome is marked with its notification in one transaction
 * (docs/notifications.md): "group.changed" for a group created or changed,
 * "provisioning.failed" for one that failed, with its audit line.
 */
#ifndef GCS_ENGINE_GROUP_APPLY_H
#define GCS_ENGINE_GROUP_APPLY_H

#include <signal.h>

#include <jansson.h>

#include "engine/apply.h"
#include "http/client.h"
#include "plan/plan.h"
#include "store/store.h"

#define GCS_GROUP_PATCH_BATCH 50 /* member changes in one SCIM PATCH */

typedef struct gcs_group_apply {
    gcs_http_client *client;
    gcs_store *store;
    const char *run_id;
    struct gcs_recorder *recorder;    /* the ids of the people the run knows (person key ->
                                       * Genesys user id, gcs_recorder_id_of); told each
                                       * group's id, so that its receipts name "group:KEY" */
    const gcs_apply_options *options; /* events and the stop flag */
    gcs_apply_result *result;         /* counts and requests are added here */
    long finished;                    /* operations finished before the groups */
    long problems;                    /* groups that failed: out */
    json_t *notified;                 /* event type -> how many told (run.finished); may be NULL */
} gcs_group_apply;

/* Item keys of the plan's group operations ("group:KEY"), for the run. */
int gcs_group_apply_items(const gcs_plan *plan, gcs_store *store, const char *run_id);

/* Applies every group operation not done yet. 0 when none failed (see
 * ga->problems), GCS_ECANCELLED when stopped, or a store failure. */
int gcs_group_apply_run(gcs_group_apply *ga, const gcs_plan *plan);

#endif
