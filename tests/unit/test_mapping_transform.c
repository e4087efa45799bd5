/* The value transforms on their own, where a profile cannot reach: phones, dates, UTF-8, passwords. */
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

/* What a profile cannot ask for: a phone without a default country (a profile
 * with the phone transform must name one), a date format with an unknown
 * directive (a profile refuses it sooner), and the UTF-8 checks on bytes. The
 * rest (phones and dates by country and format, emails, E.164 and ISO dates)
 * is data: tests/data/mapping/cases/{phones,dates}-*, email-addresses,
 * e164-numbers, iso-dates. */
static void phones_without_a_default_country(void **state)
{
    (void)state;
    phone_ok("0033 (0)1 23 45 67 89", NULL, "+33123456789");
    phone_bad("07700 900123", NULL, "no default country");
}

static void date_format_with_an_unknown_directive(void **state)
{
    (void)state;
    char out[11];
    assert_int_equal(gcs_date_to_iso(out, "03/15/2021", "%m/%d/%Q"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "unknown directive"));
}

static void utf8_checks(void **state)
{
    (void)state;
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
        cmocka_unit_test(phones_without_a_default_country),
        cmocka_unit_test(date_format_with_an_unknown_directive),
        cmocka_unit_test(utf8_checks),
        cmocka_unit_test(passwords_meet_the_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
