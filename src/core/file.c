#include "core/file.h"
#include "core/error.h"
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static int read_all(int fd, const char *path, const gcs_file_read_opts *o, bool pipe,
                    gcs_buf *out)
{
    char chunk[4096];
    int wait_ms = o->wait_ms > 0 ? o->wait_ms : 10000;
    size_t total = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && pipe && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = poll(&p, 1, wait_ms);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                rc = gcs_error_set(GCS_EINVALID, "%s '%s': nothing written to it within %d s",
                                   o->what, path, (wait_ms + 999) / 1000);
                break;
            }
            continue;
        }
        if (n < 0) {
            rc = gcs_error_set(GCS_EIO, "cannot read %s '%s': %s", o->what, path,
                               strerror(errno));
            break;
        }
        total += (size_t)n;
        if (total > o->max || gcs_buf_put(out, chunk, (size_t)n) < 0) {
            rc = gcs_error_set(GCS_EINVALID, "%s '%s' is over %zu bytes", o->what, path, o->max);
            break;
        }
    }
    explicit_bzero(chunk, sizeof chunk);
    return rc;
}

int gcs_file_read_small(const char *path, const gcs_file_read_opts *o, gcs_buf *out,
                        struct stat *st)
{
    struct stat s;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return gcs_error_set(GCS_EIO, "cannot read %s '%s': %s", o->what, path, strerror(errno));
    if (fstat(fd, &s) < 0) {
        int e = errno;
        close(fd);
        return gcs_error_set(GCS_EIO, "cannot read %s '%s': %s", o->what, path, strerror(e));
    }
    bool pipe = S_ISFIFO(s.st_mode);
    if (!S_ISREG(s.st_mode) && !(pipe && o->allow_pipe)) {
        close(fd);
        return gcs_error_set(GCS_EINVALID, "%s '%s' is not a regular file%s", o->what, path,
                             o->allow_pipe ? " or a pipe" : "");
    }
    if (S_ISREG(s.st_mode) && (uintmax_t)s.st_size > o->max) {
        close(fd);
        return gcs_error_set(GCS_EINVALID, "%s '%s' is over %zu bytes", o->what, path, o->max);
    }
    int rc = read_all(fd, path, o, pipe, out);
    close(fd);
    if (rc == 0 && st)
        *st = s;
    return rc;
}

int gcs_file_write_all(int fd, const void *p, size_t len)
{
    const char *at = p;
    while (len > 0) {
        ssize_t w = write(fd, at, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        at += w;
        len -= (size_t)w;
    }
    return 0;
}

size_t gcs_memory_feed_fill(char *buf, size_t size, void *payload)
{
    gcs_memory_feed *m = payload;
    size_t n = m->len - m->pos < size ? m->len - m->pos : size;
    memcpy(buf, m->text + m->pos, n);
    m->pos += n;
    return n;
}
