/*
 * planner.h - from an HR export and a profile to a plan, reading Genesys only.
 *
 * The steps, in order (nothing is read from Genesys before the profile is known
 * to be good, and nothing is ever written):
 *  1. load the profile (a bad profile fails here, naming its line);
 *  2. fetch the organisation's role, division, skill and language names the
 *     profile refers to, once;
 *  3. stream the source: each row is mapped and validated; a bad row is recorded
 *     as rejected (file, line, field, why) and the rest go on, unless `strict`;
 *  4. read the current users: every user, paged with only the mapped attributes,
 *     when deactivations are wanted (they need every managed user) or when many
 *     rows are planned; one filtered read per row when few are;
 *  5. match rows to users by the managed marker, then by the profile's keys in
 *     order; diff; decide create / update / reactivate / deactivate.
 *
 * Who is managed: a user carries the genesys externalIds entry
 * {authority: <profile's managed authority>, value: <source key>}. gcscim writes
 * it on every user it creates or adopts (an existing user matched by a row), and
 * deactivates only active users that carry it and whose key is no longer in the
 * source (or whose row says inactive). A user whose row was rejected is never
 * deactivated for it: the row's values are remembered and protect it.
 *
 * The plan is the truth (docs/plan.md, "Safety"):
 *  - a create whose userName already belongs to a Genesys user is not a create:
 *    it is planned as `adopt` of that user with the full diff (approval needed),
 *    or rejected when that user is another row's or another key's;
 *  - leavers are not deactivated when any row was rejected or the source was not
 *    read to its end, unless `deactivate-despite-rejects` is approved: they are
 *    listed as withheld instead;
 *  - two rows with the same key, or the same userName, are both rejected;
 *  - every operation on an existing user records whether the user is managed
 *    and which privileged roles it holds, so that the approval rule sees them.
 */
#ifndef GCS_ENGINE_PLANNER_H
#define GCS_ENGINE_PLANNER_H

#include <stdbool.h>

#include "core/org_names.h"
#include "http/client.h"

struct gcs_store;
#include "mapping/source.h"
#include "plan/plan.h"

typedef struct gcs_planner_options {
    const char *source_path;          /* a file, or "-"; with source_data, the name rows carry */
    /* Rows in memory instead of a file (the service's events): JSON text in the
     * source's column shape, borrowed for the run. Checked against the profile
     * as it is read, as standard input is; no rows at all is no check. */
    const char *source_data;
    size_t source_len;
    gcs_source_format source_format;  /* GCS_SOURCE_AUTO by default */
    const char *profile_path;
    const char *api_url;              /* recorded in the plan as its target */
    gcs_plan_options plan;
    bool strict;                      /* the first bad row fails the plan */
    int targeted_max;                 /* at most this many rows: filtered reads (default 20) */
    /* --target KEY...: only these source keys are planned (people on demand, one
     * record fixed); every other row counts as untargeted and nothing else is
     * read from Genesys but these people. NULL/0: every row. Borrowed. */
    const char *const *targets;
    size_t target_count;
    /* With targets: the profile's groups are planned for them too (a person's
     * memberships; "group:KEY" a whole group: group_planner.h). false (the
     * default): a targeted plan has no groups section and a "group:" target is
     * an ordinary key. */
    bool target_groups;
    /* Told, before it is sent, the path of each targeted read and the source
     * key it is made for (a recorder names that person in its receipt:
     * gcs_recorder_learn_path). NULL: nobody is told. */
    void (*on_targeted_read)(void *ctx, const char *key, const char *path);
    void *on_targeted_read_ctx;
    /* Targeted reads: every read a person could need (the marker, each match
     * key, the userName), for every person and every leaver named, goes out at
     * once, in one round trip, instead of one key after the other (a round trip
     * per key not found: three for a new person). The plan is the same: the
     * answers are taken in the order the reads would have been made, and a
     * user only a later key would have found is not looked at. The reads a
     * person found by their first key did not need are sent anyway (and
     * recorded): a service trades them for its latency; the command line does
     * not (false). */
    bool lookups_at_once;
    /* With lookups_at_once: the people likely found by their first read (the
     * marker; gcscim has seen their user before) have only that read sent
     * ahead, and their other keys are read, one after the other, only when it
     * finds nobody: a known person costs one read, not one per key. Borrowed. */
    const char *const *likely_found;
    size_t likely_found_count;
    /* The organisation's names (roles, divisions, skills, languages) fetched
     * already (gcs_planner_fetch_org_names), e.g. kept by a service between
     * plans; NULL: the plan fetches those its profile needs. Borrowed. */
    const gcs_org_names *org_names;
    /* Where group ownership (what gcscim added to groups) is read; NULL: nothing
     * is owned, so only authoritative groups lose members. Borrowed. */
    struct gcs_store *store;
} gcs_planner_options;

/*
 * Every row is accounted for:
 *   rows = created + adopted + updated + reactivated + deactivated + unchanged
 *          + skipped + rejected + out_of_scope + untargeted
 * (skipped: left alone by --no-create / --no-update / --no-deactivate, including
 * rows that match no user under --no-create). Leavers are users, not rows:
 * leavers_deactivated and leavers_skipped count them apart.
 */
typedef struct gcs_planner_stats {
    long rows;           /* records read from the source, bad ones included */
    long mapped;         /* rows that became desired users */
    long out_of_scope;
    long rejected;       /* rows rejected (a row with three errors counts once) */
    long untargeted;     /* rows left out by --target */
    long created, adopted, updated, reactivated, deactivated, unchanged, skipped;
    long leavers_deactivated, leavers_skipped;
    long current_users;  /* users read from Genesys */
    long requests;       /* requests sent to Genesys by the planner */
} gcs_planner_stats;

void gcs_planner_options_init(gcs_planner_options *o);

/* Loads the profile and checks it against the source (every field it reads is
 * in the source: docs/mapping.md), reporting the first error (naming the line
 * and the closest column) without any network access. */
int gcs_planner_check_inputs(const gcs_planner_options *options);

/* Fetches the organisation's names the profile refers to (what a plan would
 * fetch itself), for gcs_planner_options.org_names. *requests (may be NULL)
 * counts the requests sent. The caller frees *out. */
int gcs_planner_fetch_org_names(gcs_org_names **out, gcs_http_client *client,
                                const char *profile_path, long *requests);

/* Builds the plan. *out is initialised here and must be released by the caller
 * on success; on failure it holds nothing. */
int gcs_planner_run(gcs_plan *out, gcs_planner_stats *stats, gcs_http_client *client,
                    const gcs_planner_options *options);
/* gcs_planner_run with every read it sends recorded as a receipt in `store`
 * (the planner's reads are calls to Genesys like any other: proven too).
 * A failure to record fails the plan. */
int gcs_planner_run_recorded(gcs_plan *out, gcs_planner_stats *stats, gcs_http_client *client,
                             struct gcs_store *store, const gcs_planner_options *options);

#endif
