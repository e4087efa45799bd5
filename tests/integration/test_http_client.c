/* The request engine against the emulator: answers classified for callers,
 * receipts redacted, counters by templated route. */
#include "http_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/redact.h"
#include "genesys/session.h"

typedef struct receipts {
    int n;
    char *last_request;
    char *last_etag_sent;
    int last_status;
    gcs_http_outcome last_outcome;
} receipts;

static void on_receipt(const gcs_http_receipt *r, void *payload)
{
    receipts *rs = payload;
    rs->n++;
    free(rs->last_request);
    free(rs->last_etag_sent);
    rs->last_request = r->request_body ? strdup(r->request_body) : NULL;
    rs->last_etag_sent = r->etag_sent ? strdup(r->etag_sent) : NULL;
    rs->last_status = r->status;
    rs->last_outcome = r->outcome;
    assert_non_null(r->method);
    assert_non_null(r->path);
    assert_true(r->attempts >= 1);
}

static int call(gcs_http_client_response *res, gcs_http_fixture *f, const char *method,
                const char *path, const char *body, const char *if_match, const char *if_none_match)
{
    gcs_http_client_request req = {.method = method,
                                   .path = path,
                                   .body = body,
                                   .if_match = if_match,
                                   .if_none_match = if_none_match};
    return gcs_http_call(res, f->client, &req);
}

static const char create_body[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
    "\"userName\":\"new.person@example.com\",\"displayName\":\"New Person\","
    "\"password\":\"Hunter2-not-for-receipts\"}";

static const char patch_body[] =
    "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
    "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Lead\"}]}";

static void answers_are_classified_for_callers(void **state)
{
    (void)state;
    gcs_http_fixture f;
    receipts rs = {0};
    gcs_http_fixture_start(&f, 2, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    gcs_http_client_set_receipt_hook(f.client, on_receipt, &rs);
    gcs_http_client_response res;

    /* Create: ok, with an ETag; the password never reaches the receipt. */
    assert_int_equal(call(&res, &f, "POST", "/api/v2/scim/v2/users", create_body, NULL, NULL), 0);
    assert_int_equal(res.status, 201);
    assert_int_equal(res.outcome, GCS_HTTP_OK);
    assert_non_null(res.etag);
    assert_non_null(res.correlation_id);
    assert_non_null(json_string_value(json_object_get(res.json, "id")));
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(res.json, "id")));
    char path[160];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    char *etag = strdup(res.etag);
    gcs_http_client_response_release(&res);
    assert_int_equal(rs.n, 1);
    assert_non_null(rs.last_request);
    assert_null(strstr(rs.last_request, "Hunter2"));
    assert_non_null(strstr(rs.last_request, "new.person@example.com"));

    /* The same userName again: a uniqueness conflict. */
    assert_int_equal(call(&res, &f, "POST", "/api/v2/scim/v2/users", create_body, NULL, NULL),
                     GCS_EEXISTS);
    assert_int_equal(res.status, 409);
    assert_int_equal(res.outcome, GCS_HTTP_UNIQUENESS_CONFLICT);
    assert_string_equal(res.scim_type, "uniqueness");
    gcs_http_client_response_release(&res);

    /* Unchanged since its ETag: not modified. */
    assert_int_equal(call(&res, &f, "GET", path, NULL, NULL, etag), 0);
    assert_int_equal(res.status, 304);
    assert_int_equal(res.outcome, GCS_HTTP_NOT_MODIFIED);
    gcs_http_client_response_release(&res);
    assert_string_equal(rs.last_etag_sent, etag);

    /* A write with the current version passes; with the old one it is a version
     * conflict, whichever of the three statuses the service uses. */
    assert_int_equal(call(&res, &f, "PATCH", path, patch_body, etag, NULL), 0);
    assert_non_null(res.etag);
    assert_string_not_equal(res.etag, etag);
    gcs_http_client_response_release(&res);
    static const char *const conflict_configs[] = {"{\"version_conflict_status\":400}",
                                                   "{\"version_conflict_status\":409}",
                                                   "{\"version_conflict_status\":412}"};
    static const int conflict_statuses[] = {400, 409, 412};
    for (int i = 0; i < 3; i++) {
        gcs_http_fixture_config(&f, conflict_configs[i]);
        assert_int_equal(call(&res, &f, "PATCH", path, patch_body, etag, NULL), GCS_ECONFLICT);
        assert_int_equal(res.status, conflict_statuses[i]);
        assert_int_equal(res.outcome, GCS_HTTP_VERSION_CONFLICT);
        assert_int_equal(res.attempts, 1); /* re-read and re-diff, never retried blindly */
        gcs_http_client_response_release(&res);
    }

    /* Not found, and an invalid request with its scimType and detail. */
    assert_int_equal(call(&res, &f, "GET",
                          "/api/v2/scim/v2/users/00000000-0000-4000-8000-999999999999", NULL, NULL,
                          NULL),
                     GCS_ENOTFOUND);
    assert_int_equal(res.outcome, GCS_HTTP_NOT_FOUND);
    assert_non_null(strstr(gcs_error_last(), "not found"));
    gcs_http_client_response_release(&res);
    assert_int_equal(call(&res, &f, "POST", "/api/v2/scim/v2/users", "{not json", NULL, NULL),
                     GCS_EINVALID);
    assert_int_equal(res.status, 400);
    assert_int_equal(res.outcome, GCS_HTTP_INVALID);
    assert_string_equal(res.scim_type, "invalidSyntax");
    assert_non_null(res.detail);
    gcs_http_client_response_release(&res);

    /* One receipt per call, counters by templated route. */
    assert_int_equal(rs.n, 9);
    assert_int_equal(rs.last_outcome, GCS_HTTP_INVALID);
    json_t *stats = gcs_http_client_stats_json(f.client);
    char *text = json_dumps(stats, JSON_COMPACT);
    assert_non_null(strstr(text, "\"route\":\"/api/v2/scim/v2/users/{id}\""));
    assert_null(strstr(text, id));
    assert_int_equal(json_integer_value(json_object_get(stats, "completed")), 9);
    free(text);
    json_decref(stats);

    free(etag);
    free(rs.last_request);
    free(rs.last_etag_sent);
    gcs_http_fixture_stop(&f);
}

typedef struct bodies {
    char *request, *response;
} bodies;

static void keep_bodies(const gcs_http_receipt *r, void *payload)
{
    bodies *b = payload;
    free(b->request);
    free(b->response);
    b->request = r->request_body ? strdup(r->request_body) : NULL;
    b->response = r->response_body ? strdup(r->response_body) : NULL;
}

/* Receipt bodies without a sensitive key are masked as text, not parsed and
 * written again (key order and spacing kept as sent and answered); the text
 * rules still hide registered secrets and credential shapes in any value, and
 * a sensitive key anywhere still has its value masked. */
static void receipt_bodies_are_masked_without_a_round_trip(void **state)
{
    (void)state;
    gcs_http_fixture f;
    bodies b = {0};
    gcs_http_fixture_start(&f, 1, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    gcs_http_client_set_receipt_hook(f.client, keep_bodies, &b);
    gcs_redact_register("Reg1stered-s3cret-value");
    char id[64], path[160];
    gcs_http_fixture_user_id(id, sizeof id, 0);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_http_client_response res;

    static const char plain[] =
        "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
        "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\","
        "\"value\":\"Bearer abc.def-ghi and Reg1stered-s3cret-value\"}]}";
    assert_int_equal(call(&res, &f, "PATCH", path, plain, NULL, NULL), 0);
    gcs_http_client_response_release(&res);
    assert_non_null(b.request);
    assert_null(strstr(b.request, "abc.def-ghi"));
    assert_null(strstr(b.request, "Reg1stered"));
    assert_string_equal(b.request, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:"
                                   "PatchOp\"],\"Operations\":[{\"op\":\"replace\",\"path\":"
                                   "\"title\",\"value\":\"Bearer *** and ***\"}]}");
    assert_non_null(b.response); /* the user, echoing the title */
    assert_non_null(strstr(b.response, "Bearer ***"));
    assert_null(strstr(b.response, "abc.def-ghi"));
    assert_null(strstr(b.response, "Reg1stered"));

    static const char keyed[] =
        "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
        "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Lead\"}],"
        "\"extra\":{\"api_key\":\"k-1234567\"}}";
    call(&res, &f, "PATCH", path, keyed, NULL, NULL);
    gcs_http_client_response_release(&res);
    assert_non_null(b.request);
    assert_null(strstr(b.request, "k-1234567"));
    assert_non_null(strstr(b.request, "\"api_key\":\"***\""));

    free(b.request);
    free(b.response);
    gcs_http_fixture_stop(&f);
}

/* A registered secret holding what JSON escapes ('"', '\\', '/', non-ASCII)
 * is sent written with escapes, and Genesys (the emulator) echoes it back in
 * the user it answers with its own escapes: neither receipt holds it, read
 * as JSON or as text, nor is either body stored as it came. */
static void a_secret_echoed_back_escaped_is_in_no_receipt(void **state)
{
    (void)state;
    gcs_http_fixture f;
    bodies b = {0};
    gcs_http_fixture_start(&f, 1, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    gcs_http_client_set_receipt_hook(f.client, keep_bodies, &b);
    static const char secret[] = "Reg\"1st\\ered/s3cr\xc3\xa9t";
    gcs_redact_register(secret);
    char id[64], path[160];
    gcs_http_fixture_user_id(id, sizeof id, 0);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_http_client_response res;
    static const char body[] =
        "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
        "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\","
        "\"value\":\"\\u0052eg\\\"1st\\\\ered\\/s3cr\\u00e9t\"}]}";
    assert_int_equal(call(&res, &f, "PATCH", path, body, NULL, NULL), 0);
    /* the answer holds the title as Genesys writes it: escaped again */
    assert_non_null(strstr(res.body.ptr, "Reg\\\"1st\\\\ered/s3cr\xc3\xa9t"));
    gcs_http_client_response_release(&res);
    const char *kept[] = {b.request, b.response};
    for (int k = 0; k < 2; k++) {
        assert_non_null(kept[k]);
        assert_null(strstr(kept[k], "s3cr"));
        json_t *v = json_loads(kept[k], 0, NULL);
        assert_non_null(v); /* still JSON */
        char *text = json_dumps(v, JSON_COMPACT);
        json_decref(v);
        assert_null(strstr(text, "s3cr"));
        free(text);
    }
    assert_non_null(strstr(b.request, "\"value\":\"***\""));
    assert_non_null(strstr(b.response, "\"title\":\"***\""));
    free(b.request);
    free(b.response);
    gcs_http_fixture_stop(&f);
}

/* A body longer than the receipts keep (a page of users) comes to the hook as
 * its redacted head, cut within the limit and saying how long the body was as
 * answered: byte for byte the head of the whole body redacted, a secret in it
 * masked, and N the length before redaction (masks beyond the head are never
 * looked at). */
static void a_long_answer_comes_as_its_redacted_head(void **state)
{
    (void)state;
    gcs_http_fixture f;
    bodies b = {0};
    gcs_http_fixture_start(&f, 30, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    gcs_http_client_set_receipt_hook(f.client, keep_bodies, &b);
    gcs_redact_register("Reg1stered-s3cret-value");
    gcs_http_client_response res;
    for (int i = 0; i < 30; i++) {
        char id[64], path[160], body[300];
        gcs_http_fixture_user_id(id, sizeof id, i);
        snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
        snprintf(body, sizeof body,
                 "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                 "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\","
                 "\"value\":\"Agent \\u00e9 Reg1stered-s3cret-value %d\"}]}",
                 i);
        int rc = call(&res, &f, "PATCH", path, body, NULL, NULL);
        if (rc != 0)
            fail_msg("%s", res.message);
        gcs_http_client_response_release(&res);
    }
    const size_t max = 2000;
    gcs_http_client_set_receipt_body_max(f.client, max);
    assert_int_equal(call(&res, &f, "GET", "/api/v2/scim/v2/users?startIndex=1&count=20", NULL,
                          NULL, NULL),
                     0);
    assert_true(res.body.len > 4 * max);
    gcs_buf whole;
    gcs_buf_init(&whole, 0);
    assert_int_equal(gcs_redact_append(&whole, res.body.ptr), 0);
    assert_true(whole.len < res.body.len); /* the secret masked: shorter */
    char note[64];
    size_t n = (size_t)snprintf(note, sizeof note, "...[truncated %zu bytes]", res.body.len);
    size_t at = max - n;
    while (at > 0 && ((unsigned char)whole.ptr[at] & 0xC0) == 0x80)
        at--;
    assert_non_null(b.response);
    assert_true(strlen(b.response) <= max);
    assert_int_equal(strlen(b.response), at + n);
    assert_memory_equal(b.response, whole.ptr, at);
    assert_string_equal(b.response + at, note);
    assert_null(strstr(b.response, "Reg1stered"));
    assert_non_null(strstr(b.response, "Agent \xc3\xa9 ***"));
    gcs_buf_release(&whole);
    gcs_http_client_response_release(&res);

    /* A body within the limit is kept whole, as without one. */
    char id[64], path[160];
    gcs_http_fixture_user_id(id, sizeof id, 0);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    assert_int_equal(call(&res, &f, "GET", path, NULL, NULL, NULL), 0);
    assert_true(res.body.len < max);
    assert_null(strstr(b.response, "[truncated"));
    assert_non_null(strstr(b.response, "\"title\":\"Agent \xc3\xa9 ***"));
    gcs_http_client_response_release(&res);

    free(b.request);
    free(b.response);
    gcs_http_fixture_stop(&f);
}

/* GCS_HTTP_REQ_NO_JSON: a successful answer is left unparsed (its body and
 * ETag are there); an error is parsed as ever, for its scimType and detail. */
static void answers_left_unparsed_on_request(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_fixture_start(&f, 1, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    char id[64], path[160];
    gcs_http_fixture_user_id(id, sizeof id, 0);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);
    gcs_http_client_response res;
    gcs_http_client_request req = {.method = "PATCH", .path = path, .body = patch_body,
                                   .flags = GCS_HTTP_REQ_NO_JSON};
    assert_int_equal(gcs_http_call(&res, f.client, &req), 0);
    assert_null(res.json);
    assert_non_null(res.etag);
    assert_non_null(strstr(res.body.ptr, "\"title\":\"Lead\""));
    gcs_http_client_response_release(&res);

    req.if_match = "W/\"not-the-version\"";
    assert_int_equal(gcs_http_call(&res, f.client, &req), GCS_ECONFLICT);
    assert_non_null(res.json);
    assert_non_null(res.scim_type);
    gcs_http_client_response_release(&res);
    gcs_http_fixture_stop(&f);
}

static void many_requests_in_flight_none_lost(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 8};
    gcs_http_fixture_start(
        &f, 20, (const char *const[]){"--rate-limit", "0", "--latency", "5", NULL}, &o, NULL);
    gcs_http_fixture_submit_patches(&f, 300, &t);
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(t.done, 300);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 300);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    /* With 5 ms of latency, only concurrency gets 300 calls done quickly:
     * the engine kept its ceiling full but never passed it. */
    assert_int_equal(st.in_flight_max, 8);
    json_t *emu = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    assert_true(json_integer_value(json_object_get(emu, "max_in_flight")) <= 9);
    json_decref(emu);
    gcs_http_fixture_stop(&f);
}

/* Creates reuse connections like every other call: a TLS handshake per user
 * would cost more than the call itself. */
static void creates_reuse_connections(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_engine_tally t = {0};
    gcs_http_client_options o = {.max_in_flight = 4};
    gcs_http_fixture_start(&f, 1, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    for (int i = 0; i < 200; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"userName\":\"new%d@example.com\",\"displayName\":\"N %d\"}",
                 i, i);
        json_t *json = json_loads(body, 0, NULL);
        gcs_http_client_request req = {.method = "POST", .path = "/api/v2/scim/v2/users", .json = json};
        assert_int_equal(gcs_http_submit(f.client, &req, gcs_engine_tally_add, &t), 0);
        json_decref(json);
    }
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(t.statuses[201], 200);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    /* One connection per request in flight, and one for the token at most. */
    if (st.connects > 4 + 1)
        fail_msg("%llu connections for 200 creates, 4 in flight", (unsigned long long)st.connects);
    assert_true(st.connects >= 1);
    gcs_http_fixture_stop(&f);
}

static void transport_failures_are_classified(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_client_options o = {.timeout_ms = 300, .max_attempts = 2, .backoff_base_ms = 10};
    gcs_http_fixture_start(&f, 2, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    assert_int_equal(gcs_token_ensure(f.token, f.client), 0);
    gcs_http_fixture_config(&f, "{\"latency_ms\":1000}");
    gcs_http_client_response res;
    char id[64], path[128];
    gcs_http_fixture_user_id(id, sizeof id, 0);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", id);

    /* A read that times out is tried again, then reported as a transport error. */
    assert_int_equal(call(&res, &f, "GET", path, NULL, NULL, NULL), GCS_ETRANSPORT);
    assert_int_equal(res.outcome, GCS_HTTP_TRANSPORT_ERROR);
    assert_int_equal(res.attempts, 2);
    assert_non_null(strstr(res.message, "imeout"));
    gcs_http_client_response_release(&res);

    /* A create that times out after it was sent is not repeated: its outcome is
     * unknown, and the caller looks it up. */
    assert_int_equal(call(&res, &f, "POST", "/api/v2/scim/v2/users", create_body, NULL, NULL),
                     GCS_EUNKNOWN);
    assert_int_equal(res.outcome, GCS_HTTP_OUTCOME_UNKNOWN);
    assert_int_equal(res.attempts, 1);
    gcs_http_client_response_release(&res);
    gcs_http_stats st;
    gcs_http_client_stats(&st, f.client);
    assert_int_equal(st.retries[GCS_RETRY_TIMEOUT], 1);
    gcs_http_fixture_stop(&f);

    /* An answer larger than the hard maximum is refused, not stored. */
    gcs_http_client_options small = {.max_response_bytes = 256}; /* a token fits, a user not */
    gcs_http_fixture_start(&f, 2, (const char *const[]){"--rate-limit", "0", NULL}, &small, NULL);
    assert_int_equal(call(&res, &f, "GET", path, NULL, NULL, NULL), GCS_ETRANSPORT);
    assert_non_null(strstr(res.message, "larger than 256 bytes"));
    assert_true(res.body.len <= 256);
    assert_int_equal(res.attempts, 1);
    gcs_http_client_response_release(&res);
    gcs_http_fixture_stop(&f);

    /* Nobody listening: the connection is tried again (nothing was sent, even a
     * POST), then reported. */
    gcs_http_client *c = NULL;
    gcs_http_client_options down = {.api_url = "http://127.0.0.1:1",
                                    .max_attempts = 3,
                                    .backoff_base_ms = 5,
                                    .breaker_threshold = -1};
    assert_int_equal(gcs_http_client_new(&c, &down), 0);
    gcs_http_client_request req = {
        .method = "POST", .path = "/api/v2/scim/v2/users", .body = create_body};
    assert_int_equal(gcs_http_call(&res, c, &req), GCS_ETRANSPORT);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.status, 0);
    gcs_http_client_response_release(&res);
    gcs_http_client_stats(&st, c);
    assert_int_equal(st.retries[GCS_RETRY_CONNECT], 2);
    gcs_http_client_free(c);
}

static void bad_requests_and_options_are_refused(void **state)
{
    (void)state;
    gcs_http_client *c = NULL;
    gcs_http_client_options bad = {.api_url = "ftp://127.0.0.1"};
    assert_int_equal(gcs_http_client_new(&c, &bad), GCS_EINVALID);
    assert_null(c);
    gcs_http_client_options ok = {.api_url = "http://127.0.0.1:1/"};
    assert_int_equal(gcs_http_client_new(&c, &ok), 0);
    gcs_http_client_request inj = {.method = "GET", .path = "/x", .if_match = "\"1\"\r\nX: y"};
    assert_int_equal(gcs_http_submit(c, &inj, NULL, NULL), GCS_EINVALID);
    gcs_http_client_request rel = {.method = "GET", .path = "x"};
    assert_int_equal(gcs_http_submit(c, &rel, NULL, NULL), GCS_EINVALID);
    const char *const hdrs[] = {"no colon here", NULL};
    gcs_http_client_request hdr = {.method = "GET", .path = "/x", .headers = hdrs};
    assert_int_equal(gcs_http_submit(c, &hdr, NULL, NULL), GCS_EINVALID);
    char *big = malloc(GCS_HTTP_MAX_REQUEST_BODY + 2);
    memset(big, 'x', GCS_HTTP_MAX_REQUEST_BODY + 1);
    big[GCS_HTTP_MAX_REQUEST_BODY + 1] = '\0';
    gcs_http_client_request huge = {.method = "PUT", .path = "/x", .body = big};
    assert_int_equal(gcs_http_submit(c, &huge, NULL, NULL), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "at most 512000"));
    free(big);
    assert_int_equal(gcs_http_pending(c), 0);
    /* Queued, then cancelled: the callback still runs, once. */
    gcs_engine_tally t = {0};
    gcs_http_client_request get = {.method = "GET", .path = "/x"};
    assert_int_equal(gcs_http_submit(c, &get, gcs_engine_tally_add, &t), 0);
    assert_int_equal(t.done, 0);
    gcs_http_cancel(c);
    assert_int_equal(t.done, 1);
    assert_int_equal(t.by_outcome[GCS_HTTP_CANCELLED], 1);
    gcs_http_client_free(c);
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static void a_session_opens_from_the_configuration(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_fixture_start(&f, 3, (const char *const[]){"--rate-limit", "0", NULL}, NULL, NULL);
    gcs_config cfg;
    assert_int_equal(gcs_config_from_env(&cfg, no_env), 0);
    gcs_genesys_session *s = NULL;
    /* No credentials: a clear refusal, nothing sent. */
    assert_int_equal(gcs_genesys_session_open(&s, &cfg, NULL), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "client_id"));
    assert_int_equal(
        gcs_config_set(&cfg, GCS_CFG_API_URL, f.emu.api_url, GCS_CFG_FROM_FLAG, "--api-url"), 0);
    assert_int_equal(gcs_config_set(&cfg, GCS_CFG_CLIENT_ID, GCS_FIXTURE_CLIENT_ID,
                                    GCS_CFG_FROM_FLAG, "--client-id"),
                     0);
    assert_int_equal(gcs_config_set(&cfg, GCS_CFG_CLIENT_SECRET, GCS_FIXTURE_SECRET,
                                    GCS_CFG_FROM_FILE, "secret"),
                     0);
    assert_int_equal(
        gcs_config_set(&cfg, GCS_CFG_MAX_IN_FLIGHT, "3", GCS_CFG_FROM_FLAG, "--max-in-flight"), 0);
    assert_int_equal(gcs_genesys_session_open(&s, &cfg, NULL), 0);
    assert_int_equal(gcs_token_ensure(s->token, s->client), 0);
    gcs_engine_tally t = {0};
    for (int i = 0; i < 20; i++) {
        gcs_http_client_request req = {.method = "GET", .path = "/api/v2/scim/v2/users?count=1"};
        assert_int_equal(gcs_http_submit(s->client, &req, gcs_engine_tally_add, &t), 0);
    }
    assert_int_equal(gcs_http_run(s->client), 0);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 20);
    gcs_http_stats st;
    gcs_http_client_stats(&st, s->client);
    assert_int_equal(st.in_flight_max, 3);
    gcs_genesys_session_free(s);
    gcs_config_release(&cfg);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers_are_classified_for_callers),
        cmocka_unit_test(many_requests_in_flight_none_lost),
        cmocka_unit_test(receipt_bodies_are_masked_without_a_round_trip),
        cmocka_unit_test(a_secret_echoed_back_escaped_is_in_no_receipt),
        cmocka_unit_test(a_long_answer_comes_as_its_redacted_head),
        cmocka_unit_test(answers_left_unparsed_on_request),
        cmocka_unit_test(creates_reuse_connections),
        cmocka_unit_test(transport_failures_are_classified),
        cmocka_unit_test(bad_requests_and_options_are_refused),
        cmocka_unit_test(a_session_opens_from_the_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
