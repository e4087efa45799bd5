/*
 * group_plan.h - the groups section of a plan: every change to Genesys groups,
 * with old and new values, sealed with the rest of the plan.
 *
 * The section is plan->doc["groups"]:
 *   {"matched_by": "name", "hierarchy": "kept"|"flattened", "authoritative": bool,
 *    "operations": [...], "rejected": [...], "unchanged": N, "summary": {...}}
 * Genesys groups carry no field gcscim could mark them with, so a directory
 * group is matched to the Genesys group of the same name (as identity
 * providers do), and the plan says so. One operation per group:
 *   {"kind": "create"|"update", "key", "name", "id" (update), "version" (update),
 *    "group": {name, type, visibility, description, rolesEnabled}   (what is wanted),
 *    "changes": [{attribute, old, new}]      (description, visibility, rolesEnabled;
 *                                             "parents" (kept): the store's record of
 *                                             the hierarchy against the directory's,
 *                                             recorded by apply, never sent),
 *    "add": [{key, id|null, userName}]       (id null: created by this run's users),
 *    "remove": [{key|null, id, userName, owned}],
 *    "grant": [{role, division, roleId, divisionId}], "revoke": [...],
 *    "parents": [group keys] (kept hierarchy)}
 * Operations come in key order; a group never appears in both lists.
 * "skipped": [{key, name, kind, reason, changes, add, remove, grant, revoke}]
 * lists the groups --no-create / --no-update left alone (counts, not lists).
 * Deleting a group is never planned.
 */
#ifndef GCS_PLAN_GROUP_PLAN_H
#define GCS_PLAN_GROUP_PLAN_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "plan/plan.h"

/* Starts the section (allocating; released with the plan). */
int gcs_group_plan_begin(gcs_plan *plan, const char *hierarchy, bool authoritative);
/* The section, or NULL when the plan has none. Borrowed. */
json_t *gcs_group_plan_section(const gcs_plan *plan);
/* Its operations (NULL when none). Borrowed. */
json_t *gcs_group_plan_operations(const gcs_plan *plan);
/* Adds an operation (stolen). */
int gcs_group_plan_add(gcs_plan *plan, json_t *op);
/* Records a group rejected: no write will touch it. */
int gcs_group_plan_reject(gcs_plan *plan, const char *key, const char *location, const char *field,
                          const char *reason);
void gcs_group_plan_set_unchanged(gcs_plan *plan, long unchanged);
/* Records a group left alone by --no-create or --no-update (`flag`): its key,
 * name, what it would have needed (counts of changes, members, grants) and why.
 * `op` is borrowed; nothing of it is applied. */
int gcs_group_plan_skip(gcs_plan *plan, const json_t *op, const char *reason, const char *flag);
/* Sorts by key and fills in the summary. Called by gcs_plan_finish. */
int gcs_group_plan_finish(gcs_plan *plan);

/* Operations on groups (0 when none). */
size_t gcs_group_plan_count(const gcs_plan *plan);
/* Groups rejected (0 when none). */
size_t gcs_group_plan_rejected(const gcs_plan *plan);

/* The blast-radius rule for groups (plan/approval.c adds these to the plan's
 * needs): members removed and role grants revoked, each over the removals
 * threshold (of the memberships and grants the planned groups hold). */
void gcs_group_plan_count_removals(const gcs_plan *plan, long *members_removed, long *memberships,
                                   long *revoked, long *grants);

/* The section for people: one block per group, then a summary line. */
void gcs_group_plan_render_text(const gcs_plan *plan, FILE *out, bool color);

#endif
