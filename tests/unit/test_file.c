/* gcs_file_read_small: a setting naming a FIFO, a silent pipe, a directory or a huge
 * file gets a clear error at once, never a hang. */
#include "gcstest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"

static int read_file(const char *path, bool allow_pipe, int wait_ms, size_t max, gcs_buf *b)
{
    const gcs_file_read_opts o = {
        .what = "secret file", .max = max, .allow_pipe = allow_pipe, .wait_ms = wait_ms};
    gcs_buf_init(b, 1 << 20);
    return gcs_file_read_small(path, &o, b, NULL);
}

static void regular_files_are_read_whole_and_bounded(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *path = gcs_test_write_file(dir, "s.txt", "line one\nline two\n");
    gcs_buf b;
    assert_int_equal(read_file(path, false, 0, 64, &b), 0);
    assert_string_equal(b.ptr, "line one\nline two\n");
    gcs_buf_release(&b);
    assert_int_equal(read_file(path, false, 0, 5, &b), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "s.txt' is over 5 bytes"));
    gcs_buf_release(&b);
    assert_int_equal(read_file(dir, true, 0, 64, &b), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "is not a regular file or a pipe"));
    gcs_buf_release(&b);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    assert_int_equal(read_file(missing, false, 0, 64, &b), GCS_EIO);
    assert_non_null(strstr(gcs_error_last(), "cannot read secret file"));
    gcs_buf_release(&b);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

static void a_fifo_nobody_writes_never_hangs(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    gcs_test_deadline(30); /* a blocking open would wait here for ever */
    gcs_buf b;
    assert_int_equal(read_file(fifo, false, 0, 64, &b), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "fifo' is not a regular file"));
    gcs_buf_release(&b);
    /* Allowed, a FIFO without a writer reads as empty at once. */
    assert_int_equal(read_file(fifo, true, 0, 64, &b), 0);
    assert_int_equal(b.len, 0);
    gcs_buf_release(&b);
    gcs_test_deadline(0);
    gcs_test_tmpdir_remove(dir);
}

/* Process substitution: the writer holds the pipe and writes late. */
static void a_pipe_is_read_until_its_writer_closes_or_falls_silent(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        usleep(150 * 1000);
        ssize_t w = write(fds[1], "late secret\n", 12);
        _exit(w == 12 ? 0 : 1);
    }
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    gcs_test_deadline(30);
    gcs_buf b;
    assert_int_equal(read_file(path, true, 5000, 64, &b), 0);
    assert_string_equal(b.ptr, "late secret\n");
    gcs_buf_release(&b);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);

    /* A writer that never writes nor closes: refused after wait_ms. */
    assert_int_equal(pipe(fds), 0);
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    assert_int_equal(read_file(path, true, 200, 64, &b), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "nothing written to it within 1 s"));
    gcs_buf_release(&b);
    close(fds[0]);
    close(fds[1]);
    gcs_test_deadline(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regular_files_are_read_whole_and_bounded),
        cmocka_unit_test(a_fifo_nobody_writes_never_hangs),
        cmocka_unit_test(a_pipe_is_read_until_its_writer_closes_or_falls_silent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
