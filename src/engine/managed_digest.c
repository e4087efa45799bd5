#include "engine/managed_digest.h"
#include "core/error.h"
#include "core/scim.h"
#include "core/siphash.h"
#include "mapping/map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gcs_digester_init(gcs_digester *d, const gcs_profile *profile, const char *marker)
{
    memset(d, 0, sizeof *d);
    d->profile = profile;
    d->marker = marker;
    gcs_siphash_random_key(&d->k[0], d);
    gcs_siphash_random_key(&d->k[2], &d->k[2]);
    gcs_buf_init(&d->text, 0);
}

int gcs_managed_active(const json_t *user)
{
    const json_t *a = json_object_get(user, "active");
    return !a                 ? GCS_MANAGED_ACTIVE_ABSENT
           : json_is_true(a)  ? 1
           : json_is_false(a) ? 0
                              : GCS_MANAGED_ACTIVE_OTHER;
}

void gcs_digester_release(gcs_digester *d)
{
    gcs_buf_release(&d->text);
}

/* The attributes the diff skips (plan/diff.h): create-only ones without a
 * part; a create-only part of a list (a phone type) is still compared. */
static bool skipped(const gcs_profile_attr *a)
{
    return a->mode == GCS_ATTR_CREATE_ONLY && !a->sub;
}

/* Left out of the digest: the manager, compared apart once resolved. */
static bool in_digest(const gcs_profile_attr *a)
{
    return !skipped(a) && a->target != GCS_TARGET_MANAGER;
}

/* ==== Coverage: everything the diff would compare of a desired user ==== */

static bool never_diffed(const char *name)
{
    static const char *const names[] = {"schemas", "id", "meta", "groups", "password"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

/* A member of a desired user: `name` at the top (urn NULL) or in the
 * extension object `urn`, whose profile path is "URN:NAME". Named so, without
 * writing the path out: every member of every row is looked up. */
typedef struct member {
    const char *urn, *name;
    size_t urn_len;
} member;

static bool path_is(const char *path, const member *m)
{
    if (!m->urn)
        return strcmp(path, m->name) == 0;
    return strncmp(path, m->urn, m->urn_len) == 0 && path[m->urn_len] == ':' &&
           strcmp(path + m->urn_len + 1, m->name) == 0;
}

/* Does a profile attribute with this path own the part `sub` (NULL: the whole)? */
static bool profile_names(const gcs_profile *profile, const member *m, const char *sub)
{
    for (size_t i = 0; i < gcs_profile_attr_count(profile); i++) {
        const gcs_profile_attr *a = gcs_profile_attr_at(profile, i);
        if (!path_is(a->path, m))
            continue;
        if (!sub || (a->sub && strcmp(a->sub, sub) == 0))
            return true;
    }
    return false;
}

/* A list of typed entries (emails, phoneNumbers) or externalIds: each entry's
 * `field` must be a part the profile (or the marker) owns, and appear once. */
static bool parts_covered(const gcs_digester *d, const member *path, const json_t *list,
                          const char *field)
{
    if (!json_is_array(list))
        return false;
    size_t i, j;
    json_t *e, *f;
    json_array_foreach(list, i, e)
    {
        const char *part = json_string_value(json_object_get(e, field));
        if (!part)
            return false;
        bool own = profile_names(d->profile, path, part) ||
                   (d->marker && strcmp(field, "authority") == 0 && strcmp(part, d->marker) == 0);
        if (!own)
            return false;
        json_array_foreach(list, j, f)
        {
            const char *other = json_string_value(json_object_get(f, field));
            if (j < i && other && strcmp(other, part) == 0)
                return false;
        }
    }
    return true;
}

/* A set (roles, skills, languages) whose names repeat compares by size in
 * the diff but not in the normalised value: no digest then. */
static bool set_without_repeats(const json_t *list, const char *field)
{
    size_t i, j;
    json_t *e, *f;
    json_array_foreach(list, i, e)
    {
        const char *name = json_string_value(json_object_get(e, field));
        json_array_foreach(list, j, f)
        {
            const char *other = json_string_value(json_object_get(f, field));
            if (j < i && (!name || !other || strcmp(name, other) == 0))
                return false;
        }
    }
    return true;
}

static bool covered(const gcs_digester *d, const member *path, const json_t *v)
{
    const char *name = path->name;
    if (!path->urn && strcmp(name, "active") == 0)
        return json_is_boolean(v);
    if (strcmp(name, "emails") == 0 || strcmp(name, "phoneNumbers") == 0)
        return parts_covered(d, path, v, "type");
    if (strcmp(name, "externalIds") == 0)
        return parts_covered(d, path, v, "authority");
    if (strcmp(name, "roles") == 0)
        return profile_names(d->profile, path, NULL) && set_without_repeats(v, "value");
    if (strcmp(name, "routingSkills") == 0 || strcmp(name, "routingLanguages") == 0)
        return profile_names(d->profile, path, NULL) && set_without_repeats(v, "name");
    return profile_names(d->profile, path, NULL);
}

static bool desired_covered(const gcs_digester *d, const json_t *user)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)user, key, v)
    {
        if (never_diffed(key))
            continue;
        if (strncmp(key, "urn:", 4) == 0 && json_is_object(v)) {
            const char *sub;
            json_t *sv;
            member m = {key, NULL, strlen(key)};
            json_object_foreach(v, sub, sv)
            {
                m.name = sub;
                if (!covered(d, &m, sv))
                    return false;
            }
        } else if (!covered(d, &(member){NULL, key, 0}, v)) {
            return false;
        }
    }
    return true;
}

/* ==== The canonical text ==== */

static int put_text(const char *buffer, size_t size, void *data)
{
    return gcs_buf_put(data, buffer, size) < 0 ? -1 : 0;
}

/* A normalised value, unambiguously: '-' for none, a string as its length
 * (fixed width) and its bytes, anything else as sorted JSON. */
static int put_value(gcs_buf *b, const json_t *v)
{
    if (!v)
        return gcs_buf_putc(b, '-');
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        int rc = gcs_buf_putc(b, 's');
        if (rc == 0)
            rc = gcs_buf_put(b, &n, sizeof n);
        if (rc == 0)
            rc = gcs_buf_put(b, json_string_value(v), n);
        return rc;
    }
    int rc = gcs_buf_putc(b, '=');
    if (rc == 0 &&
        json_dump_callback(v, put_text, b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) < 0)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    return rc;
}

/* The digest's text starts the same whichever way the user was read: its
 * version, then (when the digester knows a marker) the user's marker or its
 * absence. */
static int digest_head(gcs_buf *b, bool with_marker, const char *m)
{
    gcs_buf_clear(b);
    int rc = gcs_buf_puts(b, "v1");
    if (rc == 0 && with_marker) {
        size_t n = m ? strlen(m) : 0;
        rc = gcs_buf_puts(b, m ? "\x1em=" : "\x1em-");
        if (rc == 0 && m)
            rc = gcs_buf_put(b, &n, sizeof n);
        if (rc == 0 && m)
            rc = gcs_buf_put(b, m, n);
    }
    return rc;
}

static const char *marker_of(const gcs_digester *d, const json_t *genesys)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(genesys, "externalIds"), i, e)
    {
        const char *authority = json_string_value(json_object_get(e, "authority"));
        if (authority && strcmp(authority, d->marker) == 0)
            return json_string_value(json_object_get(e, "value"));
    }
    return NULL;
}

static size_t set_size(const json_t *user, const gcs_profile_attr *a)
{
    const char *colon = strrchr(a->path, ':');
    if (strncmp(a->path, "urn:", 4) == 0 && colon) {
        char urn[256];
        snprintf(urn, sizeof urn, "%.*s", (int)(colon - a->path), a->path);
        return json_array_size(json_object_get(json_object_get(user, urn), colon + 1));
    }
    return json_array_size(json_object_get(user, a->path));
}

static const char *nonempty_value(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

/* As entry_with in mapping/map.c: the first entry whose `key` is `want`,
 * ignoring case; its value when not empty. */
static const char *tree_entry_value(const json_t *list, const char *key, const char *want)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && strcasecmp(v, want) == 0)
            return nonempty_value(json_object_get(e, "value"));
    }
    return NULL;
}

/* A user and its two extension objects, looked up once (their names are long
 * to hash). */
typedef struct tree_user {
    const json_t *user, *enterprise, *genesys;
} tree_user;

/* The string gcs_scim_attr_value gives of a string attribute of `user`,
 * borrowed (no copy made and freed for every attribute of every row), or
 * NULL; *is_string false for the attributes of other types. */
static const char *tree_value(const tree_user *t, const gcs_profile_attr *a, bool *is_string)
{
    const json_t *user = t->user;
    *is_string = true;
    switch (a->target) {
    case GCS_TARGET_USERNAME:
    case GCS_TARGET_DISPLAYNAME:
    case GCS_TARGET_TITLE:
    case GCS_TARGET_EXTERNALID:
        return nonempty_value(json_object_get(user, gcs_target_name(a->target)));
    case GCS_TARGET_DEPARTMENT:
    case GCS_TARGET_DIVISION:
    case GCS_TARGET_EMPLOYEENUMBER:
    case GCS_TARGET_DATEHIRE:
        return nonempty_value(json_object_get(t->enterprise, gcs_target_name(a->target)));
    case GCS_TARGET_MANAGER:
        return nonempty_value(json_object_get(json_object_get(t->enterprise, "manager"), "value"));
    case GCS_TARGET_EMAIL:
        return tree_entry_value(json_object_get(user, "emails"), "type", "work");
    case GCS_TARGET_PHONE:
        return tree_entry_value(json_object_get(user, "phoneNumbers"), "type", a->sub);
    case GCS_TARGET_EXTERNALIDS:
        return tree_entry_value(json_object_get(t->genesys, "externalIds"), "authority", a->sub);
    default:
        *is_string = false;
        return NULL;
    }
}

/* A string value as put_value writes the json_string gcs_scim_attr_value
 * would make of it (its bytes up to the first NUL). */
static int put_string_value(gcs_buf *b, const char *s)
{
    if (!s)
        return gcs_buf_putc(b, '-');
    size_t n = strlen(s);
    int rc = gcs_buf_putc(b, 's');
    if (rc == 0)
        rc = gcs_buf_put(b, &n, sizeof n);
    if (rc == 0)
        rc = gcs_buf_put(b, s, n);
    return rc;
}

int gcs_digester_user(gcs_digester *d, const json_t *user, bool desired, gcs_managed_digest *out)
{
    if (!json_is_object(user) || (desired && !desired_covered(d, user)))
        return 0;
    gcs_buf *b = &d->text;
    tree_user t = {user, json_object_get(user, GCS_SCIM_ENTERPRISE_USER),
                   json_object_get(user, GCS_SCIM_GENESYS_USER)};
    /* `active` is left out: the diff compares it only when the desired user
     * has it, which the caller checks (gcs_managed_active). */
    int rc = digest_head(b, d->marker != NULL, d->marker ? marker_of(d, t.genesys) : NULL);
    for (size_t i = 0; rc == 0 && i < gcs_profile_attr_count(d->profile); i++) {
        const gcs_profile_attr *a = gcs_profile_attr_at(d->profile, i);
        if (!in_digest(a))
            continue;
        char tag[2] = {(char)(0x20 + i % 64), (char)(0x20 + i / 64 % 64)};
        rc = gcs_buf_put(b, tag, sizeof tag); /* which attribute: the profile has few */
        if (rc == 0 && a->target == GCS_TARGET_ACTIVE) {
            /* As held: the diff tells false, absent and anything else apart. */
            rc = gcs_buf_putc(b, (char)('b' + gcs_managed_active(user)));
            continue;
        }
        bool is_string;
        const char *s = tree_value(&t, a, &is_string);
        if (is_string) {
            if (rc == 0)
                rc = put_string_value(b, s);
            continue;
        }
        json_t *v = gcs_scim_attr_value(user, a);
        if (rc == 0 && (a->target == GCS_TARGET_ROLES || a->target == GCS_TARGET_SKILLS ||
                        a->target == GCS_TARGET_LANGUAGES))
            rc = gcs_buf_printf(b, "#%zu", set_size(user, a));
        if (rc == 0)
            rc = put_value(b, v);
        json_decref(v);
    }
    if (rc < 0)
        return rc == GCS_ENOMEM ? rc : 0; /* too long to fingerprint: diffed in full */
    out->h[0] = gcs_siphash13(b->ptr, b->len, d->k[0], d->k[1]);
    out->h[1] = gcs_siphash13(b->ptr, b->len, d->k[2], d->k[3]);
    return 1;
}

/* ==== The same digest from a user's flat record (genesys/user_page.h) ====
 *
 * Byte for byte the canonical text gcs_digester_user writes for the user the
 * record was read from: test_user_page holds the two to the same digest. */

static const char *marker_of_fields(const char *marker, const gcs_user_fields *f)
{
    const gcs_user_entry *e = f->list[GCS_USER_EXTERNALIDS].at;
    for (size_t i = 0; i < f->list[GCS_USER_EXTERNALIDS].count; i++) {
        if (e[i].key && strcmp(e[i].key, marker) == 0)
            return e[i].value;
    }
    return NULL;
}

/* As entry_with in mapping/map.c: the first entry whose key is `want`,
 * ignoring case; its value when not empty. */
static const char *entry_value(const gcs_user_fields *f, gcs_user_list list, const char *want)
{
    const gcs_user_entry *e = f->list[list].at;
    for (size_t i = 0; i < f->list[list].count; i++) {
        if (e[i].key && strcasecmp(e[i].key, want) == 0)
            return e[i].value && *e[i].value ? e[i].value : NULL;
    }
    return NULL;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* The string gcs_scim_attr_value gives of a string attribute, or NULL. */
static const char *field_value(const gcs_user_fields *f, const gcs_profile_attr *a)
{
    switch (a->target) {
    case GCS_TARGET_USERNAME: return nonempty(f->str[GCS_USER_USERNAME]);
    case GCS_TARGET_DISPLAYNAME: return nonempty(f->str[GCS_USER_DISPLAYNAME]);
    case GCS_TARGET_TITLE: return nonempty(f->str[GCS_USER_TITLE]);
    case GCS_TARGET_EXTERNALID: return nonempty(f->str[GCS_USER_EXTERNALID]);
    case GCS_TARGET_DEPARTMENT: return nonempty(f->str[GCS_USER_DEPARTMENT]);
    case GCS_TARGET_DIVISION: return nonempty(f->str[GCS_USER_DIVISION]);
    case GCS_TARGET_EMPLOYEENUMBER: return nonempty(f->str[GCS_USER_EMPLOYEENUMBER]);
    case GCS_TARGET_DATEHIRE: return nonempty(f->str[GCS_USER_DATEHIRE]);
    case GCS_TARGET_MANAGER: return nonempty(f->str[GCS_USER_MANAGER]);
    case GCS_TARGET_EMAIL: return entry_value(f, GCS_USER_EMAILS, "work");
    case GCS_TARGET_PHONE: return entry_value(f, GCS_USER_PHONES, a->sub);
    case GCS_TARGET_EXTERNALIDS: return entry_value(f, GCS_USER_EXTERNALIDS, a->sub);
    default: return NULL;
    }
}

static int by_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A role name as jansson's compact dump writes it. */
static int put_json_string(gcs_buf *b, const char *s)
{
    bool plain = true;
    for (const unsigned char *p = (const unsigned char *)s; *p && plain; p++)
        plain = *p >= 0x20 && *p != '"' && *p != '\\';
    if (plain) {
        int rc = gcs_buf_putc(b, '"');
        if (rc == 0)
            rc = gcs_buf_puts(b, s);
        return rc == 0 ? gcs_buf_putc(b, '"') : rc;
    }
    json_t *v = json_string(s);
    int rc = v && json_dump_callback(v, put_text, b, JSON_COMPACT | JSON_ENCODE_ANY) == 0
                 ? 0
                 : gcs_error_set(GCS_ENOMEM, "out of memory");
    json_decref(v);
    return rc;
}

/* The roles' value, as put_value writes gcs_scim_attr_value's sorted set of
 * the names that are not empty. */
static int put_roles(gcs_buf *b, const gcs_user_fields *f)
{
    size_t n = f->list[GCS_USER_ROLES].count, named = 0;
    const gcs_user_entry *e = f->list[GCS_USER_ROLES].at;
    const char *small[16], **names = n <= 16 ? small : malloc(n * sizeof *names);
    if (!names)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (e[i].value && *e[i].value)
            names[named++] = e[i].value;
    }
    int rc = 0;
    if (named == 0) {
        rc = gcs_buf_putc(b, '-');
    } else {
        qsort(names, named, sizeof *names, by_strcmp);
        rc = gcs_buf_puts(b, "=[");
        for (size_t i = 0; i < named && rc == 0; i++) {
            if (i > 0 && strcmp(names[i - 1], names[i]) == 0)
                continue;
            if (i > 0)
                rc = gcs_buf_putc(b, ',');
            if (rc == 0)
                rc = put_json_string(b, names[i]);
        }
        if (rc == 0)
            rc = gcs_buf_putc(b, ']');
    }
    if (names != small)
        free(names);
    return rc;
}

/* Skills and languages, rarer, through gcs_scim_attr_value itself over a tree
 * of that one list: its order among equal names is qsort's, kept as is. */
static int put_named_set(gcs_buf *b, const gcs_user_fields *f, const gcs_profile_attr *a)
{
    gcs_user_list l = a->target == GCS_TARGET_SKILLS ? GCS_USER_SKILLS : GCS_USER_LANGUAGES;
    json_t *list = json_array();
    json_t *user = json_pack("{s:{s:o}}", GCS_SCIM_GENESYS_USER, gcs_target_name(a->target), list);
    if (!user)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < f->list[l].count && rc == 0; i++) {
        const gcs_user_entry *e = &f->list[l].at[i];
        if (!e->key)
            continue;
        json_t *entry = e->has_number ? json_pack("{s:s,s:f}", "name", e->key, "proficiency", e->number)
                                      : json_pack("{s:s}", "name", e->key);
        if (!entry || json_array_append_new(list, entry) < 0)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    json_t *v = rc == 0 ? gcs_scim_attr_value(user, a) : NULL;
    if (rc == 0)
        rc = put_value(b, v);
    json_decref(v);
    json_decref(user);
    return rc;
}

int gcs_digester_fields(gcs_digester *d, const gcs_user_fields *f, gcs_managed_digest *out)
{
    gcs_buf *b = &d->text;
    int rc = digest_head(b, d->marker != NULL, d->marker ? marker_of_fields(d->marker, f) : NULL);
    for (size_t i = 0; rc == 0 && i < gcs_profile_attr_count(d->profile); i++) {
        const gcs_profile_attr *a = gcs_profile_attr_at(d->profile, i);
        if (!in_digest(a))
            continue;
        char tag[2] = {(char)(0x20 + i % 64), (char)(0x20 + i / 64 % 64)};
        rc = gcs_buf_put(b, tag, sizeof tag);
        if (rc < 0)
            break;
        switch (a->target) {
        case GCS_TARGET_ACTIVE:
            rc = gcs_buf_putc(b, (char)('b' + f->active));
            break;
        case GCS_TARGET_ROLES:
            rc = gcs_buf_printf(b, "#%zu", f->list[GCS_USER_ROLES].count);
            if (rc == 0)
                rc = put_roles(b, f);
            break;
        case GCS_TARGET_SKILLS:
        case GCS_TARGET_LANGUAGES:
            rc = gcs_buf_printf(b, "#%zu",
                                f->list[a->target == GCS_TARGET_SKILLS ? GCS_USER_SKILLS
                                                                       : GCS_USER_LANGUAGES]
                                    .count);
            if (rc == 0)
                rc = put_named_set(b, f, a);
            break;
        default: {
            const char *v = field_value(f, a);
            if (!v) {
                rc = gcs_buf_putc(b, '-');
                break;
            }
            size_t n = strlen(v);
            rc = gcs_buf_putc(b, 's');
            if (rc == 0)
                rc = gcs_buf_put(b, &n, sizeof n);
            if (rc == 0)
                rc = gcs_buf_put(b, v, n);
        }
        }
    }
    if (rc < 0)
        return rc == GCS_ENOMEM ? rc : 0;
    out->h[0] = gcs_siphash13(b->ptr, b->len, d->k[0], d->k[1]);
    out->h[1] = gcs_siphash13(b->ptr, b->len, d->k[2], d->k[3]);
    return 1;
}

/* ==== The same digest from a flat desired user (mapping/map.h) ====
 *
 * Its flat record is what gcs_map_user_build would put in the tree: the
 * scalar attributes, the work email, the phones by type, the roles without
 * repeats, the externalIds by authority and the marker's last. Every member of
 * it is one a profile attribute names, so what desired_covered can refuse is a
 * type or authority met twice in one list. */

/* An entry's key met twice in a list: parts_covered refuses it. */
static bool keys_repeat(const gcs_user_fields *f, gcs_user_list l)
{
    const gcs_user_entry *e = f->list[l].at;
    for (size_t i = 0; i < f->list[l].count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(e[i].key, e[j].key) == 0)
                return true;
        }
    }
    return false;
}

static bool role_listed(const gcs_user_entry *roles, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(roles[i].value, name) == 0)
            return true;
    }
    return false;
}

int gcs_digester_mapped(gcs_digester *d, const gcs_map_user *u, gcs_managed_digest *out)
{
    const gcs_profile *p = d->profile;
    /* The profile's marker is in the tree; it is covered as the digester's own
     * (or as an authority an attribute names, which then repeats). */
    const char *marker = gcs_profile_managed_authority(p);
    if (marker && (!d->marker || strcmp(marker, d->marker) != 0))
        return 0;
    size_t n = 1; /* the marker */
    for (size_t i = 0; i < u->value_count; i++)
        n += gcs_profile_attr_at(p, i)->target == GCS_TARGET_ROLES ? u->values[i].n : 1;
    gcs_user_entry small[64], *all = n <= 64 ? small : calloc(n, sizeof *all);
    if (!all)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    /* Each list's entries in a run of `all`, one list after another. */
    static const gcs_user_list lists[] = {GCS_USER_EMAILS, GCS_USER_PHONES, GCS_USER_ROLES,
                                          GCS_USER_EXTERNALIDS};
    static const gcs_target targets[] = {GCS_TARGET_EMAIL, GCS_TARGET_PHONE, GCS_TARGET_ROLES,
                                         GCS_TARGET_EXTERNALIDS};
    gcs_user_fields f;
    memset(&f, 0, sizeof f);
    f.active = u->active;
    size_t used = 0;
    for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
        gcs_user_entry *at = all + used;
        size_t count = 0;
        for (size_t i = 0; i < u->value_count; i++) {
            const gcs_profile_attr *a = gcs_profile_attr_at(p, i);
            const gcs_map_values *v = &u->values[i];
            if (a->target != targets[l] || v->n == 0)
                continue;
            if (a->target == GCS_TARGET_ROLES) {
                for (size_t k = 0; k < v->n; k++) {
                    if (!role_listed(at, count, v->items[k]))
                        at[count++] = (gcs_user_entry){NULL, v->items[k], 0, false};
                }
                continue;
            }
            at[count++] = (gcs_user_entry){a->target == GCS_TARGET_EMAIL ? "work" : a->sub,
                                           v->items[0], 0, false};
        }
        if (lists[l] == GCS_USER_EXTERNALIDS && marker)
            at[count++] = (gcs_user_entry){marker, u->source_key, 0, false};
        f.list[lists[l]].at = at;
        f.list[lists[l]].count = count;
        used += count;
    }
    for (size_t i = 0; i < u->value_count; i++) {
        const gcs_profile_attr *a = gcs_profile_attr_at(p, i);
        if (u->values[i].n == 0)
            continue;
        switch (a->target) {
        case GCS_TARGET_USERNAME: f.str[GCS_USER_USERNAME] = u->values[i].items[0]; break;
        case GCS_TARGET_DISPLAYNAME: f.str[GCS_USER_DISPLAYNAME] = u->values[i].items[0]; break;
        case GCS_TARGET_TITLE: f.str[GCS_USER_TITLE] = u->values[i].items[0]; break;
        case GCS_TARGET_EXTERNALID: f.str[GCS_USER_EXTERNALID] = u->values[i].items[0]; break;
        case GCS_TARGET_DEPARTMENT: f.str[GCS_USER_DEPARTMENT] = u->values[i].items[0]; break;
        case GCS_TARGET_DIVISION: f.str[GCS_USER_DIVISION] = u->values[i].items[0]; break;
        case GCS_TARGET_EMPLOYEENUMBER:
            f.str[GCS_USER_EMPLOYEENUMBER] = u->values[i].items[0];
            break;
        case GCS_TARGET_DATEHIRE: f.str[GCS_USER_DATEHIRE] = u->values[i].items[0]; break;
        default: break;
        }
    }
    int rc = keys_repeat(&f, GCS_USER_EMAILS) || keys_repeat(&f, GCS_USER_PHONES) ||
                     keys_repeat(&f, GCS_USER_EXTERNALIDS)
                 ? 0
                 : gcs_digester_fields(d, &f, out);
    if (all != small)
        free(all);
    return rc;
}

/* ==== The desired user as the diff takes it ==== */

static void set_path(json_t *user, const char *path, json_t *value /* stolen */)
{
    const char *colon = strrchr(path, ':');
    if (strncmp(path, "urn:", 4) == 0 && colon) {
        char urn[256];
        snprintf(urn, sizeof urn, "%.*s", (int)(colon - path), path);
        json_t *obj = json_object_get(user, urn);
        if (!obj) {
            obj = json_object();
            json_object_set_new(user, urn, obj);
        }
        if (!json_object_get(obj, colon + 1))
            json_object_set_new(obj, colon + 1, value);
        else
            json_decref(value);
    } else if (!json_object_get(user, path)) {
        json_object_set_new(user, path, value);
    } else {
        json_decref(value);
    }
}

static json_t *array_at_path(json_t *user, const char *path)
{
    set_path(user, path, json_array());
    const char *colon = strrchr(path, ':');
    if (strncmp(path, "urn:", 4) == 0 && colon) {
        char urn[256];
        snprintf(urn, sizeof urn, "%.*s", (int)(colon - path), path);
        return json_object_get(json_object_get(user, urn), colon + 1);
    }
    return json_object_get(user, path);
}

json_t *gcs_managed_complete(const gcs_profile *profile, json_t *user, bool has_manager)
{
    json_t *skip = json_array();
    for (size_t i = 0; i < gcs_profile_attr_count(profile); i++) {
        const gcs_profile_attr *a = gcs_profile_attr_at(profile, i);
        if (a->mode == GCS_ATTR_CREATE_ONLY) {
            if (!a->sub)
                json_array_append_new(skip, json_string(a->path));
            continue;
        }
        switch (a->target) {
        case GCS_TARGET_EMAIL:
        case GCS_TARGET_PHONE: {
            json_t *list = array_at_path(user, a->path);
            size_t j;
            json_t *e;
            bool present = false;
            json_array_foreach(list, j, e)
            {
                const char *t = json_string_value(json_object_get(e, "type"));
                present |= t && a->sub && strcmp(t, a->sub) == 0;
            }
            if (!present && a->sub)
                json_array_append_new(list, json_pack("{s:s,s:s}", "value", "", "type", a->sub));
            break;
        }
        case GCS_TARGET_ROLES:
        case GCS_TARGET_SKILLS:
        case GCS_TARGET_LANGUAGES:
            array_at_path(user, a->path);
            break;
        case GCS_TARGET_EXTERNALIDS:
            break; /* only ever added to */
        case GCS_TARGET_MANAGER:
            if (!has_manager)
                set_path(user, a->path, json_null());
            break;
        default:
            set_path(user, a->path, json_null());
        }
    }
    return skip;
}
