#include "http/headers.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void gcs_http_headers_reset(gcs_http_answer_headers *h)
{
    h->etag[0] = h->correlation_id[0] = h->content_type[0] = '\0';
    h->retry_after = h->rl_count = h->rl_allowed = h->rl_reset = -1;
}

/* Digits only (RFC 9110 delay-seconds); anything else, an HTTP-date included, is -1. */
static int parse_number(const char *s)
{
    long long v = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        v = v * 10 + (*s - '0');
        if (v > GCS_HTTP_HEADER_NUMBER_MAX)
            v = GCS_HTTP_HEADER_NUMBER_MAX;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    return *s ? -1 : (int)v;
}

void gcs_http_headers_parse_line(gcs_http_answer_headers *h, const char *line, size_t n)
{
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new answer begins (after a 100 Continue, say): forget the last one's. */
        gcs_http_headers_reset(h);
        return;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return;
    size_t name_len = (size_t)(colon - line);
    const char *v = colon + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char value[GCS_HTTP_HEADER_VALUE_MAX];
    size_t vlen = (size_t)(end - v);
    if (vlen >= sizeof value)
        vlen = sizeof value - 1;
    memcpy(value, v, vlen);
    value[vlen] = '\0';
    /* A NUL inside a value would cut it short silently; such a value is not one. */
    if (memchr(v, '\0', vlen))
        return;
#define IS(name) (name_len == sizeof(name) - 1 && strncasecmp(line, name, name_len) == 0)
    if (IS("etag"))
        memcpy(h->etag, value, vlen + 1);
    else if (IS("inin-correlation-id"))
        memcpy(h->correlation_id, value, vlen + 1);
    else if (IS("content-type"))
        memcpy(h->content_type, value, vlen + 1);
    else if (IS("retry-after"))
        h->retry_after = parse_number(value);
    else if (IS("inin-ratelimit-count"))
        h->rl_count = parse_number(value);
    else if (IS("inin-ratelimit-allowed"))
        h->rl_allowed = parse_number(value);
    else if (IS("inin-ratelimit-reset"))
        h->rl_reset = parse_number(value);
#undef IS
}
