/* Server faults, dropped connections and the circuit breaker, against the
 * emulator: every request ends done or with the right classification. */
#include "engine_fixture.h"

#include <stdio.h>
#include <string.h>

#include "core/time.h"

static const gcs_http_client_options fast_retries = {
    .backoff_base_ms = 10, .backoff_cap_ms = 200, .max_attempts = 8, .max_in_flight = 8};

static void submit_creates(gcs_engine_fixture *f, int n, gcs_engine_tally *t)
{
    for (int i = 0; i < n; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                 "\"userName\":\"created%d@example.com\",\"displayName\":\"Created %d\"}",
                 i, i);
        gcs_http_client_request req = {
            .method = "POST", .path = "/api/v2/scim/v2/users", .body = body};
        assert_int_equal(gcs_http_submit(f->client, &req, gcs_engine_tally_add, t), 0);
    }
}

static void twenty_percent_server_faults(void **state)
{
    (void)state;
    gcs_engine_fixture f;
    gcs_engine_tally patches = {0}, creates = {0};
    gcs_engine_fixture_start(&f, 20,
                             (const char *const[]){"--rate-limit", "0", "--fault-rate", "0.2",
                                                   "--fault-seed", "42", NULL},
                             &fast_retries, NULL);
    gcs_engine_fixture_submit_patches(&f, 200, &patches);
    submit_creates(&f, 40, &creates);
    assert_int_equal(gcs_http_run(f.client), 0);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    print_message("faults: patches ok %d; creates ok %d unknown %d server error %d; "
                  "retries server %llu dropped %llu\n",
                  patches.by_outcome[GCS_HTTP_OK], creates.by_outcome[GCS_HTTP_OK],
                  creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN],
                  creates.by_outcome[GCS_HTTP_SERVER_ERROR],
                  (unsigned long long)st.retries[GCS_RETRY_SERVER],
                  (unsigned long long)st.retries[GCS_RETRY_DROPPED]);
    /* Nothing lost. */
    assert_int_equal(patches.done, 200);
    assert_int_equal(creates.done, 40);
    /* Idempotent writes get through by retrying. */
    assert_int_equal(patches.by_outcome[GCS_HTTP_OK], 200);
    assert_true(patches.max_attempts > 1);
    assert_true(st.retries[GCS_RETRY_SERVER] > 0);
    /* A create is never repeated blindly: done, or reported for a look-up. */
    assert_int_equal(creates.by_outcome[GCS_HTTP_OK] +
                         creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN] +
                         creates.by_outcome[GCS_HTTP_SERVER_ERROR],
                     40);
    assert_true(creates.by_outcome[GCS_HTTP_OK] > 20);
    assert_int_equal(creates.by_outcome[GCS_HTTP_UNIQUENESS_CONFLICT], 0);
    assert_int_equal(st.breaker_state, GCS_BREAKER_CLOSED);
    gcs_engine_fixture_stop(&f);
}

static void dropped_connections(void **state)
{
    (void)state;
    gcs_engine_fixture f;
    gcs_engine_tally gets = {0}, creates = {0};
    gcs_engine_fixture_start(&f, 10,
                             (const char *const[]){"--rate-limit", "0", "--fault-seed", "7", NULL},
                             &fast_retries, NULL);
    gcs_engine_fixture_config(&f, "{\"fault_rate\":0.3,\"fault_kinds\":[\"drop\"]}");
    for (int i = 0; i < 100; i++) {
        char id[64], path[128];
        gcs_engine_fixture_user_id(id, sizeof id, i % 10);
        snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
        gcs_http_client_request req = {.method = "GET", .path = path};
        assert_int_equal(gcs_http_submit(f.client, &req, gcs_engine_tally_add, &gets), 0);
    }
    submit_creates(&f, 30, &creates);
    assert_int_equal(gcs_http_run(f.client), 0);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    print_message("drops: gets ok %d, creates ok %d unknown %d uniqueness %d transport %d, "
                  "dropped retries %llu\n",
                  gets.by_outcome[GCS_HTTP_OK], creates.by_outcome[GCS_HTTP_OK],
                  creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN],
                  creates.by_outcome[GCS_HTTP_UNIQUENESS_CONFLICT],
                  creates.by_outcome[GCS_HTTP_TRANSPORT_ERROR],
                  (unsigned long long)st.retries[GCS_RETRY_DROPPED]);
    assert_int_equal(gets.done, 100);
    assert_int_equal(gets.by_outcome[GCS_HTTP_OK], 100);
    assert_true(st.retries[GCS_RETRY_DROPPED] > 0);
    assert_int_equal(creates.done, 30);
    assert_int_equal(creates.by_outcome[GCS_HTTP_OK] + creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN],
                     30);
    assert_true(creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN] > 0);
    gcs_engine_fixture_stop(&f);
}

static void breaker_opens_and_closes(void **state)
{
    (void)state;
    gcs_engine_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = fast_retries;
    o.breaker_threshold = 5;
    o.breaker_cooldown_ms = 300;
    o.max_attempts = 20;
    o.breaker_max_trips = 100;
    gcs_engine_fixture_start(&f, 10, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    /* A token first, so that the login call is not what fails. */
    assert_int_equal(gcs_token_ensure(f.token, f.client), 0);
    gcs_engine_fixture_config(&f, "{\"fault_rate\":1.0,\"fault_kinds\":[\"503\"]}");
    gcs_engine_fixture_submit_patches(&f, 30, &t);
    gcs_http_stats st;
    int64_t deadline = gcs_time_mono_ms() + 10000;
    do {
        gcs_http_run_once(f.client, 50);
        gcs_http_client_stats(&st, f.client);
    } while (st.breaker_state != GCS_BREAKER_OPEN && gcs_time_mono_ms() < deadline);
    assert_int_equal(st.breaker_state, GCS_BREAKER_OPEN);
    /* While it is open, nothing new is sent, however much is queued. */
    uint64_t sent_at_open = st.sent;
    int64_t until = gcs_time_mono_ms() + 1000;
    while (gcs_time_mono_ms() < until)
        gcs_http_run_once(f.client, 50);
    gcs_http_client_stats(&st, f.client);
    /* one probe per cool-down of 300 ms, at most */
    assert_true(st.sent - sent_at_open <= 4);
    assert_int_equal(t.done, 0);
    /* The server recovers: the next probe closes the breaker and all goes. */
    gcs_engine_fixture_config(&f, "{\"fault_rate\":0}");
    assert_int_equal(gcs_http_run(f.client), 0);
    gcs_http_client_stats(&st, f.client);
    assert_int_equal(t.done, 30);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 30);
    assert_int_equal(st.breaker_state, GCS_BREAKER_CLOSED);
    assert_true(st.breaker_opened >= 1);
    json_t *js = gcs_http_client_stats_json(f.client);
    assert_string_equal(json_string_value(json_object_get(js, "breaker_state")), "closed");
    json_decref(js);
    gcs_engine_fixture_stop(&f);
}

static void breaker_gives_up_on_a_dead_server(void **state)
{
    (void)state;
    gcs_engine_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = fast_retries;
    o.breaker_threshold = 3;
    o.breaker_cooldown_ms = 100;
    o.breaker_max_trips = 3;
    o.max_attempts = 50;
    gcs_engine_fixture_start(&f, 5, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    assert_int_equal(gcs_token_ensure(f.token, f.client), 0);
    gcs_engine_fixture_config(&f, "{\"fault_rate\":1.0,\"fault_kinds\":[\"503\"]}");
    int64_t t0 = gcs_time_mono_ms();
    gcs_engine_fixture_submit_patches(&f, 20, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(t.done, 20);
    assert_int_equal(t.by_outcome[GCS_HTTP_BREAKER_OPEN], 20);
    assert_true(gcs_time_mono_ms() - t0 < 5000);
    gcs_engine_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(150);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(twenty_percent_server_faults),
        cmocka_unit_test(dropped_connections),
        cmocka_unit_test(breaker_opens_and_closes),
        cmocka_unit_test(breaker_gives_up_on_a_dead_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
