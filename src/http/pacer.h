/*
 * pacer.h - when may the next request go out, so that the engine runs at the
 * rate limit the service announces, not below it and not into it.
 *
 * Pure arithmetic on microsecond timestamps (no clock, no I/O) so that it can be
 * tested alone. Three brakes, the latest wins:
 *  - the service's window: every answer carries inin-ratelimit-count (requests
 *    counted in the current window), -allowed (the window's size) and -reset
 *    (whole seconds until the window ends, rounded up). Each answer bounds the
 *    window's end: it lies in (sent + (reset-1) s, received + reset s]; the
 *    intersection over all answers of one window pins it to a few milliseconds.
 *    When the work waiting is larger than the window's remaining allowance
 *    (allowed - reserve - used), the allowance is spread evenly over the time
 *    left, so a window is used up exactly as it closes, with no burst at its
 *    start (the first send of a new window still waits one interval). When the
 *    work fits in what is left, it goes at once: a small job (one event, one
 *    person) costs a round trip, not a share of the window;
 *  - one shared pause after a 429 (Retry-After, 3 s when missing): every sender
 *    waits for the same instant instead of each sleeping on its own;
 *  - the user's own ceiling (max requests per second), if any.
 * Several hosts, one client's limit: when `hosts` processes share one client's
 * allowance (gcs_pacer_set_hosts), each spends at most its share of every
 * window, (allowed - reserve) / hosts minus its own sends, besides what the
 * counts say is left. The burst rule above applies to that share, so hosts
 * bursting together never spend more than the window holds, whether the
 * service counts them together (one window, the headers' count is everybody's)
 * or per token (each host's window is its own, and the share keeps the sum
 * within one client's limit). With other hosts, a window this host moved to
 * on its own clock is confirmed by one request's answer before the rest of
 * its share goes: a window that starts with its first request may have
 * started later, with another host's.
 * Until the first answer the limit is unknown and only one request may be in
 * flight; a successful answer without the headers means there is no limit to
 * pace to (while pacing, only a run of them does: an error page from a proxy or
 * a 401 answered before the limiter ran says nothing about the limit).
 * A request sent near a window's end (after its earliest possible end, less a
 * round trip) may be counted in the next window: such sends count as used in
 * the next window too, since a burst at the edge would otherwise overspend it.
 * Invariant: `used` never decreases within a window; a new window starts when the
 * clock passes the window's latest possible end or an answer proves it began.
 */
#ifndef GCS_HTTP_PACER_H
#define GCS_HTTP_PACER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum gcs_pacer_mode {
    GCS_PACER_UNKNOWN = 0, /* no answer yet: one request in flight at a time */
    GCS_PACER_NONE = 1,    /* answers carry no limit: only the user ceiling applies */
    GCS_PACER_WINDOW = 2,  /* pacing to the announced window */
} gcs_pacer_mode;

typedef struct gcs_pacer {
    gcs_pacer_mode mode;
    int64_t min_gap_us;     /* from the user ceiling; 0 = none */
    int64_t last_send_us;   /* INT64_MIN before the first send */
    int64_t pause_until_us; /* shared pause after a 429 */
    int reserve;            /* allowance kept back for answers counted late */

    int allowed;            /* the window's size in requests */
    int64_t window_us;      /* the window's length, learnt as the largest reset seen */
    int64_t end_lo_us;      /* the window's end lies in (end_lo, end_hi] */
    int64_t end_hi_us;
    int used;               /* max(server count seen, our sends) in this window */
    int sent;               /* our sends since this window began */
    int edge_sent;          /* of those, sent so near the window's end that the service
                             * may count them in the next one */
    int64_t rtt_us;         /* the latest answer's round trip */
    int headerless;         /* successful answers in a row without the headers */
    int hosts;              /* processes sharing the client's limit, >= 1 */
    bool confirmed;         /* an answer counted in the current window arrived */
} gcs_pacer;

/* max_rps: the user's ceiling (0: none). reserve: requests of each window never
 * used (absorbs counting skew at window edges; 2 is enough on one token). */
void gcs_pacer_init(gcs_pacer *p, double max_rps, int reserve);

/* hosts (>= 1; less counts as 1) processes now share the client's limit:
 * from the next decision on, this one spends its share of each window. */
void gcs_pacer_set_hosts(gcs_pacer *p, int hosts);

/* The requests this process may still send in the current window (its share
 * when hosts share the limit); INT_MAX while not pacing to a window. The
 * burst decision: `pending` requests go at once when pending <= this. */
int gcs_pacer_remaining(gcs_pacer *p, int64_t now_us);

/* The earliest instant (>= now) at which one more request may be sent, when
 * `pending` requests (this one included) are waiting; INT_MAX when unknown. */
int64_t gcs_pacer_next_us(gcs_pacer *p, int64_t now_us, int pending);

/* True when no more requests may be in flight than one: the limit is still
 * unknown, or (several hosts) the window this host moved to is not confirmed
 * by an answer yet. */
bool gcs_pacer_probe_only(const gcs_pacer *p);

/* A request was sent at now_us. */
void gcs_pacer_on_send(gcs_pacer *p, int64_t now_us);

/*
 * An answer arrived: sent_us/recv_us bracket the instant the service counted it.
 * count/allowed/reset_s are the headers' values, -1 when absent; status is the
 * answer's HTTP status.
 */
void gcs_pacer_on_answer(gcs_pacer *p, int64_t sent_us, int64_t recv_us, int status, int count,
                         int allowed, int reset_s);

/* A 429 arrived at now_us with Retry-After retry_after_s (-1: absent, 3 s used).
 * Everybody pauses until then, and the current window counts as used up. */
void gcs_pacer_on_429(gcs_pacer *p, int64_t now_us, int retry_after_s);

/* Requests per second the window allows (allowed / window length), 0 if unknown. */
double gcs_pacer_allowed_rps(const gcs_pacer *p);

#endif
