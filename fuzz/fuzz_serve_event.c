/* Fuzzes what gcscim serve parses from a caller: an event body, a provisioning
 * request body, and an api_keys_file. Whatever the input, no crash; a parsed
 * event has a key and (unless it is a leave) a row, and becomes a job whose
 * payload is JSON; an error names a field; a parsed key file has rights on
 * every key. */
#include "core/error.h"
#include "service/auth.h"
#include "service/event.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(const gcs_event *e)
{
    if (!e->key || !*e->key || strlen(e->key) > GCS_EVENT_KEY_MAX)
        abort();
    if ((e->action == GCS_EVENT_UPSERT) != (e->row != NULL))
        abort();
    char *key = NULL, *payload = NULL;
    gcs_event_origin o = {"event", "msg_1", "webhook", 1};
    if (gcs_event_job(&key, &payload, e, &o) == 0) {
        json_t *p = json_loads(payload, 0, NULL);
        if (!p || strncmp(key, "person:", 7) != 0)
            abort();
        json_decref(p);
    }
    free(key);
    free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gcs_event e;
    if (gcs_event_parse(&e, (const char *)data, size) == 0)
        check_event(&e);
    else if (!strchr(gcs_error_last(), ':'))
        abort(); /* every refusal names the field it is about */
    gcs_event_release(&e);
    if (gcs_event_parse_request(&e, (const char *)data, size) == 0)
        check_event(&e);
    gcs_event_release(&e);

    char *text = malloc(size + 1);
    gcs_api_keys *keys = calloc(1, sizeof *keys);
    if (text && keys) {
        memcpy(text, data, size);
        text[size] = '\0';
        if (gcs_api_keys_parse(keys, text, "keys") == 0) {
            for (size_t i = 0; i < keys->count; i++) {
                if (!keys->keys[i].rights || !keys->keys[i].name[0])
                    abort();
            }
        }
    }
    free(keys);
    free(text);
    gcs_error_clear();
    return 0;
}
