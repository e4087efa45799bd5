#include "plan/diff.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct diff {
    json_t *ops;
    json_t *changes;
    const json_t *skip;
} diff;

/* ==== Helpers ==== */

static bool is_blank(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static bool skipped(const diff *d, const char *path, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(d->skip, i, s) {
        const char *p = json_string_value(s);
        if (p && (strcmp(p, path) == 0 || strcmp(p, name) == 0))
            return true;
    }
    return false;
}

/* Attributes whose values Genesys treats without regard to case. */
static bool case_insensitive(const char *name)
{
    return strcmp(name, "userName") == 0 || strcmp(name, "emails") == 0;
}

static bool scalar_equal(const json_t *a, const json_t *b, bool nocase)
{
    if (json_is_string(a) && json_is_string(b))
        return nocase ? strcasecmp(json_string_value(a), json_string_value(b)) == 0
                      : strcmp(json_string_value(a), json_string_value(b)) == 0;
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

static void add_op(diff *d, const char *op, const char *path, json_t *value /* stolen */)
{
    json_t *o = json_pack("{s:s,s:s}", "op", op, "path", path);
    if (value)
        json_object_set_new(o, "value", value);
    json_array_append_new(d->ops, o);
}

static void add_change(diff *d, const char *attribute, const json_t *old_value,
                       const json_t *new_value)
{
    json_array_append_new(d->changes,
                          json_pack("{s:s,s:O,s:O}", "attribute", attribute, "old",
                                    old_value ? old_value : json_null(), "new",
                                    new_value ? new_value : json_null()));
}

static json_t *find_by(const json_t *array, const char *key, const char *value, bool nocase)
{
    size_t i;
    json_t *e;
    json_array_foreach(array, i, e) {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && value && (nocase ? strcasecmp(v, value) == 0 : strcmp(v, value) == 0))
            return e;
    }
    return NULL;
}

/* ==== Kinds of attributes ==== */

static void diff_simple(diff *d, const char *path, const char *name, const json_t *want,
                        const json_t *have)
{
    if (is_blank(want)) {
        if (!is_blank(have)) {
            add_op(d, "remove", path, NULL);
            add_change(d, path, have, NULL);
        }
        return;
    }
    if (have && scalar_equal(want, have, case_insensitive(name)))
        return;
    add_op(d, "replace", path, json_deep_copy(want));
    add_change(d, path, have, want);
}

/* emails, phoneNumbers: one entry per type, compared per type. */
static void diff_typed(diff *d, const char *path, const char *name, const json_t *want,
                       const json_t *have)
{
    bool nocase = case_insensitive(name);
    size_t i;
    json_t *w;
    char subpath[512], label[512];
    json_array_foreach(want, i, w) {
        const char *type = json_string_value(json_object_get(w, "type"));
        if (!type)
            continue;
        json_t *wv = json_object_get(w, "value");
        json_t *h = find_by(have, "type", type, false);
        json_t *hv = h ? json_object_get(h, "value") : NULL;
        snprintf(label, sizeof label, "%s[%s]", path, type);
        if (is_blank(wv)) {
            if (h && !is_blank(hv)) {
                snprintf(subpath, sizeof subpath, "%s[type eq \"%s\"]", path, type);
                add_op(d, "remove", subpath, NULL);
                add_change(d, label, hv, NULL);
            }
        } else if (!h) {
            add_op(d, "add", path, json_pack("[O]", w));
            add_change(d, label, NULL, wv);
        } else if (!hv || !scalar_equal(wv, hv, nocase)) {
            snprintf(subpath, sizeof subpath, "%s[type eq \"%s\"].value", path, type);
            add_op(d, "replace", subpath, json_deep_copy(wv));
            add_change(d, label, hv, wv);
        }
    }
}

/* Is every element of a in b, by the given key fields? */
static bool subset(const json_t *a, const json_t *b, const char *key, const char *extra)
{
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        const char *k = json_string_value(json_object_get(e, key));
        json_t *match = find_by(b, key, k, false);
        if (!match)
            return false;
        if (extra && !scalar_equal(json_object_get(e, extra), json_object_get(match, extra), false))
            return false;
    }
    return true;
}

/* roles, routingSkills, routingLanguages: the profile owns the whole set. */
static void diff_set(diff *d, const char *path, const char *name, const json_t *want,
                     const json_t *have)
{
    const char *key = strcmp(name, "roles") == 0 ? "value" : "name";
    const char *extra = strcmp(name, "roles") == 0 ? NULL : "proficiency";
    json_t *empty = json_array();
    const json_t *w = json_is_array(want) ? want : empty;
    const json_t *h = json_is_array(have) ? have : empty;
    bool same = json_array_size(w) == json_array_size(h) && subset(w, h, key, extra) &&
                subset(h, w, key, extra);
    if (!same) {
        if (json_array_size(w) == 0)
            add_op(d, "remove", path, NULL);
        else
            add_op(d, "replace", path, json_deep_copy(w));
        add_change(d, path, have, w);
    }
    json_decref(empty);
}

/* genesys externalIds: add or correct our own authorities, never remove others. */
static void diff_external_ids(diff *d, const char *path, const json_t *want, const json_t *have)
{
    size_t i;
    json_t *w;
    char subpath[512], label[512];
    json_array_foreach(want, i, w) {
        const char *authority = json_string_value(json_object_get(w, "authority"));
        json_t *wv = json_object_get(w, "value");
        if (!authority || is_blank(wv))
            continue;
        json_t *h = find_by(have, "authority", authority, false);
        json_t *hv = h ? json_object_get(h, "value") : NULL;
        snprintf(label, sizeof label, "externalIds[%s]", authority);
        if (!h) {
            add_op(d, "add", path, json_pack("[O]", w));
            add_change(d, label, NULL, wv);
        } else if (!scalar_equal(wv, hv, false)) {
            snprintf(subpath, sizeof subpath, "%s[authority eq \"%s\"].value", path, authority);
            add_op(d, "replace", subpath, json_deep_copy(wv));
            add_change(d, label, hv, wv);
        }
    }
}

static void diff_manager(diff *d, const char *path, const json_t *want, const json_t *have)
{
    json_t *wv = json_is_object(want) ? json_object_get(want, "value") : (json_t *)want;
    json_t *hv = json_is_object(have) ? json_object_get(have, "value") : NULL;
    if (is_blank(wv)) {
        if (!is_blank(hv)) {
            add_op(d, "remove", path, NULL);
            add_change(d, path, hv, NULL);
        }
    } else if (!hv || !scalar_equal(wv, hv, false)) {
        add_op(d, "replace", path, json_pack("{s:O}", "value", wv));
        add_change(d, path, hv, wv);
    }
}

static void diff_attribute(diff *d, const char *path, const char *name, const json_t *want,
                           const json_t *have)
{
    if (skipped(d, path, name))
        return;
    if (strcmp(name, "emails") == 0 || strcmp(name, "phoneNumbers") == 0)
        diff_typed(d, path, name, want, have);
    else if (strcmp(name, "roles") == 0 || strcmp(name, "routingSkills") == 0 ||
             strcmp(name, "routingLanguages") == 0)
        diff_set(d, path, name, want, have);
    else if (strcmp(name, "externalIds") == 0)
        diff_external_ids(d, path, want, have);
    else if (strcmp(name, "manager") == 0)
        diff_manager(d, path, want, have);
    else
        diff_simple(d, path, name, want, have);
}

/* Never compared: identity, server-owned and write-only attributes. */
static bool never_diffed(const char *name)
{
    static const char *const names[] = {"schemas", "id", "meta", "groups", "password"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

int gcs_diff_user(json_t **ops_out, json_t **changes_out, const json_t *desired,
                  const json_t *current, const json_t *skip_paths)
{
    if (!json_is_object(desired) || !json_is_object(current))
        return gcs_error_set(GCS_EINVALID, "diff: users must be JSON objects");
    json_t *empty_skip = json_array();
    diff d = {json_array(), json_array(), skip_paths ? skip_paths : empty_skip};
    const char *key;
    json_t *want;
    json_object_foreach((json_t *)desired, key, want) {
        if (never_diffed(key))
            continue;
        json_t *have = json_object_get(current, key);
        if (strncmp(key, "urn:", 4) == 0 && json_is_object(want)) {
            const char *sub;
            json_t *sub_want;
            json_object_foreach(want, sub, sub_want) {
                char path[512];
                snprintf(path, sizeof path, "%s:%s", key, sub);
                diff_attribute(&d, path, sub, sub_want, json_object_get(have, sub));
            }
        } else {
            diff_attribute(&d, key, key, want, have);
        }
    }
    json_decref(empty_skip);
    *ops_out = d.ops;
    if (changes_out)
        *changes_out = d.changes;
    else
        json_decref(d.changes);
    return 0;
}

json_t *gcs_diff_patch_body(json_t *ops)
{
    return json_pack("{s:[s],s:O}", "schemas", GCS_SCIM_PATCHOP, "Operations", ops);
}
