/*
 * directory.h - reading what an organisation holds: users through SCIM, and the
 * names of roles, divisions, skills and languages through the Platform API.
 *
 * Reads are shaped to cost as few requests as possible:
 *  - listing users pages with `attributes` naming only what the caller needs;
 *    a page asks for GCS_DIRECTORY_PAGE_CHEAP users, or GCS_DIRECTORY_PAGE_COSTLY
 *    when a costly attribute (externalId, roles, manager, routingSkills,
 *    routingLanguages) is asked for, since Genesys may answer 429 to pages over
 *    25 of those and names no other maximum; a server that serves fewer than
 *    asked (its own cap) is followed: the first page's itemsPerPage is the
 *    step of the rest (gcs_directory_page_step), so that no user is skipped
 *    or read twice; after the first page (which tells the total) the
 *    remaining pages are fetched concurrently, paced by the engine;
 *  - a single user is found with one filtered request;
 *  - organisation names page 500 at a time (Platform API `pageSize`).
 * All requests go through the engine (http/client.h), so they are paced,
 * retried and recorded like any other call.
 */
#ifndef GCS_GENESYS_DIRECTORY_H
#define GCS_GENESYS_DIRECTORY_H

#include <stdbool.h>

#define GCS_DIRECTORY_PAGE_CHEAP  500 /* users a page without costly attributes */
#define GCS_DIRECTORY_PAGE_COSTLY 25  /* users a page with them */

#include <jansson.h>

#include "http/client.h"
#include "core/org_names.h"
#include "genesys/user_page.h"

#define GCS_SCIM_USERS "/api/v2/scim/v2/users"

/*
 * Lists every user: the active ones (no filter) and, when `inactive` is true,
 * the inactive ones (filter active eq false). `attributes` is the comma-separated
 * SCIM attribute list to ask for (NULL: everything, 25 a page). Each page is
 * read as it streams (genesys/user_page.h): fn gets each user's kept text and
 * the values a planner looks at, never a tree of the page. Returns 0 or the
 * first error (a malformed page: GCS_EINVALID naming the request and the byte);
 * after an error the users already handed over are a part of the organisation
 * only, to be dropped. *requests_out (optional) counts the requests sent.
 */
int gcs_directory_list_users(gcs_http_client *c, const char *attributes, bool inactive,
                             gcs_user_read_fn fn, void *payload, long *requests_out);

/* The step between pages after the first, which answered `first` to a request
 * for `asked` users: the server's itemsPerPage when it is below what was asked
 * (its own cap); without one, the users the first page held when they are
 * fewer than asked and than the total; else `asked`. */
long gcs_directory_page_step(long asked, const gcs_user_page_info *first);

/* Builds the SCIM filter that finds a user by one matching key
 * ("externalId", "userName", "email", "employeeNumber", "externalIds.AUTHORITY")
 * and value; caller frees. NULL for an unknown key or a value too long for a
 * filter (8 KiB), with GCS_EINVALID as the last error, or GCS_ENOMEM when out
 * of memory: a caller must not read that as "no such user". */
char *gcs_directory_filter_for(const char *key, const char *value);

/* Finds the user with `filter` (active or not). *out is NULL when there is none.
 * GCS_EINVALID when more than one user matches: a lookup never picks one of
 * several. The one lookup of the project; callers that send the request
 * themselves (apply, on the engine's loop) use the two halves below. */
int gcs_directory_find_user(json_t **out, gcs_http_client *c, const char *filter);
/* The lookup's request path for `filter` (escaped; asks for two users so that
 * ambiguity shows). Caller frees; NULL when out of memory. */
char *gcs_directory_find_path(const char *filter);
/* Reads the answer to that request: *out is the one user (borrowed from
 * `answer`) or NULL when there is none; GCS_EINVALID when several match. */
int gcs_directory_found_user(json_t **out, const json_t *answer, const char *filter);

/* Reads one user by id; *etag_out (optional) gets its ETag (caller frees). */
int gcs_directory_get_user(json_t **out, char **etag_out, gcs_http_client *c, const char *id);

/* Adds to `names` every role, division, skill and language name that `want`
 * asks for (want[kind] true). */
int gcs_directory_fetch_org_names(gcs_org_names *names, gcs_http_client *c,
                                  const bool want[GCS_ORG__COUNT], long *requests_out);

/*
 * Who holds the roles named in `names` (matched ignoring case, as a profile's
 * privileged_roles are): the roles are listed, then each match's users
 * (GET /api/v2/authorization/roles/{id}/users, 500 a page). *out is a new
 * object: user id -> [the role names held, as the organisation spells them].
 * A few requests per run, instead of a read of every user a plan changes.
 * Needs the authorization:readonly scope: without it, GCS_EFORBIDDEN, and the
 * run goes on (the caller reads the users one by one instead).
 */
int gcs_directory_role_holders(json_t **out, gcs_http_client *c, const char *const *names,
                               size_t count, long *requests_out);

/* The ETag of a user: its meta.version, quoted. Caller frees; NULL if none. */
char *gcs_directory_user_etag(const json_t *user);

#endif
