/* Serialising and copying JSON without jansson's per-container loop check
 * (it formats a pointer and fills a hash table for every object and array,
 * which was most of the cost of answering a PATCH). Our documents come from
 * the parser or from our own code, so they hold no loops; depth is bounded by
 * the parser's own limit. */
#include "emulator/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int put_string(gcs_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = gcs_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run && (rc = gcs_buf_put(b, s + run, i - run)) < 0)
            break;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        rc = gcs_buf_put(b, esc, n);
        run = i + 1;
    }
    if (rc == 0 && len > run)
        rc = gcs_buf_put(b, s + run, len - run);
    return rc < 0 ? rc : gcs_buf_putc(b, '"');
}

int gcs_emu_json_dump(gcs_buf *b, const json_t *j)
{
    int rc = 0;
    char num[40];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *v;
        bool first = true;
        rc = gcs_buf_putc(b, '{');
        json_object_foreach((json_t *)j, key, v) {
            if (rc == 0 && !first)
                rc = gcs_buf_putc(b, ',');
            first = false;
            if (rc == 0)
                rc = put_string(b, key, strlen(key));
            if (rc == 0)
                rc = gcs_buf_putc(b, ':');
            if (rc == 0)
                rc = gcs_emu_json_dump(b, v);
        }
        return rc < 0 ? rc : gcs_buf_putc(b, '}');
    }
    case JSON_ARRAY: {
        rc = gcs_buf_putc(b, '[');
        for (size_t i = 0; rc == 0 && i < json_array_size(j); i++) {
            if (i)
                rc = gcs_buf_putc(b, ',');
            if (rc == 0)
                rc = gcs_emu_json_dump(b, json_array_get(j, i));
        }
        return rc < 0 ? rc : gcs_buf_putc(b, ']');
    }
    case JSON_STRING:
        return put_string(b, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return gcs_buf_puts(b, num);
    case JSON_REAL: {
        double d = json_real_value(j);
        if (!isfinite(d))
            return gcs_buf_puts(b, "null");
        snprintf(num, sizeof num, "%.17g", d);
        if (!strpbrk(num, ".eE"))
            strcat(num, ".0");
        return gcs_buf_puts(b, num);
    }
    case JSON_TRUE:
        return gcs_buf_puts(b, "true");
    case JSON_FALSE:
        return gcs_buf_puts(b, "false");
    case JSON_NULL:
    default:
        return gcs_buf_puts(b, "null");
    }
}

char *gcs_emu_json_text(const json_t *j)
{
    gcs_buf b;
    gcs_buf_init(&b, GCS_BUF_DEFAULT_MAX);
    if (gcs_emu_json_dump(&b, j) < 0) {
        gcs_buf_release(&b);
        return NULL;
    }
    return gcs_buf_detach(&b);
}

json_t *gcs_emu_json_copy(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        json_t *out = json_object();
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
            json_object_set_new_nocheck(out, key, gcs_emu_json_copy(v));
        return out;
    }
    case JSON_ARRAY: {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(j); i++)
            json_array_append_new(out, gcs_emu_json_copy(json_array_get(j, i)));
        return out;
    }
    default:
        /* Scalars are never changed in place by the emulator: share them. */
        return json_incref((json_t *)j);
    }
}
