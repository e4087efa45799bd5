/*
 * How a run ends when Genesys says no or says nothing: the gcscim program
 * against the emulator, its exit code, its message, and the writes the
 * emulator counted.
 *  - a missing write scope: one failing write for a run of many rows, the
 *    scope named, exit 6, and only that row's item failed (the others pending);
 *  - a total outage during apply: exit 1 with the reason, not 3 "partial".
 */
#include "clitest.h"
#include "gcstest.h"
#include "httptest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 300

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [externalId, userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, transform: [trim, lower], required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "  title: title\n";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    gcs_test_cli cli;
    char *profile, *source;
} fixture;

static void start(fixture *f, const char *scopes)
{
    memset(f, 0, sizeof *f);
    f->dir = gcs_test_tmpdir();
    char *seed = gcs_test_write_file(f->dir, "org.json", "{\"roles\":[{\"name\":\"Employee\"}]}");
    const char *args[] = {"--seed", seed, "--rate-limit", "0",
                          "--client", "gcscim-emulator:gcscim-emulator-secret",
                          scopes ? "--client-scopes" : NULL, scopes, NULL};
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 10000);
    free(seed);
    char db[700];
    snprintf(db, sizeof db, "sqlite:%s/gcscim.db", f->dir);
    gcs_test_cli_init(&f->cli, &f->emu, db);
    f->cli.timeout_ms = 90000;
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile);
    gcs_buf csv;
    gcs_buf_init(&csv, 0);
    assert_int_equal(gcs_buf_puts(&csv, "id,first,last,email,title\n"), 0);
    for (int i = 0; i < ROWS; i++)
        assert_int_equal(gcs_buf_printf(&csv, "E%d,First%d,Last%d,p%d@example.com,Agent\n", i, i,
                                        i, i),
                         0);
    f->source = gcs_test_write_file(f->dir, "hr.csv", csv.ptr);
    gcs_buf_release(&csv);
}

static void stop(fixture *f)
{
    gcs_test_server_stop(&f->emu);
    free(f->profile);
    free(f->source);
    gcs_test_tmpdir_remove(f->dir);
}

#define gcscim(f, r, ...) gcs_test_cli_run(&(f)->cli, (r), __VA_ARGS__)

/* The end of a long output (cmocka's messages are bounded). */
static const char *tail(const gcs_buf *b)
{
    return b->len > 700 ? b->ptr + b->len - 700 : b->ptr;
}

/* Requests the emulator answered on routes other than GET, the token and admin. */
static long writes(fixture *f)
{
    return gcs_test_emu_writes(&f->emu);
}

static void missing_write_scope_stops_at_the_first_write(void **state)
{
    (void)state;
    fixture f;
    start(&f, "gcscim-emulator=scim:readonly");
    gcs_test_run r;
    int code = gcscim(&f, &r, "sync", "--source", f.source, "--profile", f.profile, NULL);
    print_message("exit %d\nstderr: %s\n", code, tail(&r.err));
    assert_int_equal(code, 6);
    assert_non_null(strstr(r.err.ptr, "POST /api/v2/scim/v2/users: 403"));
    assert_non_null(strstr(r.err.ptr, "needs the 'scim' scope"));
    assert_null(strstr(r.err.ptr, "***"));
    /* 300 creates planned, one sent. */
    assert_int_equal(writes(&f), 1);
    gcs_test_run_release(&r);
    /* Only the create that was sent failed; the 299 the stop kept back are still
     * to do, so that a resume creates them instead of looking each one up. */
    assert_int_equal(gcscim(&f, &r, "runs", "list", "--json", NULL), 0);
    json_t *runs = json_loads(r.out.ptr, 0, NULL);
    assert_non_null(runs);
    json_t *items = json_object_get(json_array_get(runs, 0), "items");
    print_message("items: failed %lld, pending %lld\n",
                  (long long)json_integer_value(json_object_get(items, "failed")),
                  (long long)json_integer_value(json_object_get(items, "pending")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "state")),
                        "interrupted");
    assert_int_equal(json_integer_value(json_object_get(items, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(items, "pending")), ROWS - 1);
    json_decref(runs);
    gcs_test_run_release(&r);
    stop(&f);
}

static void missing_read_scope_is_named_unmangled(void **state)
{
    (void)state;
    fixture f;
    start(&f, "gcscim-emulator=groups");
    gcs_test_run r;
    int code = gcscim(&f, &r, "plan", "--source", f.source, "--profile", f.profile, NULL);
    print_message("exit %d\nstderr: %s\n", code, tail(&r.err));
    assert_int_equal(code, 6);
    assert_non_null(strstr(r.err.ptr, "needs the 'scim' or 'scim:readonly' scope"));
    assert_null(strstr(r.err.ptr, "***"));
    gcs_test_run_release(&r);
    stop(&f);
}

static void total_outage_during_apply_is_a_failure(void **state)
{
    (void)state;
    fixture f;
    start(&f, NULL);
    char plan[600];
    snprintf(plan, sizeof plan, "%s/plan.json", f.dir);
    gcs_test_run r;
    assert_int_equal(gcscim(&f, &r, "plan", "--source", f.source, "--profile", f.profile, "--out",
                            plan, NULL),
                     0);
    gcs_test_run_release(&r);
    json_decref(gcs_test_emu_admin(&f.emu, "POST", "config",
                                   "{\"fault_rate\":1.0,\"fault_kinds\":[\"503\"]}"));
    int code = gcscim(&f, &r, "apply", plan, NULL);
    print_message("exit %d\nstderr: %s\n", code, tail(&r.err));
    assert_int_equal(code, 1);
    assert_true(strstr(r.err.ptr, "Genesys unreachable: ") ||
                strstr(r.err.ptr, "every call failed: "));
    assert_non_null(strstr(r.err.ptr, "503"));
    gcs_test_run_release(&r);
    stop(&f);
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_write_scope_stops_at_the_first_write),
        cmocka_unit_test(missing_read_scope_is_named_unmangled),
        cmocka_unit_test(total_outage_during_apply_is_a_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
