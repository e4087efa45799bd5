/*
 * bench_serve: signed events accepted per second by gcscim serve's front, each
 * committed to the store before its 202, and the server's CPU per event.
 *
 *   bench_serve [--events N] [--connections C] [--db URL]
 *
 * In one process: the service (service.h: routes, signature check, intake)
 * behind the HTTP server on loopback, without workers (the jobs stay queued),
 * and C client threads, each with one keep-alive connection, posting events
 * signed beforehand (distinct webhook ids and people). The server's CPU is
 * the process's minus the client threads' own. --db defaults to SQLite in a
 * temporary directory; give a PostgreSQL URL (scripts/with-postgres sets
 * $GCSCIM_TEST_PG) to measure that back end. Last line: one JSON object.
 */
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "http/server.h"
#include "service/service.h"
#include "service/webhook.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

typedef struct client {
    pthread_t thread;
    const char *url;
    int first, count;          /* events [first, first + count) */
    char **bodies, **headers;  /* per event: body, and the three webhook headers */
    int accepted, refused;
    int64_t cpu_us;            /* this thread's CPU */
} client;

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *run_client(void *arg)
{
    client *c = arg;
    int64_t c0 = thread_cpu_us();
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    for (int i = c->first; i < c->first + c->count; i++) {
        struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
        hl = curl_slist_append(hl, "Expect:");
        for (char *line = c->headers[i]; *line; line += strlen(line) + 1)
            hl = curl_slist_append(hl, line);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->bodies[i]);
        long status = 0;
        if (curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status == 202)
            c->accepted++;
        else
            c->refused++;
        curl_slist_free_all(hl);
    }
    curl_easy_cleanup(h);
    c->cpu_us = thread_cpu_us() - c0;
    return NULL;
}

int main(int argc, char **argv)
{
    int events = 20000, connections = 16;
    const char *db = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--events") == 0)
            events = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--connections") == 0)
            connections = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--db") == 0)
            db = argv[i + 1];
    }
    if (events < 1 || connections < 1 || connections > 256) {
        fprintf(stderr, "usage: bench_serve [--events N] [--connections C] [--db URL]\n");
        return 2;
    }
    gcs_log_set_level(GCS_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char dir[] = "/tmp/bench_serve.XXXXXX", db_url[4200];
    if (!mkdtemp(dir))
        return 1;
    if (db)
        snprintf(db_url, sizeof db_url, "%s", db);
    else
        snprintf(db_url, sizeof db_url, "sqlite:%s/gcscim.db", dir);

    gcs_webhook_secret secret;
    if (gcs_webhook_secret_parse(&secret, SECRET) < 0)
        return 1;
    /* Signed beforehand: signing is the sender's work, not the service's. */
    char **bodies = calloc((size_t)events, sizeof *bodies);
    char **headers = calloc((size_t)events, sizeof *headers);
    int64_t ts = gcs_time_wall_ms() / 1000;
    unsigned run = (unsigned)getpid();
    for (int i = 0; i < events; i++) {
        char id[64], sig[GCS_WEBHOOK_SIGNATURE_MAX];
        bodies[i] = malloc(512);
        headers[i] = malloc(256);
        snprintf(bodies[i], 512,
                 "{\"type\":\"person.changed\",\"data\":{\"key\":\"B%d\",\"row\":{"
                 "\"employee_id\":\"B%d\",\"first_name\":\"Ada\",\"last_name\":\"Quist\","
                 "\"email\":\"b%d@example.com\",\"job_title\":\"Agent\",\"status\":\"Active\"}}}",
                 i, i, i);
        snprintf(id, sizeof id, "msg_%u_%d", run, i);
        gcs_webhook_sign(sig, &secret, id, ts, bodies[i], strlen(bodies[i]));
        int n = snprintf(headers[i], 256, "webhook-id: %s", id) + 1;
        n += snprintf(headers[i] + n, 256 - (size_t)n, "webhook-timestamp: %lld", (long long)ts) + 1;
        n += snprintf(headers[i] + n, 256 - (size_t)n, "webhook-signature: %s", sig) + 1;
        headers[i][n] = '\0';
    }

    gcs_service *svc = NULL;
    gcs_http_server *srv = NULL;
    gcs_service_options so = {.db_url = db_url, .secrets = &secret, .secret_count = 1,
                              .queue_max = 10000000};
    if (gcs_service_new(&svc, &so) < 0) {
        fprintf(stderr, "bench_serve: %s\n", gcs_error_last());
        return 1;
    }
    gcs_http_server_options ho = {.host = "127.0.0.1", .port = 0};
    if (gcs_http_server_start(&srv, &ho, gcs_service_handle, svc) < 0) {
        fprintf(stderr, "bench_serve: %s\n", gcs_error_last());
        return 1;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/events", gcs_http_server_port(srv));

    client *clients = calloc((size_t)connections, sizeof *clients);
    int per = events / connections, extra = events % connections, next = 0;
    int64_t p0 = gcs_bench_cpu_us(0), t0 = gcs_time_mono_us();
    for (int c = 0; c < connections; c++) {
        clients[c] = (client){.url = url, .first = next, .count = per + (c < extra),
                              .bodies = bodies, .headers = headers};
        next += clients[c].count;
        pthread_create(&clients[c].thread, NULL, run_client, &clients[c]);
    }
    int accepted = 0, refused = 0;
    int64_t client_cpu = 0;
    for (int c = 0; c < connections; c++) {
        pthread_join(clients[c].thread, NULL);
        accepted += clients[c].accepted;
        refused += clients[c].refused;
        client_cpu += clients[c].cpu_us;
    }
    int64_t t1 = gcs_time_mono_us(), p1 = gcs_bench_cpu_us(0);
    double seconds = (double)(t1 - t0) / 1e6;
    double server_cpu_us = (double)((p1 - p0) - client_cpu);

    gcs_http_server_free(srv);
    gcs_service_free(svc);
    gcs_store *check = NULL;
    gcs_job_counts jc = {0};
    if (gcs_store_open(&check, db_url) == 0)
        gcs_store_job_counts(&jc, check);
    gcs_store_free(check);

    const char *backend = strncmp(db_url, "postgres", 8) == 0 ? "postgresql" : "sqlite";
    fprintf(stderr,
            "bench_serve: %s, %d events over %d connections: %d accepted (%d queued), %d "
            "refused, %.2f s, %.0f events/s, server CPU %.1f µs per event\n",
            backend, events, connections, accepted, (int)jc.pending, refused, seconds,
            accepted / seconds, server_cpu_us / (accepted ? accepted : 1));
    printf("{\"backend\":\"%s\",\"events\":%d,\"connections\":%d,\"accepted\":%d,\"queued\":%lld,"
           "\"refused\":%d,\"seconds\":%.3f,\"accepted_per_s\":%.0f,\"server_cpu_us_per_event\":"
           "%.1f}\n",
           backend, events, connections, accepted, (long long)jc.pending, refused, seconds,
           accepted / seconds, server_cpu_us / (accepted ? accepted : 1));

    for (int i = 0; i < events; i++) {
        free(bodies[i]);
        free(headers[i]);
    }
    free(bodies);
    free(headers);
    free(clients);
    gcs_webhook_secret_wipe(&secret);
    if (!db)
        gcs_bench_remove_dir(dir, "bench_serve");
    curl_global_cleanup();
    return accepted == events ? 0 : 1;
}
