/*
 * Person and group events and provisioning requests: parsing, checking, and
 * the job payload they become (event.h).
 */
#include "service/event.h"

#include "core/error.h"
#include "mapping/groups_file.h"

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
    json_decref(e->group);
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

/* ==== Group events ==== */

/* A group event becomes a groups file record: its limits are the file's. */
_Static_assert(GCS_EVENT_GROUP_KEY_MAX == GCS_GROUP_KEY_MAX, "a group key's limit is the file's");
_Static_assert(GCS_EVENT_GROUP_NAME_MAX == GCS_GROUP_NAME_MAX, "a group name's limit is the file's");

/* A text field of a group: a string of 1 to max printable bytes. */
static int check_text(const json_t *v, const char *where, const char *field, size_t max)
{
    if (!json_is_string(v))
        return gcs_error_set(GCS_EINVALID, "%s.%s: must be a string", where, field);
    size_t len = json_string_length(v);
    if (len == 0 || len > max)
        return gcs_error_set(GCS_EINVALID, "%s.%s: must be 1 to %zu bytes", where, field, max);
    if (!plain_text(json_string_value(v), len))
        return gcs_error_set(GCS_EINVALID, "%s.%s: holds a control character", where, field);
    return 0;
}

static int check_choice(const json_t *v, const char *where, const char *field,
                        const char *const *choices, const char *listed)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s && choices[i]; i++) {
        if (strcmp(s, choices[i]) == 0)
            return 0;
    }
    return gcs_error_set(GCS_EINVALID, "%s.%s: must be %s", where, field, listed);
}

/* A list of keys: an array of distinct texts of 1 to `len_max` printable
 * bytes, at most `max` of them, none equal to `self` (when given). */
static int check_keys(const json_t *v, const char *where, const char *field, size_t max,
                      size_t len_max, const char *self)
{
    if (!json_is_array(v))
        return gcs_error_set(GCS_EINVALID, "%s.%s: must be an array of keys", where, field);
    if (json_array_size(v) > max)
        return gcs_error_set(GCS_EINVALID, "%s.%s: more than %zu entries", where, field, max);
    json_t *seen = json_object();
    GCS_CHECK_ALLOC(seen);
    int rc = 0;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        char name[64];
        snprintf(name, sizeof name, "%s[%zu]", field, i);
        if ((rc = check_text(item, where, name, len_max)) < 0)
            break;
        const char *k = json_string_value(item);
        json_t *first = json_object_get(seen, k);
        if (first) {
            rc = gcs_error_set(GCS_EINVALID, "%s.%s: listed twice (as %s[%lld] too)", where, name,
                               field, (long long)json_integer_value(first));
            break;
        }
        if (self && strcmp(k, self) == 0) {
            rc = gcs_error_set(GCS_EINVALID, "%s.%s: a group cannot contain itself", where, name);
            break;
        }
        if (json_object_set_new(seen, k, json_integer((json_int_t)i)) < 0) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            break;
        }
    }
    json_decref(seen);
    return rc;
}

/* Role grants: [{"role": NAME, "division": NAME}], distinct. '@' is the
 * groups file's separator of the two, so neither name may hold one. */
static int check_roles(const json_t *v, const char *where)
{
    if (!json_is_array(v))
        return gcs_error_set(GCS_EINVALID,
                             "%s.roles: must be an array of {\"role\", \"division\"}", where);
    if (json_array_size(v) > GCS_EVENT_GROUP_ROLES_MAX)
        return gcs_error_set(GCS_EINVALID, "%s.roles: more than %d grants", where,
                             GCS_EVENT_GROUP_ROLES_MAX);
    size_t i;
    json_t *g;
    json_array_foreach(v, i, g) {
        char name[64];
        int rc;
        if (!json_is_object(g))
            return gcs_error_set(GCS_EINVALID,
                                 "%s.roles[%zu]: must be an object {\"role\", \"division\"}", where,
                                 i);
        const char *k;
        json_t *x;
        json_object_foreach(g, k, x) {
            if (strcmp(k, "role") != 0 && strcmp(k, "division") != 0)
                return gcs_error_set(GCS_EINVALID,
                                     "%s.roles[%zu]: unknown field (role, division)", where, i);
        }
        static const char *const parts[] = {"role", "division"};
        for (size_t p = 0; p < 2; p++) {
            snprintf(name, sizeof name, "roles[%zu].%s", i, parts[p]);
            const json_t *part = json_object_get(g, parts[p]);
            if (!part)
                return gcs_error_set(GCS_EINVALID, "%s.%s: missing", where, name);
            if ((rc = check_text(part, where, name, GCS_EVENT_GROUP_NAME_MAX)) < 0)
                return rc;
            if (strchr(json_string_value(part), '@'))
                return gcs_error_set(GCS_EINVALID, "%s.%s: holds '@'", where, name);
        }
        for (size_t j = 0; j < i; j++) {
            const json_t *o = json_array_get(v, j);
            if (json_equal(json_object_get(o, "role"), json_object_get(g, "role")) &&
                json_equal(json_object_get(o, "division"), json_object_get(g, "division")))
                return gcs_error_set(GCS_EINVALID, "%s.roles[%zu]: listed twice (as roles[%zu] too)",
                                     where, i, j);
        }
    }
    return 0;
}

/* A group event's data, field by field (event.h). */
static int check_group(const json_t *data, const char *where)
{
    static const char *const known[] = {"key",     "name",     "description", "type",
                                        "visibility", "members", "children", "nesting",
                                        "roles",   NULL};
    static const char *const types[] = {"official", "social", NULL};
    static const char *const visibilities[] = {"public", "owners", "members", NULL};
    static const char *const nestings[] = {"kept", "flattened", NULL};
    const char *k;
    json_t *v;
    int rc;
    json_object_foreach((json_t *)data, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok) {
            bool printable = strlen(k) <= 64 && plain_text(k, strlen(k));
            return gcs_error_set(GCS_EINVALID,
                                 "%s%s%s: unknown field (key, name, description, type, visibility, "
                                 "members, children, nesting, roles)",
                                 where, printable ? "." : "", printable ? k : ": a field");
        }
    }
    const json_t *key = json_object_get(data, "key");
    if (!key)
        return gcs_error_set(GCS_EINVALID, "%s.key: missing (the directory's key of the group)",
                             where);
    if ((rc = check_text(key, where, "key", GCS_EVENT_GROUP_KEY_MAX)) < 0)
        return rc;
    if ((v = json_object_get(data, "name")) &&
        (rc = check_text(v, where, "name", GCS_EVENT_GROUP_NAME_MAX)) < 0)
        return rc;
    if ((v = json_object_get(data, "description")) && !json_is_null(v) &&
        (rc = check_text(v, where, "description", GCS_EVENT_GROUP_DESCRIPTION_MAX)) < 0)
        return rc;
    if ((v = json_object_get(data, "type")) &&
        (rc = check_choice(v, where, "type", types, "official or social")) < 0)
        return rc;
    if ((v = json_object_get(data, "visibility")) &&
        (rc = check_choice(v, where, "visibility", visibilities, "public, owners or members")) < 0)
        return rc;
    if ((v = json_object_get(data, "nesting")) &&
        (rc = check_choice(v, where, "nesting", nestings, "kept or flattened")) < 0)
        return rc;
    if (!(v = json_object_get(data, "members")))
        return gcs_error_set(GCS_EINVALID,
                             "%s.members: missing (the group's members by person key; [] for none)",
                             where);
    if ((rc = check_keys(v, where, "members", GCS_EVENT_GROUP_MEMBERS_MAX, GCS_EVENT_KEY_MAX,
                         NULL)) < 0)
        return rc;
    if ((v = json_object_get(data, "children")) &&
        (rc = check_keys(v, where, "children", GCS_EVENT_GROUP_CHILDREN_MAX,
                         GCS_EVENT_GROUP_KEY_MAX, json_string_value(key))) < 0)
        return rc;
    if ((v = json_object_get(data, "roles")) && (rc = check_roles(v, where)) < 0)
        return rc;
    return 0;
}

static int fill_group(gcs_event *out, const json_t *data, const char *where)
{
    int rc = check_group(data, where);
    if (rc < 0)
        return rc;
    out->kind = GCS_EVENT_GROUP;
    out->action = GCS_EVENT_UPSERT;
    out->key = strdup(json_string_value(json_object_get(data, "key")));
    out->group = json_deep_copy(data);
    if (!out->key || !out->group) {
        gcs_event_release(out);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
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
    bool group = false;
    if (!type) {
        rc = gcs_error_set(GCS_EINVALID, "type: missing (person.created, person.changed, "
                                         "person.left, group.created, group.changed)");
    } else if (!t) {
        rc = gcs_error_set(GCS_EINVALID, "type: must be a string");
    } else if (strcmp(t, "person.created") == 0 || strcmp(t, "person.changed") == 0) {
        action = GCS_EVENT_UPSERT;
    } else if (strcmp(t, "person.left") == 0) {
        action = GCS_EVENT_LEAVE;
    } else if (strcmp(t, "group.created") == 0 || strcmp(t, "group.changed") == 0) {
        group = true;
    } else if (strcmp(t, "group.deleted") == 0) {
        rc = gcs_error_set(GCS_EINVALID, "type: gcscim never deletes a group (send group.changed "
                                         "with no members to empty it)");
    } else {
        rc = gcs_error_set(GCS_EINVALID,
                           "type: unknown event type (person.created, person.changed, "
                           "person.left, group.created, group.changed)");
    }
    if (rc < 0)
        goto out;
    if (!data) {
        rc = gcs_error_set(GCS_EINVALID, group ? "data: missing (an object with key and members)"
                                               : "data: missing (an object with key and row)");
        goto out;
    }
    if (!json_is_object(data)) {
        rc = gcs_error_set(GCS_EINVALID, group ? "data: must be an object with key and members"
                                               : "data: must be an object with key and row");
        goto out;
    }
    rc = group ? fill_group(out, data, "data") : fill(out, action, data, "data");
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
    bool group = e->kind == GCS_EVENT_GROUP;
    const char *kind = group ? "group" : "person";
    size_t klen = strlen(e->key) + sizeof "person:";
    char *key = malloc(klen);
    GCS_CHECK_ALLOC_GOTO(p, rc, out);
    GCS_CHECK_ALLOC_GOTO(key, rc, out);
    snprintf(key, klen, "%s:%s", kind, e->key);
    bool ok = json_object_set_new(p, "v", json_integer(1)) == 0 &&
              json_object_set_new(p, "kind", json_string(kind)) == 0 &&
              json_object_set_new(p, "key", json_string(e->key)) == 0 &&
              (group ? json_object_set(p, "group", e->group) == 0
                     : json_object_set(p, "row", e->row ? e->row : json_null()) == 0) &&
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
