/*
 * approval.c - the blast-radius rule: what in a plan needs an explicit approval.
 *
 * One pure function over the plan's operations, used when the plan is shown and
 * again before apply sends anything, with thresholds and approvals that come
 * from flags and configuration only (never from the plan file, whose content is
 * sealed by its identity).
 */
#include "plan/plan.h"
#include "plan/group_plan.h"
#include "plan/internal.h"
#include "core/error.h"
#include "core/jsontext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Counting what a plan does ==== */

static bool blank(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* "urn:…:User:department" -> "department"; "phoneNumbers[mobile]" -> "phoneNumbers.mobile" */
static void attribute_name(char *out, size_t outsz, const char *attribute)
{
    const char *last = strrchr(attribute, ':');
    const char *a = strncmp(attribute, "urn:", 4) == 0 && last ? last + 1 : attribute;
    snprintf(out, outsz, "%s", a);
    char *open = strchr(out, '[');
    if (open) {
        *open = '.';
        char *close = strchr(open, ']');
        if (close)
            *close = '\0';
    }
}

/* A role entry's name: {"value": name} as SCIM writes it, or a plain string. */
static const char *role_name(const json_t *r)
{
    return json_is_string(r) ? json_string_value(r) : json_string_value(json_object_get(r, "value"));
}

/* Does a role of `old` miss from `new_value`? */
static bool roles_removed(const json_t *old, const json_t *new_value)
{
    size_t i, j;
    json_t *r, *n;
    json_array_foreach(old, i, r) {
        const char *v = role_name(r);
        bool kept = false;
        json_array_foreach(new_value, j, n) {
            const char *w = role_name(n);
            kept |= v && w && strcmp(v, w) == 0;
        }
        if (v && !kept)
            return true;
    }
    return false;
}

static void bump(json_t *counts, const char *what)
{
    json_int_t n = json_integer_value(json_object_get(counts, what));
    json_object_set_new(counts, what, json_integer(n + 1));
}

static bool over(const gcs_plan_threshold *t, long count, long managed)
{
    if (count > t->max_count)
        return true;
    return count > t->floor && managed > 0 && (double)count / (double)managed > t->max_share;
}

const gcs_plan_approval *gcs_plan_options_approval(const gcs_plan_options *o, const char *what)
{
    for (size_t i = 0; i < o->approval_count; i++) {
        if (strcmp(o->approvals[i].what, what) == 0)
            return &o->approvals[i];
    }
    return NULL;
}

static void need(json_t *needs, const gcs_plan_options *o, const char *what, long count,
                 const char *why)
{
    const gcs_plan_approval *a = gcs_plan_options_approval(o, what);
    bool approved = a && (a->count < 0 || a->count >= count);
    /* The flag that approves it: named kinds carry no count. */
    char flag[GCS_PLAN_APPROVAL_WHAT_MAX + 40];
    if (count < 0 || strncmp(what, "privileged:", 11) == 0)
        snprintf(flag, sizeof flag, "--approve %s", what);
    else
        snprintf(flag, sizeof flag, "--approve %s=%ld", what, count);
    json_array_append_new(needs, json_pack("{s:s,s:I,s:s,s:b,s:s}", "what", what, "count",
                                           (json_int_t)count, "why", why, "approved", approved,
                                           "flag", flag));
}

static void threshold_text(char *out, size_t outsz, const gcs_plan_threshold *t, long managed)
{
    snprintf(out, outsz, "over %ld users, or over %.0f%% of the %ld managed users when more than %ld",
             t->max_count, t->max_share * 100.0, managed, t->floor);
}

/* One need per attribute whose count (in `counts`) is over the threshold. */
static void need_each(json_t *needs, const gcs_plan_options *o, json_t *counts,
                      const gcs_plan_threshold *t, long managed, const char *kind,
                      const char *verb)
{
    const char *attr;
    json_t *n;
    char what[GCS_PLAN_APPROVAL_WHAT_MAX], why[512], limits[256];
    json_object_foreach(counts, attr, n) {
        long count = (long)json_integer_value(n);
        if (!over(t, count, managed))
            continue;
        threshold_text(limits, sizeof limits, t, managed);
        snprintf(what, sizeof what, "%s:%s", kind, attr);
        snprintf(why, sizeof why, "%s %s on %ld users (%s)", attr, verb, count, limits);
        need(needs, o, what, count, why);
    }
}

/* ==== Groups ==== */

/* Members removed from groups and role grants revoked from groups, each over
 * the removals threshold, measured against what the planned groups hold. */
static void group_needs(json_t *needs, const gcs_plan *plan, const gcs_plan_options *o)
{
    long removed, memberships, revoked, grants;
    char why[512];
    const gcs_plan_threshold *t = &o->removals;
    gcs_group_plan_count_removals(plan, &removed, &memberships, &revoked, &grants);
    if (removed > 0 && over(t, removed, memberships)) {
        snprintf(why, sizeof why,
                 "%ld members removed from groups (over %ld, or over %.0f%% of the %ld "
                 "memberships of the groups planned when more than %ld)",
                 removed, t->max_count, t->max_share * 100.0, memberships, t->floor);
        need(needs, o, "remove-members", removed, why);
    }
    if (revoked > 0 && over(t, revoked, grants)) {
        snprintf(why, sizeof why,
                 "%ld role grants revoked from groups, from every member (over %ld, or over "
                 "%.0f%% of the %ld grants of the groups planned when more than %ld)",
                 revoked, t->max_count, t->max_share * 100.0, grants, t->floor);
        need(needs, o, "revoke-grants", revoked, why);
    }
}

/* A string value's whole text (len bytes) without escapes: its inside copied
 * to out (1), 0 when it is not a string, -1 when it has an escape, does not
 * fit, or is not one string and nothing else. */
static int plain_string(char *out, size_t outsz, const char *v, size_t len)
{
    if (!v || len == 0 || v[0] != '"')
        return 0;
    size_t n = strcspn(v + 1, "\\\"");
    if (v[1 + n] != '"' || n + 2 != len || n >= outsz)
        return -1;
    memcpy(out, v + 1, n);
    out[n] = '\0';
    return 1;
}

static bool is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* blank() of a value's text; absent (NULL) counts as blank. */
static bool blank_text(const char *v, size_t len)
{
    if (!v || (len == 4 && memcmp(v, "null", 4) == 0) || (len == 2 && memcmp(v, "\"\"", 2) == 0))
        return true;
    if (len < 2 || v[0] != '[' || v[len - 1] != ']')
        return false;
    for (size_t k = 1; k + 1 < len; k++)
        if (!is_blank_char(v[k]))
            return false;
    return true;
}

const char *const gcs_plan__counted_members[GCS_PLAN__COUNTED] = {"kind", "leaver",
                                                                  "privileged", "changes"};

/*
 * One change of the text path, {"attribute": ..., "old": ..., "new": ...} at
 * p: its member texts found by one scan. 1 read (v[] and len[] set, *end past
 * it), 0 when the parser must read it: anything but an object, a member name
 * with an escape (the scan's -1).
 */
static int change_text(const char *p, const char **v, size_t *len, const char **end)
{
    static const char *const parts[] = {"attribute", "old", "new"};
    if (*p != '{' || !(*end = gcs_json_text_value_end(p)))
        return 0;
    return gcs_json_text_top_values(p, parts, 3, v, len) >= 0;
}

int gcs_plan__count_text(const char *const *t, gcs_plan__tally *tally)
{
    const char *changes_text = t[GCS_PLAN__CHANGES];
    char kind_name[32], attribute[GCS_PLAN_APPROVAL_WHAT_MAX];
    char name[GCS_PLAN_APPROVAL_WHAT_MAX - 16];
    gcs_plan_kind kind;
    if (plain_string(kind_name, sizeof kind_name, t[GCS_PLAN__KIND],
                     t[GCS_PLAN__KIND] ? strlen(t[GCS_PLAN__KIND]) : 0) != 1 ||
        gcs_plan_kind_parse(kind_name, &kind) < 0 ||
        (t[GCS_PLAN__PRIVILEGED] && strcmp(t[GCS_PLAN__PRIVILEGED], "[]") != 0))
        return 0;
    /* The leaver mark counts by being there; gcscim writes it true, and any
     * other text is the parser's to read (or to refuse). */
    if (t[GCS_PLAN__LEAVER] && strcmp(t[GCS_PLAN__LEAVER], "true") != 0)
        return 0;
    if (changes_text) {
        /* An escape could spell a member's name or an attribute: only the
         * parser reads it. The text must be an array jansson reads as it is
         * (no duplicate name, nothing cut short or after it), checked without
         * building it; anything the check leaves undecided is the parser's. */
        size_t n = strlen(changes_text);
        if (changes_text[0] != '[' || memchr(changes_text, '\\', n) ||
            gcs_json_text_check(changes_text, n) != 1)
            return 0;
    }
    /* First a look at every change: the counts move only once all are plain. */
    for (int pass = 0; pass < 2; pass++) {
        const char *p = changes_text ? changes_text + 1 : "]";
        while (*p != ']') {
            const char *v[3], *end;
            size_t len[3];
            /* Anything but an object right here (a blank, text gcscim does
             * not write) is the parser's to count. */
            if (!change_text(p, v, len, &end))
                return 0;
            int a = plain_string(attribute, sizeof attribute, v[0], len[0]);
            if (a < 0)
                return 0;
            p = end;
            if (*p == ',')
                p++;
            else if (*p != ']')
                return 0;
            if (a == 0 || strcmp(attribute, "active") == 0 || blank_text(v[1], len[1]))
                continue;
            if (strcmp(attribute, "roles") == 0)
                return 0;
            if (pass == 1) {
                attribute_name(name, sizeof name, attribute);
                bump(blank_text(v[2], len[2]) ? tally->clears : tally->changes, name);
            }
        }
    }
    if (kind == GCS_PLAN_DEACTIVATE) {
        tally->deactivations++;
        if (t[GCS_PLAN__LEAVER])
            tally->leavers++;
    }
    if (kind == GCS_PLAN_ADOPT)
        tally->adoptions++;
    return 1;
}

int gcs_plan__count_parsed(const json_t *op, gcs_plan__tally *tally)
{
    gcs_plan_kind kind;
    char name[GCS_PLAN_APPROVAL_WHAT_MAX - 16];
    if (gcs_plan_kind_parse(json_string_value(json_object_get(op, "kind")), &kind) < 0)
        return 0;
    if (kind == GCS_PLAN_DEACTIVATE) {
        tally->deactivations++;
        if (json_object_get(op, "leaver"))
            tally->leavers++;
    }
    if (kind == GCS_PLAN_ADOPT)
        tally->adoptions++;
    if (json_array_size(json_object_get(op, "privileged")) > 0)
        tally->privileged++;
    size_t j;
    json_t *ch;
    json_array_foreach(json_object_get(op, "changes"), j, ch) {
        const char *attribute = json_string_value(json_object_get(ch, "attribute"));
        json_t *old = json_object_get(ch, "old"), *new_value = json_object_get(ch, "new");
        if (!attribute || strcmp(attribute, "active") == 0 || blank(old))
            continue;
        if (strcmp(attribute, "roles") == 0) {
            if (roles_removed(old, new_value))
                tally->removals++;
            continue;
        }
        attribute_name(name, sizeof name, attribute);
        bump(blank(new_value) ? tally->clears : tally->changes, name);
    }
    return 1;
}

/* What one weighing update or deactivation adds to the tally, read from the
 * compact text of its members without a parser: 1 counted, 0 when the parsed
 * path must count it (an escape, a role change, a privileged role, an
 * operation that cannot be read back, any text not as gcscim writes it:
 * rarer, and each is said there as it was). Every update of a large plan
 * comes through here. */
static int count_from_text(const gcs_plan *plan, size_t i, gcs_plan__tally *tally)
{
    char *t[GCS_PLAN__COUNTED];
    if (gcs_plan_member_texts_at(plan, i, gcs_plan__counted_members, GCS_PLAN__COUNTED, t) < 0)
        return 0;
    int rc = gcs_plan__count_text((const char *const *)t, tally);
    for (int k = 0; k < GCS_PLAN__COUNTED; k++)
        free(t[k]);
    return rc;
}

json_t *gcs_plan_needs(const gcs_plan *plan, const gcs_plan_options *o)
{
    json_t *needs = json_array();
    gcs_plan__tally tally = {.clears = json_object(), .changes = json_object()};
    long managed = (long)json_integer_value(json_object_get(plan->doc, "managed_total"));
    char what[GCS_PLAN_APPROVAL_WHAT_MAX], why[512];
    for (size_t i = 0; i < gcs_plan_size(plan); i++) {
        if (!gcs_plan_weighs_at(plan, i))
            continue; /* a plain create: nothing here counts it */
        if (count_from_text(plan, i, &tally))
            continue;
        static const char *const wanted[] = {"kind", "key", "leaver", "privileged", "changes"};
        json_t *op = gcs_plan_op_part_at(plan, i, wanted, sizeof wanted / sizeof *wanted);
        if (!op) {
            /* An operation that cannot be read back is never waved through. */
            snprintf(why, sizeof why, "operation %zu cannot be read: %s", i + 1, gcs_error_last());
            need(needs, o, "unreadable-plan", 1, why);
            continue;
        }
        long privileged = tally.privileged;
        gcs_plan_kind kind;
        if (!gcs_plan__count_parsed(op, &tally) ||
            gcs_plan_kind_parse(json_string_value(json_object_get(op, "kind")), &kind) < 0) {
            json_decref(op);
            continue;
        }
        /* A create that grants a privileged role counts too: a new Master Admin
         * from one CSV cell is as dangerous as a role given to an existing user. */
        if (tally.privileged > privileged) {
            const char *key = json_string_value(json_object_get(op, "key"));
            char *roles = json_dumps(json_object_get(op, "privileged"), JSON_COMPACT);
            snprintf(what, sizeof what, "privileged:%s", key ? key : "?");
            snprintf(why, sizeof why, "%s %s holds %s", gcs_plan_kind_name(kind),
                     key ? key : "?", roles ? roles : "a privileged role");
            free(roles);
            need(needs, o, what, 1, why);
        }
        json_decref(op);
    }
    long deactivations = tally.deactivations, leavers = tally.leavers;
    long removals = tally.removals, adoptions = tally.adoptions;
    json_t *clears = tally.clears, *changes = tally.changes;

    char limits[256];
    if (leavers > 0 && managed > 0 && leavers >= managed &&
        !json_is_true(json_object_get(plan->doc, "targeted"))) {
        /* An export with a header and no rows (or only rows of other people)
         * makes every managed user a leaver. Under the floor in a small
         * organisation, that would need no approval: it always does. */
        snprintf(why, sizeof why,
                 "%ld users deactivated: every user gcscim manages (%ld) is absent from the source",
                 deactivations, managed);
        need(needs, o, "deactivate", deactivations, why);
    } else if (deactivations > 0 && over(&o->removals, deactivations, managed)) {
        threshold_text(limits, sizeof limits, &o->removals, managed);
        snprintf(why, sizeof why, "%ld users deactivated (%s)", deactivations, limits);
        need(needs, o, "deactivate", deactivations, why);
    }
    if (leavers > 0 && (json_integer_value(json_object_get(plan->doc, "rejected_rows")) > 0 ||
                        json_is_false(json_object_get(plan->doc, "source_clean")))) {
        snprintf(why, sizeof why,
                 "%ld leavers deactivated although the source had rejected rows or was not read "
                 "to its end",
                 leavers);
        need(needs, o, "deactivate-despite-rejects", -1, why);
    }
    if (removals > 0 && over(&o->removals, removals, managed)) {
        threshold_text(limits, sizeof limits, &o->removals, managed);
        snprintf(why, sizeof why, "%ld users lose roles (%s)", removals, limits);
        need(needs, o, "remove-roles", removals, why);
    }
    need_each(needs, o, clears, &o->removals, managed, "clear", "emptied");
    need_each(needs, o, changes, &o->changes, managed, "change", "changed");
    if (adoptions > 0) {
        snprintf(why, sizeof why, "%ld existing users that gcscim does not manage taken over",
                 adoptions);
        need(needs, o, "adopt", adoptions, why);
    }
    group_needs(needs, plan, o);
    json_decref(clears);
    json_decref(changes);
    return needs;
}

int gcs_plan_check_approval(const gcs_plan *plan, const gcs_plan_options *o)
{
    json_t *needs = gcs_plan_needs(plan, o);
    char whys[2048] = "", flags[2048] = "";
    size_t nw = 0, nf = 0, missing = 0;
    size_t i;
    json_t *n;
    json_array_foreach(needs, i, n) {
        if (json_is_true(json_object_get(n, "approved")))
            continue;
        missing++;
        if (nw < sizeof whys)
            nw += (size_t)snprintf(whys + nw, sizeof whys - nw, "%s%s", missing > 1 ? "; " : "",
                                   json_string_value(json_object_get(n, "why")));
        if (nf < sizeof flags)
            nf += (size_t)snprintf(flags + nf, sizeof flags - nf, " %s",
                                   json_string_value(json_object_get(n, "flag")));
    }
    json_decref(needs);
    if (missing == 0)
        return 0;
    return gcs_error_set(GCS_EREFUSED, "refusing without approval: %s. Review the plan, then "
                                       "approve with%s",
                         whys, flags);
}
