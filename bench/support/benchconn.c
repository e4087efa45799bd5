#include "benchconn.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gcs_bench_open(gcs_bench_conn *c, const char *api_url, const char *dir,
                   const char *max_in_flight)
{
    memset(c, 0, sizeof *c);
    gcs_config_from_env(&c->cfg, NULL);
    gcs_config_set(&c->cfg, GCS_CFG_API_URL, api_url, GCS_CFG_FROM_FLAG, "bench");
    gcs_config_set(&c->cfg, GCS_CFG_CLIENT_ID, "gcscim-emulator", GCS_CFG_FROM_FLAG, "bench");
    gcs_config_set(&c->cfg, GCS_CFG_CLIENT_SECRET, "gcscim-emulator-secret", GCS_CFG_FROM_FLAG,
                   "bench");
    if (max_in_flight)
        gcs_config_set(&c->cfg, GCS_CFG_MAX_IN_FLIGHT, max_in_flight, GCS_CFG_FROM_FLAG, "bench");
    char db[1100];
    snprintf(db, sizeof db, "sqlite:%s/gcscim.db", dir);
    int rc = gcs_genesys_session_open(&c->session, &c->cfg, NULL);
    if (rc == 0)
        rc = gcs_store_open(&c->store, db);
    return rc;
}

void gcs_bench_close(gcs_bench_conn *c)
{
    gcs_store_free(c->store);
    gcs_genesys_session_free(c->session);
    gcs_config_release(&c->cfg);
    memset(c, 0, sizeof *c);
}

long gcs_bench_emulator_calls(const char *api_url, long *reads, long *writes)
{
    char cmd[1024];
    long r = 0, w = 0;
    snprintf(cmd, sizeof cmd, "curl -s %s/_emulator/stats", api_url);
    FILE *p = popen(cmd, "r");
    json_t *st = p ? json_loadf(p, 0, NULL) : NULL;
    if (p)
        pclose(p);
    const char *route;
    json_t *by_status;
    json_object_foreach(json_object_get(st, "routes"), route, by_status) {
        if (strstr(route, "/oauth/") || strstr(route, "/_emulator"))
            continue;
        const char *status;
        json_t *count;
        long n = 0;
        json_object_foreach(by_status, status, count) n += (long)json_integer_value(count);
        if (strncmp(route, "GET ", 4) == 0)
            r += n;
        else
            w += n;
    }
    json_decref(st);
    if (reads)
        *reads = r;
    if (writes)
        *writes = w;
    return r + w;
}

void gcs_bench_remove_dir(const char *dir, const char *bench)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: could not remove %s\n", bench, dir);
}
