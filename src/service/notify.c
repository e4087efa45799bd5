/*
 * The outbox's sender: the notify file, signing, delivery, and the notifier
 * thread of serve (notify.h).
 */
#include "service/notify.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/time.h"
#include "http/client.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEND_BATCH 16
#define SECRET_FILE_MAX 4096

const char *const gcs_notify_event_types[] = {
    "user.created",       "user.updated",         "user.deactivated",
    "user.reactivated",   "provisioning.failed", "provisioning.needs_approval",
    "run.finished",       "group.changed",        NULL,
};

/* ==== The notify file ==== */

static void endpoint_release(gcs_notify_endpoint *e)
{
    free(e->name);
    free(e->url);
    free(e->base);
    free(e->path);
    for (char **ev = e->events; ev && *ev; ev++)
        free(*ev);
    free(e->events);
    for (size_t i = 0; i < e->nsecrets; i++)
        gcs_webhook_secret_wipe(&e->secrets[i]);
    memset(e, 0, sizeof *e);
}

void gcs_notify_config_free(gcs_notify_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        endpoint_release(&c->endpoints[i]);
    free(c);
}

const gcs_outbox_routes *gcs_notify_routes(const gcs_notify_config *c)
{
    return c ? &c->table : NULL;
}

static bool known_event(const char *name)
{
    if (strcmp(name, "*") == 0)
        return true;
    size_t len = strlen(name);
    for (const char *const *t = gcs_notify_event_types; *t; t++) {
        if (strcmp(*t, name) == 0)
            return true;
        /* "user.*" names a prefix some type has */
        if (len >= 2 && strcmp(name + len - 2, ".*") == 0 && strncmp(*t, name, len - 1) == 0)
            return true;
    }
    return false;
}

/* Loopback: plain http is allowed there only (a receiver in a test). */
static bool loopback_host(const char *host, size_t len)
{
    return (len == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (len >= 4 && strncmp(host, "127.", 4) == 0) || (len == 5 && strncmp(host, "[::1]", 5) == 0);
}

/* A parse error's reason without the text jansson quotes "near" it, which
 * may be part of a URL's credentials. */
static const char *without_near(char *text)
{
    char *near = strstr(text, " near ");
    if (near)
        *near = '\0';
    return text;
}

/* Splits url into base and path; refuses what is not https (or loopback http). */
static int split_url(gcs_notify_endpoint *e, const char *where)
{
    const char *u = e->url;
    bool https = strncmp(u, "https://", 8) == 0;
    /* The URL is not quoted back: it may carry credentials (user:password@) */
    if (!https && strncmp(u, "http://", 7) != 0)
        return gcs_error_set(GCS_EINVALID, "%s.url: not an https:// URL", where);
    const char *host = u + (https ? 8 : 7);
    size_t hostlen = strcspn(host, ":/?#");
    size_t authlen = strcspn(host, "/?#");
    if (memchr(host, '@', authlen))
        return gcs_error_set(GCS_EINVALID,
                             "%s.url: credentials in the URL (user:password@) are not accepted: "
                             "the signature (secret_file) authenticates each message",
                             where);
    if (hostlen == 0 || strpbrk(u, " \t\r\n"))
        return gcs_error_set(GCS_EINVALID, "%s.url: not a usable URL (no host, or a blank in it)",
                             where);
    if (!https && !loopback_host(host, hostlen))
        return gcs_error_set(GCS_EINVALID,
                             "%s.url: plain http is refused except to loopback: use https://",
                             where);
    if (host[authlen] == '#')
        return gcs_error_set(GCS_EINVALID, "%s.url: a fragment has no meaning here", where);
    e->base = strndup(u, (size_t)(host - u) + authlen);
    if (host[authlen] == '/')
        e->path = strdup(host + authlen);
    else if (asprintf(&e->path, "/%s", host + authlen) < 0)
        e->path = NULL;
    if (!e->base || !e->path)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

/* Reads one to two secrets, one per line, from a regular file others cannot read: a
 * pipe or a device (a secret_file of /dev/stdin) is refused, not waited on. */
static int read_secrets(gcs_notify_endpoint *e, const char *file, const char *dir,
                        const char *where)
{
    char *path = NULL;
    int rc = 0;
    if (file[0] == '/' || !dir)
        path = strdup(file);
    else if (asprintf(&path, "%s/%s", dir, file) < 0)
        path = NULL;
    if (!path)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    struct stat st;
    gcs_buf text;
    gcs_buf_init_secure(&text, SECRET_FILE_MAX);
    const gcs_file_read_opts how = {.what = "secret file", .max = SECRET_FILE_MAX};
    if ((rc = gcs_file_read_small(path, &how, &text, &st)) < 0) {
        gcs_error_prefix(rc, "%s.secret_file", where);
        goto out;
    }
    if (st.st_mode & 0077) {
        rc = gcs_error_set(GCS_EINVALID,
                           "%s.secret_file: '%s' is readable by others: chmod 600 it first",
                           where, path);
        goto out;
    }
    char *buf = text.ptr;
    if (text.len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) /* a Windows editor's BOM */
        buf += 3;
    int line_no = 0;
    /* line by line, blank ones counted, so that an error names the right one */
    for (char *line = buf, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        line[strcspn(line, "\r")] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        if (e->nsecrets == GCS_NOTIFY_SECRETS_MAX) {
            rc = gcs_error_set(GCS_EINVALID,
                               "%s.secret_file: '%s' line %d: at most %d secrets (two during "
                               "a rotation)",
                               where, path, line_no, GCS_NOTIFY_SECRETS_MAX);
            goto out;
        }
        if ((rc = gcs_webhook_secret_parse(&e->secrets[e->nsecrets], p)) < 0) {
            gcs_error_prefix(rc, "%s.secret_file: '%s' line %d", where, path, line_no);
            goto out;
        }
        e->nsecrets++;
    }
    if (e->nsecrets == 0)
        rc = gcs_error_set(GCS_EINVALID, "%s.secret_file: '%s' holds no secret", where, path);
out:
    gcs_buf_release_secure(&text);
    free(path);
    return rc;
}

static int parse_endpoint(gcs_notify_endpoint *e, json_t *obj, const char *where,
                          const char *dir)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return gcs_error_set(GCS_EINVALID, "%s: an endpoint is an object", where);
    json_object_foreach(obj, k, v) {
        if (strcmp(k, "name") && strcmp(k, "url") && strcmp(k, "secret_file") &&
            strcmp(k, "events"))
            return gcs_error_set(GCS_EINVALID,
                                 "%s: unknown key '%s' (name, url, secret_file, events)", where, k);
    }
    const char *url = json_string_value(json_object_get(obj, "url"));
    const char *name = json_string_value(json_object_get(obj, "name"));
    const char *secret = json_string_value(json_object_get(obj, "secret_file"));
    json_t *events = json_object_get(obj, "events");
    if (!url || !*url || strlen(url) > 1024)
        return gcs_error_set(GCS_EINVALID, "%s.url: a URL of at most 1024 bytes is needed", where);
    if (json_object_get(obj, "name") && (!name || !*name || strlen(name) > 128))
        return gcs_error_set(GCS_EINVALID, "%s.name: a name of 1 to 128 bytes", where);
    if (!secret || !*secret)
        return gcs_error_set(GCS_EINVALID,
                             "%s.secret_file: every endpoint needs one (nothing is sent unsigned)",
                             where);
    int rc;
    if (!(e->url = strdup(url)) || !(e->name = strdup(name ? name : url)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    if ((rc = split_url(e, where)) < 0)
        return rc;
    if (events && !json_is_null(events)) {
        size_t i;
        json_t *ev;
        if (!json_is_array(events) || json_array_size(events) == 0 ||
            json_array_size(events) > 32)
            return gcs_error_set(GCS_EINVALID, "%s.events: a list of 1 to 32 event types", where);
        if (!(e->events = calloc(json_array_size(events) + 1, sizeof *e->events)))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        json_array_foreach(events, i, ev) {
            const char *t = json_string_value(ev);
            if (!t || !known_event(t))
                return gcs_error_set(GCS_EINVALID,
                                     "%s.events[%zu]: unknown event type '%s' (see "
                                     "docs/notifications.md)",
                                     where, i, t ? t : "(not a string)");
            if (!(e->events[i] = strdup(t)))
                return gcs_error_set(GCS_ENOMEM, "out of memory");
        }
    }
    if (dir && (rc = read_secrets(e, secret, dir, where)) < 0)
        return rc;
    return 0;
}

static int positive_number(int64_t *out, json_t *doc, const char *key, int64_t max,
                           const char *origin)
{
    json_t *v = json_object_get(doc, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return gcs_error_set(GCS_EINVALID, "notify file '%s': %s: a whole number from 1 to %lld",
                             origin, key, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

int gcs_notify_config_parse(gcs_notify_config **out, const char *text, size_t len,
                            const char *origin, const char *dir)
{
    int rc = 0;
    json_error_t jerr;
    const char *k;
    json_t *v;
    *out = NULL;
    gcs_notify_config *c = calloc(1, sizeof *c);
    GCS_CHECK_ALLOC(c);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* a Windows editor's BOM */
        text += 3;
        len -= 3;
    }
    json_t *doc = len > GCS_NOTIFY_FILE_MAX ? NULL : json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        rc = len > GCS_NOTIFY_FILE_MAX
                 ? gcs_error_set(GCS_EINVALID, "notify file '%s' is over %d bytes", origin,
                                 GCS_NOTIFY_FILE_MAX)
                 : gcs_error_set(GCS_EINVALID, "notify file '%s': line %d: %s", origin,
                                 jerr.line, without_near(jerr.text));
        goto out;
    }
    if (!json_is_object(doc)) {
        rc = gcs_error_set(GCS_EINVALID, "notify file '%s': an object with \"endpoints\"", origin);
        goto out;
    }
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "endpoints") && strcmp(k, "dead_after_s") && strcmp(k, "timeout_s")) {
            rc = gcs_error_set(GCS_EINVALID,
                               "notify file '%s': unknown key '%s' (endpoints, dead_after_s, "
                               "timeout_s)",
                               origin, k);
            goto out;
        }
    }
    int64_t dead_after_s = GCS_NOTE_DEAD_AFTER_MS / 1000, timeout_s = 10;
    if ((rc = positive_number(&dead_after_s, doc, "dead_after_s", 30LL * 86400, origin)) < 0 ||
        (rc = positive_number(&timeout_s, doc, "timeout_s", 300, origin)) < 0)
        goto out;
    c->dead_after_ms = dead_after_s * 1000;
    c->timeout_ms = (int)timeout_s * 1000;
    json_t *eps = json_object_get(doc, "endpoints");
    if (!json_is_array(eps) || json_array_size(eps) == 0 ||
        json_array_size(eps) > GCS_NOTE_ENDPOINTS_MAX) {
        rc = gcs_error_set(GCS_EINVALID, "notify file '%s': endpoints: a list of 1 to %d endpoints",
                           origin, GCS_NOTE_ENDPOINTS_MAX);
        goto out;
    }
    size_t i;
    json_array_foreach(eps, i, v) {
        char where[64];
        snprintf(where, sizeof where, "endpoints[%zu]", i);
        c->count = i + 1;
        if ((rc = parse_endpoint(&c->endpoints[i], v, where, dir)) < 0) {
            gcs_error_prefix(rc, "notify file '%s'", origin);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->endpoints[j].name, c->endpoints[i].name) == 0) {
                rc = gcs_error_set(GCS_EINVALID,
                                   "notify file '%s': %s.name: '%s' is taken by endpoints[%zu]",
                                   origin, where, c->endpoints[i].name, j);
                goto out;
            }
        c->routes[i].endpoint = c->endpoints[i].name;
        c->routes[i].events = (const char *const *)c->endpoints[i].events;
    }
    c->table = (gcs_outbox_routes){c->routes, c->count, c->dead_after_ms};
    *out = c;
    c = NULL;
out:
    json_decref(doc);
    gcs_notify_config_free(c);
    return rc;
}

int gcs_notify_config_load(gcs_notify_config **out, const char *path)
{
    *out = NULL;
    /* Read by every command through GCSCIM_NOTIFY_FILE: a FIFO there must not hang them. */
    gcs_buf file;
    gcs_buf_init(&file, GCS_NOTIFY_FILE_MAX);
    const gcs_file_read_opts how = {.what = "notify file", .max = GCS_NOTIFY_FILE_MAX};
    int rc = gcs_file_read_small(path, &how, &file, NULL);
    if (rc < 0) {
        gcs_buf_release(&file);
        return rc;
    }
    char *dir = strdup(path);
    if (!dir) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    } else {
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        else
            strcpy(dir, ".");
        rc = gcs_notify_config_parse(out, file.ptr, file.len, path, dir);
    }
    free(dir);
    gcs_buf_release(&file);
    return rc;
}

/* ==== Delivery ==== */

typedef struct delivery {
    gcs_store *store;
    const char *sender;
    const gcs_notification *note;
    gcs_notify_counts *counts;
    int store_rc;
} delivery;

static void record_failure(delivery *d, const char *reason, int64_t retry_after_ms)
{
    bool dead = false;
    int rc = gcs_store_notification_failed(&dead, d->store, d->note->id, d->sender, reason,
                                           retry_after_ms);
    if (rc < 0) {
        if (rc != GCS_ECONFLICT)
            d->store_rc = rc;
        GCS_WARN("notify.record_failed", "id", d->note->msg_id, "error", gcs_error_last());
        return;
    }
    d->counts->failed++;
    if (dead)
        d->counts->dead++;
    GCS_LOG(dead ? GCS_LOG_ERROR : GCS_LOG_WARN, dead ? "notify.dead" : "notify.failed",
            "id", d->note->msg_id, "endpoint", d->note->endpoint, "type", d->note->type, "reason",
            reason);
}

static void on_done(const gcs_http_client_response *res, void *payload)
{
    delivery *d = payload;
    if (res->status >= 200 && res->status < 300) {
        int rc = gcs_store_notification_delivered(d->store, d->note->id, d->sender);
        if (rc == 0) {
            d->counts->delivered++;
            GCS_DEBUG("notify.delivered", "id", d->note->msg_id, "endpoint", d->note->endpoint);
        } else {
            if (rc != GCS_ECONFLICT)
                d->store_rc = rc;
            GCS_WARN("notify.record_failed", "id", d->note->msg_id, "error", gcs_error_last());
        }
        return;
    }
    char reason[600];
    if (res->status)
        snprintf(reason, sizeof reason, "HTTP %d from the endpoint", res->status);
    else
        snprintf(reason, sizeof reason, "no answer: %s",
                 res->message[0] ? res->message : gcs_http_outcome_name(res->outcome));
    record_failure(d, reason, res->retry_after_s > 0 ? (int64_t)res->retry_after_s * 1000 : 0);
}

static const gcs_notify_endpoint *endpoint_named(const gcs_notify_config *c, const char *name)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->endpoints[i].name, name) == 0)
            return &c->endpoints[i];
    return NULL;
}

/* The headers of one attempt: its id, the time now, a signature per secret. */
static int sign_headers(char *id_line, char *ts_line, char *sig_line, size_t sig_size,
                        const gcs_notify_endpoint *e, const gcs_notification *n)
{
    int64_t now_s = gcs_time_wall_ms() / 1000;
    snprintf(id_line, 80, "webhook-id: %s", n->msg_id);
    snprintf(ts_line, 64, "webhook-timestamp: %lld", (long long)now_s);
    size_t used = (size_t)snprintf(sig_line, sig_size, "webhook-signature:");
    for (size_t i = 0; i < e->nsecrets; i++) {
        char sig[GCS_WEBHOOK_SIGNATURE_MAX];
        int rc = gcs_webhook_sign(sig, &e->secrets[i], n->msg_id, now_s, n->body, strlen(n->body));
        if (rc < 0)
            return rc;
        used += (size_t)snprintf(sig_line + used, sig_size - used, " %s", sig);
    }
    return e->nsecrets ? 0 : gcs_error_set(GCS_EINVALID, "endpoint '%s' has no secret", e->name);
}

/* Sends one claimed batch: one client per endpoint, all in flight together. */
static int send_batch(gcs_notify_counts *counts, gcs_store *s, const gcs_notify_config *c,
                      const char *sender, gcs_notification *notes, size_t n, int64_t deadline_ms)
{
    /* A call ends by the deadline (given a second at least): an endpoint that is slow
     * to answer cannot hold sync or apply past what they promise to wait. */
    int64_t left_ms = deadline_ms - gcs_time_wall_ms();
    int timeout_ms = left_ms < c->timeout_ms ? (int)(left_ms > 1000 ? left_ms : 1000)
                                             : c->timeout_ms;
    gcs_http_client *clients[GCS_NOTE_ENDPOINTS_MAX] = {0};
    delivery ds[SEND_BATCH];
    char lines[SEND_BATCH][3][80 + GCS_NOTIFY_SECRETS_MAX * GCS_WEBHOOK_SIGNATURE_MAX];
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        delivery *d = &ds[i];
        *d = (delivery){s, sender, &notes[i], counts, 0};
        const gcs_notify_endpoint *e = endpoint_named(c, notes[i].endpoint);
        if (!e) {
            record_failure(d, "its endpoint is no longer in the notify file", 0);
            continue;
        }
        size_t ei = (size_t)(e - c->endpoints);
        if (!clients[ei]) {
            gcs_http_client_options o = {
                .api_url = e->base,
                .max_in_flight = SEND_BATCH,
                .timeout_ms = timeout_ms,
                .connect_timeout_ms = timeout_ms,
                .max_attempts = 1,          /* the outbox retries, with its own backoff */
                .breaker_threshold = -1,
            };
            if (gcs_http_client_new(&clients[ei], &o) < 0) {
                record_failure(d, gcs_error_last(), 0);
                continue;
            }
        }
        if (sign_headers(lines[i][0], lines[i][1], lines[i][2], sizeof lines[i][2], e,
                         &notes[i]) < 0) {
            record_failure(d, gcs_error_last(), 0);
            continue;
        }
        const char *headers[] = {lines[i][0], lines[i][1], lines[i][2], NULL};
        gcs_http_client_request req = {
            .method = "POST",
            .path = e->path,
            .body = notes[i].body,
            .content_type = "application/json",
            .idempotent = 1, /* the receiver deduplicates by webhook-id */
            .flags = GCS_HTTP_REQ_NO_JSON | GCS_HTTP_REQ_NO_BODY, /* its status says it all */
            .headers = headers,
        };
        if (gcs_http_submit(clients[ei], &req, on_done, d) < 0)
            record_failure(d, gcs_error_last(), 0);
    }
    for (size_t i = 0; i < GCS_NOTE_ENDPOINTS_MAX; i++) {
        if (!clients[i])
            continue;
        (void)gcs_http_run(clients[i]); /* each call's outcome is in its on_done */
        gcs_http_client_free(clients[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (ds[i].store_rc < 0 && rc == 0)
            rc = ds[i].store_rc;
    return rc;
}

/* Batches until none is ready, the deadline passes or *stop is set. */
static int send_pass(gcs_notify_counts *counts, gcs_store *s, const gcs_notify_config *c,
                     const char *sender, int64_t deadline_ms, atomic_bool *stop)
{
    gcs_notify_counts ignored = {0};
    int rc = 0;
    int64_t began = gcs_time_wall_ms();
    if (!counts)
        counts = &ignored;
    while (rc == 0 && gcs_time_wall_ms() < deadline_ms && !(stop && atomic_load(stop))) {
        gcs_notification *notes = NULL;
        size_t n = 0;
        /* Long enough for one batch (all of it in flight at once, each call
         * bounded by the timeout), short enough that a sender killed holding
         * it delays it little. */
        int64_t lease_ms = 2 * (int64_t)c->timeout_ms + 1000;
        if ((rc = gcs_store_notifications_claim(&notes, &n, s, sender, lease_ms, began,
                                                SEND_BATCH)) < 0)
            break;
        if (n == 0)
            break;
        rc = send_batch(counts, s, c, sender, notes, n, deadline_ms);
        gcs_notifications_free(notes, n);
    }
    return rc;
}

int gcs_notify_send_ready(gcs_notify_counts *counts, gcs_store *s, const gcs_notify_config *c,
                          const char *sender, int64_t deadline_ms)
{
    return send_pass(counts, s, c, sender, deadline_ms, NULL);
}

/* ==== The notifier thread ==== */

struct gcs_notifier {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool stop;
    bool woken;
    pthread_t thread;
    gcs_store *store;
    const gcs_notify_config *config;
    char sender[160];
    int64_t poll_ms;
    gcs_notify_counts counts;
    int64_t pending, dead;     /* the outbox after the last pass */
};

static void *notifier_main(void *arg)
{
    gcs_notifier *n = arg;
    pthread_mutex_lock(&n->lock);
    while (!atomic_load(&n->stop)) {
        n->woken = false;
        pthread_mutex_unlock(&n->lock);
        gcs_notify_counts got = {0};
        /* A pass ends when nothing is ready, or at a stop after its batch. */
        int rc = send_pass(&got, n->store, n->config, n->sender, INT64_MAX, &n->stop);
        if (rc < 0)
            GCS_WARN("notify.pass_failed", "error", gcs_error_last());
        int64_t pending = -1, dead = -1;
        if (gcs_store_notification_counts(&pending, &dead, n->store) < 0)
            pending = dead = -1;
        pthread_mutex_lock(&n->lock);
        if (pending >= 0) {
            n->pending = pending;
            n->dead = dead;
        }
        n->counts.delivered += got.delivered;
        n->counts.failed += got.failed;
        n->counts.dead += got.dead;
        if (atomic_load(&n->stop) || n->woken)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += n->poll_ms / 1000;
        ts.tv_nsec += (n->poll_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&n->wake, &n->lock, &ts);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

int gcs_notifier_start(gcs_notifier **out, const gcs_notifier_options *o)
{
    int rc;
    *out = NULL;
    if (!o || !o->config)
        return gcs_error_set(GCS_EINVALID, "the notifier needs a notify configuration");
    gcs_notifier *n = calloc(1, sizeof *n);
    GCS_CHECK_ALLOC(n);
    if ((rc = gcs_store_open(&n->store, o->store_url)) < 0) {
        free(n);
        return gcs_error_prefix(rc, "the notifier cannot open the store");
    }
    n->config = o->config;
    n->poll_ms = o->poll_ms > 0 ? o->poll_ms : 1000;
    if (o->sender) {
        snprintf(n->sender, sizeof n->sender, "%s", o->sender);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(n->sender, sizeof n->sender, "%s:%ld", host, (long)getpid());
    }
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->wake, NULL);
    if (pthread_create(&n->thread, NULL, notifier_main, n) != 0) {
        gcs_store_free(n->store);
        pthread_mutex_destroy(&n->lock);
        pthread_cond_destroy(&n->wake);
        free(n);
        return gcs_error_set(GCS_ERROR, "cannot start the notifier thread");
    }
    *out = n;
    return 0;
}

void gcs_notifier_wake(gcs_notifier *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    n->woken = true;
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->lock);
}

void gcs_notifier_counts(gcs_notify_counts *out, gcs_notifier *n)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    *out = n->counts;
    pthread_mutex_unlock(&n->lock);
}

void gcs_notifier_stop(gcs_notifier *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    atomic_store(&n->stop, true);
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
    gcs_store_free(n->store);
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->wake);
    free(n);
}
