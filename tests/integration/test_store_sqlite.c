/* The store's suite on SQLite (a new file per test), plus what only SQLite has:
 * the default location under the user's state directory. */
#include "store_suite.h"

#include <sys/stat.h>

static int fixture_open(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    if (asprintf(&f->url, "sqlite:%s/gcscim.db", f->dir) < 0)
        return -1;
    if (gcs_store_open(&f->s, f->url) != 0) {
        fprintf(stderr, "cannot open %s: %s\n", f->url, gcs_error_last());
        return -1;
    }
    *state = f;
    return 0;
}

static int fixture_close(void **state)
{
    fixture *f = *state;
    gcs_store_free(f->s);
    gcs_test_tmpdir_remove(f->dir);
    free(f->url);
    free(f);
    return 0;
}

static void default_location_is_under_xdg_state_home(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *url = NULL, *expect = NULL;
    setenv("XDG_STATE_HOME", dir, 1);
    assert_int_equal(gcs_store_default_url(&url), 0);
    assert_true(asprintf(&expect, "sqlite:%s/gcscim/gcscim.db", dir) > 0);
    assert_string_equal(url, expect);
    free(url);
    free(expect);

    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, NULL), 0);
    assert_string_equal(gcs_store_backend(s), "sqlite");
    gcs_store_free(s);
    char *sub = NULL;
    assert_true(asprintf(&sub, "%s/gcscim", dir) > 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    free(sub);

    /* A relative XDG_STATE_HOME is ignored, as the XDG rules say. */
    setenv("XDG_STATE_HOME", "relative/dir", 1);
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(gcs_store_default_url(&url), 0);
    assert_string_equal(url, "sqlite:/home/someone/.local/state/gcscim/gcscim.db");
    free(url);
    unsetenv("XDG_STATE_HOME");
    gcs_test_tmpdir_remove(dir);
}

static void a_store_written_by_another_program_is_refused_clearly(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *file = gcs_test_write_file(dir, "not.db", "this is not a database, just text\n");
    char *url = NULL;
    assert_true(asprintf(&url, "sqlite:%s", file) > 0);
    gcs_store *s = NULL;
    assert_true(gcs_store_open(&s, url) < 0);
    assert_null(s);
    assert_non_null(strstr(gcs_error_last(), "not.db"));
    free(url);
    free(file);
    gcs_test_tmpdir_remove(dir);
}

static mode_t mode_of(const char *dir, const char *name)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &st) != 0)
        fail_msg("no %s", path);
    return st.st_mode & 0777;
}

/* The database holds personal data: it and its side files are private whatever
 * the umask, and a file others can read is tightened. */
static void the_database_file_is_private(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *url = NULL;
    assert_true(asprintf(&url, "sqlite:%s/gcscim.db", dir) > 0);
    mode_t old = umask(022);
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, url), 0);
    gcs_receipt r = {.operation = "read", .status = 200};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_int_equal(gcs_store_flush(s), 0);
    assert_int_equal(mode_of(dir, "gcscim.db"), 0600);
    assert_int_equal(mode_of(dir, "gcscim.db-wal"), 0600);
    assert_int_equal(mode_of(dir, "gcscim.db-shm"), 0600);
    gcs_store_free(s);

    char path[1024];
    snprintf(path, sizeof path, "%s/gcscim.db", dir);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(gcs_store_open(&s, url), 0);
    assert_int_equal(mode_of(dir, "gcscim.db"), 0600);
    gcs_store_free(s);
    umask(old);
    free(url);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    gcs_test_deadline(240);
    const struct CMUnitTest tests[] = {
        STORE_SUITE_TESTS,
        cmocka_unit_test(default_location_is_under_xdg_state_home),
        cmocka_unit_test(a_store_written_by_another_program_is_refused_clearly),
        cmocka_unit_test(the_database_file_is_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
