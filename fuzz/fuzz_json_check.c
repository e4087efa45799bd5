/* Fuzzes the check that lets apply read a plan's operations without building
 * each one with jansson: whenever it decides, it must decide as jansson does
 * (json_loadb with JSON_REJECT_DUPLICATES), or a malformed operation could pass
 * or a good one be refused. */
#include "core/jsontext.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int verdict = gcs_json_text_check((const char *)data, size);
    if (verdict < 0)
        return 0; /* left to the parser */
    json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    bool read = v != NULL;
    json_decref(v);
    if (read != (verdict == 1))
        abort();
    return 0;
}
