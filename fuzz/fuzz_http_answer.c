/* Fuzzes what the request engine reads from an answer: header lines (split at
 * '\n'), and the same text as a path for route templating and scope hints. */
#include "http/classify.h"
#include "http/headers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gcs_http_answer_headers h;
    gcs_http_headers_reset(&h);
    const char *p = (const char *)data;
    size_t left = size;
    while (left > 0) {
        const char *nl = memchr(p, '\n', left);
        size_t n = nl ? (size_t)(nl - p) + 1 : left;
        gcs_http_headers_parse_line(&h, p, n);
        p += n;
        left -= n;
    }
    if (strlen(h.etag) >= sizeof h.etag || strlen(h.content_type) >= sizeof h.content_type)
        abort();
    if (h.retry_after < -1 || h.rl_count < -1 || h.rl_reset < -1 || h.rl_allowed < -1)
        abort();

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char route[64];
    gcs_http_route_template(route, sizeof route, text);
    if (strlen(route) >= sizeof route)
        abort();
    (void)gcs_http_missing_scope("PATCH", text);
    (void)gcs_http_classify_status(409, "POST", text, text);
    free(text);
    return 0;
}
