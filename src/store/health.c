/* Checks of a store that leave no trace (health.h). */
#include "store/health.h"
#include "store/store_int.h"

#include "core/error.h"

int gcs_store_check_writable(gcs_store *s)
{
    int rc;
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    /* A row no run can have (state 'doctor'), never committed. */
    rc =
        gcs_store__sql_exec(s,
                            "INSERT INTO runs (id, command, plan_id, state, started_ms, updated_ms)"
                            " VALUES ('doctor-write-check', 'doctor', NULL, 'doctor', 0, 0)",
                            NULL, 0, NULL, NULL, NULL);
out:
    gcs_store__sql_rollback(s);
    return rc;
}
