#include "core/jsontext.h"

#include <string.h>

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

int gcs_json_text_top_string(char *out, size_t outsz, const char *text, const char *key)
{
    size_t klen = strlen(key);
    int depth = 0;
    const char *p = skip_blanks(text);
    if (*p != '{')
        return -1;
    for (; *p; p++) {
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == '"') {
            const char *start = ++p;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (!*p)
                return -1;
            if (depth != 1 || (size_t)(p - start) != klen || memcmp(start, key, klen) != 0)
                continue;
            const char *v = skip_blanks(p + 1);
            if (*v != ':')
                continue; /* a value that reads like the key */
            v = skip_blanks(v + 1);
            if (*v != '"')
                return -1;
            size_t n = strcspn(++v, "\"\\");
            if (v[n] != '"' || n >= outsz)
                return -1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
    }
    return 0;
}

/* The closing quote of the string whose text starts at p, or NULL when the
 * text ends first. Most strings hold no backslash: the quote is found by
 * strchr, and only a string with an escape is walked a byte at a time. */
static const char *string_end(const char *p)
{
    const char *q = strchr(p, '"');
    if (!q)
        return NULL;
    if (!memchr(p, '\\', (size_t)(q - p)))
        return q;
    for (; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
    }
    return *p ? p : NULL;
}

/* The end of the JSON value at p (one past it), or NULL when the text ends
 * first. Strings are skipped whole, so brackets inside them do not count. */
static const char *value_end(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '"') {
            p = string_end(p + 1);
            if (!p)
                return NULL;
            if (depth == 0)
                return p + 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return p; /* the end of the enclosing object: a bare scalar before it */
            if (--depth == 0)
                return p + 1;
        } else if (depth == 0 && (*p == ',' || *p == ' ' || *p == '\n' || *p == '\t' ||
                                  *p == '\r')) {
            return p; /* after a number, true, false or null */
        }
    }
    return depth == 0 ? p : NULL;
}

int gcs_json_text_top_values(const char *text, const char *const *keys, size_t count,
                             const char **starts, size_t *lens)
{
    for (size_t k = 0; k < count; k++) {
        starts[k] = NULL;
        lens[k] = 0;
    }
    const char *p = skip_blanks(text);
    if (*p != '{')
        return -1;
    p = skip_blanks(p + 1);
    if (*p == '}')
        return 0;
    int found = 0;
    for (;;) {
        /* a member: "name" : value */
        if (*p != '"')
            return -1;
        const char *name = ++p;
        if (!(p = string_end(p)))
            return -1;
        size_t nlen = (size_t)(p - name);
        p = skip_blanks(p + 1);
        if (*p != ':')
            return -1;
        const char *v = skip_blanks(p + 1);
        const char *end = value_end(v);
        if (!end || end == v)
            return -1;
        for (size_t k = 0; k < count; k++) {
            if (!starts[k] && strlen(keys[k]) == nlen && memcmp(name, keys[k], nlen) == 0) {
                starts[k] = v;
                lens[k] = (size_t)(end - v);
                found++;
                break;
            }
        }
        if ((size_t)found == count)
            return found; /* the rest is not looked at */
        p = skip_blanks(end);
        if (*p == '}')
            return found;
        if (*p != ',')
            return -1;
        p = skip_blanks(p + 1);
    }
}

int gcs_json_text_top_value(const char *text, const char *key, const char **start, size_t *len)
{
    const char *keys[1] = {key};
    int found = gcs_json_text_top_values(text, keys, 1, start, len);
    return found < 0 ? -1 : found > 0;
}
