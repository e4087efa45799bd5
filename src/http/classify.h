/*
 * classify.h - what an answer means to a caller: the outcome of a call, the
 * gcs_error code it maps to, the scope a 403 probably lacks, and the templated
 * route used by the counters ("/api/v2/scim/v2/users/{id}").
 *
 * Pure functions of the status, the SCIM error fields and the request's method
 * and path, so that the rules can be tested alone.
 */
#ifndef GCS_HTTP_CLASSIFY_H
#define GCS_HTTP_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

typedef enum gcs_http_outcome {
    GCS_HTTP_OK = 0,             /* 2xx */
    GCS_HTTP_NOT_MODIFIED,       /* 304 to If-None-Match */
    GCS_HTTP_VERSION_CONFLICT,   /* 400 invalidVers, 409 version mismatch, 412: re-read */
    GCS_HTTP_UNIQUENESS_CONFLICT,/* 409 uniqueness: it exists already */
    GCS_HTTP_NOT_FOUND,          /* 404 */
    GCS_HTTP_INVALID,            /* other 4xx: see scim_type and detail */
    GCS_HTTP_UNAUTHORISED,       /* 401 after one refresh, or credentials rejected */
    GCS_HTTP_FORBIDDEN,          /* 403: see missing_scope */
    GCS_HTTP_RATE_LIMITED,       /* 429 beyond the retry budget */
    GCS_HTTP_DAILY_LIMIT,        /* Retry-After over 180 s: the run stops */
    GCS_HTTP_SERVER_ERROR,       /* 5xx after retries */
    GCS_HTTP_TRANSPORT_ERROR,    /* no answer (connect, TLS, drop, timeout) after retries */
    GCS_HTTP_OUTCOME_UNKNOWN,    /* a non-idempotent call may or may not have happened */
    GCS_HTTP_BREAKER_OPEN,       /* not sent: the server kept failing */
    GCS_HTTP_CANCELLED,          /* not sent: the client was cancelled */
    GCS_HTTP_OUTCOME_COUNT
} gcs_http_outcome;

/* "ok", "version conflict", ... Never NULL. */
const char *gcs_http_outcome_name(gcs_http_outcome o);
/* 0 for ok and not modified, else the gcs_error code (GCS_ECONFLICT, ...). */
int gcs_http_outcome_error(gcs_http_outcome o);

/*
 * The outcome of a final HTTP answer (status > 0). scim_type and detail come
 * from the error body (SCIM "scimType"/"detail", or Genesys "code"/"message"),
 * each may be NULL. method decides what a bare 409 means (a POST collides with
 * an existing resource; a write on one collides with a newer version).
 */
gcs_http_outcome gcs_http_classify_status(int status, const char *method, const char *scim_type,
                                          const char *detail);

/* The OAuth scope a 403 on method+path probably lacks ("scim", "groups",
 * "authorization:readonly", ...), or NULL when we cannot tell. Static string. */
const char *gcs_http_missing_scope(const char *method, const char *path);

/*
 * Writes path without its query, with each segment that looks like an id (a
 * UUID, or 8+ characters holding a digit and only [0-9a-zA-Z_-]) replaced by
 * "{id}", into out (NUL-terminated, truncated to outsz).
 */
void gcs_http_route_template(char *out, size_t outsz, const char *path);

#endif
