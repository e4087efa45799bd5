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

#endif
