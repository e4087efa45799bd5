/* Which calls ask for a compressed answer: reads do (list pages are large) and
 * get it decoded; writes do not (their answers are one small object, and the
 * Accept-Encoding line costs libcurl's formatting on every call). A loopback
 * server of the test's own records each request's header block and answers a
 * read with a gzip body. */
#include "gcstest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/client.h"

/* {"total":7}, gzip-compressed */
static const char gzipped[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x56\x2a\xc9\x2f\x49"
                              "\xcc\x51\xb2\x32\xaf\x05\x00\xb5\x8f\x91\x43\x0b\x00\x00\x00";

typedef struct {
    int listener;
    int n_requests;
    char requests[2][2048]; /* each request's header block */
} server;

/* Answers n_requests requests, one connection each (the answer closes it). */
static void *serve(void *arg)
{
    server *s = arg;
    for (int i = 0; i < s->n_requests; i++) {
        int fd = accept(s->listener, NULL, NULL);
        if (fd < 0)
            break;
        size_t got = 0;
        char *req = s->requests[i];
        while (got < sizeof s->requests[i] - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t n = read(fd, req + got, sizeof s->requests[i] - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
        }
        char head[256];
        if (strncmp(req, "GET ", 4) == 0) {
            int n = snprintf(head, sizeof head,
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Encoding: gzip\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\n\r\n",
                             sizeof gzipped - 1);
            (void)!write(fd, head, (size_t)n);
            (void)!write(fd, gzipped, sizeof gzipped - 1);
        } else {
            static const char plain[] = "{\"id\":\"u1\"}";
            int n = snprintf(head, sizeof head,
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                             sizeof plain - 1, plain);
            (void)!write(fd, head, (size_t)n);
        }
        close(fd);
    }
    return NULL;
}

static void reads_ask_for_gzip_and_writes_do_not(void **state)
{
    (void)state;
    server s = {.n_requests = 2};
    s.listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s.listener >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s.listener, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s.listener, 4), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(s.listener, (struct sockaddr *)&a, &alen), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    gcs_http_client_options o = {.api_url = url, .max_attempts = 1, .seed = 1};
    gcs_http_client *c = NULL;
    assert_int_equal(gcs_http_client_new(&c, &o), 0);

    gcs_http_client_response res;
    gcs_http_client_request get = {.method = "GET", .path = "/api/v2/users?pageSize=1"};
    assert_int_equal(gcs_http_call(&res, c, &get), 0);
    assert_int_equal(res.status, 200);
    assert_non_null(res.json); /* decoded from gzip, then parsed */
    assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 7);
    gcs_http_client_response_release(&res);

    gcs_http_client_request patch = {.method = "PATCH", .path = "/api/v2/scim/v2/users/u1",
                                     .body = "{\"title\":\"x\"}"};
    assert_int_equal(gcs_http_call(&res, c, &patch), 0);
    assert_int_equal(res.status, 200);
    gcs_http_client_response_release(&res);

    pthread_join(t, NULL);
    close(s.listener);
    gcs_http_client_free(c);
    assert_non_null(strstr(s.requests[0], "GET /api/v2/users"));
    assert_non_null(strstr(s.requests[0], "\r\nAccept-Encoding: gzip\r\n"));
    assert_non_null(strstr(s.requests[1], "PATCH /api/v2/scim/v2/users/u1"));
    assert_null(strcasestr(s.requests[1], "Accept-Encoding"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_ask_for_gzip_and_writes_do_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
