/* CSV sources: RFC 4180 details, bad rows with their place, limits, streaming. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/source.h"

/* Reads everything; rows as "LINE:name=value|name=value" and bad rows as
 * "!LINE:COLUMN:message" lines, into one text. Returns the final code. */
static int read_all(gcs_source *src, gcs_buf *b)
{
    const gcs_row *row;
    int rc;
    while ((rc = gcs_source_next(&row, src)) != GCS_SOURCE_END) {
        if (rc == GCS_EINVALID) {
            const gcs_row_error *e = gcs_source_error(src);
            assert_int_equal(gcs_buf_printf(b, "!%lu:%u:%s\n", e->line, e->column, e->message), 0);
            continue;
        }
        if (rc < 0)
            return rc;
        assert_int_equal(gcs_buf_printf(b, "%lu:", row->line), 0);
        for (size_t i = 0; i < row->count; i++)
            assert_int_equal(gcs_buf_printf(b, "%s%s=%s", i ? "|" : "", row->fields[i].name, row->fields[i].value), 0);
        assert_int_equal(gcs_buf_putc(b, '\n'), 0);
    }
    return 0;
}

static char *read_text(const char *text, int *rc_out)
{
    gcs_source *src = NULL;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    int rc = gcs_source_open_mem(&src, "t.csv", text, strlen(text), GCS_SOURCE_CSV, NULL);
    if (rc == 0)
        rc = read_all(src, &b);
    else
        assert_int_equal(gcs_buf_printf(&b, "open: %s", gcs_error_last()), 0);
    gcs_source_free(src);
    if (rc_out)
        *rc_out = rc;
    return gcs_buf_detach(&b);
}

static void simple_rows_with_lines(void **state)
{
    (void)state;
    char *out = read_text("id,name\n1,Ann\n2,Bob\n", NULL);
    assert_string_equal(out, "2:id=1|name=Ann\n3:id=2|name=Bob\n");
    free(out);
}

static void quotes_and_embedded_newlines(void **state)
{
    (void)state;
    char *out = read_text("id,note,x\n1,\"say \"\"hi\"\", ok\",a\n2,\"two\nlines\",b\n3,c,d", NULL);
    assert_string_equal(out, "2:id=1|note=say \"hi\", ok|x=a\n"
                             "3:id=2|note=two\nlines|x=b\n"
                             "5:id=3|note=c|x=d\n");
    free(out);
}

static void crlf_and_blank_lines(void **state)
{
    (void)state;
    char *out = read_text("id,name\r\n1,Ann\r\n\r\n2,\"B\r\nob\"\r\n,\r\n", NULL);
    /* the ",\r\n" line has only empty fields: skipped like a blank line */
    assert_string_equal(out, "2:id=1|name=Ann\n4:id=2|name=B\r\nob\n");
    free(out);
}

static void bom_is_skipped(void **state)
{
    (void)state;
    char *out = read_text("\xEF\xBB\xBFid,name\n1,Ann\n", NULL);
    assert_string_equal(out, "2:id=1|name=Ann\n");
    free(out);
}

static void columns_per_field(void **state)
{
    (void)state;
    gcs_source *src;
    const char *text = "a,b,c\nx,y,z\n";
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", text, strlen(text), GCS_SOURCE_AUTO, NULL), 0);
    assert_int_equal(gcs_source_get_format(src), GCS_SOURCE_CSV);
    const gcs_row *row;
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_int_equal(gcs_row_find(row, "c")->column, 3);
    assert_string_equal(gcs_row_get(row, "b"), "y");
    assert_null(gcs_row_get(row, "nope"));
    size_t n;
    const char *const *h = gcs_source_header(src, &n);
    assert_int_equal(n, 3);
    assert_string_equal(h[1], "b");
    gcs_source_free(src);
}

static void bad_utf8_names_line_and_column(void **state)
{
    (void)state;
    char *out = read_text("id,name,dept\n1,Ann,Sales\n2,B\xC3\x28ob,Ops\n3,Cy,IT\n", NULL);
    assert_non_null(strstr(out, "2:id=1|name=Ann|dept=Sales\n"));
    assert_non_null(strstr(out, "!3:2:invalid UTF-8"));
    assert_non_null(strstr(out, "4:id=3|name=Cy|dept=IT\n"));
    free(out);

    /* The error text names file, line, column and field. */
    gcs_source *src;
    const char *text = "id,name\n1,\xff\n";
    assert_int_equal(gcs_source_open_mem(&src, "hr.csv", text, strlen(text), GCS_SOURCE_CSV, NULL), 0);
    const gcs_row *row;
    assert_int_equal(gcs_source_next(&row, src), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "hr.csv: line 2, column 2 (name): invalid UTF-8"));
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_END);
    assert_int_equal(gcs_source_rejected(src), 1);
    assert_int_equal(gcs_source_records(src), 1);
    gcs_source_free(src);
}

static void ragged_rows_are_reported_and_skipped(void **state)
{
    (void)state;
    char *out = read_text("a,b,c\n1,2,3\n1,2\n1,2,3,4\n7,8,9\n", NULL);
    assert_string_equal(out, "2:a=1|b=2|c=3\n"
                             "!3:0:2 fields where the header has 3\n"
                             "!4:0:4 fields where the header has 3\n"
                             "5:a=7|b=8|c=9\n");
    free(out);
}

static void malformed_quotes_are_a_bad_row(void **state)
{
    (void)state;
    char *out = read_text("a,b\n1,\"x\"y\n2,ok\n3,ab\"c\n4,fine\n", NULL);
    assert_non_null(strstr(out, "!2:"));
    assert_non_null(strstr(out, "malformed quoting"));
    assert_non_null(strstr(out, "3:a=2|b=ok\n"));
    assert_non_null(strstr(out, "5:a=4|b=fine\n"));
    free(out);
}

static void unclosed_quote_at_end(void **state)
{
    (void)state;
    char *out = read_text("a,b\n1,2\n3,\"open\n", NULL);
    assert_non_null(strstr(out, "2:a=1|b=2\n"));
    assert_non_null(strstr(out, "!3:2:quoted field not closed"));
    free(out);
}

static void header_problems_fail_open(void **state)
{
    (void)state;
    int rc;
    char *out = read_text("id,name,id\n1,2,3\n", &rc);
    assert_int_equal(rc, GCS_EINVALID);
    assert_non_null(strstr(out, "field name 'id' appears twice"));
    free(out);
    out = read_text("id,,x\n", &rc);
    assert_int_equal(rc, GCS_EINVALID);
    assert_non_null(strstr(out, "empty field name"));
    free(out);
    out = read_text("", &rc);
    assert_int_equal(rc, GCS_EINVALID);
    assert_non_null(strstr(out, "no header row"));
    free(out);
    out = read_text("\n\n", &rc);
    assert_int_equal(rc, GCS_EINVALID);
    free(out);
    out = read_text("i\xff" "d,x\n", &rc);
    assert_int_equal(rc, GCS_EINVALID);
    assert_non_null(strstr(out, "not valid UTF-8"));
    free(out);
}

static void limits_on_fields_and_records(void **state)
{
    (void)state;
    gcs_source_options opt = {.max_field = 8, .max_record = 64, .max_fields = 4};
    gcs_source *src;
    const char *text = "a,b\nshort,ok\nthis-is-too-long,ok\nfine,ok\n";
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", text, strlen(text), GCS_SOURCE_CSV, &opt), 0);
    const gcs_row *row;
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_int_equal(gcs_source_next(&row, src), GCS_EINVALID);
    assert_non_null(strstr(gcs_source_error(src)->message, "longer than 8 bytes"));
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(gcs_row_get(row, "a"), "fine");
    gcs_source_free(src);

    /* A record past max_record (an unclosed quote) stops the file. */
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_buf_puts(&b, "a,b\n1,\""), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(gcs_buf_puts(&b, "0123456789\n"), 0);
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", b.ptr, b.len, GCS_SOURCE_CSV, &opt), 0);
    int rc = gcs_source_next(&row, src);
    assert_int_equal(rc, GCS_ERROR);
    assert_non_null(strstr(gcs_error_last(), "record larger than 64 bytes"));
    assert_int_equal(gcs_source_next(&row, src), GCS_ERROR); /* sticky */
    gcs_source_free(src);
    gcs_buf_release(&b);

    /* Too many header fields. */
    const char *wide = "a,b,c,d,e\n";
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", wide, strlen(wide), GCS_SOURCE_CSV, &opt),
                     GCS_EINVALID);
}

static void other_delimiters(void **state)
{
    (void)state;
    gcs_source_options semi = {.delimiter = ';'}, tab = {.delimiter = '\t'}, bad = {.delimiter = '"'};
    const char *text = "id;name\n1;\"Lee; Ann\"\n";
    gcs_source *src;
    const gcs_row *row;
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", text, strlen(text), GCS_SOURCE_CSV, &semi), 0);
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(gcs_row_get(row, "name"), "Lee; Ann");
    gcs_source_free(src);
    text = "id\tname\n1\t Ann Lee \n2\t\n";
    assert_int_equal(gcs_source_open_mem(&src, "t.tsv", text, strlen(text), GCS_SOURCE_CSV, &tab), 0);
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(gcs_row_get(row, "name"), "Ann Lee");
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(gcs_row_get(row, "id"), "2");
    assert_string_equal(gcs_row_get(row, "name"), "");
    gcs_source_free(src);
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", text, strlen(text), GCS_SOURCE_CSV, &bad),
                     GCS_EINVALID);
}

static void files_by_extension_and_missing(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *path = gcs_test_write_file(dir, "people.csv", "id\n1\n");
    gcs_source *src;
    assert_int_equal(gcs_source_open(&src, path, GCS_SOURCE_AUTO, NULL), 0);
    assert_int_equal(gcs_source_get_format(src), GCS_SOURCE_CSV);
    const gcs_row *row;
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(row->file, path);
    gcs_source_free(src);
    assert_int_equal(gcs_source_open(&src, "/nonexistent/x.csv", GCS_SOURCE_AUTO, NULL), GCS_EIO);
    /* "-" is standard input. */
    FILE *saved = stdin;
    stdin = fopen(path, "rb");
    assert_int_equal(gcs_source_open(&src, "-", GCS_SOURCE_AUTO, NULL), 0);
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(row->file, "<stdin>");
    assert_string_equal(gcs_row_get(row, "id"), "1");
    gcs_source_free(src);
    fclose(stdin);
    stdin = saved;
    assert_non_null(strstr(gcs_error_last(), "/nonexistent/x.csv"));
    free(path);
    gcs_test_tmpdir_remove(dir);
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

/* 200,000 rows (~20 MB) read with memory that does not grow with the file. */
static void streams_large_files(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/big.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("employee_number,first_name,last_name,email,department,notes\n", f);
    for (int i = 0; i < 200000; i++)
        fprintf(f, "%06d,First%d,Last%d,person%d@example.com,Dept %d,\"a note, with comma\"\n",
                i, i, i, i, i % 40);
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
        if (n == 199999)
            assert_string_equal(gcs_row_get(row, "email"), "person199998@example.com");
    }
    assert_int_equal(rc, GCS_SOURCE_END);
    assert_int_equal(n, 200000);
    assert_int_equal(gcs_source_records(src), 200000);
    gcs_source_free(src);
    size_t growth = peak > before ? peak - before : 0;
    print_message("peak heap growth reading 200000 rows: %zu KiB\n", growth / 1024);
    /* The file is ~15 MB; one row at a time stays far below 1 MB. */
    assert_true(growth < 1024 * 1024);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_rows_with_lines),
        cmocka_unit_test(quotes_and_embedded_newlines),
        cmocka_unit_test(crlf_and_blank_lines),
        cmocka_unit_test(bom_is_skipped),
        cmocka_unit_test(columns_per_field),
        cmocka_unit_test(bad_utf8_names_line_and_column),
        cmocka_unit_test(ragged_rows_are_reported_and_skipped),
        cmocka_unit_test(malformed_quotes_are_a_bad_row),
        cmocka_unit_test(unclosed_quote_at_end),
        cmocka_unit_test(header_problems_fail_open),
        cmocka_unit_test(limits_on_fields_and_records),
        cmocka_unit_test(other_delimiters),
        cmocka_unit_test(files_by_extension_and_missing),
        cmocka_unit_test(streams_large_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
