/* What the SCIM routes share: checking a user against the organisation,
 * If-Match, and the attributes / excludedAttributes projection. */
#include "emulator/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ==== If-Match ==== */

/* The version inside `"3"`, `W/"3"` or `3`; -1 when it is not a number. */
static long etag_version(const char *tag)
{
    while (*tag == ' ')
        tag++;
    if (strncmp(tag, "W/", 2) == 0)
        tag += 2;
    if (*tag == '"')
        tag++;
    char *end;
    long v = strtol(tag, &end, 10);
    if (end == tag)
        return -1;
    return v;
}

bool gcs_emu_if_match(emu_req *r, long version)
{
    const char *im = gcs_http_request_header(r->http, "If-Match");
    if (!im || strcmp(im, "*") == 0)
        return true;
    if (etag_version(im) == version)
        return true;
    gcs_emu_scim_error(r, r->emu->config.version_conflict_status, "invalidVers",
                       "Version does not match current version (have %ld)", version);
    return false;
}

/* ==== Validation ==== */

static bool str_or_absent(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return !v || json_is_string(v) || json_is_null(v);
}

static bool phone_ok(const char *v)
{
    if (strncasecmp(v, "tel:", 4) == 0)
        return strlen(v) > 4;
    if (*v != '+' || !isdigit((unsigned char)v[1]) || v[1] == '0')
        return false;
    size_t digits = 0;
    const char *p = v + 1;
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    return digits >= 2 && digits <= 15 && (*p == '\0' || strncasecmp(p, ";ext=", 5) == 0);
}

static bool date_ok(const char *v)
{
    int y, m, d;
    char tail;
    return strlen(v) == 10 && sscanf(v, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && m >= 1 &&
           m <= 12 && d >= 1 && d <= 31 && v[4] == '-' && v[7] == '-';
}

#define BAD(type, ...)                                                                             \
    do {                                                                                           \
        gcs_emu_scim_error(r, 400, type, __VA_ARGS__);                                             \
        return false;                                                                              \
    } while (0)

static bool check_named(emu_req *r, const json_t *arr, const emu_list *list, const char *what)
{
    size_t i;
    const json_t *e;
    if (!json_is_array(arr))
        BAD("invalidValue", "%s must be an array", what);
    if (json_array_size(arr) > EMU_MAX_SKILLS)
        BAD("invalidValue", "at most %d %s", EMU_MAX_SKILLS, what);
    json_array_foreach(arr, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        const json_t *prof = json_object_get(e, "proficiency");
        if (!name)
            BAD("invalidValue", "%s[%zu] has no name", what, i);
        if (!gcs_emu_map_get(&list->by_name, name))
            BAD("invalidValue", "unknown %s '%.100s'", what, name);
        if (prof && (!json_is_number(prof) || json_number_value(prof) < 0 ||
                     json_number_value(prof) > 5))
            BAD("invalidValue", "%s '%.100s': proficiency must be 0 to 5", what, name);
    }
    return true;
}

static bool check_multi(emu_req *r, const json_t *arr, const char *what,
                        const char *const *types, bool phone)
{
    size_t i;
    const json_t *e;
    if (!json_is_array(arr))
        BAD("invalidValue", "%s must be an array", what);
    json_array_foreach(arr, i, e) {
        const char *v = json_string_value(json_object_get(e, "value"));
        const char *t = json_string_value(json_object_get(e, "type"));
        if (!json_is_object(e) || !v)
            BAD("invalidValue", "%s[%zu] needs a string value", what, i);
        if (phone && !phone_ok(v))
            BAD("invalidValue", "%s[%zu]: '%.60s' is not E.164 or a tel URI", what, i, v);
        if (t) {
            size_t k = 0;
            while (types[k] && strcasecmp(types[k], t) != 0)
                k++;
            if (!types[k])
                BAD("invalidValue", "%s[%zu]: unknown type '%.40s'", what, i, t);
        }
    }
    return true;
}

bool gcs_emu_user_validate(emu_req *r, json_t *doc, const emu_user *self)
{
    gcs_emu *emu = r->emu;
    static const char *const keep[] = {
        "id", "schemas", "meta", "groups", "userName", "displayName", "nickName", "title",
        "active", "emails", "phoneNumbers", "externalId", "roles", "name", "addresses",
        "userType", "preferredLanguage", "locale", "timezone", "photos", "profileUrl",
        SCIM_ENTERPRISE, SCIM_GENESYS, NULL};
    static const char *const phone_types[] = {
        "work", "work2", "work3", "work4", "home", "mobile", "other", "microsoftteams",
        "zoomphone", "eightbyeight", "ringcentral", NULL};
    static const char *const email_types[] = {"work", "other", NULL};

    const json_t *pw = json_object_get(doc, "password");
    if (pw && !json_is_string(pw))
        BAD("invalidValue", "password must be a string");
    /* Unknown attributes are ignored, as RFC 7644 lets a server do; password
     * is write-only: accepted and forgotten. */
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(doc, tmp, key, v) {
        size_t k = 0;
        while (keep[k] && strcmp(keep[k], key) != 0)
            k++;
        /* A null is an absent attribute (a replace with null removes it). */
        if (!keep[k] || json_is_null(v))
            json_object_del(doc, key);
    }
    static const char *const exts[] = {SCIM_ENTERPRISE, SCIM_GENESYS};
    for (size_t e = 0; e < 2; e++) {
        json_t *ext = json_object_get(doc, exts[e]);
        if (json_is_object(ext))
            json_object_foreach_safe(ext, tmp, key, v)
                if (json_is_null(v))
                    json_object_del(ext, key);
    }
    const char *un = json_string_value(json_object_get(doc, "userName"));
    const char *dn = json_string_value(json_object_get(doc, "displayName"));
    if (!un || !*un)
        BAD("invalidValue", "userName is required");
    if (strlen(un) > 255)
        BAD("invalidValue", "userName is too long");
    if (!dn || !*dn)
        BAD("invalidValue", "displayName is required");
    const json_t *active = json_object_get(doc, "active");
    if (active && !json_is_boolean(active))
        BAD("invalidValue", "active must be true or false");
    if (!str_or_absent(doc, "title") || !str_or_absent(doc, "externalId") ||
        !str_or_absent(doc, "nickName"))
        BAD("invalidValue", "title, externalId and nickName must be strings");
    if ((v = json_object_get(doc, "emails")) && !check_multi(r, v, "emails", email_types, false))
        return false;
    if ((v = json_object_get(doc, "phoneNumbers")) &&
        !check_multi(r, v, "phoneNumbers", phone_types, true))
        return false;
    if ((v = json_object_get(doc, "roles"))) {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            BAD("invalidValue", "roles must be an array");
        json_array_foreach(v, i, e) {
            const char *name = json_string_value(json_object_get(e, "value"));
            if (!name)
                BAD("invalidValue", "roles[%zu] needs a value (a role name)", i);
            if (!gcs_emu_map_get(&emu->org.roles.by_name, name))
                BAD("invalidValue", "unknown role '%.100s'", name);
        }
    }
    json_t *ent = json_object_get(doc, SCIM_ENTERPRISE);
    if (ent) {
        if (!json_is_object(ent))
            BAD("invalidValue", "the enterprise extension must be an object");
        const char *division = json_string_value(json_object_get(ent, "division"));
        if (!str_or_absent(ent, "division") || !str_or_absent(ent, "department") ||
            !str_or_absent(ent, "employeeNumber") || !str_or_absent(ent, "dateHire"))
            BAD("invalidValue", "division, department, employeeNumber and dateHire are strings");
        if (division && !gcs_emu_map_get(&emu->org.divisions.by_name, division))
            BAD("invalidValue", "unknown division '%.100s'", division);
        const char *hire = json_string_value(json_object_get(ent, "dateHire"));
        if (hire && *hire && !date_ok(hire))
            BAD("invalidValue", "dateHire must be YYYY-MM-DD");
        const json_t *mgr = json_object_get(ent, "manager");
        if (mgr && !json_is_null(mgr)) {
            const char *id = json_string_value(json_object_get(mgr, "value"));
            if (!json_is_object(mgr) || !id)
                BAD("invalidValue", "manager must be {\"value\": userId}");
            if (*id && !gcs_emu_user_find(emu, id))
                BAD("invalidValue", "manager '%.60s' is not a user", id);
            if (self && strcmp(id, self->id) == 0)
                BAD("invalidValue", "a user cannot be their own manager");
        }
    }
    json_t *gen = json_object_get(doc, SCIM_GENESYS);
    if (gen) {
        if (!json_is_object(gen))
            BAD("invalidValue", "the genesys extension must be an object");
        if ((v = json_object_get(gen, "routingSkills")) &&
            !check_named(r, v, &emu->org.skills, "routingSkills"))
            return false;
        if ((v = json_object_get(gen, "routingLanguages")) &&
            !check_named(r, v, &emu->org.languages, "routingLanguages"))
            return false;
        if ((v = json_object_get(gen, "externalIds"))) {
            size_t i;
            json_t *e;
            if (!json_is_array(v))
                BAD("invalidValue", "externalIds must be an array");
            json_array_foreach(v, i, e)
                if (!json_is_string(json_object_get(e, "authority")) ||
                    !json_is_string(json_object_get(e, "value")))
                    BAD("invalidValue", "externalIds[%zu] needs authority and value", i);
        }
    }
    emu_user *other = gcs_emu_user_find_name(emu, un);
    if (other && other != self) {
        gcs_emu_scim_error(r, 409, "uniqueness", "userName '%.200s' is taken", un);
        return false;
    }
    return true;
}

/* ==== attributes / excludedAttributes ==== */

/* The key of obj that is `name` in any case: the exact key when there is one
 * (a hash lookup), else the first that matches without regard to case. */
static const char *key_ci(const json_t *obj, const char *name)
{
    void *it = json_object_iter_at((json_t *)obj, name);
    if (it)
        return json_object_iter_key(it);
    /* ASCII case folding keeps lengths: compare those first. */
    size_t n = strlen(name);
    for (it = json_object_iter((json_t *)obj); it; it = json_object_iter_next((json_t *)obj, it))
        if (json_object_iter_key_len(it) == n && strcasecmp(json_object_iter_key(it), name) == 0)
            return json_object_iter_key(it);
    return NULL;
}

/* One name of an attributes list: a whole extension ("urn:…:User") when the
 * document has that key, else (urn or NULL, attr) with any ".sub" cut off. */
typedef struct proj_name {
    char *whole;         /* the name as given, when it starts with "urn:" */
    char *urn;           /* NULL for the core schema */
    char *attr;
} proj_name;

struct emu_projection {
    proj_name *include, *exclude;
    size_t ninclude, nexclude;
    char *store_include, *store_exclude; /* the names' strings */
};

/* Splits a comma-separated list (its first 1,023 characters) into names. */
static size_t split_names(const char *list, char **store, proj_name **out)
{
    size_t len = strnlen(list, 1023), count = 0;
    char *buf = malloc(2 * len + 2);
    proj_name *names = calloc(len / 2 + 1, sizeof *names);
    if (!buf || !names) {
        free(buf);
        free(names);
        *out = NULL;
        *store = NULL;
        return 0;
    }
    memcpy(buf, list, len);
    buf[len] = '\0';
    char *spare = buf + len + 1; /* a second copy for the whole names */
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        proj_name *n = &names[count];
        if (strncasecmp(tok, "urn:", 4) == 0) {
            size_t tl = strlen(tok);
            memcpy(spare, tok, tl + 1);
            n->whole = spare;
            spare += tl + 1;
            char *colon = strrchr(tok, ':');
            *colon = '\0';
            n->urn = tok;
            tok = colon + 1;
            if (strcasecmp(n->urn, SCIM_USER_SCHEMA) == 0 || strcasecmp(n->urn, SCIM_GROUP_SCHEMA) == 0)
                n->urn = NULL;
        }
        char *dot = strchr(tok, '.');
        if (dot)
            *dot = '\0';
        n->attr = tok;
        if (*tok || n->whole)
            count++;
        else
            memset(n, 0, sizeof *n);
    }
    *store = buf;
    *out = names;
    return count;
}

/* Calls fn for each name, as it applies to this document. */
static void each_attr(const proj_name *names, size_t count,
                      void (*fn)(json_t *, const json_t *, const char *, const char *),
                      json_t *out, const json_t *doc)
{
    for (size_t i = 0; i < count; i++) {
        const proj_name *n = &names[i];
        if (n->whole && key_ci(doc, n->whole))
            fn(out, doc, NULL, n->whole);
        else if (*n->attr)
            fn(out, doc, n->urn, n->attr);
    }
}

/* Keys are the document's own (valid UTF-8): set without checking them again. */
static void include_one(json_t *out, const json_t *doc, const char *urn, const char *attr)
{
    const char *uk = urn ? key_ci(doc, urn) : NULL;
    const json_t *from = urn ? json_object_get(doc, uk ? uk : "") : doc;
    const char *k = from ? key_ci(from, attr) : NULL;
    if (!k) {
        /* A whole extension named as an attribute. */
        if (!urn && (k = key_ci(doc, attr)))
            json_object_set_nocheck(out, k, json_object_get(doc, k));
        return;
    }
    if (!urn) {
        json_object_set_nocheck(out, k, json_object_get(from, k));
        return;
    }
    json_t *ext = json_object_get(out, uk);
    if (!ext) {
        ext = json_object();
        json_object_set_new_nocheck(out, uk, ext);
    }
    json_object_set_nocheck(ext, k, json_object_get(from, k));
}

static void exclude_one(json_t *out, const json_t *doc, const char *urn, const char *attr)
{
    (void)doc;
    json_t *from = urn ? json_object_get(out, key_ci(out, urn) ?: "") : out;
    const char *k = from ? key_ci(from, attr) : NULL;
    if (k && strcmp(k, "id") != 0 && strcmp(k, "schemas") != 0)
        json_object_del(from, k);
}

emu_projection *gcs_emu_projection_new(const char *attributes, const char *excluded)
{
    emu_projection *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    bool in = attributes && *attributes, ex = excluded && *excluded;
    if (in)
        p->ninclude = split_names(attributes, &p->store_include, &p->include);
    if (ex)
        p->nexclude = split_names(excluded, &p->store_exclude, &p->exclude);
    if ((in && !p->include) || (ex && !p->exclude)) {
        gcs_emu_projection_free(p);
        return NULL;
    }
    return p;
}

void gcs_emu_projection_free(emu_projection *p)
{
    if (!p)
        return;
    free(p->store_include);
    free(p->store_exclude);
    free(p->include);
    free(p->exclude);
    free(p);
}

bool gcs_emu_projection_is_whole(const emu_projection *p)
{
    return !p || (!p->include && !p->exclude);
}

json_t *gcs_emu_projection_apply(const emu_projection *p, const json_t *doc)
{
    json_t *out;
    if (p && p->include) {
        out = json_object();
        json_object_set(out, "schemas", json_object_get(doc, "schemas"));
        json_object_set(out, "id", json_object_get(doc, "id"));
        each_attr(p->include, p->ninclude, include_one, out, doc);
        if (json_object_get(doc, "meta"))
            json_object_set(out, "meta", json_object_get(doc, "meta"));
    } else {
        out = gcs_emu_json_copy(doc);
    }
    if (p && p->exclude) {
        if (p->include) {
            /* `out` shares values with `doc`: never cut into those. */
            json_t *copy = gcs_emu_json_copy(out);
            json_decref(out);
            out = copy;
        }
        each_attr(p->exclude, p->nexclude, exclude_one, out, doc);
    }
    return out;
}

/* ==== The projection written without its tree ====
 *
 * The object gcs_emu_projection_apply builds, kept as a short list of
 * (key, value) in insertion order, with the same rules: a key set again keeps
 * its place and takes the new value; an extension named by one of its
 * attributes is a new object of the attributes named, unless the whole
 * extension is in the answer already (then it stays whole). */

#define PROJ_MAX 72

typedef struct proj_slot {
    const char *key;
    const json_t *value;  /* NULL for an extension built from its attributes */
    int parent;           /* -1 at the top, else the index of the built extension */
} proj_slot;

typedef struct proj_list {
    proj_slot slots[PROJ_MAX];
    int n;
    bool overflow;
} proj_list;

static int proj_find(const proj_list *l, int parent, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (l->slots[i].parent == parent && strcmp(l->slots[i].key, key) == 0)
            return i;
    return -1;
}

/* json_object_set semantics: a NULL value adds nothing. */
static int proj_set(proj_list *l, int parent, const char *key, const json_t *value, bool built)
{
    if (!value && !built)
        return -1;
    int i = proj_find(l, parent, key);
    if (i < 0) {
        if (l->n == PROJ_MAX) {
            l->overflow = true;
            return -1;
        }
        i = l->n++;
        l->slots[i].key = key;
        l->slots[i].parent = parent;
    }
    l->slots[i].value = built ? NULL : value;
    return i;
}

static void proj_include(proj_list *l, const json_t *doc, const char *urn, const char *attr)
{
    const char *uk = urn ? key_ci(doc, urn) : NULL;
    const json_t *from = urn ? json_object_get(doc, uk ? uk : "") : doc;
    const char *k = from ? key_ci(from, attr) : NULL;
    if (!k) {
        if (!urn && (k = key_ci(doc, attr)))
            proj_set(l, -1, k, json_object_get(doc, k), false);
        return;
    }
    if (!urn) {
        proj_set(l, -1, k, json_object_get(from, k), false);
        return;
    }
    int e = proj_find(l, -1, uk);
    if (e >= 0 && l->slots[e].value) {
        /* The whole extension is there: setting one of its own attributes
         * to its own value changes nothing. */
        if (!json_is_object(l->slots[e].value))
            l->overflow = true; /* not an object: leave it to the tree */
        return;
    }
    if (e < 0 && (e = proj_set(l, -1, uk, NULL, true)) < 0)
        return;
    proj_set(l, e, k, json_object_get(from, k), false);
}

static int proj_write(gcs_buf *b, const proj_list *l, int parent)
{
    int rc = gcs_buf_putc(b, '{');
    bool first = true;
    for (int i = 0; rc == 0 && i < l->n; i++) {
        const proj_slot *s = &l->slots[i];
        if (s->parent != parent)
            continue;
        if (!first)
            rc = gcs_buf_putc(b, ',');
        first = false;
        if (rc == 0)
            rc = gcs_emu_json_dump_string(b, s->key);
        if (rc == 0)
            rc = gcs_buf_putc(b, ':');
        if (rc == 0)
            rc = s->value ? gcs_emu_json_dump(b, s->value) : proj_write(b, l, i);
    }
    return rc < 0 ? rc : gcs_buf_putc(b, '}');
}

int gcs_emu_projection_dump(gcs_buf *b, const emu_projection *p, const json_t *doc)
{
    if (!p || !p->include || p->exclude || p->ninclude + 3 > PROJ_MAX) {
        json_t *out = gcs_emu_projection_apply(p, doc);
        int rc = out ? gcs_emu_json_dump(b, out) : -1;
        json_decref(out);
        return rc;
    }
    proj_list l;
    l.n = 0;
    l.overflow = false;
    proj_set(&l, -1, "schemas", json_object_get(doc, "schemas"), false);
    proj_set(&l, -1, "id", json_object_get(doc, "id"), false);
    for (size_t i = 0; i < p->ninclude; i++) {
        const proj_name *n = &p->include[i];
        if (n->whole && key_ci(doc, n->whole))
            proj_include(&l, doc, NULL, n->whole);
        else if (*n->attr)
            proj_include(&l, doc, n->urn, n->attr);
    }
    if (json_object_get(doc, "meta"))
        proj_set(&l, -1, "meta", json_object_get(doc, "meta"), false);
    if (l.overflow) {
        json_t *out = gcs_emu_projection_apply(p, doc);
        int rc = out ? gcs_emu_json_dump(b, out) : -1;
        json_decref(out);
        return rc;
    }
    return proj_write(b, &l, -1);
}

json_t *gcs_emu_project(const json_t *doc, const char *attributes, const char *excluded)
{
    emu_projection *p = gcs_emu_projection_new(attributes, excluded);
    json_t *out = p ? gcs_emu_projection_apply(p, doc) : NULL;
    gcs_emu_projection_free(p);
    return out;
}
