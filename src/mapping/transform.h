/*
 * transform.h - the value transforms and format checks that profiles use,
 * exposed on their own for the planner, the fuzzers and the tests.
 *
 * All functions are pure and take NUL-terminated UTF-8. Those that fail return
 * GCS_EINVALID with a message saying why (without the value's location: the
 * caller adds file, line and field).
 */
#ifndef GCS_MAPPING_TRANSFORM_H
#define GCS_MAPPING_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "mapping/profile.h"

/*
 * Normalises a phone number to E.164 ("+442079460000"). `country` is the
 * default country calling code without '+' ("44", "1"), used for numbers
 * written nationally. Accepted: spaces, '-', '.', '/', parentheses; a leading
 * '+' or international prefix 00; a national trunk 0 (dropped, except for
 * country 1 where a national number is 10 digits or 1 + 10 digits); "(0)"
 * after an international prefix ("+44 (0)20 ..."). Rejected: letters,
 * extensions, a result that is not E.164. `out` needs 17 bytes.
 */
#define GCS_E164_SIZE 17
int gcs_phone_to_e164(char out[GCS_E164_SIZE], const char *in, const char *country);

/* Parses `in` with the strptime-like `format` and writes YYYY-MM-DD into `out`
 * (11 bytes). Directives: %d and %e (day, 1 or 2 digits), %m (month, 1 or 2
 * digits), %Y (4-digit year), %y (2 digits: 69-99 are 19xx, 00-68 are 20xx),
 * %b / %B (English month name, short or full, any case), %% ('%'); a space
 * matches any run of blanks; other characters match themselves. The whole input
 * must match (surrounding blanks are ignored) and the date must exist (no
 * 02/30). Locale-independent on purpose: an HR export does not change format
 * with the machine it is read on. */
int gcs_date_to_iso(char out[11], const char *in, const char *format);

/* Checks. */
bool gcs_is_email(const char *s);       /* local@domain.tld, no spaces, one '@', length <= 254 */
bool gcs_is_e164(const char *s);        /* '+', a digit 1-9, 7 to 15 digits in all */
bool gcs_is_iso_date(const char *s);    /* YYYY-MM-DD, an existing date */
/* Number of Unicode code points (s is valid UTF-8). */
size_t gcs_utf8_length(const char *s);
/* True when s[0..len) is valid UTF-8 without NUL; *bad_offset is set to the
 * offset of the first bad byte otherwise. */
bool gcs_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Generates a password meeting `policy` from the operating system's random
 * source (getrandom). `out` needs policy->length + 1 bytes. The caller wipes it
 * (explicit_bzero) after use and registers nothing: it is never logged. */
int gcs_password_generate(char *out, size_t size, const gcs_password_policy *policy);

#endif
