/*
 * gcscim doctor: every check a person runs before the first real sync
 * (doctor.h). Read-only: Genesys is only read, no plan is written, and the
 * store's write check is rolled back.
 */
#include "engine/doctor.h"

#include "core/error.h"
#include "core/redact.h"
#include "core/time.h"
#include "core/version_gen.h"
#include "genesys/directory.h"
#include "genesys/region.h"
#include "genesys/session.h"
#include "http/probe.h"
#include "mapping/groups_file.h"
#include "mapping/map.h"
#include "mapping/profile.h"
#include "store/health.h"
#include "store/store.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCIM_PROBE_PATH GCS_SCIM_USERS "?count=0"
#define PROBE_BODY_MAX (64 * 1024)
#define REASONS_MAX 100   /* distinct rejection reasons kept; more count as one */
#define ORG_PAGE 500      /* what gcs_directory_fetch_org_names asks for */

/* ==== The report ==== */

void gcs_doctor_options_init(gcs_doctor_options *o)
{
    memset(o, 0, sizeof *o);
    o->source_format = GCS_SOURCE_AUTO;
    o->examples = 3;
}

const char *gcs_doctor_status_name(gcs_doctor_status s)
{
    switch (s) {
    case GCS_DOCTOR_OK: return "ok";
    case GCS_DOCTOR_WARN: return "warn";
    case GCS_DOCTOR_FAIL: return "fail";
    case GCS_DOCTOR_SKIPPED: return "skipped";
    }
    return "?";
}

void gcs_doctor_report_release(gcs_doctor_report *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->checks[i].name);
        free(r->checks[i].detail);
        free(r->checks[i].advice);
        json_decref(r->checks[i].data);
    }
    free(r->checks);
    memset(r, 0, sizeof *r);
}

bool gcs_doctor_failed(const gcs_doctor_report *r)
{
    for (size_t i = 0; i < r->count; i++) {
        if (r->checks[i].status == GCS_DOCTOR_FAIL)
            return true;
    }
    return false;
}

json_t *gcs_doctor_report_json(const gcs_doctor_report *r)
{
    long counts[4] = {0};
    json_t *checks = json_array();
    for (size_t i = 0; i < r->count; i++) {
        const gcs_doctor_check *c = &r->checks[i];
        counts[c->status]++;
        json_t *o = json_pack("{s:s,s:s,s:s}", "name", c->name, "status",
                              gcs_doctor_status_name(c->status), "detail", c->detail);
        if (c->advice)
            json_object_set_new(o, "advice", json_string(c->advice));
        if (c->data)
            json_object_set(o, "data", c->data);
        json_array_append_new(checks, o);
    }
    return json_pack("{s:b,s:{s:I,s:I,s:I,s:I},s:o}", "ok", !gcs_doctor_failed(r), "summary",
                     "ok", (json_int_t)counts[GCS_DOCTOR_OK], "warn",
                     (json_int_t)counts[GCS_DOCTOR_WARN], "fail",
                     (json_int_t)counts[GCS_DOCTOR_FAIL], "skipped",
                     (json_int_t)counts[GCS_DOCTOR_SKIPPED], "checks", checks);
}

static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *vformat(const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof text, fmt, ap);
    return strdup(text);
}

/* The thread's last error message, through the redactor once more: it goes
 * into a report that monitors may store. (Not the whole line: the redactor
 * would take the scope name authorization:readonly for a credential.) */
static const char *last_error(void)
{
    static _Thread_local char safe[1024];
    gcs_redact_text(safe, sizeof safe, gcs_error_last());
    return safe;
}

/* Adds a check; `detail` is printf-style. The check is returned for advice and
 * data, or NULL when out of memory: that line is lost and the caller carries
 * on (advise and attach accept NULL), since a short report beats none. */
static gcs_doctor_check *add(gcs_doctor_report *r, const char *name, gcs_doctor_status status,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static gcs_doctor_check *add(gcs_doctor_report *r, const char *name, gcs_doctor_status status,
                             const char *fmt, ...)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        gcs_doctor_check *c = realloc(r->checks, cap * sizeof *c);
        if (!c)
            return NULL;
        r->checks = c;
        r->cap = cap;
    }
    gcs_doctor_check *c = &r->checks[r->count];
    memset(c, 0, sizeof *c);
    va_list ap;
    va_start(ap, fmt);
    c->detail = vformat(fmt, ap);
    va_end(ap);
    c->name = strdup(name);
    if (!c->name || !c->detail) {
        free(c->name);
        free(c->detail);
        return NULL;
    }
    c->status = status;
    r->count++;
    return c;
}

static void advise(gcs_doctor_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void advise(gcs_doctor_check *c, const char *fmt, ...)
{
    if (!c)
        return;
    va_list ap;
    va_start(ap, fmt);
    free(c->advice);
    c->advice = vformat(fmt, ap);
    va_end(ap);
}

static void attach(gcs_doctor_check *c, json_t *data)
{
    if (c) {
        json_decref(c->data);
        c->data = data;
    } else {
        json_decref(data);
    }
}

gcs_doctor_check *gcs_doctor_add(gcs_doctor_report *r, const char *name,
                                 gcs_doctor_status status, const char *detail, const char *advice)
{
    gcs_doctor_check *c = add(r, name, status, "%s", detail);
    if (advice)
        advise(c, "%s", advice);
    return c;
}

/* ==== Pure parts ==== */

gcs_doctor_status gcs_doctor_clock_status(int64_t skew_s)
{
    int64_t a = skew_s < 0 ? -skew_s : skew_s;
    if (a > GCS_DOCTOR_SKEW_FAIL_S)
        return GCS_DOCTOR_FAIL;
    if (a > GCS_DOCTOR_SKEW_WARN_S)
        return GCS_DOCTOR_WARN;
    return GCS_DOCTOR_OK;
}

char *gcs_doctor_reason(const char *message)
{
    size_t n = strlen(message);
    char *out = malloc(n + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        out[o++] = message[i];
        if (message[i] != '\'')
            continue;
        const char *close = strchr(message + i + 1, '\'');
        if (!close)
            continue;
        /* A value is replaced; its three dots never outgrow it plus the slack. */
        size_t len = (size_t)(close - (message + i + 1));
        size_t dots = len < 3 ? len : 3;
        memset(out + o, '.', dots);
        o += dots;
        out[o++] = '\'';
        i = (size_t)(close - message);
    }
    out[o] = '\0';
    return out;
}

static long pages_of(long n, long page)
{
    return n <= 0 ? 1 : (n + page - 1) / page;
}

void gcs_doctor_sync_cost(gcs_doctor_cost *out, long active_users, long inactive_users, int page,
                          long org_reads, long rows, double per_minute)
{
    out->reads = pages_of(active_users, page) + pages_of(inactive_users, page) + org_reads;
    out->writes_worst = rows < 0 ? 0 : rows;
    out->minutes = per_minute > 0 ? (double)(out->reads + out->writes_worst) / per_minute : -1;
}

/* ==== State of one run ==== */

static const char *const kind_names[GCS_ORG__COUNT] = {"role", "division", "skill", "language"};
static const char *const kind_checks[GCS_ORG__COUNT] = {"roles-read", "divisions-read",
                                                        "skills-read", "languages-read"};
static const char *const kind_paths[GCS_ORG__COUNT] = {
    "/api/v2/authorization/roles", "/api/v2/authorization/divisions", "/api/v2/routing/skills",
    "/api/v2/routing/languages"};
static const char *const kind_scopes[GCS_ORG__COUNT] = {
    "authorization:readonly (or authorization)", "authorization:readonly (or authorization)",
    "routing:readonly (or routing)", "routing:readonly (or routing)"};
static const char *const kind_permissions[GCS_ORG__COUNT] = {
    "authorization:role:view", "authorization:division:view", "routing:skill:view",
    "routing:language:view"};

typedef struct doctor {
    const gcs_doctor_options *o;
    gcs_doctor_report *r;
    char *api_url, *login_url;
    char api_host[256], login_host[256];
    gcs_genesys_session *session;
    bool token_ok;
    bool scim_read_ok;

    /* The probe of the API host. */
    int probe_status;            /* 0: no answer */
    long active_users, inactive_users;   /* -1 unknown */
    int rl_count, rl_allowed, rl_reset;  /* -1 absent */

    gcs_profile *profile;
    bool profile_ok, source_ok;
    bool want[GCS_ORG__COUNT];
    long org_total[GCS_ORG__COUNT];      /* -1 unknown */
    bool readable[GCS_ORG__COUNT];
    gcs_org_names *org;                  /* names of the readable kinds */
    long rows, mapped;                   /* -1 before the source is read */
} doctor;

static void host_of(char *out, size_t outsz, const char *url)
{
    const char *p = url ? strstr(url, "://") : NULL;
    p = p ? p + 3 : (url ? url : "");
    size_t n = strcspn(p, "/?#");
    snprintf(out, outsz, "%.*s", (int)n, p);
}

/* ==== 1: configuration and credentials ==== */

static bool check_config(doctor *d)
{
    const gcs_config *cfg = d->o->config;
    if (d->o->config_error || !cfg) {
        gcs_doctor_check *c = add(d->r, "config", GCS_DOCTOR_FAIL, "the configuration does not load: %s",
                                  d->o->config_error ? d->o->config_error : "none given");
        advise(c, "fix the file or variable named above; 'gcscim config show' lists every setting "
                  "and where it comes from");
        return false;
    }
    const char *region = gcs_config_get(cfg, GCS_CFG_REGION);
    int rc = gcs_region_resolve(&d->api_url, &d->login_url, region,
                                gcs_config_get(cfg, GCS_CFG_API_URL),
                                gcs_config_get(cfg, GCS_CFG_LOGIN_URL));
    if (rc < 0) {
        gcs_doctor_check *c = add(d->r, "config", GCS_DOCTOR_FAIL, "%s", last_error());
        advise(c, "set region to a region name (eu-west-1) or domain (mypurecloud.ie), or set "
                  "api_url and login_url (GENESYSCLOUD_REGION, --region, --api-url)");
        return false;
    }
    host_of(d->api_host, sizeof d->api_host, d->api_url);
    host_of(d->login_host, sizeof d->login_host, d->login_url);
    bool explicit_api = gcs_config_get(cfg, GCS_CFG_API_URL) != NULL;
    gcs_doctor_check *c = add(d->r, "config", GCS_DOCTOR_OK, "api %s, login %s (%s)", d->api_url,
                              d->login_url,
                              explicit_api ? "explicit api_url" : region ? region : "default region");
    attach(c, json_pack("{s:s,s:s,s:s?}", "api_url", d->api_url, "login_url", d->login_url,
                        "region", explicit_api ? NULL : region));
    return true;
}

static bool check_credentials(doctor *d)
{
    const gcs_config *cfg = d->o->config;
    const char *id = gcs_config_get(cfg, GCS_CFG_CLIENT_ID);
    const char *secret = gcs_config_get(cfg, GCS_CFG_CLIENT_SECRET);
    bool has_id = id && *id, has_secret = secret && *secret;
    if (has_id && has_secret) {
        /* The id is not a secret; the secret is only said to be there, and where from. */
        add(d->r, "credentials", GCS_DOCTOR_OK, "client id '%s', client secret set (%s)", id,
            cfg->values[GCS_CFG_CLIENT_SECRET].origin ? cfg->values[GCS_CFG_CLIENT_SECRET].origin
                                                      : "set");
        return true;
    }
    gcs_doctor_check *c = add(d->r, "credentials", GCS_DOCTOR_FAIL, "%s%s%s",
                              has_id ? "" : "client_id is not set",
                              !has_id && !has_secret ? "; " : "",
                              has_secret ? "" : "client_secret is not set");
    advise(c, "set GENESYSCLOUD_OAUTHCLIENT_ID (or --client-id) and the secret in "
              "GENESYSCLOUD_OAUTHCLIENT_SECRET or a mode 0600 file given with "
              "--client-secret-file: a client-credentials OAuth client of the organisation");
    return false;
}

/* ==== 2: the token ==== */

static bool check_token(doctor *d)
{
    gcs_http_client_options tune = {0};
    /* A diagnosis should be quick: two tries, no long backoff, no breaker. */
    tune.max_attempts = 2;
    tune.retry_budget_ms = 15000;
    tune.backoff_cap_ms = 1000;
    tune.breaker_threshold = -1;
    int rc = gcs_genesys_session_open(&d->session, d->o->config, &tune);
    if (rc < 0) {
        gcs_doctor_check *c = add(d->r, "token", GCS_DOCTOR_FAIL, "%s", last_error());
        advise(c, "fix the configuration named above");
        return false;
    }
    rc = gcs_token_ensure(d->session->token, d->session->client);
    if (rc == 0) {
        gcs_token_stats st;
        gcs_token_get_stats(&st, d->session->token);
        gcs_doctor_check *c = add(d->r, "token", GCS_DOCTOR_OK,
                                  "token obtained from %s (valid for %lld s)", d->login_host,
                                  (long long)(st.expires_in_ms / 1000));
        attach(c, json_pack("{s:s,s:I}", "login_host", d->login_host, "expires_in_s",
                            (json_int_t)(st.expires_in_ms / 1000)));
        d->token_ok = true;
        return true;
    }
    const char *region = gcs_config_get(d->o->config, GCS_CFG_REGION);
    gcs_doctor_check *c;
    if (rc == GCS_EAUTH) {
        c = add(d->r, "token", GCS_DOCTOR_FAIL, "%s rejected the client: client id or secret "
                "rejected (%s)", d->login_host, last_error());
        advise(c, "check client_id and the secret against the OAuth client in Genesys Cloud "
                  "(Admin > Integrations > OAuth, grant type client credentials), and that the "
                  "organisation is in %s: a client of another region is rejected too",
               gcs_config_get(d->o->config, GCS_CFG_API_URL) ? d->login_host
               : region                                    ? region
                                                           : "us-east-1 (the default region)");
    } else if (rc == GCS_ETRANSPORT || rc == GCS_ETIMEOUT || rc == GCS_ECANCELLED) {
        c = add(d->r, "token", GCS_DOCTOR_FAIL, "cannot reach %s: %s", d->login_host,
                last_error());
        advise(c, "check the region (or login_url), DNS, the proxy and the firewall for %s; "
                  "'gcscim config show' prints the URLs in use",
               d->login_host);
    } else {
        c = add(d->r, "token", GCS_DOCTOR_FAIL, "%s gave no token: %s", d->login_host,
                last_error());
        advise(c, "check that login_url points at the Genesys Cloud login host of the "
                  "organisation's region (login.<domain>)");
    }
    attach(c, json_pack("{s:s}", "login_host", d->login_host));
    return false;
}

/* ==== 3: the API host, its clock, the rate limit ==== */

/*
 * GET SCIM_PROBE_PATH with the session's token, straight through libcurl (see
 * doctor.h for why). p->status is the HTTP status, 0 when no answer came (the
 * message is then set).
 */
static int raw_probe(doctor *d, gcs_http_probe *p)
{
    const char *token = NULL;
    gcs_http_auth auth = gcs_token_auth(d->session->token);
    char url[1024], bearer[4200];
    p->status = 0;
    if (auth.get(&token, d->session->client, auth.payload) != 0 || !token)
        return gcs_error_set(GCS_EAUTH, "no token to probe the API with");
    snprintf(url, sizeof url, "%s%s", d->api_url, SCIM_PROBE_PATH);
    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", token);
    long timeout_s = gcs_config_get_long(d->o->config, GCS_CFG_TIMEOUT);
    long timeout_ms = d->o->timeout_ms > 0 ? d->o->timeout_ms
                      : timeout_s > 0 && timeout_s < 86400 ? timeout_s * 1000
                                                           : 30000;
    const char *const lines[] = {bearer, "Accept: application/scim+json, application/json", NULL};
    int rc = gcs_http_probe_get(p, url, lines, gcs_config_get(d->o->config, GCS_CFG_CA_BUNDLE),
                                timeout_ms);
    memset(bearer, 0, sizeof bearer); /* it held the token */
    if (rc < 0)
        gcs_error_prefix(rc, "GET %s", SCIM_PROBE_PATH);
    return rc;
}

static void check_api(doctor *d)
{
    gcs_http_probe p;
    gcs_http_probe_init(&p, PROBE_BODY_MAX);
    int rc = raw_probe(d, &p);
    int status = p.status;
    int64_t sent = p.sent_ms, received = p.received_ms;
    d->probe_status = status;
    d->rl_count = p.h.rl_count;
    d->rl_allowed = p.h.rl_allowed;
    d->rl_reset = p.h.rl_reset;
    gcs_doctor_check *c;
    if (rc < 0) {
        c = add(d->r, "api", GCS_DOCTOR_FAIL, "cannot reach %s: %s", d->api_host, last_error());
        advise(c, "check the region (or api_url), DNS, the proxy and the firewall for %s",
               d->api_host);
        add(d->r, "clock", GCS_DOCTOR_SKIPPED, "needs an answer from %s", d->api_host);
        goto out;
    }
    if (status >= 500 || status == 404 || status == 401) {
        c = add(d->r, "api", GCS_DOCTOR_FAIL, "%s answered %d to GET %s", d->api_host, status,
                SCIM_PROBE_PATH);
        advise(c, status == 401 ? "the API host refused a token from %s: the login and API "
                                  "hosts must be of the same region"
                  : status == 404 ? "is %s a Genesys Cloud API host? check the region or api_url"
                                  : "Genesys Cloud may be having trouble (status.mypurecloud.com); "
                                    "try again later (%s)",
               status == 401 ? d->login_host : d->api_host);
    } else {
        c = add(d->r, "api", GCS_DOCTOR_OK, "%s answered %d in %lld ms", d->api_host, status,
                (long long)(received - sent));
    }
    attach(c, json_pack("{s:s,s:i,s:I}", "api_host", d->api_host, "status", status, "latency_ms",
                        (json_int_t)(received - sent)));
    if (status == 200) {
        json_t *j = json_loadb(p.body.ptr, p.body.len, 0, NULL);
        json_t *total = json_object_get(j, "totalResults");
        d->active_users = json_is_integer(total) ? (long)json_integer_value(total) : -1;
        json_decref(j);
    }

    /* The clock: the server's Date against the middle of our request. */
    if (p.date_s < 0) {
        c = add(d->r, "clock", GCS_DOCTOR_WARN, "%s sent no Date header: the clock cannot be compared",
                d->api_host);
        advise(c, "keep this machine's clock synchronised (NTP): token lifetimes and webhook "
                  "timestamps depend on it");
        goto out;
    }
    int64_t ours_ms = sent + (received - sent) / 2;
    /* Date has whole seconds: compare with the middle of its second. */
    int64_t skew_s = (p.date_s * 1000 + 500 - ours_ms) / 1000;
    gcs_doctor_status st = gcs_doctor_clock_status(skew_s);
    c = add(d->r, "clock", st, "%s's clock is %lld s %s ours%s", d->api_host,
            (long long)(skew_s < 0 ? -skew_s : skew_s), skew_s < 0 ? "behind" : "ahead of",
            st == GCS_DOCTOR_OK ? "" : st == GCS_DOCTOR_WARN ? " (over 60 s)" : " (over 300 s)");
    if (st != GCS_DOCTOR_OK)
        advise(c, "synchronise this machine's clock (NTP: timedatectl set-ntp true, chrony): "
                  "token lifetimes and webhook timestamps depend on it");
    attach(c, json_pack("{s:I}", "skew_s", (json_int_t)skew_s));
out:
    gcs_http_probe_release(&p);
}

static void check_rate_limit(doctor *d)
{
    if (d->probe_status == 0) {
        add(d->r, "rate-limit", GCS_DOCTOR_SKIPPED, "needs an answer from %s", d->api_host);
        return;
    }
    if (d->rl_allowed < 0) {
        gcs_doctor_check *c = add(d->r, "rate-limit", GCS_DOCTOR_WARN,
                                  "%s sent no inin-ratelimit-allowed header", d->api_host);
        advise(c, "a proxy may strip the inin-ratelimit-* headers: gcscim then cannot pace "
                  "itself to the limit; let them through, or set --max-rps 5");
        return;
    }
    /* The window starts with a token's first request: the reset of the first
     * answer is the window's length. Genesys documents one minute. */
    int window = d->rl_count == 1 && d->rl_reset > 0 ? d->rl_reset : 60;
    if (window < 1)
        window = 60;
    gcs_doctor_check *c;
    if (d->rl_allowed >= INT_MAX / 2) {
        c = add(d->r, "rate-limit", GCS_DOCTOR_OK, "the token has no rate limit");
    } else {
        c = add(d->r, "rate-limit", GCS_DOCTOR_OK,
                "%d requests per %d s for this token (%d used, window resets in %d s)",
                d->rl_allowed, window, d->rl_count < 0 ? 0 : d->rl_count,
                d->rl_reset < 0 ? 0 : d->rl_reset);
    }
    attach(c, json_pack("{s:i,s:i,s:i,s:i}", "allowed", d->rl_allowed, "count", d->rl_count,
                        "reset_s", d->rl_reset, "window_s", window));
}

static double per_minute(const doctor *d)
{
    if (d->rl_allowed < 0 || d->rl_allowed >= INT_MAX / 2)
        return 0;
    int window = d->rl_count == 1 && d->rl_reset > 0 ? d->rl_reset : 60;
    return (double)d->rl_allowed * 60.0 / (window > 0 ? window : 60);
}

/* ==== 4: permissions ==== */

/* A GET through the engine; 0, or the status of a failed answer (or -1 when none came). */
static int engine_get(doctor *d, const char *path, json_t **json_out, char *msg, size_t msgsz)
{
    gcs_http_client_request req = {.method = "GET", .path = path};
    gcs_http_client_response res;
    int rc = gcs_http_call(&res, d->session->client, &req);
    int answer = rc == 0 ? 0 : res.status > 0 ? res.status : -1;
    snprintf(msg, msgsz, "%s", res.message);
    if (json_out)
        *json_out = rc == 0 ? json_incref(res.json) : NULL;
    gcs_http_client_response_release(&res);
    return answer;
}

static void check_scim(doctor *d)
{
    if (d->probe_status == 0) {
        add(d->r, "scim-read", GCS_DOCTOR_SKIPPED, "needs an answer from %s", d->api_host);
    } else if (d->probe_status == 200) {
        gcs_doctor_check *c;
        char msg[400];
        json_t *j = NULL;
        int st = engine_get(d, GCS_SCIM_USERS "?filter=active%20eq%20false&count=0", &j, msg,
                            sizeof msg);
        json_t *total = json_object_get(j, "totalResults");
        d->inactive_users = st == 0 && json_is_integer(total) ? (long)json_integer_value(total) : -1;
        json_decref(j);
        c = add(d->r, "scim-read", GCS_DOCTOR_OK, "SCIM users can be read: %ld active, %ld inactive",
                d->active_users, d->inactive_users);
        attach(c, json_pack("{s:I,s:I}", "active_users", (json_int_t)d->active_users,
                            "inactive_users", (json_int_t)d->inactive_users));
        d->scim_read_ok = true;
    } else if (d->probe_status == 403) {
        gcs_doctor_check *c = add(d->r, "scim-read", GCS_DOCTOR_FAIL,
                                  "403 on GET %s: the token lacks the scope scim (or "
                                  "scim:readonly)", SCIM_PROBE_PATH);
        advise(c, "add the scope 'scim' to the OAuth client (Admin > Integrations > OAuth > "
                  "Scope) and the SCIM permissions (directory:user:*) to its role");
    } else {
        gcs_doctor_check *c = add(d->r, "scim-read", GCS_DOCTOR_FAIL, "GET %s answered %d",
                                  SCIM_PROBE_PATH, d->probe_status);
        advise(c, "see the 'api' check above");
    }
    /* Proving a write scope would take a write. */
    add(d->r, "scim-write", GCS_DOCTOR_SKIPPED,
        "cannot be proven without writing: creates, updates and deactivations need the scope "
        "'scim' (scim:readonly is not enough); the first apply will say so (exit 6)");
}

static void check_platform_reads(doctor *d)
{
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        d->org_total[k] = -1;
        if (!d->token_ok) {
            add(d->r, kind_checks[k], GCS_DOCTOR_SKIPPED, "needs a token");
            continue;
        }
        bool needed = d->want[k] || !d->profile;
        if (d->profile && !needed) {
            add(d->r, kind_checks[k], GCS_DOCTOR_SKIPPED, "the profile maps no %s",
                kind_names[k]);
            continue;
        }
        char path[256], msg[400];
        snprintf(path, sizeof path, "%s?pageSize=1", kind_paths[k]);
        json_t *j = NULL;
        int st = engine_get(d, path, &j, msg, sizeof msg);
        if (st == 0) {
            json_t *total = json_object_get(j, "total");
            d->org_total[k] = json_is_integer(total) ? (long)json_integer_value(total) : -1;
            d->readable[k] = true;
            gcs_doctor_check *c = add(d->r, kind_checks[k], GCS_DOCTOR_OK, "%ld %ss can be read",
                                      d->org_total[k], kind_names[k]);
            attach(c, json_pack("{s:I}", "total", (json_int_t)d->org_total[k]));
        } else {
            /* Without a profile nothing says the kind is needed: a warning. */
            gcs_doctor_status status = d->profile ? GCS_DOCTOR_FAIL : GCS_DOCTOR_WARN;
            gcs_doctor_check *c;
            if (st == 403) {
                c = add(d->r, kind_checks[k], status,
                        "403 on GET %s: the token lacks the scope %s", kind_paths[k],
                        kind_scopes[k]);
                advise(c, "add the scope %s to the OAuth client and the permission %s to its "
                          "role; needed when the profile maps %ss%s",
                       kind_scopes[k], kind_permissions[k], kind_names[k],
                       k == GCS_ORG_ROLE ? " or names privileged roles" : "");
            } else {
                c = add(d->r, kind_checks[k], status, "%s", msg);
                advise(c, "see the 'api' check; try again later if Genesys Cloud is having trouble");
            }
        }
        json_decref(j);
    }
}

/* ==== 6: profile, source, organisation names, rows ==== */

static void load_profile(doctor *d)
{
    if (!d->o->profile_path)
        return;
    if (gcs_profile_load(&d->profile, d->o->profile_path) < 0) {
        d->profile = NULL;
        return;
    }
    d->profile_ok = true;
    for (size_t i = 0; i < gcs_profile_attr_count(d->profile); i++) {
        switch (gcs_profile_attr_at(d->profile, i)->target) {
        case GCS_TARGET_ROLES: d->want[GCS_ORG_ROLE] = true; break;
        case GCS_TARGET_DIVISION: d->want[GCS_ORG_DIVISION] = true; break;
        case GCS_TARGET_SKILLS: d->want[GCS_ORG_SKILL] = true; break;
        case GCS_TARGET_LANGUAGES: d->want[GCS_ORG_LANGUAGE] = true; break;
        default: break;
        }
    }
    /* A plan that changes users finds who holds a privileged role by reading
     * the roles (engine/planner.c): the same scope as reading role names. */
    if (gcs_profile_privileged_role_count(d->profile) > 0)
        d->want[GCS_ORG_ROLE] = true;
}

static void check_profile(doctor *d, const char *profile_error)
{
    if (!d->o->profile_path) {
        add(d->r, "profile", GCS_DOCTOR_SKIPPED, "give --source and --profile to check them");
        return;
    }
    if (!d->profile_ok) {
        gcs_doctor_check *c = add(d->r, "profile", GCS_DOCTOR_FAIL, "%s", profile_error);
        advise(c, "fix the profile at the line named (docs/mapping.md describes the format)");
        return;
    }
    add(d->r, "profile", GCS_DOCTOR_OK, "%s: %zu attributes, marker %s", d->o->profile_path,
        gcs_profile_attr_count(d->profile),
        gcs_profile_managed_authority(d->profile) ? gcs_profile_managed_authority(d->profile)
                                                  : "none (managed_by: false)");
    if (strcmp(d->o->source_path, "-") == 0) {
        add(d->r, "source-fields", GCS_DOCTOR_SKIPPED, "standard input can be read once only");
        return;
    }
    int rc = gcs_source_check_profile(d->profile, d->o->source_path, d->o->source_format, NULL);
    if (rc == GCS_SOURCE_CHECK_DEFERRED) {
        add(d->r, "source-fields", GCS_DOCTOR_SKIPPED,
            "%s can be read once only (a pipe, FIFO or terminal)", d->o->source_path);
        return;
    }
    if (rc < 0) {
        gcs_doctor_check *c = add(d->r, "source-fields", GCS_DOCTOR_FAIL, "%s", last_error());
        advise(c, rc == GCS_EINVALID
                      ? "rename the column in the export or the field in the profile "
                        "(the suggestion above is the closest name the source has)"
                      : "check that the source file exists and can be read");
        return;
    }
    d->source_ok = true;
    add(d->r, "source-fields", GCS_DOCTOR_OK, "every field the profile reads is in %s",
        d->o->source_path);
}

/* The profile's groups: the groups file reads, and how many groups it rejects
 * (their roles and divisions are checked by plan, against the organisation). */
static void check_groups(doctor *d)
{
    const gcs_profile_groups *g = d->profile_ok ? gcs_profile_groups_of(d->profile) : NULL;
    if (!g) {
        add(d->r, "groups", GCS_DOCTOR_SKIPPED, "needs a profile that loads");
        return;
    }
    if (!g->enabled) {
        add(d->r, "groups", GCS_DOCTOR_SKIPPED, "the profile has no groups section");
        return;
    }
    if (!g->file) {
        add(d->r, "groups", GCS_DOCTOR_OK, "people's groups come from the column %s", g->column);
        return;
    }
    gcs_group_defs defs;
    gcs_group_defs_init(&defs);
    int rc = gcs_groups_file_read(&defs, g->file);
    if (rc < 0) {
        gcs_doctor_check *c = add(d->r, "groups", GCS_DOCTOR_FAIL, "%s", last_error());
        advise(c, "fix the groups file at the line named (docs/mapping.md, \"Groups\")");
    } else if (defs.rejected_groups > 0) {
        char first[600];
        gcs_row_error_format(first, sizeof first, &defs.rejected.items[0]);
        gcs_doctor_check *c = add(d->r, "groups", GCS_DOCTOR_WARN,
                                  "%zu groups in %s, %zu rejected (first: %s)", defs.count,
                                  g->file, defs.rejected_groups, first);
        advise(c, "a rejected group is never written to: fix it at the line named");
    } else {
        add(d->r, "groups", GCS_DOCTOR_OK, "%zu groups in %s, hierarchy %s%s", defs.count, g->file,
            g->hierarchy == GCS_GROUPS_FLATTENED ? "flattened" : "kept",
            g->column ? ", and people's groups from their column" : "");
    }
    gcs_group_defs_release(&defs);
}

static void fetch_org(doctor *d)
{
    bool want[GCS_ORG__COUNT] = {false};
    bool any = false;
    if (gcs_org_names_new(&d->org) < 0)
        return;
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        want[k] = d->want[k] && d->readable[k];
        any |= want[k];
    }
    if (any && gcs_directory_fetch_org_names(d->org, d->session->client, want, NULL) < 0) {
        for (int k = 0; k < GCS_ORG__COUNT; k++)
            d->readable[k] = false;
    }
}

typedef struct row_tally {
    long rows, mapped, out_of_scope, rejected;
    json_t *reasons;    /* reason -> {"count":N,"examples":[…]} */
    json_t *unknown;    /* kind -> {name: rows} */
    int examples;
    bool names_checked; /* every kind of name the profile maps could be read */
} row_tally;

static void tally_reason(row_tally *t, const char *message, const char *file, unsigned long line)
{
    char *reason = gcs_doctor_reason(message);
    if (!reason)
        return;
    json_t *entry = json_object_get(t->reasons, reason);
    if (!entry && json_object_size(t->reasons) >= REASONS_MAX) {
        free(reason);
        reason = strdup("other reasons");
        entry = reason ? json_object_get(t->reasons, reason) : NULL;
        if (!reason)
            return;
    }
    if (!entry) {
        entry = json_pack("{s:i,s:[],s:[]}", "count", 0, "lines", "examples");
        json_object_set_new(t->reasons, reason, entry);
    }
    json_object_set_new(entry, "count",
                        json_integer(json_integer_value(json_object_get(entry, "count")) + 1));
    json_t *ex = json_object_get(entry, "examples");
    if ((int)json_array_size(ex) < t->examples) {
        char text[700];
        snprintf(text, sizeof text, "%s:%lu: %s", file, line, message);
        json_array_append_new(ex, json_string(text));
        json_array_append_new(json_object_get(entry, "lines"), json_integer((json_int_t)line));
    }
    free(reason);
}

static void note_unknown(row_tally *t, const gcs_org_names *org, const bool readable[],
                         gcs_org_kind k, const char *name)
{
    if (!name || !*name || !readable[k] || gcs_org_names_has(org, k, name))
        return;
    json_t *names = json_object_get(t->unknown, kind_names[k]);
    if (!names) {
        names = json_object();
        json_object_set_new(t->unknown, kind_names[k], names);
    }
    if (json_object_size(names) >= REASONS_MAX && !json_object_get(names, name))
        return;
    json_object_set_new(names, name,
                        json_integer(json_integer_value(json_object_get(names, name)) + 1));
}

/* The names a desired user uses, each checked against the organisation. */
static void note_names(row_tally *t, const doctor *d, const json_t *user)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(user, "roles"), i, e)
        note_unknown(t, d->org, d->readable, GCS_ORG_ROLE,
                     json_string_value(json_object_get(e, "value")));
    note_unknown(t, d->org, d->readable, GCS_ORG_DIVISION,
                 json_string_value(json_object_get(json_object_get(user, GCS_SCIM_ENTERPRISE_USER),
                                                   "division")));
    const json_t *g = json_object_get(user, GCS_SCIM_GENESYS_USER);
    json_array_foreach(json_object_get(g, "routingSkills"), i, e)
        note_unknown(t, d->org, d->readable, GCS_ORG_SKILL,
                     json_string_value(json_object_get(e, "name")));
    json_array_foreach(json_object_get(g, "routingLanguages"), i, e)
        note_unknown(t, d->org, d->readable, GCS_ORG_LANGUAGE,
                     json_string_value(json_object_get(e, "name")));
}

/* Maps every row twice: without the organisation (to see every name a row
 * uses, even in a row rejected for another reason) and with it (the verdict
 * the planner would reach). Returns 0 or the error that stopped the source. */
static int read_rows(doctor *d, row_tally *t)
{
    gcs_source *src = NULL;
    int rc = gcs_source_open(&src, d->o->source_path, d->o->source_format, NULL);
    if (rc < 0)
        return rc;
    for (;;) {
        const gcs_row *row;
        rc = gcs_source_next(&row, src);
        if (rc == GCS_SOURCE_END)
            break;
        t->rows++;
        if (rc == GCS_EINVALID) {
            const gcs_row_error *e = gcs_source_error(src);
            t->rejected++;
            if (e)
                tally_reason(t, e->message, e->file, e->line);
            continue;
        }
        if (rc < 0)
            goto out;
        gcs_map_user offline, m;
        gcs_map_row(&offline, d->profile, row, NULL);
        if (offline.status == GCS_MAP_OK)
            note_names(t, d, offline.user);
        gcs_map_user_release(&offline);
        rc = gcs_map_row(&m, d->profile, row, t->names_checked ? d->org : NULL);
        if (rc == GCS_ENOMEM) {
            gcs_map_user_release(&m);
            goto out;
        }
        if (m.status == GCS_MAP_OUT_OF_SCOPE) {
            t->out_of_scope++;
        } else if (m.status == GCS_MAP_REJECTED) {
            t->rejected++;
            /* A row counts once per reason, however many of its values share it. */
            json_t *seen = json_object();
            for (size_t i = 0; i < m.errors.count; i++) {
                char *reason = gcs_doctor_reason(m.errors.items[i].message);
                if (reason && !json_object_get(seen, reason)) {
                    json_object_set_new(seen, reason, json_true());
                    tally_reason(t, m.errors.items[i].message, m.errors.items[i].file,
                                 m.errors.items[i].line);
                }
                free(reason);
            }
            json_decref(seen);
        } else {
            t->mapped++;
        }
        gcs_map_user_release(&m);
    }
    rc = 0;
out:
    gcs_source_free(src);
    return rc;
}

static void report_org_names(doctor *d, const row_tally *t)
{
    bool any_wanted = false, all_readable = true;
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        any_wanted |= d->want[k];
        all_readable &= !d->want[k] || d->readable[k];
    }
    if (!any_wanted) {
        add(d->r, "org-names", GCS_DOCTOR_SKIPPED,
            "the profile maps no roles, divisions, skills or languages");
        return;
    }
    if (!all_readable && json_object_size(t->unknown) == 0) {
        add(d->r, "org-names", GCS_DOCTOR_SKIPPED,
            "the organisation's names could not be read (see the *-read checks)");
        return;
    }
    if (json_object_size(t->unknown) == 0) {
        add(d->r, "org-names", GCS_DOCTOR_OK,
            "every role, division, skill and language the source names exists");
        return;
    }
    gcs_buf b;
    gcs_buf_init(&b, 1024);
    size_t shown = 0, total = 0;
    const char *kind;
    json_t *names;
    json_object_foreach(t->unknown, kind, names) {
        const char *name;
        json_t *count;
        json_object_foreach(names, name, count) {
            total++;
            /* A full buffer only shortens the line. */
            if (shown++ < 5 &&
                gcs_buf_printf(&b, "%s%s '%s' (%lld row%s)", shown > 1 ? ", " : "", kind, name,
                               (long long)json_integer_value(count),
                               json_integer_value(count) == 1 ? "" : "s") < 0)
                shown = 5;
        }
    }
    gcs_doctor_check *c = add(d->r, "org-names", GCS_DOCTOR_FAIL,
                              "%zu name%s in the source do%s not exist in the organisation: %s%s",
                              total, total == 1 ? "" : "s", total == 1 ? "es" : "",
                              b.ptr, total > shown ? ", ..." : "");
    advise(c, "create them in Genesys Cloud (Admin > Roles, Divisions, Routing), or correct the "
              "export or the profile's lookup; names are case-sensitive");
    attach(c, json_deep_copy(t->unknown));
    gcs_buf_release(&b);
}

static void check_rows(doctor *d, row_tally *t)
{
    if (!d->profile_ok || !d->source_ok) {
        add(d->r, "org-names", GCS_DOCTOR_SKIPPED, "needs a profile that fits the source");
        add(d->r, "rows", GCS_DOCTOR_SKIPPED, "needs a profile that fits the source");
        return;
    }
    if (d->token_ok)
        fetch_org(d);
    /* Names that could not be read are not held against the rows. */
    t->names_checked = d->org != NULL;
    for (int k = 0; k < GCS_ORG__COUNT; k++)
        t->names_checked &= !d->want[k] || d->readable[k];
    int rc = read_rows(d, t);
    if (rc < 0) {
        gcs_doctor_check *c = add(d->r, "rows", GCS_DOCTOR_FAIL,
                                  "the source cannot be read to its end: %s", last_error());
        advise(c, "fix the export at the line named: a sync stops there too");
        return;
    }
    d->rows = t->rows;
    d->mapped = t->mapped;
    if (!d->token_ok)
        add(d->r, "org-names", GCS_DOCTOR_SKIPPED, "needs a token");
    else
        report_org_names(d, t);

    json_t *data = json_pack("{s:I,s:I,s:I,s:I,s:O}", "rows", (json_int_t)t->rows, "valid",
                             (json_int_t)t->mapped, "out_of_scope", (json_int_t)t->out_of_scope,
                             "rejected", (json_int_t)t->rejected, "reasons", t->reasons);
    if (t->rejected == 0) {
        gcs_doctor_check *c = add(d->r, "rows", GCS_DOCTOR_OK,
                                  "%ld rows: %ld valid, %ld out of scope, none rejected%s", t->rows,
                                  t->mapped, t->out_of_scope,
                                  t->names_checked ? "" : " (organisation names not checked)");
        attach(c, data);
        return;
    }
    gcs_buf b;
    gcs_buf_init(&b, 8192);
    const char *reason;
    json_t *entry;
    size_t n = 0;
    json_object_foreach(t->reasons, reason, entry) {
        if (n++ >= 5)
            break;
        json_t *lines = json_object_get(entry, "lines");
        json_int_t count = json_integer_value(json_object_get(entry, "count"));
        char where[128] = "";
        size_t i, used = 0;
        json_t *line;
        json_array_foreach(lines, i, line) {
            int w = snprintf(where + used, sizeof where - used, "%s %lld", i ? "," : "",
                             (long long)json_integer_value(line));
            if (w < 0 || (size_t)w >= sizeof where - used)
                break;
            used += (size_t)w;
        }
        /* A full buffer only shortens the line. */
        if (gcs_buf_printf(&b, "%s%lld x %s (line%s%s%s)", n > 1 ? "; " : "", (long long)count,
                           reason, json_array_size(lines) == 1 ? "" : "s", where,
                           count > (json_int_t)json_array_size(lines) ? ", ..." : "") < 0)
            break;
    }
    gcs_doctor_status st = t->mapped == 0 ? GCS_DOCTOR_FAIL : GCS_DOCTOR_WARN;
    gcs_doctor_check *c = add(d->r, "rows", st, "%ld of %ld rows of %s would be rejected: %s",
                              t->rejected, t->rows, d->o->source_path, b.ptr);
    advise(c, "fix those rows in the export (or the profile's rules); while any row is rejected "
              "a sync withholds every deactivation");
    attach(c, data);
    gcs_buf_release(&b);
}

/* ==== 5: what a sync costs ==== */

static bool costly_page(const doctor *d)
{
    for (size_t i = 0; d->profile && i < gcs_profile_attr_count(d->profile); i++) {
        switch (gcs_profile_attr_at(d->profile, i)->target) {
        case GCS_TARGET_EXTERNALID:
        case GCS_TARGET_MANAGER:
        case GCS_TARGET_ROLES:
        case GCS_TARGET_SKILLS:
        case GCS_TARGET_LANGUAGES: return true;
        default: break;
        }
    }
    return false;
}

static void check_cost(doctor *d)
{
    if (!d->scim_read_ok) {
        add(d->r, "sync-cost", GCS_DOCTOR_SKIPPED, "needs SCIM reads");
        return;
    }
    int page = costly_page(d) ? GCS_DIRECTORY_PAGE_COSTLY : GCS_DIRECTORY_PAGE_CHEAP;
    long org_reads = 0;
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        if (d->want[k])
            org_reads += pages_of(d->org_total[k], ORG_PAGE);
    }
    gcs_doctor_cost cost;
    double pm = per_minute(d);
    gcs_doctor_sync_cost(&cost, d->active_users, d->inactive_users, page, org_reads,
                         d->mapped < 0 ? 0 : d->mapped, pm);
    char minutes[64];
    if (cost.minutes < 0)
        snprintf(minutes, sizeof minutes, "no rate limit known");
    else
        snprintf(minutes, sizeof minutes, "%.1f min at %.0f requests/min", cost.minutes, pm);
    gcs_doctor_check *c;
    if (d->mapped < 0) {
        c = add(d->r, "sync-cost", GCS_DOCTOR_OK,
                "reading the organisation: %ld requests (%d users a page), %s; give --source "
                "and --profile for the writes",
                cost.reads, page, minutes);
    } else {
        c = add(d->r, "sync-cost", GCS_DOCTOR_OK,
                "%ld reads (%d users a page) and at most %ld writes (one per valid row; how "
                "many rows change is known only to plan): %s",
                cost.reads, page, cost.writes_worst, minutes);
    }
    attach(c, json_pack("{s:I,s:I,s:i,s:f}", "reads", (json_int_t)cost.reads, "writes_worst",
                        (json_int_t)cost.writes_worst, "page", page, "minutes", cost.minutes));
}

/* ==== 7: the store ==== */

/* Why a SQLite store might not open or take writes: its file or directory. */
static void store_advice(gcs_doctor_check *c, const char *url)
{
    gcs_store_kind kind;
    char *path = NULL;
    if (gcs_store_url_parse(&kind, &path, url) < 0 || kind != GCS_STORE_SQLITE) {
        advise(c, "check the database server, the db URL and the user's privileges: gcscim "
                  "needs CREATE on its schema (migrations run at every open) and INSERT and "
                  "UPDATE on its tables");
        free(path);
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    struct stat st;
    if (stat(dir, &st) != 0)
        advise(c, "the directory %s does not exist: create it (mode 0700), or give --db another "
                  "path",
               dir);
    else if (stat(path, &st) == 0 && access(path, W_OK) != 0)
        advise(c, "the database file %s cannot be written by this user: chmod u+w it, or give "
                  "--db a writable path",
               path);
    else if (access(dir, W_OK) != 0)
        advise(c, "the directory %s cannot be written by this user (SQLite needs it for its "
                  "journal): fix its permissions, or give --db a writable path",
               dir);
    else
        advise(c, "check the file %s and its directory (permissions, disk space), or give --db "
                  "another path",
               path);
    free(path);
}

/* Notifications waiting in the store: dead letters need a person; pending ones
 * need a sender (a notify file, for sync's own sends or serve's notifier). */
static void check_outbox(doctor *d, gcs_store *s)
{
    int64_t pending = 0, dead = 0;
    const char *notify = gcs_config_get(d->o->config, GCS_CFG_NOTIFY_FILE);
    gcs_doctor_check *c;
    if (gcs_store_notification_counts(&pending, &dead, s) < 0) {
        c = add(d->r, "outbox", GCS_DOCTOR_FAIL, "the outbox cannot be read: %s", last_error());
        advise(c, "check the database");
        return;
    }
    if (dead > 0) {
        c = add(d->r, "outbox", GCS_DOCTOR_WARN,
                "%lld notification%s dead (never delivered), %lld pending", (long long)dead,
                dead == 1 ? "" : "s", (long long)pending);
        advise(c, "'gcscim notifications list --state dead' shows them; fix the endpoint, then "
                  "'gcscim notifications retry ID' (or drop them)");
    } else if (pending > 0 && !(notify && *notify)) {
        c = add(d->r, "outbox", GCS_DOCTOR_WARN,
                "%lld notification%s pending and no notify_file to send them", (long long)pending,
                pending == 1 ? "" : "s");
        advise(c, "give notify_file (--notify-file) to the sync or serve that sends them");
    } else {
        c = add(d->r, "outbox", GCS_DOCTOR_OK, "%lld pending, 0 dead%s", (long long)pending,
                notify && *notify ? "" : " (no notify_file: nothing is notified)");
    }
    attach(c, json_pack("{s:I,s:I}", "pending", (json_int_t)pending, "dead", (json_int_t)dead));
}

static void check_store(doctor *d)
{
    const char *db = d->o->config ? gcs_config_get(d->o->config, GCS_CFG_DB) : NULL;
    char *url = NULL, *shown = NULL;
    gcs_store *s = NULL;
    if (d->o->config_error || !d->o->config) {
        add(d->r, "store-open", GCS_DOCTOR_SKIPPED, "needs the configuration");
        add(d->r, "store-writable", GCS_DOCTOR_SKIPPED, "needs the configuration");
        add(d->r, "receipts", GCS_DOCTOR_SKIPPED, "needs the configuration");
        add(d->r, "outbox", GCS_DOCTOR_SKIPPED, "needs the configuration");
        return;
    }
    if (db && *db)
        url = strdup(db);
    else if (gcs_store_default_url(&url) < 0)
        url = NULL;
    if (!url || gcs_store_url_display(&shown, url) < 0) {
        gcs_doctor_check *c = add(d->r, "store-open", GCS_DOCTOR_FAIL, "%s", last_error());
        advise(c, "give --db sqlite:PATH or postgresql://...");
        goto skip_rest;
    }
    /* NULL: the default location, whose directory is made as a sync would. */
    if (gcs_store_open(&s, db && *db ? db : NULL) < 0) {
        gcs_doctor_check *c = add(d->r, "store-open", GCS_DOCTOR_FAIL, "%s", last_error());
        store_advice(c, url);
        goto skip_rest;
    }
    int version = 0;
    gcs_store_schema_version(&version, s);
    gcs_doctor_check *c = add(d->r, "store-open", GCS_DOCTOR_OK, "%s store %s, schema version %d",
                              gcs_store_backend(s), shown, version);
    attach(c, json_pack("{s:s,s:s,s:i}", "backend", gcs_store_backend(s), "db", shown,
                        "schema_version", version));
    if (gcs_store_check_writable(s) < 0) {
        c = add(d->r, "store-writable", GCS_DOCTOR_FAIL, "the store takes no writes: %s",
                last_error());
        store_advice(c, url);
    } else {
        add(d->r, "store-writable", GCS_DOCTOR_OK, "a write went through (and was rolled back)");
    }
    gcs_verify_result v;
    /* With an anchor, the chain must also be the one an earlier check saw. */
    if (gcs_store_receipts_verify_anchored(&v, s, d->o->anchor_seq,
                                           d->o->anchor_seq ? d->o->anchor_hash : NULL) < 0) {
        c = add(d->r, "receipts", GCS_DOCTOR_FAIL, "the receipts cannot be read: %s",
                last_error());
        advise(c, "check the database; 'gcscim receipts verify' says the same");
    } else if (!v.ok) {
        c = add(d->r, "receipts", GCS_DOCTOR_FAIL,
                "the receipt chain breaks at receipt %lld: %s", (long long)v.broken_seq, v.reason);
        advise(c, "keep the database as it is (it is evidence) and find out who changed it; "
                  "'gcscim receipts show %lld' shows the receipt",
               (long long)v.broken_seq);
        attach(c, json_pack("{s:I,s:I}", "receipts", (json_int_t)v.checked, "broken_seq",
                            (json_int_t)v.broken_seq));
    } else {
        c = add(d->r, "receipts", GCS_DOCTOR_OK, "%lld receipts, chain verified%s, head %lld:%s",
                (long long)v.checked, d->o->anchor_seq ? " from the anchor" : "",
                (long long)v.head_seq, v.head_hash);
        attach(c, json_pack("{s:I,s:I,s:s}", "receipts", (json_int_t)v.checked, "head_seq",
                            (json_int_t)v.head_seq, "head_hash", v.head_hash));
    }
    check_outbox(d, s);
    goto out;
skip_rest:
    add(d->r, "store-writable", GCS_DOCTOR_SKIPPED, "needs the store open");
    add(d->r, "receipts", GCS_DOCTOR_SKIPPED, "needs the store open");
    add(d->r, "outbox", GCS_DOCTOR_SKIPPED, "needs the store open");
out:
    gcs_store_free(s);
    free(url);
    free(shown);
}

/* ==== All of it ==== */

static void skip(doctor *d, const char *const *names, const char *why)
{
    for (; *names; names++)
        add(d->r, *names, GCS_DOCTOR_SKIPPED, "%s", why);
}

int gcs_doctor_run(gcs_doctor_report *out, const gcs_doctor_options *o)
{
    doctor d;
    memset(out, 0, sizeof *out);
    memset(&d, 0, sizeof d);
    d.o = o;
    d.r = out;
    d.active_users = d.inactive_users = -1;
    d.rl_count = d.rl_allowed = d.rl_reset = -1;
    d.rows = d.mapped = -1;
    for (int k = 0; k < GCS_ORG__COUNT; k++)
        d.org_total[k] = -1;
    row_tally t = {0};
    t.reasons = json_object();
    t.unknown = json_object();
    t.examples = o->examples > 0 ? o->examples : 3;
    char profile_error[1024] = "";

    /* The profile first, quietly: what it maps decides which reads matter. */
    load_profile(&d);
    if (o->profile_path && !d.profile_ok)
        snprintf(profile_error, sizeof profile_error, "%s", last_error());

    static const char *const network[] = {"token", "api", "clock", "scim-read", "scim-write",
                                          "roles-read", "divisions-read", "skills-read",
                                          "languages-read", "rate-limit", NULL};
    bool config_ok = check_config(&d);
    if (!config_ok) {
        add(out, "credentials", GCS_DOCTOR_SKIPPED, "needs the configuration");
        skip(&d, network, "needs the configuration");
    } else if (!check_credentials(&d)) {
        skip(&d, network, "needs credentials");
    } else if (!check_token(&d)) {
        skip(&d, network + 1, "needs a token");
    } else {
        check_api(&d);
        check_scim(&d);
        check_platform_reads(&d);
        check_rate_limit(&d);
    }
    if (o->profile_path && o->source_path) {
        check_profile(&d, profile_error);
        check_rows(&d, &t);
        check_groups(&d);
    } else {
        static const char *const inputs[] = {"profile", "source-fields", "org-names", "rows",
                                             "groups", NULL};
        skip(&d, inputs, "give --source and --profile to check them");
    }
    check_cost(&d);
    check_store(&d);
    if (o->more_checks && o->config && !o->config_error)
        o->more_checks(out, o->config, o->more_checks_ctx);
    else
        add(out, "serve", GCS_DOCTOR_SKIPPED, "needs the configuration");

    json_decref(t.reasons);
    json_decref(t.unknown);
    gcs_org_names_free(d.org);
    gcs_profile_free(d.profile);
    gcs_genesys_session_free(d.session);
    free(d.api_url);
    free(d.login_url);
    return 0;
}
