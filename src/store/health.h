/*
 * health.h - checks of a store that leave no trace, for `gcscim doctor`.
 */
#ifndef GCS_STORE_HEALTH_H
#define GCS_STORE_HEALTH_H

#include "store/store.h"

/*
 * Proves that the store takes writes without keeping one: opens a write
 * transaction, inserts a run row and rolls it back. 0 when the write went
 * through; otherwise the back end's error (GCS_EIO, "attempt to write a
 * readonly database", "permission denied for table runs", ...), with nothing
 * changed either way.
 */
int gcs_store_check_writable(gcs_store *s);

#endif
