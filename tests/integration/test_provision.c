/*
 * plan, apply and sync end to end: the gcscim program against the emulator,
 * checked through the emulator's state and counters.
 */
#include "clitest.h"
#include "gcstest.h"
#include "httptest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GENESYS_EXT "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"

static const char seed[] =
    "{\"roles\":[{\"name\":\"Employee\"},{\"name\":\"Agent\"}],"
    " \"divisions\":[{\"name\":\"Home\"}],\"skills\":[{\"name\":\"Billing\"}],"
    " \"languages\":[{\"name\":\"English\"}],"
    " \"users\":["
    "  {\"userName\":\"old@example.com\",\"displayName\":\"Old Timer\",\"title\":\"Agent\","
    "   \"" GENESYS_EXT "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"E9\"}]}},"
    "  {\"userName\":\"bob@example.com\",\"displayName\":\"Bob B\",\"title\":\"Agent\","
    "   \"" GENESYS_EXT "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"E2\"}]}},"
    "  {\"userName\":\"other@example.com\",\"displayName\":\"Not Ours\",\"title\":\"Boss\"}]}";

static const char profile[] =
    "version: 1\n"
    "managed_by: gcscim\n"
    "match: [externalId, userName]\n"
    "attributes:\n"
    "  userName: {from: email, transform: [trim, lower], required: true}\n"
    "  displayName: {template: \"{first} {last}\", required: true}\n"
    "  externalId: {from: id, required: true}\n"
    "  email: {from: email, transform: lower}\n"
    "  title: title\n"
    "  department: dept\n"
    "  active: {from: status, transform: {lookup: {active: \"true\", leaver: \"false\"}}}\n"
    "  manager: mgr\n";

static const char hr[] = "id,first,last,email,title,dept,status,mgr\n"
                         "E1,Ann,Archer,ann@example.com,Lead,Sales,active,\n"
                         "E2,Bob,Baker,bob@example.com,Senior Agent,Support,active,E1\n"
                         "E3,Cid,Cole,cid@example.com,Agent,Support,active,E2\n";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    gcs_test_cli cli;
    char *profile, *source;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    gcs_test_emulator_start_seeded(&f->emu, f->dir, seed, NULL);
    char db[700];
    snprintf(db, sizeof db, "sqlite:%s/gcscim.db", f->dir);
    gcs_test_cli_init(&f->cli, &f->emu, db);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile);
    f->source = gcs_test_write_file(f->dir, "hr.csv", hr);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gcs_test_server_stop(&f->emu);
    free(f->profile);
    free(f->source);
    gcs_test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Runs gcscim with the fixture's environment; extra arguments end with NULL. */
#define gcscim(f, r, ...) gcs_test_cli_run(&(f)->cli, (r), __VA_ARGS__)

static json_t *user_named(fixture *f, const char *user_name)
{
    return gcs_test_emu_user_named(&f->emu, user_name);
}

static const char *str(const json_t *u, const char *key)
{
    return json_string_value(json_object_get(u, key));
}

/* Writes (POST, PATCH, PUT, DELETE) the emulator has answered so far. */
static long writes(fixture *f)
{
    return gcs_test_emu_writes(&f->emu);
}

/* Saves a plan of the fixture's export (no deactivations) to DIR/plan.json. */
static void plan_to_file(fixture *f, char *path, size_t pathsz)
{
    gcs_test_run r;
    snprintf(path, pathsz, "%s/plan.json", f->dir);
    assert_int_equal(gcscim(f, &r, "plan", "--source", f->source, "--profile", f->profile,
                            "--no-deactivate", "--out", path, NULL),
                     0);
    gcs_test_run_release(&r);
}

/* Another tool PATCHes a user behind gcscim's back. */
static void patch_behind_the_back(fixture *f, const char *user_name, const char *operation)
{
    gcs_test_emu_patch_user(&f->emu, user_name, operation);
}

static void sync_then_second_sync_writes_nothing(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    /* One managed leaver (E9) of two managed users: 50%, but under the floor of
     * the share rule, so no approval is needed for a single leaver. */
    int code = gcscim(f, &r, "sync", "--source", f->source, "--profile", f->profile, NULL);
    if (code != 0)
        fail_msg("sync failed: %s%s", r.out.ptr, r.err.ptr);
    gcs_test_run_release(&r);

    json_t *ann = user_named(f, "ann@example.com"), *bob = user_named(f, "bob@example.com"),
           *cid = user_named(f, "cid@example.com"), *old = user_named(f, "old@example.com"),
           *other = user_named(f, "other@example.com");
    assert_non_null(ann);
    assert_non_null(cid);
    assert_string_equal(str(ann, "displayName"), "Ann Archer");
    assert_string_equal(str(bob, "title"), "Senior Agent");
    assert_string_equal(str(bob, "externalId"), "E2");
    assert_true(json_is_false(json_object_get(old, "active")));
    /* Managers resolve to Genesys ids, including a manager created in the same run. */
    const char *ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_string_equal(str(json_object_get(json_object_get(bob, ent), "manager"), "value"),
                        str(ann, "id"));
    assert_string_equal(str(json_object_get(json_object_get(cid, ent), "manager"), "value"),
                        str(bob, "id"));
    /* A user gcscim does not manage is untouched. */
    assert_string_equal(str(other, "title"), "Boss");
    assert_string_equal(str(json_object_get(other, "meta"), "version"), "1");

    long before = writes(f);
    assert_true(before >= 5);
    assert_int_equal(gcscim(f, &r, "sync", "--source", f->source, "--profile", f->profile, NULL), 0);
    assert_non_null(strstr(r.out.ptr, "3 unchanged"));
    gcs_test_run_release(&r);
    assert_int_equal(writes(f), before);

    /* The receipts of all that hold together. */
    assert_int_equal(gcscim(f, &r, "receipts", "verify", NULL), 0);
    gcs_test_run_release(&r);
    json_decref(ann);
    json_decref(bob);
    json_decref(cid);
    json_decref(old);
    json_decref(other);
}

static void leaver_comes_back_and_is_reactivated(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    char *back = gcs_test_write_file(f->dir, "back.csv",
                                     "id,first,last,email,title,dept,status,mgr\n"
                                     "E9,Old,Timer,old@example.com,Agent,Support,active,\n");
    assert_int_equal(gcscim(f, &r, "sync", "--source", back, "--profile", f->profile,
                            "--no-deactivate", NULL),
                     0);
    gcs_test_run_release(&r);
    /* Now mark it a leaver in the source: deactivated through its row. */
    char *gone = gcs_test_write_file(f->dir, "gone.csv",
                                     "id,first,last,email,title,dept,status,mgr\n"
                                     "E9,Old,Timer,old@example.com,Agent,Support,leaver,\n");
    assert_int_equal(gcscim(f, &r, "sync", "--source", gone, "--profile", f->profile,
                            "--allow-deactivations", "1", NULL),
                     0);
    gcs_test_run_release(&r);
    json_t *old = user_named(f, "old@example.com");
    assert_true(json_is_false(json_object_get(old, "active")));
    json_decref(old);

    assert_int_equal(gcscim(f, &r, "plan", "--source", back, "--profile", f->profile,
                            "--no-deactivate", NULL),
                     0);
    assert_non_null(strstr(r.out.ptr, "~ reactivate E9"));
    gcs_test_run_release(&r);
    assert_int_equal(gcscim(f, &r, "sync", "--source", back, "--profile", f->profile,
                            "--no-deactivate", NULL),
                     0);
    gcs_test_run_release(&r);
    old = user_named(f, "old@example.com");
    assert_true(json_is_true(json_object_get(old, "active")));
    assert_string_equal(str(old, "title"), "Agent");
    json_decref(old);
    free(back);
    free(gone);
}

static void drift_between_plan_and_apply(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    char plan[700];
    plan_to_file(f, plan, sizeof plan);
    /* Someone else changes Bob's title, which the plan changes too. */
    patch_behind_the_back(f, "bob@example.com",
                          "{\"op\":\"replace\",\"path\":\"title\",\"value\":\"CEO\"}");

    assert_int_equal(gcscim(f, &r, "apply", plan, NULL), 3);
    assert_non_null(strstr(r.out.ptr, "drift update E2"));
    assert_non_null(strstr(r.out.ptr, "1 drifted"));
    gcs_test_run_release(&r);
    json_t *bob = user_named(f, "bob@example.com");
    assert_string_equal(str(bob, "title"), "CEO");         /* left alone */
    assert_string_equal(str(bob, "displayName"), "Bob B"); /* nothing else either */
    json_decref(bob);
    /* The others were applied. */
    json_t *ann = user_named(f, "ann@example.com");
    assert_non_null(ann);
    json_decref(ann);
}

static void unrelated_change_does_not_block_the_plan(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    char plan[700];
    plan_to_file(f, plan, sizeof plan);
    /* A change to an attribute the profile does not map: the version moves on. */
    patch_behind_the_back(f, "bob@example.com",
                          "{\"op\":\"add\",\"path\":\"phoneNumbers\",\"value\":"
                          "[{\"value\":\"+353861234567\",\"type\":\"mobile\"}]}");
    assert_int_equal(gcscim(f, &r, "apply", plan, NULL), 0);
    gcs_test_run_release(&r);
    json_t *bob = user_named(f, "bob@example.com");
    assert_string_equal(str(bob, "title"), "Senior Agent");
    assert_non_null(json_object_get(bob, "phoneNumbers"));
    json_decref(bob);
}

/* A 409 the plan did not foresee is drift: reported with the user's id and
 * left alone, never a silent adoption (issue 9, finding 2). */
static void create_meets_unforeseen_user_and_reports_drift(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    char plan[700];
    plan_to_file(f, plan, sizeof plan);
    /* Cid appears in Genesys between plan and apply (another tool made him). */
    char *token = gcs_test_emu_token(&f->emu, "gcscim-emulator", "gcscim-emulator-secret");
    gcs_test_http h;
    gcs_test_emu_call(&h, &f->emu, token, "POST", "/api/v2/scim/v2/users",
                      "{\"userName\":\"cid@example.com\",\"displayName\":\"C. Cole\"}", NULL);
    assert_int_equal(h.status, 201);
    char *cid_id = strdup(json_string_value(json_object_get(h.json, "id")));
    gcs_test_http_release(&h);

    assert_int_equal(gcscim(f, &r, "apply", plan, NULL), 3);
    assert_non_null(strstr(r.out.ptr, "drift create E3 (cid@example.com)"));
    assert_non_null(strstr(r.out.ptr, cid_id));
    assert_non_null(strstr(r.out.ptr, "left alone"));
    gcs_test_run_release(&r);
    json_t *cid = user_named(f, "cid@example.com");
    assert_string_equal(str(cid, "displayName"), "C. Cole");
    assert_null(json_object_get(json_object_get(cid, GENESYS_EXT), "externalIds"));
    json_decref(cid);
    free(cid_id);
    free(token);
}

/* The exception: the user there carries this plan's marker with this key. It
 * is this plan's own earlier create (a resend after a dropped connection):
 * done, not drift. */
static void create_meets_its_own_earlier_create_and_is_done(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    char plan[700];
    plan_to_file(f, plan, sizeof plan);
    char *token = gcs_test_emu_token(&f->emu, "gcscim-emulator", "gcscim-emulator-secret");
    gcs_test_http h;
    gcs_test_emu_call(&h, &f->emu, token, "POST", "/api/v2/scim/v2/users",
                      "{\"userName\":\"cid@example.com\",\"displayName\":\"C. Cole\",\"" GENESYS_EXT
                      "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"E3\"}]}}",
                      NULL);
    assert_int_equal(h.status, 201);
    gcs_test_http_release(&h);

    assert_int_equal(gcscim(f, &r, "apply", plan, NULL), 0);
    assert_non_null(strstr(r.out.ptr, "done create E3"));
    gcs_test_run_release(&r);
    json_t *cid = user_named(f, "cid@example.com");
    assert_string_equal(str(cid, "displayName"), "Cid Cole");
    json_decref(cid);
    free(token);
}

static void bad_rows_are_reported_and_the_rest_proceeds(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    char *bad = gcs_test_write_file(f->dir, "bad.csv",
                                    "id,first,last,email,title,dept,status,mgr\n"
                                    "E1,Ann,Archer,ann@example.com,Lead,Sales,active,\n"
                                    "E4,Dee,Dunn,not-an-email,Agent,Support,active,\n"
                                    /* a quote inside a field: a bad row (an
                                     * unclosed quote would stop the source) */
                                    "E5,Eve,Ev\"e,eve@example.com,Agent,Support,active,\n");
    assert_int_equal(gcscim(f, &r, "sync", "--source", bad, "--profile", f->profile,
                            "--no-deactivate", NULL),
                     3);
    assert_non_null(strstr(r.out.ptr, "bad.csv:3"));
    assert_non_null(strstr(r.out.ptr, "not-an-email"));
    gcs_test_run_release(&r);
    json_t *ann = user_named(f, "ann@example.com");
    assert_non_null(ann);
    json_decref(ann);
    assert_null(user_named(f, "not-an-email"));
    free(bad);
}

static void bad_profile_fails_before_any_request(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    char *bad = gcs_test_write_file(f->dir, "bad.yaml",
                                    "version: 1\n"
                                    "attributes:\n"
                                    "  userName: email\n"
                                    "  title: {from: title, transform: upcase}\n");
    assert_int_equal(gcscim(f, &r, "plan", "--source", f->source, "--profile", bad, NULL), 1);
    assert_non_null(strstr(r.err.ptr, "bad.yaml"));
    assert_non_null(strstr(r.err.ptr, "line 4"));
    assert_non_null(strstr(r.err.ptr, "unknown transform 'upcase'"));
    gcs_test_run_release(&r);
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    assert_int_equal(json_integer_value(json_object_get(st, "tokens_issued")), 0);
    json_decref(st);
    free(bad);
}

static void mass_deactivation_is_refused_without_approval(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    /* Give gcscim twelve users to manage, then an export without any of them. */
    gcs_buf csv;
    gcs_buf_init(&csv, 0);
    assert_int_equal(gcs_buf_puts(&csv, "id,first,last,email,title,dept,status,mgr\n"), 0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(gcs_buf_printf(&csv, "M%02d,Mass,User%d,mass%d@example.com,Agent,Support,active,\n", i, i,
                       i), 0);
    char *many = gcs_test_write_file(f->dir, "many.csv", csv.ptr);
    gcs_buf_release(&csv);
    assert_int_equal(gcscim(f, &r, "sync", "--source", many, "--profile", f->profile,
                            "--no-deactivate", NULL),
                     0);
    gcs_test_run_release(&r);
    long before = writes(f);
    char *none = gcs_test_write_file(f->dir, "none.csv", "id,first,last,email,title,dept,status,mgr\n");
    assert_int_equal(gcscim(f, &r, "sync", "--source", none, "--profile", f->profile, NULL), 4);
    assert_non_null(strstr(r.err.ptr, "14 users deactivated"));
    assert_non_null(strstr(r.err.ptr, "--approve deactivate=14"));
    gcs_test_run_release(&r);
    assert_int_equal(writes(f), before);
    assert_int_equal(gcscim(f, &r, "sync", "--source", none, "--profile", f->profile,
                            "--allow-deactivations", "14", NULL),
                     0);
    gcs_test_run_release(&r);
    assert_int_equal(writes(f), before + 14);
    free(many);
    free(none);
}

static void passwords_only_when_asked_and_only_where_told(void **state)
{
    fixture *f = *state;
    gcs_test_run r;
    gcs_buf text;
    gcs_buf_init(&text, 0);
    assert_int_equal(gcs_buf_puts(&text, profile), 0);
    assert_int_equal(gcs_buf_puts(&text, "password: {generate: true, length: 20, min_symbol: 2}\n"), 0);
    char *with_pw = gcs_test_write_file(f->dir, "pw.yaml", text.ptr);
    gcs_buf_release(&text);
    /* Asked for, but nowhere to write them: refused before anything is created. */
    assert_int_equal(gcscim(f, &r, "sync", "--source", f->source, "--profile", with_pw,
                            "--no-deactivate", NULL),
                     2);
    assert_non_null(strstr(r.err.ptr, "--passwords-out"));
    gcs_test_run_release(&r);
    assert_int_equal(writes(f), 0);

    char out[700];
    snprintf(out, sizeof out, "%s/passwords.csv", f->dir);
    assert_int_equal(gcscim(f, &r, "sync", "--source", f->source, "--profile", with_pw,
                            "--no-deactivate", "--passwords-out", out, "--log-level", "debug",
                            NULL),
                     0);
    gcs_buf all;
    gcs_buf_init(&all, 0);
    assert_int_equal(gcs_buf_puts(&all, r.out.ptr), 0);
    assert_int_equal(gcs_buf_puts(&all, r.err.ptr), 0);
    gcs_test_run_release(&r);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *pf = fopen(out, "r");
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof line, pf)) {
        lines++;
        line[strcspn(line, "\n")] = '\0';
        char *pw = strrchr(line, ',') + 1;
        assert_int_equal(strlen(pw), 20);
        /* Never in the output, the logs or the receipts. */
        assert_null(strstr(all.ptr, pw));
        gcs_test_run rr;
        assert_int_equal(gcscim(f, &rr, "receipts", "export", NULL), 0);
        assert_null(strstr(rr.out.ptr, pw));
        gcs_test_run_release(&rr);
    }
    fclose(pf);
    assert_int_equal(lines, 2); /* ann and cid were created; bob was adopted */
    gcs_buf_release(&all);
    free(with_pw);
}

/* --target reads each person by their keys in order, but every person's next
 * read goes out at once (a wave): with several people, reads overlap. */
static void targeted_reads_of_several_people_overlap(void **state)
{
    fixture *f = *state;
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":100}"));
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "reset", NULL));
    gcs_test_run r;
    int code = gcscim(f, &r, "plan", "--source", f->source, "--profile", f->profile, "--target",
                      "E1", "--target", "E2", "--target", "E3", "--target", "E9", NULL);
    if (code != 0)
        fail_msg("plan failed (%d): %s%s", code, r.out.ptr, r.err.ptr);
    gcs_test_run_release(&r);
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    long requests = (long)json_integer_value(json_object_get(
        json_object_get(json_object_get(st, "routes"), "GET /api/v2/scim/users"), "200"));
    long overlap = (long)json_integer_value(json_object_get(st, "max_in_flight"));
    /* E1 and E3 are new (marker, externalId, userName: 3 reads each), E2 is
     * found by its marker (1), E9 has no row: a leaver looked up by its marker (1). */
    assert_int_equal(requests, 8);
    assert_true(overlap >= 2);
    json_decref(st);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
}

int main(void)
{
    gcs_test_deadline(280);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sync_then_second_sync_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(targeted_reads_of_several_people_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(leaver_comes_back_and_is_reactivated, setup, teardown),
        cmocka_unit_test_setup_teardown(drift_between_plan_and_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(unrelated_change_does_not_block_the_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(create_meets_unforeseen_user_and_reports_drift, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(create_meets_its_own_earlier_create_and_is_done, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_rows_are_reported_and_the_rest_proceeds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_profile_fails_before_any_request, setup, teardown),
        cmocka_unit_test_setup_teardown(mass_deactivation_is_refused_without_approval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(passwords_only_when_asked_and_only_where_told, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
