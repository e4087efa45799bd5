/*
 * group_plan.c - the groups section of a plan (group_plan.h).
 */
#include "plan/group_plan.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *gcs_group_plan_section(const gcs_plan *plan)
{
    return plan && plan->doc ? json_object_get(plan->doc, "groups") : NULL;
}

json_t *gcs_group_plan_operations(const gcs_plan *plan)
{
    return json_object_get(gcs_group_plan_section(plan), "operations");
}

int gcs_group_plan_begin(gcs_plan *plan, const char *hierarchy, bool authoritative)
{
    json_t *s =
        json_pack("{s:s,s:s,s:b,s:[],s:[],s:i}", "matched_by", "name", "hierarchy", hierarchy,
                  "authoritative", authoritative, "operations", "rejected", "unchanged", 0);
    if (!s || json_object_set_new(plan->doc, "groups", s) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_group_plan_add(gcs_plan *plan, json_t *op)
{
    json_t *ops = gcs_group_plan_operations(plan);
    if (!op || !ops || json_array_append_new(ops, op) < 0)
        return gcs_error_set(GCS_ENOMEM, "cannot build group operation");
    return 0;
}

int gcs_group_plan_reject(gcs_plan *plan, const char *key, const char *location, const char *field,
                          const char *reason)
{
    json_t *list = json_object_get(gcs_group_plan_section(plan), "rejected");
    json_t *r = json_pack("{s:s?,s:s?,s:s?,s:s?}", "key", key, "location", location, "field", field,
                          "reason", reason);
    if (!r || !list || json_array_append_new(list, r) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_group_plan_skip(gcs_plan *plan, const json_t *op, const char *reason, const char *flag)
{
    json_t *section = gcs_group_plan_section(plan);
    json_t *list = json_object_get(section, "skipped");
    if (section && !list && json_object_set_new(section, "skipped", list = json_array()) < 0)
        list = NULL;
    char why[300];
    snprintf(why, sizeof why, "%s (%s)", reason, flag);
    json_t *s = json_pack(
        "{s:O?,s:O?,s:O?,s:s,s:I,s:I,s:I,s:I,s:I}", "key", json_object_get(op, "key"), "name",
        json_object_get(json_object_get(op, "group"), "name"), "kind", json_object_get(op, "kind"),
        "reason", why, "changes", (json_int_t)json_array_size(json_object_get(op, "changes")), "add",
        (json_int_t)json_array_size(json_object_get(op, "add")), "remove",
        (json_int_t)json_array_size(json_object_get(op, "remove")), "grant",
        (json_int_t)json_array_size(json_object_get(op, "grant")), "revoke",
        (json_int_t)json_array_size(json_object_get(op, "revoke")));
    if (!s || !list || json_array_append_new(list, s) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

void gcs_group_plan_set_unchanged(gcs_plan *plan, long unchanged)
{
    json_t *s = gcs_group_plan_section(plan);
    if (s)
        json_object_set_new(s, "unchanged", json_integer(unchanged));
}

size_t gcs_group_plan_count(const gcs_plan *plan)
{
    return json_array_size(gcs_group_plan_operations(plan));
}

/* Groups, not problems: a record with two faults is one group rejected. */
size_t gcs_group_plan_rejected(const gcs_plan *plan)
{
    json_t *list = json_object_get(gcs_group_plan_section(plan), "rejected");
    json_t *seen = json_object();
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const char *key = json_string_value(json_object_get(r, "key"));
        const char *loc = json_string_value(json_object_get(r, "location"));
        char id[700];
        snprintf(id, sizeof id, "%s\x1f%s", key ? key : "", key ? "" : loc ? loc : "");
        if (seen && json_object_get(seen, id))
            continue;
        n++;
        if (seen)
            json_object_set_new(seen, id, json_true());
    }
    json_decref(seen);
    return n;
}

static int by_key(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "key"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "key"));
    return strcmp(x ? x : "", y ? y : "");
}

/* Sorts a list of objects by their "key" in place. */
static int sort_by_key(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    GCS_CHECK_ALLOC(sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_incref(json_array_get(list, i));
    qsort(sorted, n, sizeof *sorted, by_key);
    json_array_clear(list);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc |= json_array_append_new(list, sorted[i]);
    free(sorted);
    return rc < 0 ? GCS_ENOMEM : 0;
}

static long list_total(const json_t *ops, const char *kind, const char *list)
{
    long n = 0;
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *k = json_string_value(json_object_get(op, "kind"));
        if (!kind || (k && strcmp(k, kind) == 0))
            n += list ? (long)json_array_size(json_object_get(op, list)) : 1;
    }
    return n;
}

int gcs_group_plan_finish(gcs_plan *plan)
{
    json_t *ops = gcs_group_plan_operations(plan);
    if (!ops)
        return 0;
    json_t *skipped = json_object_get(gcs_group_plan_section(plan), "skipped");
    if (json_array_size(skipped) > 1 && sort_by_key(skipped) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    size_t n = json_array_size(ops);
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    GCS_CHECK_ALLOC(sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_incref(json_array_get(ops, i));
    qsort(sorted, n, sizeof *sorted, by_key);
    json_array_clear(ops);
    bool failed = false;
    for (size_t i = 0; i < n; i++)
        failed |= json_array_append_new(ops, sorted[i]) < 0;
    free(sorted);
    json_t *summary = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "skipped",
        (json_int_t)json_array_size(json_object_get(gcs_group_plan_section(plan), "skipped")), "create", (json_int_t)list_total(ops, "create", NULL),
        "update", (json_int_t)list_total(ops, "update", NULL), "members_added",
        (json_int_t)list_total(ops, NULL, "add"), "members_removed",
        (json_int_t)list_total(ops, NULL, "remove"), "grants_added",
        (json_int_t)list_total(ops, NULL, "grant"), "grants_revoked",
        (json_int_t)list_total(ops, NULL, "revoke"), "unchanged",
        json_integer_value(json_object_get(gcs_group_plan_section(plan), "unchanged")), "rejected",
        (json_int_t)gcs_group_plan_rejected(plan));
    failed |= !summary || json_object_set_new(gcs_group_plan_section(plan), "summary", summary) < 0;
    return failed ? gcs_error_set(GCS_ENOMEM, "out of memory") : 0;
}

void gcs_group_plan_count_removals(const gcs_plan *plan, long *members_removed, long *memberships,
                                   long *revoked, long *grants)
{
    json_t *ops = gcs_group_plan_operations(plan);
    *members_removed = list_total(ops, NULL, "remove");
    *revoked = list_total(ops, NULL, "revoke");
    *memberships = *grants = 0;
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        *memberships += (long)json_integer_value(json_object_get(op, "current_members"));
        *grants += (long)json_integer_value(json_object_get(op, "current_grants"));
    }
}

/* ==== Rendering ==== */

/* Every text shown comes from a file or from Genesys: a group's name there may
 * hold anything, so each is written through gcs_plan_put_text (no control or
 * bidirectional character reaches the terminal raw). */

static const char *text(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "?";
}

static void put(FILE *out, const char *s)
{
    gcs_plan_put_text(out, s);
}

static void print_value(FILE *out, const json_t *v)
{
    if (!v || json_is_null(v)) {
        fputs("(none)", out);
        return;
    }
    if (json_is_string(v)) {
        fputc('"', out);
        put(out, json_string_value(v));
        fputc('"', out);
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(s ? s : "?", out);
    free(s);
}

static void print_people(FILE *out, const json_t *list, const char *sigil, const char *color,
                         const char *reset)
{
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *key = json_string_value(json_object_get(m, "key"));
        const char *user = json_string_value(json_object_get(m, "userName"));
        fprintf(out, "    %s%s member ", color, sigil);
        put(out, key ? key : user ? user : text(m, "id"));
        fputs(reset, out);
        if (user) {
            fputs(" (", out);
            put(out, user);
            fputc(')', out);
        }
        if (!json_string_value(json_object_get(m, "id")))
            fputs(" [created by this run]", out);
        if (json_is_true(json_object_get(m, "owned")))
            fputs(" [added by gcscim]", out);
        fputc('\n', out);
    }
}

static void print_grants(FILE *out, const json_t *list, const char *sigil, const char *verb)
{
    size_t i;
    json_t *g;
    json_array_foreach(list, i, g)
    {
        fprintf(out, "    %s %s role ", sigil, verb);
        put(out, text(g, "role"));
        fputs(" in division ", out);
        put(out, text(g, "division"));
        fputc('\n', out);
    }
}

static void print_parents(FILE *out, const json_t *parents)
{
    size_t i;
    json_t *p;
    fputs(" [in ", out);
    json_array_foreach(parents, i, p)
    {
        fputs(i ? ", " : "", out);
        put(out, json_string_value(p) ? json_string_value(p) : "?");
    }
    fputc(']', out);
}

void gcs_group_plan_render_text(const gcs_plan *plan, FILE *out, bool color)
{
    json_t *s = gcs_group_plan_section(plan);
    if (!s)
        return;
    const char *reset = color ? "\033[0m" : "";
    const char *green = color ? "\033[32m" : "", *yellow = color ? "\033[33m" : "",
               *red = color ? "\033[31m" : "", *magenta = color ? "\033[35m" : "";
    fprintf(out, "Groups (matched to Genesys groups by name; hierarchy %s%s):\n",
            text(s, "hierarchy"),
            json_is_true(json_object_get(s, "authoritative")) ? "; membership authoritative" : "");
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(s, "operations"), i, op)
    {
        bool create = strcmp(text(op, "kind"), "create") == 0;
        fprintf(out, "%s%s %s group ", create ? green : yellow, create ? "+" : "~",
                text(op, "kind"));
        put(out, text(op, "key"));
        fprintf(out, "%s \"", reset);
        put(out, text(op, "name"));
        fputc('"', out);
        if (!create) {
            fputs(" id=", out);
            put(out, text(op, "id"));
            fprintf(out, " version=%lld", (long long)json_integer_value(json_object_get(op, "version")));
        }
        json_t *parents = json_object_get(op, "parents");
        if (json_array_size(parents) > 0)
            print_parents(out, parents);
        fputc('\n', out);
        size_t j;
        json_t *ch;
        json_array_foreach(json_object_get(op, "changes"), j, ch)
        {
            const char *attribute = text(ch, "attribute");
            size_t width = strlen(attribute);
            fputs("    ", out);
            put(out, attribute);
            fprintf(out, "%*s ", width < 22 ? (int)(22 - width) : 0, "");
            print_value(out, json_object_get(ch, "old"));
            fputs(" -> ", out);
            print_value(out, json_object_get(ch, "new"));
            fputc('\n', out);
        }
        print_people(out, json_object_get(op, "add"), "+", green, reset);
        print_people(out, json_object_get(op, "remove"), "-", red, reset);
        print_grants(out, json_object_get(op, "grant"), "+", "grant");
        print_grants(out, json_object_get(op, "revoke"), "-", "revoke");
    }
    json_array_foreach(json_object_get(s, "rejected"), i, op)
    {
        const char *key = json_string_value(json_object_get(op, "key"));
        if (key) {
            fprintf(out, "%s! rejected group ", magenta);
            put(out, key);
            fprintf(out, "%s (", reset);
            put(out, text(op, "location"));
            fputc(')', out);
        } else {
            fprintf(out, "%s! rejected group at ", magenta);
            put(out, text(op, "location"));
            fputs(reset, out);
        }
        const char *field = json_string_value(json_object_get(op, "field"));
        if (field) {
            fputs(" field ", out);
            put(out, field);
        }
        fputs(": ", out);
        put(out, text(op, "reason"));
        fputc('\n', out);
    }
    json_array_foreach(json_object_get(s, "not_in_source"), i, op)
    {
        fputs("  not added: ", out);
        put(out, text(op, "person"));
        fputs(", a member of group ", out);
        put(out, text(op, "group"));
        fputs(", is no person the plan knows\n", out);
    }
    json_array_foreach(json_object_get(s, "skipped"), i, op)
    {
        fputs("  skipped group ", out);
        put(out, text(op, "key"));
        fputs(" \"", out);
        put(out, text(op, "name"));
        fputs("\": ", out);
        put(out, text(op, "reason"));
        static const char *const parts[] = {"changes", "add", "remove", "grant", "revoke"};
        static const char *const what[] = {"settings changed", "members added",
                                           "members removed", "grants added", "grants revoked"};
        const char *sep = "; it needed ";
        for (size_t k = 0; k < sizeof parts / sizeof *parts; k++) {
            long long n = (long long)json_integer_value(json_object_get(op, parts[k]));
            if (n > 0) {
                fprintf(out, "%s%lld %s", sep, n, what[k]);
                sep = ", ";
            }
        }
        fputc('\n', out);
    }
    json_t *sum = json_object_get(s, "summary");
    long long skipped = (long long)json_integer_value(json_object_get(sum, "skipped"));
    fprintf(out,
            "Groups: %lld to create, %lld to update, %lld members to add, %lld to remove, "
            "%lld grants to add, %lld to revoke, %lld unchanged, ",
            (long long)json_integer_value(json_object_get(sum, "create")),
            (long long)json_integer_value(json_object_get(sum, "update")),
            (long long)json_integer_value(json_object_get(sum, "members_added")),
            (long long)json_integer_value(json_object_get(sum, "members_removed")),
            (long long)json_integer_value(json_object_get(sum, "grants_added")),
            (long long)json_integer_value(json_object_get(sum, "grants_revoked")),
            (long long)json_integer_value(json_object_get(sum, "unchanged")));
    /* "N skipped" only when --no-create / --no-update left some alone */
    if (skipped > 0)
        fprintf(out, "%lld skipped, ", skipped);
    fprintf(out, "%lld rejected.\n", (long long)json_integer_value(json_object_get(sum, "rejected")));
}
