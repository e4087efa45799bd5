/*
 * auth.h - who may call `gcscim serve`: API keys for people and tools, and the
 * Standard Webhooks secrets that sign events.
 *
 * api_keys_file: one key a line, "NAME RIGHTS sha256:HEX", RIGHTS a comma list
 * of events, provision, read; blank lines and lines starting with '#' are
 * skipped. Only the SHA-256 of a key is kept (a key is long and random: no
 * salt is needed); a caller sends the key itself as "Authorization: Bearer
 * KEY". Every comparison takes constant time and every key is compared.
 * event_secrets_file: one "whsec_..." a line, at most two (a rotation).
 * Both files must not be readable by others (chmod 600). Errors name the file
 * and the line, never a key or a secret.
 */
#ifndef GCS_SERVICE_AUTH_H
#define GCS_SERVICE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "service/webhook.h"

#define GCS_API_KEYS_MAX 256
#define GCS_API_KEY_NAME_MAX 64
#define GCS_EVENT_SECRETS_MAX 2

enum {
    GCS_RIGHT_EVENTS = 1,     /* POST /v1/events */
    GCS_RIGHT_PROVISION = 2,  /* POST /v1/users */
    GCS_RIGHT_READ = 4,       /* GET /v1/jobs, /v1/users, /v1/receipts */
};

typedef struct gcs_api_key {
    char name[GCS_API_KEY_NAME_MAX + 1];
    unsigned rights;
    unsigned char sha256[32];
} gcs_api_key;

typedef struct gcs_api_keys {
    gcs_api_key keys[GCS_API_KEYS_MAX];
    size_t count;
} gcs_api_keys;

/* Parses the text of an api_keys_file; `origin` names it in errors. Appends to
 * *out (zero it first). GCS_EINVALID naming origin:line. */
int gcs_api_keys_parse(gcs_api_keys *out, const char *text, const char *origin);
/* Reads and parses the file (refused when others may read it). */
int gcs_api_keys_load(gcs_api_keys *out, const char *path);

/* The key an "Authorization: Bearer KEY" header presents, or NULL (no header,
 * another scheme, or no key matches). Borrowed from keys. */
const gcs_api_key *gcs_api_keys_find(const gcs_api_keys *keys, const char *authorization);

/* "sha256:HEX" of a key, for writing an api_keys_file (71 bytes with the NUL). */
void gcs_api_key_hash_text(char out[72], const char *key);

/* Reads up to GCS_EVENT_SECRETS_MAX secrets from an event_secrets_file
 * (refused when others may read it, when empty, or when it holds more). */
int gcs_event_secrets_load(gcs_webhook_secret out[GCS_EVENT_SECRETS_MAX], size_t *count,
                           const char *path);

/* Reads a whole small file that must be mode 0600 or stricter (a key, a
 * secret), at most max bytes. Caller frees *out (wipe it first when secret). */
int gcs_service_read_private_file(char **out, const char *path, size_t max, const char *what);

#endif
