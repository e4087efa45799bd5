#include "core/buf.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_string[1];

void gcs_buf_init(gcs_buf *b, size_t max)
{
    b->ptr = empty_string;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : GCS_BUF_DEFAULT_MAX;
    b->secure = false;
}

void gcs_buf_init_secure(gcs_buf *b, size_t max)
{
    gcs_buf_init(b, max);
    b->secure = true;
}

void gcs_buf_release(gcs_buf *b)
{
    if (b->cap && b->secure)
        explicit_bzero(b->ptr, b->cap);
    if (b->cap)
        free(b->ptr);
    b->ptr = empty_string;
    b->len = 0;
    b->cap = 0;
}

void gcs_buf_release_secure(gcs_buf *b)
{
    if (b->cap)
        explicit_bzero(b->ptr, b->cap);
    gcs_buf_release(b);
}

void gcs_buf_clear(gcs_buf *b)
{
    b->len = 0;
    if (b->cap)
        b->ptr[0] = '\0';
}

char *gcs_buf_detach(gcs_buf *b)
{
    char *s = b->cap ? b->ptr : strdup("");
    b->ptr = empty_string;
    b->len = 0;
    b->cap = 0;
    return s;
}

static int grow(gcs_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return gcs_error_set(GCS_EINVALID, "data larger than the limit of %zu bytes", b->max);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p;
    if (b->secure && b->cap) {
        /* realloc would free the old block as it is: move and wipe by hand. */
        if ((p = malloc(cap))) {
            memcpy(p, b->ptr, b->len + 1);
            explicit_bzero(b->ptr, b->cap);
            free(b->ptr);
        }
    } else {
        p = b->cap ? realloc(b->ptr, cap) : malloc(cap);
    }
    GCS_CHECK_ALLOC(p);
    if (!b->cap)
        p[0] = '\0';
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int gcs_buf_append(gcs_buf *b, const void *data, size_t len)
{
    int rc = grow(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return 0;
}

int gcs_buf_vprintf(gcs_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return gcs_error_set(GCS_ERROR, "cannot format text");
    int rc = grow(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int gcs_buf_printf(gcs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = gcs_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int gcs_buf_put_json_escaped(gcs_buf *b, const char *s)
{
    int rc = 0;
    const unsigned char *p = (const unsigned char *)s, *run = p;
    /* Runs of bytes that need no escape go in at once: a planner writes the
     * member names of every user it reads (a million) through here. */
    for (; *p && rc == 0; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        rc = gcs_buf_put(b, run, (size_t)(p - run));
        run = p + 1;
        if (rc < 0)
            break;
        switch (*p) {
        case '"': rc = gcs_buf_put(b, "\\\"", 2); break;
        case '\\': rc = gcs_buf_put(b, "\\\\", 2); break;
        case '\n': rc = gcs_buf_put(b, "\\n", 2); break;
        case '\r': rc = gcs_buf_put(b, "\\r", 2); break;
        case '\t': rc = gcs_buf_put(b, "\\t", 2); break;
        default: rc = gcs_buf_printf(b, "\\u%04x", *p);
        }
    }
    return rc == 0 ? gcs_buf_put(b, run, (size_t)(p - run)) : rc;
}

int gcs_buf_csv_field(gcs_buf *out, const char *field)
{
    if (!field)
        return 0;
    if (!strpbrk(field, ",\"\r\n") && field[0] != ' ' &&
        (!*field || field[strlen(field) - 1] != ' '))
        return gcs_buf_puts(out, field);
    int rc = gcs_buf_putc(out, '"');
    for (const char *p = field; *p && rc == 0; p++)
        rc = *p == '"' ? gcs_buf_puts(out, "\"\"") : gcs_buf_putc(out, *p);
    return rc ? rc : gcs_buf_putc(out, '"');
}
