/* Fuzzes the redaction layer's text scanner, which reads arbitrary log text. */
#include "core/buf.h"
#include "core/redact.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One level of JSON string escapes undone, written here apart from the
 * redactor's own: \" \\ \/ \b \f \n \r \t, \uXXXX and surrogate pairs; any
 * other backslash is kept. */
static size_t unescape_once(const char *in, size_t n, char *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        const char *e = i + 1 < n && in[i] == '\\' && in[i + 1] ? strchr("\"\\/bfnrt", in[i + 1])
                                                              : NULL;
        long u = -1, low = -1;
        if (e) {
            out[m++] = "\"\\/\b\f\n\r\t"[e - "\"\\/bfnrt"];
            i += 2;
            continue;
        }
        if (in[i] == '\\' && n - i >= 6 && in[i + 1] == 'u' &&
            strspn(in + i + 2, "0123456789abcdefABCDEF") >= 4)
            u = strtol((char[]){in[i + 2], in[i + 3], in[i + 4], in[i + 5], 0}, NULL, 16);
        size_t used = 6;
        if (u >= 0xD800 && u <= 0xDBFF && n - i >= 12 && in[i + 6] == '\\' &&
            in[i + 7] == 'u' && strspn(in + i + 8, "0123456789abcdefABCDEF") >= 4) {
            low = strtol((char[]){in[i + 8], in[i + 9], in[i + 10], in[i + 11], 0}, NULL, 16);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
                used = 12;
            }
        }
        if (u < 0 || (u >= 0xD800 && u <= 0xDFFF)) {
            out[m++] = in[i++];
            continue;
        }
        if (u < 0x80) {
            out[m++] = (char)u;
        } else if (u < 0x800) {
            out[m++] = (char)(0xC0 | (u >> 6));
            out[m++] = (char)(0x80 | (u & 0x3F));
        } else if (u < 0x10000) {
            out[m++] = (char)(0xE0 | (u >> 12));
            out[m++] = (char)(0x80 | ((u >> 6) & 0x3F));
            out[m++] = (char)(0x80 | (u & 0x3F));
        } else {
            out[m++] = (char)(0xF0 | (u >> 18));
            out[m++] = (char)(0x80 | ((u >> 12) & 0x3F));
            out[m++] = (char)(0x80 | ((u >> 6) & 0x3F));
            out[m++] = (char)(0x80 | (u & 0x3F));
        }
        i += used;
    }
    return m;
}

/* Whether `secret` can be read in text[0, n), as it is or decoded up to
 * three times (JSON inside a JSON string inside a JSON string). */
static bool readable(const char *text, size_t n, const char *secret)
{
    char *a = malloc(n + 1), *b = malloc(n + 1);
    bool found = false;
    if (!a || !b)
        abort();
    memcpy(a, text, n);
    a[n] = '\0'; /* the scan for hex digits stops there */
    for (int level = 0; level <= 3 && !found; level++) {
        found = memmem(a, n, secret, strlen(secret)) != NULL;
        n = unescape_once(a, n, b);
        b[n] = '\0';
        char *t = a;
        a = b;
        b = t;
    }
    free(a);
    free(b);
    return found;
}

/* Registered: one plain secret, and one with every character JSON may
 * write as an escape ('/', '"', '\\', non-ASCII, beyond U+FFFF). */
#define PLAIN_SECRET "s3cr3t-value"
#define ESCAPED_SECRET "e/s\"c\\\xc3\xa9\xf0\x9f\x98\x80"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        gcs_redact_register(PLAIN_SECRET);
        gcs_redact_register(ESCAPED_SECRET);
        registered = 1;
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    gcs_buf out;
    gcs_buf_init(&out, 0);
    gcs_redact_append(&out, text);
    /* a registered secret must never survive, however it is escaped */
    if (readable(out.ptr, out.len, PLAIN_SECRET) || readable(out.ptr, out.len, ESCAPED_SECRET))
        abort();
    /* The shortcut for text where no shape can start masks what the
     * word-by-word pass masks (no registered secret in it: rule 2 alone). */
    if (!readable(text, strlen(text), PLAIN_SECRET) &&
        !readable(text, strlen(text), ESCAPED_SECRET)) {
        gcs_buf full;
        gcs_buf_init(&full, 0);
        gcs_redact_append_shapes_in_full(&full, text);
        if (full.len != out.len || memcmp(full.ptr, out.ptr, out.len) != 0)
            abort();
        gcs_buf_release(&full);
    }
    /* A body passed as clean is stored as it is: every rule leaves it so, and
     * it has no sensitive key that the structured redaction would mask. */
    size_t len = strlen(text);
    if (gcs_redact_json_text_is_clean(text, len)) {
        if (out.len != len || memcmp(out.ptr, text, len) != 0)
            abort();
        json_t *parsed = json_loadb(text, len, 0, NULL);
        if (parsed && gcs_redact_json_text_has_sensitive_key(text, len))
            abort();
        json_decref(parsed);
    }
    /* A head of the result, taken from a head of the text, is the head of
     * the whole result (as a receipt keeps it): for a few lengths. */
    size_t keeps[3] = {size / 2, size / 5, size ? data[0] % (size + 1) : 0};
    for (int k = 0; k < 3; k++) {
        gcs_buf head;
        gcs_buf_init(&head, 0);
        bool cut = false;
        if (gcs_redact_append_head(&head, text, size, keeps[k], &cut, NULL) == 0) {
            size_t want = out.len > keeps[k] ? keeps[k] : out.len;
            if (cut != (out.len > keeps[k]) || head.len != want ||
                memcmp(head.ptr, out.ptr, want) != 0)
                abort();
        }
        gcs_buf_release(&head);
    }
    char small[32];
    gcs_redact_text(small, sizeof small, text);
    gcs_buf_release(&out);
    free(text);
    return 0;
}
