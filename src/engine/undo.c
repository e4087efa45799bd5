/*
 * undo.c - from a run's kept plan, items and receipts to the plan that takes
 * the run back (undo.h says what is taken back and what is left alone).
 */
#include "engine/undo.h"
#include "core/error.h"
#include "core/log.h"
#include "core/scim.h"
#include "core/time.h"
#include "engine/recorder.h"
#include "genesys/directory.h"
#include "plan/diff.h"
#include "plan/group_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One operation of the run that may have happened, and its user as it is now. */
typedef struct target {
    const json_t *op; /* borrowed from the run's plan */
    gcs_plan_kind kind;
    const char *key;
    const char *user_name;
    const char *id; /* borrowed from the plan or the items */
    json_t *user;   /* as read now; NULL when gone or not read */
    char *etag;
    bool gone;   /* the user no longer exists */
    int read_rc; /* why it could not be read */
    char read_error[512];
} target;

typedef struct undoer {
    const gcs_undo_options *o;
    gcs_undo_stats *stats;
    gcs_http_client *client;
    gcs_store *store;
    gcs_plan run_plan;
    gcs_plan *out;
    const char *marker; /* the managed authority of the run's plan, or NULL */
    json_t *items;      /* key -> {state, id, detail} */
    json_t *wrote;      /* key -> true: a write of the run may have happened */
    json_t *privileged; /* lower-case role names the run's plan knew as privileged */
    target *targets;
    size_t count;
} undoer;

/* ==== What the run did ==== */

static int load_item(const gcs_run_item *item, void *payload)
{
    undoer *u = payload;
    json_t *v = json_pack("{s:s,s:s?,s:s?}", "state", item->state, "id", item->genesys_id, "detail",
                          item->detail);
    if (!v || json_object_set_new(u->items, item->key, v) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

/* A write the receipts show: answered 2xx, or with an unknown outcome (no
 * answer, 5xx) that Genesys may have carried out. A 4xx was refused. */
static int note_write(const gcs_receipt *r, void *payload)
{
    undoer *u = payload;
    if (!r->source_key || !r->method ||
        (strcmp(r->method, "POST") != 0 && strcmp(r->method, "PATCH") != 0))
        return 0;
    if (r->status >= 400 && r->status < 500)
        return 0;
    if (json_object_set_new(u->wrote, r->source_key, json_true()) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

/*
 * Whether the operation of `key` may have happened. Items say what apply
 * concluded; receipts say what went on the wire. An item done as "noop" wrote
 * nothing unless a write of it is on record (a PATCH that Genesys carried out
 * but answered 504, found already there on the re-read); a failed or
 * interrupted item counts only with a write on record. The user as it is now
 * then decides what is left to take back.
 */
static bool may_have_happened(const undoer *u, const char *key)
{
    json_t *item = json_object_get(u->items, key);
    const char *state = json_string_value(json_object_get(item, "state"));
    const char *detail = json_string_value(json_object_get(item, "detail"));
    bool wrote = json_object_get(u->wrote, key) != NULL;
    if (!state)
        return false;
    if (strcmp(state, GCS_ITEM_DONE) == 0)
        return !detail || strcmp(detail, "noop") != 0 || wrote;
    return wrote && strcmp(state, GCS_ITEM_PENDING) != 0;
}

/* ==== Reading the users now ==== */

static void on_read(const gcs_http_client_response *res, void *payload)
{
    target *t = payload;
    if (res->outcome == GCS_HTTP_NOT_FOUND) {
        t->gone = true;
        return;
    }
    if (res->error || !json_is_object(res->json)) {
        t->read_rc = res->error ? res->error : GCS_ERROR;
        snprintf(t->read_error, sizeof t->read_error, "%s",
                 res->error ? res->message : "the answer is not a user");
        return;
    }
    t->user = json_incref(res->json);
    t->etag = res->etag ? strdup(res->etag) : gcs_directory_user_etag(res->json);
}

/* Every user to look at, read concurrently (paced by the engine), each read
 * recorded as a receipt naming its key. */
static int read_users(undoer *u)
{
    gcs_recorder recorder;
    int rc = 0;
    gcs_recorder_attach(&recorder, u->store, u->client, NULL);
    for (size_t i = 0; i < u->count && rc == 0; i++) {
        target *t = &u->targets[i];
        if (!t->id)
            continue;
        gcs_recorder_learn(&recorder, t->key, t->id, t->user_name);
        char path[512];
        snprintf(path, sizeof path, GCS_SCIM_USERS "/%s", t->id);
        gcs_http_client_request req = {.method = "GET", .path = path};
        if ((rc = gcs_http_submit(u->client, &req, on_read, t)) == 0)
            u->stats->requests++;
    }
    int run_rc = gcs_http_run(u->client);
    int rec_rc = gcs_recorder_detach(&recorder);
    if (rc == 0)
        rc = run_rc < 0 ? run_rc : rec_rc;
    for (size_t i = 0; i < u->count && rc == 0; i++) {
        target *t = &u->targets[i];
        if (t->read_rc)
            rc = gcs_error_set(t->read_rc, "cannot read user %s (%s): %s", t->id, t->key,
                               t->read_error);
        u->stats->users_read += t->user != NULL;
    }
    return rc;
}

/* ==== Attributes: the labels of a plan's changes, back into a user ==== */

/*
 * Sets `attribute` (a label of a plan's `changes`: "title", "urn:…:User:department",
 * "phoneNumbers[mobile]", "roles", "active") to `value` in `user`, in the shape
 * gcs_diff_user compares. NULL or null means "empty".
 */
static int put_value(json_t *user, const char *attribute, const json_t *value)
{
    size_t len = strlen(attribute);
    const char *open = strchr(attribute, '[');
    bool empty = !value || json_is_null(value);
    if (open && len > 2 && attribute[len - 1] == ']') {
        /* One typed entry (emails, phoneNumbers): "" asks for it to be removed. */
        char name[256], type[256];
        snprintf(name, sizeof name, "%.*s", (int)(open - attribute), attribute);
        snprintf(type, sizeof type, "%.*s", (int)(attribute + len - 1 - open - 1), open + 1);
        json_t *list = json_object_get(user, name);
        if (!list && json_object_set_new(user, name, list = json_array()) < 0)
            list = NULL;
        json_t *v = empty ? json_string("") : json_deep_copy(value);
        json_t *entry = v ? json_pack("{s:s,s:o}", "type", type, "value", v) : NULL;
        if (!list || !entry || json_array_append_new(list, entry) < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        return 0;
    }
    json_t *v = empty ? json_null() : json_deep_copy(value);
    GCS_CHECK_ALLOC(v);
    const char *colon = strrchr(attribute, ':');
    if (strncmp(attribute, "urn:", 4) == 0 && colon) {
        char urn[256];
        snprintf(urn, sizeof urn, "%.*s", (int)(colon - attribute), attribute);
        json_t *ext = json_object_get(user, urn);
        if (!ext && json_object_set_new(user, urn, ext = json_object()) < 0)
            ext = NULL;
        if (!ext) {
            json_decref(v);
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        user = ext;
        attribute = colon + 1;
    }
    if (json_object_set_new(user, attribute, v) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

/* Whether `user` holds `value` at `attribute` as the diff sees it; *now (may
 * be NULL) gets what it holds instead (new reference, NULL when it holds it). */
static int holds(bool *out, json_t **now, const json_t *user, const char *attribute,
                 const json_t *value)
{
    json_t *want = json_object(), *ops = NULL, *changes = NULL;
    GCS_CHECK_ALLOC(want);
    int rc = put_value(want, attribute, value);
    if (rc == 0)
        rc = gcs_diff_user(&ops, &changes, want, user, NULL);
    if (rc == 0) {
        *out = json_array_size(ops) == 0;
        if (now)
            *now = *out ? NULL : json_incref(json_object_get(json_array_get(changes, 0), "old"));
    }
    json_decref(want);
    json_decref(ops);
    json_decref(changes);
    return rc;
}

static bool carries_marker(const json_t *user, const char *marker, const char *key)
{
    size_t i;
    json_t *e;
    if (!marker || !key)
        return false;
    json_array_foreach(json_object_get(json_object_get(user, GCS_SCIM_GENESYS_USER), "externalIds"),
                       i, e)
    {
        const char *authority = json_string_value(json_object_get(e, "authority"));
        const char *value = json_string_value(json_object_get(e, "value"));
        if (authority && value && strcmp(authority, marker) == 0 && strcmp(value, key) == 0)
            return true;
    }
    return false;
}

/* The privileged roles a user holds now or gets back, with those the run's
 * operation named: the approval rule names them (privileged:KEY). */
static json_t *privileged_roles(const undoer *u, const target *t, const json_t *back)
{
    json_t *held = json_array();
    const json_t *lists[] = {json_object_get(t->user, "roles"), json_object_get(back, "roles")};
    size_t i;
    json_t *r;
    if (!held)
        return NULL;
    for (size_t l = 0; l < 2; l++) {
        json_array_foreach(lists[l], i, r)
        {
            const char *name = json_string_value(json_object_get(r, "value"));
            char lower[256];
            size_t n = 0;
            for (; name && name[n] && n + 1 < sizeof lower; n++)
                lower[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + 32 : name[n]);
            lower[n] = '\0';
            if (name && json_object_get(u->privileged, lower))
                json_array_append_new(held, json_string(name));
        }
    }
    json_array_foreach(json_object_get(t->op, "privileged"), i, r) json_array_append(held, r);
    /* Once each. */
    for (size_t a = 0; a < json_array_size(held); a++) {
        for (size_t b = a + 1; b < json_array_size(held);) {
            const char *x = json_string_value(json_array_get(held, a));
            const char *y = json_string_value(json_array_get(held, b));
            if (x && y && strcasecmp(x, y) == 0)
                json_array_remove(held, b);
            else
                b++;
        }
    }
    return held;
}

/* ==== Taking one operation back ==== */

static void left_alone(undoer *u, const target *t, const char *why)
{
    char text[1024];
    snprintf(text, sizeof text, "changed since run %s, left alone: %s", u->o->run_id, why);
    GCS_WARN("undo.drift", "key", t->key, "why", text);
    gcs_plan_skip(u->out, t->key, t->user_name, NULL, text);
    u->stats->drift++;
}

static int add_op(undoer *u, const target *t, gcs_plan_kind kind, json_t *ops, json_t *changes,
                  json_t *desired)
{
    json_t *held = privileged_roles(u, t, desired);
    json_t *extra = json_pack("{s:o,s:[],s:{s:s,s:s}}", "desired", desired, "skip", "undoes", "run",
                              u->o->run_id, "kind", gcs_plan_kind_name(t->kind));
    if (!extra || !held) {
        json_decref(held);
        json_decref(extra);
        json_decref(ops);
        json_decref(changes);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (u->marker)
        json_object_set_new(extra, "managed", json_true());
    if (json_array_size(held) > 0)
        json_object_set_new(extra, "privileged", held);
    else
        json_decref(held);
    u->stats->undone++;
    return gcs_plan_add(u->out, kind, t->key, t->user_name, t->id, t->etag, ops, changes, extra);
}

/* A user the run created is deactivated, never deleted. Edits made to it
 * since do not matter: nothing of them is overwritten. */
static int undo_create(undoer *u, const target *t)
{
    char why[512];
    if (!carries_marker(t->user, u->marker, t->key)) {
        snprintf(why, sizeof why, "user %s no longer carries gcscim's marker with key '%s'", t->id,
                 t->key);
        left_alone(u, t, why);
        return 0;
    }
    if (json_is_false(json_object_get(t->user, "active"))) {
        u->stats->unchanged++;
        return 0;
    }
    json_t *ops = json_pack("[{s:s,s:s,s:b}]", "op", "replace", "path", "active", "value", 0);
    json_t *changes = json_pack("[{s:s,s:b,s:b}]", "attribute", "active", "old", 1, "new", 0);
    json_t *desired = json_pack("{s:b}", "active", 0);
    if (!ops || !changes || !desired) {
        json_decref(ops);
        json_decref(changes);
        json_decref(desired);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return add_op(u, t, GCS_PLAN_DEACTIVATE, ops, changes, desired);
}

/* The value the run wrote for a change: the change's `new`, except a manager
 * created by the same run, named by its key until it existed. */
static const json_t *written_value(const undoer *u, const target *t, const char *attribute,
                                   const json_t *change, bool *known)
{
    const char *mkey = json_string_value(json_object_get(t->op, "manager_key"));
    *known = true;
    if (mkey && strcmp(attribute, GCS_SCIM_ENTERPRISE_USER ":manager") == 0) {
        const json_t *id = json_object_get(json_object_get(u->items, mkey), "id");
        *known = json_is_string(id);
        return id;
    }
    return json_object_get(change, "new");
}

/*
 * Updates, adoptions, reactivations, deactivations: every attribute the run
 * changed and the user still holds as the run wrote it gets its value from
 * before the run back. One attribute changed since by someone else makes the
 * whole user drift.
 */
static int undo_changes(undoer *u, const target *t)
{
    json_t *back = json_object(), *drift = json_array(), *ops = NULL, *changes = NULL;
    int rc = 0;
    GCS_CHECK_ALLOC_GOTO(back, rc, out);
    GCS_CHECK_ALLOC_GOTO(drift, rc, out);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(t->op, "changes"), i, c)
    {
        const char *attribute = json_string_value(json_object_get(c, "attribute"));
        /* The managed marker an adoption added stays (docs/plan.md, "Undo"). */
        if (!attribute || strncmp(attribute, "externalIds[", 12) == 0)
            continue;
        bool known, as_written = false, as_before = false;
        const json_t *wrote = written_value(u, t, attribute, c, &known);
        const json_t *before = json_object_get(c, "old");
        json_t *now = NULL;
        if (known && (rc = holds(&as_written, NULL, t->user, attribute, wrote)) < 0)
            goto out;
        if (!as_written && (rc = holds(&as_before, &now, t->user, attribute, before)) < 0)
            goto out;
        if (as_written) {
            rc = put_value(back, attribute, before);
        } else if (!as_before) {
            char *is = now ? json_dumps(now, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            char *was = known ? json_dumps(wrote, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            char text[600];
            snprintf(text, sizeof text, "%s is %s, the run wrote %s", attribute, is ? is : "(none)",
                     was ? was : "(none)");
            free(is);
            free(was);
            rc = json_array_append_new(drift, json_string(text)) < 0 ? GCS_ENOMEM : 0;
        }
        json_decref(now);
        if (rc < 0)
            goto out;
    }
    if (json_array_size(drift) > 0) {
        char why[1024] = "";
        size_t n = 0;
        json_t *d;
        json_array_foreach(drift, i, d)
        {
            if (n < sizeof why)
                n += (size_t)snprintf(why + n, sizeof why - n, "%s%s", i ? "; " : "",
                                      json_string_value(d));
        }
        left_alone(u, t, why);
        goto out;
    }
    if (json_object_size(back) == 0) {
        u->stats->unchanged++;
        goto out;
    }
    if (u->marker && !carries_marker(t->user, u->marker, t->key)) {
        char why[512];
        snprintf(why, sizeof why, "user %s no longer carries gcscim's marker with key '%s'", t->id,
                 t->key);
        left_alone(u, t, why);
        goto out;
    }
    if ((rc = gcs_diff_user(&ops, &changes, back, t->user, NULL)) < 0)
        goto out;
    json_t *active = json_object_get(back, "active");
    gcs_plan_kind kind = json_is_true(active)    ? GCS_PLAN_REACTIVATE
                         : json_is_false(active) ? GCS_PLAN_DEACTIVATE
                                                 : GCS_PLAN_UPDATE;
    rc = add_op(u, t, kind, ops, changes, back);
    ops = changes = back = NULL;
out:
    json_decref(back);
    json_decref(drift);
    json_decref(ops);
    json_decref(changes);
    return rc;
}

static int undo_one(undoer *u, const target *t)
{
    if (!t->id) {
        left_alone(u, t, "the run recorded no Genesys id for it");
        return 0;
    }
    if (t->gone || !t->user) {
        char why[300];
        snprintf(why, sizeof why, "user %s no longer exists in Genesys", t->id ? t->id : "?");
        left_alone(u, t, why);
        return 0;
    }
    switch (t->kind) {
    case GCS_PLAN_CREATE:
        return undo_create(u, t);
    case GCS_PLAN_UPDATE:
    case GCS_PLAN_ADOPT:
    case GCS_PLAN_REACTIVATE:
    case GCS_PLAN_DEACTIVATE:
        return undo_changes(u, t);
    /* Group operations are in the plan's groups section: undo_groups(). */
    default:
        return gcs_error_set(GCS_EINVALID,
                             "run %s holds a '%s' operation (%s), which undo cannot take back",
                             u->o->run_id, gcs_plan_kind_name(t->kind), t->key);
    }
}

/* ==== Groups ==== */

/* The run's members ({key, id, userName}) with the ids of members the run
 * created filled in from its items, those that are (`present`) or are not
 * members of the group now (`now`: user id -> true). `owned` marks them as
 * gcscim's (added by the run), which a removal needs. A member never created
 * is left out. */
static json_t *members_of(const undoer *u, const json_t *list, const json_t *now, bool present,
                          bool owned)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *key = json_string_value(json_object_get(m, "key"));
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id && key)
            id = json_string_value(json_object_get(json_object_get(u->items, key), "id"));
        if (!out || !id || (json_object_get(now, id) != NULL) != present)
            continue;
        json_t *e = json_pack("{s:s?,s:s,s:O*}", "key", key, "id", id, "userName",
                              json_object_get(m, "userName"));
        if (e && owned)
            json_object_set_new(e, "owned", json_true());
        if (!e || json_array_append_new(out, e) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static void group_left_alone(undoer *u, const char *key, const char *name, const char *why)
{
    char item[300];
    snprintf(item, sizeof item, "group:%s", key);
    GCS_WARN("undo.group_left", "group", key, "why", why);
    gcs_plan_skip(u->out, item, name, NULL, why);
    u->stats->drift++;
}

/*
 * A group the run changed (its item "group:KEY" done): the members it added
 * are removed, those it removed added back, grants given revoked and revoked
 * given back, settings it changed set back. A group the run created stays
 * (groups are never deleted), emptied of what the run put in it. The version is
 * read now; apply's own checks do the rest (a member already gone is not
 * removed again, one already back not added again).
 */
static int undo_group(undoer *u, const json_t *op)
{
    const char *key = json_string_value(json_object_get(op, "key"));
    const char *name = json_string_value(json_object_get(op, "name"));
    const char *kind = json_string_value(json_object_get(op, "kind"));
    char item_key[300], why[600];
    snprintf(item_key, sizeof item_key, "group:%s", key ? key : "");
    json_t *item = json_object_get(u->items, item_key);
    const char *state = json_string_value(json_object_get(item, "state"));
    u->stats->operations++;
    if (!key || !name || !kind || !state || strcmp(state, GCS_ITEM_PENDING) == 0) {
        u->stats->not_done++;
        return 0;
    }
    if (strcmp(state, GCS_ITEM_DONE) != 0) {
        u->stats->not_done++;
        snprintf(why, sizeof why,
                 "the run did not finish group %s (%s): what it changed of it, "
                 "if anything, is not taken back",
                 name, state);
        group_left_alone(u, key, name, why);
        return 0;
    }
    u->stats->done++;
    const char *id = json_string_value(json_object_get(op, "id"));
    if (!id)
        id = json_string_value(json_object_get(item, "id"));
    if (!id) {
        group_left_alone(u, key, name, "the run recorded no Genesys id for the group");
        return 0;
    }
    /* Its members and version now (SCIM): only what is still as the run left it
     * is taken back; a member gone since is not removed again, one back since
     * not added again. */
    char path[300];
    snprintf(path, sizeof path, "/api/v2/scim/v2/groups/%s", id);
    gcs_http_client_request req = {.method = "GET", .path = path};
    gcs_http_client_response res;
    int rc = gcs_http_call(&res, u->client, &req);
    u->stats->requests++;
    bool gone = res.outcome == GCS_HTTP_NOT_FOUND;
    json_t *now = json_object(), *version = NULL;
    if (rc == 0) {
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(res.json, "members"), i, m)
        {
            const char *v = json_string_value(json_object_get(m, "value"));
            if (v && now)
                json_object_set_new(now, v, json_true());
        }
        const char *etag = res.etag ? res.etag : "";
        version = json_integer(strtoll(etag[0] == '"' ? etag + 1 : etag, NULL, 10));
    } else if (!gone) {
        rc = gcs_error_set(rc, "cannot read group %s (%s): %s", id, name, res.message);
    }
    gcs_http_client_response_release(&res);
    if (gone) {
        json_decref(now);
        snprintf(why, sizeof why, "group %s no longer exists in Genesys", id);
        group_left_alone(u, key, name, why);
        return 0;
    }
    if (rc < 0 || !now || !version) {
        json_decref(now);
        json_decref(version);
        return rc < 0 ? rc : gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    json_t *inv = json_pack(
        "{s:s,s:s,s:s,s:s,s:o,s:O*,s:[],s:o*,s:o*,s:O*,s:O*,s:{s:s,s:s}}", "kind", "update", "key",
        key, "name", name, "id", id, "version", version, "group", json_object_get(op, "group"),
        "changes", "add", members_of(u, json_object_get(op, "remove"), now, false, false), "remove",
        members_of(u, json_object_get(op, "add"), now, true, true), "grant",
        json_object_get(op, "revoke"), "revoke", json_object_get(op, "grant"), "undoes", "run",
        u->o->run_id, "kind", kind);
    json_decref(now);
    GCS_CHECK_ALLOC(inv);
    /* Settings the run changed go back to what it saw. */
    json_t *group = json_deep_copy(json_object_get(op, "group"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(op, "changes"), i, c)
    {
        const char *attribute = json_string_value(json_object_get(c, "attribute"));
        if (!attribute || !group || strcmp(kind, "update") != 0)
            continue;
        if (strcmp(attribute, "parents") == 0) /* the store's record goes back with the item */
            json_object_set(inv, "parents", json_object_get(c, "old"));
        else
            json_object_set(group, attribute, json_object_get(c, "old"));
        json_array_append_new(json_object_get(inv, "changes"),
                              json_pack("{s:s,s:O*,s:O*}", "attribute", attribute, "old",
                                        json_object_get(c, "new"), "new",
                                        json_object_get(c, "old")));
    }
    if (group)
        json_object_set_new(inv, "group", group);
    size_t n = json_array_size(json_object_get(inv, "changes")) +
               json_array_size(json_object_get(inv, "add")) +
               json_array_size(json_object_get(inv, "remove")) +
               json_array_size(json_object_get(inv, "grant")) +
               json_array_size(json_object_get(inv, "revoke"));
    if (n == 0) {
        json_decref(inv);
        u->stats->unchanged++;
        return 0;
    }
    u->stats->undone++;
    return gcs_group_plan_add(u->out, inv);
}

static int undo_groups(undoer *u)
{
    json_t *section = gcs_group_plan_section(&u->run_plan);
    json_t *ops = gcs_group_plan_operations(&u->run_plan);
    int rc = 0;
    if (json_array_size(ops) == 0)
        return 0;
    const char *hierarchy = json_string_value(json_object_get(section, "hierarchy"));
    if ((rc = gcs_group_plan_begin(u->out, hierarchy ? hierarchy : "kept",
                                   json_is_true(json_object_get(section, "authoritative")))) < 0)
        return rc;
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        if ((rc = undo_group(u, op)) < 0)
            return rc;
    }
    return 0;
}

/* ==== The run and its plan ==== */

/* The plan kept with a run, read from the store a part at a time. */
typedef struct kept_plan {
    gcs_store *store;
    const char *run_id;
    char *part;        /* the part being read */
    size_t len, pos;
    long next;         /* the part after it */
    int error;         /* the store's failure, when reading a part failed */
    char message[256];
} kept_plan;

static size_t feed_kept_plan(char *buf, size_t size, void *payload)
{
    kept_plan *k = payload;
    while (k->part && k->pos == k->len) {
        free(k->part);
        k->part = NULL;
        k->pos = k->len = 0;
        int rc = gcs_store_run_plan_part(&k->part, &k->len, k->store, k->run_id, k->next);
        if (rc == GCS_ENOTFOUND)
            break; /* the last part was read */
        if (rc < 0) {
            k->error = rc;
            snprintf(k->message, sizeof k->message, "%s", gcs_error_last());
            errno = EIO;
            return (size_t)-1;
        }
        k->next++;
    }
    size_t n = k->part ? k->len - k->pos : 0;
    if (n > size)
        n = size;
    if (n) {
        memcpy(buf, k->part + k->pos, n);
        k->pos += n;
    }
    return n;
}

static int load_run(undoer *u)
{
    gcs_run run;
    gcs_run_lease lease;
    char name[200];
    int rc = gcs_store_run_get(&run, u->store, u->o->run_id);
    if (rc == GCS_ENOTFOUND)
        return gcs_error_set(GCS_ENOTFOUND,
                             "no run '%s' in the store ('gcscim runs list' shows "
                             "the runs)",
                             u->o->run_id);
    if (rc < 0)
        return rc;
    kept_plan kept = {.store = u->store, .run_id = run.id, .next = 1};
    if (rc == 0 && (rc = gcs_store_run_plan_part(&kept.part, &kept.len, u->store, run.id, 0)) ==
                       GCS_ENOTFOUND)
        rc = gcs_error_set(GCS_EINVALID,
                           "run %s cannot be undone: its plan was not kept (it began before "
                           "gcscim kept the plans of runs, or its plan was larger than the "
                           "store keeps)",
                           run.id);
    snprintf(name, sizeof name, "kept for run %s", run.id);
    if (rc == 0) {
        gcs_plan_reader *r = malloc(sizeof *r);
        if (!r)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        else {
            gcs_plan_reader_init(r, name, feed_kept_plan, &kept);
            rc = gcs_plan_read_stream(&u->run_plan, r);
            if (rc < 0 && kept.error < 0)
                rc = gcs_error_set(kept.error, "cannot read the plan kept for run %s: %s", run.id,
                                   kept.message);
        }
        free(r);
    }
    free(kept.part);
    const char *identity = rc == 0 ? gcs_plan_identity(&u->run_plan) : NULL;
    if (rc == 0 && (!identity || !run.plan_id || strcmp(identity, run.plan_id) != 0))
        rc = gcs_error_set(GCS_EINVALID, "the plan kept for run %s is not the plan it applied",
                           run.id);
    if (rc == 0)
        rc = gcs_plan_check_seal(&u->run_plan, name, u->o->client_id, u->o->client_secret);
    if (rc == 0)
        rc = gcs_plan_check_target(&u->run_plan, u->o->api_url, name);
    /* The lease is on the plan's content key (engine/apply.c): held for this
     * run, or for a run of another plan of the same changes not yet begun. */
    if (rc == 0) {
        memset(&lease, 0, sizeof lease);
        rc = gcs_store_lease_get(&lease, u->store, gcs_plan_content_key(&u->run_plan));
        if (rc == 0 && lease.until_ms > gcs_time_wall_ms() &&
            (!lease.run_id || strcmp(lease.run_id, run.id) == 0))
            rc = gcs_error_set(GCS_EREFUSED,
                               "run %s is being applied now (pid %lld on %s): undo it once it ends",
                               run.id, (long long)lease.pid, lease.host ? lease.host : "?");
        else if (rc == GCS_ENOTFOUND || rc == 0)
            rc = 0;
        gcs_run_lease_release(&lease);
    }
    gcs_run_release(&run);
    return rc;
}

/* The names the run's plan held as privileged (lower case), and the default. */
static int note_privileged_names(undoer *u)
{
    size_t i, j;
    json_t *op, *r;
    if (json_object_set_new(u->privileged, "master admin", json_true()) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    json_array_foreach(gcs_plan_operations(&u->run_plan), i, op)
    {
        json_array_foreach(json_object_get(op, "privileged"), j, r)
        {
            const char *name = json_string_value(r);
            char lower[256];
            size_t n = 0;
            for (; name && name[n] && n + 1 < sizeof lower; n++)
                lower[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + 32 : name[n]);
            lower[n] = '\0';
            if (name && json_object_set_new(u->privileged, lower, json_true()) < 0)
                return gcs_error_set(GCS_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int choose_targets(undoer *u)
{
    json_t *ops = gcs_plan_operations(&u->run_plan);
    size_t i;
    json_t *op;
    u->targets = calloc(json_array_size(ops) + 1, sizeof *u->targets);
    GCS_CHECK_ALLOC(u->targets);
    json_array_foreach(ops, i, op)
    {
        u->stats->operations++;
        const char *key = json_string_value(json_object_get(op, "key"));
        if (!key || !may_have_happened(u, key)) {
            u->stats->not_done++;
            continue;
        }
        target *t = &u->targets[u->count++];
        t->op = op;
        /* gcs_plan_parse refused any plan with an unknown kind */
        int rc = gcs_plan_kind_parse(json_string_value(json_object_get(op, "kind")), &t->kind);
        if (rc < 0)
            return rc;
        t->key = key;
        t->user_name = json_string_value(json_object_get(op, "userName"));
        t->id = json_string_value(json_object_get(op, "id"));
        if (!t->id)
            t->id = json_string_value(json_object_get(json_object_get(u->items, key), "id"));
        u->stats->done++;
    }
    return 0;
}

int gcs_undo_plan(gcs_plan *out, gcs_undo_stats *stats, gcs_http_client *client, gcs_store *store,
                  const gcs_undo_options *o)
{
    undoer u;
    memset(&u, 0, sizeof u);
    memset(stats, 0, sizeof *stats);
    memset(out, 0, sizeof *out);
    u.o = o;
    u.stats = stats;
    u.client = client;
    u.store = store;
    u.out = out;
    u.items = json_object();
    u.wrote = json_object();
    u.privileged = json_object();
    int rc = 0;
    bool begun = false;
    if (!u.items || !u.wrote || !u.privileged) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = load_run(&u)) < 0)
        goto out;
    u.marker = json_string_value(json_object_get(u.run_plan.doc, "marker"));
    gcs_receipt_filter f = {.run_id = o->run_id};
    if ((rc = gcs_store_items_each(store, o->run_id, NULL, load_item, &u)) < 0 ||
        (rc = gcs_store_receipts_each(store, &f, note_write, &u)) < 0 ||
        (rc = note_privileged_names(&u)) < 0 || (rc = choose_targets(&u)) < 0 ||
        (rc = read_users(&u)) < 0)
        goto out;

    const char *api_url =
        json_string_value(json_object_get(json_object_get(u.run_plan.doc, "target"), "api_url"));
    if ((rc = gcs_plan_begin(out, api_url, NULL, NULL, &o->plan)) < 0)
        goto out;
    begun = true;
    if (u.marker && json_object_set_new(out->doc, "marker", json_string(u.marker)) < 0) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < u.count && rc == 0; i++)
        rc = undo_one(&u, &u.targets[i]);
    if (rc == 0)
        rc = undo_groups(&u);
    if (rc < 0)
        goto out;
    /* The share thresholds divide by the users the run's plan saw as managed. */
    gcs_plan_set_counts(out, stats->unchanged,
                        (long)json_integer_value(json_object_get(u.run_plan.doc, "managed_total")));
    gcs_plan_set_source_facts(out, 0, true);
    json_t *about =
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "run", o->run_id, "plan",
                  gcs_plan_identity(&u.run_plan), "operations", (json_int_t)stats->operations,
                  "done", (json_int_t)stats->done, "not_done", (json_int_t)stats->not_done,
                  "undone", (json_int_t)stats->undone, "unchanged", (json_int_t)stats->unchanged,
                  "drift", (json_int_t)stats->drift);
    if (!about || json_object_set_new(out->doc, "undo", about) < 0) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    rc = gcs_plan_finish(out);
out:
    if (rc < 0 && begun)
        gcs_plan_release(out);
    for (size_t i = 0; u.targets && i < u.count; i++) {
        json_decref(u.targets[i].user);
        free(u.targets[i].etag);
    }
    free(u.targets);
    gcs_plan_release(&u.run_plan);
    json_decref(u.items);
    json_decref(u.wrote);
    json_decref(u.privileged);
    return rc;
}
