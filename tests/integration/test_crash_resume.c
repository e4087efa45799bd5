/*
 * Crash and resume: `gcscim apply` killed with SIGKILL at several points, then
 * started again with the same command, ends exactly where an uninterrupted run
 * ends: every user there once, as planned, no user created twice, and a receipt
 * chain that holds. On SQLite, and on PostgreSQL when $GCSCIM_TEST_PG is set
 * (scripts/test always sets it).
 */
#include "gcstest.h"
#include "httptest.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/time.h"

#define USERS 40

static const char profile[] = "version: 1\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "  title: title\n";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    char *plan;
    char env_api[256];
    char env_db[1024];
} fixture;

static char *write_source(const char *dir)
{
    gcs_buf csv;
    gcs_buf_init(&csv, 0);
    assert_int_equal(gcs_buf_puts(&csv, "id,first,last,email,title\n"), 0);
    for (int i = 0; i < USERS; i++)
        assert_int_equal(gcs_buf_printf(&csv, "K%03d,First%d,Last%d,user%03d@example.com,Agent %d\n", i, i, i, i,
                       i % 3), 0);
    char *path = gcs_test_write_file(dir, "hr.csv", csv.ptr);
    gcs_buf_release(&csv);
    return path;
}

static int run_cli(fixture *f, gcs_test_run *r, const char *const *args)
{
    const char *argv[16];
    size_t n = 0;
    argv[n++] = gcs_test_cli_path();
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    const char *env[] = {f->env_api, f->env_db, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                         "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret", NULL};
    gcs_test_run_program(r, argv, env, NULL, 120000);
    return r->exit_code;
}

/* Starts `gcscim apply PLAN` in the background, output to a file. */
static pid_t start_apply(fixture *f)
{
    pid_t pid = fork();
    if (pid == 0) {
        char log[700];
        snprintf(log, sizeof log, "%s/apply.log", f->dir);
        FILE *out = freopen(log, "a", stdout);
        (void)out;
        dup2(1, 2);
        char *envp[] = {f->env_api, f->env_db, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                        "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret",
                        "PATH=/usr/bin:/bin", NULL};
        execle(gcs_test_cli_path(), gcs_test_cli_path(), "apply", f->plan, (char *)NULL, envp);
        _exit(127);
    }
    return pid;
}

static long created(fixture *f)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    json_t *post = json_object_get(json_object_get(st, "routes"), "POST /api/v2/scim/users");
    long n = (long)json_integer_value(json_object_get(post, "201"));
    json_decref(st);
    return n;
}

static void setup_fixture(fixture *f, const char *db_url)
{
    memset(f, 0, sizeof *f);
    f->dir = gcs_test_tmpdir();
    /* Slow answers, so that a kill lands in the middle of the run. */
    const char *args[] = {"--rate-limit", "0", "--latency", "25", NULL};
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 10000);
    snprintf(f->env_api, sizeof f->env_api, "GENESYSCLOUD_API_URL=%s", f->emu.api_url);
    snprintf(f->env_db, sizeof f->env_db, "GCSCIM_DB=%s", db_url);
    char *src = write_source(f->dir);
    char *prof = gcs_test_write_file(f->dir, "profile.yaml", profile);
    size_t n = strlen(f->dir) + 16;
    f->plan = malloc(n);
    snprintf(f->plan, n, "%s/plan.json", f->dir);
    gcs_test_run r;
    const char *plan_args[] = {"plan", "--source", src, "--profile", prof, "--out", f->plan, NULL};
    if (run_cli(f, &r, plan_args) != 0)
        fail_msg("plan failed: %s", r.err.ptr);
    gcs_test_run_release(&r);
    free(src);
    free(prof);
}

static void teardown_fixture(fixture *f)
{
    gcs_test_server_stop(&f->emu);
    free(f->plan);
    gcs_test_tmpdir_remove(f->dir);
}

static void kill_at_points_then_resume(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);
    static const long kill_after[] = {3, 17, 31};
    for (size_t k = 0; k < sizeof kill_after / sizeof *kill_after; k++) {
        pid_t pid = start_apply(&f);
        int64_t deadline = gcs_time_mono_ms() + 60000;
        while (created(&f) < kill_after[k] && gcs_time_mono_ms() < deadline)
            gcs_time_sleep_ms(5);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
    }
    /* The same command again finishes the job. */
    gcs_test_run r;
    const char *apply_args[] = {"apply", f.plan, NULL};
    if (run_cli(&f, &r, apply_args) != 0)
        fail_msg("resumed apply failed: %s%s", r.out.ptr, r.err.ptr);
    assert_non_null(strstr(r.out.ptr, "resumed"));
    gcs_test_run_release(&r);

    /* Every user exactly once, as planned, and nobody created twice. */
    json_t *st = gcs_test_emu_admin(&f.emu, "GET", "state", NULL);
    json_t *users = json_object_get(st, "users");
    assert_int_equal(json_array_size(users), USERS);
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        const char *name = json_string_value(json_object_get(u, "userName"));
        int n = atoi(name + 4);
        char want[64];
        snprintf(want, sizeof want, "First%d Last%d", n, n);
        assert_string_equal(json_string_value(json_object_get(u, "displayName")), want);
    }
    json_decref(st);
    assert_int_equal(created(&f), USERS);
    if (getenv("GCS_TEST_VERBOSE")) {
        char log[700];
        snprintf(log, sizeof log, "cat %s/apply.log", f.dir);
        if (system(log) != 0)
            fail_msg("no apply log");
        json_t *stats = gcs_test_emu_admin(&f.emu, "GET", "stats", NULL);
        char *text = json_dumps(json_object_get(stats, "routes"), JSON_COMPACT);
        printf("%s\n", text);
        free(text);
        json_decref(stats);
    }

    /* A second apply of the finished plan changes nothing; the chain holds. */
    const char *verify_args[] = {"receipts", "verify", NULL};
    assert_int_equal(run_cli(&f, &r, verify_args), 0);
    gcs_test_run_release(&r);
    teardown_fixture(&f);
}

static void crash_and_resume_on_sqlite(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    kill_at_points_then_resume(url);
    gcs_test_tmpdir_remove(dir);
}

static void crash_and_resume_on_postgresql(void **state)
{
    (void)state;
    const char *base = getenv("GCSCIM_TEST_PG");
    if (!base || !*base) {
        printf("SKIPPED: crash test on PostgreSQL needs GCSCIM_TEST_PG (scripts/test sets it)\n");
        skip();
    }
    char schema[64], sql[256];
    snprintf(schema, sizeof schema, "crash_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    PGconn *c = PQconnectdb(base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    char url[1024];
    snprintf(url, sizeof url, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
             schema);
    kill_at_points_then_resume(url);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    PQclear(PQexec(c, sql));
    PQfinish(c);
}

int main(void)
{
    gcs_test_deadline(280);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_and_resume_on_sqlite),
        cmocka_unit_test(crash_and_resume_on_postgresql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
