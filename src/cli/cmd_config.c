/* gcscim config show: the effective configuration, secrets as ***. */
#include "cli/cli.h"
#include "core/error.h"
#include "core/redact.h"
#include "genesys/region.h"
#include "store/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct shown {
    const char *name;
    const char *value; /* already safe to print */
    const char *source;
    const char *origin;
} shown;

static int show(gcs_cli *cli)
{
    char *api = NULL, *login = NULL, *db = NULL;
    const gcs_config *cfg = &cli->config;
    int rc = gcs_region_resolve(&api, &login, gcs_config_get(cfg, GCS_CFG_REGION),
                                gcs_config_get(cfg, GCS_CFG_API_URL),
                                gcs_config_get(cfg, GCS_CFG_LOGIN_URL));
    if (rc < 0)
        return gcs_cli_fail(cli, rc);

    shown rows[GCS_CFG__COUNT + 1];
    size_t n = 0;
    for (int k = 0; k < GCS_CFG__COUNT; k++) {
        const gcs_config_spec *spec = &gcs_config_specs[k];
        const gcs_config_value *v = &cfg->values[k];
        shown *r = &rows[n++];
        r->name = spec->name;
        r->source = v->value ? gcs_config_source_name(v->source) : "unset";
        r->origin = v->value ? v->origin : "";
        if (spec->secret && v->value)
            r->value = GCS_REDACTED;
        else
            r->value = v->value;
        /* The URLs the engine will really use, when not set explicitly. */
        if (k == GCS_CFG_API_URL && !v->value) {
            r->value = api;
            r->source = "derived";
            r->origin = "region";
        } else if (k == GCS_CFG_LOGIN_URL && !v->value) {
            r->value = login;
            r->source = "derived";
            r->origin = v->value ? "" : (cfg->values[GCS_CFG_API_URL].value ? "api_url" : "region");
        } else if (k == GCS_CFG_DB && v->value && gcs_store_url_display(&db, v->value) == 0) {
            r->value = db; /* a password in the URL is never shown */
        } else if (k == GCS_CFG_DB && !v->value && gcs_store_default_url(&db) == 0) {
            /* Where the store will really be. */
            r->value = db;
            r->source = "default";
            r->origin = "";
        }
    }
    rows[n++] = (shown){"config_file", cfg->file, cfg->file ? "file" : "unset", ""};

    if (cli->json) {
        json_t *root = json_object();
        for (size_t i = 0; i < n; i++) {
            json_t *entry = json_pack("{s:o,s:s,s:s}", "value",
                                      rows[i].value ? json_string(rows[i].value) : json_null(),
                                      "source", rows[i].source, "origin", rows[i].origin);
            json_object_set_new(root, rows[i].name, entry);
        }
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fprintf(cli->out, "%s\n", text);
        free(text);
        json_decref(root);
    } else {
        fprintf(cli->out, "%-18s %-44s %s\n", "SETTING", "VALUE", "SOURCE");
        for (size_t i = 0; i < n; i++) {
            char source[256];
            if (rows[i].origin && *rows[i].origin && strcmp(rows[i].origin, "default") != 0)
                snprintf(source, sizeof source, "%s (%s)", rows[i].source, rows[i].origin);
            else
                snprintf(source, sizeof source, "%s", rows[i].source);
            fprintf(cli->out, "%-18s %-44s %s\n", rows[i].name,
                    rows[i].value ? rows[i].value : "-", source);
        }
    }
    free(api);
    free(login);
    free(db);
    return GCS_EXIT_OK;
}

gcs_exit gcs_cmd_config(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    if ((rc = gcs_cli_parse(cli, argc, argv, NULL, NULL, NULL, &first)) != 0)
        return rc;
    if (first >= argc)
        return gcs_cli_usage_error(cli, "config", "missing subcommand (show)");
    if (strcmp(argv[first], "show") != 0)
        return gcs_cli_usage_error(cli, "config", "unknown subcommand '%s'", argv[first]);
    if (first + 1 < argc)
        return gcs_cli_usage_error(cli, "config", "unexpected argument '%s'", argv[first + 1]);
    if ((rc = gcs_cli_load_config(cli)) < 0)
        return gcs_cli_fail(cli, rc);
    return show(cli);
}
