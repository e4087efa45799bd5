/* The request engine's on_start hook: called when a request goes on the wire,
 * not when it is queued; once per call (not per retry); a refusal completes the
 * call as cancelled without sending it. Apply marks a create in progress there,
 * so that a resume looks up only the creates that may have happened. */
#include "http_fixture.h"

#include <stdlib.h>
#include <string.h>

typedef struct starts {
    int calls;
    int in_flight_seen_max;
    int refuse_from; /* calls numbered from this one are refused; 0: none */
    gcs_http_fixture *f;
} starts;

typedef struct job_ctx {
    starts *s;
    gcs_engine_tally *t;
} job_ctx;

/* Gets the payload given to gcs_http_submit, as on_done does. */
static int on_start(void *payload)
{
    starts *s = ((job_ctx *)payload)->s;
    s->calls++;
    return s->refuse_from && s->calls >= s->refuse_from ? -1 : 0;
}

static void on_done(const gcs_http_client_response *res, void *payload)
{
    job_ctx *j = payload;
    gcs_engine_tally_add(res, j->t);
}

static void hook_runs_at_send_time_and_can_refuse(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_client_options o = {.max_in_flight = 2};
    gcs_http_fixture_start(
        &f, 4, (const char *const[]){"--rate-limit", "0", "--latency", "30", NULL}, &o, NULL);
    starts s = {.f = &f};
    gcs_engine_tally t = {0};
    job_ctx j = {&s, &t};
    enum { CALLS = 8 };
    for (int i = 0; i < CALLS; i++) {
        gcs_http_client_request req = {
            .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
        assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    }
    /* Queued is not started. */
    assert_int_equal(s.calls, 0);
    /* One turn of the loop: the token first, then at most two on the wire. */
    for (int k = 0; k < 50 && s.calls == 0; k++)
        gcs_http_run_once(f.client, 20);
    if (s.calls < 1 || s.calls > 2)
        fail_msg("%d started after the first turn", s.calls);
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(s.calls, CALLS);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], CALLS);

    /* Refused from the third on: those are never sent. */
    json_t *before = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    long sent_before = (long)json_integer_value(json_object_get(before, "requests"));
    json_decref(before);
    memset(&t, 0, sizeof t);
    s = (starts){.f = &f, .refuse_from = 3};
    for (int i = 0; i < CALLS; i++) {
        gcs_http_client_request req = {
            .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
        assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    }
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 2);
    assert_int_equal(t.by_outcome[GCS_HTTP_CANCELLED], CALLS - 2);
    json_t *after = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    assert_int_equal((long)json_integer_value(json_object_get(after, "requests")), sent_before + 2);
    json_decref(after);
    gcs_http_fixture_stop(&f);
}

static void hook_runs_once_across_retries(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_client_options o = {.backoff_base_ms = 5, .backoff_cap_ms = 20};
    gcs_http_fixture_start(&f, 4, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    /* Every answer a 503 (not carried out): the GET is retried to its limit. */
    gcs_http_fixture_config(&f, "{\"fault_rate\":1,\"fault_kinds\":[\"503\"]}");
    starts s = {.f = &f};
    gcs_engine_tally t = {0};
    job_ctx j = {&s, &t};
    gcs_http_client_request req = {
        .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
    assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    (void)gcs_http_run(f.client); /* every call failed: the engine may call it an outage */
    assert_int_equal(t.done, 1);
    assert_true(t.max_attempts > 1);
    assert_int_equal(s.calls, 1);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hook_runs_at_send_time_and_can_refuse),
        cmocka_unit_test(hook_runs_once_across_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
