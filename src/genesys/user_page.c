#include "genesys/user_page.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/scim.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

/* ==== What of a user the tree keeps ==== */

typedef enum { KEEP_ALL = 0, KEEP_OBJECT, KEEP_LIST } keep_kind;

/* KEEP_ALL: the whole value; KEEP_OBJECT: an object of the members `sub`
 * (anything else is null); KEEP_LIST: an array whose entries are objects of
 * the members `sub` (an entry of another type is null; a value that is not an
 * array is null). A list of members ends with a NULL name. */
typedef struct keep {
    const char *name;
    keep_kind kind;
    const struct keep *sub;
} keep;

#define WHOLE(name) {name, KEEP_ALL, NULL}
#define END {NULL, KEEP_ALL, NULL}

static const keep typed_entry[] = {WHOLE("type"), WHOLE("value"), END};
static const keep value_entry[] = {WHOLE("value"), END};
static const keep authority_entry[] = {WHOLE("authority"), WHOLE("value"), END};
static const keep named_entry[] = {WHOLE("name"), WHOLE("proficiency"), END};
static const keep meta_members[] = {WHOLE("version"), END};
static const keep enterprise_members[] = {WHOLE("department"),     WHOLE("division"), WHOLE("employeeNumber"),
                                          WHOLE("dateHire"),       {"manager", KEEP_OBJECT, value_entry},
                                          END};
static const keep genesys_members[] = {{"externalIds", KEEP_LIST, authority_entry},
                                       {"routingSkills", KEEP_LIST, named_entry},
                                       {"routingLanguages", KEEP_LIST, named_entry},
                                       END};
static const keep user_members[] = {WHOLE("id"),
                                    WHOLE("userName"),
                                    WHOLE("displayName"),
                                    WHOLE("title"),
                                    WHOLE("externalId"),
                                    WHOLE("active"),
                                    {"emails", KEEP_LIST, typed_entry},
                                    {"phoneNumbers", KEEP_LIST, typed_entry},
                                    {"roles", KEEP_LIST, value_entry},
                                    {"groups", KEEP_LIST, value_entry},
                                    {"meta", KEEP_OBJECT, meta_members},
                                    {GCS_SCIM_ENTERPRISE_USER, KEEP_OBJECT, enterprise_members},
                                    {GCS_SCIM_GENESYS_USER, KEEP_OBJECT, genesys_members},
                                    END};

#undef WHOLE
#undef END

static const keep *find_keep(const keep *members, const char *name)
{
    for (const keep *k = members; k->name; k++) {
        if (strcmp(k->name, name) == 0)
            return k;
    }
    return NULL;
}

/* Members left out of a kept text: what no step compares. */
static bool left_out(const char *name)
{
    return strcmp(name, "id") == 0 || strcmp(name, "meta") == 0 || strcmp(name, "schemas") == 0 ||
           strcmp(name, "groups") == 0;
}

/* ==== The reader's state ==== */

typedef enum { ROLE_PAGE, ROLE_RESOURCES, ROLE_USER, ROLE_INNER } role;
typedef enum { PAGE_OTHER, PAGE_TOTAL, PAGE_ITEMS, PAGE_START, PAGE_RESOURCES } page_key;

/* A member name seen in a kept object: more than this many and the user's
 * text is parsed again rather than each name compared with all the others. */
#define NAMES_CHECKED 64

typedef struct frame {
    role role;
    bool is_array;
    bool kept;          /* written to the kept text (ROLE_INNER) */
    bool first;         /* nothing written inside it yet */
    bool member_kept;   /* ROLE_USER: the current member is written */
    bool all;           /* node: everything below it is kept */
    json_t *node;       /* the tree's container for it, or NULL */
    const keep *members; /* node an object: the members kept */
    const keep *entry;  /* node a list: each entry's members */
    const keep *member; /* the current member's rule, or NULL */
    size_t names_at;    /* where its members' name hashes start */
} frame;

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
    gcs_buf key;        /* the current member name, NUL-terminated */
    gcs_buf kept;       /* the current user's kept text */
    gcs_buf number;     /* a number's text, NUL-terminated */
    uint64_t *names;    /* hashes of the member names of the open kept objects */
    size_t name_count, name_cap;
    bool repeated;      /* the current user repeats a member name (or has too many) */
    json_t *members;    /* the current user's tree */
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
    f->names_at = r->name_count;
    return f;
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
    static const char hex[] = "0123456789ABCDEF";
    int rc = gcs_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        i += plain_bytes(s + i, n - i);
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = gcs_buf_put(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        if (rc == 0)
            rc = gcs_buf_put(b, esc, len);
    }
    if (rc == 0)
        rc = gcs_buf_put(b, s + run, n - run);
    return rc == 0 ? gcs_buf_putc(b, '"') : rc;
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
    return gcs_buf_put(b, t, len);
}

/* Before a value in a kept container: the comma between entries of a list. */
static int before_value(reader *r, frame *f)
{
    if (f->is_array && !f->first && gcs_buf_putc(&r->kept, ',') < 0)
        return -1;
    f->first = false;
    return 0;
}

static bool writes(const frame *f)
{
    return f->role == ROLE_USER ? f->member_kept : f->role == ROLE_INNER && f->kept;
}

/* ==== The tree of what a planner looks at ==== */

typedef enum { SLOT_NONE, SLOT_ALL, SLOT_OBJECT, SLOT_LIST } slot_kind;

/* What the tree makes of the value that comes next in f; *sub: the members
 * of the object (SLOT_OBJECT) or of each entry (SLOT_LIST). */
static slot_kind slot(const frame *f, const keep **sub)
{
    if (!f->node)
        return SLOT_NONE;
    if (f->all)
        return SLOT_ALL;
    if (f->is_array) {
        *sub = f->entry;
        return SLOT_OBJECT;
    }
    if (!f->member)
        return SLOT_NONE;
    *sub = f->member->sub;
    return f->member->kind == KEEP_ALL      ? SLOT_ALL
           : f->member->kind == KEEP_OBJECT ? SLOT_OBJECT
                                            : SLOT_LIST;
}

/* Puts v (stolen) in f's node: appended to a list, or as the current member. */
static int attach(reader *r, frame *f, json_t *v)
{
    if (!v)
        return -1;
    int rc = f->is_array ? json_array_append_new(f->node, v)
                         : json_object_set_new_nocheck(f->node, r->key.ptr, v);
    return rc < 0 ? -1 : 0;
}

/* ==== Events ==== */

/* The number's text as jansson reads it: an integer when it has no fraction
 * or exponent (within 64 bits), else a finite real. *value gets it when asked. */
static int read_number(reader *r, const char *s, size_t n, json_t **value, bool text)
{
    gcs_buf_clear(&r->number);
    if (gcs_buf_put(&r->number, s, n) < 0)
        return no_memory(r), -1;
    const char *t = r->number.ptr;
    bool real = memchr(t, '.', n) || memchr(t, 'e', n) || memchr(t, 'E', n);
    errno = 0;
    if (!real) {
        long long v = strtoll(t, NULL, 10);
        if (errno == ERANGE)
            return invalid(r, v < 0 ? "too big negative integer" : "too big integer"), -1;
        if (value && !(*value = json_integer(v)))
            return no_memory(r), -1;
        if (text && gcs_buf_printf(&r->kept, "%lld", v) < 0)
            return no_memory(r), -1;
        return 0;
    }
    double d = strtod(t, NULL);
    if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
        return invalid(r, "real number overflow"), -1;
    if (value && !(*value = json_real(d)))
        return no_memory(r), -1;
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
    json_t *v = NULL;
    if (read_number(r, s, n, &v, false) < 0)
        return 0;
    long value = json_is_integer(v) ? (long)json_integer_value(v) : -1;
    json_decref(v);
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
    const keep *sub = NULL;
    slot_kind k = slot(f, &sub);
    json_t *v = NULL;
    int rc = 0;
    switch (kind) {
    case V_NULL:
        rc = w ? gcs_buf_put(&r->kept, "null", 4) : 0;
        break;
    case V_TRUE:
        rc = w ? gcs_buf_put(&r->kept, "true", 4) : 0;
        v = k == SLOT_ALL ? json_true() : NULL;
        break;
    case V_FALSE:
        rc = w ? gcs_buf_put(&r->kept, "false", 5) : 0;
        v = k == SLOT_ALL ? json_false() : NULL;
        break;
    case V_NUMBER:
        if (read_number(r, s, n, k == SLOT_ALL ? &v : NULL, w) < 0)
            return 0;
        break;
    case V_STRING:
        if (memchr(s, '\0', n))
            return invalid(r, "\\u0000 in a string");
        rc = w ? put_string(&r->kept, s, n) : 0;
        if (k == SLOT_ALL && !(v = json_stringn_nocheck(s, n)))
            return no_memory(r);
        break;
    }
    if (rc < 0) {
        json_decref(v);
        return no_memory(r);
    }
    if (k != SLOT_NONE && attach(r, f, v ? v : json_null()) < 0)
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

/* Opens a container in a user: its text, its node in the tree. */
static int open_inner(reader *r, bool is_array)
{
    frame *parent = current(r);
    bool w = writes(parent);
    if (w && (before_value(r, parent) < 0 || gcs_buf_putc(&r->kept, is_array ? '[' : '{') < 0))
        return no_memory(r);
    const keep *sub = NULL;
    slot_kind k = slot(parent, &sub);
    json_t *node = NULL;
    bool all = k == SLOT_ALL;
    if (all || (k == SLOT_OBJECT && !is_array) || (k == SLOT_LIST && is_array)) {
        node = is_array ? json_array() : json_object();
        if (attach(r, parent, node) < 0)
            return no_memory(r);
    } else if (k != SLOT_NONE && attach(r, parent, json_null()) < 0) {
        return no_memory(r);
    }
    frame *f = push(r, ROLE_INNER, is_array);
    if (!f)
        return 0;
    f->kept = w;
    f->node = node;
    f->all = all;
    if (node && !all && is_array)
        f->entry = sub;
    else if (node && !all)
        f->members = sub;
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
    if (f->role == ROLE_RESOURCES) {
        gcs_buf_clear(&r->kept);
        r->repeated = false;
        json_decref(r->members);
        if (!(r->members = json_object()) || gcs_buf_putc(&r->kept, '{') < 0)
            return no_memory(r);
        frame *u = push(r, ROLE_USER, false);
        if (!u)
            return 0;
        u->node = r->members;
        u->members = user_members;
        return 1;
    }
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
    gcs_buf_clear(&r->key);
    if (gcs_buf_put(&r->key, s, n) < 0)
        return no_memory(r);
    const char *name = r->key.ptr;
    if (f->role == ROLE_PAGE) {
        r->key_kind = strcmp(name, "totalResults") == 0   ? PAGE_TOTAL
                      : strcmp(name, "itemsPerPage") == 0 ? PAGE_ITEMS
                      : strcmp(name, "startIndex") == 0   ? PAGE_START
                      : strcmp(name, "Resources") == 0    ? PAGE_RESOURCES
                                                          : PAGE_OTHER;
        return 1;
    }
    int rc = 0;
    if (f->role == ROLE_USER) {
        f->member_kept = !left_out(name);
        if (f->member_kept) {
            rc = note_name(r, f, s, n);
            if (rc == 0 && !f->first)
                rc = gcs_buf_putc(&r->kept, ',');
            f->first = false;
            /* As the reference path writes a member's name (current_user.c:
             * gcs_buf_put_json_escaped, which differs from jansson's escapes
             * only for control characters). */
            if (rc == 0 && !has_control(s, n)) {
                rc = put_string(&r->kept, s, n);
            } else if (rc == 0) {
                rc = gcs_buf_putc(&r->kept, '"');
                if (rc == 0)
                    rc = gcs_buf_put_json_escaped(&r->kept, name);
                if (rc == 0)
                    rc = gcs_buf_putc(&r->kept, '"');
            }
            if (rc == 0)
                rc = gcs_buf_putc(&r->kept, ':');
        }
    } else if (f->kept) {
        rc = note_name(r, f, s, n);
        if (rc == 0 && !f->first)
            rc = gcs_buf_putc(&r->kept, ',');
        f->first = false;
        if (rc == 0)
            rc = put_string(&r->kept, s, n);
        if (rc == 0)
            rc = gcs_buf_putc(&r->kept, ':');
    }
    if (rc < 0)
        return no_memory(r);
    if (f->node && !f->all && f->members)
        f->member = find_keep(f->members, name);
    return 1;
}

static int put_member_text(const char *buffer, size_t size, void *data)
{
    return gcs_buf_put(data, buffer, size) < 0 ? -1 : 0;
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
    int rc = gcs_buf_putc(&r->kept, '{');
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach(t, key, v) {
        if (rc == 0 && !first)
            rc = gcs_buf_putc(&r->kept, ',');
        first = false;
        if (rc == 0)
            rc = gcs_buf_putc(&r->kept, '"');
        if (rc == 0)
            rc = gcs_buf_put_json_escaped(&r->kept, key);
        if (rc == 0)
            rc = gcs_buf_put(&r->kept, "\":", 2);
        if (rc == 0 && json_dump_callback(v, put_member_text, &r->kept,
                                          JSON_COMPACT | JSON_ENCODE_ANY) < 0)
            rc = -1;
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = gcs_buf_putc(&r->kept, '}');
    json_decref(t);
    return rc < 0 ? (no_memory(r), -1) : 0;
}

static int end_user(reader *r)
{
    if (gcs_buf_putc(&r->kept, '}') < 0)
        return no_memory(r);
    if (r->repeated && rewrite_repeated(r) < 0)
        return 0;
    gcs_user_read u = {r->members, r->kept.ptr, r->kept.len};
    r->info.users++;
    int rc = r->fn ? r->fn(&u, r->payload) : 0;
    json_decref(r->members);
    r->members = NULL;
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
             gcs_buf_putc(&r->kept, is_array ? ']' : '}') < 0)
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

/* The length of the strict UTF-8 sequence at s (Unicode's table 3-7: no
 * overlong form, no surrogate, nothing past U+10FFFF), or 0. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

/* yajl takes any byte sequence shaped like UTF-8 and turns a bad surrogate
 * escape into '?' or some other character; jansson refuses both, and \u0000.
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
            if ((w & highs) || ((x - ones) & ~x & highs))
                break;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_length(s + i, n - i);
            if (!len)
                return *why = "invalid UTF-8", (long)i;
            i += len;
            continue;
        }
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
    json_decref(r.members);
    free(r.frames);
    free(r.names);
    gcs_buf_release(&r.key);
    gcs_buf_release(&r.kept);
    gcs_buf_release(&r.number);
    return rc;
}
