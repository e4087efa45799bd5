#include "genesys/session.h"
#include "core/error.h"
#include "genesys/region.h"

#include <stdlib.h>
#include <string.h>

int gcs_session_open(gcs_session *s, const gcs_config *cfg)
{
    memset(s, 0, sizeof *s);
    const char *id = gcs_config_get(cfg, GCS_CFG_CLIENT_ID);
    const char *secret = gcs_config_get(cfg, GCS_CFG_CLIENT_SECRET);
    int rc = gcs_region_resolve(&s->api_url, &s->login_url, gcs_config_get(cfg, GCS_CFG_REGION),
                                gcs_config_get(cfg, GCS_CFG_API_URL),
                                gcs_config_get(cfg, GCS_CFG_LOGIN_URL));
    if (rc < 0)
        goto fail;
    if (!id || !*id || !secret || !*secret) {
        rc = gcs_error_set(GCS_EAUTH, "no OAuth client configured: set GENESYSCLOUD_OAUTHCLIENT_ID "
                                      "and GENESYSCLOUD_OAUTHCLIENT_SECRET");
        goto fail;
    }
    if ((rc = gcs_token_new(&s->token, id, secret)) < 0)
        goto fail;
    gcs_http_client_options o;
    memset(&o, 0, sizeof o);
    o.api_url = s->api_url;
    o.login_url = s->login_url;
    o.max_in_flight = (int)gcs_config_get_long(cfg, GCS_CFG_MAX_IN_FLIGHT);
    o.max_rps = strtod(gcs_config_get(cfg, GCS_CFG_MAX_RPS) ? gcs_config_get(cfg, GCS_CFG_MAX_RPS)
                                                             : "0",
                       NULL);
    o.timeout_ms = (int)(gcs_config_get_long(cfg, GCS_CFG_TIMEOUT) * 1000);
    o.ca_bundle = gcs_config_get(cfg, GCS_CFG_CA_BUNDLE);
    o.auth = gcs_token_auth(s->token);
    if ((rc = gcs_http_client_new(&s->client, &o)) < 0)
        goto fail;
    return 0;
fail:
    gcs_session_release(s);
    return rc;
}

int gcs_session_login(gcs_session *s)
{
    return gcs_token_ensure(s->token, s->client);
}

void gcs_session_release(gcs_session *s)
{
    gcs_http_client_free(s->client);
    gcs_token_free(s->token);
    free(s->api_url);
    free(s->login_url);
    memset(s, 0, sizeof *s);
}
