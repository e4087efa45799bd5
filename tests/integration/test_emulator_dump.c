/* /_emulator/state is streamed from a snapshot: the emulator in this process
 * behind the HTTP server, a client on a raw socket that reads the first part
 * of the dump and stops while the emulator holds thousands more users.
 *  - the first bytes come before the dump is built: the process has not grown
 *    by anything like the dump's size when they arrive;
 *  - the dump is the organisation as it was when it was asked for, although
 *    users are changed, deleted, created and taken out of a group while it
 *    is being sent;
 *  - a reset while a dump is being sent breaks its transfer (no final chunk),
 *    never passes another organisation off as the state. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "emulator/emulator.h"
#include "gcstest.h"
#include "httptest.h"
#include "http/server.h"

#define PATCHOP "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":"
#define USERS 20000

static gcs_emu *emu;
static gcs_http_server *srv;
static char base[64];
static char bearer[160];

static void start(void)
{
    char seed_text[256];
    /* A group of three users at the end of the order: leaving it changes
     * their `groups` in place. */
    snprintf(seed_text, sizeof seed_text,
             "{\"groups\":[{\"name\":\"Team A\",\"members\":[\"user%07d@synthetic.example\","
             "\"user%07d@synthetic.example\",\"user%07d@synthetic.example\"]}]}",
             USERS - 2, USERS - 1, USERS);
    json_t *seed = json_loads(seed_text, 0, NULL);
    assert_non_null(seed);
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    opts.config.rate_limit = 0;
    opts.clients[0].id = "c";
    opts.clients[0].secret = "s";
    opts.nclients = 1;
    opts.seeded = true;
    opts.seed = 7;
    opts.synthetic_users = USERS;
    assert_int_equal(gcs_emu_new(&emu, &opts, seed), 0);
    json_decref(seed);
    gcs_http_server_options so = {.host = "127.0.0.1", .port = 0};
    assert_int_equal(gcs_http_server_start(&srv, &so, gcs_emu_handle, emu), 0);
    /* Locations keep the default base: rebuilding them would cost a reload. */
    snprintf(base, sizeof base, "http://127.0.0.1:%d", gcs_http_server_port(srv));

    char url[128];
    snprintf(url, sizeof url, "%s/oauth/token", base);
    const char *hdrs[] = {"Authorization: Basic Yzpz", "Content-Type: application/x-www-form-urlencoded",
                          NULL};
    gcs_test_http r;
    const char *form = "grant_type=client_credentials";
    gcs_test_http_do(&r, "POST", url, hdrs, form, strlen(form));
    assert_int_equal(r.status, 200);
    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s",
             json_string_value(json_object_get(r.json, "access_token")));
    gcs_test_http_release(&r);
}

static void stop(void)
{
    gcs_http_server_free(srv);
    srv = NULL;
    gcs_emu_free(emu);
    emu = NULL;
}

static long call(const char *method, const char *path, const char *body, json_t **out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    const char *hdrs[] = {bearer, "Content-Type: application/scim+json", NULL};
    gcs_test_http r;
    gcs_test_http_do(&r, method, url, hdrs, body, body ? strlen(body) : 0);
    long status = r.status;
    if (out)
        *out = json_incref(r.json);
    gcs_test_http_release(&r);
    return status;
}

/* The process's resident memory, in KiB. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* GET /_emulator/state on a raw socket, with a small receive buffer so that
 * the server has to wait for the reader. */
static int dump_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int small = 64 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gcs_http_server_port(srv))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /_emulator/state HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    return fd;
}

/* Reads until `raw` holds at least `want` bytes, or to the end when want is 0. */
static void dump_read(int fd, gcs_buf *raw, size_t want)
{
    char piece[16384];
    while (!want || raw->len < want) {
        ssize_t n = recv(fd, piece, sizeof piece, 0);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0 || errno == ECONNRESET);
        if (n <= 0)
            break;
        assert_int_equal(gcs_buf_put(raw, piece, (size_t)n), 0);
    }
}

/* The body of a chunked answer; *whole is false when its last chunk never came. */
static void dechunk(const gcs_buf *raw, gcs_buf *body, bool *whole)
{
    *whole = false;
    const char *p = strstr(raw->ptr, "\r\n\r\n"), *end = raw->ptr + raw->len;
    assert_non_null(p);
    assert_true(strncmp(raw->ptr, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strcasestr(raw->ptr, "Transfer-Encoding: chunked"));
    p += 4;
    while (p < end) {
        char *after;
        unsigned long n = strtoul(p, &after, 16);
        const char *data = strstr(after, "\r\n");
        if (!data || data + 2 > end)
            return;
        data += 2;
        if (n == 0) {
            *whole = true;
            return;
        }
        if ((size_t)(end - data) < n + 2)
            return;
        assert_int_equal(gcs_buf_put(body, data, n), 0);
        p = data + n + 2;
    }
}

static const char *user_id(const json_t *state, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(state, "users"), i), "id"));
}

static void test_snapshot_streamed(void **state)
{
    (void)state;
    start();
    long before_kib = rss_kib();
    int fd = dump_open();
    gcs_buf raw;
    gcs_buf_init(&raw, SIZE_MAX);
    dump_read(fd, &raw, 64 * 1024);
    /* The answer is already coming; had it been built whole first (and copied
     * by the server), the process would have grown by twice its size (some
     * 17 MiB here). */
    long grown_kib = rss_kib() - before_kib;
    print_message("grown by %ld KiB when the first 64 KiB arrived\n", grown_kib);
    assert_true(grown_kib < 8 * 1024);

    /* Now, with the dump under way: the snapshot it must show. */
    json_t *then = gcs_emu_state(emu);
    assert_non_null(then);
    assert_int_equal(json_array_size(json_object_get(then, "users")), USERS);
    char last[40], second_last[40], third_last[40], first[40], group[40], path[160], body[512];
    snprintf(last, sizeof last, "%s", user_id(then, USERS - 1));
    snprintf(second_last, sizeof second_last, "%s", user_id(then, USERS - 2));
    snprintf(third_last, sizeof third_last, "%s", user_id(then, USERS - 3));
    snprintf(first, sizeof first, "%s", user_id(then, 0));
    snprintf(group, sizeof group, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(then, "groups"), 0), "id")));

    /* Changes behind the dump's back, to users it has not written yet. */
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", last);
    assert_int_equal(call("PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Lead\"}]}",
                          NULL), 200);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", second_last);
    assert_int_equal(call("DELETE", path, NULL, NULL), 204);
    snprintf(path, sizeof path, "/api/v2/scim/v2/groups/%s", group);
    snprintf(body, sizeof body, PATCHOP "[{\"op\":\"remove\",\"path\":\"members[value eq \\\"%s\\\"]\"}]}",
             third_last);
    assert_int_equal(call("PATCH", path, body, NULL), 200);
    assert_int_equal(call("POST", "/api/v2/scim/v2/users",
                          "{\"userName\":\"new@example.com\",\"displayName\":\"New\"}", NULL), 201);
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", first);
    assert_int_equal(call("PATCH", path, PATCHOP "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Boss\"}]}",
                          NULL), 200);
    json_t *now = gcs_emu_state(emu);
    assert_false(json_equal(now, then));

    dump_read(fd, &raw, 0);
    close(fd);
    gcs_buf dumped;
    gcs_buf_init(&dumped, SIZE_MAX);
    bool whole;
    dechunk(&raw, &dumped, &whole);
    assert_true(whole);
    json_error_t jerr;
    json_t *got = json_loadb(dumped.ptr, dumped.len, 0, &jerr);
    if (!got)
        fail_msg("the dump is not JSON: %s at %d", jerr.text, jerr.position);
    assert_true(json_equal(got, then));
    print_message("a dump of %zu KiB\n", dumped.len / 1024);

    /* And a dump asked for now shows the changes. */
    gcs_buf_clear(&raw);
    gcs_buf_clear(&dumped);
    fd = dump_open();
    dump_read(fd, &raw, 0);
    close(fd);
    dechunk(&raw, &dumped, &whole);
    assert_true(whole);
    json_decref(got);
    got = json_loadb(dumped.ptr, dumped.len, 0, NULL);
    assert_true(json_equal(got, now));

    json_decref(got);
    json_decref(now);
    json_decref(then);
    gcs_buf_release(&dumped);
    gcs_buf_release(&raw);
    stop();
}

static void test_reset_breaks_dump(void **state)
{
    (void)state;
    start();
    int fd = dump_open();
    gcs_buf raw;
    gcs_buf_init(&raw, SIZE_MAX);
    dump_read(fd, &raw, 64 * 1024);
    char url[128];
    snprintf(url, sizeof url, "%s/_emulator/reset", base);
    gcs_test_http r;
    gcs_test_http_do(&r, "POST", url, NULL, "", 0);
    assert_int_equal(r.status, 200);
    gcs_test_http_release(&r);
    dump_read(fd, &raw, 0);
    close(fd);
    gcs_buf body;
    gcs_buf_init(&body, SIZE_MAX);
    bool whole;
    dechunk(&raw, &body, &whole);
    assert_false(whole);
    assert_null(json_loadb(body.ptr, body.len, 0, NULL));
    gcs_buf_release(&body);
    gcs_buf_release(&raw);
    stop();
}

int main(void)
{
    gcs_test_deadline(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_streamed),
        cmocka_unit_test(test_reset_breaks_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
