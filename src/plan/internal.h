/*
 * internal.h - what the plan module's files share, and what its tests and
 * fuzz harnesses reach to hold the blast-radius rule's two ways of counting
 * to one answer. Not a public interface.
 */
#ifndef GCS_PLAN_INTERNAL_H
#define GCS_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* What the blast-radius rule counts over a plan's weighing operations. */
typedef struct gcs_plan__tally {
    json_t *clears;  /* attribute -> how many users have it emptied */
    json_t *changes; /* attribute -> how many users have it changed */
    long deactivations, leavers, adoptions;
    long removals;   /* users who lose a role */
    long privileged; /* operations on a user who holds a privileged role */
} gcs_plan__tally;

/* The members of an operation the rule reads, in this order. */
enum { GCS_PLAN__KIND, GCS_PLAN__LEAVER, GCS_PLAN__PRIVILEGED, GCS_PLAN__CHANGES,
       GCS_PLAN__COUNTED };
extern const char *const gcs_plan__counted_members[GCS_PLAN__COUNTED];

/*
 * What one operation adds to the tally, from the compact texts of its members
 * (texts[GCS_PLAN__KIND] ..., NULL when absent), without a parser: 1 counted;
 * 0 when the parser must count it (an escape, a role change, a privileged
 * role, any text not exactly as gcscim writes it), and nothing is added then.
 * Never 1 where gcs_plan__count_parsed of the members, each parsed by jansson,
 * would count otherwise, or where a member would not parse at all
 * (test_plan's table and fuzz/fuzz_approval_count.c hold it to that).
 */
int gcs_plan__count_text(const char *const *texts, gcs_plan__tally *tally);

/* What one parsed operation (its members) adds to the tally: the rule's own
 * reading. 1 counted, 0 when its kind is none that gcscim knows. */
int gcs_plan__count_parsed(const json_t *op, gcs_plan__tally *tally);

/*
 * The texts of the named top-level members of one operation's text (JSON as
 * the plan keeps it, read whole by jansson when kept), as
 * gcs_plan_member_texts_at gives them: each compact (a new string, NULL when
 * absent). A member whose name holds an escape is found as jansson finds it.
 * 0, or the error (nothing then to free). At most 16 members.
 */
int gcs_plan__member_texts_of(const char *op_text, size_t op_len, const char *const *members,
                              size_t count, char **texts);

#endif
