/* Fuzzes the JSON source: array framing, NDJSON lines, UTF-8 checks, limits,
 * and the collector of field names checked against a fixed profile.
 * Small limits so that the size checks are reached with small inputs. */
#include "core/error.h"
#include "mapping/source.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gcs_source_options opt = {.max_field = 64, .max_record = 256, .max_fields = 16};
    gcs_source *src;
    if (gcs_source_open_mem(&src, "fuzz.json", data, size, GCS_SOURCE_JSON, &opt) != 0)
        return 0;
    /* The names of the records are collected as for standard input. */
    static gcs_profile *profile;
    static const char text[] = "match: [externalId]\nscope: {field: status, equals: a}\n"
                               "attributes:\n  externalId: id\n  userName: email\n"
                               "  displayName: {template: \"{first} {last}\"}\n";
    if (!profile && gcs_profile_load_mem(&profile, "fuzz.yaml", text, sizeof text - 1) != 0)
        __builtin_trap();
    gcs_field_names *names = NULL;
    if (gcs_field_names_new(&names, profile, src) != 0)
        __builtin_trap();
    const gcs_row *row;
    int rc, budget = 100000;
    while ((rc = gcs_source_next(&row, src)) != GCS_SOURCE_END && budget-- > 0) {
        if (rc == GCS_SOURCE_ROW) {
            if (gcs_field_names_add_row(names, row) != 0)
                __builtin_trap();
            /* Touch every byte: the sanitizers check that the row is sound. */
            for (size_t i = 0; i < row->count; i++) {
                if (strlen(row->fields[i].value) > opt.max_field)
                    __builtin_trap();
            }
        } else if (rc != GCS_EINVALID) {
            break; /* fatal: later calls must say the same */
        }
    }
    /* Read to the end cleanly exactly when END came; a fatal error stays. */
    if (rc == GCS_SOURCE_END && !gcs_source_clean(src))
        __builtin_trap();
    if (rc < 0 && rc != GCS_EINVALID &&
        (gcs_source_clean(src) || gcs_source_next(&row, src) != rc))
        __builtin_trap();
    if (gcs_field_names_check(names) == 0 && !gcs_field_names_complete(names))
        __builtin_trap();
    gcs_field_names_free(names);
    gcs_source_free(src);
    return 0;
}
