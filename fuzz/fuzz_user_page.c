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

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_user(const gcs_user_read *user, void *payload)
{
    ++*(long *)payload;
    if (strlen(user->kept) != user->kept_len || user->kept[0] != '{' ||
        user->kept[user->kept_len - 1] != '}')
        abort();
    /* The flat record: every string readable, every list's entries in reach. */
    const gcs_user_fields *f = user->fields;
    size_t sum = 0;
    for (int i = 0; i < GCS_USER__FIELDS; i++)
        sum += f->str[i] ? strlen(f->str[i]) : 0;
    for (int l = 0; l < GCS_USER__LISTS; l++) {
        for (size_t i = 0; i < f->list[l].count; i++) {
            const gcs_user_entry *e = &f->list[l].at[i];
            sum += (e->key ? strlen(e->key) : 0) + (e->value ? strlen(e->value) : 0);
        }
    }
    static volatile size_t read_all;
    read_all += sum;
    if (f->active < -1 || f->active > 2)
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
