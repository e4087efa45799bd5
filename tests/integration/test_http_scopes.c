/* A missing OAuth scope, against the emulator's scoped clients: the first 403
 * stops the client, costs one call, and the message names the scope needed. */
#include "http_fixture.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* A token with reads only: every write is a 403. The engine knows reads work
 * (a GET first), then is given 200 writes: exactly one goes on the wire. */
static void missing_write_scope_costs_one_call(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 16};
    gcs_http_fixture_start(&f, 10,
                             (const char *const[]){"--rate-limit", "0", "--client-scopes",
                                                   GCS_FIXTURE_CLIENT_ID "=scim:readonly", NULL},
                             &o, NULL);
    gcs_http_client_response res;
    gcs_http_client_request get = {.method = "GET", .path = "/api/v2/scim/v2/users?count=1"};
    assert_int_equal(gcs_http_call(&res, f.client, &get), 0);
    gcs_http_client_response_release(&res);
    gcs_http_stats before;
    gcs_http_client_stats(&before, f.client);

    gcs_http_fixture_submit_patches(&f, 200, &t);
    assert_int_equal(gcs_http_run(f.client), GCS_EFORBIDDEN);
    const char *msg = gcs_error_last();
    print_message("%s\n", msg);
    assert_non_null(strstr(msg, "PATCH /api/v2/scim/v2/users/"));
    assert_non_null(strstr(msg, "403"));
    assert_non_null(strstr(msg, "needs the 'scim' scope"));
    assert_non_null(strstr(msg, "the run stops"));
    assert_null(strstr(msg, "***"));

    gcs_http_stats after;
    gcs_http_client_stats(&after, f.client);
    assert_int_equal(after.sent - before.sent, 1);
    /* Every call still finishes, exactly once. */
    assert_int_equal(t.done, 200);
    assert_int_equal(t.by_outcome[GCS_HTTP_FORBIDDEN], 200);
    assert_int_equal(t.statuses[403], 1);

    /* The stop is final: a later call is not sent either. */
    assert_int_equal(gcs_http_call(&res, f.client, &get), GCS_EFORBIDDEN);
    gcs_http_client_response_release(&res);
    gcs_http_client_stats(&after, f.client);
    assert_int_equal(after.sent - before.sent, 1);
    gcs_http_fixture_stop(&f);
}

/* A fresh client with 50 reads queued and a token without any SCIM scope: one
 * read goes (the first answer is awaited, for the rate limit and the scope),
 * and its 403 names both scopes that grant reads. */
static void first_call_of_a_scope_goes_alone(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 16};
    gcs_http_fixture_start(&f, 10,
                             (const char *const[]){"--rate-limit", "0", "--client-scopes",
                                                   GCS_FIXTURE_CLIENT_ID "=groups", NULL},
                             &o, NULL);
    for (int i = 0; i < 50; i++) {
        gcs_http_client_request get = {.method = "GET", .path = "/api/v2/scim/v2/users?count=1"};
        assert_int_equal(gcs_http_submit(f.client, &get, gcs_engine_tally_add, &t), 0);
    }
    assert_int_equal(gcs_http_run(f.client), GCS_EFORBIDDEN);
    const char *msg = gcs_error_last();
    print_message("%s\n", msg);
    /* The mangled form was "authorization:***'…:***' scope)": words stay words. */
    assert_non_null(strstr(msg, "needs the 'scim' or 'scim:readonly' scope"));
    assert_null(strstr(msg, "***"));
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    assert_int_equal(st.sent, 1);
    assert_int_equal(t.done, 50);
    gcs_http_fixture_stop(&f);
}

/* The role lookup's scope, which the old redaction took for a credential. */
static void role_lookup_names_authorization_readonly(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_fixture_start(&f, 1,
                             (const char *const[]){"--rate-limit", "0", "--client-scopes",
                                                   GCS_FIXTURE_CLIENT_ID "=scim", NULL},
                             NULL, NULL);
    gcs_http_client_response res;
    gcs_http_client_request get = {.method = "GET", .path = "/api/v2/authorization/roles?pageSize=1"};
    assert_int_equal(gcs_http_call(&res, f.client, &get), GCS_EFORBIDDEN);
    print_message("%s\n", res.message);
    assert_non_null(strstr(res.message, "'authorization:readonly' scope"));
    assert_null(strstr(res.message, "***"));
    gcs_http_client_response_release(&res);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_write_scope_costs_one_call),
        cmocka_unit_test(first_call_of_a_scope_goes_alone),
        cmocka_unit_test(role_lookup_names_authorization_readonly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
