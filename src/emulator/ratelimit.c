/* The per-token rate limit: a fixed window of rate_window_s seconds that starts
 * with the token's first request, as Genesys's inin-ratelimit-* headers
 * describe it (count so far, allowed, seconds until the window resets). */
#include "emulator/internal.h"

#include <stdio.h>
#include <string.h>

#include "core/time.h"

/* What the headers say while the limit is off: no client could reach it. */
#define UNLIMITED 2147483647L

static void roll(gcs_emu *emu, emu_token *tok, int64_t now)
{
    int64_t window = (int64_t)emu->config.rate_window_s * 1000;
    if (window <= 0)
        window = 60000;
    if (now - tok->window_start_ms >= window) {
        tok->window_start_ms = now;
        tok->window_count = 0;
    }
}

static long reset_seconds(gcs_emu *emu, const emu_token *tok, int64_t now)
{
    int64_t window = (int64_t)(emu->config.rate_window_s > 0 ? emu->config.rate_window_s : 60) * 1000;
    int64_t left = tok->window_start_ms + window - now;
    long s = (long)((left + 999) / 1000);
    return s < 1 ? 1 : s;
}

bool gcs_emu_ratelimit_admit(emu_req *r, emu_token *tok)
{
    gcs_emu *emu = r->emu;
    int64_t now = gcs_time_mono_ms();
    roll(emu, tok, now);
    long allowed = emu->config.rate_limit > 0 ? emu->config.rate_limit : UNLIMITED;
    r->window = true;
    r->rl_allowed = allowed;
    r->rl_reset = reset_seconds(emu, tok, now);
    if (emu->config.rate_limit > 0 && tok->window_count >= emu->config.rate_limit) {
        char v[32];
        r->rl_count = tok->window_count;
        emu->stats.rate_limited++;
        snprintf(v, sizeof v, "%ld", r->rl_reset);
        bool scim = r->scim;
        if (emu->config.no_retry_after) {
            /* The other documented 429: no hint, the client picks its own pause. */
            gcs_emu_genesys_error(r, 429, "too.many.requests", "Rate limit exceeded the maximum.");
        } else {
            gcs_emu_genesys_error(r, 429, "too.many.requests.retry.after",
                                  "Rate limit exceeded the maximum. Retry the request in [%ld] seconds",
                                  r->rl_reset);
            gcs_http_response_header(r->resp, "Retry-After", v);
        }
        r->scim = scim;
        return false;
    }
    tok->window_count++;
    r->rl_count = tok->window_count;
    return true;
}

json_t *gcs_emu_ratelimit_windows(gcs_emu *emu)
{
    json_t *list = json_array();
    int64_t now = gcs_time_mono_ms();
    emu_map *m = &emu->tokens;
    for (size_t i = 0; i < m->nbuckets; i++)
        for (emu_map_entry *e = m->buckets[i]; e; e = e->next) {
            emu_token *t = e->value;
            if (t->expires_ms <= now)
                continue;
            roll(emu, t, now);
            char shown[16];
            snprintf(shown, sizeof shown, "%.6s...", e->key);
            json_array_append_new(
                list, json_pack("{s:s,s:s,s:i,s:I,s:I,s:I}", "token", shown, "client", t->client,
                                "count", t->window_count, "allowed",
                                (json_int_t)(emu->config.rate_limit > 0 ? emu->config.rate_limit
                                                                        : UNLIMITED),
                                "reset", (json_int_t)reset_seconds(emu, t, now), "expires_in",
                                (json_int_t)((t->expires_ms - now) / 1000)));
        }
    return list;
}
