/* stats.c - the request engine's counters, as a struct and as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"
#include "http/client_internal.h"

/* ==== Counters ==== */

void gcs_http_client_stats(gcs_http_stats *out, const gcs_http_client *c)
{
    *out = c->st;
    out->breaker_state = c->breaker.state;
    out->breaker_opened = c->breaker.opened_total;
    out->in_flight = c->in_flight_api;
    out->queued = c->ready.n + c->delayed.n;
    out->allowed_rps = gcs_pacer_allowed_rps(&c->pacer);
}

json_t *gcs_http_client_stats_json(const gcs_http_client *c)
{
    gcs_http_stats s;
    gcs_http_client_stats(&s, c);
    json_t *o = json_object();
    json_t *outcomes = json_object();
    json_t *retries = json_object();
    if (!o || !outcomes || !retries) {
        json_decref(o);
        json_decref(outcomes);
        json_decref(retries);
        return NULL;
    }
    for (int i = 0; i < GCS_HTTP_OUTCOME_COUNT; i++)
        if (s.by_outcome[i])
            json_object_set_new(outcomes, gcs_http_outcome_name((gcs_http_outcome)i),
                                json_integer((json_int_t)s.by_outcome[i]));
    for (int i = 1; i < GCS_RETRY_REASON_COUNT; i++)
        json_object_set_new(retries, gcs_retry_reason_name((gcs_retry_reason)i),
                            json_integer((json_int_t)s.retries[i]));
    json_object_set_new(o, "submitted", json_integer((json_int_t)s.submitted));
    json_object_set_new(o, "completed", json_integer((json_int_t)s.completed));
    json_object_set_new(o, "sent", json_integer((json_int_t)s.sent));
    json_object_set_new(o, "connects", json_integer((json_int_t)s.connects));
    json_object_set_new(o, "outcomes", outcomes);
    json_object_set_new(o, "retries", retries);
    json_object_set_new(o, "status_429", json_integer((json_int_t)s.status_429));
    json_object_set_new(o, "pacing_wait_ms", json_integer((json_int_t)s.pacing_wait_ms));
    json_object_set_new(o, "token_requests", json_integer((json_int_t)s.token_requests));
    json_object_set_new(o, "breaker_state", json_string(gcs_breaker_state_name(s.breaker_state)));
    json_object_set_new(o, "breaker_opened", json_integer((json_int_t)s.breaker_opened));
    json_object_set_new(o, "in_flight", json_integer(s.in_flight));
    json_object_set_new(o, "in_flight_max", json_integer(s.in_flight_max));
    json_object_set_new(o, "queued", json_integer(s.queued));
    json_object_set_new(o, "allowed_rps", json_real(s.allowed_rps));
    json_object_set_new(o, "requests", gcs_route_counts_json(&c->routes));
    return o;
}
