/*
 * route_counts.h - counts of answers by method, templated route and status, for
 * metrics. Bounded: past GCS_ROUTE_COUNTS_MAX distinct keys, further ones are
 * counted under the route "other" so that a stream of odd paths cannot grow it.
 */
#ifndef GCS_HTTP_ROUTE_COUNTS_H
#define GCS_HTTP_ROUTE_COUNTS_H

#include <stdint.h>

#include <jansson.h>

#define GCS_ROUTE_COUNTS_MAX 256
#define GCS_ROUTE_MAX 128

typedef struct gcs_route_count {
    char method[8];
    char route[GCS_ROUTE_MAX];
    int status;
    uint64_t count;
} gcs_route_count;

typedef struct gcs_route_counts {
    gcs_route_count *items;
    int n;
    int cap;
} gcs_route_counts;

void gcs_route_counts_init(gcs_route_counts *rc);
void gcs_route_counts_release(gcs_route_counts *rc);
/* Counts one answer (status 0: none). path is raw; it is templated here. */
void gcs_route_counts_add(gcs_route_counts *rc, const char *method, const char *path, int status);
/* [{"method","route","status","count"}]. New reference. */
json_t *gcs_route_counts_json(const gcs_route_counts *rc);

#endif
