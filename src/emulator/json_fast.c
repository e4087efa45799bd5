/* Serialising and copying JSON without jansson's per-container loop check
 * (it formats a pointer and fills a hash table for every object and array,
 * which was most of the cost of answering a PATCH). Our documents come from
 * the parser or from our own code, so they hold no loops; depth is bounded by
 * the parser's own limit. */
#include "emulator/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output staged in a block on the stack and appended to the buffer a few
 * kilobytes at a time: one gcs_buf_put per block, not one per character. */
typedef struct dumper {
    gcs_buf *b;
    int rc;
    size_t n;
    char block[8192];
} dumper;

static void flush(dumper *d)
{
    if (d->n && d->rc == 0)
        d->rc = gcs_buf_put(d->b, d->block, d->n);
    d->n = 0;
}

static void out(dumper *d, const char *s, size_t len)
{
    if (d->n + len > sizeof d->block) {
        flush(d);
        if (len > sizeof d->block) {
            if (d->rc == 0)
                d->rc = gcs_buf_put(d->b, s, len);
            return;
        }
    }
    memcpy(d->block + d->n, s, len);
    d->n += len;
}

static void out_c(dumper *d, char c)
{
    if (d->n == sizeof d->block)
        flush(d);
    d->block[d->n++] = c;
}

/* Whether any of the 8 bytes of w is below 0x20, '"' or '\\' (exact: the
 * borrows that could flag a byte wrongly only follow a byte that is flagged). */
static bool word_needs_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs;
}

static void put_string(dumper *d, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    out_c(d, '"');
    size_t run = 0, i = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!word_needs_escape(w)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (i > run)
            out(d, s + run, i - run);
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        out(d, esc, n);
        run = ++i;
    }
    if (len > run)
        out(d, s + run, len - run);
    out_c(d, '"');
}

static void put_integer(dumper *d, json_int_t v)
{
    char digits[24], *p = digits + sizeof digits;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    out(d, p, (size_t)(digits + sizeof digits - p));
}

static void dump(dumper *d, const json_t *j)
{
    char num[40];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *v;
        bool first = true;
        out_c(d, '{');
        json_object_foreach((json_t *)j, key, v) {
            if (!first)
                out_c(d, ',');
            first = false;
            put_string(d, key, strlen(key));
            out_c(d, ':');
            dump(d, v);
        }
        out_c(d, '}');
        return;
    }
    case JSON_ARRAY:
        out_c(d, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                out_c(d, ',');
            dump(d, json_array_get(j, i));
        }
        out_c(d, ']');
        return;
    case JSON_STRING:
        put_string(d, json_string_value(j), json_string_length(j));
        return;
    case JSON_INTEGER:
        put_integer(d, json_integer_value(j));
        return;
    case JSON_REAL: {
        double v = json_real_value(j);
        if (!isfinite(v)) {
            out(d, "null", 4);
            return;
        }
        snprintf(num, sizeof num, "%.17g", v);
        if (!strpbrk(num, ".eE"))
            strcat(num, ".0");
        out(d, num, strlen(num));
        return;
    }
    case JSON_TRUE:
        out(d, "true", 4);
        return;
    case JSON_FALSE:
        out(d, "false", 5);
        return;
    case JSON_NULL:
    default:
        out(d, "null", 4);
        return;
    }
}

int gcs_emu_json_dump(gcs_buf *b, const json_t *j)
{
    dumper d;
    d.b = b;
    d.rc = 0;
    d.n = 0;
    dump(&d, j);
    flush(&d);
    return d.rc;
}

int gcs_emu_json_dump_string(gcs_buf *b, const char *s)
{
    dumper d;
    d.b = b;
    d.rc = 0;
    d.n = 0;
    put_string(&d, s, strlen(s));
    flush(&d);
    return d.rc;
}

char *gcs_emu_json_text(const json_t *j)
{
    gcs_buf b;
    gcs_buf_init(&b, GCS_BUF_DEFAULT_MAX);
    if (gcs_emu_json_dump(&b, j) < 0) {
        gcs_buf_release(&b);
        return NULL;
    }
    return gcs_buf_detach(&b);
}

json_t *gcs_emu_json_copy(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        json_t *out = json_object();
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
            json_object_set_new_nocheck(out, key, gcs_emu_json_copy(v));
        return out;
    }
    case JSON_ARRAY: {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(j); i++)
            json_array_append_new(out, gcs_emu_json_copy(json_array_get(j, i)));
        return out;
    }
    default:
        /* Scalars are never changed in place by the emulator: share them. */
        return json_incref((json_t *)j);
    }
}

/* ==== Parsing the common case ====
 *
 * Request bodies are small JSON objects of ASCII text: jansson's reader spends
 * most of its time in a per-character stream with UTF-8 checks and a string
 * buffer. This one reads that common case only, building the same tree as
 * json_loadb (same types, same key order, a repeated key replacing the value
 * in place); on anything else (non-ASCII bytes, \u escapes, reals, integers
 * of 19 digits or more, deep nesting, any syntax error) it gives up and the
 * caller asks jansson, whose answer, or error, is then the one given. */

#define FAST_MAX_DEPTH 64

typedef struct fast_reader {
    const char *p, *end;
    char *scratch;        /* unescaped strings */
    size_t scratch_cap;
} fast_reader;

static void skip_space(fast_reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* After the opening quote: the string's bytes in *out (into the text when it
 * has no escape, else into scratch), NUL-terminated copy not needed. */
static bool fast_string(fast_reader *r, const char **out, size_t *len)
{
    const char *start = r->p;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            *out = start;
            *len = (size_t)(r->p - start);
            r->p++;
            return true;
        }
        if (c == '\\')
            break;
        if (c < 0x20 || c >= 0x80)
            return false;
        r->p++;
    }
    if (r->p >= r->end)
        return false;
    /* Escapes: copy what came before, then unescape the rest. */
    size_t need = (size_t)(r->end - start) + 1;
    if (need > r->scratch_cap) {
        char *grown = realloc(r->scratch, need);
        if (!grown)
            return false;
        r->scratch = grown;
        r->scratch_cap = need;
    }
    size_t n = (size_t)(r->p - start);
    memcpy(r->scratch, start, n);
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"') {
            *out = r->scratch;
            *len = n;
            return true;
        }
        if (c < 0x20 || c >= 0x80)
            return false;
        if (c != '\\') {
            r->scratch[n++] = (char)c;
            continue;
        }
        if (r->p >= r->end)
            return false;
        switch (*r->p++) {
        case '"': r->scratch[n++] = '"'; break;
        case '\\': r->scratch[n++] = '\\'; break;
        case '/': r->scratch[n++] = '/'; break;
        case 'b': r->scratch[n++] = '\b'; break;
        case 'f': r->scratch[n++] = '\f'; break;
        case 'n': r->scratch[n++] = '\n'; break;
        case 'r': r->scratch[n++] = '\r'; break;
        case 't': r->scratch[n++] = '\t'; break;
        default: return false; /* \u and anything else: jansson's */
        }
    }
    return false;
}

static bool fast_word(fast_reader *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static json_t *fast_value(fast_reader *r, int depth);

static json_t *fast_object(fast_reader *r, int depth)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    skip_space(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return obj;
    }
    for (;;) {
        const char *key;
        size_t klen;
        if (r->p >= r->end || *r->p != '"')
            goto fail;
        r->p++;
        if (!fast_string(r, &key, &klen))
            goto fail;
        /* A key unescaped into scratch is copied out: the value's strings reuse it. */
        char small[128], *kcopy = NULL;
        if (key == r->scratch) {
            kcopy = klen < sizeof small ? small : malloc(klen);
            if (!kcopy)
                goto fail;
            memcpy(kcopy, key, klen);
            key = kcopy;
        }
        skip_space(r);
        json_t *v = NULL;
        if (r->p < r->end && *r->p == ':') {
            r->p++;
            skip_space(r);
            v = fast_value(r, depth + 1);
        }
        /* As jansson's reader: a repeated key replaces the value in place. */
        int rc = v ? json_object_setn_new_nocheck(obj, key, klen, v) : -1;
        if (kcopy != small)
            free(kcopy);
        if (rc < 0)
            goto fail;
        skip_space(r);
        if (r->p >= r->end)
            goto fail;
        if (*r->p == '}') {
            r->p++;
            return obj;
        }
        if (*r->p++ != ',')
            goto fail;
        skip_space(r);
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *fast_array(fast_reader *r, int depth)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    skip_space(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return arr;
    }
    for (;;) {
        json_t *v = fast_value(r, depth + 1);
        if (!v || json_array_append_new(arr, v) < 0)
            goto fail;
        skip_space(r);
        if (r->p >= r->end)
            goto fail;
        if (*r->p == ']') {
            r->p++;
            return arr;
        }
        if (*r->p++ != ',')
            goto fail;
        skip_space(r);
    }
fail:
    json_decref(arr);
    return NULL;
}

static json_t *fast_value(fast_reader *r, int depth)
{
    if (r->p >= r->end || depth > FAST_MAX_DEPTH)
        return NULL;
    char c = *r->p;
    if (c == '{') {
        r->p++;
        return fast_object(r, depth);
    }
    if (c == '[') {
        r->p++;
        return fast_array(r, depth);
    }
    if (c == '"') {
        const char *s;
        size_t len;
        r->p++;
        return fast_string(r, &s, &len) ? json_stringn_nocheck(s, len) : NULL;
    }
    if (c == 't')
        return fast_word(r, "true", 4) ? json_true() : NULL;
    if (c == 'f')
        return fast_word(r, "false", 5) ? json_false() : NULL;
    if (c == 'n')
        return fast_word(r, "null", 4) ? json_null() : NULL;
    /* Integers of up to 18 digits; reals and the rest are jansson's. */
    const char *q = r->p;
    bool neg = *q == '-';
    if (neg)
        q++;
    const char *digits = q;
    json_int_t n = 0;
    while (q < r->end && *q >= '0' && *q <= '9' && q - digits < 19)
        n = n * 10 + (*q++ - '0');
    size_t nd = (size_t)(q - digits);
    if (nd == 0 || nd > 18 || (nd > 1 && *digits == '0'))
        return NULL;
    if (q < r->end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
        return NULL;
    r->p = q;
    return json_integer(neg ? -n : n);
}

json_t *gcs_emu_json_parse_fast(const char *text, size_t len)
{
    fast_reader r = {.p = text, .end = text + len};
    skip_space(&r);
    if (r.p >= r.end || *r.p != '{')
        return NULL;
    r.p++;
    json_t *j = fast_object(&r, 1);
    if (j) {
        skip_space(&r);
        if (r.p != r.end) {
            json_decref(j);
            j = NULL;
        }
    }
    free(r.scratch);
    return j;
}
