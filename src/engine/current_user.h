/*
 * current_user.h - what a plan keeps of each user read from Genesys: one
 * allocation, "id\0marker\0version\0manager\0text", where text is the user as
 * read less what no step compares (id, meta, schemas, groups), its extension
 * URNs squeezed (GCS_URN_MARK), and the few values every step looks at.
 *
 * Two ways in, one record out: from a jansson tree (a targeted read, or the
 * reference) and from a page read as it streams (genesys/user_page.h). Both
 * must give the same bytes and the same digest for the same user: the
 * differential test (tests/unit/test_user_page.c) holds them to it.
 */
#ifndef GCS_ENGINE_CURRENT_USER_H
#define GCS_ENGINE_CURRENT_USER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "engine/managed_digest.h"
#include "engine/row_spill.h"
#include "genesys/user_page.h"

/*
 * Every kept text (a row's desired user, a user read) names the SCIM extensions
 * by their URNs, 60 bytes and more each. "urn:ietf:params:scim:schemas:extension:"
 * is kept as one byte, \x01, which no JSON text holds raw (control characters
 * are escaped in strings and never outside them): the substitution is undone
 * exactly before the text is parsed.
 */
#define GCS_URN_PREFIX "urn:ietf:params:scim:schemas:extension:"
#define GCS_URN_MARK   '\x01'

/* Squeezes text in place; returns its new length. */
size_t gcs_urn_squeeze(char *text);

typedef struct gcs_current_user {
    char *blob;               /* owned: free() it */
    uint32_t marker_at;       /* offset of the marker's value (its source key); 0: none */
    uint32_t version_at;      /* offset of meta.version; 0: none */
    uint32_t manager_at;      /* offset of the enterprise manager's value; 0: none */
    uint32_t text_at;         /* offset of the text, when not spilled */
    uint32_t text_len;        /* its length */
    uint32_t claimed_by;      /* the planner's: 1 + the row that matched it, or 0 */
    uint64_t spilled_at;      /* where the text is in the spill file, when spilled */
    bool spilled;
    bool shared_id;           /* the planner's: another user read has its id (or its hash) */
    bool has_id;
    bool active;              /* `active` absent or true */
    bool has_digest;
    signed char active_as_read; /* gcs_managed_active */
    gcs_managed_digest digest; /* of what the profile manages, when has_digest */
} gcs_current_user;

/* The record of `user` (a whole user, as parsed); `scratch` is reused between
 * calls, `marker` is the managed authority (or NULL), `spill` where the text
 * goes (NULL: in the record). 0, GCS_ENOMEM or GCS_EIO (the spill file). */
int gcs_current_user_from_json(gcs_current_user *out, gcs_buf *scratch, gcs_digester *d,
                               const char *marker, const json_t *user, gcs_row_spill *spill);

/* The record of a user read from a page (its kept text taken as is). */
int gcs_current_user_from_read(gcs_current_user *out, gcs_buf *scratch, gcs_digester *d,
                               const char *marker, const gcs_user_read *user,
                               gcs_row_spill *spill);

/* The user's text (URNs squeezed), NUL-terminated: in the record, or read back
 * from `spill` into `into`. NULL when it cannot be read back (GCS_EIO). */
const char *gcs_current_user_text(const gcs_current_user *u, gcs_row_spill *spill,
                                  gcs_buf *into);

/* The marker's value (externalIds entry of authority `marker`), or NULL. */
const char *gcs_current_user_marker(const json_t *user, const char *marker);

#endif
