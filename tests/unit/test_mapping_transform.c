/* The value transforms and format checks on their own: phones, dates, emails, passwords. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/transform.h"

static void phone_ok(const char *in, const char *country, const char *want)
{
    char out[GCS_E164_SIZE];
    int rc = gcs_phone_to_e164(out, in, country);
    if (rc != 0)
        fail_msg("'%s' (country %s): %s", in, country ? country : "-", gcs_error_last());
    assert_string_equal(out, want);
}

static void phone_bad(const char *in, const char *country, const char *why)
{
    char out[GCS_E164_SIZE];
    assert_int_equal(gcs_phone_to_e164(out, in, country), GCS_EINVALID);
    if (!strstr(gcs_error_last(), why))
        fail_msg("'%s': message '%s' lacks '%s'", in, gcs_error_last(), why);
}

static void phones_to_e164(void **state)
{
    (void)state;
    /* North America: no trunk 0; 10 digits or 1 + 10 digits. */
    phone_ok("(555) 010-2345", "1", "+15550102345");
    phone_ok("555.010.2346", "1", "+15550102346");
    phone_ok("1 555 010 2348", "1", "+15550102348");
    phone_ok("+1 (555) 010-2349", "1", "+15550102349");
    /* International prefixes whatever the default country. */
    phone_ok("+44 20 7946 0958", "1", "+442079460958");
    phone_ok("0044 7700 900456", "1", "+447700900456");
    phone_ok("+44 (0)20 7946 0321", "1", "+442079460321");
    phone_ok("0033 (0)1 23 45 67 89", NULL, "+33123456789");
    /* National numbers with a trunk 0. */
    phone_ok("07700 900123", "44", "+447700900123");
    phone_ok("020 7946 0000", "44", "+442079460000");
    phone_ok("030/1234567", "49", "+49301234567");
    phone_ok("  0612345678 ", "33", "+33612345678");

    phone_bad("555-010", "1", "not a North American number");
    phone_bad("call me", "1", "not a phone number");
    phone_bad("+44 20 7946 0958 x12", "1", "not a phone number");
    phone_bad("07700 900123", NULL, "no default country");
    phone_bad("+0 123 4567", "1", "E.164");
    phone_bad("+1234567890123456", "1", "E.164");
    phone_bad("---", "1", "no digits");
}

static void date_ok(const char *in, const char *fmt, const char *want)
{
    char out[11];
    int rc = gcs_date_to_iso(out, in, fmt);
    if (rc != 0)
        fail_msg("'%s' with '%s': %s", in, fmt, gcs_error_last());
    assert_string_equal(out, want);
}

static void dates_to_iso(void **state)
{
    (void)state;
    char out[11];
    date_ok("03/15/2021", "%m/%d/%Y", "2021-03-15");
    date_ok("3/5/2021", "%m/%d/%Y", "2021-03-05");
    date_ok("15.03.2021", "%d.%m.%Y", "2021-03-15");
    date_ok("2021-03-15", "%Y-%m-%d", "2021-03-15");
    date_ok("15 Mar 2021", "%d %b %Y", "2021-03-15");
    date_ok("15  march 2021 ", "%d %B %Y", "2021-03-15");
    date_ok("29/02/24", "%d/%m/%y", "2024-02-29");
    date_ok("01/01/70", "%d/%m/%y", "1970-01-01");
    date_ok("20210315", "%Y%m%d", "2021-03-15");

    assert_int_equal(gcs_date_to_iso(out, "02/30/2021", "%m/%d/%Y"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "not a real date"));
    assert_int_equal(gcs_date_to_iso(out, "02/29/2023", "%m/%d/%Y"), GCS_EINVALID);
    assert_int_equal(gcs_date_to_iso(out, "2021-03-15", "%m/%d/%Y"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "does not match the date format"));
    assert_int_equal(gcs_date_to_iso(out, "03/15/2021x", "%m/%d/%Y"), GCS_EINVALID);
    assert_int_equal(gcs_date_to_iso(out, "13/01/2021", "%m/%d/%Y"), GCS_EINVALID);
    assert_int_equal(gcs_date_to_iso(out, "03/15/2021", "%m/%d/%Q"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "unknown directive"));
}

static void format_checks(void **state)
{
    (void)state;
    assert_true(gcs_is_email("ann.lee@example.com"));
    assert_true(gcs_is_email("a+tag@sub.example.co.uk"));
    assert_true(gcs_is_email("zo\xc3\xab@example.com"));
    assert_false(gcs_is_email("ann.lee@"));
    assert_false(gcs_is_email("@example.com"));
    assert_false(gcs_is_email("ann lee@example.com"));
    assert_false(gcs_is_email("ann@@example.com"));
    assert_false(gcs_is_email("ann@example"));
    assert_false(gcs_is_email("ann@-example.com"));
    assert_false(gcs_is_email("ann@example..com"));
    assert_false(gcs_is_email("ann..lee@example.com"));
    assert_false(gcs_is_email(".ann@example.com"));

    assert_true(gcs_is_e164("+15550102345"));
    assert_true(gcs_is_e164("+4420794600"));
    assert_false(gcs_is_e164("15550102345"));
    assert_false(gcs_is_e164("+05550102345"));
    assert_false(gcs_is_e164("+1555"));
    assert_false(gcs_is_e164("+1 555 010 2345"));

    assert_true(gcs_is_iso_date("2024-02-29"));
    assert_false(gcs_is_iso_date("2023-02-29"));
    assert_false(gcs_is_iso_date("2023-2-28"));
    assert_false(gcs_is_iso_date("2023-13-01"));

    size_t bad = 99;
    assert_true(gcs_utf8_valid("caf\xc3\xa9", 5, NULL));
    assert_false(gcs_utf8_valid("ab\xc0\xaf", 4, &bad)); /* overlong '/' */
    assert_int_equal(bad, 2);
    assert_false(gcs_utf8_valid("\xed\xa0\x80", 3, &bad)); /* a surrogate */
    assert_false(gcs_utf8_valid("a\0b", 3, &bad));
    assert_int_equal(bad, 1);
    assert_false(gcs_utf8_valid("\xe2\x82", 2, &bad)); /* truncated */
    assert_int_equal(gcs_utf8_length("caf\xc3\xa9"), 4);
}

static void passwords_meet_the_policy(void **state)
{
    (void)state;
    gcs_password_policy pol = {true, 20, 2, 2, 2, 2};
    char pw[21], prev[21] = "";
    for (int round = 0; round < 20; round++) {
        assert_int_equal(gcs_password_generate(pw, sizeof pw, &pol), 0);
        assert_int_equal(strlen(pw), 20);
        int lower = 0, upper = 0, digit = 0, symbol = 0;
        for (const char *p = pw; *p; p++) {
            if (*p >= 'a' && *p <= 'z')
                lower++;
            else if (*p >= 'A' && *p <= 'Z')
                upper++;
            else if (*p >= '0' && *p <= '9')
                digit++;
            else
                symbol++;
        }
        assert_true(lower >= 2 && upper >= 2 && digit >= 2 && symbol >= 2);
        assert_string_not_equal(pw, prev);
        memcpy(prev, pw, sizeof pw);
    }
    gcs_password_policy impossible = {true, 8, 3, 3, 3, 0};
    assert_int_equal(gcs_password_generate(pw, sizeof pw, &impossible), GCS_EINVALID);
    gcs_password_policy too_long = {true, 40, 1, 1, 1, 1};
    assert_int_equal(gcs_password_generate(pw, sizeof pw, &too_long), GCS_EINVALID);
}

int main(void)
{
    gcs_test_deadline(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(phones_to_e164),
        cmocka_unit_test(dates_to_iso),
        cmocka_unit_test(format_checks),
        cmocka_unit_test(passwords_meet_the_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
