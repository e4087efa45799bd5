/* gcscim-emulator: a local Genesys Cloud. The server itself lives in the library
 * (src/emulator/); this is only its entry point: flags, the listening socket,
 * the ready file, and a clean stop on SIGTERM / SIGINT (exit 0). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/version_gen.h"
#include "emulator/emulator.h"
#include "http/server.h"

static const char usage[] =
    "Usage: gcscim-emulator [OPTIONS]\n"
    "A local Genesys Cloud for tests, benchmarks, demos and dry runs (docs/emulator.md).\n"
    "\n"
    "  --listen HOST:PORT            address to listen on (default 127.0.0.1:0; port 0 = a free one)\n"
    "  --ready-file FILE             written once listening: {\"api_url\",\"login_url\",\"port\"}\n"
    "  --client ID:SECRET            an accepted OAuth client (repeatable); without any,\n"
    "                                " GCS_EMU_DEFAULT_CLIENT_ID ":" GCS_EMU_DEFAULT_CLIENT_SECRET "\n"
    "  --client-scopes ID=SCOPES     that client's tokens get only these scopes (comma-separated,\n"
    "                                e.g. scim:readonly,groups); others: 403 missing.any.scopes\n"
    "  --token-ttl SECONDS           access token lifetime (default 86400)\n"
    "  --seed ORG.json               initial organisation (roles, divisions, skills, languages,\n"
    "                                groups, users)\n"
    "  --rate-limit N/SECONDS        requests per token and window (default 300/60; 0 = off)\n"
    "  --rate-limit-per-client       the limit holds for the sum of a client's tokens, in one\n"
    "                                window; counts stay per token (hosts held to one limit)\n"
    "  --version-conflict-status S   answer to a stale If-Match: 400 (default), 409 or 412\n"
    "  --fault-rate P                share of API requests answered 500/502/503/504 or dropped\n"
    "  --fault-kinds LIST            which faults, e.g. 503,drop (default all five)\n"
    "  --fault-seed N                seed for faults, ids and the hidden writer (reproducible)\n"
    "  --latency MS[:JITTER_MS]      delay before each API answer\n"
    "  --concurrent-writer P         share of users read (singly or in list pages) that change behind\n"
    "                                the client's back\n"
    "  --clock-skew SECONDS          every answer's Date header is this far ahead (or, negative,\n"
    "                                behind) the real clock\n"
    "  --threads N                   server threads: 0 = one per connection (default), N = pool\n"
    "  --generated-fields            every user gets the read-only email of type other (its\n"
    "                                userName) and the immutable x-pc:scimv2:v1 externalIds entry\n"
    "  --synthetic-users N           add N generated users after the seed's (at most 1000000;\n"
    "                                user0000001@synthetic.example…, every tenth inactive)\n"
    "  --synthetic-managed AUTHORITY synthetic users are all active and managed: each carries\n"
    "                                the externalIds entry {AUTHORITY, its userName}\n"
    "  --log-level LEVEL             debug, info (default), warn, error, off\n"
    "  --log-format FORMAT           text (default) or json\n"
    "  --version                     print the version\n"
    "  -h, --help                    this help\n"
    "\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gcscim-emulator: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'gcscim-emulator --help'\n");
    return 2;
}

static int parse_share(const char *text, double *out)
{
    char *end;
    double d = strtod(text, &end);
    if (end == text || *end || d < 0 || d > 1)
        return -1;
    *out = d;
    return 0;
}

static int write_ready(const char *path, const char *url, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return gcs_error_set(GCS_EIO, "cannot write ready file '%s': %s", path, strerror(errno));
    fprintf(f, "{\"api_url\":\"%s\",\"login_url\":\"%s\",\"port\":%d}\n", url, url, port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return gcs_error_set(GCS_EIO, "cannot write ready file '%s': %s", path, strerror(errno));
    return 0;
}

static _Atomic(gcs_emu *) the_emu;

static void handle(gcs_http_response *out, const gcs_http_request *req, void *payload)
{
    (void)payload;
    gcs_emu *emu = atomic_load(&the_emu);
    if (emu)
        gcs_emu_handle(out, req, emu);
    else
        gcs_http_response_set(out, 503, "text/plain", "starting\n");
}

/* A usage error inside main: message, exit 2, through the cleanup. */
#define USAGE(...)                                                                                 \
    do {                                                                                           \
        rc = usage_error(__VA_ARGS__);                                                             \
        goto out;                                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    const char *listen = "127.0.0.1:0", *ready = NULL, *seed_path = NULL;
    unsigned threads = 0;
    int rc = 1;
    json_t *seed = NULL;
    gcs_emu *emu = NULL;
    gcs_http_server *srv = NULL;
    char *clients[GCS_EMU_MAX_CLIENTS] = {0};
    const char *scoped[GCS_EMU_MAX_CLIENTS];
    int nscoped = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0) {
            printf("gcscim-emulator %s\n", GCS_VERSION_STRING);
            rc = 0;
            goto out;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        }
        if (strncmp(a, "--", 2) != 0)
            USAGE("unexpected argument '%s'", a);
        if (strcmp(a, "--generated-fields") == 0) {
            opts.generated_fields = true;
            continue;
        }
        if (strcmp(a, "--rate-limit-per-client") == 0) {
            opts.config.rate_per_client = true;
            continue;
        }
        static const char *const with_value[] = {
            "--listen", "--ready-file", "--client", "--token-ttl", "--seed", "--rate-limit",
            "--version-conflict-status", "--fault-rate", "--fault-kinds", "--fault-seed",
            "--latency", "--concurrent-writer", "--threads", "--log-level", "--log-format",
            "--client-scopes", "--clock-skew", "--synthetic-users", "--synthetic-managed", NULL};
        size_t k = 0;
        while (with_value[k] && strcmp(with_value[k], a) != 0)
            k++;
        if (!with_value[k])
            USAGE("unknown option '%s'", a);
        if (i + 1 >= argc)
            USAGE("option '%s' needs a value", a);
        const char *v = argv[++i];
        char *end;
        if (strcmp(a, "--listen") == 0) {
            listen = v;
        } else if (strcmp(a, "--ready-file") == 0) {
            ready = v;
        } else if (strcmp(a, "--seed") == 0) {
            seed_path = v;
        } else if (strcmp(a, "--client") == 0) {
            char *colon = strchr(v, ':');
            if (!colon || colon == v || !colon[1])
                USAGE("bad --client '%s' (want ID:SECRET)", v);
            if (opts.nclients >= GCS_EMU_MAX_CLIENTS)
                USAGE("too many --client options (at most 16)");
            char *copy = strdup(v);
            if (!copy)
                USAGE("out of memory");
            clients[opts.nclients] = copy;
            copy[colon - v] = '\0';
            opts.clients[opts.nclients].id = copy;
            opts.clients[opts.nclients].secret = copy + (colon - v) + 1;
            opts.nclients++;
        } else if (strcmp(a, "--client-scopes") == 0) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || !eq[1] || (size_t)(eq - v) >= 256 || strlen(eq) > 200)
                USAGE("bad --client-scopes '%s' (want ID=SCOPE,SCOPE)", v);
            if (nscoped >= GCS_EMU_MAX_CLIENTS)
                USAGE("too many --client-scopes options (at most 16)");
            scoped[nscoped++] = v;
        } else if (strcmp(a, "--token-ttl") == 0) {
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 10000000)
                USAGE("bad --token-ttl '%s' (seconds, 1 to 10000000)", v);
            opts.config.token_ttl_s = n;
        } else if (strcmp(a, "--rate-limit") == 0) {
            if (gcs_emu_parse_rate(v, &opts.config.rate_limit, &opts.config.rate_window_s) < 0)
                USAGE("%s", gcs_error_last());
        } else if (strcmp(a, "--version-conflict-status") == 0) {
            if (strcmp(v, "400") && strcmp(v, "409") && strcmp(v, "412"))
                USAGE("bad --version-conflict-status '%s' (400, 409 or 412)", v);
            opts.config.version_conflict_status = atoi(v);
        } else if (strcmp(a, "--fault-rate") == 0) {
            if (parse_share(v, &opts.config.fault_rate) < 0)
                USAGE("bad --fault-rate '%s' (0 to 1)", v);
        } else if (strcmp(a, "--fault-kinds") == 0) {
            json_t *list = json_array();
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            char *save = NULL;
            int bad = list ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
            for (char *t = strtok_r(buf, ",", &save); t && bad == 0; t = strtok_r(NULL, ",", &save)) {
                if (json_array_append_new(list, json_string(t)) < 0)
                    bad = gcs_error_set(GCS_ENOMEM, "out of memory");
            }
            if (bad == 0)
                bad = gcs_emu_fault_kinds_parse(&opts.config.fault_kinds, list);
            json_decref(list);
            if (bad < 0)
                USAGE("%s", gcs_error_last());
        } else if (strcmp(a, "--fault-seed") == 0) {
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (end == v || *end || errno)
                USAGE("bad --fault-seed '%s' (a number)", v);
            opts.seed = n;
            opts.seeded = true;
        } else if (strcmp(a, "--latency") == 0) {
            if (gcs_emu_parse_latency(v, &opts.config.latency_ms, &opts.config.latency_jitter_ms) < 0)
                USAGE("%s", gcs_error_last());
        } else if (strcmp(a, "--concurrent-writer") == 0) {
            if (parse_share(v, &opts.config.concurrent_writer) < 0)
                USAGE("bad --concurrent-writer '%s' (0 to 1)", v);
        } else if (strcmp(a, "--clock-skew") == 0) {
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < -864000 || n > 864000)
                USAGE("bad --clock-skew '%s' (seconds, -864000 to 864000)", v);
            opts.config.clock_skew_s = n;
        } else if (strcmp(a, "--synthetic-users") == 0) {
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 0 || n > 1000000)
                USAGE("bad --synthetic-users '%s' (0 to 1000000)", v);
            opts.synthetic_users = (size_t)n;
        } else if (strcmp(a, "--synthetic-managed") == 0) {
            if (!*v || strlen(v) > 100)
                USAGE("bad --synthetic-managed '%s' (an authority, 1 to 100 characters)", v);
            opts.synthetic_marker = v;
            opts.synthetic_inactive_every = 0;
        } else if (strcmp(a, "--threads") == 0) {
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 0 || n > 64)
                USAGE("bad --threads '%s' (0 to 64)", v);
            threads = (unsigned)n;
        } else if (strcmp(a, "--log-level") == 0) {
            gcs_log_level level;
            if (gcs_log_level_parse(v, &level) < 0)
                USAGE("bad --log-level '%s'", v);
            gcs_log_set_level(level);
        } else if (strcmp(a, "--log-format") == 0) {
            gcs_log_format format;
            if (gcs_log_format_parse(v, &format) < 0)
                USAGE("bad --log-format '%s'", v);
            gcs_log_set_format(format);
        }
    }

    for (int i = 0; i < nscoped; i++) {
        const char *eq = strchr(scoped[i], '=');
        int k = 0;
        while (k < opts.nclients && (strlen(opts.clients[k].id) != (size_t)(eq - scoped[i]) ||
                                     strncmp(opts.clients[k].id, scoped[i], (size_t)(eq - scoped[i])) != 0))
            k++;
        if (k == opts.nclients)
            USAGE("--client-scopes '%s' names no --client", scoped[i]);
        opts.clients[k].scopes = eq + 1;
    }

    char host[256];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == listen || end == colon + 1 || *end || port < 0 || port > 65535 ||
        (size_t)(colon - listen) >= sizeof host)
        USAGE("bad --listen '%s' (want HOST:PORT)", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }

    /* Signals are taken by sigwait below; the server's threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (seed_path && gcs_emu_seed_load(&seed, seed_path) < 0) {
        GCS_ERR("emulator.seed", "error", gcs_error_last());
        goto out;
    }
    /* Listen first, then build the organisation with its final base URL
     * (meta.location): built once, which matters with a million synthetic
     * users. Until it is there, which no client can observe (the ready file
     * comes after), requests get 503. */
    gcs_http_server_options so = {.host = host, .port = (int)port, .threads = threads};
    if (gcs_http_server_start(&srv, &so, handle, NULL) < 0) {
        GCS_ERR("emulator.listen", "error", gcs_error_last());
        goto out;
    }
    char url[300], port_text[16];
    int bound = gcs_http_server_port(srv);
    snprintf(url, sizeof url, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, bound);
    snprintf(port_text, sizeof port_text, "%d", bound);
    opts.base_url = url;
    if (gcs_emu_new(&emu, &opts, seed) < 0) {
        GCS_ERR("emulator.start", "error", gcs_error_last());
        goto out;
    }
    atomic_store(&the_emu, emu);
    if (ready && write_ready(ready, url, bound) < 0) {
        GCS_ERR("emulator.ready_file", "error", gcs_error_last());
        goto out;
    }
    GCS_INFO("emulator.listening", "api_url", url, "port", port_text, "client",
             opts.nclients ? opts.clients[0].id : GCS_EMU_DEFAULT_CLIENT_ID " (default)");

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    GCS_INFO("emulator.stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    gcs_http_server_free(srv);
    atomic_store(&the_emu, NULL);
    gcs_emu_free(emu);
    json_decref(seed);
    for (int i = 0; i < GCS_EMU_MAX_CLIENTS; i++)
        free(clients[i]);
    return rc;
}
