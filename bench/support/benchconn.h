/*
 * benchconn.h - the library as a benchmark uses it against its emulator: a
 * configuration naming the emulator and its default client, a session and a
 * SQLite store in the benchmark's directory, and the directory's removal.
 */
#ifndef GCS_BENCH_BENCHCONN_H
#define GCS_BENCH_BENCHCONN_H

#include "core/config.h"
#include "genesys/session.h"
#include "store/store.h"

typedef struct gcs_bench_conn {
    gcs_config cfg;
    gcs_genesys_session *session;
    gcs_store *store;
} gcs_bench_conn;

/* Opens a session to `api_url` (max_in_flight: NULL for the default) and the
 * store sqlite:DIR/gcscim.db. The token is not fetched: a benchmark times that
 * or not as it sees fit. Release with gcs_bench_close, whatever this returns. */
int gcs_bench_open(gcs_bench_conn *c, const char *api_url, const char *dir,
                   const char *max_in_flight);
void gcs_bench_close(gcs_bench_conn *c);
/* The API calls the emulator at api_url answered so far (token and admin
 * routes aside): the total, and in *reads (GET) and *writes the rest (either
 * may be NULL). 0 when its statistics cannot be read. */
long gcs_bench_emulator_calls(const char *api_url, long *reads, long *writes);
/* Removes the benchmark's directory; says so on stderr when it cannot. */
void gcs_bench_remove_dir(const char *dir, const char *bench);

#endif
