/* Server faults, dropped connections and the circuit breaker, against the
 * emulator: every request ends done or with the right classification. */
#include "http_fixture.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "core/error.h"

#include "core/time.h"

static const gcs_http_client_options fast_retries = {
    .backoff_base_ms = 10, .backoff_cap_ms = 200, .max_attempts = 8, .max_in_flight = 8};

static void submit_creates(gcs_http_fixture *f, int n, gcs_engine_tally *t)
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
    gcs_http_fixture f;
    gcs_engine_tally patches = {0}, creates = {0};
    gcs_http_fixture_start(&f, 20,
                             (const char *const[]){"--rate-limit", "0", "--fault-rate", "0.2",
                                                   "--fault-seed", "42", NULL},
                             &fast_retries, NULL);
    gcs_http_fixture_submit_patches(&f, 200, &patches);
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
    /* The engine never retries a create by itself: done, or reported for a
     * look-up. (A drop on a reused connection may make libcurl resend one that
     * the server made already: 409, settled by apply with the run's marker.) */
    assert_int_equal(creates.by_outcome[GCS_HTTP_OK] +
                         creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN] +
                         creates.by_outcome[GCS_HTTP_SERVER_ERROR] +
                         creates.by_outcome[GCS_HTTP_UNIQUENESS_CONFLICT],
                     40);
    assert_true(creates.by_outcome[GCS_HTTP_OK] > 20);
    assert_int_equal(st.breaker_state, GCS_BREAKER_CLOSED);
    gcs_http_fixture_stop(&f);
}

static void dropped_connections(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally gets = {0}, creates = {0};
    gcs_http_fixture_start(&f, 10,
                             (const char *const[]){"--rate-limit", "0", "--fault-seed", "7", NULL},
                             &fast_retries, NULL);
    gcs_http_fixture_config(&f, "{\"fault_rate\":0.3,\"fault_kinds\":[\"drop\"]}");
    for (int i = 0; i < 100; i++) {
        char id[64], path[128];
        gcs_http_fixture_user_id(id, sizeof id, i % 10);
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
    /* Creates reuse connections: libcurl resends one whose reused connection
     * dropped before any answer, and the server may have made the user already,
     * so a create may end in 409 here. Apply settles that by the run's own
     * managed marker (a scenario with drops pins it); the engine never resends a
     * create by itself after an answer was lost: that is "outcome unknown". */
    assert_int_equal(creates.by_outcome[GCS_HTTP_OK] + creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN] +
                         creates.by_outcome[GCS_HTTP_UNIQUENESS_CONFLICT],
                     30);
    /* Some creates met a drop: unknown on a fresh connection, 409 when libcurl
     * resent one on a reused connection that the server had already made. */
    assert_true(creates.by_outcome[GCS_HTTP_OUTCOME_UNKNOWN] +
                    creates.by_outcome[GCS_HTTP_UNIQUENESS_CONFLICT] >
                0);
    /* Connections are reused through the faults: one per request in flight,
     * one for the token, and one more for each connection the server dropped. */
    json_t *emu = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    json_int_t drops = json_integer_value(json_object_get(json_object_get(emu, "faults"), "drop"));
    json_decref(emu);
    print_message("drops: %llu connections for %llu requests, %lld dropped\n",
                  (unsigned long long)st.connects, (unsigned long long)st.sent, (long long)drops);
    assert_true(drops > 0);
    if ((json_int_t)st.connects > fast_retries.max_in_flight + 1 + drops)
        fail_msg("%llu connections for %d in flight and %lld drops",
                 (unsigned long long)st.connects, fast_retries.max_in_flight, (long long)drops);
    gcs_http_fixture_stop(&f);
}

static void breaker_opens_and_closes(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = fast_retries;
    o.breaker_threshold = 5;
    o.breaker_cooldown_ms = 300;
    o.max_attempts = 20;
    o.breaker_max_trips = 100;
    gcs_http_fixture_start(&f, 10, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    /* A token first, so that the login call is not what fails. */
    assert_int_equal(gcs_token_ensure(f.token, f.client), 0);
    gcs_http_fixture_config(&f, "{\"fault_rate\":1.0,\"fault_kinds\":[\"503\"]}");
    gcs_http_fixture_submit_patches(&f, 30, &t);
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
    gcs_http_fixture_config(&f, "{\"fault_rate\":0}");
    assert_int_equal(gcs_http_run(f.client), 0);
    gcs_http_client_stats(&st, f.client);
    assert_int_equal(t.done, 30);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 30);
    assert_int_equal(st.breaker_state, GCS_BREAKER_CLOSED);
    assert_true(st.breaker_opened >= 1);
    json_t *js = gcs_http_client_stats_json(f.client);
    assert_string_equal(json_string_value(json_object_get(js, "breaker_state")), "closed");
    json_decref(js);
    gcs_http_fixture_stop(&f);
}

static void breaker_gives_up_on_a_dead_server(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = fast_retries;
    o.breaker_threshold = 3;
    o.breaker_cooldown_ms = 100;
    o.breaker_max_trips = 3;
    o.max_attempts = 50;
    gcs_http_fixture_start(&f, 5, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    assert_int_equal(gcs_token_ensure(f.token, f.client), 0);
    gcs_http_fixture_config(&f, "{\"fault_rate\":1.0,\"fault_kinds\":[\"503\"]}");
    int64_t t0 = gcs_time_mono_ms();
    gcs_http_fixture_submit_patches(&f, 20, &t);
    /* A total outage is its own code, with the reason, not a quiet 0. */
    assert_int_equal(gcs_http_run(f.client), GCS_EUNREACHABLE);
    print_message("%s\n", gcs_error_last());
    assert_non_null(strstr(gcs_error_last(), "Genesys unreachable: 127.0.0.1:"));
    assert_non_null(strstr(gcs_error_last(), "answered 503"));
    assert_int_equal(t.done, 20);
    assert_int_equal(t.by_outcome[GCS_HTTP_BREAKER_OPEN], 20);
    assert_true(gcs_time_mono_ms() - t0 < 5000);
    /* The stop is final: nothing more is sent. */
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    gcs_engine_tally more = {0};
    gcs_http_fixture_submit_patches(&f, 3, &more);
    assert_int_equal(gcs_http_run(f.client), GCS_EUNREACHABLE);
    assert_int_equal(more.by_outcome[GCS_HTTP_BREAKER_OPEN], 3);
    gcs_http_stats st2;
    gcs_http_client_stats(&st2, f.client);
    assert_int_equal(st2.sent, st.sent);
    gcs_http_fixture_stop(&f);
}

/* Every call of a run failed, before the breaker could give up: the run says
 * so, rather than finishing as if some had gone through. */
static void every_call_failed_is_a_total_outage(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = fast_retries;
    o.breaker_threshold = -1;
    o.max_attempts = 2;
    gcs_http_fixture_start(&f, 5, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    assert_int_equal(gcs_token_ensure(f.token, f.client), 0);
    gcs_http_fixture_config(&f, "{\"fault_rate\":1.0,\"fault_kinds\":[\"503\"]}");
    gcs_http_fixture_submit_patches(&f, 3, &t);
    assert_int_equal(gcs_http_run(f.client), GCS_EUNREACHABLE);
    print_message("%s\n", gcs_error_last());
    assert_non_null(strstr(gcs_error_last(), "every call failed: PATCH /api/v2/scim/v2/users/"));
    assert_int_equal(t.by_outcome[GCS_HTTP_SERVER_ERROR], 3);
    /* One answer that went through makes it a partial failure, not an outage. */
    gcs_http_fixture_config(&f, "{\"fault_rate\":0}");
    gcs_engine_tally ok = {0};
    gcs_http_fixture_submit_patches(&f, 2, &ok);
    assert_int_equal(gcs_http_run(f.client), 0);
    gcs_http_fixture_stop(&f);
}

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* While the breaker is open the process sleeps: CPU time stays a small share
 * of the wall time (it spun at about 80% before). */
static void open_breaker_waits_without_cpu(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = fast_retries;
    o.breaker_threshold = 3;
    o.breaker_cooldown_ms = 1500;
    o.breaker_max_trips = 100;
    o.max_attempts = 1000;
    o.retry_budget_ms = 600000;
    gcs_http_fixture_start(&f, 5, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    assert_int_equal(gcs_token_ensure(f.token, f.client), 0);
    gcs_http_fixture_config(&f, "{\"fault_rate\":1.0,\"fault_kinds\":[\"503\"]}");
    gcs_http_fixture_submit_patches(&f, 10, &t);
    int64_t wall0 = gcs_time_mono_us(), cpu0 = cpu_us();
    while (gcs_time_mono_us() - wall0 < 3000000)
        gcs_http_run_once(f.client, 1000);
    int64_t wall = gcs_time_mono_us() - wall0, cpu = cpu_us() - cpu0;
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    print_message("breaker open: cpu %lld us over %lld us of wall time (%.1f%%), %llu sends\n",
                  (long long)cpu, (long long)wall, 100.0 * (double)cpu / (double)wall,
                  (unsigned long long)st.sent);
    assert_true(st.breaker_opened >= 1);
    assert_true(cpu * 10 < wall);
    gcs_http_cancel(f.client);
    gcs_http_fixture_stop(&f);
}

/* Waiting out a Retry-After sleeps too. */
static void retry_after_waits_without_cpu(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = fast_retries;
    o.max_in_flight = 1;
    gcs_http_fixture_start(&f, 5, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    /* The engine learns there is no limit; then one appears: the 429s'
     * Retry-After is all there is to wait on. */
    gcs_http_client_response res;
    gcs_http_client_request get = {.method = "GET", .path = "/api/v2/scim/v2/users?count=1"};
    assert_int_equal(gcs_http_call(&res, f.client, &get), 0);
    gcs_http_client_response_release(&res);
    gcs_http_fixture_config(&f, "{\"rate_limit\":\"1/2\"}");
    gcs_http_fixture_submit_patches(&f, 2, &t);
    int64_t wall0 = gcs_time_mono_us(), cpu0 = cpu_us();
    assert_int_equal(gcs_http_run(f.client), 0);
    int64_t wall = gcs_time_mono_us() - wall0, cpu = cpu_us() - cpu0;
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    print_message("rate limit: cpu %lld us over %lld us of wall time (%.1f%%), %llu 429s\n",
                  (long long)cpu, (long long)wall, 100.0 * (double)cpu / (double)wall,
                  (unsigned long long)st.status_429);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 2);
    assert_true(st.status_429 >= 1);
    assert_true(wall > 1500000); /* it did wait */
    assert_true(cpu * 10 < wall);
    gcs_http_fixture_stop(&f);
}

/* A failure without an answer names the host and port, and what was done. */
static void unreachable_host_is_named(void **state)
{
    (void)state;
    gcs_http_client *c;
    gcs_http_client_options o = {.api_url = "http://127.0.0.1:1", .max_attempts = 1};
    assert_int_equal(gcs_http_client_new(&c, &o), 0);
    gcs_http_client_response res;
    gcs_http_client_request req = {.method = "GET", .path = "/api/v2/scim/v2/users"};
    assert_int_equal(gcs_http_call(&res, c, &req), GCS_ETRANSPORT);
    print_message("%s\n", res.message);
    assert_non_null(strstr(res.message, "GET /api/v2/scim/v2/users: transport error: "
                                        "cannot reach 127.0.0.1:1: "));
    assert_null(strstr(res.message, "***"));
    gcs_http_client_response_release(&res);
    gcs_http_client_free(c);
}

int main(void)
{
    gcs_test_deadline(150);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(twenty_percent_server_faults),
        cmocka_unit_test(dropped_connections),
        cmocka_unit_test(breaker_opens_and_closes),
        cmocka_unit_test(breaker_gives_up_on_a_dead_server),
        cmocka_unit_test(every_call_failed_is_a_total_outage),
        cmocka_unit_test(open_breaker_waits_without_cpu),
        cmocka_unit_test(retry_after_waits_without_cpu),
        cmocka_unit_test(unreachable_host_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
