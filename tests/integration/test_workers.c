/*
 * The service's workers (src/service/workers.h) against the emulator: a job
 * becomes a user with receipts; a leave deactivates; three changes to one
 * person while the first waits become one plan; a plan that needs approval
 * waits, sends nothing, and runs once approved (`gcscim jobs approve`); a
 * failing Genesys call backs off, dead-letters, and `gcscim jobs retry` brings
 * it back; kill -9 of a worker process mid-job leaves a lease that expires, and
 * another host completes the job once; two hosts on one PostgreSQL database do
 * every job once ($GCSCIM_TEST_PG, skipped without it).
 */
#include "clitest.h"
#include "gcstest.h"
#include "httptest.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/scim.h"
#include "core/time.h"
#include "engine/planner.h"
#include "engine/sync.h"
#include "genesys/session.h"
#include "service/workers.h"
#include "store/store.h"

static const char seed[] =
    "{\"roles\":[{\"name\":\"Employee\"},{\"name\":\"Agent\"}],"
    "\"divisions\":[{\"name\":\"Home\"}],\"users\":["
    " {\"userName\":\"m1@example.com\",\"displayName\":\"Managed One\",\"title\":\"Agent\","
    "  \"active\":true,\"" GCS_SCIM_GENESYS_USER "\":{\"externalIds\":[{\"authority\":\"gcscim\","
    "\"value\":\"M1\"}]}},"
    " {\"userName\":\"other@example.com\",\"displayName\":\"Not Ours\",\"title\":\"Boss\","
    "  \"active\":true}]}";

static const char profile[] =
    "version: 1\n"
    "managed_by: gcscim\n"
    "match: [externalId, userName]\n"
    "attributes:\n"
    "  userName: {from: email, transform: [trim, lower], required: true}\n"
    "  displayName: {template: \"{first} {last}\", required: true}\n"
    "  externalId: {from: id, required: true}\n"
    "  title: title\n"
    "  active: {from: status, transform: {lookup: {active: \"true\", leaver: \"false\"}}}\n";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    char *profile;
    char url[1200];
    PGconn *pg;           /* the schema's connection on PostgreSQL */
    char schema[64];
    gcs_config cfg;
    gcs_genesys_session *session;
    gcs_store *store;
    gcs_workers *workers;
    atomic_int outcomes;
} fixture;

static void open_session(fixture *f, gcs_genesys_session **out)
{
    /* One attempt per call: a failing call fails the job at once (the job's own
     * backoff is what is tested). */
    gcs_http_client_options tune = {.max_attempts = 1, .breaker_threshold = -1};
    if (gcs_genesys_session_open(out, &f->cfg, &tune) != 0)
        fail_msg("session: %s", gcs_error_last());
}

static void fixture_start(fixture *f, bool postgres, const char *scopes)
{
    f->dir = gcs_test_tmpdir();
    const char *scoped[] = {"--client", "gcscim-emulator:gcscim-emulator-secret",
                            "--client-scopes", scopes, NULL};
    gcs_test_emulator_start_seeded(&f->emu, f->dir, seed, scopes ? scoped : NULL);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile);
    gcs_log_set_level(getenv("GCS_TEST_VERBOSE") ? GCS_LOG_INFO : GCS_LOG_OFF);
    gcs_test_config_for_emulator(&f->cfg, f->emu.api_url);
    if (postgres) {
        const char *base = getenv("GCSCIM_TEST_PG");
        char sql[256];
        snprintf(f->schema, sizeof f->schema, "workers_%d", (int)getpid());
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", f->schema,
                 f->schema);
        f->pg = PQconnectdb(base);
        assert_int_equal(PQstatus(f->pg), CONNECTION_OK);
        PQclear(PQexec(f->pg, "SET client_min_messages = warning"));
        PGresult *res = PQexec(f->pg, sql);
        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        snprintf(f->url, sizeof f->url, "%s%coptions=-csearch_path%%3D%s", base,
                 strchr(base, '?') ? '&' : '?', f->schema);
    } else {
        snprintf(f->url, sizeof f->url, "sqlite:%s/gcscim.db", f->dir);
    }
    if (gcs_store_open(&f->store, f->url) != 0)
        fail_msg("store: %s", gcs_error_last());
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    fixture_start(f, false, NULL);
    *state = f;
    return 0;
}

/* The client may read users but not write them: every write is a 403. */
static int setup_read_only(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    fixture_start(f, false, "gcscim-emulator=scim:readonly");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gcs_workers_free(f->workers);
    f->workers = NULL;
    gcs_genesys_session_free(f->session);
    gcs_store_free(f->store);
    gcs_config_release(&f->cfg);
    gcs_test_server_stop(&f->emu);
    if (f->pg) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->schema);
        PQclear(PQexec(f->pg, sql));
        PQfinish(f->pg);
    }
    free(f->profile);
    gcs_test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void on_outcome(void *ctx, const gcs_job *job, const char *result_json)
{
    (void)job;
    (void)result_json;
    fixture *f = ctx;
    atomic_fetch_add(&f->outcomes, 1);
}

static gcs_workers_options options(fixture *f, gcs_genesys_session *session, const char *host)
{
    gcs_workers_options o = {.store_url = f->url,
                             .session = session,
                             .profile_path = f->profile,
                             .count = 3,
                             .host_id = host,
                             .idle_poll_ms = 100,
                             .backoff_base_ms = 50,
                             .backoff_max_ms = 200,
                             .on_outcome = on_outcome,
                             .ctx = f};
    return o;
}

static void start_workers(fixture *f)
{
    if (!f->session)
        open_session(f, &f->session);
    gcs_workers_options o = options(f, f->session, "host-a");
    if (gcs_workers_start(&f->workers, &o) != 0)
        fail_msg("workers: %s", gcs_error_last());
}

/* A person's job as the front enqueues it (docs/serve.md). */
static int64_t enqueue_person(fixture *f, const char *key, const char *email, const char *title,
                              int max_attempts)
{
    char payload[1024], job_key[128];
    snprintf(payload, sizeof payload,
             "{\"v\":1,\"kind\":\"person\",\"key\":\"%s\",\"event\":\"upsert\",\"origin\":\"rest\","
             "\"row\":{\"id\":\"%s\",\"first\":\"First\",\"last\":\"%s\",\"email\":\"%s\","
             "\"title\":\"%s\",\"status\":\"active\"}}",
             key, key, key, email, title);
    snprintf(job_key, sizeof job_key, "person:%s", key);
    int64_t id;
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, job_key, payload, max_attempts), 0);
    gcs_workers_notify(f->workers);
    return id;
}

static int64_t enqueue_leave(fixture *f, const char *key)
{
    char payload[512], job_key[128];
    snprintf(payload, sizeof payload,
             "{\"v\":1,\"kind\":\"person\",\"key\":\"%s\",\"event\":\"leave\",\"row\":null,"
             "\"origin\":\"event\"}",
             key);
    snprintf(job_key, sizeof job_key, "person:%s", key);
    int64_t id;
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, job_key, payload, 5), 0);
    gcs_workers_notify(f->workers);
    return id;
}

/* Waits until job `id` is in `state` (bounded); returns its result (new reference). */
static json_t *wait_job(fixture *f, int64_t id, const char *state, int timeout_ms)
{
    int64_t until = gcs_time_mono_ms() + timeout_ms;
    for (;;) {
        gcs_job j;
        assert_int_equal(gcs_store_job_get(&j, f->store, id), 0);
        if (strcmp(j.state, state) == 0) {
            json_t *r = j.result ? json_loads(j.result, 0, NULL) : json_object();
            gcs_job_release(&j);
            return r;
        }
        if (gcs_time_mono_ms() > until)
            fail_msg("job %lld is %s (last error: %s), not %s", (long long)id, j.state,
                     j.last_error ? j.last_error : "-", state);
        gcs_job_release(&j);
        gcs_time_sleep_ms(20);
    }
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *user_named(fixture *f, const char *name)
{
    return gcs_test_emu_user_named(&f->emu, name);
}

static long users_named(fixture *f, const char *name)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "state", NULL);
    size_t i;
    json_t *u;
    long n = 0;
    json_array_foreach(json_object_get(st, "users"), i, u) {
        n += strcmp(str(u, "userName"), name) == 0;
    }
    json_decref(st);
    return n;
}

static int count_receipt(const gcs_receipt *r, void *payload)
{
    json_t *seen = payload;
    json_array_append_new(seen, json_integer(r->seq));
    return 0;
}

/* ==== Tests ==== */

static void a_job_becomes_a_user_with_receipts(void **state)
{
    fixture *f = *state;
    start_workers(f);
    int64_t id = enqueue_person(f, "E1", "ann@example.com", "Lead", 5);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    json_t *ann = user_named(f, "ann@example.com");
    assert_non_null(ann);
    assert_string_equal(str(ann, "title"), "Lead");
    assert_string_equal(str(ann, "externalId"), "E1");
    assert_non_null(str(r, "genesys_id"));
    assert_string_equal(str(r, "genesys_id"), str(ann, "id"));
    assert_non_null(str(r, "run_id"));
    /* The planner's read and the create, each a receipt of the store's chain. */
    json_t *seqs = json_object_get(r, "receipts");
    assert_true(json_array_size(seqs) >= 2);
    json_t *all = json_array();
    gcs_receipt_filter filter = {0};
    filter.user = "E1";
    assert_int_equal(gcs_store_receipts_each(f->store, &filter, count_receipt, all), 0);
    assert_true(json_array_size(all) >= 1);
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s) {
        bool listed = false;
        size_t k;
        json_t *t;
        json_array_foreach(seqs, k, t) listed |= json_integer_value(t) == json_integer_value(s);
        assert_true(listed);
    }
    gcs_verify_result v;
    assert_int_equal(gcs_store_receipts_verify(&v, f->store), 0);
    assert_true(v.ok);
    assert_true(atomic_load(&f->outcomes) >= 1);
    gcs_workers_stats st;
    gcs_workers_counts(f->workers, &st);
    assert_int_equal(st.done, 1);
    assert_true(st.http.completed >= 2);

    /* The same row again: nothing to do, nothing written. */
    long writes = gcs_test_emu_writes(&f->emu);
    int64_t again = enqueue_person(f, "E1", "ann@example.com", "Lead", 5);
    json_t *r2 = wait_job(f, again, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r2, "outcome"), "unchanged");
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    json_decref(r2);
    json_decref(all);
    json_decref(ann);
    json_decref(r);
}

/* A notification wakes a worker, whatever else waits (the heartbeat): with an
 * idle poll of ten minutes, every job notified is still taken at once. */
static void a_notified_job_is_taken_without_waiting_for_the_poll(void **state)
{
    fixture *f = *state;
    open_session(f, &f->session);
    gcs_workers_options o = options(f, f->session, "host-a");
    o.idle_poll_ms = 600000;
    assert_int_equal(gcs_workers_start(&f->workers, &o), 0);
    for (int i = 0; i < 12; i++) {
        char key[16], mail[64];
        snprintf(key, sizeof key, "N%d", i);
        snprintf(mail, sizeof mail, "n%d@example.com", i);
        gcs_time_sleep_ms(30); /* every worker back to waiting */
        int64_t id = enqueue_person(f, key, mail, "Agent", 5);
        json_decref(wait_job(f, id, GCS_JOB_DONE, 10000));
    }
}

/* Requests the emulator answered since its last reset, by method ("GET ",
 * "POST "), on SCIM users. */
static long answered_on_users(fixture *f, const char *method)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    const char *route;
    json_t *by_status;
    long n = 0;
    json_object_foreach(json_object_get(st, "routes"), route, by_status) {
        if (strncmp(route, method, strlen(method)) != 0 || !strstr(route, "/users"))
            continue;
        const char *status;
        json_t *count;
        json_object_foreach(by_status, status, count) n += (long)json_integer_value(count);
    }
    json_decref(st);
    return n;
}

static long emu_max_in_flight(fixture *f)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    long n = (long)json_integer_value(json_object_get(st, "max_in_flight"));
    json_decref(st);
    return n;
}

/* Issue #10: one event on an idle service reaches Genesys within one round
 * trip plus a small constant. A new person is looked up by every key at once
 * (the marker, externalId, userName): with every answer delayed, the three
 * reads are on the emulator together, then the create; one after the other
 * the emulator would never have seen two at once. */
static void a_new_person_is_looked_up_by_every_key_at_once(void **state)
{
    fixture *f = *state;
    start_workers(f);
    /* The token, and the first answer that tells the pacer the limit. */
    int64_t id = enqueue_person(f, "W1", "warm@example.com", "Agent", 5);
    json_decref(wait_job(f, id, GCS_JOB_DONE, 20000));
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":150}"));
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "reset", NULL));
    id = enqueue_person(f, "E7", "eve@example.com", "Agent", 5);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    assert_int_equal(answered_on_users(f, "GET "), 3);
    assert_int_equal(answered_on_users(f, "POST "), 1);
    assert_int_equal(emu_max_in_flight(f), 3);
    json_decref(r);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
}

/* A person gcscim has met (a receipt names their Genesys user) is read by
 * the marker alone: one read, then the change. One whose user is gone since
 * is read by the other keys after it, in turn, and created again. */
static void a_known_person_costs_one_read(void **state)
{
    fixture *f = *state;
    start_workers(f);
    int64_t id = enqueue_person(f, "M1", "m1@example.com", "Lead", 5);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "updated");
    json_decref(r);
    id = enqueue_person(f, "K1", "kim@example.com", "Agent", 5);
    json_decref(wait_job(f, id, GCS_JOB_DONE, 20000));
    /* Back to the seed: M1 as it was, K1 gone. */
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":100}"));
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "reset", NULL));
    id = enqueue_person(f, "M1", "m1@example.com", "Coach", 5);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "updated");
    json_decref(r);
    assert_int_equal(answered_on_users(f, "GET "), 1);
    assert_int_equal(answered_on_users(f, "PATCH "), 1);

    /* The very row of the first create, the user gone behind gcscim's back: a
     * new job is a plan of its own, not "already applied" (it sent nothing). */
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "reset", NULL));
    id = enqueue_person(f, "K1", "kim@example.com", "Agent", 5);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    json_decref(r);
    assert_int_equal(answered_on_users(f, "GET "), 3);
    assert_int_equal(emu_max_in_flight(f), 1);
    assert_int_equal(users_named(f, "kim@example.com"), 1);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
}

/* People provisioned together: every read of every person, the leaver's
 * included, is on the wire at once, and each gets the outcome a read after
 * the other would give. */
static void people_provisioned_together_are_read_at_once(void **state)
{
    fixture *f = *state;
    open_session(f, &f->session);
    /* The token, and the first answer that tells the pacer the limit. */
    gcs_sync_subject warm = {"NOBODY", NULL};
    gcs_sync_options so;
    gcs_sync_options_init(&so);
    so.profile_path = f->profile;
    json_t *r = NULL;
    assert_int_equal(gcs_sync_provision(&r, f->session, f->store, &warm, 1, &so), 0);
    json_decref(r);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":150}"));
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "reset", NULL));
    json_t *n1 = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", "N1", "first", "Nan", "last", "One",
                           "email", "n1@example.com", "title", "Agent", "status", "active");
    json_t *n2 = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", "N2", "first", "Ned", "last", "Two",
                           "email", "n2@example.com", "title", "Agent", "status", "active");
    json_t *m1 = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", "M1", "first", "Managed", "last",
                           "One", "email", "m1@example.com", "title", "Lead", "status", "active");
    gcs_sync_subject people[] = {{"N1", n1}, {"N2", n2}, {"M1", m1}, {"GONE", NULL}};
    assert_int_equal(gcs_sync_provision(&r, f->session, f->store, people, 4, &so), 0);
    json_t *subjects = json_object_get(r, "subjects");
    assert_string_equal(str(json_array_get(subjects, 0), "outcome"), "created");
    assert_string_equal(str(json_array_get(subjects, 1), "outcome"), "created");
    assert_string_equal(str(json_array_get(subjects, 2), "outcome"), "updated");
    assert_string_equal(str(json_array_get(subjects, 3), "outcome"), "unchanged");
    /* Three keys for each row, the marker for the leaver: ten reads at once. */
    assert_int_equal(answered_on_users(f, "GET "), 10);
    assert_int_equal(emu_max_in_flight(f), 10);
    json_t *m = user_named(f, "m1@example.com");
    assert_string_equal(str(m, "title"), "Lead");
    json_decref(m);
    json_decref(r);
    json_decref(n1);
    json_decref(n2);
    json_decref(m1);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
}

/* The plan of named people is the same whether their reads go at once or one
 * key after the other: an unmanaged userName holder adopted, a managed user
 * found by its marker (with a new userName) and another row matching it by
 * the userName it had (both rejected), a new person, a leaver with no user.
 * Same content key (the identity less the plan's nonce, time and names): same
 * operations, rejections, counts. */
static void reads_at_once_plan_what_reads_in_turn_plan(void **state)
{
    fixture *f = *state;
    open_session(f, &f->session);
    static const char rows[] =
        "{\"id\":\"N1\",\"first\":\"Nan\",\"last\":\"One\",\"email\":\"n1@example.com\","
        "\"title\":\"Agent\",\"status\":\"active\"}\n"
        "{\"id\":\"M1\",\"first\":\"Managed\",\"last\":\"One\",\"email\":\"m1.new@example.com\","
        "\"title\":\"Lead\",\"status\":\"active\"}\n"
        "{\"id\":\"X1\",\"first\":\"Not\",\"last\":\"Ours\",\"email\":\"other@example.com\","
        "\"title\":\"Boss\",\"status\":\"active\"}\n"
        "{\"id\":\"X2\",\"first\":\"Two\",\"last\":\"Names\",\"email\":\"M1@example.com\","
        "\"title\":\"Agent\",\"status\":\"active\"}\n";
    const char *targets[] = {"N1", "M1", "X1", "X2", "GONE"};
    /* In turn; at once; at once with N1 (not there) and M1 (there) taken for
     * people their marker finds. */
    const char *likely[] = {"N1", "M1"};
    char identity[3][80]; /* the content keys */
    long requests[3];
    json_t *rejected[3];
    for (int at_once = 0; at_once < 3; at_once++) {
        gcs_planner_options po;
        gcs_planner_options_init(&po);
        po.source_path = "<rows>";
        po.source_data = rows;
        po.source_len = strlen(rows);
        po.source_format = GCS_SOURCE_NDJSON;
        po.profile_path = f->profile;
        po.api_url = f->emu.api_url;
        po.targets = targets;
        po.target_count = 5;
        po.lookups_at_once = at_once > 0;
        if (at_once == 2) {
            po.likely_found = likely;
            po.likely_found_count = 2;
        }
        gcs_plan plan;
        gcs_planner_stats stats;
        if (gcs_planner_run(&plan, &stats, f->session->client, &po) != 0)
            fail_msg("plan: %s", gcs_error_last());
        snprintf(identity[at_once], sizeof identity[at_once], "%s", gcs_plan_content_key(&plan));
        requests[at_once] = stats.requests;
        rejected[at_once] = json_deep_copy(json_object_get(plan.doc, "rejected"));
        assert_int_equal(stats.created, 1);
        assert_int_equal(stats.adopted, 1);
        assert_int_equal(stats.rejected, 2);
        gcs_plan_release(&plan);
    }
    assert_string_equal(identity[0], identity[1]);
    assert_string_equal(identity[0], identity[2]);
    assert_true(json_equal(rejected[0], rejected[1]));
    assert_true(json_equal(rejected[0], rejected[2]));
    /* At once, every key of every person is read, the ones a read in turn
     * does without included; M1 taken as likely found saves two. */
    assert_true(requests[1] > requests[0]);
    assert_int_equal(requests[2], requests[1] - 2);
    for (int i = 0; i < 3; i++)
        json_decref(rejected[i]);
}

static void a_leave_deactivates_a_managed_user_only(void **state)
{
    fixture *f = *state;
    start_workers(f);
    int64_t id = enqueue_leave(f, "M1");
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "deactivated");
    json_t *m1 = user_named(f, "m1@example.com");
    assert_true(json_is_false(json_object_get(m1, "active")));
    assert_string_equal(str(r, "genesys_id"), str(m1, "id"));
    json_decref(m1);
    json_decref(r);
    /* Nobody gcscim manages has that key: nothing is written. */
    long writes = gcs_test_emu_writes(&f->emu);
    id = enqueue_leave(f, "NOBODY");
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "unchanged");
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    json_decref(r);
}

static void a_rejected_row_writes_nothing(void **state)
{
    fixture *f = *state;
    start_workers(f);
    char payload[] = "{\"v\":1,\"kind\":\"person\",\"key\":\"E7\",\"event\":\"upsert\","
                     "\"row\":{\"id\":\"E7\",\"first\":\"No\",\"last\":\"Mail\",\"email\":\"\","
                     "\"title\":\"x\",\"status\":\"active\"}}";
    int64_t id;
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, "person:E7", payload, 5), 0);
    gcs_workers_notify(f->workers);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "userName"));
    json_decref(r);
    /* A row whose key column names another person is rejected too. */
    char other[] = "{\"v\":1,\"kind\":\"person\",\"key\":\"E8\",\"event\":\"upsert\","
                   "\"row\":{\"id\":\"M1\",\"first\":\"Evil\",\"last\":\"Twin\","
                   "\"email\":\"m1@example.com\",\"title\":\"x\",\"status\":\"leaver\"}}";
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, "person:E8", other, 5), 0);
    gcs_workers_notify(f->workers);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    json_decref(r);
    /* A payload whose key is not the job's (one job per person rests on it), and
     * a kind the workers do not know: rejected, naming the field. */
    char mismatched[] = "{\"v\":1,\"kind\":\"person\",\"key\":\"M1\",\"event\":\"leave\"}";
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, "person:E9", mismatched, 5), 0);
    gcs_workers_notify(f->workers);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "key"));
    json_decref(r);
    char group[] = "{\"v\":1,\"kind\":\"group\",\"key\":\"G1\",\"row\":{}}";
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, "group:G1", group, 5), 0);
    gcs_workers_notify(f->workers);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "group: an object with key and members"));
    json_decref(r);
    char team[] = "{\"v\":1,\"kind\":\"team\",\"key\":\"T1\",\"row\":{}}";
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, "person:T1", team, 5), 0);
    gcs_workers_notify(f->workers);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "kind"));
    json_decref(r);
    assert_int_equal(gcs_test_emu_writes(&f->emu), 0);
    json_t *m1 = user_named(f, "m1@example.com");
    assert_true(json_is_true(json_object_get(m1, "active")));
    json_decref(m1);
}

static int count_run(const gcs_run *r, void *payload)
{
    (void)r;
    (*(int *)payload)++;
    return 0;
}

static void three_changes_while_the_first_waits_are_one_plan(void **state)
{
    fixture *f = *state;
    /* Enqueued before any worker runs: the first waits. */
    int64_t a = enqueue_person(f, "E2", "bob@example.com", "Agent", 5);
    int64_t b = enqueue_person(f, "E2", "bob@example.com", "Senior Agent", 5);
    int64_t c = enqueue_person(f, "E2", "bob@example.com", "Team Lead", 5);
    assert_int_equal(a, b);
    assert_int_equal(b, c);
    start_workers(f);
    json_t *r = wait_job(f, a, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    json_t *bob = user_named(f, "bob@example.com");
    assert_string_equal(str(bob, "title"), "Team Lead");
    /* One plan, one apply run, one write. */
    int runs = 0;
    assert_int_equal(gcs_store_runs_each(f->store, 0, count_run, &runs), 0);
    assert_int_equal(runs, 1);
    assert_int_equal(gcs_test_emu_writes(&f->emu), 1);
    gcs_workers_stats st;
    gcs_workers_counts(f->workers, &st);
    assert_int_equal(st.claimed, 1);
    json_decref(bob);
    json_decref(r);
}

static void a_plan_that_needs_approval_waits_then_runs_once_approved(void **state)
{
    fixture *f = *state;
    start_workers(f);
    /* other@example.com exists and gcscim does not manage it: taking it over
     * (an adoption) needs an approval that names it. */
    int64_t id = enqueue_person(f, "E3", "other@example.com", "Boss", 5);
    json_t *r = wait_job(f, id, GCS_JOB_NEEDS_APPROVAL, 20000);
    assert_string_equal(str(r, "outcome"), "needs_approval");
    json_t *need = json_array_get(json_object_get(r, "needs"), 0);
    assert_string_equal(str(need, "flag"), "--approve adopt=1");
    assert_int_equal(gcs_test_emu_writes(&f->emu), 0);
    json_decref(r);

    /* `gcscim jobs show` prints the outcome; `gcscim jobs approve` approves
     * what it lists. */
    gcs_test_cli cli;
    gcs_test_cli_init(&cli, &f->emu, f->url);
    gcs_test_run run;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    assert_int_equal(gcs_test_cli_run(&cli, &run, "jobs", "show", sid, NULL), 0);
    assert_non_null(strstr(run.out.ptr, "needs_approval"));
    assert_non_null(strstr(run.out.ptr, "--approve adopt=1"));
    gcs_test_run_release(&run);
    assert_int_equal(gcs_test_cli_run(&cli, &run, "jobs", "approve", sid, "--approve", "adopt=0",
                                      NULL),
                     0);
    gcs_test_run_release(&run);
    gcs_workers_notify(f->workers);
    /* An approval for fewer than needed does not approve it. */
    r = wait_job(f, id, GCS_JOB_NEEDS_APPROVAL, 20000);
    assert_int_equal(gcs_test_emu_writes(&f->emu), 0);
    json_decref(r);
    assert_int_equal(gcs_test_cli_run(&cli, &run, "jobs", "approve", sid, NULL), 0);
    assert_non_null(strstr(run.out.ptr, "adopt=1"));
    gcs_test_run_release(&run);
    gcs_workers_notify(f->workers);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "updated");
    json_t *other = user_named(f, "other@example.com");
    assert_string_equal(str(other, "externalId"), "E3");
    json_decref(other);
    json_decref(r);
    /* A job that is not waiting cannot be approved. */
    assert_int_equal(gcs_test_cli_run(&cli, &run, "jobs", "approve", sid, NULL), 1);
    gcs_test_run_release(&run);
}

static void a_failing_call_backs_off_then_dead_letters_then_retries(void **state)
{
    fixture *f = *state;
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config",
                                   "{\"fault_rate\":1,\"fault_kinds\":[\"500\"]}"));
    start_workers(f);
    int64_t id = enqueue_person(f, "E4", "cid@example.com", "Agent", 3);
    json_t *r = wait_job(f, id, GCS_JOB_DEAD, 20000);
    json_decref(r);
    gcs_job j;
    assert_int_equal(gcs_store_job_get(&j, f->store, id), 0);
    assert_int_equal(j.attempts, 3);
    assert_non_null(strstr(j.last_error, "500"));
    gcs_job_release(&j);
    gcs_workers_stats st;
    gcs_workers_counts(f->workers, &st);
    assert_int_equal(st.failed, 3);
    assert_int_equal(st.dead, 1);

    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"fault_rate\":0}"));
    gcs_test_cli cli;
    gcs_test_cli_init(&cli, &f->emu, f->url);
    gcs_test_run run;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    assert_int_equal(gcs_test_cli_run(&cli, &run, "jobs", "retry", sid, NULL), 0);
    gcs_test_run_release(&run);
    gcs_workers_notify(f->workers);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    assert_int_equal(users_named(f, "cid@example.com"), 1);
    json_decref(r);
}

/* Draining: a job in hand finishes when the deadline allows; past the
 * deadline, apply sends nothing new and the job goes back to the queue,
 * pending, without an attempt counted; the next start does it. */
static void a_drain_finishes_or_gives_back_the_jobs_in_hand(void **state)
{
    fixture *f = *state;
    start_workers(f);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":300}"));
    int64_t id = enqueue_person(f, "E9", "fay@example.com", "Agent", 5);
    json_decref(wait_job(f, id, GCS_JOB_RUNNING, 20000));
    /* Time enough: it finishes. */
    gcs_workers_drain(f->workers, gcs_time_wall_ms() + 20000);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 1);
    assert_string_equal(str(r, "outcome"), "created");
    json_decref(r);
    gcs_workers_stats st;
    gcs_workers_counts(f->workers, &st);
    assert_true(st.draining);
    /* Draining: nothing more is claimed. */
    id = enqueue_person(f, "E10", "gus@example.com", "Agent", 5);
    gcs_time_sleep_ms(300);
    json_decref(wait_job(f, id, GCS_JOB_PENDING, 1));
    gcs_workers_free(f->workers);
    f->workers = NULL;

    /* No time: given back. The read is slow (1.5 s), the deadline past before
     * the create could be sent. */
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":1500}"));
    long writes = gcs_test_emu_writes(&f->emu);
    gcs_workers_options o = options(f, f->session, "host-a");
    assert_int_equal(gcs_workers_start(&f->workers, &o), 0);
    json_decref(wait_job(f, id, GCS_JOB_RUNNING, 20000));
    gcs_workers_drain(f->workers, gcs_time_wall_ms() + 100);
    gcs_job j;
    assert_int_equal(gcs_store_job_get(&j, f->store, id), 0);
    assert_string_equal(j.state, GCS_JOB_PENDING);
    assert_int_equal(j.attempts, 0);
    gcs_job_release(&j);
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    gcs_workers_counts(f->workers, &st);
    assert_int_equal(st.released, 1);
    gcs_workers_free(f->workers);
    f->workers = NULL;
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
    assert_int_equal(gcs_workers_start(&f->workers, &o), 0);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    json_decref(r);
}

static int most_items_done(const gcs_run *r, void *payload)
{
    int64_t *most = payload;
    if (r->done > *most)
        *most = r->done;
    return 0;
}

typedef struct naming {
    const char *key, *genesys_id;
    int checked;
} naming;

static int receipt_names(const gcs_receipt *r, void *payload)
{
    naming *n = payload;
    bool by_key = r->source_key && strcmp(r->source_key, n->key) == 0;
    bool by_id = r->genesys_id && n->genesys_id && strcmp(r->genesys_id, n->genesys_id) == 0;
    if (!by_key && !by_id)
        fail_msg("receipt %lld (%s %s) does not name %s", (long long)r->seq, r->method, r->path,
                 n->key);
    n->checked++;
    return 0;
}

/* Jobs waiting for the engine go into one plan together (the workers take
 * turns with the one session); each job's result lists the receipts that
 * name its person only; a person whose plan needs an approval waits alone
 * while the others go through. */
static void jobs_waiting_for_the_engine_share_a_plan(void **state)
{
    fixture *f = *state;
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":200}"));
    enum { N = 7 };
    int64_t ids[N];
    char keys[N][16];
    for (int i = 0; i < N; i++) {
        char mail[64];
        snprintf(keys[i], sizeof keys[i], "B%d", i);
        snprintf(mail, sizeof mail, "b%d@example.com", i);
        ids[i] = enqueue_person(f, keys[i], i == 3 ? "other@example.com" : mail, "Agent", 5);
    }
    open_session(f, &f->session);
    gcs_workers_options o = options(f, f->session, "host-a");
    o.count = N;
    assert_int_equal(gcs_workers_start(&f->workers, &o), 0);
    for (int i = 0; i < N; i++) {
        json_t *r = wait_job(f, ids[i], i == 3 ? GCS_JOB_NEEDS_APPROVAL : GCS_JOB_DONE, 30000);
        assert_string_equal(str(r, "outcome"), i == 3 ? "needs_approval" : "created");
        json_t *seqs = json_object_get(r, "receipts");
        assert_true(json_array_size(seqs) >= (i == 3 ? 1 : 2));
        naming n = {keys[i], str(r, "genesys_id"), 0};
        size_t k;
        json_t *seq;
        json_array_foreach(seqs, k, seq) {
            gcs_receipt_filter one = {0};
            one.seq_min = one.seq_max = json_integer_value(seq);
            assert_int_equal(gcs_store_receipts_each(f->store, &one, receipt_names, &n), 0);
        }
        assert_int_equal(n.checked, (int)json_array_size(seqs));
        json_decref(r);
    }
    /* Some apply run created several of them: they shared a plan. */
    int64_t most = 0;
    assert_int_equal(gcs_store_runs_each(f->store, 0, most_items_done, &most), 0);
    assert_true(most >= 2);
    assert_int_equal(gcs_test_emu_writes(&f->emu), N - 1);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
}

/* All the workers of a process share one token and one rate budget: with the
 * emulator's limit on, a stream of jobs larger than a window is paced by the
 * one engine, and one token was asked for.
 *
 * The stream is about 36 requests against 30 a window: more than one window
 * holds, so unpaced (or paced by three engines, each spending the whole
 * allowance) the first window overflows at once and answers 429, while the
 * one pacer keeps its reserve in the first window and sends the rest in the
 * second. That holds whatever the machine's load: a request sent late in the
 * first window and counted in the second (the emulator descheduled at the
 * window's end) finds a second window that holds at most what the first did
 * not, far below its limit. A stream of several windows could not promise
 * that: every late count eats into a window the pacer plans to fill. */
static void the_workers_share_one_token_and_its_rate_limit(void **state)
{
    fixture *f = *state;
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"rate_limit\":\"30/3\"}"));
    enum { N = 9 }; /* 4 requests each */
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        char key[16], mail[64];
        snprintf(key, sizeof key, "R%d", i);
        snprintf(mail, sizeof mail, "r%d@example.com", i);
        ids[i] = enqueue_person(f, key, mail, "Agent", 5);
    }
    start_workers(f);
    for (int i = 0; i < N; i++)
        json_decref(wait_job(f, ids[i], GCS_JOB_DONE, 60000));
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    assert_int_equal(json_integer_value(json_object_get(st, "tokens_issued")), 1);
    json_int_t requests = json_integer_value(json_object_get(st, "requests"));
    json_int_t limited = json_integer_value(json_object_get(st, "rate_limited"));
    json_decref(st);
    gcs_workers_stats ws;
    gcs_workers_counts(f->workers, &ws);
    if (getenv("GCS_TEST_VERBOSE"))
        printf("%lld requests, %lld answered 429, pacing wait %llu ms\n", (long long)requests,
               (long long)limited, (unsigned long long)ws.http.pacing_wait_ms);
    assert_int_equal(ws.done, N);
    /* More than a window's allowance went through the one engine... */
    assert_true(requests > 30);
    assert_true(ws.http.sent >= 30);
    assert_true(ws.http.allowed_rps > 9.9 && ws.http.allowed_rps < 10.1);
    /* ...which held some of it back for the next window, and met no 429. */
    assert_true(ws.http.pacing_wait_ms > 0);
    if (limited != 0)
        fail_msg("%lld of %lld requests were answered 429: not paced", (long long)limited,
                 (long long)requests);
    assert_int_equal(ws.http.status_429, 0);
}

/* The organisation's names a profile checks rows against (roles here) are
 * fetched once and kept, not once per plan. */
static void the_organisation_names_are_fetched_once(void **state)
{
    fixture *f = *state;
    char *with_roles = gcs_test_write_file(
        f->dir, "roles.yaml",
        "version: 1\n"
        "managed_by: gcscim\n"
        "match: [externalId, userName]\n"
        "attributes:\n"
        "  userName: {from: email, required: true}\n"
        "  displayName: {template: \"{first} {last}\", required: true}\n"
        "  externalId: {from: id, required: true}\n"
        "  roles: {from: roles, transform: [{split: \";\"}]}\n");
    open_session(f, &f->session);
    gcs_workers_options o = options(f, f->session, "host-a");
    o.profile_path = with_roles;
    assert_int_equal(gcs_workers_start(&f->workers, &o), 0);
    for (int i = 0; i < 3; i++) {
        char payload[512], key[32];
        snprintf(payload, sizeof payload,
                 "{\"v\":1,\"kind\":\"person\",\"key\":\"O%d\",\"event\":\"upsert\","
                 "\"row\":{\"id\":\"O%d\",\"first\":\"O\",\"last\":\"%d\","
                 "\"email\":\"o%d@example.com\",\"roles\":\"%s\"}}",
                 i, i, i, i, i == 2 ? "Nonexistent" : "Employee;Agent");
        snprintf(key, sizeof key, "person:O%d", i);
        int64_t id;
        assert_int_equal(gcs_store_job_enqueue(&id, f->store, key, payload, 5), 0);
        gcs_workers_notify(f->workers);
        json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
        assert_string_equal(str(r, "outcome"), i == 2 ? "rejected" : "created");
        json_decref(r);
    }
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    json_t *roles = json_object_get(json_object_get(st, "routes"), "GET /api/v2/authorization/roles");
    /* Once for the first plan; once more to decide the rejection (a role named
     * by a row may have been created since): not once per plan. */
    assert_int_equal(json_integer_value(json_object_get(roles, "200")), 2);
    json_decref(st);
    free(with_roles);
}

/* A 403 stops the request engine (every other call would fail alike), which
 * ends that job's attempt; the service's engine outlives it, and the next job
 * runs. */
static void a_forbidden_write_fails_its_job_and_the_next_job_runs(void **state)
{
    fixture *f = *state;
    start_workers(f);
    int64_t id = enqueue_person(f, "E6", "eve@example.com", "Agent", 1);
    json_decref(wait_job(f, id, GCS_JOB_DEAD, 20000));
    gcs_job j;
    assert_int_equal(gcs_store_job_get(&j, f->store, id), 0);
    assert_non_null(strstr(j.last_error, "scim"));
    gcs_job_release(&j);
    /* A leave of nobody reads only: it goes through. */
    id = enqueue_leave(f, "NOBODY");
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "unchanged");
    json_decref(r);
}

/* A worker process is killed (-9) while its job's create is on the wire; its
 * lease expires and a worker of another host completes the job, once. */
static void kill_9_mid_job_then_another_host_completes_it(fixture *f)
{
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":1500}"));
    int64_t id = enqueue_person(f, "E5", "dee@example.com", "Agent", 5);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gcs_genesys_session *s;
        open_session(f, &s);
        gcs_workers *w;
        gcs_workers_options o = options(f, s, "host-dies");
        o.lease_ms = 1500;
        if (gcs_workers_start(&w, &o) != 0)
            _exit(3);
        for (;;)
            pause();
    }
    /* Wait for the job to run under the child, and for its first call. */
    int64_t until = gcs_time_mono_ms() + 20000;
    for (;;) {
        gcs_job j;
        assert_int_equal(gcs_store_job_get(&j, f->store, id), 0);
        bool running = strcmp(j.state, GCS_JOB_RUNNING) == 0;
        gcs_job_release(&j);
        if (running)
            break;
        assert_true(gcs_time_mono_ms() < until);
        gcs_time_sleep_ms(20);
    }
    gcs_time_sleep_ms(2500); /* its read answered, its create on the wire */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
    gcs_job j;
    assert_int_equal(gcs_store_job_get(&j, f->store, id), 0);
    assert_string_equal(j.state, GCS_JOB_RUNNING);
    assert_non_null(strstr(j.lease_owner, "host-dies"));
    gcs_job_release(&j);

    open_session(f, &f->session);
    gcs_workers_options o = options(f, f->session, "host-b");
    assert_int_equal(gcs_workers_start(&f->workers, &o), 0);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 30000);
    /* The dead worker's create reached Genesys (its answer did not come
     * back): the new host finds the user as planned. */
    assert_true(strcmp(str(r, "outcome"), "created") == 0 ||
                strcmp(str(r, "outcome"), "unchanged") == 0);
    assert_int_equal(users_named(f, "dee@example.com"), 1);
    assert_int_equal(gcs_store_job_get(&j, f->store, id), 0);
    assert_int_equal(j.attempts, 2);
    assert_non_null(strstr(j.lease_owner ? j.lease_owner : "host-b", "host-b"));
    gcs_job_release(&j);
    json_decref(r);
}

static void kill_9_on_sqlite(void **state)
{
    kill_9_mid_job_then_another_host_completes_it(*state);
}

static int setup_pg(void **state)
{
    if (!getenv("GCSCIM_TEST_PG") || !*getenv("GCSCIM_TEST_PG")) {
        *state = NULL;
        return 0;
    }
    fixture *f = calloc(1, sizeof *f);
    fixture_start(f, true, NULL);
    *state = f;
    return 0;
}

static int teardown_pg(void **state)
{
    return *state ? teardown(state) : 0;
}

#define NEEDS_PG(state)                                                                            \
    do {                                                                                           \
        if (!*(state)) {                                                                           \
            printf("SKIPPED: needs GCSCIM_TEST_PG (scripts/test sets it)\n");                     \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static void kill_9_on_postgresql(void **state)
{
    NEEDS_PG(state);
    kill_9_mid_job_then_another_host_completes_it(*state);
}

/* Two hosts (two worker sets, two sessions) on one PostgreSQL database: every
 * job is done once. */
static void two_hosts_on_postgresql_do_every_job_once(void **state)
{
    NEEDS_PG(state);
    fixture *f = *state;
    enum { N = 24 };
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        char key[16], mail[64];
        snprintf(key, sizeof key, "P%02d", i);
        snprintf(mail, sizeof mail, "p%02d@example.com", i);
        ids[i] = enqueue_person(f, key, mail, "Agent", 5);
    }
    gcs_genesys_session *s2;
    gcs_workers *w2;
    open_session(f, &s2);
    open_session(f, &f->session);
    gcs_workers_options oa = options(f, f->session, "host-a"), ob = options(f, s2, "host-b");
    assert_int_equal(gcs_workers_start(&f->workers, &oa), 0);
    assert_int_equal(gcs_workers_start(&w2, &ob), 0);
    gcs_workers_notify(f->workers);
    gcs_workers_notify(w2);
    for (int i = 0; i < N; i++) {
        json_t *r = wait_job(f, ids[i], GCS_JOB_DONE, 60000);
        assert_string_equal(str(r, "outcome"), "created");
        json_decref(r);
        gcs_job j;
        assert_int_equal(gcs_store_job_get(&j, f->store, ids[i]), 0);
        assert_int_equal(j.attempts, 1);
        gcs_job_release(&j);
    }
    assert_int_equal(gcs_test_emu_writes(&f->emu), N);
    gcs_workers_stats a, b;
    gcs_workers_counts(f->workers, &a);
    gcs_workers_counts(w2, &b);
    assert_int_equal(a.done + b.done, N);
    if (getenv("GCS_TEST_VERBOSE"))
        printf("host-a did %lld jobs, host-b %lld\n", (long long)a.done, (long long)b.done);
    gcs_workers_free(w2);
    gcs_genesys_session_free(s2);
}

/* ==== Groups ==== */

/* The profile with a groups section: group jobs go through it. */
static void use_group_profile(fixture *f)
{
    char text[2048];
    snprintf(text, sizeof text, "%sgroups:\n  column: teams\n  hierarchy: kept\n", profile);
    free(f->profile);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", text);
}

/* A group's job as the front enqueues it from a group event (docs/serve.md). */
static int64_t enqueue_group(fixture *f, const char *key, const char *group_json)
{
    char payload[2048], job_key[128];
    snprintf(payload, sizeof payload,
             "{\"v\":1,\"kind\":\"group\",\"key\":\"%s\",\"group\":%s,\"event\":\"upsert\","
             "\"origin\":\"event\",\"webhook_id\":\"msg_%s\",\"requested_by\":\"webhook\"}",
             key, group_json, key);
    snprintf(job_key, sizeof job_key, "group:%s", key);
    int64_t id;
    assert_int_equal(gcs_store_job_enqueue(&id, f->store, job_key, payload, 5), 0);
    gcs_workers_notify(f->workers);
    return id;
}

/* The emulator's group of this name (a new reference), or NULL. */
static json_t *group_named(fixture *f, const char *name)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "state", NULL), *found = NULL;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(st, "groups"), i, g) {
        if (strcmp(str(g, "name"), name) == 0)
            found = json_incref(g);
    }
    json_decref(st);
    return found;
}

static size_t members_of(fixture *f, const char *name)
{
    json_t *g = group_named(f, name);
    assert_non_null(g);
    size_t n = json_array_size(json_object_get(g, "members"));
    json_decref(g);
    return n;
}

/* DELETE of a path with the workers' session (gcs_workers_with_session). */
static int delete_path(gcs_genesys_session *session, void *ctx)
{
    gcs_http_client_request req = {.method = "DELETE", .path = ctx};
    gcs_http_client_response res;
    int rc = gcs_http_call(&res, session->client, &req);
    gcs_http_client_response_release(&res);
    return rc;
}

static void a_group_job_creates_the_group_then_changes_nothing(void **state)
{
    fixture *f = *state;
    use_group_profile(f);
    start_workers(f);
    /* M1 is managed already; GA, GB and GC are created by their own jobs. */
    int64_t people[3];
    people[0] = enqueue_person(f, "GA", "ga@example.com", "Agent", 5);
    people[1] = enqueue_person(f, "GB", "gb@example.com", "Agent", 5);
    people[2] = enqueue_person(f, "GC", "gc@example.com", "Agent", 5);
    for (int i = 0; i < 3; i++)
        json_decref(wait_job(f, people[i], GCS_JOB_DONE, 20000));
    long writes = gcs_test_emu_writes(&f->emu);

    const char *team = "{\"key\":\"team\",\"name\":\"Team\",\"description\":\"The team\","
                       "\"members\":[\"M1\",\"GA\",\"GB\",\"GC\",\"NOBODY\"],"
                       "\"children\":[\"team-nights\"]}";
    int64_t id = enqueue_group(f, "team", team);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    assert_string_equal(str(r, "group"), "team");
    assert_non_null(str(r, "genesys_id"));
    assert_string_equal(str(r, "nesting"), "kept");
    assert_int_equal(json_integer_value(json_object_get(r, "added")), 4);
    /* An unknown person is said, not a failure of the group. */
    assert_int_equal(json_integer_value(json_object_get(r, "unknown_member_count")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "unknown_members"), 0)),
                        "NOBODY");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "children"), 0)),
                        "team-nights");
    assert_true(json_array_size(json_object_get(r, "receipts")) > 0);
    assert_non_null(str(r, "run_id"));
    json_t *g = group_named(f, "Team");
    assert_non_null(g);
    assert_string_equal(str(g, "description"), "The team");
    json_decref(g);
    assert_int_equal(members_of(f, "Team"), 4);
    assert_true(gcs_test_emu_writes(&f->emu) > writes);
    /* gcscim added them: they are its own to remove later. */
    gcs_receipt_filter rf = {0};
    rf.run_id = str(r, "run_id");
    json_t *seen = json_array();
    assert_int_equal(gcs_store_receipts_each(f->store, &rf, count_receipt, seen), 0);
    assert_true(json_array_size(seen) >= 2); /* the create and the members */
    json_decref(seen);
    json_decref(r);

    /* The same event again: read, nothing to write. */
    writes = gcs_test_emu_writes(&f->emu);
    id = enqueue_group(f, "team", team);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "unchanged");
    assert_non_null(str(r, "genesys_id"));
    assert_true(json_is_null(json_object_get(r, "run_id")));
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    json_decref(r);

    /* Deleted behind gcscim's back: the same event again creates it again
     * (each job's plan is its own, never "already applied"). */
    g = group_named(f, "Team");
    char path[160];
    snprintf(path, sizeof path, "/api/v2/groups/%s", str(g, "id"));
    json_decref(g);
    assert_int_equal(gcs_workers_with_session(f->workers, delete_path, path), 0);
    assert_null(group_named(f, "Team"));
    id = enqueue_group(f, "team", team);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    assert_int_equal(members_of(f, "Team"), 4);
    json_decref(r);

    /* One member fewer: under the removals floor, done at once. */
    id = enqueue_group(f, "team", "{\"key\":\"team\",\"name\":\"Team\","
                                  "\"members\":[\"M1\",\"GA\",\"GB\"]}");
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "updated");
    assert_int_equal(json_integer_value(json_object_get(r, "removed")), 1);
    assert_int_equal(members_of(f, "Team"), 3);
    json_decref(r);
}

/* Flattened: a group takes its children's members from their own events; a
 * child no event named yet, or a cycle, rejects it, writing nothing. */
static void a_flattened_group_takes_its_childrens_members_from_their_events(void **state)
{
    fixture *f = *state;
    use_group_profile(f);
    start_workers(f);
    json_decref(wait_job(f, enqueue_person(f, "FA", "fa@example.com", "Agent", 5), GCS_JOB_DONE,
                         20000));
    json_decref(wait_job(f, enqueue_person(f, "FB", "fb@example.com", "Agent", 5), GCS_JOB_DONE,
                         20000));
    int64_t id = enqueue_group(f, "child", "{\"key\":\"child\",\"name\":\"Child\","
                                           "\"members\":[\"FA\"],\"children\":[\"leaf\"]}");
    json_decref(wait_job(f, id, GCS_JOB_DONE, 20000));
    id = enqueue_group(f, "leaf", "{\"key\":\"leaf\",\"name\":\"Leaf\",\"members\":[\"M1\"]}");
    json_decref(wait_job(f, id, GCS_JOB_DONE, 20000));
    const char *parent = "{\"key\":\"parent\",\"name\":\"Parent\",\"members\":[\"FB\"],"
                         "\"children\":[\"child\"],\"nesting\":\"flattened\"}";
    id = enqueue_group(f, "parent", parent);
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    assert_string_equal(str(r, "nesting"), "flattened");
    assert_int_equal(json_integer_value(json_object_get(r, "added")), 3); /* FB, FA, M1 */
    json_decref(r);
    assert_int_equal(members_of(f, "Parent"), 3);
    assert_int_equal(members_of(f, "Child"), 1); /* kept: its direct members only */

    long writes = gcs_test_emu_writes(&f->emu);
    id = enqueue_group(f, "top", "{\"key\":\"top\",\"members\":[],\"children\":[\"ghost\"],"
                                 "\"nesting\":\"flattened\"}");
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "group 'ghost' is not known yet"));
    json_decref(r);
    /* The leaf now names the parent: parent -> child -> leaf -> parent. */
    id = enqueue_group(f, "leaf", "{\"key\":\"leaf\",\"name\":\"Leaf\",\"members\":[\"M1\"],"
                                  "\"children\":[\"parent\"]}");
    json_decref(wait_job(f, id, GCS_JOB_DONE, 20000));
    id = enqueue_group(f, "parent", parent);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "nested in itself"));
    json_decref(r);
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    assert_int_equal(members_of(f, "Parent"), 3);
}

static int collect_key(const char *key, void *payload)
{
    json_array_append_new(payload, json_string(key));
    return 0;
}

static json_t *recorded_parents(fixture *f, const char *key)
{
    json_t *parents = json_array();
    assert_int_equal(gcs_store_group_parents_each(f->store, key, collect_key, parents), 0);
    return parents;
}

/* A group event speaks of children, not parents: the kept hierarchy a sync
 * recorded for the group stays as it was, and a change of members alone is
 * planned and applied as such. */
static void a_group_event_keeps_the_parents_sync_recorded(void **state)
{
    fixture *f = *state;
    char text[2048];
    snprintf(text, sizeof text,
             "%sgroups:\n  column: teams\n  file: groups.csv\n  hierarchy: kept\n", profile);
    free(f->profile);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", text);
    free(gcs_test_write_file(f->dir, "groups.csv",
                             "key,name,parents\ndept,Dept,\nteam,Team,dept\n"));
    char *source = gcs_test_write_file(f->dir, "hr.csv",
                                       "id,first,last,email,title,status,teams\n"
                                       "M1,Managed,One,m1@example.com,Agent,active,\n"
                                       "K1,Kay,One,k1@example.com,Agent,active,team\n");
    gcs_test_cli cli;
    gcs_test_cli_init(&cli, &f->emu, f->url);
    gcs_test_run run;
    int code = gcs_test_cli_run(&cli, &run, "sync", "--source", source, "--profile", f->profile,
                                NULL);
    if (code != 0)
        fail_msg("sync exited %d: %s%s", code, run.out.ptr, run.err.ptr);
    gcs_test_run_release(&run);
    free(source);
    json_t *parents = recorded_parents(f, "team");
    assert_int_equal(json_array_size(parents), 1);
    assert_string_equal(json_string_value(json_array_get(parents, 0)), "dept");
    json_decref(parents);

    start_workers(f);
    long writes = gcs_test_emu_writes(&f->emu);
    int64_t id =
        enqueue_group(f, "team", "{\"key\":\"team\",\"name\":\"Team\",\"members\":[\"K1\"]}");
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "unchanged");
    json_decref(r);
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    id = enqueue_group(f, "team", "{\"key\":\"team\",\"name\":\"Team\","
                                  "\"members\":[\"K1\",\"M1\"]}");
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "updated");
    assert_int_equal(json_integer_value(json_object_get(r, "added")), 1);
    json_decref(r);
    assert_int_equal(members_of(f, "Team"), 2);
    parents = recorded_parents(f, "team");
    assert_int_equal(json_array_size(parents), 1);
    assert_string_equal(json_string_value(json_array_get(parents, 0)), "dept");
    json_decref(parents);
}

/* Role grants through a group: names as the organisation spells them, else
 * the group is rejected with a hint and nothing is written. */
static void a_group_event_grants_roles_named_exactly(void **state)
{
    fixture *f = *state;
    use_group_profile(f);
    start_workers(f);
    json_decref(wait_job(f, enqueue_person(f, "GR1", "gr1@example.com", "Agent", 5), GCS_JOB_DONE,
                         20000));
    long writes = gcs_test_emu_writes(&f->emu);
    int64_t id = enqueue_group(f, "leads",
                               "{\"key\":\"leads\",\"name\":\"Leads\",\"members\":[\"GR1\"],"
                               "\"roles\":[{\"role\":\"agent\",\"division\":\"Home\"}]}");
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "did you mean 'Agent'"));
    json_decref(r);
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    assert_null(group_named(f, "Leads"));

    id = enqueue_group(f, "leads", "{\"key\":\"leads\",\"name\":\"Leads\",\"members\":[\"GR1\"],"
                                   "\"roles\":[{\"role\":\"Agent\",\"division\":\"Home\"}]}");
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    assert_int_equal(json_integer_value(json_object_get(r, "granted")), 1);
    json_decref(r);
    json_t *g = group_named(f, "Leads");
    assert_non_null(g);
    assert_true(json_is_true(json_object_get(g, "rolesEnabled")));
    json_decref(g);
}

/* Three states of one group while the first waits: one job, the newest wins. */
static void three_changes_to_a_group_while_the_first_waits_are_one_plan(void **state)
{
    fixture *f = *state;
    use_group_profile(f);
    int64_t a = enqueue_group(f, "crew",
                              "{\"key\":\"crew\",\"name\":\"Crew\",\"description\":\"One\","
                              "\"members\":[]}");
    int64_t b = enqueue_group(f, "crew",
                              "{\"key\":\"crew\",\"name\":\"Crew\",\"description\":\"Two\","
                              "\"members\":[]}");
    int64_t c = enqueue_group(f, "crew", "{\"key\":\"crew\",\"name\":\"Crew\",\"description\":"
                                         "\"Three\",\"members\":[\"M1\"]}");
    assert_int_equal(a, b);
    assert_int_equal(b, c);
    start_workers(f);
    json_t *r = wait_job(f, a, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "created");
    json_decref(r);
    json_t *g = group_named(f, "Crew");
    assert_string_equal(str(g, "description"), "Three");
    assert_int_equal(json_array_size(json_object_get(g, "members")), 1);
    json_decref(g);
    assert_int_equal(gcs_test_emu_writes(&f->emu), 2); /* the create, then its member */
}

static void a_group_emptied_waits_for_approval_then_applies(void **state)
{
    fixture *f = *state;
    use_group_profile(f);
    start_workers(f);
    const char *keys[] = {"HA", "HB", "HC", "HD"};
    for (int i = 0; i < 4; i++) {
        char email[64];
        snprintf(email, sizeof email, "%s@example.com", keys[i]);
        json_decref(wait_job(f, enqueue_person(f, keys[i], email, "Agent", 5), GCS_JOB_DONE,
                             20000));
    }
    int64_t id = enqueue_group(f, "desk", "{\"key\":\"desk\",\"name\":\"Desk\","
                                          "\"members\":[\"HA\",\"HB\",\"HC\",\"HD\"]}");
    json_decref(wait_job(f, id, GCS_JOB_DONE, 20000));
    assert_int_equal(members_of(f, "Desk"), 4);

    /* Every member gone: over the removals threshold, so nothing is sent
     * until someone approves it. */
    long writes = gcs_test_emu_writes(&f->emu);
    id = enqueue_group(f, "desk", "{\"key\":\"desk\",\"name\":\"Desk\",\"members\":[]}");
    json_t *r = wait_job(f, id, GCS_JOB_NEEDS_APPROVAL, 20000);
    assert_string_equal(str(r, "outcome"), "needs_approval");
    json_t *need = json_array_get(json_object_get(r, "needs"), 0);
    assert_string_equal(str(need, "flag"), "--approve remove-members=4");
    assert_int_equal(gcs_test_emu_writes(&f->emu), writes);
    assert_int_equal(members_of(f, "Desk"), 4);
    json_decref(r);

    gcs_test_cli cli;
    gcs_test_cli_init(&cli, &f->emu, f->url);
    gcs_test_run run;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    assert_int_equal(gcs_test_cli_run(&cli, &run, "jobs", "approve", sid, NULL), 0);
    assert_non_null(strstr(run.out.ptr, "remove-members=4"));
    gcs_test_run_release(&run);
    gcs_workers_notify(f->workers);
    r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "updated");
    assert_int_equal(json_integer_value(json_object_get(r, "removed")), 4);
    assert_int_equal(members_of(f, "Desk"), 0);
    json_decref(r);
}

/* A group job of a profile without groups is rejected for good, naming why. */
static void a_group_job_without_a_groups_profile_is_rejected(void **state)
{
    fixture *f = *state;
    start_workers(f);
    int64_t id = enqueue_group(f, "g", "{\"key\":\"g\",\"members\":[]}");
    json_t *r = wait_job(f, id, GCS_JOB_DONE, 20000);
    assert_string_equal(str(r, "outcome"), "rejected");
    assert_non_null(strstr(str(r, "detail"), "groups: section"));
    assert_int_equal(gcs_test_emu_writes(&f->emu), 0);
    json_decref(r);
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_job_becomes_a_user_with_receipts, setup, teardown),
        cmocka_unit_test_setup_teardown(a_notified_job_is_taken_without_waiting_for_the_poll, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_new_person_is_looked_up_by_every_key_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(people_provisioned_together_are_read_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_known_person_costs_one_read, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_at_once_plan_what_reads_in_turn_plan, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_leave_deactivates_a_managed_user_only, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rejected_row_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(three_changes_while_the_first_waits_are_one_plan, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_plan_that_needs_approval_waits_then_runs_once_approved,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_failing_call_backs_off_then_dead_letters_then_retries,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(jobs_waiting_for_the_engine_share_a_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(the_organisation_names_are_fetched_once, setup, teardown),
        cmocka_unit_test_setup_teardown(the_workers_share_one_token_and_its_rate_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_drain_finishes_or_gives_back_the_jobs_in_hand, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_forbidden_write_fails_its_job_and_the_next_job_runs,
                                        setup_read_only, teardown),
        cmocka_unit_test_setup_teardown(a_group_job_creates_the_group_then_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_group_emptied_waits_for_approval_then_applies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(three_changes_to_a_group_while_the_first_waits_are_one_plan,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_flattened_group_takes_its_childrens_members_from_their_events, setup, teardown),
        cmocka_unit_test_setup_teardown(a_group_event_keeps_the_parents_sync_recorded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_group_event_grants_roles_named_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(a_group_job_without_a_groups_profile_is_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(kill_9_on_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_9_on_postgresql, setup_pg, teardown_pg),
        cmocka_unit_test_setup_teardown(two_hosts_on_postgresql_do_every_job_once, setup_pg,
                                        teardown_pg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
