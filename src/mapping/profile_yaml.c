/*
 * YAML (and JSON, read as YAML) into a jansson tree, remembering each node's line.
 *
 * libyaml's event parser builds the tree with an explicit stack (bounded depth,
 * no recursion on input). Plain scalars are typed with the YAML 1.2 JSON-like
 * rules, not YAML 1.1's: only true/false are booleans (so a country code "NO"
 * stays a string), and numbers with leading zeros stay strings ("0044").
 * Anchors and aliases are refused: a profile has no use for them and they are
 * the way to make a small file expand without bound.
 */
#include "mapping/internal.h"

#include "core/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEPTH_MAX 64

/* ==== Line map: an open-addressing table from node pointer to line ==== */

typedef struct line_slot {
    const json_t *node;
    unsigned long line;
} line_slot;

struct gcs_linemap {
    line_slot *slots;
    size_t cap;       /* a power of two */
    size_t count;
};

static size_t slot_of(const gcs_linemap *m, const json_t *node)
{
    uint64_t h = (uint64_t)(uintptr_t)node * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (m->cap - 1);
}

static int linemap_put(gcs_linemap *m, const json_t *node, unsigned long line)
{
    if (node == json_true() || node == json_false() || node == json_null())
        return 0; /* shared singletons: their line is the parent's */
    if ((m->count + 1) * 2 > m->cap) {
        gcs_linemap bigger = {NULL, m->cap ? m->cap * 2 : 64, 0};
        bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
        GCS_CHECK_ALLOC(bigger.slots);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].node)
                linemap_put(&bigger, m->slots[i].node, m->slots[i].line);
        }
        free(m->slots);
        *m = bigger;
    }
    size_t i = slot_of(m, node);
    while (m->slots[i].node && m->slots[i].node != node)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].node)
        m->count++;
    m->slots[i].node = node;
    m->slots[i].line = line;
    return 0;
}

unsigned long gcs_mapping__linemap_get(const gcs_linemap *m, const json_t *node)
{
    if (!m || !node || !m->cap)
        return 0;
    size_t i = slot_of(m, node);
    while (m->slots[i].node) {
        if (m->slots[i].node == node)
            return m->slots[i].line;
        i = (i + 1) & (m->cap - 1);
    }
    return 0;
}

unsigned long gcs_mapping__linemap_key(const gcs_linemap *m, const char *key)
{
    return gcs_mapping__linemap_get(m, (const json_t *)(const void *)key);
}

void gcs_mapping__linemap_free(gcs_linemap *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

/* ==== Scalars ==== */

static bool matches_int(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        return s[1] == '\0';
    if (*s < '1' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    return *s == '\0';
}

static bool matches_float(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    bool frac_or_exp = false;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        frac_or_exp = true;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        frac_or_exp = true;
    }
    return frac_or_exp && *s == '\0';
}

static json_t *resolve_scalar(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (strlen(s) != len)
        return NULL; /* an embedded NUL: refused by the caller */
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, len);
    if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
        !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    if (matches_int(s)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == 0)
            return json_integer(v);
    } else if (matches_float(s)) {
        return json_real(strtod(s, NULL));
    }
    return json_stringn(s, len);
}

/* ==== Tree building ==== */

typedef struct frame {
    json_t *node;
    char *key;              /* a mapping's key waiting for its value */
    unsigned long key_line;
} frame;

typedef struct builder {
    frame stack[DEPTH_MAX];
    int depth;
    json_t *root;
    gcs_linemap *lines;
} builder;

static int attach(builder *b, json_t *node, unsigned long line)
{
    int rc = linemap_put(b->lines, node, line);
    if (rc < 0) {
        json_decref(node);
        return rc;
    }
    if (b->depth == 0) {
        b->root = node;
        return 0;
    }
    frame *top = &b->stack[b->depth - 1];
    if (json_is_array(top->node)) {
        if (json_array_append_new(top->node, node) < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        return 0;
    }
    if (json_object_get(top->node, top->key)) {
        rc = gcs_error_set(GCS_EINVALID, "line %lu: duplicate key '%s'", top->key_line,
                           top->key);
        json_decref(node);
    } else if (json_object_set_new(top->node, top->key, node) < 0) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    } else {
        /* The key's own line too, under the address of jansson's copy of it
         * (stable while the object lives): see gcs_mapping__linemap_key. */
        const char *stored = json_object_iter_key(json_object_iter_at(top->node, top->key));
        rc = linemap_put(b->lines, (const json_t *)(const void *)stored, top->key_line);
    }
    free(top->key);
    top->key = NULL;
    return rc;
}

static bool expecting_key(const builder *b)
{
    return b->depth > 0 && json_is_object(b->stack[b->depth - 1].node) &&
           !b->stack[b->depth - 1].key;
}

static int push(builder *b, json_t *node, unsigned long line)
{
    if (b->depth == DEPTH_MAX) {
        json_decref(node);
        return gcs_error_set(GCS_EINVALID, "line %lu: nested more than %d levels deep", line,
                             DEPTH_MAX);
    }
    json_incref(node); /* one reference for the parent, one for the stack */
    int rc = attach(b, node, line);
    if (rc < 0) {
        json_decref(node);
        return rc;
    }
    b->stack[b->depth].node = node;
    b->stack[b->depth].key = NULL;
    b->depth++;
    return 0;
}

static int on_event(builder *b, const yaml_event_t *ev)
{
    unsigned long line = (unsigned long)ev->start_mark.line + 1;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return gcs_error_set(GCS_EINVALID, "line %lu: aliases (*name) are not supported", line);
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    default:
        break;
    }
    if (anchor)
        return gcs_error_set(GCS_EINVALID, "line %lu: anchors (&name) are not supported", line);
    if (tag && strcmp((const char *)tag, "tag:yaml.org,2002:str") != 0)
        return gcs_error_set(GCS_EINVALID, "line %lu: tag '%s' is not supported", line,
                             (const char *)tag);

    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
            return gcs_error_set(GCS_EINVALID, "line %lu: a NUL character in a value", line);
        if (expecting_key(b)) {
            b->stack[b->depth - 1].key_line = line;
            b->stack[b->depth - 1].key = strdup((const char *)ev->data.scalar.value);
            return b->stack[b->depth - 1].key ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        json_t *v = tag ? json_string((const char *)ev->data.scalar.value) : resolve_scalar(ev);
        if (!v)
            return gcs_error_set(GCS_EINVALID, "line %lu: a value that is not valid UTF-8",
                                 line);
        return attach(b, v, line);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (expecting_key(b))
            return gcs_error_set(GCS_EINVALID, "line %lu: a key must be plain text", line);
        return push(b, ev->type == YAML_MAPPING_START_EVENT ? json_object() : json_array(),
                    line);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        json_decref(b->stack[b->depth].node);
        free(b->stack[b->depth].key);
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (b->root)
            return gcs_error_set(GCS_EINVALID, "line %lu: only one document is allowed", line);
        return 0;
    default:
        return 0;
    }
}

int gcs_mapping__yaml_parse(json_t **out, gcs_linemap **lines, const char *data, size_t len)
{
    yaml_parser_t parser;
    builder b;
    int rc = 0;
    bool done = false;
    memset(&b, 0, sizeof b);
    *out = NULL;
    *lines = NULL;
    b.lines = calloc(1, sizeof *b.lines);
    GCS_CHECK_ALLOC(b.lines);
    if (!yaml_parser_initialize(&parser)) {
        free(b.lines);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = gcs_error_set(GCS_EINVALID, "line %lu: %s",
                               (unsigned long)parser.problem_mark.line + 1,
                               parser.problem ? parser.problem : "syntax error");
            goto out;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc < 0)
            goto out;
    }
    if (!b.root)
        b.root = json_null();
    *out = b.root;
    *lines = b.lines;
    b.root = NULL;
    b.lines = NULL;
out:
    while (b.depth > 0) {
        b.depth--;
        json_decref(b.stack[b.depth].node);
        free(b.stack[b.depth].key);
    }
    json_decref(b.root);
    gcs_mapping__linemap_free(b.lines);
    yaml_parser_delete(&parser);
    return rc;
}
