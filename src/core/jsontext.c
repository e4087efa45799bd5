#include "core/jsontext.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
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
 * text ends first: the first quote found by strchr that an even run of
 * backslashes (most often none) comes before, as a walk taking each
 * backslash with the byte after it finds it. */
static const char *string_end(const char *p)
{
    for (const char *from = p;;) {
        const char *q = strchr(from, '"');
        if (!q)
            return NULL;
        const char *b = q;
        while (b > p && b[-1] == '\\')
            b--;
        if (((q - b) & 1) == 0)
            return q;
        from = q + 1;
    }
}

static const unsigned char structural[256] = {[0] = 1, ['"'] = 1, ['{'] = 1, ['}'] = 1,
                                              ['['] = 1, [']'] = 1};

/* The end of the JSON value at p (one past it), or NULL when the text ends
 * first. Strings are skipped whole, so brackets inside them do not count. */
static const char *value_end(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        /* inside an object or array only quotes and brackets matter */
        while (depth > 0 && !structural[(unsigned char)*p])
            p++;
        if (!*p)
            break;
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
        /* An escape could spell a wanted name ("ch\u0061nges"): a parser's. */
        if (memchr(name, '\\', nlen))
            return -1;
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

const char *gcs_json_text_value_end(const char *p)
{
    return value_end(skip_blanks(p));
}

/* ==== Checking a document without building it ==== */

enum { CHECK_MAX_DEPTH = 64, CHECK_MAX_NAMES = 512 };

typedef struct text_check {
    const unsigned char *p, *end;
    int depth;
    /* The member names of the objects being read, innermost last: a name is
     * compared with those of its own object only. */
    const unsigned char *name[CHECK_MAX_NAMES];
    size_t name_len[CHECK_MAX_NAMES];
    size_t names;
} text_check;

#define CHECK_UNSURE (-1)
#define CHECK_BAD 0
#define CHECK_OK 1

static void check_blanks(text_check *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The code unit of a \uXXXX whose "u" is at p, or -1. */
static long unicode_escape(const text_check *c, const unsigned char *p)
{
    if (c->end - p < 5)
        return -1;
    long v = 0;
    for (int i = 1; i <= 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* One UTF-8 sequence of a string, as jansson accepts it (no overlong form, no
 * surrogate, nothing above U+10FFFF): its length, or 0. */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned char u = p[0];
    size_t n;
    unsigned long v;
    if (u >= 0xC2 && u <= 0xDF) {
        n = 2;
        v = u & 0x1F;
    } else if (u >= 0xE0 && u <= 0xEF) {
        n = 3;
        v = u & 0x0F;
    } else if (u >= 0xF0 && u <= 0xF4) {
        n = 4;
        v = u & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
        (n == 4 && v < 0x10000))
        return 0;
    return n;
}

/* A string whose opening quote is at c->p; *escaped tells whether it held a
 * backslash. */
static int check_string(text_check *c, bool *escaped)
{
    const unsigned char *p = c->p + 1;
    *escaped = false;
    for (;;) {
        /* the plain run first: most strings are nothing else */
        while (p < c->end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p >= c->end)
            return CHECK_BAD;
        unsigned char ch = *p;
        if (ch == '"') {
            c->p = p + 1;
            return CHECK_OK;
        }
        if (ch < 0x20)
            return CHECK_BAD; /* a control character, NUL included */
        if (ch >= 0x80) {
            size_t n = utf8_sequence(p, c->end);
            if (!n)
                return CHECK_BAD;
            p += n;
            continue;
        }
        /* a backslash */
        *escaped = true;
        if (c->end - p < 2)
            return CHECK_BAD;
        ch = p[1];
        if (ch == '"' || ch == '\\' || ch == '/' || ch == 'b' || ch == 'f' || ch == 'n' ||
            ch == 'r' || ch == 't') {
            p += 2;
            continue;
        }
        if (ch != 'u')
            return CHECK_BAD;
        long u = unicode_escape(c, p + 1);
        if (u < 0 || u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
            return CHECK_BAD; /* \u0000, or a low surrogate alone */
        p += 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            /* a high surrogate: its low half must follow */
            long low = c->end - p >= 2 && p[0] == '\\' && p[1] == 'u' ? unicode_escape(c, p + 1)
                                                                      : -1;
            if (low < 0xDC00 || low > 0xDFFF)
                return CHECK_BAD;
            p += 6;
        }
    }
}

/* A number as jansson reads it; only integers it is sure to hold are decided. */
static int check_number(text_check *c)
{
    const unsigned char *p = c->p;
    if (p < c->end && *p == '-')
        p++;
    const unsigned char *digits = p;
    if (p >= c->end || *p < '0' || *p > '9')
        return CHECK_BAD;
    if (*p == '0') {
        p++;
        if (p < c->end && *p >= '0' && *p <= '9')
            return CHECK_BAD; /* a leading zero */
    } else {
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < c->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return CHECK_UNSURE; /* a real: whether it overflows is the parser's to say */
    if (p - digits > 18)
        return CHECK_UNSURE; /* may not fit jansson's integer */
    c->p = p;
    return CHECK_OK;
}

static int check_word(text_check *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return CHECK_BAD;
    c->p += n;
    /* jansson reads a run of letters as one word: "truex" is no "true" */
    if (c->p < c->end && ((*c->p >= 'a' && *c->p <= 'z') || (*c->p >= 'A' && *c->p <= 'Z')))
        return CHECK_BAD;
    return CHECK_OK;
}

static int check_value(text_check *c);

static int check_object(text_check *c)
{
    c->p++; /* { */
    check_blanks(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return CHECK_OK;
    }
    size_t first = c->names;
    for (;;) {
        if (c->p >= c->end || *c->p != '"')
            return CHECK_BAD;
        const unsigned char *name = c->p + 1;
        bool escaped;
        int rc = check_string(c, &escaped);
        if (rc != CHECK_OK)
            return rc;
        size_t nlen = (size_t)(c->p - 1 - name);
        /* An escaped name may spell another one differently: the parser
         * decides. So it does for an object too large to compare this way. */
        if (escaped || c->names == CHECK_MAX_NAMES)
            return CHECK_UNSURE;
        for (size_t k = first; k < c->names; k++)
            if (c->name_len[k] == nlen && memcmp(c->name[k], name, nlen) == 0)
                return CHECK_BAD; /* a repeated name */
        c->name[c->names] = name;
        c->name_len[c->names++] = nlen;
        check_blanks(c);
        if (c->p >= c->end || *c->p != ':')
            return CHECK_BAD;
        c->p++;
        check_blanks(c);
        if ((rc = check_value(c)) != CHECK_OK)
            return rc;
        check_blanks(c);
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            c->names = first; /* this object's names are done with */
            return CHECK_OK;
        }
        if (c->p >= c->end || *c->p != ',')
            return CHECK_BAD;
        c->p++;
        check_blanks(c);
    }
}

static int check_array(text_check *c)
{
    c->p++; /* [ */
    check_blanks(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return CHECK_OK;
    }
    for (;;) {
        int rc = check_value(c);
        if (rc != CHECK_OK)
            return rc;
        check_blanks(c);
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return CHECK_OK;
        }
        if (c->p >= c->end || *c->p != ',')
            return CHECK_BAD;
        c->p++;
        check_blanks(c);
    }
}

static int check_value(text_check *c)
{
    if (c->p >= c->end)
        return CHECK_BAD;
    bool escaped;
    int rc;
    switch (*c->p) {
    case '{':
    case '[':
        if (c->depth == CHECK_MAX_DEPTH)
            return CHECK_UNSURE;
        c->depth++;
        rc = *c->p == '{' ? check_object(c) : check_array(c);
        c->depth--;
        return rc;
    case '"':
        return check_string(c, &escaped);
    case 't':
        return check_word(c, "true", 4);
    case 'f':
        return check_word(c, "false", 5);
    case 'n':
        return check_word(c, "null", 4);
    default:
        return check_number(c);
    }
}

int gcs_json_text_check(const char *text, size_t len)
{
    text_check check, *c = &check;
    c->p = (const unsigned char *)text;
    c->end = c->p + len;
    c->depth = 0;
    c->names = 0;
    check_blanks(c);
    int rc = c->p < c->end && (*c->p == '{' || *c->p == '[') ? check_value(c) : CHECK_BAD;
    if (rc == CHECK_OK) {
        check_blanks(c);
        if (c->p != c->end)
            rc = CHECK_BAD; /* text after the document */
    }
    return rc;
}

/* ==== Writing a string as jansson does ==== */

size_t gcs_utf8_sequence_length(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

size_t gcs_json_escape_byte(unsigned char c, char esc[6])
{
    static const char hex[] = "0123456789ABCDEF";
    esc[0] = '\\';
    switch (c) {
    case '"': esc[1] = '"'; return 2;
    case '\\': esc[1] = '\\'; return 2;
    case '\b': esc[1] = 'b'; return 2;
    case '\f': esc[1] = 'f'; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\t': esc[1] = 't'; return 2;
    default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        return 6;
    }
}

#define ONES  0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* Whether any of 8 bytes is '"', '\\', a control character or not ASCII: the
 * bytes a string's text does not take as they are (never false when one is;
 * sometimes true after a control character, which is looked at anyway). */
static inline bool special_in(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w) | w) & HIGHS;
}

int gcs_json_text_put_string(gcs_buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
    size_t before = out->len;
    int rc = gcs_buf_putc(out, '"');
    while (p < end && rc == 0) {
        /* Plain ASCII by eights: most of every name and value. */
        for (uint64_t w; end - p >= 8; p += 8) {
            memcpy(&w, p, 8);
            if (special_in(w))
                break;
        }
        if (p >= end)
            break;
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t len = gcs_utf8_sequence_length(p, (size_t)(end - p));
            if (!len)
                break; /* refused: nothing appended */
            p += len;
            continue;
        }
        if (c == 0)
            break;
        rc = gcs_buf_put(out, run, (size_t)(p - run));
        char esc[6];
        size_t len = gcs_json_escape_byte(c, esc);
        if (rc == 0)
            rc = gcs_buf_put(out, esc, len);
        run = ++p;
    }
    bool refused = rc == 0 && p < end;
    if (rc == 0 && !refused)
        rc = gcs_buf_put(out, run, (size_t)(end - run));
    if (rc == 0 && !refused)
        rc = gcs_buf_putc(out, '"');
    if (rc < 0 || refused) {
        if (out->len > before) {
            out->len = before;
            out->ptr[before] = '\0';
        }
        return rc < 0 ? rc : 0;
    }
    return 1;
}

int gcs_json_text_put_spaced(gcs_buf *out, const char *text, size_t n)
{
    const char *p = text, *end = text + n, *run = text;
    int rc = 0;
    while (p < end && rc == 0) {
        char c = *p++;
        if (c == '"') {
            /* to the closing quote: one not escaped by an odd run of backslashes */
            for (;;) {
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (!q) {
                    p = end;
                    break;
                }
                const char *b = q;
                while (b > p && b[-1] == '\\')
                    b--;
                p = q + 1;
                if (((q - b) & 1) == 0)
                    break;
            }
        } else if (c == ',' || c == ':') {
            rc = gcs_buf_put(out, run, (size_t)(p - run));
            if (rc == 0)
                rc = gcs_buf_putc(out, ' ');
            run = p;
        }
    }
    return rc == 0 && run < end ? gcs_buf_put(out, run, (size_t)(end - run)) : rc;
}

static int put_integer(gcs_buf *out, json_int_t n)
{
    char digits[24], *d = digits + sizeof digits;
    unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (n < 0)
        *--d = '-';
    return gcs_buf_put(out, d, (size_t)(digits + sizeof digits - d));
}

static int put_compact(gcs_buf *out, const json_t *v)
{
    int rc = 1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *member;
        bool first = true;
        if (gcs_buf_putc(out, '{') < 0)
            return GCS_ENOMEM;
        json_object_foreach((json_t *)v, key, member) {
            if (!first && gcs_buf_putc(out, ',') < 0)
                return GCS_ENOMEM;
            first = false;
            if ((rc = gcs_json_text_put_string(out, key, strlen(key))) != 1)
                return rc;
            if (gcs_buf_putc(out, ':') < 0)
                return GCS_ENOMEM;
            if ((rc = put_compact(out, member)) != 1)
                return rc;
        }
        return gcs_buf_putc(out, '}') < 0 ? GCS_ENOMEM : 1;
    }
    case JSON_ARRAY: {
        if (gcs_buf_putc(out, '[') < 0)
            return GCS_ENOMEM;
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i && gcs_buf_putc(out, ',') < 0)
                return GCS_ENOMEM;
            if ((rc = put_compact(out, json_array_get(v, i))) != 1)
                return rc;
        }
        return gcs_buf_putc(out, ']') < 0 ? GCS_ENOMEM : 1;
    }
    case JSON_STRING:
        return gcs_json_text_put_string(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_integer(out, json_integer_value(v)) < 0 ? GCS_ENOMEM : 1;
    case JSON_REAL: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return 0;
        rc = gcs_buf_puts(out, text) < 0 ? GCS_ENOMEM : 1;
        free(text);
        return rc;
    }
    case JSON_TRUE:
        return gcs_buf_puts(out, "true") < 0 ? GCS_ENOMEM : 1;
    case JSON_FALSE:
        return gcs_buf_puts(out, "false") < 0 ? GCS_ENOMEM : 1;
    default:
        return gcs_buf_puts(out, "null") < 0 ? GCS_ENOMEM : 1;
    }
}

int gcs_json_text_put_compact(gcs_buf *out, const json_t *v)
{
    size_t before = out->len;
    int rc = v ? put_compact(out, v) : 0;
    if (rc != 1 && out->len > before) {
        out->len = before;
        out->ptr[before] = '\0';
    }
    return rc;
}
