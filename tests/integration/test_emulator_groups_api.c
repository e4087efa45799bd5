/* gcscim-emulator's Platform Groups API and role grants: PUT with version
 * (409 when stale), members paged, added with version and removed by ids (at
 * most 50), authorization subjects with bulkadd / bulkremove (a group needs
 * rolesEnabled), scopes, and the SCIM view of the same groups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcstest.h"
#include "httptest.h"

#define PATCHOP "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":"
#define NUSERS 60

typedef struct fixture {
    gcs_test_server s;
    char *dir;
    char *tok;   /* every scope */
    char *ro;    /* groups:readonly, authorization:readonly */
} fixture;

/* Users u1..u60; g1 (roles enabled, one grant) holds u1, g2 does not hold roles. */
static char *seed_text(void)
{
    gcs_buf b;
    gcs_buf_init(&b, 1 << 20);
    int rc = gcs_buf_puts(&b, "{\"roles\":[{\"id\":\"r-agent\",\"name\":\"Agent\"},{\"id\":\"r-admin\",\"name\":\"Admin\"}],"
                           "\"divisions\":[{\"id\":\"d-home\",\"name\":\"Home\"},{\"id\":\"d-paris\",\"name\":\"Paris\"}],"
                           "\"groups\":[{\"id\":\"g1\",\"name\":\"Team A\",\"type\":\"official\",\"rolesEnabled\":true,"
                           "\"members\":[\"u1\"],\"grants\":[{\"role\":\"Agent\",\"divisionId\":\"d-home\"}]},"
                           "{\"id\":\"g2\",\"name\":\"Team B\",\"type\":\"social\"}],\"users\":[");
    for (int i = 1; i <= NUSERS; i++)
        rc |= gcs_buf_printf(&b, "%s{\"id\":\"u%d\",\"userName\":\"u%d@example.com\",\"displayName\":\"User %d\"}",
                             i > 1 ? "," : "", i, i, i);
    rc |= gcs_buf_puts(&b, "]}");
    assert_int_equal(rc, 0);
    return gcs_buf_detach(&b);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    char *text = seed_text();
    char *seed = gcs_test_write_file(f->dir, "seed.json", text);
    const char *args[] = {"--client", "c:s", "--client", "ro:s", "--client-scopes",
                          "ro=groups:readonly,authorization:readonly", "--seed", seed,
                          "--rate-limit", "0", "--fault-seed", "3", NULL};
    gcs_test_server_start(&f->s, gcs_test_emulator_path(), args, 20000);
    free(seed);
    free(text);
    f->tok = gcs_test_emu_token(&f->s, "c", "s");
    f->ro = gcs_test_emu_token(&f->s, "ro", "s");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(gcs_test_server_stop(&f->s), 0);
    gcs_test_tmpdir_remove(f->dir);
    free(f->tok);
    free(f->ro);
    free(f);
    return 0;
}

static long call(gcs_test_http *r, fixture *f, const char *method, const char *path,
                 const char *body, const char *extra)
{
    gcs_test_emu_call(r, &f->s, f->tok, method, path, body, extra);
    return r->status;
}

static long status(fixture *f, const char *method, const char *path, const char *body)
{
    gcs_test_http r;
    long st = call(&r, f, method, path, body, NULL);
    gcs_test_http_release(&r);
    return st;
}

static long group_version(fixture *f, const char *id)
{
    char path[128];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/groups/%s", id);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    long v = (long)json_integer_value(json_object_get(r.json, "version"));
    gcs_test_http_release(&r);
    return v;
}

/* The group ids in user `id`'s read-only `groups`, joined by commas. */
static void user_groups(fixture *f, const char *id, char *out, size_t outsz)
{
    char path[128];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    size_t i, n = 0;
    json_t *g;
    out[0] = '\0';
    json_array_foreach(json_object_get(r.json, "groups"), i, g)
        n += (size_t)snprintf(out + n, outsz - n, "%s%s%s", i ? "," : "",
                              json_string_value(json_object_get(g, "value")),
                              strcmp(json_string_value(json_object_get(g, "display")), "Team Z") == 0 ? "(Z)" : "");
    gcs_test_http_release(&r);
}

static void test_group_update(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char groups[256];
    assert_int_equal(group_version(f, "g1"), 1);
    assert_int_equal(status(f, "PUT", "/api/v2/groups/g1", "{\"name\":\"Team Z\"}"), 400);
    assert_int_equal(call(&r, f, "PUT", "/api/v2/groups/g1", "{\"name\":\"Team Z\",\"version\":5}", NULL), 409);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "general.conflict");
    gcs_test_http_release(&r);
    assert_int_equal(status(f, "PUT", "/api/v2/groups/g1", "{\"name\":\"Team B\",\"version\":1}"), 409);
    assert_int_equal(status(f, "PUT", "/api/v2/groups/g1", "{\"visibility\":\"all\",\"version\":1}"), 400);
    assert_int_equal(status(f, "PUT", "/api/v2/groups/nope", "{\"version\":1}"), 404);
    assert_int_equal(call(&r, f, "PUT", "/api/v2/groups/g1",
                          "{\"name\":\"Team Z\",\"description\":\"zed\",\"visibility\":\"members\",\"version\":1}", NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "Team Z");
    assert_string_equal(json_string_value(json_object_get(r.json, "description")), "zed");
    assert_string_equal(json_string_value(json_object_get(r.json, "visibility")), "members");
    assert_true(json_is_true(json_object_get(r.json, "rolesEnabled")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
    gcs_test_http_release(&r);
    /* SCIM sees the new name and the same version; the old name is free. */
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/groups/g1", NULL, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "displayName")), "Team Z");
    char h[16];
    assert_string_equal(gcs_test_http_header(&r, "ETag", h, sizeof h), "\"2\"");
    gcs_test_http_release(&r);
    user_groups(f, "u1", groups, sizeof groups);
    assert_string_equal(groups, "g1(Z)");
    assert_int_equal(status(f, "POST", "/api/v2/groups", "{\"name\":\"Team A\",\"type\":\"official\"}"), 200);
    assert_int_equal(status(f, "POST", "/api/v2/groups", "{\"name\":\"TEAM Z\",\"type\":\"official\"}"), 409);
    /* Paged list, O(page): three groups now. */
    assert_int_equal(call(&r, f, "GET", "/api/v2/groups?pageSize=2&pageNumber=2", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 3);
    assert_int_equal(json_array_size(json_object_get(r.json, "entities")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "entities"), 0), "name")), "Team A");
    gcs_test_http_release(&r);
    assert_int_equal(status(f, "DELETE", "/api/v2/groups/g1", NULL), 204);
    user_groups(f, "u1", groups, sizeof groups);
    assert_string_equal(groups, "");
    assert_int_equal(status(f, "GET", "/api/v2/groups/g1", NULL), 404);
}

static void test_group_members(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char groups[256], body[2048];
    assert_int_equal(call(&r, f, "GET", "/api/v2/groups/g1/members?pageSize=1", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    json_t *e = json_array_get(json_object_get(r.json, "entities"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "id")), "u1");
    assert_string_equal(json_string_value(json_object_get(e, "name")), "User 1");
    assert_string_equal(json_string_value(json_object_get(e, "state")), "active");
    gcs_test_http_release(&r);

    assert_int_equal(status(f, "POST", "/api/v2/groups/g1/members", "{\"memberIds\":[\"u2\"]}"), 400);
    assert_int_equal(status(f, "POST", "/api/v2/groups/g1/members", "{\"memberIds\":[\"u2\"],\"version\":7}"), 409);
    assert_int_equal(status(f, "POST", "/api/v2/groups/g1/members", "{\"memberIds\":[\"ghost\"],\"version\":1}"), 400);
    assert_int_equal(status(f, "POST", "/api/v2/groups/g1/members", "{\"memberIds\":[],\"version\":1}"), 400);
    size_t n = (size_t)snprintf(body, sizeof body, "{\"version\":1,\"memberIds\":[");
    for (int i = 1; i <= 51; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s\"u%d\"", i > 1 ? "," : "", i);
    snprintf(body + n, sizeof body - n, "]}");
    assert_int_equal(status(f, "POST", "/api/v2/groups/g1/members", body), 400);
    assert_int_equal(status(f, "POST", "/api/v2/groups/nope/members", "{\"memberIds\":[\"u2\"],\"version\":1}"), 404);
    assert_int_equal(group_version(f, "g1"), 1); /* nothing of the above changed it */

    assert_int_equal(status(f, "POST", "/api/v2/groups/g1/members", "{\"memberIds\":[\"u2\",\"u3\",\"u1\"],\"version\":1}"), 202);
    assert_int_equal(group_version(f, "g1"), 2);
    assert_int_equal(call(&r, f, "GET", "/api/v2/groups/g1/members?pageSize=2&pageNumber=2", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "entities"), 0), "id")), "u3");
    gcs_test_http_release(&r);
    user_groups(f, "u2", groups, sizeof groups);
    assert_string_equal(groups, "g1");
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/groups/g1", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 3);
    gcs_test_http_release(&r);

    /* Removal by ids: at most 50, non-members ignored, no version. */
    assert_int_equal(status(f, "DELETE", "/api/v2/groups/g1/members", NULL), 400);
    n = (size_t)snprintf(body, sizeof body, "/api/v2/groups/g1/members?ids=");
    for (int i = 1; i <= 51; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%su%d", i > 1 ? "," : "", i);
    assert_int_equal(status(f, "DELETE", body, NULL), 400);
    assert_int_equal(status(f, "DELETE", "/api/v2/groups/g1/members?ids=u2,u3,u9", NULL), 202);
    assert_int_equal(group_version(f, "g1"), 3);
    user_groups(f, "u2", groups, sizeof groups);
    assert_string_equal(groups, "");
    assert_int_equal(call(&r, f, "GET", "/api/v2/groups/g1/members", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    gcs_test_http_release(&r);

    /* SCIM PATCH on /api/v2/scim/groups (not v2) with If-Match moves the same version. */
    snprintf(body, sizeof body, PATCHOP "[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"u5\"}]}]}");
    assert_int_equal(call(&r, f, "PATCH", "/api/v2/scim/groups/g1", body, "If-Match: \"2\""), 400);
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "PATCH", "/api/v2/scim/groups/g1", body, "If-Match: \"3\""), 200);
    gcs_test_http_release(&r);
    snprintf(body, sizeof body, PATCHOP "[{\"op\":\"remove\",\"path\":\"members[value eq \\\"u1\\\"]\"}]}");
    assert_int_equal(call(&r, f, "PATCH", "/api/v2/scim/groups/g1", body, "If-Match: W/\"4\""), 200);
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/groups/g1/members", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "entities"), 0), "id")), "u5");
    gcs_test_http_release(&r);
    assert_int_equal(group_version(f, "g1"), 5);
    user_groups(f, "u5", groups, sizeof groups);
    assert_string_equal(groups, "g1");
    user_groups(f, "u1", groups, sizeof groups);
    assert_string_equal(groups, "");
}

static int grant_count(fixture *f, const char *subject)
{
    char path[128];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/authorization/subjects/%s", subject);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    int n = (int)json_array_size(json_object_get(r.json, "grants"));
    gcs_test_http_release(&r);
    return n;
}

static void test_subjects(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    assert_int_equal(call(&r, f, "GET", "/api/v2/authorization/subjects/g1", NULL, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "Team A");
    json_t *g = json_array_get(json_object_get(r.json, "grants"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "subjectId")), "g1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(g, "role"), "id")), "r-agent");
    assert_string_equal(json_string_value(json_object_get(json_object_get(g, "role"), "name")), "Agent");
    assert_string_equal(json_string_value(json_object_get(json_object_get(g, "division"), "name")), "Home");
    gcs_test_http_release(&r);

    const char *admin_paris = "{\"grants\":[{\"roleId\":\"r-admin\",\"divisionId\":\"d-paris\"}]}";
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/bulkadd", admin_paris), 204);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/bulkadd", admin_paris), 204);
    assert_int_equal(grant_count(f, "g1"), 2);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/bulkremove",
                            "{\"grants\":[{\"roleId\":\"r-agent\",\"divisionId\":\"d-home\"}]}"), 204);
    assert_int_equal(grant_count(f, "g1"), 1);
    /* A group without rolesEnabled holds no grants; unknown roles and divisions, bad bodies. */
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g2/bulkadd", admin_paris), 400);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/bulkadd",
                            "{\"grants\":[{\"roleId\":\"r-none\",\"divisionId\":\"d-home\"}]}"), 400);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/bulkadd",
                            "{\"grants\":[{\"roleId\":\"r-admin\",\"divisionId\":\"d-none\"}]}"), 400);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/bulkadd", "{\"grants\":{}}"), 400);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/bulkadd", "{\"grants\":[{\"roleId\":\"r-admin\"}]}"), 400);
    assert_int_equal(grant_count(f, "g1"), 1);
    assert_int_equal(status(f, "GET", "/api/v2/authorization/subjects/nope", NULL), 404);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/g1/elsewhere", "{}"), 404);
    assert_int_equal(status(f, "GET", "/api/v2/authorization/subjects/g1/bulkadd", NULL), 405);
    /* A user is a subject too. */
    assert_int_equal(grant_count(f, "u7"), 0);
    assert_int_equal(status(f, "POST", "/api/v2/authorization/subjects/u7/bulkadd", admin_paris), 204);
    assert_int_equal(grant_count(f, "u7"), 1);
    /* The state dump carries the group's grants. */
    json_t *st = gcs_test_emu_admin(&f->s, "GET", "state", NULL);
    json_t *g1 = json_array_get(json_object_get(st, "groups"), 0);
    assert_true(json_is_true(json_object_get(g1, "rolesEnabled")));
    assert_int_equal(json_array_size(json_object_get(g1, "grants")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(g1, "grants"), 0), "roleId")), "r-admin");
    json_decref(st);
}

static void test_scopes(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    gcs_test_emu_call(&r, &f->s, f->ro, "GET", "/api/v2/groups", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &f->s, f->ro, "POST", "/api/v2/groups", "{\"name\":\"X\",\"type\":\"official\"}", NULL);
    assert_int_equal(r.status, 403);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "missing.any.scopes");
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &f->s, f->ro, "GET", "/api/v2/authorization/subjects/g1", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &f->s, f->ro, "GET", "/api/v2/authorization/roles", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &f->s, f->ro, "POST", "/api/v2/authorization/subjects/g1/bulkadd",
                      "{\"grants\":[{\"roleId\":\"r-admin\",\"divisionId\":\"d-paris\"}]}", NULL);
    assert_int_equal(r.status, 403);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &f->s, f->ro, "DELETE", "/api/v2/groups/g1/members?ids=u1", NULL, NULL);
    assert_int_equal(r.status, 403);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &f->s, f->ro, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 403);
    gcs_test_http_release(&r);
}

int main(void)
{
    gcs_test_deadline(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subjects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
