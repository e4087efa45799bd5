/*
 * gcscim serve stopping and sharing: SIGTERM with jobs in hand (readyz and
 * new work answer 503 while the workers drain, exit 0, nothing left running
 * or leased), and two serve processes on one PostgreSQL database doing every
 * job once and keeping together to one client's rate limit (skipped without
 * GCSCIM_TEST_PG: scripts/with-postgres sets it).
 */
#include "gcstest.h"
#include "httptest.h"
#include "servetest.h"

#include "core/time.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_state(const gcs_job *j, void *payload)
{
    (void)j;
    (*(int *)payload)++;
    return 0;
}

static int jobs_in(const char *db_url, const char *state)
{
    gcs_store *s;
    int n = 0;
    assert_int_equal(gcs_store_open(&s, db_url), 0);
    assert_int_equal(gcs_store_jobs_each(s, state, count_state, &n), 0);
    gcs_store_free(s);
    return n;
}

/* Waits (bounded) for the exit of a server sent SIGTERM; its exit code. */
static int wait_exit(gcs_test_server *srv, int timeout_ms)
{
    int64_t deadline = gcs_time_mono_ms() + timeout_ms;
    int status;
    while (gcs_time_mono_ms() < deadline) {
        if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
            srv->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        gcs_time_sleep_ms(20);
    }
    fail_msg("serve did not stop within %d ms", timeout_ms);
    return -1;
}

static void sigterm_drains_running_jobs_then_exits_0(void **state)
{
    (void)state;
    gcs_test_serve t;
    gcs_test_server srv;
    /* Every answer of "Genesys" takes 1 s: jobs are in hand when the stop comes,
     * and still are while the drain is watched (a new person costs two round
     * trips: its reads at once, then the create). */
    const char *emu_args[] = {"--latency", "1000", NULL};
    gcs_test_serve_init(&t, emu_args, NULL);
    const char *extra[] = {"--shutdown-grace", "20", "--workers", "2", NULL};
    gcs_test_serve_start(&t, &srv, extra);
    char base[160], body[1024], id[32], key[32];
    snprintf(base, sizeof base, "%s", srv.api_url);
    for (int i = 0; i < 4; i++) {
        gcs_test_http r;
        snprintf(id, sizeof id, "msg_drain%d", i);
        snprintf(key, sizeof key, "DR%d", i);
        gcs_test_serve_event_body(body, sizeof body, "person.created", key);
        gcs_test_serve_post_signed(&r, base, SECRET_OLD, id, gcs_test_serve_now_s(), body, NULL);
        assert_int_equal(r.status, 202);
        gcs_test_http_release(&r);
    }
    /* Wait for a job in hand. */
    int64_t deadline = gcs_time_mono_ms() + 20000;
    while (jobs_in(t.db_url, GCS_JOB_RUNNING) == 0 && gcs_time_mono_ms() < deadline)
        gcs_time_sleep_ms(20);
    assert_true(jobs_in(t.db_url, GCS_JOB_RUNNING) > 0);

    kill(srv.pid, SIGTERM);
    /* The stop taken in (its log line): a /readyz before it would wait for the
     * engine between two jobs, and could meet a service that has gone since. */
    bool draining = false;
    deadline = gcs_time_mono_ms() + 10000;
    while (!draining && gcs_time_mono_ms() < deadline) {
        FILE *log = fopen(srv.log_path, "r");
        char line[4096];
        while (log && !draining && fgets(line, sizeof line, log))
            draining = strstr(line, "serve.draining") != NULL;
        if (log)
            fclose(log);
        if (!draining)
            gcs_time_sleep_ms(5);
    }
    assert_true(draining);
    /* Draining: not ready, and no new work, while the jobs in hand finish. */
    bool saw_not_ready = false, saw_refused = false;
    for (int i = 0; i < 100 && !(saw_not_ready && saw_refused); i++) {
        gcs_test_http r;
        gcs_test_serve_call(&r, base, "GET", "/readyz", NULL, NULL);
        if (r.status == 503 && r.json &&
            json_object_get(json_object_get(r.json, "failed"), "draining"))
            saw_not_ready = true;
        gcs_test_http_release(&r);
        gcs_test_serve_event_body(body, sizeof body, "person.created", "DR-late");
        gcs_test_serve_post_signed(&r, base, SECRET_OLD, "msg_drain_late",
                                   gcs_test_serve_now_s(), body, NULL);
        if (r.status == 503)
            saw_refused = true;
        gcs_test_http_release(&r);
        gcs_time_sleep_ms(10);
    }
    assert_true(saw_not_ready);
    assert_true(saw_refused);
    assert_int_equal(wait_exit(&srv, 60000), 0);

    /* Nothing running or leased; the refused event was never queued. */
    assert_int_equal(jobs_in(t.db_url, GCS_JOB_RUNNING), 0);
    assert_int_equal(jobs_in(t.db_url, NULL), 4);
    assert_true(jobs_in(t.db_url, GCS_JOB_DONE) >= 1);
    gcs_test_server_stop(&srv);
    gcs_test_serve_release(&t);
}

/* ==== Two hosts, one PostgreSQL ==== */

static int create_receipts(const gcs_receipt *r, void *payload)
{
    if (r->operation && strcmp(r->operation, "create") == 0 && r->status / 100 == 2)
        (*(int *)payload)++;
    return 0;
}

static void two_serve_processes_on_one_postgresql_do_each_job_once(void **state)
{
    (void)state;
    const char *base_url = getenv("GCSCIM_TEST_PG");
    if (!base_url || !*base_url) {
        skip();
        return;
    }
    char schema[64], sql[256], db_url[1200];
    snprintf(schema, sizeof schema, "serve_hosts_%d", (int)getpid());
    PGconn *pg = PQconnectdb(base_url);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
             schema);
    PGresult *res = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    snprintf(db_url, sizeof db_url, "%s%coptions=-csearch_path%%3D%s", base_url,
             strchr(base_url, '?') ? '&' : '?', schema);

    gcs_test_serve t;
    gcs_test_server a, b;
    /* The emulator's rate limit on: the two hosts share one client's budget. */
    const char *emu_args[] = {"--rate-limit", "300/60", NULL};
    gcs_test_serve_init(&t, emu_args, db_url);
    gcs_test_serve_start(&t, &a, NULL);
    gcs_test_serve_start(&t, &b, NULL);
    enum { PEOPLE = 30 };
    char body[1024], id[32], key[32];
    for (int i = 0; i < PEOPLE; i++) {
        gcs_test_http r;
        snprintf(id, sizeof id, "msg_host%d", i);
        snprintf(key, sizeof key, "HOST%d", i);
        gcs_test_serve_event_body(body, sizeof body, "person.created", key);
        /* Alternate hosts; each delivery is also retried at the other host. */
        gcs_test_server *first = i % 2 ? &a : &b, *second = i % 2 ? &b : &a;
        gcs_test_serve_post_signed(&r, first->api_url, SECRET_OLD, id, gcs_test_serve_now_s(),
                                   body, NULL);
        assert_int_equal(r.status, 202);
        gcs_test_http_release(&r);
        gcs_test_serve_post_signed(&r, second->api_url, SECRET_NEW, id, gcs_test_serve_now_s(),
                                   body, NULL);
        assert_int_equal(r.status, 200);
        gcs_test_http_release(&r);
    }
    int64_t deadline = gcs_time_mono_ms() + 120000;
    while (jobs_in(db_url, GCS_JOB_DONE) < PEOPLE && gcs_time_mono_ms() < deadline)
        gcs_time_sleep_ms(100);
    assert_int_equal(jobs_in(db_url, GCS_JOB_DONE), PEOPLE);
    assert_int_equal(jobs_in(db_url, NULL), PEOPLE);

    /* Each person created once, whichever host did it. */
    gcs_store *s;
    assert_int_equal(gcs_store_open(&s, db_url), 0);
    for (int i = 0; i < PEOPLE; i++) {
        snprintf(key, sizeof key, "HOST%d", i);
        gcs_receipt_filter f = {.user = key};
        int creates = 0;
        assert_int_equal(gcs_store_receipts_each(s, &f, create_receipts, &creates), 0);
        if (creates != 1)
            fail_msg("%s was created %d times", key, creates);
    }
    gcs_verify_result v;
    assert_int_equal(gcs_store_receipts_verify(&v, s), 0);
    assert_true(v.ok);
    gcs_store_free(s);

    assert_int_equal(gcs_test_server_stop(&a), 0);
    assert_int_equal(gcs_test_server_stop(&b), 0);
    gcs_test_serve_release(&t);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    PQclear(PQexec(pg, sql));
    PQfinish(pg);
}

static long stat_of(json_t *stats, const char *name)
{
    return (long)json_integer_value(json_object_get(stats, name));
}

/* A host's /metrics holds `line` (a whole line). */
static bool metrics_say(const char *base, const char *line)
{
    gcs_test_http r;
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", base);
    gcs_test_http_do(&r, "GET", url, NULL, NULL, 0);
    bool found = false;
    size_t n = strlen(line);
    for (const char *p = r.body.ptr; p && (p = strstr(p, line)) != NULL; p += n)
        if ((p == r.body.ptr || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            found = true;
    gcs_test_http_release(&r);
    return found;
}

/*
 * Two hosts, one client's limit (#10): the emulator counts every token of the
 * client in one window of 120 requests per 10 s, and a stream of events asks
 * for more than that (about 150 requests). Each host spends only its share of
 * the window, so the two bursting together stay within it and no request is
 * answered 429 (hosts that each spent what the window had left would overflow
 * the first window), and every job is done once. A stream of little more than
 * one window keeps that true on a loaded machine: requests sent at the first
 * window's end and counted in the second find it holding only the rest, far
 * below the limit, where a stream of several windows would overflow each
 * window a request counted late eats into.
 */
static void two_hosts_keep_to_one_clients_rate_limit(void **state)
{
    (void)state;
    const char *base_url = getenv("GCSCIM_TEST_PG");
    if (!base_url || !*base_url) {
        skip();
        return;
    }
    char schema[64], sql[256], db_url[1200];
    snprintf(schema, sizeof schema, "serve_rate_%d", (int)getpid());
    PGconn *pg = PQconnectdb(base_url);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    PGresult *res = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    snprintf(db_url, sizeof db_url, "%s%coptions=-csearch_path%%3D%s", base_url,
             strchr(base_url, '?') ? '&' : '?', schema);

    gcs_test_serve t;
    gcs_test_server a, b;
    const char *emu_args[] = {"--rate-limit", "120/10", "--rate-limit-per-client", NULL};
    gcs_test_serve_init(&t, emu_args, db_url);
    gcs_test_serve_start(&t, &a, NULL);
    gcs_test_serve_start(&t, &b, NULL);
    /* Each host counted the other before any event (a beat is 2 s). */
    int64_t deadline = gcs_time_mono_ms() + 30000;
    while (
        !(metrics_say(a.api_url, "gcscim_hosts 2") && metrics_say(b.api_url, "gcscim_hosts 2")) &&
        gcs_time_mono_ms() < deadline)
        gcs_time_sleep_ms(200);
    assert_true(metrics_say(a.api_url, "gcscim_hosts 2"));
    assert_true(metrics_say(b.api_url, "gcscim_hosts 2"));

    /* About 4 requests a new person: 36 people are about 150 requests. */
    enum { PEOPLE = 36 };
    char body[1024], id[32], key[32];
    for (int i = 0; i < PEOPLE; i++) {
        gcs_test_http r;
        snprintf(id, sizeof id, "msg_rate%d", i);
        snprintf(key, sizeof key, "RATE%d", i);
        gcs_test_serve_event_body(body, sizeof body, "person.created", key);
        gcs_test_serve_post_signed(&r, (i % 2 ? &a : &b)->api_url, SECRET_OLD, id,
                                   gcs_test_serve_now_s(), body, NULL);
        assert_int_equal(r.status, 202);
        gcs_test_http_release(&r);
    }
    deadline = gcs_time_mono_ms() + 240000;
    while (jobs_in(db_url, GCS_JOB_DONE) < PEOPLE && gcs_time_mono_ms() < deadline)
        gcs_time_sleep_ms(200);
    assert_int_equal(jobs_in(db_url, GCS_JOB_DONE), PEOPLE);
    assert_int_equal(jobs_in(db_url, NULL), PEOPLE);

    gcs_test_http r;
    char url[256];
    snprintf(url, sizeof url, "%s/_emulator/stats", t.emu.api_url);
    gcs_test_http_do(&r, "GET", url, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    long requests = stat_of(r.json, "requests"), limited = stat_of(r.json, "rate_limited");
    gcs_test_http_release(&r);
    print_message("two hosts, 120/10 per client: %ld requests, %ld answered 429\n", requests,
                  limited);
    assert_true(requests > 120); /* more than one window holds */
    if (limited > 0)
        fail_msg("%ld of %ld requests were answered 429", limited, requests);

    gcs_store *s;
    assert_int_equal(gcs_store_open(&s, db_url), 0);
    for (int i = 0; i < PEOPLE; i++) {
        snprintf(key, sizeof key, "RATE%d", i);
        gcs_receipt_filter f = {.user = key};
        int creates = 0;
        assert_int_equal(gcs_store_receipts_each(s, &f, create_receipts, &creates), 0);
        if (creates != 1)
            fail_msg("%s was created %d times", key, creates);
    }
    gcs_store_free(s);

    /* A host that stops leaves its share to the other at its next beat. */
    assert_int_equal(gcs_test_server_stop(&b), 0);
    deadline = gcs_time_mono_ms() + 30000;
    while (!metrics_say(a.api_url, "gcscim_hosts 1") && gcs_time_mono_ms() < deadline)
        gcs_time_sleep_ms(200);
    assert_true(metrics_say(a.api_url, "gcscim_hosts 1"));
    assert_int_equal(gcs_test_server_stop(&a), 0);
    gcs_test_serve_release(&t);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    PQclear(PQexec(pg, sql));
    PQfinish(pg);
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigterm_drains_running_jobs_then_exits_0),
        cmocka_unit_test(two_serve_processes_on_one_postgresql_do_each_job_once),
        cmocka_unit_test(two_hosts_keep_to_one_clients_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
