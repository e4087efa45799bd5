/* gcscim-emulator over the wire: OAuth, the bearer check, the rate limit and its
 * headers, faults, and the admin routes (stats, revoke-tokens, config). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"

#include "gcstest.h"
#include "httptest.h"

#define ID "test-client"
#define SECRET "test-secret"

static const char *const base_args[] = {"--client", ID ":" SECRET, NULL};

static void start(gcs_test_server *s, const char *const *extra)
{
    const char *args[32];
    size_t n = 0;
    for (size_t i = 0; base_args[i]; i++)
        args[n++] = base_args[i];
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    gcs_test_server_start(s, gcs_test_emulator_path(), args, 20000);
}

static void stop(gcs_test_server *s)
{
    assert_int_equal(gcs_test_server_stop(s), 0);
}

static char *create_user(const gcs_test_server *s, const char *tok, const char *user_name)
{
    char body[512];
    snprintf(body, sizeof body, "{\"userName\":\"%s\",\"displayName\":\"X\"}", user_name);
    gcs_test_http r;
    gcs_test_emu_call(&r, s, tok, "POST", "/api/v2/scim/v2/users", body, NULL);
    assert_int_equal(r.status, 201);
    char *id = strdup(json_string_value(json_object_get(r.json, "id")));
    gcs_test_http_release(&r);
    return id;
}

static void test_oauth(void **state)
{
    (void)state;
    gcs_test_server s;
    start(&s, NULL);
    char url[256], h[128];
    snprintf(url, sizeof url, "%s/oauth/token", s.login_url);

    /* Good credentials: a bearer token with expires_in. */
    gcs_test_http r;
    const char *basic_ok[] = {"Authorization: Basic dGVzdC1jbGllbnQ6dGVzdC1zZWNyZXQ=", /* test-client:test-secret */
                              "Content-Type: application/x-www-form-urlencoded", NULL};
    gcs_test_http_do(&r, "POST", url, basic_ok, "grant_type=client_credentials", 29);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "token_type")), "bearer");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")), 86400);
    assert_non_null(json_string_value(json_object_get(r.json, "access_token")));
    assert_non_null(gcs_test_http_header(&r, "ININ-Correlation-Id", h, sizeof h));
    gcs_test_http_release(&r);

    /* Wrong secret: 401 invalid_client. */
    const char *basic_bad[] = {"Authorization: Basic dGVzdC1jbGllbnQ6bm9wZQ==", NULL}; /* test-client:nope */
    gcs_test_http_do(&r, "POST", url, basic_bad, "grant_type=client_credentials", 29);
    assert_int_equal(r.status, 401);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_client");
    gcs_test_http_release(&r);

    /* No credentials at all. */
    gcs_test_http_do(&r, "POST", url, NULL, "grant_type=client_credentials", 29);
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);

    /* Wrong grant: 400 unsupported_grant_type. */
    gcs_test_http_do(&r, "POST", url, basic_ok, "grant_type=password", 19);
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "unsupported_grant_type");
    gcs_test_http_release(&r);

    /* API without a token, with a bad one: 401; with a good one: 200. */
    gcs_test_emu_call(&r, &s, NULL, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(gcs_test_http_header(&r, "ININ-Correlation-Id", h, sizeof h));
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, "not-a-token", "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "bad.credentials");
    gcs_test_http_release(&r);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);

    /* revoke-tokens: every token issued so far stops working. */
    json_t *j = gcs_test_emu_admin(&s, "POST", "revoke-tokens", "");
    assert_true(json_integer_value(json_object_get(j, "revoked")) >= 1);
    json_decref(j);
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);
    free(tok);
    stop(&s);
}

static void test_token_expiry(void **state)
{
    (void)state;
    gcs_test_server s;
    /* Three seconds: time enough for the first call on a loaded machine. */
    const char *extra[] = {"--token-ttl", "3", NULL};
    start(&s, extra);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    gcs_test_http r;
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    gcs_time_sleep_ms(3100);
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);
    free(tok);
    stop(&s);
}

static void test_default_client(void **state)
{
    (void)state;
    gcs_test_server s;
    gcs_test_server_start(&s, gcs_test_emulator_path(), NULL, 20000);
    char *tok = gcs_test_emu_token(&s, "gcscim-emulator", "gcscim-emulator-secret");
    free(tok);
    stop(&s);
}

static void test_rate_limit(void **state)
{
    (void)state;
    gcs_test_server s;
    const char *extra[] = {"--rate-limit", "3/60", NULL};
    start(&s, extra);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    char h[64];
    gcs_test_http r;
    for (int i = 1; i <= 3; i++) {
        gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
        assert_int_equal(r.status, 200);
        assert_int_equal(atoi(gcs_test_http_header(&r, "inin-ratelimit-count", h, sizeof h)), i);
        assert_int_equal(atoi(gcs_test_http_header(&r, "inin-ratelimit-allowed", h, sizeof h)), 3);
        int reset = atoi(gcs_test_http_header(&r, "inin-ratelimit-reset", h, sizeof h));
        assert_true(reset >= 1 && reset <= 60);
        gcs_test_http_release(&r);
    }
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 429);
    int retry = atoi(gcs_test_http_header(&r, "Retry-After", h, sizeof h));
    assert_true(retry >= 1 && retry <= 60);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")),
                        "too.many.requests.retry.after");
    assert_int_equal(json_integer_value(json_object_get(r.json, "status")), 429);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")),
                           "Rate limit exceeded the maximum. Retry the request in ["));
    assert_non_null(gcs_test_http_header(&r, "inin-ratelimit-count", h, sizeof h));
    gcs_test_http_release(&r);

    /* Another token has its own window. */
    char *tok2 = gcs_test_emu_token(&s, ID, SECRET);
    gcs_test_emu_call(&r, &s, tok2, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);

    json_t *st = gcs_test_emu_admin(&s, "GET", "stats", NULL);
    assert_int_equal(json_integer_value(json_object_get(st, "rate_limited")), 1);
    json_t *cfg0 = gcs_test_emu_admin(&s, "GET", "config", NULL);
    assert_true(json_is_true(json_object_get(cfg0, "retry_after")));
    json_decref(cfg0);
    assert_int_equal(json_integer_value(json_object_get(st, "tokens_issued")), 2);
    assert_int_equal(json_array_size(json_object_get(st, "windows")), 2);
    json_t *route = json_object_get(json_object_get(st, "routes"), "GET /api/v2/scim/users");
    assert_int_equal(json_integer_value(json_object_get(route, "200")), 4);
    assert_int_equal(json_integer_value(json_object_get(route, "429")), 1);
    assert_true(json_integer_value(json_object_get(st, "max_in_flight")) >= 1);
    json_decref(st);

    /* The other 429: too.many.requests, without Retry-After. */
    json_decref(gcs_test_emu_admin(&s, "POST", "config", "{\"retry_after\":false}"));
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 429);
    assert_null(gcs_test_http_header(&r, "Retry-After", h, sizeof h));
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "too.many.requests");
    gcs_test_http_release(&r);
    json_decref(gcs_test_emu_admin(&s, "POST", "config", "{\"retry_after\":true}"));

    /* Turned off at runtime: no more 429s. */
    json_decref(gcs_test_emu_admin(&s, "POST", "config", "{\"rate_limit\":0}"));
    for (int i = 0; i < 5; i++) {
        gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
        assert_int_equal(r.status, 200);
        gcs_test_http_release(&r);
    }
    /* And back on with a window of 2. */
    json_decref(gcs_test_emu_admin(&s, "POST", "config", "{\"rate_limit\":\"2/30\"}"));
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 429);
    gcs_test_http_release(&r);
    free(tok);
    free(tok2);
    stop(&s);
}

/* Statuses of n GETs with every request faulting. */
static void fault_sequence(const char *seed, char *out, size_t outsz, int n)
{
    gcs_test_server s;
    const char *extra[] = {"--fault-rate", "1", "--fault-seed", seed, "--rate-limit", "0", NULL};
    start(&s, extra);
    char *tok = gcs_test_emu_token(&s, ID, SECRET); /* /oauth/token never faults */
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        gcs_test_http r;
        gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
        char one[16];
        snprintf(one, sizeof one, "%ld ", r.status);
        if (r.status == 0)
            assert_true(r.curl_code != 0);
        else
            assert_true(r.status == 500 || r.status == 502 || r.status == 503 || r.status == 504);
        strncat(out, one, outsz - strlen(out) - 1);
        gcs_test_http_release(&r);
    }
    /* Admin routes never fault. */
    json_t *st = gcs_test_emu_admin(&s, "GET", "stats", NULL);
    json_t *f = json_object_get(st, "faults");
    long total = 0;
    const char *k;
    json_t *v;
    json_object_foreach(f, k, v) total += (long)json_integer_value(v);
    assert_int_equal(total, n);
    json_decref(st);
    free(tok);
    stop(&s);
}

static void test_faults(void **state)
{
    (void)state;
    char a[512], b[512], c[512];
    fault_sequence("7", a, sizeof a, 40);
    fault_sequence("7", b, sizeof b, 40);
    fault_sequence("8", c, sizeof c, 40);
    assert_string_equal(a, b);              /* reproducible from the seed */
    assert_string_not_equal(a, c);
    /* Each kind shows up in 40 draws. */
    assert_non_null(strstr(a, "500 "));
    assert_non_null(strstr(a, "502 "));
    assert_non_null(strstr(a, "503 "));
    assert_non_null(strstr(a, "504 "));
    assert_non_null(strstr(a, "0 ") == a ? a : strstr(a, " 0 "));
}

static void test_fault_kinds_and_config(void **state)
{
    (void)state;
    gcs_test_server s;
    start(&s, NULL);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    gcs_test_http r;
    json_decref(gcs_test_emu_admin(&s, "POST", "config",
                                   "{\"fault_rate\":1,\"fault_kinds\":[\"503\"]}"));
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "service.unavailable");
    gcs_test_http_release(&r);
    json_decref(gcs_test_emu_admin(&s, "POST", "config", "{\"fault_kinds\":[\"drop\"]}"));
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_int_not_equal(r.curl_code, 0);
    gcs_test_http_release(&r);
    /* 504 comes after the work was done: the user exists although the client saw 504. */
    json_decref(gcs_test_emu_admin(&s, "POST", "config", "{\"fault_kinds\":[504]}"));
    gcs_test_emu_call(&r, &s, tok, "POST", "/api/v2/scim/v2/users",
                      "{\"userName\":\"late@example.com\",\"displayName\":\"Late\"}", NULL);
    assert_int_equal(r.status, 504);
    gcs_test_http_release(&r);
    json_t *cfg = gcs_test_emu_admin(&s, "POST", "config", "{\"fault_rate\":0}");
    assert_true(json_number_value(json_object_get(cfg, "fault_rate")) == 0);
    json_decref(cfg);
    gcs_test_emu_call(&r, &s, tok, "GET",
                      "/api/v2/scim/v2/users?filter=userName%20eq%20%22late@example.com%22", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 1);
    gcs_test_http_release(&r);

    /* Bad config: 400 and nothing changes. */
    char url[256];
    snprintf(url, sizeof url, "%s/_emulator/config", s.api_url);
    gcs_test_http_do(&r, "POST", url, NULL, "{\"fault_rate\":2}", 16);
    assert_int_equal(r.status, 400);
    gcs_test_http_release(&r);
    gcs_test_http_do(&r, "POST", url, NULL, "{\"nope\":1}", 10);
    assert_int_equal(r.status, 400);
    gcs_test_http_release(&r);
    cfg = gcs_test_emu_admin(&s, "POST", "config",
                             "{\"latency_ms\":\"5:5\",\"version_conflict_status\":409,"
                             "\"concurrent_writer\":0.5,\"token_ttl\":600}");
    assert_int_equal(json_integer_value(json_object_get(cfg, "latency_ms")), 5);
    assert_int_equal(json_integer_value(json_object_get(cfg, "latency_jitter_ms")), 5);
    assert_int_equal(json_integer_value(json_object_get(cfg, "version_conflict_status")), 409);
    assert_int_equal(json_integer_value(json_object_get(cfg, "token_ttl")), 600);
    json_decref(cfg);
    char *tok2 = gcs_test_emu_token(&s, ID, SECRET);
    free(tok2);
    free(tok);
    stop(&s);
}

/* A dropped connection happens before the work or after it: the client cannot
 * tell, which is what "outcome unknown" is about. Both show up, reproducibly. */
static void test_drop_before_and_after(void **state)
{
    (void)state;
    gcs_test_server s;
    const char *extra[] = {"--fault-rate", "1", "--fault-kinds", "drop", "--fault-seed", "3",
                           "--rate-limit", "0", NULL};
    start(&s, extra);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    for (int i = 0; i < 12; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"userName\":\"d%d@example.com\",\"displayName\":\"D\"}", i);
        gcs_test_http r;
        gcs_test_emu_call(&r, &s, tok, "POST", "/api/v2/scim/v2/users", body, NULL);
        assert_int_equal(r.status, 0);
        gcs_test_http_release(&r);
    }
    json_t *st = gcs_test_emu_admin(&s, "GET", "state", NULL);
    size_t made = json_array_size(json_object_get(st, "users"));
    assert_true(made > 0 && made < 12);
    json_decref(st);
    st = gcs_test_emu_admin(&s, "GET", "stats", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "faults"), "drop")), 12);
    json_decref(st);
    free(tok);
    stop(&s);
}

static void test_latency(void **state)
{
    (void)state;
    gcs_test_server s;
    const char *extra[] = {"--latency", "150", NULL};
    start(&s, extra);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    gcs_test_http r;
    int64_t t0 = gcs_time_mono_ms();
    gcs_test_emu_call(&r, &s, tok, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(gcs_time_mono_ms() - t0 >= 150);
    gcs_test_http_release(&r);
    free(tok);
    stop(&s);
}

static void test_basic_users(void **state)
{
    (void)state;
    gcs_test_server s;
    start(&s, NULL);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    char *id = create_user(&s, tok, "ann@example.com");
    char path[256], h[64];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_test_http r;
    gcs_test_emu_call(&r, &s, tok, "GET", path, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(gcs_test_http_header(&r, "ETag", h, sizeof h), "\"1\"");
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "PATCH", path,
                      "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                      "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Lead\"}]}",
                      "If-Match: \"1\"");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "title")), "Lead");
    assert_string_equal(gcs_test_http_header(&r, "ETag", h, sizeof h), "\"2\"");
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, tok, "GET",
                      "/api/v2/scim/users?filter=userName+eq+%22ANN@example.com%22", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "totalResults")), 1);
    json_t *u = json_array_get(json_object_get(r.json, "Resources"), 0);
    assert_string_equal(json_string_value(json_object_get(u, "id")), id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(u, "meta"), "version")), "2");
    gcs_test_http_release(&r);
    free(id);
    free(tok);
    stop(&s);
}

/* A client limited to some scopes gets 403 missing.any.scopes elsewhere. */
static void test_scopes(void **state)
{
    (void)state;
    gcs_test_server s;
    const char *extra[] = {"--client", "ro:ro-secret", "--client-scopes", "ro=scim:readonly,groups", NULL};
    start(&s, extra);
    char *ro = gcs_test_emu_token(&s, "ro", "ro-secret");
    char *rw = gcs_test_emu_token(&s, ID, SECRET);
    gcs_test_http r;
    gcs_test_emu_call(&r, &s, ro, "GET", "/api/v2/scim/v2/users", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, ro, "POST", "/api/v2/scim/v2/users",
                      "{\"userName\":\"s@example.com\",\"displayName\":\"S\"}", NULL);
    assert_int_equal(r.status, 403);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "missing.any.scopes");
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")), "scim"));
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, ro, "GET", "/api/v2/authorization/roles", NULL, NULL);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")), "authorization:readonly"));
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, ro, "POST", "/api/v2/groups", "{\"name\":\"G\",\"type\":\"official\"}", NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    /* A client without --client-scopes has every scope. */
    gcs_test_emu_call(&r, &s, rw, "POST", "/api/v2/scim/v2/users",
                      "{\"userName\":\"s@example.com\",\"displayName\":\"S\"}", NULL);
    assert_int_equal(r.status, 201);
    gcs_test_http_release(&r);
    gcs_test_emu_call(&r, &s, rw, "GET", "/api/v2/authorization/roles", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    free(ro);
    free(rw);
    stop(&s);
}

typedef struct worker {
    const gcs_test_server *s;
    const char *tok;
    const char *path;
    const char *method;
    const char *body;
    int n;
    int ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        gcs_test_http r;
        gcs_test_emu_call(&r, w->s, w->tok, w->method, w->path, w->body, NULL);
        w->ok += r.status == 200;
        gcs_test_http_release(&r);
    }
    return NULL;
}

static void run_workers(const gcs_test_server *s, const char *tok, const char *method,
                        const char *path, const char *body, int threads, int n, int *ok)
{
    pthread_t t[16];
    worker w[16];
    *ok = 0;
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){s, tok, path, method, body, n, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        *ok += w[i].ok;
    }
}

/* Requests in flight at once are served at once (a thread per connection), the
 * stats see them, and concurrent writes are all applied, one version each. */
static void test_concurrency(void **state)
{
    (void)state;
    gcs_test_server s;
    const char *extra[] = {"--latency", "200", "--rate-limit", "0", NULL};
    start(&s, extra);
    char *tok = gcs_test_emu_token(&s, ID, SECRET);
    char *id = create_user(&s, tok, "race@example.com");
    char path[256];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    int ok;
    int64_t t0 = gcs_time_mono_ms();
    run_workers(&s, tok, "GET", path, NULL, 8, 2, &ok);
    int64_t took = gcs_time_mono_ms() - t0;
    assert_int_equal(ok, 16);
    assert_true(took < 8 * 2 * 200); /* not one at a time */
    json_t *st = gcs_test_emu_admin(&s, "GET", "stats", NULL);
    assert_true(json_integer_value(json_object_get(st, "max_in_flight")) >= 4);
    assert_int_equal(json_integer_value(json_object_get(st, "in_flight")), 0);
    json_decref(st);

    json_decref(gcs_test_emu_admin(&s, "POST", "config", "{\"latency_ms\":0}"));
    run_workers(&s, tok, "PATCH", path,
                "{\"Operations\":[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"T\"}]}", 8, 10, &ok);
    assert_int_equal(ok, 80);
    gcs_test_http r;
    gcs_test_emu_call(&r, &s, tok, "GET", path, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "meta"), "version")), "81");
    gcs_test_http_release(&r);
    free(id);
    free(tok);
    stop(&s);
}

int main(void)
{
    gcs_test_deadline(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oauth),
        cmocka_unit_test(test_token_expiry),
        cmocka_unit_test(test_default_client),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_fault_kinds_and_config),
        cmocka_unit_test(test_drop_before_and_after),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_basic_users),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
