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
    const char *method; /* the calls whose keys are collected */
    int n;
    char key[8][32];
} keys;

static int collect_key(const gcs_receipt *r, void *payload)
{
    keys *k = payload;
    if (k->n < 8 && r->method && strcmp(r->method, k->method) == 0)
        snprintf(k->key[k->n++], sizeof k->key[0], "%s", r->source_key ? r->source_key : "-");
    return 0;
}

/* An emulator, a SQLite store in a directory of its own, a recorder of run-1. */
typedef struct recording {
    gcs_http_fixture f;
    char *dir;
    gcs_store *store;
    gcs_recorder r;
} recording;

static void recording_start(recording *t)
{
    gcs_http_fixture_start(&t->f, 1, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    t->dir = gcs_test_tmpdir();
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", t->dir);
    t->store = NULL;
    assert_int_equal(gcs_store_open(&t->store, url), 0);
    gcs_recorder_attach(&t->r, t->store, t->f.client, "run-1");
}

/* Detaches the recorder (every receipt written) and collects the keys of `method`'s calls. */
static void recording_keys(recording *t, keys *k)
{
    assert_int_equal(gcs_recorder_detach(&t->r), 0);
    assert_int_equal(gcs_store_receipts_each(t->store, NULL, collect_key, k), 0);
}

static void recording_stop(recording *t)
{
    gcs_store_free(t->store);
    gcs_test_tmpdir_remove(t->dir);
    gcs_http_fixture_stop(&t->f);
}

static void call(recording *t, const char *method, const char *path, const char *body)
{
    gcs_http_client_response res;
    gcs_http_client_request req = {.method = method, .path = path, .body = body};
    (void)gcs_http_call(&res, t->f.client, &req); /* answered or refused: a receipt either way */
    gcs_http_client_response_release(&res);
}

static void post(recording *t, const char *body)
{
    call(t, "POST", "/api/v2/scim/v2/users", body);
}

static void patch(recording *t, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    call(t, "PATCH", path, "{}");
}

static void creates_are_named_by_their_top_level_user_name(void **state)
{
    (void)state;
    recording t;
    recording_start(&t);
    gcs_recorder_learn(&t.r, "K1", NULL, "plain@example.com");
    gcs_recorder_learn(&t.r, "K2", NULL, "top@example.com");
    gcs_recorder_learn(&t.r, "K3", NULL, "quo\"te@example.com");
    gcs_recorder_learn(&t.r, "K4", NULL, "decoy@example.com");

#define USER_SCHEMA "\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"]"
    /* Plain, with spacing, any case. */
    post(&t, "{" USER_SCHEMA ", \"userName\" : \"Plain@Example.com\",\"displayName\":\"P\"}");
    /* A userName inside an object, and one as a value, before the real one. */
    post(&t, "{" USER_SCHEMA ",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
             "{\"userName\":\"decoy@example.com\"},\"displayName\":\"userName\","
             "\"userName\":\"top@example.com\"}");
    /* An escape in the value: the parser reads it. */
    post(&t, "{" USER_SCHEMA ",\"userName\":\"quo\\\"te@example.com\",\"displayName\":\"Q\"}");
    /* None at the top: nobody is named. */
    post(&t, "{" USER_SCHEMA ",\"x\":{\"userName\":\"decoy@example.com\"},\"displayName\":\"D\"}");
#undef USER_SCHEMA

    keys k = {.method = "POST"};
    recording_keys(&t, &k);
    assert_int_equal(k.n, 4);
    assert_string_equal(k.key[0], "K1");
    assert_string_equal(k.key[1], "K2");
    assert_string_equal(k.key[2], "K3");
    assert_string_equal(k.key[3], "-");
    recording_stop(&t);
}

/* Each id is kept once and serves both ways: the key of a call to /users/ID
 * (the last key linked to that id) and the id of a key (the last one learned). */
static void ids_name_their_key_both_ways(void **state)
{
    (void)state;
    recording t;
    recording_start(&t);
    assert_null(gcs_recorder_id_of(&t.r, "K1"));
    gcs_recorder_learn(&t.r, "K1", "id-a", NULL);
    gcs_recorder_learn(&t.r, "K2", "id-b", NULL);
    assert_string_equal(gcs_recorder_id_of(&t.r, "K1"), "id-a");
    assert_string_equal(gcs_recorder_id_of(&t.r, "K2"), "id-b");
    patch(&t, "id-a");
    patch(&t, "id-b");
    /* id-a now belongs to K3 (a later link wins); K1 learns another id. */
    gcs_recorder_learn(&t.r, "K3", "id-a", NULL);
    gcs_recorder_learn(&t.r, "K1", "id-c", NULL);
    assert_string_equal(gcs_recorder_id_of(&t.r, "K1"), "id-c");
    assert_string_equal(gcs_recorder_id_of(&t.r, "K3"), "id-a");
    assert_string_equal(gcs_recorder_id_of(&t.r, "K2"), "id-b");
    assert_null(gcs_recorder_id_of(&t.r, "K4"));
    patch(&t, "id-a");
    patch(&t, "id-c");
    patch(&t, "id-unknown");

    keys k = {.method = "PATCH"};
    recording_keys(&t, &k);
    assert_int_equal(k.n, 5);
    assert_string_equal(k.key[0], "K1");
    assert_string_equal(k.key[1], "K2");
    assert_string_equal(k.key[2], "K3");
    assert_string_equal(k.key[3], "K1");
    assert_string_equal(k.key[4], "-");
    recording_stop(&t);
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
