#include "core/redact.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

/* ==== The registry of known secret values ==== */

#define REGISTRY_SIZE 64
#define MIN_SECRET_LEN 4

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static char *registry[REGISTRY_SIZE];
static size_t registry_next;

static void wipe_free(char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    explicit_bzero(s, n);
    munlock(s, n + 1);
    free(s);
}

void gcs_redact_register(const char *secret)
{
    if (!secret || strlen(secret) < MIN_SECRET_LEN)
        return;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_SIZE; i++) {
        if (registry[i] && strcmp(registry[i], secret) == 0) {
            pthread_mutex_unlock(&registry_lock);
            return;
        }
    }
    char *copy = strdup(secret);
    if (copy) {
        /* Best effort: keep it out of swap. Failure (RLIMIT_MEMLOCK) is harmless. */
        (void)mlock(copy, strlen(copy) + 1);
        wipe_free(registry[registry_next]);
        registry[registry_next] = copy;
        registry_next = (registry_next + 1) % REGISTRY_SIZE;
    }
    pthread_mutex_unlock(&registry_lock);
}

void gcs_redact_reset(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_SIZE; i++) {
        wipe_free(registry[i]);
        registry[i] = NULL;
    }
    registry_next = 0;
    pthread_mutex_unlock(&registry_lock);
}

/* ==== Sensitive keys ==== */

static const char *const sensitive_keys[] = {
    "authorization", "proxy-authorization", "password", "passwd", "client_secret",
    "clientsecret", "secret", "access_token", "refresh_token", "id_token", "token",
    "api_key", "apikey", "cookie", "set-cookie", "x-api-key", "private_key",
    "signing_secret", "webhook_secret",
};

static bool ends_with_ci(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

static bool key_is_sensitive_n(const char *key, size_t n)
{
    for (size_t i = 0; i < sizeof sensitive_keys / sizeof *sensitive_keys; i++) {
        if (strlen(sensitive_keys[i]) == n && strncasecmp(key, sensitive_keys[i], n) == 0)
            return true;
    }
    return ends_with_ci(key, n, "_secret") || ends_with_ci(key, n, "-secret") ||
           ends_with_ci(key, n, "_password") || ends_with_ci(key, n, "_token") ||
           ends_with_ci(key, n, "-token");
}

bool gcs_redact_is_sensitive_key(const char *key)
{
    return key && key_is_sensitive_n(key, strlen(key));
}

/* ==== Text rules ==== */

static bool is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static bool is_token_char(char c)
{
    return isalnum((unsigned char)c) || strchr("-._~+/=%", c) != NULL;
}

/* Rule 1: replaces every registered secret in `s` (in place, shrinking). */
static void remove_registered(gcs_buf *s)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_SIZE; i++) {
        const char *secret = registry[i];
        if (!secret)
            continue;
        size_t n = strlen(secret);
        char *hit;
        size_t from = 0;
        while (from < s->len && (hit = memmem(s->ptr + from, s->len - from, secret, n))) {
            size_t at = (size_t)(hit - s->ptr);
            size_t rep = sizeof GCS_REDACTED - 1; /* 3 <= MIN_SECRET_LEN: never grows */
            memcpy(hit, GCS_REDACTED, rep);
            memmove(hit + rep, hit + n, s->len - at - n + 1);
            s->len -= n - rep;
            from = at + rep;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* Copies `in` to `out`, masking values of sensitive keys and of auth schemes. */
static int mask_shapes(gcs_buf *out, const char *in)
{
    size_t n = strlen(in);
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        /* "Bearer <token>" and "Basic <token>" wherever they appear. */
        if ((i == 0 || !is_key_char(in[i - 1])) &&
            (strncasecmp(in + i, "bearer ", 7) == 0 || strncasecmp(in + i, "basic ", 6) == 0)) {
            size_t word = tolower((unsigned char)in[i]) == 'b' && tolower((unsigned char)in[i + 1]) == 'e' ? 7 : 6;
            size_t j = i + word;
            while (j < n && in[j] == ' ')
                j++;
            size_t k = j;
            while (k < n && is_token_char(in[k]))
                k++;
            if (k > j) {
                rc = gcs_buf_put(out, in + i, j - i);
                if (rc == 0)
                    rc = gcs_buf_puts(out, GCS_REDACTED);
                i = k;
                continue;
            }
        }
        /* A key: an identifier, possibly quoted, followed by ':' or '='. */
        if (is_key_char(in[i]) && (i == 0 || !is_key_char(in[i - 1]))) {
            size_t k = i;
            while (k < n && is_key_char(in[k]))
                k++;
            if (key_is_sensitive_n(in + i, k - i)) {
                size_t j = k;
                if (j + 1 < n && in[j] == '\\' && in[j + 1] == '"')
                    j++; /* an escaped quote: JSON inside a JSON string */
                if (j < n && (in[j] == '"' || in[j] == '\''))
                    j++;
                while (j < n && in[j] == ' ')
                    j++;
                if (j < n && (in[j] == ':' || in[j] == '=')) {
                    j++;
                    while (j < n && in[j] == ' ')
                        j++;
                    if (j + 1 < n && in[j] == '\\' && in[j + 1] == '"')
                        j++;
                    size_t v = j, end;
                    bool whole_line = strncasecmp(in + i, "authorization", 13) == 0 ||
                                      strncasecmp(in + i, "proxy-authorization", 19) == 0;
                    if (v < n && (in[v] == '"' || in[v] == '\'')) {
                        char q = in[v];
                        end = v + 1;
                        while (end < n && in[end] != q) {
                            if (in[end] == '\\' && end + 1 < n)
                                end++;
                            end++;
                        }
                        v++; /* keep the quotes, mask the inside */
                    } else if (v < n && (in[v] == '{' || in[v] == '[')) {
                        end = v; /* a structured value: its own keys are checked in turn */
                    } else {
                        end = v;
                        while (end < n && !strchr("&,;\"'}\r\n", in[end]) &&
                               (whole_line || in[end] != ' '))
                            end++;
                    }
                    if (end > v) {
                        rc = gcs_buf_put(out, in + i, v - i);
                        if (rc == 0)
                            rc = gcs_buf_puts(out, GCS_REDACTED);
                        i = end;
                        continue;
                    }
                }
            }
            rc = gcs_buf_put(out, in + i, k - i);
            i = k;
            continue;
        }
        rc = gcs_buf_putc(out, in[i]);
        i++;
    }
    return rc;
}

int gcs_redact_append(gcs_buf *out, const char *in)
{
    gcs_buf tmp;
    gcs_buf_init(&tmp, out->max);
    int rc = gcs_buf_puts(&tmp, in ? in : "");
    if (rc == 0) {
        remove_registered(&tmp);
        rc = mask_shapes(out, tmp.ptr);
    }
    gcs_buf_release_secure(&tmp);
    return rc;
}

void gcs_redact_text(char *out, size_t outsz, const char *in)
{
    if (outsz == 0)
        return;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    if (gcs_redact_append(&b, in) == 0) {
        size_t n = b.len < outsz - 1 ? b.len : outsz - 1;
        memcpy(out, b.ptr, n);
        out[n] = '\0';
    } else {
        strncpy(out, "(message could not be redacted)", outsz - 1);
        out[outsz - 1] = '\0';
    }
    gcs_buf_release_secure(&b);
}

json_t *gcs_redact_json(const json_t *in)
{
    if (!in)
        return NULL;
    switch (json_typeof(in)) {
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)in, key, value) {
            if (gcs_redact_is_sensitive_key(key))
                json_object_set_new(o, key, json_string(GCS_REDACTED));
            else
                json_object_set_new(o, key, gcs_redact_json(value));
        }
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        size_t i;
        json_t *value;
        json_array_foreach(in, i, value) json_array_append_new(a, gcs_redact_json(value));
        return a;
    }
    case JSON_STRING: {
        gcs_buf b;
        gcs_buf_init(&b, 0);
        json_t *s;
        if (gcs_redact_append(&b, json_string_value(in)) == 0)
            s = json_stringn(b.ptr, b.len);
        else
            s = json_string(GCS_REDACTED);
        gcs_buf_release_secure(&b);
        return s ? s : json_string(GCS_REDACTED);
    }
    default:
        return json_deep_copy(in);
    }
}
