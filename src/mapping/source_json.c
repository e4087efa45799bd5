/*
 * JSON sources: a top-level array of objects, or one object per line (NDJSON).
 *
 * The array's framing is scanned here byte by byte (strings, escapes and
 * bracket depth), so that each element's text is cut out and handed to jansson
 * on its own: memory holds one element (at most max_record bytes), never the
 * file. Because the scanner knows where an element ends even when jansson
 * rejects it, a bad element is a bad row and reading goes on; an element over
 * max_record is skipped the same way. Only broken framing (no ',' between
 * elements, the file ending inside the array) stops the file.
 *
 * Field values: strings as they are; integers and reals as their decimal text;
 * true/false as "true"/"false"; null as ""; arrays and objects as their
 * compact JSON text (the json_list transform turns an array into a list).
 */
#include "mapping/internal.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END_OF_INPUT (-1000)

typedef struct json_impl {
    bool array;           /* array framing; else one object per line */
    bool first;           /* no element read yet */
    bool ended;
    unsigned long line;   /* line of the next byte */
    gcs_buf elem;         /* the current element's text */
} json_impl;

/* The next byte without consuming it, END_OF_INPUT, or a fatal code. */
static int peek(gcs_source *src)
{
    int rc = gcs_mapping__source_fill(src);
    if (rc != 0)
        return rc == 1 ? END_OF_INPUT : rc;
    return src->win[src->win_pos];
}

static void advance(gcs_source *src, json_impl *j)
{
    if (src->win[src->win_pos++] == '\n')
        j->line++;
}

static int skip_blanks(gcs_source *src, json_impl *j)
{
    for (;;) {
        int c = peek(src);
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return c;
        advance(src, j);
    }
}

static const char *kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "an object";
    }
}

/* Parses the element text in j->elem into the row builder. */
static int element_to_row(gcs_source *src, json_impl *j, unsigned long line)
{
    json_error_t err;
    src->records++;
    json_t *obj = json_loadb(j->elem.ptr, j->elem.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    int rc = 0;
    if (!obj)
        return gcs_mapping__source_bad_row(src,
                                           line + (unsigned long)(err.line > 1 ? err.line - 1 : 0),
                                           0, NULL, "invalid JSON: %s", err.text);
    if (!json_is_object(obj)) {
        rc = gcs_mapping__source_bad_row(src, line, 0, NULL, "expected an object, found %s",
                                         kind_of(obj));
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char num[64];
        char *dumped = NULL;
        const char *text;
        size_t len;
        switch (json_typeof(v)) {
        case JSON_STRING:
            text = json_string_value(v);
            len = json_string_length(v);
            break;
        case JSON_INTEGER:
            len = (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            text = num;
            break;
        case JSON_REAL:
            len = (size_t)snprintf(num, sizeof num, "%.15g", json_real_value(v));
            text = num;
            break;
        case JSON_TRUE: text = "true"; len = 4; break;
        case JSON_FALSE: text = "false"; len = 5; break;
        case JSON_NULL: text = ""; len = 0; break;
        default:
            dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!dumped) {
                rc = gcs_mapping__source_fatal(src, GCS_ENOMEM, line, "out of memory");
                goto out;
            }
            text = dumped;
            len = strlen(dumped);
        }
        rc = gcs_mapping__source_row_add(src, key, strlen(key), text, len, 0, line);
        free(dumped);
        if (rc < 0)
            goto out;
    }
    gcs_mapping__source_row_finish(src, line);
    rc = GCS_SOURCE_ROW;
out:
    json_decref(obj);
    return rc;
}

/* Keeps a byte of the element unless it has outgrown max_record. */
static void keep(gcs_source *src, json_impl *j, int c, bool *oversize)
{
    if (*oversize)
        return;
    if (j->elem.len >= src->opt.max_record || gcs_buf_putc(&j->elem, (char)c) < 0)
        *oversize = true;
}

/* Cuts out one array element, leaving the input just after it. */
static int next_in_array(gcs_source *src, json_impl *j)
{
    int c;
    if (j->ended)
        return GCS_SOURCE_END;
    c = skip_blanks(src, j);
    if (c < 0 && c != END_OF_INPUT)
        return c;
    if (!j->first) {
        if (c == ']') {
            advance(src, j);
            goto closed;
        }
        if (c != ',')
            return gcs_mapping__source_fatal(src, GCS_ERROR, j->line,
                                             c == END_OF_INPUT
                                                 ? "the file ends before the array is closed"
                                                 : "expected ',' or ']' after an element");
        advance(src, j);
        c = skip_blanks(src, j);
        if (c < 0 && c != END_OF_INPUT)
            return c;
        if (c == ']')
            return gcs_mapping__source_fatal(src, GCS_ERROR, j->line, "a ',' before ']'");
    } else if (c == ']') {
        advance(src, j);
        goto closed;
    }
    if (c == END_OF_INPUT)
        return gcs_mapping__source_fatal(src, GCS_ERROR, j->line,
                                         "the file ends before the array is closed");
    if (c == ',')
        return gcs_mapping__source_fatal(src, GCS_ERROR, j->line, "an empty element (two ',')");
    j->first = false;

    unsigned long start = j->line;
    int depth = 0;
    bool in_string = false, escaped = false, oversize = false;
    gcs_buf_clear(&j->elem);
    for (;;) {
        c = peek(src);
        if (c == END_OF_INPUT)
            return gcs_mapping__source_fatal(src, GCS_ERROR, start,
                                             "the file ends inside the element starting here");
        if (c < 0)
            return c;
        if (in_string) {
            keep(src, j, c, &oversize);
            advance(src, j);
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"') {
                in_string = false;
                if (depth == 0)
                    break;
            }
            continue;
        }
        if (depth == 0 && (c == ',' || c == ']' || c == ' ' || c == '\t' || c == '\r' ||
                           c == '\n'))
            break; /* the end of a bare scalar: leave the byte for the framing */
        keep(src, j, c, &oversize);
        advance(src, j);
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0)
                break;
        }
    }
    if (oversize) {
        src->records++;
        return gcs_mapping__source_bad_row(src, start, 0, NULL, "element larger than %zu bytes",
                                           src->opt.max_record);
    }
    return element_to_row(src, j, start);

closed:
    j->ended = true;
    c = skip_blanks(src, j);
    if (c != END_OF_INPUT)
        return c < 0 ? c
                     : gcs_mapping__source_fatal(src, GCS_ERROR, j->line,
                                                 "text after the end of the array");
    return GCS_SOURCE_END;
}

/* Reads one non-blank line. */
static int next_line(gcs_source *src, json_impl *j)
{
    for (;;) {
        unsigned long start = j->line;
        bool oversize = false, blank = true;
        gcs_buf_clear(&j->elem);
        int c;
        while ((c = peek(src)) >= 0 && c != '\n') {
            if (c != ' ' && c != '\t' && c != '\r')
                blank = false;
            keep(src, j, c, &oversize);
            advance(src, j);
        }
        if (c < 0 && c != END_OF_INPUT)
            return c;
        if (c == '\n')
            advance(src, j);
        if (blank) {
            if (c == END_OF_INPUT)
                return GCS_SOURCE_END;
            continue;
        }
        if (oversize) {
            src->records++;
            return gcs_mapping__source_bad_row(src, start, 0, NULL, "line longer than %zu bytes",
                                               src->opt.max_record);
        }
        return element_to_row(src, j, start);
    }
}

static int json_start(gcs_source *src)
{
    json_impl *j = calloc(1, sizeof *j);
    GCS_CHECK_ALLOC(j);
    src->impl = j;
    j->line = 1;
    j->first = true;
    gcs_buf_init(&j->elem, src->opt.max_record + 1);
    int rc = gcs_mapping__source_fill(src);
    if (rc < 0)
        return rc;
    if (rc == 0 && src->win_len - src->win_pos >= 3 &&
        !memcmp(src->win + src->win_pos, "\xEF\xBB\xBF", 3))
        src->win_pos += 3;
    if (src->format == GCS_SOURCE_JSON) {
        int c = skip_blanks(src, j);
        if (c < 0 && c != END_OF_INPUT)
            return c;
        if (c == '[') {
            advance(src, j);
            j->array = true;
        } else if (c != '{' && c != END_OF_INPUT) {
            return gcs_error_set(GCS_EINVALID, "cannot read source '%s': line %lu: expected a "
                                 "JSON array of objects or one object per line",
                                 src->name, j->line);
        } else {
            src->format = GCS_SOURCE_NDJSON;
        }
    }
    return 0;
}

static int json_next(gcs_source *src)
{
    json_impl *j = src->impl;
    return j->array ? next_in_array(src, j) : next_line(src, j);
}

static void json_release(gcs_source *src)
{
    json_impl *j = src->impl;
    if (!j)
        return;
    gcs_buf_release(&j->elem);
    free(j);
    src->impl = NULL;
}

const gcs_source_ops gcs_source_json_ops = {json_start, json_next, json_release};
