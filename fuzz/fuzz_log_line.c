/* Fuzzes the log line builder: whatever the fields hold (quotes, control bytes,
 * broken UTF-8, secrets, values far past the line's bound), a JSON line is one
 * valid JSON object within the bound, and a registered secret never shows.
 * Input: byte 0 repeats each value (1-64 times, to pass the bound), then the
 * values separated by '\n'. */
#include "core/buf.h"
#include "core/log.h"
#include "core/redact.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(gcs_log_level level, const char *line, void *payload)
{
    (void)level;
    (void)payload;
    if (strlen(line) > 64 * 1024 + 64 || strstr(line, "s3cr3t-value"))
        abort();
    json_error_t err;
    json_t *j = json_loads(line, 0, &err);
    if (!json_is_object(j))
        abort(); /* not one valid JSON object */
    json_decref(j);
}

static void drop_line(gcs_log_level level, const char *line, void *payload)
{
    (void)level;
    (void)payload;
    if (strstr(line, "s3cr3t-value"))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        gcs_redact_register("s3cr3t-value");
        gcs_log_set_level(GCS_LOG_DEBUG);
        ready = 1;
    }
    if (size < 1)
        return 0;
    size_t repeat = (size_t)(data[0] % 64) + 1;
    char *fields[4] = {NULL, NULL, NULL, NULL};
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    for (int k = 0; k < 4; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        fields[k] = malloc(n * repeat + 1);
        if (!fields[k])
            goto out;
        for (size_t r = 0; r < repeat; r++)
            memcpy(fields[k] + r * n, p, n);
        fields[k][n * repeat] = '\0';
        p = nl ? nl + 1 : end;
    }
    gcs_log_set_format(GCS_LOG_JSON);
    gcs_log_set_sink(check_line, NULL);
    GCS_INFO("fuzz", "a", fields[0], "body", fields[1], "password", fields[2], fields[3], "v");
    json_t *obj = json_pack("{s:s,s:[s]}", "text", fields[0], "list", fields[1]);
    gcs_log_json(GCS_LOG_INFO, "fuzz.json", obj);
    json_decref(obj);
    gcs_log_set_format(GCS_LOG_TEXT);
    gcs_log_set_sink(drop_line, NULL);
    GCS_INFO("fuzz", "a", fields[0], "body", fields[1]);
    gcs_log_set_sink(NULL, NULL);
out:
    for (int k = 0; k < 4; k++)
        free(fields[k]);
    return 0;
}
