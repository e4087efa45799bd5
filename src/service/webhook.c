/*
 * Standard Webhooks signatures: HMAC-SHA256 over "ID.TIMESTAMP.BODY".
 */
#include "service/webhook.h"

#include "core/error.h"
#include "core/redact.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_PREFIX "whsec_"

int gcs_webhook_secret_parse(gcs_webhook_secret *out, const char *text)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return gcs_error_set(GCS_EINVALID, "webhook secret: empty");
    while (isspace((unsigned char)*text))
        text++;
    if (strncmp(text, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0)
        text += strlen(SECRET_PREFIX);
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    /* base64 of at most GCS_WEBHOOK_KEY_MAX bytes, padded */
    if (n == 0 || n % 4 != 0 || n > (GCS_WEBHOOK_KEY_MAX + 2) / 3 * 4)
        return gcs_error_set(GCS_EINVALID,
                             "webhook secret: not base64 of 1 to %d bytes (\"whsec_\" + base64)",
                             GCS_WEBHOOK_KEY_MAX);
    unsigned char decoded[(GCS_WEBHOOK_KEY_MAX + 2) / 3 * 3 + 3];
    int got = EVP_DecodeBlock(decoded, (const unsigned char *)text, (int)n);
    if (got < 0) {
        OPENSSL_cleanse(decoded, sizeof decoded);
        return gcs_error_set(GCS_EINVALID, "webhook secret: not valid base64");
    }
    /* EVP_DecodeBlock counts the padding as zero bytes */
    size_t len = (size_t)got;
    if (text[n - 1] == '=')
        len--;
    if (text[n - 2] == '=')
        len--;
    if (len == 0 || len > GCS_WEBHOOK_KEY_MAX) {
        OPENSSL_cleanse(decoded, sizeof decoded);
        return gcs_error_set(GCS_EINVALID, "webhook secret: 1 to %d bytes of key expected",
                             GCS_WEBHOOK_KEY_MAX);
    }
    memcpy(out->key, decoded, len);
    out->len = len;
    OPENSSL_cleanse(decoded, sizeof decoded);
    /* the secret's text as written may appear in a config dump or an error */
    char copy[(GCS_WEBHOOK_KEY_MAX + 2) / 3 * 4 + 1];
    memcpy(copy, text, n);
    copy[n] = '\0';
    gcs_redact_register(copy);
    OPENSSL_cleanse(copy, sizeof copy);
    return 0;
}

void gcs_webhook_secret_wipe(gcs_webhook_secret *s)
{
    if (s)
        OPENSSL_cleanse(s, sizeof *s);
}

/* HMAC-SHA256 of "id.timestamp.body" into md (32 bytes). */
static int hmac_message(unsigned char md[32], const gcs_webhook_secret *secret, const char *id,
                        int64_t timestamp_s, const void *body, size_t len)
{
    char prefix[160];
    int plen = snprintf(prefix, sizeof prefix, "%s.%" PRId64 ".", id, timestamp_s);
    if (plen < 0 || (size_t)plen >= sizeof prefix)
        return GCS_EINVALID;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t mdlen = 0;
    bool ok = ctx && EVP_MAC_init(ctx, secret->key, secret->len, params) &&
              EVP_MAC_update(ctx, (const unsigned char *)prefix, (size_t)plen) &&
              (len == 0 || EVP_MAC_update(ctx, body, len)) && EVP_MAC_final(ctx, md, &mdlen, 32) &&
              mdlen == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : GCS_ERROR;
}

static bool id_ok(const char *id)
{
    return id && *id && strlen(id) <= 128 && !strchr(id, '.');
}

int gcs_webhook_sign(char out[GCS_WEBHOOK_SIGNATURE_MAX], const gcs_webhook_secret *secret,
                     const char *id, int64_t timestamp_s, const void *body, size_t len)
{
    out[0] = '\0';
    if (!id_ok(id))
        return gcs_error_set(GCS_EINVALID, "webhook id: 1 to 128 characters without '.'");
    unsigned char md[32];
    if (hmac_message(md, secret, id, timestamp_s, body, len) != 0)
        return gcs_error_set(GCS_ERROR, "webhook signature: HMAC failed");
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, md, 32); /* 44 characters and a NUL */
    OPENSSL_cleanse(md, sizeof md);
    return 0;
}

/* Is the timestamp a decimal number of seconds? */
static bool parse_timestamp(const char *text, int64_t *out)
{
    if (!text || !*text || strlen(text) > 18)
        return false;
    for (const char *p = text; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    *out = strtoll(text, NULL, 10);
    return true;
}

gcs_webhook_verdict gcs_webhook_verify(const gcs_webhook_secret *secrets, size_t secret_count,
                                       const char *id, const char *timestamp,
                                       const char *signature_header, const void *body,
                                       size_t len, int64_t now_s, int64_t tolerance_s)
{
    int64_t ts;
    if (!id_ok(id) || !parse_timestamp(timestamp, &ts) || !signature_header || !*signature_header)
        return GCS_WEBHOOK_MISSING;
    if (ts < now_s - tolerance_s || ts > now_s + tolerance_s)
        return GCS_WEBHOOK_STALE;
    bool match = false;
    for (size_t s = 0; s < secret_count; s++) {
        char expected[GCS_WEBHOOK_SIGNATURE_MAX];
        if (gcs_webhook_sign(expected, &secrets[s], id, ts, body, len) != 0)
            continue;
        size_t elen = strlen(expected);
        /* every space-separated "v1,SIG" in the header; other versions are skipped */
        for (const char *p = signature_header; *p;) {
            while (*p == ' ')
                p++;
            const char *end = p;
            while (*end && *end != ' ')
                end++;
            size_t n = (size_t)(end - p);
            if (n == elen && CRYPTO_memcmp(p, expected, elen) == 0)
                match = true; /* keep going: the time taken does not say which one matched */
            p = end;
        }
        OPENSSL_cleanse(expected, sizeof expected);
    }
    return match ? GCS_WEBHOOK_VALID : GCS_WEBHOOK_BAD_SIGNATURE;
}

const char *gcs_webhook_verdict_name(gcs_webhook_verdict v)
{
    switch (v) {
    case GCS_WEBHOOK_VALID:
        return "valid";
    case GCS_WEBHOOK_MISSING:
        return "missing";
    case GCS_WEBHOOK_STALE:
        return "stale_timestamp";
    case GCS_WEBHOOK_BAD_SIGNATURE:
        return "bad_signature";
    }
    return "unknown";
}
