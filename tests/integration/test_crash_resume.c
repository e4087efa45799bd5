/*
 * Crash, stop and resume: `gcscim apply` killed with SIGKILL in every phase
 * (creates, updates and deactivations, managers), or stopped with SIGTERM /
 * SIGINT, then started again with the same command, ends exactly where an
 * uninterrupted run ends: every user as planned, every POST counted whatever
 * its answer (a 409 on resume is a create sent twice), every created user
 * traced by its key in the receipts, a receipt chain that holds, and a second
 * apply of the finished plan that sends no request at all. Two applies of one
 * plan at once, or two syncs of one export: the second is refused. On SQLite, and on PostgreSQL when
 * $GCSCIM_TEST_PG is set (scripts/test always sets it).
 */
#include "clitest.h"
#include "gcstest.h"
#include "httptest.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/time.h"

#define USERS   40 /* created, each but the first with K000 as manager */
#define UPDATES 20 /* managed users whose title changes */
#define LEAVERS 12 /* managed users that left the source: deactivated */

/* What the plan needs approved: the leavers, and a title changed on every
 * managed user that stays. */
#define APPROVALS "--allow-deactivations", "12", "--approve", "change:title=20"

#define GENESYS_EXT "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [externalId, userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "  title: title\n"
                              "  manager: mgr\n";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    char *plan;
    gcs_test_cli cli;
} fixture;

static char *write_source(const char *dir)
{
    gcs_buf csv;
    gcs_buf_init(&csv, 0);
    int rc = gcs_buf_puts(&csv, "id,first,last,email,title,mgr\n");
    for (int i = 0; i < USERS && rc == 0; i++)
        rc = gcs_buf_printf(&csv, "K%03d,First%d,Last%d,user%03d@example.com,Agent %d,%s\n", i, i,
                            i, i, i % 3, i ? "K000" : "");
    for (int i = 0; i < UPDATES && rc == 0; i++)
        rc = gcs_buf_printf(&csv, "U%03d,Up%d,Date%d,upd%03d@example.com,New title,\n", i, i, i, i);
    assert_int_equal(rc, 0);
    char *path = gcs_test_write_file(dir, "hr.csv", csv.ptr);
    gcs_buf_release(&csv);
    return path;
}

/* Managed users: those to update and those that left. */
static char *write_seed(const char *dir)
{
    gcs_buf j;
    gcs_buf_init(&j, 0);
    int rc = gcs_buf_puts(&j, "{\"users\":[");
    for (int i = 0; i < UPDATES + LEAVERS && rc == 0; i++) {
        bool leaver = i >= UPDATES;
        int n = leaver ? i - UPDATES : i;
        rc = gcs_buf_printf(&j,
                            "%s{\"userName\":\"%s%03d@example.com\",\"displayName\":\"%s%d %s%d\","
                            "\"externalId\":\"%c%03d\",\"title\":\"Old title\",\"active\":true,"
                            "\"" GENESYS_EXT "\":{\"externalIds\":[{\"authority\":\"gcscim\","
                            "\"value\":\"%c%03d\"}]}}",
                            i ? "," : "", leaver ? "left" : "upd", n, leaver ? "Left" : "Up", n,
                            leaver ? "Over" : "Date", n, leaver ? 'L' : 'U', n, leaver ? 'L' : 'U',
                            n);
    }
    if (rc == 0)
        rc = gcs_buf_puts(&j, "]}");
    assert_int_equal(rc, 0);
    char *path = gcs_test_write_file(dir, "org.json", j.ptr);
    gcs_buf_release(&j);
    return path;
}

static int run_cli(fixture *f, gcs_test_run *r, const char *const *args)
{
    return gcs_test_cli_runv(&f->cli, r, args);
}

/* Starts gcscim with `args` (NULL-terminated) in the background, output to apply.log. */
static pid_t start_cli(fixture *f, const char *const *args)
{
    char log[700];
    snprintf(log, sizeof log, "%s/apply.log", f->dir);
    return gcs_test_cli_start(&f->cli, log, args);
}

/* `gcscim apply PLAN` in the background. */
static pid_t start_apply(fixture *f)
{
    const char *args[] = {"apply", APPROVALS, f->plan, NULL};
    return start_cli(f, args);
}

static char *read_log(fixture *f)
{
    char path[700];
    snprintf(path, sizeof path, "%s/apply.log", f->dir);
    gcs_buf text;
    gcs_buf_init(&text, 0);
    FILE *in = fopen(path, "r");
    char chunk[4096];
    size_t got;
    while (in && (got = fread(chunk, 1, sizeof chunk, in)) > 0)
        assert_int_equal(gcs_buf_put(&text, chunk, got), 0);
    if (in)
        fclose(in);
    assert_int_equal(gcs_buf_puts(&text, ""), 0);
    return gcs_buf_detach(&text);
}

/* Requests the emulator answered on "METHOD ROUTE", whatever the status. */
static long answered(fixture *f, const char *route)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    json_t *by_status = json_object_get(json_object_get(st, "routes"), route);
    const char *status;
    json_t *n;
    long total = 0;
    json_object_foreach(by_status, status, n) total += (long)json_integer_value(n);
    json_decref(st);
    return total;
}

static long emu_counter(fixture *f, const char *name)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    long n = (long)json_integer_value(json_object_get(st, name));
    json_decref(st);
    return n;
}

#define POSTS   "POST /api/v2/scim/users"
#define PATCHES "PATCH /api/v2/scim/users/{id}"
#define READS   "GET /api/v2/scim/users/{id}"
#define LOOKUPS "GET /api/v2/scim/users"

/* While the test waits to stop or kill a run at a point, every answer takes
 * this long: with 4 calls in flight a run makes about 13 calls a second, so
 * the next point (14 calls on) is a second away and the end of the run more
 * than ten, even when the machine's load keeps the test from looking for a
 * second. Runs the test does not stop (the plan, the resumes) go at full
 * speed (FAST_LATENCY_MS). */
#define STOP_LATENCY_MS 300
#define FAST_LATENCY_MS 25
#define STR(x)          STR_(x)
#define STR_(x)         #x

static void set_latency(fixture *f, int ms)
{
    char cfg[64];
    snprintf(cfg, sizeof cfg, "{\"latency_ms\":%d}", ms);
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", cfg));
}

static void setup_fixture(fixture *f, const char *db_url)
{
    memset(f, 0, sizeof *f);
    f->dir = gcs_test_tmpdir();
    char *seed = write_seed(f->dir);
    /* Answers a little slow, as a real service's are; slower still while a
     * test waits to stop a run (STOP_LATENCY_MS). */
    const char *args[] = {"--seed", seed, "--rate-limit", "0", "--latency", STR(FAST_LATENCY_MS),
                          NULL};
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 10000);
    free(seed);
    gcs_test_cli_init(&f->cli, &f->emu, db_url);
    f->cli.timeout_ms = 120000;
    gcs_test_cli_setenv(&f->cli, "GCSCIM_MAX_IN_FLIGHT=4");
    gcs_test_cli_setenv(&f->cli, "PATH=/usr/bin:/bin");
    char *src = write_source(f->dir);
    char *prof = gcs_test_write_file(f->dir, "profile.yaml", profile);
    size_t n = strlen(f->dir) + 16;
    f->plan = malloc(n);
    snprintf(f->plan, n, "%s/plan.json", f->dir);
    gcs_test_run r;
    const char *plan_args[] = {"plan",  "--source", src,       "--profile", prof,
                               "--out", f->plan,    APPROVALS, NULL};
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

static void show_log(fixture *f)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cat %s/apply.log >&2", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "no apply log\n");
}

/* Waits until `route` has been answered `n` times, or the process ended.
 * Returns true when it is still running. */
static bool wait_for(fixture *f, pid_t pid, const char *route, long n)
{
    int64_t deadline = gcs_time_mono_ms() + 60000;
    while (answered(f, route) < n && gcs_time_mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return false;
        gcs_time_sleep_ms(3);
    }
    return true;
}

static json_t *user_named(json_t *users, const char *name)
{
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "userName")), name) == 0)
            return u;
    }
    return NULL;
}

/* Every user gcscim created can be traced by its key in the receipts: the
 * create's receipt, or the lookup of a resume that found it. */
static void every_create_has_a_receipt(fixture *f, json_t *users)
{
    gcs_test_run r;
    const char *args[] = {"receipts", "export", NULL};
    assert_int_equal(run_cli(f, &r, args), 0);
    json_t *traced = json_object();
    for (char *line = r.out.ptr; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *rec = json_loads(line, 0, NULL);
        const char *key = json_string_value(json_object_get(rec, "source_key"));
        const char *op = json_string_value(json_object_get(rec, "operation"));
        const char *id = json_string_value(json_object_get(rec, "genesys_id"));
        long status = (long)json_integer_value(json_object_get(rec, "status"));
        json_t *body = json_loads(json_string_value(json_object_get(rec, "response_body"))
                                      ? json_string_value(json_object_get(rec, "response_body"))
                                      : "null",
                                  JSON_DECODE_ANY, NULL);
        if (key && op && strcmp(op, "create") == 0 && status == 201)
            json_object_set_new(traced, key,
                                json_string(json_string_value(json_object_get(body, "id"))));
        else if (key && id && op && strcmp(op, "read") == 0)
            json_object_set_new(traced, key, json_string(id));
        json_decref(body);
        json_decref(rec);
        line = nl ? nl + 1 : NULL;
    }
    gcs_test_run_release(&r);
    for (int i = 0; i < USERS; i++) {
        char key[16], name[64];
        snprintf(key, sizeof key, "K%03d", i);
        snprintf(name, sizeof name, "user%03d@example.com", i);
        json_t *u = user_named(users, name);
        assert_non_null(u);
        const char *id = json_string_value(json_object_get(traced, key));
        if (!id || strcmp(id, json_string_value(json_object_get(u, "id"))) != 0)
            fail_msg("user %s (%s) has no receipt naming its key", name, key);
    }
    json_decref(traced);
}

/* Every user as planned, nobody created twice, not one POST answered 409. */
static void check_organisation(fixture *f)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "state", NULL);
    json_t *users = json_object_get(st, "users");
    assert_int_equal(json_array_size(users), USERS + UPDATES + LEAVERS);
    json_t *boss = user_named(users, "user000@example.com");
    const char *boss_id = json_string_value(json_object_get(boss, "id"));
    for (int i = 0; i < USERS; i++) {
        char name[64], want[64];
        snprintf(name, sizeof name, "user%03d@example.com", i);
        json_t *u = user_named(users, name);
        assert_non_null(u);
        snprintf(want, sizeof want, "First%d Last%d", i, i);
        assert_string_equal(json_string_value(json_object_get(u, "displayName")), want);
        if (i > 0) {
            const char *m = json_string_value(json_object_get(
                json_object_get(json_object_get(u, "urn:ietf:params:scim:schemas:extension:"
                                                   "enterprise:2.0:User"),
                                "manager"),
                "value"));
            if (!m || strcmp(m, boss_id) != 0)
                fail_msg("%s has manager %s, not %s", name, m ? m : "(none)", boss_id);
        }
    }
    for (int i = 0; i < UPDATES; i++) {
        char name[64];
        snprintf(name, sizeof name, "upd%03d@example.com", i);
        assert_string_equal(json_string_value(json_object_get(user_named(users, name), "title")),
                            "New title");
    }
    for (int i = 0; i < LEAVERS; i++) {
        char name[64];
        snprintf(name, sizeof name, "left%03d@example.com", i);
        assert_true(json_is_false(json_object_get(user_named(users, name), "active")));
    }
    /* Every POST counts, whatever its answer: a 409 on resume is a create sent twice. */
    if (answered(f, POSTS) != USERS) {
        show_log(f);
        fail_msg("%ld POSTs for %d users", answered(f, POSTS), USERS);
    }
    every_create_has_a_receipt(f, users);
    json_decref(st);
}

/* check_organisation, and a second apply of the finished plan sends nothing at
 * all. */
static void check_finished(fixture *f)
{
    check_organisation(f);
    /* Applying the finished plan again: no request, not even a token. */
    long requests = emu_counter(f, "requests"), tokens = emu_counter(f, "tokens_issued");
    gcs_test_run r;
    const char *apply_args[] = {"apply", f->plan, NULL};
    assert_int_equal(run_cli(f, &r, apply_args), 0);
    assert_non_null(strstr(r.out.ptr, "Already applied (run "));
    gcs_test_run_release(&r);
    assert_int_equal(emu_counter(f, "requests"), requests);
    assert_int_equal(emu_counter(f, "tokens_issued"), tokens);

    const char *verify_args[] = {"receipts", "verify", NULL};
    assert_int_equal(run_cli(f, &r, verify_args), 0);
    gcs_test_run_release(&r);
}

static void resume_to_the_end(fixture *f)
{
    gcs_test_run r;
    const char *apply_args[] = {"apply", APPROVALS, f->plan, NULL};
    int code = run_cli(f, &r, apply_args);
    if (code != 0) {
        show_log(f);
        fail_msg("resumed apply exited %d: %s%s", code, r.out.ptr, r.err.ptr);
    }
    assert_non_null(strstr(r.out.ptr, "resumed"));
    gcs_test_run_release(&r);
}

/* kill -9 in every phase: creates, updates and deactivations, managers. */
static void kill_at_points_then_resume(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);
    static const struct {
        const char *route;
        long after;
    } points[] = {
        {POSTS, 3},    {POSTS, 17},   {POSTS, 31},   /* creates */
        {PATCHES, 6},  {READS, 5},    {PATCHES, 28}, /* updates, deactivation reads and PATCHes */
        {PATCHES, 50}, {PATCHES, 70},                /* managers */
    };
    int kills = 0;
    long lookups_before = answered(&f, LOOKUPS); /* the planner's reads */
    set_latency(&f, STOP_LATENCY_MS);
    for (size_t k = 0; k < sizeof points / sizeof *points; k++) {
        pid_t pid = start_apply(&f);
        if (!wait_for(&f, pid, points[k].route, points[k].after))
            continue; /* it finished before that point: the next start has less to do */
        kill(pid, SIGKILL);
        kills++;
        if (getenv("GCS_TEST_VERBOSE"))
            printf("killed at %s >= %ld (%ld POST, %ld PATCH, %ld GET by id)\n", points[k].route,
                   points[k].after, answered(&f, POSTS), answered(&f, PATCHES),
                   answered(&f, READS));
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
    }
    /* Most points are reached (a run may outpace the odd one). */
    assert_true(kills >= 6);
    set_latency(&f, FAST_LATENCY_MS);
    resume_to_the_end(&f);
    /* A resume looks up only the creates that were on the wire (at most 4 at
     * a time here; by marker, then userName), not every create queued. */
    long lookups = answered(&f, LOOKUPS) - lookups_before;
    if (getenv("GCS_TEST_VERBOSE"))
        printf("%ld lookups after %d kills\n", lookups, kills);
    if (lookups > kills * 4 * 2)
        fail_msg("%ld lookups after %d kills", lookups, kills);
    check_finished(&f);
    if (getenv("GCS_TEST_VERBOSE"))
        show_log(&f);
    teardown_fixture(&f);
}

/* The keys of the run's items in progress, as a JSON array of strings. */
static json_t *keys_in_progress(fixture *f)
{
    gcs_test_run r;
    const char *list_args[] = {"runs", "list", "--json", NULL};
    assert_int_equal(run_cli(f, &r, list_args), 0);
    json_t *runs = json_loads(r.out.ptr, 0, NULL);
    gcs_test_run_release(&r);
    assert_int_equal(json_array_size(runs), 1);
    const char *show_args[] = {
        "runs", "show", json_string_value(json_object_get(json_array_get(runs, 0), "id")),
        "--json", NULL};
    assert_int_equal(run_cli(f, &r, show_args), 0);
    json_decref(runs);
    json_t *run = json_loads(r.out.ptr, 0, NULL);
    gcs_test_run_release(&r);
    assert_non_null(run);
    json_t *keys = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(run, "item_list"), i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "state")), "in_progress") == 0)
            json_array_append(keys, json_object_get(item, "key"));
    }
    json_decref(run);
    return keys;
}

/* The receipt sequence numbers of `key`'s first lookup and of its create
 * answered 201 (0: none). */
static void lookup_and_create_of(fixture *f, const char *key, long *lookup, long *create)
{
    *lookup = *create = 0;
    gcs_test_run r;
    const char *args[] = {"receipts", "export", NULL};
    assert_int_equal(run_cli(f, &r, args), 0);
    for (char *line = r.out.ptr; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *rec = json_loads(line, 0, NULL);
        const char *k = json_string_value(json_object_get(rec, "source_key"));
        const char *method = json_string_value(json_object_get(rec, "method"));
        long seq = (long)json_integer_value(json_object_get(rec, "seq"));
        if (k && method && strcmp(k, key) == 0) {
            if (strcmp(method, "GET") == 0 && !*lookup)
                *lookup = seq;
            else if (strcmp(method, "POST") == 0 &&
                     json_integer_value(json_object_get(rec, "status")) == 201)
                *create = seq;
        }
        json_decref(rec);
        line = nl ? nl + 1 : NULL;
    }
    gcs_test_run_release(&r);
}

/* The engine marks the next creates due in progress in one commit before the
 * first of them leaves, and sends the rest as slots free: a kill between that
 * commit and their sends leaves creates in progress that never reached
 * Genesys. The resume must not take them for done nor send them blindly: each
 * is looked up (marker, then userName) before its POST, and created once. */
static void killed_between_the_marks_and_the_sends(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);
    /* One request a second (the run's own ceiling): after the first create,
     * which goes alone until its scope is proven, the next four are marked at
     * once and leave a second apart, so that the kill lands while three of
     * them wait, even on a loaded machine. */
    const char *args[] = {"apply", "--max-rps", "1", APPROVALS, f.plan, NULL};
    pid_t pid = start_cli(&f, args);
    assert_true(wait_for(&f, pid, POSTS, 2));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    gcs_time_sleep_ms(100); /* a POST still in the emulator's hands is carried out */

    /* In progress and not in Genesys: marked, never sent. */
    json_t *marked = keys_in_progress(&f);
    json_t *unsent = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(marked, i, k)
    {
        const char *key = json_string_value(k);
        char name[64];
        assert_int_equal(key[0], 'K');
        snprintf(name, sizeof name, "user%s@example.com", key + 1);
        json_t *u = gcs_test_emu_user_named(&f.emu, name);
        if (!u)
            json_array_append(unsent, k);
        json_decref(u);
    }
    if (getenv("GCS_TEST_VERBOSE"))
        printf("%zu in progress, %zu of them never sent, %ld POSTs\n", json_array_size(marked),
               json_array_size(unsent), answered(&f, POSTS));
    if (json_array_size(unsent) == 0) {
        show_log(&f);
        fail_msg("the kill left no create marked and unsent (%zu in progress)",
                 json_array_size(marked));
    }
    json_decref(marked);

    resume_to_the_end(&f);
    /* Each one looked up before it was created, and created once. */
    json_array_foreach(unsent, i, k)
    {
        long lookup, create;
        lookup_and_create_of(&f, json_string_value(k), &lookup, &create);
        if (!lookup || !create || lookup > create)
            fail_msg("%s: lookup at receipt %ld, create at %ld", json_string_value(k), lookup,
                     create);
    }
    json_decref(unsent);
    check_finished(&f);
    teardown_fixture(&f);
}

/* SIGTERM (then SIGINT) stops the run cleanly: exit 8, the run interrupted,
 * the command that resumes it printed; a second signal ends at once; the
 * resume finishes with nobody created twice. */
static void signals_stop_then_resume(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);

    set_latency(&f, STOP_LATENCY_MS);
    pid_t pid = start_apply(&f);
    assert_true(wait_for(&f, pid, POSTS, 5));
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 8) {
        show_log(&f);
        fail_msg("SIGTERM: status %d", status);
    }
    char *text = read_log(&f);
    char want[900];
    snprintf(want, sizeof want, "resume it with: gcscim apply %s %s",
             "--allow-deactivations 12 --approve change:title=20", f.plan);
    if (!strstr(text, want) || !strstr(text, "recorded as interrupted")) {
        show_log(&f);
        fail_msg("no resume command in the output");
    }
    free(text);
    gcs_test_run r;
    const char *runs_args[] = {"runs", "list", NULL};
    assert_int_equal(run_cli(&f, &r, runs_args), 0);
    assert_non_null(strstr(r.out.ptr, "interrupted"));
    assert_null(strstr(r.out.ptr, "running"));
    gcs_test_run_release(&r);
    /* The calls the stop cancelled before sending them were not made: no receipt. */
    const char *export_args[] = {"receipts", "export", NULL};
    assert_int_equal(run_cli(&f, &r, export_args), 0);
    assert_null(strstr(r.out.ptr, "\"outcome\":\"cancelled\""));
    gcs_test_run_release(&r);
    long posts = answered(&f, POSTS);

    /* Two signals: the second one ends it at once. */
    pid = start_apply(&f);
    assert_true(wait_for(&f, pid, POSTS, posts + 3));
    kill(pid, SIGINT);
    kill(pid, SIGINT);
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 8));

    set_latency(&f, FAST_LATENCY_MS);
    resume_to_the_end(&f);
    check_finished(&f);
    teardown_fixture(&f);
}

/* An interrupted sync leaves no run "running", says how to go on, and running
 * it again finishes the work without creating anybody twice. */
static void sync_interrupted_then_run_again(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);
    char src[700], prof[700];
    snprintf(src, sizeof src, "%s/hr.csv", f.dir);
    snprintf(prof, sizeof prof, "%s/profile.yaml", f.dir);
    const char *args[] = {"sync", "--source", src, "--profile", prof, APPROVALS, NULL};
    set_latency(&f, STOP_LATENCY_MS);
    pid_t pid = start_cli(&f, args);
    assert_true(wait_for(&f, pid, POSTS, 5));
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 8) {
        show_log(&f);
        fail_msg("SIGINT: status %d", status);
    }
    char *text = read_log(&f);
    char want[2048];
    snprintf(want, sizeof want,
             "resume it by running the same command again: gcscim sync --source %s --profile %s "
             "--allow-deactivations 12 --approve change:title=20",
             src, prof);
    if (!strstr(text, want))
        fail_msg("no resume command in: %s", text);
    free(text);
    gcs_test_run r;
    const char *runs_args[] = {"runs", "list", NULL};
    assert_int_equal(run_cli(&f, &r, runs_args), 0);
    assert_non_null(strstr(r.out.ptr, "interrupted"));
    assert_null(strstr(r.out.ptr, "running"));
    gcs_test_run_release(&r);

    set_latency(&f, FAST_LATENCY_MS);
    if (run_cli(&f, &r, args) != 0)
        fail_msg("sync again: %s%s", r.out.ptr, r.err.ptr);
    gcs_test_run_release(&r);
    assert_int_equal(answered(&f, POSTS), USERS);
    json_t *st = gcs_test_emu_admin(&f.emu, "GET", "state", NULL);
    assert_int_equal(json_array_size(json_object_get(st, "users")), USERS + UPDATES + LEAVERS);
    json_decref(st);
    teardown_fixture(&f);
}

/* Two applies of one plan at once: the second is refused at once, naming the
 * holder; the first finishes alone. */
static void second_apply_is_refused_while_one_runs(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);
    set_latency(&f, STOP_LATENCY_MS);
    pid_t pid = start_apply(&f);
    assert_true(wait_for(&f, pid, POSTS, 3));
    gcs_test_run r;
    const char *apply_args[] = {"apply", APPROVALS, f.plan, NULL};
    int64_t t0 = gcs_time_mono_ms();
    int code = run_cli(&f, &r, apply_args);
    if (code != 4) {
        show_log(&f);
        fail_msg("second apply exited %d: %s%s", code, r.out.ptr, r.err.ptr);
    }
    char holder[64];
    snprintf(holder, sizeof holder, "pid %d on ", (int)pid);
    assert_non_null(strstr(r.err.ptr, "is being applied by another gcscim"));
    assert_non_null(strstr(r.err.ptr, holder));
    assert_non_null(strstr(r.err.ptr, "since "));
    assert_true(gcs_time_mono_ms() - t0 < 20000);
    gcs_test_run_release(&r);
    set_latency(&f, FAST_LATENCY_MS);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        show_log(&f);
        fail_msg("the first apply ended with status %d", status);
    }
    check_finished(&f);
    teardown_fixture(&f);
}

static bool log_has(const char *path, const char *text)
{
    FILE *in = fopen(path, "r");
    char line[4096];
    bool found = false;
    while (in && !found && fgets(line, sizeof line, in))
        found = strstr(line, text) != NULL;
    if (in)
        fclose(in);
    return found;
}

/* Two terminals sync one export at once. Each makes a plan of its own (a nonce
 * each), of the same changes: the lease is on those changes (the plans'
 * content key), so one applies and the other is refused at once, naming the
 * holder. Nothing is sent twice. */
static void two_syncs_of_one_export_at_once(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);
    char src[700], prof[700], log_a[700], log_b[700];
    snprintf(src, sizeof src, "%s/hr.csv", f.dir);
    snprintf(prof, sizeof prof, "%s/profile.yaml", f.dir);
    snprintf(log_a, sizeof log_a, "%s/a.log", f.dir);
    snprintf(log_b, sizeof log_b, "%s/b.log", f.dir);
    const char *args[] = {"sync", "--source", src, "--profile", prof, APPROVALS, NULL};
    /* Slow answers while both read: the first write of either is sent a
     * second after its last read was answered, so both plan from the same
     * organisation, as two people starting the same job a moment apart do. */
    set_latency(&f, 1000);
    pid_t a = gcs_test_cli_start(&f.cli, log_a, args);
    pid_t b = gcs_test_cli_start(&f.cli, log_b, args);
    int64_t deadline = gcs_time_mono_ms() + 60000;
    while (!(log_has(log_a, "Plan: ") && log_has(log_b, "Plan: ")) &&
           gcs_time_mono_ms() < deadline)
        gcs_time_sleep_ms(20);
    set_latency(&f, FAST_LATENCY_MS);
    int status_a, status_b;
    waitpid(a, &status_a, 0);
    waitpid(b, &status_b, 0);
    assert_true(WIFEXITED(status_a) && WIFEXITED(status_b));
    int code_a = WEXITSTATUS(status_a), code_b = WEXITSTATUS(status_b);
    bool a_won = code_a == 0;
    const char *loser_log = a_won ? log_b : log_a;
    char holder[64];
    snprintf(holder, sizeof holder, "pid %d on ", (int)(a_won ? a : b));
    if (!((code_a == 0 && code_b == 4) || (code_a == 4 && code_b == 0)) ||
        !log_has(loser_log, "is being applied by another gcscim") ||
        !log_has(loser_log, holder)) {
        char cmd[1600];
        snprintf(cmd, sizeof cmd, "cat %s %s >&2", log_a, log_b);
        if (system(cmd) != 0)
            fprintf(stderr, "no logs\n");
        fail_msg("two syncs at once exited %d and %d; the second must be refused naming %s",
                 code_a, code_b, holder);
    }
    check_organisation(&f);
    teardown_fixture(&f);
}

/* Calls that Genesys carries out but answers 504: a create is looked up (and
 * found by its marker: done, not drift, never sent twice); a PATCH is retried,
 * meets a version conflict, re-reads and finds the change made (updates and
 * managers alike): success, not failure. */
static void faults_504_end_as_planned(const char *db_url)
{
    fixture f;
    setup_fixture(&f, db_url);
    json_t *cfg = gcs_test_emu_admin(&f.emu, "POST", "config",
                                     "{\"fault_rate\":0.15,\"fault_kinds\":[\"504\"]}");
    json_decref(cfg);
    gcs_test_run r;
    const char *apply_args[] = {"apply", APPROVALS, f.plan, NULL};
    int code = run_cli(&f, &r, apply_args);
    if (code != 0)
        fail_msg("apply under 504s exited %d: %s%s", code, r.out.ptr, r.err.ptr);
    gcs_test_run_release(&r);
    json_t *st = gcs_test_emu_admin(&f.emu, "GET", "stats", NULL);
    long faults = (long)json_integer_value(json_object_get(json_object_get(st, "faults"), "504"));
    json_decref(st);
    assert_true(faults > 0);
    if (getenv("GCS_TEST_VERBOSE"))
        printf("%ld answers were 504\n", faults);
    cfg = gcs_test_emu_admin(&f.emu, "POST", "config", "{\"fault_rate\":0}");
    json_decref(cfg);
    check_finished(&f);
    teardown_fixture(&f);
}

/* A fresh PostgreSQL schema for one test, as a store URL. */
static PGconn *pg_schema(char *url, size_t urlsz, const char *name)
{
    const char *base = getenv("GCSCIM_TEST_PG");
    if (!base || !*base)
        return NULL;
    char schema[64], sql[256];
    snprintf(schema, sizeof schema, "%s_%d", name, (int)getpid());
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    PGconn *c = PQconnectdb(base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    snprintf(url, urlsz, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
             schema);
    return c;
}

static void pg_schema_drop(PGconn *c, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s_%d CASCADE", name, (int)getpid());
    PQclear(PQexec(c, sql));
    PQfinish(c);
}

typedef void (*scenario_fn)(const char *db_url);

static void on_sqlite(scenario_fn fn)
{
    char *dir = gcs_test_tmpdir();
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    fn(url);
    gcs_test_tmpdir_remove(dir);
}

static void on_postgresql(scenario_fn fn, const char *name)
{
    char url[1024];
    PGconn *c = pg_schema(url, sizeof url, name);
    if (!c) {
        printf("SKIPPED: needs GCSCIM_TEST_PG (scripts/test sets it)\n");
        skip();
    }
    fn(url);
    pg_schema_drop(c, name);
}

/* One cmocka test per scenario and back end, each runnable alone by name. */
#define ON_SQLITE(test, fn)                                                                        \
    static void test(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        on_sqlite(fn);                                                                             \
    }
#define ON_POSTGRESQL(test, fn, schema)                                                            \
    static void test(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        on_postgresql(fn, schema);                                                                 \
    }

ON_SQLITE(crash_and_resume_on_sqlite, kill_at_points_then_resume)
ON_POSTGRESQL(crash_and_resume_on_postgresql, kill_at_points_then_resume, "crash")
ON_SQLITE(killed_between_the_marks_and_the_sends_on_sqlite, killed_between_the_marks_and_the_sends)
ON_POSTGRESQL(killed_between_the_marks_and_the_sends_on_postgresql,
              killed_between_the_marks_and_the_sends, "marks")
ON_SQLITE(signals_on_sqlite, signals_stop_then_resume)
ON_POSTGRESQL(signals_on_postgresql, signals_stop_then_resume, "signals")
ON_SQLITE(sync_on_sqlite, sync_interrupted_then_run_again)
ON_SQLITE(faults_on_sqlite, faults_504_end_as_planned)
ON_SQLITE(one_apply_at_a_time_on_sqlite, second_apply_is_refused_while_one_runs)
ON_POSTGRESQL(one_apply_at_a_time_on_postgresql, second_apply_is_refused_while_one_runs, "lease")
ON_SQLITE(one_sync_of_an_export_at_a_time_on_sqlite, two_syncs_of_one_export_at_once)
ON_POSTGRESQL(one_sync_of_an_export_at_a_time_on_postgresql, two_syncs_of_one_export_at_once,
              "twosyncs")

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_and_resume_on_sqlite),
        cmocka_unit_test(crash_and_resume_on_postgresql),
        cmocka_unit_test(killed_between_the_marks_and_the_sends_on_sqlite),
        cmocka_unit_test(killed_between_the_marks_and_the_sends_on_postgresql),
        cmocka_unit_test(signals_on_sqlite),
        cmocka_unit_test(signals_on_postgresql),
        cmocka_unit_test(sync_on_sqlite),
        cmocka_unit_test(faults_on_sqlite),
        cmocka_unit_test(one_apply_at_a_time_on_sqlite),
        cmocka_unit_test(one_apply_at_a_time_on_postgresql),
        cmocka_unit_test(one_sync_of_an_export_at_a_time_on_sqlite),
        cmocka_unit_test(one_sync_of_an_export_at_a_time_on_postgresql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
