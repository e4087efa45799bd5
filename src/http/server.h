/*
 * server.h - a small HTTP/1.1 server on libmicrohttpd, for the emulator and for
 * `gcscim serve`. Nothing in here knows what it serves.
 *
 * One handler callback receives every request as a gcs_http_request (method,
 * decoded path, decoded query arguments, headers, whole body) and fills a
 * gcs_http_response (status, headers, body). The request and everything it
 * points at are owned by the server and valid only during the callback; the
 * response is owned by the server too and released after it is sent.
 *
 * Invariants:
 *  - a body is never larger than `max_body`: when Content-Length says it would
 *    be, the body is read and discarded (so that a client still sending reads
 *    the answer instead of a reset), then the handler is called with
 *    `body_too_large` set and no body, and the connection is closed after the
 *    answer; a client that waits for 100 Continue, or a Content-Length over
 *    GCS_HTTP_DRAIN_MAX, is answered from the headers alone; a chunked body
 *    that grows past it is discarded as it arrives, and its connection closed
 *    without an answer once GCS_HTTP_DRAIN_MAX more came; a handler that answers
 *    such a request with a status under 400 is overruled (413);
 *  - a request with more than GCS_HTTP_MAX_HEADERS header fields is answered
 *    431 without calling the handler, which would see only the first ones;
 *  - the handler may set `drop` on the response: the connection is then closed
 *    without an answer (a fault a client must survive);
 *  - the handler may be called from several threads at once;
 *  - every request has an id (req->request_id): the client's X-Request-Id when
 *    it is 1 to 64 characters of [A-Za-z0-9._:-], else one made here, unique in
 *    the process; every answer carries it back in X-Request-Id;
 *  - with tls_cert_pem and tls_key_pem the server speaks only HTTPS;
 *  - a body may be a stream instead of a buffer (gcs_http_response_stream):
 *    the server pulls it piece by piece as the client takes it, so an answer
 *    of any size costs the server one piece of memory, not the answer.
 */
#ifndef GCS_HTTP_SERVER_H
#define GCS_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define GCS_HTTP_MAX_BODY_DEFAULT ((size_t)512000)
#define GCS_HTTP_DRAIN_MAX        ((unsigned long long)16 << 20) /* body read only to discard it */
#define GCS_HTTP_MAX_HEADERS 64   /* headers per request (more: 431) or response */
#define GCS_HTTP_MAX_ARGS 64      /* query arguments kept per request */

typedef struct gcs_http_pair {
    const char *name;
    const char *value;
} gcs_http_pair;

typedef struct gcs_http_request {
    const char *method;            /* "GET", "POST", ... */
    const char *path;              /* percent-decoded, without the query */
    gcs_http_pair args[GCS_HTTP_MAX_ARGS];
    size_t nargs;
    gcs_http_pair headers[GCS_HTTP_MAX_HEADERS];
    size_t nheaders;
    const char *body;              /* NUL-terminated; "" when there is none */
    size_t body_len;
    bool body_too_large;           /* the body was over max_body and is not here */
    const char *remote_addr;       /* the peer's numeric address, or "" */
    const char *request_id;        /* never NULL; see the invariants above */
} gcs_http_request;

#define GCS_HTTP_REQUEST_ID_MAX 64

/* Case-insensitive header lookup; NULL when absent. Borrowed from the request. */
const char *gcs_http_request_header(const gcs_http_request *req, const char *name);
/* Query argument lookup (exact name); NULL when absent. */
const char *gcs_http_request_arg(const gcs_http_request *req, const char *name);

/*
 * A streamed body. `read` copies up to `max` bytes of the body into `buf` and
 * returns how many (1 to max), 0 at its end, or a negative value when it
 * cannot be finished: the connection is then closed before the end of the
 * (chunked) body, so the client sees a broken transfer, never a short body
 * taken for a whole one. `release` (may be NULL) runs exactly once, when the
 * body is sent, abandoned or never started; neither runs inside the handler.
 * Both run on a server thread, one call at a time per response.
 */
typedef long (*gcs_http_body_read_fn)(void *cls, char *buf, size_t max);
typedef void (*gcs_http_body_release_fn)(void *cls);

typedef struct gcs_http_response {
    int status;                    /* 200 unless set */
    struct {
        char *name;
        char *value;
    } headers[GCS_HTTP_MAX_HEADERS];
    size_t nheaders;
    gcs_buf body;
    struct {
        gcs_http_body_read_fn read;   /* NULL: the body is `body` */
        gcs_http_body_release_fn release;
        void *cls;
    } stream;
    bool drop;                     /* close the connection without answering */
} gcs_http_response;

void gcs_http_response_init(gcs_http_response *resp);
void gcs_http_response_release(gcs_http_response *resp);
/* Adds a header (copied). Beyond GCS_HTTP_MAX_HEADERS it fails with GCS_EINVALID. */
int gcs_http_response_header(gcs_http_response *resp, const char *name, const char *value);
/* Sets the status and replaces the body with `body` (copied) and its content
 * type; a stream set before is released. */
int gcs_http_response_set(gcs_http_response *resp, int status, const char *content_type,
                          const char *body);
/* Makes the body a stream (see gcs_http_body_read_fn): `body` is then not
 * sent. Sent with chunked transfer encoding. The handler sets it last: the
 * response owns `cls` from here on and releases it with the response. */
void gcs_http_response_stream(gcs_http_response *resp, gcs_http_body_read_fn read,
                              gcs_http_body_release_fn release, void *cls);

typedef void (*gcs_http_handler_fn)(gcs_http_response *out, const gcs_http_request *req,
                                    void *payload);

typedef struct gcs_http_server_options {
    const char *host;      /* numeric address to bind; NULL = 127.0.0.1 */
    int port;              /* 0 = a free port (see gcs_http_server_port) */
    unsigned threads;      /* 0 = a thread per connection; N = a pool of N epoll threads */
    size_t max_body;       /* 0 = GCS_HTTP_MAX_BODY_DEFAULT */
    unsigned timeout_s;    /* idle connection timeout; 0 = 60 */
    const char *tls_cert_pem; /* both or neither: the certificate chain and its key, PEM */
    const char *tls_key_pem;
} gcs_http_server_options;

typedef struct gcs_http_server gcs_http_server;

/* Listens and serves until gcs_http_server_free. */
int gcs_http_server_start(gcs_http_server **out, const gcs_http_server_options *opts,
                          gcs_http_handler_fn handler, void *payload);
/* The port actually bound. */
int gcs_http_server_port(const gcs_http_server *srv);
/* Stops accepting, lets requests being handled finish, closes everything. NULL ok. */
void gcs_http_server_free(gcs_http_server *srv);

/* Whether a numeric address is a loopback one (127.0.0.0/8, ::1). */
bool gcs_http_address_is_loopback(const char *host);

/*
 * Calls the handler the way the server would, without sockets: for fuzzing and
 * in-process tests. `req` is filled by the caller; the response is the caller's
 * to release. A streamed body is read whole into `body` (no size limit) before
 * this returns, as a client would receive it; one that fails part way leaves
 * the response dropped (`drop`, no body), as a client would see the connection
 * closed.
 */
void gcs_http_server_dispatch(gcs_http_response *out, const gcs_http_request *req,
                              gcs_http_handler_fn handler, void *payload);

#endif
