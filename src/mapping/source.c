/*
 * Sources: opening, the input window, the row builder and error bookkeeping
 * shared by the CSV and JSON readers.
 */
#include "mapping/internal.h"
#include "mapping/source.h"
#include "mapping/transform.h"

#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ==== Formats ==== */

const char *gcs_source_format_name(gcs_source_format format)
{
    switch (format) {
    case GCS_SOURCE_AUTO: return "auto";
    case GCS_SOURCE_CSV: return "csv";
    case GCS_SOURCE_JSON: return "json";
    case GCS_SOURCE_NDJSON: return "ndjson";
    }
    return "?";
}

int gcs_source_format_parse(gcs_source_format *out, const char *name)
{
    static const struct { const char *name; gcs_source_format f; } names[] = {
        {"auto", GCS_SOURCE_AUTO}, {"csv", GCS_SOURCE_CSV},       {"json", GCS_SOURCE_JSON},
        {"ndjson", GCS_SOURCE_NDJSON}, {"jsonl", GCS_SOURCE_NDJSON},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!strcasecmp(names[i].name, name)) {
            *out = names[i].f;
            return 0;
        }
    }
    return gcs_error_set(GCS_EINVALID, "unknown source format '%s' (csv, json, ndjson)", name);
}

static gcs_source_format by_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '/'))
        return GCS_SOURCE_AUTO;
    if (!strcasecmp(dot, ".csv"))
        return GCS_SOURCE_CSV;
    if (!strcasecmp(dot, ".json"))
        return GCS_SOURCE_JSON;
    if (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson"))
        return GCS_SOURCE_NDJSON;
    return GCS_SOURCE_AUTO;
}

/* ==== Input window ==== */

int gcs_mapping__source_fill(gcs_source *src)
{
    if (src->win_pos < src->win_len)
        return 0;
    if (src->eof)
        return 1;
    if (src->mem) {
        /* The whole buffer was the window; nothing more. */
        src->eof = true;
        return 1;
    }
    size_t got = fread(src->chunk, 1, GCS_SOURCE_CHUNK, src->file);
    if (got == 0) {
        if (ferror(src->file))
            return gcs_mapping__source_fatal(src, GCS_EIO, 0, "cannot read: %s", strerror(errno));
        src->eof = true;
        return 1;
    }
    src->win = src->chunk;
    src->win_len = got;
    src->win_pos = 0;
    return 0;
}

/* The first non-blank byte, without consuming anything (sniffing). */
static int peek_first(gcs_source *src)
{
    int rc = gcs_mapping__source_fill(src);
    if (rc != 0)
        return rc < 0 ? rc : -1;
    size_t i = src->win_pos;
    if (src->win_len - i >= 3 && !memcmp(src->win + i, "\xEF\xBB\xBF", 3))
        i += 3;
    while (i < src->win_len && strchr(" \t\r\n", src->win[i]))
        i++;
    return i < src->win_len ? src->win[i] : -1;
}

/* ==== Row builder ==== */

void gcs_mapping__source_row_reset(gcs_source *src)
{
    gcs_buf_clear(&src->store);
    src->nfields = 0;
    memset(&src->row, 0, sizeof src->row);
}

int gcs_mapping__source_row_add(gcs_source *src, const char *name, size_t name_len,
                                const char *value, size_t value_len, unsigned int column,
                                unsigned long line)
{
    const char *shown = name_len == SIZE_MAX ? name : NULL;
    char namebuf[128];
    if (!shown) {
        snprintf(namebuf, sizeof namebuf, "%.*s", (int)(name_len < 127 ? name_len : 127), name);
        shown = namebuf;
    }
    if (src->nfields >= src->opt.max_fields)
        return gcs_mapping__source_bad_row(src, line, column, NULL, "more than %zu fields",
                                           src->opt.max_fields);
    if (value_len > src->opt.max_field)
        return gcs_mapping__source_bad_row(src, line, column, shown, "value longer than %zu bytes",
                                           src->opt.max_field);
    size_t bad;
    if (!gcs_utf8_valid(value, value_len, &bad)) {
        unsigned long at_line = line;
        for (size_t i = 0; i < bad; i++)
            at_line += value[i] == '\n';
        return gcs_mapping__source_bad_row(
            src, at_line, column, shown,
            value[bad] ? "invalid UTF-8 (byte 0x%02X at offset %zu of the value)"
                       : "a NUL byte (0x%02X) at offset %zu of the value",
            (unsigned char)value[bad], bad);
    }
    if (src->nfields == src->cap_fields) {
        size_t cap = src->cap_fields ? src->cap_fields * 2 : 32;
        gcs_row_field *f = realloc(src->fields, cap * sizeof *f);
        if (f)
            src->fields = f;
        size_t *no = realloc(src->name_off, cap * sizeof *no);
        if (no)
            src->name_off = no;
        size_t *vo = realloc(src->value_off, cap * sizeof *vo);
        if (vo)
            src->value_off = vo;
        if (!f || !no || !vo)
            return gcs_mapping__source_fatal(src, GCS_ENOMEM, line, "out of memory");
        src->cap_fields = cap;
    }
    size_t i = src->nfields;
    int rc;
    src->fields[i].name = name_len == SIZE_MAX ? name : NULL;
    src->fields[i].column = column;
    src->name_off[i] = SIZE_MAX;
    if (name_len != SIZE_MAX) {
        src->name_off[i] = src->store.len;
        if ((rc = gcs_buf_put(&src->store, name, name_len)) < 0 ||
            (rc = gcs_buf_putc(&src->store, '\0')) < 0)
            return gcs_mapping__source_bad_row(src, line, column, shown,
                                               "record larger than %zu bytes", src->opt.max_record);
    }
    src->value_off[i] = src->store.len;
    if ((rc = gcs_buf_put(&src->store, value, value_len)) < 0 ||
        (rc = gcs_buf_putc(&src->store, '\0')) < 0)
        return gcs_mapping__source_bad_row(src, line, column, shown, "record larger than %zu bytes",
                                           src->opt.max_record);
    src->nfields++;
    return 0;
}

void gcs_mapping__source_row_finish(gcs_source *src, unsigned long line)
{
    for (size_t i = 0; i < src->nfields; i++) {
        if (src->name_off[i] != SIZE_MAX)
            src->fields[i].name = src->store.ptr + src->name_off[i];
        src->fields[i].value = src->store.ptr + src->value_off[i];
    }
    src->row.file = src->name;
    src->row.line = line;
    src->row.number = src->records;
    src->row.count = src->nfields;
    src->row.fields = src->fields;
}

static void set_error(gcs_source *src, unsigned long line, unsigned int column,
                      const char *field, const char *msg)
{
    gcs_row_error_release(&src->err);
    src->err.file = strdup(src->name);
    src->err.message = strdup(msg);
    src->err.field = field ? strdup(field) : NULL;
    src->err.line = line;
    src->err.column = column;
    src->has_err = src->err.file && src->err.message;
    char text[1024];
    if (src->has_err)
        gcs_row_error_format(text, sizeof text, &src->err);
    else
        snprintf(text, sizeof text, "%s: line %lu: %s", src->name, line, msg);
    gcs_error_set(GCS_EINVALID, "%s", text);
}

int gcs_mapping__source_bad_row(gcs_source *src, unsigned long line, unsigned int column,
                                const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(src, line, column, field, msg);
    if (!src->has_err) {
        /* GCS_EINVALID promises gcs_source_error(); without it the row's
         * values would go unprotected: stop the file instead. */
        src->fatal = GCS_ENOMEM;
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return GCS_EINVALID;
}

int gcs_mapping__source_fatal(gcs_source *src, int code, unsigned long line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(src, line, 0, NULL, msg);
    /* Keep the code the caller acts on: the message is the row error's text. */
    gcs_error_set(code, "%s", gcs_error_last());
    src->fatal = code;
    return code;
}

/* ==== Public API ==== */

size_t gcs_source_bad_values(const gcs_source *src, const char **out, size_t max)
{
    size_t n = 0;
    if (!src->has_err || src->fatal)
        return 0;
    for (size_t i = 0; i < src->nfields && n < max; i++) {
        if (src->value_off[i] < src->store.len)
            out[n++] = src->store.ptr + src->value_off[i];
    }
    return n;
}

static int open_common(gcs_source **out, const char *name, gcs_source_format format,
                       const gcs_source_options *options, FILE *file, const void *data,
                       size_t len)
{
    gcs_source *src = calloc(1, sizeof *src);
    int rc = 0;
    *out = NULL;
    if (!src || !(src->name = strdup(name))) {
        free(src);
        if (file && file != stdin)
            fclose(file);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    src->opt.max_field = options && options->max_field ? options->max_field
                                                       : GCS_SOURCE_MAX_FIELD_DEFAULT;
    src->opt.max_record = options && options->max_record ? options->max_record
                                                         : GCS_SOURCE_MAX_RECORD_DEFAULT;
    src->opt.max_fields = options && options->max_fields ? options->max_fields
                                                         : GCS_SOURCE_MAX_FIELDS_DEFAULT;
    src->opt.delimiter = options && options->delimiter ? options->delimiter : ',';
    src->opt.max_field_lines = options && options->max_field_lines
                                   ? options->max_field_lines
                                   : GCS_SOURCE_MAX_FIELD_LINES_DEFAULT;
    if (strchr("\"\r\n ", src->opt.delimiter)) {
        rc = gcs_error_set(GCS_EINVALID, "'%c' cannot be a CSV delimiter", src->opt.delimiter);
        goto out;
    }
    /* Names and values of one record, plus the NULs and some slack for JSON
     * values re-encoded as text (numbers, nested values). */
    gcs_buf_init(&src->store, src->opt.max_record * 2 + 4096);
    src->file = file;
    if (file) {
        if (!(src->chunk = malloc(GCS_SOURCE_CHUNK))) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    } else {
        src->mem = data;
        src->mem_len = len;
        src->win = data;
        src->win_len = len;
    }

    if (format == GCS_SOURCE_AUTO)
        format = by_extension(name);
    if (format == GCS_SOURCE_AUTO) {
        int first = peek_first(src);
        if (first < -1) {
            rc = first;
            goto out;
        }
        format = first == '[' || first == '{' ? GCS_SOURCE_JSON : GCS_SOURCE_CSV;
    }
    src->format = format;
    src->ops = format == GCS_SOURCE_CSV ? &gcs_source_csv_ops : &gcs_source_json_ops;
    if (src->ops->start && (rc = src->ops->start(src)) < 0)
        goto out;
out:
    if (rc < 0) {
        gcs_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

int gcs_source_open(gcs_source **out, const char *path, gcs_source_format format,
                    const gcs_source_options *options)
{
    *out = NULL;
    if (!strcmp(path, "-")) /* a pipe: `hr-export | gcscim plan --source -` */
        return open_common(out, "<stdin>", format, options, stdin, NULL, 0);
    FILE *f = fopen(path, "rb");
    if (!f)
        return gcs_error_set(GCS_EIO, "cannot read source '%s': %s", path, strerror(errno));
    return open_common(out, path, format, options, f, NULL, 0);
}

int gcs_source_open_mem(gcs_source **out, const char *name, const void *data, size_t len,
                        gcs_source_format format, const gcs_source_options *options)
{
    return open_common(out, name, format, options, NULL, data, len);
}

int gcs_source_next(const gcs_row **out, gcs_source *src)
{
    *out = NULL;
    if (src->fatal) {
        /* Say it again: the caller may have cleared the message since. */
        char text[1024];
        gcs_row_error_format(text, sizeof text, &src->err);
        return gcs_error_set(src->fatal, "%s", text);
    }
    gcs_mapping__source_row_reset(src);
    int rc = src->ops->next(src);
    if (rc == GCS_SOURCE_ROW) {
        *out = &src->row;
    } else if (rc == GCS_SOURCE_END) {
        src->ended = true;
    } else if (rc == GCS_EINVALID && !src->fatal) {
        src->rejected++;
    } else if (rc < 0 && !src->fatal) {
        src->fatal = rc;
        if (!src->has_err)
            set_error(src, 0, 0, NULL, gcs_error_last());
        gcs_error_set(rc, "%s", gcs_error_last());
    }
    return rc;
}

const gcs_row_error *gcs_source_error(const gcs_source *src)
{
    return src->has_err ? &src->err : NULL;
}

gcs_source_format gcs_source_get_format(const gcs_source *src)
{
    return src->format;
}

const char *const *gcs_source_header(const gcs_source *src, size_t *count)
{
    if (count)
        *count = src->nheader;
    return (const char *const *)src->header;
}

unsigned long gcs_source_records(const gcs_source *src)
{
    return src->records;
}

unsigned long gcs_source_rejected(const gcs_source *src)
{
    return src->rejected;
}

bool gcs_source_clean(const gcs_source *src)
{
    return src->ended && !src->fatal;
}

void gcs_source_free(gcs_source *src)
{
    if (!src)
        return;
    if (src->ops && src->ops->release)
        src->ops->release(src);
    for (size_t i = 0; i < src->nheader; i++)
        free(src->header[i]);
    free(src->header);
    gcs_buf_release(&src->store);
    free(src->fields);
    free(src->name_off);
    free(src->value_off);
    gcs_row_error_release(&src->err);
    if (src->file && src->file != stdin)
        fclose(src->file);
    free(src->chunk);
    free(src->name);
    free(src);
}
