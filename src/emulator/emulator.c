/* The emulator's front door: lifecycle, the request dispatcher (latency, token,
 * window, faults, routing, stats) and the helpers every route answers with. */
#include "emulator/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

void gcs_emu_options_init(gcs_emu_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->config.token_ttl_s = 86400;
    opts->config.rate_limit = 300;
    opts->config.rate_window_s = 60;
    opts->config.version_conflict_status = 400;
    opts->synthetic_inactive_every = 10;
}

static void seed_rngs(gcs_emu *emu)
{
    emu->rng_ids = emu->seed ^ 0x1d5ULL;
    emu->rng_faults = emu->seed ^ 0xfa17ULL;
    emu->rng_writer = emu->seed ^ 0x3e1eULL;
    emu->rng_latency = emu->seed ^ 0x1a7eULL;
}

int gcs_emu_new(gcs_emu **out, const gcs_emu_options *opts, const json_t *seed)
{
    int rc = 0;
    *out = NULL;
    gcs_emu *emu = calloc(1, sizeof *emu);
    GCS_CHECK_ALLOC(emu);
    /* Adaptive: critical sections are a few microseconds; spinning briefly
     * beats sleeping in the kernel when the pool's threads collide. */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&emu->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    emu->config = opts->config;
    gcs_emu_map_init(&emu->tokens);
    emu->stats.routes = json_object();
    if (opts->nclients == 0) {
        emu->clients[0].id = strdup(GCS_EMU_DEFAULT_CLIENT_ID);
        emu->clients[0].secret = strdup(GCS_EMU_DEFAULT_CLIENT_SECRET);
        emu->nclients = 1;
    }
    for (int i = 0; i < opts->nclients && i < GCS_EMU_MAX_CLIENTS; i++) {
        emu->clients[i].id = strdup(opts->clients[i].id);
        emu->clients[i].secret = strdup(opts->clients[i].secret);
        emu->clients[i].scopes = opts->clients[i].scopes ? strdup(opts->clients[i].scopes) : NULL;
        emu->nclients++;
    }
    emu->seed = opts->seed;
    if (!opts->seeded && getrandom(&emu->seed, sizeof emu->seed, 0) != sizeof emu->seed)
        emu->seed = (uint64_t)gcs_time_wall_ms();
    seed_rngs(emu);
    snprintf(emu->base_url, sizeof emu->base_url, "%s",
             opts->base_url ? opts->base_url : "http://127.0.0.1");
    emu->seed_doc = seed ? gcs_emu_json_copy(seed) : json_object();
    emu->user_schemas = json_pack("[sss]", SCIM_USER_SCHEMA, SCIM_ENTERPRISE, SCIM_GENESYS);
    emu->synthetic_users = opts->synthetic_users;
    emu->synthetic_inactive_every = opts->synthetic_inactive_every;
    emu->synthetic_marker = opts->synthetic_marker ? strdup(opts->synthetic_marker) : NULL;
    emu->generated_fields = opts->generated_fields;
    bool clients_copied = true;
    for (int i = 0; i < emu->nclients; i++)
        clients_copied &= emu->clients[i].id && emu->clients[i].secret &&
                          (emu->clients[i].scopes || !opts->nclients || !opts->clients[i].scopes);
    if (!emu->stats.routes || !emu->seed_doc || !emu->user_schemas || !clients_copied) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = gcs_emu_org_load(emu, emu->seed_doc)) < 0)
        goto out;
    *out = emu;
    emu = NULL;
out:
    gcs_emu_free(emu);
    return rc;
}

void gcs_emu_free(gcs_emu *emu)
{
    if (!emu)
        return;
    gcs_emu_org_release(&emu->org);
    gcs_emu_tokens_clear(emu);
    gcs_emu_map_release(&emu->tokens);
    for (int i = 0; i < emu->nclients; i++) {
        free(emu->clients[i].id);
        free(emu->clients[i].secret);
        free(emu->clients[i].scopes);
    }
    json_decref(emu->stats.routes);
    json_decref(emu->seed_doc);
    json_decref(emu->user_schemas);
    free(emu->synthetic_marker);
    pthread_mutex_destroy(&emu->lock);
    free(emu);
}

void gcs_emu_set_base_url(gcs_emu *emu, const char *base_url)
{
    pthread_mutex_lock(&emu->lock);
    snprintf(emu->base_url, sizeof emu->base_url, "%s", base_url);
    /* Locations were made with the old base: rebuild them. */
    json_t *seed = json_incref(emu->seed_doc);
    gcs_emu_org_load(emu, seed);
    json_decref(seed);
    pthread_mutex_unlock(&emu->lock);
}

json_t *gcs_emu_state(gcs_emu *emu)
{
    gcs_buf b;
    gcs_buf_init(&b, EMU_STATE_MAX);
    pthread_mutex_lock(&emu->lock);
    int rc = gcs_emu_org_write(emu, &b);
    pthread_mutex_unlock(&emu->lock);
    json_t *j = rc == 0 ? json_loadb(b.ptr, b.len, 0, NULL) : NULL;
    gcs_buf_release(&b);
    return j;
}

/* ==== Answers ==== */

void gcs_emu_send_raw(emu_req *r, int status, const char *json_text)
{
    gcs_http_response_set(r->resp, status,
                          r->scim ? "application/scim+json; charset=utf-8"
                                  : "application/json; charset=utf-8",
                          json_text);
}

void gcs_emu_send_json(emu_req *r, int status, json_t *body)
{
    char *text = body ? gcs_emu_json_text(body) : NULL;
    gcs_emu_send_raw(r, status, text ? text : "");
    free(text);
    json_decref(body);
}

void gcs_emu_scim_error(emu_req *r, int status, const char *scim_type, const char *fmt, ...)
{
    char detail[512], st[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(st, sizeof st, "%d", status);
    json_t *j = json_pack("{s:[s],s:s,s:s}", "schemas", SCIM_ERROR_SCHEMA, "status", st,
                          "detail", detail);
    if (j && scim_type)
        json_object_set_new(j, "scimType", json_string(scim_type));
    gcs_emu_send_json(r, status, j);
}

void gcs_emu_genesys_error(emu_req *r, int status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:[],s:[]}", "message", message, "code", code,
                          "status", status, "contextId", r->correlation, "details", "errors");
    bool scim = r->scim;
    r->scim = false;
    gcs_emu_send_json(r, status, j);
    r->scim = scim;
}

static void send_error(emu_req *r, int status, const char *scim_type, const char *code,
                       const char *msg)
{
    if (r->scim)
        gcs_emu_scim_error(r, status, scim_type, "%s", msg);
    else
        gcs_emu_genesys_error(r, status, code, "%s", msg);
}

static bool content_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

json_t *gcs_emu_parse_body(emu_req *r, bool form_ok)
{
    const char *ct = gcs_http_request_header(r->http, "Content-Type");
    if (ct && !content_type_is(ct, "application/json") &&
        !content_type_is(ct, "application/scim+json") &&
        !(form_ok && content_type_is(ct, "application/x-www-form-urlencoded"))) {
        send_error(r, 415, "invalidSyntax", "unsupported.media.type",
                   "unsupported content type; use application/scim+json or application/json");
        return NULL;
    }
    json_error_t jerr;
    json_t *j;
    if (r->preparsed) {
        j = r->pre;
        r->pre = NULL;
        if (!j)
            snprintf(jerr.text, sizeof jerr.text, "%s", r->pre_err);
    } else {
        j = json_loadb(r->http->body, r->http->body_len, 0, &jerr);
    }
    if (!j || !json_is_object(j)) {
        char msg[300];
        snprintf(msg, sizeof msg, "request body is not a JSON object: %s",
                 j ? "wrong type" : jerr.text);
        json_decref(j);
        send_error(r, 400, "invalidSyntax", "bad.request", msg);
        return NULL;
    }
    return j;
}

void gcs_emu_now_iso(char out[32])
{
    /* gcs_time_format_iso8601's %04d-%02d-%02dT%02d:%02d:%02d.%03dZ, without
     * snprintf: every write stamps meta. */
    int64_t ms = gcs_time_wall_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char *p = gcs_emu_put_dec(out, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = gcs_emu_put_dec(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = gcs_emu_put_dec(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = gcs_emu_put_dec(p, tm.tm_hour, 2);
    *p++ = ':';
    p = gcs_emu_put_dec(p, tm.tm_min, 2);
    *p++ = ':';
    p = gcs_emu_put_dec(p, tm.tm_sec, 2);
    *p++ = '.';
    p = gcs_emu_put_dec(p, (long)(ms % 1000), 3);
    *p++ = 'Z';
    *p = '\0';
}

/* ==== Dispatch ==== */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool segment_is(const char *s, const char *word, const char **rest)
{
    size_t n = strlen(word);
    if (strncasecmp(s, word, n) != 0 || (s[n] != '\0' && s[n] != '/'))
        return false;
    *rest = s + n;
    return true;
}

/* The scopes a route needs, as genesys-api.md lists them. */
static bool scopes_ok(emu_req *r, const char *rest)
{
    bool read = strcmp(r->http->method, "GET") == 0 || strcmp(r->http->method, "HEAD") == 0;
    static const char *const scim_r[] = {"scim", "scim:readonly", NULL};
    static const char *const scim_w[] = {"scim", NULL};
    static const char *const groups_r[] = {"groups", "groups:readonly", NULL};
    static const char *const groups_w[] = {"groups", NULL};
    static const char *const auth_r[] = {"authorization", "authorization:readonly", NULL};
    static const char *const auth_w[] = {"authorization", NULL};
    static const char *const routing_r[] = {"routing", "routing:readonly", NULL};
    if (!r->token || !r->token->scopes[0])
        return true;
    if (strncmp(rest, "/scim/", 6) == 0)
        return gcs_emu_scope_check(r, read ? scim_r : scim_w);
    if (strncmp(rest, "/groups", 7) == 0)
        return gcs_emu_scope_check(r, read ? groups_r : groups_w);
    if (strncmp(rest, "/authorization/", 15) == 0)
        return gcs_emu_scope_check(r, read ? auth_r : auth_w);
    if (strncmp(rest, "/routing/", 9) == 0)
        return gcs_emu_scope_check(r, routing_r);
    return true;
}

static void route_api(emu_req *r, const char *rest)
{
    const char *tail;
    if (!scopes_ok(r, rest))
        return;
    if (starts_with(rest, "/scim/")) {
        const char *s = rest + 6;
        if (starts_with(s, "v2/"))
            s += 3;
        r->scim = true;
        if (segment_is(s, "users", &tail))
            gcs_emu_scim_users(r, tail);
        else if (segment_is(s, "groups", &tail))
            gcs_emu_scim_groups(r, tail);
        else
            gcs_emu_scim_meta(r, s);
        return;
    }
    gcs_emu_platform(r, rest);
}

static void add_headers(emu_req *r)
{
    gcs_http_response_header(r->resp, "ININ-Correlation-Id", r->correlation);
    /* A skewed clock (--clock-skew): the server's own Date is then left out. */
    if (r->emu->config.clock_skew_s) {
        char date[64];
        time_t t = time(NULL) + (time_t)r->emu->config.clock_skew_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        gcs_http_response_header(r->resp, "Date", date);
    }
    if (r->window) {
        char v[32];
        *gcs_emu_put_dec(v, r->rl_count, 1) = '\0';
        gcs_http_response_header(r->resp, "inin-ratelimit-count", v);
        *gcs_emu_put_dec(v, r->rl_allowed, 1) = '\0';
        gcs_http_response_header(r->resp, "inin-ratelimit-allowed", v);
        *gcs_emu_put_dec(v, r->rl_reset, 1) = '\0';
        gcs_http_response_header(r->resp, "inin-ratelimit-reset", v);
    }
}

/* The stats key of a request: a fixed set of names, whatever the client sends,
 * so that the stats cannot grow without bound. */
static const char *method_name(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", NULL};
    for (size_t i = 0; m && known[i]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "OTHER";
}

static const char *classify(const char *rest)
{
    static const struct {
        const char *prefix, *collection, *item;
    } routes[] = {
        {"/scim/v2/users", "/api/v2/scim/users", "/api/v2/scim/users/{id}"},
        {"/scim/users", "/api/v2/scim/users", "/api/v2/scim/users/{id}"},
        {"/scim/v2/groups", "/api/v2/scim/groups", "/api/v2/scim/groups/{id}"},
        {"/scim/groups", "/api/v2/scim/groups", "/api/v2/scim/groups/{id}"},
        {"/groups", "/api/v2/groups", "/api/v2/groups/{id}"},
        {"/authorization/subjects", "/api/v2/authorization/subjects", "/api/v2/authorization/subjects/{id}"},
        {"/authorization/roles", "/api/v2/authorization/roles", "/api/v2/authorization/roles/{id}"},
        {"/authorization/divisions", "/api/v2/authorization/divisions", "/api/v2/authorization/divisions/{id}"},
        {"/routing/skills", "/api/v2/routing/skills", "/api/v2/routing/skills/{id}"},
        {"/routing/languages", "/api/v2/routing/languages", "/api/v2/routing/languages/{id}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        size_t n = strlen(routes[i].prefix);
        if (strncasecmp(rest, routes[i].prefix, n) != 0)
            continue;
        if (rest[n] == '\0' || strcmp(rest + n, "/") == 0)
            return routes[i].collection;
        if (rest[n] == '/' && strcmp(routes[i].prefix, "/authorization/roles") == 0 &&
            strchr(rest + n + 1, '/') && strcmp(strchr(rest + n + 1, '/'), "/users") == 0)
            return "/api/v2/authorization/roles/{id}/users";
        if (rest[n] == '/')
            return routes[i].item;
    }
    if (strncmp(rest, "/scim/", 6) == 0)
        return "/api/v2/scim/(other)";
    return "(unknown)";
}

static void record(emu_req *r)
{
    gcs_emu *emu = r->emu;
    char key[160], st[8];
    /* Once per request: plain copies, not snprintf. */
    const char *m = method_name(r->http->method), *rname = r->route ? r->route : "(unknown)";
    size_t ml = strlen(m), rl = strlen(rname);
    if (ml + 1 + rl >= sizeof key)
        rl = sizeof key - ml - 2;
    memcpy(key, m, ml);
    key[ml] = ' ';
    memcpy(key + ml + 1, rname, rl);
    key[ml + 1 + rl] = '\0';
    if (r->resp->drop) {
        memcpy(st, "drop", 5);
    } else {
        int s = r->resp->status;
        st[0] = (char)('0' + s / 100 % 10);
        st[1] = (char)('0' + s / 10 % 10);
        st[2] = (char)('0' + s % 10);
        st[3] = '\0';
    }
    json_t *route = json_object_get(emu->stats.routes, key);
    if (!route) {
        route = json_object();
        json_object_set_new(emu->stats.routes, key, route);
    }
    json_t *n = json_object_get(route, st);
    json_object_set_new(route, st, json_integer(n ? json_integer_value(n) + 1 : 1));
    emu->stats.requests++;
}

static void handle_api(emu_req *r, const char *rest)
{
    gcs_emu *emu = r->emu;
    if (r->http->body_len > 0) {
        r->pre = gcs_emu_json_parse_fast(r->http->body, r->http->body_len);
        if (!r->pre) {
            json_error_t jerr;
            r->pre = json_loadb(r->http->body, r->http->body_len, 0, &jerr);
            if (!r->pre)
                snprintf(r->pre_err, sizeof r->pre_err, "%s", jerr.text);
        }
        r->preparsed = true;
    }
    r->route = classify(rest);
    pthread_mutex_lock(&emu->lock);
    /* The delay is drawn with the rest and served after the lock is released:
     * the client sees the same latency, and other requests do not queue. */
    int delay = gcs_emu_latency_draw(emu);
    emu_token *tok = gcs_emu_oauth_check(r);
    r->token = tok;
    if (tok && gcs_emu_ratelimit_admit(r, tok)) {
        emu_fault_plan plan = gcs_emu_fault_draw(emu);
        if (plan.fault == EMU_FAULT_NONE || plan.after)
            route_api(r, rest);
        if (plan.fault != EMU_FAULT_NONE)
            gcs_emu_fault_apply(r, plan.fault);
    }
    add_headers(r);
    record(r);
    pthread_mutex_unlock(&emu->lock);
    json_decref(r->pre);
    r->pre = NULL;
    if (delay > 0)
        gcs_time_sleep_ms(delay);
}

void gcs_emu_handle(gcs_http_response *out, const gcs_http_request *req, void *payload)
{
    gcs_emu *emu = payload;
    emu_req r;
    memset(&r, 0, sizeof r);
    r.emu = emu;
    r.http = req;
    r.resp = out;
    unsigned long c = atomic_fetch_add(&emu->correlation, 1);
    /* %08x-%04x-4%03x-a%03x-%012lx of the seed and the counter */
    char *p = gcs_emu_put_hex(r.correlation, emu->seed >> 32, 8);
    *p++ = '-';
    p = gcs_emu_put_hex(p, emu->seed >> 16, 4);
    *p++ = '-';
    *p++ = '4';
    p = gcs_emu_put_hex(p, emu->seed, 3);
    *p++ = '-';
    *p++ = 'a';
    p = gcs_emu_put_hex(p, c >> 48, 3);
    *p++ = '-';
    p = gcs_emu_put_hex(p, c, 12);
    *p = '\0';
    const char *path = req->path ? req->path : "/";
    if (!req->method)
        return (void)gcs_http_response_set(out, 400, NULL, NULL);

    if (starts_with(path, "/_emulator/") && !req->body_too_large) {
        pthread_mutex_lock(&emu->lock);
        gcs_emu_admin(&r, path + 11);
        pthread_mutex_unlock(&emu->lock);
        add_headers(&r);
        return;
    }

    long now = atomic_fetch_add(&emu->in_flight, 1) + 1;
    long max = atomic_load(&emu->max_in_flight);
    while (now > max && !atomic_compare_exchange_weak(&emu->max_in_flight, &max, now))
        ;
    if (req->body_too_large) {
        r.route = "(body too large)";
        r.scim = starts_with(path, "/api/v2/scim/");
        send_error(&r, 413, "invalidSyntax", "request.entity.too.large",
                   "request body is over 512000 bytes");
        pthread_mutex_lock(&emu->lock);
        add_headers(&r);
        record(&r);
        pthread_mutex_unlock(&emu->lock);
    } else if (strcmp(path, "/oauth/token") == 0) {
        r.route = "/oauth/token";
        pthread_mutex_lock(&emu->lock);
        gcs_emu_oauth_token(&r);
        add_headers(&r);
        record(&r);
        pthread_mutex_unlock(&emu->lock);
    } else if (starts_with(path, "/api/v2/")) {
        handle_api(&r, path + 7);
    } else {
        r.route = "(unknown)";
        gcs_emu_genesys_error(&r, 404, "not.found", "no such resource: %s", path);
        pthread_mutex_lock(&emu->lock);
        add_headers(&r);
        record(&r);
        pthread_mutex_unlock(&emu->lock);
    }
    atomic_fetch_sub(&emu->in_flight, 1);
    if (gcs_log_enabled(GCS_LOG_DEBUG)) {
        char st[16];
        snprintf(st, sizeof st, out->drop ? "drop" : "%d", out->status);
        GCS_DEBUG("emulator.request", "method", req->method, "path", path, "status", st,
                  "correlation", r.correlation);
    }
}
