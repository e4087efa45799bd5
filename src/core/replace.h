/*
 * replace.h - writing a file whole in place of another, leaving nothing behind.
 *
 * The new file is written where nobody sees it, synced, then renamed over the old
 * one: the file is whole or absent (the old one stays), never half written. A writer
 * killed on the way (kill -9, SIGXFSZ at a size limit, a machine that stops) leaves
 * no temporary file next to it: the text goes into an inode without a name
 * (O_TMPFILE, in the file's directory), named only once written and synced, under
 * PATH.tmp.HOST.PID.RANDOM, which is renamed over PATH at once. Where O_TMPFILE or
 * /proc is not available, the temporary name is created first and written under.
 * Either way, a temporary name of PATH whose process is gone (on this host) is
 * removed when PATH is next replaced: that name could only be left by a writer
 * killed between two system calls, or by one without O_TMPFILE.
 */
#ifndef GCS_CORE_REPLACE_H
#define GCS_CORE_REPLACE_H

#include <stdio.h>
#include <sys/types.h>

/* Writes the new file's text to f: 0, or a negative code with the error set. */
typedef int (*gcs_replace_write_fn)(FILE *f, void *payload);

/* Replaces `path` with what `write` writes, made with `mode` (0600 for a file that
 * may hold personal data). 0, or GCS_EIO naming `what` and `path` ("cannot write
 * plan 'p.json': ..."), or what `write` returned (its message prefixed alike);
 * on failure the old file is as it was and no temporary name is left. */
int gcs_file_replace(const char *path, mode_t mode, const char *what, gcs_replace_write_fn write,
                     void *payload);

#endif
