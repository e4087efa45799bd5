/*
 * Run leases: one apply or sync of a plan at a time, on one host or several
 * sharing a PostgreSQL database (docs/store.md, "Leases").
 *
 * Each change is one statement whose WHERE clause is the rule, so the database
 * decides between two processes racing for the same plan: SQLite serialises
 * writers, and PostgreSQL re-checks an UPDATE's condition on the row it locked
 * (a conflicting INSERT waits for the other transaction, then takes the
 * DO UPDATE path under the same check).
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

void gcs_run_lease_release(gcs_run_lease *l)
{
    if (!l)
        return;
    free(l->plan_id);
    free(l->run_id);
    free(l->owner);
    free(l->host);
    memset(l, 0, sizeof *l);
}

typedef struct one_lease {
    gcs_run_lease *out;
    bool found;
} one_lease;

static int lease_row(const char *const *c, int ncols, void *payload)
{
    one_lease *o = payload;
    if (ncols < 8 || o->found)
        return 0;
    gcs_run_lease *l = o->out;
    l->plan_id = gcs_store__sql_dup(c[0]);
    l->run_id = gcs_store__sql_dup(c[1]);
    l->owner = gcs_store__sql_dup(c[2]);
    l->host = gcs_store__sql_dup(c[3]);
    l->pid = gcs_store__sql_int(c[4]);
    l->since_ms = gcs_store__sql_int(c[5]);
    l->heartbeat_ms = gcs_store__sql_int(c[6]);
    l->until_ms = gcs_store__sql_int(c[7]);
    o->found = true;
    if (!l->plan_id || !l->owner || !l->host || (c[1] && !l->run_id))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_store_lease_get(gcs_run_lease *out, gcs_store *s, const char *plan_id)
{
    memset(out, 0, sizeof *out);
    one_lease o = {out, false};
    const char *params[] = {plan_id};
    int rc = gcs_store__sql_exec(s,
                                 "SELECT plan_id, run_id, owner, host, pid, since_ms, heartbeat_ms,"
                                 " until_ms FROM run_leases WHERE plan_id = ?",
                                 params, 1, lease_row, &o, NULL);
    if (rc == 0 && !o.found)
        rc = gcs_error_set(GCS_ENOTFOUND, "no lease on plan '%s'", plan_id);
    if (rc < 0)
        gcs_run_lease_release(out);
    return rc;
}

int gcs_store_lease_take(gcs_run_lease *holder, gcs_store *s, const char *plan_id,
                         const char *owner, const char *host, int64_t pid, int64_t ttl_ms,
                         const char *dead_owner)
{
    char now[24], until[24], pidtext[24];
    int64_t changed = 0, t = gcs_time_wall_ms();
    int rc;
    if (holder)
        memset(holder, 0, sizeof *holder);
    gcs_store__sql_i64(now, t);
    gcs_store__sql_i64(until, t + ttl_ms);
    gcs_store__sql_i64(pidtext, pid);
    const char *params[] = {plan_id, owner, host, pidtext, now, now, until, now, dead_owner};
    rc = gcs_store__sql_exec(s,
                             "INSERT INTO run_leases (plan_id, run_id, owner, host, pid, since_ms,"
                             " heartbeat_ms, until_ms) VALUES (?, NULL, ?, ?, ?, ?, ?, ?)"
                             " ON CONFLICT (plan_id) DO UPDATE SET"
                             " run_id = CASE WHEN run_leases.owner = excluded.owner"
                             " THEN run_leases.run_id ELSE NULL END,"
                             " since_ms = CASE WHEN run_leases.owner = excluded.owner"
                             " THEN run_leases.since_ms ELSE excluded.since_ms END,"
                             " owner = excluded.owner, host = excluded.host, pid = excluded.pid,"
                             " heartbeat_ms = excluded.heartbeat_ms, until_ms = excluded.until_ms"
                             " WHERE run_leases.until_ms <= ? OR run_leases.owner = excluded.owner"
                             " OR run_leases.owner = ?",
                             params, 9, NULL, NULL, &changed);
    if (rc < 0)
        return gcs_error_prefix(rc, "cannot take the lease on plan '%s'", plan_id);
    if (changed > 0)
        return 0;
    gcs_run_lease l;
    if ((rc = gcs_store_lease_get(&l, s, plan_id)) < 0) {
        /* Released between the two statements: the caller may simply try again. */
        return gcs_error_set(GCS_ECONFLICT, "the lease on plan '%s' changed hands; try again",
                             plan_id);
    }
    rc = gcs_error_set(GCS_ECONFLICT, "plan '%s' is held by %s (pid %lld)", plan_id, l.host,
                       (long long)l.pid);
    if (holder)
        *holder = l;
    else
        gcs_run_lease_release(&l);
    return rc;
}

int gcs_store_lease_renew(gcs_store *s, const char *plan_id, const char *owner, const char *run_id,
                          int64_t ttl_ms)
{
    char now[24], until[24];
    int64_t changed = 0, t = gcs_time_wall_ms();
    gcs_store__sql_i64(now, t);
    gcs_store__sql_i64(until, t + ttl_ms);
    const char *params[] = {now, until, run_id, plan_id, owner};
    int rc = gcs_store__sql_exec(s,
                                 "UPDATE run_leases SET heartbeat_ms = ?, until_ms = ?,"
                                 " run_id = COALESCE(?, run_id) WHERE plan_id = ? AND owner = ?",
                                 params, 5, NULL, NULL, &changed);
    if (rc < 0)
        return gcs_error_prefix(rc, "cannot renew the lease on plan '%s'", plan_id);
    if (changed == 0)
        return gcs_error_set(GCS_ECONFLICT,
                             "the lease on plan '%s' was lost (it expired and was taken over)",
                             plan_id);
    return 0;
}

int gcs_store_lease_release(gcs_store *s, const char *plan_id, const char *owner)
{
    const char *params[] = {plan_id, owner};
    int rc = gcs_store__sql_exec(s, "DELETE FROM run_leases WHERE plan_id = ? AND owner = ?",
                                 params, 2, NULL, NULL, NULL);
    if (rc < 0)
        gcs_error_prefix(rc, "cannot release the lease on plan '%s'", plan_id);
    return rc;
}
