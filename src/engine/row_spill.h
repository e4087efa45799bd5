/*
 * row_spill.h - records kept out of memory while a plan is made: an
 * append-only, unlinked file of this process's own, written in large chunks
 * and read back through a window.
 *
 * The planner keeps each mapped row's strings (its key, match values, manager
 * key, the desired user's text) here from the moment the row is mapped until it
 * is decided, so that what a million rows hold in memory is a few words each
 * (engine/planner.c), and each user read from Genesys its text, read back for
 * the few users a row changes (engine/current_user.h). Records are opaque bytes, readable only by the process
 * that wrote them. What is written is never rewritten: reading between appends
 * is safe, and the file is gone when it is closed (or the process ends).
 */
#ifndef GCS_ENGINE_ROW_SPILL_H
#define GCS_ENGINE_ROW_SPILL_H

#include <stddef.h>
#include <stdint.h>

typedef struct gcs_row_spill gcs_row_spill;

/* An empty spill file in $TMPDIR (else /tmp). GCS_EIO naming the directory
 * when no file can be made there. */
int gcs_row_spill_new(gcs_row_spill **out);
/* Closes (and so removes) the file. Accepts NULL. */
void gcs_row_spill_free(gcs_row_spill *s);

/* Every failure below is GCS_EIO with a message naming the spill file (its
 * directory) and the system's reason. */

/* Appends len bytes; *at is where they start, for gcs_row_spill_read. */
int gcs_row_spill_append(gcs_row_spill *s, const void *data, size_t len, uint64_t *at);

/* Reads the len bytes at `at` (as appended) into out. GCS_EIO when they cannot
 * be read back. */
int gcs_row_spill_read(gcs_row_spill *s, uint64_t at, size_t len, void *out);

/* Bytes appended so far. */
uint64_t gcs_row_spill_size(const gcs_row_spill *s);

#endif
