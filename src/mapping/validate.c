/* Format checks (UTF-8, email, E.164, dates) and the organisation's name sets. */
#include "mapping/internal.h"
#include "mapping/map.h"
#include "mapping/transform.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ==== Formats ==== */

bool gcs_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            goto bad;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (len - i <= n)
            goto bad;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += n + 1;
    }
    return true;
bad:
    if (bad_offset)
        *bad_offset = i;
    return false;
}

size_t gcs_utf8_length(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static bool local_char_ok(unsigned char c)
{
    if (c >= 0x80)
        return true; /* internationalised local parts (RFC 6531) */
    if (c <= 0x20 || c == 0x7F)
        return false;
    return strchr("\"(),:;<>@[\\]", c) == NULL;
}

bool gcs_is_email(const char *s)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len > 254 || !at || strchr(at + 1, '@'))
        return false;
    size_t local = (size_t)(at - s);
    if (local == 0 || local > 64 || s[0] == '.' || at[-1] == '.')
        return false;
    for (size_t i = 0; i < local; i++) {
        if (!local_char_ok((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.'))
            return false;
    }
    /* Domain: dot-separated labels of letters, digits and inner hyphens, at least two. */
    const char *d = at + 1;
    int labels = 0;
    while (*d) {
        size_t n = 0;
        while (d[n] && d[n] != '.') {
            unsigned char c = (unsigned char)d[n];
            if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-'))
                return false;
            n++;
        }
        if (n == 0 || n > 63 || d[0] == '-' || d[n - 1] == '-')
            return false;
        labels++;
        d += n;
        if (*d == '.') {
            d++;
            if (!*d)
                return false;
        }
    }
    return labels >= 2;
}

bool gcs_is_e164(const char *s)
{
    if (s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n++;
    }
    return n >= 7 && n <= 15;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int gcs_mapping__days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return days[month - 1] + (month == 2 && is_leap(year));
}

bool gcs_is_iso_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    }
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return y >= 1 && d >= 1 && d <= gcs_mapping__days_in_month(y, m);
}

/* ==== Attribute values ==== */

int gcs_mapping__loc_error(gcs_row_errors *errs, const gcs_loc *loc, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gcs_row_errors_add(errs, loc->file, loc->line, loc->column, loc->field, "%s: %s",
                              loc->attr, msg);
}

int gcs_mapping__bool_parse(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "y", "1"};
    static const char *const no[] = {"false", "no", "n", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return gcs_error_set(GCS_EINVALID, "'%.60s' is not true or false (map it with a lookup)", s);
}

int gcs_mapping__skill_parse(const char *item, const char *sep, double dflt, size_t *name_len,
                             double *proficiency)
{
    const char *at = NULL;
    /* The last separator: a name may hold the separator, a number never does. */
    for (const char *p = strstr(item, sep); p; p = strstr(p + 1, sep))
        at = p;
    *name_len = strlen(item);
    *proficiency = dflt;
    if (!at)
        return 0;
    const char *num = at + strlen(sep);
    while (*num == ' ')
        num++;
    char *end;
    double v = strtod(num, &end);
    while (*end == ' ')
        end++;
    if (end == num || *end || v != v)
        return gcs_error_set(GCS_EINVALID, "'%.60s': '%.20s' is not a proficiency", item, num);
    if (v < 0 || v > 5)
        return gcs_error_set(GCS_EINVALID, "'%.60s': proficiency %g is outside 0 to 5", item, v);
    size_t n = (size_t)(at - item);
    while (n && item[n - 1] == ' ')
        n--;
    *name_len = n;
    *proficiency = v;
    return 0;
}

static int check_name(gcs_row_errors *errs, const gcs_loc *loc, const gcs_org_names *org,
                      gcs_org_kind kind, const char *name, size_t len)
{
    static const char *const kinds[] = {"role", "division", "skill", "language"};
    char buf[512];
    if (!org)
        return 0;
    snprintf(buf, sizeof buf, "%.*s", (int)len, name);
    if (gcs_org_names_has(org, kind, buf))
        return 0;
    const char *similar = gcs_org_names_similar(org, kind, buf);
    if (similar)
        return gcs_mapping__loc_error(errs, loc,
                                      "%s '%s' does not exist in the organisation "
                                      "(names are case-sensitive: '%s' does)",
                                      kinds[kind], buf, similar);
    return gcs_mapping__loc_error(errs, loc, "%s '%s' does not exist in the organisation",
                                  kinds[kind], buf);
}

int gcs_mapping__validate_attr(gcs_row_errors *errs, const gcs_loc *loc, const gcs_attr_rule *a,
                               const gcs_vals *v, const gcs_org_names *org)
{
    int rc = 0;
    gcs_target t = a->pub.target;
    bool listy = t == GCS_TARGET_ROLES || t == GCS_TARGET_SKILLS || t == GCS_TARGET_LANGUAGES;
    if (!listy && v->n > 1)
        return gcs_mapping__loc_error(errs, loc, "gives %zu values where one is expected", v->n);
    if ((t == GCS_TARGET_SKILLS || t == GCS_TARGET_LANGUAGES) && v->n > 50)
        return gcs_mapping__loc_error(errs, loc, "%zu entries: Genesys allows at most 50", v->n);

    for (size_t i = 0; i < v->n && rc == 0; i++) {
        const char *s = v->items[i];
        /* counted in characters, when a length is asked for */
        size_t len = a->min_length >= 0 || a->max_length >= 0 ? gcs_utf8_length(s) : 0;
        if (a->min_length >= 0 && len < (size_t)a->min_length)
            rc = gcs_mapping__loc_error(errs, loc, "'%.60s' is shorter than %ld characters", s,
                                        a->min_length);
        else if (a->max_length >= 0 && len > (size_t)a->max_length)
            rc = gcs_mapping__loc_error(errs, loc, "'%.60s' is longer than %ld characters", s,
                                        a->max_length);
        if (rc < 0)
            break;
        switch (t) {
        case GCS_TARGET_USERNAME:
        case GCS_TARGET_EMAIL:
            if (!gcs_is_email(s))
                rc = gcs_mapping__loc_error(errs, loc, "'%.100s' is not an email address", s);
            break;
        case GCS_TARGET_PHONE:
            if (!gcs_is_e164(s))
                rc = gcs_mapping__loc_error(errs, loc,
                                            "'%.60s' is not an E.164 number (+ and 7 to 15 "
                                            "digits; the phone transform normalises)",
                                            s);
            break;
        case GCS_TARGET_DATEHIRE:
            if (!gcs_is_iso_date(s))
                rc = gcs_mapping__loc_error(errs, loc,
                                            "'%.60s' is not a YYYY-MM-DD date (the date "
                                            "transform converts)",
                                            s);
            break;
        case GCS_TARGET_ACTIVE: {
            bool b;
            if (gcs_mapping__bool_parse(s, &b) < 0)
                rc = gcs_mapping__loc_error(errs, loc, "%s", gcs_error_last());
            break;
        }
        case GCS_TARGET_DIVISION:
            rc = check_name(errs, loc, org, GCS_ORG_DIVISION, s, strlen(s));
            break;
        case GCS_TARGET_ROLES:
            rc = check_name(errs, loc, org, GCS_ORG_ROLE, s, strlen(s));
            break;
        case GCS_TARGET_SKILLS:
        case GCS_TARGET_LANGUAGES: {
            size_t n;
            double p;
            if (gcs_mapping__skill_parse(s, a->prof_sep ? a->prof_sep : ":", a->proficiency, &n,
                                         &p) < 0)
                rc = gcs_mapping__loc_error(errs, loc, "%s", gcs_error_last());
            else if (n == 0)
                rc = gcs_mapping__loc_error(errs, loc, "'%.60s' has no name", s);
            else
                rc = check_name(errs, loc, org,
                                t == GCS_TARGET_SKILLS ? GCS_ORG_SKILL : GCS_ORG_LANGUAGE, s, n);
            break;
        }
        default: break;
        }
    }
    return rc;
}
