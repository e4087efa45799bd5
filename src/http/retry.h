/*
 * retry.h - which failed attempts are tried again, and after how long.
 *
 * The rules (docs/http.md explains why):
 *  - 429: always retried, after the shared Retry-After pause (pacer.h); a
 *    Retry-After over 180 s is a daily limit and is never retried.
 *  - 502, 503, 504: retried; for a non-idempotent call (POST) only 503, because a
 *    gateway's 502/504 may hide a request that was carried out: that is "outcome
 *    unknown" and the caller looks the resource up instead.
 *  - 500: retried only when the call is idempotent; a POST's 500 is a server error.
 *  - no answer: a connection that could not be made is retried for any call (the
 *    request never left); a drop or timeout after the request was sent is retried
 *    when idempotent, and is "outcome unknown" for a POST.
 *  - 401 on an API call: one token refresh and one replay (client.c).
 * Every retry is bounded by the call's time budget, and all but 429s by its
 * attempts too (a 429 costs a wait, not a request the service carried out). The delay is
 * exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(n-1))].
 */
#ifndef GCS_HTTP_RETRY_H
#define GCS_HTTP_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "http/classify.h"

#define GCS_HTTP_DAILY_LIMIT_S 180

typedef enum gcs_retry_reason {
    GCS_RETRY_NONE = 0,
    GCS_RETRY_RATE_LIMIT,  /* 429 */
    GCS_RETRY_SERVER,      /* 500, 502, 503, 504 */
    GCS_RETRY_CONNECT,     /* the connection could not be made */
    GCS_RETRY_DROPPED,     /* the connection died before an answer */
    GCS_RETRY_TIMEOUT,     /* no answer in time */
    GCS_RETRY_AUTH,        /* 401: refreshed the token, replaying */
    GCS_RETRY_REASON_COUNT
} gcs_retry_reason;

/* How an attempt without an HTTP answer ended. */
typedef enum gcs_transport_fail {
    GCS_TRANSPORT_OK = 0,     /* there was an answer */
    GCS_TRANSPORT_CONNECT,    /* DNS, refused, connect timeout, TLS handshake: not sent */
    GCS_TRANSPORT_DROPPED,    /* sent (or maybe sent), then the connection died */
    GCS_TRANSPORT_TIMEOUT,    /* sent (or maybe sent), no answer in time */
    GCS_TRANSPORT_TOO_LARGE,  /* the answer passed our hard maximum: never retried */
    GCS_TRANSPORT_OTHER,      /* anything else: not retried */
} gcs_transport_fail;

typedef struct gcs_retry_verdict {
    gcs_retry_reason retry;   /* GCS_RETRY_NONE: final */
    gcs_http_outcome outcome; /* the outcome if final (or if the budget runs out) */
} gcs_retry_verdict;

/*
 * Decides about one attempt. status is the HTTP status (0 when none), fail how a
 * status-less attempt ended, retry_after_s the Retry-After header (-1 absent).
 * The answer's own classification (for a final status) is passed in `classified`.
 */
gcs_retry_verdict gcs_retry_decide(int status, gcs_transport_fail fail, bool idempotent,
                                   int retry_after_s, gcs_http_outcome classified);

/* Full-jitter backoff before attempt number `attempt` + 1 (attempt >= 1 is the
 * number of attempts made). `rnd` is a uniform random 64-bit value. */
int64_t gcs_retry_backoff_us(int attempt, int64_t base_us, int64_t cap_us, uint64_t rnd);

const char *gcs_retry_reason_name(gcs_retry_reason r);

#endif
