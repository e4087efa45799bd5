/* The HTTP server wrapper on its own: a handler in this process, driven with
 * libcurl over loopback. Request decoding, responses, keep-alive, the body
 * limit, dropping a connection, streamed bodies, both threading modes. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gcstest.h"
#include "httptest.h"
#include "core/error.h"
#include "core/time.h"
#include "http/server.h"

static atomic_int calls;
static atomic_int stream_releases;

/* A streamed body of `total` bytes ('a'..'z' over and over), handed out in
 * pieces of uneven sizes; it fails once `fail_at` bytes are out (0: never). */
typedef struct pattern_stream {
    size_t total, sent, fail_at;
} pattern_stream;

static long pattern_read(void *cls, char *buf, size_t max)
{
    pattern_stream *p = cls;
    if (p->fail_at && p->sent >= p->fail_at)
        return -1;
    size_t n = p->total - p->sent;
    size_t uneven = 1 + (p->sent * 7919) % 9000;
    if (n > uneven)
        n = uneven;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (p->sent + i) % 26);
    p->sent += n;
    return (long)n;
}

static void pattern_release(void *cls)
{
    free(cls);
    atomic_fetch_add(&stream_releases, 1);
}

static bool is_pattern(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != (char)('a' + i % 26))
            return false;
    return true;
}

/* Waits (at most 5 s) until `want` streams have been released: the server
 * releases a body after the client has it. */
static int releases_reach(int want)
{
    for (int i = 0; i < 500 && atomic_load(&stream_releases) < want; i++)
        gcs_time_sleep_ms(10);
    return atomic_load(&stream_releases);
}

/* Echoes what it saw as JSON; /drop drops; /big reports the body flag;
 * /stream?n=BYTES[&fail=AT] answers a streamed body. */
static void handler(gcs_http_response *out, const gcs_http_request *req, void *payload)
{
    (void)payload;
    atomic_fetch_add(&calls, 1);
    if (strcmp(req->path, "/drop") == 0) {
        out->drop = true;
        return;
    }
    if (strcmp(req->path, "/stream") == 0) {
        pattern_stream *p = calloc(1, sizeof *p);
        assert_non_null(p);
        p->total = strtoul(gcs_http_request_arg(req, "n") ?: "0", NULL, 10);
        p->fail_at = strtoul(gcs_http_request_arg(req, "fail") ?: "0", NULL, 10);
        gcs_http_response_set(out, 200, "text/plain", "not this");
        gcs_http_response_stream(out, pattern_read, pattern_release, p);
        return;
    }
    if (req->body_too_large && strcmp(req->path, "/careless") != 0) {
        gcs_http_response_set(out, 413, "text/plain", "too large");
        return;
    }
    json_t *args = json_object();
    for (size_t i = 0; i < req->nargs; i++)
        json_object_set_new(args, req->args[i].name, json_string(req->args[i].value));
    const char *h = gcs_http_request_header(req, "x-test");
    json_t *j = json_pack("{s:s,s:s,s:o,s:s?,s:I,s:s?}", "method", req->method, "path", req->path,
                          "args", args, "x_test", h, "body_len", (json_int_t)req->body_len,
                          "remote", req->remote_addr);
    char *text = json_dumps(j, JSON_COMPACT);
    gcs_http_response_set(out, 201, "application/json", text);
    gcs_http_response_header(out, "X-Reply", "yes");
    free(text);
    json_decref(j);
}

static void exercise(unsigned threads)
{
    gcs_http_server *srv;
    gcs_http_server_options opts = {.host = "127.0.0.1", .port = 0, .threads = threads, .max_body = 1000};
    assert_int_equal(gcs_http_server_start(&srv, &opts, handler, NULL), 0);
    int port = gcs_http_server_port(srv);
    assert_true(port > 0);
    char url[256], h[64];
    gcs_test_http r;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/a%%20b/c?filter=userName+eq+%%22x%%40y%%22&n=1", port);
    const char *hdrs[] = {"X-Test: hello", NULL};
    gcs_test_http_do(&r, "PATCH", url, hdrs, "12345", 5);
    assert_int_equal(r.status, 201);
    assert_string_equal(json_string_value(json_object_get(r.json, "method")), "PATCH");
    assert_string_equal(json_string_value(json_object_get(r.json, "path")), "/a b/c");
    json_t *args = json_object_get(r.json, "args");
    assert_string_equal(json_string_value(json_object_get(args, "filter")), "userName eq \"x@y\"");
    assert_string_equal(json_string_value(json_object_get(args, "n")), "1");
    assert_string_equal(json_string_value(json_object_get(r.json, "x_test")), "hello");
    assert_int_equal(json_integer_value(json_object_get(r.json, "body_len")), 5);
    assert_string_equal(gcs_test_http_header(&r, "X-Reply", h, sizeof h), "yes");
    assert_string_equal(json_string_value(json_object_get(r.json, "remote")), "127.0.0.1");
    gcs_test_http_release(&r);

    /* Over max_body with a Content-Length: 413 (the body read and discarded). */
    char body[2000];
    memset(body, 'x', sizeof body);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", port);
    gcs_test_http_do(&r, "POST", url, NULL, body, sizeof body);
    assert_int_equal(r.status, 413);
    gcs_test_http_release(&r);
    /* Exactly max_body is fine. */
    gcs_test_http_do(&r, "POST", url, NULL, body, 1000);
    assert_int_equal(r.status, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "body_len")), 1000);
    gcs_test_http_release(&r);
    /* Chunked, without a length: read until it passes the limit, then 413. */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    gcs_test_http_do(&r, "POST", url, chunked, body, sizeof body);
    assert_int_equal(r.status, 413);
    gcs_test_http_release(&r);

    /* A handler that ignores the flag is overruled. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/careless", port);
    gcs_test_http_do(&r, "POST", url, NULL, body, sizeof body);
    assert_int_equal(r.status, 413);
    gcs_test_http_release(&r);

    /* A dropped connection gets no answer at all. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/drop", port);
    gcs_test_http_do(&r, "GET", url, NULL, NULL, 0);
    assert_int_equal(r.status, 0);
    assert_int_not_equal(r.curl_code, 0);
    gcs_test_http_release(&r);

    /* A streamed body arrives whole, chunked, and is released once. */
    int released = atomic_load(&stream_releases);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream?n=3000000", port);
    gcs_test_http_do(&r, "GET", url, NULL, NULL, 0);
    assert_int_equal(r.curl_code, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 3000000);
    assert_true(is_pattern(r.body.ptr, r.body.len));
    assert_string_equal(gcs_test_http_header(&r, "Transfer-Encoding", h, sizeof h), "chunked");
    assert_non_null(gcs_test_http_header(&r, "X-Request-Id", h, sizeof h));
    gcs_test_http_release(&r);
    assert_int_equal(releases_reach(released + 1), released + 1);
    /* An empty one is an empty body, not an error. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream?n=0", port);
    gcs_test_http_do(&r, "GET", url, NULL, NULL, 0);
    assert_int_equal(r.curl_code, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    gcs_test_http_release(&r);
    assert_int_equal(releases_reach(released + 2), released + 2);
    /* One that fails part way is a broken transfer, never a short body taken
     * for a whole one; it is released all the same. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream?n=3000000&fail=1000000", port);
    gcs_test_http_do(&r, "GET", url, NULL, NULL, 0);
    assert_int_not_equal(r.curl_code, 0);
    /* ... and at once: not left open until the client gives up (a pool's
     * connection used to wait for its idle timeout). */
    assert_int_not_equal(r.curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_true(r.body.len < 3000000);
    gcs_test_http_release(&r);
    assert_int_equal(releases_reach(released + 3), released + 3);

    /* Keep-alive: one connection for several requests. */
    CURL *c = curl_easy_init();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/k", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    for (int i = 0; i < 5; i++)
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long conns = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    assert_int_equal(conns, 0); /* the last perform reused the connection */
    curl_easy_cleanup(c);
    fclose(sink);
    gcs_http_server_free(srv);
}

/* A client sending a body over the limit, with no Expect: 100-continue, reads
 * the 413: the server reads the rest of the body and discards it before it
 * answers and closes. Were it to answer from the headers and close, the
 * client's next send would meet a reset and the answer would be lost (on a
 * real network, where a client is still sending when the answer comes back,
 * nearly always). The client here waits before its second send until the
 * answer arrives (or half a second), as a client descheduled between poll and
 * send does. */
typedef struct slow_upload {
    CURL *curl;
    size_t left;
    int calls;
} slow_upload;

static size_t slow_read(char *buf, size_t size, size_t n, void *userdata)
{
    slow_upload *u = userdata;
    if (u->calls++ == 1) {
        curl_socket_t fd = CURL_SOCKET_BAD;
        curl_easy_getinfo(u->curl, CURLINFO_ACTIVESOCKET, &fd);
        struct pollfd p = {.fd = (int)fd, .events = POLLIN};
        (void)poll(&p, 1, 500);
    }
    size_t chunk = size * n < u->left ? size * n : u->left;
    memset(buf, 'x', chunk);
    u->left -= chunk;
    return chunk;
}

static void a_client_still_sending_reads_the_413(unsigned threads)
{
    gcs_http_server *srv;
    gcs_http_server_options opts = {
        .host = "127.0.0.1", .port = 0, .threads = threads, .max_body = 1000};
    assert_int_equal(gcs_http_server_start(&srv, &opts, handler, NULL), 0);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", gcs_http_server_port(srv));
    slow_upload u = {.curl = curl_easy_init(), .left = 300000};
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(u.curl, CURLOPT_URL, url);
    curl_easy_setopt(u.curl, CURLOPT_POST, 1L);
    curl_easy_setopt(u.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u.left);
    curl_easy_setopt(u.curl, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(u.curl, CURLOPT_READDATA, &u);
    curl_easy_setopt(u.curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(u.curl, CURLOPT_TIMEOUT_MS, 10000L);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(u.curl, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(u.curl, CURLOPT_WRITEDATA, sink);
    CURLcode rc = curl_easy_perform(u.curl);
    long status = 0;
    curl_easy_getinfo(u.curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK)
        fail_msg("no answer to a body over the limit: %s", curl_easy_strerror(rc));
    assert_int_equal(status, 413);
    assert_true(u.calls >= 2); /* it did send in two goes */
    fclose(sink);
    curl_slist_free_all(h);
    curl_easy_cleanup(u.curl);
    gcs_http_server_free(srv);
}

/* A chunked body that never ends, over a bare socket: the server reads some
 * of it, past max_body, but stops before GCS_HTTP_DRAIN_MAX more (answering
 * 413 or closing), instead of discarding it for as long as it comes. */
static void an_endless_chunked_body_stops_being_read(unsigned threads)
{
    gcs_http_server *srv;
    gcs_http_server_options opts = {
        .host = "127.0.0.1", .port = 0, .threads = threads, .max_body = 1000};
    assert_int_equal(gcs_http_server_start(&srv, &opts, handler, NULL), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)gcs_http_server_port(srv))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    static const char head[] = "POST /big HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(send(fd, head, sizeof head - 1, MSG_NOSIGNAL), (ssize_t)(sizeof head - 1));
    /* One chunk of 64 KiB, sent over and over: the body never ends. */
    enum { PIECE = 64 * 1024 };
    static char chunk[PIECE + 16];
    int len = snprintf(chunk, sizeof chunk, "%x\r\n", PIECE);
    memset(chunk + len, 'x', PIECE);
    memcpy(chunk + len + PIECE, "\r\n", 2);
    size_t chunk_len = (size_t)len + PIECE + 2;
    unsigned long long sent = 0, limit = 4 * GCS_HTTP_DRAIN_MAX;
    size_t at = 0;
    bool stopped = false;
    char answer[64] = "";
    while (!stopped && sent < limit) {
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
        int n = poll(&p, 1, 5000);
        if (n <= 0)
            fail_msg("the server neither reads the body nor answers (%llu bytes sent)", sent);
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = recv(fd, answer, sizeof answer - 1, 0);
            answer[got > 0 ? got : 0] = '\0';
            stopped = true;
            break;
        }
        ssize_t w = send(fd, chunk + at, chunk_len - at, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w < 0) {
            stopped = true; /* closed under us (EPIPE, ECONNRESET) */
            break;
        }
        sent += (unsigned long long)w;
        at = (at + (size_t)w) % chunk_len;
    }
    close(fd);
    gcs_http_server_free(srv);
    if (!stopped)
        fail_msg("the server read %llu bytes of a chunked body and still reads", sent);
    /* the answer, when one came before the close, is the 413 */
    if (answer[0])
        assert_non_null(strstr(answer, " 413 "));
    assert_true(sent > opts.max_body);
}

/* A request with more header fields than a request holds is refused with
 * 431 before the handler, which would otherwise see only the first ones and
 * answer as if the rest (a signature, an API key) had not been sent. */
static void too_many_headers_are_431(unsigned threads)
{
    gcs_http_server *srv;
    gcs_http_server_options opts = {.host = "127.0.0.1", .port = 0, .threads = threads};
    assert_int_equal(gcs_http_server_start(&srv, &opts, handler, NULL), 0);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/h", gcs_http_server_port(srv));
    /* curl adds Host and Accept: a few under the limit, then a few over */
    for (int extra = GCS_HTTP_MAX_HEADERS - 8; extra <= GCS_HTTP_MAX_HEADERS + 8; extra += 16) {
        char lines[GCS_HTTP_MAX_HEADERS + 8][32];
        const char *hdrs[GCS_HTTP_MAX_HEADERS + 10];
        int n = 0;
        for (; n < extra; n++) {
            snprintf(lines[n], sizeof lines[n], "X-Filler-%d: %d", n, n);
            hdrs[n] = lines[n];
        }
        hdrs[n++] = "X-Test: last";
        hdrs[n] = NULL;
        int before = atomic_load(&calls);
        gcs_test_http r;
        gcs_test_http_do(&r, "GET", url, hdrs, NULL, 0);
        if (extra < GCS_HTTP_MAX_HEADERS - 4) {
            assert_int_equal(r.status, 201);
            assert_non_null(strstr(r.body.ptr, "\"x_test\":\"last\""));
        } else {
            assert_int_equal(r.status, 431);
            assert_int_equal(atomic_load(&calls), before);
        }
        gcs_test_http_release(&r);
    }
    gcs_http_server_free(srv);
}

static void test_thread_per_connection(void **state)
{
    (void)state;
    exercise(0);
    a_client_still_sending_reads_the_413(0);
    an_endless_chunked_body_stops_being_read(0);
    too_many_headers_are_431(0);
}

static void test_pool(void **state)
{
    (void)state;
    exercise(2);
    a_client_still_sending_reads_the_413(2);
    an_endless_chunked_body_stops_being_read(2);
    too_many_headers_are_431(2);
}

static void test_bad_address(void **state)
{
    (void)state;
    gcs_http_server *srv = NULL;
    gcs_http_server_options opts = {.host = "localhost", .port = 0};
    assert_int_equal(gcs_http_server_start(&srv, &opts, handler, NULL), GCS_EINVALID);
    assert_null(srv);
    gcs_http_server_free(NULL);
}

static void test_dispatch_without_socket(void **state)
{
    (void)state;
    gcs_http_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.path = "/x";
    req.body = "";
    req.headers[0].name = "X-TEST";
    req.headers[0].value = "v";
    req.nheaders = 1;
    gcs_http_response resp;
    gcs_http_server_dispatch(&resp, &req, handler, NULL);
    assert_int_equal(resp.status, 201);
    assert_non_null(strstr(resp.body.ptr, "\"x_test\":\"v\""));
    gcs_http_response_release(&resp);

    /* A streamed body is read whole into the body, as a client receives it. */
    int released = atomic_load(&stream_releases);
    req.path = "/stream";
    req.args[0].name = "n";
    req.args[0].value = "200000";
    req.nargs = 1;
    gcs_http_server_dispatch(&resp, &req, handler, NULL);
    assert_int_equal(resp.status, 200);
    assert_false(resp.drop);
    assert_null(resp.stream.read);
    assert_int_equal(resp.body.len, 200000);
    assert_true(is_pattern(resp.body.ptr, resp.body.len));
    assert_int_equal(atomic_load(&stream_releases), released + 1);
    gcs_http_response_release(&resp);
    assert_int_equal(atomic_load(&stream_releases), released + 1);
    /* One that fails is a dropped answer: no body. */
    req.args[1].name = "fail";
    req.args[1].value = "70000";
    req.nargs = 2;
    gcs_http_server_dispatch(&resp, &req, handler, NULL);
    assert_true(resp.drop);
    assert_int_equal(resp.body.len, 0);
    assert_int_equal(atomic_load(&stream_releases), released + 2);
    gcs_http_response_release(&resp);
    /* Replacing a stream's body releases the stream. */
    gcs_http_response_init(&resp);
    gcs_http_response_stream(&resp, pattern_read, pattern_release, calloc(1, sizeof(pattern_stream)));
    assert_int_equal(gcs_http_response_set(&resp, 500, "text/plain", "no"), 0);
    assert_int_equal(atomic_load(&stream_releases), released + 3);
    assert_null(resp.stream.read);
    gcs_http_response_release(&resp);
    assert_int_equal(atomic_load(&stream_releases), released + 3);
}

int main(void)
{
    gcs_test_deadline(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_per_connection),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_bad_address),
        cmocka_unit_test(test_dispatch_without_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
