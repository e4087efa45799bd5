/* The organisation: roles, divisions, skills, languages, users and groups,
 * loaded from a seed, indexed, changed by the routes and dumped for
 * /_emulator/state. The caller holds emu->lock. */
#include "emulator/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* ==== Named lists (roles, divisions, skills, languages) ==== */

static void list_release(emu_list *l)
{
    json_decref(l->items);
    l->items = NULL;
    gcs_emu_map_release(&l->by_name);
    gcs_emu_map_release(&l->by_id);
}

static int list_load(gcs_emu *emu, emu_list *l, const json_t *seed, const char *kind)
{
    int rc = 0;
    size_t i;
    const json_t *v;
    l->items = json_array();
    gcs_emu_map_init(&l->by_name);
    gcs_emu_map_init(&l->by_id);
    json_array_foreach(seed, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (!name) {
            rc = gcs_error_set(GCS_EINVALID, "seed: %s[%zu] has no name", kind, i);
            goto out;
        }
        json_t *item = gcs_emu_json_copy(v);
        if (!json_is_string(json_object_get(item, "id"))) {
            char id[40];
            gcs_emu_uuid(id, &emu->rng_ids);
            json_object_set_new(item, "id", json_string(id));
        }
        json_array_append_new(l->items, item);
        gcs_emu_map_put(&l->by_name, name, item);
        gcs_emu_map_put(&l->by_id, json_string_value(json_object_get(item, "id")), item);
    }
out:
    return rc;
}

/* ==== Users ==== */

void gcs_emu_user_location(gcs_emu *emu, char *out, size_t outsz, const char *kind,
                           const char *id)
{
    size_t len = 0;
    if (outsz)
        *out = '\0';
    gcs_emu_cat(out, outsz, &len, emu->base_url);
    gcs_emu_cat(out, outsz, &len, "/api/v2/scim/v2/");
    gcs_emu_cat(out, outsz, &len, kind);
    gcs_emu_cat(out, outsz, &len, "/");
    gcs_emu_cat(out, outsz, &len, id);
}

static void user_index_name(gcs_emu *emu, emu_user *u, bool add)
{
    char key[512];
    gcs_emu_lower(key, sizeof key, json_string_value(json_object_get(u->doc, "userName")));
    if (add)
        gcs_emu_map_put(&emu->org.user_by_name, key, u);
    else if (gcs_emu_map_get(&emu->org.user_by_name, key) == u)
        gcs_emu_map_remove(&emu->org.user_by_name, key);
}

/* ==== The external key index ==== */

static void ext_key(char *out, size_t outsz, const char *authority, const char *value)
{
    char a[256], v[256];
    gcs_emu_lower(v, sizeof v, value);
    if (authority)
        gcs_emu_lower(a, sizeof a, authority);
    /* "x:AUTHORITY\x1fVALUE" or "e:VALUE", lowercased */
    size_t len = 0;
    *out = '\0';
    gcs_emu_cat(out, outsz, &len, authority ? "x:" : "e:");
    if (authority) {
        gcs_emu_cat(out, outsz, &len, a);
        gcs_emu_cat(out, outsz, &len, "\x1f");
    }
    gcs_emu_cat(out, outsz, &len, v);
}

static void ext_bump(emu_map *m, const char *key, emu_user *u, int delta)
{
    emu_ext *x = gcs_emu_map_get(m, key);
    if (delta > 0) {
        if (!x) {
            if (!(x = calloc(1, sizeof *x)))
                return;
            if (gcs_emu_map_put(m, key, x) < 0) {
                free(x);
                return;
            }
        }
        if (x->count == x->cap) {
            size_t cap = x->cap ? x->cap * 2 : 1;
            emu_user **p = realloc(x->users, cap * sizeof *p);
            if (!p)
                return;
            x->users = p;
            x->cap = cap;
        }
        x->users[x->count++] = u;
    } else if (x) {
        for (size_t i = 0; i < x->count; i++)
            if (x->users[i] == u) {
                x->users[i] = x->users[--x->count];
                break;
            }
        if (x->count == 0) {
            gcs_emu_map_remove(m, key);
            free(x->users);
            free(x);
        }
    }
}

/* Adds (+1) or removes (-1) the external keys of `doc` for user u. */
static void ext_index(gcs_emu *emu, emu_user *u, const json_t *doc, int delta)
{
    char key[600];
    const char *e = json_string_value(json_object_get(doc, "externalId"));
    if (e) {
        ext_key(key, sizeof key, NULL, e);
        ext_bump(&emu->org.user_by_ext, key, u, delta);
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(json_object_get(doc, SCIM_GENESYS), "externalIds"), i, x) {
        const char *a = json_string_value(json_object_get(x, "authority"));
        const char *v = json_string_value(json_object_get(x, "value"));
        if (a && v) {
            ext_key(key, sizeof key, a, v);
            ext_bump(&emu->org.user_by_ext, key, u, delta);
        }
    }
}

static bool same_ext(const json_t *a, const json_t *b)
{
    const json_t *ea = json_object_get(a, "externalId"), *eb = json_object_get(b, "externalId");
    const json_t *xa = json_object_get(json_object_get(a, SCIM_GENESYS), "externalIds");
    const json_t *xb = json_object_get(json_object_get(b, SCIM_GENESYS), "externalIds");
    return ((!ea && !eb) || (ea && eb && json_equal(ea, eb))) &&
           ((!xa && !xb) || (xa && xb && json_equal(xa, xb)));
}

emu_user *const *gcs_emu_user_find_ext(gcs_emu *emu, const char *authority, const char *value, size_t *n)
{
    char key[600];
    ext_key(key, sizeof key, authority, value);
    emu_ext *x = gcs_emu_map_get(&emu->org.user_by_ext, key);
    *n = x ? x->count : 0;
    return x ? x->users : NULL;
}

static void set_meta(gcs_emu *emu, json_t *doc, const char *kind, const char *id, long version,
                     const char *created)
{
    char now[32], loc[256], ver[24];
    gcs_emu_now_iso(now);
    gcs_emu_user_location(emu, loc, sizeof loc, strcmp(kind, "User") == 0 ? "users" : "groups", id);
    *gcs_emu_put_dec(ver, version, 1) = '\0';
    /* Built by hand, not with json_pack: this runs on every write. The texts
     * are ASCII made here (or the seed's, which jansson checked when it read
     * them): no UTF-8 check. A new resource's created and lastModified are
     * one string (never changed in place). */
    json_t *meta = json_object();
    json_t *stamp = json_string_nocheck(now);
    json_object_set_new_nocheck(meta, "resourceType", json_string_nocheck(kind));
    json_object_set_new_nocheck(meta, "created", created ? json_string_nocheck(created) : json_incref(stamp));
    json_object_set_new_nocheck(meta, "lastModified", stamp);
    json_object_set_new_nocheck(meta, "location", json_string_nocheck(loc));
    json_object_set_new_nocheck(meta, "version", json_string_nocheck(ver));
    json_object_set_new_nocheck(doc, "meta", meta);
}

/* A user doc with schemas and id first, as the real service writes it (doc
 * stolen); `schemas` is the organisation's shared array, meta is dropped. */
static json_t *ordered(gcs_emu *emu, json_t *doc, const char *id)
{
    json_t *out = json_object();
    json_object_set_nocheck(out, "schemas", emu->user_schemas);
    json_object_set_new_nocheck(out, "id", json_string_nocheck(id));
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
        if (strcmp(key, "schemas") != 0 && strcmp(key, "id") != 0 && strcmp(key, "meta") != 0)
            json_object_set_nocheck(out, key, v);
    json_decref(doc);
    return out;
}

/* --generated-fields: what the real service adds to every user and no client
 * can change: an email of type `other` that mirrors userName, and an
 * externalIds entry of authority x-pc:scimv2:v1 (its value here is the user's
 * id; the real value is unconfirmed). Whatever a client wrote in their place
 * is replaced. */
static void derive_readonly(json_t *doc, const char *id)
{
    json_t *un = json_object_get(doc, "userName");
    json_t *emails = json_object_get(doc, "emails");
    if (!json_is_array(emails)) {
        emails = json_array();
        json_object_set_new(doc, "emails", emails);
    }
    for (size_t i = json_array_size(emails); i-- > 0;) {
        const char *t = json_string_value(json_object_get(json_array_get(emails, i), "type"));
        if (t && strcasecmp(t, "other") == 0)
            json_array_remove(emails, i);
    }
    if (json_is_string(un))
        json_array_append_new(emails, json_pack("{s:O,s:s,s:b}", "value", un, "type", "other",
                                                "primary", 0));
    json_t *gen = json_object_get(doc, SCIM_GENESYS);
    if (!json_is_object(gen)) {
        gen = json_object();
        json_object_set_new(doc, SCIM_GENESYS, gen);
    }
    json_t *ids = json_object_get(gen, "externalIds");
    if (!json_is_array(ids)) {
        ids = json_array();
        json_object_set_new(gen, "externalIds", ids);
    }
    for (size_t i = json_array_size(ids); i-- > 0;) {
        const char *a = json_string_value(json_object_get(json_array_get(ids, i), "authority"));
        if (a && strncasecmp(a, EMU_PC_AUTHORITY, strlen(EMU_PC_AUTHORITY)) == 0)
            json_array_remove(ids, i);
    }
    json_array_insert_new(ids, 0, json_pack("{s:s,s:s}", "authority", EMU_PC_AUTHORITY, "value", id));
}

/* Puts a user whose id, doc (in its final form) and version are set into the
 * order and the indexes; frees it and returns NULL when that fails. */
static emu_user *user_insert(gcs_emu *emu, emu_user *u)
{
    emu_org *o = &emu->org;
    if (gcs_emu_order_append(&o->order, u, json_is_true(json_object_get(u->doc, "active"))) < 0) {
        json_decref(u->doc);
        free(u);
        return NULL;
    }
    o->nusers++;
    u->born = ++emu->user_births;
    gcs_emu_map_put(&o->user_by_id, u->id, u);
    user_index_name(emu, u, true);
    ext_index(emu, u, u->doc, +1);
    return u;
}

emu_user *gcs_emu_user_add(gcs_emu *emu, json_t *doc)
{
    emu_org *o = &emu->org;
    emu_user *u = calloc(1, sizeof *u);
    if (!u) {
        json_decref(doc);
        return NULL;
    }
    const char *given = json_string_value(json_object_get(doc, "id"));
    if (given && strlen(given) < sizeof u->id && !gcs_emu_map_get(&o->user_by_id, given))
        snprintf(u->id, sizeof u->id, "%s", given);
    else
        gcs_emu_uuid(u->id, &emu->rng_ids);
    doc = ordered(emu, doc, u->id);
    if (emu->generated_fields)
        derive_readonly(doc, u->id);
    u->doc = doc;
    u->version = 1;
    if (!json_is_boolean(json_object_get(doc, "active")))
        json_object_set_new(doc, "active", json_true());
    json_object_set_new(doc, "groups", json_array());
    set_meta(emu, doc, "User", u->id, u->version, NULL);
    return user_insert(emu, u);
}

/* True when doc already starts with schemas and this id (a copy of the stored
 * doc, as PATCH makes): no need to rebuild it. */
static bool in_order(const json_t *doc, const char *id)
{
    void *it = json_object_iter((json_t *)doc);
    if (!it || strcmp(json_object_iter_key(it), "schemas") != 0)
        return false;
    it = json_object_iter_next((json_t *)doc, it);
    return it && strcmp(json_object_iter_key(it), "id") == 0 &&
           json_is_string(json_object_iter_value(it)) &&
           strcmp(json_string_value(json_object_iter_value(it)), id) == 0;
}

void gcs_emu_user_replace(gcs_emu *emu, emu_user *u, json_t *doc)
{
    gcs_emu_dump_before_change(emu, u);
    if (emu->generated_fields)
        derive_readonly(doc, u->id);
    json_t *old_meta = json_incref(json_object_get(u->doc, "meta"));
    const char *was = json_string_value(json_object_get(u->doc, "userName"));
    const char *will = json_string_value(json_object_get(doc, "userName"));
    bool renamed = !was || !will || strcmp(was, will) != 0;
    if (renamed)
        user_index_name(emu, u, false);
    bool reindex = !same_ext(u->doc, doc);
    if (reindex)
        ext_index(emu, u, u->doc, -1);
    if (!in_order(doc, u->id))
        doc = ordered(emu, doc, u->id);
    json_object_set(doc, "groups", json_object_get(u->doc, "groups"));
    if (!json_is_boolean(json_object_get(doc, "active")))
        json_object_set_new(doc, "active", json_true());
    u->version++;
    /* meta keeps created and location; the rest is new. */
    char now[32], ver[24];
    gcs_emu_now_iso(now);
    *gcs_emu_put_dec(ver, u->version, 1) = '\0';
    json_t *meta = json_object();
    json_object_set_new_nocheck(meta, "resourceType", json_string_nocheck("User"));
    json_object_set_nocheck(meta, "created", json_object_get(old_meta, "created"));
    json_object_set_new_nocheck(meta, "lastModified", json_string_nocheck(now));
    json_object_set_nocheck(meta, "location", json_object_get(old_meta, "location"));
    json_object_set_new_nocheck(meta, "version", json_string_nocheck(ver));
    json_object_set_new_nocheck(doc, "meta", meta);
    json_decref(old_meta);
    json_decref(u->doc);
    u->doc = doc;
    free(u->cached);
    u->cached = NULL;
    if (renamed)
        user_index_name(emu, u, true);
    if (reindex)
        ext_index(emu, u, u->doc, +1);
    gcs_emu_order_set_active(&emu->org.order, u, json_is_true(json_object_get(doc, "active")));
}

static void user_free(emu_user *u)
{
    if (!u)
        return;
    json_decref(u->doc);
    json_decref(u->authz);
    free(u->cached);
    free(u);
}

void gcs_emu_user_delete(gcs_emu *emu, emu_user *u)
{
    emu_org *o = &emu->org;
    gcs_emu_dump_before_change(emu, u);
    /* Out of every group it is in (a change to the group: its version
     * moves), found through the user's own `groups`. No other user's
     * `groups` changes. */
    size_t k;
    json_t *ref;
    json_array_foreach(json_object_get(u->doc, "groups"), k, ref) {
        emu_group *g = gcs_emu_group_find(emu, json_string_value(json_object_get(ref, "value")));
        json_t *members = g ? json_object_get(g->doc, "members") : NULL;
        size_t j;
        json_t *m;
        json_array_foreach(members, j, m) {
            if (strcmp(json_string_value(json_object_get(m, "value")) ?: "", u->id) == 0) {
                char ver[24];
                json_array_remove(members, j);
                g->version++;
                snprintf(ver, sizeof ver, "%ld", g->version);
                json_object_set_new(json_object_get(g->doc, "meta"), "version", json_string(ver));
                break;
            }
        }
    }
    user_index_name(emu, u, false);
    ext_index(emu, u, u->doc, -1);
    gcs_emu_map_remove(&o->user_by_id, u->id);
    gcs_emu_order_remove(&o->order, u);
    o->nusers--;
    user_free(u);
}

emu_user *gcs_emu_user_find(gcs_emu *emu, const char *id)
{
    return gcs_emu_map_get(&emu->org.user_by_id, id);
}

emu_user *gcs_emu_user_find_name(gcs_emu *emu, const char *user_name)
{
    char key[512];
    gcs_emu_lower(key, sizeof key, user_name);
    return gcs_emu_map_get(&emu->org.user_by_name, key);
}

const char *gcs_emu_user_text(emu_user *u)
{
    if (!u->cached)
        u->cached = gcs_emu_json_text(u->doc);
    return u->cached ? u->cached : "{}";
}

/* ==== Groups ==== */

emu_group *gcs_emu_group_add(gcs_emu *emu, const json_t *platform)
{
    emu_org *o = &emu->org;
    if (o->ngroups == o->capgroups) {
        size_t cap = o->capgroups ? o->capgroups * 2 : 64;
        emu_group **p = realloc(o->groups, cap * sizeof *p);
        if (!p)
            return NULL;
        o->groups = p;
        o->capgroups = cap;
    }
    emu_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    const char *given = json_string_value(json_object_get(platform, "id"));
    if (given && strlen(given) < sizeof g->id && !gcs_emu_map_get(&o->group_by_id, given))
        snprintf(g->id, sizeof g->id, "%s", given);
    else
        gcs_emu_uuid(g->id, &emu->rng_ids);
    const char *name = json_string_value(json_object_get(platform, "name"));
    g->version = 1;
    g->platform = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:O}", "id", g->id, "name", name,
                            "description",
                            json_string_value(json_object_get(platform, "description")) ?: "",
                            "type", json_string_value(json_object_get(platform, "type")) ?: "official",
                            "rulesVisible",
                            json_object_get(platform, "rulesVisible") ?: json_true(), "visibility",
                            json_string_value(json_object_get(platform, "visibility")) ?: "public",
                            "rolesEnabled",
                            json_object_get(platform, "rolesEnabled") ?: json_false());
    g->doc = json_pack("{s:[s],s:s,s:s,s:[]}", "schemas", SCIM_GROUP_SCHEMA, "id", g->id,
                       "displayName", name, "members");
    set_meta(emu, g->doc, "Group", g->id, g->version, NULL);
    o->groups[o->ngroups++] = g;
    gcs_emu_map_put(&o->group_by_id, g->id, g);
    char key[512];
    gcs_emu_lower(key, sizeof key, name);
    gcs_emu_map_put(&o->group_by_name, key, g);
    return g;
}

void gcs_emu_user_groups_set(gcs_emu *emu, emu_user *u, const emu_group *g, bool member)
{
    gcs_emu_dump_before_change(emu, u);
    json_t *arr = json_object_get(u->doc, "groups");
    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(u->doc, "groups", arr);
    }
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(arr, i), "value")) ?: "", g->id) == 0) {
            json_array_remove(arr, i);
            break;
        }
    if (member) {
        char loc[256];
        gcs_emu_user_location(emu, loc, sizeof loc, "groups", g->id);
        json_array_append_new(arr, json_pack("{s:s,s:O,s:s}", "value", g->id, "display",
                                             json_object_get(g->doc, "displayName"), "$ref", loc));
    }
    free(u->cached);
    u->cached = NULL;
}

/* Updates the read-only `groups` of the users who joined or left: O(members),
 * not O(users). */
static void members_changed(gcs_emu *emu, const emu_group *g, const json_t *before,
                            const json_t *after)
{
    emu_map was, now;
    size_t i;
    json_t *m;
    gcs_emu_map_init(&was);
    gcs_emu_map_init(&now);
    json_array_foreach(before, i, m) {
        const char *id = json_string_value(json_object_get(m, "value"));
        if (id)
            gcs_emu_map_put(&was, id, (void *)1);
    }
    json_array_foreach(after, i, m) {
        const char *id = json_string_value(json_object_get(m, "value"));
        if (id)
            gcs_emu_map_put(&now, id, (void *)1);
    }
    json_array_foreach(before, i, m) {
        const char *id = json_string_value(json_object_get(m, "value"));
        emu_user *u = id && !gcs_emu_map_get(&now, id) ? gcs_emu_user_find(emu, id) : NULL;
        if (u)
            gcs_emu_user_groups_set(emu, u, g, false);
    }
    json_array_foreach(after, i, m) {
        const char *id = json_string_value(json_object_get(m, "value"));
        emu_user *u = id && !gcs_emu_map_get(&was, id) ? gcs_emu_user_find(emu, id) : NULL;
        if (u)
            gcs_emu_user_groups_set(emu, u, g, true);
    }
    gcs_emu_map_release(&was);
    gcs_emu_map_release(&now);
}

void gcs_emu_group_replace(gcs_emu *emu, emu_group *g, json_t *doc)
{
    char created[40];
    snprintf(created, sizeof created, "%s",
             json_string_value(json_object_get(json_object_get(g->doc, "meta"), "created")) ?: "");
    json_object_set_new(doc, "id", json_string(g->id));
    json_object_set_new(doc, "schemas", json_pack("[s]", SCIM_GROUP_SCHEMA));
    json_object_set(doc, "displayName", json_object_get(g->doc, "displayName"));
    g->version++;
    set_meta(emu, doc, "Group", g->id, g->version, created);
    json_t *old = json_incref(json_object_get(g->doc, "members"));
    json_decref(g->doc);
    g->doc = doc;
    members_changed(emu, g, old, json_object_get(doc, "members"));
    json_decref(old);
}

emu_group *gcs_emu_group_find(gcs_emu *emu, const char *id)
{
    return gcs_emu_map_get(&emu->org.group_by_id, id);
}

emu_group *gcs_emu_group_find_name(gcs_emu *emu, const char *name)
{
    char key[512];
    gcs_emu_lower(key, sizeof key, name);
    return gcs_emu_map_get(&emu->org.group_by_name, key);
}

void gcs_emu_group_rename(gcs_emu *emu, emu_group *g, const char *name)
{
    char key[512];
    gcs_emu_lower(key, sizeof key, json_string_value(json_object_get(g->platform, "name")));
    gcs_emu_map_remove(&emu->org.group_by_name, key);
    json_object_set_new(g->platform, "name", json_string(name));
    json_object_set_new(g->doc, "displayName", json_string(name));
    gcs_emu_lower(key, sizeof key, name);
    gcs_emu_map_put(&emu->org.group_by_name, key, g);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(g->doc, "members"), i, m) {
        emu_user *u = gcs_emu_user_find(emu, json_string_value(json_object_get(m, "value")));
        if (u)
            gcs_emu_user_groups_set(emu, u, g, true);
    }
}

static void group_free(emu_group *g)
{
    json_decref(g->doc);
    json_decref(g->platform);
    json_decref(g->authz);
    free(g);
}

void gcs_emu_group_delete(gcs_emu *emu, emu_group *g)
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
    group_free(g);
}

void gcs_emu_groups_refresh_users(gcs_emu *emu)
{
    emu_org *o = &emu->org;
    for (size_t i = 0; i < o->order.nslots; i++) {
        emu_user *u = o->order.slots[i];
        if (!u)
            continue;
        json_object_set_new(u->doc, "groups", json_array());
        free(u->cached);
        u->cached = NULL;
    }
    for (size_t i = 0; i < o->ngroups; i++) {
        emu_group *g = o->groups[i];
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(g->doc, "members"), j, m) {
            emu_user *u = gcs_emu_user_find(emu, json_string_value(json_object_get(m, "value")));
            if (!u)
                continue;
            char loc[256];
            gcs_emu_user_location(emu, loc, sizeof loc, "groups", g->id);
            json_array_append_new(json_object_get(u->doc, "groups"),
                                  json_pack("{s:s,s:O,s:s}", "value", g->id, "display",
                                            json_object_get(g->doc, "displayName"), "$ref", loc));
        }
    }
}

/* ==== Loading, releasing, dumping ==== */

void gcs_emu_org_release(emu_org *o)
{
    list_release(&o->roles);
    list_release(&o->divisions);
    list_release(&o->skills);
    list_release(&o->languages);
    for (size_t i = 0; i < o->order.nslots; i++)
        user_free(o->order.slots[i]);
    gcs_emu_order_release(&o->order);
    for (size_t i = 0; i < o->ngroups; i++)
        group_free(o->groups[i]);
    free(o->groups);
    gcs_emu_map_release(&o->user_by_id);
    gcs_emu_map_release(&o->user_by_name);
    for (size_t i = 0; i < o->user_by_ext.nbuckets; i++)
        for (emu_map_entry *e = o->user_by_ext.buckets[i]; e; e = e->next) {
            free(((emu_ext *)e->value)->users);
            free(e->value);
        }
    gcs_emu_map_release(&o->user_by_ext);
    gcs_emu_map_release(&o->group_by_id);
    gcs_emu_map_release(&o->group_by_name);
    memset(o, 0, sizeof *o);
}

/* --synthetic-users N: users made in bulk for benchmarks and scale tests,
 * without the checks of a create (they are valid by construction):
 * user0000001@synthetic.example…, every tenth inactive (by default), an externalId and an
 * externalIds pair each, a title, a work email and a department. */
static int synthesize(gcs_emu *emu, size_t n)
{
    int rc = 0;
    size_t have = emu->org.nusers, every = emu->synthetic_inactive_every;
    if (n > EMU_MAX_USERS - (have < EMU_MAX_USERS ? have : EMU_MAX_USERS))
        return gcs_error_set(GCS_EINVALID, "synthetic users: at most %d users in all", EMU_MAX_USERS);
    /* Built in their final order (no reordering pass), sharing every value
     * that is the same for all of them: the emulator never changes a scalar
     * in place, and a change to a user makes a new document. A million users
     * are a million JSON trees: what is shared is memory and time saved. */
    char now[32];
    gcs_emu_now_iso(now);
    json_t *schemas = json_incref(emu->user_schemas);
    json_t *agent = json_string("Agent"), *work = json_string("work");
    /* Managed ones carry a marker keyed by their userName, as a profile that
     * matches by userName writes it. */
    const char *marker = emu->synthetic_marker;
    json_t *authority = json_string(marker ? marker : "synthetic"), *user = json_string("User");
    json_t *stamp = json_string(now), *one = json_string("1");
    json_t *depts[20];
    for (int d = 0; d < 20; d++) {
        char dept[16];
        snprintf(dept, sizeof dept, "Dept %d", d);
        depts[d] = json_string(dept);
    }
    for (size_t i = 1; rc == 0 && i <= n; i++) {
        char text[64], loc[256];
        emu_user *u = calloc(1, sizeof *u);
        json_t *doc = json_object();
        if (!u || !doc) {
            free(u);
            json_decref(doc);
            rc = GCS_ENOMEM;
            break;
        }
        gcs_emu_uuid(u->id, &emu->rng_ids);
        u->version = 1;
        snprintf(text, sizeof text, "user%07zu@synthetic.example", i);
        json_t *un = json_string(text);
        snprintf(text, sizeof text, "syn-%zu", i);
        json_t *ext = json_string(text);
        snprintf(text, sizeof text, "Synthetic User %zu", i);
        gcs_emu_user_location(emu, loc, sizeof loc, "users", u->id);
        json_object_set_nocheck(doc, "schemas", schemas);
        json_object_set_new_nocheck(doc, "id", json_string(u->id));
        json_object_set_nocheck(doc, "userName", un);
        json_object_set_new_nocheck(doc, "displayName", json_string(text));
        json_object_set_new_nocheck(doc, "active", json_boolean(!every || i % every != 0));
        json_object_set_nocheck(doc, "externalId", ext);
        json_object_set_nocheck(doc, "title", agent);
        json_object_set_new_nocheck(doc, "emails", json_pack("[{s:O,s:O,s:b}]", "type", work, "value", un,
                                                             "primary", 1));
        json_object_set_new_nocheck(doc, SCIM_ENTERPRISE, json_pack("{s:O}", "department", depts[i % 20]));
        json_object_set_new_nocheck(doc, SCIM_GENESYS,
                                    json_pack("{s:[{s:O,s:O}]}", "externalIds", "authority", authority,
                                              "value", marker ? un : ext));
        json_object_set_new_nocheck(doc, "groups", json_array());
        json_object_set_new_nocheck(doc, "meta",
                                    json_pack("{s:O,s:O,s:O,s:s,s:O}", "resourceType", user, "created",
                                              stamp, "lastModified", stamp, "location", loc, "version", one));
        json_decref(un);
        json_decref(ext);
        if (emu->generated_fields)
            derive_readonly(doc, u->id);
        u->doc = doc;
        if (!user_insert(emu, u))
            rc = GCS_ENOMEM;
    }
    json_decref(schemas);
    json_decref(agent);
    json_decref(work);
    json_decref(authority);
    json_decref(user);
    json_decref(stamp);
    json_decref(one);
    for (int d = 0; d < 20; d++)
        json_decref(depts[d]);
    return rc;
}

/* A seed group's grants: [{"roleId" or "role" (a name), "divisionId" or
 * "division" (a name)}]; the group needs rolesEnabled. */
static int seed_grants(gcs_emu *emu, emu_group *g, const json_t *grants, size_t gi)
{
    size_t i;
    const json_t *x;
    if (!grants)
        return 0;
    if (!json_is_array(grants))
        return gcs_error_set(GCS_EINVALID, "seed: groups[%zu]: grants is not an array", gi);
    if (json_array_size(grants) && !json_is_true(json_object_get(g->platform, "rolesEnabled")))
        return gcs_error_set(GCS_EINVALID, "seed: groups[%zu]: grants need rolesEnabled", gi);
    json_array_foreach(grants, i, x) {
        const json_t *role = gcs_emu_map_get(&emu->org.roles.by_id, json_string_value(json_object_get(x, "roleId")));
        const json_t *div = gcs_emu_map_get(&emu->org.divisions.by_id,
                                            json_string_value(json_object_get(x, "divisionId")));
        if (!role)
            role = gcs_emu_map_get(&emu->org.roles.by_name, json_string_value(json_object_get(x, "role")));
        if (!div)
            div = gcs_emu_map_get(&emu->org.divisions.by_name, json_string_value(json_object_get(x, "division")));
        if (!role || !div)
            return gcs_error_set(GCS_EINVALID, "seed: groups[%zu].grants[%zu]: unknown role or division", gi, i);
        gcs_emu_grant_add(&g->authz, json_string_value(json_object_get(role, "id")),
                          json_string_value(json_object_get(div, "id")));
    }
    return 0;
}

int gcs_emu_org_load(gcs_emu *emu, const json_t *seed)
{
    int rc = 0;
    size_t i;
    const json_t *v;
    gcs_emu_dumps_break(emu);
    gcs_emu_org_release(&emu->org);
    emu->rng_ids = emu->seed ^ 0x1d5ULL;
    if ((rc = list_load(emu, &emu->org.roles, json_object_get(seed, "roles"), "roles")) < 0 ||
        (rc = list_load(emu, &emu->org.divisions, json_object_get(seed, "divisions"), "divisions")) < 0 ||
        (rc = list_load(emu, &emu->org.skills, json_object_get(seed, "skills"), "skills")) < 0 ||
        (rc = list_load(emu, &emu->org.languages, json_object_get(seed, "languages"), "languages")) < 0)
        goto out;
    json_array_foreach(json_object_get(seed, "users"), i, v) {
        const char *un = json_string_value(json_object_get(v, "userName"));
        if (!un || !json_is_string(json_object_get(v, "displayName"))) {
            rc = gcs_error_set(GCS_EINVALID, "seed: users[%zu] needs userName and displayName", i);
            goto out;
        }
        if (gcs_emu_user_find_name(emu, un)) {
            rc = gcs_error_set(GCS_EINVALID, "seed: users[%zu]: userName '%s' is taken", i, un);
            goto out;
        }
        json_t *doc = gcs_emu_json_copy(v);
        json_object_del(doc, "password");
        json_object_del(doc, "meta");
        json_object_del(doc, "groups");
        if (!gcs_emu_user_add(emu, doc)) {
            rc = GCS_ENOMEM;
            goto out;
        }
    }
    if (emu->synthetic_users && (rc = synthesize(emu, emu->synthetic_users)) < 0)
        goto out;
    json_array_foreach(json_object_get(seed, "groups"), i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (!name) {
            rc = gcs_error_set(GCS_EINVALID, "seed: groups[%zu] has no name", i);
            goto out;
        }
        if (gcs_emu_group_find_name(emu, name)) {
            rc = gcs_error_set(GCS_EINVALID, "seed: groups[%zu]: name '%s' is taken", i, name);
            goto out;
        }
        emu_group *g = gcs_emu_group_add(emu, v);
        if (!g) {
            rc = GCS_ENOMEM;
            goto out;
        }
        /* Members by user id or userName: a seed is written by hand. */
        size_t j;
        const json_t *m;
        json_array_foreach(json_object_get(v, "members"), j, m) {
            const char *key = json_string_value(m) ?: json_string_value(json_object_get(m, "value"));
            emu_user *u = key ? gcs_emu_user_find(emu, key) : NULL;
            if (!u && key)
                u = gcs_emu_user_find_name(emu, key);
            if (!u) {
                rc = gcs_error_set(GCS_EINVALID, "seed: groups[%zu]: no such member '%s'", i,
                                   key ? key : "?");
                goto out;
            }
            char loc[256];
            gcs_emu_user_location(emu, loc, sizeof loc, "users", u->id);
            json_array_append_new(json_object_get(g->doc, "members"),
                                  json_pack("{s:s,s:s,s:s}", "value", u->id, "type", "User",
                                            "$ref", loc));
        }
        if ((rc = seed_grants(emu, g, json_object_get(v, "grants"), i)) < 0)
            goto out;
    }
    gcs_emu_groups_refresh_users(emu);
out:
    return rc;
}

int gcs_emu_org_write_head(gcs_emu *emu, gcs_buf *b)
{
    emu_org *o = &emu->org;
    int rc = 0;
    static const char *const names[] = {"roles", "divisions", "skills", "languages"};
    const emu_list *lists[] = {&o->roles, &o->divisions, &o->skills, &o->languages};
    for (size_t i = 0; rc == 0 && i < 4; i++) {
        if ((rc = gcs_buf_printf(b, "%s\"%s\":", i ? "," : "{", names[i])) == 0)
            rc = gcs_emu_json_dump(b, lists[i]->items);
    }
    if (rc == 0)
        rc = gcs_buf_puts(b, ",\"groups\":[");
    for (size_t i = 0; rc == 0 && i < o->ngroups; i++) {
        const emu_group *grp = o->groups[i];
        json_t *g = gcs_emu_json_copy(grp->platform);
        json_t *ids = json_array();
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(grp->doc, "members"), j, m)
            json_array_append(ids, json_object_get(m, "value"));
        json_object_set_new(g, "members", ids);
        json_object_set_new(g, "version", json_integer(grp->version));
        json_t *grants = json_object_get(grp->authz, "grants");
        json_object_set_new(g, "grants", grants ? json_incref(grants) : json_array());
        if (i)
            rc = gcs_buf_putc(b, ',');
        if (rc == 0)
            rc = gcs_emu_json_dump(b, g);
        json_decref(g);
    }
    if (rc == 0)
        rc = gcs_buf_puts(b, "],\"users\":[");
    return rc;
}

int gcs_emu_org_write(gcs_emu *emu, gcs_buf *b)
{
    emu_org *o = &emu->org;
    int rc = gcs_emu_org_write_head(emu, b);
    /* User by user, from the cached text when there is one (without caching
     * it: a million cached texts would double the emulator's memory). */
    bool first = true;
    for (size_t i = 0; rc == 0 && i < o->order.nslots; i++) {
        emu_user *u = o->order.slots[i];
        if (!u)
            continue;
        if (!first)
            rc = gcs_buf_putc(b, ',');
        first = false;
        if (rc == 0)
            rc = u->cached ? gcs_buf_puts(b, u->cached) : gcs_emu_json_dump(b, u->doc);
    }
    if (rc == 0)
        rc = gcs_buf_puts(b, "]}");
    return rc;
}

/* ==== Seed files ==== */

int gcs_emu_seed_load(json_t **out, const char *path)
{
    int rc = 0;
    json_error_t jerr;
    *out = NULL;
    json_t *j = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = gcs_error_set(GCS_EIO, "cannot read seed '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > GCS_EMU_SEED_MAX_BYTES) {
        close(fd);
        rc = gcs_error_set(GCS_EINVALID, "cannot read seed '%s': not a regular file of at most %ld MiB",
                           path, GCS_EMU_SEED_MAX_BYTES >> 20);
        goto out;
    }
    j = json_loadfd(fd, 0, &jerr);
    close(fd);
    if (!j) {
        if (jerr.line > 0)
            rc = gcs_error_set(GCS_EINVALID, "cannot read seed '%s': line %d: %s", path,
                               jerr.line, jerr.text);
        else
            rc = gcs_error_set(GCS_EIO, "cannot read seed '%s': %s", path, jerr.text);
        goto out;
    }
    if (!json_is_object(j)) {
        rc = gcs_error_set(GCS_EINVALID, "seed '%s' is not a JSON object", path);
        goto out;
    }
    const char *key;
    json_t *v;
    static const char *const known[] = {"roles", "divisions", "skills", "languages", "groups", "users"};
    json_object_foreach(j, key, v) {
        size_t k;
        for (k = 0; k < sizeof known / sizeof *known; k++)
            if (strcmp(key, known[k]) == 0)
                break;
        if (k == sizeof known / sizeof *known) {
            rc = gcs_error_set(GCS_EINVALID, "seed '%s': unknown key '%s'", path, key);
            goto out;
        }
        if (!json_is_array(v)) {
            rc = gcs_error_set(GCS_EINVALID, "seed '%s': '%s' is not an array", path, key);
            goto out;
        }
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (!json_is_object(item)) {
                rc = gcs_error_set(GCS_EINVALID, "seed '%s': %s[%zu] is not an object", path, key, i);
                goto out;
            }
        }
    }
    *out = j;
    j = NULL;
out:
    json_decref(j);
    return rc;
}
