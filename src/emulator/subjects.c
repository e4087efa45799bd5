/* Role grants: /api/v2/authorization/subjects/{id} (a user or a group) with
 * its grants, and .../bulkadd and .../bulkremove with
 * {"grants":[{"roleId","divisionId"}]}. A group is a subject only when it has
 * `rolesEnabled`. Grants are kept on the subject as {version, grants} and are
 * not reflected in a user's SCIM `roles` (docs/emulator.md). */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same_grant(const json_t *g, const char *role_id, const char *division_id)
{
    return strcmp(json_string_value(json_object_get(g, "roleId")) ?: "", role_id) == 0 &&
           strcmp(json_string_value(json_object_get(g, "divisionId")) ?: "", division_id) == 0;
}

bool gcs_emu_grant_add(json_t **authz, const char *role_id, const char *division_id)
{
    if (!*authz)
        *authz = json_pack("{s:i,s:[]}", "version", 1, "grants");
    json_t *grants = json_object_get(*authz, "grants");
    size_t i;
    json_t *g;
    json_array_foreach(grants, i, g)
        if (same_grant(g, role_id, division_id))
            return false;
    json_array_append_new(grants, json_pack("{s:s,s:s}", "roleId", role_id, "divisionId", division_id));
    return true;
}

static json_t *named_ref(const emu_list *l, const char *id, const char *base)
{
    const json_t *item = gcs_emu_map_get(&l->by_id, id);
    char uri[160];
    snprintf(uri, sizeof uri, "/api/v2/authorization/%s/%s", base, id);
    return json_pack("{s:s,s:O,s:s}", "id", id, "name",
                     item ? json_object_get(item, "name") : json_null(), "selfUri", uri);
}

static void send_subject(emu_req *r, const char *id, const char *name, const json_t *authz)
{
    gcs_emu *emu = r->emu;
    json_t *grants = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(authz, "grants"), i, g) {
        const char *role = json_string_value(json_object_get(g, "roleId"));
        const char *div = json_string_value(json_object_get(g, "divisionId"));
        json_array_append_new(grants, json_pack("{s:s,s:o,s:o}", "subjectId", id, "role",
                                                named_ref(&emu->org.roles, role, "roles"), "division",
                                                named_ref(&emu->org.divisions, div, "divisions")));
    }
    char uri[128];
    snprintf(uri, sizeof uri, "/api/v2/authorization/subjects/%s", id);
    json_t *v = json_object_get(authz, "version");
    gcs_emu_send_json(r, 200,
                      json_pack("{s:s,s:s,s:o,s:I,s:s}", "id", id, "name", name ? name : "", "grants",
                                grants, "version", (json_int_t)(v ? json_integer_value(v) : 1),
                                "selfUri", uri));
}

/* bulkadd (add true) or bulkremove: every grant is checked before any is
 * applied; 204 afterwards. */
static void change_grants(emu_req *r, json_t **authz, bool add)
{
    gcs_emu *emu = r->emu;
    json_t *body = gcs_emu_parse_body(r, false);
    if (!body)
        return;
    json_t *list = json_object_get(body, "grants");
    size_t i;
    json_t *g;
    if (!json_is_array(list)) {
        gcs_emu_genesys_error(r, 400, "bad.request", "grants must be an array of {roleId, divisionId}");
        goto out;
    }
    json_array_foreach(list, i, g) {
        const char *role = json_string_value(json_object_get(g, "roleId"));
        const char *div = json_string_value(json_object_get(g, "divisionId"));
        if (!role || !div) {
            gcs_emu_genesys_error(r, 400, "bad.request", "grants[%zu] needs roleId and divisionId", i);
            goto out;
        }
        if (add && !gcs_emu_map_get(&emu->org.roles.by_id, role)) {
            gcs_emu_genesys_error(r, 400, "bad.request", "grants[%zu]: no role with id '%.64s'", i, role);
            goto out;
        }
        if (add && !gcs_emu_map_get(&emu->org.divisions.by_id, div)) {
            gcs_emu_genesys_error(r, 400, "bad.request", "grants[%zu]: no division with id '%.64s'", i, div);
            goto out;
        }
    }
    size_t have = *authz ? json_array_size(json_object_get(*authz, "grants")) : 0;
    if (add && have + json_array_size(list) > EMU_MAX_GRANTS) {
        gcs_emu_genesys_error(r, 400, "bad.request", "a subject holds at most %d grants", EMU_MAX_GRANTS);
        goto out;
    }
    bool changed = false;
    json_array_foreach(list, i, g) {
        const char *role = json_string_value(json_object_get(g, "roleId"));
        const char *div = json_string_value(json_object_get(g, "divisionId"));
        if (add) {
            changed = gcs_emu_grant_add(authz, role, div) || changed;
            continue;
        }
        json_t *grants = json_object_get(*authz, "grants");
        for (size_t j = 0; j < json_array_size(grants); j++)
            if (same_grant(json_array_get(grants, j), role, div)) {
                json_array_remove(grants, j);
                changed = true;
                break;
            }
    }
    if (changed) {
        json_t *v = json_object_get(*authz, "version");
        json_object_set_new(*authz, "version", json_integer(json_integer_value(v) + 1));
    }
    gcs_http_response_set(r->resp, 204, NULL, NULL);
out:
    json_decref(body);
}

void gcs_emu_subjects(emu_req *r, const char *tail)
{
    const char *m = r->http->method;
    char id[64];
    const char *slash = *tail ? strchr(tail + 1, '/') : NULL;
    size_t len = *tail ? (slash ? (size_t)(slash - tail - 1) : strlen(tail + 1)) : 0;
    r->route = "/api/v2/authorization/subjects/{id}";
    if (len == 0 || len >= sizeof id) {
        gcs_emu_genesys_error(r, 404, "not.found", "no such subject");
        return;
    }
    snprintf(id, sizeof id, "%.*s", (int)len, tail + 1);
    bool add = slash && strcmp(slash, "/bulkadd") == 0;
    bool remove = slash && strcmp(slash, "/bulkremove") == 0;
    if (add)
        r->route = "/api/v2/authorization/subjects/{id}/bulkadd";
    else if (remove)
        r->route = "/api/v2/authorization/subjects/{id}/bulkremove";
    if (slash && !add && !remove) {
        gcs_emu_genesys_error(r, 404, "not.found", "no such resource: subjects/%.64s%.64s", id, slash);
        return;
    }
    emu_user *u = gcs_emu_user_find(r->emu, id);
    emu_group *g = u ? NULL : gcs_emu_group_find(r->emu, id);
    if (!u && !g) {
        gcs_emu_genesys_error(r, 404, "not.found", "no user or group with id %.64s", id);
        return;
    }
    json_t **authz = u ? &u->authz : &g->authz;
    if (!add && !remove) {
        if (strcmp(m, "GET") != 0) {
            gcs_emu_genesys_error(r, 405, "method.not.allowed", "use GET");
            return;
        }
        send_subject(r, id,
                     json_string_value(u ? json_object_get(u->doc, "displayName")
                                         : json_object_get(g->platform, "name")),
                     *authz);
        return;
    }
    if (strcmp(m, "POST") != 0) {
        gcs_emu_genesys_error(r, 405, "method.not.allowed", "use POST");
        return;
    }
    if (g && !json_is_true(json_object_get(g->platform, "rolesEnabled"))) {
        gcs_emu_genesys_error(r, 400, "bad.request",
                              "group %.64s does not have rolesEnabled: it cannot hold role grants", id);
        return;
    }
    change_grants(r, authz, add);
}
