/*
 * gcscim serve, as a process on loopback, against the emulator: every answer
 * of the front (docs/serve.md), the signature and replay rules, webhook ids
 * acknowledged once, the metrics page as promtool reads it, the refusals at
 * start, SIGTERM, and kill -9 in the middle of a stream losing no accepted
 * event.
 */
#include "clitest.h"
#include "gcstest.h"
#include "httptest.h"
#include "servetest.h"

#include "core/time.h"
#include "http/server.h"
#include "service/auth.h"
#include "service/webhook.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fixture {
    gcs_test_serve t;
    gcs_test_server serve;
    char url[160];
    char db_url[1200];
    char dir[600];
} fixture;

static void serve_start(fixture *f, const char *const *extra)
{
    gcs_test_serve_start(&f->t, &f->serve, extra);
    snprintf(f->url, sizeof f->url, "%s", f->serve.api_url);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    gcs_test_serve_init(&f->t, NULL, NULL);
    snprintf(f->db_url, sizeof f->db_url, "%s", f->t.db_url);
    snprintf(f->dir, sizeof f->dir, "%s", f->t.dir);
    serve_start(f, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gcs_test_server_stop(&f->serve);
    gcs_test_serve_release(&f->t);
    free(f);
    return 0;
}

/* ==== Requests ==== */

static void post_signed(gcs_test_http *r, const fixture *f, const char *secret_text,
                        const char *id, int64_t ts, const char *body, const char *extra)
{
    gcs_test_serve_post_signed(r, f->url, secret_text, id, ts, body, extra);
}

static void call(gcs_test_http *r, const fixture *f, const char *method, const char *path,
                 const char *api_key, const char *body)
{
    gcs_test_serve_call(r, f->url, method, path, api_key, body);
}

#define now_s gcs_test_serve_now_s
#define event_body gcs_test_serve_event_body
#define job_of gcs_test_serve_job_of
#define error_of gcs_test_serve_error_of

/* Jobs in the store, read by the test's own connection. */
static int64_t jobs_in_store(const fixture *f)
{
    gcs_store *s;
    gcs_job_counts c;
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    assert_int_equal(gcs_store_job_counts(&c, s), 0);
    gcs_store_free(s);
    return c.pending + c.running + c.done + c.dead + c.dropped + c.needs_approval;
}

/* ==== Events ==== */

static void signed_event_is_committed_then_acknowledged(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[512];
    event_body(body, sizeof body, "person.created", "EV100");
    int64_t before = jobs_in_store(f);
    post_signed(&r, f, SECRET_OLD, "msg_ev100", now_s(), body, NULL);
    assert_int_equal(r.status, 202);
    int64_t job = job_of(&r);
    assert_true(job > 0);
    char rid[80];
    assert_non_null(gcs_test_http_header(&r, "X-Request-Id", rid, sizeof rid));
    gcs_test_http_release(&r);
    /* Committed: another connection sees it as soon as the answer came. */
    assert_int_equal(jobs_in_store(f), before + 1);
    gcs_store *s;
    gcs_job j;
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    assert_int_equal(gcs_store_job_get(&j, s, job), 0);
    assert_string_equal(j.key, "person:EV100");
    json_t *payload = json_loads(j.payload, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(payload, "event")), "upsert");
    assert_string_equal(json_string_value(json_object_get(payload, "origin")), "event");
    assert_string_equal(json_string_value(json_object_get(payload, "webhook_id")), "msg_ev100");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(payload, "row"), "email")),
        "EV100@example.com");
    json_decref(payload);
    gcs_job_release(&j);
    gcs_store_free(s);
}

static void same_webhook_id_is_acknowledged_and_queued_once(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[512];
    event_body(body, sizeof body, "person.changed", "EV200");
    post_signed(&r, f, SECRET_OLD, "msg_ev200", now_s(), body, NULL);
    assert_int_equal(r.status, 202);
    int64_t job = job_of(&r);
    gcs_test_http_release(&r);
    int64_t after_first = jobs_in_store(f);
    /* The sender retries (it never saw the answer), signed again. */
    post_signed(&r, f, SECRET_NEW, "msg_ev200", now_s(), body, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(job_of(&r), job);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), after_first);
}

/* A webhook id is one event: used again for another event it is refused,
 * naming the first one's job, never acknowledged as a duplicate (which would
 * drop the event). A retry whose informative "timestamp" was written afresh
 * is the same event. */
static void webhook_id_used_for_another_event_is_422(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[512], other[512], retry[600];
    event_body(body, sizeof body, "person.changed", "EV210");
    event_body(other, sizeof other, "person.changed", "EV211");
    post_signed(&r, f, SECRET_OLD, "msg_ev210", now_s(), body, NULL);
    assert_int_equal(r.status, 202);
    int64_t job = job_of(&r);
    gcs_test_http_release(&r);
    int64_t after_first = jobs_in_store(f);
    post_signed(&r, f, SECRET_OLD, "msg_ev210", now_s(), other, NULL);
    assert_int_equal(r.status, 422);
    char want[120];
    snprintf(want, sizeof want, "webhook-id 'msg_ev210' was used for another event (job %lld)",
             (long long)job);
    assert_non_null(strstr(error_of(&r), want));
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), after_first);
    snprintf(retry, sizeof retry, "{\"timestamp\":\"2026-11-30T08:00:01Z\",%s", body + 1);
    post_signed(&r, f, SECRET_OLD, "msg_ev210", now_s(), retry, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(job_of(&r), job);
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), after_first);
}

/* Without event secrets, each sender proves itself with its API key, and its
 * webhook ids are its own: two senders that number their events alike each
 * get their event queued, as two callers may use one Idempotency-Key. */
static void webhook_ids_given_with_an_api_key_are_that_keys_own(void **state)
{
    fixture *f = *state;
    char secrets[sizeof f->t.secrets_path], portal[72], reader[72], sender[72], other[72];
    char keys[1024];
    snprintf(secrets, sizeof secrets, "%s", f->t.secrets_path);
    gcs_api_key_hash_text(portal, KEY_PORTAL);
    gcs_api_key_hash_text(reader, KEY_READER);
    gcs_api_key_hash_text(sender, KEY_SENDER);
    gcs_api_key_hash_text(other, "k-other-sender-4f5a6b7c8d9e0f1a");
    snprintf(keys, sizeof keys,
             "portal provision,read %s\nreader read %s\nsender events %s\n"
             "other events %s\n",
             portal, reader, sender, other);
    FILE *kf = fopen(f->t.keys_path, "w");
    assert_non_null(kf);
    fputs(keys, kf);
    fclose(kf);
    f->t.secrets_path[0] = '\0';
    gcs_test_server_stop(&f->serve);
    serve_start(f, NULL);
    gcs_test_http r;
    char body[512], url[256];
    snprintf(url, sizeof url, "%s/v1/events", f->url);
    event_body(body, sizeof body, "person.changed", "EV220");
    const char *first[] = {"Content-Type: application/json", "webhook-id: 1",
                           "Authorization: Bearer " KEY_SENDER, NULL};
    gcs_test_http_do(&r, "POST", url, first, body, strlen(body));
    assert_int_equal(r.status, 202);
    int64_t job = job_of(&r);
    gcs_test_http_release(&r);
    event_body(body, sizeof body, "person.changed", "EV221");
    const char *second[] = {"Content-Type: application/json", "webhook-id: 1",
                            "Authorization: Bearer k-other-sender-4f5a6b7c8d9e0f1a", NULL};
    gcs_test_http_do(&r, "POST", url, second, body, strlen(body));
    assert_int_equal(r.status, 202);
    assert_true(job_of(&r) != job);
    gcs_test_http_release(&r);
    /* the first sender's retry is its own duplicate */
    event_body(body, sizeof body, "person.changed", "EV220");
    gcs_test_http_do(&r, "POST", url, first, body, strlen(body));
    assert_int_equal(r.status, 200);
    assert_int_equal(job_of(&r), job);
    gcs_test_http_release(&r);
    snprintf(f->t.secrets_path, sizeof f->t.secrets_path, "%s", secrets);
    gcs_test_server_stop(&f->serve);
    serve_start(f, NULL);
}

static void either_secret_of_a_rotation_verifies(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[512];
    event_body(body, sizeof body, "person.created", "EV300");
    post_signed(&r, f, SECRET_NEW, "msg_ev300", now_s(), body, NULL);
    assert_int_equal(r.status, 202);
    gcs_test_http_release(&r);
}

static void bad_signature_stale_timestamp_and_missing_headers_are_401(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[512], url[256];
    int64_t before = jobs_in_store(f);
    event_body(body, sizeof body, "person.created", "EV400");
    post_signed(&r, f, SECRET_OTHER, "msg_ev400", now_s(), body, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(error_of(&r), "no signature matches"));
    gcs_test_http_release(&r);
    /* A replay after the window, and a timestamp from the future. */
    post_signed(&r, f, SECRET_OLD, "msg_ev401", now_s() - 301, body, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(error_of(&r), "5 minutes"));
    gcs_test_http_release(&r);
    post_signed(&r, f, SECRET_OLD, "msg_ev402", now_s() + 330, body, NULL);
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);
    /* Within the window it is accepted. */
    post_signed(&r, f, SECRET_OLD, "msg_ev403", now_s() - 200, body, NULL);
    assert_int_equal(r.status, 202);
    gcs_test_http_release(&r);
    /* A body changed after signing. */
    gcs_webhook_secret secret;
    char sig[GCS_WEBHOOK_SIGNATURE_MAX], h_ts[64], h_sig[128];
    assert_int_equal(gcs_webhook_secret_parse(&secret, SECRET_OLD), 0);
    int64_t ts = now_s();
    assert_int_equal(gcs_webhook_sign(sig, &secret, "msg_ev404", ts, body, strlen(body)), 0);
    gcs_webhook_secret_wipe(&secret);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", (long long)ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
    snprintf(url, sizeof url, "%s/v1/events", f->url);
    const char *headers[] = {"webhook-id: msg_ev404", h_ts, h_sig, NULL};
    char changed[512];
    event_body(changed, sizeof changed, "person.created", "EV401");
    gcs_test_http_do(&r, "POST", url, headers, changed, strlen(changed));
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);
    /* No signature at all. */
    const char *bare[] = {"webhook-id: msg_ev405", NULL};
    gcs_test_http_do(&r, "POST", url, bare, body, strlen(body));
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(error_of(&r), "webhook-signature"));
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), before + 1);
}

static void api_key_on_an_event_must_hold_events(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[512];
    event_body(body, sizeof body, "person.created", "EV500");
    post_signed(&r, f, SECRET_OLD, "msg_ev500", now_s(), body,
                "Authorization: Bearer " KEY_READER);
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);
    post_signed(&r, f, SECRET_OLD, "msg_ev501", now_s(), body,
                "Authorization: Bearer " KEY_SENDER);
    assert_int_equal(r.status, 202);
    gcs_test_http_release(&r);
}

static void malformed_event_is_400_naming_the_field(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *body;
        const char *names;
    } cases[] = {
        {"not json", "body: not JSON"},
        {"[1,2]", "body: must be a JSON object"},
        {"{\"data\":{\"key\":\"E\",\"row\":{\"a\":\"b\"}}}", "type: missing"},
        {"{\"type\":\"person.hired\",\"data\":{}}", "type: unknown event type"},
        {"{\"type\":\"group.changed\",\"data\":{}}", "data.key: missing"},
        {"{\"type\":\"group.deleted\",\"data\":{\"key\":\"G\"}}", "type: gcscim never deletes"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\"}}", "data.members: missing"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":\"E1\"}}",
         "data.members: must be an array"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[\"E1\",7]}}",
         "data.members[1]: must be a string"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[\"E\\u0007\"]}}",
         "data.members[0]: holds a control character"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[\"E1\",\"E1\"]}}",
         "data.members[1]: listed twice"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[],\"colour\":1}}",
         "data.colour: unknown field"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[],"
         "\"nesting\":\"deep\"}}",
         "data.nesting: must be kept or flattened"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[],"
         "\"children\":[\"G\"]}}",
         "data.children[0]: a group cannot contain itself"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[],"
         "\"roles\":[{\"role\":\"Agent\"}]}}",
         "data.roles[0].division: missing"},
        {"{\"type\":\"group.changed\",\"data\":{\"key\":\"G\",\"members\":[],"
         "\"visibility\":\"secret\"}}",
         "data.visibility: must be public, owners or members"},
        {"{\"type\":\"person.created\"}", "data: missing"},
        {"{\"type\":\"person.created\",\"data\":{\"row\":{\"a\":\"b\"}}}", "data.key: missing"},
        {"{\"type\":\"person.created\",\"data\":{\"key\":7,\"row\":{\"a\":\"b\"}}}",
         "data.key: must be a string"},
        {"{\"type\":\"person.created\",\"data\":{\"key\":\"E1\"}}", "data.row: missing"},
        {"{\"type\":\"person.created\",\"data\":{\"key\":\"E1\",\"row\":{\"email\":[1]}}}",
         "data.row.email: must be a string"},
        {"{\"type\":\"person.left\",\"data\":{\"key\":\"E1\",\"row\":{\"a\":\"b\"}}}",
         "data.row: a person.left event carries no row"},
    };
    int64_t before = jobs_in_store(f);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gcs_test_http r;
        char id[32];
        snprintf(id, sizeof id, "msg_bad%zu", i);
        post_signed(&r, f, SECRET_OLD, id, now_s(), cases[i].body, NULL);
        if (r.status != 400 || !strstr(error_of(&r), cases[i].names))
            fail_msg("case %zu: %ld %s (wanted 400 naming '%s')", i, r.status, error_of(&r),
                     cases[i].names);
        gcs_test_http_release(&r);
    }
    assert_int_equal(jobs_in_store(f), before);
}

static void event_over_the_body_limit_is_413(void **state)
{
    fixture *f = *state;
    size_t n = 600 * 1000;
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    body[n] = '\0';
    body[0] = '{';
    body[n - 1] = '}';
    gcs_test_http r;
    post_signed(&r, f, SECRET_OLD, "msg_big", now_s(), body, NULL);
    assert_int_equal(r.status, 413);
    gcs_test_http_release(&r);
    free(body);
}

/* ==== REST ==== */

static void rest_needs_a_key_with_the_right(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    const char *body = "{\"key\":\"RS100\",\"row\":{\"employee_id\":\"RS100\"}}";
    call(&r, f, "POST", "/v1/users", NULL, body);
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);
    call(&r, f, "POST", "/v1/users", "k-unknown-key", body);
    assert_int_equal(r.status, 401);
    gcs_test_http_release(&r);
    call(&r, f, "POST", "/v1/users", KEY_READER, body);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(error_of(&r), "provision"));
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/jobs/1", KEY_SENDER, NULL);
    assert_int_equal(r.status, 403);
    gcs_test_http_release(&r);
}

static void rest_provision_then_read_the_job_and_the_person(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    const char *body = "{\"key\":\"RS200\",\"row\":{\"employee_id\":\"RS200\",\"email\":\"rs200@example.com\"}}";
    call(&r, f, "POST", "/v1/users", KEY_PORTAL, body);
    assert_int_equal(r.status, 202);
    int64_t job = job_of(&r);
    char location[64], want[64];
    snprintf(want, sizeof want, "/v1/jobs/%lld", (long long)job);
    assert_string_equal(gcs_test_http_header(&r, "Location", location, sizeof location), want);
    gcs_test_http_release(&r);

    call(&r, f, "GET", want, KEY_READER, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "key")), "person:RS200");
    json_t *payload = json_object_get(r.json, "payload");
    assert_string_equal(json_string_value(json_object_get(payload, "origin")), "rest");
    assert_string_equal(json_string_value(json_object_get(payload, "requested_by")), "portal");
    gcs_test_http_release(&r);

    call(&r, f, "GET", "/v1/users/RS200", KEY_READER, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "jobs")), 1);
    gcs_test_http_release(&r);

    call(&r, f, "GET", "/v1/users/NOBODY", KEY_READER, NULL);
    assert_int_equal(r.status, 404);
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/jobs/999999", KEY_READER, NULL);
    assert_int_equal(r.status, 404);
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/jobs/x", KEY_READER, NULL);
    assert_int_equal(r.status, 404);
    gcs_test_http_release(&r);
}

static void rest_bad_requests_are_400(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    call(&r, f, "POST", "/v1/users", KEY_PORTAL, "{\"row\":{\"a\":\"b\"}}");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(error_of(&r), "body.key: missing"));
    gcs_test_http_release(&r);
    call(&r, f, "POST", "/v1/users?wait=abc", KEY_PORTAL, "{\"key\":\"E\",\"row\":{\"a\":\"b\"}}");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(error_of(&r), "wait"));
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/receipts?since=yesterday", KEY_READER, NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(error_of(&r), "since"));
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/receipts?limit=0", KEY_READER, NULL);
    assert_int_equal(r.status, 400);
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/receipts?limit=5&since=2026-01-01", KEY_READER, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_array(json_object_get(r.json, "receipts")));
    gcs_test_http_release(&r);
    call(&r, f, "DELETE", "/v1/users", KEY_PORTAL, NULL);
    assert_int_equal(r.status, 405);
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v2/nothing", KEY_PORTAL, NULL);
    assert_int_equal(r.status, 404);
    gcs_test_http_release(&r);
}

/* ==== Through to Genesys ==== */

static void rest_wait_answers_201_then_200_with_the_genesys_id(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[1024];
    snprintf(body, sizeof body, "{\"key\":\"RW100\",\"row\":" ROW_FMT "}", "RW100", "RW100",
             "rw100");
    call(&r, f, "POST", "/v1/users?wait=30", KEY_PORTAL, body);
    if (r.status != 201)
        fail_msg("%ld %s", r.status, r.body.ptr);
    assert_string_equal(json_string_value(json_object_get(r.json, "outcome")), "created");
    const char *gid = json_string_value(json_object_get(r.json, "genesys_id"));
    assert_non_null(gid);
    char genesys_id[128];
    snprintf(genesys_id, sizeof genesys_id, "%s", gid);
    assert_true(json_array_size(json_object_get(r.json, "receipts")) > 0);
    gcs_test_http_release(&r);

    /* The same person again, with another title: an update of that user. */
    char *title = strstr(body, "\"Agent\"");
    memcpy(title, "\"Coach\"", 7);
    call(&r, f, "POST", "/v1/users?wait=30", KEY_PORTAL, body);
    if (r.status != 200)
        fail_msg("%ld %s", r.status, r.body.ptr);
    assert_string_equal(json_string_value(json_object_get(r.json, "outcome")), "updated");
    assert_string_equal(json_string_value(json_object_get(r.json, "genesys_id")), genesys_id);
    gcs_test_http_release(&r);

    call(&r, f, "GET", "/v1/users/RW100", KEY_READER, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "genesys_id")), genesys_id);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "done");
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/receipts?user=RW100&limit=100", KEY_READER, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(json_object_get(r.json, "receipts")) > 0);
    gcs_test_http_release(&r);
}

/* POST /v1/users?wait=30 with an Idempotency-Key. */
static void post_idempotent(gcs_test_http *r, const fixture *f, const char *api_key,
                            const char *idem, const char *body)
{
    char url[512], auth[128], key[300];
    snprintf(url, sizeof url, "%s/v1/users?wait=30", f->url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", api_key);
    snprintf(key, sizeof key, "Idempotency-Key: %s", idem);
    const char *headers[] = {"Content-Type: application/json", auth, key, NULL};
    gcs_test_http_do(r, "POST", url, headers, body, strlen(body));
}

/* The same Idempotency-Key with the same ask (spacing and member order
 * aside) answers the first job and its outcome and queues nothing; with
 * another ask it is refused, naming the key and the job; a key is the API
 * key's own: another caller's same key is another request. */
static void rest_idempotency_key_answers_the_first_job_once(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[1024], again[1200], hdr[32];
    snprintf(body, sizeof body, "{\"key\":\"RI100\",\"row\":" ROW_FMT "}", "RI100", "RI100",
             "ri100");
    post_idempotent(&r, f, KEY_PORTAL, "onboard-RI100", body);
    if (r.status != 201)
        fail_msg("%ld %s", r.status, r.body.ptr);
    int64_t job = job_of(&r);
    char genesys_id[128];
    snprintf(genesys_id, sizeof genesys_id, "%s",
             json_string_value(json_object_get(r.json, "genesys_id")));
    assert_null(gcs_test_http_header(&r, "Idempotent-Replayed", hdr, sizeof hdr));
    gcs_test_http_release(&r);
    int64_t jobs = jobs_in_store(f);

    /* The same ask, spaced and ordered otherwise: the first job, its outcome. */
    json_t *doc = json_loads(body, 0, NULL);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    snprintf(again, sizeof again, "%s", text);
    free(text);
    json_decref(doc);
    post_idempotent(&r, f, KEY_PORTAL, "onboard-RI100", again);
    if (r.status != 201)
        fail_msg("%ld %s", r.status, r.body.ptr);
    assert_int_equal(job_of(&r), job);
    assert_string_equal(json_string_value(json_object_get(r.json, "genesys_id")), genesys_id);
    assert_non_null(gcs_test_http_header(&r, "Idempotent-Replayed", hdr, sizeof hdr));
    assert_string_equal(hdr, "true");
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), jobs);

    /* Another ask under the same key: 422, nothing queued, the user unchanged. */
    char *title = strstr(body, "\"Agent\"");
    memcpy(title, "\"Coach\"", 7);
    post_idempotent(&r, f, KEY_PORTAL, "onboard-RI100", body);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(error_of(&r), "Idempotency-Key 'onboard-RI100'"));
    char job_text[64];
    snprintf(job_text, sizeof job_text, "job %lld", (long long)job);
    assert_non_null(strstr(error_of(&r), job_text));
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), jobs);
    json_t *u = gcs_test_emu_user_named(&f->t.emu, "ri100@example.com");
    assert_string_equal(json_string_value(json_object_get(u, "title")), "Agent");
    json_decref(u);

    /* A key that is not 1 to 128 printable characters without blanks: 400. */
    post_idempotent(&r, f, KEY_PORTAL, "two words", body);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(error_of(&r), "Idempotency-Key"));
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), jobs);

    /* Another API key may use the same Idempotency-Key for its own request. */
    char portal[72], reader[72], sender[72], other[72], keys[1024];
    gcs_api_key_hash_text(portal, KEY_PORTAL);
    gcs_api_key_hash_text(reader, KEY_READER);
    gcs_api_key_hash_text(sender, KEY_SENDER);
    gcs_api_key_hash_text(other, "k-other-portal-3e4f5a6b7c8d9e0f");
    snprintf(keys, sizeof keys,
             "portal provision,read %s\nreader read %s\nsender events %s\n"
             "other provision,read %s\n",
             portal, reader, sender, other);
    FILE *kf = fopen(f->t.keys_path, "w");
    assert_non_null(kf);
    fputs(keys, kf);
    fclose(kf);
    gcs_test_server_stop(&f->serve);
    serve_start(f, NULL);
    post_idempotent(&r, f, "k-other-portal-3e4f5a6b7c8d9e0f", "onboard-RI100", body);
    if (r.status != 200)
        fail_msg("%ld %s", r.status, r.body.ptr);
    assert_true(job_of(&r) != job);
    assert_string_equal(json_string_value(json_object_get(r.json, "outcome")), "updated");
    gcs_test_http_release(&r);
    assert_int_equal(jobs_in_store(f), jobs + 1);
}

/* The whole text of a file (caller frees), or NULL. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    gcs_buf b;
    gcs_buf_init(&b, 64 * 1024 * 1024);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(gcs_buf_put(&b, chunk, n), 0);
    fclose(fp);
    assert_int_equal(gcs_buf_puts(&b, ""), 0);
    return gcs_buf_detach(&b);
}

/* A profile that generates passwords: without a passwords_file serve does
 * not start (every create would fail); with one, a new user's password is
 * written there, private, and nowhere else: not in serve's log, the job's
 * answer and result, nor the receipts. */
static void generated_passwords_go_to_the_passwords_file_only(void **state)
{
    fixture *f = *state;
    char *base = slurp(GCS_TEST_SOURCE_DIR "/examples/profile.yaml");
    assert_non_null(base);
    char text[16384];
    snprintf(text, sizeof text, "%s\npassword: {generate: true, length: 24}\n", base);
    free(base);
    char *profile = gcs_test_write_file(f->dir, "pw-profile.yaml", text);
    char passwords[700];
    snprintf(passwords, sizeof passwords, "%s/passwords.csv", f->dir);

    gcs_test_run run;
    const char *argv[] = {gcs_test_cli_path(), "serve", "--listen", "127.0.0.1:0",
                          "--event-secrets-file", f->t.secrets_path, "--profile", profile, NULL};
    char db[1300], api[200];
    snprintf(db, sizeof db, "GCSCIM_DB=%s", f->db_url);
    snprintf(api, sizeof api, "GENESYSCLOUD_API_URL=%s", f->t.emu.api_url);
    const char *env[] = {db, api, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                         "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret", NULL};
    gcs_test_run_program(&run, argv, env, NULL, 30000);
    assert_int_equal(run.exit_code, 1);
    assert_non_null(strstr(run.err.ptr, "passwords_file"));
    assert_non_null(strstr(run.err.ptr, "pw-profile.yaml"));
    gcs_test_run_release(&run);

    gcs_test_server_stop(&f->serve);
    const char *args[] = {"serve", "--event-secrets-file", f->t.secrets_path, "--api-keys-file",
                          f->t.keys_path, "--profile", profile, "--passwords-file", passwords,
                          NULL};
    gcs_test_server_start(&f->serve, gcs_test_cli_path(), args, 30000);
    snprintf(f->url, sizeof f->url, "%s", f->serve.api_url);
    struct stat st;
    assert_int_equal(stat(passwords, &st), 0); /* made at start, private */
    assert_int_equal(st.st_mode & 0777, 0600);

    gcs_test_http r;
    char body[1024];
    snprintf(body, sizeof body, "{\"key\":\"RP100\",\"row\":" ROW_FMT "}", "RP100", "RP100",
             "rp100");
    call(&r, f, "POST", "/v1/users?wait=30", KEY_PORTAL, body);
    if (r.status != 201)
        fail_msg("%ld %s", r.status, r.body.ptr);
    int64_t job = job_of(&r);
    char answer[16384];
    snprintf(answer, sizeof answer, "%s", r.body.ptr);
    gcs_test_http_release(&r);

    char *written = slurp(passwords);
    assert_non_null(written);
    assert_int_equal(strncmp(written, "RP100,", 6), 0);
    char *password = strrchr(written, ',');
    assert_non_null(password);
    password++;
    password[strcspn(password, "\n")] = '\0';
    assert_int_equal(strlen(password), 24);
    assert_int_equal(stat(passwords, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_null(strstr(answer, password));
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    call(&r, f, "GET", path, KEY_READER, NULL);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body.ptr, password));
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/v1/receipts?user=RP100&limit=100", KEY_READER, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(json_object_get(r.json, "receipts")) > 0);
    assert_null(strstr(r.body.ptr, password));
    gcs_test_http_release(&r);
    char *log = slurp(f->serve.log_path);
    assert_non_null(log);
    assert_non_null(strstr(log, "RP100"));
    assert_null(strstr(log, password));
    free(log);
    free(written);
    free(profile);
    gcs_test_server_stop(&f->serve); /* the group's serve again, as the next tests expect */
    serve_start(f, NULL);
}

/* Polls GET /v1/jobs/ID until the job is done (bounded); its result. */
static json_t *job_done(const fixture *f, int64_t job)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", (long long)job);
    for (int i = 0; i < 600; i++) {
        gcs_test_http r;
        call(&r, f, "GET", path, KEY_READER, NULL);
        assert_int_equal(r.status, 200);
        const char *st = json_string_value(json_object_get(r.json, "state"));
        if (strcmp(st, "done") == 0) {
            json_t *result = json_incref(json_object_get(r.json, "result"));
            gcs_test_http_release(&r);
            return result;
        }
        gcs_test_http_release(&r);
        gcs_time_sleep_ms(50);
    }
    fail_msg("job %lld not done within 30 s", (long long)job);
    return NULL;
}

static bool log_has(const fixture *f, const char *a, const char *b)
{
    FILE *fp = fopen(f->serve.log_path, "r");
    char line[8192];
    bool found = false;
    while (fp && !found && fgets(line, sizeof line, fp))
        found = strstr(line, a) && strstr(line, b);
    if (fp)
        fclose(fp);
    return found;
}

static void signed_event_reaches_genesys_and_the_audit_log(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[1024];
    event_body(body, sizeof body, "person.created", "EV900");
    post_signed(&r, f, SECRET_OLD, "msg_ev900", now_s(), body, NULL);
    assert_int_equal(r.status, 202);
    json_t *result = job_done(f, job_of(&r));
    gcs_test_http_release(&r);
    assert_string_equal(json_string_value(json_object_get(result, "outcome")), "created");
    json_decref(result);
    assert_true(log_has(f, "\"audit.job\"", "\"subject\":\"person:EV900\""));
    assert_true(log_has(f, "\"audit.job\"", "\"webhook_id\":\"msg_ev900\""));

    snprintf(body, sizeof body, "{\"type\":\"person.left\",\"data\":{\"key\":\"EV900\"}}");
    post_signed(&r, f, SECRET_OLD, "msg_ev901", now_s(), body, NULL);
    assert_int_equal(r.status, 202);
    result = job_done(f, job_of(&r));
    gcs_test_http_release(&r);
    assert_string_equal(json_string_value(json_object_get(result, "outcome")), "deactivated");
    json_decref(result);

    call(&r, f, "GET", "/metrics", NULL, NULL);
    assert_non_null(strstr(r.body.ptr, "gcscim_genesys_requests_total{route=\"POST "));
    assert_null(strstr(r.body.ptr, "gcscim_job_duration_seconds_count 0\n"));
    gcs_test_http_release(&r);
}

/* A signed group event: the people first (their own events), then the group
 * with them as members, its audit lines and its group.changed outcome; the
 * same event again sends no write. */
static void signed_group_event_creates_the_group_with_its_members(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    char body[1024];
    const char *people[] = {"EG1", "EG2"};
    for (int i = 0; i < 2; i++) {
        char id[32];
        snprintf(id, sizeof id, "msg_eg%d", i);
        event_body(body, sizeof body, "person.created", people[i]);
        post_signed(&r, f, SECRET_OLD, id, now_s(), body, NULL);
        assert_int_equal(r.status, 202);
        json_decref(job_done(f, job_of(&r)));
        gcs_test_http_release(&r);
    }
    const char *group = "{\"type\":\"group.changed\",\"timestamp\":\"2026-11-30T08:00:00Z\","
                        "\"data\":{\"key\":\"night-desk\",\"name\":\"Night Desk\","
                        "\"description\":\"After hours\",\"visibility\":\"members\","
                        "\"members\":[\"EG1\",\"EG2\",\"EG404\"],\"nesting\":\"flattened\"}}";
    post_signed(&r, f, SECRET_OLD, "msg_group1", now_s(), group, NULL);
    assert_int_equal(r.status, 202);
    int64_t job = job_of(&r);
    gcs_test_http_release(&r);
    gcs_store *s;
    gcs_job j;
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    assert_int_equal(gcs_store_job_get(&j, s, job), 0);
    assert_string_equal(j.key, "group:night-desk");
    gcs_job_release(&j);
    gcs_store_free(s);
    json_t *result = job_done(f, job);
    assert_string_equal(json_string_value(json_object_get(result, "outcome")), "created");
    assert_string_equal(json_string_value(json_object_get(result, "nesting")), "flattened");
    assert_int_equal(json_integer_value(json_object_get(result, "added")), 2);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(result, "unknown_members"), 0)), "EG404");
    json_decref(result);
    json_t *st = gcs_test_emu_admin(&f->t.emu, "GET", "state", NULL);
    size_t i;
    json_t *g, *night = NULL;
    json_array_foreach(json_object_get(st, "groups"), i, g) {
        if (strcmp(json_string_value(json_object_get(g, "name")), "Night Desk") == 0)
            night = g;
    }
    assert_non_null(night);
    assert_string_equal(json_string_value(json_object_get(night, "visibility")), "members");
    assert_int_equal(json_array_size(json_object_get(night, "members")), 2);
    json_decref(st);
    assert_true(log_has(f, "\"audit.job\"", "\"subject\":\"group:night-desk\""));
    assert_true(log_has(f, "\"audit.outcome\"", "group.changed"));

    /* The same group again, from another delivery: read, nothing written. */
    long writes = gcs_test_emu_writes(&f->t.emu);
    post_signed(&r, f, SECRET_OLD, "msg_group2", now_s(), group, NULL);
    assert_int_equal(r.status, 202);
    result = job_done(f, job_of(&r));
    gcs_test_http_release(&r);
    assert_string_equal(json_string_value(json_object_get(result, "outcome")), "unchanged");
    json_decref(result);
    assert_int_equal(gcs_test_emu_writes(&f->t.emu), writes);
}

/* ==== Metrics and health ==== */

static void metrics_pass_promtool_and_count_outcomes(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    call(&r, f, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    char *path = gcs_test_write_file(f->dir, "metrics.txt", r.body.ptr);
    assert_non_null(strstr(r.body.ptr, "gcscim_events_total{outcome=\"accepted\"}"));
    assert_non_null(strstr(r.body.ptr, "gcscim_jobs{state=\"queued\"}"));
    assert_non_null(strstr(r.body.ptr, "gcscim_job_duration_seconds_bucket{le=\"+Inf\"}"));
    assert_non_null(strstr(r.body.ptr, "gcscim_draining 0"));
    gcs_test_http_release(&r);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s.out' 2>&1", path, path);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "cat '%s.out' '%s' >&2", path, path);
        (void)system(cmd);
        fail_msg("promtool check metrics failed");
    }
    free(path);
}

/* A gauge's value on the metrics page, or -1 when it is not there. */
static double gauge(const fixture *f, const char *name)
{
    gcs_test_http r;
    call(&r, f, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    char line[160];
    snprintf(line, sizeof line, "\n%s ", name);
    const char *at = strstr(r.body.ptr, line);
    double v = at ? strtod(at + strlen(line), NULL) : -1;
    gcs_test_http_release(&r);
    return v;
}

/* Polls until the gauge has the value (30 s at most). */
static bool gauge_becomes(const fixture *f, const char *name, double want)
{
    for (int i = 0; i < 600; i++) {
        if (gauge(f, name) == want)
            return true;
        gcs_time_sleep_ms(50);
    }
    return false;
}

static void append_receipts(const fixture *f, int n)
{
    gcs_store *s;
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    for (int i = 0; i < n; i++) {
        gcs_receipt r = {.run_id = "chain", .operation = "create", .resource_type = "user",
                         .source_key = "CH1", .method = "POST", .path = "/api/v2/scim/v2/Users",
                         .request_body = "{}", .status = 201, .response_body = "{}",
                         .attempts = 1, .outcome = "ok"};
        assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    }
    assert_int_equal(gcs_store_flush(s), 0);
    gcs_store_free(s);
}

/* serve verifies the receipt chain at start and every chain_verify_interval,
 * from the head it verified last; the gauges follow the receipts written, and
 * a receipt edited in the store turns intact to 0 with an error naming it. */
static void receipt_chain_is_verified_in_the_background(void **state)
{
    fixture *f = *state;
    assert_true(gauge(f, "gcscim_receipt_chain_intact") == 1); /* on by default */
    gcs_test_server_stop(&f->serve);
    const char *extra[] = {"--chain-verify-interval", "1", NULL};
    serve_start(f, extra);
    for (int i = 0; i < 600 && gauge(f, "gcscim_receipt_chain_verified_timestamp_seconds") <= 0;
         i++)
        gcs_time_sleep_ms(50);
    double first = gauge(f, "gcscim_receipt_chain_verified_timestamp_seconds");
    assert_true(first > now_s() - 60 && first <= now_s() + 1);
    assert_true(gauge(f, "gcscim_receipt_chain_intact") == 1);
    double head = gauge(f, "gcscim_receipt_chain_head");
    assert_true(head >= 0);

    append_receipts(f, 5);
    /* Up to the head, which serve's own calls (its token) may also move on. */
    bool caught_up = false;
    double verified = -1;
    for (int i = 0; i < 600 && !caught_up; i++) {
        verified = gauge(f, "gcscim_receipt_chain_verified_head");
        caught_up = verified >= head + 5 && verified == gauge(f, "gcscim_receipt_chain_head");
        if (!caught_up)
            gcs_time_sleep_ms(50);
    }
    assert_true(caught_up);
    assert_true(gauge(f, "gcscim_receipt_chain_verified_timestamp_seconds") > first);
    assert_true(gauge(f, "gcscim_receipt_chain_intact") == 1);

    /* The anchor of the next pass (the head verified last), edited behind the
     * store's back. */
    gcs_store *s;
    char sql[256];
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    snprintf(sql, sizeof sql,
             "DROP TRIGGER receipts_no_update; UPDATE receipts SET status = 500 WHERE seq = %lld",
             (long long)verified);
    assert_int_equal(gcs_store_exec_raw(s, sql), 0);
    gcs_store_free(s);
    assert_true(gauge_becomes(f, "gcscim_receipt_chain_intact", 0));
    char receipt[64];
    snprintf(receipt, sizeof receipt, "\"receipt\":\"%lld\"", (long long)verified);
    assert_true(log_has(f, "\"serve.chain_broken\"", receipt));
    assert_true(gauge(f, "gcscim_receipt_chain_verified_head") == verified);

    /* Off: no gauges. */
    gcs_test_server_stop(&f->serve);
    const char *off[] = {"--chain-verify-interval", "0", NULL};
    serve_start(f, off);
    assert_true(gauge(f, "gcscim_receipt_chain_intact") == -1);
    gcs_test_server_stop(&f->serve);
    serve_start(f, NULL);
}

static void healthz_and_readyz_answer(void **state)
{
    fixture *f = *state;
    gcs_test_http r;
    call(&r, f, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    call(&r, f, "GET", "/readyz", NULL, NULL);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
}

static void store_that_cannot_commit_is_503_with_retry_after(void **state)
{
    fixture *f = *state;
    gcs_store *s;
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    assert_int_equal(gcs_store_exec_raw(s, "CREATE TRIGGER refuse_jobs BEFORE INSERT ON jobs"
                                           " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"),
                     0);
    gcs_test_http r;
    char body[512], retry[16];
    event_body(body, sizeof body, "person.created", "EV600");
    post_signed(&r, f, SECRET_OLD, "msg_ev600", now_s(), body, NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(gcs_test_http_header(&r, "Retry-After", retry, sizeof retry), "5");
    gcs_test_http_release(&r);
    assert_int_equal(gcs_store_exec_raw(s, "DROP TRIGGER refuse_jobs"), 0);
    gcs_store_free(s);
    /* The id was not kept with the failed commit: the retry is accepted. */
    post_signed(&r, f, SECRET_OLD, "msg_ev600", now_s(), body, NULL);
    assert_int_equal(r.status, 202);
    gcs_test_http_release(&r);
}

/* ==== Starting and stopping ==== */

static void full_queue_is_503_with_retry_after(void **state)
{
    fixture *f = *state;
    gcs_test_server_stop(&f->serve);
    /* Genesys out of reach: jobs fail and wait pending for their next attempt. */
    setenv("GENESYSCLOUD_API_URL", "http://127.0.0.1:1", 1);
    const char *extra[] = {"--queue-max", "2", NULL};
    serve_start(f, extra);
    setenv("GENESYSCLOUD_API_URL", f->t.emu.api_url, 1);
    int64_t pending = jobs_in_store(f);
    gcs_test_http r;
    char body[512], id[32], key[32];
    long last = 0;
    for (int i = 0; i < 3 && last != 503; i++) {
        snprintf(id, sizeof id, "msg_full%d", i);
        snprintf(key, sizeof key, "FULL%d", i);
        event_body(body, sizeof body, "person.created", key);
        post_signed(&r, f, SECRET_OLD, id, now_s(), body, NULL);
        last = r.status;
        if (last == 503) {
            char retry[16];
            assert_non_null(gcs_test_http_header(&r, "Retry-After", retry, sizeof retry));
            assert_non_null(strstr(error_of(&r), "queue is full"));
        }
        gcs_test_http_release(&r);
    }
    assert_true(pending >= 2);
    assert_int_equal(last, 503);
    gcs_test_server_stop(&f->serve);
    serve_start(f, NULL);
}

static void sigterm_stops_with_exit_0(void **state)
{
    fixture *f = *state;
    assert_int_equal(gcs_test_server_stop(&f->serve), 0);
    serve_start(f, NULL);
}

static void plain_http_off_loopback_is_refused(void **state)
{
    fixture *f = *state;
    gcs_test_run run;
    const char *argv[] = {gcs_test_cli_path(), "serve", "--listen", "0.0.0.0:0",
                          "--event-secrets-file", f->t.secrets_path, NULL};
    char db[700], api[200];
    snprintf(db, sizeof db, "GCSCIM_DB=%s", f->db_url);
    snprintf(api, sizeof api, "GENESYSCLOUD_API_URL=%s", f->t.emu.api_url);
    const char *env[] = {db, api, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                         "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret", NULL};
    gcs_test_run_program(&run, argv, env, NULL, 30000);
    assert_int_equal(run.exit_code, 1);
    assert_non_null(strstr(run.err.ptr, "plain HTTP is served on a loopback address only"));
    gcs_test_run_release(&run);
    /* A secrets file others may read. */
    char *open_secrets = gcs_test_write_file(f->dir, "open-secrets", SECRET_OLD "\n");
    chmod(open_secrets, 0644);
    const char *argv2[] = {gcs_test_cli_path(), "serve", "--listen", "127.0.0.1:0",
                           "--event-secrets-file", open_secrets, NULL};
    gcs_test_run_program(&run, argv2, env, NULL, 30000);
    assert_int_equal(run.exit_code, 1);
    assert_non_null(strstr(run.err.ptr, "chmod 600"));
    gcs_test_run_release(&run);
    free(open_secrets);
    /* A profile that cannot be read: every job would fail, so serve does not start. */
    const char *argv3[] = {gcs_test_cli_path(), "serve", "--listen", "127.0.0.1:0",
                           "--event-secrets-file", f->t.secrets_path, "--profile",
                           "/nonexistent/profile.yaml", NULL};
    gcs_test_run_program(&run, argv3, env, NULL, 30000);
    assert_int_equal(run.exit_code, 1);
    assert_non_null(strstr(run.err.ptr, "/nonexistent/profile.yaml"));
    gcs_test_run_release(&run);
}

static void *kill_soon(void *arg)
{
    pid_t pid = *(pid_t *)arg;
    gcs_time_sleep_ms(400);
    kill(pid, SIGKILL);
    return NULL;
}

static int count_job(const gcs_job *j, void *payload)
{
    (void)j;
    (*(int *)payload)++;
    return 0;
}

/* A receiver of notifications: counts the signed POSTs it gets. */
static atomic_int hook_calls;
static void hook(gcs_http_response *out, const gcs_http_request *req, void *payload)
{
    (void)payload;
    /* Only the test's own event: the jobs of earlier tests are notified too. */
    if (strcmp(req->method, "POST") == 0 && gcs_http_request_header(req, "webhook-signature") &&
        strstr(req->body, "\"source_key\":\"NT1\""))
        atomic_fetch_add(&hook_calls, 1);
    gcs_http_response_set(out, 200, "text/plain", "ok\n");
}

/* With a notify file, serve's notifier sends what the outbox holds, and
 * /metrics counts it. */
static void notify_file_sends_the_outbox_and_counts_it(void **state)
{
    fixture *f = *state;
    gcs_http_server *receiver;
    gcs_http_server_options ho = {.host = "127.0.0.1", .port = 0};
    assert_int_equal(gcs_http_server_start(&receiver, &ho, hook, NULL), 0);
    char notify[512], *secret = gcs_test_write_file(f->dir, "hr.whsec", SECRET_NEW "\n");
    chmod(secret, 0600);
    snprintf(notify, sizeof notify,
             "{\"endpoints\":[{\"name\":\"hr\",\"url\":\"http://127.0.0.1:%d/hook\","
             "\"secret_file\":\"hr.whsec\"}]}",
             gcs_http_server_port(receiver));
    char *notify_path = gcs_test_write_file(f->dir, "notify.json", notify);
    gcs_test_server_stop(&f->serve);
    const char *extra[] = {"--notify-file", notify_path, NULL};
    serve_start(f, extra);

    gcs_store *s;
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    gcs_outbox_route route = {"hr", NULL};
    gcs_outbox_routes routes = {&route, 1, 0};
    json_t *data = json_pack("{s:s}", "source_key", "NT1");
    gcs_outbox_event ev = {"user.created", data, &routes, false, false};
    size_t n = 0;
    assert_int_equal(gcs_store_outbox_add(&n, s, &ev), 0);
    assert_int_equal(n, 1);
    json_decref(data);
    gcs_store_free(s);

    for (int i = 0; i < 200 && atomic_load(&hook_calls) == 0; i++)
        gcs_time_sleep_ms(50);
    assert_int_equal(atomic_load(&hook_calls), 1);
    gcs_test_http r;
    bool counted = false;
    for (int i = 0; i < 100 && !counted; i++) {
        call(&r, f, "GET", "/metrics", NULL, NULL);
        counted = !strstr(r.body.ptr, "gcscim_notifications_sent_total{outcome=\"delivered\"} 0") &&
                  strstr(r.body.ptr, "gcscim_notifications_sent_total{outcome=\"delivered\"} ") &&
                  strstr(r.body.ptr, "gcscim_notifications{state=\"pending\"} 0");
        gcs_test_http_release(&r);
        if (!counted)
            gcs_time_sleep_ms(50);
    }
    assert_true(counted);

    gcs_test_server_stop(&f->serve);
    serve_start(f, NULL);
    gcs_http_server_free(receiver);
    free(secret);
    free(notify_path);
}

/* With a certificate and its key, serve speaks HTTPS (and only that), and the
 * certificate is the one given. */
static void tls_cert_and_key_serve_https(void **state)
{
    fixture *f = *state;
    char cmd[2048], cert[700], key[700];
    snprintf(cert, sizeof cert, "%s/cert.pem", f->dir);
    snprintf(key, sizeof key, "%s/key.pem", f->dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' >/dev/null 2>&1 && "
             "chmod 600 '%s'",
             key, cert, key);
    assert_int_equal(system(cmd), 0);
    gcs_test_server tls;
    const char *extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    gcs_test_serve_start(&f->t, &tls, extra);
    assert_non_null(strstr(tls.api_url, "https://127.0.0.1:"));
    gcs_test_run run;
    char url[256];
    snprintf(url, sizeof url, "%s/healthz", tls.api_url);
    const char *argv[] = {"/usr/bin/curl", "-sS", "--cacert", cert, url, NULL};
    gcs_test_run_program(&run, argv, NULL, NULL, 30000);
    assert_int_equal(run.exit_code, 0);
    assert_non_null(strstr(run.out.ptr, "alive"));
    gcs_test_run_release(&run);
    /* Plain HTTP to it is not answered as HTTP. */
    char plain[256];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/healthz", tls.port);
    gcs_test_http r;
    gcs_test_http_do(&r, "GET", plain, NULL, NULL, 0);
    assert_true(r.status != 200);
    gcs_test_http_release(&r);
    assert_int_equal(gcs_test_server_stop(&tls), 0);
}

/*
 * kill -9 while events stream in: every event answered 202 is in the store
 * after the restart, and the sender's retries of the rest (and of the
 * accepted ones whose answer it may have missed) leave one job per id.
 */
static void kill_9_mid_stream_loses_no_accepted_event(void **state)
{
    fixture *f = *state;
    enum { EVENTS = 300 };
    int64_t accepted_job[EVENTS] = {0};
    char body[512], id[32], key[32];
    /* The killer strikes at an instant the stream does not choose: requests
     * are in flight, commits under way. */
    pthread_t killer;
    assert_int_equal(pthread_create(&killer, NULL, kill_soon, &f->serve.pid), 0);
    for (int i = 0; i < EVENTS; i++) {
        snprintf(id, sizeof id, "msg_k%d", i);
        snprintf(key, sizeof key, "K9-%d", i);
        event_body(body, sizeof body, "person.created", key);
        gcs_test_http r;
        post_signed(&r, f, SECRET_OLD, id, now_s(), body, NULL);
        if (r.status == 202)
            accepted_job[i] = job_of(&r);
        gcs_test_http_release(&r);
    }
    pthread_join(killer, NULL);
    waitpid(f->serve.pid, NULL, 0);
    f->serve.pid = 0;
    gcs_test_server_stop(&f->serve);

    gcs_store *s;
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    int accepted = 0;
    for (int i = 0; i < EVENTS; i++) {
        if (!accepted_job[i])
            continue;
        accepted++;
        gcs_job j;
        assert_int_equal(gcs_store_job_get(&j, s, accepted_job[i]), 0);
        snprintf(key, sizeof key, "person:K9-%d", i);
        assert_string_equal(j.key, key);
        gcs_job_release(&j);
    }
    gcs_store_free(s);
    assert_true(accepted > 0 && accepted < EVENTS);

    /* Restarted, the sender delivers everything again. */
    serve_start(f, NULL);
    for (int i = 0; i < EVENTS; i++) {
        snprintf(id, sizeof id, "msg_k%d", i);
        snprintf(key, sizeof key, "K9-%d", i);
        event_body(body, sizeof body, "person.created", key);
        gcs_test_http r;
        post_signed(&r, f, SECRET_OLD, id, now_s(), body, NULL);
        if (accepted_job[i]) {
            assert_int_equal(r.status, 200);
            assert_int_equal(job_of(&r), accepted_job[i]);
        } else {
            /* Never answered 2xx: not queued, or committed just before the
             * kill with its answer lost; either way once. */
            assert_true(r.status == 202 || r.status == 200);
        }
        gcs_test_http_release(&r);
    }
    assert_int_equal(gcs_store_open(&s, f->db_url), 0);
    for (int i = 0; i < EVENTS; i++) {
        snprintf(key, sizeof key, "person:K9-%d", i);
        int n = 0;
        assert_int_equal(gcs_store_jobs_of_key(s, key, 0, count_job, &n), 0);
        if (n != 1)
            fail_msg("%s has %d jobs", key, n);
    }
    gcs_store_free(s);
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_event_is_committed_then_acknowledged),
        cmocka_unit_test(same_webhook_id_is_acknowledged_and_queued_once),
        cmocka_unit_test(webhook_id_used_for_another_event_is_422),
        cmocka_unit_test(webhook_ids_given_with_an_api_key_are_that_keys_own),
        cmocka_unit_test(either_secret_of_a_rotation_verifies),
        cmocka_unit_test(bad_signature_stale_timestamp_and_missing_headers_are_401),
        cmocka_unit_test(api_key_on_an_event_must_hold_events),
        cmocka_unit_test(malformed_event_is_400_naming_the_field),
        cmocka_unit_test(event_over_the_body_limit_is_413),
        cmocka_unit_test(rest_needs_a_key_with_the_right),
        cmocka_unit_test(rest_provision_then_read_the_job_and_the_person),
        cmocka_unit_test(rest_bad_requests_are_400),
        cmocka_unit_test(rest_wait_answers_201_then_200_with_the_genesys_id),
        cmocka_unit_test(rest_idempotency_key_answers_the_first_job_once),
        cmocka_unit_test(generated_passwords_go_to_the_passwords_file_only),
        cmocka_unit_test(signed_event_reaches_genesys_and_the_audit_log),
        cmocka_unit_test(signed_group_event_creates_the_group_with_its_members),
        cmocka_unit_test(metrics_pass_promtool_and_count_outcomes),
        cmocka_unit_test(receipt_chain_is_verified_in_the_background),
        cmocka_unit_test(healthz_and_readyz_answer),
        cmocka_unit_test(store_that_cannot_commit_is_503_with_retry_after),
        cmocka_unit_test(full_queue_is_503_with_retry_after),
        cmocka_unit_test(sigterm_stops_with_exit_0),
        cmocka_unit_test(plain_http_off_loopback_is_refused),
        cmocka_unit_test(tls_cert_and_key_serve_https),
        cmocka_unit_test(notify_file_sends_the_outbox_and_counts_it),
        cmocka_unit_test(kill_9_mid_stream_loses_no_accepted_event),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
