#include "engine/recorder.h"
#include "core/error.h"
#include "core/jsontext.h"
#include "core/log.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lower_copy(char *out, size_t outsz, const char *s)
{
    snprintf(out, outsz, "%s", s);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* The entry of `key` in r->keys, added when new; -1 out of memory. */
static int64_t key_entry(gcs_recorder *r, const char *key)
{
    uint64_t entry = gcs_strmap_count(&r->keys);
    int added = gcs_strmap_put_str(&r->keys, key, entry, false);
    if (added < 0 || (added == 0 && !gcs_strmap_get_str(&r->keys, key, &entry)))
        return -1;
    return (int64_t)entry;
}

/* Links `name` in `map` to the key of entry `entry` (a later link of the same
 * name wins). Out of memory, the link is not made: a receipt then names no
 * key, as one of an unknown person. */
static void link_key(gcs_strmap *map, const char *name, int64_t entry)
{
    if (entry >= 0)
        (void)gcs_strmap_put_str(map, name, (uint64_t)entry, true);
}

/* The key linked to `name` in `map`, or NULL: borrowed, valid until the next
 * link is made. */
static const char *key_of(const gcs_recorder *r, const gcs_strmap *map, const char *name)
{
    uint64_t entry;
    return gcs_strmap_get_str(map, name, &entry) ? gcs_strmap_key_at(&r->keys, entry, NULL)
                                                 : NULL;
}

/* Links `id` to the key of entry `entry` (a later link of the same id wins)
 * and remembers it as that key's id. Out of memory, neither is made. */
static void note_id_of_key(gcs_recorder *r, int64_t entry, const char *id)
{
    size_t id_entry = gcs_strmap_count(&r->ids), len = strlen(id);
    int added = entry < 0 ? -1 : gcs_strmap_put(&r->ids, id, len, (uint64_t)entry, true);
    if (added < 0 || (added == 0 && !gcs_strmap_entry_of(&r->ids, id, len, &id_entry)))
        return;
    if ((size_t)entry >= r->id_of_key_cap) {
        size_t cap = r->id_of_key_cap ? r->id_of_key_cap : 1024;
        while (cap <= (size_t)entry)
            cap *= 2;
        uint64_t *grown = realloc(r->id_of_key, cap * sizeof *grown);
        if (!grown)
            return;
        memset(grown + r->id_of_key_cap, 0, (cap - r->id_of_key_cap) * sizeof *grown);
        r->id_of_key = grown;
        r->id_of_key_cap = cap;
    }
    r->id_of_key[entry] = id_entry + 1;
}

void gcs_recorder_learn(gcs_recorder *r, const char *key, const char *id, const char *user_name)
{
    if (!key)
        return;
    int64_t entry = key_entry(r, key);
    if (id)
        note_id_of_key(r, entry, id);
    if (user_name) {
        char lower[512];
        lower_copy(lower, sizeof lower, user_name);
        link_key(&r->name_to_key, lower, entry);
    }
}

const char *gcs_recorder_id_of(const gcs_recorder *r, const char *key)
{
    uint64_t entry;
    if (!r || !key || !gcs_strmap_get_str(&r->keys, key, &entry) || entry >= r->id_of_key_cap ||
        !r->id_of_key[entry])
        return NULL;
    return gcs_strmap_key_at(&r->ids, r->id_of_key[entry] - 1, NULL);
}

void gcs_recorder_learn_path(gcs_recorder *r, const char *key, const char *path)
{
    if (key && path)
        link_key(&r->path_to_key, path, key_entry(r, key));
}

static const char *operation_of(const char *method)
{
    if (strcmp(method, "POST") == 0)
        return "create";
    if (strcmp(method, "PATCH") == 0)
        return "patch";
    if (strcmp(method, "PUT") == 0)
        return "replace";
    if (strcmp(method, "DELETE") == 0)
        return "delete";
    return "read";
}

static const char *resource_of(const char *path)
{
    if (strstr(path, "/scim/v2/users") || strstr(path, "/scim/users"))
        return "user";
    if (strstr(path, "/groups") || strstr(path, "/authorization/subjects/"))
        return "group";
    if (strstr(path, "/authorization/roles"))
        return "role";
    if (strstr(path, "/authorization/divisions"))
        return "division";
    if (strstr(path, "/routing/skills"))
        return "skill";
    if (strstr(path, "/routing/languages"))
        return "language";
    return "other";
}

static void on_receipt(const gcs_http_receipt *h, void *payload)
{
    gcs_recorder *r = payload;
    const char *key = NULL, *id = NULL;
    /* A call cancelled before it was ever sent (a stop, a store failure) was
     * not made: it has nothing to prove, and a stop with thousands queued must
     * not write thousands of receipts on its way out. */
    if (h->outcome == GCS_HTTP_CANCELLED && h->attempts == 0)
        return;
    char idbuf[128] = "";
    const char *p = strstr(h->path, "/users/");
    /* A group's calls name it by its id too (the group planner and apply learn
     * it as "group:KEY"): /groups/{id}, /authorization/subjects/{id}. */
    const char *g = p ? NULL : strstr(h->path, "/groups/");
    const char *subj = p || g ? NULL : strstr(h->path, "/subjects/");
    if (g || subj) {
        snprintf(idbuf, sizeof idbuf, "%s", g ? g + 8 : subj + 10);
        idbuf[strcspn(idbuf, "?/")] = '\0';
        id = idbuf;
        key = key_of(r, &r->ids, id);
    } else if (p) {
        snprintf(idbuf, sizeof idbuf, "%s", p + 7);
        idbuf[strcspn(idbuf, "?/")] = '\0';
        id = idbuf;
        key = key_of(r, &r->ids, id);
    } else if (strcmp(h->method, "GET") == 0 && strchr(h->path, '?')) {
        /* A lookup made for a person: after a crash it may be the only trace of
         * a create whose own receipt was lost, so it names the key and the user
         * it found. */
        key = key_of(r, &r->path_to_key, h->path);
        if (key && h->response_body) {
            json_t *body = json_loads(h->response_body, 0, NULL);
            const char *found = json_string_value(
                json_object_get(json_array_get(json_object_get(body, "Resources"), 0), "id"));
            if (found) {
                snprintf(idbuf, sizeof idbuf, "%s", found);
                id = idbuf;
            }
            json_decref(body);
        }
    } else if (h->request_body && strcmp(h->method, "POST") == 0) {
        char name[512];
        int found = gcs_json_text_top_string(name, sizeof name, h->request_body, "userName");
        if (found < 0) {
            json_t *body = json_loads(h->request_body, 0, NULL);
            const char *v = json_string_value(json_object_get(body, "userName"));
            found = v ? 1 : 0;
            if (v)
                snprintf(name, sizeof name, "%s", v);
            json_decref(body);
        }
        if (!found && strstr(h->path, "/groups"))
            found = gcs_json_text_top_string(name, sizeof name, h->request_body, "name") > 0;
        if (found) {
            char lower[512];
            lower_copy(lower, sizeof lower, name);
            key = key_of(r, &r->name_to_key, lower);
        }
    }
    gcs_receipt rec = {
        .time_ms = h->wall_ms,
        .run_id = r->run_id[0] ? r->run_id : NULL,
        .operation = operation_of(h->method),
        .resource_type = resource_of(h->path),
        .source_key = key,
        .genesys_id = id,
        .method = h->method,
        .path = h->path,
        .request_body = h->request_body,
        .status = h->status,
        .response_body = h->response_body,
        .etag_sent = h->etag_sent,
        .etag_received = h->etag_received,
        .attempts = h->attempts,
        .latency_ms = h->latency_ms,
        .outcome = gcs_http_outcome_name(h->outcome),
        .correlation_id = h->correlation_id,
        .bodies_redacted = true, /* the engine's hook redacts them */
    };
    if (gcs_store_receipt_append(r->store, &rec) < 0 && !r->failed) {
        r->failed = gcs_error_last_code() ? gcs_error_last_code() : GCS_EIO;
        GCS_ERR("receipt.failed", "error", gcs_error_last());
        gcs_http_cancel(r->client);
    }
}

void gcs_recorder_attach(gcs_recorder *r, gcs_store *store, gcs_http_client *client,
                         const char *run_id)
{
    memset(r, 0, sizeof *r);
    r->store = store;
    r->client = client;
    snprintf(r->run_id, sizeof r->run_id, "%s", run_id ? run_id : "");
    gcs_strmap_init(&r->keys);
    gcs_strmap_init(&r->name_to_key);
    gcs_strmap_init(&r->path_to_key);
    gcs_strmap_init(&r->ids);
    gcs_http_client_set_receipt_hook(client, on_receipt, r);
    /* The store keeps that much of a body: the engine redacts no more of it. */
    gcs_http_client_set_receipt_body_max(client, GCS_RECEIPT_BODY_MAX);
}

int gcs_recorder_detach(gcs_recorder *r)
{
    if (r->client) {
        gcs_http_client_set_receipt_hook(r->client, NULL, NULL);
        gcs_http_client_set_receipt_body_max(r->client, 0);
    }
    int rc = r->failed;
    if (r->store) {
        int frc = gcs_store_flush(r->store);
        if (rc == 0)
            rc = frc;
    }
    gcs_strmap_release(&r->keys);
    gcs_strmap_release(&r->name_to_key);
    gcs_strmap_release(&r->path_to_key);
    gcs_strmap_release(&r->ids);
    free(r->id_of_key);
    r->id_of_key = NULL;
    r->id_of_key_cap = 0;
    r->client = NULL;
    return rc;
}
