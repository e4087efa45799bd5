/*
 * The SQLite back end: one connection in WAL mode with synchronous=NORMAL.
 *
 * Why NORMAL is enough: in WAL mode a committed transaction is in the WAL file
 * (written with write(2)) before COMMIT returns, so it survives a crash of the
 * process; only a crash of the operating system or a power cut may lose the
 * last transactions (docs/store.md, "Durability"). Set GCSCIM_SQLITE_SYNC=FULL
 * to fsync every commit as well.
 */
#include "store/store_int.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STMT_CACHE 48

typedef struct cached_stmt {
    char *text;        /* the SQL, compared by content (callers build some of it) */
    sqlite3_stmt *stmt;
    uint64_t used;
} cached_stmt;

typedef struct sqlite_conn {
    sqlite3 *db;
    char *path;
    cached_stmt cache[STMT_CACHE];
    uint64_t tick;
} sqlite_conn;

static int db_error(sqlite_conn *c, const char *what)
{
    int code = sqlite3_errcode(c->db);
    int gcs = GCS_EIO;
    if (code == SQLITE_CONSTRAINT)
        gcs = GCS_ECONFLICT;
    return gcs_error_set(gcs, "database '%s': %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static int prepare(sqlite_conn *c, const char *sql, sqlite3_stmt **out)
{
    cached_stmt *victim = &c->cache[0];
    for (int i = 0; i < STMT_CACHE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->stmt && strcmp(e->text, sql) == 0) {
            e->used = ++c->tick;
            *out = e->stmt;
            return 0;
        }
        if (!e->stmt || e->used < victim->used)
            victim = e;
    }
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
        return db_error(c, "cannot prepare statement");
    char *text = strdup(sql);
    if (!text) {
        sqlite3_finalize(stmt);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (victim->stmt)
        sqlite3_finalize(victim->stmt);
    free(victim->text);
    *victim = (cached_stmt){text, stmt, ++c->tick};
    *out = stmt;
    return 0;
}

static int sqlite_exec(gcs_store *s, const char *sql, const char *const *params, int nparams,
                       gcs_sql_row_fn fn, void *payload, int64_t *changes)
{
    sqlite_conn *c = s->impl;
    sqlite3_stmt *stmt = NULL;
    int rc;
    if ((rc = prepare(c, sql, &stmt)) < 0)
        return rc;
    for (int i = 0; i < nparams; i++) {
        int brc = params[i] ? sqlite3_bind_text(stmt, i + 1, params[i], -1, SQLITE_STATIC)
                            : sqlite3_bind_null(stmt, i + 1);
        if (brc != SQLITE_OK) {
            rc = db_error(c, "cannot bind parameter");
            goto out;
        }
    }
    int ncols = sqlite3_column_count(stmt);
    const char *colsbuf[64];
    if (ncols > 64)
        ncols = 64;
    for (;;) {
        int step = sqlite3_step(stmt);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = db_error(c, "statement failed");
            goto out;
        }
        if (!fn)
            continue;
        for (int i = 0; i < ncols; i++)
            colsbuf[i] = (const char *)sqlite3_column_text(stmt, i);
        if ((rc = fn(colsbuf, ncols, payload)) != 0)
            goto out;
    }
    if (changes)
        *changes = sqlite3_changes64(c->db);
out:
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
}

static int sqlite_exec_many(gcs_store *s, const char *sql, const char *const *params,
                            int nparams, size_t nrows)
{
    int rc = 0;
    for (size_t i = 0; i < nrows && rc == 0; i++)
        rc = sqlite_exec(s, sql, params + i * (size_t)nparams, nparams, NULL, NULL, NULL);
    return rc;
}

static int sqlite_exec_script(gcs_store *s, const char *sql)
{
    sqlite_conn *c = s->impl;
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int code = sqlite3_errcode(c->db) == SQLITE_CONSTRAINT ? GCS_ECONFLICT : GCS_EIO;
        int rc = gcs_error_set(code, "database '%s': %s", c->path, msg ? msg : "failed");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static void sqlite_close(gcs_store *s)
{
    sqlite_conn *c = s->impl;
    if (!c)
        return;
    for (int i = 0; i < STMT_CACHE; i++) {
        if (c->cache[i].stmt)
            sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].text);
    }
    sqlite3_close(c->db);
    free(c->path);
    free(c);
    s->impl = NULL;
}

const gcs_store_ops gcs_store_sqlite_ops = {
    .name = "sqlite",
    .exec = sqlite_exec,
    .exec_many = sqlite_exec_many,
    .exec_script = sqlite_exec_script,
    .close = sqlite_close,
};

/* Tightens an existing file to 0600; ENOENT is fine (SQLite creates it). */
static int tighten(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : gcs_error_set(GCS_EIO, "cannot read '%s': %s", path,
                                                   strerror(errno));
    if ((st.st_mode & 0077) == 0)
        return 0;
    if (chmod(path, st.st_mode & 0700) != 0)
        return gcs_error_set(GCS_EIO,
                             "database '%s' can be read by others (mode %04o) and cannot be made "
                             "private: %s; chmod 600 it or use another file",
                             path, (unsigned)(st.st_mode & 07777), strerror(errno));
    return 0;
}

/*
 * The database holds personal data in every receipt: it, and its -wal and -shm
 * files (which SQLite creates with the database file's mode), are 0600 whatever
 * the umask. A file that others could read is tightened, or refused when that
 * is not possible (someone else's file).
 */
static int make_private(const char *path)
{
    int rc;
    if (path[0] == ':' || strncmp(path, "file:", 5) == 0)
        return 0; /* in memory, or a URI whose options SQLite interprets */
    /* Only a missing file is created here: closing a descriptor of a file this
     * process already has open would drop SQLite's POSIX locks on it. */
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST && errno != EACCES && errno != EROFS)
            return gcs_error_set(GCS_EIO, "cannot create database '%s': %s", path,
                                 strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if ((rc = tighten(path)) < 0)
        return rc;
    const char *suffixes[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char side[4200];
        snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
        if ((rc = tighten(side)) < 0)
            return rc;
    }
    return 0;
}

/* SQLite's memory statistics take a global mutex around every allocation it
 * makes (several per row a statement writes); nothing in gcscim reads them.
 * Only possible before SQLite initialises: when something else in the
 * process initialised it first, the call is refused and nothing changes. */
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void setup_sqlite(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int gcs_store__sqlite_open(gcs_store *s, const char *path)
{
    pthread_once(&setup_once, setup_sqlite);
    int rc = 0;
    sqlite_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    s->impl = c;
    s->ops = &gcs_store_sqlite_ops;
    if ((rc = make_private(path)) < 0)
        goto out;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        rc = gcs_error_set(GCS_EIO, "cannot open database '%s': %s", path,
                           c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 0);
    /* Writers wait for each other instead of failing at once. */
    sqlite3_busy_timeout(c->db, 30000);
    const char *sync = getenv("GCSCIM_SQLITE_SYNC");
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;"
             /* 8 MiB of page cache (a ceiling, not an allocation; the receipt
              * writer's connection takes less, writer.c). Writing a run's plan
              * and items filled 32 MiB with pages written once, the peak of an
              * apply of 100,000 creates; reads of a large store are walks in
              * order or index lookups, which the kernel's cache serves. */
             " PRAGMA cache_size=-8192;",
             sync && strcmp(sync, "FULL") == 0 ? "FULL" : "NORMAL");
    if ((rc = sqlite_exec_script(s, pragmas)) < 0)
        goto out;
out:
    if (rc < 0) {
        sqlite_close(s);
        s->ops = NULL;
    }
    return rc;
}
