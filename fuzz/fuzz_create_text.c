/* Fuzzes the text way of planning a create against the tree's: for any JSON
 * object jansson reads, its compact text written without jansson's dump
 * (gcs_json_text_put_compact) and spaced as the plan writes it
 * (gcs_json_text_put_spaced) must be jansson's own, and the changes written
 * from the text (gcs_diff_create_changes_text), when it does not decline,
 * must be gcs_diff_user's against an empty user, byte for byte: a plan made
 * either way must be the same plan. */
#include "core/buf.h"
#include "core/jsontext.h"
#include "plan/diff.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *user = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(user)) {
        json_decref(user);
        return 0;
    }
    char *compact = json_dumps(user, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *spaced = json_dumps(user, JSON_INDENT(0) | JSON_PRESERVE_ORDER);
    json_t *nothing = json_object(), *ops = NULL, *changes = NULL;
    char *want = NULL;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    if (!compact || !spaced || !nothing || gcs_diff_user(&ops, &changes, user, nothing, NULL) < 0 ||
        !(want = json_dumps(changes, JSON_INDENT(0) | JSON_PRESERVE_ORDER)))
        goto out; /* out of memory */
    if (gcs_json_text_put_compact(&b, user) != 1 || strcmp(b.ptr, compact) != 0)
        abort();
    gcs_buf_clear(&b);
    if (gcs_json_text_put_spaced(&b, compact, strlen(compact)) < 0 || strcmp(b.ptr, spaced) != 0)
        abort();
    gcs_buf_clear(&b);
    size_t count = 0;
    if (gcs_buf_putc(&b, '[') < 0)
        goto out;
    int rc = gcs_diff_create_changes_text(&b, &count, compact);
    if (rc == 1 && (gcs_buf_putc(&b, ']') < 0 || strcmp(b.ptr, want) != 0 ||
                    count != json_array_size(changes)))
        abort();
    if (rc == 0 && strcmp(b.ptr, "[") != 0)
        abort(); /* declined, yet something was written */
out:
    gcs_buf_release(&b);
    free(want);
    free(compact);
    free(spaced);
    json_decref(ops);
    json_decref(changes);
    json_decref(nothing);
    json_decref(user);
    return 0;
}
