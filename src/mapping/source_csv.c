/*
 * CSV sources through libcsv (RFC 4180, strict mode).
 *
 * libcsv pushes fields and records through callbacks; we pull one record at a
 * time by feeding it one line at a time (a piece of input ending at '\n' or at
 * the end of the window). Only '\n' ends a record (CR is treated as a blank, so
 * CRLF and LF files read the same), hence at most one record completes per
 * piece. A stray quote is fatal, named by the line it opened on (source.h):
 * at the end of every line we look at libcsv's state, and a quoted field still
 * open there is remembered with its line and checked against max_field_lines
 * and max_field. A malformed record (a quote inside an unquoted field, text
 * after the closing quote of a one-line field) is a bad row: the parser is
 * reset and reading goes on at the next line.
 * Rows whose fields are all empty (",,,," lines that spreadsheets leave) are
 * skipped; blank lines are skipped by libcsv.
 */
#include "mapping/internal.h"
#include "mapping/transform.h"

#include "core/error.h"

#include <csv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* libcsv's parser states (csv.c): before the first byte of a record; inside a
 * field (a quoted one when p.quoted); just after a quote inside a quoted field. */
#define CSV_ROW_NOT_BEGUN 0
#define CSV_FIELD_BEGUN 2
#define CSV_FIELD_MIGHT_HAVE_ENDED 3

typedef struct csv_impl {
    struct csv_parser p;
    bool parser_live;
    unsigned long line;       /* line of the next byte fed */
    unsigned long rec_line;   /* line on which the current record started */
    size_t rec_bytes;
    unsigned int cols;        /* fields seen in the current record */
    bool all_empty;           /* so far every field of the record is empty */
    bool done;                /* the record is complete */
    bool bad;                 /* the record is bad (the first error is kept) */
    int fatal;                /* a fatal error from a callback */
    bool header_mode;
    bool finished;
    bool skip_line;           /* drop input up to the next '\n' (after malformed quoting) */
    /* A quoted field still open at the end of a line: where it opened. */
    unsigned long quote_line; /* 0: none */
    unsigned int quote_col;
} csv_impl;

static int is_term(unsigned char c)
{
    return c == '\n';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* For tab-separated files a tab is a delimiter, never a blank. */
static int is_space_but_tab(unsigned char c)
{
    return c == ' ' || c == '\r';
}

static int parser_start(csv_impl *impl, char delimiter)
{
    if (impl->parser_live)
        csv_free(&impl->p);
    impl->parser_live = false;
    if (csv_init(&impl->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    csv_set_term_func(&impl->p, is_term);
    csv_set_space_func(&impl->p, delimiter == '\t' ? is_space_but_tab : is_space);
    csv_set_delim(&impl->p, (unsigned char)delimiter);
    impl->parser_live = true;
    return 0;
}

static int add_header_name(gcs_source *src, csv_impl *impl, const char *s, size_t len)
{
    unsigned int col = impl->cols;
    size_t bad;
    if (!gcs_utf8_valid(s, len, &bad))
        return gcs_error_set(GCS_EINVALID, "cannot read source '%s': line %lu, column %u: "
                             "header name is not valid UTF-8", src->name, impl->rec_line, col);
    if (len == 0)
        return gcs_error_set(GCS_EINVALID, "cannot read source '%s': line %lu, column %u: "
                             "empty field name in the header", src->name, impl->rec_line, col);
    if (src->nheader >= src->opt.max_fields || len > 1024)
        return gcs_error_set(GCS_EINVALID, "cannot read source '%s': line %lu: header too large",
                             src->name, impl->rec_line);
    for (size_t i = 0; i < src->nheader; i++) {
        if (strlen(src->header[i]) == len && !memcmp(src->header[i], s, len))
            return gcs_error_set(GCS_EINVALID, "cannot read source '%s': line %lu, column %u: "
                                 "field name '%.*s' appears twice in the header (columns %zu and %u)",
                                 src->name, impl->rec_line, col, (int)len, s, i + 1, col);
    }
    char **h = realloc(src->header, (src->nheader + 1) * sizeof *h);
    GCS_CHECK_ALLOC(h);
    src->header = h;
    if (!(h[src->nheader] = strndup(s, len)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    src->nheader++;
    return 0;
}

static void on_field(void *s, size_t len, void *data)
{
    gcs_source *src = data;
    csv_impl *impl = src->impl;
    const char *text = s ? s : "";
    impl->cols++;
    if (impl->bad || impl->fatal)
        return;
    if (len)
        impl->all_empty = false;
    if (impl->header_mode) {
        int rc = add_header_name(src, impl, text, len);
        if (rc < 0)
            impl->fatal = rc;
        return;
    }
    if (impl->cols > src->nheader)
        return; /* counted; reported at the end of the record */
    int rc = gcs_mapping__source_row_add(src, src->header[impl->cols - 1], SIZE_MAX, text, len,
                                         impl->cols, impl->rec_line);
    if (rc == GCS_EINVALID)
        impl->bad = true;
    else if (rc < 0)
        impl->fatal = rc;
}

static void on_record(int c, void *data)
{
    gcs_source *src = data;
    csv_impl *impl = src->impl;
    (void)c;
    impl->done = true;
}

static void record_reset(csv_impl *impl)
{
    impl->cols = 0;
    impl->done = false;
    impl->bad = false;
    impl->all_empty = true;
    impl->rec_bytes = 0;
}

/* A record has been completed (or cut by an error): turn it into an answer.
 * Returns GCS_SOURCE_ROW, GCS_EINVALID, or 2 for "skip it silently". */
static int finish_record(gcs_source *src, csv_impl *impl)
{
    unsigned int cols = impl->cols;
    bool bad = impl->bad, empty = impl->all_empty;
    record_reset(impl);
    if (empty && !bad)
        return 2;
    src->records++;
    if (bad)
        return GCS_EINVALID;
    if (cols != src->nheader)
        return gcs_mapping__source_bad_row(
            src, impl->rec_line, 0, NULL, "%u fields where the header has %zu", cols, src->nheader);
    gcs_mapping__source_row_finish(src, impl->rec_line);
    return GCS_SOURCE_ROW;
}

/* The line on which the quoted field being read opened, when it has been open
 * at the end of a line; else `otherwise` (it opened on the current line). */
static unsigned long open_quote_line(const csv_impl *impl, unsigned long otherwise)
{
    return impl->quote_line && impl->quote_col == impl->cols + 1 ? impl->quote_line : otherwise;
}

/* At the end of each line: a quoted field still open there is remembered by
 * the line it opened on, and may not run over more than max_field_lines lines
 * nor hold more than max_field bytes. Past either, it is fatal: an HR export
 * has no such field, but a stray quote swallows the rows after it, and those
 * users must not look absent. */
static int check_open_quote(gcs_source *src, csv_impl *impl)
{
    if (impl->p.pstate != CSV_FIELD_BEGUN || !impl->p.quoted) {
        impl->quote_line = 0;
        return 0;
    }
    if (!open_quote_line(impl, 0)) {
        impl->quote_line = impl->line - 1; /* the line just fed */
        impl->quote_col = impl->cols + 1;
    }
    if (impl->line - impl->quote_line + 1 > src->opt.max_field_lines)
        return gcs_mapping__source_fatal(
            src, GCS_ERROR, impl->quote_line,
            "a quoted field opened here is not closed within %zu lines "
            "(a stray quote?)",
            src->opt.max_field_lines);
    if (impl->p.entry_pos > src->opt.max_field)
        return gcs_mapping__source_fatal(
            src, GCS_ERROR, impl->quote_line,
            "a quoted field opened here is not closed within %zu bytes "
            "(a stray quote?)",
            src->opt.max_field);
    return 0;
}

/* Feeds input until a record completes. */
static int read_record(gcs_source *src)
{
    csv_impl *impl = src->impl;
    for (;;) {
        int rc;
        if (impl->finished)
            return GCS_SOURCE_END;
        if ((rc = gcs_mapping__source_fill(src)) < 0)
            return rc;
        if (rc == 1) {
            impl->finished = true;
            if (csv_fini(&impl->p, on_field, on_record, src) != 0) {
                /* Whatever the quote swallowed cannot be told from what it
                 * meant to hold: the rows after it must not count as absent. */
                gcs_mapping__source_row_reset(src);
                return gcs_mapping__source_fatal(
                    src, GCS_ERROR, open_quote_line(impl, impl->line),
                    "a quoted field opened here is not closed at the end "
                    "of the file (a stray quote?)");
            }
            if (impl->fatal)
                return impl->fatal;
            if (!impl->done)
                return GCS_SOURCE_END;
            rc = finish_record(src, impl);
            return rc == 2 ? GCS_SOURCE_END : rc;
        }
        const unsigned char *piece = src->win + src->win_pos;
        size_t avail = src->win_len - src->win_pos;
        const unsigned char *nl = memchr(piece, '\n', avail);
        size_t len = nl ? (size_t)(nl - piece) + 1 : avail;
        if (impl->skip_line) {
            /* The rest of a line cut at a window's edge by malformed quoting. */
            src->win_pos += len;
            if (nl) {
                impl->line++;
                impl->skip_line = false;
            }
            continue;
        }
        if (impl->p.pstate == CSV_ROW_NOT_BEGUN && impl->cols == 0)
            impl->rec_line = impl->line;
        size_t used = csv_parse(&impl->p, piece, len, on_field, on_record, src);
        src->win_pos += len;
        if (nl)
            impl->line++;
        if (impl->fatal)
            return impl->fatal;
        if (used < len) {
            /* Text after the closing quote of a field that ran over lines: the
             * quote was most likely a stray one that swallowed whole rows, and
             * those rows cannot be told apart or counted. */
            if (impl->p.pstate == CSV_FIELD_MIGHT_HAVE_ENDED &&
                open_quote_line(impl, 0) != 0)
                return gcs_mapping__source_fatal(
                    src, GCS_ERROR, impl->quote_line,
                    "a quoted field opened here runs to line %lu and is "
                    "followed by text there (a stray quote?)",
                    impl->line - (nl ? 1 : 0));
            /* Malformed quoting: drop the record and start again on the next line. */
            unsigned int col = impl->cols + 1;
            impl->skip_line = nl == NULL;
            impl->quote_line = 0;
            record_reset(impl);
            /* The fields read so far stay until the next call, which empties the
             * row: gcs_source_bad_values() hands them to whoever protects users. */
            if ((rc = parser_start(impl, src->opt.delimiter)) < 0)
                return gcs_mapping__source_fatal(src, rc, impl->line, "out of memory");
            src->records++;
            if (impl->header_mode)
                return gcs_error_set(GCS_EINVALID, "cannot read source '%s': line %lu: "
                                     "malformed quoting in the header", src->name, impl->rec_line);
            return gcs_mapping__source_bad_row(
                src, impl->line - (nl ? 1 : 0), col, NULL,
                "malformed quoting (a quote inside an unquoted field, "
                "or text after a closing quote)");
        }
        impl->rec_bytes += len;
        if (impl->rec_bytes > src->opt.max_record)
            return gcs_mapping__source_fatal(
                src, GCS_ERROR, impl->rec_line,
                "record larger than %zu bytes (is a quote not closed?)", src->opt.max_record);
        if (nl && (rc = check_open_quote(src, impl)) < 0)
            return rc;
        if (impl->done) {
            rc = finish_record(src, impl);
            if (rc != 2)
                return rc;
            gcs_mapping__source_row_reset(src);
        }
    }
}

static int csv_start(gcs_source *src)
{
    csv_impl *impl = calloc(1, sizeof *impl);
    int rc;
    GCS_CHECK_ALLOC(impl);
    src->impl = impl;
    impl->line = 1;
    record_reset(impl);
    if ((rc = parser_start(impl, src->opt.delimiter)) < 0)
        return rc;
    /* A UTF-8 byte order mark (Excel writes one) is not part of the first name. */
    if ((rc = gcs_mapping__source_fill(src)) < 0)
        return rc;
    if (rc == 0 && src->win_len - src->win_pos >= 3 &&
        !memcmp(src->win + src->win_pos, "\xEF\xBB\xBF", 3))
        src->win_pos += 3;

    /* Header errors are returned, not recorded as bad rows: without a header
     * no row can be read. */
    impl->header_mode = true;
    rc = read_record(src);
    impl->header_mode = false;
    src->records = 0;
    src->rejected = 0;
    if (rc == GCS_SOURCE_END || (rc == GCS_SOURCE_ROW && src->nheader == 0))
        return gcs_error_set(GCS_EINVALID, "cannot read source '%s': no header row", src->name);
    if (rc < 0) {
        if (src->has_err && !impl->fatal && rc != GCS_EINVALID) {
            char text[1024];
            gcs_row_error_format(text, sizeof text, &src->err);
            return gcs_error_set(rc, "cannot read source %s", text);
        }
        return rc;
    }
    gcs_mapping__source_row_reset(src);
    return 0;
}

static int csv_next(gcs_source *src)
{
    return read_record(src);
}

static void csv_release(gcs_source *src)
{
    csv_impl *impl = src->impl;
    if (!impl)
        return;
    if (impl->parser_live)
        csv_free(&impl->p);
    free(impl);
    src->impl = NULL;
}

const gcs_source_ops gcs_source_csv_ops = {csv_start, csv_next, csv_release};
