/*
 * Versioned schema migrations, applied when a store is opened.
 *
 * schema_version holds one row per applied migration. Migrations run in one
 * write transaction (on PostgreSQL under an advisory lock as well, so that two
 * hosts starting at once do not both migrate). A migration, once released, is
 * never edited: a change to the schema is a new migration at the end.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

#include <stdio.h>

typedef struct migration {
    int version;
    const char *sqlite;
    const char *postgres;
} migration;

/* ==== 1: receipts, chain head, runs, items, jobs ==== */

static const char v1_sqlite[] =
    "CREATE TABLE receipts ("
    " seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
    " run_id TEXT, operation TEXT, resource_type TEXT, source_key TEXT, genesys_id TEXT,"
    " method TEXT, path TEXT, request_body TEXT, status INTEGER NOT NULL,"
    " response_body TEXT, etag_sent TEXT, etag_received TEXT, attempts INTEGER NOT NULL,"
    " latency_ms INTEGER NOT NULL, outcome TEXT, correlation_id TEXT,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX receipts_run ON receipts(run_id);"
    "CREATE INDEX receipts_source_key ON receipts(source_key);"
    "CREATE INDEX receipts_genesys_id ON receipts(genesys_id);"
    "CREATE INDEX receipts_time ON receipts(time_ms);"
    "CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts"
    " BEGIN SELECT RAISE(ABORT, 'receipts are append-only: UPDATE refused'); END;"
    "CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts"
    " BEGIN SELECT RAISE(ABORT, 'receipts are append-only: DELETE refused'); END;"
    "CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL, hash TEXT NOT NULL);"
    "INSERT INTO chain_head VALUES (1, 0, "
    "'0000000000000000000000000000000000000000000000000000000000000000');"
    "CREATE TRIGGER chain_head_forward BEFORE UPDATE ON chain_head"
    " WHEN NEW.seq <= OLD.seq OR NEW.id <> OLD.id"
    " BEGIN SELECT RAISE(ABORT, 'the receipt chain head only moves forward'); END;"
    "CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON chain_head"
    " BEGIN SELECT RAISE(ABORT, 'the receipt chain head cannot be deleted'); END;"
    "CREATE TABLE runs (id TEXT PRIMARY KEY, command TEXT, plan_id TEXT,"
    " state TEXT NOT NULL, started_ms INTEGER NOT NULL, finished_ms INTEGER,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE INDEX runs_plan ON runs(plan_id, state);"
    "CREATE TABLE run_items (run_id TEXT NOT NULL REFERENCES runs(id),"
    " item_key TEXT NOT NULL, state TEXT NOT NULL, genesys_id TEXT, detail TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, item_key));"
    "CREATE INDEX run_items_state ON run_items(run_id, state);"
    "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, job_key TEXT NOT NULL,"
    " payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL, not_before_ms INTEGER NOT NULL, lease_owner TEXT,"
    " lease_until_ms INTEGER, last_error TEXT, created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE INDEX jobs_ready ON jobs(state, not_before_ms);"
    "CREATE INDEX jobs_key ON jobs(job_key, state);"
    "CREATE UNIQUE INDEX jobs_one_pending ON jobs(job_key) WHERE state = 'pending';";

static const char v1_postgres[] =
    "CREATE TABLE receipts ("
    " seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL,"
    " run_id TEXT, operation TEXT, resource_type TEXT, source_key TEXT, genesys_id TEXT,"
    " method TEXT, path TEXT, request_body TEXT, status INTEGER NOT NULL,"
    " response_body TEXT, etag_sent TEXT, etag_received TEXT, attempts INTEGER NOT NULL,"
    " latency_ms BIGINT NOT NULL, outcome TEXT, correlation_id TEXT,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX receipts_run ON receipts(run_id);"
    "CREATE INDEX receipts_source_key ON receipts(source_key);"
    "CREATE INDEX receipts_genesys_id ON receipts(genesys_id);"
    "CREATE INDEX receipts_time ON receipts(time_ms);"
    "CREATE FUNCTION gcscim_receipts_refuse() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN RAISE EXCEPTION 'receipts are append-only: % refused', TG_OP"
    " USING ERRCODE = 'insufficient_privilege'; END $f$;"
    "CREATE TRIGGER receipts_no_change BEFORE UPDATE OR DELETE ON receipts"
    " FOR EACH ROW EXECUTE FUNCTION gcscim_receipts_refuse();"
    "CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON receipts"
    " FOR EACH STATEMENT EXECUTE FUNCTION gcscim_receipts_refuse();"
    "REVOKE UPDATE, DELETE, TRUNCATE ON receipts FROM PUBLIC;"
    "CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq BIGINT NOT NULL, hash TEXT NOT NULL);"
    "INSERT INTO chain_head VALUES (1, 0, "
    "'0000000000000000000000000000000000000000000000000000000000000000');"
    "CREATE FUNCTION gcscim_chain_head_forward() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN IF TG_OP <> 'UPDATE' OR NEW.seq <= OLD.seq OR NEW.id <> OLD.id THEN"
    " RAISE EXCEPTION 'the receipt chain head only moves forward (% refused)', TG_OP"
    " USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $f$;"
    "CREATE TRIGGER chain_head_forward BEFORE UPDATE OR DELETE ON chain_head"
    " FOR EACH ROW EXECUTE FUNCTION gcscim_chain_head_forward();"
    "CREATE TRIGGER chain_head_no_truncate BEFORE TRUNCATE ON chain_head"
    " FOR EACH STATEMENT EXECUTE FUNCTION gcscim_chain_head_forward();"
    "REVOKE DELETE, TRUNCATE ON chain_head FROM PUBLIC;"
    "CREATE TABLE runs (id TEXT PRIMARY KEY, command TEXT, plan_id TEXT,"
    " state TEXT NOT NULL, started_ms BIGINT NOT NULL, finished_ms BIGINT,"
    " updated_ms BIGINT NOT NULL);"
    "CREATE INDEX runs_plan ON runs(plan_id, state);"
    "CREATE TABLE run_items (run_id TEXT NOT NULL REFERENCES runs(id),"
    " item_key TEXT NOT NULL, state TEXT NOT NULL, genesys_id TEXT, detail TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0, updated_ms BIGINT NOT NULL,"
    " PRIMARY KEY (run_id, item_key));"
    "CREATE INDEX run_items_state ON run_items(run_id, state);"
    "CREATE TABLE jobs (id BIGSERIAL PRIMARY KEY, job_key TEXT NOT NULL,"
    " payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL, not_before_ms BIGINT NOT NULL, lease_owner TEXT,"
    " lease_until_ms BIGINT, last_error TEXT, created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL);"
    "CREATE INDEX jobs_ready ON jobs(state, not_before_ms);"
    "CREATE INDEX jobs_key ON jobs(job_key, state);"
    "CREATE UNIQUE INDEX jobs_one_pending ON jobs(job_key) WHERE state = 'pending';";

/* ==== 2: run leases (one apply or sync of a plan at a time) ==== */

/* Keyed by the plan's identity rather than by run: two processes that start
 * the same plan at once must not both create a run either. */
static const char v2_sqlite[] =
    "CREATE TABLE run_leases (plan_id TEXT PRIMARY KEY, run_id TEXT, owner TEXT NOT NULL,"
    " host TEXT NOT NULL, pid INTEGER NOT NULL, since_ms INTEGER NOT NULL,"
    " heartbeat_ms INTEGER NOT NULL, until_ms INTEGER NOT NULL);";

static const char v2_postgres[] =
    "CREATE TABLE run_leases (plan_id TEXT PRIMARY KEY, run_id TEXT, owner TEXT NOT NULL,"
    " host TEXT NOT NULL, pid BIGINT NOT NULL, since_ms BIGINT NOT NULL,"
    " heartbeat_ms BIGINT NOT NULL, until_ms BIGINT NOT NULL);";

/* ==== 3: the plan each run applied (what `gcscim undo` takes back) ==== */

/* Keyed by run: a plan applied twice (a resume) is one run and one plan. The
 * text is the plan document as apply read it, seal included, so that undo can
 * check it was made by gcscim with these credentials. */
static const char v3_sqlite[] =
    "CREATE TABLE run_plans (run_id TEXT PRIMARY KEY REFERENCES runs(id),"
    " plan TEXT NOT NULL, bytes INTEGER NOT NULL, stored_ms INTEGER NOT NULL);";

static const char v3_postgres[] =
    "CREATE TABLE run_plans (run_id TEXT PRIMARY KEY REFERENCES runs(id),"
    " plan TEXT NOT NULL, bytes BIGINT NOT NULL, stored_ms BIGINT NOT NULL);";

/* ==== 4: a job's outcome (the service's workers write it) ==== */

/* result: JSON text, set when a job is done or waits for an approval (state
 * 'needs_approval', a state that needs no schema change). */
static const char v4_sqlite[] = "ALTER TABLE jobs ADD COLUMN result TEXT;";
static const char v4_postgres[] = "ALTER TABLE jobs ADD COLUMN result TEXT;";

/* ==== 5: webhook ids seen (an event delivered twice is queued once) ==== */

/* Committed with the job the event became; rows older than the retention are
 * pruned as new ones arrive (received_ms is indexed for that). */
static const char v5_sqlite[] =
    "CREATE TABLE webhook_ids (webhook_id TEXT PRIMARY KEY, job_id INTEGER,"
    " received_ms INTEGER NOT NULL);"
    "CREATE INDEX webhook_ids_received ON webhook_ids(received_ms);";

static const char v5_postgres[] =
    "CREATE TABLE webhook_ids (webhook_id TEXT PRIMARY KEY, job_id BIGINT,"
    " received_ms BIGINT NOT NULL);"
    "CREATE INDEX webhook_ids_received ON webhook_ids(received_ms);";

/* ==== 6: what gcscim added to groups (memberships, role grants) ==== */

/* gcscim removes from a group only what it added there, unless the profile
 * says the group's membership is the directory's alone: this is the record. */
static const char v6_sqlite[] =
    "CREATE TABLE group_owned (group_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " value TEXT NOT NULL, run_id TEXT, added_ms INTEGER NOT NULL,"
    " PRIMARY KEY (group_id, kind, value));";

static const char v6_postgres[] =
    "CREATE TABLE group_owned (group_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " value TEXT NOT NULL, run_id TEXT, added_ms BIGINT NOT NULL,"
    " PRIMARY KEY (group_id, kind, value));";

/* ==== 7: the outbox of notifications ==== */

/* One row per event and endpoint; msg_id (the webhook-id) is shared by the
 * rows of one event and never changes. */
#define V7_COLUMNS(INT, SERIAL)                                                                    \
    "CREATE TABLE notifications (id " SERIAL ", msg_id TEXT NOT NULL,"                           \
    " endpoint TEXT NOT NULL, event_type TEXT NOT NULL, body TEXT NOT NULL,"                      \
    " state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before_ms " INT " NOT NULL,"  \
    " deadline_ms " INT " NOT NULL, dead_after_ms " INT " NOT NULL, lease_owner TEXT,"           \
    " lease_until_ms " INT ", last_error TEXT, created_ms " INT " NOT NULL,"                      \
    " updated_ms " INT " NOT NULL, delivered_ms " INT ", UNIQUE (msg_id, endpoint));"             \
    "CREATE INDEX notifications_ready ON notifications(state, not_before_ms);"

static const char v7_sqlite[] = V7_COLUMNS("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT");
static const char v7_postgres[] = V7_COLUMNS("BIGINT", "BIGSERIAL PRIMARY KEY");

/* ==== 8: what an idempotent request asked (POST /v1/users, Idempotency-Key) ==== */

/* A request's key is kept in webhook_ids, as long as a webhook id is, with a
 * digest of what it asked: the same key asking something else is refused.
 * NULL for webhook ids. */
static const char v8_sqlite[] = "ALTER TABLE webhook_ids ADD COLUMN request_hash TEXT;";
static const char v8_postgres[] = "ALTER TABLE webhook_ids ADD COLUMN request_hash TEXT;";

/* ==== 9: the directory's group hierarchy, as last applied ==== */

/* One row per parent link of a kept group (its directory key, a parent's key),
 * replaced with the group's item mark; children are found by parent_key. */
#define V9_COLUMNS(INT)                                                                            \
    "CREATE TABLE group_links (group_key TEXT NOT NULL, parent_key TEXT NOT NULL,"                 \
    " group_id TEXT, run_id TEXT, updated_ms " INT " NOT NULL,"                                    \
    " PRIMARY KEY (group_key, parent_key));"                                                      \
    "CREATE INDEX group_links_parent ON group_links(parent_key);"

static const char v9_sqlite[] = V9_COLUMNS("INTEGER");
static const char v9_postgres[] = V9_COLUMNS("BIGINT");

/* ==== 10: the hosts sharing one client's rate limit ==== */

/* Each serve process beats its row; the live rows say how many share the
 * limit (store.h, "Hosts"). */
static const char v10_sqlite[] =
    "CREATE TABLE hosts (host_id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL,"
    " until_ms INTEGER NOT NULL);";
static const char v10_postgres[] =
    "CREATE TABLE hosts (host_id TEXT PRIMARY KEY, seen_ms BIGINT NOT NULL,"
    " until_ms BIGINT NOT NULL);";

/* ==== 11: a run's plan kept in parts ==== */

/* The plan's text in parts of at most GCS_STORE_PLAN_PART bytes, in order
 * (store.h): apply keeps a plan, and undo reads it, without holding it whole.
 * run_plans keeps one row per run (its bytes, when it was kept); its `plan`
 * holds the text itself only for the runs kept before this version. */
#define V11_COLUMNS(INT)                                                                           \
    "CREATE TABLE run_plan_parts (run_id TEXT NOT NULL REFERENCES runs(id),"                      \
    " part " INT " NOT NULL, text TEXT NOT NULL, PRIMARY KEY (run_id, part));"

static const char v11_sqlite[] = V11_COLUMNS("INTEGER");
static const char v11_postgres[] = V11_COLUMNS("BIGINT");

/* ==== 12: run items kept in their key's order, without a state index ==== */

/* Each item mark (two a create, one a PATCH) rewrote the row and moved its
 * entry in run_items_state, and SQLite kept the primary key as a third
 * b-tree beside the rows: three b-trees per mark, in the receipt writer's
 * small transactions. On SQLite the items are now one b-tree keyed by
 * (run_id, item_key) (WITHOUT ROWID); on both back ends the state index goes.
 * Its one reader, the counts of a run's items by state, reads the run's rows
 * by the primary key in one pass instead (runs.c). */
static const char v12_sqlite[] =
    "CREATE TABLE run_items_v12 (run_id TEXT NOT NULL REFERENCES runs(id),"
    " item_key TEXT NOT NULL, state TEXT NOT NULL, genesys_id TEXT, detail TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, item_key)) WITHOUT ROWID;"
    "INSERT INTO run_items_v12 (run_id, item_key, state, genesys_id, detail, attempts,"
    " updated_ms) SELECT run_id, item_key, state, genesys_id, detail, attempts, updated_ms"
    " FROM run_items;"
    "DROP TABLE run_items;"
    "ALTER TABLE run_items_v12 RENAME TO run_items;";
static const char v12_postgres[] = "DROP INDEX run_items_state;";

static const migration migrations[] = {
    {1, v1_sqlite, v1_postgres},
    {2, v2_sqlite, v2_postgres},
    {3, v3_sqlite, v3_postgres},
    {4, v4_sqlite, v4_postgres},
    {5, v5_sqlite, v5_postgres},
    {6, v6_sqlite, v6_postgres},
    {7, v7_sqlite, v7_postgres},
    {8, v8_sqlite, v8_postgres},
    {9, v9_sqlite, v9_postgres},
    {10, v10_sqlite, v10_postgres},
    {11, v11_sqlite, v11_postgres},
    {12, v12_sqlite, v12_postgres},
};

static int version_row(const char *const *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0])
        *(int *)payload = (int)gcs_store__sql_int(cols[0]);
    return 0;
}

int gcs_store__migrate(gcs_store *s)
{
    int rc, current = 0;
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        return gcs_error_prefix(rc, "cannot migrate the database schema");
    /* Two hosts starting at once: the second waits, then sees the work done. */
    if (s->kind == GCS_STORE_POSTGRES &&
        (rc = gcs_store__sql_exec(s, "SELECT pg_advisory_xact_lock(1734570861)", NULL, 0, NULL,
                                  NULL, NULL)) < 0)
        goto out;
    if ((rc = s->ops->exec_script(s, "CREATE TABLE IF NOT EXISTS schema_version ("
                                     " version INTEGER PRIMARY KEY,"
                                     " applied_ms BIGINT NOT NULL)")) < 0)
        goto out;
    if ((rc = gcs_store__sql_exec(s, "SELECT MAX(version) FROM schema_version", NULL, 0,
                                  version_row, &current, NULL)) < 0)
        goto out;
    int latest = migrations[sizeof migrations / sizeof *migrations - 1].version;
    if (current > latest) {
        rc = gcs_error_set(GCS_EINVALID,
                           "the database schema is version %d, newer than this gcscim knows (%d): "
                           "upgrade gcscim",
                           current, latest);
        goto out;
    }
    for (size_t i = 0; i < sizeof migrations / sizeof *migrations; i++) {
        const migration *m = &migrations[i];
        if (m->version <= current)
            continue;
        const char *sql = s->kind == GCS_STORE_SQLITE ? m->sqlite : m->postgres;
        if ((rc = s->ops->exec_script(s, sql)) < 0) {
            gcs_error_prefix(rc, "migration %d", m->version);
            goto out;
        }
        char v[24], t[24];
        const char *params[] = {gcs_store__sql_i64(v, m->version),
                                gcs_store__sql_i64(t, gcs_time_wall_ms())};
        if ((rc = gcs_store__sql_exec(
                 s, "INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)", params, 2,
                 NULL, NULL, NULL)) < 0)
            goto out;
    }
    rc = gcs_store__sql_commit(s);
out:
    if (rc < 0) {
        gcs_store__sql_rollback(s);
        gcs_error_prefix(rc, "cannot migrate the database schema");
    }
    return rc;
}
