/* The store's suite on PostgreSQL ($GCSCIM_TEST_PG; each test in its own
 * schema), plus what only PostgreSQL has: several connections working at once
 * (workers on several hosts). Skipped, saying so, when GCSCIM_TEST_PG is unset;
 * scripts/test always sets it through scripts/with-postgres. */
#include "store_suite.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

static const char *base_url(void)
{
    const char *u = getenv("GCSCIM_TEST_PG");
    return u && *u ? u : NULL;
}

/* Runs one statement on a connection of its own (schemas come and go). */
static int admin(const char *sql)
{
    PGconn *c = PQconnectdb(base_url());
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc)
            fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stderr, "cannot connect: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return rc;
}

static int fixture_open(void **state)
{
    static int counter;
    fixture *f = calloc(1, sizeof *f);
    char sql[256];
    if (asprintf(&f->schema, "t_%d_%d", (int)getpid(), ++counter) < 0)
        return -1;
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", f->schema,
             f->schema);
    if (admin(sql) != 0)
        return -1;
    const char *base = base_url();
    if (asprintf(&f->url, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
                 f->schema) < 0)
        return -1;
    if (gcs_store_open(&f->s, f->url) != 0) {
        fprintf(stderr, "cannot open %s: %s\n", f->url, gcs_error_last());
        return -1;
    }
    *state = f;
    return 0;
}

static int fixture_close(void **state)
{
    fixture *f = *state;
    char sql[256];
    gcs_store_free(f->s);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", f->schema);
    admin(sql);
    free(f->schema);
    free(f->url);
    free(f);
    return 0;
}

/* ==== Several workers at once ==== */

#define NKEYS 40
#define PER_KEY 3

typedef struct shared {
    const char *url;
    atomic_int running[NKEYS];     /* jobs of each key running right now */
    atomic_int claimed[NKEYS * PER_KEY + 64];
    atomic_int violations;
    atomic_int done;
} shared;

static void *worker(void *arg)
{
    shared *sh = arg;
    gcs_store *s = NULL;
    char name[32];
    snprintf(name, sizeof name, "w-%lx", (unsigned long)pthread_self());
    if (gcs_store_open(&s, sh->url) != 0)
        return (void *)1;
    int idle = 0;
    while (idle < 20) {
        gcs_job j;
        int rc = gcs_store_job_claim(&j, s, name, 60000);
        if (rc == GCS_ENOTFOUND) {
            idle++;
            gcs_time_sleep_ms(5);
            continue;
        }
        if (rc < 0) {
            atomic_fetch_add(&sh->violations, 1000);
            break;
        }
        idle = 0;
        int key = atoi(j.key + 4);
        if (atomic_fetch_add(&sh->running[key], 1) != 0)
            atomic_fetch_add(&sh->violations, 1); /* two jobs of one key at once */
        if (j.id > 0 && j.id < (int64_t)(sizeof sh->claimed / sizeof *sh->claimed) &&
            atomic_fetch_add(&sh->claimed[j.id], 1) != 0)
            atomic_fetch_add(&sh->violations, 1); /* one job claimed twice */
        gcs_time_sleep_ms(1);
        atomic_fetch_sub(&sh->running[key], 1);
        if (gcs_store_job_complete(s, j.id, name) == 0)
            atomic_fetch_add(&sh->done, 1);
        gcs_job_release(&j);
    }
    gcs_store_free(s);
    return NULL;
}

static void jobs_concurrent_claimers_never_share(void **state)
{
    fixture *f = *state;
    gcs_store *s = f->s;
    int expected = 0;
    for (int k = 0; k < NKEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%02d", k);
        assert_int_equal(gcs_store_job_enqueue(NULL, s, key, "{}", 3), 0);
        expected++;
    }
    shared sh = {.url = f->url};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &sh), 0);
    /* More work for the same keys while the workers run: each becomes a second
     * job of its key whenever the first is already running. */
    for (int k = 0; k < NKEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%02d", k);
        int64_t id;
        assert_int_equal(gcs_store_job_enqueue(&id, s, key, "{\"v\":2}", 3), 0);
    }
    for (int i = 0; i < 3; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(atomic_load(&sh.violations), 0);
    /* Every key's first job ran; its second ran too unless it coalesced. */
    assert_true(atomic_load(&sh.done) >= expected);
    assert_true(atomic_load(&sh.done) <= 2 * expected);
}

static int count_jobs(const gcs_job *j, void *p)
{
    (void)j;
    (*(int *)p)++;
    return 0;
}

static void jobs_concurrent_claimers_leave_nothing_behind(void **state)
{
    fixture *f = *state;
    for (int k = 0; k < 60; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%02d", k % NKEYS);
        assert_int_equal(gcs_store_job_enqueue(NULL, f->s, key, "{}", 3), 0);
    }
    shared sh = {.url = f->url};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &sh), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&sh.violations), 0);
    assert_int_equal(atomic_load(&sh.done), NKEYS); /* 60 enqueues coalesced to 40 */
    int pending = 0, running = 0, done = 0;
    assert_int_equal(gcs_store_jobs_each(f->s, GCS_JOB_PENDING, count_jobs, &pending), 0);
    assert_int_equal(gcs_store_jobs_each(f->s, GCS_JOB_RUNNING, count_jobs, &running), 0);
    assert_int_equal(gcs_store_jobs_each(f->s, GCS_JOB_DONE, count_jobs, &done), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(running, 0);
    assert_int_equal(done, NKEYS);
}

typedef struct appender {
    const char *url;
    int n;
    int rc;
} appender;

static void *append_thread(void *arg)
{
    appender *a = arg;
    gcs_store *s = NULL;
    if ((a->rc = gcs_store_open(&s, a->url)) != 0)
        return NULL;
    for (int i = 0; i < a->n && a->rc == 0; i++) {
        gcs_receipt r = {.operation = "patch", .status = 200, .attempts = 1, .outcome = "ok"};
        a->rc = gcs_store_receipt_append(s, &r);
        if (a->rc == 0 && i % 7 == 0)
            a->rc = gcs_store_flush(s);
    }
    if (a->rc == 0)
        a->rc = gcs_store_flush(s);
    gcs_store_free(s);
    return NULL;
}

static void receipts_from_several_hosts_stay_one_chain(void **state)
{
    fixture *f = *state;
    appender a[3] = {{f->url, 300, 0}, {f->url, 300, 0}, {f->url, 300, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, append_thread, &a[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, 0);
    }
    expect_intact(f->s, 900);
}

static void a_bad_connection_string_is_a_clear_error(void **state)
{
    (void)state;
    gcs_store *s = NULL;
    assert_true(gcs_store_open(&s, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2") < 0);
    assert_null(s);
    assert_non_null(strstr(gcs_error_last(), "cannot connect to postgresql"));
}

static void a_password_never_reaches_an_error(void **state)
{
    (void)state;
    gcs_store *s = NULL;
    assert_true(gcs_store_open(&s, "postgresql://u:sup3r-s3cret-pw@127.0.0.1:1/x?connect_timeout=2") < 0);
    assert_null(strstr(gcs_error_last(), "sup3r-s3cret-pw"));
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    if (!base_url()) {
        printf("SKIPPED: PostgreSQL store tests need GCSCIM_TEST_PG "
               "(run them through scripts/with-postgres or scripts/test)\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        STORE_SUITE_TESTS,
        cmocka_unit_test_setup_teardown(jobs_concurrent_claimers_never_share, fixture_open,
                                        fixture_close),
        cmocka_unit_test_setup_teardown(jobs_concurrent_claimers_leave_nothing_behind,
                                        fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(receipts_from_several_hosts_stay_one_chain, fixture_open,
                                        fixture_close),
        cmocka_unit_test(a_bad_connection_string_is_a_clear_error),
        cmocka_unit_test(a_password_never_reaches_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
