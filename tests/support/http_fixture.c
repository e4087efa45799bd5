#include "http_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

void gcs_http_fixture_user_id(char *out, size_t outsz, int i)
{
    snprintf(out, outsz, "00000000-0000-4000-8000-%012d", i);
}

static char *seed_text(int n_users)
{
    json_t *users = json_array();
    for (int i = 0; i < n_users; i++) {
        char id[64], name[64], display[64];
        gcs_http_fixture_user_id(id, sizeof id, i);
        snprintf(name, sizeof name, "user%d@example.com", i);
        snprintf(display, sizeof display, "User %d", i);
        json_array_append_new(users, json_pack("{s:s,s:s,s:s,s:b}", "id", id, "userName", name,
                                               "displayName", display, "active", 1));
    }
    json_t *seed = json_pack("{s:o}", "users", users);
    char *s = json_dumps(seed, JSON_COMPACT);
    json_decref(seed);
    return s;
}

void gcs_http_fixture_start(gcs_http_fixture *f, int n_users, const char *const *emu_args,
                              const gcs_http_client_options *opts, const char *secret)
{
    memset(f, 0, sizeof *f);
    f->n_users = n_users;
    f->dir = gcs_test_tmpdir();
    char *seed = seed_text(n_users);
    char *seed_path = gcs_test_write_file(f->dir, "seed.json", seed);
    free(seed);

    const char *args[48];
    size_t n = 0;
    args[n++] = "--client";
    args[n++] = GCS_FIXTURE_CLIENT_ID ":" GCS_FIXTURE_SECRET;
    args[n++] = "--seed";
    args[n++] = seed_path;
    for (size_t i = 0; emu_args && emu_args[i] && n < 47; i++)
        args[n++] = emu_args[i];
    args[n] = NULL;
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 10000);
    free(seed_path);

    assert_int_equal(
        gcs_token_new(&f->token, GCS_FIXTURE_CLIENT_ID, secret ? secret : GCS_FIXTURE_SECRET), 0);
    gcs_http_client_options o = opts ? *opts : (gcs_http_client_options){0};
    o.api_url = f->emu.api_url;
    o.login_url = f->emu.login_url;
    o.auth = gcs_token_auth(f->token);
    assert_int_equal(gcs_http_client_new(&f->client, &o), 0);

    gcs_http_client_options a = {
        .api_url = f->emu.api_url, .max_attempts = 1, .breaker_threshold = -1};
    assert_int_equal(gcs_http_client_new(&f->admin, &a), 0);
}

void gcs_http_fixture_stop(gcs_http_fixture *f)
{
    gcs_http_client_free(f->client);
    gcs_http_client_free(f->admin);
    gcs_token_free(f->token);
    gcs_test_server_stop(&f->emu);
    gcs_test_tmpdir_remove(f->dir);
    memset(f, 0, sizeof *f);
}

static void admin_call(gcs_http_fixture *f, const char *method, const char *path,
                       const char *body, gcs_http_client_response *res)
{
    gcs_http_client_request req = {.method = method,
                                   .path = path,
                                   .body = body,
                                   .content_type = body ? "application/json" : NULL};
    int rc = gcs_http_call(res, f->admin, &req);
    if (rc != 0)
        fail_msg("%s %s failed: %s (%s)", method, path, res->message, res->body.ptr);
}

void gcs_http_fixture_config(gcs_http_fixture *f, const char *json_text)
{
    gcs_http_client_response res;
    admin_call(f, "POST", "/_emulator/config", json_text, &res);
    gcs_http_client_response_release(&res);
}

void gcs_http_fixture_admin_post(gcs_http_fixture *f, const char *path)
{
    gcs_http_client_response res;
    admin_call(f, "POST", path, NULL, &res);
    gcs_http_client_response_release(&res);
}

json_t *gcs_http_fixture_admin_get(gcs_http_fixture *f, const char *path)
{
    gcs_http_client_response res;
    admin_call(f, "GET", path, NULL, &res);
    json_t *j = json_incref(res.json);
    gcs_http_client_response_release(&res);
    assert_non_null(j);
    return j;
}

void gcs_engine_tally_add(const gcs_http_client_response *res, void *payload)
{
    gcs_engine_tally *t = payload;
    t->done++;
    t->by_outcome[res->outcome]++;
    if (res->attempts > t->max_attempts)
        t->max_attempts = res->attempts;
    if (res->status >= 0 && res->status < 600)
        t->statuses[res->status]++;
}

void gcs_http_fixture_submit_patches(gcs_http_fixture *f, int n, gcs_engine_tally *t)
{
    for (int i = 0; i < n; i++) {
        char id[64], path[128], body[256];
        gcs_http_fixture_user_id(id, sizeof id, i % f->n_users);
        snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
        snprintf(body, sizeof body,
                 "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                 "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"T%d\"}]}",
                 i);
        gcs_http_client_request req = {.method = "PATCH", .path = path, .body = body};
        assert_int_equal(gcs_http_submit(f->client, &req, gcs_engine_tally_add, t), 0);
    }
}
