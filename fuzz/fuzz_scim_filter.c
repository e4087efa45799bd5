/* Fuzzes the SCIM filter parser and evaluator, the PATCH path parser, and the
 * PATCH engine with the input as a path: none may crash, leak or loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc_text[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\","
    "\"userName\":\"ann@example.com\",\"displayName\":\"Ann\",\"active\":true,\"title\":\"Agent\","
    "\"emails\":[{\"type\":\"work\",\"value\":\"ann@example.com\",\"primary\":true}],"
    "\"phoneNumbers\":[{\"type\":\"mobile\",\"value\":\"+33612345678\"}],\"roles\":[{\"value\":\"Agent\"}],"
    "\"members\":[{\"value\":\"u2\"}],"
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"division\":\"Home\",\"manager\":{\"value\":\"u2\"}},"
    "\"urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User\":{\"externalIds\":[{\"authority\":\"a\",\"value\":\"b\"}],"
    "\"routingSkills\":[{\"name\":\"Billing\",\"proficiency\":3}]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *doc = json_loads(doc_text, 0, NULL);

    char err[256];
    scim_filter *f = gcs_scim_filter_parse(text, err, sizeof err);
    if (f) {
        gcs_scim_filter_match(f, doc);
        json_t *terms = json_object();
        gcs_scim_filter_eq_terms(f, terms);
        json_decref(terms);
        gcs_scim_filter_eq_value(f, "userName");
        gcs_scim_filter_free(f);
    }
    json_t *vals = json_array();
    gcs_scim_attr_values(doc, text, vals);
    json_decref(vals);

    scim_path p;
    if (gcs_scim_path_parse(&p, text, err, sizeof err) == 0)
        gcs_scim_path_release(&p);

    static const char *const ops[] = {"add", "replace", "remove"};
    for (size_t i = 0; i < 3; i++) {
        json_t *body = json_pack("{s:[{s:s,s:s,s:[{s:s}]}]}", "Operations", "op", ops[i], "path",
                                 text, "value", "value", "u3");
        if (!body) /* not UTF-8: jansson refuses it, and so would the server */
            continue;
        for (int k = 0; k < 2; k++) {
            json_t *copy = gcs_emu_json_copy(doc);
            scim_patch_error perr;
            gcs_scim_patch_apply(copy, body, k ? "Group" : "User", &perr);
            char *out = gcs_emu_json_text(copy);
            free(out);
            json_decref(copy);
        }
        json_decref(body);
    }
    json_t *proj = gcs_emu_project(doc, text, text);
    json_decref(proj);
    json_decref(doc);
    free(text);
    return 0;
}
