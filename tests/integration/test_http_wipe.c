/*
 * Secrets are overwritten before their memory is freed: the request body of a
 * sensitive call, the token answer (and jansson's copies of it), the header
 * lines that carry credentials, a secure buffer that grows.
 *
 * This program is linked with -Wl,--wrap=free: every free() called from the
 * library and the tests goes through record_free first, which looks into the
 * block for the markers below. jansson's frees reach it through the wiping
 * allocator the program installs (gcs_redact_wipe_json_frees). libcurl's own
 * frees are out of sight: what curl copies is curl's business.
 */
#include "http_fixture.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/redact.h"

void __real_free(void *p);
void __wrap_free(void *p);

#define PASSWORD_MARK "Pw-marker-7f3a9c"

static const char *watched[4];
static int unwiped[4];
static long frees_seen;

void __wrap_free(void *p)
{
    if (p) {
        size_t n = malloc_usable_size(p);
        frees_seen++;
        for (int i = 0; i < 4; i++) {
            if (watched[i] && memmem(p, n, watched[i], strlen(watched[i])))
                unwiped[i]++;
        }
    }
    __real_free(p);
}

static void watch(int slot, const char *text)
{
    watched[slot] = text;
    unwiped[slot] = 0;
}

static char token_copy[256]; /* static: the test's own copy is no free() */

static void keep_token(const gcs_http_client_response *res, void *payload)
{
    (void)payload;
    const char *t = json_string_value(json_object_get(res->json, "access_token"));
    assert_non_null(t);
    snprintf(token_copy, sizeof token_copy, "%s", t);
}

static void ignore(const gcs_http_client_response *res, void *payload)
{
    (void)res;
    (void)payload;
}

/* The hook sees what it should: an unwiped free of a marker is counted. */
static void the_hook_sees_unwiped_frees(void **state)
{
    (void)state;
    watch(0, PASSWORD_MARK);
    char *s = strdup("{\"password\":\"" PASSWORD_MARK "\"}");
    free(s);
    assert_int_equal(unwiped[0], 1);
    /* A plain buffer that grows leaves its old block as it was... */
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_buf_puts(&b, PASSWORD_MARK), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(gcs_buf_puts(&b, "padding-padding-"), 0);
    gcs_buf_release(&b);
    assert_true(unwiped[0] >= 2);
    /* ...a secure one never does. */
    watch(0, PASSWORD_MARK);
    gcs_buf_init_secure(&b, 0);
    assert_int_equal(gcs_buf_puts(&b, PASSWORD_MARK), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(gcs_buf_puts(&b, "padding-padding-"), 0);
    gcs_buf_release(&b);
    assert_int_equal(unwiped[0], 0);
    watch(0, NULL);
}

/* A token fetch and a password-bearing create, both sensitive, through the
 * engine against the emulator: not one freed block holds the secrets. */
static void sensitive_calls_leave_nothing_behind(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_fixture_start(&f, 2, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    gcs_http_client *c;
    gcs_http_client_options o = {.api_url = f.emu.api_url, .login_url = f.emu.login_url};
    assert_int_equal(gcs_http_client_new(&c, &o), 0);

    /* The Basic credential of the fixture's client. */
    const char *basic = "Authorization: Basic ZW5naW5lLXRlc3Q6czNjcmV0LUVuZ2luZS1UZXN0LXZhbHVl";
    watch(1, "ZW5naW5lLXRlc3Q6czNjcmV0LUVuZ2luZS1UZXN0LXZhbHVl");
    watch(3, "access_token"); /* the token answer, before its token is known */
    const char *login_headers[] = {basic, NULL};
    gcs_http_client_request login = {
        .method = "POST",
        .path = "/oauth/token",
        .body = "grant_type=client_credentials",
        .content_type = "application/x-www-form-urlencoded",
        .flags = GCS_HTTP_REQ_LOGIN,
        .headers = login_headers,
        .sensitive = true,
    };
    assert_int_equal(gcs_http_submit(c, &login, keep_token, NULL), 0);
    assert_int_equal(gcs_http_run(c), 0);
    assert_int_equal(strlen(token_copy), 64);
    watch(2, token_copy);

    char bearer[300];
    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", token_copy);
    const char *api_headers[] = {bearer, NULL};
    watch(0, PASSWORD_MARK);
    gcs_http_client_request create = {
        .method = "POST",
        .path = "/api/v2/scim/v2/users",
        .body = "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                "\"userName\":\"wipe@example.com\",\"displayName\":\"Wipe Test\","
                "\"password\":\"" PASSWORD_MARK "\"}",
        .headers = api_headers,
        .sensitive = true,
    };
    assert_int_equal(gcs_http_submit(c, &create, ignore, NULL), 0);
    /* The same token once more, through the JSON path of a sensitive body. */
    json_t *patch = json_pack("{s:[s],s:[{s:s,s:s,s:s}]}", "schemas",
                              "urn:ietf:params:scim:api:messages:2.0:PatchOp", "Operations", "op",
                              "replace", "path", "title", "value", "Wiper");
    char path[128];
    gcs_http_fixture_user_id(path, sizeof path, 0);
    char full[200];
    snprintf(full, sizeof full, "/api/v2/scim/v2/users/%s", path);
    gcs_http_client_request upd = {
        .method = "PATCH", .path = full, .json = patch, .headers = api_headers, .sensitive = true};
    assert_int_equal(gcs_http_submit(c, &upd, ignore, NULL), 0);
    json_decref(patch);
    assert_int_equal(gcs_http_run(c), 0);
    gcs_http_client_free(c);

    print_message("frees seen %ld; unwiped: password %d, basic %d, token %d, answer %d\n",
                  frees_seen, unwiped[0], unwiped[1], unwiped[2], unwiped[3]);
    assert_true(frees_seen > 50);
    assert_int_equal(unwiped[0], 0);
    assert_int_equal(unwiped[1], 0);
    assert_int_equal(unwiped[2], 0);
    assert_int_equal(unwiped[3], 0);
    watch(3, NULL);
    watch(0, NULL);
    watch(1, NULL);
    watch(2, NULL);
    gcs_http_fixture_stop(&f);
}

/* Without the flag, the same create leaves its body as it was: the flag is
 * what wipes. */
static void without_the_flag_nothing_is_wiped(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_fixture_start(&f, 1, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    watch(0, PASSWORD_MARK);
    gcs_http_client_request create = {
        .method = "POST",
        .path = "/api/v2/scim/v2/users",
        .body = "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                "\"userName\":\"plain@example.com\",\"displayName\":\"Plain\","
                "\"password\":\"" PASSWORD_MARK "\"}",
    };
    assert_int_equal(gcs_http_submit(f.client, &create, ignore, NULL), 0);
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_true(unwiped[0] >= 1);
    watch(0, NULL);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    gcs_redact_wipe_json_frees();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_hook_sees_unwiped_frees),
        cmocka_unit_test(sensitive_calls_leave_nothing_behind),
        cmocka_unit_test(without_the_flag_nothing_is_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
