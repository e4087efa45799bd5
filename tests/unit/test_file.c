/* gcs_file_read_small: a setting naming a FIFO, a silent pipe, a directory or a huge
 * file gets a clear error at once, never a hang. gcs_file_write_all and
 * gcs_memory_feed_fill: every byte, whatever the pieces. */
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

/* A pipe takes at most its capacity at once: the writer must go on after short writes. */
static void write_all_writes_every_byte_through_short_writes(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const size_t len = 1 << 20; /* larger than a pipe's default 64 KiB */
    char *data = malloc(len), *got = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7 + i / 251);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        _exit(gcs_file_write_all(fds[1], data, len) == 0 ? 0 : 1);
    }
    close(fds[1]);
    size_t have = 0;
    for (ssize_t n; (n = read(fds[0], got + have, len - have)) > 0;)
        have += (size_t)n;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(have, len);
    assert_memory_equal(got, data, len);
    assert_int_equal(gcs_file_write_all(-1, "x", 1), -1);
    free(data);
    free(got);
}

static void a_memory_feed_hands_out_the_text_in_pieces_then_nothing(void **state)
{
    (void)state;
    const char *text = "0123456789abcdef";
    gcs_memory_feed m = {text, strlen(text), 0};
    char buf[8], all[32] = {0};
    size_t n, have = 0;
    while ((n = gcs_memory_feed_fill(buf, 5, &m)) > 0) {
        assert_true(n <= 5);
        memcpy(all + have, buf, n);
        have += n;
    }
    assert_int_equal(have, strlen(text));
    assert_string_equal(all, text);
    assert_int_equal(gcs_memory_feed_fill(buf, sizeof buf, &m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regular_files_are_read_whole_and_bounded),
        cmocka_unit_test(a_fifo_nobody_writes_never_hangs),
        cmocka_unit_test(a_pipe_is_read_until_its_writer_closes_or_falls_silent),
        cmocka_unit_test(write_all_writes_every_byte_through_short_writes),
        cmocka_unit_test(a_memory_feed_hands_out_the_text_in_pieces_then_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
