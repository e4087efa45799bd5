/* gcscim-emulator's groups (Platform API create/list, SCIM read/PATCH/PUT),
 * the role/division/skill/language lists with Genesys paging, and discovery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcstest.h"
#include "httptest.h"

#define PATCHOP "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":"

static const char seed_text[] =
    "{\"roles\":[{\"name\":\"Agent\"},{\"name\":\"Admin\"},{\"name\":\"Supervisor\"}],"
    "\"divisions\":[{\"name\":\"Home\"},{\"name\":\"Sales\"}],"
    "\"skills\":[{\"name\":\"Billing\"},{\"name\":\"Support\"},{\"name\":\"Sales\"}],"
    "\"languages\":[{\"name\":\"French\"},{\"name\":\"German\"}],"
    "\"groups\":[{\"name\":\"Team A\",\"type\":\"official\",\"members\":[\"ann@example.com\"]}],"
    "\"users\":[{\"userName\":\"ann@example.com\",\"displayName\":\"Ann\"},"
    "{\"userName\":\"bob@example.com\",\"displayName\":\"Bob\"}]}";

typedef struct fixture {
    gcs_test_server s;
    char *dir;
    char *tok;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    char *seed = gcs_test_write_file(f->dir, "seed.json", seed_text);
    const char *args[] = {"--client", "c:s", "--seed", seed, "--rate-limit", "0", NULL};
    gcs_test_server_start(&f->s, gcs_test_emulator_path(), args, 20000);
    free(seed);
    f->tok = gcs_test_emu_token(&f->s, "c", "s");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(gcs_test_server_stop(&f->s), 0);
    gcs_test_tmpdir_remove(f->dir);
    free(f->tok);
    free(f);
    return 0;
}

static long call(gcs_test_http *r, fixture *f, const char *method, const char *path,
                 const char *body, const char *extra)
{
    gcs_test_emu_call(r, &f->s, f->tok, method, path, body, extra);
    return r->status;
}

static long status(fixture *f, const char *method, const char *path, const char *body, const char *extra)
{
    gcs_test_http r;
    long st = call(&r, f, method, path, body, extra);
    gcs_test_http_release(&r);
    return st;
}

/* The id of the first resource a SCIM list answers, or NULL. */
static char *first_id(fixture *f, const char *path)
{
    gcs_test_http r;
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    const char *id = json_string_value(json_object_get(json_array_get(json_object_get(r.json, "Resources"), 0), "id"));
    char *copy = id ? strdup(id) : NULL;
    gcs_test_http_release(&r);
    return copy;
}

static json_t *user_groups(fixture *f, const char *user_id)
{
    char path[256];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", user_id);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    json_t *g = json_incref(json_object_get(r.json, "groups"));
    gcs_test_http_release(&r);
    return g;
}

static void test_platform_groups(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    assert_int_equal(call(&r, f, "POST", "/api/v2/groups",
                          "{\"name\":\"Team B\",\"type\":\"official\",\"visibility\":\"public\","
                          "\"rulesVisible\":true,\"description\":\"B team\"}", NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "Team B");
    assert_non_null(json_string_value(json_object_get(r.json, "id")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "memberCount")), 0);
    gcs_test_http_release(&r);
    assert_int_equal(status(f, "POST", "/api/v2/groups", "{\"name\":\"team b\",\"type\":\"official\"}", NULL), 409);
    assert_int_equal(status(f, "POST", "/api/v2/groups", "{\"name\":\"C\",\"type\":\"secret\"}", NULL), 400);
    assert_int_equal(status(f, "POST", "/api/v2/groups", "{\"type\":\"official\"}", NULL), 400);
    assert_int_equal(status(f, "POST", "/api/v2/groups", "{\"name\":\"C\",\"type\":\"social\",\"visibility\":\"all\"}", NULL), 400);

    assert_int_equal(call(&r, f, "GET", "/api/v2/groups?pageSize=1&pageNumber=2", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "pageCount")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "entities"), 0), "name")), "Team B");
    assert_null(json_object_get(r.json, "nextUri"));
    gcs_test_http_release(&r);

    /* SCIM sees it by display name; SCIM cannot create or delete groups. */
    char *gid = first_id(f, "/api/v2/scim/v2/groups?filter=displayName%20eq%20%22Team%20B%22");
    assert_non_null(gid);
    char path[256];
    snprintf(path, sizeof path, "/api/v2/scim/v2/groups/%s", gid);
    assert_int_equal(status(f, "DELETE", path, NULL, NULL), 405);
    assert_int_equal(status(f, "POST", "/api/v2/scim/v2/groups", "{\"displayName\":\"X\"}", NULL), 405);
    snprintf(path, sizeof path, "/api/v2/groups/%s", gid);
    assert_int_equal(status(f, "GET", path, NULL, NULL), 200);
    free(gid);
}

static void test_scim_group_members(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    assert_int_equal(status(f, "GET", "/api/v2/scim/v2/groups", NULL, NULL), 400); /* filter required */
    char *gid = first_id(f, "/api/v2/scim/v2/groups?filter=displayname%20eq%20%22team%20a%22");
    char *ann = first_id(f, "/api/v2/scim/v2/users?filter=userName%20eq%20%22ann@example.com%22");
    char *bob = first_id(f, "/api/v2/scim/v2/users?filter=userName%20eq%20%22bob@example.com%22");
    assert_non_null(gid);
    char q[256], path[256], body[1024], h[32];
    snprintf(q, sizeof q, "/api/v2/scim/groups?filter=id%%20eq%%20%%22%s%%22", gid);
    char *same = first_id(f, q);
    assert_string_equal(same, gid);
    free(same);
    snprintf(path, sizeof path, "/api/v2/scim/v2/groups/%s", gid);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "displayName")), "Team A");
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 1);
    assert_string_equal(gcs_test_http_header(&r, "ETag", h, sizeof h), "\"1\"");
    gcs_test_http_release(&r);
    json_t *g = user_groups(f, ann);
    assert_int_equal(json_array_size(g), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(g, 0), "value")), gid);
    json_decref(g);

    /* Add Bob. */
    snprintf(body, sizeof body, PATCHOP "[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"}]}]}", bob);
    assert_int_equal(call(&r, f, "PATCH", path, body, "If-Match: \"1\""), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 2);
    gcs_test_http_release(&r);
    g = user_groups(f, bob);
    assert_int_equal(json_array_size(g), 1);
    json_decref(g);
    /* Stale version on a group. */
    assert_int_equal(status(f, "PATCH", path, body, "If-Match: \"1\""), 400);
    /* Remove Ann with a value filter. */
    snprintf(body, sizeof body, PATCHOP "[{\"op\":\"remove\",\"path\":\"members[value eq \\\"%s\\\"]\"}]}", ann);
    assert_int_equal(call(&r, f, "PATCH", path, body, NULL), 200);
    json_t *members = json_object_get(r.json, "members");
    assert_int_equal(json_array_size(members), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(members, 0), "value")), bob);
    gcs_test_http_release(&r);
    g = user_groups(f, ann);
    assert_int_equal(json_array_size(g), 0);
    json_decref(g);
    /* Azure's form: remove with a value list. */
    snprintf(body, sizeof body, PATCHOP "[{\"op\":\"remove\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"}]}]}", bob);
    assert_int_equal(call(&r, f, "PATCH", path, body, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 0);
    gcs_test_http_release(&r);

    /* Unknown member, read-only displayName. */
    assert_int_equal(status(f, "PATCH", path, PATCHOP "[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"nobody\"}]}]}", NULL), 400);
    assert_int_equal(status(f, "PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"Z\"}]}", NULL), 400);

    /* PUT replaces the members. */
    snprintf(body, sizeof body, "{\"displayName\":\"Team A\",\"members\":[{\"value\":\"%s\"},{\"value\":\"%s\"}]}", ann, bob);
    assert_int_equal(call(&r, f, "PUT", path, body, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 2);
    gcs_test_http_release(&r);
    assert_int_equal(status(f, "PUT", path, "{\"displayName\":\"Renamed\",\"members\":[]}", NULL), 400);

    /* Deleting a user takes them out of the group. */
    char upath[256];
    snprintf(upath, sizeof upath, "/api/v2/scim/v2/users/%s", bob);
    assert_int_equal(status(f, "DELETE", upath, NULL, NULL), 204);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 1);
    /* 1 seed, 3 PATCHes, 1 PUT, then the deletion: version 6. */
    assert_string_equal(gcs_test_http_header(&r, "ETag", h, sizeof h), "\"6\"");
    gcs_test_http_release(&r);
    g = user_groups(f, ann);
    assert_int_equal(json_array_size(g), 1);
    json_decref(g);
    free(gid);
    free(ann);
    free(bob);
}

static void test_named_lists(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    assert_int_equal(call(&r, f, "GET", "/api/v2/authorization/roles?pageSize=2&pageNumber=1", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(r.json, "pageCount")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "pageSize")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "pageNumber")), 1);
    assert_int_equal(json_array_size(json_object_get(r.json, "entities")), 2);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "nextUri")), "pageNumber=2"));
    json_t *e = json_array_get(json_object_get(r.json, "entities"), 0);
    assert_non_null(json_string_value(json_object_get(e, "id")));
    assert_string_equal(json_string_value(json_object_get(e, "name")), "Agent");
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/authorization/roles?name=supervisor", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/authorization/divisions", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/routing/skills?name=S*", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/routing/languages?pageSize=1&pageNumber=2", NULL, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "entities"), 0), "name")), "German");
    assert_non_null(json_object_get(r.json, "previousUri"));
    gcs_test_http_release(&r);
    assert_int_equal(status(f, "GET", "/api/v2/routing/queues", NULL, NULL), 404);
    assert_int_equal(call(&r, f, "GET", "/api/v2/nothing/here", NULL, NULL), 404);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "not.found");
    gcs_test_http_release(&r);
}

static void test_discovery(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/serviceproviderconfig", NULL, NULL), 200);
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "patch"), "supported")));
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "etag"), "supported")));
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/resourcetypes", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 2);
    gcs_test_http_release(&r);
    assert_int_equal(status(f, "GET", "/api/v2/scim/v2/resourcetypes/User", NULL, NULL), 200);
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/schemas", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 4);
    gcs_test_http_release(&r);
    assert_int_equal(status(f, "GET", "/api/v2/scim/v2/schemas/urn:ietf:params:scim:schemas:core:2.0:User", NULL, NULL), 200);
    assert_int_equal(status(f, "GET", "/api/v2/scim/v2/schemas/urn:nope", NULL, NULL), 404);
}

int main(void)
{
    gcs_test_deadline(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_platform_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scim_group_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
