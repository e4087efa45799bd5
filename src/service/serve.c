/*
 * `gcscim serve` from the configuration (serve.h).
 */
#include "service/serve.h"

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"
#include "genesys/session.h"
#include "http/server.h"
#include "mapping/profile.h"
#include "service/auth.h"
#include "service/chain_check.h"
#include "service/notify.h"
#include "service/service.h"
#include "service/workers.h"

#include <pthread.h>

#include <openssl/crypto.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLS_FILE_MAX (1024 * 1024)

struct gcs_serve {
    const gcs_config *cfg;
    gcs_webhook_secret secrets[GCS_EVENT_SECRETS_MAX];
    size_t secret_count;
    gcs_api_keys *keys;
    char *tls_cert, *tls_key;
    gcs_genesys_session *session;
    bool token_ok;
    char token_error[256];
    gcs_service *service;
    gcs_workers *workers;
    gcs_notify_config *notify;     /* NULL without notify_file */
    gcs_notifier *notifier;
    gcs_store *notify_store;       /* counts for /metrics, read by the scraping thread */
    pthread_mutex_t notify_lock;
    gcs_chain_check *chain;        /* NULL when chain_verify_interval is 0 */
    gcs_http_server *server;
    pthread_mutex_t rate_lock;     /* the last scrape's request count, for the used ratio */
    uint64_t rate_sent;
    int64_t rate_ms;
    char url[300];
    int64_t grace_ms;
};

/* ==== Listening address ==== */

/* HOST:PORT or [V6]:PORT with a numeric host. */
static int parse_listen(char *host, size_t hostsz, int *port, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    char *end;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == listen || end == colon + 1 || *end || p < 0 || p > 65535)
        return gcs_error_set(GCS_EINVALID, "listen: '%.80s' is not HOST:PORT", listen);
    const char *h = listen;
    size_t len = (size_t)(colon - listen);
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        h++;
        len -= 2;
    }
    if (len >= hostsz)
        return gcs_error_set(GCS_EINVALID, "listen: the host of '%.80s' is too long", listen);
    memcpy(host, h, len);
    host[len] = '\0';
    *port = (int)p;
    return 0;
}

static int write_ready(const char *path, const char *url, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return gcs_error_set(GCS_EIO, "cannot write ready file '%s': %s", path, strerror(errno));
    fprintf(f, "{\"api_url\":\"%s\",\"url\":\"%s\",\"port\":%d}\n", url, url, port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return gcs_error_set(GCS_EIO, "cannot write ready file '%s': %s", path, strerror(errno));
    return 0;
}

/* ==== Hooks given to the service ==== */

static int ensure_token(gcs_genesys_session *session, void *ctx)
{
    (void)ctx;
    return gcs_token_ensure(session->token, session->client);
}

/* A token is held or can be had now: asked of the session between two jobs
 * (the workers own it), or directly before they start. */
static bool token_ready(void *ctx, char *why, size_t whysz)
{
    gcs_serve *s = ctx;
    if (s->workers) {
        if (gcs_workers_with_session(s->workers, ensure_token, NULL) == 0)
            return true;
        snprintf(why, whysz, "%s", gcs_error_last());
        return false;
    }
    if (!s->token_ok)
        snprintf(why, whysz, "%s", s->token_error);
    return s->token_ok;
}

static void on_enqueued(void *ctx)
{
    gcs_serve *s = ctx;
    if (s->workers)
        gcs_workers_notify(s->workers);
}

static void on_outcome(void *ctx, const gcs_job *job, const char *result_json)
{
    gcs_serve *s = ctx;
    gcs_service_on_outcome(s->service, job, result_json);
    /* What the job's apply wrote to the outbox goes out now. */
    if (s->notifier)
        gcs_notifier_wake(s->notifier);
}

/* The outbox's gauges and what this process's notifier sent. */
static bool notify_metrics(void *ctx, gcs_notify_metrics *out)
{
    gcs_serve *s = ctx;
    gcs_notify_counts sent = {0};
    memset(out, 0, sizeof *out);
    if (!s->notifier)
        return false;
    gcs_notifier_counts(&sent, s->notifier);
    out->delivered = sent.delivered;
    out->failed = sent.failed;
    out->dead_sent = sent.dead;
    pthread_mutex_lock(&s->notify_lock);
    if (gcs_store_notification_counts(&out->pending, &out->dead, s->notify_store) < 0)
        GCS_WARN("serve.metrics", "error", gcs_error_last());
    pthread_mutex_unlock(&s->notify_lock);
    return true;
}

static bool chain_status(void *ctx, gcs_chain_status *out)
{
    gcs_serve *s = ctx;
    if (!s->chain)
        return false;
    gcs_chain_check_status(out, s->chain);
    return true;
}

/* What the workers' request engine saw, for /metrics. The used ratio is the
 * requests sent since the previous scrape over what the rate limit allowed
 * this host in that time (its share, when hosts share the limit). */
static void genesys_metrics(void *ctx, gcs_genesys_metrics *out)
{
    gcs_serve *s = ctx;
    gcs_workers_stats st;
    if (!s->workers)
        return;
    gcs_workers_counts(s->workers, &st);
    out->rate_limited = st.http.status_429;
    out->breaker_open = st.http.breaker_state != GCS_BREAKER_CLOSED;
    out->token_refreshes = st.http.token_requests;
    out->hosts = st.hosts;
    int64_t now = gcs_time_mono_ms();
    pthread_mutex_lock(&s->rate_lock);
    if (s->rate_ms && now > s->rate_ms && st.http.allowed_rps > 0) {
        /* With several hosts, this one's share of the limit is what it may use. */
        double allowed = st.http.allowed_rps * (double)(now - s->rate_ms) / 1000.0 /
                         (st.hosts > 1 ? st.hosts : 1);
        double used = (double)(st.http.sent - s->rate_sent) / allowed;
        out->rate_limit_used_ratio = used < 0 ? 0 : used > 1 ? 1 : used;
    }
    s->rate_sent = st.http.sent;
    s->rate_ms = now;
    pthread_mutex_unlock(&s->rate_lock);

    json_t *requests = gcs_workers_requests_json(s->workers);
    json_t *list = json_object_get(requests, "requests");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        if (out->nroutes >= GCS_ROUTE_COUNTS_MAX)
            break;
        gcs_route_count *c = &out->routes[out->nroutes++];
        const char *method = json_string_value(json_object_get(r, "method"));
        const char *route = json_string_value(json_object_get(r, "route"));
        snprintf(c->method, sizeof c->method, "%s", method ? method : "");
        snprintf(c->route, sizeof c->route, "%s", route ? route : "");
        c->status = (int)json_integer_value(json_object_get(r, "status"));
        c->count = (uint64_t)json_integer_value(json_object_get(r, "count"));
    }
    json_decref(requests);
}

/* ==== Start and stop ==== */

static int load_files(gcs_serve *s)
{
    int rc;
    const char *secrets = gcs_config_get(s->cfg, GCS_CFG_EVENT_SECRETS_FILE);
    const char *keys = gcs_config_get(s->cfg, GCS_CFG_API_KEYS_FILE);
    const char *cert = gcs_config_get(s->cfg, GCS_CFG_TLS_CERT);
    const char *key = gcs_config_get(s->cfg, GCS_CFG_TLS_KEY);
    if (!secrets && !keys)
        return gcs_error_set(GCS_EINVALID,
                             "serve needs event_secrets_file (signed events) or api_keys_file "
                             "(REST callers), or both");
    if (secrets && (rc = gcs_event_secrets_load(s->secrets, &s->secret_count, secrets)) < 0)
        return rc;
    if (keys) {
        s->keys = calloc(1, sizeof *s->keys);
        GCS_CHECK_ALLOC(s->keys);
        if ((rc = gcs_api_keys_load(s->keys, keys)) < 0)
            return rc;
    }
    if (!cert != !key)
        return gcs_error_set(GCS_EINVALID, "TLS needs both tls_cert and tls_key");
    if (cert) {
        FILE *f = fopen(cert, "r");
        if (!f)
            return gcs_error_set(GCS_EIO, "cannot read tls_cert '%s': %s", cert, strerror(errno));
        s->tls_cert = calloc(1, TLS_FILE_MAX + 1);
        size_t n = s->tls_cert ? fread(s->tls_cert, 1, TLS_FILE_MAX, f) : 0;
        fclose(f);
        GCS_CHECK_ALLOC(s->tls_cert);
        if (n == 0 || n >= TLS_FILE_MAX)
            return gcs_error_set(GCS_EINVALID, "tls_cert '%s' is empty or over 1 MiB", cert);
        if ((rc = gcs_service_read_private_file(&s->tls_key, key, TLS_FILE_MAX, "tls_key")) < 0)
            return rc;
    }
    return 0;
}

/* The refusals of gcs_serve_start that need no network: the listen address,
 * the files, plain HTTP off loopback. */
static int check_settings(gcs_serve *s, char *host, size_t hostsz, int *port)
{
    int rc;
    if ((rc = parse_listen(host, hostsz, port, gcs_config_get(s->cfg, GCS_CFG_LISTEN))) < 0)
        return rc;
    if ((rc = load_files(s)) < 0)
        return rc;
    if (!s->tls_cert && !gcs_http_address_is_loopback(host))
        return gcs_error_set(GCS_EINVALID,
                             "listen: plain HTTP is served on a loopback address only; give "
                             "tls_cert and tls_key (--tls-cert, --tls-key) to listen on %s, or "
                             "listen on 127.0.0.1 behind a reverse proxy",
                             host);
    return 0;
}

int gcs_serve_check(const gcs_config *cfg, char *summary, size_t summary_size)
{
    char host[128];
    int port = 0;
    gcs_serve *s = calloc(1, sizeof *s);
    GCS_CHECK_ALLOC(s);
    pthread_mutex_init(&s->rate_lock, NULL);
    pthread_mutex_init(&s->notify_lock, NULL);
    s->cfg = cfg;
    int rc = check_settings(s, host, sizeof host, &port);
    if (rc == 0 && summary_size)
        snprintf(summary, summary_size,
                 "listen %s (%s), %zu event secret%s, %zu API key%s",
                 gcs_config_get(cfg, GCS_CFG_LISTEN),
                 s->tls_cert ? "HTTPS" : "plain HTTP on loopback", s->secret_count,
                 s->secret_count == 1 ? "" : "s", s->keys ? s->keys->count : 0,
                 s->keys && s->keys->count == 1 ? "" : "s");
    gcs_serve_free(s);
    return rc;
}

/*
 * A profile whose password policy generates passwords: serve writes each one
 * to `passwords_file` (created 0600, appended to, fsynced with its run), and
 * nowhere else: never in a log, a receipt, a job's result or a notification.
 * Without that file serve does not start. A profile without the policy (or
 * with generate: false) sends no password: Genesys makes one for each new
 * user, which gcscim never sees.
 */
int gcs_serve_check_passwords(const gcs_password_policy *policy, const char *profile,
                              const char *passwords)
{
    if (!policy->enabled)
        return 0;
    if (!passwords || !*passwords)
        return gcs_error_set(GCS_EINVALID,
                             "the profile '%s' generates passwords (password: {generate: true}), "
                             "and serve writes them only to passwords_file: give one "
                             "(--passwords-file FILE, mode 0600), or drop generate and let "
                             "Genesys make each new user's password",
                             profile);
    if (access(passwords, W_OK) == 0)
        return 0;
    int err = errno;
    /* Not there yet: its directory must take it. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", passwords);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if (err == ENOENT && access(slash ? dir : ".", W_OK | X_OK) == 0)
        return 0;
    if (err == ENOENT)
        err = errno;
    return gcs_error_set(GCS_EIO, "cannot write passwords to passwords_file '%s': %s", passwords,
                         strerror(err));
}

/* gcs_serve_check_passwords, then the file made, private, before any job. */
static int prepare_passwords(const gcs_password_policy *policy, const char *profile,
                             const char *passwords)
{
    int rc = gcs_serve_check_passwords(policy, profile, passwords);
    if (rc < 0 || !policy->enabled)
        return rc;
    int fd = open(passwords, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return gcs_error_set(GCS_EIO, "cannot write passwords to passwords_file '%s': %s",
                             passwords, strerror(errno));
    struct stat st;
    rc = fstat(fd, &st) < 0 ? gcs_error_set(GCS_EIO, "passwords_file '%s': %s", passwords,
                                            strerror(errno))
         : (st.st_mode & 077) && fchmod(fd, 0600) < 0
             ? gcs_error_set(GCS_EIO, "passwords_file '%s' is readable by others and cannot "
                                      "be made private (chmod 600): %s",
                             passwords, strerror(errno))
             : 0;
    close(fd);
    return rc;
}

int gcs_serve_start(gcs_serve **out, const gcs_config *cfg)
{
    int rc, port = 0;
    char host[128];
    *out = NULL;
    gcs_serve *s = calloc(1, sizeof *s);
    GCS_CHECK_ALLOC(s);
    pthread_mutex_init(&s->rate_lock, NULL);
    pthread_mutex_init(&s->notify_lock, NULL);
    s->cfg = cfg;
    s->grace_ms = gcs_config_get_long(cfg, GCS_CFG_SHUTDOWN_GRACE) * 1000;

    if ((rc = check_settings(s, host, sizeof host, &port)) < 0)
        goto out;

    /* The session all workers share: one token, one rate budget. Its first
     * token is fetched here, before any thread uses it. */
    if ((rc = gcs_genesys_session_open(&s->session, cfg, NULL)) < 0)
        goto out;
    if (gcs_token_ensure(s->session->token, s->session->client) == 0) {
        s->token_ok = true;
    } else {
        snprintf(s->token_error, sizeof s->token_error, "%s", gcs_error_last());
        GCS_WARN("serve.token", "error", s->token_error);
    }

    gcs_service_options so = {
        .db_url = gcs_config_get(cfg, GCS_CFG_DB),
        .secrets = s->secrets,
        .secret_count = s->secret_count,
        .api_keys = s->keys,
        .queue_max = gcs_config_get_long(cfg, GCS_CFG_QUEUE_MAX),
        .token_ready = token_ready,
        .on_enqueued = on_enqueued,
        .genesys_metrics = genesys_metrics,
        .notify_metrics = notify_metrics,
        .chain_status = chain_status,
        .ctx = s,
    };
    if ((rc = gcs_service_new(&s->service, &so)) < 0)
        goto out;

    /* The notifier, before the workers (their first outcome may wake it): what
     * outcomes wrote to the outbox is sent continuously. A bad notify file
     * stops the start, naming the file and the field. */
    const char *notify = gcs_config_get(cfg, GCS_CFG_NOTIFY_FILE);
    if (notify && *notify) {
        gcs_notifier_options no = {.store_url = gcs_config_get(cfg, GCS_CFG_DB),
                                   .config = NULL};
        if ((rc = gcs_notify_config_load(&s->notify, notify)) < 0 ||
            (rc = gcs_store_open(&s->notify_store, no.store_url)) < 0)
            goto out;
        no.config = s->notify;
        if ((rc = gcs_notifier_start(&s->notifier, &no)) < 0)
            goto out;
    }

    long chain_interval = gcs_config_get_long(cfg, GCS_CFG_CHAIN_VERIFY_INTERVAL);
    if (chain_interval > 0 &&
        (rc = gcs_chain_check_start(&s->chain, gcs_config_get(cfg, GCS_CFG_DB), chain_interval)) <
            0)
        goto out;

    /* The workers before the listener: the first event may wake them. */
    const char *profile = gcs_config_get(cfg, GCS_CFG_PROFILE);
    if (!profile) {
        rc = gcs_error_set(GCS_EINVALID, "serve needs a mapping profile (--profile FILE, "
                                         "GCSCIM_PROFILE or the config file's \"profile\")");
        goto out;
    }
    /* A profile that cannot be read, or that generates passwords with nowhere
     * to put them, would fail every job: refuse to start. */
    const char *passwords = gcs_config_get(cfg, GCS_CFG_PASSWORDS_FILE);
    gcs_profile *check = NULL;
    rc = gcs_profile_load(&check, profile);
    if (rc == 0)
        rc = prepare_passwords(gcs_profile_password_policy(check), profile, passwords);
    gcs_profile_free(check);
    if (rc < 0)
        goto out;
    gcs_workers_options wo = {
        .notify = gcs_notify_routes(s->notify),
        .store_url = gcs_config_get(cfg, GCS_CFG_DB),
        .session = s->session,
        .profile_path = profile,
        .passwords_out = passwords,
        .count = (int)gcs_config_get_long(cfg, GCS_CFG_WORKERS),
        .on_outcome = on_outcome,
        .ctx = s,
    };
    if ((rc = gcs_workers_start(&s->workers, &wo)) < 0)
        goto out;

    gcs_http_server_options ho = {
        .host = host,
        .port = port,
        .threads = 0,
        .tls_cert_pem = s->tls_cert,
        .tls_key_pem = s->tls_key,
    };
    if ((rc = gcs_http_server_start(&s->server, &ho, gcs_service_handle, s->service)) < 0)
        goto out;
    int bound = gcs_http_server_port(s->server);
    snprintf(s->url, sizeof s->url, strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
             s->tls_cert ? "https" : "http", host, bound);
    const char *ready = gcs_config_get(cfg, GCS_CFG_READY_FILE);
    if (ready && (rc = write_ready(ready, s->url, bound)) < 0)
        goto out;
    char workers[16];
    snprintf(workers, sizeof workers, "%ld", gcs_config_get_long(cfg, GCS_CFG_WORKERS));
    GCS_INFO("serve.listening", "url", s->url, "workers", workers, "events",
             s->secret_count ? "signed" : "api key");
    *out = s;
    s = NULL;
out:
    gcs_serve_free(s);
    return rc;
}

const char *gcs_serve_url(const gcs_serve *s)
{
    return s->url;
}

int64_t gcs_serve_grace_ms(const gcs_serve *s)
{
    return s->grace_ms;
}

void gcs_serve_drain(gcs_serve *s)
{
    if (s->service)
        gcs_service_drain(s->service);
    if (s->workers) {
        char grace[24];
        snprintf(grace, sizeof grace, "%lld", (long long)s->grace_ms);
        GCS_INFO("serve.draining", "grace_ms", grace);
        gcs_workers_drain(s->workers, gcs_time_wall_ms() + s->grace_ms);
    }
}

void gcs_serve_free(gcs_serve *s)
{
    if (!s)
        return;
    /* The listener first: no handler runs after it, then the intake finishes
     * what it holds, then the session the workers shared. */
    gcs_http_server_free(s->server);
    gcs_workers_free(s->workers);
    s->workers = NULL;
    gcs_notifier_stop(s->notifier);
    s->notifier = NULL;
    gcs_store_free(s->notify_store);
    gcs_chain_check_stop(s->chain);
    gcs_notify_config_free(s->notify);
    gcs_service_free(s->service);
    gcs_genesys_session_free(s->session);
    for (size_t i = 0; i < GCS_EVENT_SECRETS_MAX; i++)
        gcs_webhook_secret_wipe(&s->secrets[i]);
    if (s->keys) {
        OPENSSL_cleanse(s->keys, sizeof *s->keys);
        free(s->keys);
    }
    if (s->tls_key) {
        OPENSSL_cleanse(s->tls_key, strlen(s->tls_key));
        free(s->tls_key);
    }
    free(s->tls_cert);
    pthread_mutex_destroy(&s->rate_lock);
    pthread_mutex_destroy(&s->notify_lock);
    free(s);
}
