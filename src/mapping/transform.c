/* Value transforms: phone numbers to E.164, dates to ISO, passwords. */
#include "mapping/transform.h"
#include "mapping/internal.h"

#include "core/error.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* ==== Phone numbers ==== */

#define PHONE_INPUT_MAX 64

int gcs_phone_to_e164(char out[GCS_E164_SIZE], const char *in, const char *country)
{
    char digits[PHONE_INPUT_MAX + 1];
    size_t n = 0;
    bool plus = false;
    out[0] = '\0';
    if (strlen(in) > PHONE_INPUT_MAX)
        return gcs_error_set(GCS_EINVALID, "phone number is longer than %d characters",
                             PHONE_INPUT_MAX);
    const char *p = in;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '+') {
        plus = true;
        p++;
    }
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= '0' && c <= '9') {
            digits[n++] = (char)c;
        } else if (c == '(' && p[1] == '0' && p[2] == ')' &&
                   (plus || (n >= 2 && digits[0] == '0' && digits[1] == '0'))) {
            /* "+44 (0)20 7946 0000": the bracketed trunk 0 is not dialled from abroad. */
            p += 2;
        } else if (!strchr(" \t-./()", c)) {
            return gcs_error_set(GCS_EINVALID, "'%s' is not a phone number (unexpected '%c')",
                                 in, isprint(c) ? c : '?');
        }
    }
    digits[n] = '\0';
    if (n == 0)
        return gcs_error_set(GCS_EINVALID, "'%s' is not a phone number (no digits)", in);

    char result[PHONE_INPUT_MAX + 8];
    if (plus) {
        snprintf(result, sizeof result, "+%s", digits);
    } else if (n > 2 && digits[0] == '0' && digits[1] == '0') {
        snprintf(result, sizeof result, "+%s", digits + 2);
    } else if (!country || !*country) {
        return gcs_error_set(GCS_EINVALID,
                             "'%s' is a national phone number and no default country is set", in);
    } else if (strcmp(country, "1") == 0) {
        /* North American numbering: no trunk 0; 10 digits, or 1 and 10 digits. */
        if (n == 11 && digits[0] == '1')
            snprintf(result, sizeof result, "+%s", digits);
        else if (n == 10)
            snprintf(result, sizeof result, "+1%s", digits);
        else
            return gcs_error_set(GCS_EINVALID,
                                 "'%s' is not a North American number (10 digits)", in);
    } else {
        const char *national = digits[0] == '0' ? digits + 1 : digits;
        snprintf(result, sizeof result, "+%s%s", country, national);
    }
    if (!gcs_is_e164(result))
        return gcs_error_set(GCS_EINVALID, "'%s' does not make an E.164 number ('%s')", in,
                             result);
    memcpy(out, result, strlen(result) + 1);
    return 0;
}

/* ==== Dates ==== */

static const char *const month_names[12] = {"january", "february", "march",     "april",
                                            "may",     "june",     "july",      "august",
                                            "september", "october", "november", "december"};

/* Reads 1..max digits (at least min); returns the number of characters used or 0. */
static size_t read_number(const char *s, size_t min, size_t max, int *value)
{
    size_t n = 0;
    int v = 0;
    while (n < max && s[n] >= '0' && s[n] <= '9') {
        v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n < min)
        return 0;
    *value = v;
    return n;
}

static size_t read_month_name(const char *s, int *month)
{
    for (int m = 0; m < 12; m++) {
        size_t full = strlen(month_names[m]);
        if (strncasecmp(s, month_names[m], full) == 0) {
            *month = m + 1;
            return full;
        }
    }
    for (int m = 0; m < 12; m++) {
        if (strncasecmp(s, month_names[m], 3) == 0) {
            *month = m + 1;
            return 3;
        }
    }
    return 0;
}

int gcs_date_to_iso(char out[11], const char *in, const char *format)
{
    int year = -1, month = -1, day = -1;
    const char *s = in, *f = format;
    out[0] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    while (*f) {
        size_t used = 0;
        if (*f == ' ') {
            while (*s == ' ' || *s == '\t')
                s++;
            f++;
            continue;
        }
        if (*f != '%') {
            if (*s != *f)
                goto mismatch;
            s++;
            f++;
            continue;
        }
        switch (f[1]) {
        case 'd':
        case 'e':
            if (f[1] == 'e' && *s == ' ')
                s++;
            used = read_number(s, 1, 2, &day);
            break;
        case 'm': used = read_number(s, 1, 2, &month); break;
        case 'Y': used = read_number(s, 4, 4, &year); break;
        case 'y':
            used = read_number(s, 2, 2, &year);
            if (used)
                year += year < 69 ? 2000 : 1900;
            break;
        case 'b':
        case 'B':
        case 'h': used = read_month_name(s, &month); break;
        case '%': used = *s == '%'; break;
        default:
            return gcs_error_set(GCS_EINVALID, "date format '%s' has an unknown directive '%%%c'",
                                 format, f[1] ? f[1] : ' ');
        }
        if (!used)
            goto mismatch;
        s += used;
        f += 2;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s)
        goto mismatch;
    if (year < 1 || month < 1 || day < 1)
        return gcs_error_set(GCS_EINVALID, "date format '%s' lacks a year, month or day", format);
    if (month > 12 || day > gcs_mapping__days_in_month(year, month))
        return gcs_error_set(GCS_EINVALID, "'%s' is not a real date", in);
    snprintf(out, 11, "%04d-%02d-%02d", year, month, day);
    return 0;
mismatch:
    return gcs_error_set(GCS_EINVALID, "'%s' does not match the date format '%s'", in, format);
}

/* ==== Passwords ==== */

static const char *const pw_classes[4] = {
    "abcdefghijkmnopqrstuvwxyz", /* no l: easier to read aloud */
    "ABCDEFGHJKLMNPQRSTUVWXYZ",  /* no I, O */
    "23456789",                  /* no 0, 1 */
    "!#$%&*+-=?@^_~",
};

/* A uniform random number below `bound`, by rejection (no modulo bias). */
static int random_below(uint32_t bound, uint32_t *out)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
    for (;;) {
        uint32_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            return gcs_error_set(GCS_ERROR, "cannot read the system's random source");
        if (r < limit) {
            *out = r % bound;
            return 0;
        }
    }
}

int gcs_password_generate(char *out, size_t size, const gcs_password_policy *policy)
{
    unsigned int mins[4] = {policy->min_lower, policy->min_upper, policy->min_digit,
                            policy->min_symbol};
    unsigned int need = mins[0] + mins[1] + mins[2] + mins[3];
    size_t len = policy->length;
    int rc = 0;
    char all[128];
    snprintf(all, sizeof all, "%s%s%s%s", pw_classes[0], pw_classes[1], pw_classes[2],
             pw_classes[3]);
    if (len < need || len + 1 > size || len == 0)
        return gcs_error_set(GCS_EINVALID, "password policy cannot be met in %zu characters",
                             len);
    size_t at = 0;
    uint32_t r = 0;
    for (int c = 0; c < 4; c++) {
        for (unsigned int i = 0; i < mins[c]; i++) {
            if ((rc = random_below((uint32_t)strlen(pw_classes[c]), &r)) < 0)
                goto out;
            out[at++] = pw_classes[c][r];
        }
    }
    while (at < len) {
        if ((rc = random_below((uint32_t)strlen(all), &r)) < 0)
            goto out;
        out[at++] = all[r];
    }
    /* Fisher-Yates, so that the required classes are not always in front. */
    for (size_t i = len - 1; i > 0; i--) {
        if ((rc = random_below((uint32_t)(i + 1), &r)) < 0)
            goto out;
        char t = out[i];
        out[i] = out[r];
        out[r] = t;
    }
    out[len] = '\0';
out:
    if (rc < 0)
        explicit_bzero(out, size);
    return rc;
}

/* ==== Value lists and the transform pipeline ==== */

int gcs_mapping__vals_push(gcs_vals *v, const char *s, size_t len)
{
    if (v->n >= GCS_VALUE_ITEMS_MAX)
        return gcs_error_set(GCS_EINVALID, "more than %d items", GCS_VALUE_ITEMS_MAX);
    if (len > GCS_VALUE_MAX)
        return gcs_error_set(GCS_EINVALID, "a value longer than %zu bytes", GCS_VALUE_MAX);
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        char **items = realloc(v->items, cap * sizeof *items);
        GCS_CHECK_ALLOC(items);
        v->items = items;
        v->cap = cap;
    }
    char *copy = strndup(s, len);
    GCS_CHECK_ALLOC(copy);
    v->items[v->n++] = copy;
    return 0;
}

void gcs_mapping__vals_release(gcs_vals *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

bool gcs_mapping__vals_empty(const gcs_vals *v)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i][0])
            return false;
    }
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Replaces item i with text (copied). */
static int replace_item(gcs_vals *v, size_t i, const char *text)
{
    char *copy = strdup(text);
    GCS_CHECK_ALLOC(copy);
    free(v->items[i]);
    v->items[i] = copy;
    return 0;
}

static void trim_in_place(char *s)
{
    size_t start = 0, n = strlen(s);
    while (start < n && is_blank(s[start]))
        start++;
    while (n > start && is_blank(s[n - 1]))
        n--;
    memmove(s, s + start, n - start);
    s[n - start] = '\0';
}

/* Rebuilds the list from pieces of each item split by `sep`; blank pieces go. */
static int split_all(gcs_vals *v, const char *sep)
{
    gcs_vals out = {NULL, 0, 0, true};
    size_t seplen = strlen(sep);
    int rc = 0;
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        const char *p = v->items[i];
        for (;;) {
            const char *end = strstr(p, sep);
            size_t len = end ? (size_t)(end - p) : strlen(p);
            size_t a = 0, b = len;
            while (a < b && is_blank(p[a]))
                a++;
            while (b > a && is_blank(p[b - 1]))
                b--;
            if (b > a && (rc = gcs_mapping__vals_push(&out, p + a, b - a)) < 0)
                break;
            if (!end)
                break;
            p = end + seplen;
        }
    }
    if (rc < 0) {
        gcs_mapping__vals_release(&out);
        return rc;
    }
    gcs_mapping__vals_release(v);
    *v = out;
    return 0;
}

static int json_list_all(gcs_vals *v)
{
    gcs_vals out = {NULL, 0, 0, true};
    int rc = 0;
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        if (!v->items[i][0])
            continue;
        json_error_t err;
        json_t *arr = json_loads(v->items[i], 0, &err);
        if (!json_is_array(arr)) {
            rc = gcs_error_set(GCS_EINVALID, "'%.60s' is not a JSON list", v->items[i]);
        } else {
            size_t k;
            json_t *e;
            json_array_foreach(arr, k, e) {
                char num[64];
                const char *text = json_string_value(e);
                if (json_is_integer(e)) {
                    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(e));
                    text = num;
                } else if (json_is_real(e)) {
                    snprintf(num, sizeof num, "%.15g", json_real_value(e));
                    text = num;
                }
                if (!text) {
                    rc = gcs_error_set(GCS_EINVALID, "a JSON list item is not text or a number");
                    break;
                }
                if (*text && (rc = gcs_mapping__vals_push(&out, text, strlen(text))) < 0)
                    break;
            }
        }
        json_decref(arr);
    }
    if (rc < 0) {
        gcs_mapping__vals_release(&out);
        return rc;
    }
    gcs_mapping__vals_release(v);
    *v = out;
    return 0;
}

static int lookup_one(gcs_vals *v, size_t i, const gcs_xf *xf)
{
    const char *key = v->items[i];
    json_t *hit = json_object_get(xf->table, key);
    if (!hit) {
        /* Exports are not consistent about case: "Leaver" finds "leaver". */
        const char *k;
        json_t *val;
        json_object_foreach(xf->table, k, val) {
            if (!strcasecmp(k, key)) {
                hit = val;
                break;
            }
        }
    }
    if (hit)
        return replace_item(v, i, json_string_value(hit));
    if (!key[0])
        return 0; /* empty stays empty: required / default decide */
    if (xf->has_fallback)
        return replace_item(v, i, xf->fallback);
    return gcs_error_set(GCS_EINVALID, "'%.100s' is not in the lookup table", key);
}

int gcs_mapping__xf_apply(gcs_vals *v, const gcs_xf *xf)
{
    int rc = 0;
    switch (xf->kind) {
    case XF_SPLIT: return split_all(v, xf->arg);
    case XF_JSON_LIST: return json_list_all(v);
    case XF_DEFAULT:
        if (!gcs_mapping__vals_empty(v))
            return 0;
        gcs_mapping__vals_release(v);
        return gcs_mapping__vals_push(v, xf->arg, strlen(xf->arg));
    default:
        break;
    }
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        char *s = v->items[i];
        switch (xf->kind) {
        case XF_TRIM: trim_in_place(s); break;
        case XF_LOWER: /* ASCII only, whatever the locale: bytes of UTF-8 sequences stay */
            for (; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                    *s = (char)(*s + ('a' - 'A'));
            break;
        case XF_UPPER:
            for (; *s; s++)
                if (*s >= 'a' && *s <= 'z')
                    *s = (char)(*s - ('a' - 'A'));
            break;
        case XF_LOOKUP: rc = lookup_one(v, i, xf); break;
        case XF_DATE:
            if (*s) {
                char iso[11];
                if ((rc = gcs_date_to_iso(iso, s, xf->arg)) == 0)
                    rc = replace_item(v, i, iso);
            }
            break;
        case XF_PHONE:
            if (*s) {
                char e164[GCS_E164_SIZE];
                if ((rc = gcs_phone_to_e164(e164, s, xf->arg)) == 0)
                    rc = replace_item(v, i, e164);
            }
            break;
        default: break;
        }
    }
    return rc;
}
