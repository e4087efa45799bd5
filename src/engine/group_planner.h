/*
 * group_planner.h - planning Genesys groups after the users (docs/plan.md, "Groups").
 *
 * Driven by the planner (planner.c) when the profile has a `groups:` section
 * (narrowed by --target: gcs_group_planner_target). Its steps, in the planner's order:
 *  1. gcs_group_planner_new: load the groups file, if any;
 *  2. gcs_group_planner_note_row: each person row planned adds its column's groups;
 *  3. gcs_group_planner_read: the organisation's groups (paged, before the users
 *     are read, so that a membership change between the two reads shows as a
 *     newer version, not as a stale diff), and the role and division ids the
 *     groups' grants name (once per run; a name missing rejects the group, with
 *     a hint when only its case differs);
 *  4. gcs_group_planner_note_user: each Genesys user read brings its groups
 *     (the users' read-only `groups`), which is every group's membership without
 *     a read per group;
 *  5. gcs_group_planner_plan: after the users are planned, the hierarchy is
 *     resolved (plan/group_tree.h) and each group diffed: create, change of
 *     description / visibility / rolesEnabled, members added and removed, grants
 *     added and revoked, and (kept) parents changed since the store's record.
 * Ownership: a member, or a grant, is removed only when gcscim added it (the
 * store's record, store.h "Group ownership") or the profile declares the
 * membership authoritative; a person whose row was rejected is never removed.
 * Groups are never deleted.
 */
#ifndef GCS_ENGINE_GROUP_PLANNER_H
#define GCS_ENGINE_GROUP_PLANNER_H

#include <jansson.h>

#include "genesys/user_page.h"
#include "http/client.h"
#include "mapping/groups_file.h"
#include "mapping/profile.h"
#include "mapping/row.h"
#include "plan/plan.h"
#include "store/store.h"

typedef struct gcs_group_planner gcs_group_planner;

/* *out is NULL when the profile has no groups section. `store` (may be NULL:
 * nothing is owned) is where ownership is read. GCS_EINVALID for a groups file
 * that cannot be read, naming it. */
int gcs_group_planner_new(gcs_group_planner **out, const gcs_profile *profile, gcs_store *store);
void gcs_group_planner_free(gcs_group_planner *g);

/* A target naming a directory group rather than a person: "group:KEY". */
#define GCS_GROUP_TARGET_PREFIX "group:"

/*
 * Narrows the plan to `targets` (--target, borrowed for the call): a target
 * "group:KEY" plans that group in full (create, settings, members, grants,
 * parents); any other target is a person, whose memberships alone are planned
 * (added to the groups the directory names them in, removed, by the usual
 * ownership rules, from the directory's groups Genesys shows them in); a group
 * such a person needs that does not exist is skipped, not created. Groups no
 * target concerns are not planned. A group target naming no directory group
 * is a rejected group.
 */
int gcs_group_planner_target(gcs_group_planner *g, const char *const *targets, size_t count);

/* The groups a planned person row names in the profile's column. */
int gcs_group_planner_note_row(gcs_group_planner *g, const char *person_key, const gcs_row *row);

/* Reads the organisation's groups, and the roles and divisions if grants are named. */
int gcs_group_planner_read(gcs_group_planner *g, gcs_http_client *client, long *requests);

/* A Genesys user read by the planner (borrowed for the call). */
int gcs_group_planner_note_user(gcs_group_planner *g, const json_t *user, const char *marker);
/* The same for a user read from a page, by its flat record (genesys/user_page.h). */
int gcs_group_planner_note_fields(gcs_group_planner *g, const gcs_user_fields *user,
                                  const char *marker);

/*
 * Plans the groups into `plan`. `people`: person key -> {"id": id or null (a
 * create of this plan), "userName"} for every person the plan knows;
 * `protected_values`: values of rejected rows (a member whose userName or key
 * is one of them is never removed). *requests counts the reads.
 */
int gcs_group_planner_plan(gcs_group_planner *g, gcs_plan *plan, gcs_http_client *client,
                           const json_t *people, const json_t *protected_values, long *requests);

/* ==== One group: serve's group events (engine/sync.h) ====
 * A planner for the groups of `defs` (taken over: *defs is left empty) rather
 * than the profile's file and column, with `cfg` (borrowed: it must outlive
 * the planner) in place of the profile's section, so that an event may say
 * its own nesting. Its reads are what those groups need, not the
 * organisation's: each group by name (a SCIM filtered read, whose members
 * are the group's membership, then the Platform group for its version and
 * settings), and the roles and divisions when grants are named. The members
 * wanted are read by the caller (gcs_group_planner_note_user), then
 * gcs_group_planner_plan as for a whole source. */
int gcs_group_planner_new_for(gcs_group_planner **out, const gcs_profile_groups *cfg,
                              gcs_store *store, gcs_group_defs *defs);
int gcs_group_planner_read_named(gcs_group_planner *g, gcs_http_client *client, long *requests);
/* The Genesys id of the group of this name read, or NULL. Borrowed. */
const char *gcs_group_planner_group_id(const gcs_group_planner *g, const char *name);

#endif
