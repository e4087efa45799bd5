/*
 * profile.h - mapping profiles: how a source row becomes a Genesys SCIM user.
 *
 * A profile is a JSON or YAML file (format in docs/mapping.md). YAML is read
 * with libyaml into the same JSON tree a JSON file gives, with the line of every
 * node kept, and the tree is then compiled once into an immutable gcs_profile:
 * targets, transforms, validation rules, matching keys, scope, managed marker
 * and password policy. Every error found while loading names the file and the
 * line, e.g.
 *   cannot read mapping profile 'hr.yaml': line 14: unknown transform 'upcase'
 * so a bad profile is rejected before anything is read from Genesys.
 *
 * A loaded profile is immutable and may be shared between threads.
 *
 * What the planner needs from a profile:
 *   - the attributes it manages (gcs_profile_attr): only those may be changed
 *     on an existing user; a managed attribute missing from a desired user means
 *     "should have no value". For multi-valued attributes a profile owns only
 *     part of the list: the phone numbers of the types it maps, the work email,
 *     the externalIds of the authorities it maps (plus the managed marker);
 *     roles, routingSkills and routingLanguages are owned whole.
 *   - the matching keys in order of precedence (gcs_profile_match_*);
 *   - the managed marker authority: gcscim writes genesys externalIds
 *     {authority: <marker>, value: <source key>} on every user it creates or
 *     adopts, and deactivates only users carrying that authority;
 *   - the password policy (off unless the profile asks);
 *   - the privileged roles, whose holders it protects.
 */
#ifndef GCS_MAPPING_PROFILE_H
#define GCS_MAPPING_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gcs_profile gcs_profile;

/* The SCIM schema URNs used in desired users and PATCH paths. */
#include "core/scim.h"

/* Every attribute a profile can map. */
typedef enum gcs_target {
    GCS_TARGET_USERNAME,
    GCS_TARGET_DISPLAYNAME,
    GCS_TARGET_ACTIVE,
    GCS_TARGET_TITLE,
    GCS_TARGET_EXTERNALID,
    GCS_TARGET_EMAIL,           /* the work email: emails[type eq "work"] */
    GCS_TARGET_PHONE,           /* phoneNumbers of one type ("phoneNumbers.mobile") */
    GCS_TARGET_DEPARTMENT,      /* enterprise */
    GCS_TARGET_DIVISION,        /* enterprise, a division name */
    GCS_TARGET_EMPLOYEENUMBER,  /* enterprise */
    GCS_TARGET_DATEHIRE,        /* enterprise, YYYY-MM-DD */
    GCS_TARGET_MANAGER,         /* enterprise; the manager's source key, resolved by the planner */
    GCS_TARGET_ROLES,           /* role names */
    GCS_TARGET_SKILLS,          /* genesys routingSkills */
    GCS_TARGET_LANGUAGES,       /* genesys routingLanguages */
    GCS_TARGET_EXTERNALIDS,     /* genesys externalIds of one authority ("externalIds.hr") */
    GCS_TARGET__COUNT
} gcs_target;

typedef enum gcs_attr_mode {
    GCS_ATTR_ALWAYS = 0,        /* set on create and kept in step on every sync */
    GCS_ATTR_CREATE_ONLY,       /* set when the user is created, never changed after */
} gcs_attr_mode;

/* One attribute that the profile manages. Borrowed from the profile. */
typedef struct gcs_profile_attr {
    const char *name;    /* as written in the profile: "userName", "phoneNumbers.mobile", "externalIds.hr" */
    gcs_target target;
    const char *path;    /* SCIM PATCH path of the whole attribute: "userName", "emails",
                          * "phoneNumbers", "roles", GCS_SCIM_ENTERPRISE_USER ":department",
                          * GCS_SCIM_GENESYS_USER ":routingSkills", ... */
    const char *sub;     /* the part of a multi-valued attribute it owns: the phone type,
                          * "work" for emails, the externalIds authority; NULL otherwise */
    gcs_attr_mode mode;
    bool required;       /* a row without a value is rejected */
} gcs_profile_attr;

typedef struct gcs_password_policy {
    bool enabled;        /* false (the default): passwords are never set */
    unsigned int length;         /* default 16, at least 8, at most 128 */
    unsigned int min_lower, min_upper, min_digit, min_symbol;   /* default 1 each */
} gcs_password_policy;

/*
 * Loads and compiles a profile. The syntax is chosen by extension (.yaml, .yml:
 * YAML; .json: JSON; otherwise JSON when the first non-blank byte is '{').
 * Files over 1 MiB are refused. Errors: GCS_EIO (cannot read), GCS_EINVALID
 * (anything wrong with the content; the message names file and line).
 */
int gcs_profile_load(gcs_profile **out, const char *path);
/* Same from memory; `name` is used in messages and its extension picks the syntax. */
int gcs_profile_load_mem(gcs_profile **out, const char *name, const char *data, size_t len);
void gcs_profile_free(gcs_profile *profile);

/* The file name the profile was loaded from. */
const char *gcs_profile_file(const gcs_profile *profile);

/* The managed attributes, in profile order. */
size_t gcs_profile_attr_count(const gcs_profile *profile);
const gcs_profile_attr *gcs_profile_attr_at(const gcs_profile *profile, size_t i);
/* By profile name ("department", "phoneNumbers.work"); NULL when not mapped. */
const gcs_profile_attr *gcs_profile_attr_find(const gcs_profile *profile, const char *name);

/* Matching keys in order of precedence (default: "externalId", "userName").
 * Each is one of "externalId", "userName", "email", "employeeNumber" or
 * "externalIds.AUTHORITY"; each is a target the profile maps. The first one's
 * value is the row's source key (a row without it is rejected). */
size_t gcs_profile_match_count(const gcs_profile *profile);
const char *gcs_profile_match_key(const gcs_profile *profile, size_t i);

/* The externalIds authority that marks users gcscim manages (default "gcscim"),
 * or NULL when the profile says `managed_by: false` (a bulk update that must not
 * claim users): then the planner must refuse deactivations. */
const char *gcs_profile_managed_authority(const gcs_profile *profile);

/* Never NULL; `enabled` false unless the profile has a password section. */
const gcs_password_policy *gcs_profile_password_policy(const gcs_profile *profile);

/* The privileged roles (`privileged_roles`), by name as Genesys shows them:
 * the planner never removes one of them, nor changes a user holding one,
 * without an approval naming them. Default: "Master Admin" alone; a profile
 * may list others, or none with `privileged_roles: []`. Names are non-empty,
 * without blanks around them, unique ignoring ASCII case. Borrowed; _at gives
 * NULL past the end. */
size_t gcs_profile_privileged_role_count(const gcs_profile *profile);
const char *gcs_profile_privileged_role_at(const gcs_profile *profile, size_t i);

/*
 * Groups (the `groups:` section, docs/mapping.md "Groups"): where people's
 * groups come from and how a directory hierarchy becomes Genesys groups, which
 * hold users only.
 *   column: a field of the people export listing a person's groups by key,
 *           separated by `separator` (default ";"): "Tier 2;Billing";
 *   file:   a groups file (CSV or JSON, mapping/groups_file.h), relative to the
 *           profile's directory unless absolute;
 *   hierarchy: kept (each directory group its own Genesys group with its direct
 *           members) or flattened (a group's members are everybody below it);
 *   authoritative: the groups' membership is the directory's alone: members
 *           gcscim did not add are removed too (default false: gcscim removes
 *           only the memberships it added).
 */
typedef enum gcs_group_hierarchy {
    GCS_GROUPS_KEPT = 0,
    GCS_GROUPS_FLATTENED,
} gcs_group_hierarchy;

typedef struct gcs_profile_groups {
    bool enabled;             /* the profile has a groups section */
    char *column;             /* NULL: none */
    char separator;
    char *file;               /* resolved against the profile's directory; NULL: none */
    gcs_group_hierarchy hierarchy;
    bool authoritative;
} gcs_profile_groups;

/* Never NULL; `enabled` false when the profile has no groups section. Borrowed. */
const gcs_profile_groups *gcs_profile_groups_of(const gcs_profile *profile);

/* Checks that every source field the profile reads (from, template fields,
 * scope fields) is among `names` (the columns of a CSV header), so that a
 * misspelt column is one error before the run rather than an empty value on
 * every row. GCS_EINVALID names the profile file and line, the field, the
 * source (`source_name`) and the closest column when one is close enough:
 *   cannot use mapping profile 'hr.yaml' with 'export.csv': line 7: source
 *   field 'jobtitle' is not a column of the source (did you mean 'job_title'?)
 * To check against a source file of any format, see gcs_source_check_profile
 * (source.h). */
int gcs_profile_check_fields(const gcs_profile *profile, const char *source_name,
                             const char *const *names, size_t count);

/* The profile name of a target ("userName", "routingSkills", ...). */
const char *gcs_target_name(gcs_target target);

#endif
