#include "genesys/session.h"

#include <stdlib.h>

#include "core/error.h"
#include "genesys/region.h"

int gcs_genesys_session_open(gcs_genesys_session **out, const gcs_config *cfg,
                             const gcs_http_client_options *tune)
{
    int rc = 0;
    gcs_genesys_session *s = calloc(1, sizeof *s);
    *out = NULL;
    GCS_CHECK_ALLOC(s);
    const char *id = gcs_config_get(cfg, GCS_CFG_CLIENT_ID);
    const char *secret = gcs_config_get(cfg, GCS_CFG_CLIENT_SECRET);
    if (!id || !*id || !secret || !*secret) {
        rc = gcs_error_set(GCS_EINVALID,
                           "oauth client credentials are missing: set client_id "
                           "(GENESYSCLOUD_OAUTHCLIENT_ID) and client_secret "
                           "(GENESYSCLOUD_OAUTHCLIENT_SECRET or --client-secret-file)");
        goto out;
    }
    if ((rc = gcs_region_resolve(&s->api_url, &s->login_url, gcs_config_get(cfg, GCS_CFG_REGION),
                                 gcs_config_get(cfg, GCS_CFG_API_URL),
                                 gcs_config_get(cfg, GCS_CFG_LOGIN_URL))) < 0)
        goto out;
    if ((rc = gcs_token_new(&s->token, id, secret)) < 0)
        goto out;
    gcs_http_client_options o = tune ? *tune : (gcs_http_client_options){0};
    o.api_url = s->api_url;
    o.login_url = s->login_url;
    o.auth = gcs_token_auth(s->token);
    o.max_in_flight = (int)gcs_config_get_long(cfg, GCS_CFG_MAX_IN_FLIGHT);
    const char *rps = gcs_config_get(cfg, GCS_CFG_MAX_RPS);
    o.max_rps = rps ? strtod(rps, NULL) : 0;
    long timeout_s = gcs_config_get_long(cfg, GCS_CFG_TIMEOUT);
    o.timeout_ms = timeout_s > 0 && timeout_s < 86400 ? (int)timeout_s * 1000 : 0;
    const char *ca = gcs_config_get(cfg, GCS_CFG_CA_BUNDLE);
    o.ca_bundle = ca && *ca ? ca : NULL;
    if ((rc = gcs_http_client_new(&s->client, &o)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    gcs_genesys_session_free(s);
    return rc;
}

void gcs_genesys_session_free(gcs_genesys_session *s)
{
    if (!s)
        return;
    gcs_http_client_free(s->client);
    gcs_token_free(s->token);
    free(s->api_url);
    free(s->login_url);
    free(s);
}
