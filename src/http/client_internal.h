/*
 * client_internal.h - what the request engine's files share (client.c: the
 * loop; transfer.c: one attempt on the wire; complete.c: finishing a call;
 * stats.c: counters). Private to src/http/: nothing else includes it, and
 * the functions it declares are named gcs_http__NAME (two underscores) so
 * that a call from elsewhere stands out (tests/layering.sh rejects one).
 *
 * A submitted request becomes a job. Jobs wait in one of the client's queues
 * (login, ready, delayed) or are on the wire; a job is in exactly one queue at
 * any time, until gcs_http__job_complete frees it.
 */
#ifndef GCS_HTTP_CLIENT_INTERNAL_H
#define GCS_HTTP_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/breaker.h"
#include "http/client.h"
#include "http/headers.h"
#include "http/pacer.h"
#include "http/route_counts.h"

#define URL_MAX 4096
#define AUTH_PREFIX "Authorization: Bearer "

typedef struct job job;
typedef struct queue queue;
struct job {
    job *next, *prev;
    queue *queued_in; /* the queue holding the job, NULL when in none (asserted) */
    gcs_http_client *c;

    /* The request, copied at submit. */
    char *method, *path, *url, *body, *content_type, *if_match, *if_none_match;
    size_t body_len;
    char **headers;
    unsigned flags;
    bool idempotent;
    bool sensitive;    /* wipe body, answer and header lists before freeing */
    const char *scope; /* the OAuth scope the call needs (static), NULL unknown */
    gcs_http_done_fn on_done;
    int (*on_start)(void *payload);
    bool start_recorded; /* on_start ran and the start barrier, if any, passed */
    void *payload;
    gcs_http_client_response *sync_out; /* gcs_http_call: the answer is moved here */
    bool *sync_done;

    /* Header lines, linked into one list for libcurl without a copy or an
     * allocation per attempt (transfer.c): the Authorization line, the
     * request's own lines, its extra headers, then the client's common ones. */
    char *own_lines;          /* Content-Type, If-Match, If-None-Match: each NUL-ended */
    int n_own_lines;
    struct curl_slist *nodes; /* one per line of the job: Authorization, own, extra */

    /* The attempt on the wire. */
    CURL *easy;
    gcs_buf in;
    bool too_large;
    gcs_http_answer_headers h;
    char *auth_line;   /* "Authorization: Bearer TOKEN", wiped before it is freed */
    const char *token; /* inside auth_line: the token sent, to tell the provider which failed */
    bool probe;
    int64_t sent_us;

    /* Across attempts. */
    int attempts, auth_replays;
    int64_t first_send_us, not_before_us;
    int last_status, last_retry_after;
    gcs_http_outcome last_outcome;
};

struct queue {
    job *head, *tail;
    int n;
};

struct gcs_http_client {
    char *api_url, *login_url, *ca_bundle, *user_agent;
    /* Lines every request sends (Accept, no Expect, User-Agent), linked
     * behind each job's own: built once. */
    char *user_agent_line;
    struct curl_slist common_headers[3];
    bool https;
    int max_in_flight, connect_timeout_ms, timeout_ms, max_attempts;
    int64_t retry_budget_us, backoff_base_us, backoff_cap_us;
    int breaker_max_trips;
    size_t max_response_bytes;
    gcs_http_auth auth;
    uint64_t rng;

    CURLM *multi;
    /* Idle easy handles, reused: they keep TLS sessions and DNS. Those of
     * pool[1] ask for gzip (reads: list pages are large), those of pool[0] do
     * not (writes: small answers), which spares libcurl formatting the
     * Accept-Encoding line twice on every write. */
    struct handle_pool {
        CURL **h;
        int n, cap;
    } pool[2];

    queue login, ready, delayed;
    queue wire; /* jobs on the wire */
    int in_flight_api, in_flight_login;
    gcs_pacer pacer;
    atomic_int hosts;        /* gcs_http_client_set_hosts: read by the pacer's decisions */
    gcs_breaker breaker;
    int64_t wake_us;         /* next instant dispatch may have work, 0: none */
    int64_t pace_blocked_us; /* since when the head waits for the pacer, 0: not */
    /* A fatal outcome stops the client: a daily limit, a 403 (a scope or a
     * permission is missing: every other call would fail alike), or a server
     * that stayed down through every probe. Every queued call then fails with
     * stop_outcome unsent and gcs_http_run returns stop_code. Cleared only by
     * gcs_http_client_resume (a service's client outlives its runs). */
    int stop_code;
    gcs_http_outcome stop_outcome;
    char stop_msg[400];
    char last_failure[200]; /* why the last server failure happened, for the stop */
    /* Scopes a call has been answered under (not 401/403): until a scope is
     * proven, one call needing it is on the wire at a time, so that a missing
     * scope costs one failed call, not max_in_flight of them. */
    const char *proven[16];
    int n_proven;
    /* The calls gcs_http_run saw finish, to tell a total outage from a partial one. */
    uint64_t run_answered, run_failed;

    gcs_http_receipt_fn receipt_fn;
    void *receipt_payload;
    size_t receipt_body_max; /* bytes of a body a receipt keeps; 0: all */
    int (*start_barrier)(void *payload);
    void *start_barrier_payload;

    gcs_http_stats st;
    gcs_route_counts routes;
};

/* ==== Queues (client.c) ==== */

void gcs_http__queue_push_back(queue *q, job *j);
void gcs_http__queue_push_front(queue *q, job *j);
void gcs_http__queue_remove(queue *q, job *j);
/* Keeps the queue sorted by not_before_us. */
void gcs_http__queue_insert_sorted(queue *q, job *j);
void gcs_http__job_free(job *j);

/* ==== One attempt on the wire (transfer.c) ==== */

/* Puts the job on the wire with `token` (NULL: no Authorization). On failure
 * the job is untouched and in no queue. */
int gcs_http__job_start(gcs_http_client *c, job *j, const char *token);
gcs_transport_fail gcs_http__job_transport_fail(job *j, CURLcode code);
/* Whether the job's answer is asked for compressed: reads only. */
bool gcs_http__job_compressed(const job *j);
/* Returns an easy handle to the pool of idle ones it was taken from. */
void gcs_http__handle_give(gcs_http_client *c, CURL *e, bool compressed);

/* ==== Finishing a call (complete.c) ==== */

/* Completes a job that is in no queue: response, receipt, callback, free. */
void gcs_http__job_complete(gcs_http_client *c, job *j, gcs_http_outcome outcome, const char *why);
/* Completes every queued API call (not those on the wire) with `outcome`. */
void gcs_http__fail_queued(gcs_http_client *c, gcs_http_outcome outcome, const char *why);
/* Stops the client (see stop_code): the first stop wins. */
void gcs_http__stop(gcs_http_client *c, int code, gcs_http_outcome outcome, const char *msg);
/* "host:port" of a URL, for messages. */
void gcs_http__url_host_port(char *out, size_t outsz, const char *url);

#endif
