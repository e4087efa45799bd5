/*
 * gcstest.h - what the tests share: cmocka, temporary directories, running a
 * program and capturing its output, and starting a server program on a free
 * loopback port and stopping it.
 *
 * Servers are started with `--listen 127.0.0.1:0 --ready-file FILE`; the program
 * writes {"api_url":…,"login_url":…,"port":…} to FILE once it listens, and the
 * harness waits for that file (bounded). Every wait in here has a deadline.
 */
#ifndef GCS_TESTS_GCSTEST_H
#define GCS_TESTS_GCSTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"

/* Path of a built program: $GCSCIM_BIN / $GCSCIM_EMULATOR, else the build dir. */
const char *gcs_test_cli_path(void);
const char *gcs_test_emulator_path(void);

/* A fresh directory under $TMPDIR, removed (recursively) by gcs_test_tmpdir_remove. */
char *gcs_test_tmpdir(void);
void gcs_test_tmpdir_remove(char *dir);
/* Writes `text` to dir/name and returns the path (caller frees). */
char *gcs_test_write_file(const char *dir, const char *name, const char *text);

typedef struct gcs_test_run {
    int exit_code;     /* -1 when killed by a signal or timed out */
    gcs_buf out;
    gcs_buf err;
} gcs_test_run;

/*
 * Runs argv (argv[0] is a path) with `env` (NULL-terminated "K=V" strings added to
 * a minimal environment: PATH, HOME, TMPDIR) and optional stdin text, capturing
 * output. Killed after timeout_ms.
 */
int gcs_test_run_program(gcs_test_run *out, const char *const *argv, const char *const *env,
                         const char *stdin_text, int timeout_ms);
void gcs_test_run_release(gcs_test_run *r);

typedef struct gcs_test_server {
    pid_t pid;
    int port;
    char api_url[128];
    char login_url[128];
    char *dir;         /* holds the ready file and the server's log */
    char log_path[512];
} gcs_test_server;

/*
 * Starts `program` with `args` (NULL-terminated) plus
 * --listen 127.0.0.1:0 --ready-file DIR/ready.json, output to DIR/server.log.
 * Fails the test if it is not ready within timeout_ms.
 */
void gcs_test_server_start(gcs_test_server *s, const char *program, const char *const *args,
                           int timeout_ms);
/* SIGTERM, then SIGKILL after 5 s; returns the exit status (or -1). */
int gcs_test_server_stop(gcs_test_server *s);

/* Writes `seed` (the emulator's --seed JSON) to DIR/org.json and starts the
 * emulator on it without rate limit, with more_args (NULL-terminated, may be
 * NULL) after those. */
void gcs_test_emulator_start_seeded(gcs_test_server *emu, const char *dir, const char *seed,
                                    const char *const *more_args);
/* cfg from the environment, naming the emulator at api_url and its default
 * client (gcscim-emulator). */
void gcs_test_config_for_emulator(gcs_config *cfg, const char *api_url);
/* A Genesys session from cfg and a SQLite store at dir/gcscim.db, or the test
 * fails naming which did not open. */
struct gcs_genesys_session;
struct gcs_store;
void gcs_test_open_session_and_store(struct gcs_genesys_session **session,
                                     struct gcs_store **store, const gcs_config *cfg,
                                     const char *dir);

/* Aborts the process after `seconds` (times $GCS_TEST_DEADLINE_SCALE, 1 to 100,
 * for slow runs such as valgrind's): a hung test fails instead of stalling. */
void gcs_test_deadline(unsigned seconds);

#endif
