#include "core/config.h"
#include "core/error.h"
#include "core/file.h"
#include "core/redact.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const gcs_config_spec gcs_config_specs[GCS_CFG__COUNT] = {
    [GCS_CFG_CLIENT_ID] = {"client_id", "GENESYSCLOUD_OAUTHCLIENT_ID", "client-id",
                           "OAuth client id (client credentials grant)", false, false, false, 0, 0, NULL},
    [GCS_CFG_CLIENT_SECRET] = {"client_secret", "GENESYSCLOUD_OAUTHCLIENT_SECRET", NULL,
                               "OAuth client secret (never shown; flag: --client-secret-file)",
                               true, false, false, 0, 0, NULL},
    [GCS_CFG_REGION] = {"region", "GENESYSCLOUD_REGION", "region",
                        "region name (eu-west-1) or domain (mypurecloud.ie)", false, false, false, 0, 0, NULL},
    [GCS_CFG_API_URL] = {"api_url", "GENESYSCLOUD_API_URL", "api-url",
                         "API base URL, overriding the region (emulator, proxy)", false, false, false, 0, 0, NULL},
    [GCS_CFG_LOGIN_URL] = {"login_url", "GENESYSCLOUD_LOGIN_URL", "login-url",
                           "login base URL, overriding the region", false, false, false, 0, 0, NULL},
    [GCS_CFG_DB] = {"db", "GCSCIM_DB", "db",
                    "store: sqlite:PATH or postgresql://... (default: sqlite in the state dir)",
                    false, false, false, 0, 0, NULL},
    [GCS_CFG_LOG_LEVEL] = {"log_level", "GCSCIM_LOG_LEVEL", "log-level",
                           "debug, info, warn, error or off", false, false, false, 0, 0, NULL},
    [GCS_CFG_LOG_FORMAT] = {"log_format", "GCSCIM_LOG_FORMAT", "log-format",
                            "text (for people) or json (one object per line)", false, false, false, 0, 0, NULL},
    [GCS_CFG_MAX_IN_FLIGHT] = {"max_in_flight", "GCSCIM_MAX_IN_FLIGHT", "max-in-flight",
                               "ceiling on requests in flight at once", false, true, true, 1, 256, NULL},
    [GCS_CFG_MAX_RPS] = {"max_rps", "GCSCIM_MAX_RPS", "max-rps",
                         "your own ceiling on requests per second (0: only the server's)",
                         false, true, false, 0, 10000, NULL},
    [GCS_CFG_TIMEOUT] = {"timeout", "GCSCIM_TIMEOUT", "timeout",
                         "seconds one request may take before it is abandoned", false, true, true,
                         1, 3600, NULL},
    [GCS_CFG_CA_BUNDLE] = {"ca_bundle", "GCSCIM_CA_BUNDLE", "ca-bundle",
                           "extra CA certificates (PEM) for a proxy; verification stays on",
                           false, false, false, 0, 0, NULL},
    [GCS_CFG_LISTEN] = {"listen", "GCSCIM_LISTEN", "listen",
                        "serve: HOST:PORT to listen on (plain HTTP on loopback only without TLS)",
                        false, false, false, 0, 0, "serve"},
    [GCS_CFG_READY_FILE] = {"ready_file", "GCSCIM_READY_FILE", "ready-file",
                            "serve: file written once listening ({\"api_url\",\"port\"})",
                            false, false, false, 0, 0, "serve"},
    [GCS_CFG_TLS_CERT] = {"tls_cert", "GCSCIM_TLS_CERT", "tls-cert",
                          "serve: TLS certificate chain (PEM file)", false, false, false, 0, 0,
                          "serve"},
    [GCS_CFG_TLS_KEY] = {"tls_key", "GCSCIM_TLS_KEY", "tls-key",
                         "serve: TLS private key (PEM file, mode 0600)", false, false, false, 0, 0,
                         "serve"},
    [GCS_CFG_WORKERS] = {"workers", "GCSCIM_WORKERS", "workers",
                         "serve: worker threads running jobs", false, true, true, 1, 64, "serve"},
    [GCS_CFG_EVENT_SECRETS_FILE] = {"event_secrets_file", "GCSCIM_EVENT_SECRETS_FILE",
                                    "event-secrets-file",
                                    "serve: Standard Webhooks secrets, one whsec_... a line (0600)",
                                    false, false, false, 0, 0, "serve"},
    [GCS_CFG_API_KEYS_FILE] = {"api_keys_file", "GCSCIM_API_KEYS_FILE", "api-keys-file",
                               "serve: API keys, \"NAME RIGHTS sha256:HEX\" a line (0600)", false,
                               false, false, 0, 0, "serve"},
    [GCS_CFG_NOTIFY_FILE] = {"notify_file", "GCSCIM_NOTIFY_FILE", "notify-file",
                             "endpoints told of each outcome (JSON; docs/notifications.md)",
                             false, false, false, 0, 0, NULL},
    [GCS_CFG_SHUTDOWN_GRACE] = {"shutdown_grace", "GCSCIM_SHUTDOWN_GRACE", "shutdown-grace",
                                "serve: seconds running jobs get to finish on SIGTERM", false,
                                true, true, 0, 3600, "serve"},
    [GCS_CFG_QUEUE_MAX] = {"queue_max", "GCSCIM_QUEUE_MAX", "queue-max",
                           "serve: pending jobs past which new work is refused (503)", false, true,
                           true, 1, 10000000, "serve"},
    [GCS_CFG_PROFILE] = {"profile", "GCSCIM_PROFILE", "profile",
                         "serve: the mapping profile every job's row goes through", false, false,
                         false, 0, 0, "serve"},
    [GCS_CFG_CHAIN_VERIFY_INTERVAL] = {"chain_verify_interval", "GCSCIM_CHAIN_VERIFY_INTERVAL",
                                       "chain-verify-interval",
                                       "serve: seconds between checks of the receipt chain (0: off)",
                                       false, true, true, 0, 86400, "serve"},
    [GCS_CFG_PASSWORDS_FILE] = {"passwords_file", "GCSCIM_PASSWORDS_FILE", "passwords-file",
                                "serve: where passwords the profile generates go "
                                "(CSV key,userName,password; 0600)",
                                false, false, false, 0, 0, "serve"},
};

static const char *const defaults[GCS_CFG__COUNT] = {
    [GCS_CFG_REGION] = "us-east-1", [GCS_CFG_LOG_LEVEL] = "info",
    [GCS_CFG_LOG_FORMAT] = "text",  [GCS_CFG_MAX_IN_FLIGHT] = "16",
    [GCS_CFG_MAX_RPS] = "0",        [GCS_CFG_TIMEOUT] = "30",
    [GCS_CFG_LISTEN] = "127.0.0.1:8080", [GCS_CFG_WORKERS] = "4",
    [GCS_CFG_SHUTDOWN_GRACE] = "30", [GCS_CFG_QUEUE_MAX] = "100000",
    [GCS_CFG_CHAIN_VERIFY_INTERVAL] = "300",
};

const char *gcs_config_source_name(gcs_config_source source)
{
    switch (source) {
    case GCS_CFG_FROM_DEFAULT: return "default";
    case GCS_CFG_FROM_ENV: return "env";
    case GCS_CFG_FROM_FILE: return "file";
    case GCS_CFG_FROM_FLAG: return "flag";
    }
    return "?";
}

int gcs_config_key_by_name(const char *name)
{
    for (int i = 0; i < GCS_CFG__COUNT; i++) {
        if (strcmp(gcs_config_specs[i].name, name) == 0)
            return i;
    }
    return -1;
}

static void clear_value(gcs_config_value *v)
{
    if (v->value) {
        explicit_bzero(v->value, strlen(v->value));
        free(v->value);
    }
    free(v->origin);
    v->value = NULL;
    v->origin = NULL;
}

/* A numeric setting within its range. The message names where the value came
 * from and what is accepted; strtod's overflow (20 digits) is out of range too. */
static int check_number(gcs_config_key key, const char *value, const char *origin)
{
    const gcs_config_spec *spec = &gcs_config_specs[key];
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    bool number = end != value && *end == '\0' && !strpbrk(value, "xXpPnN");
    bool ok = number && errno == 0 && d >= spec->min && d <= spec->max &&
              (!spec->whole || d == (double)(long)d);
    if (ok)
        return 0;
    char range[96];
    if (spec->whole)
        snprintf(range, sizeof range, "a whole number from %.0f to %.0f", spec->min, spec->max);
    else
        snprintf(range, sizeof range, "a number from %g to %g", spec->min, spec->max);
    return gcs_error_set(GCS_EINVALID, "%s: %s must be %s, not '%.40s%s'", origin, spec->name,
                         range, value, strlen(value) > 40 ? "…" : "");
}

int gcs_config_set(gcs_config *cfg, gcs_config_key key, const char *value,
                   gcs_config_source source, const char *origin)
{
    const gcs_config_spec *spec = &gcs_config_specs[key];
    int rc;
    if (spec->numeric && (rc = check_number(key, value, origin)) < 0)
        return rc;
    if (spec->secret)
        gcs_redact_register(value);
    gcs_config_value *v = &cfg->values[key];
    clear_value(v);
    v->value = strdup(value);
    v->origin = strdup(origin);
    v->source = source;
    if (!v->value || !v->origin)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_config_from_env(gcs_config *cfg, const char *(*environ_get)(const char *name))
{
    memset(cfg, 0, sizeof *cfg);
    const char *(*get)(const char *) = environ_get ? environ_get : (const char *(*)(const char *))getenv;
    int rc = 0;
    for (int i = 0; i < GCS_CFG__COUNT && rc == 0; i++) {
        const gcs_config_spec *spec = &gcs_config_specs[i];
        const char *env = spec->env ? get(spec->env) : NULL;
        if (env && *env)
            rc = gcs_config_set(cfg, (gcs_config_key)i, env, GCS_CFG_FROM_ENV, spec->env);
        else if (defaults[i])
            rc = gcs_config_set(cfg, (gcs_config_key)i, defaults[i], GCS_CFG_FROM_DEFAULT,
                                "default");
    }
    return rc;
}

static int default_config_path(char *out, size_t outsz, const char *(*get)(const char *))
{
    const char *explicit_env = get("GCSCIM_CONFIG");
    if (explicit_env && *explicit_env) {
        snprintf(out, outsz, "%s", explicit_env);
        return 1; /* named: must exist */
    }
    const char *xdg = get("XDG_CONFIG_HOME");
    const char *home = get("HOME");
    if (xdg && *xdg)
        snprintf(out, outsz, "%s/gcscim/config.json", xdg);
    else if (home && *home)
        snprintf(out, outsz, "%s/.config/gcscim/config.json", home);
    else
        return -1;
    return 0; /* optional */
}

#define CONFIG_MAX_BYTES (1024 * 1024)
#define SECRET_FILE_MAX 4096

/* A database URL with a password in it: scheme://user:password@host… */
static bool url_has_password(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    return at && memchr(p, ':', (size_t)(at - p)) != NULL;
}

/* True when the file's object has a secret key, or a URL holding a password. */
static bool holds_secret(const json_t *root)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)root, key, value) {
        int k = gcs_config_key_by_name(key);
        if (k >= 0 && gcs_config_specs[k].secret && !json_is_null(value))
            return true;
        if (json_is_string(value) && url_has_password(json_string_value(value)))
            return true;
    }
    return false;
}

int gcs_config_load_file(gcs_config *cfg, const char *explicit_path,
                         const char *(*environ_get)(const char *name))
{
    const char *(*get)(const char *) = environ_get ? environ_get : (const char *(*)(const char *))getenv;
    char path[4096];
    bool required = true;
    if (explicit_path) {
        snprintf(path, sizeof path, "%s", explicit_path);
    } else {
        int kind = default_config_path(path, sizeof path, get);
        if (kind < 0)
            return 0;
        required = kind == 1;
        if (!required && access(path, F_OK) != 0)
            return 0;
    }

    json_error_t jerr;
    struct stat st;
    gcs_buf file;
    gcs_buf_init_secure(&file, CONFIG_MAX_BYTES);
    const gcs_file_read_opts how = {.what = "config file", .max = CONFIG_MAX_BYTES};
    int rc = gcs_file_read_small(path, &how, &file, &st);
    if (rc < 0) {
        gcs_buf_release_secure(&file);
        return rc;
    }
    /* Windows editors begin UTF-8 with a byte order mark */
    size_t bom = file.len >= 3 && memcmp(file.ptr, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    json_t *root = json_loadb(file.ptr + bom, file.len - bom, JSON_REJECT_DUPLICATES, &jerr);
    gcs_buf_release_secure(&file);
    if (!root) {
        /* jansson quotes the text "near" the fault: in this file that may be
         * a secret (an unterminated client_secret), so only the reason goes */
        char *near = strstr(jerr.text, " near ");
        if (near)
            *near = '\0';
        int rc2 = gcs_error_set(GCS_EINVALID,
                                "cannot read config file '%s': line %d, column %d: %s", path,
                                jerr.line, jerr.column, jerr.text);
        explicit_bzero(&jerr, sizeof jerr);
        return rc2;
    }
    if ((st.st_mode & 0077) && holds_secret(root)) {
        rc = gcs_error_set(GCS_EINVALID,
                           "config file '%s' holds a secret and is readable by others: "
                           "chmod 600 it first",
                           path);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = gcs_error_set(GCS_EINVALID, "cannot read config file '%s': expected a JSON object",
                           path);
        goto out;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        int k = gcs_config_key_by_name(key);
        if (k < 0) {
            rc = gcs_error_set(GCS_EINVALID, "cannot read config file '%s': unknown key '%s'",
                               path, key);
            goto out;
        }
        char text[64];
        const char *s;
        if (json_is_string(value)) {
            s = json_string_value(value);
        } else if (json_is_integer(value)) {
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
            s = text;
        } else if (json_is_real(value)) {
            snprintf(text, sizeof text, "%g", json_real_value(value));
            s = text;
        } else if (json_is_null(value)) {
            continue;
        } else {
            rc = gcs_error_set(GCS_EINVALID,
                               "cannot read config file '%s': key '%s' must be a string or a number",
                               path, key);
            goto out;
        }
        if ((rc = gcs_config_set(cfg, (gcs_config_key)k, s, GCS_CFG_FROM_FILE, path)) < 0) {
            /* A range message names the file already ("FILE: timeout must be…"). */
            if (strncmp(gcs_error_last(), path, strlen(path)) != 0)
                gcs_error_prefix(rc, "cannot read config file '%s'", path);
            goto out;
        }
    }
    free(cfg->file);
    cfg->file = strdup(path);
out:
    json_decref(root);
    return rc;
}

int gcs_config_set_flag(gcs_config *cfg, gcs_config_key key, const char *value)
{
    const gcs_config_spec *spec = &gcs_config_specs[key];
    char origin[64];
    if (spec->secret || !spec->flag)
        return gcs_error_set(GCS_EUSAGE, "%s cannot be given as a flag", spec->name);
    snprintf(origin, sizeof origin, "--%s", spec->flag);
    return gcs_config_set(cfg, key, value, GCS_CFG_FROM_FLAG, origin);
}

int gcs_config_set_secret_file(gcs_config *cfg, const char *path)
{
    struct stat st;
    gcs_buf text;
    gcs_buf_init_secure(&text, SECRET_FILE_MAX);
    /* A pipe is read: `--client-secret-file <(vault read ...)` keeps the secret off disk. */
    const gcs_file_read_opts how = {
        .what = "secret file", .max = SECRET_FILE_MAX, .allow_pipe = true, .wait_ms = 30000};
    int rc = gcs_file_read_small(path, &how, &text, &st);
    if (rc < 0)
        goto out;
    if (S_ISREG(st.st_mode) && (st.st_mode & 0077)) {
        rc = gcs_error_set(GCS_EINVALID,
                           "secret file '%s' is readable by others: chmod 600 it first", path);
        goto out;
    }
    text.ptr[strcspn(text.ptr, "\r\n")] = '\0';
    if (!text.ptr[0]) {
        rc = gcs_error_set(GCS_EINVALID, "secret file '%s' is empty", path);
        goto out;
    }
    char origin[4200];
    snprintf(origin, sizeof origin, "--client-secret-file %s", path);
    rc = gcs_config_set(cfg, GCS_CFG_CLIENT_SECRET, text.ptr, GCS_CFG_FROM_FLAG, origin);
out:
    gcs_buf_release_secure(&text);
    return rc;
}

const char *gcs_config_get(const gcs_config *cfg, gcs_config_key key)
{
    return cfg->values[key].value;
}

long gcs_config_get_long(const gcs_config *cfg, gcs_config_key key)
{
    const char *v = cfg->values[key].value;
    return v ? strtol(v, NULL, 10) : 0;
}

void gcs_config_release(gcs_config *cfg)
{
    for (int i = 0; i < GCS_CFG__COUNT; i++)
        clear_value(&cfg->values[i]);
    free(cfg->file);
    cfg->file = NULL;
}
