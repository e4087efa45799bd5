/*
 * Durable runs and their items: what apply and sync need to resume after a
 * kill -9 with nothing skipped and nothing done twice (docs/store.md, "Resume").
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/file.h"
#include "core/time.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void gcs_run_release(gcs_run *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->command);
    free(r->plan_id);
    free(r->state);
    memset(r, 0, sizeof *r);
}

void gcs_run_item_release(gcs_run_item *item)
{
    if (!item)
        return;
    free((char *)item->run_id);
    free((char *)item->key);
    free((char *)item->state);
    free((char *)item->genesys_id);
    free((char *)item->detail);
    memset(item, 0, sizeof *item);
}

static bool valid_run_state(const char *s)
{
    return s && (strcmp(s, GCS_RUN_RUNNING) == 0 || strcmp(s, GCS_RUN_DONE) == 0 ||
                 strcmp(s, GCS_RUN_FAILED) == 0 || strcmp(s, GCS_RUN_INTERRUPTED) == 0);
}

static bool valid_item_state(const char *s)
{
    return s && (strcmp(s, GCS_ITEM_PENDING) == 0 || strcmp(s, GCS_ITEM_IN_PROGRESS) == 0 ||
                 strcmp(s, GCS_ITEM_DONE) == 0 || strcmp(s, GCS_ITEM_FAILED) == 0);
}

/* ==== Runs ==== */

/* The counts of a run's items by state come from one pass over its rows (the
 * primary key's range of the run), as "pending,in_progress,done,failed". */
#define RUN_SELECT                                                                                 \
    "SELECT r.id, r.command, r.plan_id, r.state, r.started_ms, r.finished_ms, r.updated_ms,"      \
    " (SELECT COUNT(CASE WHEN i.state = 'pending' THEN 1 END) || ',' ||"                          \
    " COUNT(CASE WHEN i.state = 'in_progress' THEN 1 END) || ',' ||"                              \
    " COUNT(CASE WHEN i.state = 'done' THEN 1 END) || ',' ||"                                     \
    " COUNT(CASE WHEN i.state = 'failed' THEN 1 END)"                                             \
    " FROM run_items i WHERE i.run_id = r.id)"                                                    \
" FROM runs r"

static int fill_run(gcs_run *r, const char *const *c)
{
    memset(r, 0, sizeof *r);
    r->id = gcs_store__sql_dup(c[0]);
    r->command = gcs_store__sql_dup(c[1]);
    r->plan_id = gcs_store__sql_dup(c[2]);
    r->state = gcs_store__sql_dup(c[3]);
    r->started_ms = gcs_store__sql_int(c[4]);
    r->finished_ms = gcs_store__sql_int(c[5]);
    r->updated_ms = gcs_store__sql_int(c[6]);
    /* "pending,in_progress,done,failed" (RUN_SELECT) */
    int64_t counts[4] = {0};
    const char *p = c[7] ? c[7] : "";
    for (int i = 0; i < 4 && *p; i++) {
        char *end;
        counts[i] = strtoll(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
    r->pending = counts[0];
    r->in_progress = counts[1];
    r->done = counts[2];
    r->failed = counts[3];
    if (!r->id || !r->state) {
        gcs_run_release(r);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

typedef struct one_run {
    gcs_run *out;
    bool found;
} one_run;

static int one_run_row(const char *const *cols, int ncols, void *payload)
{
    one_run *o = payload;
    int rc;
    if (ncols < 8 || o->found)
        return 0;
    if ((rc = fill_run(o->out, cols)) < 0)
        return rc;
    o->found = true;
    return 0;
}

static int new_run_id(char out[40])
{
    unsigned char rnd[4];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return gcs_error_set(GCS_ERROR, "no random bytes for a run id");
    time_t now = (time_t)(gcs_time_wall_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[24];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, 40, "%s-%02x%02x%02x%02x", stamp, rnd[0], rnd[1], rnd[2], rnd[3]);
    return 0;
}

int gcs_store_run_get(gcs_run *out, gcs_store *s, const char *run_id)
{
    memset(out, 0, sizeof *out);
    one_run o = {out, false};
    const char *params[] = {run_id};
    int rc = gcs_store_flush(s); /* item marks still queued count */
    if (rc == 0)
        rc = gcs_store__sql_exec(s, RUN_SELECT " WHERE r.id = ?", params, 1, one_run_row, &o, NULL);
    if (rc == 0 && !o.found)
        rc = gcs_error_set(GCS_ENOTFOUND, "no run '%s'", run_id);
    return rc;
}

int gcs_store_run_begin(gcs_run *out, gcs_store *s, const char *command, const char *plan_id)
{
    char id[40], now[24];
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = gcs_store_flush(s)) < 0 || (rc = new_run_id(id)) < 0)
        return rc;
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    const char *params[] = {id, command, plan_id, now, now};
    if ((rc = gcs_store__sql_exec(
             s,
             "INSERT INTO runs (id, command, plan_id, state, started_ms, updated_ms)"
             " VALUES (?, ?, ?, 'running', ?, ?)",
             params, 5, NULL, NULL, NULL)) < 0)
        return gcs_error_prefix(rc, "cannot record run");
    return gcs_store_run_get(out, s, id);
}

int gcs_store_run_find_resumable(gcs_run *out, gcs_store *s, const char *plan_id)
{
    memset(out, 0, sizeof *out);
    one_run o = {out, false};
    const char *params[] = {plan_id};
    int rc = gcs_store_flush(s);
    if (rc == 0)
        rc = gcs_store__sql_exec(s,
                          RUN_SELECT " WHERE r.plan_id = ? AND r.state IN ('running', 'interrupted',"
                                     " 'failed') ORDER BY r.started_ms DESC, r.id DESC LIMIT 1",
                          params, 1, one_run_row, &o, NULL);
    if (rc == 0 && !o.found)
        rc = gcs_error_set(GCS_ENOTFOUND, "no run of plan '%s' to resume", plan_id);
    return rc;
}

int gcs_store_run_find_latest(gcs_run *out, gcs_store *s, const char *plan_id)
{
    memset(out, 0, sizeof *out);
    one_run o = {out, false};
    const char *params[] = {plan_id};
    int rc = gcs_store_flush(s);
    if (rc == 0)
        rc = gcs_store__sql_exec(s, RUN_SELECT " WHERE r.plan_id = ? ORDER BY r.started_ms DESC, r.id DESC"
                                        " LIMIT 1",
                          params, 1, one_run_row, &o, NULL);
    if (rc == 0 && !o.found)
        rc = gcs_error_set(GCS_ENOTFOUND, "no run of plan '%s'", plan_id);
    return rc;
}

int gcs_store_run_finish(gcs_store *s, const char *run_id, const char *state)
{
    int rc;
    int64_t changed = 0;
    char now[24];
    if (!valid_run_state(state))
        return gcs_error_set(GCS_EINVALID, "unknown run state '%s'", state ? state : "(null)");
    if ((rc = gcs_store_flush(s)) < 0)
        return rc;
    bool final = strcmp(state, GCS_RUN_RUNNING) != 0 && strcmp(state, GCS_RUN_INTERRUPTED) != 0;
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    const char *params[] = {state, final ? now : NULL, now, run_id};
    rc = gcs_store__sql_exec(
        s, "UPDATE runs SET state = ?, finished_ms = ?, updated_ms = ? WHERE id = ?", params, 4,
        NULL, NULL, &changed);
    if (rc == 0 && changed == 0)
        rc = gcs_error_set(GCS_ENOTFOUND, "no run '%s'", run_id);
    return rc;
}

typedef struct runs_ctx {
    int (*fn)(const gcs_run *r, void *payload);
    void *payload;
} runs_ctx;

static int runs_row(const char *const *cols, int ncols, void *payload)
{
    runs_ctx *c = payload;
    gcs_run r;
    int rc;
    if (ncols < 8)
        return 0;
    if ((rc = fill_run(&r, cols)) < 0)
        return rc;
    rc = c->fn(&r, c->payload);
    gcs_run_release(&r);
    return rc;
}

int gcs_store_runs_each(gcs_store *s, int64_t limit, int (*fn)(const gcs_run *r, void *payload),
                        void *payload)
{
    char sql[1024];
    runs_ctx c = {fn, payload};
    int rc = gcs_store_flush(s);
    if (rc < 0)
        return rc;
    if (limit > 0)
        snprintf(sql, sizeof sql, "%s ORDER BY r.started_ms DESC, r.id DESC LIMIT %lld",
                 RUN_SELECT, (long long)limit);
    else
        snprintf(sql, sizeof sql, "%s ORDER BY r.started_ms DESC, r.id DESC", RUN_SELECT);
    return gcs_store__sql_exec(s, sql, NULL, 0, runs_row, &c, NULL);
}

/* ==== Items ==== */

#define ITEMS_PER_INSERT 64

/* "INSERT ... VALUES (...), (...) ..." for ITEMS_PER_INSERT items, built once. */
static pthread_once_t items_insert_once = PTHREAD_ONCE_INIT;
static char items_insert_sql[128 + ITEMS_PER_INSERT * 32];

static void build_items_insert(void)
{
    size_t n = (size_t)snprintf(items_insert_sql, sizeof items_insert_sql, "%s",
                                "INSERT INTO run_items (run_id, item_key, state, attempts,"
                                " updated_ms) VALUES ");
    for (int i = 0; i < ITEMS_PER_INSERT; i++)
        n += (size_t)snprintf(items_insert_sql + n, sizeof items_insert_sql - n,
                              "%s(?, ?, 'pending', 0, ?)", i ? ", " : "");
    snprintf(items_insert_sql + n, sizeof items_insert_sql - n,
             " ON CONFLICT (run_id, item_key) DO NOTHING");
}

static const char *items_insert_many(void)
{
    pthread_once(&items_insert_once, build_items_insert);
    return items_insert_sql;
}

int gcs_store_items_add(gcs_store *s, const char *run_id, const char *const *keys, size_t n)
{
    int rc;
    char now[24];
    const char **params = NULL;
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    if (n == 0)
        return 0;
    if (!(params = malloc(n * 3 * sizeof *params)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        params[3 * i] = run_id;
        params[3 * i + 1] = keys[i];
        params[3 * i + 2] = now;
    }
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    /* ITEMS_PER_INSERT items a statement, then one statement per item for the
     * rest, pipelined on PostgreSQL: an apply records every item of its plan
     * before it starts, and a statement's own cost is most of a row's. */
    size_t whole = n / ITEMS_PER_INSERT;
    if (whole && (rc = s->ops->exec_many(s, items_insert_many(), params, 3 * ITEMS_PER_INSERT,
                                         whole)) < 0)
        goto out;
    if ((rc = s->ops->exec_many(s,
                                "INSERT INTO run_items (run_id, item_key, state, attempts, updated_ms)"
                                " VALUES (?, ?, 'pending', 0, ?)"
                                " ON CONFLICT (run_id, item_key) DO NOTHING",
                                params + 3 * whole * ITEMS_PER_INSERT, 3,
                                n - whole * ITEMS_PER_INSERT)) < 0)
        goto out;
    rc = gcs_store__sql_commit(s);
out:
    if (rc < 0) {
        gcs_store__sql_rollback(s);
        gcs_error_prefix(rc, "cannot record the items of run '%s'", run_id);
    }
    free(params);
    return rc;
}

int gcs_store_item_mark_queued(gcs_store *s, const char *run_id, const char *key,
                               const char *state, const char *genesys_id, const char *detail)
{
    if (!valid_item_state(state))
        return gcs_error_set(GCS_EINVALID, "unknown item state '%s'", state ? state : "(null)");
    if (!run_id || !key)
        return gcs_error_set(GCS_EINVALID, "an item mark needs a run and a key");
    int rc = gcs_store__mark_enqueue(s, run_id, key, state, genesys_id, detail,
                                    strcmp(state, GCS_ITEM_IN_PROGRESS) == 0);
    if (rc < 0)
        gcs_error_prefix(rc, "cannot mark item '%s' of run '%s'", key, run_id);
    return rc;
}

int gcs_store_item_mark(gcs_store *s, const char *run_id, const char *key, const char *state,
                        const char *genesys_id, const char *detail)
{
    /* Through the receipt writer, so that the mark is committed in one
     * transaction with the receipts (and queued marks) before it: an item is
     * never marked past a call whose receipt could still be lost, and marks
     * never overtake one another. */
    int rc = gcs_store_item_mark_queued(s, run_id, key, state, genesys_id, detail);
    if (rc == 0 && (rc = gcs_store_flush(s)) < 0)
        gcs_error_prefix(rc, "cannot mark item '%s' of run '%s'", key, run_id);
    return rc;
}

static int fill_item(gcs_run_item *it, const char *const *c)
{
    it->run_id = c[0];
    it->key = c[1];
    it->state = c[2];
    it->genesys_id = c[3];
    it->detail = c[4];
    it->attempts = (int)gcs_store__sql_int(c[5]);
    it->updated_ms = gcs_store__sql_int(c[6]);
    return 0;
}

#define ITEM_SELECT                                                                                \
    "SELECT run_id, item_key, state, genesys_id, detail, attempts, updated_ms FROM run_items"

typedef struct item_get_ctx {
    gcs_run_item *out;
    bool found;
} item_get_ctx;

static int item_get_row(const char *const *cols, int ncols, void *payload)
{
    item_get_ctx *g = payload;
    gcs_run_item it;
    if (ncols < 7)
        return 0;
    fill_item(&it, cols);
    g->out->run_id = gcs_store__sql_dup(it.run_id);
    g->out->key = gcs_store__sql_dup(it.key);
    g->out->state = gcs_store__sql_dup(it.state);
    g->out->genesys_id = gcs_store__sql_dup(it.genesys_id);
    g->out->detail = gcs_store__sql_dup(it.detail);
    g->out->attempts = it.attempts;
    g->out->updated_ms = it.updated_ms;
    g->found = true;
    if (!g->out->run_id || !g->out->key || !g->out->state)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_store_item_get(gcs_run_item *out, gcs_store *s, const char *run_id, const char *key)
{
    memset(out, 0, sizeof *out);
    item_get_ctx g = {out, false};
    const char *params[] = {run_id, key};
    int rc = gcs_store_flush(s);
    if (rc < 0)
        return rc;
    rc = gcs_store__sql_exec(s, ITEM_SELECT " WHERE run_id = ? AND item_key = ?", params, 2,
                          item_get_row, &g, NULL);
    if (rc < 0)
        gcs_run_item_release(out);
    else if (!g.found)
        rc = gcs_error_set(GCS_ENOTFOUND, "no item '%s' in run '%s'", key, run_id);
    return rc;
}

typedef struct items_ctx {
    int (*fn)(const gcs_run_item *item, void *payload);
    void *payload;
} items_ctx;

static int items_row(const char *const *cols, int ncols, void *payload)
{
    items_ctx *c = payload;
    gcs_run_item it;
    if (ncols < 7)
        return 0;
    fill_item(&it, cols);
    return c->fn(&it, c->payload);
}

int gcs_store_items_each(gcs_store *s, const char *run_id, const char *state,
                         int (*fn)(const gcs_run_item *item, void *payload), void *payload)
{
    items_ctx c = {fn, payload};
    const char *params[] = {run_id, state};
    int rc = gcs_store_flush(s);
    if (rc < 0)
        return rc;
    if (state)
        return gcs_store__sql_exec(s,
                                   ITEM_SELECT " WHERE run_id = ? AND state = ? ORDER BY item_key",
                                   params, 2, items_row, &c, NULL);
    return gcs_store__sql_exec(s, ITEM_SELECT " WHERE run_id = ? ORDER BY item_key", params, 1,
                               items_row, &c, NULL);
}

/* ==== The plan of each run ==== */

/* A part ends on a UTF-8 character's boundary (PostgreSQL's TEXT takes no
 * cut character): how many of the n bytes at p to keep in this part, the rest
 * (at most 3 bytes) starting the next. */
static size_t utf8_cut(const char *p, size_t n)
{
    size_t i = n;
    while (i > 0 && n - i < 4 && ((unsigned char)p[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || n - i >= 4)
        return n; /* not UTF-8 here: cut where it is */
    unsigned char lead = (unsigned char)p[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return n - (i - 1) >= need ? n : i - 1;
}

int gcs_store_run_plan_put_feed(gcs_store *s, const char *run_id, gcs_store_text_feed_fn feed,
                                void *payload)
{
    int rc;
    int64_t changed = 0;
    char bytes[24], now[24], part_no[24];
    char *part = malloc(GCS_STORE_PLAN_PART + 1);
    GCS_CHECK_ALLOC(part);
    if ((rc = gcs_store_flush(s)) < 0 || (rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    /* The first plan kept for a run stays: a run applies one plan. Its text
     * is in run_plan_parts; `plan` holds the whole text only for runs kept
     * before version 11. */
    const char *params[] = {now, run_id};
    if ((rc = gcs_store__sql_exec(s,
                                  "INSERT INTO run_plans (run_id, plan, bytes, stored_ms)"
                                  " SELECT id, '', 0, ? FROM runs WHERE id = ?"
                                  " ON CONFLICT (run_id) DO NOTHING",
                                  params, 2, NULL, NULL, &changed)) < 0)
        goto out;
    if (changed == 0) {
        gcs_store__sql_rollback(s);
        gcs_run run;
        rc = gcs_store_run_get(&run, s, run_id); /* GCS_ENOTFOUND when no such run */
        gcs_run_release(&run);
        goto out;
    }
    size_t held = 0; /* bytes carried over into the next part */
    int64_t total = 0, n_parts = 0;
    for (bool end = false; !end;) {
        size_t got = 0;
        while (held + got < GCS_STORE_PLAN_PART) {
            size_t n = feed(part + held + got, GCS_STORE_PLAN_PART - held - got, payload);
            if (n == (size_t)-1) {
                rc = gcs_error_set(GCS_EIO, "cannot read the plan: %s", strerror(errno));
                goto out;
            }
            if (n == 0) {
                end = true;
                break;
            }
            got += n;
        }
        size_t fill = held + got;
        total += (int64_t)got;
        if (total > GCS_STORE_PLAN_MAX) {
            rc = gcs_error_set(GCS_EINVALID, "cannot keep the plan of run '%s': over the %ld MiB "
                                             "a run's plan may take",
                               run_id, GCS_STORE_PLAN_MAX >> 20);
            goto out;
        }
        if (memchr(part, '\0', fill)) {
            rc = gcs_error_set(GCS_EINVALID, "cannot keep the plan of run '%s': a NUL byte in it",
                               run_id);
            goto out;
        }
        size_t keep = end ? fill : utf8_cut(part, fill);
        if (keep == 0)
            continue;
        char saved[4];
        size_t rest = fill - keep;
        memcpy(saved, part + keep, rest);
        part[keep] = '\0';
        const char *pparams[] = {run_id, gcs_store__sql_i64(part_no, n_parts++), part};
        if ((rc = gcs_store__sql_exec(s,
                                      "INSERT INTO run_plan_parts (run_id, part, text)"
                                      " VALUES (?, ?, ?)",
                                      pparams, 3, NULL, NULL, NULL)) < 0)
            goto out;
        memcpy(part, saved, rest);
        held = rest;
    }
    const char *uparams[] = {gcs_store__sql_i64(bytes, total), run_id};
    if ((rc = gcs_store__sql_exec(s, "UPDATE run_plans SET bytes = ? WHERE run_id = ?", uparams,
                                  2, NULL, NULL, NULL)) < 0)
        goto out;
    rc = gcs_store__sql_commit(s);
out:
    if (rc < 0) {
        gcs_store__sql_rollback(s);
        gcs_error_prefix(rc, "cannot keep the plan of run '%s'", run_id);
    }
    free(part);
    return rc;
}


int gcs_store_run_plan_put(gcs_store *s, const char *run_id, const char *text, size_t len)
{
    if (len > (size_t)GCS_STORE_PLAN_MAX)
        return gcs_error_set(GCS_EINVALID,
                             "cannot keep the plan of run '%s': %zu MiB, over the %ld MiB a run's "
                             "plan may take",
                             run_id, len >> 20, GCS_STORE_PLAN_MAX >> 20);
    gcs_memory_feed m = {text, len, 0};
    return gcs_store_run_plan_put_feed(s, run_id, gcs_memory_feed_fill, &m);
}

typedef struct plan_row_ctx {
    char *text;
    size_t len;
    bool found;
} plan_row_ctx;

static int plan_row(const char *const *cols, int ncols, void *payload)
{
    plan_row_ctx *p = payload;
    if (ncols < 1 || !cols[0] || p->found)
        return 0;
    p->found = true;
    p->len = strlen(cols[0]);
    if (!(p->text = strdup(cols[0])))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_store_run_plan_part(char **out, size_t *len, gcs_store *s, const char *run_id, long part)
{
    plan_row_ctx p = {NULL, 0, false};
    char part_no[24];
    const char *params[] = {run_id, gcs_store__sql_i64(part_no, part)};
    *out = NULL;
    if (len)
        *len = 0;
    int rc = gcs_store__sql_exec(s, "SELECT text FROM run_plan_parts WHERE run_id = ? AND part = ?",
                                 params, 2, plan_row, &p, NULL);
    /* A run kept before version 11: its whole text, as its one part. */
    if (rc == 0 && !p.found && part == 0)
        rc = gcs_store__sql_exec(s, "SELECT plan FROM run_plans WHERE run_id = ? AND plan <> ''",
                                 params, 1, plan_row, &p, NULL);
    if (rc == 0 && !p.found)
        rc = gcs_error_set(GCS_ENOTFOUND, part ? "the plan kept for run '%s' has no part %ld"
                                               : "no plan kept for run '%s'",
                           run_id, part);
    if (rc < 0) {
        free(p.text);
        return rc;
    }
    *out = p.text;
    if (len)
        *len = p.len;
    return 0;
}

int gcs_store_run_plan_get(char **out, size_t *len, gcs_store *s, const char *run_id)
{
    char *all = NULL;
    size_t all_len = 0;
    *out = NULL;
    if (len)
        *len = 0;
    for (long part = 0;; part++) {
        char *text;
        size_t n;
        int rc = gcs_store_run_plan_part(&text, &n, s, run_id, part);
        if (rc == GCS_ENOTFOUND && part > 0)
            break;
        if (rc < 0) {
            free(all);
            return rc;
        }
        char *grown = realloc(all, all_len + n + 1);
        if (!grown) {
            free(text);
            free(all);
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        all = grown;
        memcpy(all + all_len, text, n + 1);
        all_len += n;
        free(text);
    }
    *out = all;
    if (len)
        *len = all_len;
    return 0;
}
