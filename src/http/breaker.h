/*
 * breaker.h - the circuit breaker: after a run of consecutive server failures
 * (5xx, dropped or refused connections) stop sending for a cool-down, then let
 * one probe through; its answer closes the breaker or opens it again.
 *
 * Pure state machine on microsecond timestamps. Any answer that shows the server
 * alive (2xx, 3xx, 4xx including 429) counts as a success. Invariant: at most one
 * probe is in flight while half-open; `trips` counts consecutive openings without
 * a success in between, so that a caller can give up on a server that stays down.
 */
#ifndef GCS_HTTP_BREAKER_H
#define GCS_HTTP_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum gcs_breaker_state {
    GCS_BREAKER_CLOSED = 0,
    GCS_BREAKER_OPEN = 1,
    GCS_BREAKER_HALF_OPEN = 2,
} gcs_breaker_state;

typedef struct gcs_breaker {
    gcs_breaker_state state;
    int threshold;          /* consecutive failures that open it; 0 = never opens */
    int64_t cooldown_us;
    int failures;           /* consecutive, while closed */
    int64_t open_until_us;
    bool probe_in_flight;
    int trips;              /* consecutive openings without a success */
    uint64_t opened_total;  /* for metrics */
} gcs_breaker;

void gcs_breaker_init(gcs_breaker *b, int threshold, int64_t cooldown_us);

/* May a request be sent now? Moves open -> half-open when the cool-down is over.
 * When it answers true in half-open state the caller must send exactly one
 * request, as the probe, and report it with is_probe. *wake_us (may be NULL)
 * receives the instant to ask again when the answer is false. */
bool gcs_breaker_allow(gcs_breaker *b, int64_t now_us, int64_t *wake_us);
/* The request allowed in half-open state has been sent. */
void gcs_breaker_on_probe_sent(gcs_breaker *b);

void gcs_breaker_on_success(gcs_breaker *b, bool is_probe);
void gcs_breaker_on_failure(gcs_breaker *b, int64_t now_us, bool is_probe);
/* A probe ended without telling anything (cancelled): let another one go. */
void gcs_breaker_on_probe_lost(gcs_breaker *b);

const char *gcs_breaker_state_name(gcs_breaker_state s);

#endif
