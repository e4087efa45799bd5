/* Files read whole have a bound: the plan, the config file and the emulator's
 * seed are refused, with a message that names the file and the limit, when they
 * are larger (or not regular files), before anything is allocated for them.
 * The oversized files are sparse: they cost no disk and no time. */
#include "gcstest.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "emulator/emulator.h"
#include "plan/plan.h"

/* dir/name: valid JSON at the start, then zeros up to `size` bytes. */
static char *sparse_file(const char *dir, const char *name, off_t size)
{
    char *path = gcs_test_write_file(dir, name, "{}");
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
    return path;
}

static void oversized_plan_is_refused(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *path = sparse_file(dir, "huge.plan.json", GCS_PLAN_MAX_BYTES + 1);
    gcs_plan p;
    assert_int_equal(gcs_plan_read(&p, path), GCS_EINVALID);
    assert_null(p.doc);
    assert_non_null(strstr(gcs_error_last(), "huge.plan.json"));
    assert_non_null(strstr(gcs_error_last(), "at most 16384 MiB"));
    /* a directory is no plan either */
    assert_int_equal(gcs_plan_read(&p, dir), GCS_EINVALID);
    assert_int_equal(gcs_plan_read(&p, "/nonexistent/p.json"), GCS_EIO);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

static void plan_at_the_limit_is_read(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    /* A plan file within the bound gets past it to the format check. */
    char *path = gcs_test_write_file(dir, "small.plan.json", "{\"format\":\"other\"}");
    gcs_plan p;
    assert_int_equal(gcs_plan_read(&p, path), GCS_EINVALID);
    assert_null(strstr(gcs_error_last(), "at most"));
    gcs_plan_release(&p);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static void oversized_config_is_refused(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *path = sparse_file(dir, "huge.json", 1024 * 1024 + 1);
    gcs_config cfg;
    assert_int_equal(gcs_config_from_env(&cfg, no_env), 0);
    assert_int_equal(gcs_config_load_file(&cfg, path, no_env), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "huge.json"));
    assert_non_null(strstr(gcs_error_last(), "is over 1048576 bytes"));
    gcs_config_release(&cfg);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

static void oversized_seed_is_refused(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *path = sparse_file(dir, "huge.seed.json", GCS_EMU_SEED_MAX_BYTES + 1);
    json_t *seed = NULL;
    assert_int_equal(gcs_emu_seed_load(&seed, path), GCS_EINVALID);
    assert_null(seed);
    assert_non_null(strstr(gcs_error_last(), "huge.seed.json"));
    assert_non_null(strstr(gcs_error_last(), "at most 256 MiB"));
    assert_int_equal(gcs_emu_seed_load(&seed, dir), GCS_EINVALID);
    free(path);

    path = gcs_test_write_file(dir, "ok.seed.json", "{\"roles\":[]}");
    assert_int_equal(gcs_emu_seed_load(&seed, path), 0);
    assert_non_null(seed);
    json_decref(seed);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oversized_plan_is_refused),
        cmocka_unit_test(plan_at_the_limit_is_read),
        cmocka_unit_test(oversized_config_is_refused),
        cmocka_unit_test(oversized_seed_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
