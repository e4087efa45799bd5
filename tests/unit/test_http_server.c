/* The HTTP server wrapper on its own: a handler in this process, driven with
 * libcurl over loopback. Request decoding, responses, keep-alive, the body
 * limit, dropping a connection, both threading modes. */
#include <curl/curl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcstest.h"
#include "httptest.h"
#include "core/error.h"
#include "http/server.h"

static atomic_int calls;

/* Echoes what it saw as JSON; /drop drops; /big reports the body flag. */
static void handler(gcs_http_response *out, const gcs_http_request *req, void *payload)
{
    (void)payload;
    atomic_fetch_add(&calls, 1);
    if (strcmp(req->path, "/drop") == 0) {
        out->drop = true;
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

static void test_thread_per_connection(void **state)
{
    (void)state;
    exercise(0);
    a_client_still_sending_reads_the_413(0);
}

static void test_pool(void **state)
{
    (void)state;
    exercise(2);
    a_client_still_sending_reads_the_413(2);
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
