/* The engine's pure rules: classification, retries and backoff, the breaker. */
#include "gcstest.h"

#include <string.h>

#include "core/error.h"
#include "http/breaker.h"
#include "http/classify.h"
#include "http/headers.h"
#include "http/retry.h"

/* ==== Classification ==== */

static void version_conflicts_in_all_three_shapes(void **state)
{
    (void)state;
    assert_int_equal(gcs_http_classify_status(400, "PATCH", "invalidVers", "stale"),
                     GCS_HTTP_VERSION_CONFLICT);
    assert_int_equal(gcs_http_classify_status(409, "PATCH", NULL,
                                              "Version does not match current version"),
                     GCS_HTTP_VERSION_CONFLICT);
    assert_int_equal(gcs_http_classify_status(412, "DELETE", NULL, NULL),
                     GCS_HTTP_VERSION_CONFLICT);
    assert_int_equal(gcs_http_outcome_error(GCS_HTTP_VERSION_CONFLICT), GCS_ECONFLICT);
}

static void uniqueness_and_other_answers(void **state)
{
    (void)state;
    assert_int_equal(gcs_http_classify_status(409, "POST", "uniqueness", "taken"),
                     GCS_HTTP_UNIQUENESS_CONFLICT);
    assert_int_equal(gcs_http_classify_status(409, "POST", NULL, NULL),
                     GCS_HTTP_UNIQUENESS_CONFLICT);
    assert_int_equal(gcs_http_classify_status(200, "GET", NULL, NULL), GCS_HTTP_OK);
    assert_int_equal(gcs_http_classify_status(204, "DELETE", NULL, NULL), GCS_HTTP_OK);
    assert_int_equal(gcs_http_classify_status(304, "GET", NULL, NULL), GCS_HTTP_NOT_MODIFIED);
    assert_int_equal(gcs_http_classify_status(404, "GET", NULL, NULL), GCS_HTTP_NOT_FOUND);
    assert_int_equal(gcs_http_classify_status(400, "POST", "invalidValue", "no such role"),
                     GCS_HTTP_INVALID);
    assert_int_equal(gcs_http_classify_status(413, "POST", NULL, NULL), GCS_HTTP_INVALID);
    assert_int_equal(gcs_http_classify_status(401, "GET", NULL, NULL), GCS_HTTP_UNAUTHORISED);
    assert_int_equal(gcs_http_classify_status(403, "GET", NULL, NULL), GCS_HTTP_FORBIDDEN);
    assert_int_equal(gcs_http_classify_status(503, "GET", NULL, NULL), GCS_HTTP_SERVER_ERROR);
    assert_int_equal(gcs_http_outcome_error(GCS_HTTP_NOT_MODIFIED), 0);
    assert_int_equal(gcs_http_outcome_error(GCS_HTTP_DAILY_LIMIT), GCS_EDAILYLIMIT);
    assert_int_equal(gcs_http_outcome_error(GCS_HTTP_OUTCOME_UNKNOWN), GCS_EUNKNOWN);
    assert_int_equal(gcs_http_outcome_error(GCS_HTTP_BREAKER_OPEN), GCS_EBREAKER);
}

static void forbidden_names_the_missing_scope(void **state)
{
    (void)state;
    assert_string_equal(gcs_http_missing_scope("PATCH", "/api/v2/scim/v2/users/1"), "scim");
    assert_string_equal(gcs_http_missing_scope("GET", "/api/v2/scim/v2/users"),
                        "scim:readonly");
    assert_string_equal(gcs_http_missing_scope("POST", "/api/v2/groups"), "groups");
    assert_string_equal(gcs_http_missing_scope("GET", "/api/v2/authorization/roles?pageSize=1"),
                        "authorization:readonly");
    assert_null(gcs_http_missing_scope("GET", "/elsewhere"));
}

static void routes_are_templated(void **state)
{
    (void)state;
    char r[128];
    gcs_http_route_template(r, sizeof r,
                            "/api/v2/scim/v2/users/3f2c1d9e-0b7a-4c1e-9d2f-8a6b5c4d3e2f?x=1");
    assert_string_equal(r, "/api/v2/scim/v2/users/{id}");
    gcs_http_route_template(r, sizeof r, "/api/v2/scim/v2/users");
    assert_string_equal(r, "/api/v2/scim/v2/users");
    gcs_http_route_template(r, sizeof r, "/api/v2/groups/abc12345/members");
    assert_string_equal(r, "/api/v2/groups/{id}/members");
    gcs_http_route_template(r, 8, "/api/v2/scim/v2/users");
    assert_string_equal(r, "/api/v2");
}

/* ==== Retries ==== */

static gcs_retry_verdict decide(int status, gcs_transport_fail f, bool idem, int ra)
{
    return gcs_retry_decide(status, f, idem, ra,
                            status ? gcs_http_classify_status(status, idem ? "PATCH" : "POST",
                                                              NULL, NULL)
                                   : GCS_HTTP_TRANSPORT_ERROR);
}

static void what_is_retried(void **state)
{
    (void)state;
    assert_int_equal(decide(429, 0, true, 5).retry, GCS_RETRY_RATE_LIMIT);
    assert_int_equal(decide(429, 0, false, -1).retry, GCS_RETRY_RATE_LIMIT);
    assert_int_equal(decide(503, 0, false, -1).retry, GCS_RETRY_SERVER);
    assert_int_equal(decide(502, 0, true, -1).retry, GCS_RETRY_SERVER);
    assert_int_equal(decide(504, 0, true, -1).retry, GCS_RETRY_SERVER);
    assert_int_equal(decide(500, 0, true, -1).retry, GCS_RETRY_SERVER);
    assert_int_equal(decide(0, GCS_TRANSPORT_CONNECT, false, -1).retry, GCS_RETRY_CONNECT);
    assert_int_equal(decide(0, GCS_TRANSPORT_DROPPED, true, -1).retry, GCS_RETRY_DROPPED);
    assert_int_equal(decide(0, GCS_TRANSPORT_TIMEOUT, true, -1).retry, GCS_RETRY_TIMEOUT);
    assert_int_equal(decide(400, 0, true, -1).retry, GCS_RETRY_NONE);
    assert_int_equal(decide(404, 0, true, -1).retry, GCS_RETRY_NONE);
    assert_int_equal(decide(0, GCS_TRANSPORT_TOO_LARGE, true, -1).retry, GCS_RETRY_NONE);
}

static void a_post_is_never_blindly_repeated(void **state)
{
    (void)state;
    gcs_retry_verdict v = decide(0, GCS_TRANSPORT_DROPPED, false, -1);
    assert_int_equal(v.retry, GCS_RETRY_NONE);
    assert_int_equal(v.outcome, GCS_HTTP_OUTCOME_UNKNOWN);
    v = decide(0, GCS_TRANSPORT_TIMEOUT, false, -1);
    assert_int_equal(v.outcome, GCS_HTTP_OUTCOME_UNKNOWN);
    v = decide(504, 0, false, -1);
    assert_int_equal(v.retry, GCS_RETRY_NONE);
    assert_int_equal(v.outcome, GCS_HTTP_OUTCOME_UNKNOWN);
    v = decide(500, 0, false, -1);
    assert_int_equal(v.retry, GCS_RETRY_NONE);
    assert_int_equal(v.outcome, GCS_HTTP_SERVER_ERROR);
}

static void a_long_retry_after_is_a_daily_limit(void **state)
{
    (void)state;
    gcs_retry_verdict v = decide(429, 0, true, 181);
    assert_int_equal(v.retry, GCS_RETRY_NONE);
    assert_int_equal(v.outcome, GCS_HTTP_DAILY_LIMIT);
    assert_int_equal(decide(429, 0, true, 180).retry, GCS_RETRY_RATE_LIMIT);
}

static void backoff_is_exponential_with_full_jitter(void **state)
{
    (void)state;
    /* The largest random value reaches the ceiling; zero gives no wait. */
    assert_int_equal(gcs_retry_backoff_us(1, 250000, 15000000, 250000), 250000);
    assert_int_equal(gcs_retry_backoff_us(3, 250000, 15000000, 1000000), 1000000);
    assert_int_equal(gcs_retry_backoff_us(3, 250000, 15000000, 0), 0);
    assert_int_equal(gcs_retry_backoff_us(20, 250000, 15000000, 15000000), 15000000);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 1000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t d = gcs_retry_backoff_us(4, 250000, 15000000, x);
        assert_in_range(d, 0, 2000000);
    }
}

/* ==== Breaker ==== */

static void breaker_opens_probes_and_closes(void **state)
{
    (void)state;
    gcs_breaker b;
    int64_t wake = 0;
    gcs_breaker_init(&b, 3, 1000);
    assert_true(gcs_breaker_allow(&b, 0, &wake));
    gcs_breaker_on_failure(&b, 0, false);
    gcs_breaker_on_failure(&b, 0, false);
    gcs_breaker_on_success(&b, false); /* a success breaks the run */
    gcs_breaker_on_failure(&b, 0, false);
    gcs_breaker_on_failure(&b, 0, false);
    assert_int_equal(b.state, GCS_BREAKER_CLOSED);
    gcs_breaker_on_failure(&b, 10, false);
    assert_int_equal(b.state, GCS_BREAKER_OPEN);
    assert_false(gcs_breaker_allow(&b, 500, &wake));
    assert_int_equal(wake, 1010);
    /* Cool-down over: one probe, and only one. */
    assert_true(gcs_breaker_allow(&b, 1010, &wake));
    assert_int_equal(b.state, GCS_BREAKER_HALF_OPEN);
    gcs_breaker_on_probe_sent(&b);
    assert_false(gcs_breaker_allow(&b, 1011, &wake));
    /* The probe fails: open again, a second trip. */
    gcs_breaker_on_failure(&b, 1100, true);
    assert_int_equal(b.state, GCS_BREAKER_OPEN);
    assert_int_equal(b.trips, 2);
    assert_true(gcs_breaker_allow(&b, 2100, &wake));
    gcs_breaker_on_probe_sent(&b);
    /* A straggler's success proves nothing; the probe's does. */
    gcs_breaker_on_success(&b, false);
    assert_int_equal(b.state, GCS_BREAKER_HALF_OPEN);
    gcs_breaker_on_success(&b, true);
    assert_int_equal(b.state, GCS_BREAKER_CLOSED);
    assert_int_equal(b.trips, 0);
    assert_int_equal(b.opened_total, 2);
}

static void breaker_with_no_threshold_never_opens(void **state)
{
    (void)state;
    gcs_breaker b;
    gcs_breaker_init(&b, 0, 1000);
    for (int i = 0; i < 100; i++)
        gcs_breaker_on_failure(&b, i, false);
    assert_true(gcs_breaker_allow(&b, 100, NULL));
    assert_string_equal(gcs_breaker_state_name(b.state), "closed");
}

/* ==== Answer headers ==== */

static void feed(gcs_http_answer_headers *h, const char *line)
{
    gcs_http_headers_parse_line(h, line, strlen(line));
}

static void answer_headers_are_read(void **state)
{
    (void)state;
    gcs_http_answer_headers h;
    gcs_http_headers_reset(&h);
    feed(&h, "HTTP/1.1 429 Too Many Requests\r\n");
    feed(&h, "Retry-After: 42\r\n");
    feed(&h, "ININ-RATELIMIT-COUNT: 300\r\n");
    feed(&h, "inin-ratelimit-allowed:300\r\n");
    feed(&h, "inin-ratelimit-reset:  7 \r\n");
    feed(&h, "ETag: \"17\"\r\n");
    feed(&h, "ININ-Correlation-Id: abc-123\r\n");
    feed(&h, "content-type: application/scim+json; charset=utf-8\r\n");
    /* Other lines, those whose names begin or end like one read included, change nothing. */
    feed(&h, "ETagged: \"99\"\r\n");
    feed(&h, "X-ETag: \"98\"\r\n");
    feed(&h, "inin-ratelimit-counts: 5\r\n");
    feed(&h, "Content-Length: 12\r\n");
    feed(&h, "Date: Wed, 21 Oct 2015 07:28:00 GMT\r\n");
    assert_string_equal(h.content_type, "application/scim+json; charset=utf-8");
    assert_int_equal(h.retry_after, 42);
    assert_int_equal(h.rl_count, 300);
    assert_int_equal(h.rl_allowed, 300);
    assert_int_equal(h.rl_reset, 7);
    assert_string_equal(h.etag, "\"17\"");
    assert_string_equal(h.correlation_id, "abc-123");
    /* A date is not a number of seconds; a huge number stays huge. */
    feed(&h, "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n");
    assert_int_equal(h.retry_after, -1);
    feed(&h, "Retry-After: 99999999999999999999\r\n");
    assert_int_equal(h.retry_after, GCS_HTTP_HEADER_NUMBER_MAX);
    feed(&h, "inin-ratelimit-count: -3\r\n");
    assert_int_equal(h.rl_count, -1);
    /* The next answer starts clean. */
    feed(&h, "HTTP/1.1 200 OK\r\n");
    assert_int_equal(h.retry_after, -1);
    assert_string_equal(h.etag, "");
}

int main(void)
{
    gcs_test_deadline(30);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_conflicts_in_all_three_shapes),
        cmocka_unit_test(uniqueness_and_other_answers),
        cmocka_unit_test(forbidden_names_the_missing_scope),
        cmocka_unit_test(routes_are_templated),
        cmocka_unit_test(what_is_retried),
        cmocka_unit_test(a_post_is_never_blindly_repeated),
        cmocka_unit_test(a_long_retry_after_is_a_daily_limit),
        cmocka_unit_test(backoff_is_exponential_with_full_jitter),
        cmocka_unit_test(breaker_opens_probes_and_closes),
        cmocka_unit_test(breaker_with_no_threshold_never_opens),
        cmocka_unit_test(answer_headers_are_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
