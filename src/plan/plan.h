/*
 * plan.h - a plan: every change gcscim will make, computed before any is made.
 *
 * A plan is a JSON document (format "gcscim-plan/1") that people read through
 * gcs_plan_render and that `gcscim apply` executes exactly. Each operation records
 * the Genesys user id and the version (ETag) it was computed against, so that apply
 * can tell a user that changed since (drift) from one that did not.
 * Operations are kept in a stable order: creates, reactivations, updates,
 * deactivations, each by source key. The plan's identity is the SHA-256 of its
 * canonical operations and target: a resumed apply finds its earlier run by it.
 */
#ifndef GCS_PLAN_PLAN_H
#define GCS_PLAN_PLAN_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

typedef enum gcs_plan_kind {
    GCS_PLAN_CREATE,
    GCS_PLAN_REACTIVATE,
    GCS_PLAN_UPDATE,
    GCS_PLAN_DEACTIVATE,
    GCS_PLAN_ADOPT,       /* take over an existing user: a PATCH, like an update */
    GCS_PLAN__KINDS
} gcs_plan_kind;

typedef struct gcs_plan_options {
    bool no_create;
    bool no_update;
    bool no_deactivate;
    long allow_deactivations;     /* approved count; -1 when not given */
    long max_deactivations;       /* above this many, approval is needed (default 10) */
    double max_deactivation_share; /* or above this share of managed users (default 0.05) */
} gcs_plan_options;

void gcs_plan_options_init(gcs_plan_options *o);

typedef struct gcs_plan {
    json_t *doc; /* the whole document; "operations" is an array */
} gcs_plan;

/* An empty plan for the given target API and inputs. */
int gcs_plan_init(gcs_plan *plan, const char *api_url, const char *source_path,
                  const char *profile_path, const gcs_plan_options *options);
void gcs_plan_release(gcs_plan *plan);

const char *gcs_plan_kind_name(gcs_plan_kind kind);
int gcs_plan_kind_parse(const char *name, gcs_plan_kind *out);

/*
 * Adds an operation. `key` is the source key (or the managed marker value for a
 * leaver); `id` and `version` are NULL for a create; `body` is the SCIM user for a
 * create, the PATCH operations array otherwise (stolen); `changes` the readable
 * list of {attribute, old, new} (stolen, may be NULL); `extra` (stolen, may be
 * NULL) is merged into the operation (location, manager_key, ...).
 */
int gcs_plan_add(gcs_plan *plan, gcs_plan_kind kind, const char *key, const char *user_name,
                 const char *id, const char *version, json_t *body, json_t *changes,
                 json_t *extra);
/* Records a rejected source row: where and why. */
void gcs_plan_reject(gcs_plan *plan, const char *location, const char *field, const char *reason);
void gcs_plan_set_counts(gcs_plan *plan, long unchanged, long managed_total);

/* Sorts operations into their stable order and fills in the summary and identity. */
int gcs_plan_finish(gcs_plan *plan);

json_t *gcs_plan_operations(const gcs_plan *plan); /* borrowed */
long gcs_plan_count(const gcs_plan *plan, gcs_plan_kind kind);
const char *gcs_plan_identity(const gcs_plan *plan); /* hex SHA-256, borrowed */

/*
 * Checks the deactivation threshold: more than max_deactivations, or more than
 * max_deactivation_share of managed users, needs allow_deactivations >= count.
 * Returns GCS_EREFUSED with a message saying how to approve.
 */
int gcs_plan_check_approval(const gcs_plan *plan, const gcs_plan_options *options);

/* Writes the plan file (0600: it may hold personal data) / reads it back. */
int gcs_plan_write(const gcs_plan *plan, const char *path);
int gcs_plan_read(gcs_plan *plan, const char *path);

/* terraform-plan style: counts of + ~ - and each attribute's old and new value. */
void gcs_plan_render_text(const gcs_plan *plan, FILE *out, bool color);

#endif
