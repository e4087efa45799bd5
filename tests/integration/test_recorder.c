/* The recorder names the person of each call in its receipt: a create by the
 * top-level userName of its body (read without parsing when the text allows,
 * by the parser when it does not), whatever else the body holds. */
#include "http_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/recorder.h"
#include "store/store.h"

typedef struct keys {
    int n;
    char key[8][32];
} keys;

static int collect_key(const gcs_receipt *r, void *payload)
{
    keys *k = payload;
    if (k->n < 8 && r->method && strcmp(r->method, "POST") == 0)
        snprintf(k->key[k->n++], sizeof k->key[0], "%s", r->source_key ? r->source_key : "-");
    return 0;
}

static void post(gcs_http_fixture *f, const char *body)
{
    gcs_http_client_response res;
    gcs_http_client_request req = {.method = "POST", .path = "/api/v2/scim/v2/users", .body = body};
    (void)gcs_http_call(&res, f->client, &req); /* answered or refused: a receipt either way */
    gcs_http_client_response_release(&res);
}

static void creates_are_named_by_their_top_level_user_name(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_fixture_start(&f, 1, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    char *dir = gcs_test_tmpdir();
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    gcs_store *store = NULL;
    assert_int_equal(gcs_store_open(&store, url), 0);
    gcs_recorder r;
    gcs_recorder_attach(&r, store, f.client, "run-1");
    gcs_recorder_learn(&r, "K1", NULL, "plain@example.com");
    gcs_recorder_learn(&r, "K2", NULL, "top@example.com");
    gcs_recorder_learn(&r, "K3", NULL, "quo\"te@example.com");
    gcs_recorder_learn(&r, "K4", NULL, "decoy@example.com");

#define USER_SCHEMA "\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"]"
    /* Plain, with spacing, any case. */
    post(&f, "{" USER_SCHEMA ", \"userName\" : \"Plain@Example.com\",\"displayName\":\"P\"}");
    /* A userName inside an object, and one as a value, before the real one. */
    post(&f, "{" USER_SCHEMA ",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
             "{\"userName\":\"decoy@example.com\"},\"displayName\":\"userName\","
             "\"userName\":\"top@example.com\"}");
    /* An escape in the value: the parser reads it. */
    post(&f, "{" USER_SCHEMA ",\"userName\":\"quo\\\"te@example.com\",\"displayName\":\"Q\"}");
    /* None at the top: nobody is named. */
    post(&f, "{" USER_SCHEMA ",\"x\":{\"userName\":\"decoy@example.com\"},\"displayName\":\"D\"}");
#undef USER_SCHEMA

    assert_int_equal(gcs_recorder_detach(&r), 0);
    keys k = {0};
    assert_int_equal(gcs_store_receipts_each(store, NULL, collect_key, &k), 0);
    assert_int_equal(k.n, 4);
    assert_string_equal(k.key[0], "K1");
    assert_string_equal(k.key[1], "K2");
    assert_string_equal(k.key[2], "K3");
    assert_string_equal(k.key[3], "-");
    gcs_store_free(store);
    gcs_test_tmpdir_remove(dir);
    gcs_http_fixture_stop(&f);
}

static int collect_patch_key(const gcs_receipt *r, void *payload)
{
    keys *k = payload;
    if (k->n < 8 && r->method && strcmp(r->method, "PATCH") == 0)
        snprintf(k->key[k->n++], sizeof k->key[0], "%s", r->source_key ? r->source_key : "-");
    return 0;
}

static void patch(gcs_http_fixture *f, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_http_client_response res;
    gcs_http_client_request req = {.method = "PATCH", .path = path, .body = "{}"};
    (void)gcs_http_call(&res, f->client, &req);
    gcs_http_client_response_release(&res);
}

/* Each id is kept once and serves both ways: the key of a call to /users/ID
 * (the last key linked to that id) and the id of a key (the last one learned). */
static void ids_name_their_key_both_ways(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_fixture_start(&f, 1, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    char *dir = gcs_test_tmpdir();
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    gcs_store *store = NULL;
    assert_int_equal(gcs_store_open(&store, url), 0);
    gcs_recorder r;
    gcs_recorder_attach(&r, store, f.client, "run-1");
    assert_null(gcs_recorder_id_of(&r, "K1"));
    gcs_recorder_learn(&r, "K1", "id-a", NULL);
    gcs_recorder_learn(&r, "K2", "id-b", NULL);
    assert_string_equal(gcs_recorder_id_of(&r, "K1"), "id-a");
    assert_string_equal(gcs_recorder_id_of(&r, "K2"), "id-b");
    patch(&f, "id-a");
    patch(&f, "id-b");
    /* id-a now belongs to K3 (a later link wins); K1 learns another id. */
    gcs_recorder_learn(&r, "K3", "id-a", NULL);
    gcs_recorder_learn(&r, "K1", "id-c", NULL);
    assert_string_equal(gcs_recorder_id_of(&r, "K1"), "id-c");
    assert_string_equal(gcs_recorder_id_of(&r, "K3"), "id-a");
    assert_string_equal(gcs_recorder_id_of(&r, "K2"), "id-b");
    assert_null(gcs_recorder_id_of(&r, "K4"));
    patch(&f, "id-a");
    patch(&f, "id-c");
    patch(&f, "id-unknown");

    assert_int_equal(gcs_recorder_detach(&r), 0);
    keys k = {0};
    assert_int_equal(gcs_store_receipts_each(store, NULL, collect_patch_key, &k), 0);
    assert_int_equal(k.n, 5);
    assert_string_equal(k.key[0], "K1");
    assert_string_equal(k.key[1], "K2");
    assert_string_equal(k.key[2], "K3");
    assert_string_equal(k.key[3], "K1");
    assert_string_equal(k.key[4], "-");
    gcs_store_free(store);
    gcs_test_tmpdir_remove(dir);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(creates_are_named_by_their_top_level_user_name),
        cmocka_unit_test(ids_name_their_key_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
