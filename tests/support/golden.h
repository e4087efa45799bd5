/*
 * golden.h - outputs compared whole with a file ("golden"), and the normaliser
 * that makes two runs of the same test print the same text.
 *
 * The normaliser replaces, in this order (tests/unit/test_golden.c pins each):
 *   1. the scenario's own directory by {data}, its temporary directory by {tmp};
 *   2. run ids (20261130T081237Z-d09d13c4) by {run};
 *   3. times (2026-11-30T08:12:37.453Z, with a space for the T, an offset, no
 *      fraction) by {time};
 *   4. UUIDs (Genesys ids: lower-case 8-4-4-4-12 hex) by {id};
 *   5. 64 hex digits (plan identities, seals, digests) by {digest};
 *   6. ":PORT", the emulator's port, by ":{port}";
 *   7. durations (0.25 s, 12ms, 599 s: a number and "s" or "ms" as a word) by
 *      {duration};
 *   8. rates (12.5/s) by {rate}.
 * Patterns 4 to 8 match whole words only: "E1", "1 skipped" and a 63-digit
 * hex string are left alone. Nothing else varies between two runs against the
 * emulator as long as the run is ordered (one request in flight when the
 * order of the outcomes shows).
 *
 * GCS_UPDATE_GOLDEN=1 in the environment makes gcs_test_golden_check rewrite the
 * file from what was got instead of comparing.
 */
#ifndef GCS_TESTS_GOLDEN_H
#define GCS_TESTS_GOLDEN_H

#include <stdbool.h>

typedef struct gcs_test_golden_vars {
    const char *data; /* replaced by {data}; NULL: none */
    const char *tmp;  /* replaced by {tmp}; NULL: none */
    int port;         /* ":PORT" replaced by ":{port}"; 0: none */
} gcs_test_golden_vars;

/* The normalised copy of `text` (malloc'd; never NULL: allocation failures fail
 * the test). `vars` may be NULL. */
char *gcs_test_golden_normalise(const char *text, const gcs_test_golden_vars *vars);

/* Is GCS_UPDATE_GOLDEN=1 set? */
bool gcs_test_golden_updating(void);

/* Compares `got` with the content of `path`, or, when updating, writes `got` to
 * `path`. Returns NULL when they are equal (or the file was rewritten), else a
 * message (malloc'd) naming the first line that differs and showing both
 * texts whole. A missing file differs from any text. */
char *gcs_test_golden_check(const char *path, const char *got);

#endif
