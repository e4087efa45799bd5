/*
 * API keys and event secrets (auth.h).
 */
#include "service/auth.h"

#include "core/error.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_FILE_MAX (1024 * 1024)
#define SECRETS_FILE_MAX 4096

int gcs_service_read_private_file(char **out, const char *path, size_t max, const char *what)
{
    int rc = 0;
    struct stat st;
    char *text = NULL;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gcs_error_set(GCS_EIO, "cannot read %s '%s': %s", what, path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = gcs_error_set(GCS_EIO, "%s '%s' is not a regular file", what, path);
        goto out;
    }
    if (st.st_mode & 0077) {
        rc = gcs_error_set(GCS_EINVALID, "%s '%s' is readable by others: chmod 600 it first",
                           what, path);
        goto out;
    }
    if ((size_t)st.st_size > max) {
        rc = gcs_error_set(GCS_EINVALID, "%s '%s' is larger than %zu bytes", what, path, max);
        goto out;
    }
    text = calloc(1, (size_t)st.st_size + 1);
    GCS_CHECK_ALLOC_GOTO(text, rc, out);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    text[got] = '\0';
    *out = text;
    text = NULL;
out:
    free(text);
    close(fd);
    return rc;
}

/* Past a UTF-8 byte order mark, which Windows editors write first. */
static char *past_bom(char *text)
{
    return strncmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;
}

/* ==== API keys ==== */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_rights(unsigned *out, char *list, const char *origin, int line)
{
    *out = 0;
    for (char *save = NULL, *r = strtok_r(list, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        if (strcmp(r, "events") == 0)
            *out |= GCS_RIGHT_EVENTS;
        else if (strcmp(r, "provision") == 0)
            *out |= GCS_RIGHT_PROVISION;
        else if (strcmp(r, "read") == 0)
            *out |= GCS_RIGHT_READ;
        else
            return gcs_error_set(GCS_EINVALID,
                                 "%s:%d: unknown right '%.32s' (events, provision, read)", origin,
                                 line, r);
    }
    if (!*out)
        return gcs_error_set(GCS_EINVALID, "%s:%d: no right given (events, provision, read)",
                             origin, line);
    return 0;
}

static int parse_key_line(gcs_api_key *k, char *line, const char *origin, int n)
{
    int rc;
    char *save = NULL;
    char *name = strtok_r(line, " \t", &save);
    char *rights = strtok_r(NULL, " \t", &save);
    char *hash = strtok_r(NULL, " \t", &save);
    char *extra = strtok_r(NULL, " \t", &save);
    if (!name || !rights || !hash || extra)
        return gcs_error_set(GCS_EINVALID, "%s:%d: expected \"NAME RIGHTS sha256:HEX\"", origin,
                             n);
    if (strlen(name) > GCS_API_KEY_NAME_MAX)
        return gcs_error_set(GCS_EINVALID, "%s:%d: a key's name is at most %d bytes", origin, n,
                             GCS_API_KEY_NAME_MAX);
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f)
            return gcs_error_set(GCS_EINVALID, "%s:%d: a key's name is printable", origin, n);
    }
    if ((rc = parse_rights(&k->rights, rights, origin, n)) < 0)
        return rc;
    if (strncmp(hash, "sha256:", 7) != 0 || strlen(hash + 7) != 64)
        return gcs_error_set(GCS_EINVALID,
                             "%s:%d: the key must be given as sha256: and 64 hex digits (gcscim "
                             "keeps only its hash)",
                             origin, n);
    for (int i = 0; i < 32; i++) {
        int hi = hexval(hash[7 + 2 * i]), lo = hexval(hash[8 + 2 * i]);
        if (hi < 0 || lo < 0)
            return gcs_error_set(GCS_EINVALID, "%s:%d: the hash is not hexadecimal", origin, n);
        k->sha256[i] = (unsigned char)(hi * 16 + lo);
    }
    snprintf(k->name, sizeof k->name, "%s", name);
    return 0;
}

int gcs_api_keys_parse(gcs_api_keys *out, const char *text, const char *origin)
{
    int rc = 0, n = 0;
    char *copy = strdup(text);
    GCS_CHECK_ALLOC(copy);
    char *line = copy;
    while (line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        n++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        const char *p = line + strspn(line, " \t");
        if (*p && *p != '#') {
            if (out->count >= GCS_API_KEYS_MAX) {
                rc = gcs_error_set(GCS_EINVALID, "%s:%d: more than %d keys", origin, n,
                                   GCS_API_KEYS_MAX);
                goto out;
            }
            gcs_api_key *k = &out->keys[out->count];
            if ((rc = parse_key_line(k, line, origin, n)) < 0)
                goto out;
            for (size_t i = 0; i < out->count; i++) {
                if (strcmp(out->keys[i].name, k->name) == 0) {
                    rc = gcs_error_set(GCS_EINVALID, "%s:%d: the name '%s' is used twice", origin,
                                       n, k->name);
                    goto out;
                }
            }
            out->count++;
        }
        line = next;
    }
out:
    OPENSSL_cleanse(copy, strlen(text));
    free(copy);
    return rc;
}

int gcs_api_keys_load(gcs_api_keys *out, const char *path)
{
    char *text = NULL;
    int rc = gcs_service_read_private_file(&text, path, KEYS_FILE_MAX, "api keys file");
    if (rc == 0)
        rc = gcs_api_keys_parse(out, past_bom(text), path);
    free(text);
    return rc;
}

const gcs_api_key *gcs_api_keys_find(const gcs_api_keys *keys, const char *authorization)
{
    if (!keys || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    if (!*key)
        return NULL;
    unsigned char digest[32];
    SHA256((const unsigned char *)key, strlen(key), digest);
    const gcs_api_key *found = NULL;
    /* every entry is compared, so that timing says nothing of which matched */
    for (size_t i = 0; i < keys->count; i++) {
        if (CRYPTO_memcmp(keys->keys[i].sha256, digest, 32) == 0)
            found = &keys->keys[i];
    }
    return found;
}

void gcs_api_key_hash_text(char out[72], const char *key)
{
    unsigned char digest[32];
    SHA256((const unsigned char *)key, strlen(key), digest);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", digest[i]);
}

/* ==== Event secrets ==== */

int gcs_event_secrets_load(gcs_webhook_secret out[GCS_EVENT_SECRETS_MAX], size_t *count,
                           const char *path)
{
    char *text = NULL;
    int rc, n = 0;
    *count = 0;
    if ((rc = gcs_service_read_private_file(&text, path, SECRETS_FILE_MAX,
                                            "event secrets file")) < 0)
        return rc;
    size_t text_len = strlen(text);
    /* line by line, blank ones counted, so that an error names the right one */
    for (char *line = past_bom(text), *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        n++;
        const char *p = line + strspn(line, " \t\r");
        if (!*p || *p == '#')
            continue;
        if (*count >= GCS_EVENT_SECRETS_MAX) {
            rc = gcs_error_set(GCS_EINVALID,
                               "%s:%d: more than %d secrets (two at once, during a rotation)",
                               path, n, GCS_EVENT_SECRETS_MAX);
            goto out;
        }
        if ((rc = gcs_webhook_secret_parse(&out[*count], p)) < 0) {
            gcs_error_prefix(rc, "%s:%d", path, n);
            goto out;
        }
        (*count)++;
    }
    if (*count == 0)
        rc = gcs_error_set(GCS_EINVALID, "event secrets file '%s' holds no secret", path);
out:
    if (rc < 0) {
        for (size_t i = 0; i < GCS_EVENT_SECRETS_MAX; i++)
            gcs_webhook_secret_wipe(&out[i]);
        *count = 0;
    }
    OPENSSL_cleanse(text, text_len);
    free(text);
    return rc;
}
