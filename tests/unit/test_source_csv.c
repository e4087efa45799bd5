/* CSV sources: RFC 4180 details, bad rows with their place, limits, streaming. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/source.h"

/* Reads everything; rows as "LINE:name=value|name=value", bad rows as
 * "!LINE:COLUMN:message" and a fatal error as "#message" lines, into one
 * text. Returns the final code. */
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
        if (rc < 0) {
            assert_int_equal(gcs_buf_printf(b, "#%s\n", gcs_error_last()), 0);
            return rc;
        }
        assert_int_equal(gcs_buf_printf(b, "%lu:", row->line), 0);
        for (size_t i = 0; i < row->count; i++)
            assert_int_equal(gcs_buf_printf(b, "%s%s=%s", i ? "|" : "", row->fields[i].name, row->fields[i].value), 0);
        assert_int_equal(gcs_buf_putc(b, '\n'), 0);
    }
    return 0;
}

static char *read_text_opt(const char *text, const gcs_source_options *opt, int *rc_out)
{
    gcs_source *src = NULL;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    int rc = gcs_source_open_mem(&src, "t.csv", text, strlen(text), GCS_SOURCE_CSV, opt);
    if (rc == 0)
        rc = read_all(src, &b);
    else
        assert_int_equal(gcs_buf_printf(&b, "open: %s", gcs_error_last()), 0);
    gcs_source_free(src);
    if (rc_out)
        *rc_out = rc;
    return gcs_buf_detach(&b);
}

static char *read_text(const char *text, int *rc_out)
{
    return read_text_opt(text, NULL, rc_out);
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
    assert_true(clean_after_reading("t.csv", "a,b\n1,2\n", GCS_SOURCE_CSV, NULL, &rejected));
    assert_int_equal(rejected, 0);
    assert_true(clean_after_reading("t.csv", "a,b\n", GCS_SOURCE_CSV, NULL, &rejected));
    /* Bad rows are skipped and counted; the file is still read to its end. */
    assert_true(clean_after_reading("t.csv", "a,b\n1,2\n3\n4,x\"y\n5,6", GCS_SOURCE_CSV, NULL,
                                    &rejected));
    assert_int_equal(rejected, 2);
    /* Stray quotes: not read to the end. */
    assert_false(clean_after_reading("t.csv", "a,b\n1,\"open\n2,3\n", GCS_SOURCE_CSV, NULL,
                                     &rejected));
    assert_int_equal(rejected, 0);
    gcs_source_options two = {.max_field_lines = 2};
    assert_false(clean_after_reading("t.csv", "a,b\n1,\"x\n2,3\n4,5\n6,\"y\"\n", GCS_SOURCE_CSV,
                                     &two, &rejected));
    gcs_source_options small = {.max_record = 16, .max_field = 64};
    assert_false(clean_after_reading("t.csv", "a,b\n1,0123456789abcdefghij\n", GCS_SOURCE_CSV,
                                     &small, &rejected));
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

/* A bad row still says whose it is: the values read before it went wrong. */
static void bad_rows_keep_the_values_read(void **state)
{
    (void)state;
    const char *text = "id,name,mail\n"
                       "E1,Ann,a@x\n"
                       "E2,Bob,b@x,extra\n"
                       "E3,Co\"le,c@x\n"
                       "E4,Dee,d@x\n";
    gcs_source *src = NULL;
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", text, strlen(text), GCS_SOURCE_CSV, NULL), 0);
    const gcs_row *row;
    const char *values[8];
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_int_equal(gcs_source_bad_values(src, values, 8), 0);
    assert_int_equal(gcs_source_next(&row, src), GCS_EINVALID); /* ragged: the header's columns */
    assert_int_equal(gcs_source_bad_values(src, values, 8), 3);
    assert_string_equal(values[0], "E2");
    assert_string_equal(values[2], "b@x");
    assert_int_equal(gcs_source_bad_values(src, values, 2), 2);
    assert_int_equal(gcs_source_next(&row, src), GCS_EINVALID); /* a quote inside a field */
    assert_true(gcs_source_bad_values(src, values, 8) >= 1);
    assert_string_equal(values[0], "E3");
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(gcs_row_get(row, "id"), "E4");
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
    int rc;
    /* A quote in the middle of an unquoted field, and text after the closing
     * quote of a one-line field: one bad row each, with line and column; the
     * next rows are read as they are. */
    char *out = read_text("a,b\n1,\"x\"y\n2,ok\n3,ab\"c\n4,fine\nab\"c,\"d\"\n5,\"last\"\n", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "!2:2:malformed quoting (a quote inside an unquoted field, or text "
                             "after a closing quote)\n"
                             "3:a=2|b=ok\n"
                             "!4:2:malformed quoting (a quote inside an unquoted field, or text "
                             "after a closing quote)\n"
                             "5:a=4|b=fine\n"
                             "!6:1:malformed quoting (a quote inside an unquoted field, or text "
                             "after a closing quote)\n"
                             "7:a=5|b=last\n");
    free(out);

    /* The whole message names the file, line and column. */
    gcs_source *src;
    const gcs_row *row;
    const char *text = "id,title\n1,Agent\n2,Team \"A\" lead\n3,Manager\n";
    assert_int_equal(gcs_source_open_mem(&src, "export.csv", text, strlen(text), GCS_SOURCE_CSV,
                                         NULL), 0);
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_int_equal(gcs_source_next(&row, src), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "export.csv: line 3, column 2: malformed quoting"));
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_string_equal(gcs_row_get(row, "title"), "Manager");
    assert_int_equal(row->line, 4);
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_END);
    assert_int_equal(gcs_source_rejected(src), 1);
    gcs_source_free(src);
}

/* A line with malformed quoting that straddles two reads of the file: the
 * rest of the line, in the next read, is not a row of its own. */
static void malformed_line_across_reads(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/edge.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    long pos = fprintf(f, "a,b\n");
    int rows = 0;
    while (pos < 65536 - 100) {
        pos += fprintf(f, "r%d,v\n", rows);
        rows++;
    }
    /* The quote is before the 64 KiB boundary, ",zz" after it. */
    fputs("bad,ab\"c", f);
    pos += 9;
    while (pos < 65536 + 50) {
        fputc('x', f);
        pos++;
    }
    fputs(",zz\nlast,row\n", f);
    fclose(f);

    gcs_source *src;
    const gcs_row *row;
    int rc, good = 0, bad = 0;
    assert_int_equal(gcs_source_open(&src, path, GCS_SOURCE_CSV, NULL), 0);
    while ((rc = gcs_source_next(&row, src)) != GCS_SOURCE_END) {
        if (rc == GCS_EINVALID) {
            bad++;
            assert_int_equal(gcs_source_error(src)->line, (unsigned long)rows + 2);
            continue;
        }
        assert_int_equal(rc, GCS_SOURCE_ROW);
        good++;
        assert_string_not_equal(gcs_row_get(row, "b"), "zz");
    }
    assert_int_equal(bad, 1);
    assert_int_equal(good, rows + 1);
    gcs_source_free(src);
    gcs_test_tmpdir_remove(dir);
}

static void unclosed_quote_at_end(void **state)
{
    (void)state;
    int rc;
    /* Fatal, naming the line where the quote opened, not where the file ends. */
    char *out = read_text("a,b\n1,2\n3,\"open\n4,x\n5,y\n", &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_string_equal(out, "2:a=1|b=2\n"
                             "#t.csv: line 3: a quoted field opened here is not closed at the "
                             "end of the file (a stray quote?)\n");
    free(out);
    out = read_text("a,b\n1,2\n3,\"open", &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_non_null(strstr(out, "#t.csv: line 3: a quoted field opened here is not closed"));
    free(out);
    /* A multi-line field that closed, then another that does not. */
    out = read_text("a,b\n\"x\ny\",\"open\nz\n", &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_non_null(strstr(out, "#t.csv: line 3: a quoted field opened here"));
    free(out);
    /* In the header: the source cannot be opened. */
    out = read_text("a,\"b\n", &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_non_null(strstr(out, "line 1: a quoted field opened here is not closed"));
    free(out);
}

/* A text of `rows` rows after a header "id,note", the note of row `open` opening
 * a quote that row `close_row` (0: none) closes with a real quoted field. */
static char *stray_quote_file(int rows, int open, int close_row)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_buf_puts(&b, "id,note\n"), 0);
    for (int i = 1; i <= rows; i++) {
        if (i == open)
            assert_int_equal(gcs_buf_printf(&b, "%d,\"stray\n", i), 0);
        else if (i == close_row)
            assert_int_equal(gcs_buf_printf(&b, "%d,\"quoted\"\n", i), 0);
        else
            assert_int_equal(gcs_buf_printf(&b, "%d,plain\n", i), 0);
    }
    return gcs_buf_detach(&b);
}

static void stray_quote_is_fatal_at_its_line(void **state)
{
    (void)state;
    int rc;
    /* Row 811 is on line 812: the quote swallows everything after it. */
    char *text = stray_quote_file(1000, 811, 0);
    char *out = read_text(text, &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_non_null(strstr(out, "811:id=810|note=plain\n#t.csv: line 812: a quoted field opened "
                                "here is not closed within 64 lines (a stray quote?)\n"));
    free(out);
    gcs_source *src;
    const gcs_row *row;
    assert_int_equal(gcs_source_open_mem(&src, "export.csv", text, strlen(text), GCS_SOURCE_CSV,
                                         NULL), 0);
    while ((rc = gcs_source_next(&row, src)) == GCS_SOURCE_ROW)
        ;
    assert_int_equal(rc, GCS_ERROR);
    assert_string_equal(gcs_error_last(), "export.csv: line 812: a quoted field opened here is "
                                          "not closed within 64 lines (a stray quote?)");
    assert_int_equal(gcs_source_records(src), 810);
    assert_int_equal(gcs_source_rejected(src), 0);
    assert_int_equal(gcs_source_next(&row, src), GCS_ERROR); /* sticky */
    assert_non_null(strstr(gcs_error_last(), "line 812"));
    gcs_source_free(src);
    free(text);

    /* The stray quote meets a real one within 64 lines: the rows between are
     * gone all the same, so it is fatal too, at the opening line. */
    text = stray_quote_file(100, 20, 30);
    out = read_text(text, &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_non_null(strstr(out, "20:id=19|note=plain\n#t.csv: line 21: a quoted field opened "
                                "here runs to line 31 and is followed by text there (a stray "
                                "quote?)\n"));
    free(out);
    free(text);
}

static void quoted_field_line_and_byte_bounds(void **state)
{
    (void)state;
    int rc;
    gcs_buf b;
    /* 64 lines (63 line breaks) is the most a quoted field may span. */
    for (int breaks = 63; breaks <= 64; breaks++) {
        gcs_buf_init(&b, 0);
        assert_int_equal(gcs_buf_puts(&b, "id,note\n1,\""), 0);
        for (int i = 0; i < breaks; i++)
            assert_int_equal(gcs_buf_puts(&b, "x\n"), 0);
        assert_int_equal(gcs_buf_puts(&b, "end\"\n2,after\n"), 0);
        char *out = read_text(b.ptr, &rc);
        if (breaks == 63) {
            assert_int_equal(rc, 0);
            assert_non_null(strstr(out, "66:id=2|note=after\n"));
        } else {
            assert_int_equal(rc, GCS_ERROR);
            assert_string_equal(out, "#t.csv: line 2: a quoted field opened here is not closed "
                                     "within 64 lines (a stray quote?)\n");
        }
        free(out);
        gcs_buf_release(&b);
    }

    /* The bound is an option. */
    gcs_source_options three = {.max_field_lines = 3};
    char *out = read_text_opt("id,note\n1,\"a\nb\nc\"\n2,\"a\nb\nc\nd\"\n", &three, &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_string_equal(out, "2:id=1|note=a\nb\nc\n"
                             "#t.csv: line 5: a quoted field opened here is not closed within 3 "
                             "lines (a stray quote?)\n");
    free(out);

    /* Bytes: a field still open at the end of a line with more than max_field. */
    gcs_source_options small = {.max_field = 16};
    out = read_text_opt("id,note\n1,ok\n2,\"0123456789\n0123456789\n", &small, &rc);
    assert_int_equal(rc, GCS_ERROR);
    assert_string_equal(out, "2:id=1|note=ok\n"
                             "#t.csv: line 3: a quoted field opened here is not closed within 16 "
                             "bytes (a stray quote?)\n");
    free(out);
    /* A closed one-line value over max_field stays a bad row. */
    out = read_text_opt("id,note\n1,\"0123456789012345678\"\n2,ok\n", &small, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "!2:2:value longer than 16 bytes\n3:id=2|note=ok\n");
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
    opt.max_field = 4096;
    assert_int_equal(gcs_source_open_mem(&src, "t.csv", b.ptr, b.len, GCS_SOURCE_CSV, &opt), 0);
    int rc = gcs_source_next(&row, src);
    assert_int_equal(rc, GCS_ERROR);
    assert_non_null(strstr(gcs_error_last(), "record larger than 64 bytes"));
    assert_int_equal(gcs_source_next(&row, src), GCS_ERROR); /* sticky */
    gcs_source_free(src);
    gcs_buf_release(&b);

    opt.max_field = 8;
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
        cmocka_unit_test(clean_end),
        cmocka_unit_test(quotes_and_embedded_newlines),
        cmocka_unit_test(crlf_and_blank_lines),
        cmocka_unit_test(bom_is_skipped),
        cmocka_unit_test(columns_per_field),
        cmocka_unit_test(bad_utf8_names_line_and_column),
        cmocka_unit_test(bad_rows_keep_the_values_read),
        cmocka_unit_test(ragged_rows_are_reported_and_skipped),
        cmocka_unit_test(malformed_quotes_are_a_bad_row),
        cmocka_unit_test(malformed_line_across_reads),
        cmocka_unit_test(unclosed_quote_at_end),
        cmocka_unit_test(stray_quote_is_fatal_at_its_line),
        cmocka_unit_test(quoted_field_line_and_byte_bounds),
        cmocka_unit_test(header_problems_fail_open),
        cmocka_unit_test(limits_on_fields_and_records),
        cmocka_unit_test(other_delimiters),
        cmocka_unit_test(files_by_extension_and_missing),
        cmocka_unit_test(streams_large_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
