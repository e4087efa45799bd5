/* The Platform API paths gcscim needs: the dispatch to groups (groups.c) and
 * role grants (subjects.c), and the lists of roles, divisions, skills and
 * languages, with Genesys paging ({entities, pageSize, pageNumber, total,
 * pageCount, …Uri}). */
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
bool gcs_emu_name_matches(const char *have, const char *want)
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

void gcs_emu_page_args(emu_req *r, emu_page *out)
{
    out->size = arg_long(r, "pageSize", DEFAULT_PAGE_SIZE);
    out->number = arg_long(r, "pageNumber", 1);
    if (out->size < 1)
        out->size = DEFAULT_PAGE_SIZE;
    if (out->size > EMU_MAX_PAGE)
        out->size = EMU_MAX_PAGE;
    if (out->number < 1)
        out->number = 1;
    /* No page past any organisation's end: keeps (number - 1) * size in range. */
    if (out->number > 10000000)
        out->number = 10000000;
}

void gcs_emu_page_send(emu_req *r, const char *base, const emu_page *p, long total, json_t *entities)
{
    long size = p->size, number = p->number;
    long pages = (total + size - 1) / size;
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
    gcs_emu_send_json(r, 200, body);
}

/* Pages `all` (an array of entities, stolen) into a Genesys list answer. */
static void send_page(emu_req *r, const char *base, json_t *all)
{
    emu_page p;
    gcs_emu_page_args(r, &p);
    long total = (long)json_array_size(all);
    json_t *entities = json_array();
    for (long i = (p.number - 1) * p.size; i < total && i < p.number * p.size; i++)
        json_array_append(entities, json_array_get(all, (size_t)i));
    json_decref(all);
    gcs_emu_page_send(r, base, &p, total, entities);
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

/* GET /authorization/roles/{id}/users: the users holding the role, as their
 * SCIM `roles` name it (what a GET of one user answers), active or not, in
 * creation order, paged like every Platform API list. */
static void role_users(emu_req *r, const json_t *role)
{
    const char *name = json_string_value(json_object_get(role, "name"));
    char base[128];
    snprintf(base, sizeof base, "/authorization/roles/%.64s/users",
             json_string_value(json_object_get(role, "id")));
    json_t *all = json_array();
    const emu_order *o = &r->emu->org.order;
    for (size_t i = 0; name && i < o->nslots; i++) {
        const emu_user *u = o->slots[i];
        size_t j;
        json_t *x;
        bool holds = false;
        json_array_foreach(u ? json_object_get(u->doc, "roles") : NULL, j, x) {
            const char *held = json_string_value(json_object_get(x, "value"));
            holds |= held && strcmp(held, name) == 0;
        }
        if (!holds)
            continue;
        char uri[128];
        snprintf(uri, sizeof uri, "/api/v2/users/%s", u->id);
        json_array_append_new(all, json_pack("{s:s,s:O?,s:O?,s:s,s:s}", "id", u->id, "name",
                                             json_object_get(u->doc, "displayName"), "username",
                                             json_object_get(u->doc, "userName"), "state",
                                             json_is_false(json_object_get(u->doc, "active"))
                                                 ? "inactive"
                                                 : "active",
                                             "selfUri", uri));
    }
    send_page(r, base, all);
}

static void named_list(emu_req *r, const emu_list *l, const char *base, const char *tail)
{
    if (strcmp(r->http->method, "GET") != 0) {
        gcs_emu_genesys_error(r, 405, "method.not.allowed", "only GET is emulated here");
        return;
    }
    const char *users = strcmp(base, "/authorization/roles") == 0 && *tail == '/'
                            ? strchr(tail + 1, '/')
                            : NULL;
    if (users && strcmp(users, "/users") == 0) {
        char id[64];
        int n = (int)(users - tail - 1 < 63 ? users - tail - 1 : 63);
        snprintf(id, sizeof id, "%.*s", n, tail + 1);
        const json_t *role = gcs_emu_map_get(&l->by_id, id);
        if (!role)
            gcs_emu_genesys_error(r, 404, "not.found", "no such role %.64s", id);
        else
            role_users(r, role);
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
        if (gcs_emu_name_matches(json_string_value(json_object_get(item, "name")), want))
            json_array_append_new(all, entity(item, base));
    send_page(r, base, all);
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
        gcs_emu_groups(r, tail);
    else if (under(rest, "/authorization/subjects", &tail))
        gcs_emu_subjects(r, tail);
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
