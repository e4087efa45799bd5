/*
 * session.h - a connection to one Genesys Cloud organisation, opened from the
 * layered configuration: base URLs from region / api_url / login_url, a token
 * manager from client_id / client_secret, and a request engine with the user's
 * max_in_flight, max_rps, timeout and ca_bundle. What every command that talks
 * to Genesys starts with.
 *
 * Invariant: the token manager outlives the client (the session frees the
 * client first).
 */
#ifndef GCS_GENESYS_SESSION_H
#define GCS_GENESYS_SESSION_H

#include "core/config.h"
#include "genesys/token.h"
#include "http/client.h"

typedef struct gcs_genesys_session {
    gcs_http_client *client;
    gcs_token *token;
    char *api_url;   /* no trailing slash */
    char *login_url;
} gcs_genesys_session;

/*
 * Opens a session. `tune` (may be NULL) supplies engine options the config does
 * not hold (attempts, breaker, ...); its URLs, auth, max_in_flight, max_rps,
 * timeout and ca_bundle are taken from `cfg`. Fails with GCS_EINVALID when the
 * credentials are missing or the region is unknown. Sends nothing: the first
 * request (or gcs_token_ensure) fetches the token.
 */
int gcs_genesys_session_open(gcs_genesys_session **out, const gcs_config *cfg,
                             const gcs_http_client_options *tune);
void gcs_genesys_session_free(gcs_genesys_session *s);

#endif
