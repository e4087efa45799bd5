/* OAuth 2.0 client credentials: POST /oauth/token, and the bearer check every
 * API call goes through. Tokens are random, kept in a hash map with their
 * expiry and their rate limit window. */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/redact.h"
#include "core/time.h"

#define MAX_TOKENS 10000
#define MAX_CRED 512

static void oauth_error(emu_req *r, int status, const char *error, const char *description)
{
    json_t *j = json_pack("{s:s,s:s,s:s}", "error", error, "description", description,
                          "error_description", description);
    r->scim = false;
    gcs_emu_send_json(r, status, j);
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 into out (NUL-terminated); false when malformed or too long. */
static bool b64decode(char *out, size_t outsz, const char *in)
{
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        int v = b64val(*in);
        if (v < 0)
            return false;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= outsz)
                return false;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    return strlen(out) == n; /* no NUL inside */
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Finds `name` in a form body and decodes its value into out. */
static bool form_value(char *out, size_t outsz, const char *body, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t n = 0;
            for (const char *q = p + nlen + 1; q < stop && n + 1 < outsz; q++) {
                if (*q == '+')
                    out[n++] = ' ';
                else if (*q == '%' && q + 2 < stop && hexv(q[1]) >= 0 && hexv(q[2]) >= 0) {
                    out[n++] = (char)(hexv(q[1]) * 16 + hexv(q[2]));
                    q += 2;
                } else
                    out[n++] = *q;
            }
            out[n] = '\0';
            return true;
        }
        p = stop + 1;
    }
    return false;
}

static int client_find(gcs_emu *emu, const char *id, const char *secret)
{
    for (int i = 0; i < emu->nclients; i++)
        if (strcmp(emu->clients[i].id, id) == 0 && strcmp(emu->clients[i].secret, secret) == 0)
            return i;
    return -1;
}

bool gcs_emu_scope_check(emu_req *r, const char *const *any_of)
{
    char want[64], list[160] = "";
    for (size_t i = 0; any_of[i]; i++) {
        snprintf(want, sizeof want, ",%s,", any_of[i]);
        if (strstr(r->token->scopes, want))
            return true;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", any_of[i]);
    }
    gcs_emu_genesys_error(r, 403, "missing.any.scopes",
                          "Unable to perform the requested action. You are missing the following scope(s): %s",
                          list);
    return false;
}

void gcs_emu_tokens_clear(gcs_emu *emu)
{
    emu_map *m = &emu->tokens;
    for (size_t i = 0; i < m->nbuckets; i++)
        for (emu_map_entry *e = m->buckets[i]; e; e = e->next)
            free(e->value);
    gcs_emu_map_release(m);
}

static void purge_expired(gcs_emu *emu, int64_t now)
{
    emu_map *m = &emu->tokens;
    for (size_t i = 0; i < m->nbuckets; i++) {
        emu_map_entry **p = &m->buckets[i];
        while (*p) {
            emu_map_entry *e = *p;
            emu_token *t = e->value;
            if (t->expires_ms <= now) {
                *p = e->next;
                free(t);
                free(e);
                m->count--;
            } else {
                p = &e->next;
            }
        }
    }
}

void gcs_emu_oauth_token(emu_req *r)
{
    gcs_emu *emu = r->emu;
    const gcs_http_request *h = r->http;
    char id[MAX_CRED] = "", secret[MAX_CRED] = "", grant[64] = "", creds[2 * MAX_CRED];
    if (strcmp(h->method, "POST") != 0) {
        gcs_emu_genesys_error(r, 405, "method.not.allowed", "use POST for /oauth/token");
        return;
    }
    const char *auth = gcs_http_request_header(h, "Authorization");
    if (auth && strncasecmp(auth, "Basic ", 6) == 0) {
        const char *colon;
        if (!b64decode(creds, sizeof creds, auth + 6) || !(colon = strchr(creds, ':')) ||
            (size_t)(colon - creds) >= sizeof id) {
            oauth_error(r, 401, "invalid_client", "malformed basic credentials");
            return;
        }
        memcpy(id, creds, (size_t)(colon - creds));
        id[colon - creds] = '\0';
        snprintf(secret, sizeof secret, "%s", colon + 1);
    } else {
        /* Unconfirmed on the real service; accepted here (be liberal). */
        form_value(id, sizeof id, h->body, h->body_len, "client_id");
        form_value(secret, sizeof secret, h->body, h->body_len, "client_secret");
    }
    if (!*id) {
        oauth_error(r, 401, "invalid_client", "client credentials are missing");
        return;
    }
    int client = client_find(emu, id, secret);
    if (client < 0) {
        oauth_error(r, 401, "invalid_client", "client not found or secret does not match");
        return;
    }
    if (!form_value(grant, sizeof grant, h->body, h->body_len, "grant_type")) {
        oauth_error(r, 400, "invalid_request", "grant_type is missing");
        return;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        oauth_error(r, 400, "unsupported_grant_type", "only client_credentials is supported");
        return;
    }

    int64_t now = gcs_time_mono_ms();
    if (emu->tokens.count >= MAX_TOKENS)
        purge_expired(emu, now);
    if (emu->tokens.count >= MAX_TOKENS)
        gcs_emu_tokens_clear(emu);
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw)
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (unsigned char)gcs_emu_rand(&emu->rng_ids);
    char token[2 * sizeof raw + 1];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    emu_token *t = calloc(1, sizeof *t);
    if (!t || gcs_emu_map_put(&emu->tokens, token, t) < 0) {
        free(t);
        gcs_emu_genesys_error(r, 500, "internal.server.error", "out of memory");
        return;
    }
    t->expires_ms = now + emu->config.token_ttl_s * 1000;
    t->window_start_ms = now;
    snprintf(t->client, sizeof t->client, "%s", id);
    t->client_index = client;
    if (emu->clients[client].scopes) {
        /* ",a,b," so that a lookup is one strstr. */
        snprintf(t->scopes, sizeof t->scopes, ",%s,", emu->clients[client].scopes);
        for (char *p = t->scopes; *p; p++)
            if (*p == ' ')
                *p = ',';
    }
    gcs_redact_register_token(token);
    emu->stats.tokens_issued++;
    json_t *j = json_pack("{s:s,s:s,s:I}", "access_token", token, "token_type", "bearer",
                          "expires_in", (json_int_t)emu->config.token_ttl_s);
    gcs_emu_send_json(r, 200, j);
}

emu_token *gcs_emu_oauth_check(emu_req *r)
{
    const char *auth = gcs_http_request_header(r->http, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        gcs_emu_genesys_error(r, 401, "authentication.required",
                              "No authentication bearer token specified in authorization header.");
        return NULL;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    emu_token *t = gcs_emu_map_get(&r->emu->tokens, tok);
    if (t && t->expires_ms <= gcs_time_mono_ms()) {
        gcs_emu_map_remove(&r->emu->tokens, tok);
        free(t);
        t = NULL;
    }
    if (!t) {
        gcs_emu_genesys_error(r, 401, "bad.credentials", "Invalid login credentials.");
        return NULL;
    }
    return t;
}
