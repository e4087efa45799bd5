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
 *  - `members`: a small tree of only what a planner looks at (id, userName,
 *    displayName, title, externalId, active, emails, phoneNumbers, roles,
 *    groups' values, meta.version, the enterprise extension's department,
 *    division, employeeNumber, dateHire and manager.value, the Genesys
 *    extension's externalIds, routingSkills and routingLanguages). For every
 *    lookup json_object_get/json_array_* make of those paths, it answers as
 *    the whole user would: a list keeps all its entries (an entry that is
 *    not an object is null) and a value of an unexpected type is null.
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

#include <jansson.h>

#define GCS_USER_PAGE_MAX_DEPTH 2048 /* jansson's own limit */

/* One user as read; everything is borrowed until the callback returns. */
typedef struct gcs_user_read {
    json_t *members;   /* the values a planner looks at (see above): an object */
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
