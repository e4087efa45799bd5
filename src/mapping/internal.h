/*
 * internal.h - what the mapping module's files share and nobody else uses:
 * the compiled form of a profile, and the YAML/JSON tree with line numbers.
 *
 * A compiled profile is immutable after gcs_profile_load returns; map.c reads
 * it from any number of threads.
 */
#ifndef GCS_MAPPING_INTERNAL_H
#define GCS_MAPPING_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mapping/profile.h"

/* ==== Tree with line numbers (profile_yaml.c) ==== */

/* Remembers the source line of each node of a json_t tree. The singletons
 * true, false and null have no line of their own: callers use the parent's. */
typedef struct gcs_linemap gcs_linemap;

unsigned long gcs_mapping__linemap_get(const gcs_linemap *map, const json_t *node);
/* The line of an object's key, given the key pointer that json_object_foreach
 * yields (jansson's own copy of the key); 0 when unknown. */
unsigned long gcs_mapping__linemap_key(const gcs_linemap *map, const char *key);
void gcs_mapping__linemap_free(gcs_linemap *map);

/* Parses YAML (or JSON, a subset of it) into a JSON tree and its line map.
 * Anchors and aliases, tags other than the core ones, several documents and
 * duplicate keys are refused. Errors: GCS_EINVALID with "line N: why"
 * (without the file name: the caller adds it). */
int gcs_mapping__yaml_parse(json_t **out, gcs_linemap **lines, const char *data, size_t len);

/* ==== Compiled profile (profile.c) ==== */

typedef enum xf_kind {
    XF_TRIM,
    XF_LOWER,
    XF_UPPER,
    XF_SPLIT,       /* arg: separator */
    XF_JSON_LIST,   /* a JSON array text (nested JSON source values) to a list */
    XF_LOOKUP,      /* table; fallback when has_fallback */
    XF_DEFAULT,     /* arg: the value when empty */
    XF_DATE,        /* arg: input format */
    XF_PHONE,       /* arg: default country calling code */
} xf_kind;

typedef struct gcs_xf {
    xf_kind kind;
    unsigned long line;
    char *arg;
    json_t *table;      /* XF_LOOKUP: object of strings */
    char *fallback;
    bool has_fallback;
} gcs_xf;

typedef struct gcs_attr_rule {
    gcs_profile_attr pub;   /* name, target, path, sub, mode, required */
    unsigned long line;
    char *from;             /* source field, or NULL */
    char *tmpl;             /* template "{first} {last}", or NULL */
    char *constant;         /* fixed value, or NULL */
    gcs_xf *xf;
    size_t nxf;
    char *dflt;             /* value when the result is empty, or NULL */
    long min_length;        /* code points; -1: none */
    long max_length;
    double proficiency;     /* skills, languages: when an item gives none */
    char *prof_sep;         /* "Billing:4": separator between name and proficiency */
} gcs_attr_rule;

typedef enum cond_kind {
    COND_ALL,
    COND_ANY,
    COND_NOT,
    COND_EQUALS,
    COND_NOT_EQUALS,
    COND_IN,
    COND_NOT_IN,
    COND_EMPTY,
    COND_NOT_EMPTY,
} cond_kind;

typedef struct gcs_cond {
    cond_kind kind;
    unsigned long line;
    char *field;
    char **values;          /* EQUALS / NOT_EQUALS: one; IN / NOT_IN: many */
    size_t nvalues;
    struct gcs_cond *kids;  /* ALL / ANY / NOT */
    size_t nkids;
} gcs_cond;

struct gcs_profile {
    char *file;
    gcs_attr_rule *attrs;
    size_t nattrs;
    char **match;
    size_t nmatch;
    char *marker;           /* managed marker authority; NULL when turned off */
    char *phone_country;    /* default for the phone transform, or NULL */
    gcs_password_policy password;
    gcs_cond *scope;        /* NULL: every row is in scope */
    char **privileged;      /* role names whose holders the planner protects */
    size_t nprivileged;
    gcs_profile_groups groups;      /* the `groups:` section (enabled false without one) */
    unsigned long groups_line;      /* its column's line, for the field check */
};

/* Evaluates the scope condition on a row (profile.c). */
struct gcs_row;
bool gcs_mapping__cond_eval(const gcs_cond *cond, const struct gcs_row *row);

/* ==== Sources (source.c, source_csv.c, source_json.c) ==== */

#include <stdio.h>

#include "core/buf.h"
#include "mapping/row.h"
#include "mapping/source.h"

#define GCS_SOURCE_CHUNK 65536

/* One back end: `next` reads one record into the row builder and returns
 * GCS_SOURCE_ROW, GCS_SOURCE_END, GCS_EINVALID (bad row, error recorded with
 * gcs_mapping__source_bad_row) or another negative code (fatal). */
typedef struct gcs_source_ops {
    int (*start)(gcs_source *src);      /* CSV: read the header */
    int (*next)(gcs_source *src);
    void (*release)(gcs_source *src);
} gcs_source_ops;

struct gcs_source {
    char *name;
    gcs_source_format format;
    gcs_source_options opt;
    const gcs_source_ops *ops;
    void *impl;

    /* Input: a file or a borrowed memory buffer, read through one window. */
    FILE *file;
    const unsigned char *mem;
    size_t mem_len;
    unsigned char *chunk;               /* GCS_SOURCE_CHUNK bytes (file input) */
    const unsigned char *win;           /* the current window: chunk, or mem */
    size_t win_len, win_pos;
    bool eof;

    /* The row being built: values (and JSON keys) live in `store`; fields
     * hold offsets into it until gcs_mapping__source_row_finish turns them into pointers. */
    gcs_buf store;
    gcs_row_field *fields;
    size_t nfields, cap_fields;
    size_t *name_off, *value_off;       /* per field; SIZE_MAX: name is borrowed */
    gcs_row row;

    char **header;                      /* CSV */
    size_t nheader;

    gcs_row_error err;
    bool has_err;
    int fatal;                          /* sticky once set */
    bool ended;                         /* GCS_SOURCE_END was answered without a fatal error */
    unsigned long records, rejected;
};

/* Makes the next bytes available: returns 0 with win_pos < win_len, or 1 at
 * end of input, or GCS_EIO. */
int gcs_mapping__source_fill(gcs_source *src);
/* Empties the row being built. */
void gcs_mapping__source_row_reset(gcs_source *src);
/* Adds a field. `name` is borrowed when name_len is SIZE_MAX (it must outlive
 * the row: CSV header names), copied otherwise. Checks the value's size and the
 * field count; a failure is a bad row (GCS_EINVALID) recorded with
 * gcs_mapping__source_bad_row, or GCS_ENOMEM. */
int gcs_mapping__source_row_add(gcs_source *src, const char *name, size_t name_len,
                                const char *value, size_t value_len, unsigned int column,
                                unsigned long line);
/* Makes src->row point at the fields built. */
void gcs_mapping__source_row_finish(gcs_source *src, unsigned long line);
/* Records a bad row (GCS_EINVALID) and sets the thread's message. Returns GCS_EINVALID. */
int gcs_mapping__source_bad_row(gcs_source *src, unsigned long line, unsigned int column,
                                const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Records a fatal error; returns `code`. */
int gcs_mapping__source_fatal(gcs_source *src, int code, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

extern const gcs_source_ops gcs_source_csv_ops;
extern const gcs_source_ops gcs_source_json_ops;

/* ==== Values through a transform pipeline (transform.c) ==== */

/* A value is one text or a list of texts (after split, json_list, or for list
 * attributes). Items are owned. */
typedef struct gcs_vals {
    char **items;
    size_t n, cap;
    bool list;
} gcs_vals;

#define GCS_VALUE_MAX ((size_t)64 * 1024)   /* bytes in one value after a transform */
#define GCS_VALUE_ITEMS_MAX 1000            /* items in one list */

int gcs_mapping__vals_push(gcs_vals *v, const char *s, size_t len);
void gcs_mapping__vals_release(gcs_vals *v);
/* True when there is no item, or the only scalar is "". */
bool gcs_mapping__vals_empty(const gcs_vals *v);
/* Applies one transform. GCS_EINVALID with a message (no location) when an
 * item cannot be transformed; GCS_ENOMEM. */
int gcs_mapping__xf_apply(gcs_vals *v, const gcs_xf *xf);

/* ==== Validation (validate.c) ==== */

struct gcs_row_errors;
struct gcs_org_names;

/* Where a value came from, for error messages. */
typedef struct gcs_loc {
    const char *file;
    unsigned long line;
    unsigned int column;
    const char *field;      /* source field, or NULL */
    const char *attr;       /* profile attribute name */
} gcs_loc;

/* Appends "ATTR: message" at loc. Returns 0 or GCS_ENOMEM. */
int gcs_mapping__loc_error(struct gcs_row_errors *errs, const gcs_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks a non-empty final value against its target's rules and the profile's
 * lengths; appends one error per problem. Returns 0 or GCS_ENOMEM. */
int gcs_mapping__validate_attr(struct gcs_row_errors *errs, const gcs_loc *loc,
                               const gcs_attr_rule *a, const gcs_vals *v,
                               const struct gcs_org_names *org);

/* Splits "Billing:4" into a name length and a proficiency (dflt when the item
 * has no separator). GCS_EINVALID when the proficiency is not a number 0..5. */
int gcs_mapping__skill_parse(const char *item, const char *sep, double dflt, size_t *name_len,
                             double *proficiency);

/* Reads a boolean written as true/false, yes/no, 1/0 (any case). */
int gcs_mapping__bool_parse(const char *s, bool *out);

/* ==== Shared helpers ==== */

int gcs_mapping__days_in_month(int year, int month);

#endif
