#include "genesys/directory.h"
#include "genesys/user_page.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/scim.h"
#include "http/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ORG_PAGE 500

/* ==== Helpers ==== */

static bool asks_costly(const char *attributes)
{
    static const char *const costly[] = {"externalId", "roles", "manager", "routingSkills",
                                         "routingLanguages"};
    if (!attributes)
        return true;
    for (size_t i = 0; i < sizeof costly / sizeof *costly; i++) {
        const char *p = attributes;
        size_t n = strlen(costly[i]);
        while ((p = strstr(p, costly[i])) != NULL) {
            bool start = p == attributes || p[-1] == ',' || p[-1] == ':';
            bool end = p[n] == '\0' || p[n] == ',';
            if (start && end)
                return true;
            p += n;
        }
    }
    return false;
}

char *gcs_directory_user_etag(const json_t *user)
{
    const char *v = json_string_value(json_object_get(json_object_get(user, "meta"), "version"));
    if (!v)
        return NULL;
    size_t n = strlen(v) + 3;
    char *etag = malloc(n);
    if (etag)
        snprintf(etag, n, "\"%s\"", v);
    return etag;
}

/* ==== Listing users ==== */

/* Pages are read as they stream (genesys/user_page.h): no JSON tree of a page
 * is built; the engine hands over the raw body (GCS_HTTP_REQ_NO_JSON). */

typedef struct listing {
    gcs_user_read_fn fn;
    void *payload;
    const char *attributes;
    bool inactive;
    int rc;
    long requests;
} listing;

typedef struct page_request {
    listing *l;
    long start, count;
} page_request;

static int page_path(gcs_buf *b, const char *attributes, bool inactive, long start, long count)
{
    gcs_buf_clear(b);
    int rc = gcs_buf_printf(b, GCS_SCIM_USERS "?startIndex=%ld&count=%ld", start, count);
    if (rc == 0 && inactive)
        rc = gcs_buf_puts(b, "&filter=active%20eq%20false");
    if (rc == 0 && attributes) {
        char *e = gcs_http_escape(attributes);
        rc = e ? gcs_buf_printf(b, "&attributes=%s", e) : gcs_error_set(GCS_ENOMEM, "out of memory");
        free(e);
    }
    return rc;
}

/* Reads one page's answer; a fault names the request. */
static int read_page(gcs_user_page_info *info, const page_request *pg,
                     const gcs_http_client_response *res)
{
    const listing *l = pg->l;
    if (res->error)
        return gcs_error_set(res->error, "cannot list users: %s", res->message);
    int rc = gcs_user_page_read(info, res->body.ptr, res->body.len, l->fn, l->payload);
    if (rc == GCS_EINVALID) {
        gcs_buf path;
        gcs_buf_init(&path, 8192);
        if (page_path(&path, l->attributes, l->inactive, pg->start, pg->count) == 0)
            rc = gcs_error_prefix(rc, "cannot list users: GET %s", path.ptr);
        gcs_buf_release(&path);
    }
    return rc;
}

static void on_page(const gcs_http_client_response *res, void *payload)
{
    page_request *pg = payload;
    if (pg->l->rc == 0)
        pg->l->rc = read_page(NULL, pg, res);
}

long gcs_directory_page_step(long asked, const gcs_user_page_info *first)
{
    /* A server that caps pages below what was asked says so in itemsPerPage:
     * stepping by the size asked would skip the users in between, stepping by
     * the users a page happened to hold (fewer, when some could not be shown)
     * would read some twice. */
    if (first->items_per_page > 0)
        return first->items_per_page < asked ? first->items_per_page : asked;
    long total = first->total_results > 0 ? first->total_results : 0;
    if (first->users > 0 && first->users < asked && first->users < total)
        return first->users;
    return asked;
}

static int list_one_population(gcs_http_client *c, listing *l)
{
    long step = asks_costly(l->attributes) ? GCS_DIRECTORY_PAGE_COSTLY : GCS_DIRECTORY_PAGE_CHEAP;
    gcs_buf path;
    gcs_buf_init(&path, 8192);
    gcs_http_client_response res;
    page_request first = {l, 1, step};
    page_request *pages = NULL;
    gcs_user_page_info info;
    int rc;

    /* The first page tells the total; the rest go out together. */
    if ((rc = page_path(&path, l->attributes, l->inactive, 1, step)) < 0)
        goto out;
    gcs_http_client_request req = {.method = "GET", .path = path.ptr, .flags = GCS_HTTP_REQ_NO_JSON};
    rc = gcs_http_call(&res, c, &req);
    l->requests++;
    if (rc == 0)
        rc = read_page(&info, &first, &res); /* else the engine's message stands */
    gcs_http_client_response_release(&res);
    if (rc < 0)
        goto out;
    long total = info.total_results > 0 ? info.total_results : 0;
    step = gcs_directory_page_step(step, &info);
    long more = total > step ? (total - 1) / step : 0;
    if (more > 0 && !(pages = calloc((size_t)more, sizeof *pages))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (long i = 0; i < more; i++) {
        pages[i] = (page_request){l, 1 + (i + 1) * step, step};
        if ((rc = page_path(&path, l->attributes, l->inactive, pages[i].start, step)) < 0)
            break;
        gcs_http_client_request next = {.method = "GET", .path = path.ptr,
                                        .flags = GCS_HTTP_REQ_NO_JSON};
        if ((rc = gcs_http_submit(c, &next, on_page, &pages[i])) < 0)
            break;
        l->requests++;
    }
    /* Every page submitted is answered (on_page) before its context goes. A
     * stop (a 403, an outage) is the run's own report: it wins over a page's. */
    int run_rc = gcs_http_run(c);
    if (rc == 0)
        rc = run_rc < 0 ? run_rc : l->rc;
out:
    free(pages);
    gcs_buf_release(&path);
    return rc;
}

int gcs_directory_list_users(gcs_http_client *c, const char *attributes, bool inactive,
                             gcs_user_read_fn fn, void *payload, long *requests_out)
{
    listing l = {fn, payload, attributes, false, 0, 0};
    int rc = list_one_population(c, &l);
    if (rc == 0 && inactive) {
        l.inactive = true;
        rc = list_one_population(c, &l);
    }
    if (requests_out)
        *requests_out += l.requests;
    return rc;
}

/* ==== Single users ==== */

static char *quoted(const char *value)
{
    /* A SCIM filter string literal: backslash and quote escaped. */
    gcs_buf b;
    gcs_buf_init(&b, 4096);
    int rc = gcs_buf_putc(&b, '"');
    for (const char *p = value; *p && rc == 0; p++) {
        if (*p == '"' || *p == '\\')
            rc = gcs_buf_putc(&b, '\\');
        if (rc == 0)
            rc = gcs_buf_putc(&b, *p);
    }
    if (rc == 0)
        rc = gcs_buf_putc(&b, '"');
    if (rc < 0) {
        gcs_buf_release(&b);
        return NULL;
    }
    return gcs_buf_detach(&b);
}

char *gcs_directory_filter_for(const char *key, const char *value)
{
    char *q = quoted(value);
    if (!q)
        return NULL; /* too long for a filter, or out of memory: the error says */
    gcs_buf b;
    gcs_buf_init(&b, 8192);
    int rc = 0;
    if (strcmp(key, "externalId") == 0 || strcmp(key, "userName") == 0 ||
        strcmp(key, "employeeNumber") == 0)
        rc = gcs_buf_printf(&b, "%s eq %s", key, q);
    else if (strcmp(key, "email") == 0)
        rc = gcs_buf_printf(&b, "email eq %s", q);
    else if (strncmp(key, "externalIds.", 12) == 0) {
        char *a = quoted(key + 12);
        rc = a ? gcs_buf_printf(&b,
                                GCS_SCIM_GENESYS_USER ":"
                                "externalIds[authority eq %s and value eq %s]",
                                a, q)
               : GCS_ENOMEM; /* a short key: only the allocation can fail */
        free(a);
    }
    free(q);
    if (rc == 0 && b.len == 0)
        rc = gcs_error_set(GCS_EINVALID, "no filter for matching key '%s'", key);
    if (rc < 0 || b.len == 0) {
        gcs_buf_release(&b);
        return NULL;
    }
    return gcs_buf_detach(&b);
}

char *gcs_directory_find_path(const char *filter)
{
    /* count=2: one more than we can use, so that an ambiguous match is seen. */
    char *e = gcs_http_escape(filter);
    if (!e)
        return NULL;
    gcs_buf path;
    gcs_buf_init(&path, 8192);
    char *out = NULL;
    if (gcs_buf_printf(&path, GCS_SCIM_USERS "?filter=%s&count=2", e) == 0)
        out = strdup(path.ptr);
    free(e);
    gcs_buf_release(&path);
    return out;
}

int gcs_directory_found_user(json_t **out, const json_t *answer, const char *filter)
{
    *out = NULL;
    json_t *resources = json_object_get(answer, "Resources");
    if (json_array_size(resources) > 1)
        return gcs_error_set(GCS_EINVALID, "more than one user matches %s", filter);
    *out = json_array_get(resources, 0);
    return 0;
}

int gcs_directory_find_user(json_t **out, gcs_http_client *c, const char *filter)
{
    *out = NULL;
    char *path = gcs_directory_find_path(filter);
    GCS_CHECK_ALLOC(path);
    gcs_http_client_request req = {.method = "GET", .path = path};
    gcs_http_client_response res;
    int rc = gcs_http_call(&res, c, &req);
    if (rc == 0) {
        json_t *found;
        if ((rc = gcs_directory_found_user(&found, res.json, filter)) == 0)
            *out = json_incref(found);
    } else {
        gcs_error_set(rc, "cannot look up user (%s): %s", filter, res.message);
    }
    gcs_http_client_response_release(&res);
    free(path);
    return rc;
}

int gcs_directory_get_user(json_t **out, char **etag_out, gcs_http_client *c, const char *id)
{
    *out = NULL;
    char path[512];
    snprintf(path, sizeof path, GCS_SCIM_USERS "/%s", id);
    gcs_http_client_request req = {.method = "GET", .path = path};
    gcs_http_client_response res;
    int rc = gcs_http_call(&res, c, &req);
    if (rc == 0 && json_is_object(res.json)) {
        *out = json_incref(res.json);
        if (etag_out)
            *etag_out = res.etag ? strdup(res.etag) : gcs_directory_user_etag(res.json);
    } else if (rc == 0) {
        rc = gcs_error_set(GCS_ERROR, "user %s: answer is not a JSON object", id);
    } else {
        gcs_error_set(rc, "cannot read user %s: %s", id, res.message);
    }
    gcs_http_client_response_release(&res);
    return rc;
}

/* ==== Organisation names ==== */

static const char *const org_paths[GCS_ORG__COUNT] = {
    [GCS_ORG_ROLE] = "/api/v2/authorization/roles",
    [GCS_ORG_DIVISION] = "/api/v2/authorization/divisions",
    [GCS_ORG_SKILL] = "/api/v2/routing/skills",
    [GCS_ORG_LANGUAGE] = "/api/v2/routing/languages",
};

int gcs_directory_fetch_org_names(gcs_org_names *names, gcs_http_client *c,
                                  const bool want[GCS_ORG__COUNT], long *requests_out)
{
    int rc = 0;
    for (int k = 0; k < GCS_ORG__COUNT && rc == 0; k++) {
        if (!want[k])
            continue;
        long page = 1, pages = 1;
        do {
            char path[256];
            snprintf(path, sizeof path, "%s?pageSize=%d&pageNumber=%ld", org_paths[k], ORG_PAGE,
                     page);
            gcs_http_client_request req = {.method = "GET", .path = path};
            gcs_http_client_response res;
            rc = gcs_http_call(&res, c, &req);
            if (requests_out)
                (*requests_out)++;
            if (rc == 0) {
                size_t i;
                json_t *e;
                json_array_foreach(json_object_get(res.json, "entities"), i, e) {
                    const char *name = json_string_value(json_object_get(e, "name"));
                    if (name && (rc = gcs_org_names_add(names, (gcs_org_kind)k, name)) < 0)
                        break;
                }
                pages = (long)json_integer_value(json_object_get(res.json, "pageCount"));
            } else {
                gcs_error_set(rc, "cannot list %s: %s", org_paths[k], res.message);
            }
            gcs_http_client_response_release(&res);
            page++;
        } while (rc == 0 && page <= pages);
    }
    return rc;
}

/* ==== Holders of roles ==== */

typedef int (*entity_fn)(const json_t *entity, void *payload);

/* Every entity of a paged Platform API list at `path` (no query yet). */
static int each_entity(gcs_http_client *c, const char *path, unsigned flags, entity_fn fn,
                       void *payload, long *requests_out)
{
    int rc = 0;
    long page = 1, pages = 1;
    do {
        char url[512];
        snprintf(url, sizeof url, "%s?pageSize=%d&pageNumber=%ld", path, ORG_PAGE, page);
        gcs_http_client_request req = {.method = "GET", .path = url, .flags = flags};
        gcs_http_client_response res;
        rc = gcs_http_call(&res, c, &req);
        if (requests_out)
            (*requests_out)++;
        if (rc == 0) {
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(res.json, "entities"), i, e) {
                if ((rc = fn(e, payload)) < 0)
                    break;
            }
            pages = (long)json_integer_value(json_object_get(res.json, "pageCount"));
        } else {
            gcs_error_set(rc, "cannot list %s: %s", path, res.message);
        }
        gcs_http_client_response_release(&res);
        page++;
    } while (rc == 0 && page <= pages);
    return rc;
}

typedef struct role_search {
    const char *const *names;
    size_t count;
    json_t *found;   /* [{id, name}] */
} role_search;

static int note_role(const json_t *role, void *payload)
{
    role_search *s = payload;
    const char *name = json_string_value(json_object_get(role, "name"));
    const char *id = json_string_value(json_object_get(role, "id"));
    for (size_t i = 0; name && id && i < s->count; i++) {
        if (strcasecmp(name, s->names[i]) == 0)
            return json_array_append_new(s->found,
                                         json_pack("{s:s,s:s}", "id", id, "name", name)) < 0
                       ? gcs_error_set(GCS_ENOMEM, "out of memory")
                       : 0;
    }
    return 0;
}

typedef struct holders {
    json_t *out;
    const char *role;
} holders;

static int note_holder(const json_t *user, void *payload)
{
    holders *h = payload;
    const char *id = json_string_value(json_object_get(user, "id"));
    if (!id)
        return 0;
    json_t *held = json_object_get(h->out, id);
    if (!held && json_object_set_new(h->out, id, held = json_array()) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return json_array_append_new(held, json_string(h->role)) < 0
               ? gcs_error_set(GCS_ENOMEM, "out of memory")
               : 0;
}

int gcs_directory_role_holders(json_t **out, gcs_http_client *c, const char *const *names,
                               size_t count, long *requests_out)
{
    role_search s = {names, count, json_array()};
    *out = json_object();
    int rc = s.found && *out ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
    if (rc == 0 && count > 0)
        rc = each_entity(c, org_paths[GCS_ORG_ROLE], GCS_HTTP_REQ_MAY_FORBID, note_role, &s,
                         requests_out);
    size_t i;
    json_t *role;
    json_array_foreach(s.found, i, role) {
        if (rc < 0)
            break;
        char path[256];
        const char *id = json_string_value(json_object_get(role, "id"));
        char *e = gcs_http_escape(id);
        if (!e) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            break;
        }
        snprintf(path, sizeof path, "%s/%.100s/users", org_paths[GCS_ORG_ROLE], e);
        free(e);
        holders h = {*out, json_string_value(json_object_get(role, "name"))};
        rc = each_entity(c, path, GCS_HTTP_REQ_MAY_FORBID, note_holder, &h, requests_out);
    }
    json_decref(s.found);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
