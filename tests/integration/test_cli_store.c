/* The store commands end to end: a SQLite store filled through the library,
 * then `gcscim receipts|runs|jobs` run as a program. */
#include "gcstest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/store.h"

typedef struct env {
    char *dir;
    char *url;
    char *dbflag;
} env;

static void fill(gcs_store *s)
{
    const char *keys[] = {"emp-1", "emp-2", "emp-3", "emp-1"};
    const char *outcomes[] = {"ok", "ok", "failed", "ok"};
    for (int i = 0; i < 4; i++) {
        gcs_receipt r = {.time_ms = 1795000000000LL + i * 60000LL, .run_id = "run-x",
                         .operation = i == 3 ? "patch" : "create", .resource_type = "user",
                         .source_key = keys[i], .genesys_id = i == 2 ? NULL : "gid-1",
                         .method = "POST", .path = "/api/v2/scim/v2/Users",
                         .request_body = "{\"userName\":\"a, \\\"b\\\"\",\"password\":\"pw-9876\"}",
                         .status = i == 2 ? 409 : 201, .attempts = 1, .latency_ms = 10,
                         .outcome = outcomes[i]};
        assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    }
    assert_int_equal(gcs_store_flush(s), 0);
}

static void run(gcs_test_run *out, env *e, const char *a1, const char *a2, const char *a3,
                const char *a4, const char *a5)
{
    const char *argv[10] = {gcs_test_cli_path(), a1, a2, a3, a4, a5, NULL};
    size_t n = 1;
    while (argv[n])
        n++;
    argv[n++] = "--db";
    argv[n++] = e->url;
    argv[n] = NULL;
    assert_int_equal(gcs_test_run_program(out, argv, NULL, NULL, 30000), 0);
}

static void receipts_commands(void **state)
{
    (void)state;
    env e = {0};
    e.dir = gcs_test_tmpdir();
    assert_true(asprintf(&e.url, "sqlite:%s/s.db", e.dir) > 0);
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, e.url), 0);
    fill(s);

    gcs_test_run r;
    run(&r, &e, "receipts", "verify", NULL, NULL, NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out.ptr, "receipt chain holds: 4 receipts, head 4:"));
    char anchor[80];
    snprintf(anchor, sizeof anchor, "%.66s", strstr(r.out.ptr, "head 4:") + 5);
    gcs_test_run_release(&r);
    run(&r, &e, "receipts", "verify", "--anchor", anchor, NULL);
    assert_int_equal(r.exit_code, 0);
    gcs_test_run_release(&r);
    anchor[10] = anchor[10] == 'a' ? 'b' : 'a';
    run(&r, &e, "receipts", "verify", "--anchor", anchor, NULL);
    assert_int_equal(r.exit_code, 5);
    assert_non_null(strstr(r.out.ptr, "broken at receipt 4"));
    gcs_test_run_release(&r);
    run(&r, &e, "receipts", "verify", "--anchor", "4:xyz", NULL);
    assert_int_equal(r.exit_code, 2);
    gcs_test_run_release(&r);

    run(&r, &e, "receipts", "list", "--user", "emp-1", NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out.ptr, "patch"));
    assert_null(strstr(r.out.ptr, "emp-2"));
    gcs_test_run_release(&r);

    run(&r, &e, "receipts", "list", "--outcome", "failed", NULL);
    assert_non_null(strstr(r.out.ptr, "emp-3"));
    assert_non_null(strstr(r.out.ptr, "409"));
    assert_null(strstr(r.out.ptr, "emp-1"));
    gcs_test_run_release(&r);

    /* 1795000000000 ms is 2026-11-18T11:06:40Z; the receipts are a minute apart. */
    run(&r, &e, "receipts", "list", "--since", "2026-11-18T11:07:00Z", "--json");
    assert_int_equal(r.exit_code, 0);
    json_t *arr = json_loads(r.out.ptr, 0, NULL);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    gcs_test_run_release(&r);

    run(&r, &e, "receipts", "list", "--until", "2026-11-18T13:08:30+02:00", NULL);
    assert_non_null(strstr(r.out.ptr, "\n1 "));
    assert_non_null(strstr(r.out.ptr, "\n2 "));
    assert_null(strstr(r.out.ptr, "\n3 "));
    gcs_test_run_release(&r);

    run(&r, &e, "receipts", "show", "3", "--json", NULL);
    assert_int_equal(r.exit_code, 0);
    json_t *one = json_loads(r.out.ptr, 0, NULL);
    assert_non_null(one);
    assert_int_equal(json_integer_value(json_object_get(one, "status")), 409);
    assert_true(json_is_null(json_object_get(one, "genesys_id")));
    assert_null(strstr(r.out.ptr, "pw-9876"));
    json_decref(one);
    gcs_test_run_release(&r);

    char *csv = NULL;
    assert_true(asprintf(&csv, "%s/out.csv", e.dir) > 0);
    const char *argv[] = {gcs_test_cli_path(), "receipts", "export", "--format", "csv",
                          "--out", csv, "--db", e.url, NULL};
    assert_int_equal(gcs_test_run_program(&r, argv, NULL, NULL, 30000), 0);
    assert_int_equal(r.exit_code, 0);
    gcs_test_run_release(&r);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[4096];
    int lines = 0;
    bool quoted = false;
    while (fgets(line, sizeof line, f)) {
        lines++;
        if (strstr(line, "\"{\"\"userName\"\":\"\"a, \\\"\"b\\\"\"\"\""))
            quoted = true;
    }
    fclose(f);
    assert_int_equal(lines, 5);
    assert_true(quoted);
    free(csv);

    run(&r, &e, "receipts", "export", NULL, NULL, NULL);
    assert_int_equal(r.exit_code, 0);
    int n = 0;
    for (char *p = r.out.ptr; (p = strchr(p, '\n')); p++)
        n++;
    assert_int_equal(n, 4);
    gcs_test_run_release(&r);

    /* Tampering, done the way an attacker would, is named by verify. */
    assert_int_equal(gcs_store_exec_raw(s, "DROP TRIGGER receipts_no_update;"
                                           " UPDATE receipts SET status = 201 WHERE seq = 3"),
                     0);
    run(&r, &e, "receipts", "verify", NULL, NULL, NULL);
    assert_int_equal(r.exit_code, 5);
    assert_non_null(strstr(r.out.ptr, "receipt chain broken at receipt 3"));
    gcs_test_run_release(&r);
    run(&r, &e, "receipts", "verify", "--json", NULL, NULL);
    assert_int_equal(r.exit_code, 5);
    assert_non_null(strstr(r.out.ptr, "\"broken_seq\": 3"));
    gcs_test_run_release(&r);

    gcs_store_free(s);
    gcs_test_tmpdir_remove(e.dir);
    free(e.url);
}

static void runs_and_jobs_commands(void **state)
{
    (void)state;
    env e = {0};
    e.dir = gcs_test_tmpdir();
    assert_true(asprintf(&e.url, "sqlite:%s/s.db", e.dir) > 0);
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, e.url), 0);
    gcs_run run1;
    assert_int_equal(gcs_store_run_begin(&run1, s, "apply plan.json", "plan-1"), 0);
    const char *keys[] = {"emp-1", "emp-2"};
    assert_int_equal(gcs_store_items_add(s, run1.id, keys, 2), 0);
    assert_int_equal(gcs_store_item_mark(s, run1.id, "emp-1", GCS_ITEM_DONE, "gid-77", "created"), 0);
    int64_t jid;
    assert_int_equal(gcs_store_job_enqueue(&jid, s, "user:emp-1",
                                           "{\"active\":false,\"password\":\"Init-9999\"}", 1), 0);
    gcs_job j;
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_fail(s, jid, "w", "403 missing permission", 0), 0);

    gcs_test_run r;
    run(&r, &e, "runs", "list", NULL, NULL, NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out.ptr, run1.id));
    assert_non_null(strstr(r.out.ptr, "running"));
    gcs_test_run_release(&r);
    run(&r, &e, "runs", "show", run1.id, NULL, NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out.ptr, "gid-77"));
    assert_non_null(strstr(r.out.ptr, "1 done, 0 failed, 0 in progress, 1 pending"));
    gcs_test_run_release(&r);
    run(&r, &e, "runs", "show", run1.id, "--json", NULL);
    json_t *o = json_loads(r.out.ptr, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "item_list")), 2);
    assert_null(json_object_get(o, "lease"));
    json_decref(o);
    gcs_test_run_release(&r);
    /* While a process holds the plan, show names it. */
    assert_int_equal(gcs_store_lease_take(NULL, s, "plan-1", "hostA:4242:t", "hostA", 4242, 60000,
                                          NULL),
                     0);
    assert_int_equal(gcs_store_lease_renew(s, "plan-1", "hostA:4242:t", run1.id, 60000), 0);
    run(&r, &e, "runs", "show", run1.id, NULL, NULL);
    assert_non_null(strstr(r.out.ptr, "held by   pid 4242 on hostA since "));
    gcs_test_run_release(&r);
    run(&r, &e, "runs", "show", run1.id, "--json", NULL);
    o = json_loads(r.out.ptr, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "lease"), "pid")), 4242);
    json_decref(o);
    gcs_test_run_release(&r);

    run(&r, &e, "jobs", "list", "--state", "dead", NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out.ptr, "403 missing permission"));
    gcs_test_run_release(&r);
    run(&r, &e, "jobs", "show", "1", "--json", NULL);
    assert_non_null(strstr(r.out.ptr, "\"active\": false"));
    assert_null(strstr(r.out.ptr, "Init-9999"));
    gcs_test_run_release(&r);
    run(&r, &e, "jobs", "drop", "1", NULL, NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out.ptr, "job 1 is now dropped"));
    gcs_test_run_release(&r);
    run(&r, &e, "jobs", "drop", "1", NULL, NULL);
    assert_int_equal(r.exit_code, 1);
    assert_non_null(strstr(r.err.ptr, "job 1 is dropped: cannot drop it"));
    gcs_test_run_release(&r);
    run(&r, &e, "jobs", "retry", "1", NULL, NULL);
    assert_int_equal(r.exit_code, 0);
    gcs_test_run_release(&r);
    assert_int_equal(gcs_store_job_get(&j, s, 1), 0);
    assert_string_equal(j.state, GCS_JOB_PENDING);
    gcs_job_release(&j);

    gcs_run_release(&run1);
    gcs_store_free(s);
    gcs_test_tmpdir_remove(e.dir);
    free(e.url);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(receipts_commands),
        cmocka_unit_test(runs_and_jobs_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
