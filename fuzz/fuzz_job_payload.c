/* Fuzzes the workers' reading of a job's payload (service/workers.h): any
 * payload in the store is acted on only when it names a person, an event and a
 * row that fit together, or a group whose key is the payload's, with
 * well-formed approvals; anything else is refused with a message, never
 * half-read. */
#include "core/error.h"
#include "service/workers.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *doc = NULL;
    gcs_sync_subject sub;
    gcs_plan_options plan;
    gcs_plan_options_init(&plan);
    int rc = gcs_workers_read_payload(&doc, &sub, &plan, text);
    if (rc == 0) {
        assert(doc && sub.key && *sub.key);
        assert(!sub.row || json_is_object(sub.row));
        assert(plan.approval_count <= GCS_PLAN_APPROVALS_MAX);
    } else {
        assert(!doc && rc < 0 && *gcs_error_last());
    }
    json_decref(doc);

    const json_t *group = NULL;
    gcs_plan_options_init(&plan);
    rc = gcs_workers_read_group_payload(&doc, &group, &plan, text);
    if (rc == 0) {
        assert(doc && json_is_object(group) &&
               json_is_array(json_object_get(group, "members")) &&
               json_string_value(json_object_get(group, "key")));
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(group, "members"), i, m)
            assert(json_string_value(m) && *json_string_value(m));
        assert(plan.approval_count <= GCS_PLAN_APPROVALS_MAX);
    } else {
        assert(!doc && !group && rc < 0 && *gcs_error_last());
    }
    json_decref(doc);
    free(text);
    return 0;
}
