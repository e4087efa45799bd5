/*
 * clitest.h - running the gcscim program against a test emulator, and reading
 * what the emulator saw. Shared by the command-line integration tests so that
 * each states only its case.
 *
 * A gcs_test_cli holds the environment a run gets: the emulator's API URL, the
 * store URL, and the emulator's default client (override `client_id_env` or
 * `secret_env`, or add up to GCS_TEST_CLI_EXTRA_ENV more "K=V" strings).
 */
#ifndef GCS_TESTS_CLITEST_H
#define GCS_TESTS_CLITEST_H

#include <jansson.h>

#include "gcstest.h"

#define GCS_TEST_CLI_EXTRA_ENV 8

typedef struct gcs_test_cli {
    char env_api[256];
    char env_db[1200];
    const char *client_id_env;  /* "GENESYSCLOUD_OAUTHCLIENT_ID=..." (borrowed) */
    const char *secret_env;     /* "GENESYSCLOUD_OAUTHCLIENT_SECRET=..." (borrowed); NULL: none */
    const char *extra_env[GCS_TEST_CLI_EXTRA_ENV];
    int timeout_ms;             /* default 60 s */
} gcs_test_cli;

/* `db_url` is a store URL ("sqlite:/tmp/x/gcscim.db"). */
void gcs_test_cli_init(gcs_test_cli *c, const gcs_test_server *emu, const char *db_url);
/* Adds one "K=V" string (borrowed) to the environment of later runs. */
void gcs_test_cli_setenv(gcs_test_cli *c, const char *kv);
/* Runs gcscim with `args` (NULL-terminated, after the program's name); the exit code. */
int gcs_test_cli_runv(gcs_test_cli *c, gcs_test_run *r, const char *const *args);
/* The same with the arguments listed, ending with NULL. */
int gcs_test_cli_run(gcs_test_cli *c, gcs_test_run *r, ...);
/* Starts gcscim with `args` in the background, in the environment of a run,
 * its output and errors appended to log_path; the child's pid (the caller
 * kills or waits for it). */
pid_t gcs_test_cli_start(gcs_test_cli *c, const char *log_path, const char *const *args);

/* Writes (every method but GET) the emulator answered, token and admin routes aside. */
long gcs_test_emu_writes(const gcs_test_server *emu);
/* The user with this userName in the emulator's state (new reference), or NULL. */
json_t *gcs_test_emu_user_named(const gcs_test_server *emu, const char *user_name);
/* Another tool PATCHes the user behind gcscim's back: `operation` is one PatchOp
 * operation as JSON text. Asserts 200. */
void gcs_test_emu_patch_user(const gcs_test_server *emu, const char *user_name,
                             const char *operation);

#endif
