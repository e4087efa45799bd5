#include "engine/recorder.h"
#include "core/error.h"
#include "core/jsontext.h"
#include "core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void lower_copy(char *out, size_t outsz, const char *s)
{
    snprintf(out, outsz, "%s", s);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

void gcs_recorder_learn(gcs_recorder *r, const char *key, const char *id, const char *user_name)
{
    if (!key)
        return;
    if (id)
        json_object_set_new(r->id_to_key, id, json_string(key));
    if (user_name) {
        char lower[512];
        lower_copy(lower, sizeof lower, user_name);
        json_object_set_new(r->name_to_key, lower, json_string(key));
    }
}

void gcs_recorder_learn_path(gcs_recorder *r, const char *key, const char *path)
{
    if (key && path && r->path_to_key)
        json_object_set_new(r->path_to_key, path, json_string(key));
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
        key = json_string_value(json_object_get(r->id_to_key, id));
    } else if (p) {
        snprintf(idbuf, sizeof idbuf, "%s", p + 7);
        idbuf[strcspn(idbuf, "?/")] = '\0';
        id = idbuf;
        key = json_string_value(json_object_get(r->id_to_key, id));
    } else if (strcmp(h->method, "GET") == 0 && strchr(h->path, '?')) {
        /* A lookup made for a person: after a crash it may be the only trace of
         * a create whose own receipt was lost, so it names the key and the user
         * it found. */
        key = json_string_value(json_object_get(r->path_to_key, h->path));
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
            key = json_string_value(json_object_get(r->name_to_key, lower));
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
    r->id_to_key = json_object();
    r->name_to_key = json_object();
    r->path_to_key = json_object();
    gcs_http_client_set_receipt_hook(client, on_receipt, r);
}

int gcs_recorder_detach(gcs_recorder *r)
{
    if (r->client)
        gcs_http_client_set_receipt_hook(r->client, NULL, NULL);
    int rc = r->failed;
    if (r->store) {
        int frc = gcs_store_flush(r->store);
        if (rc == 0)
            rc = frc;
    }
    json_decref(r->id_to_key);
    json_decref(r->name_to_key);
    json_decref(r->path_to_key);
    r->id_to_key = r->name_to_key = r->path_to_key = NULL;
    r->client = NULL;
    return rc;
}
