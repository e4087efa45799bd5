/* gcscim-emulator's SCIM users over the wire: create, read, list and filters,
 * paging, PUT, PATCH, DELETE, versions and conflicts, validation against the
 * organisation, and the errors for bad bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcstest.h"
#include "httptest.h"

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define GEN "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"
#define PATCHOP "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":"

static const char seed_text[] =
    "{\"roles\":[{\"name\":\"Agent\"},{\"name\":\"Supervisor\"}],"
    "\"divisions\":[{\"name\":\"Home\"},{\"name\":\"Sales\"}],"
    "\"skills\":[{\"name\":\"Billing\"},{\"name\":\"Support\"}],"
    "\"languages\":[{\"name\":\"French\"}],"
    "\"groups\":[{\"name\":\"Team A\",\"type\":\"official\"}],"
    "\"users\":[{\"userName\":\"boss@example.com\",\"displayName\":\"Boss\",\"id\":\"00000000-0000-4000-8000-000000000001\"}]}";

typedef struct fixture {
    gcs_test_server s;
    char *dir;
    char *tok;
} fixture;

static fixture *fx_start(const char *const *extra)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    char *seed = gcs_test_write_file(f->dir, "seed.json", seed_text);
    const char *args[24] = {"--client", "c:s", "--seed", seed, "--rate-limit", "0"};
    size_t n = 6;
    for (size_t i = 0; extra && extra[i] && n < 23; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    gcs_test_server_start(&f->s, gcs_test_emulator_path(), args, 20000);
    free(seed);
    f->tok = gcs_test_emu_token(&f->s, "c", "s");
    return f;
}

static void fx_stop(fixture *f)
{
    assert_int_equal(gcs_test_server_stop(&f->s), 0);
    gcs_test_tmpdir_remove(f->dir);
    free(f->tok);
    free(f);
}

static int setup(void **state)
{
    *state = fx_start(NULL);
    return 0;
}

static int teardown(void **state)
{
    fx_stop(*state);
    return 0;
}

/* One call; the answer is left in *r (release it). */
static long call(gcs_test_http *r, fixture *f, const char *method, const char *path,
                 const char *body, const char *extra)
{
    gcs_test_emu_call(r, &f->s, f->tok, method, path, body, extra);
    return r->status;
}

/* A call whose answer is only its status (and scimType, when there is one). */
static long status_of(fixture *f, const char *method, const char *path, const char *body,
                      const char *extra, const char *want_scim_type)
{
    gcs_test_http r;
    long st = call(&r, f, method, path, body, extra);
    if (want_scim_type) {
        const char *t = json_string_value(json_object_get(r.json, "scimType"));
        if (!t || strcmp(t, want_scim_type) != 0)
            fail_msg("%s %s: want scimType %s, got %s", method, path, want_scim_type, r.body.ptr);
        assert_true(strstr(json_string_value(json_array_get(json_object_get(r.json, "schemas"), 0)),
                           "messages:2.0:Error") != NULL);
    }
    gcs_test_http_release(&r);
    return st;
}

static char *create(fixture *f, const char *body)
{
    gcs_test_http r;
    if (call(&r, f, "POST", "/api/v2/scim/v2/users", body, NULL) != 201)
        fail_msg("create failed: %ld %s", r.status, r.body.ptr);
    char *id = strdup(json_string_value(json_object_get(r.json, "id")));
    gcs_test_http_release(&r);
    return id;
}

static json_t *get_user(fixture *f, const char *id)
{
    char path[256];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    json_t *j = json_incref(r.json);
    gcs_test_http_release(&r);
    return j;
}

static long total_of(fixture *f, const char *query)
{
    char path[1024];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/scim/v2/users?%s", query);
    if (call(&r, f, "GET", path, NULL, NULL) != 200)
        fail_msg("list %s: %ld %s", query, r.status, r.body.ptr);
    long n = (long)json_integer_value(json_object_get(r.json, "totalResults"));
    gcs_test_http_release(&r);
    return n;
}

/* ==== Create ==== */

static void test_create_and_read(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"userName\":\"ann@example.com\",\"displayName\":\"Ann\",\"password\":\"S3cret!!\","
                         "\"title\":\"Agent\",\"roles\":[{\"value\":\"Agent\"}],"
                         "\"emails\":[{\"type\":\"work\",\"value\":\"ann@example.com\",\"primary\":true}],"
                         "\"phoneNumbers\":[{\"type\":\"mobile\",\"value\":\"+33612345678\"}],"
                         "\"externalId\":\"hr-1\","
                         "\"" ENT "\":{\"division\":\"Sales\",\"department\":\"Ops\",\"employeeNumber\":\"E1\","
                         "\"dateHire\":\"2024-01-31\",\"manager\":{\"value\":\"00000000-0000-4000-8000-000000000001\"}},"
                         "\"" GEN "\":{\"routingSkills\":[{\"name\":\"Billing\",\"proficiency\":4.5}],"
                         "\"routingLanguages\":[{\"name\":\"French\",\"proficiency\":5}],"
                         "\"externalIds\":[{\"authority\":\"hr\",\"value\":\"H1\"}]}}");
    json_t *u = get_user(f, id);
    assert_null(json_object_get(u, "password"));
    assert_string_equal(json_string_value(json_object_get(u, "id")), id);
    assert_true(json_is_true(json_object_get(u, "active")));
    assert_int_equal(json_array_size(json_object_get(u, "schemas")), 3);
    json_t *meta = json_object_get(u, "meta");
    assert_string_equal(json_string_value(json_object_get(meta, "resourceType")), "User");
    assert_string_equal(json_string_value(json_object_get(meta, "version")), "1");
    assert_non_null(strstr(json_string_value(json_object_get(meta, "location")), id));
    assert_non_null(json_object_get(meta, "created"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(u, ENT), "division")), "Sales");
    json_decref(u);

    /* Both path prefixes, and If-None-Match. */
    char path[256], h[64];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/scim/users/%s", id);
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    assert_string_equal(gcs_test_http_header(&r, "ETag", h, sizeof h), "\"1\"");
    assert_non_null(gcs_test_http_header(&r, "ININ-Correlation-Id", h, sizeof h));
    gcs_test_http_release(&r);
    assert_int_equal(status_of(f, "GET", path, NULL, "If-None-Match: \"1\"", NULL), 304);
    assert_int_equal(status_of(f, "GET", path, NULL, "If-None-Match: \"7\"", NULL), 200);
    assert_int_equal(status_of(f, "GET", "/api/v2/scim/v2/users/nope", NULL, NULL, NULL), 404);
    free(id);
}

static void test_create_errors(void **state)
{
    fixture *f = *state;
    const char *p = "/api/v2/scim/v2/users";
    assert_int_equal(status_of(f, "POST", p, "{\"displayName\":\"X\"}", NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\"}", NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"BOSS@example.com\",\"displayName\":\"X\"}",
                               NULL, "uniqueness"), 409);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"roles\":[{\"value\":\"Wizard\"}]}", NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"" ENT "\":{\"division\":\"Mars\"}}", NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"" GEN "\":{\"routingSkills\":[{\"name\":\"billing\",\"proficiency\":1}]}}",
                               NULL, "invalidValue"), 400); /* skill names are case-sensitive */
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"" GEN "\":{\"routingSkills\":[{\"name\":\"Billing\",\"proficiency\":6}]}}",
                               NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"" GEN "\":{\"routingLanguages\":[{\"name\":\"Klingon\",\"proficiency\":1}]}}",
                               NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"phoneNumbers\":[{\"type\":\"mobile\",\"value\":\"0612\"}]}",
                               NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"phoneNumbers\":[{\"type\":\"pager\",\"value\":\"+33612345678\"}]}",
                               NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"" ENT "\":{\"dateHire\":\"31/01/2024\"}}", NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"" ENT "\":{\"manager\":{\"value\":\"no-such-user\"}}}", NULL, "invalidValue"), 400);
    assert_int_equal(status_of(f, "POST", p, "{\"userName\":\"x@example.com\",\"displayName\":\"X\","
                                             "\"groups\":[{\"value\":\"g1\"}]}", NULL, "mutability"), 400);

    /* More than 50 skills. */
    char big[8192];
    int n = snprintf(big, sizeof big, "{\"userName\":\"x@example.com\",\"displayName\":\"X\",\"" GEN "\":{\"routingSkills\":[");
    for (int i = 0; i < 51; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s{\"name\":\"Billing\",\"proficiency\":1}", i ? "," : "");
    snprintf(big + n, sizeof big - (size_t)n, "]}}");
    assert_int_equal(status_of(f, "POST", p, big, NULL, "invalidValue"), 400);

    /* Nothing of the above was created. */
    assert_int_equal(total_of(f, "filter=userName%20eq%20%22x@example.com%22"), 0);
}

static void test_bad_bodies(void **state)
{
    fixture *f = *state;
    const char *p = "/api/v2/scim/v2/users";
    char url[256], auth[256];
    snprintf(url, sizeof url, "%s%s", f->s.api_url, p);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", f->tok);
    gcs_test_http r;

    assert_int_equal(status_of(f, "POST", p, "{\"userName\":", NULL, "invalidSyntax"), 400);
    assert_int_equal(status_of(f, "POST", p, "[1,2]", NULL, "invalidSyntax"), 400);
    assert_int_equal(status_of(f, "POST", p, "", NULL, "invalidSyntax"), 400);

    const char *xml[] = {auth, "Content-Type: application/xml", NULL};
    gcs_test_http_do(&r, "POST", url, xml, "<user/>", 7);
    assert_int_equal(r.status, 415);
    gcs_test_http_release(&r);

    /* application/json is accepted as well as application/scim+json. */
    const char *js[] = {auth, "Content-Type: application/json; charset=utf-8", NULL};
    const char *ok = "{\"userName\":\"json@example.com\",\"displayName\":\"J\"}";
    gcs_test_http_do(&r, "POST", url, js, ok, strlen(ok));
    assert_int_equal(r.status, 201);
    gcs_test_http_release(&r);

    /* Over 512,000 bytes: 413 (the body discarded as it arrives, never kept). */
    size_t big = 600000;
    char *body = malloc(big + 1);
    memset(body, 'a', big);
    body[big] = '\0';
    gcs_test_http_do(&r, "POST", url, js, body, big);
    assert_int_equal(r.status, 413);
    gcs_test_http_release(&r);
    free(body);
    /* Exactly at the limit is read (and is bad JSON: 400). */
    body = malloc(512000 + 1);
    memset(body, ' ', 512000);
    body[0] = '{';
    body[512000] = '\0';
    gcs_test_http_do(&r, "POST", url, js, body, 512000);
    assert_int_equal(r.status, 400);
    gcs_test_http_release(&r);
    free(body);
}

/* ==== Lists and filters ==== */

static void test_list_filters(void **state)
{
    fixture *f = *state;
    char *boss = strdup("00000000-0000-4000-8000-000000000001");
    char body[2048];
    char *ids[4];
    for (int i = 0; i < 4; i++) {
        snprintf(body, sizeof body,
                 "{\"userName\":\"u%d@example.com\",\"displayName\":\"U%d\",\"active\":%s,"
                 "\"externalId\":\"ext-%d\",\"emails\":[{\"type\":\"work\",\"value\":\"mail%d@example.com\"}],"
                 "\"" ENT "\":{\"division\":\"%s\",\"employeeNumber\":\"N%d\",\"manager\":{\"value\":\"%s\"}},"
                 "\"" GEN "\":{\"externalIds\":[{\"authority\":\"hr\",\"value\":\"V%d\"}]}}",
                 i, i, i == 3 ? "false" : "true", i, i, i % 2 ? "Sales" : "Home", i, boss, i);
        ids[i] = create(f, body);
    }
    /* Without a filter: active users only (the seed's boss + u0..u2). */
    assert_int_equal(total_of(f, ""), 4);
    assert_int_equal(total_of(f, "filter=active%20eq%20false"), 1);
    assert_int_equal(total_of(f, "filter=userName%20eq%20%22U1@EXAMPLE.com%22"), 1);
    assert_int_equal(total_of(f, "filter=userName%20eq%20%22u3@example.com%22"), 1); /* inactive, but asked for */
    char q[512];
    snprintf(q, sizeof q, "filter=id%%20eq%%20%%22%s%%22", ids[2]);
    assert_int_equal(total_of(f, q), 1);
    assert_int_equal(total_of(f, "filter=email%20eq%20%22mail2@example.com%22"), 1);
    assert_int_equal(total_of(f, "filter=externalId%20eq%20%22ext-1%22"), 1);
    snprintf(q, sizeof q, "filter=manager%%20eq%%20%%22%s%%22", boss);
    assert_int_equal(total_of(f, q), 4);
    assert_int_equal(total_of(f, "filter=division%20eq%20%22Sales%22"), 2);
    assert_int_equal(total_of(f, "filter=employeeNumber%20eq%20%22N0%22"), 1);
    assert_int_equal(total_of(f, "filter=" GEN ":externalIds%5Bauthority%20eq%20%22hr%22%20and%20value%20eq%20%22V2%22%5D"), 1);
    assert_int_equal(total_of(f, "filter=" GEN ":externalIds%5Bauthority%20eq%20%22hr%22%20and%20value%20eq%20%22V9%22%5D"), 0);
    assert_int_equal(total_of(f, "filter=userName%20sw%20%22u%22%20and%20active%20eq%20true"), 3);
    assert_int_equal(status_of(f, "GET", "/api/v2/scim/v2/users?filter=userName%20eq", NULL, NULL, "invalidFilter"), 400);
    assert_int_equal(status_of(f, "GET", "/api/v2/scim/v2/users?filter=(((", NULL, NULL, "invalidFilter"), 400);

    /* Paging. */
    gcs_test_http r;
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/users?startIndex=2&count=2", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 4);
    assert_int_equal(json_integer_value(json_object_get(r.json, "startIndex")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "itemsPerPage")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "Resources"), 0), "userName")),
                        "u0@example.com");
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/users?count=0", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 4);
    assert_int_equal(json_array_size(json_object_get(r.json, "Resources")), 0);
    gcs_test_http_release(&r);

    /* count over 25 needs attributes or excludedAttributes. */
    assert_int_equal(status_of(f, "GET", "/api/v2/scim/v2/users?count=26", NULL, NULL, NULL), 429);
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/users?count=100&attributes=userName", NULL, NULL), 200);
    json_t *first = json_array_get(json_object_get(r.json, "Resources"), 0);
    assert_non_null(json_object_get(first, "userName"));
    assert_non_null(json_object_get(first, "id"));
    assert_null(json_object_get(first, "displayName"));
    assert_null(json_object_get(first, ENT));
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET",
                          "/api/v2/scim/v2/users?count=50&excludedAttributes=externalId,roles," ENT ":manager," GEN,
                          NULL, NULL), 200);
    json_t *res = json_object_get(r.json, "Resources");
    assert_int_equal(json_array_size(res), 4);
    json_t *u1 = json_array_get(res, 2);
    assert_null(json_object_get(u1, "externalId"));
    assert_null(json_object_get(u1, GEN));
    assert_non_null(json_object_get(json_object_get(u1, ENT), "division"));
    assert_null(json_object_get(json_object_get(u1, ENT), "manager"));
    gcs_test_http_release(&r);
    /* attributes with a URN path. */
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/users?filter=userName%20eq%20%22u1@example.com%22&attributes=" ENT ":division",
                          NULL, NULL), 200);
    u1 = json_array_get(json_object_get(r.json, "Resources"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(u1, ENT), "division")), "Sales");
    assert_null(json_object_get(json_object_get(u1, ENT), "employeeNumber"));
    assert_null(json_object_get(u1, "userName"));
    gcs_test_http_release(&r);
    /* externalId and externalIds are indexed: shared keys, changes and deletions. */
    char *twin = create(f, "{\"userName\":\"twin@example.com\",\"displayName\":\"T\",\"externalId\":\"EXT-1\","
                           "\"" GEN "\":{\"externalIds\":[{\"authority\":\"hr\",\"value\":\"V2\"}]}}");
    assert_int_equal(total_of(f, "filter=externalId%20eq%20%22ext-1%22"), 2);
    assert_int_equal(total_of(f, "filter=" GEN ":externalIds%5Bvalue%20eq%20%22V2%22%20and%20authority%20eq%20%22hr%22%5D"), 2);
    char path[256];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", ids[1]);
    assert_int_equal(status_of(f, "PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"externalId\",\"value\":\"ext-9\"}]}",
                               NULL, NULL), 200);
    assert_int_equal(total_of(f, "filter=externalId%20eq%20%22ext-1%22"), 1);
    assert_int_equal(total_of(f, "filter=externalId%20eq%20%22ext-9%22"), 1);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", twin);
    assert_int_equal(status_of(f, "DELETE", path, NULL, NULL, NULL), 204);
    assert_int_equal(total_of(f, "filter=externalId%20eq%20%22ext-1%22"), 0);
    assert_int_equal(total_of(f, "filter=" GEN ":externalIds%5Bauthority%20eq%20%22hr%22%20and%20value%20eq%20%22V2%22%5D"), 1);
    /* An index hit still has to pass the rest of the filter. */
    assert_int_equal(total_of(f, "filter=externalId%20eq%20%22ext-9%22%20and%20active%20eq%20false"), 0);
    free(twin);
    for (int i = 0; i < 4; i++)
        free(ids[i]);
    free(boss);
}

/* ==== PATCH ==== */

static void patch_ok(fixture *f, const char *id, const char *ops)
{
    char path[256], body[4096];
    gcs_test_http r;
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    snprintf(body, sizeof body, PATCHOP "%s}", ops);
    if (call(&r, f, "PATCH", path, body, NULL) != 200)
        fail_msg("PATCH %s: %ld %s", ops, r.status, r.body.ptr);
    gcs_test_http_release(&r);
}

static long patch_status(fixture *f, const char *id, const char *ops, const char *scim_type)
{
    char path[256], body[4096];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    snprintf(body, sizeof body, PATCHOP "%s}", ops);
    return status_of(f, "PATCH", path, body, NULL, scim_type);
}

static void test_patch(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"userName\":\"p@example.com\",\"displayName\":\"P\","
                         "\"phoneNumbers\":[{\"type\":\"work\",\"value\":\"+33100000000\"}],"
                         "\"roles\":[{\"value\":\"Agent\"}]}");
    patch_ok(f, id, "[{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"Pat\"},"
                    "{\"op\":\"add\",\"path\":\"title\",\"value\":\"Lead\"},"
                    "{\"op\":\"replace\",\"path\":\"active\",\"value\":false}]");
    json_t *u = get_user(f, id);
    assert_string_equal(json_string_value(json_object_get(u, "displayName")), "Pat");
    assert_string_equal(json_string_value(json_object_get(u, "title")), "Lead");
    assert_true(json_is_false(json_object_get(u, "active")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(u, "meta"), "version")), "2");
    json_decref(u);

    /* Value filters: a mobile that does not exist yet is added; the work one replaced. */
    patch_ok(f, id, "[{\"op\":\"add\",\"path\":\"phoneNumbers[type eq \\\"mobile\\\"].value\",\"value\":\"+33611111111\"},"
                    "{\"op\":\"replace\",\"path\":\"phoneNumbers[type eq \\\"work\\\"].value\",\"value\":\"+33122222222\"}]");
    u = get_user(f, id);
    json_t *phones = json_object_get(u, "phoneNumbers");
    assert_int_equal(json_array_size(phones), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(phones, 0), "value")), "+33122222222");
    assert_string_equal(json_string_value(json_object_get(json_array_get(phones, 1), "type")), "mobile");
    assert_string_equal(json_string_value(json_object_get(json_array_get(phones, 1), "value")), "+33611111111");
    json_decref(u);
    patch_ok(f, id, "[{\"op\":\"remove\",\"path\":\"phoneNumbers[type eq \\\"work\\\"]\"}]");
    u = get_user(f, id);
    assert_int_equal(json_array_size(json_object_get(u, "phoneNumbers")), 1);
    json_decref(u);

    /* Extension URN paths, sub-attributes, and a path-less replace. */
    patch_ok(f, id, "[{\"op\":\"add\",\"path\":\"" ENT ":department\",\"value\":\"Ops\"},"
                    "{\"op\":\"replace\",\"path\":\"" ENT ":manager.value\",\"value\":\"00000000-0000-4000-8000-000000000001\"},"
                    "{\"op\":\"add\",\"path\":\"" GEN ":routingSkills\",\"value\":[{\"name\":\"Billing\",\"proficiency\":2}]},"
                    "{\"op\":\"replace\",\"value\":{\"title\":\"Chief\",\"" ENT "\":{\"division\":\"Sales\"}}},"
                    "{\"op\":\"add\",\"path\":\"roles\",\"value\":[{\"value\":\"Supervisor\"}]}]");
    u = get_user(f, id);
    json_t *ent = json_object_get(u, ENT);
    assert_string_equal(json_string_value(json_object_get(ent, "department")), "Ops");
    assert_string_equal(json_string_value(json_object_get(ent, "division")), "Sales");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ent, "manager"), "value")),
                        "00000000-0000-4000-8000-000000000001");
    assert_string_equal(json_string_value(json_object_get(u, "title")), "Chief");
    assert_int_equal(json_array_size(json_object_get(u, "roles")), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(u, GEN), "routingSkills")), 1);
    json_decref(u);
    patch_ok(f, id, "[{\"op\":\"replace\",\"path\":\"" GEN ":routingSkills[name eq \\\"Billing\\\"].proficiency\",\"value\":5},"
                    "{\"op\":\"remove\",\"path\":\"" ENT ":department\"},"
                    "{\"op\":\"remove\",\"path\":\"roles[value eq \\\"Agent\\\"]\"},"
                    "{\"op\":\"remove\",\"path\":\"title\"}]");
    u = get_user(f, id);
    ent = json_object_get(u, ENT);
    assert_null(json_object_get(ent, "department"));
    assert_null(json_object_get(u, "title"));
    assert_int_equal(json_array_size(json_object_get(u, "roles")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(
                         json_object_get(json_object_get(u, GEN), "routingSkills"), 0), "proficiency")), 5);
    json_decref(u);

    /* Errors: nothing changes when one operation fails. */
    assert_int_equal(patch_status(f, id, "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Z\"},"
                                         "{\"op\":\"replace\",\"path\":\"id\",\"value\":\"x\"}]", "mutability"), 400);
    u = get_user(f, id);
    assert_null(json_object_get(u, "title"));
    json_decref(u);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"add\",\"path\":\"groups\",\"value\":[{\"value\":\"g\"}]}]", "mutability"), 400);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"replace\",\"path\":\"meta.version\",\"value\":\"9\"}]", "mutability"), 400);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"remove\"}]", "noTarget"), 400);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"frob\",\"path\":\"title\"}]", "invalidSyntax"), 400);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"add\",\"path\":\"shoeSize\",\"value\":\"9\"}]", "invalidPath"), 400);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"add\",\"path\":\"roles\",\"value\":[{\"value\":\"Wizard\"}]}]", "invalidValue"), 400);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"add\",\"path\":\"" GEN ":routingSkills\",\"value\":[{\"name\":\"Nope\",\"proficiency\":1}]}]",
                                  "invalidValue"), 400);
    assert_int_equal(patch_status(f, id, "[{\"op\":\"replace\",\"path\":\"userName\",\"value\":\"boss@example.com\"}]", "uniqueness"), 409);
    assert_int_equal(patch_status(f, id, "[]", "invalidSyntax"), 400);
    /* A replace with null removes the attribute. */
    patch_ok(f, id, "[{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"Pat\"},"
                    "{\"op\":\"replace\",\"path\":\"nickName\",\"value\":\"P\"}]");
    patch_ok(f, id, "[{\"op\":\"replace\",\"path\":\"nickName\",\"value\":null},"
                    "{\"op\":\"replace\",\"path\":\"" ENT ":division\",\"value\":null}]");
    u = get_user(f, id);
    assert_null(json_object_get(u, "nickName"));
    assert_null(json_object_get(json_object_get(u, ENT), "division"));
    json_decref(u);
    /* password is accepted and never returned. */
    patch_ok(f, id, "[{\"op\":\"replace\",\"path\":\"password\",\"value\":\"N3w-secret\"}]");
    u = get_user(f, id);
    assert_null(json_object_get(u, "password"));
    json_decref(u);
    free(id);
}

/* ==== PUT, DELETE, versions ==== */

static void test_put_delete(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"userName\":\"q@example.com\",\"displayName\":\"Q\",\"title\":\"T\"}");
    char path[256], body[512];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_test_http r;
    assert_int_equal(call(&r, f, "PUT", path, "{\"userName\":\"q@example.com\",\"displayName\":\"Q2\"}", "If-Match: \"1\""), 200);
    assert_null(json_object_get(r.json, "title")); /* replaced, not merged */
    assert_string_equal(json_string_value(json_object_get(r.json, "displayName")), "Q2");
    gcs_test_http_release(&r);
    snprintf(body, sizeof body, "{\"id\":\"other\",\"userName\":\"q@example.com\",\"displayName\":\"Q\"}");
    assert_int_equal(status_of(f, "PUT", path, body, NULL, "mutability"), 400);
    /* Stale version on PUT, PATCH and DELETE: 400 invalidVers by default. */
    assert_int_equal(status_of(f, "PUT", path, "{\"userName\":\"q@example.com\",\"displayName\":\"Q\"}",
                               "If-Match: \"1\"", "invalidVers"), 400);
    assert_int_equal(status_of(f, "PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"x\"}]}",
                               "If-Match: W/\"1\"", "invalidVers"), 400);
    assert_int_equal(status_of(f, "DELETE", path, NULL, "If-Match: \"1\"", "invalidVers"), 400);
    assert_int_equal(status_of(f, "DELETE", path, NULL, "If-Match: \"2\"", NULL), 204);
    assert_int_equal(status_of(f, "GET", path, NULL, NULL, NULL), 404);
    assert_int_equal(status_of(f, "DELETE", path, NULL, NULL, NULL), 404);
    assert_int_equal(total_of(f, "filter=userName%20eq%20%22q@example.com%22"), 0);
    /* The userName is free again at once. */
    char *again = create(f, "{\"userName\":\"q@example.com\",\"displayName\":\"Q again\"}");
    assert_string_not_equal(again, id);
    free(again);
    free(id);
}

static void conflict_status(const char *flag_value, long want)
{
    const char *extra[] = {"--version-conflict-status", flag_value, NULL};
    fixture *f = fx_start(extra);
    char *id = create(f, "{\"userName\":\"c@example.com\",\"displayName\":\"C\"}");
    char path[256];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_test_http r;
    assert_int_equal(call(&r, f, "PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"x\"}]}",
                          "If-Match: \"0\""), want);
    assert_string_equal(json_string_value(json_object_get(r.json, "scimType")), "invalidVers");
    char st[8];
    snprintf(st, sizeof st, "%ld", want);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), st);
    gcs_test_http_release(&r);
    free(id);
    fx_stop(f);
}

static void test_conflict_400(void **state)
{
    (void)state;
    conflict_status("400", 400);
}

static void test_conflict_409(void **state)
{
    (void)state;
    conflict_status("409", 409);
}

static void test_conflict_412(void **state)
{
    (void)state;
    conflict_status("412", 412);
}

static void test_concurrent_writer(void **state)
{
    (void)state;
    const char *extra[] = {"--concurrent-writer", "1", NULL};
    fixture *f = fx_start(extra);
    char *id = create(f, "{\"userName\":\"w@example.com\",\"displayName\":\"W\"}");
    char path[256], etag[32];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_test_http r;
    assert_int_equal(call(&r, f, "GET", path, NULL, NULL), 200);
    gcs_test_http_header(&r, "ETag", etag, sizeof etag);
    gcs_test_http_release(&r);
    char im[64];
    snprintf(im, sizeof im, "If-Match: %s", etag);
    /* Someone changed it right after our read: our version is stale. */
    assert_int_equal(status_of(f, "PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"x\"}]}",
                               im, "invalidVers"), 400);
    json_t *st = gcs_test_emu_admin(&f->s, "GET", "stats", NULL);
    assert_true(json_integer_value(json_object_get(st, "hidden_writes")) >= 1);
    json_decref(st);
    free(id);
    fx_stop(f);
}

/* The hidden writer acts on users read through list pages too (a sync reads
 * pages): with P = 1, every user of a page is changed right after it, so the
 * versions the page showed are all stale. */
static void test_concurrent_writer_pages(void **state)
{
    (void)state;
    const char *extra[] = {"--concurrent-writer", "1", NULL};
    fixture *f = fx_start(extra);
    char *ids[3];
    for (int i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"userName\":\"p%d@example.com\",\"displayName\":\"P\"}", i);
        ids[i] = create(f, body);
    }
    json_t *before = gcs_test_emu_admin(&f->s, "GET", "stats", NULL);
    gcs_test_http r;
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/users?filter=userName%20sw%20p&count=2", NULL, NULL), 200);
    json_t *page = json_incref(json_object_get(r.json, "Resources"));
    gcs_test_http_release(&r);
    assert_int_equal(json_array_size(page), 2);
    json_t *after = gcs_test_emu_admin(&f->s, "GET", "stats", NULL);
    assert_int_equal(json_integer_value(json_object_get(after, "hidden_writes")) -
                         json_integer_value(json_object_get(before, "hidden_writes")), 2);
    size_t i;
    json_t *u;
    json_array_foreach(page, i, u) {
        char path[256], im[64];
        snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", json_string_value(json_object_get(u, "id")));
        snprintf(im, sizeof im, "If-Match: \"%s\"",
                 json_string_value(json_object_get(json_object_get(u, "meta"), "version")));
        assert_int_equal(status_of(f, "PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"x\"}]}",
                                   im, "invalidVers"), 400);
    }
    /* The third user was not on the page: untouched, version 1. */
    char path[256];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", ids[2]);
    assert_int_equal(status_of(f, "PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"x\"}]}",
                               "If-Match: \"1\"", NULL), 200);
    json_decref(page);
    json_decref(before);
    json_decref(after);
    for (int k = 0; k < 3; k++)
        free(ids[k]);
    fx_stop(f);
}

/* --generated-fields: the read-only `other` email mirrors userName and the
 * immutable x-pc:scimv2:v1 externalIds entry is there, whatever clients write. */
static void test_generated_fields(void **state)
{
    (void)state;
    const char *extra[] = {"--generated-fields", NULL};
    fixture *f = fx_start(extra);
    char *id = create(f, "{\"userName\":\"g@example.com\",\"displayName\":\"G\","
                         "\"emails\":[{\"type\":\"work\",\"value\":\"w@example.com\"},{\"type\":\"other\",\"value\":\"x@example.com\"}]}");
    char path[256], body[512];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_test_http r;
    assert_int_equal(call(&r, f, "PATCH", path,
                          PATCHOP "[{\"op\":\"replace\",\"path\":\"userName\",\"value\":\"g2@example.com\"},"
                          "{\"op\":\"remove\",\"path\":\"urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User:externalIds\"}]}",
                          NULL), 200);
    json_t *emails = json_object_get(r.json, "emails");
    assert_int_equal(json_array_size(emails), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(emails, 0), "value")), "w@example.com");
    assert_string_equal(json_string_value(json_object_get(json_array_get(emails, 1), "type")), "other");
    assert_string_equal(json_string_value(json_object_get(json_array_get(emails, 1), "value")), "g2@example.com");
    json_t *ids = json_object_get(json_object_get(r.json, "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"), "externalIds");
    assert_int_equal(json_array_size(ids), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ids, 0), "authority")), "x-pc:scimv2:v1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ids, 0), "value")), id);
    gcs_test_http_release(&r);
    /* The entry is indexed like any externalIds pair; the mirror answers email eq. */
    snprintf(body, sizeof body,
             "/api/v2/scim/v2/users?filter=externalIds%%5Bauthority%%20eq%%20x-pc:scimv2:v1%%20and%%20value%%20eq%%20%s%%5D", id);
    assert_int_equal(call(&r, f, "GET", body, NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 1);
    gcs_test_http_release(&r);
    assert_int_equal(call(&r, f, "GET", "/api/v2/scim/v2/users?filter=email%20eq%20g2@example.com", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 1);
    gcs_test_http_release(&r);
    free(id);
    fx_stop(f);
}

int main(void)
{
    gcs_test_deadline(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_delete, setup, teardown),
        cmocka_unit_test(test_conflict_400),
        cmocka_unit_test(test_conflict_409),
        cmocka_unit_test(test_conflict_412),
        cmocka_unit_test(test_concurrent_writer),
        cmocka_unit_test(test_concurrent_writer_pages),
        cmocka_unit_test(test_generated_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
