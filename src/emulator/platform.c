/* The Platform API paths gcscim needs: groups (create, list, get, delete) and
 * the lists of roles, divisions, skills and languages, with Genesys paging
 * ({entities, pageSize, pageNumber, total, pageCount, …Uri}). */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_PAGE_SIZE 25

static long arg_long(emu_req *r, const char *name, long dflt)
{
    const char *v = gcs_http_request_arg(r->http, name);
    if (!v || !*v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return *end ? dflt : n;
}

/* `name` filter: case-insensitive, exact, or a prefix when it ends with '*'. */
static bool name_matches(const char *have, const char *want)
{
    if (!want || !*want)
        return true;
    if (!have)
        return false;
    size_t n = strlen(want);
    if (want[n - 1] == '*')
        return strncasecmp(have, want, n - 1) == 0;
    return strcasecmp(have, want) == 0;
}

/* Pages `all` (an array of entities, stolen) into a Genesys list answer. */
static void send_page(emu_req *r, const char *base, json_t *all)
{
    long size = arg_long(r, "pageSize", DEFAULT_PAGE_SIZE);
    long number = arg_long(r, "pageNumber", 1);
    if (size < 1)
        size = DEFAULT_PAGE_SIZE;
    if (size > EMU_MAX_PAGE)
        size = EMU_MAX_PAGE;
    if (number < 1)
        number = 1;
    long total = (long)json_array_size(all);
    long pages = (total + size - 1) / size;
    json_t *entities = json_array();
    for (long i = (number - 1) * size; i < total && i < number * size; i++)
        json_array_append(entities, json_array_get(all, (size_t)i));
    char uri[512];
    json_t *body = json_pack("{s:o,s:I,s:I,s:I,s:I}", "entities", entities, "pageSize",
                             (json_int_t)size, "pageNumber", (json_int_t)number, "total",
                             (json_int_t)total, "pageCount", (json_int_t)pages);
    snprintf(uri, sizeof uri, "/api/v2%s?pageSize=%ld&pageNumber=1", base, size);
    json_object_set_new(body, "firstUri", json_string(uri));
    snprintf(uri, sizeof uri, "/api/v2%s?pageSize=%ld&pageNumber=%ld", base, size, number);
    json_object_set_new(body, "selfUri", json_string(uri));
    snprintf(uri, sizeof uri, "/api/v2%s?pageSize=%ld&pageNumber=%ld", base, size, pages ? pages : 1);
    json_object_set_new(body, "lastUri", json_string(uri));
    if (number < pages) {
        snprintf(uri, sizeof uri, "/api/v2%s?pageSize=%ld&pageNumber=%ld", base, size, number + 1);
        json_object_set_new(body, "nextUri", json_string(uri));
    }
    if (number > 1) {
        snprintf(uri, sizeof uri, "/api/v2%s?pageSize=%ld&pageNumber=%ld", base, size, number - 1);
        json_object_set_new(body, "previousUri", json_string(uri));
    }
    json_decref(all);
    gcs_emu_send_json(r, 200, body);
}

/* ==== Roles, divisions, skills, languages ==== */

static json_t *entity(const json_t *item, const char *base)
{
    json_t *e = gcs_emu_json_copy(item);
    char uri[256];
    snprintf(uri, sizeof uri, "/api/v2%s/%s", base, json_string_value(json_object_get(e, "id")));
    if (strcmp(base, "/routing/skills") == 0 || strcmp(base, "/routing/languages") == 0)
        if (!json_object_get(e, "state"))
            json_object_set_new(e, "state", json_string("active"));
    if (strcmp(base, "/authorization/divisions") == 0 && !json_object_get(e, "homeDivision"))
        json_object_set_new(e, "homeDivision",
                            json_boolean(strcmp(json_string_value(json_object_get(e, "name")), "Home") == 0));
    json_object_set_new(e, "selfUri", json_string(uri));
    return e;
}

static void named_list(emu_req *r, const emu_list *l, const char *base, const char *tail)
{
    if (strcmp(r->http->method, "GET") != 0) {
        gcs_emu_genesys_error(r, 405, "method.not.allowed", "only GET is emulated here");
        return;
    }
    if (*tail == '/' && tail[1]) {
        const json_t *item = gcs_emu_map_get(&l->by_id, tail + 1);
        if (!item) {
            gcs_emu_genesys_error(r, 404, "not.found", "no such entity %.64s", tail + 1);
            return;
        }
        gcs_emu_send_json(r, 200, entity(item, base));
        return;
    }
    const char *want = gcs_http_request_arg(r->http, "name");
    json_t *all = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(l->items, i, item)
        if (name_matches(json_string_value(json_object_get(item, "name")), want))
            json_array_append_new(all, entity(item, base));
    send_page(r, base, all);
}

/* ==== Groups ==== */

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

static void create_group(emu_req *r)
{
    json_t *body = gcs_emu_parse_body(r, false);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *vis = json_string_value(json_object_get(body, "visibility"));
    const json_t *rv = json_object_get(body, "rulesVisible");
    if (!name || !*name) {
        gcs_emu_genesys_error(r, 400, "bad.request", "name is required");
    } else if (!type || (strcmp(type, "official") != 0 && strcmp(type, "social") != 0)) {
        gcs_emu_genesys_error(r, 400, "bad.request", "type must be official or social");
    } else if (vis && strcmp(vis, "public") != 0 && strcmp(vis, "owners") != 0 &&
               strcmp(vis, "members") != 0) {
        gcs_emu_genesys_error(r, 400, "bad.request", "visibility must be public, owners or members");
    } else if (rv && !json_is_boolean(rv)) {
        gcs_emu_genesys_error(r, 400, "bad.request", "rulesVisible must be true or false");
    } else if (json_object_get(body, "description") &&
               !json_is_string(json_object_get(body, "description"))) {
        gcs_emu_genesys_error(r, 400, "bad.request", "description must be a string");
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

static void delete_group(gcs_emu *emu, emu_group *g)
{
    emu_org *o = &emu->org;
    char key[512];
    gcs_emu_lower(key, sizeof key, json_string_value(json_object_get(g->platform, "name")));
    gcs_emu_map_remove(&o->group_by_name, key);
    gcs_emu_map_remove(&o->group_by_id, g->id);
    for (size_t i = 0; i < o->ngroups; i++)
        if (o->groups[i] == g) {
            memmove(&o->groups[i], &o->groups[i + 1], (o->ngroups - i - 1) * sizeof *o->groups);
            o->ngroups--;
            break;
        }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(g->doc, "members"), i, m) {
        emu_user *u = gcs_emu_user_find(emu, json_string_value(json_object_get(m, "value")));
        if (u)
            gcs_emu_user_groups_set(emu, u, g, false);
    }
    json_decref(g->doc);
    json_decref(g->platform);
    free(g);
}

static void groups(emu_req *r, const char *tail)
{
    const char *m = r->http->method;
    if (*tail == '\0' || strcmp(tail, "/") == 0) {
        r->route = "/api/v2/groups";
        if (strcmp(m, "POST") == 0) {
            create_group(r);
        } else if (strcmp(m, "GET") == 0) {
            const char *want = gcs_http_request_arg(r->http, "name");
            json_t *all = json_array();
            for (size_t i = 0; i < r->emu->org.ngroups; i++) {
                emu_group *g = r->emu->org.groups[i];
                if (name_matches(json_string_value(json_object_get(g->platform, "name")), want))
                    json_array_append_new(all, group_entity(g));
            }
            send_page(r, "/groups", all);
        } else {
            gcs_emu_genesys_error(r, 405, "method.not.allowed", "use GET or POST");
        }
        return;
    }
    r->route = "/api/v2/groups/{id}";
    emu_group *g = gcs_emu_group_find(r->emu, tail + 1);
    if (!g) {
        gcs_emu_genesys_error(r, 404, "not.found", "no such group %.64s", tail + 1);
    } else if (strcmp(m, "GET") == 0) {
        gcs_emu_send_json(r, 200, group_entity(g));
    } else if (strcmp(m, "DELETE") == 0) {
        delete_group(r->emu, g);
        gcs_http_response_set(r->resp, 204, NULL, NULL);
    } else {
        gcs_emu_genesys_error(r, 405, "method.not.allowed", "use GET or DELETE");
    }
}

static bool under(const char *path, const char *prefix, const char **tail)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return false;
    *tail = path + n;
    return true;
}

void gcs_emu_platform(emu_req *r, const char *rest)
{
    const char *tail;
    emu_org *o = &r->emu->org;
    if (under(rest, "/groups", &tail))
        groups(r, tail);
    else if (under(rest, "/authorization/roles", &tail))
        named_list(r, &o->roles, "/authorization/roles", tail);
    else if (under(rest, "/authorization/divisions", &tail))
        named_list(r, &o->divisions, "/authorization/divisions", tail);
    else if (under(rest, "/routing/skills", &tail))
        named_list(r, &o->skills, "/routing/skills", tail);
    else if (under(rest, "/routing/languages", &tail))
        named_list(r, &o->languages, "/routing/languages", tail);
    else
        gcs_emu_genesys_error(r, 404, "not.found", "no such resource: /api/v2%.200s", rest);
}
