/*
 * Person events and provisioning requests: parsing, checking, and the job
 * payload they become (event.h).
 */
#include "service/event.h"

#include "core/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gcs_event_release(gcs_event *e)
{
    if (!e)
        return;
    free(e->key);
    json_decref(e->row);
    memset(e, 0, sizeof *e);
}

/* Printable text without control characters: a key ends up in logs, job keys
 * and receipts. */
static bool plain_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static int check_key(const json_t *v, const char *where)
{
    if (!v)
        return gcs_error_set(GCS_EINVALID, "%s.key: missing", where);
    if (!json_is_string(v))
        return gcs_error_set(GCS_EINVALID, "%s.key: must be a string", where);
    size_t len = json_string_length(v);
    if (len == 0 || len > GCS_EVENT_KEY_MAX)
        return gcs_error_set(GCS_EINVALID, "%s.key: must be 1 to %d bytes", where,
                             GCS_EVENT_KEY_MAX);
    if (!plain_text(json_string_value(v), len))
        return gcs_error_set(GCS_EINVALID, "%s.key: holds a control character", where);
    return 0;
}

/* A row: an object of scalar values, as a line of the HR export would give. */
static int check_row(const json_t *row, const char *where)
{
    if (!row || json_is_null(row))
        return gcs_error_set(GCS_EINVALID, "%s.row: missing (an object of the source's columns)",
                             where);
    if (!json_is_object(row))
        return gcs_error_set(GCS_EINVALID, "%s.row: must be an object of the source's columns",
                             where);
    if (json_object_size(row) == 0)
        return gcs_error_set(GCS_EINVALID, "%s.row: has no column", where);
    if (json_object_size(row) > GCS_EVENT_FIELDS_MAX)
        return gcs_error_set(GCS_EINVALID, "%s.row: more than %d columns", where,
                             GCS_EVENT_FIELDS_MAX);
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)row, name, value) {
        size_t nlen = strlen(name);
        if (nlen == 0 || nlen > GCS_EVENT_FIELD_MAX || !plain_text(name, nlen))
            return gcs_error_set(GCS_EINVALID,
                                 "%s.row: a column name must be 1 to %d printable bytes", where,
                                 GCS_EVENT_FIELD_MAX);
        if (json_is_object(value) || json_is_array(value))
            return gcs_error_set(GCS_EINVALID,
                                 "%s.row.%s: must be a string, number, boolean or null", where,
                                 name);
        if (json_is_string(value) && json_string_length(value) > GCS_EVENT_VALUE_MAX)
            return gcs_error_set(GCS_EINVALID, "%s.row.%s: longer than %d bytes", where, name,
                                 GCS_EVENT_VALUE_MAX);
    }
    return 0;
}

static int load_object(json_t **out, const char *body, size_t len)
{
    json_error_t jerr;
    *out = NULL;
    if (len == 0)
        return gcs_error_set(GCS_EINVALID, "body: empty (a JSON object is expected)");
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return gcs_error_set(GCS_EINVALID, "body: not JSON (line %d, column %d)", jerr.line,
                             jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return gcs_error_set(GCS_EINVALID, "body: must be a JSON object");
    }
    *out = root;
    return 0;
}

static int fill(gcs_event *out, gcs_event_action action, const json_t *data, const char *where)
{
    int rc;
    const json_t *row = json_object_get(data, "row");
    if ((rc = check_key(json_object_get(data, "key"), where)) < 0)
        return rc;
    if (action == GCS_EVENT_UPSERT && (rc = check_row(row, where)) < 0)
        return rc;
    if (action == GCS_EVENT_LEAVE && row && !json_is_null(row))
        return gcs_error_set(GCS_EINVALID, "%s.row: a person.left event carries no row", where);
    out->action = action;
    out->key = strdup(json_string_value(json_object_get(data, "key")));
    if (action == GCS_EVENT_UPSERT)
        out->row = json_incref((json_t *)row);
    if (!out->key) {
        gcs_event_release(out);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

int gcs_event_parse(gcs_event *out, const char *body, size_t len)
{
    json_t *root = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = load_object(&root, body, len)) < 0)
        return rc;
    const json_t *type = json_object_get(root, "type");
    const json_t *data = json_object_get(root, "data");
    const char *t = json_string_value(type);
    gcs_event_action action = 0;
    if (!type) {
        rc = gcs_error_set(GCS_EINVALID, "type: missing (person.created, person.changed, "
                                         "person.left)");
    } else if (!t) {
        rc = gcs_error_set(GCS_EINVALID, "type: must be a string");
    } else if (strcmp(t, "person.created") == 0 || strcmp(t, "person.changed") == 0) {
        action = GCS_EVENT_UPSERT;
    } else if (strcmp(t, "person.left") == 0) {
        action = GCS_EVENT_LEAVE;
    } else if (strncmp(t, "group.", 6) == 0) {
        rc = gcs_error_set(GCS_EINVALID, "type: group events are not supported yet");
    } else {
        rc = gcs_error_set(GCS_EINVALID,
                           "type: unknown event type (person.created, person.changed, "
                           "person.left)");
    }
    if (rc < 0)
        goto out;
    if (!data) {
        rc = gcs_error_set(GCS_EINVALID, "data: missing (an object with key and row)");
        goto out;
    }
    if (!json_is_object(data)) {
        rc = gcs_error_set(GCS_EINVALID, "data: must be an object with key and row");
        goto out;
    }
    rc = fill(out, action, data, "data");
out:
    json_decref(root);
    return rc;
}

int gcs_event_parse_request(gcs_event *out, const char *body, size_t len)
{
    json_t *root = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = load_object(&root, body, len)) < 0)
        return rc;
    /* "body" names the fields as a caller wrote them: body.key, body.row.email */
    rc = fill(out, GCS_EVENT_UPSERT, root, "body");
    json_decref(root);
    return rc;
}

int gcs_event_job(char **out_key, char **out_payload, const gcs_event *e,
                  const gcs_event_origin *o)
{
    int rc = 0;
    *out_key = NULL;
    *out_payload = NULL;
    json_t *p = json_object();
    size_t klen = strlen(e->key) + sizeof "person:";
    char *key = malloc(klen);
    GCS_CHECK_ALLOC_GOTO(p, rc, out);
    GCS_CHECK_ALLOC_GOTO(key, rc, out);
    snprintf(key, klen, "person:%s", e->key);
    bool ok = json_object_set_new(p, "v", json_integer(1)) == 0 &&
              json_object_set_new(p, "kind", json_string("person")) == 0 &&
              json_object_set_new(p, "key", json_string(e->key)) == 0 &&
              json_object_set(p, "row", e->row ? e->row : json_null()) == 0 &&
              json_object_set_new(p, "event",
                                  json_string(e->action == GCS_EVENT_LEAVE ? "leave" : "upsert")) ==
                  0 &&
              json_object_set_new(p, "origin", json_string(o->origin)) == 0 &&
              (!o->webhook_id ||
               json_object_set_new(p, "webhook_id", json_string(o->webhook_id)) == 0) &&
              json_object_set_new(p, "requested_by", json_string(o->requested_by)) == 0 &&
              json_object_set_new(p, "accepted_ms", json_integer(o->accepted_ms)) == 0;
    if (!ok) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    *out_payload = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    GCS_CHECK_ALLOC_GOTO(*out_payload, rc, out);
    *out_key = key;
    key = NULL;
out:
    free(key);
    json_decref(p);
    return rc;
}
