/*
 * service_internal.h - what the service's files share: the gcs_service struct
 * and the intake (server_intake.c) the routes submit to.
 */
#ifndef GCS_SERVICE_SERVICE_INTERNAL_H
#define GCS_SERVICE_SERVICE_INTERNAL_H

#include "service/service.h"

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

/* One submission waiting for its commit; lives on the submitting thread's stack. */
typedef struct gcs_service__intake_req {
    gcs_intake_item item;
    int rc;                      /* 0, or why the commit failed */
    bool done;
    struct gcs_service__intake_req *next;
} gcs_service__intake_req;

#define GCS_SERVICE__INTAKE_BATCH 512     /* items committed in one transaction at most */
#define GCS_SERVICE__INTAKE_WAITING 8192  /* submissions waiting at most: past it, 503 */

typedef struct gcs_service__intake {
    pthread_mutex_t lock;
    pthread_cond_t wake;          /* the committer: work arrived, or stop */
    pthread_cond_t committed;     /* the submitters: a batch was committed */
    gcs_service__intake_req *head, *tail;
    size_t waiting;
    bool stop;
    bool started;
    pthread_t thread;
    gcs_store *store;             /* the committer's own connection */
    atomic_llong pending_jobs;    /* last count of pending jobs, refreshed by the committer */
    int64_t counted_ms;
} gcs_service__intake;

struct gcs_service {
    gcs_service_options o;
    int64_t retention_ms, queue_max;
    int max_attempts, max_wait_s;
    atomic_bool draining;
    gcs_metrics metrics;
    gcs_service__intake intake;
    pthread_mutex_t read_lock;    /* one reader at a time on read_store */
    gcs_store *read_store;
};

int gcs_service__intake_start(gcs_service *s);
void gcs_service__intake_stop(gcs_service *s);
/* Submits one item and waits for its commit. GCS_ERATELIMIT when the queue is
 * full (pending jobs past queue_max, or too many submissions waiting), or the
 * store's error. */
int gcs_service__intake_submit(gcs_service *s, gcs_intake_item *item);

/* server_routes.c: answers. */
/* A JSON answer (body is taken over; NULL answers 500). */
void gcs_service__reply(gcs_http_response *out, int status, json_t *body);
/* {"error": message, "request_id": ...}; 503 adds Retry-After, 401 WWW-Authenticate. */
void gcs_service__reply_error(gcs_http_response *out, const gcs_http_request *req, int status,
                              const char *message);
/* The caller's API key holding `right`, or NULL after answering 401 or 403. */
const gcs_api_key *gcs_service__authorize(gcs_service *s, gcs_http_response *out,
                                          const gcs_http_request *req, unsigned right);

/* server_rest.c: reading routes, and the answer about one job (waiting up to
 * wait_s for its outcome). */
void gcs_service__answer_job(gcs_service *s, gcs_http_response *out, const gcs_http_request *req,
                             int64_t job_id, int wait_s);
void gcs_service__get_job(gcs_service *s, gcs_http_response *out, const gcs_http_request *req,
                          const char *id);
void gcs_service__get_user(gcs_service *s, gcs_http_response *out, const gcs_http_request *req,
                           const char *key);
void gcs_service__get_receipts(gcs_service *s, gcs_http_response *out,
                               const gcs_http_request *req);

/* server_health.c */
void gcs_service__healthz(gcs_service *s, gcs_http_response *out, const gcs_http_request *req);
void gcs_service__readyz(gcs_service *s, gcs_http_response *out, const gcs_http_request *req);
void gcs_service__metrics(gcs_service *s, gcs_http_response *out, const gcs_http_request *req);

#endif
