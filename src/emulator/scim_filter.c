/* SCIM filters (RFC 7644 3.4.2.2): a recursive-descent parser into a small
 * tree, and its evaluation against a resource. Attribute names are
 * case-insensitive; string comparisons too (Genesys's attributes are not
 * caseExact). Input is bounded: 4,096 bytes and 32 levels of nesting. */
#include "emulator/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FILTER_MAX_LEN 4096
#define FILTER_MAX_DEPTH 32

typedef enum { F_AND, F_OR, F_NOT, F_CMP, F_PRESENT, F_VALUEPATH } fkind;
typedef enum { OP_EQ, OP_NE, OP_CO, OP_SW, OP_EW, OP_GT, OP_GE, OP_LT, OP_LE } fop;

struct scim_filter {
    fkind kind;
    fop op;
    char *path;
    json_t *value;
    struct scim_filter *a, *b;
};

typedef struct parser {
    const char *s;
    size_t pos;
    int depth;
    char *err;
    size_t errsz;
    bool failed;
} parser;

static scim_filter *parse_or(parser *p);

static void fail(parser *p, const char *msg)
{
    if (!p->failed)
        snprintf(p->err, p->errsz, "%s at offset %zu", msg, p->pos);
    p->failed = true;
}

static void skip_ws(parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
        p->pos++;
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == ':' || c == '.' || c == '_' || c == '-' || c == '$';
}

/* Reads a bare word (attribute path, operator, keyword) into out. */
static bool word(parser *p, char *out, size_t outsz)
{
    skip_ws(p);
    size_t n = 0;
    while (is_word_char(p->s[p->pos])) {
        if (n + 1 >= outsz) {
            fail(p, "name too long");
            return false;
        }
        out[n++] = p->s[p->pos++];
    }
    out[n] = '\0';
    return n > 0;
}

static bool peek_word(parser *p, const char *kw)
{
    skip_ws(p);
    size_t n = strlen(kw);
    return strncasecmp(p->s + p->pos, kw, n) == 0 && !is_word_char(p->s[p->pos + n]);
}

static json_t *value(parser *p)
{
    skip_ws(p);
    if (p->s[p->pos] == '"') {
        /* A JSON string: let jansson unescape it. */
        size_t start = p->pos++;
        while (p->s[p->pos] && p->s[p->pos] != '"') {
            if (p->s[p->pos] == '\\' && p->s[p->pos + 1])
                p->pos++;
            p->pos++;
        }
        if (p->s[p->pos] != '"') {
            fail(p, "unterminated string");
            return NULL;
        }
        p->pos++;
        json_t *v = json_loadb(p->s + start, p->pos - start, JSON_DECODE_ANY, NULL);
        if (!v)
            fail(p, "bad string");
        return v;
    }
    /* A bare value, as the Genesys API reference writes its examples
     * (`userName eq search@sample.org`, `externalId eq 167844`,
     * `displayname eq Sales`): words up to `and`, `or`, `)`, `]` or the end,
     * joined by one space. true, false and null keep their JSON meaning;
     * anything else, numbers included, is a string (a number attribute still
     * compares numerically, see compare()). */
    char w[512];
    size_t n = 0;
    for (;;) {
        size_t start = p->pos;
        while (p->s[p->pos] && p->s[p->pos] != ' ' && p->s[p->pos] != '\t' &&
               p->s[p->pos] != ')' && p->s[p->pos] != ']')
            p->pos++;
        size_t len = p->pos - start;
        if (len == 0)
            break;
        if (n + len + 2 > sizeof w) {
            fail(p, "value too long");
            return NULL;
        }
        if (n)
            w[n++] = ' ';
        memcpy(w + n, p->s + start, len);
        n += len;
        size_t save = p->pos;
        skip_ws(p);
        if (!p->s[p->pos] || p->s[p->pos] == ')' || p->s[p->pos] == ']' || peek_word(p, "and") ||
            peek_word(p, "or")) {
            p->pos = save;
            break;
        }
    }
    w[n] = '\0';
    if (n == 0) {
        fail(p, "value expected");
        return NULL;
    }
    if (strcasecmp(w, "true") == 0)
        return json_true();
    if (strcasecmp(w, "false") == 0)
        return json_false();
    if (strcasecmp(w, "null") == 0)
        return json_null();
    json_t *v = json_stringn(w, n);
    if (!v)
        fail(p, "value is not UTF-8");
    return v;
}

static scim_filter *node(fkind kind)
{
    scim_filter *f = calloc(1, sizeof *f);
    if (f)
        f->kind = kind;
    return f;
}

static scim_filter *parse_unary(parser *p)
{
    scim_filter *f = NULL;
    if (++p->depth > FILTER_MAX_DEPTH) {
        fail(p, "filter nested too deeply");
        goto out;
    }
    skip_ws(p);
    bool negate = false;
    if (peek_word(p, "not")) {
        p->pos += 3;
        skip_ws(p);
        if (p->s[p->pos] != '(') {
            fail(p, "'(' expected after not");
            goto out;
        }
        negate = true;
    }
    if (p->s[p->pos] == '(') {
        p->pos++;
        f = parse_or(p);
        skip_ws(p);
        if (p->failed || p->s[p->pos] != ')') {
            fail(p, "')' expected");
            goto out;
        }
        p->pos++;
        if (negate) {
            scim_filter *n = node(F_NOT);
            if (!n) {
                fail(p, "out of memory");
                goto out;
            }
            n->a = f;
            f = n;
        }
        goto out;
    }
    char path[256];
    if (!word(p, path, sizeof path)) {
        fail(p, "attribute name expected");
        goto out;
    }
    skip_ws(p);
    if (p->s[p->pos] == '[') {
        p->pos++;
        f = node(F_VALUEPATH);
        if (!f || !(f->path = strdup(path))) {
            fail(p, "out of memory");
            goto out;
        }
        f->a = parse_or(p);
        skip_ws(p);
        if (p->failed || p->s[p->pos] != ']') {
            fail(p, "']' expected");
            goto out;
        }
        p->pos++;
        goto out;
    }
    char op[8];
    if (!word(p, op, sizeof op)) {
        fail(p, "operator expected");
        goto out;
    }
    static const char *const ops[] = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"};
    f = node(F_CMP);
    if (!f || !(f->path = strdup(path))) {
        fail(p, "out of memory");
        goto out;
    }
    if (strcasecmp(op, "pr") == 0) {
        f->kind = F_PRESENT;
        goto out;
    }
    size_t i;
    for (i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcasecmp(op, ops[i]) == 0)
            break;
    if (i == sizeof ops / sizeof *ops) {
        fail(p, "unknown operator");
        goto out;
    }
    f->op = (fop)i;
    f->value = value(p);
out:
    p->depth--;
    return f;
}

static scim_filter *parse_and(parser *p)
{
    scim_filter *f = parse_unary(p);
    while (!p->failed && peek_word(p, "and")) {
        p->pos += 3;
        scim_filter *n = node(F_AND);
        if (!n) {
            fail(p, "out of memory");
            break;
        }
        n->a = f;
        n->b = parse_unary(p);
        f = n;
    }
    return f;
}

static scim_filter *parse_or(parser *p)
{
    scim_filter *f = parse_and(p);
    while (!p->failed && peek_word(p, "or")) {
        p->pos += 2;
        scim_filter *n = node(F_OR);
        if (!n) {
            fail(p, "out of memory");
            break;
        }
        n->a = f;
        n->b = parse_and(p);
        f = n;
    }
    return f;
}

scim_filter *gcs_scim_filter_parse(const char *text, char *err, size_t errsz)
{
    parser p = {.s = text, .err = err, .errsz = errsz};
    if (strlen(text) > FILTER_MAX_LEN) {
        snprintf(err, errsz, "filter is over %d bytes", FILTER_MAX_LEN);
        return NULL;
    }
    scim_filter *f = parse_or(&p);
    skip_ws(&p);
    if (!p.failed && p.s[p.pos] != '\0')
        fail(&p, "unexpected text");
    if (!p.failed && !f)
        fail(&p, "empty filter");
    if (p.failed) {
        gcs_scim_filter_free(f);
        return NULL;
    }
    return f;
}

void gcs_scim_filter_free(scim_filter *f)
{
    if (!f)
        return;
    gcs_scim_filter_free(f->a);
    gcs_scim_filter_free(f->b);
    free(f->path);
    json_decref(f->value);
    free(f);
}

const char *gcs_scim_filter_eq_value(const scim_filter *f, const char *attr)
{
    if (f->kind == F_CMP && f->op == OP_EQ && strcasecmp(f->path, attr) == 0)
        return json_string_value(f->value);
    return NULL;
}

/* ==== Attribute paths ==== */

static json_t *get_ci(const json_t *obj, const char *name, size_t len)
{
    const char *key;
    json_t *v;
    if (!json_is_object(obj))
        return NULL;
    json_object_foreach((json_t *)obj, key, v)
        if (strlen(key) == len && strncasecmp(key, name, len) == 0)
            return v;
    return NULL;
}

static void collect(const json_t *at, const char *path, json_t *out)
{
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    const json_t *v = get_ci(at, path, len);
    if (!v)
        return;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (dot)
                collect(e, dot + 1, out);
            else if (json_is_object(e) && json_object_get(e, "value"))
                json_array_append(out, json_object_get(e, "value"));
            else
                json_array_append(out, e);
        }
    } else if (dot) {
        collect(v, dot + 1, out);
    } else if (json_is_object(v) && json_object_get(v, "value")) {
        json_array_append(out, json_object_get(v, "value"));
    } else {
        json_array_append(out, (json_t *)v);
    }
}

void gcs_scim_attr_values(const json_t *resource, const char *path, json_t *out)
{
    if (strncasecmp(path, "urn:", 4) == 0) {
        const char *colon = strrchr(path, ':');
        size_t ulen = (size_t)(colon - path);
        const json_t *at = resource;
        if (!(ulen == strlen(SCIM_USER_SCHEMA) && strncasecmp(path, SCIM_USER_SCHEMA, ulen) == 0) &&
            !(ulen == strlen(SCIM_GROUP_SCHEMA) && strncasecmp(path, SCIM_GROUP_SCHEMA, ulen) == 0))
            at = get_ci(resource, path, ulen);
        if (at)
            collect(at, colon + 1, out);
        return;
    }
    size_t before = json_array_size(out);
    collect(resource, path, out);
    if (json_array_size(out) != before)
        return;
    /* Genesys's short names for extension attributes. */
    static const struct {
        const char *alias, *urn, *path;
    } aliases[] = {
        {"email", NULL, "emails.value"},
        {"manager", SCIM_ENTERPRISE, "manager.value"},
        {"division", SCIM_ENTERPRISE, "division"},
        {"department", SCIM_ENTERPRISE, "department"},
        {"employeeNumber", SCIM_ENTERPRISE, "employeeNumber"},
        {"externalIds", SCIM_GENESYS, "externalIds"},
        {"routingSkills", SCIM_GENESYS, "routingSkills"},
        {"routingLanguages", SCIM_GENESYS, "routingLanguages"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (strcasecmp(path, aliases[i].alias) == 0) {
            const json_t *at = aliases[i].urn ? json_object_get(resource, aliases[i].urn) : resource;
            if (at)
                collect(at, aliases[i].path, out);
            return;
        }
}

/* ==== Evaluation ==== */

static bool compare(const json_t *have, fop op, const json_t *want)
{
    if (json_is_string(have) && json_is_string(want)) {
        const char *h = json_string_value(have), *w = json_string_value(want);
        size_t hl = strlen(h), wl = strlen(w);
        int c = strcasecmp(h, w);
        switch (op) {
        case OP_EQ: return c == 0;
        case OP_NE: return c != 0;
        case OP_CO: return strcasestr(h, w) != NULL;
        case OP_SW: return strncasecmp(h, w, wl) == 0;
        case OP_EW: return hl >= wl && strcasecmp(h + hl - wl, w) == 0;
        case OP_GT: return c > 0;
        case OP_GE: return c >= 0;
        case OP_LT: return c < 0;
        case OP_LE: return c <= 0;
        }
    }
    /* A number attribute against a bare or quoted number: numerically. */
    double wn = 0;
    bool want_num = json_is_number(want);
    if (want_num) {
        wn = json_number_value(want);
    } else if (json_is_number(have) && json_is_string(want) && *json_string_value(want)) {
        char *end;
        wn = strtod(json_string_value(want), &end);
        want_num = *end == '\0';
    }
    if (json_is_number(have) && want_num) {
        double h = json_number_value(have), w = wn;
        switch (op) {
        case OP_EQ: return h == w;
        case OP_NE: return h != w;
        case OP_GT: return h > w;
        case OP_GE: return h >= w;
        case OP_LT: return h < w;
        case OP_LE: return h <= w;
        default: return false;
        }
    }
    if (json_is_boolean(have) && json_is_boolean(want)) {
        bool eq = json_is_true(have) == json_is_true(want);
        return op == OP_EQ ? eq : op == OP_NE ? !eq : false;
    }
    /* "active eq "false"": clients quote booleans; be liberal. */
    if (json_is_boolean(have) && json_is_string(want)) {
        bool eq = (strcasecmp(json_string_value(want), "true") == 0) == json_is_true(have);
        return op == OP_EQ ? eq : op == OP_NE ? !eq : false;
    }
    return op == OP_NE;
}

bool gcs_scim_filter_match(const scim_filter *f, const json_t *resource)
{
    switch (f->kind) {
    case F_AND:
        return gcs_scim_filter_match(f->a, resource) && gcs_scim_filter_match(f->b, resource);
    case F_OR:
        return gcs_scim_filter_match(f->a, resource) || gcs_scim_filter_match(f->b, resource);
    case F_NOT:
        return !gcs_scim_filter_match(f->a, resource);
    default:
        break;
    }
    json_t *vals = json_array();
    bool hit = false;
    if (f->kind == F_VALUEPATH) {
        /* Elements themselves, not their "value". */
        const json_t *arr = NULL;
        if (strncasecmp(f->path, "urn:", 4) == 0) {
            const char *colon = strrchr(f->path, ':');
            const json_t *ext = get_ci(resource, f->path, (size_t)(colon - f->path));
            arr = get_ci(ext ? ext : resource, colon + 1, strlen(colon + 1));
        } else {
            arr = get_ci(resource, f->path, strlen(f->path));
            /* The short names of the genesys extension's multi-valued attributes. */
            if (!arr)
                arr = get_ci(json_object_get(resource, SCIM_GENESYS), f->path, strlen(f->path));
        }
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
            if ((hit = gcs_scim_filter_match(f->a, e)))
                break;
        json_decref(vals);
        return hit;
    }
    gcs_scim_attr_values(resource, f->path, vals);
    if (f->kind == F_PRESENT) {
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v)
            if (!json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)))
                hit = true;
    } else if (f->op == OP_NE) {
        hit = true;
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v)
            if (compare(v, OP_EQ, f->value))
                hit = false;
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v)
            if ((hit = compare(v, f->op, f->value)))
                break;
    }
    json_decref(vals);
    return hit;
}

void gcs_scim_filter_eq_terms(const scim_filter *f, json_t *obj)
{
    if (!f)
        return;
    if (f->kind == F_AND) {
        gcs_scim_filter_eq_terms(f->a, obj);
        gcs_scim_filter_eq_terms(f->b, obj);
    } else if (f->kind == F_CMP && f->op == OP_EQ && !strchr(f->path, '.') &&
               !strchr(f->path, ':')) {
        json_object_set(obj, f->path, f->value);
    }
}

bool gcs_scim_filter_extid_pair(const scim_filter *f, const char **authority, const char **value)
{
    if (f->kind != F_VALUEPATH || !f->a || f->a->kind != F_AND)
        return false;
    const char *p = f->path;
    size_t n = strlen(SCIM_GENESYS);
    if (strncasecmp(p, SCIM_GENESYS, n) == 0 && p[n] == ':')
        p += n + 1;
    if (strcasecmp(p, "externalIds") != 0)
        return false;
    const scim_filter *x = f->a->a, *y = f->a->b;
    if (!x || !y || x->kind != F_CMP || y->kind != F_CMP || x->op != OP_EQ || y->op != OP_EQ ||
        !json_is_string(x->value) || !json_is_string(y->value))
        return false;
    if (strcasecmp(x->path, "value") == 0) {
        const scim_filter *t = x;
        x = y;
        y = t;
    }
    if (strcasecmp(x->path, "authority") != 0 || strcasecmp(y->path, "value") != 0)
        return false;
    *authority = json_string_value(x->value);
    *value = json_string_value(y->value);
    return true;
}

bool gcs_scim_filter_active_eq(const scim_filter *f, bool *active)
{
    if (f->kind != F_CMP || f->op != OP_EQ || strcasecmp(f->path, "active") != 0)
        return false;
    if (json_is_boolean(f->value)) {
        *active = json_is_true(f->value);
        return true;
    }
    const char *v = json_string_value(f->value);
    if (v && (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0)) {
        *active = strcasecmp(v, "true") == 0;
        return true;
    }
    return false;
}
