#include "plan/plan.h"
#include "plan/group_plan.h"
#include "core/error.h"
#include "core/time.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAN_FORMAT "gcscim-plan/1"

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

int gcs_plan_begin(gcs_plan *plan, const char *api_url, const char *source_path,
                  const char *profile_path, const gcs_plan_options *options)
{
    char ts[40];
    gcs_time_format_iso8601(ts, sizeof ts, gcs_time_wall_ms());
    plan->doc = json_pack("{s:s,s:s,s:{s:s?},s:{s:s?},s:{s:s?},s:{s:b,s:b,s:b},s:[],s:[]}",
                          "format", PLAN_FORMAT, "created", ts, "target", "api_url", api_url,
                          "source", "path", source_path, "profile", "path", profile_path,
                          "options", "no_create", options->no_create, "no_update",
                          options->no_update, "no_deactivate", options->no_deactivate,
                          "operations", "rejected");
    if (!plan->doc)
        return gcs_error_set(GCS_ENOMEM, "cannot build plan");
    return 0;
}

void gcs_plan_release(gcs_plan *plan)
{
    json_decref(plan->doc);
    plan->doc = NULL;
}

json_t *gcs_plan_operations(const gcs_plan *plan)
{
    return json_object_get(plan->doc, "operations");
}

int gcs_plan_add(gcs_plan *plan, gcs_plan_kind kind, const char *key, const char *user_name,
                 const char *id, const char *version, json_t *body, json_t *changes,
                 json_t *extra)
{
    json_t *op = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?}", "kind", gcs_plan_kind_name(kind), "key",
                           key, "userName", user_name, "id", id, "version", version);
    if (!op) {
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
    json_array_append_new(gcs_plan_operations(plan), op);
    return 0;
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

static int kind_of(const json_t *op)
{
    gcs_plan_kind k;
    if (gcs_plan_kind_parse(json_string_value(json_object_get(op, "kind")), &k) < 0)
        return GCS_PLAN__KINDS;
    return (int)k;
}

static int compare_ops(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    /* creates, adoptions, reactivations, updates, deactivations; unknown kinds last */
    static const int rank[GCS_PLAN__KINDS + 1] = {0, 2, 3, 4, 1, 5};
    int kx = rank[kind_of(x)], ky = rank[kind_of(y)];
    if (kx != ky)
        return kx - ky;
    const char *sx = json_string_value(json_object_get(x, "key"));
    const char *sy = json_string_value(json_object_get(y, "key"));
    return strcmp(sx ? sx : "", sy ? sy : "");
}

long gcs_plan_count(const gcs_plan *plan, gcs_plan_kind kind)
{
    long n = 0;
    size_t i;
    json_t *op;
    json_array_foreach(gcs_plan_operations(plan), i, op) n += kind_of(op) == (int)kind;
    return n;
}

static void sha256_hex(char out[65], const char *data, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/*
 * Identity: what will be done, where, and the facts its approvals rest on (the
 * managed count that the share rules divide by, rejected rows, a source read to
 * its end). Not when, not by which file name. Any edit of these changes it.
 */
static int compute_identity(char hex[65], const gcs_plan *plan)
{
    static const char *const sealed[] = {"target",       "marker",          "managed_total",
                                         "rejected_rows", "source_clean",   "password_policy",
                                         "targeted",      "operations",     "groups"};
    json_t *ident = json_object();
    bool failed = !ident;
    for (size_t i = 0; ident && i < sizeof sealed / sizeof *sealed; i++) {
        json_t *v = json_object_get(plan->doc, sealed[i]);
        if (v && json_object_set(ident, sealed[i], v) < 0)
            failed = true; /* an identity over part of the plan would be wrong */
    }
    char *canon = failed ? NULL : json_dumps(ident, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(ident);
    GCS_CHECK_ALLOC(canon);
    sha256_hex(hex, canon, strlen(canon));
    free(canon);
    return 0;
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

int gcs_plan_finish(gcs_plan *plan)
{
    json_t *ops = gcs_plan_operations(plan);
    size_t n = json_array_size(ops);
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    GCS_CHECK_ALLOC(sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_incref(json_array_get(ops, i));
    qsort(sorted, n, sizeof *sorted, compare_ops);
    json_array_clear(ops);
    /* Every set below must hold: a plan without its seq numbers, summary or
     * identity is not a plan. Failures are collected, then reported once. */
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        failed |= json_object_set_new(sorted[i], "seq", json_integer((json_int_t)i + 1)) < 0;
        failed |= json_array_append_new(ops, sorted[i]) < 0;
    }
    free(sorted);

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
    int rc = gcs_group_plan_finish(plan); /* groups: plan/group_plan.c */
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

/* Written to a temporary file beside it, synced, then renamed over: a plan file
 * is whole or absent, never half written. */
int gcs_plan_write(const gcs_plan *plan, const char *path)
{
    size_t tmplen = strlen(path) + 16;
    char *tmp = malloc(tmplen);
    GCS_CHECK_ALLOC(tmp);
    snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path);
    int rc = 0;
    char *text = NULL;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = gcs_error_set(GCS_EIO, "cannot write plan '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0) {
        rc = gcs_error_set(GCS_EIO, "cannot write plan '%s': %s", path, strerror(errno));
        goto out;
    }
    text = json_dumps(plan->doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = gcs_error_set(GCS_ENOMEM, "cannot write plan '%s': out of memory", path);
        goto out;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = gcs_error_set(GCS_EIO, "cannot write plan '%s': %s", path, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = gcs_error_set(GCS_EIO, "cannot write plan '%s': %s", path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        rc = gcs_error_set(GCS_EIO, "cannot write plan '%s': %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(text);
    free(tmp);
    return rc;
}

/* What every plan read from outside must be: the format, well-formed
 * operations, a target, and an identity that still matches its content.
 * Releases the plan when it is not. `name` is for the messages. */
static int check_document(gcs_plan *plan, const char *path)
{
    const char *format = json_string_value(json_object_get(plan->doc, "format"));
    int rc = 0;
    if (!format || strcmp(format, PLAN_FORMAT) != 0) {
        rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': not a %s file", path, PLAN_FORMAT);
        goto fail;
    }
    json_t *ops = gcs_plan_operations(plan);
    if (!json_is_array(ops)) {
        rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': no operations", path);
        goto fail;
    }
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        gcs_plan_kind kind;
        if (gcs_plan_kind_parse(json_string_value(json_object_get(op, "kind")), &kind) < 0 ||
            !json_string_value(json_object_get(op, "key")) ||
            (kind != GCS_PLAN_CREATE && !json_string_value(json_object_get(op, "id"))) ||
            (kind == GCS_PLAN_CREATE && !json_is_object(json_object_get(op, "body"))) ||
            (kind != GCS_PLAN_CREATE && !json_is_array(json_object_get(op, "operations")))) {
            rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': operation %zu is malformed",
                               path, i + 1);
            goto fail;
        }
    }
    if (!json_string_value(json_object_get(json_object_get(plan->doc, "target"), "api_url"))) {
        rc = gcs_error_set(GCS_EINVALID, "cannot read plan '%s': it names no target API", path);
        goto fail;
    }
    /* A plan is sealed: its identity must still match what it says it will do. */
    const char *stated = json_string_value(json_object_get(plan->doc, "identity"));
    char hex[65];
    if ((rc = compute_identity(hex, plan)) < 0)
        goto fail;
    if (!stated || strcmp(stated, hex) != 0) {
        rc = gcs_error_set(GCS_EINVALID,
                           "cannot use plan '%s': it was changed after gcscim made it (its "
                           "identity does not match its operations); make a new plan",
                           path);
        goto fail;
    }
    return 0;
fail:
    gcs_plan_release(plan);
    return rc;
}

int gcs_plan_read(gcs_plan *plan, const char *path)
{
    json_error_t err;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    plan->doc = NULL;
    if (fd < 0)
        return gcs_error_set(GCS_EIO, "cannot read plan '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > GCS_PLAN_MAX_BYTES) {
        close(fd);
        return gcs_error_set(GCS_EINVALID,
                             "cannot read plan '%s': not a regular file of at most %ld MiB", path,
                             GCS_PLAN_MAX_BYTES >> 20);
    }
    plan->doc = json_loadfd(fd, JSON_REJECT_DUPLICATES, &err);
    close(fd);
    if (!plan->doc) {
        if (err.line < 0)
            return gcs_error_set(GCS_EIO, "cannot read plan '%s': %s", path, err.text);
        return gcs_error_set(GCS_EINVALID, "cannot read plan '%s': line %d: %s", path, err.line,
                             err.text);
    }
    return check_document(plan, path);
}

int gcs_plan_parse(gcs_plan *plan, const char *text, size_t len, const char *name)
{
    json_error_t err;
    plan->doc = NULL;
    if (len > (size_t)GCS_PLAN_MAX_BYTES)
        return gcs_error_set(GCS_EINVALID, "cannot read plan '%s': over %ld MiB", name,
                             GCS_PLAN_MAX_BYTES >> 20);
    plan->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!plan->doc)
        return gcs_error_set(GCS_EINVALID, "cannot read plan '%s': line %d: %s", name, err.line,
                             err.text);
    return check_document(plan, name);
}

int gcs_plan_dump(char **out, const gcs_plan *plan)
{
    *out = json_dumps(plan->doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!*out)
        return gcs_error_set(GCS_ENOMEM, "cannot write the plan out: out of memory");
    return 0;
}

/* ==== Rendering ==== */

static void print_value(FILE *out, const json_t *v)
{
    if (!v || json_is_null(v)) {
        fputs("(none)", out);
        return;
    }
    if (json_is_string(v)) {
        fprintf(out, "\"%s\"", json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(s ? s : "?", out);
    free(s);
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

void gcs_plan_render_text(const gcs_plan *plan, FILE *out, bool color)
{
    static const char *const sigil[GCS_PLAN__KINDS] = {"+", "~", "~", "-", "="};
    static const char *const colors[GCS_PLAN__KINDS] = {"\033[32m", "\033[36m", "\033[33m",
                                                        "\033[31m", "\033[35m"};
    const char *reset = color ? "\033[0m" : "";
    size_t i;
    json_t *op;
    json_array_foreach(gcs_plan_operations(plan), i, op) {
        int k = kind_of(op);
        if (k >= GCS_PLAN__KINDS)
            continue;
        const char *c = color ? colors[k] : "";
        const char *user = json_string_value(json_object_get(op, "userName"));
        fprintf(out, "%s%s %s %s%s", c, sigil[k], kind_names[k], text_of(op, "key"), reset);
        if (user)
            fprintf(out, " (%s)", user);
        const char *id = json_string_value(json_object_get(op, "id"));
        if (id)
            fprintf(out, " id=%s version=%s", id,
                    json_string_value(json_object_get(op, "version"))
                        ? json_string_value(json_object_get(op, "version"))
                        : "?");
        if (k == GCS_PLAN_ADOPT)
            fputs(" [exists, not managed by gcscim]", out);
        json_t *held = json_object_get(op, "privileged");
        if (json_array_size(held) > 0) {
            char *roles = json_dumps(held, JSON_COMPACT);
            fprintf(out, " [holds privileged roles %s]", roles ? roles : "?");
            free(roles);
        }
        fputc('\n', out);
        size_t j;
        json_t *ch;
        json_array_foreach(json_object_get(op, "changes"), j, ch) {
            fprintf(out, "    %-22s ", short_attribute(text_of(ch, "attribute")));
            print_value(out, json_object_get(ch, "old"));
            fputs(" -> ", out);
            print_value(out, json_object_get(ch, "new"));
            fputc('\n', out);
        }
    }
    json_t *rejected = json_object_get(plan->doc, "rejected");
    json_array_foreach(rejected, i, op) {
        fprintf(out, "%s! rejected %s%s", color ? "\033[35m" : "",
                text_of(op, "location"), reset);
        const char *field = json_string_value(json_object_get(op, "field"));
        if (field)
            fprintf(out, " field %s", field);
        fprintf(out, ": %s\n", text_of(op, "reason"));
    }
    json_t *skipped = json_object_get(plan->doc, "skipped");
    json_array_foreach(skipped, i, op) {
        const char *user = json_string_value(json_object_get(op, "userName"));
        fprintf(out, "  skipped %s%s%s%s: %s\n", text_of(op, "key"), user ? " (" : "",
                user ? user : "", user ? ")" : "", text_of(op, "reason"));
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
