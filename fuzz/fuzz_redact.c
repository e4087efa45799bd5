/* Fuzzes the redaction layer's text scanner, which reads arbitrary log text. */
#include "core/buf.h"
#include "core/redact.h"

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
    char small[32];
    gcs_redact_text(small, sizeof small, text);
    gcs_buf_release(&out);
    free(text);
    return 0;
}
