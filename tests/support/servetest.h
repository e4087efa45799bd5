/*
 * servetest.h - driving `gcscim serve` processes from tests: the secrets and
 * API keys they read, starting one against a test emulator, signed events and
 * REST calls. Shared by test_serve.c and test_serve_stop.c.
 */
#ifndef GCS_TESTS_SERVETEST_H
#define GCS_TESTS_SERVETEST_H

#include <stdint.h>

#include "gcstest.h"
#include "httptest.h"

/* Two secrets in the file (a rotation), one the sender may not know. */
#define SECRET_OLD "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define SECRET_NEW "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ="
#define SECRET_OTHER "whsec_b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMTI="
#define KEY_PORTAL "k-portal-5f0c1e7a9b3d4c2e8a6b"   /* provision,read */
#define KEY_READER "k-reader-0b9a8c7d6e5f4a3b2c1d"   /* read */
#define KEY_SENDER "k-sender-1a2b3c4d5e6f7a8b9c0d"   /* events */

/* A row of examples/hr-export.csv's shape, which examples/profile.yaml maps:
 * printf arguments employee_id, last_name, email's local part. */
#define ROW_FMT                                                                                    \
    "{\"employee_id\":\"%s\",\"first_name\":\"Ada\",\"last_name\":\"%s\","                       \
    "\"email\":\"%s@example.com\",\"job_title\":\"Agent\",\"department\":\"Support\","             \
    "\"division\":\"Support\",\"work_phone\":\"\",\"mobile_phone\":\"\",\"hire_date\":\"11/30/2026\"," \
    "\"manager_id\":\"\",\"status\":\"Active\",\"roles\":\"Employee\",\"skills\":\"\","              \
    "\"languages\":\"English\",\"teams\":\"\"}"

typedef struct gcs_test_serve {
    gcs_test_server emu;       /* seeded with examples/org.json */
    char *dir;
    char db_url[1200];
    char secrets_path[600]; /* "": serve starts without event secrets */
    char keys_path[600];
} gcs_test_serve;

/* Starts the emulator (extra emulator arguments may be NULL), writes the
 * secrets and keys files, sets the environment serve reads (credentials, API
 * URL, db_url: "" for SQLite in the directory). */
void gcs_test_serve_init(gcs_test_serve *f, const char *const *emu_args, const char *db_url);
void gcs_test_serve_release(gcs_test_serve *f);
/* Starts `gcscim serve` with the files, examples/profile.yaml and `extra`. */
void gcs_test_serve_start(gcs_test_serve *f, gcs_test_server *srv, const char *const *extra);

int64_t gcs_test_serve_now_s(void);
/* An event body of type `type` about `key` (a full example row). */
void gcs_test_serve_event_body(char *out, size_t outsz, const char *type, const char *key);
/* POST base/v1/events signed with secret_text; `extra` one more header or NULL. */
void gcs_test_serve_post_signed(gcs_test_http *r, const char *base, const char *secret_text,
                                const char *id, int64_t ts, const char *body, const char *extra);
/* METHOD base+path with the API key (NULL: none) and a JSON body (may be NULL). */
void gcs_test_serve_call(gcs_test_http *r, const char *base, const char *method, const char *path,
                         const char *api_key, const char *body);
int64_t gcs_test_serve_job_of(const gcs_test_http *r);
const char *gcs_test_serve_error_of(const gcs_test_http *r);

#endif
