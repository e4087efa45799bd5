/*
 * buf.h - a growable byte buffer with a hard maximum (curl's dynbuf, git's strbuf).
 *
 * Invariants: `ptr` is never NULL after gcs_buf_init (it points at a shared empty
 * string until the first append) and is always NUL-terminated; `len` never exceeds
 * `max`. An append that would pass `max` fails with GCS_EINVALID and leaves the
 * buffer as it was, so that a hostile peer cannot make us allocate without bound.
 */
#ifndef GCS_CORE_BUF_H
#define GCS_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct gcs_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max;
} gcs_buf;

#define GCS_BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

void gcs_buf_init(gcs_buf *b, size_t max);
/* Frees what the buffer holds and leaves it empty and reusable. */
void gcs_buf_release(gcs_buf *b);
/* Like release, but first overwrites the bytes (for buffers that held secrets). */
void gcs_buf_release_secure(gcs_buf *b);
/* Empties the buffer, keeping its memory. */
void gcs_buf_clear(gcs_buf *b);
/* Hands the string to the caller (who frees it) and leaves the buffer empty. */
char *gcs_buf_detach(gcs_buf *b);

int gcs_buf_put(gcs_buf *b, const void *data, size_t len);
int gcs_buf_puts(gcs_buf *b, const char *s);
int gcs_buf_putc(gcs_buf *b, char c);
int gcs_buf_printf(gcs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gcs_buf_vprintf(gcs_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s with the escaping a JSON string needs (without the quotes). */
int gcs_buf_put_json_escaped(gcs_buf *b, const char *s);

#endif
