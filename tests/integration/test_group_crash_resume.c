/*
 * Groups after a crash: `gcscim apply` killed with SIGKILL while it creates
 * groups and while it changes their members, then started again with the same
 * command, ends as an uninterrupted run ends: every group once (a create that
 * was on the wire is found by name, never sent again), every member in place,
 * and a plan made afterwards finds nothing to do. SQLite.
 */
#include "clitest.h"
#include "gcstest.h"
#include "httptest.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/time.h"

#define PEOPLE 60 /* created by the run, each in "All" and one of TEAMS teams */
#define TEAMS  20

#define GROUP_POSTS   "POST /api/v2/groups"
#define GROUP_PATCHES "PATCH /api/v2/scim/groups/{id}"

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [externalId]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "groups:\n"
                              "  column: teams\n";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    char *source, *profile, *plan;
    gcs_test_cli cli;
} fixture;

static int run_cli(fixture *f, gcs_test_run *r, const char *const *args)
{
    return gcs_test_cli_runv(&f->cli, r, args);
}

static pid_t start_apply(fixture *f)
{
    char log[700];
    snprintf(log, sizeof log, "%s/apply.log", f->dir);
    const char *args[] = {"apply", f->plan, NULL};
    return gcs_test_cli_start(&f->cli, log, args);
}

static long answered(fixture *f, const char *route, const char *only_status)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    json_t *by_status = json_object_get(json_object_get(st, "routes"), route);
    const char *status;
    json_t *n;
    long total = 0;
    json_object_foreach(by_status, status, n)
    {
        if (!only_status || strcmp(status, only_status) == 0)
            total += (long)json_integer_value(n);
    }
    json_decref(st);
    return total;
}

/* Waits until `route` has been answered `n` times; false when the run ended first. */
static bool wait_for(fixture *f, pid_t pid, const char *route, long n)
{
    int64_t deadline = gcs_time_mono_ms() + 60000;
    while (answered(f, route, NULL) < n && gcs_time_mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return false;
        gcs_time_sleep_ms(2);
    }
    return true;
}

static void setup_fixture(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->dir = gcs_test_tmpdir();
    char *seed = gcs_test_write_file(f->dir, "org.json", "{\"users\":[]}");
    /* Slow answers, so that a kill lands in the middle of the group phase. */
    const char *args[] = {"--seed", seed, "--rate-limit", "0", "--latency", "20", NULL};
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 10000);
    free(seed);
    char db[700];
    snprintf(db, sizeof db, "sqlite:%s/gcscim.db", f->dir);
    gcs_test_cli_init(&f->cli, &f->emu, db);
    f->cli.timeout_ms = 120000;
    gcs_test_cli_setenv(&f->cli, "GCSCIM_MAX_IN_FLIGHT=4");
    gcs_test_cli_setenv(&f->cli, "PATH=/usr/bin:/bin");
    gcs_buf csv;
    gcs_buf_init(&csv, 0);
    int rc = gcs_buf_puts(&csv, "id,first,last,email,teams\n");
    for (int i = 0; i < PEOPLE && rc == 0; i++)
        rc = gcs_buf_printf(&csv, "P%03d,First%d,Last%d,p%03d@example.com,Team %02d;All\n", i, i, i,
                            i, i % TEAMS);
    assert_int_equal(rc, 0);
    f->source = gcs_test_write_file(f->dir, "hr.csv", csv.ptr);
    gcs_buf_release(&csv);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile);
    size_t n = strlen(f->dir) + 16;
    f->plan = malloc(n);
    snprintf(f->plan, n, "%s/plan.json", f->dir);
    gcs_test_run r;
    const char *plan_args[] = {"plan",     "--source", f->source, "--profile",
                               f->profile, "--out",    f->plan,   NULL};
    if (run_cli(f, &r, plan_args) != 0)
        fail_msg("plan failed: %s", r.err.ptr);
    gcs_test_run_release(&r);
}

static void teardown_fixture(fixture *f)
{
    gcs_test_server_stop(&f->emu);
    free(f->source);
    free(f->profile);
    free(f->plan);
    gcs_test_tmpdir_remove(f->dir);
}

static json_t *group_named(json_t *groups, const char *name, int *count)
{
    size_t i;
    json_t *g, *found = NULL;
    *count = 0;
    json_array_foreach(groups, i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "name")), name) == 0) {
            found = g;
            (*count)++;
        }
    }
    return found;
}

static void kill_in_the_group_phase_then_resume(void **state)
{
    (void)state;
    fixture f;
    setup_fixture(&f);
    static const struct {
        const char *route;
        long after;
    } points[] = {
        {GROUP_POSTS, 2},  {GROUP_POSTS, 7},    {GROUP_PATCHES, 9},
        {GROUP_POSTS, 14}, {GROUP_PATCHES, 16}, {GROUP_POSTS, 20},
    };
    int kills = 0;
    for (size_t k = 0; k < sizeof points / sizeof *points; k++) {
        pid_t pid = start_apply(&f);
        if (!wait_for(&f, pid, points[k].route, points[k].after))
            continue;
        kill(pid, SIGKILL);
        kills++;
        if (getenv("GCS_TEST_VERBOSE"))
            printf("killed at %s >= %ld (%ld group POSTs, %ld group PATCHes)\n", points[k].route,
                   points[k].after, answered(&f, GROUP_POSTS, NULL),
                   answered(&f, GROUP_PATCHES, NULL));
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
    }
    assert_true(kills >= 4);
    gcs_test_run r;
    const char *apply_args[] = {"apply", f.plan, NULL};
    int code = run_cli(&f, &r, apply_args);
    if (code != 0)
        fail_msg("resumed apply exited %d: %s%s", code, r.out.ptr, r.err.ptr);
    assert_non_null(strstr(r.out.ptr, "resumed"));
    gcs_test_run_release(&r);

    /* Every group once, with its members; no create sent twice (a second POST
     * of a name would have met 409). */
    json_t *st = gcs_test_emu_admin(&f.emu, "GET", "state", NULL);
    json_t *groups = json_object_get(st, "groups");
    assert_int_equal(json_array_size(groups), TEAMS + 1);
    int count;
    json_t *all = group_named(groups, "All", &count);
    assert_int_equal(count, 1);
    assert_int_equal(json_array_size(json_object_get(all, "members")), PEOPLE);
    for (int t = 0; t < TEAMS; t++) {
        char name[32];
        snprintf(name, sizeof name, "Team %02d", t);
        json_t *g = group_named(groups, name, &count);
        assert_int_equal(count, 1);
        assert_int_equal(json_array_size(json_object_get(g, "members")), PEOPLE / TEAMS);
    }
    json_decref(st);
    assert_int_equal(answered(&f, GROUP_POSTS, "409"), 0);
    assert_int_equal(answered(&f, GROUP_POSTS, NULL), TEAMS + 1);

    /* Nothing is left to do. */
    const char *plan_args[] = {
        "plan", "--source", f.source, "--profile", f.profile, "--detailed-exitcode", NULL};
    code = run_cli(&f, &r, plan_args);
    if (code != 0)
        fail_msg("a plan after the resume exited %d: %s", code, r.out.ptr);
    gcs_test_run_release(&r);
    teardown_fixture(&f);
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill_in_the_group_phase_then_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
