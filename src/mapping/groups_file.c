/*
 * groups_file.c - reading the directory's groups (groups_file.h).
 *
 * The file is read through the people export's sources, so that CSV quoting,
 * JSON framing, size limits and line numbers behave the same in both; this
 * file only gives the fields their meaning.
 */
#include "mapping/groups_file.h"
#include "mapping/source.h"
#include "core/error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Lists ==== */

int gcs_string_list_add(gcs_string_list *l, const char *s, size_t len)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        char **items = realloc(l->items, cap * sizeof *items);
        GCS_CHECK_ALLOC(items);
        l->items = items;
        l->cap = cap;
    }
    char *copy = strndup(s, len);
    GCS_CHECK_ALLOC(copy);
    l->items[l->count++] = copy;
    return 0;
}

bool gcs_string_list_has(const gcs_string_list *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i], s) == 0)
            return true;
    }
    return false;
}

void gcs_string_list_release(gcs_string_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static bool blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int gcs_string_list_split(gcs_string_list *out, const char *text, char sep)
{
    int rc = 0;
    const char *p = text;
    while (blank_char(*p))
        p++;
    if (*p == '[') {
        json_error_t err;
        json_t *a = json_loads(p, JSON_REJECT_DUPLICATES, &err);
        size_t i;
        json_t *item;
        if (!json_is_array(a)) {
            json_decref(a);
            return gcs_error_set(GCS_EINVALID, "not a JSON array of texts");
        }
        if (json_array_size(a) > GCS_GROUP_LIST_MAX) {
            json_decref(a);
            return gcs_error_set(GCS_EINVALID, "more than %d items", GCS_GROUP_LIST_MAX);
        }
        json_array_foreach(a, i, item)
        {
            if (json_is_object(item)) {
                /* a role grant {"role", "division"}: kept as "role@division" */
                const char *role = json_string_value(json_object_get(item, "role"));
                const char *div = json_string_value(json_object_get(item, "division"));
                if (!role || !div || json_object_size(item) != 2) {
                    rc = gcs_error_set(GCS_EINVALID, "item %zu is not {\"role\", \"division\"}",
                                       i + 1);
                    break;
                }
                char *both = NULL;
                if (asprintf(&both, "%s@%s", role, div) < 0) {
                    rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                    break;
                }
                rc = gcs_string_list_add(out, both, strlen(both));
                free(both);
            } else if (json_is_string(item)) {
                /* blanks around an item go, as they do between separators */
                const char *from = json_string_value(item);
                const char *to = from + json_string_length(item);
                while (from < to && blank_char(*from))
                    from++;
                while (to > from && blank_char(to[-1]))
                    to--;
                if (to > from)
                    rc = gcs_string_list_add(out, from, (size_t)(to - from));
            } else {
                rc = gcs_error_set(GCS_EINVALID, "item %zu is not a text", i + 1);
            }
            if (rc < 0)
                break;
        }
        json_decref(a);
        return rc;
    }
    while (*p) {
        const char *end = strchr(p, sep);
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && blank_char(*a))
            a++;
        while (b > a && blank_char(b[-1]))
            b--;
        if (b > a) {
            if (out->count >= GCS_GROUP_LIST_MAX)
                return gcs_error_set(GCS_EINVALID, "more than %d items", GCS_GROUP_LIST_MAX);
            if ((rc = gcs_string_list_add(out, a, (size_t)(b - a))) < 0)
                return rc;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* ==== The set of groups ==== */

void gcs_group_defs_init(gcs_group_defs *d)
{
    memset(d, 0, sizeof *d);
}

static void def_release(gcs_group_def *g)
{
    free(g->key);
    free(g->name);
    free(g->description);
    free(g->type);
    free(g->visibility);
    gcs_string_list_release(&g->parents);
    gcs_string_list_release(&g->children);
    gcs_string_list_release(&g->members);
    for (size_t i = 0; i < g->nroles; i++) {
        free(g->roles[i].role);
        free(g->roles[i].division);
    }
    free(g->roles);
    free(g->location);
    memset(g, 0, sizeof *g);
}

void gcs_group_defs_release(gcs_group_defs *d)
{
    for (size_t i = 0; i < d->count; i++)
        def_release(&d->items[i]);
    free(d->items);
    gcs_row_errors_release(&d->rejected);
    json_decref((json_t *)d->index);
    json_decref((json_t *)d->rejected_index);
    memset(d, 0, sizeof *d);
}

gcs_group_def *gcs_group_defs_find(const gcs_group_defs *d, const char *key)
{
    json_t *at = d->index ? json_object_get((json_t *)d->index, key) : NULL;
    return at ? &d->items[json_integer_value(at)] : NULL;
}

/* Takes *g (its strings now belong to d) and indexes it by key. */
static int defs_push(gcs_group_defs *d, gcs_group_def *g)
{
    if (!d->index && !(d->index = json_object()))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        gcs_group_def *items = realloc(d->items, cap * sizeof *items);
        GCS_CHECK_ALLOC(items);
        d->items = items;
        d->cap = cap;
    }
    if (json_object_set_new((json_t *)d->index, g->key, json_integer((json_int_t)d->count)) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    d->items[d->count++] = *g;
    memset(g, 0, sizeof *g);
    return 0;
}

/* The first control character (C0 or DEL) in s, or -1: a line break or an escape
 * sequence in a group's key or name would reach the terminal that shows the plan and
 * the name of a Genesys group. */
static long control_char_at(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return (long)(p - (const unsigned char *)s);
    return -1;
}

/* The first bidirectional control (U+061C, U+200E-200F, U+202A-202E, U+2066-2069,
 * in UTF-8) in s, or -1, its code point in *cp: a right-to-left override shows a
 * name reversed ("txt.exe" as "exe.txt"), in the plan and in Genesys alike. */
static long bidi_control_at(const char *s, unsigned *cp)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (p[0] == 0xD8 && p[1] == 0x9C) {
            *cp = 0x061C;
            return (long)(p - (const unsigned char *)s);
        }
        if (p[0] != 0xE2 || (p[1] != 0x80 && p[1] != 0x81) || !p[2])
            continue;
        unsigned c = 0x2000u | ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3Fu);
        if (c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
            (c >= 0x2066 && c <= 0x2069)) {
            *cp = c;
            return (long)(p - (const unsigned char *)s);
        }
    }
    return -1;
}

static int check_key(const char *key)
{
    size_t n = strlen(key);
    long at = control_char_at(key);
    unsigned cp = 0;
    if (at >= 0)
        return gcs_error_set(GCS_EINVALID, "group key has a control character (0x%02X at byte %ld)",
                             (unsigned char)key[at], at + 1);
    if ((at = bidi_control_at(key, &cp)) >= 0)
        return gcs_error_set(GCS_EINVALID,
                             "group key has a bidirectional control (U+%04X at byte %ld)", cp,
                             at + 1);
    if (n == 0)
        return gcs_error_set(GCS_EINVALID, "a group key is empty");
    if (n > GCS_GROUP_KEY_MAX)
        return gcs_error_set(GCS_EINVALID, "group key longer than %d bytes", GCS_GROUP_KEY_MAX);
    if (blank_char(key[0]) || blank_char(key[n - 1]))
        return gcs_error_set(GCS_EINVALID, "group key '%s' has blanks around it", key);
    return 0;
}

int gcs_group_defs_add_member(gcs_group_defs *d, const char *group_key, const char *person,
                              const char *where)
{
    int rc = check_key(group_key);
    if (rc < 0)
        return rc;
    gcs_group_def *g = gcs_group_defs_find(d, group_key);
    json_t *rejected =
        d->rejected_index ? json_object_get((json_t *)d->rejected_index, group_key) : NULL;
    if (!g && rejected)
        return gcs_error_set(GCS_EINVALID,
                             "group '%s' is rejected in the groups file (its line %lld)",
                             group_key, (long long)json_integer_value(rejected));
    if (!g) {
        if (d->count >= GCS_GROUPS_MAX)
            return gcs_error_set(GCS_EINVALID, "more than %d groups", GCS_GROUPS_MAX);
        if (strlen(group_key) > GCS_GROUP_NAME_MAX)
            return gcs_error_set(GCS_EINVALID, "group name longer than %d bytes",
                                 GCS_GROUP_NAME_MAX);
        gcs_group_def n;
        memset(&n, 0, sizeof n);
        n.key = strdup(group_key);
        n.name = strdup(group_key);
        n.location = strdup(where ? where : "");
        if (!n.key || !n.name || !n.location || (rc = defs_push(d, &n)) < 0) {
            def_release(&n);
            return rc < 0 ? rc : gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        g = &d->items[d->count - 1];
    }
    if (gcs_string_list_has(&g->members, person))
        return 0;
    if (g->members.count >= GCS_GROUP_LIST_MAX)
        return gcs_error_set(GCS_EINVALID, "group '%s' has more than %d direct members", group_key,
                             GCS_GROUP_LIST_MAX);
    return gcs_string_list_add(&g->members, person, strlen(person));
}

/* ==== Reading one record ==== */

static const char *const known_fields[] = {"key",        "name",    "description", "type",
                                           "visibility", "parents", "parent",      "children",
                                           "members",    "roles",   NULL};

static bool known_field(const char *name)
{
    for (size_t i = 0; known_fields[i]; i++) {
        if (strcmp(known_fields[i], name) == 0)
            return true;
    }
    return false;
}

typedef struct reader {
    gcs_group_defs *d;
    json_t *names; /* name -> line of the group that has it */
    int problems;  /* in the current record */
    bool oom;      /* a problem could not be recorded */
} reader;

static void problem(reader *r, const gcs_row *row, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(reader *r, const gcs_row *row, const char *field, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const gcs_row_field *f = field ? gcs_row_find(row, field) : NULL;
    if (gcs_row_errors_add(&r->d->rejected, row->file, row->line, f ? f->column : 0, field, "%s",
                           msg) == GCS_ENOMEM)
        r->oom = true;
    r->problems++;
}

static int set_text(char **out, const char *v)
{
    *out = strdup(v);
    return *out ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
}

/* A list field into `l`; a malformed one is the record's problem. */
static int list_field(reader *r, const gcs_row *row, const char *field, gcs_string_list *l)
{
    const char *v = gcs_row_get(row, field);
    if (!v)
        return 0;
    int rc = gcs_string_list_split(l, v, ';');
    if (rc == GCS_ENOMEM)
        return rc;
    if (rc < 0)
        problem(r, row, field, "%s", gcs_error_last());
    return 0;
}

static int roles_field(reader *r, const gcs_row *row, gcs_group_def *g)
{
    const char *v = gcs_row_get(row, "roles");
    if (!v)
        return 0;
    g->has_roles = true;
    gcs_string_list items = {0};
    int rc = gcs_string_list_split(&items, v, ';');
    if (rc == GCS_ENOMEM)
        goto out;
    if (rc < 0) {
        problem(r, row, "roles", "%s", gcs_error_last());
        rc = 0;
        goto out;
    }
    if (items.count && !(g->roles = calloc(items.count, sizeof *g->roles))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < items.count; i++) {
        char *at = strrchr(items.items[i], '@');
        if (!at || at == items.items[i] || !at[1]) {
            problem(r, row, "roles", "'%s' is not ROLE@DIVISION (a grant needs a division)",
                    items.items[i]);
            continue;
        }
        gcs_group_grant *gr = &g->roles[g->nroles];
        gr->role = strndup(items.items[i], (size_t)(at - items.items[i]));
        gr->division = strdup(at + 1);
        g->nroles++;
        if (!gr->role || !gr->division) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    gcs_string_list_release(&items);
    return rc;
}

static bool one_of(const char *v, const char *a, const char *b, const char *c)
{
    return strcmp(v, a) == 0 || strcmp(v, b) == 0 || (c && strcmp(v, c) == 0);
}

/* One record: a valid group joins d, an invalid one is recorded in d->rejected. */
static int read_record(reader *r, const gcs_row *row)
{
    gcs_group_def g;
    memset(&g, 0, sizeof g);
    int rc = 0;
    r->problems = 0;
    for (size_t i = 0; i < row->count; i++) {
        if (!known_field(row->fields[i].name))
            problem(r, row, row->fields[i].name,
                    "unknown field%s (key, name, description, type, "
                    "visibility, parents, children, members, roles)",
                    "");
    }
    const char *key = gcs_row_get(row, "key");
    if (!key || !*key) {
        problem(r, row, "key", "a group needs a key%s", "");
    } else if (check_key(key) < 0) {
        problem(r, row, "key", "%s", gcs_error_last());
    } else if (gcs_group_defs_find(r->d, key)) {
        problem(r, row, "key", "key '%s' is given to another group before", key);
    }
    const char *name = gcs_row_get(row, "name");
    unsigned bidi = 0;
    if (!name || !*name)
        name = key;
    if (name && strlen(name) > GCS_GROUP_NAME_MAX)
        problem(r, row, "name", "longer than 255 bytes%s", "");
    else if (name && name != key && control_char_at(name) >= 0)
        problem(r, row, "name", "a control character (0x%02X at byte %ld)",
                (unsigned char)name[control_char_at(name)], control_char_at(name) + 1);
    else if (name && name != key && bidi_control_at(name, &bidi) >= 0)
        problem(r, row, "name", "a bidirectional control (U+%04X at byte %ld)", bidi,
                bidi_control_at(name, &bidi) + 1);
    const char *type = gcs_row_get(row, "type");
    if (type && !*type)
        type = NULL;
    else if (type && !one_of(type, "official", "social", NULL))
        problem(r, row, "type", "'%s' is not official or social", type);
    const char *vis = gcs_row_get(row, "visibility");
    if (vis && !*vis)
        vis = NULL;
    else if (vis && !one_of(vis, "public", "owners", "members"))
        problem(r, row, "visibility", "'%s' is not public, owners or members", vis);
    const char *desc = gcs_row_get(row, "description");
    if ((rc = list_field(r, row, "parents", &g.parents)) < 0 ||
        (rc = list_field(r, row, "parent", &g.parents)) < 0 ||
        (rc = list_field(r, row, "children", &g.children)) < 0 ||
        (rc = list_field(r, row, "members", &g.members)) < 0 || (rc = roles_field(r, row, &g)) < 0)
        goto out;
    if (key && gcs_string_list_has(&g.parents, key))
        problem(r, row, "parents", "group '%s' cannot be its own parent", key);
    if (key && gcs_string_list_has(&g.children, key))
        problem(r, row, "children", "group '%s' cannot be its own child", key);
    if (name && r->problems == 0) {
        /* Genesys groups are found by name: two groups of one name would be one. */
        json_t *other = json_object_get(r->names, name);
        if (other) {
            char detail[300];
            snprintf(detail, sizeof detail, "name '%.200s' is taken by the group on line %lld",
                     name, (long long)json_integer_value(other));
            problem(r, row, "name", "%s", detail);
        }
    }
    if (r->problems == 0 && r->d->count >= GCS_GROUPS_MAX)
        problem(r, row, NULL, "more than %s groups", "100000");
    if (r->problems > 0) {
        r->d->rejected_groups++;
        /* Its key stays known as rejected (unless a valid group holds it already). */
        if (key && *key && !gcs_group_defs_find(r->d, key)) {
            if (!r->d->rejected_index && !(r->d->rejected_index = json_object())) {
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                goto out;
            }
            if (json_object_set_new((json_t *)r->d->rejected_index, key,
                                    json_integer((json_int_t)row->line)) < 0) {
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                goto out;
            }
        }
        goto out;
    }
    char loc[600];
    snprintf(loc, sizeof loc, "%s:%lu", row->file, row->line);
    if ((rc = set_text(&g.key, key)) < 0 || (rc = set_text(&g.name, name)) < 0 ||
        (type && (rc = set_text(&g.type, type)) < 0) ||
        (vis && (rc = set_text(&g.visibility, vis)) < 0) ||
        (desc && (rc = set_text(&g.description, desc)) < 0) ||
        (rc = set_text(&g.location, loc)) < 0)
        goto out;
    if (json_object_set_new(r->names, name, json_integer((json_int_t)row->line)) < 0) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    rc = defs_push(r->d, &g);
out:
    def_release(&g);
    return rc;
}

/* ==== Reading a file ==== */

static int read_source(gcs_group_defs *d, gcs_source *src, const char *name)
{
    reader r = {d, json_object(), 0, false};
    int rc = 0;
    GCS_CHECK_ALLOC_GOTO(r.names, rc, out);
    for (size_t i = 0; i < d->count; i++) {
        if (json_object_set_new(r.names, d->items[i].name, json_integer(0)) < 0) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
    size_t ncols = 0;
    const char *const *header = gcs_source_header(src, &ncols);
    for (size_t i = 0; header && i < ncols; i++) {
        if (!known_field(header[i])) {
            rc = gcs_error_set(GCS_EINVALID,
                               "cannot read groups file '%s': line 1: unknown column '%s' (key, "
                               "name, description, type, visibility, parents, children, members, "
                               "roles)",
                               name, header[i]);
            goto out;
        }
    }
    for (;;) {
        const gcs_row *row;
        rc = gcs_source_next(&row, src);
        if (rc == GCS_SOURCE_END) {
            rc = 0;
            break;
        }
        if (rc == GCS_EINVALID) {
            const gcs_row_error *e = gcs_source_error(src);
            if ((rc = gcs_row_errors_add(&d->rejected, e->file, e->line, e->column, e->field, "%s",
                                         e->message)) < 0)
                goto out;
            d->rejected_groups++;
            continue;
        }
        if (rc < 0)
            goto out;
        if ((rc = read_record(&r, row)) < 0)
            goto out;
        if (r.oom) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    json_decref(r.names);
    return rc;
}

int gcs_groups_file_read(gcs_group_defs *d, const char *path)
{
    gcs_source *src = NULL;
    int rc = gcs_source_open(&src, path, GCS_SOURCE_AUTO, NULL);
    if (rc < 0)
        return gcs_error_prefix(rc, "cannot read groups file '%s'", path);
    rc = read_source(d, src, path);
    gcs_source_free(src);
    return rc;
}

int gcs_groups_file_read_mem(gcs_group_defs *d, const char *name, const void *data, size_t len)
{
    gcs_source *src = NULL;
    int rc = gcs_source_open_mem(&src, name, data, len, GCS_SOURCE_AUTO, NULL);
    if (rc < 0)
        return gcs_error_prefix(rc, "cannot read groups file '%s'", name);
    rc = read_source(d, src, name);
    gcs_source_free(src);
    return rc;
}
