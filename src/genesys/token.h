/*
 * token.h - OAuth client credentials for the request engine.
 *
 * A token manager fetches access tokens from <login_url>/oauth/token (HTTP Basic
 * with the client id and secret, body grant_type=client_credentials) through the
 * same http client that uses them, and hands them out through the client's auth
 * provider interface (gcs_token_auth):
 *  - it honours expires_in and refreshes ahead of expiry (a fifth of the
 *    lifetime early, at most 60 s), while the old token is still used;
 *  - one fetch at a time: while no usable token exists, every request waits in
 *    the client's queue until the fetch ends;
 *  - a token the API refused (401) is dropped and fetched again once;
 *  - wrong credentials (400/401 from the token endpoint) fail at once with
 *    GCS_EAUTH and stay failed: nothing retries them (so does a daily limit,
 *    GCS_EDAILYLIMIT); other failures are tried again after a second;
 *  - the secret, the Basic credential and every token are registered with the
 *    redaction layer and wiped from memory when replaced or freed; none is
 *    logged.
 */
#ifndef GCS_GENESYS_TOKEN_H
#define GCS_GENESYS_TOKEN_H

#include <stdint.h>

#include "http/client.h"

typedef struct gcs_token gcs_token;

/* Copies the credentials. GCS_EINVALID when either is empty, too long, or the id
 * holds a ':' (HTTP Basic cannot carry it). */
int gcs_token_new(gcs_token **out, const char *client_id, const char *client_secret);
void gcs_token_free(gcs_token *t);

/* The provider to put in gcs_http_client_options.auth. The token manager must outlive
 * every client that uses it. */
gcs_http_auth gcs_token_auth(gcs_token *t);

/* Makes sure a usable token is held, fetching one through `client` if needed
 * (driving the client meanwhile). 0, GCS_EAUTH for rejected credentials, or the
 * error of the failed fetch. For commands that check credentials up front. */
int gcs_token_ensure(gcs_token *t, gcs_http_client *client);

typedef struct gcs_token_stats {
    uint64_t obtained;      /* tokens received */
    uint64_t failures;      /* fetches that ended without a token */
    uint64_t rejected;      /* tokens the API refused (401) */
    int64_t expires_in_ms;  /* of the current token; -1 when none */
} gcs_token_stats;

void gcs_token_get_stats(gcs_token_stats *out, const gcs_token *t);

#endif
