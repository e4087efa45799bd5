/*
 * user_page.h - one page of a SCIM user listing ({schemas, totalResults,
 * startIndex, itemsPerPage, Resources}) read by a streaming parser (yajl),
 * without a JSON tree of the page.
 *
 * A plan reads every user of an organisation (a million) and keeps of each only
 * its compact text and the few values it compares. Building a jansson tree of
 * each page, serialising each user again and freeing the tree cost four fifths
 * of a plan's CPU; this reader makes both things a user is kept as straight
 * from the parser's events:
 *  - `kept`: the user as compact JSON less id, meta, schemas and groups,
 *    byte for byte what jansson's JSON_COMPACT dump of each member of the
 *    parsed user writes (members in the page's order; a top-level member name
 *    escaped as gcs_buf_put_json_escaped does). A repeated member name in the
 *    user makes the reader parse its kept text once with jansson, so that the
 *    last value wins where the first stood, as jansson keeps it;
 *  - `fields`: a flat record of only what a planner looks at (id, userName,
 *    displayName, title, externalId, active, emails, phoneNumbers, roles,
 *    groups' values, meta.version, the enterprise extension's department,
 *    division, employeeNumber, dateHire and manager.value, the Genesys
 *    extension's externalIds, routingSkills and routingLanguages), filled
 *    straight from the parser's events, no JSON tree. It answers as the whole
 *    user parsed by jansson would to json_string_value / json_is_true /
 *    json_array_size / json_number_value of those paths: a value of another
 *    type is NULL, a list that is not an array has no entries, an entry that
 *    is not an object has none of its parts, and a member named twice holds
 *    its last value (as jansson keeps it).
 *
 * What the reader accepts is what json_loadb accepts: strict UTF-8, no
 * \u0000, no unpaired surrogate escape, integers that fit in 64 bits, finite
 * reals, at most GCS_USER_PAGE_MAX_DEPTH levels. Anything else, or an answer
 * that is not a list of objects, is GCS_EINVALID with the byte where it
 * stopped. Users are handed over one by one as they end: when a page turns out
 * malformed after some were, the caller must fail the whole listing (as
 * gcs_directory_list_users does): a page is never half taken.
 */
#ifndef GCS_GENESYS_USER_PAGE_H
#define GCS_GENESYS_USER_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#define GCS_USER_PAGE_MAX_DEPTH 2048 /* jansson's own limit */

/* The values of a user kept in its flat record. */
typedef enum gcs_user_field {
    GCS_USER_ID,
    GCS_USER_USERNAME,
    GCS_USER_DISPLAYNAME,
    GCS_USER_TITLE,
    GCS_USER_EXTERNALID,
    GCS_USER_VERSION,        /* meta.version */
    GCS_USER_DEPARTMENT,     /* the enterprise extension's */
    GCS_USER_DIVISION,
    GCS_USER_EMPLOYEENUMBER,
    GCS_USER_DATEHIRE,
    GCS_USER_MANAGER,        /* the enterprise extension's manager.value */
    GCS_USER__FIELDS
} gcs_user_field;

/* Its lists, and the parts of each entry: `key` is the entry's type (emails,
 * phoneNumbers), authority (externalIds) or name (routingSkills,
 * routingLanguages); `value` its value (emails, phoneNumbers, roles, groups,
 * externalIds); `number` the proficiency. */
typedef enum gcs_user_list {
    GCS_USER_EMAILS,
    GCS_USER_PHONES,
    GCS_USER_ROLES,
    GCS_USER_GROUPS,
    GCS_USER_EXTERNALIDS,    /* the Genesys extension's */
    GCS_USER_SKILLS,         /* the Genesys extension's routingSkills */
    GCS_USER_LANGUAGES,      /* the Genesys extension's routingLanguages */
    GCS_USER__LISTS
} gcs_user_list;

typedef struct gcs_user_entry {
    const char *key;         /* NULL: absent or not a string */
    const char *value;       /* NULL: absent or not a string */
    double number;           /* json_number_value of the proficiency: 0 when none */
    bool has_number;         /* the proficiency is a number */
} gcs_user_entry;

/* `active` as held: absent, true, false or anything else (gcs_managed_active). */
#define GCS_USER_ACTIVE_ABSENT (-1)
#define GCS_USER_ACTIVE_OTHER  2

typedef struct gcs_user_fields {
    const char *str[GCS_USER__FIELDS];  /* NULL: absent or not a string */
    int active;                         /* 1, 0 or GCS_USER_ACTIVE_* */
    struct {
        const gcs_user_entry *at;       /* every entry of the array, in order */
        size_t count;                   /* 0 when absent or not an array */
    } list[GCS_USER__LISTS];
} gcs_user_fields;

/* One user as read; everything is borrowed until the callback returns. */
typedef struct gcs_user_read {
    const gcs_user_fields *fields; /* the values a planner looks at (see above) */
    const char *kept;  /* compact JSON less id, meta, schemas, groups; NUL-terminated */
    size_t kept_len;
} gcs_user_read;

/* Called for each user of the page, in order. A negative return stops the
 * reading with that code (its message stands). */
typedef int (*gcs_user_read_fn)(const gcs_user_read *user, void *payload);

/* What the page says of itself; -1 where it says nothing (or not an integer). */
typedef struct gcs_user_page_info {
    long total_results;
    long items_per_page;
    long start_index;
    long users;        /* the users read (Resources' entries) */
} gcs_user_page_info;

/* Reads the page `body` (len bytes), calling fn for each user. Returns 0, the
 * callback's code, GCS_EINVALID (the message names the byte and the fault) or
 * GCS_ENOMEM. `info` (optional) is filled as far as the page was read. */
int gcs_user_page_read(gcs_user_page_info *info, const char *body, size_t len,
                       gcs_user_read_fn fn, void *payload);

#endif
