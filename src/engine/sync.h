/*
 * sync.h - the provisioning use cases that the command line and the service
 * share, so that neither is a second implementation of sync.
 *
 * "Provision these people" (gcs_sync_provision): the service's unit of work.
 * Given rows in the source's column shape (or "this person left"), it plans
 * exactly those subjects with the planner's --target machinery over an
 * in-memory source, checks the plan against the command line's approval rule
 * (plan/approval.c: thresholds, privileged roles, adoptions), and applies that
 * plan with receipts (engine/apply.c). The safety rules are the command line's:
 *  - a plan that needs an approval not given sends nothing: the outcome is
 *    "needs_approval" with what is needed and the flag that approves it;
 *  - a rejected row (a bad value, a key that is not the subject's) causes no
 *    write and no deactivation: the outcome is "rejected" with why;
 *  - a person who left is deactivated only when gcscim manages them (the
 *    marker with their key), as a row absent from a file is, but only for them.
 * Every call to Genesys, the planner's reads included, leaves a receipt: the
 * planner's carry `run_label` as their run id, apply's carry the run's own.
 * Latency: every read of every person named goes out at once
 * (planner.h, lookups_at_once), so that a new person costs two round trips,
 * the reads and the create, however many keys the profile matches on; a
 * person the receipts show gcscim has met has their marker read alone
 * (likely_found), so a change to them costs one read, not one per key.
 *
 * The session's request engine is used from the calling thread only (see
 * http/client.h): a caller with several threads serialises these calls.
 */
#ifndef GCS_ENGINE_SYNC_H
#define GCS_ENGINE_SYNC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "engine/planner.h"
#include "genesys/session.h"
#include "plan/plan.h"
#include "store/store.h"

/* ==== What plan, apply and sync share ==== */

/* A plan of the source as `planner` says, every read recorded as a receipt in
 * `store`, sealed with the OAuth client's credentials (plan.h: an edited plan
 * cannot be sealed again without them). *plan is the caller's to release on 0. */
int gcs_sync_plan(gcs_plan *plan, gcs_planner_stats *stats, gcs_genesys_session *session,
                  gcs_store *store, const gcs_planner_options *planner, const char *client_id,
                  const char *client_secret);

/* Whether `plan` was applied to its end already: *run (release it) is that run
 * and *done is true; otherwise *done is false and *run is empty. Reads the
 * store only: no token, no call. */
int gcs_sync_plan_applied(bool *done, gcs_run *run, gcs_store *store, const gcs_plan *plan);

/* ==== Provisioning named people ==== */

/* One person to provision. */
typedef struct gcs_sync_subject {
    const char *key;      /* their source key (the profile's externalId source) */
    const json_t *row;    /* their row: an object of source fields; NULL: they left */
} gcs_sync_subject;

typedef struct gcs_sync_options {
    const char *profile_path;
    const char *command;           /* recorded on the apply run; default "serve" */
    gcs_plan_options plan;         /* thresholds and approvals, as the flags give them */
    const char *run_label;         /* run id of the planner's receipts; NULL: none */
    const volatile sig_atomic_t *stop; /* see apply.h; may be NULL */
    /* The organisation's names fetched already (gcs_planner_fetch_org_names);
     * NULL: the plan fetches them. Borrowed. */
    const gcs_org_names *org_names;
    /* Notifications and audit lines of the outcomes (apply.h, "Outcomes"):
     * the routes (NULL: none), who asked and the job; NULL when unknown. A
     * plan that waits for an approval is told as provisioning.needs_approval. */
    const gcs_outbox_routes *notify;
    const char *actor;
    const char *job_id;
    bool audit;                    /* apply's audit.outcome lines (apply.h) */
    /* Where passwords go when the profile generates them (apply.h,
     * passwords_out); NULL: such a profile's creates fail, naming it. */
    const char *passwords_out;
} gcs_sync_options;

/* Outcomes, per subject and for the whole call. */
#define GCS_SYNC_CREATED "created"
#define GCS_SYNC_UPDATED "updated"
#define GCS_SYNC_UNCHANGED "unchanged"
#define GCS_SYNC_DEACTIVATED "deactivated"
#define GCS_SYNC_REACTIVATED "reactivated"
#define GCS_SYNC_REJECTED "rejected"
#define GCS_SYNC_FAILED "failed"
#define GCS_SYNC_NEEDS_APPROVAL "needs_approval"

void gcs_sync_options_init(gcs_sync_options *o);

/*
 * Plans and applies `subjects` (at most GCS_SYNC_SUBJECTS_MAX). On 0, *result
 * (a new reference) is
 *   {"outcome": the single subject's outcome, or "needs_approval", or "failed"
 *               when any subject failed, else "done" for several,
 *    "subjects": [{"key","outcome","genesys_id"|null,"detail"|null,
 *                  "receipts": [seq, ...] (those naming this person)}, ...],
 *    "needs": [{"what","count","why","approved","flag"}, ...]   (needs_approval only),
 *    "run_id": apply's run or null, "receipts": [seq, ...] (every receipt of
 *    the call, planner's and apply's, in order)}.
 * An operation whose call failed or whose user drifted makes its subject
 * "failed" (rc 0, the detail says why). A call that could not go on at all
 * (store, credentials, a permission, Genesys unreachable, another process
 * applying the same plan) returns its error code (< 0, the thread's message
 * set) and *result is NULL. Either way a caller retries later, and a retry
 * plans again from what Genesys then holds.
 */
#define GCS_SYNC_SUBJECTS_MAX 1000
int gcs_sync_provision(json_t **result, gcs_genesys_session *session, gcs_store *store,
                       const gcs_sync_subject *subjects, size_t count,
                       const gcs_sync_options *options);

/* ==== Provisioning one group ==== */

/*
 * "Provision this group" (serve's group events, docs/serve.md "Group
 * events"): `group` is the event's data object, checked (service/event.h):
 * {"key", "name", "description", "type", "visibility", "members": [person
 * keys], "children", "nesting", "roles"}. It becomes a record of a groups
 * file and goes through the profile's `groups:` section (hierarchy,
 * authoritative; "nesting" overrides the hierarchy), the group planner and
 * apply of `gcscim sync`, with the same ownership, approvals (remove-members,
 * revoke-grants), receipts, notifications (group.changed) and audit lines.
 * Reads are what one group needs: each member by key (gcscim's marker, then
 * externalId) and the group by name; the planner's carry `run_label`.
 *
 * Kept, the group's Genesys members are the event's members. Flattened, they
 * are those and, transitively, the members of the children it names, each
 * child as its newest job of key "group:CHILD" in the store gave it (resolved
 * by plan/group_tree.h: cycles, depth and size rejected); a child the store
 * does not know rejects the group. A member whose key finds no user is not a
 * failure: the group gets the others, and the result lists the unknown keys.
 *
 * On 0, *result (a new reference) is
 *   {"outcome": created | updated | unchanged | rejected | needs_approval | failed,
 *    "group": KEY, "genesys_id": id or null, "nesting": "kept" | "flattened",
 *    "added", "removed", "granted", "revoked": counts planned,
 *    "unknown_members": [first 100 keys], "unknown_member_count": N,
 *    "children": [...] (as the event gave them), "needs": [...] (needs_approval),
 *    "receipts": [seq, ...], "run_id": apply's run or null, "detail": why or null}.
 * Errors as gcs_sync_provision's: < 0 when the call could not go on.
 */
int gcs_sync_provision_group(json_t **result, gcs_genesys_session *session, gcs_store *store,
                             const json_t *group, const gcs_sync_options *options);

#endif
