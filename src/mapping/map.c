/*
 * One source row through a compiled profile into one desired SCIM user.
 *
 * Two passes: every attribute is evaluated and validated first (collecting all
 * errors, so that one run tells the administrator everything wrong with a
 * row); the SCIM user is built only when no error was found. That is what
 * makes "a rejected row never yields a partial user" hold by construction.
 */
#include "mapping/internal.h"
#include "mapping/map.h"
#include "mapping/transform.h"

#include "core/error.h"
#include "core/jsontext.h"
#include "core/scim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ==== Evaluating one attribute ==== */

/* Renders "{first} {last}" from the row; a field the row lacks reads as "". */
static int render_template(gcs_vals *out, const char *tmpl, const gcs_row *row)
{
    gcs_buf b;
    int rc = 0;
    gcs_buf_init(&b, GCS_VALUE_MAX);
    for (const char *p = tmpl; *p && rc == 0; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            rc = gcs_buf_putc(&b, *p);
            p++;
        } else if (*p == '{') {
            const char *end = strchr(p, '}'); /* the profile checked it is there */
            char name[256];
            size_t n = (size_t)(end - p - 1); /* cut as snprintf would, without its cost */
            if (n >= sizeof name)
                n = sizeof name - 1;
            memcpy(name, p + 1, n);
            name[n] = '\0';
            const char *v = gcs_row_get(row, name);
            if (v)
                rc = gcs_buf_puts(&b, v);
            p = end;
        } else {
            rc = gcs_buf_putc(&b, *p);
        }
    }
    if (rc < 0)
        rc = gcs_error_set(GCS_EINVALID, "the template's result is longer than %zu bytes",
                           GCS_VALUE_MAX);
    else
        rc = gcs_mapping__vals_push(out, b.ptr, b.len);
    gcs_buf_release(&b);
    return rc;
}

/*
 * Evaluates rule `a` on `row` into `out` (empty when there is no value).
 * Problems go to `errs`; returns GCS_ENOMEM only.
 */
static int eval_attr(gcs_vals *out, gcs_row_errors *errs, const gcs_attr_rule *a,
                     const gcs_row *row, const gcs_org_names *org)
{
    const gcs_row_field *f = a->from ? gcs_row_find(row, a->from) : NULL;
    gcs_loc loc = {row->file, row->line, f ? f->column : 0, a->from, a->pub.name};
    int rc;
    memset(out, 0, sizeof *out);

    if (a->from) {
        const char *v = f ? f->value : "";
        size_t bad;
        if (!gcs_utf8_valid(v, strlen(v), &bad))
            return gcs_mapping__loc_error(errs, &loc, "the value is not valid UTF-8");
        rc = gcs_mapping__vals_push(out, v, strlen(v));
    } else if (a->tmpl) {
        size_t bad;
        if ((rc = render_template(out, a->tmpl, row)) == 0 &&
            !gcs_utf8_valid(out->items[0], strlen(out->items[0]), &bad)) {
            gcs_mapping__vals_release(out);
            return gcs_mapping__loc_error(errs, &loc, "a field of the template is not valid UTF-8");
        }
    } else {
        rc = gcs_mapping__vals_push(out, a->constant, strlen(a->constant));
    }
    for (size_t i = 0; rc == 0 && i < a->nxf; i++)
        rc = gcs_mapping__xf_apply(out, &a->xf[i]);
    if (rc == GCS_ENOMEM)
        return rc;
    if (rc < 0) {
        gcs_mapping__vals_release(out);
        return gcs_mapping__loc_error(errs, &loc, "%s", gcs_error_last());
    }

    /* Empty items of a list carry nothing. */
    size_t keep = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (out->items[i][0])
            out->items[keep++] = out->items[i];
        else
            free(out->items[i]);
    }
    out->n = keep;
    if (out->n == 0 && a->dflt && (rc = gcs_mapping__vals_push(out, a->dflt, strlen(a->dflt))) < 0)
        return rc;
    if (out->n == 0) {
        if (a->pub.required)
            return gcs_mapping__loc_error(errs, &loc, "is required but %s",
                                          a->from ? "the field is empty" : "the value is empty");
        return 0;
    }
    return gcs_mapping__validate_attr(errs, &loc, a, out, org);
}

/* ==== Building the SCIM user ==== */

static json_t *ensure_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!o) {
        o = json_object();
        if (json_object_set_new(parent, key, o) < 0)
            return NULL;
    }
    return o;
}

static json_t *ensure_array(json_t *parent, const char *key)
{
    json_t *a = json_object_get(parent, key);
    if (!a) {
        a = json_array();
        if (json_object_set_new(parent, key, a) < 0)
            return NULL;
    }
    return a;
}

/* Adds a "name"+"proficiency" list, dropping repeated names (the first wins). */
static int put_proficiencies(json_t *arr, const gcs_attr_rule *a, const gcs_vals *v)
{
    for (size_t i = 0; i < v->n; i++) {
        size_t n;
        double p;
        gcs_mapping__skill_parse(v->items[i], a->prof_sep ? a->prof_sep : ":", a->proficiency, &n,
                                 &p);
        json_t *name = json_stringn(v->items[i], n);
        if (!name)
            return GCS_ENOMEM;
        bool seen = false;
        size_t k;
        json_t *e;
        json_array_foreach(arr, k, e) {
            seen = seen || json_equal(json_object_get(e, "name"), name);
        }
        if (seen) {
            json_decref(name);
            continue;
        }
        if (json_array_append_new(arr, json_pack("{s:o,s:f}", "name", name, "proficiency", p)) < 0)
            return GCS_ENOMEM;
    }
    return 0;
}

/* {k1: v1} or {k1: v1, k2: v2}: json_pack's "{s:s,s:s}" without parsing its
 * format, which every row paid several times. The keys are the caller's
 * constants; NULL when out of memory or a value is not UTF-8, as json_pack. */
static json_t *string_pair(const char *k1, const char *v1, const char *k2, const char *v2)
{
    json_t *o = json_object();
    if (!o || json_object_set_new_nocheck(o, k1, json_string(v1)) < 0 ||
        (k2 && json_object_set_new_nocheck(o, k2, json_string(v2)) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The standard schemas, as every desired user starts. */
static json_t *new_user(void)
{
    json_t *user = json_object(), *schemas = json_array();
    if (!user || !schemas) {
        json_decref(user);
        json_decref(schemas);
        return NULL;
    }
    /* json_object_set_new takes the array even when it fails */
    if (json_object_set_new_nocheck(user, "schemas", schemas) < 0 ||
        json_array_append_new(schemas, json_string_nocheck(GCS_SCIM_CORE_USER)) < 0 ||
        json_array_append_new(schemas, json_string_nocheck(GCS_SCIM_ENTERPRISE_USER)) < 0 ||
        json_array_append_new(schemas, json_string_nocheck(GCS_SCIM_GENESYS_USER)) < 0) {
        json_decref(user);
        return NULL;
    }
    return user;
}

static int put_attr(json_t *user, const gcs_attr_rule *a, const gcs_vals *v)
{
    json_t *ent = NULL, *gen = NULL, *arr;
    const char *s = v->items[0];
    bool b = false;
    switch (a->pub.target) {
    case GCS_TARGET_USERNAME:
    case GCS_TARGET_DISPLAYNAME:
    case GCS_TARGET_TITLE:
    case GCS_TARGET_EXTERNALID:
        return json_object_set_new(user, gcs_target_name(a->pub.target), json_string(s));
    case GCS_TARGET_ACTIVE:
        gcs_mapping__bool_parse(s, &b);
        return json_object_set_new(user, "active", json_boolean(b));
    case GCS_TARGET_EMAIL: {
        if (!(arr = ensure_array(user, "emails")))
            return GCS_ENOMEM;
        json_t *email = string_pair("value", s, "type", "work");
        if (email && json_object_set_new_nocheck(email, "primary", json_true()) < 0) {
            json_decref(email);
            email = NULL;
        }
        return json_array_append_new(arr, email);
    }
    case GCS_TARGET_PHONE:
        if (!(arr = ensure_array(user, "phoneNumbers")))
            return GCS_ENOMEM;
        return json_array_append_new(arr, string_pair("value", s, "type", a->pub.sub));
    case GCS_TARGET_ROLES:
        if (!(arr = ensure_array(user, "roles")))
            return GCS_ENOMEM;
        for (size_t i = 0; i < v->n; i++) {
            bool seen = false;
            size_t k;
            json_t *e;
            json_array_foreach(arr, k, e) {
                seen = seen || !strcmp(json_string_value(json_object_get(e, "value")),
                                       v->items[i]);
            }
            if (!seen && json_array_append_new(arr, string_pair("value", v->items[i], NULL, NULL)) < 0)
                return GCS_ENOMEM;
        }
        return 0;
    case GCS_TARGET_DEPARTMENT:
    case GCS_TARGET_DIVISION:
    case GCS_TARGET_EMPLOYEENUMBER:
    case GCS_TARGET_DATEHIRE:
        if (!(ent = ensure_object(user, GCS_SCIM_ENTERPRISE_USER)))
            return GCS_ENOMEM;
        return json_object_set_new(ent, gcs_target_name(a->pub.target), json_string(s));
    case GCS_TARGET_SKILLS:
    case GCS_TARGET_LANGUAGES:
        if (!(gen = ensure_object(user, GCS_SCIM_GENESYS_USER)) ||
            !(arr = ensure_array(gen, gcs_target_name(a->pub.target))))
            return GCS_ENOMEM;
        return put_proficiencies(arr, a, v);
    case GCS_TARGET_EXTERNALIDS:
        if (!(gen = ensure_object(user, GCS_SCIM_GENESYS_USER)) ||
            !(arr = ensure_array(gen, "externalIds")))
            return GCS_ENOMEM;
        return json_array_append_new(arr, string_pair("authority", a->pub.sub, "value", s));
    case GCS_TARGET_MANAGER: /* kept out of the user: see manager_key */
    case GCS_TARGET__COUNT:
        break;
    }
    return 0;
}

/* ==== gcs_map_row ==== */

static void free_values(gcs_map_user *u)
{
    for (size_t i = 0; u->values && i < u->value_count; i++) {
        for (size_t k = 0; k < u->values[i].n; k++)
            free(u->values[i].items[k]);
        free(u->values[i].items);
    }
    free(u->values);
    u->values = NULL;
    u->value_count = 0;
}

void gcs_map_user_init(gcs_map_user *u)
{
    memset(u, 0, sizeof *u);
}

void gcs_map_user_release(gcs_map_user *u)
{
    if (!u)
        return;
    free(u->file);
    json_decref(u->user);
    free(u->source_key);
    for (size_t i = 0; i < u->match_count; i++)
        free(u->match[i].value);
    free(u->match);
    free(u->manager_key);
    free(u->create_only);
    gcs_row_errors_release(&u->errors);
    free_values(u);
    memset(u, 0, sizeof *u);
}

static int reject(gcs_map_user *out)
{
    char text[1024];
    json_decref(out->user);
    out->user = NULL;
    free(out->source_key);
    out->source_key = NULL;
    for (size_t i = 0; i < out->match_count; i++)
        free(out->match[i].value);
    free(out->match);
    out->match = NULL;
    out->match_count = 0;
    free(out->manager_key);
    out->manager_key = NULL;
    free(out->create_only);
    out->create_only = NULL;
    out->create_only_count = 0;
    free_values(out);
    out->status = GCS_MAP_REJECTED;
    if (out->errors.count)
        return gcs_error_set(GCS_EINVALID, "%s",
                             gcs_row_error_format(text, sizeof text, &out->errors.items[0]));
    return gcs_error_set(GCS_EINVALID, "%s: line %lu: rejected", out->file, out->line);
}

/* The tree of a mapped user from its attributes' values (pass 2): the
 * standard schemas, every attribute with a value, the marker. */
static int build_tree(gcs_map_user *out, const gcs_profile *p, const gcs_vals *vals)
{
    out->user = new_user();
    if (!out->user)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->nattrs; i++) {
        if (vals[i].n && put_attr(out->user, &p->attrs[i], &vals[i]) < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (p->marker) {
        json_t *gen = ensure_object(out->user, GCS_SCIM_GENESYS_USER);
        json_t *ids = gen ? ensure_array(gen, "externalIds") : NULL;
        if (!ids || json_array_append_new(ids, string_pair("authority", p->marker, "value",
                                                           out->source_key)) < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

static bool scalar_target(gcs_target t)
{
    switch (t) {
    case GCS_TARGET_USERNAME:
    case GCS_TARGET_DISPLAYNAME:
    case GCS_TARGET_ACTIVE:
    case GCS_TARGET_TITLE:
    case GCS_TARGET_EXTERNALID:
    case GCS_TARGET_DEPARTMENT:
    case GCS_TARGET_DIVISION:
    case GCS_TARGET_EMPLOYEENUMBER:
    case GCS_TARGET_DATEHIRE:
        return true;
    default:
        return false;
    }
}

bool gcs_map_profile_is_flat(const gcs_profile *p)
{
    for (size_t i = 0; i < p->nattrs; i++) {
        gcs_target t = p->attrs[i].pub.target;
        if (t == GCS_TARGET_SKILLS || t == GCS_TARGET_LANGUAGES || t >= GCS_TARGET__COUNT)
            return false;
        for (size_t j = 0; scalar_target(t) && j < i; j++) {
            if (p->attrs[j].pub.target == t)
                return false;
        }
    }
    return true;
}

static int map_row(gcs_map_user *out, const gcs_profile *p, const gcs_row *row,
                   const gcs_org_names *org, bool flat)
{
    gcs_vals *vals = NULL;
    int rc = 0;
    gcs_map_user_init(out);
    out->line = row->line;
    if (!(out->file = strdup(row->file ? row->file : ""))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if (p->scope && !gcs_mapping__cond_eval(p->scope, row)) {
        out->status = GCS_MAP_OUT_OF_SCOPE;
        goto out;
    }
    if (!(vals = calloc(p->nattrs, sizeof *vals))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }

    /* Pass 1: evaluate and validate everything. */
    for (size_t i = 0; i < p->nattrs; i++) {
        if ((rc = eval_attr(&vals[i], &out->errors, &p->attrs[i], row, org)) < 0)
            goto out;
    }

    /* Matching keys, in precedence order; the first is the source key. */
    if (!(out->match = calloc(p->nmatch, sizeof *out->match))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < p->nmatch; k++) {
        for (size_t i = 0; i < p->nattrs; i++) {
            if (strcmp(p->attrs[i].pub.name, p->match[k]) || vals[i].n == 0)
                continue;
            gcs_match_value *m = &out->match[out->match_count];
            m->key = p->match[k];
            if (!(m->value = strdup(vals[i].items[0]))) {
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                goto out;
            }
            out->match_count++;
            if (k == 0 && !(out->source_key = strdup(m->value))) {
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
    for (size_t i = 0; i < p->nattrs; i++) {
        const gcs_attr_rule *a = &p->attrs[i];
        if (a->pub.target != GCS_TARGET_MANAGER || vals[i].n == 0)
            continue;
        if (out->source_key && !strcmp(vals[i].items[0], out->source_key)) {
            const gcs_row_field *f = a->from ? gcs_row_find(row, a->from) : NULL;
            gcs_loc loc = {row->file, row->line, f ? f->column : 0, a->from, a->pub.name};
            if ((rc = gcs_mapping__loc_error(&out->errors, &loc, "'%s' is the person's own key",
                                             vals[i].items[0])) < 0)
                goto out;
        } else if (!(out->manager_key = strdup(vals[i].items[0]))) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (out->errors.count || !out->source_key) {
        rc = reject(out);
        goto out;
    }

    /* Pass 2: build. Nothing below can reject the row. */
    size_t create_only = 0;
    for (size_t i = 0; i < p->nattrs; i++)
        create_only += p->attrs[i].pub.mode == GCS_ATTR_CREATE_ONLY;
    if (create_only && !(out->create_only = calloc(create_only, sizeof *out->create_only))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p->nattrs; i++) {
        if (p->attrs[i].pub.mode == GCS_ATTR_CREATE_ONLY)
            out->create_only[out->create_only_count++] = &p->attrs[i].pub;
    }
    if (flat && gcs_map_profile_is_flat(p)) {
        /* The values are the user: they move to `out`. */
        if (!(out->values = calloc(p->nattrs ? p->nattrs : 1, sizeof *out->values))) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
        out->value_count = p->nattrs;
        out->active = -1;
        for (size_t i = 0; i < p->nattrs; i++) {
            out->values[i].items = vals[i].items;
            out->values[i].n = vals[i].n;
            memset(&vals[i], 0, sizeof vals[i]);
            bool b = false;
            if (p->attrs[i].pub.target == GCS_TARGET_ACTIVE && out->values[i].n) {
                gcs_mapping__bool_parse(out->values[i].items[0], &b);
                out->active = b;
            }
        }
    } else if ((rc = build_tree(out, p, vals)) < 0) {
        goto out;
    }
    out->status = GCS_MAP_OK;
out:
    if (vals) {
        for (size_t i = 0; i < p->nattrs; i++)
            gcs_mapping__vals_release(&vals[i]);
        free(vals);
    }
    if (rc == GCS_ENOMEM || (rc < 0 && rc != GCS_EINVALID)) {
        gcs_row_errors_release(&out->errors);
        reject(out);
        gcs_error_set(rc, "out of memory");
    }
    return rc;
}

int gcs_map_row(gcs_map_user *out, const gcs_profile *p, const gcs_row *row,
                const gcs_org_names *org)
{
    return map_row(out, p, row, org, false);
}

int gcs_map_row_flat(gcs_map_user *out, const gcs_profile *p, const gcs_row *row,
                     const gcs_org_names *org)
{
    return map_row(out, p, row, org, true);
}

int gcs_map_user_build(gcs_map_user *u, const gcs_profile *p)
{
    if (u->status != GCS_MAP_OK || u->user || !u->values)
        return gcs_error_set(GCS_EINVALID, "no flat user to build");
    gcs_vals *vals = calloc(p->nattrs ? p->nattrs : 1, sizeof *vals);
    if (!vals)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->nattrs; i++) {
        vals[i].items = u->values[i].items; /* borrowed */
        vals[i].n = vals[i].cap = u->values[i].n;
    }
    int rc = build_tree(u, p, vals);
    free(vals);
    if (rc < 0) {
        json_decref(u->user);
        u->user = NULL;
    }
    return rc;
}

/* ==== A flat user's text ==== */

const char *gcs_map_user_name(const gcs_map_user *u, const gcs_profile *p)
{
    for (size_t i = 0; u->values && i < p->nattrs; i++) {
        if (p->attrs[i].pub.target == GCS_TARGET_USERNAME && u->values[i].n)
            return u->values[i].items[0];
    }
    return NULL;
}

/* A string as jansson dumps it: 1, 0 (not a string jansson holds) or an error. */
static int put_str(gcs_buf *b, const char *s)
{
    return gcs_json_text_put_string(b, s, strlen(s));
}

/* ',' unless first, then "key": (keys are gcscim's own, plain). */
static int put_key(gcs_buf *b, bool *first, const char *key)
{
    int rc = *first ? 0 : gcs_buf_putc(b, ',');
    *first = false;
    if (rc == 0)
        rc = gcs_buf_putc(b, '"');
    if (rc == 0)
        rc = gcs_buf_puts(b, key);
    return rc == 0 ? gcs_buf_puts(b, "\":") : rc;
}

/* {"k1":"v1"} or {"k1":"v1","k2":"v2"} and an optional tail before '}'. */
static int put_pair(gcs_buf *b, const char *k1, const char *v1, const char *k2, const char *v2,
                    const char *tail)
{
    bool first = true;
    int rc = gcs_buf_putc(b, '{');
    if (rc == 0)
        rc = put_key(b, &first, k1);
    if (rc == 0)
        rc = put_str(b, v1) == 1 ? 0 : 1;
    if (rc == 0 && k2) {
        rc = put_key(b, &first, k2);
        if (rc == 0)
            rc = put_str(b, v2) == 1 ? 0 : 1;
    }
    if (rc == 0 && tail)
        rc = gcs_buf_puts(b, tail);
    return rc == 0 ? gcs_buf_putc(b, '}') : rc;
}

/* The members of the tree that collect several attributes, each written
 * where the first of them created it. */
enum { SLOT_EMAILS, SLOT_PHONES, SLOT_ROLES, SLOT_ENTERPRISE, SLOT_GENESYS, SLOT__COUNT };

static int slot_of(gcs_target t)
{
    switch (t) {
    case GCS_TARGET_EMAIL: return SLOT_EMAILS;
    case GCS_TARGET_PHONE: return SLOT_PHONES;
    case GCS_TARGET_ROLES: return SLOT_ROLES;
    case GCS_TARGET_DEPARTMENT:
    case GCS_TARGET_DIVISION:
    case GCS_TARGET_EMPLOYEENUMBER:
    case GCS_TARGET_DATEHIRE: return SLOT_ENTERPRISE;
    case GCS_TARGET_EXTERNALIDS: return SLOT_GENESYS;
    default: return -1;
    }
}

static bool role_seen(const gcs_map_user *u, const gcs_profile *p, size_t upto_attr,
                      size_t upto_item, const char *name)
{
    for (size_t i = 0; i <= upto_attr; i++) {
        if (p->attrs[i].pub.target != GCS_TARGET_ROLES)
            continue;
        size_t n = i == upto_attr ? upto_item : u->values[i].n;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(u->values[i].items[k], name) == 0)
                return true;
        }
    }
    return false;
}

/* One slot's value: every attribute of it from `from` on, in order (put_attr's). */
static int put_slot(gcs_buf *b, const gcs_map_user *u, const gcs_profile *p, int slot, size_t from)
{
    bool first = true;
    int rc = gcs_buf_putc(b, slot == SLOT_ENTERPRISE || slot == SLOT_GENESYS ? '{' : '[');
    if (rc == 0 && slot == SLOT_GENESYS)
        rc = gcs_buf_puts(b, "\"externalIds\":[");
    for (size_t i = from; rc == 0 && i < p->nattrs; i++) {
        const gcs_attr_rule *a = &p->attrs[i];
        const gcs_map_values *v = &u->values[i];
        if (!v->n || slot_of(a->pub.target) != slot)
            continue;
        const char *s = v->items[0];
        switch (slot) {
        case SLOT_EMAILS:
            rc = first ? 0 : gcs_buf_putc(b, ',');
            if (rc == 0)
                rc = put_pair(b, "value", s, "type", "work", ",\"primary\":true");
            first = false;
            break;
        case SLOT_PHONES:
            rc = first ? 0 : gcs_buf_putc(b, ',');
            if (rc == 0)
                rc = put_pair(b, "value", s, "type", a->pub.sub, NULL);
            first = false;
            break;
        case SLOT_GENESYS:
            rc = first ? 0 : gcs_buf_putc(b, ',');
            if (rc == 0)
                rc = put_pair(b, "authority", a->pub.sub, "value", s, NULL);
            first = false;
            break;
        case SLOT_ROLES:
            for (size_t k = 0; rc == 0 && k < v->n; k++) {
                if (role_seen(u, p, i, k, v->items[k]))
                    continue;
                rc = first ? 0 : gcs_buf_putc(b, ',');
                if (rc == 0)
                    rc = put_pair(b, "value", v->items[k], NULL, NULL, NULL);
                first = false;
            }
            break;
        case SLOT_ENTERPRISE:
            rc = put_key(b, &first, gcs_target_name(a->pub.target));
            if (rc == 0)
                rc = put_str(b, s) == 1 ? 0 : 1;
            break;
        }
    }
    if (rc == 0 && slot == SLOT_GENESYS && p->marker) {
        rc = first ? 0 : gcs_buf_putc(b, ',');
        if (rc == 0)
            rc = put_pair(b, "authority", p->marker, "value", u->source_key, NULL);
    }
    if (rc == 0 && slot == SLOT_GENESYS)
        rc = gcs_buf_putc(b, ']');
    return rc == 0 ? gcs_buf_putc(b, slot == SLOT_ENTERPRISE || slot == SLOT_GENESYS ? '}' : ']')
                   : rc;
}

static const char *const slot_keys[SLOT__COUNT] = {"emails", "phoneNumbers", "roles",
                                                  GCS_SCIM_ENTERPRISE_USER, GCS_SCIM_GENESYS_USER};

/* put_slot and put_pair return 1 for a value jansson would not hold. */
int gcs_map_user_put_text(gcs_buf *b, const gcs_map_user *u, const gcs_profile *p)
{
    if (u->status != GCS_MAP_OK || !u->values)
        return gcs_error_set(GCS_EINVALID, "no flat user to write");
    size_t start = b->len;
    bool first = true, done[SLOT__COUNT] = {false};
    int rc = gcs_buf_putc(b, '{');
    for (size_t i = 0; rc == 0 && i < p->nattrs; i++) {
        const gcs_attr_rule *a = &p->attrs[i];
        const gcs_map_values *v = &u->values[i];
        if (!v->n || a->pub.target == GCS_TARGET_MANAGER)
            continue;
        int slot = slot_of(a->pub.target);
        if (slot >= 0) {
            if (done[slot])
                continue;
            done[slot] = true;
            rc = put_key(b, &first, slot_keys[slot]);
            if (rc == 0)
                rc = put_slot(b, u, p, slot, i);
        } else if (a->pub.target == GCS_TARGET_ACTIVE) {
            bool on = false;
            gcs_mapping__bool_parse(v->items[0], &on);
            rc = put_key(b, &first, "active");
            if (rc == 0)
                rc = gcs_buf_puts(b, on ? "true" : "false");
        } else {
            rc = put_key(b, &first, gcs_target_name(a->pub.target));
            if (rc == 0)
                rc = put_str(b, v->items[0]) == 1 ? 0 : 1;
        }
    }
    if (rc == 0 && p->marker && !done[SLOT_GENESYS]) {
        rc = put_key(b, &first, slot_keys[SLOT_GENESYS]);
        if (rc == 0)
            rc = put_slot(b, u, p, SLOT_GENESYS, p->nattrs);
    }
    if (rc == 0)
        rc = gcs_buf_putc(b, '}');
    if (rc != 0 && b->len > start) {
        b->len = start;
        b->ptr[start] = '\0';
    }
    return rc == 0 ? 1 : rc == 1 ? 0 : rc;
}

int gcs_map_user_set_manager(gcs_map_user *u, const char *genesys_id)
{
    if (u->status != GCS_MAP_OK || !u->user)
        return gcs_error_set(GCS_EINVALID, "no desired user to set a manager on");
    json_t *ent = ensure_object(u->user, GCS_SCIM_ENTERPRISE_USER);
    if (!ent || json_object_set_new(ent, "manager", json_pack("{s:s}", "value", genesys_id)) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

const char *gcs_map_user_match(const gcs_map_user *u, const char *key)
{
    for (size_t i = 0; i < u->match_count; i++) {
        if (!strcmp(u->match[i].key, key))
            return u->match[i].value;
    }
    return NULL;
}

/* ==== Attribute values, for diffing ==== */

static json_t *nonempty_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? json_string(s) : NULL;
}

/* The entry of `arr` whose `key` equals `want` (case-insensitively for types). */
static const json_t *entry_with(const json_t *arr, const char *key, const char *want)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && !strcasecmp(v, want))
            return e;
    }
    return NULL;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                  json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* Sorts the array's items with cmp and drops neighbours equal under cmp. */
static json_t *sorted_unique(json_t *items, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(items);
    json_t **v = n ? calloc(n, sizeof *v) : NULL;
    json_t *out = json_array();
    if ((n && !v) || !out) {
        free(v);
        json_decref(out);
        json_decref(items);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(items, i);
    if (n)
        qsort(v, n, sizeof *v, cmp);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cmp(&v[i - 1], &v[i]) != 0)
            json_array_append(out, v[i]);
    }
    free(v);
    json_decref(items);
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *gcs_scim_attr_value(const json_t *user, const gcs_profile_attr *attr)
{
    const json_t *ent = json_object_get(user, GCS_SCIM_ENTERPRISE_USER);
    const json_t *gen = json_object_get(user, GCS_SCIM_GENESYS_USER);
    const json_t *e, *v;
    size_t i;
    json_t *items;
    switch (attr->target) {
    case GCS_TARGET_USERNAME:
    case GCS_TARGET_DISPLAYNAME:
    case GCS_TARGET_TITLE:
    case GCS_TARGET_EXTERNALID:
        return nonempty_string(json_object_get(user, gcs_target_name(attr->target)));
    case GCS_TARGET_ACTIVE:
        v = json_object_get(user, "active");
        return json_is_boolean(v) ? json_boolean(json_is_true(v)) : NULL;
    case GCS_TARGET_EMAIL:
        e = entry_with(json_object_get(user, "emails"), "type", "work");
        return e ? nonempty_string(json_object_get(e, "value")) : NULL;
    case GCS_TARGET_PHONE:
        e = entry_with(json_object_get(user, "phoneNumbers"), "type", attr->sub);
        return e ? nonempty_string(json_object_get(e, "value")) : NULL;
    case GCS_TARGET_EXTERNALIDS:
        e = entry_with(json_object_get(gen, "externalIds"), "authority", attr->sub);
        return e ? nonempty_string(json_object_get(e, "value")) : NULL;
    case GCS_TARGET_DEPARTMENT:
    case GCS_TARGET_DIVISION:
    case GCS_TARGET_EMPLOYEENUMBER:
    case GCS_TARGET_DATEHIRE:
        return nonempty_string(json_object_get(ent, gcs_target_name(attr->target)));
    case GCS_TARGET_MANAGER:
        return nonempty_string(json_object_get(json_object_get(ent, "manager"), "value"));
    case GCS_TARGET_ROLES:
        if (!(items = json_array()))
            return NULL;
        json_array_foreach(json_object_get(user, "roles"), i, e) {
            const char *name = json_string_value(json_object_get(e, "value"));
            if (name && *name)
                json_array_append_new(items, json_string(name));
        }
        return sorted_unique(items, by_string);
    case GCS_TARGET_SKILLS:
    case GCS_TARGET_LANGUAGES:
        if (!(items = json_array()))
            return NULL;
        json_array_foreach(json_object_get(gen, gcs_target_name(attr->target)), i, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            v = json_object_get(e, "proficiency");
            if (name && *name)
                json_array_append_new(items, json_pack("{s:s,s:f}", "name", name, "proficiency",
                                                       json_is_number(v) ? json_number_value(v)
                                                                         : 0.0));
        }
        return sorted_unique(items, by_name);
    case GCS_TARGET__COUNT:
        break;
    }
    return NULL;
}

bool gcs_scim_attr_equal(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (!gcs_scim_attr_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        }
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *key;
        json_t *va;
        json_object_foreach((json_t *)a, key, va) {
            if (!gcs_scim_attr_equal(va, json_object_get(b, key)))
                return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}
