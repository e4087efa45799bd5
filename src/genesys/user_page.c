#include "genesys/user_page.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/jsontext.h"
#include "core/scim.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yajl/yajl_parse.h>

/* ==== What of a user the flat record keeps ==== */

typedef enum {
    KEEP_FIELD = 0, /* a string: the record's field `slot` */
    KEEP_ACTIVE,    /* `active` */
    KEEP_OBJECT,    /* an object of the members `sub` */
    KEEP_LIST,      /* an array (the record's list `slot`) of objects of the members `sub` */
    KEEP_PART       /* a part of a list's entry: PART_* */
} keep_kind;

typedef enum { PART_KEY, PART_VALUE, PART_NUMBER } part;

/* A list of members ends with a NULL name. */
typedef struct keep {
    const char *name;
    keep_kind kind;
    int slot;
    const struct keep *sub;
} keep;

#define FIELD(name, slot) {name, KEEP_FIELD, slot, NULL}
#define PART(name, slot) {name, KEEP_PART, slot, NULL}
#define END {NULL, KEEP_FIELD, 0, NULL}

static const keep typed_entry[] = {PART("type", PART_KEY), PART("value", PART_VALUE), END};
static const keep value_entry[] = {PART("value", PART_VALUE), END};
static const keep authority_entry[] = {PART("authority", PART_KEY), PART("value", PART_VALUE),
                                       END};
static const keep named_entry[] = {PART("name", PART_KEY), PART("proficiency", PART_NUMBER), END};
static const keep meta_members[] = {FIELD("version", GCS_USER_VERSION), END};
static const keep manager_members[] = {FIELD("value", GCS_USER_MANAGER), END};
static const keep enterprise_members[] = {FIELD("department", GCS_USER_DEPARTMENT),
                                          FIELD("division", GCS_USER_DIVISION),
                                          FIELD("employeeNumber", GCS_USER_EMPLOYEENUMBER),
                                          FIELD("dateHire", GCS_USER_DATEHIRE),
                                          {"manager", KEEP_OBJECT, 0, manager_members},
                                          END};
static const keep genesys_members[] = {
    {"externalIds", KEEP_LIST, GCS_USER_EXTERNALIDS, authority_entry},
    {"routingSkills", KEEP_LIST, GCS_USER_SKILLS, named_entry},
    {"routingLanguages", KEEP_LIST, GCS_USER_LANGUAGES, named_entry},
    END};
static const keep user_members[] = {FIELD("id", GCS_USER_ID),
                                    FIELD("userName", GCS_USER_USERNAME),
                                    FIELD("displayName", GCS_USER_DISPLAYNAME),
                                    FIELD("title", GCS_USER_TITLE),
                                    FIELD("externalId", GCS_USER_EXTERNALID),
                                    {"active", KEEP_ACTIVE, 0, NULL},
                                    {"emails", KEEP_LIST, GCS_USER_EMAILS, typed_entry},
                                    {"phoneNumbers", KEEP_LIST, GCS_USER_PHONES, typed_entry},
                                    {"roles", KEEP_LIST, GCS_USER_ROLES, value_entry},
                                    {"groups", KEEP_LIST, GCS_USER_GROUPS, value_entry},
                                    {"meta", KEEP_OBJECT, 0, meta_members},
                                    {GCS_SCIM_ENTERPRISE_USER, KEEP_OBJECT, 0, enterprise_members},
                                    {GCS_SCIM_GENESYS_USER, KEEP_OBJECT, 0, genesys_members},
                                    END};

#undef FIELD
#undef PART
#undef END

/* s (n bytes, not NUL-terminated) is the name `lit`. */
static inline bool name_is(const char *s, size_t n, const char *lit)
{
    return strncmp(lit, s, n) == 0 && lit[n] == '\0';
}

static const keep *find_keep(const keep *members, const char *name, size_t n)
{
    for (const keep *k = members; k->name; k++) {
        if (n && k->name[0] == name[0] && strncmp(k->name, name, n) == 0 && k->name[n] == '\0')
            return k;
    }
    return NULL;
}

/* Members left out of a kept text: what no step compares. */
static bool left_out(const char *name, size_t n)
{
    return n >= 2 && n <= 7 &&
           (name_is(name, n, "id") || name_is(name, n, "meta") || name_is(name, n, "schemas") ||
            name_is(name, n, "groups"));
}

/* ==== The reader's state ==== */

typedef enum { ROLE_PAGE, ROLE_RESOURCES, ROLE_USER, ROLE_INNER } role;
typedef enum { PAGE_OTHER, PAGE_TOTAL, PAGE_ITEMS, PAGE_START, PAGE_RESOURCES } page_key;

/* A member name seen in a kept object: more than this many and the user's
 * text is parsed again rather than each name compared with all the others. */
#define NAMES_CHECKED 64

#define NO_LIST (-1)

typedef struct frame {
    role role;
    bool is_array;
    bool kept;          /* written to the kept text (ROLE_INNER) */
    bool first;         /* nothing written inside it yet */
    bool member_kept;   /* ROLE_USER: the current member is written */
    const keep *members; /* an object the record looks into: its members, else NULL */
    const keep *member; /* the current member's rule, or NULL */
    int list;           /* an array that is one of the record's lists, else NO_LIST */
    const keep *entry_members; /* that list's entries' members */
    size_t entry_at;    /* an entry of a list: its place in reader.entries */
    size_t names_at;    /* where its members' name hashes start */
} frame;

/* An entry of one of the record's lists while the user is read; strings are
 * offsets in reader.strings (0: none). */
typedef struct entry_slot {
    int list;
    unsigned generation; /* the list's, when the entry was read */
    size_t key, value;
    double number;
    bool has_number;
} entry_slot;

typedef struct reader {
    gcs_user_read_fn fn;
    void *payload;
    gcs_user_page_info info;
    int rc;
    bool callback_failed; /* rc is the callback's own */
    frame *frames;
    size_t depth, cap;
    page_key key_kind;  /* the page member whose value comes next */
    bool seen_resources, page_done;
    gcs_buf key;        /* a member name with a control character, NUL-terminated */
    gcs_buf kept;       /* the current user's kept text */
    gcs_buf number;     /* a number's text, NUL-terminated */
    uint64_t *names;    /* hashes of the member names of the open kept objects */
    size_t name_count, name_cap;
    bool repeated;      /* the current user repeats a member name (or has too many) */
    /* The current user's flat record: its strings, NUL-terminated, one after
     * the other (offset 0 is none); its fields; its lists' entries, in the
     * order read. A list named again starts a new generation: the entries of
     * the old one no longer count, as jansson keeps the last value. */
    gcs_buf strings;
    size_t field[GCS_USER__FIELDS];
    int active;
    unsigned generation[GCS_USER__LISTS];
    entry_slot *entries;
    size_t entry_count, entry_cap;
    gcs_user_entry *out;  /* the entries handed over, grouped by list */
    size_t out_cap;
} reader;

static int fail(reader *r, int rc)
{
    if (r->rc == 0)
        r->rc = rc;
    return 0; /* yajl: stop */
}

static int invalid(reader *r, const char *what)
{
    return fail(r, gcs_error_set(GCS_EINVALID, "%s", what));
}

static int no_memory(reader *r)
{
    return fail(r, gcs_error_set(GCS_ENOMEM, "out of memory"));
}

static frame *top(reader *r)
{
    return r->depth ? &r->frames[r->depth - 1] : NULL;
}

/* The open container, where yajl's events guarantee there is one. */
static frame *current(reader *r)
{
    assert(r->depth > 0);
    return &r->frames[r->depth - 1];
}

static frame *push(reader *r, role ro, bool is_array)
{
    if (r->depth >= GCS_USER_PAGE_MAX_DEPTH) {
        invalid(r, "nested deeper than 2048 levels");
        return NULL;
    }
    if (r->depth == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        frame *f = realloc(r->frames, cap * sizeof *f);
        if (!f) {
            no_memory(r);
            return NULL;
        }
        r->frames = f;
        r->cap = cap;
    }
    frame *f = &r->frames[r->depth++];
    memset(f, 0, sizeof *f);
    f->role = ro;
    f->is_array = is_array;
    f->first = true;
    f->list = NO_LIST;
    f->names_at = r->name_count;
    return f;
}

/* gcs_buf_put and gcs_buf_putc without a call while the bytes fit, as every
 * value and name of a page is written: the same buffer, the same limit. */
static inline int buf_put(gcs_buf *b, const void *s, size_t n)
{
    if (b->len + n < b->cap && b->len + n <= b->max) {
        memcpy(b->ptr + b->len, s, n);
        b->len += n;
        b->ptr[b->len] = '\0';
        return 0;
    }
    return gcs_buf_put(b, s, n);
}

static inline int buf_putc(gcs_buf *b, char c)
{
    return buf_put(b, &c, 1);
}

/* ==== The kept text, as jansson's JSON_COMPACT dump writes it ==== */

#define ONES  0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* How many of the first bytes of s, by eights, are none of '"', '\\' and the
 * control characters: what a JSON string holds as is. */
static size_t plain_bytes(const char *s, size_t n)
{
    size_t i = 0;
    for (uint64_t w; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
        uint64_t special = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w);
        if (special & HIGHS)
            break;
    }
    return i;
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20)
            return true;
    }
    return false;
}

/* A string as jansson's dump escapes it: '"', '\\' and control characters
 * only; \b \f \n \r \t by name, the others as \u00XX in capitals. */
static int put_string(gcs_buf *b, const char *s, size_t n)
{
    int rc = buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        i += plain_bytes(s + i, n - i);
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = buf_put(b, s + run, i - run);
        run = i + 1;
        char esc[6];
        size_t len = gcs_json_escape_byte(c, esc);
        if (rc == 0)
            rc = buf_put(b, esc, len);
    }
    if (rc == 0)
        rc = buf_put(b, s + run, n - run);
    return rc == 0 ? buf_putc(b, '"') : rc;
}

/* A real as jansson writes it (jsonp_dtostr, precision 17): "%.17g", ".0"
 * added when it reads as an integer, the exponent without '+' or leading 0s. */
static int put_real(gcs_buf *b, double v)
{
    char t[64];
    int n = snprintf(t, sizeof t - 3, "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof t - 3)
        return gcs_error_set(GCS_EINVALID, "real number cannot be written");
    size_t len = (size_t)n;
    if (!strchr(t, '.') && !strchr(t, 'e')) {
        memcpy(t + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(t, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - t) + 1);
            len -= (size_t)(end - start);
        }
    }
    return buf_put(b, t, len);
}

/* Before a value in a kept container: the comma between entries of a list. */
static int before_value(reader *r, frame *f)
{
    if (f->is_array && !f->first && buf_putc(&r->kept, ',') < 0)
        return -1;
    f->first = false;
    return 0;
}

static bool writes(const frame *f)
{
    return f->role == ROLE_USER ? f->member_kept : f->role == ROLE_INNER && f->kept;
}

/* ==== The flat record ==== */

/* A string of the record: its offset in r->strings, 0 when out of memory. */
static size_t put_record_string(reader *r, const char *s, size_t n)
{
    size_t at = r->strings.len;
    if (buf_put(&r->strings, s, n) < 0 || buf_putc(&r->strings, '\0') < 0)
        return 0;
    return at;
}

/* A member the record keeps is named: what it held before no longer counts. */
static void forget(reader *r, const keep *k, entry_slot *in_entry)
{
    switch (k->kind) {
    case KEEP_FIELD:
        r->field[k->slot] = 0;
        break;
    case KEEP_ACTIVE:
        r->active = GCS_USER_ACTIVE_OTHER; /* until a boolean says otherwise */
        break;
    case KEEP_OBJECT:
        for (const keep *m = k->sub; m->name; m++)
            forget(r, m, NULL);
        break;
    case KEEP_LIST:
        r->generation[k->slot]++;
        break;
    case KEEP_PART: /* only ever in an entry of a list */
        if (!in_entry)
            break;
        if (k->slot == PART_KEY)
            in_entry->key = 0;
        else if (k->slot == PART_VALUE)
            in_entry->value = 0;
        else
            in_entry->number = 0, in_entry->has_number = false;
        break;
    }
}

/* What the record makes of the value that comes next in f: the rule of the
 * member it is, or NULL; *entry_of: f is a list, the value is a new entry. */
static const keep *rule_of(const frame *f, bool *entry_of)
{
    *entry_of = f->list != NO_LIST;
    return f->members ? f->member : NULL;
}

/* A value comes in a list of the record: a new entry (of its parts none yet). */
static int new_entry(reader *r, const frame *f)
{
    if (r->entry_count == r->entry_cap) {
        size_t cap = r->entry_cap ? r->entry_cap * 2 : 32;
        entry_slot *e = realloc(r->entries, cap * sizeof *e);
        if (!e)
            return -1;
        r->entries = e;
        r->entry_cap = cap;
    }
    r->entries[r->entry_count++] =
        (entry_slot){f->list, r->generation[f->list], 0, 0, 0.0, false};
    return 0;
}

/* ==== Events ==== */

/* The number's text as jansson reads it: an integer when it has no fraction
 * or exponent (within 64 bits), else a finite real. *value gets its value as
 * json_number_value would, *integer whether it is one. */
static int read_number(reader *r, const char *s, size_t n, double *value, bool *integer,
                       long long *as_integer, bool text)
{
    gcs_buf_clear(&r->number);
    if (buf_put(&r->number, s, n) < 0)
        return no_memory(r), -1;
    const char *t = r->number.ptr;
    bool real = memchr(t, '.', n) || memchr(t, 'e', n) || memchr(t, 'E', n);
    errno = 0;
    *integer = !real;
    if (!real) {
        long long v = strtoll(t, NULL, 10);
        if (errno == ERANGE)
            return invalid(r, v < 0 ? "too big negative integer" : "too big integer"), -1;
        *value = (double)v;
        *as_integer = v;
        if (text && gcs_buf_printf(&r->kept, "%lld", v) < 0)
            return no_memory(r), -1;
        return 0;
    }
    double d = strtod(t, NULL);
    if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
        return invalid(r, "real number overflow"), -1;
    *value = d;
    *as_integer = 0;
    if (text && put_real(&r->kept, d) < 0)
        return fail(r, gcs_error_last_code()), -1;
    return 0;
}

typedef enum { V_NULL, V_TRUE, V_FALSE, V_NUMBER, V_STRING } scalar_kind;

static int page_scalar(reader *r, scalar_kind kind, const char *s, size_t n)
{
    if (r->key_kind == PAGE_RESOURCES)
        return invalid(r, "Resources is not a list");
    if (kind != V_NUMBER)
        return 1;
    double d;
    bool integer;
    long long v;
    if (read_number(r, s, n, &d, &integer, &v, false) < 0)
        return 0;
    long value = integer ? (long)v : -1;
    if (r->key_kind == PAGE_TOTAL)
        r->info.total_results = value;
    else if (r->key_kind == PAGE_ITEMS)
        r->info.items_per_page = value;
    else if (r->key_kind == PAGE_START)
        r->info.start_index = value;
    return 1;
}

static int scalar(reader *r, scalar_kind kind, const char *s, size_t n)
{
    frame *f = top(r);
    if (!f)
        return invalid(r, "the answer is not a SCIM list (an object)");
    if (f->role == ROLE_PAGE)
        return page_scalar(r, kind, s, n);
    if (f->role == ROLE_RESOURCES)
        return invalid(r, "an entry of Resources is not a user (an object)");
    bool w = writes(f);
    if (w && before_value(r, f) < 0)
        return no_memory(r);
    bool entry_of;
    const keep *k = rule_of(f, &entry_of);
    if (entry_of && new_entry(r, f) < 0)
        return no_memory(r);
    int rc = 0;
    switch (kind) {
    case V_NULL:
        rc = w ? buf_put(&r->kept, "null", 4) : 0;
        break;
    case V_TRUE:
    case V_FALSE:
        rc = w ? (kind == V_TRUE ? buf_put(&r->kept, "true", 4)
                                 : buf_put(&r->kept, "false", 5))
               : 0;
        if (k && k->kind == KEEP_ACTIVE)
            r->active = kind == V_TRUE ? 1 : 0;
        break;
    case V_NUMBER: {
        double d;
        bool integer;
        long long v;
        if (read_number(r, s, n, &d, &integer, &v, w) < 0)
            return 0;
        if (k && k->kind == KEEP_PART && k->slot == PART_NUMBER) {
            r->entries[f->entry_at].number = d;
            r->entries[f->entry_at].has_number = true;
        }
        break;
    }
    case V_STRING:
        if (memchr(s, '\0', n))
            return invalid(r, "\\u0000 in a string");
        rc = w ? put_string(&r->kept, s, n) : 0;
        if (rc == 0 && k && (k->kind == KEEP_FIELD || (k->kind == KEEP_PART && k->slot != PART_NUMBER))) {
            size_t at = put_record_string(r, s, n);
            if (!at)
                return no_memory(r);
            if (k->kind == KEEP_FIELD)
                r->field[k->slot] = at;
            else if (k->slot == PART_KEY)
                r->entries[f->entry_at].key = at;
            else
                r->entries[f->entry_at].value = at;
        }
        break;
    }
    if (rc < 0)
        return no_memory(r);
    return 1;
}

static int on_null(void *ctx)
{
    return scalar(ctx, V_NULL, NULL, 0);
}

static int on_boolean(void *ctx, int b)
{
    return scalar(ctx, b ? V_TRUE : V_FALSE, NULL, 0);
}

static int on_number(void *ctx, const char *s, size_t n)
{
    return scalar(ctx, V_NUMBER, s, n);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    return scalar(ctx, V_STRING, (const char *)s, n);
}

/* Opens a container in a user: its text, and what the record looks for in it. */
static int open_inner(reader *r, bool is_array)
{
    frame *parent = current(r);
    bool w = writes(parent);
    if (w && (before_value(r, parent) < 0 || buf_putc(&r->kept, is_array ? '[' : '{') < 0))
        return no_memory(r);
    bool entry_of;
    const keep *k = rule_of(parent, &entry_of);
    const keep *entry_members = parent->entry_members;
    if (entry_of && new_entry(r, parent) < 0)
        return no_memory(r);
    frame *f = push(r, ROLE_INNER, is_array);
    if (!f)
        return 0;
    f->kept = w;
    if (entry_of && !is_array) {
        f->members = entry_members;
        f->entry_at = r->entry_count - 1;
    } else if (k && k->kind == KEEP_OBJECT && !is_array) {
        f->members = k->sub;
    } else if (k && k->kind == KEEP_LIST && is_array) {
        f->list = k->slot;
        f->entry_members = k->sub;
    }
    return 1;
}

/* A user begins: its record empty. */
static int start_user(reader *r)
{
    gcs_buf_clear(&r->kept);
    r->repeated = false;
    gcs_buf_clear(&r->strings);
    memset(r->field, 0, sizeof r->field);
    r->active = GCS_USER_ACTIVE_ABSENT;
    r->entry_count = 0;
    if (buf_putc(&r->strings, '\0') < 0 || buf_putc(&r->kept, '{') < 0)
        return no_memory(r);
    frame *u = push(r, ROLE_USER, false);
    if (!u)
        return 0;
    u->members = user_members;
    return 1;
}

static int on_start_map(void *ctx)
{
    reader *r = ctx;
    frame *f = top(r);
    if (!f) {
        if (r->page_done)
            return invalid(r, "more than one value");
        return push(r, ROLE_PAGE, false) ? 1 : 0;
    }
    if (f->role == ROLE_PAGE) {
        if (r->key_kind == PAGE_RESOURCES)
            return invalid(r, "Resources is not a list");
        return push(r, ROLE_INNER, false) ? 1 : 0; /* a member the page reader skips */
    }
    if (f->role == ROLE_RESOURCES)
        return start_user(r);
    return open_inner(r, false);
}

static int on_start_array(void *ctx)
{
    reader *r = ctx;
    frame *f = top(r);
    if (!f)
        return invalid(r, "the answer is not a SCIM list (an object)");
    if (f->role == ROLE_PAGE) {
        if (r->key_kind != PAGE_RESOURCES)
            return push(r, ROLE_INNER, true) ? 1 : 0;
        if (r->seen_resources)
            return invalid(r, "Resources twice");
        r->seen_resources = true;
        return push(r, ROLE_RESOURCES, true) ? 1 : 0;
    }
    if (f->role == ROLE_RESOURCES)
        return invalid(r, "an entry of Resources is not a user (an object)");
    return open_inner(r, true);
}

/* A name's length and its first and last eight bytes: two names of one object
 * that share all three (rare) only send the user through the slow path. */
static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t head = 0, tail = 0;
    if (n >= 8) {
        memcpy(&head, s, 8);
        memcpy(&tail, s + n - 8, 8);
    } else {
        memcpy(&head, s, n);
    }
    return (head * 0x9E3779B97F4A7C15u) ^ (tail * 0xC2B2AE3D27D4EB4Fu) ^ (uint64_t)n;
}

/* Notes a member name of a kept object; a repeat (or an object with too many
 * names to compare) sends the user's text through jansson once more. */
static int note_name(reader *r, const frame *f, const char *s, size_t n)
{
    if (r->repeated)
        return 0;
    uint64_t h = name_hash(s, n);
    if (r->name_count - f->names_at >= NAMES_CHECKED) {
        r->repeated = true;
        return 0;
    }
    for (size_t i = f->names_at; i < r->name_count; i++) {
        if (r->names[i] == h) {
            r->repeated = true;
            return 0;
        }
    }
    if (r->name_count == r->name_cap) {
        size_t cap = r->name_cap ? r->name_cap * 2 : 64;
        uint64_t *names = realloc(r->names, cap * sizeof *names);
        if (!names)
            return -1;
        r->names = names;
        r->name_cap = cap;
    }
    r->names[r->name_count++] = h;
    return 0;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t n)
{
    reader *r = ctx;
    frame *f = current(r);
    const char *s = (const char *)key;
    if (memchr(s, '\0', n))
        return invalid(r, "\\u0000 in a member name");
    if (f->role == ROLE_PAGE) {
        r->key_kind = name_is(s, n, "totalResults")   ? PAGE_TOTAL
                      : name_is(s, n, "itemsPerPage") ? PAGE_ITEMS
                      : name_is(s, n, "startIndex")   ? PAGE_START
                      : name_is(s, n, "Resources")    ? PAGE_RESOURCES
                                                      : PAGE_OTHER;
        return 1;
    }
    int rc = 0;
    if (f->role == ROLE_USER) {
        f->member_kept = !left_out(s, n);
        if (f->member_kept) {
            rc = note_name(r, f, s, n);
            if (rc == 0 && !f->first)
                rc = buf_putc(&r->kept, ',');
            f->first = false;
            /* As the reference path writes a member's name (current_user.c:
             * gcs_buf_put_json_escaped, which differs from jansson's escapes
             * only for control characters). */
            if (rc == 0 && !has_control(s, n)) {
                rc = put_string(&r->kept, s, n);
            } else if (rc == 0) {
                gcs_buf_clear(&r->key);
                rc = buf_put(&r->key, s, n);
                if (rc == 0)
                    rc = buf_putc(&r->kept, '"');
                if (rc == 0)
                    rc = gcs_buf_put_json_escaped(&r->kept, r->key.ptr);
                if (rc == 0)
                    rc = buf_putc(&r->kept, '"');
            }
            if (rc == 0)
                rc = buf_putc(&r->kept, ':');
        }
    } else if (f->kept) {
        rc = note_name(r, f, s, n);
        if (rc == 0 && !f->first)
            rc = buf_putc(&r->kept, ',');
        f->first = false;
        if (rc == 0)
            rc = put_string(&r->kept, s, n);
        if (rc == 0)
            rc = buf_putc(&r->kept, ':');
    }
    if (rc < 0)
        return no_memory(r);
    if (f->members) {
        f->member = find_keep(f->members, s, n);
        if (f->member)
            forget(r, f->member, f->member->kind == KEEP_PART ? &r->entries[f->entry_at] : NULL);
    }
    return 1;
}

static int put_member_text(const char *buffer, size_t size, void *data)
{
    return buf_put(data, buffer, size) < 0 ? -1 : 0;
}

/* The kept text of a user that repeats a member name, as the reference path
 * writes it from jansson's tree (where the last value stands in the first's
 * place). */
static int rewrite_repeated(reader *r)
{
    json_error_t error;
    json_t *t = json_loadb(r->kept.ptr, r->kept.len, 0, &error);
    if (!t)
        return invalid(r, "a user's text cannot be read again"), -1;
    gcs_buf_clear(&r->kept);
    int rc = buf_putc(&r->kept, '{');
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach(t, key, v) {
        if (rc == 0 && !first)
            rc = buf_putc(&r->kept, ',');
        first = false;
        if (rc == 0)
            rc = buf_putc(&r->kept, '"');
        if (rc == 0)
            rc = gcs_buf_put_json_escaped(&r->kept, key);
        if (rc == 0)
            rc = buf_put(&r->kept, "\":", 2);
        if (rc == 0 && json_dump_callback(v, put_member_text, &r->kept,
                                          JSON_COMPACT | JSON_ENCODE_ANY) < 0)
            rc = -1;
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = buf_putc(&r->kept, '}');
    json_decref(t);
    return rc < 0 ? (no_memory(r), -1) : 0;
}

/* The record handed over: strings and entries as pointers, the entries of
 * each list together, in the order read, the generations named over left out. */
static int make_fields(reader *r, gcs_user_fields *out)
{
    memset(out, 0, sizeof *out);
    const char *base = r->strings.ptr;
    for (int i = 0; i < GCS_USER__FIELDS; i++)
        out->str[i] = r->field[i] ? base + r->field[i] : NULL;
    out->active = r->active;
    size_t start[GCS_USER__LISTS + 1] = {0}, live = 0;
    for (size_t i = 0; i < r->entry_count; i++) {
        const entry_slot *e = &r->entries[i];
        if (e->generation == r->generation[e->list]) {
            start[e->list + 1]++;
            live++;
        }
    }
    if (live > r->out_cap) {
        gcs_user_entry *o = realloc(r->out, live * sizeof *o);
        if (!o)
            return -1;
        r->out = o;
        r->out_cap = live;
    }
    for (int l = 0; l < GCS_USER__LISTS; l++) {
        out->list[l].count = start[l + 1];
        out->list[l].at = r->out + start[l];
        start[l + 1] += start[l];
    }
    for (size_t i = 0; i < r->entry_count; i++) {
        const entry_slot *e = &r->entries[i];
        if (e->generation != r->generation[e->list])
            continue;
        r->out[start[e->list]++] = (gcs_user_entry){e->key ? base + e->key : NULL,
                                                    e->value ? base + e->value : NULL,
                                                    e->number, e->has_number};
    }
    return 0;
}

static int end_user(reader *r)
{
    if (buf_putc(&r->kept, '}') < 0)
        return no_memory(r);
    if (r->repeated && rewrite_repeated(r) < 0)
        return 0;
    gcs_user_fields fields;
    if (make_fields(r, &fields) < 0)
        return no_memory(r);
    gcs_user_read u = {&fields, r->kept.ptr, r->kept.len};
    r->info.users++;
    int rc = r->fn ? r->fn(&u, r->payload) : 0;
    r->callback_failed = rc < 0;
    return rc < 0 ? fail(r, rc) : 1;
}

static int close_frame(reader *r, bool is_array)
{
    frame *f = current(r);
    int rc = 1;
    if (f->role == ROLE_USER)
        rc = end_user(r);
    else if (f->role == ROLE_PAGE)
        r->page_done = true;
    else if (f->role == ROLE_INNER && f->kept &&
             buf_putc(&r->kept, is_array ? ']' : '}') < 0)
        rc = no_memory(r);
    r->name_count = f->names_at;
    r->depth--;
    if (r->depth && current(r)->role == ROLE_PAGE)
        r->key_kind = PAGE_OTHER;
    return rc;
}

static int on_end_map(void *ctx)
{
    return close_frame(ctx, false);
}

static int on_end_array(void *ctx)
{
    return close_frame(ctx, true);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* ==== What yajl lets through and jansson does not ==== */

static bool hex4(const unsigned char *s, size_t n, unsigned *out)
{
    if (n < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* yajl takes any byte sequence shaped like UTF-8, turns a bad surrogate
 * escape into '?' or some other character and takes \v and \f for
 * whitespace; jansson refuses all of these, and \u0000.
 * So the whole body is checked first (a single pass, cheap next to parsing).
 * Returns the offset of the first fault, or -1; *why names it. */
static long check_text(const unsigned char *s, size_t n, const char **why)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    const uint64_t backslashes = ones * '\\';
    size_t i = 0;
    while (i < n) {
        /* Eight bytes at a time while they are ASCII without a backslash. */
        for (uint64_t w; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, 8);
            uint64_t x = w ^ backslashes;
            if ((w & highs) || ((x - ones) & ~x & highs) || ((w - ones * 0x20) & ~w & highs))
                break;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t len = gcs_utf8_sequence_length(s + i, n - i);
            if (!len)
                return *why = "invalid UTF-8", (long)i;
            i += len;
            continue;
        }
        if (c == '\v' || c == '\f') /* whitespace to yajl, not to JSON */
            return *why = "control character outside a string", (long)i;
        if (c != '\\') {
            i++;
            continue;
        }
        unsigned cp;
        if (i + 1 >= n || s[i + 1] != 'u' || !hex4(s + i + 2, n - i - 2, &cp)) {
            i += 2; /* another escape (yajl judges it) */
            continue;
        }
        if (cp == 0)
            return *why = "\\u0000 in a string", (long)i;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return *why = "unpaired surrogate escape", (long)i;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low;
            if (i + 7 >= n || s[i + 6] != '\\' || s[i + 7] != 'u' ||
                !hex4(s + i + 8, n - i - 8, &low) || low < 0xDC00 || low > 0xDFFF)
                return *why = "unpaired surrogate escape", (long)i;
            i += 12;
            continue;
        }
        i += 6;
    }
    return -1;
}

/* ==== Reading a page ==== */

int gcs_user_page_read(gcs_user_page_info *info, const char *body, size_t len,
                       gcs_user_read_fn fn, void *payload)
{
    reader r = {.fn = fn, .payload = payload};
    r.info = (gcs_user_page_info){-1, -1, -1, 0};
    gcs_buf_init(&r.key, 0);
    gcs_buf_init(&r.kept, 0);
    gcs_buf_init(&r.number, 0);
    gcs_buf_init(&r.strings, 0);
    yajl_handle h = NULL;
    int rc = 0;
    const char *why = NULL;
    long fault = check_text((const unsigned char *)body, len, &why);
    if (fault >= 0) {
        rc = gcs_error_set(GCS_EINVALID, "byte %ld: %s", fault, why);
        goto out;
    }
    if (!(h = yajl_alloc(&callbacks, NULL, &r))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (r.rc < 0) {
        rc = r.rc;
        if (rc == GCS_EINVALID && !r.callback_failed)
            rc = gcs_error_prefix(rc, "byte %zu", yajl_get_bytes_consumed(h));
    } else if (st != yajl_status_ok) {
        unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)body, len);
        size_t el = e ? strcspn((const char *)e, "\n") : 0;
        rc = gcs_error_set(GCS_EINVALID, "byte %zu: %.*s", yajl_get_bytes_consumed(h), (int)el,
                           e ? (const char *)e : "not JSON");
        if (e)
            yajl_free_error(h, e);
    } else if (!r.page_done) {
        rc = gcs_error_set(GCS_EINVALID, "the answer is not a SCIM list (an object)");
    }
out:
    if (h)
        yajl_free(h);
    if (info)
        *info = r.info;
    free(r.frames);
    free(r.entries);
    free(r.out);
    gcs_buf_release(&r.strings);
    free(r.names);
    gcs_buf_release(&r.key);
    gcs_buf_release(&r.kept);
    gcs_buf_release(&r.number);
    return rc;
}
