/*
 * config.h - the effective configuration and where each value came from.
 *
 * Layers, each overriding the one before (as the product brief asks):
 *   built-in default < environment < config file < command-line flag.
 * The config file is JSON: `--config FILE`, else $GCSCIM_CONFIG, else
 * $XDG_CONFIG_HOME/gcscim/config.json (~/.config/...) when it exists. Its keys are
 * the names below; an unknown key is an error naming it.
 * Secret values (client_secret) are registered with the redaction layer as soon
 * as they are read, are never accepted as a flag value (a flag shows in `ps`;
 * use --client-secret-file), and are wiped when the config is released. A
 * config file that holds a secret (client_secret, or a database URL with a
 * password) must not be readable by others, as a secret file must not.
 * Numeric settings are checked against their range wherever they come from
 * (flag, environment, file): the message names the setting, its origin and
 * the range.
 */
#ifndef GCS_CORE_CONFIG_H
#define GCS_CORE_CONFIG_H

#include <stdbool.h>

typedef enum gcs_config_key {
    GCS_CFG_CLIENT_ID,
    GCS_CFG_CLIENT_SECRET,
    GCS_CFG_REGION,
    GCS_CFG_API_URL,
    GCS_CFG_LOGIN_URL,
    GCS_CFG_DB,
    GCS_CFG_LOG_LEVEL,
    GCS_CFG_LOG_FORMAT,
    GCS_CFG_MAX_IN_FLIGHT,
    GCS_CFG_MAX_RPS,
    GCS_CFG_TIMEOUT,
    GCS_CFG_CA_BUNDLE,
    /* gcscim serve's (their flags belong to that command alone) */
    GCS_CFG_LISTEN,
    GCS_CFG_READY_FILE,
    GCS_CFG_TLS_CERT,
    GCS_CFG_TLS_KEY,
    GCS_CFG_WORKERS,
    GCS_CFG_EVENT_SECRETS_FILE,
    GCS_CFG_API_KEYS_FILE,
    GCS_CFG_NOTIFY_FILE,
    GCS_CFG_SHUTDOWN_GRACE,
    GCS_CFG_QUEUE_MAX,
    GCS_CFG_PROFILE,
    GCS_CFG_CHAIN_VERIFY_INTERVAL,
    GCS_CFG_PASSWORDS_FILE,
    GCS_CFG__COUNT
} gcs_config_key;

typedef enum gcs_config_source {
    GCS_CFG_FROM_DEFAULT,
    GCS_CFG_FROM_ENV,
    GCS_CFG_FROM_FILE,
    GCS_CFG_FROM_FLAG,
} gcs_config_source;

typedef struct gcs_config_spec {
    const char *name;        /* key in the config file and in `config show` */
    const char *env;         /* environment variable, or NULL */
    const char *flag;        /* long flag without dashes, or NULL */
    const char *help;        /* one line */
    bool secret;             /* never shown, never accepted as a flag value */
    bool numeric;            /* must parse as a number in [min, max] */
    bool whole;              /* numeric, and a whole number */
    double min, max;         /* the accepted range of a numeric setting */
    const char *command;     /* the one command whose flag it is; NULL: a global flag */
} gcs_config_spec;

typedef struct gcs_config_value {
    char *value;             /* NULL when unset */
    gcs_config_source source;
    char *origin;            /* "GENESYSCLOUD_REGION", "/etc/gcscim.json", "--region" */
} gcs_config_value;

typedef struct gcs_config {
    gcs_config_value values[GCS_CFG__COUNT];
    char *file;              /* the config file that was read, or NULL */
} gcs_config;

extern const gcs_config_spec gcs_config_specs[GCS_CFG__COUNT];

/* Fills defaults and the environment (allocating: release with
 * gcs_config_release even on failure). `environ_get` is getenv unless a test
 * passes its own. */
int gcs_config_from_env(gcs_config *cfg, const char *(*environ_get)(const char *name));
/* Reads a JSON config file over the current values. `explicit_path` is the
 * --config flag (NULL: $GCSCIM_CONFIG or the XDG default, silently skipped when
 * absent). A named file that cannot be read is an error. */
int gcs_config_load_file(gcs_config *cfg, const char *explicit_path,
                         const char *(*environ_get)(const char *name));
/* Sets a value from a flag (origin "--NAME"). Rejects secrets and bad numbers. */
int gcs_config_set_flag(gcs_config *cfg, gcs_config_key key, const char *value);
/* Sets a value with an explicit source and origin (used for --client-secret-file). */
int gcs_config_set(gcs_config *cfg, gcs_config_key key, const char *value,
                   gcs_config_source source, const char *origin);
/* Reads the first line of FILE as the client secret (a file left readable by
 * others is refused). */
int gcs_config_set_secret_file(gcs_config *cfg, const char *path);

const char *gcs_config_get(const gcs_config *cfg, gcs_config_key key);
long gcs_config_get_long(const gcs_config *cfg, gcs_config_key key);
/* Looks a key up by name; -1 when unknown. */
int gcs_config_key_by_name(const char *name);
const char *gcs_config_source_name(gcs_config_source source);

void gcs_config_release(gcs_config *cfg);

#endif
