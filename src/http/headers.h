/*
 * headers.h - the few answer headers the engine reads: ETag, Retry-After,
 * ININ-Correlation-Id, Content-Type and inin-ratelimit-count / -allowed / -reset.
 *
 * Fed one raw header line at a time (as libcurl hands them over, CRLF included).
 * Values are truncated to GCS_HTTP_HEADER_VALUE_MAX - 1 bytes; numbers that are
 * absent or not a plain non-negative integer are -1, numbers too large are
 * clamped to GCS_HTTP_HEADER_NUMBER_MAX (so a huge Retry-After still reads as
 * huge). A status line ("HTTP/…") starts a new answer and clears what was read.
 */
#ifndef GCS_HTTP_HEADERS_H
#define GCS_HTTP_HEADERS_H

#include <stddef.h>

#define GCS_HTTP_HEADER_VALUE_MAX 256
#define GCS_HTTP_HEADER_NUMBER_MAX 1000000000

typedef struct gcs_http_answer_headers {
    char etag[GCS_HTTP_HEADER_VALUE_MAX];
    char correlation_id[GCS_HTTP_HEADER_VALUE_MAX];
    char content_type[GCS_HTTP_HEADER_VALUE_MAX];
    int retry_after;
    int rl_count;
    int rl_allowed;
    int rl_reset;
} gcs_http_answer_headers;

void gcs_http_headers_reset(gcs_http_answer_headers *h);
void gcs_http_headers_parse_line(gcs_http_answer_headers *h, const char *line, size_t n);

#endif
