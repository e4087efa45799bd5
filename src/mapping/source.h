/*
 * source.h - a streaming reader of HR exports: CSV or JSON, one row at a time.
 *
 * Formats:
 *   - CSV (RFC 4180, through libcsv): a header row naming the fields is required;
 *     header names must be non-empty and unique. Quoted fields may hold commas,
 *     quotes ("") and newlines; CRLF or LF line ends; a UTF-8 byte order mark is
 *     skipped. Every field must be valid UTF-8 without NUL bytes. A record with
 *     a different number of fields than the header is a bad row.
 *   - JSON: a top-level array of objects, or one object per line (NDJSON /
 *     JSON Lines). Element framing is scanned by hand and each element is parsed
 *     on its own (jansson), so memory holds one element, never the file.
 *     Strings stay strings; numbers and booleans become their JSON text
 *     ("42", "4.5", "true"); null becomes ""; a nested array or object is kept
 *     as its compact JSON text ("[\"a\",\"b\"]") so that a profile can split it.
 *
 * Streaming: memory use is bounded by the limits below whatever the file size.
 * Hard maximums (gcs_source_options; 0 means the default): bytes in one field
 * (64 KiB), bytes in one record (1 MiB), fields in one record (1024). A record
 * over a limit is a bad row that the reader skips, except in CSV:
 *
 * Stray quotes (CSV). A quote opened by mistake swallows every row up to the
 * next quote, and those users would look absent from the source. No resync
 * can be trusted after one, so each of these is fatal, naming the line on
 * which the quote opened:
 *   - a quoted field still open after max_field_lines lines (default 64: no
 *     field of an HR export has that many line breaks) or holding more than
 *     max_field bytes at the end of a line:
 *       export.csv: line 812: a quoted field opened here is not closed within
 *       64 lines (a stray quote?)
 *   - a quoted field still open at the end of the file;
 *   - a quoted field that ran over lines and is followed by text after its
 *     closing quote (the stray quote closed on a real one);
 *   - a record over max_record bytes.
 * A quote inside an unquoted field (ab"c), or text after the closing quote of
 * a one-line field, is a bad row: reading goes on at the next line.
 *
 * Errors: a bad row (ragged record, bad UTF-8, an element that is not an
 * object, a value over a limit, invalid JSON in one NDJSON line or one array
 * element) is reported and skipped: gcs_source_next returns GCS_EINVALID, the
 * details are in gcs_source_error(), and the next call reads the following row.
 * Only what makes the rest of the file unreadable stops it (no header, broken
 * JSON array framing, a stray CSV quote as above, an I/O error): every later
 * call returns the same code.
 *
 * A source is used by one thread at a time.
 */
#ifndef GCS_MAPPING_SOURCE_H
#define GCS_MAPPING_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "mapping/profile.h"
#include "mapping/row.h"

typedef enum gcs_source_format {
    GCS_SOURCE_AUTO = 0,    /* by extension: .csv, .json, .jsonl / .ndjson; else sniffed */
    GCS_SOURCE_CSV,
    GCS_SOURCE_JSON,        /* an array of objects, or NDJSON: told apart by the first byte */
    GCS_SOURCE_NDJSON,      /* one object per line, strictly */
} gcs_source_format;

typedef struct gcs_source_options {
    size_t max_field;       /* bytes in one value (default 64 KiB) */
    size_t max_record;      /* bytes in one record (default 1 MiB) */
    size_t max_fields;      /* fields in one record (default 1024) */
    char delimiter;         /* CSV: ',' (default), ';' (European spreadsheets), '\t', ... */
    size_t max_field_lines; /* CSV: lines one quoted field may span (default 64) */
} gcs_source_options;

#define GCS_SOURCE_MAX_FIELD_DEFAULT ((size_t)64 * 1024)
#define GCS_SOURCE_MAX_RECORD_DEFAULT ((size_t)1024 * 1024)
#define GCS_SOURCE_MAX_FIELDS_DEFAULT ((size_t)1024)
#define GCS_SOURCE_MAX_FIELD_LINES_DEFAULT ((size_t)64)

typedef struct gcs_source gcs_source;

/* gcs_source_next's answers besides the error codes. */
#define GCS_SOURCE_ROW 1    /* *out holds the next row */
#define GCS_SOURCE_END 0    /* no more rows */

/*
 * Opens `path` for reading; "-" is standard input (named "<stdin>" in rows and
 * errors; the format is given or sniffed). Nothing is read yet except, for
 * CSV, the header row: a file without a valid header fails here. `options`
 * may be NULL. Errors: GCS_EIO (cannot open), GCS_EINVALID (bad header).
 */
int gcs_source_open(gcs_source **out, const char *path, gcs_source_format format,
                    const gcs_source_options *options);

/* Same over a memory buffer (inbound webhooks, fuzzing); `name` stands for the
 * file name in rows and errors. The buffer is borrowed until gcs_source_free.
 * GCS_SOURCE_AUTO sniffs the content ('[' or '{' first: JSON, else CSV). */
int gcs_source_open_mem(gcs_source **out, const char *name, const void *data, size_t len,
                        gcs_source_format format, const gcs_source_options *options);

/*
 * Reads the next row.
 *   GCS_SOURCE_ROW (1): *out is the row, borrowed until the next call or free;
 *   GCS_SOURCE_END (0): the file is done;
 *   GCS_EINVALID: one bad row was skipped; gcs_source_error() says where and why;
 *                 call again to continue;
 *   any other negative code (GCS_ERROR for broken framing, GCS_EIO, GCS_ENOMEM):
 *                 the file cannot be read further; later calls return it again.
 * Every failure also sets the thread's error message (gcs_error_last).
 */
int gcs_source_next(const gcs_row **out, gcs_source *src);

/* The last bad row's error (file, line, column, field, why), or NULL. Borrowed:
 * valid until the next gcs_source_next. */
const gcs_row_error *gcs_source_error(const gcs_source *src);

/* The values read of the last bad row before it was found bad: all of a ragged
 * CSV record, part of others, none for broken JSON. Up to `max` pointers go to
 * out (borrowed until the next gcs_source_next); returns how many. A caller uses
 * them to protect whatever user the bad row named. */
size_t gcs_source_bad_values(const gcs_source *src, const char **out, size_t max);

/* The format in use after auto-detection. */
gcs_source_format gcs_source_get_format(const gcs_source *src);
/* The CSV header (field names in column order), or NULL/0 for JSON. Borrowed. */
const char *const *gcs_source_header(const gcs_source *src, size_t *count);
/* Records seen so far (good and bad) and bad ones among them. */
unsigned long gcs_source_records(const gcs_source *src);
unsigned long gcs_source_rejected(const gcs_source *src);

/*
 * Was the file read to its end cleanly? True only once gcs_source_next has
 * answered GCS_SOURCE_END and no fatal error stopped the source: false while
 * rows remain unread, and for good after a fatal error (a stray quote, broken
 * framing, an I/O error). Bad rows do not make it false; they are counted by
 * gcs_source_rejected. A reader that plans deactivations from the rows it did
 * not see needs both: clean, and nothing rejected.
 */
bool gcs_source_clean(const gcs_source *src);

void gcs_source_free(gcs_source *src);

/* ==== A profile checked against its source ====
 *
 * Every source field a profile reads (`from`, template fields, scope fields)
 * must be a field of the source, or the run would map an empty value for every
 * row. A source "has" a field when:
 *   - CSV: it is a column of the header;
 *   - JSON, NDJSON: it is a key of at least one good record of the file (a
 *     sparse field, present in a single record, is known; bad records count
 *     for nothing).
 * A missing field is GCS_EINVALID naming the profile and its line, the field,
 * the source, and the closest name of the source when one is close enough
 * (edit distance ignoring case, '_', '-' and blanks, at most max(2, len/3)):
 *   cannot use mapping profile 'hr.yaml' with 'export.csv': line 7: source
 *   field 'jobtitle' is not a column of the source (did you mean 'job_title'?)
 * Only suggestions are bounded: the first GCS_FIELD_NAMES_MAX distinct names
 * (of at most 256 bytes) are kept for them; the check itself is exact. */

/* Answer of gcs_source_check_profile for standard input ("-") and any path that
 * is not a regular file (a pipe, a FIFO), which cannot be read twice: nothing
 * was read or checked; collect names while reading instead. */
#define GCS_SOURCE_CHECK_DEFERRED 1
#define GCS_FIELD_NAMES_MAX 10000

/*
 * The one check the planner makes before reading anything from Genesys. Opens
 * `path` (format and options as for gcs_source_open) and checks `profile`
 * against it: CSV by its header; JSON by a streaming pre-pass that stops as
 * soon as every field the profile reads has been met (usually the first record)
 * or at the end of the file. Returns 0; GCS_SOURCE_CHECK_DEFERRED for "-" or
 * a path that can be read once only (a FIFO or pipe, a socket, a terminal: check
 * with a gcs_field_names while reading); GCS_EINVALID for a missing
 * field (message above) or a bad CSV header; any error of opening or reading
 * the source that stops it (GCS_EIO, GCS_ERROR for broken framing, ...).
 */
int gcs_source_check_profile(const gcs_profile *profile, const char *path,
                             gcs_source_format format, const gcs_source_options *options);

/*
 * A collector of the field names of a source being read, for a source that
 * cannot be read twice (standard input):
 *
 *     gcs_field_names_new(&names, profile, src);    after gcs_source_open
 *     gcs_field_names_check(names);                 CSV: may be checked at once
 *     ... for each row: gcs_field_names_add_row(names, row);
 *     gcs_field_names_check(names);                 JSON: at GCS_SOURCE_END
 *
 * For CSV the header is taken at creation and add_row does nothing. `profile`
 * is borrowed: it must outlive the collector. Memory is bounded as said above.
 */
typedef struct gcs_field_names gcs_field_names;

/* GCS_ENOMEM is the only error. */
int gcs_field_names_new(gcs_field_names **out, const gcs_profile *profile, const gcs_source *src);
/* `name` need not be met: the reader will not use it (the groups column of a
 * plan of named people, which plans no groups). */
void gcs_field_names_excuse(gcs_field_names *names, const char *name);
/* Adds the names of a good row. Returns 0 or GCS_ENOMEM. */
int gcs_field_names_add_row(gcs_field_names *names, const gcs_row *row);
/* True when every field the profile reads has been met. */
bool gcs_field_names_complete(const gcs_field_names *names);
/* CSV: the names are the header's columns, known before any row. */
bool gcs_field_names_are_columns(const gcs_field_names *names);
/* 0, or GCS_EINVALID naming the first missing field (in profile order). */
int gcs_field_names_check(const gcs_field_names *names);
void gcs_field_names_free(gcs_field_names *names);

/* "csv", "json", "ndjson", "auto". */
const char *gcs_source_format_name(gcs_source_format format);
/* Parses a format name (as given to --format); GCS_EINVALID when unknown. */
int gcs_source_format_parse(gcs_source_format *out, const char *name);

#endif
