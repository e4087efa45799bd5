/* The request engine's on_start hook: called when a request is about to go on
 * the wire (with a start barrier, among the next ones due), not when it is
 * queued; once per call (not per retry); a refusal completes the call as
 * cancelled without sending it. Apply marks a create in progress there, so
 * that a resume looks up only the creates that may have happened, and makes
 * the marks of several durable at once in the start barrier. */
#include "http_fixture.h"

#include <stdlib.h>
#include <string.h>

typedef struct starts {
    int calls;
    int in_flight_seen_max;
    int refuse_from; /* calls numbered from this one are refused; 0: none */
    gcs_http_fixture *f;
} starts;

typedef struct job_ctx {
    starts *s;
    gcs_engine_tally *t;
} job_ctx;

/* Gets the payload given to gcs_http_submit, as on_done does. */
static int on_start(void *payload)
{
    starts *s = ((job_ctx *)payload)->s;
    s->calls++;
    return s->refuse_from && s->calls >= s->refuse_from ? -1 : 0;
}

static void on_done(const gcs_http_client_response *res, void *payload)
{
    job_ctx *j = payload;
    gcs_engine_tally_add(res, j->t);
}

static void hook_runs_at_send_time_and_can_refuse(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_client_options o = {.max_in_flight = 2};
    gcs_http_fixture_start(
        &f, 4, (const char *const[]){"--rate-limit", "0", "--latency", "30", NULL}, &o, NULL);
    starts s = {.f = &f};
    gcs_engine_tally t = {0};
    job_ctx j = {&s, &t};
    enum { CALLS = 8 };
    for (int i = 0; i < CALLS; i++) {
        gcs_http_client_request req = {
            .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
        assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    }
    /* Queued is not started. */
    assert_int_equal(s.calls, 0);
    /* One turn of the loop: the token first, then at most two on the wire. */
    for (int k = 0; k < 50 && s.calls == 0; k++)
        gcs_http_run_once(f.client, 20);
    if (s.calls < 1 || s.calls > 2)
        fail_msg("%d started after the first turn", s.calls);
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(s.calls, CALLS);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], CALLS);

    /* Refused from the third on: those are never sent. */
    json_t *before = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    long sent_before = (long)json_integer_value(json_object_get(before, "requests"));
    json_decref(before);
    memset(&t, 0, sizeof t);
    s = (starts){.f = &f, .refuse_from = 3};
    for (int i = 0; i < CALLS; i++) {
        gcs_http_client_request req = {
            .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
        assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    }
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], 2);
    assert_int_equal(t.by_outcome[GCS_HTTP_CANCELLED], CALLS - 2);
    json_t *after = gcs_http_fixture_admin_get(&f, "/_emulator/stats");
    assert_int_equal((long)json_integer_value(json_object_get(after, "requests")), sent_before + 2);
    json_decref(after);
    gcs_http_fixture_stop(&f);
}

static void hook_runs_once_across_retries(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_client_options o = {.backoff_base_ms = 5, .backoff_cap_ms = 20};
    gcs_http_fixture_start(&f, 4, (const char *const[]){"--rate-limit", "0", NULL}, &o, NULL);
    /* Every answer a 503 (not carried out): the GET is retried to its limit. */
    gcs_http_fixture_config(&f, "{\"fault_rate\":1,\"fault_kinds\":[\"503\"]}");
    starts s = {.f = &f};
    gcs_engine_tally t = {0};
    job_ctx j = {&s, &t};
    gcs_http_client_request req = {
        .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
    assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    (void)gcs_http_run(f.client); /* every call failed: the engine may call it an outage */
    assert_int_equal(t.done, 1);
    assert_true(t.max_attempts > 1);
    assert_int_equal(s.calls, 1);
    gcs_http_fixture_stop(&f);
}

/* GET requests of the API the emulator answered so far. */
static long api_gets_answered(gcs_http_fixture *f)
{
    json_t *st = gcs_http_fixture_admin_get(f, "/_emulator/stats");
    const char *route, *status;
    json_t *by_status, *n;
    long total = 0;
    json_object_foreach(json_object_get(st, "routes"), route, by_status) {
        if (strncmp(route, "GET /api/v2/scim", 16) != 0)
            continue;
        json_object_foreach(by_status, status, n) total += (long)json_integer_value(n);
    }
    json_decref(st);
    return total;
}

typedef struct barrier {
    starts *s;
    int passes;
    int released;      /* calls whose pass the barrier let go */
    int started_at;    /* s->calls at the last barrier */
    int largest_pass;
    int refuse_pass;   /* this pass (1, 2, ...) is refused; 0: none */
    int refused;       /* calls of the refused pass */
    long base;         /* GETs answered before the test's calls */
} barrier;

static int on_barrier(void *payload)
{
    barrier *b = payload;
    int pass = b->s->calls - b->started_at;
    b->started_at = b->s->calls;
    b->passes++;
    if (pass > b->largest_pass)
        b->largest_pass = pass;
    /* Nothing of this pass has reached the server: at most what earlier
     * passes released. */
    long answered = api_gets_answered(b->s->f) - b->base;
    if (answered > b->released)
        fail_msg("pass %d: %ld answered, only %d released before it", b->passes, answered,
                 b->released);
    if (b->passes == b->refuse_pass) {
        b->refused = pass;
        return -1;
    }
    b->released += pass;
    return 0;
}

/* With a start barrier, the calls one turn of the loop starts have their
 * on_start run, then the barrier once, and only then go on the wire; a refusing
 * barrier completes its pass as cancelled, unsent. Apply commits the in-progress
 * marks of several creates in one transaction there. */
static void barrier_runs_once_per_pass_before_it_is_sent(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_client_options o = {.max_in_flight = 4};
    gcs_http_fixture_start(
        &f, 4, (const char *const[]){"--rate-limit", "0", "--latency", "30", NULL}, &o, NULL);
    starts s = {.f = &f};
    gcs_engine_tally t = {0};
    job_ctx j = {&s, &t};
    barrier b = {.s = &s, .refuse_pass = 3};
    b.base = api_gets_answered(&f);
    gcs_http_client_set_start_barrier(f.client, on_barrier, &b);
    enum { CALLS = 24 };
    for (int i = 0; i < CALLS; i++) {
        gcs_http_client_request req = {
            .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
        assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    }
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(s.calls, CALLS);
    assert_true(b.refused >= 1);
    assert_true(b.largest_pass > 1); /* several calls behind one barrier */
    assert_true(b.passes < CALLS);
    assert_int_equal(t.by_outcome[GCS_HTTP_CANCELLED], b.refused);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], CALLS - b.refused);
    assert_int_equal(api_gets_answered(&f) - b.base, CALLS - b.refused);
    gcs_http_client_set_start_barrier(f.client, NULL, NULL);
    gcs_http_fixture_stop(&f);
}

typedef struct group_sizes {
    starts *s;
    int started_at;
    int n;
    int sizes[64];
} group_sizes;

static int record_group(void *payload)
{
    group_sizes *g = payload;
    if (g->n < 64)
        g->sizes[g->n++] = g->s->calls - g->started_at;
    g->started_at = g->s->calls;
    return 0;
}

/* Answers that come back one at a time (latency with jitter) would let each
 * pass start the one call its answer freed; behind a barrier each pass
 * records the calls that go next instead (up to max_in_flight), so every pass
 * while calls are in flight holds at least max_in_flight / 2 of them (apply:
 * fewer, larger commits). */
static void calls_behind_a_barrier_go_in_groups(void **state)
{
    (void)state;
    gcs_http_fixture f;
    gcs_http_client_options o = {.max_in_flight = 8};
    gcs_http_fixture_start(
        &f, 4, (const char *const[]){"--rate-limit", "0", "--latency", "5:40", NULL}, &o, NULL);
    starts s = {.f = &f};
    gcs_engine_tally t = {0};
    job_ctx j = {&s, &t};
    group_sizes g = {.s = &s};
    gcs_http_client_set_start_barrier(f.client, record_group, &g);
    enum { CALLS = 48 };
    for (int i = 0; i < CALLS; i++) {
        gcs_http_client_request req = {
            .method = "GET", .path = "/api/v2/scim/v2/users?count=1", .on_start = on_start};
        assert_int_equal(gcs_http_submit(f.client, &req, on_done, &j), 0);
    }
    assert_int_equal(gcs_http_run(f.client), 0);
    assert_int_equal(t.by_outcome[GCS_HTTP_OK], CALLS);
    int total = 0;
    for (int i = 0; i < g.n; i++)
        total += g.sizes[i];
    assert_int_equal(total, CALLS);
    /* The first passes probe (one call until the limit and the scope are
     * known); the last takes what is left. */
    for (int i = 2; i + 1 < g.n; i++)
        if (g.sizes[i] < 4)
            fail_msg("pass %d of %d started %d calls", i + 1, g.n, g.sizes[i]);
    assert_true(g.n <= CALLS / 4 + 3);
    gcs_http_client_set_start_barrier(f.client, NULL, NULL);
    gcs_http_fixture_stop(&f);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hook_runs_at_send_time_and_can_refuse),
        cmocka_unit_test(hook_runs_once_across_retries),
        cmocka_unit_test(barrier_runs_once_per_pass_before_it_is_sent),
        cmocka_unit_test(calls_behind_a_barrier_go_in_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
