/* Fuzzes the scan that lets a request body without sensitive keys skip the
 * JSON round trip: whenever it says "no sensitive key", the parsed document
 * must indeed have none, at any depth. */
#include "core/redact.h"
#include "store/store_int.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const json_t *v)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)v, key, value) {
            if (gcs_redact_is_sensitive_key(key))
                abort(); /* the scan missed it */
            check(value);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            check(json_array_get(v, i));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gcs_store__receipt_json_has_sensitive_key((const char *)data, size))
        return 0;
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (doc)
        check(doc);
    json_decref(doc);
    return 0;
}
