/* A seed in, requests on the wire, and /_emulator/state out: the organisation
 * the emulator holds is exactly what the seed and the requests make it. Also
 * /_emulator/reset, and seeds the emulator refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcstest.h"
#include "httptest.h"

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define PATCHOP "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":"
#define ANN "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"

static const char seed_text[] =
    "{\"roles\":[{\"name\":\"Agent\",\"id\":\"role-agent\",\"description\":\"Answers\"}],"
    "\"divisions\":[{\"name\":\"Home\",\"id\":\"div-home\"},{\"name\":\"Paris\"}],"
    "\"skills\":[{\"name\":\"Billing\"}],"
    "\"languages\":[{\"name\":\"French\"}],"
    "\"groups\":[{\"name\":\"Team A\",\"type\":\"official\",\"members\":[\"" ANN "\"]}],"
    "\"users\":["
    "{\"id\":\"" ANN "\",\"userName\":\"ann@example.com\",\"displayName\":\"Ann\",\"title\":\"Agent\","
    "\"roles\":[{\"value\":\"Agent\"}],\"" ENT "\":{\"division\":\"Paris\"}},"
    "{\"id\":\"" BOB "\",\"userName\":\"bob@example.com\",\"displayName\":\"Bob\",\"active\":false}]}";

/* The state without what differs from run to run (timestamps, locations). */
static json_t *stable(json_t *state)
{
    json_t *s = json_deep_copy(state);
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(s, "users"), i, u) {
        json_t *meta = json_object_get(u, "meta");
        json_object_del(meta, "created");
        json_object_del(meta, "lastModified");
        json_object_del(meta, "location");
        size_t j;
        json_t *g;
        json_array_foreach(json_object_get(u, "groups"), j, g)
            json_object_del(g, "$ref");
    }
    return s;
}

static json_t *find_user(json_t *state, const char *user_name)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(state, "users"), i, u)
        if (strcmp(json_string_value(json_object_get(u, "userName")), user_name) == 0)
            return u;
    return NULL;
}

static void test_seed_drive_compare(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *seed = gcs_test_write_file(dir, "org.json", seed_text);
    gcs_test_server s;
    const char *args[] = {"--client", "c:s", "--seed", seed, "--fault-seed", "42", NULL};
    gcs_test_server_start(&s, gcs_test_emulator_path(), args, 20000);
    char *tok = gcs_test_emu_token(&s, "c", "s");

    /* The seed as loaded. */
    json_t *initial = gcs_test_emu_admin(&s, "GET", "state", NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(initial, "roles"), 0), "id")), "role-agent");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(initial, "roles"), 0), "description")), "Answers");
    assert_non_null(json_string_value(json_object_get(json_array_get(json_object_get(initial, "divisions"), 1), "id")));
    json_t *ann = find_user(initial, "ann@example.com");
    assert_string_equal(json_string_value(json_object_get(ann, "id")), ANN);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(ann, "groups"), 0), "display")), "Team A");
    assert_true(json_is_false(json_object_get(find_user(initial, "bob@example.com"), "active")));
    json_t *initial_stable = stable(initial);

    /* Drive it. */
    gcs_test_http r;
    gcs_test_emu_call(&r, &s, tok, "POST", "/api/v2/scim/v2/users",
                      "{\"userName\":\"cat@example.com\",\"displayName\":\"Cat\",\"password\":\"pw-12345\","
                      "\"" ENT "\":{\"division\":\"Home\",\"manager\":{\"value\":\"" ANN "\"}}}", NULL);
    assert_int_equal(r.status, 201);
    char *cat = strdup(json_string_value(json_object_get(r.json, "id")));
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "PATCH", "/api/v2/scim/v2/users/" ANN,
                      PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Lead\"}]}", "If-Match: \"1\"");
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "DELETE", "/api/v2/scim/v2/users/" BOB, NULL, NULL);
    assert_int_equal(r.status, 204);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "POST", "/api/v2/groups", "{\"name\":\"Team C\",\"type\":\"social\"}", NULL);
    assert_int_equal(r.status, 200);
    char path[256], body[512];
    snprintf(path, sizeof path, "/api/v2/scim/v2/groups/%s", json_string_value(json_object_get(r.json, "id")));
    gcs_test_http_release(&r);
    snprintf(body, sizeof body, PATCHOP "[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"},{\"value\":\"" ANN "\"}]}]}", cat);
    gcs_test_emu_call(&r, &s, tok, "PATCH", path, body, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);

    /* What the state must be now. */
    json_t *now = gcs_test_emu_admin(&s, "GET", "state", NULL);
    json_t *users = json_object_get(now, "users");
    assert_int_equal(json_array_size(users), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(users, 0), "userName")), "ann@example.com");
    assert_string_equal(json_string_value(json_object_get(json_array_get(users, 1), "userName")), "cat@example.com");
    assert_null(find_user(now, "bob@example.com"));
    ann = find_user(now, "ann@example.com");
    assert_string_equal(json_string_value(json_object_get(ann, "title")), "Lead");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ann, "meta"), "version")), "2");
    assert_int_equal(json_array_size(json_object_get(ann, "groups")), 2);
    json_t *c = find_user(now, "cat@example.com");
    assert_null(json_object_get(c, "password"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(c, ENT), "manager"), "value")), ANN);
    assert_int_equal(json_array_size(json_object_get(c, "groups")), 1);
    json_t *groups = json_object_get(now, "groups");
    assert_int_equal(json_array_size(groups), 2);
    json_t *tc = json_array_get(groups, 1);
    assert_string_equal(json_string_value(json_object_get(tc, "name")), "Team C");
    assert_string_equal(json_string_value(json_object_get(tc, "type")), "social");
    json_t *want_members = json_pack("[ss]", cat, ANN);
    assert_true(json_equal(json_object_get(tc, "members"), want_members));
    json_decref(want_members);
    /* Team A lost nobody: Bob was never in it. */
    want_members = json_pack("[s]", ANN);
    assert_true(json_equal(json_object_get(json_array_get(groups, 0), "members"), want_members));
    json_decref(want_members);
    /* Roles, divisions, skills and languages did not move. */
    assert_true(json_equal(json_object_get(now, "roles"), json_object_get(initial, "roles")));
    assert_true(json_equal(json_object_get(now, "divisions"), json_object_get(initial, "divisions")));
    json_decref(now);

    /* Reset: back to the seed, same ids (the PRNG is seeded by --fault-seed), stats cleared. */
    json_decref(gcs_test_emu_admin(&s, "POST", "reset", ""));
    json_t *after = gcs_test_emu_admin(&s, "GET", "state", NULL);
    json_t *after_stable = stable(after);
    assert_true(json_equal(after_stable, initial_stable));
    json_t *st = gcs_test_emu_admin(&s, "GET", "stats", NULL);
    assert_int_equal(json_integer_value(json_object_get(st, "requests")), 0);
    json_decref(st);
    /* The token survives a reset. */
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users/" BOB, NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);

    json_decref(after);
    json_decref(after_stable);
    json_decref(initial);
    json_decref(initial_stable);
    free(cat);
    free(tok);
    assert_int_equal(gcs_test_server_stop(&s), 0);
    free(seed);
    gcs_test_tmpdir_remove(dir);
}

static void bad_seed(const char *text, const char *want)
{
    char *dir = gcs_test_tmpdir();
    char *seed = gcs_test_write_file(dir, "bad.json", text);
    const char *argv[] = {gcs_test_emulator_path(), "--seed", seed, "--listen", "127.0.0.1:0", NULL};
    gcs_test_run run;
    gcs_test_run_program(&run, argv, NULL, NULL, 20000);
    assert_int_equal(run.exit_code, 1);
    if (!strstr(run.err.ptr, want))
        fail_msg("want '%s' in: %s", want, run.err.ptr);
    gcs_test_run_release(&run);
    free(seed);
    gcs_test_tmpdir_remove(dir);
}

static void test_bad_seeds(void **state)
{
    (void)state;
    bad_seed("{\"users\":[", "cannot read seed");
    bad_seed("[]", "is not a JSON object");
    bad_seed("{\"people\":[]}", "unknown key 'people'");
    bad_seed("{\"roles\":{}}", "'roles' is not an array");
    bad_seed("{\"roles\":[{\"id\":\"x\"}]}", "roles[0] has no name");
    bad_seed("{\"users\":[{\"userName\":\"a\"}]}", "needs userName and displayName");
    bad_seed("{\"users\":[{\"userName\":\"a\",\"displayName\":\"A\"},{\"userName\":\"A\",\"displayName\":\"B\"}]}",
             "userName 'A' is taken");
    bad_seed("{\"groups\":[{\"name\":\"G\",\"members\":[\"ghost\"]}]}", "no such member 'ghost'");
    bad_seed("{\"roles\":[{\"name\":\"R\"}],\"divisions\":[{\"name\":\"D\"}],"
             "\"groups\":[{\"name\":\"G\",\"grants\":[{\"role\":\"R\",\"division\":\"D\"}]}]}",
             "grants need rolesEnabled");
    bad_seed("{\"roles\":[{\"name\":\"R\"}],\"groups\":[{\"name\":\"G\",\"rolesEnabled\":true,"
             "\"grants\":[{\"role\":\"R\",\"division\":\"Nowhere\"}]}]}",
             "groups[0].grants[0]: unknown role or division");
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_drive_compare),
        cmocka_unit_test(test_bad_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
