/* The SCIM PATCH engine (RFC 7644 3.5.2): add, replace and remove on simple
 * attributes, sub-attributes, extension URN paths and value filters such as
 * phoneNumbers[type eq "mobile"].value or members[value eq "…"].
 *
 * It works on a copy of the resource: the caller keeps the original when a
 * PATCH fails half-way, and validates the result (scim_users.c) before storing
 * it. Where the RFC leaves a choice, it follows what identity providers
 * expect: a filtered add/replace that finds no element creates one from the
 * filter's `eq` terms; a remove that finds nothing is not an error. */
#include "emulator/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PATCH_MAX_OPS 1000
#define PATH_MAX_LEN 1024

typedef enum { OP_ADD, OP_REPLACE, OP_REMOVE } patch_op;

static const char *const user_core[] = {
    "userName", "displayName", "nickName", "title", "active", "password", "emails",
    "phoneNumbers", "externalId", "roles", "name", "addresses", "userType",
    "preferredLanguage", "locale", "timezone", "photos", "profileUrl", "entitlements",
    "ims", "x509Certificates", NULL};
static const char *const user_enterprise[] = {
    "division", "department", "employeeNumber", "dateHire", "manager", "costCenter",
    "organization", NULL};
static const char *const user_genesys[] = {"routingSkills", "routingLanguages", "externalIds",
                                           NULL};
static const char *const group_core[] = {"members", "externalId", NULL};

static const char *const known_urns[] = {SCIM_ENTERPRISE, SCIM_GENESYS, SCIM_USER_SCHEMA,
                                         SCIM_GROUP_SCHEMA, NULL};

__attribute__((format(printf, 4, 5))) static int fail(scim_patch_error *err, int status,
                                                      const char *type, const char *fmt, ...)
{
    va_list ap;
    err->status = status;
    err->scim_type = type;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return -1;
}

/* ==== Paths ==== */

void gcs_scim_path_release(scim_path *p)
{
    free(p->filter);
    p->filter = NULL;
}

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '$' && *s != '-')
            return false;
    return true;
}

int gcs_scim_path_parse(scim_path *out, const char *path, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(path);
    if (len == 0 || len > PATH_MAX_LEN) {
        snprintf(err, errsz, "path is empty or over %d bytes", PATH_MAX_LEN);
        return -1;
    }
    const char *rest = path;
    if (strncasecmp(path, "urn:", 4) == 0) {
        size_t i;
        for (i = 0; known_urns[i]; i++) {
            size_t n = strlen(known_urns[i]);
            if (strncasecmp(path, known_urns[i], n) == 0 && (path[n] == '\0' || path[n] == ':'))
                break;
        }
        size_t ulen;
        if (known_urns[i]) {
            ulen = strlen(known_urns[i]);
        } else {
            /* An unknown extension: the URN ends at the last ':' before any '['. */
            const char *br = strchr(path, '[');
            const char *colon = NULL;
            for (const char *c = path; *c && (!br || c < br); c++)
                if (*c == ':')
                    colon = c;
            ulen = (size_t)(colon - path);
        }
        if (ulen >= sizeof out->urn) {
            snprintf(err, errsz, "schema URN too long");
            return -1;
        }
        if (!known_urns[i]) {
            memcpy(out->urn, path, ulen);
            out->urn[ulen] = '\0';
        } else if (strcmp(known_urns[i], SCIM_USER_SCHEMA) != 0 &&
                   strcmp(known_urns[i], SCIM_GROUP_SCHEMA) != 0) {
            snprintf(out->urn, sizeof out->urn, "%s", known_urns[i]);
        }
        rest = path + ulen;
        if (*rest == '\0')
            return 0; /* the extension itself */
        rest++;
    }
    size_t n = strcspn(rest, "[.");
    if (n == 0 || n >= sizeof out->attr) {
        snprintf(err, errsz, "bad attribute name in path '%.100s'", path);
        return -1;
    }
    memcpy(out->attr, rest, n);
    out->attr[n] = '\0';
    if (!name_ok(out->attr)) {
        snprintf(err, errsz, "bad attribute name in path '%.100s'", path);
        return -1;
    }
    rest += n;
    if (*rest == '[') {
        const char *start = ++rest;
        bool quoted = false;
        for (; *rest; rest++) {
            if (quoted && *rest == '\\' && rest[1])
                rest++;
            else if (*rest == '"')
                quoted = !quoted;
            else if (!quoted && *rest == ']')
                break;
        }
        if (*rest != ']') {
            snprintf(err, errsz, "unterminated '[' in path '%.100s'", path);
            return -1;
        }
        out->filter = strndup(start, (size_t)(rest - start));
        if (!out->filter) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        rest++;
    }
    if (*rest == '.') {
        rest++;
        if (strlen(rest) >= sizeof out->sub || !name_ok(rest)) {
            snprintf(err, errsz, "bad sub-attribute in path '%.100s'", path);
            gcs_scim_path_release(out);
            return -1;
        }
        snprintf(out->sub, sizeof out->sub, "%s", rest);
    } else if (*rest) {
        snprintf(err, errsz, "unexpected text in path '%.100s'", path);
        gcs_scim_path_release(out);
        return -1;
    }
    return 0;
}

/* ==== Helpers ==== */

static const char *find_key(const json_t *obj, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
        if (strcasecmp(key, name) == 0)
            return key;
    return NULL;
}

static const char *canonical(const char *const *names, const char *attr)
{
    for (size_t i = 0; names && names[i]; i++)
        if (strcasecmp(names[i], attr) == 0)
            return names[i];
    return NULL;
}

/* Merges object `from` into `into` (RFC: the sub-attributes given are replaced). */
static void merge(json_t *into, const json_t *from)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)from, key, v) {
        const char *k = find_key(into, key);
        json_object_set(into, k ? k : key, v);
    }
}

static bool same_value(const json_t *a, const json_t *b)
{
    const json_t *va = json_is_object(a) ? json_object_get(a, "value") : a;
    const json_t *vb = json_is_object(b) ? json_object_get(b, "value") : b;
    if (json_is_string(va) && json_is_string(vb))
        return strcasecmp(json_string_value(va), json_string_value(vb)) == 0;
    return va && vb && json_equal(va, vb);
}

/* ==== One operation ==== */

static int op_on_attr(json_t *container, const char *key, const scim_path *p, patch_op op,
                      json_t *value, scim_patch_error *err)
{
    json_t *cur = json_object_get(container, key);
    scim_filter *f = NULL;
    int rc = 0;
    if (p->filter) {
        char ferr[200];
        if (!(f = gcs_scim_filter_parse(p->filter, ferr, sizeof ferr))) {
            rc = fail(err, 400, "invalidPath", "bad filter in path: %s", ferr);
            goto out;
        }
        if (cur && !json_is_array(cur)) {
            rc = fail(err, 400, "invalidPath", "'%s' is not multi-valued", key);
            goto out;
        }
        if (!cur) {
            if (op == OP_REMOVE)
                goto out;
            cur = json_array();
            json_object_set_new(container, key, cur);
        }
        size_t matched = 0;
        for (size_t i = 0; i < json_array_size(cur);) {
            json_t *e = json_array_get(cur, i);
            if (!gcs_scim_filter_match(f, e)) {
                i++;
                continue;
            }
            matched++;
            if (op == OP_REMOVE) {
                if (*p->sub) {
                    const char *k = find_key(e, p->sub);
                    if (k)
                        json_object_del(e, k);
                    i++;
                } else {
                    json_array_remove(cur, i);
                }
                continue;
            }
            if (*p->sub) {
                const char *k = find_key(e, p->sub);
                json_object_set(e, k ? k : p->sub, value);
            } else if (json_is_object(value) && json_is_object(e)) {
                merge(e, value);
            } else {
                rc = fail(err, 400, "invalidValue", "value for '%s[…]' must be an object", key);
                goto out;
            }
            i++;
        }
        if (matched == 0 && op != OP_REMOVE) {
            json_t *e = json_object();
            gcs_scim_filter_eq_terms(f, e);
            if (*p->sub)
                json_object_set(e, p->sub, value);
            else if (json_is_object(value))
                merge(e, value);
            json_array_append_new(cur, e);
        }
        goto out;
    }

    if (*p->sub) {
        if (json_is_array(cur)) {
            size_t i;
            json_t *e;
            json_array_foreach(cur, i, e) {
                const char *k = json_is_object(e) ? find_key(e, p->sub) : NULL;
                if (op == OP_REMOVE) {
                    if (k)
                        json_object_del(e, k);
                } else if (json_is_object(e)) {
                    json_object_set(e, k ? k : p->sub, value);
                }
            }
            goto out;
        }
        if (op == OP_REMOVE) {
            const char *k = json_is_object(cur) ? find_key(cur, p->sub) : NULL;
            if (k)
                json_object_del(cur, k);
            goto out;
        }
        if (!json_is_object(cur)) {
            cur = json_object();
            json_object_set_new(container, key, cur);
        }
        const char *k = find_key(cur, p->sub);
        json_object_set(cur, k ? k : p->sub, value);
        goto out;
    }

    switch (op) {
    case OP_REMOVE:
        if (json_is_array(cur) && value) {
            /* {"op":"remove","path":"members","value":[{"value":"id"}]} */
            for (size_t i = 0; i < json_array_size(cur);) {
                bool hit = false;
                size_t j;
                json_t *v;
                if (json_is_array(value)) {
                    json_array_foreach(value, j, v)
                        hit = hit || same_value(json_array_get(cur, i), v);
                } else {
                    hit = same_value(json_array_get(cur, i), value);
                }
                if (hit)
                    json_array_remove(cur, i);
                else
                    i++;
            }
        } else {
            json_object_del(container, key);
        }
        break;
    case OP_ADD:
        if (json_is_array(cur) || json_is_array(value)) {
            if (!json_is_array(cur)) {
                cur = json_array();
                json_object_set_new(container, key, cur);
            }
            json_t *vals = json_is_array(value) ? json_incref((json_t *)value)
                                                : json_pack("[O]", value);
            size_t i;
            json_t *v;
            json_array_foreach(vals, i, v) {
                bool dup = false;
                size_t j;
                json_t *e;
                json_array_foreach(cur, j, e)
                    dup = dup || json_equal(e, v) ||
                          (json_is_object(v) && json_object_size(v) == 1 && same_value(e, v));
                if (!dup)
                    json_array_append(cur, v);
            }
            json_decref(vals);
            break;
        }
        /* a single-valued add is a replace */
        __attribute__((fallthrough));
    case OP_REPLACE:
        if (json_is_object(cur) && json_is_object(value))
            merge(cur, value);
        else
            json_object_set(container, key, value);
        break;
    }
out:
    gcs_scim_filter_free(f);
    return rc;
}

static int apply_path(json_t *doc, const char *kind, patch_op op, const char *path,
                      const json_t *value, scim_patch_error *err)
{
    scim_path p;
    char perr[200];
    int rc = 0;
    bool user = strcmp(kind, "User") == 0;
    if (gcs_scim_path_parse(&p, path, perr, sizeof perr) < 0)
        return fail(err, 400, "invalidPath", "%s", perr);
    if (op != OP_REMOVE && !value) {
        rc = fail(err, 400, "invalidValue", "operation on '%s' has no value", path);
        goto out;
    }
    json_t *container = doc;
    const char *const *names = user ? user_core : group_core;
    json_t *val = (json_t *)value; /* jansson's setters are not const-correct */
    if (*p.urn) {
        if (!user || (strcasecmp(p.urn, SCIM_ENTERPRISE) != 0 && strcasecmp(p.urn, SCIM_GENESYS) != 0)) {
            rc = fail(err, 400, "invalidPath", "unknown schema in path '%.150s'", path);
            goto out;
        }
        names = strcasecmp(p.urn, SCIM_ENTERPRISE) == 0 ? user_enterprise : user_genesys;
        const char *urn = strcasecmp(p.urn, SCIM_ENTERPRISE) == 0 ? SCIM_ENTERPRISE : SCIM_GENESYS;
        container = json_object_get(doc, urn);
        if (!*p.attr) {
            /* The whole extension. */
            if (op == OP_REMOVE) {
                json_object_del(doc, urn);
                goto out;
            }
            if (!json_is_object(value)) {
                rc = fail(err, 400, "invalidValue", "value for '%.150s' must be an object", path);
                goto out;
            }
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)value, key, v) {
                char sub[400];
                snprintf(sub, sizeof sub, "%s:%s", urn, key);
                if ((rc = apply_path(doc, kind, op, sub, v, err)) < 0)
                    goto out;
            }
            goto out;
        }
        if (!json_is_object(container)) {
            if (op == OP_REMOVE)
                goto out;
            container = json_object();
            json_object_set_new(doc, urn, container);
        }
    }
    static const char *const read_only[] = {"id", "meta", "schemas", "groups", NULL};
    if (!*p.urn && (canonical(read_only, p.attr) ||
                    (!user && strcasecmp(p.attr, "displayName") == 0))) {
        if (strcasecmp(p.attr, "schemas") == 0)
            goto out; /* clients echo schemas; nothing to change */
        rc = fail(err, 400, "mutability", "attribute '%s' is read-only", p.attr);
        goto out;
    }
    const char *canon = canonical(names, p.attr);
    if (!canon) {
        rc = fail(err, 400, "invalidPath", "unknown attribute '%.150s'", p.attr);
        goto out;
    }
    const char *key = find_key(container, canon);
    rc = op_on_attr(container, key ? key : canon, &p, op, val, err);
out:
    gcs_scim_path_release(&p);
    return rc;
}

int gcs_scim_patch_apply(json_t *doc, const json_t *body, const char *kind, scim_patch_error *err)
{
    const json_t *ops = json_object_get(body, "Operations");
    if (!ops)
        ops = json_object_get(body, "operations");
    if (!json_is_array(ops) || json_array_size(ops) == 0)
        return fail(err, 400, "invalidSyntax", "Operations must be a non-empty array");
    if (json_array_size(ops) > PATCH_MAX_OPS)
        return fail(err, 400, "invalidSyntax", "too many operations");
    size_t i;
    const json_t *o;
    json_array_foreach(ops, i, o) {
        const char *name = json_string_value(json_object_get(o, "op"));
        patch_op op;
        if (name && strcasecmp(name, "add") == 0)
            op = OP_ADD;
        else if (name && strcasecmp(name, "replace") == 0)
            op = OP_REPLACE;
        else if (name && strcasecmp(name, "remove") == 0)
            op = OP_REMOVE;
        else
            return fail(err, 400, "invalidSyntax", "op must be add, replace or remove, not '%.50s'",
                        name ? name : "(none)");
        const json_t *pathv = json_object_get(o, "path");
        const json_t *value = json_object_get(o, "value");
        if (pathv && !json_is_string(pathv))
            return fail(err, 400, "invalidPath", "path must be a string");
        if (pathv && *json_string_value(pathv)) {
            if (apply_path(doc, kind, op, json_string_value(pathv), value, err) < 0)
                return -1;
            continue;
        }
        if (op == OP_REMOVE)
            return fail(err, 400, "noTarget", "remove needs a path");
        if (!json_is_object(value))
            return fail(err, 400, "invalidValue", "without a path, value must be an object");
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)value, key, v) {
            if (strcasecmp(key, "schemas") == 0)
                continue;
            if (apply_path(doc, kind, op, key, v, err) < 0)
                return -1;
        }
    }
    return 0;
}
