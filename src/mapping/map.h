/*
 * map.h - turning one source row into one desired Genesys SCIM user.
 *
 * gcs_map_row is pure: no network, no clock, no randomness. It checks the
 * profile's scope, evaluates every mapped attribute (source field or template,
 * transforms, default), validates the results (required, formats, lengths,
 * proficiencies, list sizes, names that must exist in the organisation) and
 * builds the SCIM user. Either the row maps completely or it is rejected with
 * every error found: a rejected row never yields a partial user.
 *
 * The desired user (`user`) has exactly the shape Genesys takes on create:
 *   {"schemas":[core, enterprise, genesys],
 *    "userName":…, "displayName":…, "active":true|false, "title":…, "externalId":…,
 *    "emails":[{"value":…,"type":"work","primary":true}],
 *    "phoneNumbers":[{"value":"+E164","type":"work"}, …],
 *    "roles":[{"value":"<role name>"}, …],
 *    GCS_SCIM_ENTERPRISE_USER:{"department","division" (a name),"employeeNumber",
 *                              "dateHire" (YYYY-MM-DD)},
 *    GCS_SCIM_GENESYS_USER:{"routingSkills":[{"name","proficiency"}],
 *                           "routingLanguages":[{"name","proficiency"}],
 *                           "externalIds":[{"authority","value"}, …]}}
 * Proficiencies are JSON reals (3.0): compare numbers numerically, not with
 * json_equal, since Genesys may answer 3 or 3.0. An attribute without a value
 * is left out (for a managed attribute that means "should be empty"). The
 * managed marker {authority: <marker>, value: <source key>} is always in
 * externalIds, unless the profile says `managed_by: false`. The manager is NOT in `user`: it is a source key in
 * `manager_key`, which the planner resolves to a Genesys user id and writes
 * with gcs_map_user_set_manager. No password is ever put in `user`.
 */
#ifndef GCS_MAPPING_MAP_H
#define GCS_MAPPING_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/org_names.h"
#include "mapping/profile.h"
#include "mapping/row.h"

/* ==== Desired users ==== */

typedef enum gcs_map_status {
    GCS_MAP_OK = 0,          /* `user` holds the desired user */
    GCS_MAP_OUT_OF_SCOPE,    /* the profile's scope excludes the row: treat it as absent */
    GCS_MAP_REJECTED,        /* `errors` says why; nothing else is set */
} gcs_map_status;

typedef struct gcs_match_value {
    const char *key;         /* the profile's matching key ("externalId"); borrowed */
    char *value;
} gcs_match_value;

/* One attribute's values in a flat mapping (gcs_map_row_flat): its items, none
 * empty, as the tree would be built from them. */
typedef struct gcs_map_values {
    char **items;
    size_t n;
} gcs_map_values;

typedef struct gcs_map_user {
    gcs_map_status status;
    char *file;                      /* where the row came from */
    unsigned long line;
    json_t *user;                    /* the desired SCIM user (owned); NULL unless OK */
    char *source_key;                /* value of the first matching key; NULL unless OK */
    gcs_match_value *match;          /* non-empty matching keys in precedence order */
    size_t match_count;
    char *manager_key;               /* the manager's source key, or NULL */
    const gcs_profile_attr **create_only;   /* attributes set only on create (borrowed
                                             * from the profile: valid while it lives) */
    size_t create_only_count;
    gcs_row_errors errors;           /* when REJECTED: every problem found */
    gcs_map_values *values;          /* flat (user NULL): one per profile attribute, in
                                      * its order; NULL otherwise */
    size_t value_count;
    int active;                      /* flat: `active` as the user would hold it: 1, 0,
                                      * or -1 when absent (gcs_managed_active) */
} gcs_map_user;

void gcs_map_user_init(gcs_map_user *u);
void gcs_map_user_release(gcs_map_user *u);

/*
 * Maps `row` through `profile`. `out` is initialised here (it must not hold a
 * previous result: release it first). `org` may be NULL to skip the checks of
 * names against the organisation (offline validation).
 * Returns 0 for GCS_MAP_OK and GCS_MAP_OUT_OF_SCOPE, GCS_EINVALID for
 * GCS_MAP_REJECTED (the thread's error message is set to the first error's
 * text), GCS_ENOMEM.
 */
int gcs_map_row(gcs_map_user *out, const gcs_profile *profile, const gcs_row *row,
                const gcs_org_names *org);

/*
 * gcs_map_row without the tree, for the planner's rows: when the profile
 * allows it (gcs_map_profile_is_flat), an OK row keeps its attributes' values
 * in `values`, and `user` stays NULL until gcs_map_user_build makes it. Every
 * check, error and message is gcs_map_row's own; with any other profile this
 * is gcs_map_row.
 */
int gcs_map_row_flat(gcs_map_user *out, const gcs_profile *profile, const gcs_row *row,
                     const gcs_org_names *org);

/* Whether gcs_map_row_flat keeps values for this profile: no skills or
 * languages (their proficiencies are reals, written by jansson), and no two
 * attributes setting one member (the tree keeps the last in the first's place). */
bool gcs_map_profile_is_flat(const gcs_profile *profile);

/*
 * Appends the flat user u as json_dumps(user, JSON_COMPACT | JSON_PRESERVE_ORDER)
 * writes the tree gcs_map_row builds, less its "schemas" (which are always the
 * three standard ones): members in the tree's order, strings as jansson
 * escapes them. 1 written; 0 when a value is not a string jansson holds
 * (nothing is appended: build the tree, which fails as it always did); or the
 * buffer's error.
 */
int gcs_map_user_put_text(gcs_buf *out, const gcs_map_user *u, const gcs_profile *profile);

/* The userName of a flat user (borrowed), or NULL. */
const char *gcs_map_user_name(const gcs_map_user *u, const gcs_profile *profile);

/* Builds u->user from a flat user's values, as gcs_map_row would have. */
int gcs_map_user_build(gcs_map_user *u, const gcs_profile *profile);

/* Writes enterprise manager {"value": genesys_id} into u->user (u must be OK). */
int gcs_map_user_set_manager(gcs_map_user *u, const char *genesys_id);

/* The value of one matching key in u, or NULL. Borrowed. */
const char *gcs_map_user_match(const gcs_map_user *u, const char *key);

/* ==== Attribute values, for diffing ==== */

/*
 * The value that `attr` governs in a SCIM user, normalised so that a desired
 * user and one read from Genesys compare with gcs_scim_attr_equal:
 *   userName, displayName, title, externalId, department, division,
 *   employeeNumber, dateHire: the string ("" counts as absent);
 *   active: true/false;
 *   email: the value of the emails entry of type work;
 *   phoneNumbers.TYPE: the value of the entry of that type;
 *   externalIds.AUTH: the value of the genesys externalIds entry of that authority;
 *   manager: the enterprise manager's value (a Genesys user id);
 *   roles: the role names, sorted, without repeats;
 *   routingSkills / routingLanguages: [{name, proficiency (real)}] sorted by name.
 * Returns a new reference, or NULL when the user has no value.
 */
json_t *gcs_scim_attr_value(const json_t *user, const gcs_profile_attr *attr);

/* Equality of two values from gcs_scim_attr_value (either may be NULL);
 * numbers compare by value (3 equals 3.0). */
bool gcs_scim_attr_equal(const json_t *a, const json_t *b);

#endif
