/* The pure parts of gcscim doctor: clock thresholds, rejection reasons, the
 * cost of a sync, the report's JSON and exit rule. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "engine/doctor.h"

static void clock_within_a_minute_is_ok(void **state)
{
    (void)state;
    assert_int_equal(gcs_doctor_clock_status(0), GCS_DOCTOR_OK);
    assert_int_equal(gcs_doctor_clock_status(60), GCS_DOCTOR_OK);
    assert_int_equal(gcs_doctor_clock_status(-60), GCS_DOCTOR_OK);
}

static void clock_over_a_minute_warns_over_five_fails(void **state)
{
    (void)state;
    assert_int_equal(gcs_doctor_clock_status(61), GCS_DOCTOR_WARN);
    assert_int_equal(gcs_doctor_clock_status(-300), GCS_DOCTOR_WARN);
    assert_int_equal(gcs_doctor_clock_status(301), GCS_DOCTOR_FAIL);
    assert_int_equal(gcs_doctor_clock_status(-86400), GCS_DOCTOR_FAIL);
}

static void reasons_hide_the_values(void **state)
{
    (void)state;
    char *r = gcs_doctor_reason("roles: role 'Wizard' does not exist in the organisation");
    assert_string_equal(r, "roles: role '...' does not exist in the organisation");
    free(r);
    r = gcs_doctor_reason("roles: role 'agent' does not exist (names are case-sensitive: 'Agent' does)");
    assert_string_equal(r, "roles: role '...' does not exist (names are case-sensitive: '...' does)");
    free(r);
    /* Short values, empty values and an unmatched quote. */
    r = gcs_doctor_reason("x: 'ab' and '' and it's");
    assert_string_equal(r, "x: '..' and '' and it's");
    free(r);
}

static void sync_cost_reads_pages_and_writes_rows(void **state)
{
    (void)state;
    gcs_doctor_cost c;
    /* 1,000 active users at 100 a page, 30 inactive, 2 name lists, 900 rows, 300/min. */
    gcs_doctor_sync_cost(&c, 1000, 30, 100, 2, 900, 300);
    assert_int_equal(c.reads, 10 + 1 + 2);
    assert_int_equal(c.writes_worst, 900);
    assert_true(c.minutes > 3.0 && c.minutes < 3.1);
    /* An empty organisation still costs a request per listing; no limit known: -1. */
    gcs_doctor_sync_cost(&c, 0, 0, 25, 0, 0, 0);
    assert_int_equal(c.reads, 2);
    assert_true(c.minutes < 0);
}

static void report_fails_only_on_a_failed_check(void **state)
{
    (void)state;
    gcs_doctor_report r = {0};
    r.cap = 2;
    r.checks = calloc(2, sizeof *r.checks);
    r.checks[0] = (gcs_doctor_check){strdup("clock"), GCS_DOCTOR_WARN, strdup("70 s"), strdup("NTP"), NULL};
    r.checks[1] = (gcs_doctor_check){strdup("serve"), GCS_DOCTOR_SKIPPED, strdup("later"), NULL, NULL};
    r.count = 2;
    assert_false(gcs_doctor_failed(&r));
    json_t *doc = gcs_doctor_report_json(&r);
    assert_true(json_is_true(json_object_get(doc, "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "summary"), "warn")), 1);
    json_t *first = json_array_get(json_object_get(doc, "checks"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "status")), "warn");
    assert_string_equal(json_string_value(json_object_get(first, "advice")), "NTP");
    assert_null(json_object_get(json_array_get(json_object_get(doc, "checks"), 1), "advice"));
    json_decref(doc);
    r.checks[1].status = GCS_DOCTOR_FAIL;
    assert_true(gcs_doctor_failed(&r));
    gcs_doctor_report_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clock_within_a_minute_is_ok),
        cmocka_unit_test(clock_over_a_minute_warns_over_five_fails),
        cmocka_unit_test(reasons_hide_the_values),
        cmocka_unit_test(sync_cost_reads_pages_and_writes_rows),
        cmocka_unit_test(report_fails_only_on_a_failed_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
