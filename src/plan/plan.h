/*
 * plan.h - a plan: every change gcscim will make, computed before any is made.
 *
 * A plan is a JSON document (format "gcscim-plan/3") that people read through
 * gcs_plan_render and that `gcscim apply` executes exactly. Its operations are
 * not held in memory: each is written, as one line of text, to a private
 * unlinked file when it is added or read, and parsed again when it is used
 * (gcs_plan_op_at), so that a plan of a million operations costs a few dozen
 * bytes of memory per operation. Each operation records
 * the Genesys user id and the version (ETag) it was computed against, so that apply
 * can tell a user that changed since (drift) from one that did not.
 * Operations are kept in a stable order: creates, reactivations, updates,
 * deactivations, each by source key. The plan's identity is a SHA-256 over
 * every member but the identity and the seal (a random nonce among them) and
 * its operations' lines, computed as a stream (docs/plan.md): a resumed apply
 * finds its earlier run by it, and no other plan has it, even one of the same
 * changes. Its content key leaves the nonce, time and file names out: the
 * lease of one run at a time is taken on it.
 */
#ifndef GCS_PLAN_PLAN_H
#define GCS_PLAN_PLAN_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

typedef enum gcs_plan_kind {
    GCS_PLAN_CREATE,
    GCS_PLAN_REACTIVATE,
    GCS_PLAN_UPDATE,
    GCS_PLAN_DEACTIVATE,
    GCS_PLAN_ADOPT,      /* take over an existing user gcscim does not manage: PATCH, like an
                          * update, of the planned attributes and the managed marker */
    GCS_PLAN__KINDS
} gcs_plan_kind;

/*
 * A threshold of the blast-radius rule: a kind of change made to more than
 * `max_count` users, or to more than `max_share` of the users gcscim manages
 * when it touches more than `floor` users, needs an approval that names it.
 * The floor keeps the share rule from refusing a single leaver in a small
 * organisation (1 of 12 managed users is 8%).
 */
typedef struct gcs_plan_threshold {
    long max_count;
    double max_share;   /* 0.05 = 5% */
    long floor;
} gcs_plan_threshold;

/* One approval given on the command line: what it approves and how many. */
#define GCS_PLAN_APPROVALS_MAX 32
#define GCS_PLAN_APPROVAL_WHAT_MAX 200
typedef struct gcs_plan_approval {
    char what[GCS_PLAN_APPROVAL_WHAT_MAX]; /* "deactivate", "clear:title", "adopt", "privileged:E7", ... */
    long count;                            /* approved up to this many; -1: any number */
} gcs_plan_approval;

/* What a plan may do, and what has been approved. Always from flags and
 * configuration, never from a plan file. */
typedef struct gcs_plan_options {
    bool no_create;
    bool no_update;
    bool no_deactivate;
    /* Removals: deactivations, attributes cleared, roles taken away
     * (default 10 users, or 5% of managed users above 3). */
    gcs_plan_threshold removals;
    /* Changes: an attribute given a different value (default 100, or 10% above 10). */
    gcs_plan_threshold changes;
    gcs_plan_approval approvals[GCS_PLAN_APPROVALS_MAX];
    size_t approval_count;
} gcs_plan_options;

void gcs_plan_options_init(gcs_plan_options *o);

/*
 * Adds an approval from its text: "KIND=N" (deactivate=12, clear:title=300,
 * change:department=40, remove-roles=5, adopt=30) or a name without a count
 * (privileged:KEY, deactivate-despite-rejects). An approval for fewer than the
 * plan needs does not approve it. GCS_EUSAGE for a malformed text or too many.
 */
int gcs_plan_options_approve(gcs_plan_options *o, const char *text);
/* The approval given for `what` ("deactivate-despite-rejects", "adopt", ...), or
 * NULL. Borrowed from o. */
const gcs_plan_approval *gcs_plan_options_approval(const gcs_plan_options *o, const char *what);

typedef struct gcs_plan_ops gcs_plan_ops;

typedef struct gcs_plan {
    json_t *doc;       /* the document but its operations: format, target, summary, identity, ... */
    gcs_plan_ops *ops; /* the operations, kept in a file (private) */
} gcs_plan;

/* An empty plan for the given target API and inputs, with a nonce of 128 random
 * bits of its own (allocating: release with gcs_plan_release). */
int gcs_plan_begin(gcs_plan *plan, const char *api_url, const char *source_path,
                  const char *profile_path, const gcs_plan_options *options);
void gcs_plan_release(gcs_plan *plan);

const char *gcs_plan_kind_name(gcs_plan_kind kind);
int gcs_plan_kind_parse(const char *name, gcs_plan_kind *out);

/*
 * Adds an operation. `key` is the source key (or the managed marker value for a
 * leaver); `id` and `version` are NULL for a create; `body` is the SCIM user for a
 * create, the PATCH operations array otherwise (stolen); `changes` the readable
 * list of {attribute, old, new} (stolen, may be NULL); `extra` (stolen, may be
 * NULL) is merged into the operation (location, manager_key, ...).
 */
int gcs_plan_add(gcs_plan *plan, gcs_plan_kind kind, const char *key, const char *user_name,
                 const char *id, const char *version, json_t *body, json_t *changes,
                 json_t *extra);
/*
 * gcs_plan_add of a create whose body is already text: `body_text` is the SCIM
 * user as json_dumps writes it with JSON_COMPACT (the plan writes it with its
 * own separators, byte for byte what gcs_plan_add would). `changes` and `extra`
 * are stolen as there; a member of `extra` named like one of the operation's own
 * makes it a gcs_plan_add of the parsed body.
 */
int gcs_plan_add_create_text(gcs_plan *plan, const char *key, const char *user_name,
                             const char *body_text, json_t *changes, json_t *extra);
/*
 * gcs_plan_add_create_text with every member already text, no tree at all:
 * `changes_text` the changes array as the plan writes it (JSON_INDENT(0)),
 * `location`, `manager_key` (NULL: none) and `privileged_text` (the array of
 * privileged roles as the plan writes it; NULL: none, never "[]") the
 * members gcs_plan_add_create_text takes from extra, in that order. 1 added;
 * 0 when a string is not one jansson holds (invalid UTF-8): nothing is added,
 * and gcs_plan_add_create_text says what is wrong with it; or the error.
 */
int gcs_plan_add_create_texts(gcs_plan *plan, const char *key, const char *user_name,
                              const char *body_text, const char *changes_text,
                              const char *location, const char *manager_key,
                              const char *privileged_text);
/* Records a rejected source row: where and why. */
void gcs_plan_reject(gcs_plan *plan, const char *location, const char *field, const char *reason);
void gcs_plan_set_counts(gcs_plan *plan, long unchanged, long managed_total);
/* What the approvals rest on: rows rejected, and whether the source was read to
 * its end without a fatal error. Sealed into the identity. */
void gcs_plan_set_source_facts(gcs_plan *plan, long rejected_rows, bool clean);
/* The plan covers only named people (--target): its managed count is theirs, not
 * the organisation's, so "every managed user is a leaver" says nothing. Sealed. */
void gcs_plan_set_targeted(gcs_plan *plan, bool targeted);
/* Records a row or user the plan leaves alone on purpose (a --no-* flag, a
 * withheld deactivation, no matching user): shown, counted, never applied. */
void gcs_plan_skip(gcs_plan *plan, const char *key, const char *user_name, const char *location,
                   const char *why);
/* The accounting of every source row (stolen): rows read = created + adopted +
 * updated + reactivated + deactivated + unchanged + skipped + rejected + out of scope. */
void gcs_plan_set_rows(gcs_plan *plan, json_t *rows);

/* Sorts operations into their stable order and fills in the summary, the
 * identity and the content key. */
int gcs_plan_finish(gcs_plan *plan);

/* How many operations; the kind of operation i (GCS_PLAN__KINDS past the end);
 * operation i (0-based) parsed again from the plan's file, with its "seq": a
 * new reference, or NULL with the error set. This is how large plans are read. */
size_t gcs_plan_size(const gcs_plan *plan);
gcs_plan_kind gcs_plan_kind_at(const gcs_plan *plan, size_t i);
json_t *gcs_plan_op_at(const gcs_plan *plan, size_t i);
/* Only the named top-level members of operation i (those it has), parsed
 * without the rest (a create's body, an update's desired state): a new object,
 * or NULL with the error set. For passes over every operation. */
json_t *gcs_plan_op_part_at(const gcs_plan *plan, size_t i, const char *const *members,
                            size_t count);
/* The named top-level members of operation i that are strings, each a new
 * string in values[k] (NULL when absent or not a string), present[k] telling
 * whether the member is there at all; read from the operation's text in one
 * pass, without a parser for plain strings. At most 16 members. 0, or the
 * error (nothing then to free). For what every operation of a run needs. */
int gcs_plan_op_strings_at(const gcs_plan *plan, size_t i, const char *const *members,
                           size_t count, char **values, bool *present);
/* The top-level member `member` of operation i as compact JSON text (what
 * JSON_COMPACT writes of it), without parsing the operation: a create's body
 * goes on the wire as it is kept. A new string, or NULL with the error set
 * (GCS_ENOTFOUND when the operation has no such member). */
char *gcs_plan_member_text_at(const gcs_plan *plan, size_t i, const char *member);
/* gcs_plan_member_text_at for several members in one reading of operation i:
 * texts[k] a new string, NULL when the operation has no such member. 0, or
 * the error (nothing then to free). At most 16 members. */
int gcs_plan_member_texts_at(const gcs_plan *plan, size_t i, const char *const *members,
                             size_t count, char **texts);
/* Whether operation i can matter to the blast-radius rule: every operation but
 * a create that grants no privileged role and replaces no value. Decided from
 * the operation's text when it was added or read (so, sealed like it). */
bool gcs_plan_weighs_at(const gcs_plan *plan, size_t i);
/* Every operation at once, as an array loaded into memory and kept with the
 * document (borrowed): for small plans and reports. Edits of it count once
 * gcs_plan_finish is called again. NULL when out of memory. */
json_t *gcs_plan_operations(const gcs_plan *plan);
long gcs_plan_count(const gcs_plan *plan, gcs_plan_kind kind);
const char *gcs_plan_identity(const gcs_plan *plan); /* hex SHA-256, borrowed */
/* The content key (hex SHA-256, borrowed; NULL before gcs_plan_finish or a read):
 * a digest of what the plan will do and where, without its nonce, when it was
 * made or from which files. Two plans made of the same changes share it, and
 * apply's lease is taken on it (one run of those changes at a time). For a
 * gcscim-plan/2 plan, its identity. */
const char *gcs_plan_content_key(const gcs_plan *plan);
/* GCS_EINVALID, naming `name` (NULL: "the plan"), when the plan is of the format before every
 * plan carried a nonce (gcscim-plan/2): readable (undo reads the plans kept
 * with older runs), but not to be applied, since it cannot be told from an
 * earlier plan of the same changes. */
int gcs_plan_check_current(const gcs_plan *plan, const char *name);

/*
 * The blast-radius rule, the one check for every kind of mass or dangerous
 * change, made the same way when the plan is shown and before apply sends
 * anything. It returns a new array of what the plan needs approved:
 *   {"what": "deactivate", "count": 12, "why": "12 users deactivated (...)",
 *    "approved": true|false, "flag": "--approve deactivate=12"}
 * Kinds: "deactivate" and "clear:ATTR" and "remove-roles" (the removals
 * threshold), "change:ATTR" (the changes threshold), "adopt" (always: taking
 * over users gcscim does not manage), "privileged:KEY" (always: any change to a
 * user holding a privileged role), "deactivate-despite-rejects" (always: leavers
 * deactivated although rows were rejected or the source was not read cleanly).
 */
json_t *gcs_plan_needs(const gcs_plan *plan, const gcs_plan_options *options);

/* GCS_EREFUSED, with a message naming each unapproved need and the exact
 * --approve flags that approve it, unless everything needed is approved. */
int gcs_plan_check_approval(const gcs_plan *plan, const gcs_plan_options *options);

/*
 * The seal: an HMAC-SHA256 of the identity, keyed by the OAuth client that
 * computed the plan (its secret, with its id in the message). The identity is a
 * digest that anyone who edits a plan file can recompute; the seal can be made
 * again only with the credentials, and whoever holds those could call Genesys
 * directly anyway. It also ties a plan to one OAuth client, hence to one
 * organisation (two organisations in one region share an API URL). A new secret
 * means a new plan. GCS_EINVALID without a secret.
 */
int gcs_plan_seal(gcs_plan *plan, const char *client_id, const char *secret);
/* GCS_EINVALID, naming `path`, unless the plan carries a seal made with these
 * credentials (no seal, or another one, is refused). */
int gcs_plan_check_seal(const gcs_plan *plan, const char *path, const char *client_id,
                        const char *secret);

/* A plan file is read a line at a time: a line (the first holds everything but
 * the operations, then one operation each) may not pass GCS_PLAN_MAX_LINE_BYTES,
 * nor the file GCS_PLAN_MAX_BYTES (a million users' plan is about 1 GiB). */
#define GCS_PLAN_MAX_BYTES (16LL * 1024 * 1024 * 1024)
#define GCS_PLAN_MAX_LINE_BYTES (64LL * 1024 * 1024)

/* Writes the plan file (0600: it may hold personal data) / reads it back,
 * checking its identity as it reads. Reading refuses anything but a regular
 * file of at most GCS_PLAN_MAX_BYTES (GCS_EINVALID). */
int gcs_plan_write(const gcs_plan *plan, const char *path);
int gcs_plan_read(gcs_plan *plan, const char *path);
/* The same checks as gcs_plan_read, on a plan document in memory (`name` says
 * where it came from, for the messages): a run's plan kept in the store. */
int gcs_plan_parse(gcs_plan *plan, const char *text, size_t len, const char *name);
/* The plan document as compact JSON text (*out is the caller's): what
 * gcs_plan_parse reads back, seal included. */
int gcs_plan_dump(char **out, const gcs_plan *plan);
/* About how many bytes the operations take in the plan's text (an upper bound):
 * to know before gcs_plan_dump whether the text is worth building. */
size_t gcs_plan_operations_bytes(const gcs_plan *plan);

/* The plan's text (what gcs_plan_dump builds whole) handed out in pieces of
 * any size, one operation's line in memory at a time: for keeping a large
 * plan (gcs_store_run_plan_put_feed). gcs_plan_text_feed has the shape of a
 * gcs_plan_feed_fn, its payload the gcs_plan_text; the plan must outlive it. */
typedef struct gcs_plan_text gcs_plan_text;
int gcs_plan_text_open(gcs_plan_text **out, const gcs_plan *plan);
size_t gcs_plan_text_feed(char *buf, size_t size, void *payload);
void gcs_plan_text_close(gcs_plan_text *t);

/* Reading a plan from any source of bytes, in pieces of any size: `feed` fills
 * buf with at most size bytes and returns how many, 0 at the end, (size_t)-1
 * on an error (errno set). `name` is for messages. */
typedef size_t (*gcs_plan_feed_fn)(char *buf, size_t size, void *payload);
typedef struct gcs_plan_reader {
    const char *name;
    gcs_plan_feed_fn feed;
    void *payload;
    long line;           /* lines read so far */
    size_t pos, fill;
    char chunk[65536];
} gcs_plan_reader;
void gcs_plan_reader_init(gcs_plan_reader *r, const char *name, gcs_plan_feed_fn feed,
                          void *payload);
int gcs_plan_read_stream(gcs_plan *plan, gcs_plan_reader *r);

/* A plan is only valid for the organisation it was computed against: 0 when
 * its target API is `api_url`, GCS_EINVALID naming both otherwise (`name`,
 * e.g. the plan's file, is for the message). Every entry point that applies a
 * plan read from outside checks this first. */
int gcs_plan_check_target(const gcs_plan *plan, const char *api_url, const char *name);

/* terraform-plan style: counts of + ~ - and each attribute's old and new value. */
void gcs_plan_render_text(const gcs_plan *plan, FILE *out, bool color);

/* Writes `s` for a terminal: a control character (C0, DEL, C1) becomes \xHH and a
 * bidirectional control (U+061C, U+200E-200F, U+202A-202E, U+2066-2069) \uHHHH,
 * so that a value read from Genesys or a file cannot move the cursor, clear the
 * screen or reorder what the plan shows. Everything else is written as it is. */
void gcs_plan_put_text(FILE *out, const char *s);

#endif
