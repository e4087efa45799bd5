#include "plan/plan.h"
#include "plan/group_plan.h"
#include "plan/internal.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/jsontext.h"
#include "core/replace.h"
#include "core/time.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAN_FORMAT "gcscim-plan/3"
/* Plans made before every plan carried a nonce: read (undo reads the plans
 * kept with older runs; their identities are those runs' plan ids), never
 * applied (gcs_plan_check_current). */
#define PLAN_FORMAT_2 "gcscim-plan/2"

static const char *const kind_names[GCS_PLAN__KINDS] = {"create", "reactivate", "update",
                                                        "deactivate", "adopt"};

void gcs_plan_options_init(gcs_plan_options *o)
{
    memset(o, 0, sizeof *o);
    o->removals = (gcs_plan_threshold){10, 0.05, 3};
    o->changes = (gcs_plan_threshold){100, 0.10, 10};
}

int gcs_plan_options_approve(gcs_plan_options *o, const char *text)
{
    const char *eq = strchr(text, '=');
    size_t len = eq ? (size_t)(eq - text) : strlen(text);
    long count = -1;
    if (len == 0 || len >= GCS_PLAN_APPROVAL_WHAT_MAX)
        return gcs_error_set(GCS_EUSAGE, "--approve needs KIND=COUNT or privileged:KEY, not '%s'",
                             text);
    if (eq) {
        char *end;
        errno = 0;
        count = strtol(eq + 1, &end, 10);
        if (errno || end == eq + 1 || *end || count < 0)
            return gcs_error_set(GCS_EUSAGE, "--approve '%.*s' needs a whole number after '='",
                                 (int)len, text);
    }
    /* A misspelt kind would approve nothing, silently: the refusal that follows
     * would not say why the flag did not count. */
    static const char *const exact[] = {"deactivate", "remove-roles", "adopt",
                                        "deactivate-despite-rejects", "remove-members",
                                        "revoke-grants"};
    static const char *const named[] = {"clear:", "change:", "privileged:"};
    bool known = false;
    for (size_t i = 0; i < sizeof exact / sizeof *exact && !known; i++)
        known = strlen(exact[i]) == len && strncmp(text, exact[i], len) == 0;
    for (size_t i = 0; i < sizeof named / sizeof *named && !known; i++)
        known = len > strlen(named[i]) && strncmp(text, named[i], strlen(named[i])) == 0;
    if (!known)
        return gcs_error_set(GCS_EUSAGE,
                             "--approve: unknown kind '%.*s' (deactivate=N, clear:ATTR=N, "
                             "change:ATTR=N, remove-roles=N, adopt=N, privileged:KEY, "
                             "deactivate-despite-rejects, remove-members=N, revoke-grants=N)",
                             (int)len, text);
    /* Counted kinds must say how many: an approval is of what was reviewed. */
    static const char despite[] = "deactivate-despite-rejects";
    bool counted = strncmp(text, "privileged:", 11) != 0 &&
                   !(len == sizeof despite - 1 && strncmp(text, despite, len) == 0);
    if (counted && !eq)
        return gcs_error_set(GCS_EUSAGE, "--approve '%s' needs the number approved: '%s=N'", text,
                             text);
    for (size_t i = 0; i < o->approval_count; i++) {
        if (strlen(o->approvals[i].what) == len && strncmp(o->approvals[i].what, text, len) == 0) {
            o->approvals[i].count = count;
            return 0;
        }
    }
    if (o->approval_count == GCS_PLAN_APPROVALS_MAX)
        return gcs_error_set(GCS_EUSAGE, "too many --approve flags (at most %d)",
                             GCS_PLAN_APPROVALS_MAX);
    gcs_plan_approval *a = &o->approvals[o->approval_count++];
    memcpy(a->what, text, len);
    a->what[len] = '\0';
    a->count = count;
    return 0;
}

const char *gcs_plan_kind_name(gcs_plan_kind kind)
{
    return (unsigned)kind < GCS_PLAN__KINDS ? kind_names[kind] : "?";
}

int gcs_plan_kind_parse(const char *name, gcs_plan_kind *out)
{
    for (int k = 0; k < GCS_PLAN__KINDS; k++) {
        if (name && strcmp(name, kind_names[k]) == 0) {
            *out = (gcs_plan_kind)k;
            return 0;
        }
    }
    return gcs_error_set(GCS_EINVALID, "unknown operation kind '%s'", name ? name : "");
}

/* ==== The operations: one line of text each, in a private file ==== */

/*
 * A plan's operations are kept out of memory: each is serialised once, when it
 * is added (or read), into an unlinked file of this process's own, and only a
 * small record of it (where its text is, its kind, its key until the plan is
 * sorted) stays in memory. An operation is parsed again when it is used. The
 * text kept is the operation's line in the plan file without its leading
 * "seq" member, which is its position and is written in front of it.
 */
typedef struct op_ref {
    uint64_t off;
    uint32_t len;
    uint8_t kind;  /* gcs_plan_kind; GCS_PLAN__KINDS when unknown */
    bool weighs;   /* may matter to the blast-radius rule (gcs_plan_weighs_at) */
    char *key;     /* for sorting; NULL for a plan read from a file */
} op_ref;

struct gcs_plan_ops {
    int fd;
    uint64_t end;       /* bytes in the file, the unwritten ones included */
    char *pending;      /* appended, not yet written */
    size_t pending_len;
    op_ref *refs;
    size_t count, cap;
    bool failed;        /* an operation could not be kept: the plan is not whole */
    /* Operations are read back in order, several times each (apply reads what
     * every one needs, the approval rule, then each as it is sent): a window of
     * the file saves a pread per read. What is written is never rewritten, so
     * the window stays true while the file grows. */
    char *window;
    uint64_t window_off;
    size_t window_len;
    gcs_buf line;       /* an operation's text while it is written by hand */
    char content[65];   /* the content key (hex), computed with the identity; "" before */
};

#define SPOOL_CHUNK ((size_t)64 * 1024)
#define READ_WINDOW ((size_t)256 * 1024)

/* A growable text buffer for one line at a time. */
typedef struct linebuf {
    char *p;
    size_t len, cap;
} linebuf;

static int linebuf_reserve(linebuf *t, size_t n)
{
    if (n + 1 <= t->cap)
        return 0;
    size_t cap = n + 1 > 2 * t->cap ? n + 1 : 2 * t->cap;
    char *p = realloc(t->p, cap);
    GCS_CHECK_ALLOC(p);
    t->p = p;
    t->cap = cap;
    return 0;
}

static void linebuf_free(linebuf *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}

static int spool_open(int *out)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* a file system without O_TMPFILE: a named file, unlinked at once */
        char path[4096];
        snprintf(path, sizeof path, "%s/gcscim-plan-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    if (fd < 0)
        return gcs_error_set(GCS_EIO, "cannot keep the plan's operations in %s: %s", dir,
                             strerror(errno));
    *out = fd;
    return 0;
}

static int ops_new(gcs_plan_ops **out)
{
    gcs_plan_ops *o = calloc(1, sizeof *o);
    GCS_CHECK_ALLOC(o);
    o->pending = malloc(SPOOL_CHUNK);
    if (!o->pending) {
        free(o);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    int rc = spool_open(&o->fd);
    if (rc < 0) {
        free(o->pending);
        free(o);
        return rc;
    }
    /* past the largest line, so that ops_append names the fault */
    gcs_buf_init(&o->line, 2 * (size_t)GCS_PLAN_MAX_LINE_BYTES);
    *out = o;
    return 0;
}

static void ops_free(gcs_plan_ops *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->count; i++)
        free(o->refs[i].key);
    free(o->refs);
    free(o->pending);
    free(o->window);
    gcs_buf_release(&o->line);
    close(o->fd);
    free(o);
}

static int ops_flush(gcs_plan_ops *o)
{
    if (o->pending_len && gcs_file_write_all(o->fd, o->pending, o->pending_len) < 0)
        return gcs_error_set(GCS_EIO, "cannot keep the plan's operations: %s", strerror(errno));
    o->pending_len = 0;
    return 0;
}

static int ops_append(gcs_plan_ops *o, const char *text, size_t len, int kind, bool weighs,
                      const char *key)
{
    if (len > GCS_PLAN_MAX_LINE_BYTES)
        return gcs_error_set(GCS_EINVALID, "an operation of %zu bytes is too large", len);
    if (o->count == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        op_ref *refs = realloc(o->refs, cap * sizeof *refs);
        GCS_CHECK_ALLOC(refs);
        o->refs = refs;
        o->cap = cap;
    }
    char *key_copy = NULL;
    if (key && !(key_copy = strdup(key)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    int rc = 0;
    if (o->pending_len + len > SPOOL_CHUNK)
        rc = ops_flush(o);
    if (rc == 0 && len > SPOOL_CHUNK)
        rc = gcs_file_write_all(o->fd, text, len) < 0
                 ? gcs_error_set(GCS_EIO, "cannot keep the plan's operations: %s", strerror(errno))
                 : 0;
    else if (rc == 0) {
        memcpy(o->pending + o->pending_len, text, len);
        o->pending_len += len;
    }
    if (rc < 0) {
        free(key_copy);
        return rc;
    }
    o->refs[o->count++] = (op_ref){o->end, (uint32_t)len, (uint8_t)kind, weighs, key_copy};
    o->end += len;
    return 0;
}

/* Reads len bytes at off into p. */
static int read_at(int fd, char *p, size_t len, uint64_t off, size_t *got, size_t i)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return gcs_error_set(GCS_EIO, "cannot read the plan's operation %zu back: %s", i + 1,
                                 strerror(errno));
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

/* The text of operation i (without its "seq"). */
static int ops_text(const gcs_plan_ops *o, size_t i, linebuf *t)
{
    gcs_plan_ops *w = (gcs_plan_ops *)o; /* reading first writes what is pending */
    int rc = ops_flush(w);
    if (rc < 0)
        return rc;
    const op_ref *r = &o->refs[i];
    if ((rc = linebuf_reserve(t, r->len)) < 0)
        return rc;
    bool in_window = o->window && r->off >= o->window_off &&
                     r->off + r->len <= o->window_off + o->window_len;
    if (!in_window && r->len <= READ_WINDOW / 2) {
        if (!w->window && !(w->window = malloc(READ_WINDOW)))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        size_t got = 0;
        w->window_len = 0;
        if ((rc = read_at(o->fd, w->window, READ_WINDOW, r->off, &got, i)) < 0)
            return rc;
        w->window_off = r->off;
        w->window_len = got;
        in_window = r->len <= got;
    }
    size_t got = r->len;
    if (in_window)
        memcpy(t->p, o->window + (r->off - o->window_off), r->len);
    else if ((rc = read_at(o->fd, t->p, r->len, r->off, &got, i)) < 0)
        return rc;
    if (got < r->len)
        return gcs_error_set(GCS_EIO, "cannot read the plan's operation %zu back: short read",
                             i + 1);
    t->len = r->len;
    t->p[t->len] = '\0';
    return 0;
}

static int kind_of(const json_t *op)
{
    gcs_plan_kind k = (gcs_plan_kind)0; /* set by the parse; quiets -Wmaybe-uninitialized */
    if (gcs_plan_kind_parse(json_string_value(json_object_get(op, "kind")), &k) < 0)
        return GCS_PLAN__KINDS;
    return (int)k;
}

/* Whether an operation can matter to the blast-radius rule: all but a create
 * that grants no privileged role and replaces no value (the operations of a
 * load of new users, which the rule then need not parse again). */
static bool weighs(const json_t *op, int kind)
{
    if (kind != GCS_PLAN_CREATE || json_array_size(json_object_get(op, "privileged")) > 0)
        return true;
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(op, "changes"), i, ch) {
        json_t *old = json_object_get(ch, "old");
        if (old && !json_is_null(old))
            return true;
    }
    return !json_is_array(json_object_get(op, "changes")) && json_object_get(op, "changes");
}

/* Keeps one operation (its "seq", a position, is dropped: it is written in
 * front of the text). */
static int dump_to_linebuf(const char *buffer, size_t size, void *data)
{
    linebuf *t = data;
    if (linebuf_reserve(t, t->len + size) < 0)
        return -1;
    memcpy(t->p + t->len, buffer, size);
    t->len += size;
    t->p[t->len] = '\0';
    return 0;
}

static int ops_add_json(gcs_plan_ops *o, json_t *op)
{
    json_object_del(op, "seq");
    linebuf t = {0};
    int rc = json_dump_callback(op, dump_to_linebuf, &t, JSON_INDENT(0) | JSON_PRESERVE_ORDER) < 0
                 ? gcs_error_set(GCS_ENOMEM, "cannot keep a plan operation: out of memory")
                 : ops_append(o, t.p, t.len, kind_of(op), weighs(op, kind_of(op)),
                              json_string_value(json_object_get(op, "key")));
    linebuf_free(&t);
    return rc;
}

size_t gcs_plan_size(const gcs_plan *plan)
{
    return plan->ops ? plan->ops->count : 0;
}

gcs_plan_kind gcs_plan_kind_at(const gcs_plan *plan, size_t i)
{
    return i < gcs_plan_size(plan) ? (gcs_plan_kind)plan->ops->refs[i].kind : GCS_PLAN__KINDS;
}

bool gcs_plan_weighs_at(const gcs_plan *plan, size_t i)
{
    return i >= gcs_plan_size(plan) || plan->ops->refs[i].weighs;
}

json_t *gcs_plan_op_at(const gcs_plan *plan, size_t i)
{
    if (i >= gcs_plan_size(plan)) {
        gcs_error_set(GCS_EINVALID, "the plan has no operation %zu", i + 1);
        return NULL;
    }
    linebuf t = {0};
    json_t *op = NULL;
    if (ops_text(plan->ops, i, &t) == 0) {
        json_error_t err;
        op = json_loadb(t.p, t.len, 0, &err);
        if (!op)
            gcs_error_set(GCS_EIO, "cannot read the plan's operation %zu back: %s", i + 1, err.text);
        else if (json_object_set_new(op, "seq", json_integer((json_int_t)i + 1)) < 0) {
            json_decref(op);
            op = NULL;
            gcs_error_set(GCS_ENOMEM, "out of memory");
        }
    }
    linebuf_free(&t);
    return op;
}

json_t *gcs_plan_op_part_at(const gcs_plan *plan, size_t i, const char *const *members,
                            size_t count)
{
    if (i >= gcs_plan_size(plan)) {
        gcs_error_set(GCS_EINVALID, "the plan has no operation %zu", i + 1);
        return NULL;
    }
    linebuf t = {0};
    json_t *part = NULL;
    if (ops_text(plan->ops, i, &t) < 0)
        goto out;
    part = json_object();
    if (!part) {
        gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    /* The text was checked when it was kept (a whole parse, no duplicate
     * names): the members asked for are found by one scan, each parsed alone. */
    enum { MAX_MEMBERS = 16 };
    const char *starts[MAX_MEMBERS];
    size_t lens[MAX_MEMBERS];
    bool scanned = count <= MAX_MEMBERS &&
                   gcs_json_text_top_values(t.p, members, count, starts, lens) >= 0;
    for (size_t m = 0; m < count; m++) {
        json_t *v = scanned && starts[m] ? json_loadb(starts[m], lens[m], JSON_DECODE_ANY, NULL)
                                         : NULL;
        if (!scanned || (starts[m] && !v)) {
            /* not plain enough to be sure: the whole operation, then its part */
            json_decref(part);
            json_t *op = gcs_plan_op_at(plan, i);
            part = op ? json_object() : NULL;
            for (size_t k = 0; part && k < count; k++) {
                json_t *w = json_object_get(op, members[k]);
                if (w && json_object_set(part, members[k], w) < 0) {
                    json_decref(part);
                    part = NULL;
                }
            }
            if (op && !part)
                gcs_error_set(GCS_ENOMEM, "out of memory");
            json_decref(op);
            goto out;
        }
        if (v && json_object_set_new(part, members[m], v) < 0) {
            json_decref(part);
            part = NULL;
            gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    linebuf_free(&t);
    return part;
}

enum { MAX_MEMBERS = 16 };

/* Operation i's text in *t, and where each member's value starts in it (NULL:
 * absent), found in one scan; *scanned is false when the text could not be
 * scanned, and the operation is then parsed instead. */
static int scan_members(const gcs_plan *plan, size_t i, const char *const *members, size_t count,
                        linebuf *t, const char **starts, size_t *lens, bool *scanned)
{
    *scanned = false;
    if (i >= gcs_plan_size(plan))
        return gcs_error_set(GCS_EINVALID, "the plan has no operation %zu", i + 1);
    if (count > MAX_MEMBERS)
        return gcs_error_set(GCS_EINVALID, "too many members asked for");
    int rc = ops_text(plan->ops, i, t);
    *scanned = rc == 0 && gcs_json_text_top_values(t->p, members, count, starts, lens) >= 0;
    return rc;
}

int gcs_plan_op_strings_at(const gcs_plan *plan, size_t i, const char *const *members,
                           size_t count, char **values, bool *present)
{
    for (size_t m = 0; m < count; m++) {
        values[m] = NULL;
        present[m] = false;
    }
    linebuf t = {0};
    const char *starts[MAX_MEMBERS];
    size_t lens[MAX_MEMBERS];
    bool plain;
    int rc = scan_members(plan, i, members, count, &t, starts, lens, &plain);
    /* The text was checked when it was kept: a plain string (no escape) is
     * its value as it stands; anything else is parsed. */
    for (size_t m = 0; plain && m < count; m++) {
        if (!starts[m])
            continue;
        present[m] = true;
        if (lens[m] >= 2 && starts[m][0] == '"' && !memchr(starts[m], '\\', lens[m])) {
            if (!(values[m] = strndup(starts[m] + 1, lens[m] - 2)))
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        } else if (starts[m][0] == '"') {
            /* an escape (a version is W/"…"): that value alone is parsed */
            json_t *v = json_loadb(starts[m], lens[m], JSON_DECODE_ANY, NULL);
            if (!v)
                plain = false;
            else if (!(values[m] = strdup(json_string_value(v))))
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            json_decref(v);
        }
    }
    if (rc == 0 && !plain) {
        for (size_t m = 0; m < count; m++) {
            free(values[m]);
            values[m] = NULL;
        }
        json_t *part = gcs_plan_op_part_at(plan, i, members, count);
        if (!part)
            rc = gcs_error_last_code() ? gcs_error_last_code() : GCS_EIO;
        for (size_t m = 0; part && rc == 0 && m < count; m++) {
            json_t *v = json_object_get(part, members[m]);
            present[m] = v != NULL;
            if (json_is_string(v) && !(values[m] = strdup(json_string_value(v))))
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        json_decref(part);
    }
    if (rc < 0) {
        for (size_t m = 0; m < count; m++) {
            free(values[m]);
            values[m] = NULL;
        }
    }
    linebuf_free(&t);
    return rc;
}

/* Appends JSON text written with ", " and ": " between members (as the plan
 * keeps it) without those spaces: what JSON_COMPACT writes of the same value. */
/* The index of the quote closing the string whose text starts at p[i] (the
 * first quote not escaped: preceded by an even number of backslashes), or
 * len when the text ends first. */
static size_t string_close(const char *p, size_t i, size_t len)
{
    const size_t from = i;
    while (i < len) {
        const char *q = memchr(p + i, '"', len - i);
        if (!q)
            return len;
        size_t at = (size_t)(q - p), slashes = 0;
        while (at - slashes > from && p[at - slashes - 1] == '\\')
            slashes++;
        if (slashes % 2 == 0)
            return at;
        i = at + 1;
    }
    return len;
}

/* The value's text as JSON_COMPACT writes it: the blank after each ':' and
 * ',' between tokens dropped. Strings, most of a body, are copied whole. */
static int compact_into(linebuf *out, const char *p, size_t len)
{
    if (linebuf_reserve(out, len) < 0)
        return GCS_ENOMEM;
    size_t n = 0, i = 0;
    while (i < len) {
        char ch = p[i];
        if (ch == '"') {
            size_t end = string_close(p, i + 1, len);
            size_t run = (end < len ? end + 1 : len) - i;
            memcpy(out->p + n, p + i, run);
            n += run;
            i += run;
            continue;
        }
        if (!(ch == ' ' && n > 0 && (out->p[n - 1] == ':' || out->p[n - 1] == ',')))
            out->p[n++] = ch;
        i++;
    }
    out->len = n;
    out->p[n] = '\0';
    return 0;
}

char *gcs_plan_member_text_at(const gcs_plan *plan, size_t i, const char *member)
{
    if (i >= gcs_plan_size(plan)) {
        gcs_error_set(GCS_EINVALID, "the plan has no operation %zu", i + 1);
        return NULL;
    }
    linebuf t = {0}, out = {0};
    char *text = NULL;
    const char *start;
    size_t len;
    if (ops_text(plan->ops, i, &t) < 0)
        goto done;
    int found = gcs_json_text_top_value(t.p, member, &start, &len);
    if (found == 1 && compact_into(&out, start, len) == 0) {
        text = out.p; /* handed over */
        out.p = NULL;
    } else if (found == 1) {
        gcs_error_set(GCS_ENOMEM, "out of memory");
    } else if (found == 0) {
        gcs_error_set(GCS_ENOTFOUND, "operation %zu has no %s", i + 1, member);
    } else {
        json_t *op = gcs_plan_op_at(plan, i);
        json_t *v = json_object_get(op, member);
        text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (op && !text)
            gcs_error_set(v ? GCS_ENOMEM : GCS_ENOTFOUND, "operation %zu: no %s", i + 1, member);
        json_decref(op);
    }
done:
    linebuf_free(&t);
    linebuf_free(&out);
    return text;
}

/* The member texts of one operation's text t[0, len): found by one scan and
 * made compact, or, when the scan cannot be sure of the text (a member name
 * with an escape, which it never matches), taken from jansson's reading of
 * the whole operation. `i` names the operation in an error. */
static int member_texts_of(const char *t, size_t len, size_t i, const char *const *members,
                           size_t count, char **texts)
{
    for (size_t m = 0; m < count; m++)
        texts[m] = NULL;
    if (count > MAX_MEMBERS)
        return gcs_error_set(GCS_EINVALID, "too many members asked for");
    const char *starts[MAX_MEMBERS];
    size_t lens[MAX_MEMBERS];
    int rc = 0;
    if (gcs_json_text_top_values(t, members, count, starts, lens) >= 0) {
        for (size_t m = 0; rc == 0 && m < count; m++) {
            linebuf out = {0};
            if (!starts[m])
                continue;
            if (compact_into(&out, starts[m], lens[m]) != 0)
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            texts[m] = out.p; /* handed over */
        }
    } else {
        json_error_t err;
        json_t *op = json_loadb(t, len, 0, &err);
        if (!op)
            rc = gcs_error_set(GCS_EIO, "cannot read the plan's operation %zu back: %s", i + 1,
                               err.text);
        for (size_t m = 0; op && rc == 0 && m < count; m++) {
            json_t *v = json_object_get(op, members[m]);
            if (v && !(texts[m] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        json_decref(op);
    }
    if (rc < 0) {
        for (size_t m = 0; m < count; m++) {
            free(texts[m]);
            texts[m] = NULL;
        }
    }
    return rc;
}

int gcs_plan__member_texts_of(const char *op_text, size_t op_len, const char *const *members,
                              size_t count, char **texts)
{
    return member_texts_of(op_text, op_len, 0, members, count, texts);
}

int gcs_plan_member_texts_at(const gcs_plan *plan, size_t i, const char *const *members,
                             size_t count, char **texts)
{
    for (size_t m = 0; m < count; m++)
        texts[m] = NULL;
    if (i >= gcs_plan_size(plan))
        return gcs_error_set(GCS_EINVALID, "the plan has no operation %zu", i + 1);
    linebuf t = {0};
    int rc = ops_text(plan->ops, i, &t);
    if (rc == 0)
        rc = member_texts_of(t.p, t.len, i, members, count, texts);
    linebuf_free(&t);
    return rc;
}

/* ==== Building ==== */

int gcs_plan_begin(gcs_plan *plan, const char *api_url, const char *source_path,
                  const char *profile_path, const gcs_plan_options *options)
{
    char ts[40];
    gcs_time_format_iso8601(ts, sizeof ts, gcs_time_wall_ms());
    plan->ops = NULL;
    plan->doc = NULL;
    /* The nonce makes every plan made a plan of its own, whatever it holds:
     * runs are found by the identity, and a plan made again from the same
     * inputs must not be taken for an earlier one's run (docs/plan.md). */
    unsigned char rnd[16];
    char nonce[2 * sizeof rnd + 1];
    if (RAND_bytes(rnd, (int)sizeof rnd) != 1)
        return gcs_error_set(GCS_ERROR, "no random bytes for the plan's nonce");
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    plan->doc = json_pack("{s:s,s:s,s:s,s:{s:s?},s:{s:s?},s:{s:s?},s:{s:b,s:b,s:b},s:[]}",
                          "format", PLAN_FORMAT, "nonce", nonce, "created", ts, "target",
                          "api_url", api_url,
                          "source", "path", source_path, "profile", "path", profile_path,
                          "options", "no_create", options->no_create, "no_update",
                          options->no_update, "no_deactivate", options->no_deactivate,
                          "rejected");
    if (!plan->doc)
        return gcs_error_set(GCS_ENOMEM, "cannot build plan");
    int rc = ops_new(&plan->ops);
    if (rc < 0) {
        json_decref(plan->doc);
        plan->doc = NULL;
    }
    return rc;
}

void gcs_plan_release(gcs_plan *plan)
{
    json_decref(plan->doc);
    plan->doc = NULL;
    ops_free(plan->ops);
    plan->ops = NULL;
}

json_t *gcs_plan_operations(const gcs_plan *plan)
{
    json_t *ops = json_object_get(plan->doc, "operations");
    if (ops || !plan->doc)
        return ops;
    ops = json_array();
    for (size_t i = 0; ops && i < gcs_plan_size(plan); i++) {
        json_t *op = gcs_plan_op_at(plan, i);
        if (!op || json_array_append_new(ops, op) < 0) {
            json_decref(ops);
            ops = NULL;
        }
    }
    /* Loaded once, then kept with the document (a plan is const to its
     * readers; the array is a cache of what the file of operations holds). */
    if (!ops || json_object_set_new((json_t *)plan->doc, "operations", ops) < 0)
        return NULL;
    return ops;
}

int gcs_plan_add(gcs_plan *plan, gcs_plan_kind kind, const char *key, const char *user_name,
                 const char *id, const char *version, json_t *body, json_t *changes,
                 json_t *extra)
{
    json_t *op = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?}", "kind", gcs_plan_kind_name(kind), "key",
                           key, "userName", user_name, "id", id, "version", version);
    if (!op || !plan->ops) {
        json_decref(op);
        json_decref(body);
        json_decref(changes);
        json_decref(extra);
        return gcs_error_set(GCS_ENOMEM, "cannot build plan operation");
    }
    json_object_set_new(op, kind == GCS_PLAN_CREATE ? "body" : "operations",
                        body ? body : json_array());
    json_object_set_new(op, "changes", changes ? changes : json_array());
    if (extra) {
        json_object_update(op, extra);
        json_decref(extra);
    }
    int rc = ops_add_json(plan->ops, op);
    json_decref(op);
    if (rc < 0)
        plan->ops->failed = true;
    return rc;
}

/* Appends compact JSON text as the plan writes it (JSON_INDENT(0)): a space
 * after every ',' and ':' outside strings. */
static int spaced_json(linebuf *t, const char *text)
{
    size_t n = strlen(text), extra = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ',' || c == ':') {
            extra++;
        }
    }
    int rc = linebuf_reserve(t, t->len + n + extra);
    if (rc < 0)
        return rc;
    char *w = t->p + t->len;
    in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        *w++ = c;
        if (in_string) {
            if (c == '\\' && i + 1 < n)
                *w++ = text[++i];
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ',' || c == ':') {
            *w++ = ' ';
        }
    }
    t->len = (size_t)(w - t->p);
    t->p[t->len] = '\0';
    return 0;
}

/* The members of a dumped object (its text less the braces), or "" for {}. */
static int append_members(linebuf *t, const json_t *obj)
{
    size_t before = t->len;
    if (json_dump_callback(obj, dump_to_linebuf, t, JSON_INDENT(0) | JSON_PRESERVE_ORDER) < 0 ||
        t->len < before + 2)
        return gcs_error_set(GCS_ENOMEM, "cannot keep a plan operation: out of memory");
    /* "{...}" -> "...": drop the closing brace, then the opening one */
    t->len--;
    memmove(t->p + before, t->p + before + 1, t->len - before - 1);
    t->len--;
    t->p[t->len] = '\0';
    return 0;
}

int gcs_plan_add_create_text(gcs_plan *plan, const char *key, const char *user_name,
                             const char *body_text, json_t *changes, json_t *extra)
{
    static const char *const own[] = {"kind", "key", "userName", "id", "version", "body",
                                      "changes", "seq"};
    bool clash = false;
    for (size_t i = 0; i < sizeof own / sizeof *own && extra; i++)
        clash |= json_object_get(extra, own[i]) != NULL;
    if (clash || !plan->ops) {
        json_t *body = json_loads(body_text, 0, NULL);
        if (!body) {
            json_decref(changes);
            json_decref(extra);
            if (plan->ops)
                plan->ops->failed = true;
            return gcs_error_set(GCS_ENOMEM, "cannot build plan operation");
        }
        return gcs_plan_add(plan, GCS_PLAN_CREATE, key, user_name, NULL, NULL, body, changes,
                            extra);
    }
    /* The operation as gcs_plan_add's tree would be dumped: its head, the body,
     * the changes, then extra's members. */
    json_t *head = json_pack("{s:s,s:s?,s:s?,s:n,s:n}", "kind", "create", "key", key, "userName",
                             user_name, "id", "version");
    if (!changes)
        changes = json_array();
    linebuf t = {0};
    int rc = head && changes ? 0 : gcs_error_set(GCS_ENOMEM, "cannot build plan operation");
    if (rc == 0 && (rc = linebuf_reserve(&t, 1024)) == 0) {
        t.p[t.len++] = '{';
        rc = append_members(&t, head);
    }
    if (rc == 0 && (rc = linebuf_reserve(&t, t.len + 16)) == 0) {
        memcpy(t.p + t.len, ", \"body\": ", 10);
        t.len += 10;
        rc = spaced_json(&t, body_text);
    }
    if (rc == 0 && (rc = linebuf_reserve(&t, t.len + 16)) == 0) {
        memcpy(t.p + t.len, ", \"changes\": ", 13);
        t.len += 13;
        if (json_dump_callback(changes, dump_to_linebuf, &t,
                               JSON_INDENT(0) | JSON_PRESERVE_ORDER) < 0)
            rc = gcs_error_set(GCS_ENOMEM, "cannot keep a plan operation: out of memory");
    }
    if (rc == 0 && json_object_size(extra) > 0 && (rc = linebuf_reserve(&t, t.len + 2)) == 0) {
        memcpy(t.p + t.len, ", ", 2);
        t.len += 2;
        rc = append_members(&t, extra);
    }
    if (rc == 0 && (rc = linebuf_reserve(&t, t.len + 1)) == 0) {
        t.p[t.len++] = '}';
        t.p[t.len] = '\0';
    }
    if (rc == 0) {
        /* What weighs() reads: a create's privileged roles and replaced values. */
        json_t *probe = json_pack("{s:O,s:O?}", "changes", changes, "privileged",
                                  json_object_get(extra, "privileged"));
        rc = probe ? ops_append(plan->ops, t.p, t.len, GCS_PLAN_CREATE,
                                weighs(probe, GCS_PLAN_CREATE), key)
                   : gcs_error_set(GCS_ENOMEM, "cannot build plan operation");
        json_decref(probe);
    }
    linebuf_free(&t);
    json_decref(head);
    json_decref(changes);
    json_decref(extra);
    if (rc < 0)
        plan->ops->failed = true;
    return rc;
}

/* A string member's value as gcs_plan_add's tree would be dumped: null for
 * NULL. 1, 0 when jansson would not hold it, or the error. */
static int put_string_or_null(gcs_buf *b, const char *s)
{
    if (!s)
        return gcs_buf_puts(b, "null") < 0 ? GCS_ENOMEM : 1;
    return gcs_json_text_put_string(b, s, strlen(s));
}

int gcs_plan_add_create_texts(gcs_plan *plan, const char *key, const char *user_name,
                              const char *body_text, const char *changes_text,
                              const char *location, const char *manager_key,
                              const char *privileged_text)
{
    if (!plan->ops)
        return 0;
    gcs_buf *b = &plan->ops->line;
    gcs_buf_clear(b);
    /* The members in gcs_plan_add_create_text's order: its head, the body, the
     * changes, then extra's (location, manager_key, privileged). */
    int rc = gcs_buf_puts(b, "{\"kind\": \"create\", \"key\": ") < 0 ? GCS_ENOMEM : 1;
    if (rc == 1)
        rc = put_string_or_null(b, key);
    if (rc == 1)
        rc = gcs_buf_puts(b, ", \"userName\": ") < 0 ? GCS_ENOMEM : 1;
    if (rc == 1)
        rc = put_string_or_null(b, user_name);
    if (rc == 1 && (gcs_buf_puts(b, ", \"id\": null, \"version\": null, \"body\": ") < 0 ||
                    gcs_json_text_put_spaced(b, body_text, strlen(body_text)) < 0 ||
                    gcs_buf_puts(b, ", \"changes\": ") < 0 || gcs_buf_puts(b, changes_text) < 0 ||
                    gcs_buf_puts(b, ", \"location\": ") < 0))
        rc = GCS_ENOMEM;
    if (rc == 1)
        rc = put_string_or_null(b, location);
    if (rc == 1 && manager_key) {
        rc = gcs_buf_puts(b, ", \"manager_key\": ") < 0 ? GCS_ENOMEM : 1;
        if (rc == 1)
            rc = gcs_json_text_put_string(b, manager_key, strlen(manager_key));
    }
    if (rc == 1 && privileged_text &&
        (gcs_buf_puts(b, ", \"privileged\": ") < 0 || gcs_buf_puts(b, privileged_text) < 0))
        rc = GCS_ENOMEM;
    if (rc == 1 && gcs_buf_putc(b, '}') < 0)
        rc = GCS_ENOMEM;
    if (rc < 0)
        rc = gcs_error_set(GCS_ENOMEM, "cannot keep a plan operation: out of memory");
    /* What weighs() reads of a create: its privileged roles (its changes
     * replace nothing). */
    if (rc == 1 && (rc = ops_append(plan->ops, b->ptr, b->len, GCS_PLAN_CREATE,
                                    privileged_text != NULL, key)) == 0)
        rc = 1;
    if (rc < 0)
        plan->ops->failed = true;
    return rc;
}

void gcs_plan_reject(gcs_plan *plan, const char *location, const char *field, const char *reason)
{
    json_array_append_new(json_object_get(plan->doc, "rejected"),
                          json_pack("{s:s?,s:s?,s:s?}", "location", location, "field", field,
                                    "reason", reason));
}

void gcs_plan_set_counts(gcs_plan *plan, long unchanged, long managed_total)
{
    json_object_set_new(plan->doc, "unchanged", json_integer(unchanged));
    json_object_set_new(plan->doc, "managed_total", json_integer(managed_total));
}

void gcs_plan_set_targeted(gcs_plan *plan, bool targeted)
{
    if (targeted)
        json_object_set_new(plan->doc, "targeted", json_true());
    else
        json_object_del(plan->doc, "targeted");
}

void gcs_plan_set_source_facts(gcs_plan *plan, long rejected_rows, bool clean)
{
    json_object_set_new(plan->doc, "rejected_rows", json_integer(rejected_rows));
    json_object_set_new(plan->doc, "source_clean", json_boolean(clean));
}

void gcs_plan_skip(gcs_plan *plan, const char *key, const char *user_name, const char *location,
                   const char *why)
{
    json_t *list = json_object_get(plan->doc, "skipped");
    if (!list) {
        list = json_array();
        json_object_set_new(plan->doc, "skipped", list);
    }
    json_array_append_new(list, json_pack("{s:s?,s:s?,s:s?,s:s?}", "key", key, "userName",
                                          user_name, "location", location, "reason", why));
}

void gcs_plan_set_rows(gcs_plan *plan, json_t *rows)
{
    json_object_set_new(plan->doc, "rows", rows);
}

static int compare_refs(const void *a, const void *b)
{
    const op_ref *x = a, *y = b;
    /* creates, adoptions, reactivations, updates, deactivations; unknown kinds last */
    static const int rank[GCS_PLAN__KINDS + 1] = {0, 2, 3, 4, 1, 5};
    int kx = rank[x->kind], ky = rank[y->kind];
    if (kx != ky)
        return kx - ky;
    return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

long gcs_plan_count(const gcs_plan *plan, gcs_plan_kind kind)
{
    long n = 0;
    for (size_t i = 0; i < gcs_plan_size(plan); i++)
        n += plan->ops->refs[i].kind == (uint8_t)kind;
    return n;
}

/* ==== Identity: a digest over a stream ==== */

/*
 * Identity: the whole plan, the nonce included. Every member of the document
 * but the identity itself and the seal made of it is sealed: what will be done,
 * where, the facts its approvals rest on (the managed count that the share
 * rules divide by, rejected rows, a source read to its end), and what people
 * read of it (when it was made, from which files, its summary). Any edit of
 * these changes it. The nonce, random for every plan made, makes two plans of
 * the same changes two plans: runs and their items are found by the identity,
 * so a plan made again after someone undid gcscim's work by hand is applied,
 * not answered "already applied".
 *
 * Content key: what will be done, where, and the facts its approvals rest on,
 * without the nonce, when or from which files. Two plans of the same changes
 * share it: the lease that lets one run of those changes go at a time is
 * taken on it (engine/apply.c), so two terminals that sync one export at once
 * do not both send it.
 *
 * The content key is computed over a stream, so that neither writing nor
 * reading a plan needs all of it in memory: "gcscim-plan/3 content" and a
 * newline, the canonical JSON (compact, sorted keys) of its members, then each
 * operation's line exactly as the plan file holds it, each after a newline.
 * The identity is the digest of the format's name and a newline, the canonical
 * JSON of every sealed member, a newline and the content key, which stands for
 * the operations: they are hashed once. A gcscim-plan/2 plan's identity was
 * the content key's digest under the preamble "gcscim-plan/2".
 */
/* "job": the serve job a plan was made for (engine/sync.c), absent from the
 * command line's plans: two jobs' plans are not one run's work. */
static const char *const content_members[] = {"target",        "marker",       "managed_total",
                                              "rejected_rows", "source_clean", "password_policy",
                                              "targeted",      "groups",       "job"};
/* Never in the identity: itself, the seal made of it, and the operations
 * (through the content key). */
static const char *const unsealed_members[] = {"identity", "seal", "operations"};

#define CONTENT_PREAMBLE PLAN_FORMAT " content\n"

typedef struct identity_hash {
    EVP_MD_CTX *md;
    bool failed;
} identity_hash;

static void identity_update(identity_hash *h, const void *data, size_t len)
{
    if (!h->failed && EVP_DigestUpdate(h->md, data, len) != 1)
        h->failed = true;
}

static int identity_dump_cb(const char *buffer, size_t size, void *data)
{
    identity_update(data, buffer, size);
    return 0;
}

static bool listed(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

/* A document of the format before the nonce (its identity is its content key). */
static bool format_2(const json_t *doc)
{
    const char *format = json_string_value(json_object_get(doc, "format"));
    return format && strcmp(format, PLAN_FORMAT_2) == 0;
}

/* Begins a digest: `preamble`, then the canonical JSON of the content members
 * of doc (whole: of every member but the unsealed ones). */
static int identity_begin(identity_hash *h, const json_t *doc, const char *preamble, bool whole)
{
    h->failed = false;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return gcs_error_set(GCS_ENOMEM, "cannot compute the plan's identity");
    }
    json_t *ident = json_object();
    bool failed = !ident;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v) {
        bool covered = whole ? !listed(k, unsealed_members,
                                       sizeof unsealed_members / sizeof *unsealed_members)
                             : listed(k, content_members,
                                      sizeof content_members / sizeof *content_members);
        if (ident && covered && json_object_set(ident, k, v) < 0)
            failed = true; /* an identity over part of the plan would be wrong */
    }
    identity_update(h, preamble, strlen(preamble));
    if (!failed && json_dump_callback(ident, identity_dump_cb, h,
                                      JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) < 0)
        failed = true;
    json_decref(ident);
    if (failed) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return gcs_error_set(GCS_ENOMEM, "cannot compute the plan's identity");
    }
    return 0;
}

/* The stream a plan's operations are hashed into: the content key's (or, for a
 * gcscim-plan/2 plan, the identity's, which was the same digest). */
typedef struct ops_digest {
    identity_hash stream;
    const json_t *doc;
    bool format_2;
} ops_digest;

static int digest_begin(ops_digest *p, const json_t *doc)
{
    memset(p, 0, sizeof *p);
    p->doc = doc;
    p->format_2 = format_2(doc);
    return p->format_2 ? identity_begin(&p->stream, doc, PLAN_FORMAT_2 "\n", false)
                       : identity_begin(&p->stream, doc, CONTENT_PREAMBLE, false);
}

static void digest_free(ops_digest *p)
{
    EVP_MD_CTX_free(p->stream.md);
    p->stream.md = NULL;
}

/* One operation's line, as the file holds it (without the separating comma). */
static void identity_line(ops_digest *p, const char *line, size_t len)
{
    identity_update(&p->stream, "\n", 1);
    identity_update(&p->stream, line, len);
}

static int identity_end(identity_hash *h, char hex[65])
{
    if (!h->md)
        return gcs_error_set(GCS_ERROR, "cannot compute the plan's identity");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool ok = !h->failed && EVP_DigestFinal_ex(h->md, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(h->md);
    h->md = NULL;
    if (!ok)
        return gcs_error_set(GCS_ERROR, "cannot compute the plan's identity");
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* The line of operation i in the plan file: its "seq" first, then its text. */
static int op_line(const gcs_plan_ops *o, size_t i, linebuf *t, linebuf *line)
{
    int rc = ops_text(o, i, t);
    if (rc == 0 && (t->len < 2 || t->p[0] != '{'))
        rc = gcs_error_set(GCS_EIO, "the plan's operation %zu is damaged", i + 1);
    /* "{\"seq\": N, " as snprintf would write it, without its cost (twice an
     * operation: the identity, the file) */
    char prefix[48], digits[24];
    int nd = 0;
    for (size_t seq = i + 1; seq || nd == 0; seq /= 10)
        digits[nd++] = (char)('0' + seq % 10);
    int pl = 0;
    memcpy(prefix, "{\"seq\": ", 8);
    pl = 8;
    while (nd > 0)
        prefix[pl++] = digits[--nd];
    if (t->len > 2) {
        prefix[pl++] = ',';
        prefix[pl++] = ' ';
    }
    if (rc == 0 && (rc = linebuf_reserve(line, (size_t)pl + t->len)) == 0) {
        memcpy(line->p, prefix, (size_t)pl);
        memcpy(line->p + pl, t->p + 1, t->len - 1);
        line->len = (size_t)pl + t->len - 1;
        line->p[line->len] = '\0';
    }
    return rc;
}

/* The content key into the plan's operations, then the identity into hex: a
 * digest of the whole document but the operations and the content key, which
 * stands for them (the operations are hashed once). A gcscim-plan/2 plan's
 * identity is its stream's digest, and so is its content key. */
static int digest_end(ops_digest *p, char hex[65], gcs_plan_ops *o)
{
    int rc = identity_end(&p->stream, o->content);
    digest_free(p);
    if (rc < 0 || p->format_2) {
        if (rc == 0)
            memcpy(hex, o->content, 65);
        return rc;
    }
    identity_hash h;
    if ((rc = identity_begin(&h, p->doc, PLAN_FORMAT "\n", true)) < 0)
        return rc;
    identity_update(&h, "\n", 1);
    identity_update(&h, o->content, 64);
    return identity_end(&h, hex);
}

static int compute_identity(char hex[65], gcs_plan *plan)
{
    ops_digest h;
    int rc = digest_begin(&h, plan->doc);
    if (rc < 0)
        return rc;
    linebuf t = {0}, line = {0};
    for (size_t i = 0; rc == 0 && i < gcs_plan_size(plan); i++) {
        if ((rc = op_line(plan->ops, i, &t, &line)) == 0)
            identity_line(&h, line.p, line.len);
    }
    linebuf_free(&t);
    linebuf_free(&line);
    if (rc < 0) {
        digest_free(&h);
        return rc;
    }
    return digest_end(&h, hex, plan->ops);
}

static int compute_seal(char hex[65], const gcs_plan *plan, const char *client_id,
                        const char *secret)
{
    const char *identity = gcs_plan_identity(plan);
    if (!secret || !*secret)
        return gcs_error_set(GCS_EINVALID, "a plan is sealed with the OAuth client secret, and "
                                           "none is configured");
    if (!identity)
        return gcs_error_set(GCS_EINVALID, "the plan has no identity to seal");
    char *msg = NULL;
    if (asprintf(&msg, "gcscim-plan-seal/1\n%s\n%s", client_id ? client_id : "", identity) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg,
                   strlen(msg), md, &mdlen) != NULL && mdlen == 32;
    free(msg);
    if (!ok)
        return gcs_error_set(GCS_ERROR, "cannot compute the plan's seal");
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    OPENSSL_cleanse(md, sizeof md);
    return 0;
}

int gcs_plan_seal(gcs_plan *plan, const char *client_id, const char *secret)
{
    char hex[65];
    int rc = compute_seal(hex, plan, client_id, secret);
    if (rc == 0)
        json_object_set_new(plan->doc, "seal", json_string(hex));
    return rc;
}

int gcs_plan_check_seal(const gcs_plan *plan, const char *path, const char *client_id,
                        const char *secret)
{
    char hex[65];
    int rc = compute_seal(hex, plan, client_id, secret);
    if (rc < 0)
        return rc;
    const char *stated = json_string_value(json_object_get(plan->doc, "seal"));
    if (!stated || strlen(stated) != 64 || CRYPTO_memcmp(stated, hex, 64) != 0)
        return gcs_error_set(GCS_EINVALID,
                             "cannot use plan '%s': it was changed after gcscim made it, or made "
                             "with other credentials (its seal does not match this OAuth client); "
                             "make a new plan",
                             path);
    return 0;
}

/* Rows rejected, not reasons: a row with two faults is one row, so that the
 * summary's counts add up to the rows read. */
static long rejected_rows(const gcs_plan *plan)
{
    json_t *n = json_object_get(plan->doc, "rejected_rows");
    if (json_is_integer(n))
        return (long)json_integer_value(n);
    return (long)json_array_size(json_object_get(plan->doc, "rejected"));
}

/* A document holding its operations as an array (a plan loaded whole and
 * edited, or gcs_plan_operations changed): they become the plan's operations. */
static int take_operations(gcs_plan *plan)
{
    json_t *ops = json_incref(json_object_get(plan->doc, "operations"));
    if (!ops)
        return plan->ops ? 0 : ops_new(&plan->ops);
    json_object_del(plan->doc, "operations");
    ops_free(plan->ops);
    plan->ops = NULL;
    int rc = ops_new(&plan->ops);
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        if (rc == 0 && !json_is_object(op))
            rc = gcs_error_set(GCS_EINVALID, "operation %zu is not an object", i + 1);
        if (rc == 0)
            rc = ops_add_json(plan->ops, op);
    }
    json_decref(ops);
    return rc;
}

int gcs_plan_finish(gcs_plan *plan)
{
    int rc = take_operations(plan);
    if (rc < 0)
        return rc;
    gcs_plan_ops *o = plan->ops;
    if (o->failed)
        return gcs_error_set(GCS_ENOMEM, "an operation of the plan could not be kept");
    /* A plan read from a file has no keys in memory: sorting needs them. */
    for (size_t i = 0; i < o->count; i++) {
        if (o->refs[i].key)
            continue;
        json_t *op = gcs_plan_op_at(plan, i);
        const char *key = json_string_value(json_object_get(op, "key"));
        o->refs[i].key = strdup(key ? key : "");
        json_decref(op);
        if (!o->refs[i].key)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (o->count > 1)
        qsort(o->refs, o->count, sizeof *o->refs, compare_refs);

    /* Every set below must hold: a plan without its summary or identity is not
     * a plan. Failures are collected, then reported once. */
    bool failed = false;
    json_t *summary = json_object();
    failed |= !summary;
    for (int k = 0; k < GCS_PLAN__KINDS; k++)
        failed |= json_object_set_new(summary, kind_names[k],
                                      json_integer(gcs_plan_count(plan, (gcs_plan_kind)k))) < 0;
    failed |= json_object_set_new(summary, "unchanged",
                                  json_integer(json_integer_value(json_object_get(plan->doc, "unchanged")))) < 0;
    failed |= json_object_set_new(summary, "skipped",
                                  json_integer((json_int_t)json_array_size(
                                      json_object_get(plan->doc, "skipped")))) < 0;
    failed |= json_object_set_new(summary, "rejected", json_integer(rejected_rows(plan))) < 0;
    failed |= json_object_set_new(plan->doc, "summary", summary) < 0;
    if (failed)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    rc = gcs_group_plan_finish(plan); /* groups: plan/group_plan.c */
    if (rc < 0)
        return rc;

    char hex[65];
    rc = compute_identity(hex, plan);
    if (rc == 0 && json_object_set_new(plan->doc, "identity", json_string(hex)) < 0)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    return rc;
}

const char *gcs_plan_identity(const gcs_plan *plan)
{
    return json_string_value(json_object_get(plan->doc, "identity"));
}

const char *gcs_plan_content_key(const gcs_plan *plan)
{
    return plan->ops && plan->ops->content[0] ? plan->ops->content : NULL;
}

int gcs_plan_check_current(const gcs_plan *plan, const char *name)
{
    if (!format_2(plan->doc))
        return 0;
    return gcs_error_set(GCS_EINVALID,
                         "cannot apply %s%s%s: it was made by an earlier gcscim (%s, without "
                         "a nonce), so it cannot be told from an earlier plan of the same "
                         "changes; make a new plan",
                         name ? "plan '" : "the plan", name ? name : "", name ? "'" : "",
                         PLAN_FORMAT_2);
}

/* ==== The file ==== */

/*
 * The file is one JSON document laid out to be read a line at a time: its
 * first line holds every member but the operations and ends by opening their
 * array; then one operation per line, each but the last followed by a comma;
 * then the line "]}". Any JSON reader reads it whole; gcscim reads it line by
 * line, hashing as it goes, and keeps no more than one operation in memory.
 */
#define OPS_OPEN ", \"operations\": ["
#define OPS_CLOSE "]}"

/* The first line's text: "{...}" of every member but the operations, without
 * its closing brace; then OPS_OPEN and a newline follow. */
static int header_text(char **out, size_t *len, const gcs_plan *plan)
{
    json_t *head = json_object();
    GCS_CHECK_ALLOC(head);
    const char *k;
    json_t *v;
    bool failed = false;
    json_object_foreach(plan->doc, k, v) {
        if (strcmp(k, "operations") != 0)
            failed |= json_object_set(head, k, v) < 0;
    }
    char *text = failed ? NULL : json_dumps(head, JSON_INDENT(0) | JSON_PRESERVE_ORDER);
    json_decref(head);
    GCS_CHECK_ALLOC(text);
    *len = strlen(text);
    if (*len < 2) {
        free(text);
        return gcs_error_set(GCS_EIO, "the plan's header is damaged");
    }
    *len -= 1;
    *out = text;
    return 0;
}

static int write_header(FILE *f, const gcs_plan *plan)
{
    char *text;
    size_t len;
    int rc = header_text(&text, &len, plan);
    if (rc < 0)
        return rc;
    bool ok = fwrite(text, 1, len, f) == len && fputs(OPS_OPEN "\n", f) >= 0;
    free(text);
    return ok ? 0 : gcs_error_set(GCS_EIO, "%s", strerror(errno));
}

static int write_operations(FILE *f, const gcs_plan *plan)
{
    linebuf t = {0}, line = {0};
    int rc = 0;
    size_t n = gcs_plan_size(plan);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = op_line(plan->ops, i, &t, &line)) < 0)
            break;
        if (fwrite(line.p, 1, line.len, f) != line.len || fputs(i + 1 < n ? ",\n" : "\n", f) < 0)
            rc = gcs_error_set(GCS_EIO, "%s", strerror(errno));
    }
    if (rc == 0 && fputs(OPS_CLOSE "\n", f) < 0)
        rc = gcs_error_set(GCS_EIO, "%s", strerror(errno));
    linebuf_free(&t);
    linebuf_free(&line);
    return rc;
}

static int write_plan(FILE *f, void *payload)
{
    const gcs_plan *plan = payload;
    int rc = write_header(f, plan);
    return rc < 0 ? rc : write_operations(f, plan);
}

/* A plan file is whole or absent, never half written, and a writer killed on
 * the way leaves nothing beside it (core/replace.h). */
int gcs_plan_write(const gcs_plan *plan, const char *path)
{
    return gcs_file_replace(path, 0600, "plan", write_plan, (void *)plan);
}

/* Reads one line (without its newline) of at most `max` bytes; 1 for a line,
 * 0 at the end of the input, GCS_EINVALID for a longer line, GCS_EIO when
 * the input fails, GCS_ENOMEM. */
static int read_line(gcs_plan_reader *r, linebuf *t, size_t max)
{
    t->len = 0;
    bool any = false;
    for (;;) {
        if (r->pos == r->fill) {
            size_t n = r->feed(r->chunk, sizeof r->chunk, r->payload);
            if (n == (size_t)-1)
                return GCS_EIO;
            r->pos = 0;
            r->fill = n;
            if (n == 0) {
                if (!any)
                    return 0;
                r->line++;
                return 1; /* the last line, without its newline */
            }
        }
        any = true;
        const char *start = r->chunk + r->pos;
        const char *nl = memchr(start, '\n', r->fill - r->pos);
        size_t take = nl ? (size_t)(nl - start) : r->fill - r->pos;
        if (t->len + take > max)
            return GCS_EINVALID;
        if (linebuf_reserve(t, t->len + take) < 0)
            return GCS_ENOMEM;
        memcpy(t->p + t->len, start, take);
        t->len += take;
        t->p[t->len] = '\0';
        r->pos += take + (nl ? 1 : 0);
        if (nl) {
            r->line++;
            /* A plan that passed through a Windows editor or a text-mode transfer ends its
             * lines in CR LF; gcscim never writes a raw CR, and the seal is over the text. */
            if (t->len > 0 && t->p[t->len - 1] == '\r')
                t->p[--t->len] = '\0';
            return 1;
        }
    }
}

void gcs_plan_reader_init(gcs_plan_reader *r, const char *name, gcs_plan_feed_fn feed,
                          void *payload)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->feed = feed;
    r->payload = payload;
}

static bool shaped(const json_t *op, gcs_plan_kind *kind)
{
    return json_is_object(op) &&
           gcs_plan_kind_parse(json_string_value(json_object_get(op, "kind")), kind) == 0 &&
           json_string_value(json_object_get(op, "key")) &&
           (*kind == GCS_PLAN_CREATE || json_string_value(json_object_get(op, "id"))) &&
           (*kind != GCS_PLAN_CREATE || json_is_object(json_object_get(op, "body"))) &&
           (*kind == GCS_PLAN_CREATE || json_is_array(json_object_get(op, "operations")));
}

/* A string member's value span names a plan kind: the kind, or -1 (an escape
 * in it: the parser says). */
static int kind_of_text(const char *v, size_t len, gcs_plan_kind *kind)
{
    if (len < 2 || v[0] != '"' || memchr(v, '\\', len))
        return -1;
    char name[32];
    if (len - 2 >= sizeof name)
        return 0;
    memcpy(name, v + 1, len - 2);
    name[len - 2] = '\0';
    return gcs_plan_kind_parse(name, kind) == 0;
}

/* Whether an operation's `changes` text has an element whose "old" is there
 * and not null (weighs()' rule for a create), on text already checked. */
static bool changes_replace_text(const char *v)
{
    const char *p = v + 1; /* after [ */
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',')
            p++;
        if (*p == ']' || !*p)
            return false;
        const char *old;
        size_t len;
        if (*p == '{' && gcs_json_text_top_value(p, "old", &old, &len) == 1 &&
            !(len == 4 && memcmp(old, "null", 4) == 0))
            return true;
        if (!(p = gcs_json_text_value_end(p)))
            return true; /* cannot happen on checked text; weighing more is safe */
    }
}

/* shaped() and weighs() on an operation's text, once gcs_json_text_check has
 * found it a JSON document jansson would read: 1 shaped (*kind, *weight set),
 * 0 not, -1 when the parser must say. */
static int shaped_text(const char *text, gcs_plan_kind *kind, bool *weight)
{
    static const char *const members[] = {"kind", "key", "id", "body", "operations",
                                          "privileged", "changes"};
    enum { KIND, KEY, ID, BODY, OPERATIONS, PRIVILEGED, CHANGES, COUNT };
    const char *v[COUNT];
    size_t len[COUNT];
    if (gcs_json_text_top_values(text, members, COUNT, v, len) < 0)
        return -1;
    if (!v[KIND])
        return 0;
    int known = kind_of_text(v[KIND], len[KIND], kind);
    if (known <= 0)
        return known;
    bool create = *kind == GCS_PLAN_CREATE;
    if (!v[KEY] || v[KEY][0] != '"' || (!create && (!v[ID] || v[ID][0] != '"')) ||
        (create && (!v[BODY] || v[BODY][0] != '{')) ||
        (!create && (!v[OPERATIONS] || v[OPERATIONS][0] != '[')))
        return 0;
    *weight = true;
    if (create && !(v[PRIVILEGED] && v[PRIVILEGED][0] == '[' &&
                    v[PRIVILEGED][1 + strspn(v[PRIVILEGED] + 1, " \n\t\r")] != ']')) {
        if (!v[CHANGES])
            *weight = false;
        else if (v[CHANGES][0] == '[')
            *weight = changes_replace_text(v[CHANGES]);
    }
    return 1;
}

int gcs_plan_read_stream(gcs_plan *plan, gcs_plan_reader *r)
{
    plan->doc = NULL;
    plan->ops = NULL;
    const char *path = r->name ? r->name : "";
    linebuf line = {0};
    ops_digest h = {0};
    int rc = 0, got;
    size_t ol = strlen(OPS_OPEN);

    /* The first line: the plan without its operations, which it opens. */
    got = read_line(r, &line, GCS_PLAN_MAX_LINE_BYTES);
    if (got == GCS_EIO) {
        rc = gcs_error_set(GCS_EIO, "cannot read plan '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (got != 1 || line.len < ol + 1 || memcmp(line.p + line.len - ol, OPS_OPEN, ol) != 0 ||
        line.p[0] != '{') {
        rc = gcs_error_set(GCS_EINVALID,
                           "cannot read plan '%s': not a %s file (a plan made by another version "
                           "of gcscim, or reformatted: make a new plan)",
                           path, PLAN_FORMAT);
        goto fail;
    }
    /* "{...", OPS_OPEN: the members, closed in place of the operations. */
    line.len -= ol;
    line.p[line.len++] = '}';
    line.p[line.len] = '\0';
    json_error_t err;
    plan->doc = json_loadb(line.p, line.len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(plan->doc)) {
        rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': line 1: %s", path,
                           plan->doc ? "not an object" : err.text);
        goto fail;
    }
    const char *format = json_string_value(json_object_get(plan->doc, "format"));
    if (!format || (strcmp(format, PLAN_FORMAT) != 0 && strcmp(format, PLAN_FORMAT_2) != 0) ||
        json_object_get(plan->doc, "operations")) {
        rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': not a %s file", path, PLAN_FORMAT);
        goto fail;
    }
    if (!json_string_value(json_object_get(json_object_get(plan->doc, "target"), "api_url"))) {
        rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': it names no target API", path);
        goto fail;
    }
    if ((rc = ops_new(&plan->ops)) < 0 || (rc = digest_begin(&h, plan->doc)) < 0)
        goto fail;

    /* One operation per line, each but the last followed by a comma. */
    bool closed = false, last = false;
    while (!closed) {
        got = read_line(r, &line, GCS_PLAN_MAX_LINE_BYTES);
        if (got == GCS_EIO) {
            rc = gcs_error_set(GCS_EIO, "cannot read plan '%s': %s", path, strerror(errno));
            goto fail;
        }
        if (got == GCS_EINVALID || got == GCS_ENOMEM) {
            rc = gcs_error_set(got, "cannot read plan '%s': line %ld is longer than %lld bytes",
                               path, r->line + 1, (long long)GCS_PLAN_MAX_LINE_BYTES);
            goto fail;
        }
        if (got == 0) {
            rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': it ends before its "
                                             "operations do (cut short?)", path);
            goto fail;
        }
        if (line.len == strlen(OPS_CLOSE) && memcmp(line.p, OPS_CLOSE, line.len) == 0) {
            closed = true;
            break;
        }
        size_t i = plan->ops->count;
        if (last) {
            rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': line %ld: no comma after "
                                             "the operation before it", path, r->line);
            goto fail;
        }
        bool comma = line.len > 0 && line.p[line.len - 1] == ',';
        if (comma)
            line.p[--line.len] = '\0';
        last = !comma;
        /* Each line begins with its position: `{"seq": N, `. */
        char prefix[48];
        int pl = snprintf(prefix, sizeof prefix, "{\"seq\": %zu, ", i + 1);
        gcs_plan_kind kind = GCS_PLAN__KINDS;
        bool weight = false;
        /* Checked from its text; built by jansson only when the text check
         * cannot decide, or to say what is wrong with it. */
        int verdict = gcs_json_text_check(line.p, line.len) == 1
                          ? shaped_text(line.p, &kind, &weight)
                          : -1;
        const char *why = ""; /* jansson's word on text it could not read */
        if (verdict < 0) {
            json_t *op = json_loadb(line.p, line.len, JSON_REJECT_DUPLICATES, &err);
            verdict = op && shaped(op, &kind);
            weight = verdict && weighs(op, (int)kind);
            if (!op)
                why = err.text;
            json_decref(op);
        }
        bool ok = verdict == 1 && line.len > (size_t)pl && memcmp(line.p, prefix, (size_t)pl) == 0;
        if (!ok) {
            rc = gcs_error_set(GCS_EINVALID,
                               "cannot read plan '%s': line %ld: operation %zu is malformed%s%s",
                               path, r->line, i + 1, *why ? ": " : "", why);
            goto fail;
        }
        identity_line(&h, line.p, line.len);
        /* Kept without its position: "{" and what follows the prefix. */
        line.p[pl - 1] = '{';
        if ((rc = ops_append(plan->ops, line.p + pl - 1, line.len - (size_t)pl + 1, (int)kind,
                             weight, NULL)) < 0)
            goto fail;
    }
    /* Nothing but blank space after the document's end. */
    while ((got = read_line(r, &line, GCS_PLAN_MAX_LINE_BYTES)) == 1) {
        for (size_t i = 0; i < line.len; i++) {
            if (line.p[i] != ' ' && line.p[i] != '\t' && line.p[i] != '\r') {
                rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': line %ld: text after "
                                                 "the plan's end", path, r->line);
                goto fail;
            }
        }
    }
    if (got == GCS_EINVALID || got == GCS_ENOMEM) {
        rc = gcs_error_set(got, "cannot read plan '%s': line %ld: text after the plan's end "
                                "(a line longer than %lld bytes)",
                           path, r->line + 1, (long long)GCS_PLAN_MAX_LINE_BYTES);
        goto fail;
    }
    if (got < 0) {
        rc = gcs_error_set(GCS_EIO, "cannot read plan '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* A plan is sealed: its identity must still match what it says it will do. */
    char hex[65];
    rc = digest_end(&h, hex, plan->ops);
    if (rc < 0)
        goto fail;
    const char *stated = json_string_value(json_object_get(plan->doc, "identity"));
    if (!stated || strcmp(stated, hex) != 0) {
        rc = gcs_error_set(GCS_EINVALID,
                           "cannot use plan '%s': it was changed after gcscim made it (its "
                           "identity does not match its content); make a new plan",
                           path);
        goto fail;
    }
    linebuf_free(&line);
    return 0;
fail:
    digest_free(&h);
    linebuf_free(&line);
    gcs_plan_release(plan);
    return rc;
}

static size_t feed_fd(char *buf, size_t size, void *payload)
{
    int fd = *(int *)payload;
    for (;;) {
        ssize_t n = read(fd, buf, size);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? (size_t)-1 : (size_t)n;
    }
}

int gcs_plan_read(gcs_plan *plan, const char *path)
{
    struct stat st;
    plan->doc = NULL;
    plan->ops = NULL;
    /* O_NONBLOCK: a FIFO nobody writes to is refused below instead of
     * blocking the open; a regular file reads the same either way. */
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return gcs_error_set(GCS_EIO, "cannot read plan '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > GCS_PLAN_MAX_BYTES) {
        close(fd);
        return gcs_error_set(GCS_EINVALID,
                             "cannot read plan '%s': not a regular file of at most %lld MiB", path,
                             (long long)(GCS_PLAN_MAX_BYTES >> 20));
    }
    gcs_plan_reader r;
    gcs_plan_reader_init(&r, path, feed_fd, &fd);
    int rc = gcs_plan_read_stream(plan, &r);
    close(fd);
    return rc;
}


int gcs_plan_parse(gcs_plan *plan, const char *text, size_t len, const char *name)
{
    plan->doc = NULL;
    plan->ops = NULL;
    if ((long long)len > GCS_PLAN_MAX_BYTES)
        return gcs_error_set(GCS_EINVALID, "cannot read plan '%s': over %lld MiB", name,
                             (long long)(GCS_PLAN_MAX_BYTES >> 20));
    gcs_memory_feed m = {text, len, 0};
    gcs_plan_reader r;
    gcs_plan_reader_init(&r, name, gcs_memory_feed_fill, &m);
    return gcs_plan_read_stream(plan, &r);
}

size_t gcs_plan_operations_bytes(const gcs_plan *plan)
{
    size_t n = 0;
    for (size_t i = 0; i < gcs_plan_size(plan); i++)
        n += plan->ops->refs[i].len + 32; /* its position in front, the comma and newline */
    return n;
}

/* The whole plan as one text, in a buffer sized once (a run keeps its plan:
 * a stream's doubling and zeroing cost a large plan more than its copy). */
int gcs_plan_dump(char **out, const gcs_plan *plan)
{
    *out = NULL;
    char *head;
    size_t head_len;
    int rc = header_text(&head, &head_len, plan);
    if (rc < 0)
        return gcs_error_prefix(rc, "cannot write the plan out");
    linebuf all = {0}, t = {0}, line = {0};
    size_t n = gcs_plan_size(plan);
    rc = linebuf_reserve(&all, head_len + sizeof OPS_OPEN + gcs_plan_operations_bytes(plan) +
                                   sizeof OPS_CLOSE + 2);
    if (rc == 0) {
        memcpy(all.p, head, head_len);
        memcpy(all.p + head_len, OPS_OPEN "\n", sizeof OPS_OPEN);
        all.len = head_len + sizeof OPS_OPEN;
    }
    free(head);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = op_line(plan->ops, i, &t, &line)) < 0 ||
            (rc = linebuf_reserve(&all, all.len + line.len + 2)) < 0)
            break;
        memcpy(all.p + all.len, line.p, line.len);
        all.len += line.len;
        memcpy(all.p + all.len, i + 1 < n ? ",\n" : "\n", i + 1 < n ? 2 : 1);
        all.len += i + 1 < n ? 2 : 1;
    }
    if (rc == 0 && (rc = linebuf_reserve(&all, all.len + sizeof OPS_CLOSE)) == 0) {
        memcpy(all.p + all.len, OPS_CLOSE "\n", sizeof OPS_CLOSE);
        all.len += sizeof OPS_CLOSE;
        all.p[all.len] = '\0';
    }
    linebuf_free(&t);
    linebuf_free(&line);
    if (rc < 0) {
        linebuf_free(&all);
        return gcs_error_prefix(rc, "cannot write the plan out");
    }
    *out = all.p;
    return 0;
}

/* The plan's text in pieces: the header, then one operation's line at a
 * time, then the close; only the piece being handed out is in memory. */
struct gcs_plan_text {
    const gcs_plan *plan;
    int stage;        /* 0 the header next, 1 operations, 2 the close, 3 the end */
    size_t next;      /* the next operation */
    linebuf piece, t; /* the piece being handed out; an operation's text */
    size_t pos;
    bool failed;
};

int gcs_plan_text_open(gcs_plan_text **out, const gcs_plan *plan)
{
    gcs_plan_text *t = calloc(1, sizeof *t);
    GCS_CHECK_ALLOC(t);
    t->plan = plan;
    *out = t;
    return 0;
}

void gcs_plan_text_close(gcs_plan_text *t)
{
    if (!t)
        return;
    linebuf_free(&t->piece);
    linebuf_free(&t->t);
    free(t);
}

/* The next piece of text into t->piece: 1, 0 at the end, or the error. */
static int text_next_piece(gcs_plan_text *t)
{
    int rc;
    size_t n = gcs_plan_size(t->plan);
    t->pos = 0;
    t->piece.len = 0;
    if (t->stage == 0) {
        char *head;
        size_t head_len;
        if ((rc = header_text(&head, &head_len, t->plan)) < 0)
            return rc;
        rc = linebuf_reserve(&t->piece, head_len + sizeof OPS_OPEN);
        if (rc == 0) {
            memcpy(t->piece.p, head, head_len);
            memcpy(t->piece.p + head_len, OPS_OPEN "\n", sizeof OPS_OPEN);
            t->piece.len = head_len + sizeof OPS_OPEN;
        }
        free(head);
        t->stage = n ? 1 : 2;
        return rc < 0 ? rc : 1;
    }
    if (t->stage == 1) {
        size_t i = t->next++;
        if ((rc = op_line(t->plan->ops, i, &t->t, &t->piece)) < 0 ||
            (rc = linebuf_reserve(&t->piece, t->piece.len + 2)) < 0)
            return rc;
        memcpy(t->piece.p + t->piece.len, i + 1 < n ? ",\n" : "\n", i + 1 < n ? 2 : 1);
        t->piece.len += i + 1 < n ? 2 : 1;
        if (t->next == n)
            t->stage = 2;
        return 1;
    }
    if (t->stage == 2) {
        if ((rc = linebuf_reserve(&t->piece, sizeof OPS_CLOSE)) < 0)
            return rc;
        memcpy(t->piece.p, OPS_CLOSE "\n", sizeof OPS_CLOSE);
        t->piece.len = sizeof OPS_CLOSE;
        t->stage = 3;
        return 1;
    }
    return 0;
}

size_t gcs_plan_text_feed(char *buf, size_t size, void *payload)
{
    gcs_plan_text *t = payload;
    size_t done = 0;
    while (done < size && !t->failed) {
        if (t->pos == t->piece.len) {
            int rc = text_next_piece(t);
            if (rc < 0) {
                t->failed = true;
                errno = rc == GCS_ENOMEM ? ENOMEM : EIO;
                return (size_t)-1;
            }
            if (rc == 0)
                break;
        }
        size_t take = t->piece.len - t->pos < size - done ? t->piece.len - t->pos : size - done;
        memcpy(buf + done, t->piece.p + t->pos, take);
        t->pos += take;
        done += take;
    }
    return t->failed ? (size_t)-1 : done;
}

/* ==== Rendering ==== */

/* The code point of a bidirectional control at p (UTF-8), or 0. */
static unsigned bidi_control_at(const unsigned char *p)
{
    if (p[0] == 0xD8 && p[1] == 0x9C)
        return 0x061C;
    if (p[0] != 0xE2 || (p[1] != 0x80 && p[1] != 0x81) || !p[2])
        return 0;
    unsigned cp = 0x2000u | ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3Fu);
    bool bidi = cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
                (cp >= 0x2066 && cp <= 0x2069);
    return bidi ? cp : 0;
}

void gcs_plan_put_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned bidi = bidi_control_at(p);
        if (*p < 0x20 || *p == 0x7F) {
            fprintf(out, "\\x%02X", *p++);
        } else if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) { /* C1 controls */
            fprintf(out, "\\x%02X", p[1]);
            p += 2;
        } else if (bidi) {
            fprintf(out, "\\u%04X", bidi);
            p += bidi == 0x061C ? 2 : 3;
        } else {
            fputc(*p++, out);
        }
    }
}

/* A string member for display: never NULL, whatever an edited plan holds. */
static const char *text_of(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "?";
}

static const char *short_attribute(const char *a)
{
    /* "urn:…:enterprise:2.0:User:department" reads better as "department". */
    const char *last = strrchr(a, ':');
    return strncmp(a, "urn:", 4) == 0 && last ? last + 1 : a;
}

/* A JSON string's value from its text: the text less its quotes when it holds no
 * escape, else decoded by jansson. A new string, or NULL when the text is not a
 * string (or memory ran out). */
static char *string_of_text(const char *p, size_t len)
{
    if (len < 2 || p[0] != '"')
        return NULL;
    if (!memchr(p, '\\', len))
        return strndup(p + 1, len - 2);
    json_t *v = json_loadb(p, len, JSON_DECODE_ANY, NULL);
    char *s = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
    json_decref(v);
    return s;
}

/* ==== An operation's lines, written into a buffer ==== */

/* The byte at p[k] of a string of n bytes, 0 past its end (where
 * gcs_plan_put_text, given a C string, would read its NUL). */
static unsigned char byte_at(const unsigned char *p, size_t n, size_t k)
{
    return k < n ? p[k] : 0;
}

/* Whether any of 8 bytes is a control character, DEL or not ASCII: what
 * gcs_plan_put_text looks at (never false when one is; sometimes true after
 * a control character, which is looked at anyway). */
static inline bool unprintable_in(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t del = w ^ (ones * 0x7F);
    return (((w - ones * 0x20) & ~w) | ((del - ones) & ~del) | w) & highs;
}

/* gcs_plan_put_text of s[0, n), into b: runs of printable ASCII in one go. */
static int put_text_into(gcs_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        /* printable ASCII by eights: most of every value shown */
        for (uint64_t w; n - i >= 8; i += 8) {
            memcpy(&w, p + i, 8);
            if (unprintable_in(w))
                break;
        }
        if (i >= n)
            break;
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7F) {
            i++;
            continue;
        }
        char esc[8];
        size_t len = 0, skip = 1;
        unsigned char c1 = byte_at(p, n, i + 1), c2 = byte_at(p, n, i + 2);
        unsigned bidi = 0;
        if (c == 0xD8 && c1 == 0x9C)
            bidi = 0x061C;
        else if (c == 0xE2 && (c1 == 0x80 || c1 == 0x81) && c2) {
            unsigned cp = 0x2000u | ((unsigned)(c1 & 0x3F) << 6) | (c2 & 0x3Fu);
            if (cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
                (cp >= 0x2066 && cp <= 0x2069))
                bidi = cp;
        }
        if (c < 0x20 || c == 0x7F) {
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
            len = 4;
        } else if (c == 0xC2 && c1 >= 0x80 && c1 <= 0x9F) { /* C1 controls */
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c1 >> 4], esc[3] = hex[c1 & 15];
            len = 4;
            skip = 2;
        } else if (bidi) {
            esc[0] = '\\', esc[1] = 'u';
            for (int d = 0; d < 4; d++)
                esc[2 + d] = hex[(bidi >> (12 - 4 * d)) & 15];
            len = 6;
            skip = bidi == 0x061C ? 2 : 3;
        } else {
            i++;
            continue;
        }
        rc = gcs_buf_put(b, s + run, i - run);
        if (rc == 0)
            rc = gcs_buf_put(b, esc, len);
        i += skip;
        run = i;
    }
    if (rc == 0 && run < n)
        rc = gcs_buf_put(b, s + run, n - run);
    return rc;
}

/* A string member's text as gcs_plan_put_text shows its value, "?" when it is
 * not a string (the plain text between its quotes, else decoded). */
static int put_string_text(gcs_buf *b, const char *p, size_t len)
{
    if (p && len >= 2 && p[0] == '"' && !memchr(p, '\\', len))
        return put_text_into(b, p + 1, len - 2);
    char *s = p ? string_of_text(p, len) : NULL;
    int rc = put_text_into(b, s ? s : "?", s ? strlen(s) : 1);
    free(s);
    return rc;
}

/* print_value of a value given as JSON text (absent: p NULL): a string shown
 * quoted, anything else as JSON_COMPACT writes it. */
static int put_value_text(gcs_buf *b, linebuf *scratch, const char *p, size_t len)
{
    if (!p || (len == 4 && memcmp(p, "null", 4) == 0))
        return gcs_buf_puts(b, "(none)");
    if (p[0] == '"') {
        int rc = gcs_buf_putc(b, '"');
        if (rc == 0)
            rc = put_string_text(b, p, len);
        return rc == 0 ? gcs_buf_putc(b, '"') : rc;
    }
    if (compact_into(scratch, p, len) < 0)
        return GCS_ENOMEM;
    return gcs_buf_put(b, scratch->p, scratch->len);
}

enum { LABEL_TEXT_MAX = 512 };

/*
 * A change as gcscim writes it, {"attribute": "LABEL", "old": OLD, "new": NEW}
 * with a label without escapes (shorter than LABEL_TEXT_MAX): its parts'
 * texts, the label in `label`, and one past its end; NULL for any other text
 * (read as an object then, member by member: the same parts).
 */
static const char *change_as_written(const char *p, const char *part[3], size_t part_len[3],
                                      char label[LABEL_TEXT_MAX])
{
    static const char head[] = "{\"attribute\": \"", old[] = "\", \"old\": ",
                      new_[] = ", \"new\": ";
    if (strncmp(p, head, sizeof head - 1) != 0)
        return NULL;
    const char *a = p + sizeof head - 1;
    size_t n = strcspn(a, "\"\\");
    if (a[n] != '"' || n >= LABEL_TEXT_MAX || strncmp(a + n, old, sizeof old - 1) != 0)
        return NULL;
    const char *o = a + n + sizeof old - 1, *o_end = gcs_json_text_value_end(o);
    if (!o_end || o_end == o || strncmp(o_end, new_, sizeof new_ - 1) != 0)
        return NULL;
    const char *v = o_end + sizeof new_ - 1, *v_end = gcs_json_text_value_end(v);
    if (!v_end || v_end == v || *v_end != '}')
        return NULL;
    memcpy(label, a, n);
    label[n] = '\0';
    part[0] = a - 1;
    part_len[0] = n + 2;
    part[1] = o;
    part_len[1] = (size_t)(o_end - o);
    part[2] = v;
    part_len[2] = (size_t)(v_end - v);
    return v_end + 1;
}

/*
 * One operation's lines, from the texts of the members shown (p NULL:
 * absent): key, userName, id, version, privileged, changes, as the kept line
 * holds them (", " and ": " between members: values shown compact, as
 * JSON_COMPACT writes them) or as jansson's compact dump. What is not of the
 * expected type shows as it always did: a key or attribute as "?", a userName,
 * id or privileged list not at all.
 */
static int render_op(gcs_buf *b, linebuf *scratch, int k, const char *const *at,
                     const size_t *len, const char *c, const char *reset, const char *sigil,
                     const char *kind)
{
    int rc = 0;
#define PUT(call)                                                                                  \
    do {                                                                                           \
        if (rc == 0)                                                                               \
            rc = (call);                                                                           \
    } while (0)
    PUT(gcs_buf_puts(b, c));
    PUT(gcs_buf_puts(b, sigil));
    PUT(gcs_buf_putc(b, ' '));
    PUT(gcs_buf_puts(b, kind));
    PUT(gcs_buf_putc(b, ' '));
    PUT(put_string_text(b, at[0], len[0]));
    PUT(gcs_buf_puts(b, reset));
    bool is_string[4];
    for (int m = 0; m < 4; m++)
        is_string[m] = at[m] && len[m] >= 2 && at[m][0] == '"';
    if (is_string[1]) {
        /* shown when it reads as a string at all */
        bool plain = !memchr(at[1], '\\', len[1]);
        char *user_name = plain ? NULL : string_of_text(at[1], len[1]);
        if (plain || user_name) {
            PUT(gcs_buf_puts(b, " ("));
            PUT(plain ? put_text_into(b, at[1] + 1, len[1] - 2)
                      : put_text_into(b, user_name, strlen(user_name)));
            PUT(gcs_buf_putc(b, ')'));
        }
        free(user_name);
    }
    if (is_string[2]) {
        /* id and version as they are: ids and ETags Genesys made */
        char *id = string_of_text(at[2], len[2]);
        char *version = is_string[3] ? string_of_text(at[3], len[3]) : NULL;
        if (id)
            PUT(gcs_buf_printf(b, " id=%s version=%s", id, version ? version : "?"));
        free(id);
        free(version);
    }
    if (k == GCS_PLAN_ADOPT)
        PUT(gcs_buf_puts(b, " [exists, not managed by gcscim]"));
    if (at[4] && at[4][0] == '[') {
        PUT(compact_into(scratch, at[4], len[4]) < 0 ? GCS_ENOMEM : 0);
        if (rc == 0 && strcmp(scratch->p, "[]") != 0) {
            PUT(gcs_buf_puts(b, " [holds privileged roles "));
            PUT(gcs_buf_put(b, scratch->p, scratch->len));
            PUT(gcs_buf_putc(b, ']'));
        }
    }
    PUT(gcs_buf_putc(b, '\n'));
    /* The changes: an array of {attribute, old, new}, walked in its text. */
    const char *p = at[5] && at[5][0] == '[' ? at[5] + 1 : "]";
    while (rc == 0 && *p && *p != ']') {
        static const char *const parts[] = {"attribute", "old", "new"};
        const char *part[3] = {NULL, NULL, NULL};
        size_t part_len[3] = {0, 0, 0};
        char label[LABEL_TEXT_MAX];
        const char *end = change_as_written(p, part, part_len, label);
        char *attribute = NULL;
        const char *name = label;
        if (!end) {
            if (!(end = gcs_json_text_value_end(p)) || end == p)
                break; /* not JSON: the line was checked when kept, so never */
            if (*p == '{')
                gcs_json_text_top_values(p, parts, 3, part, part_len);
            attribute = part[0] ? string_of_text(part[0], part_len[0]) : NULL;
            name = attribute ? attribute : "?";
        }
        const char *shown = short_attribute(name);
        size_t shown_len = strlen(shown);
        PUT(gcs_buf_puts(b, "    "));
        PUT(gcs_buf_puts(b, shown));
        /* "%-22s " */
        PUT(gcs_buf_put(b, "                       ", shown_len < 22 ? 23 - shown_len : 1));
        free(attribute);
        PUT(put_value_text(b, scratch, part[1], part_len[1]));
        PUT(gcs_buf_puts(b, " -> "));
        PUT(put_value_text(b, scratch, part[2], part_len[2]));
        PUT(gcs_buf_putc(b, '\n'));
        p = *end == ',' ? end + 1 : end;
        while (*p == ' ')
            p++; /* the kept line's ", " (what compacting would drop) */
    }
#undef PUT
    return rc;
}

/* The buffer's text written out, once it is large or at the end. */
static void flush_rendered(gcs_buf *b, FILE *out, size_t at_least)
{
    if (b->len >= at_least && b->len) {
        fwrite(b->ptr, 1, b->len, out);
        gcs_buf_clear(b);
    }
}

/* Operation i's lines into b: scanned in its kept text, or, when the scan
 * cannot read it (an escape in a member's name), from its parse. */
static int render_op_at(const gcs_plan *plan, size_t i, gcs_buf *b, linebuf *t, linebuf *scratch,
                        bool color)
{
    static const char *const sigil[GCS_PLAN__KINDS] = {"+", "~", "~", "-", "="};
    static const char *const colors[GCS_PLAN__KINDS] = {"\033[32m", "\033[36m", "\033[33m",
                                                        "\033[31m", "\033[35m"};
    /* What is shown, scanned without the rest (a create's body, an update's
     * operations and desired state): a load of new users is mostly bodies. */
    static const char *const shown[] = {"key", "userName", "id", "version", "privileged",
                                        "changes"};
    enum { SHOWN = sizeof shown / sizeof *shown };
    int k = (int)gcs_plan_kind_at(plan, i);
    if (k >= GCS_PLAN__KINDS)
        return 0;
    const char *c = color ? colors[k] : "", *reset = color ? "\033[0m" : "";
    const char *at[SHOWN];
    size_t len[SHOWN];
    bool scanned;
    if (scan_members(plan, i, shown, SHOWN, t, at, len, &scanned) < 0)
        return 0; /* as before: an operation that cannot be read is not shown */
    if (scanned)
        return render_op(b, scratch, k, at, len, c, reset, sigil[k], kind_names[k]);
    char *texts[SHOWN];
    if (gcs_plan_member_texts_at(plan, i, shown, SHOWN, texts) < 0)
        return 0;
    for (size_t m = 0; m < SHOWN; m++) {
        at[m] = texts[m];
        len[m] = texts[m] ? strlen(texts[m]) : 0;
    }
    int rc = render_op(b, scratch, k, at, len, c, reset, sigil[k], kind_names[k]);
    for (size_t m = 0; m < SHOWN; m++)
        free(texts[m]);
    return rc;
}

void gcs_plan_render_text(const gcs_plan *plan, FILE *out, bool color)
{
    const char *reset = color ? "\033[0m" : "";
    size_t i;
    json_t *op;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    linebuf t = {0}, scratch = {0};
    for (i = 0; i < gcs_plan_size(plan); i++) {
        size_t before = b.len;
        if (render_op_at(plan, i, &b, &t, &scratch, color) < 0) {
            /* out of memory: what fits is shown, the rest of the line as it can */
            b.len = before;
            b.ptr[before] = '\0';
            flush_rendered(&b, out, 0);
            continue;
        }
        flush_rendered(&b, out, 65536);
    }
    flush_rendered(&b, out, 0);
    gcs_buf_release(&b);
    linebuf_free(&t);
    linebuf_free(&scratch);
    json_t *rejected = json_object_get(plan->doc, "rejected");
    json_array_foreach(rejected, i, op) {
        fprintf(out, "%s! rejected ", color ? "\033[35m" : "");
        gcs_plan_put_text(out, text_of(op, "location"));
        fputs(reset, out);
        const char *field = json_string_value(json_object_get(op, "field"));
        if (field) {
            fputs(" field ", out);
            gcs_plan_put_text(out, field);
        }
        fputs(": ", out);
        gcs_plan_put_text(out, text_of(op, "reason"));
        fputc('\n', out);
    }
    json_t *skipped = json_object_get(plan->doc, "skipped");
    json_array_foreach(skipped, i, op) {
        const char *user = json_string_value(json_object_get(op, "userName"));
        fputs("  skipped ", out);
        gcs_plan_put_text(out, text_of(op, "key"));
        if (user) {
            fputs(" (", out);
            gcs_plan_put_text(out, user);
            fputc(')', out);
        }
        fputs(": ", out);
        gcs_plan_put_text(out, text_of(op, "reason"));
        fputc('\n', out);
    }
    gcs_group_plan_render_text(plan, out, color); /* groups: plan/group_plan.c */
    fprintf(out,
            "\nPlan: %ld to create, %ld to adopt, %ld to update, %ld to reactivate, "
            "%ld to deactivate, %ld unchanged, %zu skipped, %ld rejected.\n",
            gcs_plan_count(plan, GCS_PLAN_CREATE), gcs_plan_count(plan, GCS_PLAN_ADOPT),
            gcs_plan_count(plan, GCS_PLAN_UPDATE), gcs_plan_count(plan, GCS_PLAN_REACTIVATE),
            gcs_plan_count(plan, GCS_PLAN_DEACTIVATE),
            (long)json_integer_value(json_object_get(plan->doc, "unchanged")),
            json_array_size(skipped), rejected_rows(plan));
}

int gcs_plan_check_target(const gcs_plan *plan, const char *api_url, const char *name)
{
    const char *target =
        json_string_value(json_object_get(json_object_get(plan->doc, "target"), "api_url"));
    if (!target || !api_url || strcmp(target, api_url) != 0)
        return gcs_error_set(GCS_EINVALID, "plan '%s' was made for %s, but the configured API is %s",
                             name ? name : "", target ? target : "(unknown)",
                             api_url ? api_url : "(none)");
    return 0;
}
