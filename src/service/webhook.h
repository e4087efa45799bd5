/*
 * webhook.h - Standard Webhooks signatures (https://www.standardwebhooks.com/):
 * what gcscim serve checks on the events it receives and puts on the
 * notifications it sends, so that either side can use any Standard Webhooks
 * library.
 *
 * The signed content is "ID.TIMESTAMP.BODY"; the signature is
 * "v1," + base64(HMAC-SHA256(key, content)); the webhook-signature header holds
 * one or more signatures separated by spaces (a sender in the middle of a
 * secret rotation signs with both). A secret is "whsec_" + base64(key).
 */
#ifndef GCS_SERVICE_WEBHOOK_H
#define GCS_SERVICE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define GCS_WEBHOOK_KEY_MAX 64         /* bytes of key a secret may hold */
#define GCS_WEBHOOK_SIGNATURE_MAX 48   /* "v1," + 44 base64 characters + NUL */
#define GCS_WEBHOOK_TOLERANCE_S 300    /* the replay window, each way */

/* A decoded secret. Wipe it with gcs_webhook_secret_wipe when done. */
typedef struct gcs_webhook_secret {
    unsigned char key[GCS_WEBHOOK_KEY_MAX];
    size_t len;
} gcs_webhook_secret;

/* Decodes "whsec_BASE64" (the prefix is optional, surrounding whitespace is
 * ignored). Returns 0, or GCS_EINVALID with a message that never quotes the
 * secret. The secret is registered with the redactor for the process's life. */
int gcs_webhook_secret_parse(gcs_webhook_secret *out, const char *text);
void gcs_webhook_secret_wipe(gcs_webhook_secret *s);

/* Writes "v1,BASE64" for the message into out (GCS_WEBHOOK_SIGNATURE_MAX
 * bytes). Returns 0, or GCS_EINVALID when the id is empty or holds a '.'. */
int gcs_webhook_sign(char out[GCS_WEBHOOK_SIGNATURE_MAX], const gcs_webhook_secret *secret,
                     const char *id, int64_t timestamp_s, const void *body, size_t len);

typedef enum gcs_webhook_verdict {
    GCS_WEBHOOK_VALID = 0,
    GCS_WEBHOOK_MISSING,       /* a header is absent or empty, or the timestamp is not a number */
    GCS_WEBHOOK_STALE,         /* the timestamp is outside the tolerance, either way */
    GCS_WEBHOOK_BAD_SIGNATURE, /* no signature matches any of the secrets */
} gcs_webhook_verdict;

/* Checks a received message against every secret (rotation: up to a few at
 * once): valid when the timestamp is within tolerance_s of now_s and any
 * "v1," signature in the header matches any secret. Comparisons take constant
 * time. The headers are the raw values of webhook-id, webhook-timestamp and
 * webhook-signature (NULL when absent). */
gcs_webhook_verdict gcs_webhook_verify(const gcs_webhook_secret *secrets, size_t secret_count,
                                       const char *id, const char *timestamp,
                                       const char *signature_header, const void *body,
                                       size_t len, int64_t now_s, int64_t tolerance_s);

/* A verdict's name, for answers, logs and metric labels. */
const char *gcs_webhook_verdict_name(gcs_webhook_verdict v);

#endif
