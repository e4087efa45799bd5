/*
 * httptest.h - plain HTTP requests from tests (libcurl easy, one connection per
 * call, loopback only) and helpers for driving gcscim-emulator: get a token,
 * call an API path, read the admin routes.
 *
 * Every request has a 10 s timeout. A dropped connection gives status 0 and
 * curl_code CURLE_GOT_NOTHING (52) or a receive error.
 */
#ifndef GCS_TESTS_HTTPTEST_H
#define GCS_TESTS_HTTPTEST_H

#include <jansson.h>

#include "core/buf.h"
#include "gcstest.h"

typedef struct gcs_test_http {
    long status;       /* 0 when no answer came */
    int curl_code;
    gcs_buf headers;   /* raw header block */
    gcs_buf body;
    json_t *json;      /* the body parsed, or NULL */
} gcs_test_http;

/* `headers`: NULL-terminated "Name: value" strings; `body` may be NULL. */
void gcs_test_http_do(gcs_test_http *out, const char *method, const char *url,
                      const char *const *headers, const char *body, size_t body_len);
void gcs_test_http_release(gcs_test_http *r);
/* A header's value (case-insensitive name) copied into out; NULL when absent. */
const char *gcs_test_http_header(const gcs_test_http *r, const char *name, char *out, size_t outsz);

/* POST /oauth/token with Basic credentials; the access token (caller frees),
 * failing the test when there is none. */
char *gcs_test_emu_token(const gcs_test_server *s, const char *id, const char *secret);

/* An API call: METHOD api_url+path with the bearer token and, when body is
 * given, Content-Type application/scim+json. `extra` is one more header or NULL. */
void gcs_test_emu_call(gcs_test_http *out, const gcs_test_server *s, const char *token,
                       const char *method, const char *path, const char *body, const char *extra);

/* GET or POST an admin route (/_emulator/NAME); the parsed answer (new reference). */
json_t *gcs_test_emu_admin(const gcs_test_server *s, const char *method, const char *name,
                           const char *body);

#endif
