/* Region names, domains and explicit URLs resolve to the right base URLs. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "genesys/region.h"

static void expect(const char *region, const char *api_url, const char *login_url,
                   const char *want_api, const char *want_login)
{
    char *api = NULL, *login = NULL;
    assert_int_equal(gcs_region_resolve(&api, &login, region, api_url, login_url), 0);
    assert_string_equal(api, want_api);
    assert_string_equal(login, want_login);
    free(api);
    free(login);
}

static void region_name_resolves(void **state)
{
    (void)state;
    expect("eu-west-1", NULL, NULL, "https://api.mypurecloud.ie", "https://login.mypurecloud.ie");
    expect("us-east-1", NULL, NULL, "https://api.mypurecloud.com", "https://login.mypurecloud.com");
    expect("ap-southeast-2", NULL, NULL, "https://api.mypurecloud.com.au",
           "https://login.mypurecloud.com.au");
    expect("us-east-2", NULL, NULL, "https://api.use2.us-gov-pure.cloud",
           "https://login.use2.us-gov-pure.cloud");
    expect("EU-CENTRAL-2", NULL, NULL, "https://api.euc2.pure.cloud", "https://login.euc2.pure.cloud");
}

static void every_region_in_the_table_resolves(void **state)
{
    (void)state;
    int count = 0;
    for (const gcs_region *r = gcs_regions; r->name; r++, count++) {
        assert_string_equal(gcs_region_domain(r->name), r->domain);
        assert_string_equal(gcs_region_domain(r->domain), r->domain);
    }
    assert_int_equal(count, 17);
}

static void domain_resolves(void **state)
{
    (void)state;
    expect("mypurecloud.ie", NULL, NULL, "https://api.mypurecloud.ie", "https://login.mypurecloud.ie");
    expect("usw2.pure.cloud", NULL, NULL, "https://api.usw2.pure.cloud",
           "https://login.usw2.pure.cloud");
    /* Tolerated decorations of a domain. */
    expect("api.mypurecloud.de", NULL, NULL, "https://api.mypurecloud.de",
           "https://login.mypurecloud.de");
    expect("https://login.mypurecloud.jp/", NULL, NULL, "https://api.mypurecloud.jp",
           "https://login.mypurecloud.jp");
}

static void explicit_urls_win(void **state)
{
    (void)state;
    expect("eu-west-1", "http://127.0.0.1:8080/", "http://127.0.0.1:8081", "http://127.0.0.1:8080",
           "http://127.0.0.1:8081");
    /* Only the API URL: the emulator serves login on the same base. */
    expect(NULL, "http://127.0.0.1:9000", NULL, "http://127.0.0.1:9000", "http://127.0.0.1:9000");
    /* An api. host gives the matching login. host. */
    expect(NULL, "https://api.proxy.example.org", NULL, "https://api.proxy.example.org",
           "https://login.proxy.example.org");
    /* Only the login URL: the API comes from the region. */
    expect("eu-west-1", NULL, "http://127.0.0.1:7000", "https://api.mypurecloud.ie",
           "http://127.0.0.1:7000");
}

static void unknown_region_is_a_clear_error(void **state)
{
    (void)state;
    char *api = NULL, *login = NULL;
    assert_int_equal(gcs_region_resolve(&api, &login, "mars-north-1", NULL, NULL), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "unknown region 'mars-north-1'"));
    assert_null(api);
    assert_int_equal(gcs_region_resolve(&api, &login, NULL, "ftp://x", NULL), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "not an http(s) URL"));
    assert_int_equal(gcs_region_resolve(&api, &login, NULL, NULL, NULL), GCS_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(region_name_resolves),
        cmocka_unit_test(every_region_in_the_table_resolves),
        cmocka_unit_test(domain_resolves),
        cmocka_unit_test(explicit_urls_win),
        cmocka_unit_test(unknown_region_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
