#include "plan/diff.h"
#include "core/error.h"
#include "core/jsontext.h"

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

/* ==== A create's changes as text ====
 *
 * Against nothing, every attribute the desired user sets is a change from null
 * to its value, which the compact text already holds as the plan writes it but
 * for the spaces after ',' and ':'. The walk below follows gcs_diff_user's
 * branches with `have` always absent; anything it is not sure to read as
 * jansson would (a name with an escape) sends the caller to the tree. */

#define LABEL_MAX 512 /* gcs_diff_user's path and label buffers */

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct changes_text {
    gcs_buf *out;
    size_t count;
    bool declined;
} changes_text;

static bool span_is(span s, const char *word)
{
    size_t n = strlen(word);
    return s.n == n && memcmp(s.p, word, n) == 0;
}

/* is_blank() of a value's text: absent, null, "" or []. */
static bool blank_text(span v)
{
    return !v.p || span_is(v, "null") || span_is(v, "\"\"") || span_is(v, "[]");
}

/* The next member of an object's compact text at *at (just past its '{' or a
 * member): its name, without quotes, and its value. 1 found, 0 at the '}',
 * -1 when the text is not as expected or a name holds an escape. */
static int next_member(const char **at, span *name, span *value)
{
    const char *p = *at;
    if (*p == '}')
        return 0;
    if (*p != '"')
        return -1;
    const char *q = p + 1 + strcspn(p + 1, "\"\\");
    if (*q != '"' || q[1] != ':')
        return -1;
    const char *v = q + 2, *end = gcs_json_text_value_end(v);
    if (!end || end == v || (*end != ',' && *end != '}'))
        return -1;
    *name = (span){p + 1, (size_t)(q - p - 1)};
    *value = (span){v, (size_t)(end - v)};
    *at = *end == ',' ? end + 1 : end;
    return 1;
}

/* The member `key` of the object text `obj` (a span from '{' to '}'): its
 * value's span, p NULL when absent. -1 when the text needs the tree. */
static int member_of(span obj, const char *key, span *out)
{
    *out = (span){NULL, 0};
    if (!obj.n || obj.p[0] != '{')
        return 0;
    const char *at = obj.p + 1;
    span name, value;
    int rc;
    while ((rc = next_member(&at, &name, &value)) == 1) {
        if (span_is(name, key)) {
            *out = value;
            return 0;
        }
    }
    return rc;
}

/* The next element of an array's compact text at *at (just past its '[' or an
 * element). 1 found, 0 at the ']', -1 when the text is not as expected. */
static int next_element(const char **at, span *value)
{
    const char *p = *at;
    if (*p == ']')
        return 0;
    const char *end = gcs_json_text_value_end(p);
    if (!end || end == p || (*end != ',' && *end != ']'))
        return -1;
    *value = (span){p, (size_t)(end - p)};
    *at = *end == ',' ? end + 1 : end;
    return 1;
}

/* {"attribute": LABEL, "old": null, "new": VALUE}: the label is the text of
 * names without escapes, so it is written as it is. */
static int put_change(changes_text *t, const char *label, span value)
{
    gcs_buf *b = t->out;
    int rc = gcs_buf_puts(b, t->count ? ", {\"attribute\": \"" : "{\"attribute\": \"");
    if (rc == 0)
        rc = gcs_buf_puts(b, label);
    if (rc == 0)
        rc = gcs_buf_puts(b, "\", \"old\": null, \"new\": ");
    if (rc == 0)
        rc = gcs_json_text_put_spaced(b, value.p, value.n);
    if (rc == 0)
        rc = gcs_buf_putc(b, '}');
    t->count++;
    return rc;
}

/* label = a "[" b "]" as the diff's snprintf into LABEL_MAX bytes would, or
 * declined when it would have been cut. */
static bool bracket_label(char *label, const char *a, span b)
{
    size_t n = strlen(a);
    if (n + b.n + 2 >= LABEL_MAX)
        return false;
    memcpy(label, a, n);
    label[n] = '[';
    memcpy(label + n + 1, b.p, b.n);
    label[n + 1 + b.n] = ']';
    label[n + 2 + b.n] = '\0';
    return true;
}

/* A string's text without quotes, when it holds no escape; else p NULL (and
 * *escaped set when it is a string with one). */
static span plain_string(span v, bool *escaped)
{
    if (v.n < 2 || v.p[0] != '"')
        return (span){NULL, 0};
    if (memchr(v.p, '\\', v.n)) {
        *escaped = true;
        return (span){NULL, 0};
    }
    return (span){v.p + 1, v.n - 2};
}

/* emails, phoneNumbers (`tag` the member naming the entry: "type"), and the
 * genesys externalIds ("authority"): one change per entry with a value. */
static int entries_text(changes_text *t, const char *path, span want, const char *tag)
{
    if (!want.n || want.p[0] != '[')
        return 0; /* not an array: json_array_foreach sees nothing */
    const char *at = want.p + 1;
    span e;
    int more;
    while ((more = next_element(&at, &e)) == 1) {
        span tag_text, value;
        if (member_of(e, tag, &tag_text) < 0 || member_of(e, "value", &value) < 0)
            return t->declined = true, 0;
        bool escaped = false;
        span name = tag_text.p ? plain_string(tag_text, &escaped) : (span){NULL, 0};
        if (escaped)
            return t->declined = true, 0;
        if (!name.p || blank_text(value))
            continue;
        char label[LABEL_MAX];
        if (!bracket_label(label, strcmp(tag, "authority") == 0 ? "externalIds" : path, name))
            return t->declined = true, 0;
        int rc = put_change(t, label, value);
        if (rc < 0)
            return rc;
    }
    if (more < 0)
        t->declined = true;
    return 0;
}

static int attribute_text(changes_text *t, const char *path, span name, span want)
{
    if (span_is(name, "emails") || span_is(name, "phoneNumbers"))
        return entries_text(t, path, want, "type");
    if (span_is(name, "externalIds"))
        return entries_text(t, path, want, "authority");
    if (span_is(name, "roles") || span_is(name, "routingSkills") ||
        span_is(name, "routingLanguages"))
        return want.p[0] == '[' && !span_is(want, "[]") ? put_change(t, path, want) : 0;
    if (span_is(name, "manager") && want.p[0] == '{') {
        span value;
        if (member_of(want, "value", &value) < 0)
            return t->declined = true, 0;
        want = value;
    }
    return blank_text(want) ? 0 : put_change(t, path, want);
}

static bool never_diffed_span(span name)
{
    return span_is(name, "schemas") || span_is(name, "id") || span_is(name, "meta") ||
           span_is(name, "groups") || span_is(name, "password");
}

int gcs_diff_create_changes_text(gcs_buf *out, size_t *count, const char *desired)
{
    changes_text t = {out, 0, false};
    size_t before = out->len;
    int rc = 0, more = -1;
    const char *at = desired[0] == '{' ? desired + 1 : NULL;
    span key, want;
    while (at && rc == 0 && !t.declined && (more = next_member(&at, &key, &want)) == 1) {
        if (never_diffed_span(key))
            continue;
        char path[LABEL_MAX];
        if (key.n >= sizeof path) {
            t.declined = true;
            break;
        }
        memcpy(path, key.p, key.n);
        path[key.n] = '\0';
        if (key.n < 4 || memcmp(key.p, "urn:", 4) != 0 || want.p[0] != '{') {
            rc = attribute_text(&t, path, key, want);
            continue;
        }
        const char *sub_at = want.p + 1;
        span sub, sub_want;
        int sub_more = 0;
        while (rc == 0 && !t.declined && (sub_more = next_member(&sub_at, &sub, &sub_want)) == 1) {
            if (key.n + 1 + sub.n >= sizeof path) {
                t.declined = true;
                break;
            }
            path[key.n] = ':';
            memcpy(path + key.n + 1, sub.p, sub.n);
            path[key.n + 1 + sub.n] = '\0';
            rc = attribute_text(&t, path, sub, sub_want);
        }
        if (rc == 0 && sub_more < 0)
            t.declined = true;
    }
    if (rc == 0 && more != 0)
        t.declined = true;
    if (rc < 0 || t.declined) {
        if (out->len > before) {
            out->len = before;
            out->ptr[before] = '\0';
        }
        return rc < 0 ? rc : 0;
    }
    *count = t.count;
    return 1;
}
