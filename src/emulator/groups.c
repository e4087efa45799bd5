/* Platform API groups: /api/v2/groups (list, create), /groups/{id} (get,
 * update with `version`, delete) and /groups/{id}/members (list, add with
 * `version`, remove by `ids`). A group is one object whatever the API: the
 * SCIM routes (scim_groups.c) see the same members and the same version. */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ==== Group entities ==== */

static json_t *group_entity(const emu_group *g)
{
    json_t *e = gcs_emu_json_copy(g->platform);
    char uri[128];
    snprintf(uri, sizeof uri, "/api/v2/groups/%s", g->id);
    json_object_set_new(e, "memberCount",
                        json_integer((json_int_t)json_array_size(json_object_get(g->doc, "members"))));
    json_object_set_new(e, "state", json_string("active"));
    json_object_set_new(e, "version", json_integer(g->version));
    json_object_set(e, "dateModified", json_object_get(json_object_get(g->doc, "meta"), "lastModified"));
    json_object_set_new(e, "selfUri", json_string(uri));
    return e;
}

/* Checks the settable members of a create or update body; answers 400 and
 * returns false on the first bad one. */
static bool check_fields(emu_req *r, const json_t *body)
{
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *vis = json_string_value(json_object_get(body, "visibility"));
    const json_t *v;
    if ((v = json_object_get(body, "name")) && (!json_is_string(v) || !*json_string_value(v)))
        gcs_emu_genesys_error(r, 400, "bad.request", "name must be a non-empty string");
    else if (json_object_get(body, "type") && (!type || (strcmp(type, "official") != 0 && strcmp(type, "social") != 0)))
        gcs_emu_genesys_error(r, 400, "bad.request", "type must be official or social");
    else if (json_object_get(body, "visibility") &&
             (!vis || (strcmp(vis, "public") != 0 && strcmp(vis, "owners") != 0 && strcmp(vis, "members") != 0)))
        gcs_emu_genesys_error(r, 400, "bad.request", "visibility must be public, owners or members");
    else if ((v = json_object_get(body, "rulesVisible")) && !json_is_boolean(v))
        gcs_emu_genesys_error(r, 400, "bad.request", "rulesVisible must be true or false");
    else if ((v = json_object_get(body, "rolesEnabled")) && !json_is_boolean(v))
        gcs_emu_genesys_error(r, 400, "bad.request", "rolesEnabled must be true or false");
    else if ((v = json_object_get(body, "description")) && !json_is_string(v) && !json_is_null(v))
        gcs_emu_genesys_error(r, 400, "bad.request", "description must be a string");
    else
        return true;
    return false;
}

static void create_group(emu_req *r)
{
    json_t *body = gcs_emu_parse_body(r, false);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name || !*name) {
        gcs_emu_genesys_error(r, 400, "bad.request", "name is required");
    } else if (!json_is_string(json_object_get(body, "type"))) {
        gcs_emu_genesys_error(r, 400, "bad.request", "type must be official or social");
    } else if (!check_fields(r, body)) {
        /* answered */
    } else if (r->emu->org.ngroups >= EMU_MAX_GROUPS) {
        gcs_emu_genesys_error(r, 400, "bad.request", "the organisation already has %d groups", EMU_MAX_GROUPS);
    } else if (gcs_emu_group_find_name(r->emu, name)) {
        gcs_emu_genesys_error(r, 409, "conflict", "a group named '%.100s' already exists", name);
    } else {
        json_object_del(body, "id");
        emu_group *g = gcs_emu_group_add(r->emu, body);
        if (!g)
            gcs_emu_genesys_error(r, 500, "internal.server.error", "out of memory");
        else
            gcs_emu_send_json(r, 200, group_entity(g));
    }
    json_decref(body);
}

/* The body's `version` against the group's: false (answered) when it is
 * missing (400) or stale (409). */
static bool version_ok(emu_req *r, const json_t *body, const emu_group *g)
{
    const json_t *v = json_object_get(body, "version");
    if (!json_is_integer(v)) {
        gcs_emu_genesys_error(r, 400, "bad.request", "version is required (the group's current version)");
        return false;
    }
    if (json_integer_value(v) != g->version) {
        gcs_emu_genesys_error(r, 409, "general.conflict",
                              "The version supplied (%lld) does not match the group's current version (%ld)",
                              (long long)json_integer_value(v), g->version);
        return false;
    }
    return true;
}

static void update_group(emu_req *r, emu_group *g)
{
    json_t *body = gcs_emu_parse_body(r, false);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    emu_group *other = name ? gcs_emu_group_find_name(r->emu, name) : NULL;
    if (!version_ok(r, body, g) || !check_fields(r, body))
        goto out;
    if (other && other != g) {
        gcs_emu_genesys_error(r, 409, "conflict", "a group named '%.100s' already exists", name);
        goto out;
    }
    static const char *const settable[] = {"description", "type", "visibility", "rulesVisible",
                                           "rolesEnabled", NULL};
    for (size_t i = 0; settable[i]; i++) {
        json_t *v = json_object_get(body, settable[i]);
        if (v && json_is_null(v))
            json_object_set_new(g->platform, settable[i], json_string(""));
        else if (v)
            json_object_set(g->platform, settable[i], v);
    }
    if (name && strcmp(name, json_string_value(json_object_get(g->platform, "name"))) != 0)
        gcs_emu_group_rename(r->emu, g, name);
    /* A change of the group: same version counter as SCIM's. */
    gcs_emu_group_replace(r->emu, g, gcs_emu_json_copy(g->doc));
    gcs_emu_send_json(r, 200, group_entity(g));
out:
    json_decref(body);
}

static void list_groups(emu_req *r)
{
    emu_org *o = &r->emu->org;
    const char *want = gcs_http_request_arg(r->http, "name");
    emu_page p;
    gcs_emu_page_args(r, &p);
    json_t *entities = json_array();
    long total = 0, first = (p.number - 1) * p.size;
    if (!want || !*want) {
        /* O(page): the groups are in creation order. */
        total = (long)o->ngroups;
        for (long i = first; i < total && i < first + p.size; i++)
            json_array_append_new(entities, group_entity(o->groups[i]));
    } else {
        for (size_t i = 0; i < o->ngroups; i++) {
            if (!gcs_emu_name_matches(json_string_value(json_object_get(o->groups[i]->platform, "name")), want))
                continue;
            if (total >= first && total < first + p.size)
                json_array_append_new(entities, group_entity(o->groups[i]));
            total++;
        }
    }
    gcs_emu_page_send(r, "/groups", &p, total, entities);
}

/* ==== Members ==== */

static json_t *member_entity(gcs_emu *emu, const char *id)
{
    emu_user *u = gcs_emu_user_find(emu, id);
    char uri[128];
    snprintf(uri, sizeof uri, "/api/v2/users/%s", id);
    if (!u)
        return json_pack("{s:s,s:s}", "id", id, "selfUri", uri);
    json_t *d = u->doc;
    const char *email = json_string_value(json_object_get(d, "userName"));
    const char *division = json_string_value(json_object_get(json_object_get(d, SCIM_ENTERPRISE), "division"));
    json_t *e = json_pack("{s:s,s:O,s:s,s:s,s:s,s:I,s:s}", "id", id, "name",
                          json_object_get(d, "displayName"), "username", email ? email : "",
                          "email", email ? email : "", "state",
                          json_is_false(json_object_get(d, "active")) ? "inactive" : "active",
                          "version", (json_int_t)u->version, "selfUri", uri);
    if (json_object_get(d, "title"))
        json_object_set(e, "title", json_object_get(d, "title"));
    if (division)
        json_object_set_new(e, "division", json_pack("{s:s}", "name", division));
    return e;
}

static void list_members(emu_req *r, emu_group *g)
{
    json_t *members = json_object_get(g->doc, "members");
    emu_page p;
    gcs_emu_page_args(r, &p);
    long total = (long)json_array_size(members), first = (p.number - 1) * p.size;
    json_t *entities = json_array();
    for (long i = first; i < total && i < first + p.size; i++)
        json_array_append_new(entities, member_entity(r->emu, json_string_value(json_object_get(
                                                                 json_array_get(members, (size_t)i), "value"))));
    char base[96];
    snprintf(base, sizeof base, "/groups/%s/members", g->id);
    gcs_emu_page_send(r, base, &p, total, entities);
}

/* POST {"memberIds":[…],"version":N}: at most 50 ids, each a user; members
 * already there are left alone. 202 with an empty body, as the real service. */
static void add_members(emu_req *r, emu_group *g)
{
    json_t *body = gcs_emu_parse_body(r, false), *doc = NULL;
    emu_map have;
    gcs_emu_map_init(&have);
    if (!body)
        return;
    json_t *ids = json_object_get(body, "memberIds");
    size_t i;
    json_t *id;
    if (!json_is_array(ids) || json_array_size(ids) == 0) {
        gcs_emu_genesys_error(r, 400, "bad.request", "memberIds must be a non-empty array of user ids");
        goto out;
    }
    if (json_array_size(ids) > EMU_MAX_MEMBER_IDS) {
        gcs_emu_genesys_error(r, 400, "bad.request", "at most %d memberIds per request (%zu given)",
                              EMU_MAX_MEMBER_IDS, json_array_size(ids));
        goto out;
    }
    json_array_foreach(ids, i, id) {
        if (!json_is_string(id) || !gcs_emu_user_find(r->emu, json_string_value(id))) {
            gcs_emu_genesys_error(r, 400, "bad.request", "memberIds[%zu] is not a user", i);
            goto out;
        }
    }
    if (!version_ok(r, body, g))
        goto out;
    doc = gcs_emu_json_copy(g->doc);
    json_t *members = json_object_get(doc, "members");
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *uid = json_string_value(json_object_get(m, "value"));
        if (uid)
            gcs_emu_map_put(&have, uid, m);
    }
    json_array_foreach(ids, i, id) {
        const char *uid = json_string_value(id);
        if (gcs_emu_map_get(&have, uid))
            continue;
        char loc[256];
        gcs_emu_user_location(r->emu, loc, sizeof loc, "users", uid);
        m = json_pack("{s:s,s:s,s:s}", "value", uid, "type", "User", "$ref", loc);
        json_array_append_new(members, m);
        gcs_emu_map_put(&have, uid, m);
    }
    gcs_emu_group_replace(r->emu, g, doc);
    doc = NULL;
    gcs_emu_send_json(r, 202, json_object());
out:
    gcs_emu_map_release(&have);
    json_decref(doc);
    json_decref(body);
}

/* DELETE ?ids=a,b: at most 50; ids that are not members are ignored. */
static void remove_members(emu_req *r, emu_group *g)
{
    const char *ids = gcs_http_request_arg(r->http, "ids");
    emu_map drop;
    gcs_emu_map_init(&drop);
    char *copy = ids ? strdup(ids) : NULL;
    size_t n = 0;
    if (!copy || !*copy) {
        gcs_emu_genesys_error(r, 400, "bad.request", "ids is required: comma-separated user ids");
        goto out;
    }
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!*t)
            continue;
        if (++n > EMU_MAX_MEMBER_IDS) {
            gcs_emu_genesys_error(r, 400, "bad.request", "at most %d ids per request", EMU_MAX_MEMBER_IDS);
            goto out;
        }
        gcs_emu_map_put(&drop, t, (void *)1);
    }
    if (n == 0) {
        gcs_emu_genesys_error(r, 400, "bad.request", "ids is required: comma-separated user ids");
        goto out;
    }
    json_t *doc = gcs_emu_json_copy(g->doc);
    json_t *members = json_object_get(doc, "members"), *kept = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
        if (!gcs_emu_map_get(&drop, json_string_value(json_object_get(m, "value"))))
            json_array_append(kept, m);
    json_object_set_new(doc, "members", kept);
    gcs_emu_group_replace(r->emu, g, doc);
    gcs_emu_send_json(r, 202, json_object());
out:
    free(copy);
    gcs_emu_map_release(&drop);
}

/* ==== Routes ==== */

void gcs_emu_groups(emu_req *r, const char *tail)
{
    const char *m = r->http->method;
    if (*tail == '\0' || strcmp(tail, "/") == 0) {
        r->route = "/api/v2/groups";
        if (strcmp(m, "POST") == 0)
            create_group(r);
        else if (strcmp(m, "GET") == 0)
            list_groups(r);
        else
            gcs_emu_genesys_error(r, 405, "method.not.allowed", "use GET or POST");
        return;
    }
    char id[64];
    const char *slash = strchr(tail + 1, '/');
    size_t len = slash ? (size_t)(slash - tail - 1) : strlen(tail + 1);
    snprintf(id, sizeof id, "%.*s", (int)(len < sizeof id ? len : sizeof id - 1), tail + 1);
    emu_group *g = len < sizeof id ? gcs_emu_group_find(r->emu, id) : NULL;
    if (slash && strcmp(slash, "/members") == 0) {
        r->route = "/api/v2/groups/{id}/members";
        if (!g)
            gcs_emu_genesys_error(r, 404, "not.found", "no such group %.64s", id);
        else if (strcmp(m, "GET") == 0)
            list_members(r, g);
        else if (strcmp(m, "POST") == 0)
            add_members(r, g);
        else if (strcmp(m, "DELETE") == 0)
            remove_members(r, g);
        else
            gcs_emu_genesys_error(r, 405, "method.not.allowed", "use GET, POST or DELETE");
        return;
    }
    r->route = "/api/v2/groups/{id}";
    if (slash || !g) {
        gcs_emu_genesys_error(r, 404, "not.found", "no such group %.64s", tail + 1);
    } else if (strcmp(m, "GET") == 0) {
        gcs_emu_send_json(r, 200, group_entity(g));
    } else if (strcmp(m, "PUT") == 0) {
        update_group(r, g);
    } else if (strcmp(m, "DELETE") == 0) {
        gcs_emu_group_delete(r->emu, g);
        gcs_http_response_set(r->resp, 204, NULL, NULL);
    } else {
        gcs_emu_genesys_error(r, 405, "method.not.allowed", "use GET, PUT or DELETE");
    }
}
