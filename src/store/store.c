/* The store: choosing a back end from a URL, opening, transactions, helpers. */
#include "store/store_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ==== URLs ==== */

int gcs_store_default_url(char **out)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char path[GCS_STORE_URL_MAX];
    int n;
    *out = NULL;
    /* XDG: a relative XDG_STATE_HOME is invalid and must be ignored. */
    if (state && state[0] == '/')
        n = snprintf(path, sizeof path, "sqlite:%s/gcscim/gcscim.db", state);
    else if (home && home[0])
        n = snprintf(path, sizeof path, "sqlite:%s/.local/state/gcscim/gcscim.db", home);
    else
        return gcs_error_set(GCS_EINVALID,
                             "no default database location: HOME is not set; give --db");
    if (n < 0 || (size_t)n >= sizeof path)
        return gcs_error_set(GCS_EINVALID, "default database path is too long; give --db");
    if (!(*out = strdup(path)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int gcs_store_url_parse(gcs_store_kind *kind, char **target, const char *url)
{
    *target = NULL;
    if (!url || !*url)
        return gcs_error_set(GCS_EINVALID, "empty database URL");
    size_t len = strnlen(url, GCS_STORE_URL_MAX + 1);
    if (len > GCS_STORE_URL_MAX)
        return gcs_error_set(GCS_EINVALID, "database URL is longer than %d bytes",
                             GCS_STORE_URL_MAX);
    const char *value;
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        *kind = GCS_STORE_POSTGRES;
        value = url;
    } else if (has_prefix(url, "sqlite:")) {
        *kind = GCS_STORE_SQLITE;
        value = url + strlen("sqlite:");
        /* sqlite:///abs/path is accepted as a courtesy to URL habits. */
        if (has_prefix(value, "///"))
            value += 2;
        else if (has_prefix(value, "//"))
            return gcs_error_set(GCS_EINVALID,
                                 "database URL '%s': write sqlite:PATH or sqlite:///ABSOLUTE/PATH",
                                 url);
        if (!*value)
            return gcs_error_set(GCS_EINVALID, "database URL '%s' has no file path", url);
    } else {
        const char *colon = strstr(url, "://");
        if (colon) {
            return gcs_error_set(GCS_EINVALID,
                                 "database URL '%.*s...': unknown scheme (sqlite:PATH or "
                                 "postgresql://...)",
                                 (int)(colon - url < 32 ? colon - url : 32), url);
        }
        *kind = GCS_STORE_SQLITE;
        value = url;
    }
    if (!(*target = strdup(value)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_store_url_display(char **out, const char *url)
{
    gcs_buf b;
    int rc = 0;
    *out = NULL;
    gcs_buf_init(&b, 2 * GCS_STORE_URL_MAX);
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *colon = scheme ? memchr(scheme + 3, ':', at ? (size_t)(at - scheme - 3) : 0) : NULL;
    if (at && (!slash || at < slash) && colon) {
        /* postgresql://user:PASSWORD@host/... */
        rc = gcs_buf_put(&b, url, (size_t)(colon - url + 1));
        if (rc == 0)
            rc = gcs_buf_puts(&b, "***");
        url = at;
    }
    /* ...?password=PASSWORD&... and "password=PASSWORD" conninfo keywords. */
    while (rc == 0 && *url) {
        const char *p = strstr(url, "password=");
        if (!p) {
            rc = gcs_buf_puts(&b, url);
            break;
        }
        rc = gcs_buf_put(&b, url, (size_t)(p - url) + strlen("password="));
        if (rc == 0)
            rc = gcs_buf_puts(&b, "***");
        url = p + strlen("password=");
        url += strcspn(url, "& ");
    }
    if (rc == 0 && !(*out = gcs_buf_detach(&b)))
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    gcs_buf_release(&b);
    return rc;
}

/* Creates every missing directory of `path`'s parent with mode 0700. */
static int make_parent_dirs(const char *path)
{
    char tmp[GCS_STORE_URL_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return gcs_error_set(GCS_EINVALID, "path '%s' is too long", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return 0;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return gcs_error_set(GCS_EIO, "cannot create directory '%s': %s", tmp,
                                 strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return gcs_error_set(GCS_EIO, "cannot create directory '%s': %s", tmp, strerror(errno));
    return 0;
}

/* ==== Opening ==== */

int gcs_store_open(gcs_store **out, const char *url)
{
    char *def = NULL, *target = NULL;
    gcs_store *s = NULL;
    gcs_store_kind kind;
    int rc;
    *out = NULL;
    bool is_default = !url || !*url;
    if (is_default) {
        if ((rc = gcs_store_default_url(&def)) < 0)
            goto out;
        url = def;
    }
    if ((rc = gcs_store_url_parse(&kind, &target, url)) < 0)
        goto out;
    if (is_default && (rc = make_parent_dirs(target)) < 0)
        goto out;
    if (!(s = calloc(1, sizeof *s))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    s->kind = kind;
    gcs_store__backoff_set(&s->job_backoff, 1000, 5 * 60 * 1000);
    gcs_store__backoff_set(&s->note_backoff, 5000, 10 * 60 * 1000);
    if (kind == GCS_STORE_SQLITE)
        rc = gcs_store__sqlite_open(s, target);
    else
        rc = gcs_store__postgres_open(s, target);
    if (rc < 0)
        goto out;
    s->target = target;
    target = NULL;
    if ((rc = gcs_store__migrate(s)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    if (s && s->ops)
        s->ops->close(s);
    if (s)
        free(s->target);
    free(s);
    free(def);
    free(target);
    return rc;
}

int gcs_store_open_existing(gcs_store **out, const char *url)
{
    char *def = NULL, *target = NULL;
    gcs_store_kind kind;
    struct stat st;
    int rc;
    *out = NULL;
    if ((!url || !*url) && (rc = gcs_store_default_url(&def)) < 0)
        return rc;
    const char *given = def ? def : url;
    if ((rc = gcs_store_url_parse(&kind, &target, given)) < 0)
        goto out;
    /* ":memory:" and "file:" URIs are SQLite's to interpret */
    if (kind == GCS_STORE_SQLITE && target[0] != ':' && strncmp(target, "file:", 5) != 0 &&
        stat(target, &st) != 0 && errno == ENOENT) {
        rc = gcs_error_set(GCS_ENOTFOUND,
                           "no store at '%s': nothing was recorded there (check the db setting: "
                           "--db, GCSCIM_DB or the config file)",
                           target);
        goto out;
    }
    rc = gcs_store_open(out, given);
out:
    free(def);
    free(target);
    return rc;
}

void gcs_store_free(gcs_store *s)
{
    if (!s)
        return;
    if (gcs_store__receipts_release(s) < 0)
        GCS_ERR("store.flush_failed", "error", gcs_error_last());
    if (s->ops)
        s->ops->close(s);
    free(s->target);
    free(s);
}

int gcs_store__connect_again(gcs_store *out, const gcs_store *s)
{
    memset(out, 0, sizeof *out);
    out->kind = s->kind;
    if (s->kind == GCS_STORE_SQLITE)
        return gcs_store__sqlite_open(out, s->target);
    return gcs_store__postgres_open(out, s->target);
}

const char *gcs_store_backend(const gcs_store *s)
{
    return s->ops->name;
}

gcs_store_kind gcs_store_kind_of(const gcs_store *s)
{
    return s->kind;
}

static int int_row(const char *const *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0])
        *(int *)payload = (int)gcs_store__sql_int(cols[0]);
    return 0;
}

int gcs_store_schema_version(int *out, gcs_store *s)
{
    *out = 0;
    return gcs_store__sql_exec(s, "SELECT MAX(version) FROM schema_version", NULL, 0, int_row, out,
                               NULL);
}

int gcs_store_exec_raw(gcs_store *s, const char *sql)
{
    return s->ops->exec_script(s, sql);
}

/* ==== SQL helpers ==== */

int gcs_store__sql_exec(gcs_store *s, const char *sql, const char *const *params, int nparams,
                        gcs_sql_row_fn fn, void *payload, int64_t *changes)
{
    if (changes)
        *changes = 0;
    return s->ops->exec(s, sql, params, nparams, fn, payload, changes);
}

int gcs_store__sql_begin(gcs_store *s, bool write)
{
    const char *sql;
    if (s->kind == GCS_STORE_SQLITE)
        sql = write ? "BEGIN IMMEDIATE" : "BEGIN";
    else
        sql = write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ";
    int rc = gcs_store__sql_exec(s, sql, NULL, 0, NULL, NULL, NULL);
    if (rc == 0)
        s->in_tx = 1;
    return rc;
}

int gcs_store__sql_commit(gcs_store *s)
{
    int rc = gcs_store__sql_exec(s, "COMMIT", NULL, 0, NULL, NULL, NULL);
    if (rc < 0)
        gcs_store__sql_rollback(s);
    s->in_tx = 0;
    return rc;
}

void gcs_store__sql_rollback(gcs_store *s)
{
    if (!s->in_tx)
        return;
    s->in_tx = 0;
    /* Keep the caller's error message: the rollback's is of no interest. */
    char saved[512];
    int code = gcs_error_last_code();
    snprintf(saved, sizeof saved, "%s", gcs_error_last());
    gcs_store__sql_exec(s, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
    if (code)
        gcs_error_set(code, "%s", saved);
}

void gcs_store_shrink(gcs_store *s)
{
    if (s && s->kind == GCS_STORE_SQLITE && s->ops)
        (void)s->ops->exec_script(s, "PRAGMA shrink_memory;");
}

const char *gcs_store__sql_for_update(const gcs_store *s)
{
    return s->kind == GCS_STORE_POSTGRES ? " FOR UPDATE" : "";
}

const char *gcs_store__sql_skip_locked(const gcs_store *s)
{
    return s->kind == GCS_STORE_POSTGRES ? " FOR UPDATE SKIP LOCKED" : "";
}

int gcs_store__update_row_now(int64_t *changed, gcs_store *s, const char *sql, int nnow,
                              int64_t id)
{
    char now[24], nid[24];
    const char *p[5];
    if (nnow < 0 || nnow > 4)
        return gcs_error_set(GCS_EINVALID, "a row update takes the time now 0 to 4 times, not %d", nnow);
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    for (int i = 0; i < nnow; i++)
        p[i] = now;
    p[nnow] = gcs_store__sql_i64(nid, id);
    *changed = 0;
    return gcs_store__sql_exec(s, sql, p, nnow + 1, NULL, NULL, changed);
}

int gcs_store__update_row_or_refuse(gcs_store *s, const char *sql, int nnow, int64_t id,
                                    int (*refused)(gcs_store *s, int64_t id, const char *what),
                                    const char *what)
{
    int64_t changed;
    int rc = gcs_store__update_row_now(&changed, s, sql, nnow, id);
    if (rc == 0 && changed == 0)
        rc = refused(s, id, what);
    return rc;
}

void gcs_store__backoff_set(gcs_store__backoff *b, int64_t base_ms, int64_t max_ms)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
}

int64_t gcs_store__backoff_ms(const gcs_store__backoff *b, int attempts)
{
    int64_t d = b->base_ms;
    for (int i = 1; i < attempts && d < b->max_ms; i++)
        d *= 2;
    return d < b->max_ms ? d : b->max_ms;
}

int64_t gcs_store__sql_int(const char *col)
{
    return col ? strtoll(col, NULL, 10) : 0;
}

char *gcs_store__sql_dup(const char *col)
{
    return col ? strdup(col) : NULL;
}

const char *gcs_store__sql_i64(char *buf, int64_t v)
{
    /* Five of these per receipt appended: no printf. */
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    memcpy(buf, p, (size_t)(tmp + sizeof tmp - p));
    return buf;
}
