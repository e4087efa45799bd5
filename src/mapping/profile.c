/*
 * Mapping profiles: reading the file and compiling its tree into a gcs_profile.
 *
 * Every check that can be made without a row is made here, once, so that a
 * bad profile fails before anything is read from Genesys and with the line of
 * the profile at fault. The format is described in docs/mapping.md.
 */
#include "mapping/internal.h"
#include "mapping/profile.h"
#include "mapping/row.h"

#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROFILE_SIZE_MAX ((size_t)1024 * 1024)
#define LIST_MAX 50   /* Genesys: at most 50 skills and 50 languages */

/* ==== Targets ==== */

typedef struct target_info {
    const char *name;
    const char *path;
    bool needs_sub;   /* "phoneNumbers.TYPE", "externalIds.AUTHORITY" */
} target_info;

static const target_info targets[GCS_TARGET__COUNT] = {
    [GCS_TARGET_USERNAME] = {"userName", "userName", false},
    [GCS_TARGET_DISPLAYNAME] = {"displayName", "displayName", false},
    [GCS_TARGET_ACTIVE] = {"active", "active", false},
    [GCS_TARGET_TITLE] = {"title", "title", false},
    [GCS_TARGET_EXTERNALID] = {"externalId", "externalId", false},
    [GCS_TARGET_EMAIL] = {"email", "emails", false},
    [GCS_TARGET_PHONE] = {"phoneNumbers", "phoneNumbers", true},
    [GCS_TARGET_DEPARTMENT] = {"department", GCS_SCIM_ENTERPRISE_USER ":department", false},
    [GCS_TARGET_DIVISION] = {"division", GCS_SCIM_ENTERPRISE_USER ":division", false},
    [GCS_TARGET_EMPLOYEENUMBER] = {"employeeNumber", GCS_SCIM_ENTERPRISE_USER ":employeeNumber",
                                   false},
    [GCS_TARGET_DATEHIRE] = {"dateHire", GCS_SCIM_ENTERPRISE_USER ":dateHire", false},
    [GCS_TARGET_MANAGER] = {"manager", GCS_SCIM_ENTERPRISE_USER ":manager", false},
    [GCS_TARGET_ROLES] = {"roles", "roles", false},
    [GCS_TARGET_SKILLS] = {"routingSkills", GCS_SCIM_GENESYS_USER ":routingSkills", false},
    [GCS_TARGET_LANGUAGES] = {"routingLanguages", GCS_SCIM_GENESYS_USER ":routingLanguages",
                              false},
    [GCS_TARGET_EXTERNALIDS] = {"externalIds", GCS_SCIM_GENESYS_USER ":externalIds", true},
};

static const char *const phone_types[] = {"work",  "work2", "work3",          "work4",
                                          "home",  "mobile", "other",         "microsoftteams",
                                          "zoomphone", "eightbyeight", "ringcentral"};

const char *gcs_target_name(gcs_target target)
{
    return target < GCS_TARGET__COUNT ? targets[target].name : "?";
}

/* ==== Errors ==== */

typedef struct ctx {
    const char *file;
    const gcs_linemap *lines;
    gcs_profile *profile;
} ctx;

/* The line of `node`, or of `parent` when node has none (true/false/null). */
static unsigned long line_of(const ctx *c, const json_t *node, unsigned long parent_line)
{
    unsigned long l = gcs_mapping__linemap_get(c->lines, node);
    return l ? l : parent_line;
}

/* The line of an object's key (from json_object_foreach), else fallback. */
static unsigned long key_line(const ctx *c, const char *key, unsigned long fallback)
{
    unsigned long l = gcs_mapping__linemap_key(c->lines, key);
    return l ? l : fallback;
}

/* The line of obj's member `key` (the key's own line), else fallback. */
static unsigned long member_line(const ctx *c, const json_t *obj, const char *key,
                                 unsigned long fallback)
{
    void *it = json_object_iter_at((json_t *)obj, key);
    return it ? key_line(c, json_object_iter_key(it), fallback) : fallback;
}

static int perr(const ctx *c, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(const ctx *c, unsigned long line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line)
        return gcs_error_set(GCS_EINVALID, "cannot read mapping profile '%s': line %lu: %s",
                             c->file, line, msg);
    return gcs_error_set(GCS_EINVALID, "cannot read mapping profile '%s': %s", c->file, msg);
}

/* A scalar as text: strings as they are, numbers and booleans as written. */
static int scalar_text(char **out, const ctx *c, const json_t *v, unsigned long line,
                       const char *what)
{
    char buf[64];
    const char *s = NULL;
    if (json_is_string(v)) {
        s = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        s = buf;
    } else if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
        s = buf;
    } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
    } else {
        return perr(c, line, "%s must be a text value", what);
    }
    *out = strdup(s);
    return *out ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
}

static int check_keys(const ctx *c, const json_t *obj, unsigned long line, const char *what,
                      const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok)
            return perr(c, key_line(c, key, line_of(c, v, line)), "unknown key '%s' in %s", key,
                        what);
    }
    return 0;
}

/* ==== Transforms ==== */

static bool valid_country(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 3 || s[0] < '1' || s[0] > '9')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

static bool valid_date_format(const char *f)
{
    bool y = false, m = false, d = false;
    for (; *f; f++) {
        if (*f != '%')
            continue;
        f++;
        switch (*f) {
        case 'Y': case 'y': y = true; break;
        case 'm': case 'b': case 'B': case 'h': m = true; break;
        case 'd': case 'e': d = true; break;
        case '%': break;
        default: return false;
        }
    }
    return y && m && d;
}

static int compile_xf(gcs_xf *xf, const ctx *c, const json_t *node, unsigned long line)
{
    int rc = 0;
    xf->line = line;
    if (json_is_string(node)) {
        const char *name = json_string_value(node);
        if (!strcmp(name, "trim")) {
            xf->kind = XF_TRIM;
        } else if (!strcmp(name, "lower")) {
            xf->kind = XF_LOWER;
        } else if (!strcmp(name, "upper")) {
            xf->kind = XF_UPPER;
        } else if (!strcmp(name, "json_list")) {
            xf->kind = XF_JSON_LIST;
        } else if (!strcmp(name, "phone")) {
            xf->kind = XF_PHONE;
            if (!c->profile->phone_country)
                return perr(c, line, "transform 'phone' needs a country: "
                                     "{phone: \"44\"} or a top-level phone_country");
            xf->arg = strdup(c->profile->phone_country);
        } else if (!strcmp(name, "split") || !strcmp(name, "lookup") ||
                   !strcmp(name, "date") || !strcmp(name, "default")) {
            return perr(c, line, "transform '%s' needs an argument: {%s: ...}", name, name);
        } else {
            return perr(c, line, "unknown transform '%s'", name);
        }
        if (xf->kind == XF_PHONE && !xf->arg)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        return 0;
    }
    if (!json_is_object(node))
        return perr(c, line, "a transform is a name or a {name: argument} object");

    json_t *lookup = json_object_get(node, "lookup");
    if (lookup) {
        static const char *const keys[] = {"lookup", "default", NULL};
        if ((rc = check_keys(c, node, line, "a lookup transform", keys)) < 0)
            return rc;
        if (!json_is_object(lookup))
            return perr(c, line_of(c, lookup, line), "lookup needs a table {from: to, ...}");
        xf->kind = XF_LOOKUP;
        xf->table = json_object();
        GCS_CHECK_ALLOC(xf->table);
        const char *key;
        json_t *v;
        json_object_foreach(lookup, key, v) {
            char *text = NULL;
            if ((rc = scalar_text(&text, c, v, line_of(c, v, line), "a lookup value")) < 0)
                return rc;
            rc = json_object_set_new(xf->table, key, json_string(text));
            free(text);
            if (rc < 0)
                return gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        json_t *d = json_object_get(node, "default");
        if (d) {
            xf->has_fallback = true;
            return scalar_text(&xf->fallback, c, d, line_of(c, d, line), "a lookup default");
        }
        return 0;
    }
    if (json_object_size(node) != 1)
        return perr(c, line, "a transform object has exactly one key (its name)");
    const char *name = json_object_iter_key(json_object_iter((json_t *)node));
    json_t *arg = json_object_iter_value(json_object_iter((json_t *)node));
    unsigned long aline = line_of(c, arg, line);
    if (!strcmp(name, "split")) {
        xf->kind = XF_SPLIT;
        if ((rc = scalar_text(&xf->arg, c, arg, aline, "the split separator")) < 0)
            return rc;
        if (!*xf->arg)
            return perr(c, aline, "the split separator is empty");
    } else if (!strcmp(name, "default")) {
        xf->kind = XF_DEFAULT;
        return scalar_text(&xf->arg, c, arg, aline, "a default");
    } else if (!strcmp(name, "date")) {
        xf->kind = XF_DATE;
        if ((rc = scalar_text(&xf->arg, c, arg, aline, "the date format")) < 0)
            return rc;
        if (!valid_date_format(xf->arg))
            return perr(c, aline,
                        "date format '%s' needs a year, month and day (%%Y %%y %%m %%b %%d %%e)",
                        xf->arg);
    } else if (!strcmp(name, "phone")) {
        xf->kind = XF_PHONE;
        const json_t *cc = arg;
        if (json_is_object(arg)) {
            static const char *const keys[] = {"country", NULL};
            if ((rc = check_keys(c, arg, aline, "the phone transform", keys)) < 0)
                return rc;
            cc = json_object_get(arg, "country");
            if (!cc)
                return perr(c, aline, "the phone transform needs a country");
        }
        if ((rc = scalar_text(&xf->arg, c, cc, line_of(c, cc, aline), "the phone country")) < 0)
            return rc;
        if (xf->arg[0] == '+')
            memmove(xf->arg, xf->arg + 1, strlen(xf->arg));
        if (!valid_country(xf->arg))
            return perr(c, aline, "'%s' is not a country calling code (1 to 3 digits, e.g. 44)",
                        xf->arg);
    } else {
        return perr(c, line, "unknown transform '%s'", name);
    }
    return 0;
}

/* ==== Templates ==== */

/* Checks "{first} {last}": braces balance, names are non-empty, "{{" and "}}"
 * stand for themselves. */
static int check_template(const ctx *c, const char *t, unsigned long line)
{
    for (const char *p = t; *p; p++) {
        if (p[0] == '{' && p[1] == '{') {
            p++;
        } else if (p[0] == '}' && p[1] == '}') {
            p++;
        } else if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return perr(c, line, "template '%s' has an unclosed '{'", t);
            if (end == p + 1)
                return perr(c, line, "template '%s' has an empty field name", t);
            if (memchr(p + 1, '{', (size_t)(end - p - 1)))
                return perr(c, line, "template '%s' has a '{' inside a field name", t);
            p = end;
        } else if (*p == '}') {
            return perr(c, line, "template '%s' has a '}' without '{' (write '}}')", t);
        }
    }
    return 0;
}

/* ==== Attributes ==== */

static int parse_target(gcs_attr_rule *a, const ctx *c, const char *name, unsigned long line)
{
    const char *dot = strchr(name, '.');
    size_t base = dot ? (size_t)(dot - name) : strlen(name);
    for (int t = 0; t < GCS_TARGET__COUNT; t++) {
        if (strlen(targets[t].name) != base || strncmp(targets[t].name, name, base) != 0)
            continue;
        a->pub.target = (gcs_target)t;
        a->pub.path = targets[t].path;
        if (t == GCS_TARGET_EMAIL)
            a->pub.sub = "work";
        if (!targets[t].needs_sub) {
            if (dot)
                return perr(c, line, "attribute '%s' takes no '.%s'", targets[t].name, dot + 1);
            return 0;
        }
        if (!dot || !dot[1])
            return perr(c, line, "attribute '%s' needs a %s: '%s.%s'", targets[t].name,
                        t == GCS_TARGET_PHONE ? "type" : "authority", targets[t].name,
                        t == GCS_TARGET_PHONE ? "mobile" : "hr");
        a->pub.sub = dot + 1;
        if (t == GCS_TARGET_PHONE) {
            for (size_t i = 0; i < sizeof phone_types / sizeof *phone_types; i++) {
                if (!strcmp(phone_types[i], dot + 1))
                    return 0;
            }
            return perr(c, line, "unknown phone type '%s' (work, work2, work3, work4, home, "
                                 "mobile, other, ...)", dot + 1);
        }
        return 0;
    }
    return perr(c, line, "unknown attribute '%s'", name);
}

static int get_length(long *out, const ctx *c, const json_t *obj, const char *key,
                      unsigned long line)
{
    json_t *v = json_object_get(obj, key);
    *out = -1;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000)
        return perr(c, line_of(c, v, line), "%s must be a whole number from 0 to 100000", key);
    *out = (long)json_integer_value(v);
    return 0;
}

static int compile_attr(gcs_attr_rule *a, const ctx *c, const char *name, const json_t *spec,
                        unsigned long line)
{
    static const char *const keys[] = {"from", "template", "value", "transform", "default",
                                       "mode", "required", "min_length", "max_length",
                                       "proficiency", "proficiency_separator", NULL};
    int rc;
    a->line = line;
    a->min_length = a->max_length = -1;
    a->proficiency = 0;
    a->pub.name = strdup(name);
    GCS_CHECK_ALLOC(a->pub.name);
    if ((rc = parse_target(a, c, a->pub.name, line)) < 0)
        return rc;
    bool listy = a->pub.target == GCS_TARGET_SKILLS || a->pub.target == GCS_TARGET_LANGUAGES;

    if (json_is_string(spec)) /* shorthand: "title: job_title" */
        return (a->from = strdup(json_string_value(spec))) ? 0
                                                            : gcs_error_set(GCS_ENOMEM, "out of memory");
    if (!json_is_object(spec))
        return perr(c, line, "attribute '%s' must be a source field name or an object", name);
    char what[160];
    snprintf(what, sizeof what, "attribute '%s'", name);
    if ((rc = check_keys(c, spec, line, what, keys)) < 0)
        return rc;

    json_t *from = json_object_get(spec, "from"), *tmpl = json_object_get(spec, "template"),
           *value = json_object_get(spec, "value");
    if (!!from + !!tmpl + !!value != 1)
        return perr(c, line, "attribute '%s' needs exactly one of from, template or value", name);
    if (from && (rc = scalar_text(&a->from, c, from, line_of(c, from, line), "from")) < 0)
        return rc;
    if (tmpl) {
        unsigned long tl = line_of(c, tmpl, line);
        if ((rc = scalar_text(&a->tmpl, c, tmpl, tl, "template")) < 0 ||
            (rc = check_template(c, a->tmpl, tl)) < 0)
            return rc;
    }
    if (value && (rc = scalar_text(&a->constant, c, value, line_of(c, value, line), "value")) < 0)
        return rc;
    if (a->from && !*a->from)
        return perr(c, line, "attribute '%s': 'from' names no field", name);

    json_t *xfs = json_object_get(spec, "transform");
    if (xfs) {
        size_t n = json_is_array(xfs) ? json_array_size(xfs) : 1;
        a->xf = calloc(n ? n : 1, sizeof *a->xf);
        GCS_CHECK_ALLOC(a->xf);
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_is_array(xfs) ? json_array_get(xfs, i) : xfs;
            a->nxf++;
            if ((rc = compile_xf(&a->xf[i], c, x, line_of(c, x, line_of(c, xfs, line)))) < 0)
                return rc;
        }
    }
    json_t *d = json_object_get(spec, "default");
    if (d && (rc = scalar_text(&a->dflt, c, d, line_of(c, d, line), "default")) < 0)
        return rc;

    json_t *mode = json_object_get(spec, "mode");
    if (mode) {
        const char *m = json_string_value(mode);
        if (m && !strcmp(m, "always"))
            a->pub.mode = GCS_ATTR_ALWAYS;
        else if (m && (!strcmp(m, "create_only") || !strcmp(m, "create")))
            a->pub.mode = GCS_ATTR_CREATE_ONLY;
        else
            return perr(c, line_of(c, mode, line), "mode must be 'always' or 'create_only'");
    }
    json_t *req = json_object_get(spec, "required");
    if (req) {
        if (!json_is_boolean(req))
            return perr(c, line_of(c, req, line), "required must be true or false");
        a->pub.required = json_is_true(req);
    }
    if ((rc = get_length(&a->min_length, c, spec, "min_length", line)) < 0 ||
        (rc = get_length(&a->max_length, c, spec, "max_length", line)) < 0)
        return rc;
    if (a->min_length >= 0 && a->max_length >= 0 && a->min_length > a->max_length)
        return perr(c, line, "attribute '%s': min_length is over max_length", name);

    json_t *prof = json_object_get(spec, "proficiency");
    if (prof) {
        unsigned long pl = line_of(c, prof, line);
        if (!listy)
            return perr(c, pl, "proficiency applies only to routingSkills and routingLanguages");
        if (!json_is_number(prof) || json_number_value(prof) < 0 || json_number_value(prof) > 5)
            return perr(c, pl, "proficiency must be a number from 0 to 5");
        a->proficiency = json_number_value(prof);
    }
    json_t *sep = json_object_get(spec, "proficiency_separator");
    if (sep) {
        unsigned long sl = line_of(c, sep, line);
        if (!listy)
            return perr(c, sl, "proficiency_separator applies only to routingSkills and "
                               "routingLanguages");
        if ((rc = scalar_text(&a->prof_sep, c, sep, sl, "proficiency_separator")) < 0)
            return rc;
        if (!*a->prof_sep)
            return perr(c, sl, "proficiency_separator is empty");
    }
    return 0;
}

/* ==== Scope ==== */

static int compile_cond(gcs_cond *cond, const ctx *c, const json_t *node, unsigned long line);

static int compile_cond_list(gcs_cond *cond, const ctx *c, cond_kind kind, const json_t *list,
                             unsigned long line)
{
    cond->kind = kind;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return perr(c, line, "%s needs a list of conditions", kind == COND_ALL ? "all" : "any");
    cond->kids = calloc(json_array_size(list), sizeof *cond->kids);
    GCS_CHECK_ALLOC(cond->kids);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *k = json_array_get(list, i);
        cond->nkids++;
        int rc = compile_cond(&cond->kids[i], c, k, line_of(c, k, line));
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int compile_cond(gcs_cond *cond, const ctx *c, const json_t *node, unsigned long line)
{
    static const char *const leaf_keys[] = {"field", "equals", "not_equals", "in", "not_in",
                                            "empty", "not_empty", NULL};
    int rc;
    cond->line = line;
    if (json_is_array(node))
        return compile_cond_list(cond, c, COND_ALL, node, line);
    if (!json_is_object(node))
        return perr(c, line, "a scope condition is an object ({field: ..., equals: ...}, "
                             "{all: [...]}, {any: [...]}, {not: ...})");
    json_t *v;
    if ((v = json_object_get(node, "all")) || (v = json_object_get(node, "any"))) {
        if (json_object_size(node) != 1)
            return perr(c, line, "all / any stand alone in their condition");
        return compile_cond_list(cond, c, json_object_get(node, "all") ? COND_ALL : COND_ANY, v,
                                 line_of(c, v, line));
    }
    if ((v = json_object_get(node, "not"))) {
        if (json_object_size(node) != 1)
            return perr(c, line, "not stands alone in its condition");
        cond->kind = COND_NOT;
        cond->kids = calloc(1, sizeof *cond->kids);
        GCS_CHECK_ALLOC(cond->kids);
        cond->nkids = 1;
        return compile_cond(cond->kids, c, v, line_of(c, v, line));
    }
    if ((rc = check_keys(c, node, line, "a scope condition", leaf_keys)) < 0)
        return rc;
    json_t *field = json_object_get(node, "field");
    if (!field)
        return perr(c, line, "a scope condition needs a field (or all / any / not)");
    if ((rc = scalar_text(&cond->field, c, field, line_of(c, field, line), "field")) < 0)
        return rc;
    if (json_object_size(node) != 2)
        return perr(c, line, "a scope condition has one test: equals, not_equals, in, not_in, "
                             "empty or not_empty");
    static const struct { const char *key; cond_kind kind; } tests[] = {
        {"equals", COND_EQUALS}, {"not_equals", COND_NOT_EQUALS}, {"in", COND_IN},
        {"not_in", COND_NOT_IN}, {"empty", COND_EMPTY},           {"not_empty", COND_NOT_EMPTY},
    };
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
        if (!(v = json_object_get(node, tests[i].key)))
            continue;
        unsigned long vl = line_of(c, v, line);
        cond->kind = tests[i].kind;
        if (cond->kind == COND_EMPTY || cond->kind == COND_NOT_EMPTY) {
            if (!json_is_boolean(v))
                return perr(c, vl, "%s takes true or false", tests[i].key);
            if (json_is_false(v)) /* "empty: false" reads as not_empty */
                cond->kind = cond->kind == COND_EMPTY ? COND_NOT_EMPTY : COND_EMPTY;
            return 0;
        }
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        if ((cond->kind == COND_IN || cond->kind == COND_NOT_IN) && (!json_is_array(v) || !n))
            return perr(c, vl, "%s takes a list of values", tests[i].key);
        if ((cond->kind == COND_EQUALS || cond->kind == COND_NOT_EQUALS) && json_is_array(v))
            return perr(c, vl, "%s takes one value (use in / not_in for a list)", tests[i].key);
        cond->values = calloc(n, sizeof *cond->values);
        GCS_CHECK_ALLOC(cond->values);
        for (size_t k = 0; k < n; k++) {
            json_t *item = json_is_array(v) ? json_array_get(v, k) : v;
            cond->nvalues++;
            if ((rc = scalar_text(&cond->values[k], c, item, line_of(c, item, vl), "a value")) < 0)
                return rc;
        }
        return 0;
    }
    return perr(c, line, "a scope condition needs a test: equals, not_equals, in, not_in, "
                         "empty or not_empty");
}

static void cond_release(gcs_cond *cond)
{
    free(cond->field);
    for (size_t i = 0; i < cond->nvalues; i++)
        free(cond->values[i]);
    free(cond->values);
    for (size_t i = 0; i < cond->nkids; i++)
        cond_release(&cond->kids[i]);
    free(cond->kids);
}

/* Compares ignoring surrounding blanks and ASCII case: HR exports are not
 * consistent about "Active" and "active ". */
static bool same_text(const char *value, const char *want)
{
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    return strlen(want) == n && strncasecmp(value, want, n) == 0;
}

bool gcs_mapping__cond_eval(const gcs_cond *cond, const gcs_row *row)
{
    const char *v = cond->field ? gcs_row_get(row, cond->field) : NULL;
    if (!v)
        v = "";
    switch (cond->kind) {
    case COND_ALL:
        for (size_t i = 0; i < cond->nkids; i++) {
            if (!gcs_mapping__cond_eval(&cond->kids[i], row))
                return false;
        }
        return true;
    case COND_ANY:
        for (size_t i = 0; i < cond->nkids; i++) {
            if (gcs_mapping__cond_eval(&cond->kids[i], row))
                return true;
        }
        return false;
    case COND_NOT:
        return !gcs_mapping__cond_eval(cond->kids, row);
    case COND_EQUALS: return same_text(v, cond->values[0]);
    case COND_NOT_EQUALS: return !same_text(v, cond->values[0]);
    case COND_IN:
    case COND_NOT_IN: {
        bool found = false;
        for (size_t i = 0; i < cond->nvalues && !found; i++)
            found = same_text(v, cond->values[i]);
        return cond->kind == COND_IN ? found : !found;
    }
    case COND_EMPTY: return same_text(v, "");
    case COND_NOT_EMPTY: return !same_text(v, "");
    }
    return false;
}

/* ==== Profile ==== */

static int compile_match(gcs_profile *p, const ctx *c, const json_t *m, unsigned long line)
{
    static const char *const defaults[] = {"externalId", "userName"};
    size_t n = m ? (json_is_array(m) ? json_array_size(m) : 1) : 2;
    p->match = calloc(n ? n : 1, sizeof *p->match);
    GCS_CHECK_ALLOC(p->match);
    if (m && !json_is_array(m) && !json_is_string(m))
        return perr(c, line, "match is a list of attribute names");
    if (m && n == 0)
        return perr(c, line, "match needs at least one key");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = m ? (json_is_array(m) ? json_array_get(m, i) : m) : NULL;
        const char *key = item ? json_string_value(item) : defaults[i];
        unsigned long il = item ? line_of(c, item, line) : line;
        if (!key)
            return perr(c, il, "match is a list of attribute names");
        bool allowed = !strcmp(key, "externalId") || !strcmp(key, "userName") ||
                       !strcmp(key, "email") || !strcmp(key, "employeeNumber") ||
                       (!strncmp(key, "externalIds.", 12) && key[12]);
        if (!allowed)
            return perr(c, il, "'%s' cannot be a matching key (externalId, userName, email, "
                               "employeeNumber, externalIds.AUTHORITY)", key);
        if (!gcs_profile_attr_find(p, key)) {
            if (!m)
                continue; /* a default key that the profile does not map */
            return perr(c, il, "matching key '%s' is not mapped under attributes", key);
        }
        for (size_t k = 0; k < p->nmatch; k++) {
            if (!strcmp(p->match[k], key))
                return perr(c, il, "matching key '%s' is listed twice", key);
        }
        if (!(p->match[p->nmatch++] = strdup(key)))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (p->nmatch == 0)
        return perr(c, line, "no matching key: map externalId or userName, or name the keys "
                             "with 'match'");
    /* A row without its source key cannot be told apart from another one. */
    for (size_t i = 0; i < p->nattrs; i++) {
        if (!strcmp(p->attrs[i].pub.name, p->match[0]))
            p->attrs[i].pub.required = true;
    }
    return 0;
}

static int compile_password(gcs_profile *p, const ctx *c, const json_t *pw, unsigned long line)
{
    static const char *const keys[] = {"generate", "length", "min_lower", "min_upper",
                                       "min_digit", "min_symbol", NULL};
    gcs_password_policy *pol = &p->password;
    int rc;
    if (!json_is_object(pw))
        return perr(c, line, "password must be an object {generate: true, length: 16, ...}");
    if ((rc = check_keys(c, pw, line, "password", keys)) < 0)
        return rc;
    json_t *gen = json_object_get(pw, "generate");
    if (gen && !json_is_boolean(gen))
        return perr(c, line_of(c, gen, line), "generate must be true or false");
    pol->enabled = json_is_true(gen);
    struct { const char *key; unsigned int *field; unsigned int lo, hi; } nums[] = {
        {"length", &pol->length, 8, 128},      {"min_lower", &pol->min_lower, 0, 128},
        {"min_upper", &pol->min_upper, 0, 128}, {"min_digit", &pol->min_digit, 0, 128},
        {"min_symbol", &pol->min_symbol, 0, 128},
    };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        json_t *v = json_object_get(pw, nums[i].key);
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < nums[i].lo ||
            json_integer_value(v) > nums[i].hi)
            return perr(c, line_of(c, v, line), "%s must be a whole number from %u to %u",
                        nums[i].key, nums[i].lo, nums[i].hi);
        *nums[i].field = (unsigned int)json_integer_value(v);
    }
    if (pol->min_lower + pol->min_upper + pol->min_digit + pol->min_symbol > pol->length)
        return perr(c, line, "the password minimums add up to more than its length");
    return 0;
}

#define ROLE_NAME_MAX 256

/* privileged_roles: role names as Genesys shows them; absent means the
 * default, [] means none. */
static int compile_privileged(gcs_profile *p, const ctx *c, const json_t *v, unsigned long line)
{
    static const char *const defaults[] = {"Master Admin"};
    if (v && !json_is_array(v))
        return perr(c, line_of(c, v, line), "privileged_roles is a list of role names "
                                             "([] for none)");
    size_t n = v ? json_array_size(v) : sizeof defaults / sizeof *defaults;
    if (!(p->privileged = calloc(n ? n : 1, sizeof *p->privileged)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = v ? json_array_get(v, i) : NULL;
        const char *name = item ? json_string_value(item) : defaults[i];
        unsigned long il = item ? line_of(c, item, line) : line;
        if (!name)
            return perr(c, il, "privileged_roles: item %zu is not a role name", i + 1);
        size_t len = strlen(name);
        if (len == 0)
            return perr(c, il, "privileged_roles: an empty role name");
        if (len > ROLE_NAME_MAX)
            return perr(c, il, "privileged_roles: a role name longer than %d bytes",
                        ROLE_NAME_MAX);
        if (strchr(" \t\r\n", name[0]) || strchr(" \t\r\n", name[len - 1]))
            return perr(c, il, "privileged_roles: role name '%s' has blanks around it", name);
        for (size_t k = 0; k < p->nprivileged; k++) {
            if (!strcasecmp(p->privileged[k], name))
                return perr(c, il, "privileged_roles: role '%s' is listed twice", name);
        }
        if (!(p->privileged[p->nprivileged++] = strdup(name)))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

/* ==== Groups ==== */

/* groups: {column, separator, file, hierarchy: kept|flattened, authoritative} */
static int compile_groups(gcs_profile *p, const ctx *c, const json_t *v, unsigned long line)
{
    static const char *const keys[] = {"column", "separator", "file", "hierarchy",
                                       "authoritative", NULL};
    unsigned long gl = line_of(c, v, line);
    int rc;
    if (!json_is_object(v))
        return perr(c, gl, "groups is a section: column, separator, file, hierarchy, "
                           "authoritative");
    if ((rc = check_keys(c, v, gl, "groups", keys)) < 0)
        return rc;
    gcs_profile_groups *g = &p->groups;
    g->enabled = true;
    g->separator = ';';
    const json_t *x;
    if ((x = json_object_get(v, "column"))) {
        p->groups_line = line_of(c, x, gl);
        if (!json_is_string(x) || !*json_string_value(x))
            return perr(c, p->groups_line, "groups: column is the name of a source field");
        if (!(g->column = strdup(json_string_value(x))))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if ((x = json_object_get(v, "separator"))) {
        const char *sep = json_string_value(x);
        if (!sep || strlen(sep) != 1 || strchr(" \t\r\n\"", sep[0]))
            return perr(c, line_of(c, x, gl), "groups: separator is one character, such as ';'");
        g->separator = sep[0];
    }
    if ((x = json_object_get(v, "file"))) {
        const char *f = json_string_value(x);
        if (!f || !*f)
            return perr(c, line_of(c, x, gl), "groups: file is the path of a groups file");
        const char *slash = strrchr(p->file, '/');
        if (f[0] == '/' || !slash) {
            g->file = strdup(f);
        } else if (asprintf(&g->file, "%.*s/%s", (int)(slash - p->file), p->file, f) < 0) {
            g->file = NULL;
        }
        if (!g->file)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if ((x = json_object_get(v, "hierarchy"))) {
        const char *h = json_string_value(x);
        if (h && strcmp(h, "kept") == 0)
            g->hierarchy = GCS_GROUPS_KEPT;
        else if (h && strcmp(h, "flattened") == 0)
            g->hierarchy = GCS_GROUPS_FLATTENED;
        else
            return perr(c, line_of(c, x, gl), "groups: hierarchy is kept or flattened");
    }
    if ((x = json_object_get(v, "authoritative"))) {
        if (!json_is_boolean(x))
            return perr(c, line_of(c, x, gl), "groups: authoritative is true or false");
        g->authoritative = json_is_true(x);
    }
    if (!g->column && !g->file)
        return perr(c, gl, "groups: name a column of the source, a file, or both");
    return 0;
}

static int compile(gcs_profile *p, const ctx *c, const json_t *root)
{
    static const char *const keys[] = {"version", "managed_by", "match", "scope", "password",
                                       "phone_country", "privileged_roles", "attributes", "groups",
                                       NULL};
    int rc;
    unsigned long rl = line_of(c, root, 1);
    if (!json_is_object(root))
        return perr(c, rl, "the profile must be an object with an 'attributes' section");
    if ((rc = check_keys(c, root, rl, "the profile", keys)) < 0)
        return rc;

    json_t *v = json_object_get(root, "version");
    if (v && !(json_is_integer(v) && json_integer_value(v) == 1))
        return perr(c, line_of(c, v, rl), "unsupported profile version (this gcscim reads 1)");

    v = json_object_get(root, "managed_by");
    if (v && json_is_false(v)) {
        p->marker = NULL;
    } else {
        if (v && !json_is_string(v))
            return perr(c, line_of(c, v, rl), "managed_by is an externalIds authority or false");
        const char *m = v ? json_string_value(v) : "gcscim";
        if (!*m || strpbrk(m, " \t\"'"))
            return perr(c, line_of(c, v, rl), "managed_by '%s' is not a usable authority", m);
        if (!(p->marker = strdup(m)))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }

    v = json_object_get(root, "phone_country");
    if (v) {
        unsigned long vl = line_of(c, v, rl);
        if ((rc = scalar_text(&p->phone_country, c, v, vl, "phone_country")) < 0)
            return rc;
        if (p->phone_country[0] == '+')
            memmove(p->phone_country, p->phone_country + 1, strlen(p->phone_country));
        if (!valid_country(p->phone_country))
            return perr(c, vl, "'%s' is not a country calling code (1 to 3 digits, e.g. 44)",
                        p->phone_country);
    }

    json_t *attrs = json_object_get(root, "attributes");
    if (!attrs || !json_is_object(attrs) || json_object_size(attrs) == 0)
        return perr(c, member_line(c, root, "attributes", rl),
                    "the profile needs an 'attributes' section mapping at least one attribute");
    p->attrs = calloc(json_object_size(attrs), sizeof *p->attrs);
    GCS_CHECK_ALLOC(p->attrs);
    /* Profile order: jansson keeps insertion order, which is the file's. */
    const char *key;
    json_object_foreach(attrs, key, v) {
        unsigned long al = key_line(c, key, line_of(c, v, line_of(c, attrs, rl)));
        gcs_attr_rule *a = &p->attrs[p->nattrs++];
        if ((rc = compile_attr(a, c, key, v, al)) < 0)
            return rc;
        for (size_t i = 0; i + 1 < p->nattrs; i++) {
            gcs_attr_rule *b = &p->attrs[i];
            bool same_whole = b->pub.target == a->pub.target && !targets[a->pub.target].needs_sub;
            bool same_part = b->pub.target == a->pub.target && a->pub.sub && b->pub.sub &&
                             !strcmp(a->pub.sub, b->pub.sub);
            if (same_whole || same_part)
                return perr(c, al, "attribute '%s' is mapped twice", key);
        }
        if (a->pub.target == GCS_TARGET_EXTERNALIDS && p->marker && !strcmp(a->pub.sub, p->marker))
            return perr(c, al, "externalIds.%s is the managed marker (managed_by): gcscim sets it "
                               "itself", p->marker);
    }

    v = json_object_get(root, "match");
    if ((rc = compile_match(p, c, v, member_line(c, root, "match", rl))) < 0)
        return rc;

    v = json_object_get(root, "scope");
    if (v && !json_is_null(v)) {
        if (!(p->scope = calloc(1, sizeof *p->scope)))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        if ((rc = compile_cond(p->scope, c, v,
                               line_of(c, v, member_line(c, root, "scope", rl)))) < 0)
            return rc;
    }

    v = json_object_get(root, "privileged_roles");
    if ((rc = compile_privileged(p, c, v, member_line(c, root, "privileged_roles", rl))) < 0)
        return rc;

    p->password = (gcs_password_policy){false, 16, 1, 1, 1, 1};
    v = json_object_get(root, "password");
    if (v && (rc = compile_password(p, c, v, member_line(c, root, "password", rl))) < 0)
        return rc;
    v = json_object_get(root, "groups");
    if (v && (rc = compile_groups(p, c, v, member_line(c, root, "groups", rl))) < 0)
        return rc;
    return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int gcs_profile_load_mem(gcs_profile **out, const char *name, const char *data, size_t len)
{
    json_t *root = NULL;
    gcs_linemap *lines = NULL;
    gcs_profile *p = NULL;
    int rc = 0;
    *out = NULL;
    ctx c = {name, NULL, NULL};

    if (len > PROFILE_SIZE_MAX) {
        rc = perr(&c, 0, "larger than %zu bytes", PROFILE_SIZE_MAX);
        goto out;
    }
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", data[lead]))
        lead++;
    bool yaml = has_suffix(name, ".yaml") || has_suffix(name, ".yml");
    bool json = !yaml && (has_suffix(name, ".json") || (lead < len && data[lead] == '{'));
    if (json) {
        /* jansson is the authority on JSON syntax; libyaml then reads the same
         * text again only to learn each node's line (JSON is YAML). When the two
         * disagree (exotic escapes), jansson's tree wins and errors lose lines. */
        json_error_t jerr;
        root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            rc = perr(&c, (unsigned long)(jerr.line > 0 ? jerr.line : 0), "%s", jerr.text);
            goto out;
        }
        json_t *twin = NULL;
        if (gcs_mapping__yaml_parse(&twin, &lines, data, len) == 0 && json_equal(twin, root)) {
            json_decref(root);
            root = twin;
        } else {
            json_decref(twin);
            gcs_mapping__linemap_free(lines);
            lines = NULL;
        }
        gcs_error_clear();
    } else if ((rc = gcs_mapping__yaml_parse(&root, &lines, data, len)) < 0) {
        gcs_error_prefix(rc, "cannot read mapping profile '%s'", name);
        goto out;
    }

    if (!(p = calloc(1, sizeof *p)) || !(p->file = strdup(name))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    c.lines = lines;
    c.profile = p;
    if ((rc = compile(p, &c, root)) < 0)
        goto out;
    *out = p;
    p = NULL;
out:
    gcs_profile_free(p);
    json_decref(root);
    gcs_mapping__linemap_free(lines);
    return rc;
}

int gcs_profile_load(gcs_profile **out, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return gcs_error_set(GCS_EIO, "cannot read mapping profile '%s': %s", path,
                             strerror(errno));
    char *data = malloc(PROFILE_SIZE_MAX + 1);
    int rc = 0;
    GCS_CHECK_ALLOC_GOTO(data, rc, out);
    size_t len = fread(data, 1, PROFILE_SIZE_MAX + 1, f);
    if (ferror(f)) {
        rc = gcs_error_set(GCS_EIO, "cannot read mapping profile '%s': %s", path,
                           strerror(errno));
        goto out;
    }
    rc = gcs_profile_load_mem(out, path, data, len);
out:
    free(data);
    fclose(f);
    return rc;
}

void gcs_profile_free(gcs_profile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nattrs; i++) {
        gcs_attr_rule *a = &p->attrs[i];
        free((char *)a->pub.name);
        free(a->from);
        free(a->tmpl);
        free(a->constant);
        free(a->dflt);
        free(a->prof_sep);
        for (size_t k = 0; k < a->nxf; k++) {
            free(a->xf[k].arg);
            free(a->xf[k].fallback);
            json_decref(a->xf[k].table);
        }
        free(a->xf);
    }
    free(p->attrs);
    for (size_t i = 0; i < p->nmatch; i++)
        free(p->match[i]);
    free(p->match);
    if (p->scope) {
        cond_release(p->scope);
        free(p->scope);
    }
    for (size_t i = 0; i < p->nprivileged; i++)
        free(p->privileged[i]);
    free(p->privileged);
    free(p->groups.column);
    free(p->groups.file);
    free(p->marker);
    free(p->phone_country);
    free(p->file);
    free(p);
}

/* ==== Accessors ==== */

const char *gcs_profile_file(const gcs_profile *p)
{
    return p->file;
}

size_t gcs_profile_attr_count(const gcs_profile *p)
{
    return p->nattrs;
}

const gcs_profile_attr *gcs_profile_attr_at(const gcs_profile *p, size_t i)
{
    return i < p->nattrs ? &p->attrs[i].pub : NULL;
}

const gcs_profile_attr *gcs_profile_attr_find(const gcs_profile *p, const char *name)
{
    for (size_t i = 0; i < p->nattrs; i++) {
        if (!strcmp(p->attrs[i].pub.name, name))
            return &p->attrs[i].pub;
    }
    return NULL;
}

size_t gcs_profile_match_count(const gcs_profile *p)
{
    return p->nmatch;
}

const char *gcs_profile_match_key(const gcs_profile *p, size_t i)
{
    return i < p->nmatch ? p->match[i] : NULL;
}

const char *gcs_profile_managed_authority(const gcs_profile *p)
{
    return p->marker;
}

const gcs_password_policy *gcs_profile_password_policy(const gcs_profile *p)
{
    return &p->password;
}

size_t gcs_profile_privileged_role_count(const gcs_profile *p)
{
    return p->nprivileged;
}

const char *gcs_profile_privileged_role_at(const gcs_profile *p, size_t i)
{
    return i < p->nprivileged ? p->privileged[i] : NULL;
}

const gcs_profile_groups *gcs_profile_groups_of(const gcs_profile *p)
{
    return &p->groups;
}
