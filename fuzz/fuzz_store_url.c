/* Fuzzes what gcscim parses by hand around the store: database URLs (and
 * their display with the password hidden) and the --since/--until times. */
#include "core/error.h"
#include "core/time.h"
#include "store/store.h"

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

    gcs_store_kind kind;
    char *target = NULL;
    if (gcs_store_url_parse(&kind, &target, text) == 0) {
        /* A parsed URL always names a back end and a non-empty target. */
        if ((kind != GCS_STORE_SQLITE && kind != GCS_STORE_POSTGRES) || !target || !*target)
            abort();
    }
    free(target);

    char *shown = NULL;
    if (gcs_store_url_display(&shown, text) == 0 && strlen(shown) > 2 * size + 64)
        abort(); /* hiding a password never makes the text grow much */
    free(shown);

    int64_t ms;
    if (gcs_time_parse_iso8601(&ms, text) == 0 && ms < -86400000LL * 2)
        abort(); /* years before 1970 are refused, whatever the offset */
    gcs_error_clear();
    free(text);
    return 0;
}
