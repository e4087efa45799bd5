/*
 * session.h - a connection to one Genesys Cloud organisation, built from the
 * effective configuration: the base URLs (region.h), the token manager
 * (token.h) and the request engine (http/client.h) that uses it.
 */
#ifndef GCS_GENESYS_SESSION_H
#define GCS_GENESYS_SESSION_H

#include "core/config.h"
#include "genesys/token.h"
#include "http/client.h"

typedef struct gcs_session {
    char *api_url;
    char *login_url;
    gcs_token *token;
    gcs_http_client *client;
} gcs_session;

/* Resolves the URLs, checks that credentials are configured and builds the
 * client. Nothing is sent yet. */
int gcs_session_open(gcs_session *s, const gcs_config *cfg);
/* Fetches a token now, so that wrong credentials fail before any other work. */
int gcs_session_login(gcs_session *s);
void gcs_session_release(gcs_session *s);

#endif
