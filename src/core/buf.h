/*
 * buf.h - a growable byte buffer with a hard maximum (curl's dynbuf, git's strbuf).
 *
 * Invariants: `ptr` is never NULL after gcs_buf_init (it points at a shared empty
 * string until the first append) and is always NUL-terminated; `len` never exceeds
 * `max`. An append that would pass `max` fails with GCS_EINVALID and leaves the
 * buffer as it was, so that a hostile peer cannot make us allocate without bound.
 * A secure buffer (gcs_buf_init_secure) holds secrets: every block it lets go of,
 * when growing or released, is overwritten first.
 *
 * The adders' results must be checked (warn_unused_result, as curl's dynbuf):
 * an append that failed leaves the text short, and what is built from it would
 * be wrong without a sign.
 */
#ifndef GCS_CORE_BUF_H
#define GCS_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct gcs_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max;
    _Bool secure;
} gcs_buf;

#define GCS_BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

void gcs_buf_init(gcs_buf *b, size_t max);
/* A buffer for secrets: wiped whenever memory is let go of. */
void gcs_buf_init_secure(gcs_buf *b, size_t max);
/* Frees what the buffer holds and leaves it empty and reusable. */
void gcs_buf_release(gcs_buf *b);
/* Like release, but first overwrites the bytes (for buffers that held secrets). */
void gcs_buf_release_secure(gcs_buf *b);
/* Empties the buffer, keeping its memory. */
void gcs_buf_clear(gcs_buf *b);
/* Hands the string to the caller (who frees it) and leaves the buffer empty. */
char *gcs_buf_detach(gcs_buf *b);

#define GCS_BUF_MUST_USE __attribute__((warn_unused_result))

/* An append that needs room (or is refused): the adders below call it only
 * when the bytes do not fit in the block the buffer holds. */
GCS_BUF_MUST_USE int gcs_buf_append(gcs_buf *b, const void *data, size_t len);

/* Appends without a call while the bytes fit: texts are built a few bytes at
 * a time (a quote, a key, a comma), every row of a plan. */
static inline GCS_BUF_MUST_USE int gcs_buf_put(gcs_buf *b, const void *data, size_t len)
{
    if (len && len < b->cap - b->len && len <= b->max - b->len) {
        memcpy(b->ptr + b->len, data, len);
        b->len += len;
        b->ptr[b->len] = '\0';
        return 0;
    }
    return gcs_buf_append(b, data, len);
}

static inline GCS_BUF_MUST_USE int gcs_buf_puts(gcs_buf *b, const char *s)
{
    return gcs_buf_put(b, s, strlen(s));
}

static inline GCS_BUF_MUST_USE int gcs_buf_putc(gcs_buf *b, char c)
{
    return gcs_buf_put(b, &c, 1);
}
GCS_BUF_MUST_USE int gcs_buf_printf(gcs_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
GCS_BUF_MUST_USE int gcs_buf_vprintf(gcs_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends s with the escaping a JSON string needs (without the quotes). */
GCS_BUF_MUST_USE int gcs_buf_put_json_escaped(gcs_buf *b, const char *s);

/* Appends one CSV field (RFC 4180: quoted when it holds a comma, a quote, a
 * line break or edge spaces); NULL appends nothing. */
GCS_BUF_MUST_USE int gcs_buf_csv_field(gcs_buf *out, const char *field);

#endif
