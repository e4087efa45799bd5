/* Fuzzes receipt canonicalisation and its exports: the input is split at
 * newlines into the text fields of a receipt, which is then canonicalised,
 * hashed, and written as CSV and JSON. Checks that the canonical form is
 * injective on what it was given (two receipts that differ hash differently
 * is SHA-256's job; that the canonical bytes differ is ours). */
#include "core/buf.h"
#include "store/store.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *f[16] = {0};
    int n = 0;
    char *p = text;
    while (n < 16 && p) {
        f[n++] = *p == '~' ? NULL : p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    gcs_receipt r = {.seq = (int64_t)size, .time_ms = 1795000000000LL + (int64_t)size,
                     .run_id = f[0], .operation = f[1], .resource_type = f[2],
                     .source_key = f[3], .genesys_id = f[4], .method = f[5], .path = f[6],
                     .request_body = f[7], .status = 200, .response_body = f[8],
                     .etag_sent = f[9], .etag_received = f[10], .attempts = 1,
                     .latency_ms = -1, .outcome = f[11], .correlation_id = f[12],
                     .prev_hash = f[13], .hash = f[14]};
    gcs_buf a, b;
    gcs_buf_init(&a, 1 << 20);
    gcs_buf_init(&b, 1 << 20);
    char h1[65], h2[65];
    if (gcs_receipt_canonical(&a, &r) == 0 && gcs_receipt_hash(h1, gcs_receipt_genesis_hash, &r) == 0) {
        /* Moving one byte from a field to the next must change the bytes. */
        gcs_receipt r2 = r;
        if (r.run_id && *r.run_id && !r.operation) {
            r2.run_id = r.run_id + 1;
            if (gcs_receipt_canonical(&b, &r2) == 0 && a.len == b.len &&
                memcmp(a.ptr, b.ptr, a.len) == 0)
                abort();
        }
        if (gcs_receipt_hash(h2, gcs_receipt_genesis_hash, &r) != 0 || strcmp(h1, h2) != 0)
            abort(); /* hashing is deterministic */
    }
    gcs_buf_clear(&b);
    gcs_receipt_csv(&b, &r);
    json_t *o = gcs_receipt_json(&r);
    json_decref(o);
    gcs_buf_release(&a);
    gcs_buf_release(&b);
    free(text);
    return 0;
}
