/* The private admin routes under /_emulator/ (never on the real service's
 * paths): state, reset, stats, revoke-tokens, config. They need no token, are
 * not rate limited and never fault. The caller holds emu->lock. */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/time.h"

int gcs_emu_parse_rate(const char *text, int *out_n, int *out_seconds)
{
    char *end;
    long n = strtol(text, &end, 10);
    long s = 60;
    if (end == text || n < 0 || n > 1000000000)
        goto bad;
    if (*end == '/') {
        const char *p = end + 1;
        s = strtol(p, &end, 10);
        if (end == p || s < 1 || s > 86400)
            goto bad;
    }
    if (*end)
        goto bad;
    *out_n = (int)n;
    *out_seconds = (int)s;
    return 0;
bad:
    return gcs_error_set(GCS_EINVALID, "bad rate limit '%s' (want N/SECONDS, or 0 for none)", text);
}

int gcs_emu_parse_latency(const char *text, int *out_ms, int *out_jitter_ms)
{
    char *end;
    long ms = strtol(text, &end, 10), j = 0;
    if (end == text || ms < 0 || ms > 600000)
        goto bad;
    if (*end == ':') {
        const char *p = end + 1;
        j = strtol(p, &end, 10);
        if (end == p || j < 0 || j > 600000)
            goto bad;
    }
    if (*end)
        goto bad;
    *out_ms = (int)ms;
    *out_jitter_ms = (int)j;
    return 0;
bad:
    return gcs_error_set(GCS_EINVALID, "bad latency '%s' (want MS[:JITTER_MS])", text);
}

static json_t *config_json(const gcs_emu *emu)
{
    const gcs_emu_config *c = &emu->config;
    char rate[32];
    if (c->rate_limit > 0)
        snprintf(rate, sizeof rate, "%d/%d", c->rate_limit, c->rate_window_s);
    else
        snprintf(rate, sizeof rate, "0");
    json_t *kinds = json_array();
    static const char *const names[] = {"500", "502", "503", "504", "drop"};
    unsigned bits = c->fault_kinds ? c->fault_kinds : GCS_EMU_FAULT_ALL;
    for (int i = 0; i < 5; i++)
        if (bits & (1u << i))
            json_array_append_new(kinds, json_string(names[i]));
    return json_pack("{s:f,s:o,s:s,s:b,s:b,s:i,s:i,s:i,s:f,s:I,s:i}", "fault_rate", c->fault_rate,
                     "fault_kinds", kinds, "rate_limit", rate, "rate_limit_per_client",
                     c->rate_per_client, "retry_after", !c->no_retry_after,
                     "latency_ms", c->latency_ms,
                     "latency_jitter_ms", c->latency_jitter_ms, "version_conflict_status",
                     c->version_conflict_status, "concurrent_writer", c->concurrent_writer,
                     "token_ttl", (json_int_t)c->token_ttl_s, "max_page",
                     c->max_page ? c->max_page : EMU_MAX_PAGE);
}

static int share(const json_t *v, const char *name, double *out)
{
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
        return gcs_error_set(GCS_EINVALID, "%s must be a number from 0 to 1", name);
    *out = json_number_value(v);
    return 0;
}

int gcs_emu_configure(gcs_emu *emu, const json_t *changes)
{
    int rc = 0;
    gcs_emu_config c = emu->config;
    const char *key;
    json_t *v;
    if (!json_is_object(changes))
        return gcs_error_set(GCS_EINVALID, "config must be a JSON object");
    json_object_foreach((json_t *)changes, key, v) {
        if (strcmp(key, "fault_rate") == 0) {
            rc = share(v, key, &c.fault_rate);
        } else if (strcmp(key, "concurrent_writer") == 0) {
            rc = share(v, key, &c.concurrent_writer);
        } else if (strcmp(key, "fault_kinds") == 0) {
            rc = gcs_emu_fault_kinds_parse(&c.fault_kinds, v);
        } else if (strcmp(key, "rate_limit") == 0) {
            char text[64];
            if (json_is_integer(v))
                snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
            else
                snprintf(text, sizeof text, "%s", json_is_string(v) ? json_string_value(v) : "?");
            rc = gcs_emu_parse_rate(text, &c.rate_limit, &c.rate_window_s);
        } else if (strcmp(key, "latency_ms") == 0) {
            if (json_is_string(v))
                rc = gcs_emu_parse_latency(json_string_value(v), &c.latency_ms, &c.latency_jitter_ms);
            else if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 600000)
                c.latency_ms = (int)json_integer_value(v);
            else
                rc = gcs_error_set(GCS_EINVALID, "latency_ms must be 0 to 600000 or \"MS:JITTER\"");
        } else if (strcmp(key, "latency_jitter_ms") == 0) {
            if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 600000)
                c.latency_jitter_ms = (int)json_integer_value(v);
            else
                rc = gcs_error_set(GCS_EINVALID, "latency_jitter_ms must be 0 to 600000");
        } else if (strcmp(key, "version_conflict_status") == 0) {
            json_int_t s = json_integer_value(v);
            if (!json_is_integer(v) || (s != 400 && s != 409 && s != 412))
                rc = gcs_error_set(GCS_EINVALID, "version_conflict_status must be 400, 409 or 412");
            else
                c.version_conflict_status = (int)s;
        } else if (strcmp(key, "rate_limit_per_client") == 0) {
            if (!json_is_boolean(v))
                rc = gcs_error_set(GCS_EINVALID, "rate_limit_per_client must be true or false");
            else
                c.rate_per_client = json_is_true(v);
        } else if (strcmp(key, "retry_after") == 0) {
            if (!json_is_boolean(v))
                rc = gcs_error_set(GCS_EINVALID, "retry_after must be true or false");
            else
                c.no_retry_after = !json_is_true(v);
        } else if (strcmp(key, "max_page") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > EMU_MAX_PAGE)
                rc = gcs_error_set(GCS_EINVALID, "max_page must be 1 to %d", EMU_MAX_PAGE);
            else
                c.max_page = (int)json_integer_value(v);
        } else if (strcmp(key, "token_ttl") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000000)
                rc = gcs_error_set(GCS_EINVALID, "token_ttl must be 1 to 10000000 seconds");
            else
                c.token_ttl_s = json_integer_value(v);
        } else {
            rc = gcs_error_set(GCS_EINVALID, "unknown config key '%s'", key);
        }
        if (rc < 0)
            return rc;
    }
    emu->config = c;
    return 0;
}

void gcs_emu_stats_reset(gcs_emu *emu)
{
    json_object_clear(emu->stats.routes);
    json_t *routes = emu->stats.routes;
    memset(&emu->stats, 0, sizeof emu->stats);
    emu->stats.routes = routes;
    atomic_store(&emu->max_in_flight, atomic_load(&emu->in_flight));
}

static json_t *stats_json(gcs_emu *emu)
{
    emu_stats *s = &emu->stats;
    return json_pack("{s:I,s:O,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I},s:I,s:o,s:I,s:I}",
                     "requests", (json_int_t)s->requests, "routes", s->routes,
                     "rate_limited", (json_int_t)s->rate_limited, "tokens_issued",
                     (json_int_t)s->tokens_issued, "max_in_flight",
                     (json_int_t)atomic_load(&emu->max_in_flight), "in_flight",
                     (json_int_t)atomic_load(&emu->in_flight), "faults", "500",
                     (json_int_t)s->faults[0], "502", (json_int_t)s->faults[1], "503",
                     (json_int_t)s->faults[2], "504", (json_int_t)s->faults[3], "drop",
                     (json_int_t)s->faults[4], "hidden_writes", (json_int_t)s->hidden_writes,
                     "windows", gcs_emu_ratelimit_windows(emu), "tokens",
                     (json_int_t)emu->tokens.count, "users_examined", (json_int_t)s->users_examined);
}

static void reset_windows(gcs_emu *emu)
{
    int64_t now = gcs_time_mono_ms();
    for (size_t i = 0; i < emu->tokens.nbuckets; i++)
        for (emu_map_entry *e = emu->tokens.buckets[i]; e; e = e->next) {
            emu_token *t = e->value;
            t->window_start_ms = now;
            t->window_count = 0;
        }
}

void gcs_emu_admin(emu_req *r, const char *rest)
{
    gcs_emu *emu = r->emu;
    const char *m = r->http->method;
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
    r->route = "/_emulator";
    if (strcmp(rest, "state") == 0 && get) {
        /* A snapshot taken now, streamed user by user as the client reads
         * it (dump.c): a million users cost a batch of memory, not 850 MiB. */
        if (gcs_emu_dump_start(r) < 0)
            gcs_emu_genesys_error(r, 500, "state.failed", "cannot dump the state: %s",
                                  gcs_error_last());
    } else if (strcmp(rest, "stats") == 0 && get) {
        gcs_emu_send_json(r, 200, stats_json(emu));
    } else if (strcmp(rest, "reset") == 0 && post) {
        json_t *seed = json_incref(emu->seed_doc);
        int rc = gcs_emu_org_load(emu, seed);
        json_decref(seed);
        gcs_emu_stats_reset(emu);
        reset_windows(emu);
        emu->rng_faults = emu->seed ^ 0xfa17ULL;
        emu->rng_writer = emu->seed ^ 0x3e1eULL;
        emu->rng_latency = emu->seed ^ 0x1a7eULL;
        if (rc < 0)
            gcs_emu_genesys_error(r, 500, "reset.failed", "%s", gcs_error_last());
        else
            gcs_emu_send_json(r, 200, json_pack("{s:b}", "reset", 1));
    } else if (strcmp(rest, "revoke-tokens") == 0 && post) {
        size_t n = emu->tokens.count;
        gcs_emu_tokens_clear(emu);
        gcs_emu_send_json(r, 200, json_pack("{s:I}", "revoked", (json_int_t)n));
    } else if (strcmp(rest, "config") == 0 && (post || get)) {
        if (post) {
            json_error_t jerr;
            json_t *body = json_loadb(r->http->body, r->http->body_len, 0, &jerr);
            int rc = body ? gcs_emu_configure(emu, body)
                          : gcs_error_set(GCS_EINVALID, "config body: %s", jerr.text);
            json_decref(body);
            if (rc < 0) {
                gcs_emu_genesys_error(r, 400, "bad.request", "%s", gcs_error_last());
                return;
            }
        }
        gcs_emu_send_json(r, 200, config_json(emu));
    } else {
        gcs_emu_genesys_error(r, 404, "not.found",
                              "admin routes: GET state, GET stats, GET/POST config, POST reset, "
                              "POST revoke-tokens");
    }
}
