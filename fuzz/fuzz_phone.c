/* Fuzzes the phone and date transforms and the format checks. Input: a
 * country or format, a NUL byte, then the value. */
#include "mapping/transform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 2);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    text[size + 1] = '\0';
    const char *arg = text;
    const char *value = memchr(text, '\0', size) ? text + strlen(text) + 1 : text;
    char e164[GCS_E164_SIZE], iso[11];
    if (gcs_phone_to_e164(e164, value, arg) == 0 && !gcs_is_e164(e164))
        __builtin_trap();
    if (gcs_date_to_iso(iso, value, arg) == 0 && !gcs_is_iso_date(iso))
        __builtin_trap();
    gcs_is_email(value);
    gcs_utf8_valid(value, strlen(value), NULL);
    free(text);
    return 0;
}
