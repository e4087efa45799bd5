#include "http/route_counts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/classify.h"

void gcs_route_counts_init(gcs_route_counts *rc)
{
    *rc = (gcs_route_counts){0};
}

void gcs_route_counts_release(gcs_route_counts *rc)
{
    free(rc->items);
    *rc = (gcs_route_counts){0};
}

static gcs_route_count *find(gcs_route_counts *rc, const char *method, const char *route,
                             int status)
{
    for (int i = 0; i < rc->n; i++) {
        gcs_route_count *e = &rc->items[i];
        if (e->status == status && strcmp(e->method, method) == 0 && strcmp(e->route, route) == 0)
            return e;
    }
    return NULL;
}

void gcs_route_counts_add(gcs_route_counts *rc, const char *method, const char *path, int status)
{
    char m[8], route[GCS_ROUTE_MAX];
    snprintf(m, sizeof m, "%s", method ? method : "?");
    gcs_http_route_template(route, sizeof route, path);
    gcs_route_count *e = find(rc, m, route, status);
    if (!e && rc->n >= GCS_ROUTE_COUNTS_MAX) {
        snprintf(route, sizeof route, "other");
        e = find(rc, m, route, status);
    }
    if (!e && rc->n >= GCS_ROUTE_COUNTS_MAX + 32)
        return; /* even the "other" rows are full */
    if (!e) {
        if (rc->n == rc->cap) {
            int cap = rc->cap ? rc->cap * 2 : 16;
            gcs_route_count *p = realloc(rc->items, (size_t)cap * sizeof *p);
            if (!p)
                return; /* counters are best effort: never fail a call for them */
            rc->items = p;
            rc->cap = cap;
        }
        e = &rc->items[rc->n++];
        memset(e, 0, sizeof *e);
        memcpy(e->method, m, sizeof e->method);
        memcpy(e->route, route, sizeof e->route);
        e->status = status;
    }
    e->count++;
}

json_t *gcs_route_counts_json(const gcs_route_counts *rc)
{
    json_t *a = json_array();
    for (int i = 0; a && i < rc->n; i++) {
        const gcs_route_count *e = &rc->items[i];
        json_array_append_new(a,
                              json_pack("{s:s,s:s,s:i,s:I}", "method", e->method, "route", e->route,
                                        "status", e->status, "count", (json_int_t)e->count));
    }
    return a;
}
