/* Fuzzes what gcscim serve parses from a caller: an event body (person and
 * group events), a provisioning request body, and an api_keys_file. Whatever
 * the input, no crash; a parsed person event has a key and (unless it is a
 * leave) a row, a parsed group event a group with that key and its members
 * within the limits, and either becomes a job of its kind whose payload is
 * JSON; an error names a field; a parsed key file has rights on every key. */
#include "core/error.h"
#include "service/auth.h"
#include "service/event.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_group(const gcs_event *e)
{
    const json_t *g = e->group;
    if (!g || e->row || e->action != GCS_EVENT_UPSERT ||
        strcmp(json_string_value(json_object_get(g, "key")), e->key) != 0 ||
        strlen(e->key) > GCS_EVENT_GROUP_KEY_MAX)
        abort();
    const json_t *members = json_object_get(g, "members");
    if (!json_is_array(members) || json_array_size(members) > GCS_EVENT_GROUP_MEMBERS_MAX)
        abort();
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        if (!json_is_string(m) || json_string_length(m) == 0)
            abort();
    }
}

static void check_event(const gcs_event *e)
{
    if (!e->key || !*e->key || strlen(e->key) > GCS_EVENT_KEY_MAX)
        abort();
    if (e->kind == GCS_EVENT_GROUP)
        check_group(e);
    else if ((e->action == GCS_EVENT_UPSERT) != (e->row != NULL) || e->group)
        abort();
    char *key = NULL, *payload = NULL;
    gcs_event_origin o = {"event", "msg_1", "webhook", 1};
    if (gcs_event_job(&key, &payload, e, &o) == 0) {
        json_t *p = json_loads(payload, 0, NULL);
        const char *prefix = e->kind == GCS_EVENT_GROUP ? "group:" : "person:";
        if (!p || strncmp(key, prefix, strlen(prefix)) != 0)
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
