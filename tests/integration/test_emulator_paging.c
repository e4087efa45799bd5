/* The emulator's list pages come from an ordered index (O(page), not
 * O(organisation)): after creates, deletes (enough to compact the index) and
 * users switched between active and inactive, every page of the unfiltered
 * list and of `active eq false` is exactly what a full scan gives. Also
 * --synthetic-users, and a /_emulator/state answer over 64 MiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator/emulator.h"
#include "gcstest.h"
#include "httptest.h"
#include "http/server.h"

#define PATCHOP "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":"

static gcs_emu *emu;
static char auth[128];

static void dispatch(gcs_http_response *resp, const char *method, const char *path,
                     const char *const *args, const char *body)
{
    gcs_http_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.body = body ? body : "";
    req.body_len = strlen(req.body);
    req.headers[0].name = "Authorization";
    req.headers[0].value = auth;
    req.headers[1].name = "Content-Type";
    req.headers[1].value = "application/scim+json";
    req.nheaders = 2;
    for (size_t i = 0; args && args[2 * i]; i++) {
        req.args[i].name = args[2 * i];
        req.args[i].value = args[2 * i + 1];
        req.nargs++;
    }
    gcs_http_server_dispatch(resp, &req, gcs_emu_handle, emu);
}

static void start(size_t synthetic)
{
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    opts.config.rate_limit = 0;
    opts.clients[0].id = "c";
    opts.clients[0].secret = "s";
    opts.nclients = 1;
    opts.seeded = true;
    opts.seed = 11;
    opts.synthetic_users = synthetic;
    assert_int_equal(gcs_emu_new(&emu, &opts, NULL), 0);
    snprintf(auth, sizeof auth, "Basic Yzpz");
    gcs_http_response resp;
    dispatch(&resp, "POST", "/oauth/token", NULL, "grant_type=client_credentials");
    assert_int_equal(resp.status, 200);
    json_t *j = json_loads(resp.body.ptr, 0, NULL);
    snprintf(auth, sizeof auth, "Bearer %s", json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    gcs_http_response_release(&resp);
}

/* One page's ids (a JSON array, new reference) and its totalResults. */
static json_t *page(const char *filter, long start_index, long count, long *total)
{
    char si[24], c[24];
    snprintf(si, sizeof si, "%ld", start_index);
    snprintf(c, sizeof c, "%ld", count);
    const char *args[] = {"startIndex", si, "count", c, "attributes", "id",
                          filter ? "filter" : NULL, filter, NULL};
    gcs_http_response resp;
    dispatch(&resp, "GET", "/api/v2/scim/v2/users", args, NULL);
    assert_int_equal(resp.status, 200);
    json_t *j = json_loads(resp.body.ptr, 0, NULL);
    assert_non_null(j);
    json_t *ids = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(j, "Resources"), i, u)
        json_array_append(ids, json_object_get(u, "id"));
    *total = (long)json_integer_value(json_object_get(j, "totalResults"));
    assert_int_equal(json_integer_value(json_object_get(j, "itemsPerPage")), json_array_size(ids));
    json_decref(j);
    gcs_http_response_release(&resp);
    return ids;
}

/* Every id the filter matches, read through a filter that scans. */
static json_t *scan(const char *scan_filter)
{
    json_t *all = json_array();
    long total = 0;
    for (long s = 1;; s += 500) {
        json_t *p = page(scan_filter, s, 500, &total);
        json_array_extend(all, p);
        size_t n = json_array_size(p);
        json_decref(p);
        if (n < 500)
            break;
    }
    assert_int_equal(json_array_size(all), total);
    return all;
}

/* Pages of `filter` (indexed) at several places equal the same slices of the scan. */
static void check_pages(const char *filter, const char *scan_filter)
{
    json_t *all = scan(scan_filter);
    long n = (long)json_array_size(all);
    long starts[] = {1, 2, 99, n / 2, n - 100, n - 1, n, n + 1, n + 500};
    long counts[] = {1, 25, 100, 500};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++)
        for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
            if (starts[i] < 1)
                continue;
            long total;
            json_t *p = page(filter, starts[i], counts[k], &total);
            assert_int_equal(total, n);
            for (long j = 0; j < counts[k]; j++) {
                json_t *want = json_array_get(all, (size_t)(starts[i] - 1 + j));
                json_t *got = json_array_get(p, (size_t)j);
                if (!(want ? got && json_equal(want, got) : !got))
                    fail_msg("%s: startIndex %ld count %ld: item %ld differs", filter ? filter : "(none)",
                             starts[i], counts[k], j);
            }
            json_decref(p);
        }
    json_decref(all);
}

static long call(const char *method, const char *path, const char *body)
{
    gcs_http_response resp;
    dispatch(&resp, method, path, NULL, body);
    long st = resp.status;
    gcs_http_response_release(&resp);
    return st;
}

static void test_pages_follow_changes(void **state)
{
    (void)state;
    start(3000);
    long total;
    json_decref(page(NULL, 1, 1, &total));
    assert_int_equal(total, 2700); /* every tenth synthetic user is inactive */
    json_decref(page("active eq false", 1, 1, &total));
    assert_int_equal(total, 300);
    check_pages(NULL, "active eq true and id pr");
    check_pages("active eq false", "active eq false and id pr");

    /* Delete two users in three (compacts the index), switch some states,
     * create some. */
    json_t *everyone = scan("id pr");
    size_t i;
    json_t *id;
    char path[128], body[512];
    json_array_foreach(everyone, i, id) {
        snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", json_string_value(id));
        if (i % 3 != 0)
            assert_int_equal(call("DELETE", path, NULL), 204);
        else if (i % 7 == 0)
            assert_int_equal(call("PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"active\",\"value\":false}]}"), 200);
        else if (i % 10 == 9)
            assert_int_equal(call("PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"active\",\"value\":true}]}"), 200);
    }
    json_decref(everyone);
    for (int k = 0; k < 40; k++) {
        snprintf(body, sizeof body, "{\"userName\":\"new%d@example.com\",\"displayName\":\"New %d\",\"active\":%s}",
                 k, k, k % 4 ? "true" : "false");
        assert_int_equal(call("POST", "/api/v2/scim/v2/users", body), 201);
    }
    check_pages(NULL, "active eq true and id pr");
    check_pages("active eq true", "active eq true and id pr");
    check_pages("active eq \"false\"", "active eq false and id pr");
    json_t *all = scan("id pr");
    assert_int_equal(json_array_size(all), 1000 + 40);
    json_decref(all);
    /* count=0: only the total. */
    json_t *none = page(NULL, 1, 0, &total);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);
    gcs_emu_free(emu);
    emu = NULL;
}

/* /_emulator/state used to answer an empty body above 64 MiB. */
static void test_state_over_64_mib(void **state)
{
    (void)state;
    start(130000);
    gcs_http_response resp;
    dispatch(&resp, "GET", "/_emulator/state", NULL, NULL);
    assert_int_equal(resp.status, 200);
    assert_true(resp.body.len > (size_t)64 * 1024 * 1024);
    json_t *j = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "users")), 130000);
    json_decref(j);
    gcs_http_response_release(&resp);
    gcs_emu_free(emu);
    emu = NULL;
}

/* A page over the answer's 64 MiB is a clean 500 (one Content-Type, an error
 * body), not a truncated list. */
static void test_page_too_large(void **state)
{
    (void)state;
    size_t big = 150000;
    char *title = malloc(big + 1);
    memset(title, 'x', big);
    title[big] = '\0';
    json_t *users = json_array();
    for (int i = 0; i < 480; i++) {
        char un[64];
        snprintf(un, sizeof un, "big%d@example.com", i);
        json_array_append_new(users, json_pack("{s:s,s:s,s:s}", "userName", un, "displayName", "Big",
                                               "title", title));
    }
    free(title);
    json_t *seed = json_pack("{s:o}", "users", users);
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    opts.config.rate_limit = 0;
    opts.clients[0].id = "c";
    opts.clients[0].secret = "s";
    opts.nclients = 1;
    assert_int_equal(gcs_emu_new(&emu, &opts, seed), 0);
    json_decref(seed);
    snprintf(auth, sizeof auth, "Basic Yzpz");
    gcs_http_response resp;
    dispatch(&resp, "POST", "/oauth/token", NULL, "grant_type=client_credentials");
    json_t *j = json_loads(resp.body.ptr, 0, NULL);
    snprintf(auth, sizeof auth, "Bearer %s", json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    gcs_http_response_release(&resp);
    const char *args[] = {"count", "500", "attributes", "title", NULL};
    dispatch(&resp, "GET", "/api/v2/scim/v2/users", args, NULL);
    assert_int_equal(resp.status, 500);
    int ctypes = 0;
    for (size_t i = 0; i < resp.nheaders; i++)
        ctypes += strcasecmp(resp.headers[i].name, "Content-Type") == 0;
    assert_int_equal(ctypes, 1);
    j = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
    assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "too large"));
    json_decref(j);
    gcs_http_response_release(&resp);
    /* Fewer users per page: fine. */
    const char *fewer[] = {"count", "100", "attributes", "title", NULL};
    dispatch(&resp, "GET", "/api/v2/scim/v2/users", fewer, NULL);
    assert_int_equal(resp.status, 200);
    gcs_http_response_release(&resp);
    gcs_emu_free(emu);
    emu = NULL;
}

/* --synthetic-managed: every synthetic user active and carrying the marker
 * {AUTHORITY, its userName}, as a profile matching by userName writes it. */
static void test_synthetic_managed_users(void **state)
{
    (void)state;
    gcs_test_server s;
    const char *args[] = {"--client", "c:s", "--rate-limit", "0", "--synthetic-users", "300",
                          "--synthetic-managed", "gcscim", NULL};
    gcs_test_server_start(&s, gcs_test_emulator_path(), args, 60000);
    char *tok = gcs_test_emu_token(&s, "c", "s");
    gcs_test_http r;
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users?count=0", NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 300);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "GET",
                      "/api/v2/scim/v2/users?filter=urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Aextension"
                      "%3Agenesys%3Apurecloud%3A2.0%3AUser%3AexternalIds%5Bauthority%20eq%20%22gcscim%22"
                      "%20and%20value%20eq%20%22user0000010%40synthetic.example%22%5D",
                      NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 1);
    json_t *u = json_array_get(json_object_get(r.json, "Resources"), 0);
    assert_string_equal(json_string_value(json_object_get(u, "userName")), "user0000010@synthetic.example");
    assert_true(json_is_true(json_object_get(u, "active")));
    gcs_test_http_release(&r);
    free(tok);
    assert_int_equal(gcs_test_server_stop(&s), 0);
}

/* The program's --synthetic-users: made on start and again on reset. */
static void test_synthetic_users_flag(void **state)
{
    (void)state;
    gcs_test_server s;
    const char *args[] = {"--client", "c:s", "--rate-limit", "0", "--synthetic-users", "1000", NULL};
    gcs_test_server_start(&s, gcs_test_emulator_path(), args, 60000);
    char *tok = gcs_test_emu_token(&s, "c", "s");
    gcs_test_http r;
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users?startIndex=851&count=100&attributes=userName", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 900);
    json_t *res = json_object_get(r.json, "Resources");
    assert_int_equal(json_array_size(res), 50);
    /* The 851st active user: 945 made, less the 94 inactive tenths among them. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "userName")), "user0000945@synthetic.example");
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users?filter=userName%20eq%20user0000010@synthetic.example", NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 1);
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(r.json, "Resources"), 0), "active")));
    gcs_test_http_release(&r);
    /* O(page): the last page of the active users, and of the inactive ones,
     * look at no more users than they answer (a scan would look at 1,000). */
    json_decref(gcs_test_emu_admin(&s, "POST", "reset", ""));
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users?startIndex=801&count=100&attributes=id", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "Resources")), 100);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users?filter=active%20eq%20false&startIndex=91&count=10&attributes=id", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "Resources")), 10);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users?filter=externalId%20eq%20syn-500", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "Resources")), 1);
    gcs_test_http_release(&r);
    json_t *stats = gcs_test_emu_admin(&s, "GET", "stats", NULL);
    assert_int_equal(json_integer_value(json_object_get(stats, "users_examined")), 111);
    json_decref(stats);
    json_decref(gcs_test_emu_admin(&s, "POST", "reset", ""));
    json_t *st = gcs_test_emu_admin(&s, "GET", "state", NULL);
    assert_int_equal(json_array_size(json_object_get(st, "users")), 1000);
    json_decref(st);
    free(tok);
    assert_int_equal(gcs_test_server_stop(&s), 0);
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_follow_changes),
        cmocka_unit_test(test_state_over_64_mib),
        cmocka_unit_test(test_page_too_large),
        cmocka_unit_test(test_synthetic_users_flag),
        cmocka_unit_test(test_synthetic_managed_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
