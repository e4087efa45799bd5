/* A profile checked against its source: the table in tests/data/mapping/check/ (one
 * directory per case: profile.*, source.*, and `expected`, which holds "ok" or
 * the exact error message), then the collector used for standard input and
 * the bounds. */
#include "gcstest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "mapping/profile.h"
#include "mapping/source.h"

#define TABLE_DIR GCS_TEST_SOURCE_DIR "/tests/data/mapping/check"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    gcs_buf b;
    gcs_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(gcs_buf_put(&b, chunk, n), 0);
    fclose(f);
    while (b.len && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
        b.ptr[--b.len] = '\0';
    return gcs_buf_detach(&b);
}

/* The file of `dir` whose name starts with `prefix` ("profile.", "source."). */
static char *file_starting(const char *prefix)
{
    DIR *d = opendir(".");
    struct dirent *e;
    char *found = NULL;
    assert_non_null(d);
    while ((e = readdir(d))) {
        if (!strncmp(e->d_name, prefix, strlen(prefix))) {
            found = strdup(e->d_name);
            break;
        }
    }
    closedir(d);
    if (!found)
        fail_msg("no %s* file", prefix);
    return found;
}

/* One case of the table; state is the case's directory name. The names in
 * messages are the files' base names: the case runs in its directory. */
static void table_case(void **state)
{
    const char *name = *state;
    char dir[1024], here[1024];
    snprintf(dir, sizeof dir, "%s/%s", TABLE_DIR, name);
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(dir), 0);
    char *profile_path = file_starting("profile.");
    char *source_path = file_starting("source.");
    char *expected = slurp("expected");
    gcs_profile *p = NULL;
    if (gcs_profile_load(&p, profile_path) != 0)
        fail_msg("%s: %s", name, gcs_error_last());
    int rc = gcs_source_check_profile(p, source_path, GCS_SOURCE_AUTO, NULL);
    const char *got = rc == 0 ? "ok" : gcs_error_last();
    if (strcmp(got, expected) != 0)
        fail_msg("%s:\n  expected: %s\n  got:      %s (rc %d)", name, expected, got, rc);
    if (rc != 0)
        assert_int_equal(rc, GCS_EINVALID);
    gcs_profile_free(p);
    free(profile_path);
    free(source_path);
    free(expected);
    assert_int_equal(chdir(here), 0);
}

static gcs_profile *load(const char *name, const char *text)
{
    gcs_profile *p = NULL;
    if (gcs_profile_load_mem(&p, name, text, strlen(text)) != 0)
        fail_msg("%s: %s", name, gcs_error_last());
    return p;
}

static const char *const title_profile =
    "match: [externalId]\nattributes:\n  externalId: id\n  userName: email\n  title: job_title\n";

static void standard_input_is_checked_while_reading(void **state)
{
    (void)state;
    gcs_profile *p = load("hr.yaml", title_profile);
    /* "-" cannot be read twice: nothing is read, the caller collects instead. */
    assert_int_equal(gcs_source_check_profile(p, "-", GCS_SOURCE_AUTO, NULL),
                     GCS_SOURCE_CHECK_DEFERRED);

    const char *ndjson = "{\"id\": \"E1\", \"email\": \"a@example.com\"}\n"
                         "{\"id\": \"E2\", \"email\": \"b@example.com\", \"job_title\": \"x\"}\n";
    gcs_source *src;
    gcs_field_names *names;
    const gcs_row *row;
    assert_int_equal(gcs_source_open_mem(&src, "<stdin>", ndjson, strlen(ndjson),
                                         GCS_SOURCE_NDJSON, NULL), 0);
    assert_int_equal(gcs_field_names_new(&names, p, src), 0);
    assert_int_equal(gcs_field_names_check(names), GCS_EINVALID); /* nothing read yet */
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_int_equal(gcs_field_names_add_row(names, row), 0);
    assert_false(gcs_field_names_complete(names));
    assert_int_equal(gcs_field_names_check(names), GCS_EINVALID);
    assert_string_equal(gcs_error_last(),
                        "cannot use mapping profile 'hr.yaml' with '<stdin>': line 5: source "
                        "field 'job_title' is not a key of any record of the source");
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_int_equal(gcs_field_names_add_row(names, row), 0);
    assert_true(gcs_field_names_complete(names));
    assert_int_equal(gcs_field_names_check(names), 0);
    gcs_field_names_free(names);
    gcs_source_free(src);

    /* CSV: the header is known once the source is open; rows add nothing. */
    const char *csv = "id,email,jobtitle\nE1,a@example.com,x\n";
    assert_int_equal(gcs_source_open_mem(&src, "<stdin>", csv, strlen(csv), GCS_SOURCE_AUTO, NULL),
                     0);
    assert_int_equal(gcs_field_names_new(&names, p, src), 0);
    assert_int_equal(gcs_field_names_check(names), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "is not a column of the source (did you mean "
                                             "'jobtitle'?)"));
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    assert_int_equal(gcs_field_names_add_row(names, row), 0);
    assert_int_equal(gcs_field_names_check(names), GCS_EINVALID);
    gcs_field_names_free(names);
    gcs_source_free(src);
    gcs_field_names_free(NULL);
    gcs_profile_free(p);
}

/* A pipe (process substitution) is read once only: the check reads none of it. */
static void a_pipe_is_checked_while_reading(void **state)
{
    (void)state;
    gcs_profile *p = load("hr.yaml", title_profile);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    static const char csv[] = "id,email,job_title\nE1,a@example.com,x\n";
    assert_int_equal(write(fds[1], csv, sizeof csv - 1), (ssize_t)(sizeof csv - 1));
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    assert_int_equal(gcs_source_check_profile(p, path, GCS_SOURCE_AUTO, NULL),
                     GCS_SOURCE_CHECK_DEFERRED);
    char left[sizeof csv];
    assert_int_equal(read(fds[0], left, sizeof left), (ssize_t)(sizeof csv - 1));
    close(fds[0]);
    gcs_profile_free(p);
}

/* Only what can be read once is left to the real pass: a directory given as
 * the source fails the check at once, naming it. */
static void a_directory_fails_the_check(void **state)
{
    (void)state;
    gcs_profile *p = load("hr.yaml", title_profile);
    char dir[] = "/tmp/gcs-source-dir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int rc = gcs_source_check_profile(p, dir, GCS_SOURCE_AUTO, NULL);
    assert_true(rc < 0);
    assert_int_not_equal(rc, GCS_SOURCE_CHECK_DEFERRED);
    assert_non_null(strstr(gcs_error_last(), dir));
    rmdir(dir);
    gcs_profile_free(p);
}

static void check_fields_suggests_a_column(void **state)
{
    (void)state;
    gcs_profile *p = load("hr.yaml", title_profile);
    const char *header[] = {"id", "email", "Job Title"};
    assert_int_equal(gcs_profile_check_fields(p, "export.csv", header, 3), GCS_EINVALID);
    assert_string_equal(gcs_error_last(),
                        "cannot use mapping profile 'hr.yaml' with 'export.csv': line 5: source "
                        "field 'job_title' is not a column of the source (did you mean "
                        "'Job Title'?)");
    /* The closest of several wins; one edit too many suggests nothing. */
    const char *two[] = {"id", "email", "job_titel", "jb_title"};
    assert_int_equal(gcs_profile_check_fields(p, "export.csv", two, 4), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "(did you mean 'jb_title'?)"));
    const char *far[] = {"id", "email", "jxx_txxle"};
    assert_int_equal(gcs_profile_check_fields(p, "export.csv", far, 3), GCS_EINVALID);
    assert_null(strstr(gcs_error_last(), "did you mean"));
    const char *all[] = {"email", "job_title", "id"};
    assert_int_equal(gcs_profile_check_fields(p, "export.csv", all, 3), 0);
    gcs_profile_free(p);

    /* A short name never suggests an unrelated short column. */
    p = load("hr.yaml", "match: [externalId]\nattributes:\n  externalId: id\n  userName: email\n");
    const char *ab[] = {"ab", "email"};
    assert_int_equal(gcs_profile_check_fields(p, "export.csv", ab, 2), GCS_EINVALID);
    assert_null(strstr(gcs_error_last(), "did you mean"));
    gcs_profile_free(p);
}

/* The JSON pre-pass stops once every field has been met: a file whose end is
 * broken passes the check (the real pass reports the break), but not when a
 * field is still missing when the break is reached. */
static void json_pre_pass_stops_early(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    gcs_profile *p = load("hr.yaml", title_profile);
    char *path = gcs_test_write_file(dir, "users.json",
                                     "[{\"id\": \"E1\", \"email\": \"a@x.org\", \"job_title\": \"A\"}\n"
                                     " {\"id\": \"E2\"}]\n");
    assert_int_equal(gcs_source_check_profile(p, path, GCS_SOURCE_AUTO, NULL), 0);
    free(path);
    path = gcs_test_write_file(dir, "late.json",
                               "[{\"id\": \"E1\", \"email\": \"a@x.org\"}\n"
                               " {\"id\": \"E2\"} {\"job_title\": \"A\"}]\n");
    assert_int_equal(gcs_source_check_profile(p, path, GCS_SOURCE_AUTO, NULL), GCS_ERROR);
    assert_non_null(strstr(gcs_error_last(), "expected ',' or ']'"));
    free(path);
    assert_int_equal(gcs_source_check_profile(p, "/nonexistent/users.csv", GCS_SOURCE_AUTO, NULL),
                     GCS_EIO);
    gcs_profile_free(p);
    gcs_test_tmpdir_remove(dir);
}

/* Distinct names are kept for suggestions up to GCS_FIELD_NAMES_MAX; the check
 * stays exact past that bound. */
static void many_distinct_names(void **state)
{
    (void)state;
    gcs_profile *p = load("hr.yaml", title_profile);
    gcs_buf b;
    gcs_buf_init(&b, 0);
    /* One record per key, each with a name not seen before, then job_title at the end. */
    for (int i = 0; i < GCS_FIELD_NAMES_MAX + 500; i++)
        assert_int_equal(gcs_buf_printf(&b, "{\"k%d\": 1, \"id\": \"E\", \"email\": \"e\"}\n", i), 0);
    size_t before_title = b.len;
    assert_int_equal(gcs_buf_puts(&b, "{\"job_title\": \"x\"}\n"), 0);
    for (int pass = 0; pass < 2; pass++) {
        gcs_source *src;
        gcs_field_names *names;
        const gcs_row *row;
        size_t len = pass == 0 ? b.len : before_title;
        assert_int_equal(gcs_source_open_mem(&src, "big.jsonl", b.ptr, len, GCS_SOURCE_NDJSON,
                                             NULL), 0);
        assert_int_equal(gcs_field_names_new(&names, p, src), 0);
        while (gcs_source_next(&row, src) == GCS_SOURCE_ROW)
            assert_int_equal(gcs_field_names_add_row(names, row), 0);
        if (pass == 0) {
            assert_int_equal(gcs_field_names_check(names), 0);
        } else {
            assert_int_equal(gcs_field_names_check(names), GCS_EINVALID);
            assert_non_null(strstr(gcs_error_last(), "(no close name among the first 10000 "
                                                     "names of the source)"));
        }
        gcs_field_names_free(names);
        gcs_source_free(src);
    }
    gcs_buf_release(&b);
    gcs_profile_free(p);
}

int main(void)
{
    gcs_test_deadline(120);
    struct dirent **list;
    int count = scandir(TABLE_DIR, &list, NULL, alphasort);
    if (count < 0) {
        fprintf(stderr, "cannot open %s\n", TABLE_DIR);
        return 1;
    }
    struct CMUnitTest tests[64 + 5];
    char *names[64];
    size_t n = 0;
    for (int i = 0; i < count; i++) {
        const char *name = list[i]->d_name;
        if (name[0] != '.' && strcmp(name, "README.md") != 0 && n < 64) {
            names[n] = strdup(name);
            tests[n] = (struct CMUnitTest){names[n], table_case, NULL, NULL, names[n]};
            n++;
        }
        free(list[i]);
    }
    free(list);
    size_t table = n;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(standard_input_is_checked_while_reading);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(a_pipe_is_checked_while_reading);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(a_directory_fails_the_check);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(check_fields_suggests_a_column);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(json_pre_pass_stops_early);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(many_distinct_names);
    int failed = _cmocka_run_group_tests("mapping_check", tests, n, NULL, NULL);
    for (size_t i = 0; i < table; i++)
        free(names[i]);
    return failed;
}
