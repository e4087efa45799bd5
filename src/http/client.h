/*
 * client.h - the request engine: every call to Genesys Cloud goes through here.
 *
 * One client drives many requests on the calling thread with libcurl's multi
 * interface: connections are reused, HTTP/2 is used when the server offers it
 * over TLS, and at most `max_in_flight` requests are on the wire. Callers submit
 * as many requests as they like; the engine queues them and decides when each
 * goes out:
 *  - pacing (pacer.h): at the rate the service's inin-ratelimit-* headers allow,
 *    one shared pause after a 429, an optional user ceiling;
 *  - tokens: before a request is sent the auth provider (token.h) gives a bearer
 *    token; while a token is being fetched every request waits; a 401 refreshes
 *    the token once and replays the call;
 *  - retries (retry.h) with full-jitter backoff, bounded by attempts and a time
 *    budget; a POST whose fate is unknown is never repeated;
 *  - a circuit breaker (breaker.h) after consecutive server failures;
 *  - fatal outcomes stop the client at once: a 403 (a scope or a permission is
 *    missing, so every other call would fail alike), a daily rate limit, or a
 *    server that stayed down through every probe of the breaker. Every queued
 *    call then fails unsent and gcs_http_run returns a code that says which;
 *  - until a call needing a given OAuth scope has been answered (other than
 *    401/403), only one call needing it is on the wire: a missing scope costs
 *    one failed call, not one per request in flight.
 *
 * Invariants:
 *  - for every request that gcs_http_submit accepted (returned 0), on_done is
 *    called exactly once, from inside gcs_http_run / gcs_http_run_once /
 *    gcs_http_call, never from gcs_http_submit itself;
 *  - the receipt hook, when set, is called once per finished API call (not for
 *    the token endpoint), before on_done, with bodies already redacted;
 *  - TLS peer and host verification are always on;
 *  - a response body never grows past `max_response_bytes`;
 *  - a client is used from one thread at a time.
 */
#ifndef GCS_HTTP_CLIENT_H
#define GCS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "http/breaker.h"
#include "http/classify.h"
#include "http/retry.h"

typedef struct gcs_http_client gcs_http_client;

/* ==== Authentication provider ==== */

/*
 * Supplies bearer tokens (token.h implements it). `get` returns 0 and sets *out
 * (borrowed until the next call) when a token is ready, 1 when one is being
 * fetched (it may submit the fetch to `client` as a GCS_HTTP_REQ_LOGIN request;
 * the client asks again after its next completion), or a negative gcs_error
 * when no token can be had (every waiting request then fails with it).
 * `rejected` says that the API answered 401 to a request sent with `token`.
 */
typedef struct gcs_http_auth {
    int (*get)(const char **out, gcs_http_client *client, void *payload);
    void (*rejected)(const char *token, void *payload);
    void *payload;
} gcs_http_auth;

/* ==== Options ==== */

typedef struct gcs_http_client_options {
    const char *api_url;       /* "https://api.mypurecloud.ie" (no trailing slash) */
    const char *login_url;     /* "https://login.mypurecloud.ie"; NULL: api_url */
    int max_in_flight;         /* ceiling on requests on the wire; default 16 */
    double max_rps;            /* user ceiling on requests per second; 0: none */
    int connect_timeout_ms;    /* default 10,000 */
    int timeout_ms;            /* whole request; default 30,000 */
    int max_attempts;          /* per call, all reasons together; default 6 */
    int retry_budget_ms;       /* per call, from its first send; default 120,000 */
    int backoff_base_ms;       /* default 250 */
    int backoff_cap_ms;        /* default 15,000 */
    int breaker_threshold;     /* consecutive server failures that open it; default 10; <0: never */
    int breaker_cooldown_ms;   /* default 5,000 */
    int breaker_max_trips;     /* failed probes in a row before queued calls fail; default 6 */
    size_t max_response_bytes; /* default 8 MiB */
    const char *ca_bundle;     /* extra CA file; NULL: the system's */
    const char *user_agent;    /* default "gcscim/<version>" */
    gcs_http_auth auth;        /* get == NULL: no Authorization header */
    uint64_t seed;             /* jitter seed; 0: from the clock */
} gcs_http_client_options;

/* ==== Requests and responses ==== */

enum {
    /* To the login host, without bearer token, pacing, breaker or receipt: the
     * token endpoint. Such requests go before every API request. */
    GCS_HTTP_REQ_LOGIN = 1u << 0,
    /* A successful answer's body is not parsed: res->json stays NULL and the
     * caller reads res->body (and res->etag) itself. For calls whose answer is
     * rarely read (a PATCH: its ETag is the new version). Errors are parsed. */
    GCS_HTTP_REQ_NO_JSON = 1u << 1,
    /* Only the status is wanted: the body is read and dropped, whatever its size
     * (res->body stays empty; the timeout still bounds the transfer). For the
     * endpoints of notifications, whose answers are theirs to make. */
    GCS_HTTP_REQ_NO_BODY = 1u << 2,
    /* A 403 is this request's answer alone: the run does not stop, because the
     * caller has another way (a read that needs an optional scope). */
    GCS_HTTP_REQ_MAY_FORBID = 1u << 3,
};

typedef struct gcs_http_client_request {
    const char *method;        /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;          /* relative to the base URL, with its query:
                                  "/api/v2/scim/v2/users?count=0" */
    const char *body;          /* NULL: none, or `json` */
    const json_t *json;        /* serialised compactly when body is NULL */
    const char *content_type;  /* default application/scim+json on /api/v2/scim/,
                                  else application/json */
    const char *if_match;      /* ETag as received, quotes included */
    const char *if_none_match;
    int idempotent;            /* 0 (default): every method but POST is;
                                  1: it is; -1: it is not (never repeated blindly) */
    unsigned flags;            /* GCS_HTTP_REQ_* */
    const char *const *headers;/* extra "Name: value" lines, NULL-terminated; never logged */
    bool sensitive;            /* the body or the answer holds a secret (a password, a
                                  token): the engine overwrites its copies of the body,
                                  the answer and the header lists before freeing them
                                  (the response handed to on_done is the caller's to
                                  wipe: gcs_http_client_response_release_secure) */
    /* Called with the submit payload before the first attempt goes on the
     * wire (not when queued; with a start barrier, up to max_in_flight calls
     * ahead of it): the moment to record durably that a create may happen. A nonzero return completes the call as GCS_HTTP_CANCELLED
     * without sending it. With a start barrier (gcs_http_client_set_start_barrier)
     * the record need only be durable once the barrier returns. NULL: none. */
    int (*on_start)(void *payload);
} gcs_http_client_request;

typedef struct gcs_http_client_response {
    int status;                /* last HTTP status, 0 if none */
    gcs_http_outcome outcome;
    int error;                 /* gcs_http_outcome_error(outcome) */
    char *etag;                /* NULL if none */
    gcs_buf body;              /* the raw answer (bounded) */
    json_t *json;              /* the body parsed, when it is JSON; else NULL */
    char *scim_type;           /* SCIM scimType or Genesys code, when an error */
    char *detail;              /* SCIM detail or Genesys message, when an error */
    const char *missing_scope; /* for 403: the scope probably missing (static) */
    char *correlation_id;      /* ININ-Correlation-Id */
    int attempts;              /* sends made */
    int64_t latency_ms;        /* first send to completion */
    int retry_after_s;         /* last Retry-After seen, -1 none */
    char message[512];         /* when error != 0, one line for people (redacted):
                                  "PATCH /api/…: 409 version conflict: …"; else "" */
} gcs_http_client_response;

void gcs_http_client_response_init(gcs_http_client_response *r);
void gcs_http_client_response_release(gcs_http_client_response *r);
/* Like release, overwriting the body's bytes first. */
void gcs_http_client_response_release_secure(gcs_http_client_response *r);

/* Called once per accepted request. `res` is borrowed for the call only
 * (json_incref what you keep). */
typedef void (*gcs_http_done_fn)(const gcs_http_client_response *res, void *payload);

/* ==== Receipts ==== */

typedef struct gcs_http_receipt {
    int64_t wall_ms;            /* when the call finished */
    const char *method;
    const char *path;
    const char *request_body;   /* redacted; NULL if none */
    int status;
    const char *response_body;  /* redacted; NULL if none */
    const char *etag_sent;      /* If-Match, else If-None-Match; NULL if none */
    const char *etag_received;
    int attempts;
    int64_t latency_ms;
    gcs_http_outcome outcome;
    const char *correlation_id;
} gcs_http_receipt;

typedef void (*gcs_http_receipt_fn)(const gcs_http_receipt *r, void *payload);

/* ==== The client ==== */

/* Copies what it needs from opts. Fails with GCS_EINVALID on a bad URL or option. */
int gcs_http_client_new(gcs_http_client **out, const gcs_http_client_options *opts);
/* Requests still queued are dropped without callbacks: run or cancel first. */
void gcs_http_client_free(gcs_http_client *c);

void gcs_http_client_set_receipt_hook(gcs_http_client *c, gcs_http_receipt_fn fn, void *payload);
/* Receipts keep at most `max` bytes of a body (0, the default: all of it). A
 * longer body comes cut on a character boundary and ended by
 * "...[truncated N bytes]", N its length as sent or answered, within the
 * `max` bytes; only the head it keeps is redacted (gcs_redact_append_head),
 * not the whole of a page of users. A store that bounds bodies to `max` keeps
 * such a body as it comes. Set it before the first call. */
void gcs_http_client_set_receipt_body_max(gcs_http_client *c, size_t max);

/* Called once after the on_start hooks of the calls that go next, before any
 * of them goes on the wire: several records made durable in one commit
 * instead of one each. The calls recorded are those at the head of the queue
 * whose on_start has not run, up to max_in_flight of them (fewer when the
 * pacer's window has less left; one while only one call may be on the wire):
 * they then go as slots free, and the next barrier comes when the next
 * unrecorded call is due. So a call's on_start may run a little before it is
 * sent, and a crash may leave up to max_in_flight records of calls never sent
 * (besides those in flight). A nonzero return completes those calls as
 * GCS_HTTP_CANCELLED without sending them. NULL: none (each on_start must then
 * be durable on its own, and runs just before its call is sent). */
void gcs_http_client_set_start_barrier(gcs_http_client *c, int (*fn)(void *payload),
                                       void *payload);

/* `hosts` processes (this one included) now share the client's rate limit:
 * the pacer spends this process's share of each window from its next
 * decision on (pacer.h). The one call that may come from another thread than
 * the client's, at any time (a heartbeat that counts the hosts). */
void gcs_http_client_set_hosts(gcs_http_client *c, int hosts);

/* The largest request body the service accepts. */
#define GCS_HTTP_MAX_REQUEST_BODY 512000

/* Queues a request (copied: the caller's strings may go after the call).
 * GCS_EINVALID for a malformed request (method, path not starting with '/', a
 * line break in a header value) or a body over GCS_HTTP_MAX_REQUEST_BODY. */
int gcs_http_submit(gcs_http_client *c, const gcs_http_client_request *req,
                    gcs_http_done_fn on_done, void *payload);

/* Drives transfers for at most timeout_ms (0: do what is ready, do not wait).
 * Returns the number of requests not finished yet (queued or in flight). */
int gcs_http_run_once(gcs_http_client *c, int timeout_ms);
/* Drives until every submitted request has finished (every on_done is called,
 * stopped or not). Returns 0, or with the thread's message set:
 *  - GCS_EFORBIDDEN: a 403 stopped the client; the message names the call and
 *    the scope it needs;
 *  - GCS_EDAILYLIMIT: a daily rate limit stopped the client;
 *  - GCS_EUNREACHABLE: the breaker gave up on a server that stayed down ("genesys
 *    unreachable: …"), or every call finished in this run failed without an
 *    answer from the service or with 5xx ("every call failed: …").
 * A stop is final: later runs return the same code at once. */
int gcs_http_run(gcs_http_client *c);

/* Submits one request and drives the client until it finishes (other queued
 * requests progress too). *out (initialised here; release it) holds the answer.
 * Returns res->error, with the thread's error message set when not 0. */
int gcs_http_call(gcs_http_client_response *out, gcs_http_client *c,
                  const gcs_http_client_request *req);

/* Fails every queued request with GCS_HTTP_CANCELLED (in flight ones finish). */
void gcs_http_cancel(gcs_http_client *c);
/* The same, and the requests on the wire are abandoned now: each completes
 * (receipt, on_done) as GCS_HTTP_CANCELLED with attempts > 0, meaning "sent,
 * outcome unknown". After it no callback of an earlier request can come: a
 * caller that must stop within a bound (a signal) calls it when the bound is
 * reached, before freeing what its callbacks use. */
void gcs_http_abort(gcs_http_client *c);

/* Number of requests queued or in flight. */
int gcs_http_pending(const gcs_http_client *c);

/* The code of the stop that ended the client's runs (GCS_EFORBIDDEN,
 * GCS_EDAILYLIMIT, GCS_EUNREACHABLE), or 0. */
int gcs_http_client_stopped(const gcs_http_client *c);
/* For a client that outlives one run (the service's, one per process): the
 * next run starts afresh after a stop, its verdict having been reported. The
 * pacer, the breaker and the token keep what they learned, so a daily limit
 * or a server still down stops the next run again at once, without a call.
 * Only between runs: nothing may be queued or in flight (else GCS_EINVALID). */
int gcs_http_client_resume(gcs_http_client *c);

/* ==== Counters ==== */

typedef struct gcs_http_stats {
    uint64_t submitted;
    uint64_t completed;
    uint64_t sent;                             /* attempts on the wire (API) */
    uint64_t connects;                         /* new connections opened (API and login) */
    uint64_t by_outcome[GCS_HTTP_OUTCOME_COUNT];
    uint64_t retries[GCS_RETRY_REASON_COUNT];
    uint64_t status_429;
    uint64_t pacing_wait_ms;                   /* time a ready request waited for the pacer */
    uint64_t token_requests;                   /* calls to the token endpoint */
    uint64_t breaker_opened;
    gcs_breaker_state breaker_state;
    int in_flight;
    int in_flight_max;
    int queued;
    double allowed_rps;                        /* from the headers; 0 unknown */
} gcs_http_stats;

void gcs_http_client_stats(gcs_http_stats *out, const gcs_http_client *c);
/* Everything above plus requests by method, templated route and status:
 * {"requests":[{"method":"PATCH","route":"/api/v2/scim/v2/users/{id}",
 *               "status":200,"count":12}],…}.
 * New reference. */
json_t *gcs_http_client_stats_json(const gcs_http_client *c);

#endif
