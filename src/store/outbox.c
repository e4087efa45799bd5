/*
 * The outbox: notifications of outcomes, written in the transaction that
 * records the outcome, delivered at least once by a sender (docs/store.md,
 * "Outbox"; the states are in store.h).
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_COLUMNS                                                                               \
    "id, msg_id, endpoint, event_type, body, state, attempts, not_before_ms, deadline_ms,"        \
    " dead_after_ms, lease_owner, lease_until_ms, last_error, created_ms, updated_ms,"             \
    " delivered_ms"
#define NOTE_NCOLS 16
#define CLAIM_MAX 64
#define ENDPOINT_NAME_MAX 128

void gcs_notification_release(gcs_notification *n)
{
    if (!n)
        return;
    free(n->msg_id);
    free(n->endpoint);
    free(n->type);
    free(n->body);
    free(n->state);
    free(n->lease_owner);
    free(n->last_error);
    memset(n, 0, sizeof *n);
}

void gcs_notifications_free(gcs_notification *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        gcs_notification_release(&list[i]);
    free(list);
}

void gcs_store_set_notify_backoff(gcs_store *s, int64_t base_ms, int64_t max_ms)
{
    gcs_store__backoff_set(&s->note_backoff, base_ms, max_ms);
}

bool gcs_outbox_route_takes(const gcs_outbox_route *r, const char *type)
{
    if (!r->events)
        return true;
    for (const char *const *e = r->events; *e; e++) {
        size_t len = strlen(*e);
        if (strcmp(*e, type) == 0 || strcmp(*e, "*") == 0)
            return true;
        /* "user.*" takes "user.created" */
        if (len >= 2 && strcmp(*e + len - 2, ".*") == 0 && strncmp(*e, type, len - 1) == 0)
            return true;
    }
    return false;
}

/* ==== Writing events ==== */

void gcs_store__note_free(gcs_store__note *n)
{
    if (!n)
        return;
    free(n->type);
    free(n->data);
    free(n->body);
    free(n->run_id);
    free(n->source_key);
    for (size_t i = 0; i < n->nendpoints; i++)
        free(n->endpoints[i]);
    free(n);
}

int gcs_store__note_prepare(gcs_store__note **out, const gcs_outbox_event *ev)
{
    *out = NULL;
    /* Nothing to write and nothing to log: no work in either thread. */
    bool audit = ev && ev->audit && gcs_log_enabled(GCS_LOG_INFO);
    if (!ev || !ev->type || (!ev->routes && !audit))
        return 0;
    if (!json_is_object(ev->data))
        return gcs_error_set(GCS_EINVALID, "notification '%s': its data must be a JSON object",
                             ev->type);
    gcs_store__note *n = calloc(1, sizeof *n);
    GCS_CHECK_ALLOC(n);
    int rc = 0;
    for (size_t i = 0; ev->routes && i < ev->routes->count && i < GCS_NOTE_ENDPOINTS_MAX; i++) {
        const gcs_outbox_route *r = &ev->routes->routes[i];
        if (!r->endpoint || !gcs_outbox_route_takes(r, ev->type))
            continue;
        if (!(n->endpoints[n->nendpoints++] = strndup(r->endpoint, ENDPOINT_NAME_MAX))) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (n->nendpoints == 0 && !audit)
        goto out; /* nobody takes it */
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        rc = gcs_error_set(GCS_ERROR, "no random bytes for a notification id");
        goto out;
    }
    char *p = n->msg_id + snprintf(n->msg_id, sizeof n->msg_id, "msg_");
    for (size_t i = 0; i < sizeof rnd; i++)
        p += snprintf(p, 3, "%02x", rnd[i]);
    n->type = strdup(ev->type);
    n->data = json_dumps(ev->data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!n->type || !n->data) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if (strlen(n->data) > GCS_NOTE_BODY_MAX - 1024) {
        rc = gcs_error_set(GCS_EINVALID, "notification '%s': its data is over %d bytes", ev->type,
                           GCS_NOTE_BODY_MAX - 1024);
        goto out;
    }
    n->dead_after_ms = ev->routes && ev->routes->dead_after_ms > 0 ? ev->routes->dead_after_ms
                                                                   : GCS_NOTE_DEAD_AFTER_MS;
    n->time_ms = gcs_time_wall_ms();
    n->receipts_of_key = ev->receipts_of_key;
    if (ev->receipts_of_key) {
        const char *run = json_string_value(json_object_get(ev->data, "run_id"));
        const char *key = json_string_value(json_object_get(ev->data, "source_key"));
        if ((run && !(n->run_id = strdup(run))) || (key && !(n->source_key = strdup(key)))) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
    n->audit = audit;
    *out = n;
    n = NULL;
out:
    gcs_store__note_free(n);
    return rc;
}

static int seq_row(const char *const *cols, int ncols, void *payload)
{
    gcs_buf *b = payload;
    /* Bounded: a body past its maximum would fail the writer's batch. */
    if (ncols > 0 && cols[0] && b->len < GCS_NOTE_BODY_MAX - 64)
        return gcs_buf_printf(b, "%s%s", b->len && b->ptr[b->len - 1] != '[' ? "," : "",
                              cols[0]);
    return 0;
}

/* The body sent: {"type":…,"timestamp":…,"data":DATA}, with the receipts of
 * the key spliced into DATA when asked (read here, inside the transaction
 * that commits the event). Written as text: DATA is already compact JSON from
 * gcs_store__note_prepare, and this runs once per outcome in the writer. */
static int note_body(char **out, gcs_store *s, const gcs_store__note *n)
{
    int rc;
    char ts[40];
    gcs_buf b;
    *out = NULL;
    gcs_buf_init(&b, GCS_NOTE_BODY_MAX);
    gcs_time_format_iso8601(ts, sizeof ts, n->time_ms);
    size_t len = strlen(n->data); /* an object: "{…}" */
    json_t *t = json_string(n->type);
    char *type_text = t ? json_dumps(t, JSON_ENCODE_ANY) : NULL;
    json_decref(t);
    if (!type_text) {
        gcs_buf_release(&b);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    rc = gcs_buf_printf(&b, "{\"type\":%s,\"timestamp\":\"%s\",\"data\":", type_text, ts);
    free(type_text);
    if (rc == 0)
        rc = gcs_buf_put(&b, n->data, len - 1);
    if (rc == 0 && n->receipts_of_key) {
        rc = gcs_buf_puts(&b, len > 2 ? ",\"receipts\":[" : "\"receipts\":[");
        if (rc == 0 && n->run_id && n->source_key) {
            const char *p[] = {n->run_id, n->source_key};
            rc = gcs_store__sql_exec(s,
                                     "SELECT seq FROM receipts WHERE run_id = ? AND source_key = ?"
                                     " ORDER BY seq",
                                     p, 2, seq_row, &b, NULL);
        }
        if (rc == 0)
            rc = gcs_buf_puts(&b, "]");
    }
    if (rc == 0)
        rc = gcs_buf_puts(&b, "}}");
    if (rc == 0 && !(*out = gcs_buf_detach(&b)))
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    gcs_buf_release(&b);
    return rc;
}

int gcs_store__note_write(gcs_store *s, gcs_store__note *n)
{
    char *body = NULL;
    char t[24], deadline[24], after[24];
    int rc = note_body(&body, s, n);
    free(n->body);
    n->body = NULL;
    gcs_store__sql_i64(t, n->time_ms);
    gcs_store__sql_i64(deadline, n->time_ms + n->dead_after_ms);
    gcs_store__sql_i64(after, n->dead_after_ms);
    for (size_t i = 0; i < n->nendpoints && rc == 0; i++) {
        const char *p[] = {n->msg_id, n->endpoints[i], n->type, body, t, deadline, after, t, t};
        rc = gcs_store__sql_exec(s,
                                 "INSERT INTO notifications (msg_id, endpoint, event_type, body,"
                                 " state, attempts, not_before_ms, deadline_ms, dead_after_ms,"
                                 " created_ms, updated_ms)"
                                 " VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?)",
                                 p, 9, NULL, NULL, NULL);
    }
    if (rc < 0) {
        free(body);
        return gcs_error_prefix(rc, "cannot queue notification '%s'", n->type);
    }
    n->body = body;
    return 0;
}

void gcs_store__note_audit(const gcs_store__note *n)
{
    if (!n || !n->audit || !n->body || !gcs_log_enabled(GCS_LOG_INFO))
        return;
    json_t *doc = json_loads(n->body, 0, NULL);
    json_t *fields = json_object();
    if (doc && fields) {
        json_object_set(fields, "type", json_object_get(doc, "type"));
        json_object_update(fields, json_object_get(doc, "data"));
        gcs_log_json(GCS_LOG_INFO, "audit.outcome", fields);
    }
    json_decref(fields);
    json_decref(doc);
}

int gcs_store_item_mark_notify(gcs_store *s, const char *run_id, const char *key,
                               const char *state, const char *genesys_id, const char *detail,
                               const gcs_outbox_event *ev)
{
    gcs_store__note *note = NULL;
    int rc;
    if (!ev)
        return gcs_store_item_mark_queued(s, run_id, key, state, genesys_id, detail);
    if (!state || (strcmp(state, GCS_ITEM_DONE) != 0 && strcmp(state, GCS_ITEM_FAILED) != 0))
        return gcs_error_set(GCS_EINVALID, "only an outcome (done, failed) is notified, not '%s'",
                             state ? state : "(null)");
    if (!run_id || !key)
        return gcs_error_set(GCS_EINVALID, "an item mark needs a run and a key");
    if ((rc = gcs_store__note_prepare(&note, ev)) < 0)
        return rc;
    rc = gcs_store__mark_enqueue_note(s, run_id, key, state, genesys_id, detail, false, note);
    if (rc < 0)
        gcs_error_prefix(rc, "cannot mark item '%s' of run '%s'", key, run_id);
    return rc;
}

int gcs_store_run_finish_notify(gcs_store *s, const char *run_id, const char *state,
                                const gcs_outbox_event *ev)
{
    gcs_store__note *note = NULL;
    int rc;
    int64_t changed = 0;
    char now[24];
    if (!ev)
        return gcs_store_run_finish(s, run_id, state);
    if (!state || (strcmp(state, GCS_RUN_DONE) != 0 && strcmp(state, GCS_RUN_FAILED) != 0 &&
                   strcmp(state, GCS_RUN_INTERRUPTED) != 0 && strcmp(state, GCS_RUN_RUNNING) != 0))
        return gcs_error_set(GCS_EINVALID, "unknown run state '%s'", state ? state : "(null)");
    if ((rc = gcs_store__note_prepare(&note, ev)) < 0)
        return rc;
    if (!note)
        return gcs_store_run_finish(s, run_id, state);
    if ((rc = gcs_store_flush(s)) < 0 || (rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    bool final = strcmp(state, GCS_RUN_RUNNING) != 0 && strcmp(state, GCS_RUN_INTERRUPTED) != 0;
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    const char *params[] = {state, final ? now : NULL, now, run_id};
    if ((rc = gcs_store__sql_exec(
             s, "UPDATE runs SET state = ?, finished_ms = ?, updated_ms = ? WHERE id = ?",
             params, 4, NULL, NULL, &changed)) < 0)
        goto out;
    if (changed == 0) {
        rc = gcs_error_set(GCS_ENOTFOUND, "no run '%s'", run_id);
        goto out;
    }
    if ((rc = gcs_store__note_write(s, note)) < 0)
        goto out;
    if ((rc = gcs_store__sql_commit(s)) == 0)
        gcs_store__note_audit(note);
out:
    if (rc < 0)
        gcs_store__sql_rollback(s);
    gcs_store__note_free(note);
    return rc;
}

int gcs_store_outbox_add(size_t *n_out, gcs_store *s, const gcs_outbox_event *ev)
{
    gcs_store__note *note = NULL;
    int rc;
    if (n_out)
        *n_out = 0;
    if ((rc = gcs_store__note_prepare(&note, ev)) < 0 || !note)
        return rc;
    if ((rc = gcs_store_flush(s)) < 0 || (rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    if ((rc = gcs_store__note_write(s, note)) < 0)
        goto out;
    if ((rc = gcs_store__sql_commit(s)) == 0) {
        gcs_store__note_audit(note);
        if (n_out)
            *n_out = note->nendpoints;
    }
out:
    if (rc < 0)
        gcs_store__sql_rollback(s);
    gcs_store__note_free(note);
    return rc;
}

/* ==== Reading ==== */

static int fill_note(gcs_notification *n, const char *const *c)
{
    memset(n, 0, sizeof *n);
    n->id = gcs_store__sql_int(c[0]);
    n->msg_id = gcs_store__sql_dup(c[1]);
    n->endpoint = gcs_store__sql_dup(c[2]);
    n->type = gcs_store__sql_dup(c[3]);
    n->body = gcs_store__sql_dup(c[4]);
    n->state = gcs_store__sql_dup(c[5]);
    n->attempts = (int)gcs_store__sql_int(c[6]);
    n->not_before_ms = gcs_store__sql_int(c[7]);
    n->deadline_ms = gcs_store__sql_int(c[8]);
    n->dead_after_ms = gcs_store__sql_int(c[9]);
    n->lease_owner = gcs_store__sql_dup(c[10]);
    n->lease_until_ms = gcs_store__sql_int(c[11]);
    n->last_error = gcs_store__sql_dup(c[12]);
    n->created_ms = gcs_store__sql_int(c[13]);
    n->updated_ms = gcs_store__sql_int(c[14]);
    n->delivered_ms = gcs_store__sql_int(c[15]);
    if (!n->msg_id || !n->endpoint || !n->type || !n->body || !n->state) {
        gcs_notification_release(n);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

typedef struct note_list {
    gcs_notification *items;
    size_t n, cap;
} note_list;

static int list_row(const char *const *cols, int ncols, void *payload)
{
    note_list *l = payload;
    if (ncols < NOTE_NCOLS || l->n >= l->cap)
        return 0;
    return fill_note(&l->items[l->n++], cols) < 0 ? (l->n--, GCS_ENOMEM) : 0;
}

int gcs_store_notification_get(gcs_notification *out, gcs_store *s, int64_t id)
{
    char nid[24];
    note_list l = {out, 0, 1};
    memset(out, 0, sizeof *out);
    const char *p[] = {gcs_store__sql_i64(nid, id)};
    int rc = gcs_store__sql_exec(s, "SELECT " NOTE_COLUMNS " FROM notifications WHERE id = ?", p,
                                 1, list_row, &l, NULL);
    if (rc == 0 && l.n == 0)
        rc = gcs_error_set(GCS_ENOTFOUND, "no notification %lld", (long long)id);
    return rc;
}

typedef struct each_ctx {
    int (*fn)(const gcs_notification *n, void *payload);
    void *payload;
} each_ctx;

static int each_row(const char *const *cols, int ncols, void *payload)
{
    each_ctx *c = payload;
    gcs_notification n;
    int rc;
    if (ncols < NOTE_NCOLS)
        return 0;
    if ((rc = fill_note(&n, cols)) < 0)
        return rc;
    rc = c->fn(&n, c->payload);
    gcs_notification_release(&n);
    return rc;
}

int gcs_store_notifications_each(gcs_store *s, const char *state,
                                 int (*fn)(const gcs_notification *n, void *payload),
                                 void *payload)
{
    each_ctx c = {fn, payload};
    const char *p[] = {state};
    int rc = gcs_store_flush(s);
    if (rc < 0)
        return rc;
    if (state)
        return gcs_store__sql_exec(s,
                                   "SELECT " NOTE_COLUMNS
                                   " FROM notifications WHERE state = ? ORDER BY id",
                                   p, 1, each_row, &c, NULL);
    return gcs_store__sql_exec(s, "SELECT " NOTE_COLUMNS " FROM notifications ORDER BY id", NULL,
                               0, each_row, &c, NULL);
}

static int count_row(const char *const *cols, int ncols, void *payload)
{
    int64_t *c = payload;
    if (ncols < 2 || !cols[0])
        return 0;
    if (strcmp(cols[0], GCS_NOTE_DEAD) == 0)
        c[1] += gcs_store__sql_int(cols[1]);
    else
        c[0] += gcs_store__sql_int(cols[1]);
    return 0;
}

int gcs_store_notification_counts(int64_t *pending, int64_t *dead, gcs_store *s)
{
    int64_t c[2] = {0, 0};
    int rc = gcs_store__sql_exec(s,
                                 "SELECT state, COUNT(*) FROM notifications"
                                 " WHERE state IN ('pending', 'sending', 'dead') GROUP BY state",
                                 NULL, 0, count_row, c, NULL);
    if (pending)
        *pending = c[0];
    if (dead)
        *dead = c[1];
    return rc;
}

/* ==== Sending ==== */

typedef struct claim_row {
    int64_t id;
    bool overdue;
} claim_row;

typedef struct claim_rows {
    claim_row *r;
    size_t n, cap;
    int64_t now;
} claim_rows;

static int claim_candidate(const char *const *cols, int ncols, void *payload)
{
    claim_rows *c = payload;
    if (ncols < 3 || c->n >= c->cap)
        return 0;
    c->r[c->n].id = gcs_store__sql_int(cols[0]);
    c->r[c->n].overdue = gcs_store__sql_int(cols[1]) < c->now && cols[2] &&
                         strcmp(cols[2], GCS_NOTE_PENDING) == 0;
    c->n++;
    return 0;
}

int gcs_store_notifications_claim(gcs_notification **out, size_t *n_out, gcs_store *s,
                                  const char *sender, int64_t lease_ms, int64_t due_ms,
                                  size_t max)
{
    int rc;
    char now[24], due[24], until[24], nid[24], sql[512];
    claim_row rows[CLAIM_MAX];
    gcs_notification *list = NULL;
    size_t taken = 0;
    *out = NULL;
    *n_out = 0;
    if (!sender || !*sender || strlen(sender) >= 128)
        return gcs_error_set(GCS_EINVALID, "a sender name of 1 to 127 bytes is needed");
    if (max == 0 || max > CLAIM_MAX)
        max = CLAIM_MAX;
    int64_t t = gcs_time_wall_ms();
    claim_rows cs = {rows, 0, max, t};
    gcs_store__sql_i64(now, t);
    gcs_store__sql_i64(due, due_ms > 0 && due_ms < t ? due_ms : t);
    gcs_store__sql_i64(until, t + (lease_ms > 0 ? lease_ms : 1));
    if (!(list = calloc(max, sizeof *list)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    /* A sending row whose lease ran out is its dead sender's: ready again,
     * with the attempt it was on counted. */
    snprintf(sql, sizeof sql,
             "SELECT id, deadline_ms, state FROM notifications"
             " WHERE (state = 'pending' AND not_before_ms <= ?)"
             " OR (state = 'sending' AND lease_until_ms < ?)"
             " ORDER BY id LIMIT %zu%s",
             max, gcs_store__sql_skip_locked(s));
    const char *cp[] = {due, now};
    if ((rc = gcs_store__sql_exec(s, sql, cp, 2, claim_candidate, &cs, NULL)) < 0)
        goto out;
    for (size_t i = 0; i < cs.n; i++) {
        gcs_store__sql_i64(nid, rows[i].id);
        if (rows[i].overdue) {
            const char *p[] = {now, nid};
            if ((rc = gcs_store__sql_exec(s,
                                          "UPDATE notifications SET state = 'dead',"
                                          " last_error = COALESCE(last_error, 'not sent')"
                                          " || ' (deadline passed)', updated_ms = ? WHERE id = ?",
                                          p, 2, NULL, NULL, NULL)) < 0)
                goto out;
            continue;
        }
        const char *p[] = {sender, until, now, nid};
        if ((rc = gcs_store__sql_exec(s,
                                      "UPDATE notifications SET state = 'sending', lease_owner = ?,"
                                      " lease_until_ms = ?, attempts = attempts + 1,"
                                      " updated_ms = ? WHERE id = ?",
                                      p, 4, NULL, NULL, NULL)) < 0)
            goto out;
        note_list l = {list + taken, 0, 1};
        const char *gp[] = {nid};
        if ((rc = gcs_store__sql_exec(s, "SELECT " NOTE_COLUMNS " FROM notifications WHERE id = ?",
                                      gp, 1, list_row, &l, NULL)) < 0)
            goto out;
        taken += l.n;
    }
    if ((rc = gcs_store__sql_commit(s)) < 0)
        goto out;
    if (taken) {
        *out = list;
        *n_out = taken;
        list = NULL;
    }
out:
    if (rc < 0)
        gcs_store__sql_rollback(s);
    gcs_notifications_free(list, taken);
    if (rc < 0)
        gcs_error_prefix(rc, "cannot claim notifications");
    return rc;
}

static int explain(gcs_store *s, int64_t id, const char *what)
{
    gcs_notification n;
    int rc = gcs_store_notification_get(&n, s, id);
    if (rc < 0)
        return rc;
    rc = gcs_error_set(GCS_ECONFLICT, "notification %lld is %s%s%s: cannot %s it", (long long)id,
                       n.state, n.lease_owner && strcmp(n.state, GCS_NOTE_SENDING) == 0 ? " by " : "",
                       n.lease_owner && strcmp(n.state, GCS_NOTE_SENDING) == 0 ? n.lease_owner : "",
                       what);
    gcs_notification_release(&n);
    return rc;
}

int gcs_store_notification_delivered(gcs_store *s, int64_t id, const char *sender)
{
    (void)sender;
    /* A delivery is a fact whoever made it: a sender whose lease ran out while
     * the receiver answered still records it (the other sender's copy carries
     * the same webhook-id). */
    return gcs_store__update_row_or_refuse(
        s,
        "UPDATE notifications SET state = 'delivered', delivered_ms = ?,"
        " lease_owner = NULL, lease_until_ms = NULL, last_error = NULL,"
        " updated_ms = ? WHERE id = ? AND state IN ('pending', 'sending')",
        2, id, explain, "mark delivered");
}

typedef struct fail_info {
    bool found;
    int attempts;
    int64_t deadline_ms;
} fail_info;

static int fail_row(const char *const *cols, int ncols, void *payload)
{
    fail_info *f = payload;
    if (ncols < 2)
        return 0;
    f->found = true;
    f->attempts = (int)gcs_store__sql_int(cols[0]);
    f->deadline_ms = gcs_store__sql_int(cols[1]);
    return 0;
}

int gcs_store_notification_failed(bool *dead_out, gcs_store *s, int64_t id, const char *sender,
                                  const char *reason, int64_t retry_after_ms)
{
    int rc;
    char nid[24], now[24], nb[24], sql[256], why[1024];
    fail_info f = {0};
    int64_t t = gcs_time_wall_ms();
    if (dead_out)
        *dead_out = false;
    gcs_store__sql_i64(nid, id);
    gcs_store__sql_i64(now, t);
    snprintf(why, sizeof why, "%s", reason ? reason : "failed");
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    snprintf(sql, sizeof sql,
             "SELECT attempts, deadline_ms FROM notifications"
             " WHERE id = ? AND state = 'sending' AND lease_owner = ?%s",
             gcs_store__sql_for_update(s));
    const char *p[] = {nid, sender};
    if ((rc = gcs_store__sql_exec(s, sql, p, 2, fail_row, &f, NULL)) < 0)
        goto out;
    if (!f.found) {
        gcs_store__sql_rollback(s);
        rc = explain(s, id, "fail");
        goto out;
    }
    int64_t wait = gcs_store__backoff_ms(&s->note_backoff, f.attempts);
    if (retry_after_ms > wait)
        wait = retry_after_ms;
    bool dead = t + wait > f.deadline_ms;
    if (dead)
        snprintf(why, sizeof why, "%s (no delivery by its deadline, after %d attempts)",
                 reason ? reason : "failed", f.attempts);
    const char *up[] = {dead ? GCS_NOTE_DEAD : GCS_NOTE_PENDING, why,
                        gcs_store__sql_i64(nb, t + wait), now, nid};
    if ((rc = gcs_store__sql_exec(s,
                                  "UPDATE notifications SET state = ?, last_error = ?,"
                                  " not_before_ms = ?, lease_owner = NULL, lease_until_ms = NULL,"
                                  " updated_ms = ? WHERE id = ?",
                                  up, 5, NULL, NULL, NULL)) < 0)
        goto out;
    if ((rc = gcs_store__sql_commit(s)) == 0 && dead_out)
        *dead_out = dead;
out:
    if (rc < 0)
        gcs_store__sql_rollback(s);
    return rc;
}

/* ==== By hand ==== */

int gcs_store_notification_retry(gcs_store *s, int64_t id)
{
    return gcs_store__update_row_or_refuse(
        s,
        "UPDATE notifications SET state = 'pending', attempts = 0,"
        " not_before_ms = ?, deadline_ms = ? + dead_after_ms,"
        " lease_owner = NULL, lease_until_ms = NULL, updated_ms = ?"
        " WHERE id = ? AND state IN ('dead', 'dropped')",
        3, id, explain, "retry");
}

int gcs_store_notification_drop(gcs_store *s, int64_t id)
{
    return gcs_store__update_row_or_refuse(
        s,
        "UPDATE notifications SET state = 'dropped',"
        " lease_owner = NULL, lease_until_ms = NULL, updated_ms = ?"
        " WHERE id = ? AND state IN ('pending', 'dead')",
        1, id, explain, "drop");
}
