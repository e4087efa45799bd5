/*
 * Reading and mapping speed: generates an HR export of N rows (default 100,000)
 * shaped like examples/hr-export.csv, then reads it and maps every row through
 * examples/profile.yaml with the names of examples/org.json, and prints
 *   {"rows":…,"read_rows_per_s":…,"map_rows_per_s":…,"ok":…,"rejected":…}
 * Usage: bench_mapping [ROWS] [EXAMPLES_DIR]   (EXAMPLES_DIR default: ./examples)
 */
#include "core/error.h"
#include "mapping/map.h"
#include "mapping/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_org(gcs_org_names **out, const char *path)
{
    json_error_t err;
    json_t *seed = json_load_file(path, 0, &err);
    if (!seed)
        return gcs_error_set(GCS_EINVALID, "%s: %s", path, err.text);
    gcs_org_names_new(out);
    const char *kinds[] = {"roles", "divisions", "skills", "languages"};
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(seed, kinds[k]), i, e)
            gcs_org_names_add(*out, (gcs_org_kind)k, json_string_value(json_object_get(e, "name")));
    }
    json_decref(seed);
    return 0;
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 100000;
    const char *dir = argc > 2 ? argv[2] : "examples";
    char path[4096], csv[] = "/tmp/bench_mapping_XXXXXX";
    int fd = mkstemp(csv);
    if (fd < 0)
        return 1;
    FILE *f = fdopen(fd, "w");
    fputs("employee_id,first_name,last_name,email,job_title,department,division,work_phone,"
          "mobile_phone,hire_date,manager_id,status,roles,skills,languages\n", f);
    for (long i = 0; i < rows; i++)
        fprintf(f, "EC%07ld,First%ld,Last%ld,person%ld@example.com,Support Agent,Support,Support,"
                   "(555) 010-%04ld,,03/15/2021,EC9%06ld,%s,Employee;Agent,Billing:4;Returns,"
                   "English;French:3\n",
                i, i, i, i, i % 10000, i / 10, i % 50 ? "Active" : "Leaver");
    fclose(f);

    gcs_profile *p = NULL;
    gcs_org_names *org = NULL;
    snprintf(path, sizeof path, "%s/profile.yaml", dir);
    if (gcs_profile_load(&p, path) < 0) {
        fprintf(stderr, "%s\n", gcs_error_last());
        unlink(csv);
        return 1;
    }
    snprintf(path, sizeof path, "%s/org.json", dir);
    if (load_org(&org, path) < 0) {
        fprintf(stderr, "%s\n", gcs_error_last());
        unlink(csv);
        return 1;
    }

    /* Pass 1: reading alone. */
    gcs_source *src;
    const gcs_row *row;
    long n = 0, ok = 0, bad = 0;
    double t0 = now();
    gcs_source_open(&src, csv, GCS_SOURCE_AUTO, NULL);
    while (gcs_source_next(&row, src) == GCS_SOURCE_ROW)
        n++;
    gcs_source_free(src);
    double t_read = now() - t0;

    /* Pass 2: reading and mapping. */
    t0 = now();
    gcs_source_open(&src, csv, GCS_SOURCE_AUTO, NULL);
    while (gcs_source_next(&row, src) == GCS_SOURCE_ROW) {
        gcs_map_user u;
        if (gcs_map_row(&u, p, row, org) == 0 && u.status == GCS_MAP_OK)
            ok++;
        else
            bad++;
        gcs_map_user_release(&u);
    }
    gcs_source_free(src);
    double t_map = now() - t0;
    unlink(csv);
    gcs_profile_free(p);
    gcs_org_names_free(org);
    printf("{\"rows\":%ld,\"read_rows_per_s\":%.0f,\"map_rows_per_s\":%.0f,\"ok\":%ld,"
           "\"rejected\":%ld}\n",
           n, n / t_read, n / t_map, ok, bad);
    return ok + bad == n ? 0 : 1;
}
