#include "mapping/row.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const gcs_row_field *gcs_row_find(const gcs_row *row, const char *name)
{
    /* Rows are narrow (tens of fields) and looked up a few times each: a linear
     * scan beats building an index per row. */
    for (size_t i = 0; i < row->count; i++) {
        if (strcmp(row->fields[i].name, name) == 0)
            return &row->fields[i];
    }
    return NULL;
}

const char *gcs_row_get(const gcs_row *row, const char *name)
{
    const gcs_row_field *f = gcs_row_find(row, name);
    return f ? f->value : NULL;
}

void gcs_row_error_release(gcs_row_error *e)
{
    if (!e)
        return;
    free(e->file);
    free(e->field);
    free(e->message);
    memset(e, 0, sizeof *e);
}

int gcs_row_error_copy(gcs_row_error *out, const gcs_row_error *src)
{
    memset(out, 0, sizeof *out);
    out->line = src->line;
    out->column = src->column;
    out->file = strdup(src->file ? src->file : "");
    out->message = strdup(src->message ? src->message : "");
    out->field = src->field ? strdup(src->field) : NULL;
    if (!out->file || !out->message || (src->field && !out->field)) {
        gcs_row_error_release(out);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

int gcs_row_errors_add(gcs_row_errors *list, const char *file, unsigned long line,
                       unsigned int column, const char *field, const char *fmt, ...)
{
    if (list->count >= GCS_ROW_ERRORS_MAX)
        return 0;
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 4;
        gcs_row_error *items = realloc(list->items, cap * sizeof *items);
        GCS_CHECK_ALLOC(items);
        list->items = items;
        list->cap = cap;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    gcs_row_error *e = &list->items[list->count];
    memset(e, 0, sizeof *e);
    e->line = line;
    e->column = column;
    e->file = strdup(file ? file : "");
    e->message = strdup(msg);
    e->field = field ? strdup(field) : NULL;
    if (!e->file || !e->message || (field && !e->field)) {
        gcs_row_error_release(e);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    list->count++;
    return 0;
}

void gcs_row_errors_release(gcs_row_errors *list)
{
    for (size_t i = 0; i < list->count; i++)
        gcs_row_error_release(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

char *gcs_row_error_format(char *buf, size_t size, const gcs_row_error *e)
{
    char where[160] = "";
    size_t n = 0;
    if (e->line)
        n += (size_t)snprintf(where + n, sizeof where - n, ": line %lu", e->line);
    if (e->column && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "%s column %u", e->line ? "," : ":",
                              e->column);
    if (e->field && n < sizeof where)
        snprintf(where + n, sizeof where - n, "%s(%s)", n ? " " : ": ", e->field);
    snprintf(buf, size, "%s%s: %s", e->file ? e->file : "", where,
             e->message ? e->message : "");
    return buf;
}
