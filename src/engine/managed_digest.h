/*
 * managed_digest.h - a 128-bit fingerprint of what a plan compares of a user:
 * every attribute the profile manages, `active` and the managed marker.
 *
 * The planner keeps one per Genesys user read and one per source row, and
 * decides a row "unchanged" when the two are equal, without parsing either
 * again or building the diff. The rule it keeps: equal digests mean that
 * gcs_diff_user (plan/diff.h) would find nothing. So the fingerprint is over
 * the normalised values the diff compares (gcs_scim_attr_value), and a desired
 * user holding anything it does not cover (an attribute the diff would compare
 * that no profile attribute names, two entries of one type, a role twice) gets
 * no digest: that row is diffed in full. Two things are compared apart by the
 * caller: the manager (a row names it by source key, resolved to an id only
 * while the row is decided) and `active`, which the diff compares only when the
 * desired user has it (gcs_managed_active). Unequal digests say
 * nothing: the diff decides. The hash is SipHash-1-3 twice, keyed at random per
 * planning run, so that no value can be chosen to look unchanged.
 */
#ifndef GCS_ENGINE_MANAGED_DIGEST_H
#define GCS_ENGINE_MANAGED_DIGEST_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "genesys/user_page.h"
#include "mapping/map.h"
#include "mapping/profile.h"

typedef struct gcs_managed_digest {
    uint64_t h[2];
} gcs_managed_digest;

typedef struct gcs_digester {
    const gcs_profile *profile; /* borrowed */
    const char *marker;         /* the managed authority, or NULL; borrowed */
    uint64_t k[4];              /* two SipHash keys */
    gcs_buf text;               /* the canonical text being hashed */
} gcs_digester;

/* Prepares a digester for one planning run (picks its keys); allocates nothing. */
void gcs_digester_init(gcs_digester *d, const gcs_profile *profile, const char *marker);
void gcs_digester_release(gcs_digester *d);

/*
 * The digest of `user`: a desired user from the mapping (`desired` true, whose
 * coverage is checked) or a user read from Genesys. Returns 1 with *out set,
 * 0 when there is no digest to compare (the caller diffs in full), or
 * GCS_ENOMEM.
 */
int gcs_digester_user(gcs_digester *d, const json_t *user, bool desired, gcs_managed_digest *out);

/* The same digest of a user read from a page, from its flat record (no tree):
 * equal to gcs_digester_user(d, that user, false, out). 1, or GCS_ENOMEM. */
int gcs_digester_fields(gcs_digester *d, const gcs_user_fields *fields, gcs_managed_digest *out);

/* The same digest of a flat desired user (mapping/map.h gcs_map_row_flat),
 * without its tree: equal to gcs_digester_user(d, the tree gcs_map_user_build
 * makes of it, true, out), 0 included. 1, 0 or GCS_ENOMEM. */
int gcs_digester_mapped(gcs_digester *d, const gcs_map_user *u, gcs_managed_digest *out);

/*
 * Makes explicit, in a desired user, what a managed attribute left out of it
 * means ("should be empty"), for gcs_diff_user; `has_manager` says the row
 * names a manager. Returns the paths the diff skips (create-only attributes),
 * a new array.
 */
json_t *gcs_managed_complete(const gcs_profile *profile, json_t *user, bool has_manager);

/* `active` as a user holds it: 1 true, 0 false, or one of these. */
#define GCS_MANAGED_ACTIVE_ABSENT (-1)
#define GCS_MANAGED_ACTIVE_OTHER  2
int gcs_managed_active(const json_t *user);

static inline bool gcs_managed_digest_equal(const gcs_managed_digest *a,
                                            const gcs_managed_digest *b)
{
    return a->h[0] == b->h[0] && a->h[1] == b->h[1];
}

#endif
