/* SCIM groups: /api/v2/scim[/v2]/groups (list; a filter is required) and
 * /groups/{id} (GET, PUT, PATCH of members). No POST and no DELETE, as on the
 * real service: groups are made with POST /api/v2/groups (platform.c). */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static long arg_long(emu_req *r, const char *name, long dflt)
{
    const char *v = gcs_http_request_arg(r->http, name);
    if (!v || !*v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return *end ? dflt : n;
}

static void send_group(emu_req *r, int status, emu_group *g)
{
    char etag[32];
    const char *attrs = gcs_http_request_arg(r->http, "attributes");
    const char *excl = gcs_http_request_arg(r->http, "excludedAttributes");
    snprintf(etag, sizeof etag, "\"%ld\"", g->version);
    if (status == 304)
        gcs_http_response_set(r->resp, 304, NULL, NULL);
    else
        gcs_emu_send_json(r, status, gcs_emu_project(g->doc, attrs, excl));
    gcs_http_response_header(r->resp, "ETag", etag);
}

static void list_groups(emu_req *r)
{
    gcs_emu *emu = r->emu;
    const char *ftext = gcs_http_request_arg(r->http, "filter");
    const char *attrs = gcs_http_request_arg(r->http, "attributes");
    const char *excl = gcs_http_request_arg(r->http, "excludedAttributes");
    long start = arg_long(r, "startIndex", 1), count = arg_long(r, "count", 25);
    if (!ftext || !*ftext) {
        gcs_emu_scim_error(r, 400, "invalidFilter",
                           "a filter is required: displayName eq \"…\" or id eq \"…\"");
        return;
    }
    char err[256];
    scim_filter *f = gcs_scim_filter_parse(ftext, err, sizeof err);
    if (!f) {
        gcs_emu_scim_error(r, 400, "invalidFilter", "bad filter: %s", err);
        return;
    }
    if (start < 1)
        start = 1;
    if (count < 0)
        count = 0;
    if (count > EMU_MAX_PAGE)
        count = EMU_MAX_PAGE;
    json_t *resources = json_array();
    long total = 0;
    const char *eq;
    emu_group *only = NULL;
    bool indexed = false;
    if ((eq = gcs_scim_filter_eq_value(f, "displayName"))) {
        only = gcs_emu_group_find_name(emu, eq);
        indexed = true;
    } else if ((eq = gcs_scim_filter_eq_value(f, "id"))) {
        only = gcs_emu_group_find(emu, eq);
        indexed = true;
    }
    size_t n = indexed ? (only ? 1 : 0) : emu->org.ngroups;
    for (size_t i = 0; i < n; i++) {
        emu_group *g = indexed ? only : emu->org.groups[i];
        if (!indexed && !gcs_scim_filter_match(f, g->doc))
            continue;
        total++;
        if (total >= start && total < start + count)
            json_array_append_new(resources, gcs_emu_project(g->doc, attrs, excl));
    }
    gcs_scim_filter_free(f);
    gcs_emu_send_json(r, 200,
                      json_pack("{s:[s],s:I,s:I,s:I,s:o}", "schemas", SCIM_LIST_SCHEMA,
                                "totalResults", (json_int_t)total, "startIndex", (json_int_t)start,
                                "itemsPerPage", (json_int_t)json_array_size(resources),
                                "Resources", resources));
}

/* Members must be users that exist; each becomes {value, type, $ref}, once. */
static bool normalise_members(emu_req *r, json_t *doc)
{
    json_t *members = json_object_get(doc, "members");
    if (!members || json_is_null(members)) {
        json_object_set_new(doc, "members", json_array());
        return true;
    }
    if (!json_is_array(members)) {
        gcs_emu_scim_error(r, 400, "invalidValue", "members must be an array");
        return false;
    }
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *id = json_string_value(json_object_get(m, "value"));
        if (!id) {
            gcs_emu_scim_error(r, 400, "invalidValue", "members[%zu] needs a value (a user id)", i);
            json_decref(out);
            return false;
        }
        if (!gcs_emu_user_find(r->emu, id)) {
            gcs_emu_scim_error(r, 400, "invalidValue", "member '%.64s' is not a user", id);
            json_decref(out);
            return false;
        }
        bool dup = false;
        size_t j;
        json_t *o;
        json_array_foreach(out, j, o)
            dup = dup || strcmp(json_string_value(json_object_get(o, "value")), id) == 0;
        if (dup)
            continue;
        char loc[256];
        gcs_emu_user_location(r->emu, loc, sizeof loc, "users", id);
        json_array_append_new(out, json_pack("{s:s,s:s,s:s}", "value", id, "type", "User", "$ref", loc));
    }
    json_object_set_new(doc, "members", out);
    return true;
}

static void put_group(emu_req *r, emu_group *g)
{
    json_t *body = NULL, *doc = NULL;
    if (!gcs_emu_if_match(r, g->version) || !(body = gcs_emu_parse_body(r, false)))
        return;
    const char *dn = json_string_value(json_object_get(body, "displayName"));
    const char *id = json_string_value(json_object_get(body, "id"));
    const char *have = json_string_value(json_object_get(g->doc, "displayName"));
    if ((dn && strcmp(dn, have) != 0) || (id && strcmp(id, g->id) != 0)) {
        gcs_emu_scim_error(r, 400, "mutability", "id and displayName of a group are read-only");
        goto out;
    }
    doc = json_pack("{s:O}", "members", json_object_get(body, "members") ?: json_null());
    const json_t *ext = json_object_get(body, "externalId");
    if (json_is_string(ext))
        json_object_set(doc, "externalId", (json_t *)ext);
    if (!normalise_members(r, doc))
        goto out;
    gcs_emu_group_replace(r->emu, g, doc);
    doc = NULL;
    send_group(r, 200, g);
out:
    json_decref(doc);
    json_decref(body);
}

static void patch_group(emu_req *r, emu_group *g)
{
    json_t *body = NULL, *doc = NULL;
    scim_patch_error err;
    if (!gcs_emu_if_match(r, g->version) || !(body = gcs_emu_parse_body(r, false)))
        return;
    doc = gcs_emu_json_copy(g->doc);
    if (gcs_scim_patch_apply(doc, body, "Group", &err) < 0) {
        gcs_emu_scim_error(r, err.status, err.scim_type, "%s", err.detail);
        goto out;
    }
    if (!normalise_members(r, doc))
        goto out;
    gcs_emu_group_replace(r->emu, g, doc);
    doc = NULL;
    /* Identity providers send PATCH for membership and expect 204 or 200. */
    send_group(r, 200, g);
out:
    json_decref(doc);
    json_decref(body);
}

void gcs_emu_scim_groups(emu_req *r, const char *rest)
{
    const char *m = r->http->method;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        r->route = "/api/v2/scim/groups";
        if (strcmp(m, "GET") == 0)
            list_groups(r);
        else
            gcs_emu_scim_error(r, 405, NULL,
                               "SCIM cannot create groups: use POST /api/v2/groups");
        return;
    }
    r->route = "/api/v2/scim/groups/{id}";
    const char *id = rest + 1;
    emu_group *g = strchr(id, '/') ? NULL : gcs_emu_group_find(r->emu, id);
    if (!g) {
        gcs_emu_scim_error(r, 404, NULL, "Resource %.64s not found", id);
        return;
    }
    if (strcmp(m, "GET") == 0) {
        char etag[32];
        const char *inm = gcs_http_request_header(r->http, "If-None-Match");
        snprintf(etag, sizeof etag, "\"%ld\"", g->version);
        send_group(r, inm && strcmp(inm, etag) == 0 ? 304 : 200, g);
    } else if (strcmp(m, "PUT") == 0) {
        put_group(r, g);
    } else if (strcmp(m, "PATCH") == 0) {
        patch_group(r, g);
    } else {
        gcs_emu_scim_error(r, 405, NULL, "SCIM cannot %s a group", strcmp(m, "DELETE") == 0 ? "delete" : "do that to");
    }
}
