/*
 * undo through the library against the emulator, with runs recorded by hand so
 * that every state an item and its receipts can be in is tried: the run's items
 * and receipts say what happened, not the plan nor the users as they are (a
 * user that holds what the plan wanted, which the run never wrote, is not the
 * run's doing); and a kept plan that cannot be trusted, or a run being applied,
 * is refused. The commands' side is in tests/data/scenarios/undo-*.
 */
#include "gcstest.h"
#include "clitest.h"
#include "httptest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/scim.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "engine/undo.h"
#include "genesys/directory.h"
#include "genesys/session.h"
#include "store/store.h"

#define CLIENT_ID     "gcscim-emulator"
#define CLIENT_SECRET "gcscim-emulator-secret"

static const char seed[] =
    "{\"users\":["
    " {\"userName\":\"a1@example.com\",\"displayName\":\"A One\",\"title\":\"Old\","
    "  \"" GCS_SCIM_GENESYS_USER
    "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"A1\"}]}},"
    " {\"userName\":\"a2@example.com\",\"displayName\":\"A Two\",\"title\":\"Old\","
    "  \"" GCS_SCIM_GENESYS_USER
    "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"A2\"}]}},"
    " {\"userName\":\"a3@example.com\",\"displayName\":\"A Three\",\"title\":\"Old\","
    "  \"" GCS_SCIM_GENESYS_USER
    "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"A3\"}]}},"
    " {\"userName\":\"a4@example.com\",\"displayName\":\"A Four\",\"title\":\"Old\","
    "  \"" GCS_SCIM_GENESYS_USER
    "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"A4\"}]}},"
    " {\"userName\":\"a5@example.com\",\"displayName\":\"A Five\",\"title\":\"Old\","
    "  \"" GCS_SCIM_GENESYS_USER
    "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"A5\"}]}}"
    "]}";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    gcs_config cfg;
    gcs_genesys_session *session;
    gcs_store *store;
    gcs_plan plan;
    char run_id[80];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    gcs_test_emulator_start_seeded(&f->emu, f->dir, seed, NULL);
    gcs_log_set_level(GCS_LOG_OFF);
    gcs_test_config_for_emulator(&f->cfg, f->emu.api_url);
    gcs_test_open_session_and_store(&f->session, &f->store, &f->cfg, f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gcs_plan_release(&f->plan);
    gcs_store_free(f->store);
    gcs_genesys_session_free(f->session);
    gcs_config_release(&f->cfg);
    gcs_test_server_stop(&f->emu);
    gcs_test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static json_t *user_named(fixture *f, const char *name)
{
    json_t *u = gcs_test_emu_user_named(&f->emu, name);
    assert_non_null(u);
    return u;
}

/* A plan that changes the title of A1..A5 from "Old" to "New", sealed with the
 * emulator's client; then a run of it, begun and kept as apply keeps it. With
 * `format_2`, the plan is of the format before plans carried a nonce (its
 * identity the digest of its content alone), as a run made before kept it. */
static void plan_and_run_as(fixture *f, bool seal, bool format_2)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(&f->plan, f->session->api_url, "hr.csv", "p.yaml", &o), 0);
    json_object_set_new(f->plan.doc, "marker", json_string("gcscim"));
    for (int i = 1; i <= 5; i++) {
        char key[8], name[40];
        snprintf(key, sizeof key, "A%d", i);
        snprintf(name, sizeof name, "a%d@example.com", i);
        json_t *u = user_named(f, name);
        char *etag = gcs_directory_user_etag(u);
        json_t *ops =
            json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "title", "value", "New");
        json_t *changes =
            json_pack("[{s:s,s:s,s:s}]", "attribute", "title", "old", "Old", "new", "New");
        json_t *extra =
            json_pack("{s:b,s:{s:s},s:[]}", "managed", 1, "desired", "title", "New", "skip");
        assert_int_equal(gcs_plan_add(&f->plan, GCS_PLAN_UPDATE, key, name,
                                      json_string_value(json_object_get(u, "id")), etag, ops,
                                      changes, extra),
                         0);
        free(etag);
        json_decref(u);
    }
    gcs_plan_set_counts(&f->plan, 0, 5);
    if (format_2) {
        json_object_set_new(f->plan.doc, "format", json_string("gcscim-plan/2"));
        json_object_del(f->plan.doc, "nonce");
    }
    assert_int_equal(gcs_plan_finish(&f->plan), 0);
    if (seal)
        assert_int_equal(gcs_plan_seal(&f->plan, CLIENT_ID, CLIENT_SECRET), 0);
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, f->store, "apply", gcs_plan_identity(&f->plan)), 0);
    snprintf(f->run_id, sizeof f->run_id, "%s", run.id);
    gcs_run_release(&run);
    char *text = NULL;
    assert_int_equal(gcs_plan_dump(&text, &f->plan), 0);
    assert_int_equal(gcs_store_run_plan_put(f->store, f->run_id, text, strlen(text)), 0);
    free(text);
    const char *keys[] = {"A1", "A2", "A3", "A4", "A5"};
    assert_int_equal(gcs_store_items_add(f->store, f->run_id, keys, 5), 0);
}

static void plan_and_run(fixture *f, bool seal)
{
    plan_and_run_as(f, seal, false);
}

static void write_receipt(fixture *f, const char *key, int status, const char *outcome)
{
    gcs_receipt r = {.run_id = f->run_id,
                     .operation = "patch",
                     .resource_type = "user",
                     .source_key = key,
                     .method = "PATCH",
                     .path = "/api/v2/scim/v2/users/x",
                     .status = status,
                     .attempts = 1,
                     .outcome = outcome};
    assert_int_equal(gcs_store_receipt_append(f->store, &r), 0);
}

static int undo(fixture *f, gcs_plan *out, gcs_undo_stats *stats, const char *run_id)
{
    gcs_undo_options o = {.run_id = run_id,
                          .api_url = f->session->api_url,
                          .client_id = CLIENT_ID,
                          .client_secret = CLIENT_SECRET};
    gcs_plan_options_init(&o.plan);
    return gcs_undo_plan(out, stats, f->session->client, f->store, &o);
}

static void receipts_and_items_say_what_happened(void **state)
{
    fixture *f = *state;
    plan_and_run(f, true);
    /* A1 done; A2 done as "already as planned" after a PATCH answered 504 (it
     * happened); A3 "already as planned" with no write (someone else did it);
     * A4 failed with a refused PATCH (409); A5 never sent. */
    write_receipt(f, "A2", 504, "unknown");
    write_receipt(f, "A4", 409, "conflict");
    assert_int_equal(gcs_store_item_mark(f->store, f->run_id, "A1", GCS_ITEM_DONE, NULL, "done"),
                     0);
    assert_int_equal(gcs_store_item_mark(f->store, f->run_id, "A2", GCS_ITEM_DONE, NULL, "noop"),
                     0);
    assert_int_equal(gcs_store_item_mark(f->store, f->run_id, "A3", GCS_ITEM_DONE, NULL, "noop"),
                     0);
    assert_int_equal(
        gcs_store_item_mark(f->store, f->run_id, "A4", GCS_ITEM_FAILED, NULL, "PATCH failed: 409"),
        0);
    assert_int_equal(gcs_store_run_finish(f->store, f->run_id, GCS_RUN_FAILED), 0);
    /* Every user holds what the plan wanted, whoever wrote it. */
    for (int i = 1; i <= 5; i++) {
        char name[40];
        snprintf(name, sizeof name, "a%d@example.com", i);
        gcs_test_emu_patch_user(&f->emu, name,
                                "{\"op\":\"replace\",\"path\":\"title\",\"value\":\"New\"}");
    }
    gcs_plan out;
    gcs_undo_stats st;
    if (undo(f, &out, &st, f->run_id) != 0)
        fail_msg("undo: %s", gcs_error_last());
    json_t *ops = gcs_plan_operations(&out);
    assert_int_equal(json_array_size(ops), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "key")), "A1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 1), "key")), "A2");
    json_t *back = json_object_get(
        json_array_get(json_object_get(json_array_get(ops, 1), "changes"), 0), "new");
    assert_string_equal(json_string_value(back), "Old");
    assert_int_equal(st.operations, 5);
    assert_int_equal(st.done, 2);
    assert_int_equal(st.not_done, 3);
    assert_int_equal(st.undone, 2);
    assert_int_equal(st.users_read, 2);
    gcs_plan_release(&out);
}

/* A run made before plans carried a nonce kept a gcscim-plan/2 plan, whose
 * identity is the run's plan id: it is read and checked the old way, and
 * undone (apply refuses such a plan file; undo's own plan is a new one). */
static void a_run_of_a_plan_without_a_nonce_is_undone(void **state)
{
    fixture *f = *state;
    plan_and_run_as(f, true, true);
    assert_null(json_object_get(f->plan.doc, "nonce"));
    assert_string_equal(gcs_plan_content_key(&f->plan), gcs_plan_identity(&f->plan));
    assert_int_equal(gcs_store_item_mark(f->store, f->run_id, "A1", GCS_ITEM_DONE, NULL, "done"),
                     0);
    assert_int_equal(gcs_store_run_finish(f->store, f->run_id, GCS_RUN_DONE), 0);
    gcs_test_emu_patch_user(&f->emu, "a1@example.com",
                            "{\"op\":\"replace\",\"path\":\"title\",\"value\":\"New\"}");
    gcs_plan out;
    gcs_undo_stats st;
    if (undo(f, &out, &st, f->run_id) != 0)
        fail_msg("undo: %s", gcs_error_last());
    json_t *ops = gcs_plan_operations(&out);
    assert_int_equal(json_array_size(ops), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "key")), "A1");
    assert_int_equal(gcs_plan_check_current(&out, NULL), 0);
    assert_non_null(json_object_get(out.doc, "nonce"));
    gcs_plan_release(&out);
}

static void a_kept_plan_that_cannot_be_trusted_is_refused(void **state)
{
    fixture *f = *state;
    gcs_plan out;
    gcs_undo_stats st;
    /* Unknown run. */
    assert_int_equal(undo(f, &out, &st, "20990101T000000Z-00000000"), GCS_ENOTFOUND);
    assert_non_null(strstr(gcs_error_last(), "no run '20990101T000000Z-00000000'"));
    /* A run without a kept plan (begun before plans were kept). */
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, f->store, "apply", "old-plan"), 0);
    assert_int_equal(undo(f, &out, &st, run.id), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "its plan was not kept"));
    gcs_run_release(&run);
    /* A kept plan without the seal of these credentials. */
    plan_and_run(f, false);
    assert_int_equal(gcs_store_item_mark(f->store, f->run_id, "A1", GCS_ITEM_DONE, NULL, "done"),
                     0);
    assert_int_equal(undo(f, &out, &st, f->run_id), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "seal does not match"));
}

static void a_run_being_applied_is_not_undone(void **state)
{
    fixture *f = *state;
    plan_and_run(f, true);
    assert_int_equal(gcs_store_lease_take(NULL, f->store, gcs_plan_content_key(&f->plan), "h:1:t", "h",
                                          1, 60000, NULL),
                     0);
    assert_int_equal(
        gcs_store_lease_renew(f->store, gcs_plan_content_key(&f->plan), "h:1:t", f->run_id, 60000), 0);
    gcs_plan out;
    gcs_undo_stats st;
    long before = gcs_test_emu_writes(&f->emu);
    assert_int_equal(undo(f, &out, &st, f->run_id), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "is being applied now"));
    assert_int_equal(gcs_test_emu_writes(&f->emu), before);
    /* Once its lease is given back, it can be undone. */
    assert_int_equal(gcs_store_lease_release(f->store, gcs_plan_content_key(&f->plan), "h:1:t"), 0);
    assert_int_equal(undo(f, &out, &st, f->run_id), 0);
    gcs_plan_release(&out);
}

int main(void)
{
    gcs_test_deadline(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(receipts_and_items_say_what_happened, setup, teardown),
        cmocka_unit_test_setup_teardown(a_run_of_a_plan_without_a_nonce_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(a_kept_plan_that_cannot_be_trusted_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_run_being_applied_is_not_undone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
