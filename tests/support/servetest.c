#include "servetest.h"

#include "service/auth.h"
#include "service/webhook.h"
#include "core/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *write_private(const char *dir, const char *name, const char *text)
{
    char *path = gcs_test_write_file(dir, name, text);
    chmod(path, 0600);
    return path;
}

void gcs_test_serve_init(gcs_test_serve *f, const char *const *emu_args, const char *db_url)
{
    memset(f, 0, sizeof *f);
    f->dir = gcs_test_tmpdir();
    const char *args[16] = {"--seed", GCS_TEST_SOURCE_DIR "/examples/org.json"};
    size_t n = 2;
    for (size_t i = 0; emu_args && emu_args[i] && n < 15; i++)
        args[n++] = emu_args[i];
    args[n] = NULL;
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 30000);
    if (db_url && *db_url)
        snprintf(f->db_url, sizeof f->db_url, "%s", db_url);
    else
        snprintf(f->db_url, sizeof f->db_url, "sqlite:%s/gcscim.db", f->dir);
    char *p = write_private(f->dir, "secrets",
                            "# rotation: old and new\n" SECRET_OLD "\n" SECRET_NEW "\n");
    snprintf(f->secrets_path, sizeof f->secrets_path, "%s", p);
    free(p);
    char portal[72], reader[72], sender[72], keys[512];
    gcs_api_key_hash_text(portal, KEY_PORTAL);
    gcs_api_key_hash_text(reader, KEY_READER);
    gcs_api_key_hash_text(sender, KEY_SENDER);
    snprintf(keys, sizeof keys, "portal provision,read %s\nreader read %s\nsender events %s\n",
             portal, reader, sender);
    p = write_private(f->dir, "keys", keys);
    snprintf(f->keys_path, sizeof f->keys_path, "%s", p);
    free(p);
    setenv("GENESYSCLOUD_OAUTHCLIENT_ID", "gcscim-emulator", 1);
    setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", "gcscim-emulator-secret", 1);
    setenv("GENESYSCLOUD_API_URL", f->emu.api_url, 1);
    setenv("GCSCIM_DB", f->db_url, 1);
    setenv("GCSCIM_LOG_FORMAT", "json", 1);
}

void gcs_test_serve_release(gcs_test_serve *f)
{
    gcs_test_server_stop(&f->emu);
    gcs_test_tmpdir_remove(f->dir);
    f->dir = NULL;
}

void gcs_test_serve_start(gcs_test_serve *f, gcs_test_server *srv, const char *const *extra)
{
    const char *args[40];
    size_t n = 0;
    args[n++] = "serve";
    if (f->secrets_path[0]) { /* emptied: events need an API key */
        args[n++] = "--event-secrets-file";
        args[n++] = f->secrets_path;
    }
    args[n++] = "--api-keys-file";
    args[n++] = f->keys_path;
    args[n++] = "--profile";
    args[n++] = GCS_TEST_SOURCE_DIR "/examples/profile.yaml";
    for (size_t i = 0; extra && extra[i] && n < 39; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    gcs_test_server_start(srv, gcs_test_cli_path(), args, 30000);
}

int64_t gcs_test_serve_now_s(void)
{
    return gcs_time_wall_ms() / 1000;
}

void gcs_test_serve_event_body(char *out, size_t outsz, const char *type, const char *key)
{
    snprintf(out, outsz, "{\"type\":\"%s\",\"data\":{\"key\":\"%s\",\"row\":" ROW_FMT "}}", type,
             key, key, key, key);
}

void gcs_test_serve_post_signed(gcs_test_http *r, const char *base, const char *secret_text,
                                const char *id, int64_t ts, const char *body, const char *extra)
{
    gcs_webhook_secret secret;
    char sig[GCS_WEBHOOK_SIGNATURE_MAX], h_id[300], h_ts[64], h_sig[128], url[256];
    assert_int_equal(gcs_webhook_secret_parse(&secret, secret_text), 0);
    assert_int_equal(gcs_webhook_sign(sig, &secret, id, ts, body, strlen(body)), 0);
    gcs_webhook_secret_wipe(&secret);
    snprintf(h_id, sizeof h_id, "webhook-id: %s", id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", (long long)ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
    snprintf(url, sizeof url, "%s/v1/events", base);
    const char *headers[] = {"Content-Type: application/json", h_id, h_ts, h_sig, extra, NULL};
    gcs_test_http_do(r, "POST", url, headers, body, strlen(body));
}

void gcs_test_serve_call(gcs_test_http *r, const char *base, const char *method, const char *path,
                         const char *api_key, const char *body)
{
    char url[512], auth[128];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", api_key ? api_key : "");
    const char *headers[] = {"Content-Type: application/json", api_key ? auth : NULL, NULL};
    gcs_test_http_do(r, method, url, headers, body, body ? strlen(body) : 0);
}

int64_t gcs_test_serve_job_of(const gcs_test_http *r)
{
    assert_non_null(r->json);
    return (int64_t)json_integer_value(json_object_get(r->json, "job"));
}

const char *gcs_test_serve_error_of(const gcs_test_http *r)
{
    const char *e = r->json ? json_string_value(json_object_get(r->json, "error")) : NULL;
    return e ? e : "";
}
