#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/error.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct gcs_http_server {
    struct MHD_Daemon *daemon;
    gcs_http_handler_fn handler;
    void *payload;
    size_t max_body;
    int port;
};

/* How much of a streamed body is asked for at a time. */
#define STREAM_PIECE ((size_t)64 * 1024)

/* What one request accumulates between MHD's calls to the access handler. */
typedef struct request_ctx {
    gcs_buf body;
    unsigned long long discarded; /* body bytes read only to be dropped */
    bool too_large;
    bool answered;
} request_ctx;

/* ==== Requests and responses ==== */

const char *gcs_http_request_header(const gcs_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *gcs_http_request_arg(const gcs_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nargs; i++)
        if (strcmp(req->args[i].name, name) == 0)
            return req->args[i].value;
    return NULL;
}

void gcs_http_response_init(gcs_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    gcs_buf_init(&resp->body, GCS_BUF_DEFAULT_MAX);
}

static void stream_drop(gcs_http_response *resp)
{
    if (resp->stream.read && resp->stream.release)
        resp->stream.release(resp->stream.cls);
    memset(&resp->stream, 0, sizeof resp->stream);
}

void gcs_http_response_release(gcs_http_response *resp)
{
    stream_drop(resp);
    for (size_t i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    resp->nheaders = 0;
    gcs_buf_release(&resp->body);
}

int gcs_http_response_header(gcs_http_response *resp, const char *name, const char *value)
{
    if (resp->nheaders >= GCS_HTTP_MAX_HEADERS)
        return gcs_error_set(GCS_EINVALID, "too many response headers");
    char *n = strdup(name), *v = strdup(value ? value : "");
    if (!n || !v) {
        free(n);
        free(v);
        return GCS_ENOMEM;
    }
    resp->headers[resp->nheaders].name = n;
    resp->headers[resp->nheaders].value = v;
    resp->nheaders++;
    return 0;
}

int gcs_http_response_set(gcs_http_response *resp, int status, const char *content_type,
                          const char *body)
{
    int rc = 0;
    resp->status = status;
    stream_drop(resp);
    gcs_buf_clear(&resp->body);
    if (body && (rc = gcs_buf_puts(&resp->body, body)) < 0)
        return rc;
    if (content_type)
        rc = gcs_http_response_header(resp, "Content-Type", content_type);
    return rc;
}

void gcs_http_response_stream(gcs_http_response *resp, gcs_http_body_read_fn read,
                              gcs_http_body_release_fn release, void *cls)
{
    stream_drop(resp);
    resp->stream.read = read;
    resp->stream.release = release;
    resp->stream.cls = cls;
}

/* ==== Request ids ==== */

static bool request_id_acceptable(const char *id)
{
    size_t n = 0;
    if (!id)
        return false;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= GCS_HTTP_REQUEST_ID_MAX)
            return false;
    }
    return n > 0;
}

/* v in lowercase hex without leading zeros (as %llx); returns the end. */
static char *put_hex(char *p, unsigned long long v)
{
    char digits[16];
    size_t k = 0;
    do {
        digits[k++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (k)
        *p++ = digits[--k];
    return p;
}

/* "r" + the process's start second and pid (distinct across restarts and
 * processes) + a counter: unique without a random source, sortable per process. */
static void make_request_id(char out[GCS_HTTP_REQUEST_ID_MAX + 1])
{
    static atomic_ullong counter;
    static atomic_llong epoch;
    long long e = atomic_load(&epoch);
    if (!e) {
        long long now = (long long)time(NULL);
        atomic_compare_exchange_strong(&epoch, &e, now);
        e = atomic_load(&epoch);
    }
    unsigned long long n = atomic_fetch_add(&counter, 1) + 1;
    /* "r%llx%x-%llu" by hand: snprintf parsed its format on every request,
     * a fortieth of what the emulator spends on a create. */
    char *p = out;
    *p++ = 'r';
    p = put_hex(p, (unsigned long long)e);
    p = put_hex(p, (unsigned)getpid());
    *p++ = '-';
    char digits[24];
    size_t k = 0;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (k)
        *p++ = digits[--k];
    *p = '\0';
}

bool gcs_http_address_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!host)
        return false;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

static void call_handler(gcs_http_response *out, const gcs_http_request *req,
                         gcs_http_handler_fn handler, void *payload)
{
    char made[GCS_HTTP_REQUEST_ID_MAX + 1];
    gcs_http_request copy = *req;
    const char *given = gcs_http_request_header(req, "X-Request-Id");
    if (request_id_acceptable(given)) {
        copy.request_id = given;
    } else {
        make_request_id(made);
        copy.request_id = made;
    }
    if (!copy.remote_addr)
        copy.remote_addr = "";
    gcs_http_response_init(out);
    handler(out, &copy, payload);
    if (!out->drop)
        gcs_http_response_header(out, "X-Request-Id", copy.request_id);
}

void gcs_http_server_dispatch(gcs_http_response *out, const gcs_http_request *req,
                              gcs_http_handler_fn handler, void *payload)
{
    call_handler(out, req, handler, payload);
    if (!out->stream.read)
        return;
    /* Pulled the way the server pulls it, in pieces of the same size. */
    gcs_buf_clear(&out->body);
    out->body.max = SIZE_MAX;
    char *piece = malloc(STREAM_PIECE);
    long n = piece ? 0 : -1;
    while (piece) {
        n = out->stream.read(out->stream.cls, piece, STREAM_PIECE);
        if (n <= 0)
            break;
        if (gcs_buf_put(&out->body, piece, (size_t)n > STREAM_PIECE ? STREAM_PIECE : (size_t)n) < 0) {
            n = -1;
            break;
        }
    }
    free(piece);
    stream_drop(out);
    if (n < 0) {
        gcs_buf_clear(&out->body);
        out->drop = true;
    }
}

/* ==== libmicrohttpd glue ==== */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    gcs_http_request *req = cls;
    if (req->nheaders < GCS_HTTP_MAX_HEADERS && key) {
        req->headers[req->nheaders].name = key;
        req->headers[req->nheaders].value = value ? value : "";
        req->nheaders++;
    }
    return MHD_YES;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    gcs_http_request *req = cls;
    if (req->nargs < GCS_HTTP_MAX_ARGS && key) {
        req->args[req->nargs].name = key;
        req->args[req->nargs].value = value ? value : "";
        req->nargs++;
    }
    return MHD_YES;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Form-style decoding ('+' is a space) for the path and the query: clients
 * encode filters either way. Decodes in place and returns the new length. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            char c = (char)(hexval(r[1]) * 16 + hexval(r[2]));
            /* A NUL would cut the string short; keep it escaped. */
            if (c == '\0') {
                *w++ = *r;
                continue;
            }
            *w++ = c;
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* A streamed body handed to libmicrohttpd. */
typedef struct body_stream {
    gcs_http_body_read_fn read;
    gcs_http_body_release_fn release;
    void *cls;
    int fd;                 /* the connection's socket, or -1 */
} body_stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    body_stream *bs = cls;
    long n = bs->read(bs->cls, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0) {
        /* In a thread pool (epoll), libmicrohttpd 0.9.75 would leave such a
         * connection open until its idle timeout, the client waiting on it:
         * shut it down now (libmicrohttpd still closes the descriptor). */
        if (bs->fd >= 0)
            shutdown(bs->fd, SHUT_RDWR);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return (ssize_t)((size_t)n > max ? max : (size_t)n);
}

static void stream_free(void *cls)
{
    body_stream *bs = cls;
    if (bs->release)
        bs->release(bs->cls);
    free(bs);
}

/* The response libmicrohttpd sends: from the stream (which it then owns) or a
 * copy of the body. */
static struct MHD_Response *wire_response(gcs_http_response *resp, struct MHD_Connection *conn)
{
    if (!resp->stream.read)
        return MHD_create_response_from_buffer(resp->body.len, resp->body.ptr,
                                               MHD_RESPMEM_MUST_COPY);
    body_stream *bs = malloc(sizeof *bs);
    if (!bs)
        return NULL;
    bs->read = resp->stream.read;
    bs->release = resp->stream.release;
    bs->cls = resp->stream.cls;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    bs->fd = ci ? (int)ci->connect_fd : -1;
    memset(&resp->stream, 0, sizeof resp->stream);
    /* On failure libmicrohttpd does not call stream_free: do it here. */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_PIECE, stream_read, bs, stream_free);
    if (!r)
        stream_free(bs);
    return r;
}

static enum MHD_Result answer(gcs_http_server *srv, struct MHD_Connection *conn,
                              const char *url, const char *method, request_ctx *ctx)
{
    gcs_http_request req;
    memset(&req, 0, sizeof req);
    char remote[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, remote, sizeof remote);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, remote, sizeof remote);
    }
    req.remote_addr = remote;
    req.method = method;
    req.path = url;
    req.body = ctx->too_large ? "" : ctx->body.ptr;
    req.body_len = ctx->too_large ? 0 : ctx->body.len;
    req.body_too_large = ctx->too_large;
    int nheaders = MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &req);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &req);

    gcs_http_response resp;
    if (nheaders > GCS_HTTP_MAX_HEADERS) {
        /* The handler would see only the first ones, and answer as if the
         * others (a signature, a key) had not been sent. */
        char msg[64];
        snprintf(msg, sizeof msg, "too many header fields (at most %d)\n", GCS_HTTP_MAX_HEADERS);
        gcs_http_response_init(&resp);
        gcs_http_response_set(&resp, 431, "text/plain", msg);
    } else {
        call_handler(&resp, &req, srv->handler, srv->payload);
    }
    ctx->answered = true;
    if (resp.drop) {
        gcs_http_response_release(&resp);
        return MHD_NO;
    }
    /* A handler that ignored an over-size body must not answer as if it had read it. */
    if (ctx->too_large && resp.status < 400)
        gcs_http_response_set(&resp, 413, "text/plain", "request body too large\n");
    struct MHD_Response *r = wire_response(&resp, conn);
    if (!r) {
        gcs_http_response_release(&resp);
        return MHD_NO;
    }
    for (size_t i = 0; i < resp.nheaders; i++)
        MHD_add_response_header(r, resp.headers[i].name, resp.headers[i].value);
    if (ctx->too_large)
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    gcs_http_response_release(&resp);
    return ok;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    gcs_http_server *srv = cls;
    request_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        gcs_buf_init(&ctx->body, srv->max_body);
        *con_cls = ctx;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end == cl || n > srv->max_body) {
                ctx->too_large = true;
                /* A client still sending when the connection closes under it
                 * meets a reset and loses the answer: the body is read and
                 * discarded first, unless the client waits for 100 Continue
                 * (it sends nothing more) or the body is beyond reason. */
                const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
                if (end == cl || n > GCS_HTTP_DRAIN_MAX || (expect && *expect))
                    return answer(srv, conn, url, method, ctx);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!ctx->too_large && !ctx->answered && gcs_buf_put(&ctx->body, upload_data, n) < 0) {
            ctx->too_large = true;
            gcs_buf_release(&ctx->body);
        }
        /* A body dropped as it comes (chunked past max_body, or after an answer)
         * is read no further than one with a Content-Length would be: past
         * GCS_HTTP_DRAIN_MAX the connection is closed, answered or not. */
        if ((ctx->too_large || ctx->answered) && (ctx->discarded += n) > GCS_HTTP_DRAIN_MAX)
            return MHD_NO;
        return MHD_YES;
    }
    if (ctx->answered)
        return MHD_YES;
    return answer(srv, conn, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_ctx *ctx = *con_cls;
    if (ctx) {
        gcs_buf_release(&ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

/* ==== Lifecycle ==== */

int gcs_http_server_start(gcs_http_server **out, const gcs_http_server_options *opts,
                          gcs_http_handler_fn handler, void *payload)
{
    int rc = 0;
    *out = NULL;
    gcs_http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return GCS_ENOMEM;
    srv->handler = handler;
    srv->payload = payload;
    srv->max_body = opts->max_body ? opts->max_body : GCS_HTTP_MAX_BODY_DEFAULT;

    const char *host = opts->host && *opts->host ? opts->host : "127.0.0.1";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (opts->port < 0 || opts->port > 65535) {
        rc = gcs_error_set(GCS_EINVALID, "bad port %d", opts->port);
        goto out;
    }
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        rc = gcs_error_set(GCS_EINVALID, "listen address '%s' is not a numeric IP address", host);
        goto out;
    }

    if (!opts->tls_cert_pem != !opts->tls_key_pem) {
        rc = gcs_error_set(GCS_EINVALID, "TLS needs both a certificate and its key");
        goto out;
    }
    bool tls = opts->tls_cert_pem != NULL;
    if (tls)
        flags |= MHD_USE_TLS;

    unsigned pool = opts->threads;
    if (pool == 0)
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    else
        flags |= MHD_USE_EPOLL | MHD_USE_TURBO;
    unsigned timeout = opts->timeout_s ? opts->timeout_s : 60;
    struct MHD_OptionItem items[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout, NULL},
        {pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)pool, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (tls) {
        /* After the pool's entry, which may be the end: move the end past them. */
        size_t at = pool > 1 ? 5 : 4;
        items[at] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)opts->tls_cert_pem};
        items[at + 1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opts->tls_key_pem};
        items[at + 2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_ARRAY,
                                   items, MHD_OPTION_END);
    if (!srv->daemon) {
        rc = gcs_error_set(GCS_EIO, "cannot listen on %s:%d%s", host, opts->port,
                           tls ? " (or the TLS certificate or key is not valid PEM)" : "");
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? (int)info->port : opts->port;
    *out = srv;
    srv = NULL;
out:
    gcs_http_server_free(srv);
    return rc;
}

int gcs_http_server_port(const gcs_http_server *srv)
{
    return srv->port;
}

void gcs_http_server_free(gcs_http_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    free(srv);
}
