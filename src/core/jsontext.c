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
