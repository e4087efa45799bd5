/*
 * redact.h - the layer that keeps secrets out of everything we print or store.
 *
 * Three rules, applied to every log line, error message and receipt:
 *  1. Registered secrets (the client secret and other long-lived ones for the
 *     life of the process, the most recent access tokens) are replaced by "***"
 *     wherever they appear: verbatim, or written with JSON escapes (\/, \",
 *     \\, \u00e9, a surrogate pair, up to three levels of JSON inside JSON
 *     strings), the escapes that spell one replaced whole.
 *  2. Credentials in known shapes are replaced whatever their value: the token of
 *     "Bearer …" / "Basic …", and the value of a sensitive key in JSON
 *     ("password": "…", the key quoted), forms and query strings
 *     (client_secret=…), and header lines (Authorization: …, the key first on
 *     its line). A sensitive word elsewhere followed by ':' is ordinary text:
 *     a scope ('authorization:readonly'), a path ("/oauth/token: …").
 *  3. Structured fields whose key is sensitive (gcs_redact_is_sensitive_key) are
 *     printed as "***" by the logger and stored as "***" by receipts.
 * The registry is process-wide and thread-safe; registered values are copied,
 * kept in locked memory where possible, and wiped on gcs_redact_reset().
 */
#ifndef GCS_CORE_REDACT_H
#define GCS_CORE_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

#define GCS_REDACTED "***"

/* Registers a long-lived secret (client secret, Basic credential, database
 * password, webhook secret, API key): kept for the life of the process (up to
 * 1,024 of them). Values shorter than 4 bytes are ignored (they would match
 * everywhere and protect nothing). */
void gcs_redact_register(const char *secret);
/* Registers an access token: the most recent 64 are kept, in a ring of their
 * own, so that a long run's tokens never push a long-lived secret out. */
void gcs_redact_register_token(const char *token);
/* Forgets every registered secret, wiping the copies. For tests and shutdown. */
void gcs_redact_reset(void);

/* True for keys whose values are never shown: authorization, password,
 * client_secret, access_token, *_secret, *_password, *_token, cookie, ... */
bool gcs_redact_is_sensitive_key(const char *key);
/* Whether JSON text may have a key whose value must be hidden, at any depth,
 * without parsing it. Never false when it has one; true as well for escaped
 * keys and for malformed text. Without one, the text rules
 * (gcs_redact_append) do to the text all that gcs_redact_json would. */
bool gcs_redact_json_text_has_sensitive_key(const char *text, size_t len);
/* The same for the first `len` bytes of a longer text, of which only what a
 * head redacted from them (gcs_redact_append_head) is kept: a string cut by
 * the end is no key with a value among them. */
bool gcs_redact_json_head_has_sensitive_key(const char *text, size_t len);

/* Whether JSON text (len bytes, then a NUL) comes out of every rule as it
 * is: no registered secret, no credential shape, no key whose value must be
 * hidden (no escape, which could spell a secret or a key, and no tab or line
 * break, which the cheaper scan behind this answer cannot see through). Then it may be stored as it is, without a
 * copy; false only says that gcs_redact_json or gcs_redact_append must run. */
bool gcs_redact_json_text_is_clean(const char *text, size_t len);

/* Appends `in` to `out` with every rule applied. Text in which no credential
 * shape can start (no sensitive word before a ':' or '=', no "Bearer " or
 * "Basic ": most bodies) is copied without the word-by-word pass. */
int gcs_redact_append(gcs_buf *out, const char *in);
/* The first `keep` bytes of what gcs_redact_append(out, in) would append (all
 * of it when that is no longer), reading only a head of `in` long enough to
 * give them: some `keep` bytes plus twice the longest registered secret (216
 * times that when the head holds a backslash: a secret spelt with escapes three
 * levels deep), more when masks shorten the text. *cut says whether the whole result is longer than
 * `keep`; *used (when not NULL), how many bytes of `in` were read. `in` is
 * `len` bytes followed by a NUL. For a record that keeps only a head of a
 * long text (a receipt of a page of users): the rest is not redacted for
 * nothing. fuzz/fuzz_redact.c holds it to gcs_redact_append. */
int gcs_redact_append_head(gcs_buf *out, const char *in, size_t len, size_t keep, bool *cut,
                           size_t *used);
/* Rule 2 alone, always word by word: what gcs_redact_append's shortcut must
 * equal (fuzz/fuzz_redact.c compares them). */
int gcs_redact_append_shapes_in_full(gcs_buf *out, const char *in);
/* Writes the redacted text into a fixed buffer, truncating if needed
 * (a truncated result never ends inside a secret: secrets are removed first). */
void gcs_redact_text(char *out, size_t outsz, const char *in);
/* A deep copy of a JSON value with sensitive keys' values replaced by "***"
 * and every string passed through the text rules. New reference. */
json_t *gcs_redact_json(const json_t *in);

/* Makes jansson overwrite every block it frees: a parsed token answer, and the
 * parser's own buffers, hold copies of the token; a request built as JSON, the
 * password. Process-wide (jansson has one allocator): the program calls it
 * once at start, before any JSON value exists. */
void gcs_redact_wipe_json_frees(void);

#endif
