/* The per-token rate limit: a fixed window of rate_window_s seconds that starts
 * with the token's first request, as Genesys's inin-ratelimit-* headers
 * describe it (count so far, allowed, seconds until the window resets).
 *
 * With rate_per_client the limit holds for the sum of a client's tokens, in
 * one window of the client's (its reset is what the headers say), while each
 * answer's count stays its token's own count in that window, as Genesys
 * reports per token: hosts of one client that each spend what their own count
 * leaves run into the limit together, as they would overspend one client's
 * limit on the real service without a 429 to tell them. */
#include "emulator/internal.h"

#include <stdio.h>
#include <string.h>

#include "core/time.h"

/* What the headers say while the limit is off: no client could reach it. */
#define UNLIMITED 2147483647L

typedef struct window {
    int64_t *start_ms;
    int *count;
} window;

/* The window a token's requests count in: its own, or its client's. */
static window window_of(gcs_emu *emu, emu_token *tok)
{
    if (emu->config.rate_per_client && tok->client_index >= 0 &&
        tok->client_index < GCS_EMU_MAX_CLIENTS)
        return (window){&emu->client_windows[tok->client_index].window_start_ms,
                        &emu->client_windows[tok->client_index].window_count};
    return (window){&tok->window_start_ms, &tok->window_count};
}

static void roll(gcs_emu *emu, window w, int64_t now)
{
    int64_t length = (int64_t)emu->config.rate_window_s * 1000;
    if (length <= 0)
        length = 60000;
    if (now - *w.start_ms >= length) {
        *w.start_ms = now;
        *w.count = 0;
    }
}

static long reset_seconds(gcs_emu *emu, window w, int64_t now)
{
    int64_t length =
        (int64_t)(emu->config.rate_window_s > 0 ? emu->config.rate_window_s : 60) * 1000;
    int64_t left = *w.start_ms + length - now;
    long s = (long)((left + 999) / 1000);
    return s < 1 ? 1 : s;
}

/* With rate_per_client: the client's window, the token's count following it. */
static window client_window(gcs_emu *emu, emu_token *tok, int64_t now)
{
    window cw = window_of(emu, tok);
    roll(emu, cw, now);
    if (tok->window_start_ms != *cw.start_ms) {
        tok->window_start_ms = *cw.start_ms;
        tok->window_count = 0;
    }
    return cw;
}

bool gcs_emu_ratelimit_admit(emu_req *r, emu_token *tok)
{
    gcs_emu *emu = r->emu;
    int64_t now = gcs_time_mono_ms();
    window own = {&tok->window_start_ms, &tok->window_count};
    window w = emu->config.rate_per_client ? client_window(emu, tok, now) : own;
    roll(emu, w, now);
    long allowed = emu->config.rate_limit > 0 ? emu->config.rate_limit : UNLIMITED;
    r->window = true;
    r->rl_allowed = allowed;
    r->rl_reset = reset_seconds(emu, w, now);
    if (emu->config.rate_limit > 0 && *w.count >= emu->config.rate_limit) {
        char v[32];
        r->rl_count = *own.count;
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
    if (w.count != own.count)
        (*own.count)++;
    (*w.count)++;
    r->rl_count = *own.count;
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
            window w = emu->config.rate_per_client
                           ? client_window(emu, t, now)
                           : (window){&t->window_start_ms, &t->window_count};
            roll(emu, w, now);
            char shown[16];
            snprintf(shown, sizeof shown, "%.6s...", e->key);
            json_array_append_new(
                list, json_pack("{s:s,s:s,s:i,s:I,s:I,s:I}", "token", shown, "client", t->client,
                                "count", t->window_count, "allowed",
                                (json_int_t)(emu->config.rate_limit > 0 ? emu->config.rate_limit
                                                                        : UNLIMITED),
                                "reset", (json_int_t)reset_seconds(emu, w, now), "expires_in",
                                (json_int_t)((t->expires_ms - now) / 1000)));
        }
    return list;
}
