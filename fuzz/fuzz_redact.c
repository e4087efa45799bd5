/* Fuzzes the redaction layer's text scanner, which reads arbitrary log text. */
#include "core/buf.h"
#include "core/redact.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        gcs_redact_register("s3cr3t-value");
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
    if (strstr(out.ptr, "s3cr3t-value"))
        abort(); /* a registered secret must never survive */
    /* The shortcut for text where no shape can start masks what the
     * word-by-word pass masks (no registered secret in it: rule 2 alone). */
    if (!strstr(text, "s3cr3t-value")) {
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
