/*
 * Group ownership (store.h, "Group ownership"): the memberships and role
 * grants gcscim added, so that it removes only those.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

int gcs_store_owned_add(gcs_store *s, const char *group_id, const char *kind, const char *value,
                        const char *run_id)
{
    char now[24];
    const char *params[] = {group_id, kind, value, run_id,
                            gcs_store__sql_i64(now, gcs_time_wall_ms())};
    return gcs_store__sql_exec(s,
                               "INSERT INTO group_owned (group_id, kind, value, run_id, added_ms)"
                               " VALUES (?, ?, ?, ?, ?)"
                               " ON CONFLICT (group_id, kind, value) DO NOTHING",
                               params, 5, NULL, NULL, NULL);
}

int gcs_store_owned_remove(gcs_store *s, const char *group_id, const char *kind, const char *value)
{
    const char *params[] = {group_id, kind, value};
    return gcs_store__sql_exec(
        s, "DELETE FROM group_owned WHERE group_id = ? AND kind = ? AND value = ?", params, 3, NULL,
        NULL, NULL);
}

typedef struct owned_walk {
    int (*fn)(const char *value, void *payload);
    void *payload;
} owned_walk;

static int owned_row(const char *const *cols, int ncols, void *payload)
{
    owned_walk *w = payload;
    return ncols > 0 && cols[0] ? w->fn(cols[0], w->payload) : 0;
}

int gcs_store_owned_each(gcs_store *s, const char *group_id, const char *kind,
                         int (*fn)(const char *value, void *payload), void *payload)
{
    owned_walk w = {fn, payload};
    const char *params[] = {group_id, kind};
    return gcs_store__sql_exec(s,
                               "SELECT value FROM group_owned WHERE group_id = ? AND kind = ?"
                               " ORDER BY value",
                               params, 2, owned_row, &w, NULL);
}
