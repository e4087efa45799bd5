/*
 * progress.h - progress of a long run, for people.
 *
 * On a terminal: one line redrawn at most ten times a second with done/total,
 * rate, time left and errors. Elsewhere (a pipe, a CI log): nothing here; the
 * caller prints one line per event instead. Rates are measured over the whole
 * run so far, which is steady enough for a paced run.
 */
#ifndef GCS_CLI_PROGRESS_H
#define GCS_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct gcs_progress {
    FILE *out;
    bool tty;
    long total;
    long done;
    long errors;
    int64_t started_ms;
    int64_t drawn_ms;
    bool drawn;
} gcs_progress;

void gcs_progress_init(gcs_progress *p, FILE *out, long total);
void gcs_progress_update(gcs_progress *p, long done, long errors);
/* Clears the line so that other output can be printed cleanly. */
void gcs_progress_clear(gcs_progress *p);
void gcs_progress_finish(gcs_progress *p);

#endif
