/* Fuzzes the notify file's parser (service/notify.h): JSON through jansson,
 * then the endpoint checks (URLs, names, event filters). Secret files are not
 * read (dir NULL), so any input stays in memory. */
#include "service/notify.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gcs_notify_config *c = NULL;
    if (gcs_notify_config_parse(&c, (const char *)data, size, "fuzz", NULL) == 0 &&
        c->table.count != c->count)
        __builtin_trap();
    gcs_notify_config_free(c);
    return 0;
}
