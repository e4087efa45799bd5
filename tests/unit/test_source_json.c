/* JSON sources: arrays and NDJSON, value conversion, bad elements, framing, streaming. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/source.h"

/* Rows as "LINE:name=value|..." and bad rows as "!LINE:message"; a fatal
 * error ends the text with "FATAL:message". */
static char *read_text(const char *name, const char *text, gcs_source_format fmt,
                       const gcs_source_options *opt)
{
    gcs_source *src = NULL;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    int rc = gcs_source_open_mem(&src, name, text, strlen(text), fmt, opt);
    if (rc < 0) {
        assert_int_equal(gcs_buf_printf(&b, "OPEN:%s", gcs_error_last()), 0);
        return gcs_buf_detach(&b);
    }
    const gcs_row *row;
    while ((rc = gcs_source_next(&row, src)) != GCS_SOURCE_END) {
        if (rc == GCS_EINVALID) {
            assert_int_equal(gcs_buf_printf(&b, "!%lu:%s\n", gcs_source_error(src)->line,
                           gcs_source_error(src)->message), 0);
            continue;
        }
        if (rc < 0) {
            assert_int_equal(gcs_buf_printf(&b, "FATAL:%s", gcs_error_last()), 0);
            break;
        }
        assert_int_equal(gcs_buf_printf(&b, "%lu:", row->line), 0);
        for (size_t i = 0; i < row->count; i++)
            assert_int_equal(gcs_buf_printf(&b, "%s%s=%s", i ? "|" : "", row->fields[i].name, row->fields[i].value), 0);
        assert_int_equal(gcs_buf_putc(&b, '\n'), 0);
    }
    gcs_source_free(src);
    return gcs_buf_detach(&b);
}

/* Reads `text` to its end or to a fatal error; returns gcs_source_clean then,
 * with the number of rejected rows. clean must be false until the end. */
static bool clean_after_reading(const char *name, const char *text, gcs_source_format fmt,
                                const gcs_source_options *opt, unsigned long *rejected)
{
    gcs_source *src;
    const gcs_row *row;
    int rc;
    assert_int_equal(gcs_source_open_mem(&src, name, text, strlen(text), fmt, opt), 0);
    assert_false(gcs_source_clean(src));
    while ((rc = gcs_source_next(&row, src)) == GCS_SOURCE_ROW || rc == GCS_EINVALID)
        assert_false(gcs_source_clean(src));
    bool clean = gcs_source_clean(src);
    /* Asking again changes nothing: END stays END, a fatal error stays. */
    assert_int_equal(gcs_source_next(&row, src), rc);
    assert_int_equal(gcs_source_clean(src), clean);
    *rejected = gcs_source_rejected(src);
    gcs_source_free(src);
    return clean;
}

static void clean_end(void **state)
{
    (void)state;
    unsigned long rejected;
    assert_true(clean_after_reading("p.json", "[{\"id\":\"1\"}, 7, {\"id\":\"2\"}]",
                                    GCS_SOURCE_JSON, NULL, &rejected));
    assert_int_equal(rejected, 1);
    assert_true(clean_after_reading("p.json", "[]", GCS_SOURCE_JSON, NULL, &rejected));
    assert_true(clean_after_reading("p.jsonl", "{\"id\":1}\n{bad\n{\"id\":2}\n",
                                    GCS_SOURCE_NDJSON, NULL, &rejected));
    assert_int_equal(rejected, 1);
    assert_false(clean_after_reading("p.json", "[{\"id\":\"1\"} {\"id\":\"2\"}]",
                                     GCS_SOURCE_JSON, NULL, &rejected));
    assert_false(clean_after_reading("p.json", "[{\"id\":\"1\"},\n{\"id\":\"2\"",
                                     GCS_SOURCE_JSON, NULL, &rejected));
    assert_false(clean_after_reading("p.json", "[{\"id\":\"1\"}", GCS_SOURCE_JSON, NULL,
                                     &rejected));
    assert_false(clean_after_reading("p.json", "[{\"id\":\"1\"}] trailing", GCS_SOURCE_JSON,
                                     NULL, &rejected));
}

static void array_of_objects(void **state)
{
    (void)state;
    char *out = read_text("p.json",
                          "[\n  {\"id\": \"1\", \"name\": \"Ann\"},\n  {\"id\": 2, \"name\": \"B\\u00f6b\"}\n]\n",
                          GCS_SOURCE_AUTO, NULL);
    assert_string_equal(out, "2:id=1|name=Ann\n3:id=2|name=B\xc3\xb6" "b\n");
    free(out);
}

static void scalars_become_text_nested_stays_json(void **state)
{
    (void)state;
    char *out = read_text("p.json",
                          "[{\"n\":42,\"r\":4.5,\"t\":true,\"f\":false,\"z\":null,"
                          "\"l\":[\"a\",\"b\"],\"o\":{\"k\":1}}]",
                          GCS_SOURCE_AUTO, NULL);
    assert_string_equal(out, "1:n=42|r=4.5|t=true|f=false|z=|l=[\"a\",\"b\"]|o={\"k\":1}\n");
    free(out);
}

static void bad_element_in_the_middle_is_skipped(void **state)
{
    (void)state;
    char *out = read_text("p.json",
                          "[\n{\"id\":\"1\"},\n{\"id\": tru},\n\"just a string\",\n"
                          "{\"id\":\"1\",\"id\":\"2\"},\n{\"id\":\"4\", \"s\": \"a]b}c\\\"d\"}\n]",
                          GCS_SOURCE_JSON, NULL);
    assert_string_equal(out, "2:id=1\n"
                             "!3:invalid JSON: invalid token near 'tru'\n"
                             "!4:expected an object, found a string\n"
                             "!5:invalid JSON: duplicate object key near '\"id\"'\n"
                             "6:id=4|s=a]b}c\"d\n");
    free(out);
}

static void broken_framing_stops(void **state)
{
    (void)state;
    char *out = read_text("p.json", "[{\"id\":\"1\"} {\"id\":\"2\"}]", GCS_SOURCE_JSON, NULL);
    assert_string_equal(out, "1:id=1\nFATAL:p.json: line 1: expected ',' or ']' after an element");
    free(out);
    out = read_text("p.json", "[{\"id\":\"1\"},\n{\"id\":\"2\"", GCS_SOURCE_JSON, NULL);
    assert_non_null(strstr(out, "FATAL:p.json: line 2: the file ends inside the element"));
    free(out);
    out = read_text("p.json", "[{\"id\":\"1\"},]", GCS_SOURCE_JSON, NULL);
    assert_non_null(strstr(out, "FATAL:"));
    free(out);
    out = read_text("p.json", "[{\"id\":\"1\"}] trailing", GCS_SOURCE_JSON, NULL);
    assert_non_null(strstr(out, "FATAL:p.json: line 1: text after the end of the array"));
    free(out);
    out = read_text("p.json", "\"not an array\"", GCS_SOURCE_JSON, NULL);
    assert_non_null(strstr(out, "OPEN:"));
    free(out);
    out = read_text("p.json", "[]", GCS_SOURCE_JSON, NULL);
    assert_string_equal(out, "");
    free(out);
}

static void ndjson_lines(void **state)
{
    (void)state;
    char *out = read_text("p.jsonl",
                          "{\"id\":\"1\"}\n\n{\"id\":\n{\"id\":\"3\"}\r\n[1,2]\n{\"id\":\"5\"}",
                          GCS_SOURCE_AUTO, NULL);
    assert_string_equal(out, "1:id=1\n"
                             "!3:invalid JSON: unexpected token near end of file\n"
                             "4:id=3\n"
                             "!5:expected an object, found an array\n"
                             "6:id=5\n");
    free(out);
    /* .json holding objects per line is detected as NDJSON too. */
    out = read_text("p.json", "{\"a\":1}\n{\"a\":2}\n", GCS_SOURCE_AUTO, NULL);
    assert_string_equal(out, "1:a=1\n2:a=2\n");
    free(out);
}

static void limits(void **state)
{
    (void)state;
    gcs_source_options opt = {.max_field = 4, .max_record = 40, .max_fields = 2};
    char *out = read_text("p.json",
                          "[{\"a\":\"toolong\"},{\"a\":\"ok\"},{\"a\":1,\"b\":2,\"c\":3},"
                          "{\"a\":\"0123456789012345678901234567890123456789\"},{\"a\":\"end\"}]",
                          GCS_SOURCE_JSON, &opt);
    assert_string_equal(out, "!1:value longer than 4 bytes\n"
                             "1:a=ok\n"
                             "!1:more than 2 fields\n"
                             "!1:element larger than 40 bytes\n"
                             "1:a=end\n");
    free(out);
    out = read_text("p.jsonl", "{\"a\":\"0123456789012345678901234567890123456789\"}\n{\"a\":\"x\"}\n",
                    GCS_SOURCE_AUTO, &opt);
    assert_string_equal(out, "!1:line longer than 40 bytes\n2:a=x\n");
    free(out);
}

static void nul_in_a_string_is_refused(void **state)
{
    (void)state;
    char *out = read_text("p.jsonl", "{\"a\":\"x\\u0000y\"}\n{\"a\":\"ok\"}\n", GCS_SOURCE_AUTO, NULL);
    assert_non_null(strstr(out, "!1:invalid JSON"));
    assert_non_null(strstr(out, "2:a=ok"));
    free(out);
}

/* Bytes currently allocated on the heap: the sanitizer's count under ASan
 * (whose quarantine keeps freed memory resident, so RSS says nothing there),
 * glibc's otherwise. */
#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void); /* the ASan runtime's */
static size_t live_heap(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
#include <malloc.h>
static size_t live_heap(void)
{
    return mallinfo2().uordblks;
}
#endif

static void streams_a_large_array(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/big.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[\n", f);
    for (int i = 0; i < 100000; i++)
        fprintf(f, "%s{\"employee_number\":%d,\"email\":\"person%d@example.com\",\"skills\":[\"A\",\"B\"]}\n",
                i ? "," : "", i, i);
    fputs("]\n", f);
    fclose(f);
    size_t before = live_heap(), peak = 0;
    gcs_source *src;
    assert_int_equal(gcs_source_open(&src, path, GCS_SOURCE_AUTO, NULL), 0);
    const gcs_row *row;
    int rc;
    unsigned long n = 0;
    while ((rc = gcs_source_next(&row, src)) == GCS_SOURCE_ROW) {
        if (++n % 1000 == 0 && live_heap() > peak)
            peak = live_heap();
    }
    assert_int_equal(rc, GCS_SOURCE_END);
    assert_int_equal(n, 100000);
    gcs_source_free(src);
    size_t growth = peak > before ? peak - before : 0;
    print_message("peak heap growth reading 100000 JSON elements: %zu KiB\n", growth / 1024);
    /* ~8 MB of input: one element at a time stays far below 1 MB. */
    assert_true(growth < 1024 * 1024);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(array_of_objects),
        cmocka_unit_test(clean_end),
        cmocka_unit_test(scalars_become_text_nested_stays_json),
        cmocka_unit_test(bad_element_in_the_middle_is_skipped),
        cmocka_unit_test(broken_framing_stops),
        cmocka_unit_test(ndjson_lines),
        cmocka_unit_test(limits),
        cmocka_unit_test(nul_in_a_string_is_refused),
        cmocka_unit_test(streams_a_large_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
