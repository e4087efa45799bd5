/*
 * How a run ends when Genesys says no or says nothing: the gcscim program
 * against the emulator, its exit code, its message, and the writes the
 * emulator counted.
 *  - a missing write scope: one failing write for a run of many rows, the
 *    scope named, exit 6;
 *  - a total outage during apply: exit 1 with the reason, not 3 "partial".
 */
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
    char env_api[256], env_db[600];
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
    snprintf(f->env_api, sizeof f->env_api, "GENESYSCLOUD_API_URL=%s", f->emu.api_url);
    snprintf(f->env_db, sizeof f->env_db, "GCSCIM_DB=sqlite:%s/gcscim.db", f->dir);
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

static int gcscim(fixture *f, gcs_test_run *r, ...)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = gcs_test_cli_path();
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    const char *env[] = {f->env_api, f->env_db, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                         "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret", NULL};
    gcs_test_run_program(r, argv, env, NULL, 90000);
    return r->exit_code;
}

/* The end of a long output (cmocka's messages are bounded). */
static const char *tail(const gcs_buf *b)
{
    return b->len > 700 ? b->ptr + b->len - 700 : b->ptr;
}

/* Requests the emulator answered on routes other than GET, the token and admin. */
static long writes(fixture *f)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    long n = 0;
    const char *route;
    json_t *by_status;
    json_object_foreach(json_object_get(st, "routes"), route, by_status) {
        if (strncmp(route, "GET ", 4) == 0 || strstr(route, "/oauth/") ||
            strstr(route, "/_emulator"))
            continue;
        const char *status;
        json_t *count;
        json_object_foreach(by_status, status, count) n += (long)json_integer_value(count);
    }
    json_decref(st);
    return n;
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
    gcs_test_deadline(280);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_write_scope_stops_at_the_first_write),
        cmocka_unit_test(missing_read_scope_is_named_unmangled),
        cmocka_unit_test(total_outage_during_apply_is_a_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
