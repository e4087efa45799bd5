#include "genesys/region.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const gcs_region gcs_regions[] = {
    {"us-east-1", "mypurecloud.com"},       {"us-east-2", "use2.us-gov-pure.cloud"},
    {"us-west-2", "usw2.pure.cloud"},       {"ca-central-1", "cac1.pure.cloud"},
    {"sa-east-1", "sae1.pure.cloud"},       {"mx-central-1", "mxc1.pure.cloud"},
    {"eu-west-1", "mypurecloud.ie"},        {"eu-west-2", "euw2.pure.cloud"},
    {"eu-central-1", "mypurecloud.de"},     {"eu-central-2", "euc2.pure.cloud"},
    {"me-central-1", "mec1.pure.cloud"},    {"ap-south-1", "aps1.pure.cloud"},
    {"ap-southeast-1", "apse1.pure.cloud"}, {"ap-southeast-2", "mypurecloud.com.au"},
    {"ap-northeast-1", "mypurecloud.jp"},   {"ap-northeast-2", "apne2.pure.cloud"},
    {"ap-northeast-3", "apne3.pure.cloud"}, {NULL, NULL},
};

static const char *strip_prefix_ci(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncasecmp(s, prefix, n) == 0 ? s + n : s;
}

const char *gcs_region_domain(const char *region_or_domain)
{
    if (!region_or_domain || !*region_or_domain)
        return NULL;
    const char *s = strip_prefix_ci(region_or_domain, "https://");
    s = strip_prefix_ci(s, "api.");
    s = strip_prefix_ci(s, "login.");
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    for (const gcs_region *r = gcs_regions; r->name; r++) {
        if ((strlen(r->name) == n && strncasecmp(s, r->name, n) == 0) ||
            (strlen(r->domain) == n && strncasecmp(s, r->domain, n) == 0))
            return r->domain;
    }
    return NULL;
}

static int check_url(const char *what, const char *url)
{
    if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
        return gcs_error_set(GCS_EINVALID, "%s '%s' is not an http(s) URL", what, url);
    const char *host = strstr(url, "://") + 3;
    if (!*host || *host == '/')
        return gcs_error_set(GCS_EINVALID, "%s '%s' has no host", what, url);
    return 0;
}

static char *without_trailing_slash(const char *url)
{
    char *s = strdup(url);
    if (s) {
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
            s[--n] = '\0';
    }
    return s;
}

/* https://api.x.y -> https://login.x.y; anything else: the same base. */
static char *login_from_api(const char *api)
{
    const char *host = strstr(api, "://");
    if (host && strncasecmp(host + 3, "api.", 4) == 0) {
        size_t scheme = (size_t)(host + 3 - api);
        size_t len = strlen(api) + 3;
        char *s = malloc(len);
        if (s)
            snprintf(s, len, "%.*slogin.%s", (int)scheme, api, host + 7);
        return s;
    }
    return strdup(api);
}

int gcs_region_resolve(char **api_out, char **login_out, const char *region_or_domain,
                       const char *api_url, const char *login_url)
{
    char *api = NULL, *login = NULL;
    int rc = 0;
    bool has_api = api_url && *api_url, has_login = login_url && *login_url;

    if (has_api && (rc = check_url("API URL", api_url)) < 0)
        goto out;
    if (has_login && (rc = check_url("login URL", login_url)) < 0)
        goto out;

    if (!has_api || !has_login) {
        const char *domain = NULL;
        if (region_or_domain && *region_or_domain) {
            domain = gcs_region_domain(region_or_domain);
            if (!domain && !has_api) {
                rc = gcs_error_set(GCS_EINVALID,
                                   "unknown region '%s': give a region name such as "
                                   "'eu-west-1', a domain such as 'mypurecloud.ie', or "
                                   "explicit URLs",
                                   region_or_domain);
                goto out;
            }
        }
        if (has_api) {
            api = without_trailing_slash(api_url);
            login = has_login ? without_trailing_slash(login_url) : login_from_api(api);
        } else {
            if (!domain) {
                rc = gcs_error_set(GCS_EINVALID, "no region: set GENESYSCLOUD_REGION or "
                                                 "--region, or GENESYSCLOUD_API_URL");
                goto out;
            }
            size_t n = strlen(domain) + 16;
            api = malloc(n);
            if (api)
                snprintf(api, n, "https://api.%s", domain);
            if (has_login) {
                login = without_trailing_slash(login_url);
            } else {
                login = malloc(n);
                if (login)
                    snprintf(login, n, "https://login.%s", domain);
            }
        }
    } else {
        api = without_trailing_slash(api_url);
        login = without_trailing_slash(login_url);
    }
    if (!api || !login) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    *api_out = api;
    *login_out = login;
    api = login = NULL;
out:
    free(api);
    free(login);
    return rc;
}
