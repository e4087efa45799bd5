/* SCIM users: /api/v2/scim[/v2]/users and /users/{id}. */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_COUNT 25

static void send_user(emu_req *r, int status, emu_user *u, bool with_body)
{
    char etag[32];
    const char *attrs = gcs_http_request_arg(r->http, "attributes");
    const char *excl = gcs_http_request_arg(r->http, "excludedAttributes");
    snprintf(etag, sizeof etag, "\"%ld\"", u->version);
    if (!with_body) {
        gcs_http_response_set(r->resp, status, NULL, NULL);
    } else if ((attrs && *attrs) || (excl && *excl)) {
        gcs_emu_send_json(r, status, gcs_emu_project(u->doc, attrs, excl));
    } else {
        gcs_emu_send_raw(r, status, gcs_emu_user_text(u));
    }
    gcs_http_response_header(r->resp, "ETag", etag);
    if (status == 201) {
        char loc[256];
        gcs_emu_user_location(r->emu, loc, sizeof loc, "users", u->id);
        gcs_http_response_header(r->resp, "Location", loc);
    }
}

static long arg_long(emu_req *r, const char *name, long dflt)
{
    const char *v = gcs_http_request_arg(r->http, name);
    if (!v || !*v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return *end ? dflt : n;
}

static void list_users(emu_req *r)
{
    gcs_emu *emu = r->emu;
    const char *ftext = gcs_http_request_arg(r->http, "filter");
    const char *attrs = gcs_http_request_arg(r->http, "attributes");
    const char *excl = gcs_http_request_arg(r->http, "excludedAttributes");
    long start = arg_long(r, "startIndex", 1);
    long count = arg_long(r, "count", DEFAULT_COUNT);
    bool projected = (attrs && *attrs) || (excl && *excl);
    if (start < 1)
        start = 1;
    if (count < 0)
        count = 0;
    if (count > DEFAULT_COUNT && !projected) {
        gcs_emu_scim_error(r, 429, "tooMany",
                           "count over %d needs attributes or excludedAttributes to drop the costly "
                           "secondary fields",
                           DEFAULT_COUNT);
        return;
    }
    if (count > EMU_MAX_PAGE)
        count = EMU_MAX_PAGE;
    scim_filter *f = NULL;
    if (ftext && *ftext) {
        char err[256];
        if (!(f = gcs_scim_filter_parse(ftext, err, sizeof err))) {
            gcs_emu_scim_error(r, 400, "invalidFilter", "bad filter: %s", err);
            return;
        }
    }
    json_t *resources = json_array();
    long total = 0;
    const char *eq, *auth;
    emu_user *only = NULL;
    bool indexed = false;
    if (f && (eq = gcs_scim_filter_eq_value(f, "userName"))) {
        only = gcs_emu_user_find_name(emu, eq);
        indexed = true;
    } else if (f && (eq = gcs_scim_filter_eq_value(f, "id"))) {
        only = gcs_emu_user_find(emu, eq);
        indexed = true;
    } else if (f && (eq = gcs_scim_filter_eq_value(f, "externalId"))) {
        indexed = gcs_emu_user_find_ext(emu, NULL, eq, &only);
    } else if (f && gcs_scim_filter_extid_pair(f, &auth, &eq)) {
        indexed = gcs_emu_user_find_ext(emu, auth, eq, &only);
    }
    /* An index hit is checked against the whole filter, as a scan would. */
    if (indexed && only && !gcs_scim_filter_match(f, only->doc))
        only = NULL;
    size_t n = indexed ? (only ? 1 : 0) : emu->org.nusers;
    for (size_t i = 0; i < n; i++) {
        emu_user *u = indexed ? only : emu->org.users[i];
        if (!indexed) {
            if (f ? !gcs_scim_filter_match(f, u->doc) : !json_is_true(json_object_get(u->doc, "active")))
                continue;
        }
        total++;
        if (total < start || total >= start + count)
            continue;
        if (projected)
            json_array_append_new(resources, gcs_emu_project(u->doc, attrs, excl));
        else
            json_array_append(resources, u->doc);
    }
    gcs_scim_filter_free(f);
    json_t *body = json_pack("{s:[s],s:I,s:I,s:I,s:o}", "schemas", SCIM_LIST_SCHEMA,
                             "totalResults", (json_int_t)total, "startIndex", (json_int_t)start,
                             "itemsPerPage", (json_int_t)json_array_size(resources), "Resources",
                             resources);
    gcs_emu_send_json(r, 200, body);
}

static bool groups_differ(const json_t *have, const json_t *given)
{
    if (!given || json_is_null(given) || (json_is_array(given) && json_array_size(given) == 0))
        return false;
    if (!json_is_array(given) || json_array_size(given) != json_array_size(have))
        return true;
    size_t i;
    json_t *g;
    json_array_foreach(given, i, g) {
        const char *id = json_string_value(json_object_get(g, "value"));
        bool found = false;
        size_t j;
        json_t *h;
        json_array_foreach(have, j, h)
            found = found || (id && strcmp(id, json_string_value(json_object_get(h, "value")) ?: "") == 0);
        if (!found)
            return true;
    }
    return false;
}

static void create_user(emu_req *r)
{
    if (r->emu->org.nusers >= EMU_MAX_USERS) {
        gcs_emu_scim_error(r, 400, "invalidValue", "the organisation already has %d users", EMU_MAX_USERS);
        return;
    }
    json_t *body = gcs_emu_parse_body(r, false);
    if (!body)
        return;
    json_t *none = json_array();
    bool bad = groups_differ(none, json_object_get(body, "groups"));
    json_decref(none);
    if (bad) {
        gcs_emu_scim_error(r, 400, "mutability", "groups is read-only: change membership through the group");
        goto out;
    }
    json_object_del(body, "id");
    json_object_del(body, "meta");
    json_object_del(body, "groups");
    if (!gcs_emu_user_validate(r, body, NULL))
        goto out;
    emu_user *u = gcs_emu_user_add(r->emu, json_incref(body));
    if (!u) {
        gcs_emu_scim_error(r, 500, NULL, "out of memory");
        goto out;
    }
    send_user(r, 201, u, true);
out:
    json_decref(body);
}

static void replace_user(emu_req *r, emu_user *u)
{
    json_t *body = NULL;
    if (!gcs_emu_if_match(r, u->version) || !(body = gcs_emu_parse_body(r, false)))
        return;
    const char *id = json_string_value(json_object_get(body, "id"));
    if ((id && strcmp(id, u->id) != 0) ||
        groups_differ(json_object_get(u->doc, "groups"), json_object_get(body, "groups"))) {
        gcs_emu_scim_error(r, 400, "mutability", "id and groups are read-only");
        goto out;
    }
    json_object_del(body, "meta");
    if (!gcs_emu_user_validate(r, body, u))
        goto out;
    gcs_emu_user_replace(r->emu, u, json_incref(body));
    send_user(r, 200, u, true);
out:
    json_decref(body);
}

static void patch_user(emu_req *r, emu_user *u)
{
    json_t *body = NULL, *doc = NULL;
    scim_patch_error err;
    if (!gcs_emu_if_match(r, u->version) || !(body = gcs_emu_parse_body(r, false)))
        return;
    doc = gcs_emu_json_copy(u->doc);
    if (gcs_scim_patch_apply(doc, body, "User", &err) < 0) {
        gcs_emu_scim_error(r, err.status, err.scim_type, "%s", err.detail);
        goto out;
    }
    if (!gcs_emu_user_validate(r, doc, u))
        goto out;
    gcs_emu_user_replace(r->emu, u, doc);
    doc = NULL;
    send_user(r, 200, u, true);
out:
    json_decref(doc);
    json_decref(body);
}

/* --concurrent-writer: someone else changes the user right after this read. */
static void maybe_hidden_write(gcs_emu *emu, emu_user *u)
{
    double p = emu->config.concurrent_writer;
    double draw = gcs_emu_rand_unit(&emu->rng_writer);
    if (p <= 0 || draw >= p)
        return;
    emu->stats.hidden_writes++;
    gcs_emu_user_replace(emu, u, gcs_emu_json_copy(u->doc));
}

void gcs_emu_scim_users(emu_req *r, const char *rest)
{
    const char *m = r->http->method;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        r->route = "/api/v2/scim/users";
        if (strcmp(m, "GET") == 0)
            list_users(r);
        else if (strcmp(m, "POST") == 0)
            create_user(r);
        else
            gcs_emu_scim_error(r, 405, NULL, "method not allowed");
        return;
    }
    r->route = "/api/v2/scim/users/{id}";
    const char *id = rest + 1;
    emu_user *u = strchr(id, '/') ? NULL : gcs_emu_user_find(r->emu, id);
    if (!u) {
        gcs_emu_scim_error(r, 404, NULL, "Resource %.64s not found", id);
        return;
    }
    if (strcmp(m, "GET") == 0) {
        char etag[32];
        const char *inm = gcs_http_request_header(r->http, "If-None-Match");
        snprintf(etag, sizeof etag, "\"%ld\"", u->version);
        bool same = inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0 ||
                            (strncmp(inm, "W/", 2) == 0 && strcmp(inm + 2, etag) == 0));
        send_user(r, same ? 304 : 200, u, !same);
        maybe_hidden_write(r->emu, u);
    } else if (strcmp(m, "PUT") == 0) {
        replace_user(r, u);
    } else if (strcmp(m, "PATCH") == 0) {
        patch_user(r, u);
    } else if (strcmp(m, "DELETE") == 0) {
        if (!gcs_emu_if_match(r, u->version))
            return;
        gcs_emu_user_delete(r->emu, u);
        gcs_http_response_set(r->resp, 204, NULL, NULL);
    } else {
        gcs_emu_scim_error(r, 405, NULL, "method not allowed");
    }
}
