/*
 * probe.h - one synchronous GET outside the request engine, for `gcscim
 * doctor`: it needs the answer's headers (rate limit, Date for the clock
 * skew) and a first-hand transport error, which the engine does not hand to
 * its callers (docs/doctor.md, "Why one request bypasses the engine").
 * Nothing else should use it: every other call goes through client.h.
 */
#ifndef GCS_HTTP_PROBE_H
#define GCS_HTTP_PROBE_H

#include <stdint.h>

#include "core/buf.h"
#include "http/headers.h"

typedef struct gcs_http_probe {
    gcs_http_answer_headers h; /* the answer's headers, parsed */
    int64_t date_s;            /* its Date header (Unix seconds), -1 when absent */
    gcs_buf body;              /* the answer's body, up to the buffer's maximum */
    int status;                /* the HTTP status; 0 when no answer came */
    int64_t sent_ms, received_ms; /* wall clock around the exchange */
} gcs_http_probe;

/* Empties the probe; the body buffer holds at most body_max bytes. */
void gcs_http_probe_init(gcs_http_probe *p, size_t body_max);
void gcs_http_probe_release(gcs_http_probe *p);

/*
 * GETs `url` with the given header lines (NULL-terminated, e.g.
 * "Authorization: Bearer ..."; the copies made for libcurl are wiped before
 * they are freed), TLS verified (against `ca_bundle` when set), within
 * timeout_ms. Returns 0 when an answer came (whatever its status),
 * GCS_ETIMEOUT or GCS_ETRANSPORT with libcurl's message otherwise.
 */
int gcs_http_probe_get(gcs_http_probe *p, const char *url, const char *const *header_lines,
                       const char *ca_bundle, long timeout_ms);

#endif
