/* Pacing against the emulator's rate limit: at the limit, not into it; one
 * shared pause after a storm of 429s; a daily limit stops the run. */
#include "http_fixture.h"

#include <string.h>

#include "core/error.h"
#include "core/time.h"

/* 24 calls against windows of 20 per 2 s: more than one window holds, so
 * the engine spends the first window's allowance less its reserve, then the
 * rest in the second. Little more than one window on purpose: calls sent at
 * the first window's end and counted in the second (the emulator descheduled
 * there, on a loaded machine) find the second holding only the rest, far
 * below the limit; over several windows each late count would eat into a
 * window the engine means to fill, and answer 429. */
static void runs_at_the_announced_limit(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_fixture_start(&f, 10, (const char *const[]){"--rate-limit", "20/2", NULL}, NULL,
                             NULL);
    int64_t t0 = gcs_time_mono_ms();
    gcs_http_fixture_submit_patches(&f, 24, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    int64_t ms = gcs_time_mono_ms() - t0;
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    print_message("24 calls at 20/2 s: %lld ms, %llu answered 429, pacing wait %llu ms\n",
                  (long long)ms, (unsigned long long)st.status_429,
                  (unsigned long long)st.pacing_wait_ms);
    assert_int_equal(t.done, 24);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 24);
    /* Not into it (unpaced, the first window overflows)... */
    assert_int_equal(st.status_429, 0);
    assert_true(st.allowed_rps > 9.9 && st.allowed_rps < 10.1);
    /* ...nor below it: the first window's allowance is spread over it, the
     * rest goes when the second begins. Its end is at most 2 s after the
     * first answer; the bound leaves as much again for a loaded machine. */
    assert_true(st.pacing_wait_ms > 0);
    assert_true(ms <= 6000);
    gcs_http_fixture_stop(&f);
}

static void a_storm_of_429s_is_one_shared_pause(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 16};
    gcs_http_fixture_start(&f, 10, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    gcs_http_fixture_submit_patches(&f, 60, &t);
    int64_t deadline = gcs_time_mono_ms() + 10000;
    while (t.done < 20 && gcs_time_mono_ms() < deadline)
        gcs_http_run_once(f.client, 100);
    /* The limit drops under the engine's feet: the window already holds more
     * than the new limit, so everything in flight bounces. */
    gcs_http_fixture_config(&f, "{\"rate_limit\":\"10/2\"}");
    int64_t t0 = gcs_time_mono_ms();
    int done0 = t.done;
    assert_int_equal(gcs_http_run(f.client), 0);
    int64_t ms = gcs_time_mono_ms() - t0;
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    json_t *emu = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    long long emu_429 = (long long)json_integer_value(json_object_get(emu, "rate_limited"));
    json_decref(emu);
    print_message("storm: %llu 429s seen, emulator sent %lld, %llu retries; "
                  "%d calls in %lld ms after the change\n",
                  (unsigned long long)st.status_429, emu_429,
                  (unsigned long long)st.retries[GCS_RETRY_RATE_LIMIT], 60 - done0,
                  (long long)ms);
    assert_int_equal(t.done, 60);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 60);
    assert_true(st.status_429 >= 1);
    assert_int_equal((long long)st.status_429, emu_429);
    /* One pause for everybody: at most what was in flight bounced, plus a few
     * at window edges; not one 429 per request per retry. */
    assert_true(st.status_429 <= 16 + 4);
    /* And then at the new limit (5 a second), not below it. */
    assert_true(ms <= (60 - done0) * 200 + 3000);
    gcs_http_fixture_stop(&f);
}

static void a_429_without_retry_after_pauses_three_seconds(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 4};
    gcs_http_fixture_start(&f, 10, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    gcs_http_fixture_submit_patches(&f, 12, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    /* The other documented 429: code too.many.requests, no Retry-After. The
     * window already holds 12, more than the new limit. */
    gcs_http_fixture_config(&f, "{\"rate_limit\":\"10/5\",\"retry_after\":false}");
    int64_t t0 = gcs_time_mono_ms();
    gcs_http_fixture_submit_patches(&f, 8, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    int64_t ms = gcs_time_mono_ms() - t0;
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 20);
    assert_true(st.status_429 >= 1 && st.status_429 <= 4);
    assert_true(ms >= 2900); /* one pause of 3 s for all four in flight */
    assert_true(ms <= 12000); /* then 8 calls spread over the next 5 s window */
    gcs_http_fixture_stop(&f);
}

static void a_daily_limit_stops_the_run(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 2};
    gcs_http_fixture_start(&f, 5, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    gcs_http_fixture_submit_patches(&f, 5, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    /* A quota the window headers did not announce runs out: the answer says to
     * come back in ten minutes. */
    gcs_http_fixture_config(&f, "{\"rate_limit\":\"3/600\"}");
    int64_t t0 = gcs_time_mono_ms();
    gcs_http_fixture_submit_patches(&f, 20, &t);
    assert_int_equal(gcs_http_run(f.client), GCS_EDAILYLIMIT);
    int64_t ms = gcs_time_mono_ms() - t0;
    assert_int_equal(t.done, 25);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 5);
    assert_int_equal(t.by_outcome[GCS_HTTP_DAILY_LIMIT], 20);
    assert_true(ms < 5000); /* stopped, not waiting ten minutes */
    /* Later submissions fail the same way at once. */
    gcs_http_client_response res;
    gcs_http_client_request req = {.method = "GET", .path = "/api/v2/scim/v2/users?count=0"};
    assert_int_equal(gcs_http_call(&res, f.client, &req), GCS_EDAILYLIMIT);
    assert_non_null(strstr(res.message, "daily"));
    gcs_http_client_response_release(&res);
    gcs_http_fixture_stop(&f);
}

static void user_ceiling_is_honoured(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_rps = 25};
    gcs_http_fixture_start(&f, 10, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    int64_t t0 = gcs_time_mono_ms();
    gcs_http_fixture_submit_patches(&f, 50, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    int64_t ms = gcs_time_mono_ms() - t0;
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 50);
    assert_true(ms >= 1900); /* 49 gaps of 40 ms */
    assert_true(ms <= 4000);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_at_the_announced_limit),
        cmocka_unit_test(a_storm_of_429s_is_one_shared_pause),
        cmocka_unit_test(a_429_without_retry_after_pauses_three_seconds),
        cmocka_unit_test(a_daily_limit_stops_the_run),
        cmocka_unit_test(user_ceiling_is_honoured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
