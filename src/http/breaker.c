#include "http/breaker.h"

void gcs_breaker_init(gcs_breaker *b, int threshold, int64_t cooldown_us)
{
    *b = (gcs_breaker){0};
    b->threshold = threshold < 0 ? 0 : threshold;
    b->cooldown_us = cooldown_us > 0 ? cooldown_us : 0;
}

static void open_now(gcs_breaker *b, int64_t now_us)
{
    b->state = GCS_BREAKER_OPEN;
    b->open_until_us = now_us + b->cooldown_us;
    b->probe_in_flight = false;
    b->failures = 0;
    b->trips++;
    b->opened_total++;
}

bool gcs_breaker_allow(gcs_breaker *b, int64_t now_us, int64_t *wake_us)
{
    if (b->state == GCS_BREAKER_OPEN) {
        if (now_us < b->open_until_us) {
            if (wake_us)
                *wake_us = b->open_until_us;
            return false;
        }
        b->state = GCS_BREAKER_HALF_OPEN;
        b->probe_in_flight = false;
    }
    if (b->state == GCS_BREAKER_HALF_OPEN) {
        if (b->probe_in_flight) {
            /* Woken by the probe's answer; nothing to wait for on the clock. */
            if (wake_us)
                *wake_us = INT64_MAX;
            return false;
        }
        return true;
    }
    return true;
}

void gcs_breaker_on_probe_sent(gcs_breaker *b)
{
    if (b->state == GCS_BREAKER_HALF_OPEN)
        b->probe_in_flight = true;
}

void gcs_breaker_on_success(gcs_breaker *b, bool is_probe)
{
    if (b->state != GCS_BREAKER_CLOSED && !is_probe)
        return; /* a straggler sent before the breaker opened proves little */
    b->state = GCS_BREAKER_CLOSED;
    b->failures = 0;
    b->trips = 0;
    b->probe_in_flight = false;
}

void gcs_breaker_on_failure(gcs_breaker *b, int64_t now_us, bool is_probe)
{
    if (b->threshold == 0)
        return;
    switch (b->state) {
    case GCS_BREAKER_CLOSED:
        if (++b->failures >= b->threshold)
            open_now(b, now_us);
        break;
    case GCS_BREAKER_HALF_OPEN:
        if (is_probe)
            open_now(b, now_us);
        break;
    case GCS_BREAKER_OPEN:
        break; /* stragglers sent before it opened */
    }
}

void gcs_breaker_on_probe_lost(gcs_breaker *b)
{
    if (b->state == GCS_BREAKER_HALF_OPEN)
        b->probe_in_flight = false;
}

const char *gcs_breaker_state_name(gcs_breaker_state s)
{
    switch (s) {
    case GCS_BREAKER_CLOSED:
        return "closed";
    case GCS_BREAKER_OPEN:
        return "open";
    case GCS_BREAKER_HALF_OPEN:
        return "half-open";
    }
    return "unknown";
}
