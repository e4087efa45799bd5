/*
 * http_fixture.h - what the request engine's integration tests share: the
 * emulator started with seeded users, a token manager and a client pointed at
 * it, a second client without token for the emulator's admin routes, and a
 * tally of completions by outcome (to prove that no request is lost).
 */
#ifndef GCS_TESTS_HTTP_FIXTURE_H
#define GCS_TESTS_HTTP_FIXTURE_H

#include "gcstest.h"

#include <jansson.h>

#include "genesys/token.h"
#include "http/client.h"

#define GCS_FIXTURE_CLIENT_ID "engine-test"
#define GCS_FIXTURE_SECRET "s3cret-Engine-Test-value"

typedef struct gcs_http_fixture {
    gcs_test_server emu;
    char *dir;                /* holds the seed file */
    gcs_token *token;
    gcs_http_client *client;  /* the engine under test */
    gcs_http_client *admin;   /* no token: /_emulator/ routes only */
    int n_users;
} gcs_http_fixture;

/*
 * Starts the emulator (with `emu_args`, NULL-terminated, may be NULL) seeded with
 * n_users users whose ids come from gcs_http_fixture_user_id, accepting the
 * client GCS_FIXTURE_CLIENT_ID:GCS_FIXTURE_SECRET; then a token manager with
 * `secret` (NULL: the right one) and a client built from `opts` (may be NULL;
 * its URLs and auth are filled in here).
 */
void gcs_http_fixture_start(gcs_http_fixture *f, int n_users, const char *const *emu_args,
                              const gcs_http_client_options *opts, const char *secret);
void gcs_http_fixture_stop(gcs_http_fixture *f);

void gcs_http_fixture_user_id(char *out, size_t outsz, int i);

/* POST /_emulator/config with a JSON object; asserts it was taken. */
void gcs_http_fixture_config(gcs_http_fixture *f, const char *json_text);
/* POST to an admin path; asserts 2xx. */
void gcs_http_fixture_admin_post(gcs_http_fixture *f, const char *path);
/* GET an admin path; the parsed answer (new reference). */
json_t *gcs_http_fixture_admin_get(gcs_http_fixture *f, const char *path);

typedef struct gcs_engine_tally {
    int done;
    int by_outcome[GCS_HTTP_OUTCOME_COUNT];
    int max_attempts;
    int statuses[600];
} gcs_engine_tally;

/* A gcs_http_done_fn: payload is a gcs_engine_tally. */
void gcs_engine_tally_add(const gcs_http_client_response *res, void *payload);

/* Submits n PATCHes (replace title) spread over the seeded users. */
void gcs_http_fixture_submit_patches(gcs_http_fixture *f, int n, gcs_engine_tally *t);

#endif
