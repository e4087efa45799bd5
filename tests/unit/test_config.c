/* Configuration layers: default < env < file < flag, and where each came from. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/error.h"

static const char *const *fake_env;

static const char *env_get(const char *name)
{
    for (size_t i = 0; fake_env && fake_env[i]; i += 2) {
        if (strcmp(fake_env[i], name) == 0)
            return fake_env[i + 1];
    }
    return NULL;
}

static void layers_override_in_order(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *file = gcs_test_write_file(dir, "c.json",
                                     "{\"region\":\"eu-west-1\",\"max_in_flight\":4,\"db\":null}");
    const char *env[] = {"GENESYSCLOUD_REGION", "us-west-2", "GENESYSCLOUD_OAUTHCLIENT_ID", "cid",
                         "GCSCIM_TIMEOUT", "12", NULL};
    fake_env = env;
    gcs_config cfg;
    assert_int_equal(gcs_config_init(&cfg, env_get), 0);
    assert_string_equal(gcs_config_get(&cfg, GCS_CFG_REGION), "us-west-2");
    assert_int_equal(cfg.values[GCS_CFG_REGION].source, GCS_CFG_FROM_ENV);
    assert_string_equal(gcs_config_get(&cfg, GCS_CFG_LOG_LEVEL), "info");
    assert_int_equal(cfg.values[GCS_CFG_LOG_LEVEL].source, GCS_CFG_FROM_DEFAULT);

    assert_int_equal(gcs_config_load_file(&cfg, file, env_get), 0);
    assert_string_equal(gcs_config_get(&cfg, GCS_CFG_REGION), "eu-west-1");
    assert_int_equal(cfg.values[GCS_CFG_REGION].source, GCS_CFG_FROM_FILE);
    assert_string_equal(cfg.values[GCS_CFG_REGION].origin, file);
    assert_int_equal(gcs_config_get_long(&cfg, GCS_CFG_MAX_IN_FLIGHT), 4);
    assert_int_equal(gcs_config_get_long(&cfg, GCS_CFG_TIMEOUT), 12);

    assert_int_equal(gcs_config_set_flag(&cfg, GCS_CFG_REGION, "mypurecloud.de"), 0);
    assert_string_equal(gcs_config_get(&cfg, GCS_CFG_REGION), "mypurecloud.de");
    assert_string_equal(cfg.values[GCS_CFG_REGION].origin, "--region");
    gcs_config_release(&cfg);
    free(file);
    gcs_test_tmpdir_remove(dir);
}

static void bad_files_are_named(void **state)
{
    (void)state;
    fake_env = NULL;
    char *dir = gcs_test_tmpdir();
    gcs_config cfg;
    assert_int_equal(gcs_config_init(&cfg, env_get), 0);

    char *f1 = gcs_test_write_file(dir, "typo.json", "{\n  \"regoin\": \"eu-west-1\"\n}");
    assert_int_equal(gcs_config_load_file(&cfg, f1, env_get), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "typo.json"));
    assert_non_null(strstr(gcs_error_last(), "unknown key 'regoin'"));

    char *f2 = gcs_test_write_file(dir, "syntax.json", "{\n  \"region\": \"eu-west-1\",\n}");
    assert_int_equal(gcs_config_load_file(&cfg, f2, env_get), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "syntax.json"));
    assert_non_null(strstr(gcs_error_last(), "line 3"));

    char *f3 = gcs_test_write_file(dir, "num.json", "{\"max_in_flight\":\"lots\"}");
    assert_int_equal(gcs_config_load_file(&cfg, f3, env_get), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "'lots' is not a non-negative number"));

    assert_int_equal(gcs_config_load_file(&cfg, "/nonexistent/gcscim.json", env_get), GCS_EIO);
    assert_non_null(strstr(gcs_error_last(), "/nonexistent/gcscim.json"));
    gcs_config_release(&cfg);
    free(f1);
    free(f2);
    free(f3);
    gcs_test_tmpdir_remove(dir);
}

static void missing_default_file_is_fine(void **state)
{
    (void)state;
    const char *env[] = {"XDG_CONFIG_HOME", "/nonexistent-dir", NULL};
    fake_env = env;
    gcs_config cfg;
    assert_int_equal(gcs_config_init(&cfg, env_get), 0);
    assert_int_equal(gcs_config_load_file(&cfg, NULL, env_get), 0);
    assert_null(cfg.file);
    gcs_config_release(&cfg);
}

static void secrets_are_never_flags(void **state)
{
    (void)state;
    fake_env = NULL;
    gcs_config cfg;
    assert_int_equal(gcs_config_init(&cfg, env_get), 0);
    assert_int_equal(gcs_config_set_flag(&cfg, GCS_CFG_CLIENT_SECRET, "x"), GCS_EUSAGE);

    char *dir = gcs_test_tmpdir();
    char *open_file = gcs_test_write_file(dir, "secret", "from-file-secret\n");
    chmod(open_file, 0644);
    assert_int_equal(gcs_config_set_secret_file(&cfg, open_file), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "readable by others"));
    chmod(open_file, 0600);
    assert_int_equal(gcs_config_set_secret_file(&cfg, open_file), 0);
    assert_string_equal(gcs_config_get(&cfg, GCS_CFG_CLIENT_SECRET), "from-file-secret");
    /* Once read it is a registered secret: an error message cannot carry it. */
    gcs_error_set(GCS_ERROR, "oops from-file-secret");
    assert_null(strstr(gcs_error_last(), "from-file-secret"));
    gcs_config_release(&cfg);
    free(open_file);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layers_override_in_order),
        cmocka_unit_test(bad_files_are_named),
        cmocka_unit_test(missing_default_file_is_fine),
        cmocka_unit_test(secrets_are_never_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
