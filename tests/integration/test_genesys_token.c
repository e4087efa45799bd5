/* The token manager against the emulator: short-lived tokens, revoked tokens,
 * wrong credentials; no secret in any log line. */
#include "http_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

static gcs_buf log_lines;

static void capture(gcs_log_level level, const char *line, void *payload)
{
    (void)level;
    (void)payload;
    assert_int_equal(gcs_buf_puts(&log_lines, line), 0);
    assert_int_equal(gcs_buf_putc(&log_lines, '\n'), 0);
}

static int setup(void **state)
{
    (void)state;
    gcs_buf_init(&log_lines, 64u << 20);
    gcs_log_set_level(GCS_LOG_DEBUG);
    gcs_log_set_sink(capture, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gcs_log_set_sink(NULL, NULL);
    gcs_log_set_level(GCS_LOG_INFO);
    /* Neither the secret nor the Basic credential ever reached a log line. */
    assert_null(strstr(log_lines.ptr, GCS_FIXTURE_SECRET));
    assert_null(strstr(log_lines.ptr, "ZW5naW5lLXRlc3Q6")); /* base64("engine-test:") */
    gcs_buf_release(&log_lines);
    return 0;
}

static void wrong_credentials_fail_fast_and_clearly(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_fixture_start(&f, 5, NULL, NULL, "not-the-right-secret");
    int64_t t0 = gcs_time_mono_ms();
    gcs_http_fixture_submit_patches(&f, 10, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    int64_t ms = gcs_time_mono_ms() - t0;
    assert_int_equal(t.done, 10);
    assert_int_equal(t.by_outcome[GCS_HTTP_UNAUTHORISED], 10);
    assert_true(ms < 2000);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    assert_int_equal(st.token_requests, 1); /* asked once, never again */
    assert_int_equal(st.sent, 0);           /* no API call without a token */
    /* A later check says the same, at once. */
    assert_int_equal(gcs_token_ensure(f.token, f.client), GCS_EAUTH);
    assert_non_null(strstr(gcs_error_last(), "credentials rejected"));
    assert_null(strstr(gcs_error_last(), "not-the-right-secret"));
    gcs_http_client_response res;
    gcs_http_client_request req = {.method = "GET", .path = "/api/v2/scim/v2/users?count=0"};
    assert_int_equal(gcs_http_call(&res, f.client, &req), GCS_EAUTH);
    gcs_http_client_response_release(&res);
    gcs_http_fixture_stop(&f);
}


/* A login host that cannot be reached is named, with its port; the message
 * is not mangled by the redaction layer (it read "(*** error: …)"). */
static void unreachable_login_host_is_named(void **state)
{
    (void)state;
    gcs_token *tok;
    gcs_http_client *c;
    assert_int_equal(gcs_token_new(&tok, GCS_FIXTURE_CLIENT_ID, GCS_FIXTURE_SECRET), 0);
    gcs_http_client_options o = {.api_url = "http://127.0.0.1:1",
                                 .max_attempts = 1,
                                 .auth = gcs_token_auth(tok)};
    assert_int_equal(gcs_http_client_new(&c, &o), 0);
    assert_true(gcs_token_ensure(tok, c) < 0);
    const char *m = gcs_error_last();
    print_message("%s\n", m);
    assert_non_null(strstr(m, "POST /oauth/token: transport error: cannot reach 127.0.0.1:1: "));
    assert_null(strstr(m, "***"));
    gcs_http_client_free(c);
    gcs_token_free(tok);
}

static void a_token_that_expires_every_two_seconds(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_rps = 40};
    gcs_http_fixture_start(
        &f, 20, (const char *const[]){"--rate-limit", "0", "--token-ttl", "2", NULL}, &o, NULL);
    gcs_http_fixture_submit_patches(&f, 240, &t); /* about 6 s */
    assert_int_equal(gcs_http_run(f.client), 0);
    gcs_token_stats ts;
    gcs_token_get_stats(&ts, f.token);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    print_message("ttl 2 s: tokens %llu, refused %llu, auth replays %llu\n",
                  (unsigned long long)ts.obtained, (unsigned long long)ts.rejected,
                  (unsigned long long)st.retries[GCS_RETRY_AUTH]);
    assert_int_equal(t.done, 240);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 240);
    assert_true(ts.obtained >= 3);
    /* Refreshed ahead of expiry: refusals are the exception, not the rule. */
    assert_true(st.retries[GCS_RETRY_AUTH] <= 5);
    gcs_http_fixture_stop(&f);
}

static void short_tokens_under_a_rate_limit(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    /* Each token has a window of its own: the pacer follows them. */
    gcs_http_fixture_start(&f, 20,
                             (const char *const[]){"--rate-limit", "30/3", "--token-ttl", "3",
                                                   NULL},
                             NULL, NULL);
    int64_t t0 = gcs_time_mono_ms();
    gcs_http_fixture_submit_patches(&f, 70, &t); /* about 7 s at 10 a second */
    assert_int_equal(gcs_http_run(f.client), 0);
    int64_t ms = gcs_time_mono_ms() - t0;
    gcs_token_stats ts;
    gcs_token_get_stats(&ts, f.token);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    print_message("ttl 3 s at 30/3 s: %lld ms, tokens %llu, 429s %llu, auth replays %llu\n",
                  (long long)ms, (unsigned long long)ts.obtained,
                  (unsigned long long)st.status_429,
                  (unsigned long long)st.retries[GCS_RETRY_AUTH]);
    assert_int_equal(t.done, 70);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 70);
    assert_true(ts.obtained >= 2);
    assert_true(st.status_429 <= 2);
    assert_true(ms <= 12000); /* at the limit, not crawling after each new token */
    gcs_http_fixture_stop(&f);
}

static void a_revoked_token_is_replaced_once(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 8};
    /* Paced to a limit, so that the new token's own window must be followed. */
    gcs_http_fixture_start(&f, 20, (const char *const[]){"--rate-limit", "200/5", NULL}, &o,
                             NULL);
    gcs_http_fixture_submit_patches(&f, 150, &t);
    int64_t deadline = gcs_time_mono_ms() + 10000;
    while (t.done < 50 && gcs_time_mono_ms() < deadline)
        gcs_http_run_once(f.client, 50);
    gcs_http_fixture_admin_post(&f, "/_emulator/revoke-tokens");
    assert_int_equal(gcs_http_run(f.client), 0);
    gcs_token_stats ts;
    gcs_token_get_stats(&ts, f.token);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    assert_int_equal(t.done, 150);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 150);
    assert_int_equal(ts.obtained, 2); /* one refresh for everybody */
    assert_int_equal(ts.rejected, 1);
    assert_true(st.retries[GCS_RETRY_AUTH] >= 1);
    assert_true(st.token_requests == 2);
    assert_true(st.status_429 <= 2);
    json_t *emu = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    assert_int_equal(json_integer_value(json_object_get(emu, "tokens_issued")), 2);
    json_decref(emu);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(wrong_credentials_fail_fast_and_clearly, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_login_host_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(a_token_that_expires_every_two_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(short_tokens_under_a_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_revoked_token_is_replaced_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
