/*
 * row.h - one record of a source (a CSV line, a JSON object) and the errors
 * that name a place in a source file.
 *
 * A row is a list of fields, each a name and a string value, with where it came
 * from: the file, the line the record starts on, and for CSV the column of each
 * field. Rows handed out by a source are borrowed from it (valid until the next
 * gcs_source_next); a row can also be built by hand (tests, webhooks) since it
 * is a plain struct of pointers.
 *
 * Invariants of a row from a source: `value` is never NULL and is valid UTF-8
 * with no NUL byte; field names are unique within a row; `line` >= 1.
 *
 * A gcs_row_error says what is wrong and where: file, line, column (0 when not
 * known, e.g. JSON) and field (NULL when the whole row is concerned). Its text
 * form is
 *   hr.csv: line 12, column 4 (email): 'bob@' is not an email address
 */
#ifndef GCS_MAPPING_ROW_H
#define GCS_MAPPING_ROW_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gcs_row_field {
    const char *name;
    const char *value;      /* never NULL; "" for an empty field */
    unsigned int column;    /* CSV: 1-based column; JSON: 0 */
} gcs_row_field;

typedef struct gcs_row {
    const char *file;       /* the source's name as given when opened */
    unsigned long line;     /* 1-based line on which the record starts */
    unsigned long number;   /* 1-based ordinal of the record (bad records count too) */
    size_t count;
    const gcs_row_field *fields;
} gcs_row;

/* The field called `name`, or NULL when the row has none. Borrowed. */
const gcs_row_field *gcs_row_find(const gcs_row *row, const char *name);
/* Its value, or NULL when the row has no such field. Borrowed. */
const char *gcs_row_get(const gcs_row *row, const char *name);

typedef struct gcs_row_error {
    char *file;             /* never NULL */
    unsigned long line;     /* 0 when not known */
    unsigned int column;    /* 0 when not known */
    char *field;            /* source field name, or NULL */
    char *message;          /* one lowercase line: what is wrong */
} gcs_row_error;

/* A growable list of row errors; zero-initialised ({0}) is a valid empty list. */
typedef struct gcs_row_errors {
    gcs_row_error *items;
    size_t count;
    size_t cap;
} gcs_row_errors;

/* Appends an error (printf-style message). Returns 0 or GCS_ENOMEM. At most
 * GCS_ROW_ERRORS_MAX are kept per list; further ones are dropped, so that a
 * hostile row cannot make the list grow without bound. */
#define GCS_ROW_ERRORS_MAX 64
int gcs_row_errors_add(gcs_row_errors *list, const char *file, unsigned long line,
                       unsigned int column, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Frees every error and leaves the list empty and reusable. */
void gcs_row_errors_release(gcs_row_errors *list);

void gcs_row_error_release(gcs_row_error *e);
/* Copies `src` into `out` (deep). Returns 0 or GCS_ENOMEM. */
int gcs_row_error_copy(gcs_row_error *out, const gcs_row_error *src);

/* Writes the error's one-line text form into buf (always NUL-terminated,
 * truncated if needed). Returns buf. */
char *gcs_row_error_format(char *buf, size_t size, const gcs_row_error *e);

#endif
