/*
 * Hosts: the processes that share one client's rate limit announce themselves
 * here (store.h, "Hosts"), so that each can spend its share of the limit.
 *
 * A host's row lives while it beats: one upsert of its own row, one count of
 * the rows still alive. Rows past their expiry are removed by whoever beats
 * next, so a host that died (kill -9) stops counting after one TTL.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

static int count_row(const char *const *c, int ncols, void *payload)
{
    if (ncols > 0 && c[0])
        *(int64_t *)payload = gcs_store__sql_int(c[0]);
    return 0;
}

int gcs_store_host_beat(int *live, gcs_store *s, const char *host_id, int64_t ttl_ms)
{
    char now[24], until[24];
    int64_t t = gcs_time_wall_ms(), n = 0;
    gcs_store__sql_i64(now, t);
    gcs_store__sql_i64(until, t + ttl_ms);
    const char *up[] = {host_id, now, until};
    int rc = gcs_store__sql_exec(s,
                                 "INSERT INTO hosts (host_id, seen_ms, until_ms) VALUES (?, ?, ?)"
                                 " ON CONFLICT (host_id) DO UPDATE SET seen_ms = excluded.seen_ms,"
                                 " until_ms = excluded.until_ms",
                                 up, 3, NULL, NULL, NULL);
    const char *old[] = {now};
    if (rc == 0)
        rc = gcs_store__sql_exec(s, "DELETE FROM hosts WHERE until_ms <= ?", old, 1, NULL, NULL,
                                 NULL);
    if (rc == 0)
        rc = gcs_store__sql_exec(s, "SELECT COUNT(*) FROM hosts WHERE until_ms > ?", old, 1,
                                 count_row, &n, NULL);
    if (rc < 0)
        return gcs_error_prefix(rc, "cannot record host '%s'", host_id);
    if (live)
        *live = n < 1 ? 1 : (int)n;
    return 0;
}

int gcs_store_host_leave(gcs_store *s, const char *host_id)
{
    const char *p[] = {host_id};
    int rc = gcs_store__sql_exec(s, "DELETE FROM hosts WHERE host_id = ?", p, 1, NULL, NULL, NULL);
    return rc < 0 ? gcs_error_prefix(rc, "cannot remove host '%s'", host_id) : 0;
}
