/* The golden outputs' normaliser and comparison (tests/support/golden.h): each
 * rule replaces what varies between two runs and nothing else. */
#include "gcstest.h"
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void normalised(const char *in, const gcs_test_golden_vars *vars, const char *want)
{
    char *got = gcs_test_golden_normalise(in, vars);
    if (strcmp(got, want) != 0)
        fail_msg("normalised '%s'\n  got:  '%s'\n  want: '%s'", in, got, want);
    free(got);
}

static void what_varies_is_replaced(void **state)
{
    (void)state;
    const gcs_test_golden_vars vars = {"/src/tests/data/scenarios/x", "/tmp/gcstest.Ab12", 33481};
    normalised("Saved the plan to /tmp/gcstest.Ab12/plan.json", &vars,
               "Saved the plan to {tmp}/plan.json");
    normalised("! rejected /src/tests/data/scenarios/x/hr.csv:5 field email", &vars,
               "! rejected {data}/hr.csv:5 field email");
    normalised("(run 20261130T081237Z-d09d13c4).", &vars, "(run {run}).");
    normalised("\"finished\":\"2026-11-30T08:12:37.453Z\"", &vars, "\"finished\":\"{time}\"");
    normalised("2026-11-30T08:12:20Z warn  token.failed", &vars, "{time} warn  token.failed");
    normalised("at 2026-11-30 08:12:20+01:00.", &vars, "at {time}.");
    normalised("id=b03b4bd8-4a23-4275-a659-d6a7f223e776 version", &vars, "id={id} version");
    normalised("\"identity\":\"9341fe1c52f5982780a5afce8314cbce0079eeeada7cd2255907c6fe8423fd5e\"",
               &vars, "\"identity\":\"{digest}\"");
    normalised("was made for http://127.0.0.1:33481 but", &vars,
               "was made for http://127.0.0.1:{port} but");
    normalised("http://localhost:33481/api", &vars, "http://localhost:{port}/api");
    normalised("retry after 599 s; took 12ms, 0.25 s", &vars,
               "retry after {duration}; took {duration}, {duration}");
    normalised("at 12.5/s.", &vars, "at {rate}.");
}

static void what_does_not_vary_is_left_alone(void **state)
{
    (void)state;
    const gcs_test_golden_vars vars = {"/src/x", "/tmp/t", 3348};
    const char *same[] = {
        "+ create E1 (ann@example.com)",
        "3 unchanged, 1 skipped, 1 rejected.",
        "Canary: 3 operations first, then the rest.",
        "\"requests\":3,\"read\":4",
        "port :33481 is another port", /* the port is 3348: a longer number is not it */
        "12 seconds",                  /* not a unit of its own */
        "E2s 5sx 10 sec",
        /* 63 and 65 hex digits are not a digest; upper-case is not a Genesys id */
        "9341fe1c52f5982780a5afce8314cbce0079eeeada7cd2255907c6fe8423fd5",
        "9341fe1c52f5982780a5afce8314cbce0079eeeada7cd2255907c6fe8423fd5ee",
        "B03B4BD8-4A23-4275-A659-D6A7F223E776",
        "2026-11-30",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        normalised(same[i], &vars, same[i]);
    normalised("", NULL, "");
    normalised("no vars: /tmp/t stays", NULL, "no vars: /tmp/t stays");
}

static void a_golden_file_is_compared_whole(void **state)
{
    (void)state;
    unsetenv("GCS_UPDATE_GOLDEN");
    char *dir = gcs_test_tmpdir();
    char *path = gcs_test_write_file(dir, "out.txt", "one\ntwo\nthree\n");
    assert_null(gcs_test_golden_check(path, "one\ntwo\nthree\n"));
    char *msg = gcs_test_golden_check(path, "one\ntwo\nthreE\n");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "differs at line 3"));
    free(msg);
    msg = gcs_test_golden_check(path, "one\ntwo\nthree\nfour\n");
    assert_non_null(strstr(msg, "differs at line 4"));
    free(msg);
    msg = gcs_test_golden_check(path, "one\n");
    assert_non_null(msg);
    free(msg);
    /* Rewritten on demand, then equal. */
    setenv("GCS_UPDATE_GOLDEN", "1", 1);
    assert_null(gcs_test_golden_check(path, "new\n"));
    unsetenv("GCS_UPDATE_GOLDEN");
    assert_null(gcs_test_golden_check(path, "new\n"));
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/none.txt", dir);
    msg = gcs_test_golden_check(missing, "");
    assert_non_null(strstr(msg, "is missing"));
    free(msg);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    gcs_test_deadline(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(what_varies_is_replaced),
        cmocka_unit_test(what_does_not_vary_is_left_alone),
        cmocka_unit_test(a_golden_file_is_compared_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
