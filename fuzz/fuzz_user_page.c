/* Fuzzes the streamed reader of a user listing's page (genesys/user_page.h):
 * whatever the bytes, it returns 0 or a clear error, never crashes, and what it
 * hands over is well formed. A page it takes, jansson takes too, with as many
 * users; a page it refuses stops with GCS_EINVALID naming the byte (or
 * GCS_ENOMEM). */
#include "core/error.h"
#include "genesys/user_page.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_user(const gcs_user_read *user, void *payload)
{
    ++*(long *)payload;
    if (!json_is_object(user->members) || strlen(user->kept) != user->kept_len ||
        user->kept[0] != '{' || user->kept[user->kept_len - 1] != '}')
        abort();
    /* The kept text is JSON: the planner parses it again when the row is decided. */
    json_t *again = json_loadb(user->kept, user->kept_len, 0, NULL);
    if (!json_is_object(again))
        abort();
    json_decref(again);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long users = 0;
    gcs_user_page_info info;
    int rc = gcs_user_page_read(&info, (const char *)data, size, check_user, &users);
    if (rc == 0) {
        json_t *tree = json_loadb((const char *)data, size, 0, NULL);
        if (!json_is_object(tree) || info.users != users ||
            json_array_size(json_object_get(tree, "Resources")) != (size_t)users)
            abort();
        json_decref(tree);
    } else if (rc != GCS_EINVALID && rc != GCS_ENOMEM) {
        abort();
    } else if (rc == GCS_EINVALID && !strstr(gcs_error_last(), "byte ")) {
        abort();
    }
    return 0;
}
