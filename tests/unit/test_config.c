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
    assert_int_equal(gcs_config_from_env(&cfg, env_get), 0);
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
    assert_int_equal(gcs_config_from_env(&cfg, env_get), 0);

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
    assert_non_null(strstr(gcs_error_last(), "max_in_flight must be a whole number from 1 to 256, not 'lots'"));

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
    assert_int_equal(gcs_config_from_env(&cfg, env_get), 0);
    assert_int_equal(gcs_config_load_file(&cfg, NULL, env_get), 0);
    assert_null(cfg.file);
    gcs_config_release(&cfg);
}

static void secrets_are_never_flags(void **state)
{
    (void)state;
    fake_env = NULL;
    gcs_config cfg;
    assert_int_equal(gcs_config_from_env(&cfg, env_get), 0);
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


/* Numbers are checked against their range wherever they come from. */
static void numbers_out_of_range_are_refused_everywhere(void **state)
{
    (void)state;
    static const struct {
        int key;
        const char *value;
        bool ok;
    } cases[] = {
        {GCS_CFG_MAX_IN_FLIGHT, "99999999999999999999", false},
        {GCS_CFG_MAX_IN_FLIGHT, "0", false},
        {GCS_CFG_MAX_IN_FLIGHT, "1", true},
        {GCS_CFG_MAX_IN_FLIGHT, "256", true},
        {GCS_CFG_MAX_IN_FLIGHT, "2.5", false},
        {GCS_CFG_MAX_IN_FLIGHT, "0x10", false},
        {GCS_CFG_TIMEOUT, "0", false},
        {GCS_CFG_TIMEOUT, "30", true},
        {GCS_CFG_TIMEOUT, "1e9", false},
        {GCS_CFG_TIMEOUT, "nan", false},
        {GCS_CFG_MAX_RPS, "0", true},
        {GCS_CFG_MAX_RPS, "2.5", true},
        {GCS_CFG_MAX_RPS, "-1", false},
        {GCS_CFG_MAX_RPS, "inf", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gcs_config cfg;
        fake_env = NULL;
        assert_int_equal(gcs_config_from_env(&cfg, env_get), 0);
        int rc = gcs_config_set_flag(&cfg, (gcs_config_key)cases[i].key, cases[i].value);
        if ((rc == 0) != cases[i].ok)
            fail_msg("case %zu: %s=%s gave %d (%s)", i, gcs_config_specs[cases[i].key].name,
                     cases[i].value, rc, gcs_error_last());
        if (!cases[i].ok) {
            /* The message names the flag and the range. */
            assert_non_null(strstr(gcs_error_last(), gcs_config_specs[cases[i].key].flag));
            assert_non_null(strstr(gcs_error_last(), " from "));
        }
        gcs_config_release(&cfg);
    }
    /* From the environment. */
    const char *env[] = {"GCSCIM_TIMEOUT", "0", NULL};
    fake_env = env;
    gcs_config cfg;
    assert_int_equal(gcs_config_from_env(&cfg, env_get), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "GCSCIM_TIMEOUT: timeout must be a whole number from 1"));
    gcs_config_release(&cfg);
    /* From a file. */
    fake_env = NULL;
    char *dir = gcs_test_tmpdir();
    char *f = gcs_test_write_file(dir, "c.json", "{\"max_in_flight\":99999999999999999999}");
    assert_int_equal(gcs_config_from_env(&cfg, env_get), 0);
    assert_int_equal(gcs_config_load_file(&cfg, f, env_get), GCS_EINVALID);
    gcs_config_release(&cfg);
    free(f);
    gcs_test_tmpdir_remove(dir);
}

/* A config file that holds a secret is refused when others may read it. */
static void config_file_with_a_secret_must_be_private(void **state)
{
    (void)state;
    fake_env = NULL;
    char *dir = gcs_test_tmpdir();
    char *f = gcs_test_write_file(dir, "c.json", "{\"client_secret\":\"file-secret-1234\"}");
    char *g = gcs_test_write_file(dir, "d.json", "{\"db\":\"postgresql://u:pw-1234@h/db\"}");
    char *h = gcs_test_write_file(dir, "e.json", "{\"db\":\"postgresql://u@h/db\"}");
    gcs_config cfg;
    assert_int_equal(gcs_config_from_env(&cfg, env_get), 0);
    chmod(f, 0644);
    assert_int_equal(gcs_config_load_file(&cfg, f, env_get), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "holds a secret and is readable by others"));
    assert_null(strstr(gcs_error_last(), "file-secret-1234"));
    chmod(g, 0604);
    assert_int_equal(gcs_config_load_file(&cfg, g, env_get), GCS_EINVALID);
    chmod(h, 0644); /* no secret in it: others may read it */
    assert_int_equal(gcs_config_load_file(&cfg, h, env_get), 0);
    chmod(f, 0600);
    assert_int_equal(gcs_config_load_file(&cfg, f, env_get), 0);
    assert_string_equal(gcs_config_get(&cfg, GCS_CFG_CLIENT_SECRET), "file-secret-1234");
    gcs_config_release(&cfg);
    free(f);
    free(g);
    free(h);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layers_override_in_order),
        cmocka_unit_test(bad_files_are_named),
        cmocka_unit_test(missing_default_file_is_fine),
        cmocka_unit_test(secrets_are_never_flags),
        cmocka_unit_test(numbers_out_of_range_are_refused_everywhere),
        cmocka_unit_test(config_file_with_a_secret_must_be_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
