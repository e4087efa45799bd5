#include "engine/row_spill.h"
#include "core/error.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends are gathered and written a chunk at a time; reads of rows in order
 * (the usual case: every pass of the planner goes through the rows in order)
 * are served from a window of the file, one pread per window. */
#define SPILL_CHUNK ((size_t)64 * 1024)
#define SPILL_WINDOW ((size_t)128 * 1024)

struct gcs_row_spill {
    int fd;
    char *dir;          /* where the file is: named by every error */
    uint64_t written;   /* bytes in the file */
    char *pending;      /* appended, not yet written: they follow `written` */
    size_t pending_len;
    char *window;
    uint64_t window_at;
    size_t window_len;
};

int gcs_row_spill_new(gcs_row_spill **out)
{
    *out = NULL;
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    gcs_row_spill *s = calloc(1, sizeof *s);
    GCS_CHECK_ALLOC(s);
    s->pending = malloc(SPILL_CHUNK);
    s->window = malloc(SPILL_WINDOW);
    s->dir = strdup(dir);
    if (!s->pending || !s->window || !s->dir) {
        free(s->pending);
        free(s->window);
        free(s->dir);
        free(s);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        /* a file system without O_TMPFILE: a named file, unlinked at once */
        char path[4096];
        snprintf(path, sizeof path, "%s/gcscim-rows-XXXXXX", dir);
        s->fd = mkostemp(path, O_CLOEXEC);
        if (s->fd >= 0)
            unlink(path);
    }
    if (s->fd < 0) {
        int e = errno;
        free(s->pending);
        free(s->window);
        free(s->dir);
        free(s);
        return gcs_error_set(GCS_EIO, "cannot make the planner's spill file in %s: %s", dir,
                             strerror(e));
    }
    *out = s;
    return 0;
}

void gcs_row_spill_free(gcs_row_spill *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s->dir);
    free(s->pending);
    free(s->window);
    free(s);
}

static int write_all(const gcs_row_spill *s, const void *p, size_t len)
{
    if (gcs_file_write_all(s->fd, p, len) < 0)
        return gcs_error_set(GCS_EIO, "cannot write the planner's spill file in %s: %s", s->dir,
                             strerror(errno));
    return 0;
}

static int flush(gcs_row_spill *s)
{
    int rc = s->pending_len ? write_all(s, s->pending, s->pending_len) : 0;
    if (rc == 0) {
        s->written += s->pending_len;
        s->pending_len = 0;
    }
    return rc;
}

int gcs_row_spill_append(gcs_row_spill *s, const void *data, size_t len, uint64_t *at)
{
    int rc = 0;
    *at = s->written + s->pending_len;
    if (s->pending_len + len > SPILL_CHUNK && (rc = flush(s)) < 0)
        return rc;
    if (len > SPILL_CHUNK) {
        if ((rc = write_all(s, data, len)) == 0)
            s->written += len;
        return rc;
    }
    memcpy(s->pending + s->pending_len, data, len);
    s->pending_len += len;
    return 0;
}

static int read_at(const gcs_row_spill *s, char *p, size_t len, uint64_t at, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s->fd, p + done, len - done, (off_t)(at + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return gcs_error_set(GCS_EIO, "cannot read back the planner's spill file in %s: %s",
                                 s->dir, strerror(errno));
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

int gcs_row_spill_read(gcs_row_spill *s, uint64_t at, size_t len, void *out)
{
    if (at + len > s->written + s->pending_len)
        return gcs_error_set(GCS_EIO,
                             "cannot read back the planner's spill file in %s: past its end", s->dir);
    if (at >= s->written) { /* not written yet */
        memcpy(out, s->pending + (at - s->written), len);
        return 0;
    }
    int rc = flush(s);
    if (rc < 0)
        return rc;
    size_t got = 0;
    if (at >= s->window_at && at + len <= s->window_at + s->window_len) {
        memcpy(out, s->window + (at - s->window_at), len);
        return 0;
    }
    if (len > SPILL_WINDOW / 2) {
        if ((rc = read_at(s, out, len, at, &got)) < 0)
            return rc;
    } else {
        s->window_len = 0;
        if ((rc = read_at(s, s->window, SPILL_WINDOW, at, &got)) < 0)
            return rc;
        s->window_at = at;
        s->window_len = got;
        if (got >= len)
            memcpy(out, s->window, len);
    }
    if (got < len)
        return gcs_error_set(GCS_EIO,
                             "cannot read back the planner's spill file in %s: it is shorter than written",
                             s->dir);
    return 0;
}

uint64_t gcs_row_spill_size(const gcs_row_spill *s)
{
    return s->written + s->pending_len;
}
