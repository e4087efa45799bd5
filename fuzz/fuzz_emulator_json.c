/* Fuzzes the emulator's reader of request bodies (gcs_emu_json_parse_fast)
 * against jansson's: whenever it reads a text, jansson must read the same
 * value from it, with its keys in the same order; it may give up on any
 * text (jansson then answers), and must not crash, leak or loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    json_t *fast = gcs_emu_json_parse_fast((const char *)data, size);
    if (!fast)
        return 0;
    json_t *slow = json_loadb((const char *)data, size, 0, NULL);
    if (!slow || !json_equal(fast, slow))
        abort();
    char *a = gcs_emu_json_text(fast), *b = gcs_emu_json_text(slow);
    if (!a || !b || strcmp(a, b) != 0)
        abort();
    free(a);
    free(b);
    json_decref(fast);
    json_decref(slow);
    return 0;
}
