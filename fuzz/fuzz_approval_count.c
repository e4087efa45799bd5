/* Fuzzes the blast-radius rule's text path, which counts an update's changes
 * from its text without a parser: whatever the text, it counts as the parsed
 * path counts (jansson reading the same members), or leaves the operation to
 * the parser. The first byte chooses the operation's other members (or, with
 * its high bit, makes the rest a whole operation, read as a plan's is: one
 * jansson reads with no repeated name); the rest is the text of "changes". */
#include "plan/internal.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tally_release(gcs_plan__tally *t)
{
    json_decref(t->clears);
    json_decref(t->changes);
}

/* The text path on texts against the parser on op (NULL: unreadable). */
static void compare(const char *const *texts, const json_t *op)
{
    gcs_plan__tally by_text = {.clears = json_object(), .changes = json_object()};
    gcs_plan__tally by_parser = {.clears = json_object(), .changes = json_object()};
    int text = gcs_plan__count_text(texts, &by_text);
    int parsed = op ? gcs_plan__count_parsed(op, &by_parser) : 0;
    if (text == 0) {
        /* left to the parser: nothing counted twice */
        if (json_object_size(by_text.clears) || json_object_size(by_text.changes) ||
            by_text.deactivations || by_text.leavers || by_text.adoptions)
            abort();
    } else if (!op || parsed != 1 || by_parser.privileged || by_parser.removals ||
               !json_equal(by_text.clears, by_parser.clears) ||
               !json_equal(by_text.changes, by_parser.changes) ||
               by_text.deactivations != by_parser.deactivations ||
               by_text.leavers != by_parser.leavers || by_text.adoptions != by_parser.adoptions) {
        abort();
    }
    tally_release(&by_text);
    tally_release(&by_parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t len = strlen(text); /* a NUL ends it, as it ends a member's text */
    if (data[0] & 0x80) {
        json_t *op = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        char *texts[GCS_PLAN__COUNTED];
        if (op && gcs_plan__member_texts_of(text, len, gcs_plan__counted_members,
                                            GCS_PLAN__COUNTED, texts) == 0) {
            compare((const char *const *)texts, op);
            for (int m = 0; m < GCS_PLAN__COUNTED; m++)
                free(texts[m]);
        }
        json_decref(op);
        free(text);
        return 0;
    }
    static const char *const others[][3] = {
        {"\"update\"", NULL, NULL},       {"\"update\"", NULL, "[]"},
        {"\"deactivate\"", "true", NULL}, {"\"deactivate\"", NULL, "[]"},
        {"\"adopt\"", NULL, NULL},        {"\"update\"", NULL, "[\"Master Admin\"]"},
        {"\"upd\\u0061te\"", NULL, NULL}, {"\"deactivate\"", "1", NULL},
    };
    const char *const *o = others[data[0] % (sizeof others / sizeof *others)];
    const char *texts[GCS_PLAN__COUNTED] = {o[0], o[1], o[2], (data[0] & 0x40) ? NULL : text};
    /* The parser's reading: each member alone, as gcs_plan_op_part_at reads them. */
    json_t *op = json_object();
    for (int m = 0; op && m < GCS_PLAN__COUNTED; m++) {
        if (!texts[m])
            continue;
        json_t *v = json_loads(texts[m], JSON_DECODE_ANY, NULL);
        if (!v) {
            json_decref(op);
            op = NULL;
        } else {
            json_object_set_new(op, gcs_plan__counted_members[m], v);
        }
    }
    compare(texts, op);
    json_decref(op);
    free(text);
    return 0;
}
