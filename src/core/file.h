/*
 * file.h - reading a small file named by a setting (a config file, a secret, the
 * notify file) without ever waiting forever.
 *
 * A plain open(2) of a FIFO blocks until something opens its other end, and a read of
 * a terminal blocks until a line is typed: a setting that names one by mistake (or a
 * hostile one) would hang every command that reads it. Files are opened non-blocking;
 * a regular file is read whole; a pipe is read only when the caller allows it (a
 * secret from process substitution, `--client-secret-file <(vault read ...)`), and then
 * for at most `wait_ms` without data, and a pipe nobody writes to reads as empty;
 * anything else (directory, device, socket) is refused, naming the file.
 *
 * Also the two small helpers every module that streams text needs alike: writing all
 * of a buffer to a descriptor, and handing out a text in memory in pieces to a reader
 * that takes a feed (the plan reader, the store's plan parts).
 */
#ifndef GCS_CORE_FILE_H
#define GCS_CORE_FILE_H

#include "core/buf.h"
#include <stdbool.h>
#include <sys/stat.h>

typedef struct gcs_file_read_opts {
    const char *what;  /* names the file in errors: "secret file", "notify file" */
    size_t max;        /* refused when longer */
    bool allow_pipe;   /* read a pipe (until its writer closes it) */
    int wait_ms;       /* how long a pipe may stay silent; 0 means 10 s */
} gcs_file_read_opts;

/* Appends the file's bytes to out (init it first; a secure buffer for secrets) and,
 * when st is not NULL, stores what fstat said of it. Errors name o->what and path:
 * GCS_EIO (cannot open or read), GCS_EINVALID (not a regular file or allowed pipe,
 * longer than max, a pipe silent past wait_ms). */
int gcs_file_read_small(const char *path, const gcs_file_read_opts *o, gcs_buf *out,
                        struct stat *st);

/* Writes all len bytes, going on after EINTR and short writes: 0, or -1 with errno. */
int gcs_file_write_all(int fd, const void *p, size_t len);

/* A text in memory read in pieces: gcs_memory_feed_fill has the shape of a feed
 * (size_t feed(char *buf, size_t size, void *payload)), its payload a
 * gcs_memory_feed; it copies up to size bytes from pos on and returns how many. */
typedef struct gcs_memory_feed {
    const char *text;
    size_t len, pos;
} gcs_memory_feed;
size_t gcs_memory_feed_fill(char *buf, size_t size, void *payload);

#endif
