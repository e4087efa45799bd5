#include "core/redact.h"
#include "core/error.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <malloc.h>
#include <sys/mman.h>

/* ==== The registry of known secret values ==== */

/*
 * Two kinds: long-lived secrets (client secret, Basic credential, database
 * password, webhook secrets, API keys) are kept for the life of the process;
 * access tokens, issued again and again by a long run or a service, rotate in a
 * ring of the most recent TOKEN_RING (an old token has expired by then). A
 * token never pushes a long-lived secret out.
 */
#define TOKEN_RING 64
#define LONG_LIVED_MAX 1024 /* far more than a process has; a bound all the same */
#define MIN_SECRET_LEN 4

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static char *tokens[TOKEN_RING];
static size_t tokens_next;
static char *long_lived[LONG_LIVED_MAX];
static size_t long_lived_n;

static void wipe_free(char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    explicit_bzero(s, n);
    munlock(s, n + 1);
    free(s);
}

/* Under the lock. */
static bool known(const char *secret)
{
    for (size_t i = 0; i < long_lived_n; i++)
        if (strcmp(long_lived[i], secret) == 0)
            return true;
    for (size_t i = 0; i < TOKEN_RING; i++)
        if (tokens[i] && strcmp(tokens[i], secret) == 0)
            return true;
    return false;
}

static char *locked_copy(const char *secret)
{
    char *copy = strdup(secret);
    /* Best effort: keep it out of swap. Failure (RLIMIT_MEMLOCK) is harmless. */
    if (copy)
        (void)mlock(copy, strlen(copy) + 1);
    return copy;
}

void gcs_redact_register(const char *secret)
{
    if (!secret || strlen(secret) < MIN_SECRET_LEN)
        return;
    pthread_mutex_lock(&registry_lock);
    if (!known(secret) && long_lived_n < LONG_LIVED_MAX) {
        char *copy = locked_copy(secret);
        if (copy)
            long_lived[long_lived_n++] = copy;
    }
    pthread_mutex_unlock(&registry_lock);
}

void gcs_redact_register_token(const char *token)
{
    if (!token || strlen(token) < MIN_SECRET_LEN)
        return;
    pthread_mutex_lock(&registry_lock);
    if (!known(token)) {
        char *copy = locked_copy(token);
        if (copy) {
            wipe_free(tokens[tokens_next]);
            tokens[tokens_next] = copy;
            tokens_next = (tokens_next + 1) % TOKEN_RING;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

void gcs_redact_reset(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < TOKEN_RING; i++) {
        wipe_free(tokens[i]);
        tokens[i] = NULL;
    }
    tokens_next = 0;
    for (size_t i = 0; i < long_lived_n; i++) {
        wipe_free(long_lived[i]);
        long_lived[i] = NULL;
    }
    long_lived_n = 0;
    pthread_mutex_unlock(&registry_lock);
}

/* ==== Sensitive keys ==== */

/* With their lengths: every word of every body is checked against them. */
#define SK(s) {s, sizeof s - 1}
static const struct {
    const char *name;
    size_t len;
} sensitive_keys[] = {
    SK("authorization"), SK("proxy-authorization"), SK("password"), SK("passwd"),
    SK("client_secret"), SK("clientsecret"), SK("secret"), SK("access_token"),
    SK("refresh_token"), SK("id_token"), SK("token"), SK("api_key"), SK("apikey"),
    SK("cookie"), SK("set-cookie"), SK("x-api-key"), SK("private_key"),
    SK("signing_secret"), SK("webhook_secret"),
};
#undef SK

static bool ends_with_ci(const char *s, size_t n, const char *suffix, size_t m)
{
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* The characters of a key (letters, digits, '_' and '-'), by table: every
 * character of every body is looked at. */
static const bool key_chars[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['_'] = 1, ['-'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
};

static bool is_key_char(char c)
{
    return key_chars[(unsigned char)c];
}

static bool key_is_sensitive_n(const char *key, size_t n)
{
    if (n < 5)
        return false; /* "token" is the shortest */
    /* Every sensitive key and suffix ends in t, n, d, e or y: most words are
     * out after one look at their last letter. */
    char last = (char)(key[n - 1] | 0x20);
    if (last != 't' && last != 'n' && last != 'd' && last != 'e' && last != 'y')
        return false;
    /* Every name starts with a lowercase letter, and only a letter's byte ORed
     * with 0x20 gives one: no tolower call for each word. */
    char first = (char)(key[0] | 0x20);
    if (n <= 19) { /* the longest name, "proxy-authorization" */
        for (size_t i = 0; i < sizeof sensitive_keys / sizeof *sensitive_keys; i++) {
            if (sensitive_keys[i].len == n && sensitive_keys[i].name[0] == first &&
                strncasecmp(key, sensitive_keys[i].name, n) == 0)
                return true;
        }
    }
    /* A suffix begins with '_' or '-': looked at before comparing the rest. */
    switch (last) {
    case 't':
        return n >= 7 && (key[n - 7] == '_' || key[n - 7] == '-') &&
               ends_with_ci(key, n - 1, "secre", 5);
    case 'n':
        return n >= 6 && (key[n - 6] == '_' || key[n - 6] == '-') &&
               ends_with_ci(key, n - 1, "toke", 4);
    case 'd':
        return n >= 9 && key[n - 9] == '_' && ends_with_ci(key, n - 1, "passwor", 7);
    default:
        return false;
    }
}

bool gcs_redact_is_sensitive_key(const char *key)
{
    return key && key_is_sensitive_n(key, strlen(key));
}

/* With `head`, text is the head of a longer one: a string its end cuts is
 * not a key whose value it holds. */
static bool has_sensitive_key(const char *text, size_t len, bool head)
{
    for (size_t i = 0; i < len; i++) {
        const char *quote = memchr(text + i, '"', len - i);
        if (!quote)
            break;
        i = (size_t)(quote - text);
        size_t start = ++i;
        /* The closing quote: the next one, when no backslash comes first. */
        const char *close = memchr(text + i, '"', len - i);
        bool escaped = close && memchr(text + i, '\\', (size_t)(close - (text + i)));
        if (close && !escaped) {
            i = (size_t)(close - text);
        } else {
            while (i < len && text[i] != '"') {
                if (text[i] == '\\') {
                    escaped = true;
                    i++;
                }
                i++;
            }
        }
        if (i >= len)
            return !head; /* unterminated: let the parser decide */
        size_t end = i, k = i + 1;
        while (k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r'))
            k++;
        if (k >= len || text[k] != ':')
            continue; /* a value, not a key */
        /* Escapes could spell "password" in \u form: the careful path. */
        if (escaped || key_is_sensitive_n(text + start, end - start))
            return true;
    }
    return false;
}

bool gcs_redact_json_text_has_sensitive_key(const char *text, size_t len)
{
    return has_sensitive_key(text, len, false);
}

bool gcs_redact_json_head_has_sensitive_key(const char *text, size_t len)
{
    return has_sensitive_key(text, len, true);
}

/* ==== Text rules ==== */

static bool is_token_char(char c)
{
    return isalnum((unsigned char)c) || strchr("-._~+/=%", c) != NULL;
}

/* Rule 1: replaces every registered secret in `s` (in place, shrinking). */
static void remove_one(gcs_buf *s, const char *secret)
{
    {
        size_t n = strlen(secret);
        char *hit;
        size_t from = 0;
        while (from < s->len && (hit = memmem(s->ptr + from, s->len - from, secret, n))) {
            size_t at = (size_t)(hit - s->ptr);
            size_t rep = sizeof GCS_REDACTED - 1; /* 3 <= MIN_SECRET_LEN: never grows */
            memcpy(hit, GCS_REDACTED, rep);
            memmove(hit + rep, hit + n, s->len - at - n + 1);
            s->len -= n - rep;
            from = at + rep;
        }
    }
}

/* Whether any registered secret occurs in text (under the lock). */
static bool has_registered(const char *text, size_t len)
{
    for (size_t i = 0; i < long_lived_n; i++)
        if (memmem(text, len, long_lived[i], strlen(long_lived[i])))
            return true;
    for (size_t i = 0; i < TOKEN_RING; i++)
        if (tokens[i] && memmem(text, len, tokens[i], strlen(tokens[i])))
            return true;
    return false;
}

static void remove_registered(gcs_buf *s)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < long_lived_n; i++)
        remove_one(s, long_lived[i]);
    for (size_t i = 0; i < TOKEN_RING; i++)
        if (tokens[i])
            remove_one(s, tokens[i]);
    pthread_mutex_unlock(&registry_lock);
}

/* ==== Registered secrets written with JSON escapes ==== */

/*
 * A body's JSON may write a secret's characters as escapes (\/ for '/',
 * \u0041 for 'A', \" and \\, a non-ASCII character as \u00e9 or a surrogate
 * pair), and JSON inside a JSON string escapes them once more. The text is
 * therefore also read with its escapes undone, ESCAPE_LEVELS times over, and
 * every registered secret found there is removed from the text as it stands:
 * the escapes that spell it, whole, become "***". Nothing is registered in
 * escaped forms: the registry and its bounds stay as they are.
 */
#define ESCAPE_LEVELS 3
/* At most this many bytes of text per byte of a secret found ESCAPE_LEVELS
 * deep: \u0041 is 6 bytes for one, and each level multiplies (6^3). */
#define ESCAPE_SPREAD 216

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* The code unit of the \uXXXX at in[i] (in[i] the backslash), or -1. */
static long unicode_unit(const char *in, size_t n, size_t i)
{
    if (n - i < 6 || in[i] != '\\' || in[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hex_digit(in[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/*
 * One level of JSON string escapes undone, as jansson reads a string: in[0, n)
 * decoded into out (room for n bytes: undoing never lengthens), from[k] the
 * offset in `in` where the escape or byte that gave out[k] starts. A backslash
 * that starts no escape jansson reads (a lone surrogate among them) is kept as
 * it is. Returns the decoded length.
 */
static size_t unescape_level(const char *in, size_t n, char *out, size_t *from)
{
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t at = i;
        if (in[i] != '\\' || i + 1 >= n) {
            from[m] = at;
            out[m++] = in[i++];
            continue;
        }
        const char *simple = strchr("\"\\/bfnrt", in[i + 1]);
        if (simple && in[i + 1]) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            from[m] = at;
            out[m++] = decoded[simple - "\"\\/bfnrt"];
            i += 2;
            continue;
        }
        long u = unicode_unit(in, n, i), cp = u;
        size_t len = 6;
        if (u >= 0xDC00 && u <= 0xDFFF)
            cp = -1; /* a low surrogate first */
        else if (u >= 0xD800 && u <= 0xDBFF) {
            long low = unicode_unit(in, n, i + 6 <= n ? i + 6 : n);
            cp = low >= 0xDC00 && low <= 0xDFFF ? 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                                                : -1;
            len = 12;
        }
        if (cp < 0) {
            from[m] = at;
            out[m++] = in[i++];
            continue;
        }
        unsigned char b[4];
        size_t nb;
        if (cp < 0x80) {
            b[0] = (unsigned char)cp;
            nb = 1;
        } else if (cp < 0x800) {
            b[0] = (unsigned char)(0xC0 | (cp >> 6));
            b[1] = (unsigned char)(0x80 | (cp & 0x3F));
            nb = 2;
        } else if (cp < 0x10000) {
            b[0] = (unsigned char)(0xE0 | (cp >> 12));
            b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[2] = (unsigned char)(0x80 | (cp & 0x3F));
            nb = 3;
        } else {
            b[0] = (unsigned char)(0xF0 | (cp >> 18));
            b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[3] = (unsigned char)(0x80 | (cp & 0x3F));
            nb = 4;
        }
        for (size_t k = 0; k < nb; k++) {
            from[m] = at;
            out[m++] = (char)b[k];
        }
        i += len;
    }
    return m;
}

typedef struct span {
    size_t start, end;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
    bool failed;
} spans;

static void spans_add(spans *s, size_t start, size_t end)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->failed = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){start, end};
}

/* Every place (overlaps included) where `secret` occurs in the decoded text
 * d[0, m), added as the span of the original text that spells it: from where
 * the first byte's escape starts to where the last byte's escape ends (raw[k]:
 * where d[k]'s escape starts; raw[m]: the text's length). */
static void find_spelt(spans *s, const char *d, size_t m, const size_t *raw, const char *secret)
{
    size_t n = strlen(secret);
    const char *hit;
    for (size_t from = 0; from < m && (hit = memmem(d + from, m - from, secret, n));) {
        size_t at = (size_t)(hit - d), last = at + n - 1, end = at + n;
        while (end < m && raw[end] == raw[last])
            end++; /* the rest of the last byte's escape (a character of 2 to 4 bytes) */
        spans_add(s, raw[at], raw[end]);
        from = at + 1;
    }
}

static void find_spelt_registered(spans *s, const char *d, size_t m, const size_t *raw)
{
    for (size_t i = 0; i < long_lived_n; i++)
        find_spelt(s, d, m, raw, long_lived[i]);
    for (size_t i = 0; i < TOKEN_RING; i++)
        if (tokens[i])
            find_spelt(s, d, m, raw, tokens[i]);
}

static int by_start(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Wipes and frees a decoded level: it holds the secrets it spells. */
static void wipe_level(char *d, size_t n)
{
    if (d) {
        explicit_bzero(d, n);
        free(d);
    }
}

/*
 * The spans of text[0, n) that spell a registered secret with escapes, up to
 * ESCAPE_LEVELS deep, in *found (under the lock). 0, or -1 when memory ran
 * out (the caller then keeps nothing of the text).
 */
static int spelt_with_escapes(const char *text, size_t n, spans *found)
{
    const char *cur = text;
    size_t cur_n = n;
    char *dec = NULL, *prev = NULL;
    size_t *raw = NULL, *from = NULL, prev_n = 0;
    int rc = 0;
    for (int level = 0; level < ESCAPE_LEVELS && memchr(cur, '\\', cur_n); level++) {
        dec = malloc(cur_n + 1);
        from = malloc((cur_n + 1) * sizeof *from);
        if (!dec || !from) {
            rc = -1;
            break;
        }
        size_t m = unescape_level(cur, cur_n, dec, from);
        if (m == cur_n)
            break; /* nothing undone: no level below */
        /* where each decoded byte starts in the text itself */
        for (size_t k = 0; k < m; k++)
            from[k] = raw ? raw[from[k]] : from[k];
        from[m] = n;
        find_spelt_registered(found, dec, m, from);
        free(raw);
        raw = from;
        from = NULL;
        wipe_level(prev, prev_n);
        prev = dec;
        prev_n = m;
        dec = NULL;
        cur = prev;
        cur_n = m;
    }
    wipe_level(dec, cur_n + 1);
    wipe_level(prev, prev_n);
    free(from);
    free(raw);
    return rc < 0 || found->failed ? -1 : 0;
}

/* Rule 1 for secrets written with escapes: every span that spells one becomes
 * "***" (overlapping spans merged), in place. 0, or -1 out of memory. */
static int remove_spelt(gcs_buf *s)
{
    if (!memchr(s->ptr, '\\', s->len))
        return 0;
    spans found = {0};
    pthread_mutex_lock(&registry_lock);
    int rc = spelt_with_escapes(s->ptr, s->len, &found);
    pthread_mutex_unlock(&registry_lock);
    if (rc == 0 && found.n > 0) {
        qsort(found.v, found.n, sizeof *found.v, by_start);
        size_t w = 0, r = 0, rep = sizeof GCS_REDACTED - 1;
        for (size_t i = 0; i < found.n;) {
            size_t start = found.v[i].start, end = found.v[i].end;
            for (i++; i < found.n && found.v[i].start < end; i++)
                if (found.v[i].end > end)
                    end = found.v[i].end;
            /* a span spells at least MIN_SECRET_LEN bytes: never shorter than "***" */
            memmove(s->ptr + w, s->ptr + r, start - r);
            w += start - r;
            memcpy(s->ptr + w, GCS_REDACTED, rep);
            w += rep;
            r = end;
        }
        memmove(s->ptr + w, s->ptr + r, s->len - r);
        w += s->len - r;
        explicit_bzero(s->ptr + w, s->len - w);
        s->len = w;
        s->ptr[w] = '\0';
    }
    free(found.v);
    return rc;
}

/* Whether a registered secret is spelt with escapes in text[0, n) (under the
 * lock): false at once for text without a backslash. */
static bool has_spelt(const char *text, size_t n)
{
    if (!memchr(text, '\\', n))
        return false;
    spans found = {0};
    int rc = spelt_with_escapes(text, n, &found);
    free(found.v);
    return rc < 0 || found.n > 0; /* out of memory: the careful way */
}

/* True when only blanks stand between the start of in's line and i. */
static bool at_line_start(const char *in, size_t i)
{
    while (i > 0 && (in[i - 1] == ' ' || in[i - 1] == '\t'))
        i--;
    return i == 0 || in[i - 1] == '\n' || in[i - 1] == '\r';
}

/* Copies `in` to `out`, masking values of sensitive keys and of auth schemes.
 * What is kept is copied in runs (from `copied` up to where a mask starts):
 * every body of every receipt goes through here. */
static int mask_shapes(gcs_buf *out, const char *in, size_t n)
{
    size_t i = 0, copied = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        if (i > 0 && is_key_char(in[i - 1])) {
            i++; /* inside a word: nothing starts here */
            continue;
        }
        /* "Bearer <token>" and "Basic <token>" wherever they appear. */
        if ((in[i] | 0x20) == 'b' &&
            (strncasecmp(in + i, "bearer ", 7) == 0 || strncasecmp(in + i, "basic ", 6) == 0)) {
            size_t word = tolower((unsigned char)in[i]) == 'b' && tolower((unsigned char)in[i + 1]) == 'e' ? 7 : 6;
            size_t j = i + word;
            while (j < n && in[j] == ' ')
                j++;
            size_t k = j;
            while (k < n && is_token_char(in[k]))
                k++;
            if (k > j) {
                rc = gcs_buf_put(out, in + copied, j - copied);
                if (rc == 0)
                    rc = gcs_buf_puts(out, GCS_REDACTED);
                i = copied = k;
                continue;
            }
        }
        /* A key: an identifier, possibly quoted, followed by ':' or '='. */
        if (is_key_char(in[i])) {
            size_t k = i;
            while (k < n && is_key_char(in[k]))
                k++;
            if (key_is_sensitive_n(in + i, k - i)) {
                size_t j = k;
                /* Quoted like a JSON key: the same quote on both sides. */
                char open_q = i > 0 ? in[i - 1] : 0;
                bool quoted = false;
                if ((open_q == '"' || open_q == '\'') && j < n && in[j] == open_q) {
                    quoted = true;
                    j++;
                } else if (open_q == '"' && j + 1 < n && in[j] == '\\' && in[j + 1] == '"') {
                    quoted = true; /* an escaped quote: JSON inside a JSON string */
                    j += 2;
                }
                while (j < n && in[j] == ' ')
                    j++;
                /* ':' separates a key from its value only in JSON (quoted key)
                 * or in a header line (key first on its line); '=' always does. */
                bool pair = j < n && (in[j] == '=' ||
                                      (in[j] == ':' && (quoted || at_line_start(in, i))));
                if (pair) {
                    j++;
                    while (j < n && in[j] == ' ')
                        j++;
                    bool escaped_open = false;
                    if (j + 1 < n && in[j] == '\\' && in[j + 1] == '"') {
                        j++;
                        escaped_open = true;
                    }
                    size_t v = j, end;
                    bool whole_line = strncasecmp(in + i, "authorization", 13) == 0 ||
                                      strncasecmp(in + i, "proxy-authorization", 19) == 0;
                    if (escaped_open) {
                        /* JSON inside a JSON string: the value ends at the next \" */
                        end = v + 1;
                        while (end < n && !(in[end] == '"' && in[end - 1] == '\\'))
                            end++;
                        if (end < n)
                            end--; /* keep the backslash of the closing quote */
                        v++;
                    } else if (v < n && (in[v] == '"' || in[v] == '\'')) {
                        char q = in[v];
                        end = v + 1;
                        while (end < n && in[end] != q) {
                            if (in[end] == '\\' && end + 1 < n)
                                end++;
                            end++;
                        }
                        v++; /* keep the quotes, mask the inside */
                    } else if (v < n && (in[v] == '{' || in[v] == '[')) {
                        end = v; /* a structured value: its own keys are checked in turn */
                    } else {
                        end = v;
                        while (end < n && !strchr("&,;\"'}\r\n", in[end]) &&
                               (whole_line || in[end] != ' '))
                            end++;
                    }
                    if (end > v) {
                        rc = gcs_buf_put(out, in + copied, v - copied);
                        if (rc == 0)
                            rc = gcs_buf_puts(out, GCS_REDACTED);
                        i = copied = end;
                        continue;
                    }
                }
            }
            i = k;
            continue;
        }
        i++;
    }
    if (rc == 0 && n > copied)
        rc = gcs_buf_put(out, in + copied, n - copied);
    return rc;
}

/* Whether mask_shapes could mask anything in `in` (n bytes, then a NUL):
 * every place where it would is found here, and more (a superset, by looking
 * from each separator back to the word before it, not from each word forward). False for
 * most bodies (a JSON key is followed by ':', but is rarely a sensitive
 * word): mask_shapes then copies the text as it is, which is all the text
 * rules do to it. fuzz/fuzz_redact.c holds the two to that. */
static bool shapes_may_match(const char *in, size_t n)
{
    /* in[n] is the text's NUL: strcspn finds each separator (vectorised) */
    for (size_t p = strcspn(in, ":= "); p < n; p += 1 + strcspn(in + p + 1, ":= ")) {
        if (in[p] != ' ') {
            /* a key before it: WORD, "WORD", 'WORD' or "WORD\", then spaces */
            size_t j = p;
            while (j > 0 && in[j - 1] == ' ')
                j--;
            if (j > 0 && (in[j - 1] == '"' || in[j - 1] == '\'')) {
                j--;
                if (in[j] == '"' && j > 0 && in[j - 1] == '\\')
                    j--;
            }
            /* every sensitive key ends in t, n, d, e or y (key_is_sensitive_n) */
            char last = j > 0 ? (char)(in[j - 1] | 0x20) : 0;
            if (last != 't' && last != 'n' && last != 'd' && last != 'e' && last != 'y')
                continue;
            size_t k = j;
            while (k > 0 && is_key_char(in[k - 1]))
                k--;
            if (key_is_sensitive_n(in + k, j - k))
                return true;
        } else if (p >= 5 && ((in[p - 1] | 0x20) == 'r' || (in[p - 1] | 0x20) == 'c')) {
            /* the scheme of a credential: "Bearer " or "Basic " */
            if ((p >= 6 && strncasecmp(in + p - 6, "bearer", 6) == 0) ||
                strncasecmp(in + p - 5, "basic", 5) == 0)
                return true;
        }
    }
    return false;
}

bool gcs_redact_json_text_is_clean(const char *text, size_t len)
{
    /* Where the key scan (gcs_redact_json_text_has_sensitive_key) could see
     * what shapes_may_match does not: an escaped key ("pass\u0077ord"), and
     * blanks other than spaces between a key's closing quote and its ':'.
     * Without those, a quoted key followed by ':' is found by shapes_may_match
     * from that ':', back over the spaces and the quote, to the key's last
     * word, which is sensitive whenever the key is (every sensitive key and
     * suffix is made of key characters). An unterminated string makes the key
     * scan say yes only for the parser to refuse the text, and the text rules
     * then apply as here. */
    if (strcspn(text, "\\\t\n\r") < len || shapes_may_match(text, len))
        return false;
    pthread_mutex_lock(&registry_lock);
    bool secrets = has_registered(text, len);
    pthread_mutex_unlock(&registry_lock);
    return !secrets;
}

/* mask_shapes, or the copy it would make when nothing can match. */
static int mask_shapes_fast(gcs_buf *out, const char *in, size_t n)
{
    return shapes_may_match(in, n) ? mask_shapes(out, in, n) : gcs_buf_put(out, in, n);
}

int gcs_redact_append_shapes_in_full(gcs_buf *out, const char *in)
{
    return mask_shapes(out, in ? in : "", in ? strlen(in) : 0);
}

int gcs_redact_append(gcs_buf *out, const char *in)
{
    if (!in)
        in = "";
    size_t n = strlen(in);
    pthread_mutex_lock(&registry_lock);
    bool secrets = has_registered(in, n) || has_spelt(in, n);
    pthread_mutex_unlock(&registry_lock);
    if (!secrets) /* the common case: no copy to make and wipe */
        return mask_shapes_fast(out, in, n);
    gcs_buf tmp;
    gcs_buf_init_secure(&tmp, out->max); /* it holds the text before masking */
    int rc = gcs_buf_put(&tmp, in, n);
    if (rc == 0) {
        remove_registered(&tmp);
        if (remove_spelt(&tmp) < 0)
            rc = GCS_ENOMEM;
    }
    if (rc == 0)
        rc = mask_shapes_fast(out, tmp.ptr, tmp.len);
    gcs_buf_release_secure(&tmp);
    return rc;
}

/* The longest registered secret's length (under the lock). */
static size_t longest_registered(void)
{
    size_t longest = 0;
    for (size_t i = 0; i < long_lived_n; i++)
        if (strlen(long_lived[i]) > longest)
            longest = strlen(long_lived[i]);
    for (size_t i = 0; i < TOKEN_RING; i++)
        if (tokens[i] && strlen(tokens[i]) > longest)
            longest = strlen(tokens[i]);
    return longest;
}

/* a + b, or SIZE_MAX when that does not fit */
static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/*
 * Why a head is enough: every rule decides at a place from what comes before
 * it and masks forward from it, so the result of a head of `in` agrees with
 * the result of `in` up to where something the head cuts in two begins: a
 * registered secret (less than its length before the head's end, left as it
 * is, or grown by masks inside it by two bytes in seven at most), a secret
 * spelt with escapes (ESCAPE_SPREAD times as long at most, an escape cut by
 * the end included) or a masked value (masked to the head's end: "***"). A
 * head whose result is longer than keep + margin therefore gives the first
 * keep bytes of the whole result; a shorter one (masks shortened it) is redone
 * twice as long. A head without a backslash spells nothing with escapes (what
 * the text spells after it starts less than a secret's length before its end):
 * the margin of escapes is taken only for a head that has one.
 */
int gcs_redact_append_head(gcs_buf *out, const char *in, size_t len, size_t keep, bool *cut,
                           size_t *used)
{
    pthread_mutex_lock(&registry_lock);
    size_t longest = longest_registered();
    pthread_mutex_unlock(&registry_lock);
    size_t plain_margin = 2 * longest + 16;
    size_t escaped_margin = 2 * (longest + 2) * ESCAPE_SPREAD + 16;
    size_t take = add_sat(keep, plain_margin);
    int rc = 0;
    for (;;) {
        bool whole = take >= len;
        size_t margin = memchr(in, '\\', whole ? len : take) ? escaped_margin : plain_margin;
        if (!whole && take < add_sat(keep, margin)) {
            take = add_sat(keep, margin);
            continue;
        }
        gcs_buf head, result;
        gcs_buf_init_secure(&head, 0); /* both may hold part of a secret */
        gcs_buf_init_secure(&result, 0);
        rc = whole ? gcs_redact_append(&result, in) : gcs_buf_put(&head, in, take);
        if (rc == 0 && !whole)
            rc = gcs_redact_append(&result, head.ptr);
        bool enough = rc == 0 && (whole || result.len >= add_sat(keep, margin));
        if (enough) {
            if (used)
                *used = whole ? len : take;
            *cut = result.len > keep;
            rc = gcs_buf_put(out, result.ptr, *cut ? keep : result.len);
        }
        gcs_buf_release_secure(&head);
        gcs_buf_release_secure(&result);
        if (rc < 0 || enough)
            return rc;
        take = take > len / 2 ? len : take * 2;
    }
}

void gcs_redact_text(char *out, size_t outsz, const char *in)
{
    if (outsz == 0)
        return;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    if (gcs_redact_append(&b, in) == 0) {
        size_t n = b.len < outsz - 1 ? b.len : outsz - 1;
        memcpy(out, b.ptr, n);
        out[n] = '\0';
    } else {
        strncpy(out, "(message could not be redacted)", outsz - 1);
        out[outsz - 1] = '\0';
    }
    gcs_buf_release_secure(&b);
}

json_t *gcs_redact_json(const json_t *in)
{
    if (!in)
        return NULL;
    switch (json_typeof(in)) {
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)in, key, value) {
            if (gcs_redact_is_sensitive_key(key))
                json_object_set_new(o, key, json_string(GCS_REDACTED));
            else
                json_object_set_new(o, key, gcs_redact_json(value));
        }
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        size_t i;
        json_t *value;
        json_array_foreach(in, i, value) json_array_append_new(a, gcs_redact_json(value));
        return a;
    }
    case JSON_STRING: {
        gcs_buf b;
        gcs_buf_init(&b, 0);
        json_t *s;
        if (gcs_redact_append(&b, json_string_value(in)) == 0)
            s = json_stringn(b.ptr, b.len);
        else
            s = json_string(GCS_REDACTED);
        gcs_buf_release_secure(&b);
        return s ? s : json_string(GCS_REDACTED);
    }
    default:
        return json_deep_copy(in);
    }
}

/* ==== JSON values that held secrets ==== */

static void wiping_free(void *p)
{
    if (p)
        explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

void gcs_redact_wipe_json_frees(void)
{
    json_set_alloc_funcs(malloc, wiping_free);
}
