#include "genesys/token.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"

#define CRED_MAX               512
#define TOKEN_MAX              8192
#define LEAD_MAX_US            (60LL * 1000000)
#define RETRY_AFTER_FAILURE_US (1000LL * 1000)

struct gcs_token {
    char *basic_header; /* "Authorization: Basic <base64(id:secret)>" */
    char *token;        /* NULL when none */
    int64_t refresh_us; /* fetch a new one from here on */
    int64_t expires_us; /* never send it from here on */
    bool stale;         /* refused by the API */
    bool fetching;
    int fail_code; /* 0, GCS_EAUTH (final) or the last fetch's error */
    char fail_msg[400];
    int64_t failed_us;
    gcs_token_stats st;
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int gcs_token_new(gcs_token **out, const char *client_id, const char *client_secret)
{
    int rc = 0;
    char *pair = NULL;
    gcs_token *t = NULL;
    *out = NULL;
    if (!client_id || !*client_id || !client_secret || !*client_secret) {
        rc = gcs_error_set(GCS_EINVALID, "oauth client id and secret are both required");
        goto out;
    }
    if (strlen(client_id) > CRED_MAX || strlen(client_secret) > CRED_MAX ||
        strchr(client_id, ':') || strpbrk(client_id, "\r\n") || strpbrk(client_secret, "\r\n")) {
        rc = gcs_error_set(GCS_EINVALID, "oauth client id or secret is malformed");
        goto out;
    }
    gcs_redact_register(client_secret);
    t = calloc(1, sizeof *t);
    size_t n = strlen(client_id) + 1 + strlen(client_secret);
    pair = malloc(n + 1);
    size_t b64 = 4 * ((n + 2) / 3) + 1;
    size_t hl = sizeof "Authorization: Basic " + b64;
    if (t)
        t->basic_header = malloc(hl);
    if (!t || !pair || !t->basic_header) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(pair, n + 1, "%s:%s", client_id, client_secret);
    int w = snprintf(t->basic_header, hl, "Authorization: Basic ");
    EVP_EncodeBlock((unsigned char *)t->basic_header + w, (const unsigned char *)pair, (int)n);
    gcs_redact_register(t->basic_header + w);
    t->st.expires_in_ms = -1;
    *out = t;
    t = NULL;
out:
    wipe_free(pair);
    gcs_token_free(t);
    return rc;
}

void gcs_token_free(gcs_token *t)
{
    if (!t)
        return;
    wipe_free(t->basic_header);
    wipe_free(t->token);
    free(t);
}

/* ==== Fetching ==== */

static void on_token(const gcs_http_client_response *res, void *payload)
{
    gcs_token *t = payload;
    int64_t now = gcs_time_mono_us();
    t->fetching = false;
    const char *tok = json_string_value(json_object_get(res->json, "access_token"));
    if (res->status == 200 && tok && *tok && strlen(tok) <= TOKEN_MAX) {
        json_t *ei = json_object_get(res->json, "expires_in");
        int64_t life_s = json_is_integer(ei) ? (int64_t)json_integer_value(ei)
                         : json_is_real(ei)  ? (int64_t)json_real_value(ei)
                                             : 86400;
        if (life_s <= 0)
            life_s = 1;
        int64_t life = life_s * 1000000;
        int64_t lead = life / 5 < LEAD_MAX_US ? life / 5 : LEAD_MAX_US;
        char *copy = strdup(tok);
        if (!copy) {
            t->fail_code = GCS_ENOMEM;
            snprintf(t->fail_msg, sizeof t->fail_msg, "out of memory");
            t->failed_us = now;
            t->st.failures++;
            return;
        }
        gcs_redact_register_token(copy);
        wipe_free(t->token);
        t->token = copy;
        /* The lifetime runs from when the service issued it, some time after
         * our first attempt was sent: counting from then errs on the early
         * side. Keep a margin for a request's own trip so that it is not
         * refused on arrival. */
        int64_t issued = now - res->latency_ms * 1000;
        t->refresh_us = issued + life - lead;
        t->expires_us = issued + life - (lead / 2 < 1000000 ? lead / 2 : 1000000);
        t->stale = false;
        t->fail_code = 0;
        t->st.obtained++;
        char life_str[24];
        snprintf(life_str, sizeof life_str, "%lld", (long long)life_s);
        GCS_DEBUG("token.obtained", "expires_in", life_str);
        return;
    }
    t->failed_us = now;
    t->st.failures++;
    if (res->status == 400 || res->status == 401) {
        t->fail_code = GCS_EAUTH;
        snprintf(t->fail_msg, sizeof t->fail_msg,
                 "oauth credentials rejected by the login service (HTTP %d%s%s)", res->status,
                 res->scim_type ? ": " : "", res->scim_type ? res->scim_type : "");
    } else if (res->status == 200) {
        t->fail_code = GCS_ERROR;
        snprintf(t->fail_msg, sizeof t->fail_msg,
                 "the login service answered without a usable access_token");
    } else {
        t->fail_code = res->error ? res->error : GCS_ERROR;
        snprintf(t->fail_msg, sizeof t->fail_msg, "the login service gave no access token: %s",
                 res->message);
    }
    GCS_WARN("token.failed", "message", t->fail_msg);
}

static int start_fetch(gcs_token *t, gcs_http_client *c)
{
    const char *headers[] = {t->basic_header, NULL};
    gcs_http_client_request req = {
        .method = "POST",
        .path = "/oauth/token",
        .body = "grant_type=client_credentials",
        .content_type = "application/x-www-form-urlencoded",
        .idempotent = 1, /* asking again for a token has no side effect */
        .flags = GCS_HTTP_REQ_LOGIN,
        .headers = headers,
        .sensitive = true, /* the answer is a token; the header, the credential */
    };
    int rc = gcs_http_submit(c, &req, on_token, t);
    if (rc == 0)
        t->fetching = true;
    return rc;
}

static int token_get(const char **out, gcs_http_client *c, void *payload)
{
    gcs_token *t = payload;
    int64_t now = gcs_time_mono_us();
    *out = NULL;
    /* Rejected credentials and a daily limit are final: asking again would
     * only be refused again. */
    if (t->fail_code == GCS_EAUTH || t->fail_code == GCS_EDAILYLIMIT)
        return gcs_error_set(t->fail_code, "%s", t->fail_msg);
    bool failed_recently = t->fail_code && now - t->failed_us < RETRY_AFTER_FAILURE_US;
    if (t->token && !t->stale && now < t->expires_us) {
        if (now >= t->refresh_us && !t->fetching && !failed_recently)
            (void)start_fetch(t, c); /* ahead of time; the old one still serves */
        *out = t->token;
        return 0;
    }
    if (t->fetching)
        return 1;
    if (failed_recently)
        return gcs_error_set(t->fail_code, "%s", t->fail_msg);
    int rc = start_fetch(t, c);
    return rc < 0 ? rc : 1;
}

static void token_rejected(const char *token, void *payload)
{
    gcs_token *t = payload;
    if (t->token && token && strcmp(t->token, token) == 0 && !t->stale) {
        t->stale = true;
        t->st.rejected++;
        GCS_DEBUG("token.rejected");
    }
}

gcs_http_auth gcs_token_auth(gcs_token *t)
{
    return (gcs_http_auth){.get = token_get, .rejected = token_rejected, .payload = t};
}

int gcs_token_ensure(gcs_token *t, gcs_http_client *c)
{
    for (;;) {
        const char *tok;
        int rc = token_get(&tok, c, t);
        if (rc <= 0)
            return rc;
        gcs_http_run_once(c, 1000);
    }
}

void gcs_token_get_stats(gcs_token_stats *out, const gcs_token *t)
{
    *out = t->st;
    out->expires_in_ms = -1;
    if (t->token && !t->stale) {
        int64_t left = t->expires_us - gcs_time_mono_us();
        out->expires_in_ms = left > 0 ? left / 1000 : 0;
    }
}
