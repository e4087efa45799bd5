/*
 * The PostgreSQL back end: one libpq connection. Statements are prepared once
 * per connection (named s0, s1, ...) and cached by their text; `?` placeholders
 * are numbered $1, $2, ... on the way. Results with a row callback are read in
 * single-row mode, so that walking a million receipts does not hold them all
 * in memory.
 */
#include "store/store_int.h"

#include "core/buf.h"
#include "core/error.h"
#include "core/redact.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 64
#define SQL_MAX (64 * 1024)

typedef struct cached_stmt {
    char *text;        /* the SQL as the caller wrote it */
    char name[16];
    uint64_t used;
} cached_stmt;

typedef struct pg_conn {
    PGconn *conn;
    cached_stmt cache[STMT_CACHE];
    uint64_t tick;
    unsigned next_name;
} pg_conn;

static int pg_code(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strncmp(state, "23", 2) == 0)
        return GCS_ECONFLICT;
    if (state && strcmp(state, "57014") == 0)
        return GCS_ECANCELLED;
    return GCS_EIO;
}

static int pg_error(pg_conn *c, const PGresult *res, const char *what)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->conn);
    if (!msg || !*msg)
        msg = PQerrorMessage(c->conn);
    char line[512];
    snprintf(line, sizeof line, "%s", msg);
    line[strcspn(line, "\n")] = '\0';
    return gcs_error_set(pg_code(res), "postgresql: %s: %s", what, line);
}

/* `?` -> `$n`, outside quoted literals. */
static int number_params(gcs_buf *out, const char *sql)
{
    int n = 0, rc = 0;
    bool quoted = false;
    for (const char *p = sql; *p && rc == 0; p++) {
        if (*p == '\'')
            quoted = !quoted;
        if (*p == '?' && !quoted)
            rc = gcs_buf_printf(out, "$%d", ++n);
        else
            rc = gcs_buf_putc(out, *p);
    }
    return rc;
}

static int prepare(pg_conn *c, const char *sql, int nparams, const char **name)
{
    cached_stmt *victim = &c->cache[0];
    for (int i = 0; i < STMT_CACHE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->text && strcmp(e->text, sql) == 0) {
            e->used = ++c->tick;
            *name = e->name;
            return 0;
        }
        if (!e->text || e->used < victim->used)
            victim = e;
    }
    int rc;
    gcs_buf text;
    gcs_buf_init(&text, SQL_MAX);
    PGresult *res = NULL;
    if ((rc = number_params(&text, sql)) < 0)
        goto out;
    if (victim->text) {
        char dealloc[48];
        snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", victim->name);
        PQclear(PQexec(c->conn, dealloc));
        free(victim->text);
        victim->text = NULL;
    }
    char nm[16];
    snprintf(nm, sizeof nm, "s%u", c->next_name++);
    res = PQprepare(c->conn, nm, text.ptr, nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_error(c, res, "cannot prepare statement");
        goto out;
    }
    if (!(victim->text = strdup(sql))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(victim->name, nm, sizeof nm);
    victim->used = ++c->tick;
    *name = victim->name;
out:
    PQclear(res);
    gcs_buf_release(&text);
    return rc;
}

static int64_t affected(PGresult *res)
{
    const char *t = PQcmdTuples(res);
    return t && *t ? strtoll(t, NULL, 10) : 0;
}

static int pg_exec(gcs_store *s, const char *sql, const char *const *params, int nparams,
                   gcs_sql_row_fn fn, void *payload, int64_t *changes)
{
    pg_conn *c = s->impl;
    const char *name = NULL;
    int rc;
    if ((rc = prepare(c, sql, nparams, &name)) < 0)
        return rc;
    if (!fn) {
        PGresult *res = PQexecPrepared(c->conn, name, nparams, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            rc = pg_error(c, res, "statement failed");
        else if (changes)
            *changes = affected(res);
        PQclear(res);
        return rc;
    }
    if (!PQsendQueryPrepared(c->conn, name, nparams, params, NULL, NULL, 0))
        return pg_error(c, NULL, "cannot send statement");
    PQsetSingleRowMode(c->conn);
    PGresult *res;
    int stop = 0;
    while ((res = PQgetResult(c->conn))) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && !stop && rc == 0) {
            int ncols = PQnfields(res);
            const char *cols[64];
            if (ncols > 64)
                ncols = 64;
            for (int i = 0; i < ncols; i++)
                cols[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
            /* Stopping early still reads the rest: libpq needs the connection
             * drained before the next statement. */
            stop = fn(cols, ncols, payload);
        } else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (changes)
                *changes = affected(res);
        } else if (st != PGRES_SINGLE_TUPLE && rc == 0) {
            rc = pg_error(c, res, "statement failed");
        }
        PQclear(res);
    }
    return rc ? rc : stop;
}

/* Statements per pipeline chunk: their results (a few dozen bytes each) must
 * fit in the socket buffers, or server and client could wait on each other. */
#define PIPELINE_CHUNK 256

static int pg_exec_many(gcs_store *s, const char *sql, const char *const *params, int nparams,
                        size_t nrows)
{
    pg_conn *c = s->impl;
    const char *name = NULL;
    int rc;
    if ((rc = prepare(c, sql, nparams, &name)) < 0)
        return rc;
    for (size_t done = 0; done < nrows && rc == 0;) {
        size_t n = nrows - done < PIPELINE_CHUNK ? nrows - done : PIPELINE_CHUNK;
        if (!PQenterPipelineMode(c->conn))
            return pg_error(c, NULL, "cannot enter pipeline mode");
        size_t sent = 0;
        for (; sent < n; sent++) {
            if (!PQsendQueryPrepared(c->conn, name, nparams,
                                     params + (done + sent) * (size_t)nparams, NULL, NULL, 0)) {
                rc = pg_error(c, NULL, "cannot send statement");
                break;
            }
        }
        if (!PQpipelineSync(c->conn) && rc == 0)
            rc = pg_error(c, NULL, "cannot send statements");
        /* One result (then NULL) per statement sent, then the sync. */
        for (size_t i = 0; i < sent; i++) {
            PGresult *res;
            while ((res = PQgetResult(c->conn))) {
                ExecStatusType st = PQresultStatus(res);
                if (st != PGRES_COMMAND_OK && rc == 0)
                    rc = pg_error(c, res, "statement failed");
                PQclear(res);
            }
        }
        PGresult *res;
        while ((res = PQgetResult(c->conn))) {
            bool sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
            PQclear(res);
            if (sync)
                break;
        }
        if (!PQexitPipelineMode(c->conn) && rc == 0)
            rc = pg_error(c, NULL, "cannot leave pipeline mode");
        done += n;
    }
    return rc;
}

static int pg_exec_script(gcs_store *s, const char *sql)
{
    pg_conn *c = s->impl;
    int rc = 0;
    PGresult *res = PQexec(c->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_error(c, res, "statement failed");
    PQclear(res);
    return rc;
}

static void pg_close(gcs_store *s)
{
    pg_conn *c = s->impl;
    if (!c)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        free(c->cache[i].text);
    PQfinish(c->conn);
    free(c);
    s->impl = NULL;
}

const gcs_store_ops gcs_store_postgres_ops = {
    .name = "postgresql",
    .exec = pg_exec,
    .exec_many = pg_exec_many,
    .exec_script = pg_exec_script,
    .close = pg_close,
};

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

/* A password in the connection string must never reach a log or an error. */
static void register_password(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val)
            gcs_redact_register(o->val);
    }
    PQconninfoFree(opts);
}

int gcs_store__postgres_open(gcs_store *s, const char *conninfo)
{
    int rc = 0;
    pg_conn *c = calloc(1, sizeof *c);
    GCS_CHECK_ALLOC(c);
    s->impl = c;
    s->ops = &gcs_store_postgres_ops;
    register_password(conninfo);
    /* Defaults first: what the connection string says overrides them. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "gcscim", conninfo, NULL};
    c->conn = PQconnectdbParams(keys, vals, 1);
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
        char line[512];
        snprintf(line, sizeof line, "%s", c->conn ? PQerrorMessage(c->conn) : "out of memory");
        line[strcspn(line, "\n")] = '\0';
        rc = gcs_error_set(GCS_EIO, "cannot connect to postgresql: %s", line);
        goto out;
    }
    PQsetNoticeProcessor(c->conn, quiet_notices, NULL);
    rc = pg_exec_script(s, "SET client_min_messages = warning");
out:
    if (rc < 0) {
        pg_close(s);
        s->ops = NULL;
    }
    return rc;
}
