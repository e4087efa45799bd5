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

/* The answer headers gcscim reads, by name: any other line is passed over
 * before its value is looked at (an answer has a dozen, each call). */
typedef enum header_field {
    FIELD_NONE,
    FIELD_ETAG,
    FIELD_CORRELATION_ID,
    FIELD_CONTENT_TYPE,
    FIELD_RETRY_AFTER,
    FIELD_RL_COUNT,
    FIELD_RL_ALLOWED,
    FIELD_RL_RESET,
} header_field;

static header_field field_of(const char *name, size_t len)
{
#define IS(text) (len == sizeof(text) - 1 && strncasecmp(name, text, len) == 0)
    switch (len) {
    case 4:
        return IS("etag") ? FIELD_ETAG : FIELD_NONE;
    case 11:
        return IS("retry-after") ? FIELD_RETRY_AFTER : FIELD_NONE;
    case 12:
        return IS("content-type") ? FIELD_CONTENT_TYPE : FIELD_NONE;
    case 19:
        return IS("inin-correlation-id") ? FIELD_CORRELATION_ID : FIELD_NONE;
    case 20:
        return IS("inin-ratelimit-count") ? FIELD_RL_COUNT
               : IS("inin-ratelimit-reset") ? FIELD_RL_RESET
                                            : FIELD_NONE;
    case 22:
        return IS("inin-ratelimit-allowed") ? FIELD_RL_ALLOWED : FIELD_NONE;
    default:
        return FIELD_NONE;
    }
#undef IS
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
    header_field field = field_of(line, (size_t)(colon - line));
    if (field == FIELD_NONE)
        return;
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
    switch (field) {
    case FIELD_ETAG:
        memcpy(h->etag, value, vlen + 1);
        break;
    case FIELD_CORRELATION_ID:
        memcpy(h->correlation_id, value, vlen + 1);
        break;
    case FIELD_CONTENT_TYPE:
        memcpy(h->content_type, value, vlen + 1);
        break;
    case FIELD_RETRY_AFTER:
        h->retry_after = parse_number(value);
        break;
    case FIELD_RL_COUNT:
        h->rl_count = parse_number(value);
        break;
    case FIELD_RL_ALLOWED:
        h->rl_allowed = parse_number(value);
        break;
    case FIELD_RL_RESET:
        h->rl_reset = parse_number(value);
        break;
    case FIELD_NONE:
        break;
    }
}
