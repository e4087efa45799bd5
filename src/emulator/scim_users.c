/* SCIM users: /api/v2/scim[/v2]/users and /users/{id}. */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_COUNT 25

/* "\"%ld\"" of the version. */
static void etag_of(char out[32], long version)
{
    char *p = out;
    *p++ = '"';
    p = gcs_emu_put_dec(p, version, 1);
    *p++ = '"';
    *p = '\0';
}

/* Answers with the user. A GET keeps the serialisation for the next one
 * (cached); the answer to a write is written straight into the body and not
 * kept: a load of a million creates would otherwise hold a million texts. */
static void send_user(emu_req *r, int status, emu_user *u, bool with_body)
{
    char etag[32];
    const char *attrs = gcs_http_request_arg(r->http, "attributes");
    const char *excl = gcs_http_request_arg(r->http, "excludedAttributes");
    etag_of(etag, u->version);
    if (!with_body) {
        gcs_http_response_set(r->resp, status, NULL, NULL);
    } else if ((attrs && *attrs) || (excl && *excl)) {
        gcs_emu_send_json(r, status, gcs_emu_project(u->doc, attrs, excl));
    } else if (u->cached || strcmp(r->http->method, "GET") == 0) {
        gcs_emu_send_raw(r, status, gcs_emu_user_text(u));
    } else {
        gcs_emu_send_raw(r, status, NULL);
        if (gcs_emu_json_dump(&r->resp->body, u->doc) < 0) {
            gcs_buf_clear(&r->resp->body);
            if (gcs_buf_puts(&r->resp->body, "{}") < 0)
                r->resp->status = 500;
        }
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

/* --concurrent-writer: someone else changes the user right after this read
 * (its version and lastModified move, nothing else), with probability P for
 * every user a read returns: a GET of the user, or each user of a list page,
 * one draw per user in page order, after the page is written. */
static void maybe_hidden_write(gcs_emu *emu, emu_user *u)
{
    double p = emu->config.concurrent_writer;
    double draw = gcs_emu_rand_unit(&emu->rng_writer);
    if (p <= 0 || draw >= p)
        return;
    emu->stats.hidden_writes++;
    gcs_emu_user_replace(emu, u, gcs_emu_json_copy(u->doc));
}

/* The filters a list answers from the ordered index (order.c) in O(page):
 * none (active users), `active eq true` and `active eq false`. 1 or 0 for the
 * state; -1 when the filter is something else. */
static int state_filter(const scim_filter *f)
{
    bool active;
    if (!f)
        return 1;
    return gcs_scim_filter_active_eq(f, &active) ? (int)active : -1;
}

static int by_slot(const void *a, const void *b)
{
    const emu_user *x = *(emu_user *const *)a, *y = *(emu_user *const *)b;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* The users an index gives for the filter (userName, id, externalId,
 * externalIds pair), checked against the whole filter, in creation order.
 * False when no index applies. */
static bool indexed_hits(gcs_emu *emu, const scim_filter *f, emu_user ***out, size_t *n)
{
    const char *eq, *auth;
    emu_user *one = NULL;
    emu_user *const *many = NULL;
    size_t count = 0;
    *out = NULL;
    *n = 0;
    if (!f)
        return false;
    if ((eq = gcs_scim_filter_eq_value(f, "userName"))) {
        one = gcs_emu_user_find_name(emu, eq);
    } else if ((eq = gcs_scim_filter_eq_value(f, "id"))) {
        one = gcs_emu_user_find(emu, eq);
    } else if ((eq = gcs_scim_filter_eq_value(f, "externalId"))) {
        many = gcs_emu_user_find_ext(emu, NULL, eq, &count);
    } else if (gcs_scim_filter_extid_pair(f, &auth, &eq)) {
        many = gcs_emu_user_find_ext(emu, auth, eq, &count);
    } else {
        return false;
    }
    if (one) {
        many = &one;
        count = 1;
    }
    emu_user **hits = count ? malloc(count * sizeof *hits) : NULL;
    for (size_t i = 0; hits && i < count; i++)
        if (gcs_scim_filter_match(f, many[i]->doc))
            hits[(*n)++] = many[i];
    if (*n > 1)
        qsort(hits, *n, sizeof *hits, by_slot);
    *out = hits;
    return true;
}

/* Appends one user of a list page: its cached serialisation when there is
 * one (without caching it: a sync that pages through a million users would
 * leave a million cached texts behind), or the projection. */
static int put_user(gcs_buf *b, emu_user *u, const emu_projection *proj)
{
    if (gcs_emu_projection_is_whole(proj))
        return u->cached ? gcs_buf_puts(b, u->cached) : gcs_emu_json_dump(b, u->doc);
    return gcs_emu_projection_dump(b, proj, u->doc);
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
    /* a server whose cap is below what was asked serves fewer, and says so in itemsPerPage */
    if (r->emu->config.max_page > 0 && count > r->emu->config.max_page)
        count = r->emu->config.max_page;
    scim_filter *f = NULL;
    if (ftext && *ftext) {
        char err[256];
        if (!(f = gcs_scim_filter_parse(ftext, err, sizeof err))) {
            gcs_emu_scim_error(r, 400, "invalidFilter", "bad filter: %s", err);
            return;
        }
    }
    emu_user *page[EMU_MAX_PAGE];
    size_t npage = 0;
    long total = 0;
    emu_user **hits = NULL;
    size_t nhits = 0;
    int state = state_filter(f);
    if (state >= 0) {
        /* O(page): ranks in the ordered index. */
        const emu_order *o = &emu->org.order;
        total = (long)o->count[state];
        for (long i = start - 1; i < total && npage < (size_t)count; i++)
            page[npage++] = gcs_emu_order_nth(o, state, (size_t)i);
        emu->stats.users_examined += (long)npage;
    } else if (indexed_hits(emu, f, &hits, &nhits)) {
        total = (long)nhits;
        emu->stats.users_examined += (long)nhits;
        for (long i = start - 1; i < total && npage < (size_t)count; i++)
            page[npage++] = hits[i];
    } else {
        /* Any other filter scans: O(organisation). */
        const emu_order *o = &emu->org.order;
        for (size_t i = 0; i < o->nslots; i++) {
            emu_user *u = o->slots[i];
            if (!u)
                continue;
            emu->stats.users_examined++;
            if (!gcs_scim_filter_match(f, u->doc))
                continue;
            total++;
            if (total >= start && npage < (size_t)count)
                page[npage++] = u;
        }
    }
    free(hits);
    gcs_scim_filter_free(f);

    /* Written straight into the answer, user by user: no JSON tree of the
     * page, no second copy. */
    gcs_http_response_set(r->resp, 200, "application/scim+json; charset=utf-8", NULL);
    gcs_buf *b = &r->resp->body;
    int rc = gcs_buf_printf(b, "{\"schemas\":[\"%s\"],\"totalResults\":%ld,\"startIndex\":%ld,"
                               "\"itemsPerPage\":%zu,\"Resources\":[",
                            SCIM_LIST_SCHEMA, total, start, npage);
    emu_projection *proj = projected ? gcs_emu_projection_new(attrs, excl) : NULL;
    if (projected && !proj)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < npage; i++) {
        if (i)
            rc = gcs_buf_putc(b, ',');
        if (rc == 0)
            rc = put_user(b, page[i], proj);
    }
    gcs_emu_projection_free(proj);
    if (rc == 0)
        rc = gcs_buf_puts(b, "]}");
    if (rc < 0) {
        /* Over the answer's 64 MiB (500 users of ~130 KiB each): start afresh. */
        gcs_http_response_release(r->resp);
        gcs_http_response_init(r->resp);
        gcs_emu_scim_error(r, 500, NULL, "the page is too large: ask for fewer users");
        return;
    }
    /* What a sync reads is pages: the hidden writer acts on them too. */
    for (size_t i = 0; i < npage; i++)
        maybe_hidden_write(emu, page[i]);
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
        etag_of(etag, u->version);
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
