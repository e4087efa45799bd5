/* gcs_buf: growth, the hard maximum, JSON escaping. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void grows_and_stays_terminated(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_non_null(b.ptr);
    assert_string_equal(b.ptr, "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(gcs_buf_printf(&b, "%d,", i), 0);
    assert_int_equal(b.len, strlen(b.ptr));
    assert_true(strncmp(b.ptr, "0,1,2,", 6) == 0);
    gcs_buf_release(&b);
    assert_string_equal(b.ptr, "");
}

static void maximum_is_enforced_without_damage(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 8);
    assert_int_equal(gcs_buf_puts(&b, "12345"), 0);
    assert_int_equal(gcs_buf_puts(&b, "6789"), GCS_EINVALID);
    assert_string_equal(b.ptr, "12345");
    assert_int_equal(gcs_buf_puts(&b, "678"), 0);
    assert_string_equal(b.ptr, "12345678");
    gcs_buf_release(&b);
}

static void json_escaping(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_buf_put_json_escaped(&b, "a\"b\\c\nd\x01"), 0);
    assert_string_equal(b.ptr, "a\\\"b\\\\c\\nd\\u0001");
    char *s = gcs_buf_detach(&b);
    assert_string_equal(b.ptr, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grows_and_stays_terminated),
        cmocka_unit_test(maximum_is_enforced_without_damage),
        cmocka_unit_test(json_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
