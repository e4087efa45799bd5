#include "http/pacer.h"

#include <limits.h>

#define US_PER_S 1000000LL
#define DEFAULT_PAUSE_S 3
#define HEADERLESS_RUN 16
#define UNREACHABLE 10000000

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

void gcs_pacer_init(gcs_pacer *p, double max_rps, int reserve)
{
    *p = (gcs_pacer){0};
    p->mode = GCS_PACER_UNKNOWN;
    p->min_gap_us = max_rps > 0 ? (int64_t)((double)US_PER_S / max_rps) : 0;
    p->last_send_us = INT64_MIN;
    p->reserve = reserve < 0 ? 0 : reserve;
    p->hosts = 1;
}

void gcs_pacer_set_hosts(gcs_pacer *p, int hosts)
{
    p->hosts = hosts < 1 ? 1 : hosts;
}

/* Moves to the window that holds now_us once the current one has surely ended
 * (the clock is past its latest possible end): its allowance is whole again. */
static void roll(gcs_pacer *p, int64_t now_us)
{
    if (p->mode != GCS_PACER_WINDOW || now_us <= p->end_hi_us || p->window_us <= 0)
        return;
    int64_t k = (now_us - p->end_hi_us) / p->window_us + 1;
    p->end_lo_us += k * p->window_us;
    p->end_hi_us += k * p->window_us;
    /* Sends at the old window's edge may be the service's first of this one. */
    int carried = k == 1 ? p->edge_sent : 0;
    p->used = carried;
    p->sent = carried;
    p->edge_sent = 0;
    p->confirmed = false;
}

/* What this process may still send in the window: what the counts say is
 * left, and with several hosts no more than its own share. */
static int window_remaining(const gcs_pacer *p)
{
    /* The reserve is for large windows; a tiny one (3 per 10 min) would
     * otherwise be all reserve. */
    int reserve = p->allowed / 50 < p->reserve ? p->allowed / 50 : p->reserve;
    int remaining = p->allowed - reserve - p->used;
    if (p->hosts > 1) {
        /* `used` may be only this host's count (a window per token), so the
         * share is counted against this host's own sends. */
        int mine = (p->allowed - reserve) / p->hosts - p->sent;
        if (mine < remaining)
            remaining = mine;
    }
    return remaining;
}

int gcs_pacer_remaining(gcs_pacer *p, int64_t now_us)
{
    roll(p, now_us);
    if (p->mode != GCS_PACER_WINDOW)
        return INT_MAX;
    int remaining = window_remaining(p);
    return remaining < 0 ? 0 : remaining;
}

int64_t gcs_pacer_next_us(gcs_pacer *p, int64_t now_us, int pending)
{
    roll(p, now_us);
    int64_t t = max64(now_us, p->pause_until_us);
    if (p->min_gap_us > 0 && p->last_send_us != INT64_MIN)
        t = max64(t, p->last_send_us + p->min_gap_us);
    if (p->mode != GCS_PACER_WINDOW)
        return t;
    int remaining = window_remaining(p);
    if (remaining <= 0)
        return max64(t, p->end_hi_us + 1);
    /* Work that fits in what is left of the window (of this host's share) goes
     * at once. */
    if (p->last_send_us == INT64_MIN || pending <= remaining)
        return t;
    /* Place the remaining sends evenly in (last_send, end]: the next one comes one
     * gap after the last. Recomputed at every call, so it follows the answers. */
    int64_t base = max64(p->last_send_us, p->end_hi_us - p->window_us);
    int64_t gap = (p->end_hi_us - base) / (remaining + 1);
    return max64(t, base + gap);
}

bool gcs_pacer_probe_only(const gcs_pacer *p)
{
    /* With other hosts, the window this one moved to on its clock may not have
     * begun at the service yet (a window that starts with its first request
     * starts with another host's): one request goes first, and its answer
     * says where the window is before the share is spent. */
    return p->mode == GCS_PACER_UNKNOWN ||
           (p->mode == GCS_PACER_WINDOW && p->hosts > 1 && p->sent > 0 && !p->confirmed);
}

void gcs_pacer_on_send(gcs_pacer *p, int64_t now_us)
{
    roll(p, now_us);
    p->last_send_us = now_us;
    p->sent++;
    if (p->mode == GCS_PACER_WINDOW && now_us > p->end_lo_us - p->rtt_us)
        p->edge_sent++;
    if (p->sent > p->used)
        p->used = p->sent;
}

static void start_window(gcs_pacer *p, int64_t lo, int64_t hi, int count)
{
    p->end_lo_us = lo;
    p->end_hi_us = hi;
    p->used = count;
    p->sent = count;
    p->edge_sent = 0;
    p->confirmed = true;
}

void gcs_pacer_on_answer(gcs_pacer *p, int64_t sent_us, int64_t recv_us, int status, int count,
                         int allowed, int reset_s)
{
    if (allowed >= UNREACHABLE) {
        /* A limit no client could reach (a service with the limit turned off
         * may say 2^31-1): nothing to pace to. */
        p->mode = GCS_PACER_NONE;
        return;
    }
    if (allowed <= 0 || count < 0 || reset_s < 0) {
        if (status >= 400)
            return;
        if (p->mode == GCS_PACER_UNKNOWN || ++p->headerless >= HEADERLESS_RUN)
            p->mode = GCS_PACER_NONE;
        return;
    }
    p->headerless = 0;
    if (recv_us > sent_us)
        p->rtt_us = recv_us - sent_us;
    /* reset is rounded up: the end lies in (counted + (reset-1) s, counted + reset s]
     * and the service counted the request somewhere in [sent, recv]. */
    int64_t lo = sent_us + (int64_t)(reset_s - 1) * US_PER_S;
    int64_t hi = recv_us + (int64_t)reset_s * US_PER_S;
    /* The window's length is the largest reset seen (the first answer of a
     * window says all of it), learnt again when the limit changes. */
    if (p->mode != GCS_PACER_WINDOW || allowed != p->allowed ||
        (int64_t)reset_s * US_PER_S > p->window_us)
        p->window_us = (int64_t)reset_s * US_PER_S;
    p->allowed = allowed;
    if (p->mode != GCS_PACER_WINDOW) {
        p->mode = GCS_PACER_WINDOW;
        start_window(p, lo, hi, count);
        return;
    }
    if (lo >= p->end_hi_us) {
        /* Counted in a later window than ours: that window has begun. Keep what the
         * shifted bounds of ours already knew about its end. */
        int64_t plo = p->end_lo_us + p->window_us, phi = p->end_hi_us + p->window_us;
        if (max64(lo, plo) < min64(hi, phi))
            start_window(p, max64(lo, plo), min64(hi, phi), count);
        else
            start_window(p, lo, hi, count);
        return;
    }
    if (hi <= p->end_lo_us && sent_us > p->end_hi_us - p->window_us) {
        /* Sent inside our window, yet counted in one that ends earlier: the
         * service's windows are not where we thought (a new token has a window
         * of its own). Follow the service. */
        start_window(p, lo, hi, count);
        return;
    }
    if (hi <= p->end_lo_us) {
        /* A late answer from the previous window: it still narrows where the
         * windows' edges are, one window length earlier. */
        lo += p->window_us;
        hi += p->window_us;
        if (hi <= p->end_lo_us || lo >= p->end_hi_us)
            return;
        p->end_lo_us = max64(p->end_lo_us, lo);
        p->end_hi_us = min64(p->end_hi_us, hi);
        return;
    }
    int64_t nlo = max64(p->end_lo_us, lo), nhi = min64(p->end_hi_us, hi);
    if (nlo < nhi) {
        p->end_lo_us = nlo;
        p->end_hi_us = nhi;
    }
    p->confirmed = true;
    if (count > p->used)
        p->used = count;
}

void gcs_pacer_on_429(gcs_pacer *p, int64_t now_us, int retry_after_s)
{
    if (retry_after_s < 0)
        retry_after_s = DEFAULT_PAUSE_S;
    int64_t until = now_us + (int64_t)retry_after_s * US_PER_S;
    if (until > p->pause_until_us)
        p->pause_until_us = until;
    if (p->mode == GCS_PACER_WINDOW) {
        roll(p, now_us);
        if (p->used < p->allowed)
            p->used = p->allowed;
    }
}

double gcs_pacer_allowed_rps(const gcs_pacer *p)
{
    if (p->mode != GCS_PACER_WINDOW || p->window_us <= 0)
        return 0;
    return (double)p->allowed * US_PER_S / (double)p->window_us;
}
