/*
 * group_apply.c - the groups of a plan, applied after its users (group_apply.h).
 *
 * Groups are few next to users and each one's calls depend on the one before
 * (a create's id, a PATCH's new version), so they run one call at a time
 * through the same engine, pacing and receipts as the users' calls.
 */
#include "engine/group_apply.h"
#include "core/error.h"
#include "core/log.h"
#include "engine/recorder.h"
#include "http/url.h"
#include "plan/group_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GROUPS_PATH      "/api/v2/groups"
#define SCIM_GROUPS_PATH "/api/v2/scim/v2/groups"
#define MAX_REREADS      3

typedef struct group_ctx {
    gcs_group_apply *ga;
    const json_t *op;
    const char *key;
    const char *name;
    char item[300];
    char id[128];
    char etag[64];     /* the SCIM version, quoted, for If-Match */
    long long version; /* the Platform API's version */
    char message[600];
    json_t *now;                /* a resumed group's members as read again, or NULL */
    bool kept;                  /* the hierarchy is kept: its parent links are recorded */
    bool unlike_plan;           /* a create found the group by name with other settings */
} group_ctx;

static void item_key(char *out, size_t outsz, const char *key)
{
    snprintf(out, outsz, "group:%s", key);
}

int gcs_group_apply_items(const gcs_plan *plan, gcs_store *store, const char *run_id)
{
    json_t *ops = gcs_group_plan_operations(plan);
    size_t n = json_array_size(ops);
    if (n == 0)
        return 0;
    char **keys = calloc(n, sizeof *keys);
    GCS_CHECK_ALLOC(keys);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *key = json_string_value(json_object_get(json_array_get(ops, i), "key"));
        if (asprintf(&keys[i], "group:%s", key ? key : "") < 0) {
            keys[i] = NULL;
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        }
    }
    if (rc == 0)
        rc = gcs_store_items_add(store, run_id, (const char *const *)keys, n);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

/* ==== Calls ==== */

static int call(group_ctx *c, gcs_http_client_response *res, const char *method, const char *path,
                const json_t *body, const char *if_match)
{
    gcs_http_client_request req = {.method = method,
                                   .path = path,
                                   .json = body,
                                   .if_match = if_match && *if_match ? if_match : NULL};
    int rc = gcs_http_call(res, c->ga->client, &req);
    c->ga->result->requests++;
    return rc;
}

static void fail(group_ctx *c, const char *what, const gcs_http_client_response *res)
{
    snprintf(c->message, sizeof c->message, "%s: %s", what, res ? res->message : gcs_error_last());
}

/* Receipts of this group's calls name it: "group:KEY". */
static void learn_group(group_ctx *c)
{
    if (c->ga->recorder && c->id[0])
        gcs_recorder_learn(c->ga->recorder, c->item, c->id, NULL);
}

static void take_group_entity(group_ctx *c, const json_t *e)
{
    const char *id = json_string_value(json_object_get(e, "id"));
    if (id) {
        snprintf(c->id, sizeof c->id, "%s", id);
        learn_group(c);
    }
    if (json_is_integer(json_object_get(e, "version"))) {
        c->version = (long long)json_integer_value(json_object_get(e, "version"));
        snprintf(c->etag, sizeof c->etag, "\"%lld\"", c->version);
    }
}

/* Whether a group found by name (a create's) has settings other than those
 * the plan would have created it with: one somebody else made, or made
 * otherwise, between plan and apply. What the plan leaves out is not compared. */
static bool unlike_planned_create(const group_ctx *c, const json_t *e)
{
    static const char *const settings[] = {"type", "visibility", "description", "rolesEnabled"};
    const json_t *want = json_object_get(c->op, "group");
    for (size_t k = 0; k < sizeof settings / sizeof *settings; k++) {
        const json_t *w = json_object_get(want, settings[k]);
        if (!w || json_is_null(w))
            continue;
        const json_t *have = json_object_get(e, settings[k]);
        /* Genesys leaves an empty description out */
        if (!have && json_is_string(w) && !*json_string_value(w))
            continue;
        if (!have || !json_equal((json_t *)w, (json_t *)have))
            return true;
    }
    return false;
}

/* The group of this name, by the Groups API's name filter; 1 when found. */
static int find_by_name(group_ctx *c, const char *name)
{
    char *q = gcs_http_escape(name);
    GCS_CHECK_ALLOC(q);
    int rc = 0;
    long page = 1, pages = 1;
    /* The list's name filter narrows the answer to a page; should a server
     * ignore it, the pages are read to the end: a group is never created twice
     * for want of looking. */
    do {
        char path[1200];
        snprintf(path, sizeof path, GROUPS_PATH "?name=%s&pageSize=500&pageNumber=%ld", q, page);
        gcs_http_client_response res;
        rc = call(c, &res, "GET", path, NULL, NULL);
        if (rc == 0) {
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(res.json, "entities"), i, e)
            {
                const char *n = json_string_value(json_object_get(e, "name"));
                if (n && strcmp(n, name) == 0) {
                    take_group_entity(c, e);
                    c->unlike_plan = unlike_planned_create(c, e);
                    rc = 1;
                    break;
                }
            }
            pages = (long)json_integer_value(json_object_get(res.json, "pageCount"));
        } else {
            fail(c, "cannot look the group up by name", &res);
        }
        gcs_http_client_response_release(&res);
        page++;
    } while (rc == 0 && page <= pages);
    free(q);
    return rc;
}

/* ==== Steps ==== */

static int create_group(group_ctx *c, const char *state, const char *known_id)
{
    gcs_group_apply *ga = c->ga;
    const json_t *body = json_object_get(c->op, "group");
    if (known_id && *known_id) {
        /* created by the interrupted run: its version is read again below */
        snprintf(c->id, sizeof c->id, "%s", known_id);
        learn_group(c);
        return 0;
    }
    int rc;
    if (state && strcmp(state, GCS_ITEM_IN_PROGRESS) == 0) {
        /* the POST may have happened: find it before sending it again */
        if ((rc = find_by_name(c, c->name)) != 0)
            return rc < 0 ? rc : 0;
    }
    if ((rc = gcs_store_item_mark(ga->store, ga->run_id, c->item, GCS_ITEM_IN_PROGRESS, NULL,
                                  "create sent")) < 0)
        return rc;
    if (ga->recorder) /* the create's receipt names the group by its name */
        gcs_recorder_learn(ga->recorder, c->item, NULL, c->name);
    gcs_http_client_response res;
    rc = call(c, &res, "POST", GROUPS_PATH, body, NULL);
    if (rc == 0) {
        take_group_entity(c, res.json);
    } else if (res.status == 409 || res.outcome == GCS_HTTP_OUTCOME_UNKNOWN) {
        /* The name is taken (this run's own earlier create, or somebody's
         * group of that name, which is the group matched by name), or the
         * outcome is unknown: the group of that name is the one. */
        int found = find_by_name(c, c->name);
        rc = found > 0 ? 0 : found;
        if (found == 0) {
            fail(c, "create failed", &res);
            rc = GCS_ERROR;
        }
    } else {
        fail(c, "create failed", &res);
    }
    gcs_http_client_response_release(&res);
    if (rc == 0 && !c->id[0]) {
        snprintf(c->message, sizeof c->message, "create answered without an id");
        rc = GCS_ERROR;
    }
    if (rc == 0)
        rc = gcs_store_item_mark(ga->store, ga->run_id, c->item, GCS_ITEM_IN_PROGRESS, c->id,
                                 "created");
    return rc;
}

/* A setting as the Groups API shows it: an empty description and roles
 * never enabled may be left out. */
static bool setting_is(const json_t *group, const char *attribute, const json_t *value)
{
    const json_t *have = json_object_get(group, attribute);
    if (!have)
        return (json_is_string(value) && !*json_string_value(value)) || json_is_false(value);
    return json_equal((json_t *)have, (json_t *)value);
}

/* After a version conflict: whether somebody changed, since the plan, what
 * the plan changes (a setting holding neither its old nor its new value) or
 * the group's name. That is drift, left alone as a user's is; anything else
 * (members, another setting) is not this update's business. 1 with the
 * message set when it drifted. */
static int settings_drifted(group_ctx *c, const json_t *now)
{
    const char *name = json_string_value(json_object_get(now, "name"));
    const char *planned = json_string_value(json_object_get(c->op, "name"));
    if (name && planned && strcasecmp(name, planned) != 0) { /* matched ignoring case */
        snprintf(c->message, sizeof c->message,
                 "changed since the plan, left alone: the group is now named '%s'", name);
        return 1;
    }
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(c->op, "changes"), i, ch)
    {
        const char *a = json_string_value(json_object_get(ch, "attribute"));
        if (!a || strcmp(a, "parents") == 0)
            continue;
        if (!setting_is(now, a, json_object_get(ch, "old")) &&
            !setting_is(now, a, json_object_get(ch, "new"))) {
            snprintf(c->message, sizeof c->message,
                     "changed since the plan, left alone: %s is neither what the plan saw nor "
                     "what it sets",
                     a);
            return 1;
        }
    }
    return 0;
}

/* Description, visibility, rolesEnabled: PUT with the version, re-read on a
 * conflict, and sent again unless what it changes drifted meanwhile. */
static int update_settings(group_ctx *c)
{
    const json_t *want = json_object_get(c->op, "group");
    int rc = 0;
    for (int attempt = 0; attempt <= MAX_REREADS; attempt++) {
        json_t *body = json_pack(
            "{s:O,s:O?,s:O?,s:O?,s:O?,s:I}", "name", json_object_get(c->op, "name"), "type",
            json_object_get(want, "type"), "visibility", json_object_get(want, "visibility"),
            "description", json_object_get(want, "description"), "rolesEnabled",
            json_object_get(want, "rolesEnabled"), "version", (json_int_t)c->version);
        GCS_CHECK_ALLOC(body);
        /* what the plan does not know is not sent, rather than sent empty */
        static const char *const optional[] = {"type", "visibility", "description", "rolesEnabled"};
        for (size_t k = 0; k < sizeof optional / sizeof *optional; k++) {
            if (json_is_null(json_object_get(body, optional[k])))
                json_object_del(body, optional[k]);
        }
        char path[300];
        snprintf(path, sizeof path, GROUPS_PATH "/%s", c->id);
        gcs_http_client_response res;
        rc = call(c, &res, "PUT", path, body, NULL);
        json_decref(body);
        if (rc == 0)
            take_group_entity(c, res.json);
        bool conflict = rc < 0 && res.status == 409;
        if (rc < 0 && !conflict)
            fail(c, "update failed", &res);
        gcs_http_client_response_release(&res);
        if (!conflict)
            return rc;
        gcs_http_client_response again;
        rc = call(c, &again, "GET", path, NULL, NULL);
        if (rc == 0) {
            take_group_entity(c, again.json);
            if (settings_drifted(c, again.json))
                rc = GCS_ECONFLICT;
        } else {
            fail(c, "cannot read the group again after a version conflict", &again);
        }
        gcs_http_client_response_release(&again);
        if (rc < 0)
            return rc;
    }
    snprintf(c->message, sizeof c->message, "update: the version kept changing (%d re-reads)",
             MAX_REREADS);
    return GCS_ECONFLICT;
}

/* The group's members and version, by SCIM. */
static int read_members(group_ctx *c, json_t **members)
{
    char path[300];
    snprintf(path, sizeof path, SCIM_GROUPS_PATH "/%s", c->id);
    gcs_http_client_response res;
    int rc = call(c, &res, "GET", path, NULL, NULL);
    *members = NULL;
    if (rc == 0) {
        *members = json_object();
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(res.json, "members"), i, m)
        {
            const char *v = json_string_value(json_object_get(m, "value"));
            if (v && *members)
                json_object_set_new(*members, v, json_true());
        }
        if (res.etag)
            snprintf(c->etag, sizeof c->etag, "%s", res.etag);
        if (!*members)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        /* read again after a conflict or on resume: a group renamed since the
         * plan is not the group the plan showed */
        const char *name = json_string_value(json_object_get(res.json, "displayName"));
        const char *planned = json_string_value(json_object_get(c->op, "name"));
        if (rc == 0 && name && planned && strcasecmp(name, planned) != 0) {
            snprintf(c->message, sizeof c->message,
                     "changed since the plan, left alone: the group is now named '%s'", name);
            json_decref(*members);
            *members = NULL;
            rc = GCS_ECONFLICT;
        }
    } else {
        fail(c, "cannot read the group's members", &res);
    }
    gcs_http_client_response_release(&res);
    return rc;
}

/* One PATCH of at most a batch of changes; re-read and re-diffed on conflict. */
static int patch_members(group_ctx *c, json_t *adds, json_t *removes)
{
    gcs_group_apply *ga = c->ga;
    int rc = 0;
    for (int attempt = 0; attempt <= MAX_REREADS; attempt++) {
        if (json_array_size(adds) == 0 && json_array_size(removes) == 0)
            return 0;
        json_t *ops = json_array(), *values = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(adds, i, v)
            json_array_append_new(values, json_pack("{s:O}", "value", v));
        if (json_array_size(values))
            json_array_append_new(
                ops, json_pack("{s:s,s:s,s:O}", "op", "add", "path", "members", "value", values));
        json_array_foreach(removes, i, v)
        {
            char path[200];
            snprintf(path, sizeof path, "members[value eq \"%s\"]", json_string_value(v));
            json_array_append_new(ops, json_pack("{s:s,s:s}", "op", "remove", "path", path));
        }
        json_t *body =
            json_pack("{s:[s],s:o}", "schemas", "urn:ietf:params:scim:api:messages:2.0:PatchOp",
                      "Operations", ops);
        json_decref(values);
        GCS_CHECK_ALLOC(body);
        char path[300];
        snprintf(path, sizeof path, SCIM_GROUPS_PATH "/%s", c->id);
        gcs_http_client_response res;
        rc = call(c, &res, "PATCH", path, body, c->etag);
        json_decref(body);
        bool conflict = rc == GCS_ECONFLICT;
        if (rc == 0 && res.etag)
            snprintf(c->etag, sizeof c->etag, "%s", res.etag);
        if (rc < 0 && !conflict)
            fail(c, "membership change failed", &res);
        gcs_http_client_response_release(&res);
        if (rc == 0) {
            json_array_foreach(adds, i, v)
            {
                if ((rc = gcs_store_owned_add(ga->store, c->id, GCS_OWNED_MEMBER,
                                              json_string_value(v), ga->run_id)) < 0)
                    return rc;
            }
            json_array_foreach(removes, i, v)
            {
                if ((rc = gcs_store_owned_remove(ga->store, c->id, GCS_OWNED_MEMBER,
                                                 json_string_value(v))) < 0)
                    return rc;
            }
            return 0;
        }
        if (!conflict)
            return rc;
        /* Somebody changed the group since it was read: only what is still
         * to do goes out again, with the new version. */
        json_t *now;
        if ((rc = read_members(c, &now)) < 0)
            return rc;
        for (size_t k = json_array_size(adds); k-- > 0;) {
            if (json_object_get(now, json_string_value(json_array_get(adds, k))))
                json_array_remove(adds, k);
        }
        for (size_t k = json_array_size(removes); k-- > 0;) {
            const char *id = json_string_value(json_array_get(removes, k));
            if (!json_object_get(now, id)) {
                json_array_remove(removes, k);
                if ((rc = gcs_store_owned_remove(ga->store, c->id, GCS_OWNED_MEMBER, id)) < 0)
                    break;
            }
        }
        json_decref(now);
        if (rc < 0)
            return rc;
    }
    snprintf(c->message, sizeof c->message, "membership: the version kept changing (%d re-reads)",
             MAX_REREADS);
    return GCS_ECONFLICT;
}

static int change_members(group_ctx *c)
{
    gcs_group_apply *ga = c->ga;
    json_t *adds = json_array(), *removes = json_array();
    int rc = 0;
    if (!adds || !removes) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c->op, "add"), i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        const char *key = json_string_value(json_object_get(m, "key"));
        if (!id && key)
            id = gcs_recorder_id_of(ga->recorder, key);
        if (!id) {
            snprintf(c->message, sizeof c->message,
                     "member %s was to be created by this plan and does not exist",
                     key ? key : "?");
            rc = GCS_ERROR;
            goto out;
        }
        if (!c->now || !json_object_get(c->now, id)) /* resumed: added already */
            json_array_append_new(adds, json_string(id));
    }
    json_array_foreach(json_object_get(c->op, "remove"), i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (id && (!c->now || json_object_get(c->now, id))) /* resumed: gone already */
            json_array_append_new(removes, json_string(id));
    }
    if (json_array_size(adds) + json_array_size(removes) == 0)
        goto out;
    /* Each batch is its own PATCH; the version moves on with each. */
    size_t ai = 0, ri = 0;
    while (rc == 0 && (ai < json_array_size(adds) || ri < json_array_size(removes))) {
        json_t *ba = json_array(), *br = json_array();
        size_t n = 0;
        for (; ai < json_array_size(adds) && n < GCS_GROUP_PATCH_BATCH; ai++, n++)
            json_array_append(ba, json_array_get(adds, ai));
        for (; ri < json_array_size(removes) && n < GCS_GROUP_PATCH_BATCH; ri++, n++)
            json_array_append(br, json_array_get(removes, ri));
        rc = ba && br ? patch_members(c, ba, br) : gcs_error_set(GCS_ENOMEM, "out of memory");
        json_decref(ba);
        json_decref(br);
    }
out:
    json_decref(adds);
    json_decref(removes);
    return rc;
}

static int change_grants(group_ctx *c, const char *list, const char *verb)
{
    gcs_group_apply *ga = c->ga;
    json_t *wanted = json_object_get(c->op, list);
    if (json_array_size(wanted) == 0)
        return 0;
    json_t *grants = json_array();
    GCS_CHECK_ALLOC(grants);
    size_t i;
    json_t *g;
    json_array_foreach(wanted, i, g)
        json_array_append_new(grants, json_pack("{s:O,s:O}", "roleId", json_object_get(g, "roleId"),
                                                "divisionId", json_object_get(g, "divisionId")));
    json_t *body = json_pack("{s:o}", "grants", grants);
    GCS_CHECK_ALLOC(body);
    char path[300];
    snprintf(path, sizeof path, "/api/v2/authorization/subjects/%s/%s", c->id, verb);
    gcs_http_client_response res;
    int rc = call(c, &res, "POST", path, body, NULL);
    json_decref(body);
    if (rc < 0)
        fail(c, strcmp(verb, "bulkadd") == 0 ? "role grant failed" : "role revocation failed",
             &res);
    gcs_http_client_response_release(&res);
    json_array_foreach(wanted, i, g)
    {
        if (rc < 0)
            break;
        char both[300];
        snprintf(both, sizeof both, "%s/%s", json_string_value(json_object_get(g, "roleId")),
                 json_string_value(json_object_get(g, "divisionId")));
        rc = strcmp(verb, "bulkadd") == 0
                 ? gcs_store_owned_add(ga->store, c->id, GCS_OWNED_GRANT, both, ga->run_id)
                 : gcs_store_owned_remove(ga->store, c->id, GCS_OWNED_GRANT, both);
    }
    return rc;
}

/* ==== One group ==== */

static void event(group_ctx *c, gcs_apply_outcome outcome)
{
    gcs_group_apply *ga = c->ga;
    bool problem = outcome == GCS_APPLY_FAILED || outcome == GCS_APPLY_DRIFT;
    ga->result->counts[outcome]++;
    ga->finished++;
    if (problem) {
        ga->problems++;
        GCS_WARN("apply.group_problem", "group", c->key, "message", c->message);
    }
    const gcs_apply_options *o = ga->options;
    if (o && o->on_event) {
        char kind[40];
        snprintf(kind, sizeof kind, "group %s", json_string_value(json_object_get(c->op, "kind")));
        gcs_apply_event e = {outcome,
                             kind,
                             c->key,
                             c->name,
                             c->id[0] ? c->id : NULL,
                             problem ? c->message : NULL,
                             ga->finished,
                             ga->result->total,
                             ga->problems};
        o->on_event(&e, o->payload);
    }
}

/* ==== Outcome: the item mark with its notification ==== */

/* The plan's members of one list, each as its Genesys user id and its source
 * key where known (a member created by this run: its id as the users' phase
 * learned it). */
static json_t *told_members(const gcs_group_apply *ga, const json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *key = json_string_value(json_object_get(m, "key"));
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id && key)
            id = gcs_recorder_id_of(ga->recorder, key);
        json_array_append_new(out, json_pack("{s:s?,s:s?}", "id", id, "source_key", key));
    }
    return out;
}

static json_t *told_grants(const json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(list, i, g)
        json_array_append_new(
            out, json_pack("{s:O?,s:O?,s:O?,s:O?}", "roleId", json_object_get(g, "roleId"), "role",
                           json_object_get(g, "role"), "divisionId",
                           json_object_get(g, "divisionId"), "division",
                           json_object_get(g, "division")));
    return out;
}

/* The settings changed: a create's are those it was created with. */
static json_t *told_settings(const group_ctx *c, const char *kind)
{
    if (strcmp(kind, "create") != 0)
        return gcs_apply_told_changes(c->op);
    static const char *const settings[] = {"description", "visibility", "rolesEnabled"};
    const json_t *group = json_object_get(c->op, "group");
    json_t *out = json_array();
    for (size_t k = 0; k < sizeof settings / sizeof *settings; k++) {
        json_t *v = json_object_get(group, settings[k]);
        if (v && !json_is_null(v))
            json_array_append_new(
                out, json_pack("{s:s,s:O}", "attribute", settings[k], "value", v));
    }
    return out;
}

/* Marks the group's item done or failed, with its "group.changed" or
 * "provisioning.failed" notification and audit line in the same transaction
 * (queued behind the group's receipts, then flushed, as a plain mark is). The
 * receipts are those of the item key "group:KEY", hence "source_key". */
static int mark_outcome(group_ctx *c, const char *kind, gcs_apply_outcome outcome)
{
    gcs_group_apply *ga = c->ga;
    const gcs_apply_options *o = ga->options;
    bool failed = outcome == GCS_APPLY_FAILED;
    const char *state = failed ? GCS_ITEM_FAILED : GCS_ITEM_DONE;
    const char *detail = failed ? c->message : "done";
    const char *id = c->id[0] ? c->id : NULL;
    /* The kept hierarchy as applied, with the group's mark (store.h, "Group hierarchy") */
    const json_t *parents = json_object_get(c->op, "parents");
    size_t nparents = json_array_size(parents);
    const char **keys = calloc(nparents ? nparents : 1, sizeof *keys);
    GCS_CHECK_ALLOC(keys);
    for (size_t i = 0; i < nparents; i++)
        keys[i] = json_string_value(json_array_get(parents, i));
    gcs_group_links links = {c->key, id, keys, nparents};
    /* an op without parents (a person's memberships) leaves the record as it is */
    const gcs_group_links *record = c->kept && !failed && json_is_array(parents) ? &links : NULL;
    int rc;
    if (!o || (!o->notify && !(o->audit && gcs_log_enabled(GCS_LOG_INFO)))) { /* nobody to tell */
        rc = gcs_store_item_mark_group(ga->store, ga->run_id, c->item, state, id, detail, NULL,
                                       record);
        if (rc == 0)
            rc = gcs_store_flush(ga->store);
        free(keys);
        return rc;
    }
    const char *type = failed ? "provisioning.failed" : "group.changed";
    json_t *data = json_pack(
        "{s:s,s:s,s:s,s:s?,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:s?,s:s?,s:s?}", "source_key", c->item,
        "group_key", c->key, "name", c->name, "genesys_id", id, "operation", kind, "outcome",
        gcs_apply_outcome_name(outcome), "changes", told_settings(c, kind), "members_added",
        told_members(ga, json_object_get(c->op, "add")), "members_removed",
        told_members(ga, json_object_get(c->op, "remove")), "grants_given",
        told_grants(json_object_get(c->op, "grant")), "grants_revoked",
        told_grants(json_object_get(c->op, "revoke")), "run_id", ga->run_id, "job_id", o->job_id,
        "actor", o->actor, "detail", failed ? c->message : NULL);
    if (!data) {
        free(keys);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    gcs_outbox_event ev = {type, data, o->notify, true, o->audit};
    rc = gcs_store_item_mark_group(ga->store, ga->run_id, c->item, state, id, detail, &ev, record);
    json_decref(data);
    free(keys);
    if (rc == 0)
        rc = gcs_store_flush(ga->store);
    if (rc == 0 && ga->notified) {
        json_int_t n = json_integer_value(json_object_get(ga->notified, type));
        json_object_set_new(ga->notified, type, json_integer(n + 1));
    }
    return rc;
}

/* Whether the op changes a setting Genesys keeps (a "parents" change is the
 * store's alone: it is recorded with the group's mark, not sent). */
static bool changes_settings(const json_t *op)
{
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(op, "changes"), i, ch)
    {
        const char *a = json_string_value(json_object_get(ch, "attribute"));
        if (!a || strcmp(a, "parents") != 0)
            return true;
    }
    return false;
}

static int apply_group(gcs_group_apply *ga, const json_t *op, bool kept)
{
    group_ctx c;
    memset(&c, 0, sizeof c);
    c.ga = ga;
    c.op = op;
    c.kept = kept;
    c.key = json_string_value(json_object_get(op, "key"));
    c.name = json_string_value(json_object_get(json_object_get(op, "group"), "name"));
    const char *kind = json_string_value(json_object_get(op, "kind"));
    if (!c.key || !c.name || !kind) {
        snprintf(c.message, sizeof c.message, "malformed group operation");
        event(&c, GCS_APPLY_FAILED);
        return 0;
    }
    item_key(c.item, sizeof c.item, c.key);
    gcs_run_item item;
    int rc = gcs_store_item_get(&item, ga->store, ga->run_id, c.item);
    if (rc < 0)
        return rc;
    if (strcmp(item.state, GCS_ITEM_DONE) == 0) {
        gcs_run_item_release(&item);
        event(&c, GCS_APPLY_SKIPPED);
        return 0;
    }
    bool resumed = strcmp(item.state, GCS_ITEM_PENDING) != 0;
    if (strcmp(kind, "create") == 0) {
        rc = create_group(&c, item.state, item.genesys_id);
    } else {
        const char *id = json_string_value(json_object_get(op, "id"));
        snprintf(c.id, sizeof c.id, "%s", id ? id : "");
        learn_group(&c);
        c.version = (long long)json_integer_value(json_object_get(op, "version"));
        snprintf(c.etag, sizeof c.etag, "\"%lld\"", c.version);
    }
    gcs_run_item_release(&item);
    if (rc == 0 && resumed) {
        /* an earlier run may have moved the version: start from the current one */
        rc = read_members(&c, &c.now);
        if (rc == 0) {
            const char *q = strncmp(c.etag, "W/", 2) == 0 ? c.etag + 2 : c.etag;
            q += *q == '"';
            c.version = strtoll(q, NULL, 10);
        }
    }
    /* A group whose roles are turned off (undo of the run that turned them
     * on) can no longer have its grants revoked: they go first. */
    bool settings = changes_settings(op) || c.unlike_plan;
    bool roles_off = settings && json_is_false(json_object_get(json_object_get(op, "group"),
                                                               "rolesEnabled"));
    if (rc == 0 && roles_off)
        rc = change_grants(&c, "revoke", "bulkremove");
    /* A create that found the group by name gives it the settings the plan
     * showed, before any member goes in (a visibility of "members" included). */
    if (rc == 0 && settings)
        rc = update_settings(&c);
    if (rc == 0)
        rc = change_members(&c);
    if (rc == 0)
        rc = change_grants(&c, "grant", "bulkadd");
    if (rc == 0 && !roles_off)
        rc = change_grants(&c, "revoke", "bulkremove");
    json_decref(c.now);
    c.now = NULL;
    if (rc == GCS_EIO || rc == GCS_ENOMEM || rc == GCS_EFORBIDDEN || rc == GCS_EDAILYLIMIT ||
        rc == GCS_EAUTH || rc == GCS_ECANCELLED)
        return rc; /* the store, a permission, the day's limit: the run cannot go on */
    if (rc < 0 && !c.message[0])
        snprintf(c.message, sizeof c.message, "%s", gcs_error_last());
    int mrc = mark_outcome(&c, kind, rc == 0 ? GCS_APPLY_DONE : GCS_APPLY_FAILED);
    event(&c, rc == 0 ? GCS_APPLY_DONE : GCS_APPLY_FAILED);
    return mrc;
}

int gcs_group_apply_run(gcs_group_apply *ga, const gcs_plan *plan)
{
    json_t *ops = gcs_group_plan_operations(plan);
    const char *hierarchy =
        json_string_value(json_object_get(gcs_group_plan_section(plan), "hierarchy"));
    bool kept = hierarchy && strcmp(hierarchy, "kept") == 0;
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        if (ga->options && ga->options->stop && *ga->options->stop)
            return GCS_ECANCELLED;
        int rc = apply_group(ga, op, kept);
        if (rc < 0)
            return rc;
    }
    return 0;
}
