/*
 * jsontext.h - one string member of a JSON object read from its text, without
 * parsing the whole document: every create pays for naming its person in its
 * receipt and for reading the new user's id, and a parse (allocations for every
 * value) costs more than the call's own bookkeeping.
 */
#ifndef GCS_CORE_JSONTEXT_H
#define GCS_CORE_JSONTEXT_H

#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

/* The top-level member `key` of the JSON object `text`, when it is a string
 * without escapes: copied to out (NUL-terminated). 1 found, 0 absent (no such
 * member at the top level), -1 when the text needs a real parser (not an
 * object, an escape in the value, a value that is not a string or does not fit,
 * unterminated text): the caller parses then. */
int gcs_json_text_top_string(char *out, size_t outsz, const char *text, const char *key);

/* Where the value of the top-level member `key` of the JSON object `text` is:
 * *start and *len span its text (any JSON value), for a parser to read that
 * part alone. 1 found, 0 absent, -1 when the text is not an object this scan
 * understands (the caller parses the whole text then): a member name with an
 * escape, met before the scan has found every key, is one (it could spell a
 * key that a parser would find). */
int gcs_json_text_top_value(const char *text, const char *key, const char **start, size_t *len);

/* gcs_json_text_top_value for several keys in one pass over the text: starts[k]
 * and lens[k] span the value of keys[k], or starts[k] is NULL when the object
 * has no such member. Returns how many keys were found, or -1 as above (then
 * nothing found counts). A repeated member counts at its first place; the scan
 * stops once every key is found. */
int gcs_json_text_top_values(const char *text, const char *const *keys, size_t count,
                             const char **starts, size_t *lens);

/* The end (one past it) of the JSON value whose text starts at p, or NULL when
 * the text ends first: for walking the elements of an array already checked
 * (gcs_json_text_check). Strings are skipped whole. */
const char *gcs_json_text_value_end(const char *p);

/*
 * Whether text[0, len) is a JSON document that jansson's json_loadb reads with
 * JSON_REJECT_DUPLICATES and no other flag (an object or an array, valid UTF-8,
 * no \u0000, no repeated member name in any object, nothing but blanks after
 * it), without building it: 1 it is, 0 it is not, -1 when this check does not
 * decide and a parser must (a number with a fraction, an exponent or more than
 * 18 digits, an object whose member names hold escapes or that has very many
 * members, nesting deeper than 64). Never 1 where jansson would refuse, nor 0
 * where it would accept (fuzz/fuzz_json_check.c holds it to that).
 */
int gcs_json_text_check(const char *text, size_t len);

/*
 * Appends s[0, n) as jansson's dump writes a string, quotes included: '"', '\\'
 * and control characters escaped (\b \f \n \r \t by name, the others as
 * \u00XX in capitals), everything else as it is, so that text written by hand
 * matches a tree's dump byte for byte. 1 written; 0 when s is not a string
 * jansson holds (invalid UTF-8, a NUL): nothing is appended then, and the
 * caller goes the tree's way, which fails as it always did; or the error of
 * the buffer.
 */
int gcs_json_text_put_string(gcs_buf *out, const char *s, size_t n);

/*
 * The escape jansson's dump writes for c, one of '"', '\\' and the control
 * characters: \b \f \n \r \t by name, the others as \u00XX in capitals.
 * Writes it into esc and returns its length, 2 or 6.
 */
size_t gcs_json_escape_byte(unsigned char c, char esc[6]);

/*
 * The length of the strict UTF-8 sequence at s[0, n) (Unicode's table 3-7, as
 * jansson checks it: no overlong form, no surrogate, nothing past U+10FFFF),
 * or 0 when none starts there. n is at least 1.
 */
size_t gcs_utf8_sequence_length(const unsigned char *s, size_t n);

/*
 * Appends v as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes it, members
 * in their order, without jansson's dump (which costs a pointer's name printed
 * and hashed for every object and array, against cycles). 1 written; 0 when a
 * string holds what gcs_json_text_put_string does not write (a NUL, invalid
 * UTF-8): nothing is appended, and the caller dumps with jansson; or
 * GCS_ENOMEM. Reals are written by jansson itself.
 */
int gcs_json_text_put_compact(gcs_buf *out, const json_t *v);

/* Appends the compact JSON text[0, n) as jansson writes it with JSON_INDENT(0):
 * a space after every ',' and ':' outside strings. 0, or the buffer's error. */
int gcs_json_text_put_spaced(gcs_buf *out, const char *text, size_t n);

#endif
